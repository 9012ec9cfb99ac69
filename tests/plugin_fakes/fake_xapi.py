# -*- coding: utf-8 -*-
"""An in-memory xapi for the xe-dr host plugin's tests (Python 2.7 and 3.6+).

The fake XenAPI module sends every call here instead of to /var/lib/xcp/xapi. The world is a
JSON file named by ``XE_DR_FAKE_WORLD`` (built by ``worldbuilder.py``)::

    {"local": {<class>: {<ref>: <record>}},        the pool the plugin runs in
     "local_sessions": [<session ref>],            sessions valid on it (argv's session)
     "foreign": {<vdi uuid>: {"db": {<class>: ...}} | {"error": [code, params...]}},
     "foreign_cache": {<vdi uuid>: <pool uuid>},   what VDI.read_database_pool_uuid answers
     "faults": {"<Class.method>": {<object uuid> or "*": [code, params...]}},
     "delays": {"<Class.method>": seconds}}

Records use XAPI field names, refs ``OpaqueRef:...``, int64 fields as strings (as XML-RPC
carries them) and message timestamps as ``YYYYMMDDTHH:MM:SSZ``.

What it checks, like xapi: every call's first parameter must be a live session
(SESSION_INVALID), foreign sessions are read-only (a foreign session given as ``session_to``
is refused with RBAC_PERMISSION_DENIED), class names are case-sensitive
(MESSAGE_METHOD_UNKNOWN), unknown refs are HANDLE_INVALID and unknown uuids UUID_INVALID.

Events go to the JSON-lines file named by ``XE_DR_FAKE_JOURNAL``: database opens, logouts,
recoveries with their start and end times, and at exit the foreign sessions left open.

Foreign sessions outlive the process, as in xapi (a session lives until it is logged out):
``<world>.sessions.json`` maps each open one to its VDI uuid, and a later process given its
ref uses it without opening the database again.
"""

import atexit
import copy
import io
import json
import os
import threading
import time
import uuid

try:
    import xmlrpc.client as xmlrpclib
except ImportError:  # Python 2
    import xmlrpclib

CLASSES = ("pool", "host", "SR", "PBD", "VDI", "VBD", "VM", "VIF", "network", "VM_appliance",
           "message", "session")
NULL = "OpaqueRef:NULL"


def _text(value):
    return value if isinstance(value, (str, type(u""))) else str(value)


class Failure(Exception):
    def __init__(self, *details):
        Exception.__init__(self, list(details))
        self.details = [_text(d) for d in details]


class Database(object):
    def __init__(self, tables, read_only=False):
        self.tables = dict((cls, dict(tables.get(cls, {}))) for cls in CLASSES)
        self.read_only = read_only

    def table(self, cls):
        return self.tables[cls]

    def record(self, cls, ref):
        try:
            return self.tables[cls][ref]
        except KeyError:
            raise Failure("HANDLE_INVALID", cls, ref)

    def by_uuid(self, cls, uuid):
        for ref, rec in self.tables[cls].items():
            if rec.get("uuid") == uuid:
                return ref
        raise Failure("UUID_INVALID", cls, uuid)

    def find_uuid(self, cls, uuid):
        for ref, rec in self.tables[cls].items():
            if rec.get("uuid") == uuid:
                return ref
        return None


class Journal(object):
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, event, **fields):
        if not self.path:
            return
        fields["event"] = event
        fields["t"] = time.time()
        fields["thread"] = threading.current_thread().name
        with self.lock:
            with io.open(self.path, "a", encoding="utf-8") as handle:
                handle.write(u"%s\n" % json.dumps(fields, sort_keys=True))


