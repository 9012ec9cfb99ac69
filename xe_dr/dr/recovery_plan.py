"""Recovery plans (issue 18): a file an administrator writes and reviews, saying what comes
back at the DR site, in which priority groups, with which gates, hooks and prompts, on which
networks and addresses. This module reads and writes the file; it asks no pool anything
(xe_dr/dr/plan_checks.py resolves a plan against the pools).

The format is INI (configparser: the standard library of Python 3.6 and every later one),
with comments, one section per group in priority order, lists one item per line (names may
hold spaces and commas). The whole format, with an example, is in the man page (RECOVERY
PLANS); xe_dr/dr/recovery_plan_text.py writes it back with the same comments, so a plan
made by ``plan init`` reads as the documentation says.

A plan as data (``parse``'s result, plain values):

    {"schema": 1, "name": str,
     "sites": {"source": str or None, "dr": str or None,
               "source_xe": str or None, "dr_xe": str or None},
     "hooks": {"before": str or None, "after": str or None, "timeout": seconds},
     "storage": {"target", "port", "iqn", "chap_user", "chap_password_file",
                 "chap_password_secret" (a xapi secret's uuid at the DR site): str or None,
                 "scsiid": [str], "hba_scsiid": [str]},
     "networks": {source network name: DR network name, or CREATE},
     "readdress": [{"from": "10.0.1.0/24", "to": "10.0.2.0/24", "gateway": str or None,
                    "from_gateway": the source subnet's gateway, str or None}],
     "groups": [{"name", "vapps": [str], "vms": [str], "tags": [str],
                 "gate": {"kind": "guest-agent"|"command"|"delay"|"none",
                          "command": str or None, "seconds": seconds or None,
                          "timeout": seconds, "on_timeout": "continue"|"stop"|"ask"},
                 "before", "after": str or None, "hook_timeout": seconds,
                 "prompt": str or None}],
     "vms": {VM name: {"addresses": {device: "ADDRESS/PREFIX"},
                       "dr_addresses": {device: {"address": "ADDRESS/PREFIX",
                                                 "gateway": str or None}},
                       "gateways": {device: the source address's gateway},
                       "addresses6": {device: "ADDRESS/PREFIX"}, "gateways6": {...},
                       "dr_addresses6": {device: {"address": "ADDRESS/PREFIX",
                                                  "gateway": str or None}}}}}

``addresses``/``dr_addresses`` are IPv4 (the keys ``address DEVICE``, ``dr-address DEVICE``),
``addresses6``/``dr_addresses6`` IPv6 (``address6 DEVICE``, ``dr-address6 DEVICE``); a
``[readdress]`` rule is of either family, both its subnets of one. A source address may lack
its prefix (a guest reports none).
"""

import configparser
import ipaddress
import re

from xe_dr.dr.plan_syntax import At, PlanError, config_error, items, lines_of, one, seconds

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

SCHEMA = 1
#: A network mapped to ``create``: the DR network of the same name, made (internal, as a
#: failover's network precheck makes it) if the DR site has none.
CREATE = "create"
GATES = ("guest-agent", "command", "delay", "none")
ON_TIMEOUT = ("continue", "stop", "ask")
DEFAULT_GATE_TIMEOUT = 600
DEFAULT_HOOK_TIMEOUT = 300

#: The keys of a [vm NAME] section: (IP version, whether it is the DR address, the VM dict's
#: key), and the data keys of each version (the man page's RECOVERY PLANS).
_VM_KEYS = {"address": (4, False, "addresses"), "dr-address": (4, True, "dr_addresses"),
            "address6": (6, False, "addresses6"), "dr-address6": (6, True, "dr_addresses6")}
VM_ADDRESS_KEYS = {4: ("addresses", "dr_addresses"), 6: ("addresses6", "dr_addresses6")}
#: The gateways of the source addresses (``address DEVICE = ADDRESS/PREFIX GATEWAY``): a
#: failback gives a re-addressed VIF its source address back, gateway included.
SOURCE_GATEWAY_KEYS = {4: "gateways", 6: "gateways6"}
_EXAMPLE = {4: "10.0.2.21/24", 6: "fd00:2::21/64"}

