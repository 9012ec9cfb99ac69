"""``xe-dr failback``: bring vApps and VMs back to the primary site (run it there)."""

from xe_dr.cli.run_options import (add_array_arguments, add_plan_arguments,
                                   add_resume_arguments,
                                   add_run_arguments,
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
    add_plan_arguments(parser)
    add_array_arguments(parser)
    add_selection_arguments(parser)
    add_run_arguments(parser, objective=True, shutdown=True)
    add_resume_arguments(parser)


def run(ctx):
    return run_mode(ctx, "failback")
