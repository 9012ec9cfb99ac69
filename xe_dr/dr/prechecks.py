"""The prechecks of a failover, test failover or failback: read-only, each with a verdict and,
where one exists, a fix (see xe_dr/dr/plan.py for the verdicts).

XenCenter's four groups (HA for a test, power state at the source, existing objects at the
target, storage) plus what it leaves out: licence, versions and editions of both pools,
capacity, local storage and network matching (reference xencenter-and-peers.md §1.7). The
checks of each object's SRs and disks are in xe_dr/dr/disk_checks.py.

``target`` is the pool recovered into, a :class:`xe_dr.pool.PoolSnapshot` (its VMs and
networks read once, at once).
"""

from xe_dr.dr.plan import BLOCKING, CONFIRM, OK, SKIPPED, WARNING, Check
from xe_dr.marks import DISPOSABLE_KINDS


def _version_key(text):
    parts = []
    for part in (text or "").split("."):
        try:
            parts.append(int(part))
        except ValueError:
            parts.append(0)
    return tuple(parts)


def check_licence(target):
    if target.pool.dr_allowed:
        return Check("licence", OK, "the target pool's licence allows disaster recovery")
    return Check("licence", BLOCKING, "the target pool's licence restricts disaster recovery",
                 fix="license the pool for DR (XCP-ng has no such restriction)")


def check_versions(target, sources):
    """Same product version and patch level: a newer source schema cannot be opened (§8.7)."""
    checks = []
    local = sorted({(h.product_version, h.build_number) for h in target.hosts})
    local_xapi = max((_version_key(h.xapi_version) for h in target.hosts), default=())
    for source in sources:
        remote = sorted({(h["software_version"].get("product_version") or
                          h["software_version"].get("platform_version", "?"),
                          h["software_version"].get("build_number", ""))
                         for h in source.hosts})
        remote_xapi = max((_version_key(h["software_version"].get("xapi"))
                           for h in source.hosts), default=())
        name = "versions:%s" % source.uuid
        if not remote:
            checks.append(Check(name, SKIPPED, "the metadata of pool %s holds no host versions"
                                % source.name_label))
        elif remote_xapi and local_xapi and remote_xapi > local_xapi:
            checks.append(Check(name, BLOCKING, "pool %s ran a newer xapi (%s) than this pool"
                                " (%s): its database cannot be opened here" % (
                                    source.name_label, ".".join(map(str, remote_xapi)),
                                    ".".join(map(str, local_xapi))),
                                fix="update this pool to the same release and patch level"))
        elif remote != local:
            checks.append(Check(name, WARNING, "pool %s ran %s, this pool runs %s" % (
                source.name_label, _versions_text(remote), _versions_text(local)),
                fix="keep both sites on the same release and patch level"))
        else:
            checks.append(Check(name, OK, "same product version and patch level as pool %s"
                                % source.name_label))
    return checks


def _versions_text(versions):
    return ", ".join("%s build %s" % (v, b or "?") for v, b in versions)


def check_edition(target, sources):
    remote = sorted({h.get("edition", "") for s in sources for h in s.hosts} - {""})
    if not remote:
        return Check("edition", SKIPPED, "the metadata does not say the source's licence edition")
    if set(remote) == set(target.editions):
        return Check("edition", OK, "same licence edition (%s)" % ", ".join(remote))
    return Check("edition", WARNING, "licence edition differs: source %s, target %s" % (
        ", ".join(remote), ", ".join(target.editions)),
        fix="features of the source edition may be unavailable after recovery")


def check_ha(target, mode, disable_ha):
    if mode not in DISPOSABLE_KINDS:
        if target.pool.ha_enabled:
            return Check("ha", WARNING, "HA is enabled on the target pool: recovered VMs with "
                         "an HA restart priority will be protected as soon as they start")
        return Check("ha", OK, "HA is off on the target pool")
    if not target.pool.ha_enabled:
        return Check("ha", OK, "HA is off on the target pool")
    if disable_ha:
        return Check("ha", WARNING, "HA is on: it will be disabled for the test and enabled "
                     "again by cleanup")
    return Check("ha", BLOCKING, "HA is enabled on the target pool; a test failover needs it off",
                 fix="add --disable-ha (cleanup enables it again)")


