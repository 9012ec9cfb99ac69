"""Bad values on the command line: each is a usage error (exit 64) of one line, found before
anything is read, connected or created."""

import os

import pytest

from tests.fixtures_workflow import run_cli


def refused(argv, environ=None, *words):
    code, out, err = run_cli(argv, environ)
    assert code == 64, (argv, code, err)
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("xe-dr: error: "), err
    for word in words:
        assert word in err, (word, err)
    return err


@pytest.fixture
def xe(tmp_path):
    """An xe that records each call: nothing may reach the pool."""
    calls = tmp_path / "xe-calls"
    path = tmp_path / "xe"
    path.write_text('#!/bin/sh\necho "$*" >> %s\nexit 1\n' % calls)
    path.chmod(0o755)
    return str(path), calls


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "1e400", "1e12", "soon",
                                   ""])
def test_timeout_must_be_a_positive_number_of_seconds(tmp_path, xe, value):
    xe_path, calls = xe
    refused(["--xe", xe_path, "--state-dir", str(tmp_path / "s"), "--timeout", value,
             "status"], None, "--timeout")
    refused(["--state-dir", str(tmp_path / "s"), "runs", "--timeout=" + value], None,
            "--timeout")
    assert not calls.exists() and not (tmp_path / "s").exists()


BAD_RUN_IDS = ["a\nb", "../etc", "a/b", "..", ".", "run\x1b[2J", "run\u202eevil", " ",
               "x" * 300, ""]


@pytest.mark.parametrize("bad", BAD_RUN_IDS)
def test_a_bad_run_id_is_refused_and_creates_nothing(tmp_path, xe, bad):
    xe_path, calls = xe
    state = tmp_path / "state"
    common = ["--xe", xe_path, "--state-dir", str(state), "--yes"]
    refused(common + ["cleanup", bad], None, "not a run id")
    refused(common + ["failover", "--test", "--all", "--resume", bad], None, "not a run id")
    refused(common + ["failback", "--all", "--resume", bad], None, "not a run id")
    if "/" not in bad and bad not in (".", ".."):  # report takes a run directory's path too
        refused(common + ["report", bad], None, "not a run id")
    assert not calls.exists(), calls.read_text()
    assert not state.exists()


def test_an_explicitly_empty_host_is_refused_not_local(tmp_path, xe):
    # -H "$MASTER" with MASTER unset must not act on the local pool
    xe_path, calls = xe
    err = refused(["-H", "", "--xe", xe_path, "--state-dir", str(tmp_path / "s"), "status"],
                  None, "-H/--host", "empty")
    refused(["--xe", xe_path, "status", "--host="], None, "-H/--host")
    assert not calls.exists()
    # an empty XE_DR_HOST is an unset one: local, as documented
    code, _, err = run_cli(["--xe", xe_path, "--state-dir", str(tmp_path / "s"), "status"],
                           {"XE_DR_HOST": ""})
    assert code != 64 and calls.exists(), err


@pytest.mark.parametrize("option", ["--xe", "--state-dir", "-i", "--known-hosts",
                                    "--ssh-config"])
def test_other_empty_paths_are_refused(tmp_path, xe, option):
    xe_path, calls = xe
    argv = ["--xe", xe_path, "--state-dir", str(tmp_path / "s"), option, "", "status"]
    refused(argv, None, option, "empty")
    assert not calls.exists()


def test_report_of_a_directory_that_is_no_run(tmp_path):
    for directory in ("/etc", str(tmp_path), str(tmp_path) + "/"):
        refused(["--state-dir", str(tmp_path / "s"), "report", directory], None,
                "not a run directory")
    refused(["--state-dir", str(tmp_path / "s"), "report", "/etc/passwd"], None,
            "not a run directory")
    refused(["--state-dir", str(tmp_path / "s"), "report", str(tmp_path / "missing/")], None,
            "no run directory")
    assert os.listdir(str(tmp_path)) == ["xe"] or not os.path.exists(str(tmp_path / "s"))


@pytest.mark.parametrize("option", ["-i", "--known-hosts", "--ssh-config",
                                    "--chap-password-file"])
def test_a_directory_where_a_file_is_expected(tmp_path, xe, option):
    xe_path, calls = xe
    argv = ["--xe", xe_path, "--state-dir", str(tmp_path / "s"), "--yes", "failover",
            "--test", "--all", "--target", "10.0.0.1", "--iqn", "iqn.x", "--scsiid", "36001",
            option, str(tmp_path)]
    refused(argv, None, option, "is a directory")
    assert not calls.exists()


def test_a_port_out_of_range(tmp_path, xe):
    xe_path, calls = xe
    for value in ("0", "65536", "-1", "x"):
        refused(["--xe", xe_path, "probe", "--target", "10.0.0.1", "--port", value], None,
                "--port")
    assert not calls.exists()


@pytest.mark.parametrize("command", [["doctor"], ["plugin", "install"]])
@pytest.mark.parametrize("template", ["/lab/hosts/{id}", "/lab/hosts/{0}", "/lab/{uuid",
                                      "/lab/{uuid.x}"])
def test_a_host_root_template_names_only_uuid_and_name(tmp_path, xe, command, template):
    xe_path, calls = xe
    refused(["--xe", xe_path, "--state-dir", str(tmp_path / "s")] + command +
            ["--host-root", template], None, "--host-root", "{uuid}")
    assert not calls.exists()
