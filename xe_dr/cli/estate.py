"""``xe-dr --sites FILE status``: every pool of a sites file checked at once, one table (and
``--json``, and the monitoring formats across pools).

A pool with a ``peer`` or ``srs`` protects VMs: it gets the whole status of ``xe-dr status``
(its peer's readiness included) and the health checks. A pool with neither is a recovery site
only: it is asked who it is and whether a run holds its lock, no more (the protecting pools'
statuses already check its readiness). A pool that cannot be reached is UNKNOWN with the
failure's line; the others are reported all the same.
"""

import collections
import threading
import traceback

from xe_dr.dr import health
from xe_dr.errors import XeDrError
from xe_dr.exitcodes import ExitCode

#: How many pools are asked at once: each ask is a handful of xe calls over its own SSH
#: connection, so the wait is the network's and the pools' (not this machine's CPU).
PARALLEL = 8


def named_srs_missing(status, names):
    """The SRs a sites file names (``srs``) that carry none of this pool's replicated
    metadata, by name or UUID."""
    have = set()
    for target in status["replication"]:
        have.update((target["sr"], target["sr_name"]))
    return [name for name in names if name not in have]


def check_pool(ctx, xe, peer_xe, site_pool=None, writes=True):
    """The status document of one pool with its health checks (``health``), and the exit
    status of ``xe-dr status`` for it. ``site_pool``: the sites file's pool, whose ``srs``
    are the replication SRs expected (unless --expect-srs says how many)."""
    from xe_dr.dr.status import pool_status
    args = ctx.args
    status = pool_status(xe, peer_xe=peer_xe, use_plugin=ctx.use_plugin,
                         require_plugin=ctx.plugin_required, writes=writes)
    names = list(site_pool.srs) if site_pool is not None else []
    expected = args.expect_srs
    if expected is None and names:
        expected = len(names)
    for name in named_srs_missing(status, names):
        status["problems"].append("SR %s, which the sites file names, carries none of this "
                                  "pool's replicated metadata (xe-dr replication enable)"
                                  % name)
    limits = health.thresholds(args.warning, args.critical, expected_srs=max(
        expected if expected is not None else len(status["replication"]), 1))
    status["health"] = health.checks(status, limits, expected)
    return status


def _recovery_site(xe):
    """What a recovery-only pool answers: who it is, and the run holding its lock."""
    from xe_dr.dr.lock import LOCK_KEY, parse_claim
    from xe_dr.pool import read_pool
    pool = read_pool(xe)
    claim = pool.other_config.get(LOCK_KEY)
    return {"pool": pool.to_json(),
            "lock": (parse_claim(claim) or {"text": claim}) if claim else None}


def pool_answers(ctx, writes=True, then=None):
    """One answer per pool of the sites file, in its order: ``name``, ``site``, ``master``,
    ``role`` (protected: it has a peer or srs; recovery), ``state`` (the worst health check,
    UNKNOWN when the pool could not be asked), ``exit`` (that of ``xe-dr status`` for it),
    ``status`` (the document, or None) and ``error`` (the failure's line, or None).
    ``then(xe, status)``: called with each protecting pool's status (--alert)."""
    estate = ctx.estate
    answers = collections.OrderedDict()
    for pool in estate.pools.values():
        answers[pool.name] = collections.OrderedDict([
            ("name", pool.name), ("site", pool.site), ("master", pool.master),
            ("role", "protected" if (pool.peer or pool.srs) else "recovery"),
            ("state", health.UNKNOWN), ("exit", None), ("status", None), ("error", None)])
    slots = threading.BoundedSemaphore(PARALLEL)
    defects = []

    def ask(pool):
        answer = answers[pool.name]
        with slots:
            try:
                xe = ctx.other_site(pool.name)
                if answer["role"] == "recovery":
                    answer["status"] = _recovery_site(xe)
                    answer["state"], answer["exit"] = health.OK, int(ExitCode.OK)
                    return
                peer_xe = ctx.other_site(pool.peer) if pool.peer else None
                status = check_pool(ctx, xe, peer_xe, pool, writes)
                if then is not None:
                    then(xe, status)
            except XeDrError as failure:
                answer["error"] = failure.one_line()
                answer["exit"] = int(failure.exit_code)
                return
            except Exception as bug:  # a defect: this pool is UNKNOWN with it, not the estate
                answer["error"] = "internal error: %s: %s (run with -v for the traceback, " \
                                  "and please report it)" % (type(bug).__name__, bug)
                answer["exit"] = int(ExitCode.FAILED)
                defects.append(traceback.format_exc())
                return
            answer["status"] = status
            answer["state"] = health.worst([c["state"] for c in status["health"]])
            answer["exit"] = int(ExitCode.FAILED if status["problems"] else ExitCode.OK)

    threads = [threading.Thread(target=ask, args=(pool,), name="status " + pool.name)
               for pool in estate.pools.values()]
    for thread in threads:
        # A Ctrl-C ends the command without waiting for the pools still asked (each of
        # their xe calls ends at --timeout, a pool's check only when its last call does).
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join()
    if ctx.output.verbosity > 0:
        for text in defects:
            ctx.env.stderr.write(text)
    return list(answers.values())


