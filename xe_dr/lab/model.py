"""The object store of one pool database: tables of rows keyed by opaque references.

Rows hold API-named fields (``name_label``, ``power_state`` = ``"Halted"``...). One-to-many
relation sets (``VM.VBDs``, ``SR.VDIs``...) are not stored: they are computed from the "one" side
(``VBD.VM``, ``VDI.SR``) by ``children()``, so they can never disagree.
"""

from . import util
from .errors import XapiError
from .schema import RELATIONS, TABLES

NAMED = frozenset(["pool", "host", "VM", "VM_appliance", "SR", "VDI", "network"])

# The "one" side of every relation, per child table: {table: set(fields)}.
_CHILD_FIELDS = {}
for (_parent, _set), (_child, _field) in RELATIONS.items():
    _CHILD_FIELDS.setdefault(_child, set()).add(_field)


class Db(object):
    def __init__(self, data=None, readonly=False, label="local"):
        data = data or {}
        tables = data.get("tables") or {}
        for t in TABLES:
            tables.setdefault(t, {})
        self.tables = tables
        self.generation = int(data.get("generation", 0))
        self.extra = data.get("extra") or {}
        self.readonly = readonly
        self.label = label
        self.dirty = False
        self.deleted_vdis = set()
        self._uuid = {}
        self._kids = {}
        self._refinfo = None

    # -- reading ------------------------------------------------------------------------------

    def rows(self, cls):
        return self.tables[cls]

    def find(self, cls, ref):
        return self.tables[cls].get(ref)

    def get(self, cls, ref):
        row = self.tables[cls].get(ref)
        if row is None:
            raise XapiError("HANDLE_INVALID", [cls, ref])
        return row

    def lookup_uuid(self, cls, uuid):
        index = self._uuid.get(cls)
        if index is None:
            index = dict((row["uuid"], ref) for ref, row in self.tables[cls].items())
            self._uuid[cls] = index
        return index.get(uuid)

    def by_uuid(self, cls, uuid):
        ref = self.lookup_uuid(cls, uuid)
        if ref is None:
            raise XapiError("UUID_INVALID", [cls, uuid])
        return ref

    def children(self, cls, field, parent):
        key = (cls, field)
        index = self._kids.get(key)
        if index is None:
            index = {}
            for ref, row in self.tables[cls].items():
                index.setdefault(row.get(field, util.NULL_REF), []).append(ref)
            self._kids[key] = index
        return index.get(parent, [])

    def refinfo(self):
        """{ref: (uuid, name-label or None)} over every table (xapi's Ref_index)."""
        if self._refinfo is None:
            info = {}
            for cls, rows in self.tables.items():
                named = cls in NAMED
                for ref, row in rows.items():
                    info[ref] = (row.get("uuid", ""), row.get("name_label", "") if named else None)
            self._refinfo = info
        return self._refinfo

    def pool_ref(self):
        for ref in self.tables["pool"]:
            return ref
        return util.NULL_REF

    def pool(self):
        return self.tables["pool"][self.pool_ref()]

    def master_ref(self):
        return self.pool().get("master", util.NULL_REF)

    def hosts(self):
        """Host refs, master first."""
        master = self.master_ref()
        return [master] + [h for h in self.tables["host"] if h != master]

    def ref_class(self, ref):
        for cls, rows in self.tables.items():
            if ref in rows:
                return cls
        return None

    # -- writing ------------------------------------------------------------------------------

    def _touch(self, cls, fields=None):
        if self.readonly:
            raise XapiError("INTERNAL_ERROR", ["the database is read-only"])
        self.dirty = True
        if fields is None:
            self._uuid.pop(cls, None)
            for key in list(self._kids):
                if key[0] == cls:
                    del self._kids[key]
            self._refinfo = None
            return
        if "uuid" in fields:
            self._uuid.pop(cls, None)
        if "uuid" in fields or "name_label" in fields:
            self._refinfo = None
        rel = _CHILD_FIELDS.get(cls)
        if rel:
            for f in fields:
                if f in rel:
                    self._kids.pop((cls, f), None)

    def create(self, cls, row, ref=None):
        if ref is None:
            ref = util.new_ref()
        row = dict(row)
        row.setdefault("uuid", util.new_uuid())
        self._touch(cls)
        self.tables[cls][ref] = row
        return ref

    def update(self, cls, ref, **fields):
        row = self.get(cls, ref)
        self._touch(cls, fields)
        row.update(fields)

    def delete(self, cls, ref):
        self._touch(cls)
        row = self.tables[cls].pop(ref, None)
        if cls == "VDI" and row is not None:
            # A destroyed VDI leaves its VG with this commit (replication.after_commit); a VDI
            # the database merely does not know (an SR not scanned yet) stays on the disk.
            self.deleted_vdis.add(row.get("uuid"))

    def to_data(self):
        return {"tables": self.tables, "generation": self.generation, "extra": self.extra}
