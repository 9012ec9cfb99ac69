"""``xe-dr status``: replication targets, their health, and which VMs are protected; as
text, JSON, or a monitoring format (xe_dr/cli/monitoring.py)."""

import argparse

from xe_dr.cli.argtypes import file_path, non_empty
from xe_dr.errors import UsageError, XeDrError
from xe_dr.exitcodes import ExitCode

NAME = "status"
HELP = ("check this pool's metadata replication and classify every VM as protected, at risk "
        "or unrecoverable; exit 0 only when all is well (for cron and monitoring); write the "
        "heartbeat that dates the replicated metadata (other-config:xe-dr-heartbeat)")
EXAMPLES = (
    "xe-dr -H root@xcp-a1 status --peer root@xcp-b1 --vms",
    "xe-dr -H root@xcp-a1 status --json",
    "xe-dr -H root@xcp-a1 status --format nagios --warning metadata-age=2h",
    "xe-dr status --format prometheus -o /var/lib/node_exporter/xe-dr.prom",
)

#: Where each format goes: stdout, or -o FILE (replaced atomically).
FORMATS = ("text", "nagios", "prometheus")


def add_arguments(parser):
    # Not empty: "--peer $DR_MASTER" with the variable unset checked no DR site, silently.
    parser.add_argument("--peer", metavar="[USER@]HOST[:PORT]", type=non_empty,
                        help="the DR site's pool master, to check its readiness (memory, "
                             "CPUs, networks, plugin, mirrored LUNs) and that no SR is "
                             "attached at both sites ('local' for an xe on this machine)")
    parser.add_argument("--peer-xe", metavar="PATH", type=non_empty,
                        help="path of xe on the peer (default: xe)")
    parser.add_argument("--vms", action="store_true",
                        help="list every VM, not only those that are not protected")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="nagios: one Nagios/Icinga plugin line, exit 0-3 (every failure "
                             "to check is UNKNOWN, 3); prometheus: the text exposition format")
    parser.add_argument("-o", "--output", metavar="FILE", type=file_path,
                        help="write the output to FILE, replaced atomically (for "
                             "node_exporter's textfile collector)")
    parser.add_argument("--warning", metavar="NAME=VALUE", action="append", type=_threshold,
                        default=[],
                        help="a threshold above which a check is WARNING: metadata-age "
                             "(seconds, or 30m/2h/1d), srs-missing, at-risk, unrecoverable, "
                             "readiness; none turns it off (defaults: man xe-dr)")
    parser.add_argument("--critical", metavar="NAME=VALUE", action="append", type=_threshold,
                        default=[], help="the same, above which a check is CRITICAL")
    parser.add_argument("--alert", action="store_true",
                        help="raise a xapi message on the pool when a check goes bad, and "
                             "its healthy counterpart when it clears (once per condition "
                             "across monitoring hosts)")
    parser.add_argument("--no-heartbeat", action="store_true",
                        help="write no heartbeat: a status that changes nothing")
    parser.add_argument("--expect-srs", metavar="N", type=_count, default=None,
                        help="replication SRs the pool should have, 1 to 8 (default: those "
                             "configured)")


def _threshold(text):
    from xe_dr.dr.health import ThresholdError, parse_threshold
    try:
        return parse_threshold(text)
    except ThresholdError as bad:
        raise argparse.ArgumentTypeError(str(bad))


def _count(text):
    """--expect-srs: 0 was taken for 1, and more than xapi's 8 could never be met."""
    from xe_dr.dr.status import MAX_METADATA_SRS
    if not (text.isdigit() and 1 <= int(text) <= MAX_METADATA_SRS):
        raise argparse.ArgumentTypeError("%r is not a count of replication SRs from 1 to %d "
                                         "(xapi replicates to at most %d)" % (
                                             text, MAX_METADATA_SRS, MAX_METADATA_SRS))
    return int(text)


