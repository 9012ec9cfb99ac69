"""``xe-dr plan init|show|validate``: recovery plans (xe_dr/dr/recovery_plan.py), made from
the source pool as it is, resolved, and checked against both pools (xe_dr/dr/plan_checks.py).
"""

import os

from xe_dr.cli import argtypes
from xe_dr.cli.storage_options import add_storage_arguments
from xe_dr.errors import UsageError
from xe_dr.exitcodes import ExitCode

NAME = "plan"
HELP = ("recovery plans: write one from the source pool (init), show it resolved against "
        "the pools (show), check it against both (validate: exit 2 on drift)")
SUBCOMMANDS = True
EXAMPLES = (
    "xe-dr -H root@xcp-a1 plan init --peer root@xcp-b1 site-a.plan",
    "xe-dr -H root@xcp-a1 plan init --peer root@xcp-b1 --target 10.0.2.50 \\\n"
    "    --iqn iqn.2001-05.com.example:site-b --scsiid 36001405281220e0 site-a.plan",
    "xe-dr plan validate site-a.plan",
    "xe-dr -H root@xcp-a1 plan validate --peer root@xcp-b1 --json site-a.plan",
    "xe-dr plan show site-a.plan",
    "xe-dr plan show site-a.plan --at root@xcp-b1",
)


def add_arguments(parser, add_shared_options=None):
    actions = parser.add_subparsers(dest="action", metavar="init|show|validate",
                                    parser_class=type(parser))
    actions.required = True
    text = ("write a plan of every protected vApp and VM of the pool (-H), in groups by "
            "xapi's order, networks mapped by name")
    init = actions.add_parser("init", help=text, description=text)
    init.add_argument("file", nargs="?", metavar="FILE", help="where (default: stdout)")
    init.add_argument("--force", action="store_true", help="overwrite FILE")
    add_storage_arguments(init)
    text = "the plan resolved: its groups, addresses and, at the DR pool, capacity"
    show = actions.add_parser("show", help=text, description=text)
    show.add_argument("file", metavar="FILE", type=argtypes.file_path)
    show.add_argument("--at", metavar="[USER@]HOST[:PORT]", type=argtypes.non_empty,
                      help="the DR pool's master: networks, capacity per group, addresses")
    show.add_argument("--at-xe", metavar="PATH", type=argtypes.non_empty,
                      help="path of xe there (default: xe)")
    text = ("check the plan against the source pool and, if reachable, the DR pool: exit 0 "
            "in sync, 2 on drift")
    validate = actions.add_parser("validate", help=text, description=text)
    validate.add_argument("file", metavar="FILE", type=argtypes.file_path)
    for sub, what in ((init, "its networks are mapped to the plan's (else to create)"),
                      (validate, "default: the plan's dr")):
        sub.add_argument("--peer", metavar="[USER@]HOST[:PORT]", type=argtypes.non_empty,
                         help="the DR pool's master (%s)" % what)
        sub.add_argument("--peer-xe", metavar="PATH", type=argtypes.non_empty,
                         help="path of xe on the peer (default: xe)")
    for sub in (init, show, validate):
        if add_shared_options:
            add_shared_options(sub)


def run(ctx):
    return {"init": _init, "show": _show, "validate": _validate}[ctx.args.action](ctx)


def _source_xe(ctx, plan=None):
    """The source pool: -H (or --xe) when given, else the plan's source, else this machine."""
    sites = (plan or {}).get("sites") or {}
    if ctx.args.host or ctx.args.xe or not sites.get("source"):
        return ctx.xe
    return ctx.other_site(sites["source"], sites.get("source_xe"))


def _dr_xe(ctx, host, xe_path, plan=None):
    sites = (plan or {}).get("sites") or {}
    if host:
        return ctx.other_site(host, xe_path)
    if sites.get("dr"):
        return ctx.other_site(sites["dr"], sites.get("dr_xe"))
    return None


def _init(ctx):
    from xe_dr.dr import plan_checks
    from xe_dr.dr.recovery_plan_text import render
    args = ctx.args
    if args.file and args.file != "-" and os.path.exists(args.file) and not args.force:
        raise UsageError("%s exists" % args.file, hint="give --force to overwrite it, or "
                                                       "another file")
    storage = _storage(args)
    source = plan_checks.SourcePool(ctx.xe)
    dr_xe = _dr_xe(ctx, args.peer, args.peer_xe)
    sites = {"source": ctx.host or "local", "dr": args.peer,
             "source_xe": args.xe, "dr_xe": args.peer_xe}
    plan = plan_checks.initial_plan(source, dr_xe=dr_xe, storage=storage, sites=sites)
    text = render(plan)
    if not args.file or args.file == "-":
        ctx.output.data({"plan": plan}, text.rstrip("\n").split("\n"))
        return ExitCode.OK
    from xe_dr.files import write_output_file
    write_output_file(args.file, text, mode=0o644)
    ctx.output.data({"plan": plan, "file": args.file},
                    ["wrote %s: %d group(s), %d network(s)%s" % (
                        args.file, len(plan["groups"]), len(plan["networks"]),
                        "" if dr_xe is not None else "; DR site not checked: every network "
                        "mapped to create (give --peer to map them to the DR pool's)")])
    return ExitCode.OK


