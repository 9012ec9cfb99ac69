"""What runs inside a started VM, as xapi sees it: guest metrics and the VM's xenstore vm-data.

Facts (xapi-project/xen-api at e2ee48d688, the same at v24.19.2; read, not copied):

* ``VM.start`` clears the VM's guest metrics before the domain is built (``xapi_vm.ml``
  ``start``: "Clear out any VM guest metrics record ... they might be wrong",
  ``Xapi_vm_helpers.delete_guest_metrics``), so metrics a copy carries from production (the
  DR import keeps them: ``import.ml`` module ``GuestMetrics``, ``export.ml`` adds
  ``vM_guest_metrics``) never outlive a start.
* Once xenopsd reports the domain, xapi makes a record if the VM has none (``xapi_xenops.ml``
  ``update_vm``, ``create_guest_metrics_if_needed`` ->
  ``Xapi_guest_agent.create_and_set_guest_metrics``): ``live`` true, ``last_updated`` now,
  ``PV_drivers_detected`` as xenopsd has it (false until a PV frontend connects), maps from
  what the guest agent wrote (nothing yet). A guest without PV tools keeps that record.
* xenopsd sets ``pv_drivers_detected`` when a device frontend reaches XenbusStateConnected
  (``xenops_server_xen.ml`` ``maybe_update_pv_drivers_detected``); xapi copies it to
  ``PV_drivers_detected`` and ``PV_drivers_up_to_date``. The agent's keys become
  ``PV_drivers_version`` (``attr/PVAddons/*``), ``os_version`` (``data/os_*``), ``networks``
  (``attr/vif/<n>/ipv4/<i>`` -> ``<n>/ip`` and ``<n>/ipv4/<i>``), ``other`` (``control/*``) and
  ``last_updated`` (``xapi_guest_agent.ml`` ``get_initial_guest_metrics``, ``all``).
* xenstore: the domain gets a guest-writable ``vm-data`` directory and the keys of
  ``VM.xenstore_data`` under ``vm-data/`` and ``FIST/`` (``domain.ml`` ``make``,
  ``allowed_xsdata_prefixes``, ``filtered_xsdata``); xenopsd reads those subtrees back
  (``xenops_server_xen.ml`` ``ls_lR``, directory nodes included with an empty value) and xapi
  sets ``VM.xenstore_data`` to exactly them whenever they change (``xapi_xenops.ml``
  ``xsdata_state``): other keys vanish at the start, a guest's writes show at once, and a
  ``vm-param-set xenstore-data:`` on a running VM changes the database, not the domain
  (Citrix CTX226713, "Behavior of VM.xenstore_data").

Re-addressing (vif.py has xapi's side): xenopsd writes each plugged VIF's IP setting under
``xenserver/device/vif/<n>/static-ip-setting/`` (``xenops_server_xen.ml``
``xenstore_of_static_ip_setting``); tools that advertise ``control/feature-static-ip-setting``
apply it (xenserver/win-xenguestagent ``FeatureStaticIpSetting.cs``; Linux's
xe-guest-utilities has no such feature); guests without may run a boot script that reads the
``vm-data/networks/<device>/...`` keys Ansible's ``community.general.xenserver_guest`` writes
(``type``, ``ip``, ``prefix``, ``netmask``, ``gateway`` and ``type6``, ``ip6``, ``prefix6``,
``gateway6``). Neither carries DNS. The agent reports addresses as ``attr/vif/<n>/ipv4/<i>``
and ``.../ipv6/<i>`` (``xapi_guest_agent.ml`` ``networks``).

Xen Orchestra's backup health check (vatesfr/xen-orchestra
``@xen-orchestra/backups/HealthCheckVmBackup.mjs``): for a VM tagged
``xo-backup-health-check-xenstore`` XO sets ``vm-data/xo-backup-health-check=planned`` before
the start, waits for ``PV_drivers_detected``, then for the key to be ``success`` or
``failure`` (the message in ``vm-data/xo-backup-health-check-error``). The lab's guests play the
guest's side (XO's documented script): a guest with a check reads the key at boot; only if it is
``planned`` does it write ``running``, then ``success`` or ``failure`` with its message, or
nothing more (``hang``).

The lab has no daemon: a guest's steps are due times in ``db.extra["guest_events"]`` (one per
VM, bound to its domid), applied when they are due by the next xe call (``advance``, before the
call runs) and at once when due at the start (boot time 0, the default at cost factor 0). A
small file ``state/<site>.guests`` holds the next due time, so calls read nothing else when no
guest is booting. Each applied step is a database write (the generation moves, the redo log is
written), as the guest agent's updates are in xapi.
"""

