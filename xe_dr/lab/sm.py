"""The storage manager side: ``SR.probe`` and ``SR.attach`` of LVM over iSCSI / HBA.

Probing follows sm's ``BaseISCSI.load`` / ``LVHDoISCSISR`` / ``LVHDoHBASR`` order of checks
(reference section 5) against the array's view from the probing site:

lvmoiscsi: no target -> 95; no initiator IQN (host other-config:iscsi_iqn, or localIQN) -> 97;
unresolvable first target -> 140; ``chapuser`` with ``chappassword_secret`` naming no secret ->
20; bad port -> 142; no targetIQN -> portal unreachable 141, else discovery (68 when the portal
wants CHAP and did not get it right) and the IQN list on stderr and 96; CHAP not right -> 68
(the discovery or login in ``attach``); wrong targetIQN -> the discovery finds nothing for it:
the IQN list on stderr and 83 ``[opterr=check target settings]``; no SCSIid -> the LUN list on
stderr and 107; multipathing on and the SCSIid's map on this host -> 16, which xapi turns into
SR_DEVICE_IN_USE (sm_exec.ml); a SCSIid the target does not have -> 107 with nothing on
stderr (BaseISCSI.attach); else the ``<SRlist>``.

CHAP (``BaseISCSI.load``): credentials count only when ``chapuser`` is there with
``chappassword`` or ``chappassword_secret`` (the secret wins, read with ``secret.get_by_uuid``;
failing that, ``InvalidSecret`` 20 ``[opterr=Unable to look up secret [<uuid>]]``), and are
used only when both are non-empty (``iscsi.discovery`` / ``iscsi.login``). Both discovery and
login failures are ``ISCSILogin`` 68 without opterr (``iscsi.py``). A portal without CHAP
accepts any credentials.
lvmohba: no SCSIid -> the ``<Devlist>`` on stderr and 107; multipath map on this host -> 16;
a SCSIid no HBA sees -> an empty ``<SRlist/>`` (lvutil.scan_srlist swallows the missing
device); else ``<SRlist>``. SR.attach of a SCSIid that is not there -> 107.

Rescans: an lvmohba probe without a SCSIid rescans the host's HBAs first, and so does a plug
that misses its device (array.py ``seq``). A duplicate volume group (a LUN and its block copy
both seen by the host): a probe with ``metadata=true`` fails with SR_BACKEND_FAILURE_1200
``Input/output error`` (``duplicate_error``).

XML comes from ``xml.dom.minidom`` ``toprettyxml()`` exactly as sm prints it; what sm prints to
stderr with ``print`` gains one more newline, and becomes the third error parameter.
"""

import re
import xml.dom.minidom

from . import array, util
from .errors import XapiError, sm_error

ISCSI_TYPES = ("lvmoiscsi", "lvhdoiscsi")
HBA_TYPES = ("lvmohba", "lvhdohba")
LVM_LUN_TYPES = ISCSI_TYPES + HBA_TYPES
KNOWN_TYPES = LVM_LUN_TYPES + ("nfs", "lvm", "ext", "iso", "udev", "file", "smb", "dummy")
DEFAULT_PORT = 3260
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def _doc(root_name, entries):
    """A minidom document: ``entries`` is a list of (element name, [(child, text)...])."""
    dom = xml.dom.minidom.Document()
    root = dom.createElement(root_name)
    dom.appendChild(root)
    for name, children in entries:
        e = dom.createElement(name)
        root.appendChild(e)
        for child, text in children:
            c = dom.createElement(child)
            e.appendChild(c)
            c.appendChild(dom.createTextNode(str(text)))
    return dom.toprettyxml()


def _resolve(data, target):
    if _IPV4.match(target):
        return target
    for portal in data["portals"].values():
        if portal["hostname"] == target:
            return portal["address"]
    return None


def _portal(data, site, address, port):
    portal = data["portals"].get(site)
    if portal and portal["address"] == address and int(portal.get("port", DEFAULT_PORT)) == port:
        return portal
    return None


def _target_luns(data, site, iqn, host_uuid=None):
    """The target's LUNs that the host (its initiator) is presented (array.mask)."""
    return [(lun_id, lun, copy) for lun_id, lun, copy in array.luns_at(data, site, host_uuid)
            if lun["transport"] == "iscsi" and copy.get("target") == iqn]


