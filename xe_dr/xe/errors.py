"""xe's failures as Python exceptions, and the parser that reads them from xe's stderr.

xe reports every failure on stderr with exit status 1, in one of three forms
(docs: reference xapi-dr.md section 4.3):

1. a known XAPI error: the error's documentation sentence on the first line, then one
   ``name: value`` line per parameter (``<extra>: v`` for surplus values,
   ``name: <unknown>`` for missing ones). A value may span several lines (a traceback, a
   multi-line failure message); the parser knows each error's parameter names, so it reads a
   value up to the next expected ``name: `` line.
2. an error code not in xapi's table (all ``SR_BACKEND_FAILURE_<n>``, plugin codes,
   ``Missing parameter``): ``Error code: X`` then ``Error parameters: p1, p2, ...``. The
   parameters are joined by ``, `` with no escaping, so a value holding ``, `` cannot be told
   apart from two values. The last parameter may span many lines (the sr-probe XML); it is
   kept whole. ``XapiError.params_text`` keeps the joined text for callers that know better.
3. CLI-side failures: an OCaml ``Failure`` in the CLI server (INTERNAL_ERROR with
   ``message: Failure: ...``), usage errors followed by ``For usage run: 'xe help'``,
   ``Error: <text>`` and the xe client's own connection messages.

Looked up in xapi's source (xapi-project/xen-api, read, not copied):
``ocaml/xapi-cli-server/xapi_cli.ml`` (exception_handler), ``cli_util.ml``
(server_error/get_server_error), ``ocaml/xe-cli/newcli.ml`` (client-side messages; form 2 is
printed by the client), ``ocaml/idl/datamodel_errors.ml`` (doc sentences and parameter names,
compared between v1.249.0 and master: identical apart from HOST_IS_SLAVE's wording, and
OTHER_OPERATION_IN_PROGRESS, which has two parameters before v25.27 and four after).
Also from xapi_cli.ml: a ``--multiple`` operation that fails on some objects prints
``operation failed on <uuid>: <message>`` lines on **stdout**, nothing on stderr, and exits 1.

Error codes this module invents for failures that have no XAPI code (all CLI-side):
``CLI_REQUIRED_PARAMETER_NOT_FOUND``, ``CLI_UNKNOWN_COMMAND``, ``CLI_SYNTAX_ERROR``,
``CLI_AUTHENTICATION_FAILED``, ``CLI_ERROR``, ``CLI_CONNECTION_FAILED``,
``CLI_MISSING_PARAMETER`` (form 2 ``Error code: Missing parameter``),
``CLI_MULTIPLE_FAILURE``, ``XE_NOT_FOUND`` / ``XE_NOT_EXECUTABLE`` (the shell's exit 127 / 126
when the xe binary is missing or not executable) and ``UNKNOWN`` (text in none of the forms).
"""

import re

from xe_dr.errors import XeDrError
from xe_dr.exitcodes import ExitCode
from xe_dr.redact import redact_arg, redact_text

UNKNOWN = "UNKNOWN"

