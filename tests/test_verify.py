"""xe_dr/dr/verify.py on the lab: every verdict a drill can get for a started VM.

Time is a fake clock (``clock``/``sleep``); the lab's guests boot at once (cost factor 0)
unless a test gives one a boot time and moves the lab's time on (``guests.advance``).
"""

import time

import pytest

from tests.inprocess_xe import local_runner_for
from xe_dr.dr import verify
from xe_dr.lab import guests
from xe_dr.xe import Xe

HEALTH = "vm-data/xo-backup-health-check"


class FakeTime(object):
    """The verifier's clock; ``on_sleep`` runs at each sleep (the world moving on)."""

    def __init__(self, on_sleep=None):
        self.now = 1000.0
        self.sleeps = []
        self.on_sleep = on_sleep

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()


@pytest.fixture
def xe(lab):
    return Xe(local_runner_for(lab.lab)(60), xe_path=lab.xe_path("A"))


def vm(lab, name, *tags):
    uuid = lab.vm_uuid(name)
    for tag in tags:
        lab.ok("A", "vm-param-add", "uuid=" + uuid, "param-name=tags", "param-key=" + tag)
    return {"uuid": uuid, "name_label": name, "tags": list(tags)}


def restart(lab, *vms, **settings):
    """Halt the VMs and give their guests ``settings`` (``lab guest`` options)."""
    for v in vms:
        if lab.ok("A", "vm-param-get", "uuid=" + v["uuid"],
                  "param-name=power-state").value != "halted":
            lab.ok("A", "vm-shutdown", "uuid=" + v["uuid"])
        options = []
        for key, value in settings.items():
            options += ["--" + key.replace("_", "-"), value]
        if options:
            lab.cli("guest", "A", v["uuid"], *options)


def start(lab, *vms):
    started = {}
    for v in vms:
        started[v["uuid"]] = time.time()
        lab.ok("A", "vm-start", "uuid=" + v["uuid"])
    return started


def run(xe, vms, started, fake=None, wait=12.0, prepared=None, **kw):
    fake = fake or FakeTime()
    return verify.verify_vms(xe, vms, started, fake.now + wait, clock=fake.clock,
                             sleep=fake.sleep, poll=5.0, prepared=prepared, **kw)


def test_a_vm_whose_guest_reported_since_its_start_is_verified(lab, xe):
    web = vm(lab, "web-01")
    restart(lab, web)
    [result] = run(xe, [web], start(lab, web))
    assert result == {"uuid": web["uuid"], "name_label": "web-01", "verified": True,
                      "reason": "running, its guest agent reported since this start",
                      "started": True, "guest_metrics": True, "health_check": None,
                      "verified_at": 1000.0}


def test_verification_waits_for_a_guest_still_booting(lab, xe):
    web = vm(lab, "web-01")
    restart(lab, web, boot_seconds="600")
    started = start(lab, web)
    fake = FakeTime(on_sleep=lambda: guests.advance(lab.lab.site("A"), now=time.time() + 601))
    [result] = run(xe, [web], started, fake)
    assert result["verified"] and result["verified_at"] == 1005.0
    assert fake.sleeps == [5.0]


def test_a_guest_that_never_reports_times_out(lab, xe):
    web = vm(lab, "web-01")
    restart(lab, web, tools="no")
    fake = FakeTime()
    [result] = run(xe, [web], start(lab, web), fake)
    assert result["verified"] is False and result["started"] is True
    assert result["guest_metrics"] is False and result["health_check"] is None
    assert result["reason"] == "timed out: the guest agent did not report since this start " \
                               "(PV drivers not detected)"
    assert fake.sleeps == [5.0, 5.0, 2.0]  # polled until the deadline, not past it


def test_a_guest_still_waiting_at_the_drills_deadline_says_so(lab, xe):
    web = vm(lab, "web-01")
    restart(lab, web, tools="no")
    [result] = run(xe, [web], start(lab, web), FakeTime(),
                   expired="the drill's deadline (2026-12-05T10:00:00Z) passed")
    assert result["reason"] == "the drill's deadline (2026-12-05T10:00:00Z) passed: the guest " \
                               "agent did not report since this start (PV drivers not detected)"


def test_metrics_from_before_the_start_do_not_count(lab, xe):
    web = vm(lab, "web-01")
    restart(lab, web)
    started = start(lab, web)
    gm = lab.db("A").rows("VM")[lab.db("A").lookup_uuid("VM", web["uuid"])]["guest_metrics"]
    lab.poke("A", "VM_guest_metrics", lab.db("A").rows("VM_guest_metrics")[gm]["uuid"],
             last_updated="20240101T00:00:00Z")  # PV drivers detected, but last year
    [result] = run(xe, [web], started)
    assert not result["verified"] and not result["guest_metrics"]
    assert result["reason"].startswith(
        "timed out: guest metrics from before this start (last updated 2024-01-01T00:00:00Z, "
        "started ")


def test_a_vm_that_does_not_run_is_not_verified_and_nobody_waits(lab, xe):
    web = vm(lab, "web-01")
    restart(lab, web)
    fake = FakeTime()
    [result] = run(xe, [web], {web["uuid"]: time.time()}, fake)
    assert (result["verified"], result["started"], result["reason"]) == (
        False, False, "not running (power state halted)")
    assert fake.sleeps == []


