"""The XML forms of ``sr-probe`` for lvmoiscsi / lvmohba (reference xapi-dr.md section 5).

The SM prints them with ``minidom.toprettyxml()``: tab indentation, and on very old releases
the text of an element on its own line, so text is stripped. Each parser returns plain
dicts; anything that is not well-formed XML of the expected form raises XeOutputError.

- ``<SRlist>`` (success): :func:`parse_srlist`;
- ``<iscsi-target-iqns>`` (SR_BACKEND_FAILURE_96, target given, no targetIQN):
  :func:`parse_iqn_list`;
- ``<iscsi-target>`` (SR_BACKEND_FAILURE_107, no SCSIid, iSCSI): :func:`parse_lun_list`;
- ``<Devlist>`` (SR_BACKEND_FAILURE_107, no SCSIid, HBA): :func:`parse_hba_devlist`.

The XML comes from the target, so documents with a DOCTYPE or entity declaration (which
sr-probe never prints) are refused before parsing.

minidom writes text as it is, and XML 1.0 forbids most control characters, so an SR named
with one (a name-label is free text, and an SR cannot be renamed at the DR site after a
disaster) makes sm print a document that no XML parser accepts. Such characters are carried
through the parse in a private-use stand-in and given back in the text: the name is read as
it is (and shown escaped, like every name).
"""

import re
import xml.etree.ElementTree as ElementTree

from xe_dr.xe.errors import XeOutputError, snippet

__all__ = ["parse_srlist", "parse_iqn_list", "parse_lun_list", "parse_hba_devlist",
           "parse_probe_xml", "probe_xml_from_error", "WILDCARD_IQN"]

WILDCARD_IQN = "*"
_DECLARATION = re.compile(r"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
# The C0 controls XML 1.0 forbids (all but tab, newline and carriage return), each to a
# private-use character while parsing, and back.
_STAND_IN = 0xE000
_FORBIDDEN = [c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)]
_TO_STAND_IN = dict((c, _STAND_IN + c) for c in _FORBIDDEN)
_FROM_STAND_IN = dict((_STAND_IN + c, c) for c in _FORBIDDEN)


def _root(text, expected):
    text = text.strip()
    if not text:
        raise XeOutputError("empty sr-probe XML (expected <%s>)" % expected)
    if _DECLARATION.search(text):
        raise XeOutputError("sr-probe XML with a DOCTYPE or entity declaration")
    try:
        root = ElementTree.fromstring(text.translate(_TO_STAND_IN).encode(
            "utf-8", "surrogateescape"))
    except (ElementTree.ParseError, UnicodeError) as error:
        raise XeOutputError("malformed sr-probe XML (%s): %s" % (error, snippet(text)))
    if expected is not None and root.tag != expected:
        raise XeOutputError("sr-probe XML has <%s> where <%s> was expected"
                            % (root.tag, expected))
    return root


def _text(element, tag):
    """The stripped text of the child ``tag``, or None when there is no such child."""
    child = element.find(tag)
    if child is None:
        return None
    return (child.text or "").strip().translate(_FROM_STAND_IN)


def _int(element, tag):
    value = _text(element, tag)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise XeOutputError("<%s> is not a number: %s" % (tag, snippet(value)))


def _children(root, tag):
    found = []
    for child in root:
        if child.tag != tag:
            raise XeOutputError("<%s> holds <%s> where <%s> was expected"
                                % (root.tag, child.tag, tag))
        found.append(child)
    return found


def parse_srlist(text):
    """``<SRlist>`` -> a list of {uuid, devlist (list of device paths), size (bytes),
    name_label, name_description, pool_metadata_detected}. Fields the SM left out (the last
    three are there only with ``sm-config:metadata=true``) are None."""
    srs = []
    for element in _children(_root(text, "SRlist"), "SR"):
        uuid = _text(element, "UUID")
        if not uuid:
            raise XeOutputError("an <SR> of the probe has no <UUID>")
        devlist = _text(element, "Devlist")
        detected = _text(element, "pool_metadata_detected")
        if detected not in (None, "true", "false"):
            raise XeOutputError("<pool_metadata_detected> is not true or false: %s"
                                % snippet(detected))
        srs.append({
            "uuid": uuid,
            "devlist": [d for d in devlist.split(",") if d] if devlist else [],
            "size": _int(element, "size"),
            "name_label": _text(element, "name_label"),
            "name_description": _text(element, "name_description"),
            "pool_metadata_detected": None if detected is None else detected == "true",
        })
    return srs