# code -> (parameter names in order, the doc sentences xe prints as the first line).
# Sentences as in xapi's datamodel; HOST_IS_SLAVE was reworded (master/slave -> pool member
# in 1.249.42 -> coordinator/supporter), so every wording is listed. A known error printed
# with fewer parameters (OTHER_OPERATION_IN_PROGRESS before v25.27) leaves the rest None.
KNOWN_ERRORS = {
    "UUID_INVALID": (("type", "uuid"), (
        "The uuid you supplied was invalid.",)),
    "MAP_DUPLICATE_KEY": (("type", "param_name", "uuid", "key"), (
        "You tried to add a key-value pair to a map, but that key is already there.",)),
    "HANDLE_INVALID": (("class", "handle"), (
        "You gave an invalid object reference. The object may have recently been deleted. "
        "The class parameter gives the type of reference given, and the handle parameter "
        "echoes the bad value given.",)),
    "VM_BAD_POWER_STATE": (("vm", "expected", "actual"), (
        "You attempted an operation on a VM that was not in an appropriate power state at "
        "the time; for example, you attempted to start a VM that was already running. The "
        "parameters returned are the VM's handle, and the expected and actual VM state at the "
        "time of the call.",)),
    "VM_REQUIRES_SR": (("vm", "sr"), (
        "You attempted to run a VM on a host which doesn't have access to an SR needed by the "
        "VM. The VM has at least one VBD attached to a VDI in the SR.",)),
    "VM_REQUIRES_NETWORK": (("vm", "network"), (
        "You attempted to run a VM on a host which doesn't have a PIF on a Network needed by "
        "the VM. The VM has at least one VIF attached to the Network.",)),
    "VM_TO_IMPORT_IS_NOT_NEWER_VERSION": (("vm", "existing_version", "version_to_import"), (
        "The VM cannot be imported unforced because it is either the same version or an "
        "older version of an existing VM.",)),
    "VM_IS_PART_OF_AN_APPLIANCE": (("vm", "appliance"), (
        "This operation is not allowed as the VM is part of an appliance.",)),
    "VDI_LOCATION_MISSING": (("sr", "location"), (
        "This operation cannot be performed because the specified VDI could not be found in "
        "the specified SR",)),
    "VDI_MISSING": (("sr", "vdi"), (
        "This operation cannot be performed because the specified VDI could not be found on "
        "the storage substrate",)),
    "VDI_INCOMPATIBLE_TYPE": (("vdi", "type"), (
        "This operation cannot be performed because the specified VDI is of an incompatible "
        "type (eg: an HA statefile cannot be attached to a guest)",)),
    "VDI_IN_USE": (("vdi", "operation"), (
        "This operation cannot be performed because this VDI is in use by some other "
        "operation",)),
    "COULD_NOT_IMPORT_DATABASE": (("reason",), (
        "An error occurred while attempting to import a database from a metadata VDI",)),
    "SR_HAS_PBD": (("sr",), (
        "The SR is still connected to a host via a PBD. It cannot be destroyed or "
        "forgotten.",)),
    "SR_HAS_NO_PBDS": (("sr",), (
        "The SR has no attached PBDs",)),
    "SR_NOT_ATTACHED": (("sr",), (
        "The SR is not attached.",)),
    "SR_UUID_EXISTS": (("uuid",), (
        "An SR with that uuid already exists.",)),
    "PBD_EXISTS": (("sr", "host", "pbd"), (
        "A PBD already exists connecting the SR to the server.",)),
    "SR_OPERATION_NOT_SUPPORTED": (("sr",), (
        "The SR backend does not support the operation (check the SR's allowed "
        "operations)",)),
    "NO_MORE_REDO_LOGS_ALLOWED": ((), (
        "The upper limit of active redo log instances was reached.",)),
    "CANNOT_ENABLE_REDO_LOG": (("reason",), (
        "Could not enable redo log.",)),
    "REDO_LOG_IS_ENABLED": ((), (
        "The operation could not be performed because a redo log is enabled on the Pool.",)),
    "HA_IS_ENABLED": ((), (
        "The operation could not be performed because HA is enabled on the Pool",)),
    "OBJECT_NOLONGER_EXISTS": ((), (
        "The specified object no longer exists.",)),
    # Errors a DR start meets (datamodel_errors.ml, the same at v1.249.0 and HEAD).
    "NO_HOSTS_AVAILABLE": ((), (
        "There were no servers available to complete the specified operation.",)),
    "HOST_NOT_ENOUGH_FREE_MEMORY": (("needed", "available"), (
        "Not enough server memory is available to perform this operation.",)),
    "OTHER_OPERATION_IN_PROGRESS": (("class", "object", "operation_type", "operation_ref"), (
        "Another operation involving the object is currently in progress",)),
    "OPERATION_NOT_ALLOWED": (("reason",), (
        "You attempted an operation that was not allowed.",)),
    # The VMs that failed follow as "<extra>: " lines (XapiError.extra).
    "OPERATION_PARTIALLY_FAILED": (("operation",), (
        "Some VMs belonging to the appliance threw an exception while carrying out the "
        "specified operation",)),
    "LICENCE_RESTRICTION": (("feature",), (
        "This operation is not allowed because your license lacks a needed feature. Please "
        "contact your support representative.",)),
    "RBAC_PERMISSION_DENIED": (("permission", "message"), (
        "RBAC permission denied.",)),
    "SR_BACKEND_FAILURE": (("status", "stdout", "stderr"), (
        "There was an SR backend failure.",)),
    "XENAPI_PLUGIN_FAILURE": (("status", "stdout", "stderr"), (
        "There was a failure communicating with the plug-in.",)),
    "XENAPI_MISSING_PLUGIN": (("name",), (
        "The requested plug-in could not be found.",)),
    "INTERNAL_ERROR": (("message",), (
        "The server failed to handle your request, due to an internal error. The given "
        "message may give details useful for debugging the problem.",)),
    "HOST_IS_SLAVE": (("Master IP address",), (
        "You cannot make regular API calls directly on a supporter. Please pass API calls "
        "via the coordinator host.",
        "You cannot make regular API calls directly on a slave. Please pass API calls via "
        "the master host.",
        # v1.249.42 (Citrix Hypervisor 8.2 CU1, XCP-ng 8.2)
        "You cannot make regular API calls directly on a pool member. Please pass API calls "
        "via the master host.",)),
    # A clean shutdown the guest did not carry out (xapi_xenops.ml, from xenopsd), and a
    # request a hard shutdown cancelled.
    "VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT": (("vm",), (
        "VM didn't acknowledge the need to shutdown.",)),
    "VM_SHUTDOWN_TIMEOUT": (("vm", "timeout"), (
        "VM failed to shutdown before the timeout expired",)),
    "TASK_CANCELLED": (("task",), (
        "The request was asynchronously canceled.",)),
    # sm's SRInUse (16), which xapi raises in its own name (sm_exec.ml): a probe of a LUN whose
    # multipath map exists on the host.
    "SR_DEVICE_IN_USE": ((), (
        "The SR operation cannot be performed because a device underlying the SR is in use by "
        "the server.",)),
}
# xapi errors that stand for an SM error number (sm_exec.ml maps the fault to them).
_SM_AS_XAPI = {"SR_DEVICE_IN_USE": 16}

