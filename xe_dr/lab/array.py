"""The storage array: LUNs, their copies at each site, and the mirror relation between them.

A LUN has one copy per site it is presented at. A mirrored LUN has a copy at A and one at B
(an estate's: at its source pool Ai and at Ai's DR pool Bj; the copy keyed by the pool's name
is the one presented to that pool's hosts, as the array's LUN masking presents each LUN to one
host group), with a relation ``{"source": "A", "state": "mirroring"|"broken", "frozen": bool}``
(an estate's LUNs also record their ``home`` pool, the source before any reverse):

* ``mirroring``: every write to the source copy is applied to the target copy too (unless
  ``frozen``, which models replication lag and lost writes); the target is read-only;
* ``broken``: both copies are writable and independent;
* ``reversed`` is ``mirroring`` from the DR copy to the home one (source B).

Each copy has its own SCSI id (as real replicas do) and lives in ``DIR/array/<lun>/<site>/``:
``vg.json`` is the LVM volume group the SR wrote (SR uuid, name, description and its VDIs, as
LVHD keeps them in its MGT volume) and ``LV-<vdi-uuid>`` files hold the bytes of the VDIs the lab
writes (metadata VDIs). LV files are sparse and as large as the VDI.

A copy may be hidden from some of its site's hosts (``mask``: LUN masking or zoning on the
array), which then do not see it; every other host of the site does. While a storage adapter's
point-in-time copy of a replica exists (copies.py), the replica is ``withdrawn`` from its hosts
(the copy is presented instead). An FC LUN copy presented by the adapter (``seq``) is seen by
a host only once that host's HBAs were rescanned after it (``hba_scans``: sm rescans in an
``sr-probe`` of lvmohba without a SCSIid and in a plug that misses its device; a power cycle
rescans).

A portal (one per site) may want CHAP: ``portals[site]["chap"] = {"user", "password"}``
(``set_chap``); sm.py checks it at discovery and login. An estate's pools of one side share
their side's array: their portals have one address and target IQN, each pool's entry its own
CHAP setting (the array's per-host-group CHAP) and its own LUN list (masking).
"""

import contextlib
import errno
import json
import os
import shutil

from . import util

STATE = ("state", "array.json")


@contextlib.contextmanager
def locked(lab, shared=False):
    with util.flocked(lab.path("locks", "array.lock"), shared=shared):
        yield


def load(lab):
    return util.read_json(lab.path(*STATE))


def save(lab, data):
    util.write_json(lab.path(*STATE), data)


def copy_dir(lab, lun_id, side):
    return lab.path("array", lun_id, side)


def lv_path(lab, lun_id, side, vdi_uuid):
    return os.path.join(copy_dir(lab, lun_id, side), "LV-" + vdi_uuid)


def home(lun):
    """The site (pool) a LUN belongs to: for a mirrored LUN, the production pool whose SRs it
    carries, the source of its mirror until a reverse. An estate's LUNs record it (``home``);
    the two-site lab's, whose files stay as they always were, do not: there a mirrored LUN's
    home is A, another LUN's the one site it is presented at."""
    if lun.get("home"):
        return lun["home"]
    if lun.get("mirror"):
        return "A"
    return sorted(lun["copies"])[0]


def mirror_state(lun):
    """mirroring (from its home), reversed (to its home), broken; None: not mirrored."""
    m = lun.get("mirror")
    if not m:
        return None
    if m["state"] == "mirroring":
        return "mirroring" if m["source"] == home(lun) else "reversed"
    return "broken"


def mirrored_from(data, source):
    """The ids of the LUNs mirrored from ``source``'s (their home's) copy, in natural order."""
    return [lun_id for lun_id in sorted(data["luns"], key=util.natural_key)
            if data["luns"][lun_id].get("mirror") and home(data["luns"][lun_id]) == source]


def storage_options(data, source, site):
    """xe-dr's storage options that reach, at ``site`` (a DR pool), the copies of the LUNs
    mirrored from ``source``: ``--target ADDRESS --iqn IQN --scsiid ID...`` for the iSCSI
    ones (with ``--chap-user`` when the portal wants CHAP: the password is left to the
    caller), ``--hba-scsiid ID`` for the FC ones."""
    iscsi, hba = [], []
    for lun_id in mirrored_from(data, source):
        lun = data["luns"][lun_id]
        copy = lun["copies"].get(site)
        if copy is not None:
            (iscsi if lun["transport"] == "iscsi" else hba).append(copy["scsiid"])
    if not (iscsi or hba):
        raise ValueError("no LUN of site %s is mirrored to site %s" % (source, site))
    args = []
    if iscsi:
        portal = data["portals"][site]
        args += ["--target", portal["address"], "--iqn", portal["iqn"]]
        for scsiid in iscsi:
            args += ["--scsiid", scsiid]
        if portal.get("chap"):
            args += ["--chap-user", portal["chap"]["user"]]
    for scsiid in hba:
        args += ["--hba-scsiid", scsiid]
    return args


