"""xe's error forms (reference xapi-dr.md 4.3 and 4.4) parsed into XapiError."""

import pytest

from xe_dr.errors import XeDrError
from xe_dr.exitcodes import ExitCode
from xe_dr.xe.errors import KNOWN_ERRORS, XapiError, parse_error, ref_uuid

INTERNAL = ("The server failed to handle your request, due to an internal error. The given "
            "message may give details useful for debugging the problem.\n")

# Byte for byte as in the reference (4.3, form 1).
UUID_INVALID = ("The uuid you supplied was invalid.\n"
                "type: VM\n"
                "uuid: 00000000-dead-beef-0000-000000000000\n")
BAD_POWER_STATE = (
    "You attempted an operation on a VM that was not in an appropriate power state at the "
    "time; for example, you attempted to start a VM that was already running. The parameters "
    "returned are the VM's handle, and the expected and actual VM state at the time of the "
    "call.\n"
    "vm: 9a8b7c6d-2222-4f00-8a1b-0e1f2a3b4c5d (db01)\n"
    "expected: halted\n"
    "actual: running\n")
SR_HAS_PBD = ("The SR is still connected to a host via a PBD. It cannot be destroyed or "
              "forgotten.\n"
              "sr: 7e1d0c2b-aaaa-4bbb-8ccc-0123456789ab (iSCSI DR)\n")

IQN_XML = (
    '<?xml version="1.0" ?>\n'
    "<iscsi-target-iqns>\n"
    "\t<TGT>\n"
    "\t\t<Index>0</Index>\n"
    "\t\t<IPAddress>10.0.0.5</IPAddress>\n"
    "\t\t<TargetIQN>iqn.2001-05.com.example:lun1</TargetIQN>\n"
    "\t</TGT>\n"
    "\t<TGT>\n"
    "\t\t<Index>1</Index>\n"
    "\t\t<IPAddress>10.0.0.5</IPAddress>\n"
    "\t\t<TargetIQN>*</TargetIQN>\n"
    "\t</TGT>\n"
    "</iscsi-target-iqns>\n")
SR_96 = ("Error code: SR_BACKEND_FAILURE_96\n"
         "Error parameters: , The request is missing or has an incorrect target IQN "
         "parameter, " + IQN_XML + "\n")
LUN_XML = (
    '<?xml version="1.0" ?>\n'
    "<iscsi-target>\n"
    "\t<LUN>\n"
    "\t\t<vendor>LIO-ORG</vendor>\n"
    "\t\t<serial>abc, def</serial>\n"
    "\t\t<LUNid>0</LUNid>\n"
    "\t\t<size>107374182400</size>\n"
    "\t\t<SCSIid>36001405abcdef</SCSIid>\n"
    "\t</LUN>\n"
    "</iscsi-target>\n")


def test_form1_uuid_invalid():
    error = parse_error(UUID_INVALID)
    assert isinstance(error, XapiError) and isinstance(error, XeDrError)
    assert error.code == "UUID_INVALID"
    assert error.params == ["VM", "00000000-dead-beef-0000-000000000000"]
    assert error.param_map == {"type": "VM", "uuid": "00000000-dead-beef-0000-000000000000"}
    assert error.description == "The uuid you supplied was invalid."
    assert error.exit_code == ExitCode.FAILED
    assert error.stderr == UUID_INVALID


def test_form1_bad_power_state_with_resolved_ref():
    error = parse_error(BAD_POWER_STATE, command="xe vm-start uuid=9a8b")
    assert error.code == "VM_BAD_POWER_STATE"
    assert list(error.param_map) == ["vm", "expected", "actual"]
    assert error.param_map["actual"] == "running"
    assert ref_uuid(error.param_map["vm"]) == "9a8b7c6d-2222-4f00-8a1b-0e1f2a3b4c5d"
    assert error.command == "xe vm-start uuid=9a8b"
    assert error.one_line().startswith("xe vm-start uuid=9a8b failed: VM_BAD_POWER_STATE")
    assert "\n" not in error.one_line()


def test_form1_sr_has_pbd():
    error = parse_error(SR_HAS_PBD)
    assert error.code == "SR_HAS_PBD"
    assert error.param_map == {"sr": "7e1d0c2b-aaaa-4bbb-8ccc-0123456789ab (iSCSI DR)"}


def test_ref_uuid():
    assert ref_uuid("7e1d0c2b-aaaa-4bbb-8ccc-0123456789ab") == \
        "7e1d0c2b-aaaa-4bbb-8ccc-0123456789ab"
    assert ref_uuid("7e1d0c2b-aaaa-4bbb-8ccc-0123456789ab (a (b) c)") == \
        "7e1d0c2b-aaaa-4bbb-8ccc-0123456789ab"
    assert ref_uuid("OpaqueRef:1234") is None
    assert ref_uuid("") is None and ref_uuid(None) is None