_CODE_BY_SENTENCE = dict(
    (sentence, code) for code, (_, sentences) in KNOWN_ERRORS.items() for sentence in sentences)

# Parameter names of the codes invented here, for XapiError.param_map.
_CLI_PARAM_NAMES = {
    "CLI_REQUIRED_PARAMETER_NOT_FOUND": ("parameter",),
    "CLI_UNKNOWN_COMMAND": ("command",),
    "CLI_SYNTAX_ERROR": ("message",),
    "CLI_ERROR": ("message",),
    "CLI_CONNECTION_FAILED": ("message",),
    "CLI_MISSING_PARAMETER": ("parameter",),
}

_REFUSED_CODES = ("LICENCE_RESTRICTION", "RBAC_PERMISSION_DENIED", "CLI_AUTHENTICATION_FAILED")

_HINTS = {
    "LICENCE_RESTRICTION": "the pool's licence lacks this feature; check "
                           "'xe pool-param-get param-name=restrictions'",
    "RBAC_PERMISSION_DENIED": "the xe user needs the Pool Operator role or higher",
    "CLI_AUTHENTICATION_FAILED": "xe could not log in to xapi on the target",
    "CLI_CONNECTION_FAILED": "xe could not reach xapi on the target; is the toolstack "
                             "running ('xe host-list' on the target)?",
    "HOST_IS_SLAVE": "run xe-dr against the pool coordinator (master)",
    "XE_NOT_FOUND": "xe is not at the given path on the target; set the path of xe "
                    "(it lives in /opt/xensource/bin/xe on dom0)",
    "XE_NOT_EXECUTABLE": "the given path of xe is not executable on the target",
}

# Client-side messages of the xe binary (newcli.ml) meaning xapi could not be reached.
_CONNECTION_LINES = (
    re.compile(r"^Unable to contact server\."),
    re.compile(r"^Lost connection to the server\.$"),
    re.compile(r"^Failed to contact a running management agent\.$"),
    re.compile(r"^Host '.*' not found\.$"),
    re.compile(r"^Error: .* \(calling (connect|socket|getaddrinfo|gethostbyname|read|write)"
               r"\b.*\)$"),
    re.compile(r"^Protocol version mismatch: "),
    re.compile(r"^Server internal error\.$"),
)
_CLI_PREFIXES = (
    ("Required parameter not found: ", "CLI_REQUIRED_PARAMETER_NOT_FOUND"),
    ("Unknown command: ", "CLI_UNKNOWN_COMMAND"),
    ("Syntax error: ", "CLI_SYNTAX_ERROR"),
    ("Error: ", "CLI_ERROR"),
    ("Client Side error: ", "CLI_ERROR"),
    ("Operation failed. Error: ", "CLI_ERROR"),
)
_AUTH_LINES = ("Authentication failed", "Username/password must be specified")
_USAGE_LINE = "For usage run: 'xe help'"
_MULTIPLE_FAILURE = re.compile(r"^operation failed on (\S+): (.*)$")
_SM_CODE = re.compile(r"^SR_BACKEND_FAILURE_(\d+)$")
_UUID_VALUE = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?: \((.*)\))?$",
    re.DOTALL)

