"""What a run says when it stops (issue 15): the one error line an operator reads, and what a
dry run can and cannot tell, on the lab through the CLI."""

import json
import os

from tests.test_safety_runs import protect


# -- the error line ---------------------------------------------------------------------------

def test_a_failover_while_the_mirror_replicates_says_why_in_one_whole_line(drill):
    """The LUN copies at B are still the mirror's targets (the lab's "mirror" state): sm
    refuses the volume group with error 47 and says why (xe_dr/lab/sm.py, attach). The
    line names the object, xapi's code and sm's sentence whole, and what to do; the step id
    and the xe command are for -v and the report."""
    protect(drill)
    drill.lab.disaster("A")  # the array was not told: the mirror still replicates A to B
    args = ["--yes", "failover", "--all", "--source", "down"] + drill.storage_args("B")
    result = drill.xedr("B", *args)
    assert result.code == 1, result
    line = result.err.strip().splitlines()[-1]
    sr, scsiid = _first_iscsi(drill)
    assert line.startswith("xe-dr: error: attach SR(s) %s on LUN %s: SR_BACKEND_FAILURE_47: "
                           "The SR is not available [opterr=Logical volume group "
                           "VG_XenStorage-%s is on a write-protected device (%s is a "
                           "replication target)] (the replica is not writable: halt the "
                           "mirror" % (sr, scsiid, sr, scsiid)), line
    assert "drtask-create" not in line and "attach:" not in line and "..." not in line, line
    assert "fix that" not in line

    verbose = drill.xedr("B", "-v", *args)
    debug = [l for l in verbose.err.splitlines() if l.startswith("xe-dr: debug: ")]
    assert "xe-dr: debug: failed step: attach:%s" % scsiid in debug, verbose
    assert any(" drtask-create " in l and "SCSIid=%s" % scsiid in l for l in debug), verbose
    assert verbose.err.strip().splitlines()[-1].startswith("xe-dr: error: attach SR(s) ")

    run = sorted(os.listdir(os.path.join(drill.state_dir, "runs")))[-1]
    with open(os.path.join(drill.state_dir, "runs", run, "report.json")) as report:
        failed = [e for e in json.load(report)["journal"] if e["event"] == "failed"]
    assert failed and "drtask-create" in failed[0]["data"]["error"]  # the report keeps it


def _first_iscsi(drill):
    for sr, _ in drill.lab.replicated_srs():
        sr_type, config = drill.lab.device_config(sr, "B")
        if sr_type == "lvmoiscsi":
            return sr, config["SCSIid"]
    raise AssertionError("the lab has no iSCSI LUN")
