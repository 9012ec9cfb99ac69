"""``status``: is this pool protected? Replication targets, their health, and every VM's class
(protected, at risk, unrecoverable or ignored: xe_dr/dr/protection.py).

The pool is read once (xe_dr/pool.py PoolSnapshot): one call per class, made at once.
"""

from xe_dr.dr.lock import LOCK_KEY, parse_claim
from xe_dr.dr.plugin import call_json, malformed, plugin_version
from xe_dr.dr.protection import AT_RISK, UNRECOVERABLE, classify_vms
from xe_dr.pool import PoolSnapshot

MAX_METADATA_SRS = 8          # Xapi_globs.redo_log_max_instances (reference §1.2)


def pool_status(xe, peer_xe=None, use_plugin=True):
    """The status document. ``problems`` empty means all is well (exit 0)."""
    facts = PoolSnapshot(xe).read("pool", "srs", "vdis", "vbds", "vms")
    pool = facts.pool
    problems, notes = [], []
    local_copies = [c for c in facts.metadata_copies() if c["local"]]
    metadata_srs = {c["sr"] for c in local_copies}

    state = None
    if use_plugin and pool.master and plugin_version(xe, pool.master):
        state = call_json(xe, pool.master, "metadata_state", required=("vdis",))
    try:
        disk_state = {d["vdi"]: d for d in (state or {}).get("vdis", [])}
    except (KeyError, TypeError) as failure:
        raise malformed("metadata_state", failure)

    targets = []
    for copy in sorted(local_copies, key=lambda c: facts.sr_name(c["sr"])):
        running = facts.attached_to_dom0(copy["vdi"])
        on_disk = disk_state.get(copy["vdi"], {})
        target = {
            "sr": copy["sr"], "sr_name": facts.sr_name(copy["sr"]), "vdi": copy["vdi"],
            "latest": copy["latest"], "replicating": running, "size": copy["size"],
            "generation": on_disk.get("generation"), "lag": on_disk.get("lag"),
            "healthy": copy["latest"] and running,
        }
        targets.append(target)
        if not target["healthy"]:
            problems.append("metadata copy on %s is not being written (%s)" % (
                target["sr_name"], "no dom0 VBD attached" if not running
                else "metadata-latest is false: the redo log lost its device"))
        elif target["lag"]:
            problems.append("metadata copy on %s lags the live database by %d generations"
                            % (target["sr_name"], target["lag"]))
    if not targets:
        problems.append("no SR carries this pool's replicated metadata: nothing can be "
                        "recovered at another site (xe-dr replication enable SR)")
    if len(targets) > MAX_METADATA_SRS:
        problems.append("more than %d metadata SRs" % MAX_METADATA_SRS)
    if not pool.dr_allowed:
        problems.append("the licence restricts disaster recovery (restrict_dr=true)")
    if not pool.metadata_lun_alerts:
        notes.append("metadata LUN alerts are off: enable them with "
                     "'xe-dr replication enable --alerts' so xapi reports a broken copy")

    vms = classify_vms(facts, metadata_srs)
    counts = {}
    for vm in vms:
        counts[vm["class"]] = counts.get(vm["class"], 0) + 1
    for verdict in (AT_RISK, UNRECOVERABLE):
        if counts.get(verdict):
            problems.append("%d VM(s) %s" % (counts[verdict], verdict))

    if peer_xe is not None:
        problems.extend(_attached_at_peer(peer_xe, targets))
    else:
        notes.append("the other site was not checked (give --peer HOST to check that no "
                     "metadata SR is attached at both sites)")

    redo_log = (state or {}).get("redo_log")
    if redo_log is None:
        # Without the plugin: the pool redo log has a VDI of its own type (reference §1.6).
        redo_log = {"enabled": any(v["type"] == "Redo log" for v in facts.vdis.values())}
    claim = pool.other_config.get(LOCK_KEY)  # a run under way (or one that died)
    return {
        "pool": pool.to_json(),
        "lock": (parse_claim(claim) or {"text": claim}) if claim else None,
        "plugin": state is not None,
        "replication": targets,
        "alerts": (state or {}).get("messages"),
        "redo_log": redo_log,
        "vms": vms,
        "counts": counts,
        "problems": problems,
        "notes": notes,
    }


def _attached_at_peer(peer_xe, targets):
    """A metadata SR attached in both pools means two LVM masters on one VG: corruption."""
    problems = []
    attached = {p["sr-uuid"] for p in peer_xe.list(
        "pbd", params=("sr-uuid", "currently-attached"), filters={"currently-attached": "true"})}
    for target in targets:
        if target["sr"] in attached:
            problems.append("metadata SR %s is also attached to the other site's pool: "
                            "detach it there now (two pools on one LUN corrupt it)"
                            % target["sr_name"])
    return problems
