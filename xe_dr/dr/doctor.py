"""``doctor``: what xe-dr will meet on this pool, read without changing anything.

Only ``*-list`` calls, the plugin's ``version`` function and, through the runner that reaches
the master's dom0, two read-only shell commands (the plugin file's first line, and which
Pythons dom0 has, as ``plugin install`` asks). The version-dependent facts come from
:mod:`xe_dr.dr.fidelity`.
"""

from xe_dr.dr import fidelity, plugin_install
from xe_dr.dr.listing import METADATA_TYPES
from xe_dr.exitcodes import ExitCode
from xe_dr.pool import PoolSnapshot
from xe_dr.runner.base import CommandFailed, CommandTimedOut

# Stable ids of the behaviours, in the order they are reported.
PLUG_DOES_NOT_SCAN = "plug-does-not-scan"
OPERATION_IN_PROGRESS_FOUR = "operation-in-progress-4-params"
UNMATCHED_NETWORK_FAILS = "unmatched-network-fails"
MULTIPATH_PROBE_REFUSED = "multipath-probe-refused"

_SCAN_BY_HAND = "by hand: xe sr-scan uuid=%s, then "
_REPLUG_BY_HAND = "pbd-unplug and pbd-plug its PBDs (the master's last off, first on)"


def examine(xe, runner, transport, xe_path, use_plugin=True, root_for_host=None):
    """The doctor's report (a JSON-ready dict; see the man page for its keys).

    ``runner`` reaches the master's dom0 (the plugin file, the Pythons); ``root_for_host(host)``
    is a local directory standing for a host's ``/`` (the lab), where every host's plugin file
    is read instead."""
    facts = PoolSnapshot(xe).read("pool", "hosts")
    pool, hosts = facts.pool, facts.hosts
    report = {"transport": transport, "xe": xe_path, "pool": pool.to_json(), "hosts": [],
              "problems": [], "warnings": [], "notes": []}
    if not pool.dr_allowed:
        report["problems"].append(
            "the pool's licence restricts disaster recovery (restrict_dr=true)")
    master, labels = None, {}
    for host in hosts:
        entry = host.to_json()
        entry["master"] = host.uuid == pool.master
        version = fidelity.xapi_version(host.software_version)
        entry["xapi"] = list(version) if version else None
        labels[host.uuid] = _version_label(host, version)
        report["hosts"].append(entry)
        if entry["master"]:
            master = (host, version)
    _versions(report, labels)
    version = master[1] if master else None
    report["xapi"] = {"version": _version_label(master[0], version) if master else None,
                      "judged_by": master[0].name_label if master else None}
    if master and version is None:
        report["warnings"].append(
            "the master's xapi version is not known (software-version xapi=%r): xe-dr "
            "assumes the newest behaviours" % master[0].software_version.get("xapi", ""))
    report["behaviours"] = behaviours(version, [h for h in hosts if h.multipathing])
    _plugin(report, xe, pool, hosts, runner, use_plugin, root_for_host)
    report["metadata_srs"] = _metadata_srs(report, facts, version)
    return report


def _version_label(host, version):
    """The version as the host prints it: ``24.19.2`` (xapi_build), ``1.249`` (xapi alone)."""
    if version is None:
        return None
    if host.xapi_build and fidelity.parse_version(host.xapi_build) == version:
        return host.xapi_build
    return host.xapi_version


def exit_verdict(report):
    """"problems", "warnings" or "ok": what the report's exit status says."""
    if report["problems"]:
        return "problems"
    return "warnings" if report["warnings"] else "ok"


def exit_code(report):
    """The exit status of ``xe-dr doctor``: 1 problems, 2 warnings only, 0 all well."""
    return {"problems": ExitCode.FAILED, "warnings": ExitCode.PARTIAL,
            "ok": ExitCode.OK}[exit_verdict(report)]


# -- versions and behaviours --------------------------------------------------------------------

def _versions(report, labels):
    by_version = {}
    for host in report["hosts"]:
        key = "%s %s%s, xapi %s" % (
            host["product_brand"], host["product_version"],
            " (build %s)" % host["build_number"] if host["build_number"] else "",
            labels[host["uuid"]] or "unknown")
        by_version.setdefault(key, []).append(host["name_label"])
    if len(by_version) > 1:
        report["problems"].append(
            "hosts run different versions (an upgrade not finished?): %s" % "; ".join(
                "%s on %s" % (key, ", ".join(names)) for key, names in sorted(by_version.items())))


