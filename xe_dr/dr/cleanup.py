"""``cleanup``: undo a test failover (or, with --force, a real one) at the target pool.

What the run created is found twice over, so that cleanup works after a crash and from
another machine: in the run's journal (when this machine has it) and in the objects' own
tags (``other-config:xe-dr-run=<run>`` on every recovered VM, introduced SR and network
xapi created). Nothing without one of those marks is touched. The VMs' *records* are
destroyed (``vm-destroy``), never their disks (``vm-uninstall`` would delete the VDIs on the
replicated LUN, reference pitfall 13).

Order: hard-shut down and destroy the VMs (snapshots first), destroy the vApps, destroy the
DR tasks, unplug and forget the SRs the run introduced (recovery cleared their DR-task stamp,
so drtask-destroy alone leaves them), unplug SRs it only plugged, destroy the networks xapi
created, and enable HA again if the run disabled it.
"""

import time

from xe_dr.dr.engine import Engine
from xe_dr.dr.failover import RUN_TAG
from xe_dr.errors import UsageError, XeDrError
from xe_dr.exitcodes import ExitCode
from xe_dr.dr.lock import RunLock
from xe_dr.journal import DONE, NOTE, Run, StateWriteError, new_run_id
from xe_dr.pool import read_pool


class Ownership(object):
    """What run ``run_id`` created in the pool, from its journal and from tags."""

    def __init__(self, xe, run_id, journal_run=None):
        self.run_id = run_id
        self.vms, self.appliances, self.tasks = set(), set(), set()
        self.srs, self.plugged_pbds, self.networks = set(), set(), set()
        self.secrets = set()
        self.ha = None
        if journal_run is not None:
            self._from_journal(journal_run)
        tag = {"other-config:%s" % RUN_TAG: run_id}
        self.vms.update(xe.uuids("vm", filters=tag))
        self.srs.update(xe.uuids("sr", filters=tag))
        self.networks.update(xe.uuids("network", filters=tag))

    def _from_journal(self, run):
        for step, entry in run.step_states().items():
            if entry["event"] != DONE:
                continue
            result = (entry.get("data") or {}).get("result")
            kind = step.split(":", 1)[0]
            if kind == "attach" and result:
                self.tasks.add(result["task"])
                self.srs.update(result["srs"])
            elif kind == "secret" and result:
                self.secrets.add(result)
            elif kind == "plug":
                self.plugged_pbds.add(step.split(":", 1)[1])
            elif kind == "recover" and result:
                self.vms.update(result)
                if step.startswith("recover:appliance:"):
                    self.appliances.add(step.split(":", 2)[2])
            elif kind == "tag" and step.startswith("tag:network:"):
                self.networks.add(step.split(":", 2)[2])
            elif kind == "ha" and result:
                self.ha = result

    def to_json(self):
        return dict((k, sorted(v) if isinstance(v, set) else v) for k, v in self.__dict__.items())


