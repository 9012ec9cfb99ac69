"""Installing the host plugin on every host of a pool, and reporting what each host has.

xapi runs a plugin only from ``/etc/xapi.d/plugins/`` of the host named in host-call-plugin
(reference §7.1), so the file goes to every host, mode 0755. Its first line is chosen per
host: ``python3`` where that interpreter can import XenAPI and XenAPIPlugin (XenServer 8
and 9, XCP-ng 8.3 and 9), else ``python`` (Python 2.7 on older releases, reference §7.5).
"""

import io
import posixpath
import re

from xe_dr.dr.plugin import PLUGIN, failure_line, plugin_version
from xe_dr.errors import UsageError, XeDrError
from xe_dr.plugin_source import plugin_bytes
from xe_dr.pool import read_hosts, read_pool
from xe_dr.runner.base import CommandFailed, CommandTimedOut
from xe_dr.xe.errors import XapiError, XeOutputError

PLUGIN_DIR = "/etc/xapi.d/plugins"
PLUGIN_PATH = posixpath.join(PLUGIN_DIR, PLUGIN)
# The names a plugin's first line may use, asked in this order.
PYTHON_NAMES = ("python", "python2", "python3")
# Prints, for each of those the host has: name, path, version and whether it can import
# XenAPI and XenAPIPlugin (yes/no), tab-separated. Read only. $1 is the directory standing
# for the host's "/" (the lab's host roots have usr/bin/python* for their release); empty on
# a real host, where PATH finds them.
_LIST_PYTHONS = (
    'for p in %s; do '
    'if [ -n "$1" ]; then w="$1/usr/bin/$p"; [ -x "$w" ] || continue; '
    'else w=$(command -v "$p" 2>/dev/null) || continue; fi; '
    'v=$("$w" -c \'import sys; sys.stdout.write("%%d.%%d.%%d" %% tuple(sys.version_info[:3]))\' '
    '2>/dev/null) || v=; '
    'if "$w" -c \'import XenAPI, XenAPIPlugin\' >/dev/null 2>&1; then r=yes; else r=no; fi; '
    'printf \'%%s\\t%%s\\t%%s\\t%%s\\n\' "$p" "$w" "$v" "$r"; '
    'done' % " ".join(PYTHON_NAMES))
# Prints the first line of the file "$1", or exits 3 when there is none. Read only.
_FIRST_LINE = '[ -e "$1" ] || exit 3; head -n 1 -- "$1"'
# Written beside the target and renamed over it, so that xapi never runs half a file.
_WRITE = ('umask 022 && mkdir -p "$1" && cat > "$1/.$2.new" && chmod 0755 "$1/.$2.new" && '
          'mv -f "$1/.$2.new" "$1/$2"')


def host_roots(template):
    """``root_for_host(host)`` from a ``--host-root`` TEMPLATE naming ``{uuid}`` and ``{name}``
    (the lab: ``LAB/hosts/{uuid}``), or None without one. A template that names anything else
    is refused before any host is read."""
    if not template:
        return None
    try:
        template.format(uuid="", name="")
    except (KeyError, IndexError, ValueError, AttributeError):
        raise UsageError("--host-root %r: a template may name only {uuid} and {name}"
                         % template, hint="e.g. LAB/hosts/{uuid}; write a brace itself as "
                                          "{{ or }}")
    return lambda host: template.format(uuid=host.uuid, name=host.name_label)


def with_shebang(source, interpreter):
    lines = source.split("\n", 1)
    body = lines[1] if lines[0].startswith("#!") and len(lines) > 1 else source
    return "#!/usr/bin/env %s\n%s" % (interpreter, body)


