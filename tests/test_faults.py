"""Fault suite (issue 7), part 1: runs interrupted from outside, then resumed or re-run.

- The SSH connection cut mid-run (the test sshd's per-connection processes killed while xe-dr
  runs over it), and the target's site going dark mid-run (the lab's ``disaster``: its xe
  answers "Unable to contact server", as for an unreachable coordinator): ``--resume`` must
  reach exactly the state an uninterrupted run reaches (tests/test_crash_resume.py's
  ``normalized``) and recover nothing twice; an interrupted ``cleanup`` run again must leave
  the site as it was before the test failover.
- Two runs against one pool at once: the second is refused at once with exit 75 and changes
  nothing.

Where the interruption lands is made deterministic with lab faults: a rule with a delay makes
one call slow, and the cut is made once the rule has fired (the call is then under way and
will be for the whole delay). xe-dr runs as a real process (tests/fixtures_remote.py).

Exit statuses asserted (xe_dr/exitcodes.py, man page EXIT STATUS): a run stopped by a dropped
connection or an unreachable xapi exits 69; a refused lock exits 75.
"""

import time

import pytest

from tests.fixtures_remote import (
    count,
    fired,
    one_error_line,
    run_file,
    run_ids,
    run_xedr,
    start_xedr,
    wait_fired,
    wait_until,
    writes,
)
from tests.fixtures_workflow import Drill
from tests.test_crash_resume import copy_lab, normalized

# The slow tier (tests/conftest.py): a fault campaign (SSH cuts, dark sites and slow calls)
# against real processes.
pytestmark = pytest.mark.slow

# Three standalone VMs on mirrored SRs (the default lab's seed): quick runs with no vApp,
# which recover all three when nothing interrupts them (exit 0).
SELECTION = ["--vm", "mon-01", "--vm", "cache-01", "--vm", "queue-01"]
TEST = ["failover", "--test"] + SELECTION


def only_run(state):
    ids = run_ids(state)
    assert len(ids) == 1, ids
    return ids[0]


def vm_uuids(lab, names):
    return [lab.vm_uuid(name) for name in names]


def tagged_vms(lab, run_id):
    return sorted(lab.ok("B", "vm-list", "other-config:xe-dr-run=" + run_id, "params=uuid",
                         "--minimal").values)


def recovered_by_journal(state, run_id):
    return sorted(e["step"].split(":", 2)[2] for e in run_file(state, run_id, "journal.jsonl")
                  if e["event"] == "done" and e["step"].startswith("recover:vm:"))


# -- the SSH connection cut mid-run ---------------------------------------------------------

@pytest.mark.parametrize("kind", ["openssh", "paramiko"])
def test_ssh_cut_during_a_read_after_the_recoveries_then_resume_reaches_the_same_state(
        dr_lab, dr_storage, dr_reference, sshd, ssh_options, kind):
    lab, state = dr_lab
    transport = ssh_options(kind)
    expected_code, expected = dr_reference(TEST, code=0)
    slow_recover = lab.fault(site="B", command="vm-recover", nth=1, delay=1.5)
    proc = start_xedr(lab, state, TEST + dr_storage, transport=transport)
    wait_fired(lab, slow_recover, proc)
    # A recovery is under way: the next network listing is the networks phase's, after every
    # recover step has ended. Slow it down and cut the connection while it runs.
    slow_read = lab.fault(site="B", command="network-list", nth=1, delay=3.0)
    wait_fired(lab, slow_read, proc)
    assert sshd.kill_children()
    cut = proc.finish()

    assert cut.code == 69, cut
    line = one_error_line(cut)
    assert "network-list" in line and "127.0.0.1" in line, line
    run_id = only_run(state)
    assert run_file(state, run_id, "run.json")["status"] == "failed"
    selected = vm_uuids(lab, ["mon-01", "cache-01", "queue-01"])
    assert recovered_by_journal(state, run_id) == sorted(selected)

    before = len(lab.call_log())
    resumed = run_xedr(lab, state, ["failover", "--resume", run_id], transport=transport)
    assert resumed.code == expected_code, resumed
    calls = lab.call_log()[before:]
    assert count(calls, "vm-recover") == 0, "a resume recovered an already recovered VM"
    assert normalized(lab) == expected
    assert tagged_vms(lab, run_id) == sorted(selected)


