"""``xe-dr lab ...``: the simulated two-site lab, loaded only when this command runs."""

import argparse
import importlib

NAME = "lab"
HELP = "create and drive the simulated two-site XenServer lab (for drills and tests)"
RAW_ARGS = True


def add_arguments(parser):
    parser.add_argument("lab_args", nargs=argparse.REMAINDER, metavar="...",
                        help="arguments of the lab command line (xe-dr lab --help)")


def run(ctx):
    return run_raw(ctx.args.lab_args)


def run_raw(argv):
    # Imported here so that nothing outside the lab command ever loads the lab.
    lab_cli = importlib.import_module("xe_dr.lab.cli")
    return lab_cli.main(list(argv))
