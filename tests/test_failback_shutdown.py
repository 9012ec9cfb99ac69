"""A failback's clean shutdown at the source needs the guests (issue 12, rule 9): a guest that
does not shut down stops the failback before any storage changes, naming the VM; with
--force-shutdown it is shut down hard and the report says so. Through the CLI on the lab.

xenopsd waits 60 s for a guest to acknowledge a clean shutdown and 1200 s for it to halt
(ocaml/xenopsd/lib/xenops_server.ml VM_shutdown_domain; xapi_xenops.ml raises
VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT and VM_SHUTDOWN_TIMEOUT); a hard shutdown cancels it
(message_forwarding.ml VM.hard_shutdown).
"""

import pytest

from xe_dr.lab import lifecycle
from xe_dr.xe.records import parse_records

from tests.test_safety_runs import failback, failed_over, vm_states


def standalone_running_at_b(drill):
    out = drill.lab.ok("B", "vm-list", "is-control-domain=false", "power-state=running",
                       "params=uuid,name-label,appliance").out
    for r in sorted(parse_records(out), key=lambda r: r["name-label"]):
        if r["appliance"] == "<not in database>" and r["name-label"].startswith(("mon", "cache",
                                                                                  "queue")):
            return r["uuid"], r["name-label"]
    raise AssertionError("a standalone VM runs at B")


def attached_at(drill, site):
    out = drill.lab.ok(site, "pbd-list", "params=uuid,currently-attached").out
    return dict((r["uuid"], r["currently-attached"]) for r in parse_records(out))


def test_a_guest_that_ignores_the_shutdown_stops_the_failback_then_force_shutdown(drill):
    failed_over(drill)
    uuid, name = standalone_running_at_b(drill)
    lifecycle.set_guest(drill.lab.lab.site("B"), uuid, "ignores")
    storage_b, storage_a = attached_at(drill, "B"), attached_at(drill, "A")

    first = failback(drill, "--json", *drill.storage_args("A"))
    assert first.code == 1, first
    line = first.err.strip().splitlines()[-1]
    assert name in first.err and "--force-shutdown" in first.err
    assert "VM didn't acknowledge the need to shutdown" in first.err, line
    # nothing else changed: the VM still runs at B, no LUN was given back or taken
    assert vm_states(drill, "B")[name] == "running"
    assert attached_at(drill, "B") == storage_b and attached_at(drill, "A") == storage_a
    run_id = first.json["run"]

    resumed = drill.xedr("A", "--json", "--yes", "failback", "--resume", run_id,
                         "--force-shutdown")
    # shut down hard; then the array must make A's copies writable (a stop by design)
    assert resumed.code == 75, resumed
    assert resumed.json["hard_shutdowns"] == [name]
    assert any(name in w and "shut down hard" in w for w in resumed.json["warnings"])
    assert vm_states(drill, "B")[name] == "halted"
    drill.lab.mirror("break")
    done = drill.xedr("A", "--json", "--yes", "failback", "--resume", run_id)
    assert done.code == 0, done
    assert vm_states(drill, "A")[name] == "running"


@pytest.mark.slow  # the slow tier: real processes waiting out a shutdown budget
def test_a_guest_that_never_halts_meets_the_shutdown_timeout_not_the_call_timeout(
        process_drill):
    drill = process_drill
    failed_over(drill)
    uuid, name = standalone_running_at_b(drill)
    lifecycle.set_guest(drill.lab.lab.site("B"), uuid, "hangs")
    # At 5% of real time the guest keeps xapi waiting 60 s (1200 s); the budget is 20 s.
    drill.lab.set_cost_factor(0.05)
    result = failback(drill, "--json", "--shutdown-timeout", "20", "--force-shutdown",
                      *drill.storage_args("A"))
    assert result.code == 75, result
    assert result.json["hard_shutdowns"] == [name]
    assert vm_states(drill, "B")[name] == "halted"
