"""Failback's first phase: stop the selected VMs where they run now (the DR site) and give
their LUNs back. A mixin of :class:`xe_dr.dr.failover.Failover` (it uses the run's engine,
options, source_xe and progress)."""

from xe_dr.dr.inventory import RUN_TAG
from xe_dr.errors import XeDrError
from xe_dr.xe.records import parse_map

LUN_SR_TYPES = ("lvmoiscsi", "lvhdoiscsi", "lvmohba", "lvhdohba")  # what the array mirrors


class SourcePhase(object):
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
