"""Whether the DR hosts see the mirrored LUNs of the replication SRs (the DR site's readiness,
xe_dr/dr/readiness.py).

A mirror has a SCSI id of its own (the array gives each copy one), so it is found by the SR
uuid its VG carries: each DR host *lists* the LUNs of the DR pool's own iSCSI portals (the
device-config of its lvmoiscsi PBDs, CHAP by the PBD's own secret: xapi keeps no password in
a PBD) and its HBA devices, with ``sr-probe`` without a SCSI id (xapi-project/sm
LVHDoISCSISR.probe / LVHDoHBASR.probe: the LUN list or Devlist, nothing written to the pool
database; xe_dr/dr/storage.py ``probe``, as ``xe-dr probe`` does); then each LUN seen that no
DR SR uses is probed once for the SRs on it (``<SRlist>``). A LUN the DR pool has attached
is never probed by SCSI id: with multipathing sm refuses that (SR_DEVICE_IN_USE), and its SR
is known from its PBD anyway.
"""

from concurrent.futures import ThreadPoolExecutor

from xe_dr.dr.guard import TRANSPORT
from xe_dr.dr.plugin import failure_line
from xe_dr.dr.storage import HBA, ISCSI, StorageSpec, probe
from xe_dr.errors import XeDrError
from xe_dr.exitcodes import ExitCode
from xe_dr.runner import CommandTimedOut

MOST_AT_ONCE = 4  # per-host calls (free memory, plugin, probes) made at once
# What a DR pool's iSCSI PBD tells of its array's portal (never a password: xapi keeps only
# the uuid of a secret, chappassword_secret).
PORTAL_KEYS = ("target", "port", "targetIQN", "chapuser", "chappassword_secret")


def each(function, items):
    """[function(item)] in order, a few at once (each is a round trip to the DR pool); the
    first exception is raised."""
    items = list(items)
    if len(items) < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(MOST_AT_ONCE, len(items))) as calls:
        futures = [calls.submit(function, item) for item in items]
    return [future.result() for future in futures]


def answered(failure):
    """Whether an error is the DR pool's answer to one check (xapi or sm refused, a probe
    timed out), rather than the pool being out of reach."""
    return isinstance(failure, CommandTimedOut) or (
        isinstance(failure, XeDrError) and failure.exit_code == ExitCode.FAILED)


def names(values, most=8):
    """``a, b, c and 5 more``."""
    values = list(values)
    text = ", ".join(values[:most])
    return text + (" and %d more" % (len(values) - most) if len(values) > most else "")


