import io

from xe_dr import __version__
from xe_dr.cli import main
from xe_dr.cli.environment import Environment


def run_cli(argv, stdin=""):
    env = Environment(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={}, stdin_isatty=False, stdout_isatty=False, stderr_isatty=False)
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


def test_global_options_are_accepted_after_the_command():
    # parsed without error: the lab command is dispatched with --json after it
    code, _, err = run_cli(["lab", "--help"])
    assert code == 0, err


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
