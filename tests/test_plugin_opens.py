"""Issue 4: an inventory plus the recovery of 100 VMs (those of a 200-VM lab whose disks are
on replicated storage) opens each foreign database at most twice with the plugin, against
once per call without it (the lab's call log counts opens, which xapi serialises behind one
mutex; the plain-xe side is shown on a smaller lab, as its count grows per call)."""

import os

import pytest

from tests.fixtures_lab import make_lab
from tests.fixtures_workflow import Drill
from tests.test_workflows import install_plugin


def opens_since(lab, mark):
    return sum(entry.get("db_opens", 0) for entry in lab.call_log()[mark:])


@pytest.fixture
def attached(tmp_path):
    def make(name, vms):
        drill = Drill(make_lab(tmp_path / name, vms=vms, vapps=vms // 20, seed=3),
                      str(tmp_path / (name + "-state")))
        drill.lab.enable_replication()
        drill.lab.failover_task("B")  # the mirrored SRs attached at B (and scanned)
        return drill
    return make


def test_one_open_to_read_and_one_to_recover_with_the_plugin(attached):
    drill = attached("plugin", 200)
    install_plugin(drill, "B")
    mark = len(drill.lab.call_log())
    result = drill.xedr("B", "--json", "failover", "--test", "--all")
    # The lab's VMs on unreplicated storage are known to the plugin as unprotected: left out
    # of --all without failing it (tests/test_workflows.py UNPROTECTED).
    assert result.code == 0, result
    recovered = [i for i in result.json["items"] if i.get("recovered_vms")]
    assert sum(len(i["recovered_vms"]) for i in recovered) >= 100
    assert opens_since(drill.lab, mark) <= 2


def storage_verdicts(report):
    return sorted((c["objects"][0], c["message"]) for c in report["checks"]
                  if c["name"].startswith("storage:"))


def test_without_the_plugin_each_recovery_is_its_own_storage_check(attached):
    """Plain xe opens the database again for every call, one at a time (xapi's mutex): the
    real run leaves each object's storage assert to its recovery, which xapi makes before it
    changes anything. The verdicts are the dry run's, which asserts each object first."""
    drill = attached("xe", 40)
    dry = drill.xedr("B", "--json", "--no-plugin", "failover", "--test", "--all", "--dry-run")
    assert dry.code == 2, dry  # as the run below ends
    asserted = [c for c in drill.lab.call_log() if c["command"].endswith("-assert-can-be-"
                                                                         "recovered")]
    mark = len(drill.lab.call_log())
    result = drill.xedr("B", "--json", "--no-plugin", "failover", "--test", "--all")
    # Plain xe cannot tell those VMs from ones whose SR is missing: a partial success.
    assert result.code == 2, result
    calls = drill.lab.call_log()[mark:]
    assert not [c for c in calls if "assert-can-be-recovered" in c["command"]]
    recovers = [c for c in calls if c["command"].endswith("-recover")]
    reads = [c for c in calls if c.get("db_opens") and c not in recovers]
    assert len(reads) == 5  # the inventory (pool, hosts, VMs, vApps) and its networks
    assert opens_since(drill.lab, mark) == len(reads) + len(recovers)
    refused = storage_verdicts(result.json)
    assert refused and refused == storage_verdicts(dry.json)
    assert len(asserted) >= len(recovers)
    excluded = dict((i["uuid"], i["excluded"]) for i in result.json["items"])
    assert all(excluded[uuid] == message for uuid, message in refused)
    assert result.json["failures"] == []


def test_a_whole_failover_opens_each_database_once_and_starts_while_recovering(attached):
    """The plugin keeps the database its inventory opened for the run's recoveries, which
    come in waves (one per order group of standalone VMs): the first group starts while the
    later ones are recovered, and nothing is left open at the end."""
    drill = attached("waves", 60)
    install_plugin(drill, "B")
    mark = len(drill.lab.call_log())
    result = drill.xedr("B", "--json", "failover", "--test", "--all", "--power", "paused")
    assert result.code == 0, result  # with the plugin, as in the first test
    calls = drill.lab.call_log()[mark:]
    assert opens_since(drill.lab, mark) == 1
    recovers = [c for c in calls if c["command"] == "host-call-plugin" and
                "fn=recover" in c["args"]]
    starts = [c for c in calls if c["command"] == "vm-start"]
    orders = sorted({i["order"] for i in result.json["items"]
                     if i["kind"] == "vm" and i.get("recovered_vms")})
    assert len(orders) > 1 and len(recovers) == len(orders)
    assert starts and min(c["start"] for c in starts) < recovers[-1]["start"]
    releases = [c for c in calls if c["command"] == "host-call-plugin" and
                "fn=release" in c["args"]]
    assert len(releases) == 1
    assert not os.listdir(os.path.join(drill.lab.root, "sessions"))
    kept = [n for root, _, names in os.walk(os.path.join(drill.lab.root, "hosts"))
            for n in names if n.startswith("foreign-")]
    assert kept == []


def test_a_run_stopped_by_a_precheck_closes_the_database_it_read_ahead(attached):
    """A run that attaches nothing reads the metadata beside its first checks; when one of
    those stops it (HA on for a test), the database the plugin opened for it is closed."""
    drill = attached("blocked", 40)
    install_plugin(drill, "B")
    drill.lab.ok("B", "pool-ha-enable")
    mark = len(drill.lab.call_log())
    result = drill.xedr("B", "--json", "failover", "--test", "--all")
    assert result.code == 1, result
    assert [c["name"] for c in result.json["checks"] if c["verdict"] == "blocking"] == ["ha"]
    calls = drill.lab.call_log()[mark:]
    assert not [c for c in calls if c["command"] == "host-call-plugin" and
                "fn=recover" in c["args"]]
    kept = [n for root, _, names in os.walk(os.path.join(drill.lab.root, "hosts"))
            for n in names if n.startswith("foreign-")]
    assert kept == []
    assert not os.listdir(os.path.join(drill.lab.root, "sessions"))