def mirror_visibility(result, facts, targets, peer, peer_xe):
    """Fill ``luns_invisible``, ``luns_unchecked``, problems and notes of a readiness
    ``result`` (xe_dr/dr/readiness.py): which replication SRs' mirrors the DR hosts see.
    ``facts`` and ``peer``: the PoolSnapshots of the protected pool and the DR pool."""
    source_scsiid = {}
    for pbd in facts.pbds:
        if pbd["device_config"].get("SCSIid"):
            source_scsiid.setdefault(pbd["sr"], pbd["device_config"]["SCSIid"])
    known = {}  # SR uuid -> SCSI id, for the SRs the DR pool has PBDs for
    used = set()
    for pbd in peer.pbds:
        scsiid = pbd["device_config"].get("SCSIid")
        if scsiid:
            used.add(scsiid)
            known.setdefault(pbd["sr"], scsiid)
    wanted, unchecked = [], []
    for target in targets:
        transport = TRANSPORT.get(facts.srs.get(target["sr"], {}).get("type"))
        if transport is None:
            unchecked.append(target["sr_name"])
        elif target["sr"] not in known:  # known there: attached_at_both says more
            wanted.append((target, transport))
    if unchecked:
        result["notes"].append("the mirrored LUNs of %s were not checked: not LVM over iSCSI "
                               "or HBA" % names(unchecked))
    if not wanted:
        result["luns_unchecked"] = unchecked
        return
    portals = []
    for pbd in peer.pbds:
        if TRANSPORT.get(peer.srs.get(pbd["sr"], {}).get("type")) == "iscsi":
            config = dict((k, v) for k, v in pbd["device_config"].items()
                          if k in PORTAL_KEYS)
            if config.get("target") and config not in portals:
                portals.append(config)
    specs = []
    if any(transport == "iscsi" for _, transport in wanted):
        if portals:
            specs += [StorageSpec(ISCSI, config) for config in portals]
        else:
            iscsi = [t["sr_name"] for t, transport in wanted if transport == "iscsi"]
            unchecked += iscsi
            result["notes"].append(
                "the DR pool has no iSCSI SR to learn its array's portal from: the mirrored "
                "LUNs of %s were not checked ('xe-dr -H <DR master> probe --target ADDRESS' "
                "lists them)" % names(iscsi))
            wanted = [(t, transport) for t, transport in wanted if transport != "iscsi"]
    if any(transport == "hba" for _, transport in wanted):
        specs.append(StorageSpec(HBA, {}))
    result["luns_unchecked"] = unchecked
    if not wanted:
        return

    # Each host lists what it sees (a few probes at once).
    jobs = [(host, spec) for host in peer.hosts for spec in specs]
    seen = dict((host.uuid, set()) for host in peer.hosts)
    where = {}  # SCSI id -> (spec, a host that sees it)
    listed = set()  # the transports some host could list
    for (host, spec), (ids, failure) in zip(jobs, each(lambda job: _listing(peer_xe, *job),
                                                        jobs)):
        if failure is not None:
            result["problems"].append("DR host %s cannot list %s: %s" % (
                host.name_label, _what(spec), failure))
            continue
        listed.add(TRANSPORT[spec.sr_type])
        seen[host.uuid].update(ids)
        for scsiid in ids:
            if scsiid not in used:
                where.setdefault(scsiid, (spec, host))
    # The SRs on each LUN seen that no DR SR uses: where the mirrors are.
    carriers = {}
    order = sorted(where)
    for scsiid, srs in zip(order, each(lambda s: _srs_on(peer_xe, s, *where[s]), order)):
        for sr in srs:
            carriers.setdefault(sr, scsiid)
    for target, transport in wanted:
        scsiid = carriers.get(target["sr"])
        if scsiid is None:
            lost = source_scsiid.get(target["sr"]) or target["sr"]
            result["luns_invisible"].append(lost)
            if transport not in listed:
                continue  # no host could list them: the lines above say why
            result["problems"].append(
                "no LUN the DR hosts see carries SR %s (the mirror of LUN %s): present the "
                "mirrored LUN to the DR hosts on the array (replication pair, host group or "
                "zoning)" % (target["sr_name"], lost))
            continue
        blind = [h.name_label for h in peer.hosts if scsiid not in seen[h.uuid]]
        if blind:
            result["luns_invisible"].append(scsiid)
            result["problems"].append(
                "LUN %s (the mirror of SR %s) is not visible to DR host(s) %s: present it to "
                "them on the array (LUN masking or zoning)" % (scsiid, target["sr_name"],
                                                               names(blind)))


def _what(spec):
    if spec.sr_type == HBA:
        return "the LUNs its HBAs see"
    return "the LUNs of iSCSI target %s (%s)" % (spec.device_config.get("target"),
                                                 spec.device_config.get("targetIQN", "?"))


def _listing(peer_xe, host, spec):
    """(SCSI ids the host sees through ``spec``, None) or (None, why not)."""
    try:
        answer = probe(peer_xe, spec, host=host.uuid)
    except XeDrError as failure:
        if not answered(failure):
            raise
        return None, failure_line(failure)
    if answer["stage"] not in ("luns", "devices"):
        return None, "the probe stopped at %s" % answer["stage"]
    return [item.get("scsi_id") for item in answer["items"] if item.get("scsi_id")], None


def _srs_on(peer_xe, scsiid, spec, host):
    """The SR uuids on a LUN (an SR's VG carries its uuid); [] when it cannot be read."""
    config = dict(spec.device_config, SCSIid=scsiid)
    try:
        answer = probe(peer_xe, StorageSpec(spec.sr_type, config), host=host.uuid)
    except XeDrError as failure:
        if not answered(failure):
            raise
        return []
    return [sr["uuid"] for sr in answer["items"]] if answer["stage"] == "srs" else []
