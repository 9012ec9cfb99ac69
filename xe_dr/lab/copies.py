"""The array's point-in-time copies of replica LUNs, as a storage adapter asks for them (the
lab's adapter, ``DIR/bin/storage-adapter``, is adapter.py; the protocol is xe-dr's,
xe_dr/dr/adapter.py).

A copy is a LUN of its own in ``state/array.json``: ``<replica lun>.copy<N>``, one copy at the
replica's site with a SCSI id, serial and LUN number of its own, the replica's VG and LV bytes
as they were at the copy's instant (a sparse block copy: same SR uuid, the same LVM PV, so
LVM sees a duplicate wherever both are visible) and ``drill``: ``{"run", "replica", "site",
"created", "consistent"}``. It is not mirrored, so it is writable, while the mirror keeps
replicating site A's writes into the replica. While it exists the replica is ``withdrawn``
from the site's hosts and the copy is presented to the hosts the replica was presented to
(array.py): the DR hosts see the copy and not the replica. ``release`` destroys the run's
copies and presents the replicas again.

Options (``create --max-copies N --no-consistency-group --adapter-rescan xe-dr|adapter``, kept
in ``lab.json`` ``options``): how many copies may exist at once (``max_copies``); whether the
array copies several LUNs at one instant (``consistency_group``: all under one hold of the
array, else one LUN after another, the mirror writing in between); who rescans FC hosts
(``adapter_rescan``: ``xe-dr`` leaves it to the caller, ``adapter`` rescans the site's hosts
itself). Costs: ``array_copy`` per LUN, ``array_release`` per copy (costs.py), slept outside
the array's lock once the change is made.
"""

import hashlib
import os
import shutil

from . import array, costs, util

OPTIONS = {"max_copies": 8, "consistency_group": True, "adapter_rescan": "xe-dr"}
RESCAN_CHOICES = ("xe-dr", "adapter")


class CopyError(Exception):
    """What the array refuses or fails to do: one line for the adapter's ``error``."""


def option(lab, name):
    value = (lab.config.get("options") or {}).get(name)
    return OPTIONS[name] if value is None else value


def check_options(options):
    """ValueError for a bad adapter option of ``create``."""
    max_copies = options.get("max_copies")
    if max_copies is not None and (not isinstance(max_copies, int) or max_copies < 0):
        raise ValueError("max_copies is a number of copies (0 or more), not %r" % (max_copies,))
    rescan = options.get("adapter_rescan")
    if rescan is not None and rescan not in RESCAN_CHOICES:
        raise ValueError("adapter_rescan is %s, not %r" % (" or ".join(RESCAN_CHOICES), rescan))


def is_copy(lun):
    return bool(lun.get("drill"))


def _find(data, scsiid):
    """(lun_id, site) of the LUN copy (not a drill copy) with this SCSI id."""
    for lun_id, lun in sorted(data["luns"].items()):
        for site, copy in lun["copies"].items():
            if copy["scsiid"] == scsiid:
                if is_copy(lun):
                    raise CopyError("SCSI id %s is a copy made for run %s, not a replica"
                                    % (scsiid, lun["drill"]["run"]))
                return lun_id, site
    raise CopyError("no LUN with SCSI id %s on the array" % scsiid)


def _replica(data, scsiid):
    lun_id, site = _find(data, scsiid)
    if array.writable(data, lun_id, site):
        raise CopyError("LUN %s (SCSI id %s) at site %s is not a replica: %s" % (
            lun_id, scsiid, site, array.describe_state(data["luns"][lun_id])))
    return lun_id, site


def run_copies(data, run):
    """[(copy lun id, lun)] of a run, in the order they were made."""
    mine = [(lun_id, lun) for lun_id, lun in data["luns"].items()
            if is_copy(lun) and lun["drill"]["run"] == run]
    return sorted(mine, key=lambda item: item[1]["drill"]["number"])


def describe(data, lun_id):
    """The protocol's description of a copy."""
    lun = data["luns"][lun_id]
    drill = lun["drill"]
    copy = lun["copies"][drill["site"]]
    replica = data["luns"][drill["replica"]]["copies"][drill["site"]]
    out = {"replica": replica["scsiid"], "scsiid": copy["scsiid"],
           "transport": lun["transport"]}
    if lun["transport"] == "iscsi":
        portal = data["portals"][drill["site"]]
        out.update(target=portal["address"], iqn=copy["target"], port=int(portal["port"]))
    return out


def _hex(seed, n):
    return hashlib.sha1(("%s/%s" % (seed, n)).encode("utf-8")).hexdigest()


def _clone(lab, data, lun_id, site, run, consistent):
    """Make the copy (under the array's lock): block copy, LUN entry, presentation."""
    number = data.get("next_copy", 1)
    data["next_copy"] = number + 1
    lun = data["luns"][lun_id]
    replica = lun["copies"][site]
    new_id = "%s.copy%d" % (lun_id, number)
    array.copy_tree(array.copy_dir(lab, lun_id, site), array.copy_dir(lab, new_id, site))
    digest = _hex(lab.config.get("seed"), "%s/%d" % (lun_id, number))
    copy = {"scsiid": "36001405" + digest[:24], "serial": digest[24:40].upper(),
            "lunid": 100 + number, "target": replica.get("target", "")}
    if replica.get("hidden_from"):
        copy["hidden_from"] = list(replica["hidden_from"])
    if lun["transport"] == "fc":
        copy["seq"] = array.next_seq(data)
    data["luns"][new_id] = {
        "size": lun["size"], "transport": lun["transport"], "vendor": lun.get("vendor", ""),
        "copies": {site: copy}, "mirror": None,
        "drill": {"run": run, "replica": lun_id, "site": site, "number": number,
                  "created": util.xapi_date(), "consistent": consistent}}
    replica["withdrawn"] = run
    return new_id


