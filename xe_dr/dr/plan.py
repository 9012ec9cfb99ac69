"""Choosing what to recover and checking that it can be: selection and prechecks.

Prechecks are read-only. Each has a verdict:
- ``ok``;
- ``warning``: the run can go on; the report keeps it;
- ``confirm``: the run can go on only after an explicit yes (--yes or the prompt);
- ``blocking``: the run cannot start until it is fixed (the ``fix`` says how);
- ``skipped``: it could not be checked here (the ``message`` says why).
A verdict about one VM or vApp (its SR is missing, it uses local storage) excludes that
object only: the rest of the run goes on, and ends partly failed (exit 2) if the object was
selected (named, or protected under --all), and succeeded if it was only unprotected (left
out of --all with the reason). A blocking verdict about the pool stops the run before it
changes anything it can check first, and before any recovery otherwise (exit 1).
"""

from xe_dr.errors import UsageError

OK, WARNING, CONFIRM, BLOCKING, SKIPPED = "ok", "warning", "confirm", "blocking", "skipped"


class Check(object):
    def __init__(self, name, verdict, message, fix=None, objects=(), unprotected=False):
        self.name = name
        self.verdict = verdict
        self.message = message
        self.fix = fix
        self.objects = list(objects)  # UUIDs this check is about, when it is about some
        # About objects DR never protected (a disk on local storage, or on an SR without
        # replicated metadata): leaving them out of --all is no failure.
        self.unprotected = unprotected

    def to_json(self):
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data):
        return cls(**data)


class Item(object):
    """One thing to recover: a vApp (with its member VMs) or a standalone VM."""

    def __init__(self, kind, uuid, name_label, vdi, source_pool, members=None, order=0,
                 version=0, power_state="halted", memory=0, vcpus=0, start_delay=0, tags=()):
        self.kind = kind              # "appliance" or "vm"
        self.uuid = uuid
        self.name_label = name_label
        self.vdi = vdi                # the metadata VDI it is recovered from
        self.source_pool = source_pool
        self.members = members        # appliance: member VM dicts, None when unknown (plain xe)
        self.order = order
        self.version = version
        self.power_state = power_state
        self.memory = memory
        self.vcpus = vcpus
        self.start_delay = start_delay
        self.tags = list(tags)        # a VM's xapi tags (a recovery plan may select by them)
        self.excluded = None          # the reason it will not be recovered, if any

    @property
    def step(self):
        return "recover:%s:%s" % (self.kind, self.uuid)

    def to_json(self):
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data):
        item = cls(**dict((k, v) for k, v in data.items() if k != "excluded"))
        item.excluded = data.get("excluded")
        return item


def _matches(obj, wanted):
    return obj.uuid in wanted or obj.name_label in wanted


def select(sources, all_=False, vapps=(), vms=(), exclude=(), failed_over_only=False,
           tags=()):
    """The Items to recover from the source pools, in a stable order (vApps, then VMs).

    A vApp is all or nothing (as XenCenter has it): naming one of its VMs with --vm recovers
    that VM alone, out of its vApp; naming the vApp too, the VM comes with it (its own item
    excluded, "recovered with its vApp": started on its own too, it would race the vApp's
    start). Names that match nothing are a usage error, so a typo
    never silently recovers less than asked. With ``failed_over_only`` (a failback), --all
    means what a failover brought to the DR site (VMs carrying an xe-dr run tag, and their
    vApps), not the DR pool's own VMs. ``tags`` (a recovery plan's): the VMs that carry any
    of these xapi tags, as if named with --vm; a tag on no VM is a usage error too.
    """
    if not (all_ or vapps or vms or tags):
        raise UsageError("say what to recover: --all, --vapp NAME or --vm NAME (repeatable)")
    wanted_vapps, wanted_vms, excluded = set(vapps), set(vms), set(exclude)
    wanted_tags = set(tags)
    seen = set()
    items = []
    for source in sources:
        member_of = {}
        for appliance in source.appliances:
            for uuid in appliance.vms or ():
                member_of[uuid] = appliance.uuid
        def in_all(vms_):
            """Whether --all takes these VMs (None: membership unknown with plain xe, so a
            vApp is taken whole, as a failover would)."""
            if not all_:
                return False
            if not failed_over_only or vms_ is None:
                return True
            return any(vm is not None and vm.xe_dr_run for vm in vms_)

        chosen_vapps = set()
        for appliance in source.appliances:
            if _matches(appliance, excluded):
                seen.update((appliance.uuid, appliance.name_label))
                continue
            members = None if appliance.vms is None else [source.vm(u) for u in appliance.vms]
            if in_all(members) or _matches(appliance, wanted_vapps):
                seen.update((appliance.uuid, appliance.name_label))
                chosen_vapps.add(appliance.uuid)
                members = None
                if appliance.vms is not None:
                    members = [source.vm(u).to_json() for u in appliance.vms if source.vm(u)]
                items.append(Item("appliance", appliance.uuid, appliance.name_label,
                                  source.copy.vdi_uuid, source.uuid, members=members))
        for vm in source.vms:
            if wanted_tags and vm.tags is None:
                raise UsageError("the metadata of pool %s was read without the VMs' tags, and "
                                 "the plan selects by tag" % source.name_label,
                                 hint="'xe-dr plugin install' updates the host plugin (6 "
                                      "reads tags)")
            tagged = wanted_tags & set(vm.tags or ())
            seen.update("tag " + tag for tag in tagged)
            if _matches(vm, excluded):
                seen.update((vm.uuid, vm.name_label))
                continue
            in_vapp = vm.uuid in member_of or vm.appliance
            chosen = _matches(vm, wanted_vms) or bool(tagged) or (in_all([vm]) and not in_vapp)
            if chosen:
                seen.update((vm.uuid, vm.name_label))
                items.append(Item("vm", vm.uuid, vm.name_label, source.copy.vdi_uuid,
                                  source.uuid, order=vm.order, version=vm.version,
                                  power_state=vm.power_state, memory=vm.memory,
                                  vcpus=vm.vcpus, start_delay=vm.start_delay,
                                  tags=vm.tags or ()))
                if (member_of.get(vm.uuid) or vm.appliance) in chosen_vapps:
                    items[-1].excluded = "recovered with its vApp"
    unknown = sorted((wanted_vapps | wanted_vms | excluded |
                      set("tag " + tag for tag in wanted_tags)) - seen)
    if unknown:
        raise UsageError("not found in the recoverable metadata: %s" % ", ".join(unknown),
                         hint="'xe-dr inventory' lists what can be recovered")
    return items


def narrow(items, names, plan_path):
    """Of the items a recovery plan selects, those --vapp and --vm name (a name the plan does
    not select is a usage error). A VM the plan brings with its vApp, named without the vApp,
    is recovered alone, out of its vApp (as --vm does without a plan)."""
    kept = [i for i in items if _matches(i, names)]
    found = set(n for i in kept for n in (i.uuid, i.name_label))
    missing = [n for n in names if n not in found]
    if missing:
        raise UsageError("%s is in no group of the plan %s" % (", ".join(missing), plan_path),
                         hint="a run by a plan recovers what the plan selects, or part of it "
                              "('xe-dr plan show' lists it)")
    with_vapp = set(m["uuid"] for i in kept if i.kind == "appliance" for m in i.members or ())
    for item in kept:
        if item.excluded == "recovered with its vApp" and item.uuid not in with_vapp:
            item.excluded = None
    return kept
