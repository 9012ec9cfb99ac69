"""The array's mirror in a planned migration, and the end of a run whose VMs stay: its DR tasks
destroyed, then reprotect, through the storage adapter's optional verbs (xe_dr/dr/adapter.py:
``mirror-state``, ``halt``, ``reverse``).

- A planned migration, once the source is fenced (its VMs halted, its SRs unplugged), has the
  adapter ``halt`` the mirror of the LUNs given, so that the replicas here become writable.
  Halt, never reverse, at this point: a reverse resynchronises the other way at once, and a
  replica that has not received the source's final writes (the fence's check comes after the
  attach, the only way to read the metadata here) would then overwrite the source's newer
  data. Without an adapter that halts, the attach meets a read-only LUN and the run stops for
  the array (exit 75), as a failback does.
- Reprotect (``--reprotect``), once the VMs are back: the adapter ``reverse``-s the mirror
  (this site becomes the source and the array copies it back), or the run says what the array
  must do; then this pool's metadata replication is enabled on the SRs the run attached, and
  its state read back as ``status`` reads it.
"""

from xe_dr.dr import guard
from xe_dr.dr.failover.context import Phase
from xe_dr.dr.failover.options import ArrayStop
from xe_dr.dr.steps import Call, Step, step_id
from xe_dr.errors import XeDrError
from xe_dr.marks import PLANNED