@pytest.mark.parametrize("code", sorted(KNOWN_ERRORS))
def test_every_known_error_round_trips(code):
    names, sentences = KNOWN_ERRORS[code]
    for sentence in sentences:
        values = ["value %d: with, odd; chars" % i for i in range(len(names))]
        text = sentence + "\n" + "".join("%s: %s\n" % nv for nv in zip(names, values))
        error = parse_error(text)
        assert error.code == code
        assert error.params == values
        assert error.param_map == dict(zip(names, values))
        assert error.description == sentence


def test_host_is_slave_both_wordings():
    for sentence in KNOWN_ERRORS["HOST_IS_SLAVE"][1]:
        error = parse_error(sentence + "\nMaster IP address: 10.0.0.1\n")
        assert error.code == "HOST_IS_SLAVE"
        assert error.param_map == {"Master IP address": "10.0.0.1"}
        assert "10.0.0.1" in error.hint
    assert "slave" in KNOWN_ERRORS["HOST_IS_SLAVE"][1][1]
    assert "supporter" in KNOWN_ERRORS["HOST_IS_SLAVE"][1][0]


def test_licence_and_rbac_are_refused():
    licence = parse_error(
        "This operation is not allowed because your license lacks a needed feature. Please "
        "contact your support representative.\nfeature: DR\n")
    assert licence.code == "LICENCE_RESTRICTION"
    assert licence.param_map == {"feature": "DR"}
    assert licence.exit_code == ExitCode.REFUSED == 77
    rbac = parse_error("RBAC permission denied.\npermission: vdi.open_database\n"
                       "message: No permission to perform operation\n")
    assert rbac.code == "RBAC_PERMISSION_DENIED"
    assert rbac.exit_code == ExitCode.REFUSED


def test_operation_partially_failed_extra_lines():
    error = parse_error(
        "Some VMs belonging to the appliance threw an exception while carrying out the "
        "specified operation\n"
        "operation: VM_appliance.start\n"
        "<extra>: 9a8b7c6d-2222-4f00-8a1b-0e1f2a3b4c5d (db01)\n"
        "<extra>: OpaqueRef:5ce4\n")
    assert error.code == "OPERATION_PARTIALLY_FAILED"
    assert error.param_map == {"operation": "VM_appliance.start"}
    assert error.extra == ["9a8b7c6d-2222-4f00-8a1b-0e1f2a3b4c5d (db01)", "OpaqueRef:5ce4"]
    assert error.params == ["VM_appliance.start"] + error.extra


def test_missing_parameters_print_unknown():
    error = parse_error("You attempted to run a VM on a host which doesn't have access to an "
                        "SR needed by the VM. The VM has at least one VBD attached to a VDI "
                        "in the SR.\nvm: OpaqueRef:aa\nsr: <unknown>\n")
    assert error.code == "VM_REQUIRES_SR"
    assert error.params == ["OpaqueRef:aa"]
    assert error.param_map == {"vm": "OpaqueRef:aa", "sr": None}


def test_no_parameters():
    error = parse_error("The upper limit of active redo log instances was reached.\n")
    assert error.code == "NO_MORE_REDO_LOGS_ALLOWED"
    assert error.params == [] and error.param_map == {}


def test_multi_line_value_in_form1():
    text = ("There was a failure communicating with the plug-in.\n"
            "status: non-zero exit\n"
            "stdout: \n"
            "stderr: Traceback (most recent call last):\n"
            '  File "/etc/xapi.d/plugins/xe-dr", line 3, in <module>\n'
            "status: not a parameter line\n"
            "NameError: name 'x' is not defined\n")
    error = parse_error(text)
    assert error.code == "XENAPI_PLUGIN_FAILURE"
    assert error.param_map["status"] == "non-zero exit"
    assert error.param_map["stdout"] == ""
    assert error.param_map["stderr"].startswith("Traceback")
    assert error.param_map["stderr"].endswith("NameError: name 'x' is not defined")
    assert error.param_map["stderr"].count("\n") == 3


