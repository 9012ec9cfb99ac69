"""The first phase of a run that shuts its source down (a failback: the DR site; a planned
migration: the primary): stop the selected VMs where they run now, and give their LUNs back
(the fence: xe_dr/dr/failover/fence.py checks it held)."""

from xe_dr.dr import guard
from xe_dr.dr.failover.context import Phase
from xe_dr.dr.failover.fence import FencePhase
from xe_dr.dr.protection import PROTECTED, classify_vms, metadata_srs
from xe_dr.dr.steps import SOURCE, Call, Step, step_id
from xe_dr.errors import ConfigError, UnreachableError, UsageError, XeDrError
from xe_dr.marks import PLANNED, RUN_TAG
from xe_dr.pool import PoolSnapshot, when_idle
from xe_dr.runner import CommandTimedOut
from xe_dr.xe.errors import XapiError
from xe_dr.xe.records import parse_map, parse_tags

# How xapi says a guest did not shut down cleanly (xapi_xenops.ml, from xenopsd's
# Failed_to_acknowledge_shutdown_request and Failed_to_shutdown); an appliance reports its
# members that failed as OPERATION_PARTIALLY_FAILED.
_UNCLEAN = ("VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT", "VM_SHUTDOWN_TIMEOUT",
            "OPERATION_PARTIALLY_FAILED")


def _shutdown_failure(failure, budget):
    """Why a clean shutdown did not happen, or None for a failure of another kind."""
    if isinstance(failure, CommandTimedOut):
        return "not halted within --shutdown-timeout %g s (xapi keeps trying)" % budget
    if failure.code in _UNCLEAN:
        return failure.one_line()
    return None

LUN_SR_TYPES = ("lvmoiscsi", "lvhdoiscsi", "lvmohba", "lvhdohba")  # what the array mirrors


class SourcePlan(object):
    """What a failback does at the source before it changes anything: the running vApps and
    standalone VMs to shut down, and the attached PBDs of the SRs that hold them."""

    def __init__(self, apps, standalone, selected, srs, pbds, names, master=None):
        self.apps = apps              # vApp records with a running member
        self.standalone = standalone  # running VM records not in a chosen vApp
        self.selected = selected      # every VM uuid failed back
        self.srs = srs                # {sr uuid: record} of the mirrored SRs to give back
        self.pbds = pbds              # their attached PBDs, the master's last
        self.names = names            # {vm uuid: name-label}
        self.master = master          # the source pool's master (its plugin reads the copies)