def parse_iqn_list(text):
    """``<iscsi-target-iqns>`` -> a list of {index, ip_address, port (None: the default
    3260), target_iqn, wildcard}. The SM always adds a last entry with TargetIQN ``*`` (any
    IQN of the given target); it is kept, with ``wildcard`` True."""
    targets = []
    for element in _children(_root(text, "iscsi-target-iqns"), "TGT"):
        iqn = _text(element, "TargetIQN")
        address = _text(element, "IPAddress")
        if not iqn or address is None:
            raise XeOutputError("a <TGT> of the probe lacks <TargetIQN> or <IPAddress>")
        targets.append({
            "index": _int(element, "Index"),
            "ip_address": address,
            "port": _int(element, "Port"),
            "target_iqn": iqn,
            "wildcard": iqn == WILDCARD_IQN,
        })
    return targets


def parse_lun_list(text):
    """``<iscsi-target>`` -> a list of {vendor, serial, lun_id, size (bytes), scsi_id}; the
    SM leaves empty fields out, they are None here."""
    luns = []
    for element in _children(_root(text, "iscsi-target"), "LUN"):
        luns.append({
            "vendor": _text(element, "vendor"),
            "serial": _text(element, "serial"),
            "lun_id": _text(element, "LUNid"),
            "size": _int(element, "size"),
            "scsi_id": _text(element, "SCSIid"),
        })
    return luns


_BLOCK_DEVICE_FIELDS = (("path", "path"), ("numpaths", "numpaths"), ("SCSIid", "scsi_id"),
                        ("vendor", "vendor"), ("serial", "serial"), ("size", "size"),
                        ("adapter", "adapter"), ("channel", "channel"), ("id", "id"),
                        ("lun", "lun"), ("hba", "hba"))


def parse_hba_devlist(text):
    """HBA ``<Devlist>`` -> {"block_devices": [...], "adapters": [...]}.

    A block device has path, numpaths, scsi_id, vendor, serial, size (int, bytes), adapter,
    channel, id, lun, hba (str; None when absent). An adapter is a dict of its children's
    text by tag (host, name, manufacturer, id and the fc_host attributes).
    """
    root = _root(text, "Devlist")
    devices, adapters = [], []
    for element in root:
        if element.tag == "BlockDevice":
            device = dict((key, _text(element, tag)) for tag, key in _BLOCK_DEVICE_FIELDS)
            device["size"] = _int(element, "size")
            devices.append(device)
        elif element.tag == "Adapter":
            adapters.append(dict((child.tag, (child.text or "").strip().translate(
                _FROM_STAND_IN)) for child in element))
        else:
            raise XeOutputError("<Devlist> holds an unexpected <%s>" % element.tag)
    return {"block_devices": devices, "adapters": adapters}


_PARSERS = {
    "SRlist": ("srlist", parse_srlist),
    "iscsi-target-iqns": ("iqns", parse_iqn_list),
    "iscsi-target": ("luns", parse_lun_list),
    "Devlist": ("hba", parse_hba_devlist),
}


def parse_probe_xml(text):
    """Any of the four forms -> (kind, value), kind one of ``srlist``, ``iqns``, ``luns``,
    ``hba``."""
    root = _root(text, None)
    if root.tag not in _PARSERS:
        raise XeOutputError("sr-probe XML has an unknown root <%s>" % root.tag)
    kind, parser = _PARSERS[root.tag]
    return kind, parser(text)


def probe_xml_from_error(error):
    """The XML an SM printed before failing (the third parameter of SR_BACKEND_FAILURE_96 /
    _107 and the like), from its first ``<``; None when the error carries none."""
    if getattr(error, "sm_error_number", None) is None or len(error.params) < 3:
        return None
    captured = error.params[2]
    start = captured.find("<")
    if start < 0:
        return None
    return captured[start:]
