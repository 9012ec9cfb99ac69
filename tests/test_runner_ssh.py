"""Both SSH runners against a real sshd on 127.0.0.1 (see tests/fixtures_sshd.py)."""

import concurrent.futures
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest

from xe_dr.errors import ConfigError
from xe_dr.exitcodes import ExitCode
from xe_dr.lab.sshd import generate_key
from xe_dr.runner import (CommandFailed, CommandTimedOut, HostKeyRejected, LoginRefused,
                          TransportFailed)
from xe_dr.runner.base import ProgramNotFound
from xe_dr.runner.openssh import OpenSshRunner
from xe_dr.runner.shell import BOOTSTRAP, one_line_command
from xe_dr.runner.connect import make_runner
from xe_dr.runner.target import Target

from tests.fixtures_sshd import (
    BIG_OUTPUT_PROGRAM,
    ENV_PREFIX,
    SSH_KINDS,
    big_output_expected,
    decode_dumped_argv,
    decode_dumped_env,
    digest,
    hostile_args,
)

each_ssh = pytest.mark.parametrize("kind", SSH_KINDS)


def wait_for(predicate, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for %r" % predicate)


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # never listened: connecting is refused
    return port


def host_key_recorded(known_hosts, sshd):
    """Whether known_hosts trusts the test sshd (ssh-keygen -F understands hashed names too)."""
    found = subprocess.run(
        ["ssh-keygen", "-F", "[%s]:%d" % (sshd.host, sshd.port), "-f", known_hosts],
        stdout=subprocess.PIPE, universal_newlines=True)
    return sshd.host_public_key.split()[1] in found.stdout


# -- running commands --

@each_ssh
def test_exit_status_and_separate_streams(kind, ssh_runner_factory):
    runner = ssh_runner_factory(kind)

    result = runner.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)

    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    with pytest.raises(CommandFailed) as failed:
        runner.run(["sh", "-c", "echo why >&2; exit 4"])
    assert failed.value.result.exit_code == 4
    assert failed.value.exit_code == ExitCode.FAILED
    assert "why" in failed.value.one_line()


@each_ssh
def test_input_reaches_the_command_stdin(kind, ssh_runner_factory):
    runner = ssh_runner_factory(kind)
    text = "first line\nsecond line, \u00e9t\u00e9\n$(touch nothing)\n"

    assert runner.run(["cat"], input=text).stdout == text
    # The command reads its input itself, after the runner's own use of stdin (OpenSSH).
    assert runner.run(["sh", "-c", "head -c 5; echo; cat"], input="abcdefgh").stdout == \
        "abcde\nfgh"


@each_ssh
def test_large_stdout_and_stderr_arrive_intact(kind, ssh_runner_factory):
    runner = ssh_runner_factory(kind)

    result = runner.run([sys.executable, "-c", BIG_OUTPUT_PROGRAM])

    assert (digest(result.stdout), digest(result.stderr)) == big_output_expected()


@each_ssh
def test_hostile_arguments_arrive_byte_for_byte_and_run_nothing(
        kind, ssh_runner_factory, argv_dumper, tmp_path):
    canary = tmp_path / "canary"
    args = hostile_args(canary)
    runner = ssh_runner_factory(kind)

    result = runner.run(argv_dumper + args)

    assert decode_dumped_argv(result.stdout) == [arg.encode("utf-8") for arg in args]
    assert not canary.exists()


def test_one_line_command_has_no_newline():
    line = one_line_command(["printf", "%s", "a\nb\n", "\n"])

    assert "\n" not in line
    output = subprocess.run(["sh", "-c", line], stdout=subprocess.PIPE).stdout
    assert output == b"a\nb\n\n"


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_one_line_command_runs_argv_and_env_exactly(shell, env_dumper, tmp_path):
    if not shutil.which(shell):
        pytest.skip("%s is not installed" % shell)
    canary = tmp_path / "canary"
    values = hostile_args(canary)
    env = dict((ENV_PREFIX + "V%d" % i, value) for i, value in enumerate(values))

    line = one_line_command(env_dumper + values, env)

    assert "\n" not in line
    output = subprocess.run([shell, "-c", line], stdout=subprocess.PIPE,
                            universal_newlines=True).stdout
    assert decode_dumped_env(output) == (values, env)
    assert not canary.exists()


