"""sr-probe XML (reference xapi-dr.md section 5)."""

import pytest

from xe_dr.xe.errors import XapiError, XeOutputError, parse_error
from xe_dr.xe.probe import (
    parse_hba_devlist,
    parse_iqn_list,
    parse_lun_list,
    parse_probe_xml,
    parse_srlist,
    probe_xml_from_error,
)

# Reference 5.3, byte for byte, plus the newline the CLI adds.
SRLIST = (
    '<?xml version="1.0" ?>\n'
    "<SRlist>\n"
    "\t<SR>\n"
    "\t\t<UUID>7e1d0c2b-aaaa-4bbb-8ccc-0123456789ab</UUID>\n"
    "\t\t<Devlist>/dev/disk/by-id/scsi-36001405abcdef</Devlist>\n"
    "\t\t<size>107369988096</size>\n"
    "\t\t<name_label>iSCSI DR</name_label>\n"
    "\t\t<name_description></name_description>\n"
    "\t\t<pool_metadata_detected>true</pool_metadata_detected>\n"
    "\t</SR>\n"
    "</SRlist>\n"
    "\n")

IQNS = (
    '<?xml version="1.0" ?>\n'
    "<iscsi-target-iqns>\n"
    "\t<TGT>\n"
    "\t\t<Index>0</Index>\n"
    "\t\t<IPAddress>10.0.0.5</IPAddress>\n"
    "\t\t<TargetIQN>iqn.2001-05.com.example:lun1</TargetIQN>\n"
    "\t</TGT>\n"
    "\t<TGT>\n"
    "\t\t<Index>1</Index>\n"
    "\t\t<IPAddress>10.0.0.6</IPAddress>\n"
    "\t\t<Port>3261</Port>\n"
    "\t\t<TargetIQN>iqn.2001-05.com.example:lun2</TargetIQN>\n"
    "\t</TGT>\n"
    "\t<TGT>\n"
    "\t\t<Index>2</Index>\n"
    "\t\t<IPAddress>10.0.0.5,10.0.0.6</IPAddress>\n"
    "\t\t<TargetIQN>*</TargetIQN>\n"
    "\t</TGT>\n"
    "</iscsi-target-iqns>\n")

LUNS = (
    '<?xml version="1.0" ?>\n'
    "<iscsi-target>\n"
    "\t<LUN>\n"
    "\t\t<vendor>LIO-ORG</vendor>\n"
    "\t\t<serial>6001405abcdef</serial>\n"
    "\t\t<LUNid>0</LUNid>\n"
    "\t\t<size>107374182400</size>\n"
    "\t\t<SCSIid>36001405abcdef</SCSIid>\n"
    "\t</LUN>\n"
    "\t<LUN>\n"
    "\t\t<LUNid>1</LUNid>\n"
    "\t\t<size>1073741824</size>\n"
    "\t\t<SCSIid>36001405000001</SCSIid>\n"
    "\t</LUN>\n"
    "</iscsi-target>\n")

HBA = (
    '<?xml version="1.0" ?>\n'
    "<Devlist>\n"
    "\t<BlockDevice>\n"
    "\t\t<path>/dev/sdc</path>\n"
    "\t\t<numpaths>2</numpaths>\n"
    "\t\t<SCSIid>3600a098038303053</SCSIid>\n"
    "\t\t<vendor>NETAPP</vendor>\n"
    "\t\t<serial>80OSf$JQ</serial>\n"
    "\t\t<size>536870912000</size>\n"
    "\t\t<adapter>3</adapter>\n"
    "\t\t<channel>0</channel>\n"
    "\t\t<id>0</id>\n"
    "\t\t<lun>1</lun>\n"
    "\t\t<hba>qla2xxx</hba>\n"
    "\t</BlockDevice>\n"
    "\t<Adapter>\n"
    "\t\t<host>host3</host>\n"
    "\t\t<name>qla2xxx</name>\n"
    "\t\t<manufacturer>QLogic HBA Driver</manufacturer>\n"
    "\t\t<id>3</id>\n"
    "\t\t<port_name>0x2100001b32812345</port_name>\n"
    "\t</Adapter>\n"
    "</Devlist>\n")


def test_srlist():
    assert parse_srlist(SRLIST) == [{
        "uuid": "7e1d0c2b-aaaa-4bbb-8ccc-0123456789ab",
        "devlist": ["/dev/disk/by-id/scsi-36001405abcdef"],
        "size": 107369988096,
        "name_label": "iSCSI DR",
        "name_description": "",
        "pool_metadata_detected": True,
    }]


def test_srlist_without_metadata_fields_and_several_devices():
    text = ("<?xml version=\"1.0\" ?>\n<SRlist>\n\t<SR>\n\t\t<UUID>u1</UUID>\n"
            "\t\t<Devlist>/dev/sdb,/dev/sdc</Devlist>\n\t</SR>\n</SRlist>\n")
    (sr,) = parse_srlist(text)
    assert sr["devlist"] == ["/dev/sdb", "/dev/sdc"]
    assert sr["size"] is None and sr["name_label"] is None
    assert sr["pool_metadata_detected"] is None


def test_empty_srlist():
    assert parse_srlist('<?xml version="1.0" ?>\n<SRlist/>\n') == []


def test_old_release_text_on_its_own_line():
    text = ("<?xml version=\"1.0\" ?>\n<SRlist>\n\t<SR>\n\t\t<UUID>\n\t\t\tu1\n\t\t</UUID>\n"
            "\t\t<pool_metadata_detected>\n\t\t\tfalse\n\t\t</pool_metadata_detected>\n"
            "\t</SR>\n</SRlist>\n")
    (sr,) = parse_srlist(text)
    assert sr["uuid"] == "u1" and sr["pool_metadata_detected"] is False


