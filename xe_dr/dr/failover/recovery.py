"""The failover's recoveries: the newest metadata of each source pool, then each vApp and VM
recovered (through the host plugin, one database open per batch, or with plain xe) and its
VMs tagged with the run."""

import json

from xe_dr import interrupt
from xe_dr.dr.engine import StepFailed
from xe_dr.dr.failover.context import Phase
from xe_dr.dr.failover.start import Background
from xe_dr.dr.failover.options import (PLUGIN_PARALLEL, PLUGIN_PARALLEL_DEFAULT,
                                       RECOVERED_VMS)
from xe_dr.dr.inventory import find_metadata_copies, learn_membership, read_sources
from xe_dr.dr.plugin import (PLUGIN, ask_version, call_json, fallback_line, malformed,
                             master_label, required_error)
from xe_dr.dr.disk_checks import storage_refusal
from xe_dr.dr.steps import Call, Step
from xe_dr.errors import XeDrError


class RecoveryPhase(Phase):
    def ask_plugin_version(self):
        """Ask the master for the plugin's version now, beside the reads and checks before
        the first change: the recovery needs it, and the run need not wait for it then."""
        if self.ctx.use_plugin and self.pool.master:
            self.ctx.plugin_version = Background(ask_version, self.xe, self.pool.master,
                                                 daemon=True)

    def plugin_answer(self):
        """The plugin version this run uses (None: plain xe), decided once, before the first
        change: a plugin that is installed but does not answer is said (a note, the report's
        warnings, the confirmation) and the run goes on with plain xe; with --plugin
        required, a plugin missing or not answering refuses the run (exit 78)."""
        if self.ctx.plugin_answered is None:
            asked = self.ctx.plugin_version
            version, failure = asked.result() if asked is not None else (None, None)
            if self.ctx.plugin_required and version is None:
                raise required_error(master_label(self.xe, self.pool.master), failure)
            if failure is not None:
                line = fallback_line(master_label(self.xe, self.pool.master), failure,
                                     "the run goes on")
                self.ctx.plugin_fallback = line
                self.report["warnings"].append(line)
                self.progress.note(line)
            self.ctx.plugin_answered = (version,)
        return self.ctx.plugin_answered[0]

    def read_ahead(self):
        """Start reading the metadata now, beside the prechecks' reads. Only for a run that
        attaches nothing: the copies it reads (listed under its lock) are all it will see.
        The inventory (a database open) is the longest read before the first recovery; the
        others need not wait for it, nor it for them."""
        if self.ctx.copies is not None and self.ctx.sources_ahead is None:
            self.ctx.sources_ahead = Background(self._read_sources)

    def sources(self):
        """The source pools in the newest metadata here (read ahead, or now)."""
        ahead, self.ctx.sources_ahead = self.ctx.sources_ahead, None
        return ahead.result() if ahead is not None else self._read_sources()

    def _read_sources(self):
        version = self.plugin_answer()
        plugin = version is not None
        self.ctx.plugin_parallel = PLUGIN_PARALLEL.get(version, PLUGIN_PARALLEL_DEFAULT)
        # Version 1 of the plugin cannot keep a database open between calls.
        self.ctx.plugin_keep = self.run.id if plugin and self.run is not None and \
            version != "1" else None
        copies = self.ctx.copies
        if copies is None or self.opts.storage:
            copies = self._on_this_runs_luns(find_metadata_copies(self.xe, self.pool.uuid))
        sources = read_sources(self.xe, copies,
                               self.pool.master, plugin, keep=self.ctx.plugin_keep)
        if self.ctx.plugin_keep:
            self.ctx.kept.update(s.copy.vdi_uuid for s in sources)
        if not plugin and sources:
            self.ctx.reach_source(lambda xe: xe and learn_membership(sources, xe))
        self.ctx.plugin = plugin
        self.report["plugin"] = bool(plugin)
        self.report["sources"] = [{"uuid": s.uuid, "name_label": s.name_label,
                                   "vdi": s.copy.vdi_uuid, "sr": s.copy.sr_uuid,
                                   "generation": s.copy.generation, "via": s.via,
                                   "heartbeat": s.heartbeat,
                                   "heartbeat_unread": s.heartbeat_unread}
                                  for s in sources]
        return sources

    def _on_this_runs_luns(self, copies):
        """The metadata copies this run recovers from: with storage options, those on the
        SRs of its LUNs only. A DR pool that takes several source pools holds their copies
        side by side once their SRs are attached (an earlier failover, a test not cleaned
        up): a failover of one source must not recover, or fail on, another's VMs."""
        ours = set()
        for entry in self.report.get("storage") or ():
            ours.update(sr["uuid"] for sr in entry["found"]
                        if not self.opts.srs or sr["uuid"] in self.opts.srs)
        if not self.opts.storage or not ours:
            return copies
        others = [c for c in copies if c.sr_uuid not in ours]
        if others:
            self.progress.note("left out: %d metadata copy(ies) on SRs not on this run's "
                               "LUNs (another source pool's)" % len(others))
        return [c for c in copies if c.sr_uuid in ours]

    def waves(self, items):
        """The recovery in waves, each started as soon as it is recovered while the next one
        is recovered: with the plugin, when VMs are to be started, one wave per order group
        of standalone VMs (a wave's recovery, on a database the plugin keeps open, is much
        shorter than a group's start), the vApps in the second (so that they do not delay
        the first group). Plain xe keeps one wave: it cannot tell a vApp's members before
        recovering the vApp, and each of its calls opens the database again anyway."""
        todo = [i for i in items if not i.excluded]
        if not self.ctx.plugin or self.opts.power == "none":
            return [todo]
        members = {m.get("uuid") for i in todo if i.kind == "appliance"
                   for m in i.members or ()}
        vms = [i for i in todo if i.kind == "vm" and i.uuid not in members]
        waves = [[i for i in vms if i.order == order]
                 for order in sorted({i.order for i in vms})]
        others = [i for i in todo if i not in vms]
        if len(waves) < 2:
            waves.append(others)
        else:
            waves[1] = others + waves[1]
        return [wave for wave in waves if wave]

    def release_kept(self):
        """Close the foreign databases the plugin kept open for this run (best effort: xapi
        drops them itself when it restarts). Not after a second Ctrl-C: a recovery the run
        let go on may still be reading them."""
        if interrupt.abandoned():
            return
        if self.ctx.sources_ahead is not None:
            self.ctx.sources_ahead.wait()  # a read ahead that nobody used keeps one open too
            self.ctx.sources_ahead = None
        for vdi in sorted(self.ctx.kept):
            try:
                call_json(self.xe, self.pool.master, "release",
                          {"vdi": vdi, "keep": self.ctx.plugin_keep}, required=("released",))
            except XeDrError as failure:
                self.progress.note("could not close the metadata database of VDI %s: %s"
                                   % (vdi, failure.one_line()))
        self.ctx.kept.clear()

    def recover(self, items, by_vdi):
        """Returns {item uuid: [recovered VM uuids]} for the items recovered."""
        recovered = {}
        todo = [i for i in items if not i.excluded]
        appliances = [i for i in todo if i.kind == "appliance"]
        vms = [i for i in todo if i.kind == "vm"]
        if self.ctx.plugin:
            for vdi in sorted({i.vdi for i in todo}):
                batch = [i for i in todo if i.vdi == vdi]
                recovered.update(self._recover_with_plugin(vdi, batch))
        else:
            for item, result in zip(appliances, self.engine.do_many(
                    appliances, self.opts.parallel, self._recover_one)):
                if result is not None:
                    recovered[item.uuid] = result
            self._refused_by_xapi(appliances)
            members = {u for item in appliances for u in recovered.get(item.uuid, ())}
            # Plain xe learns a vApp's members only from its recovery (reference §2.3): while
            # one failed, any VM of its pool may be a member, and recovering it alone would
            # take it out of its vApp for good. Those wait for a resume (or the plugin).
            failed_sources = {item.vdi for item in appliances if item.uuid not in recovered}
            vms_left = []
            for item in vms:
                if item.uuid in members:
                    item.excluded = "recovered with its vApp"
                    self.engine.note("skip:%s" % item.uuid, reason=item.excluded)
                    self.progress.step("skipped", item.step, item.excluded)
                elif item.vdi in failed_sources:
                    item.excluded = ("not recovered: a vApp of its pool failed to recover and "
                                     "plain xe cannot tell its members; fix that and resume, "
                                     "or install the host plugin")
                    self.engine.note("defer:%s" % item.uuid, reason=item.excluded)
                    self.progress.step("left", item.step, item.excluded)
                else:
                    vms_left.append(item)
            for item, result in zip(vms_left, self.engine.do_many(
                    vms_left, self.opts.parallel, self._recover_one)):
                if result is not None:
                    recovered[item.uuid] = result
            self._refused_by_xapi(vms_left)
        return recovered

    def _refused_by_xapi(self, items):
        """Plain xe: a recovery refused by its own storage assert changed nothing, and leaves
        the object out with the verdict the precheck would have given (the check it stands
        in for, see disk_checks.check_storage), not as a failure."""
        by_step = dict((i.step, i) for i in items)
        for failure in list(self.engine.failures):
            item = by_step.get(failure.step)
            refusal = storage_refusal(item, failure.cause) if item is not None else None
            if refusal is None:
                continue
            self.engine.failures.remove(failure)
            item.excluded = refusal.message
            self.report["checks"].append(refusal.to_json())
            self.engine.note("refused:%s" % item.uuid, check=refusal.to_json())
            self.progress.note("left out, refused by its recovery's storage check (nothing "
                               "changed): %s" % refusal.message)

    def step(self, item):
        """Recover one vApp or VM with plain xe, then tag its VMs (their uuids are known
        once it is recovered)."""
        params = {"uuid": item.uuid, "database": {"vdi-uuid": item.vdi}}
        if self.opts.force:
            params["force"] = "true"
        call = Call("%s-recover" % item.kind, params)

        def action():
            self.xe.run(call.command, call.params)
            return self._tag_recovered(item)

        return Step(item.step, "recover %s %s" % (item.kind, item.name_label),
                    [call, self.ctx.tag_call("vm", RECOVERED_VMS)], action=action,
                    reconcile=lambda: self._find_recovered(item),
                    begin_data={"existed": self.existed(item)})

    def existed(self, item):
        """What of a recovery's effect was in the pool before it began (journaled with its
        "begin", so that a cleanup after the recovery was cut short destroys only what it
        made): the vApp itself, and its VMs; plain xe cannot tell a vApp's members, so any VM
        in the metadata counts. xapi keeps the uuids of what it recovers."""
        target = self.ctx.facts
        if target is None:  # a dry run: nothing is journaled
            return []
        if item.kind == "vm":
            candidates = [item.uuid]
        elif item.members is not None:
            candidates = [item.uuid] + [m["uuid"] for m in item.members]
        else:
            candidates = [item.uuid] + list(self.ctx.vm_sources)
        here = set(target.guests) | set(target.appliances)
        return sorted(u for u in candidates if u in here)

    def _recover_one(self, item):
        return self.engine.do(self.step(item))

    def _recovered_vms(self, item):
        if item.kind == "vm":
            return [item.uuid]
        return self.xe.uuids("vm", filters={"appliance": item.uuid})

    def _tag_recovered(self, item):
        vms = self._recovered_vms(item)
        for uuid in vms:
            self.ctx.tag("vm", uuid)
        return vms

    def _find_recovered(self, item):
        """After a crash mid-recovery: is the object in the pool, recovered from this copy?"""
        if item.kind == "vm":
            found = self.xe.list("vm", params=("uuid", "version"), filters={"uuid": item.uuid})
            if found and int(found[0].get("version") or 0) > item.version:
                return self._tag_recovered(item)
            return None
        if self.xe.uuids("appliance", filters={"uuid": item.uuid}):
            vms = self._recovered_vms(item)
            if vms:
                return self._tag_recovered(item)
        return None

    def _recover_with_plugin(self, vdi, batch):
        """One plugin call: one database open for the whole batch (reference §7.3)."""
        recovered = {}
        pending = []
        for item in batch:
            state = self.engine.state_of(item.step)
            if state == "done":
                recovered[item.uuid] = self.engine.result_of(item.step)
                self.progress.step("skipped", item.step, "")
                continue
            if state in ("begin", "failed"):
                found = self._find_recovered(item)
                if found is not None:
                    self.engine.record("done", item.step, result=found, reconciled=True)
                    recovered[item.uuid] = found
                    continue
            pending.append(item)
        if not pending:
            return recovered
        args = {"vdi": vdi, "force": "true" if self.opts.force else "false",
                "parallel": str(max(1, min(self.opts.parallel, self.ctx.plugin_parallel))),
                "tag": self.run.id,
                "kind": self.opts.mode,
                "keep": self.ctx.plugin_keep or "",
                "vms": json.dumps([i.uuid for i in pending if i.kind == "vm"]),
                "appliances": json.dumps([i.uuid for i in pending if i.kind == "appliance"])}
        call = self.engine.argv(Call("host-call-plugin", {
            "host-uuid": self.pool.master, "plugin": PLUGIN, "fn": "recover", "args": args}))
        # A Ctrl-C since the last step, or the deadline passed: this batch does not begin.
        self.engine.may_begin(pending[0].step)
        for item in pending:
            self.engine.record("begin", item.step, description="recover %s %s" % (
                item.kind, item.name_label), via="plugin", commands=[call],
                existed=self.existed(item))
        if self.ctx.plugin_keep:
            self.ctx.kept.add(vdi)
        answer = call_json(self.xe, self.pool.master, "recover", args, required=("results",))
        try:
            results = dict((r["uuid"], r) for r in answer["results"])
        except (KeyError, TypeError) as failure:
            raise malformed("recover", failure)
        for item in pending:
            result = results.get(item.uuid)
            if result and result.get("ok"):
                # A plugin that tagged in its session says so; one that did not (version 1)
                # ignored the tag argument, and xe tags (version 2 tagged the run, not its
                # kind: xe adds that).
                if result.get("tagged") == self.run.id and isinstance(
                        result.get("recovered_vms"), list):
                    vms = [str(u) for u in result["recovered_vms"]]
                    if result.get("tagged_kind") != self.opts.mode:
                        for uuid in vms:
                            self.ctx.tag("vm", uuid)
                else:
                    vms = self._tag_recovered(item)
                self.engine.record("done", item.step, result=vms, seconds=result.get("seconds"))
                recovered[item.uuid] = vms
            else:
                error = result.get("error") if result else ["NOT_IN_PLUGIN_ANSWER"]
                failure = StepFailed(item.step, XeDrError(" ".join(str(e) for e in error or ())),
                                     "recover %s %s" % (item.kind, item.name_label))
                self.engine.record("failed", item.step, error=failure.message,
                                   summary=failure.summary)
                self.engine.failures.append(failure)
        return recovered