def _site_hosts(lab, site):
    return [row["uuid"] for row in lab.site(site).read().rows("host").values()]


def _adapter_rescan(lab, data, sites):
    if option(lab, "adapter_rescan") == "adapter":
        for site in sites:
            array.rescanned(data, _site_hosts(lab, site))


def copy(lab, run, scsiids):
    """Copies of the replicas ``scsiids`` for ``run`` -> (consistent, [copy lun ids]); the
    run's copies when it already has copies of exactly these LUNs. With a consistency group
    every copy is made in one hold of the array's lock (nothing is written meanwhile: one
    instant); without one, one LUN per hold, the copy's time passing in between."""
    group = bool(option(lab, "consistency_group"))
    made = []
    pending = None
    consistent = True
    while pending is None or pending:
        with array.locked(lab):
            data = array.load(lab)
            if pending is None:
                existing = run_copies(data, run)
                if existing:
                    return _existing(data, run, existing, scsiids)
                pending = _check(lab, data, scsiids)
                consistent = group or len(pending) == 1
            batch, pending = (pending, []) if group else (pending[:1], pending[1:])
            for lun_id, site in batch:
                made.append(_clone(lab, data, lun_id, site, run, consistent))
            _adapter_rescan(lab, data, set(site for _, site in batch))
            array.save(lab, data)
        util.sleep(costs.seconds(lab, "array_copy") * len(batch))
    return consistent, made


def _existing(data, run, existing, scsiids):
    had = [describe(data, lun_id)["replica"] for lun_id, _ in existing]
    if sorted(had) != sorted(scsiids):
        raise CopyError("run %s already has copies of %s: release it first"
                        % (run, ", ".join(had)))
    return (all(lun["drill"]["consistent"] for _, lun in existing),
            [lun_id for lun_id, _ in existing])


def _check(lab, data, scsiids):
    """[(lun id, site)] of the replicas to copy, or the CopyError the array answers."""
    targets = [_replica(data, scsiid) for scsiid in scsiids]
    for lun_id, site in targets:
        replica = data["luns"][lun_id]["copies"][site]
        if replica.get("withdrawn"):
            raise CopyError("LUN %s (SCSI id %s) already has a copy, for run %s: release it "
                            "first" % (lun_id, replica["scsiid"], replica["withdrawn"]))
    in_use = sum(1 for lun in data["luns"].values() if is_copy(lun))
    limit = int(option(lab, "max_copies"))
    if in_use + len(targets) > limit:
        raise CopyError("the array's copy limit is reached: %d in use, %d asked, at most %d"
                        % (in_use, len(targets), limit))
    return targets


def listing(lab, run):
    data = array.load(lab)
    return [describe(data, lun_id) for lun_id, _ in run_copies(data, run)]


def answer(lab, run, lun_ids):
    data = array.load(lab)
    return [describe(data, lun_id) for lun_id in lun_ids if lun_id in data["luns"]]


def release(lab, run):
    """Destroy the run's copies and present their replicas again -> [released SCSI ids]."""
    with array.locked(lab):
        data = array.load(lab)
        mine = run_copies(data, run)
        released = []
        sites = set()
        for lun_id, lun in mine:
            drill = lun["drill"]
            sites.add(drill["site"])
            released.append(lun["copies"][drill["site"]]["scsiid"])
            replica_lun = data["luns"].get(drill["replica"])
            replica = (replica_lun or {}).get("copies", {}).get(drill["site"])
            if replica is not None and replica.get("withdrawn") == run:
                del replica["withdrawn"]
                if replica_lun["transport"] == "fc":
                    replica["seq"] = array.next_seq(data)  # newly presented again
            del data["luns"][lun_id]
        if mine:
            _adapter_rescan(lab, data, sites)
            array.save(lab, data)
    for lun_id, lun in mine:
        shutil.rmtree(os.path.dirname(array.copy_dir(lab, lun_id, lun["drill"]["site"])),
                      ignore_errors=True)
    util.sleep(costs.seconds(lab, "array_release") * len(mine))
    return released


# -- the mirror, for failback and planned migration -----------------------------------------

def _mirrored(data, scsiid):
    lun_id, _ = _find(data, scsiid)
    if not data["luns"][lun_id].get("mirror"):
        raise CopyError("LUN %s (SCSI id %s) is not mirrored" % (lun_id, scsiid))
    return lun_id


def mirror_state(lab, scsiids):
    data = array.load(lab)
    out = []
    for scsiid in scsiids:
        lun = data["luns"][_mirrored(data, scsiid)]
        out.append({"lun": scsiid, "state": array.mirror_state(lun),
                    "source": lun["mirror"]["source"]})
    return out


def mirror(lab, action, scsiids):
    """``break`` (halt) or ``reverse`` the mirror of these LUNs -> their state after."""
    data = array.load(lab)
    lun_ids = [_mirrored(data, scsiid) for scsiid in scsiids]
    array.mirror_action(lab, action, lun_ids)
    return mirror_state(lab, scsiids)
