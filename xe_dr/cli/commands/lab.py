"""``xe-dr lab ...``: the simulated two-site lab, loaded only when this command runs."""

import argparse
import importlib

from xe_dr.errors import ConfigError

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
    try:
        lab_cli = importlib.import_module("xe_dr.lab.cli")
    except ImportError:
        raise ConfigError("this xe-dr has no simulated lab (the dom0 build leaves it out)",
                          hint="run the lab from a checkout: python3 -m xe_dr lab ...")
    return lab_cli.main(list(argv))