def _map_exists(db, host_ref, scsiid):
    """Whether the host has a multipath map for the LUN: it has the LUN attached (a PBD of
    that host naming the SCSIid is plugged)."""
    for row in db.rows("PBD").values():
        if row.get("host") == host_ref and row.get("currently_attached") and \
                (row.get("device_config") or {}).get("SCSIid") == scsiid:
            return True
    return False


def iscsi_lun(data, site, db, host_ref, dc, probing=True):
    """The LUN id that an lvmoiscsi device-config names, or the SM error of sm's checks."""
    if not dc.get("target"):
        raise sm_error(95)
    host = db.get("host", host_ref)
    local_iqn = dc.get("localIQN") if "localIQN" in dc else \
        (host.get("other_config") or {}).get("iscsi_iqn")
    if not local_iqn:
        raise sm_error(97)
    first = dc["target"].split(",")[0]
    address = _resolve(data, first)
    if address is None:
        raise sm_error(140)
    credentials = chap_credentials(db, dc)
    port = DEFAULT_PORT
    if dc.get("port"):
        try:
            port = int(dc["port"])
        except ValueError:
            raise sm_error(142)
    if port > 65535 or port < 1:
        raise sm_error(142)
    portal = _portal(data, site, address, port)
    if not dc.get("targetIQN"):
        if portal is None:
            raise sm_error(141)
        _chap_login(data, site, credentials)
        raise sm_error(96, _iqn_xml(_iqn_entries(portal, address, port, dc["target"])) + "\n")
    if portal is None:
        raise sm_error(141)
    _chap_login(data, site, credentials)
    iqn = dc["targetIQN"]
    if iqn != "*" and iqn != portal["iqn"]:
        # BaseISCSI.attach: discovery filtered by the IQN (iscsi.parse_node_output) is
        # empty, so _scan_IQNs prints the target's IQNs and ISCSIDiscovery is raised
        raise sm_error(83, _iqn_xml(_iqn_entries(portal, address, port, dc["target"])) + "\n",
                       opterr="check target settings")
    luns = _target_luns(data, site, portal["iqn"], host["uuid"])
    scsiid = dc.get("SCSIid")
    if not scsiid:
        raise sm_error(107, _lun_xml(luns) + "\n")
    if probing and host.get("multipathing") and _map_exists(db, host_ref, scsiid):
        # LVHDoISCSISR.probe checks the map before it attaches anything
        raise sm_error(16)
    found = [lun_id for lun_id, lun, copy in luns if copy["scsiid"] == scsiid]
    if not found:
        # BaseISCSI.attach: no /dev/disk/by-scsid/<SCSIid> after the LUN refresh raises
        # ConfigSCSIid with nothing printed (the LUN list is printed only without a SCSIid)
        raise sm_error(107)
    return found[0]


def _iqn_entries(portal, address, port, targetlist):
    """What BaseISCSI._scan_IQNs prints: the discovered (portal, tpgt, IQN), then the wildcard
    entry on ``targetlist`` (LVHDoISCSISR copies the device-config target there as given)."""
    return [("%s:%d" % (address, port), "1", portal["iqn"]),
            ("%s:%d" % (targetlist, port), "0", "*")]


def chap_credentials(db, dc):
    """(user, password) that sm would offer, or ("", "") (BaseISCSI.load)."""
    if "chapuser" not in dc or not ("chappassword" in dc or "chappassword_secret" in dc):
        return "", ""
    if "chappassword_secret" in dc:
        ref = db.lookup_uuid("secret", dc["chappassword_secret"])
        if ref is None:
            raise sm_error(20, opterr="Unable to look up secret [%s]"
                           % dc["chappassword_secret"])
        password = db.get("secret", ref).get("value", "")
    else:
        password = dc["chappassword"]
    return dc["chapuser"], password


def _chap_login(data, site, credentials):
    """Discovery or login at a portal: 68 if it wants CHAP and the credentials are not its."""
    wanted = array.portal_chap(data, site)
    if wanted is None:
        return
    user, password = credentials
    if not (user and password) or (user, password) != tuple(wanted):
        raise sm_error(68)