def cleanup(xe, state_dir, run_id, force=False, dry_run=False, progress=lambda text: None,
            argv=(), transport=""):
    pool = read_pool(xe)
    original = _open_original(state_dir, run_id)
    if original is not None:
        kind = original.meta["kind"]
        if original.meta["target"].get("pool_uuid") != pool.uuid:
            raise UsageError("run %s was against pool %s, not this one" % (
                run_id, original.meta["target"].get("pool_name")))
        if kind not in ("test", "failover", "failback"):
            raise UsageError("run %s is a %s: there is nothing to clean up" % (run_id, kind))
        if kind != "test" and not force:
            raise UsageError("run %s was a real %s: cleaning it up destroys the recovered VMs"
                             % (run_id, kind), hint="add --force if that is really meant")
    owned = Ownership(xe, run_id, original)
    run = None
    lock = RunLock(state_dir, xe, pool.uuid, note=progress)
    if not dry_run:
        cleanup_id = new_run_id("cleanup")
        lock.acquire(cleanup_id)  # before the run exists: a refused cleanup leaves nothing
        try:
            run = Run.create(state_dir, "cleanup", {"pool_uuid": pool.uuid,
                                                    "pool_name": pool.name_label,
                                                    "master": pool.master,
                                                    "transport": transport},
                             argv=argv, options={"of": run_id, "force": force},
                             run_id=cleanup_id)
            if lock.took_over:
                run.append(NOTE, "stale lock taken over", holder=lock.took_over)
        except BaseException:
            lock.release()  # a cleanup that cannot be recorded leaves no claim on the pool
            raise
    engine = Engine(run, dry_run=dry_run)
    report = {"run": run.id if run else None, "of": run_id, "owned": owned.to_json(),
              "failures": [], "commands": engine.planned}
    try:
        _apply(xe, engine, owned, pool, progress)
    except (KeyboardInterrupt, XeDrError) as failure:
        # Stopped outside a step (xe unreachable while listing, ^C): the run says so and
        # keeps its report, like a failover's; running cleanup again finishes the job. When
        # the state directory itself failed, nothing more can be written.
        if run is not None and not isinstance(failure, StateWriteError):
            stopped = isinstance(failure, KeyboardInterrupt)
            error = None if stopped else failure.one_line()
            report["outcome"] = "interrupted" if stopped else "failed"
            report["error"] = error or "interrupted"
            report["failures"] = [f.message for f in engine.failures]
            try:
                run.append(NOTE, "stopped", error=error or "interrupted")
                _finish(run, report, progress, error=error)
            except StateWriteError:
                pass  # the reason it stopped is still what the operator sees
        raise
    finally:
        lock.release()
    report["failures"] = [f.message for f in engine.failures]
    if dry_run:
        report["outcome"] = "planned"
        return report, ExitCode.OK
    report["outcome"] = "failed" if engine.failures else "succeeded"
    _finish(run, report, progress)
    if original is not None and not engine.failures:
        original.set_status("cleaned up", cleaned_by=run.id)
    return report, ExitCode.FAILED if engine.failures else ExitCode.OK


def _finish(run, report, progress, error=None):
    extra = {"error": error} if error else {}
    run.set_status(report["outcome"], ended=time.time(), **extra)
    run.save("report.json", dict(report, journal=run.entries()))
    from xe_dr.report import write_default
    problem = write_default(run)
    if problem:
        progress(problem)


def _open_original(state_dir, run_id):
    try:
        return Run.open(state_dir, run_id)
    except UsageError:
        return None  # another machine ran it: the tags alone say what it created


