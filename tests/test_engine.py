import pytest

from xe_dr.dr.engine import Engine, StepFailed
from xe_dr.dr.steps import Call, Step
from xe_dr.errors import XeDrError
from xe_dr.journal import Run


@pytest.fixture
def run(tmp_path):
    return Run.create(str(tmp_path), "failover", {"pool_uuid": "p"})


class RecordingXe(object):
    """The two things the engine asks of Xe: an argv, and running a call."""

    xe_path = "xe"

    def __init__(self):
        self.ran = []

    def argv(self, command, params=None, flags=()):
        return ["xe", command] + ["%s=%s" % kv for kv in sorted((params or {}).items())]

    def run(self, command, params=None, flags=()):
        self.ran.append((command, params))
        return ""


def reopened(run):
    return Run.open(run.state_dir, run.id)


def test_a_done_step_is_not_run_again_on_resume(run):
    calls = []
    Engine(run).do(Step("recover:vm:1", "recover vm 1", action=lambda: calls.append(1) or "vm-1"))
    resumed = Engine(reopened(run))
    assert resumed.do(Step("recover:vm:1", "recover vm 1", action=lambda: calls.append(2))) == "vm-1"
    assert calls == [1]


def test_an_interrupted_step_is_reconciled_before_it_runs_again(run):
    run.append("begin", "recover:vm:1")  # killed after begin: outcome unknown
    calls = []
    engine = Engine(reopened(run))
    result = engine.do(Step("recover:vm:1", "recover", action=lambda: calls.append("ran"),
                            reconcile=lambda: "found-on-pool"))
    assert result == "found-on-pool" and calls == []
    assert reopened(run).step_states()["recover:vm:1"]["data"]["reconciled"] is True


def test_an_interrupted_step_whose_effect_is_absent_runs_again(run):
    run.append("begin", "start:vm:1")
    calls = []
    Engine(reopened(run)).do(Step("start:vm:1", "start",
                                  action=lambda: calls.append("ran") or "ok",
                                  reconcile=lambda: None))
    assert calls == ["ran"]


def test_a_failed_step_is_journaled_and_retried_on_resume(run):
    def fails():
        raise XeDrError("VM_REQUIRES_SR")
    engine = Engine(run)
    with pytest.raises(StepFailed):
        engine.do(Step("recover:vm:1", "recover", action=fails))
    assert reopened(run).step_states()["recover:vm:1"]["event"] == "failed"
    assert Engine(reopened(run)).do(Step("recover:vm:1", "recover",
                                         action=lambda: "now ok")) == "now ok"


def test_one_failure_in_a_batch_does_not_stop_the_others(run):
    engine = Engine(run)

    def recover(uuid):
        def action():
            if uuid == "bad":
                raise XeDrError("VM_REQUIRES_SR")
            return uuid
        return engine.do(Step("recover:vm:" + uuid, "recover", action=action))

    results = engine.do_many(["a", "bad", "c"], 2, recover)
    assert results == ["a", None, "c"]
    assert [f.step for f in engine.failures] == ["recover:vm:bad"]


def test_dry_run_runs_nothing_and_journals_nothing(run):
    xe = RecordingXe()
    engine = Engine(run, xe=xe, dry_run=True)
    engine.do(Step("x", "step x", [Call("vm-recover", {"uuid": "u"})],
                   action=lambda: pytest.fail("ran")))
    assert engine.planned == [{"step": "x", "description": "step x",
                               "calls": [{"xe": "vm-recover", "params": {"uuid": "u"}}],
                               "commands": [["xe", "vm-recover", "uuid=u"]]}]
    assert xe.ran == [] and reopened(run).entries() == []


def test_a_step_without_an_action_runs_its_calls_and_journals_their_argv(run):
    xe = RecordingXe()
    Engine(run, xe=xe).do(Step("network:drop:n", "remove network n",
                               [Call("network-destroy", {"uuid": "n"})]))
    assert xe.ran == [("network-destroy", {"uuid": "n"})]
    begin = [e for e in reopened(run).entries() if e["event"] == "begin"][0]
    assert begin["data"]["commands"] == [["xe", "network-destroy", "uuid=n"]]
