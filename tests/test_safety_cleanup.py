"""Cleanup never destroys production by mistake (the safety issue's findings 1 to 3): through
the CLI as an administrator runs it, on the lab.

- a real failover's objects are refused without --force, also from a state directory that
  has no journal of the run (the objects' kind tags say what they are); with --force the
  cleanup lists what it destroys and asks;
- a test's running VMs are refused without --force;
- a run id that never ran here is exit 66 and records nothing.
"""

import os

from tests.fixtures_workflow import Drill
from xe_dr.xe.records import parse_records


def protect_and_break(drill):
    """Replication on at A, the host plugin at B (it tells the VMs DR never protected, so
    that --all ends 0), and the mirror broken."""
    names = [uuid for uuid, _ in drill.lab.replicated_srs()]
    drill.ok("A", "replication", "enable", *names)
    drill.ok("B", "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")
    drill.lab.mirror("break")


def elsewhere(drill, tmp_path, name="other-admin"):
    """The same lab seen from another admin machine: an empty state directory."""
    return Drill(drill.lab, str(tmp_path / name))


def vm_states(drill, site):
    out = drill.lab.ok(site, "vm-list", "is-control-domain=false",
                       "params=name-label,power-state").out
    return dict((r["name-label"], r["power-state"]) for r in parse_records(out))


def runs_of(drill):
    return drill.xedr("B", "--json", "runs").json["runs"]


def real_failover(drill):
    protect_and_break(drill)
    drill.lab.disaster("A")
    result = drill.xedr("B", "--json", "--yes", "failover", "--all", "--source", "down",
                        *drill.storage_args("B"))
    assert result.code == 0, result
    return result.json["run"]


def test_cleanup_of_a_real_failover_without_its_journal_is_refused(drill, tmp_path):
    run_id = real_failover(drill)
    before = drill.snapshot("B")
    running = [n for n, s in vm_states(drill, "B").items() if s == "running"]
    assert len(running) > 5

    other = elsewhere(drill, tmp_path)
    refused = other.xedr("B", "cleanup", run_id)
    assert refused.code == 64, refused
    assert "real failover" in refused.err and "--force" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert drill.snapshot("B") == before          # production untouched
    assert not os.path.exists(os.path.join(other.state_dir, "runs"))

    # The same with its journal at hand.
    assert drill.xedr("B", "cleanup", run_id).code == 64
    assert drill.snapshot("B") == before


def test_a_forced_cleanup_lists_what_it_destroys_and_asks(drill, tmp_path):
    run_id = real_failover(drill)
    before = drill.snapshot("B")
    other = elsewhere(drill, tmp_path)
    # No terminal and no --yes: refused before any change.
    unasked = other.xedr("B", "cleanup", "--force", run_id)
    assert unasked.code == 64 and "--yes" in unasked.err, unasked
    assert drill.snapshot("B") == before
    # Declined at the prompt: nothing changes.
    declined = other.xedr("B", "cleanup", "--force", run_id, stdin="no\n", tty=True)
    assert declined.code == 1, declined
    assert "destroys:" in declined.err and "web-01" in declined.err
    assert drill.snapshot("B") == before
    forced = other.xedr("B", "cleanup", "--force", run_id, stdin="yes\n", tty=True)
    assert forced.code == 0, forced
    assert "web-01" in forced.err
    assert not [n for n, s in vm_states(drill, "B").items() if n == "web-01"]


def test_objects_without_a_kind_need_force(drill, tmp_path):
    """What an older xe-dr made carries the run tag alone: not provably a test's."""
    protect_and_break(drill)
    test = drill.xedr("B", "--json", "failover", "--test", "--all", *drill.storage_args("B"))
    run_id = test.json["run"]
    vm = test.json["items"][0]["recovered_vms"][0]
    drill.lab.ok("B", "vm-param-remove", "uuid=" + vm, "param-name=other-config",
                 "param-key=xe-dr-run-kind")
    before = drill.snapshot("B")
    refused = elsewhere(drill, tmp_path).xedr("B", "cleanup", run_id)
    assert refused.code == 64 and "kind" in refused.err, refused
    assert drill.snapshot("B") == before


def test_a_test_cleaned_up_from_another_machine_needs_no_force(drill, tmp_path):
    protect_and_break(drill)
    before = drill.snapshot("B")
    test = drill.xedr("B", "--json", "failover", "--test", "--all", *drill.storage_args("B"))
    assert test.code == 0, test
    other = elsewhere(drill, tmp_path)
    cleanup = other.xedr("B", "cleanup", test.json["run"])
    assert cleanup.code == 0, cleanup
    leftovers = drill.snapshot("B")
    # Without the journal the DR tasks cannot be found (a DR task carries no tag).
    leftovers.pop("DR_task"), before.pop("DR_task")
    assert leftovers == before


