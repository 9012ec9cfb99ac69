"""LocalRunner: commands on this machine, as when xe-dr runs on dom0 itself."""

import os
import sys
import time

import pytest

from xe_dr.exitcodes import ExitCode
from xe_dr.runner import CommandFailed, CommandTimedOut, Result, TransportFailed
from xe_dr.runner.base import DEFAULT_TIMEOUT, ProgramNotFound
from xe_dr.runner.local import LocalRunner

from tests.fixtures_sshd import (
    BIG_OUTPUT_PROGRAM,
    big_output_expected,
    decode_dumped_argv,
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
        LocalRunner().run(["sh", "-c", 'echo $$ > "$0"; exec sleep 30', str(pid_file)],
                          timeout=0.5)

    assert time.time() - started < 5
    assert timed_out.value.exit_code == ExitCode.TEMPORARY
    with pytest.raises(OSError):  # the command is gone (killed and reaped)
        os.kill(int(pid_file.read_text()), 0)


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
