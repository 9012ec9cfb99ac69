"""Never over a drill copy (issue 17): while an SR a drill introduced from the array's copy
of a replica is attached, a failover, a test or another drill refuses to start, naming the
drill and its cleanup, and ``status`` there is CRITICAL. A copy carries its replica's SR
uuid and drtask-create skips an SR already known, so a failover would otherwise recover
production from the drill's written-to copy."""

import pytest

DRILL_RUN = "20261205-120000-drill-0a1b"
VAPP = "erp"


@pytest.fixture
def copy_attached(drill):
    """Site B with SRs attached and tagged as a drill's (what a --keep drill, or a killed one
    not cleaned up, leaves): attached by a test, then tagged as the drill's."""
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    drill.lab.mirror("break")
    drill.ok("B", "failover", "--test", "--vapp", VAPP, *drill.storage_args("B"))
    names = []
    for sr_uuid, _ in drill.lab.replicated_srs():
        drill.lab.ok("B", "sr-param-set", "uuid=" + sr_uuid,
                     "other-config:xe-dr-run=" + DRILL_RUN,
                     "other-config:xe-dr-run-kind=drill")
        names.append(drill.lab.ok("B", "sr-param-get", "uuid=" + sr_uuid,
                                  "param-name=name-label").value)
    return drill, names


@pytest.mark.parametrize("mode", [[], ["--test"]], ids=["failover", "test"])
def test_a_failover_or_a_test_refuses_while_a_drill_copy_is_attached(copy_attached, mode):
    drill, names = copy_attached
    before = drill.snapshot("B")
    result = drill.xedr("B", "failover", "--vapp", VAPP, "--yes", *(
        mode + drill.storage_args("B")))
    assert result.code == 64, result
    line = result.err.strip().splitlines()[-1]
    assert line.startswith("xe-dr: error: SR(s) ") and (
        "are the array's copies attached by drill %s: a failover now would recover from the "
        "drill's copy, not the replica (clean the drill up first ('xe-dr cleanup %s'); "
        "nothing was changed)" % (DRILL_RUN, DRILL_RUN)) in line, line
    assert all(name in line for name in names)
    assert drill.snapshot("B") == before


def test_status_at_the_dr_site_is_critical_while_a_drill_copy_is_attached(copy_attached):
    drill, names = copy_attached
    result = drill.xedr("B", "status", "--format", "nagios")
    assert result.code == 2, result
    assert ("CRITICAL drill-copy: drill %s left the array's copies attached (" % DRILL_RUN
            ) in result.out
    document = drill.xedr("B", "--json", "status").json
    assert sorted(document["drill_copies"][DRILL_RUN]) == sorted(names)
    assert any("xe-dr cleanup %s" % DRILL_RUN in p for p in document["problems"])


def test_a_drill_stopped_before_attaching_its_copies_is_named_by_the_failover_they_block(drill):
    """The drill had the array copy the replicas, then its attach failed: no SR of its is in
    the pool, yet the copies hide the replicas from B's hosts. A failover then finds its LUNs
    missing: it names the drill and its cleanup (not only 'not a LUN of target'), and that
    cleanup releases the copies."""
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    drill.lab.fault(site="B", command="drtask-create",
                    error=["SR_BACKEND_FAILURE_1200", "", "Input/output error", ""])
    stopped = drill.xedr("B", "--json", "drill", "--adapter",
                         drill.lab.lab.path("bin", "storage-adapter"), "--vapp", VAPP,
                         *drill.storage_args("B"))
    assert stopped.code == 1, stopped
    run = stopped.json["run"]
    refused = drill.xedr("B", "failover", "--test", "--vapp", VAPP, "--yes",
                         *drill.storage_args("B"))
    assert refused.code == 64, refused
    line = refused.err.strip().splitlines()[-1]
    assert ("are hidden from this site's hosts by the array's copies that drill %s had made "
            "and has not released (clean the drill up first ('xe-dr cleanup %s': it releases "
            "them); nothing was changed)" % (run, run)) in line, line
    assert drill.xedr("B", "cleanup", run).code == 0
    assert not [lun for lun, entry in drill.lab.array()["luns"].items() if entry.get("drill")]
