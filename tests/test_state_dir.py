"""The state directory when it is not what it should be: broken runs in it, a path that is
no directory, a full or read-only file system. Each is one line and a documented exit
status, never a traceback, and never a temporary file left behind."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.fixtures_workflow import Drill, run_cli
from xe_dr.journal import Run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one_line(err):
    assert err.count("\n") == 1 and err.startswith("xe-dr: error: "), err
    assert "internal error" not in err and "Traceback" not in err
    return err


def last_line(err):
    """The one error line, after the progress lines of what the run checked before it
    (timestamped: stderr is no terminal)."""
    lines = err.splitlines(True)
    assert lines and all(re.match(r"^xe-dr: \d\d:\d\d:\d\d ", l) for l in lines[:-1]), err
    return one_line(lines[-1])


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


# -- a full or read-only state directory ----------------------------------------------------------
#
# A tmpfs of a few pages (full) or remounted read-only, mounted in a mount namespace of the
# xe-dr processes' own (unshare --mount): nothing is mounted on the machine, and root's
# permissions cannot get around either. The driver runs the steps inside the namespace and
# copies the state directory out before the tmpfs goes away with it.

DRIVER = r'''
import json, os, shutil, subprocess, sys
spec = json.load(open(sys.argv[1]))
state = spec["state"]
if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=" + spec["size"], "tmpfs", state]):
    sys.exit(99)
filler = os.path.join(state, "filler")
if spec.get("fill"):
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    os.close(fd)
if spec.get("ro") and subprocess.call(["mount", "-o", "remount,ro", state]):
    sys.exit(99)
results = []
for step in spec["steps"]:
    if step.get("before") == "make room":
        subprocess.check_call(["mount", "-o", "remount,rw,size=64m", state])
        if os.path.exists(filler):
            os.unlink(filler)
    if step.get("before") == "make runs writable":
        subprocess.check_call(["umount", os.path.join(state, "runs")])
    runs = sorted(os.listdir(os.path.join(state, "runs"))) \
        if os.path.isdir(os.path.join(state, "runs")) else []
    argv = [runs[-1] if a == "@RUN" and runs else a for a in step["argv"]]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    out, err = proc.communicate()
    files = sorted(os.path.relpath(os.path.join(d, n), state)
                   for d, dirs, names in os.walk(state) for n in names + dirs)
    results.append({"code": proc.returncode, "out": out, "err": err, "files": files})
shutil.copytree(state, spec["copy_to"])
json.dump(results, open(spec["out"], "w"))
'''


def in_namespace(tmp_path, steps, size="4m", fill=False, ro=False, environ=None):
    """Run xe-dr command lines (lists) with the state directory on a tmpfs of ``size``
    (``fill``: filled up first; ``ro``: read-only); a step {"before": "make room"} grows it
    back and makes it writable; {"before": "make runs writable"} unmounts a read-only bind
    mount over its runs/ (:func:`read_only_after`). Returns ([result per step], the state directory copied out)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare(1) is not installed: no mount namespace for a tmpfs")
    if subprocess.call([unshare, "--mount", "true"], stderr=subprocess.DEVNULL):
        pytest.skip("cannot make a mount namespace here (not root, or no CAP_SYS_ADMIN)")
    state = tmp_path / "state"
    state.mkdir()
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "state": str(state), "size": size, "fill": fill, "ro": ro,
        "out": str(tmp_path / "results.json"), "copy_to": str(tmp_path / "state-after"),
        "steps": [dict(step, argv=[sys.executable, "-m", "xe_dr", "--state-dir",
                                   str(state)] + step["argv"]) for step in steps]}))
    env = dict(os.environ, PYTHONPATH=ROOT, **(environ or {}))
    proc = subprocess.run([unshare, "--mount", sys.executable, "-c", DRIVER, str(spec)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
                          universal_newlines=True, timeout=600)
    if proc.returncode == 99:
        pytest.skip("cannot mount a tmpfs in a mount namespace here")
    assert proc.returncode == 0, proc.stderr
    with open(str(tmp_path / "results.json")) as handle:
        return json.load(handle), str(tmp_path / "state-after")


@pytest.fixture(scope="module")
def dr_site(tmp_path_factory):
    """A lab at the DR site's hour: replication on, the mirror broken."""
    from tests.fixtures_lab import make_lab
    base = tmp_path_factory.mktemp("state-dir-lab")
    drill = Drill(make_lab(base / "lab"), str(base / "unused-state"))
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    drill.lab.mirror("break")
    return drill


@pytest.mark.parametrize("room", ["none", "for the lock file only"])
def test_failover_refused_at_once_with_a_full_state_dir(dr_site, tmp_path, room):
    drill = dr_site
    before = drill.snapshot("B")
    (result,), after = in_namespace(tmp_path, [{"argv": [
        "--xe", drill.lab.xe_path("B"), "--yes", "failover", "--test", "--all"] +
        drill.storage_args("B")}], size="64k" if room == "none" else "4k",
        fill=room == "none")
    assert result["code"] == 78, result
    assert "No space left on device" in last_line(result["err"]) and "nothing was changed" in \
        result["err"], result["err"]
    assert [f for f in result["files"] if ".tmp." in f] == []
    assert not [f for f in result["files"] if f.startswith("runs/")], result["files"]
    assert drill.snapshot("B") == before  # no claim on the pool, nothing attached


def test_failover_refused_at_once_with_a_read_only_state_dir(dr_site, tmp_path):
    drill = dr_site
    before = drill.snapshot("B")
    results, after = in_namespace(tmp_path, [
        {"argv": ["--xe", drill.lab.xe_path("B"), "--yes", "failover", "--test", "--all"] +
         drill.storage_args("B")},
        {"argv": ["--json", "runs"]}], ro=True)
    assert results[0]["code"] == 78, results[0]
    assert "Read-only file system" in last_line(results[0]["err"]), results[0]["err"]
    assert results[0]["files"] == []
    assert drill.snapshot("B") == before
    assert results[1]["code"] == 0 and json.loads(results[1]["out"])["runs"] == []


def test_a_state_dir_that_fills_mid_run_stops_it_resumably(dr_site, tmp_path):
    drill = dr_site
    storage = drill.storage_args("B")
    xe = ["--xe", drill.lab.xe_path("B"), "--yes"]
    results, after = in_namespace(tmp_path, [
        {"argv": xe + ["--json", "failover", "--test", "--all"] + storage},
        {"argv": ["runs"]},
        {"before": "make room", "argv": xe + ["--json", "failover", "--resume", "@RUN"]},
        {"argv": xe + ["cleanup", "@RUN"]}], size="16k")
    stopped, listed, resumed, cleaned = results
    assert stopped["code"] == 78, stopped
    line = one_line(stopped["err"].splitlines(True)[-1])
    assert "No space left on device" in line and "--resume" in line, stopped["err"]
    assert "internal error" not in stopped["err"] and "Traceback" not in stopped["err"]
    assert [f for f in stopped["files"] if ".tmp." in f] == []
    (run_id,) = [f.split("/")[1] for f in stopped["files"]
                 if f.startswith("runs/") and f.count("/") == 1]
    assert run_id in listed["out"] and listed["code"] == 0, listed
    # Resumed, it ends as a run of --all with plain xe does: partly failed, for the lab's
    # unprotected VMs (tests/test_workflows.py UNPROTECTED).
    assert resumed["code"] == 2, resumed
    assert json.loads(resumed["out"])["run"] == run_id
    assert cleaned["code"] == 0, cleaned
    with open(os.path.join(after, "runs", run_id, "run.json")) as handle:
        assert json.load(handle)["status"] == "cleaned up"


def test_failover_with_a_state_dir_below_a_file_changes_nothing(dr_site, tmp_path):
    drill = dr_site
    a_file = tmp_path / "file"
    a_file.write_text("x")
    before = drill.snapshot("B")
    code, out, err = run_cli(["--state-dir", str(a_file / "state"), "--xe",
                              drill.lab.xe_path("B"), "--yes", "failover", "--test", "--all"]
                             + drill.storage_args("B"))
    assert code == 78 and "not a directory" in one_line(err), err
    assert drill.snapshot("B") == before
    assert a_file.read_text() == "x"


def _journal_is_whole(path):
    """Every line of a journal is a whole entry, the last one ended."""
    with open(path, "rb") as handle:
        raw = handle.read()
    assert raw.endswith(b"\n"), raw[-200:]
    for line in raw.split(b"\n")[:-1]:
        entry = json.loads(line.decode("utf-8"))
        assert entry["event"] and entry["step"]
    return raw


def _xe_wrapper(tmp_path, real, script=""):
    """An xe for the lab that lifts the file size limit for itself (the lab's files are
    not under test) and runs ``script`` after each call, with the call's arguments."""
    path = tmp_path / "xe-B"
    path.write_text("#!/bin/sh\nulimit -S -f unlimited\n\"%s\" \"$@\"\nrc=$?\n%s\nexit $rc\n"
                    % (real, script))
    path.chmod(0o755)
    return str(path)


def test_a_journal_that_reaches_the_file_size_limit_stays_whole(dr_site, tmp_path):
    """RLIMIT_FSIZE cuts the journal's write short, mid-line: xe-dr stops with one line (the
    real reason, the run, the state directory, the command that goes on), the journal holds
    whole lines only, and the run resumes once the limit is gone (issue 14, finding 4)."""
    import resource
    drill = dr_site
    state = str(tmp_path / "state")
    xe = _xe_wrapper(tmp_path, drill.lab.xe_path("B"))
    argv = [sys.executable, "-m", "xe_dr", "--state-dir", state, "--xe", xe, "--yes"]

    def limited():
        # The journal is the first of the run's files to grow past it (run.json is smaller,
        # plan.json comes later): a few KiB is the middle of attaching the storage.
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    stopped = subprocess.run(argv + ["failover", "--test", "--all"] + drill.storage_args("B"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                             universal_newlines=True, preexec_fn=limited, timeout=600,
                             env=dict(os.environ, PYTHONPATH=ROOT))
    (run_id,) = os.listdir(os.path.join(state, "runs"))
    assert stopped.returncode == 78, stopped
    last = stopped.stderr.splitlines(True)[-1]
    assert "Traceback" not in stopped.stderr and "internal error" not in stopped.stderr
    assert last.startswith("xe-dr: error: cannot write the journal") and \
        os.strerror(27) in last, last  # EFBIG: File too large, not a guess
    assert run_id in last and state in last
    assert "'xe-dr failover --resume %s'" % run_id in last
    assert len(_journal_is_whole(os.path.join(state, "runs", run_id, "journal.jsonl"))) <= 4096
    assert [n for n in os.listdir(os.path.join(state, "runs", run_id)) if ".tmp." in n] == []

    resumed = run_cli(["--state-dir", state, "--xe", drill.lab.xe_path("B"), "--yes", "--json",
                       "failover", "--resume", run_id])
    assert resumed[0] == 2, resumed  # partly failed, for the lab's unprotected VMs
    _journal_is_whole(os.path.join(state, "runs", run_id, "journal.jsonl"))
    cleaned = run_cli(["--state-dir", state, "--xe", drill.lab.xe_path("B"), "--yes",
                       "cleanup", run_id])
    assert cleaned[0] == 0, cleaned


def test_a_state_dir_made_read_only_mid_run_stops_it_resumably(dr_site, tmp_path):
    """The runs directory turns read-only right after drtask-create (a read-only bind mount
    made by the lab's xe, in the test's mount namespace): the run stops with one line and
    nothing torn, and resumes once it is writable."""
    drill = dr_site
    xe = _xe_wrapper(tmp_path, drill.lab.xe_path("B"), script=(
        'if [ "$1" = drtask-create ]; then runs="$XE_DR_TEST_STATE/runs"; '
        'mount --bind "$runs" "$runs" && mount -o remount,bind,ro "$runs"; fi'))
    storage = drill.storage_args("B")
    results, after = in_namespace(tmp_path, [
        {"argv": ["--xe", xe, "--yes", "failover", "--test", "--all"] + storage},
        {"before": "make runs writable", "argv": ["--xe", drill.lab.xe_path("B"), "--yes",
                                                  "--json", "failover", "--resume", "@RUN"]},
        {"argv": ["--xe", drill.lab.xe_path("B"), "--yes", "cleanup", "@RUN"]}],
        size="64m", environ={"XE_DR_TEST_STATE": str(tmp_path / "state")})
    stopped, resumed, cleaned = results
    (run_id,) = [f.split("/")[1] for f in stopped["files"]
                 if f.startswith("runs/") and f.count("/") == 1]
    assert stopped["code"] == 78, stopped
    last = stopped["err"].splitlines(True)[-1]
    assert last.startswith("xe-dr: error: cannot write the journal") and \
        "Read-only file system" in last and run_id in last, stopped["err"]
    assert "then resume it with 'xe-dr failover --resume %s'" % run_id in last, last
    assert "Traceback" not in stopped["err"]
    assert [f for f in stopped["files"] if ".tmp." in f] == []
    assert resumed["code"] == 2, resumed
    assert cleaned["code"] == 0, cleaned
    raw = _journal_is_whole(os.path.join(after, "runs", run_id, "journal.jsonl"))
    entries = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    attach = [e for e in entries if e["step"].startswith("attach:")]
    assert [e["event"] for e in attach[:2]] == ["begin", "done"]
    assert attach[1]["data"].get("reconciled"), attach  # the resume found what it attached
