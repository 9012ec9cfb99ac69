"""``xe-dr runbook``: the failover plan as a bash script of plain xe commands."""

import os

from xe_dr.cli import argtypes
from xe_dr.cli.run_options import (add_plan_arguments, add_run_arguments,
                                   add_selection_arguments, build_options)
from xe_dr.exitcodes import ExitCode

NAME = "runbook"
HELP = ("write the plan of a failover (with --test, a test failover) as a commented bash "
        "script of plain xe commands, for dom0 without xe-dr; what it recovers is tagged so "
        "that 'xe-dr cleanup RUNBOOK-ID' undoes it")
EXAMPLES = (
    "xe-dr -H root@xcp-b1 runbook --all --source root@xcp-a1 \\\n"
    "    --target 10.0.2.50 --iqn iqn.2001-05.com.example:site-b \\\n"
    "    --scsiid 36001405281220e087835b92558589ea -o failover.sh",
    "xe-dr -H root@xcp-b1 runbook --test --vapp erp --power paused -o test.sh",
    "xe-dr -H root@xcp-b1 runbook --plan site-a.plan -o failover.sh",
)


def add_arguments(parser):
    parser.add_argument("--test", action="store_true",
                        help="a test failover: start nothing, or paused (--power paused)")
    add_selection_arguments(parser)
    add_run_arguments(parser)
    add_plan_arguments(parser)
    parser.add_argument("-o", "--output", metavar="FILE", type=argtypes.file_path,
                        help="write the script to FILE instead of stdout (a new file gets "
                             "mode 0700, an existing one keeps its mode; a device or fifo is "
                             "written to; a symlink is followed)")


def run(ctx):
    from xe_dr.cli.present import redacted_argv
    from xe_dr.dr.failover import Failover
    from xe_dr.journal import _user, new_run_id
    from xe_dr.files import write_output_file
    from xe_dr.report.runbook import render
    import socket
    import time

    args = ctx.args
    mode = "test" if args.test else "failover"
    options, passwords = build_options(ctx, mode)
    source_xe = ctx.other_site(options.source["host"], options.source["xe"]) \
        if options.source else None
    failover = Failover(ctx.xe, ctx.state_dir, options, ctx.confirm, ctx.output.progress,
                        source_xe=source_xe, chap_passwords=passwords,
                        use_plugin=ctx.use_plugin, argv=redacted_argv(ctx),
                        transport=ctx.runner.description)
    plan, _ = failover.plan()
    created = time.time()
    runbook_id = new_run_id("runbook", created)
    chap_file = args.chap_password_file or (
        options.plan["storage"]["chap_password_file"] if options.plan is not None else None)
    chap_file = os.path.abspath(os.path.expanduser(chap_file)) if chap_file else None
    script = render(plan, options.to_json(), {
        "run_id": runbook_id, "xe_path": ctx.xe_path, "argv": redacted_argv(ctx),
        "pool_uuid": failover.pool.uuid, "pool_name": failover.pool.name_label,
        "user": _user(), "client_host": socket.gethostname(),
        "chap_password_file": chap_file, "created": created,
        "answer_prompts": args.answer_prompts})
    blocking = [c["message"] for c in plan.get("checks") or ()
                if c.get("verdict") == "blocking" and not c.get("objects")]
    for message in blocking:
        ctx.output.warning("blocking precheck: %s (the runbook would fail the same way)"
                           % message)
    if not plan.get("items"):
        ctx.output.warning("no metadata is visible in this pool yet, so the runbook only "
                           "attaches the storage: make it again once the SRs are attached")
    if args.output:
        write_output_file(args.output, script, mode=0o700)
        path = os.path.expanduser(args.output)
        ctx.output.note("runbook %s written to %s (run it with: bash %s)" % (
            runbook_id, path, path))
    if args.json:
        ctx.output.data({"runbook": runbook_id, "output": args.output, "script": script,
                         "plan": plan})
    elif not args.output:
        ctx.env.stdout.write(script)
        ctx.env.stdout.flush()
    return ExitCode.OK
