"""A recovery plan (xe_dr/dr/recovery_plan.py) against the pools: made from the source pool
as it is (``plan init``), checked against it and, when reachable, the DR pool (``plan
validate``), and resolved for a person to read (``plan show``, with ``--at`` against the DR
pool before any storage is attached there). Reads only; plain values out.
"""

import ipaddress

from xe_dr.dr import plan_addresses, recovery_plan
from xe_dr.dr.protection import IGNORED, PROTECTED, classify_vms, metadata_srs
from xe_dr.dr.readiness import HOST_FIELDS, start_memory, unplaced
from xe_dr.pool import Host, PoolSnapshot, int_or
from xe_dr.xe.records import parse_map, parse_ref, parse_tags

VM_FIELDS = ("uuid", "name-label", "appliance", "order", "start-delay", "tags", "power-state",
             "networks", "is-control-domain", "is-a-snapshot")


class SourcePool(object):
    """What a plan is made from and checked against: the source pool's VMs (each with its
    protection, vApp, xapi order, tags, networks by VIF device and the IPv4 and IPv6
    addresses its guest reported), its vApps and its pool record."""

    def __init__(self, xe):
        facts = PoolSnapshot(xe).read("pool", "srs", "pbds", "vdis", "vbds", "vms",
                                      "vm_resources")
        self.pool = facts.pool
        self.resources = facts.vm_resources
        classes = dict((vm["uuid"], vm) for vm in classify_vms(facts, metadata_srs(facts)))
        networks = dict((r["uuid"], r.get("name-label", ""))
                        for r in xe.list("network", params=("uuid", "name-label")))
        vifs = {}
        for r in xe.list("vif", params=("vm-uuid", "device", "network-uuid")):
            vifs.setdefault(r.get("vm-uuid"), {})[r.get("device", "")] = networks.get(
                r.get("network-uuid"), r.get("network-uuid"))
        self.appliances = dict((r["uuid"], r.get("name-label", ""))
                               for r in xe.list("appliance", params=("uuid", "name-label")))
        self.vms = {}
        for r in xe.list("vm", params=VM_FIELDS):
            if r.get("is-control-domain") == "true" or r.get("is-a-snapshot") == "true":
                continue
            verdict = classes.get(r["uuid"], {})
            appliance = r.get("appliance", "")
            reported = parse_map(parse_ref(r.get("networks")) or "")
            self.vms[r["uuid"]] = {
                "uuid": r["uuid"], "name_label": r.get("name-label", ""),
                "appliance": appliance if appliance in self.appliances else None,
                "order": int_or(r.get("order")), "start_delay": int_or(r.get("start-delay")),
                "tags": parse_tags(r.get("tags", "")),
                "power_state": r.get("power-state", ""),
                "class": verdict.get("class"), "reason": verdict.get("reason", ""),
                "networks": vifs.get(r["uuid"], {}),
                # (a VM without guest metrics, halted since its boot, reports none)
                "addresses": guest_addresses(reported),
                "addresses6": guest_addresses(reported, 6)}

    def protected(self):
        return [vm for vm in self.vms.values() if vm["class"] == PROTECTED]

    def members(self, appliance):
        return sorted((vm for vm in self.vms.values() if vm["appliance"] == appliance),
                      key=lambda vm: vm["name_label"])


def guest_addresses(networks, version=4):
    """{VIF device: its first address of IP ``version``} from a guest's reported ``networks``
    (guest metrics: ``0/ip`` from older tools, ``0/ipv4/0`` from newer ones; ``0/ipv6/0``,
    ``0/ipv6/1``... in the agent's order, xapi_guest_agent.ml ``networks``, of which the first
    that is not link-local: fe80::/10 is on every IPv6 NIC and moves with no VM)."""
    found = {}
    for key, value in sorted(networks.items(), key=_by_index):
        parts = key.split("/")
        if len(parts) < 2 or not parts[0].isdigit() or not value:
            continue
        if version == 4 and parts[1] in ("ip", "ipv4"):
            found.setdefault(parts[0], value)
        elif version == 6 and parts[1] == "ipv6" and not _link_local(value):
            found.setdefault(parts[0], value)
    return found


