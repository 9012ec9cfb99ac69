"""The DR workflows over a real OpenSSH sshd on 127.0.0.1, with both SSH implementations: the
same results as on dom0 itself."""

import os

import pytest

from xe_dr.lab import adapter as lab_adapter

from tests.fixtures_lab import make_lab
from tests.fixtures_workflow import Drill
from tests.test_drill_run import adapter, without_last_drill
from tests.test_workflows import assert_partly_failed_by_the_unprotected, enable_protection

# The slow tier (tests/conftest.py): whole runs over a real sshd, with both SSH implementations.
pytestmark = pytest.mark.slow


@pytest.fixture(params=["paramiko", "openssh"])
def ssh_drill(request, tmp_path, sshd, sshd_known_hosts, ssh_client_env):
    if request.param == "paramiko":
        pytest.importorskip("paramiko")
    transport = ["-H", "%s@%s:%d" % (sshd.user, sshd.host, sshd.port), "--ssh", request.param,
                 "-i", sshd.client_key, "--known-hosts", sshd_known_hosts]
    if request.param == "openssh":
        transport += ["--ssh-config", os.devnull]
    return Drill(make_lab(tmp_path / "lab"), str(tmp_path / "state"), transport)


# With paramiko only: the drill below runs a whole run through the OpenSSH binary (CI's time).
@pytest.mark.parametrize("ssh_drill", ["paramiko"], indirect=True)
def test_test_failover_and_cleanup_over_ssh(ssh_drill):
    drill = ssh_drill
    enable_protection(drill)
    before = drill.snapshot("B")
    drill.lab.mirror("break")
    result = drill.xedr("B", "--json", "failover", "--test", "--all", "--power", "paused",
                        *drill.storage_args("B"))
    assert_partly_failed_by_the_unprotected(result)  # as on dom0 itself
    assert result.json["items"] and any(i.get("recovered_vms") for i in result.json["items"])
    paused = drill.lab.ok("B", "vm-list", "power-state=paused", "params=uuid", "--minimal")
    assert paused.values
    cleanup = drill.xedr("B", "cleanup", "--yes", result.json["run"])
    assert cleanup.code == 0, cleanup
    assert drill.snapshot("B") == before


def test_doctor_over_ssh_names_the_transport(ssh_drill):
    result = ssh_drill.xedr("A", "--json", "doctor")
    assert result.code == 0, result
    assert result.json["transport"].startswith("ssh ")
    assert len(result.json["hosts"]) == 2


# OpenSSH alone (a workstation without paramiko driving a master): what a drill sends over
# SSH is xe calls, as a test failover's, which the test above runs with both implementations;
# the drill's own part is where the adapter runs (never over SSH), the same with either.
@pytest.mark.parametrize("ssh_drill", ["openssh"], indirect=True)
def test_a_drill_over_ssh_runs_xe_on_the_master_and_the_adapter_here(ssh_drill, sshd):
    drill = ssh_drill
    here = Drill(drill.lab, drill.state_dir)  # the setup, not under test, without SSH's cost
    here.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    here.ok("B", "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")
    before, mark = drill.snapshot("B"), len(drill.lab.call_log())
    result = drill.xedr("B", "--json", "drill", "--adapter", adapter(drill), "--vapp", "erp",
                        *drill.storage_args("B"))
    assert result.code == 0, result
    report = result.json
    assert report["mode"] == "drill" and report["verdict"] == "verified"
    assert report["vms"] and all(vm["verified"] for vm in report["vms"]), report["vms"]
    assert report["cleanup"]["failures"] == []
    assert sorted(report["cleanup"]["released"]) == sorted(
        c["scsiid"] for c in report["copies"])
    assert without_last_drill(drill.snapshot("B")) == without_last_drill(before)
    # xe ran on the master over SSH (a child of sshd's session, neither this process nor its
    # child), the adapter here (a child of this xe-dr), in the drill and in its cleanup
    xe_calls = [c for c in drill.lab.call_log()[mark:] if "via" not in c]  # not XenAPI's
    assert xe_calls and all(c["site"] == "B" for c in xe_calls)
    assert not [c for c in xe_calls if os.getpid() in (c["pid"], c["ppid"])]
    adapter_calls = lab_adapter.calls(drill.lab.lab)
    assert [c["verb"] for c in adapter_calls if c["verb"] in ("copy", "release")] == [
        "copy", "release"]
    assert {c["ppid"] for c in adapter_calls} == {os.getpid()}
    for run in (report["run"], report["cleanup"]["run"]):
        text = drill.xedr("B", "report", run)
        assert "Transport       ssh %s@%s:%d (openssh)\n" % (
            sshd.user, sshd.host, sshd.port) in text.out, text
