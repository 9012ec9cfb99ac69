"""The xe record of every class the lab serves: field names in record order, modes, rendering.

Facts (field names, order, modes, hidden/expensive/deprecated flags, list defaults) follow
xapi's ``ocaml/xapi-cli-server/records.ml`` and ``cli_operations.ml`` at the reference commit.
Values the lab does not model are rendered from fixed, plausible defaults.

A ``Field`` renders one value of a row: ``get(view, ref, row) -> str``. ``view`` resolves
references against the *local* pool database (``view.uuid_of``), which is why a foreign
database's references print ``<not in database>``.
"""

from . import memory, util
from .errors import CliError, Failure, XapiError

NID = "<not in database>"


class Field(object):
    __slots__ = ("name", "get", "hidden", "expensive", "deprecated", "ci", "get_map", "get_set",
                 "setter", "map_add", "map_remove", "set_add", "set_remove", "clear_map", "mode")

    def __init__(self, name, get, hidden=False, expensive=False, deprecated=False, ci=False,
                 get_map=None, get_set=None, setter=None, map_add=None, map_remove=None,
                 set_add=None, set_remove=None, clear_map=None):
        self.name = name
        self.get = get
        self.hidden = hidden
        self.expensive = expensive
        self.deprecated = deprecated
        self.ci = ci
        self.get_map = get_map
        self.get_set = get_set
        self.setter = setter
        self.map_add = map_add
        self.map_remove = map_remove
        self.set_add = set_add
        self.set_remove = set_remove
        self.clear_map = clear_map
        if get_set is not None:
            mode = " (SRW)" if set_add else " (SRO)"
        elif get_map is not None:
            mode = " (MRW)" if map_add else " (MRO)"
        else:
            mode = " ( RW)" if setter else " ( RO)"
        self.mode = mode

    def label(self):
        return self.name + self.mode + (" [DEPRECATED]" if self.deprecated else "")


# ---------------------------------------------------------------------------------------------
# Rendering helpers


def bool_str(b):
    return "true" if b else "false"


def map_str(m):
    return "; ".join("%s: %s" % (k, v) for k, v in m.items())


def parse_bool(field, value):
    v = value.lower()
    if v in ("true", "t", "yes", "y", "1"):
        return True
    if v in ("false", "f", "no", "n", "0"):
        return False
    raise CliError("Failed to parse parameter '%s': expecting a boolean (true or false)" % field)


def parse_int(field, value):
    try:
        return int(value)
    except ValueError:
        raise CliError("Failed to parse parameter '%s': expecting an integer" % field)


def _set_str(db, ref, cls, src, field, value):
    db.update(cls, ref, **{src: value})


def _mk_setter(kind, cls, src, name):
    if kind == "s":
        return lambda db, ref, v: db.update(cls, ref, **{src: v})
    if kind == "i":
        return lambda db, ref, v: db.update(cls, ref, **{src: parse_int(name, v)})
    if kind == "b":
        return lambda db, ref, v: db.update(cls, ref, **{src: parse_bool(name, v)})
    if kind == "f":
        def set_float(db, ref, v):
            try:
                db.update(cls, ref, **{src: float(v)})
            except ValueError:
                raise Failure("Parameter %s must be a floating-point number" % name)
        return set_float
    if kind == "r":
        target = REF_TARGETS.get((cls, src))

        def set_ref(db, ref, v):
            if v == "":
                db.update(cls, ref, **{src: util.NULL_REF})
            else:
                db.update(cls, ref, **{src: db.by_uuid(target, v)})
        return set_ref
    raise ValueError(kind)


def _map_ops(cls, src):
    def add(db, ref, k, v):
        m = dict(db.get(cls, ref).get(src) or {})
        if k in m:
            raise XapiError("MAP_DUPLICATE_KEY", [cls, src, ref, k])
        m[k] = v
        db.update(cls, ref, **{src: m})

    def remove(db, ref, k):
        m = dict(db.get(cls, ref).get(src) or {})
        m.pop(k, None)
        db.update(cls, ref, **{src: m})
    return add, remove


def _set_ops(cls, src):
    def add(db, ref, v):
        s = list(db.get(cls, ref).get(src) or [])
        if v not in s:
            s.append(v)
        db.update(cls, ref, **{src: s})

    def remove(db, ref, v):
        s = [x for x in (db.get(cls, ref).get(src) or []) if x != v]
        db.update(cls, ref, **{src: s})
    return add, remove


