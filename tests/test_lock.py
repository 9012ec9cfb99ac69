"""The claim a run puts on its pool (xe_dr/dr/lock.py), against a pool whose other-config
behaves as xapi's master: adding a key that is there fails with MAP_DUPLICATE_KEY."""

import os
import socket
import subprocess
import sys

import pytest

from xe_dr.dr.lock import LOCK_KEY, RunLock, claim_value, is_stale, parse_claim
from xe_dr.errors import TemporaryError
from xe_dr.exitcodes import ExitCode
from xe_dr.xe.errors import XapiError


class PoolConfig(object):
    """pool-param-add / -get / -remove on one pool's other-config, as the Xe layer calls them."""

    def __init__(self, **config):
        self.config = dict(config)
        self.calls = []

    def param_add(self, cls, uuid, name, values=None, key=None, timeout=None):
        self.calls.append("add")
        for k, v in values.items():
            if k in self.config:
                raise XapiError("MAP_DUPLICATE_KEY", ["pool", "other_config", "OpaqueRef:p", k])
            self.config[k] = v

    def param_get(self, cls, uuid, name, key=None, database=None, timeout=None):
        if key not in self.config:
            raise XapiError("INTERNAL_ERROR", ["Failure: Key %s not found in map" % key])
        return self.config[key]

    def param_remove(self, cls, uuid, name, key, timeout=None):
        self.calls.append("remove")
        self.config.pop(key, None)


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_claim_is_taken_and_given_back(tmp_path):
    pool = PoolConfig(other="kept")
    lock = RunLock(str(tmp_path), pool, "pool-1").acquire("run-a")
    assert parse_claim(pool.config[LOCK_KEY])["run"] == "run-a"
    assert parse_claim(pool.config[LOCK_KEY])["pid"] == str(os.getpid())
    lock.release()
    assert pool.config == {"other": "kept"}


def test_a_live_claim_is_refused_with_75_and_how_to_remove_it(tmp_path):
    holder = claim_value("run-a", pid=os.getpid(), host="admin-laptop")
    pool = PoolConfig(**{LOCK_KEY: holder})
    with pytest.raises(TemporaryError) as refused:
        RunLock(str(tmp_path / "other"), pool, "pool-1").acquire("run-b")
    assert refused.value.exit_code == ExitCode.TEMPORARY
    line = refused.value.one_line()
    assert "run run-a (pid %d on admin-laptop" % os.getpid() in line
    assert "xe pool-param-remove uuid=pool-1 param-name=other-config param-key=xe-dr-lock" \
        in line
    assert pool.config[LOCK_KEY] == holder and pool.calls == ["add"]
    # the refused run's local lock is free again
    RunLock(str(tmp_path / "other"), PoolConfig(), "pool-1").acquire("run-c").release()


def test_a_dead_process_claim_from_this_machine_is_taken_over(tmp_path):
    stale = claim_value("run-a", pid=dead_pid(), start="4242")
    pool = PoolConfig(**{LOCK_KEY: stale})
    notes = []
    lock = RunLock(str(tmp_path), pool, "pool-1", note=notes.append).acquire("run-b")
    assert lock.took_over == stale
    assert parse_claim(pool.config[LOCK_KEY])["run"] == "run-b"
    assert notes and "stale lock" in notes[0]
    lock.release()
    assert LOCK_KEY not in pool.config


def test_a_claim_from_another_machine_is_never_broken(tmp_path):
    pool = PoolConfig(**{LOCK_KEY: claim_value("run-a", pid=dead_pid(), host="elsewhere",
                                               machine="0" * 32, start="4242")})
    with pytest.raises(TemporaryError):
        RunLock(str(tmp_path), pool, "pool-1").acquire("run-b")
    assert pool.calls == ["add"]


