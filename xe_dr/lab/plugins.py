"""Host plugins run as real processes with xapi's contract (``xapi_plugins.ml``).

``host-call-plugin host-uuid=H plugin=P fn=F args:k=v`` runs
``DIR/hosts/<H>/etc/xapi.d/plugins/P`` (the lab's stand-in for ``/etc/xapi.d/plugins/`` on H;
install a plugin by copying it there) as ``<python> P '<XML-RPC methodCall F(session, {args})>'``.
The interpreter is pyenv's Python 3.6.15 when it is installed (as on XCP-ng 8.3), else the one
that created the lab; ``lab.json`` ``plugin_python`` overrides both. The plugin gets a small
environment, as from xapi (no UTF-8 locale), plus:

* ``PYTHONPATH``: the lab's ``XenAPI`` / ``XenAPIPlugin`` stand-ins and the repository;
* ``XE_DR_LAB_DIR``, ``XE_DR_LAB_SITE``, ``XE_DR_LAB_HOST`` (host UUID), ``XE_DR_LAB_SESSION``;
* ``XE_DR_LAB_SESSION_POOL``: ``true`` when the session is a pool-internal one. xapi gives a
  plugin the session of the call (xapi_host.ml ``call_plugin``: ``Context.get_session_id``):
  on the master that is the caller's own (``xe``'s: a user session); a call for another host
  is forwarded (message_forwarding.ml Host.call_plugin, ``do_op_on``) with a session the
  master makes for it, ``call_slave_with_session``: ``login_no_password ~pool:true``. What
  the plugin then calls goes back to the master (api_server.ml forwards a member's
  unix-socket calls), where a pool session skips Network.create's bridge check (network.py);
* ``XE_DR_LAB_DEVICE_MAP``: JSON ``{"/dev/VG_XenStorage-<sr>/LV-<vdi>": "<file>"}`` for every
  LV the lab keeps bytes for (metadata VDIs) on LUN copies attached at this site (a lab
  convenience: more than a dom0 sees, see below);
* what host-plugins/xe-dr reads instead of dom0's files, kept per host under
  ``DIR/hosts/<host-uuid>/`` (refreshed before each call, under ``locks/host-<uuid>.lock``):

  - ``XE_DR_PLUGIN_DEV_ROOT`` = ``.../dev``: what dom0's ``/dev`` has for the lab's LVs: for
    every VDI attached to this host's control domain (a currently attached VBD of a control
    domain resident here, e.g. the metadata VDIs a redo log writes to), the LV node
    ``VG_XenStorage-<sr>/LV-<vdi>`` and the VBD's ``<device>`` (``xvdb``...), as symlinks
    to the LV file on this site's LUN copy. An LV that is not active has no node on a real
    host (a foreign metadata VDI is attached only while xapi reads it), so none here either;
  - ``XE_DR_PLUGIN_XAPI_DB`` = ``.../var/lib/xcp/state.db``: the site's database as xapi's
    XML (its ``<manifest>`` carries the schema and ``generation_count``) and
    ``state.db.generation`` holding the live generation count, rewritten when it changed;
  - ``XE_DR_PLUGIN_INVENTORY`` = ``.../etc/xensource-inventory``: ``KEY='value'`` lines,
    ``INSTALLATION_UUID`` the host's uuid, ``CONTROL_DOMAIN_UUID`` its dom0's;
  - ``XE_DR_PLUGIN_RUN_DIR`` = ``.../var/run/xe-dr``: where the plugin keeps the refs of the
    foreign sessions it keeps open between calls.

The output is mapped as xapi maps it: one XML-RPC response with a string value is the result;
a Failure response becomes that XAPI error; anything unparsable is XENAPI_PLUGIN_FAILURE
``failed to parse plugin output``; a non-zero exit is ``non-zero exit``; a signal ``signal: X``.
"""

import json
import os
import signal
import subprocess
import sys