def describe_state(lun):
    m = lun.get("mirror")
    if not m:
        return "not mirrored"
    state = mirror_state(lun)
    return "%s (source %s%s)" % (state, m["source"], ", frozen" if m.get("frozen") else "")


def writable(data, lun_id, side):
    """Whether ``side``'s copy of the LUN accepts writes (a mirror target does not)."""
    m = data["luns"][lun_id].get("mirror")
    if not m or m["state"] != "mirroring":
        return True
    return m["source"] == side


def _propagates(data, lun_id, side):
    m = data["luns"][lun_id].get("mirror")
    return bool(m and m["state"] == "mirroring" and m["source"] == side and not m.get("frozen"))


def _other(data, lun_id, side):
    return [s for s in data["luns"][lun_id]["copies"] if s != side]


def luns_at(data, site, host=None):
    """[(lun_id, lun, copy)] of the LUN copies presented at ``site`` (to the host whose uuid
    is ``host``, when given: see ``mask``, ``withdrawn`` and ``seq`` above)."""
    out = []
    for lun_id in sorted(data["luns"]):
        lun = data["luns"][lun_id]
        copy = lun["copies"].get(site)
        if copy is not None and (host is None or presented(data, lun, copy, host)):
            out.append((lun_id, lun, copy))
    return out


def presented(data, lun, copy, host):
    """Whether the host (uuid) sees this LUN copy."""
    if host in copy.get("hidden_from", ()) or copy.get("withdrawn"):
        return False
    if lun["transport"] == "fc" and copy.get("seq", 0) > data.get("hba_scans", {}).get(host, 0):
        return False  # presented after the host's last HBA rescan
    return True


def next_seq(data):
    """A new presentation number (for an FC LUN copy newly presented to its hosts)."""
    data["seq"] = data.get("seq", 0) + 1
    return data["seq"]


def rescanned(data, hosts):
    """The hosts' HBAs were rescanned: they see every FC LUN copy presented to them now."""
    scans = data.setdefault("hba_scans", {})
    for host in hosts:
        scans[host] = data.get("seq", 0)


def hba_rescan(lab, host):
    """sm rescanned the HBAs of one host (devscan.adapters -> scsiutil.rescan)."""
    with locked(lab):
        data = load(lab)
        if data.get("hba_scans", {}).get(host, 0) != data.get("seq", 0):
            rescanned(data, [host])
            save(lab, data)


def mask(lab, lun_id, site, hosts):
    """LUN masking (the array's host group, or FC zoning): ``site``'s copy of the LUN is
    presented to every host of the site but ``hosts`` (uuids; empty: to all again). A host the
    copy is hidden from does not find it: its iSCSI LUN list and HBA device list leave it out
    and a probe or plug naming its SCSI id fails as for a SCSI id the target does not have.
    The mask given is the presentation from then on: a replica withdrawn for a storage
    adapter's copy is presented again (both then seen: the duplicate volume group)."""
    with locked(lab):
        data = load(lab)
        if lun_id not in data["luns"]:
            raise ValueError("no LUN %s (the array has: %s)" % (
                lun_id, ", ".join(sorted(data["luns"]))))
        copy = data["luns"][lun_id]["copies"].get(site)
        if copy is None:
            raise ValueError("LUN %s has no copy at site %s" % (lun_id, site))
        if hosts:
            copy["hidden_from"] = sorted(set(hosts))
        else:
            copy.pop("hidden_from", None)
        copy.pop("withdrawn", None)  # the mask given is the presentation now
        save(lab, data)


def portal_chap(data, site):
    """(user, password) the site's portal requires (CHAP), or None."""
    chap = (data["portals"].get(site) or {}).get("chap")
    return (chap["user"], chap["password"]) if chap else None


def set_chap(lab, site, user=None, password=None):
    """Turn CHAP on (user and password) or off (None) on a site's portal."""
    with locked(lab):
        data = load(lab)
        portal = data["portals"][site]
        if user is None:
            portal.pop("chap", None)
        else:
            portal["chap"] = {"user": user, "password": password}
        save(lab, data)


def public_portals(data):
    """The portals without CHAP passwords (for show)."""
    out = {}
    for site, portal in data["portals"].items():
        p = dict(portal)
        if p.get("chap"):
            p["chap"] = {"user": p["chap"]["user"], "password": "<redacted>"}
        out[site] = p
    return out


