"""VM and vApp recovery from a foreign database (xapi ``xapi_dr.ml``, ``import.ml`` rules).

``assert_can_be_recovered``: every SR holding a non-CD disk of the VM (ISO SRs ignored) must
exist locally with an attached PBD, else VM_REQUIRES_SR(vm, sr): the VM's foreign reference,
and the SR's local one when it exists here unplugged, else its foreign one.

``recover_vms``: a metadata import with full restore (UUIDs kept) of the VMs and their snapshots:

* an existing VM with the same UUID that is not Halted: VM_BAD_POWER_STATE(vm, Halted, actual)
  (states capitalised), or skipped with force;
* an existing Halted VM whose version >= the foreign version: VM_TO_IMPORT_IS_NOT_NEWER_VERSION,
  unless forced; otherwise it is destroyed (with its VBDs and VIFs) and recreated;
* the new VM: version = foreign + 1, Halted (Suspended if its suspend VDI is found), no
  appliance, ``ha_restart_priority`` 0..3 becomes ``restart`` with that order;
* disks found by (SR uuid, location), before anything changes: missing ->
  VDI_LOCATION_MISSING(local sr, location), or the disk is skipped with force; CDs whose ISO
  is not found are ejected;
* networks matched by name-label, then by bridge (the VIF silently joins whatever network has
  that bridge here), else ``Network.create_from_record`` with the foreign record, bridge
  included, in the recovery's session: from a user's session (``xe vm-recover``, a plugin
  on the master) a foreign bridge such as ``xapi1`` or ``xenbr3`` is refused with
  INVALID_VALUE(bridge, <bridge>) and the whole recovery fails (network.py);
* the SRs the VMs need lose ``introduced_by``. A failure after something changed: unforced,
  what the import created is destroyed again; forced, it stays (a VM record without disks
  or VIFs); a VM it replaced is destroyed either way (import.ml ``handle_all``, VM handler
  ``Replace``). ``run_import`` commits what is left, then raises.
"""

from . import guests, network, util
from .errors import XapiError

NULL = util.NULL_REF
POWER_CAP = {"Halted": "Halted", "Running": "Running", "Paused": "Paused",
             "Suspended": "Suspended"}


def assert_licensed(local):
    if (local.pool().get("restrictions") or {}).get("restrict_dr") == "true":
        raise XapiError("LICENCE_RESTRICTION", ["DR"])


def required_srs(foreign, vm_ref):
    """Foreign SR refs holding the VM's non-CD disks, ISO SRs excluded, in VBD order."""
    out = []
    for vbd in foreign.children("VBD", "VM", vm_ref):
        row = foreign.rows("VBD")[vbd]
        if row.get("type") == "CD":
            continue
        vdi = foreign.find("VDI", row.get("VDI"))
        if vdi is None:
            continue
        sr = vdi.get("SR")
        sr_row = foreign.find("SR", sr)
        if sr_row is None or sr_row.get("content_type") == "iso":
            continue
        if sr not in out:
            out.append(sr)
    return out


def local_sr_usable(local, sr_uuid):
    ref = local.lookup_uuid("SR", sr_uuid)
    if ref is None:
        return False
    return any(local.rows("PBD")[p].get("currently_attached")
               for p in local.children("PBD", "SR", ref))


def assert_can_be_recovered(foreign, vm_ref, local):
    """xapi_vm_helpers.ml assert_can_be_recovered: an SR that exists here without an attached
    PBD is named by its *local* reference (printed as uuid and name); only an SR missing here
    is named by its foreign one."""
    for sr in required_srs(foreign, vm_ref):
        local_ref = local.lookup_uuid("SR", foreign.rows("SR")[sr]["uuid"])
        if local_ref is None:
            raise XapiError("VM_REQUIRES_SR", [vm_ref, sr])
        if not local_sr_usable(local, foreign.rows("SR")[sr]["uuid"]):
            raise XapiError("VM_REQUIRES_SR", [vm_ref, local_ref])


def srs_required_for_recovery(foreign, vm_ref, local):
    return [sr for sr in required_srs(foreign, vm_ref)
            if not local_sr_usable(local, foreign.rows("SR")[sr]["uuid"])]


