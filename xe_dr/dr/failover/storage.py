"""Phase 1 of a failover: attach the mirrored storage (sr-probe, drtask-create with a
whitelist, pbd-plug of known SRs), then make xapi see what the SRs hold; journaled and safe
to resume."""

from xe_dr.dr import fidelity
from xe_dr.dr.failover.context import Phase
from xe_dr.dr.guard import TRANSPORT as _TRANSPORT
from xe_dr.dr.inventory import find_metadata_copies
from xe_dr.dr.steps import Call, Step, step_id
from xe_dr.dr.storage import StorageSpec, create_secret, find_secret, next_step, probe
from xe_dr.errors import UsageError, XeDrError
from xe_dr.journal import NOTE, Run
from xe_dr.marks import DRTASK_KEY, RUN_TAG, SECRET_KEY
from xe_dr.xe.errors import XapiError
from xe_dr.xe.records import parse_map


class StoragePhase(Phase):
    def specs(self, need_passwords=True):
        """The run's storage as StorageSpecs, with the CHAP passwords given to this
        invocation (never stored). A LUN that needs one that was not given again is a usage
        error when ``need_passwords``, and left out otherwise."""
        specs = []
        # A drill attaches the array's copies of the LUNs given (xe_dr/dr/failover/drill.py).
        for spec_json in self.ctx.copy_storage or self.opts.storage:
            lun = spec_json.get("replica") or spec_json["device_config"].get("SCSIid")
            spec = StorageSpec(spec_json["type"], spec_json["device_config"],
                               self.ctx.chap_passwords.get(lun, self.ctx.chap_passwords.get(None)))
            if spec_json.get("chap") and not spec.chap_password:
                if not need_passwords:
                    continue
                raise UsageError("this storage needs its CHAP password again",
                                 hint="give --chap-password-file or --chap-password-env")
            specs.append(spec)
        return specs

    def adopt(self):
        """--adopt RUN: everything RUN's tags mark (its SRs above all) becomes this run's, so
        that this run's cleanup removes it and RUN's no longer can; RUN is superseded. The
        retagging is journaled step by step, so an interrupted adoption resumes."""
        old = self.opts.adopt
        if not old or self.ctx.adopted is None:
            return
        owned = {}
        for cls in ("sr", "vm", "network"):
            owned[cls] = self.xe.uuids(cls, filters={"other-config:%s" % RUN_TAG: old})
        self.engine.note("adopt:%s" % old, objects=owned)
        for cls in ("sr", "vm", "network"):
            for uuid in owned[cls]:
                self.engine.do(self.ctx.tag_step(cls, uuid))
        try:
            previous = Run.open(self.ctx.state_dir, old)
        except UsageError:
            previous = None  # its journal is elsewhere: its objects' tags said it all
        if previous is not None:
            previous.append(NOTE, "superseded", by=self.run.id)
            previous.set_status("superseded", superseded_by=self.run.id)
        self.report["adopted"] = {"run": old, "objects": owned}
        self.progress.note("took over from run %s: %s" % (old, ", ".join(
            "%d %s(s)" % (len(v), k.upper() if k in ("sr", "vm") else k)
            for k, v in sorted(owned.items()) if v)))

    def attach(self):
        if not self.opts.storage:
            return  # nothing to attach, nothing this run attached to make visible
        # Where the phase begins, for the report's timeline: the probes are not steps.
        self.engine.note("phase:storage", luns=len(self.opts.storage))
        known = {r["uuid"]: r for r in self.xe.list(
            "sr", params=("uuid", "name-label", "type", "introduced-by", "other-config"))}
        pbds = self.xe.list("pbd", params=("uuid", "host-uuid", "sr-uuid", "currently-attached",
                                           "device-config"))
        specs = self.specs()
        self._phase("attach", len(specs), "lun:")
        for spec in specs:
            self._attach_lun(spec, known, pbds)
            self._step("done", step_id("lun", spec.device_config.get("SCSIid", "?")))
        self._make_visible()

    # The progress of the attach and the scan, LUN by LUN and SR by SR (a dry run attaches
    # nothing, and shows none).
    def _phase(self, name, total, prefix):
        if not self.engine.dry_run:
            self.progress.phase(name, total, prefix)

    def _step(self, kind, step, description=""):
        if not self.engine.dry_run:
            self.progress.step(kind, step, description)

    def _attach_lun(self, spec, known, pbds):
        lun = spec.device_config.get("SCSIid", "?")
        found = _attached_here(spec, known, pbds, self.pool.master)
        if found is None:
            self._step("begin", step_id("find", lun), "probe LUN %s for its SRs" % lun)
            answer = probe(self.xe, spec)
            self._step("done", step_id("find", lun))
            if answer["stage"] != "srs":
                raise UsageError("the storage options of LUN %s do not reach its SRs: %s" %
                                 (lun, next_step(answer)), hint="check them with 'xe-dr probe'")
            found = answer["items"]
        if not found:
            # lvmohba answers a SCSI id it cannot use with an empty list, not an error (sm's
            # lvutil.scan_srlist swallows the device error): never attach nothing silently.
            raise XeDrError("no SR on LUN %s (%s): nothing to attach from it" % (
                lun, spec.sr_type), hint="check the SCSI id with 'xe-dr probe'")
        chosen = [sr for sr in found if not self.opts.srs or sr["uuid"] in self.opts.srs]
        entry = {"lun": lun, "type": spec.sr_type, "found": found, "introduced": [],
                 "plugged": [], "already_attached": []}
        self.report["storage"].append(entry)
        new = [sr["uuid"] for sr in chosen if sr["uuid"] not in known]
        step = step_id("attach", lun)
        begun = self.engine.begun(step)
        if self.engine.state_of(step) is not None:
            # Resumed: the SRs this step set out to introduce are known by now (also after a
            # failure: xapi may have finished a drtask-create that timed out); it attaches
            # those, and its DR task is still the run's to destroy.
            new = begun["whitelist"] if begun else (self.engine.result_of(step) or {}).get(
                "whitelist", new)
        for sr in chosen:
            if sr["uuid"] not in known or sr["uuid"] in new:
                continue
            unplugged = [p for p in pbds if p["sr-uuid"] == sr["uuid"]
                         and p["currently-attached"] != "true"]
            # Resumed: an SR whose PBDs this run plugged before it stopped is still the run's
            # (to scan, plug again so that its metadata is read, name in the report).
            ours = [p for p in pbds if p["sr-uuid"] == sr["uuid"] and self.engine.state_of(
                step_id("plug", p["uuid"])) in ("begin", "done")]
            if not unplugged and not ours:
                entry["already_attached"].append(sr["uuid"])
            elif sr["uuid"] not in entry["plugged"]:
                entry["plugged"].append(sr["uuid"])
            for pbd in unplugged:
                self.engine.do(Step(
                    step_id("plug", pbd["uuid"]), "plug SR %s" % sr["name_label"],
                    [Call("pbd-plug", {"uuid": pbd["uuid"]})],
                    reconcile=lambda pbd=pbd: self._pbd_attached(pbd["uuid"])))
        if not new:
            return
        # The DR tasks that existed before this step first began: any other one that has
        # none of our SRs was leaked by an interrupted or failed drtask-create of ours.
        before = set(begun["tasks_before"]) if begun else set(self.xe.uuids("drtask"))
        secret = None
        if spec.chap_password:
            # One secret for the run's PBDs of this LUN; they keep using it after a real
            # failover (as XenCenter's do), cleanup destroys it after a test.
            secret = self.engine.do(Step(
                step_id("secret", lun), "store the CHAP password of LUN %s in a xapi secret"
                % lun, [Call("secret-create")],
                action=lambda: create_secret(self.xe, spec.chap_password, self.ctx.marks()),
                reconcile=lambda: find_secret(self.xe, spec.chap_password)))
        params = {"type": spec.sr_type, "device-config": spec.with_secret(secret),
                  "sr-whitelist": new}

        def create():
            try:
                task = self.xe.new_uuid("drtask-create", params)
            except XapiError as failure:
                self._destroy_leaked_tasks(before)
                if failure.code == "INTERNAL_ERROR" and "probe response was malformed" in \
                        " ".join(failure.params):
                    raise _unreadable_probe(lun, found, failure)
                raise
            return {"task": task, "srs": self._introduced_by(task), "whitelist": new}

        def reconcile():
            for task in set(self.xe.uuids("drtask")) - before:
                srs = self._introduced_by(task)
                if set(srs) & set(new):
                    return {"task": task, "srs": srs, "whitelist": new}
            self._destroy_leaked_tasks(before)
            return None

        result = self.engine.do(Step(
            step, "attach SR(s) %s on LUN %s" % (", ".join(new), lun),
            [Call("drtask-create", params)], action=create, reconcile=reconcile,
            begin_data={"tasks_before": sorted(before), "whitelist": new}))
        if result is None:  # dry run: what the run would attach is scanned too
            entry.setdefault("planned", []).extend(new)
            return
        entry["task"] = result["task"]
        entry["introduced"] = result["srs"]
        # At once: a DR task cannot be tagged (no other-config) and recovery clears the SRs'
        # introduced-by, so each SR names its task (and the secret its PBDs were made from)
        # for a cleanup without the journal. Before this, only the journal knows them.
        found = {DRTASK_KEY: result["task"]}
        if secret:
            found[SECRET_KEY] = secret
        for sr in result["srs"]:
            self.engine.do(self.ctx.tag_step("sr", sr, extra=found))

    def _make_visible(self):
        """Make xapi see what the attached SRs hold before anything is listed or recovered.

        From xapi 23.22.0 PBD.plug no longer scans (message_forwarding.ml, PBD.plug; commit
        7c04e3e5e4): an SR new to this pool has no VDI records, so the VMs' disks are not
        found (VDI_LOCATION_MISSING, or a VM recovered without them with force) and no
        metadata copy is read. So every SR of the run is scanned (harmless where plug still
        scans); an SR this run attached whose metadata copies xapi has not read (its
        metadata-of-pool is not known after the scan: SR.scan does not call Xapi_dr) is
        plugged again, master first, so that xapi's handle_metadata_vdis reads them and marks
        the newest copy of each pool by its generation."""
        scanned, attached = [], []
        for entry in self.report["storage"]:
            run_srs = entry["introduced"] + entry["plugged"] + entry.get("planned", [])
            for sr in run_srs + entry["already_attached"]:
                if sr not in scanned:
                    scanned.append(sr)
            attached.extend(sr for sr in run_srs if sr not in attached)
        self._phase("scan", len(scanned), "scan:")
        for sr in scanned:
            self.engine.do(Step(step_id("scan", sr), "scan SR %s for its disks" % sr,
                                [Call("sr-scan", {"uuid": sr})]))
        if self.engine.dry_run:
            unread = attached if not plug_scans(self.hosts, self.pool.master) else []
        else:
            unread = self._unread_metadata(attached)
            # A re-plug cut short after the master's plug left the metadata read but the
            # other hosts' PBDs unplugged: it runs again whatever xapi has read.
            unread += [sr for sr in attached if sr not in unread and self.engine.state_of(
                step_id("replug", sr)) in ("begin", "failed")]
        for sr in unread:
            pbds = self._pbds_master_first(sr)
            # Off members first and the master last, on in the other order (as xapi's
            # DR_task.create plugs and unplugs); unplugging an unplugged PBD does nothing, so
            # an interrupted re-plug simply runs again.
            calls = [Call("pbd-unplug", {"uuid": p}) for p in reversed(pbds)] + \
                [Call("pbd-plug", {"uuid": p}) for p in pbds]
            self.engine.do(Step(
                step_id("replug", sr), "plug SR %s again so that xapi reads its metadata" % sr,
                calls, action=lambda calls=calls, pbds=pbds: self._replug(calls, pbds)))

    def _unread_metadata(self, srs):
        """The SRs among ``srs`` holding a metadata copy of another pool that xapi has not read
        (its pool prints as not in the database)."""
        if not srs:
            return []
        unread = set()
        for copy in find_metadata_copies(self.xe, self.pool.uuid):
            if copy.sr_uuid in srs and copy.pool_uuid is None:
                unread.add(copy.sr_uuid)
        return [sr for sr in srs if sr in unread]

    def _pbds_master_first(self, sr):
        pbds = self.xe.list("pbd", params=("uuid", "host-uuid"), filters={"sr-uuid": sr})
        pbds.sort(key=lambda p: (p["host-uuid"] != self.pool.master, p["uuid"]))
        return [p["uuid"] for p in pbds]

    def _replug(self, calls, pbds):
        for call in calls:
            self.xe.run(call.command, call.params)
        return {"pbds": pbds}

    def _pbd_attached(self, uuid):
        found = self.xe.list("pbd", params=("uuid", "currently-attached"), filters={"uuid": uuid})
        return True if found and found[0]["currently-attached"] == "true" else None

    def _introduced_by(self, task):
        return [r["uuid"] for r in self.xe.list("sr", params=("uuid",),
                                                filters={"introduced-by": task})]

    def _destroy_leaked_tasks(self, before):
        """drtask-create leaves its DR task (and earlier SRs) behind when one SR fails to
        attach (reference pitfall 5): destroy what appeared since we started."""
        for task in set(self.xe.uuids("drtask")) - before:
            try:
                self.xe.run("drtask-destroy", {"uuid": task})
                self.run.append(NOTE, "leak:%s" % task, destroyed=True)
            except XeDrError as failure:
                self.run.append(NOTE, "leak:%s" % task, destroyed=False,
                                error=failure.one_line())


