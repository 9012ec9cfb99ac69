"""What can be recovered: the metadata copies a pool can see, and the source pools in them.

Two ways to read a foreign database, with the same results where both can know a fact:

- the xe-dr host plugin (``inventory`` function): one database open per copy, and it sees
  everything the XenAPI sees: vApp membership, the SRs and networks each VM needs;
- plain xe with ``database:vdi-uuid=``: one database open per call (reference §2.3), and
  reference fields print ``<not in database>``, so vApp membership and per-VM SRs and
  networks are unknown (``None``) until recovery or an assert tells them.

Both read the pool's ``other-config:xe-dr-heartbeat`` (xe_dr/marks.py): the time of the last
heartbeat the copy received, so how old the copy is (a plugin older than version 4 does not
answer it).
"""

from xe_dr.dr.plugin import call_json, malformed
from xe_dr.dr.protection import classify_vms, metadata_srs
from xe_dr.marks import HEARTBEAT_KEY, RUN_TAG
from xe_dr.pool import PoolSnapshot, int_or, read_pool, read_vdis
from xe_dr.xe.records import parse_map, parse_ref, parse_set, parse_tags

UNKNOWN = None  # a fact that this way of reading cannot know
#: The plugin version that answers the pool's heartbeat in its inventory.
PLUGIN_HEARTBEAT_VERSION = 4


class MetadataCopy(object):
    """One metadata VDI seen by the pool (reference §1.1, §1.5)."""

    def __init__(self, vdi_uuid, sr_uuid, pool_uuid, latest, local, size=0, generation=None):
        self.vdi_uuid = vdi_uuid
        self.sr_uuid = sr_uuid
        self.pool_uuid = pool_uuid   # None when xapi's foreign cache has nothing for it
        self.latest = latest
        self.local = local           # a copy of this pool's own database (a replication target)
        self.size = size
        self.generation = generation

    @classmethod
    def from_vdi(cls, vdi, local_pool_uuid):
        """From a VDI as xe_dr.pool.read_vdis gives it."""
        pool_uuid = vdi["metadata_of_pool"]
        return cls(vdi["uuid"], vdi["sr"], pool_uuid, vdi["metadata_latest"],
                   pool_uuid == local_pool_uuid, vdi["size"])

    def to_json(self):
        return dict(self.__dict__)


def read_sources(xe, copies, master_uuid, plugin, keep=None):
    """One SourcePool per source pool, from its newest copy.

    ``keep`` (a run id, with the plugin): the plugin keeps each foreign database open for the
    recoveries of that run, which release it (failover.py).

    Several copies of one pool can all be "latest" (the same highest generation on several
    SRs, reference §1.5): only the first of each pool is read, so that nothing is listed or
    recovered twice. A copy whose pool xapi's cache does not know (``<not in database>``) is
    read to learn it.
    """
    sources, seen = [], set()
    for copy in sorted((c for c in copies if c.latest and not c.local),
                       key=lambda c: (c.pool_uuid is None, c.sr_uuid or "", c.vdi_uuid)):
        if copy.pool_uuid is not None and copy.pool_uuid in seen:
            continue
        source = read_with_plugin(xe, master_uuid, copy, keep) if plugin else \
            read_with_xe(xe, copy)
        if source.uuid in seen:
            continue
        seen.add(source.uuid)
        sources.append(source)
    return sources


def find_metadata_copies(xe, local_pool_uuid):
    """Every metadata VDI the pool can see (one xe call)."""
    return [MetadataCopy.from_vdi(v, local_pool_uuid)
            for v in read_vdis(xe, metadata_only=True).values()]


