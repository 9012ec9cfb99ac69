"""A run by a recovery plan (``--plan``, xe_dr/dr/recovery_plan.py): the starts in the plan's
priority groups instead of xapi's ``order``, each group at once, then its gate (guest agents up,
a check command succeeding, or a delay), its hooks and its prompt; the run's own hooks before
the storage and after the starts. Each is a journaled step: a hook, gate or prompt that ended
is not run again on resume; one that was under way when xe-dr died is run again (hooks must be
idempotent: the man page says so). A test starts its VMs paused, group by group, and runs none
of the groups' gates, hooks and prompts: a paused guest runs no agent and no service to wait on.
The dry run lists the same steps (:meth:`PlanPhase.plan_steps`), and the runbook is written from
them.

Hooks and check commands are the administrator's shell lines from the plan, run on this
machine (``/bin/sh -c``) with the run's facts in their environment:

- ``XE_DR_RUN`` (the run id), ``XE_DR_MODE`` (failover, test, drill), ``XE_DR_POOL`` and
  ``XE_DR_POOL_UUID`` (the pool recovered into), ``XE_DR_PLAN`` (the plan's path);
- for a group's: ``XE_DR_GROUP``, ``XE_DR_VMS`` (the names of its VMs, one per line),
  ``XE_DR_VM_UUIDS`` (their uuids, one per line) and ``XE_DR_VM_ADDRESSES`` (a line
  ``NAME<tab>DEVICE<tab>ADDRESS`` per VIF: the address it is to have at the DR site).
Re-addressing is xe_dr/dr/failover/readdress.py.
"""

import os
import signal
import subprocess
import tempfile
import time

from xe_dr.dr.failover.context import Phase
from xe_dr.dr.failover.options import Declined, MOST_STARTS_AT_ONCE
from xe_dr.dr.failover.readdress import addresses_env
from xe_dr.dr.steps import Step, step_id
from xe_dr.errors import XeDrError

#: Of a hook's or check's output, what the journal and the report keep (its end).
OUTPUT_CHARS = 4000
#: Seconds between two runs of a gate's check command, or two looks at the guest agents.
POLL = 5.0