def test_a_tests_running_vm_is_refused_without_force(drill):
    protect_and_break(drill)
    test = drill.xedr("B", "--json", "failover", "--test", "--all", *drill.storage_args("B"))
    assert test.code == 0, test
    web = drill.lab.uuid("B", "vm", **{"name-label": "web-01"})
    drill.lab.ok("B", "vm-start", "uuid=" + web)   # taken into production
    before = drill.snapshot("B")
    refused = drill.xedr("B", "cleanup", test.json["run"])
    assert refused.code == 64, refused
    assert "running" in refused.err and "web-01" in refused.err and "--force" in refused.err
    assert drill.snapshot("B") == before
    forced = drill.xedr("B", "--yes", "cleanup", "--force", test.json["run"])
    assert forced.code == 0, forced
    assert "web-01" not in vm_states(drill, "B")


def test_cleanup_of_a_run_that_never_ran_here_is_66_and_records_nothing(drill):
    result = drill.xedr("B", "cleanup", "20260101-000000-test-abcd")
    assert result.code == 66, result
    assert result.err.strip() == (
        "xe-dr: error: nothing tagged 20260101-000000-test-abcd in this pool: it never ran "
        "here, or it was already cleaned up")
    assert runs_of(drill) == []


def test_cleanup_run_twice_is_66_the_second_time(drill):
    protect_and_break(drill)
    test = drill.xedr("B", "--json", "failover", "--test", "--all", *drill.storage_args("B"))
    assert drill.xedr("B", "cleanup", test.json["run"]).code == 0
    count = len(runs_of(drill))
    again = drill.xedr("B", "cleanup", test.json["run"])
    assert again.code == 66, again
    assert len(runs_of(drill)) == count


def test_a_test_of_an_older_xe_dr_cleans_up_with_its_journal(drill, tmp_path):
    """Objects tagged before the kind tag existed: the journal at hand says what they are."""
    protect_and_break(drill)
    before = drill.snapshot("B")
    test = drill.xedr("B", "--json", "failover", "--test", "--all", *drill.storage_args("B"))
    for item in test.json["items"]:
        for vm in item.get("recovered_vms") or ():
            drill.lab.ok("B", "vm-param-remove", "uuid=" + vm, "param-name=other-config",
                         "param-key=xe-dr-run-kind")
    cleanup = drill.xedr("B", "cleanup", test.json["run"])
    assert cleanup.code == 0, cleanup
    assert drill.snapshot("B") == before


def test_cleanup_of_a_forgotten_test_keeps_the_srs_a_later_failover_uses(drill):
    """A test left behind, then the disaster: the real failover finds the test's SRs attached
    and uses them. Cleaning up the test must not forget them under production."""
    protect_and_break(drill)
    test = drill.xedr("B", "--json", "failover", "--test", "--vm", "mon-01",
                      *drill.storage_args("B"))
    assert test.code == 0, test
    drill.lab.disaster("A")
    real = drill.xedr("B", "--json", "--yes", "failover", "--all", "--exclude", "mon-01",
                      "--source", "down", *drill.storage_args("B"))
    assert real.code == 0, real
    srs_before = drill.lab.ok("B", "sr-list", "params=uuid", "--minimal").values
    cleanup = drill.xedr("B", "cleanup", test.json["run"])
    assert cleanup.code == 0, cleanup
    assert "left attached, it holds disks of" in cleanup.out
    assert sorted(drill.lab.ok("B", "sr-list", "params=uuid", "--minimal").values) == \
        sorted(srs_before)
    assert "mon-01" not in vm_states(drill, "B")
    assert vm_states(drill, "B").get("web-01") == "running"


def test_a_vm_whose_run_tag_was_removed_is_left_alone(drill):
    """An administrator adopts a test's VM by removing its tags: even with the journal at
    hand, cleanup leaves it."""
    protect_and_break(drill)
    test = drill.xedr("B", "--json", "failover", "--test", "--vm", "mon-01", "--vm",
                      "cache-01", *drill.storage_args("B"))
    mon = drill.lab.uuid("B", "vm", **{"name-label": "mon-01"})
    for key in ("xe-dr-run", "xe-dr-run-kind"):
        drill.lab.ok("B", "vm-param-remove", "uuid=" + mon, "param-name=other-config",
                     "param-key=" + key)
    cleanup = drill.xedr("B", "cleanup", test.json["run"])
    assert cleanup.code == 0, cleanup
    assert "mon-01" in vm_states(drill, "B") and "cache-01" not in vm_states(drill, "B")
    assert "no longer carries the run's tag" in cleanup.out
