"""``status --alert``: xapi messages on the pool for DR health, one per condition across every
monitoring host (xe_dr/dr/alerts.py), against the in-process lab."""

import threading

import pytest

import xe_dr
from tests.fixtures_workflow import Drill
from tests.inprocess_xe import local_runner_for
from xe_dr.dr import alerts
from xe_dr.xe import Xe

PROBLEM, HEALTHY = "XE_DR_SRS_MISSING_PROBLEM", "XE_DR_SRS_MISSING_HEALTHY"


@pytest.fixture
def fast(monkeypatch):
    """No settle wait: these hosts take turns (the race test below does not)."""
    monkeypatch.setattr(alerts, "SETTLE_SECONDS", 0.0)


@pytest.fixture
def hosts(drill, tmp_path, fast):
    """Two monitoring hosts: two state directories, one pool (site A)."""
    return drill, Drill(drill.lab, str(tmp_path / "state-2"))


def _messages(lab, name):
    """The pool's messages called ``name``: (uuid, priority, class, obj-uuid, body)."""
    pool = lab.ok("A", "pool-list", "--minimal").value
    out = []
    for row in lab.db("A").rows("message").values():
        if row["name"] == name:
            assert (row["cls"], row["obj_uuid"]) == ("Pool", pool)
            out.append(row)
    return out


def _alert(host, check="srs-missing"):
    result = host.xedr("A", "--json", "status", "--alert")
    assert result.code == 1, result  # the default lab has VMs at risk
    return [a for a in result.json["alert_messages"] if a["check"] == check][0]


def _enable_replication(host):
    host.ok("A", "replication", "enable", *[u for u, _ in host.lab.replicated_srs()])


def test_going_bad_raises_one_message_across_two_state_dirs(hosts):
    first, second = hosts
    raised = _alert(first)
    [message] = _messages(first.lab, PROBLEM)
    assert raised == {"check": "srs-missing", "state": "raised", "message": message["uuid"],
                      "name": PROBLEM}
    assert _alert(second) == dict(raised, state="unchanged")
    assert len(_messages(first.lab, PROBLEM)) == 1
    assert message["priority"] == 2  # CRITICAL: api_messages.ml's "major"
    assert message["body"].startswith("no SR carries this pool's replicated metadata")
    assert "(xe-dr %s, checked " % xe_dr.__version__ in message["body"]
    at_risk = _messages(first.lab, "XE_DR_AT_RISK_PROBLEM")
    assert len(at_risk) == 1 and at_risk[0]["priority"] == 3  # WARNING


def test_staying_bad_raises_nothing_more(hosts):
    first, second = hosts
    _alert(first)
    for host in (first, second, first, second):
        assert _alert(host)["state"] == "unchanged"
    assert len(_messages(first.lab, PROBLEM)) == 1
    assert _messages(first.lab, HEALTHY) == []


def test_clearing_raises_the_healthy_message_once(hosts):
    first, second = hosts
    problem = _alert(first)["message"]
    _enable_replication(first)
    cleared = _alert(second)
    [healthy] = _messages(first.lab, HEALTHY)
    assert cleared == {"check": "srs-missing", "state": "cleared", "message": healthy["uuid"],
                       "name": HEALTHY}
    assert healthy["priority"] == 4 and healthy["body"].startswith(
        "3 replication SR(s) written (xe-dr ")
    for host in (first, second):
        assert _alert(host) == dict(cleared, state="unchanged")
    assert len(_messages(first.lab, HEALTHY)) == 1
    assert [m["uuid"] for m in _messages(first.lab, PROBLEM)] == [problem]


def test_going_bad_again_raises_again(hosts):
    first, second = hosts
    _alert(first)
    _enable_replication(first)
    _alert(first)
    first.ok("A", "--yes", "replication", "disable",
             *[u for u, _ in first.lab.replicated_srs()])
    again = _alert(second)
    assert again["state"] == "raised"
    assert len(_messages(first.lab, PROBLEM)) == 2 and len(_messages(first.lab, HEALTHY)) == 1


def test_a_licence_restricting_dr_then_allowing_it_again_clears_its_alert(hosts):
    first, second = hosts
    pool = _pool(first.lab)
    first.lab.poke("A", "pool", pool, restrictions={"restrict_dr": "true"})
    assert _alert(first, "licence")["state"] == "raised"
    [problem] = _messages(first.lab, "XE_DR_LICENCE_PROBLEM")
    assert problem["body"].startswith("the licence restricts disaster recovery")
    first.lab.poke("A", "pool", pool, restrictions={"restrict_dr": "false"})
    assert _alert(second, "licence")["state"] == "cleared"
    [healthy] = _messages(first.lab, "XE_DR_LICENCE_HEALTHY")
    assert healthy["body"].startswith("the licence allows disaster recovery (xe-dr ")