class Builder(object):
    """Collects the fields of one class in record order."""

    def __init__(self, cls):
        self.cls = cls
        self.fields = []

    def add(self, field):
        self.fields.append(field)
        return field

    def s(self, name, src, default="", rw=False, **kw):
        def get(view, ref, row):
            return str(row.get(src, default))
        return self.add(Field(name, get, setter=_mk_setter("s", self.cls, src, name) if rw else None,
                              **kw))

    def i(self, name, src, default=0, rw=False, **kw):
        def get(view, ref, row):
            return str(int(row.get(src, default)))
        return self.add(Field(name, get, setter=_mk_setter("i", self.cls, src, name) if rw else None,
                              **kw))

    def b(self, name, src, default=False, rw=False, **kw):
        def get(view, ref, row):
            return "true" if row.get(src, default) else "false"
        return self.add(Field(name, get, setter=_mk_setter("b", self.cls, src, name) if rw else None,
                              **kw))

    def f(self, name, src, default=0.0, rw=False, **kw):
        def get(view, ref, row):
            return string_of_float(float(row.get(src, default)))
        return self.add(Field(name, get, setter=_mk_setter("f", self.cls, src, name) if rw else None,
                              **kw))

    def c(self, name, value, **kw):
        """A field the lab does not model: a fixed value."""
        return self.add(Field(name, lambda view, ref, row: value, **kw))

    def cw(self, name, value, **kw):
        """A writable field the lab does not model: a fixed value, setting it is accepted."""
        return self.add(Field(name, lambda view, ref, row: value,
                              setter=lambda db, ref, v: None, **kw))

    def r(self, name, src, rw=False, **kw):
        def get(view, ref, row):
            return view.uuid_of(row.get(src, util.NULL_REF))
        return self.add(Field(name, get, setter=_mk_setter("r", self.cls, src, name) if rw else None,
                              **kw))

    def rn(self, name, src, **kw):
        def get(view, ref, row):
            return view.name_of(row.get(src, util.NULL_REF))
        return self.add(Field(name, get, **kw))

    def rel(self, name, child_cls, child_field, as_set=True, **kw):
        """A set of references kept on the other side (e.g. VM.VBDs from VBD.VM)."""
        def refs(view, ref):
            return view.db.children(child_cls, child_field, ref)

        def get(view, ref, row):
            return "; ".join(view.uuid_of(r) for r in refs(view, ref))

        get_set = (lambda view, ref, row: [view.uuid_of(r) for r in refs(view, ref)]) \
            if as_set else None
        return self.add(Field(name, get, get_set=get_set, **kw))

    def refs(self, name, src, as_set=False, **kw):
        def get(view, ref, row):
            return "; ".join(view.uuid_of(r) for r in row.get(src) or [])
        get_set = (lambda view, ref, row: [view.uuid_of(r) for r in row.get(src) or []]) \
            if as_set else None
        return self.add(Field(name, get, get_set=get_set, **kw))

    def m(self, name, src, rw=False, clear=False, **kw):
        def get(view, ref, row):
            return map_str(row.get(src) or {})

        def get_map(view, ref, row):
            return row.get(src) or {}
        add = remove = None
        if rw:
            add, remove = _map_ops(self.cls, src)
        clear_map = None
        if clear:
            def clear_map(db, ref):
                db.update(self.cls, ref, **{src: {}})
        return self.add(Field(name, get, get_map=get_map, map_add=add, map_remove=remove,
                              clear_map=clear_map, **kw))

    def mc(self, name, value, **kw):
        """A map field with a fixed value."""
        return self.add(Field(name, lambda view, ref, row: map_str(value),
                              get_map=lambda view, ref, row: value, **kw))

    def set(self, name, src, rw=False, sep="; ", **kw):
        def get(view, ref, row):
            return sep.join(row.get(src) or [])

        def get_set(view, ref, row):
            return list(row.get(src) or [])
        add = remove = None
        if rw:
            add, remove = _set_ops(self.cls, src)
        return self.add(Field(name, get, get_set=get_set, set_add=add, set_remove=remove, **kw))

    def setc(self, name, values, **kw):
        return self.add(Field(name, lambda view, ref, row: "; ".join(values),
                              get_set=lambda view, ref, row: list(values), **kw))

    def tags(self, name="tags", src="tags"):
        return self.set(name, src, rw=True, sep=", ")

    def fn(self, name, func, **kw):
        return self.add(Field(name, func, **kw))


# (class, ref field) -> class the reference points to, for setters and XML typing.
REF_TARGETS = {
    ("VM", "resident_on"): "host", ("VM", "affinity"): "host", ("VM", "appliance"): "VM_appliance",
    ("VM", "snapshot_of"): "VM", ("VM", "suspend_VDI"): "VDI", ("VM", "suspend_SR"): "SR",
    ("VM", "parent"): "VM", ("VM", "guest_metrics"): "VM_guest_metrics",
    ("VDI", "SR"): "SR", ("VDI", "snapshot_of"): "VDI",
    ("VDI", "metadata_of_pool"): "pool", ("VBD", "VM"): "VM", ("VBD", "VDI"): "VDI",
    ("VIF", "VM"): "VM", ("VIF", "network"): "network", ("PBD", "host"): "host",
    ("PIF", "network"): "network", ("PIF", "host"): "host",
    ("PBD", "SR"): "SR", ("SR", "introduced_by"): "DR_task", ("pool", "master"): "host",
    ("pool", "default_SR"): "SR", ("pool", "crash_dump_SR"): "SR",
    ("pool", "suspend_image_SR"): "SR", ("pool", "redo_log_vdi"): "VDI",
    ("host", "control_domain"): "VM", ("host", "suspend_image_sr"): "SR",
    ("host", "crash_dump_sr"): "SR", ("host", "local_cache_sr"): "SR",
}

# Relation sets computed from the other side: (class, field) -> (child class, child field).
RELATIONS = {
    ("VM", "VBDs"): ("VBD", "VM"), ("VM", "VIFs"): ("VIF", "VM"),
    ("VM", "snapshots"): ("VM", "snapshot_of"), ("VM_appliance", "VMs"): ("VM", "appliance"),
    ("SR", "VDIs"): ("VDI", "SR"), ("SR", "PBDs"): ("PBD", "SR"), ("VDI", "VBDs"): ("VBD", "VDI"),
    ("VDI", "snapshots"): ("VDI", "snapshot_of"),
    ("DR_task", "introduced_SRs"): ("SR", "introduced_by"),
    ("network", "VIFs"): ("VIF", "network"), ("network", "PIFs"): ("PIF", "network"),
    ("host", "PIFs"): ("PIF", "host"), ("host", "resident_VMs"): ("VM", "resident_on"),
    ("host", "PBDs"): ("PBD", "host"),
}

POWER_LOWER = {"Halted": "halted", "Running": "running", "Paused": "paused",
               "Suspended": "suspended"}

VDI_TYPE_PRINT = {
    "system": "System", "user": "User", "ephemeral": "Ephemeral", "suspend": "Suspend",
    "crashdump": "Crashdump", "ha_statefile": "HA statefile", "metadata": "Metadata",
    "redo_log": "Redo log", "rrd": "rrd", "pvs_cache": "PVS cache", "cbt_metadata": "CBT metadata",
}


def string_of_float(value):
    """OCaml's ``string_of_float`` (records.ml prints floats with it): ``%.12g``, and a ``.``
    after a number that would read as an integer (``1.0`` -> ``1.``)."""
    text = "%.12g" % value
    return text + "." if all(c in "-0123456789" for c in text) else text


def _vm_memory_overhead(view, ref, row):
    """VM.memory_overhead as xapi stores it (memory.py), by the xapi of the VM's host (the
    master's for a VM that runs nowhere)."""
    host = view.db.find("host", row.get("resident_on")) or \
        view.db.find("host", view.db.master_ref()) or {}
    return str(memory.stored_overhead(row, memory.vcpu_extra_pages(host)))


