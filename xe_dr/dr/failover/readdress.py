"""Re-addressing by a recovery plan (the plan's ``dr-address`` and ``[readdress]`` rules,
xe_dr/dr/recovery_plan.py), before the starts, while the VMs are halted, each VIF one way (the
report says which, and what the guest reported after):

- ``xe vif-configure-ipv4 mode=static`` (IPv6: ``vif-configure-ipv6``) when the guest's tools
  advertise it (``feature-static-ip-setting: 1`` in its guest metrics' ``other``; a recovered
  VM still carries production's metrics until its start: xapi_vif.ml ``configure_ipv4`` and
  ``configure_ipv6`` refuse VM_LACKS_FEATURE otherwise); xenopsd gives it to the guest through
  the VIF's xenstore;
- else the xenstore keys Ansible's xenserver_guest module writes, ``vm-data/networks/<device>/
  {type,ip,prefix,netmask,gateway}`` (IPv6: ``{type6,ip6,prefix6,gateway6}``) in the VM's
  xenstore-data, for a boot script in the guest to apply (community.general
  ``plugins/modules/xenserver_guest.py``).

Each VIF's IPv4 and IPv6 addresses are steps of their own (``readdress:<vif>`` and
``readdress:<vif>:ipv6``). Neither way sets DNS.

The group's hooks are given the addresses (:func:`addresses_env`).
"""

import ipaddress

from xe_dr.dr.failover.context import Phase
from xe_dr.dr.plan_addresses import VM_ADDRESS_KEYS
from xe_dr.dr.steps import Call, Step, step_id
from xe_dr.xe.records import parse_map, parse_ref


class ReaddressPhase(Phase):
    @property
    def plan(self):
        return self.opts.plan

    def apply(self, items, recovered):
        """Give each VIF of the recovered VMs the DR address the plan gives it (module doc);
        a failback by the plan gives a VIF the plan re-addresses its source address back.
        Returns the entries, also the report's ``addresses``."""
        from xe_dr.dr.plan_addresses import dr_address, failback_address
        back = self.opts.mode == "failback"
        vms = dict((u, None) for item in items if not item.excluded
                   for u in (recovered.get(item.uuid) or ()))
        if not vms:
            return []
        records = dict((r["uuid"], r) for r in self.xe.list(
            "vm", params=("uuid", "name-label", "other")) if r["uuid"] in vms)
        # The plan gives addresses by VM name: a name two recovered VMs hold would give one
        # address to both (plan validate names such a name, or the clash, as drift).
        held = {}
        for record in records.values():
            held.setdefault(record.get("name-label", ""), []).append(record["uuid"])
        ambiguous = set()
        entries = []
        for vif in sorted(self.xe.list("vif", params=("uuid", "vm-uuid", "device")),
                          key=lambda v: (v.get("vm-uuid"), v.get("device"))):
            record = records.get(vif.get("vm-uuid"))
            if record is None:
                continue
            name = record.get("name-label", "")
            capable = parse_map(parse_ref(record.get("other")) or "").get(
                "feature-static-ip-setting") == "1"
            for version in (4, 6):
                source = (self.plan["vms"].get(name, {}).get(VM_ADDRESS_KEYS[version][0])
                          or {}).get(vif["device"])
                target = failback_address(self.plan, name, vif["device"], version) if back \
                    else dr_address(self.plan, name, vif["device"], source, version)
                if not target:
                    continue
                if "missing" in target:
                    self.report["warnings"].append(
                        "VM %s VIF %s keeps the address it had at the DR site: %s (the plan's "
                        "'address%s %s = ADDRESS/PREFIX GATEWAY', or its rule's source "
                        "gateway, gives it back)" % (name, vif["device"], target["missing"],
                                                     "6" if version == 6 else "",
                                                     vif["device"]))
                    continue
                if len(held[name]) > 1:
                    ambiguous.add(name)
                    continue
                entry = {"vm": name, "vm_uuid": record["uuid"], "device": vif["device"],
                         "vif": vif["uuid"], "family": version, "source": source,
                         "address": target["address"], "gateway": target["gateway"],
                         "method": "vif-configure-ipv%d" % version if capable else "xenstore"}
                # (IPv4's id is the one runs before IPv6 had: a resume of one finds it)
                self.engine.do(Step(
                    step_id("readdress", vif["uuid"], *(("ipv6",) if version == 6 else ())),
                    "give VIF %s of VM %s the address %s (%s)"
                    % (vif["device"], name, target["address"], entry["method"]),
                    [_readdress_call(entry)]))
                entries.append(entry)
        for name in sorted(ambiguous):
            self.report["warnings"].append(
                "VM name %s is held by %d recovered VMs (%s): none is re-addressed (the plan "
                "gives its addresses by name)" % (name, len(held[name]),
                                                   ", ".join(sorted(held[name]))))
        self.report["addresses"] = entries
        return entries

    def check(self, entries):
        """After the starts: what each re-addressed guest reports (guest metrics of this
        boot: xapi clears them at VM.start), in the report's ``addresses``."""
        if not entries or self.opts.power != "start":
            return  # (a paused guest reports nothing)
        reported = reported_addresses(self.xe, {e["vm_uuid"] for e in entries})
        for entry in entries:
            six = entry.get("family") == 6
            now = reported.get(entry["vm_uuid"], {}).get(6 if six else 4, {}).get(
                entry["device"])
            want = entry["address"].split("/")[0]
            entry["reported"] = now
            entry["applied"] = _same_address(now, want)
            if not entry["applied"]:
                self.report["warnings"].append(
                    "VM %s VIF %s%s: the guest reports %s, not %s (%s)" % (
                        entry["vm"], entry["device"], " IPv6" if six else "",
                        now or "no address", want,
                        "its tools were given it" if entry["method"] != "xenstore"
                        else "a boot script in the guest must read vm-data/networks"))


