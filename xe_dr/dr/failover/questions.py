"""The questions a real failover or failback asks before it changes anything: once before the
storage is attached, once before the first recovery; a resume does not ask again what was
answered (the answers are journaled)."""

from xe_dr.dr import guard
from xe_dr.dr.failover.context import Phase
from xe_dr.dr.failover.options import Declined
from xe_dr.dr.plan import CONFIRM
from xe_dr.journal import NOTE
from xe_dr.marks import DISPOSABLE_KINDS


class Questions(Phase):
    def ask(self, which, question):
        """Ask once per run (a resume does not ask again what was answered): a real failover
        or failback asks before the storage is attached and before the first recovery."""
        if self.opts.mode in DISPOSABLE_KINDS or self.run is None:
            return
        step = "confirmed:%s" % which
        # Storage corrected on a resume is asked about again.
        fresh = which == "storage" and self.ctx.storage_corrected
        if not fresh and any(e["event"] == NOTE and e["step"] == step
                             for e in self.run.entries()):
            return
        if not self.ctx.confirm(question, "a real %s" % self.opts.mode):
            raise Declined("not confirmed: %s" % (
                "nothing was changed" if which == "storage" else "nothing was recovered"),
                hint="resume with 'xe-dr %s --resume %s' when ready" % (self.opts.mode,
                                                                          self.run.id))
        self.engine.note(step, answered=True)

    def source_line(self):
        if self.ctx.source_state == guard.CHECKED:
            return "The source pool was reached: VMs still running there and LUNs still " \
                   "attached there are checked before any recovery."
        if self.ctx.source_state == guard.DECLARED_DOWN:
            return "The source site is declared down (--source down)."
        return "WARNING: %s." % guard.fence_warning(self.ctx.source_state)

    def storage(self, source_plan):
        lines = ["%s into pool %s." % ({"failback": "Failback", "planned": "Planned migration"}
                                       .get(self.opts.mode, "Real failover"),
                                       self.pool.name_label)]
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
        lines.append(self.source_line())
        return "\n".join(lines + self.plugin_lines() + ["Go on?"])

    def plugin_lines(self):
        """A run that falls back to plain xe says so at each question."""
        return ["WARNING: %s." % self.ctx.plugin_fallback] if self.ctx.plugin_fallback else []

    def recovery(self, items, checks):
        todo = [i for i in items if not i.excluded]
        power = {"start": "then start them", "paused": "then start them paused",
                 "none": "and leave them halted"}[self.opts.power]
        lines = ["Recover into pool %s, %s: %s." % (
            self.pool.name_label, power, ", ".join(
                "%s %s" % ("vApp" if i.kind == "appliance" else "VM", i.name_label)
                for i in todo) or "nothing")]
        lines += [c.message + "." for c in checks if c.verdict == CONFIRM]
        if self.ctx.source_state != guard.CHECKED:
            lines.append(self.source_line())
        return "\n".join(lines + self.plugin_lines() + ["Go on?"])
