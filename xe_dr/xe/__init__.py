"""The xe layer: build xe's argv from Python values, run it through a runner, parse its output.

``Xe(runner, xe_path="xe", timeout=None)`` is cheap (no I/O). Failures: :class:`XapiError`
for anything xe reported (parsed from its stderr, see :mod:`xe_dr.xe.errors`),
:class:`XeOutputError` for output this layer cannot read; the runner's ``TransportFailed``
family passes through unchanged. Secret values (CHAP passwords) are given as
``secret_params`` and reach xe through its environment, never an argv (see :meth:`Xe.run`).
"""

import re

from xe_dr.runner.base import CommandFailed
from xe_dr.redact import redact_argv
from xe_dr.xe.argv import EXTRA_ARGS_VAR, build_argv, xe_extra_args
from xe_dr.xe.errors import XapiError, XeOutputError, parse_error, ref_uuid
from xe_dr.xe.records import (
    Record,
    parse_bool,
    parse_map,
    parse_minimal,
    parse_param_get,
    parse_records,
    parse_ref,
    parse_set,
    parse_tags,
)

__all__ = [
    "Xe", "XapiError", "XeOutputError", "Record", "build_argv", "xe_extra_args", "parse_error",
    "ref_uuid", "parse_records", "parse_minimal", "parse_param_get", "parse_map", "parse_set",
    "parse_tags", "parse_ref", "parse_bool",
]


def _database(database):
    """``database=`` of the list/param-get family: a metadata VDI uuid, or a dict such as
    ``{"filename": path}``."""
    if database is None:
        return None
    if isinstance(database, dict):
        return database
    return {"vdi-uuid": database}


def _check_no_overlap(args, secret_args):
    """Refuse a parameter given both in argv and in secret_params (xapi would get both)."""
    names = set(arg.partition("=")[0] for arg in args)
    for arg in secret_args:
        name = arg.partition("=")[0]
        if name in names:
            raise ValueError("%s is in both params and secret_params" % name)


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _one_line(text):
    """Output that is one value and a newline (drtask-create's uuid, a plugin's result)."""
    return text[:-1] if text.endswith("\n") else text