def _apply(xe, engine, owned, pool, progress):
    vms = dict((r["uuid"], r) for r in xe.list("vm", params=("uuid", "name-label",
                                                             "power-state", "appliance"))
               if r["uuid"] in owned.vms)
    appliances = set(owned.appliances)
    for record in vms.values():
        if record.get("appliance") and record["appliance"] != "<not in database>":
            appliances.add(record["appliance"])
    progress("cleaning up %d VM(s), %d vApp(s), %d SR(s)" % (len(vms), len(appliances),
                                                            len(owned.srs)))

    def remove_vm(uuid):
        record = vms[uuid]
        if record["power-state"] != "halted":
            engine.do("shutdown:vm:%s" % uuid, "hard shutdown %s" % record["name-label"],
                      lambda: xe.run("vm-shutdown", {"uuid": uuid}, flags=("force",)),
                      commands=[xe.argv("vm-shutdown", {"uuid": uuid}, ("force",))])
        for snapshot in xe.uuids("snapshot", filters={"snapshot-of": uuid}):
            engine.do("destroy:snapshot:%s" % snapshot, "destroy snapshot record %s" % snapshot,
                      lambda s=snapshot: _gone_ok(xe.run, "snapshot-destroy", {"uuid": s}),
                      commands=[xe.argv("snapshot-destroy", {"uuid": snapshot})])
        engine.do("destroy:vm:%s" % uuid, "destroy VM record %s" % record["name-label"],
                  lambda: _gone_ok(xe.run, "vm-destroy", {"uuid": uuid}),
                  commands=[xe.argv("vm-destroy", {"uuid": uuid})])

    engine.do_many(sorted(vms), 4, remove_vm)
    for appliance in sorted(appliances):
        if xe.uuids("vm", filters={"appliance": appliance}):
            continue  # it still holds VMs that are not ours: leave it
        engine.do("destroy:appliance:%s" % appliance, "destroy vApp %s" % appliance,
                  lambda a=appliance: _gone_ok(xe.run, "appliance-destroy", {"uuid": a}),
                  commands=[xe.argv("appliance-destroy", {"uuid": appliance})])
    existing_tasks = set(xe.uuids("drtask"))
    for task in sorted(owned.tasks & existing_tasks):
        engine.do("destroy:drtask:%s" % task, "destroy DR task %s" % task,
                  lambda t=task: _gone_ok(xe.run, "drtask-destroy", {"uuid": t}),
                  commands=[xe.argv("drtask-destroy", {"uuid": task})])
    pbds = xe.list("pbd", params=("uuid", "host-uuid", "sr-uuid", "currently-attached"))
    present_srs = set(xe.uuids("sr"))
    for sr in sorted(owned.srs & present_srs):
        mine = [p for p in pbds if p["sr-uuid"] == sr]
        # The master's PBD last, as xapi does (reference §2.1, §2.2).
        mine.sort(key=lambda p: p["host-uuid"] == pool.master)
        for pbd in mine:
            if pbd["currently-attached"] == "true":
                engine.do("unplug:%s" % pbd["uuid"], "unplug PBD %s" % pbd["uuid"],
                          lambda p=pbd: xe.run("pbd-unplug", {"uuid": p["uuid"]}),
                          commands=[xe.argv("pbd-unplug", {"uuid": pbd["uuid"]})])
        engine.do("forget:sr:%s" % sr, "forget SR %s" % sr,
                  lambda s=sr: _gone_ok(xe.run, "sr-forget", {"uuid": s}),
                  commands=[xe.argv("sr-forget", {"uuid": sr})])
    for pbd in pbds:
        if pbd["uuid"] in owned.plugged_pbds and pbd["currently-attached"] == "true":
            engine.do("unplug:%s" % pbd["uuid"], "unplug PBD %s" % pbd["uuid"],
                      lambda p=pbd: xe.run("pbd-unplug", {"uuid": p["uuid"]}),
                      commands=[xe.argv("pbd-unplug", {"uuid": pbd["uuid"]})])
    existing_secrets = set(xe.uuids("secret")) if owned.secrets else set()
    for secret in sorted(owned.secrets & existing_secrets):
        # Only once the SRs whose PBDs named it are forgotten.
        engine.do("destroy:secret:%s" % secret, "destroy the run's CHAP secret",
                  lambda s=secret: _gone_ok(xe.run, "secret-destroy", {"uuid": s}),
                  commands=[xe.argv("secret-destroy", {"uuid": secret})])
    if owned.networks:
        in_use = {v["network-uuid"] for v in xe.list("vif", params=("network-uuid",))}
        in_use |= {p["network-uuid"] for p in xe.list("pif", params=("network-uuid",))}
        for network in sorted(owned.networks & set(xe.uuids("network")) - in_use):
            engine.do("destroy:network:%s" % network, "destroy network %s" % network,
                      lambda n=network: _gone_ok(xe.run, "network-destroy", {"uuid": n}),
                      commands=[xe.argv("network-destroy", {"uuid": network})])
    if owned.ha and owned.ha.get("heartbeat_srs"):
        params = {"heartbeat-sr-uuids": owned.ha["heartbeat_srs"]}

        def enable_ha():
            xe.run("pool-ha-enable", params)
            if owned.ha.get("tolerate") is not None:
                xe.param_set("pool", pool.uuid,
                             {"ha-host-failures-to-tolerate": owned.ha["tolerate"]})
        engine.do("ha:enable", "enable HA again", enable_ha,
                  commands=[xe.argv("pool-ha-enable", params)])


def _gone_ok(run, command, params):
    """Destroying what is already gone (a resumed cleanup) is success."""
    try:
        run(command, params)
    except XeDrError as failure:
        if getattr(failure, "code", None) not in ("UUID_INVALID", "HANDLE_INVALID"):
            raise
    return params["uuid"]
