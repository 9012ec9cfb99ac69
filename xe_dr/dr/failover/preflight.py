"""Everything a run can check before its first change, checked before it: a resume that has
nothing to resume or lost its plan, the source site (split brain), each SCSI id against the
target's LUNs, and for a failback the selection at the source and that its SRs can come here.
A usage error here leaves nothing behind."""

from xe_dr.dr import claims, guard
from xe_dr.dr.failover.context import Phase
from xe_dr.dr.failover.drill import journaled_copy_storage
from xe_dr.dr.failover.options import MODES, REPLANNED, Options
from xe_dr.dr.failover.start import Background
from xe_dr.dr.inventory import find_metadata_copies
from xe_dr.dr.storage import probe
from xe_dr.pool import read_pbds, read_srs
from xe_dr.errors import ConfigError, UnreachableError, UsageError, XeDrError
from xe_dr.journal import NOTE, Run, UnreadableDocument
from xe_dr.marks import DRILL, PLANNED, SHUTS_DOWN_SOURCE

_NO_PLAN_HINT = "clean it up with 'xe-dr cleanup %s', or restore the file from a backup of " \
                "the state directory"


class Preflight(Phase):
    def __init__(self, ctx, storage, source):
        super(Preflight, self).__init__(ctx)
        self.storage = storage
        self.source = source

    def reopen(self, resume_id):
        """Reopen the run ``resume_id`` for a resume, checked (its pool, its kind, that it
        can be resumed), with its options as planned but for the remedies a resume may
        bring: the shutdown options (more time for a guest, or --force-shutdown), and while
        nothing is recovered the fixes a blocking precheck names (REPLANNED). Returns the
        options changed."""
        given = self.ctx.opts
        self.ctx.run = Run.open(self.ctx.state_dir, resume_id)
        if self.run.meta["target"].get("pool_uuid") != self.pool.uuid:
            raise UsageError("run %s was against pool %s, not this one (%s)" % (
                resume_id, self.run.meta["target"].get("pool_name"), self.pool.name_label))
        if self.run.meta["kind"] not in MODES:
            raise UsageError("run %s is a %s, not a failover" % (resume_id,
                                                                self.run.meta["kind"]))
        self.check_resumable()
        remedies = ["shutdown_timeout", "force_shutdown"]
        if not any(e["step"].startswith(("recover:", "start:")) for e in self.run.entries()):
            remedies += REPLANNED  # planned and checked again anyway
        self.ctx.opts = Options.from_json(self.run.meta["options"])
        changed = dict((k, getattr(given, k)) for k in remedies
                       if getattr(given, k) != getattr(self.opts, k))
        for key, value in changed.items():
            setattr(self.opts, key, value)
        return changed

    def note_changes(self, changed, corrected):
        """Journal what a resume changed: the storage options, the shutdown options, the
        options of a run planned again."""
        if corrected is not None:
            self.run.append(NOTE, "storage corrected", before=corrected,
                            after=self.opts.storage)
        shutdown = dict((k, v) for k, v in changed.items() if k not in REPLANNED)
        if shutdown:
            self.run.append(NOTE, "shutdown options", **shutdown)
        if len(shutdown) < len(changed):
            self.run.append(NOTE, "options changed", **dict(
                (k, v) for k, v in changed.items() if k in REPLANNED))

    def check_resumable(self):
        """A cleaned-up run has nothing left to resume (resuming it would recover again what
        cleanup destroyed, or report VMs that no longer exist), nor has one whose cleanup
        began and stopped, nor one a later run took over (--adopt); a run that began recovering cannot go on without the plan it
        checked (re-planning would take its own recovered VMs for existing ones)."""
        run = self.run
        if run.meta.get("status") == "cleaned up":
            raise UsageError("run %s was cleaned up%s: there is nothing to resume" % (
                run.id, " by %s" % run.meta["cleaned_by"] if run.meta.get("cleaned_by") else ""),
                hint="start a new run instead")
        if run.meta.get("status") == "superseded":
            raise UsageError("run %s was superseded by run %s, which took over what it held: "
                             "there is nothing to resume" % (
                                 run.id, run.meta.get("superseded_by") or "unknown"),
                             hint="resume or clean up run %s instead"
                                  % (run.meta.get("superseded_by") or "that run"))
        cleanups = [r for r in Run.list(run.state_dir) if r.meta.get("kind") == "cleanup" and
                    (r.meta.get("options") or {}).get("of") == run.id]
        if cleanups:
            raise UsageError("run %s is being undone: its cleanup %s began (%s), and what "
                             "the run made may be destroyed in part: there is nothing to "
                             "resume" % (
                                 run.id, cleanups[-1].id, cleanups[-1].meta.get("status")),
                             hint="finish the cleanup with 'xe-dr cleanup %s', then start a "
                                  "new run" % run.id)
        if not any(e.get("step", "").startswith(("recover:", "start:"))
                   for e in run.entries()):
            return  # nothing recovered: the resume plans and checks again
        try:
            missing = run.load("plan.json") is None
        except UnreadableDocument as failure:
            raise ConfigError("run %s began recovering but its plan.json cannot be read (%s): "
                              "a resume would check its own recovered VMs as existing ones"
                              % (run.id, failure.problem), hint=_NO_PLAN_HINT % (run.id,))
        if missing:
            raise ConfigError("run %s began recovering but its plan.json is missing: a resume "
                              "would check its own recovered VMs as existing ones" % run.id,
                              hint=_NO_PLAN_HINT % (run.id,))

    def check(self):
        """Everything that can be checked without a change, checked before the first one: the
        source site (split brain), each SCSI id against the target's LUN list, for a
        failback the selection at the source and that its SRs can be brought here. Returns
        a failback's SourcePlan (None otherwise)."""
        self.ctx.source_state = guard.source_state(self.opts.mode, self.opts.source,
                                                   self.source_xe, self.pool.uuid)
        shut_down_before = self.run is not None and any(
            e.get("event") == "done" and e.get("step", "").startswith("source-")
            for e in self.run.entries())
        if self.opts.mode == PLANNED and shut_down_before and \
                self.ctx.source_state != guard.CHECKED and self.engine.state_of(
                    "source-generations:after-unplug") != "done":
            raise self.source.unreachable()  # its work at the source is not done
        if self.opts.mode == PLANNED and not shut_down_before and \
                self.ctx.source_state != guard.CHECKED:
            # Nothing may be lost or run twice: the run itself shuts the source down.
            failure = UnreachableError if self.ctx.source_state == guard.UNREACHABLE else \
                UsageError
            raise failure("a planned migration shuts the VMs down at the source itself: %s"
                          % ("--source %s cannot be reached" % self.opts.source.get("host")
                             if self.ctx.source_state == guard.UNREACHABLE else
                             "--source HOST was not given" if self.ctx.source_state ==
                             guard.NOT_CHECKED else "the source is declared down"),
                          hint="give --source HOST; with the source down, this is a "
                               "failover (without --planned); nothing was changed")
        if self.opts.mode == "failback" and not shut_down_before and \
                self.ctx.source_state in (guard.NOT_CHECKED, guard.UNREACHABLE):
            # The source of a failback is the DR site, where the VMs run now: going on
            # without it would start them at this site too.
            failure = UsageError if self.ctx.source_state == guard.NOT_CHECKED else \
                UnreachableError
            raise failure("a failback needs the DR site, where the VMs run now: %s" % (
                "--source was not given" if self.ctx.source_state == guard.NOT_CHECKED else
                "--source %s cannot be reached" % self.opts.source.get("host")),
                hint="give --source HOST (the VMs are shut down there first), or --source "
                     "down if they are stopped and its LUNs detached; nothing was changed")
        self.report["source"] = self.ctx.source_state
        if self.ctx.source_state == guard.UNREACHABLE:
            self.ctx.source_unreachable()  # taken for down, and said so
        warning = guard.fence_warning(self.ctx.source_state)
        if warning and warning not in self.report["warnings"]:
            self.report["warnings"].append(warning)
            self.progress.note(warning)
        # First: while a drill's copies are presented, the replicas are hidden from this
        # site's hosts, and the LUN check below would blame the LUNs given.
        claims.refuse_drill_copies(claims.drill_copies(
            read_srs(self.xe), read_pbds(self.xe), self.run.id if self.run else None))
        specs = self.storage.specs(need_passwords=False)
        if self.opts.mode == DRILL and self.run is not None:
            # A resumed drill attaches the copies it made, not the replicas (hidden from
            # this site's hosts while the copies are presented).
            copied = journaled_copy_storage(self.engine, self.opts.storage)
            if copied:
                self.ctx.copy_storage = copied
                specs = self.storage.specs(need_passwords=False)
            elif copied == []:
                specs = []  # the copy's outcome is unknown: the adapter's list will tell
        unattached = [spec for spec in specs if self.engine.state_of(
            "attach:%s" % spec.device_config.get("SCSIid", "?")) is None]
        try:
            guard.check_luns(self.xe, unattached, self.progress)
        except UsageError:
            # A LUN missing: hidden by a drill's copies, when a drill here made some.
            claims.refuse_hidden_by_drill(
                self.ctx.state_dir, self.pool.uuid,
                [spec.device_config.get("SCSIid") for spec in specs],
                self.run.id if self.run else None)
            raise
        srs = Background(read_srs, self.xe, daemon=True)
        plan = None
        if self.opts.mode in SHUTS_DOWN_SOURCE and self.source_xe is not None:
            plan = self.source.plan()
            self._check_failback_storage(plan)
        elif not self.opts.storage and not self.engine.dry_run:
            # Without storage options nothing is attached by this run: what is here now is
            # what the recovery reads (kept, not listed twice).
            self.ctx.copies = find_metadata_copies(self.xe, self.pool.uuid)
            if not [c for c in self.ctx.copies if c.latest and not c.local]:
                raise UsageError("no storage options were given and no recoverable metadata "
                                 "is attached here", hint="give --target/--iqn/--scsiid or "
                                 "--hba-scsiid ('xe-dr probe' finds them); nothing was changed")
        self._check_claims(srs.result())
        return plan

    def _check_claims(self, srs):
        """The SRs this run will use (those on its LUNs, or those holding the metadata it
        reads) are not held by another run (xe_dr/dr/claims.py)."""
        if self.opts.storage:
            scsi_ids = {s["device_config"].get("SCSIid") for s in self.opts.storage}
            used = claims.on_luns(srs, self.xe.list("pbd", params=("sr-uuid", "device-config")),
                                  scsi_ids)
        else:
            used = {c.sr_uuid for c in self.ctx.copies or () if c.latest and not c.local}
        held = claims.held(self.ctx.state_dir, srs, used, self.run.id if self.run else None)
        self.ctx.adopted = held.get(self.opts.adopt) if self.opts.adopt else None
        claims.refuse(held, self.opts.adopt)

    def _check_failback_storage(self, plan):
        """Every SR the failback gives back at the DR site comes here: it is attached here
        already, or it is on a LUN given (probed by SCSI id: the copy here is read-only, and
        no map of it is in use on this pool yet). Else shutting the VMs down there would
        bring back only some of them."""
        covered = {p["sr-uuid"] for p in self.xe.list(
            "pbd", params=("sr-uuid",), filters={"currently-attached": "true"})}
        specs = self.storage.specs(need_passwords=False)
        if len(specs) < len(self.opts.storage):
            return  # a CHAP LUN whose password comes later: the attach will tell
        for spec in specs:
            try:
                answer = probe(self.xe, spec)
            except XeDrError:
                return  # the attach will say what is wrong with this LUN
            if answer["stage"] == "srs":
                covered |= {sr["uuid"] for sr in answer["items"]}
        missing = sorted(set(plan.srs) - covered)
        if missing:
            raise UsageError("SR(s) %s hold VMs to fail back but are neither attached here "
                             "nor on a LUN given" % ", ".join(
                                 plan.srs[s]["name-label"] for s in missing),
                             hint="give their LUNs too (--scsiid or --hba-scsiid; 'xe-dr "
                                  "probe' finds them); nothing was changed")

    def corrected(self, specs):
        """A resume given the storage options again: they replace the run's (journaled, and
        kept in run.json for the next resume). Returns the storage they replace, or None."""
        if specs is None:
            return None
        new = [s.to_json() for s in specs]
        if new == self.opts.storage:
            return None
        before, self.opts.storage = self.opts.storage, new
        self.ctx.storage_corrected = True
        return before