def appliance_vms(foreign, app_ref):
    return list(foreign.children("VM", "appliance", app_ref))


def _snapshots(foreign, vm_ref):
    return [r for r in foreign.children("VM", "snapshot_of", vm_ref)
            if foreign.rows("VM")[r].get("is_a_snapshot")]


def _find_vdi(local, sr_uuid, location):
    sr = local.lookup_uuid("SR", sr_uuid)
    if sr is None:
        return None, None
    for vdi in local.children("VDI", "SR", sr):
        if local.rows("VDI")[vdi].get("location") == location:
            return sr, vdi
    return sr, None


class ImportFailed(Exception):
    """A recovery that failed after it changed the pool: ``error`` is what xapi answers.
    What is left must be committed (see :func:`run_import`): import.ml's ``handle_all`` runs
    the cleanup of what the import created unless forced, but a VM it replaced stays
    destroyed."""

    def __init__(self, error):
        Exception.__init__(self, str(error))
        self.error = error


def run_import(site, work):
    """``work(db)`` in a transaction of ``site``; a failed import is committed as it was
    left, then its error raised. Returns what ``work`` returns."""
    failure = None
    with site.transaction() as db:
        try:
            result = work(db)
        except ImportFailed as e:
            failure = e.error
    if failure is not None:
        raise failure
    return result


def _disks(local, foreign, vm_refs, force):
    """import.ml's VDI handler, before anything is changed: every disk of the exported VMs
    looked up by (SR, location). {foreign VBD ref: local VDI ref, or None to leave it out}."""
    found = {}
    for vm_ref in vm_refs:
        for vbd in foreign.children("VBD", "VM", vm_ref):
            v = foreign.rows("VBD")[vbd]
            vdi = foreign.find("VDI", v.get("VDI"))
            if vdi is None:
                found[vbd] = NULL
                continue
            sr = foreign.find("SR", vdi.get("SR"))
            is_iso = v.get("type") == "CD" or (sr or {}).get("content_type") == "iso"
            local_sr, local_vdi = _find_vdi(local, sr["uuid"] if sr else "", vdi.get("location"))
            if local_vdi is not None:
                found[vbd] = local_vdi
            elif is_iso:
                found[vbd] = "eject"
            elif force:
                found[vbd] = None
            elif local_sr is not None:
                raise XapiError("VDI_LOCATION_MISSING", [local_sr, vdi.get("location", "")])
            else:
                raise XapiError("VDI_CONTENT_ID_MISSING", [])
    return found


def match_network(local, frow):
    """import.ml module Net, precheck: the first local network with the foreign name_label,
    else the first whose bridge is the foreign bridge (a silent match with whatever network
    has that bridge here), else None (the import creates one)."""
    for ref, row in local.rows("network").items():
        if row.get("name_label") == frow.get("name_label"):
            return ref
    for ref, row in local.rows("network").items():
        if frow.get("bridge") and row.get("bridge") == frow.get("bridge"):
            return ref
    return None


def _network(local, frow, pool_session, task):
    """import.ml module Net, handle: ``Network.create_from_record`` with the foreign record,
    bridge included, in the session of the recovery (``session_to``): a user's session is
    refused a bridge starting xen/xapi/vif/tap/eth (network.py). The network it creates
    carries ``other_config:import_task``."""
    other = dict(frow.get("other_config") or {})
    other["import_task"] = task
    return network.create(
        local, frow.get("name_label", ""), frow.get("name_description", ""),
        mtu=frow.get("MTU", 1500), other_config=other, bridge=frow.get("bridge", ""),
        managed=frow.get("managed", True), tags=frow.get("tags") or (),
        pool_session=pool_session)


def _destroy_vm(local, vm):
    guests.forget(local, vm)
    for cls in ("VBD", "VIF"):
        for child in list(local.children(cls, "VM", vm)):
            local.delete(cls, child)
    local.delete("VM", vm)


