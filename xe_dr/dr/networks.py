"""The networks of a recovery: what xapi will do with each network the selected VMs use, and
what xe-dr does before recovering so that no recovery fails on one.

xapi's rule (import.ml module Net, xapi_network.ml ``create``; xe_dr/lab/README.md, "Networks
in a recovery"): a foreign network is matched by name-label, else by bridge (the VIF then
joins whatever network has that bridge here, silently), else xapi creates one from the
foreign record, bridge included, and refuses the bridge (``INVALID_VALUE bridge``) in the
user's session every recovery runs in: every bridge xapi makes starts ``xapi`` or ``xenbr``,
so such a recovery fails. Hence, for each foreign network a selected VM uses:

- ``name``: a network here has its name: nothing to do;
- ``bridge``: only a network with its bridge: a warning (the VIF lands on that network);
- ``create``: nothing matches and ``--map-network`` does not name it: xe-dr creates a
  network of that name here first (``network-create``, tagged with the run), which the
  recovery then matches by name; it stays with the VMs (cleanup removes it after a test);
- ``transient``: ``--map-network`` names a target and no network here has its name (nothing
  matches, or only a bridge): a network of that name is created for the recovery alone, so
  that the VIFs land on a network of their own, then moved to the target, then the network
  is removed. Without it the recovery would fail (nothing matches) or put the VIFs on the
  network sharing the bridge, where they could no longer be told from that network's own;
- ``missing``: one of the two above, but its name holds a newline, carriage return or NUL,
  which xe cannot pass: it cannot be made here, and a VM that needs it cannot be recovered
  (a per-VM verdict; without the plugin, which cannot tell whose it is, a warning).

Plain xe cannot tell which VM uses which foreign network (references print
``<not in database>``, reference §2.3), but ``network-list database:vdi-uuid=`` prints the
networks' names, bridges and whether VIFs use them: then every such network is planned, for
every object of that pool, and a created network that no recovered VM ends up using is
removed after the recovery.
"""

NAME, BRIDGE, CREATE, TRANSIENT, MISSING = "name", "bridge", "create", "transient", "missing"
# What xe cannot pass in an argument (xe_dr/xe/argv.py): a network of such a name cannot be
# made with xe-dr or a runbook.
NOT_BY_XE = ("\n", "\r", "\0")


def creatable(name):
    return not any(c in (name or "") for c in NOT_BY_XE)


def match(local_networks, name_label, bridge):
    """(local network, NAME or BRIDGE), or (None, None): xapi's precheck. ``local_networks``
    as xe_dr.pool.read_networks gives them."""
    for net in local_networks:
        if net["name_label"] == name_label:
            return net, NAME
    for net in local_networks:
        if bridge and net["bridge"] == bridge:
            return net, BRIDGE
    return None, None


class Need(object):
    """One foreign network (by name) that some objects to recover use."""

    def __init__(self, name_label, bridge, mtu=None):
        self.name_label = name_label
        self.bridge = bridge
        self.mtu = mtu
        self.objects = []      # item uuids
        self.vms = []          # (vm uuid, vm name) when known, per VM
        self.per_vm = True     # False: plain xe, which VMs use it is unknown

    def add(self, item_uuid, vm=None):
        if item_uuid not in self.objects:
            self.objects.append(item_uuid)
        if vm is not None and vm not in self.vms:
            self.vms.append(vm)


def needs(items, sources_by_vdi, foreign_networks):
    """{name: Need} for the objects not excluded, and whether anything is unknown.

    ``foreign_networks``: {vdi: [network records]} read with plain xe for the sources whose
    VMs do not say their networks (None for a source that could not be read)."""
    found, unknown = {}, False
    for item in items:
        if item.excluded:
            continue
        source = sources_by_vdi[item.vdi]
        if item.kind == "appliance" and item.members == []:
            continue  # a vApp without VMs
        uuids = [item.uuid] if item.kind == "vm" else [m["uuid"] for m in item.members or ()]
        vms = [source.vm(u) for u in uuids]
        if vms and all(v is not None and v.networks is not None for v in vms):
            for vm in vms:
                for net in vm.networks:
                    need = found.get(net["name_label"])
                    if need is None:
                        need = found[net["name_label"]] = Need(
                            net["name_label"], net.get("bridge"), net.get("mtu"))
                    need.add(item.uuid, (vm.uuid, vm.name_label))
            continue
        records = foreign_networks.get(item.vdi)
        if records is None:
            unknown = True
            continue
        for record in records:
            if not record.get("in_use"):
                continue
            need = found.get(record["name_label"])
            if need is None:
                need = found[record["name_label"]] = Need(
                    record["name_label"], record.get("bridge"), record.get("mtu"))
            need.per_vm = False
            need.add(item.uuid)
    return found, unknown


def plan(found, local_networks, network_map):
    """One entry per needed network: what xapi will do and what xe-dr does first."""
    entries = []
    for name in sorted(found):
        need = found[name]
        local, how = match(local_networks, need.name_label, need.bridge)
        target = network_map.get(name)
        if how == NAME:
            action = NAME
        elif target is not None:
            action = TRANSIENT
        elif how == BRIDGE:
            action = BRIDGE
        else:
            action = CREATE
        if action in (CREATE, TRANSIENT) and not creatable(name):
            action = MISSING
        entries.append({
            "name_label": name, "bridge": need.bridge, "mtu": need.mtu, "action": action,
            "local": local["uuid"] if local else None,
            "local_name": local["name_label"] if local else None,
            "target": target, "objects": list(need.objects),
            "vms": [{"uuid": u, "name_label": n} for u, n in need.vms],
            "per_vm": need.per_vm})
    return entries


def to_create(entries):
    return [e for e in entries if e["action"] in (CREATE, TRANSIENT)]
