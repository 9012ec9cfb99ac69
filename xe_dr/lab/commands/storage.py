"""sr-probe, sr-introduce, sr-forget, sr-scan, pbd-create/-destroy/-plug/-unplug,
sr-enable-database-replication, sr-disable-database-replication."""

from . import command
from .. import array, costs, foreign, releases, replication, secrets, sm, util
from ..errors import XapiError

DR_TYPES = ("lvmoiscsi", "lvmohba", "lvhdoiscsi", "lvhdohba")


@command("sr-probe", reqd=["type"], optn=["host-uuid", "device-config:", "sm-config:"],
         help="Perform a storage probe. The device-config parameters can be specified by "
              "device-config:devs=/dev/sdb1, for example.")
def sr_probe(ctx):
    db = ctx.site.read()
    host = db.by_uuid("host", ctx.get("host-uuid")) if ctx.has("host-uuid") else db.master_ref()
    # SR.probe (message_forwarding.ml) moves passwords into new secrets before sm sees them
    dc = dict(secrets.moved(ctx.site, ctx.map_params("device-config")))
    db = ctx.site.read()
    ctx.cost("probe")
    xml = sm.probe(ctx.lab, ctx.site.name, db, host, ctx.get("type"), dc,
                   dict(ctx.map_params("sm-config")))
    ctx.printer.plist([xml])


@command("sr-introduce", reqd=["name-label", "type", "uuid"],
         optn=["name-description", "shared", "content-type"],
         help="Introduces an SR (but does not create any PBDs).")
def sr_introduce(ctx):
    with ctx.site.transaction() as db:
        introduce(db, ctx.get("uuid"), ctx.get("name-label"), ctx.get("name-description", ""),
                  ctx.get("type"), ctx.get("content-type", ""), ctx.flag("shared"),
                  dict(ctx.map_params("sm-config")))
    ctx.printer.plist([ctx.get("uuid")])


def introduce(db, uuid, name_label, name_description, sr_type, content_type, shared,
              sm_config, introduced_by=util.NULL_REF):
    if sr_type not in sm.KNOWN_TYPES:
        raise XapiError("SR_UNKNOWN_DRIVER", [sr_type])
    if db.lookup_uuid("SR", uuid) is not None:
        raise XapiError("SR_UUID_EXISTS", [uuid])
    return db.create("SR", {
        "uuid": uuid, "name_label": name_label, "name_description": name_description,
        "type": sr_type, "content_type": content_type, "shared": shared, "physical_size": 0,
        "physical_utilisation": 0, "virtual_allocation": 0, "introduced_by": introduced_by,
        "other_config": {}, "sm_config": sm_config, "tags": [], "is_tools_sr": False,
        "clustered": False})


@command("sr-forget", reqd=["uuid"], help="Forget about the SR.")
def sr_forget(ctx):
    db = ctx.site.read()
    sr = db.by_uuid("SR", ctx.get("uuid"))
    assert_all_unplugged(db, sr)
    ctx.cost("sr_forget")
    with ctx.site.transaction() as db:
        sr = db.by_uuid("SR", ctx.get("uuid"))
        forget(db, sr)


def assert_all_unplugged(db, sr):
    for pbd in db.children("PBD", "SR", sr):
        if db.rows("PBD")[pbd].get("currently_attached"):
            raise XapiError("SR_HAS_PBD", [sr])


def forget(db, sr):
    assert_all_unplugged(db, sr)
    for pbd in list(db.children("PBD", "SR", sr)):
        destroy_pbd(db, pbd)
    for vdi in list(db.children("VDI", "SR", sr)):
        replication.disable_redo_log(db, vdi, destroy_vbds=False)
        cache = db.extra.get("foreign_cache") or {}
        cache.pop(vdi, None)
        db.delete("VDI", vdi)
    db.delete("SR", sr)


@command("sr-scan", reqd=["uuid"],
         help="Force an SR scan, syncing database with VDIs present in underlying storage "
              "substrate.")
