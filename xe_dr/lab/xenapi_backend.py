"""What the lab's ``XenAPI`` stand-in calls: XenAPI methods bound to the lab's state.

Sessions live in the plugin process: the one xapi passed (``XE_DR_LAB_SESSION``, or any
session made by ``login_with_password``) is a local session on the site's database; sessions
returned by ``VDI.open_database`` are read-only sessions on a foreign database read from the
metadata VDI. Like xapi, which keeps a foreign session's database in memory until the session
is logged out (xapi_vdi.ml open_database: a read-only session registered with the database
it read), a foreign session outlives the plugin process that opened it: the bytes it read
are kept in ``DIR/sessions/<site>-<ref>`` until ``session.logout``, and any later process
given its ref uses them without opening (or paying for) the database again. Records use API field names; like XML-RPC, int64 values are strings, booleans
are bools, references are ``OpaqueRef:`` strings.

Supported: for every class, ``get_all``, ``get_all_records``, ``get_all_where``,
``get_all_records_where`` (xapi's filter language, dbfilter.py), ``get_record``,
``get_by_uuid``, ``get_by_name_label``, ``get_<field>``; ``add_to_other_config`` /
``remove_from_other_config`` / ``set_other_config`` (local only); ``VDI.open_database``;
``VDI.read_database_pool_uuid`` (xapi's foreign-database cache, "" when it has nothing);
``host.get_API_version_major`` / ``_minor``;
``VM.assert_can_be_recovered`` / ``recover`` / ``get_SRs_required_for_recovery`` and the same
for ``VM_appliance`` (called on the foreign session, with the local session as ``session_to``);
``session.logout``; ``VM.start`` / ``clean_shutdown`` / ``hard_shutdown``.

Costs: the assert and recover calls pay what the CLI's vm-/appliance-recover pay for them
(costs.py: assert, vm_recover, appliance_recover + per VM), without the CLI's per-call cost;
VDI.open_database pays db_open, and VM.start what vm-start pays (lifecycle.py).
"""

import os
import time

from . import calllog, costs, dbfilter, dbxml, foreign, guests, lifecycle, recovery, util
from .errors import XapiError
from .schema import RELATIONS, TABLES
from .store import Lab

# xapi dispatches on the exact wire names (VM, VDI, SR, host, pool, VM_appliance, DR_task...):
# "vm.get_all" is MESSAGE_METHOD_UNKNOWN (xapi's server dispatch is generated per class name).
_CLASSES = frozenset(TABLES)


