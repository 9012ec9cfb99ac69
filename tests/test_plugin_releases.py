"""The host plugin on each release's dom0 (issue 12): xapi runs a plugin by its first line,
so the interpreter is the one that line names on that host; `xe-dr plugin install` names
python3 where python3 imports XenAPI and XenAPIPlugin, else python. Real processes under
pyenv's builds of each release's Pythons (skipped where this machine lacks one)."""

import json
import os
import stat

import pytest

from tests.conftest import slow

pytestmark = slow

from xe_dr.lab import plugins, releases

PYVER = '''#!/usr/bin/env %s
import sys
import XenAPIPlugin


def version(session, args):
    return "%%d.%%d" %% sys.version_info[:2]


if __name__ == "__main__":
    XenAPIPlugin.dispatch({"version": version})
'''


def needs(release, name):
    version = releases.RELEASES[release]["pythons"][name][0]
    if plugins._pyenv_python(version) is None:
        pytest.skip("pyenv has no Python %s here" % version)
    return version


def install_pyver(lab, interpreter):
    for host in lab.ok("A", "host-list", "--minimal").values:
        path = os.path.join(lab.lab.plugin_dir(host), "pyver")
        with open(path, "w") as f:
            f.write(PYVER % interpreter)
        os.chmod(path, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


def call_pyver(lab):
    master = lab.ok("A", "pool-list", "params=master", "--minimal").value
    return lab.xe("A", "host-call-plugin", "host-uuid=" + master, "plugin=pyver",
                  "fn=version")


@pytest.mark.parametrize("release, name", [
    ("citrix-8.2", "python"), ("xcp-ng-8.3", "python"), ("xcp-ng-8.3", "python3"),
    ("xenserver-9", "python"), ("xenserver-9", "python3"), ("xcp-ng-9", "python3")])
def test_a_plugin_runs_under_the_interpreter_its_first_line_names(lab_factory, release, name):
    version = needs(release, name)
    lab = lab_factory(release=release)
    install_pyver(lab, name)
    assert call_pyver(lab).value == ".".join(version.split(".")[:2])


@pytest.mark.parametrize("release, name", [("citrix-8.2", "python3"), ("xcp-ng-9", "python"),
                                           ("xenserver-9", "python2")])
def test_an_interpreter_the_host_lacks_fails_as_exec_does(lab_factory, release, name):
    lab = lab_factory(release=release)
    install_pyver(lab, name)
    result = call_pyver(lab)
    assert result.code == 1
    assert result.err == ("There was a failure communicating with the plug-in.\n"
                          "status: non-zero exit\nstdout: \n"
                          "stderr: /usr/bin/env: '%s': No such file or directory\n\n" % name)


@pytest.mark.parametrize("release, chosen", [("citrix-8.2", "python"),
                                             ("xcp-ng-8.3", "python3"),
                                             ("xenserver-9", "python3"),
                                             ("xcp-ng-9", "python3")])
def test_plugin_install_chooses_per_host_and_the_plugin_reads_the_metadata(drill_factory,
                                                                          release, chosen):
    needs(release, chosen)
    drill = drill_factory(release=release)
    installed = drill.xedr("B", "--json", "plugin", "install", "--host-root",
                           drill.lab.root + "/hosts/{uuid}")
    assert installed.code == 0, installed
    assert {h["interpreter"] for h in installed.json["hosts"]} == {chosen}
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    drill.lab.failover_task("B")
    inventory = drill.xedr("B", "--json", "inventory")
    assert inventory.code == 0, inventory
    assert inventory.json["plugin"] is True
    [source] = inventory.json["sources"]
    assert source["via"] == "plugin" and source["vms"]
    assert all(vm["disks"] is not None for vm in source["vms"])
