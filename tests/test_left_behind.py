"""Issue 14: nothing left behind. A step that failed or was cut short may still have made its
change (xapi finishes an operation whose client went away): resume and cleanup find it from
what the step journaled before it began, and site B ends as it was before a test."""

import json
import os

import pytest

from tests.fixtures_lab import make_lab
from tests.fixtures_remote import run_xedr
from tests.fixtures_workflow import Drill
from tests.test_fidelity_storage import disaster
from xe_dr.lab import faults


def run_of(drill):
    runs = os.listdir(os.path.join(drill.state_dir, "runs"))
    assert len(runs) == 1, runs
    return runs[0]


def journal(drill, run_id):
    with open(os.path.join(drill.state_dir, "runs", run_id, "journal.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def timed_out_attach(drill):
    """A test failover whose first drtask-create outlives xe-dr's --timeout: xapi attaches
    the SR and makes the DR task all the same. Returns (site B before, run id)."""
    disaster(drill, plugin=False)
    before = drill.snapshot("B")
    drill.lab.fault(site="B", command="drtask-create", nth=1, after=2.0)
    first = drill.xedr("B", "--json", "--yes", "--timeout", "1", "failover", "--test",
                       "--all", *drill.storage_args("B"))
    assert first.code == 75, first
    run_id = run_of(drill)
    attach = [e for e in journal(drill, run_id) if e.get("step", "").startswith("attach:")]
    assert [e["event"] for e in attach] == ["begin", "failed"]
    assert drill.lab.ok("B", "drtask-list", "--minimal").values  # made all the same
    return before, run_id


def test_a_drtask_create_slower_than_the_timeout_is_resumed_then_cleaned_up(drill):
    before, run_id = timed_out_attach(drill)
    resumed = drill.xedr("B", "--json", "--yes", "failover", "--resume", run_id)
    # plain xe: the VMs never protected fail their checks (tests/test_workflows.py)
    assert resumed.code == 2, resumed
    # Each of the three LUNs was attached by the run: the timed-out one too.
    storage = resumed.json["storage"]
    assert len(storage) == 3 and all(e["task"] and len(e["introduced"]) == 1 and
                                     e["already_attached"] == [] for e in storage), storage
    cleanup = drill.xedr("B", "--json", "--yes", "cleanup", run_id)
    assert cleanup.code == 0, cleanup
    assert drill.snapshot("B") == before


def test_a_drtask_create_slower_than_the_timeout_is_cleaned_up_without_a_resume(drill):
    before, run_id = timed_out_attach(drill)
    cleanup = drill.xedr("B", "--json", "--yes", "cleanup", run_id)
    assert cleanup.code == 0, cleanup
    assert drill.snapshot("B") == before


# -- xe-dr killed mid-call: real processes (the slow tier) ----------------------------------

def killed_mid_call(drill, command):
    """A test failover without the plugin, xe-dr killed (SIGKILL) by the lab right after
    xapi made the first ``command``: what it made (an SR and its DR task, a vApp and its VMs,
    a VM) is in the pool, untagged. Returns (site B before, run id)."""
    disaster(drill, plugin=False)
    before = drill.snapshot("B")
    # Objects on replicated storage, so that the first recovery works.
    selection = {"drtask-create": ["--all"], "vm-recover": ["--vm", "mon-01"],
                 "appliance-recover": ["--vapp", "erp"]}[command]
    drill.lab.fault(site="B", command=command, nth=1, kill_client="after")
    killed = run_xedr(drill.lab, drill.state_dir, ["failover", "--test", "--parallel", "1"] +
                      selection + drill.storage_args("B"))
    assert killed.code == -9, killed
    faults.clear(drill.lab.lab)
    run_id = run_of(drill)
    calls = [c for c in drill.lab.call_log() if c["command"] == command]
    assert [(c["exit"], c.get("kill_client")) for c in calls] == [(0, "after")]
    steps = [e for e in journal(drill, run_id) if e["event"] in ("begin", "done", "failed")]
    kind = "attach:" if command == "drtask-create" else "recover:"
    assert steps[-1]["event"] == "begin" and steps[-1]["step"].startswith(kind), steps[-1]
    return before, run_id


@pytest.mark.slow
@pytest.mark.parametrize("command", ["drtask-create", "vm-recover", "appliance-recover"])
def test_xe_dr_killed_mid_call_is_cleaned_up_without_a_resume(tmp_path, command):
    drill = Drill(make_lab(tmp_path / "lab"), str(tmp_path / "state"), processes=True)
    before, run_id = killed_mid_call(drill, command)
    cleanup = run_xedr(drill.lab, drill.state_dir, ["cleanup", run_id])
    assert cleanup.code == 0, cleanup
    assert drill.snapshot("B") == before


@pytest.mark.slow
def test_xe_dr_killed_mid_recovery_resumes_and_cleans_up(tmp_path):
    drill = Drill(make_lab(tmp_path / "lab"), str(tmp_path / "state"), processes=True)
    before, run_id = killed_mid_call(drill, "vm-recover")
    resumed = run_xedr(drill.lab, drill.state_dir, ["failover", "--resume", run_id])
    assert resumed.code == 0, resumed  # mon-01 alone, on replicated storage
    cleanup = run_xedr(drill.lab, drill.state_dir, ["cleanup", run_id])
    assert cleanup.code == 0, cleanup
    assert drill.snapshot("B") == before


# -- cleanup without the journal (finding 3) --------------------------------------------------

def test_a_chap_test_is_cleaned_up_without_its_journal_secret_and_dr_tasks_included(
        drill_factory, tmp_path):
    """A cleanup from another machine (no journal) finds the DR tasks and the CHAP secret the
    run made through the SRs it introduced, which name them; the secret carries the run's
    marks too."""
    password = "s3cr3t-chap"
    drill = drill_factory(chap_user="dr-initiator", chap_password=password)
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    drill.lab.disaster("A")
    drill.lab.mirror("break")
    before = drill.snapshot("B")
    password_file = tmp_path / "chap"
    password_file.write_text(password + "\n")
    result = drill.xedr("B", "--json", "--yes", "failover", "--test", "--all",
                        *(drill.storage_args("B") + ["--chap-user", "dr-initiator",
                                                     "--chap-password-file",
                                                     str(password_file)]))
    assert result.code == 2, result  # the VMs never protected fail (tests/test_workflows.py)
    run_id = result.json["run"]
    assert len(drill.lab.ok("B", "drtask-list", "--minimal").values) == 3  # one a LUN
    db = drill.lab.db("B")
    # One a CHAP LUN (the others are the PBDs' own copies, untagged: xapi_secret.ml
    # duplicate_passwds, destroyed with the PBDs).
    iscsi = [e for e in result.json["storage"] if e["type"] == "lvmoiscsi"]
    assert [r["other_config"]["xe-dr-run-kind"] for r in db.rows("secret").values()
            if r["other_config"].get("xe-dr-run") == run_id] == ["test"] * len(iscsi) == \
        ["test", "test"]
    elsewhere = Drill(drill.lab, str(tmp_path / "another-machine"))
    cleanup = elsewhere.xedr("B", "--json", "--yes", "cleanup", run_id)
    assert cleanup.code == 0, cleanup
    assert drill.snapshot("B") == before


# -- a run that stopped after attaching storage (finding 1) ------------------------------------

def test_a_stopped_run_names_what_it_left_and_a_new_run_refuses_or_adopts_it(drill):
    disaster(drill, plugin=False)
    before = drill.snapshot("B")
    storage = drill.storage_args("B")
    stopped = drill.xedr("B", "--yes", "failover", "--test", "--vm", "no-such-vm", *storage)
    assert stopped.code == 64, stopped
    first = run_of(drill)
    last = stopped.err.strip().splitlines()[-1]
    for command in ("xe-dr cleanup " + first, "xe-dr failover --resume " + first,
                    "--adopt " + first):
        assert command in last, last
    report = drill.ok("B", "--json", "report", first).json
    assert any("xe-dr cleanup " + first in line for line in report["todo"]), report["todo"]

    attached = drill.snapshot("B")
    refused = drill.xedr("B", "--yes", "failover", "--test", "--all", *storage)
    assert refused.code == 64, refused
    assert "held by run %s" % first in refused.err and "--adopt " + first in refused.err
    assert drill.snapshot("B") == attached  # nothing was changed
    assert sorted(os.listdir(os.path.join(drill.state_dir, "runs"))) == [first]

    adopted = drill.xedr("B", "--json", "--yes", "failover", "--test", "--all", "--adopt",
                         first, *storage)
    assert adopted.code == 2, adopted  # plain xe: the VMs never protected fail their checks
    second = adopted.json["run"]
    assert len(adopted.json["adopted"]["objects"]["sr"]) == 3
    assert drill.ok("B", "--json", "runs").json  # both listed
    old = drill.xedr("B", "--yes", "cleanup", first)
    assert old.code == 64 and "superseded by run %s" % second in old.err, old
    assert drill.ok("B", "--yes", "cleanup", second).code == 0
    assert drill.snapshot("B") == before
