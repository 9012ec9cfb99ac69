"""``xe-dr failover [--test]``: recover vApps and VMs at this (the DR) site."""

from xe_dr.cli.run_options import (add_adopt_argument, add_run_arguments,
                                   add_selection_arguments, run_mode)

NAME = "failover"
HELP = ("recover vApps and VMs from the replicated metadata at this site: a real failover, "
        "or with --test a test failover that 'xe-dr cleanup' undoes")


def add_arguments(parser):
    parser.add_argument("--test", action="store_true",
                        help="test failover: recover without starting (or paused), to be "
                             "undone with 'xe-dr cleanup RUN'")
    parser.add_argument("--disable-ha", action="store_true",
                        help="a test needs HA off: disable it now, cleanup enables it again")
    add_selection_arguments(parser)
    add_run_arguments(parser)
    add_adopt_argument(parser)


def run(ctx):
    return run_mode(ctx, "test" if ctx.args.test else "failover")
