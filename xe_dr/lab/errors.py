"""XAPI errors as the lab raises them, and the exact text xe prints for each form.

Three forms reach stderr (reference section 4.3), always with exit code 1:

1. a code in the datamodel's error table: its documentation sentence, then one ``name: value``
   line per parameter (surplus values as ``<extra>: v``, missing ones as ``name: <unknown>``);
   values that are references into the *local* database are shown as ``uuid (name-label)``;
2. any other code: ``Error code: C`` and ``Error parameters: p1, p2``;
3. failures of the CLI server itself: an OCaml ``Failure`` becomes INTERNAL_ERROR with
   ``message: Failure: ...``; ``Error: ...`` lines; ``Required parameter not found: x`` /
   ``Unknown command: x`` / ``Syntax error: ...`` followed by the usage hint.
"""

# code -> (parameter names, documentation sentence); facts from xapi's datamodel_errors.ml.
ERRORS = {
    "UUID_INVALID": (["type", "uuid"], "The uuid you supplied was invalid."),
    "HANDLE_INVALID": (
        ["class", "handle"],
        "You gave an invalid object reference. The object may have recently been deleted. The "
        "class parameter gives the type of reference given, and the handle parameter echoes the "
        "bad value given."),
    "VM_BAD_POWER_STATE": (
        ["vm", "expected", "actual"],
        "You attempted an operation on a VM that was not in an appropriate power state at the "
        "time; for example, you attempted to start a VM that was already running. The parameters "
        "returned are the VM's handle, and the expected and actual VM state at the time of the "
        "call."),
    "VM_REQUIRES_SR": (
        ["vm", "sr"],
        "You attempted to run a VM on a host which doesn't have access to an SR needed by the VM. "
        "The VM has at least one VBD attached to a VDI in the SR."),
    "VM_TO_IMPORT_IS_NOT_NEWER_VERSION": (
        ["vm", "existing_version", "version_to_import"],
        "The VM cannot be imported unforced because it is either the same version or an older "
        "version of an existing VM."),
    "VDI_LOCATION_MISSING": (
        ["sr", "location"],
        "This operation cannot be performed because the specified VDI could not be found in the "
        "specified SR"),
    "VDI_INCOMPATIBLE_TYPE": (
        ["vdi", "type"],
        "This operation cannot be performed because the specified VDI is of an incompatible type "
        "(eg: an HA statefile cannot be attached to a guest)"),
    "VDI_IN_USE": (
        ["vdi", "operation"],
        "This operation cannot be performed because this VDI is in use by some other operation"),
    "COULD_NOT_IMPORT_DATABASE": (
        ["reason"],
        "An error occurred while attempting to import a database from a metadata VDI"),
    "SR_HAS_PBD": (
        ["sr"],
        "The SR is still connected to a host via a PBD. It cannot be destroyed or forgotten."),
    "SR_HAS_NO_PBDS": (["sr"], "The SR has no attached PBDs"),
    "SR_OPERATION_NOT_SUPPORTED": (
        ["sr"],
        "The SR backend does not support the operation (check the SR's allowed operations)"),
    "SR_UNKNOWN_DRIVER": (
        ["driver"], "The SR could not be connected because the driver was not recognised."),
    "SR_UUID_EXISTS": (["uuid"], "An SR with that uuid already exists."),
    "SR_NOT_ATTACHED": (["sr"], "The SR is not attached."),
    "PBD_EXISTS": (["sr", "host", "pbd"], "A PBD already exists connecting the SR to the server."),
    "DEVICE_ALREADY_DETACHED": (["device"], "The device is not currently attached"),
    "DEVICE_ALREADY_ATTACHED": (["device"], "The device is already attached to a VM"),
    "NETWORK_CONTAINS_VIF": (
        ["vifs"], "The network contains active VIFs and cannot be deleted."),
    "NETWORK_CONTAINS_PIF": (
        ["pifs"], "The network contains active PIFs and cannot be deleted."),
    "DEVICE_ALREADY_EXISTS": (
        ["device"], "A device with the name given already exists on the selected VM"),
    "INVALID_DEVICE": (["device"], "The device name is invalid"),
    "NO_MORE_REDO_LOGS_ALLOWED": (
        [], "The upper limit of active redo log instances was reached."),
    "CANNOT_ENABLE_REDO_LOG": (["reason"], "Could not enable redo log."),
    "REDO_LOG_IS_ENABLED": (
        [], "The operation could not be performed because a redo log is enabled on the Pool."),
    "OPERATION_NOT_ALLOWED": (["reason"], "You attempted an operation that was not allowed."),
    "OPERATION_PARTIALLY_FAILED": (
        ["operation"],
        "Some VMs belonging to the appliance threw an exception while carrying out the specified "
        "operation"),
    "OTHER_OPERATION_IN_PROGRESS": (
        ["class", "object", "operation_type", "operation_ref"],
        "Another operation involving the object is currently in progress"),
    "LICENCE_RESTRICTION": (
        ["feature"],
        "This operation is not allowed because your license lacks a needed feature. Please "
        "contact your support representative."),
    "RBAC_PERMISSION_DENIED": (["permission", "message"], "RBAC permission denied."),
    "SR_BACKEND_FAILURE": (
        ["status", "stdout", "stderr"], "There was an SR backend failure."),
    "XENAPI_PLUGIN_FAILURE": (
        ["status", "stdout", "stderr"], "There was a failure communicating with the plug-in."),
    "XENAPI_MISSING_PLUGIN": (["name"], "The requested plug-in could not be found."),
    "INTERNAL_ERROR": (
        ["message"],
        "The server failed to handle your request, due to an internal error. The given message "
        "may give details useful for debugging the problem."),
    "HOST_IS_SLAVE": (
        ["Master IP address"],
        "You cannot make regular API calls directly on a supporter. Please pass API calls via "
        "the coordinator host."),
    "HOST_OFFLINE": (
        ["host"], "You attempted an operation which involves a host which could not be contacted."),
    "NO_HOSTS_AVAILABLE": (
        [], "There were no servers available to complete the specified operation."),
    "VM_REQUIRES_NETWORK": (
        ["vm", "network"],
        "You attempted to run a VM on a host which doesn't have a PIF on a Network needed by the "
        "VM. The VM has at least one VIF attached to the Network."),
    "HOST_NOT_ENOUGH_FREE_MEMORY": (
        ["needed", "available"], "Not enough server memory is available to perform this operation."),
    "HA_IS_ENABLED": (
        [], "The operation could not be performed because HA is enabled on the Pool"),
    "HA_NOT_ENABLED": (
        [], "The operation could not be performed because HA is not enabled on the Pool"),
    "CANNOT_CREATE_STATE_FILE": (
        [], "An HA statefile could not be created, perhaps because no SR with the appropriate "
            "capability was found."),
    "SR_SOURCE_SPACE_INSUFFICIENT": (
        ["sr"], "The source SR does not have sufficient temporary space available to proceed "
                "the operation."),
    "VM_IS_PART_OF_AN_APPLIANCE": (
        ["vm", "appliance"], "This operation is not allowed as the VM is part of an appliance."),
    "MAP_DUPLICATE_KEY": (
        ["type", "param_name", "uuid", "key"],
        "You tried to add a key-value pair to a map, but that key is already there."),
    "INVALID_VALUE": (["field", "value"], "The value given is invalid"),
    "VM_LACKS_FEATURE": (["vm"], "You attempted an operation on a VM which lacks the feature."),
    "INVALID_IP_ADDRESS_SPECIFIED": (
        ["parameter"], "A required parameter contained an invalid IP address"),
    "INVALID_CIDR_ADDRESS_SPECIFIED": (
        ["parameter"],
        "A required parameter contained an invalid CIDR address (<addr>/<prefix length>)"),
    "ADDRESS_VIOLATES_LOCKING_CONSTRAINT": (
        ["address"], "The specified IP address violates the VIF locking configuration."),
    "BRIDGE_NAME_EXISTS": (["bridge"], "The specified bridge already exists."),
    "SESSION_INVALID": (
        ["handle"],
        "You gave an invalid session reference. It may have been invalidated by a server "
        "restart, or timed out. You should get a new session handle, using one of the "
        "session.login_ calls. This error does not invalidate the current connection. The "
        "handle parameter echoes the bad value given."),
    "VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT": (["vm"], "VM didn't acknowledge the need to shutdown."),
    "VM_SHUTDOWN_TIMEOUT": (["vm", "timeout"], "VM failed to shutdown before the timeout expired"),
    "TASK_CANCELLED": (["task"], "The request was asynchronously canceled."),
    "SR_DEVICE_IN_USE": (
        [],
        "The SR operation cannot be performed because a device underlying the SR is in use by "
        "the server."),
    "SR_NOT_EMPTY": ([], "The SR operation cannot be performed because the SR is not empty."),
    "VDI_MISSING": (
        ["sr", "vdi"],
        "This operation cannot be performed because the specified VDI could not be found on the "
        "storage substrate"),
}

