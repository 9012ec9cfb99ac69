"""``xe-dr failback``: bring vApps and VMs back to the primary site (run it there)."""

from xe_dr.cli.commands.failover import add_run_arguments, add_selection_arguments, run_mode

NAME = "failback"
HELP = ("fail back to this (the primary) site: cleanly shut down the selected VMs at the DR "
        "site (--source, descending order groups) and recover them here from the DR pool's "
        "replicated metadata")


def add_arguments(parser):
    add_selection_arguments(parser)
    add_run_arguments(parser)


def run(ctx):
    return run_mode(ctx, "failback")
