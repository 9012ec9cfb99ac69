"""help, pool-*, secret-*, host-call-plugin."""

from . import COMMANDS, command
from .. import dbxml, replication, util
from ..errors import CliError, XapiError

VM_SELECTORS_INFO = (
    " VMs can be specified by filtering the full list of VMs on the values of zero or more "
    "fields. For example, specifying 'uuid=<some_uuid>' will select only the VM with that uuid, "
    "and 'power-state=halted' will select only VMs whose 'power-state' field is equal to "
    "'halted'. The special pseudo-field 'vm' matches either of name-label or uuid. Where "
    "multiple VMs are matching, the option '--multiple' must be specified to perform the "
    "operation. The full list of fields that can be matched can be obtained by the command 'xe "
    "vm-list params=all'. If no parameters to select VMs are given, the operation will be "
    "performed on all VMs.")

HELP_HEAD = """Usage:
  xe <command>
    [ -s <server> ]            XenServer host
    [ -p <port> ]              XenServer port number
    [ -u <username> -pw <password> | -pwf <password file> ]
                               User authentication (password or file)
    [ --nossl ]                Disable SSL/TLS
    [ --debug ]                Enable debug output
    [ --debug-on-fail ]        Enable debug output only on failure
    [ --traceparent <value> ]  Distributed tracing context
    [ <other arguments> ... ]  Command-specific options

To get help on a specific command:
  xe help <command>

"""


def make_list(names):
    indent = "    "
    lines = []
    cur = indent + names[0]
    for name in names[1:]:
        if len(cur) + len(name) > 74:
            lines.append(cur)
            cur = indent + name
        else:
            cur = cur + ", " + name
    lines.append(cur)
    return lines


def do_help(printer, params):
    wanted = [k for k, _ in params
              if k not in ("server", "username", "password", "port", "minimal", "all")]
    if wanted:
        for name in wanted:
            spec = COMMANDS.get(name)
            if spec is None:
                printer.plist(["Unknown command '%s'" % name])
                continue
            optional = spec.optn + (["<vm-selectors>"] if spec.vm_selectors else [])
            desc = spec.help + (VM_SELECTORS_INFO if spec.vm_selectors else "")
            printer.table([[("command name        ", name),
                            ("reqd params     ", ", ".join(spec.reqd)),
                            ("optional params ", ", ".join(optional)),
                            ("description     ", desc)]])
        return
    names = sorted(COMMANDS)
    if printer.minimal:
        printer.plist(names)
        return
    printer.plist([HELP_HEAD + "Full command list\n-----------------\n"])
    printer.plist(make_list(names))


@command("pool-dump-database", reqd=["file-name"],
         help="Download a dump of the pool database.")
def pool_dump_database(ctx):
    db = ctx.site.read()
    xml = dbxml.to_xml(db, db.extra.get("schema_minor", replication.DEFAULT_SCHEMA_MINOR))
    path = ctx.get("file-name")
    try:
        util.atomic_write(path, xml)
    except (IOError, OSError) as e:
        raise CliError("Failed to write file %s: %s" % (path, e.strerror))


@command("pool-sync-database",
         help="Synchronise the current database across all hosts in the pool.")
def pool_sync_database(ctx):
    ctx.site.read()


@command("pool-enable-redo-log", reqd=["sr-uuid"],
         help="Enable the redo log on the given SR and start using it, unless HA is enabled.")
def pool_enable_redo_log(ctx):
    with ctx.site.transaction() as db:
        sr = db.by_uuid("SR", ctx.get("sr-uuid"))
        pool = db.pool_ref()
        vdi = db.pool().get("redo_log_vdi", util.NULL_REF)
        if util.is_null(vdi) or db.find("VDI", vdi) is None or db.rows("VDI")[vdi]["SR"] != sr:
            if db.get("SR", sr).get("type") in ("iso", "udev"):
                raise XapiError("CANNOT_ENABLE_REDO_LOG",
                                ["failed to create a VDI for the redo log on the SR with the "
                                 "given UUID."])
            vdi_uuid = util.new_uuid()
            vdi = db.create("VDI", {
                "uuid": vdi_uuid, "name_label": "Metadata redo-log",
                "name_description": "Used when HA is disabled, while extra security is still "
                                    "desired",
                "SR": sr, "type": "redo_log", "sharable": True, "read_only": False,
                "virtual_size": replication.METADATA_VDI_SIZE, "location": vdi_uuid,
                "managed": True, "snapshot_of": util.NULL_REF, "metadata_of_pool": util.NULL_REF,
                "other_config": {}, "sm_config": {"type": "raw"}, "xenstore_data": {},
                "tags": []})
        db.update("pool", pool, redo_log_enabled=True, redo_log_vdi=vdi)


@command("pool-disable-redo-log", help="Disable the redo log if in use, unless HA is enabled.")
def pool_disable_redo_log(ctx):
    with ctx.site.transaction() as db:
        db.update("pool", db.pool_ref(), redo_log_enabled=False)


@command("pool-ha-enable", optn=["heartbeat-sr-uuids", "ha-config:"],
         help="Enable HA on this Pool.")
def pool_ha_enable(ctx):
    with ctx.site.transaction() as db:
        [db.by_uuid("SR", u) for u in (ctx.get("heartbeat-sr-uuids") or "").split(",") if u]
        if db.pool().get("ha_enabled"):
            raise XapiError("HA_IS_ENABLED")
        db.update("pool", db.pool_ref(), ha_enabled=True,
                  ha_configuration=dict(ctx.map_params("ha-config")),
                  ha_statefiles=[], ha_plan_exists_for=0)


@command("pool-ha-disable", help="Disable HA on this Pool.")
def pool_ha_disable(ctx):
    with ctx.site.transaction() as db:
        if not db.pool().get("ha_enabled"):
            raise XapiError("HA_NOT_ENABLED")
        db.update("pool", db.pool_ref(), ha_enabled=False, ha_configuration={},
                  ha_statefiles=[])


@command("secret-create", reqd=["value"], help="Create a secret")
def secret_create(ctx):
    with ctx.site.transaction() as db:
        ref = db.create("secret", {"value": ctx.get("value"),
                                   "other_config": dict(ctx.map_params("other-config"))})
        uuid = db.get("secret", ref)["uuid"]
    ctx.printer.plist([uuid])


@command("secret-destroy", reqd=["uuid"], help="Destroy a secret")
def secret_destroy(ctx):
    with ctx.site.transaction() as db:
        db.delete("secret", db.by_uuid("secret", ctx.get("uuid")))


@command("host-call-plugin", reqd=["host-uuid", "plugin", "fn"], optn=["args:"],
         help="Calls the function within the plugin on the given host with optional arguments. "
              "The syntax args:key:file=/path/file.ext passes the content of /path/file.ext "
              "under key to the plugin.")
def host_call_plugin(ctx):
    from .. import plugins
    db = ctx.site.read()
    host = db.by_uuid("host", ctx.get("host-uuid"))
    args = {}
    for k, v in ctx.map_params("args"):
        if k.endswith(":file"):
            try:
                with open(v, "rb") as f:
                    v = f.read().decode("utf-8")
            except (IOError, OSError):
                raise CliError("Failed to read file %s" % v)
            k = k[:-len(":file")]
        args[k] = v
    result = plugins.call_plugin(ctx.lab, ctx.site.name, db, host, ctx.get("plugin"),
                                 ctx.get("fn"), args)
    ctx.printer.plist([result])
