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
    assert files["problems"] == ["1 journal line(s) could not be read and were left out"]


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
