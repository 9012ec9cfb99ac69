"""Fixtures for tests against a real OpenSSH sshd on 127.0.0.1, and helpers shared by the
runner tests (an argv-dumping program, a large-output generator, hostile arguments).

``sshd`` is one server for the whole session. The client side is hermetic: HOME is a
temporary directory, there is no agent, and the SSH runners get an explicit key, known_hosts
file and (for OpenSSH, which reads ~ from the password database, not $HOME) ``-F /dev/null``.
"""

import hashlib
import os
import sys

import pytest

from xe_dr.lab.sshd import DEFAULT_SSHD, SshServer
from xe_dr.runner.target import Target

SSH_KINDS = ("paramiko", "openssh")

# A program that writes the exact bytes of its arguments as JSON (hex, one item per arg).
ARGV_DUMPER = """\
import json, os, sys
sys.stdout.write(json.dumps([os.fsencode(arg).hex() for arg in sys.argv[1:]]))
"""


# A program that writes its arguments and its XE_DR_PROBE_* environment variables as JSON
# (hex bytes): {"argv": [...], "env": {name: value}}.
ENV_DUMPER = """\
import json, os, sys
sys.stdout.write(json.dumps({
    "argv": [os.fsencode(arg).hex() for arg in sys.argv[1:]],
    "env": dict((name.decode("ascii"), value.hex()) for name, value in os.environb.items()
                if name.startswith(b"XE_DR_PROBE_"))}))
"""
ENV_PREFIX = "XE_DR_PROBE_"  # not XE_DR_TEST_: scripts/run-tests reads XE_DR_TEST_WORKERS


def decode_dumped_env(stdout):
    """ENV_DUMPER's output as (argv, env), with str items (UTF-8, surrogateescape)."""
    import json
    data = json.loads(stdout)

    def text(item):
        return bytes.fromhex(item).decode("utf-8", "surrogateescape")

    return ([text(arg) for arg in data["argv"]],
            dict((name, text(value)) for name, value in data["env"].items()))


def hostile_args(canary):
    """Arguments that break naive quoting; none may create ``canary``."""
    return [
        "name-label=$(touch %s)" % canary,
        "; touch %s" % canary,
        "`touch %s`" % canary,
        "a' ; touch %s ; '" % canary,
        'double "quotes" and \'single\'',
        "line one\nline two; touch %s" % canary,
        "trailing newline\n",
        "back\\slash \\n \\",
        "-leading-dash",
        "--",
        "n\u00e4me-l\u00e4bel \u65e5\u672c \u2713",
        "",
        "  spaces  ",
        "tab\there",
        "$HOME ${PATH} * ? ~ # & | < > !",
    ]


def decode_dumped_argv(stdout):
    import json
    return [bytes.fromhex(item) for item in json.loads(stdout)]


# 8 MiB on stdout (every byte value, so invalid UTF-8 too) and 4 MiB on stderr, interleaved in
# chunks so that a runner reading one stream to its end before the other deadlocks.
BIG_OUTPUT_PROGRAM = """\
import sys
out, err = sys.stdout.buffer, sys.stderr.buffer
for i in range(128):
    out.write(b"%08d" % i + bytes(range(256)) * 256); out.flush()
    err.write(b"%08d" % i + b"E\\xc3\\xa9" * 10922); err.flush()
"""


def big_output_expected():
    """sha256 and length of what BIG_OUTPUT_PROGRAM writes on (stdout, stderr)."""
    out, err = hashlib.sha256(), hashlib.sha256()
    out_len = err_len = 0
    for i in range(128):
        chunk = b"%08d" % i + bytes(range(256)) * 256
        out.update(chunk)
        out_len += len(chunk)
        chunk = b"%08d" % i + b"E\xc3\xa9" * 10922
        err.update(chunk)
        err_len += len(chunk)
    return (out.hexdigest(), out_len), (err.hexdigest(), err_len)


def digest(text):
    """sha256 and length of the bytes behind a runner's decoded output."""
    data = text.encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest(), len(data)


@pytest.fixture
def argv_dumper(tmp_path):
    """argv prefix running ARGV_DUMPER with this Python (local and 'remote' are one machine)."""
    script = tmp_path / "dump_argv.py"
    script.write_text(ARGV_DUMPER)
    return [sys.executable, str(script)]


@pytest.fixture
def env_dumper(tmp_path):
    """argv prefix running ENV_DUMPER with this Python."""
    script = tmp_path / "dump_env.py"
    script.write_text(ENV_DUMPER)
    return [sys.executable, str(script)]


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real sshd on 127.0.0.1 (an ``xe_dr.lab.sshd.SshServer``), one for the session."""
    if not os.path.exists(DEFAULT_SSHD):
        message = "%s is missing (install openssh-server)" % DEFAULT_SSHD
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the SSH tests: " + message)
        pytest.skip(message)
    with SshServer(workdir=str(tmp_path_factory.mktemp("sshd"))) as server:
        yield server


@pytest.fixture(scope="session")
def ssh_client_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("ssh-client-home")
    (home / ".ssh").mkdir(mode=0o700)
    return str(home)


@pytest.fixture
def ssh_client_env(monkeypatch, ssh_client_home):
    """The client's environment for one test: temporary HOME, no agent."""
    monkeypatch.setenv("HOME", ssh_client_home)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return ssh_client_home


@pytest.fixture
def sshd_target(sshd):
    return Target(sshd.host, sshd.port, sshd.user)


@pytest.fixture
def sshd_known_hosts(sshd, tmp_path):
    """A known_hosts file that trusts the test sshd."""
    return sshd.write_known_hosts(str(tmp_path / "known_hosts"))


@pytest.fixture
def ssh_runner_factory(sshd, sshd_target, sshd_known_hosts, ssh_client_env):
    """make(kind, **options): a runner of ``kind`` ("paramiko" or "openssh") for the test sshd,
    closed after the test. Skips for paramiko when it is not installed. Defaults: the
    server's client key, a known_hosts trusting it, a 30 s timeout, no agent or default keys.
    """
    from xe_dr.runner.connect import make_runner

    runners = []

    def make(kind, **options):
        if kind == "paramiko":
            pytest.importorskip("paramiko")
            options.setdefault("allow_agent", False)
            options.setdefault("look_for_keys", False)
        else:
            options.setdefault("ssh_config", os.devnull)
        options.setdefault("identity", sshd.client_key)
        options.setdefault("known_hosts", sshd_known_hosts)
        options.setdefault("timeout", 30)
        runner = make_runner(options.pop("host", sshd_target), ssh=kind, **options)
        runners.append(runner)
        return runner

    yield make
    for runner in reversed(runners):
        runner.close()
