"""A journal line torn by a crash (issue 14, finding 4): resume and report read the journal
alike, the next entry starts on a line of its own, and a second resume finds the run as the
first one left it: it recovers nothing again and a finished run stays finished.

The crash is real: xe-dr as a process, killed with SIGKILL right after a journal entry
(XE_DR_FAULT_KILL_AFTER_ENTRY); the torn line is the head of the entry it would have written
next, as a power cut in the middle of that write leaves it.
"""

import os
import signal
import subprocess
import sys

from tests.conftest import slow
from tests.fixtures_lab import make_lab
from tests.fixtures_workflow import VOLATILE, Drill
from tests.test_safety_cleanup import protect_and_break
from xe_dr.journal import Run
from xe_dr.report.model import read

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What a start changes on its own between two reads (the lab's domains and their clocks).
STARTED = VOLATILE | {"start_time", "domid", "resident_on", "power_state"}


def killed_after(drill, args, entry):
    env = dict(os.environ, XE_DR_FAULT_KILL_AFTER_ENTRY=str(entry), PYTHONPATH=ROOT)
    argv = [sys.executable, "-m", "xe_dr", "--xe", drill.lab.xe_path("B"), "--state-dir",
            drill.state_dir, "--yes"] + list(args)
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          cwd=ROOT, universal_newlines=True, timeout=300).returncode


def vms_at(drill):
    return dict((uuid, dict((k, v) for k, v in row.items() if k not in STARTED))
                for uuid, row in drill.snapshot("B")["VM"].items())


@slow
def test_a_second_resume_after_a_torn_line_redoes_nothing(tmp_path):
    drill = Drill(make_lab(tmp_path / "lab"), str(tmp_path / "state"))
    protect_and_break(drill)
    args = ["failover", "--test", "--all", "--power", "paused", "--parallel", "1"] + \
        drill.storage_args("B")
    reference = drill.xedr("B", "--json", *args)
    assert reference.code == 0, reference
    entries = Run.open(drill.state_dir, reference.json["run"]).entries()
    first_recovery = next(e["seq"] for e in entries
                          if e["event"] == "done" and e["step"].startswith("recover:"))
    assert drill.xedr("B", "cleanup", "--yes", reference.json["run"]).code == 0

    assert killed_after(drill, args, first_recovery) == -signal.SIGKILL
    run_id = sorted(os.listdir(os.path.join(drill.state_dir, "runs")))[-1]
    run = Run.open(drill.state_dir, run_id)
    with open(run.journal_path, "a") as handle:
        handle.write('{"data": {"description": "recover VM')  # the power cut
    assert read(run)["entries"] == run.entries()
    assert [e["seq"] for e in run.entries()] == list(range(1, first_recovery + 1))

    first = drill.xedr("B", "--json", "failover", "--resume", run_id)
    assert first.code == 0, first
    assert first.json["outcome"] == "succeeded"
    after_first = vms_at(drill)
    kept = Run.open(drill.state_dir, run_id)
    assert read(kept)["entries"] == kept.entries()
    assert len(kept.entries()) > first_recovery
    with open(kept.journal_path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    assert lines[first_recovery] == '{"data": {"description": "recover VM'  # on its own

    second = drill.xedr("B", "--json", "failover", "--resume", run_id)
    assert second.code == 0, second
    assert second.json["outcome"] == "succeeded"
    assert [i["uuid"] for i in second.json["items"] if i.get("recovered_vms")] == \
        [i["uuid"] for i in first.json["items"] if i.get("recovered_vms")]
    assert vms_at(drill) == after_first  # no VM recovered twice
    again = Run.open(drill.state_dir, run_id)
    assert again.meta["status"] == "succeeded"
    new = again.entries()[len(kept.entries()):]
    assert not [e for e in new if e["event"] == "begin"], new  # nothing was done again
    report = drill.xedr("B", "--json", "report", run_id)
    assert report.code == 0 and report.json["run"]["outcome"] == "succeeded", report
    assert [p for p in report.json["problems"] if "torn" in p], report.json["problems"]
    assert drill.xedr("B", "cleanup", "--yes", run_id).code == 0
