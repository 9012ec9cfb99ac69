"""The fake ``xe``: argv in, xe's exact stdout, stderr and exit code out.

``DIR/bin/xe-<site>`` calls ``main(lab_dir, site, argv)``. The client side follows xapi's
``ocaml/xe-cli/newcli.ml`` (``parse_args``): the environment variable ``XE_EXTRA_ARGS`` is cut
at every comma not preceded by a backslash, every backslash is then removed from each segment,
empty segments are dropped, and the segments are processed *before* the command line (so a
client option on the command line wins) and sent to the server *after* it. In both, the client
keeps its own options for itself wherever they appear (``-s``, ``-p``, ``-u``, ``-pw``,
``-pwf``, ``-h``, ``--nossl``, ``--debug``, ``--debug-on-fail``, ``--traceparent`` and
``server=``, ``port=``, ``username=``, ``password=``, ``passwordfile=``, ``nossl=``,
``debug=``, ``debugonfail=``, ``traceparent=``); everything else goes to the server, which
takes ``key=value`` (split at the first ``=``), ``--flag`` as ``flag=true`` and ``-x value``
switches; the first occurrence of a key wins.
"""

import json
import os
import re
import signal
import sys
import time

from . import calllog, costs, faults, guests, releases, util
from .commands import COMMANDS, Ctx, load_all
from .errors import (Failure, LabError, ParamError, Unreachable, XapiError, format_error)
from .render import Printer, ref_converter
from .store import Lab

EXTRA_ARGS_VAR = "XE_EXTRA_ARGS"
SERVER_SWITCHES = {"--force": "force", "--live": "live", "--internal": "internal",
                   "-u": "username", "-pw": "password", "-s": "server", "-h": "server",
                   "-p": "port", "--debug": "debug", "--minimal": "minimal", "--all": "all"}
# newcli.ml parse_opt: the client's own switches, with the keyword each one sets.
CLIENT_SWITCHES = {"-s": "server", "-p": "port", "-u": "username", "-pw": "password",
                   "-pwf": "passwordfile", "-h": "server", "--traceparent": "traceparent"}
CLIENT_FLAGS = {"--nossl": "nossl", "--debug": "debug", "--debug-on-fail": "debugonfail"}
CLIENT_KEYWORDS = ("server", "port", "username", "password", "passwordfile", "nossl", "debug",
                   "debugonfail", "traceparent")
PROTOCOL_VERSION = (0, 2)  # ocaml/xapi-cli-protocol/cli_protocol.ml major, minor

USAGE = """Usage:
  %s <command>
    [ -s <server> ]            XenServer host
    [ -p <port> ]              XenServer port number
    [ -u <username> -pw <password> | -pwf <password file> ]
                               User authentication (password or file)
    [ --nossl ]                Disable SSL/TLS
    [ --debug ]                Enable debug output
    [ --debug-on-fail ]        Enable debug output only on failure
    [ --minimal ]              Output only values in a comma-separated lists
    [ --traceparent <value> ]  Distributed tracing context
    [ --trace ]                Show task stacktrace on failure
    [ <other arguments> ... ]  Command-specific options

A full list of commands can be obtained by running
  %s help -s <server> -p <port>
"""


class ClientExit(Exception):
    """The xe client stops before contacting the server: (stdout, stderr, exit code)."""

    def __init__(self, out, err, code):
        Exception.__init__(self, err)
        self.out = out
        self.err = err
        self.code = code


def _usage():
    return USAGE % ("xe", "xe")


def split_extra_args(value):
    """newcli.ml ``extras``: the segments of an XE_EXTRA_ARGS value, in order.

    A transliteration of its loop: a segment ends at a comma whose previous character is not a
    backslash (or at the end); a comma where a segment would start is skipped (so empty
    segments vanish); every backslash is removed from a segment once it is cut (so a backslash
    cannot be passed, and ``\\,`` does not end a segment either). A segment made only of
    backslashes becomes an empty string and is kept, as there."""
    out = []
    pos = i = 0
    n = len(value or "")
    while pos < n:
        if value[pos] == ",":
            pos += 1
            i = pos
        elif i >= n or (value[i] == "," and value[i - 1] != "\\"):
            out.append(value[pos:i].replace("\\", ""))
            i += 1
            pos = i
        else:
            i += 1
    return out


_OCAML_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F][0-9a-fA-F_]*|0[oO][0-7][0-7_]*|"
                        r"0[bB][01][01_]*|[0-9][0-9_]*)$")


def _ocaml_int(text):
    """OCaml's int_of_string (decimal, 0x/0o/0b, underscores); ValueError otherwise."""
    if not _OCAML_INT.match(text):
        raise ValueError(text)
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-").replace("_", "")
    base = {"x": 16, "o": 8, "b": 2}.get(body[1:2].lower(), 10) if len(body) > 1 and \
        body[0] == "0" else 10
    return sign * int(body[2:] if base != 10 else body, base)


