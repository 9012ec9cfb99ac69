"""The report model of one run: a plain dict computed from the run's directory.

Every format (text, markdown, HTML, JSON) is rendered from this one dict, so the formats
cannot disagree; the JSON format is the dict itself. It is computed from what the run left
on disk (``run.json``, ``journal.jsonl``, ``report.json``, ``plan.json``), any of which may
be missing, torn or from an older xe-dr: what cannot be known is ``None`` (shown as
"unknown"), and what was wrong with the files is listed under ``problems``. Building the
model never raises for the content of a run directory.

Times are seconds since the epoch (``*_text``: local time with its UTC offset), offsets are
seconds from the run's start, durations are seconds (``*_text``: for people). Everything
taken from the run passes through :mod:`xe_dr.redact` (argv, options, commands, messages).

Standard library only (dom0's Python 3.6).
"""

import json
import os
import re
import socket
import time

from xe_dr import __version__
from xe_dr.journal import read_journal
from xe_dr.marks import heartbeat_epoch, step_kind, step_parts
from xe_dr.redact import REDACTED, is_secret_key, redact_argv

SCHEMA = 1

KIND_TITLES = {"failover": "Failover", "test": "Test failover", "failback": "Failback",
               "drill": "Drill", "cleanup": "Cleanup", "planned": "Planned migration"}
POWER_TEXT = {"start": "started", "paused": "started paused (guest code does not run)",
              "none": "not started"}
#: What "ready" means for an object, by --power.
READY_WORD = {"start": "running", "paused": "paused", "none": "recovered"}
#: The states a run can end in (run.json "status"); anything else is still going or was cut.
FINAL_STATUSES = ("succeeded", "partly failed", "failed", "blocked", "cleaned up",
                  "interrupted", "waiting for the array", "not confirmed")

# Step ids are "<action>:<what>" (xe_dr/dr/engine.py); the first word names the action.
ACTION_TEXT = {
    "attach": "attach storage", "plug": "plug SR", "tag": "tag", "recover": "recover",
    "start": "start", "remap": "move VIF", "drtask-destroy": "destroy DR task",
    "source-shutdown": "shut down at the source", "ha": "HA", "shutdown": "shut down",
    "destroy": "destroy", "unplug": "unplug", "forget": "forget SR", "skip": "skip",
}

_SECRET_ASSIGNMENT = re.compile(r"((?:[^\s=]*)(?:password|secret)[^\s=]*=)(\S+)", re.I)


# -- small helpers --------------------------------------------------------------------------

def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def time_text(when):
    """Local time with its offset, or None."""
    when = _number(when)
    if when is None:
        return None
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(when))
    except (OverflowError, ValueError, OSError):
        return None


def duration_text(seconds):
    """``0.42 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min 10 s``; None for None."""
    seconds = _number(seconds)
    if seconds is None:
        return None
    if seconds < 0:
        seconds = 0.0
    if seconds < 10:
        return "%.2f s" % seconds
    if seconds < 60:
        return "%.1f s" % seconds
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return "%d h %02d min %02d s" % (hours, minutes, secs)
    return "%d min %02d s" % (minutes, secs)


def offset_text(seconds):
    seconds = _number(seconds)
    if seconds is None:
        return None
    return "+" + duration_text(seconds)


def scrub(text):
    """A message with any ``...password...=value`` or ``...secret...=value`` hidden."""
    if text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    return _SECRET_ASSIGNMENT.sub(lambda m: m.group(1) + REDACTED, text)