def _vm_allowed_ops(row):
    if row.get("is_control_domain"):
        return []
    if row.get("is_a_template"):
        return ["changing_NVRAM", "changing_dynamic_range", "changing_shadow_memory",
                "changing_static_range", "make_into_template", "migrate_send", "destroy",
                "export", "start_on", "start", "clone", "copy", "snapshot"] \
            if not row.get("is_a_snapshot") else ["destroy", "export", "revert", "copy", "clone"]
    state = row.get("power_state", "Halted")
    if state == "Running":
        return ["changing_dynamic_range", "migrate_send", "pool_migrate", "changing_VCPUs_live",
                "suspend", "hard_reboot", "clean_reboot", "hard_shutdown", "clean_shutdown",
                "pause", "checkpoint", "snapshot", "export"]
    if state == "Paused":
        return ["hard_reboot", "hard_shutdown", "unpause", "checkpoint", "snapshot"]
    if state == "Suspended":
        return ["resume", "resume_on", "hard_shutdown", "destroy", "export", "clone", "copy",
                "snapshot"]
    return ["changing_NVRAM", "changing_dynamic_range", "changing_shadow_memory",
            "changing_static_range", "make_into_template", "migrate_send", "destroy", "export",
            "start_on", "start", "clone", "copy", "snapshot"]


def _guest_metrics(view, row):
    """The VM's VM_guest_metrics row, or None (records.ml ``xgm``: a VM without one prints
    ``<not in database>`` for each of these fields and an empty map for map lookups)."""
    return view.db.find("VM_guest_metrics", row.get("guest_metrics", util.NULL_REF))


def _gm_map(b, name, src):
    def get(view, ref, row):
        gm = _guest_metrics(view, row)
        return NID if gm is None else map_str(gm.get(src) or {})

    def get_map(view, ref, row):
        gm = _guest_metrics(view, row)
        return {} if gm is None else (gm.get(src) or {})
    return b.add(Field(name, get, get_map=get_map))


def _gm_value(b, name, src, show, **kw):
    def get(view, ref, row):
        gm = _guest_metrics(view, row)
        return NID if gm is None else show(gm.get(src))
    return b.add(Field(name, get, **kw))


def _vm_record():
    b = Builder("VM")
    running = lambda row: row.get("power_state") in ("Running", "Paused")  # noqa: E731
    b.s("uuid", "uuid")
    b.s("name-label", "name_label", rw=True)
    b.s("name-description", "name_description", rw=True)
    b.i("user-version", "user_version", 1, rw=True)
    b.b("is-a-template", "is_a_template", rw=True)
    b.b("is-default-template", "is_default_template", rw=True)
    b.b("is-a-snapshot", "is_a_snapshot")
    b.r("snapshot-of", "snapshot_of")
    b.rel("snapshots", "VM", "snapshot_of", as_set=False)
    b.s("snapshot-time", "snapshot_time", util.EPOCH)
    b.c("transportable-snapshot-id", "", hidden=True)
    b.m("snapshot-info", "snapshot_info")
    b.r("parent", "parent")
    b.c("children", "")
    b.b("is-control-domain", "is_control_domain")
    b.fn("power-state", lambda v, ref, row: POWER_LOWER[row.get("power_state", "Halted")])
    b.fn("memory-actual", lambda v, ref, row: str(row.get("memory_dynamic_max", 0))
         if running(row) else "0")
    b.fn("memory-target", lambda v, ref, row: str(row.get("memory_dynamic_max", 0))
         if running(row) else "0", expensive=True)
    b.fn("memory-overhead", _vm_memory_overhead)
    b.i("memory-static-max", "memory_static_max", 1073741824, rw=True)
    b.i("memory-dynamic-max", "memory_dynamic_max", 1073741824, rw=True)
    b.i("memory-dynamic-min", "memory_dynamic_min", 1073741824, rw=True)
    b.i("memory-static-min", "memory_static_min", 536870912, rw=True)
    b.r("suspend-VDI-uuid", "suspend_VDI", rw=True)
    b.r("suspend-SR-uuid", "suspend_SR", rw=True)
    b.m("VCPUs-params", "VCPUs_params", rw=True)
    b.i("VCPUs-max", "VCPUs_max", 1, rw=True)
    b.i("VCPUs-at-startup", "VCPUs_at_startup", 1, rw=True)
    b.s("actions-after-shutdown", "actions_after_shutdown", "Destroy", rw=True)
    b.s("actions-after-softreboot", "actions_after_softreboot", "Soft reboot", rw=True)
    b.s("actions-after-reboot", "actions_after_reboot", "Restart", rw=True)
    b.s("actions-after-crash", "actions_after_crash", "Restart", rw=True)
    b.setc("console-uuids", [])
    b.fn("hvm", lambda v, ref, row: "false" if row.get("is_control_domain") else "true")
    b.c("nomigrate", "false", hidden=True)
    b.c("nested-virt", "false", hidden=True)
    b.m("platform", "platform", rw=True)
    b.c("numa-optimised", "false")
    b.c("numa-nodes", "0")
    b.mc("numa-node-memory", {})
    b.fn("allowed-operations", lambda v, ref, row: "; ".join(_vm_allowed_ops(row)),
         get_set=lambda v, ref, row: _vm_allowed_ops(row))
    b.fn("current-operations", lambda v, ref, row: "; ".join(
        sorted(set((row.get("current_operations") or {}).values()))),
        get_set=lambda v, ref, row: sorted(set((row.get("current_operations") or {}).values())))
    b.m("blocked-operations", "blocked_operations", rw=True)
    b.fn("allowed-VBD-devices", lambda v, ref, row: "; ".join(
        str(i) for i in range(1, 16) if str(i) not in _used_devices(v, ref, "VBD")),
        expensive=True, get_set=lambda v, ref, row: [])
    b.fn("allowed-VIF-devices", lambda v, ref, row: "; ".join(
        str(i) for i in range(0, 7) if str(i) not in _used_devices(v, ref, "VIF")),
        expensive=True, get_set=lambda v, ref, row: [])
    b.fn("possible-hosts", lambda v, ref, row: "; ".join(
        h["uuid"] for h in v.db.rows("host").values()), expensive=True)
    b.s("domain-type", "domain_type", "hvm", rw=True)
    b.fn("current-domain-type", lambda v, ref, row: row.get("domain_type", "hvm")
         if running(row) else "unspecified")
    b.s("HVM-boot-policy", "HVM_boot_policy", "BIOS order", rw=True)
    b.m("HVM-boot-params", "HVM_boot_params", rw=True)
    b.f("HVM-shadow-multiplier", "HVM_shadow_multiplier", 1.0, rw=True)
    b.m("NVRAM", "NVRAM", rw=True, hidden=True)
    b.s("PV-kernel", "PV_kernel", rw=True)
    b.s("PV-ramdisk", "PV_ramdisk", rw=True)
    b.s("PV-args", "PV_args", rw=True)
    b.s("PV-legacy-args", "PV_legacy_args", rw=True)
    b.s("PV-bootloader", "PV_bootloader", rw=True)
    b.s("PV-bootloader-args", "PV_bootloader_args", rw=True)
    b.mc("last-boot-CPU-flags", {})
    b.fn("last-boot-record", lambda v, ref, row: "''", expensive=True)
    b.r("resident-on", "resident_on")
    b.r("affinity", "affinity", rw=True)
    b.m("other-config", "other_config", rw=True)
    b.i("dom-id", "domid", -1)
    b.s("recommendations", "recommendations")
    b.m("xenstore-data", "xenstore_data", rw=True, clear=True)
    b.b("ha-always-run", "ha_always_run", rw=True, deprecated=True)
    b.s("ha-restart-priority", "ha_restart_priority", rw=True)
    b.c("blobs", "")
    b.fn("start-time", lambda v, ref, row: row.get("start_time", util.EPOCH))
    b.fn("install-time", lambda v, ref, row: row.get("install_time", util.EPOCH))
    b.fn("VCPUs-number", lambda v, ref, row: str(row.get("VCPUs_at_startup", 1))
         if running(row) else "0")
    b.fn("VCPUs-utilisation", lambda v, ref, row: "; ".join(
        "%d: 0.000" % i for i in range(row.get("VCPUs_at_startup", 1))) if running(row) else "",
        expensive=True, get_map=lambda v, ref, row: {})
    for name, src in (("os-version", "os_version"), ("netbios-name", "netbios_name"),
                      ("PV-drivers-version", "PV_drivers_version")):
        _gm_map(b, name, src)
    _gm_value(b, "PV-drivers-up-to-date", "PV_drivers_up_to_date", bool_str, deprecated=True)
    _gm_map(b, "memory", "memory")
    _gm_map(b, "disks", "disks")
    b.rel("VBDs", "VBD", "VM")
    _gm_map(b, "networks", "networks")
    _gm_map(b, "services", "services")
    _gm_value(b, "PV-drivers-detected", "PV_drivers_detected", bool_str)
    _gm_map(b, "other", "other")
    _gm_value(b, "live", "live", bool_str)
    _gm_value(b, "guest-metrics-last-updated", "last_updated", str)
    _gm_value(b, "can-use-hotplug-vbd", "can_use_hotplug_vbd", str)
    _gm_value(b, "can-use-hotplug-vif", "can_use_hotplug_vif", str)
    b.c("cooperative", "true", expensive=True, deprecated=True)
    b.tags()
    b.r("appliance", "appliance", rw=True)
    b.cw("groups", "")
    b.c("secureboot-certificates-state", "ok")
    b.cw("snapshot-schedule", NID)
    b.c("is-vmss-snapshot", "false")
    b.i("start-delay", "start_delay", rw=True)
    b.i("shutdown-delay", "shutdown_delay", rw=True)
    b.i("order", "order", rw=True)
    b.i("version", "version")
    b.s("generation-id", "generation_id")
    b.i("hardware-platform-version", "hardware_platform_version", 2)
    b.b("has-vendor-device", "has_vendor_device", rw=True)
    b.b("requires-reboot", "requires_reboot")
    b.s("reference-label", "reference_label")
    b.add(Field("bios-strings", lambda v, ref, row: map_str(row.get("bios_strings") or {}),
                get_map=lambda v, ref, row: row.get("bios_strings") or {}))
    b.c("pending-guidances", "")
    b.c("vtpms", "")
    b.c("pending-guidances-recommended", "")
    b.c("pending-guidances-full", "")
    return b.fields


