"""The two confirmations of a real failover at a real terminal: xe-dr as a process on a
pseudo-terminal, as an administrator runs it, answering each question as it comes."""

import os
import pty
import select
import subprocess
import sys
import time

from tests.fixtures_remote import ROOT
from tests.test_safety_runs import disaster, runs, vm_states

QUESTION = b"[yes/no] "


def read_until(fd, needle, proc, timeout=120.0):
    """What the terminal shows until ``needle`` appears (a generous bound against a hang)."""
    seen = b""
    deadline = time.time() + timeout
    while needle not in seen:
        assert time.time() < deadline, "no %r on the terminal:\n%s" % (needle, seen[-2000:])
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other end closed: the process ended
                chunk = b""
            if not chunk:
                raise AssertionError("xe-dr ended (%s) before %r:\n%s" % (
                    proc.poll(), needle, seen[-2000:].decode("utf-8", "replace")))
            seen += chunk
    return seen


def test_a_real_failover_at_a_terminal_asks_twice(drill):
    disaster(drill)
    argv = [sys.executable, "-m", "xe_dr", "--xe", drill.lab.xe_path("B"), "--state-dir",
            drill.state_dir, "failover", "--all"] + drill.storage_args("B")
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                            env=dict(os.environ, PYTHONPATH=ROOT, NO_COLOR="1"))
    os.close(slave)
    try:
        first = read_until(master, QUESTION, proc)
        assert b"Attach here the SRs of LUN(s)" in first
        assert b"source not checked" in first
        os.write(master, b"yes\n")
        second = read_until(master, QUESTION, proc)
        assert b"Recover into pool" in second
        os.write(master, b"yes\n")
        assert proc.wait(timeout=300) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert runs(drill, "B")[-1]["status"] == "succeeded"
    assert vm_states(drill, "B").get("web-01") == "running"
