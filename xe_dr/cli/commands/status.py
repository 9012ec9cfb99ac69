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
                        help="the other site's pool master, to check that no metadata SR is "
                             "attached at both sites ('local' for an xe on this machine)")
    parser.add_argument("--peer-xe", metavar="PATH", help="path of xe on the peer (default: xe)")
    parser.add_argument("--vms", action="store_true",
                        help="list every VM, not only those that are not protected")
    parser.add_argument("--alert", action="store_true",
                        help="raise a xapi message on the pool when a check goes bad, and "
                             "its healthy counterpart when it clears (once per condition "
                             "across monitoring hosts)")


def run(ctx):
    from xe_dr.dr.status import pool_status
    status = pool_status(ctx.xe, peer_xe=ctx.other_site(ctx.args.peer, ctx.args.peer_xe),
                         use_plugin=ctx.use_plugin)
    if ctx.args.alert:
        from xe_dr.dr.alerts import raise_alerts
        status["alert_messages"] = raise_alerts(ctx.xe, status["pool"]["uuid"],
                                                _checks(status))
    ctx.output.data(status, _text(status, ctx.args.vms))
    return ExitCode.FAILED if status["problems"] else ExitCode.OK


def _checks(status):
    """TEMPORARY, until xe_dr/dr/health.py: checks made from the status document."""
    counts = status["counts"]
    vm_problems = {"%d VM(s) %s" % (counts.get(c, 0), c) for c in ("at-risk", "unrecoverable")}
    others = [p for p in status["problems"] if p not in vm_problems]
    checks = [{"name": "replication", "state": "CRITICAL" if others else "OK",
               "summary": "; ".join(others) or "the pool's metadata is replicated"}]
    for verdict in ("at-risk", "unrecoverable"):
        checks.append({"name": verdict, "state": "WARNING" if counts.get(verdict) else "OK",
                       "summary": "%d VM(s) %s" % (counts.get(verdict, 0), verdict)})
    return checks


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
    for note in status["notes"]:
        lines.append("note: " + note)
    for problem in status["problems"]:
        lines.append("PROBLEM: " + problem)
    if not status["problems"]:
        lines.append("OK: all is well")
    for alert in status.get("alert_messages") or ():
        if alert["state"] != "unchanged":
            lines.append("alert: %s %s (message %s)" % (alert["state"], alert["name"],
                                                         alert["message"]))
    return lines
