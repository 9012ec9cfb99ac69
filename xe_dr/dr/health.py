"""Health: the status document (xe_dr/dr/status.py) judged against thresholds, as a list of
checks that monitoring reads (``status --format nagios|prometheus``, ``status --alert``).

Each check has a name, a value, a state (OK, WARNING, CRITICAL) and a one-line summary. A
check's state follows the Nagios plugin convention for thresholds: WARNING when the value is
above the warning threshold, CRITICAL when above the critical one, a threshold of None never
fires. So ``at-risk`` with a warning threshold of 0 is WARNING from the first VM at risk, and
the perfdata of ``--format nagios`` prints the same numbers (a Nagios range ``N`` alerts
above N).

What is judged (names as ``--warning NAME=VALUE`` takes them):

- ``metadata-age``: seconds since the newest heartbeat in the oldest replicated copy (read
  from each copy on disk by the plugin; without it, the pool's last heartbeat, which a
  healthy copy received). The heartbeat dates the copy a failover would recover from.
- ``srs-missing``: replication SRs expected (``--expect-srs``, by default those configured,
  at least one) minus those whose copy is being written.
- ``at-risk``, ``unrecoverable``: VMs in those classes (xe_dr/dr/protection.py); a VM tagged
  ``xe-dr-ignore`` is in neither.
- ``readiness``: the DR site's readiness failures (xe_dr/dr/readiness.py), with ``--peer``.
- ``drill-age``: seconds since the last drill (``other-config:xe-dr-last-drill`` on this
  pool, or with ``--peer`` on the DR pool); off by default; a last drill that did not
  verify every VM is WARNING whatever its age.
- ``licence`` is CRITICAL whenever the licence restricts DR, else OK; ``drill-copy``
  whenever a drill's copies of the replicas are attached in the pool (xe_dr/dr/claims.py
  drill_copies); neither has a threshold.
"""

from xe_dr.dr import claims
from xe_dr.text import duration_seconds

OK = "OK"
WARNING = "WARNING"
CRITICAL = "CRITICAL"
UNKNOWN = "UNKNOWN"
#: A state's index is its Nagios exit status.
STATES = (OK, WARNING, CRITICAL, UNKNOWN)

#: Threshold defaults, (warning, critical); "expected" is the expected SR count minus one:
#: any copy missing is WARNING, all of them CRITICAL.
DEFAULT_THRESHOLDS = {
    "metadata-age": (3600, 86400),
    "srs-missing": (0, "expected"),
    "at-risk": (0, None),
    "unrecoverable": (0, None),
    "readiness": (None, 0),
    # A site held to "a verified drill every N days" says so: --warning drill-age=30d.
    "drill-age": (None, None),
}
#: Thresholds given in seconds (the value may carry s, m, h or d).
TIME_THRESHOLDS = ("metadata-age", "drill-age")

class ThresholdError(ValueError):
    pass


def parse_threshold(text):
    """``NAME=VALUE`` -> (name, value): a number (seconds for ``metadata-age``, where a unit
    s/m/h/d may follow), or ``none`` to switch the threshold off."""
    name, sep, raw = text.partition("=")
    if not sep or name not in DEFAULT_THRESHOLDS:
        raise ThresholdError("%r is not NAME=VALUE with NAME one of %s" % (
            text, ", ".join(sorted(DEFAULT_THRESHOLDS))))
    raw = raw.strip().lower()
    if raw == "none":
        return name, None
    value = duration_seconds(raw) if name in TIME_THRESHOLDS or not raw[-1:].isalpha() \
        else None
    if value is None:
        raise ThresholdError("%r: %s takes %s, or none" % (
            text, name, "a number of seconds (30m, 2h, 1d)" if name in TIME_THRESHOLDS
            else "a count of 0 or more"))
    return name, int(value) if value == int(value) else value


def thresholds(warning=(), critical=(), expected_srs=1):
    """The thresholds in force: the defaults, then the ``(name, value)`` pairs given."""
    chosen = {}
    for name, (warn, crit) in DEFAULT_THRESHOLDS.items():
        chosen[name] = [warn, max(expected_srs - 1, 0) if crit == "expected" else crit]
    for name, value in warning:
        chosen[name][0] = value
    for name, value in critical:
        chosen[name][1] = value
    return dict((name, tuple(pair)) for name, pair in chosen.items())


def judge(value, limits):
    """The state of ``value`` against ``(warning, critical)``: above a threshold fires it."""
    warn, crit = limits
    if value is None:
        return OK
    if crit is not None and value > crit:
        return CRITICAL
    if warn is not None and value > warn:
        return WARNING
    return OK


def worst(states):
    return max(states, key=STATES.index) if states else OK


def _check(name, state, value, summary, limits=(None, None), unit="", maximum=None):
    return {"name": name, "state": state, "value": value, "summary": summary,
            "warning": limits[0], "critical": limits[1], "unit": unit, "max": maximum}