def test_internal_error_helpers():
    def failure(text):
        return parse_error(INTERNAL + "message: Failure: " + text + "\n")

    error = failure("No matching VMs found")
    assert error.code == "INTERNAL_ERROR"
    assert error.failure_text == "No matching VMs found"
    assert error.is_no_match() and not error.is_multiple_matches()
    assert failure("No matching hosts found").is_no_match()
    assert failure("Multiple matches VMs found. --multiple required to complete the "
                   "operation").is_multiple_matches()
    assert failure("Unknown field 'bogus'").unknown_field() == "bogus"
    assert failure("A parameter of the form 'database:vdi-uuid=<uuid>' must be specified to "
                   "run this command.").is_missing_database_vdi()
    assert failure("Key product_version not found in map").missing_map_key() == \
        "product_version"
    other = parse_error(INTERNAL + "message: Unix_error: No such file or directory\n")
    assert other.failure_text is None and not other.is_no_match()
    assert other.unknown_field() is None and other.missing_map_key() is None
    assert parse_error(UUID_INVALID).failure_text is None


def test_internal_error_multi_line_failure():
    error = parse_error(INTERNAL + "message: Failure: first line\nsecond: line\n")
    assert error.failure_text == "first line\nsecond: line"


def test_form2_sr_backend_failure_96_keeps_the_xml_whole():
    error = parse_error(SR_96)
    assert error.code == "SR_BACKEND_FAILURE_96"
    assert error.sm_error_number == 96
    assert error.params == ["", "The request is missing or has an incorrect target IQN "
                            "parameter", IQN_XML]
    assert error.description == "The request is missing or has an incorrect target IQN parameter"
    assert error.params_text.startswith(", The request")
    assert error.exit_code == ExitCode.FAILED
    assert "<TGT>" not in error.one_line()
    assert "SR_BACKEND_FAILURE_96" in error.one_line()


def test_form2_sr_107_xml_with_comma_and_opterr_description():
    text = ("Error code: SR_BACKEND_FAILURE_107\n"
            "Error parameters: , The SCSIid parameter is missing or incorrect [opterr=a, b], "
            + LUN_XML + "\n")
    error = parse_error(text)
    assert error.params == ["", "The SCSIid parameter is missing or incorrect [opterr=a, b]",
                            LUN_XML]


def test_form2_description_with_comma_and_empty_stderr():
    text = ("Error code: SR_BACKEND_FAILURE_68\n"
            "Error parameters: , ISCSI login failed - check access settings for the initiator "
            "on the storage, if CHAP is used verify CHAP credentials, \n")
    error = parse_error(text)
    assert error.params == ["", "ISCSI login failed - check access settings for the initiator "
                            "on the storage, if CHAP is used verify CHAP credentials", ""]


def test_form2_sm_without_xml():
    error = parse_error("Error code: SR_BACKEND_FAILURE_95\n"
                        "Error parameters: , The request is missing the target parameter, \n")
    assert error.params == ["", "The request is missing the target parameter", ""]
    error = parse_error("Error code: SR_BACKEND_FAILURE_141\n"
                        "Error parameters: , Unable to connect to ISCSI service on target, "
                        "some stderr\n")
    assert error.params == ["", "Unable to connect to ISCSI service on target", "some stderr"]


def test_form2_plugin_codes():
    error = parse_error("Error code: UNKNOWN_XENAPI_PLUGIN_FUNCTION\n"
                        "Error parameters: bogus\n")
    assert error.code == "UNKNOWN_XENAPI_PLUGIN_FUNCTION"
    assert error.params == ["bogus"]
    error = parse_error("Error code: XE_DR_BAD_ARGS\nError parameters: one, two, three\n")
    assert error.params == ["one", "two", "three"]
    assert error.params_text == "one, two, three"
    error = parse_error("Error code: -1\nError parameters: boom, , Traceback (most recent "
                        "call last):\n  File \"x\", line 1, in f\nValueError: boom\n")
    assert error.params == ["boom", "", "Traceback (most recent call last):\n  File \"x\", "
                            "line 1, in f\nValueError: boom"]
    error = parse_error("Error code: SOME_CODE\nError parameters: \n")
    assert error.params == []


def test_form2_missing_parameter():
    error = parse_error("Error code: Missing parameter\nError parameters: bogus-field\n")
    assert error.code == "CLI_MISSING_PARAMETER"
    assert error.param_map == {"parameter": "bogus-field"}


