"""How a failover-like run ended, from what it planned, checked, recovered and started."""

from xe_dr.dr.plan import BLOCKING
from xe_dr.exitcodes import ExitCode
from xe_dr.marks import step_id


def tally(items, checks, failures, recovered, started, named):
    """(the report's items, the outcome, the exit code). ``checks``: the report's (JSON);
    ``failures``: the StepFailed of the run; ``named``: the vApps and VMs the command line
    named (by uuid or name)."""
    failed = {f.step for f in failures}
    # Left out of --all because DR never protected it: listed with the reason, no failure;
    # named on the command line, it is one.
    blocking = [c for c in checks if c["verdict"] == BLOCKING]
    unprotected = {o for c in blocking if c.get("unprotected") for o in c["objects"]}
    other = {o for c in blocking if not c.get("unprotected") for o in c["objects"]}
    excluded = [i for i in items if i.excluded and i.excluded != "recovered with its vApp"
                and not (i.uuid in unprotected and i.uuid not in other and
                         i.uuid not in named and i.name_label not in named)]
    report_items = [dict(i.to_json(), recovered_vms=recovered.get(i.uuid),
                         started=bool(started.get(i.uuid)),
                         failed=i.step in failed or step_id("start", i.kind, i.uuid) in failed)
                    for i in items]
    if not failures and not excluded:
        return report_items, "succeeded", ExitCode.OK
    if recovered:
        return report_items, "partly failed", ExitCode.PARTIAL
    return report_items, "failed", ExitCode.FAILED
