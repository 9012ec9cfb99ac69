"""``xe-dr inventory``: what can be recovered here, from the newest metadata."""

from xe_dr.exitcodes import ExitCode

NAME = "inventory"
HELP = "list the source pools in the newest metadata copies, their vApps and standalone VMs"
EXAMPLES = (
    "xe-dr -H root@xcp-b1 inventory",
    "xe-dr -H root@xcp-b1 inventory --json > inventory.json",
)


def add_arguments(parser):
    pass


def run(ctx):
    from xe_dr.dr.listing import inventory
    data = inventory(ctx.xe, use_plugin=ctx.use_plugin, note=ctx.output.warning)
    ctx.output.data(data, _text(data))
    return ExitCode.OK if data["sources"] else ExitCode.FAILED


def _text(data):
    lines = ["SR %s (%s): %s; 'xe-dr failover' scans it and plugs it again, or by hand: "
             "xe sr-scan uuid=%s, then pbd-unplug and pbd-plug its PBDs (master last off, "
             "first on)" % (sr["name_label"], sr["uuid"], sr["why"], sr["uuid"])
             for sr in data.get("unread_srs") or ()]
    if not data["sources"]:
        return lines + ["no recoverable metadata is visible in this pool: attach the mirrored "
                        "SRs first (xe-dr probe, then xe-dr failover with the probe options)"]
    for source in data["sources"]:
        lines.append("pool %s (%s), metadata VDI %s on SR %s, generation %s, heartbeat %s%s" % (
            source["name_label"] or "-", source["uuid"], source["vdi"], source["sr"],
            source["generation"] if source["generation"] is not None else "unknown",
            source.get("heartbeat") or "none",
            "" if source["via"] == "plugin" else " [plain xe: vApp members unknown]"))
        for other in source["other_copies"]:
            lines.append("  older copy %s on SR %s: %s" % (other["vdi"], other["sr"], (
                "%d generations behind" % other["behind"]) if other["behind"] is not None
                else "age unknown"))
        vms = dict((vm["uuid"], vm) for vm in source["vms"])
        for appliance in source["appliances"]:
            lines.append("  vApp %s (%s)" % (appliance["name_label"], appliance["uuid"]))
            for uuid in sorted(appliance["vms"] or (), key=lambda u: (vms[u]["order"], vms[u][
                    "name_label"]) if u in vms else (0, u)):
                vm = vms.get(uuid, {"name_label": uuid, "order": "?", "start_delay": "?",
                                    "power_state": "?"})
                lines.append("    order %s  %-24s delay %ss  was %s" % (
                    vm["order"], vm["name_label"], vm["start_delay"], vm["power_state"]))
        standalone = [vm for vm in source["vms"] if not vm["appliance"]]
        if standalone:
            lines.append("  VMs%s:" % ("" if source["via"] == "plugin" else
                                       " (vApp membership unknown without the plugin)"))
            for vm in sorted(standalone, key=lambda v: (v["order"], v["name_label"])):
                lines.append("    order %s  %-24s delay %ss  was %s" % (
                    vm["order"], vm["name_label"], vm["start_delay"], vm["power_state"]))
    return lines
