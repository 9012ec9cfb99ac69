"""``xe-dr failover [--test]``: recover vApps and VMs at this (the DR) site."""

from xe_dr.cli.run_options import (add_array_arguments, add_plan_arguments,
                                   add_resume_arguments, add_run_arguments,
                                   add_selection_arguments, run_mode)
from xe_dr.errors import UsageError

NAME = "failover"
HELP = "recover vApps and VMs from the replicated metadata at this site"
EXAMPLES = (
    "xe-dr --sites estate.ini --pool b1 failover --plan a1.plan --wait-lock 1h",
    "xe-dr -H root@xcp-b1 failover --vapp erp --vm db-01 --source down \\\n"
    "    --hba-scsiid 36001405281220e0878 --map-network DMZ=\"VM Network\"",
    "xe-dr -H root@xcp-b1 failover --planned --all --source root@xcp-a1 --reprotect",
)


def add_arguments(parser):
    parser.add_argument("--test", action="store_true",
                        help="a test failover (power none); 'cleanup' undoes it")
    parser.add_argument("--disable-ha", action="store_true",
                        help="turn HA off for a test (cleanup turns it on again)")
    parser.add_argument("--planned", action="store_true",
                        help="a planned migration: --source shut down first")
    add_array_arguments(parser)
    add_selection_arguments(parser)
    add_run_arguments(parser, objective=True, shutdown=True)
    add_plan_arguments(parser)
    add_resume_arguments(parser)


def run(ctx):
    if ctx.args.planned and ctx.args.test:
        raise UsageError("--planned and --test are not given together",
                         hint="a drill ('xe-dr drill') exercises a failover on copies")
    if ctx.args.adapter and not (ctx.args.planned or ctx.args.reprotect is not None):
        raise UsageError("--adapter is for --planned or --reprotect here",
                         hint="a drill takes its own: xe-dr drill --adapter PATH")
    return run_mode(ctx, "test" if ctx.args.test else "planned" if ctx.args.planned
                    else "failover")
