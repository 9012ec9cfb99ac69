"""The addresses of a recovery plan (xe_dr/dr/recovery_plan.py): the ``[vm NAME]`` keys and the
``[readdress]`` rules as the file holds them, and what they give a VIF: its address at the DR
site (:func:`dr_address`) and, on a failback by the plan, its source address back
(:func:`failback_address`)."""

import ipaddress

from xe_dr.dr.plan_syntax import PlanError

#: The keys of a [vm NAME] section: (IP version, whether it is the DR address, the VM dict's
#: key), and the data keys of each version (the man page's RECOVERY PLANS).
_VM_KEYS = {"address": (4, False, "addresses"), "dr-address": (4, True, "dr_addresses"),
            "address6": (6, False, "addresses6"), "dr-address6": (6, True, "dr_addresses6")}
VM_ADDRESS_KEYS = {4: ("addresses", "dr_addresses"), 6: ("addresses6", "dr_addresses6")}
#: The gateways of the source addresses (``address DEVICE = ADDRESS/PREFIX GATEWAY``): a
#: failback gives a re-addressed VIF its source address back, gateway included.
SOURCE_GATEWAY_KEYS = {4: "gateways", 6: "gateways6"}
_EXAMPLE = {4: "10.0.2.21/24", 6: "fd00:2::21/64"}


def _network(text, path, where, what):
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PlanError(path, "%s %s is not an address with its prefix (10.0.1.0/24)" % (
            what, text), where)


def read_rule(key, target, path, where):
    """``SOURCE-SUBNET [SOURCE-GATEWAY] = DR-SUBNET [DR-GATEWAY]`` (the source's gateway: a
    failback by the plan gives it back)."""
    source, _, back = key.partition(" ")
    back = back.strip() or None
    parts = target.split()
    if not parts or len(parts) > 2:
        raise PlanError(path, "[readdress] %s = %s: give the DR subnet and, optionally, its "
                              "gateway (10.0.2.0/24 10.0.2.1)" % (source, target),
                        where(key))
    old, new = _network(source, path, where(key), "[readdress]"), \
        _network(parts[0], path, where(key), "[readdress]")
    if old.version != new.version:
        raise PlanError(path, "[readdress] %s = %s: the two subnets must be of one family "
                              "(IPv4 or IPv6)" % (source, parts[0]), where(key))
    if old.prefixlen != new.prefixlen:
        raise PlanError(path, "[readdress] %s = %s: the two subnets must have one size" % (
            source, parts[0]), where(key))
    gateway = parts[1] if len(parts) > 1 else None
    if gateway is not None:
        _address_in(gateway, new, path, where(key), "[readdress] gateway")
    if back is not None:
        _address_in(back, old, path, where(key), "[readdress] source gateway")
    return {"from": str(old), "to": str(new), "gateway": gateway, "from_gateway": back}


def _address_in(text, network, path, where, what):
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise PlanError(path, "%s %s is not an address" % (what, text), where)
    # (ipaddress of Python 3.6 does not compare the versions: an IPv6 address could be "in"
    # an IPv4 network)
    if address.version != network.version or address not in network:
        raise PlanError(path, "%s %s is not in %s" % (what, text, network), where)
    return address


def read_vm(name, values, path, where):
    vm = dict((key, {}) for key in [k for _, _, k in _VM_KEYS.values()] +
              list(SOURCE_GATEWAY_KEYS.values()))
    for key, value in values.items():
        word, _, device = key.partition(" ")
        device = device.strip()
        if word not in _VM_KEYS or not device.isdigit():
            raise PlanError(path, "[vm %s] has no key %s (its keys: address DEVICE, "
                                  "dr-address DEVICE, address6 DEVICE, dr-address6 DEVICE)"
                            % (name, key), where(key))
        version, at_dr, data_key = _VM_KEYS[word]
        what = "[vm %s] %s %s" % (name, word, device)
        parts = value.split()
        if not at_dr:
            if len(parts) not in (1, 2):
                raise PlanError(path, "%s = %s: one address (its prefix too, if known) and, "
                                      "optionally, its gateway" % (what, value), where(key))
            interface = _of_version(_source_address(parts[0], path, where(key), what),
                                    parts[0], version, word, device, path, where(key), what)
            if len(parts) > 1:
                if "/" not in parts[0]:
                    raise PlanError(path, "%s = %s: a gateway goes with the address's prefix "
                                          "(%s)" % (what, value, _EXAMPLE[version]),
                                    where(key))
                _address_in(parts[1], interface.network, path, where(key), what + " gateway")
                vm[SOURCE_GATEWAY_KEYS[version]][device] = parts[1]
            vm[data_key][device] = parts[0]
        else:
            if len(parts) not in (1, 2):
                raise PlanError(path, "%s = %s: ADDRESS/PREFIX and, optionally, the "
                                      "gateway" % (what, value), where(key))
            interface = _of_version(_interface(parts[0], path, where(key), what, version),
                                    parts[0], version, word, device, path, where(key), what)
            gateway = parts[1] if len(parts) > 1 else None
            if gateway is not None:
                _address_in(gateway, interface.network, path, where(key), what + " gateway")
            vm[data_key][device] = {"address": parts[0], "gateway": gateway}
    return vm