def test_ssh_cut_during_a_recover_then_resume_recovers_nothing_twice(
        dr_lab, dr_storage, dr_reference, sshd, ssh_options, tmp_path):
    lab, state = dr_lab
    transport = ssh_options("openssh")
    before_test = Drill(lab, state).snapshot("B")
    expected_code, expected = dr_reference(TEST, code=0)
    # Every recovery slow, and the cut once all three are under way (they run in parallel):
    # had a quick one ended before the cut, the exit status would be 1 or 2 by timing.
    slow = lab.fault(site="B", command="vm-recover", nth=1, delay=3.0, every=True)
    proc = start_xedr(lab, state, TEST + dr_storage, transport=transport)
    wait_until(lambda: fired(lab, slow) == 3, "the three vm-recover calls to start", proc)
    assert sshd.kill_children()
    cut_at = time.time()
    cut = proc.finish()
    # The connection dropped while the three recoveries ran: all three steps fail, nothing is
    # recovered (exit 1, "failed"); the run goes on over a new connection (the networks
    # phase's reads, the lock's release), else it would exit 69.
    assert cut.code == 1, cut
    assert cut.json["outcome"] == "failed" and len(cut.json["failures"]) == 3, cut
    run_id = only_run(state)
    assert [c for c in lab.call_log() if c["start"] > cut_at], \
        "no xe call after the cut: the runner did not connect again"
    # The cut xe calls went on at the target: their VMs are recovered there.
    wait_until(lambda: count(lab.call_log(), "vm-recover") == 3, "the cut vm-recover to end")

    before = len(lab.call_log())
    resumed = run_xedr(lab, state, ["failover", "--resume", run_id], transport=transport)
    calls = lab.call_log()[before:]
    assert count(calls, "vm-recover") == 0, \
        "the resume recovered again a VM the cut call had recovered: %s" % resumed.out[-1500:]
    assert resumed.code == expected_code, resumed
    assert normalized(lab) == expected
    selected = vm_uuids(lab, ["mon-01", "cache-01", "queue-01"])
    assert tagged_vms(lab, run_id) == sorted(selected)
    cleanup = run_xedr(lab, state, ["cleanup", run_id], transport=transport)
    assert cleanup.code == 0, cleanup
    assert Drill(lab, state).snapshot("B") == before_test


# -- the target site going dark mid-run ------------------------------------------------------

def test_site_dark_between_two_recoveries_then_resume_reaches_the_same_state(
        dr_lab, dr_storage, dr_reference):
    lab, state = dr_lab
    args = TEST + ["--parallel", "1"]
    expected_code, expected = dr_reference(args, code=0, power_cycle=True)
    # One object at a time: the first VM's tag (the end of its recover step) is slow; the site
    # goes dark while it runs, so the next recover cannot reach xapi.
    slow_tag = lab.fault(site="B", command="vm-param-set", nth=1, delay=2.0)
    proc = start_xedr(lab, state, args + dr_storage)
    wait_fired(lab, slow_tag, proc)
    lab.disaster("B")
    dark = proc.finish()

    assert dark.code == 69, dark
    line = one_error_line(dark)
    assert "Unable to contact server" in line or "could not reach" in line, line
    run_id = only_run(state)
    assert run_file(state, run_id, "run.json")["status"] == "failed"
    done = recovered_by_journal(state, run_id)
    assert len(done) == 1, done
    failed = [e["step"] for e in run_file(state, run_id, "journal.jsonl")
              if e["event"] == "failed"]
    assert failed, "the recoveries tried while the site was dark are journaled as failed"

    lab.restore("B")
    before = len(lab.call_log())
    resumed = run_xedr(lab, state, ["failover", "--resume", run_id])
    assert resumed.code == expected_code, resumed
    calls = lab.call_log()[before:]
    assert count(calls, "vm-recover", done[0]) == 0, "the done recovery ran again"
    assert count(calls, "vm-recover") == 2
    assert normalized(lab) == expected


def test_site_dark_during_a_recover_then_resume_recovers_nothing_twice(
        dr_lab, dr_storage, dr_reference):
    lab, state = dr_lab
    args = TEST + ["--parallel", "1"]
    expected_code, expected = dr_reference(args, code=0, power_cycle=True)
    # The slow vm-recover reached xapi before the site went dark: it completes, and the tag
    # that ends its step cannot.
    slow = lab.fault(site="B", command="vm-recover", nth=1, delay=2.0)
    proc = start_xedr(lab, state, args + dr_storage)
    wait_fired(lab, slow, proc)
    lab.disaster("B")
    dark = proc.finish()
    assert dark.code == 69, dark
    run_id = only_run(state)
    lab.restore("B")

    before = len(lab.call_log())
    resumed = run_xedr(lab, state, ["failover", "--resume", run_id])
    calls = lab.call_log()[before:]
    first = [c for c in lab.call_log()[:before] if c["command"] == "vm-recover"
             and c["exit"] == 0]
    assert len(first) == 1, first
    recovered_uuid = first[0]["args"][0].partition("=")[2]
    assert count(calls, "vm-recover", recovered_uuid) == 0, \
        "the resume recovered %s a second time: %s" % (recovered_uuid, resumed.out[-1500:])
    assert resumed.code == expected_code, resumed
    assert normalized(lab) == expected