def sr_scan(ctx):
    ctx.cost("sr_scan")
    with ctx.site.transaction() as db:
        sr = db.by_uuid("SR", ctx.get("uuid"))
        if not replication.master_attached(db, sr):
            raise XapiError("SR_HAS_NO_PBDS", [sr])
        replication.scan_sr(ctx.lab, ctx.site.name, db, sr)


@command("pbd-create", reqd=["host-uuid", "sr-uuid"], optn=["device-config:"],
         help="Create a PBD. The read-only device-config parameter can only be set on creation "
              "in the following manner. To\nadd a mapping of 'path' -> '/tmp', the command line "
              "should contain the argument device-config:path=/tmp")
def pbd_create(ctx):
    dc = [(k[len("device-config:"):], v) for k, v in ctx.params
          if k.startswith("device-config") and len(k) > len("device-config:")]
    db = ctx.site.read()
    host = db.get("host", db.by_uuid("host", ctx.get("host-uuid")))["uuid"]
    sr = db.get("SR", db.by_uuid("SR", ctx.get("sr-uuid")))["uuid"]
    # message_forwarding.ml PBD.create: passwords into new secrets first (they stay even if
    # the create fails), then Xapi_pbd.create_common
    dc = secrets.moved(ctx.site, dc)
    with ctx.site.transaction() as db:
        ref = create_pbd(db, db.by_uuid("host", host), db.by_uuid("SR", sr), dc, moved=True)
        uuid = db.get("PBD", ref)["uuid"]
    ctx.printer.plist([uuid])


def create_pbd(db, host, sr, device_config, moved=False):
    """PBD.create: ``device_config`` is [(key, value)] as the caller gave it (or, with
    ``moved``, after ``secrets.move_passwords``); each PBD gets its own copy of the secrets."""
    items = list(device_config.items()) if isinstance(device_config, dict) else \
        list(device_config)
    if not moved:
        items = secrets.move_passwords(db, items)
    for pbd in db.children("PBD", "SR", sr):
        if db.rows("PBD")[pbd].get("host") == host:
            raise XapiError("PBD_EXISTS", [sr, host, pbd])
    items = secrets.duplicate_passwords(db, items)
    return db.create("PBD", {"host": host, "SR": sr, "device_config": dict(items),
                             "currently_attached": False, "other_config": {}})


def destroy_pbd(db, pbd):
    """PBD.destroy after its checks: the row goes, and the secrets it owns."""
    device_config = db.get("PBD", pbd).get("device_config") or {}
    db.delete("PBD", pbd)
    secrets.clean_out_passwords(db, device_config)


@command("pbd-destroy", reqd=["uuid"], help="Destroy the PBD.")
def pbd_destroy(ctx):
    with ctx.site.transaction() as db:
        pbd = db.by_uuid("PBD", ctx.get("uuid"))
        if db.get("PBD", pbd).get("currently_attached"):
            raise XapiError("OPERATION_NOT_ALLOWED", ["PBD is currently attached"])
        destroy_pbd(db, pbd)


@command("pbd-plug", reqd=["uuid"],
         help="Attempt to plug in the PBD to the host. If this succeeds then the referenced SR "
              "(and the VDIs contained within) should be visible to the host.")
def pbd_plug(ctx):
    plug(ctx.lab, ctx.site, ctx.get("uuid"), ctx.info)


def plug(lab, site, pbd_uuid, info=None):
    db = site.read()
    pbd = db.by_uuid("PBD", pbd_uuid)
    if db.get("PBD", pbd).get("currently_attached"):
        return
    costs.pause(lab, "pbd_plug")
    with site.transaction() as db:
        pbd = db.by_uuid("PBD", pbd_uuid)
        row = db.get("PBD", pbd)
        if row.get("currently_attached"):
            return
        sr = row["SR"]
        sr_row = db.get("SR", sr)
        if sr_row.get("type") in sm.LVM_LUN_TYPES:
            sm.attach(lab, site.name, db, sr, row["host"], row.get("device_config") or {})
        db.update("PBD", pbd, currently_attached=True)
        if row["host"] != db.master_ref():
            return
        pending = after_master_plug(lab, site.name, db, sr)
    read_foreign_headers(lab, site, pending, info)


