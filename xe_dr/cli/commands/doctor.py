"""``xe-dr doctor``: what xe-dr can reach, and whether DR can work there."""

from xe_dr.exitcodes import ExitCode

NAME = "doctor"
HELP = ("report the transport, xe, the pool, host versions, the DR licence, the host plugin, "
        "and what this xapi means for a failover (read-only)")


def add_arguments(parser):
    pass


def run(ctx):
    from xe_dr.dr.plugin import plugin_version
    from xe_dr.pool import read_hosts, read_pool
    report = {"transport": ctx.runner.description, "xe": ctx.xe_path, "problems": []}
    pool = read_pool(ctx.xe)
    hosts = read_hosts(ctx.xe)
    report["pool"] = pool.to_json()
    report["hosts"] = []
    for host in hosts:
        entry = host.to_json()
        entry["master"] = host.uuid == pool.master
        entry["plugin"] = plugin_version(ctx.xe, host.uuid)
        report["hosts"].append(entry)
    if not pool.dr_allowed:
        report["problems"].append("the pool's licence restricts disaster recovery (restrict_dr=true)")
    versions = {(h["product_version"], h["build_number"]) for h in report["hosts"]}
    if len(versions) > 1:
        report["problems"].append("hosts run different product versions: %s"
                                  % ", ".join(sorted("%s %s" % v for v in versions)))
    _fidelity(ctx, pool, hosts, report)
    missing = [h["name_label"] for h in report["hosts"] if h["plugin"] is None]
    if missing:
        report["notes"] = ["host plugin not installed on %s: xe-dr falls back to plain xe "
                           "(slower); install it with 'xe-dr plugin install'" % ", ".join(missing)]
    ctx.output.data(report, _text(report))
    return ExitCode.FAILED if report["problems"] else ExitCode.OK


def _fidelity(ctx, pool, hosts, report):
    """What xe-dr will meet on this pool's xapi (xe_dr/dr/fidelity.py), read-only: the
    master's xapi version and the behaviours it implies, multipathing per host, and the
    metadata SRs xapi has not scanned or read."""
    from xe_dr.dr import fidelity
    from xe_dr.dr.inventory import find_metadata_copies
    from xe_dr.dr.listing import METADATA_TYPES, unread_srs
    master = [h for h in hosts if h.uuid == pool.master]
    text = master[0].software_version.get("xapi") if master else None
    build = master[0].software_version.get("xapi_build") if master else None
    version = fidelity.version_tuple(build) or fidelity.version_tuple(text)
    report["xapi"] = {"version": text, "build": build,
                      "behaviours": fidelity.behaviours(version)}
    multipath = dict((r["uuid"], r.get("multipathing") == "true") for r in ctx.xe.list(
        "host", params=("uuid", "multipathing")))
    for host in report["hosts"]:
        host["multipathing"] = multipath.get(host["uuid"], False)
    copies = find_metadata_copies(ctx.xe, pool.uuid)
    srs = [r for r in ctx.xe.list("sr", params=("uuid", "name-label", "type"))
           if r.get("type") in METADATA_TYPES]
    report["metadata_srs"] = [{
        "uuid": sr["uuid"], "name_label": sr.get("name-label", ""),
        "copies": [{"vdi": c.vdi_uuid, "pool": c.pool_uuid, "latest": c.latest,
                    "local": c.local} for c in copies if c.sr_uuid == sr["uuid"]]}
        for sr in srs]
    report["unread_srs"] = unread_srs(ctx.xe, pool.master, copies)
    warnings = report.setdefault("warnings", [])
    if any(h["multipathing"] for h in report["hosts"]):
        warnings.append(fidelity.multipath_note())
    for sr in report["unread_srs"]:
        warnings.append("SR %s (%s): %s" % (sr["name_label"], sr["uuid"], sr["why"]))


def _text(report):
    pool = report["pool"]
    lines = [
        "transport:  %s" % report["transport"],
        "xe:         %s" % report["xe"],
        "pool:       %s (%s)" % (pool["name_label"] or "-", pool["uuid"]),
        "DR licence: %s" % ("allowed" if pool["dr_allowed"] else "RESTRICTED (restrict_dr=true)"),
        "HA:         %s" % ("enabled" if pool["ha_enabled"] else "disabled"),
        "hosts:",
    ]
    for host in report["hosts"]:
        lines.append("  %s%s  %s %s (build %s), xapi %s, plugin %s" % (
            host["name_label"], " [master]" if host["master"] else "", host["product_brand"],
            host["product_version"], host["build_number"] or "?", host["xapi_version"],
            host["plugin"] or "not installed"))
    xapi = report.get("xapi")
    if xapi:
        lines.append("xapi:       %s%s" % (xapi["version"] or "unknown", " (build %s)" % xapi[
            "build"] if xapi["build"] else ""))
        for rule in xapi["behaviours"]:
            if rule["applies"]:
                lines.append("  %s; %s" % (rule["what"], rule["how"]))
    multipathed = [h["name_label"] for h in report["hosts"] if h.get("multipathing")]
    if "metadata_srs" in report:
        lines.append("multipath:  %s" % (", ".join(multipathed) or "off on every host"))
        for sr in report["metadata_srs"]:
            lines.append("metadata SR %s (%s): %s" % (
                sr["name_label"], sr["uuid"], ", ".join(
                    "%s copy%s%s" % ("own" if c["local"] else "foreign", "" if c["pool"] or
                                     c["local"] else " not read", ", latest" if c["latest"]
                                     else "") for c in sr["copies"]) or "no metadata VDI"))
    for warning in report.get("warnings", []):
        lines.append("warning: " + warning)
    for note in report.get("notes", []):
        lines.append("note: " + note)
    for problem in report["problems"]:
        lines.append("PROBLEM: " + problem)
    return lines