def _used_devices(view, vm_ref, cls):
    kids = view.db.children(cls, "VM", vm_ref)
    rows = view.db.rows(cls)
    key = "userdevice" if cls == "VBD" else "device"
    return set(rows[k].get(key, "") for k in kids)


def _vdi_metadata_of_pool(view, ref, row):
    vdi_pool = row.get("metadata_of_pool", util.NULL_REF)
    local_pool = view.db.pool_ref()
    if vdi_pool == local_pool:
        return view.uuid_of(local_pool)
    cached = view.foreign_cache.get(ref) if view.db is view.local else None
    if cached:
        return cached[1]
    return NID


def _vdi_record():
    b = Builder("VDI")
    b.s("uuid", "uuid")
    b.s("name-label", "name_label", rw=True)
    b.s("name-description", "name_description", rw=True)
    b.b("is-a-snapshot", "is_a_snapshot")
    b.r("snapshot-of", "snapshot_of")
    b.rel("snapshots", "VDI", "snapshot_of", as_set=False)
    b.s("snapshot-time", "snapshot_time", util.EPOCH)
    b.fn("allowed-operations", lambda v, ref, row: "; ".join(_vdi_ops(row)),
         get_set=lambda v, ref, row: _vdi_ops(row))
    b.setc("current-operations", [])
    b.r("sr-uuid", "SR")
    b.rn("sr-name-label", "SR")
    b.rel("vbd-uuids", "VBD", "VDI")
    b.setc("crashdump-uuids", [])
    b.i("virtual-size", "virtual_size")
    b.i("physical-utilisation", "physical_utilisation")
    b.s("location", "location")
    b.fn("type", lambda v, ref, row: VDI_TYPE_PRINT.get(row.get("type", "user"), "User"))
    b.b("sharable", "sharable")
    b.b("read-only", "read_only")
    b.b("storage-lock", "storage_lock")
    b.b("managed", "managed", True)
    b.r("parent", "parent", deprecated=True)
    b.b("missing", "missing")
    b.b("is-tools-iso", "is_tools_iso")
    b.m("other-config", "other_config", rw=True)
    b.add(Field("xenstore-data", lambda v, ref, row: map_str(row.get("xenstore_data") or {}),
                get_map=lambda v, ref, row: row.get("xenstore_data") or {},
                clear_map=lambda db, ref: db.update("VDI", ref, xenstore_data={})))
    b.m("sm-config", "sm_config")
    b.s("on-boot", "on_boot", "persist", rw=True)
    b.b("allow-caching", "allow_caching", rw=True)
    b.b("metadata-latest", "metadata_latest")
    b.fn("metadata-of-pool", _vdi_metadata_of_pool)
    b.tags()
    b.b("cbt-enabled", "cbt_enabled")
    return b.fields


