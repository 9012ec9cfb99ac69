import io
import json
import os
import socket

import pytest

from tests.inprocess_xe import local_runner_for
from xe_dr import __version__
from xe_dr.cli import main
from xe_dr.cli.environment import Environment


def run_cli(argv, stdin="", local_runner=None):
    env = Environment(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={}, stdin_isatty=False, stdout_isatty=False, stderr_isatty=False,
                      local_runner=local_runner)
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def test_version():
    code, out, _ = run_cli(["--version"])
    assert code == 0 and out.strip() == "xe-dr " + __version__


def test_unknown_option_is_exit_64_with_one_line():
    code, out, err = run_cli(["--bogus"])
    assert code == 64
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("xe-dr: error: ")


def test_no_command_is_a_usage_error():
    code, _, err = run_cli([])
    assert code == 64 and "no command" in err


def test_help_lists_every_exit_status():
    code, out, _ = run_cli(["--help"])
    assert code == 0
    for status in ("0 ", "1 ", "2 ", "64", "69", "75", "77", "78"):
        assert "\n  " + status in out


# -- global options, before or after the command (man page, GLOBAL OPTIONS) --------------------

def _with(argv, **values):
    return [values.get(a, a) for a in argv]


@pytest.mark.parametrize("argv", [
    ["--json", "--state-dir", "STATE", "runs"],
    ["runs", "--json", "--state-dir", "STATE"],
    ["--json", "runs", "--state-dir", "STATE"],
    ["--state-dir", "STATE", "runs", "--json"],
])
def test_json_and_state_dir_before_or_after_the_command(tmp_path, argv):
    state = str(tmp_path / "state")
    code, out, err = run_cli(_with(argv, STATE=state))
    assert (code, err) == (0, ""), err
    assert json.loads(out) == {"schema": 1, "state_dir": state, "runs": [], "broken": []}


@pytest.mark.parametrize("argv", [
    ["--state-dir", "STATE", "runs"],
    ["runs", "--state-dir", "STATE"],
])
def test_without_json_the_same_command_prints_text(tmp_path, argv):
    state = str(tmp_path / "state")
    code, out, err = run_cli(_with(argv, STATE=state))
    assert (code, out, err) == (0, "no runs in %s\n" % state, "")


@pytest.mark.parametrize("argv", [
    ["--xe", "XE", "--state-dir", "STATE", "--json", "status"],
    ["status", "--xe", "XE", "--state-dir", "STATE", "--json"],
    ["--json", "status", "--xe", "XE", "--state-dir", "STATE"],
])
def test_xe_before_or_after_the_command_is_the_xe_that_runs(lab, tmp_path, argv):
    code, out, err = run_cli(_with(argv, XE=lab.xe_path("A"), STATE=str(tmp_path)),
                             local_runner=local_runner_for(lab.lab))
    assert code == 1, err  # the lab's site A: no SR carries its replicated metadata yet
    assert json.loads(out)["pool"]["name_label"] == "Site A"


@pytest.mark.parametrize("argv", [
    ["--xe", "XE", "--json", "plugin", "status"],
    ["plugin", "--xe", "XE", "status", "--json"],
    ["plugin", "status", "--xe", "XE", "--json"],
])
def test_global_options_reach_the_sub_command_of_a_command(lab, argv):
    code, out, err = run_cli(_with(argv, XE=lab.xe_path("A")),
                             local_runner=local_runner_for(lab.lab))
    assert code == 1, err  # the plugin is not installed on site A's hosts
    assert [h["name_label"] for h in json.loads(out)["hosts"]] == ["xcp-a1", "xcp-a2"]


def _closed_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_host_before_or_after_the_command_is_where_xe_dr_connects(tmp_path, before):
    host = "root@127.0.0.1:%d" % _closed_port()
    options = ["-H", host, "--ssh", "openssh", "--ssh-config", os.devnull,
               "--state-dir", str(tmp_path)]
    code, out, err = run_cli(options + ["status"] if before else ["status"] + options)
    assert (code, out) == (69, ""), err
    assert err.startswith("xe-dr: error: ssh to %s failed: " % host), err
    assert "Connection refused" in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("argv", [["-H", "", "runs"], ["runs", "-H", ""]])
def test_an_empty_host_is_refused_before_or_after_the_command(argv):
    code, out, err = run_cli(argv)
    assert (code, out) == (64, ""), err
    assert err.startswith("xe-dr: error: argument -H/--host: must not be empty"), err


# -- long options are never abbreviated ---------------------------------------------------------

def test_an_abbreviated_long_option_is_refused_not_guessed(tmp_path):
    # "--for" was taken as --force, "--dry" as --dry-run: in a DR tool a typo must not choose.
    for argv in (["failover", "--all", "--for"], ["failover", "--all", "--dry"],
                 ["--state", str(tmp_path), "runs"], ["runs", "--verb"],
                 ["replication", "enable", "--alert", "SR1"], ["--vers"]):
        code, out, err = run_cli(argv)
        assert code == 64, (argv, err)
        assert out == ""
        assert len(err.strip().splitlines()) == 1 and err.startswith("xe-dr: error: "), err
    assert not list(tmp_path.iterdir())
    code, _, err = run_cli(["failover", "--all", "--for"])
    assert "unrecognized arguments: --for" in err


def test_grouped_short_flags_still_work(tmp_path):
    # allow_abbrev=False would break -vv before Python 3.8 (bpo-26967); the suite runs on 3.6
    code, out, err = run_cli(["-vv", "--state-dir", str(tmp_path), "--json", "runs"])
    assert code == 0, err
    code, out, err = run_cli(["--state-dir", str(tmp_path), "runs", "-vqy"])
    assert code == 0, err
    code, out, err = run_cli(["--state-dir=" + str(tmp_path), "runs", "-vv"])
    assert code == 0, err
