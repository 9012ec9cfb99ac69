"""What happens to the array when a site's database changes, and xapi's metadata-VDI handling.

After every committed change (``after_commit``, under the site's lock):

* the VG of every LVM SR attached at the site is brought up to date on its LUN copy (SR name and
  description, and the VDIs with what LVHD keeps of them in its MGT volume);
* while database replication is enabled on an SR (the site's ``extra.redo_logs``), the whole
  database is written to its metadata VDI in the redo-log layout, with the new generation count.

Writes to a mirror source reach the target copy unless the mirror is frozen (array.py).

``handle_metadata_vdis`` is xapi's ``Xapi_dr.handle_metadata_vdis``: when an SR is plugged on
the master, replication restarts on this pool's metadata VDIs in it, and foreign ones are read
(generation count and pool UUID) into the foreign-VDI cache that decides ``metadata-latest``.
"""

import os

from . import array, dbxml, redolog, util

LUN_TYPES = ("lvmoiscsi", "lvmohba")
METADATA_VDI_SIZE = 3988783104  # xapi >= 23.30 (951 x 4 MiB)
MAX_REDO_LOGS = 8
DEFAULT_SCHEMA_MINOR = 786


def sr_lun(data, site_name, db, sr_ref):
    """The LUN id under an LVM SR at this site, found through its PBDs' SCSIid."""
    sr = db.get("SR", sr_ref)
    if sr.get("type") not in LUN_TYPES:
        return None
    for pbd in db.children("PBD", "SR", sr_ref):
        scsiid = (db.rows("PBD")[pbd].get("device_config") or {}).get("SCSIid")
        if scsiid:
            lun = array.find_scsiid(data, site_name, scsiid)
            if lun:
                return lun
    return None


def master_attached(db, sr_ref):
    master = db.master_ref()
    for pbd in db.children("PBD", "SR", sr_ref):
        row = db.rows("PBD")[pbd]
        if row.get("host") == master and row.get("currently_attached"):
            return True
    return False


VG_VDI_FIELDS = ("name_label", "name_description", "type", "virtual_size", "is_a_snapshot",
                 "sharable", "read_only", "location", "managed", "metadata_of_pool")


def vg_of(db, sr_ref, on_disk=None):
    """The VG metadata of an LVM SR as this database knows it. ``on_disk`` (the VG as the LUN
    copy has it): its VDIs that the database has no record of and did not destroy stay, as
    the LVs of a real VG stay when xapi has not scanned the SR (xapi >= 23.22 does not scan
    on plug)."""
    sr = db.get("SR", sr_ref)
    vdis = {}
    for vdi_uuid, entry in ((on_disk or {}).get("vdis") or {}).items():
        if vdi_uuid not in db.deleted_vdis and db.lookup_uuid("VDI", vdi_uuid) is None:
            vdis[vdi_uuid] = entry
    for ref in db.children("VDI", "SR", sr_ref):
        row = db.rows("VDI")[ref]
        entry = dict((k, row[k]) for k in VG_VDI_FIELDS if k in row)
        snap = row.get("snapshot_of", util.NULL_REF)
        entry["snapshot_of"] = db.rows("VDI")[snap]["uuid"] if snap in db.rows("VDI") else ""
        vdis[row["uuid"]] = entry
    return {"sr_uuid": sr["uuid"], "name_label": sr.get("name_label", ""),
            "name_description": sr.get("name_description", ""), "type": sr.get("type"),
            "size": sr.get("physical_size", 0), "vdis": vdis}


