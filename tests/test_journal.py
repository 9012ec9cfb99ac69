import json
import os
import subprocess
import sys

import pytest

from xe_dr.errors import TemporaryError, UsageError
from xe_dr.exitcodes import ExitCode
from xe_dr.journal import BEGIN, DONE, PoolLock, Run


def test_a_run_is_found_again_with_its_journal(tmp_path):
    run = Run.create(str(tmp_path), "failover", {"pool_uuid": "p1"}, argv=["failover", "--all"])
    run.append(BEGIN, "recover:vm:1", vm="1")
    run.append(DONE, "recover:vm:1")
    run.append(BEGIN, "recover:vm:2")

    again = Run.open(str(tmp_path), run.id)
    states = again.step_states()
    assert states["recover:vm:1"]["event"] == DONE
    assert states["recover:vm:2"]["event"] == BEGIN
    assert [e["seq"] for e in again.entries()] == [1, 2, 3]
    assert again.meta["kind"] == "failover" and again.meta["status"] == "running"


def test_a_torn_last_line_is_ignored(tmp_path):
    run = Run.create(str(tmp_path), "test", {"pool_uuid": "p1"})
    run.append(DONE, "a")
    with open(run.journal_path, "a") as handle:
        handle.write('{"seq": 2, "event": "do')  # killed in the middle of a write
    assert [e["step"] for e in Run.open(str(tmp_path), run.id).entries()] == ["a"]
    resumed = Run.open(str(tmp_path), run.id)
    resumed.append(DONE, "b")  # and the journal goes on after it, on a line of its own
    again = Run.open(str(tmp_path), run.id)
    assert [e["step"] for e in again.entries()] == ["a", "b"]
    again.append(DONE, "c")  # a second resume reads and keeps everything too
    assert [(e["seq"], e["step"]) for e in Run.open(str(tmp_path), run.id).entries()] == [
        (1, "a"), (2, "b"), (3, "c")]
    from xe_dr.report.model import read
    files = read(again)  # the report leaves the torn line out the same way, and says so
    assert [e["step"] for e in files["entries"]] == ["a", "b", "c"]
    assert files["problems"] == ["1 torn journal line(s) (a write cut short by a crash) were "
                                 "left out"]


def test_unknown_run_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as failure:
        Run.open(str(tmp_path), "nope")
    assert failure.value.exit_code == ExitCode.USAGE


def test_second_lock_on_the_same_pool_is_refused_at_once(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; sys.path.insert(0, %r)\n"
         "from xe_dr.journal import PoolLock\n"
         "lock = PoolLock(%r, 'pool-1').acquire('run-a'); print('locked', flush=True); time.sleep(30)"
         % (os.getcwd(), str(tmp_path))],
        stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(TemporaryError) as failure:
            PoolLock(str(tmp_path), "pool-1").acquire("run-b")
        assert failure.value.exit_code == ExitCode.TEMPORARY
        assert "run-a" in failure.value.message
        PoolLock(str(tmp_path), "pool-2").acquire("run-c").release()  # other pools are free
    finally:
        holder.kill()
        holder.wait()
    PoolLock(str(tmp_path), "pool-1").acquire("run-d").release()  # freed when the holder dies


def test_run_json_is_plain_json(tmp_path):
    run = Run.create(str(tmp_path), "cleanup", {"pool_uuid": "p"})
    run.set_status("succeeded", exit_code=0)
    with open(os.path.join(run.dir, "run.json")) as handle:
        assert json.load(handle)["status"] == "succeeded"


# -- a journal that cannot tear (issue 14, finding 4) -----------------------------------------

def _journal_bytes(run):
    with open(run.journal_path, "rb") as handle:
        return handle.read()


