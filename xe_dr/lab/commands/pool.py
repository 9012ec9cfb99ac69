"""help, pool-*, secret-*, host-call-plugin."""

from . import COMMANDS, command
from .. import dbxml, replication, util
from ..errors import CliError, Failure, XapiError

VM_SELECTORS_INFO = (
    " VMs can be specified by filtering the full list of VMs on the values of zero or more "
    "fields. For example, specifying 'uuid=<some_uuid>' will select only the VM with that uuid, "
    "and 'power-state=halted' will select only VMs whose 'power-state' field is equal to "
    "'halted'. The special pseudo-field 'vm' matches either of name-label or uuid. Where "
    "multiple VMs are matching, the option '--multiple' must be specified to perform the "
    "operation. The full list of fields that can be matched can be obtained by the command 'xe "
    "vm-list params=all'. If no parameters to select VMs are given, the operation will be "
    "performed on all VMs.")

HOST_SELECTORS_INFO = (
    " Hosts can be specified by filtering the full list of hosts on the values of zero or more "
    "fields. For example, specifying 'uuid=<some_uuid>' will select only the host with that "
    "uuid, and 'enabled=true' will select only hosts whose 'enabled' field is equal to 'true'. "
    "The special pseudo-field 'host' matches any of hostname, name-label or uuid. Where "
    "multiple hosts are matching, and the operation can be performed on multiple hosts, the "
    "option '--multiple' must be specified to perform the operation. The full list of fields "
    "that can be matched can be obtained by the command 'xe host-list params=all'. If no "
    "parameters to select hosts are given, the operation will be performed on all hosts.")

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
            optional = spec.optn + (["<vm-selectors>"] if spec.vm_selectors else []) + (
                ["<host-selectors>"] if spec.host_selectors else [])
            desc = spec.help + (VM_SELECTORS_INFO if spec.vm_selectors else "") + (
                HOST_SELECTORS_INFO if spec.host_selectors else "")
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


# SM drivers with VDI_GENERATE_CONFIG or VDI_ATTACH_OFFLINE (sm CAPABILITIES), which
# Xha_statefile.check_sr_can_host_statefile asks for.
HA_SR_TYPES = ("lvmoiscsi", "lvhdoiscsi", "lvmohba", "lvhdohba", "nfs", "ext", "file", "smb")
LVM_TYPES = ("lvmoiscsi", "lvhdoiscsi", "lvmohba", "lvhdohba", "lvm")
STATEFILE_SIZE = 4096 + 64 * 4096        # xha_statefile.ml minimum_statefile_size
MIB4 = 4 * 1024 * 1024


def _round4(n):
    return (n + MIB4 - 1) // MIB4 * MIB4


def _fitting(db, sr, vdi_type, size):
    for vdi in db.children("VDI", "SR", sr):
        row = db.rows("VDI")[vdi]
        if row.get("type") == vdi_type and int(row.get("virtual_size", 0)) >= size:
            return vdi
    return None


def check_sr_can_host_statefile(db, sr):
    """Xha_statefile.check_sr_can_host_statefile: the statefile VDI to reuse, or None."""
    pbds = db.children("PBD", "SR", sr)
    if set(db.rows("PBD")[p]["host"] for p in pbds) < set(db.rows("host")):
        raise XapiError("SR_HAS_NO_PBDS", [sr])
    if any(not db.rows("PBD")[p].get("currently_attached") for p in pbds):
        raise XapiError("SR_HAS_NO_PBDS", [sr])
    if db.get("SR", sr).get("type") not in HA_SR_TYPES:
        raise XapiError("SR_OPERATION_NOT_SUPPORTED", [sr])
    found = _fitting(db, sr, "ha_statefile", STATEFILE_SIZE)
    if found is None:
        row = db.get("SR", sr)
        free = int(row.get("physical_size", 0)) - int(row.get("physical_utilisation", 0))
        if free < _round4(STATEFILE_SIZE) + _round4(replication.METADATA_VDI_SIZE):
            raise XapiError("SR_SOURCE_SPACE_INSUFFICIENT", [sr])
    return found


def _create_vdi(db, sr, name_label, name_description, vdi_type, size):
    """VDI.create of a raw, sharable VDI as sm makes it (LVHD rounds a raw LV to 4 MiB)."""
    sr_type = db.get("SR", sr).get("type")
    lvm = sr_type in LVM_TYPES
    if lvm:
        size = _round4(max(size, 2 * 1024 * 1024))
    uuid = util.new_uuid()
    sm_config = {"type": "raw"}
    if lvm:
        sm_config["vdi_type"] = "raw"
    vdi = db.create("VDI", {
        "uuid": uuid, "name_label": name_label, "name_description": name_description,
        "SR": sr, "type": vdi_type, "sharable": True, "read_only": False, "managed": True,
        "virtual_size": size, "physical_utilisation": size, "location": uuid,
        "metadata_latest": False, "metadata_of_pool": util.NULL_REF,
        "snapshot_of": util.NULL_REF, "is_a_snapshot": False, "other_config": {},
        "sm_config": sm_config, "xenstore_data": {}, "tags": [], "on_boot": "persist",
        "allow_caching": False})
    row = db.get("SR", sr)
    db.update("SR", sr, physical_utilisation=int(row.get("physical_utilisation", 0)) + size,
              virtual_allocation=int(row.get("virtual_allocation", 0)) + size)
    return vdi


