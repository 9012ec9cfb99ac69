"""Network.create as xapi runs it (xen-api ``ocaml/xapi/xapi_network.ml`` ``create``, the same
at v1.249.42, v24.19.2 and HEAD; read, not copied).

* An empty bridge: xapi chooses ``xapi<n>``, the first counter value no network uses
  (``choose_bridge_name``).
* A bridge given by the caller is refused with ``INVALID_VALUE ["bridge"; <bridge>]`` when it
  is longer than 15 characters or starts with ``xen``, ``xapi``, ``vif``, ``tap`` or ``eth``
  (``bridge_blacklist``) - unless the session is a pool-internal one (``Session.pool`` true,
  or a session xapi cannot find in its database); then ``BRIDGE_NAME_EXISTS [bridge]`` when a
  network already has it.
* An MTU of 0 or less becomes 1500.

``xe network-create`` (cli_operations.ml ``net_create``) and the metadata import of a DR
recovery (import.ml module Net, ``Network.create_from_record`` with the foreign record, bridge
included) both come here; which session they run in decides the bridge check.
"""

from .errors import XapiError

BRIDGE_BLACKLIST = ("xen", "xapi", "vif", "tap", "eth")
MAX_BRIDGE = 15


def bridge_refused(bridge):
    """Whether a user (non-pool) session may not name this bridge."""
    return len(bridge) > MAX_BRIDGE or any(bridge.startswith(p) for p in BRIDGE_BLACKLIST)


def choose_bridge(db):
    n = db.extra.get("bridge_counter", 1)
    used = set(r.get("bridge") for r in db.rows("network").values())
    while "xapi%d" % n in used:
        n += 1
    db.extra["bridge_counter"] = n + 1
    return "xapi%d" % n


def create(db, name_label, name_description="", mtu=1500, other_config=None, bridge="",
           managed=True, tags=(), pool_session=False):
    """Create a network row as Xapi_network.create does; returns its ref."""
    if not bridge:
        bridge = choose_bridge(db)
    else:
        if not pool_session and bridge_refused(bridge):
            raise XapiError("INVALID_VALUE", ["bridge", bridge])
        if any(r.get("bridge") == bridge for r in db.rows("network").values()):
            raise XapiError("BRIDGE_NAME_EXISTS", [bridge])
    mtu = int(mtu)
    return db.create("network", {
        "name_label": name_label, "name_description": name_description,
        "MTU": mtu if mtu > 0 else 1500, "bridge": bridge, "managed": bool(managed),
        "other_config": dict(other_config or {}), "tags": list(tags), "purpose": []})
