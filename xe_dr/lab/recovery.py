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
* disks found by (SR uuid, location): missing -> VDI_LOCATION_MISSING(local sr, location), or
  the disk is skipped with force; CDs whose ISO is not found are ejected;
* networks matched by name-label, then bridge, else a new internal network is created;
* the SRs the VMs need lose ``introduced_by``; without force a failure leaves nothing behind
  (the caller does not commit), with force what was done stays.
"""

from . import util
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


def _network(local, foreign, net_ref):
    frow = foreign.find("network", net_ref)
    if frow is None:
        return None
    for ref, row in local.rows("network").items():
        if row.get("name_label") == frow.get("name_label"):
            return ref
    for ref, row in local.rows("network").items():
        if frow.get("bridge") and row.get("bridge") == frow.get("bridge"):
            return ref
    n = local.extra.get("bridge_counter", 1)
    used = set(r.get("bridge") for r in local.rows("network").values())
    while "xapi%d" % n in used:
        n += 1
    local.extra["bridge_counter"] = n + 1
    return local.create("network", {
        "name_label": frow.get("name_label", ""), "name_description":
        frow.get("name_description", ""), "bridge": "xapi%d" % n, "MTU": frow.get("MTU", 1500),
        "managed": True, "other_config": dict(frow.get("other_config") or {}), "tags": [],
        "purpose": []})


def _destroy_vm(local, vm):
    for cls in ("VBD", "VIF"):
        for child in list(local.children(cls, "VM", vm)):
            local.delete(cls, child)
    local.delete("VM", vm)


def _import_vm(local, foreign, vm_ref, force, snapshot_of=NULL):
    """Create the local copy of one foreign VM (precheck already done); returns its ref."""
    f = foreign.rows("VM")[vm_ref]
    row = dict(f)
    row.update({"resident_on": NULL, "domid": -1, "appliance": NULL, "affinity": NULL,
                "suspend_SR": NULL, "parent": NULL, "snapshot_of": snapshot_of,
                "current_operations": {}, "version": int(f.get("version", 0)) + 1})
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
    local_ref = local.create("VM", row)
    for vbd in foreign.children("VBD", "VM", vm_ref):
        v = dict(foreign.rows("VBD")[vbd])
        vdi = foreign.find("VDI", v.get("VDI"))
        local_vdi = NULL
        if vdi is not None:
            sr = foreign.find("SR", vdi.get("SR"))
            sr_uuid = sr["uuid"] if sr else ""
            is_iso = v.get("type") == "CD" or (sr or {}).get("content_type") == "iso"
            local_sr, local_vdi = _find_vdi(local, sr_uuid, vdi.get("location"))
            if local_vdi is None:
                if is_iso:
                    local_vdi = NULL
                    v["empty"] = True
                elif force:
                    continue
                elif local_sr is not None:
                    raise XapiError("VDI_LOCATION_MISSING", [local_sr, vdi.get("location", "")])
                else:
                    raise XapiError("VDI_CONTENT_ID_MISSING", [])
        v.update({"VM": local_ref, "VDI": local_vdi or NULL, "currently_attached": False,
                  "device": ""})
        if local.lookup_uuid("VBD", v.get("uuid")) is not None:
            v.pop("uuid", None)
        local.create("VBD", v)
    for vif in foreign.children("VIF", "VM", vm_ref):
        v = dict(foreign.rows("VIF")[vif])
        v.update({"VM": local_ref, "network": _network(local, foreign, v.get("network")) or NULL,
                  "currently_attached": False})
        if local.lookup_uuid("VIF", v.get("uuid")) is not None:
            v.pop("uuid", None)
        local.create("VIF", v)
    return local_ref


def recover_vms(local, foreign, vm_refs, force):
    """Import ``vm_refs`` (foreign) into ``local`` (a writable Db); returns the new refs."""
    plan = []
    for vm_ref in vm_refs:
        f = foreign.rows("VM")[vm_ref]
        existing = local.lookup_uuid("VM", f["uuid"])
        action = "import"
        if existing is not None:
            state = local.rows("VM")[existing].get("power_state", "Halted")
            if state != "Halted":
                if not force:
                    raise XapiError("VM_BAD_POWER_STATE",
                                    [existing, "Halted", POWER_CAP.get(state, state)])
                action = "skip"
            else:
                have = int(local.rows("VM")[existing].get("version", 0))
                incoming = int(f.get("version", 0))
                if have >= incoming and not force:
                    raise XapiError("VM_TO_IMPORT_IS_NOT_NEWER_VERSION",
                                    [existing, str(have), str(incoming)])
                action = "replace"
        plan.append((vm_ref, existing, action))
    recovered = []
    for vm_ref, existing, action in plan:
        if action == "skip":
            continue
        if action == "replace":
            for snap in list(local.children("VM", "snapshot_of", existing)):
                _destroy_vm(local, snap)
            _destroy_vm(local, existing)
        new = _import_vm(local, foreign, vm_ref, force)
        for snap in _snapshots(foreign, vm_ref):
            if local.lookup_uuid("VM", foreign.rows("VM")[snap]["uuid"]) is None:
                _import_vm(local, foreign, snap, force, snapshot_of=new)
        recovered.append(new)
    # The SRs the recovered VMs need are no longer the DR task's to forget.
    for vm_ref, _, action in plan:
        if action == "skip":
            continue
        for sr in required_srs(foreign, vm_ref):
            local_sr = local.lookup_uuid("SR", foreign.rows("SR")[sr]["uuid"])
            if local_sr is not None and not util.is_null(
                    local.rows("SR")[local_sr].get("introduced_by", NULL)):
                local.update("SR", local_sr, introduced_by=NULL)
    return recovered


def recover_vm(local, foreign, vm_ref, force):
    assert_licensed(local)
    assert_can_be_recovered(foreign, vm_ref, local)
    return recover_vms(local, foreign, [vm_ref], force)


def assert_appliance(foreign, app_ref, local):
    for vm in appliance_vms(foreign, app_ref):
        assert_can_be_recovered(foreign, vm, local)


def recover_appliance(local, foreign, app_ref, force):
    assert_licensed(local)
    assert_appliance(foreign, app_ref, local)
    recovered = recover_vms(local, foreign, appliance_vms(foreign, app_ref), force)
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
