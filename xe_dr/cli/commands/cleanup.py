"""``xe-dr cleanup RUN``: undo a test failover at this site."""

from xe_dr.cli import argtypes
from xe_dr.cli.run_options import add_wait_lock_argument

NAME = "cleanup"
HELP = ("undo a test failover: destroy the recovered VM records (never their disks), vApps, "
        "DR tasks and the SRs the run attached; --force (which lists what it destroys and "
        "asks) for anything but a test's halted or paused VMs")
EXAMPLES = (
    "xe-dr -H root@xcp-b1 cleanup 20261125-101500-test-1a2b --dry-run",
    "xe-dr -H root@xcp-b1 cleanup 20261125-101500-test-1a2b --yes",
    "xe-dr -H root@xcp-b1 cleanup --force 20261125-110000-failover-9c3e",
)


def add_arguments(parser):
    parser.add_argument("run_id", metavar="RUN", type=argtypes.run_id,
                        help="the run to clean up ('xe-dr runs')")
    parser.add_argument("--force", action="store_true",
                        help="also clean up a real failover, failback or runbook, objects that "
                             "do not say their run's kind, or a test's running VMs (lists "
                             "what it destroys and asks)")
    parser.add_argument("--dry-run", action="store_true", help="show what would be removed")
    add_wait_lock_argument(parser)


def run(ctx):
    import shlex
    from xe_dr.cli.present import redacted_argv
    from xe_dr.dr.cleanup import cleanup
    from xe_dr.report import write_default
    from xe_dr import interrupt
    args = ctx.args
    # Ctrl-C stops the cleanup between steps, the calls under way let finish.
    with interrupt.deferred(ctx.env.stderr):
        report, code = cleanup(ctx.xe, ctx.state_dir, args.run_id, force=args.force,
                               dry_run=args.dry_run, progress=ctx.output.progress,
                               argv=redacted_argv(ctx), transport=ctx.runner.description,
                               confirm=ctx.confirm, announce=ctx.output.note,
                               publish=write_default, lock_wait=args.wait_lock,
                               estate_pool=args.pool)
    lines = ["cleanup of %s: %s" % (args.run_id, report["outcome"])]
    lines += ["  %s %s" % ("would destroy:" if args.dry_run else "destroyed:", line)
              for line in report["destroys"]]
    lines += ["  kept: " + line for line in report["kept"]]
    for step in report["commands"]:
        for command in step["commands"]:
            lines.append("  " + " ".join(shlex.quote(c) for c in command))
    if args.dry_run and report.get("needs_force"):
        lines.append("  needs --force: " + report["needs_force"])
    for failure in report["failures"]:
        lines.append("  failure: " + failure)
    ctx.output.data(report, lines)
    return code
