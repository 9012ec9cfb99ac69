"""The phases a drill adds to a test failover (xe-dr drill): the array's copies of the
replicas, taken through the storage adapter before the storage phase attaches them instead
of the replicas (so the mirror keeps replicating); isolation of the recovered VMs before
they start; the in-guest health check prepared; each VM verified after its start; the
verdict written to the pool. What it makes is tagged and journaled as a test's is, with the
run kind ``drill``; ``xe-dr cleanup RUN`` undoes it and releases the copies.

Isolation (the rule the man page states): no drill VM starts while one of its VIFs is on a
network with a PIF, unless the administrator declared that network isolated (the tag
``xe-dr-isolated``). The recovery has put the VIFs on the DR site's networks by name before
xe-dr can act, so the VIFs on such networks are destroyed while the VM is halted, as Xen
Orchestra's health check does. On a network without a PIF xapi lets every VM on it run on
one host only (xapi_vm_helpers.ml, assert_can_boot_here: a VM's networks must be reachable
from the host), so the VMs that share PIF-less networks start on one host, chosen with room
for them all, and a group that fits nowhere stops the drill before its first start.
"""

import time

from xe_dr.dr.failover.context import Phase
from xe_dr.dr.steps import Call, Step, step_id
from xe_dr.errors import AdapterError, UsageError, XeDrError
from xe_dr.exitcodes import ExitCode
from xe_dr.marks import DRILL_DEADLINE_KEY, LAST_DRILL_KEY, last_drill_text, utc_text
from xe_dr.xe.records import parse_set

ISOLATED_TAG = "xe-dr-isolated"
COPY_STEP = step_id("copy", "luns")


