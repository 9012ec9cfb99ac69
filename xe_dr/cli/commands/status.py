"""``xe-dr status``: replication targets, their health, and which VMs are protected."""

from xe_dr.exitcodes import ExitCode

NAME = "status"
HELP = ("check this pool's metadata replication and classify every VM as protected, at risk "
        "or unrecoverable; exit 0 only when all is well (for cron and monitoring); write the "
        "heartbeat that dates the replicated metadata (other-config:xe-dr-heartbeat)")
EXAMPLES = (
    "xe-dr -H root@xcp-a1 status --peer root@xcp-b1 --vms",
    "xe-dr -H root@xcp-a1 status --json",
    "xe-dr -q status --peer root@xcp-b1 >/dev/null || logger -t xe-dr \"exit $?\"",
)


def add_arguments(parser):
    parser.add_argument("--peer", metavar="[USER@]HOST[:PORT]",
                        help="the DR site's pool master, to check its readiness (memory, "
                             "CPUs, networks, plugin, mirrored LUNs) and that no SR is "
                             "attached at both sites ('local' for an xe on this machine)")
    parser.add_argument("--peer-xe", metavar="PATH", help="path of xe on the peer (default: xe)")
    parser.add_argument("--vms", action="store_true",
                        help="list every VM, not only those that are not protected")


def run(ctx):
    from xe_dr.dr.status import pool_status
    status = pool_status(ctx.xe, peer_xe=ctx.other_site(ctx.args.peer, ctx.args.peer_xe),
                         use_plugin=ctx.use_plugin)
    ctx.output.data(status, _text(status, ctx.args.vms))
    return ExitCode.FAILED if status["problems"] else ExitCode.OK


def _text(status, all_vms):
    pool = status["pool"]
    lines = ["pool %s (%s)" % (pool["name_label"] or "-", pool["uuid"]),
             "  DR licence: %s   HA: %s   metadata LUN alerts: %s   redo log: %s" % (
                 "allowed" if pool["dr_allowed"] else "RESTRICTED",
                 "on" if pool["ha_enabled"] else "off",
                 "on" if pool["metadata_lun_alerts"] else "off",
                 {True: "on", False: "off", None: "unknown"}[status["redo_log"].get("enabled")]),
             "replicated metadata (%d of at most 8 SRs):" % len(status["replication"])]
    lock = status["lock"]
    if lock:
        lines.insert(2, "  locked by run %s (pid %s on %s, since %s)" % (
            lock.get("run", lock.get("text")), lock.get("pid", "?"), lock.get("host", "?"),
            lock.get("since", "?")))
    for target in status["replication"]:
        generation = ("generation %s" % target["generation"]
                      if target["generation"] is not None else "generation unknown")
        lines.append("  %-24s %s  %s%s" % (
            target["sr_name"], "healthy" if target["healthy"] else "NOT WRITTEN", generation,
            ", lag %s" % target["lag"] if target["lag"] else ""))
    heartbeat = status["heartbeat"]
    if heartbeat and heartbeat["written"]:
        lines.append("  heartbeat %s written (it dates the replicated metadata)"
                     % heartbeat["written"])
    counts = status["counts"]
    lines.append("VMs: %d protected, %d at risk, %d unrecoverable, %d ignored" % tuple(
        counts.get(k, 0) for k in ("protected", "at-risk", "unrecoverable", "ignored")))
    for vm in status["vms"]:
        if all_vms or vm["class"] in ("at-risk", "unrecoverable"):
            lines.append("  %-13s %s: %s" % (vm["class"], vm["name_label"], vm["reason"]))
    if status.get("readiness"):
        lines += _readiness(status["readiness"])
    for note in status["notes"]:
        lines.append("note: " + note)
    for problem in status["problems"]:
        lines.append("PROBLEM: " + problem)
    if not status["problems"]:
        lines.append("OK: all is well")
    return lines


def _readiness(ready):
    """One line per figure of the DR site's readiness (xe_dr/dr/readiness.py)."""
    def names(values, unchecked=()):
        text = ", ".join(values) if values else "none"
        return text + ("  (not checked: %s)" % ", ".join(unchecked) if unchecked else "")

    gib = 1073741824.0
    pool = ready["pool"]
    return [
        "DR site readiness, pool %s (%s):" % (pool["name_label"] or "-", pool["uuid"]),
        "  memory: %.1f GiB needed to start %d running protected VM(s), %.1f GiB free" % (
            ready["memory_needed_bytes"] / gib, ready["vms_counted"],
            ready["memory_free_bytes"] / gib),
        "  CPUs: %d vCPUs on %d pCPUs" % (ready["vcpus_needed"], ready["cpus"]),
        "  VMs too big for any DR host: " + names(ready["vms_too_big"]),
        "  networks missing: " + names(ready["networks_missing"]),
        "  hosts without the xe-dr plugin: " + (names(ready["hosts_without_plugin"])
                                               if ready["plugin_checked"] else "not checked"),
        "  mirrored LUNs not visible: " + names(ready["luns_invisible"],
                                                ready["luns_unchecked"]),
        "  SRs attached at both sites: " + names(ready["attached_at_both"]),
    ]