# How much of one value an error message quotes; xapi's or sm's sentence (what went wrong, and
# often why: "... is a replication target") is quoted whole up to a far larger bound.
_MESSAGE_VALUE_CHARS = 160
_SENTENCE_CHARS = 2000


def redact(text, secrets=()):
    """``text`` with literal ``secrets`` and every ``<secret key>=value`` token hidden."""
    text = redact_text(text, secrets)
    return re.sub(r"\S+", lambda m: redact_arg(m.group(0)), text)


def snippet(text, limit=60):
    """A short one-line quotation of ``text`` for messages (repr, so control chars show)."""
    if len(text) > limit:
        return repr(text[:limit]) + "..."
    return repr(text)


class XeOutputError(XeDrError):
    """xe printed something that is not in the format this module knows.

    ``detail`` names what was unexpected; ``command`` (redacted) is the command whose output
    it was, when known.
    """

    exit_code = ExitCode.FAILED

    def __init__(self, detail, command=None):
        self.detail = detail
        self.command = command
        if command:
            message = "unexpected output from %s: %s" % (command, detail)
        else:
            message = "unexpected xe output: %s" % detail
        super(XeOutputError, self).__init__(
            message, "this xe prints something xe-dr does not understand; please report it")

    def with_command(self, command):
        return XeOutputError(self.detail, command)


def ref_uuid(value):
    """The uuid of an error parameter that names an object: xe prints refs it can resolve as
    ``<uuid>`` or ``<uuid> (<name-label>)``. Returns None for anything else (raw
    ``OpaqueRef:...`` of a foreign database, plain text)."""
    match = _UUID_VALUE.match(value or "")
    return match.group(1) if match else None


def _abbreviate(value, limit=_MESSAGE_VALUE_CHARS):
    if "\n" in value.rstrip("\n"):
        lines = value.rstrip("\n").count("\n") + 1
        first = value.split("\n", 1)[0]
        return "%s ...(%d lines)" % (first[:limit], lines)
    value = value.rstrip("\n")
    if len(value) > limit:
        return value[:limit] + "..."
    return value