def _iqn_xml(entries):
    out = []
    for index, (address, _tpgt, iqn) in enumerate(entries):
        addr, _, port = address.rpartition(":")
        children = [("Index", index), ("IPAddress", addr)]
        if int(port) != DEFAULT_PORT:
            children.append(("Port", port))
        children.append(("TargetIQN", iqn))
        out.append(("TGT", children))
    return _doc("iscsi-target-iqns", out)


def _lun_xml(luns):
    out = []
    for lun_id, lun, copy in luns:
        children = []
        for key, value in (("vendor", lun.get("vendor")), ("serial", copy.get("serial")),
                           ("LUNid", copy.get("lunid")), ("size", lun.get("size")),
                           ("SCSIid", copy.get("scsiid"))):
            if value not in (None, ""):
                children.append((key, value))
        out.append(("LUN", children))
    return _doc("iscsi-target", out)


def _devlist_xml(data, site, db, host_uuid=None):
    dom = xml.dom.minidom.Document()
    root = dom.createElement("Devlist")
    dom.appendChild(root)
    hbas = data.get("hbas", {}).get(site, [])
    used = set((row.get("device_config") or {}).get("SCSIid") for row in db.rows("PBD").values())
    dev = 1
    for lun_id, lun, copy in array.luns_at(data, site, host_uuid):
        if lun["transport"] != "fc":
            continue
        dev += len(hbas)
        if copy["scsiid"] in used:
            continue
        d = dom.createElement("BlockDevice")
        root.appendChild(d)
        letter = "abcdefghijklmnopqrstuvwxyz"[dev % 26]
        paths = "/dev/sd%s" % letter + "".join(
            " [sd%s]" % "abcdefghijklmnopqrstuvwxyz"[(dev + k) % 26] for k in range(1, len(hbas)))
        values = [("path", paths), ("numpaths", max(1, len(hbas))), ("SCSIid", copy["scsiid"]),
                  ("vendor", lun.get("vendor", "")), ("serial", copy.get("serial", "")),
                  ("size", lun["size"]), ("adapter", hbas[0]["id"] if hbas else "0"),
                  ("channel", 0), ("id", 0), ("lun", copy.get("lunid", 0)),
                  ("hba", hbas[0]["name"] if hbas else "")]
        for key, value in values:
            e = dom.createElement(key)
            d.appendChild(e)
            e.appendChild(dom.createTextNode(str(value)))
    for h in hbas:
        a = dom.createElement("Adapter")
        root.appendChild(a)
        for key in ("host", "name", "manufacturer", "id", "node_name", "port_name", "port_state",
                    "speed", "supported_speeds"):
            e = dom.createElement(key)
            a.appendChild(e)
            e.appendChild(dom.createTextNode(str(h.get(key, ""))))
    return dom.toprettyxml()


def hba_lun(data, site, db, host_ref, dc, probing=True):
    """The LUN id an lvmohba device-config names; None when probing for a SCSIid no HBA sees
    (LVHDoHBASR.probe: lvutil.scan_srlist swallows the device's absence and the answer is an
    empty SR list)."""
    scsiid = dc.get("SCSIid")
    host_uuid = db.get("host", host_ref)["uuid"]
    if not scsiid:
        raise sm_error(107, _devlist_xml(data, site, db, host_uuid) + "\n")
    if probing and db.get("host", host_ref).get("multipathing") and \
            _map_exists(db, host_ref, scsiid):
        raise sm_error(16)
    found = [lun_id for lun_id, lun, copy in array.luns_at(data, site, host_uuid)
             if lun["transport"] == "fc" and copy["scsiid"] == scsiid]
    if not found:
        if probing:
            return None
        raise sm_error(107)
    return found[0]


def find_lun(data, site, db, host_ref, sr_type, dc, probing=True):
    if sr_type in ISCSI_TYPES:
        return iscsi_lun(data, site, db, host_ref, dc, probing)
    return hba_lun(data, site, db, host_ref, dc, probing)


def srlist_xml(vgs, metadata):
    """lvutil.srlist_toxml: one <SR> per VG found; the MGT fields only with metadata=true."""
    out = []
    for vg, devlist, size in vgs:
        children = [("UUID", vg["sr_uuid"]), ("Devlist", devlist), ("size", size)]
        if metadata:
            detected = any(v.get("type") == "metadata" and not v.get("is_a_snapshot")
                           for v in vg.get("vdis", {}).values())
            children += [("name_label", vg.get("name_label", "")),
                         ("name_description", vg.get("name_description", "")),
                         ("pool_metadata_detected", "true" if detected else "false")]
        out.append(("SR", children))
    return _doc("SRlist", out)


