"""Issue 14: xe-dr killed at points no journal entry marks, then resumed or cleaned up. The lab
kills xe-dr (SIGKILL, the way kill -9 or a power cut would) as its Nth xe call arrives, before
the call does anything, or once that call has made its change (xe_dr/lab/faults.py
``kill_client``). After each kill:

- a test failover is cleaned up at once: site B must equal its state before the test, object
  by object (DR tasks, secrets, networks and PBDs included; volatile fields aside);
- a real failover is resumed: the end state must equal an uninterrupted run's;
- a cleanup is run again: site B must equal its state before the test it cleans up.

A fixed sample runs in the slow tier: for each scenario, the first call of every command that
changes the pool, killed once it made its change, and the first and middle calls killed as
they arrive. XE_DR_FAULT_CAMPAIGN=all kills at every call, both ways.
"""

import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fixtures_lab import make_lab
from tests.fixtures_workflow import Drill
from tests.test_crash_resume import ROOT, copy_lab, normalized, run_id, storage_args, xedr
from xe_dr.lab import faults

pytestmark = pytest.mark.slow

# What each scenario runs, and what follows a kill.
SCENARIOS = {
    "test-plain": (["--no-plugin", "failover", "--test", "--all"], "cleanup"),
    "test-plugin": (["failover", "--test", "--all", "--power", "paused"], "cleanup"),
    "failover-plain": (["--no-plugin", "failover", "--all"], "resume"),
    "failover-plugin": (["failover", "--all"], "resume"),
    "cleanup": (["cleanup"], "cleanup"),
}
READS = ("-list", "-param-get", "-param-list")


def changes(command, args):
    if command == "host-call-plugin":
        return any(a in args for a in ("fn=recover", "fn=release"))
    return not command.endswith(READS) and command not in ("sr-probe", "help")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    base = make_lab(str(tmp_path_factory.mktemp("campaign") / "base"))
    base.enable_replication()
    for host in base.ok("B", "host-list", "params=uuid", "--minimal").values:
        plugins = os.path.join(base.root, "hosts", host, "etc", "xapi.d", "plugins")
        os.makedirs(plugins, exist_ok=True)
        shutil.copy(os.path.join(ROOT, "host-plugins", "xe-dr"), plugins)
    base.disaster("A")
    base.mirror("break")
    return base


def kill_points(calls, every):
    """[(command, k, "before"|"after")]: the k-th call of that command at site B in the
    uninterrupted run (counted by command: calls made in parallel keep their number)."""
    numbered, counts = [], {}
    for call in calls:
        counts[call["command"]] = counts.get(call["command"], 0) + 1
        numbered.append((call["command"], counts[call["command"]], call))
    if every:
        return [(c, k, mode) for c, k, _ in numbered for mode in ("before", "after")]
    changing = [(c, k) for c, k, call in numbered if changes(c, call["args"])]
    points = set((c, k, "after") for c, k in changing if k == 1)
    points |= {changing[0] + ("before",), changing[len(changing) // 2] + ("before",)}
    return sorted(points)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_killed_at_a_call_then_resumed_or_cleaned_up_leaves_the_same_state(
        prepared, tmp_path, scenario):
    args, then = SCENARIOS[scenario]

    def start(lab, state):
        """The run to kill (a cleanup's test is run to its end first)."""
        if scenario != "cleanup":
            return args + storage_args(lab)
        code, out, err = xedr(lab, state, ["failover", "--test", "--all"] + storage_args(lab))
        assert code == 0, err[-2000:]
        return ["cleanup", run_id(state)]

    reference = copy_lab(prepared, str(tmp_path / "reference"))
    state = str(tmp_path / "reference-state")
    before = Drill(reference, state).snapshot("B")
    command = start(reference, state)
    mark = len(reference.call_log())
    code, out, err = xedr(reference, state, command)
    assert code in (0, 2) and code == (0 if "plugin" in scenario or scenario == "cleanup"
                                       else 2), (code, err[-2000:])
    # xe calls only (not the XenAPI calls the plugin makes inside xapi)
    calls = [c for c in reference.call_log()[mark:] if c["site"] == "B" and not c.get("via")]
    expected = Drill(reference, state).snapshot("B") if then == "resume" else before
    expected_norm = normalized(reference) if then == "resume" else None

    def kill_and_recover(point):
        command, k, mode = point
        name = "%s-%d-%s" % point
        lab = copy_lab(prepared, str(tmp_path / name))
        run_state = str(tmp_path / (name + "-state"))
        try:
            killed_command = start(lab, run_state)
            rule = faults.add(lab.lab, site="B", command=command, nth=k, kill_client=mode)
            killed, _, kill_err = xedr(lab, run_state, killed_command)
            faults.clear(lab.lab)
            where = "%s call %d of %s" % (mode, k, command)
            if killed != -9:
                return "%s: exit %s, not killed (%s)" % (where, killed, kill_err[-300:])
            assert rule
            options = [a for a in args if a == "--no-plugin"]  # global: not kept by a run
            runs = os.path.join(run_state, "runs")
            if not os.path.isdir(runs) or (scenario == "cleanup" and len(os.listdir(runs)) == 1):
                # Killed before its run existed (the pool's claim taken, the journal not
                # begun): nothing is changed but the claim, which the next run on this
                # machine takes over as stale. So the operator runs the command again, and
                # it does the whole job.
                follow = killed_command
            elif then == "resume":
                follow = options + ["failover", "--resume", run_id(run_state)]
            else:
                follow = ["cleanup", run_id(run_state) if scenario != "cleanup" else
                          killed_command[1]]
            finished, _, finish_err = xedr(lab, run_state, follow)
            if finished != (code if then == "resume" or follow == killed_command else 0):
                return "%s: %s exited %d: %s" % (where, " ".join(follow[:2]), finished,
                                                 finish_err[-400:])
            if follow == killed_command and scenario.startswith("test"):
                cleaned, _, clean_err = xedr(lab, run_state, ["cleanup", run_id(run_state)])
                if cleaned != 0:
                    return "%s: cleanup exited %d: %s" % (where, cleaned, clean_err[-400:])
            if then == "resume":
                if normalized(lab) != expected_norm:
                    return "%s: the end state differs from an uninterrupted run's" % where
            elif Drill(lab, run_state).snapshot("B") != expected:
                return "%s: site B is not as it was before the test" % where
            return None
        finally:
            shutil.rmtree(lab.root, ignore_errors=True)

    every = os.environ.get("XE_DR_FAULT_CAMPAIGN") == "all"
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for p in pool.map(kill_and_recover, kill_points(calls, every)) if p]
    assert not problems, "\n".join(problems)