def scrub_data(value):
    """A copy of JSON data with the values of secret-named keys hidden, strings scrubbed."""
    if isinstance(value, dict):
        return dict((k, REDACTED if isinstance(k, str) and is_secret_key(k) and v not in
                     (None, False, True) else scrub_data(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [scrub_data(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def _argv(argv):
    if not isinstance(argv, (list, tuple)):
        return []
    return [scrub(a) for a in redact_argv([a if isinstance(a, str) else str(a) for a in argv])]


def command_text(argv):
    """One argv as a shell line that copies and runs as it is (values quoted)."""
    import shlex
    return " ".join(shlex.quote(a) for a in argv)


def _s(value):
    """A name or message from the run: a str, or None."""
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _d(value):
    return value if isinstance(value, dict) else {}


def _l(value):
    return value if isinstance(value, list) else []


# -- reading the run directory ----------------------------------------------------------------

def _run_dir(run):
    if isinstance(run, str):
        return run
    return getattr(run, "dir", None) or str(run)


def read(run):
    """The files of a run: ``{"dir", "meta", "entries", "report", "plan", "problems"}``.

    ``run`` is a :class:`xe_dr.journal.Run` or the path of a run directory.
    """
    path = _run_dir(run)
    problems = []
    data = {"dir": path, "problems": problems}

    def load(name, what):
        file_path = os.path.join(path, name)
        if not os.path.exists(file_path):
            return None, False
        try:
            with open(file_path, encoding="utf-8") as handle:
                value = json.load(handle)
        except (IOError, OSError, ValueError) as failure:
            problems.append("%s cannot be read (%s): %s are unknown" % (
                name, getattr(failure, "strerror", None) or type(failure).__name__, what))
            return None, True
        if not isinstance(value, dict):
            problems.append("%s does not hold a JSON object: %s are unknown" % (name, what))
            return None, True
        return value, True

    meta, present = load("run.json", "who ran it, from where and against what")
    if meta is None and not present:
        problems.append("run.json is missing: who ran it, from where and against what are "
                        "unknown")
    if meta is None and isinstance(getattr(run, "meta", None), dict):
        meta = run.meta
    data["meta"] = meta or {}
    data["report"], _ = load("report.json", "the run's results")
    data["plan"], _ = load("plan.json", "the run's plan")
    entries = []
    journal = os.path.join(path, "journal.jsonl")
    if os.path.exists(journal):
        try:
            found = read_journal(journal)  # as resume and cleanup read it
        except (IOError, OSError) as failure:
            problems.append("journal.jsonl cannot be read (%s)" % failure.strerror)
        else:
            entries = found.entries
            problems.extend(found.problems())
    elif data["report"] and isinstance(data["report"].get("journal"), list):
        entries = [e for e in data["report"]["journal"]
                   if isinstance(e, dict) and isinstance(e.get("step"), str)]
    data["entries"] = entries
    return data


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def _lock_holder(state_dir, pool_uuid, run_id):
    """What the pool's lock file says about this run: "alive", "gone" or None (unknown).

    Only reads the file: taking the lock, even for an instant, could make a starting run
    fail."""
    if not state_dir or not pool_uuid:
        return None
    path = os.path.join(state_dir, "locks", "%s.lock" % pool_uuid)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (IOError, OSError, ValueError):
        return None
    match = re.match(r"run (\S+), pid (\d+) on (.*)", text.strip())
    if not match or match.group(1) != run_id:
        return "gone"  # another run (or none) took the lock since: this one ended
    if match.group(3).strip() != socket.gethostname():
        return None
    return "alive" if _pid_alive(int(match.group(2))) else "gone"


# -- steps from the journal -------------------------------------------------------------------

def _steps(entries, start):
    """One dict per step, in the order they first began; the notes; each done step's result
    (kept out of the model: it is the workflow's internal data)."""
    steps, order, notes, results = {}, [], [], {}
    for entry in entries:
        event, name = entry.get("event"), entry["step"]
        when = _number(entry.get("time"))
        data = _d(entry.get("data"))
        if event == "note":
            notes.append({"step": name, "time": when, "time_text": time_text(when),
                          "offset": None if when is None or start is None else when - start,
                          "text": _note_text(name, data)})
            continue
        if event not in ("begin", "done", "failed"):
            continue
        step = steps.get(name)
        if step is None:
            step = steps[name] = {
                "step": name, "action": step_kind(name), "description": None,
                "status": None, "begin": None, "end": None, "attempts": 0, "error": None,
                "reconciled": False, "via": None, "seconds": None, "commands": []}
            order.append(name)
        if event == "begin":
            step["attempts"] += 1
            if step["begin"] is None:
                step["begin"] = when
            step["end"] = None
            step["status"] = "begun"
            step["error"] = None
            step["description"] = _s(data.get("description")) or step["description"]
            step["via"] = _s(data.get("via")) or step["via"]
            for command in _l(data.get("commands")):
                text = command_text(_argv(command))
                if text and text not in step["commands"]:
                    step["commands"].append(text)
        else:
            if step["begin"] is None:  # reconciled after a crash, or an older journal
                step["begin"] = when
            step["end"] = when
            step["status"] = event
            if event == "failed":
                step["error"] = scrub(data.get("error"))
            else:
                step["reconciled"] = bool(data.get("reconciled"))
                step["seconds"] = _number(data.get("seconds"))
                results[name] = data.get("result")
    result = []
    for name in order:
        step = steps[name]
        step["description"] = scrub(step["description"] or name)
        step["action_text"] = ACTION_TEXT.get(step["action"], step["action"])
        step["duration"] = (step["end"] - step["begin"]) if None not in (
            step["end"], step["begin"]) else None
        for key in ("begin", "end"):
            step[key + "_text"] = time_text(step[key])
            step[key + "_offset"] = None if step[key] is None or start is None else \
                step[key] - start
            step[key + "_offset_text"] = offset_text(step[key + "_offset"])
        step["duration_text"] = duration_text(step["duration"])
        result.append(step)
    return result, notes, results


def _note_text(step, data):
    words = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, (dict, list)):
            value = json.dumps(value, sort_keys=True)
        words.append("%s=%s" % (key, value))
    return scrub("%s %s" % (step, " ".join(words))).strip()


def _status_text(status, state, steps_open):
    if state == "finished":
        return status
    if state == "interrupted":
        return "interrupted (status %s; %d step(s) begun with no end)" % (status, steps_open) \
            if steps_open else "interrupted (status %s)" % status
    if state == "running":
        return "still running"
    return "%s: no end recorded; it is still running or was killed" % status


# -- the model --------------------------------------------------------------------------------

def build(run, now=None):
    """The report model of ``run`` (a :class:`xe_dr.journal.Run` or a run directory path)."""
    data = read(run)
    meta, report, plan = data["meta"], data["report"] or {}, data["plan"] or {}
    problems = list(data["problems"])
    now = time.time() if now is None else now
    entries = data["entries"]
    times = [t for t in (_number(e.get("time")) for e in entries) if t is not None]
    created = _number(meta.get("created"))
    if created is None and times:
        created = min(times)
        problems.append("the run's start is unknown: times count from its first journal entry")
    run_id = _s(meta.get("id")) or os.path.basename(os.path.normpath(data["dir"]))
    kind = _s(meta.get("kind")) or _s(report.get("mode")) or (
        "cleanup" if "owned" in report else None)
    options = _d(meta.get("options"))
    target = _d(meta.get("target"))
    status = _s(meta.get("status")) or _s(report.get("outcome")) or "unknown"

    steps, notes, results = _steps(entries, created)
    open_steps = [s for s in steps if s["status"] == "begun"]
    ended = _number(meta.get("ended"))
    if status in FINAL_STATUSES:
        state = "interrupted" if status == "interrupted" else "finished"
    else:
        state_dir = os.path.dirname(os.path.dirname(os.path.normpath(data["dir"])))
        holder = _lock_holder(state_dir, target.get("pool_uuid"), run_id)
        state = {"alive": "running", "gone": "interrupted"}.get(holder, "unknown")
    if ended is None and state != "running" and times:
        ended = max(times)  # the last thing it journaled
    for step in open_steps:
        step["status"] = "begun" if state == "running" else "interrupted"
    for step in steps:
        step["status_text"] = {
            "done": "reconciled" if step["reconciled"] else "done",
            "failed": "FAILED", "begun": "in progress",
            "interrupted": "INTERRUPTED (begun, no end)"}.get(step["status"], step["status"])

    mode = _s(report.get("mode")) or _s(options.get("mode")) or (
        kind if kind in ("failover", "test", "failback", "planned") else None)
    power = _s(report.get("power")) or _s(options.get("power"))
    model = {
        "schema": SCHEMA,
        "generated": now,
        "generated_text": time_text(now),
        "generator": "xe-dr %s on %s" % (__version__, socket.gethostname()),
        "problems": problems,
    }
    duration = None if created is None or ended is None else ended - created
    model["run"] = {
        "id": run_id, "kind": kind,
        "kind_text": KIND_TITLES.get(kind, kind or "unknown kind of run"),
        "status": status, "state": state,
        "status_text": _status_text(status, state, len(open_steps)) if status != "cleaned up"
        else "%s, then cleaned up by run %s" % (_s(report.get("outcome")) or "ended",
                                               _s(meta.get("cleaned_by")) or "unknown"),
        "outcome": _s(report.get("outcome")),
        "exit_code": meta.get("exit_code") if isinstance(meta.get("exit_code"), int) else None,
        "error": scrub(meta.get("error") or report.get("error")),
        "created": created, "created_text": time_text(created),
        "ended": ended, "ended_text": time_text(ended),
        "ended_recorded": _number(meta.get("ended")) is not None,
        "resumed": _number(meta.get("resumed")), "resumed_text": time_text(meta.get("resumed")),
        "duration": duration, "duration_text": duration_text(duration),
        "user": _s(meta.get("user")), "client_host": _s(meta.get("client_host")),
        "argv": _argv(meta.get("argv")),
        "command": command_text(_argv(meta.get("argv"))) if meta.get("argv") else None,
        "options": scrub_data(options),
        "of": _s(options.get("of") or report.get("of")),
        "cleaned_by": _s(meta.get("cleaned_by")),
        "dir": data["dir"],
    }
    model["target"] = {
        "pool_name": _s(target.get("pool_name")), "pool_uuid": _s(target.get("pool_uuid")),
        "master": _s(target.get("master")), "transport": _s(target.get("transport")),
        "host": _s(target.get("host")), "estate_pool": _s(target.get("estate_pool")),
    }
    model["settings"] = {
        "mode": mode, "power": power,
        "power_text": POWER_TEXT.get(power, power) if power else None,
        "ready_word": READY_WORD.get(power, "running"),
        "parallel": options.get("parallel"), "force": options.get("force"),
        "network_map": scrub_data(_d(options.get("network_map"))),
        "plugin": report.get("plugin") if isinstance(report.get("plugin"), bool) else None,
        "selection": _selection_text(options),
    }
    model["title"] = _title(model)
    # A killed run has no report.json: its plan.json kept the storage and the source pools.
    seen = report if isinstance(report.get("storage"), list) else dict(
        report, storage=plan.get("storage"), sources=plan.get("sources")) \
        if isinstance(plan.get("storage"), list) else report
    model["storage"], model["srs"] = _storage(seen, options, results)
    model["sources"] = [_source(s) for s in _l(seen.get("sources")) if isinstance(s, dict)]
    checks = [c for c in _l(report.get("checks") or plan.get("checks")) if isinstance(c, dict)]
    model["checks"] = [{"verdict": _s(c.get("verdict")) or "unknown", "name": _s(c.get("name")),
                        "message": scrub(c.get("message")), "fix": scrub(c.get("fix"))}
                       for c in checks if c.get("verdict") != "ok"]
    model["checks_ok"] = len([c for c in checks if c.get("verdict") == "ok"])
    # The workflow's own warnings; those of the prechecks are in "checks".
    model["warnings"] = [scrub(w) for w in _l(report.get("warnings"))]
    items = _items(report, plan, steps, model, state)
    model["items"] = items
    model["pools"] = _pools(items, model["sources"])
    model["excluded"] = [{"kind": i["kind"], "kind_text": i["kind_text"], "uuid": i["uuid"],
                          "name_label": i["name_label"], "reason": i["excluded"]}
                         for i in items if i["state"] == "excluded"]
    model["timeline"] = _timeline(items, created, ended, model["settings"]["ready_word"],
                                  steps, notes, _plan_groups(report))
    model["rto"] = _rto(items, created, model["settings"]["ready_word"], state,
                        _number(options.get("rto_target")))
    model["rpo"] = _recovery_point(model["sources"], created) if kind in (
        "failover", "test", "failback", "drill", "planned") else None
    model["steps"] = steps
    model["notes"] = notes
    model["commands"], model["commands_recorded"] = _commands(report, steps)
    model["failures"] = [scrub(f) for f in _l(report.get("failures"))]
    failed_steps = [s for s in steps if s["status"] == "failed"]
    if not model["failures"] and failed_steps:
        model["failures"] = [s["error"] or s["step"] for s in failed_steps]
    todo = [scrub(t) for t in _l(report.get("todo"))]
    if status == "cleaned up":  # what the run asked to clean up is gone
        todo = [t for t in todo if "'xe-dr cleanup %s'" % run_id not in (t or "")]
    model["todo"] = todo + _more_todo(model, open_steps)
    model["cleanup"] = _cleanup(report) if kind == "cleanup" else None
    model["verification"] = _verification(report, _s(meta.get("cleaned_by"))) \
        if kind == "drill" else None
    model["fence"] = _fence(report)
    if not report and state != "running":
        problems.append("report.json is missing: the run ended before writing its results; "
                        "what is shown comes from the journal%s" % (
                            " and the plan" if plan else ""))
    return model


def _selection_text(options):
    if not options:
        return None
    parts = []
    if options.get("all"):
        parts.append("everything (--all)")
    for key, word in (("vapps", "vApp"), ("vms", "VM")):
        for name in _l(options.get(key)):
            parts.append("%s %s" % (word, name))
    if _l(options.get("exclude")):
        parts.append("except %s" % ", ".join(_s(e) for e in options["exclude"]))
    return ", ".join(parts) or None


def _title(model):
    run, target = model["run"], model["target"]
    pool = target["pool_name"] or target["pool_uuid"] or "an unknown pool"
    if target["estate_pool"]:
        pool = "%s (%s)" % (target["estate_pool"], pool)
    if run["kind"] == "cleanup":
        return "Cleanup of run %s in pool %s" % (run["of"] or "unknown", pool)
    return "%s to pool %s" % (run["kind_text"], pool)


def _source(source):
    return {"uuid": _s(source.get("uuid")), "name_label": _s(source.get("name_label")),
            "vdi": _s(source.get("vdi")), "sr": _s(source.get("sr")),
            "generation": source.get("generation"), "via": _s(source.get("via")),
            "heartbeat": _s(source.get("heartbeat")),
            "heartbeat_unread": scrub(source.get("heartbeat_unread"))}


def heartbeat_time(text):
    """Seconds since the epoch of a heartbeat (UTC text, marks.HEARTBEAT_FORMAT), or None."""
    when = heartbeat_epoch(text)
    return None if when is None else float(when)


#: How far a recovery point can be trusted: the heartbeat is written by a cron job.
RPO_ACCURACY = ("accurate to one interval of the cron job that runs 'xe-dr status' at the "
                "source: the copy may be newer than its heartbeat by up to that")


def _seconds_text(seconds):
    return "%d s" % seconds if seconds < 60 else duration_text(seconds)


def _recovery_point(sources, created):
    """How old the metadata each source pool's copy held was when the run started: the run's
    start minus the heartbeat in that copy (xe_dr/marks.py). The run's recovery point is the
    oldest of them; unknown when any is."""
    if not sources:
        return None
    entries = []
    for source in sources:
        when = heartbeat_time(source["heartbeat"])
        name = source["name_label"] or source["uuid"] or "an unknown pool"
        generation = "generation %s" % (source["generation"] if source["generation"]
                                        is not None else "unknown")
        seconds, skew = None, None
        if source["via"] == "live":
            text = "none: planned from the live source pool"
        elif when is None and source["heartbeat"]:
            text = "unknown (%s): the heartbeat %r in the copy of pool %s is not a time" % (
                generation, source["heartbeat"], name)
        elif when is None:
            text = "unknown (%s): %s" % (generation, source["heartbeat_unread"] or (
                "the copy of pool %s carries no heartbeat: run 'xe-dr status' at the source "
                "from cron" % name))
        elif created is None:
            text = "unknown: the run's start is unknown (heartbeat %s)" % source["heartbeat"]
        else:
            seconds = created - when
            if seconds < 0:  # the sites' clocks disagree
                skew, seconds = -seconds, 0.0
            # (a heartbeat is to the second: so is the recovery point)
            seconds = float(int(seconds))
            text = "at most %s before the run's start: the copy of pool %s holds the " \
                "heartbeat of %s" % (_seconds_text(seconds), name, time_text(when))
            if skew:
                text += " (%s after the run's start: the sites' clocks differ)" % \
                    _seconds_text(int(skew))
        entries.append(dict(source, heartbeat_time=when, heartbeat_text=time_text(when),
                            seconds=seconds, text=text))
    measured = [e for e in entries if e["via"] != "live"]
    if not measured:
        return {"seconds": None, "known": False, "sources": entries,
                "text": entries[0]["text"], "accuracy": None}
    known = all(e["seconds"] is not None for e in measured)
    worst = max(measured, key=lambda e: -1 if e["seconds"] is None else e["seconds"]) \
        if known else next(e for e in measured if e["seconds"] is None)
    text = worst["text"]
    if len(measured) > 1:
        text += " (the %s of %d source pools)" % ("oldest" if known else "one unknown",
                                                   len(measured))
    return {"seconds": worst["seconds"] if known else None, "known": known,
            "sources": entries, "text": text, "accuracy": RPO_ACCURACY if known else None}


def _storage(report, options, results):
    names = {}
    entries = []
    for entry in _l(report.get("storage")):
        if not isinstance(entry, dict):
            continue
        found = [{"uuid": _s(f.get("uuid")), "name_label": _s(f.get("name_label"))}
                 for f in _l(entry.get("found")) if isinstance(f, dict)]
        for sr in found:
            names[sr["uuid"]] = sr["name_label"]

        def named(uuids):
            return [{"uuid": _s(u), "name_label": names.get(u)} for u in _l(uuids)]
        entries.append({"lun": _s(entry.get("lun")), "type": _s(entry.get("type")),
                        "task": _s(entry.get("task")), "found": found,
                        "introduced": named(entry.get("introduced")),
                        "plugged": named(entry.get("plugged")),
                        "already_attached": named(entry.get("already_attached")),
                        "unknown": False, "note": None})
    if not entries:  # not reached, or no report: the storage asked for, and the journal
        reached = bool(report) and isinstance(report.get("storage"), list)
        for spec in _l(options.get("storage")):
            if isinstance(spec, dict):
                config = scrub_data(_d(spec.get("device_config")))
                lun = _s(config.get("SCSIid"))
                done = _d(results.get("attach:%s" % lun))
                introduced = [{"uuid": _s(u), "name_label": None}
                              for u in _l(done.get("srs"))]
                note = "the run stopped before it reached this LUN" if reached and not done \
                    else "what the probe found is unknown (no report): introduced from the " \
                    "journal"
                entries.append({"lun": lun, "type": _s(spec.get("type")),
                                "task": _s(done.get("task")), "found": [],
                                "introduced": introduced, "plugged": [],
                                "already_attached": [], "unknown": True, "note": note})
    chosen = set(_l(options.get("srs")))
    selected = [dict(sr, lun=e["lun"]) for e in entries for sr in e["found"]
                if not chosen or sr["uuid"] in chosen]
    if any(e.get("unknown") for e in entries) and not (
            report and isinstance(report.get("storage"), list)):
        selected = None  # what the probes found was never recorded
    srs = {"selected": selected,
           "introduced": [dict(sr, lun=e["lun"]) for e in entries for sr in e["introduced"]],
           "plugged": [dict(sr, lun=e["lun"]) for e in entries for sr in e["plugged"]],
           "already_attached": [dict(sr, lun=e["lun"]) for e in entries
                                for sr in e["already_attached"]]}
    return entries, srs


def _raw_items(report, plan, steps):
    """Items from the report, else the plan, else what the journal's steps name."""
    for source in (report.get("items"), plan.get("items")):
        items = [i for i in _l(source) if isinstance(i, dict) and i.get("uuid")]
        if items:
            return items
    items, seen = [], set()
    for step in steps:
        parts = step_parts(step["step"], 3)
        if parts[0] in ("recover", "start") and parts[1] in ("vm", "appliance") and \
                parts[2] and parts[2] not in seen:
            seen.add(parts[2])
            description = step["description"] or ""
            prefix = "%s %s " % (parts[0], parts[1])
            name = description[len(prefix):] if description.startswith(prefix) else None
            items.append({"kind": parts[1], "uuid": parts[2], "name_label": name})
    return items


def _items(report, plan, steps, model, state):
    by_step = dict((s["step"], s) for s in steps)
    power = model["settings"]["power"]
    ready_word = model["settings"]["ready_word"]
    start = model["run"]["created"]
    source_names = dict((s["uuid"], s["name_label"]) for s in model["sources"])
    result = []
    for raw in _raw_items(report, plan, steps):
        kind = _s(raw.get("kind")) or "vm"
        uuid = _s(raw.get("uuid"))
        recover = by_step.get("recover:%s:%s" % (kind, uuid))
        start_step = by_step.get("start:%s:%s" % (kind, uuid))
        excluded = scrub(raw.get("excluded"))
        members = None
        if isinstance(raw.get("members"), list):
            members = [{"uuid": _s(m.get("uuid")), "name_label": _s(m.get("name_label")),
                        "order": m.get("order") if isinstance(m.get("order"), int) else None}
                       for m in raw["members"] if isinstance(m, dict)]
        elif isinstance(raw.get("recovered_vms"), list) and kind == "appliance":
            members = [{"uuid": _s(u), "name_label": None, "order": None}
                       for u in raw["recovered_vms"]]
        ready_at, error = None, None
        if excluded == "recovered with its vApp":
            code, text = "with-vapp", "recovered with its vApp"
        elif excluded:
            code, text = "excluded", "excluded: %s" % excluded
        elif recover is None:
            code = "not-reached"
            text = "not reached" if state in ("running", "unknown", "interrupted") else \
                "not recovered"
        elif recover["status"] == "failed":
            code, text, error = "failed", "recovery FAILED", recover["error"]
        elif recover["status"] in ("begun", "interrupted"):
            code = "interrupted" if recover["status"] == "interrupted" else "in-progress"
            text = "recovery %s" % ("INTERRUPTED" if code == "interrupted" else "in progress")
        elif power in (None, "none"):
            code, text, ready_at = "ready", "recovered", recover["end"]
        elif start_step is None:
            code = "recovered"
            text = "recovered, not started"
        elif start_step["status"] == "failed":
            code, text, error = "failed", "recovered, start FAILED", start_step["error"]
        elif start_step["status"] in ("begun", "interrupted"):
            code = "interrupted" if start_step["status"] == "interrupted" else "in-progress"
            text = "recovered, start %s" % ("INTERRUPTED" if code == "interrupted"
                                            else "in progress")
        else:
            code, text, ready_at = "ready", ready_word, start_step["end"]
        ttr = None if ready_at is None or start is None else ready_at - start
        order = raw.get("order") if isinstance(raw.get("order"), int) else None
        source_pool = _s(raw.get("source_pool"))
        result.append({
            "kind": kind, "kind_text": "vApp" if kind == "appliance" else "VM",
            "uuid": uuid, "name_label": _s(raw.get("name_label")),
            "order": order, "source_pool": source_pool,
            "source_pool_name": source_names.get(source_pool),
            "members": members, "excluded": excluded if code == "excluded" else None,
            "state": code, "state_text": text, "error": error,
            "recover": _span(recover), "start": _span(start_step),
            "ready_at": ready_at, "ready_at_text": time_text(ready_at),
            "time_to_ready": ttr, "time_to_ready_text": duration_text(ttr),
        })
    return result


def _span(step):
    if step is None:
        return None
    return {"step": step["step"], "status": step["status"], "begin_offset": step["begin_offset"],
            "end_offset": step["end_offset"], "duration": step["duration"],
            "duration_text": step["duration_text"], "seconds": step["seconds"]}


def _pools(items, sources):
    pools, order = {}, []
    for source in sources:
        pools[source["uuid"]] = dict(source, vapps=[], vms=[])
        order.append(source["uuid"])
    for item in items:
        key = item["source_pool"]
        if key not in pools:
            pools[key] = {"uuid": key, "name_label": item["source_pool_name"], "vdi": None,
                          "sr": None, "generation": None, "via": None, "heartbeat": None,
                          "heartbeat_unread": None, "vapps": [], "vms": []}
            order.append(key)
        pools[key]["vapps" if item["kind"] == "appliance" else "vms"].append(item)
    return [pools[k] for k in order]


#: The phases of a run before its recoveries, drawn above them: the step kinds of each, and
#: the note that marks its beginning (its reads, the probes of the LUNs, are not steps).
PHASES = (
    ("source", "shut down at the source", ("source-shutdown", "source-detach"), None),
    ("storage", "storage (probe, attach, scan, plug again)",
     ("attach", "plug", "secret", "scan", "replug"), "phase:storage"),
)


def _phase_bars(steps, notes, created, ended):
    """One bar per phase the run reached: from its first step's begin (or the note marking
    its beginning) to its last step's end."""
    bars = []
    for name, label, kinds, mark in PHASES:
        own = [s for s in steps if s["action"] in kinds or (
            name == "storage" and s["action"] == "tag" and s["step"].startswith("tag:sr:"))]
        if not own:
            continue
        begins = [s["begin_offset"] for s in own if s["begin_offset"] is not None]
        begins += [n["offset"] for n in notes if n["step"] == mark and n["offset"] is not None]
        if not begins:
            continue
        begin = min(begins)
        ends = [s["end_offset"] for s in own if s["end_offset"] is not None]
        open_end = any(s["status"] in ("begun", "interrupted") for s in own)
        end = max(ends + [begin])
        if open_end and None not in (ended, created):
            end = max(end, ended - created)
        failed = any(s["status"] == "failed" for s in own)
        took = duration_text(end - begin)
        text = "FAILED after %s" % took if failed else "no end recorded" if open_end else \
            "%s in %s" % (_phase_count(name, own), took)
        bars.append((name, label, {
            "name_label": name, "kind": name, "uuid": None, "state": "failed" if failed else
            "in-progress" if open_end else "done", "begin": begin, "end": end,
            "open": open_end, "recover_begin": None, "recover_end": None,
            "start_begin": None, "start_end": None, "failed": failed, "label": text}))
    return bars


def _phase_count(name, steps):
    if name == "storage":
        luns = len([s for s in steps if s["action"] == "attach"])
        srs = len([s for s in steps if s["action"] == "scan"])
        return "%d LUN(s), %d SR(s)" % (luns, srs) if luns else "%d SR(s)" % srs
    stopped = len([s for s in steps if s["action"] == "source-shutdown"])
    unplugged = len([s for s in steps if s["action"] == "source-detach"])
    return "%d shut down, %d PBD(s) unplugged" % (stopped, unplugged)


def _plan_groups(report):
    """[(name, [vApp and VM names and uuids])] of the recovery plan a run followed, or None."""
    text = (report.get("plan") or {}).get("text")
    if not isinstance(text, str):
        return None
    from xe_dr.dr.recovery_plan import PlanError, parse
    try:
        plan = parse(text)
    except PlanError:
        return None
    return [(g["name"], g["vapps"] + g["vms"]) for g in plan["groups"]]


def _timeline(items, created, ended, ready_word, steps=(), notes=(), plan_groups=None):
    """Bars from each object's recovery begin to its start's end, by order group (or, in a
    run by a recovery plan, by the plan's groups, each with the wait for its gate); above
    them, the phases before the recoveries (storage; a failback's shutdown at the source)."""
    groups = {}
    for index, (name, label, bar) in enumerate(_phase_bars(steps, notes, created, ended)):
        groups[(-1, index)] = {"label": label, "order": None, "phase": name, "bars": [bar]}
    for index, (name, _) in enumerate(plan_groups or ()):
        groups[(2, index)] = {"label": "plan group %s" % name, "order": index, "phase": None,
                              "bars": []}
    for item in items:
        recover = item["recover"]
        if not recover or recover["begin_offset"] is None:
            continue
        start = item["start"] or {}
        begin = recover["begin_offset"]
        ends = [v for v in (recover["end_offset"], start.get("begin_offset"),
                            start.get("end_offset")) if v is not None]
        end = max(ends) if ends else begin
        open_end = item["state"] in ("interrupted", "in-progress")
        if open_end and None not in (ended, created):
            end = max(end, ended - created)  # under way until the run's last sign of life
        bar = {"name_label": item["name_label"], "kind": item["kind"], "uuid": item["uuid"],
               "state": item["state"], "begin": begin, "end": end, "open": open_end,
               "recover_begin": begin, "recover_end": recover["end_offset"],
               "start_begin": start.get("begin_offset"), "start_end": start.get("end_offset"),
               "failed": item["state"] == "failed",
               "label": item["time_to_ready_text"] and "%s after %s" % (
                   ready_word, item["time_to_ready_text"]) or item["state_text"]}
        in_plan = [index for index, (_, names) in enumerate(plan_groups or ())
                   if item["name_label"] in names or item["uuid"] in names]
        if in_plan:
            groups[(2, in_plan[0])]["bars"].append(bar)
            continue
        if item["kind"] == "appliance":
            key, label = (0, 0), "vApps (xapi starts each vApp's own order groups)"
        else:
            order = item["order"] or 0
            key, label = (1, order), "order group %d" % order
        groups.setdefault(key, {"label": label, "order": key[1] if key[0] else None,
                                "phase": None, "bars": []})["bars"].append(bar)
    for index, (name, _) in enumerate(plan_groups or ()):  # each group's wait, after it
        gate = [s for s in steps if s["step"] == "gate:%s" % name]
        if gate and gate[0]["begin_offset"] is not None:
            groups[(2, index)]["bars"].append(_gate_bar(gate[0], created, ended))
    groups = dict((key, group) for key, group in groups.items() if group["bars"])
    if not groups:
        return None
    span_end = max([b["end"] for g in groups.values() for b in g["bars"]] +
                   ([ended - created] if None not in (ended, created) else []))
    return {"start": created, "start_text": time_text(created),
            "span": max(span_end, 0.0), "span_text": duration_text(span_end),
            "ready_word": ready_word,
            "groups": [groups[k] for k in sorted(groups)]}


def _gate_bar(step, created, ended):
    """A plan group's wait for its gate, as a bar after the group's own."""
    begin = step["begin_offset"]
    open_end = step["status"] in ("begun", "interrupted")
    end = step["end_offset"] if step["end_offset"] is not None else begin
    if open_end and None not in (ended, created):
        end = max(end, ended - created)
    failed = step["status"] == "failed"
    return {"name_label": "gate", "kind": "gate", "uuid": None,
            "state": "failed" if failed else "in-progress" if open_end else "done",
            "begin": begin, "end": end, "open": open_end, "recover_begin": None,
            "recover_end": None, "start_begin": None, "start_end": None, "failed": failed,
            "label": "FAILED after %s" % duration_text(end - begin) if failed else
            "no end recorded" if open_end else "passed after %s" % duration_text(end - begin)}


def _rto(items, created, ready_word, state, target=None):
    wanted = [i for i in items if i["state"] not in ("excluded", "with-vapp")]
    ready = [i for i in wanted if i["state"] == "ready"]
    excluded = len([i for i in items if i["state"] == "excluded"])
    if not items:
        return None
    last = max([i["time_to_ready"] for i in ready if i["time_to_ready"] is not None] or [None]) \
        if ready else None
    complete = bool(wanted) and len(ready) == len(wanted)
    if complete and last is not None:
        text = "%s from the run's start to the last object %s (%d of %d)" % (
            duration_text(last), ready_word, len(ready), len(wanted))
    elif ready:
        text = "not reached: %d of %d object(s) %s, the last after %s" % (
            len(ready), len(wanted), ready_word, duration_text(last))
    else:
        text = "not reached: no object %s" % ready_word
    if excluded:
        text += "; %d left out by the prechecks" % excluded
    if state in ("running", "unknown") and not complete:
        text += " (so far)"
    met, verdict = None, None
    if target is not None:
        if complete and last is not None:
            met = last <= target
            verdict = "met" if met else "MISSED by %s" % duration_text(last - target)
        elif state in ("running", "unknown") and (last or 0) <= target:
            verdict = "not known yet: the run is not over"
        else:
            met = False
            verdict = "MISSED: %s" % ("not every object became %s" % ready_word
                                      if last is None or last <= target else
                                      "already %s after the run's start" % duration_text(last))
    return {"seconds": last if complete else None, "last_ready": last,
            "complete": complete, "ready": len(ready), "wanted": len(wanted),
            "excluded": excluded, "ready_word": ready_word, "text": text,
            "target": target, "target_text": duration_text(target), "met": met,
            "objective_text": None if target is None else "%s: %s" % (
                duration_text(target), verdict)}


def _commands(report, steps):
    """The commands the run ran (xe's, a drill's storage adapter's), as shell lines (each
    once): from the journal's begin
    entries, else the report's planned commands. ``recorded`` says whether there were any."""
    result, batches = [], {}
    for step in steps:
        for text in step["commands"]:
            # One plugin call recovers a batch, and each object's step journals it: the call
            # is listed once, with the steps it served.
            batch = batches.get(text) if step["via"] == "plugin" else None
            if batch is not None:
                batch["steps"].append(step["step"])
                continue
            entry = {"step": step["step"], "steps": [step["step"]], "text": text}
            if step["via"] == "plugin":
                batches[text] = entry
            result.append(entry)
    if not result:
        for planned in _l(report.get("commands")):
            if not isinstance(planned, dict):
                continue
            for command in _l(planned.get("commands")):
                result.append({"step": _s(planned.get("step")),
                               "steps": [_s(planned.get("step"))],
                               "text": command_text(_argv(command))})
    return result, bool(result)


def _fence(report):
    """What a run that shut its source down (failback, planned migration) compared before it
    recovered: the copies here against the source's after its shutdown (source.py)."""
    generations = report.get("generations") if isinstance(report, dict) else None
    if not isinstance(generations, dict):
        return None
    return {"data_lost": _s(report.get("data_lost")),
            "copies": [c for c in _l(generations.get("copies")) if isinstance(c, dict)],
            "stale": [_s(s) for s in _l(generations.get("stale"))],
            "unread": _s(generations.get("unread"))}


def _more_todo(model, open_steps):
    todo = []
    run = model["run"]
    if run["state"] in ("interrupted", "unknown"):
        if run["kind"] in ("failover", "test", "failback", "planned"):
            todo.append("resume the run with 'xe-dr %s --resume %s' (steps begun with no end "
                        "are checked against the pool first)" % (
                            "failback" if run["kind"] == "failback" else "failover", run["id"]))
        elif run["kind"] == "cleanup":
            todo.append("run the cleanup of %s again" % (run["of"] or "the run"))
    for item in model["items"]:
        if item["state"] == "excluded":
            todo.append("%s %s was left out: %s" % (item["kind_text"], item["name_label"],
                                                    item["excluded"]))
        elif item["state"] == "failed":
            todo.append("%s %s: %s" % (item["kind_text"], item["name_label"],
                                       item["error"] or item["state_text"]))
    return todo


def _verification(report, cleaned_by):
    """A drill's evidence: each VM's verdict and why, the verdict on the whole, and the
    mirror's state before and after (as the storage adapter told it)."""
    vms = []
    for vm in _l(report.get("vms")):
        if not isinstance(vm, dict):
            continue
        vms.append({"name_label": _s(vm.get("name_label")), "uuid": _s(vm.get("uuid")),
                    "verified": vm.get("verified") is True, "reason": scrub(vm.get("reason")),
                    "health_check": _s(vm.get("health_check")),
                    "verified_at_text": time_text(vm.get("verified_at"))})
    return {"verdict": _s(report.get("verdict")) or "no verdict (the drill stopped before it)",
            "vms": vms,
            "mirror_before": scrub_data(report.get("mirror_before")),
            "mirror_after": scrub_data(report.get("mirror_after")),
            "copies": len(_l(report.get("copies"))),
            "cleanup_run": cleaned_by}


def _cleanup(report):
    owned = _d(report.get("owned"))
    counts = {}
    for key in ("vms", "appliances", "tasks", "srs", "plugged_pbds", "networks"):
        value = owned.get(key)
        counts[key] = len(value) if isinstance(value, list) else None
    return {"of": _s(report.get("of")), "owned": scrub_data(owned), "counts": counts,
            "ha": owned.get("ha") is not None if owned else None}