class DrillPhase(Phase):
    """A drill's phases; each a method the failover calls at its place."""

    adapter = property(lambda self: self.ctx.adapter)
    capabilities = property(lambda self: self.ctx.capabilities)

    # -- the watchdog ----------------------------------------------------------------------

    def start_watchdog(self):
        """From now (the drill's start, or its resume) the drill has ``--deadline`` seconds:
        no step begins after it (the engine raises DeadlinePassed, the run ends the drill
        not verified), and verification waits no longer."""
        self.engine.deadline = time.time() + self.opts.drill_deadline()
        self.report["deadline"] = utc_text(self.engine.deadline)

    def write_deadline(self):
        """The deadline on each SR the drill attached (other-config:xe-dr-drill-deadline), so
        that status calls the drill overdue after it even if this machine died. A resume
        writes its own deadline (the step's id holds it)."""
        when = self.report["deadline"]
        srs = sorted({sr for entry in self.report["storage"]
                      for sr in entry.get("introduced", []) + entry.get("plugged", [])})
        for sr in srs:
            self.engine.do(Step(step_id("deadline", sr, when),
                                "write the drill's deadline (%s) on SR %s" % (when, sr),
                                [Call("sr-param-set", {"uuid": sr, "other-config:%s" %
                                                       DRILL_DEADLINE_KEY: when})]))

    def deadline_passed(self, fired, tag_networks, publisher):
        """The watchdog fired before the verdict: no step begins any more; every VM the drill
        recovered is not verified, the verdict goes on the pool, and the drill ends partly
        failed (exit 2; its cleanup follows unless it is kept). ``tag_networks()``: the
        run's tagging of the networks its imports made."""
        from xe_dr.dr.plan import Item
        self.engine.deadline = None
        saved = self.run.load("plan.json")
        items = [Item.from_json(i) for i in saved["items"]] if saved else []
        if saved:  # it may have recovered: the networks its imports made are tagged
            # (told from the networks there were before, as the run planned them; with no
            # plan, nothing was recovered and every network here was there before it)
            self.ctx.networks_before = set(saved.get("networks_before", ()))
            tag_networks()
        recovered = dict((i.uuid, self.engine.result_of(i.step)) for i in items
                         if self.engine.state_of(i.step) == "done")
        self.progress.note("the drill's watchdog: %s" % fired.one_line())
        self.mark(self.expired(items, recovered, fired))
        self.report["failures"] = [f.message for f in self.engine.failures] + [fired.message]
        self.report["todo"].append("give the drill more time (--deadline), or find what held "
                                   "it up in its journal")
        publisher.finished(self.run, self.report, "partly failed",
                           exit_code=int(ExitCode.PARTIAL), verdict=self.report["verdict"])
        return ExitCode.PARTIAL

    def expired(self, items, recovered, fired):
        """The verdicts when the watchdog fired before verification: none verified."""
        reason = "not verified: the drill's deadline (%s) passed before step %s" % (
            self.report["deadline"], fired.step)
        verdicts = [{"uuid": uuid, "name_label": vm["name_label"], "verified": False,
                     "reason": reason, "started": None, "guest_metrics": False,
                     "health_check": None, "verified_at": None}
                    for uuid, vm in sorted(self._recovered_vms(items, recovered).items(),
                                           key=lambda pair: pair[1]["name_label"])]
        self.engine.note("verify", vms=verdicts, deadline_passed=fired.step)
        self.report["vms"] = verdicts
        return verdicts

    # -- copies ----------------------------------------------------------------------------

    def take_copies(self):
        """Have the array copy the replica LUNs (one consistency point), journaled: the
        intent (run id, LUNs) before the call, so that a resume or a cleanup finds the copies
        through the adapter's ``list`` even when the answer was lost. The storage phase then
        attaches the copies."""
        from xe_dr.dr.adapter import InconsistentCopies, refuse_inconsistent
        replicas = [s["device_config"].get("SCSIid") for s in self.opts.storage]
        if not replicas:
            raise UsageError("a drill copies the replica LUNs: give the storage options "
                             "(--target/--iqn/--scsiid or --hba-scsiid; 'xe-dr probe' finds "
                             "them)")
        step = COPY_STEP
        if self.engine.state_of(step) != "done":
            refuse_inconsistent(self.capabilities, replicas)
        self.report["mirror_before"] = self.mirror_state(replicas)
        run_id = self.run.id

        def action():
            try:
                return self.adapter.copy(run_id, replicas)["copies"]
            except InconsistentCopies:
                # Not presented, hiding the replicas, a moment longer than needed.
                self.adapter.release(run_id)
                raise

        def reconcile():
            # ``list`` does not say whether copies of several LUNs are consistent: those are
            # asked for again (``copy`` is idempotent per run and answers it).
            if len(replicas) > 1:
                return None
            found = self.adapter.list(run_id)["copies"]
            return found if {c["replica"] for c in found} >= set(replicas) else None

        copies = self.engine.do(Step(
            step, "copy LUN(s) %s on the array (%s)" % (", ".join(replicas), self.opts.adapter),
            [], action=action, reconcile=reconcile,
            begin_data={"adapter": self.opts.adapter, "luns": replicas,
                        "commands": [self.adapter.argv("copy", run_id, replicas)]}))
        self.report["copies"] = copies
        rescan(self.xe, self.capabilities, copies)
        self.ctx.copy_storage = [_copy_spec(spec, copies) for spec in self.opts.storage]

    def mirror_state(self, replicas=None):
        """The mirror's state as the adapter tells it (the evidence that a drill leaves
        replication alone), or None when it has no ``mirror-state``."""
        if replicas is None:
            replicas = [s["device_config"].get("SCSIid") for s in self.opts.storage]
        if not self.capabilities.supports("mirror-state"):
            return None
        return self.adapter.mirror_state(replicas)["luns"]

    # -- isolation -------------------------------------------------------------------------

    def isolate(self, items, recovered):
        """Destroy the VIFs of the recovered VMs on networks with a PIF that are not tagged
        isolated; return {VM uuid: host uuid} for the VMs on PIF-less networks (each group
        sharing such networks on one host with room for it)."""
        vms = dict((uuid, vm["name_label"])
                   for uuid, vm in self._recovered_vms(items, recovered).items())
        if not vms:
            return {}
        networks = dict((n["uuid"], n) for n in self.xe.list(
            "network", params=("uuid", "name-label", "PIF-uuids", "tags")))
        vifs = self.xe.list("vif", params=("uuid", "vm-uuid", "network-uuid", "device"))
        pif_less, removed = {}, []
        for vif in vifs:
            if vif["vm-uuid"] not in vms:
                continue
            network = networks.get(vif["network-uuid"], {})
            has_pif = bool([p for p in parse_set(network.get("PIF-uuids", "")) if p])
            if not has_pif:
                pif_less.setdefault(vif["vm-uuid"], set()).add(vif["network-uuid"])
            elif ISOLATED_TAG not in parse_set(network.get("tags", "")):
                removed.append((vif, network))
        self.progress.phase("isolate", len(removed), "isolate:")
        for vif, network in removed:
            self.engine.do(Step(
                step_id("isolate", "vif", vif["uuid"]),
                "remove VIF %s of VM %s from network %s (it has a PIF and is not tagged %s)"
                % (vif["device"], vms[vif["vm-uuid"]], network.get("name-label"),
                   ISOLATED_TAG),
                [Call("vif-destroy", {"uuid": vif["uuid"]})],
                reconcile=lambda uuid=vif["uuid"]: None if uuid in self.xe.uuids(
                    "vif") else uuid))
        self.report["isolated"] = True
        placement = self._place(pif_less, vms)
        for vm, host in sorted(placement.items(), key=lambda pair: vms[pair[0]]):
            # The host of a standalone VM is given to its vm-start (on=) too; a vApp's start
            # takes no host, and xapi's choice for each member tries its affinity host first
            # (xapi_vm_placement.ml affinity_host_ids_of_guest).
            self.engine.do(Step(
                step_id("place", "vm", vm), "have VM %s start on host %s (its networks "
                "without a PIF run on one host)" % (vms[vm], host),
                [Call("vm-param-set", {"uuid": vm, "affinity": host})],
                action=lambda vm=vm, host=host: self._set_affinity(vm, host)))
        return placement

    def _set_affinity(self, vm, host):
        self.xe.param_set("vm", vm, {"affinity": host})
        return host

    def _recovered_vms(self, items, recovered):
        """{VM uuid: {"uuid", "name_label", "tags", "item"}} of every VM the run recovered,
        vApp members too (``item``: the uuid of the VM, or of the vApp it started with);
        one listing."""
        owners = dict((item.uuid, item) for item in items
                      if not item.excluded and item.uuid in recovered)
        if not owners:
            return {}
        found = {}
        for r in self.xe.list("vm", params=("uuid", "name-label", "tags", "appliance")):
            owner = owners.get(r["uuid"]) or owners.get(r.get("appliance"))
            if owner is not None and (owner.kind == "vm") == (owner.uuid == r["uuid"]):
                found[r["uuid"]] = {"uuid": r["uuid"], "name_label": r["name-label"],
                                    "tags": parse_set(r.get("tags", "")), "item": owner.uuid}
        return found

    def _place(self, pif_less, vms):
        """Group the VMs that share PIF-less networks and put each group on the host with the
        most memory free that holds it; a group no host holds stops the drill here."""
        groups = []
        for vm, nets in pif_less.items():
            joined = [g for g in groups if g[1] & nets]
            group = ({vm}, set(nets))
            for other in joined:
                groups.remove(other)
                group[0].update(other[0])
                group[1].update(other[1])
            groups.append(group)
        if not groups:
            return {}
        # A resume keeps the hosts it chose (its VMs may run there now, using the memory).
        placement = dict((step.split(":", 2)[2], data.get("result"))
                         for step, event, data in self.engine.steps("place:vm:")
                         if event == "done")
        groups = [g for g in groups if not g[0] <= set(placement)]
        free = {}
        for host in self.xe.uuids("host", filters={"enabled": "true"}):
            free[host] = int(self.xe.run("host-compute-free-memory", {"uuid": host}).strip())
        for members, _ in sorted(groups, key=lambda g: sorted(g[0])):
            need = sum(int(self.xe.param_get("vm", vm, "memory-static-max")) for vm in members)
            fits = [h for h in free if free[h] >= need]
            if not fits:
                raise XeDrError(
                    "the drill VMs %s share networks without a PIF, so xapi starts them on "
                    "one host, and no host has the %.1f GiB they need free" % (
                        ", ".join(sorted(vms[m] for m in members)), need / 2.0 ** 30),
                    hint="free memory on a DR host, or drill fewer VMs")
            host = max(fits, key=lambda h: free[h])
            free[host] -= need
            for member in members:
                placement[member] = host
        return placement

    # -- verification ----------------------------------------------------------------------

    def prepare(self, items, recovered):
        """Before the starts: the in-guest health check of each VM that opted in (XO's tag)
        is armed: ``planned``, its old error removed, and a token of this run's
        (xe_dr/dr/verify.py), so that an answer inherited from production cannot pass for
        this boot's. The tokens are the steps' results, journaled: a resume verifies with
        them."""
        from xe_dr.dr.verify import health_check_mode, prepare_health_check
        tokens = {}
        for uuid, vm in sorted(self._recovered_vms(items, recovered).items()):
            if health_check_mode(vm["tags"]) != "xenstore":
                continue
            tokens[uuid] = self.engine.do(Step(
                step_id("health-check", "arm", uuid),
                "arm the in-guest health check of VM %s" % vm["name_label"], [],
                action=lambda uuid=uuid: prepare_health_check(self.xe, uuid)))
        self.ctx.health_tokens = tokens

    def verify(self, items, recovered, started):
        """Wait for each started VM's verdict (xe_dr/dr/verify.py) until --verify-timeout or
        the drill's deadline, the sooner; returns the verdicts, also in the report
        (``vms``)."""
        from xe_dr.dr.verify import verify_vms
        found = self._recovered_vms(items, recovered)
        started_at = dict((uuid, started[vm["item"]]) for uuid, vm in found.items()
                          if started.get(vm["item"]) is not None)
        vms = [dict((k, vm[k]) for k in ("uuid", "name_label", "tags"))
               for vm in sorted(found.values(), key=lambda vm: vm["name_label"])]
        self.progress.phase("verify", len(vms), "verify:")
        watchdog = self.engine.deadline
        deadline = time.time() + self.opts.verify_timeout
        expired = "timed out"
        if watchdog is not None and watchdog < deadline:
            deadline = watchdog
            expired = "the drill's deadline (%s) passed" % self.report.get("deadline")
        tokens = self.ctx.health_tokens
        if tokens is None:  # a resume after the starts: the tokens the run journaled
            tokens = dict((step.split(":", 2)[2], data.get("result"))
                          for step, event, data in self.engine.steps("health-check:arm:")
                          if event == "done")
        verdicts = verify_vms(self.xe, [v for v in vms if v["uuid"] in started_at],
                              started_at, deadline, prepared=tokens, expired=expired)
        self.engine.deadline = None  # the verdict is reached: the watchdog's work is done
        for vm in vms:
            if vm["uuid"] not in started_at:
                verdicts.append({"uuid": vm["uuid"], "name_label": vm["name_label"],
                                 "verified": False, "reason": "not started",
                                 "started": False, "guest_metrics": False,
                                 "health_check": None, "verified_at": None})
        self.engine.note("verify", vms=verdicts)
        self.report["vms"] = verdicts
        return verdicts

    def mark(self, verdicts):
        """The drill's verdict on the pool (other-config:xe-dr-last-drill), so that status
        here, or with --peer from the other site, holds the site to regular drills;
        ``verdicts`` None: the drill failed before it had any VM to verify."""
        if verdicts is None:
            verdict = "failed"
        else:
            verdict = "verified" if verdicts and all(v["verified"] for v in verdicts) else \
                "not-verified"
        text = last_drill_text(time.time(), verdict, self.run.id)
        self.engine.do(Step(step_id("mark", "last-drill"), "record the drill's verdict on "
                            "the pool", [Call("pool-param-set", {
                                "uuid": self.pool.uuid,
                                "other-config:%s" % LAST_DRILL_KEY: text})]))
        self.report["verdict"] = verdict
        try:
            self.report["mirror_after"] = self.mirror_state()
        except AdapterError as failure:
            # Evidence only: the drill still ends, and is undone, as its verdict says.
            self.report["mirror_after"] = None
            warning = "the mirror's state after the drill is unknown: %s" % failure.one_line()
            self.report["warnings"].append(warning)
            self.progress.note(warning)
        return verdict