class SourceVM(object):
    def __init__(self, uuid, name_label, power_state="halted", version=0, order=0,
                 start_delay=0, shutdown_delay=0, ha_restart_priority="", memory=0, vcpus=0,
                 appliance=UNKNOWN, srs=UNKNOWN, networks=UNKNOWN, xe_dr_run="", vifs=UNKNOWN,
                 disks=UNKNOWN, tags=UNKNOWN):
        self.uuid = uuid
        self.name_label = name_label
        self.power_state = power_state
        self.version = version
        self.order = order
        self.start_delay = start_delay
        self.shutdown_delay = shutdown_delay
        self.ha_restart_priority = ha_restart_priority
        self.memory = memory
        self.vcpus = vcpus
        self.appliance = appliance   # vApp UUID, "" for none, None for unknown
        self.srs = srs               # [{"uuid","name_label","type","shared","present","attached"}]
        # [{"name_label","bridge","mtu","exists_here","matched_by"}]: its own and its
        # snapshots' networks
        self.networks = networks
        self.vifs = vifs             # [{"device","mac","network_name_label","network_bridge"}]
        self.disks = disks           # [{"vdi","name_label","device","sr","here"}] (plugin)
        self.xe_dr_run = xe_dr_run   # the run that recovered it at the other site, if any
        self.tags = tags             # its xapi tags, None when unknown (a plugin before 6)

    def to_json(self):
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data):
        return cls(**data)


class SourceAppliance(object):
    def __init__(self, uuid, name_label, name_description="", vms=UNKNOWN):
        self.uuid = uuid
        self.name_label = name_label
        self.name_description = name_description
        self.vms = vms               # member VM UUIDs, None when unknown (plain xe)

    def to_json(self):
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data):
        return cls(**data)


class SourcePool(object):
    """The content of one metadata copy: the pool that wrote it, its hosts, VMs and vApps."""

    def __init__(self, copy, uuid, name_label, hosts, vms, appliances, via, heartbeat=None,
                 heartbeat_unread=None):
        self.copy = copy
        self.uuid = uuid
        self.name_label = name_label
        self.hosts = hosts            # [{"uuid","name_label","software_version": {...}}]
        self.vms = vms                # [SourceVM]
        self.appliances = appliances  # [SourceAppliance]
        self.via = via                # "plugin", "xe", "xe, members from the live pool", "live"
        # The pool's heartbeat in this copy (UTC text, as status wrote it), None when it has
        # none; heartbeat_unread: why it could not be read (None: it was).
        self.heartbeat = heartbeat
        self.heartbeat_unread = heartbeat_unread

    def vm(self, uuid):
        for vm in self.vms:
            if vm.uuid == uuid:
                return vm
        return None

    def standalone_vms(self):
        """VMs in no vApp; with plain xe membership is unknown, so every VM is listed."""
        return [vm for vm in self.vms if not vm.appliance]

    def to_json(self):
        return {"vdi": self.copy.vdi_uuid, "sr": self.copy.sr_uuid, "uuid": self.uuid,
                "name_label": self.name_label, "generation": self.copy.generation,
                "hosts": self.hosts, "via": self.via, "heartbeat": self.heartbeat,
                "heartbeat_unread": self.heartbeat_unread,
                "vms": [vm.to_json() for vm in self.vms],
                "appliances": [a.to_json() for a in self.appliances]}


# -- reading a copy through the plugin --------------------------------------------------------

def read_with_plugin(xe, master_uuid, copy, keep=None):
    args = {"vdi": copy.vdi_uuid}
    if keep:
        args["keep"] = keep
    data = call_json(xe, master_uuid, "inventory", args,
                     required=("pool", "hosts", "vms", "appliances"))
    try:
        return _source_from_plugin(copy, data)
    except (KeyError, TypeError, ValueError, AttributeError) as failure:
        raise malformed("inventory", failure)