import collections
import os
import time

from . import costs, util

NULL = util.NULL_REF
HEALTH_KEY = "vm-data/xo-backup-health-check"
HEALTH_ERROR_KEY = "vm-data/xo-backup-health-check-error"
HEALTH_CHECKS = ("success", "failure", "hang")
DEFAULT_ERROR = "the in-guest health check failed (xe-dr lab)"
XSDATA_PREFIXES = ("vm-data", "FIST")
# ``static_ip_setting`` None: as the guest's OS has it (Windows tools advertise the feature,
# Linux ones do not). ``nics``: the guest's own addresses by VIF device ({"0": {"ipv4":
# "10.20.0.10/16", "gateway": "10.20.0.1"}}), ``dns`` its resolvers: what production set up
# inside the guest (world.py records them at ``create``).
DEFAULTS = {"tools": True, "health_check": None, "boot_seconds": None, "error": DEFAULT_ERROR,
            "static_ip_setting": None, "network_script": False, "nics": {}, "dns": []}
SETTINGS = ("tools", "health_check", "boot_seconds", "error", "static_ip_setting",
            "network_script", "nics", "dns")
STATIC_IP_FEATURE = "feature-static-ip-setting"
NETWORK_KEYS = "vm-data/networks"

# What the lab's guest agents report (plausible values; xapi's source gives the keys only).
LINUX = {"name": "Debian GNU/Linux 12 (bookworm)", "uname": "6.1.0-28-amd64",
         "distro": "debian", "major": "12", "minor": "8"}
ROCKY = {"name": "Rocky Linux 9.4 (Blue Onyx)", "uname": "5.14.0-427.13.1.el9_4.x86_64",
         "distro": "rocky", "major": "9", "minor": "4"}
WINDOWS = {"name": "Microsoft Windows Server 2022 Standard", "distro": "windows",
           "major": "10", "minor": "0", "spmajor": "0", "spminor": "0"}
LINUX_TOOLS = {"major": "8", "minor": "4", "micro": "0", "build": "1"}
WINDOWS_TOOLS = {"major": "9", "minor": "4", "micro": "0", "build": "146"}
CONTROL = {"feature-shutdown": "1", "feature-poweroff": "1", "feature-reboot": "1",
           "feature-suspend": "1", "feature-vcpu-hotplug": "1", "feature-balloon": "1"}


# --- behaviours (lab.json "guests": {"*": defaults, "<vm uuid>": one guest}) ----------------

def settings(lab, vm_uuid):
    """How the guest of ``vm_uuid`` behaves: the lab's defaults, then its own settings. Kept by
    VM uuid for the whole lab: a guest is what its disks hold, so it behaves the same after a
    recovery at the other site."""
    return merged(lab.config.get("guests") or {}, vm_uuid)


def merged(table, vm_uuid):
    """The settings of ``vm_uuid`` in a ``guests`` table (lab.json's, or create's own)."""
    out = dict(DEFAULTS)
    out.update(table.get("*") or {})
    out.update(table.get(vm_uuid) or {})
    return out


def check_settings(changes):
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise ValueError("no guest setting %s (settings: %s)"
                         % (", ".join(sorted(unknown)), ", ".join(SETTINGS)))
    if changes.get("health_check") not in (None,) + HEALTH_CHECKS + ("none",):
        raise ValueError("a guest's health check is %s or none, not %r"
                         % (", ".join(HEALTH_CHECKS), changes["health_check"]))
    seconds = changes.get("boot_seconds")
    if seconds is not None and float(seconds) < 0:
        raise ValueError("a boot time is 0 seconds or more, not %s" % seconds)
    for name in ("static_ip_setting", "network_script"):
        if changes.get(name) not in (None, True, False):
            raise ValueError("a guest's %s is true, false or unset, not %r"
                             % (name, changes[name]))


def configure(lab, vm_uuid, **changes):
    """Set guest settings for one VM uuid, or the lab's defaults (``vm_uuid`` ``"*"``).
    ``health_check="none"``: no in-guest check."""
    check_settings(changes)
    changes = dict(changes)
    if changes.get("health_check") == "none":
        changes["health_check"] = None

    def mutate(config):
        table = config.setdefault("guests", {})
        table.setdefault(vm_uuid, {}).update(changes)
    lab.update_config(mutate)