def test_a_claim_from_another_machine_with_the_same_hostname_is_never_broken(tmp_path):
    """Two admin machines (or containers) may share a hostname: the machine id, boot id and
    pid namespace say whose claim it is, not the hostname."""
    for other in ({"machine": "0" * 32}, {"boot": "00000000-0000-0000-0000-000000000000"},
                  {"pidns": "pid:[1]"}):
        claim = claim_value("run-a", pid=dead_pid(), start="4242", **other)
        assert parse_claim(claim)["host"] == socket.gethostname()
        pool = PoolConfig(**{LOCK_KEY: claim})
        with pytest.raises(TemporaryError):
            RunLock(str(tmp_path), pool, "pool-1").acquire("run-b")
        assert pool.config[LOCK_KEY] == claim and pool.calls == ["add"]


def test_staleness():
    assert is_stale(parse_claim(claim_value("r", pid=dead_pid(), start="4242")))
    assert not is_stale(parse_claim(claim_value("r", pid=os.getpid())))
    assert not is_stale(parse_claim(claim_value("r", pid=dead_pid(), start="1",
                                                machine="f" * 32)))
    assert not is_stale(parse_claim("set by hand"))
    # A claim of the previous version (no identity): never taken over automatically.
    assert not is_stale(parse_claim("run=r pid=%d host=%s since=2026-01-01T00:00:00Z" % (
        dead_pid(), socket.gethostname())))
    # The pid is alive but is another process now (reused): the claim's process is gone.
    assert is_stale(parse_claim(claim_value("r", pid=os.getpid(), start="1")))
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
        assert is_stale(parse_claim(claim_value("r", pid=zombie.pid)))
    finally:
        zombie.wait()


def test_a_release_that_fails_does_not_hide_the_outcome(tmp_path):
    pool = PoolConfig()
    notes = []
    lock = RunLock(str(tmp_path), pool, "pool-1", note=notes.append).acquire("run-a")

    def unreachable(*args, **kwargs):
        raise XapiError("CLI_CONNECTION_FAILED", ["Connection refused"])
    pool.param_get = unreachable
    lock.release()
    assert notes and "could not remove this run's lock" in notes[0]
    # and the local lock is free
    RunLock(str(tmp_path), PoolConfig(), "pool-1").acquire("run-b").release()


def test_a_claim_someone_else_holds_now_is_left_alone(tmp_path):
    pool = PoolConfig()
    lock = RunLock(str(tmp_path), pool, "pool-1").acquire("run-a")
    pool.config[LOCK_KEY] = claim_value("run-z", host="elsewhere")  # removed by hand, re-taken
    lock.release()
    assert parse_claim(pool.config[LOCK_KEY])["run"] == "run-z"


def test_status_names_the_run_that_holds_the_pool(drill):
    pool = drill.lab.uuid("A", "pool")
    claim = claim_value("20261125-101010-failover-ab12", pid=4242, host="admin-laptop")
    drill.lab.ok("A", "pool-param-add", "uuid=" + pool, "param-name=other-config",
                 LOCK_KEY + "=" + claim)
    text = drill.xedr("A", "status")
    assert "  locked by run 20261125-101010-failover-ab12 (pid 4242 on admin-laptop, since" \
        in text.out, text
    assert drill.xedr("A", "--json", "status").json["lock"]["host"] == "admin-laptop"
    drill.lab.ok("A", "pool-param-remove", "uuid=" + pool, "param-name=other-config",
                 "param-key=" + LOCK_KEY)
    assert "locked by" not in drill.xedr("A", "status").out