def _vm_row(local, foreign, vm_ref, snapshot_of=NULL):
    """The local copy of one foreign VM record (import.ml VM handler, ``do_import``)."""
    f = foreign.rows("VM")[vm_ref]
    row = dict(f)
    row.update({"resident_on": NULL, "domid": -1, "appliance": NULL, "affinity": NULL,
                "suspend_SR": NULL, "parent": NULL, "snapshot_of": snapshot_of,
                "current_operations": {}, "version": int(f.get("version", 0)) + 1,
                "guest_metrics": NULL})
    prio = str(f.get("ha_restart_priority", ""))
    if prio in ("0", "1", "2", "3"):
        row["ha_restart_priority"] = "restart"
        row["order"] = int(prio)
    power = f.get("power_state", "Halted")
    suspend_vdi = NULL
    if power == "Suspended":
        svdi = foreign.find("VDI", f.get("suspend_VDI"))
        if svdi is not None:
            sr = foreign.find("SR", svdi.get("SR"))
            _, suspend_vdi = _find_vdi(local, sr["uuid"] if sr else "", svdi.get("location"))
    row["suspend_VDI"] = suspend_vdi or NULL
    row["power_state"] = "Suspended" if power == "Suspended" and suspend_vdi else "Halted"
    return row


def _copy_metrics(local, foreign, vm_ref, new, created):
    """import.ml module GuestMetrics: the exported VM's guest metrics become a new record
    (new uuid, the same fields, ``last_updated`` and ``PV_drivers_detected`` included), set
    on the new VM; VM.start clears it (guests.py)."""
    gm = foreign.find("VM_guest_metrics", foreign.rows("VM")[vm_ref].get("guest_metrics"))
    if gm is None:
        return
    record = dict(gm)
    record.pop("uuid", None)
    ref = local.create("VM_guest_metrics", record)
    created.append(("VM_guest_metrics", ref))
    local.update("VM", new, guest_metrics=ref)


def _check_existing(local, foreign, vm_ref, force):
    """import.ml VM handler, precheck of a full restore: ("import" | "skip" | "replace",
    existing ref), or the failure."""
    f = foreign.rows("VM")[vm_ref]
    existing = local.lookup_uuid("VM", f["uuid"])
    if existing is None:
        return "import", None
    state = local.rows("VM")[existing].get("power_state", "Halted")
    if state != "Halted":
        if not force:
            raise XapiError("VM_BAD_POWER_STATE",
                            [existing, "Halted", POWER_CAP.get(state, state)])
        return "skip", existing
    have = int(local.rows("VM")[existing].get("version", 0))
    incoming = int(f.get("version", 0))
    if have >= incoming and not force:
        raise XapiError("VM_TO_IMPORT_IS_NOT_NEWER_VERSION",
                        [existing, str(have), str(incoming)])
    return "replace", existing


