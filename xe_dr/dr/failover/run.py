"""Failover, test failover and failback: plan, prechecks, then journaled apply.

Phases (each step journaled, see xe_dr/dr/engine.py):

1. storage: ``sr-probe`` each LUN (read-only), then ``drtask-create`` with a whitelist of the
   SRs not yet known here, ``pbd-plug`` for known but unplugged ones, and a tag on each SR
   introduced (``other-config:xe-dr-run=<run>``) so cleanup finds it even without the journal;
2. metadata: the newest copy of each source pool (``metadata-latest=true``), read through the
   host plugin (one database open) or plain xe;
3. selection and prechecks; objects failing a check of their own are left out (the run ends
   partly failed), a blocking pool-level check stops the run before anything is recovered;
4. recovery: vApps (``appliance-recover``) first, then standalone VMs (``vm-recover``), up to
   ``--parallel`` at once; every recovered VM is tagged with the run;
   Before the first recovery, each foreign network the selected VMs use that no network
   here is named after is created here (``network-create``, tagged with the run): xapi
   would otherwise make one with the source's bridge, which it refuses in the user's
   session, and fail the recovery (xe_dr/dr/networks.py);
5. networks: VIFs moved to the networks named by ``--map-network`` (a network created for a
   mapped name alone is removed once empty); networks that xapi created during the import
   are tagged with the run;
6. start: every vApp with ``appliance-start`` (xapi runs its order groups) while standalone
   VMs start by ``order`` groups, lowest first, each group in parallel (``vm-start`` waits
   the VM's start-delay, so the delay separates one group from the next);
7. after a real failover: ``drtask-destroy`` (xapi forgets the SRs no recovered VM needs) and
   the offer to protect this pool by enabling its own metadata replication.

A failback first stops the VMs at the DR site and gives the LUNs back. Each phase is a module
of this package over one shared RunContext (context.py): storage.py, source.py, checks.py,
networks.py, recovery.py, start.py, and dryrun.py for --dry-run; this module orders them.
"""

import time

from xe_dr.dr import lifecycle
from xe_dr.dr.adapter import InconsistentCopies
from xe_dr.dr.engine import DeadlinePassed, Engine, LineProgress, StepFailed
from xe_dr.dr.failover.checks import CheckPhase, exclude_failing, live_checks
from xe_dr.dr.failover.context import Phase, RunContext
from xe_dr.dr.failover.drill import DrillPhase
from xe_dr.dr.failover.dryrun import DryRun
from xe_dr.dr.failover.fence import FencePhase
from xe_dr.dr.failover.ha import HaPhase
from xe_dr.dr.failover.mirror import MirrorPhase
from xe_dr.dr.failover.networks import NetworkPhase
from xe_dr.dr.failover.outcome import tally
from xe_dr.dr.failover.plan_phase import PlanPhase
from xe_dr.dr.failover.preflight import Preflight
from xe_dr.dr.failover.readdress import ReaddressPhase
from xe_dr.dr.failover.questions import Questions
from xe_dr.dr.failover.recovery import RecoveryPhase
from xe_dr.dr.failover.source import SourcePhase
from xe_dr.dr.failover.start import Background, Settled, StartPhase
from xe_dr.dr.failover.storage import StoragePhase, sm_error, storage_hint
from xe_dr.dr.inventory import read_live_source
from xe_dr.dr.plan import BLOCKING, Check, Item, narrow, select
from xe_dr.errors import XeDrError
from xe_dr.exitcodes import ExitCode
from xe_dr.journal import Run, StateWriteError, new_run_id
from xe_dr.marks import DISPOSABLE_KINDS, DRILL, PLANNED, SHUTS_DOWN_SOURCE
from xe_dr.pool import read_hosts, read_pool


