"""A resume that could only do harm is refused (issue 14, finding 5): a run that was cleaned
up, and a run that began recovering but lost its plan.json."""

import os

import pytest

from tests.test_safety_cleanup import protect_and_break


def test_a_cleaned_up_run_is_not_resumed(drill):
    protect_and_break(drill)
    test = drill.xedr("B", "--json", "failover", "--test", "--all", *drill.storage_args("B"))
    run_id = test.json["run"]
    assert drill.xedr("B", "cleanup", run_id).code == 0
    before = drill.snapshot("B")
    resumed = drill.xedr("B", "failover", "--resume", run_id)
    assert resumed.code == 64, resumed
    assert "was cleaned up by" in resumed.err and "nothing to resume" in resumed.err
    assert drill.snapshot("B") == before
    listed = [r for r in drill.xedr("B", "--json", "runs").json["runs"] if r["id"] == run_id]
    assert listed[0]["status"] == "cleaned up"


def test_a_run_without_its_plan_is_not_resumed_once_it_recovered(drill):
    protect_and_break(drill)
    test = drill.xedr("B", "--json", "failover", "--test", "--all", *drill.storage_args("B"))
    run_id = test.json["run"]
    os.remove(os.path.join(drill.state_dir, "runs", run_id, "plan.json"))
    before = drill.snapshot("B")
    resumed = drill.xedr("B", "failover", "--resume", run_id)
    assert resumed.code == 78, resumed
    assert "plan.json is missing" in resumed.err
    assert drill.snapshot("B") == before


def test_a_blocked_run_is_checked_again_when_resumed(drill):
    """Blocked by a verdict about the pool after its storage was attached: the fix counts on
    --resume (issue 14, finding 6)."""
    protect_and_break(drill)
    hosts = drill.lab.ok("B", "host-list", "params=uuid", "--minimal").values
    for host in hosts:
        drill.lab.poke("B", "host", host, memory_free=1024)
    blocked = drill.xedr("B", "--json", "failover", "--test", "--all", "--power", "paused",
                         *drill.storage_args("B"))
    assert blocked.code == 1, blocked
    assert blocked.json["outcome"] == "blocked"
    assert [c for c in blocked.json["checks"] if c["name"] == "capacity"][0]["verdict"] == \
        "blocking"
    for host in hosts:
        drill.lab.poke("B", "host", host, memory_free=512 * 2 ** 30)
    resumed = drill.xedr("B", "--json", "failover", "--resume", blocked.json["run"])
    assert resumed.code == 0, resumed
    assert [c for c in resumed.json["checks"] if c["name"] == "capacity"][0]["verdict"] == "ok"
    assert any(i.get("recovered_vms") for i in resumed.json["items"])


def test_a_run_whose_cleanup_began_is_not_resumed(drill):
    """A cleanup that stopped half way (here an SR it could not forget) destroyed the VMs
    already: a resume would report them recovered."""
    protect_and_break(drill)
    test = drill.xedr("B", "--json", "failover", "--test", "--all", "--power", "paused",
                      *drill.storage_args("B"))
    run_id = test.json["run"]
    drill.lab.fault(site="B", command="sr-forget", every=True,
                    error=["SR_BACKEND_FAILURE_47", "", "the SR is busy", ""])
    cleanup = drill.xedr("B", "cleanup", "--yes", run_id)
    assert cleanup.code == 1, cleanup
    (cleanup_id,) = [r["id"] for r in drill.xedr("B", "--json", "runs").json["runs"]
                     if r["kind"] == "cleanup"]
    from xe_dr.lab import faults
    faults.clear(drill.lab.lab)
    before = drill.snapshot("B")
    resumed = drill.xedr("B", "failover", "--resume", run_id)
    assert resumed.code == 64, resumed
    assert resumed.err.count("\n") == 1, resumed.err
    assert "cleanup %s" % cleanup_id in resumed.err and \
        "'xe-dr cleanup %s'" % run_id in resumed.err, resumed.err
    assert drill.snapshot("B") == before
    assert drill.xedr("B", "cleanup", "--yes", run_id).code == 0  # what it says to do
    listed = [r for r in drill.xedr("B", "--json", "runs").json["runs"] if r["id"] == run_id]
    assert listed[0]["status"] == "cleaned up"


