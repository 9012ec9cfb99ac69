"""Record, --minimal and param-get output (reference xapi-dr.md 4.1 and 4.2)."""

import pytest

from xe_dr.errors import XeDrError
from xe_dr.xe.records import (
    Record,
    XeOutputError,
    escape_minimal,
    format_records,
    parse_bool,
    parse_map,
    parse_minimal,
    parse_param_get,
    parse_records,
    parse_ref,
    parse_set,
    parse_tags,
)

# The reference's synthetic examples, byte for byte (two trailing empty lines, and the
# trailing space after an empty value).
VM_LIST = (
    "uuid ( RO)           : 0d7f6a52-1111-4c2e-9e3a-6c1a2b3c4d5e\n"
    "     name-label ( RW): web01\n"
    "    power-state ( RO): halted\n"
    "\n"
    "\n"
    "uuid ( RO)           : 9a8b7c6d-2222-4f00-8a1b-0e1f2a3b4c5d\n"
    "     name-label ( RW): db01\n"
    "    power-state ( RO): running\n"
    "\n"
    "\n")
DRTASK_LIST = (
    "uuid ( RO)              : 5c4e0f2a-3333-4d1e-b2c3-d4e5f6a7b8c9\n"
    "    introduced-SRs ( RO): 7e1d...-aaaa; 1b2c...-bbbb\n"
    "\n"
    "\n")
APPLIANCE_LIST = (
    "uuid ( RO)                  : 44aa0011-4444-4b2b-9c9c-1234567890ab\n"
    "            name-label ( RW): erp\n"
    "      name-description ( RW): \n"
    "                   VMs (SRO): <not in database>; <not in database>\n"
    "    allowed-operations (SRO): start\n"
    "    current-operations (SRO): \n"
    "\n"
    "\n")
VDI_LIST = (
    "uuid ( RO)                : 2f1e0d9c-5555-4a3b-8c7d-6e5f4a3b2c1d\n"
    "          name-label ( RW): Metadata for DR\n"
    "             sr-uuid ( RO): 7e1d0c2b-aaaa-4bbb-8ccc-0123456789ab\n"
    "                type ( RO): Metadata\n"
    "     metadata-latest ( RO): true\n"
    "    metadata-of-pool ( RO): 3b2a1908-6666-4e5f-9a0b-abcdefabcdef\n"
    "\n"
    "\n")
# What the workflows read through the parsers (xe_dr/pool.py, xe_dr/dr/inventory.py), as the
# lab prints it (reference 2.3 and 4.1: a null or foreign reference prints <not in database>,
# in a set too).
FOREIGN_NETWORK_LIST = (
    "uuid ( RO)          : 4be03db0-dc25-44bd-b940-67edfe175330\n"
    "    name-label ( RW): Pool-wide network associated with eth0\n"
    "     VIF-uuids (SRO): \n"
    "           MTU ( RW): 1500\n"
    "        bridge ( RO): xenbr0\n"
    "\n"
    "\n"
    "uuid ( RO)          : cdf84404-0729-4e42-9990-1c0475491bc3\n"
    "    name-label ( RW): DMZ\n"
    "     VIF-uuids (SRO): <not in database>; <not in database>; <not in database>\n"
    "           MTU ( RW): 1500\n"
    "        bridge ( RO): xapi1\n"
    "\n"
    "\n")
FOREIGN_VM_LIST = (
    "uuid ( RO)         : 18ede6c3-5300-4b63-8565-58b263a522e3\n"
    "    appliance ( RW): <not in database>\n"
    "\n"
    "\n")
SR_LIST = (
    "uuid ( RO)             : bc9a0e0c-8ec2-4615-82f2-e77077cab1f9\n"
    "       name-label ( RW): iSCSI DR 1\n"
    "             type ( RO): lvmoiscsi\n"
    "           shared ( RW): true\n"
    "    introduced-by ( RO): f0fdbeda-f8d5-40a0-84b7-2ca38c2f06e7\n"
    "\n"
    "\n"
    "uuid ( RO)             : 59805a17-2cde-4c51-972a-b68bc9b8056f\n"
    "       name-label ( RW): Local storage\n"
    "             type ( RO): lvm\n"
    "           shared ( RW): false\n"
    "    introduced-by ( RO): <not in database>\n"
    "\n"
    "\n")