def _vdi_ops(row):
    if row.get("type") == "metadata":
        return ["update", "forget", "destroy", "force_unlock", "generate_config"]
    ops = ["clone", "snapshot", "update", "forget", "destroy", "force_unlock",
           "generate_config", "copy", "resize_online", "resize", "enable_cbt", "disable_cbt",
           "data_destroy", "list_changed_blocks", "set_on_boot"]
    return ops


def _sr_host(view, ref, row):
    pbds = view.db.children("PBD", "SR", ref)
    if len(pbds) > 1:
        return "<shared>"
    if len(pbds) == 1:
        return view.name_of(view.db.rows("PBD")[pbds[0]].get("host", util.NULL_REF))
    return NID


def _sr_record():
    b = Builder("SR")
    b.s("uuid", "uuid")
    b.s("name-label", "name_label", rw=True)
    b.s("name-description", "name_description", rw=True)
    b.fn("host", _sr_host)
    b.fn("allowed-operations", lambda v, ref, row: "; ".join(_sr_ops(row)),
         get_set=lambda v, ref, row: _sr_ops(row))
    b.setc("current-operations", [])
    b.rel("VDIs", "VDI", "SR")
    b.rel("PBDs", "PBD", "SR")
    b.i("virtual-allocation", "virtual_allocation")
    b.i("physical-utilisation", "physical_utilisation")
    b.i("physical-size", "physical_size")
    b.s("type", "type")
    b.s("content-type", "content_type")
    b.b("shared", "shared", rw=True)
    b.r("introduced-by", "introduced_by")
    b.b("is-tools-sr", "is_tools_sr")
    b.m("other-config", "other_config", rw=True)
    b.m("sm-config", "sm_config")
    b.c("blobs", "")
    b.b("local-cache-enabled", "local_cache_enabled")
    b.tags()
    b.b("clustered", "clustered")
    return b.fields


def _sr_ops(row):
    if row.get("type") == "iso":
        return ["forget", "vdi_introduce", "scan", "plug", "unplug", "pbd_create",
                "pbd_destroy", "update"]
    return ["forget", "vdi_create", "vdi_introduce", "vdi_destroy", "vdi_resize", "vdi_clone",
            "vdi_snapshot", "vdi_mirror", "vdi_enable_cbt", "vdi_disable_cbt",
            "vdi_data_destroy", "vdi_list_changed_blocks", "vdi_set_on_boot", "vdi_introduce",
            "update", "destroy", "scan", "plug", "unplug", "pbd_create", "pbd_destroy"]


def _pbd_record():
    b = Builder("PBD")
    b.s("uuid", "uuid")
    b.r("host", "host", deprecated=True)
    b.r("host-uuid", "host")
    b.rn("host-name-label", "host")
    b.r("sr-uuid", "SR")
    b.rn("sr-name-label", "SR")
    b.add(Field("device-config",
                lambda v, ref, row: map_str(row.get("device_config") or {}),
                get_map=lambda v, ref, row: row.get("device_config") or {}))
    b.b("currently-attached", "currently_attached")
    b.m("other-config", "other_config", rw=True)
    return b.fields


def _vbd_record():
    b = Builder("VBD")
    b.s("uuid", "uuid")
    b.r("vm-uuid", "VM")
    b.rn("vm-name-label", "VM")
    b.r("vdi-uuid", "VDI")
    b.fn("vdi-name-label", lambda v, ref, row: "<EMPTY>" if row.get("empty")
         else v.name_of(row.get("VDI", util.NULL_REF)))
    b.fn("allowed-operations", lambda v, ref, row: "; ".join(_vbd_ops(row)),
         get_set=lambda v, ref, row: _vbd_ops(row))
    b.setc("current-operations", [])
    b.b("empty", "empty")
    b.s("device", "device")
    b.s("userdevice", "userdevice", rw=True)
    b.b("bootable", "bootable", rw=True)
    b.s("mode", "mode", "RW", rw=True)
    b.s("type", "type", "Disk", rw=True)
    b.b("unpluggable", "unpluggable", True, rw=True)
    b.b("currently-attached", "currently_attached")
    b.fn("attachable", lambda v, ref, row: "true", expensive=True)
    b.b("storage-lock", "storage_lock")
    b.i("status-code", "status_code")
    b.s("status-detail", "status_detail")
    b.s("qos_algorithm_type", "qos_algorithm_type", rw=True)
    b.m("qos_algorithm_params", "qos_algorithm_params", rw=True)
    b.setc("qos_supported_algorithms", [])
    b.m("other-config", "other_config", rw=True)
    b.fn("io_read_kbs", lambda v, ref, row: "0.000", expensive=True)
    b.fn("io_write_kbs", lambda v, ref, row: "0.000", expensive=True)
    return b.fields


def _vbd_ops(row):
    if row.get("currently_attached"):
        return ["attach", "unplug", "unplug_force"] if row.get("type") != "CD" \
            else ["attach", "eject", "unplug", "unplug_force"]
    if row.get("type") == "CD":
        return ["attach", "insert"] if row.get("empty") else ["attach", "eject"]
    return ["attach"]