def _source_from_plugin(copy, data):
    copy.generation = data.get("generation", copy.generation)
    pool = data["pool"]
    vms = [SourceVM(
        uuid=v["uuid"], name_label=v["name_label"], power_state=v["power_state"],
        version=v["version"], order=v["order"], start_delay=v["start_delay"],
        shutdown_delay=v["shutdown_delay"], ha_restart_priority=v["ha_restart_priority"],
        memory=v["memory"], vcpus=v["vcpus"], appliance=v["appliance"] or "",
        srs=v["srs"], networks=v["networks"], xe_dr_run=v.get("xe_dr_run", ""),
        vifs=v.get("vifs"), disks=v.get("disks"), tags=v.get("tags"))
        for v in data["vms"]]
    appliances = [SourceAppliance(a["uuid"], a["name_label"], a.get("name_description", ""),
                                  a["vms"]) for a in data["appliances"]]
    unread = None if "heartbeat" in pool else \
        "the host plugin is older than version %d: 'xe-dr plugin install' updates it" % \
        PLUGIN_HEARTBEAT_VERSION
    return SourcePool(copy, pool["uuid"], pool["name_label"], data["hosts"], vms, appliances,
                      "plugin", heartbeat=pool.get("heartbeat") or None, heartbeat_unread=unread)


# -- reading a copy with plain xe -------------------------------------------------------------

VM_FIELDS = ("uuid", "name-label", "power-state", "version", "order", "start-delay",
             "shutdown-delay", "ha-restart-priority", "memory-static-max", "VCPUs-max",
             "other-config", "tags")


def _vm_of_record(r, appliance):
    return SourceVM(
        uuid=r["uuid"], name_label=r.get("name-label", ""),
        power_state=r.get("power-state", "halted"), version=int_or(r.get("version")),
        order=int_or(r.get("order")), start_delay=int_or(r.get("start-delay")),
        shutdown_delay=int_or(r.get("shutdown-delay")),
        ha_restart_priority=r.get("ha-restart-priority", ""),
        memory=int_or(r.get("memory-static-max")), vcpus=int_or(r.get("VCPUs-max")),
        appliance=appliance, xe_dr_run=parse_map(r.get("other-config", "")).get(RUN_TAG, ""),
        tags=parse_tags(r.get("tags", "")))


def _hosts_of_records(hosts):
    return [{"uuid": h["uuid"], "name_label": h.get("name-label", ""),
             "edition": h.get("edition", ""),
             "software_version": parse_map(h.get("software-version", ""))} for h in hosts]


def read_with_xe(xe, copy):
    """Four database opens: pool, hosts, VMs, vApps (batched with params=, reference §2.3)."""
    database = {"vdi-uuid": copy.vdi_uuid}
    pools = xe.list("pool", params=("uuid", "name-label", "other-config"), database=database)
    hosts = xe.list("host", params=("uuid", "name-label", "software-version", "edition"),
                    database=database)
    records = xe.list("vm", params=VM_FIELDS, filters={"is-control-domain": "false"},
                      database=database)
    appliances = xe.list("appliance", params=("uuid", "name-label", "name-description"),
                         database=database)
    pool = pools[0] if pools else {"uuid": copy.pool_uuid, "name-label": ""}
    # <not in database> for members and non-members alike (reference §2.3): unknown
    vms = [_vm_of_record(r, UNKNOWN if appliances else "") for r in records]
    return SourcePool(
        copy, pool["uuid"], pool.get("name-label", ""), _hosts_of_records(hosts), vms,
        [SourceAppliance(a["uuid"], a.get("name-label", ""), a.get("name-description", ""))
         for a in appliances],
        "xe", heartbeat=parse_map(pool.get("other-config", "")).get(HEARTBEAT_KEY) or None)


def read_foreign_networks(xe, vdi_uuid):
    """The networks of a foreign database, with plain xe (one database open): name, bridge,
    MTU and whether any VIF uses them (their VIF references print ``<not in database>``, so
    only that there are some can be told, not whose)."""
    records = xe.list("network", params=("uuid", "name-label", "bridge", "MTU", "VIF-uuids"),
                      database={"vdi-uuid": vdi_uuid})
    return [{"name_label": r.get("name-label", ""), "bridge": r.get("bridge", ""),
             "mtu": int_or(r.get("MTU"), 1500), "in_use": bool(parse_set(r.get("VIF-uuids", "")))}
            for r in records]