USAGE_HINT = "For usage run: 'xe help'\n"

# Client-side failure when the coordinator cannot be reached (xe-cli newcli.ml, Connect_failure).
UNREACHABLE = "Unable to contact server. Please check server and port settings.\n"

# SM error numbers and descriptions used by the lab (sm libs/sm/core/XE_SR_ERRORCODES.xml).
SM_ERRORS = {
    16: "The SR device is currently in use",
    20: "No such secret.",
    46: "The VDI is not available",
    47: "The SR is not available",
    68: "ISCSI login failed - check access settings for the initiator on the storage, if CHAP is "
        "used verify CHAP credentials",
    83: "ISCSI discovery failed",
    90: "The request is missing the device parameter",
    95: "The request is missing the target parameter",
    96: "The request is missing or has an incorrect target IQN parameter",
    97: "Unable to retrieve the host configuration ISCSI IQN parameter",
    107: "The SCSIid parameter is missing or incorrect",
    140: "Incorrect DNS name, unable to resolve.",
    141: "Unable to connect to ISCSI service on target",
    142: "Incorrect value for iSCSI port, must be a number between 1 and 65535",
    181: "Error in Metadata volume operation for SR.",
    202: "General backend error",
}


class LabError(Exception):
    """Base of everything the fake xe turns into output."""