def _vif_record():
    b = Builder("VIF")
    b.s("uuid", "uuid")
    b.r("vm-uuid", "VM")
    b.rn("vm-name-label", "VM")
    b.fn("allowed-operations", lambda v, ref, row: "attach" if not row.get("currently_attached")
         else "attach; unplug", get_set=lambda v, ref, row: ["attach"])
    b.setc("current-operations", [])
    b.s("device", "device")
    b.s("MAC", "MAC", ci=True)
    b.b("MAC-autogenerated", "MAC_autogenerated", True)
    b.i("MTU", "MTU", 1500)
    b.b("currently-attached", "currently_attached")
    b.s("qos_algorithm_type", "qos_algorithm_type", rw=True)
    b.m("qos_algorithm_params", "qos_algorithm_params", rw=True)
    b.setc("qos_supported_algorithms", [])
    b.m("other-config", "other_config", rw=True)
    b.r("network-uuid", "network")
    b.rn("network-name-label", "network")
    b.fn("io_read_kbs", lambda v, ref, row: "0.000", expensive=True)
    b.fn("io_write_kbs", lambda v, ref, row: "0.000", expensive=True)
    b.s("locking-mode", "locking_mode", "network_default", rw=True)
    b.set("ipv4-allowed", "ipv4_allowed", rw=True)
    b.set("ipv6-allowed", "ipv6_allowed", rw=True)
    # Read-only, set by vif-configure-ipv4/-ipv6 (records.ml vif_record: the modes as
    # Record_util prints them, the addresses joined by "; " with no get_set: mode RO).
    b.s("ipv4-configuration-mode", "ipv4_configuration_mode", "None")
    b.fn("ipv4-addresses", lambda v, ref, row: "; ".join(row.get("ipv4_addresses") or []))
    b.s("ipv4-gateway", "ipv4_gateway")
    b.s("ipv6-configuration-mode", "ipv6_configuration_mode", "None")
    b.fn("ipv6-addresses", lambda v, ref, row: "; ".join(row.get("ipv6_addresses") or []))
    b.s("ipv6-gateway", "ipv6_gateway")
    b.set("trunks", "trunks", rw=True)
    return b.fields


def _pif_record():
    b = Builder("PIF")
    b.s("uuid", "uuid")
    b.s("device", "device")
    b.s("MAC", "MAC", ci=True)
    b.b("physical", "physical", True)
    b.b("managed", "managed", True)
    b.b("currently-attached", "currently_attached", True)
    b.i("MTU", "MTU", 1500)
    b.i("VLAN", "VLAN", -1)
    b.c("vlan-master-of", NID)
    b.c("vlan-slave-of", "")
    b.c("bond-master-of", "")
    b.c("bond-slave-of", NID)
    b.c("sriov-physical-PIF-of", "")
    b.c("sriov-logical-PIF-of", "")
    b.c("tunnel-access-PIF-of", "")
    b.c("tunnel-transport-PIF-of", "")
    b.b("management", "management")
    b.r("network-uuid", "network")
    b.rn("network-name-label", "network")
    b.r("host-uuid", "host")
    b.rn("host-name-label", "host")
    b.s("IP-configuration-mode", "ip_configuration_mode", "None")
    b.s("IP", "IP")
    b.s("netmask", "netmask")
    b.s("gateway", "gateway")
    b.s("IPv6-configuration-mode", "ipv6_configuration_mode", "None")
    b.c("IPv6", "")
    b.c("IPv6-gateway", "")
    b.c("primary-address-type", "IPv4")
    b.s("DNS", "DNS")
    b.add(Field("properties", lambda v, ref, row: map_str(row.get("properties") or {}),
                get_map=lambda v, ref, row: row.get("properties") or {}))
    b.setc("capabilities", [])
    b.fn("io_read_kbs", lambda v, ref, row: "0.000", expensive=True)
    b.fn("io_write_kbs", lambda v, ref, row: "0.000", expensive=True)
    b.fn("carrier", lambda v, ref, row: "true" if row.get("physical", True) else NID)
    b.fn("vendor-id", lambda v, ref, row: "8086" if row.get("physical", True) else NID)
    b.fn("vendor-name", lambda v, ref, row: "Intel Corporation"
         if row.get("physical", True) else NID)
    b.fn("device-id", lambda v, ref, row: "1521" if row.get("physical", True) else NID)
    b.fn("device-name", lambda v, ref, row: "I350 Gigabit Network Connection"
         if row.get("physical", True) else NID)
    b.fn("speed", lambda v, ref, row: "1000 Mbit/s" if row.get("physical", True) else NID)
    b.fn("duplex", lambda v, ref, row: "full" if row.get("physical", True) else NID)
    b.b("disallow-unplug", "disallow_unplug", rw=True)
    b.fn("pci-bus-path", lambda v, ref, row: row.get("pci_bus_path", NID))
    b.m("other-config", "other_config", rw=True)
    b.c("igmp-snooping-status", "unknown")
    return b.fields


def _network_record():
    b = Builder("network")
    b.s("uuid", "uuid")
    b.s("name-label", "name_label", rw=True)
    b.s("name-description", "name_description", rw=True)
    b.rel("VIF-uuids", "VIF", "network")
    b.rel("PIF-uuids", "PIF", "network")
    b.i("MTU", "MTU", 1500, rw=True)
    b.s("bridge", "bridge")
    b.b("managed", "managed", True)
    b.m("other-config", "other_config", rw=True)
    b.c("blobs", "")
    b.tags()
    b.s("default-locking-mode", "default_locking_mode", "unlocked", rw=True)
    b.set("purpose", "purpose", rw=True, sep=", ")
    return b.fields