def find_scsiid(data, site, scsiid):
    for lun_id, lun, copy in luns_at(data, site):
        if copy["scsiid"] == scsiid:
            return lun_id
    return None


def read_vg(lab, lun_id, side):
    try:
        return util.read_json(os.path.join(copy_dir(lab, lun_id, side), "vg.json"))
    except (IOError, OSError) as e:
        if e.errno == errno.ENOENT:
            return None
        raise


def write_vg(lab, data, lun_id, side, vg):
    """Write the VG metadata of a copy (and of its mirror target when replicating)."""
    for s in [side] + (_other(data, lun_id, side) if _propagates(data, lun_id, side) else []):
        d = copy_dir(lab, lun_id, s)
        util.makedirs(d)
        util.write_json(os.path.join(d, "vg.json"), vg)


def create_lv(lab, data, lun_id, side, vdi_uuid, size):
    for s in [side] + (_other(data, lun_id, side) if _propagates(data, lun_id, side) else []):
        d = copy_dir(lab, lun_id, s)
        util.makedirs(d)
        path = lv_path(lab, lun_id, s, vdi_uuid)
        with open(path, "ab") as f:
            f.truncate(size)


def remove_lv(lab, data, lun_id, side, vdi_uuid):
    for s in [side] + (_other(data, lun_id, side) if _propagates(data, lun_id, side) else []):
        try:
            os.unlink(lv_path(lab, lun_id, s, vdi_uuid))
        except OSError:
            pass


def write_lv(lab, data, lun_id, side, vdi_uuid, writer):
    """Call ``writer(path)`` on the copy's LV file and on the mirror target's when replicating."""
    for s in [side] + (_other(data, lun_id, side) if _propagates(data, lun_id, side) else []):
        path = lv_path(lab, lun_id, s, vdi_uuid)
        if os.path.exists(path):
            writer(path)


def _sparse_copy(src, dst):
    """Copy a file keeping its holes (SEEK_DATA/SEEK_HOLE where the platform has them)."""
    size = os.path.getsize(src)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        fo.truncate(size)
        fd = fi.fileno()
        pos = 0
        seek_data = getattr(os, "SEEK_DATA", None)
        while pos < size:
            if seek_data is not None:
                try:
                    start = os.lseek(fd, pos, seek_data)
                    end = os.lseek(fd, start, os.SEEK_HOLE)
                except OSError:
                    break
            else:
                start, end = pos, size
            fi.seek(start)
            fo.seek(start)
            remaining = end - start
            while remaining > 0:
                chunk = fi.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                fo.write(chunk)
                remaining -= len(chunk)
            pos = end


def sync_copy(lab, lun_id, source, target):
    """Make ``target``'s copy of the LUN identical to ``source``'s (resync)."""
    copy_tree(copy_dir(lab, lun_id, source), copy_dir(lab, lun_id, target))


def copy_tree(src, dst):
    """Make the LUN copy in folder ``dst`` a block copy of the one in ``src`` (sparse)."""
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    util.makedirs(dst)
    if not os.path.isdir(src):
        return
    for name in os.listdir(src):
        if name.startswith("LV-"):
            _sparse_copy(os.path.join(src, name), os.path.join(dst, name))
        elif not name.endswith(".tmp") and ".tmp." not in name:
            shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))


def mirror_action(lab, action, lun_ids=None):
    """break | resync | reverse | freeze | thaw on the mirrored LUNs (all, or ``lun_ids``)."""
    with locked(lab):
        data = load(lab)
        changed = []
        for lun_id in sorted(data["luns"]):
            lun = data["luns"][lun_id]
            m = lun.get("mirror")
            if not m or (lun_ids and lun_id not in lun_ids):
                continue
            source = m["source"]
            target = [s for s in lun["copies"] if s != source][0]
            if action == "break":
                m["state"] = "broken"
            elif action == "resync":
                m["state"] = "mirroring"
                m["frozen"] = False
                sync_copy(lab, lun_id, source, target)
            elif action == "reverse":
                m["source"] = target
                m["state"] = "mirroring"
                m["frozen"] = False
                sync_copy(lab, lun_id, target, source)
            elif action == "freeze":
                m["frozen"] = True
            elif action == "thaw":
                m["frozen"] = False
                if m["state"] == "mirroring":
                    sync_copy(lab, lun_id, source, target)
            else:
                raise ValueError("unknown mirror action %r" % action)
            changed.append(lun_id)
        save(lab, data)
        return changed


def dump(data):
    return json.dumps(data, indent=2, sort_keys=True)
