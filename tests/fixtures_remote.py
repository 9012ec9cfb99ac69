"""Helpers for the fault and hostile-input suites (tests/test_faults*.py, tests/test_hostile*.py):
xe-dr as a real process that can be cut off, darkened or raced, over the test sshd or on this
machine; waiting for a lab fault to fire; which xe commands change a pool; a scripted xe in
front of the lab's.

    proc = start_xedr(lab, state_dir, ["failover", "--test", ...], transport=ssh_options)
    wait_fired(lab, rule, proc)        # the slow call the rule delays is under way now
    sshd.kill_children()               # ... so the cut lands inside it
    result = proc.finish()             # CliResult(code, out, err)

``ssh_options(kind)`` (a fixture) gives the global options that reach the session's sshd
(``-H root@127.0.0.1:PORT --ssh KIND -i KEY --known-hosts FILE``) with a hermetic client.
"""

import binascii
import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from xe_dr.lab import faults

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# xe commands that only read; anything else (and host-call-plugin, unless its function is one
# of READ_PLUGIN_FUNCTIONS) may change the pool.
READ_SUFFIXES = ("-list", "-param-get", "-param-list", "-assert-can-be-recovered",
                 "-get-SRs-required-for-recovery")
READ_COMMANDS = ("sr-probe", "help", "pool-dump-database")
READ_PLUGIN_FUNCTIONS = ("version", "inventory", "metadata_state")


def is_write(command, args=()):
    """Whether an xe call (its command word and the arguments after it) may change a pool."""
    if command.endswith(READ_SUFFIXES) or command in READ_COMMANDS:
        return False
    if command == "host-call-plugin":
        return not any(a == "fn=" + fn for a in args for fn in READ_PLUGIN_FUNCTIONS)
    return True


def is_lock_call(argv):
    """Whether an xe call (argv from its command word) only claims or releases xe-dr's own
    lock on the pool (xe_dr/dr/lock.py): a run refused or stopped still releases its claim,
    which changes nothing else."""
    return bool(argv) and argv[0] in ("pool-param-add", "pool-param-remove") and any(
        a.startswith("xe-dr-lock=") or a == "param-key=xe-dr-lock" for a in argv[1:])


def writes(calls):
    """The lab call-log entries (dicts) that may have changed a pool."""
    return [c for c in calls if is_write(c["command"], c.get("args") or ())]


def count(calls, command, uuid=None):
    """How many calls of ``command`` (on the object ``uuid`` when given) the log holds."""
    return len([c for c in calls if c["command"] == command and
                (uuid is None or "uuid=" + uuid in (c.get("args") or ()))])


def one_error_line(result):
    """The one line a failed command prints on stderr (``xe-dr: error: ...``), checked to be
    alone, with no traceback and no 'internal error' (a defect's message)."""
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result
    assert lines[0].startswith("xe-dr: error: "), result
    assert "Traceback" not in result.err and "internal error" not in result.err, result
    return lines[0]


# -- xe-dr as a process ----------------------------------------------------------------------

class XeDrProcess(object):
    """A running ``python -m xe_dr``; :meth:`finish` waits and returns a CliResult."""

    def __init__(self, argv, env, terminal=False):
        """``terminal``: xe-dr leads a process group of its own, as a shell puts a command
        in the foreground, so that :meth:`interrupt` can do what ^C at a terminal does."""
        self.argv = argv
        self.started = time.time()
        self.popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL, env=env, cwd=ROOT,
                                      start_new_session=terminal)
        self.terminal = terminal
        self.ended = None
        self.err_read = b""  # stderr read by wait_err, handed to finish()

    def interrupt(self):
        """^C at the terminal: SIGINT to the whole foreground process group (xe-dr and
        every child it did not put elsewhere)."""
        assert self.terminal, "start it with terminal=True"
        os.killpg(self.popen.pid, signal.SIGINT)

    def wait_err(self, text, timeout=120.0):
        """Read stderr until ``text`` is seen (xe-dr running meanwhile)."""
        deadline = time.time() + timeout
        fd = self.popen.stderr.fileno()
        while text.encode("utf-8") not in self.err_read:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                raise AssertionError("%r never came on stderr: %s" % (
                    text, self.err_read.decode("utf-8", "replace")[-2000:]))
            self.err_read += chunk

    def running(self):
        return self.popen.poll() is None

    def finish(self, timeout=300):
        from tests.fixtures_workflow import CliResult  # (imported late: it is a plugin too)
        try:
            out, err = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            out, err = self.popen.communicate()
            raise AssertionError("xe-dr did not end within %ss: %s" % (
                timeout, err.decode("utf-8", "replace")[-2000:]))
        self.ended = time.time()
        return CliResult(self.popen.returncode, out.decode("utf-8", "replace"),
                         (self.err_read + err).decode("utf-8", "replace"))

    def kill(self):
        if self.running():
            self.popen.kill()
            self.popen.communicate()


