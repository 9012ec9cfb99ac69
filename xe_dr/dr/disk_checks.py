"""The prechecks that an object's disks are here: the SRs each VM needs attached (xapi's
VM.assert_can_be_recovered) and each disk found on them (xapi's import finds a disk by its SR
and location). Verdicts as in xe_dr/dr/prechecks.py."""

import re

from xe_dr.dr.plan import BLOCKING, OK, SKIPPED, Check
from xe_dr.xe.errors import XapiError

# A local reference as xe prints it in an error: "<uuid> (<name-label>)".
_LOCAL_REF = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                        r"[0-9a-fA-F]{12} \(.*\)$", re.DOTALL)


def check_storage(xe, items, sources_by_vdi, local_srs, assert_each=True):
    """Every SR a VM needs exists here and is attached (VM.assert_can_be_recovered); local
    storage can never be recovered. With the plugin the inventory already knows the SRs.
    Plain xe cannot tell them (reference §2.3): with ``assert_each`` each object is asserted
    with xe (one database open each, serialised by xapi); without it the check is left to the
    recovery, which makes the same assert before it changes anything (xapi, xapi_vm.ml
    ``recover`` and xapi_vm_appliance.ml ``recover``) and whose VM_REQUIRES_SR leaves the
    object out with the same verdict (:func:`storage_refusal`)."""
    checks = []
    deferred = 0
    for item in items:
        source = sources_by_vdi[item.vdi]
        vms = [source.vm(item.uuid)] if item.kind == "vm" else [
            source.vm(m["uuid"]) for m in item.members or ()]
        # A vApp whose members plain xe cannot tell is asserted as a whole (xapi asserts each
        # member, xapi_vm_appliance.ml assert_can_be_recovered).
        if vms and all(vm is not None and vm.srs is not None for vm in vms):
            missing, local = [], []
            for vm in vms:
                for sr in vm.srs:
                    if sr.get("local_storage"):
                        local.append(sr)
                    elif sr["uuid"] not in local_srs:
                        missing.append(sr)
            # An SR the metadata says holds no copy of it (plugin version 3 tells) was never
            # replicated: a disk there was never protected.
            unreplicated = [s for s in missing if s.get("replicated") is False]
            if local:
                checks.append(Check("storage:%s" % item.uuid, BLOCKING, "%s uses local storage "
                                    "(%s) and cannot be recovered" % (item.name_label, ", ".join(
                                        sorted({s["name_label"] for s in local}))),
                                    objects=[item.uuid], unprotected=True))
            elif missing and len(unreplicated) == len(missing):
                checks.append(Check("storage:%s" % item.uuid, BLOCKING, "%s is not protected: "
                                    "SR(s) %s hold no replicated metadata" % (
                                        item.name_label, ", ".join(sorted(
                                            {"%s (%s)" % (s["name_label"], s["uuid"])
                                             for s in missing}))),
                                    objects=[item.uuid], unprotected=True))
            elif missing:
                checks.append(Check("storage:%s" % item.uuid, BLOCKING, "%s needs SR(s) not "
                                    "attached here: %s" % (item.name_label, ", ".join(sorted(
                                        {"%s (%s)" % (s["name_label"], s["uuid"])
                                         for s in missing}))),
                                    fix="attach them (probe options or --sr)",
                                    objects=[item.uuid]))
            continue
        if not assert_each:
            deferred += 1
            continue
        command = "%s-assert-can-be-recovered" % item.kind
        try:
            xe.run(command, {"uuid": item.uuid, "database": {"vdi-uuid": item.vdi}})
        except XapiError as failure:
            refusal = storage_refusal(item, failure)
            if refusal is None:
                raise
            checks.append(refusal)
    if deferred:
        checks.append(Check("storage", SKIPPED, "the SRs of %d object(s) are checked as each "
                            "is recovered: plain xe cannot list them, and xapi asserts them "
                            "before it changes anything (an assert of each beforehand would "
                            "open the foreign database once more per object)" % deferred,
                            fix="a dry run (--dry-run) asserts each one first; the host "
                                "plugin checks them all with its inventory"))
    elif not checks:
        checks.append(Check("storage", OK, "every SR the selected VMs need is attached"))
    return checks


def storage_refusal(item, failure):
    """The storage verdict of a VM_REQUIRES_SR from xe (an assert, or a recovery's own assert:
    nothing was changed), or None for any other failure."""
    if not isinstance(failure, XapiError) or failure.code != "VM_REQUIRES_SR":
        return None
    sr = failure.param_map.get("sr") or "?"
    if _LOCAL_REF.match(sr):
        # xapi names an SR that is here but unplugged by its local reference, which xe
        # prints as "uuid (name)" (xapi_vm_helpers.ml assert_can_be_recovered)
        message = "%s needs SR %s, which is in this pool but not attached" % (
            item.name_label, sr)
        fix = "plug its PBDs (xe pbd-plug), then resume"
    else:
        message = ("%s needs an SR that is not in this pool (xe names it only by its "
                   "foreign reference %s; install the host plugin to see which)" % (
                       item.name_label, sr))
        fix = "attach the SRs that hold its disks"
    return Check("storage:%s" % item.uuid, BLOCKING, message, fix=fix, objects=[item.uuid])


def check_disks(items, sources_by_vdi, force, unscanned=()):
    """Every non-CD disk of every VM is here (xapi finds a disk by its SR and location,
    xen-api ocaml/xapi/import.ml). A missing one fails the recovery with VDI_LOCATION_MISSING,
    or, with force, recovers the VM *without* that disk: xe-dr refuses that VM, naming the
    disk. The plugin tells the disks; without it a recovery with --force is refused, because
    nothing else can check them (the asserts check SRs and PBDs, not disks).

    ``unscanned``: SRs a dry run would attach and scan first; their disks are known only
    then, so they are not counted missing (the run checks them after its scan)."""
    checks = []
    for item in items:
        source = sources_by_vdi[item.vdi]
        vms = [source.vm(item.uuid)] if item.kind == "vm" else [
            source.vm(m["uuid"]) for m in item.members or ()]
        if any(vm is None or vm.disks is None for vm in vms) or (
                item.kind == "appliance" and item.members is None):
            if force:
                checks.append(Check("disks:%s" % item.uuid, BLOCKING, "%s: --force would "
                                    "recover it without any disk that is not here, and its "
                                    "disks cannot be checked without the xe-dr host plugin"
                                    % item.name_label, fix="install the plugin (xe-dr plugin "
                                    "install), or leave out --force", objects=[item.uuid]))
            continue
        missing = ["%s: disk %s (%s) on SR %s" % (vm.name_label, d.get("name_label") or "?",
                                                  d["vdi"], d["sr"])
                   for vm in vms for d in vm.disks
                   if not d.get("here") and d["sr"] not in unscanned]
        if missing:
            checks.append(Check("disks:%s" % item.uuid, BLOCKING, "%s has disks that are "
                                "not here: %s" % (item.name_label, "; ".join(missing)),
                                fix="attach the SRs that hold them and scan them "
                                    "(xe sr-scan), then resume", objects=[item.uuid]))
    return checks
