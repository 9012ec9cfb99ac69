"""``report -o`` and ``runbook -o`` write the file the user named: a regular file or a new path
is replaced whole (an existing file keeps its mode), a device or a fifo is written to and
stays what it is, a symlink is followed to its target, a directory is refused; nothing is
left behind when the write fails."""

import io
import json
import os
import stat
import threading

import pytest

from tests.fixtures_lab import make_lab
from tests.fixtures_workflow import Drill
from xe_dr.cli import main
from xe_dr.cli.environment import Environment

RUN_ID = "20260101-000000-test-beef"


@pytest.fixture
def state(tmp_path):
    """A state directory with one finished run (no lab needed to report it)."""
    directory = tmp_path / "state" / "runs" / RUN_ID
    directory.mkdir(parents=True)
    (directory / "run.json").write_text(json.dumps({
        "id": RUN_ID, "kind": "test", "status": "succeeded", "created": 1767225600.0,
        "ended": 1767225700.0, "user": "root", "client_host": "admin",
        "target": {"pool_uuid": "p-1", "pool_name": "Site B"}, "argv": ["xe-dr"],
        "options": {}}))
    (directory / "journal.jsonl").write_text(json.dumps({
        "seq": 1, "time": 1767225601.0, "event": "begin", "step": "attach:lun",
        "data": {"description": "attach SR x"}}) + "\n")
    return str(tmp_path / "state")


def xedr(state, *argv):
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={}, stdin_isatty=False, stdout_isatty=False,
                      stderr_isatty=False)
    code = main(["--state-dir", state] + list(argv), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def report_to(state, path):
    return xedr(state, "report", RUN_ID, "-o", str(path))


def leftovers(directory):
    return [n for n in os.listdir(str(directory)) if ".tmp." in n]


def test_a_new_file_gets_the_usual_mode(state, tmp_path):
    target = tmp_path / "new.txt"
    code, out, err = report_to(state, target)
    assert code == 0, err
    assert target.read_text(encoding="utf-8").startswith("xe-dr report:")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert leftovers(tmp_path) == []


def test_an_existing_file_keeps_its_mode(state, tmp_path):
    target = tmp_path / "kept.txt"
    target.write_text("old")
    target.chmod(0o640)
    code, _, err = report_to(state, target)
    assert code == 0, err
    assert target.read_text(encoding="utf-8").startswith("xe-dr report:")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_a_symlink_is_followed_to_its_target(state, tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    real.chmod(0o600)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    code, _, err = report_to(state, link)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(str(link)) == str(real)
    assert real.read_text(encoding="utf-8").startswith("xe-dr report:")
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    # a dangling symlink: its target is created
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "made.txt")
    assert report_to(state, dangling)[0] == 0
    assert dangling.is_symlink()
    assert (tmp_path / "made.txt").read_text(encoding="utf-8").startswith("xe-dr report:")


def test_a_fifo_is_written_to_not_replaced(state, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(str(fifo))
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.daemon = True
    reader.start()
    code, _, err = report_to(state, fifo)
    reader.join(60)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and received[0].decode("utf-8").startswith("xe-dr report:")
    assert leftovers(tmp_path) == []


def test_dev_stdout_on_a_pipe_is_written_to(state):
    """-o /dev/stdout in a pipeline or under cron: /dev/fd/N of a pipe links to
    'pipe:[inode]', which names no file; the pipe is written to."""
    read_end, write_end = os.pipe()
    try:
        code, out, err = report_to(state, "/dev/fd/%d" % write_end)
        os.close(write_end)
        write_end = None
        received = os.read(read_end, 1 << 16)
    finally:
        os.close(read_end)
        if write_end is not None:
            os.close(write_end)
    assert code == 0, err
    assert received.decode("utf-8").startswith("xe-dr report:")


def _character_device(tmp_path):
    """A /dev/null of our own (as root), else /dev/null itself: written to, never replaced."""
    path = tmp_path / "null"
    try:
        os.mknod(str(path), stat.S_IFCHR | 0o666, os.makedev(1, 3))
        return path
    except (OSError, AttributeError):
        return "/dev/null"


def test_a_device_stays_a_device(state, tmp_path):
    device = _character_device(tmp_path)
    before = os.stat(str(device))
    code, out, err = report_to(state, device)
    assert code == 0, err
    after = os.stat(str(device))
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert stat.S_IMODE(after.st_mode) == stat.S_IMODE(before.st_mode)
    assert leftovers(os.path.dirname(str(device))) == []


def test_a_directory_is_refused_in_one_line(state, tmp_path):
    before = sorted(os.listdir(str(tmp_path)))
    code, out, err = report_to(state, tmp_path)
    assert code == 64 and out == ""
    assert err.count("\n") == 1 and "is a directory" in err, err
    assert sorted(os.listdir(str(tmp_path))) == before


def test_a_missing_directory_is_one_line_and_nothing_is_left(state, tmp_path):
    code, out, err = report_to(state, tmp_path / "no" / "such" / "file.txt")
    assert code == 64 and out == ""
    assert err.count("\n") == 1 and "cannot write" in err, err
    assert not (tmp_path / "no").exists()


# -- runbook -o -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    base = tmp_path_factory.mktemp("runbook-out")
    return Drill(make_lab(base / "lab"), str(base / "state"))


def runbook_to(drill, path):
    return drill.xedr("B", "runbook", "--all", "-o", str(path), *drill.storage_args("B"))


def test_runbook_new_file_is_0700_and_an_existing_one_keeps_its_mode(drill, tmp_path):
    new = tmp_path / "new.sh"
    result = runbook_to(drill, new)
    assert result.code == 0, result
    assert stat.S_IMODE(new.stat().st_mode) == 0o700
    assert new.read_text(encoding="utf-8").startswith("#!")
    existing = tmp_path / "existing.sh"
    existing.write_text("old")
    existing.chmod(0o750)
    assert runbook_to(drill, existing).code == 0
    assert stat.S_IMODE(existing.stat().st_mode) == 0o750
    assert existing.read_text(encoding="utf-8").startswith("#!")
    assert leftovers(tmp_path) == []


def test_runbook_to_a_device_and_through_a_symlink(drill, tmp_path):
    device = _character_device(tmp_path)
    before = os.stat(str(device))
    result = runbook_to(drill, device)
    assert result.code == 0, result
    after = os.stat(str(device))
    assert stat.S_ISCHR(after.st_mode) and stat.S_IMODE(after.st_mode) == \
        stat.S_IMODE(before.st_mode)
    real = tmp_path / "real.sh"
    real.write_text("")
    real.chmod(0o644)
    link = tmp_path / "link.sh"
    link.symlink_to(real)
    assert runbook_to(drill, link).code == 0
    assert link.is_symlink() and real.read_text(encoding="utf-8").startswith("#!")
    assert stat.S_IMODE(real.stat().st_mode) == 0o644
