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
DEFAULTS = {"tools": True, "health_check": None, "boot_seconds": None, "error": DEFAULT_ERROR}
SETTINGS = ("tools", "health_check", "boot_seconds", "error")

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
    table = lab.config.get("guests") or {}
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


# --- guest metrics -----------------------------------------------------------------------------

def empty_metrics(when):
    """The record xapi makes as the domain appears (create_and_set_guest_metrics with nothing
    from the agent yet)."""
    return {"os_version": {}, "netbios_name": {}, "PV_drivers_version": {},
            "PV_drivers_up_to_date": False, "memory": {}, "disks": {}, "networks": {},
            "services": {}, "PV_drivers_detected": False, "other": {},
            "last_updated": util.xapi_date(when), "other_config": {}, "live": True,
            "can_use_hotplug_vbd": "unspecified", "can_use_hotplug_vif": "unspecified"}


def reported_metrics(db, vm_ref, when):
    """The record once the agent has reported (PV drivers detected)."""
    row = db.get("VM", vm_ref)
    template = (row.get("other_config") or {}).get("base_template_name", "")
    windows = "Windows" in template
    os_version = WINDOWS if windows else (ROCKY if "Rocky" in template else LINUX)
    seed = int(row.get("uuid", "0")[:4] or "0", 16)
    networks = collections.OrderedDict()
    devices = sorted((int(db.rows("VIF")[v].get("device", "0") or 0)
                      for v in db.children("VIF", "VM", vm_ref)), reverse=True)
    for device in devices:  # find_vifs lists them last first
        ip = "10.%d.%d.%d" % (100 + device, seed // 256 % 256, seed % 254 + 1)
        networks["%d/ip" % device] = ip
        networks["%d/ipv4/0" % device] = ip
    gm = empty_metrics(when)
    gm.update({"os_version": dict(os_version),
               "PV_drivers_version": dict(WINDOWS_TOOLS if windows else LINUX_TOOLS),
               "PV_drivers_up_to_date": True, "PV_drivers_detected": True,
               "networks": networks, "other": dict(CONTROL),
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
    if not paused:
        guest = settings(lab, uuid)
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


def _step(db, vm_ref, event):
    """Carry out one due step; returns the next one or None."""
    at = event["at"]
    if event["step"] == "boot":
        if not event["tools"]:
            return None  # no agent: the record stays as made at the start
        _set_metrics(db, vm_ref, reported_metrics(db, vm_ref, at))
        uuid = db.get("VM", vm_ref)["uuid"]
        tree = (db.extra.get("xenstore") or {}).get(uuid) or {}
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


def seed_running(db, create, started_at, tools=True):
    """``create``'s running VMs (started at ``started_at``, an epoch): guests that reported a
    minute later, or (``tools`` false) the record xapi made at their start. ``create(cls,
    row)`` makes a row with seeded identifiers."""
    for ref, row in list(db.rows("VM").items()):
        if row.get("power_state") != "Running" or row.get("is_control_domain") or \
                row.get("is_a_template"):
            continue
        record = reported_metrics(db, ref, started_at + 60) if tools else \
            empty_metrics(started_at)
        db.update("VM", ref, guest_metrics=create("VM_guest_metrics", record))
