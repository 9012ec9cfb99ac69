"""``xe-dr replication enable|disable SR...``: choose the SRs that carry the pool's metadata."""

from xe_dr.errors import UsageError
from xe_dr.exitcodes import ExitCode

NAME = "replication"
HELP = "enable or disable pool-metadata replication to SRs (UUIDs or names; at most 8)"
SUBCOMMANDS = True
EXAMPLES = (
    "xe-dr -H root@xcp-a1 replication enable --alerts \"iSCSI DR 1\" \"FC DR 3\"",
    "xe-dr -H root@xcp-a1 replication enable --alerts",
    "xe-dr -H root@xcp-b1 replication disable \"iSCSI DR 1\"",
    "xe-dr -H root@xcp-b1 replication disable --yes \"iSCSI DR 1\" \"FC DR 3\"",
)


def add_arguments(parser, add_shared_options=None):
    # enable and disable are sub-commands of their own so that options and SR names can be
    # given in any order (argparse cannot mix an optional list of names with options).
    actions = parser.add_subparsers(dest="action", metavar="enable|disable",
                                    parser_class=type(parser))
    actions.required = True
    text = "enable replication to these SRs"
    enable = actions.add_parser("enable", help=text, description=text)
    enable.add_argument("srs", nargs="*", metavar="SR", help="SR UUID or name-label")
    enable.add_argument("--alerts", action="store_true",
                        help="also turn on metadata_lun_alerts so xapi reports a broken copy")
    text = "disable replication to these SRs (deletes their metadata copy)"
    disable = actions.add_parser("disable", help=text, description=text)
    disable.add_argument("srs", nargs="*", metavar="SR", help="SR UUID or name-label")
    disable.set_defaults(alerts=False)
    for sub in (enable, disable):
        if add_shared_options:
            add_shared_options(sub)


def run(ctx):
    from xe_dr.dr import replication
    args = ctx.args
    if not args.srs and not (args.action == "enable" and args.alerts):
        raise UsageError("name at least one SR", hint="xe-dr replication %s SR..." % args.action)
    srs = replication.resolve_srs(ctx.xe, args.srs)
    if args.action == "enable":
        done = replication.enable(ctx.xe, srs, alerts=args.alerts)
        text = ["replication %s %s" % ("was already enabled on" if d["was_enabled"]
                                       else "enabled on", d["sr_name"]) for d in done]
        if args.alerts:
            text.append("metadata LUN alerts enabled")
        ctx.output.data({"enabled": done, "alerts": args.alerts}, text)
        return ExitCode.OK
    names = ", ".join(s["name-label"] for s in srs)
    ctx.output.warning("disabling replication DELETES the metadata copy on %s; until it is "
                       "enabled again, VMs cannot be recovered from those SRs" % names)
    if not ctx.confirm("Disable replication and delete the metadata on %s?" % names,
                       "disabling replication"):
        ctx.output.note("nothing changed")
        return ExitCode.FAILED
    done = replication.disable(ctx.xe, srs)
    ctx.output.data({"disabled": done}, ["replication disabled on %s" % d["sr_name"] for d in done])
    return ExitCode.OK