def _live_networks(xe, vms):
    """Each live VM's networks and VIFs (its snapshots' networks too), in the plugin's
    shape: the references of a live pool resolve."""
    networks = dict((r["uuid"], r) for r in xe.list(
        "network", params=("uuid", "name-label", "bridge", "MTU")))
    snapshots = {}
    for r in xe.list("snapshot", params=("uuid", "snapshot-of")):
        snapshots.setdefault(r.get("snapshot-of"), []).append(r["uuid"])
    vifs = {}
    for r in xe.list("vif", params=("vm-uuid", "network-uuid", "device", "MAC")):
        vifs.setdefault(r.get("vm-uuid"), []).append(r)
    for vm in vms:
        own = sorted(vifs.get(vm.uuid, ()), key=lambda r: int_or(r.get("device"), 0))
        vm.vifs = [{"device": r.get("device"), "mac": r.get("MAC"),
                    "network_name_label": networks.get(r.get("network-uuid"), {}).get(
                        "name-label"),
                    "network_bridge": networks.get(r.get("network-uuid"), {}).get("bridge")}
                   for r in own]
        seen, vm.networks = set(), []
        for r in own + [v for s in snapshots.get(vm.uuid, ()) for v in vifs.get(s, ())]:
            net = networks.get(r.get("network-uuid"))
            if net is None or net["uuid"] in seen:
                continue
            seen.add(net["uuid"])
            vm.networks.append({"name_label": net.get("name-label", ""),
                                "bridge": net.get("bridge", ""),
                                "mtu": int_or(net.get("MTU"), 1500)})


# -- reading the source pool itself, before a disaster -----------------------------------------

def learn_membership(sources, xe):
    """Plain xe cannot tell a vApp's members in a foreign database (reference §2.3). When the
    pool that wrote a copy is reachable (a failback: the DR site is up), its live references
    tell them: fill them in for the copies of that pool. A VM the live pool no longer has
    keeps "unknown"."""
    pool_uuid = read_pool(xe).uuid
    mine = [s for s in sources if s.uuid == pool_uuid and s.via == "xe"]
    if not mine:
        return
    live = dict((r["uuid"], parse_ref(r.get("appliance", "")) or "") for r in xe.list(
        "vm", params=("uuid", "appliance"), filters={"is-control-domain": "false"}))
    for source in mine:
        for vm in source.vms:
            if vm.uuid in live:
                vm.appliance = live[vm.uuid]
        for appliance in source.appliances:
            appliance.vms = sorted(vm.uuid for vm in source.vms
                                   if vm.appliance == appliance.uuid)
        source.via = "xe, members from the live pool"



def read_live_source(xe):
    """The source pool as its metadata copies describe it, read from the live pool (a plan or
    runbook made before a disaster, when the DR site cannot see the copies yet): real
    references, so vApp membership is known. Returns (SourcePool, {vm uuid: status class}),
    the class as ``xe-dr status`` gives it (protected, at-risk, unrecoverable, ignored)."""
    facts = PoolSnapshot(xe).read("pool", "hosts", "srs", "vdis", "vbds", "vms")
    protection = dict((v["uuid"], v) for v in classify_vms(facts, metadata_srs(facts)))
    records = xe.list("vm", params=VM_FIELDS + ("appliance",), filters={
        "is-control-domain": "false", "is-a-snapshot": "false", "is-a-template": "false"})
    appliances = xe.list("appliance", params=("uuid", "name-label", "name-description"))
    hosts = [{"uuid": h.uuid, "name_label": h.name_label, "edition": h.edition,
              "software_version": h.software_version} for h in facts.hosts]
    vms = [_vm_of_record(r, parse_ref(r.get("appliance", "")) or "") for r in records]
    _live_networks(xe, vms)
    copy = MetadataCopy(None, None, facts.pool.uuid, True, False)
    return SourcePool(
        copy, facts.pool.uuid, facts.pool.name_label, hosts, vms,
        [SourceAppliance(a["uuid"], a.get("name-label", ""), a.get("name-description", ""),
                         sorted(v.uuid for v in vms if v.appliance == a["uuid"]))
         for a in appliances],
        "live"), protection
