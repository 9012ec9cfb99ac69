"""Progress as an operator sees it: one live line on a terminal that nothing is ever written
onto, plain timestamped lines elsewhere (xe_dr/cli/progress.py); and the phases of a whole
failover, in-process and on a real pseudo-terminal."""

import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import time

import pytest

from tests.conftest import slow
from tests.fixtures_remote import ROOT
from tests.test_safety_runs import protect
from xe_dr.cli.environment import Environment
from xe_dr.cli.output import Output
from xe_dr.cli.progress import Progress

# The phases of a test failover that attaches storage and starts its VMs paused, in order.
PHASES = ["probe", "attach", "scan", "prechecks", "recover", "start paused"]
LIVE = re.compile(r"^(\S.*?) \d+/\d+(, \d+ failed)?.*  \d\d:\d\d")


def screen(raw):
    """The rows a terminal shows after ``raw``: carriage return to column 0, ESC [K erases to
    the end of the row, a newline moves to the next row."""
    rows, row, col, i = [], [], 0, 0
    while i < len(raw):
        if raw.startswith("\x1b[K", i):
            del row[col:]
            i += 3
            continue
        char = raw[i]
        if char == "\r":
            col = 0
        elif char == "\n":
            rows.append("".join(row))
            row, col = [], 0
        else:
            if col < len(row):
                row[col] = char
            else:
                row.append(char)
            col += 1
        i += 1
    if row:
        rows.append("".join(row))
    return rows


def frames(raw):
    """Every state of the live line drawn (what follows an erase, up to the next one, with no
    newline: a line written above the live one ends with its newline)."""
    return [part for part in raw.split("\r\x1b[K")[1:] if part and "\n" not in part]


def assert_clean(raw, width=80):
    """No line was written onto the live line, and none is left on the screen."""
    rows = screen(raw)
    for row in rows:
        assert "xe-dr:" not in row or row.startswith("xe-dr:"), row  # glued
        assert not LIVE.match(row), row  # a live line left behind
    assert all(len(f) < width for f in frames(raw)), max(frames(raw), key=len)
    return rows


def progress(tty, json_mode=False, verbosity=0, environ=None):
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ=environ or {}, stdin_isatty=False, stdout_isatty=False,
                      stderr_isatty=tty, clock=lambda: 1000.0)
    return Progress(Output(env, json_mode=json_mode, verbosity=verbosity), clock=iter(
        [0.0] + [65.0] * 100).__next__), env


def drive(p):
    p.phase("recover", 3, "recover:")
    p.step("begin", "recover:vm:1", "recover vm web-01")
    p.step("done", "recover:vm:1", "recover vm web-01")
    p.step("begin", "tag:vm:1", "tag")       # not a recover step: not counted
    p.step("done", "tag:vm:1", "tag")
    p.step("failed", "recover:vm:2", "recover vm db-01: VM_REQUIRES_SR")
    p.close()


def test_a_terminal_gets_one_live_line_rewritten_in_place():
    p, env = progress(tty=True)
    drive(p)
    err = env.stderr.getvalue()
    assert "recover 1/3  01:05  tag" in frames(err)
    # Once a step ends it is no longer shown as the one being worked on.
    assert frames(err)[-1] == "recover 1/3, 1 failed  01:05"
    rows = assert_clean(err)
    assert rows == ["xe-dr: FAILED recover vm db-01: VM_REQUIRES_SR"]


def test_a_note_from_another_thread_goes_above_the_live_line():
    p, env = progress(tty=True)
    p.phase("recover", 2, "recover:")
    p.step("begin", "recover:vm:1", "recover vm web-01")
    p.output.note("order group 0: 1 VM(s)")  # any line written through Output
    p.output.warning("something")
    p.step("done", "recover:vm:1", "")
    p.close()
    rows = assert_clean(env.stderr.getvalue())
    assert rows[:2] == ["xe-dr: order group 0: 1 VM(s)", "xe-dr: warning: something"]


def test_phases_side_by_side_and_a_phase_given_more_steps():
    p, env = progress(tty=True)
    p.phase("recover", 1, "recover:")
    p.step("begin", "recover:vm:1", "recover vm a")
    p.step("done", "recover:vm:1", "")
    p.phase("recover", 1, "recover:")  # a second wave: the same phase, one more to do
    p.phase("start", 2, "start:")      # beside it
    p.step("begin", "recover:vm:2", "recover vm b")
    p.step("begin", "start:vm:1", "start vm a")
    err = env.stderr.getvalue()
    assert frames(err)[-1] == "recover 1/2 | start 0/2  01:05  start vm a (+1 more)"
    p.step("done", "recover:vm:2", "")
    p.step("done", "start:vm:1", "")
    p.close()
    rows = assert_clean(env.stderr.getvalue())
    assert rows == ["xe-dr: recover: 2/2 done"]  # start was cut short: no line


def test_a_phase_that_ends_leaves_its_counts():
    p, env = progress(tty=True)
    p.phase("recover", 3, "recover:")
    for n, kind in enumerate(("done", "failed", "left")):
        p.step("begin", "recover:vm:%d" % n, "recover vm %d" % n)
        p.step(kind, "recover:vm:%d" % n, "recover vm %d: VM_REQUIRES_SR" % n)
    p.phase("start", 0, "start:")
    p.close()
    assert assert_clean(env.stderr.getvalue()) == [
        "xe-dr: FAILED recover vm 1: VM_REQUIRES_SR",
        "xe-dr: recover: 1/3 done, 1 failed, 1 left out", "xe-dr: start: 0/0 done"]