# -- cleanup interrupted, then run again -----------------------------------------------------

def _test_failover(lab, state, storage):
    drill = Drill(lab, state)
    result = drill.xedr("B", "--json", *(TEST + storage))
    assert result.code == 0, result
    return result.json["run"]


# The cut call fails its step. The VMs are destroyed in a batch (Engine.do_many), which goes
# on past a failed step: the cleanup ends over a new connection, failed, the failure named
# (exit 1). The SRs are forgotten one by one, and a failed step there stops the cleanup with
# its cause's status: 69, the target could not be reached.
@pytest.mark.parametrize("kind,command,code", [("openssh", "vm-destroy", 1),
                                               ("paramiko", "sr-forget", 69)])
def test_ssh_cut_during_cleanup_then_cleanup_again_leaves_site_b_as_before(
        dr_lab, dr_storage, sshd, ssh_options, kind, command, code):
    lab, state = dr_lab
    transport = ssh_options(kind)
    before_test = Drill(lab, state).snapshot("B")
    run_id = _test_failover(lab, state, dr_storage)
    mark = len(lab.call_log())
    slow = lab.fault(site="B", command=command, nth=2, delay=2.0)
    proc = start_xedr(lab, state, ["cleanup", run_id], transport=transport)
    wait_fired(lab, slow, proc)
    if command == "vm-destroy":
        # The batch destroys the three VMs at once: cut once the two quick calls have ended,
        # so that the slow one is the only call under way (a read of the batch cut instead,
        # outside any step, would stop the cleanup with 69).
        wait_until(lambda: count(lab.call_log()[mark:], command) == 2,
                   "the two quick vm-destroy calls to end", proc)
    ended = count(lab.call_log()[mark:], command)
    assert sshd.kill_children()
    cut = proc.finish()
    assert cut.code == code, cut
    if code == 69:
        line = one_error_line(cut)
        assert command in line and "127.0.0.1" in line, line
    else:
        assert cut.json["outcome"] == "failed"
        assert any(command in failure and "127.0.0.1" in failure
                   for failure in cut.json["failures"]), cut
    # the cut call ends at the target before the cleanup is run again
    wait_until(lambda: count(lab.call_log()[mark:], command) == ended + 1,
               "the cut %s to end" % command)

    again = run_xedr(lab, state, ["cleanup", run_id], transport=transport)
    assert again.code == 0, again
    assert again.json["outcome"] == "succeeded"
    assert Drill(lab, state).snapshot("B") == before_test
    assert run_file(state, run_id, "run.json")["status"] == "cleaned up"


def _darken_cleanup(lab, state, storage):
    """A test failover, then its cleanup stopped by site B going dark in its second
    vm-destroy; returns (test run id, the stopped cleanup's result)."""
    run_id = _test_failover(lab, state, storage)
    slow = lab.fault(site="B", command="vm-destroy", nth=2, delay=2.0)
    proc = start_xedr(lab, state, ["cleanup", run_id])
    wait_fired(lab, slow, proc)
    lab.disaster("B")
    return run_id, proc.finish()


def test_site_dark_during_cleanup_then_cleanup_again_leaves_site_b_as_before(
        dr_base, dr_lab, dr_storage, tmp_path):
    lab, state = dr_lab
    # What site B looks like after a power cycle with no test failover in between.
    twin = copy_lab(dr_base, str(tmp_path / "twin"))
    twin.disaster("B")
    twin.restore("B")
    expected = Drill(twin, None).snapshot("B")

    run_id, dark = _darken_cleanup(lab, state, dr_storage)
    assert dark.code == 69, dark
    line = one_error_line(dark)
    assert "Unable to contact server" in line or "could not reach" in line, line
    lab.restore("B")

    again = run_xedr(lab, state, ["cleanup", run_id])
    assert again.code == 0, again
    assert Drill(lab, state).snapshot("B") == expected


