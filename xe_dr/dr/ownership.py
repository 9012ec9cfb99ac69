"""What one run made in a pool: found in its journal (done steps, and the steps that began or
failed, from what they journaled before they began) and in the objects' own tags, then read
back from the pool as it is now. ``cleanup`` (xe_dr/dr/cleanup.py) destroys only that."""

from xe_dr.journal import BEGIN, DONE, FAILED
from xe_dr.marks import DRTASK_KEY, RUN_KIND_TAG, RUN_TAG, SECRET_KEY, step_parts
from xe_dr.xe.records import parse_map, parse_ref


class Ownership(object):
    """What run ``run_id`` created in the pool, from its journal and from tags; ``kinds``
    holds the run kind each tagged object carries ('' when it carries none)."""

    def __init__(self, xe, run_id, journal_run=None):
        self.run_id = run_id
        self.vms, self.appliances, self.tasks = set(), set(), set()
        self.srs, self.plugged_pbds, self.networks = set(), set(), set()
        self.secrets = set()
        self.ha = None
        self.kinds = {}
        self.untagged = set()  # VMs a cut-short recovery made before the run could tag them
        if journal_run is not None:
            self._from_journal(journal_run)
            self._from_unfinished(xe, journal_run)
        tag = {"other-config:%s" % RUN_TAG: run_id}
        for cls, found in (("vm", self.vms), ("sr", self.srs), ("network", self.networks)):
            for record in xe.list(cls, params=("uuid", "other-config") + (
                    ("introduced-by",) if cls == "sr" else ()), filters=tag):
                found.add(record["uuid"])
                marks = parse_map(record.get("other-config", ""))
                self.kinds[record["uuid"]] = marks.get(RUN_KIND_TAG, "")
                if cls == "sr":
                    self._named_by_sr(marks, parse_ref(record.get("introduced-by")))

    def _named_by_sr(self, marks, introduced_by):
        """The DR task and secret an SR of the run names (marks.py): a DR task cannot be
        tagged and xe never prints a secret's other-config. Its introduced-by names its task
        too until a recovery clears it."""
        for task in (marks.get(DRTASK_KEY), introduced_by):
            if task:
                self.tasks.add(task)
        if marks.get(SECRET_KEY):
            self.secrets.add(marks[SECRET_KEY])

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
            elif step.startswith("network:create:") and isinstance(result, dict) and \
                    result.get("uuid"):
                self.networks.add(result["uuid"])
            elif kind == "ha" and result:
                self.ha = result

    def _from_unfinished(self, xe, run):
        """The effect of steps that began and never ended, or failed: a failure can come after
        xapi made the change (a timeout, a cut connection, xe-dr killed mid-call). Each such
        step journaled before it began what identifies its effect and what existed already;
        only what did not is the run's."""
        begun = dict((e["step"], e.get("data") or {}) for e in run.entries()
                     if e["event"] == BEGIN)
        unfinished = [(step, begun.get(step, {})) for step, entry in run.step_states().items()
                      if entry["event"] in (BEGIN, FAILED)]
        if not unfinished:
            return
        for step, data in unfinished:
            kind = step.split(":", 1)[0]
            if kind == "attach" and data.get("whitelist"):
                self._attach_effect(xe, data)
            elif kind == "recover" and "existed" in data:
                self._recover_effect(xe, step, data)
            elif step.startswith("network:create:") and "before" in data:
                self._network_effect(xe, step, data)

    def _attach_effect(self, xe, data):
        """A drtask-create: the whitelisted SRs (none of them was in the pool before it) and
        the DR task made since that introduced one of them; another tool's task is left."""
        mine = set(data["whitelist"])
        present = set(xe.uuids("sr")) & mine
        self.srs |= present
        before = set(data.get("tasks_before") or ())
        for task in set(xe.uuids("drtask")) - before:
            introduced = set(xe.uuids("sr", filters={"introduced-by": task}))
            if introduced & mine:
                self.tasks.add(task)

    def _network_effect(self, xe, step, data):
        """A network-create: a network of that name that was not there before it began."""
        name = step_parts(step, 3)[2]
        before = set(data["before"])
        for record in xe.list("network", params=("uuid", "name-label")):
            if record.get("name-label") == name and record["uuid"] not in before:
                self.networks.add(record["uuid"])

    def _recover_effect(self, xe, step, data):
        """A recovery (xapi keeps the uuids): the VM, or the vApp and the VMs now in it, less
        what existed before the step began."""
        _, kind, uuid = step.split(":", 2)
        existed = set(data["existed"])
        if kind == "vm":
            found = set(xe.uuids("vm", filters={"uuid": uuid}))
        elif uuid in existed or not xe.uuids("appliance", filters={"uuid": uuid}):
            return
        else:
            self.appliances.add(uuid)
            found = set(xe.uuids("vm", filters={"appliance": uuid}))
        found -= existed
        self.vms |= found
        self.untagged |= found

    def to_json(self):
        return dict((k, sorted(v) if isinstance(v, set) else v) for k, v in self.__dict__.items())