def after_commit(site, db):
    lab = site.lab
    redo_logs = db.extra.get("redo_logs") or []
    lvm_srs = [ref for ref, row in db.rows("SR").items() if row.get("type") in LUN_TYPES]
    if not lvm_srs:
        return
    with array.locked(lab):
        data = array.load(lab)
        targets = []
        for sr_ref in lvm_srs:
            if not master_attached(db, sr_ref):
                continue
            lun = sr_lun(data, site.name, db, sr_ref)
            if lun is None or not array.writable(data, lun, site.name):
                continue
            on_disk = array.read_vg(lab, lun, site.name)
            vg = vg_of(db, sr_ref, on_disk)
            if on_disk != vg:
                array.write_vg(lab, data, lun, site.name, vg)
            targets.append((sr_ref, lun))
        if not redo_logs:
            return
        writable = dict(targets)
        live = []
        for vdi_ref in redo_logs:
            vdi = db.find("VDI", vdi_ref)
            if vdi is None:
                continue
            lun = writable.get(vdi.get("SR"))
            broken = db.extra.setdefault("broken_redo_logs", [])
            if lun is None:
                # The device went away or became read-only: the redo log is broken.
                if vdi_ref not in broken:
                    broken.append(vdi_ref)
                    lun_alert(db, vdi, "METADATA_LUN_BROKEN")
                if vdi.get("metadata_latest"):
                    db.update("VDI", vdi_ref, metadata_latest=False)
                continue
            if vdi_ref in broken:
                broken.remove(vdi_ref)
                lun_alert(db, vdi, "METADATA_LUN_HEALTHY")
            if not vdi.get("metadata_latest"):
                db.update("VDI", vdi_ref, metadata_latest=True)
            live.append((vdi["uuid"], lun))
        if not live:
            return
        xml = dbxml.to_xml(db, db.extra.get("schema_minor", DEFAULT_SCHEMA_MINOR))
        for vdi_uuid, lun in live:
            array.write_lv(lab, data, lun, site.name, vdi_uuid,
                           lambda path: redolog.write_path(path, xml, db.generation))


def lun_alert(db, vdi, name):
    """METADATA_LUN_BROKEN (priority 3) / _HEALTHY (4) (redo_log_alert.ml, api_messages.ml): a
    pool message with body ``Redo log [DR redo log for VDI <uuid>]``, only if pool
    other-config ``metadata_lun_alerts`` is ``true``."""
    db.dirty = True
    if (db.pool().get("other_config") or {}).get("metadata_lun_alerts") != "true":
        return
    import time
    db.create("message", {
        "name": name, "priority": 3 if name.endswith("BROKEN") else 4, "cls": "Pool",
        "obj_uuid": db.pool()["uuid"], "timestamp": util.xapi_date(time.time()),
        "body": "Redo log [DR redo log for VDI %s]" % vdi.get("uuid")})


def scan_sr(lab, site_name, db, sr_ref, data=None):
    """LVHD scan: make the SR's VDI records match the VG on this site's copy of the LUN."""
    if data is None:
        data = array.load(lab)
    lun = sr_lun(data, site_name, db, sr_ref)
    if lun is None:
        return
    vg = array.read_vg(lab, lun, site_name)
    if vg is None:
        return
    present = dict((db.rows("VDI")[r]["uuid"], r) for r in db.children("VDI", "SR", sr_ref))
    for vdi_uuid, entry in vg.get("vdis", {}).items():
        if vdi_uuid in present:
            continue
        row = dict((k, entry[k]) for k in VG_VDI_FIELDS if k in entry)
        row.update({"uuid": vdi_uuid, "SR": sr_ref, "metadata_latest": False,
                    "snapshot_of": util.NULL_REF, "other_config": {}, "sm_config": {},
                    "xenstore_data": {}, "tags": []})
        row.setdefault("metadata_of_pool", util.NULL_REF)
        db.create("VDI", row)
    for vdi_uuid, entry in vg.get("vdis", {}).items():
        parent = entry.get("snapshot_of")
        ref = db.lookup_uuid("VDI", vdi_uuid)
        if parent and vdi_uuid not in present and ref is not None:
            parent_ref = db.lookup_uuid("VDI", parent)
            if parent_ref is not None:
                db.update("VDI", ref, snapshot_of=parent_ref)
    for vdi_uuid, ref in present.items():
        if vdi_uuid not in vg.get("vdis", {}) and not db.children("VBD", "VDI", ref):
            db.delete("VDI", ref)