@pytest.mark.parametrize("first", ["a=b", "if", "time", "!", "{"])
def test_one_line_command_never_reads_the_program_as_syntax(first, tmp_path):
    # A program named like an assignment or a reserved word is still run as the program.
    program = tmp_path / first
    program.write_text("#!/bin/sh\necho ran \"$@\"\n")
    os.chmod(str(program), 0o755)
    line = one_line_command([first, "x"])
    bash = shutil.which("bash") or pytest.skip("bash is not installed")

    output = subprocess.run([bash, "-c", line], stdout=subprocess.PIPE, cwd=str(tmp_path),
                            env={"PATH": str(tmp_path)}, universal_newlines=True).stdout

    assert output == "ran x\n"


@pytest.mark.parametrize("name", ["1X", "A B", "A=B", "X;touch", ""])
def test_one_line_command_refuses_bad_env_names(name):
    with pytest.raises(ValueError):
        one_line_command(["true"], {name: "v"})


@each_ssh
def test_env_reaches_the_remote_command_byte_for_byte_and_runs_nothing(
        kind, ssh_runner_factory, env_dumper, tmp_path):
    canary = tmp_path / "canary"
    values = hostile_args(canary)
    env = dict((ENV_PREFIX + "V%d" % i, value) for i, value in enumerate(values))
    runner = ssh_runner_factory(kind)

    result = runner.run(env_dumper + ["arg"], env=env)

    assert decode_dumped_env(result.stdout) == (["arg"], env)
    assert not canary.exists()
    # The variables are for that one command only.
    assert decode_dumped_env(runner.run(env_dumper).stdout) == ([], {})


@each_ssh
def test_env_keeps_the_command_input_working(kind, ssh_runner_factory):
    runner = ssh_runner_factory(kind)

    result = runner.run(["sh", "-c", 'printf "%%s:" "$%sX"; cat' % ENV_PREFIX],
                        input="line one\nline two\n", env={ENV_PREFIX + "X": "a\nb"})

    assert result.stdout == "a\nb:line one\nline two\n"


@each_ssh
def test_commands_from_several_threads_share_one_connection(kind, ssh_runner_factory):
    runner = ssh_runner_factory(kind)
    runner.run(["true"])  # connect first, so the timing below measures the commands only
    threads = 6

    script = ('echo "%d $SSH_CONNECTION"; date +%%s.%%N; sleep 1; date +%%s.%%N')
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda n: runner.run(["sh", "-c", script % n]),
                                range(threads)))

    lines = [r.stdout.splitlines() for r in results]
    numbers = [int(line[0].split()[0]) for line in lines]
    connections = {line[0].split(None, 1)[1] for line in lines}
    assert numbers == list(range(threads))
    assert len(connections) == 1, connections  # one TCP connection (same client port)
    # Overlap from the commands' own clocks (the sshd is on this machine), not from a total
    # that a loaded machine stretches: some command began before another had ended.
    spans = sorted((float(line[1]), float(line[2])) for line in lines)
    busiest = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert busiest >= 2, "commands ran one after another: %r" % spans


# -- host keys --

@each_ssh
def test_unknown_host_key_is_refused_and_nothing_runs(kind, ssh_runner_factory, tmp_path):
    known_hosts = tmp_path / "empty_known_hosts"
    known_hosts.write_text("")
    canary = tmp_path / "canary"
    runner = ssh_runner_factory(kind, known_hosts=str(known_hosts))

    with pytest.raises(HostKeyRejected) as rejected:
        runner.run(["touch", str(canary)])

    assert rejected.value.exit_code == ExitCode.REFUSED == 77
    assert not canary.exists()
    assert known_hosts.read_text() == ""


@each_ssh
@pytest.mark.parametrize("accept_new", [False, True])
def test_changed_host_key_is_refused_even_with_accept_new(
        kind, accept_new, ssh_runner_factory, sshd, tmp_path):
    impostor_key = generate_key(str(tmp_path / "impostor"))
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("[%s]:%d %s\n" % (sshd.host, sshd.port, impostor_key))
    canary = tmp_path / "canary"
    runner = ssh_runner_factory(kind, known_hosts=str(known_hosts), accept_new=accept_new)

    with pytest.raises(HostKeyRejected) as rejected:
        runner.run(["touch", str(canary)])

    assert rejected.value.exit_code == 77
    assert not canary.exists()
    assert not host_key_recorded(str(known_hosts), sshd)


