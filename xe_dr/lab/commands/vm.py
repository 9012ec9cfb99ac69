"""vm-start, vm-shutdown, vm-destroy and the appliance-* power commands."""

from . import STDPARAMS, command
from .. import lifecycle, releases
from ..errors import Failure, MultipleFailure, XapiError, doc_text
from ..render import View, ref_converter
from ..schema import CLASSES
from .generic import filter_records

START_HELP = ("Start the selected VM(s). Where pooling is enabled, the host on which to start "
              "can be specified with the 'on' parameter that takes a uuid. The optional "
              "parameter '--force' will bypass any hardware-compatibility warnings.")


def select_vms(ctx, db, ignore, include_control=False):
    """The VMs a selector command applies to (cli_operations.ml select_vms)."""
    params = list(ctx.params)
    if not include_control:
        params.insert(0, ("is-control-domain", "false"))
    params.insert(0, ("is-a-template", "false"))
    records = list(db.rows("VM").items())
    by = dict((k, v) for k, v in reversed(params))
    if "vm" in by:
        v = by["vm"]
        records = [(r, row) for r, row in records
                   if row.get("uuid") == v or row.get("name_label") == v]
        params = [(k, x) for k, x in params if k != "vm"]
    view = View(db, db)
    ci = CLASSES["vm"]
    for k, v in params:
        if k.split(":", 1)[0] in STDPARAMS + ignore:
            continue
        records = filter_records(view, ci, records, k, v)
    return records


def do_vm_op(ctx, op, ignore, include_control=False):
    db = ctx.site.read()
    vms = select_vms(ctx, db, ignore, include_control)
    if not vms:
        raise Failure("No matching VMs found")
    if len(vms) == 1:
        op(vms[0][1]["uuid"])
        return
    if not ctx.flag("multiple"):
        raise Failure("Multiple matches VMs found. --multiple required to complete the "
                      "operation")
    fails = []
    convert = ref_converter(db)
    for _, row in vms:
        try:
            op(row["uuid"])
        except XapiError as e:
            fails.append((row["uuid"], doc_text(e.code, e.params, convert,
                                                releases.of_lab(ctx.lab)["errors"])))
    if fails:
        raise MultipleFailure(list(reversed(fails)))


@command("vm-start", optn=["force", "on", "paused"], help=START_HELP, vm_selectors=True)
def vm_start(ctx):
    paused = ctx.flag("paused")
    on = None
    if ctx.has("on"):
        db = ctx.site.read()
        target = ctx.get("on")
        on = db.lookup_uuid("host", target)
        if on is None:
            for ref, row in db.rows("host").items():
                if row.get("name_label") == target or row.get("hostname") == target:
                    on = ref
        if on is None:
            raise XapiError("UUID_INVALID", ["host", target])
    do_vm_op(ctx, lambda u: lifecycle.start(ctx.lab, ctx.site, u, paused=paused, on=on),
             ["on", "paused", "progress"], include_control=True)


@command("vm-shutdown", optn=["force"],
         help="Shutdown the selected VM(s). The optional argument --force will forcibly shut "
              "down the VM.", vm_selectors=True)
def vm_shutdown(ctx):
    hard = ctx.flag("force")
    do_vm_op(ctx, lambda u: lifecycle.shutdown(ctx.lab, ctx.site, u, hard=hard), ["progress"])


@command("vm-destroy", reqd=["uuid"],
         help="Destroy a VM. This leaves the storage associated with the VM intact. To delete "
              "storage too, use vm-uninstall.")
def vm_destroy(ctx):
    with ctx.site.transaction() as db:
        lifecycle.destroy(db, db.by_uuid("VM", ctx.get("uuid")))


@command("appliance-create", reqd=["name-label"], optn=["name-description"],
         help="Create a VM appliance.")
def appliance_create(ctx):
    with ctx.site.transaction() as db:
        ref = db.create("VM_appliance", {"name_label": ctx.get("name-label"),
                                         "name_description": ctx.get("name-description", "")})
        uuid = db.get("VM_appliance", ref)["uuid"]
    ctx.printer.plist([uuid])


@command("appliance-destroy", reqd=["uuid"], help="Destroy a VM appliance.")
def appliance_destroy(ctx):
    with ctx.site.transaction() as db:
        app = db.by_uuid("VM_appliance", ctx.get("uuid"))
        for vm in list(db.children("VM", "appliance", app)):
            db.update("VM", vm, appliance=lifecycle.NULL)
        db.delete("VM_appliance", app)