def _host_record():
    b = Builder("host")
    b.s("uuid", "uuid")
    b.s("name-label", "name_label", rw=True)
    b.s("name-description", "name_description", rw=True)
    b.setc("allowed-operations", ["vm_migrate", "provision", "vm_resume", "evacuate", "vm_start"])
    b.setc("current-operations", [])
    b.b("enabled", "enabled", True)
    b.c("display", "enabled")
    b.c("API-version-major", "2")
    b.c("API-version-minor", "21")
    b.c("API-version-vendor", "XenSource")
    b.mc("API-version-vendor-implementation", {})
    b.m("logging", "logging", rw=True)
    b.r("suspend-image-sr-uuid", "suspend_image_sr", rw=True)
    b.r("crash-dump-sr-uuid", "crash_dump_sr", rw=True)
    b.m("software-version", "software_version")
    b.set("capabilities", "capabilities")
    b.m("other-config", "other_config", rw=True)
    b.m("cpu_info", "cpu_info")
    b.mc("chipset-info", {"iommu": "true"})
    b.s("hostname", "hostname")
    b.s("address", "address")
    b.b("https-only", "https_only", rw=True)
    b.setc("supported-bootloaders", ["pygrub", "eliloader"])
    b.c("blobs", "")
    b.i("memory-overhead", "memory_overhead", 1073741824)
    b.i("memory-total", "memory_total")
    b.i("memory-free", "memory_free")
    b.fn("memory-free-computed", lambda v, ref, row: str(memory.host_free(v.db, ref)),
         expensive=True)
    b.fn("host-metrics-live", lambda v, ref, row: "true")
    b.fn("patches", lambda v, ref, row: "", get_set=lambda v, ref, row: [], deprecated=True)
    b.fn("updates", lambda v, ref, row: "", get_set=lambda v, ref, row: [])
    b.c("ha-statefiles", "")
    b.c("ha-network-peers", "")
    b.c("external-auth-type", "")
    b.c("external-auth-service-name", "")
    b.mc("external-auth-configuration", {})
    b.s("edition", "edition", "xcp-ng")
    b.mc("license-server", {"address": "localhost", "port": "27000"})
    b.c("power-on-mode", "")
    b.mc("power-on-config", {})
    b.r("local-cache-sr", "local_cache_sr")
    b.tags()
    b.b("ssl-legacy", "ssl_legacy", rw=True)
    b.m("guest_VCPUs_params", "guest_VCPUs_params", rw=True)
    b.setc("virtual-hardware-platform-versions", ["0", "1", "2"])
    b.r("control-domain-uuid", "control_domain")
    b.rel("resident-vms", "VM", "resident_on")
    b.setc("updates-requiring-reboot", [])
    b.setc("features", [])
    b.s("iscsi_iqn", "iscsi_iqn", rw=True)
    b.b("multipathing", "multipathing", rw=True)
    b.s("uefi-certificates", "uefi_certificates", rw=True, hidden=True)
    b.s("numa-affinity-policy", "numa_affinity_policy", "default_policy", rw=True)
    b.c("pending-guidances", "")
    b.c("tls-verification-enabled", "true")
    b.c("last-software-update", util.EPOCH)
    b.c("latest-synced-updates-applied", "unknown")
    b.c("pending-guidances-recommended", "")
    b.c("pending-guidances-full", "")
    b.c("last-update-hash", "")
    b.c("ssh-enabled", "true")
    b.cw("ssh-enabled-timeout", "0")
    b.c("ssh-expiry", util.EPOCH)
    b.cw("console-idle-timeout", "0")
    b.cw("ssh-auto-mode", "false")
    b.cw("max-cstate", "")
    b.c("secure-boot", "false")
    b.cw("ntp-mode", "DHCP")
    b.fn("ntp-custom-servers", lambda v, ref, row: "", get_set=lambda v, ref, row: [])
    b.s("timezone", "timezone", "UTC", rw=True)
    return b.fields


def _pool_record():
    b = Builder("pool")
    b.s("uuid", "uuid")
    b.s("name-label", "name_label", rw=True)
    b.s("name-description", "name_description", rw=True)
    b.r("master", "master")
    b.r("default-SR", "default_SR", rw=True)
    b.r("crash-dump-SR", "crash_dump_SR", rw=True)
    b.r("suspend-image-SR", "suspend_image_SR", rw=True)
    b.c("supported-sr-types", "lvmoiscsi; lvmohba; nfs; lvm; ext; iso; udev; dummy",
        expensive=True)
    b.m("other-config", "other_config", rw=True)
    b.setc("allowed-operations", ["ha_enable", "cluster_create"])
    b.setc("current-operations", [])
    b.b("ha-enabled", "ha_enabled")
    b.m("ha-configuration", "ha_configuration")
    b.refs("ha-statefiles", "ha_statefiles")
    b.i("ha-host-failures-to-tolerate", "ha_host_failures_to_tolerate", rw=True)
    b.i("ha-plan-exists-for", "ha_plan_exists_for")
    b.b("ha-allow-overcommit", "ha_allow_overcommit", rw=True)
    b.b("ha-overcommitted", "ha_overcommitted")
    b.b("ha-reboot-vm-on-internal-shutdown", "ha_reboot_vm_on_internal_shutdown", True, rw=True)
    b.c("blobs", "")
    b.c("wlb-url", "")
    b.c("wlb-username", "")
    b.b("wlb-enabled", "wlb_enabled", rw=True)
    b.b("wlb-verify-cert", "wlb_verify_cert", rw=True)
    b.b("igmp-snooping-enabled", "igmp_snooping_enabled", rw=True)
    b.m("gui-config", "gui_config", rw=True)
    b.m("health-check-config", "health_check_config", rw=True)
    b.c("vswitch-controller", "<not set>", hidden=True)
    # No get_map on restrictions: param-key= is ignored and the whole map is printed.
    b.fn("restrictions", lambda v, ref, row: map_str(row.get("restrictions") or {}))
    b.tags()
    b.fn("license-state", lambda v, ref, row: "edition: xcp-ng; expiry: never")
    b.s("ha-cluster-stack", "ha_cluster_stack", "xhad")
    b.m("guest-agent-config", "guest_agent_config", rw=True)
    b.m("cpu_info", "cpu_info")
    b.b("policy-no-vendor-device", "policy_no_vendor_device", rw=True)
    b.b("live-patching-disabled", "live_patching_disabled", rw=True)
    b.s("uefi-certificates", "uefi_certificates", rw=True, hidden=True)
    b.s("custom-uefi-certificates", "custom_uefi_certificates", rw=True, hidden=True)
    b.c("tls-verification-enabled", "true")
    b.c("client-certificate-auth-enabled", "false")
    b.c("client-certificate-auth-name", "")
    b.add(Field("repositories", lambda v, ref, row: "", get_set=lambda v, ref, row: [],
                setter=lambda db, ref, val: None, set_add=lambda db, ref, val: None,
                set_remove=lambda db, ref, val: None))
    b.c("repository-proxy-url", "")
    b.c("repository-proxy-username", "")
    b.b("https-only", "https_only", rw=True)
    b.b("migration-compression", "migration_compression", rw=True)
    b.b("coordinator-bias", "coordinator_bias", True, rw=True)
    b.c("telemetry-frequency", "weekly")
    b.c("telemetry-next-collection", util.EPOCH)
    b.c("last-update-sync", util.EPOCH)
    b.c("update-sync-frequency", "weekly")
    b.c("update-sync-day", "0")
    b.c("update-sync-enabled", "false")
    b.b("auto-update-vm-secureboot-certificates", "auto_update_vm_secureboot_certificates",
        rw=True)
    b.mc("recommendations", {})
    b.b("ext-auth-cache-enabled", "ext_auth_cache_enabled", rw=True)
    b.i("ext-auth-cache-size", "ext_auth_cache_size", 50, rw=True)
    b.i("ext-auth-cache-expiry", "ext_auth_cache_expiry", 300, rw=True)
    b.m("license-server", "license_server", rw=True)
    b.c("ssh-enabled", "true")
    b.add(Field("ssh-enabled-timeout", lambda v, ref, row: "0", setter=lambda db, ref, val: None))
    b.c("ssh-expiry", util.EPOCH)
    b.add(Field("console-idle-timeout", lambda v, ref, row: "0",
                setter=lambda db, ref, val: None))
    b.add(Field("ssh-auto-mode", lambda v, ref, row: "false", setter=lambda db, ref, val: None))
    b.b("limit-console-sessions", "limit_console_sessions", rw=True)
    b.i("vm-console-idle-timeout", "vm_console_idle_timeout", rw=True)
    return b.fields


