"""Host plugins run as real processes with xapi's contract (``xapi_plugins.ml``).

``host-call-plugin host-uuid=H plugin=P fn=F args:k=v`` runs
``DIR/hosts/<H>/etc/xapi.d/plugins/P`` (the lab's stand-in for ``/etc/xapi.d/plugins/`` on H;
install a plugin by copying it there) as ``<python> P '<XML-RPC methodCall F(session, {args})>'``.
The interpreter is pyenv's Python 3.6.15 when it is installed (as on XCP-ng 8.3), else the one
that created the lab; ``lab.json`` ``plugin_python`` overrides both. The plugin gets a small
environment, as from xapi (no UTF-8 locale), plus:

* ``PYTHONPATH``: the lab's ``XenAPI`` / ``XenAPIPlugin`` stand-ins and the repository;
* ``XE_DR_LAB_DIR``, ``XE_DR_LAB_SITE``, ``XE_DR_LAB_HOST`` (host UUID), ``XE_DR_LAB_SESSION``;
* ``XE_DR_LAB_DEVICE_MAP``: JSON ``{"/dev/VG_XenStorage-<sr>/LV-<vdi>": "<file>"}`` for every
  LV the lab keeps bytes for (metadata VDIs) on LUN copies attached at this site, so a plugin
  can read a metadata VDI's raw redo log where dom0 would open the LVM device.

The output is mapped as xapi maps it: one XML-RPC response with a string value is the result;
a Failure response becomes that XAPI error; anything unparsable is XENAPI_PLUGIN_FAILURE
``failed to parse plugin output``; a non-zero exit is ``non-zero exit``; a signal ``signal: X``.
"""

import json
import os
import signal
import subprocess
import sys

from . import array, costs, replication, util
from .errors import XapiError

XENAPI_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xenapi")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plugin_python(lab):
    configured = lab.config.get("plugin_python")
    if configured:
        return configured
    try:
        root = subprocess.check_output(["pyenv", "root"], stderr=subprocess.DEVNULL,
                                       universal_newlines=True).strip()
    except (OSError, subprocess.CalledProcessError):
        root = os.path.expanduser("~/.pyenv")
    candidate = os.path.join(root, "versions", "3.6.15", "bin", "python")
    if os.path.exists(candidate):
        return candidate
    return sys.executable


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
        "XE_DR_LAB_DEVICE_MAP": json.dumps(device_map(lab, site_name, db), sort_keys=True),
    }
    if os.environ.get("HOME"):
        env["HOME"] = os.environ["HOME"]
    costs.pause(lab, "plugin")
    proc = subprocess.Popen([plugin_python(lab), path, call_xml(session, fn, args)],
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