def _ocaml_bool(text):
    if text == "true":
        return True
    if text == "false":
        return False
    raise ClientExit("", 'Unhandled exception\nInvalid_argument("bool_of_string")\n', 1)


def _set_keyword(options, key, value):
    """newcli.ml ``set_keyword``: True when ``key`` is one of the client's own options."""
    if key not in CLIENT_KEYWORDS:
        return False
    if key == "port":
        try:
            port = _ocaml_int(value)
            if port < 0 or port > 65535:
                raise ValueError(value)
        except ValueError:
            raise ClientExit("", "Port number must be an integer (0-65535)\n" + _usage(), 0)
        options["port"] = port
    elif key == "nossl":
        options["nossl"] = _ocaml_bool(value)
    elif key in ("debug", "debugonfail"):
        options[key] = value == "true"
    else:
        options[key] = value
    return True


def _process_args(args, options, kept=None):
    """newcli.ml ``process_args``: the arguments left for the server, in order (their
    positions in ``args`` are appended to ``kept`` if given)."""
    out = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in CLIENT_SWITCHES and i + 1 < len(args):
            _set_keyword(options, CLIENT_SWITCHES[a], args[i + 1])
            i += 2
            continue
        if a in CLIENT_FLAGS:
            _set_keyword(options, CLIENT_FLAGS[a], "true")
            i += 1
            continue
        key, sep, value = a.partition("=")
        if not (sep and _set_keyword(options, key, value)):
            out.append(a)
            if kept is not None:
                kept.append(i)
        i += 1
    return out


def _read_password_file(options):
    path = options["passwordfile"]
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").split("\n")
    except (IOError, OSError):
        raise ClientExit("", "Error opening password file '%s'\n" % path, 1)
    if len(lines) < 2 or (len(lines) == 2 and lines[1] == ""):
        raise ClientExit("", "Error: password file format: expecting username on the first "
                             "line, password on the second line\n", 1)
    options["username"], options["password"] = lines[0], lines[1]


def parse_client(argv, extra_value=None):
    """(arguments for the server, client options) as newcli.ml ``main`` and ``parse_args``
    make them from the command line and XE_EXTRA_ARGS; ClientExit where the client stops."""
    if "-version" in argv:
        raise ClientExit("ThinCLI protocol: %d.%d\n" % PROTOCOL_VERSION, "", 0)
    options = {"server": "127.0.0.1", "username": "root", "password": "null"}
    extras = split_extra_args(extra_value or "")
    extras_rest = _process_args(extras, options)
    wants_help = any(a in ("-help", "--help") for a in argv)
    kept = []
    args_rest = _process_args(list(argv), options, kept)
    if wants_help:
        raise ClientExit("", _usage(), 0)
    if options.get("passwordfile"):
        _read_password_file(options)
    options["extra_args"] = extras
    options["command_index"] = kept[0] if kept else None
    server_args = args_rest + extras_rest
    if not server_args:
        raise ClientExit("", _usage(), 0)
    return server_args, options


def parse(args):
    """(command name, [(key, value)]) the way cli_frontend parses them; ParamError on bad input."""
    if not args:
        raise ParamError("Syntax error", "")
    cmd = args[0]
    if "=" in cmd:
        raise ParamError("Syntax error", "")
    params = []
    rest = args[1:]
    i = 0
    while i < len(rest):
        p = rest[i]
        if p.startswith("--"):
            params.append((p[2:], "true"))
            i += 1
        elif p.startswith("-"):
            if p not in SERVER_SWITCHES or i + 1 >= len(rest):
                raise ParamError("Syntax error", "")
            params.append((SERVER_SWITCHES[p], rest[i + 1]))
            i += 2
        else:
            key, _, value = p.partition("=")
            params.append((key, value))
            i += 1
    return cmd, params


def run(lab, site_name, argv, info, extra_value=None):
    """Execute one xe call; returns (stdout, stderr, exit code)."""
    try:
        args, options = parse_client(argv, extra_value)
    except ClientExit as e:
        return e.out, e.err, e.code
    info["client"] = options
    if lab.is_dark(site_name):
        raise Unreachable()
    costs.pause(lab, "call")
    cmd, params = parse(args)
    info["command"] = cmd
    minimal_value = None
    for k, v in params:
        if k == "minimal":
            minimal_value = v
            break
    if minimal_value not in (None, "true", "false"):
        raise XapiError("INTERNAL_ERROR", ['Invalid_argument("bool_of_string")'])
    printer = Printer(minimal=minimal_value == "true")
    after, info["kill_client"] = faults.check(lab, site_name, cmd)
    if info["kill_client"] == "before":
        return "", "", 0  # its client is killed as the call arrives: nothing is carried out
    load_all()
    guests.advance(lab.site(site_name))  # what the guests did since the last call (guests.py)
    if cmd == "help":
        from .commands import pool
        pool.do_help(printer, params)
        printer.flush()
        return printer.stdout_text(), printer.stderr_text(), 0
    spec = COMMANDS.get(cmd)
    if spec is None:
        raise ParamError("Unknown command", cmd)
    keys = set(k for k, _ in params)
    for r in spec.reqd:
        if r not in keys:
            raise ParamError("Required parameter not found", r)
    site = lab.site(site_name)
    ctx = Ctx(lab, site, cmd, params, printer, info)
    spec.fn(ctx)
    util.sleep(after)  # the change is made: a client gone meanwhile does not undo it
    printer.flush()
    return printer.stdout_text(), printer.stderr_text(), 0


