"""The plain-text report, in plain Python (no jinja2: it must work on dom0's bare Python 3.6).

Everything comes from the report model (:mod:`xe_dr.report.model`); this module only lays
it out. Names come from pools and can hold anything: control characters are shown escaped,
so a name cannot forge a line of the report.
"""

from xe_dr.text import printable

UNKNOWN = "unknown"
WIDTH = 48  # of the timeline's bars, in characters


def clean(value):
    """A value for one line of text: None -> "unknown", control characters escaped."""
    if value is None or value == "":
        return UNKNOWN
    if not isinstance(value, str):
        value = str(value)
    return printable(value)


def name(value, uuid=None):
    text = clean(value)
    if uuid and value is None:
        return "%s (%s)" % (text, clean(uuid))
    return text


#: The marks of the phases before the recoveries (model.PHASES).
PHASE_MARKS = {"storage": "#", "source": "d", "gate": "g"}


def timeline_legend(timeline):
    """What the marks of a text timeline mean (the phases' only when it has them)."""
    phases = [g.get("phase") for g in timeline["groups"]]
    marks = ["d shutting down at the source"] if "source" in phases else []
    marks += ["# storage"] if "storage" in phases else []
    marks += ["g waiting for a plan group's gate"] if any(
        b["kind"] == "gate" for g in timeline["groups"] for b in g["bars"]) else []
    return ", ".join(marks + ["r recovering", ". waiting", "s starting", "X failed",
                              "> no end"])


def ascii_timeline(timeline, width=WIDTH):
    """Lines of a text timeline: ``#`` storage, ``d`` shutting down at the source, ``r``
    recovering, ``.`` waiting, ``s`` starting; ``X`` failed, ``>`` no end."""
    if not timeline:
        return []
    span = timeline["span"] or 1.0
    labels = [clean(b["name_label"]) for g in timeline["groups"] for b in g["bars"]]
    label_width = min(max([len(label) for label in labels] + [8]), 28)

    def col(offset):
        if offset is None:
            return None
        return max(0, min(width - 1, int(round(offset / span * (width - 1)))))

    lines = []
    for group in timeline["groups"]:
        lines.append("  %s" % group["label"])
        for bar in group["bars"]:
            cells = [" "] * width
            begin, end = col(bar["begin"]), col(bar["end"])
            for index in range(begin, end + 1):
                cells[index] = "."
            recover_end = col(bar["recover_end"]) if bar["recover_end"] is not None else end
            for index in range(begin, recover_end + 1):
                cells[index] = PHASE_MARKS.get(bar["kind"], "r")
            if bar["start_begin"] is not None:
                start_end = col(bar["start_end"]) if bar["start_end"] is not None else end
                for index in range(col(bar["start_begin"]), start_end + 1):
                    cells[index] = "s"
            if bar["failed"]:
                cells[end] = "X"
            elif bar["open"]:
                cells[end] = ">"
            label = clean(bar["name_label"])
            if len(label) > label_width:
                label = label[:label_width - 1] + "~"
            lines.append("    %-*s |%s| %s" % (label_width, label, "".join(cells),
                                                clean(bar["label"])))
    axis = "0"
    end_text = timeline["span_text"] or ""
    lines.append("    %-*s  %s%s" % (label_width, "", axis,
                                       end_text.rjust(width - len(axis))))
    return lines