def _by_index(item):
    """A ``networks`` key in the agent's order: ``0/ipv6/10`` after ``0/ipv6/2``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in item[0].split("/")]


def _link_local(text):
    try:
        return ipaddress.ip_interface(text).ip.is_link_local
    except ValueError:
        return False


def reported_ips(networks):
    """Every address (IPv4 and IPv6, link-local ones left out) a guest's ``networks``
    report, as ipaddress objects."""
    found = set()
    for key, value in networks.items():
        parts = key.split("/")
        if len(parts) >= 2 and parts[1] in ("ip", "ipv4", "ipv6") and value and \
                not _link_local(value):
            try:
                found.add(ipaddress.ip_interface(value).ip)
            except ValueError:
                continue
    return found


def network_targets(plan, dr_xe):
    """[{"source", "target", "at_dr"}]: each network the plan maps, and how it stands at the
    DR pool: "there", "created" (mapped to create and missing: a failover makes it) or
    "missing"."""
    at_dr = _names(dr_xe)
    result = []
    for source, target in sorted(plan["networks"].items()):
        name = source if target == recovery_plan.CREATE else target
        state = "there" if name in at_dr else "created" if target == recovery_plan.CREATE \
            else "missing"
        result.append({"source": source, "target": target, "at_dr": state})
    return result


def _names(xe):
    return set(r.get("name-label", "") for r in xe.list("network", params=("name-label",)))


# -- plan init ---------------------------------------------------------------------------------

def initial_plan(source, dr_xe=None, storage=None, sites=None):
    """A plan of every protected vApp and VM of ``source`` (a SourcePool), in groups by xapi's
    ``order`` (vApps in the first group: a failover starts them beside order group 0), each
    gated as xapi spaces its order groups (the longest ``start-delay`` of the group), the
    networks mapped by name to the DR pool's (``create`` where it has none or was not
    asked), the guests' current addresses recorded (for failback and readdress rules)."""
    protected = dict((vm["uuid"], vm) for vm in source.protected())
    vapps, planned_vapps = [], set()
    for uuid, name in sorted(source.appliances.items(), key=lambda pair: pair[1]):
        members = source.members(uuid)
        if members and all(vm["uuid"] in protected for vm in members):
            vapps.append(name if recovery_plan.listable(name) else uuid)
            planned_vapps.add(uuid)
    standalone = [vm for vm in protected.values() if not vm["appliance"]]
    orders = sorted({vm["order"] for vm in standalone}) or [0]
    groups = []
    for index, order in enumerate(orders):
        members = sorted((vm for vm in standalone if vm["order"] == order),
                         key=lambda vm: vm["name_label"])
        delay = max([vm["start_delay"] for vm in members] or [0])
        gate = {"kind": "delay" if delay else "none", "command": None,
                "seconds": delay or None, "timeout": recovery_plan.DEFAULT_GATE_TIMEOUT,
                "on_timeout": "stop"}
        group = {"name": "order %d" % order, "vapps": vapps if index == 0 else [],
                 "vms": [vm["name_label"] if recovery_plan.listable(vm["name_label"])
                         else vm["uuid"] for vm in members], "tags": [], "gate": gate,
                 "before": None, "after": None,
                 "hook_timeout": recovery_plan.DEFAULT_HOOK_TIMEOUT, "prompt": None}
        if group["vapps"] or group["vms"]:
            groups.append(group)
    planned = [vm for vm in protected.values() if not vm["appliance"] or
               vm["appliance"] in planned_vapps]
    at_dr = _names(dr_xe) if dr_xe is not None else set()
    networks = dict((name, name if name in at_dr else recovery_plan.CREATE)
                    for vm in planned for name in vm["networks"].values())
    return {"schema": recovery_plan.SCHEMA, "name": source.pool.name_label,
            "sites": dict({"source": None, "dr": None, "source_xe": None, "dr_xe": None},
                          **(sites or {})),
            "hooks": {"before": None, "after": None,
                      "timeout": recovery_plan.DEFAULT_HOOK_TIMEOUT}, "reprotect": None,
            "storage": storage or {"target": None, "port": None, "iqn": None,
                                   "chap_user": None, "chap_password_file": None,
                                   "chap_password_secret": None,
                                   "scsiid": [], "hba_scsiid": []},
            "networks": networks, "readdress": [], "groups": groups,
            "vms": dict((vm["name_label"], {"addresses": dict(vm["addresses"]),
                                            "dr_addresses": {},
                                            "addresses6": dict(vm["addresses6"]),
                                            "dr_addresses6": {}, "gateways": {},
                                            "gateways6": {}})
                        for vm in planned if vm["addresses"] or vm["addresses6"])}


# -- resolving -----------------------------------------------------------------------------

