"""Hostile input (issue 7): who answers at the other end of ``-H``.

``xe-dr -H USER@127.0.0.1:PORT ... status`` against the test sshd with a changed host key,
an unknown host key (empty or missing known_hosts, and ``--accept-new-host-key`` never
accepting a changed key), a user the server refuses, and a port where nothing listens.
Each is one line on stderr, no traceback, its exit status, and nothing run on the target
(no new entry in the lab's call log); known_hosts is left as it was.

Exit statuses (xe_dr/exitcodes.py, the man page's EXIT STATUS):

- 77 (refused) for an unknown or changed host key: nothing was sent to that host;
- 77 as well for a wrong user or a key the server does not authorise: the server refused the
  login (OpenSSH prints "Permission denied (...)" and exits 255, paramiko raises an
  AuthenticationException); the message names the user and says what to do;
- 69 (unreachable) for a refused connection.
"""

import os
import socket

import pytest

from tests.fixtures_remote import one_error_line, ssh_transport
from tests.fixtures_workflow import Drill
from xe_dr.lab.sshd import generate_key, read_public_key

KINDS = ["openssh", "paramiko"]


@pytest.fixture
def target(lab, tmp_path, sshd, sshd_known_hosts, ssh_client_env):
    return lab, sshd, sshd_known_hosts


def free_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def status(lab, tmp_path, transport):
    """``xe-dr <transport> status`` in-process against site A of ``lab``."""
    drill = Drill(lab, str(tmp_path / "state"), transport)
    before = len(lab.call_log())
    result = drill.xedr("A", "status")
    return result, lab.call_log()[before:]


def need(kind):
    if kind == "paramiko":
        pytest.importorskip("paramiko")


def changed_known_hosts(tmp_path, sshd):
    """known_hosts holding another key for the server's name."""
    other = str(tmp_path / "other_host_key")
    generate_key(other, "someone-else")
    path = tmp_path / "known_hosts_changed"
    path.write_text("[%s]:%d %s\n" % (sshd.host, sshd.port, read_public_key(other + ".pub")))
    return str(path)


@pytest.mark.parametrize("kind", KINDS)
def test_the_harness_reaches_the_target(target, tmp_path, kind):
    lab, sshd, known_hosts = target
    need(kind)
    result, calls = status(lab, tmp_path, ssh_transport(sshd, known_hosts, kind))
    # Status reached site A's pool: 1, as the fresh lab is not protected yet (an SSH failure
    # would be 69 or 77).
    assert result.code == 1, result
    assert "PROBLEM: no SR carries this pool's replicated metadata" in result.out, result
    assert calls and "Traceback" not in result.err


@pytest.mark.parametrize("accept_new", [False, True], ids=["strict", "accept-new"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_changed_host_key_is_refused_with_77_and_nothing_runs(target, tmp_path, kind,
                                                                accept_new):
    lab, sshd, _ = target
    need(kind)
    known_hosts = changed_known_hosts(tmp_path, sshd)
    with open(known_hosts) as handle:
        before = handle.read()
    transport = ssh_transport(sshd, known_hosts, kind)
    if accept_new:
        transport.append("--accept-new-host-key")  # accepts new keys, never changed ones
    result, calls = status(lab, tmp_path, transport)
    assert result.code == 77, result
    line = one_error_line(result)
    assert "host key" in line and "CHANGED" in line, line
    assert "[127.0.0.1]:%d" % sshd.port in line, line
    assert "ssh-keygen -R" in line, line
    assert calls == []
    with open(known_hosts) as handle:
        assert handle.read() == before


@pytest.mark.parametrize("known_hosts", ["empty", "missing"])
@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_host_key_is_refused_with_77_and_nothing_runs(target, tmp_path, kind,
                                                                 known_hosts):
    lab, sshd, _ = target
    need(kind)
    path = tmp_path / "known_hosts_unknown"
    if known_hosts == "empty":
        path.write_text("")
    result, calls = status(lab, tmp_path, ssh_transport(sshd, str(path), kind))
    assert result.code == 77, result
    line = one_error_line(result)
    assert "host key" in line and "[127.0.0.1]:%d" % sshd.port in line, line
    assert "--accept-new-host-key" in line, line  # says how to accept it knowingly
    assert calls == []
    # Nothing was written to known_hosts without --accept-new-host-key.
    assert (path.read_text() == "") if known_hosts == "empty" else not path.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_a_wrong_user_is_refused_with_77_naming_the_user_and_nothing_runs(target, tmp_path,
                                                                         kind):
    lab, sshd, known_hosts = target
    need(kind)
    transport = ssh_transport(sshd, known_hosts, kind, user="nosuchuser")
    result, calls = status(lab, tmp_path, transport)
    assert result.code == 77, result
    line = one_error_line(result)
    assert "nosuchuser@127.0.0.1" in line, line
    assert "Permission denied" in line or "uthentication failed" in line, line
    assert calls == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_connection_is_69_and_nothing_runs(target, tmp_path, kind):
    lab, sshd, known_hosts = target
    need(kind)
    port = free_port()
    transport = ssh_transport(sshd, known_hosts, kind, port=port)
    result, calls = status(lab, tmp_path, transport)
    assert result.code == 69, result
    line = one_error_line(result)
    assert "127.0.0.1" in line and str(port) in line, line
    assert "refused" in line.lower() or "unable to connect" in line.lower(), line
    assert calls == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_the_server_does_not_know_is_refused_with_77(target, tmp_path, kind):
    """The right user with a key the server never authorised: a refusal, not an unreachable
    host."""
    lab, sshd, known_hosts = target
    need(kind)
    stranger = str(tmp_path / "stranger_key")
    generate_key(stranger, "stranger")
    result, calls = status(lab, tmp_path, ssh_transport(sshd, known_hosts, kind,
                                                        identity=stranger))
    assert result.code == 77, result
    line = one_error_line(result)
    assert "login to" in line and "was refused" in line and "authorized_keys" in line, line
    assert "Permission denied" in line or "uthentication failed" in line, line
    assert calls == []
    assert os.path.exists(stranger)