@command("pool-ha-enable", optn=["heartbeat-sr-uuids", "ha-config:"],
         help="Enable HA on this Pool.")
def pool_ha_enable(ctx):
    """Xapi_ha.enable: the statefile ("Statefile for HA") and the HA metadata VDI ("Metadata
    for HA") found or created on the first heartbeat SR (or the first SR that can host them),
    Pool.ha_statefiles, ha_configuration, ha_plan_exists_for, ha_enabled."""
    with ctx.site.transaction() as db:
        srs = [db.by_uuid("SR", u) for u in (ctx.get("heartbeat-sr-uuids") or "").split(",")
               if ctx.has("heartbeat-sr-uuids")]
        if db.pool().get("ha_enabled"):
            raise XapiError("HA_IS_ENABLED")
        if (db.pool().get("restrictions") or {}).get("restrict_ha") == "true":
            raise XapiError("LICENCE_RESTRICTION", ["HA"])
        if not srs:
            for sr in db.rows("SR"):
                try:
                    check_sr_can_host_statefile(db, sr)
                    if _fitting(db, sr, "redo_log", replication.METADATA_VDI_SIZE) is None:
                        row = db.get("SR", sr)
                        if int(row.get("physical_size", 0)) - \
                                int(row.get("physical_utilisation", 0)) < \
                                _round4(STATEFILE_SIZE) + replication.METADATA_VDI_SIZE:
                            raise XapiError("SR_SOURCE_SPACE_INSUFFICIENT", [sr])
                except XapiError:
                    continue
                srs.append(sr)
            if not srs:
                raise XapiError("CANNOT_CREATE_STATE_FILE")
        sr = srs[0]          # "the xHA component only handles one"
        statefile = check_sr_can_host_statefile(db, sr)
        if statefile is None:
            statefile = _create_vdi(db, sr, "Statefile for HA", "Used for storage heartbeating",
                                    "ha_statefile", STATEFILE_SIZE)
        if _fitting(db, sr, "redo_log", replication.METADATA_VDI_SIZE) is None:
            _create_vdi(db, sr, "Metadata for HA", "Used for master failover", "redo_log",
                        replication.METADATA_VDI_SIZE)
        db.update("pool", db.pool_ref(), ha_enabled=True, ha_statefiles=[statefile],
                  ha_configuration=dict(ctx.map_params("ha-config")), ha_plan_exists_for=0)


@command("pool-ha-disable", help="Disable HA on this Pool.")
def pool_ha_disable(ctx):
    """Xapi_ha.disable: HA_NOT_ENABLED, else ha_enabled and ha_plan_exists_for go; the
    statefile and metadata VDIs are only detached (kept, and reused by the next enable), and
    Pool.ha_statefiles and ha_configuration keep their values."""
    with ctx.site.transaction() as db:
        if not db.pool().get("ha_enabled"):
            raise XapiError("HA_NOT_ENABLED")
        db.update("pool", db.pool_ref(), ha_enabled=False, ha_plan_exists_for=0)


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


def select_hosts(ctx, db, ignore=()):
    """The hosts a host-selector command applies to (cli_operations.ml select_hosts): the
    pseudo-field ``host`` matches uuid, hostname or name-label; every other parameter but the
    standard ones filters on the host record's fields."""
    from ..render import View
    from ..schema import CLASSES
    from . import STDPARAMS
    from .generic import filter_records
    params = list(ctx.params)
    records = list(db.rows("host").items())
    wanted = [v for k, v in params if k == "host"]
    if wanted:
        v = wanted[-1]
        records = [(r, row) for r, row in records if v in (
            row.get("uuid"), row.get("hostname"), row.get("name_label"))]
    view = View(db, db)
    for k, v in params:
        if k == "host" or k.split(":", 1)[0] in list(STDPARAMS) + list(ignore):
            continue
        records = filter_records(view, CLASSES["host"], records, k, v)
    return records


@command("host-compute-free-memory", help="Computes the amount of free memory on the host.",
         host_selectors=True)
def host_compute_free_memory(ctx):
    """Host.compute_free_memory on one host (cli_operations.ml host_compute_free_memory,
    ``do_host_op ~multiple:false``; xapi_host.ml compute_free_memory: memory.py)."""
    from .. import memory
    db = ctx.site.read()
    hosts = select_hosts(ctx, db)
    if not hosts:
        raise Failure("No matching hosts found")
    if len(hosts) > 1:
        raise Failure("Multiple matching hosts found. Operation can only be performed on one "
                      "host at a time")
    ctx.printer.plist([str(memory.host_free(db, hosts[0][0]))])