def resolve(plan, source):
    """The plan's groups against the source pool: [{"name", "gate", ..., "vapps": [{"uuid",
    "name_label", "members": [VM]}], "vms": [VM]}], and the problems found ("drift", each
    naming what): names that match nothing, a VM in two groups, protected VMs in no group."""
    by_name = {}
    for vm in source.vms.values():
        by_name.setdefault(vm["name_label"], []).append(vm)
    vapps_by_name = {}
    for uuid, name in source.appliances.items():
        vapps_by_name.setdefault(name, []).append(uuid)
    drift, groups, placed = [], [], {}

    def one(kind, name, group):
        found = vapps_by_name.get(name, []) if kind == "vApp" else [
            vm["uuid"] for vm in by_name.get(name, [])]
        if name in source.vms or name in source.appliances:
            found = [name]
        if not found:
            drift.append("%s %s of group %s no longer exists at the source" % (
                kind, name, group))
        elif len(found) > 1:
            drift.append("%s name %s of group %s matches %d (name it by uuid)" % (
                kind, name, group, len(found)))
        return found[0] if len(found) == 1 else None

    for group in plan["groups"]:
        resolved = dict(group, vapps=[], vms=[])
        for name in group["vapps"]:
            uuid = one("vApp", name, group["name"])
            if uuid:
                resolved["vapps"].append({"uuid": uuid, "name_label": source.appliances[uuid],
                                          "members": source.members(uuid)})
        chosen = [one("VM", name, group["name"]) for name in group["vms"]]
        for tag in group["tags"]:
            tagged = [vm["uuid"] for vm in source.vms.values() if tag in vm["tags"]]
            if not tagged:
                drift.append("tag %s of group %s is on no VM at the source" % (
                    tag, group["name"]))
            chosen.extend(tagged)
        for uuid in chosen:
            if uuid and uuid not in [vm["uuid"] for vm in resolved["vms"]]:
                resolved["vms"].append(source.vms[uuid])
        for vapp in resolved["vapps"]:
            for vm in vapp["members"]:
                _place(placed, vm, group["name"], drift, "with vApp %s" % vapp["name_label"])
        for vm in resolved["vms"]:
            if vm["appliance"] and vm["appliance"] in [v["uuid"] for v in resolved["vapps"]]:
                continue  # comes with its vApp
            _place(placed, vm, group["name"], drift, None)
        groups.append(resolved)
    for vm in sorted(source.protected(), key=lambda vm: vm["name_label"]):
        if vm["uuid"] not in placed and IGNORED != vm["class"]:
            drift.append("protected VM %s%s is in no group of the plan" % (
                vm["name_label"], " (vApp %s)" % source.appliances[vm["appliance"]]
                if vm["appliance"] else ""))
    return groups, drift


def _place(placed, vm, group, drift, how):
    if vm["uuid"] in placed and placed[vm["uuid"]] != group:
        drift.append("VM %s is in two groups: %s and %s" % (vm["name_label"],
                                                             placed[vm["uuid"]], group))
    placed.setdefault(vm["uuid"], group)
    if vm["class"] != PROTECTED:
        drift.append("VM %s of group %s is not protected: %s" % (vm["name_label"], group,
                                                                 vm["reason"]))


def planned_vms(groups):
    """Every VM the resolved groups bring back, once, in group order."""
    seen, result = set(), []
    for group in groups:
        for vm in [m for v in group["vapps"] for m in v["members"]] + group["vms"]:
            if vm["uuid"] not in seen:
                seen.add(vm["uuid"])
                result.append(vm)
    return result


def addresses(plan, vms):
    """[{"vm", "device", "family": 4 or 6, "source", "dr": {"address", "gateway"} or None}]
    for each VIF and IP version of the planned VMs with a recorded or reported source address
    of that version, or a DR address of its own: by VM, VIF, then IPv4 before IPv6."""
    result = []
    for vm in vms:
        recorded = plan["vms"].get(vm["name_label"], {})
        pairs = set()
        for version, reported in ((4, vm["addresses"]), (6, vm.get("addresses6") or {})):
            source_key, dr_key = plan_addresses.VM_ADDRESS_KEYS[version]
            pairs.update((device, version) for device in set(reported) | set(
                recorded.get(source_key) or {}) | set(recorded.get(dr_key) or {}))
        for device, version in sorted(pairs, key=lambda pair: (int(pair[0]), pair[1])):
            source_key = plan_addresses.VM_ADDRESS_KEYS[version][0]
            reported = vm["addresses"] if version == 4 else vm.get("addresses6") or {}
            source = (recorded.get(source_key) or {}).get(device) or reported.get(device)
            result.append({"vm": vm["name_label"], "device": device, "family": version,
                           "source": source,
                           "dr": plan_addresses.dr_address(plan, vm["name_label"], device,
                                                          source, version)})
    return result


def _ip(text):
    """The address of ``ADDRESS[/PREFIX]``, as ipaddress has it (one text per address:
    fd00:0::1 is fd00::1), or None if it is none (a guest may report anything)."""
    try:
        return ipaddress.ip_interface(text).ip
    except ValueError:
        return None