def check_capacity(target, items, power):
    if power == "none":
        return Check("capacity", SKIPPED, "nothing will be started")
    needed = sum(i.memory for i in _vms_to_start(items))
    free = sum(h.memory_free or 0 for h in target.hosts)
    widest = max([i.vcpus for i in _vms_to_start(items)] or [0])
    if needed and free and needed > free:
        return Check("capacity", BLOCKING, "the VMs to start need %s of memory, the pool has %s "
                     "free" % (_gib(needed), _gib(free)),
                     fix="start fewer VMs (--power none, --exclude) or free memory")
    if not free:
        return Check("capacity", SKIPPED, "the hosts do not report free memory")
    return Check("capacity", OK, "memory for the VMs to start: %s needed, %s free; widest VM "
                 "%d vCPUs" % (_gib(needed), _gib(free), widest))


def _vms_to_start(items):
    for item in items:
        if item.excluded:
            continue
        if item.kind == "vm":
            yield item
        else:
            for member in item.members or ():
                yield _Member(member)


class _Member(object):
    def __init__(self, data):
        self.memory = data.get("memory", 0)
        self.vcpus = data.get("vcpus", 0)


def _gib(size):
    return "%.1f GiB" % (size / 1073741824.0)


def check_existing(target, items, mode):
    """An object with the same UUID already in the target (reference §2.6, XenCenter's rules):
    newer or equal version blocks, running blocks, older and halted is replaced after a yes.
    A test never replaces anything."""
    checks = []
    guests = target.guests
    for item in items:
        vm_uuids = [item.uuid] if item.kind == "vm" else [m["uuid"] for m in item.members or ()]
        versions = {item.uuid: item.version} if item.kind == "vm" else {
            m["uuid"]: m["version"] for m in item.members or ()}
        for uuid in vm_uuids:
            existing = guests.get(uuid)
            if not existing:
                continue
            name = "existing:%s" % uuid
            label = existing["name_label"]
            local_version = existing["version"]
            if existing["power_state"] != "halted":
                checks.append(Check(name, BLOCKING, "VM %s already exists here and is %s" % (
                    label, existing["power_state"]), fix="shut it down first, or --exclude it",
                    objects=[item.uuid]))
            elif local_version >= versions[uuid]:
                checks.append(Check(name, BLOCKING, "a newer or equal version of VM %s already "
                                    "exists here (version %d, metadata has %d)" % (
                                        label, local_version, versions[uuid]),
                                    fix="keep it (--exclude it), or destroy it first",
                                    objects=[item.uuid]))
            elif mode in DISPOSABLE_KINDS:
                checks.append(Check(name, BLOCKING, "VM %s already exists here; a test "
                                    "failover never replaces a VM" % label,
                                    fix="--exclude it", objects=[item.uuid]))
            else:
                checks.append(Check(name, CONFIRM, "an older VM %s exists here and will be "
                                    "replaced by the recovered one" % label,
                                    objects=[item.uuid]))
    if not checks:
        checks.append(Check("existing", OK, "no selected VM exists in the target pool yet"))
    return checks


def check_source_running(source_xe, items, srs, state=None):
    """Still running at the source, or its LUNs still attached there: two pools on one LUN
    corrupt it (reference pitfall 2). Only when the source can be reached (``source_xe``;
    None: ``state`` says why not, one of xe_dr/dr/guard.py's). A source that fails to answer
    here is the caller's to take for down (RunContext.reach_source)."""
    if source_xe is None:
        if state == "unreachable":
            return [Check("source", SKIPPED, "the source pool cannot be reached, so it is "
                          "taken for down: make sure its VMs are stopped and its LUNs "
                          "detached")]
        return [Check("source", SKIPPED, "the source pool was not given (--source HOST): "
                      "make sure its VMs are stopped and its LUNs detached")]
    running = {r["uuid"]: r for r in source_xe.list(
        "vm", params=("uuid", "name-label", "power-state"),
        filters={"is-control-domain": "false", "power-state": "running"})}
    attached = {p["sr-uuid"] for p in source_xe.list(
        "pbd", params=("sr-uuid",), filters={"currently-attached": "true"})}
    checks = []
    for item in items:
        uuids = [item.uuid] if item.kind == "vm" else [m["uuid"] for m in item.members or ()]
        live = [running[u]["name-label"] for u in uuids if u in running]
        if live:
            checks.append(Check("source:%s" % item.uuid, BLOCKING, "%s still running at the "
                                "source: %s" % (item.name_label, ", ".join(live)),
                                fix="shut it down at the source first", objects=[item.uuid]))
    shared = sorted(set(srs) & attached)
    if shared:
        checks.append(Check("source:luns", BLOCKING, "SR(s) %s are still attached at the source"
                            % ", ".join(shared), fix="detach them there and break the mirror"))
    if not checks:
        checks.append(Check("source", OK, "nothing selected runs at the source and its LUNs "
                            "are detached there"))
    return checks