class SourcePhase(Phase):
    def plan(self):
        """Read the DR site and check, before anything changes, that the selection names VMs
        and vApps there and that the SRs to give back serve no VM left running."""
        xe = self.source_xe
        vms = xe.list("vm", params=("uuid", "name-label", "power-state", "order", "appliance",
                                    "other-config", "tags"),
                      filters={"is-control-domain": "false"})
        appliances = xe.list("appliance", params=("uuid", "name-label"))
        wanted = set(self.opts.vapps) | set(self.opts.vms)
        excluded = set(self.opts.exclude)
        known = {r[k] for r in vms + appliances for k in ("uuid", "name-label")}
        unknown = sorted((wanted | excluded) - known)
        if unknown:
            raise UsageError("not at the source site: %s" % ", ".join(unknown),
                             hint="'xe vm-list' and 'xe appliance-list' there list them; "
                                  "nothing was changed")

        # The members of an excluded vApp are excluded with it (unless named with --vm).
        excluded_apps = {a["uuid"] for a in appliances
                         if {a["uuid"], a["name-label"]} & excluded}

        tags = set(self.opts.tags)  # a plan's groups by xapi tag
        only = set(self.opts.only)  # --vapp/--vm narrowing a plan

        def chosen(record, failed_over_member=False):
            names = {record["uuid"], record["name-label"]}
            if names & excluded or (only and not names & only):
                return False
            if names & wanted or tags & set(parse_tags(record.get("tags", ""))):
                return True
            return self.opts.all and failed_over_member and \
                record.get("appliance") not in excluded_apps

        if self.opts.mode == PLANNED:
            # --all of a planned migration: what the metadata protects (every disk on an SR
            # with this pool's replicated metadata), as 'xe-dr status' counts it.
            tagged = self._protected()
            # A vApp moves whole, and the recovery here refuses one with a member that is
            # not protected: --all leaves such a vApp, all its members, at the source (else
            # they would be shut down there and brought nowhere).
            app_ids = {a["uuid"] for a in appliances}
            partial = {v["appliance"] for v in vms
                       if v["appliance"] in app_ids and v["uuid"] not in tagged}
            tagged -= {v["uuid"] for v in vms if v["appliance"] in partial}
        else:  # of a failback: what a failover brought to the DR site
            tagged = {v["uuid"] for v in vms
                      if RUN_TAG in parse_map(v.get("other-config", ""))}
        member_apps = {v["appliance"] for v in vms if v["uuid"] in tagged}
        apps = [a for a in appliances if chosen(a, a["uuid"] in member_apps)]
        app_uuids = {a["uuid"] for a in apps}
        running_apps = [a for a in apps if any(
            v["appliance"] == a["uuid"] and v["power-state"] == "running" for v in vms)]
        standalone = [v for v in vms if v["appliance"] not in app_uuids and
                      v["power-state"] == "running" and chosen(v, v["uuid"] in tagged)]
        selected = {v["uuid"] for v in vms if v["appliance"] in app_uuids} | \
            {v["uuid"] for v in vms if chosen(v, v["uuid"] in tagged)}
        srs, pbds, master = self._srs_at_source(selected)
        plan = SourcePlan(running_apps, standalone, selected, srs, pbds,
                          dict((v["uuid"], v["name-label"]) for v in vms), master)
        if self.opts.mode == PLANNED:
            try:  # before any change: the fence needs the source's plugin
                FencePhase(self.ctx).generations(plan)
            except XeDrError as failure:
                raise ConfigError("a planned migration reads the metadata generations at the "
                                  "source through xe-dr's host plugin, which did not answer "
                                  "(%s)" % failure.one_line(),
                                  hint="install it there: xe-dr -H SOURCE plugin install; "
                                       "nothing was changed")
        return plan

    def _protected(self):
        """The uuids of the source pool's protected VMs (xe_dr/dr/protection.py)."""
        facts = PoolSnapshot(self.source_xe).read("pool", "hosts", "srs", "vdis", "vbds", "vms")
        return {v["uuid"] for v in classify_vms(facts, metadata_srs(facts))
                if v["class"] == PROTECTED}

    def _by_plan_group(self, plan):
        """[(vApps, standalone VMs)] to shut down, by the plan's groups, the last group first
        (a VM two groups hold is the first's, as a run by the plan starts it)."""
        groups = self.opts.plan["groups"]

        def index(record, kind):
            names = {record["uuid"], record["name-label"]}
            for number, group in enumerate(groups):
                if names & set(group["vapps" if kind == "app" else "vms"]) or (
                        kind == "vm" and set(group["tags"]) &
                        set(parse_tags(record.get("tags", "")))):
                    return number
            return len(groups)  # (narrowed or named otherwise: after the plan's groups)
        found = [([], []) for _ in range(len(groups) + 1)]
        for app in plan.apps:
            found[index(app, "app")][0].append(app)
        for vm in plan.standalone:
            found[index(vm, "vm")][1].append(vm)
        return [pair for pair in reversed(found) if pair[0] or pair[1]]

    def _srs_at_source(self, selected):
        """The mirrored SRs that hold the selected VMs' disks at the DR site, and their
        attached PBDs (the master's last). An SR still used by a running VM that is not
        selected stops the run before any change: the fix is to shut that VM down or select
        it too."""
        xe = self.source_xe
        vbds = xe.list("vbd", params=("vm-uuid", "vdi-uuid", "type", "currently-attached"),
                       filters={"type": "Disk"})
        sr_of = dict((r["uuid"], r["sr-uuid"]) for r in xe.list("vdi", params=("uuid", "sr-uuid")))
        srs = dict((r["uuid"], r) for r in xe.list("sr", params=("uuid", "name-label", "type")))
        wanted = {sr_of.get(v["vdi-uuid"]) for v in vbds if v["vm-uuid"] in selected}
        wanted = sorted(sr for sr in wanted if sr in srs and srs[sr]["type"] in LUN_SR_TYPES)
        # dom0 holds the metadata VDIs it replicates into; unplugging the PBD releases them.
        dom0s = set(xe.uuids("vm", filters={"is-control-domain": "true"}))
        busy = {}
        for vbd in vbds:
            sr = sr_of.get(vbd["vdi-uuid"])
            if sr in wanted and vbd["currently-attached"] == "true" and \
                    vbd["vm-uuid"] not in selected and vbd["vm-uuid"] not in dom0s:
                busy.setdefault(sr, set()).add(vbd["vm-uuid"])
        if busy:
            raise UsageError("SR(s) %s at the source are still used by running VMs that are "
                             "not %s (%s)" % (
                                 ", ".join(srs[s]["name-label"] for s in sorted(busy)),
                                 "migrated" if self.opts.mode == PLANNED else "failed back",
                                 ", ".join(sorted({u for us in busy.values() for u in us}))),
                             hint="shut them down there or select them too; nothing was "
                                  "changed")
        master = xe.list("pool", params=("master",))[0]["master"]
        attached = xe.list("pbd", params=("uuid", "host-uuid", "sr-uuid"),
                           filters={"currently-attached": "true"})
        pbds = []
        for sr in wanted:
            pbds += sorted((p for p in attached if p["sr-uuid"] == sr),
                           key=lambda p: p["host-uuid"] == master)  # the master's last
        return dict((sr, srs[sr]) for sr in wanted), pbds, master

    def shut_down(self, plan):
        """:meth:`_shut_down`; a source that stops answering in the middle of it stops the
        run, saying where each site stands (:meth:`unreachable`)."""
        try:
            self._shut_down(plan)
        except XeDrError as failure:
            causes = [failure, getattr(failure, "cause", None)] + [
                f.cause for f in self.engine.failures if f.step.startswith("source-")]
            lost = [c for c in causes if isinstance(c, XeDrError) and guard.cannot_reach(c)]
            if lost:
                raise self.unreachable(lost[0])
            raise

    def unreachable(self, failure=None):
        """The source cannot be reached while this run's work there is not done: nothing more
        may change at either site (a VM could run at both). What the journal says was done
        there, and how to go on."""
        done = [step for step, event, _ in self.engine.steps("source-") if event == "done"]
        stopped = len([s for s in done if s.startswith("source-shutdown:")])
        unplugged = len([s for s in done if s.startswith("source-detach:")])
        why = getattr(failure, "code", None)
        lost = UnreachableError(
            "the source stopped answering%s before this run's work there was done: there, it "
            "shut down %d vApp(s) and VM(s) and unplugged %d SR(s), and the rest is as it "
            "was; here nothing is attached or recovered yet" % (
                " (%s)" % why if why else "", stopped, unplugged),
            hint="nothing runs at both sites; when the source answers again: %s; if it is "
                 "lost, fence it (its VMs stopped, its LUNs detached), 'xe-dr cleanup %s', "
                 "then fail over with --source down" % (self.ctx.resume_command(),
                                                         self.run.id))
        lost.names_the_way_on = True  # (RunContext.left_behind adds no other way)
        return lost

    def _shut_down(self, plan):
        """Cleanly shut down the selected VMs at the source, the reverse of the starts: by a
        plan's groups the last first, else standalone VMs by descending ``order`` group and
        the vApps (appliance-shutdown: xapi goes through their order groups downwards) with
        the lowest, as a failover starts them beside order group 0; so that the metadata
        replicated from there records them halted; then give their LUNs back.

        A clean shutdown needs the guest: xapi waits up to 60 s for it to acknowledge and up
        to 1200 s for it to halt (xenops_server.ml VM_shutdown_domain). Each call is bounded
        by ``--shutdown-timeout`` (never the generic call timeout). A VM that does not halt
        stops the failback before any storage changes, naming it, unless
        ``--force-shutdown``: then it is shut down hard (which cancels xapi's clean attempt,
        message_forwarding.ml VM.hard_shutdown), and the report says so."""
        xe = self.source_xe
        budget = self.opts.shutdown_timeout
        self.progress.phase("shut down at the source", len(plan.apps) + len(plan.standalone),
                            "source-shutdown:")

        def halted(filters):
            # A shutdown the stopped run left under way goes on in xapi: wait for it first.
            if "appliance" in filters:
                when_idle(xe, "appliance", {"uuid": filters["appliance"]})
            states = {r["power-state"] for r in when_idle(xe, "vm", filters,
                                                          params=("power-state",))}
            return True if states and states <= {"halted"} else None

        def clean_or_hard(kind, record, clean, running_vms):
            try:
                clean()
                return True
            except (XapiError, CommandTimedOut) as failure:
                why = _shutdown_failure(failure, budget)
                if why is None:
                    raise
                if not self.opts.force_shutdown:
                    raise XeDrError("%s %s did not shut down cleanly at the source: %s" % (
                        kind, record["name-label"], why), hint="shut its guest down, or "
                        "resume with --force-shutdown to shut it down hard")
            forced = []
            for vm in running_vms():
                xe.run("vm-shutdown", {"uuid": vm["uuid"]}, flags=("force",))
                forced.append(vm["name-label"])
            self.report.setdefault("hard_shutdowns", []).extend(forced)
            self.report["warnings"].append(
                "shut down hard at the source (the guest did not shut down cleanly): %s"
                % ", ".join(forced))
            return {"hard": forced, "why": why}

        def running(filters):
            return lambda: [r for r in xe.list("vm", params=("uuid", "name-label",
                                                             "power-state", "order"),
                                                filters=filters)
                            if r["power-state"] != "halted"]

        def stop_app(app):
            return self.engine.do(Step(
                step_id("source-shutdown", "appliance", app["uuid"]),
                "shut down vApp %s at the source" % app["name-label"],
                [Call("appliance-shutdown", {"uuid": app["uuid"]}, at=SOURCE)],
                action=lambda: clean_or_hard(
                    "vApp", app, lambda: xe.run("appliance-shutdown", {"uuid": app["uuid"]},
                                                timeout=budget * max(1, len(app.get(
                                                    "members") or ()))),
                    lambda: sorted(running({"appliance": app["uuid"]})(),
                                   key=lambda v: -int(v.get("order") or 0))),
                reconcile=lambda: halted({"appliance": app["uuid"]})))

        def stop_vm(vm):
            return self.engine.do(Step(
                step_id("source-shutdown", "vm", vm["uuid"]),
                "shut down VM %s at the source" % vm["name-label"],
                [Call("vm-shutdown", {"uuid": vm["uuid"]}, at=SOURCE)],
                action=lambda: clean_or_hard(
                    "VM", vm, lambda: xe.run("vm-shutdown", {"uuid": vm["uuid"]},
                                             timeout=budget),
                    running({"uuid": vm["uuid"]})),
                reconcile=lambda: halted({"uuid": vm["uuid"]})))

        def stop(pair):  # ("app", vApp record) or ("vm", VM record)
            return (stop_app if pair[0] == "app" else stop_vm)(pair[1])

        if self.opts.plan is not None:
            # By the plan's groups, the last first (each group at once): what came back
            # last is what depends on the rest.
            for apps, vms in self._by_plan_group(plan):
                self.engine.do_many([("app", a) for a in apps] + [("vm", v) for v in vms],
                                    self.opts.parallel, stop)
        else:
            # The reverse of a failover's starts: standalone VMs by descending order group,
            # and the vApps (which a failover starts beside order group 0) with the lowest.
            groups = {}
            for vm in plan.standalone:
                groups.setdefault(int(vm.get("order") or 0), []).append(("vm", vm))
            lowest = min(list(groups) + [0])
            groups.setdefault(lowest, [])[:0] = [("app", a) for a in plan.apps]
            for order in sorted(groups, reverse=True):
                self.engine.do_many(groups[order], self.opts.parallel, stop)
        failed = [f for f in self.engine.failures if f.step.startswith("source-shutdown:")]
        if failed:
            # Nothing more at either site while a VM still runs at the source: its LUN
            # cannot be given back, and the two sites must never run the same VM.
            raise XeDrError("%d VM(s) or vApp(s) still run at the source; nothing else was "
                            "changed: %s" % (len(failed), "; ".join(
                                getattr(f.cause, "message", str(f.cause)) for f in failed)),
                            hint="shut them down, or resume with --force-shutdown to shut "
                                 "them down hard: %s" % self.ctx.resume_command())
        FencePhase(self.ctx).record(plan, "after-shutdown")
        self._detach_at_source(plan)
        FencePhase(self.ctx).record(plan, "after-unplug")

    def _detach_at_source(self, plan):
        """Give the LUNs back: unplug, at the DR site, the mirrored SRs that hold the selected
        VMs' disks, so that the two pools never have one LVM volume group attached at once
        (reference pitfall 2). Unplugging also stops the DR site's metadata replication to
        them; its last write recorded the VMs halted."""
        xe = self.source_xe
        for pbd in plan.pbds:
            self.engine.do(Step(
                step_id("source-detach", pbd["uuid"]), "unplug SR %s at the source" %
                plan.srs[pbd["sr-uuid"]]["name-label"],
                [Call("pbd-unplug", {"uuid": pbd["uuid"]}, at=SOURCE)],
                action=lambda pbd=pbd: xe.run("pbd-unplug", {"uuid": pbd["uuid"]}) or True,
                reconcile=lambda pbd=pbd: True if not xe.list(
                    "pbd", params=("uuid",), filters={"uuid": pbd["uuid"],
                                                      "currently-attached": "true"})
                else None))