def xedr_argv(lab, state_dir, args, site="B", transport=(), xe=None, json_output=True):
    argv = [sys.executable, "-m", "xe_dr"] + list(transport) + [
        "--xe", xe or lab.xe_path(site), "--state-dir", state_dir, "--yes"]
    if json_output:
        argv.append("--json")
    return argv + list(args)


def start_xedr(lab, state_dir, args, site="B", transport=(), env=None, xe=None,
               json_output=True, terminal=False):
    """xe-dr as a subprocess of this Python, against ``site`` of ``lab`` (``terminal``: as
    a terminal's foreground job, see XeDrProcess)."""
    environ = dict(os.environ, PYTHONPATH=ROOT)
    environ.pop("XE_DR_FAULT_KILL_AFTER_ENTRY", None)
    environ.update(env or {})
    return XeDrProcess(xedr_argv(lab, state_dir, args, site, transport, xe, json_output),
                       environ, terminal=terminal)


def run_xedr(lab, state_dir, args, **kw):
    timeout = kw.pop("timeout", 300)
    return start_xedr(lab, state_dir, args, **kw).finish(timeout)


# -- waiting ---------------------------------------------------------------------------------

def wait_until(predicate, what, proc=None, timeout=120.0, interval=0.02):
    """Poll ``predicate`` until it is true; fail if ``proc`` ends first or time runs out."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and not proc.running():
            result = proc.finish()
            raise AssertionError("xe-dr ended (exit %s) before %s:\n%s" % (
                result.code, what, result.err[-2000:]))
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(interval)


def fired(lab, rule):
    """How often the lab fault ``rule`` (as returned by ``lab.fault``) has fired. A rule
    with a delay counts as fired as soon as the delayed call starts sleeping."""
    for current in faults.rules(lab.lab):
        if current["id"] == rule["id"]:
            return current["fired"]
    return 0


def wait_fired(lab, rule, proc=None, timeout=120.0):
    """Wait until ``rule`` fires: the call it slows down is under way now."""
    return wait_until(lambda: fired(lab, rule), "fault %s on %s to fire" % (
        rule["id"], rule["command"]), proc, timeout)


# -- runs in a state directory ---------------------------------------------------------------

def run_ids(state_dir):
    path = os.path.join(state_dir, "runs")
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def run_file(state_dir, run_id, name):
    path = os.path.join(state_dir, "runs", run_id, name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        if name.endswith(".jsonl"):
            return [json.loads(line) for line in handle if line.strip()]
        return json.load(handle)


def journal_has(state_dir, predicate):
    """Whether some run's journal has an entry for which ``predicate(entry)`` is true."""
    for run_id in run_ids(state_dir):
        path = os.path.join(state_dir, "runs", run_id, "journal.jsonl")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line being written
                if predicate(entry):
                    return True
    return False


# -- SSH -------------------------------------------------------------------------------------

def ssh_transport(sshd, known_hosts, kind, user=None, port=None, identity=None):
    """Global xe-dr options reaching ``sshd`` with SSH implementation ``kind``."""
    options = ["-H", "%s@%s:%d" % (user or sshd.user, sshd.host, port or sshd.port),
               "--ssh", kind, "-i", identity or sshd.client_key, "--known-hosts", known_hosts]
    if kind == "openssh":
        options += ["--ssh-config", os.devnull]
    return options


def have_paramiko():
    try:
        import paramiko  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def ssh_options(sshd, sshd_known_hosts, ssh_client_env):
    """ssh_options(kind) -> the transport options for xe-dr over the test sshd; skips for
    paramiko when it is not installed. The client is hermetic (HOME, no agent)."""
    def make(kind="openssh", **kw):
        if kind == "paramiko" and not have_paramiko():
            pytest.skip("paramiko is not installed")
        return ssh_transport(sshd, sshd_known_hosts, kind, **kw)
    return make


# -- a protected lab and uninterrupted reference runs ----------------------------------------

@pytest.fixture(scope="module")
def dr_base(tmp_path_factory):
    """A default lab with replication enabled at A and the mirror broken: ready for a
    failover at B. Tests work on copies (``dr_lab``)."""
    from tests.fixtures_lab import make_lab
    lab = make_lab(str(tmp_path_factory.mktemp("dr-base") / "lab"))
    lab.enable_replication()
    lab.mirror("break")
    return lab


@pytest.fixture(scope="module")
def dr_storage(dr_base):
    """The probe options reaching every mirrored LUN from site B."""
    from tests.fixtures_workflow import Drill
    return Drill(dr_base, None).storage_args("B")


@pytest.fixture
def dr_lab(dr_base, tmp_path):
    """(lab, state directory): a copy of ``dr_base`` for one test."""
    from tests.test_crash_resume import copy_lab
    return copy_lab(dr_base, str(tmp_path / "lab")), str(tmp_path / "state")