class Xe(object):
    """Runs xe commands on one target through a runner. Thread-safe as the runner is."""

    def __init__(self, runner, xe_path="xe", timeout=None):
        self.runner = runner
        self.xe_path = xe_path
        self.timeout = timeout

    def __repr__(self):
        return "Xe(%s, xe_path=%r)" % (getattr(self.runner, "description", self.runner),
                                       self.xe_path)

    def argv(self, command, params=None, flags=()):
        return build_argv(self.xe_path, command, params, flags)

    def _command_text(self, argv, secrets=()):
        return " ".join(redact_argv(argv, secrets))

    def run(self, command, params=None, flags=(), timeout=None, secrets=(), input=None,
            secret_params=None):
        """Run one xe command and return its stdout.

        Raises XapiError (from xe's stderr) when xe fails; ``secrets`` are literal values
        never to show. TransportFailed and its subclasses pass through.

        ``secret_params`` (same shape as ``params``, e.g. ``{"device-config":
        {"chappassword": pw}}``) are for values that must be in no process's argv, on this
        machine or the target: every local user can read argv, only the owner and root can
        read the environment. They are rendered as ``k=v`` like ``params``, then handed to
        xe in the environment variable ``XE_EXTRA_ARGS``, which the xe client adds to its
        arguments (see :func:`xe_dr.xe.argv.xe_extra_args` for its rules: a value holding a
        backslash cannot be passed and is refused with a UsageError before anything runs).
        Their values and the variable's whole value are hidden like ``secrets``.
        """
        argv = self.argv(command, params, flags)
        secrets = tuple(secrets)
        env = None
        if secret_params:
            extra = build_argv(self.xe_path, command, secret_params)[2:]
            _check_no_overlap(argv[2:], extra)
            if extra:
                env = {EXTRA_ARGS_VAR: xe_extra_args(extra)}
                secrets += tuple(arg.partition("=")[2] for arg in extra) + (env[EXTRA_ARGS_VAR],)
        try:
            result = self.runner.run(argv, input=input,
                                     timeout=self.timeout if timeout is None else timeout,
                                     secrets=secrets, env=env)
        except CommandFailed as failed:
            result = failed.result
            raise parse_error(result.stderr, result.stdout, result.exit_code,
                              command=" ".join(result.safe_argv()),
                              secrets=secrets + tuple(result.secrets),
                              result=result) from None
        return result.stdout

    def _parsed(self, parser, command, params, flags, timeout, secrets=()):
        output = self.run(command, params, flags, timeout, secrets)
        try:
            return parser(output)
        except XeOutputError as error:
            raise error.with_command(self._command_text(self.argv(command, params, flags),
                                                        secrets)) from None

    def records(self, command, params=None, flags=(), timeout=None):
        """A listing command's records (list of Record)."""
        return self._parsed(parse_records, command, params, flags, timeout)

    def minimal(self, command, params=None, timeout=None):
        """A listing command's values with ``--minimal`` (list of str).

        ``--minimal`` prints the first field in *record* order, not ``params=`` order, so at
        most one field may be asked for.
        """
        fields = (params or {}).get("params")
        if isinstance(fields, str):
            fields = fields.split(",")
        if fields is not None and (len(fields) != 1 or fields[0] == "all"):
            raise ValueError("--minimal takes one field in params=, not %r" % (fields,))
        return self._parsed(parse_minimal, command, params, ("minimal",), timeout)

    def new_uuid(self, command, params=None, secret_params=None):
        """A ``*-create`` command's answer: the new object's UUID, checked to be one."""
        text = self.value(command, params, secret_params=secret_params)
        if not _UUID.match(text):
            raise XeOutputError("%s printed %r where the new object's UUID was expected"
                                % (command, text[:80]),
                                " ".join(redact_argv(self.argv(command, params))))
        return text

    def value(self, command, params=None, flags=(), timeout=None, secrets=(),
              secret_params=None):
        """Output that is one value and a newline (e.g. the uuid drtask-create prints).
        ``secret_params``: as for :meth:`run`."""
        return _one_line(self.run(command, params, flags, timeout, secrets,
                                  secret_params=secret_params))

    # -- the <class>-list / param-* family, keyed by the class prefix (vm, sr, vdi, pbd...) ---
    def list(self, cls, params=None, filters=None, database=None, timeout=None):
        """``<cls>-list``: records with the fields ``params`` (a list, or ``"all"``; None:
        xe's default columns), filtered by ``filters`` (a dict, so that keys such as
        ``is-control-domain`` or ``other-config:xe-dr-run`` can be given), optionally
        read from a foreign ``database`` (a metadata VDI uuid, or a ``database:`` dict)."""
        args = dict(filters or {})
        args["params"] = params
        args["database"] = _database(database)
        return self.records("%s-list" % cls, args, timeout=timeout)

    def uuids(self, cls, filters=None, database=None, timeout=None):
        """The uuids of ``<cls>-list`` with ``filters``."""
        args = dict(filters or {})
        args["params"] = "uuid"
        args["database"] = _database(database)
        return self.minimal("%s-list" % cls, args, timeout=timeout)

    def param_list(self, cls, uuid, database=None, timeout=None):
        """``<cls>-param-list``: the object's one record."""
        records = self.records("%s-param-list" % cls,
                               {"uuid": uuid, "database": _database(database)},
                               timeout=timeout)
        if len(records) != 1:
            raise XeOutputError("%s-param-list printed %d records, not 1" % (cls, len(records)))
        return records[0]

    def param_get(self, cls, uuid, name, key=None, database=None, timeout=None):
        """``<cls>-param-get``: the raw value of one field (or one key of a map field)."""
        params = {"uuid": uuid, "param-name": name, "param-key": key,
                  "database": _database(database)}
        return self._parsed(parse_param_get, "%s-param-get" % cls, params, (), timeout)

    def param_set(self, cls, uuid, values, timeout=None, secrets=()):
        """``<cls>-param-set uuid=<uuid>`` with ``values`` (``{"name-label": "x",
        "other-config": {"k": "v"}}`` sets one key of a map)."""
        params = {"uuid": uuid}
        params.update(values)
        self.run("%s-param-set" % cls, params, timeout=timeout, secrets=secrets)

    def param_add(self, cls, uuid, name, values=None, key=None, timeout=None):
        """``<cls>-param-add``: keys of a map field (``values``, a dict) or one item of a set
        field (``key``)."""
        params = {"uuid": uuid, "param-name": name, "param-key": key}
        params.update(values or {})
        self.run("%s-param-add" % cls, params, timeout=timeout)

    def param_remove(self, cls, uuid, name, key, timeout=None):
        """``<cls>-param-remove``: one key of a map field or one item of a set field."""
        self.run("%s-param-remove" % cls, {"uuid": uuid, "param-name": name, "param-key": key},
                 timeout=timeout)

    def param_clear(self, cls, uuid, name, timeout=None):
        self.run("%s-param-clear" % cls, {"uuid": uuid, "param-name": name}, timeout=timeout)

    # -- messages (xapi's alerts: XenCenter and Xen Orchestra show them) ---------------------
    MESSAGE_OBJECTS = ("pool", "host", "vm", "sr")

    def message_create(self, name, priority, body, obj_class, obj_uuid, timeout=None):
        """``message-create``: a message on one object (``obj_class`` pool, host, vm or sr).
        xe prints nothing (cli_operations.ml message_create ignores the new ref): find the
        message with :meth:`messages`. ``body`` is one line (xe cannot pass a newline)."""
        if obj_class not in self.MESSAGE_OBJECTS:
            raise ValueError("a message is on a pool, host, vm or sr, not %r" % (obj_class,))
        self.run("message-create", {"name": name, "priority": int(priority), "body": body,
                                    "%s-uuid" % obj_class: obj_uuid}, timeout=timeout)

    MESSAGE_FIELDS = (("uuid", "uuid"), ("name", "name"), ("priority", "priority"),
                      ("class", "class"), ("obj-uuid", "obj_uuid"), ("timestamp", "timestamp"),
                      ("body", "body"))

    def messages(self, filters=None, fields=None, timeout=None):
        """``message-list`` with ``filters`` (``{"name": ..., "obj-uuid": ...}``): dicts with
        ``fields`` (xe's names; default all) keyed ``uuid``, ``name``, ``priority`` (int),
        ``class``, ``obj_uuid``, ``timestamp``, ``body``, in xe's order, which is the newest
        first (xapi_message.ml get_real_inner). The timestamp is xe's text,
        ``YYYYMMDDTHH:MM:SSZ`` (UTC, whole seconds), so it sorts as text."""
        wanted = [(xe_name, key) for xe_name, key in self.MESSAGE_FIELDS
                  if fields is None or xe_name in fields]
        out = []
        for record in self.list("message", params=[n for n, _ in wanted], filters=filters,
                                timeout=timeout):
            message = dict((key, record.get(xe_name, "")) for xe_name, key in wanted)
            if "priority" in message:
                try:
                    message["priority"] = int(message["priority"])
                except ValueError:
                    raise XeOutputError(
                        "message-list printed priority %r, not an integer"
                        % message["priority"],
                        self._command_text(self.argv("message-list", filters))) from None
            out.append(message)
        return out

    def message_destroy(self, uuid, timeout=None):
        """``message-destroy uuid=``: UUID_INVALID when it is gone already."""
        self.run("message-destroy", {"uuid": uuid}, timeout=timeout)

    def call_plugin(self, host_uuid, plugin, fn, args=None, timeout=None, secrets=()):
        """``host-call-plugin``: the plugin's return string (xe adds a newline; it is
        removed). Argument values are strings."""
        params = {"host-uuid": host_uuid, "plugin": plugin, "fn": fn, "args": dict(args or {})}
        return _one_line(self.run("host-call-plugin", params, timeout=timeout, secrets=secrets))
