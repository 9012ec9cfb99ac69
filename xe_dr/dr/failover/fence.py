"""The fence of a run that shuts its source down (a planned migration, a failback): what the
source's metadata copies held once its VMs were halted, and the check, before any recovery
here, that the copies here hold it too (xe_dr/dr/failover/source.py shuts the source down;
man xe-dr, failover --planned).

A foreign copy's generation is read on disk, which an LVM SR allows only while the VDI is
attached (xapi's VDI.open_database detaches it again): the VMs' power states, read from the
database itself, are the check that always runs; the generations are compared where they can
be read, and the report says which.
"""

from xe_dr.dr.failover.context import Phase
from xe_dr.dr.plugin import call_json, malformed
from xe_dr.dr.steps import SOURCE, Call, Step, step_id
from xe_dr.errors import TemporaryError, XeDrError
from xe_dr.marks import PLANNED


class FencePhase(Phase):
    def generations(self, plan):
        """{metadata VDI uuid: its generation on disk} of the source pool's own copies on the
        SRs given back, as the source's plugin reads them (metadata_state)."""
        state = call_json(self.source_xe, plan.master, "metadata_state", required=("vdis",))
        try:
            return dict((d["vdi"], d["generation"]) for d in state["vdis"]
                        if d["pool"]["local"] and d["sr"]["uuid"] in plan.srs)
        except (KeyError, TypeError, AttributeError) as failure:
            raise malformed("metadata_state", failure)

    def record(self, plan, when):
        """Journal the generations of the source's copies (``when``: after the shutdown, or
        after the unplug): the copies at this site must hold at least those written after
        the shutdown, or they lack the final writes (the VMs halted). A failback without the
        plugin at its source records none, and says so."""
        def read():
            # The VMs the source holds halted now: the copies here must say so too.
            halted = sorted(plan.selected)
            try:
                return {"copies": self.generations(plan), "halted": halted}
            except XeDrError as failure:
                if self.opts.mode == PLANNED:
                    raise
                return {"copies": {}, "unread": failure.one_line(), "halted": halted}
        return self.engine.do(Step(
            step_id("source-generations", when), "read the metadata generations at the "
            "source (%s)" % when.replace("-", " "),
            [Call("host-call-plugin", {"host-uuid": plan.master, "plugin": "xe-dr",
                                       "fn": "metadata_state"}, at=SOURCE)],
            action=read))

    def check_copies(self, sources):
        """Refuse to recover from copies here that lack the source's final writes: a VM the
        source shut down that a copy still holds running, or a copy whose generation is
        lower than the one its source copy held after the shutdown. (A foreign copy's
        generation is read on disk, which an LVM SR allows only while the VDI is attached: the
        power states, read from the database itself, are the check that always runs.)"""
        recorded = self.engine.result_of(step_id("source-generations", "after-shutdown"))
        if not recorded:
            return None  # a dry run, or a run from before the fence
        stale = []
        halted = set(recorded.get("halted") or ())
        for source in sources:
            for vm in source.vms:
                if vm.uuid in halted and vm.power_state in ("running", "paused"):
                    stale.append("VM %s is %s in the metadata copy %s here, halted at the "
                                 "source" % (vm.name_label, vm.power_state,
                                             source.copy.vdi_uuid))
        copies = [s.copy for s in sources]
        if recorded.get("copies") and [c for c in copies if c.generation is None]:
            from xe_dr.dr.listing import fill_generations
            try:
                fill_generations(self.xe, self.pool.master, copies)
            except XeDrError as failure:
                self.report["warnings"].append("the generations of the copies here could "
                                               "not be read: %s" % failure.one_line())
        here = dict((c.vdi_uuid, c.generation) for c in copies)
        after_unplug = (self.engine.result_of(step_id("source-generations", "after-unplug"))
                        or {}).get("copies") or {}
        compared = []
        for vdi, wrote in sorted((recorded.get("copies") or {}).items()):
            if vdi not in here:
                continue  # a copy on an SR not read here
            compared.append({"vdi": vdi, "source_after_shutdown": wrote,
                             "source_after_unplug": after_unplug.get(vdi), "here": here[vdi]})
            if wrote is not None and here[vdi] is not None and here[vdi] < wrote:
                stale.append("the metadata copy %s here is at generation %d, the source's "
                             "was at %d after the shutdown" % (vdi, here[vdi], wrote))
        self.report["generations"] = {"copies": compared, "unread": recorded.get("unread"),
                                      "stale": stale}
        if stale:
            raise TemporaryError(
                "%s: the copies here have not received the source's final writes, and a "
                "recovery from them could lose data" % stale[0],
                hint="let the array deliver the mirror's last writes (resync, then halt or "
                     "reverse it), then: %s" % self.ctx.resume_command())
        if self.opts.mode == PLANNED:
            self.report["data_lost"] = "none: the copies here hold the source's writes after " \
                "its shutdown"
        return halted

    def only_shut_down(self, items, halted):
        """A planned migration brings what the source shut down: the items of the metadata
        that hold no VM it halted (not protected there: they run on at the source) are left
        out, and said so (not a failure)."""
        kept, left = [], []
        for item in items:
            vms = [m["uuid"] for m in item.members or ()] if item.kind == "appliance" \
                else [item.uuid]
            (kept if set(vms) & halted else left).append(item)
        if left:
            self.report["warnings"].append(
                "left at the source (not protected there: not migrated): %s" %
                ", ".join(i.name_label for i in left))
        return kept
