"""Runs journaled by an older xe-dr still resume, report and clean up (issue 13): upgrading
xe-dr in the middle of an incident is a real case. The fixtures are labs and state
directories left by main at the commit their name gives (tests/old_runs/make.py made them).
"""

import json
import os
import subprocess

import pytest

from tests.fixtures_lab import LabHandle
from tests.fixtures_workflow import Drill
from xe_dr.lab import world
from xe_dr.marks import RUN_TAG

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "old_runs")
MADE_BY = sorted(name[:-len(".json")] for name in os.listdir(HERE) if name.endswith(".json"))


def unpacked(tmp_path, made_by, name):
    subprocess.check_call(["tar", "--sparse", "-xzf", os.path.join(HERE, made_by + ".tar.gz"),
                           "-C", str(tmp_path), name])
    with open(os.path.join(HERE, made_by + ".json")) as handle:
        run = json.load(handle)["runs"][name]
    lab = LabHandle(world.relocate(str(tmp_path / name / "lab")).root)
    _here(lab)
    return Drill(lab, str(tmp_path / name / "state")), run


def _here(lab):
    """The claim a killed run left on the pool, as if made on this machine in this boot (as the
    upgrade in the middle of an incident is: same machine, no reboot): its process is gone.
    Its machine and boot were the ones the fixture was made on, and a claim of another boot is
    never taken for stale (a clone may share /etc/machine-id: xe_dr/dr/lock.py is_stale)."""
    from xe_dr.dr.lock import IDENTITY, LOCK_KEY, identity, parse_claim
    pool = lab.ok("B", "pool-list", "--minimal").value
    found = lab.xe("B", "pool-param-get", "uuid=" + pool, "param-name=other-config",
                   "param-key=" + LOCK_KEY)
    if found.code != 0:
        return
    fields = parse_claim(found.value)
    now = identity()
    words = ["%s=%s" % (k, now[k] if k in IDENTITY and k != "start" and now.get(k) else v)
             for k, v in fields.items()]
    lab.ok("B", "pool-param-set", "uuid=" + pool,
           "other-config:%s=%s" % (LOCK_KEY, " ".join(words)))


def tagged(drill, run_id):
    """What the run's tag is still on at site B: {class: [uuid]} (empty lists left out)."""
    found = {}
    for cls in ("vm", "sr", "network"):
        values = drill.lab.ok("B", cls + "-list", "other-config:%s=%s" % (RUN_TAG, run_id),
                              "params=uuid", "--minimal").values
        if values:
            found[cls] = values
    return found


def test_there_are_old_runs_to_test():
    assert MADE_BY, "tests/old_runs holds no fixtures"


@pytest.mark.parametrize("made_by", MADE_BY)
def test_a_finished_old_test_failover_reports_and_cleans_up(tmp_path, made_by):
    drill, run = unpacked(tmp_path, made_by, "test-done")
    assert tagged(drill, run["run_id"]).get("vm")
    report = drill.ok("B", "report", run["run_id"])
    assert run["run_id"] in report.out
    drill.ok("B", "cleanup", run["run_id"], "--yes")
    assert tagged(drill, run["run_id"]) == {}
    assert drill.lab.ok("B", "drtask-list", "--minimal").values == []


@pytest.mark.parametrize("made_by", MADE_BY)
def test_an_old_failover_killed_mid_recovery_resumes_to_the_end(tmp_path, made_by):
    drill, run = unpacked(tmp_path, made_by, "failover-killed")
    resumed = drill.xedr("B", "--yes", "failover", "--resume", run["run_id"])
    assert resumed.code == run["exit"], resumed
    vms = tagged(drill, run["run_id"])["vm"]
    states = set(drill.lab.ok("B", "vm-param-get", "uuid=" + vm, "param-name=power-state").value
                 for vm in vms)
    assert states == {"running"}
    report = drill.ok("B", "report", "--json", run["run_id"])
    assert (report.json["run"]["status"], report.json["run"]["exit_code"]) == ("succeeded", 0)


@pytest.mark.parametrize("made_by", MADE_BY)
def test_an_old_test_failover_killed_mid_recovery_cleans_up(tmp_path, made_by):
    drill, run = unpacked(tmp_path, made_by, "test-killed")
    assert tagged(drill, run["run_id"])
    drill.ok("B", "cleanup", run["run_id"], "--yes")
    assert tagged(drill, run["run_id"]) == {}
    assert drill.lab.ok("B", "drtask-list", "--minimal").values == []
