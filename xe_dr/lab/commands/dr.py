"""drtask-create, drtask-destroy, vm-/appliance-recover, vm-/appliance-assert-can-be-recovered."""

import xml.dom.minidom

from . import command
from .. import costs, foreign, recovery, secrets, sm, util
from ..errors import XapiError
from .storage import (DR_TYPES, assert_licensed, create_pbd, forget, introduce, plug,
                      unplug_in)


def parse_srlist(text):
    """[(uuid, name_label, name_description)] of a probe's <SRlist> (xapi_dr_task.ml)."""
    try:
        dom = xml.dom.minidom.parseString(text)
    except Exception as e:
        raise XapiError("INTERNAL_ERROR", ["SR probe response was malformed: %s" % e])
    out = []
    for sr in dom.getElementsByTagName("SR"):
        fields = {}
        for child in sr.childNodes:
            if child.nodeType == child.ELEMENT_NODE:
                fields[child.tagName] = "".join(
                    t.data for t in child.childNodes if t.nodeType == t.TEXT_NODE).strip()
        for key in ("UUID", "name_label", "name_description"):
            if key not in fields:
                raise XapiError("INTERNAL_ERROR",
                                ["SR probe response was malformed: no %s" % key])
        out.append((fields["UUID"], fields["name_label"], fields["name_description"]))
    return out


@command("drtask-create", reqd=["type"], optn=["device-config:", "sr-whitelist"],
         help="Create a disaster recovery task.")
def drtask_create(ctx):
    sr_type = ctx.get("type")
    dc_items = ctx.map_params("device-config")
    whitelist = ctx.get("sr-whitelist").split(",") if ctx.has("sr-whitelist") else []
    db = ctx.site.read()
    assert_licensed(db)
    if sr_type not in DR_TYPES:
        raise XapiError("OPERATION_NOT_ALLOWED",
                        ["Disaster recovery not supported on SRs of type %s" % sr_type])
    hosts = len(db.rows("host"))
    ctx.cost("drtask_create", hosts * costs.base(ctx.lab, "drtask_create_per_host"))
    # Client.SR.probe: through message_forwarding, passwords become new secrets first
    probe_dc = dict(secrets.moved(ctx.site, dc_items))
    db = ctx.site.read()
    text = sm.probe(ctx.lab, ctx.site.name, db, db.master_ref(), sr_type, probe_dc,
                    {"metadata": "true"})
    found = [entry for entry in parse_srlist(text) if entry[0] in whitelist]
    with ctx.site.transaction() as db:
        task = db.create("DR_task", {})
        task_uuid = db.get("DR_task", task)["uuid"]
    for uuid, name_label, name_description in found:
        db = ctx.site.read()
        if db.lookup_uuid("SR", uuid) is not None:
            continue  # manually introduced, or by another DR task: left alone
        with ctx.site.transaction() as db:
            introduce(db, uuid, name_label, name_description, sr_type, "", True, {})
            master = db.master_ref()
            hosts = [db.get("host", h)["uuid"] for h in sorted(
                db.hosts(), key=lambda h: h != master)]
        try:
            # xapi_dr_task.ml try_create_sr_from_record: Xapi_pool_helpers.
            # call_fn_on_master_then_slaves, one host at a time: PBD.create (which moves the
            # passwords anew), then PBD.plug, before the next host's PBD exists
            for host_uuid in hosts:
                with ctx.site.transaction() as db:
                    pbd = create_pbd(db, db.by_uuid("host", host_uuid),
                                     db.by_uuid("SR", uuid), dc_items)
                    pbd_uuid = db.get("PBD", pbd)["uuid"]
                plug(ctx.lab, ctx.site, pbd_uuid, ctx.info)
        except XapiError:
            with ctx.site.transaction() as db:
                sr = db.by_uuid("SR", uuid)
                attached = [p for p in db.children("PBD", "SR", sr)
                            if db.rows("PBD")[p].get("currently_attached")]
                master = db.master_ref()
                attached.sort(key=lambda p: db.rows("PBD")[p]["host"] == master)
                for p in attached:
                    try:
                        unplug_in(db, p)
                    except XapiError:
                        pass
                forget(db, sr)
            raise
        with ctx.site.transaction() as db:
            db.update("SR", db.by_uuid("SR", uuid),
                      introduced_by=db.by_uuid("DR_task", task_uuid))
    ctx.printer.plist([task_uuid])