from . import array, costs, dbxml, releases, replication, util
from .errors import XapiError

XENAPI_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xenapi")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pyenv_python(version):
    """pyenv's build of ``version``, or None when this machine lacks it."""
    try:
        root = subprocess.check_output(["pyenv", "root"], stderr=subprocess.DEVNULL,
                                       universal_newlines=True).strip()
    except (OSError, subprocess.CalledProcessError):
        root = os.path.expanduser("~/.pyenv")
    candidate = os.path.join(root, "versions", version, "bin", "python")
    return candidate if os.path.exists(candidate) else None


def plugin_python(lab):
    """The interpreter for a plugin whose first line names none the lab knows:
    ``lab.json`` ``plugin_python``, else pyenv's 3.6.15, else the lab's own."""
    return lab.config.get("plugin_python") or _pyenv_python("3.6.15") or sys.executable


def interpreter_name(path):
    """The interpreter a plugin's first line names (``#!/usr/bin/env python3`` ->
    ``python3``, ``#!/usr/bin/python`` -> ``python``), or None."""
    try:
        with open(path, "rb") as f:
            first = f.readline().decode("utf-8", "replace").strip()
    except (IOError, OSError):
        return None
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if words and os.path.basename(words[0]) == "env":
        words = words[1:]
    return os.path.basename(words[0]) if words else None


def plugin_argv0(lab, path):
    """How the host runs the plugin: xapi executes the file, so its first line decides, among
    the interpreters of the lab's release (releases.py ``pythons``). ``lab.json``
    ``plugin_python`` overrides; a name the release lacks fails as exec does (env's 127);
    a release interpreter this machine lacks falls back to ``plugin_python``."""
    if lab.config.get("plugin_python"):
        return lab.config["plugin_python"]
    name = interpreter_name(path)
    if name is None or not name.startswith("python"):
        return plugin_python(lab)
    pythons = releases.of_lab(lab).get("pythons") or {}
    if name not in pythons:
        raise XapiError("XENAPI_PLUGIN_FAILURE", [
            "non-zero exit", "", "/usr/bin/env: '%s': No such file or directory\n" % name])
    return _pyenv_python(pythons[name][0]) or plugin_python(lab)


def write_host_pythons(lab, host_uuid):
    """The host's ``usr/bin/python*`` (under its lab root): the release's interpreters, with
    the XenAPI stand-ins importable, so that ``plugin install --host-root`` chooses the
    plugin's interpreter against the host, not the workstation."""
    pythons = releases.of_lab(lab).get("pythons") or {}
    bin_dir = os.path.join(host_root(lab, host_uuid), "usr", "bin")
    util.makedirs(bin_dir)
    for name, (version, importable) in sorted(pythons.items()):
        python = _pyenv_python(version) or plugin_python(lab)
        path = "%s${PYTHONPATH:+:$PYTHONPATH}" % XENAPI_DIR if importable else "$PYTHONPATH"
        util.atomic_write(os.path.join(bin_dir, name),
                          "#!/bin/sh\nPYTHONPATH=\"%s\" exec '%s' \"$@\"\n" % (path, python),
                          mode=0o755)


def device_map(lab, site_name, db):
    out = {}
    with array.locked(lab, shared=True):
        data = array.load(lab)
        for sr_ref, sr in db.rows("SR").items():
            if sr.get("type") not in replication.LUN_TYPES:
                continue
            if not replication.master_attached(db, sr_ref):
                continue
            lun = replication.sr_lun(data, site_name, db, sr_ref)
            if lun is None:
                continue
            for vdi in db.children("VDI", "SR", sr_ref):
                vdi_uuid = db.rows("VDI")[vdi]["uuid"]
                path = array.lv_path(lab, lun, site_name, vdi_uuid)
                if os.path.exists(path):
                    out["/dev/VG_XenStorage-%s/LV-%s" % (sr["uuid"], vdi_uuid)] = path
    return out


