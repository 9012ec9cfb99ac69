"""The failover's prechecks: read-only, made before the first change where they need no
metadata (the licence, HA, --map-network targets), and before the first recovery where they do
(xe_dr/dr/prechecks.py has the checks themselves)."""

from xe_dr.dr import disk_checks
from xe_dr.dr import prechecks as checks_
from xe_dr.dr.failover.context import Phase
from xe_dr.dr.plan import BLOCKING, WARNING, Check
from xe_dr.pool import PoolSnapshot
from xe_dr.marks import DISPOSABLE_KINDS


class CheckPhase(Phase):
    def __init__(self, ctx, networks):
        super(CheckPhase, self).__init__(ctx)
        self.networks = networks

    def target_facts(self):
        """Read once per run: attaching storage, the only change before the prechecks, leaves
        the target's VMs, vApps, networks and host editions as they were."""
        if self.ctx.facts is None:
            # A run that attaches nothing reads the PBDs now too: under its lock they stay.
            self.ctx.facts = PoolSnapshot(self.xe, self.pool, self.hosts).read(
                "vms", "networks", "appliances",
                *(("pbds",) if self.ctx.copies is not None else ()))
        return self.ctx.facts

    def attached_srs(self):
        """The SRs with an attached PBD here, after this run's attach."""
        if self.ctx.copies is not None:
            return {p["sr"] for p in self.target_facts().pbds if p["attached"]}
        return {p["sr-uuid"] for p in self.xe.list(
            "pbd", params=("sr-uuid",), filters={"currently-attached": "true"})}

    def early(self):
        """The checks that need no metadata, made before anything is changed: a licence that
        forbids DR, HA on for a test, --map-network targets that do not exist."""
        target = self.target_facts()
        checks = [checks_.check_licence(target),
                  checks_.check_ha(target, self.opts.mode, self.opts.disable_ha)]
        mapped = checks_.check_network_map(target, self.opts.network_map)
        return checks + ([mapped] if mapped is not None else [])

    def prechecks(self, items, by_vdi):
        target = self.target_facts()
        # The SRs this run brings in: they must not be attached at the source any more.
        srs = sorted({sr for entry in self.report["storage"] for key in (
            "introduced", "plugged", "already_attached", "planned") for sr in entry.get(key, ())})
        attached = self.attached_srs()
        # A dry run counts the SRs its attach steps would bring in as attached: the plan goes
        # on to what the run would recover from them.
        planned = {sr for entry in self.report["storage"] for sr in entry.get("planned", ())}
        attached |= planned
        mode = self.opts.mode
        result = list(self.early())
        result += checks_.check_versions(target, list(by_vdi.values()))
        result.append(checks_.check_edition(target, list(by_vdi.values())))
        if mode not in DISPOSABLE_KINDS:
            result += self.ctx.reach_source(lambda xe: checks_.check_source_running(
                xe, items, srs, self.ctx.source_state))
        result += checks_.check_existing(target, items, mode)
        # A real run without the plugin leaves the assert to each recovery (see check_storage).
        result += disk_checks.check_storage(self.xe, items, by_vdi, attached,
                                        assert_each=self.engine.dry_run)
        # Only where the SRs are attached: a disk on a missing SR is that SR's verdict.
        exclude_failing(items, result)
        result += disk_checks.check_disks([i for i in items if not i.excluded], by_vdi,
                                      self.opts.force, unscanned=planned)
        # Networks and capacity count only what will really be recovered: objects failing a
        # check of their own are left out first.
        exclude_failing(items, result)
        self.ctx.networks_before = {n["uuid"] for n in target.networks}
        result += self.networks.checks(items, by_vdi, target)
        result.append(checks_.check_capacity(target, items, self.opts.power))
        for check in result:
            if check.verdict != "ok":
                self.progress.note("precheck %s: %s" % (check.verdict, check.message))
        return result


def exclude_failing(items, checks):
    """Leave out every object that fails a blocking check of its own."""
    for check in checks:
        if check.verdict == BLOCKING and check.objects:
            for item in items:
                if item.uuid in check.objects and not item.excluded:
                    item.excluded = check.message


def live_checks(items, source, protection):
    """The checks of a plan made from the live source pool: xe checks each object again when
    the plan is carried out (the runbook's assert-can-be-recovered); what is left out here is
    what ``xe-dr status`` says cannot come back (a disk on local storage or on shared storage
    without replicated metadata): unprotected, as the run's storage check says of it."""
    checks = [Check("source:live", WARNING, "planned from the live pool %s, as it is now: a "
                    "VM or vApp made after this plan is not in it" % source.name_label,
                    fix="make the plan again after changes (it is cheap: cron it)")]
    for item in items:
        vms = [item.uuid] if item.kind == "vm" else [m["uuid"] for m in item.members or ()]
        unprotected = [protection[u] for u in vms
                       if u in protection and protection[u]["class"] != "protected"]
        if unprotected:
            checks.append(Check(
                "protection", BLOCKING, "%s %s cannot be recovered at the other site: %s" % (
                    "VM" if item.kind == "vm" else "vApp", item.name_label, "; ".join(
                        "%s: %s" % (v["name_label"], v["reason"]) for v in unprotected)),
                fix="move its disks to SRs with replicated metadata ('xe-dr status')",
                objects=[item.uuid], unprotected=True))
    return checks