@command("appliance-start", reqd=["uuid"], optn=["paused"], help="Start a VM appliance.")
def appliance_start(ctx):
    paused = ctx.flag("paused")
    ctx.site.read().by_uuid("VM_appliance", ctx.get("uuid"))
    lifecycle.appliance_operation(ctx.lab, ctx.site, ctx.get("uuid"), "start", paused=paused)


@command("appliance-shutdown", reqd=["uuid"], optn=["force"],
         help="Shut down all VMs in a VM appliance.")
def appliance_shutdown(ctx):
    force = ctx.flag("force")
    ctx.site.read().by_uuid("VM_appliance", ctx.get("uuid"))
    lifecycle.appliance_operation(ctx.lab, ctx.site, ctx.get("uuid"),
                                  "hard_shutdown" if force else "clean_shutdown")


def _uninstall(ctx, vms):
    """vm_uninstall_common: list what goes, ask unless --force, destroy VMs and owned VDIs."""
    db = ctx.site.read()
    lines = []
    plan = []
    for vm in vms:
        row = db.get("VM", vm)
        lines.append("VM : %s (%s)" % (row["uuid"], row.get("name_label", "")))
        vdis = []
        for vbd in db.children("VBD", "VM", vm):
            vrow = db.rows("VBD")[vbd]
            vdi = db.find("VDI", vrow.get("VDI"))
            if vdi is None or "owner" not in (vrow.get("other_config") or {}):
                continue
            vdis.append(vdi["uuid"])
            shared = len(db.children("VBD", "VDI", vrow["VDI"])) > 1
            lines.append("VDI: %s (%s) %s" % (vdi["uuid"], vdi.get("name_label", ""),
                                              " ** WARNING: disk is shared by other VMs"
                                              if shared else ""))
        plan.append((row["uuid"], vdis))
    ctx.printer.plist(["The following items are about to be destroyed"] + lines)
    if not ctx.flag("force"):
        ctx.printer.plist(["Type 'yes' to continue"])
        import sys
        try:
            answer = sys.stdin.readline().strip()
        except (IOError, OSError, ValueError):
            answer = ""
        if answer != "yes":
            return
    for vm_uuid, vdis in plan:
        state = ctx.site.read()
        if state.get("VM", state.by_uuid("VM", vm_uuid)).get("power_state") != "Halted":
            lifecycle.shutdown(ctx.lab, ctx.site, vm_uuid, hard=True)
        with ctx.site.transaction() as wdb:
            lifecycle.destroy(wdb, wdb.by_uuid("VM", vm_uuid))
            for vdi_uuid in vdis:
                ref = wdb.lookup_uuid("VDI", vdi_uuid)
                if ref is not None:
                    wdb.delete("VDI", ref)
    ctx.printer.plist(["All objects destroyed"])


@command("vm-uninstall", optn=["force"],
         help="Uninstall a VM. This operation will destroy those VDIs that are marked RW and "
              "connected to this VM only. To simply destroy the VM record, use vm-destroy.",
         vm_selectors=True)
def vm_uninstall(ctx):
    db = ctx.site.read()
    vms = select_vms(ctx, db, [])
    if not vms:
        raise Failure("No matching VMs found")
    if len(vms) > 1 and not ctx.flag("multiple"):
        raise Failure("Multiple matches VMs found. --multiple required to complete the "
                      "operation")
    refs = [r for r, _ in vms]
    refs += [s for r in list(refs) for s in db.children("VM", "snapshot_of", r)]
    _uninstall(ctx, refs)


def _snapshot(ctx, db):
    uuid = ctx.get("snapshot-uuid") or ctx.get("uuid")
    if uuid is None:
        raise Failure("Required parameter not found: snapshot-uuid or uuid.")
    ref = db.by_uuid("VM", uuid)
    if not db.get("VM", ref).get("is_a_snapshot"):
        raise Failure("This operation can only be performed on a VM snapshot. %s is not a VM "
                      "snapshot." % uuid)
    return ref


@command("snapshot-destroy", optn=["uuid", "snapshot-uuid"],
         help="Destroy a snapshot. This leaves the storage associated with the snapshot intact. "
              "To delete storage too, use snapshot-uninstall.")
def snapshot_destroy(ctx):
    with ctx.site.transaction() as db:
        lifecycle.destroy(db, _snapshot(ctx, db))


@command("snapshot-uninstall", optn=["uuid", "snapshot-uuid", "force"],
         help="Uninstall a snapshot. This operation will destroy those VDIs that are marked RW "
              "and connected to this snapshot only. To simply destroy the VM record, use "
              "snapshot-destroy.")
def snapshot_uninstall(ctx):
    _uninstall(ctx, [_snapshot(ctx, ctx.site.read())])
