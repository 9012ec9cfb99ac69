"""The pool/query layer: small value objects read with one batched xe call per class.

Nothing here issues one call per object: a pool of 5,000 VMs is read with the same number
of calls as a pool of 5. Values are plain Python (str, int, bool, dict, list, None): xe's
printed forms (``true``, ``k: v; k2: v2``, ``<not in database>``) stop here.
"""

import calendar
import time
from concurrent.futures import ThreadPoolExecutor

from xe_dr import interrupt
from xe_dr.xe.records import XeOutputError, parse_map, parse_ref, parse_tags

# The product brand keys of Host.software_version, newest first in preference.
_PRODUCT_KEYS = ("product_version", "platform_version")


def _bool(text):
    return text == "true"


def int_or(text, default=0):
    """An xe field as an integer, ``default`` when it is empty or not a number."""
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


class Host(object):
    FIELDS = ("uuid", "name-label", "address", "enabled", "software-version", "memory-free",
              "multipathing", "edition")

    def __init__(self, uuid, name_label, address="", enabled=True, software_version=None,
                 memory_free=None, multipathing=False, edition=""):
        self.uuid = uuid
        self.name_label = name_label
        self.address = address
        self.enabled = enabled
        self.software_version = software_version or {}
        self.memory_free = memory_free
        # Host.multipathing: sm then refuses a probe of a LUN attached here (SR_DEVICE_IN_USE)
        self.multipathing = multipathing
        self.edition = edition  # the licence edition ("" when the release does not say)

    @classmethod
    def from_record(cls, record):
        return cls(record["uuid"], record.get("name-label", ""), record.get("address", ""),
                   _bool(record.get("enabled", "true")),
                   parse_map(record.get("software-version", "")),
                   int_or(record.get("memory-free"), None),
                   _bool(record.get("multipathing", "false")), record.get("edition", ""))

    @property
    def product_brand(self):
        return self.software_version.get("product_brand") or \
            self.software_version.get("platform_name") or "unknown"

    @property
    def product_version(self):
        for key in _PRODUCT_KEYS:
            if self.software_version.get(key):
                return self.software_version[key]
        return "unknown"

    @property
    def xapi_version(self):
        return self.software_version.get("xapi") or "unknown"

    @property
    def xapi_build(self):
        """The whole xapi version (``24.19.2``); absent before the 24.x line (1.249)."""
        return self.software_version.get("xapi_build") or ""

    @property
    def build_number(self):
        return self.software_version.get("build_number") or ""

    def to_json(self):
        return {
            "uuid": self.uuid, "name_label": self.name_label, "address": self.address,
            "enabled": self.enabled, "product_brand": self.product_brand,
            "product_version": self.product_version, "xapi_version": self.xapi_version,
            "build_number": self.build_number, "memory_free": self.memory_free,
            "xapi_build": self.xapi_build or None, "multipathing": self.multipathing,
        }


class Pool(object):
    FIELDS = ("uuid", "name-label", "master", "ha-enabled", "other-config", "restrictions")

    def __init__(self, uuid, name_label, master, ha_enabled=False, other_config=None,
                 restrictions=None):
        self.uuid = uuid
        self.name_label = name_label
        self.master = master
        self.ha_enabled = ha_enabled
        self.other_config = other_config or {}
        self.restrictions = restrictions or {}

    @classmethod
    def from_record(cls, record):
        return cls(record["uuid"], record.get("name-label", ""), parse_ref(record.get("master", "")),
                   _bool(record.get("ha-enabled", "false")),
                   parse_map(record.get("other-config", "")),
                   parse_map(record.get("restrictions", "")))

    @property
    def dr_allowed(self):
        """DR is licensed unless ``restrict_dr`` is true (XCP-ng never restricts it).

        An absent key means the release predates the restriction or does not restrict.
        """
        return self.restrictions.get("restrict_dr", "false") != "true"

    @property
    def metadata_lun_alerts(self):
        return self.other_config.get("metadata_lun_alerts") == "true"

    def to_json(self):
        return {"uuid": self.uuid, "name_label": self.name_label, "master": self.master,
                "ha_enabled": self.ha_enabled, "dr_allowed": self.dr_allowed,
                "metadata_lun_alerts": self.metadata_lun_alerts}