@each_ssh
def test_accept_new_records_an_unknown_key_then_trusts_it(
        kind, ssh_runner_factory, sshd, tmp_path, caplog):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    canary = tmp_path / "canary"
    runner = ssh_runner_factory(kind, known_hosts=str(known_hosts), accept_new=True)

    with caplog.at_level(logging.WARNING):
        runner.run(["touch", str(canary)])

    assert canary.exists()
    assert host_key_recorded(str(known_hosts), sshd)
    assert "Permanently added" in caplog.text
    # Without accept-new, the recorded key is now simply trusted.
    assert ssh_runner_factory(kind, known_hosts=str(known_hosts)).run(["echo", "ok"]).stdout \
        == "ok\n"


def test_paramiko_refuses_a_corrupt_known_hosts_file(ssh_runner_factory, sshd, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("[%s]:%d ssh-ed25519 AAAA!!not-base64\n%s\n"
                           % (sshd.host, sshd.port, sshd.known_hosts_line()))
    runner = ssh_runner_factory("paramiko", known_hosts=str(known_hosts))

    with pytest.raises(HostKeyRejected) as rejected:
        runner.run(["true"])

    assert "bad line in known_hosts file" in rejected.value.one_line()


# -- transport failures --

@each_ssh
def test_connection_refused_is_a_transport_failure(kind, ssh_runner_factory, sshd):
    runner = ssh_runner_factory(kind, host=Target("127.0.0.1", closed_port(), sshd.user))

    with pytest.raises(TransportFailed) as failed:
        runner.run(["true"])

    assert type(failed.value) is TransportFailed
    assert failed.value.exit_code == ExitCode.UNREACHABLE == 69


@each_ssh
def test_refused_login_is_a_refusal(kind, ssh_runner_factory, tmp_path):
    stranger_key = str(tmp_path / "stranger")
    generate_key(stranger_key)
    runner = ssh_runner_factory(kind, identity=stranger_key)

    with pytest.raises(TransportFailed) as failed:
        runner.run(["true"])

    assert type(failed.value) is LoginRefused
    assert failed.value.exit_code == 77


@each_ssh
def test_connection_cut_mid_command_is_a_transport_failure_not_a_command_failure(
        kind, ssh_runner_factory, sshd, tmp_path):
    runner = ssh_runner_factory(kind)
    pid_file = tmp_path / "pid"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            runner.run, ["sh", "-c", 'echo $$ > "$0"; exec sleep 30', str(pid_file)])
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip())
        remote_pid = int(pid_file.read_text())
        try:
            assert sshd.kill_children()
            with pytest.raises(TransportFailed) as failed:
                running.result(timeout=60)
        finally:
            os.kill(remote_pid, 9)

    assert type(failed.value) is TransportFailed
    assert failed.value.exit_code == 69
    # The runner connects again for the next command.
    assert runner.run(["echo", "again"]).stdout == "again\n"


@each_ssh
def test_timeout_raises_command_timed_out(kind, ssh_runner_factory):
    runner = ssh_runner_factory(kind)
    runner.run(["true"])

    started = time.time()
    with pytest.raises(CommandTimedOut) as timed_out:
        runner.run(["sleep", "200"], timeout=0.5)

    assert time.time() - started < 100  # far from the 200 s the command would take
    assert timed_out.value.exit_code == ExitCode.TEMPORARY == 75
    assert runner.run(["echo", "still here"]).stdout == "still here\n"


# -- OpenSSH specifics --

