"""``xe-dr lab ...``: the simulated two-site lab, loaded only when this command runs."""

import argparse
import importlib

NAME = "lab"
HELP = "create and drive the simulated two-site XenServer lab (for drills and tests)"


def add_arguments(parser):
    parser.add_argument("lab_args", nargs=argparse.REMAINDER, metavar="...",
                        help="arguments of the lab command line (xe-dr lab --help)")


def run(ctx):
    # Imported here so that nothing outside the lab command ever loads the lab.
    lab_cli = importlib.import_module("xe_dr.lab.cli")
    return lab_cli.main(ctx.args.lab_args)