def boot_delay(lab, guest):
    """Seconds from the start to the guest agent's first report: the guest's own boot time
    (real seconds, like a fault's delay, so it can be tested at cost factor 0), else the cost
    model's ``guest_boot`` times the cost factor."""
    if guest.get("boot_seconds") is not None:
        return float(guest["boot_seconds"])
    return costs.seconds(lab, "guest_boot")


# --- xenstore ----------------------------------------------------------------------------------

def domain_tree(xenstore_data):
    """The domain's vm-data (and FIST) nodes at its creation: the ``vm-data`` directory, and
    the VM's xenstore-data keys below those prefixes, with their intermediate nodes."""
    tree = {"vm-data": ""}
    for key, value in (xenstore_data or {}).items():
        if any(key.startswith(prefix + "/") for prefix in XSDATA_PREFIXES):
            parts = key.split("/")
            for i in range(1, len(parts)):
                tree.setdefault("/".join(parts[:i]), "")
            tree[key] = value
    return tree


def exported(tree):
    """What xapi puts in VM.xenstore_data: xenopsd's ``ls_lR`` of vm-data then FIST, each node
    prepended to the list as it is visited (so the deepest last-visited node comes first and
    ``vm-data`` last). Children are visited in name order (a choice: xenstored's order)."""
    visited = []

    def visit(path):
        visited.append((path, tree[path]))
        prefix = path + "/"
        for child in sorted(k for k in tree if k.startswith(prefix) and
                            "/" not in k[len(prefix):]):
            visit(child)
    for root in XSDATA_PREFIXES:
        if root in tree:
            visit(root)
    return collections.OrderedDict(reversed(visited))


def _guest_write(db, vm_ref, key, value):
    """The guest writes one xenstore key; xapi mirrors the subtree into VM.xenstore_data."""
    uuid = db.get("VM", vm_ref)["uuid"]
    tree = db.extra.setdefault("xenstore", {}).setdefault(uuid, {"vm-data": ""})
    parts = key.split("/")
    for i in range(1, len(parts)):
        tree.setdefault("/".join(parts[:i]), "")
    tree[key] = value
    db.update("VM", vm_ref, xenstore_data=exported(tree))


# --- the guest's network ---------------------------------------------------------------------

def is_windows(row):
    return "Windows" in (row.get("other_config") or {}).get("base_template_name", "")


def honours_static_ip(guest, row):
    """Whether the guest's tools advertise and apply xapi's static IP setting. It takes a
    guest agent (PV tools); Windows' advertises it (win-xenguestagent
    ``FeatureStaticIpSetting``: ``control/feature-static-ip-setting=1``), Linux's
    xe-guest-utilities does not (xe-daemon's collectors write no such key; Xen Orchestra's
    ``xapi-object-to-xo.mjs``: "Linux VMs don't have the flag")."""
    if not guest.get("tools", True):
        return False
    chosen = guest.get("static_ip_setting")
    return is_windows(row) if chosen is None else bool(chosen)


def guest_config(guest, row):
    """What this boot's guest is, for its network: kept while its domain runs."""
    return {"tools": bool(guest.get("tools", True)), "static_ip": honours_static_ip(guest, row),
            "network_script": bool(guest.get("network_script")),
            "nics": dict(guest.get("nics") or {}), "dns": list(guest.get("dns") or [])}


def _prefix_of_netmask(mask):
    try:
        bits = "".join("{0:08b}".format(int(octet)) for octet in mask.split("."))
    except ValueError:
        return None
    return str(bits.count("1")) if len(bits) == 32 and "01" not in bits else None


def _from_vif(vif, six):
    """What the tools make of xenopsd's ``static-ip-setting`` keys for this VIF (written from
    the VIF's fields at its plug and by VIF.configure_ipv4/6 while it is plugged): Static sets
    the address and gateway; DHCP and Autoconf ask the network, where the lab runs no DHCP
    server nor router advertisements (no address); None leaves the NIC as the guest has it
    (``enabled=0``; XenServer's current Windows agent leaves it, the older
    win-xenguestagent turned DHCP back on)."""
    key = "ipv6_" if six else "ipv4_"
    mode = vif.get(key + "configuration_mode") or "None"
    if mode == "Static":
        addresses = vif.get(key + "addresses") or [""]
        return {"address": addresses[0] or None, "gateway": vif.get(key + "gateway") or "",
                "from": "vif"}
    if mode in ("DHCP", "Autoconf"):
        return {"address": None, "gateway": "", "from": mode.lower()}
    return None