def _cmdlines():
    """[(pid, argv)] of every process we can read."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    raw = f.read()
            except (IOError, OSError):
                continue
            found.append((int(name), raw.decode("utf-8", "replace").split("\0")))
    return found


def _parent(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _environ(pid):
    """The environment of process ``pid`` as a dict of str, or None when it is gone."""
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            raw = f.read()
    except (IOError, OSError):
        return None
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return dict((k.decode("utf-8", "replace"), v.decode("utf-8", "replace")) for k, _, v in pairs)


@each_ssh
def test_a_secret_in_argv_is_visible_on_the_process_list(kind, ssh_runner_factory):
    """Positive control for the test below: the /proc scan, run while a remote command runs,
    does see a secret that is in argv (the remote sh's, on this same machine). For OpenSSH,
    the local ssh client still never holds it: the command travels on stdin."""
    runner = ssh_runner_factory(kind)
    secret = "hunter2-%s" % uuid.uuid4().hex
    argv = ["sh", "-c", "sleep 2; :", "sh", "device-config:chappassword=" + secret]

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(runner.run, argv, secrets=[secret])
        wait_for(lambda: any(secret in " ".join(args) for _, args in _cmdlines()))
        ssh_clients = [args for _, args in _cmdlines() if os.path.basename(args[0]) == "ssh"]
        running.result(timeout=60)

    if kind == "openssh":
        ours = [args for args in ssh_clients if runner.control_socket in " ".join(args)]
        assert ours, "our ssh client was not found among %r" % ssh_clients
        assert not [args for args in ssh_clients if secret in " ".join(args)]


@each_ssh
def test_a_secret_in_env_is_on_no_process_list_but_reaches_the_command(
        kind, ssh_runner_factory, tmp_path):
    """The sshd runs on this machine, so the scan sees every process of the chain: the local
    ssh client (OpenSSH), sshd's session, the remote login shell and the command itself.
    The remote shell stays alive while the command runs, running only BOOTSTRAP (had the
    command been in the exec request, the shell would have exec'ed it and never be seen)."""
    runner = ssh_runner_factory(kind)
    secret = "hunter2-%s" % uuid.uuid4().hex
    name = ENV_PREFIX + "SECRET"
    pid_file = tmp_path / "pid"
    # The remote sh writes its pid then becomes sleep: that pid is the remote command.
    argv = ["sh", "-c", 'echo $$ > "$0"; exec sleep 3', str(pid_file)]

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(runner.run, argv, env={name: secret})
        wait_for(lambda: pid_file.exists() and pid_file.read_text().endswith("\n"))
        command_pid = int(pid_file.read_text())
        wait_for(lambda: dict(_cmdlines()).get(command_pid, [None])[0] == "sleep")
        seen = []
        for _ in range(20):  # scan for a while, every process each time
            seen.extend(args for _, args in _cmdlines() if secret in "\0".join(args))
            time.sleep(0.05)
        command_env = _environ(command_pid)
        remote_shell = dict(_cmdlines()).get(_parent(command_pid))
        running.result(timeout=60)

    assert seen == []
    assert command_env is not None and command_env.get(name) == secret
    assert remote_shell is not None and remote_shell[1:3] == ["-c", BOOTSTRAP], remote_shell


def test_openssh_missing_binary_is_program_not_found(ssh_runner_factory):
    runner = ssh_runner_factory("openssh", ssh_binary="/nonexistent/ssh")

    with pytest.raises(ProgramNotFound) as missing:
        runner.run(["true"])

    assert missing.value.exit_code == ExitCode.CONFIG
    assert "--ssh paramiko" in missing.value.one_line()


def test_openssh_treats_exit_255_as_transport_failure(ssh_runner_factory):
    # ssh reports its own failures as 255 and cannot tell a command's 255 from them.
    with pytest.raises(TransportFailed):
        ssh_runner_factory("openssh").run(["sh", "-c", "exit 255"])


def test_openssh_close_stops_the_shared_connection(ssh_runner_factory):
    runner = ssh_runner_factory("openssh")
    runner.run(["true"])
    socket_path = runner.control_socket
    assert os.path.exists(socket_path)

    runner.close()

    assert not os.path.exists(os.path.dirname(socket_path))


# -- choosing a runner --

def test_missing_paramiko_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "paramiko", None)  # makes "import paramiko" fail

    with pytest.raises(ConfigError) as missing:
        make_runner("root@pool-master", ssh="paramiko")

    assert "--ssh openssh" in missing.value.one_line()
    assert isinstance(make_runner("root@pool-master"), OpenSshRunner)


def test_runner_descriptions_name_the_target_and_kind():
    assert OpenSshRunner("root@pool-master:2222").description == \
        "ssh root@pool-master:2222 (openssh)"


def test_paramiko_runner_description():
    pytest.importorskip("paramiko")
    assert make_runner("root@[fd00::1]:22", ssh="paramiko").description == \
        "ssh root@[fd00::1]:22 (paramiko)"


def test_paramiko_reconnects_after_the_connection_died_while_idle(ssh_runner_factory, sshd):
    """A connection that died while idle is reopened before the next command runs."""
    runner = ssh_runner_factory("paramiko")
    first = runner.run(["sh", "-c", "echo $SSH_CONNECTION"]).stdout
    sshd.kill_children()
    wait_for(lambda: not runner._client.get_transport().is_active())

    second = runner.run(["sh", "-c", "echo $SSH_CONNECTION"]).stdout

    assert first != second  # a new connection, from a new client port

