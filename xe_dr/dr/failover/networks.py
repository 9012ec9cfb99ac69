"""The failover's networks: those the recovery needs made first (tagged and journaled), the
VIFs moved to the networks --map-network names, networks xapi made during the import tagged,
and what became of each for the report. The planning itself is xe_dr/dr/networks.py."""

from xe_dr.dr import networks as networks_
from xe_dr.dr import prechecks as checks_
from xe_dr.dr.engine import StepFailed
from xe_dr.dr.failover.context import Phase
from xe_dr.dr.failover.options import NEW_NETWORK
from xe_dr.dr.inventory import read_foreign_networks
from xe_dr.dr.steps import Call, Step, step_id
from xe_dr.errors import UsageError, XeDrError
from xe_dr.marks import DISPOSABLE_KINDS, RUN_TAG, step_parts
from xe_dr.pool import read_networks


class NetworkPhase(Phase):
    def checks(self, items, by_vdi, target):
        """Plan what each network the objects use needs (xe_dr/dr/networks.py) against the
        networks here before this run made any, and check it."""
        foreign = {}
        for vdi, source in by_vdi.items():
            if vdi is not None and any(
                    v.networks is None for v in source.vms) and any(
                    i.vdi == vdi and not i.excluded for i in items):
                foreign[vdi] = read_foreign_networks(self.xe, vdi)
        found, unknown = networks_.needs(items, by_vdi, foreign)
        mine = self.created(target.networks)
        local = [n for n in target.networks if n["uuid"] not in mine]
        self.ctx.network_plan = networks_.plan(found, local, self.opts.network_map)
        return checks_.check_networks(self.ctx.network_plan, unknown)

    def created(self, networks=None):
        """{uuid: {"uuid", "name_label", "transient", "target"}}: the networks this run made
        (its journal's ``network:create:`` steps; one begun but not ended is found among
        ``networks`` by name, outside what the pool had when the step began)."""
        created = {}
        for step, event, data in self.engine.steps("network:create:"):
            if event == "done" and isinstance(data.get("result"), dict):
                created[data["result"]["uuid"]] = data["result"]
            elif event == "begin" and networks is not None:
                name = step_parts(step, 3)[2]
                before = set(data.get("before") or ())
                for net in networks:
                    if net["name_label"] == name and net["uuid"] not in before:
                        created[net["uuid"]] = {"uuid": net["uuid"], "name_label": name,
                                                "transient": data.get("transient", False),
                                                "target": data.get("target")}
        return created

    def _params(self, entry):
        # The run's marks go in other-config (a second call): the description says the same
        # whichever run made it.
        params = {"name-label": entry["name_label"],
                  "name-description": "made by xe-dr: no network here had the name of a "
                                      "network of the source pool"}
        if entry.get("mtu") and int(entry["mtu"]) != 1500:
            params["MTU"] = str(entry["mtu"])
        return params

    def create_step(self, entry):
        """The step making ``entry``'s network (its action and reconcile when it runs)."""
        verb = "for the recovery (its VIFs then go to %s)" % entry["target"] \
            if entry["action"] == networks_.TRANSIENT else "for the VMs on it"
        step = step_id("network", "create", entry["name_label"])
        transient = entry["action"] == networks_.TRANSIENT

        def create():
            uuid = self.xe.value("network-create", self._params(entry))
            self.ctx.tag("network", uuid)
            return {"uuid": uuid, "name_label": entry["name_label"],
                    "transient": transient, "target": entry["target"]}

        def reconcile():
            networks = read_networks(self.xe)
            begun = self.engine.begun(step) or {}
            before = set(begun.get("before") or ())
            for net in networks:
                if net["name_label"] == entry["name_label"] and net["uuid"] not in before:
                    if RUN_TAG not in net["other_config"]:
                        self.ctx.tag("network", net["uuid"])
                    return {"uuid": net["uuid"], "name_label": entry["name_label"],
                            "transient": begun.get("transient", False),
                            "target": begun.get("target")}
            return None

        return Step(step, "create network %s %s" % (entry["name_label"], verb),
                    [Call("network-create", self._params(entry)),
                     self.ctx.tag_call("network", NEW_NETWORK)],
                    action=create, reconcile=reconcile,
                    begin_data={"before": sorted(self.ctx.networks_before),
                                "transient": transient, "target": entry["target"]})

    def prepare(self, items):
        """Make, before any recovery, every network the plan creates that an object still to
        recover needs. One that cannot be made leaves out the objects that need it, each
        with its reason and the fix; with plain xe (which cannot tell whose it is) the run
        stops before recovering."""
        pending = {i.uuid for i in items if not i.excluded and
                   self.engine.state_of(i.step) != "done"}
        for entry in networks_.to_create(self.ctx.network_plan):
            if not pending & set(entry["objects"]):
                continue
            try:
                self.engine.do(self.create_step(entry))
            except StepFailed as failure:
                fix = "create it here ('xe network-create name-label=%s') or map it " \
                      "(--map-network '%s=NETWORK'), then resume with '%s'" \
                      % (entry["name_label"], entry["name_label"], self.ctx.resume_command())
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

    def drop_unused(self, items, recovered):
        """Once every object is recovered, remove the networks this run made that no VIF
        uses (a mapped name's, emptied by the moves; with plain xe one no recovered VM
        needed). While a recovery is still to be resumed they stay."""
        if [i for i in items if not i.excluded and i.uuid not in recovered]:
            return
        networks = read_networks(self.xe)
        created = self.created(networks)
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

    def report_outcome(self):
        """What became of each network of the plan, for the report; and what to tell."""
        created = self.created()
        dropped = {step_parts(step, 3)[2] for step, event, _ in self.engine.steps(
            "network:drop:") if event == "done"}
        by_name = dict((c["name_label"], c) for c in created.values())
        for entry in self.ctx.network_plan:
            made = by_name.get(entry["name_label"])
            entry["created"] = made["uuid"] if made else None
            entry["removed"] = bool(made) and made["uuid"] in dropped
        kept = [e for e in self.ctx.network_plan if e.get("created") and not e["removed"]]
        if kept and self.opts.mode not in DISPOSABLE_KINDS:
            self.report["warnings"].insert(0,
                "network(s) %s were created here by this %s and are kept: the recovered VMs "
                "use them. They are internal (no PIF): connect each to the right physical "
                "network or VLAN, or move the VIFs, before the VMs need it" % (
                    ", ".join("%s (%s)" % (e["name_label"], e["created"]) for e in kept),
                    "planned migration" if self.opts.mode == "planned" else self.opts.mode))
        elif kept:
            self.report["todo"].append("network(s) %s were created for this test; 'xe-dr "
                                       "cleanup %s' removes them" % (", ".join(
                                           e["name_label"] for e in kept), self.run.id))
        for entry in self.ctx.network_plan:
            if entry["action"] == networks_.BRIDGE:
                self.report["warnings"].insert(0,
                    "network %s matched network %s here by its bridge (%s) alone: its VIFs "
                    "are on %s" % (entry["name_label"], entry["local_name"], entry["bridge"],
                                   entry["local_name"]))

    def tag_imported(self):
        """Tag the networks xapi made during the imports themselves (§2.6), so that cleanup
        finds them: once, after the recoveries (nothing needs them tagged sooner)."""
        networks = read_networks(self.xe)
        created = self.created(networks)
        for net in networks:
            if net["uuid"] not in self.ctx.networks_before and net["uuid"] not in created and \
                    RUN_TAG not in net["other_config"]:
                self.engine.do(self.ctx.tag_step("network", net["uuid"], net["name_label"]))

    def map_vifs(self, recovered):
        """Move the recovered VMs' VIFs to the networks --map-network names (before they
        start: a wave's VMs are moved as soon as the wave is recovered)."""
        if not self.opts.network_map:
            return
        networks = read_networks(self.xe)
        created = self.created(networks)
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
        vm = self.ctx.vm_sources.get(vif["vm-uuid"])
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
