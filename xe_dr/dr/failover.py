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
5. networks: VIFs moved to the networks named by ``--map-network``; networks that xapi created
   during the import are tagged with the run;
6. start: every vApp with ``appliance-start`` (xapi runs its order groups) while standalone
   VMs start by ``order`` groups, lowest first, each group in parallel (``vm-start`` waits
   the VM's start-delay, so the delay separates one group from the next);
7. after a real failover: ``drtask-destroy`` (xapi forgets the SRs no recovered VM needs) and
   the offer to protect this pool by enabling its own metadata replication.
"""

import json
import threading
import time

from xe_dr.dr import prechecks as checks_
from xe_dr.dr.engine import Engine, LineProgress, StepFailed
from xe_dr.dr.inventory import PLUGIN, RUN_TAG, find_metadata_copies, read_sources
from xe_dr.dr.plan import BLOCKING, CONFIRM, Check, Item, select
from xe_dr.dr.plugin import plugin_version
from xe_dr.dr.storage import StorageSpec, create_secret, find_secret, probe
from xe_dr.errors import UsageError, XeDrError
from xe_dr.exitcodes import ExitCode
from xe_dr.journal import NOTE, PoolLock, Run
from xe_dr.pool import read_hosts, read_pool
from xe_dr.xe.errors import XapiError
from xe_dr.xe.records import parse_map

MODES = ("failover", "test", "failback")
LUN_SR_TYPES = ("lvmoiscsi", "lvhdoiscsi", "lvmohba", "lvhdohba")  # what the array mirrors
POWER = ("start", "paused", "none")


def _exclude_failing(items, checks):
    """Leave out every object that fails a blocking check of its own."""
    for check in checks:
        if check.verdict == BLOCKING and check.objects:
            for item in items:
                if item.uuid in check.objects and not item.excluded:
                    item.excluded = check.message


def _storage_hint(failure):
    if getattr(failure, "sm_error_number", None) == 47:
        return "the replica is not writable: halt the mirror (promote the copy at this site)"
    return "fix that"


class Options(object):
    """What the user asked for; kept in run.json so that --resume needs nothing else
    (but the CHAP password, which is never stored)."""

    FIELDS = ("mode", "all", "vapps", "vms", "exclude", "storage", "srs", "power", "parallel",
              "network_map", "force", "disable_ha", "protect", "source")

    def __init__(self, mode="failover", all=False, vapps=(), vms=(), exclude=(), storage=(),
                 srs=(), power=None, parallel=4, network_map=None, force=False,
                 disable_ha=False, protect=None, source=None):
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

    def to_json(self):
        return dict((k, getattr(self, k)) for k in self.FIELDS)

    @classmethod
    def from_json(cls, data):
        return cls(**dict((k, data[k]) for k in cls.FIELDS if k in data))


class Failover(object):
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
        self.report = {"mode": options.mode, "power": options.power, "checks": [],
                       "storage": [], "sources": [], "items": [], "warnings": [],
                       "todo": [], "commands": []}
        self._new_networks = set()

    # -- entry points -------------------------------------------------------------------------
    def plan(self):
        """--dry-run: everything but changes. Returns the report (plan, checks, commands)."""
        self.pool = read_pool(self.xe)
        self.hosts = read_hosts(self.xe)
        self.engine = Engine(None, dry_run=True)
        self.report["checks"] = [c.to_json() for c in self._early_checks()]
        self._storage()
        self._recover_and_start(dry_run=True)
        self.report["commands"] = self.engine.planned
        self.report["outcome"] = "planned"
        return self.report, ExitCode.OK

    def apply(self, resume_id=None):
        self.pool = read_pool(self.xe)
        self.hosts = read_hosts(self.xe)
        lock = PoolLock(self.state_dir, self.pool.uuid)
        if resume_id:
            self.run = Run.open(self.state_dir, resume_id)
            if self.run.meta["target"].get("pool_uuid") != self.pool.uuid:
                raise UsageError("run %s was against pool %s, not this one (%s)" % (
                    resume_id, self.run.meta["target"].get("pool_name"), self.pool.name_label))
            if self.run.meta["kind"] not in MODES:
                raise UsageError("run %s is a %s, not a failover" % (resume_id,
                                                                    self.run.meta["kind"]))
            self.opts = Options.from_json(self.run.meta["options"])
            lock.acquire(self.run.id)
            self.run.set_status("running", resumed=time.time())
        else:
            self.run = Run.create(self.state_dir, self.opts.mode, self._target(), self.argv,
                                  self.opts.to_json())
            lock.acquire(self.run.id)
        self.report["run"] = self.run.id
        self.engine = Engine(self.run, on_event=self._on_event)
        try:
            early = self._early_checks()
            self.report["checks"] = [c.to_json() for c in early]
            blocking = [c for c in early if c.verdict == BLOCKING]
            if blocking:
                return self.report, self._blocked(blocking)
            if self.opts.mode == "failback" and self.source_xe is not None:
                self._shutdown_at_source()
            try:
                self._storage()
            except XeDrError as failure:
                failure.hint = "%s; then resume with 'xe-dr %s --resume %s'" % (
                    failure.hint or _storage_hint(failure),
                    "failback" if self.opts.mode == "failback" else "failover", self.run.id)
                raise
            outcome = self._recover_and_start(dry_run=False)
        except KeyboardInterrupt:
            self.run.set_status("interrupted")
            self.report["outcome"] = "interrupted"
            self._save_report()
            raise
        except XeDrError as failure:
            self.run.append(NOTE, "stopped", error=failure.one_line())
            self.run.set_status("failed", error=failure.one_line())
            self.report["outcome"] = "failed"
            self.report["error"] = failure.one_line()
            self._save_report()
            raise
        finally:
            lock.release()
        return self.report, outcome

    def _early_checks(self):
        """The checks that need no metadata, made before anything is changed: a licence that
        forbids DR, HA on for a test, --map-network targets that do not exist."""
        target = checks_.TargetFacts(self.xe, self.pool, self.hosts)
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

    # -- phase 0 (failback): stop the VMs where they run now -----------------------------------
    def _shutdown_at_source(self):
        """Cleanly shut down the selected VMs at the DR site, vApps with appliance-shutdown
        (xapi goes through their order groups downwards) and standalone VMs by descending
        ``order`` groups, so that the metadata replicated back records them halted."""
        xe = self.source_xe
        vms = xe.list("vm", params=("uuid", "name-label", "power-state", "order", "appliance",
                                    "other-config"), filters={"is-control-domain": "false"})
        appliances = xe.list("appliance", params=("uuid", "name-label"))
        wanted = set(self.opts.vapps) | set(self.opts.vms)
        excluded = set(self.opts.exclude)

        def chosen(record, failed_over_member=False):
            names = {record["uuid"], record["name-label"]}
            if names & excluded:
                return False
            return bool(names & wanted) or (self.opts.all and failed_over_member)

        tagged = {v["uuid"] for v in vms if RUN_TAG in parse_map(v.get("other-config", ""))}
        member_apps = {v["appliance"] for v in vms if v["uuid"] in tagged}
        apps = [a for a in appliances if chosen(a, a["uuid"] in member_apps)]
        app_uuids = {a["uuid"] for a in apps}
        running_apps = [a for a in apps if any(
            v["appliance"] == a["uuid"] and v["power-state"] == "running" for v in vms)]
        standalone = [v for v in vms if v["appliance"] not in app_uuids and
                      v["power-state"] == "running" and chosen(v, v["uuid"] in tagged)]
        self.progress.phase("shut down at the source", len(running_apps) + len(standalone),
                            "source-shutdown:")

        def halted(filters):
            states = {r["power-state"] for r in xe.list("vm", params=("power-state",),
                                                         filters=filters)}
            return True if states and states <= {"halted"} else None

        def stop_app(app):
            return self.engine.do(
                "source-shutdown:appliance:%s" % app["uuid"], "shut down vApp %s at the "
                "source" % app["name-label"],
                lambda: xe.run("appliance-shutdown", {"uuid": app["uuid"]}) or True,
                reconcile=lambda: halted({"appliance": app["uuid"]}),
                commands=[xe.argv("appliance-shutdown", {"uuid": app["uuid"]})])

        def stop_vm(vm):
            return self.engine.do(
                "source-shutdown:vm:%s" % vm["uuid"], "shut down VM %s at the source" %
                vm["name-label"], lambda: xe.run("vm-shutdown", {"uuid": vm["uuid"]}) or True,
                reconcile=lambda: halted({"uuid": vm["uuid"]}),
                commands=[xe.argv("vm-shutdown", {"uuid": vm["uuid"]})])

        self.engine.do_many(running_apps, self.opts.parallel, stop_app)
        groups = {}
        for vm in standalone:
            groups.setdefault(int(vm.get("order") or 0), []).append(vm)
        for order in sorted(groups, reverse=True):
            self.engine.do_many(groups[order], self.opts.parallel, stop_vm)
        selected = {v["uuid"] for v in vms if v["appliance"] in app_uuids} | \
            {v["uuid"] for v in vms if chosen(v, v["uuid"] in tagged)}
        self._detach_at_source(selected)

    def _detach_at_source(self, selected):
        """Give the LUNs back: unplug, at the DR site, the mirrored SRs that hold the selected
        VMs' disks, so that the two pools never have one LVM volume group attached at once
        (reference pitfall 2). Unplugging also stops the DR site's metadata replication to
        them; its last write recorded the VMs halted. An SR still used by a running VM that
        was not selected stops the run: the fix is to shut that VM down or select it too."""
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
            raise XeDrError("SR(s) %s at the source are still used by running VMs that are "
                            "not failed back (%s)" % (
                                ", ".join(srs[s]["name-label"] for s in sorted(busy)),
                                ", ".join(sorted({u for us in busy.values() for u in us}))),
                            hint="shut them down there or select them too")
        master = xe.list("pool", params=("master",))[0]["master"]
        pbds = xe.list("pbd", params=("uuid", "host-uuid", "sr-uuid", "currently-attached"))
        for sr in wanted:
            mine = sorted((p for p in pbds if p["sr-uuid"] == sr and
                           p["currently-attached"] == "true"),
                          key=lambda p: p["host-uuid"] == master)  # the master's last
            for pbd in mine:
                self.engine.do(
                    "source-detach:%s" % pbd["uuid"], "unplug SR %s at the source" %
                    srs[sr]["name-label"],
                    lambda pbd=pbd: xe.run("pbd-unplug", {"uuid": pbd["uuid"]}) or True,
                    commands=[xe.argv("pbd-unplug", {"uuid": pbd["uuid"]})],
                    reconcile=lambda pbd=pbd: True if not xe.list(
                        "pbd", params=("uuid",), filters={"uuid": pbd["uuid"],
                                                          "currently-attached": "true"})
                    else None)

    # -- phase 1: storage ---------------------------------------------------------------------
    def _storage(self):
        known = {r["uuid"]: r for r in self.xe.list(
            "sr", params=("uuid", "name-label", "type", "introduced-by", "other-config"))}
        pbds = self.xe.list("pbd", params=("uuid", "host-uuid", "sr-uuid", "currently-attached"))
        for spec_json in self.opts.storage:
            spec = StorageSpec(spec_json["type"], spec_json["device_config"],
                               self.chap_passwords.get(spec_json["device_config"].get("SCSIid"),
                                                       self.chap_passwords.get(None)))
            if spec_json.get("chap") and not spec.chap_password:
                raise UsageError("this storage needs its CHAP password again",
                                 hint="give --chap-password-file or --chap-password-env")
            self._attach(spec, known, pbds)

    def _attach(self, spec, known, pbds):
        lun = spec.device_config.get("SCSIid", "?")
        answer = probe(self.xe, spec)
        if answer["stage"] != "srs":
            raise UsageError("the storage options do not name a LUN yet (%s)" % answer["next"])
        found = answer["items"]
        chosen = [sr for sr in found if not self.opts.srs or sr["uuid"] in self.opts.srs]
        entry = {"lun": lun, "type": spec.sr_type, "found": found, "introduced": [],
                 "plugged": [], "already_attached": []}
        self.report["storage"].append(entry)
        new = [sr["uuid"] for sr in chosen if sr["uuid"] not in known]
        for sr in chosen:
            if sr["uuid"] not in known:
                continue
            unplugged = [p for p in pbds if p["sr-uuid"] == sr["uuid"]
                         and p["currently-attached"] != "true"]
            if not unplugged:
                entry["already_attached"].append(sr["uuid"])
            elif sr["uuid"] not in entry["plugged"]:
                entry["plugged"].append(sr["uuid"])
            for pbd in unplugged:
                self.engine.do("plug:%s" % pbd["uuid"], "plug SR %s" % sr["name_label"],
                               lambda pbd=pbd: self.xe.run("pbd-plug", {"uuid": pbd["uuid"]}),
                               reconcile=lambda pbd=pbd: self._pbd_attached(pbd["uuid"]),
                               commands=[self.xe.argv("pbd-plug", {"uuid": pbd["uuid"]})])
        step = "attach:%s" % lun
        begun = self.engine.begun(step)
        if self.engine.state_of(step) is not None:
            # Resumed: the SRs this step introduced are known by now; it attaches what it
            # set out to attach, and its DR task is still the run's to destroy.
            new = begun["whitelist"] if begun else (self.engine.result_of(step) or {}).get(
                "whitelist", new)
        if not new:
            return
        # The DR tasks that existed before this step first began: any other one that has
        # none of our SRs was leaked by an interrupted or failed drtask-create of ours.
        before = set(begun["tasks_before"]) if begun else set(self.xe.uuids("drtask"))
        secret = None
        if spec.chap_password:
            # One secret for the run's PBDs of this LUN; they keep using it after a real
            # failover (as XenCenter's do), cleanup destroys it after a test.
            secret = self.engine.do(
                "secret:%s" % lun, "store the CHAP password of LUN %s in a xapi secret" % lun,
                lambda: create_secret(self.xe, spec.chap_password),
                reconcile=lambda: find_secret(self.xe, spec.chap_password),
                commands=[self.xe.argv("secret-create")])
        params = {"type": spec.sr_type, "device-config": spec.with_secret(secret),
                  "sr-whitelist": new}

        def create():
            try:
                task = self.xe.value("drtask-create", params)
            except XapiError:
                self._destroy_leaked_tasks(before)
                raise
            return {"task": task, "srs": self._introduced_by(task), "whitelist": new}

        def reconcile():
            for task in set(self.xe.uuids("drtask")) - before:
                srs = self._introduced_by(task)
                if set(srs) & set(new):
                    return {"task": task, "srs": srs, "whitelist": new}
            self._destroy_leaked_tasks(before)
            return None

        result = self.engine.do(step, "attach SR(s) %s on LUN %s" % (
            ", ".join(new), lun), create, reconcile,
            commands=[self.xe.argv("drtask-create", params)],
            begin_data={"tasks_before": sorted(before), "whitelist": new})
        if result is None:  # dry run
            return
        entry["task"] = result["task"]
        entry["introduced"] = result["srs"]
        for sr in result["srs"]:
            self.engine.do("tag:sr:%s" % sr, "tag SR %s" % sr, lambda sr=sr: self._tag("sr", sr),
                           commands=[self._tag_argv("sr", sr)])

    def _pbd_attached(self, uuid):
        found = self.xe.list("pbd", params=("uuid", "currently-attached"), filters={"uuid": uuid})
        return True if found and found[0]["currently-attached"] == "true" else None

    def _introduced_by(self, task):
        return [r["uuid"] for r in self.xe.list("sr", params=("uuid",),
                                                filters={"introduced-by": task})]

    def _destroy_leaked_tasks(self, before):
        """drtask-create leaves its DR task (and earlier SRs) behind when one SR fails to
        attach (reference pitfall 5): destroy what appeared since we started."""
        for task in set(self.xe.uuids("drtask")) - before:
            try:
                self.xe.run("drtask-destroy", {"uuid": task})
                self.run.append(NOTE, "leak:%s" % task, destroyed=True)
            except XeDrError as failure:
                self.run.append(NOTE, "leak:%s" % task, destroyed=False,
                                error=failure.one_line())

    def _tag_argv(self, cls, uuid):
        return self.xe.argv("%s-param-set" % cls, {"uuid": uuid, "other-config": {
            RUN_TAG: self.run.id if self.run else "RUN"}})

    def _tag(self, cls, uuid):
        self.xe.param_set(cls, uuid, {"other-config": {RUN_TAG: self.run.id}})
        return uuid

    # -- phases 2-7 ---------------------------------------------------------------------------
    def _sources(self):
        plugin = self.use_plugin and self.pool.master and \
            plugin_version(self.xe, self.pool.master) is not None
        sources = read_sources(self.xe, find_metadata_copies(self.xe, self.pool.uuid),
                               self.pool.master, plugin)
        self.plugin = plugin
        self.report["plugin"] = bool(plugin)
        self.report["sources"] = [{"uuid": s.uuid, "name_label": s.name_label,
                                   "vdi": s.copy.vdi_uuid, "sr": s.copy.sr_uuid,
                                   "generation": s.copy.generation, "via": s.via}
                                  for s in sources]
        return sources

    def _recover_and_start(self, dry_run):
        sources = self._sources()
        if not sources:
            if dry_run and self.opts.storage:
                self.report["todo"].append("the VM list comes from the metadata on the SRs "
                                           "above, once they are attached")
                return ExitCode.OK
            raise XeDrError("no recoverable metadata is visible in this pool",
                            hint="attach the mirrored SRs (probe options) or check "
                                 "'xe-dr inventory'")
        by_vdi = dict((s.copy.vdi_uuid, s) for s in sources)
        saved = self.run.load("plan.json") if self.run is not None else None
        if saved:
            # A resume goes on with exactly what the run planned and checked before its first
            # change: its own recovered VMs must not now count as "existing at the target".
            items = [Item.from_json(i) for i in saved["items"]]
            checks = [Check.from_json(c) for c in saved["checks"]]
            self._networks_before = set(saved.get("networks_before", ()))
        else:
            items = select(sources, self.opts.all, self.opts.vapps, self.opts.vms,
                           self.opts.exclude, failed_over_only=self.opts.mode == "failback")
            checks = self._prechecks(items, by_vdi)
        self.report["checks"] = [c.to_json() for c in checks]
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
        confirm = [c for c in checks if c.verdict == CONFIRM]
        if confirm and self.engine.state_of("confirmed") is None:
            text = "; ".join(c.message for c in confirm)
            if not self.confirm("%s. Go on?" % text, "replacing existing VMs"):
                for item in items:
                    if any(item.uuid in c.objects for c in confirm):
                        item.excluded = "not confirmed: an existing VM would be replaced"
            self.engine.note("confirmed", answered=True)
        if self.opts.mode == "test" and self.opts.disable_ha and (
                self.pool.ha_enabled or self.engine.begun("ha:disable") is not None):
            self._disable_ha()
        recovered = self._recover(items, by_vdi)
        self._map_networks(recovered)
        started = self._start(items, recovered)
        self._finish(items)
        return self._outcome(items, recovered, started)

    def _prechecks(self, items, by_vdi):
        target = checks_.TargetFacts(self.xe, self.pool, self.hosts)
        # The SRs this run brings in: they must not be attached at the source any more.
        srs = sorted({sr for entry in self.report["storage"] for key in (
            "introduced", "plugged", "already_attached") for sr in entry[key]})
        attached = {p["sr-uuid"] for p in self.xe.list(
            "pbd", params=("sr-uuid",), filters={"currently-attached": "true"})}
        mode = self.opts.mode
        result = list(self._early_checks())
        result += checks_.check_versions(target, list(by_vdi.values()))
        result.append(checks_.check_edition(target, list(by_vdi.values())))
        if mode != "test":
            result += checks_.check_source_running(self.source_xe, items, srs)
        result += checks_.check_existing(target, items, mode)
        result += checks_.check_storage(self.xe, items, by_vdi, attached)
        result += checks_.check_networks(items, by_vdi, self.opts.network_map)
        # Capacity counts only what will really start: objects failing a check of their own
        # are left out first.
        _exclude_failing(items, result)
        result.append(checks_.check_capacity(target, items, self.opts.power))
        self._networks_before = {n["uuid"] for n in target.networks}
        self._target = target
        for check in result:
            if check.verdict != "ok":
                self.progress.note("precheck %s: %s" % (check.verdict, check.message))
        return result

    def _plan_steps(self, items):
        force = {"force": "true"} if self.opts.force else {}
        for item in items:
            if item.excluded:
                continue
            params = dict({"uuid": item.uuid, "database": {"vdi-uuid": item.vdi}}, **force)
            self.engine.do(item.step, "recover %s %s" % (item.kind, item.name_label), None,
                           commands=[self.xe.argv("%s-recover" % item.kind, params)])
        if self.opts.power != "none":
            paused = {"paused": "true"} if self.opts.power == "paused" else {}
            for item in sorted((i for i in items if not i.excluded),
                               key=lambda i: (i.kind != "appliance", i.order)):
                self.engine.do("start:%s:%s" % (item.kind, item.uuid),
                               "start %s %s" % (item.kind, item.name_label), None,
                               commands=[self.xe.argv("%s-start" % item.kind,
                                                      dict({"uuid": item.uuid}, **paused))])

    def _disable_ha(self):
        """Remember how HA was set up (heartbeat SRs, failures to tolerate) so that cleanup
        can enable it again, then disable it (XenCenter's DrHAEnabledCheck fix). The setup is
        journaled with "begin", before HA is touched, so a crash cannot lose it."""
        step = "ha:disable"
        setup = self.engine.begun(step)
        if not setup:
            statefiles = self.xe.param_get("pool", self.pool.uuid, "ha-statefiles")
            vdis = [v for v in statefiles.split("; ") if v]
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

        self.engine.do(step, "disable HA for the test", disable, reconcile,
                       commands=[self.xe.argv("pool-ha-disable")], begin_data=setup)

    # -- phase 4: recovery --------------------------------------------------------------------
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
            vms_left = []
            for item in vms:
                if item.uuid in members:  # plain xe learnt membership only now (§2.3)
                    item.excluded = "recovered with its vApp"
                    self.engine.note("skip:%s" % item.uuid, reason=item.excluded)
                else:
                    vms_left.append(item)
            for item, result in zip(vms_left, self.engine.do_many(
                    vms_left, self.opts.parallel, self._recover_one)):
                if result is not None:
                    recovered[item.uuid] = result
        return recovered

    def _recover_params(self, item):
        params = {"uuid": item.uuid, "database": {"vdi-uuid": item.vdi}}
        if self.opts.force:
            params["force"] = "true"
        return params

    def _recover_one(self, item):
        def action():
            self.xe.run("%s-recover" % item.kind, self._recover_params(item))
            return self._tag_recovered(item)

        return self.engine.do(item.step, "recover %s %s" % (item.kind, item.name_label), action,
                              reconcile=lambda: self._find_recovered(item),
                              commands=[self.xe.argv("%s-recover" % item.kind,
                                                     self._recover_params(item))])

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
            if state == "begin":
                found = self._find_recovered(item)
                if found is not None:
                    self.engine.record("done", item.step, result=found, reconciled=True)
                    recovered[item.uuid] = found
                    continue
            pending.append(item)
        if not pending:
            return recovered
        args = {"vdi": vdi, "force": "true" if self.opts.force else "false",
                "parallel": str(self.opts.parallel),
                "vms": json.dumps([i.uuid for i in pending if i.kind == "vm"]),
                "appliances": json.dumps([i.uuid for i in pending if i.kind == "appliance"])}
        call = self.xe.argv("host-call-plugin", {"host-uuid": self.pool.master, "plugin": PLUGIN,
                                                  "fn": "recover", "args": args})
        for item in pending:
            self.engine.record("begin", item.step, description="recover %s %s" % (
                item.kind, item.name_label), via="plugin", commands=[call])
        answer = json.loads(self.xe.call_plugin(self.pool.master, PLUGIN, "recover", args))
        results = dict((r["uuid"], r) for r in answer["results"])
        for item in pending:
            result = results.get(item.uuid)
            if result and result.get("ok"):
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
        networks = self.xe.list("network", params=("uuid", "name-label", "bridge", "other-config"))
        for net in networks:  # isolated networks xapi created for unmatched names (§2.6)
            if net["uuid"] not in self._networks_before and RUN_TAG not in net.get(
                    "other-config", ""):
                self.engine.do("tag:network:%s" % net["uuid"], "tag network %s" % net[
                    "name-label"], lambda uuid=net["uuid"]: self._tag("network", uuid),
                    commands=[self._tag_argv("network", net["uuid"])])
        if not self.opts.network_map:
            return
        by_name = dict((n["name-label"], n) for n in networks)
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
        names = dict((n["uuid"], n["name-label"]) for n in networks)
        for vif in vifs:
            if vif["vm-uuid"] not in vm_uuids:
                continue
            source_name = names.get(vif["network-uuid"])
            target_name = self.opts.network_map.get(source_name)
            if not target_name:
                continue
            target = by_name.get(target_name) or next(
                n for n in networks if n["uuid"] == target_name)
            if target["uuid"] == vif["network-uuid"]:
                continue
            self.engine.do("remap:%s" % vif["uuid"], "move VIF %s of VM %s to %s" % (
                vif["device"], vif["vm-uuid"], target["name-label"]),
                lambda vif=vif, target=target: self._move_vif(vif, target["uuid"]),
                commands=[self.xe.argv("vif-destroy", {"uuid": vif["uuid"]}),
                          self.xe.argv("vif-create", {"vm-uuid": vif["vm-uuid"],
                                                      "network-uuid": target["uuid"],
                                                      "device": vif["device"],
                                                      "mac": vif["MAC"]})])

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
    def _start(self, items, recovered):
        if self.opts.power == "none":
            return {}
        paused = self.opts.power == "paused"
        extra = {"paused": "true"} if paused else {}
        appliances = [i for i in items if i.kind == "appliance" and i.uuid in recovered]
        vms = [i for i in items if i.kind == "vm" and i.uuid in recovered and not i.excluded]
        started = {}
        lock = threading.Lock()
        self.progress.phase("start" if not paused else "start paused",
                            len(appliances) + len(vms), "start:")

        def start(item):
            def action():
                self.xe.run("%s-start" % item.kind, dict({"uuid": item.uuid}, **extra))
                return time.time()

            def reconcile():
                states = {r["power-state"] for r in self.xe.list(
                    "vm", params=("uuid", "power-state"),
                    filters={"uuid": item.uuid} if item.kind == "vm"
                    else {"appliance": item.uuid})}
                return time.time() if states and states <= {"running", "paused"} else None

            result = self.engine.do("start:%s:%s" % (item.kind, item.uuid), "start %s %s" % (
                item.kind, item.name_label), action, reconcile,
                commands=[self.xe.argv("%s-start" % item.kind, dict({"uuid": item.uuid},
                                                                    **extra))])
            with lock:
                started[item.uuid] = result
            return result

        def vms_by_order():
            groups = {}
            for item in vms:
                groups.setdefault(item.order, []).append(item)
            for order in sorted(groups):
                self.progress.note("order group %d: %d VM(s)" % (order, len(groups[order])))
                self.engine.do_many(groups[order], self.opts.parallel, start)

        # vApps run their own order groups inside xapi; they start alongside the standalone
        # groups, each appliance-start in its own thread.
        threads = [threading.Thread(target=self._guarded, args=(start, item))
                   for item in appliances]
        for thread in threads:
            thread.start()
        try:
            vms_by_order()
        finally:
            for thread in threads:
                thread.join()
        return started

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
                self.engine.do("drtask-destroy:%s" % task, "destroy DR task %s" % task,
                               lambda task=task: self.xe.run("drtask-destroy", {"uuid": task}),
                               reconcile=lambda task=task: None if task in self.xe.uuids(
                                   "drtask") else task,
                               commands=[self.xe.argv("drtask-destroy", {"uuid": task})])
        self.report["todo"].append(
            "protect this pool so that failback is possible: 'xe-dr replication enable SR...' "
            "on SRs the array mirrors back to the other site")

    def _outcome(self, items, recovered, started):
        failed = {f.step for f in self.engine.failures}
        excluded = [i for i in items if i.excluded and i.excluded != "recovered with its vApp"]
        self.report["items"] = [dict(i.to_json(), recovered_vms=recovered.get(i.uuid),
                                     started=bool(started.get(i.uuid)),
                                     failed=i.step in failed or
                                     "start:%s:%s" % (i.kind, i.uuid) in failed)
                                for i in items]
        self.report["failures"] = [f.message for f in self.engine.failures]
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