def behaviours(version, multipath_hosts=()):
    """What xapi and sm do here that matters to DR, and how xe-dr handles it: one dict per
    behaviour (``id``, ``applies``: True, False or None when the version is unknown, ``fact``,
    ``handling``), for a master running xapi ``version`` and the hosts with multipathing on."""
    out = []
    scans = fidelity.plug_scans(version)
    out.append({
        "id": PLUG_DOES_NOT_SCAN, "applies": None if scans is None else not scans,
        "fact": {True: "PBD.plug scans the SR before xapi reads its metadata (xapi < 23.22.0)",
                 False: "PBD.plug does not scan (xapi >= 23.22.0, commit 7c04e3e5e4): an SR a "
                        "DR task attaches has no VDI records, disks included, until scanned",
                 None: "PBD.plug may not scan (it does not from xapi 23.22.0)"}[scans],
        "handling": "xe-dr scans every SR it attaches%s" % (
            " anyway (harmless here)" if scans else
            " and re-plugs it so xapi finds the newest metadata copy")})
    params = fidelity.operation_in_progress_params(version)
    out.append({
        "id": OPERATION_IN_PROGRESS_FOUR, "applies": None if params is None else params == 4,
        "fact": "OTHER_OPERATION_IN_PROGRESS has %s" % {
            2: "2 parameters (class, object; xapi < 25.27.0)",
            4: "4 parameters (class, object, operation type and ref; xapi >= 25.27.0)",
            None: "2 or 4 parameters (4 from xapi 25.27.0)"}[params],
        "handling": "xe-dr reads either form"})
    out.append({
        "id": UNMATCHED_NETWORK_FAILS, "applies": fidelity.unmatched_network_fails(version),
        "fact": "a network that matches neither by name nor bridge fails recovery (all "
                "versions)",
        "handling": "xe-dr creates a same-named network first"})
    names = sorted(h.name_label for h in multipath_hosts
                   if fidelity.probe_refuses_attached_lun(h.multipathing))
    out.append({
        "id": MULTIPATH_PROBE_REFUSED, "applies": bool(names), "hosts": names,
        "fact": ("multipathing is on (%s): sm refuses a probe of a LUN already attached "
                 "(SR_DEVICE_IN_USE)" % ", ".join(names)) if names else
                "multipathing is off on every host",
        "handling": "xe-dr lists LUNs and does not re-probe attached ones"})
    return out


# -- the host plugin ----------------------------------------------------------------------------

def _plugin(report, xe, pool, hosts, runner, use_plugin, root_for_host):
    entries = {e["uuid"]: e for e in report["hosts"]}
    if use_plugin:
        for state in plugin_install.status(xe, pool, hosts):
            entries[state["host"]]["plugin"] = state["version"]
            entries[state["host"]]["plugin_error"] = state["error"]
    else:
        report["notes"].append("the host plugin was not asked (--no-plugin)")
        for entry in entries.values():
            entry["plugin"] = entry["plugin_error"] = None
    for host in hosts:
        entry = entries[host.uuid]
        entry.update(plugin_first_line=None, plugin_interpreter=None, pythons=None,
                     plugin_install_chooses=None)
        is_master = host.uuid == pool.master
        if root_for_host is None and not is_master:
            continue  # only the master's dom0 is reached
        try:
            if root_for_host is not None:
                line = plugin_install.plugin_first_line(root=root_for_host(host))
            else:
                line = plugin_install.plugin_first_line(runner)
            entry["plugin_first_line"] = line
            entry["plugin_interpreter"] = plugin_install.interpreter_of(line)
            if is_master:
                entry["pythons"] = plugin_install.host_pythons(
                    runner, root_for_host(host).rstrip("/") if root_for_host else "")
                entry["plugin_install_chooses"] = plugin_install.choose_interpreter(
                    entry["pythons"])
        except (CommandFailed, CommandTimedOut) as failure:
            report["notes"].append("could not read the plugin file or the Pythons of %s: %s"
                                   % (host.name_label, failure.one_line()))
    _plugin_verdicts(report, use_plugin)


