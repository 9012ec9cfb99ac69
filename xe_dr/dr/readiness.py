"""The DR site's readiness (``xe-dr status --peer``): could the DR pool take the protected VMs
over now? A green replication status over a DR pool that could not hold the site is a false
green, so the DR pool is read (it is never changed) and checked for:

- **memory**: what the protected VMs *running (or paused) at the source* need to start (the
  load the DR site takes over; halted ones are counted in a note, not in the figures: a
  failover with ``--power start`` starts them too) against the DR pool's free memory. Both as
  xapi computes them when it starts a VM (xapi-project/xen-api): the need is
  ``Memory_check.vm_compute_start_memory`` (ocaml/xapi/memory_check.ml) with the policy of
  ``Xapi_vm_helpers.assert_enough_memory_available`` (dynamic-min, static-max for pv-in-pvh)
  and the overheads of ocaml/xapi-idl/memory/memory.ml (``start_memory`` below); a host's
  free memory is ``Host.compute_free_memory`` (``xe host-compute-free-memory``,
  xapi_host.ml ``compute_free_memory`` -> memory_check.ml
  ``host_compute_free_memory_with_maximum_compression``: total less the host's overhead and
  every resident VM at dynamic-min + overhead), the figure that start check compares, not
  the ``memory-free`` the hosts report (an asynchronous metric, memory_check.ml says). Only
  enabled hosts count (a disabled host starts nothing);
- **CPUs**: the vCPUs of those VMs (VCPUs-at-startup) and the DR pool's pCPUs (each host's
  ``cpu_info`` ``cpu_count``, Cpuid_helpers.cpu_count). More vCPUs than pCPUs is allowed
  (Xen shares them); a VM whose VCPUs-max exceeds a host's pCPUs cannot start there
  (xapi_vm_helpers.ml ``assert_enough_pcpus``: HOST_NOT_ENOUGH_PCPUS, unless
  ``platform:vcpu-unrestricted`` is true);
- **VMs too big**: a counted VM that fits on no single DR host (memory or vCPUs);
- **placement**: free memory that adds up may still not divide among the VMs (each starts on
  one host): placed largest first, each on the host it fits best (``unplaced``), a VM left
  without room is a problem;
- **networks**: each network the protected VMs' VIFs use must exist at the DR site by name
  (import.ml's rule, xe_dr/dr/networks.py ``match``); one matched by bridge only is a note
  (its VIFs join that network); a missing one is a problem (a failover would make an
  isolated network of that name, or needs ``--map-network``);
- **the plugin**: every DR host answers the xe-dr plugin's ``version`` (not checked with
  ``--no-plugin``);
- **mirrored LUNs**: the LUN carrying each replication SR's mirror is visible to every DR
  host, found by ``sr-probe`` listings that change nothing (xe_dr/dr/mirror_luns.py);
- **attached at both sites**: an SR of the protected pool attached in the DR pool too (two
  pools writing one SR corrupt it).

An unreachable DR pool is an error (status turns it into UNKNOWN); an error the DR pool
answers to one check (a probe that fails, a plugin that fails) is that check's failure.
"""

from xe_dr.dr.mirror_luns import each as _each, mirror_visibility, names as _names
from xe_dr.dr.networks import BRIDGE, match
from xe_dr.dr.plugin import ask_version, failure_line
from xe_dr.dr.plugin_install import bundled_version
from xe_dr.dr.protection import PROTECTED
from xe_dr.errors import UsageError
from xe_dr.pool import Host, PoolSnapshot, int_or
from xe_dr.xe.records import parse_map
from xe_dr.marks import LAST_DRILL_KEY, parse_last_drill

MIB = 1024 * 1024
GIB = 1024 * MIB
RUNNING = ("running", "paused")
HOST_FIELDS = Host.FIELDS + ("cpu_info", "memory-total")

# -- xapi's memory model (ocaml/xapi-idl/memory/memory.ml) ------------------------------------
# (extra internal MiB, extra external MiB, has a shim) per domain type: HVM_memory_model_data
# (hvm, pvh), Linux_memory_model_data (pv), PVinPVH_memory_model_data (shim 23 + static/90).
_MODELS = {"hvm": (1, 1, False), "pvh": (1, 1, False), "pv": (0, 1, False),
           "pv_in_pvh": (1, 1, True)}
# CA-423172 (xen-api ec3bd4a887, first in v26.3.0): 38 more pages per vCPU in the overhead.
VCPU_EXTRA_PAGES, VCPU_EXTRA_SINCE = 38, (26, 3)