def recover_vms(local, foreign, vm_refs, force, pool_session=False):
    """Import ``vm_refs`` (foreign) into ``local`` (a writable Db); returns the new refs.

    In import.ml's order (``handlers``): the disks are looked up first (nothing changed yet:
    a failure is a plain XapiError), then each VM is checked and created (replacing an older
    one: destroyed with its VBDs and VIFs), then the networks, then VBDs and VIFs. A failure
    once something changed is an :class:`ImportFailed`: unforced, what the import created is
    destroyed again (``handle_all``'s cleanup), forced it stays; a replaced VM is gone either
    way. ``pool_session``: the recovery runs in a pool-internal session (network.py)."""
    exported = []
    for vm_ref in vm_refs:
        exported.append(vm_ref)
        exported.extend(_snapshots(foreign, vm_ref))
    disks = _disks(local, foreign, exported, force)
    created = []  # (cls, ref), for the cleanup of a failed unforced import
    copies = {}   # foreign VM ref -> local ref
    recovered = []
    task = util.new_ref()
    try:
        for vm_ref in vm_refs:
            action, existing = _check_existing(local, foreign, vm_ref, force)
            if action == "skip":
                continue
            if action == "replace":
                for snap in list(local.children("VM", "snapshot_of", existing)):
                    _destroy_vm(local, snap)
                _destroy_vm(local, existing)
            new = local.create("VM", _vm_row(local, foreign, vm_ref))
            created.append(("VM", new))
            _copy_metrics(local, foreign, vm_ref, new, created)
            copies[vm_ref] = new
            recovered.append(new)
            for snap in _snapshots(foreign, vm_ref):
                if local.lookup_uuid("VM", foreign.rows("VM")[snap]["uuid"]) is None:
                    ref = local.create("VM", _vm_row(local, foreign, snap, snapshot_of=new))
                    created.append(("VM", ref))
                    _copy_metrics(local, foreign, snap, ref, created)
                    copies[snap] = ref
        networks = {}
        for vm_ref in exported:
            for vif in foreign.children("VIF", "VM", vm_ref):
                net_ref = foreign.rows("VIF")[vif].get("network")
                frow = foreign.find("network", net_ref)
                if net_ref in networks or frow is None:
                    continue
                found = match_network(local, frow)
                if found is None:
                    found = _network(local, frow, pool_session, task)
                    created.append(("network", found))
                networks[net_ref] = found
        for vm_ref in exported:
            if vm_ref not in copies:
                continue
            for vbd in foreign.children("VBD", "VM", vm_ref):
                local_vdi = disks.get(vbd)
                if local_vdi is None:
                    continue  # forced past a missing disk: recovered without it
                v = dict(foreign.rows("VBD")[vbd])
                if local_vdi == "eject":
                    local_vdi = NULL
                    v["empty"] = True
                v.update({"VM": copies[vm_ref], "VDI": local_vdi, "currently_attached": False,
                          "device": ""})
                if local.lookup_uuid("VBD", v.get("uuid")) is not None:
                    v.pop("uuid", None)
                created.append(("VBD", local.create("VBD", v)))
            for vif in foreign.children("VIF", "VM", vm_ref):
                v = dict(foreign.rows("VIF")[vif])
                v.update({"VM": copies[vm_ref], "network": networks.get(v.get("network"), NULL),
                          "currently_attached": False})
                if local.lookup_uuid("VIF", v.get("uuid")) is not None:
                    v.pop("uuid", None)
                created.append(("VIF", local.create("VIF", v)))
    except XapiError as error:
        if not force:
            for cls, ref in reversed(created):
                local.delete(cls, ref)
        raise ImportFailed(error)
    # The SRs the recovered VMs need are no longer the DR task's to forget.
    for vm_ref in vm_refs:
        if vm_ref not in copies:
            continue
        for sr in required_srs(foreign, vm_ref):
            local_sr = local.lookup_uuid("SR", foreign.rows("SR")[sr]["uuid"])
            if local_sr is not None and not util.is_null(
                    local.rows("SR")[local_sr].get("introduced_by", NULL)):
                local.update("SR", local_sr, introduced_by=NULL)
    return recovered


def recover_vm(local, foreign, vm_ref, force, pool_session=False):
    assert_licensed(local)
    assert_can_be_recovered(foreign, vm_ref, local)
    return recover_vms(local, foreign, [vm_ref], force, pool_session)


def assert_appliance(foreign, app_ref, local):
    for vm in appliance_vms(foreign, app_ref):
        assert_can_be_recovered(foreign, vm, local)


def recover_appliance(local, foreign, app_ref, force, pool_session=False):
    assert_licensed(local)
    assert_appliance(foreign, app_ref, local)
    recovered = recover_vms(local, foreign, appliance_vms(foreign, app_ref), force,
                            pool_session)
    old = foreign.rows("VM_appliance")[app_ref]
    existing = local.lookup_uuid("VM_appliance", old["uuid"])
    if existing is not None:
        for vm in list(local.children("VM", "appliance", existing)):
            local.update("VM", vm, appliance=NULL)
        local.update("VM_appliance", existing, name_label=old.get("name_label", ""),
                     name_description=old.get("name_description", ""))
    else:
        existing = local.create("VM_appliance", {
            "uuid": old["uuid"], "name_label": old.get("name_label", ""),
            "name_description": old.get("name_description", "")})
    for vm in recovered:
        if not local.rows("VM")[vm].get("is_a_template"):
            local.update("VM", vm, appliance=existing)
    return existing