def host_root(lab, host_uuid):
    return lab.path("hosts", host_uuid)


def active_devices(lab, site_name, db, host_ref):
    """{path under dev: LV file} for the VDIs attached to this host's control domain."""
    out = {}
    with array.locked(lab, shared=True):
        data = array.load(lab)
        for vbd in db.rows("VBD").values():
            vm = db.find("VM", vbd.get("VM"))
            vdi = db.find("VDI", vbd.get("VDI"))
            if not (vbd.get("currently_attached") and vm and vdi and
                    vm.get("is_control_domain") and vm.get("resident_on") == host_ref):
                continue
            sr = db.find("SR", vdi.get("SR"))
            if sr is None or sr.get("type") not in replication.LUN_TYPES:
                continue
            lun = replication.sr_lun(data, site_name, db, vdi["SR"])
            if lun is None:
                continue
            path = array.lv_path(lab, lun, site_name, vdi["uuid"])
            if not os.path.exists(path):
                continue
            out[os.path.join("VG_XenStorage-" + sr["uuid"], "LV-" + vdi["uuid"])] = path
            if vbd.get("device"):
                out[vbd["device"]] = path
    return out


def _sync_links(root, wanted):
    """Make the symlinks under ``root`` exactly ``wanted`` ({relative path: target})."""
    util.makedirs(root)
    for folder, dirs, files in os.walk(root, topdown=False):
        for name in files + dirs:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                if wanted.get(rel) != os.readlink(path):
                    os.unlink(path)
            elif os.path.isdir(path):
                if not os.listdir(path):
                    os.rmdir(path)
            else:
                os.unlink(path)
    for rel, target in sorted(wanted.items()):
        path = os.path.join(root, rel)
        if os.path.islink(path):
            continue
        util.makedirs(os.path.dirname(path))
        os.symlink(target, path)


def _write_if_changed(path, text):
    try:
        with open(path, "rb") as f:
            if f.read() == text.encode("utf-8"):
                return
    except (IOError, OSError):
        pass
    util.makedirs(os.path.dirname(path))
    util.atomic_write(path, text)


INVENTORY_KEYS = (("PRODUCT_BRAND", "product_brand"), ("PRODUCT_VERSION", "product_version"),
                  ("PRODUCT_VERSION_TEXT", "product_version_text"),
                  ("PLATFORM_NAME", "platform_name"), ("PLATFORM_VERSION", "platform_version"),
                  ("BUILD_NUMBER", "build_number"))


def host_environment(lab, site_name, db, host_ref):
    """Refresh the host's stand-ins for /dev, state.db and xensource-inventory; their paths."""
    host = db.get("host", host_ref)
    root = host_root(lab, host["uuid"])
    dev = os.path.join(root, "dev")
    state_db = os.path.join(root, "var", "lib", "xcp", "state.db")
    inventory = os.path.join(root, "etc", "xensource-inventory")
    with util.flocked(lab.path("locks", "host-%s.lock" % host["uuid"])):
        _sync_links(dev, active_devices(lab, site_name, db, host_ref))
        generation = str(db.generation)
        try:
            with open(state_db + ".generation") as f:
                current = f.read()
        except (IOError, OSError):
            current = None
        if current != generation or not os.path.exists(state_db):
            util.makedirs(os.path.dirname(state_db))
            schema = db.extra.get("schema_minor", replication.DEFAULT_SCHEMA_MINOR)
            util.atomic_write(state_db, dbxml.to_xml(db, schema))
            util.atomic_write(state_db + ".generation", generation)
        version = host.get("software_version") or {}
        dom0 = db.find("VM", host.get("control_domain"))
        lines = ["%s='%s'" % (key, version[field]) for key, field in INVENTORY_KEYS
                 if field in version]
        lines += ["INSTALLATION_UUID='%s'" % host["uuid"],
                  "CONTROL_DOMAIN_UUID='%s'" % (dom0["uuid"] if dom0 else ""),
                  "MANAGEMENT_INTERFACE='xenbr0'", "MANAGEMENT_ADDRESS_TYPE='IPv4'"]
        _write_if_changed(inventory, "".join(line + "\n" for line in lines))
    return {"XE_DR_PLUGIN_DEV_ROOT": dev, "XE_DR_PLUGIN_XAPI_DB": state_db,
            "XE_DR_PLUGIN_INVENTORY": inventory,
            "XE_DR_PLUGIN_RUN_DIR": os.path.join(root, "var", "run", "xe-dr")}