def probe(lab, site, db, host_ref, sr_type, dc, smc):
    """The XML string SR.probe returns, or the SM error."""
    if sr_type not in KNOWN_TYPES:
        raise XapiError("SR_UNKNOWN_DRIVER", [sr_type])
    if sr_type not in LVM_LUN_TYPES:
        return _doc("SRlist", [])
    metadata = smc.get("metadata") == "true"
    host_uuid = db.get("host", host_ref)["uuid"]
    if sr_type in HBA_TYPES and not dc.get("SCSIid"):
        # LVHDoHBASR.load -> HBASR.print_devs -> devscan.adapters: scsiutil.rescan of every
        # HBA of the host before the device list is made
        array.hba_rescan(lab, host_uuid)
    with array.locked(lab, shared=True):
        data = array.load(lab)
        lun_id = find_lun(data, site, db, host_ref, sr_type, dc)
        if lun_id is None:
            return srlist_xml([], metadata)
        vg = array.read_vg(lab, lun_id, site)
        copy = data["luns"][lun_id]["copies"][site]
        size = data["luns"][lun_id]["size"]
        if vg is not None and metadata and duplicate_vg(lab, data, site, host_uuid, lun_id, vg):
            raise duplicate_error()
    vgs = [] if vg is None else [(vg, "/dev/disk/by-id/scsi-" + copy["scsiid"], size)]
    return srlist_xml(vgs, metadata)


def duplicate_vg(lab, data, site, host_uuid, lun_id, vg):
    """Another LUN copy the host sees that carries the same VG (a block copy of this LUN: the
    same PV and VG uuids), or None. Every LUN presented to the host counts, an iSCSI one as if
    its target were logged in."""
    for other, _lun, _copy in array.luns_at(data, site, host_uuid):
        if other != lun_id and (array.read_vg(lab, other, site) or {}).get("sr_uuid") == \
                vg.get("sr_uuid"):
            return other
    return None


def duplicate_error():
    """What a probe with metadata=true answers when the VG's PV appears on two devices: lvm2
    refuses to activate the MGT volume (``Cannot activate LVs in VG ... while PVs appear on
    duplicate devices``, exit 5), and sm's CommandException reaches SRCommand.run as a plain
    exception: XML-RPC fault 1200 with ``str(e)``, os.strerror(5); xapi makes it
    SR_BACKEND_FAILURE_1200 ["", reason, stderr] (sm_exec.ml)."""
    return XapiError("SR_BACKEND_FAILURE_1200", ["", "Input/output error", ""])


def attach(lab, site, db, sr_ref, host_ref, dc):
    """SR.attach of an LVM-on-LUN SR: the LUN must be there, carry the VG and be writable."""
    sr = db.get("SR", sr_ref)
    if sr["type"] in HBA_TYPES:
        # LVHDoHBASR.attach: no device for the SCSIid -> HBASR._init_hbadict, a rescan
        _rescan_for(lab, site, db.get("host", host_ref)["uuid"], dc.get("SCSIid"))
    with array.locked(lab, shared=True):
        data = array.load(lab)
        lun_id = find_lun(data, site, db, host_ref, sr["type"], dc, probing=False)
        vg = array.read_vg(lab, lun_id, site)
        if vg is None or vg.get("sr_uuid") != sr["uuid"]:
            raise sm_error(47, opterr="no such volume group: VG_XenStorage-%s" % sr["uuid"])
        if not array.writable(data, lun_id, site):
            raise sm_error(47, opterr="Logical volume group VG_XenStorage-%s is on a "
                                      "write-protected device (%s is a replication target)"
                                      % (sr["uuid"], dc.get("SCSIid", "")))
    return lun_id


def _rescan_for(lab, site, host_uuid, scsiid):
    data = array.load(lab)
    for _lun_id, lun, copy in array.luns_at(data, site):
        if copy["scsiid"] == scsiid and lun["transport"] == "fc" and \
                not array.presented(data, lun, copy, host_uuid):
            array.hba_rescan(lab, host_uuid)
            return


def is_null(ref):
    return util.is_null(ref)
