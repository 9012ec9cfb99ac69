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

A failback first stops the VMs at the DR site and gives the LUNs back (xe_dr/dr/source.py);
the storage phase lives in xe_dr/dr/attach.py.
"""

import json
import threading
import time

from xe_dr.dr import guard
from xe_dr.dr import networks as networks_
from xe_dr.dr import prechecks as checks_
from xe_dr.dr.attach import StoragePhase
from xe_dr.dr.engine import Engine, LineProgress, StepFailed
from xe_dr.dr.inventory import (find_metadata_copies, learn_membership,
                                read_foreign_networks, read_live_source, read_sources)
from xe_dr.dr.plan import BLOCKING, CONFIRM, WARNING, Check, Item, select
from xe_dr.dr.plugin import PLUGIN, call_json, malformed, plugin_version
from xe_dr.dr.source import SourcePhase
from xe_dr.dr.steps import Call, Step, step_id
from xe_dr.dr.storage import probe
from xe_dr.errors import (ConfigError, TemporaryError, UnreachableError, UsageError,
                          XeDrError)
from xe_dr.exitcodes import ExitCode
from xe_dr.dr.lock import RunLock
from xe_dr.journal import NOTE, Run, StateWriteError, new_run_id
from xe_dr.marks import RUN_KIND_TAG, RUN_TAG
from xe_dr.pool import PoolSnapshot, read_hosts, read_networks, read_pool
from xe_dr.xe.records import parse_set

MODES = ("failover", "test", "failback")
# What a step's calls name in place of a value the step learns when it runs.
NEW_NETWORK = "<the new network>"
RECOVERED_VMS = "<each VM recovered>"
# The most objects one plugin call recovers at once (the plugin's MAX_PARALLEL; version 1
# of the plugin accepted 16).
PLUGIN_PARALLEL = {"1": 16}
PLUGIN_PARALLEL_DEFAULT = 32
# An order group starts as xapi starts a vApp's order group: all of its VMs at once
# (xapi_vm_appliance.ml, one Async VM.start per VM, then wait for all). Capped, because each
# start here is an xe process on the admin machine or dom0.
MOST_STARTS_AT_ONCE = 64
POWER = ("start", "paused", "none")


def _exclude_failing(items, checks):
    """Leave out every object that fails a blocking check of its own."""
    for check in checks:
        if check.verdict == BLOCKING and check.objects:
            for item in items:
                if item.uuid in check.objects and not item.excluded:
                    item.excluded = check.message


def _sm_error(failure):
    """The SM error number of a failure, or of the xe error a failed step wraps."""
    return getattr(failure, "sm_error_number", None) or getattr(
        getattr(failure, "cause", None), "sm_error_number", None)


def _storage_hint(failure):
    if _sm_error(failure) == 47:
        return "the replica is not writable: halt the mirror (promote the copy at this site)"
    return "fix that"


class Declined(XeDrError):
    """The operator answered no: the run stops before the change it was asked about."""
    run_status = "not confirmed"


class ArrayStop(TemporaryError):
    """The run needs the array's hand (a LUN here is still a read-only mirror target): a stop
    by design, not a failure; it resumes once the array made the LUN writable."""
    run_status = "waiting for the array"


# Seconds a failback waits for one VM's clean shutdown at the source before it calls the
# guest uncooperative. xapi itself waits up to 60 s for an acknowledgement and 1200 s in all;
# five minutes is what an administrator on a bad day will wait per VM (VMs of an order group
# shut down together).
DEFAULT_SHUTDOWN_TIMEOUT = 300


class Options(object):
    """What the user asked for; kept in run.json so that --resume needs nothing else
    (but the CHAP password, which is never stored)."""

    FIELDS = ("mode", "all", "vapps", "vms", "exclude", "storage", "srs", "power", "parallel",
              "network_map", "force", "disable_ha", "protect", "source", "shutdown_timeout",
              "force_shutdown")

    def __init__(self, mode="failover", all=False, vapps=(), vms=(), exclude=(), storage=(),
                 srs=(), power=None, parallel=4, network_map=None, force=False,
                 disable_ha=False, protect=None, source=None,
                 shutdown_timeout=DEFAULT_SHUTDOWN_TIMEOUT, force_shutdown=False):
        if mode not in MODES:
            raise UsageError("unknown mode %r" % mode)
        self.mode = mode
        self.all = all
        self.vapps = list(vapps)
        self.vms = list(vms)
        self.exclude = list(exclude)
        self.storage = list(storage)        # [StorageSpec.to_json()]
        self.srs = list(srs)                # SR UUIDs to attach (default: all on the LUNs)
        # A test starts nothing unless asked: the product documentation's test failover
        # recovers VMs "but does not start them".
        self.power = power or ("none" if mode == "test" else "start")
        if self.power not in POWER:
            raise UsageError("--power must be one of %s" % ", ".join(POWER))
        if mode == "test" and self.power == "start":
            raise UsageError("a test failover never runs guest code: use --power paused or none")
        if parallel < 1:
            raise UsageError("--parallel must be at least 1")
        self.parallel = parallel
        self.network_map = dict(network_map or {})
        self.force = force
        self.disable_ha = disable_ha
        self.protect = protect              # None: ask; []: no; [SR...]: enable on these
        self.source = source                # {"host": ..., "xe": ...} or None
        # A failback's clean shutdown at the source: the budget of each call, and whether a
        # guest that does not halt in it is shut down hard.
        self.shutdown_timeout = float(shutdown_timeout)
        self.force_shutdown = force_shutdown

    def to_json(self):
        return dict((k, getattr(self, k)) for k in self.FIELDS)

    @classmethod
    def from_json(cls, data):
        return cls(**dict((k, data[k]) for k in cls.FIELDS if k in data))


class Failover(SourcePhase, StoragePhase):
    """One failover-like run against the target pool behind ``xe``.

    ``confirm(question, what)`` asks for an explicit yes; ``progress`` shows what happens
    (``note(text)``, ``phase(name, total)``, ``step(kind, step, description)``, see
    xe_dr/cli/progress.py);
    ``source_xe`` reaches the source pool when it is reachable (None otherwise).
    """

    def __init__(self, xe, state_dir, options, confirm, progress, source_xe=None,
                 chap_passwords=None, use_plugin=True, argv=(), transport=""):
        self.xe = xe
        self.state_dir = state_dir
        self.opts = options
        self.confirm = confirm
        # A progress object, or a function printing lines (see LineProgress).
        self.progress = progress if hasattr(progress, "note") else LineProgress(progress)
        self.source_xe = source_xe
        self.chap_passwords = chap_passwords or {}   # SCSIid -> password, never stored
        self.use_plugin = use_plugin
        self.argv = list(argv)
        self.transport = transport
        self.run = None
        self.engine = None
        self._kept = set()  # metadata VDIs whose database the plugin keeps open for this run
        self.plugin_keep = None  # the key it keeps them under (the run id), when it can
        self._facts = None  # the prechecks' reads of the target pool (_target_facts)
        self.report = {"mode": options.mode, "power": options.power, "checks": [],
                       "storage": [], "sources": [], "items": [], "warnings": [],
                       "todo": [], "commands": []}
        self._network_plan = []  # xe_dr/dr/networks.py plan entries
        self._vm_sources = {}     # foreign VM uuid -> SourceVM
        self._networks_before = set()
        self.source_state = None  # how far the source site was checked (xe_dr/dr/guard.py)
        self._storage_corrected = False  # a resume given other storage options

    # -- entry points -------------------------------------------------------------------------
    def plan(self):
        """--dry-run: everything but changes. Returns the report (plan, checks, commands)."""
        self.pool = read_pool(self.xe)
        self.hosts = read_hosts(self.xe)
        self.engine = Engine(None, xe=self.xe, dry_run=True, source_xe=self.source_xe)
        self.report["checks"] = [c.to_json() for c in self._early_checks()]
        self._before_the_first_change()
        self._storage()
        self._recover_and_start(dry_run=True)
        self.report["commands"] = self.engine.planned
        self.report["outcome"] = "planned"
        return self.report, ExitCode.OK

    def apply(self, resume_id=None, storage=None):
        """Run (or, with ``resume_id``, resume) the run. ``storage``: StorageSpecs given again
        to a resume, correcting LUNs whose attach has not begun."""
        self.pool = read_pool(self.xe)
        self.hosts = read_hosts(self.xe)
        lock = RunLock(self.state_dir, self.xe, self.pool.uuid, note=self.progress.note)
        if resume_id:
            self.run = Run.open(self.state_dir, resume_id)
            if self.run.meta["target"].get("pool_uuid") != self.pool.uuid:
                raise UsageError("run %s was against pool %s, not this one (%s)" % (
                    resume_id, self.run.meta["target"].get("pool_name"), self.pool.name_label))
            if self.run.meta["kind"] not in MODES:
                raise UsageError("run %s is a %s, not a failover" % (resume_id,
                                                                    self.run.meta["kind"]))
            self._check_resumable()
            # The shutdown options are remedies a resume may bring (more time for a guest, or
            # --force-shutdown); everything else is as the run was planned.
            remedies = {"shutdown_timeout": self.opts.shutdown_timeout,
                        "force_shutdown": self.opts.force_shutdown}
            self.opts = Options.from_json(self.run.meta["options"])
            changed = dict((k, v) for k, v in remedies.items() if getattr(self.opts, k) != v)
            for key, value in changed.items():
                setattr(self.opts, key, value)
        corrected = self._corrected(storage)
        # The lock first: a run refused because another holds the pool leaves nothing, and
        # the checks below read a pool no other run changes meanwhile.
        run_id = self.run.id if resume_id else new_run_id(self.opts.mode)
        lock.acquire(run_id)
        try:
            # Everything checkable without a change, before a new run exists: a usage error
            # here leaves nothing behind.
            self.engine = Engine(self.run, xe=self.xe, source_xe=self.source_xe)
            source_plan = self._before_the_first_change()
            if resume_id:
                if corrected is not None:
                    self.run.append(NOTE, "storage corrected", before=corrected,
                                    after=self.opts.storage)
                if changed:
                    self.run.append(NOTE, "shutdown options", **changed)
                self.run.set_status("running", resumed=time.time(),
                                    options=self.opts.to_json())
            else:
                self.run = Run.create(self.state_dir, self.opts.mode, self._target(),
                                      self.argv, self.opts.to_json(), run_id=run_id)
            if lock.took_over:
                self.run.append(NOTE, "stale lock taken over", holder=lock.took_over)
        except BaseException:
            lock.release()  # a run refused, or one that cannot be recorded, leaves no claim
            raise
        self.report["run"] = self.run.id
        self.engine = Engine(self.run, xe=self.xe, on_event=self._on_event,
                             source_xe=self.source_xe)
        try:
            early = self._early_checks()
            self.report["checks"] = [c.to_json() for c in early]
            blocking = [c for c in early if c.verdict == BLOCKING]
            if blocking:
                return self.report, self._blocked(blocking)
            self._confirm("storage", self._storage_question(source_plan))
            if source_plan is not None:
                self._shutdown_at_source(source_plan)
            try:
                self._storage()
            except XeDrError as failure:
                if self.opts.mode == "failback" and _sm_error(failure) == 47:
                    # After the source phase, this site's LUNs are mirror targets until the
                    # array halts or reverses the mirror: a stop by design.
                    raise self._array_stop(failure)
                failure.hint = "%s; then resume with 'xe-dr %s --resume %s'" % (
                    failure.hint or _storage_hint(failure),
                    "failback" if self.opts.mode == "failback" else "failover", self.run.id)
                raise
            outcome = self._recover_and_start(dry_run=False)
        except KeyboardInterrupt:
            self.report["outcome"] = "interrupted"
            _unless_state_fails(lambda: self.run.set_status("interrupted"))
            _unless_state_fails(self._save_report)
            raise
        except StateWriteError:
            raise  # nothing more can be written: the run is left as if interrupted
        except XeDrError as failure:
            status = getattr(failure, "run_status", "failed")
            self.report["outcome"] = status
            self.report["error"] = failure.one_line()
            # the failure is what the operator must see, even when it cannot be recorded
            _unless_state_fails(lambda: self.run.append(NOTE, "stopped",
                                                        error=failure.one_line()))
            _unless_state_fails(lambda: self.run.set_status(status, error=failure.one_line()))
            _unless_state_fails(self._save_report)
            raise
        finally:
            self._release_kept()
            lock.release()
        return self.report, outcome

    def _check_resumable(self):
        """A cleaned-up run has nothing left to resume (resuming it would recover again what
        cleanup destroyed), and a run that began recovering cannot go on without the plan it
        checked (re-planning would take its own recovered VMs for existing ones)."""
        run = self.run
        if run.meta.get("status") == "cleaned up":
            raise UsageError("run %s was cleaned up%s: there is nothing to resume" % (
                run.id, " by %s" % run.meta["cleaned_by"] if run.meta.get("cleaned_by") else ""),
                hint="start a new run instead")
        if run.load("plan.json") is None and any(
                e.get("step", "").startswith(("recover:", "start:")) for e in run.entries()):
            raise ConfigError("run %s began recovering but its plan.json is missing: a resume "
                              "would check its own recovered VMs as existing ones" % run.id,
                              hint="clean it up with 'xe-dr cleanup %s', or restore the file "
                                   "from a backup of the state directory" % run.id)

    # -- before the first change ------------------------------------------------------------
    def _before_the_first_change(self):
        """Everything that can be checked without a change, checked before the first one: the
        source site (split brain), each SCSI id against the target's LUN list, for a
        failback the selection at the source and that its SRs can be brought here. Returns
        a failback's SourcePlan (None otherwise)."""
        self.source_state = guard.source_state(self.opts.mode, self.opts.source,
                                               self.source_xe)
        shut_down_before = self.run is not None and any(
            e.get("event") == "done" and e.get("step", "").startswith("source-")
            for e in self.run.entries())
        if self.opts.mode == "failback" and not shut_down_before and \
                self.source_state in (guard.NOT_CHECKED, guard.UNREACHABLE):
            # The source of a failback is the DR site, where the VMs run now: going on
            # without it would start them at this site too.
            failure = UsageError if self.source_state == guard.NOT_CHECKED else \
                UnreachableError
            raise failure("a failback needs the DR site, where the VMs run now: %s" % (
                "--source was not given" if self.source_state == guard.NOT_CHECKED else
                "--source %s cannot be reached" % self.opts.source.get("host")),
                hint="give --source HOST (the VMs are shut down there first), or --source "
                     "down if they are stopped and its LUNs detached; nothing was changed")
        if self.source_state == guard.UNREACHABLE:
            self.source_xe = None  # taken for down, and said so
        self.report["source"] = self.source_state
        warning = guard.fence_warning(self.source_state)
        if warning and warning not in self.report["warnings"]:
            self.report["warnings"].append(warning)
            self.progress.note(warning)
        guard.check_luns(self.xe, [spec for spec in self._specs(need_passwords=False)
                                   if self.engine.state_of("attach:%s" % spec.device_config.get(
                                       "SCSIid", "?")) is None])
        plan = None
        if self.opts.mode == "failback" and self.source_xe is not None:
            plan = self._plan_at_source()
            self._check_failback_storage(plan)
        elif not self.opts.storage and not self.engine.dry_run and not [
                c for c in find_metadata_copies(self.xe, self.pool.uuid)
                if c.latest and not c.local]:
            raise UsageError("no storage options were given and no recoverable metadata is "
                             "attached here", hint="give --target/--iqn/--scsiid or "
                             "--hba-scsiid ('xe-dr probe' finds them); nothing was changed")
        return plan

    def _check_failback_storage(self, plan):
        """Every SR the failback gives back at the DR site comes here: it is attached here
        already, or it is on a LUN given (probed by SCSI id: the copy here is read-only, and
        no map of it is in use on this pool yet). Else shutting the VMs down there would
        bring back only some of them."""
        covered = {p["sr-uuid"] for p in self.xe.list(
            "pbd", params=("sr-uuid",), filters={"currently-attached": "true"})}
        specs = self._specs(need_passwords=False)
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

    def _corrected(self, specs):
        """A resume given the storage options again: they replace the run's (journaled, and
        kept in run.json for the next resume). Returns the storage they replace, or None."""
        if specs is None:
            return None
        new = [s.to_json() for s in specs]
        if new == self.opts.storage:
            return None
        before, self.opts.storage = self.opts.storage, new
        self._storage_corrected = True
        return before

    def _confirm(self, which, question):
        """Ask once per run (a resume does not ask again what was answered): a real failover
        or failback asks before the storage is attached and before the first recovery."""
        if self.opts.mode == "test" or self.run is None:
            return
        step = "confirmed:%s" % which
        # Storage corrected on a resume is asked about again.
        fresh = which == "storage" and self._storage_corrected
        if not fresh and any(e["event"] == NOTE and e["step"] == step
                             for e in self.run.entries()):
            return
        if not self.confirm(question, "a real %s" % self.opts.mode):
            raise Declined("not confirmed: %s" % (
                "nothing was changed" if which == "storage" else "nothing was recovered"),
                hint="resume with 'xe-dr %s --resume %s' when ready" % (self.opts.mode,
                                                                          self.run.id))
        self.engine.note(step, answered=True)

    def _source_line(self):
        if self.source_state == guard.CHECKED:
            return "The source pool was reached: VMs still running there and LUNs still " \
                   "attached there are checked before any recovery."
        if self.source_state == guard.DECLARED_DOWN:
            return "The source site is declared down (--source down)."
        return "WARNING: %s." % guard.fence_warning(self.source_state)

    def _storage_question(self, source_plan):
        lines = ["%s into pool %s." % ("Failback" if self.opts.mode == "failback" else
                                       "Real failover", self.pool.name_label)]
        if source_plan is not None:
            names = [a["name-label"] for a in source_plan.apps] + \
                [v["name-label"] for v in source_plan.standalone]
            lines.append("At the source site: shut down %s, then unplug SR(s) %s there." % (
                ", ".join(names) or "nothing (all halted)",
                ", ".join(r["name-label"] for r in source_plan.srs.values()) or "none"))
        luns = ["%s (%s)" % (s["device_config"].get("SCSIid", "?"), s["type"])
                for s in self.opts.storage]
        lines.append("Attach here the SRs of LUN(s) %s." % ", ".join(luns) if luns else
                     "No LUN to attach: the metadata is read from the SRs attached here.")
        lines.append(self._source_line())
        return "\n".join(lines + ["Go on?"])

    def _recovery_question(self, items, checks):
        todo = [i for i in items if not i.excluded]
        power = {"start": "then start them", "paused": "then start them paused",
                 "none": "and leave them halted"}[self.opts.power]
        lines = ["Recover into pool %s, %s: %s." % (
            self.pool.name_label, power, ", ".join(
                "%s %s" % ("vApp" if i.kind == "appliance" else "VM", i.name_label)
                for i in todo) or "nothing")]
        lines += [c.message + "." for c in checks if c.verdict == CONFIRM]
        if self.source_state != guard.CHECKED:
            lines.append(self._source_line())
        return "\n".join(lines + ["Go on?"])

    def _array_stop(self, failure):
        """A failback's storage step met a LUN that is still a read-only mirror target."""
        stop = ArrayStop("%s; have the array make this site's LUNs writable (halt or reverse "
                         "the mirror), then: xe-dr failback --resume %s" % (
                             "the DR site is down" if self.source_state == guard.CHECKED else
                             "the LUNs here are still read-only mirror targets", self.run.id))
        stop.cause = failure.one_line()
        return stop

    def _target_facts(self):
        """Read once per run: attaching storage, the only change before the prechecks, leaves
        the target's VMs, vApps, networks and host editions as they were."""
        if self._facts is None:
            self._facts = PoolSnapshot(self.xe, self.pool, self.hosts).read("vms", "networks")
        return self._facts

    def _early_checks(self):
        """The checks that need no metadata, made before anything is changed: a licence that
        forbids DR, HA on for a test, --map-network targets that do not exist."""
        target = self._target_facts()
        checks = [checks_.check_licence(target),
                  checks_.check_ha(target, self.opts.mode, self.opts.disable_ha)]
        mapped = checks_.check_network_map(target, self.opts.network_map)
        return checks + ([mapped] if mapped is not None else [])

    def _blocked(self, blocking):
        """Stop before any change: the report says what to fix."""
        for check in blocking:
            self.progress.note("precheck blocking: %s" % check.message)
        self.report["outcome"] = "blocked"
        self.report["todo"].append("fix the blocking prechecks, then run the command again")
        self.run.set_status("blocked", ended=time.time())
        self._save_report()
        if any(c.name == "licence" for c in blocking):
            return ExitCode.REFUSED
        return ExitCode.FAILED

    def _target(self):
        return {"pool_uuid": self.pool.uuid, "pool_name": self.pool.name_label,
                "master": self.pool.master, "transport": self.transport}

    def _on_event(self, kind, step, info):
        self.progress.step(kind, step, info)

    def _marks(self):
        """What marks an object as this run's: the run id, and the run's kind so that a
        cleanup without the journal can tell a test's objects from production ones."""
        return {RUN_TAG: self.run.id if self.run else "RUN", RUN_KIND_TAG: self.opts.mode}

    def _tag_call(self, cls, uuid):
        return Call("%s-param-set" % cls, {"uuid": uuid, "other-config": self._marks()})

    def _tag(self, cls, uuid):
        call = self._tag_call(cls, uuid)
        self.xe.run(call.command, call.params)
        return uuid

    def _tag_step(self, cls, uuid, name=None):
        """Mark an object this run made or brought in as the run's (cleanup finds it so)."""
        return Step(step_id("tag", cls, uuid), "tag %s %s" % (
            {"sr": "SR"}.get(cls, cls), name or uuid), [self._tag_call(cls, uuid)],
            action=lambda: self._tag(cls, uuid))

    # -- phases 2-7 ---------------------------------------------------------------------------
    def _sources(self):
        version = plugin_version(self.xe, self.pool.master) if (
            self.use_plugin and self.pool.master) else None
        plugin = version is not None
        self.plugin_parallel = PLUGIN_PARALLEL.get(version, PLUGIN_PARALLEL_DEFAULT)
        # Version 1 of the plugin cannot keep a database open between calls.
        self.plugin_keep = self.run.id if plugin and self.run is not None and \
            version != "1" else None
        sources = read_sources(self.xe, find_metadata_copies(self.xe, self.pool.uuid),
                               self.pool.master, plugin, keep=self.plugin_keep)
        if self.plugin_keep:
            self._kept.update(s.copy.vdi_uuid for s in sources)
        if not plugin and self.source_xe is not None and sources:
            learn_membership(sources, self.source_xe)
        self.plugin = plugin
        self.report["plugin"] = bool(plugin)
        self.report["sources"] = [{"uuid": s.uuid, "name_label": s.name_label,
                                   "vdi": s.copy.vdi_uuid, "sr": s.copy.sr_uuid,
                                   "generation": s.copy.generation, "via": s.via}
                                  for s in sources]
        return sources

    def _recover_and_start(self, dry_run):
        sources = self._sources()
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
                return ExitCode.OK
            raise XeDrError("no recoverable metadata is visible in this pool",
                            hint="attach the mirrored SRs (probe options) or check "
                                 "'xe-dr inventory'")
        by_vdi = dict((s.copy.vdi_uuid, s) for s in sources)
        self._vm_sources = dict((vm.uuid, vm) for s in sources for vm in s.vms)
        saved = self.run.load("plan.json") if self.run is not None else None
        if saved and not any(e.get("step", "").startswith("recover:")
                             for e in self.run.entries()):
            # Nothing recovered yet: plan and check again, so that a fix made since a blocking
            # verdict counts (the run's own VMs cannot be mistaken for existing ones yet).
            saved = None
        if saved:
            # A resume goes on with exactly what the run planned and checked before its first
            # change: its own recovered VMs must not now count as "existing at the target".
            items = [Item.from_json(i) for i in saved["items"]]
            checks = [Check.from_json(c) for c in saved["checks"]]
            self._networks_before = set(saved.get("networks_before", ()))
            self._network_plan = saved.get("networks") or []
        else:
            items = select(sources, self.opts.all, self.opts.vapps, self.opts.vms,
                           self.opts.exclude, failed_over_only=self.opts.mode == "failback")
            if protection is None:
                checks = self._prechecks(items, by_vdi)
            else:
                checks = _live_checks(items, sources[0], protection)
                _exclude_failing(items, checks)
                target = self._target_facts()
                self._networks_before = {n["uuid"] for n in target.networks}
                checks += self._network_checks(items, by_vdi, target)
        self.report["checks"] = [c.to_json() for c in checks]
        self.report["networks"] = self._network_plan
        pool_blocking = [c for c in checks if c.verdict == BLOCKING and not c.objects]
        _exclude_failing(items, checks)
        self.report["items"] = [i.to_json() for i in items]
        if dry_run:
            self._plan_steps(items)
            return ExitCode.OK
        # What a report of this run needs even if it is killed before it ends.
        self.run.save("plan.json", {"items": [i.to_json() for i in items],
                                    "checks": [c.to_json() for c in checks],
                                    "networks_before": sorted(self._networks_before),
                                    "networks": self._network_plan,
                                    "sources": self.report["sources"],
                                    "storage": self.report["storage"]})
        if pool_blocking:
            self.report["outcome"] = "blocked"
            self.report["todo"].append("fix the blocking prechecks, then resume with "
                                       "--resume %s, or undo what was attached with "
                                       "'xe-dr cleanup %s'" % (self.run.id, self.run.id))
            self.run.set_status("blocked")
            self._save_report()
            return ExitCode.FAILED
        if self.opts.mode != "test":
            self._confirm("recovery", self._recovery_question(items, checks))
        if self.opts.mode == "test" and self.opts.disable_ha and (
                self.pool.ha_enabled or self.engine.begun("ha:disable") is not None):
            self._disable_ha()
        self._prepare_networks(items)
        recovered, started = self._recover_and_start_in_waves(items, by_vdi)
        self._finish(items)
        return self._outcome(items, recovered, started)

    def _prechecks(self, items, by_vdi):
        target = self._target_facts()
        # The SRs this run brings in: they must not be attached at the source any more.
        srs = sorted({sr for entry in self.report["storage"] for key in (
            "introduced", "plugged", "already_attached", "planned") for sr in entry.get(key, ())})
        attached = {p["sr-uuid"] for p in self.xe.list(
            "pbd", params=("sr-uuid",), filters={"currently-attached": "true"})}
        # A dry run counts the SRs its attach steps would bring in as attached: the plan goes
        # on to what the run would recover from them.
        planned = {sr for entry in self.report["storage"] for sr in entry.get("planned", ())}
        attached |= planned
        mode = self.opts.mode
        result = list(self._early_checks())
        result += checks_.check_versions(target, list(by_vdi.values()))
        result.append(checks_.check_edition(target, list(by_vdi.values())))
        if mode != "test":
            result += checks_.check_source_running(self.source_xe, items, srs)
        result += checks_.check_existing(target, items, mode)
        result += checks_.check_storage(self.xe, items, by_vdi, attached)
        # Only where the SRs are attached: a disk on a missing SR is that SR's verdict.
        _exclude_failing(items, result)
        result += checks_.check_disks([i for i in items if not i.excluded], by_vdi,
                                      self.opts.force, unscanned=planned)
        # Networks and capacity count only what will really be recovered: objects failing a
        # check of their own are left out first.
        _exclude_failing(items, result)
        self._networks_before = {n["uuid"] for n in target.networks}
        result += self._network_checks(items, by_vdi, target)
        result.append(checks_.check_capacity(target, items, self.opts.power))
        for check in result:
            if check.verdict != "ok":
                self.progress.note("precheck %s: %s" % (check.verdict, check.message))
        return result

    def _network_checks(self, items, by_vdi, target):
        """Plan what each network the objects use needs (xe_dr/dr/networks.py) against the
        networks here before this run made any, and check it."""
        foreign = {}
        for vdi, source in by_vdi.items():
            if vdi is not None and any(
                    v.networks is None for v in source.vms) and any(
                    i.vdi == vdi and not i.excluded for i in items):
                foreign[vdi] = read_foreign_networks(self.xe, vdi)
        found, unknown = networks_.needs(items, by_vdi, foreign)
        mine = self._created_networks(target.networks)
        local = [n for n in target.networks if n["uuid"] not in mine]
        self._network_plan = networks_.plan(found, local, self.opts.network_map)
        return checks_.check_networks(self._network_plan, unknown)

    # -- networks made before the recovery ---------------------------------------------------
    def _created_networks(self, networks=None):
        """{uuid: {"uuid", "name_label", "transient", "target"}}: the networks this run made
        (its journal's ``network:create:`` steps; one begun but not ended is found among
        ``networks`` by name, outside what the pool had when the step began)."""
        created = {}
        for step, event, data in self.engine.steps("network:create:"):
            if event == "done" and isinstance(data.get("result"), dict):
                created[data["result"]["uuid"]] = data["result"]
            elif event == "begin" and networks is not None:
                name = step.split(":", 2)[2]
                before = set(data.get("before") or ())
                for net in networks:
                    if net["name_label"] == name and net["uuid"] not in before:
                        created[net["uuid"]] = {"uuid": net["uuid"], "name_label": name,
                                                "transient": data.get("transient", False),
                                                "target": data.get("target")}
        return created

    def _network_params(self, entry):
        # The run's marks go in other-config (a second call): the description says the same
        # whichever run made it.
        params = {"name-label": entry["name_label"],
                  "name-description": "made by xe-dr: no network here had the name of a "
                                      "network of the source pool"}
        if entry.get("mtu") and int(entry["mtu"]) != 1500:
            params["MTU"] = str(entry["mtu"])
        return params

    def _network_step(self, entry):
        """The step making ``entry``'s network (its action and reconcile when it runs)."""
        verb = "for the recovery (its VIFs then go to %s)" % entry["target"] \
            if entry["action"] == networks_.TRANSIENT else "for the VMs on it"
        step = step_id("network", "create", entry["name_label"])
        transient = entry["action"] == networks_.TRANSIENT

        def create():
            uuid = self.xe.value("network-create", self._network_params(entry))
            self._tag("network", uuid)
            return {"uuid": uuid, "name_label": entry["name_label"],
                    "transient": transient, "target": entry["target"]}

        def reconcile():
            networks = read_networks(self.xe)
            begun = self.engine.begun(step) or {}
            before = set(begun.get("before") or ())
            for net in networks:
                if net["name_label"] == entry["name_label"] and net["uuid"] not in before:
                    if RUN_TAG not in net["other_config"]:
                        self._tag("network", net["uuid"])
                    return {"uuid": net["uuid"], "name_label": entry["name_label"],
                            "transient": begun.get("transient", False),
                            "target": begun.get("target")}
            return None

        return Step(step, "create network %s %s" % (entry["name_label"], verb),
                    [Call("network-create", self._network_params(entry)),
                     self._tag_call("network", NEW_NETWORK)],
                    action=create, reconcile=reconcile,
                    begin_data={"before": sorted(self._networks_before),
                                "transient": transient, "target": entry["target"]})

    def _prepare_networks(self, items):
        """Make, before any recovery, every network the plan creates that an object still to
        recover needs. One that cannot be made leaves out the objects that need it, each
        with its reason and the fix; with plain xe (which cannot tell whose it is) the run
        stops before recovering."""
        pending = {i.uuid for i in items if not i.excluded and
                   self.engine.state_of(i.step) != "done"}
        for entry in networks_.to_create(self._network_plan):
            if not pending & set(entry["objects"]):
                continue
            try:
                self.engine.do(self._network_step(entry))
            except StepFailed as failure:
                fix = "create it here ('xe network-create name-label=%s') or map it " \
                      "(--map-network '%s=NETWORK'), then resume with 'xe-dr %s --resume %s'" \
                      % (entry["name_label"], entry["name_label"],
                         "failback" if self.opts.mode == "failback" else "failover",
                         self.run.id)
                if not entry["per_vm"]:
                    raise XeDrError("network %s could not be created here (%s): a recovery "
                                    "needing it would fail" % (
                                        entry["name_label"], failure.cause.one_line()
                                        if isinstance(failure.cause, XeDrError) else
                                        failure.cause), hint=fix)
                reason = "needs network %s, which does not exist here and could not be " \
                         "created: %s" % (entry["name_label"], fix)
                for item in items:
                    if item.uuid in entry["objects"] and not item.excluded:
                        item.excluded = reason
                        self.engine.note("network-missing:%s" % item.uuid, reason=reason)
                        self.progress.note("%s %s left out: %s" % (
                            "vApp" if item.kind == "appliance" else "VM", item.name_label,
                            reason))

    def _drop_networks(self, items, recovered):
        """Once every object is recovered, remove the networks this run made that no VIF
        uses (a mapped name's, emptied by the moves; with plain xe one no recovered VM
        needed). While a recovery is still to be resumed they stay."""
        if [i for i in items if not i.excluded and i.uuid not in recovered]:
            return
        networks = read_networks(self.xe)
        created = self._created_networks(networks)
        if not created:
            return
        present = {n["uuid"] for n in networks}
        in_use = {v["network-uuid"] for v in self.xe.list("vif", params=("network-uuid",))}
        in_use |= {p["network-uuid"] for p in self.xe.list("pif", params=("network-uuid",))}
        for uuid in sorted(set(created) & present - in_use):
            self.engine.do(Step(
                step_id("network", "drop", uuid), "remove network %s (%s)" % (
                    created[uuid]["name_label"], "its VIFs went to %s" % created[uuid]["target"]
                    if created[uuid].get("transient") else "no recovered VM uses it"),
                [Call("network-destroy", {"uuid": uuid})],
                action=lambda uuid=uuid: self._destroyed("network", uuid),
                reconcile=lambda uuid=uuid: None if uuid in self.xe.uuids(
                    "network", filters={"uuid": uuid}) else uuid))

    def _destroyed(self, cls, uuid):
        self.xe.run("%s-destroy" % cls, {"uuid": uuid})
        return uuid

    def _network_report(self):
        """What became of each network of the plan, for the report; and what to tell."""
        created = self._created_networks()
        dropped = {step.split(":", 2)[2] for step, event, _ in self.engine.steps(
            "network:drop:") if event == "done"}
        by_name = dict((c["name_label"], c) for c in created.values())
        for entry in self._network_plan:
            made = by_name.get(entry["name_label"])
            entry["created"] = made["uuid"] if made else None
            entry["removed"] = bool(made) and made["uuid"] in dropped
        kept = [e for e in self._network_plan if e.get("created") and not e["removed"]]
        if kept and self.opts.mode != "test":
            self.report["warnings"].insert(0,
                "network(s) %s were created here by this %s and are kept: the recovered VMs "
                "use them. They are internal (no PIF): connect each to the right physical "
                "network or VLAN, or move the VIFs, before the VMs need it" % (
                    ", ".join("%s (%s)" % (e["name_label"], e["created"]) for e in kept),
                    self.opts.mode))
        elif kept:
            self.report["todo"].append("network(s) %s were created for this test; 'xe-dr "
                                       "cleanup %s' removes them" % (", ".join(
                                           e["name_label"] for e in kept), self.run.id))
        for entry in self._network_plan:
            if entry["action"] == networks_.BRIDGE:
                self.report["warnings"].insert(0,
                    "network %s matched network %s here by its bridge (%s) alone: its VIFs "
                    "are on %s" % (entry["name_label"], entry["local_name"], entry["bridge"],
                                   entry["local_name"]))

    def _plan_steps(self, items):
        """The dry run: the steps the run would take, built as the run builds them."""
        for entry in networks_.to_create(self._network_plan):
            if any(not i.excluded and i.uuid in entry["objects"] for i in items):
                self.engine.do(self._network_step(entry))
        for item in items:
            if not item.excluded:
                self.engine.do(self._recover_step(item))
        if self.opts.power != "none":
            for item in sorted((i for i in items if not i.excluded),
                               key=lambda i: (i.kind != "appliance", i.order)):
                self.engine.do(self._start_step(item))

    def _disable_ha(self):
        """Remember how HA was set up (heartbeat SRs, failures to tolerate) so that cleanup
        can enable it again, then disable it (XenCenter's DrHAEnabledCheck fix). The setup is
        journaled with "begin", before HA is touched, so a crash cannot lose it."""
        step = "ha:disable"
        setup = self.engine.begun(step)
        if not setup:
            statefiles = self.xe.param_get("pool", self.pool.uuid, "ha-statefiles")
            vdis = [v for v in parse_set(statefiles) if v]
            setup = {"heartbeat_srs": sorted({self.xe.param_get("vdi", v, "sr-uuid")
                                              for v in vdis}),
                     "tolerate": self.xe.param_get("pool", self.pool.uuid,
                                                   "ha-host-failures-to-tolerate")}
        setup = {"heartbeat_srs": setup["heartbeat_srs"], "tolerate": setup["tolerate"]}

        def disable():
            self.xe.run("pool-ha-disable")
            return setup

        def reconcile():
            off = self.xe.param_get("pool", self.pool.uuid, "ha-enabled") == "false"
            return setup if off else None

        self.engine.do(Step(step, "disable HA for the test", [Call("pool-ha-disable")],
                            action=disable, reconcile=reconcile, begin_data=setup))

    # -- phase 4: recovery --------------------------------------------------------------------
    def _waves(self, items):
        """The recovery in waves, each started as soon as it is recovered while the next one
        is recovered: with the plugin, when VMs are to be started, one wave per order group
        of standalone VMs (a wave's recovery, on a database the plugin keeps open, is much
        shorter than a group's start), the vApps in the second (so that they do not delay
        the first group). Plain xe keeps one wave: it cannot tell a vApp's members before
        recovering the vApp, and each of its calls opens the database again anyway."""
        todo = [i for i in items if not i.excluded]
        if not self.plugin or self.opts.power == "none":
            return [todo]
        members = {m.get("uuid") for i in todo if i.kind == "appliance"
                   for m in i.members or ()}
        vms = [i for i in todo if i.kind == "vm" and i.uuid not in members]
        waves = [[i for i in vms if i.order == order]
                 for order in sorted({i.order for i in vms})]
        others = [i for i in todo if i not in vms]
        if len(waves) < 2:
            waves.append(others)
        else:
            waves[1] = others + waves[1]
        return [wave for wave in waves if wave]

    def _recover_and_start_in_waves(self, items, by_vdi):
        """Returns (recovered, started). With one wave: recover, map networks, start. With
        more: the start phase runs beside the later waves and starts each group (or vApp) as
        soon as its wave is recovered."""
        waves = self._waves(items)
        recovered = {}
        settled = _Settled()
        starter = None
        try:
            for wave in waves:
                recovered.update(self._recover(wave, by_vdi))
                self._map_networks(recovered)
                settled.add(i.uuid for i in wave)
                if starter is None and len(waves) > 1:
                    starter = _Background(self._start, items, recovered, settled)
        except BaseException:
            settled.shut()
            if starter is not None:
                starter.wait()  # the starts under way end (and are journaled) first
            raise
        finally:
            self._release_kept()
        self._drop_networks(items, recovered)
        if starter is None:
            return recovered, self._start(items, recovered)
        return recovered, starter.result()

    def _release_kept(self):
        """Close the foreign databases the plugin kept open for this run (best effort: xapi
        drops them itself when it restarts)."""
        for vdi in sorted(self._kept):
            try:
                call_json(self.xe, self.pool.master, "release",
                          {"vdi": vdi, "keep": self.plugin_keep}, required=("released",))
            except XeDrError as failure:
                self.progress.note("could not close the metadata database of VDI %s: %s"
                                   % (vdi, failure.one_line()))
        self._kept.clear()

    def _recover(self, items, by_vdi):
        """Returns {item uuid: [recovered VM uuids]} for the items recovered."""
        recovered = {}
        todo = [i for i in items if not i.excluded]
        appliances = [i for i in todo if i.kind == "appliance"]
        vms = [i for i in todo if i.kind == "vm"]
        self.progress.phase("recover", len(appliances) + len(vms), "recover:")
        if self.plugin:
            for vdi in sorted({i.vdi for i in todo}):
                batch = [i for i in todo if i.vdi == vdi]
                recovered.update(self._recover_with_plugin(vdi, batch))
        else:
            for item, result in zip(appliances, self.engine.do_many(
                    appliances, self.opts.parallel, self._recover_one)):
                if result is not None:
                    recovered[item.uuid] = result
            members = {u for item in appliances for u in recovered.get(item.uuid, ())}
            # Plain xe learns a vApp's members only from its recovery (reference §2.3): while
            # one failed, any VM of its pool may be a member, and recovering it alone would
            # take it out of its vApp for good. Those wait for a resume (or the plugin).
            failed_sources = {item.vdi for item in appliances if item.uuid not in recovered}
            vms_left = []
            for item in vms:
                if item.uuid in members:
                    item.excluded = "recovered with its vApp"
                    self.engine.note("skip:%s" % item.uuid, reason=item.excluded)
                elif item.vdi in failed_sources:
                    item.excluded = ("not recovered: a vApp of its pool failed to recover and "
                                     "plain xe cannot tell its members; fix that and resume, "
                                     "or install the host plugin")
                    self.engine.note("defer:%s" % item.uuid, reason=item.excluded)
                else:
                    vms_left.append(item)
            for item, result in zip(vms_left, self.engine.do_many(
                    vms_left, self.opts.parallel, self._recover_one)):
                if result is not None:
                    recovered[item.uuid] = result
        return recovered

    def _recover_step(self, item):
        """Recover one vApp or VM with plain xe, then tag its VMs (their uuids are known
        once it is recovered)."""
        params = {"uuid": item.uuid, "database": {"vdi-uuid": item.vdi}}
        if self.opts.force:
            params["force"] = "true"
        call = Call("%s-recover" % item.kind, params)

        def action():
            self.xe.run(call.command, call.params)
            return self._tag_recovered(item)

        return Step(item.step, "recover %s %s" % (item.kind, item.name_label),
                    [call, self._tag_call("vm", RECOVERED_VMS)], action=action,
                    reconcile=lambda: self._find_recovered(item))

    def _recover_one(self, item):
        return self.engine.do(self._recover_step(item))

    def _recovered_vms(self, item):
        if item.kind == "vm":
            return [item.uuid]
        return self.xe.uuids("vm", filters={"appliance": item.uuid})

    def _tag_recovered(self, item):
        vms = self._recovered_vms(item)
        for uuid in vms:
            self._tag("vm", uuid)
        return vms

    def _find_recovered(self, item):
        """After a crash mid-recovery: is the object in the pool, recovered from this copy?"""
        if item.kind == "vm":
            found = self.xe.list("vm", params=("uuid", "version"), filters={"uuid": item.uuid})
            if found and int(found[0].get("version") or 0) > item.version:
                return self._tag_recovered(item)
            return None
        if self.xe.uuids("appliance", filters={"uuid": item.uuid}):
            vms = self._recovered_vms(item)
            if vms:
                return self._tag_recovered(item)
        return None

    def _recover_with_plugin(self, vdi, batch):
        """One plugin call: one database open for the whole batch (reference §7.3)."""
        recovered = {}
        pending = []
        for item in batch:
            state = self.engine.state_of(item.step)
            if state == "done":
                recovered[item.uuid] = self.engine.result_of(item.step)
                continue
            if state in ("begin", "failed"):
                found = self._find_recovered(item)
                if found is not None:
                    self.engine.record("done", item.step, result=found, reconciled=True)
                    recovered[item.uuid] = found
                    continue
            pending.append(item)
        if not pending:
            return recovered
        args = {"vdi": vdi, "force": "true" if self.opts.force else "false",
                "parallel": str(max(1, min(self.opts.parallel, self.plugin_parallel))),
                "tag": self.run.id,
                "kind": self.opts.mode,
                "keep": self.plugin_keep or "",
                "vms": json.dumps([i.uuid for i in pending if i.kind == "vm"]),
                "appliances": json.dumps([i.uuid for i in pending if i.kind == "appliance"])}
        call = self.engine.argv(Call("host-call-plugin", {
            "host-uuid": self.pool.master, "plugin": PLUGIN, "fn": "recover", "args": args}))
        for item in pending:
            self.engine.record("begin", item.step, description="recover %s %s" % (
                item.kind, item.name_label), via="plugin", commands=[call])
        if self.plugin_keep:
            self._kept.add(vdi)
        answer = call_json(self.xe, self.pool.master, "recover", args, required=("results",))
        try:
            results = dict((r["uuid"], r) for r in answer["results"])
        except (KeyError, TypeError) as failure:
            raise malformed("recover", failure)
        for item in pending:
            result = results.get(item.uuid)
            if result and result.get("ok"):
                # A plugin that tagged in its session says so; one that did not (version 1)
                # ignored the tag argument, and xe tags (version 2 tagged the run, not its
                # kind: xe adds that).
                if result.get("tagged") == self.run.id and isinstance(
                        result.get("recovered_vms"), list):
                    vms = [str(u) for u in result["recovered_vms"]]
                    if result.get("tagged_kind") != self.opts.mode:
                        for uuid in vms:
                            self._tag("vm", uuid)
                else:
                    vms = self._tag_recovered(item)
                self.engine.record("done", item.step, result=vms, seconds=result.get("seconds"))
                recovered[item.uuid] = vms
            else:
                error = result.get("error") if result else ["NOT_IN_PLUGIN_ANSWER"]
                message = "%s: %s" % (item.step, " ".join(str(e) for e in error or ()))
                self.engine.record("failed", item.step, error=message)
                self.engine.failures.append(StepFailed(item.step, XeDrError(message)))
        return recovered

    # -- phase 5: networks --------------------------------------------------------------------
    def _map_networks(self, recovered):
        networks = read_networks(self.xe)
        created = self._created_networks(networks)
        for net in networks:  # networks xapi created during the import itself (§2.6)
            if net["uuid"] not in self._networks_before and net["uuid"] not in created and \
                    RUN_TAG not in net["other_config"]:
                self.engine.do(self._tag_step("network", net["uuid"], net["name_label"]))
        if not self.opts.network_map:
            return
        by_name = dict((n["name_label"], n) for n in networks if n["uuid"] not in created)
        for source_name, target_name in sorted(self.opts.network_map.items()):
            target = by_name.get(target_name) or next(
                (n for n in networks if n["uuid"] == target_name), None)
            if target is None:
                raise UsageError("--map-network: no network %r in this pool" % target_name)
        vm_uuids = sorted({u for vms in recovered.values() for u in vms or ()})
        if not vm_uuids:
            return
        vifs = self.xe.list("vif", params=("uuid", "vm-uuid", "network-uuid", "device", "MAC",
                                           "network-name-label"))
        names = dict((n["uuid"], n["name_label"]) for n in networks)
        for vif in vifs:
            if vif["vm-uuid"] not in vm_uuids:
                continue
            source_name = self._source_network(vif, created, names)
            target_name = self.opts.network_map.get(source_name)
            if not target_name:
                continue
            target = by_name.get(target_name) or next(
                n for n in networks if n["uuid"] == target_name)
            if target["uuid"] == vif["network-uuid"]:
                continue
            self.engine.do(Step(
                step_id("remap", vif["uuid"]), "move VIF %s of VM %s to %s" % (
                    vif["device"], vif["vm-uuid"], target["name_label"]),
                [Call("vif-destroy", {"uuid": vif["uuid"]}),
                 Call("vif-create", {"vm-uuid": vif["vm-uuid"], "network-uuid": target["uuid"],
                                     "device": vif["device"], "mac": vif["MAC"]})],
                action=lambda vif=vif, target=target: self._move_vif(vif, target["uuid"])))

    def _source_network(self, vif, created, names):
        """The name of the source network a recovered VIF was on: the plugin says it per
        device; else a network this run made carries the source's name; else xapi matched
        it by name, so the network's own name is the source's."""
        vm = self._vm_sources.get(vif["vm-uuid"])
        for known in (vm.vifs if vm is not None and vm.vifs is not None else ()):
            if str(known.get("device")) == str(vif["device"]):
                return known.get("network_name_label")
        if vif["network-uuid"] in created:
            return created[vif["network-uuid"]]["name_label"]
        return names.get(vif["network-uuid"])

    def _move_vif(self, vif, network_uuid):
        """The VM is halted after recovery, so the VIF is recreated with the same device and
        MAC on the chosen network. Safe to repeat after a crash between the two calls."""
        if self.xe.uuids("vif", filters={"uuid": vif["uuid"]}):
            self.xe.run("vif-destroy", {"uuid": vif["uuid"]})
        for existing in self.xe.list("vif", params=("uuid", "device", "network-uuid"),
                                     filters={"vm-uuid": vif["vm-uuid"]}):
            if existing["device"] == vif["device"]:
                return existing["uuid"]
        return self.xe.value("vif-create", {"vm-uuid": vif["vm-uuid"], "network-uuid":
                                            network_uuid, "device": vif["device"],
                                            "mac": vif["MAC"]})

    # -- phase 6: start -----------------------------------------------------------------------
    def _start(self, items, recovered, gate=None):
        """Start what was recovered: the standalone VMs order group by order group, each
        group all at once, and each vApp by appliance-start (xapi runs its order groups)
        alongside them. With a ``gate`` (a _Settled: recovery still going on in waves), each
        group and vApp waits until its wave is over, and nothing more starts once the
        recovery stopped."""
        if self.opts.power == "none":
            return {}
        paused = self.opts.power == "paused"
        started = {}
        lock = threading.Lock()
        wanted = [i for i in items if not i.excluded and (i.uuid in recovered or
                                                          gate is not None)]
        self.progress.phase("start" if not paused else "start paused", len(wanted), "start:")

        def start(item):
            result = self.engine.do(self._start_step(item))
            with lock:
                started[item.uuid] = result
            return result

        def ready(group):
            """The items of ``group`` that were recovered, once their wave is over."""
            if gate is not None and not gate.wait_for(i.uuid for i in group):
                return []
            return [i for i in group if i.uuid in recovered]

        def vms_by_order():
            groups = {}
            for item in wanted:
                if item.kind == "vm":
                    groups.setdefault(item.order, []).append(item)
            for order in sorted(groups):
                group = ready(groups[order])
                if group:
                    self.progress.note("order group %d: %d VM(s)" % (order, len(group)))
                    self.engine.do_many(group, min(len(group), MOST_STARTS_AT_ONCE), start)

        def appliance(item):
            if ready([item]):
                self._guarded(start, item)

        threads = [threading.Thread(target=appliance, args=(item,))
                   for item in wanted if item.kind == "appliance"]
        for thread in threads:
            thread.start()
        try:
            vms_by_order()
        finally:
            for thread in threads:
                thread.join()
        return started

    def _start_step(self, item):
        """Start a recovered vApp or standalone VM (paused with --power paused)."""
        call = Call("%s-start" % item.kind, dict(
            {"uuid": item.uuid}, **({"paused": "true"} if self.opts.power == "paused" else {})))

        def action():
            self.xe.run(call.command, call.params)
            return time.time()

        def reconcile():
            states = {r["power-state"] for r in self.xe.list(
                "vm", params=("uuid", "power-state"),
                filters={"uuid": item.uuid} if item.kind == "vm" else {"appliance": item.uuid})}
            return time.time() if states and states <= {"running", "paused"} else None

        return Step(step_id("start", item.kind, item.uuid), "start %s %s" % (
            item.kind, item.name_label), [call], action=action, reconcile=reconcile,
            group=None if item.kind == "appliance" else item.order)

    def _guarded(self, start, item):
        try:
            start(item)
        except StepFailed:
            pass  # recorded in engine.failures

    # -- phase 7 ------------------------------------------------------------------------------
    def _finish(self, items):
        if self.opts.mode == "test":
            self.report["todo"].append("clean up the test with 'xe-dr cleanup %s'" % self.run.id)
            return
        for entry in self.report["storage"]:
            task = entry.get("task")
            if task:
                self.engine.do(Step(
                    step_id("drtask-destroy", task), "destroy DR task %s" % task,
                    [Call("drtask-destroy", {"uuid": task})],
                    reconcile=lambda task=task: None if task in self.xe.uuids(
                        "drtask") else task))
        self.report["todo"].append(
            "protect this pool so that failback is possible: 'xe-dr replication enable SR...' "
            "on SRs the array mirrors back to the other site")

    def _selected_by_name(self, item):
        named = set(self.opts.vms) | set(self.opts.vapps)
        return item.uuid in named or item.name_label in named

    def _outcome(self, items, recovered, started):
        failed = {f.step for f in self.engine.failures}
        # Left out of --all because DR never protected it: listed with the reason, no failure.
        checks = [c for c in self.report["checks"] if c["verdict"] == BLOCKING]
        unprotected = {o for c in checks if c.get("unprotected") for o in c["objects"]}
        other = {o for c in checks if not c.get("unprotected") for o in c["objects"]}
        excluded = [i for i in items if i.excluded and i.excluded != "recovered with its vApp"
                    and not (i.uuid in unprotected and i.uuid not in other and
                             not self._selected_by_name(i))]
        self.report["items"] = [dict(i.to_json(), recovered_vms=recovered.get(i.uuid),
                                     started=bool(started.get(i.uuid)),
                                     failed=i.step in failed or
                                     "start:%s:%s" % (i.kind, i.uuid) in failed)
                                for i in items]
        self.report["failures"] = [f.message for f in self.engine.failures]
        self._network_report()
        ok = len(recovered)
        if not self.engine.failures and not excluded:
            outcome, code = "succeeded", ExitCode.OK
        elif ok:
            outcome, code = "partly failed", ExitCode.PARTIAL
        else:
            outcome, code = "failed", ExitCode.FAILED
        self.report["outcome"] = outcome
        self.run.set_status(outcome, exit_code=int(code), ended=time.time())
        self._save_report()
        return code

    def _save_report(self):
        """report.json, and the rendered reports beside it: every run leaves its report,
        whether it succeeded, failed, was blocked or interrupted."""
        if self.run is not None:
            from xe_dr.report import write_default
            self.report["journal"] = self.run.entries()
            self.run.save("report.json", self.report)
            problem = write_default(self.run)
            if problem:
                self.progress.note(problem)


