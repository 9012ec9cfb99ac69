"""LocalRunner: commands on this machine, as when xe-dr runs on dom0 itself."""

import os
import sys
import time
import uuid

import pytest

from xe_dr.exitcodes import ExitCode
from xe_dr.runner import CommandFailed, CommandTimedOut, Result, TransportFailed
from xe_dr.runner.base import DEFAULT_TIMEOUT, ProgramNotFound
from xe_dr.runner.local import LocalRunner

from tests.fixtures_sshd import (
    BIG_OUTPUT_PROGRAM,
    ENV_PREFIX,
    big_output_expected,
    decode_dumped_argv,
    decode_dumped_env,
    digest,
    hostile_args,
)


def test_exit_status_and_separate_streams():
    result = LocalRunner().run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)

    assert isinstance(result, Result)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")


def test_non_zero_exit_raises_command_failed_with_the_result():
    with pytest.raises(CommandFailed) as failed:
        LocalRunner().run(["sh", "-c", "echo the reason >&2; exit 4"])

    assert failed.value.result.exit_code == 4
    assert failed.value.exit_code == ExitCode.FAILED
    assert "the reason" in failed.value.one_line()


def test_input_reaches_stdin_and_output_keeps_every_byte():
    text = "caf\u00e9\nline two\n" + b"\xff\xfe".decode("utf-8", "surrogateescape")

    result = LocalRunner().run(["cat"], input=text)

    assert result.stdout == text
    assert result.stdout.encode("utf-8", "surrogateescape") == \
        "caf\u00e9\nline two\n".encode("utf-8") + b"\xff\xfe"


def test_hostile_arguments_arrive_byte_for_byte_and_run_nothing(argv_dumper, tmp_path):
    canary = tmp_path / "canary"
    args = hostile_args(canary)

    result = LocalRunner().run(argv_dumper + args)

    assert decode_dumped_argv(result.stdout) == [arg.encode("utf-8") for arg in args]
    assert not canary.exists()


def test_large_stdout_and_stderr_arrive_intact():
    result = LocalRunner().run([sys.executable, "-c", BIG_OUTPUT_PROGRAM])

    assert (digest(result.stdout), digest(result.stderr)) == big_output_expected()


def test_large_input_while_output_flows_does_not_deadlock():
    data = "x" * (4 * 1024 * 1024)

    result = LocalRunner(timeout=30).run(["cat"], input=data)

    assert len(result.stdout) == len(data)


def test_timeout_kills_the_command(tmp_path):
    pid_file = tmp_path / "pid"
    started = time.time()

    with pytest.raises(CommandTimedOut) as timed_out:
        LocalRunner().run(["sh", "-c", 'echo $$ > "$0"; exec sleep 300', str(pid_file)],
                          timeout=0.5)

    assert time.time() - started < 120  # far from the 300 s the command would take
    assert timed_out.value.exit_code == ExitCode.TEMPORARY
    with pytest.raises(OSError):  # the command is gone (killed and reaped)
        os.kill(int(pid_file.read_text()), 0)


def test_timeout_kills_what_the_command_started_too(tmp_path):
    """A storage adapter is often a shell script that runs the array's CLI: after the timeout,
    no child of it may go on acting on the array."""
    pid_file = tmp_path / "pid"
    with pytest.raises(CommandTimedOut):
        LocalRunner().run(["sh", "-c", 'sleep 300 & echo $! > "$0"; wait', str(pid_file)],
                          timeout=0.5)
    child = int(pid_file.read_text())
    for _ in range(200):  # killed at once; reaped by init, which may take a moment
        try:
            os.kill(child, 0)
        except OSError:
            break
        if _state(child) == "Z":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the command's child %d still runs" % child)