def after_master_plug(lab, site_name, db, sr):
    """PBD.plug of the master (message_forwarding.ml, PBD.plug): up to xapi v23.21 an SR.scan
    and then the callback; from v23.22.0 (commit 7c04e3e5e4, CA-379112) the callback alone, so
    an SR new to this pool has no VDI records until something scans it. The callback
    (Xapi_dr.handle_metadata_vdis) restarts this pool's replication on the metadata VDIs the SR
    has records for and lists the foreign ones to read; Xapi_sr.update (SR.stat) sets sizes."""
    sr_row = db.get("SR", sr)
    if sr_row.get("type") not in sm.LVM_LUN_TYPES:
        return []
    with array.locked(lab, shared=True):
        data = array.load(lab)
        lun = replication.sr_lun(data, site_name, db, sr)
        vg = array.read_vg(lab, lun, site_name) if lun else None
    if vg:
        db.update("SR", sr, physical_size=vg.get("size", 0),
                  name_label=sr_row.get("name_label") or vg.get("name_label", ""))
    if releases.of_lab(lab)["scan_on_plug"]:
        replication.scan_sr(lab, site_name, db, sr)
    local_pool = db.pool_ref()
    pending = []
    restarted = False
    for vdi in replication.metadata_vdis(db, sr):
        owner = db.rows("VDI")[vdi].get("metadata_of_pool")
        if owner == local_pool:
            # replication restarts on the first metadata VDI of this pool in the SR
            if not restarted and \
                    len(db.extra.get("redo_logs") or []) < replication.MAX_REDO_LOGS:
                replication.enable_redo_log(db, vdi)
                restarted = True
        else:
            pending.append(db.rows("VDI")[vdi]["uuid"])
    return pending


def read_foreign_headers(lab, site, vdi_uuids, info=None):
    """Open each foreign metadata VDI (cost and mutex outside the site lock), then cache."""
    if not vdi_uuids:
        return
    results = {}
    for vdi_uuid in vdi_uuids:
        local = site.read()
        ref = local.lookup_uuid("VDI", vdi_uuid)
        if ref is None:
            continue
        try:
            results[vdi_uuid] = foreign.header(lab, site.name, local, ref, info)
        except XapiError:
            continue
    with site.transaction() as db:
        cache = db.extra.setdefault("foreign_cache", {})
        for vdi_uuid, (generation, pool_uuid) in results.items():
            ref = db.lookup_uuid("VDI", vdi_uuid)
            if ref is not None and pool_uuid:
                cache[ref] = [generation, pool_uuid]
                db.dirty = True
        replication.recompute_latest(db)


@command("pbd-unplug", reqd=["uuid"],
         help="Attempt to unplug the PBD from the host. If this succeeds then the referenced SR "
              "(and the VDIs contained within) should not be visible to the host.")
def pbd_unplug(ctx):
    unplug(ctx.lab, ctx.site, ctx.get("uuid"))


def unplug(lab, site, pbd_uuid):
    db = site.read()
    pbd = db.by_uuid("PBD", pbd_uuid)
    if not db.get("PBD", pbd).get("currently_attached"):
        return
    costs.pause(lab, "pbd_unplug")
    with site.transaction() as db:
        unplug_in(db, db.by_uuid("PBD", pbd_uuid))


def active_vdis(db, pbd):
    row = db.get("PBD", pbd)
    host = row["host"]
    out = []
    for vdi in db.children("VDI", "SR", row["SR"]):
        for vbd in db.children("VBD", "VDI", vdi):
            vrow = db.rows("VBD")[vbd]
            vm = db.find("VM", vrow.get("VM"))
            if vrow.get("currently_attached") and vm is not None and \
                    vm.get("resident_on") == host:
                out.append(vdi)
                break
    return out


def unplug_in(db, pbd):
    row = db.get("PBD", pbd)
    if not row.get("currently_attached"):
        return
    in_use = [v for v in active_vdis(db, pbd) if db.rows("VDI")[v].get("type") != "metadata"]
    if in_use:
        raise XapiError("VDI_IN_USE", in_use)
    if row["host"] == db.master_ref():
        replication.forget_foreign(db, row["SR"])
    db.update("PBD", pbd, currently_attached=False)