def journaled_copy_storage(engine, storage):
    """What a resumed drill attaches and checks: the storage of the copies its journal holds
    (the copy step done); [] while the copy step's outcome is unknown (begun: the copies may
    be presented already, hiding the replicas, and only the adapter's ``list`` will tell);
    None before the copy step (the replicas are what there is to check)."""
    state = engine.state_of(COPY_STEP)
    if state is None:
        return None
    copies = engine.result_of(COPY_STEP)
    return [_copy_spec(spec, copies) for spec in storage] if copies else []


def rescan(xe, capabilities, copies):
    """New FC LUNs are seen by a host once its HBAs are rescanned: when the adapter leaves
    that to xe-dr, an ``sr-probe type=lvmohba`` on each host (xe_dr/dr/adapter.py
    rescan_calls), whose SR_BACKEND_FAILURE_107 answer (the device list) is its success.
    Not journaled: it changes nothing but what the hosts see, and a resume does it again."""
    from xe_dr.dr.adapter import rescan_calls
    from xe_dr.xe.errors import XapiError
    for call in rescan_calls(capabilities, copies, xe.uuids("host")):
        try:
            xe.run(call.command, call.params)
        except XapiError as answer:
            if getattr(answer, "sm_error_number", None) != 107:
                raise


def _copy_spec(spec, copies):
    """The storage spec of ``spec``'s replica turned into its copy's (as the adapter says the
    DR site reaches it)."""
    replica = spec["device_config"].get("SCSIid")
    found = [c for c in copies if c["replica"] == replica]
    if not found:
        raise XeDrError("the storage adapter made no copy of LUN %s" % replica)
    copy = found[0]
    config = dict(spec["device_config"], SCSIid=copy["scsiid"])
    # ``replica``: the CHAP password given for the replica's LUN is the copy's too.
    if copy.get("transport") == "iscsi":
        config.update(target=copy["target"], targetIQN=copy["iqn"])
        if copy.get("port"):
            config["port"] = str(copy["port"])
        return dict(spec, type="lvmoiscsi", device_config=config, replica=replica)
    return dict(spec, type="lvmohba", device_config={"SCSIid": copy["scsiid"]},
                replica=replica)