class XapiError(XeDrError):
    """xe failed: ``code`` (``UUID_INVALID``, ``SR_BACKEND_FAILURE_96``, ``CLI_ERROR``...),
    ``params`` (str, in order; the ``<unknown>`` placeholders of missing trailing parameters
    are left out), ``param_map`` (name -> value for codes whose parameter names are known;
    None for a missing one), ``extra`` (the ``<extra>:`` values), ``description`` (xe's
    sentence or message), ``command`` (the redacted command line), ``stderr`` (redacted),
    ``params_text`` (form 2's joined parameter text) and ``result`` (the runner Result, or
    None). Every string it holds has secrets hidden.
    """

    def __init__(self, code, params=(), description="", param_map=None, extra=(),
                 command=None, stderr="", params_text=None, secrets=(), result=None):
        self.code = code
        self.params = [redact(p, secrets) for p in params]
        self.param_map = dict(
            (k, None if v is None else redact(v, secrets)) for k, v in (param_map or {}).items())
        self.extra = [redact(p, secrets) for p in extra]
        self.description = redact(description or "", secrets)
        self.command = redact(command, secrets) if command else None
        self.stderr = redact(stderr or "", secrets)
        self.params_text = None if params_text is None else redact(params_text, secrets)
        self.result = result
        if code in _REFUSED_CODES:
            self.exit_code = ExitCode.REFUSED
        elif code == "CLI_CONNECTION_FAILED":
            self.exit_code = ExitCode.UNREACHABLE
        elif code in ("XE_NOT_FOUND", "XE_NOT_EXECUTABLE"):
            self.exit_code = ExitCode.CONFIG
        else:
            self.exit_code = ExitCode.FAILED
        hint = _HINTS.get(code)
        if code == "HOST_IS_SLAVE" and self.params:
            hint = "%s at %s" % (hint, self.params[0])
        self.summary = self._summary()
        super(XapiError, self).__init__(
            "%s failed: %s" % (self.command, self.summary) if self.command else self.summary,
            hint)

    def _summary(self):
        """The code and what xapi said, without the command: sm's sentence or xapi's
        documentation sentence whole, with the parameters."""
        text = self.code
        sm = self.sm_error_number
        if sm is not None and len(self.params) >= 2:
            detail = _abbreviate(self.params[1], _SENTENCE_CHARS)
        elif self.param_map and self.code not in _CLI_PARAM_NAMES:
            # A known error: its sentence says what happened, its parameters to what.
            if self.description:
                text = "%s (%s)" % (text, _abbreviate(self.description.rstrip("."),
                                                      _SENTENCE_CHARS))
            detail = ", ".join(
                "%s: %s" % (k, "<unknown>" if v is None else _abbreviate(v))
                for k, v in self.param_map.items())
            if self.extra:
                detail += ", " + ", ".join(_abbreviate(v) for v in self.extra)
        elif self.params:
            detail = ", ".join(_abbreviate(p) for p in self.params)
        else:
            detail = _abbreviate(self.description, _SENTENCE_CHARS)
        if detail:
            text = "%s: %s" % (text, detail)
        return text

    def __repr__(self):
        return "XapiError(%r, params=%r, command=%r)" % (
            self.code, [_abbreviate(p) for p in self.params], self.command)

    # -- recognising particular failures ------------------------------------------------------
    @property
    def sm_error_number(self):
        """The SM error number of ``SR_BACKEND_FAILURE_<n>`` (or of the xapi error that
        stands for it), else None."""
        if self.code in _SM_AS_XAPI:
            return _SM_AS_XAPI[self.code]
        match = _SM_CODE.match(self.code)
        return int(match.group(1)) if match else None

    @property
    def failure_text(self):
        """The text of an OCaml ``Failure`` in the CLI server (INTERNAL_ERROR ``message:
        Failure: <text>``), else None."""
        if self.code != "INTERNAL_ERROR":
            return None
        message = self.param_map.get("message") or ""
        if message.startswith("Failure: "):
            return message[len("Failure: "):]
        return None

    def is_no_match(self):
        """``No matching VMs found`` (or hosts...): a selector matched nothing."""
        return bool(re.match(r"^No matching \S+ found$", self.failure_text or ""))

    def is_multiple_matches(self):
        """``Multiple matches VMs found. --multiple required ...`` (or the one-at-a-time
        wording): a selector matched several objects."""
        return (self.failure_text or "").startswith("Multiple matches ")

    def unknown_field(self):
        """The field name of ``Unknown field '<f>'`` (a list filter on a field that does not
        exist), else None."""
        match = re.match(r"^Unknown field '(.*)'$", self.failure_text or "", re.DOTALL)
        return match.group(1) if match else None

    def is_missing_database_vdi(self):
        """A command that needs ``database:vdi-uuid=`` was run without it."""
        return "database:vdi-uuid=" in (self.failure_text or "")

    def missing_map_key(self):
        """The key of ``Key <k> not found in map`` (param-get with an absent param-key)."""
        match = re.match(r"^Key (.*) not found in map$", self.failure_text or "", re.DOTALL)
        return match.group(1) if match else None


def _strip_one_newline(text):
    return text[:-1] if text.endswith("\n") else text


def _parse_form1(code, sentence, lines, stderr, command, secrets, result):
    """Known error: ``lines`` are the lines after the sentence."""
    names = KNOWN_ERRORS[code][0]
    expected = list(names)
    entries = []  # [name, value]
    for line in lines:
        name = None
        if expected and line.startswith(expected[0] + ": "):
            name = expected.pop(0)
        elif not expected and line.startswith("<extra>: "):
            name = "<extra>"
        if name is not None:
            entries.append([name, line[len(name) + 2:]])
        elif entries:
            entries[-1][1] += "\n" + line
        elif line == "":
            continue
        else:
            return None
    # Missing parameters print "name: <unknown>"; only a trailing run of them can be missing.
    missing = 0
    for name, value in reversed(entries):
        if name == "<extra>" or value != "<unknown>":
            break
        missing += 1
    present = entries[:len(entries) - missing]
    param_map = dict((name, None) for name in names)  # in parameter order
    params, extra = [], []
    for name, value in present:
        params.append(value)
        if name == "<extra>":
            extra.append(value)
        else:
            param_map[name] = value
    return XapiError(code, params, sentence, param_map, extra, command, stderr, None, secrets,
                     result)


def _split_sm_params(text):
    """SM errors carry ["", description, captured stderr]: split at the first two separators,
    except that a description may itself hold ", " (e.g. SM error 68), so the third
    parameter is recognised first when it is XML (``, <``) or empty (trailing ``, ``)."""
    if not text.startswith(", "):
        return None
    body = text[2:]
    xml_at = body.find(", <")
    if xml_at >= 0:
        return ["", body[:xml_at], body[xml_at + 2:]]
    if body.endswith(", "):
        return ["", body[:-2], ""]
    sep = body.find(", ")
    if sep < 0:
        return ["", body]
    return ["", body[:sep], body[sep + 2:]]