def _storage(args):
    if args.chap_password_env:
        raise UsageError("a plan keeps no password: give --chap-password-file (its path is "
                         "kept)")
    if args.target and args.hba:
        raise UsageError("give either --target (iSCSI) or --hba, not both")
    iscsi = list(args.scsiid or []) if not args.hba else []
    hba = (list(args.scsiid or []) if args.hba else []) + list(args.hba_scsiid)
    return {"target": args.target, "port": args.port, "iqn": args.iqn,
            "chap_user": args.chap_user,
            "chap_password_file": os.path.abspath(args.chap_password_file)
            if args.chap_password_file else None, "chap_password_secret": None,
            "scsiid": iscsi, "hba_scsiid": hba}


def _validate(ctx):
    from xe_dr.dr import plan_checks, recovery_plan
    args = ctx.args
    plan = recovery_plan.read(args.file)
    source = plan_checks.SourcePool(_source_xe(ctx, plan))
    result = plan_checks.validate(plan, source, _dr_xe(ctx, args.peer, args.peer_xe, plan))
    lines = ["plan %s: %s%s" % (args.file, "in sync" if result["in_sync"] else
                                "%d item(s) drifted" % len(result["drift"]),
                                "" if result["dr_checked"] else " (DR site not checked)")]
    lines += ["  drift: %s" % item for item in result["drift"]]
    ctx.output.data({"file": args.file, "in_sync": result["in_sync"],
                     "drift": result["drift"], "dr_checked": result["dr_checked"]}, lines)
    return ExitCode.OK if result["in_sync"] else ExitCode.PARTIAL


def _show(ctx):
    from xe_dr.dr import plan_checks, recovery_plan
    args = ctx.args
    plan = recovery_plan.read(args.file)
    source = plan_checks.SourcePool(_source_xe(ctx, plan))
    groups, drift = plan_checks.resolve(plan, source)
    vms = plan_checks.planned_vms(groups)
    dr_xe = _dr_xe(ctx, args.at, args.at_xe) if args.at else None
    capacity, hosts = plan_checks.capacity(groups, source, dr_xe) if dr_xe is not None \
        else (None, None)
    networks = plan_checks.network_targets(plan, dr_xe) if dr_xe is not None else None
    addresses = plan_checks.addresses(plan, vms)
    if dr_xe is not None:
        drift = drift + plan_checks.in_use_at_dr(addresses, dr_xe,
                                                 set(vm["uuid"] for vm in vms))
    lines = ["plan %s (%s): %d group(s), %d VM(s)" % (args.file, plan["name"] or "-",
                                                     len(groups), len(vms))]
    for index, group in enumerate(groups):
        gate = group["gate"]
        lines.append("group %s" % group["name"])
        for vapp in group["vapps"]:
            lines.append("  vApp %s: %s" % (vapp["name_label"], ", ".join(
                vm["name_label"] for vm in vapp["members"])))
        for vm in group["vms"]:
            lines.append("  VM   %s" % vm["name_label"])
        lines.append("  then %s" % _gate_text(gate))
        if capacity is not None:
            fit = capacity[index]
            lines.append("  at the DR site: %.1f GiB to start so far, %s" % (
                fit["memory_needed_bytes"] / float(2 ** 30),
                "fits" if not fit["unplaced"] else "does not fit: no host for %s" % ", ".join(
                    fit["unplaced"])))
    for host in hosts or ():
        lines.append("DR host %s: %.1f GiB free" % (host["name_label"],
                                                   host["memory_free_bytes"] / float(2 ** 30)))
    for network in networks or ():
        lines.append("network %s -> %s: %s" % (network["source"], network["target"], {
            "there": "at the DR site", "created": "made (internal) by the run",
            "missing": "MISSING at the DR site"}[network["at_dr"]]))
    for entry in addresses:
        lines.append("address %s VIF %s%s: %s -> %s" % (
            entry["vm"], entry["device"], " IPv6" if entry["family"] == 6 else "",
            entry["source"] or "unknown",
            "%s%s" % (entry["dr"]["address"], " via %s" % entry["dr"]["gateway"]
                      if entry["dr"]["gateway"] else "") if entry["dr"] else "kept"))
    lines += ["drift: %s" % item for item in drift]
    document = {"file": args.file, "plan": plan, "drift": drift, "addresses": addresses,
                "groups": [{"name": g["name"], "gate": g["gate"],
                            "vapps": [{"uuid": v["uuid"], "name_label": v["name_label"],
                                       "members": [m["uuid"] for m in v["members"]]}
                                      for v in g["vapps"]],
                            "vms": [vm["uuid"] for vm in g["vms"]]} for g in groups],
                "capacity": capacity, "hosts": hosts, "networks": networks}
    ctx.output.data(document, lines)
    if capacity is not None and any(c["unplaced"] for c in capacity) or any(
            n["at_dr"] == "missing" for n in networks or ()):
        return ExitCode.PARTIAL
    return ExitCode.OK if not drift else ExitCode.PARTIAL


def _gate_text(gate):
    if gate["kind"] == "none":
        return "the next group at once"
    what = {"guest-agent": "every guest agent up",
            "command": "%s succeeding" % gate["command"],
            "delay": "%ds" % (gate["seconds"] or 0)}[gate["kind"]]
    return "wait for %s (at most %ds, then %s)" % (what, gate["timeout"], gate["on_timeout"]) \
        if gate["kind"] != "delay" else "wait %s" % what