def install(xe, runner_for_host, root_for_host=None):
    """Install on every host; returns one result per host (a failed host does not stop the
    others). ``runner_for_host(host)`` reaches a host's dom0; ``root_for_host(host)`` is the
    directory that stands for its ``/`` (the lab), None on a real host."""
    source = plugin_bytes().decode("utf-8")
    results = []
    for host in read_hosts(xe):
        root = root_for_host(host) if root_for_host else "/"
        directory = posixpath.join(root, PLUGIN_DIR.lstrip("/"))
        entry = {"host": host.uuid, "name_label": host.name_label, "path":
                 posixpath.join(directory, PLUGIN)}
        try:
            runner = runner_for_host(host)
            interpreter = choose_interpreter(host_pythons(runner, root.rstrip("/")))
            runner.run(["sh", "-c", _WRITE, "sh", directory, PLUGIN],
                       input=with_shebang(source, interpreter))
            entry.update(ok=True, interpreter=interpreter,
                         version=plugin_version(xe, host.uuid))
        except XeDrError as failure:
            entry.update(ok=False, error=failure_line(failure))
        results.append(entry)
    return results


def host_pythons(runner, root=""):
    """The Pythons a host's dom0 has, as ``[{"name", "path", "version", "xenapi"}]`` (``xenapi``:
    it can import XenAPI and XenAPIPlugin), through a runner that reaches that dom0; ``root``:
    the directory standing for its ``/`` (the lab), empty on a real host. Read only."""
    found = []
    for line in runner.run(["sh", "-c", _LIST_PYTHONS, "sh", root]).stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[0] in PYTHON_NAMES:
            found.append({"name": parts[0], "path": parts[1], "version": parts[2] or None,
                          "xenapi": parts[3] == "yes"})
    return found


def choose_interpreter(pythons):
    """The interpreter the plugin's first line names on a host with ``pythons``: python3 when
    it can import XenAPI and XenAPIPlugin (XenServer 8 and 9, XCP-ng 8.3 and 9), else python
    (reference §7.5)."""
    if any(p["name"] == "python3" and p["xenapi"] for p in pythons):
        return "python3"
    return "python"


def plugin_first_line(runner=None, root=None):
    """The first line of the installed plugin (``#!/usr/bin/env python3``), read through
    ``runner`` on that host's dom0, or from the local directory ``root`` that stands for its
    ``/`` (the lab); None when the file is not there. Read only."""
    if root is not None:
        path = posixpath.join(root, PLUGIN_PATH.lstrip("/"))
        try:
            with io.open(path, "r", encoding="utf-8", errors="replace") as handle:
                return handle.readline().rstrip("\r\n")
        except (IOError, OSError):
            return None
    result = runner.run(["sh", "-c", _FIRST_LINE, "sh", PLUGIN_PATH], check=False)
    if result.exit_code == 3:
        return None
    if result.exit_code != 0:
        raise CommandFailed(result)
    return result.stdout.split("\n", 1)[0].rstrip("\r")


def interpreter_of(first_line):
    """The interpreter a first line names: ``#!/usr/bin/env python3`` and ``#!/usr/bin/python3``
    -> ``python3``; None when the line is not a ``#!`` line."""
    if not first_line or not first_line.startswith("#!"):
        return None
    words = first_line[2:].split()
    if words and posixpath.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    return posixpath.basename(words[0]) if words else None


def bundled_version():
    """The version of the plugin this xe-dr installs (its PLUGIN_VERSION), or None."""
    try:
        source = plugin_bytes().decode("utf-8", "replace")
    except XeDrError:
        return None
    match = re.search(r'^PLUGIN_VERSION = "([^"]*)"', source, re.MULTILINE)
    return match.group(1) if match else None


def status(xe, pool=None, hosts=None):
    """The plugin version each host reports (None: not installed); a host whose plugin fails
    to answer has its error instead. ``pool`` and ``hosts``: already read, if they were."""
    pool = pool or read_pool(xe)
    entries = []
    for host in hosts if hosts is not None else read_hosts(xe):
        entry = {"host": host.uuid, "name_label": host.name_label,
                 "master": host.uuid == pool.master, "version": None, "error": None}
        try:
            entry["version"] = plugin_version(xe, host.uuid)
        except (XapiError, XeOutputError, CommandTimedOut) as failure:
            entry["error"] = failure_line(failure)
        entries.append(entry)
    return entries
