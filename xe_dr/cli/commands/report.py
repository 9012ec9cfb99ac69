"""``xe-dr report RUN``: the report of a run, as text, Markdown, HTML or JSON."""

import os

from xe_dr.cli import argtypes
from xe_dr.errors import UsageError
from xe_dr.exitcodes import ExitCode

NAME = "report"
HELP = ("the report of a run (who, from where, against what, each step's times, time to "
        "running per VM and vApp, the xe commands, what is left to do): text, markdown, "
        "html or json")
EXAMPLES = (
    "xe-dr report last",
    "xe-dr report 20261125-110000-failover-9c3e --format html -o failover.html",
    "xe-dr report /srv/xe-dr/runs/20261125-110000-failover-9c3e --json",
)


def add_arguments(parser):
    parser.add_argument("run_id", metavar="RUN", type=argtypes.run_or_directory,
                        help="a run id ('xe-dr runs'), 'last' for the newest run, or the "
                             "path of a run directory")
    parser.add_argument("--format", choices=("text", "markdown", "html", "json"),
                        help="text (default), markdown, html (one self-contained file) or "
                             "json (the report model); --json is --format json")
    parser.add_argument("-o", "--output", metavar="FILE", type=argtypes.file_path,
                        help="write the report to FILE instead of stdout (a regular file is "
                             "replaced whole and keeps its mode; a device or fifo is written "
                             "to; a symlink is followed)")


def run_directory(ctx, run_id):
    """The directory of the run named on the command line, its run.json checked (a broken
    one is a one-line ConfigError, exit 78)."""
    from xe_dr.journal import Run, read_meta
    if run_id == "last":
        runs = Run.list(ctx.state_dir)
        if not runs:
            raise UsageError("no runs in %s" % ctx.state_dir)
        return max(runs, key=lambda r: (r.meta.get("created") or 0, r.id)).dir
    if os.sep in run_id or run_id in (".", ".."):
        if not os.path.exists(run_id):
            raise UsageError("no run directory %s" % run_id)
        if not os.path.isfile(os.path.join(run_id, "run.json")):
            raise UsageError("%s is not a run directory (it holds no run.json)" % run_id,
                             hint="give a run id from 'xe-dr runs', or a directory under "
                                  "STATE-DIR/runs/")
        read_meta(run_id)
        return os.path.abspath(run_id)
    return Run.open(ctx.state_dir, run_id).dir


def run(ctx):
    from xe_dr.files import write_output_file
    from xe_dr.report import build, render
    args = ctx.args
    fmt = args.format or ("json" if args.json else "text")
    if args.json and args.format not in (None, "json"):
        raise UsageError("--json and --format %s contradict each other" % args.format)
    model = build(run_directory(ctx, args.run_id))
    content = render(model, fmt)
    if args.output:
        write_output_file(args.output, content)
        path = os.path.expanduser(args.output)
        ctx.output.note("%s report of run %s written to %s" % (fmt, model["run"]["id"], path))
        return ExitCode.OK
    ctx.env.stdout.write(content)
    ctx.env.stdout.flush()
    return ExitCode.OK
