"""``cleanup``: undo a test failover (or, with --force, a real one) at the target pool.

What the run created is found twice over, so that cleanup works after a crash and from
another machine: in the run's journal (when this machine has it), its finished steps and
those that began or failed (a timeout or kill -9 mid-call can leave their effect), and in the
objects' own tags (``other-config:xe-dr-run=<run>`` on every recovered VM, introduced SR,
network the run created before recovering and network xapi created); see ownership.py.
Nothing without one of those marks is touched. The VMs' *records* are destroyed
(``vm-destroy``), never their disks (``vm-uninstall`` would delete the VDIs on the replicated
LUN, reference pitfall 13).

Order: hard-shut down and destroy the VMs (snapshots first), destroy the vApps, destroy the
DR tasks, unplug and forget the SRs the run introduced (recovery cleared their DR-task stamp,
so drtask-destroy alone leaves them), unplug SRs it only plugged, destroy the networks the
run or xapi created (once no VIF or PIF uses them), and enable HA again if the run disabled
it.
"""

from xe_dr.dr import lifecycle
from xe_dr.dr.engine import Engine
from xe_dr.dr.ownership import Ownership, Survey
from xe_dr.dr.steps import Call, Step, step_id
from xe_dr.errors import NoInputError, UsageError, XeDrError
from xe_dr.exitcodes import ExitCode
from xe_dr.journal import Run, StateWriteError, new_run_id
from xe_dr.marks import DISPOSABLE_KINDS, DRILL, is_runbook_id
from xe_dr.pool import read_pool


def _refusal(run_id, kinds, survey, has_journal):
    """Why cleaning up this run needs --force, or None: only a test's or a drill's objects,
    found by the journal or tags, may go without it, and never a test's running VM (an
    administrator may have started a test's VMs as production); a drill's VMs run by design,
    on the array's copies, cut off from every network with a PIF."""
    where = "" if has_journal else " (no journal here: judged by the objects' tags)"
    if is_runbook_id(run_id):
        return "run %s is a runbook's: what it tagged was made by a script xe-dr did not " \
               "watch" % run_id
    real = sorted(k for k in kinds if k and k not in DISPOSABLE_KINDS)
    if real:
        return "run %s was a real %s%s: cleaning it up destroys production VMs" % (
            run_id, " and ".join(real), where)
    if "" in kinds:
        return "some objects tagged %s do not say which kind of run made them%s" % (
            run_id, where)
    if len(kinds) > 1:
        return "the objects tagged %s say different kinds of run (%s)" % (
            run_id, ", ".join(sorted(kinds)))
    running = survey.running()
    if running and kinds != {DRILL}:  # a drill's VMs run by design, isolated, on copies
        return "VM(s) of test %s are running, perhaps as production now: %s" % (
            run_id, ", ".join("%s (%s)" % (r["name-label"], r["uuid"]) for r in running))
    return None


