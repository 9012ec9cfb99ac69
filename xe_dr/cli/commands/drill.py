"""``xe-dr drill``: a test failover on the array's copies of the replicas (the mirror keeps
replicating), the VMs booted in isolation and verified, then cleaned up (xe_dr/dr/failover/
drill.py)."""

from xe_dr.cli import argtypes
from xe_dr.cli.run_options import (add_plan_arguments, add_resume_arguments,
                                   add_selection_arguments, run_mode)
from xe_dr.cli.storage_options import add_storage_arguments

NAME = "drill"
HELP = ("prove the DR site would come back: recover the VMs from writable copies of the "
        "replicas the storage adapter has the array make (replication never stops), start "
        "them isolated, verify each booted (guest agent, in-guest check), then clean up; "
        "exit 0 when every VM verified, 2 when some did not")
EXAMPLES = (
    "xe-dr -H root@xcp-b1 drill --adapter /usr/local/bin/array-adapter --all \\\n"
    "    --target 10.0.2.50 --iqn iqn.2001-05.com.example:site-b \\\n"
    "    --scsiid 36001405281220e087835b92558589ea --rto-target 1800",
    "xe-dr -H root@xcp-b1 drill --resume 20261205-020000-drill-7f3a",
)


def add_arguments(parser):
    add_selection_arguments(parser)
    storage = add_storage_arguments(parser)
    storage.add_argument("--sr", action="append", default=[], metavar="UUID",
                         help="attach only these SRs of the LUNs (default: all)")
    group = parser.add_argument_group("how")
    group.add_argument("--adapter", metavar="PATH", type=argtypes.file_path,
                       help="the storage adapter: the executable that has the array copy "
                            "the replica LUNs (protocol: man xe-dr, STORAGE ADAPTERS)")
    group.add_argument("--verify-timeout", metavar="SECONDS", type=argtypes.seconds,
                       help="how long the VMs have, after their starts, to prove they "
                            "booted (default 900)")
    group.add_argument("--keep", action="store_true",
                       help="leave the booted drill for inspection until 'xe-dr cleanup RUN'")
    group.add_argument("--deadline", metavar="DURATION", type=argtypes.duration,
                       help="the drill's watchdog: due to be over by then (default 2h, with "
                            "--keep 1d); no step begins after it, and status calls it "
                            "overdue")
    group.add_argument("--parallel", type=int, default=4, metavar="N",
                       help="recover up to N objects at once (default 4)")
    group.add_argument("--rto-target", type=argtypes.seconds, metavar="SECONDS",
                       help="recovery time objective; the report says if met")
    group.add_argument("--dry-run", action="store_true",
                       help="show the plan, checks, xe commands; change nothing")
    add_plan_arguments(parser)
    add_resume_arguments(parser)


def run(ctx):
    args = ctx.args
    # What a drill never takes: it starts the VMs (isolated), reads nothing at the source,
    # recovers without force and keeps the networks as the DR site names them.
    for name in ("power", "source", "source_xe", "force", "map_network", "disable_ha"):
        setattr(args, name, [] if name == "map_network" else None)
    if not args.resume and not args.adapter:
        from xe_dr.errors import UsageError
        raise UsageError("a drill needs the storage adapter that copies the replicas",
                         hint="give --adapter PATH (man xe-dr: STORAGE ADAPTERS)")
    return run_mode(ctx, "drill", finish=_clean_up)


def _clean_up(failover, report, code):
    """A drill not kept is undone at its verdict: its VMs and SRs destroyed and forgotten,
    the array's copies released (xe_dr/dr/cleanup.py), in a cleanup run of its own."""
    run = failover.run
    if run is None or failover.opts.keep or report.get("outcome") not in (
            "succeeded", "partly failed"):
        if run is not None:
            report["todo"] = [t for t in report["todo"] if not t.startswith(
                "clean up the drill with")] + [
                "the drill is left as it is: undo it with 'xe-dr cleanup %s'" % run.id]
        return report, code
    from xe_dr.dr.cleanup import cleanup
    from xe_dr.report import write_default
    ctx = failover.ctx
    undone, cleanup_code = cleanup(ctx.xe, ctx.state_dir, run.id, progress=ctx.progress.note,
                                   argv=ctx.argv, transport=ctx.transport,
                                   publish=write_default,
                                   secrets=ctx.chap_passwords.values())
    report["cleanup"] = {"run": undone.get("run"), "failures": undone.get("failures", []),
                         "released": undone.get("released")}
    report["todo"] = [t for t in report["todo"] if "xe-dr cleanup" not in t]
    if cleanup_code:
        report["todo"].append("the drill's cleanup stopped: run 'xe-dr cleanup %s' again"
                              % run.id)
        return report, cleanup_code
    return report, code