def run(ctx):
    from xe_dr.cli import estate
    args = ctx.args
    if args.format != "text" and ctx.output.json_mode:
        raise UsageError("--json and --format %s are two outputs: choose one" % args.format)
    if args.format == "nagios" and args.output:
        raise UsageError("--format nagios answers on stdout, where Nagios reads it: -o is for "
                         "the text and prometheus formats")
    if args.no_heartbeat and args.alert:
        raise UsageError("--no-heartbeat is a status that changes nothing, and --alert raises "
                         "xapi messages: choose one")
    from xe_dr.cli.monitoring import prometheus_down
    try:
        asks_estate = _asks_estate(ctx)
        site_pool = ctx.site_pool  # --pool: found in its sites file before the target
    except XeDrError:
        if args.format == "prometheus":  # the estate's figures, or the pool's, go stale:
            _emit(ctx, prometheus_down(**(  # say it is down, by what was asked
                {"estate_pool": args.pool} if args.pool else
                {"sites": args.sites or ctx.env.environ.get("XE_DR_SITES")})))
        raise
    if asks_estate:
        return _estate(ctx)
    try:
        status = estate.check_pool(ctx, ctx.xe, ctx.other_site(args.peer, args.peer_xe),
                                   site_pool, writes=not args.no_heartbeat)
    except XeDrError:
        if args.format == "prometheus":  # the figures of a pool that could not be read go
            _emit(ctx, prometheus_down(master=ctx.host or "local"))  # stale: say it is down
        raise
    checks = status["health"]
    if args.alert:
        _alert(ctx, ctx.xe, status)
    if args.format == "nagios":
        from xe_dr.cli.monitoring import nagios
        lines, code = nagios(status, checks)
        _emit(ctx, "\n".join(lines) + "\n")
        return code
    if args.format == "prometheus":
        from xe_dr.cli.monitoring import prometheus
        _emit(ctx, prometheus(status, checks))
        return ExitCode.FAILED if status["problems"] else ExitCode.OK
    ctx.output.data(status, _text(status, args.vms))
    return ExitCode.FAILED if status["problems"] else ExitCode.OK


def _asks_estate(ctx):
    """Every pool of the sites file: neither --pool nor -H given, nor XE_DR_HOST unless the
    sites file too comes from the environment (a --sites typed wins over a profile's
    default target, which would check one pool and leave the estate unseen)."""
    args = ctx.args
    if args.pool or args.host or (ctx.env.environ.get("XE_DR_HOST") and not args.sites):
        return False
    return ctx.estate is not None


def _estate(ctx):
    """Every pool of the sites file (xe_dr/cli/estate.py)."""
    from xe_dr.cli import estate
    args = ctx.args
    if args.peer or args.peer_xe:
        raise UsageError("the sites file names each pool's peer: --peer is for one pool "
                         "(--pool NAME or -H)")
    answers = estate.pool_answers(ctx, writes=not args.no_heartbeat,
                                  then=(lambda xe, status: _alert(ctx, xe, status))
                                  if args.alert else None)
    if args.format == "nagios":
        lines, code = estate.nagios(answers)
        _emit(ctx, "\n".join(lines) + "\n")
        return code
    if args.format == "prometheus":
        _emit(ctx, estate.prometheus(answers))
    else:
        ctx.output.data({"sites": ctx.estate.path, "pools": answers},
                        estate.table(ctx.estate.path, answers))
    return estate.worst_exit(answers)


def _alert(ctx, xe, status):
    """Raise the pool's alert messages; one that cannot be raised (a read-only role) is said,
    and the status is still given."""
    from xe_dr.dr.alerts import raise_alerts
    try:
        status["alert_messages"] = raise_alerts(xe, status["pool"]["uuid"], status["health"])
    except XeDrError as failure:
        status["alert_messages"] = None
        line = "the alert messages could not be raised: %s" % failure.one_line()
        status["notes"].append(line)
        ctx.output.warning(line)