class MirrorPhase(Phase):
    def luns(self):
        """The SCSI ids of the LUNs the run attaches (the replicas here)."""
        return [s["device_config"]["SCSIid"] for s in self.opts.storage
                if s.get("device_config", {}).get("SCSIid")]

    def _supports(self, verb):
        return bool(self.opts.adapter) and self.ctx.capabilities.supports(verb)


    def make_writable(self):
        """Once the source is fenced (a planned migration, a failback): the adapter halts the
        mirror of the LUNs given (module doc); without the verb, nothing here (the attach
        stops the run for the array)."""
        luns = self.luns()
        if not luns or not self._supports("halt"):
            return None
        def reconcile():  # (the adapter may answer mirror-state; else the halt runs again)
            if not self._supports("mirror-state"):
                return None
            states = _lun_states(self.ctx.adapter.mirror_state(luns))
            return {"luns": states} if all(
                s in ("broken", "reversed") for s in states.values()) else None
        return self.engine.do(Step(
            step_id("array", "halt"), "have the array halt the mirror of LUN(s) %s (this "
            "site's replicas become writable)" % ", ".join(luns), [],
            action=lambda: {"luns": _lun_states(self.ctx.adapter.halt(luns))},
            reconcile=reconcile,
            begin_data={"commands": [self.ctx.adapter.argv("halt", None, luns)]}))

    def array_stop(self, failure):
        """A storage step of a run that shut the source down (failback, planned migration)
        met a LUN that is still a read-only mirror target: a stop for the array's hand."""
        stop = ArrayStop("%s; have the array make this site's LUNs writable (halt or reverse "
                         "the mirror), then: %s" % (
                             ("the VMs at the source are shut down and its SRs unplugged"
                              if self.opts.mode == PLANNED else
                              "the VMs at the DR site are shut down")
                             if self.ctx.source_state == guard.CHECKED else
                             "the LUNs here are still read-only mirror targets",
                             self.ctx.resume_command()))
        stop.cause = failure.one_line()
        return stop

    def finish(self):
        """The end of a run whose VMs stay (not a test's or a drill's): its DR tasks destroyed
        (the SRs they introduced stay), then reprotect, or the to-do that says how."""
        tasks = [e["task"] for e in self.report["storage"] if e.get("task")]
        self.progress.phase("finish", len(tasks), "drtask-destroy:")
        for task in tasks:
            self.engine.do(Step(
                step_id("drtask-destroy", task), "destroy DR task %s" % task,
                [Call("drtask-destroy", {"uuid": task})],
                reconcile=lambda task=task: None if task in self.xe.uuids(
                    "drtask") else task))
        if self.opts.reprotect:
            self.reprotect()
        else:
            self.report["todo"].append(
                "protect this pool so that failback is possible: 'xe-dr replication enable "
                "SR...' on SRs the array mirrors back to the other site (or --reprotect)")

    def reprotect(self):
        """Protect this pool now that it runs the VMs: the mirror reversed (by the adapter, or
        said to the administrator), then metadata replication on the SRs the run attached.
        Returns the report's ``reprotect``."""
        luns = self.luns()
        result = {"luns": luns, "mirror": None, "srs": []}
        if luns and self._supports("reverse"):
            done = self.engine.do(Step(
                step_id("reprotect", "reverse"), "have the array reverse the mirror of LUN(s) "
                "%s (this site becomes its source)" % ", ".join(luns), [],
                action=lambda: {"luns": _lun_states(self.ctx.adapter.reverse(luns))},
                begin_data={"commands": [self.ctx.adapter.argv("reverse", None, luns)]}))
            result["mirror"] = done["luns"]
            broken = sorted(lun for lun, state in done["luns"].items() if state == "broken")
            if broken:  # the array answered, but mirrors nothing back
                self.report["warnings"].append(
                    "reprotect: the array left LUN(s) %s unmirrored (state broken) after "
                    "the reverse: nothing replicated here reaches the other site" %
                    ", ".join(broken))
                self.report["todo"].append("have the array mirror LUN(s) %s back to the "
                                           "other site" % ", ".join(broken))
        elif luns:
            self.report["todo"].append(
                "have the array mirror LUN(s) %s back to the other site (reverse the "
                "mirror): until then the metadata replicated here reaches no other site"
                % ", ".join(luns))
        srs = self._named_srs() if self.opts.protect else self._run_srs()
        if srs:
            self.engine.do(Step(
                step_id("reprotect", "enable"), "enable this pool's metadata replication on "
                "SR(s) %s" % ", ".join(sr["name-label"] for sr in srs), [],
                action=lambda: self._enable(srs)))
        result["srs"] = self._replicating(srs)
        missing = [s["name_label"] for s in result["srs"] if not s["replicating"]]
        if missing:
            self.report["warnings"].append(
                "reprotect: no replicating metadata copy on SR(s) %s: 'xe-dr status' says why"
                % ", ".join(missing))
        self.report["reprotect"] = result
        return result

    def _named_srs(self):
        """The SRs --reprotect (or the plan) names; a name not here now is said, not fatal:
        the VMs are back, and protection can be enabled by hand."""
        from xe_dr.dr.replication import resolve_srs
        try:
            return resolve_srs(self.xe, self.opts.protect)
        except XeDrError as failure:
            self.report["warnings"].append("reprotect: %s" % failure.one_line())
            self.report["todo"].append("enable this pool's metadata replication: 'xe-dr "
                                       "replication enable SR...'")
            return []

    def _run_srs(self):
        """The records of the SRs this run attached that can hold replicated metadata."""
        uuids = set()
        for entry in self.report["storage"]:
            uuids.update(entry.get("introduced") or ())
            uuids.update(entry.get("plugged") or ())
        if not uuids:
            return []
        from xe_dr.dr.replication import METADATA_SR_TYPES, SR_FIELDS
        return [sr for sr in self.xe.list("sr", params=SR_FIELDS)
                if sr["uuid"] in uuids and sr["type"] in METADATA_SR_TYPES]

    def _enable(self, srs):
        from xe_dr.dr.replication import enable
        try:
            return {"enabled": enable(self.xe, srs, alerts=True)}
        except XeDrError as failure:
            failure.hint = "fix it, then 'xe-dr replication enable %s'; the VMs are back" % (
                " ".join(sr["uuid"] for sr in srs))
            raise

    def _replicating(self, srs):
        """Each SR, and whether a copy of this pool's metadata on it is written now."""
        from xe_dr.dr.inventory import find_metadata_copies
        local = set(c.sr_uuid for c in find_metadata_copies(self.xe, self.pool.uuid)
                    if c.local)
        return [{"uuid": sr["uuid"], "name_label": sr["name-label"],
                 "replicating": sr["uuid"] in local} for sr in srs]


def _lun_states(answer):
    """{lun: state} of an adapter's mirror-state, halt or reverse answer."""
    return dict((e["lun"], e["state"]) for e in answer["luns"])
