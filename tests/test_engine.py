import pytest

from xe_dr.dr.engine import Engine, StepFailed
from xe_dr.errors import XeDrError
from xe_dr.journal import Run


@pytest.fixture
def run(tmp_path):
    return Run.create(str(tmp_path), "failover", {"pool_uuid": "p"})


def reopened(run):
    return Run.open(run.state_dir, run.id)


def test_a_done_step_is_not_run_again_on_resume(run):
    calls = []
    Engine(run).do("recover:vm:1", "recover vm 1", lambda: calls.append(1) or "vm-1")
    resumed = Engine(reopened(run))
    assert resumed.do("recover:vm:1", "recover vm 1", lambda: calls.append(2)) == "vm-1"
    assert calls == [1]


def test_an_interrupted_step_is_reconciled_before_it_runs_again(run):
    run.append("begin", "recover:vm:1")  # killed after begin: outcome unknown
    calls = []
    engine = Engine(reopened(run))
    result = engine.do("recover:vm:1", "recover", lambda: calls.append("ran"),
                       reconcile=lambda: "found-on-pool")
    assert result == "found-on-pool" and calls == []
    assert reopened(run).step_states()["recover:vm:1"]["data"]["reconciled"] is True


def test_an_interrupted_step_whose_effect_is_absent_runs_again(run):
    run.append("begin", "start:vm:1")
    calls = []
    Engine(reopened(run)).do("start:vm:1", "start", lambda: calls.append("ran") or "ok",
                             reconcile=lambda: None)
    assert calls == ["ran"]


def test_a_failed_step_is_journaled_and_retried_on_resume(run):
    def fails():
        raise XeDrError("VM_REQUIRES_SR")
    engine = Engine(run)
    with pytest.raises(StepFailed):
        engine.do("recover:vm:1", "recover", fails)
    assert reopened(run).step_states()["recover:vm:1"]["event"] == "failed"
    assert Engine(reopened(run)).do("recover:vm:1", "recover", lambda: "now ok") == "now ok"


def test_one_failure_in_a_batch_does_not_stop_the_others(run):
    engine = Engine(run)

    def recover(uuid):
        def action():
            if uuid == "bad":
                raise XeDrError("VM_REQUIRES_SR")
            return uuid
        return engine.do("recover:vm:" + uuid, "recover", action)

    results = engine.do_many(["a", "bad", "c"], 2, recover)
    assert results == ["a", None, "c"]
    assert [f.step for f in engine.failures] == ["recover:vm:bad"]


def test_dry_run_runs_nothing_and_journals_nothing(run):
    engine = Engine(run, dry_run=True)
    engine.do("x", "step x", lambda: pytest.fail("ran"), commands=[["xe", "vm-recover"]])
    assert engine.planned == [{"step": "x", "description": "step x",
                               "commands": [["xe", "vm-recover"]]}]
    assert reopened(run).entries() == []
