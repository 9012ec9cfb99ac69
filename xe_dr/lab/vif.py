"""VIF.configure_ipv4 / VIF.configure_ipv6: a VIF's IP setting, passed to the guest's tools.

Facts (xapi-project/xen-api; the same at v1.249.42, v24.19.2 and e2ee48d688 unless said):

* ``xapi_vif.ml`` ``configure_ipv4`` (``configure_ipv6`` alike), in this order: for mode
  Static only, the pool's licence (``Pool_features.assert_enabled Features.Guest_ip_setting``:
  LICENCE_RESTRICTION ``[Guest_ip_setting]``; ``features.ml``: restriction key
  ``restrict_guest_ip_setting``, and a pool whose ``restrictions`` lack it is restricted),
  the address (``Helpers.assert_is_valid_cidr``: INVALID_CIDR_ADDRESS_SPECIFIED
  ``[address]``), the VIF's locking (``assert_no_locking_mode_conflict``: when the effective
  locking mode is ``locked``, the address must be in ``ipv4_allowed``:
  ADDRESS_VIOLATES_LOCKING_CONSTRAINT ``[address]``), the gateway if given
  (``Helpers.assert_is_valid_ip``: INVALID_IP_ADDRESS_SPECIFIED ``[gateway]``); then, every
  mode, ``assert_has_feature_static_ip_setting``: the VM's guest metrics ``other`` must map
  ``feature-static-ip-setting`` to ``1``, else VM_LACKS_FEATURE ``[vm]`` (no metrics record
  at all is the same). No power-state check: a halted VM is judged by the metrics it keeps
  (a recovered copy: production's, ``import.ml`` GuestMetrics, until VM.start clears them).
* It sets ``ipv4_configuration_mode``, ``ipv4_addresses`` (``[address]``: ``[""]`` when no
  address is given) and ``ipv4_gateway``, and only when the VIF is plugged
  (``device_active``: currently attached, VM not suspended) asks xenopsd
  (``Xapi_xenops.vif_set_ipv4_configuration``) to rewrite the VIF's
  ``xenserver/device/vif/<n>/static-ip-setting/`` keys in the guest's xenstore
  (``xenops_server_xen.ml`` ``set_ipv4_configuration``); a halted VM's setting is written
  at its next start (``xenstore_of_static_ip_setting``: mac, error-code, error-msg,
  ``enabled`` 0 None / 1 Static / 2 DHCP, address, gateway; ``enabled6``, address6,
  gateway6). No DNS key exists.
* The modes: None and Static up to v26.15; from v26.16.0 (commit d045710cbe) IPv4 also DHCP
  and IPv6 Autoconf (releases.py ``vif_modes_extended``).
"""

import ipaddress

from . import guests, util
from .errors import XapiError

RESTRICTION = "restrict_guest_ip_setting"


def _ip(six, text):
    try:
        address = ipaddress.ip_address(u"%s" % text)
    except ValueError:
        return None
    return address if address.version == (6 if six else 4) else None


def parse_cidr(six, text):
    """Helpers.parse_cidr: ``<address>/<prefix length>`` with a prefix of 0 to 32 (128 for
    IPv6); returns the address part, or None when ``text`` is no such CIDR."""
    address, slash, prefix = text.partition("/")
    if not slash or _ip(six, address) is None:
        return None
    try:
        length = int(prefix)
    except ValueError:
        return None
    return address if 0 <= length <= (128 if six else 32) else None


def licensed(db):
    """features.ml ``of_assoc_list``: a restriction is lifted only by its key set to
    ``false`` (OCaml's bool_of_string); missing or anything else keeps it."""
    return (db.pool().get("restrictions") or {}).get(RESTRICTION) == "false"


def _locked(db, vif):
    """xapi_vif.ml ``get_effective_locking_mode``: network_default is the network's mode."""
    mode = vif.get("locking_mode") or "network_default"
    if mode == "network_default":
        net = db.find("network", vif.get("network", util.NULL_REF)) or {}
        mode = net.get("default_locking_mode") or "unlocked"
    return mode == "locked"


def configure(db, vif_ref, six, mode, address, gateway, now):
    """VIF.configure_ipv4 (``six`` False) or configure_ipv6: ``mode`` None, Static, DHCP
    (IPv4) or Autoconf (IPv6)."""
    vif = db.get("VIF", vif_ref)
    if mode == "Static":
        if not licensed(db):
            raise XapiError("LICENCE_RESTRICTION", ["Guest_ip_setting"])
        parsed = parse_cidr(six, address)
        if parsed is None:
            raise XapiError("INVALID_CIDR_ADDRESS_SPECIFIED", ["address"])
        allowed = vif.get("ipv6_allowed" if six else "ipv4_allowed") or []
        if _locked(db, vif) and parsed not in allowed:
            raise XapiError("ADDRESS_VIOLATES_LOCKING_CONSTRAINT", [address])
        if gateway and _ip(six, gateway) is None:
            raise XapiError("INVALID_IP_ADDRESS_SPECIFIED", ["gateway"])
    vm = vif.get("VM")
    vm_row = db.get("VM", vm)
    metrics = db.find("VM_guest_metrics", vm_row.get("guest_metrics", util.NULL_REF))
    if metrics is None or (metrics.get("other") or {}).get(guests.STATIC_IP_FEATURE) != "1":
        raise XapiError("VM_LACKS_FEATURE", [vm])
    key = "ipv6_" if six else "ipv4_"
    db.update("VIF", vif_ref, **{key + "configuration_mode": mode, key + "addresses": [address],
                                 key + "gateway": gateway})
    if vif.get("currently_attached") and vm_row.get("power_state") != "Suspended":
        guests.vif_reconfigured(db, vif_ref, now)