def read_pool(xe):
    """The pool this xe talks to (a pool always has exactly one record)."""
    records = xe.list("pool", params=Pool.FIELDS)
    if not records:
        raise XeOutputError("pool-list printed no pool")
    return Pool.from_record(records[0])


def read_hosts(xe):
    return [Host.from_record(r) for r in xe.list("host", params=Host.FIELDS)]


IDLE_POLL_SECONDS = 1.0


def when_idle(xe, cls, filters, params=("uuid",), timeout=None, poll=IDLE_POLL_SECONDS):
    """The records of ``cls`` matching ``filters`` (``params`` of them) once none has an
    operation in progress (``current-operations`` empty). xapi carries an operation out
    whether or not its client is still there (an ``xe vm-start`` killed, or abandoned by a
    run stopped at once), and refuses another on the object meanwhile with
    OTHER_OPERATION_IN_PROGRESS: a resume that meets one waits for it. After ``timeout``
    seconds (default: the call timeout) the records are returned as they are."""
    deadline = time.monotonic() + (timeout or xe.timeout or 600.0)
    while True:
        records = xe.list(cls, params=tuple(params) + ("current-operations",),
                          filters=filters)
        if not any(r.get("current-operations") for r in records) or \
                time.monotonic() >= deadline:
            return records
        interrupt.check()  # a Ctrl-C stops the wait: nothing was begun
        time.sleep(poll)


# -- one call per class, plain values ----------------------------------------------------------

def read_srs(xe):
    """{uuid: {"uuid", "name_label", "type", "shared", "introduced_by", "other_config"}};
    ``introduced_by``: the DR task that introduced the SR, None for none."""
    return dict((r["uuid"], {
        "uuid": r["uuid"], "name_label": r.get("name-label", ""), "type": r.get("type", ""),
        "shared": _bool(r.get("shared")), "introduced_by": parse_ref(r.get("introduced-by")),
        "other_config": parse_map(r.get("other-config", ""))})
        for r in xe.list("sr", params=("uuid", "name-label", "type", "shared", "introduced-by",
                                       "other-config")))


def read_pbds(xe):
    """[{"uuid", "host", "sr", "attached", "device_config"}] (``host`` and ``sr``: uuids;
    xapi keeps no password in a device-config, only ``*password_secret`` uuids)."""
    return [{"uuid": r["uuid"], "host": parse_ref(r.get("host-uuid")),
             "sr": parse_ref(r.get("sr-uuid")), "attached": _bool(r.get("currently-attached")),
             "device_config": parse_map(r.get("device-config", ""))}
            for r in xe.list("pbd", params=("uuid", "host-uuid", "sr-uuid",
                                            "currently-attached", "device-config"))]


def read_vdis(xe, metadata_only=False):
    """{uuid: {"uuid", "sr", "type", "size", "metadata_latest", "metadata_of_pool"}}, in xe's
    order. ``metadata_of_pool`` is None when xapi's cache of foreign databases does not know
    the copy's pool (reference §1.1). ``metadata_only``: the metadata VDIs alone, the type
    as xe prints it (filters compare against the printed value, reference pitfall 14)."""
    records = xe.list("vdi", params=("uuid", "sr-uuid", "type", "virtual-size",
                                     "metadata-latest", "metadata-of-pool"),
                      filters={"type": "Metadata"} if metadata_only else None)
    return dict((r["uuid"], {
        "uuid": r["uuid"], "sr": parse_ref(r.get("sr-uuid")), "type": r.get("type", ""),
        "size": int_or(r.get("virtual-size")), "metadata_latest": _bool(r.get("metadata-latest")),
        "metadata_of_pool": parse_ref(r.get("metadata-of-pool"))}) for r in records)


def read_vbds(xe):
    """[{"uuid", "vm", "vdi", "type", "attached"}]; ``vdi`` is None for an empty drive."""
    return [{"uuid": r["uuid"], "vm": parse_ref(r.get("vm-uuid")),
             "vdi": parse_ref(r.get("vdi-uuid")), "type": r.get("type", ""),
             "attached": _bool(r.get("currently-attached"))}
            for r in xe.list("vbd", params=("uuid", "vm-uuid", "vdi-uuid", "type",
                                            "currently-attached"))]


