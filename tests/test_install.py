"""Issue 15: ``pip install`` into a fresh virtual environment gives an xe-dr that drives the lab,
host plugin included.

The wheel is built offline from a copy of the checkout (``pip wheel --no-deps
--no-build-isolation``: the ``wheel`` package of the test extra, as scripts/run-tests installs
it), installed with the new environment's own pip (``--no-index --no-deps``), and its
``xe-dr`` command runs a test failover and its cleanup from a directory outside the
checkout, with no PYTHONPATH: everything the lab and the plugin read comes from the wheel.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CI = os.environ.get("CI") == "true"
# What setup.py builds from (a copy, so that the build leaves nothing in the checkout).
SOURCES = ("setup.py", "MANIFEST.in", "README.md", "xe_dr", "host-plugins", "man")
MIRRORED = ("iSCSI DR 1", "iSCSI DR 2", "FC DR 3")

pytestmark = slow


def _can_build_wheels():
    """setuptools builds a wheel with the ``wheel`` package, or by itself from 70.1 on."""
    try:
        import wheel  # noqa: F401
        return True
    except ImportError:
        pass
    try:
        import setuptools.command.bdist_wheel  # noqa: F401
        return True
    except ImportError:
        return False


def _quiet_env(**extra):
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    env.update(extra)
    return env


def _run(argv, **kw):
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=600, **kw)
    assert result.returncode == 0, "%s\n--- stdout\n%s\n--- stderr\n%s" % (
        argv, result.stdout[-3000:], result.stderr[-3000:])
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if not _can_build_wheels():
        message = ("the wheel package is missing from %s (scripts/run-tests installs the test "
                   "extra, which has it)" % sys.executable)
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    top = tmp_path_factory.mktemp("wheel")
    source = str(top / "source")
    os.mkdir(source)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        path = os.path.join(ROOT, name)
        if not os.path.exists(path):
            continue
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(source, name), ignore=ignore)
        else:
            shutil.copy(path, source)
    dist = str(top / "dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-w", dist, source], env=_quiet_env(), cwd=str(top))
    built = [n for n in os.listdir(dist) if n.endswith(".whl")]
    assert len(built) == 1, built
    return os.path.join(dist, built[0])


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh virtual environment with the wheel installed by its own pip: its bin dir."""
    venv = str(tmp_path_factory.mktemp("venv") / "env")
    _run([sys.executable, "-m", "venv", venv])
    python = os.path.join(venv, "bin", "python")
    _run([python, "-m", "pip", "install", "--no-index", "--no-deps", wheel],
         env=_quiet_env(PYTHONPATH=""))
    return os.path.join(venv, "bin")


