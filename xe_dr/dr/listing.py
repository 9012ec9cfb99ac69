"""``inventory``: the source pools found in the newest metadata copies, with their vApps and
standalone VMs, and how stale each other copy of the same pool is."""

from xe_dr.dr.inventory import find_metadata_copies, read_sources
from xe_dr.dr.plugin import call_json, malformed, plugin_version
from xe_dr.pool import read_pool


def inventory(xe, use_plugin=True):
    pool = read_pool(xe)
    copies = find_metadata_copies(xe, pool.uuid)
    plugin = use_plugin and pool.master and plugin_version(xe, pool.master) is not None
    foreign = [c for c in copies if not c.local]
    sources = read_sources(xe, copies, pool.master, plugin)
    if plugin:
        _generations(xe, pool.master, foreign)
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
            "own_copies": [c.to_json() for c in copies if c.local]}


def _generations(xe, master, copies):
    """Generation counts of every foreign copy, from the plugin's metadata_state."""
    state = call_json(xe, master, "metadata_state", required=("vdis",))
    try:
        by_vdi = dict((d["vdi"], d.get("generation")) for d in state["vdis"])
    except (KeyError, TypeError, AttributeError) as failure:
        raise malformed("metadata_state", failure)
    for copy in copies:
        if copy.generation is None:
            copy.generation = by_vdi.get(copy.vdi_uuid)