def _of_version(interface, text, version, word, device, path, where, what):
    """``interface`` (read from ``text``) if it is of IP ``version``, else a PlanError naming
    the key for its own."""
    if interface.version != version:
        other = word[:-1] if word.endswith("6") else word + "6"
        raise PlanError(path, "%s %s is not an IPv%d address (an IPv%d one is %s %s)" % (
            what, text, version, interface.version, other, device), where)
    return interface


def _source_address(text, path, where, what):
    """A VM's address at the source, as its guest reported it (no prefix) or with one."""
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        raise PlanError(path, "%s %s is not an address" % (what, text), where)


def _interface(text, path, where, what, version=4):
    if "/" not in text:
        raise PlanError(path, "%s %s needs its prefix (%s)" % (what, text, _EXAMPLE[version]),
                        where)
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        raise PlanError(path, "%s %s is not an address with its prefix" % (what, text), where)


def dr_address(plan, vm_name, device, source_address, version=4):
    """What a VM's VIF ``device`` gets at the DR site in IP ``version`` (4 or 6): {"address",
    "gateway"}, from its own ``dr-address`` (``dr-address6``), else the first readdress rule
    of that version whose subnet holds ``source_address`` (the same host part in the DR
    subnet), else None (it keeps its address)."""
    own = plan["vms"].get(vm_name, {}).get(VM_ADDRESS_KEYS[version][1], {}).get(str(device))
    if own:
        return dict(own)
    if not source_address:
        return None
    rule = _rule_for(plan, source_address, version)
    if rule is None:
        return None
    interface = ipaddress.ip_interface(source_address)
    old, new = ipaddress.ip_network(rule["from"]), ipaddress.ip_network(rule["to"])
    moved = new.network_address + (int(interface.ip) - int(old.network_address))
    return {"address": "%s/%d" % (moved, new.prefixlen), "gateway": rule["gateway"]}


def _rule_for(plan, source_address, version):
    """The first readdress rule of IP ``version`` whose source subnet holds the address."""
    interface = ipaddress.ip_interface(source_address)
    if interface.version != version:
        return None
    for rule in plan["readdress"]:
        old = ipaddress.ip_network(rule["from"])
        # (the version compared first: ipaddress of Python 3.6 does not)
        if old.version == version and interface.ip in old:
            return rule
    return None


def failback_address(plan, vm_name, device, version=4):
    """What a failback by the plan gives back to VIF ``device`` of a VM the plan re-addresses
    at the DR site: {"address": "ADDRESS/PREFIX", "gateway"}, its source address as the plan
    recorded it (its prefix and gateway its own, else those of the rule that moved it); None
    when the plan does not re-address it; {"missing": why} when the plan lacks what it takes
    (guest metrics give neither a prefix nor a gateway: the administrator writes them)."""
    vm = plan["vms"].get(vm_name, {})
    recorded = (vm.get(VM_ADDRESS_KEYS[version][0]) or {}).get(str(device))
    if dr_address(plan, vm_name, device, recorded, version) is None:
        return None
    if not recorded:
        return {"missing": "the plan records no source address of it"}
    rule = _rule_for(plan, recorded, version) or {}
    interface = ipaddress.ip_interface(recorded)
    if "/" in recorded:
        prefix = interface.network.prefixlen
    elif rule:
        prefix = ipaddress.ip_network(rule["from"]).prefixlen
    else:
        return {"missing": "its source address %s has no prefix" % recorded}
    gateway = (vm.get(SOURCE_GATEWAY_KEYS[version]) or {}).get(str(device)) or \
        rule.get("from_gateway")
    if not gateway:
        return {"missing": "the plan records no gateway of its source address %s" % recorded}
    return {"address": "%s/%d" % (interface.ip, prefix), "gateway": gateway}