def _release_errors(lab):
    try:
        return releases.of_lab(lab)["errors"]
    except Exception:  # no readable lab: the newest wording
        return {}


def execute(lab_dir, site_name, argv, environ=None):
    """(stdout, stderr, exit code, log entry) of one call; the call is logged.

    ``environ`` (default ``os.environ``) is where ``XE_EXTRA_ARGS`` is read from."""
    lab = Lab(lab_dir)
    start = time.time()
    info = {"command": argv[0] if argv else "", "db_opens": 0}
    extra_value = (os.environ if environ is None else environ).get(EXTRA_ARGS_VAR)
    try:
        out, err, code = run(lab, site_name, argv, info, extra_value)
    except LabError as e:
        convert = None
        if isinstance(e, XapiError):
            try:
                convert = ref_converter(lab.site(site_name).read())
            except Exception:
                convert = None
        out, err = format_error(e, convert or (lambda p: p), _release_errors(lab))
        code = 1
    except Exception as e:  # a lab bug: say so the way xapi reports unexpected exceptions
        out, err = format_error(Failure("lab internal error: %s: %s" % (type(e).__name__, e)))
        code = 1
    command = info.get("command", "")
    client = info.get("client") or {}
    index = client.get("command_index")
    if index is None:
        index = 0 if argv and argv[0] == command else None
    typed = list(argv) if index is None else list(argv[:index]) + list(argv[index + 1:])
    entry = {
        "site": site_name, "command": command,
        "args": calllog.redact(command, typed),
        "start": start, "duration": time.time() - start, "exit": code,
        "db_opens": info.get("db_opens", 0), "db_open": info.get("db_opens", 0) > 0,
        "pid": os.getpid(), "ppid": os.getppid(),
    }
    if client.get("extra_args"):
        entry["extra_args"] = calllog.redact(command, client["extra_args"])
    if info.get("kill_client"):
        entry["kill_client"] = info["kill_client"]
    try:
        calllog.append(lab, entry)
    except (IOError, OSError):
        pass
    return out, err, code, entry


def main(lab_dir, site_name, argv=None):
    """The fake xe executable: a client that hands the call to a "server" and prints its
    answer. As with xapi, the server carries the call out whether or not its client is still
    there (xen-api ocaml/xapi-cli-server/xapi_cli.ml, ``do_rpcs``: the command's API calls
    run before anything is written back to the client): the server is a child in a session
    of its own, so a Ctrl-C at the client's terminal (SIGINT to its process group) or a
    SIGKILL of the client leaves the call to complete, its change made and logged."""
    if argv is None:
        argv = sys.argv[1:]
    # A Ctrl-C kills the client outright, as it does the real xe (Python's KeyboardInterrupt
    # would exit 1 on 3.6 and print a traceback).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    out, err, code, kill_client = _served(lab_dir, site_name, argv)
    if kill_client:
        os.kill(os.getppid(), signal.SIGKILL)  # the change is made; its client dies now
    if out:
        sys.stdout.buffer.write(out.encode("utf-8"))
        sys.stdout.buffer.flush()
    if err:
        sys.stderr.buffer.write(err.encode("utf-8"))
        sys.stderr.buffer.flush()
    return code


def _served(lab_dir, site_name, argv):
    """(stdout, stderr, exit code, kill_client) of the call, carried out by a child."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the server
        status = 1
        try:
            os.close(read_end)
            os.setsid()
            # Off the client's output pipes: a client gone (and its reader) must not stop
            # the call. Its stdin stays: xe reads a confirmation there (vm-uninstall).
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (1, 2):
                os.dup2(null, fd)
            out, err, code, entry = execute(lab_dir, site_name, argv)
            answer = json.dumps([out, err, code, entry.get("kill_client")]).encode("utf-8")
            while answer:
                answer = answer[os.write(write_end, answer):]
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    try:
        return tuple(json.loads(b"".join(chunks).decode("utf-8")))
    except ValueError:
        out, err = format_error(Failure("lab internal error: the call's server gave no answer"))
        return out, err, 1, None
