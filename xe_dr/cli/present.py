"""Text presentation of workflow reports (JSON output is the report itself)."""


def redacted_argv(ctx):
    """The command line as run, safe to keep in a journal: secrets are never in xe-dr's argv
    (CHAP passwords come from files, the environment or a prompt), redacted all the same."""
    from xe_dr.redact import redact_argv
    return ["xe-dr"] + redact_argv(ctx.argv)


def failover_text(report):
    lines = []
    title = {"failover": "Failover", "test": "Test failover", "failback": "Failback",
             "drill": "Drill", "planned": "Planned migration"}
    lines.append("%s%s: %s" % (title.get(report["mode"], report["mode"]),
                               " (run %s)" % report["run"] if report.get("run") else " (dry run)",
                               report.get("outcome", "?")))
    for entry in report["storage"]:
        lines.append("  LUN %s: %d SR(s) found, introduced %s%s" % (
            entry["lun"], len(entry["found"]), ", ".join(entry["introduced"]) or "none",
            ", plugged %s" % ", ".join(entry["plugged"]) if entry["plugged"] else ""))
    for source in report["sources"]:
        lines.append("  source pool %s (%s), %s" % (
            source["name_label"] or "-", source["uuid"],
            "metadata %s, read with %s" % (source["vdi"], source["via"]) if source["vdi"]
            else "read from the live pool (--source)"))
    for check in report["checks"]:
        if check["verdict"] != "ok":
            lines.append("  precheck %-8s %s%s" % (check["verdict"], check["message"],
                                                   " (fix: %s)" % check["fix"]
                                                   if check.get("fix") else ""))
    for item in report["items"]:
        if item.get("excluded") == "recovered with its vApp":
            state = "recovered with its vApp"
        else:
            state = "excluded: %s" % item["excluded"] if item.get("excluded") else (
                "FAILED" if item.get("failed") else
                ("paused" if report["power"] == "paused" else "started")
                if item.get("started") else
                "recovered" if item.get("recovered_vms") else "planned")
        lines.append("  %-9s %-24s %s" % (item["kind"], item["name_label"], state))
    if report.get("vms"):  # a drill's verification
        lines.append("  verification: %s" % report.get("verdict", "?"))
        for vm in report["vms"]:
            lines.append("    %-12s %-24s %s" % ("verified" if vm["verified"] else
                                                 "NOT VERIFIED", vm["name_label"], vm["reason"]))
    if report.get("cleanup"):
        lines.append("  cleaned up by run %s; the array's copies released: %s" % (
            report["cleanup"].get("run"), ", ".join(report["cleanup"].get("released") or ())
            or "none"))
    for failure in report.get("failures", []):
        lines.append("  failure: %s" % failure)
    if report.get("commands"):
        lines.append("  commands:")
        for step in report["commands"]:
            for command in step["commands"]:
                lines.append("    " + " ".join(command))
    for todo in report["todo"]:
        lines.append("next: " + todo)
    # Last, where an operator's eye lands: the split-brain warning of an unchecked source.
    for warning in report.get("warnings", ()):
        lines.append("warning: " + warning)
    return lines