def test_an_entry_after_a_torn_line_starts_on_a_line_of_its_own(tmp_path):
    """A line torn by a crash is left as it is; the next entry does not join it, and every
    reader finds that entry and the ones after it."""
    from xe_dr.report.model import read
    run = Run.create(str(tmp_path), "test", {"pool_uuid": "p1"})
    run.append(BEGIN, "recover:vm:1")
    with open(run.journal_path, "a") as handle:
        handle.write('{"seq": 2, "event": "do')  # cut in the middle of a write
    again = Run.open(str(tmp_path), run.id)
    again.append(DONE, "recover:vm:1")
    again.append(BEGIN, "start:vm:1")
    lines = _journal_bytes(run).decode("utf-8").split("\n")
    assert lines[1] == '{"seq": 2, "event": "do' and lines[-1] == ""
    assert [json.loads(line)["step"] for line in lines[2:-1]] == ["recover:vm:1", "start:vm:1"]
    third = Run.open(str(tmp_path), run.id)
    assert [(e["event"], e["step"]) for e in third.entries()] == [
        (BEGIN, "recover:vm:1"), (DONE, "recover:vm:1"), (BEGIN, "start:vm:1")]
    assert third.step_states()["recover:vm:1"]["event"] == DONE
    assert read(third)["entries"] == third.entries()  # the report reads what resume reads
    assert [e["seq"] for e in third.entries()] == [1, 2, 3]


@pytest.mark.parametrize("tail", [
    b'{"seq": 3, "ti',                                                   # torn last line
    b'{"seq": 3, "ti\n{"seq": 4, "time": 1.0, "event": "done", "step": "b"}\n',  # then more
    b'\xff\xfe{{{\n{"seq": 4, "time": 1.0, "event": "done", "step": "b"}\n',    # not text
    b'[1]\n{"seq": 4, "time": 1.0, "event": "done", "step": "b"}\n'])           # no entry
def test_resume_and_report_read_a_damaged_journal_alike(tmp_path, tail):
    from xe_dr.report.model import read
    run = Run.create(str(tmp_path), "test", {"pool_uuid": "p1"})
    run.append(BEGIN, "a")
    run.append(DONE, "a")
    with open(run.journal_path, "ab") as handle:
        handle.write(tail)
    again = Run.open(str(tmp_path), run.id)
    model = read(again)
    assert model["entries"] == again.entries()
    assert [e["step"] for e in again.entries()] == ["a", "a"] + (["b"] if b"\n" in tail else [])
    assert len(model["problems"]) == 1, model["problems"]


class _ShortWrites(object):
    """os.write as a full disk (or RLIMIT_FSIZE) does it: the first call writes only part of
    the line and says so, the next fails with ``errno_`` (None: it succeeds)."""

    def __init__(self, errno_):
        self.errno = errno_
        self.calls = 0
        self.real = os.write

    def __call__(self, fd, data):
        self.calls += 1
        if self.calls == 1:
            return self.real(fd, data[:len(data) // 2])
        if self.errno is not None:
            raise OSError(self.errno, os.strerror(self.errno))
        return self.real(fd, data)


@pytest.mark.parametrize("errno_", [28, 27])  # ENOSPC, EFBIG
def test_a_short_write_of_the_journal_writes_nothing(tmp_path, monkeypatch, errno_):
    from xe_dr.journal import StateWriteError
    run = Run.create(str(tmp_path), "test", {"pool_uuid": "p1"})
    run.append(BEGIN, "a")
    before = _journal_bytes(run)
    monkeypatch.setattr(os, "write", _ShortWrites(errno_))
    with pytest.raises(StateWriteError) as failure:
        run.append(DONE, "a")
    monkeypatch.undo()
    assert _journal_bytes(run) == before  # all or nothing
    line = failure.value.one_line()
    assert failure.value.exit_code == ExitCode.CONFIG
    assert os.strerror(errno_) in line  # the real reason, not a guess
    assert run.id in line and str(tmp_path) in line and "\n" not in line
    run.append(DONE, "a")  # once there is room the run goes on, after a whole line
    assert [e["event"] for e in Run.open(str(tmp_path), run.id).entries()] == [BEGIN, DONE]


def test_a_short_write_that_can_go_on_is_completed(tmp_path, monkeypatch):
    run = Run.create(str(tmp_path), "test", {"pool_uuid": "p1"})
    monkeypatch.setattr(os, "write", _ShortWrites(None))
    run.append(BEGIN, "a", vm="1")
    monkeypatch.undo()
    assert [e["data"] for e in Run.open(str(tmp_path), run.id).entries()] == [{"vm": "1"}]