class Survey(object):
    """What of a run's objects is in the pool now: read before anything is decided, so that
    the refusals, the list shown before a forced cleanup and the cleanup itself agree."""

    def __init__(self, xe, owned, pool):
        records = [r for r in xe.list("vm", params=("uuid", "name-label", "power-state",
                                                    "appliance", "other-config"))
                   if r["uuid"] in owned.vms]
        # A VM the journal names that no longer carries the run's tag was taken over by an
        # administrator (who removed the tag): it is no longer the run's to destroy.
        self.untagged = sorted((r for r in records if parse_map(r.get("other-config", "")).get(
            RUN_TAG) != owned.run_id and r["uuid"] not in owned.untagged),
            key=lambda r: r["name-label"])
        self.vms = dict((r["uuid"], r) for r in records if r not in self.untagged)
        self.appliances = set(owned.appliances)
        for record in self.vms.values():
            appliance = parse_ref(record.get("appliance"))  # None: in no vApp
            if appliance:
                self.appliances.add(appliance)
        self.appliances &= set(xe.uuids("appliance")) if self.appliances else set()
        self.tasks = owned.tasks & set(xe.uuids("drtask")) if owned.tasks else set()
        self.pbds = xe.list("pbd", params=("uuid", "host-uuid", "sr-uuid", "currently-attached"))
        self.srs = dict((r["uuid"], r) for r in xe.list("sr", params=("uuid", "name-label"))
                        if r["uuid"] in owned.srs)
        self.plugged = [p for p in self.pbds if p["uuid"] in owned.plugged_pbds and
                        p["currently-attached"] == "true"]
        self.secrets = owned.secrets & set(xe.uuids("secret")) if owned.secrets else set()
        self.networks = dict((r["uuid"], r) for r in xe.list(
            "network", params=("uuid", "name-label")) if r["uuid"] in owned.networks) \
            if owned.networks else {}
        self.ha = owned.ha if owned.ha and owned.ha.get("heartbeat_srs") and \
            not pool.ha_enabled else None
        self.busy = self._busy_srs(xe) if self.srs else {}
        # A DR task is destroyed only when it would forget no busy SR.
        self.kept_tasks = set()
        if self.busy and self.tasks:
            for record in xe.list("sr", params=("uuid", "introduced-by")):
                if record["uuid"] in self.busy and record.get("introduced-by") in self.tasks:
                    self.kept_tasks.add(record["introduced-by"])
        self.snapshots = sorted(r["uuid"] for r in xe.list(
            "snapshot", params=("uuid", "snapshot-of")) if r.get("snapshot-of") in self.vms) \
            if self.vms else []
        # The kinds the run's objects say they were made by, and the run's own.
        self.kinds = set(owned.kinds[u] for u in list(self.vms) + list(self.srs) +
                         list(self.networks) if u in owned.kinds)

    def _busy_srs(self, xe):
        """{SR uuid: [VM names]}: the run's SRs that hold disks of VMs this cleanup does not
        destroy (a later failover's production VMs, an adopted VM). They are never unplugged
        or forgotten, nor the DR tasks that would forget them."""
        snapshots = {r["uuid"] for r in xe.list("snapshot", params=("uuid", "snapshot-of"))
                     if r.get("snapshot-of") in self.vms}
        dom0s = set(xe.uuids("vm", filters={"is-control-domain": "true"}))
        sr_of = dict((r["uuid"], r["sr-uuid"]) for r in xe.list("vdi", params=(
            "uuid", "sr-uuid")) if r.get("sr-uuid") in self.srs)
        names = dict((r["uuid"], r["name-label"]) for r in xe.list(
            "vm", params=("uuid", "name-label")))
        busy = {}
        for vbd in xe.list("vbd", params=("vm-uuid", "vdi-uuid"), filters={"type": "Disk"}):
            vm = vbd.get("vm-uuid")
            sr = sr_of.get(vbd.get("vdi-uuid"))
            if sr and vm not in self.vms and vm not in snapshots and vm not in dom0s:
                busy.setdefault(sr, set()).add(names.get(vm, vm))
        return dict((sr, sorted(vms)) for sr, vms in busy.items())

    def empty(self):
        return not (self.vms or self.appliances or self.tasks or self.srs or self.plugged or
                    self.secrets or self.networks or self.ha)

    def running(self):
        return sorted((r for r in self.vms.values() if r["power-state"] == "running"),
                      key=lambda r: r["name-label"])

    def lines(self):
        """Exactly what a cleanup destroys, one object a line."""
        lines = []
        for record in sorted(self.vms.values(), key=lambda r: r["name-label"]):
            lines.append("VM %s (%s, %s): hard shutdown, destroy its record (not its disks)"
                         % (record["name-label"], record["uuid"], record["power-state"]))
        lines += ["snapshot %s: destroy its record" % s for s in self.snapshots]
        lines += ["vApp %s: destroy if no other VM is in it" % a for a in sorted(
            self.appliances)]
        lines += ["DR task %s: destroy" % t for t in sorted(self.tasks - self.kept_tasks)]
        lines += ["SR %s (%s): unplug and forget (its LUN's data stays)" % (
            r["name-label"], r["uuid"]) for r in sorted(self.srs.values(),
                                                       key=lambda r: r["name-label"])
            if r["uuid"] not in self.busy]
        lines += ["PBD %s of SR %s: unplug" % (p["uuid"], p["sr-uuid"]) for p in self.plugged]
        lines += ["secret %s (the run's CHAP password): destroy" % s for s in sorted(
            self.secrets)]
        lines += ["network %s (%s): destroy if no VIF or PIF uses it" % (
            r["name-label"], r["uuid"]) for r in sorted(self.networks.values(),
                                                       key=lambda r: r["name-label"])]
        if self.ha:
            lines.append("HA: enable again")
        return lines

    def kept(self):
        """What of the run's is left alone, and why, one object a line."""
        lines = ["SR %s (%s): left attached, it holds disks of %s" % (
            self.srs[sr]["name-label"], sr, ", ".join(vms)) for sr, vms in sorted(
                self.busy.items())]
        lines += ["DR task %s: left, destroying it would forget such an SR" % t
                  for t in sorted(self.kept_tasks)]
        lines += ["VM %s (%s): left, it no longer carries the run's tag" % (
            r["name-label"], r["uuid"]) for r in self.untagged]
        return lines
