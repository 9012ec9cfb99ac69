"""The dry run (--dry-run, and the runbook's plan): the steps the run would take, built as the
run builds them, and what it would end with.

It exits as the run would end if every step went as planned (outcome.tally's rule): 0; 2 when
a vApp or VM selected would be left out; 1, or 77 for the licence, when a precheck about the
pool blocks. Before the storage is attached and without the live source (--source), no xe call
can list the vApps and VMs: it names the checks it could not run, and why, and exits 3
(ExitCode.UNCHECKED), never "planned" and 0."""

from xe_dr.dr import networks as networks_
from xe_dr.dr.failover.context import Phase
from xe_dr.dr.failover.outcome import tally
from xe_dr.dr.plan import BLOCKING, SKIPPED, Check, Item
from xe_dr.exitcodes import ExitCode

# Its outcome by the exit status the run would end with.
_PLANNED = {ExitCode.OK: "planned",
            ExitCode.PARTIAL: "planned: some selected vApps or VMs would be left out",
            ExitCode.FAILED: "planned: nothing selected can be recovered",
            ExitCode.UNCHECKED: "planned, not all checked"}


class DryRun(Phase):
    def __init__(self, ctx, networks, recovery, starts, plans):
        super(DryRun, self).__init__(ctx)
        self.networks = networks
        self.recovery = recovery
        self.starts = starts
        self.plans = plans

    def verdict(self, early, code):
        """The plan's outcome and exit status, once planned (``code``: what
        :meth:`planned_code` or :meth:`unchecked` said); ``early``: the checks made before
        the storage, kept in the report also when the plan comes from the live source."""
        named = {c["name"] for c in self.report["checks"]}
        self.report["checks"][:0] = [c.to_json() for c in early if c.name not in named]
        blocking = [c for c in self.report["checks"]
                    if c["verdict"] == BLOCKING and not c["objects"]]
        if blocking:
            self.report["todo"].append("fix the blocking prechecks, then run the command again")
            code = ExitCode.REFUSED if any(c["name"] == "licence" for c in blocking) else \
                ExitCode.FAILED
        self.report["outcome"] = "blocked" if blocking else _PLANNED[code]
        return code

    def plan_steps(self, items):
        """The steps the run would take, built as the run builds them."""
        for entry in networks_.to_create(self.ctx.network_plan):
            if any(not i.excluded and i.uuid in entry["objects"] for i in items):
                self.engine.do(self.networks.create_step(entry))
        for item in items:
            if not item.excluded:
                self.engine.do(self.recovery.step(item))
        if self.opts.plan is not None:  # by the plan's groups, then the run's after hook
            if self.opts.power != "none":
                self.plans.plan_steps(items, self.starts.step)
            else:
                self.plans.run_hook("after")
        elif self.opts.power != "none":
            for item in sorted((i for i in items if not i.excluded),
                               key=lambda i: (i.kind != "appliance", i.order)):
                self.engine.do(self.starts.step(item))

    def planned_code(self, items, checks):
        """What the run would end with if every step went as planned (tally's rule). Plain
        xe recovers a vApp without asserting it first, and when xapi refuses it the run
        holds back the other VMs of its pool (any may be a member: recovery.py); the dry
        run asserted it, so it counts those VMs as the run would."""
        refused = {c.objects[0] for c in checks if c.verdict == BLOCKING and c.objects and
                   c.name.startswith("storage:")}
        held = {i.vdi for i in items if i.kind == "appliance" and i.uuid in refused} \
            if not self.ctx.plugin else set()
        would = []
        for item in items:
            item = Item.from_json(item.to_json())
            if not item.excluded and item.kind == "vm" and item.vdi in held:
                item.excluded = "held back: a vApp of its pool is refused"
            would.append(item)
        _, _, code = tally(would, self.report["checks"], [], dict(
            (i.uuid, []) for i in would if not i.excluded), {},
            set(self.opts.vms) | set(self.opts.vapps))
        return code

    def unchecked(self):
        """Before the storage is attached, without the live source: the vApps and VMs are in
        metadata no xe call can read yet, so the checks that need them are listed as not
        run, and why (exit 3, of its own: not a plan checked whole)."""
        why = "the metadata that lists them is on the SRs above, which a dry run does not attach"
        fix = ("--source HOST plans from the primary's live pool while it is up; else the run "
               "itself checks all this before it recovers anything")
        names = ["--%s %s" % (flag, name) for flag, names in (
            ("vapp", self.opts.vapps), ("vm", self.opts.vms), ("exclude", self.opts.exclude))
            for name in names]
        checks = [Check("selection", SKIPPED, "%s: %s" % (
            "not looked up: " + ", ".join(names) if names else
            "what --all recovers is not known", why), fix=fix),
            Check("objects", SKIPPED, "the checks of each vApp and VM (xapi versions, licence "
                  "edition, %sVMs already here, their SRs and disks, networks, memory) not "
                  "run: %s" % ("" if self.opts.mode == "test" else
                               "VMs still running at the source, ", why), fix=fix)]
        for check in checks:
            self.report["checks"].append(check.to_json())
            self.progress.note("precheck skipped: %s" % check.message)
        return ExitCode.UNCHECKED