class Server(object):
    def __init__(self, world, journal_path=None):
        self.world = world
        self.lock = threading.RLock()
        self.local = Database(world.get("local", {}))
        self.sessions = dict((ref, self.local) for ref in world.get("local_sessions", []))
        self.foreign_sessions = set()
        self.journal = Journal(journal_path)
        self.faults = world.get("faults", {})
        self.delays = world.get("delays", {})
        self.inflight = 0

    # -- the wire -------------------------------------------------------------------------

    def call(self, method, params):
        """One XML-RPC call: params and the response go through xmlrpclib like on the wire."""
        data = xmlrpclib.dumps(tuple(params), method, allow_none=True)
        params, method = xmlrpclib.loads(data)
        try:
            value = self.dispatch(method, list(params))
            response = {"Status": "Success", "Value": value if value is not None else ""}
        except Failure as failure:
            response = {"Status": "Failure", "ErrorDescription": failure.details}
        data = xmlrpclib.dumps((response,), methodresponse=True, allow_none=True)
        (response,), _ = xmlrpclib.loads(data)
        return response

    def dispatch(self, method, params):
        if "." not in method:
            raise Failure("MESSAGE_METHOD_UNKNOWN", method)
        cls, op = method.split(".", 1)
        if cls not in CLASSES:
            raise Failure("MESSAGE_METHOD_UNKNOWN", method)
        if not params:
            raise Failure("MESSAGE_PARAMETER_COUNT_MISMATCH", method, "1", "0")
        session_ref, args = params[0], params[1:]
        with self.lock:
            self.resolve(session_ref)
            db = self.sessions.get(session_ref)
        if db is None:
            raise Failure("SESSION_INVALID", session_ref)
        fault = self.faults.get(method, {}).get("*")
        if fault:
            raise Failure(*fault)
        special = getattr(self, "op_%s_%s" % (cls, op), None)
        if special is not None:
            return special(db, session_ref, *args)
        return self.generic(db, cls, op, args)

    def generic(self, db, cls, op, args):
        with self.lock:
            table = db.table(cls)
            if op == "get_all_records":
                return self.export(cls, table)
            if op == "get_all":
                return sorted(table)
            if op == "get_all_records_where":
                return self.where(cls, table, args[0])
            if op == "get_record":
                return self.export_one(cls, db.record(cls, args[0]))
            if op == "get_by_uuid":
                return db.by_uuid(cls, args[0])
            if op == "get_by_name_label":
                return sorted(r for r, rec in table.items() if rec.get("name_label") == args[0])
            if op in ("add_to_other_config", "remove_from_other_config"):
                if db.read_only:
                    raise Failure("OPERATION_NOT_ALLOWED", "the database is read-only")
                config = db.record(cls, args[0]).setdefault("other_config", {})
                if op == "remove_from_other_config":
                    config.pop(args[1], None)
                elif args[1] in config:  # db_cache_impl.ml: the master's add is not idempotent
                    raise Failure("MAP_DUPLICATE_KEY", cls, "other_config", args[0], args[1])
                else:
                    config[args[1]] = args[2]
                self.journal.write(op, cls=cls, ref=args[0], key=args[1])
                return ""
            if op.startswith("get_"):
                field = op[len("get_"):]
                rec = db.record(cls, args[0])
                if field not in rec:
                    raise Failure("MESSAGE_METHOD_UNKNOWN", "%s.%s" % (cls, op))
                return self.export_value(cls, field, rec[field])
        raise Failure("MESSAGE_METHOD_UNKNOWN", "%s.%s" % (cls, op))

    def export_value(self, cls, field, value):
        if cls == "message" and field == "timestamp" and value:
            return xmlrpclib.DateTime(str(value))
        return copy.deepcopy(value)

    def export_one(self, cls, rec):
        return dict((k, self.export_value(cls, k, v)) for k, v in rec.items())

    def export(self, cls, table):
        return dict((ref, self.export_one(cls, rec)) for ref, rec in table.items())

    def where(self, cls, table, expr):
        # Only the form the plugin uses: field "name" = "value".
        import re
        match = re.match(r'^\s*field\s+"([^"]+)"\s*=\s*"([^"]*)"\s*$', expr)
        if not match:
            raise Failure("INTERNAL_ERROR", "fake xapi cannot parse expression %r" % expr)
        field, value = match.groups()
        return dict((ref, self.export_one(cls, rec)) for ref, rec in table.items()
                    if str(rec.get(field)) == value)

    # -- sessions and foreign databases ----------------------------------------------------

    def _kept(self, change=None):
        """The open foreign sessions of every process {ref: vdi uuid}; ``change(kept)`` edits
        them (under self.lock)."""
        path = os.environ.get("XE_DR_FAKE_WORLD")
        if not path:
            return {}
        path += ".sessions.json"
        try:
            with io.open(path, "r", encoding="utf-8") as handle:
                kept = json.load(handle)
        except (IOError, OSError, ValueError):
            kept = {}
        if change is not None:
            change(kept)
            with io.open(path, "w", encoding="utf-8") as handle:
                handle.write(u"%s" % json.dumps(kept))
        return kept

    def resolve(self, session_ref):
        if session_ref in self.sessions:
            return
        vdi = self._kept().get(session_ref)
        entry = self.world.get("foreign", {}).get(vdi) if vdi else None
        if entry is not None and "db" in entry:
            self.sessions[session_ref] = Database(copy.deepcopy(entry["db"]), read_only=True)
            self.foreign_sessions.add(session_ref)

    def op_session_logout(self, db, session_ref):
        with self.lock:
            foreign = session_ref in self.foreign_sessions
            self.sessions.pop(session_ref, None)
            self.foreign_sessions.discard(session_ref)
            self._kept(lambda kept: kept.pop(session_ref, None))
        self.journal.write("logout", session=session_ref, foreign=foreign)
        return ""

    def op_VDI_open_database(self, db, session_ref, vdi_ref):
        if db.read_only:
            raise Failure("RBAC_PERMISSION_DENIED", "VDI.open_database", "read-only session")
        with self.lock:
            rec = db.record("VDI", vdi_ref)
            if rec.get("type") != "metadata":
                raise Failure("VDI_INCOMPATIBLE_TYPE", vdi_ref, rec.get("type"))
            entry = self.world.get("foreign", {}).get(rec["uuid"])
        self.journal.write("open_database", vdi=rec["uuid"])
        if entry is None:
            raise Failure("COULD_NOT_IMPORT_DATABASE", "no redo log on the VDI (fake)")
        if "error" in entry:
            raise Failure(*entry["error"])
        with self.lock:
            ref = "OpaqueRef:foreign-session-%s" % uuid.uuid4()
            self.sessions[ref] = Database(copy.deepcopy(entry["db"]), read_only=True)
            self.foreign_sessions.add(ref)
            self._kept(lambda kept: kept.__setitem__(ref, rec["uuid"]))
        return ref

    def op_VDI_read_database_pool_uuid(self, db, session_ref, vdi_ref):
        rec = db.record("VDI", vdi_ref)
        return self.world.get("foreign_cache", {}).get(rec["uuid"], "")

    def target(self, session_to, action):
        with self.lock:
            target = self.sessions.get(session_to)
        if target is None:
            raise Failure("SESSION_INVALID", session_to)
        if target.read_only:
            raise Failure("RBAC_PERMISSION_DENIED", action,
                          "The supplied session does not have the required permissions for "
                          "VM recovery.")
        return target

    # -- recovery (xapi_vm_helpers.ml, xapi_dr.ml, import.ml, as our reference describes) -----

    def required_srs(self, db, vm_ref):
        vm = db.record("VM", vm_ref)
        found = []
        for vbd_ref in vm.get("VBDs", []):
            vbd = db.record("VBD", vbd_ref)
            if vbd.get("type") == "CD" or vbd.get("VDI") in (None, NULL):
                continue
            sr_ref = db.record("VDI", vbd["VDI"])["SR"]
            if db.record("SR", sr_ref).get("content_type") == "iso":
                continue
            if sr_ref not in found:
                found.append(sr_ref)
        return found

    def assert_vm(self, db, vm_ref, target):
        for sr_ref in self.required_srs(db, vm_ref):
            uuid = db.record("SR", sr_ref)["uuid"]
            local = target.find_uuid("SR", uuid)
            attached = local is not None and any(
                target.record("PBD", p).get("currently_attached")
                for p in target.record("SR", local).get("PBDs", []))
            if not attached:
                raise Failure("VM_REQUIRES_SR", vm_ref, sr_ref)

    def op_VM_assert_can_be_recovered(self, db, session_ref, vm_ref, session_to):
        target = self.target(session_to, "VM.assert_can_be_recovered")
        with self.lock:
            self.assert_vm(db, vm_ref, target)
        return ""

    def op_VM_appliance_assert_can_be_recovered(self, db, session_ref, app_ref, session_to):
        target = self.target(session_to, "VM_appliance.assert_can_be_recovered")
        with self.lock:
            for vm_ref in db.record("VM_appliance", app_ref).get("VMs", []):
                self.assert_vm(db, vm_ref, target)
        return ""

    def slow(self, method, uuid):
        """The delay of a method (outside every lock) and its injected fault."""
        with self.lock:
            self.inflight += 1
            inflight = self.inflight
        start = time.time()
        try:
            time.sleep(float(self.delays.get(method, 0)))
        finally:
            with self.lock:
                self.inflight -= 1
        self.journal.write("call", method=method, uuid=uuid, start=start, end=time.time(),
                           inflight=inflight)
        fault = self.faults.get(method, {}).get(uuid)
        if fault:
            raise Failure(*fault)

    def import_vm(self, db, vm_ref, target, force):
        """One VM into the target: the existing-VM rules of reference §2.6."""
        vm = db.record("VM", vm_ref)
        existing = target.find_uuid("VM", vm["uuid"])
        if existing is not None:
            old = target.record("VM", existing)
            if old.get("power_state") != "Halted":
                if force:
                    return existing
                raise Failure("VM_BAD_POWER_STATE", existing, "Halted", old.get("power_state"))
            if int(old.get("version", "0")) >= int(vm.get("version", "0")) + 1 and not force:
                raise Failure("VM_TO_IMPORT_IS_NOT_NEWER_VERSION", existing,
                              old.get("version"), vm.get("version"))
            del target.tables["VM"][existing]
        new = copy.deepcopy(vm)
        new["version"] = str(int(vm.get("version", "0")) + 1)
        new["appliance"] = NULL
        new["VBDs"], new["VIFs"] = [], []
        if new.get("power_state") != "Suspended":
            new["power_state"] = "Halted"
        ref = "OpaqueRef:recovered-%s" % vm["uuid"]
        target.tables["VM"][ref] = new
        return ref

    def op_VM_recover(self, db, session_ref, vm_ref, session_to, force):
        target = self.target(session_to, "VM.recover")
        uuid = db.record("VM", vm_ref)["uuid"]
        with self.lock:
            self.assert_vm(db, vm_ref, target)
        self.slow("VM.recover", uuid)
        with self.lock:
            self.import_vm(db, vm_ref, target, bool(force))
        self.journal.write("recovered", kind="vm", uuid=uuid, force=bool(force))
        return ""

    def op_VM_appliance_recover(self, db, session_ref, app_ref, session_to, force):
        target = self.target(session_to, "VM_appliance.recover")
        app = db.record("VM_appliance", app_ref)
        with self.lock:
            for vm_ref in app.get("VMs", []):
                self.assert_vm(db, vm_ref, target)
        self.slow("VM_appliance.recover", app["uuid"])
        with self.lock:
            refs = [self.import_vm(db, v, target, bool(force)) for v in app.get("VMs", [])]
            local = target.find_uuid("VM_appliance", app["uuid"])
            if local is None:
                local = "OpaqueRef:recovered-%s" % app["uuid"]
                target.tables["VM_appliance"][local] = {"uuid": app["uuid"], "VMs": []}
            rec = target.tables["VM_appliance"][local]
            rec["name_label"] = app.get("name_label", "")
            rec["name_description"] = app.get("name_description", "")
            rec["VMs"] = refs
            for ref in refs:
                target.tables["VM"][ref]["appliance"] = local
        self.journal.write("recovered", kind="appliance", uuid=app["uuid"], force=bool(force))
        return ""

    def leftovers(self):
        with self.lock:
            return sorted(self.foreign_sessions)


_server = [None]
_server_lock = threading.Lock()


def server():
    """The process's server, loaded from XE_DR_FAKE_WORLD on first use."""
    with _server_lock:
        if _server[0] is None:
            path = os.environ.get("XE_DR_FAKE_WORLD")
            world = {}
            if path:
                with io.open(path, "r", encoding="utf-8") as handle:
                    world = json.load(handle)
            _server[0] = Server(world, os.environ.get("XE_DR_FAKE_JOURNAL"))
            atexit.register(_at_exit, _server[0])
        return _server[0]


def install(world, journal_path=None):
    """In-process tests: use this world instead of the environment's."""
    with _server_lock:
        _server[0] = Server(world, journal_path)
        return _server[0]


def _at_exit(srv):
    srv.journal.write("exit", open_foreign_sessions=srv.leftovers())