def cleanup(xe, state_dir, run_id, force=False, dry_run=False, progress=lambda text: None,
            argv=(), transport="", confirm=None, announce=None, publish=None, secrets=(),
            lock_wait=0, estate_pool=None):
    """Undo run ``run_id``. When --force overrides a refusal, ``announce(line)`` shows what
    will be destroyed, one line each, then ``confirm(question, what)`` must say yes.
    ``publish(run)`` renders the cleanup's report (xe_dr/dr/lifecycle.py). ``secrets``: the
    CHAP passwords of the invocation, kept from a drill's storage adapter. ``lock_wait``:
    seconds to wait for another run's lock on the pool (--wait-lock); ``estate_pool``: the
    pool's name in a sites file (--pool), recorded with the run."""
    announce = announce or progress
    pool = read_pool(xe)
    original = _open_original(state_dir, run_id)
    if original is not None:
        kind = original.meta["kind"]
        if original.meta["target"].get("pool_uuid") != pool.uuid:
            raise UsageError("run %s was against pool %s, not this one" % (
                run_id, original.meta["target"].get("pool_name")))
        if kind not in ("test", "failover", "failback", "drill", "planned"):
            raise UsageError("run %s is a %s: there is nothing to clean up" % (run_id, kind))
        if original.meta.get("status") == "superseded":
            later = original.meta.get("superseded_by")
            raise UsageError("run %s was superseded by run %s, which took over what it held"
                             % (run_id, later), hint="clean up %s instead" % later)
    owned = Ownership(xe, run_id, original)
    survey = Survey(xe, owned, pool)
    # A journal of a cleanup that did not finish still has to be ended ("cleaned up"), even
    # when what is left of it is nothing.
    unfinished = original is not None and original.meta.get("status") != "cleaned up"
    if survey.empty() and not unfinished:
        raise NoInputError("nothing tagged %s in this pool: it never ran here, or it was "
                           "already cleaned up" % run_id)
    # With the journal at hand, its kind counts, and objects without a kind tag are taken for
    # the journal's (a run of an xe-dr older than the kind tag); without it, the tags alone.
    kinds = survey.kinds if original is None else \
        (survey.kinds - {""}) | {original.meta["kind"]}
    refusal = _refusal(run_id, kinds, survey, original is not None)
    if refusal and not dry_run:
        if not force:
            raise UsageError(refusal, hint="add --force if that is really meant; it lists "
                                           "what it destroys and asks first")
        announce("cleanup of %s destroys:" % run_id)
        for line in survey.lines():
            announce("  " + line)
        for line in survey.kept():
            announce("  kept: " + line)
        if confirm is not None and not confirm(
                "%s. Destroy the %d object(s) listed above?" % (refusal, len(survey.lines())),
                "a forced cleanup"):
            raise XeDrError("not confirmed: nothing was changed")
    run, lock = None, None
    publisher = lifecycle.Publisher(publish, progress)
    if not dry_run:
        cleanup_id = new_run_id("cleanup")
        target = {"pool_uuid": pool.uuid, "pool_name": pool.name_label,
                  "master": pool.master, "transport": transport}
        if estate_pool:
            target["estate_pool"] = estate_pool
        # The lock before the run exists: a refused cleanup leaves nothing.
        lock, run = lifecycle.claim(
            state_dir, xe, pool.uuid, cleanup_id, progress, lambda: Run.create(
                state_dir, "cleanup", target, argv=argv,
                options={"of": run_id, "force": force}, run_id=cleanup_id),
            wait=lock_wait)
    engine = Engine(run, xe=xe, dry_run=dry_run)
    report = {"run": run.id if run else None, "of": run_id, "owned": owned.to_json(),
              "destroys": survey.lines(), "kept": survey.kept(), "needs_force": refusal,
              "failures": [], "commands": engine.planned}
    try:
        _apply(xe, engine, owned, survey, pool, progress)
        if not engine.failures:
            report["released"] = _release_copies(engine, original, run_id, survey,
                                                  report["kept"], progress, secrets)
    except (KeyboardInterrupt, XeDrError) as failure:
        # Stopped outside a step (xe unreachable while listing, ^C): the run says so and
        # keeps its report, like a failover's; running cleanup again finishes the job. When
        # the state directory itself failed, nothing more can be written.
        if run is not None and not isinstance(failure, StateWriteError):
            report["failures"] = [f.message for f in engine.failures]
            publisher.stopped(run, report, None if isinstance(failure, KeyboardInterrupt)
                              else failure, ended=True)
        if run is not None and isinstance(failure, KeyboardInterrupt):
            raise lifecycle.interrupted(run.id, failure, "xe-dr cleanup %s" % run_id,
                                        "finish the cleanup with")
        raise
    finally:
        if lock is not None:
            lock.release()
    report["failures"] = [f.message for f in engine.failures]
    if dry_run:
        report["outcome"] = "planned"
        return report, ExitCode.OK
    publisher.finished(run, report, "failed" if engine.failures else "succeeded")
    if original is not None and not engine.failures:
        original.set_status("cleaned up", cleaned_by=run.id)
        publisher.refresh(original)
    return report, ExitCode.FAILED if engine.failures else ExitCode.OK


def _release_copies(engine, original, run_id, survey, kept, progress, secrets=()):
    """A drill's copies of the replicas, released through its storage adapter once nothing of
    the pool uses them any more (the adapter's run id is the drill's: it finds them even if
    the drill died before it journaled their names). Returns the copies released, or None
    for a run that made none, or whose copies stay: an SR of theirs is left attached (a
    release would pull the LUN from under it), or the journal naming the adapter is not
    here; ``kept`` (the report's) then says so."""
    options = (original.meta.get("options") or {}) if original is not None else {}
    staying = None
    if original is None and DRILL in survey.kinds:
        staying = "its journal, which names the storage adapter, is not on this machine: " \
                  "run 'ADAPTER release --run %s' with the drill's adapter" % run_id
    elif original is None or original.meta.get("kind") != DRILL or not options.get("adapter"):
        return None
    elif survey.busy:
        staying = "SR(s) %s are left attached on them; run 'xe-dr cleanup %s' again once " \
                  "no other VM uses them" % (", ".join(sorted(survey.busy)), run_id)
    if staying:
        line = "the array's copies of drill %s: not released, %s" % (run_id, staying)
        progress(line)
        kept.append(line)
        return None
    from xe_dr.dr.adapter import StorageAdapter
    adapter = StorageAdapter(options["adapter"], secrets=secrets)
    released = engine.do(Step(
        step_id("release", "copies", run_id), "release the array's copies of drill %s (%s)"
        % (run_id, options["adapter"]), [],
        begin_data={"commands": [adapter.argv("release", run_id)]},
        action=lambda: adapter.release(run_id)["released"],
        reconcile=lambda: [] if not adapter.list(run_id)["copies"] else None))
    if engine.run is not None:  # the replicas presented again: FC hosts see them once rescanned
        from xe_dr.dr.failover.drill import rescan
        rescan(engine.xe, adapter.capabilities(), [{"transport": "fc"}])
    return released


