"""Parsing [USER@]HOST[:PORT] and choosing a runner."""

import pytest

from xe_dr.errors import UsageError
from xe_dr.exitcodes import ExitCode
from xe_dr.runner.local import LocalRunner
from xe_dr.runner.openssh import OpenSshRunner
from xe_dr.runner.connect import make_runner
from xe_dr.runner.target import Target


@pytest.mark.parametrize("text, user, host, port", [
    ("pool-master", None, "pool-master", None),
    ("root@pool-master", "root", "pool-master", None),
    ("root@pool-master.example.org:2222", "root", "pool-master.example.org", 2222),
    ("10.0.0.1", None, "10.0.0.1", None),
    ("admin@10.0.0.1:22", "admin", "10.0.0.1", 22),
    ("[::1]:22", None, "::1", 22),
    ("root@[fd00::1]:2222", "root", "fd00::1", 2222),
    ("[fd00::1]", None, "fd00::1", None),
    ("fd00::1", None, "fd00::1", None),  # unbracketed IPv6: no port possible
    ("  root@xcp1  ", "root", "xcp1", None),
    ("h:65535", None, "h", 65535),
])
def test_parse(text, user, host, port):
    target = Target.parse(text)

    assert (target.user, target.host, target.port) == (user, host, port)


@pytest.mark.parametrize("text, why", [
    ("", "empty"),
    ("root@", "host is missing"),
    ("@host", "user is missing"),
    ("host:", "port"),
    ("host:0", "port"),
    ("host:65536", "port"),
    ("host:ssh", "port"),
    ("host:\u00b2", "port"),
    ("[::1", "']'"),
    ("[::1]2222", "PORT"),
    ("[::1]:", "port"),
    ("a@b@c", "user name"),
    ("-oProxyCommand=touch x", "host name"),
    ("root@-oProxyCommand=x", "host name"),
    ("two words", "host name"),
    ("1:2:3", "IPv6"),
])
def test_bad_targets_are_one_line_usage_errors(text, why):
    with pytest.raises(UsageError) as bad:
        Target.parse(text)

    line = bad.value.one_line()
    assert why in line
    assert "\n" not in line
    assert "[USER@]HOST[:PORT]" in line
    assert bad.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("text, shown, known_hosts_name", [
    ("root@xcp1", "root@xcp1", "xcp1"),
    ("root@xcp1:22", "root@xcp1:22", "xcp1"),
    ("xcp1:2222", "xcp1:2222", "[xcp1]:2222"),
    ("root@[fd00::1]:2222", "root@[fd00::1]:2222", "[fd00::1]:2222"),
    ("fd00::1", "[fd00::1]", "fd00::1"),
])
def test_display_and_known_hosts_names(text, shown, known_hosts_name):
    target = Target.parse(text)

    assert str(target) == shown
    assert Target.parse(str(target)) == target
    assert target.known_hosts_name() == known_hosts_name


def test_make_runner_without_a_host_runs_locally():
    runner = make_runner(timeout=12)

    assert isinstance(runner, LocalRunner)
    assert runner.timeout == 12


def test_make_runner_passes_the_ssh_options():
    runner = make_runner("root@xcp1:2222", ssh="openssh", identity="/k", known_hosts="/kh",
                         accept_new=True, timeout=7)

    assert isinstance(runner, OpenSshRunner)
    assert runner.target == Target("xcp1", 2222, "root")
    assert (runner.identity, runner.known_hosts, runner.accept_new, runner.timeout) == (
        "/k", "/kh", True, 7)


def test_make_runner_rejects_a_bad_target_and_an_unknown_ssh():
    with pytest.raises(UsageError):
        make_runner("root@")
    with pytest.raises(UsageError) as unknown:
        make_runner("xcp1", ssh="putty")
    assert "paramiko, openssh" in unknown.value.one_line()
