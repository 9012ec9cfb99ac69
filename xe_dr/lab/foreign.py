"""Foreign databases: ``VDI.open_database`` and the CLI's ``database:`` parameters.

A foreign database is read from the bytes of a metadata VDI on this site's copy of the LUN
(honouring what the mirror did or did not replicate), never from the other site's live state.
Opening one costs ``db_open`` seconds (scaled) and is serialised per site by a lock file, as
xapi's ``database_open_mutex`` serialises it; the site's own lock is never held meanwhile.
"""

import os

from . import array, costs, dbxml, redolog, replication, util
from .errors import Failure, XapiError
from .render import View


def _first(pairs, key):
    for k, v in pairs:
        if k == key:
            return v
    return None


def _ocaml_server_error(code, params):
    return "Server_error(%s, [ %s ])" % (code, "; ".join(params))


def read_metadata_vdi(lab, site_name, local, vdi_ref, info=None):
    """(generation, xml bytes) of a metadata VDI, paying the open cost under the site mutex."""
    row = local.get("VDI", vdi_ref)
    if row.get("type") != "metadata":
        from .schema import VDI_TYPE_PRINT
        raise XapiError("VDI_INCOMPATIBLE_TYPE",
                        [vdi_ref, VDI_TYPE_PRINT.get(row.get("type", "user"), "User")])
    sr_ref = row.get("SR", util.NULL_REF)
    with util.flocked(lab.path("locks", site_name + ".dbopen.lock")):
        if info is not None:
            info["db_opens"] = info.get("db_opens", 0) + 1
        costs.pause(lab, "db_open")
        if not replication.master_attached(local, sr_ref):
            raise XapiError("COULD_NOT_IMPORT_DATABASE",
                            [_ocaml_server_error("SR_HAS_NO_PBDS", [sr_ref])])
        with array.locked(lab, shared=True):
            data = array.load(lab)
            lun = replication.sr_lun(data, site_name, local, sr_ref)
            path = array.lv_path(lab, lun, site_name, row["uuid"]) if lun else None
            if path is None or not os.path.exists(path):
                raise XapiError("COULD_NOT_IMPORT_DATABASE",
                                [_ocaml_server_error("VDI_MISSING", [sr_ref, vdi_ref])])
            try:
                return redolog.read_path(path)
            except redolog.RedoLogError as e:
                raise XapiError("COULD_NOT_IMPORT_DATABASE", ["Redo_log.RedoLogFailure(%s)" % e])


def open_database(lab, site_name, local, vdi_ref, info=None):
    """The foreign database in a metadata VDI, as a read-only Db (VDI.open_database)."""
    generation, xml = read_metadata_vdi(lab, site_name, local, vdi_ref, info)
    return database_of(local, generation, xml)


def database_of(local, generation, xml):
    """The read-only Db of a copy's bytes (as read by read_metadata_vdi)."""
    try:
        db, schema_minor = dbxml.from_xml(xml, label="foreign")
    except dbxml.DumpError as e:
        raise XapiError("COULD_NOT_IMPORT_DATABASE", [str(e)])
    if schema_minor > local.extra.get("schema_minor", replication.DEFAULT_SCHEMA_MINOR):
        raise XapiError("COULD_NOT_IMPORT_DATABASE", ["Database does not match local schema."])
    db.generation = generation
    blank_non_persistent(db)
    return db


def blank_non_persistent(db):
    """Db_backend.blow_away_non_persistent_fields: operations in flight are not kept."""
    for cls in ("VM", "SR", "VDI", "VBD", "VIF", "VM_appliance"):
        for row in db.rows(cls).values():
            if row.get("current_operations"):
                row["current_operations"] = {}


def header(lab, site_name, local, vdi_ref, info=None):
    """(generation, pool uuid) of a metadata VDI, for the foreign-VDI cache."""
    generation, xml = read_metadata_vdi(lab, site_name, local, vdi_ref, info)
    db, _ = dbxml.from_xml(xml)
    pool_uuid = db.pool().get("uuid", "") if db.rows("pool") else ""
    return generation, pool_uuid


def load_dump(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (IOError, OSError) as e:
        raise XapiError("INTERNAL_ERROR", ['Unix.Unix_error(Unix.%s, "open", "%s")'
                                           % (_errno_name(e), path)])
    try:
        db, _ = dbxml.from_xml(data, label="file")
    except dbxml.DumpError as e:
        raise XapiError("INTERNAL_ERROR", [str(e)])
    return db


def _errno_name(e):
    import errno
    return errno.errorcode.get(e.errno, "EUNKNOWNERR")


def with_specified_database(ctx, body):
    """Run ``body(db, view)`` on the local database or the one named by ``database:``."""
    params = ctx.map_params("database")
    vdi_uuid = _first(params, "vdi-uuid")
    filename = _first(params, "filename")
    if vdi_uuid is not None and filename is not None:
        raise Failure("xapi can query a DB vdi or a DB file, but not both.")
    local = ctx.site.read()
    if vdi_uuid is not None:
        vdi = local.by_uuid("VDI", vdi_uuid)
        db = open_database(ctx.lab, ctx.site.name, local, vdi, ctx.info)
    elif filename is not None:
        db = load_dump(filename)
    else:
        db = local
    return body(db, View(db, local))


def with_database_vdi(ctx, body):
    """The recover/assert commands: ``database:vdi-uuid`` is required."""
    vdi_uuid = _first(ctx.map_params("database"), "vdi-uuid")
    if vdi_uuid is None:
        raise Failure("A parameter of the form 'database:vdi-uuid=<uuid>' must be specified to "
                      "run this command.")
    local = ctx.site.read()
    vdi = local.by_uuid("VDI", vdi_uuid)
    db = open_database(ctx.lab, ctx.site.name, local, vdi, ctx.info)
    return body(db)
