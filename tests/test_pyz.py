"""scripts/build-pyz: one file that dom0's Python 3.6 runs with the standard library alone.

The pyz is built into a temporary directory and run with pyenv's Python 3.6.15 (and the
Python running the tests) isolated from the checkout: no PYTHONPATH, no site packages, a
clean environment. The lab it talks to is created by this process, from the checkout.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import slow

from xe_dr import __version__

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "scripts", "build-pyz")
PLUGIN = os.path.join(ROOT, "host-plugins", "xe-dr")
CI = os.environ.get("CI") == "true"


def _pyenv_python36():
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    pyenv = shutil.which("pyenv")
    if pyenv:
        found = subprocess.run([pyenv, "root"], stdout=subprocess.PIPE,
                               universal_newlines=True)
        if found.returncode == 0 and found.stdout.strip():
            root = found.stdout.strip()
    return os.path.join(root, "versions", "3.6.15", "bin", "python")


PY36 = _pyenv_python36()


def _interpreter(which):
    if which == "current":
        return sys.executable
    if which != "python3.6.15":
        path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(PY36))),
                            which[len("python"):], "bin", "python")
        if not os.access(path, os.X_OK):
            pytest.skip("pyenv has no Python %s here" % which[len("python"):])
        return path
    if not os.access(PY36, os.X_OK):
        if CI:
            pytest.fail("pyenv's Python 3.6.15 is missing at %s (required when CI=true)" % PY36)
        pytest.skip("pyenv's Python 3.6.15 is not installed (%s)" % PY36)
    return PY36


@pytest.fixture(scope="module")
def pyz(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("pyz") / "xe-dr.pyz")
    result = subprocess.run([sys.executable, BUILD, out], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from xe_dr.lab import world
    root = str(tmp_path_factory.mktemp("lab") / "lab")
    world.create(root)
    return root


def _clean_env(home):
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "LC_ALL": "C.UTF-8"}


def run_pyz(interpreter, pyz, *args):
    """Runs the pyz isolated: -s -E -S (no user site, no PYTHON* variables, no site
    packages), a clean environment, from a directory outside the checkout."""
    home = os.path.dirname(pyz)
    return subprocess.run([interpreter, "-s", "-E", "-S", pyz] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=_clean_env(home), cwd=home, timeout=120)


# -- the archive --------------------------------------------------------------------------------

def test_archive_layout(pyz):
    with open(pyz, "rb") as handle:
        assert handle.readline() == b"#!/usr/bin/env python3\n"
    assert os.stat(pyz).st_mode & stat.S_IXUSR
    with zipfile.ZipFile(pyz) as archive:
        names = archive.namelist()
    assert "__main__.py" in names and "xe_dr/cli/__init__.py" in names
    assert not [n for n in names if n.startswith("xe_dr/lab/") or n == "xe_dr/lab"]
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n
                or n.endswith(".pyc")]


def test_the_same_tree_gives_the_same_bytes(pyz, tmp_path):
    again = str(tmp_path / "again.pyz")
    subprocess.run([sys.executable, BUILD, again], check=True, stderr=subprocess.PIPE, cwd=ROOT)
    with open(pyz, "rb") as first, open(again, "rb") as second:
        assert first.read() == second.read()


def test_the_host_plugin_is_embedded(pyz):
    if not os.path.exists(PLUGIN):
        pytest.skip("host-plugins/xe-dr is not in this checkout")
    with open(PLUGIN, "rb") as handle:
        plugin = handle.read()
    with zipfile.ZipFile(pyz) as archive:
        assert archive.read("xe_dr/host-plugins/xe-dr") == plugin


def test_plugin_source_from_the_checkout():
    if not os.path.exists(PLUGIN):
        pytest.skip("host-plugins/xe-dr is not in this checkout")
    from xe_dr.plugin_source import plugin_bytes
    with open(PLUGIN, "rb") as handle:
        assert plugin_bytes() == handle.read()


# -- running it ---------------------------------------------------------------------------------

# dom0's Pythons that run xe-dr: 3.6 (XenServer 8, XCP-ng 8.3), 3.12 (XCP-ng 9); the current
# one is 3.11 here (XenServer 9).
INTERPRETERS = ["python3.6.15", pytest.param("python3.12.1", marks=slow), "current"]


@pytest.mark.parametrize("which", INTERPRETERS)
def test_version_and_help(pyz, which):
    python = _interpreter(which)
    result = run_pyz(python, pyz, "--version")
    assert (result.returncode, result.stdout.strip()) == (0, "xe-dr " + __version__), \
        result.stderr
    result = run_pyz(python, pyz, "--help")
    assert result.returncode == 0, result.stderr
    for command in ("doctor", "status", "failover", "cleanup"):
        assert command in result.stdout
    result = run_pyz(python, pyz, "--bogus")
    assert result.returncode == 64


@pytest.mark.parametrize("which", INTERPRETERS)
def test_plugin_source_from_the_pyz(pyz, which):
    if not os.path.exists(PLUGIN):
        pytest.skip("host-plugins/xe-dr is not in this checkout")
    code = ("import sys; sys.path.insert(0, %r); import xe_dr.plugin_source as p; "
            "sys.stdout.write('%%s %%d' %% (p.__file__, len(p.plugin_bytes())))" % pyz)
    home = os.path.dirname(pyz)
    result = subprocess.run([_interpreter(which), "-s", "-E", "-S", "-c", code],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, env=_clean_env(home), cwd=home)
    assert result.returncode == 0, result.stderr
    where, size = result.stdout.split()
    assert where.startswith(pyz + os.sep)  # imported from the pyz, not from the checkout
    assert int(size) == os.path.getsize(PLUGIN)


@pytest.mark.parametrize("which", INTERPRETERS)
def test_doctor_against_the_lab(pyz, lab, which):
    xe = os.path.join(lab, "bin", "xe-A")
    result = run_pyz(_interpreter(which), pyz, "--xe", xe, "--json", "doctor")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["transport"] == "local" and report["xe"] == xe
    assert report["pool"]["name_label"] == "Site A"
    assert report["hosts"] and report["problems"] == []


@pytest.mark.parametrize("which", INTERPRETERS)
def test_status_against_the_lab(pyz, lab, which):
    xe = os.path.join(lab, "bin", "xe-A")
    result = run_pyz(_interpreter(which), pyz, "status", "--xe", xe, "--json", "--vms")
    # a fresh lab replicates nothing yet: status says so, with exit 1
    assert result.returncode == 1, result.stderr
    status = json.loads(result.stdout)
    assert status["replication"] == [] and status["problems"]
    assert status["vms"] and {vm["class"] for vm in status["vms"]} <= {
        "protected", "at-risk", "unrecoverable", "ignored"}
    text = run_pyz(_interpreter(which), pyz, "--xe", xe, "status")
    assert text.returncode == 1 and "PROBLEM: no SR carries this pool's replicated metadata" \
        in text.stdout


@pytest.mark.parametrize("which", INTERPRETERS)
def test_a_test_failover_and_its_cleanup_through_the_pyz(pyz, tmp_path, which):
    """What an administrator runs on dom0 with only the pyz: a test failover at site B, then
    its cleanup, leaving site B as it was (including the plugin pushed from the pyz)."""
    from tests.fixtures_lab import make_lab
    from tests.fixtures_workflow import Drill
    drill = Drill(make_lab(tmp_path / "lab"), str(tmp_path / "state"))
    drill.lab.enable_replication()
    drill.lab.mirror("break")
    before = drill.snapshot("B")
    interpreter = _interpreter(which)
    xe_b = drill.lab.xe_path("B")
    common = ["--xe", xe_b, "--state-dir", drill.state_dir]
    plugin = run_pyz(interpreter, pyz, "plugin", "install", "--host-root",
                     os.path.join(drill.lab.root, "hosts", "{uuid}"), *common)
    assert plugin.returncode == 0, plugin.stderr
    failover = run_pyz(interpreter, pyz, "--json", "failover", "--test", "--all",
                       "--power", "paused", *(common + drill.storage_args("B")))
    # With the plugin the lab's VMs on unreplicated storage are left out of --all as
    # unprotected, without failing it (tests/test_workflows.py UNPROTECTED).
    assert failover.returncode == 0, failover.stderr
    report = json.loads(failover.stdout)
    assert report["plugin"] is True
    assert any(item.get("recovered_vms") for item in report["items"])
    cleanup = run_pyz(interpreter, pyz, "--yes", "cleanup", report["run"], *common)
    assert cleanup.returncode == 0, cleanup.stderr
    after = drill.snapshot("B")
    # The only difference left is the plugin file on the hosts (not in the database).
    assert after == before