EMPTY_CD_VBD = (
    "uuid ( RO)                  : 86c0abfe-923b-4bea-a1d3-ff8211180cd9\n"
    "               vm-uuid ( RO): 3ed03c49-c8b0-4a28-807d-bb94fe145171\n"
    "              vdi-uuid ( RO): <not in database>\n"
    "                  type ( RW): CD\n"
    "    currently-attached ( RO): true\n"
    "\n"
    "\n")
PBD_LINE = ("    device-config (MRO): target: 10.0.0.5; targetIQN: iqn.2001-05.com.example:lun1; "
            "SCSIid: 36001405abcdef")


def test_vm_list():
    records = parse_records(VM_LIST)
    assert records == [
        {"uuid": "0d7f6a52-1111-4c2e-9e3a-6c1a2b3c4d5e", "name-label": "web01",
         "power-state": "halted"},
        {"uuid": "9a8b7c6d-2222-4f00-8a1b-0e1f2a3b4c5d", "name-label": "db01",
         "power-state": "running"},
    ]
    assert all(isinstance(r, Record) for r in records)
    assert list(records[0]) == ["uuid", "name-label", "power-state"]
    assert records[0].modes == {"uuid": "RO", "name-label": "RW", "power-state": "RO"}
    assert records[0].deprecated == set()


def test_drtask_list():
    (record,) = parse_records(DRTASK_LIST)
    assert record.set("introduced-SRs") == ["7e1d...-aaaa", "1b2c...-bbbb"]


def test_foreign_appliance_list():
    (record,) = parse_records(APPLIANCE_LIST)
    assert record["name-description"] == ""
    assert record["current-operations"] == ""
    assert record.set("current-operations") == []
    assert record.set("VMs") == [None, None]
    assert record.set("allowed-operations") == ["start"]
    assert record.modes["VMs"] == "SRO"


def test_vdi_list():
    (record,) = parse_records(VDI_LIST)
    assert record["type"] == "Metadata"
    assert record.bool("metadata-latest") is True
    assert record.bool("absent") is None
    assert record.ref("metadata-of-pool") == "3b2a1908-6666-4e5f-9a0b-abcdefabcdef"


def test_map_field_record():
    text = "uuid ( RO)             : p1\n" + PBD_LINE + "\n\n\n"
    (record,) = parse_records(text)
    assert record.modes["device-config"] == "MRO"
    assert record.map("device-config") == {
        "target": "10.0.0.5", "targetIQN": "iqn.2001-05.com.example:lun1",
        "SCSIid": "36001405abcdef"}


def test_a_foreign_network_is_in_use_when_its_vif_set_is_not_empty():
    """Which VIFs cannot be told (each prints <not in database>), only that there are some."""
    unused, used = parse_records(FOREIGN_NETWORK_LIST)
    assert unused.set("VIF-uuids") == [] and unused["VIF-uuids"] == ""
    assert used.set("VIF-uuids") == [None, None, None]
    assert parse_set(used["VIF-uuids"]) == [None, None, None]


def test_null_and_foreign_references_are_none():
    (vm,) = parse_records(FOREIGN_VM_LIST)
    assert vm["appliance"] == "<not in database>" and vm.ref("appliance") is None
    introduced, local = parse_records(SR_LIST)
    assert introduced.ref("introduced-by") == "f0fdbeda-f8d5-40a0-84b7-2ca38c2f06e7"
    assert local.ref("introduced-by") is None
    assert (introduced.bool("shared"), local.bool("shared")) == (True, False)
    (cd,) = parse_records(EMPTY_CD_VBD)
    assert cd.ref("vdi-uuid") is None and cd.ref("vm-uuid") is not None


@pytest.mark.parametrize("text", [VM_LIST, DRTASK_LIST, APPLIANCE_LIST, VDI_LIST,
                                  FOREIGN_NETWORK_LIST, FOREIGN_VM_LIST, SR_LIST, EMPTY_CD_VBD])