class Failover(Phase):
    """One failover-like run against the target pool behind ``xe``.

    ``confirm(question, what)`` asks for an explicit yes; ``progress`` shows what happens
    (``note(text)``, ``phase(name, total)``, ``step(kind, step, description)``, see
    xe_dr/cli/progress.py), or is a function printing lines;
    ``source_xe`` reaches the source pool when it is reachable (None otherwise).
    """

    def __init__(self, xe, state_dir, options, confirm, progress, source_xe=None,
                 chap_passwords=None, use_plugin=True, argv=(), transport="", publish=None,
                 plugin_required=False, prompt=None, lock_wait=0, estate_pool=None):
        """``publish(run)`` renders a run's report beside report.json (the presentation
        layer's writer; None: report.json alone). ``plugin_required``: refuse to run with
        plain xe (--plugin required). ``lock_wait``: seconds to wait for another run's lock
        (--wait-lock); ``estate_pool``: the target's name in a sites file (--pool)."""
        progress = progress if hasattr(progress, "note") else LineProgress(progress)
        ctx = RunContext(xe, state_dir, options, confirm, progress, source_xe=source_xe,
                         chap_passwords=chap_passwords, use_plugin=use_plugin, argv=argv,
                         transport=transport, plugin_required=plugin_required,
                         prompt=prompt)
        ctx.lock_wait, ctx.estate_pool = lock_wait, estate_pool
        super(Failover, self).__init__(ctx)
        self.storage = StoragePhase(ctx)
        self.source = SourcePhase(ctx)
        self.networks = NetworkPhase(ctx)
        self.checks = CheckPhase(ctx, self.networks)
        self.recovery = RecoveryPhase(ctx)
        self.starts = StartPhase(ctx)
        self.questions = Questions(ctx)
        self.preflight = Preflight(ctx, self.storage, self.source)
        self.drill = DrillPhase(ctx)
        self.plans = PlanPhase(ctx)
        self.readdress = ReaddressPhase(ctx)
        self.mirror = MirrorPhase(ctx)
        self.fence = FencePhase(ctx)
        self.ha = HaPhase(ctx)
        self.dry = DryRun(ctx, self.networks, self.recovery, self.starts, self.plans)
        self.publisher = lifecycle.Publisher(publish, progress.note)

    def plan(self):
        """--dry-run: everything but changes. Returns the report (plan, checks, commands)."""
        self.ctx.pool = read_pool(self.xe)
        self.ctx.hosts = read_hosts(self.xe)
        self.recovery.ask_plugin_version()
        self.ctx.engine = Engine(None, xe=self.xe, dry_run=True, source_xe=self.source_xe)
        early = self.checks.early()
        self.report["checks"] = [c.to_json() for c in early]
        self.preflight.check()
        self.recovery.plugin_answer()
        if self.opts.plan is not None:
            self.plans.run_hook("before")
        self.storage.attach()
        code = self._recover_and_start(dry_run=True)
        self.report["commands"] = self.engine.planned
        return self.report, self.dry.verdict(early, code)

    def apply(self, resume_id=None, storage=None):
        """Run (or, with ``resume_id``, resume) the run. ``storage``: StorageSpecs given again
        to a resume, correcting LUNs whose attach has not begun."""
        self.ctx.pool = read_pool(self.xe)
        hosts = Background(read_hosts, self.xe, daemon=True)  # beside the lock: not needed there
        self.recovery.ask_plugin_version()
        changed = self.preflight.reopen(resume_id) if resume_id else {}
        corrected = self.preflight.corrected(storage)
        checked = {}

        def open_run():
            # Everything checkable without a change, before a new run exists: a usage error
            # here leaves nothing behind (and, under the lock, reads a pool no other run
            # changes meanwhile).
            self.ctx.engine = Engine(self.run, xe=self.xe, source_xe=self.source_xe)
            checked["source_plan"] = self.preflight.check()
            self.recovery.plugin_answer()  # --plugin required refuses here, as a usage error
            if not resume_id:
                return Run.create(self.ctx.state_dir, self.opts.mode, self._target(),
                                  self.ctx.argv, self.opts.to_json(), run_id=run_id)
            self.preflight.note_changes(changed, corrected)
            self.run.set_status("running", resumed=time.time(), options=self.opts.to_json())
            return self.run

        run_id = self.run.id if resume_id else new_run_id(self.opts.mode)
        lock, self.ctx.run = lifecycle.claim(self.ctx.state_dir, self.xe, self.pool.uuid, run_id,
                                             self.progress.note, open_run,
                                             wait=self.ctx.lock_wait)
        source_plan = checked["source_plan"]
        self.report["run"] = self.run.id
        self.ctx.engine = Engine(self.run, xe=self.xe, on_event=self.progress.step,
                                 source_xe=self.source_xe)
        try:
            self.ctx.hosts = hosts.result()
            self.recovery.read_ahead()
            early = self.checks.early()
            self.report["checks"] = [c.to_json() for c in early]
            blocking = [c for c in early if c.verdict == BLOCKING]
            if blocking:
                return self.report, self._blocked(blocking)
            self.questions.ask("storage", self.questions.storage(source_plan))
            self.storage.adopt()
            if source_plan is not None:
                self.source.shut_down(source_plan)
                self.mirror.make_writable()
            if self.opts.plan is not None:
                self.plans.run_hook("before")
            if self.opts.mode == DRILL:
                self.drill.start_watchdog()
            try:
                outcome = self._attach_recover_start()
            except DeadlinePassed as fired:
                outcome = self.drill.deadline_passed(fired, self._tag_imported_if_possible,
                                                     self.publisher)
        except KeyboardInterrupt as stop:
            self.publisher.stopped(self.run, self.report)
            raise lifecycle.interrupted(self.run.id, stop, self.ctx.resume_command())
        except StateWriteError:
            raise  # nothing more can be written: the run is left as if interrupted
        except XeDrError as failure:  # seen by the operator even when it cannot be recorded
            self.ctx.left_behind(failure)
            self.publisher.stopped(self.run, self.report, failure)
            raise
        finally:
            try:
                self.recovery.release_kept()
            finally:
                lock.release()
        return self.report, outcome

    def _attach_recover_start(self):
        """The run's changes after its checks: (a drill's copies,) the storage, then the
        recovery and the starts; returns the exit code."""
        try:
            if self.opts.mode == DRILL:
                self.drill.take_copies()
            self.storage.attach()
            if self.opts.mode == DRILL:
                self.drill.write_deadline()
        except (StateWriteError, DeadlinePassed):
            raise  # its hint already says how to go on; the watchdog's end is the drill's
        except XeDrError as failure:
            if isinstance(getattr(failure, "cause", None), InconsistentCopies):
                raise  # released already, and a resume would be answered the same
            if self.opts.mode in SHUTS_DOWN_SOURCE and sm_error(failure) == 47:
                # After the source phase, this site's LUNs are mirror targets until the
                # array halts or reverses the mirror: a stop by design.
                raise self.mirror.array_stop(failure)
            failure.hint = "%s; then resume with '%s'" % (
                failure.hint or storage_hint(failure), self.ctx.resume_command())
            raise
        return self._recover_and_start(dry_run=False)

    def _blocked(self, blocking):
        """Stop before any change: the report says what to fix."""
        for check in blocking:
            self.progress.note("precheck blocking: %s" % check.message)
        self.report["todo"].append("fix the blocking prechecks, then run the command again")
        self.publisher.finished(self.run, self.report, "blocked")
        if any(c.name == "licence" for c in blocking):
            return ExitCode.REFUSED
        return ExitCode.FAILED

    def _target(self):
        target = {"pool_uuid": self.pool.uuid, "pool_name": self.pool.name_label,
                  "master": self.pool.master, "transport": self.ctx.transport}
        if self.ctx.estate_pool:
            target["estate_pool"] = self.ctx.estate_pool
        return target


    def _recover_and_start(self, dry_run):
        self.progress.phase("prechecks", 2, "precheck:")
        self.progress.step("begin", "precheck:metadata", "read the recoverable metadata")
        sources = self.recovery.sources()
        self.progress.step("done", "precheck:metadata", "")
        protection = None
        if not sources and dry_run and self.source_xe is not None:
            # Before a disaster the copies are not visible here yet: plan from the live
            # source pool (a runbook made in peacetime), whose references are real.
            live, protection = read_live_source(self.source_xe)
            sources = [live]
            self.report["sources"] = [{"uuid": live.uuid, "name_label": live.name_label,
                                       "vdi": None, "sr": None, "generation": None,
                                       "via": live.via}]
        if not sources:
            if dry_run and self.opts.storage:
                self.report["todo"].append("the VM list comes from the metadata on the SRs "
                                           "above, once they are attached")
                return self.dry.unchecked()
            raise XeDrError("no recoverable metadata is visible in this pool",
                            hint="attach the mirrored SRs (probe options) or check "
                                 "'xe-dr inventory'")
        by_vdi = dict((s.copy.vdi_uuid, s) for s in sources)
        self.ctx.vm_sources = dict((vm.uuid, vm) for s in sources for vm in s.vms)
        # Nothing recovered yet: plan and check again, so that a fix made since a blocking
        # verdict counts (the run's own VMs cannot be mistaken for existing ones yet).
        saved = self.run.load("plan.json") if self.run is not None and any(
            e.get("step", "").startswith("recover:") for e in self.run.entries()) else None
        if saved:
            # A resume goes on with exactly what the run planned and checked before its first
            # change: its own recovered VMs must not now count as "existing at the target".
            items = [Item.from_json(i) for i in saved["items"]]
            checks = [Check.from_json(c) for c in saved["checks"]]
            self.ctx.networks_before = set(saved.get("networks_before", ()))
            self.ctx.network_plan = saved.get("networks") or []
        else:
            halted = None
            if self.opts.mode in SHUTS_DOWN_SOURCE and not dry_run:
                # the fence: the source's final writes here
                halted = self.fence.check_copies(sources)
            items = select(sources, self.opts.all, self.opts.vapps, self.opts.vms,
                           self.opts.exclude, failed_over_only=self.opts.mode == "failback",
                           tags=self.opts.tags)
            if self.opts.mode == PLANNED and self.opts.all and halted is not None:
                items = self.fence.only_shut_down(items, halted)
            if self.opts.only:
                items = narrow(items, self.opts.only, self.opts.plan_path)
            self.progress.step("begin", "precheck:objects", "check %d vApp(s) and VM(s)"
                               % len(items))
            if protection is None:
                checks = self.checks.prechecks(items, by_vdi)
            else:
                checks = live_checks(items, sources[0], protection)
                exclude_failing(items, checks)
                target = self.checks.target_facts()
                self.ctx.networks_before = {n["uuid"] for n in target.networks}
                checks += self.networks.checks(items, by_vdi, target)
        self.progress.step("done", "precheck:objects", "")
        self.report["checks"] = [c.to_json() for c in checks]
        self.report["networks"] = self.ctx.network_plan
        pool_blocking = [c for c in checks if c.verdict == BLOCKING and not c.objects]
        exclude_failing(items, checks)
        self.report["items"] = [i.to_json() for i in items]
        if dry_run:
            self.dry.plan_steps(items)
            return self.dry.planned_code(items, checks)
        # What a report of this run needs even if it is killed before it ends.
        self.run.save("plan.json", {"items": [i.to_json() for i in items],
                                    "checks": [c.to_json() for c in checks],
                                    "networks_before": sorted(self.ctx.networks_before),
                                    "networks": self.ctx.network_plan,
                                    "sources": self.report["sources"],
                                    "storage": self.report["storage"]})
        if pool_blocking:
            self.report["outcome"] = "blocked"
            self.report["todo"].append("fix the blocking prechecks, then resume with "
                                       "--resume %s, or undo what was attached with "
                                       "'xe-dr cleanup %s'" % (self.run.id, self.run.id))
            self.publisher.finished(self.run, self.report, "blocked", ended=False)
            return ExitCode.FAILED
        if self.opts.mode not in DISPOSABLE_KINDS:
            self.questions.ask("recovery", self.questions.recovery(items, checks))
        if self.opts.mode in DISPOSABLE_KINDS and self.opts.disable_ha and (
                self.pool.ha_enabled or self.engine.begun("ha:disable") is not None):
            self.ha.disable()
        self.progress.phase("recover", len([i for i in items if not i.excluded]), "recover:")
        self.networks.prepare(items)
        recovered, started = self._recover_and_start_in_waves(items, by_vdi)
        if self.opts.plan is not None:
            self.plans.run_hook("after")
        self._finish(items)
        return self._outcome(items, recovered, started)

    def _recover_and_start_in_waves(self, items, by_vdi):
        """Returns (recovered, started). With one wave: recover, map networks, start. With
        more: the start phase runs beside the later waves and starts each group (or vApp) as
        soon as its wave is recovered."""
        # A drill recovers everything before its isolation, then starts: one wave; so does a
        # run by a plan (its groups start one after another, each once recovered).
        waves = self.recovery.waves(items) if self.opts.mode != DRILL and \
            self.opts.plan is None else [[i for w in self.recovery.waves(items) for i in w]]
        recovered = {}
        settled = Settled()
        starter = None
        try:
            for wave in waves:
                recovered.update(self.recovery.recover(wave, by_vdi))
                self.networks.map_vifs(recovered)
                settled.add(i.uuid for i in wave)
                if starter is None and len(waves) > 1:
                    starter = Background(self.starts.start, items, recovered, settled)
            self.networks.tag_imported()
        except BaseException as stop:
            settled.shut()
            if starter is not None:
                starter.wait()  # the starts under way end (and are journaled) first
            if recovered and isinstance(stop, XeDrError):  # ^C: nothing new starts
                self._tag_imported_if_possible()
            raise
        finally:
            self.recovery.release_kept()
        self.networks.drop_unused(items, recovered)
        if starter is None:
            if self.opts.mode == DRILL:  # nothing starts before it is isolated and prepared
                self.ctx.start_on = self.drill.isolate(items, recovered)
                self.drill.prepare(items, recovered)
            if self.opts.plan is not None and self.opts.power != "none":
                readdressed = self.readdress.apply(items, recovered)
                started = self.plans.start_groups(items, recovered, self.starts.step)
                self.readdress.check(readdressed)
                return recovered, started
            return recovered, self.starts.start(items, recovered)
        return recovered, starter.result()

    def _tag_imported_if_possible(self):
        """A run stopped after some recoveries still tags the networks they made, so that a
        cleanup without a resume finds them (best effort: the stop is what matters now)."""
        try:
            self.networks.tag_imported()
        except (XeDrError, StepFailed):
            pass

    def _outcome(self, items, recovered, started):
        named = set(self.opts.vms) | set(self.opts.vapps)
        self.report["items"], outcome, code = tally(
            items, self.report["checks"], self.engine.failures, recovered, started, named)
        if self.opts.mode == DRILL and code in (ExitCode.OK, ExitCode.PARTIAL):
            verdicts = self.drill.verify(items, recovered, started)
            if self.drill.mark(verdicts) != "verified":
                outcome, code = "partly failed", ExitCode.PARTIAL
        elif self.opts.mode == DRILL:  # it recovered nothing: a drill that failed, on record
            self.engine.deadline = None
            self.drill.mark(None)
        self.report["failures"] = [f.message for f in self.engine.failures]
        self.networks.report_outcome()
        extra = {"verdict": self.report.get("verdict")} if self.opts.mode == DRILL else {}
        self.publisher.finished(self.run, self.report, outcome, exit_code=int(code), **extra)
        return code

    def _finish(self, items):
        if self.opts.mode in DISPOSABLE_KINDS:
            self.report["todo"].append("clean up the %s with 'xe-dr cleanup %s'" % (
                self.opts.mode, self.run.id))
            return
        self.mirror.finish()