class PlanPhase(Phase):
    @property
    def plan(self):
        return self.opts.plan

    # -- the run's hooks ---------------------------------------------------------------------

    def run_hook(self, which):
        """The plan's run hook ``which`` (before: ahead of the storage; after: once every group
        started and passed its gate)."""
        command = self.plan["hooks"][which]
        if command:
            self._hook(step_id("hook", "run", which), "the run's %s hook" % which, command,
                       self.plan["hooks"]["timeout"], {})

    # -- the groups ---------------------------------------------------------------------------

    def start_groups(self, items, recovered, start_step):
        """Start the recovered items group by group, as the plan orders them; returns
        {item uuid: the start's time}. ``start_step(item)``: the Step that starts one."""
        started = {}
        wanted = [i for i in items if not i.excluded and i.uuid in recovered]
        self.progress.phase("start", len(wanted), "start:")
        for group, members in self._grouped(wanted):
            names = self._vm_names(members, recovered)
            env = {"XE_DR_GROUP": group["name"],
                   "XE_DR_VMS": "\n".join(name for _, name in names),
                   "XE_DR_VM_UUIDS": "\n".join(uuid for uuid, _ in names),
                   "XE_DR_VM_ADDRESSES": addresses_env(self.plan, self.report, names)}

            def start_all(members, group=group):
                self.progress.note("group %s: %d vApp(s) and VM(s)" % (group["name"],
                                                                     len(members)))

                def start(item):
                    result = self.engine.do(_in_group(start_step(item), group))
                    started[item.uuid] = result
                    return result
                self.engine.do_many(members, min(len(members), MOST_STARTS_AT_ONCE), start)

            def gate(group=group, names=names, members=members, env=env):
                self._gate(group, names, started, members, recovered, env)
            self._group(group, members, start_all, env, gate)
        return started

    def plan_steps(self, items, start_step):
        """The dry run's steps of the groups, in the order :meth:`start_groups` takes them
        (each start step names its group: the runbook starts by them); then the run's after
        hook."""
        wanted = [i for i in items if not i.excluded]
        for group, members in self._grouped(wanted):

            def start_all(members, group=group):
                for item in members:  # in a fixed order: the runbook is written from it
                    self.engine.do(_in_group(start_step(item), group))

            def gate(group=group, members=members):
                self._gate(group, [], {}, members, {}, {})
            self._group(group, members, start_all, {}, gate)
        self.run_hook("after")

    def _group(self, group, members, start_all, env, gate):
        """One group: its before hook, its starts at once, then its gate, after hook and
        prompt. A test's VMs start paused: a paused guest runs no agent and no service, so
        the steps that wait on them or on a person are not run (and only the starts are)."""
        running = self.opts.power != "paused"
        if running and group["before"]:
            self._hook(step_id("hook", "before", group["name"]), "group %s's before hook"
                       % group["name"], group["before"], group["hook_timeout"], env)
        if members:
            start_all(members)
        if not running:
            return
        gate()
        if group["after"]:
            self._hook(step_id("hook", "after", group["name"]), "group %s's after hook"
                       % group["name"], group["after"], group["hook_timeout"], env)
        if group["prompt"]:
            self.engine.do(Step(
                step_id("prompt", group["name"]), "group %s's prompt" % group["name"], [],
                action=lambda group=group: self._ask(group)))

    def _grouped(self, items):
        """[(group, its items)] in the plan's order; an item two groups hold (a name in one, a
        tag in another) is the first one's: plan validate names it as drift."""
        placed, grouped = set(), []
        for group in self.plan["groups"]:
            members = [i for i in items if i.uuid not in placed and self._in(i, group)]
            placed.update(i.uuid for i in members)
            grouped.append((group, members))
        return grouped

    def _in(self, item, group):
        """Whether the group holds the item: by its name or uuid, or a VM by one of its tags."""
        if item.kind == "vm" and set(group["tags"]) & set(item.tags):
            return True
        names = group["vapps"] if item.kind == "appliance" else group["vms"]
        return item.name_label in names or item.uuid in names

    def _vm_names(self, members, recovered):
        """[(uuid, name)] of the VMs the group's items brought back, by name."""
        uuids = [u for item in members for u in (recovered.get(item.uuid) or ())]
        if not uuids:
            return []
        names = dict((r["uuid"], r.get("name-label", ""))
                     for r in self.xe.list("vm", params=("uuid", "name-label")))
        return sorted(((u, names.get(u, "")) for u in uuids), key=lambda pair: pair[::-1])

    # -- gates ------------------------------------------------------------------------------

    def _gate(self, group, names, started, members, recovered, env):
        gate = group["gate"]
        if gate["kind"] == "none":
            return
        what = {"guest-agent": "every guest agent of group %s up" % group["name"],
                "command": "%s succeeding" % gate["command"],
                "delay": "%ds" % (gate["seconds"] or 0)}[gate["kind"]]
        self.engine.do(Step(step_id("gate", group["name"]), "wait for %s" % what, [],
                            action=lambda: self._wait(group, names, started, members,
                                                      recovered, env)))

    def _wait(self, group, names, started, members, recovered, env):
        gate = group["gate"]
        if gate["kind"] == "delay":
            time.sleep(gate["seconds"])
            return {"waited": gate["seconds"]}
        deadline = time.time() + gate["timeout"]
        if gate["kind"] == "guest-agent":
            from xe_dr.dr.verify import verify_vms
            started_at = {}
            for item in members:
                for uuid in recovered.get(item.uuid) or ():
                    started_at[uuid] = started.get(item.uuid)
            verdicts = verify_vms(self.xe, [{"uuid": u, "name_label": n, "tags": []}
                                            for u, n in names], started_at, deadline,
                                  poll=POLL)
            late = [v["name_label"] for v in verdicts if not v["verified"]]
            if not late:
                return {"up": [n for _, n in names]}
            why = "the guest agent of %s did not report" % ", ".join(late)
        else:
            while True:
                left = max(1.0, deadline - time.time())
                code, output = run_command(gate["command"], self._env(env), left)
                if code == 0:
                    return {"output": output}
                if time.time() >= deadline:
                    break
                time.sleep(min(POLL, max(0.0, deadline - time.time())))
            why = "%s did not succeed (exit %s: %s)" % (gate["command"], code,
                                                       _last_line(output))
        return self._timed_out(group, why)

    def _timed_out(self, group, why):
        gate = group["gate"]
        said = "group %s's gate timed out after %ds: %s" % (group["name"], gate["timeout"], why)
        if gate["on_timeout"] == "continue":
            self.report["warnings"].append(said + " (the plan says: continue)")
            self.progress.note(said + "; the plan says: continue")
            return {"timed_out": why, "went_on": True}
        if gate["on_timeout"] == "ask" and self.ctx.prompt(said + ": go on with the next "
                                                           "group?"):
            return {"timed_out": why, "went_on": True}
        raise XeDrError(said, hint="fix it, then resume: the gate is waited for again")

    def _ask(self, group):
        if not self.ctx.prompt(group["prompt"]):
            raise Declined("not confirmed: %s (group %s's prompt)" % (group["prompt"],
                                                                    group["name"]))
        return "confirmed"

    # -- hooks --------------------------------------------------------------------------------

    def _hook(self, step, what, command, timeout, env):
        def action():
            code, output = run_command(command, self._env(env), timeout)
            if code != 0:
                raise XeDrError("%s failed (%s): %s" % (
                    what, "timed out after %ds" % timeout if code is None else
                    "exit %d" % code, _last_line(output)),
                    hint="fix it; a resume runs this hook again, and not the ones that "
                         "succeeded")
            return {"output": output}
        self.engine.do(Step(step, "%s: %s" % (what, command), [], action=action,
                            begin_data={"commands": [["/bin/sh", "-c", command]]}))

    def _env(self, extra):
        env = dict(os.environ)
        env.update({"XE_DR_RUN": self.run.id, "XE_DR_MODE": self.opts.mode,
                    "XE_DR_POOL": self.pool.name_label, "XE_DR_POOL_UUID": self.pool.uuid,
                    "XE_DR_PLAN": self.opts.plan_path or ""})
        env.update(extra)
        return env


def _in_group(step, group):
    """A start step of a run by a plan: its group is the plan's (xapi's order does not
    count)."""
    step.group = group["name"]
    return step


def run_command(command, env, timeout):
    """(exit status or None on timeout, the end of its output) of a shell line of the plan,
    run in a session of its own so that a timeout stops everything it started. Its output
    goes to a file, not a pipe: a hook that starts a daemon in the background (which keeps
    the hook's stdout) has ended when its shell has, and one that prints megabytes costs
    disk, not memory."""
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                                stdout=output, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            code = None
        size = output.seek(0, os.SEEK_END)
        output.seek(max(0, size - 4 * OUTPUT_CHARS))  # (a character is 1 to 4 bytes)
        text = output.read().decode("utf-8", "replace")
    return code, text[-OUTPUT_CHARS:]


def _last_line(output):
    lines = [line for line in (output or "").splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"