def test_format_is_the_inverse(text):
    assert format_records(parse_records(text)) == text


def test_empty_result_prints_nothing():
    assert parse_records("") == []


def test_records_with_no_selected_fields():
    # params= naming no existing field: each record prints as three newlines.
    assert parse_records("\n\n\n\n\n\n") == [Record(), Record()]
    with pytest.raises(XeOutputError):
        parse_records("\n\n\n\n")


def _awkward():
    # Built with format_records so that the padding is right; checked against literals below.
    record = Record()
    record["uuid"] = "11111111-2222-3333-4444-555555555555"
    record["name-label"] = "Zürich ☃ web: 01"
    record["name-description"] = "line one\nsecond line: with colon\n\n\nafter two blank lines"
    record["other-config"] = "a: 1; b: x; y: z; c: "
    record["tags"] = "prod, web, db"
    record["PV-drivers-up-to-date"] = "true"
    record["VBDs"] = "1; <not in database>"
    record.modes.update({"uuid": "RO", "name-label": "RW", "name-description": "RW",
                         "other-config": "MRW", "tags": "SRW", "PV-drivers-up-to-date": "RO",
                         "VBDs": "SRO"})
    record.deprecated.add("PV-drivers-up-to-date")
    return record


def test_awkward_record():
    record = _awkward()
    text = format_records([record, record])
    assert "    PV-drivers-up-to-date ( RO) [DEPRECATED]: true\n" in text
    assert "\nsecond line: with colon\n\n\nafter two blank lines\n" in text
    assert text.endswith("VBDs (SRO): 1; <not in database>\n\n\n")
    first, second = parse_records(text)
    assert first == second == record
    assert first.modes == record.modes
    assert first.deprecated == {"PV-drivers-up-to-date"}
    assert first["name-label"] == "Zürich ☃ web: 01"
    assert first["name-description"].count("\n") == 4
    assert first.map("other-config") == {"a": "1", "b": "x", "y": "z", "c": ""}
    assert first.set("tags") == ["prod", "web", "db"]
    assert first.set("VBDs") == ["1", None]


def test_value_holding_the_separator():
    text = ("uuid ( RO)    : a: b\n"
            "       x ( RW): : : \n"
            "\n\n")
    (record,) = parse_records(text)
    assert record == {"uuid": "a: b", "x": ": : "}


def test_value_ending_with_newline_at_end_of_record():
    record = Record(uuid="u", d="ends\n")
    record.modes.update(uuid="RO", d="RW")
    text = format_records([record, record])
    assert parse_records(text) == [record, record]


def test_only_newline_splitting():
    # str.splitlines would split at these; xe's format only knows \n.
    value = "a\x0bb\x0cc\x1cd\u2028e\rf"
    text = "uuid ( RO)    : %s\n\n\n" % value
    assert parse_records(text) == [{"uuid": value}]


@pytest.mark.parametrize("text,words", [
    ("uuid ( RO)    : x\n", "two empty lines"),
    ("uuid ( RO)    : x\n\n", "two empty lines"),
    ("uuid ( RO): x\n\n\n", "first line"),                    # no padding
    ("uuid ( RO)   : x\n\n\n", "first line"),                 # 3 spaces < 4
    ("uuid ( RO)     : x\n\n\n", "pads its labels"),          # 5 spaces, one label
    ("uuid (RO)    : x\n\n\n", "first line"),                 # bad mode marker
    ("uuid ( XX)    : x\n\n\n", "first line"),
    ("uuid ( RO)    :x\n\n\n", "first line"),                 # no space after the colon
    ("    uuid ( RO): x\n\n\n", "first line"),                # right-justified first label
    ("hello\n\n\n", "first line"),
    ("uuid ( RO)           : x\n"
     "     name-label ( RW): a\n"
     "     name-label ( RW): b\n\n\n", "repeats the field"),
    ("uuid ( RO)                : x\n"
     "     name-label ( RW): a\n\n\n", "pads its labels"),
])
def test_malformed_records(text, words):
    with pytest.raises(XeOutputError) as info:
        parse_records(text)
    assert words in str(info.value)
    assert isinstance(info.value, XeDrError)