@pytest.mark.parametrize("text,code,params", [
    ("Required parameter not found: uuid\nFor usage run: 'xe help'\n",
     "CLI_REQUIRED_PARAMETER_NOT_FOUND", ["uuid"]),
    ("Unknown command: foo\nFor usage run: 'xe help'\n", "CLI_UNKNOWN_COMMAND", ["foo"]),
    ("Syntax error: bad argument\nFor usage run: 'xe help'\n", "CLI_SYNTAX_ERROR",
     ["bad argument"]),
    ("Authentication failed\nFor usage run: 'xe help'\n", "CLI_AUTHENTICATION_FAILED", []),
    ("Username/password must be specified\nFor usage run: 'xe help'\n",
     "CLI_AUTHENTICATION_FAILED", []),
    ("Error: No VDI found\n", "CLI_ERROR", ["No VDI found"]),
    ("Error: two\nlines\n", "CLI_ERROR", ["two\nlines"]),
])
def test_cli_side_failures(text, code, params):
    error = parse_error(text)
    assert error.code == code
    assert error.params == params
    assert "\n" not in error.one_line()


def test_cli_error_maps():
    assert parse_error("Required parameter not found: uuid\nFor usage run: 'xe help'\n") \
        .param_map == {"parameter": "uuid"}
    assert parse_error("Unknown command: foo\n").param_map == {"command": "foo"}
    assert parse_error("Authentication failed\n").exit_code == ExitCode.REFUSED


@pytest.mark.parametrize("text", [
    "Unable to contact server. Please check server and port settings.\n",
    "Lost connection to the server.\n",
    "Failed to contact a running management agent.\nTry specifying a server name and port.\n",
    "Error: Connection refused (calling connect )\n",
    "Host 'pool-a' not found.\n",
])
def test_connection_failures_are_unreachable(text):
    error = parse_error(text)
    assert error.code == "CLI_CONNECTION_FAILED"
    assert error.exit_code == ExitCode.UNREACHABLE == 69


def test_multiple_failure_on_stdout():
    error = parse_error("", stdout="operation failed on 9a8b: VM_BAD_POWER_STATE\n"
                                   "operation failed on 0d7f: oops: more\n", exit_status=1)
    assert error.code == "CLI_MULTIPLE_FAILURE"
    assert error.params == ["9a8b", "VM_BAD_POWER_STATE", "0d7f", "oops: more"]
    assert error.param_map == {"9a8b": "VM_BAD_POWER_STATE", "0d7f": "oops: more"}


def test_xe_missing_or_not_executable():
    error = parse_error("bash: xe: command not found\n", exit_status=127)
    assert error.code == "XE_NOT_FOUND"
    assert error.exit_code == ExitCode.CONFIG
    assert parse_error("bash: /x/xe: Permission denied\n", exit_status=126).code == \
        "XE_NOT_EXECUTABLE"


@pytest.mark.parametrize("text", ["", "\n", "something odd\n", "type: VM\n", "\x00\xff",
                                  "Error parameters: a\n", "Error code: \n"])
def test_unparseable_is_unknown_and_keeps_the_text(text):
    error = parse_error(text, exit_status=1)
    assert isinstance(error, XapiError)
    assert error.stderr == text
    assert error.code == "UNKNOWN"
    assert "\n" not in error.one_line()


def test_sentence_without_its_parameter_lines_falls_back():
    error = parse_error("The uuid you supplied was invalid.\nnot a parameter\n")
    assert error.code == "UNKNOWN"
    assert error.description == "The uuid you supplied was invalid."


def test_preamble_lines_are_skipped():
    error = parse_error("some warning\n" + UUID_INVALID)
    assert error.code == "UUID_INVALID"
    assert error.stderr.startswith("some warning")


def test_secrets_never_in_message_or_repr():
    error = parse_error(
        INTERNAL + "message: Failure: bad device-config chappassword=hunter2 and s3cret\n",
        command="xe sr-probe device-config:chappassword=hunter2 device-config:x=s3cret",
        secrets=("s3cret",))
    for text in (str(error), repr(error), error.one_line(), error.stderr, error.command,
                 " ".join(error.params), " ".join(v for v in error.param_map.values())):
        assert "hunter2" not in text
        assert "s3cret" not in text
    assert "<redacted>" in error.one_line()


def test_long_parameters_are_abbreviated_in_messages():
    error = parse_error("Error code: X\nError parameters: " + "a" * 5000 + "\n")
    assert len(error.one_line()) < 400
    assert error.params == ["a" * 5000]


def test_vm_requires_network_is_known_by_its_real_code():
    """xen-api ocaml/xapi-consts/api_errors.ml: vm_requires_net = "VM_REQUIRES_NETWORK"."""
    error = parse_error("You attempted to run a VM on a host which doesn't have a PIF on a "
                        "Network needed by the VM. The VM has at least one VIF attached to the "
                        "Network.\nvm: OpaqueRef:aa\nnetwork: OpaqueRef:bb\n")
    assert error.code == "VM_REQUIRES_NETWORK"
    assert error.param_map == {"vm": "OpaqueRef:aa", "network": "OpaqueRef:bb"}