class XapiError(LabError):
    """A server error: ``code`` and a list of string ``params`` (refs stay raw here)."""

    def __init__(self, code, params=()):
        LabError.__init__(self, code, list(params))
        self.code = code
        self.params = [str(p) for p in params]

    def __str__(self):
        return "%s(%s)" % (self.code, ", ".join(self.params))


# SM fault numbers xapi turns into errors of its own, without parameters (xen-api
# ocaml/xapi/sm_exec.ml, the XMLRPC.Fault handlers: 16 SR_DEVICE_IN_USE, 24 VDI_IN_USE,
# 39 SR_NOT_EMPTY; 144 VDI_MISSING takes the call's SR and VDI, which the lab never raises).
SM_AS_XAPI = {16: "SR_DEVICE_IN_USE", 24: "VDI_IN_USE", 39: "SR_NOT_EMPTY"}


def sm_error(number, stderr="", opterr=None):
    """SR_BACKEND_FAILURE_<n> with xapi's parameter shape ["", reason, captured stderr], or the
    error xapi maps that number to."""
    if number in SM_AS_XAPI:
        return XapiError(SM_AS_XAPI[number], [])
    reason = SM_ERRORS[number]
    if opterr:
        reason += " [opterr=%s]" % opterr
    return XapiError("SR_BACKEND_FAILURE_%d" % number, ["", reason, stderr])


class Failure(LabError):
    """An OCaml ``Failure`` in the CLI server: printed as INTERNAL_ERROR ``Failure: msg``."""

    def __init__(self, msg):
        LabError.__init__(self, msg)
        self.msg = msg


class CliError(LabError):
    """``Cli_failure`` / ``Record_failure``: printed as ``Error: msg``."""

    def __init__(self, msg):
        LabError.__init__(self, msg)
        self.msg = msg


class ParamError(LabError):
    """``<kind>: <text>`` plus the usage hint (unknown command, missing parameter, syntax)."""

    def __init__(self, kind, text):
        LabError.__init__(self, kind, text)
        self.kind = kind
        self.text = text


class MissingField(LabError):
    """``Records.CLI_failed_to_find_param``: the unknown-code form with code 'Missing parameter'."""

    def __init__(self, name):
        LabError.__init__(self, name)
        self.name = name


class MultipleFailure(LabError):
    """``--multiple`` with failures: one ``operation failed on <uuid>: <msg>`` line on stdout."""

    def __init__(self, fails):
        LabError.__init__(self, fails)
        self.fails = fails


class Unreachable(LabError):
    """The client could not reach the coordinator (the site is dark)."""


def server_error_text(code, params, ref_convert=lambda p: p, release_errors=None):
    """stderr text of a server error (forms 1 and 2). ``release_errors``: the lab's release
    profile's table where the datamodel differs from ERRORS; an error it redefines has that
    release's parameters, so surplus ones (added by later releases) are not raised."""
    release_errors = release_errors or {}
    known = release_errors.get(code) or ERRORS.get(code)
    if code in release_errors:
        params = list(params)[:len(known[0])]
    params = [ref_convert(p) for p in params]
    if known is None:
        return "Error code: %s\nError parameters: %s\n" % (code, ", ".join(params))
    names, doc = known
    lines = [doc]
    for i in range(max(len(names), len(params))):
        if i < len(names) and i < len(params):
            lines.append("%s: %s" % (names[i], params[i]))
        elif i < len(params):
            lines.append("<extra>: %s" % params[i])
        else:
            lines.append("%s: <unknown>" % names[i])
    return "\n".join(lines) + "\n"


def doc_text(code, params, ref_convert=lambda p: p, release_errors=None):
    """The message and parameter lines of a known error, for --multiple failure lines."""
    return server_error_text(code, params, ref_convert, release_errors).rstrip("\n")


def format_error(exc, ref_convert=lambda p: p, release_errors=None):
    """(stdout, stderr) that real xe prints for ``exc``; the exit code is always 1."""
    if isinstance(exc, XapiError):
        return "", server_error_text(exc.code, exc.params, ref_convert, release_errors)
    if isinstance(exc, Failure):
        return "", server_error_text("INTERNAL_ERROR", ["Failure: " + exc.msg])
    if isinstance(exc, CliError):
        return "", "Error: %s\n" % exc.msg
    if isinstance(exc, ParamError):
        head = "%s: %s" % (exc.kind, exc.text) if exc.kind else exc.text
        return "", head + "\n" + USAGE_HINT
    if isinstance(exc, MissingField):
        return "", server_error_text("Missing parameter", [exc.name])
    if isinstance(exc, MultipleFailure):
        return "".join("operation failed on %s: %s\n" % (u, m) for u, m in exc.fails), ""
    if isinstance(exc, Unreachable):
        return "", UNREACHABLE
    return "", server_error_text("INTERNAL_ERROR", [repr(exc)])