def worst_exit(answers):
    """The estate's exit status: a pool that could not be asked first (its own code, the
    first in the file's order), then 1 when any pool has a problem, else 0."""
    for answer in answers:
        if answer["error"] is not None:
            return answer["exit"]
    return max([answer["exit"] for answer in answers] + [0])


def table(path, answers):
    """The text of the estate's status: a line per pool, then what is wrong, by pool."""
    counts = collections.Counter(answer["state"] for answer in answers)
    lines = ["estate %s: %d pool(s), %s" % (path, len(answers), ", ".join(
        "%d %s" % (counts[state], state) for state in health.STATES if counts[state]))]
    rows = [("POOL", "SITE", "STATE", "SRS", "PROTECTED", "AT RISK", "UNRECOVERABLE",
             "METADATA AGE")]
    for answer in answers:
        rows.append(_row(answer))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) +
                     "  " + row[-1])
    for answer in answers:
        name = answer["name"]
        status = answer["status"] or {}
        if answer["error"] is not None:
            lines.append("%s: UNKNOWN: %s" % (name, answer["error"]))
        lock = status.get("lock")
        if lock:
            lines.append("%s: locked by run %s" % (name, lock.get("run", lock.get("text"))))
        for problem in status.get("problems", ()):
            lines.append("%s: PROBLEM: %s" % (name, problem))
    if all(answer["state"] == health.OK for answer in answers):
        lines.append("OK: all is well")
    return [line.rstrip() for line in lines]


def _row(answer):
    name, site = answer["name"], answer["site"] or "-"
    status = answer["status"]
    if answer["error"] is not None or status is None:
        return (name, site, answer["state"], "-", "-", "-", "-", "-")
    if answer["role"] == "recovery":
        return (name, site, answer["state"], "-", "-", "-", "-", "recovery site")
    counts = status["counts"]
    age, _ = health.metadata_age(status)
    srs = "%d/%d" % (len([t for t in status["replication"] if t["healthy"]]),
                     len(status["replication"]))
    return (name, site, answer["state"], srs, str(counts.get("protected", 0)),
            str(counts.get("at-risk", 0)), str(counts.get("unrecoverable", 0)),
            _age_text(age))


def _age_text(seconds):
    if seconds == health.UNDATED:
        return "older than every heartbeat"
    return health.age_text(None if seconds is None else max(seconds, 0))


def nagios(answers):
    """``(lines, exit status)`` of the whole estate: one status line naming the pools that
    are not OK (cut short as a pool's is, to fit what NRPE passes) with the pools in each
    state as perfdata, then the status line of each pool."""
    from xe_dr.cli.monitoring import (NAGIOS_PREFIX, SUMMARY_LIMIT, nagios as pool_nagios,
                                      nagios_unknown, perfdata, plugin_text)
    state = health.worst([answer["state"] for answer in answers])
    bad = ["%s %s" % (answer["name"], answer["state"]) for answer in answers
           if answer["state"] != health.OK]
    details = []
    for answer in answers:
        if answer["error"] is not None:
            details.append("%s: %s" % (answer["name"], nagios_unknown(answer["error"])))
        elif answer["role"] == "recovery":
            details.append("%s: %s OK - recovery site" % (answer["name"], NAGIOS_PREFIX))
        else:
            pool_lines, _ = pool_nagios(answer["status"], answer["status"]["health"])
            details.append("%s: %s" % (answer["name"], pool_lines[0].split(" | ")[0]))
    summary = plugin_text("%d pool(s): %s" % (len(answers), "; ".join(bad) if bad else "all OK"))
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[:SUMMARY_LIMIT - 4].rstrip() + " ..."
    counts = collections.Counter(answer["state"] for answer in answers)
    perf = " ".join(perfdata("pools_" + name.lower(), counts[name], maximum=len(answers))
                    for name in health.STATES)
    return ["%s %s - %s | %s" % (NAGIOS_PREFIX, state, summary, perf)] + details, \
        health.STATES.index(state)


def prometheus(answers):
    """One exposition for every pool, each series labelled with the sites file's ``estate_pool``
    and ``site`` (a pool not asked: ``xe_dr_up 0``)."""
    from xe_dr.cli.monitoring import Exposition, add_pool_metrics
    out = Exposition()
    for answer in answers:
        labels = {"estate_pool": answer["name"], "site": answer["site"] or ""}
        if answer["error"] is not None:
            out.gauge("xe_dr_up", "1 when xe-dr could check the pool, 0 when it could not.",
                      0, **labels)
        elif answer["role"] == "recovery":
            pool = answer["status"]["pool"]
            out.gauge("xe_dr_up", "1 when xe-dr could check the pool, 0 when it could not.",
                      1, pool=pool["name_label"] or "", pool_uuid=pool["uuid"], **labels)
        else:
            add_pool_metrics(out, answer["status"], answer["status"]["health"], labels)
    return out.text()