def read_vms(xe):
    """{uuid: {"uuid", "name_label", "power_state", "version", "tags", "control_domain",
    "snapshot"}}: every VM xe lists by default (templates left out), the control domains
    included."""
    return dict((r["uuid"], {
        "uuid": r["uuid"], "name_label": r.get("name-label", ""),
        "power_state": r.get("power-state", ""), "version": int_or(r.get("version")),
        "tags": parse_tags(r.get("tags", "")),
        "control_domain": _bool(r.get("is-control-domain")),
        "snapshot": _bool(r.get("is-a-snapshot"))})
        for r in xe.list("vm", params=("uuid", "name-label", "power-state", "version", "tags",
                                       "is-control-domain", "is-a-snapshot")))


def _float(text, default=1.0):
    try:
        return float(text)
    except (TypeError, ValueError):
        return default


def read_vm_resources(xe):
    """{uuid: {"memory_static_max", "memory_dynamic_max", "memory_dynamic_min", "vcpus_max",
    "vcpus_at_startup", "domain_type", "shadow_multiplier", "platform"}}: what a VM needs of
    a host to start (bytes, counts; ``domain_type`` as xe prints it: hvm, pv, pvh,
    pv-in-pvh)."""
    return dict((r["uuid"], {
        "memory_static_max": int_or(r.get("memory-static-max")),
        "memory_dynamic_max": int_or(r.get("memory-dynamic-max")),
        "memory_dynamic_min": int_or(r.get("memory-dynamic-min")),
        "vcpus_max": int_or(r.get("VCPUs-max"), 1),
        "vcpus_at_startup": int_or(r.get("VCPUs-at-startup"), 1),
        "domain_type": r.get("domain-type", ""),
        "shadow_multiplier": _float(r.get("HVM-shadow-multiplier")),
        "platform": parse_map(r.get("platform", ""))})
        for r in xe.list("vm", params=("uuid", "memory-static-max", "memory-dynamic-max",
                                       "memory-dynamic-min", "VCPUs-max", "VCPUs-at-startup",
                                       "domain-type", "HVM-shadow-multiplier", "platform")))


def read_vifs(xe):
    """[{"uuid", "vm", "network"}] (uuids)."""
    return [{"uuid": r["uuid"], "vm": parse_ref(r.get("vm-uuid")),
             "network": parse_ref(r.get("network-uuid"))}
            for r in xe.list("vif", params=("uuid", "vm-uuid", "network-uuid"))]


def read_networks(xe):
    """[{"uuid", "name_label", "bridge", "other_config"}]."""
    return [{"uuid": r["uuid"], "name_label": r.get("name-label", ""),
             "bridge": r.get("bridge", ""), "other_config": parse_map(r.get("other-config", ""))}
            for r in xe.list("network", params=("uuid", "name-label", "bridge", "other-config"))]


def read_appliances(xe):
    """{uuid: name_label} of the pool's vApps."""
    return dict((r["uuid"], r.get("name-label", ""))
                for r in xe.list("appliance", params=("uuid", "name-label")))


def xapi_date(text):
    """Seconds since the epoch of a date as xe prints it (xapi's ``Date.to_rfc3339``,
    ``20240115T10:20:30Z``, UTC; older records may lack the ``Z``), or None for
    ``<not in database>``, the epoch itself (never set) or anything else."""
    text = parse_ref(text)
    if not text:
        return None
    try:
        epoch = calendar.timegm(time.strptime(text.rstrip("Z"), "%Y%m%dT%H:%M:%S"))
    except ValueError:
        return None
    return epoch or None


GUEST_FIELDS = ("uuid", "name-label", "power-state", "start-time", "PV-drivers-detected",
                "guest-metrics-last-updated", "PV-drivers-version")