_SECTION_KEYS = {
    "plan": ("schema", "name", "source", "dr", "source-xe", "dr-xe", "before", "after",
             "hook-timeout"),
    "storage": ("target", "port", "iqn", "scsiid", "hba-scsiid", "chap-user",
                "chap-password-file", "chap-password-secret"),
    "group": ("vapps", "vms", "tags", "gate", "gate-timeout", "on-timeout", "before",
              "after", "hook-timeout", "prompt"),
}


def read(path):
    """The plan in the file at ``path`` (PlanError when it is not one)."""
    return read_text(path)[1]


def read_text(path):
    """(the file's text, the plan in it) (PlanError when it is not one)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except (IOError, OSError) as failure:
        raise PlanError(path, "cannot be read: %s" % (failure.strerror or failure))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as failure:
        raise PlanError(path, "is not UTF-8 (byte %d)" % failure.start)
    return text, parse(text, path)


def parse(text, path="<plan>"):
    """The plan in ``text`` as data (the module's doc); PlanError naming the line at fault."""
    parser = configparser.ConfigParser(
        delimiters=("=",), comment_prefixes=("#", ";"), inline_comment_prefixes=None,
        strict=True, empty_lines_in_values=False, interpolation=None,
        default_section="\0none")
    parser.optionxform = str  # network and VM names keep their case
    try:
        parser.read_string(text, source=path)
    except configparser.Error as failure:
        raise PlanError(path, config_error(failure), getattr(failure, "lineno", None))
    lines = lines_of(text)
    plan = {"schema": None, "name": "", "hooks": {}, "sites": {}, "storage": {},
            "networks": {}, "readdress": [], "groups": [], "vms": {}}
    for section in parser.sections():
        kind, _, name = section.partition(" ")
        name = name.strip()
        values = dict(parser.items(section))
        where = At(lines, section)
        if kind in ("plan", "storage", "networks", "readdress") and name:
            raise PlanError(path, "[%s] takes no name (found [%s])" % (kind, section), where())
        if kind in ("group", "vm") and not name:
            raise PlanError(path, "[%s] needs a name: [%s NAME]" % (kind, kind), where())
        if kind in _SECTION_KEYS:
            unknown = sorted(set(values) - set(_SECTION_KEYS[kind]))
            if unknown:
                raise PlanError(path, "[%s] has no key %s (its keys: %s)" % (
                    section, unknown[0], ", ".join(_SECTION_KEYS[kind])), where(unknown[0]))
        if kind == "plan":
            _read_plan(plan, values, path, where)
        elif kind == "storage":
            plan["storage"] = _read_storage(values, path, where)
        elif kind == "networks":
            plan["networks"] = dict((source, target.strip())
                                    for source, target in values.items())
            for source, target in plan["networks"].items():
                if not target:
                    raise PlanError(path, "[networks] %s maps to nothing: name a network of "
                                          "the DR site, or create" % source, where(source))
        elif kind == "readdress":
            plan["readdress"] = [_read_rule(source, target, path, where)
                                 for source, target in values.items()]
        elif kind == "group":
            if any(g["name"] == name for g in plan["groups"]):
                raise PlanError(path, "two groups are named %s" % name, where())
            plan["groups"].append(_read_group(name, values, path, where))
        elif kind == "vm":
            plan["vms"][name] = _read_vm(name, values, path, where)
        else:
            raise PlanError(path, "unknown section [%s] (sections: plan, storage, networks, "
                                  "readdress, group NAME, vm NAME)" % section, where())
    if plan["schema"] is None:
        raise PlanError(path, "no [plan] section with its schema (schema = %d)" % SCHEMA)
    if not plan["groups"]:
        raise PlanError(path, "no [group NAME]: a plan says what comes back, in groups")
    return plan


def _read_plan(plan, values, path, where):
    schema = (values.get("schema") or "").strip()
    if schema != str(SCHEMA):
        raise PlanError(path, "schema %s is not one this xe-dr reads (it reads schema %d)" % (
            schema or "(none)", SCHEMA), where("schema"))
    plan["schema"] = SCHEMA
    plan["name"] = (values.get("name") or "").strip()
    plan["sites"] = {"source": one(values.get("source")), "dr": one(values.get("dr")),
                     "source_xe": one(values.get("source-xe")),
                     "dr_xe": one(values.get("dr-xe"))}
    plan["hooks"] = {"before": one(values.get("before")), "after": one(values.get("after")),
                     "timeout": seconds(values.get("hook-timeout"), DEFAULT_HOOK_TIMEOUT,
                                         path, where, "hook-timeout")}


def _read_storage(values, path, where):
    storage = dict((key.replace("-", "_"), one(values.get(key)))
                   for key in ("target", "iqn", "chap-user", "chap-password-file",
                               "chap-password-secret"))
    port = one(values.get("port"))
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise PlanError(path, "[storage] port = %s is not a port number" % port,
                        where("port"))
    storage["port"] = int(port) if port else None
    storage["scsiid"] = items(values.get("scsiid"))
    storage["hba_scsiid"] = items(values.get("hba-scsiid"))
    if storage["scsiid"] and not storage["target"]:
        raise PlanError(path, "[storage] scsiid needs the iSCSI target (target =)",
                        where("scsiid"))
    secret = storage["chap_password_secret"]
    if secret and storage["chap_password_file"]:
        raise PlanError(path, "[storage] gives chap-password-file and chap-password-secret: "
                              "give one", where("chap-password-secret"))
    if secret and not _UUID.match(secret):
        raise PlanError(path, "[storage] chap-password-secret = %s is not the uuid of a xapi "
                              "secret ('xe secret-create value=...' at the DR site makes one)"
                        % secret, where("chap-password-secret"))
    if (secret or storage["chap_password_file"]) and not storage["chap_user"]:
        raise PlanError(path, "[storage] a CHAP password needs its user (chap-user =)",
                        where("chap-password-secret" if secret else "chap-password-file"))
    return storage


def _network(text, path, where, what):
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PlanError(path, "%s %s is not an address with its prefix (10.0.1.0/24)" % (
            what, text), where)


def _read_rule(key, target, path, where):
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


def _read_group(name, values, path, where):
    gate_words = (values.get("gate") or "none").split(None, 1)
    kind = gate_words[0]
    if kind not in GATES:
        raise PlanError(path, "[group %s] gate = %s: a gate is one of %s" % (
            name, values.get("gate"), ", ".join(GATES)), where("gate"))
    argument = gate_words[1].strip() if len(gate_words) > 1 else None
    gate = {"kind": kind, "command": None, "seconds": None,
            "timeout": seconds(values.get("gate-timeout"), DEFAULT_GATE_TIMEOUT, path, where,
                                "gate-timeout"),
            "on_timeout": (values.get("on-timeout") or "stop").strip()}
    if kind == "command":
        if not argument:
            raise PlanError(path, "[group %s] gate = command needs the command after it" % name,
                            where("gate"))
        gate["command"] = argument
    elif kind == "delay":
        gate["seconds"] = seconds(argument, None, path, where, "gate = delay")
        if gate["seconds"] is None:
            raise PlanError(path, "[group %s] gate = delay needs how long (gate = delay 2m)"
                            % name, where("gate"))
    elif argument:
        raise PlanError(path, "[group %s] gate = %s takes nothing after it" % (name, kind),
                        where("gate"))
    if gate["on_timeout"] not in ON_TIMEOUT:
        raise PlanError(path, "[group %s] on-timeout = %s: one of %s" % (
            name, gate["on_timeout"], ", ".join(ON_TIMEOUT)), where("on-timeout"))
    group = {"name": name, "vapps": items(values.get("vapps")),
             "vms": items(values.get("vms")), "tags": items(values.get("tags")),
             "gate": gate, "before": one(values.get("before")),
             "after": one(values.get("after")),
             "hook_timeout": seconds(values.get("hook-timeout"), DEFAULT_HOOK_TIMEOUT, path,
                                      where, "hook-timeout"),
             "prompt": one(values.get("prompt"))}
    if not (group["vapps"] or group["vms"] or group["tags"]):
        raise PlanError(path, "[group %s] selects nothing: give vapps, vms or tags" % name,
                        where())
    return group


def _read_vm(name, values, path, where):
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


def listable(name):
    """Whether ``name`` reads back as written as an item of a list, a line of its own: not
    when it begins with # or ; (a comment line), has spaces around it (they are cut) or is
    more than a line (plan init names such a vApp or VM by its uuid)."""
    return bool(name) and name == name.strip() and not name.startswith(("#", ";")) and \
        len(name.splitlines()) == 1


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