def test_the_wheel_carries_the_whole_package_and_the_plugin(wheel):
    """Every file of the package in the checkout (the lab's XenAPI stand-ins, templates and
    README among them), the host plugin as package data, and the man pages."""
    expected = set()
    for top, dirs, names in os.walk(os.path.join(ROOT, "xe_dr")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = os.path.relpath(top, ROOT).replace(os.sep, "/")
        expected.update("%s/%s" % (rel, n) for n in names if not n.endswith(".pyc"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        with open(os.path.join(ROOT, "host-plugins", "xe-dr"), "rb") as plugin:
            assert archive.read("xe_dr/host-plugins/xe-dr") == plugin.read()
    assert sorted(expected - names) == []
    assert "xe_dr/lab/xenapi/XenAPIPlugin.py" in names
    assert {n.rsplit("/", 1)[-1] for n in names if "/share/man/man8/" in n} == {
        "xe-dr.8", "xe-dr-plugin.8"}


class Installed(object):
    """The installed xe-dr, run as a user would: from ``home`` (outside the checkout), with no
    PYTHONPATH and the state directory under ``home``."""

    def __init__(self, bin_dir, home):
        self.bin_dir = bin_dir
        self.home = home
        self.lab = os.path.join(home, "lab")
        self.env = {"PATH": "%s:%s" % (bin_dir, os.environ.get("PATH", "/usr/bin:/bin")),
                    "HOME": home, "LC_ALL": "C.UTF-8",
                    "XE_DR_STATE_DIR": os.path.join(home, "state")}
        if os.environ.get("PYENV_ROOT"):
            self.env["PYENV_ROOT"] = os.environ["PYENV_ROOT"]

    def run(self, *args):
        return subprocess.run([os.path.join(self.bin_dir, "xe-dr")] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, env=self.env, cwd=self.home,
                              timeout=600)

    def ok(self, *args):
        result = self.run(*args)
        assert result.returncode == 0, (args, result.stdout[-3000:], result.stderr[-3000:])
        return result

    def site(self, site, *args):
        return self.run("--xe", os.path.join(self.lab, "bin", "xe-" + site), *args)

    def uuids(self, site, cls):
        out = _run([os.path.join(self.lab, "bin", "xe-" + site), cls + "-list", "params=uuid",
                    "--minimal"], env=self.env, cwd=self.home).stdout
        return sorted(u for u in out.strip().split(",") if u)

    def storage(self, site):
        """The probe options reaching the mirrored LUNs' copies at ``site`` (as scripts/drill
        finds them in ``lab show --json``)."""
        data = json.loads(self.ok("lab", "show", self.lab, "--json").stdout)
        args, iscsi = [], []
        for lun in sorted(data["luns"].values(), key=lambda l: l["copies"].get(site, "")):
            if lun["mirror"] == "not mirrored" or site not in lun["copies"]:
                continue
            if lun["transport"] == "iscsi":
                iscsi.append(lun["copies"][site])
            else:
                args += ["--hba-scsiid", lun["copies"][site]]
        portal = data["portals"][site]
        return ["--target", portal["address"], "--iqn", portal["iqn"]] + \
            [a for s in iscsi for a in ("--scsiid", s)] + args


def test_the_installed_command_runs_a_test_failover_with_the_plugin_and_cleans_up(
        installed, tmp_path):
    home = str(tmp_path / "home")
    os.mkdir(home)
    user = Installed(installed, home)
    package = _run([os.path.join(installed, "python"), "-c",
                    "import xe_dr; print(xe_dr.__file__)"], env=user.env, cwd=home).stdout
    assert package.startswith(os.path.dirname(installed)), package
    user.ok("lab", "create", user.lab)
    with open(os.path.join(user.lab, "bin", "xe-B")) as handle:
        assert ROOT not in handle.read()  # the lab's xe runs the installed package
    assert user.site("A", "replication", "enable", *MIRRORED).returncode == 0
    installing = user.site("B", "plugin", "install", "--host-root",
                           os.path.join(user.lab, "hosts", "{uuid}"))
    assert installing.returncode == 0, installing.stdout + installing.stderr
    assert "FAILED" not in installing.stdout and "installed version" in installing.stdout
    before = {cls: user.uuids("B", cls) for cls in ("vm", "sr", "appliance", "network")}
    user.ok("lab", "mirror", user.lab, "break")

    result = user.site("B", "--json", "failover", "--test", "--all", "--power", "paused",
                       *user.storage("B"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["outcome"] == "succeeded" and report["failures"] == []
    assert report["plugin"] is True and report["warnings"] == []
    recoveries = [e for e in report["journal"]
                  if e["event"] == "begin" and e["step"].startswith("recover:")]
    assert recoveries and all(e["data"]["via"] == "plugin" for e in recoveries)
    assert "plain xe" not in result.stderr
    recovered = [u for i in report["items"] for u in i.get("recovered_vms") or ()]
    assert recovered

    cleanup = user.site("B", "--json", "--yes", "cleanup", report["run"])
    assert cleanup.returncode == 0, cleanup.stdout[-3000:] + cleanup.stderr[-3000:]
    assert json.loads(cleanup.stdout)["outcome"] == "succeeded"
    after = {cls: user.uuids("B", cls) for cls in before}
    assert after == before