def _appliance_record():
    b = Builder("VM_appliance")
    b.s("uuid", "uuid")
    b.s("name-label", "name_label", rw=True)
    b.s("name-description", "name_description", rw=True)
    b.rel("VMs", "VM", "appliance")

    def ops(view, ref, row):
        states = [view.db.rows("VM")[r].get("power_state", "Halted")
                  for r in view.db.children("VM", "appliance", ref)]
        out = []
        if any(s == "Halted" for s in states):
            out.append("start")
        if any(s == "Running" for s in states):
            out += ["clean_shutdown", "hard_shutdown", "shutdown"]
        elif any(s != "Halted" for s in states):
            out += ["hard_shutdown"]
        return out
    b.fn("allowed-operations", lambda v, ref, row: "; ".join(ops(v, ref, row)),
         get_set=ops)
    # What it does now (lifecycle.py marks it, as xapi_vm_appliance_lifecycle.ml does).
    b.fn("current-operations", lambda v, ref, row: "; ".join(
        sorted(set((row.get("current_operations") or {}).values()))),
        get_set=lambda v, ref, row: sorted(set((row.get("current_operations") or {}).values())))
    return b.fields


def _drtask_record():
    b = Builder("DR_task")
    b.s("uuid", "uuid")
    b.rel("introduced-SRs", "SR", "introduced_by", as_set=False)
    return b.fields


def _message_record():
    b = Builder("message")
    b.s("uuid", "uuid")
    b.s("name", "name")
    b.i("priority", "priority")
    b.s("class", "cls", "Pool")
    b.s("obj-uuid", "obj_uuid")
    b.s("timestamp", "timestamp", util.EPOCH)
    b.s("body", "body")
    return b.fields


def _secret_record():
    b = Builder("secret")
    b.s("uuid", "uuid")
    b.s("value", "value", rw=True)
    return b.fields


class ClassInfo(object):
    """One CLI class: its table, record fields, default list columns and filters."""

    def __init__(self, cli, table, fields, default_params, default_filters=(), in_db=True):
        self.cli = cli
        self.table = table
        self.fields = fields
        self.by_name = dict((f.name, f) for f in fields)
        self.default_params = list(default_params)
        self.default_filters = list(default_filters)
        # False for messages: xapi keeps them in files, not in the database (datamodel.ml
        # Message ``in_db:false``; xapi_message.ml). The lab keeps them in the site's
        # table, but -list prints them newest first (get_real_inner sorts by generation,
        # newest first) and from the pool's own store even with database: (no foreign
        # database holds messages), and database dumps leave them out (dbxml.to_xml).
        self.in_db = in_db


def _build():
    vm = _vm_record()
    classes = [
        ClassInfo("pool", "pool", _pool_record(),
                  ["uuid", "name-label", "name-description", "master", "default-SR"]),
        ClassInfo("pif", "PIF", _pif_record(),
                  ["uuid", "device", "VLAN", "MAC", "network-uuid", "currently-attached",
                   "host-uuid"]),
        ClassInfo("vif", "VIF", _vif_record(), ["uuid", "device", "vm-uuid", "network-uuid"]),
        ClassInfo("network", "network", _network_record(),
                  ["uuid", "name-label", "name-description", "bridge"]),
        ClassInfo("vm", "VM", vm, ["name-label", "uuid", "power-state"],
                  [("is-a-template", "false")]),
        ClassInfo("template", "VM", vm, ["name-label", "name-description", "uuid"],
                  [("is-a-template", "true"), ("is-a-snapshot", "false")]),
        ClassInfo("snapshot", "VM", vm, ["name-label", "name-description", "uuid",
                                         "snapshot_of", "snapshot_time", "is-vmss-snapshot"],
                  [("is-a-snapshot", "true")]),
        ClassInfo("host", "host", _host_record(), ["uuid", "name-label", "name-description"]),
        ClassInfo("vdi", "VDI", _vdi_record(),
                  ["uuid", "name-label", "name-description", "virtual-size", "read-only",
                   "sharable", "sr-uuid"]),
        ClassInfo("vbd", "VBD", _vbd_record(),
                  ["uuid", "vm-uuid", "vm-name-label", "vdi-uuid", "device", "empty"]),
        ClassInfo("sr", "SR", _sr_record(),
                  ["uuid", "name-label", "name-description", "host", "type", "content-type"]),
        ClassInfo("pbd", "PBD", _pbd_record(),
                  ["uuid", "host-uuid", "sr-uuid", "device-config", "currently-attached"]),
        ClassInfo("message", "message", _message_record(), [], in_db=False),
        ClassInfo("secret", "secret", _secret_record(), []),
        ClassInfo("appliance", "VM_appliance", _appliance_record(), []),
        ClassInfo("drtask", "DR_task", _drtask_record(), []),
    ]
    return dict((c.cli, c) for c in classes), [c.cli for c in classes]


CLASSES, CLASS_ORDER = _build()

TABLES = ["pool", "host", "VM", "VM_appliance", "SR", "PBD", "VDI", "VBD", "VIF", "PIF",
          "network", "DR_task", "message", "secret", "VM_guest_metrics"]
