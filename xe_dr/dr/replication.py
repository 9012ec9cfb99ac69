"""Configuring metadata replication: checks before xe, then sr-enable/disable-database-replication.

The checks are xapi's own (reference §1.2), made first so that the administrator gets every
problem at once with a fix, rather than xe's first error.
"""

from xe_dr.dr.inventory import find_metadata_copies
from xe_dr.dr.status import MAX_METADATA_SRS
from xe_dr.errors import RefusedError, UsageError, XeDrError
from xe_dr.pool import read_hosts, read_pool

METADATA_SR_TYPES = ("lvmoiscsi", "lvhdoiscsi", "lvmohba", "lvhdohba")  # SM feature SR_METADATA
SR_FIELDS = ("uuid", "name-label", "type", "shared")


def resolve_srs(xe, names):
    """SR records for UUIDs or name-labels; an unknown or ambiguous name is a usage error."""
    srs = xe.list("sr", params=SR_FIELDS)
    chosen = []
    for name in names:
        matches = [s for s in srs if s["uuid"] == name] or \
                  [s for s in srs if s["name-label"] == name]
        if not matches:
            raise UsageError("no SR %r in this pool" % name,
                             hint="'xe sr-list params=uuid,name-label,type' lists them")
        if len(matches) > 1:
            raise UsageError("%d SRs are named %r" % (len(matches), name),
                             hint="give one of their UUIDs: %s" % ", ".join(
                                 m["uuid"] for m in matches))
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


class ReplicationCheckFailed(XeDrError):
    pass


def check_enable(xe, srs):
    """Every reason xapi would refuse, with the fix, before anything is changed."""
    pool = read_pool(xe)
    if not pool.dr_allowed:
        raise RefusedError("the pool's licence does not allow disaster recovery (restrict_dr)",
                           hint="license the pool for DR; XCP-ng has no such restriction")
    hosts = {h.uuid for h in read_hosts(xe)}
    pbds = xe.list("pbd", params=("host-uuid", "sr-uuid", "currently-attached"))
    enabled = {c.sr_uuid for c in find_metadata_copies(xe, pool.uuid) if c.local}
    problems = []
    for sr in srs:
        label = "%s (%s)" % (sr["name-label"], sr["uuid"])
        if sr["type"] not in METADATA_SR_TYPES:
            problems.append("%s is of type %s: DR metadata needs LVM over iSCSI or HBA "
                            "(lvmoiscsi, lvmohba)" % (label, sr["type"]))
            continue
        mine = [p for p in pbds if p["sr-uuid"] == sr["uuid"]]
        missing = hosts - {p["host-uuid"] for p in mine}
        unplugged = [p for p in mine if p["currently-attached"] != "true"]
        if missing or unplugged or not mine:
            problems.append("%s is not attached on every host (%d without a PBD, %d unplugged): "
                            "plug it everywhere first (xe pbd-plug)" % (
                                label, len(missing), len(unplugged)))
    new = [s for s in srs if s["uuid"] not in enabled]
    if len(enabled) + len(new) > MAX_METADATA_SRS:
        problems.append("at most %d SRs can hold this pool's metadata; %d already do and %d "
                        "more were asked" % (MAX_METADATA_SRS, len(enabled), len(new)))
    if problems:
        raise ReplicationCheckFailed("; ".join(problems))
    return pool, enabled


def enable(xe, srs, alerts=False):
    pool, enabled = check_enable(xe, srs)
    done = []
    for sr in srs:
        # Repeating it is harmless: xapi does nothing when replication already runs (§1.2 step 6)
        xe.run("sr-enable-database-replication", {"uuid": sr["uuid"]})
        done.append({"sr": sr["uuid"], "sr_name": sr["name-label"],
                     "was_enabled": sr["uuid"] in enabled})
    if alerts:
        set_alerts(xe, pool.uuid)
    return done


def set_alerts(xe, pool_uuid):
    """xapi raises METADATA_LUN_BROKEN/HEALTHY only with this key set (redo_log_alert.ml)."""
    xe.param_set("pool", pool_uuid, {"other-config": {"metadata_lun_alerts": "true"}})


def disable(xe, srs):
    done = []
    for sr in srs:
        # This destroys the metadata VDI on the SR, not only the replication (pitfall 18).
        xe.run("sr-disable-database-replication", {"uuid": sr["uuid"]})
        done.append({"sr": sr["uuid"], "sr_name": sr["name-label"]})
    return done