def read_guests(xe):
    """{uuid: {"uuid", "name_label", "power_state", "start_time", "metrics",
    "pv_drivers_detected", "metrics_updated", "pv_drivers_version"}}: how each VM last
    started (``start_time``, an epoch on the pool's clock, None if never) and what its guest
    agent reported. ``metrics`` is False for a VM without a guest metrics record (xapi
    clears it at each start: xapi_vm.ml ``start``), then ``pv_drivers_detected`` is None;
    ``metrics_updated`` is its ``last_updated`` (epoch, pool clock)."""
    out = {}
    for r in xe.list("vm", params=GUEST_FIELDS):
        detected = parse_ref(r.get("PV-drivers-detected"))
        out[r["uuid"]] = {
            "uuid": r["uuid"], "name_label": r.get("name-label", ""),
            "power_state": r.get("power-state", ""),
            "start_time": xapi_date(r.get("start-time")), "metrics": detected is not None,
            "pv_drivers_detected": None if detected is None else _bool(detected),
            "metrics_updated": xapi_date(r.get("guest-metrics-last-updated")),
            "pv_drivers_version": parse_map(parse_ref(r.get("PV-drivers-version")) or "")}
    return out


class PoolSnapshot(object):
    """One pool as the workflows read it: each class of object listed by one xe call when it
    is first needed, then kept (never one call per object). :meth:`read` makes several of
    those calls at once: they are independent, and each costs a round trip.

    ``pool`` and ``hosts`` are the value objects above; everything else is plain (see the
    ``read_*`` functions): uuids, str, int, bool, dict, list, None."""

    _READERS = {"pool": read_pool, "hosts": read_hosts, "srs": read_srs, "pbds": read_pbds,
                "vdis": read_vdis, "vbds": read_vbds, "vms": read_vms,
                "networks": read_networks, "appliances": read_appliances,
                "vm_resources": read_vm_resources, "vifs": read_vifs}

    def __init__(self, xe, pool=None, hosts=None):
        """``pool`` and ``hosts``, when the caller has read them already, are not read
        again."""
        self._xe = xe
        self._facts = {}
        if pool is not None:
            self._facts["pool"] = pool
        if hosts is not None:
            self._facts["hosts"] = hosts

    def read(self, *names):
        """Read these classes now, all at once (those read already are kept). Returns self."""
        missing = [name for name in names if name not in self._facts]
        if len(missing) == 1:
            self._facts[missing[0]] = self._READERS[missing[0]](self._xe)
        elif missing:
            with ThreadPoolExecutor(max_workers=len(missing)) as reads:
                futures = [(name, reads.submit(self._READERS[name], self._xe))
                           for name in missing]
            for name, future in futures:  # the first failure in the order asked is raised
                self._facts[name] = future.result()
        return self

    def _get(self, name):
        return self.read(name)._facts[name]

    pool = property(lambda self: self._get("pool"))
    hosts = property(lambda self: self._get("hosts"))
    srs = property(lambda self: self._get("srs"))
    pbds = property(lambda self: self._get("pbds"))
    vdis = property(lambda self: self._get("vdis"))
    vbds = property(lambda self: self._get("vbds"))
    vms = property(lambda self: self._get("vms"))
    networks = property(lambda self: self._get("networks"))
    appliances = property(lambda self: self._get("appliances"))
    vm_resources = property(lambda self: self._get("vm_resources"))
    vifs = property(lambda self: self._get("vifs"))

    @property
    def guests(self):
        """{uuid: vm} of the VMs that are neither a control domain nor a snapshot."""
        if "guests" not in self._facts:
            self._facts["guests"] = dict((uuid, vm) for uuid, vm in self.vms.items()
                                         if not vm["control_domain"] and not vm["snapshot"])
        return self._facts["guests"]

    @property
    def editions(self):
        """The hosts' licence editions, sorted, each once."""
        return sorted({host.edition for host in self.hosts})

    def sr_name(self, uuid):
        return self.srs.get(uuid, {}).get("name_label", uuid)

    def metadata_copies(self):
        """[{"vdi", "sr", "pool", "latest", "local", "size"}]: the metadata VDIs the pool
        sees; ``local`` is a copy of this pool's own database (a replication target)."""
        pool_uuid = self.pool.uuid
        return [{"vdi": v["uuid"], "sr": v["sr"], "pool": v["metadata_of_pool"],
                 "latest": v["metadata_latest"], "local": v["metadata_of_pool"] == pool_uuid,
                 "size": v["size"]}
                for v in self.vdis.values() if v["type"] == "Metadata"]

    def attached_to_dom0(self, vdi_uuid):
        """Whether a control domain has this VDI plugged (a redo log writing to it)."""
        vms = self.vms
        return any(v["vdi"] == vdi_uuid and v["attached"] and
                   vms.get(v["vm"], {}).get("control_domain") for v in self.vbds)

