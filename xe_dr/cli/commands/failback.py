"""``xe-dr failback``: bring vApps and VMs back to the primary site (run it there)."""

from xe_dr.cli import argtypes
from xe_dr.cli.run_options import (add_resume_arguments, add_run_arguments,
                                   add_selection_arguments, run_mode)

NAME = "failback"
HELP = ("fail back to this (the primary) site: cleanly shut down the selected VMs at the DR "
        "site (--source, descending order groups) and recover them here from the DR pool's "
        "replicated metadata")
EXAMPLES = (
    "xe-dr -H root@xcp-a1 failback --all --source root@xcp-b1 --dry-run \\\n"
    "    --target 10.0.1.50 --iqn iqn.2001-05.com.example:site-a \\\n"
    "    --scsiid 36001405cbf0f19c557067cbbe80c46d",
    "xe-dr -H root@xcp-a1 failback --resume 20261126-090000-failback-4d2f \\\n"
    "    --shutdown-timeout 900 --force-shutdown",
)


def add_arguments(parser):
    add_selection_arguments(parser)
    add_run_arguments(parser, objective=True)
    add_resume_arguments(parser)
    # The remedies a resume may bring for a guest that would not shut down.
    group = parser.add_argument_group("shutting down at the source (a resume may change "
                                      "these)")
    group.add_argument("--shutdown-timeout", type=argtypes.seconds, metavar="SECONDS",
                       help="how long a clean shutdown may take (default 300)")
    group.add_argument("--force-shutdown", action="store_true",
                       help="shut down hard a VM not halted cleanly in time")


def run(ctx):
    return run_mode(ctx, "failback")
