"""``xe-dr runs``: the runs kept in the state directory, with their outcome."""

import time

from xe_dr.exitcodes import ExitCode

NAME = "runs"
HELP = ("list past runs (failovers, tests, drills, failbacks, cleanups) with their outcome "
        "(and a drill's verdict)")
EXAMPLES = (
    "xe-dr -H root@xcp-b1 runs",
    "xe-dr runs --json --state-dir /srv/xe-dr",
)


def add_arguments(parser):
    pass


def run(ctx):
    from xe_dr.journal import Run
    runs, broken = Run.scan(ctx.state_dir)
    for failure in broken:  # named, and the others listed all the same
        ctx.output.warning(failure.one_line())
    rows = [{"id": r.id, "kind": r.meta["kind"], "status": r.meta["status"],
             "pool": r.meta["target"].get("pool_name"),
             "estate_pool": r.meta["target"].get("estate_pool"),
             "pool_uuid": r.meta["target"].get("pool_uuid"),
             "user": r.meta.get("user"), "client_host": r.meta.get("client_host"),
             "created": r.meta.get("created"), "ended": r.meta.get("ended"),
             "verdict": r.meta.get("verdict")} for r in runs]
    lines = ["%-36s %-9s %-14s %-16s %s" % ("RUN", "KIND", "STATUS", "POOL", "STARTED")]
    for row in rows:
        lines.append("%-36s %-9s %-14s %-16s %s" % (
            row["id"], row["kind"], row["verdict"] or row["status"],
            row["estate_pool"] or row["pool"] or "-",
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["created"] or 0))))
    if not rows:
        lines = ["no runs in %s" % ctx.state_dir]
    ctx.output.data({"state_dir": ctx.state_dir, "runs": rows,
                     "broken": [{"id": b.run_id, "problem": b.problem} for b in broken]},
                    lines)
    return ExitCode.OK
