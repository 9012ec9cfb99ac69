"""``xe-dr doctor``: what xe-dr will meet on this pool, read without changing anything."""

NAME = "doctor"
HELP = ("report, read only, what xe-dr will meet on this pool: versions, the xapi behaviours "
        "that apply and how xe-dr handles them, multipathing, the host plugin and its "
        "Python, the metadata SRs; exit 0 all well, 2 warnings, 1 problems")
EXAMPLES = (
    "xe-dr -H root@xcp-a1 doctor",
    "xe-dr -H root@xcp-b1 doctor --json > doctor-xcp-b1.json",
    "xe-dr --xe \"$LAB/bin/xe-A\" doctor --host-root \"$LAB/hosts/{uuid}\"",
)


def add_arguments(parser):
    parser.add_argument("--host-root", metavar="TEMPLATE",
                        help="a local directory standing for each host's / (the lab: "
                             "LAB/hosts/{uuid}): every host's plugin file is read there")


def run(ctx):
    from xe_dr.dr.doctor import examine, exit_code
    from xe_dr.dr.plugin_install import host_roots
    roots = host_roots(ctx.args.host_root)
    report = examine(ctx.xe, ctx.runner, ctx.runner.description, ctx.xe_path,
                     use_plugin=ctx.use_plugin, root_for_host=roots)
    ctx.output.data(report, _text(report))
    return exit_code(report)


def _onoff(flag):
    return "on" if flag else "off"


def _text(report):
    pool = report["pool"]
    lines = [
        "transport:  %s" % report["transport"],
        "xe:         %s" % report["xe"],
        "pool:       %s (%s)" % (pool["name_label"] or "-", pool["uuid"]),
        "DR licence: %s" % ("allowed" if pool["dr_allowed"] else "RESTRICTED (restrict_dr=true)"),
        "HA:         %s" % ("enabled" if pool["ha_enabled"] else "disabled"),
        "xapi:       %s (the master's; behaviours below follow it)" % (
            report["xapi"]["version"] or "unknown"),
    ]
    for host in report["hosts"]:
        lines.append("host %s%s: %s %s%s, xapi %s%s, multipathing %s" % (
            host["name_label"], " [master]" if host["master"] else "", host["product_brand"],
            host["product_version"],
            " (build %s)" % host["build_number"] if host["build_number"] else "",
            host["xapi_version"],
            " (build %s)" % host["xapi_build"] if host["xapi_build"] else " (no xapi_build)",
            _onoff(host["multipathing"])))
        lines.append("  plugin: %s" % _plugin_text(host))
        if host["pythons"] is not None:
            lines.append("  pythons: %s; 'plugin install' would choose %s" % (
                ", ".join("%s %s (%s)" % (p["name"], p["version"] or "?", "XenAPIPlugin"
                                          if p["xenapi"] else "no XenAPIPlugin")
                          for p in host["pythons"]) or "none",
                host["plugin_install_chooses"]))
    for behaviour in report["behaviours"]:
        lines.append("behaviour: %s -- %s" % (behaviour["fact"], behaviour["handling"]))
    if not report["metadata_srs"]:
        lines.append("metadata SRs: none (no lvmoiscsi or lvmohba SR here)")
    for sr in report["metadata_srs"]:
        lines.append("metadata SR %s (%s, %s): %s, %d VDI record%s%s" % (
            sr["name_label"] or "-", sr["uuid"], sr["type"],
            "attached" if sr["attached"] else "not attached on the master", sr["vdi_records"],
            "" if sr["vdi_records"] == 1 else "s",
            ", introduced by DR task %s" % sr["introduced_by"] if sr["introduced_by"] else ""))
        for vdi in sr["metadata_vdis"]:
            lines.append("  metadata VDI %s: %s, of pool %s" % (
                vdi["uuid"], "latest" if vdi["metadata_latest"] else "not latest",
                "%s (this pool)" % vdi["metadata_of_pool"] if vdi["this_pool"] else
                vdi["metadata_of_pool"] or "not read by xapi"))
    for note in report["notes"]:
        lines.append("note: " + note)
    for warning in report["warnings"]:
        lines.append("WARNING: " + warning)
    for problem in report["problems"]:
        lines.append("PROBLEM: " + problem)
    if report["problems"]:
        lines.append("%d problem(s), %d warning(s)" % (len(report["problems"]),
                                                       len(report["warnings"])))
    elif report["warnings"]:
        lines.append("%d warning(s), no problem" % len(report["warnings"]))
    else:
        lines.append("OK: all is well")
    return lines


def _plugin_text(host):
    if host["plugin_error"]:
        text = "FAILS: %s" % host["plugin_error"]
    elif host["plugin"]:
        text = "version %s" % host["plugin"]
    else:
        text = "not installed"
    if not (host["plugin"] or host["plugin_error"]):
        return text
    if host["plugin_interpreter"]:
        text += ", runs under %s" % host["plugin_interpreter"]
        python = [p for p in host["pythons"] or () if p["name"] == host["plugin_interpreter"]]
        if python:
            text += " (%s %s)" % (python[0]["version"] or "version unknown",
                                  "with XenAPIPlugin" if python[0]["xenapi"] else
                                  "without XenAPIPlugin")
    elif host["plugin_first_line"]:
        text += ", first line %r names no interpreter" % host["plugin_first_line"]
    elif host["pythons"] is None and not host["master"] and host["plugin"]:
        text += " (its interpreter is read on the master only)"
    return text