def _emit(ctx, text):
    if ctx.args.output:
        from xe_dr.files import write_output_file
        write_output_file(ctx.args.output, text, mode=0o644)
    else:
        ctx.output.data(None, text)


def _text(status, all_vms):
    pool = status["pool"]
    lines = ["pool %s (%s)" % (pool["name_label"] or "-", pool["uuid"]),
             "  DR licence: %s   HA: %s   metadata LUN alerts: %s   redo log: %s" % (
                 "allowed" if pool["dr_allowed"] else "RESTRICTED",
                 "on" if pool["ha_enabled"] else "off",
                 "on" if pool["metadata_lun_alerts"] else "off",
                 {True: "on", False: "off", None: "unknown"}[status["redo_log"].get("enabled")]),
             "replicated metadata (%d of at most 8 SRs):" % len(status["replication"])]
    lock = status["lock"]
    if lock:
        lines.insert(2, "  locked by run %s (pid %s on %s, since %s)" % (
            lock.get("run", lock.get("text")), lock.get("pid", "?"), lock.get("host", "?"),
            lock.get("since", "?")))
    for target in status["replication"]:
        generation = ("generation %s" % target["generation"]
                      if target["generation"] is not None else "generation unknown")
        lines.append("  %-24s %s  %s%s" % (
            target["sr_name"], "healthy" if target["healthy"] else "NOT WRITTEN", generation,
            ", lag %s" % target["lag"] if target["lag"] else ""))
    heartbeat = status["heartbeat"]
    if heartbeat and heartbeat["written"]:
        lines.append("  heartbeat %s written (it dates the replicated metadata)"
                     % heartbeat["written"])
    counts = status["counts"]
    lines.append("VMs: %d protected, %d at risk, %d unrecoverable, %d ignored" % tuple(
        counts.get(k, 0) for k in ("protected", "at-risk", "unrecoverable", "ignored")))
    for vm in status["vms"]:
        if all_vms or vm["class"] in ("at-risk", "unrecoverable"):
            lines.append("  %-13s %s: %s" % (vm["class"], vm["name_label"], vm["reason"]))
    if status.get("readiness"):
        lines += _readiness(status["readiness"])
    for note in status["notes"]:
        lines.append("note: " + note)
    for problem in status["problems"]:
        lines.append("PROBLEM: " + problem)
    if not status["problems"]:
        lines.append("OK: all is well")
    for alert in status.get("alert_messages") or ():
        if alert["state"] != "unchanged":
            lines.append("alert: %s %s (message %s)" % (alert["state"], alert["name"],
                                                         alert["message"]))
    return lines


def _readiness(ready):
    """One line per figure of the DR site's readiness (xe_dr/dr/readiness.py)."""
    def names(values, unchecked=()):
        text = ", ".join(values) if values else "none"
        return text + ("  (not checked: %s)" % ", ".join(unchecked) if unchecked else "")

    gib = 1073741824.0
    pool = ready["pool"]
    return [
        "DR site readiness, pool %s (%s):" % (pool["name_label"] or "-", pool["uuid"]),
        "  memory: %.1f GiB needed to start %d running protected VM(s), %.1f GiB free" % (
            ready["memory_needed_bytes"] / gib, ready["vms_counted"],
            ready["memory_free_bytes"] / gib),
        "  CPUs: %d vCPUs on %d pCPUs" % (ready["vcpus_needed"], ready["cpus"]),
        "  VMs too big for any DR host: " + names(ready["vms_too_big"]),
        "  networks missing: " + names(ready["networks_missing"]),
        "  hosts without the xe-dr plugin: " + (names(ready["hosts_without_plugin"])
                                               if ready["plugin_checked"] else "not checked"),
        "  mirrored LUNs not visible: " + names(ready["luns_invisible"],
                                                ready["luns_unchecked"]),
        "  SRs attached at both sites: " + names(ready["attached_at_both"]),
    ]