@command("sr-enable-database-replication", reqd=["uuid"],
         help="Enable database replication to the SR.")
def sr_enable_database_replication(ctx):
    with ctx.site.transaction() as db:
        enable_database_replication(ctx.lab, ctx.site.name, db, db.by_uuid("SR", ctx.get("uuid")))


def assert_licensed(db):
    if (db.pool().get("restrictions") or {}).get("restrict_dr") == "true":
        raise XapiError("LICENCE_RESTRICTION", ["DR"])


def assert_supports_database_replication(db, sr):
    pbds = db.children("PBD", "SR", sr)
    hosts_with = set(db.rows("PBD")[p]["host"] for p in pbds)
    if any(h not in hosts_with for h in db.rows("host")) or \
            any(not db.rows("PBD")[p].get("currently_attached") for p in pbds):
        raise XapiError("SR_HAS_NO_PBDS", [sr])
    if db.get("SR", sr).get("type") not in DR_TYPES:
        raise XapiError("SR_OPERATION_NOT_SUPPORTED", [sr])


def enable_database_replication(lab, site_name, db, sr):
    assert_licensed(db)
    assert_supports_database_replication(db, sr)
    logs = db.extra.setdefault("redo_logs", [])
    if len(logs) >= replication.MAX_REDO_LOGS:
        raise XapiError("NO_MORE_REDO_LOGS_ALLOWED")
    pool = db.pool_ref()
    vdi = None
    for v in replication.metadata_vdis(db, sr):
        r = db.rows("VDI")[v]
        if r.get("metadata_of_pool") == pool and \
                r.get("virtual_size", 0) >= replication.METADATA_VDI_SIZE:
            vdi = v
            break
    if vdi is not None and vdi in logs:
        return
    with array.locked(lab):
        data = array.load(lab)
        lun = replication.sr_lun(data, site_name, db, sr)
        if lun is None or not array.writable(data, lun, site_name):
            raise XapiError("CANNOT_ENABLE_REDO_LOG",
                            ["Redo_log.RedoLogFailure(\"Could not write the database to the "
                             "block device\")"])
        if vdi is None:
            uuid = util.new_uuid()
            vdi = db.create("VDI", {
                "uuid": uuid, "name_label": "Metadata for DR",
                "name_description": "Used for disaster recovery", "SR": sr, "type": "metadata",
                "sharable": False, "read_only": False, "managed": True,
                "virtual_size": replication.METADATA_VDI_SIZE,
                "physical_utilisation": replication.METADATA_VDI_SIZE, "location": uuid,
                "metadata_latest": False, "metadata_of_pool": pool,
                "snapshot_of": util.NULL_REF, "is_a_snapshot": False, "other_config": {},
                "sm_config": {"type": "raw"}, "xenstore_data": {}, "tags": [],
                "on_boot": "persist", "allow_caching": False})
        array.create_lv(lab, data, lun, site_name, db.get("VDI", vdi)["uuid"],
                        replication.METADATA_VDI_SIZE)
    replication.enable_redo_log(db, vdi)


@command("sr-disable-database-replication", reqd=["uuid"],
         help="Disable database replication to the SR.")
def sr_disable_database_replication(ctx):
    with ctx.site.transaction() as db:
        sr = db.by_uuid("SR", ctx.get("uuid"))
        pool = db.pool_ref()
        with array.locked(ctx.lab):
            data = array.load(ctx.lab)
            lun = replication.sr_lun(data, ctx.site.name, db, sr)
            for vdi in replication.metadata_vdis(db, sr):
                row = db.rows("VDI")[vdi]
                if row.get("metadata_of_pool") != pool:
                    continue
                replication.disable_redo_log(db, vdi, destroy_vbds=True)
                if lun is not None and array.writable(data, lun, ctx.site.name):
                    array.remove_lv(ctx.lab, data, lun, ctx.site.name, row["uuid"])
                db.delete("VDI", vdi)
