"""A recovery plan (xe_dr/dr/recovery_plan.py) written as its file: the text ``parse`` reads
back the same, with the comments that make it read as the man page's RECOVERY PLANS."""

from xe_dr.dr.plan_addresses import SOURCE_GATEWAY_KEYS, VM_ADDRESS_KEYS
from xe_dr.dr.recovery_plan import DEFAULT_HOOK_TIMEOUT, SCHEMA

HEADER = """\
# xe-dr recovery plan: what comes back at the DR site, in which groups, on which networks
# and addresses (man xe-dr, RECOVERY PLANS). Groups come back in the order they are
# written; everything in a group starts at once (a vApp as a vApp, its own order inside).
"""


def render(plan):
    """The plan as the file's text (the format ``parse`` reads, with its comments)."""
    out = [HEADER]
    sites, hooks = plan.get("sites") or {}, plan.get("hooks") or {}
    out.append("[plan]")
    out.append("schema = %d" % SCHEMA)
    out.append(_line("name", plan.get("name")))
    out.append("# how each pool's master is reached: local, or [USER@]HOST[:PORT] as -H "
               "takes it")
    for key in ("source", "dr"):
        out.append(_line(key, sites.get(key)))
        if sites.get("%s_xe" % key):
            out.append(_line("%s-xe" % key, sites["%s_xe" % key]))
    out.append("# commands run on this machine before and after the run (a hook cut short")
    out.append("# runs again on resume: make them idempotent)")
    out.append(_line("before", hooks.get("before")))
    out.append(_line("after", hooks.get("after")))
    out.append("hook-timeout = %s" % _duration_text(hooks.get("timeout",
                                                              DEFAULT_HOOK_TIMEOUT)))
    out.append("# after the run: reverse the mirror and replicate this pool's metadata on the")
    out.append("# SRs the run attached (yes), or on these SRs (one per line), or not (no)")
    reprotect = plan.get("reprotect")
    out.extend(["reprotect = no"] if reprotect is None else ["reprotect = yes"]
               if reprotect == [] else _list_lines("reprotect", reprotect))
    storage = plan.get("storage") or {}
    out.append("")
    out.append("[storage]")
    out.append("# the replica LUNs as the DR site sees them ('xe-dr probe' there lists them);")
    out.append("# CHAP by a file holding the password, or a xapi secret's uuid at the DR site")
    out.append("# ('xe secret-create value=...'), never the password")
    for key in ("target", "port", "iqn"):
        out.append(_line(key, storage.get(key)))
    out.extend(_list_lines("scsiid", storage.get("scsiid")))
    out.extend(_list_lines("hba-scsiid", storage.get("hba_scsiid")))
    out.append(_line("chap-user", storage.get("chap_user")))
    out.append(_line("chap-password-file", storage.get("chap_password_file")))
    out.append(_line("chap-password-secret", storage.get("chap_password_secret")))
    out.append("")
    out.append("[networks]")
    out.append("# source network = DR network, or create (the DR network of that name, made")
    out.append("# internal if the DR site has none)")
    for source, target in sorted(plan.get("networks", {}).items()):
        out.append("%s = %s" % (source, target))
    out.append("")
    out.append("[readdress]")
    out.append("# source subnet = DR subnet [gateway]: a VM keeps its host part")
    for rule in plan.get("readdress") or ():
        out.append("%s%s = %s%s" % (
            rule["from"], " " + rule["from_gateway"] if rule.get("from_gateway") else "",
            rule["to"], " " + rule["gateway"] if rule.get("gateway") else ""))
    for group in plan["groups"]:
        gate = group["gate"]
        out.append("")
        out.append("[group %s]" % group["name"])
        out.extend(_list_lines("vapps", group["vapps"]))
        out.extend(_list_lines("vms", group["vms"]))
        out.extend(_list_lines("tags", group["tags"]))
        out.append("# gate: guest-agent, command CMD, delay DURATION or none;")
        out.append("# on-timeout: continue, stop or ask")
        argument = gate["command"] if gate["kind"] == "command" else _duration_text(
            gate["seconds"]) if gate["kind"] == "delay" else ""
        out.append("gate = %s%s" % (gate["kind"], " " + argument if argument else ""))
        out.append("gate-timeout = %s" % _duration_text(gate["timeout"]))
        out.append("on-timeout = %s" % gate["on_timeout"])
        out.append(_line("before", group.get("before")))
        out.append(_line("after", group.get("after")))
        out.append("hook-timeout = %s" % _duration_text(group.get(
            "hook_timeout", DEFAULT_HOOK_TIMEOUT)))
        out.append(_line("prompt", group.get("prompt")))
    for name, vm in sorted((plan.get("vms") or {}).items()):
        keys = [(suffix, vm.get(source) or {}, vm.get(dr) or {},
                 vm.get(SOURCE_GATEWAY_KEYS[version]) or {})
                for suffix, version in (("", 4), ("6", 6))
                for source, dr in [VM_ADDRESS_KEYS[version]]]
        if not any(recorded or given for _, recorded, given, _ in keys):
            continue
        out.append("")
        out.append("[vm %s]" % name)
        for suffix, recorded, given, gateways in keys:  # IPv4's, then IPv6's
            for device, address in sorted(recorded.items()):
                out.append("address%s %s = %s%s" % (suffix, device, address, (
                    " " + gateways[device]) if gateways.get(device) else ""))
            for device, target in sorted(given.items()):
                out.append("dr-address%s %s = %s%s" % (suffix, device, target["address"], (
                    " " + target["gateway"]) if target.get("gateway") else ""))
    return "\n".join(out) + "\n"


def _line(key, value):
    return "%s = %s" % (key, value) if value not in (None, "") else "%s =" % key


def _list_lines(key, items):
    items = list(items or ())
    if len(items) <= 1:
        return [_line(key, items[0] if items else None)]
    return ["%s =" % key] + ["    %s" % item for item in items]


def _duration_text(seconds):
    seconds = int(seconds)
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds
