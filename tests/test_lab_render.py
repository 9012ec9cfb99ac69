"""Golden tests: the exact bytes of each xe output format the lab produces."""

from xe_dr.lab import render
from xe_dr.lab.render import Printer

DOC_BAD_POWER = (
    "You attempted an operation on a VM that was not in an appropriate power state at the "
    "time; for example, you attempted to start a VM that was already running. The parameters "
    "returned are the VM's handle, and the expected and actual VM state at the time of the "
    "call.")
DOC_INTERNAL = ("The server failed to handle your request, due to an internal error. The given "
                "message may give details useful for debugging the problem.")


def test_record_padding_and_two_blank_lines():
    p = Printer()
    p.table([[("uuid ( RO)", "0d7f6a52-1111-4c2e-9e3a-6c1a2b3c4d5e"),
              ("name-label ( RW)", "web01"), ("power-state ( RO)", "halted")],
             [("uuid ( RO)", "9a8b7c6d-2222-4f00-8a1b-0e1f2a3b4c5d"),
              ("name-label ( RW)", "db01"), ("power-state ( RO)", "running")]])
    assert p.stdout_text() == (
        "uuid ( RO)           : 0d7f6a52-1111-4c2e-9e3a-6c1a2b3c4d5e\n"
        "     name-label ( RW): web01\n"
        "    power-state ( RO): halted\n"
        "\n\n"
        "uuid ( RO)           : 9a8b7c6d-2222-4f00-8a1b-0e1f2a3b4c5d\n"
        "     name-label ( RW): db01\n"
        "    power-state ( RO): running\n"
        "\n\n")


def test_empty_record_and_empty_table():
    p = Printer()
    p.table([])
    assert p.stdout_text() == ""
    p.table([[]])
    assert p.stdout_text() == "\n\n\n"


def test_minimal_escapes_and_empty():
    p = Printer(minimal=True)
    p.table([[("name-label ( RW)", "a,b\\c")], [("name-label ( RW)", "x")]])
    p.flush()
    assert p.stdout_text() == "a\\,b\\\\c,x\n"
    p = Printer(minimal=True)
    p.table([])
    p.flush()
    assert p.stdout_text() == "\n"


def test_vm_list_bytes(lab):
    uuid = lab.vm_uuid("web-01")
    r = lab.ok("A", "vm-list", "uuid=" + uuid)
    assert r.out == ("uuid ( RO)           : %s\n"
                     "     name-label ( RW): web-01\n"
                     "    power-state ( RO): running\n\n\n" % uuid)
    assert r.err == ""


def test_field_order_is_record_order_not_params_order(lab):
    uuid = lab.vm_uuid("web-01")
    r = lab.ok("A", "vm-list", "uuid=" + uuid, "params=power-state,name-label,uuid")
    assert r.out.splitlines()[0].startswith("uuid ( RO)")
    assert r.out.splitlines()[2].strip().startswith("power-state")
    assert lab.ok("A", "vm-list", "uuid=" + uuid, "params=name-label,uuid",
                  "--minimal").out == uuid + "\n"


def test_empty_value_keeps_trailing_space(lab):
    uuid = lab.vm_uuid("web-01")
    r = lab.ok("A", "vm-list", "uuid=" + uuid, "params=name-description")
    assert r.out == "name-description ( RW)    : \n\n\n"


def test_modes_and_deprecated_labels(lab):
    uuid = lab.vm_uuid("web-01")
    out = lab.ok("A", "vm-param-list", "uuid=" + uuid).out
    assert "                other-config (MRW): " in out
    assert "               console-uuids (SRO): " in out
    assert "                        tags (SRW): " in out
    assert "ha-always-run ( RW) [DEPRECATED]: false" in out
    assert "memory-target ( RO): 0" in out or "memory-target ( RO): " in out
    assert "<expensive field>" not in out
    listed = lab.ok("A", "vm-list", "uuid=" + uuid, "params=all").out
    assert "memory-target ( RO): <expensive field>" in listed
    assert "transportable-snapshot-id" not in listed  # hidden


def test_minimal_escaping_end_to_end(lab):
    uuid = lab.vm_uuid("web-01")
    lab.ok("A", "vm-param-set", "uuid=" + uuid, "name-label=we,b\\01")
    assert lab.ok("A", "vm-list", "uuid=" + uuid, "params=name-label",
                  "--minimal").out == "we\\,b\\\\01\n"
    assert lab.ok("A", "vm-list", "name-label=nothing", "--minimal").out == "\n"
    assert lab.ok("A", "vm-list", "name-label=nothing").out == ""


def test_param_get_and_param_key(lab):
    uuid = lab.vm_uuid("web-01")
    assert lab.ok("A", "vm-param-get", "uuid=" + uuid, "param-name=name-label").out == "web-01\n"
    host = lab.ok("A", "host-list", "--minimal").values[0]
    assert lab.ok("A", "host-param-get", "uuid=" + host, "param-name=software-version",
                  "param-key=product_brand").out == "XCP-ng\n"
    # param-key is ignored on a field without map access (pool restrictions)
    pool = lab.ok("A", "pool-list", "--minimal").value
    whole = lab.ok("A", "pool-param-get", "uuid=" + pool, "param-name=restrictions").out
    assert lab.ok("A", "pool-param-get", "uuid=" + pool, "param-name=restrictions",
                  "param-key=restrict_dr").out == whole
    assert whole.startswith("restrict_dr: false; ")


def test_error_known_code_with_local_ref(lab):
    uuid = lab.vm_uuid("web-01")
    r = lab.xe("A", "vm-start", "uuid=" + uuid)
    assert r.code == 1 and r.out == ""
    assert r.err == DOC_BAD_POWER + "\nvm: %s (web-01)\nexpected: halted\nactual: running\n" % uuid


def test_error_uuid_invalid(lab):
    r = lab.xe("A", "vm-param-list", "uuid=00000000-dead-beef-0000-000000000000")
    assert (r.code, r.out) == (1, "")
    assert r.err == ("The uuid you supplied was invalid.\ntype: VM\n"
                     "uuid: 00000000-dead-beef-0000-000000000000\n")


def test_error_unknown_code_form(lab):
    r = lab.xe("B", "sr-probe", "type=lvmoiscsi")
    assert r.code == 1
    assert r.err == ("Error code: SR_BACKEND_FAILURE_95\nError parameters: , The request is "
                     "missing the target parameter, \n")


def test_error_failure_form(lab):
    r = lab.xe("A", "vm-list", "nosuchfield=1")
    assert r.code == 1
    assert r.err == DOC_INTERNAL + "\nmessage: Failure: Unknown field 'nosuchfield'\n"


def test_error_usage_forms(lab):
    r = lab.xe("A", "vm-param-get", "param-name=x")
    assert (r.code, r.err) == (1, "Required parameter not found: uuid\nFor usage run: 'xe help'\n")
    r = lab.xe("A", "no-such-command")
    assert (r.code, r.err) == (1, "Unknown command: no-such-command\nFor usage run: 'xe help'\n")
    r = lab.xe("A", "uuid=x")
    assert (r.code, r.err) == (1, "Syntax error: \nFor usage run: 'xe help'\n")


def test_error_cli_failure_and_missing_parameter(lab):
    uuid = lab.vm_uuid("web-01")
    r = lab.xe("A", "vm-shutdown", "uuid=" + uuid, "force=maybe")
    assert r.code == 1
    assert r.err == ("Error: Failed to parse parameter 'force': Expected 'true','t','yes','y',"
                     "'1','false','f','no','n','0' got maybe\n")
    r = lab.xe("A", "vm-param-get", "uuid=" + uuid, "param-name=nosuch")
    assert (r.code, r.err) == (1, "Error code: Missing parameter\nError parameters: nosuch\n")
    r = lab.xe("A", "vm-param-get", "uuid=" + uuid, "param-name=other-config",
               "param-key=nokey")
    assert r.err == DOC_INTERNAL + "\nmessage: Failure: Key nokey not found in map\n"


def test_error_missing_and_extra_params_labels():
    from xe_dr.lab.errors import server_error_text
    assert server_error_text("SR_HAS_PBD", []) == (
        "The SR is still connected to a host via a PBD. It cannot be destroyed or forgotten.\n"
        "sr: <unknown>\n")
    assert server_error_text("OPERATION_PARTIALLY_FAILED", ["VM_appliance.start", "x", "y"]) \
        .endswith("operation: VM_appliance.start\n<extra>: x\n<extra>: y\n")
    assert server_error_text("NO_MORE_REDO_LOGS_ALLOWED", []) == (
        "The upper limit of active redo log instances was reached.\n")


def test_multiple_failure_goes_to_stdout(lab):
    r = lab.xe("A", "vm-start", "power-state=running", "is-control-domain=false", "--multiple")
    assert r.code == 1 and r.err == ""
    lines = [l for l in r.out.splitlines() if l.startswith("operation failed on ")]
    assert lines and lines[0].endswith(DOC_BAD_POWER)
    assert "expected: halted" in r.out


def test_unreachable_site(lab):
    lab.disaster("A")
    r = lab.run("A", "vm-list")
    assert (r.code, r.out) == (1, "")
    assert r.err == "Unable to contact server. Please check server and port settings.\n"


def test_help_record(lab):
    r = lab.ok("A", "help", "drtask-create")
    assert r.out == ("command name            : drtask-create\n"
                     "        reqd params     : type\n"
                     "        optional params : device-config:, sr-whitelist\n"
                     "        description     : Create a disaster recovery task.\n\n\n")
    assert lab.ok("A", "help", "frobnicate").out == "Unknown command 'frobnicate'\n"


def test_usage_without_arguments(lab):
    r = lab.run("A")
    assert r.code == 0 and r.out == ""
    assert r.err.startswith("Usage:\n  xe <command>\n")


def test_sr_probe_xml_bytes(lab):
    sr_uuid, _ = lab.replicated_srs()[0]
    sr_type, dc = lab.device_config(sr_uuid, "B")
    args = ["sr-probe", "type=" + sr_type, "sm-config:metadata=true"] + \
        ["device-config:%s=%s" % kv for kv in sorted(dc.items())]
    r = lab.ok("B", *args)
    data = lab.array()
    lun = [l for l in data["luns"].values() if l["copies"].get("B", {}).get("scsiid") ==
           dc["SCSIid"]][0]
    assert r.out == (
        '<?xml version="1.0" ?>\n<SRlist>\n\t<SR>\n'
        "\t\t<UUID>%s</UUID>\n"
        "\t\t<Devlist>/dev/disk/by-id/scsi-%s</Devlist>\n"
        "\t\t<size>%d</size>\n"
        "\t\t<name_label>iSCSI DR 1</name_label>\n"
        "\t\t<name_description>Replicated to site B (lun1)</name_description>\n"
        "\t\t<pool_metadata_detected>false</pool_metadata_detected>\n"
        "\t</SR>\n</SRlist>\n\n" % (sr_uuid, dc["SCSIid"], lun["size"]))
    # without sm-config:metadata=true the MGT fields are absent
    r = lab.ok("B", *[a for a in args if not a.startswith("sm-config")])
    assert "name_label" not in r.out and "<size>" in r.out


def test_sr_probe_iqn_list_error_bytes(lab):
    r = lab.xe("B", "sr-probe", "type=lvmoiscsi", "device-config:target=10.0.2.50")
    assert r.code == 1
    assert r.err == (
        "Error code: SR_BACKEND_FAILURE_96\n"
        "Error parameters: , The request is missing or has an incorrect target IQN parameter, "
        '<?xml version="1.0" ?>\n<iscsi-target-iqns>\n'
        "\t<TGT>\n\t\t<Index>0</Index>\n\t\t<IPAddress>10.0.2.50</IPAddress>\n"
        "\t\t<TargetIQN>iqn.2001-05.com.labarray:site-b</TargetIQN>\n\t</TGT>\n"
        "\t<TGT>\n\t\t<Index>1</Index>\n\t\t<IPAddress>10.0.2.50</IPAddress>\n"
        "\t\t<TargetIQN>*</TargetIQN>\n\t</TGT>\n"
        "</iscsi-target-iqns>\n\n\n")
    r = lab.xe("B", "sr-probe", "type=lvmoiscsi", "device-config:target=10.0.2.50",
               "device-config:port=3261")
    assert r.err == ("Error code: SR_BACKEND_FAILURE_141\nError parameters: , Unable to "
                     "connect to ISCSI service on target, \n")


def test_ref_converter_formats():
    class FakeDb(object):
        def refinfo(self):
            return {"OpaqueRef:a": ("uuid-a", "name a"), "OpaqueRef:b": ("uuid-b", None)}
    conv = render.ref_converter(FakeDb())
    assert conv("OpaqueRef:a") == "uuid-a (name a)"
    assert conv("OpaqueRef:b") == "uuid-b"
    assert conv("OpaqueRef:zzz") == "OpaqueRef:zzz"
    assert conv("plain") == "plain"
