"""Builders of fake xapi databases and worlds for the plugin's tests (runs in the test process).

``Db`` makes records with XAPI field names and keeps the reverse reference sets (VM.VBDs,
SR.PBDs, ...) consistent; int64 fields are strings, as XML-RPC carries them. ``world()`` puts a
local database, foreign copies and faults together in the shape ``fake_xapi`` reads.
"""

import json
import uuid as uuidlib

NULL = "OpaqueRef:NULL"
LOCAL_SESSION = "OpaqueRef:local-session-0001"


def new_uuid():
    return str(uuidlib.uuid4())


class Db(object):
    CLASSES = ("pool", "host", "SR", "PBD", "VDI", "VBD", "VM", "VIF", "network",
               "VM_appliance", "message")

    def __init__(self):
        self.tables = dict((cls, {}) for cls in self.CLASSES)

    def add(self, cls, fields):
        ref = "OpaqueRef:%s" % new_uuid()
        fields.setdefault("uuid", new_uuid())
        self.tables[cls][ref] = fields
        return ref

    def rec(self, cls, ref):
        return self.tables[cls][ref]

    def uuid(self, cls, ref):
        return self.tables[cls][ref]["uuid"]

    def pool(self, name_label="", master=NULL, **extra):
        fields = {"name_label": name_label, "name_description": "", "master": master,
                  "redo_log_enabled": False, "redo_log_vdi": NULL, "other_config": {}}
        fields.update(extra)
        return self.add("pool", fields)

    def host(self, name_label, hostname=None, software_version=None, **extra):
        fields = {"name_label": name_label, "hostname": hostname or name_label,
                  "software_version": software_version or {"product_version": "8.2.1",
                                                           "xapi": "1.249"},
                  "PBDs": [], "resident_VMs": []}
        fields.update(extra)
        ref = self.add("host", fields)
        dom0 = self.vm("Control domain on host: %s" % name_label, power_state="Running",
                       is_control_domain=True, resident_on=ref)
        fields["control_domain"] = dom0
        return ref

    def dom0(self, host_ref):
        return self.rec("host", host_ref)["control_domain"]

    def sr(self, name_label, type="lvmoiscsi", shared=True, content_type="", attached_on=(),
           uuid=None, detached_on=()):
        fields = {"name_label": name_label, "type": type, "shared": shared,
                  "content_type": content_type, "PBDs": [], "VDIs": []}
        if uuid:
            fields["uuid"] = uuid
        ref = self.add("SR", fields)
        for host, attached in [(h, True) for h in attached_on] + [(h, False) for h in detached_on]:
            pbd = self.add("PBD", {"host": host, "SR": ref, "currently_attached": attached,
                                   "device_config": {}})
            fields["PBDs"].append(pbd)
        return ref

    def vdi(self, sr, name_label="disk", type="user", virtual_size=10 * 2 ** 30, uuid=None,
            **extra):
        fields = {"name_label": name_label, "SR": sr, "type": type,
                  "virtual_size": str(virtual_size), "VBDs": [], "metadata_latest": False,
                  "metadata_of_pool": NULL, "sm_config": {}}
        if uuid:
            fields["uuid"] = uuid
        fields.update(extra)
        ref = self.add("VDI", fields)
        self.rec("SR", sr)["VDIs"].append(ref)
        return ref

    def network(self, name_label, bridge):
        return self.add("network", {"name_label": name_label, "bridge": bridge, "VIFs": []})

    def vm(self, name_label, power_state="Halted", version=0, order=0, start_delay=0,
           shutdown_delay=0, ha_restart_priority="", memory=2 * 2 ** 30, vcpus=2,
           is_a_template=False, is_a_snapshot=False, is_control_domain=False,
           resident_on=NULL, uuid=None, tags=()):
        fields = {"name_label": name_label, "tags": list(tags), "power_state": power_state,
                  "version": str(version), "order": str(order),
                  "start_delay": str(start_delay), "shutdown_delay": str(shutdown_delay),
                  "ha_restart_priority": ha_restart_priority,
                  "memory_static_max": str(memory), "VCPUs_max": str(vcpus),
                  "is_a_template": is_a_template, "is_a_snapshot": is_a_snapshot,
                  "is_control_domain": is_control_domain, "resident_on": resident_on,
                  "appliance": NULL, "VBDs": [], "VIFs": []}
        if uuid:
            fields["uuid"] = uuid
        return self.add("VM", fields)

    def vbd(self, vm, vdi, type="Disk", device="xvda", currently_attached=False, userdevice="0"):
        ref = self.add("VBD", {"VM": vm, "VDI": vdi, "type": type, "device": device,
                               "userdevice": userdevice, "currently_attached": currently_attached,
                               "mode": "RW"})
        self.rec("VM", vm)["VBDs"].append(ref)
        if vdi != NULL:
            self.rec("VDI", vdi)["VBDs"].append(ref)
        return ref

    def disk(self, vm, sr, name="disk", device="xvda", userdevice="0"):
        vdi = self.vdi(sr, name_label=name)
        self.vbd(vm, vdi, device=device, userdevice=userdevice)
        return vdi

    def cd(self, vm, sr=None, device="xvdd"):
        vdi = self.vdi(sr, name_label="guest-tools.iso", type="user") if sr else NULL
        return self.vbd(vm, vdi, type="CD", device=device, userdevice="3")

    def vif(self, vm, network, device="0", mac=None):
        mac = mac or "aa:bb:cc:%02x:%02x:%02x" % (len(self.tables["VIF"]), int(device) % 256, 1)
        ref = self.add("VIF", {"VM": vm, "network": network, "device": device, "MAC": mac})
        self.rec("VM", vm)["VIFs"].append(ref)
        self.rec("network", network)["VIFs"].append(ref)
        return ref

    def appliance(self, name_label, members=(), name_description=""):
        ref = self.add("VM_appliance", {"name_label": name_label,
                                        "name_description": name_description, "VMs": []})
        for vm in members:
            self.rec("VM_appliance", ref)["VMs"].append(vm)
            self.rec("VM", vm)["appliance"] = ref
        return ref

    def message(self, name, body, obj_uuid, timestamp, priority=3):
        return self.add("message", {"name": name, "body": body, "obj_uuid": obj_uuid,
                                    "timestamp": timestamp, "priority": str(priority),
                                    "cls": "Pool"})

    def copy_tables(self):
        return json.loads(json.dumps(self.tables))


def world(local, foreign=None, foreign_cache=None, faults=None, delays=None,
          sessions=(LOCAL_SESSION,)):
    """foreign: {vdi uuid: Db | [error code, params...]}."""
    out = {"local": local.copy_tables(), "local_sessions": list(sessions), "foreign": {},
           "foreign_cache": dict(foreign_cache or {}), "faults": faults or {},
           "delays": delays or {}}
    for vdi_uuid, db in (foreign or {}).items():
        if isinstance(db, Db):
            out["foreign"][vdi_uuid] = {"db": db.copy_tables()}
        else:
            out["foreign"][vdi_uuid] = {"error": list(db)}
    return out
