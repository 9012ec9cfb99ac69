"""Building xe's argv from Python values.

The result is a list of str for a runner; nothing is quoted here (the SSH runners quote at
their boundary). What xe does with its arguments (xapi ``ocaml/xe-cli/newcli.ml`` and
``xapi_cli.ml``, read, not copied) and what this module therefore refuses:

- the xe client sends its arguments to xapi joined by newlines, so a newline (or a carriage
  return, which xapi strips) inside a value would split it into extra arguments: refused;
- the client keeps ``server=``, ``port=``, ``username=``, ``password=``, ``passwordfile=``,
  ``nossl=``, ``debug=``, ``debugonfail=`` and ``traceparent=`` for itself instead of sending
  them: refused as parameter names;
- list values are joined by ``,`` with no escaping, so an item holding ``,`` is refused;
- the server splits each argument at its first ``=``, so names cannot hold ``=``.

Secret parameters (CHAP passwords) go in no argv at all, see :func:`xe_extra_args`.
"""

import re

from xe_dr.errors import UsageError

__all__ = ["build_argv", "xe_extra_args", "EXTRA_ARGS_VAR"]

#: The environment variable the xe client reads extra arguments from.
EXTRA_ARGS_VAR = "XE_EXTRA_ARGS"

_CLIENT_KEYS = ("server", "port", "username", "password", "passwordfile", "nossl", "debug",
                "debugonfail", "traceparent")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$")
_SUBKEY = re.compile(r"^[^\s=]+$")
_FLAG = re.compile(r"^[a-z][a-z0-9-]*$")
_COMMAND = re.compile(r"^[a-z][a-z0-9-]*$")


def _scalar(value, where):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if "\n" in value or "\r" in value or "\0" in value:
            # Name the parameter, never the value: it may be a secret.
            raise ValueError("the value of %s holds a newline, carriage return or NUL, "
                             "which xe cannot pass" % where)
        return value
    raise TypeError("the value of %s is a %s; use str, int, bool, list or dict"
                    % (where, type(value).__name__))


def _joined(values, where):
    items = []
    for item in values:
        if isinstance(item, (list, tuple, dict)):
            raise TypeError("the list value of %s holds a %s" % (where, type(item).__name__))
        text = _scalar(item, where)
        if "," in text:
            raise ValueError("an item of %s holds a comma, which xe would split" % where)
        items.append(text)
    return ",".join(items)


def _value(value, where):
    if isinstance(value, (list, tuple)):
        return _joined(value, where)
    return _scalar(value, where)


def build_argv(xe_path, command, params=None, flags=()):
    """``[xe_path, command, k=v..., --flag...]``.

    ``params`` is an ordered mapping: str/int/bool values give ``k=v`` (bools as
    ``true``/``false``), dict values give one ``k:sub=v`` per item
    (``{"device-config": {"target": "10.0.0.5"}}`` -> ``device-config:target=10.0.0.5``),
    list/tuple values are comma-joined (``params=uuid,name-label``), None omits the
    parameter (in dicts too). ``flags`` such as ``minimal``, ``force`` or ``multiple`` give
    ``--minimal``... (a leading ``--`` is accepted).
    """
    if not _COMMAND.match(command or ""):
        raise ValueError("not an xe command name: %r" % (command,))
    argv = [xe_path, command]
    for key, value in (params or {}).items():
        if not isinstance(key, str) or not _NAME.match(key):
            raise ValueError("not an xe parameter name: %r" % (key,))
        if key in _CLIENT_KEYS:
            raise ValueError("%s= is an option of the xe client, not a parameter" % key)
        if value is None:
            continue
        if isinstance(value, dict):
            for sub, item in value.items():
                if not isinstance(sub, str) or not _SUBKEY.match(sub):
                    raise ValueError("not a key of the map %s: %r" % (key, sub))
                if item is None:
                    continue
                name = "%s:%s" % (key, sub)
                argv.append("%s=%s" % (name, _value(item, name)))
        else:
            argv.append("%s=%s" % (key, _value(value, key)))
    seen = set()
    for flag in flags:
        name = flag[2:] if flag.startswith("--") else flag
        if not _FLAG.match(name) or name == "help":
            raise ValueError("not an xe flag: %r" % (flag,))
        if name not in seen:
            seen.add(name)
            argv.append("--" + name)
    return argv


def xe_extra_args(args):
    """The value of ``XE_EXTRA_ARGS`` that makes the xe client add ``args`` (``k=v`` strings
    from :func:`build_argv`) to its command line.

    Why: a process's argv (/proc/PID/cmdline) is readable by every local user, its
    environment (/proc/PID/environ) only by its owner and root. The xe client (xapi's
    ``ocaml/xe-cli/newcli.ml``, unchanged in this respect from its first version through
    v1.249.0 to today) reads ``XE_EXTRA_ARGS`` and sends its items to xapi after the
    command-line arguments, exactly as if they had been given there. It cuts the value at
    every comma that does not follow a backslash, skips empty items, and then deletes every
    backslash from each item. So a comma inside an item is written ``\\,`` here, and a
    backslash cannot be passed at all: an item holding one is refused with a
    :class:`UsageError` that names the parameter, never its value. (The client also keeps
    its own options such as ``password=`` from these items; :func:`build_argv` already
    refuses those names.)
    """
    items = []
    for arg in args:
        name, _, value = arg.partition("=")
        if "\\" in arg:
            raise UsageError(
                "%s %s holds a backslash, which xe cannot take from %s"
                % ("the value of" if "\\" in value else "the name", name, EXTRA_ARGS_VAR),
                hint="choose a password without a backslash, or store it with xe "
                     "secret-create and give that secret's uuid as chappassword_secret")
        items.append(arg.replace(",", "\\,"))
    return ",".join(items)
