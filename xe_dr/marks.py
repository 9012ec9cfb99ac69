"""The marks xe-dr leaves in a pool, in one place: the host plugin (host-plugins/xe-dr) and
the runbooks (xe_dr/report/runbook.py) write the same ones, and tests/test_marks.py checks
that they agree.

- ``other-config:xe-dr-run=<run id>`` on everything a run creates (VMs, SRs, networks), so
  that cleanup finds it without the journal;
- ``other-config:xe-dr-run-kind=<kind>`` beside it: what kind of run made it, so that a
  cleanup without the journal can tell a test's VMs from production ones;
- on each SR a run introduced, ``other-config:xe-dr-drtask=<DR task uuid>`` and, with CHAP,
  ``other-config:xe-dr-secret=<secret uuid>``: a DR task has no other-config and xe never
  prints a secret's, so a cleanup without the journal finds them through the SR;
- the xe tag ``xe-dr-ignore`` on a VM that status should not count;
- ``other-config:xe-dr-lock`` on the pool a run changes (xe_dr/dr/lock.py);
- ``other-config:xe-dr-heartbeat=<UTC time>`` on a pool whose metadata is replicated, written
  by ``xe-dr status`` (from cron): the replicated database counts generations, not time, and
  this key travels in it, so a run at the other site knows how old its copy is (its recovery
  point). The host plugin reads it from a foreign database.
- ``other-config:xe-dr-last-drill=<UTC time> <verdict> <run id>`` on the pool where a drill
  ran (the DR pool), written at the drill's verdict: ``status`` there (or with ``--peer``
  it) holds the site to "a verified drill every N days" even if the admin machine that ran
  the drill is gone.
- ``other-config:xe-dr-drill-deadline=<UTC time>`` on each SR a drill introduced from the
  array's copies: when the drill is due to be over (its watchdog, ``drill --deadline``), so
  that ``status`` calls a drill still attached after it overdue even if the machine that
  ran the drill died. The SR is forgotten by the drill's cleanup, and the key with it.
"""

import calendar
import time

RUN_TAG = "xe-dr-run"
#: On the DR pool, written by each drill: ``<UTC time> <verdict> <run id>`` (last_drill).
LAST_DRILL_KEY = "xe-dr-last-drill"
DRILL_VERDICTS = ("verified", "not-verified", "failed")
#: On each SR a drill introduced: ``<UTC time>`` when the drill is due to be over.
DRILL_DEADLINE_KEY = "xe-dr-drill-deadline"
RUN_KIND_TAG = "xe-dr-run-kind"
DRTASK_KEY = "xe-dr-drtask"
SECRET_KEY = "xe-dr-secret"
IGNORE_TAG = "xe-dr-ignore"
LOCK_KEY = "xe-dr-lock"
HEARTBEAT_KEY = "xe-dr-heartbeat"
#: The heartbeat's format: UTC, to the second (as the lock's "since").
HEARTBEAT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

TEST = "test"
DRILL = "drill"
# Kinds of run that create objects in a pool. Only a test's are disposable: the others are
# (or may have become) production.
PLANNED = "planned"  # a planned migration: the source shut down and fenced by the run itself
RUN_KINDS = (TEST, "failover", "failback", DRILL, PLANNED)
# Kinds of run that shut the selected VMs down at the source and unplug its SRs first.
SHUTS_DOWN_SOURCE = ("failback", PLANNED)
DISPOSABLE_KINDS = (TEST, DRILL)  # a drill's VMs boot from the array's copies
# A runbook's id: its objects are tagged by a bash script xe-dr did not watch, so cleaning
# them up always needs --force.
RUNBOOK_ID_MARK = "-runbook-"


def is_runbook_id(run_id):
    return RUNBOOK_ID_MARK in run_id


# Step ids: the journal's names for the steps of a run, "KIND:ARG..." (``recover:vm:<uuid>``,
# ``attach:<SCSIid>``, ``network:create:<name>``). Stable across versions: a resume after an
# upgrade finds its steps by them. The last part may itself hold colons (a network name).
STEP_SEPARATOR = ":"


def step_id(kind, *parts):
    """The id of a step of ``kind`` about ``parts``: ``step_id("recover", "vm", uuid)``."""
    return STEP_SEPARATOR.join((kind,) + tuple(str(p) for p in parts))


def step_parts(step, count):
    """``step`` split into ``count`` parts (the kind first), the last taking the rest:
    ``step_parts("network:create:a:b", 3) == ["network", "create", "a:b"]``. Missing parts
    are empty strings."""
    parts = step.split(STEP_SEPARATOR, count - 1)
    return parts + [""] * (count - len(parts))


def step_kind(step):
    return step_parts(step, 2)[0]


def heartbeat_epoch(text):
    """Seconds since the epoch of a time in HEARTBEAT_FORMAT (a heartbeat, a drill's), or
    None when it is absent or not in that form."""
    try:
        return calendar.timegm(time.strptime(text or "", HEARTBEAT_FORMAT))
    except (TypeError, ValueError):
        return None


def utc_text(when):
    """An epoch in HEARTBEAT_FORMAT."""
    return time.strftime(HEARTBEAT_FORMAT, time.gmtime(when))


def last_drill_text(when, verdict, run_id):
    return "%s %s %s" % (utc_text(when), verdict, run_id)


def parse_last_drill(text):
    """``{"time": epoch, "time_text", "verdict", "run"}`` of a LAST_DRILL_KEY value, or None
    when it is absent or not in that form."""
    parts = (text or "").split()
    when = heartbeat_epoch(parts[0]) if len(parts) == 3 else None
    if when is None or parts[1] not in DRILL_VERDICTS:
        return None
    return {"time": when, "time_text": parts[0], "verdict": parts[1], "run": parts[2]}