def _state(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except (IOError, OSError):
        return None


def test_every_call_has_a_timeout_by_default():
    assert LocalRunner().timeout == DEFAULT_TIMEOUT
    assert LocalRunner(timeout=5).timeout == 5


def test_missing_program_is_a_configuration_failure():
    with pytest.raises(ProgramNotFound) as missing:
        LocalRunner().run(["/nonexistent/bin/xe", "vm-list"])

    assert isinstance(missing.value, TransportFailed)  # one failure family for callers
    assert missing.value.exit_code == ExitCode.CONFIG == 78
    assert "/nonexistent/bin/xe" in missing.value.one_line()
    assert "--xe" in missing.value.one_line()


def test_non_executable_program_is_a_configuration_failure(tmp_path):
    script = tmp_path / "xe"
    script.write_text("#!/bin/sh\necho hi\n")
    os.chmod(str(script), 0o644)
    if os.access(str(script), os.X_OK):
        pytest.skip("root may execute anything here")

    with pytest.raises(ProgramNotFound):
        LocalRunner().run([str(script)])


def test_killed_by_a_signal_exits_128_plus_the_signal():
    result = LocalRunner().run(["sh", "-c", "kill -TERM $$"], check=False)

    assert result.exit_code == 128 + 15


def test_argv_must_be_a_list():
    with pytest.raises(TypeError):
        LocalRunner().run("xe vm-list")


def test_log_sees_each_result_and_failure_messages_hide_secrets():
    logged = []
    runner = LocalRunner(log=logged.append)

    with pytest.raises(CommandFailed) as failed:
        runner.run(["sh", "-c", 'echo "bad $0" >&2; exit 1', "chappassword=s3cr3t"],
                   secrets=["s3cr3t"])

    assert [r.exit_code for r in logged] == [1]
    assert "s3cr3t" not in failed.value.one_line()
    assert "s3cr3t" not in repr(logged[0])


# -- env: extra environment variables for one command --

def test_env_reaches_the_command_but_not_its_argv(env_dumper):
    secret = "hunter2-%s" % uuid.uuid4().hex

    result = LocalRunner().run(env_dumper + ["vm-list"], env={ENV_PREFIX + "SECRET": secret})

    argv, env = decode_dumped_env(result.stdout)
    assert argv == ["vm-list"]
    assert env == {ENV_PREFIX + "SECRET": secret}
    assert secret not in " ".join(result.argv)


def test_env_adds_to_the_runner_environment_for_one_command(env_dumper):
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), ENV_PREFIX + "BASE": "b",
            ENV_PREFIX + "BOTH": "runner"}
    runner = LocalRunner(env=base)

    with_env = runner.run(env_dumper, env={ENV_PREFIX + "BOTH": "call", ENV_PREFIX + "NEW": "n"})
    without = runner.run(env_dumper)

    assert decode_dumped_env(with_env.stdout)[1] == {
        ENV_PREFIX + "BASE": "b", ENV_PREFIX + "BOTH": "call", ENV_PREFIX + "NEW": "n"}
    assert decode_dumped_env(without.stdout)[1] == {
        ENV_PREFIX + "BASE": "b", ENV_PREFIX + "BOTH": "runner"}
    assert base[ENV_PREFIX + "BOTH"] == "runner"  # the runner's own dict is untouched
    assert not [name for name in os.environ if name.startswith(ENV_PREFIX)]


def test_env_values_arrive_byte_for_byte(env_dumper, tmp_path):
    values = hostile_args(tmp_path / "canary")
    env = dict((ENV_PREFIX + "V%d" % i, value) for i, value in enumerate(values))

    result = LocalRunner().run(env_dumper, env=env)

    assert decode_dumped_env(result.stdout)[1] == env


def test_env_values_are_hidden_in_failures_and_logs():
    secret = "hunter2-%s" % uuid.uuid4().hex
    logged = []

    with pytest.raises(CommandFailed) as failed:
        LocalRunner(log=logged.append).run(
            ["sh", "-c", 'echo "login with $%sSECRET failed" >&2; exit 1' % ENV_PREFIX],
            env={ENV_PREFIX + "SECRET": secret})

    assert "login with <redacted> failed" in failed.value.one_line()
    for text in (failed.value.one_line(), repr(failed.value), repr(logged[0])):
        assert secret not in text


@pytest.mark.parametrize("name", ["1ABC", "A B", "A=B", "", "A-B", "\u00c9T\u00c9", None])
def test_bad_env_names_are_refused_before_anything_runs(name, tmp_path):
    canary = tmp_path / "canary"

    with pytest.raises((ValueError, TypeError)):
        LocalRunner().run(["touch", str(canary)], env={name: "x"})

    assert not canary.exists()


@pytest.mark.parametrize("value", ["pass\0word", b"password", 42])
def test_bad_env_values_are_refused_without_showing_them(value, tmp_path):
    canary = tmp_path / "canary"

    with pytest.raises((ValueError, TypeError)) as refused:
        LocalRunner().run(["touch", str(canary)], env={"XE_EXTRA_ARGS": value})

    assert "XE_EXTRA_ARGS" in str(refused.value)
    assert "pass" not in str(refused.value) and "42" not in str(refused.value)
    assert not canary.exists()