def _open_original(state_dir, run_id):
    try:
        return Run.open(state_dir, run_id)
    except UsageError:
        return None  # another machine ran it: the tags alone say what it created


def _apply(xe, engine, owned, survey, pool, progress):
    vms = survey.vms
    appliances = survey.appliances
    for line in survey.kept():
        progress(line)
    progress("cleaning up %d VM(s), %d vApp(s), %d SR(s)" % (len(vms), len(appliances),
                                                            len(survey.srs)))

    def remove_vm(uuid):
        record = vms[uuid]
        if record["power-state"] != "halted":
            engine.do(Step(step_id("shutdown", "vm", uuid),
                           "hard shutdown %s" % record["name-label"],
                           [Call("vm-shutdown", {"uuid": uuid}, flags=("force",))]))
        for snapshot in xe.uuids("snapshot", filters={"snapshot-of": uuid}):
            engine.do(_destroy_step(xe, "snapshot", snapshot,
                                    "destroy snapshot record %s" % snapshot))
        engine.do(_destroy_step(xe, "vm", uuid, "destroy VM record %s" % record["name-label"]))

    engine.do_many(sorted(vms), 4, remove_vm)
    for appliance in sorted(appliances):
        if xe.uuids("vm", filters={"appliance": appliance}):
            continue  # it still holds VMs that are not ours: leave it
        engine.do(_destroy_step(xe, "appliance", appliance, "destroy vApp %s" % appliance))
    for task in sorted((survey.tasks - survey.kept_tasks) & set(xe.uuids("drtask"))):
        engine.do(_destroy_step(xe, "drtask", task, "destroy DR task %s" % task))
    pbds = xe.list("pbd", params=("uuid", "host-uuid", "sr-uuid", "currently-attached"))
    present_srs = set(xe.uuids("sr"))
    for sr in sorted((set(survey.srs) - set(survey.busy)) & present_srs):
        mine = [p for p in pbds if p["sr-uuid"] == sr]
        # The master's PBD last, as xapi does (reference §2.1, §2.2).
        mine.sort(key=lambda p: p["host-uuid"] == pool.master)
        for pbd in mine:
            if pbd["currently-attached"] == "true":
                engine.do(_unplug_step(pbd))
        engine.do(Step(step_id("forget", "sr", sr), "forget SR %s" % sr,
                       [Call("sr-forget", {"uuid": sr})],
                       action=lambda s=sr: _gone_ok(xe.run, "sr-forget", {"uuid": s})))
    for pbd in pbds:
        if pbd["uuid"] in owned.plugged_pbds and pbd["currently-attached"] == "true":
            engine.do(_unplug_step(pbd))
    existing_secrets = set(xe.uuids("secret")) if owned.secrets else set()
    for secret in sorted(owned.secrets & existing_secrets):
        # Only once the SRs whose PBDs named it are forgotten.
        engine.do(_destroy_step(xe, "secret", secret, "destroy the run's CHAP secret"))
    if owned.networks:
        in_use = {v["network-uuid"] for v in xe.list("vif", params=("network-uuid",))}
        in_use |= {p["network-uuid"] for p in xe.list("pif", params=("network-uuid",))}
        for network in sorted(owned.networks & set(xe.uuids("network")) - in_use):
            engine.do(_destroy_step(xe, "network", network, "destroy network %s" % network))
    if survey.ha:
        params = {"heartbeat-sr-uuids": owned.ha["heartbeat_srs"]}

        def enable_ha():
            xe.run("pool-ha-enable", params)
            if owned.ha.get("tolerate") is not None:
                xe.param_set("pool", pool.uuid,
                             {"ha-host-failures-to-tolerate": owned.ha["tolerate"]})
        engine.do(Step("ha:enable", "enable HA again", [Call("pool-ha-enable", params)],
                       action=enable_ha))


def _destroy_step(xe, cls, uuid, description):
    return Step(step_id("destroy", cls, uuid), description,
                [Call("%s-destroy" % cls, {"uuid": uuid})],
                action=lambda: _gone_ok(xe.run, "%s-destroy" % cls, {"uuid": uuid}))


def _unplug_step(pbd):
    return Step(step_id("unplug", pbd["uuid"]), "unplug PBD %s" % pbd["uuid"],
                [Call("pbd-unplug", {"uuid": pbd["uuid"]})])


def _gone_ok(run, command, params):
    """Destroying what is already gone (a resumed cleanup) is success."""
    try:
        run(command, params)
    except XeDrError as failure:
        if getattr(failure, "code", None) not in ("UUID_INVALID", "HANDLE_INVALID"):
            raise
    return params["uuid"]
