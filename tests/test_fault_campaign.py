"""Issue 14: xe-dr killed at points no journal entry marks, then resumed or cleaned up. The lab
kills xe-dr (SIGKILL, the way kill -9 or a power cut would) as its Nth xe call of a command at
a site arrives, before the call does anything, or once that call has made its change
(xe_dr/lab/faults.py ``kill_client``). After each kill:

- a test failover is cleaned up at once: site B must equal its state before the test, object
  by object (DR tasks, secrets, networks and PBDs included; volatile fields aside);
- a real failover is resumed: the end state must equal an uninterrupted run's;
- a cleanup is run again: site B must equal its state before the test it cleans up;
- a failback (run at A as scripts/drill runs it, after a failover to B, the mirror reversed
  and site A back) is resumed: it shuts the VMs down at B and unplugs their SRs there, stops
  (75) at the storage step while A's LUNs are mirror targets, and is resumed once the mirror
  is halted; a kill in either invocation, at a call at either site, is followed by resumes
  (the mirror halted at the same stop): both sites must end, object by object, as an
  uninterrupted failback leaves them.

A fixed sample runs in the slow tier: for each scenario (and each invocation of a failback),
the first changing call of every other command at every site (in the order the run first
makes them: the slow tier's budget), killed once it made its change, and the first and middle
changing calls killed as they arrive; the plugin failback only from its
first recover on (before it, it makes the plain failback's changes). XE_DR_FAULT_CAMPAIGN=all
kills at every call, both ways.
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


def install_plugin(lab, site):
    for host in lab.ok(site, "host-list", "params=uuid", "--minimal").values:
        plugins = os.path.join(lab.root, "hosts", host, "etc", "xapi.d", "plugins")
        os.makedirs(plugins, exist_ok=True)
        shutil.copy(os.path.join(ROOT, "host-plugins", "xe-dr"), plugins)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    base = make_lab(str(tmp_path_factory.mktemp("campaign") / "base"))
    base.enable_replication()
    install_plugin(base, "B")
    base.disaster("A")
    base.mirror("break")
    return base


def kill_points(stages, every, sampled=None):
    """[(stage, site, command, k, "before"|"after")]: the k-th call of that command at that
    site in one invocation (stage) of the uninterrupted run, counted by command (calls made
    in parallel keep their number). ``stages``: each invocation's calls. The sample: the
    first changing call of every fourth command at each site in each stage (a
    host-call-plugin's first call only reads), killed after; the first and the middle
    changing call, killed before; ``sampled(stage, call)`` says which calls the sample is
    taken from. XE_DR_FAULT_CAMPAIGN=all kills at every call, before and after."""
    numbered = []
    for stage, calls in enumerate(stages):
        counts = {}
        for call in calls:
            key = (call["site"], call["command"])
            counts[key] = counts.get(key, 0) + 1
            numbered.append(((stage,) + key + (counts[key],), call))
    if every:
        return [point + (mode,) for point, _ in numbered for mode in ("before", "after")]
    changing = [point for point, call in numbered if changes(call["command"], call["args"])
                and (sampled is None or sampled(point[0], call))]
    firsts = {}
    for point in changing:
        firsts.setdefault(point[:3], point)
    # The slow tier's budget (CI's 30 minutes): every fourth of those first changes, in the
    # run's order (XE_DR_FAULT_CAMPAIGN=all takes them all).
    points = set(point + ("after",) for point in list(firsts.values())[::4])
    points |= {changing[0] + ("before",), changing[len(changing) // 2] + ("before",)}
    return sorted(points)


def kill_rule(lab, point):
    _, site, command, k, mode = point
    return faults.add(lab.lab, site=site, command=command, nth=k, kill_client=mode)


def described(point):
    _, site, command, k, mode = point
    return "%s call %d of %s at %s" % (mode, k, command, site)


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
        name = "%s-%s-%d-%s" % point[1:]
        lab = copy_lab(prepared, str(tmp_path / name))
        run_state = str(tmp_path / (name + "-state"))
        try:
            killed_command = start(lab, run_state)
            rule = kill_rule(lab, point)
            killed, _, kill_err = xedr(lab, run_state, killed_command)
            faults.clear(lab.lab)
            where = described(point)
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
        problems = [p for p in pool.map(kill_and_recover, kill_points([calls], every))
                    if p]
    assert not problems, "\n".join(problems)


# A failback, run at site A as scripts/drill runs it (the options are global ones).
FAILBACK = {"failback-plain": ["--no-plugin"], "failback-plugin": []}
ARRAY_STOP = "have the array make this site's LUNs writable"  # its stop by design (75)


@pytest.fixture(scope="module")
def failed_over(prepared, tmp_path_factory):
    """A lab where a failback is the next step, as scripts/drill leaves it: a failover to B
    finished (with the plugin), B's metadata replicated to the mirrored SRs, the mirror
    reversed (B to A), site A back (its VMs halted); the plugin on A's hosts too. With the
    state directory of the failover."""
    root = tmp_path_factory.mktemp("failback")
    base = copy_lab(prepared, str(root / "base"))
    state = str(root / "state")
    code, _, err = xedr(base, state, ["failover", "--all"] + storage_args(base))
    assert code == 0, err[-2000:]
    code, _, err = xedr(base, state, ["replication", "enable"] +
                        [sr for sr, _ in base.replicated_srs()])
    assert code == 0, err[-2000:]
    base.mirror("reverse")
    base.restore("A")
    install_plugin(base, "A")
    return base, state


@pytest.mark.parametrize("scenario", sorted(FAILBACK))
def test_failback_killed_at_a_call_at_either_site_then_resumed_reaches_the_same_state(
        failed_over, tmp_path, scenario):
    """The failback shuts the VMs down at B and gives their LUNs back, then stops (75) at
    the storage step while A's LUNs are mirror targets; the array halts the mirror and a
    resume recovers at A (stage 1 and stage 2: each is killed at its own calls). After a
    kill, the failback is resumed (its stop at the storage step then met as in an
    uninterrupted run): both sites must end as an uninterrupted failback leaves them."""
    base, base_state = failed_over
    options = FAILBACK[scenario]

    def copy(name):
        lab = copy_lab(base, str(tmp_path / name))
        state = str(tmp_path / (name + "-state"))
        shutil.copytree(base_state, state)
        return lab, state

    def failback(lab):
        return options + ["failback", "--all", "--source", "local", "--source-xe",
                          lab.xe_path("B")] + Drill(lab, None).storage_args("A")

    def resume(state):
        return options + ["failback", "--resume", run_id(state)]

    def run(lab, state, args):
        return xedr(lab, state, args, site="A")

    def stopped_at_storage(result):
        return result[0] == 75 and ARRAY_STOP in result[2]

    reference, state = copy("reference")
    mark = len(reference.call_log())
    first = run(reference, state, failback(reference))
    assert stopped_at_storage(first), (first[0], first[2][-2000:])
    stages = [reference.call_log()[mark:]]
    reference.mirror("break")
    mark = len(reference.call_log())
    code, _, err = run(reference, state, resume(state))
    assert code == 0, err[-2000:]
    stages.append(reference.call_log()[mark:])
    # xe calls only (not the XenAPI calls the plugin makes inside xapi)
    stages = [[c for c in calls if not c.get("via")] for calls in stages]
    assert {c["site"] for c in stages[0]} == {"A", "B"}
    expected = [normalized(reference, site) for site in ("A", "B")]

    def kill_and_resume(point):
        stage = point[0]
        name = "%d-%s-%s-%d-%s" % point
        lab, run_state = copy(name)
        where = "stage %d, %s" % (stage + 1, described(point))
        try:
            killed_command = failback(lab)
            broken = False
            if stage == 1:
                done = run(lab, run_state, killed_command)
                assert stopped_at_storage(done), (done[0], done[2][-2000:])
                lab.mirror("break")
                broken = True
                killed_command = resume(run_state)
            assert kill_rule(lab, point)
            killed, _, kill_err = run(lab, run_state, killed_command)
            faults.clear(lab.lab)
            if killed != -9:
                return "%s: exit %s, not killed (%s)" % (where, killed, kill_err[-300:])
            # Killed before its run existed (the pool's claim taken, the journal not begun):
            # the operator runs the command again.
            follow = resume(run_state) if len(os.listdir(os.path.join(run_state, "runs"))) > 1 \
                else killed_command
            while True:
                result = run(lab, run_state, follow)
                if broken or not stopped_at_storage(result):
                    break
                lab.mirror("break")
                broken = True
                follow = resume(run_state)
            if result[0] != code or not broken:
                return "%s: %s exited %d: %s" % (where, " ".join(follow[-3:]), result[0],
                                                 result[2][-400:])
            if [normalized(lab, site) for site in ("A", "B")] != expected:
                return "%s: the end state differs from an uninterrupted failback's" % where
            return None
        finally:
            shutil.rmtree(lab.root, ignore_errors=True)

    sampled = None
    if not options:
        # The plugin changes nothing before the recovery (it is asked its version and what
        # a metadata VDI holds): the changes before its first recover are the plain
        # failback's, which failback-plain kills at; this one kills from there on.
        recovers = [[i for i, c in enumerate(calls) if c["command"] == "host-call-plugin"
                     and changes(c["command"], c["args"])] for calls in stages]
        assert recovers[1] and not recovers[0]
        recovery = set(id(c) for c in stages[1][recovers[1][0]:])
        sampled = lambda stage, call: id(call) in recovery  # noqa: E731
    every = os.environ.get("XE_DR_FAULT_CAMPAIGN") == "all"
    points = kill_points(stages, every, sampled)
    if not every:
        # The slow tier's budget: every point of the resume after the array's stop (where
        # the storage is attached and the VMs recovered), and at most four of the first
        # invocation (the shutdown at the source: its steps are the source phase's, which
        # the failover scenarios' resumes exercise too), evenly spread.
        first = [p for p in points if p[0] == 0]
        points = [p for p in points if p[0] != 0] + first[::max(1, -(-len(first) // 4))]
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for p in pool.map(kill_and_resume, points) if p]
    assert not problems, "\n".join(problems)