@command("drtask-destroy", reqd=["uuid"], help="Destroy a disaster recovery task.")
def drtask_destroy(ctx):
    db = ctx.site.read()
    task = db.by_uuid("DR_task", ctx.get("uuid"))
    for sr in list(db.children("SR", "introduced_by", task)):
        sr_uuid = db.rows("SR")[sr]["uuid"]
        master = db.master_ref()
        pbds = sorted(db.children("PBD", "SR", sr),
                      key=lambda p: db.rows("PBD")[p]["host"] == master)
        for pbd in pbds:
            if db.rows("PBD")[pbd].get("currently_attached"):
                ctx.cost("pbd_unplug")
                with ctx.site.transaction() as wdb:
                    unplug_in(wdb, pbd)
        ctx.cost("sr_forget")
        with ctx.site.transaction() as wdb:
            forget(wdb, wdb.by_uuid("SR", sr_uuid))
    with ctx.site.transaction() as wdb:
        wdb.delete("DR_task", wdb.by_uuid("DR_task", ctx.get("uuid")))


def _foreign_vm(fdb, uuid):
    return fdb.by_uuid("VM", uuid)


@command("vm-assert-can-be-recovered", reqd=["uuid"], optn=["database:"],
         help="Test whether storage is available to recover this VM.")
def vm_assert_can_be_recovered(ctx):
    def body(fdb):
        vm = _foreign_vm(fdb, ctx.get("uuid"))
        ctx.cost("assert")
        recovery.assert_can_be_recovered(fdb, vm, ctx.site.read())
    foreign.with_database_vdi(ctx, body)


@command("appliance-assert-can-be-recovered", reqd=["uuid"], optn=["database:"],
         help="Test whether storage is available to recover this VM appliance.")
def appliance_assert_can_be_recovered(ctx):
    def body(fdb):
        app = fdb.by_uuid("VM_appliance", ctx.get("uuid"))
        ctx.cost("assert")
        recovery.assert_appliance(fdb, app, ctx.site.read())
    foreign.with_database_vdi(ctx, body)


@command("vm-recover", reqd=["uuid"], optn=["database:", "force"],
         help="Recover a VM from the database contained in the supplied VDI.")
def vm_recover(ctx):
    force = ctx.flag("force")

    def body(fdb):
        vm = _foreign_vm(fdb, ctx.get("uuid"))
        recovery.assert_licensed(ctx.site.read())
        ctx.cost("assert")
        recovery.assert_can_be_recovered(fdb, vm, ctx.site.read())
        ctx.cost("vm_recover")
        # The CLI's session is the user's (cli_operations.ml vm_recover: session_to).
        recovery.run_import(ctx.site, lambda db: recovery.recover_vm(db, fdb, vm, force))
    foreign.with_database_vdi(ctx, body)


@command("appliance-recover", reqd=["uuid"], optn=["database:", "force"],
         help="Recover a VM appliance from the database contained in the supplied VDI.")
def appliance_recover(ctx):
    force = ctx.flag("force")

    def body(fdb):
        app = fdb.by_uuid("VM_appliance", ctx.get("uuid"))
        recovery.assert_licensed(ctx.site.read())
        ctx.cost("assert")
        recovery.assert_appliance(fdb, app, ctx.site.read())
        n = len(recovery.appliance_vms(fdb, app))
        ctx.cost("appliance_recover", n * costs.base(ctx.lab, "appliance_recover_per_vm"))
        recovery.run_import(ctx.site,
                            lambda db: recovery.recover_appliance(db, fdb, app, force))
    foreign.with_database_vdi(ctx, body)


def is_null(ref):
    return util.is_null(ref)