def test_an_opted_in_vm_verifies_on_its_guests_success(lab, xe):
    web = vm(lab, "web-01", "xo-backup-health-check-xenstore")
    restart(lab, web, health_check="success")
    token = verify.prepare_health_check(xe, web["uuid"])
    [result] = run(xe, [web], start(lab, web), prepared={web["uuid"]: token})
    assert result["verified"] and result["health_check"] == "success"
    assert result["reason"] == "running, its guest agent reported and its in-guest health " \
                               "check answered success"


def test_a_failing_check_is_a_verdict_with_the_guests_message(lab, xe):
    web = vm(lab, "web-01", "xo-backup-health-check-xenstore")
    restart(lab, web, health_check="failure", health_check_error="fsck: /dev/xvda1; 3 errors")
    token = verify.prepare_health_check(xe, web["uuid"])
    fake = FakeTime()
    [result] = run(xe, [web], start(lab, web), fake, prepared={web["uuid"]: token})
    assert (result["verified"], result["health_check"]) == (False, "failure")
    assert result["reason"] == "its in-guest health check failed: fsck: /dev/xvda1; 3 errors"
    assert result["guest_metrics"] is True and fake.sleeps == []


def test_a_hanging_check_times_out_saying_where_it_stopped(lab, xe):
    web = vm(lab, "web-01", "xo-backup-health-check-xenstore")
    restart(lab, web, health_check="hang")
    token = verify.prepare_health_check(xe, web["uuid"])
    [result] = run(xe, [web], start(lab, web), prepared={web["uuid"]: token})
    assert (result["verified"], result["health_check"]) == (False, "timeout")
    assert result["guest_metrics"] is True
    assert result["reason"] == "timed out: no in-guest health check answer " \
                               "(vm-data/xo-backup-health-check is 'running')"


def test_a_success_inherited_from_production_is_not_taken(lab, xe):
    """The copy's xenstore-data says success; its guest has no check script. Armed, the start
    gives the guest ``planned``, which nobody answers; not armed, the old success is refused."""
    web = vm(lab, "web-01", "xo-backup-health-check-xenstore")
    restart(lab, web)
    lab.ok("A", "vm-param-set", "uuid=" + web["uuid"], "xenstore-data:%s=success" % HEALTH)
    [unarmed] = run(xe, [web], start(lab, web), prepared={})
    assert lab.ok("A", "vm-param-get", "uuid=" + web["uuid"], "param-name=xenstore-data",
                  "param-key=" + HEALTH).value == "success"  # still there
    assert not unarmed["verified"] and unarmed["health_check"] is None
    assert unarmed["reason"].startswith("its in-guest health check was not armed before this "
                                        "start")

    restart(lab, web)
    token = verify.prepare_health_check(xe, web["uuid"])
    [armed] = run(xe, [web], start(lab, web), prepared={web["uuid"]: token})
    assert (armed["verified"], armed["health_check"]) == (False, "timeout")
    assert armed["reason"].endswith("(vm-data/xo-backup-health-check is 'planned')")


def test_an_answer_of_an_earlier_drill_is_not_taken(lab, xe):
    web = vm(lab, "web-01", "xo-backup-health-check-xenstore")
    restart(lab, web, health_check="success")
    verify.prepare_health_check(xe, web["uuid"], token="earlier-drill")
    start(lab, web)  # answered success, with the earlier drill's token
    restart(lab, web, health_check="hang")
    started = start(lab, web)  # this drill forgot to arm it: the old answer is shown again
    [result] = run(xe, [web], started, prepared={web["uuid"]: "this-drill"})
    assert (result["verified"], result["health_check"]) == (False, "timeout")
    assert result["reason"] == "timed out: its xenstore-data says success, but not from this " \
                               "boot (the token of this drill's prepare_health_check is missing)"


def test_prepare_arms_the_check_and_clears_the_last_error(lab, xe):
    web = vm(lab, "web-01")
    restart(lab, web)
    lab.ok("A", "vm-param-set", "uuid=" + web["uuid"], "xenstore-data:%s=failure" % HEALTH,
           "xenstore-data:%s-error=old" % HEALTH)
    token = verify.prepare_health_check(xe, web["uuid"])
    data = lab.db("A").rows("VM")[lab.db("A").lookup_uuid("VM", web["uuid"])]["xenstore_data"]
    assert data[HEALTH] == "planned" and data["vm-data/xe-dr-health-check"] == token
    assert HEALTH + "-error" not in data


@pytest.mark.parametrize("tag", ["xo:no-health-check", "xo:no-health-check=appliance"])
def test_an_opted_out_vm_is_verified_once_it_runs(lab, xe, tag):
    web = vm(lab, "web-01", tag, "xo-backup-health-check-xenstore")  # the opt-out wins
    restart(lab, web, tools="no")
    [result] = run(xe, [web], start(lab, web))
    assert (result["verified"], result["health_check"], result["guest_metrics"]) == (
        True, "skipped", False)
    assert result["reason"] == "running (xo:no-health-check: no further check)"


def test_every_vm_is_polled_by_the_same_calls(lab, xe):
    """One vm-list a round for all the VMs, whatever their number; verdicts in their order."""
    names = ["web-01", "app-01", "db-01"]
    vms = [vm(lab, name) for name in names]
    restart(lab, vms[0], tools="no")
    restart(lab, *vms[1:])
    started = start(lab, *vms)
    before = len(lab.call_log())
    fake = FakeTime()
    results = run(xe, vms, started, fake)
    assert [r["name_label"] for r in results] == names
    assert [r["verified"] for r in results] == [False, True, True]
    calls = [c["command"] for c in lab.call_log()[before:]]
    assert calls == ["vm-list"] * (len(fake.sleeps) + 1)