def test_line_that_is_no_label_continues_the_value():
    text = ("uuid ( RO)           : x\n"
            "   name-label ( RW): misaligned\n"
            "     name-label ( RW): a\n"
            "    power-state ( RO): halted\n\n\n")
    (record,) = parse_records(text)
    assert record["uuid"] == "x\n   name-label ( RW): misaligned"
    assert record["name-label"] == "a"


def test_two_empty_lines_not_followed_by_a_record_start_continue_the_value():
    (record,) = parse_records("uuid ( RO)    : x\n\n\nmore text: y\n\n\n")
    assert record == {"uuid": "x\n\n\nmore text: y"}


def test_records_of_different_shapes_are_refused():
    # Every record of one listing has the same fields, so the same first line up to the value.
    with pytest.raises(XeOutputError) as info:
        parse_records("uuid ( RO)    : x\n\n\nname ( RO)    : y\n\n\n")
    assert "line 4" in str(info.value)
    with pytest.raises(XeOutputError):
        parse_records("uuid ( RO)    : x\n\n\nuuid ( RO)     : y\n      ab ( RO): z\n\n\n")


# -- --minimal -------------------------------------------------------------------------------

def test_minimal_plain():
    assert parse_minimal("a,b,c\n") == ["a", "b", "c"]
    assert parse_minimal("0d7f6a52-1111-4c2e-9e3a-6c1a2b3c4d5e\n") == \
        ["0d7f6a52-1111-4c2e-9e3a-6c1a2b3c4d5e"]


def test_minimal_empty_result():
    assert parse_minimal("\n") == []


def test_minimal_escapes():
    assert parse_minimal("a\\,b\\\\c\n") == ["a,b\\c"]
    assert parse_minimal("x,a\\,b\\\\c,\\\\\\,,\n") == ["x", "a,b\\c", "\\,", ""]
    assert parse_minimal(",\n") == ["", ""]
    assert escape_minimal(["a,b\\c"]) == "a\\,b\\\\c\n"


def test_minimal_value_with_newline_is_kept():
    assert parse_minimal("two\nlines,x\n") == ["two\nlines", "x"]


def test_minimal_non_ascii():
    assert parse_minimal("Zürich,☃\n") == ["Zürich", "☃"]


@pytest.mark.parametrize("text", ["", "a", "a,b", "a\\b\n", "a\\\n", "\\n\n"])
def test_minimal_malformed(text):
    with pytest.raises(XeOutputError):
        parse_minimal(text)


# -- param-get and values ----------------------------------------------------------------------

def test_param_get():
    assert parse_param_get("8.2.1\n") == "8.2.1"
    assert parse_param_get("\n") == ""
    assert parse_param_get("a\nb\n") == "a\nb"
    assert parse_param_get("acpi: 1; apic: true\n") == "acpi: 1; apic: true"
    with pytest.raises(XeOutputError):
        parse_param_get("no newline")


def test_parse_map():
    assert parse_map("") == {}
    assert parse_map("acpi: 1; apic: true") == {"acpi": "1", "apic": "true"}
    assert parse_map("k: ") == {"k": ""}
    # Ambiguous cases, best effort: a piece without ": " joins the previous value; a key ends
    # at its first ": ".
    assert parse_map("k: a; b; k2: c: d") == {"k": "a; b", "k2": "c: d"}
    with pytest.raises(XeOutputError):
        parse_map("no key here")


def test_parse_set_and_tags():
    assert parse_set("") == []
    assert parse_set("a; b") == ["a", "b"]
    assert parse_set("<not in database>; x; <invalid reference>") == [None, "x", None]
    assert parse_tags("") == []
    assert parse_tags("a, b; c") == ["a", "b; c"]


def test_parse_ref_and_bool():
    assert parse_ref("<not in database>") is None
    assert parse_ref("<invalid reference>") is None
    assert parse_ref(None) is None
    assert parse_ref("u") == "u"
    assert parse_bool("true") is True and parse_bool("false") is False
    for bad in ("True", "", "1"):
        with pytest.raises(XeOutputError):
            parse_bool(bad)