def _from_keys(tree, device, six):
    """What a boot script makes of the keys Ansible's xenserver_guest writes
    (``vm-data/networks/<device>/{type,ip,prefix,netmask,gateway,type6,ip6,prefix6,gateway6}``,
    ``type`` none, dhcp or static); there is no DNS key."""
    base = "%s/%s/" % (NETWORK_KEYS, device)
    suffix = "6" if six else ""
    kind = tree.get(base + "type" + suffix)
    if kind == "static" and tree.get(base + "ip" + suffix):
        prefix = tree.get(base + "prefix" + suffix) or \
            ("" if six else _prefix_of_netmask(tree.get(base + "netmask", "")) or "")
        return {"address": tree[base + "ip" + suffix] + ("/" + prefix if prefix else ""),
                "gateway": tree.get(base + "gateway" + suffix, ""), "from": "xenstore"}
    if kind == "dhcp":
        return {"address": None, "gateway": "", "from": "dhcp"}
    return None


def configure_nics(db, vm_ref, config, tree):
    """Each NIC's addresses as the guest sets them up at boot, by VIF device: the VIF's static
    IP setting if its tools apply it, else the xenstore keys if its boot script reads them,
    else its own (production's) configuration. The lab's guest keeps nothing it applied on
    its disk: each boot starts from its own configuration."""
    out = collections.OrderedDict()
    vifs = db.rows("VIF")
    for vif in sorted(db.children("VIF", "VM", vm_ref),
                      key=lambda v: int(vifs[v].get("device", "0") or 0)):
        device = str(vifs[vif].get("device", "0"))
        own = (config.get("nics") or {}).get(device) or {}
        nic = {}
        for family, six in (("ipv4", False), ("ipv6", True)):
            setting = _from_vif(vifs[vif], six) if config.get("static_ip") else None
            if setting is None and config.get("network_script"):
                setting = _from_keys(tree, device, six)
            if setting is None:
                address = own.get(family)
                setting = {"address": address, "from": "own",
                           "gateway": own.get("gateway6" if six else "gateway", "")
                           if address else ""}
            nic[family] = setting
        out[device] = nic
    return out


def reported_networks(nics):
    """VM_guest_metrics.networks from what the agent writes (``attr/vif/<n>/ipv4/0``,
    ``.../ipv6/0``, addresses without prefix): xapi_guest_agent.ml ``networks`` lists the VIFs
    last first (``find_vifs``) and, within one, the IPv6 entries before the IPv4 ones, the
    first IPv4 address twice (``<n>/ip`` and ``<n>/ipv4/0``)."""
    networks = collections.OrderedDict()
    for device in sorted(nics, key=int, reverse=True):
        ipv4, ipv6 = nics[device]["ipv4"]["address"], nics[device]["ipv6"]["address"]
        if ipv6:
            networks["%s/ipv6/0" % device] = ipv6.split("/")[0]
        if ipv4:
            networks["%s/ip" % device] = ipv4.split("/")[0]
            networks["%s/ipv4/0" % device] = ipv4.split("/")[0]
    return networks


def inside(db, vm_uuid):
    """The running guest's own view of its network (what ``ip address``, ``ip route`` and
    ``/etc/resolv.conf`` would show): ``{"nics": {device: {"ipv4": {"address", "gateway",
    "from"}, "ipv6": ...}}, "dns": [...]}``, or None while it has not booted. ``from``: vif,
    xenstore, own, dhcp or autoconf. Nothing xapi passes sets DNS."""
    net = (db.extra.get("guest_net") or {}).get(vm_uuid)
    if not net or net.get("nics") is None:
        return None
    return {"nics": net["nics"], "dns": list(net["config"].get("dns") or [])}


