"""The marks xe-dr leaves in a pool, in one place: the host plugin (host-plugins/xe-dr) and
the runbooks (xe_dr/report/runbook.py) write the same ones, and tests/test_marks.py checks
that they agree.

- ``other-config:xe-dr-run=<run id>`` on everything a run creates (VMs, SRs, networks), so
  that cleanup finds it without the journal;
- ``other-config:xe-dr-run-kind=<kind>`` beside it: what kind of run made it, so that a
  cleanup without the journal can tell a test's VMs from production ones;
- the xe tag ``xe-dr-ignore`` on a VM that status should not count;
- ``other-config:xe-dr-lock`` on the pool a run changes (xe_dr/dr/lock.py).
"""

RUN_TAG = "xe-dr-run"
RUN_KIND_TAG = "xe-dr-run-kind"
IGNORE_TAG = "xe-dr-ignore"
LOCK_KEY = "xe-dr-lock"

TEST = "test"
# Kinds of run that create objects in a pool. Only a test's are disposable: the others are
# (or may have become) production.
RUN_KINDS = (TEST, "failover", "failback", "drill")
DISPOSABLE_KINDS = (TEST,)
# A runbook's id: its objects are tagged by a bash script xe-dr did not watch, so cleaning
# them up always needs --force.
RUNBOOK_ID_MARK = "-runbook-"


def is_runbook_id(run_id):
    return RUNBOOK_ID_MARK in run_id