def call_xml(session_ref, fn, args):
    import xmlrpc.client
    return xmlrpc.client.dumps((session_ref, args), methodname=fn, allow_none=False)


def _signal_name(num):
    for name in dir(signal):
        if name.startswith("SIG") and not name.startswith("SIG_") and \
                getattr(signal, name) == num:
            return name
    return str(num)


def parse_response(output):
    """xapi's reading of a plugin's stdout; returns the string or raises the XAPI error."""
    import xmlrpc.client
    from xml.parsers.expat import ExpatError
    try:
        (value,), _ = xmlrpc.client.loads(output)
    except ExpatError as e:
        raise XapiError("XENAPI_PLUGIN_FAILURE",
                        ["failed to parse plugin output", output, "Xml.Error: %s" % e])
    except xmlrpc.client.Fault as f:
        raise XapiError("XENAPI_PLUGIN_FAILURE",
                        ["fault", str(f.faultCode), f.faultString])
    except Exception:
        raise XapiError("XENAPI_PLUGIN_FAILURE", ["unexpected XMLRPC result", output])
    if isinstance(value, dict) and value.get("Status") == "Success" and \
            isinstance(value.get("Value"), str):
        return value["Value"]
    if isinstance(value, dict) and value.get("Status") == "Failure":
        desc = [str(x) for x in value.get("ErrorDescription") or []]
        if desc:
            raise XapiError(desc[0], desc[1:])
    raise XapiError("XENAPI_PLUGIN_FAILURE", ["unexpected XMLRPC result", output])


def call_plugin(lab, site_name, db, host_ref, plugin, fn, args):
    host_uuid = db.get("host", host_ref)["uuid"]
    folder = lab.plugin_dir(host_uuid)
    path = os.path.join(folder, plugin)
    if "/" in plugin or plugin in ("", ".", "..") or not os.path.isfile(path):
        raise XapiError("XENAPI_MISSING_PLUGIN", [plugin])
    session = util.new_ref()
    env = {
        "PATH": "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONPATH": os.pathsep.join([XENAPI_DIR, REPO]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "XE_DR_LAB_DIR": lab.root, "XE_DR_LAB_SITE": site_name, "XE_DR_LAB_HOST": host_uuid,
        "XE_DR_LAB_SESSION": session,
        "XE_DR_LAB_SESSION_POOL": "false" if host_ref == db.master_ref() else "true",
        "XE_DR_LAB_DEVICE_MAP": json.dumps(device_map(lab, site_name, db), sort_keys=True),
    }
    env.update(host_environment(lab, site_name, db, host_ref))
    if os.environ.get("HOME"):
        env["HOME"] = os.environ["HOME"]
    costs.pause(lab, "plugin")
    proc = subprocess.Popen([plugin_argv0(lab, path), path, call_xml(session, fn, args)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd="/")
    out, err = proc.communicate()
    output = out.decode("utf-8", "replace")
    log = err.decode("utf-8", "replace")
    if proc.returncode < 0:
        raise XapiError("XENAPI_PLUGIN_FAILURE",
                        ["signal: %s" % _signal_name(-proc.returncode), output, log])
    if proc.returncode != 0:
        raise XapiError("XENAPI_PLUGIN_FAILURE", ["non-zero exit", output, log])
    return parse_response(output)
