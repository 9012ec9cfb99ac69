"""Hostile input (issue 7): a CHAP password never leaks.

The lab's site-B array portal wants CHAP. ``probe`` and ``failover`` get the password with
``--chap-password-file`` and ``--chap-password-env`` and run over the real sshd on this
machine, so that both ends (the ssh client, sshd, the remote shell, xe) are processes here;
a thread reads every /proc/*/cmdline over and over while they run. The password (a unique
token inside shell metacharacters) must be in no process's argv, and in none of: xe-dr's
output and -vv log, the run's files (run.json, journal, report.json, plan.json), the
reports in every format, the runbook, the lab's call log, sshd's log.

(The pool databases of the lab hold it, as xapi's do: the password goes into a secret.)
"""

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

from tests.fixtures_lab import make_lab
from tests.fixtures_remote import run_ids, run_xedr
from tests.fixtures_workflow import Drill

# The slow tier (tests/conftest.py): whole runs over a real sshd, watching every process list.
pytestmark = pytest.mark.slow

CHAP_USER = "drchap"
IQN_B = "iqn.2001-05.com.labarray:site-b"
PORTAL_B = "10.0.2.50"


class ArgvWatch(object):
    """A thread reading /proc/*/cmdline of every process until stopped; ``seen`` holds
    (pid, cmdline) of those that held ``needle``."""

    def __init__(self, needle):
        self.needle = needle.encode("utf-8")
        self.seen = []
        self.scans = 0
        self._stop = threading.Event()
        self.ignored = set()  # the planted process: a scan under way may still see it
        self._thread = threading.Thread(target=self._watch)
        self._thread.daemon = True

    def _watch(self):
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as handle:
                        cmdline = handle.read()
                except (IOError, OSError):
                    continue  # ended meanwhile
                if self.needle in cmdline and int(pid) not in self.ignored:
                    self.seen.append((int(pid), cmdline))
            self.scans += 1

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()


@pytest.fixture
def secret():
    token = "tok%s" % uuid.uuid4().hex
    # The token inside characters a shell, xe's argument splitting or a log line could mangle.
    return token, "p'$(id)`;,&=\" %s !#*" % token


@pytest.fixture
def watched(secret):
    """The watch over every argv on the machine, checked first to see a planted process."""
    token, _ = secret
    watch = ArgvWatch(token).start()
    planted = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", token])
    try:
        deadline = time.time() + 60  # only a hang: it is killed as soon as it is seen
        while not any(pid == planted.pid for pid, _ in watch.seen):
            assert time.time() < deadline, "the watch does not see a process's argv"
            time.sleep(0.01)
    finally:
        watch.ignored.add(planted.pid)
        planted.kill()
        planted.wait()
    del watch.seen[:]
    yield watch
    watch.stop()


def holds(path, needle):
    with open(path, "rb") as handle:
        return needle.encode("utf-8") in handle.read()


def files_holding(root, needle, skip=()):
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(directory, d) not in skip]
        for name in files:
            path = os.path.join(directory, name)
            try:
                with open(path, "rb") as handle:
                    if needle.encode("utf-8") in handle.read():
                        found.append(path)
            except (IOError, OSError):
                continue
    return found


# (openssh only, for CI's 30 minutes: paramiko's runner keeps secrets out of argv as its
# own tests show, tests/test_runner_ssh.py)
@pytest.mark.parametrize("kind", ["openssh"])
def test_the_chap_password_reaches_xe_but_no_argv_log_journal_report_or_runbook(
        tmp_path, kind, secret, watched, sshd, ssh_options):
    token, password = secret
    transport = ssh_options(kind)
    lab = make_lab(str(tmp_path / "lab"), chap_user=CHAP_USER, chap_password=password,
                   chap_sites=["B"])
    lab.enable_replication()
    lab.mirror("break")
    state = str(tmp_path / "state")
    password_file = tmp_path / "chap-password"
    password_file.write_text(password + "\n")
    by_file = ["--chap-user", CHAP_USER, "--chap-password-file", str(password_file)]
    by_env = ["--chap-user", CHAP_USER, "--chap-password-env", "XE_DR_TEST_CHAP"]
    env = {"XE_DR_TEST_CHAP": password}
    storage = Drill(lab, state).storage_args("B")
    results = []

    def xedr(args, **kw):
        result = run_xedr(lab, state, ["-vv"] + args, transport=transport, **kw)
        results.append(result)
        return result

    iqns = xedr(["probe", "--target", PORTAL_B] + by_file)
    assert iqns.code == 0, iqns
    assert [t["target_iqn"] for t in iqns.json["probes"][0]["items"]
            if not t["wildcard"]] == [IQN_B]
    luns = xedr(["probe", "--target", PORTAL_B, "--iqn", IQN_B] + by_env, env=env)
    assert luns.code == 0, luns
    assert luns.json["probes"][0]["stage"] == "luns"
    failover = xedr(["failover", "--test", "--vm", "mon-01", "--vm", "cache-01"] + storage +
                    by_env, env=env)
    assert failover.code == 0, failover  # two VMs on mirrored SRs: both recovered
    assert any(i.get("recovered_vms") for i in failover.json["items"])
    run_id = failover.json["run"]
    runbook_path = str(tmp_path / "runbook.sh")
    runbook = xedr(["runbook", "--test", "--vm", "queue-01", "-o", runbook_path] + storage +
                   by_file)
    assert runbook.code == 0, runbook
    for fmt in ("text", "markdown", "html", "json"):
        results.append(run_xedr(lab, state, ["report", run_id, "--format", fmt],
                                json_output=False))
    cleanup = xedr(["cleanup", run_id])
    assert cleanup.code == 0, cleanup
    watched.stop()

    # The password did reach xe, only ever in its environment (XE_EXTRA_ARGS): given as such
    # to sr-probe/drtask-create, or to secret-create for a chappassword_secret.
    calls = lab.call_log()
    through_env = [c["command"] for c in calls
                   if any(a.endswith("=<redacted>") for a in c.get("extra_args", ()))]
    assert through_env, "no xe call got the password in XE_EXTRA_ARGS"
    chap_calls = [c["command"] for c in calls
                  if "device-config:chapuser=" + CHAP_USER in c["args"]]
    assert "sr-probe" in chap_calls and "drtask-create" in chap_calls, chap_calls

    assert watched.scans > 50, watched.scans
    assert watched.seen == [], "the CHAP password was in a process's argv: %r" % (
        watched.seen[:3],)
    for result in results:
        assert token not in result.out and token not in result.err, result
    assert files_holding(state, token) == []
    assert not holds(runbook_path, token)
    assert not holds(os.path.join(lab.root, "calls.jsonl"), token)
    assert token not in sshd.log_tail(10 ** 7)
    # Nothing else in the lab's folder but the pools' databases and the LUNs' copies of them.
    assert files_holding(lab.root, token, skip=(
        os.path.join(lab.root, "state"), os.path.join(lab.root, "array"))) == []
    assert run_ids(state)