def age_text(seconds):
    """``2h 5m``: the largest two units of a duration."""
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for index, (unit, size) in enumerate(units[:-1]):
        if seconds >= size:
            smaller, small_size = units[index + 1]
            rest = (seconds % size) // small_size
            return "%d%s" % (seconds // size, unit) + (" %d%s" % (rest, smaller) if rest else "")
    return "%ds" % seconds


#: The age of a copy older than every heartbeat: above any threshold.
UNDATED = float("inf")


def metadata_age(status):
    """``(seconds, where)``: the oldest replicated copy's age, as the plugin read each copy;
    else the pool's previous heartbeat (which the copies being written received).
    ``UNDATED`` when the plugin read a copy that holds no heartbeat though the pool has one:
    no write has reached that copy since before the pool's first heartbeat, so its age is
    unknown and larger than any the pool's heartbeat can tell."""
    heartbeat = status.get("heartbeat") or {}
    dated = heartbeat.get("age_seconds") is not None
    copies = [t for t in status["replication"] if t.get("heartbeat_from") == "copy"]
    undated = [t["sr_name"] for t in copies if t.get("age_seconds") is None]
    if undated and dated:
        return UNDATED, "the copy on %s holds no heartbeat though the pool has one" % (
            ", ".join(undated))
    ages = [t["age_seconds"] for t in copies if t.get("age_seconds") is not None]
    if ages:
        return max(ages), "the oldest replicated copy's heartbeat"
    if dated:
        return heartbeat["age_seconds"], "the pool's last heartbeat"
    return None, None


def checks(status, limits, expected_srs=None):
    """The checks of a status document, in a fixed order. ``limits``: thresholds()."""
    found = []
    targets = status["replication"]
    pool = status["pool"]
    healthy = [t for t in targets if t["healthy"]]
    expected = max(expected_srs if expected_srs is not None else len(targets), 1)
    missing = max(expected - len(healthy), 0)
    broken = [t["sr_name"] for t in targets if not t["healthy"]]
    if missing or broken:
        summary = "%d of %d expected replication SRs %s" % (
            missing, expected, "not configured" if not broken else "missing or not written")
        if broken:
            summary += " (not written: %s)" % ", ".join(broken)
        if not targets:
            summary = "no SR carries this pool's replicated metadata (xe-dr replication enable SR)"
    else:
        summary = "%d replication SR(s) written" % len(healthy)
    # A copy's lag in generations is no verdict (messages count generations too: see
    # status.py); its heartbeat's age is, below.
    found.append(_check("srs-missing", judge(missing, limits["srs-missing"]), missing, summary,
                        limits["srs-missing"], maximum=expected))

    seconds, where = metadata_age(status)
    if seconds is None:
        summary = ("no heartbeat yet: the replicated metadata is dated from the next status"
                   if targets else "no replicated metadata to date")
    elif seconds == UNDATED:
        summary = ("replicated metadata older than the pool's first heartbeat (%s: no write "
                   "has reached it since)" % where)
    else:
        summary = "replicated metadata %s old (%s)" % (age_text(seconds), where)
    found.append(_check("metadata-age", judge(seconds, limits["metadata-age"]),
                        None if seconds == UNDATED else seconds, summary,
                        limits["metadata-age"], unit="s"))

    for name, verdict in (("at-risk", "at-risk"), ("unrecoverable", "unrecoverable")):
        names = [vm["name_label"] for vm in status["vms"] if vm["class"] == verdict]
        summary = "%d VM(s) %s%s" % (len(names), verdict.replace("-", " "),
                                      ": " + ", ".join(names[:5]) + (", ..." if len(names) > 5
                                                                     else "") if names else "")
        found.append(_check(name, judge(len(names), limits[name]), len(names), summary,
                            limits[name]))

    drill = status.get("last_drill")
    if drill is not None or any(v is not None for v in limits["drill-age"]):
        if drill is None:
            state, seconds, summary = judge(float("inf"), limits["drill-age"]), None, \
                "no drill on record (xe-dr drill)"
        else:
            seconds = drill["age_seconds"]
            state = judge(seconds, limits["drill-age"])
            summary = "last drill %s %s ago at %s (%s)" % (
                drill["verdict"], age_text(seconds), drill["pool"], drill["run"])
            if drill["verdict"] != "verified":
                state = worst([state, WARNING])
        found.append(_check("drill-age", state, seconds, summary, limits["drill-age"],
                            unit="s"))

    readiness = status.get("readiness")
    if readiness is not None:
        problems = readiness.get("problems", [])
        summary = ("DR site: " + "; ".join(problems)) if problems else "DR site ready"
        found.append(_check("readiness", judge(len(problems), limits["readiness"]),
                            len(problems), summary, limits["readiness"]))
    # One check of each name (--alert keys its messages by it, Prometheus its series), and
    # always there, OK too: an alert raised while a drill's copies were attached, or while
    # the licence restricted DR, clears only by a check that says it no longer is so.
    copies = sorted((status.get("drill_copies") or {}).items())
    if copies:
        deadlines = status.get("drill_deadlines") or {}
        found.append(_check("drill-copy", CRITICAL, sum(len(names) for _, names in copies),
                            "; ".join("drill %s%s left the array's copies attached (%s): a "
                                      "failover here would recover from them; xe-dr cleanup "
                                      "%s" % (run_id, claims.overdue_text(deadlines.get(run_id)),
                                              ", ".join(names), run_id)
                                      for run_id, names in copies)))
    else:
        found.append(_check("drill-copy", OK, 0, "no drill's copies of the replicas attached"))
    if pool.get("dr_allowed", True):
        found.append(_check("licence", OK, 0, "the licence allows disaster recovery"))
    else:
        found.append(_check("licence", CRITICAL, 1,
                            "the licence restricts disaster recovery (restrict_dr=true)"))
    return found