def addresses_env(plan, report, names):
    """The lines ``NAME<tab>DEVICE<tab>ADDRESS`` of these VMs' VIFs: the addresses each is
    to have at the DR site (the one re-addressing gave it, else the one the plan recorded
    at the source; IPv4's, then IPv6's), for the group's hooks (a DNS update, a load
    balancer's pool)."""
    given = dict(((e["vm_uuid"], e["device"], e.get("family", 4)),  # (older runs': 4)
                  e["address"].split("/")[0]) for e in report.get("addresses") or ())
    lines = []
    for uuid, name in names:
        vm = plan["vms"].get(name, {})
        recorded = dict(((device, version), address)
                        for version in (4, 6)
                        for device, address in (vm.get(VM_ADDRESS_KEYS[version][0])
                                                or {}).items())
        pairs = set(recorded) | set((d, f) for (u, d, f) in given if u == uuid)
        for device, version in sorted(pairs, key=lambda p: (len(p[0]), p[0], p[1])):
            lines.append("%s\t%s\t%s" % (name, device, given.get((uuid, device, version))
                                          or recorded[(device, version)]))
    return "\n".join(lines)


def _readdress_call(entry):
    if entry["method"] in ("vif-configure-ipv4", "vif-configure-ipv6"):
        params = {"uuid": entry["vif"], "mode": "static", "address": entry["address"]}
        if entry["gateway"]:
            params["gateway"] = entry["gateway"]
        return Call(entry["method"], params)
    interface = ipaddress.ip_interface(entry["address"])
    key = "xenstore-data:vm-data/networks/%s/" % entry["device"]
    if interface.version == 6:  # (Ansible writes no netmask6)
        params = {"uuid": entry["vm_uuid"], key + "type6": "static",
                  key + "ip6": str(interface.ip),
                  key + "prefix6": str(interface.network.prefixlen)}
        if entry["gateway"]:
            params[key + "gateway6"] = entry["gateway"]
        return Call("vm-param-set", params)
    params = {"uuid": entry["vm_uuid"], key + "type": "static",
              key + "ip": str(interface.ip), key + "prefix": str(interface.network.prefixlen),
              key + "netmask": str(interface.netmask)}
    if entry["gateway"]:
        params[key + "gateway"] = entry["gateway"]
    return Call("vm-param-set", params)


def _same_address(reported, wanted):
    """Whether the guest reports the address wanted (IPv6 has more than one text of one
    address: fd00:0::1 is fd00::1)."""
    try:
        return ipaddress.ip_address(reported) == ipaddress.ip_address(wanted)
    except ValueError:
        return False


def reported_addresses(xe, uuids):
    """{VM uuid: {4: {VIF device: its first IPv4 address}, 6: {VIF device: its first IPv6
    address that is not link-local}}} as the guests report them now."""
    from xe_dr.dr.plan_checks import guest_addresses
    found = {}
    for r in xe.list("vm", params=("uuid", "networks")):
        if r["uuid"] in uuids:
            networks = parse_map(parse_ref(r.get("networks")) or "")
            found[r["uuid"]] = {4: guest_addresses(networks), 6: guest_addresses(networks, 6)}
    return found