@pytest.fixture(scope="module")
def dr_reference(dr_base, dr_storage, tmp_path_factory):
    """reference(args, code, power_cycle=False) -> (exit status, tests/test_crash_resume.py's
    ``normalized`` site B) after an uninterrupted ``xe-dr --json --yes ARGS <storage>`` on a
    copy of ``dr_base``, which must exit ``code``; with ``power_cycle``, site B then goes dark
    and comes back, as the darkened runs did. Each reference is made once per module."""
    from tests.fixtures_workflow import Drill
    from tests.test_crash_resume import copy_lab, normalized
    cache = {}
    root = tmp_path_factory.mktemp("reference")

    def get(args, code, power_cycle=False):
        key = (tuple(args), power_cycle)
        if key not in cache:
            n = len(cache)
            lab = copy_lab(dr_base, str(root / ("lab%d" % n)))
            drill = Drill(lab, str(root / ("state%d" % n)))
            result = drill.xedr("B", "--json", "--yes", *(list(args) + dr_storage))
            assert result.code == code, result
            if power_cycle:
                lab.disaster("B")
                lab.restore("B")
            cache[key] = (result.code, normalized(lab))
        assert cache[key][0] == code, (args, cache[key][0])
        return cache[key]
    return get


# -- a scripted xe ---------------------------------------------------------------------------

_SCRIPTED_XE = """\
#!{python}
# A scripted xe for tests: logs each call, answers the scripted ones, hands the rest to the
# lab's xe.
import binascii, json, os, sys, time
argv = sys.argv[1:]
command = argv[0] if argv else ""
with open({log!r}, "a") as log:
    log.write(json.dumps({{"argv": argv, "time": time.time()}}) + "\\n")
with open({rules!r}) as handle:
    rules = json.load(handle)


def matches(token, arg):
    return arg.startswith(token[:-1]) if token.endswith("*") else arg == token


for rule in rules:
    if rule["command"] == command and all(any(matches(t, a) for a in argv[1:])
                                          for t in rule["with"]):
        getattr(sys.stdout, "buffer", sys.stdout).write(binascii.unhexlify(rule["stdout"]))
        sys.stdout.flush()
        getattr(sys.stderr, "buffer", sys.stderr).write(binascii.unhexlify(rule["stderr"]))
        sys.stderr.flush()
        sys.exit(rule["exit"])
os.execv({real!r}, [{real!r}] + argv)
"""


class ScriptedXe(object):
    """An executable ``path`` standing in front of the lab's xe of one site: calls matching a
    rule (command word, and arguments that must all be present; ``name=*`` matches any
    argument starting with ``name=``) get the rule's stdout, stderr (str or bytes) and exit
    status; the others run the lab's xe. Every call is logged."""

    def __init__(self, directory, real_xe):
        self.path = os.path.join(directory, "xe")
        self.log_path = os.path.join(directory, "xe-calls.jsonl")
        self.rules_path = os.path.join(directory, "xe-rules.json")
        self.rules = []
        self._save()
        with open(self.path, "w") as handle:
            handle.write(_SCRIPTED_XE.format(python=sys.executable, log=self.log_path,
                                             rules=self.rules_path, real=real_xe))
        os.chmod(self.path, 0o755)

    def _save(self):
        with open(self.rules_path, "w") as handle:
            json.dump(self.rules, handle)

    def answer(self, command, stdout="", stderr="", exit=0, with_args=()):
        def hexed(data):
            if not isinstance(data, bytes):
                data = data.encode("utf-8")
            return binascii.hexlify(data).decode("ascii")

        self.rules.append({"command": command, "with": list(with_args), "stdout": hexed(stdout),
                           "stderr": hexed(stderr), "exit": exit})
        self._save()

    def calls(self):
        """[{"argv": [...], "time": t}] in call order."""
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def writes_after(self, command, with_args=()):
        """The pool-changing calls made after the first call matching ``command`` (and
        ``with_args``), which must have been made; the release of xe-dr's lock is not one."""
        calls = self.calls()
        for index, call in enumerate(calls):
            argv = call["argv"]
            if argv and argv[0] == command and all(
                    any(a == t or (t.endswith("*") and a.startswith(t[:-1])) for a in argv)
                    for t in with_args):
                return [c["argv"] for c in calls[index + 1:]
                        if c["argv"] and is_write(c["argv"][0], c["argv"][1:]) and
                        not is_lock_call(c["argv"])]
        raise AssertionError("xe was never called with %s %s; calls: %s" % (
            command, " ".join(with_args), [c["argv"][:2] for c in calls]))


def scripted_xe(tmp_path, lab, site="B"):
    directory = str(tmp_path / ("scripted-xe-" + site))
    os.makedirs(directory, exist_ok=True)
    return ScriptedXe(directory, lab.xe_path(site))