def render(model):
    """The report as text (one str, ending with a newline)."""
    out = []
    add = out.append
    run, target, settings = model["run"], model["target"], model["settings"]
    title = "xe-dr report: %s: %s" % (clean(model["title"]), clean(run["status_text"]))
    add(title)
    add("=" * min(len(title), 78))
    add("")

    def field(label, value):
        add("%-15s %s" % (label, value))

    field("Run", "%s (%s)" % (clean(run["id"]), clean(run["kind_text"])))
    field("Status", clean(run["status_text"]) + (
        ", exit status %d" % run["exit_code"] if run["exit_code"] is not None else ""))
    if run["error"]:
        field("Error", clean(run["error"]))
    field("Started", clean(run["created_text"]))
    field("Ended", "%s%s" % (clean(run["ended_text"]), (
        " (%s)" % run["duration_text"]) if run["duration_text"] else "") + (
        "" if run["ended_recorded"] or not run["ended_text"] else
        " (its last journal entry: no end was recorded)"))
    if run["resumed_text"]:
        field("Resumed", clean(run["resumed_text"]))
    field("Run by", "%s on %s" % (clean(run["user"]), clean(run["client_host"])))
    field("Target pool", "%s (%s), master %s" % (clean(target["pool_name"]),
                                                 clean(target["pool_uuid"]),
                                                 clean(target["master"])))
    field("Transport", clean(target["transport"]))
    field("Command", clean(run["command"]))
    if run["kind"] != "cleanup":
        field("Selection", clean(settings["selection"]))
        field("Power", clean(settings["power_text"]))
        if settings["network_map"]:
            field("Networks", ", ".join("%s -> %s" % (clean(k), clean(v))
                                        for k, v in sorted(settings["network_map"].items())))
        if model["rpo"]:
            field("Recovery point", clean(model["rpo"]["text"]))
            if model["rpo"]["accuracy"]:
                field("", "(%s)" % clean(model["rpo"]["accuracy"]))
        fence = model["fence"]
        if fence:
            field("Data lost", clean(fence["data_lost"] or (
                "not established: %s" % "; ".join(fence["stale"]) if fence["stale"] else
                "not established (%s)" % (fence["unread"] or "nothing compared"))))
            for copy in fence["copies"]:
                field("", "metadata %s: generation %s here, %s at the source after its "
                          "shutdown" % (clean(copy.get("vdi")), clean(copy.get("here")),
                                        clean(copy.get("source_after_shutdown"))))
        if model["rto"]:
            field("Recovery time", clean(model["rto"]["text"]))
            if model["rto"]["objective_text"]:
                field("RTO objective", clean(model["rto"]["objective_text"]))
    field("Report made", "%s by %s" % (clean(model["generated_text"]), clean(model["generator"])))
    if model["problems"]:
        add("")
        add("Gaps in the run's records")
        for problem in model["problems"]:
            add("  - %s" % clean(problem))

    if model["cleanup"]:
        cleanup = model["cleanup"]
        add("")
        add("What the cleanup of %s removed" % clean(cleanup["of"]))
        for key, label in (("vms", "VM records"), ("appliances", "vApps"),
                           ("tasks", "DR tasks"), ("srs", "SRs"),
                           ("plugged_pbds", "PBDs plugged by the run"),
                           ("networks", "networks")):
            add("  %-24s %s" % (label, clean(cleanup["counts"].get(key))))

    if model["verification"]:
        check = model["verification"]
        add("")
        add("Verification: %s" % clean(check["verdict"]))
        for vm in check["vms"]:
            add("  %-12s %-24s %s%s" % ("verified" if vm["verified"] else "NOT VERIFIED",
                                        clean(vm["name_label"]), clean(vm["reason"]),
                                        " (at %s)" % clean(vm["verified_at_text"])
                                        if vm["verified"] else ""))
        add("  the array's copies: %d%s" % (check["copies"], ", released by cleanup run %s"
                                           % clean(check["cleanup_run"])
                                           if check["cleanup_run"] else ""))
        if check["mirror_before"] is not None:
            add("  mirror before: %s" % clean(_mirror_text(check["mirror_before"])))
            add("  mirror after:  %s" % clean(_mirror_text(check["mirror_after"])))

    if model["storage"] or run["kind"] in ("failover", "test", "failback", "drill", "planned"):
        add("")
        add("Storage")
        if not model["storage"]:
            add("  none asked for (the SRs were attached already)")
        for entry in model["storage"]:
            add("  LUN %s (%s)%s" % (clean(entry["lun"]), clean(entry["type"]),
                                     ", DR task %s" % clean(entry["task"])
                                     if entry["task"] else ""))
            if entry.get("unknown"):
                add("    %s" % clean(entry["note"]))
                if entry["introduced"]:
                    add("    introduced: %s" % _srs(entry["introduced"]))
                continue
            add("    found:      %s" % _srs(entry["found"]))
            add("    introduced: %s" % _srs(entry["introduced"]))
            if entry["plugged"]:
                add("    plugged:    %s" % _srs(entry["plugged"]))
            if entry["already_attached"]:
                add("    attached already: %s" % _srs(entry["already_attached"]))
        add("  SRs selected:   %s" % _srs(model["srs"]["selected"]))
        add("  SRs introduced: %s" % _srs(model["srs"]["introduced"]))

    if model["pools"]:
        add("")
        add("vApps and VMs, by source pool")
        for pool in model["pools"]:
            add("  Pool %s (%s)%s" % (clean(pool["name_label"]), clean(pool["uuid"]), (
                ", metadata VDI %s read with %s" % (clean(pool["vdi"]), clean(pool["via"])))
                if pool["vdi"] else ""))
            for item in pool["vapps"] + pool["vms"]:
                add("    %-5s %-28s %-10s %s" % (
                    item["kind_text"], name(item["name_label"], item["uuid"]),
                    item["time_to_ready_text"] or "", clean(item["state_text"])))
                if item["error"]:
                    add("          error: %s" % clean(item["error"]))
                if item["members"]:
                    add("          members: %s" % ", ".join(
                        "%s%s" % (name(m["name_label"], m["uuid"]),
                                  " (order %d)" % m["order"] if m["order"] is not None else "")
                        for m in item["members"]))

    add("")
    add("Prechecks and warnings (%d prechecks ok)" % model["checks_ok"])
    if not model["checks"] and not model["warnings"]:
        add("  none")
    for check in model["checks"]:
        add("  %-8s %s%s" % (clean(check["verdict"]), clean(check["message"]),
                             " (fix: %s)" % clean(check["fix"]) if check["fix"] else ""))
    for warning in model["warnings"]:
        add("  warning  %s" % clean(warning))

    if model["timeline"]:
        add("")
        add("Timeline (from the run's start; %s)" % timeline_legend(model["timeline"]))
        out.extend(ascii_timeline(model["timeline"]))

    add("")
    add("Steps (begin and end from the run's start)")
    if not model["steps"]:
        add("  none journaled")
    for step in model["steps"]:
        add("  %-10s %-10s %-8s %-10s %s" % (
            step["begin_offset_text"] or "?", step["end_offset_text"] or "-",
            step["duration_text"] or "", clean(step["status_text"]),
            clean(step["description"])))
        if step["error"]:
            add("      error: %s" % clean(step["error"]))
        if step["attempts"] > 1:
            add("      begun %d times (resumed)" % step["attempts"])
    if model["notes"]:
        add("")
        add("Journal notes")
        for note in model["notes"]:
            add("  %-12s %s" % (note["offset"] is not None and
                                "+%s" % _short(note["offset"]) or "?", clean(note["text"])))

    add("")
    add("Commands")
    if not model["commands_recorded"]:
        add("  not recorded in this run's journal")
    for command in model["commands"]:
        add("  %s" % clean(command["text"]))

    add("")
    add("Failures")
    if not model["failures"]:
        add("  none")
    for failure in model["failures"]:
        add("  - %s" % clean(failure))
    add("")
    add("Still to do")
    if not model["todo"]:
        add("  nothing")
    for todo in model["todo"]:
        add("  - %s" % clean(todo))
    return "\n".join(out) + "\n"


def _short(seconds):
    from xe_dr.report.model import duration_text
    return duration_text(seconds)


def _srs(srs):
    if srs is None:
        return UNKNOWN
    if not srs:
        return "none"
    return ", ".join("%s (%s)" % (clean(sr["name_label"]), clean(sr["uuid"]))
                     if sr["name_label"] is not None else clean(sr["uuid"]) for sr in srs)


def _mirror_text(luns):
    """The adapter's mirror-state answer, one phrase per LUN."""
    if not luns:
        return "unknown"
    return "; ".join("%s %s from %s" % (l.get("lun"), l.get("state"), l.get("source"))
                     for l in luns if isinstance(l, dict))