def check_network_map(target, network_map):
    """Every network named by --map-network exists here (by name-label or UUID), checked
    before anything is recovered rather than half-way through."""
    known = {n["name_label"] for n in target.networks} | {n["uuid"] for n in target.networks}
    missing = sorted(dst for dst in network_map.values() if dst not in known)
    if missing:
        return Check("network-map", BLOCKING, "--map-network names network(s) that do not "
                     "exist here: %s" % ", ".join(missing),
                     fix="'xe network-list params=uuid,name-label' lists them")
    return Check("network-map", OK, "every --map-network target exists here") \
        if network_map else None


def _vm_names(entry, limit=6):
    names = sorted(v["name_label"] for v in entry["vms"])
    text = ", ".join(names[:limit])
    return text + (" and %d more" % (len(names) - limit) if len(names) > limit else "")


def check_networks(entries, unknown=False):
    """What xapi will do with each network the selected VMs use (xe_dr/dr/networks.py): a
    network matched by bridge alone is a warning per VM (its VIF lands on an unrelated
    network), one that matches nothing is created here first (a warning: the VMs come back
    on an internal network of that name), one --map-network names goes to its target."""
    checks = []
    for entry in entries:
        name = entry["name_label"]
        action = entry["action"]
        if action == "bridge":
            for vm in entry["vms"] or [None]:
                who = "VM %s is" % vm["name_label"] if vm else \
                    "VMs of the source pool may be"
                checks.append(Check(
                    "network:%s:%s" % (vm["uuid"] if vm else "pool", name), WARNING,
                    "%s on network %r, which no network here is named: xapi will put its VIF "
                    "on network %r, which has the same bridge (%s)" % (
                        who, name, entry["local_name"], entry["bridge"]),
                    fix="--map-network '%s=NETWORK' to choose its network, or create a "
                        "network named %r here" % (name, name),
                    objects=[o for o in entry["objects"]] if vm else []))
        elif action == "create":
            users = ("VM(s) %s" % _vm_names(entry)) if entry["per_vm"] else \
                "some VMs of the source pool (plain xe cannot tell which)"
            checks.append(Check(
                "network:%s" % name, WARNING,
                "network %r (bridge %s at the source) does not exist here: xapi would refuse "
                "its bridge and fail the recovery of %s, so xe-dr creates an internal network "
                "named %r first" % (name, entry["bridge"] or "none", users, name),
                fix="--map-network '%s=NETWORK' to put them on an existing network instead"
                    % name, objects=entry["objects"] if entry["per_vm"] else []))
        elif action == "missing":
            fix = "create a network with exactly that name here through the XenAPI (xe " \
                  "cannot pass it), then run again"
            if entry["per_vm"]:
                for vm in entry["vms"]:
                    checks.append(Check(
                        "network:%s:%s" % (vm["uuid"], name), BLOCKING,
                        "VM %s is on network %r, which does not exist here and which xe cannot "
                        "create (its name holds a newline, carriage return or NUL): xapi would "
                        "fail its recovery" % (vm["name_label"], name), fix=fix,
                        objects=entry["objects"]))
            else:
                checks.append(Check(
                    "network:%s" % name, WARNING,
                    "network %r does not exist here and xe cannot create it (its name holds a "
                    "newline, carriage return or NUL): the recovery of every VM on it fails "
                    "(plain xe cannot tell which VMs they are; the host plugin can, and leaves "
                    "them out)" % name, fix=fix))
        elif action == "transient":
            checks.append(Check(
                "network:%s" % name, OK,
                "network %r: its VIFs go to %r (--map-network); %s" % (
                    name, entry["target"],
                    "a network named %r is made for the recovery and removed after it" % name
                    if entry["local"] is None else
                    "a network named %r is made for the recovery (else they would land on %r, "
                    "which has its bridge) and removed after it" % (name, entry["local_name"])),
                objects=entry["objects"] if entry["per_vm"] else []))
    if unknown and not checks:
        checks.append(Check("networks", SKIPPED, "plain xe cannot see which networks the VMs "
                            "use (install the host plugin)"))
    elif not checks:
        checks.append(Check("networks", OK, "every network the selected VMs use exists here"))
    return checks
