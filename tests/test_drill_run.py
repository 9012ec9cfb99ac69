"""``xe-dr drill`` end to end on the lab (issue 17): the array's copies attached instead of
the replicas while the mirror keeps replicating, the VMs booted in isolation and verified,
the verdict written on the DR pool, then everything undone and the copies released, site B
and the array as they were."""

import json

import pytest

pytest.importorskip("xe_dr.dr.verify")  # until the verification module is on main


@pytest.fixture
def site(drill):
    """Site A protected (replication on every mirrored SR, the mirror running); the plugin at
    B, so that --all leaves out the VMs on storage that is not replicated."""
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    drill.ok("B", "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")
    return drill


def adapter(drill):
    return drill.lab.lab.path("bin", "storage-adapter")


def mirrors(drill):
    return dict((lun, (entry.get("mirror") or {}).get("state"))
                for lun, entry in drill.lab.array()["luns"].items())


def adapter_calls(drill):
    with open(drill.lab.lab.path("adapter.jsonl")) as handle:
        return [json.loads(line)["verb"] for line in handle]


def without_last_drill(snapshot):
    for pool in snapshot["pool"].values():
        pool["other_config"] = dict((k, v) for k, v in pool["other_config"].items()
                                    if k != "xe-dr-last-drill")
    return snapshot


def test_a_drill_verifies_every_protected_vm_and_leaves_site_b_and_the_mirror_as_before(site):
    before, mirrored = site.snapshot("B"), mirrors(site)
    result = site.xedr("B", "--json", "drill", "--adapter", adapter(site), "--all",
                       *site.storage_args("B"))
    assert result.code == 0, result
    report = result.json
    assert report["mode"] == "drill" and report["verdict"] == "verified"
    assert report["vms"] and all(vm["verified"] for vm in report["vms"]), report["vms"]
    assert {vm["reason"] for vm in report["vms"]} == {"verified"} or all(
        vm["reason"] for vm in report["vms"])
    assert report["cleanup"]["failures"] == [] and report["cleanup"]["released"]
    assert adapter_calls(site)[-1] == "release" and "copy" in adapter_calls(site)
    assert mirrors(site) == mirrored  # replication never stopped
    pool = site.lab.ok("B", "pool-list", "--minimal").value
    mark = site.lab.ok("B", "pool-param-get", "uuid=" + pool, "param-name=other-config",
                       "param-key=xe-dr-last-drill").value.split()
    assert mark[1:] == ["verified", report["run"]]
    assert without_last_drill(site.snapshot("B")) == without_last_drill(before)
    # status at B holds the site to its drills
    status = site.xedr("B", "status", "--format", "nagios", "--warning", "drill-age=1d")
    assert "OK drill-age: last drill verified " in status.out, status