class Backend(object):
    def __init__(self, lab_dir=None, site=None, session=None):
        self.lab = Lab(lab_dir or os.environ["XE_DR_LAB_DIR"])
        self.site = self.lab.site(site or os.environ["XE_DR_LAB_SITE"])
        self.sessions = {}
        # Sessions xapi made for itself (Session.pool): Network.create trusts their bridge
        # names (network.py). The one a plugin is given is one when its call was forwarded
        # to a pool member (plugins.py).
        self.pool_sessions = set()
        first = session or os.environ.get("XE_DR_LAB_SESSION")
        if first:
            self.sessions[first] = None
            if os.environ.get("XE_DR_LAB_SESSION_POOL") == "true" and session is None:
                self.pool_sessions.add(first)

    # -- sessions --------------------------------------------------------------------------

    def login(self):
        ref = util.new_ref()
        self.sessions[ref] = None
        return ref

    def raw(self, method, params):
        """One XML-RPC call as the server answers it: {"Status": ..., ...}."""
        params = list(params)
        try:
            if method.startswith("session.") and "login" in method:
                value = self.login()
            elif not params:
                raise XapiError("SESSION_INVALID", [""])
            else:
                value = self.call(params[0], method, params[1:])
        except XapiError as e:
            return {"Status": "Failure", "ErrorDescription": [e.code] + list(e.params)}
        return {"Status": "Success", "Value": value}

    def db_of(self, session):
        if session not in self.sessions:
            raise XapiError("SESSION_INVALID", [str(session)])
        fdb = self.sessions[session]
        return fdb if fdb is not None else self.site.read()

    def local_session(self, session):
        if session not in self.sessions or self.sessions[session] is not None:
            raise XapiError("SESSION_INVALID", [str(session)])

    # -- calls -----------------------------------------------------------------------------

    def _kept_path(self, ref):
        name = "".join(c for c in str(ref) if c.isalnum() or c == "-")
        return self.lab.path("sessions", "%s-%s" % (self.site.name, name))

    def _resolve(self, session):
        """A foreign session opened by another process: its database, as it was read."""
        if session in self.sessions:
            return
        try:
            with open(self._kept_path(session), "rb") as handle:
                generation, _, xml = handle.read().partition(b"\n")
        except (IOError, OSError):
            return
        self.sessions[session] = foreign.database_of(self.site.read(), int(generation), xml)

    def call(self, session, method, params):
        self._resolve(session)
        guests.advance(self.site)  # what the guests did since the last call (guests.py)
        if method in ("session.logout", "session.local_logout", "logout"):
            if session not in self.sessions:
                raise XapiError("SESSION_INVALID", [str(session)])
            self.sessions.pop(session, None)
            try:
                os.unlink(self._kept_path(session))
            except OSError:
                pass
            return ""
        cls_name, _, op = method.partition(".")
        cls = cls_name if cls_name in _CLASSES else None
        if cls is None or not op:
            raise XapiError("MESSAGE_METHOD_UNKNOWN", [method])
        special = getattr(self, "_%s_%s" % (cls, op), None)
        if special is not None:
            return special(session, *params)
        db = self.db_of(session)
        if op == "get_all":
            return list(db.rows(cls))
        if op == "get_all_records":
            return dict((ref, self.record(db, cls, ref)) for ref in db.rows(cls))
        if op in ("get_all_records_where", "get_all_where"):
            refs = self.where(db, cls, params[0])
            if op == "get_all_where":
                return refs
            return dict((ref, self.record(db, cls, ref)) for ref in refs)
        if op == "get_record":
            return self.record(db, cls, self._ref(db, cls, params[0]))
        if op == "get_by_uuid":
            return db.by_uuid(cls, params[0])
        if op == "get_by_name_label":
            return [r for r, row in db.rows(cls).items() if row.get("name_label") == params[0]]
        if op.startswith("get_"):
            rec = self.record(db, cls, self._ref(db, cls, params[0]))
            field = op[4:]
            if field not in rec:
                raise XapiError("MESSAGE_METHOD_UNKNOWN", [method])
            return rec[field]
        if op in ("add_to_other_config", "remove_from_other_config", "set_other_config"):
            self.local_session(session)
            with self.site.transaction() as wdb:
                ref = self._ref(wdb, cls, params[0])
                oc = dict(wdb.get(cls, ref).get("other_config") or {})
                if op == "add_to_other_config":
                    if params[1] in oc:
                        raise XapiError("MAP_DUPLICATE_KEY", [cls, "other_config", ref, params[1]])
                    oc[params[1]] = params[2]
                elif op == "remove_from_other_config":
                    oc.pop(params[1], None)
                else:
                    oc = dict(params[1])
                wdb.update(cls, ref, other_config=oc)
            return ""
        raise XapiError("MESSAGE_METHOD_UNKNOWN", [method])

    def where(self, db, cls, expr):
        """Refs of the rows matching a db_filter expression (db_cache_impl.ml
        find_refs_with_filter; xapi_message.ml for messages)."""
        tree = dbfilter.parse(expr)
        out = []
        for ref, row in db.rows(cls).items():
            def lookup(name, ref=ref, row=row):
                return self._column(db, cls, ref, row, name)
            if dbfilter.evaluate(tree, lookup):
                out.append(ref)
        return out

    MESSAGE_FIELDS = {"name": "name", "uuid": "uuid", "priority": "priority", "cls": "cls",
                      "obj_uuid": "obj_uuid", "timestamp": "timestamp", "body": "body"}

    def _column(self, db, cls, ref, row, name):
        if cls == "message":
            field = self.MESSAGE_FIELDS.get(name)
            if field is None:
                raise dbfilter.missing_field(name)
            return str(row.get(field, "Pool" if field == "cls" else ""))
        if name == "_ref":
            return ref
        if "__" in name:
            field = dbxml.field_of(name)
        elif name in dbxml._NAMESPACED:
            raise dbfilter.missing_field(name)      # the column is name__label, ...
        else:
            field = name
        if field in row:
            return dbxml._marshal(row[field])
        for (parent, rel), (child_cls, child_field) in RELATIONS.items():
            if parent == cls and rel == field:
                return dbxml.sexpr_set(db.children(child_cls, child_field, ref))
        kind = dbxml.TYPES.get(cls, {}).get(field)
        if kind is None:
            raise dbfilter.missing_field(name)
        return {"i": "0", "b": "false", "f": "0.", "set": "()", "map": "()"}[kind]

    def _VDI_read_database_pool_uuid(self, session, vdi_ref):
        """xapi_vdi.ml: the pool uuid xapi_dr.ml cached when it opened the copy, or ""
        (no check that the reference is valid)."""
        self.db_of(session)
        cache = self.site.read().extra.get("foreign_cache") or {}
        entry = cache.get(vdi_ref)
        return entry[1] if entry else ""

    def _host_get_API_version_major(self, session, host):
        self._ref(self.db_of(session), "host", host)
        return "2"

    def _host_get_API_version_minor(self, session, host):
        self._ref(self.db_of(session), "host", host)
        return "21"

    def _ref(self, db, cls, ref):
        if db.find(cls, ref) is None:
            raise XapiError("HANDLE_INVALID", [cls, ref])
        return ref

    def record(self, db, cls, ref):
        out = {}
        for k, v in db.get(cls, ref).items():
            out[k] = _api_value(v)
        for (parent, field), (child_cls, child_field) in RELATIONS.items():
            if parent == cls:
                out[field] = list(db.children(child_cls, child_field, ref))
        return out

    # -- special methods -------------------------------------------------------------------

    def _VDI_open_database(self, session, vdi_ref):
        self.local_session(session)
        local = self.site.read()
        self._ref(local, "VDI", vdi_ref)
        start = time.time()
        info = {"db_opens": 0}
        try:
            generation, xml = foreign.read_metadata_vdi(self.lab, self.site.name, local,
                                                        vdi_ref, info)
            fdb = foreign.database_of(local, generation, xml)
        finally:
            calllog.append(self.lab, {
                "site": self.site.name, "command": "VDI.open_database", "via": "XenAPI",
                "args": [vdi_ref], "start": start, "duration": time.time() - start,
                "exit": 0, "db_opens": info["db_opens"], "db_open": info["db_opens"] > 0,
                "pid": os.getpid()})
        ref = "OpaqueRef:" + util.new_uuid()
        self.sessions[ref] = fdb
        path = self._kept_path(ref)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, "wb") as handle:
            handle.write(b"%d\n" % generation + xml)
        return ref

    def _foreign(self, session):
        if self.sessions.get(session) is None:
            raise XapiError("SESSION_INVALID", [str(session)]) \
                if session not in self.sessions else \
                XapiError("OPERATION_NOT_ALLOWED", ["not a database session"])
        return self.sessions[session]

    def _VM_assert_can_be_recovered(self, session, vm, session_to):
        fdb = self._foreign(session)
        self.local_session(session_to)
        self._ref(fdb, "VM", vm)
        costs.pause(self.lab, "assert")
        recovery.assert_can_be_recovered(fdb, vm, self.site.read())
        return ""

    def _VM_get_SRs_required_for_recovery(self, session, vm, session_to):
        fdb = self._foreign(session)
        self.local_session(session_to)
        self._ref(fdb, "VM", vm)
        return recovery.srs_required_for_recovery(fdb, vm, self.site.read())

    def _VM_recover(self, session, vm, session_to, force):
        fdb = self._foreign(session)
        self.local_session(session_to)
        self._ref(fdb, "VM", vm)
        costs.pause(self.lab, "vm_recover")  # what the CLI's vm-recover charges, less its call
        recovery.run_import(self.site, lambda db: recovery.recover_vm(
            db, fdb, vm, bool(force), pool_session=session_to in self.pool_sessions))
        return ""

    def _VM_appliance_assert_can_be_recovered(self, session, app, session_to):
        fdb = self._foreign(session)
        self.local_session(session_to)
        self._ref(fdb, "VM_appliance", app)
        costs.pause(self.lab, "assert")
        recovery.assert_appliance(fdb, app, self.site.read())
        return ""

    def _VM_appliance_get_SRs_required_for_recovery(self, session, app, session_to):
        fdb = self._foreign(session)
        self.local_session(session_to)
        self._ref(fdb, "VM_appliance", app)
        local = self.site.read()
        out = []
        for vm in recovery.appliance_vms(fdb, app):
            for sr in recovery.srs_required_for_recovery(fdb, vm, local):
                if sr not in out:
                    out.append(sr)
        return out

    def _VM_appliance_recover(self, session, app, session_to, force):
        fdb = self._foreign(session)
        self.local_session(session_to)
        self._ref(fdb, "VM_appliance", app)
        costs.pause(self.lab, "appliance_recover", len(recovery.appliance_vms(fdb, app)) *
                    costs.base(self.lab, "appliance_recover_per_vm"))
        recovery.run_import(self.site, lambda db: recovery.recover_appliance(
            db, fdb, app, bool(force), pool_session=session_to in self.pool_sessions))
        return ""

    def _VM_start(self, session, vm, start_paused=False, force=False):
        self.local_session(session)
        db = self.site.read()
        lifecycle.start(self.lab, self.site, db.get("VM", vm)["uuid"], paused=start_paused)
        return ""

    def _VM_clean_shutdown(self, session, vm):
        self.local_session(session)
        lifecycle.shutdown(self.lab, self.site, self.site.read().get("VM", vm)["uuid"])
        return ""

    def _VM_hard_shutdown(self, session, vm):
        self.local_session(session)
        lifecycle.shutdown(self.lab, self.site, self.site.read().get("VM", vm)["uuid"],
                           hard=True)
        return ""


def _api_value(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict):
        return dict((k, _api_value(x)) for k, x in v.items())
    if isinstance(v, list):
        return [_api_value(x) for x in v]
    return v