def _attached_here(spec, known, pbds, master):
    """The SRs of a LUN that this pool's master has attached already (its PBD names the
    SCSIid), or None when it has none. Such a LUN is not probed: on a multipathed host sm
    refuses a probe of a LUN whose multipath map exists (SR_DEVICE_IN_USE, sm's
    LVHDoISCSISR.py and LVHDoHBASR.py probe), so a resume would fail every time."""
    scsiid = spec.device_config.get("SCSIid")
    if not scsiid:
        return None
    found = []
    for pbd in pbds:
        sr = known.get(pbd["sr-uuid"])
        if sr is None or pbd["host-uuid"] != master or pbd["currently-attached"] != "true":
            continue
        if _TRANSPORT.get(sr.get("type")) != _TRANSPORT.get(spec.sr_type):
            continue
        if parse_map(pbd.get("device-config", "")).get("SCSIid") != scsiid:
            continue
        if all(f["uuid"] != sr["uuid"] for f in found):
            found.append({"uuid": sr["uuid"], "name_label": sr.get("name-label", ""),
                          "name_description": "", "pool_metadata_detected": None})
    return found or None


def plug_scans(hosts, master):
    """Whether the master's xapi scans an SR when its PBD is plugged (before 23.22.0)."""
    for host in hosts:
        if host.uuid == master:
            # an unknown version plans the re-plug too: the run itself decides by what xapi
            # has read after the scan
            return fidelity.plug_scans(fidelity.xapi_version(host.software_version)) is True
    return True


def _unreadable_probe(lun, found, failure):
    """xapi's DR_task.create parses the probe's XML itself (xapi_dr_task.ml parse_sr_probe,
    an "SR probe response was malformed" INTERNAL_ERROR), and sm prints a name as it is: an
    SR name holding a character XML 1.0 forbids stops drtask-create for that LUN, whatever
    xe-dr can read."""
    odd = [sr["name_label"] for sr in found
           if any(ord(c) < 0x20 and c not in "\t\n\r" for c in sr.get("name_label") or "")]
    return XeDrError(
        "xapi cannot read the probe of LUN %s%s: %s" % (
            lun, " (an SR name on it holds a control character: %s)" % ", ".join(
                repr(n) for n in odd) if odd else "", failure.one_line()),
        hint="introduce its SRs by hand (xe sr-introduce, pbd-create and pbd-plug on each "
             "host), then resume")


def sm_error(failure):
    """The SM error number of a failure, or of the xe error a failed step wraps."""
    return getattr(failure, "sm_error_number", None) or getattr(
        getattr(failure, "cause", None), "sm_error_number", None)


def storage_hint(failure):
    if sm_error(failure) == 47:
        return "the replica is not writable: halt the mirror (promote the copy at this site)"
    return "fix the storage as the error says"