def test_a_question_erases_the_live_line_and_it_comes_back_after():
    p, env = progress(tty=True)
    p.phase("attach", 1, "lun:")

    def ask(question):
        env.stderr.write(question)
        return True

    assert p.holding(ask)("Go on? [yes/no] ")
    err = env.stderr.getvalue()
    before, after = err.split("Go on? [yes/no] ")
    assert screen(before) == []  # the live line is erased before the question
    assert frames(after)[-1].startswith("attach 0/1")
    p.close()


def test_the_live_line_fits_the_terminal():
    p, env = progress(tty=True, environ={"COLUMNS": "40"})
    p.phase("attach", 1, "lun:")
    p.step("begin", "attach:1", "attach SR(s) " + "x" * 100)
    p.close()
    assert_clean(env.stderr.getvalue(), width=40)


def test_off_a_terminal_plain_timestamped_lines_and_nothing_animated():
    p, env = progress(tty=False)
    drive(p)
    err = env.stderr.getvalue()
    assert "\x1b" not in err and "\r" not in err
    lines = err.splitlines()
    assert any(line.endswith("begin recover vm web-01") for line in lines)
    assert all(line.startswith("xe-dr: ") for line in lines)
    assert lines[0].split()[1].count(":") == 2  # HH:MM:SS
    assert lines[-1].endswith("FAILED recover vm db-01: VM_REQUIRES_SR")


def test_nothing_animated_with_json_quiet_or_no_color():
    for options in ({"json_mode": True}, {"verbosity": -1}, {"environ": {"NO_COLOR": "1"}}):
        p, env = progress(tty=True, **options)
        drive(p)
        assert "\r" not in env.stderr.getvalue(), options


# -- a whole failover ------------------------------------------------------------------------

def phases_shown(raw):
    """{phase: the counts its live line showed}."""
    shown = {}
    for frame in frames(raw):
        for part in frame.split("  ")[0].split(" | "):
            name, _, counts = part.rpartition(" ")
            shown.setdefault(name, []).append(counts)
    return shown


def assert_every_phase(raw):
    shown = phases_shown(raw)
    assert [p for p in PHASES if p in shown] == PHASES, shown
    rows = assert_clean(raw)
    ended = [r for r in rows if r.startswith("xe-dr: ") and r.endswith(" done")]
    assert [r.split(": ")[1] for r in ended if r.split(": ")[1] in PHASES] == PHASES, rows
    for name in PHASES:
        done = [r for r in ended if r.startswith("xe-dr: %s: " % name)][0]
        total = done.split(": ")[2].split("/")[1].split()[0]
        assert "0/%s" % total in shown[name] and int(total) > 0, (name, shown[name])
    return rows


def test_a_failover_at_a_terminal_shows_every_phase_and_nothing_glued(drill):
    protect(drill)
    drill.lab.mirror("break")
    result = drill.xedr("B", "failover", "--test", "--all", "--power", "paused",
                        *drill.storage_args("B"), tty=True)
    assert result.code == 0, result
    rows = assert_every_phase(result.err)
    assert "xe-dr: order group 0: 1 VM(s)" in rows


def test_a_failover_off_a_terminal_is_plain_lines(drill):
    protect(drill)
    drill.lab.mirror("break")
    result = drill.xedr("B", "failover", "--test", "--all", "--power", "paused",
                        *drill.storage_args("B"))
    assert result.code == 0, result
    assert "\r" not in result.err and "\x1b" not in result.err
    lines = result.err.splitlines()
    assert all(re.match(r"^xe-dr: \d\d:\d\d:\d\d \S", line) for line in lines), lines
    text = [line.split(" ", 2)[2] for line in lines]
    assert [t.split(":")[0] for t in text if t.endswith(" to do")] == PHASES
    assert [t.split(":")[0] for t in text if t.endswith(" done")] == PHASES


def _run_on_a_terminal(argv, columns=80):
    """xe-dr as a process on a pseudo-terminal of ``columns``: (exit status, what it wrote)."""
    import fcntl
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    os.close(slave)
    seen = b""
    deadline = time.time() + 300  # against a hang only
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the other end closed: the process ended
                    chunk = b""
                if not chunk:
                    break
                seen += chunk
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, seen.decode("utf-8", "replace")


@slow
def test_a_failover_on_a_pseudo_terminal_at_a_visible_cost(drill):
    """At a cost factor where each phase takes a while (xe_dr/lab/README.md, cost model), a
    real terminal sees each phase with its counts, every note on a line of its own, and the
    live line never wider than the terminal."""
    protect(drill)
    drill.lab.mirror("break")
    drill.lab.set_cost_factor(0.05)
    argv = [sys.executable, "-m", "xe_dr", "--xe", drill.lab.xe_path("B"), "--state-dir",
            drill.state_dir, "failover", "--test", "--all", "--power", "paused"] + \
        drill.storage_args("B")
    code, raw = _run_on_a_terminal(argv, columns=80)
    assert code == 0, raw[-3000:]
    rows = assert_every_phase(raw.replace("\r\n", "\n"))
    assert any(r.startswith("Test failover (run ") for r in rows), rows
    # Every phase was drawn while it was under way, not only once it had ended.
    shown = phases_shown(raw)
    assert all(len(set(shown[name])) > 1 for name in PHASES), shown