def metadata_vdis(db, sr_ref):
    return [r for r in db.children("VDI", "SR", sr_ref)
            if db.rows("VDI")[r].get("type") == "metadata"]


def metadata_generations(lab, lun_id, site_name):
    """{VDI uuid: generation count} of the databases in the metadata VDIs on ``site_name``'s
    copy of a LUN (a replica, or a storage adapter's copy ``lunN.copyM``), read as xapi reads
    them (redolog.read: the valid half's database record); an LV holding no redo log is left
    out. What the mirror replicated or a copy froze, for tests (xapi's reads: foreign.py)."""
    directory = array.copy_dir(lab, lun_id, site_name)
    found = {}
    with array.locked(lab, shared=True):
        names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
        for name in names:
            if not name.startswith("LV-"):
                continue
            try:
                found[name[3:]] = redolog.read_path(os.path.join(directory, name))[0]
            except redolog.RedoLogError:
                continue
    return found


def enable_redo_log(db, vdi_ref):
    """Start replication to a metadata VDI: a RW VBD on the master's dom0, metadata-latest."""
    logs = db.extra.setdefault("redo_logs", [])
    if vdi_ref in logs:
        return False
    dom0 = db.get("host", db.master_ref()).get("control_domain", util.NULL_REF)
    for vbd in list(db.children("VBD", "VDI", vdi_ref)):
        db.delete("VBD", vbd)
    used = set(db.rows("VBD")[v].get("userdevice") for v in db.children("VBD", "VM", dom0))
    n = 1
    while str(n) in used:
        n += 1
    db.create("VBD", {
        "VM": dom0, "VDI": vdi_ref, "userdevice": str(n), "device": "xvd" + "abcdefghijklmnop"[n],
        "mode": "RW", "type": "Disk", "bootable": False, "unpluggable": True, "empty": False,
        "currently_attached": True, "other_config": {}, "qos_algorithm_params": {}})
    logs.append(vdi_ref)
    db.update("VDI", vdi_ref, metadata_latest=True)
    db.dirty = True
    return True


def disable_redo_log(db, vdi_ref, destroy_vbds=True):
    logs = db.extra.setdefault("redo_logs", [])
    if vdi_ref in logs:
        logs.remove(vdi_ref)
        db.dirty = True
    if destroy_vbds:
        for vbd in list(db.children("VBD", "VDI", vdi_ref)):
            db.delete("VBD", vbd)
    if db.find("VDI", vdi_ref) is not None:
        db.update("VDI", vdi_ref, metadata_latest=False)


def recompute_latest(db):
    """For each foreign pool, metadata-latest on the VDIs with the highest generation."""
    cache = db.extra.get("foreign_cache") or {}
    best = {}
    for vdi_ref, (gen, pool_uuid) in cache.items():
        if db.find("VDI", vdi_ref) is None:
            continue
        best[pool_uuid] = max(best.get(pool_uuid, -1), gen)
    for vdi_ref, (gen, pool_uuid) in list(cache.items()):
        if db.find("VDI", vdi_ref) is None:
            del cache[vdi_ref]
            db.dirty = True
            continue
        latest = gen == best.get(pool_uuid)
        if bool(db.rows("VDI")[vdi_ref].get("metadata_latest")) != latest:
            db.update("VDI", vdi_ref, metadata_latest=latest)


def forget_foreign(db, sr_ref):
    """PBD.unplug on the master: foreign VDIs leave the cache, this pool's logs stop."""
    cache = db.extra.setdefault("foreign_cache", {})
    local_pool = db.pool_ref()
    for vdi_ref in metadata_vdis(db, sr_ref):
        row = db.rows("VDI")[vdi_ref]
        if row.get("metadata_of_pool") == local_pool:
            disable_redo_log(db, vdi_ref, destroy_vbds=True)
        else:
            if vdi_ref in cache:
                del cache[vdi_ref]
                db.dirty = True
            if row.get("metadata_latest"):
                db.update("VDI", vdi_ref, metadata_latest=False)
    recompute_latest(db)