def _up(value, unit):
    return -(-int(value) // unit)


def start_memory(resources, vcpu_extra_pages=0):
    """Bytes a VM needs free on a host to start: Memory_check.vm_compute_start_memory (normal
    + shadow) under the policy of assert_enough_memory_available. ``resources``: as
    xe_dr.pool.read_vm_resources gives them."""
    kind = (resources.get("domain_type") or "hvm").replace("-", "_")
    if kind not in _MODELS:
        kind = "hvm"  # "unspecified": xapi refuses to start it at all (check_domain_type)
    internal, external, shim = _MODELS[kind]
    static_max_mib = _up(resources["memory_static_max"], MIB)
    required = resources["memory_static_max"] if kind == "pv_in_pvh" else \
        resources["memory_dynamic_min"]
    target_mib = _up(_up(required, 1024), 1024)  # kib_of_bytes_used, then mib_of_kib_used
    vcpus = max(1, resources["vcpus_max"])
    # Linux.full_config uses the default multiplier (1.0); the others the VM's own
    multiplier = 1.0 if kind == "pv" else resources.get("shadow_multiplier", 1.0)
    shadow_mib = max(1, int(float(_up(256 * vcpus + 2 * static_max_mib, 256)) * multiplier))
    overhead_mib = internal + external + shadow_mib + _up(vcpu_extra_pages * vcpus, 256) + (
        23 + static_max_mib // 90 if shim else 0)
    return (target_mib + overhead_mib) * MIB


def vcpu_extra_pages(host):
    """The per-vCPU pages of CA-423172 for a host's xapi version (0 before v26.3.0)."""
    text = host.xapi_build or host.software_version.get("xapi") or ""
    try:
        version = tuple(int(part) for part in text.split(".")[:2])
    except ValueError:
        return VCPU_EXTRA_PAGES  # unknown: the newer, larger figure
    return VCPU_EXTRA_PAGES if version >= VCPU_EXTRA_SINCE else 0


def _unrestricted(resources):
    """platform:vcpu-unrestricted, as Vm_platform.is_true reads it (default false)."""
    return (resources.get("platform") or {}).get("vcpu-unrestricted", "").lower() in (
        "true", "1")


# -- the entry point --------------------------------------------------------------------------

def dr_readiness(facts, vms, targets, peer_xe, use_plugin=True):
    """The DR pool (``peer_xe``: an Xe for its master) against the protected site:
    ``facts`` its PoolSnapshot, ``vms`` classify_vms's list, ``targets`` the status
    document's replication list. Plain values (see the module's doc); raises when the DR
    pool cannot be reached."""
    records = peer_xe.list("host", params=HOST_FIELDS)  # the first call: is it there?
    hosts = [Host.from_record(r) for r in records]
    cpus = dict((r["uuid"], int_or(parse_map(r.get("cpu_info", "")).get("cpu_count")))
                for r in records)
    totals = dict((r["uuid"], int_or(r.get("memory-total"), None)) for r in records)
    peer = PoolSnapshot(peer_xe, hosts=hosts).read("pool", "srs", "pbds", "networks")
    if peer.pool.uuid == facts.pool.uuid:
        # Else every SR of the pool is "attached at both sites", each with "detach it
        # there now": the pool's own SRs, on the worst day.
        raise UsageError("--peer reaches pool %s (%s), the pool being checked, not its DR "
                         "site" % (facts.pool.name_label or "-", facts.pool.uuid),
                         hint="give the DR pool's master with --peer")
    facts.read("srs", "pbds", "networks", "vifs", "vm_resources")
    result = {
        "checked": True,
        "pool": {"uuid": peer.pool.uuid, "name_label": peer.pool.name_label,
                 "last_drill": parse_last_drill(peer.pool.other_config.get(LAST_DRILL_KEY))},
        "memory_needed_bytes": 0, "memory_free_bytes": 0, "vcpus_needed": 0, "cpus": 0,
        "vms_counted": 0, "vms_too_big": [], "networks_missing": [],
        "hosts_without_plugin": [], "plugin_checked": bool(use_plugin),
        "luns_invisible": [], "luns_unchecked": [], "attached_at_both": [],
        "hosts": [], "problems": [], "notes": []}
    _capacity(result, facts, vms, peer, peer_xe, cpus, totals)
    _networks(result, facts, vms, peer.networks)
    _plugin(result, peer, peer_xe, use_plugin)
    mirror_visibility(result, facts, targets, peer, peer_xe)
    _attached_at_both(result, facts, targets, peer)
    return result


def _gib(size):
    return "%.1f GiB" % (size / float(GIB))


# -- memory and CPUs --------------------------------------------------------------------------

def _capacity(result, facts, vms, peer, peer_xe, cpus, totals):
    master = [h for h in peer.hosts if h.uuid == peer.pool.master] or peer.hosts
    extra = vcpu_extra_pages(master[0]) if master else 0
    enabled = [h for h in peer.hosts if h.enabled]
    free = dict(zip([h.uuid for h in enabled], _each(lambda h: int_or(peer_xe.value(
        "host-compute-free-memory", {"uuid": h.uuid})), enabled)))
    for host in peer.hosts:
        result["hosts"].append({
            "uuid": host.uuid, "name_label": host.name_label, "enabled": host.enabled,
            "memory_total_bytes": totals.get(host.uuid),
            "memory_free_bytes": free.get(host.uuid), "cpus": cpus.get(host.uuid, 0),
            "plugin_version": None})
    disabled = [h.name_label for h in peer.hosts if not h.enabled]
    if disabled:
        result["notes"].append("DR host(s) %s are disabled: their memory and CPUs are not "
                               "counted (xe host-enable)" % _names(disabled))
    result["memory_free_bytes"] = sum(free.values())
    result["cpus"] = sum(cpus.get(h.uuid, 0) for h in enabled)

    protected = [vm for vm in vms if vm["class"] == PROTECTED]
    counted = [vm for vm in protected if vm["power_state"] in RUNNING]
    halted = len(protected) - len(counted)
    if halted:
        result["notes"].append("%d protected VM(s) halted at the source are not counted in the "
                               "memory and CPU figures (a failover with --power start starts "
                               "them too)" % halted)
    resources = facts.vm_resources
    result["vms_counted"] = len(counted)
    most_free = max(free.values() or [0])
    most_cpus = max([cpus.get(h.uuid, 0) for h in enabled] or [0])
    too_big, reasons, fitting = [], [], []
    for vm in counted:
        res = resources.get(vm["uuid"])
        if res is None:  # gone since the VMs were listed
            continue
        need = start_memory(res, extra)
        result["memory_needed_bytes"] += need
        result["vcpus_needed"] += res["vcpus_at_startup"]
        unrestricted = _unrestricted(res)
        if any(free[h.uuid] >= need and (unrestricted or res["vcpus_max"] <= cpus.get(
                h.uuid, 0)) for h in enabled):
            fitting.append((vm["name_label"], need, res["vcpus_max"], unrestricted))
            continue
        too_big.append(vm["name_label"])
        why = []
        if need > most_free:
            why.append("needs %s free to start, the most a DR host has is %s" % (
                _gib(need), _gib(most_free)))
        if not unrestricted and res["vcpus_max"] > most_cpus:
            why.append("has %d vCPUs, more than the %d pCPUs of any DR host "
                       "(HOST_NOT_ENOUGH_PCPUS)" % (res["vcpus_max"], most_cpus))
        if not why:
            why.append("no DR host has both %s free and %d pCPUs" % (_gib(need),
                                                                     res["vcpus_max"]))
        reasons.append("%s %s" % (vm["name_label"], " and ".join(why)))
    result["vms_too_big"] = too_big
    result["vms_unplaced"] = []
    if result["memory_needed_bytes"] > result["memory_free_bytes"]:
        result["problems"].append(
            "the DR pool has %s free for the %s the %d running protected VM(s) need to start "
            "(xapi's start check): add memory or hosts at the DR site, or free memory there"
            % (_gib(result["memory_free_bytes"]), _gib(result["memory_needed_bytes"]),
               len(counted)))
    else:
        homeless = unplaced(fitting, enabled, free, cpus)
        result["vms_unplaced"] = homeless
        if homeless:
            result["problems"].append(
                "the DR hosts' free memory adds up to what the running protected VMs need but "
                "does not divide among them: each VM starts on one host, and placed largest "
                "first, each where it fits best, %d VM(s) find no host with room (%s): add "
                "memory or hosts at the DR site, or free memory there" % (
                    len(homeless), _names(homeless, 5)))
    if too_big:
        result["problems"].append(
            "%d protected VM(s) fit on no DR host: %s: give a DR host more memory or pCPUs, "
            "or make the VM smaller" % (len(too_big), "; ".join(reasons[:5]) + (
                "; and %d more" % (len(reasons) - 5) if len(reasons) > 5 else "")))


def unplaced(vms, hosts, free, cpus):
    """The names of the VMs ``(name, bytes needed, VCPUs-max, vcpu-unrestricted)`` left
    without a host when each is placed, largest first, on the host it leaves with the least
    free memory among those with room and enough pCPUs (best fit decreasing). Each fits on
    some host alone; together a site whose free memory adds up may still not hold them (two
    hosts with 6 GiB free each and three 4 GiB VMs). A heuristic, as xapi's own placement is:
    what it places, xapi can start."""
    left = dict((h.uuid, free[h.uuid]) for h in hosts)
    homeless = []
    for name, need, vcpus, unrestricted in sorted(vms, key=lambda v: (-v[1], v[0])):
        room = [h for h in hosts if left[h.uuid] >= need
                and (unrestricted or vcpus <= cpus.get(h.uuid, 0))]
        if not room:
            homeless.append(name)
            continue
        best = min(room, key=lambda h: left[h.uuid])
        left[best.uuid] -= need
    return homeless


# -- networks ---------------------------------------------------------------------------------

def _networks(result, facts, vms, peer_networks):
    protected = dict((vm["uuid"], vm["name_label"]) for vm in vms if vm["class"] == PROTECTED)
    local = dict((n["uuid"], n) for n in facts.networks)
    users = {}
    for vif in facts.vifs:
        if vif["vm"] in protected and vif["network"] in local:
            names = users.setdefault(vif["network"], [])
            if protected[vif["vm"]] not in names:
                names.append(protected[vif["vm"]])
    for uuid in sorted(users, key=lambda u: local[u]["name_label"]):
        network = local[uuid]
        found, how = match(peer_networks, network["name_label"], network["bridge"])
        if found is None:
            result["networks_missing"].append(network["name_label"])
            result["problems"].append(
                "network %s, used by %d protected VM(s) (%s), does not exist at the DR site: "
                "create it there with its uplink (xe network-create name-label=%s, then its "
                "VLAN or bond), or plan the failover with --map-network %s=NETWORK" % (
                    network["name_label"], len(users[uuid]), _names(users[uuid], 3),
                    network["name_label"], network["name_label"]))
        elif how == BRIDGE:
            result["notes"].append(
                "network %s has no namesake at the DR site: its VIFs would join %s, the DR "
                "network on the same bridge %s" % (network["name_label"], found["name_label"],
                                                   network["bridge"]))


# -- the plugin -------------------------------------------------------------------------------

def _plugin(result, peer, peer_xe, use_plugin):
    if not use_plugin:
        result["notes"].append("the xe-dr plugin of the DR hosts was not checked (--no-plugin)")
        return
    answers = _each(lambda h: ask_version(peer_xe, h.uuid), peer.hosts)
    bundled = bundled_version()
    missing, failing, older = [], [], []
    for host, entry, (version, failure) in zip(peer.hosts, result["hosts"], answers):
        entry["plugin_version"] = version
        if version is None:
            result["hosts_without_plugin"].append(host.name_label)
            if failure is None:
                missing.append(host.name_label)
            else:
                failing.append("%s (%s)" % (host.name_label, failure_line(failure)))
        elif bundled and version != bundled:
            older.append("%s has %s" % (host.name_label, version))
    if missing:
        result["problems"].append(
            "the xe-dr plugin is not installed on DR host(s) %s: install it with "
            "'xe-dr -H <DR master> plugin install'" % _names(missing))
    for text in failing:
        result["problems"].append("the xe-dr plugin does not answer on DR host %s: "
                                  "'xe-dr -H <DR master> plugin install' reinstalls it" % text)
    if older:
        result["notes"].append("the xe-dr plugin on the DR hosts is not this xe-dr's (%s): "
                               "%s; 'xe-dr -H <DR master> plugin install' updates it" % (
                                   bundled, _names(older)))


# -- SRs attached at both sites ---------------------------------------------------------------

def _attached_at_both(result, facts, targets, peer):
    """An SR of the protected pool attached in the DR pool too: two pools writing one SR (two
    LVM masters on one VG) corrupt it."""
    metadata = set(t["sr"] for t in targets)
    attached = set(p["sr"] for p in peer.pbds if p["attached"])
    for uuid in sorted(attached & set(facts.srs), key=facts.sr_name):
        result["attached_at_both"].append(facts.sr_name(uuid))
        result["problems"].append(
            "%s %s is also attached to the other site's pool: detach it there now (two pools "
            "on one LUN corrupt it)" % ("metadata SR" if uuid in metadata else "SR",
                                        facts.sr_name(uuid)))