def test_a_cleanup_stopped_by_an_error_is_not_left_running(dr_lab, dr_storage):
    lab, state = dr_lab
    run_id, dark = _darken_cleanup(lab, state, dr_storage)
    assert dark.code == 69, dark
    cleanups = [r for r in run_ids(state) if r != run_id]
    assert len(cleanups) == 1, cleanups
    stopped = run_file(state, cleanups[0], "run.json")
    assert stopped["status"] == "failed", stopped
    assert "could not reach xapi" in stopped["error"], stopped
    assert run_file(state, cleanups[0], "report.json")["outcome"] == "failed"


# -- two runs at once ------------------------------------------------------------------------

@pytest.mark.parametrize("second", ["failover", "resume", "cleanup"])
def test_a_second_run_against_the_same_pool_is_refused_at_once_with_75(
        dr_lab, dr_storage, second):
    lab, state = dr_lab
    drill = Drill(lab, state)
    earlier = None
    if second == "cleanup":
        earlier = _test_failover(lab, state, dr_storage)
    # The run exists before its first scan of an attached SR (it attaches, or finds its LUNs
    # attached by the earlier test); long enough that the first run is still in it after the
    # refusal on a loaded machine.
    slow = lab.fault(site="B", command="sr-scan", nth=1, delay=15.0)
    first = start_xedr(lab, state, TEST + dr_storage if second != "cleanup" else
                       ["failover", "--test", "--vm", "web-01"] + dr_storage)
    wait_fired(lab, slow, first)
    # The first run holds the pool's lock and waits in its slow sr-probe: nothing else changes
    # the pool while the second one is tried.
    running = [r for r in run_ids(state) if r != earlier]
    assert len(running) == 1, running
    before_calls = len(lab.call_log())
    before = drill.snapshot("B")
    args = {"failover": TEST + dr_storage, "resume": ["failover", "--resume", running[0]],
            "cleanup": ["cleanup", earlier or ""]}[second]
    journal = run_file(state, running[0], "journal.jsonl") or []
    started = time.time()
    refused = drill.xedr("B", "--json", "--yes", *args)
    elapsed = time.time() - started
    assert fired(lab, slow) == 1 and first.running(), "the first run is still in its slow call"

    assert refused.code == 75, refused
    # "At once": refused while the first run still holds the lock (asserted above), not after
    # waiting for it; the bound only catches a hang.
    assert elapsed < 60, elapsed
    line = one_error_line(refused)
    assert "another run holds the lock" in line and running[0] in line, line
    assert writes(lab.call_log()[before_calls:]) == []
    assert drill.snapshot("B") == before
    # nor did it touch the running run's journal or status
    assert (run_file(state, running[0], "journal.jsonl") or []) == journal
    assert run_file(state, running[0], "run.json")["status"] == "running"

    result = first.finish()
    assert result.code == 0, result  # mirrored VMs only: nothing left out
    assert result.json["run"] == running[0]


def test_a_refused_run_leaves_no_run_behind(dr_lab, dr_storage):
    lab, state = dr_lab
    slow = lab.fault(site="B", command="sr-probe", nth=1, delay=4.0)
    first = start_xedr(lab, state, TEST + dr_storage)
    wait_fired(lab, slow, first)
    runs_before = run_ids(state)
    refused = Drill(lab, state).xedr("B", "--json", "--yes", *(TEST + dr_storage))
    assert refused.code == 75, refused
    try:
        new = [r for r in run_ids(state) if r not in runs_before]
        statuses = dict((r, run_file(state, r, "run.json")["status"]) for r in new)
        assert not [r for r, status in statuses.items() if status == "running"], statuses
    finally:
        first.finish()


def test_a_second_run_from_another_state_directory_is_refused_too(dr_lab, dr_storage,
                                                                  tmp_path):
    lab, state = dr_lab
    slow = lab.fault(site="B", command="sr-probe", nth=1, delay=4.0)
    first = start_xedr(lab, state, TEST + dr_storage)
    wait_fired(lab, slow, first)
    before_calls = len(lab.call_log())
    try:
        other = Drill(lab, str(tmp_path / "another-state-dir")).xedr(
            "B", "--json", "--yes", *(TEST + dr_storage))
        assert other.code == 75, other
        line = one_error_line(other)
        assert "another run holds the lock on this pool: run " in line, line
        # Its one attempted change is the claim xapi refused (MAP_DUPLICATE_KEY).
        tried = writes(lab.call_log()[before_calls:])
        assert [(c["command"], c["exit"]) for c in tried] == [("pool-param-add", 1)]
    finally:
        done = first.finish()
    assert done.code == 0, done
    # The first run removed its claim from the pool when it ended.
    assert "xe-dr-lock" not in lab.ok("B", "pool-param-get", "uuid=" + lab.uuid("B", "pool"),
                                      "param-name=other-config").out