def _clashes(entries):
    seen, clashes = {}, []
    for entry in entries:
        if not entry["dr"]:
            continue
        ip = _ip(entry["dr"]["address"])
        if ip is not None and ip in seen:
            clashes.append("DR address %s is given to %s and to %s" % (
                ip, seen[ip], "%s (VIF %s)" % (entry["vm"], entry["device"])))
        else:
            seen[ip] = "%s (VIF %s)" % (entry["vm"], entry["device"])
    return clashes


def in_use_at_dr(entries, dr_xe, planned):
    """Drift lines: each address a planned VIF is to have at the DR site (its DR address, else
    the one it keeps) that a running guest of the DR pool reports now. ``planned``: the uuids
    of the plan's VMs (a copy of one, recovered there before, is not another guest)."""
    used = {}
    for r in dr_xe.list("vm", params=("uuid", "name-label", "networks"),
                        filters={"is-control-domain": "false", "power-state": "running"}):
        if r["uuid"] in planned:
            continue
        for ip in reported_ips(parse_map(parse_ref(r.get("networks")) or "")):
            used.setdefault(ip, r.get("name-label") or r["uuid"])
    clashes = []
    for entry in entries:
        kept = entry["dr"]["address"] if entry["dr"] else entry["source"]
        ip = _ip(kept) if kept else None
        if ip is not None and ip in used:
            clashes.append("address %s of VM %s (VIF %s) is in use at the DR site by VM %s" % (
                ip, entry["vm"], entry["device"], used[ip]))
    return clashes


# -- plan validate -----------------------------------------------------------------------------

def validate(plan, source, dr_xe=None):
    """{"in_sync", "drift": [one line each], "dr_checked", "groups"}: the plan against the
    source pool (and the DR pool when ``dr_xe`` is given): what it names that is gone,
    protected VMs it leaves out, networks not mapped, or missing at the DR site and not
    ``create``, addresses that clash (with each other, or with the DR pool's running
    guests)."""
    groups, drift = resolve(plan, source)
    vms = planned_vms(groups)
    for vm in vms:
        for device, network in sorted(vm["networks"].items()):
            if network not in plan["networks"]:
                drift.append("network %s (VM %s, VIF %s) is not in [networks]" % (
                    network, vm["name_label"], device))
    at_dr = _names(dr_xe) if dr_xe is not None else None
    secret = plan["storage"].get("chap_password_secret")
    if secret and dr_xe is not None and not dr_xe.list("secret", params=("uuid",),
                                                        filters={"uuid": secret}):
        drift.append("the CHAP secret %s ([storage] chap-password-secret) is not at the DR "
                     "site ('xe secret-create value=...' there makes one)" % secret)
    if at_dr is not None:
        for source_name, target in sorted(plan["networks"].items()):
            if target != recovery_plan.CREATE and target not in at_dr:
                drift.append("network %s is mapped to %s, which the DR site does not have "
                             "(map it to create, or to a network there)" % (source_name,
                                                                           target))
    entries = addresses(plan, vms)
    drift.extend(_clashes(entries))
    if dr_xe is not None:
        drift.extend(in_use_at_dr(entries, dr_xe, set(vm["uuid"] for vm in vms)))
    return {"in_sync": not drift, "drift": drift, "dr_checked": at_dr is not None,
            "groups": groups}


# -- plan show --at --------------------------------------------------------------------------

def capacity(groups, source, dr_xe):
    """Per group, in the plan's order: the memory the VMs brought back so far need to start
    and whether the DR hosts hold them (each VM on one host, placed largest first where it
    fits best: xe_dr/dr/readiness.py ``unplaced``). [{"group", "memory_needed_bytes",
    "unplaced": [VM names]}], and the hosts [{"name_label", "memory_free_bytes"}]."""
    records = dr_xe.list("host", params=HOST_FIELDS)
    hosts = [h for h in (Host.from_record(r) for r in records) if h.enabled]
    free = dict((h.uuid, int_or(dr_xe.value("host-compute-free-memory", {"uuid": h.uuid})))
                for h in hosts)
    cpus = dict((r["uuid"], int_or(parse_map(r.get("cpu_info", "")).get("cpu_count")))
                for r in records)
    so_far, result = [], []
    for group in groups:
        for vm in [m for v in group["vapps"] for m in v["members"]] + group["vms"]:
            resources = source.resources.get(vm["uuid"])
            if resources is not None and vm["uuid"] not in [u for u, _ in so_far]:
                so_far.append((vm["uuid"], (vm["name_label"], start_memory(resources),
                                            resources["vcpus_max"], False)))
        needed = [entry for _, entry in so_far]
        result.append({"group": group["name"],
                       "memory_needed_bytes": sum(entry[1] for entry in needed),
                       "unplaced": unplaced(needed, hosts, free, cpus)})
    return result, [{"name_label": h.name_label, "memory_free_bytes": free[h.uuid]}
                    for h in hosts]
