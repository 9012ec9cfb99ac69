"""Whether each VM of a pool can come back at the other site (what ``xe-dr status`` shows, and
what a plan made from the live source pool leaves out).

A VM is
- *protected* when all its disks are on SRs that carry this pool's replicated metadata (the
  SRs the array is known to mirror, since DR replication is set up on them);
- *at risk* when a disk is on shared storage without replicated metadata (the array may not
  mirror it; the VM could come back without that disk);
- *unrecoverable* when a disk is on local storage (no other site can ever see it).
VMs tagged ``xe-dr-ignore`` are listed as ignored and do not count against the status.
"""

from xe_dr.marks import IGNORE_TAG

PROTECTED, AT_RISK, UNRECOVERABLE, IGNORED = "protected", "at-risk", "unrecoverable", "ignored"


def metadata_srs(snapshot):
    """The SRs holding a copy of this pool's own database (its replication targets)."""
    return {c["sr"] for c in snapshot.metadata_copies() if c["local"]}


def classify_vms(snapshot, replicated):
    """[{"uuid", "name_label", "power_state", "class", "reason", "srs"}], one per VM of the
    pool (a :class:`xe_dr.pool.PoolSnapshot`); ``replicated``: the SRs with this pool's
    replicated metadata."""
    disks = {}
    for vbd in snapshot.vbds:
        vdi = snapshot.vdis.get(vbd["vdi"]) if vbd["vdi"] else None
        if vbd["type"] == "Disk" and vdi is not None and vdi["sr"]:
            disks.setdefault(vbd["vm"], []).append(vdi["sr"])
    result = []
    for vm in snapshot.guests.values():
        srs = sorted(set(disks.get(vm["uuid"], [])))
        local = [s for s in srs if not snapshot.srs.get(s, {}).get("shared")]
        unreplicated = [s for s in srs if s not in replicated and s not in local]
        if IGNORE_TAG in vm["tags"]:
            verdict, reason = IGNORED, "tagged %s" % IGNORE_TAG
        elif local:
            verdict = UNRECOVERABLE
            reason = "disk on local storage: %s" % ", ".join(snapshot.sr_name(s) for s in local)
        elif unreplicated:
            verdict = AT_RISK
            reason = "disk on shared storage without replicated metadata: %s" % ", ".join(
                snapshot.sr_name(s) for s in unreplicated)
        else:
            verdict = PROTECTED
            reason = ("all disks on replicated SRs" if srs else "no disks")
        result.append({"uuid": vm["uuid"], "name_label": vm["name_label"],
                       "power_state": vm["power_state"], "class": verdict, "reason": reason,
                       "srs": srs})
    return result
