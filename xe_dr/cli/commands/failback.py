"""``xe-dr failback``: bring vApps and VMs back to the primary site (run it there)."""

from xe_dr.cli import argtypes
from xe_dr.cli.run_options import (add_adopt_argument, add_run_arguments,
                                   add_selection_arguments, run_mode)

NAME = "failback"
HELP = ("fail back to this (the primary) site: cleanly shut down the selected VMs at the DR "
        "site (--source, descending order groups) and recover them here from the DR pool's "
        "replicated metadata")


def add_arguments(parser):
    add_selection_arguments(parser)
    add_run_arguments(parser)
    add_adopt_argument(parser)
    group = parser.add_argument_group("shutting down at the source")
    group.add_argument("--shutdown-timeout", type=argtypes.seconds, metavar="SECONDS",
                       help="how long one VM's clean shutdown may take (default 300); "
                            "may be given again with --resume")
    group.add_argument("--force-shutdown", action="store_true",
                       help="shut down hard a VM whose guest does not shut down cleanly in "
                            "time (default: stop, naming it); may be given with --resume")


def run(ctx):
    return run_mode(ctx, "failback")