def vif_reconfigured(db, vif_ref, now):
    """VIF.configure_ipv4/6 on a plugged VIF: xenopsd rewrites its ``static-ip-setting`` keys,
    and tools that watch them apply the change at once (win-xenguestagent ``onFeature`` on
    ``xenserver/device/vif``); the agent's next report carries the new addresses
    (xapi_guest_agent.ml ``all``: networks and last_updated set when they changed)."""
    vif = db.get("VIF", vif_ref)
    vm_ref = vif.get("VM")
    uuid = db.get("VM", vm_ref)["uuid"]
    net = (db.extra.get("guest_net") or {}).get(uuid)
    if not net or net.get("nics") is None or not net["config"].get("static_ip"):
        return
    device = str(vif.get("device", "0"))
    nic = net["nics"].get(device)
    if nic is None:
        return
    for family, six in (("ipv4", False), ("ipv6", True)):
        setting = _from_vif(vif, six)
        if setting is not None:
            nic[family] = setting
    db.dirty = True
    gm = db.get("VM", vm_ref).get("guest_metrics", NULL)
    networks = reported_networks(net["nics"])
    if db.find("VM_guest_metrics", gm) is not None and \
            dict(db.get("VM_guest_metrics", gm).get("networks") or {}) != dict(networks):
        db.update("VM_guest_metrics", gm, networks=networks, last_updated=util.xapi_date(now))


# --- guest metrics -----------------------------------------------------------------------------

def empty_metrics(when):
    """The record xapi makes as the domain appears (create_and_set_guest_metrics with nothing
    from the agent yet)."""
    return {"os_version": {}, "netbios_name": {}, "PV_drivers_version": {},
            "PV_drivers_up_to_date": False, "memory": {}, "disks": {}, "networks": {},
            "services": {}, "PV_drivers_detected": False, "other": {},
            "last_updated": util.xapi_date(when), "other_config": {}, "live": True,
            "can_use_hotplug_vbd": "unspecified", "can_use_hotplug_vif": "unspecified"}


def reported_metrics(db, vm_ref, when, net=None):
    """The record once the agent has reported (PV drivers detected). ``net``: the guest's
    network as it booted (``boot_network``): its NICs' addresses become ``networks``, and tools
    that apply xapi's static IP setting add ``feature-static-ip-setting`` to ``other``."""
    row = db.get("VM", vm_ref)
    windows = is_windows(row)
    template = (row.get("other_config") or {}).get("base_template_name", "")
    os_version = WINDOWS if windows else (ROCKY if "Rocky" in template else LINUX)
    other = dict(CONTROL)
    if net and net["config"].get("static_ip"):
        other[STATIC_IP_FEATURE] = "1"
    gm = empty_metrics(when)
    gm.update({"os_version": dict(os_version),
               "PV_drivers_version": dict(WINDOWS_TOOLS if windows else LINUX_TOOLS),
               "PV_drivers_up_to_date": True, "PV_drivers_detected": True,
               "networks": reported_networks(net["nics"] if net else {}), "other": other,
               "can_use_hotplug_vbd": "yes", "can_use_hotplug_vif": "yes"})
    return gm


def forget(db, vm_ref):
    """Destroy the VM's guest metrics record (Xapi_vm_helpers.delete_guest_metrics: the
    field set to null, the record destroyed)."""
    row = db.get("VM", vm_ref)
    gm = row.get("guest_metrics", NULL)
    if db.find("VM_guest_metrics", gm) is not None:
        db.delete("VM_guest_metrics", gm)
    if not util.is_null(gm):
        db.update("VM", vm_ref, guest_metrics=NULL)


def _set_metrics(db, vm_ref, record):
    gm = db.get("VM", vm_ref).get("guest_metrics", NULL)
    if db.find("VM_guest_metrics", gm) is not None:
        db.update("VM_guest_metrics", gm, **record)
    else:
        db.update("VM", vm_ref, guest_metrics=db.create("VM_guest_metrics", record))


# --- the guest's life --------------------------------------------------------------------------

def started(lab, site, db, vm_ref, now, paused=False):
    """The domain of ``vm_ref`` now runs (inside VM.start's last transaction): its xenstore,
    the empty metrics record, and the guest's boot scheduled (a paused domain does not run)."""
    row = db.get("VM", vm_ref)
    uuid = row["uuid"]
    tree = domain_tree(row.get("xenstore_data"))
    db.extra.setdefault("xenstore", {})[uuid] = tree
    db.update("VM", vm_ref, xenstore_data=exported(tree))
    _set_metrics(db, vm_ref, empty_metrics(now))
    events = db.extra.setdefault("guest_events", {})
    events.pop(uuid, None)
    guest = settings(lab, uuid)
    db.extra.setdefault("guest_net", {})[uuid] = {"config": guest_config(guest, row),
                                                  "nics": None}
    if not paused:
        events[uuid] = {"domid": row.get("domid"), "at": now + boot_delay(lab, guest),
                        "step": "boot", "tools": bool(guest.get("tools", True)),
                        "health_check": guest.get("health_check"),
                        "error": guest.get("error") or DEFAULT_ERROR,
                        "check_seconds": costs.seconds(lab, "guest_health_check")}
    apply_due(db, now)
    write_due(site, db)


