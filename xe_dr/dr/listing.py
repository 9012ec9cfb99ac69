"""``inventory``: the source pools found in the newest metadata copies, with their vApps and
standalone VMs, and how stale each other copy of the same pool is."""

from xe_dr.dr.inventory import find_metadata_copies, read_sources
from xe_dr.dr.plugin import ask_version, call_json, fallback_line, malformed, master_label
from xe_dr.pool import read_pool
from xe_dr.xe.records import parse_ref


def inventory(xe, use_plugin=True, note=lambda text: None):
    """``note(text)``: told when the master's plugin is installed but does not answer (the
    inventory is then read with plain xe)."""
    pool = read_pool(xe)
    copies = find_metadata_copies(xe, pool.uuid)
    plugin = False
    if use_plugin and pool.master:
        version, failure = ask_version(xe, pool.master)
        plugin = version is not None
        if failure is not None:
            note(fallback_line(master_label(xe, pool.master), failure, "read"))
    foreign = [c for c in copies if not c.local]
    sources = read_sources(xe, copies, pool.master, plugin)
    if plugin:
        fill_generations(xe, pool.master, foreign)
    result = []
    for source in sources:
        others = [c for c in foreign if c.pool_uuid == source.uuid and c is not source.copy]
        doc = source.to_json()
        doc["other_copies"] = [{
            "vdi": c.vdi_uuid, "sr": c.sr_uuid, "generation": c.generation,
            "behind": (source.copy.generation - c.generation
                       if source.copy.generation is not None and c.generation is not None
                       else None)} for c in others]
        doc["order_groups"] = sorted({vm.order for vm in source.vms})
        result.append(doc)
    return {"pool": pool.to_json(), "plugin": bool(plugin), "sources": result,
            "own_copies": [c.to_json() for c in copies if c.local],
            "unread_srs": unread_srs(xe, pool.master, copies)}


# The SR types that can hold DR metadata (sm's SR_METADATA capability).
METADATA_TYPES = ("lvmoiscsi", "lvmohba", "lvhdoiscsi", "lvhdohba")


def unread_srs(xe, master, copies):
    """SRs attached on the master whose metadata xapi has not read: from xapi 23.22 plugging
    an SR does not scan it (message_forwarding.ml, PBD.plug), so an SR a DR task attached has
    no VDI records, and after a scan alone its copies' pool is not known."""
    srs = [r for r in xe.list("sr", params=("uuid", "name-label", "type", "introduced-by"))
           if r.get("type") in METADATA_TYPES]
    if not srs:
        return []
    attached = {p["sr-uuid"] for p in xe.list("pbd", params=("sr-uuid",), filters={
        "host-uuid": master, "currently-attached": "true"})}
    with_vdis = {r["sr-uuid"] for r in xe.list("vdi", params=("sr-uuid",))}
    unread_copy = {c.sr_uuid for c in copies if not c.local and c.pool_uuid is None}
    out = []
    for sr in srs:
        if sr["uuid"] not in attached:
            continue
        if sr["uuid"] not in with_vdis and parse_ref(sr.get("introduced-by", "")):
            # (an SR of this pool may well be empty; one a DR task brought in is not)
            out.append({"uuid": sr["uuid"], "name_label": sr.get("name-label", ""),
                        "why": "no VDI records: not scanned since it was attached"})
        elif sr["uuid"] in unread_copy:
            out.append({"uuid": sr["uuid"], "name_label": sr.get("name-label", ""),
                        "why": "a metadata copy xapi has not read"})
    return out


def fill_generations(xe, master, copies):
    """Generation counts of every foreign copy, from the plugin's metadata_state."""
    state = call_json(xe, master, "metadata_state", required=("vdis",))
    try:
        by_vdi = dict((d["vdi"], d.get("generation")) for d in state["vdis"])
    except (KeyError, TypeError, AttributeError) as failure:
        raise malformed("metadata_state", failure)
    for copy in copies:
        if copy.generation is None:
            copy.generation = by_vdi.get(copy.vdi_uuid)