def test_non_ascii_name():
    text = SRLIST.replace("iSCSI DR", "Reprise après sinistre ☃")
    assert parse_srlist(text)[0]["name_label"] == "Reprise après sinistre ☃"


@pytest.mark.parametrize("name", ["DR\x07LUN", "\x1b[31mDR\x1b[0m", "tab\tand\x1f\x0b end"])
def test_a_control_character_in_a_name_is_read_as_it_is(name):
    """minidom (sm's lvutil.srlist_toxml) writes text as it is: a name holding a control
    character makes a document XML 1.0 forbids, which must still be read (the SR cannot be
    renamed at the DR site after a disaster)."""
    import xml.dom.minidom
    dom = xml.dom.minidom.Document()
    root = dom.appendChild(dom.createElement("SRlist"))
    sr = root.appendChild(dom.createElement("SR"))
    for tag, text in (("UUID", "u1"), ("Devlist", "/dev/sdb"), ("size", "1"),
                      ("name_label", name), ("name_description", ""),
                      ("pool_metadata_detected", "true")):
        sr.appendChild(dom.createElement(tag)).appendChild(dom.createTextNode(text))
    printed = dom.toprettyxml()
    assert name in printed  # as sm prints it, raw
    (parsed,) = parse_srlist(printed + "\n")
    assert parsed["uuid"] == "u1" and parsed["name_label"] == name.strip()


def test_iqn_list_with_wildcard():
    targets = parse_iqn_list(IQNS)
    assert targets[0] == {"index": 0, "ip_address": "10.0.0.5", "port": None,
                          "target_iqn": "iqn.2001-05.com.example:lun1", "wildcard": False}
    assert targets[1]["port"] == 3261
    assert targets[2] == {"index": 2, "ip_address": "10.0.0.5,10.0.0.6", "port": None,
                          "target_iqn": "*", "wildcard": True}


def test_lun_list():
    first, second = parse_lun_list(LUNS)
    assert first == {"vendor": "LIO-ORG", "serial": "6001405abcdef", "lun_id": "0",
                     "size": 107374182400, "scsi_id": "36001405abcdef"}
    assert second["vendor"] is None and second["serial"] is None
    assert second["scsi_id"] == "36001405000001"


def test_hba_devlist():
    result = parse_hba_devlist(HBA)
    (device,) = result["block_devices"]
    assert device["scsi_id"] == "3600a098038303053"
    assert device["size"] == 536870912000
    assert device["path"] == "/dev/sdc" and device["hba"] == "qla2xxx"
    assert result["adapters"] == [{"host": "host3", "name": "qla2xxx",
                                   "manufacturer": "QLogic HBA Driver", "id": "3",
                                   "port_name": "0x2100001b32812345"}]


@pytest.mark.parametrize("text,kind", [(SRLIST, "srlist"), (IQNS, "iqns"), (LUNS, "luns"),
                                       (HBA, "hba")])
def test_parse_probe_xml_dispatch(text, kind):
    assert parse_probe_xml(text)[0] == kind


def test_xml_from_an_sr_backend_failure_96():
    stderr = ("Error code: SR_BACKEND_FAILURE_96\n"
              "Error parameters: , The request is missing or has an incorrect target IQN "
              "parameter, " + IQNS + "\n")
    error = parse_error(stderr)
    xml = probe_xml_from_error(error)
    assert xml == IQNS
    assert parse_probe_xml(xml) == ("iqns", parse_iqn_list(IQNS))


def test_xml_from_107_with_text_before_it():
    stderr = ("Error code: SR_BACKEND_FAILURE_107\n"
              "Error parameters: , The SCSIid parameter is missing or incorrect, "
              "<?xml version=\"1.0\" ?>\n" + LUNS.split("\n", 1)[1] + "\n")
    assert parse_lun_list(probe_xml_from_error(parse_error(stderr)))[0]["lun_id"] == "0"


def test_no_xml_in_other_errors():
    assert probe_xml_from_error(parse_error(
        "Error code: SR_BACKEND_FAILURE_95\nError parameters: , The request is missing the "
        "target parameter, \n")) is None
    assert probe_xml_from_error(parse_error("The uuid you supplied was invalid.\ntype: SR\n"
                                            "uuid: x\n")) is None
    assert probe_xml_from_error(XapiError("UNKNOWN")) is None


@pytest.mark.parametrize("parser,text", [
    (parse_srlist, ""),
    (parse_srlist, "not xml"),
    (parse_srlist, "<SRlist><SR></SRlist>"),
    (parse_srlist, IQNS),
    (parse_srlist, "<SRlist><SR><Devlist>/dev/sdb</Devlist></SR></SRlist>"),
    (parse_srlist, "<SRlist><SR><UUID>u</UUID><size>big</size></SR></SRlist>"),
    (parse_srlist, "<SRlist><SR><UUID>u</UUID><pool_metadata_detected>yes"
                   "</pool_metadata_detected></SR></SRlist>"),
    (parse_srlist, "<SRlist><Other/></SRlist>"),
    (parse_srlist, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><SRlist/>'),
    (parse_iqn_list, "<iscsi-target-iqns><TGT><Index>0</Index></TGT></iscsi-target-iqns>"),
    (parse_lun_list, "<iscsi-target><TGT/></iscsi-target>"),
    (parse_hba_devlist, "<Devlist><Thing/></Devlist>"),
    (parse_probe_xml, "<Unknown/>"),
    (parse_probe_xml, "<SRlist>\udcff</SRlist>"),
])
def test_malformed(parser, text):
    with pytest.raises(XeOutputError):
        parser(text)