def _unless_state_fails(record):
    """Record how a run stopped, unless the state directory cannot take it (then the run is
    left as if interrupted, and the reason it stopped is still what the operator sees)."""
    try:
        record()
    except StateWriteError:
        pass


def _live_checks(items, source, protection):
    """The checks of a plan made from the live source pool: xe checks each object again when
    the plan is carried out (the runbook's assert-can-be-recovered); what is left out here is
    what ``xe-dr status`` says cannot come back (a disk on local storage or on shared storage
    without replicated metadata)."""
    checks = [Check("source:live", WARNING, "planned from the live pool %s, as it is now: a "
                    "VM or vApp made after this plan is not in it" % source.name_label,
                    fix="make the plan again after changes (it is cheap: cron it)")]
    for item in items:
        vms = [item.uuid] if item.kind == "vm" else [m["uuid"] for m in item.members or ()]
        unprotected = [protection[u] for u in vms
                       if u in protection and protection[u]["class"] != "protected"]
        if unprotected:
            checks.append(Check(
                "protection", BLOCKING, "%s %s cannot be recovered at the other site: %s" % (
                    "VM" if item.kind == "vm" else "vApp", item.name_label, "; ".join(
                        "%s: %s" % (v["name_label"], v["reason"]) for v in unprotected)),
                fix="move its disks to SRs with replicated metadata ('xe-dr status')",
                objects=[item.uuid]))
    return checks


class _Settled(object):
    """The objects whose recovery wave is over (recovered or not), for the start phase to wait
    on; shut when the recovery stopped."""

    def __init__(self):
        self._done = set()
        self._shut = False
        self._changed = threading.Condition()

    def add(self, uuids):
        with self._changed:
            self._done.update(uuids)
            self._changed.notify_all()

    def shut(self):
        with self._changed:
            self._shut = True
            self._changed.notify_all()

    def wait_for(self, uuids):
        """True once every one of ``uuids`` is settled; False if the recovery stopped first."""
        uuids = set(uuids)
        with self._changed:
            while not uuids <= self._done and not self._shut:
                self._changed.wait()
            return uuids <= self._done


class _Background(object):
    """fn(*args) on a thread of its own; :meth:`result` waits and returns its value or raises
    its exception here."""

    def __init__(self, fn, *args):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn, args))
        self._thread.start()

    def _run(self, fn, args):
        try:
            self._value = fn(*args)
        except BaseException as failure:  # handed to the caller of result()
            self._error = failure

    def wait(self):
        self._thread.join()

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
