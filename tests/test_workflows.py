"""End-to-end tests of the DR workflows through the CLI, on the lab, as an administrator runs
them (in-process CLI, local runner, the lab's fake xe as a real subprocess)."""

import json

import pytest


def enable_protection(drill):
    names = [uuid for uuid, _ in drill.lab.replicated_srs()]
    drill.ok("A", "replication", "enable", "--alerts", *names)


def recover_target(drill, *extra):
    """A test failover of everything at site B after the mirror is broken."""
    drill.lab.mirror("break")
    return drill.xedr("B", "--json", "failover", "--test", "--all",
                      *(drill.storage_args("B") + list(extra)))


def test_status_sees_unprotected_pool_then_protected_targets(drill):
    before = drill.xedr("A", "--json", "status")
    assert before.code == 1
    assert any("no SR carries" in p for p in before.json["problems"])
    enable_protection(drill)
    after = drill.xedr("A", "--json", "status")
    targets = after.json["replication"]
    assert len(targets) == len(drill.lab.replicated_srs())
    assert all(t["healthy"] for t in targets)
    classes = {vm["name_label"]: vm["class"] for vm in after.json["vms"]}
    assert "unrecoverable" in classes.values() and "at-risk" in classes.values()
    assert after.code == 1  # at-risk and unrecoverable VMs are problems


def test_status_exit_0_when_all_is_well(drill):
    enable_protection(drill)
    status = drill.xedr("A", "--json", "status").json
    for vm in status["vms"]:
        if vm["class"] in ("at-risk", "unrecoverable"):
            drill.lab.ok("A", "vm-param-add", "uuid=" + vm["uuid"], "param-name=tags",
                         "param-key=xe-dr-ignore")
    result = drill.xedr("A", "status")
    assert result.code == 0, result
    assert "OK: all is well" in result.out


def test_replication_refuses_nfs_before_calling_xe(drill):
    result = drill.xedr("A", "replication", "enable", "NFS VM storage")
    assert result.code == 1
    assert "LVM over iSCSI or HBA" in result.err
    assert not [c for c in drill.lab.call_log()
                if c["command"] == "sr-enable-database-replication"]


def test_inventory_lists_vapps_and_vms_from_the_newest_copy(drill):
    enable_protection(drill)
    drill.lab.failover_task("B")
    result = drill.ok("B", "--json", "inventory")
    sources = result.json["sources"]
    assert len(sources) == 1
    names = {vm["name_label"] for vm in sources[0]["vms"]}
    assert "web-01" in names


def test_test_failover_then_cleanup_leaves_site_b_as_before(drill):
    enable_protection(drill)
    before = drill.snapshot("B")
    result = recover_target(drill)
    assert result.code in (0, 2), result
    report = result.json
    recovered = [i for i in report["items"] if i.get("recovered_vms")]
    assert recovered, report
    assert not any(i.get("started") for i in report["items"])  # a test starts nothing
    vms_b = drill.lab.ok("B", "vm-list", "is-control-domain=false", "params=uuid",
                         "--minimal").values
    assert len(vms_b) > 2
    cleanup = drill.xedr("B", "cleanup", "--yes", report["run"])
    assert cleanup.code == 0, cleanup
    assert drill.snapshot("B") == before


def test_dry_run_changes_nothing(drill):
    enable_protection(drill)
    drill.lab.failover_task("B")  # storage attached already: the whole plan can be shown
    before = drill.snapshot("B")
    calls_before = len(drill.lab.call_log())
    result = drill.xedr("B", "--json", "failover", "--all", "--dry-run")
    assert result.code == 0, result
    assert result.json["commands"]
    assert drill.snapshot("B") == before
    writes = [c["command"] for c in drill.lab.call_log()[calls_before:]
              if not (c["command"].endswith("-list") or c["command"].endswith("-param-get")
                      or c["command"] in ("sr-probe", "host-call-plugin")
                      or c["command"].endswith("-assert-can-be-recovered"))]
    assert writes == []
