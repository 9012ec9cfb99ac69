"""``status``: is this pool protected? Replication targets, their health, and every VM's class.

A VM is
- *protected* when all its disks are on SRs that carry this pool's replicated metadata (the
  SRs the array is known to mirror, since DR replication is set up on them);
- *at risk* when a disk is on shared storage without replicated metadata (the array may not
  mirror it; the VM could come back without that disk);
- *unrecoverable* when a disk is on local storage (no other site can ever see it).
VMs tagged ``xe-dr-ignore`` are listed as ignored and do not count against the status.
"""

from xe_dr.dr.inventory import find_metadata_copies
from xe_dr.dr.lock import LOCK_KEY, parse_claim
from xe_dr.marks import IGNORE_TAG
from xe_dr.dr.plugin import call_json, malformed, plugin_version
from xe_dr.pool import read_pool
from xe_dr.xe.records import parse_ref, parse_tags

MAX_METADATA_SRS = 8          # Xapi_globs.redo_log_max_instances (reference §1.2)
PROTECTED, AT_RISK, UNRECOVERABLE, IGNORED = "protected", "at-risk", "unrecoverable", "ignored"


class PoolFacts(object):
    """Everything status needs, read with one call per class (never one per VM)."""

    def __init__(self, xe):
        self.pool = read_pool(xe)
        self.srs = {r["uuid"]: r for r in xe.list(
            "sr", params=("uuid", "name-label", "type", "shared", "content-type", "other-config"))}
        self.pbds = xe.list("pbd", params=("uuid", "host-uuid", "sr-uuid", "currently-attached"))
        self.copies = find_metadata_copies(xe, self.pool.uuid)
        self.vdis = {r["uuid"]: r for r in xe.list("vdi", params=("uuid", "sr-uuid", "type"))}
        self.vbds = xe.list("vbd", params=("uuid", "vm-uuid", "vdi-uuid", "type",
                                           "currently-attached"))
        self.dom0s = {r["uuid"] for r in xe.list(
            "vm", params=("uuid",), filters={"is-control-domain": "true"})}
        self.vms = xe.list("vm", params=("uuid", "name-label", "power-state", "tags"),
                           filters={"is-control-domain": "false", "is-a-snapshot": "false"})

    def sr_name(self, uuid):
        return self.srs.get(uuid, {}).get("name-label", uuid)

    def attached_to_dom0(self, vdi_uuid):
        return any(v["vdi-uuid"] == vdi_uuid and v["vm-uuid"] in self.dom0s
                   and v["currently-attached"] == "true" for v in self.vbds)


def classify_vms(facts, metadata_srs):
    disks = {}
    for vbd in facts.vbds:
        vdi = parse_ref(vbd["vdi-uuid"])
        if vbd["type"] == "Disk" and vdi and vdi in facts.vdis:
            disks.setdefault(vbd["vm-uuid"], []).append(facts.vdis[vdi]["sr-uuid"])
    result = []
    for vm in facts.vms:
        srs = sorted(set(disks.get(vm["uuid"], [])))
        local = [s for s in srs if facts.srs.get(s, {}).get("shared") != "true"]
        unreplicated = [s for s in srs if s not in metadata_srs and s not in local]
        if IGNORE_TAG in parse_tags(vm.get("tags", "")):
            verdict, reason = IGNORED, "tagged %s" % IGNORE_TAG
        elif local:
            verdict = UNRECOVERABLE
            reason = "disk on local storage: %s" % ", ".join(facts.sr_name(s) for s in local)
        elif unreplicated:
            verdict = AT_RISK
            reason = "disk on shared storage without replicated metadata: %s" % ", ".join(
                facts.sr_name(s) for s in unreplicated)
        else:
            verdict = PROTECTED
            reason = ("all disks on replicated SRs" if srs else "no disks")
        result.append({"uuid": vm["uuid"], "name_label": vm["name-label"],
                       "power_state": vm["power-state"], "class": verdict, "reason": reason,
                       "srs": srs})
    return result


def pool_status(xe, peer_xe=None, use_plugin=True):
    """The status document. ``problems`` empty means all is well (exit 0)."""
    facts = PoolFacts(xe)
    pool = facts.pool
    problems, notes = [], []
    local_copies = [c for c in facts.copies if c.local]
    metadata_srs = {c.sr_uuid for c in local_copies}

    state = None
    if use_plugin and pool.master and plugin_version(xe, pool.master):
        state = call_json(xe, pool.master, "metadata_state", required=("vdis",))
    try:
        disk_state = {d["vdi"]: d for d in (state or {}).get("vdis", [])}
    except (KeyError, TypeError) as failure:
        raise malformed("metadata_state", failure)

    targets = []
    for copy in sorted(local_copies, key=lambda c: facts.sr_name(c.sr_uuid)):
        running = facts.attached_to_dom0(copy.vdi_uuid)
        on_disk = disk_state.get(copy.vdi_uuid, {})
        target = {
            "sr": copy.sr_uuid, "sr_name": facts.sr_name(copy.sr_uuid), "vdi": copy.vdi_uuid,
            "latest": copy.latest, "replicating": running, "size": copy.size,
            "generation": on_disk.get("generation"), "lag": on_disk.get("lag"),
            "healthy": copy.latest and running,
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
        redo_log = {"enabled": any(v.get("type") == "Redo log" for v in facts.vdis.values())}
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