def test_a_claim_that_changes_hands_while_it_is_read_is_still_a_refusal(tmp_path):
    """The holder released between our add and our read, and a third run took the pool
    before our second add: refused like any second run, not an xe error."""
    third = claim_value("run-c", pid=os.getpid(), host="elsewhere")

    class Racing(PoolConfig):
        reads = 0

        def param_get(self, *args, **kwargs):
            self.reads += 1
            if self.reads == 1:
                self.config.pop(LOCK_KEY)  # the holder ends between our add and our read ...
            return PoolConfig.param_get(self, *args, **kwargs)

        def param_add(self, *args, **kwargs):
            if self.reads == 1:
                self.config[LOCK_KEY] = third  # ... and run-c claims the pool first
            return PoolConfig.param_add(self, *args, **kwargs)

    pool = Racing(**{LOCK_KEY: claim_value("run-a", pid=os.getpid())})
    with pytest.raises(TemporaryError) as refused:
        RunLock(str(tmp_path), pool, "pool-1").acquire("run-b")
    assert "run run-c" in refused.value.one_line()
    assert pool.config[LOCK_KEY] == third


class Clock(object):
    """time and sleep for a run that waits for the lock: ``on_sleep(now)`` is what another
    run does meanwhile."""

    def __init__(self, on_sleep=lambda now: None):
        self.now = 1000.0
        self.slept = []
        self.on_sleep = on_sleep

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds
        self.on_sleep(self.now)


def test_wait_lock_takes_the_pool_once_the_other_run_gives_it_back(tmp_path):
    # Two source pools failed over into one DR pool: the second run queues on the lock.
    holder = claim_value("run-a", pid=os.getpid(), host="admin-laptop")
    pool = PoolConfig(**{LOCK_KEY: holder})
    clock = Clock(on_sleep=lambda now: pool.config.pop(LOCK_KEY) if now >= 1012 else None)
    notes = []
    lock = RunLock(str(tmp_path), pool, "pool-1", note=notes.append).acquire(
        "run-b", wait=60, clock=clock.time, sleep=clock.sleep)
    assert parse_claim(pool.config[LOCK_KEY])["run"] == "run-b"
    assert clock.slept == [2.0] * 6
    assert notes == ["waiting up to 60s for the lock: another run holds the lock on this pool: "
                     "run run-a (pid %d on admin-laptop, since %s)" % (
                         os.getpid(), parse_claim(holder)["since"])]
    lock.release()


def test_wait_lock_refuses_with_75_when_the_wait_is_over(tmp_path):
    holder = claim_value("run-a", pid=os.getpid(), host="admin-laptop")
    pool = PoolConfig(**{LOCK_KEY: holder})
    clock = Clock()
    with pytest.raises(TemporaryError) as refused:
        RunLock(str(tmp_path), pool, "pool-1").acquire("run-b", wait=12, clock=clock.time,
                                                       sleep=clock.sleep)
    assert refused.value.exit_code == ExitCode.TEMPORARY
    assert clock.slept == [2.0] * 6
    assert pool.config == {LOCK_KEY: holder}


def test_ctrl_c_while_waiting_for_the_lock_is_75_saying_nothing_was_done(tmp_path):
    """No run exists yet: the line must not send the operator after one to resume."""
    holder = claim_value("run-a", pid=os.getpid(), host="admin-laptop")
    pool = PoolConfig(**{LOCK_KEY: holder})

    def ctrl_c(seconds):
        raise KeyboardInterrupt()

    stopped = None
    try:  # a KeyboardInterrupt let through would stop pytest itself
        RunLock(str(tmp_path), pool, "pool-1").acquire("run-b", wait=60, sleep=ctrl_c)
    except BaseException as failure:
        stopped = failure
    assert isinstance(stopped, TemporaryError) and stopped.exit_code == ExitCode.TEMPORARY
    assert stopped.one_line() == (
        "interrupted while waiting for the lock on this pool: nothing was done (another run "
        "holds the lock on this pool: run run-a (pid %d on admin-laptop, since %s))"
        % (os.getpid(), parse_claim(holder)["since"]))
    assert pool.config == {LOCK_KEY: holder}
    pool.config.clear()  # the state directory's lock was let go: the next run takes it
    RunLock(str(tmp_path), pool, "pool-1").acquire("run-c").release()
