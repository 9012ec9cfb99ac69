"""What a destructive run checks before its first change, and what it tells the operator
before it asks: the storage options against the target's LUNs, whether the source site was
seen to be down (split brain), and the two confirmations' texts.

Nothing here changes the pool.
"""

from xe_dr.dr.storage import StorageSpec, next_step, not_a_lun_text, probe
from xe_dr.errors import UnreachableError, UsageError, XeDrError
from xe_dr.runner import HostKeyRejected, LoginRefused, TransportFailed
from xe_dr.xe.errors import XapiError
from xe_dr.xe.records import parse_map
from xe_dr.marks import DISPOSABLE_KINDS

# How far the source site was checked (a real failover or failback): two pools writing one
# LUN corrupt it, and nothing but an administrator can fence a site xe-dr cannot reach.
CHECKED, DECLARED_DOWN, NOT_CHECKED, UNREACHABLE, NOT_NEEDED = (
    "checked", "declared down", "not checked", "unreachable", "not needed")


def source_state(mode, source, source_xe, target_pool=None):
    """One of the states above. ``source`` is the run's --source option (``{"host": ...}``
    or None); ``source_xe`` reaches it. An unreachable source is taken for down. A source
    that is the target pool itself (``target_pool``, its uuid) is refused: a run would shut
    down, as the source's, the VMs it is to bring here."""
    if mode in DISPOSABLE_KINDS:  # a test or a drill touches nothing at the source
        return NOT_NEEDED
    if source and source.get("host") == "down":
        return DECLARED_DOWN
    if source_xe is None:
        return NOT_CHECKED
    try:
        pools = source_xe.list("pool", params=("uuid",))
    except XeDrError as failure:
        if cannot_reach(failure):
            return UNREACHABLE
        raise  # it answered (a refused login, not the coordinator...): it is up
    if target_pool is not None and target_pool in [p.get("uuid") for p in pools]:
        raise UsageError("--source %s is this pool (%s), not the other site" % (
            source.get("host") if source else "?", target_pool),
            hint="give the other site's master; nothing was changed")
    return CHECKED


def cannot_reach(failure):
    """Whether ``failure`` says the pool could not be reached (taken for down), rather than
    that it answered with an error (it is up, whatever went wrong). A host key refused or a
    login refused are transport failures that nonetheless say the master answered: up."""
    if isinstance(failure, (HostKeyRejected, LoginRefused)):
        return False
    return isinstance(failure, (TransportFailed, UnreachableError)) or (
        isinstance(failure, XapiError) and failure.code == "CLI_CONNECTION_FAILED")


def fence_warning(state):
    """The split-brain warning for a source that was not seen, or None."""
    if state == NOT_CHECKED:
        return ("source not checked: make sure the source site is fenced (its VMs stopped, "
                "its LUNs detached), or give --source HOST (--source down if it is)")
    if state == UNREACHABLE:
        return ("source unreachable, so taken for down: make sure the source site is fenced "
                "(its VMs stopped, its LUNs detached)")
    return None


# An SR type's transport: a SCSI id known here counts only for the same transport.
TRANSPORT = {"lvmoiscsi": "iscsi", "lvhdoiscsi": "iscsi", "lvmohba": "hba", "lvhdohba": "hba"}


def check_luns(xe, specs, progress=None):
    """Every SCSI id given is a LUN of its target (iSCSI) or a device the HBAs see, or the
    LUN of an SR this pool knows already (its PBDs name it: the HBA device list leaves out
    the devices a PBD uses, and such an SR is plugged, not probed).

    The LUNs are *listed* (a probe without SCSIid), never probed one by one: a probe that
    names a SCSIid raises SR_DEVICE_IN_USE on a multipathed host whenever that LUN is
    attached there (sm's LVHDoISCSISR.py and LVHDoHBASR.py), and lvmohba answers a wrong
    SCSIid with an empty SR list instead of an error. ``progress`` shows the listings as the
    phase "probe"."""
    known = set()
    if specs:
        types = dict((r["uuid"], TRANSPORT.get(r.get("type"))) for r in xe.list(
            "sr", params=("uuid", "type")))
        known = {(types.get(p.get("sr-uuid")), parse_map(p.get("device-config", "")).get(
            "SCSIid")) for p in xe.list("pbd", params=("uuid", "sr-uuid", "device-config"))}
    todo, keys = [], []
    for spec in specs:
        scsiid = spec.device_config.get("SCSIid")
        if not scsiid or (TRANSPORT.get(spec.sr_type), scsiid) in known:
            continue
        base = dict((k, v) for k, v in spec.device_config.items() if k != "SCSIid")
        key = (spec.sr_type, tuple(sorted(base.items())))
        todo.append((spec, scsiid, key, base))
        if key not in keys:
            keys.append(key)
    if progress is not None and keys:
        progress.phase("probe", len(keys), "probe:")
    listed = {}
    for spec, scsiid, key, base in todo:
        if key not in listed:
            step = "probe:%d" % keys.index(key)
            if progress is not None:
                progress.step("begin", step, "list the LUNs of target %s" % base["target"]
                              if "target" in base else "list the LUNs the HBAs see")
            answer = probe(xe, StorageSpec(spec.sr_type, base, spec.chap_password))
            if answer["stage"] not in ("luns", "devices"):
                raise UsageError("the %s storage options do not reach a LUN list: %s" % (
                    spec.sr_type, next_step(answer)), hint="check them with 'xe-dr probe'")
            listed[key] = [item.get("scsi_id") for item in answer["items"]]
            if progress is not None:
                progress.step("done", step, "")
        if scsiid not in listed[key]:
            raise UsageError(not_a_lun_text(spec.sr_type, spec.device_config, listed[key]),
                             hint="'xe-dr probe' lists them; nothing was changed")
