"""The state one failover-like run shares between its phases, and the marks it leaves.

Each phase (storage, source, checks, networks, recovery, start) is a :class:`Phase` over one
:class:`RunContext`: it reads the run's xe, options, pool, journal engine and report from it,
and keeps there what later phases or a resume need (the network plan, the plugin's state)."""

import hashlib

from xe_dr.dr import guard
from xe_dr.dr.steps import Call, Step, step_id
from xe_dr.errors import XeDrError
from xe_dr.marks import RUN_KIND_TAG, RUN_TAG


class RunContext(object):
    def __init__(self, xe, state_dir, options, confirm, progress, source_xe=None,
                 chap_passwords=None, use_plugin=True, argv=(), transport="",
                 plugin_required=False, prompt=None):
        self.xe = xe
        self.state_dir = state_dir
        self.opts = options
        self.confirm = confirm
        # prompt(message): True once a person confirmed a plan's prompt (or
        # --answer-prompts did); the default refuses, as without a terminal.
        self.prompt = prompt or _no_person
        self.progress = progress
        self.source_xe = source_xe
        self.chap_passwords = chap_passwords or {}   # SCSIid -> password, never stored
        self.use_plugin = use_plugin
        self.plugin_required = plugin_required  # --plugin required: no plain-xe fallback
        self.argv = list(argv)
        self.transport = transport
        self.lock_wait = 0  # --wait-lock: seconds to wait for another run's lock on the pool
        self.estate_pool = None  # the sites file's name of the target pool (--pool), if any
        self.run = None
        self.engine = None
        self.pool = None
        self.hosts = None
        self.plugin = False  # whether the host plugin reads and recovers
        self.plugin_parallel = None
        self.plugin_version = None  # a Background asking the master (RecoveryPhase)
        self.plugin_answered = None  # (version or None,) once decided (plugin_answer)
        self.plugin_fallback = None  # why the run uses plain xe though a plugin is installed
        self.kept = set()  # metadata VDIs whose database the plugin keeps open for this run
        self.plugin_keep = None  # the key it keeps them under (the run id), when it can
        self.facts = None  # the prechecks' reads of the target pool (CheckPhase.target_facts)
        self.copies = None  # the metadata copies here, read before a run that attaches nothing
        self.sources_ahead = None  # a Background reading them (RecoveryPhase.read_ahead)
        self.report = {"mode": options.mode, "power": options.power, "checks": [],
                       "storage": [], "sources": [], "items": [], "warnings": [],
                       "todo": [], "commands": []}
        if options.plan_text is not None:  # the plan the run follows, as it began
            self.report["plan"] = {
                "path": options.plan_path, "name": options.plan["name"],
                "sha256": hashlib.sha256(options.plan_text.encode("utf-8")).hexdigest(),
                "text": options.plan_text}
        self.network_plan = []  # xe_dr/dr/networks.py plan entries
        self.vm_sources = {}     # foreign VM uuid -> SourceVM
        self.networks_before = set()
        self.source_state = None  # how far the source site was checked (xe_dr/dr/guard.py)
        self.storage_corrected = False  # a resume given other storage options
        self.adopted = None  # what --adopt takes over: (standing, resume, [SR names])
        self.copy_storage = None  # a drill's: the storage of the array's copies, once taken
        self.start_on = {}  # a drill's: VM uuid -> the host it must start on
        self.health_tokens = None  # a drill's: VM uuid -> its in-guest check's token
        self._adapter = None  # the storage adapter (--adapter: a drill, a planned migration)
        self._capabilities = None

    @property
    def adapter(self):
        if self._adapter is None:
            from xe_dr.dr.adapter import StorageAdapter
            self._adapter = StorageAdapter(self.opts.adapter,
                                           secrets=self.chap_passwords.values())
        return self._adapter

    @property
    def capabilities(self):
        if self._capabilities is None:
            self._capabilities = self.adapter.capabilities()
        return self._capabilities

    def reach_source(self, read):
        """``read(source_xe)``: a read of the source pool. A source that cannot be reached
        (any more: the site may go dark in the middle of a run) is taken for down from then
        on, with the split-brain warning, and ``read(None)`` says what that means instead. A
        source that answers with an error is up: that error stops the run."""
        if self.source_xe is not None:
            try:
                return read(self.source_xe)
            except XeDrError as failure:
                if not guard.cannot_reach(failure):
                    raise  # it answered: it is up, and the error is the run's
                self.source_unreachable(failure.one_line())
        return read(None)

    def source_unreachable(self, why=None):
        """The source is taken for down (guard.UNREACHABLE): said once, in the report's
        warnings and as a note (with ``why``), and never asked again in this run."""
        self.source_state = guard.UNREACHABLE
        self.source_xe = None
        self.report["source"] = guard.UNREACHABLE
        warning = guard.fence_warning(guard.UNREACHABLE)
        if warning not in self.report["warnings"]:
            self.report["warnings"].append(warning)
            self.progress.note(warning if why is None else "%s (%s)" % (warning, why))

    def resume_command(self):
        return "xe-dr %s --resume %s" % (
            self.opts.mode if self.opts.mode in ("failback", "drill") else "failover",
            self.run.id)  # a test's and a planned migration's too

    def left_behind(self, failure):
        """A run stopping on ``failure`` after it changed the pool says what it left and the
        commands that undo, resume or take it over: in its report's to-do list and in the
        failure's hint (the last line the operator sees)."""
        done = [step for step, event, _ in self.engine.steps("") if event == "done"] \
            if self.engine is not None and self.run is not None else []
        if not done or getattr(failure, "names_the_way_on", False):
            return
        srs = sorted({sr for e in self.report["storage"] for sr in e.get("introduced", ()) +
                      e.get("plugged", [])})
        vms = [s for s in done if s.startswith("recover:")]
        if [s for s in done if s.startswith("source-")] and not srs and not vms:
            # Only the source was changed (its VMs shut down, its SRs unplugged): a cleanup
            # here undoes nothing there, and a new run would find its SRs unplugged.
            line = ("run %s stopped after shutting the source down (its VMs halted, its SRs "
                    "unplugged there): fix the cause and resume with '%s' (a cleanup here "
                    "does not start them there again)" % (self.run.id,
                                                          self.resume_command()))
            self.report["todo"].append(line)
            failure.hint = "%s; %s" % (failure.hint, line) if failure.hint else line
            return
        what = "; ".join(w for w in (
            "SR(s) %s attached" % ", ".join(srs) if srs else "",
            "%d vApp(s) or VM(s) recovered" % len(vms) if vms else "") if w) or \
            "%d step(s) done" % len(done)
        line = ("run %s stopped after changing the pool (%s): undo it with 'xe-dr cleanup "
                "%s', fix the cause and resume with '%s', or take it over in a new run with "
                "--adopt %s" % (self.run.id, what, self.run.id, self.resume_command(),
                                self.run.id))
        self.report["todo"].append(line)
        failure.hint = "%s; %s" % (failure.hint, line) if failure.hint else line

    def marks(self):
        """What marks an object as this run's: the run id, and the run's kind so that a
        cleanup without the journal can tell a test's objects from production ones."""
        return {RUN_TAG: self.run.id if self.run else "RUN", RUN_KIND_TAG: self.opts.mode}

    def tag_call(self, cls, uuid, extra=None):
        return Call("%s-param-set" % cls, {"uuid": uuid, "other-config": dict(
            self.marks(), **(extra or {}))})

    def tag(self, cls, uuid, extra=None):
        call = self.tag_call(cls, uuid, extra)
        self.xe.run(call.command, call.params)
        return uuid

    def tag_step(self, cls, uuid, name=None, extra=None):
        """Mark an object this run made or brought in as the run's (cleanup finds it so);
        ``extra``: more other-config keys (an SR names its DR task and secret)."""
        return Step(step_id("tag", cls, uuid), "tag %s %s" % (
            {"sr": "SR"}.get(cls, cls), name or uuid), [self.tag_call(cls, uuid, extra)],
            action=lambda: self.tag(cls, uuid, extra))


def _no_person(message):
    from xe_dr.errors import UsageError
    raise UsageError("waits for a person: %s" % message,
                     hint="answer it at a terminal, or give --answer-prompts")


class Phase(object):
    """A part of a run, over the run's shared context (read through these properties; what a
    phase keeps for others it sets on ``self.ctx``)."""

    def __init__(self, ctx):
        self.ctx = ctx

    xe = property(lambda self: self.ctx.xe)
    source_xe = property(lambda self: self.ctx.source_xe)
    opts = property(lambda self: self.ctx.opts)
    progress = property(lambda self: self.ctx.progress)
    run = property(lambda self: self.ctx.run)
    engine = property(lambda self: self.ctx.engine)
    pool = property(lambda self: self.ctx.pool)
    hosts = property(lambda self: self.ctx.hosts)
    report = property(lambda self: self.ctx.report)
