"""The DR workflows over a real OpenSSH sshd on 127.0.0.1, with both SSH implementations: the
same results as on dom0 itself."""

import os

import pytest

from tests.fixtures_lab import make_lab
from tests.fixtures_workflow import Drill
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
