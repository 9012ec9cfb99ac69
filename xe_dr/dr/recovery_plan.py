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
     "reprotect": None (no), [] (the SRs the run attached) or [SR name or uuid],
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
import re

from xe_dr.dr.plan_addresses import read_rule, read_vm
from xe_dr.dr.plan_syntax import (At, PlanError, config_error, ini_parser, items, lines_of,
                                  one, read_utf8, seconds)

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

SCHEMA = 1
#: A network mapped to ``create``: the DR network of the same name, made (internal, as a
#: failover's network precheck makes it) if the DR site has none.
CREATE = "create"
GATES = ("guest-agent", "command", "delay", "none")
ON_TIMEOUT = ("continue", "stop", "ask")
DEFAULT_GATE_TIMEOUT = 600
DEFAULT_HOOK_TIMEOUT = 300


_SECTION_KEYS = {
    "plan": ("schema", "name", "source", "dr", "source-xe", "dr-xe", "before", "after",
             "hook-timeout", "reprotect"),
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
    text = read_utf8(path, PlanError)
    return text, parse(text, path)


def parse(text, path="<plan>"):
    """The plan in ``text`` as data (the module's doc); PlanError naming the line at fault."""
    parser = ini_parser()  # network and VM names keep their case
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
            plan["readdress"] = [read_rule(source, target, path, where)
                                 for source, target in values.items()]
        elif kind == "group":
            if any(g["name"] == name for g in plan["groups"]):
                raise PlanError(path, "two groups are named %s" % name, where())
            plan["groups"].append(_read_group(name, values, path, where))
        elif kind == "vm":
            plan["vms"][name] = read_vm(name, values, path, where)
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
    # After the run: no (absent, empty or no), the SRs it attached (yes), or these SRs.
    srs = items(values.get("reprotect"))
    if [s for s in srs if s.lower() in ("yes", "no")] and len(srs) > 1:
        raise PlanError(path, "reprotect: yes, no, or the SRs to protect (one per line), not "
                              "both", where("reprotect"))
    plan["reprotect"] = None if not srs or srs == ["no"] else [] if srs == ["yes"] else srs


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


def listable(name):
    """Whether ``name`` reads back as written as an item of a list, a line of its own: not
    when it begins with # or ; (a comment line), has spaces around it (they are cut) or is
    more than a line (plan init names such a vApp or VM by its uuid)."""
    return bool(name) and name == name.strip() and not name.startswith(("#", ";")) and \
        len(name.splitlines()) == 1