def halted(db, vm_uuid):
    """The domain is gone: the guest's pending steps and its xenstore go with it (the VM keeps
    its guest metrics and last xenstore-data, as in xapi)."""
    (db.extra.get("guest_events") or {}).pop(vm_uuid, None)
    (db.extra.get("xenstore") or {}).pop(vm_uuid, None)
    (db.extra.get("guest_net") or {}).pop(vm_uuid, None)


def _step(db, vm_ref, event):
    """Carry out one due step; returns the next one or None."""
    at = event["at"]
    if event["step"] == "boot":
        uuid = db.get("VM", vm_ref)["uuid"]
        tree = (db.extra.get("xenstore") or {}).get(uuid) or {}
        net = (db.extra.get("guest_net") or {}).get(uuid)
        if net is not None:  # its NICs are set up whether or not an agent reports them
            net["nics"] = configure_nics(db, vm_ref, net["config"], tree)
        if not event["tools"]:
            return None  # no agent: the record stays as made at the start
        _set_metrics(db, vm_ref, reported_metrics(db, vm_ref, at, net))
        check = event.get("health_check")
        if check is None or tree.get(HEALTH_KEY) != "planned":
            return None  # XO's script does nothing unless a check is planned
        _guest_write(db, vm_ref, HEALTH_KEY, "running")
        if check == "hang":
            return None
        return dict(event, step=check, at=at + float(event.get("check_seconds") or 0))
    if event["step"] == "failure":
        _guest_write(db, vm_ref, HEALTH_ERROR_KEY, event.get("error") or DEFAULT_ERROR)
    _guest_write(db, vm_ref, HEALTH_KEY, event["step"])
    return None


def apply_due(db, now):
    """Apply every guest step due at ``now``; steps of a domain that is gone are dropped."""
    events = db.extra.get("guest_events") or {}
    for uuid in list(events):
        event = events[uuid]
        ref = db.lookup_uuid("VM", uuid)
        row = db.find("VM", ref) if ref is not None else None
        if row is None or row.get("power_state") != "Running" or \
                row.get("domid") != event.get("domid"):
            del events[uuid]
            db.dirty = True
            continue
        while event is not None and event["at"] <= now:
            event = _step(db, ref, event)
            db.dirty = True
        if event is None:
            del events[uuid]
        else:
            events[uuid] = event


def _due_path(site):
    return site.lab.path("state", site.name + ".guests")


def write_due(site, db):
    """Record when the next guest step is due (or that none is)."""
    events = db.extra.get("guest_events") or {}
    path = _due_path(site)
    if events:
        util.atomic_write(path, repr(min(e["at"] for e in events.values())))
    elif os.path.exists(path):
        os.unlink(path)


def advance(site, now=None):
    """Apply the guest steps due by now (called by every xe call before it runs)."""
    now = time.time() if now is None else now
    try:
        with open(_due_path(site)) as handle:
            due = float(handle.read().strip() or "inf")
    except (IOError, OSError, ValueError):
        return
    if due > now:
        return
    with site.transaction() as db:
        apply_due(db, now)
        write_due(site, db)


def seed_running(db, create, started_at, guest_settings):
    """``create``'s running VMs (started at ``started_at``, an epoch): guests that reported a
    minute later, or (no tools) the record xapi made at their start. ``create(cls, row)`` makes
    a row with seeded identifiers; ``guest_settings(uuid)`` is a VM's guest settings."""
    for ref, row in list(db.rows("VM").items()):
        if row.get("power_state") != "Running" or row.get("is_control_domain") or \
                row.get("is_a_template"):
            continue
        config = guest_config(guest_settings(row["uuid"]), row)
        net = {"config": config, "nics": configure_nics(db, ref, config, {})}
        db.extra.setdefault("guest_net", {})[row["uuid"]] = net
        record = reported_metrics(db, ref, started_at + 60, net) if config["tools"] else \
            empty_metrics(started_at)
        db.update("VM", ref, guest_metrics=create("VM_guest_metrics", record))