@pytest.mark.parametrize("plan", ['{"items": [', "[1, 2]", b"\xff\xfe"])
def test_a_run_with_an_unreadable_plan_is_not_resumed_once_it_recovered(drill, plan):
    protect_and_break(drill)
    test = drill.xedr("B", "--json", "failover", "--test", "--all", *drill.storage_args("B"))
    run_id = test.json["run"]
    with open(os.path.join(drill.state_dir, "runs", run_id, "plan.json"), "wb") as handle:
        handle.write(plan if isinstance(plan, bytes) else plan.encode("utf-8"))
    before = drill.snapshot("B")
    resumed = drill.xedr("B", "failover", "--resume", run_id)
    assert resumed.code == 78, resumed
    assert resumed.err.count("\n") == 1 and "internal error" not in resumed.err, resumed.err
    assert "plan.json cannot be read" in resumed.err and run_id in resumed.err
    assert drill.snapshot("B") == before


def _blocked_on_memory(drill):
    protect_and_break(drill)
    hosts = drill.lab.ok("B", "host-list", "params=uuid", "--minimal").values
    for host in hosts:
        drill.lab.poke("B", "host", host, memory_free=1024)
    blocked = drill.xedr("B", "--json", "failover", "--test", "--all", "--power", "paused",
                         *drill.storage_args("B"))
    assert blocked.json["outcome"] == "blocked", blocked
    return blocked.json["run"]


def test_a_blocked_run_resumes_with_the_fix_its_precheck_names(drill):
    """The capacity check says "start fewer VMs (--power none, --exclude)": while nothing is
    recovered the run is planned again anyway, so a resume takes those options (issue 14,
    finding 6)."""
    run_id = _blocked_on_memory(drill)
    resumed = drill.xedr("B", "--json", "failover", "--resume", run_id, "--power", "none",
                         "--exclude", "cache-01")
    assert resumed.code == 0, resumed
    assert resumed.json["power"] == "none"
    assert [c for c in resumed.json["checks"] if c["name"] == "capacity"][0]["verdict"] == \
        "skipped"
    assert "cache-01" not in [i["name_label"] for i in resumed.json["items"]]
    assert any(i.get("recovered_vms") for i in resumed.json["items"])
    assert "paused" not in drill.lab.ok("B", "vm-list", "params=power-state").out
    run = drill.xedr("B", "--json", "report", run_id).json["run"]
    assert run["options"]["power"] == "none" and run["options"]["exclude"] == ["cache-01"]


def test_a_run_that_began_recovering_keeps_its_plan(drill):
    run_id = _blocked_on_memory(drill)
    for host in drill.lab.ok("B", "host-list", "params=uuid", "--minimal").values:
        drill.lab.poke("B", "host", host, memory_free=512 * 2 ** 30)
    assert drill.xedr("B", "failover", "--resume", run_id).code == 0
    again = drill.xedr("B", "failover", "--resume", run_id, "--exclude", "cache-01")
    assert again.code == 64 and "--exclude" in again.err and "recover" in again.err, again


def test_a_superseded_run_is_not_resumed(drill):
    """A run whose SRs a later run adopted (--adopt) holds nothing any more: the later run
    is the one to resume or clean up."""
    from tests.test_fidelity_storage import disaster
    disaster(drill, plugin=False)
    storage = drill.storage_args("B")
    stopped = drill.xedr("B", "--yes", "failover", "--test", "--vm", "no-such-vm", *storage)
    assert stopped.code == 64, stopped
    (first,) = os.listdir(os.path.join(drill.state_dir, "runs"))
    adopted = drill.xedr("B", "--json", "--yes", "failover", "--test", "--all", "--adopt",
                         first, *storage)
    second = adopted.json["run"]
    before = drill.snapshot("B")
    resumed = drill.xedr("B", "--yes", "failover", "--resume", first)
    assert resumed.code == 64, resumed
    assert "superseded by run %s" % second in resumed.err and \
        resumed.err.count("\n") == 1, resumed.err
    assert drill.snapshot("B") == before
    assert drill.ok("B", "--yes", "cleanup", second).code == 0
