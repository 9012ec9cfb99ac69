"""The state directory when it is not what it should be: broken runs in it, a path that is
no directory, a full or read-only file system. Each is one line and a documented exit
status, never a traceback, and never a temporary file left behind."""

import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.fixtures_workflow import Drill
from xe_dr.cli import main
from xe_dr.cli.environment import Environment
from xe_dr.journal import Run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(argv, environ=None):
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ=environ or {}, stdin_isatty=False, stdout_isatty=False,
                      stderr_isatty=False)
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def one_line(err):
    assert err.count("\n") == 1 and err.startswith("xe-dr: error: "), err
    assert "internal error" not in err and "Traceback" not in err
    return err


# -- broken runs --------------------------------------------------------------------------------

BROKEN = {
    "20260101-000001-test-0001": "",                                   # empty
    "20260101-000002-test-0002": "[1, 2]",                             # not an object
    "20260101-000003-test-0003": '{"kind": 5, "status": null}',        # wrong types
    "20260101-000004-test-0004": '{"id": "x", "kind": "test", "sta',   # torn
    "20260101-000005-test-0005": b"\xff\xfe\x00garbage",               # not text
    "20260101-000006-test-0006": '{"kind": "test", "status": "running", "target": "B", '
                                 '"created": 1}',                      # target not an object
    "20260101-000007-test-0007": None,                                 # no run.json at all
}


@pytest.fixture
def broken_state(tmp_path):
    state = str(tmp_path / "state")
    good = Run.create(state, "test", {"pool_uuid": "p-1", "pool_name": "Site B"},
                      now=1767225600.0)
    good.set_status("succeeded", exit_code=0, ended=1767225700.0)
    for run_id, content in BROKEN.items():
        directory = os.path.join(state, "runs", run_id)
        os.makedirs(directory)
        if content is None:
            continue
        with open(os.path.join(directory, "run.json"), "wb") as handle:
            handle.write(content if isinstance(content, bytes) else content.encode("utf-8"))
    return state, good.id


def test_runs_lists_the_others_and_names_each_broken_run(broken_state):
    state, good = broken_state
    code, out, err = run_cli(["--state-dir", state, "runs"])
    assert code == 0, err
    assert good in out and "succeeded" in out
    assert "internal error" not in err
    lines = err.splitlines()
    for run_id in BROKEN:
        assert run_id not in out
        (line,) = [l for l in lines if run_id in l]
        assert line.startswith("xe-dr: warning: ") and "run.json" in line, line
    code, out, err = run_cli(["--state-dir", state, "--json", "runs"])
    data = json.loads(out)
    assert code == 0 and [r["id"] for r in data["runs"]] == [good]
    assert sorted(b["id"] for b in data["broken"]) == sorted(BROKEN)
    assert all(b["problem"] for b in data["broken"])


def test_report_last_is_the_newest_readable_run(broken_state):
    state, good = broken_state
    code, out, err = run_cli(["--state-dir", state, "--json", "report", "last"])
    assert code == 0, err
    assert json.loads(out)["run"]["id"] == good


@pytest.mark.parametrize("run_id", sorted(BROKEN))
def test_report_of_a_broken_run_says_what_is_wrong(broken_state, run_id):
    state, _ = broken_state
    for where in (run_id, os.path.join(state, "runs", run_id)):
        code, out, err = run_cli(["--state-dir", state, "report", where])
        if BROKEN[run_id] is None and where != run_id:  # a directory without run.json
            assert code == 64 and "not a run directory" in one_line(err)
            continue
        assert code == 78 and out == "", err
        one_line(err)
        assert run_id in err and "run.json" in err, err
    # and a resume or a cleanup of it refuses the same way, before touching any pool
    code, _, err = run_cli(["--state-dir", state, "--xe", "/nonexistent/xe", "failover",
                            "--resume", run_id])
    assert code == 78 and run_id in one_line(err), err


# -- the state directory itself -------------------------------------------------------------------

def test_a_state_dir_that_is_a_file_is_a_configuration_error(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for state in (str(a_file), str(a_file / "below")):
        for argv in (["runs"], ["report", "last"], ["--json", "runs"]):
            code, out, err = run_cli(["--state-dir", state] + argv)
            assert code == 78 and out == "", (argv, err)
            assert "not a directory" in one_line(err) and state in err, err
    code, _, err = run_cli(["runs"], {"XE_DR_STATE_DIR": str(a_file)})
    assert code == 78 and "not a directory" in one_line(err)
    assert a_file.read_text() == "x"
