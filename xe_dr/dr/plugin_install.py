"""Installing the host plugin on every host of a pool, and reporting what each host has.

xapi runs a plugin only from ``/etc/xapi.d/plugins/`` of the host named in host-call-plugin
(reference §7.1), so the file goes to every host, mode 0755. Its first line is chosen per
host: ``python3`` where that interpreter can import XenAPI and XenAPIPlugin (XenServer 8
and 9, XCP-ng 8.3 and 9), else ``python`` (Python 2.7 on older releases, reference §7.5).
"""

import posixpath

from xe_dr.dr.plugin import PLUGIN, plugin_version
from xe_dr.errors import XeDrError
from xe_dr.plugin_source import plugin_bytes
from xe_dr.pool import read_hosts, read_pool

PLUGIN_DIR = "/etc/xapi.d/plugins"
# Prints the interpreter the plugin should name: python3 when it can import XenAPI and
# XenAPIPlugin on that host, else python. $1 is the directory standing for the host's "/"
# (empty on a real host: /usr/bin/python3 is dom0's python3 on XenServer 8 and 9, XCP-ng 8.3
# and 9).
_CHOOSE_PYTHON = ('if [ -x "$1/usr/bin/python3" ] && '
                  '"$1/usr/bin/python3" -c "import XenAPI, XenAPIPlugin" >/dev/null 2>&1; '
                  'then echo python3; else echo python; fi')
# Written beside the target and renamed over it, so that xapi never runs half a file.
_WRITE = ('umask 022 && mkdir -p "$1" && cat > "$1/.$2.new" && chmod 0755 "$1/.$2.new" && '
          'mv -f "$1/.$2.new" "$1/$2"')


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
            interpreter = runner.run(["sh", "-c", _CHOOSE_PYTHON, "sh", root.rstrip("/")]
                                     ).stdout.strip() or "python"
            runner.run(["sh", "-c", _WRITE, "sh", directory, PLUGIN],
                       input=with_shebang(source, interpreter))
            entry.update(ok=True, interpreter=interpreter,
                         version=plugin_version(xe, host.uuid))
        except XeDrError as failure:
            entry.update(ok=False, error=failure.one_line())
        results.append(entry)
    return results


def status(xe):
    pool = read_pool(xe)
    return [{"host": h.uuid, "name_label": h.name_label, "master": h.uuid == pool.master,
             "version": plugin_version(xe, h.uuid)} for h in read_hosts(xe)]