def _split_params(text):
    """Form 2 parameters: split the first line on ", "; further lines belong to the last."""
    if text == "":
        return []
    first, newline, rest = text.partition("\n")
    params = first.split(", ")
    if newline:
        params[-1] += "\n" + rest
    return params


def _parse_form2(lines, index, stderr, command, secrets, result):
    code = lines[index][len("Error code: "):]
    if not code.strip():
        return None
    following = lines[index + 1:]
    if not following or not following[0].startswith("Error parameters: "):
        params_text = None
        params = []
    else:
        # The final newline of the error line was stripped already; a multi-line last
        # parameter (toprettyxml output) keeps its own.
        params_text = "\n".join(following)[len("Error parameters: "):]
        params = None
        if _SM_CODE.match(code):
            params = _split_sm_params(params_text)
        if params is None:
            params = _split_params(params_text)
    description = ""
    if code == "Missing parameter":
        code = "CLI_MISSING_PARAMETER"
        description = "the object has no field %s" % (params[0] if params else "?")
    elif _SM_CODE.match(code) and len(params) >= 2:
        description = params[1]
    return XapiError(code, params, description, _cli_param_map(code, params), (), command,
                     stderr, params_text, secrets, result)


def _cli_param_map(code, params):
    names = _CLI_PARAM_NAMES.get(code)
    if not names:
        return None
    return dict((name, params[i] if i < len(params) else None) for i, name in enumerate(names))


def _cli_error(code, params, description, stderr, command, secrets, result):
    return XapiError(code, params, description, _cli_param_map(code, params), (), command,
                     stderr, None, secrets, result)


def parse_error(stderr, stdout="", exit_status=None, command=None, secrets=(), result=None):
    """Turn a failed xe's output into an :class:`XapiError`. Never raises.

    ``command`` is the command text for messages (it is redacted again here); ``secrets``
    are literal values to hide everywhere.
    """
    stderr = stderr or ""
    stdout = stdout or ""
    args = (stderr, command, secrets, result)
    if exit_status == 127:
        return _cli_error("XE_NOT_FOUND", [], "xe was not found (exit status 127)", *args)
    if exit_status == 126:
        return _cli_error("XE_NOT_EXECUTABLE", [], "xe could not be run (exit status 126)",
                          *args)
    lines = _strip_one_newline(stderr).split("\n")
    for index, line in enumerate(lines):
        if line.startswith("Error code: "):
            error = _parse_form2(lines, index, *args)
            if error is not None:
                return error
        code = _CODE_BY_SENTENCE.get(line.rstrip())
        if code is not None:
            error = _parse_form1(code, line.rstrip(), lines[index + 1:], *args)
            if error is not None:
                return error
        cli = _parse_cli_lines(lines[index:], args)
        if cli is not None:
            return cli
    failures = [_MULTIPLE_FAILURE.match(line) for line in stdout.split("\n")]
    failures = [m for m in failures if m]
    if failures:
        params = []
        for match in failures:
            params.extend(match.groups())
        return XapiError("CLI_MULTIPLE_FAILURE", params,
                         "the operation failed on %d object(s)" % len(failures),
                         dict(m.groups() for m in failures), (), command, stderr, None, secrets,
                         result)
    first = next((line for line in lines if line.strip()), "")
    if first:
        description = first
    elif exit_status is not None:
        description = "xe exited %s without an error message" % exit_status
    else:
        description = "xe failed without an error message"
    return XapiError(UNKNOWN, [], description, None, (), command, stderr, None, secrets, result)


def _parse_cli_lines(lines, args):
    """A CLI-side failure starting at ``lines[0]``; a message may go on over further lines,
    up to the usage line."""
    line = lines[0]
    for pattern in _CONNECTION_LINES:
        if pattern.match(line):
            return _cli_error("CLI_CONNECTION_FAILED", [line], line, *args)
    if line in _AUTH_LINES:
        return _cli_error("CLI_AUTHENTICATION_FAILED", [], line, *args)
    for prefix, code in _CLI_PREFIXES:
        if line.startswith(prefix):
            rest = lines[1:]
            if _USAGE_LINE in rest:
                rest = rest[:rest.index(_USAGE_LINE)]
            value = "\n".join([line[len(prefix):]] + rest)
            return _cli_error(code, [value], line, *args)
    return None