def test_two_drills_copies_attached_are_one_check_raised_once_and_cleared(hosts, tmp_path):
    """Copies of two drills attached (tagged as theirs; here on site A's own SRs): one
    drill-copy check, one alert, one Prometheus series; it clears once they are gone."""
    from tests.test_monitoring import metrics
    first, second = hosts
    srs = [u for u, _ in first.lab.replicated_srs()][:2]
    for sr, run in zip(srs, ("20261205-120000-drill-0a1b", "20261206-120000-drill-0c2d")):
        first.lab.ok("A", "sr-param-set", "uuid=" + sr, "other-config:xe-dr-run=" + run,
                     "other-config:xe-dr-run-kind=drill")
    raised = _alert(first, "drill-copy")
    assert raised["state"] == "raised", raised
    [problem] = _messages(first.lab, "XE_DR_DRILL_COPY_PROBLEM")
    assert problem["body"].startswith("drill 20261205-120000-drill-0a1b left the array's "
                                      "copies attached (")
    assert "; drill 20261206-120000-drill-0c2d left the array's copies attached (" in \
        problem["body"]
    text = first.xedr("A", "status", "--format", "prometheus").out
    series = [line.rsplit(" ", 1)[0] for line in text.splitlines()
              if line and not line.startswith("#")]
    assert len(series) == len(set(series))
    assert [v for (n, labels), v in metrics(text).items() if n == "xe_dr_check_state"
            and ("check", "drill-copy") in labels] == [2]
    for sr in srs:
        first.lab.ok("A", "sr-param-remove", "uuid=" + sr, "param-name=other-config",
                     "param-key=xe-dr-run")
    assert _alert(second, "drill-copy")["state"] == "cleared"
    assert len(_messages(first.lab, "XE_DR_DRILL_COPY_HEALTHY")) == 1


def _xe(lab):
    return Xe(local_runner_for(lab.lab)(60), xe_path=lab.xe_path("A"))


def _pool(lab):
    return lab.ok("A", "pool-list", "--minimal").value


CHECK = {"name": "readiness", "state": "WARNING", "summary": "DR pool short of 12 GiB"}


def test_a_check_never_raised_and_ok_raises_nothing(lab):
    result = alerts.raise_alerts(_xe(lab), _pool(lab), [dict(CHECK, state="OK")], settle=0)
    assert result == [{"check": "readiness", "state": "unchanged", "message": None,
                       "name": None}]
    assert not [m for m in lab.db("A").rows("message").values()
                if m["name"].startswith("XE_DR_")]


class _RacingXe(Xe):
    """A monitoring host in step with another: both have listed the messages before either
    creates one, and both have created theirs before either lists again."""

    def __init__(self, lab, barrier):
        Xe.__init__(self, local_runner_for(lab.lab)(60), xe_path=lab.xe_path("A"))
        self.barrier = barrier

    def message_create(self, *args, **kwargs):
        self.barrier.wait(timeout=60)
        Xe.message_create(self, *args, **kwargs)
        self.barrier.wait(timeout=60)


def test_two_hosts_at_the_same_moment_end_with_one_message(lab):
    pool = _pool(lab)
    barrier = threading.Barrier(2)
    results, errors = [None, None], []

    def host(i):
        try:
            results[i] = alerts.raise_alerts(_RacingXe(lab, barrier), pool, [CHECK],
                                             settle=0)[0]
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
    threads = [threading.Thread(target=host, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    [message] = [m for m in lab.db("A").rows("message").values()
                 if m["name"] == "XE_DR_READINESS_PROBLEM"]
    assert sorted(r["state"] for r in results) == ["raised", "unchanged"]
    assert {r["message"] for r in results} == {message["uuid"]}


def test_a_duplicate_left_behind_is_swept_by_the_next_check(lab):
    """A host that died between its message-create and its decision left a second message
    for the same transition: the next check, by any host, keeps the first."""
    pool, xe = _pool(lab), _xe(lab)
    first = alerts.raise_alerts(xe, pool, [CHECK], settle=0)[0]["message"]
    lab.poke("A", "message", first, timestamp="20240115T10:20:30Z")  # a check ago
    lab.ok("A", "message-create", "name=XE_DR_READINESS_PROBLEM", "priority=3",
           "body=left behind", "pool-uuid=" + pool)
    assert alerts.raise_alerts(xe, pool, [CHECK], settle=0)[0] == {
        "check": "readiness", "state": "unchanged", "message": first,
        "name": "XE_DR_READINESS_PROBLEM"}
    assert [m["uuid"] for m in lab.db("A").rows("message").values()
            if m["name"] == "XE_DR_READINESS_PROBLEM"] == [first]


def test_the_decision_waits_past_xapis_second(lab):
    """Between message-create and the message-list that decides, the host waits
    SETTLE_SECONDS: longer than one second of the timestamps xapi gives messages."""
    calls = []

    class Recording(Xe):
        def run(self, command, *args, **kwargs):
            calls.append(command)
            return Xe.run(self, command, *args, **kwargs)
    xe = Recording(local_runner_for(lab.lab)(60), xe_path=lab.xe_path("A"))
    alerts.raise_alerts(xe, _pool(lab), [CHECK], sleep=lambda s: calls.append(s))
    assert calls[:4] == ["message-list", "message-create", alerts.SETTLE_SECONDS,
                         "message-list"]
    assert alerts.SETTLE_SECONDS > 1


def test_check_names_and_states():
    assert alerts.message_names("srs-missing") == ("XE_DR_SRS_MISSING_PROBLEM",
                                                  "XE_DR_SRS_MISSING_HEALTHY")
    with pytest.raises(ValueError):
        alerts.message_names("Bad Name")