def _plugin_verdicts(report, use_plugin):
    if not use_plugin:
        return
    hosts = report["hosts"]
    for host in hosts:
        if host["plugin_error"]:
            report["problems"].append(
                "the host plugin on %s does not answer: %s%s; install it again with 'xe-dr "
                "plugin install', or run xe-dr with --no-plugin" % (
                    host["name_label"], host["plugin_error"], _missing_interpreter(host)))
    missing = [h["name_label"] for h in hosts if h["plugin"] is None and not h["plugin_error"]]
    if missing:
        report["notes"].append("host plugin not installed on %s: xe-dr falls back to plain xe "
                               "(slower); install it with 'xe-dr plugin install'"
                               % ", ".join(missing))
    shipped = plugin_install.bundled_version()
    old = ["%s (version %s)" % (h["name_label"], h["plugin"]) for h in hosts
           if h["plugin"] and shipped and h["plugin"] != shipped]
    if old:
        report["notes"].append("this xe-dr ships plugin version %s; %s: update with 'xe-dr "
                               "plugin install'" % (shipped, ", ".join(old)))
    for host in hosts:
        chooses, runs = host["plugin_install_chooses"], host["plugin_interpreter"]
        if host["plugin"] and chooses and runs and chooses != runs:
            report["notes"].append("the plugin on %s runs under %s; 'xe-dr plugin install' "
                                   "would now choose %s" % (host["name_label"], runs, chooses))


def _missing_interpreter(host):
    runs, pythons = host["plugin_interpreter"], host["pythons"]
    if runs and pythons is not None and runs not in [p["name"] for p in pythons]:
        return " (its first line names %s, which this host does not have)" % runs
    return ""


# -- metadata SRs -------------------------------------------------------------------------------

def _metadata_srs(report, facts, version):
    """Every SR of a type that can hold DR metadata, with its VDI records and metadata VDIs."""
    srs = [sr for sr in facts.srs.values() if sr["type"] in METADATA_TYPES]
    if not srs:
        return []
    wanted = {sr["uuid"] for sr in srs}
    vdis = [v for v in facts.vdis.values() if v["sr"] in wanted]
    pool = facts.pool
    attached = {p["sr"] for p in facts.pbds if p["host"] == pool.master and p["attached"]} \
        if pool.master else set()
    out = []
    for sr in sorted(srs, key=lambda r: (r["name_label"], r["uuid"])):
        own = [v for v in vdis if v["sr"] == sr["uuid"]]
        entry = {"uuid": sr["uuid"], "name_label": sr["name_label"], "type": sr["type"],
                 "introduced_by": sr["introduced_by"], "attached": sr["uuid"] in attached,
                 "vdi_records": len(own), "metadata_vdis": []}
        for vdi in sorted((v for v in own if v["type"] == "Metadata"), key=lambda v: v["uuid"]):
            of_pool = vdi["metadata_of_pool"]
            entry["metadata_vdis"].append({
                "uuid": vdi["uuid"], "metadata_latest": vdi["metadata_latest"],
                "metadata_of_pool": of_pool, "this_pool": of_pool == pool.uuid})
        out.append(entry)
        _sr_warnings(report, entry, version)
    return out


def _sr_warnings(report, sr, version):
    name = "SR %s (%s)" % (sr["name_label"] or "-", sr["uuid"])
    if sr["introduced_by"] and not sr["vdi_records"]:
        scans = fidelity.plug_scans(version)
        if scans:
            why = ("although this xapi (%s) scans on plug: is the SR plugged, and is the LUN "
                   "the right one?" % fidelity.version_text(version))
        else:
            why = ("this xapi (%s) does not scan on plug, so neither its disks nor its metadata "
                   "are known; 'xe-dr failover' scans it and plugs it again, or %s%s" % (
                       fidelity.version_text(version), _SCAN_BY_HAND % sr["uuid"],
                       _REPLUG_BY_HAND))
        report["warnings"].append("%s was attached by DR task %s and has no VDI records: %s"
                                  % (name, sr["introduced_by"], why))
        return
    unread = [v["uuid"] for v in sr["metadata_vdis"] if v["metadata_of_pool"] is None]
    if unread and sr["attached"]:
        report["warnings"].append(
            "%s holds metadata VDI %s that xapi has not read (its pool is not known): "
            "'xe-dr failover' plugs the SR again so that xapi reads it, or by hand: %s" % (
                name, ", ".join(unread), _REPLUG_BY_HAND))
