"""The fake ``xe``: argv in, xe's exact stdout, stderr and exit code out.

``DIR/bin/xe-<site>`` calls ``main(lab_dir, site, argv)``. Parsing follows the real client and
CLI server: the client keeps its own options (``-s``, ``-p``, ``-u``, ``-pw``, ``-pwf``,
``--nossl``, ``--debug``, ``--debug-on-fail``, ``--traceparent`` and ``server=``, ``port=``,
``username=``, ``password=``, ``passwordfile=``...); the server takes ``key=value`` (split at
the first ``=``), ``--flag`` as ``flag=true`` and ``-x value`` switches; the first occurrence of
a key wins.
"""

import os
import sys
import time

from . import calllog, costs, faults
from .commands import COMMANDS, Ctx, load_all
from .errors import (Failure, LabError, ParamError, Unreachable, XapiError, format_error)
from .render import Printer, ref_converter
from .store import Lab

CLIENT_SWITCHES = ("-s", "-p", "-u", "-pw", "-pwf", "-h", "--traceparent")
CLIENT_FLAGS = ("--nossl", "--debug", "--debug-on-fail")
CLIENT_KEYWORDS = ("server", "port", "username", "password", "passwordfile", "nossl", "debug",
                   "debugonfail", "traceparent")
SERVER_SWITCHES = {"--force": "force", "--live": "live", "--internal": "internal",
                   "-u": "username", "-pw": "password", "-s": "server", "-h": "server",
                   "-p": "port", "--debug": "debug", "--minimal": "minimal", "--all": "all"}

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


def client_args(argv):
    """What the client sends to the server: argv without the client's own options."""
    out = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in CLIENT_SWITCHES:
            i += 2
            continue
        if a in CLIENT_FLAGS:
            i += 1
            continue
        key, sep, _ = a.partition("=")
        if sep and key in CLIENT_KEYWORDS and out:
            i += 1
            continue
        out.append(a)
        i += 1
    return out


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


def run(lab, site_name, argv, info):
    """Execute one xe call; returns (stdout, stderr, exit code)."""
    args = client_args(argv)
    if not args:
        return "", USAGE % ("xe", "xe"), 0
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
    faults.check(lab, site_name, cmd)
    load_all()
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
    printer.flush()
    return printer.stdout_text(), printer.stderr_text(), 0


def execute(lab_dir, site_name, argv):
    """(stdout, stderr, exit code, log entry) of one call; the call is logged."""
    lab = Lab(lab_dir)
    start = time.time()
    info = {"command": argv[0] if argv else "", "db_opens": 0}
    try:
        out, err, code = run(lab, site_name, argv, info)
    except LabError as e:
        convert = None
        if isinstance(e, XapiError):
            try:
                convert = ref_converter(lab.site(site_name).read())
            except Exception:
                convert = None
        out, err = format_error(e, convert or (lambda p: p))
        code = 1
    except Exception as e:  # a lab bug: say so the way xapi reports unexpected exceptions
        out, err = format_error(Failure("lab internal error: %s: %s" % (type(e).__name__, e)))
        code = 1
    entry = {
        "site": site_name, "command": info.get("command", ""),
        "args": calllog.redact(info.get("command", ""), argv[1:] if argv else []),
        "start": start, "duration": time.time() - start, "exit": code,
        "db_opens": info.get("db_opens", 0), "db_open": info.get("db_opens", 0) > 0,
        "pid": os.getpid(),
    }
    try:
        calllog.append(lab, entry)
    except (IOError, OSError):
        pass
    return out, err, code, entry


def main(lab_dir, site_name, argv=None):
    if argv is None:
        argv = sys.argv[1:]
    out, err, code, _ = execute(lab_dir, site_name, argv)
    if out:
        sys.stdout.buffer.write(out.encode("utf-8"))
        sys.stdout.buffer.flush()
    if err:
        sys.stderr.buffer.write(err.encode("utf-8"))
        sys.stderr.buffer.flush()
    return code
