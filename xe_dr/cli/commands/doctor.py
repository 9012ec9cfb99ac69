"""``xe-dr doctor``: what xe-dr can reach, and whether DR can work there."""

from xe_dr.exitcodes import ExitCode

NAME = "doctor"
HELP = "report the transport, xe, the pool, host versions, the DR licence and the host plugin"


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
    missing = [h["name_label"] for h in report["hosts"] if h["plugin"] is None]
    if missing:
        report["notes"] = ["host plugin not installed on %s: xe-dr falls back to plain xe "
                           "(slower); install it with 'xe-dr plugin install'" % ", ".join(missing)]
    ctx.output.data(report, _text(report))
    return ExitCode.FAILED if report["problems"] else ExitCode.OK


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
    for note in report.get("notes", []):
        lines.append("note: " + note)
    for problem in report["problems"]:
        lines.append("PROBLEM: " + problem)
    return lines
