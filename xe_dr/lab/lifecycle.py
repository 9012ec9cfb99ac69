"""VM and vApp power operations (xapi ``xapi_vm_lifecycle.ml``, ``xapi_vm_appliance.ml``).

Each operation is three steps so that different VMs overlap and no lock is held while time
passes: (1) under the site lock, check and mark the VM busy (a current operation, memory
reserved on the chosen host); (2) sleep the operation's cost; (3) under the lock, finish.
``VM.start`` then waits the VM's ``start_delay``; shutdowns wait its ``shutdown_delay``.
Completed power operations are recorded in the site's ``extra.power_log`` (last 200).
"""

import threading
import time

from . import costs, faults, guests, util
from .errors import XapiError

NULL = util.NULL_REF
LOWER = {"Halted": "halted", "Running": "running", "Paused": "paused", "Suspended": "suspended"}
ALLOWED = {
    "start": ["Halted"],
    "clean_shutdown": ["Running"],
    "hard_shutdown": ["Paused", "Suspended", "Running"],
    "destroy": ["Halted", "Suspended"],
}


def assert_power(db, vm, op):
    state = db.get("VM", vm).get("power_state", "Halted")
    if state not in ALLOWED[op]:
        raise XapiError("VM_BAD_POWER_STATE",
                        [vm, ", ".join(LOWER[s] for s in ALLOWED[op]), LOWER[state]])


def assert_not_busy(db, vm):
    ops = db.get("VM", vm).get("current_operations") or {}
    for task, op in ops.items():
        raise XapiError("OTHER_OPERATION_IN_PROGRESS", ["VM", vm, op, task])


def _needed_srs(db, vm):
    out = []
    for vbd in db.children("VBD", "VM", vm):
        row = db.rows("VBD")[vbd]
        vdi = db.find("VDI", row.get("VDI"))
        if vdi is None or row.get("empty"):
            continue
        if vdi.get("SR") not in out:
            out.append(vdi["SR"])
    return out


def _host_sees(db, host, sr):
    return any(db.rows("PBD")[p].get("host") == host and
               db.rows("PBD")[p].get("currently_attached")
               for p in db.children("PBD", "SR", sr))


def _needed_networks(db, vm):
    out = []
    for vif in db.children("VIF", "VM", vm):
        net = db.rows("VIF")[vif].get("network")
        if db.find("network", net) is not None and net not in out:
            out.append(net)
    return out


def network_available(db, host, net):
    """xapi_network_attach_helpers.ml ``assert_can_see_named_networks``,
    ``is_network_available_on``: a network with PIFs only on the hosts those PIFs are on; one
    without (an internal network) anywhere if ``other_config:assume_network_is_shared`` is
    ``true`` or it is not managed, else only on the host(s) where the *running* VMs with a VIF
    on it are resident: the first VM started on it pins every other one to its host."""
    pifs = db.children("PIF", "network", net)
    if pifs:
        return any(db.rows("PIF")[p].get("host") == host for p in pifs)
    row = db.get("network", net)
    if (row.get("other_config") or {}).get("assume_network_is_shared") == "true":
        return True
    if not row.get("managed", True):
        return True
    hosts = []
    for vif in db.children("VIF", "network", net):
        vm = db.find("VM", db.rows("VIF")[vif].get("VM"))
        if vm is not None and vm.get("power_state") == "Running":
            hosts.append(vm.get("resident_on"))
    return not hosts or host in hosts


def assert_can_boot_here(db, vm, host):
    """The SR and network checks of xapi_vm_helpers.ml ``assert_can_boot_here``, in its order
    (``assert_can_see_SRs`` then ``assert_can_see_networks``): VM_REQUIRES_SR [vm; sr],
    VM_REQUIRES_NETWORK [vm; network], each naming the first one missing."""
    for sr in _needed_srs(db, vm):
        if not _host_sees(db, host, sr):
            raise XapiError("VM_REQUIRES_SR", [vm, sr])
    for net in _needed_networks(db, vm):
        if not network_available(db, host, net):
            raise XapiError("VM_REQUIRES_NETWORK", [vm, net])


def choose_host(db, vm):
    """A host that sees all the VM's SRs and networks and has the memory: the VM's affinity
    host first, then the master first. xapi (xapi_vm_helpers.ml
    ``choose_host_for_vm_no_wlb``) tries every host with ``assert_can_boot_here``, then again
    without the memory check: no host passing the other checks is NO_HOSTS_AVAILABLE; one that
    passes them but lacks memory fails the start with HOST_NOT_ENOUGH_FREE_MEMORY. (The lab
    keeps VM_REQUIRES_SR for an SR no host sees.) Its first choice is the VM's ``affinity``
    host when valid (xapi_vm_placement.ml ``affinity_host_ids_of_guest``; vm_placement.ml
    ``select_host_from_summary``: the affinity category before the others), for VM.start and
    for each VM a vApp's start starts."""
    need = int(db.get("VM", vm).get("memory_static_max", 0))
    srs = _needed_srs(db, vm)
    best_free = 0
    suitable = False
    affinity = db.get("VM", vm).get("affinity")
    hosts = db.hosts()
    if affinity in hosts:
        hosts = [affinity] + [h for h in hosts if h != affinity]
    for host in hosts:
        try:
            assert_can_boot_here(db, vm, host)
        except XapiError:
            continue
        suitable = True
        free = int(db.get("host", host).get("memory_free", 0))
        if free >= need:
            return host
        best_free = max(best_free, free)
    for sr in srs:
        if not any(_host_sees(db, h, sr) for h in db.hosts()):
            raise XapiError("VM_REQUIRES_SR", [vm, sr])
    if not suitable:
        raise XapiError("NO_HOSTS_AVAILABLE", [])
    raise XapiError("HOST_NOT_ENOUGH_FREE_MEMORY", [str(need), str(best_free)])


def start(lab, site, vm_uuid, paused=False, on=None):
    task = util.new_ref()
    with site.transaction() as db:
        vm = db.by_uuid("VM", vm_uuid)
        row = db.get("VM", vm)
        if row.get("is_a_template"):
            raise XapiError("OPERATION_NOT_ALLOWED", ["Cannot start a template"])
        assert_not_busy(db, vm)
        assert_power(db, vm, "start")
        mem = int(row.get("memory_static_max", 0))
        if on is not None:
            assert_can_boot_here(db, vm, on)
            # VM.start_on (message_forwarding.ml) reserves the memory on that host first:
            # reserve_memory_for_vm, HOST_NOT_ENOUGH_FREE_MEMORY [needed; available].
            free = int(db.get("host", on).get("memory_free", 0))
            if free < mem:
                raise XapiError("HOST_NOT_ENOUGH_FREE_MEMORY", [str(mem), str(free)])
        host = on if on is not None else choose_host(db, vm)
        guests.forget(db, vm)  # xapi_vm.ml start: delete_guest_metrics before the domain
        hrow = db.get("host", host)
        db.update("host", host, memory_free=int(hrow.get("memory_free", 0)) - mem)
        db.update("VM", vm, current_operations={task: "start"}, scheduled_to_be_resident_on=host)
        delay = int(row.get("start_delay", 0))
    faults.hold(lab)
    costs.pause(lab, "vm_start")
    with site.transaction() as db:
        vm = db.by_uuid("VM", vm_uuid)
        db.extra["domid"] = int(db.extra.get("domid", 0)) + 1
        now = time.time()
        db.update("VM", vm, power_state="Paused" if paused else "Running", resident_on=host,
                  domid=db.extra["domid"], start_time=util.xapi_date(now),
                  current_operations={})
        db.get("VM", vm).pop("scheduled_to_be_resident_on", None)
        for vbd in db.children("VBD", "VM", vm):
            r = db.rows("VBD")[vbd]
            dev = "xvd" + "abcdefghijklmnop"[int(r.get("userdevice", "0") or 0) % 16]
            db.update("VBD", vbd, currently_attached=True, device=dev)
        for vif in db.children("VIF", "VM", vm):
            db.update("VIF", vif, currently_attached=True)
        guests.started(lab, site, db, vm, now, paused=paused)
        log_power(db, vm_uuid, "start")
    util.sleep(delay * lab.cost_factor())


# How a guest answers a clean shutdown (a lab option per VM, ``set_guest``; the default
# cooperates). xenopsd (ocaml/xenopsd/lib/xenops_server.ml, VM_shutdown_domain) waits
# ``domain_shutdown_ack_timeout`` (60 s) for the guest to acknowledge the request, else
# Failed_to_acknowledge_shutdown_request, then the rest of xapi's timeout
# (Xapi_globs.domain_shutdown_total_timeout, 1200 s) for the domain to halt, else
# Failed_to_shutdown; xapi_xenops.ml raises them as VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT [vm] and
# VM_SHUTDOWN_TIMEOUT [vm; string_of_float timeout]. A guest without PV drivers is still
# asked (non-strict), so "ignores" also stands for it. The waits scale with the cost factor.
GUEST_BEHAVIOURS = ("cooperates", "ignores", "hangs")
SHUTDOWN_ACK_TIMEOUT = 60.0
SHUTDOWN_TOTAL_TIMEOUT = 1200.0


def set_guest(site, vm_uuid, behaviour):
    if behaviour not in GUEST_BEHAVIOURS:
        raise ValueError("a guest %s, not %r" % (" or ".join(GUEST_BEHAVIOURS), behaviour))
    with site.transaction() as db:
        db.by_uuid("VM", vm_uuid)
        guests = db.extra.setdefault("guests", {})
        if behaviour == "cooperates":
            guests.pop(vm_uuid, None)
        else:
            guests[vm_uuid] = behaviour
        db.dirty = True


def _cancel_clean_operations(db, vm):
    """VM.hard_shutdown cancels a clean shutdown in progress (message_forwarding.ml,
    VM.hard_shutdown: ``cancel ~ops:[`clean_shutdown; ...]``)."""
    ops = dict(db.get("VM", vm).get("current_operations") or {})
    for task, op in list(ops.items()):
        if op in ("clean_shutdown", "shutdown", "clean_reboot"):
            del ops[task]
    db.update("VM", vm, current_operations=ops)


def shutdown(lab, site, vm_uuid, hard=False):
    task = util.new_ref()
    op = "hard_shutdown" if hard else "clean_shutdown"
    with site.transaction() as db:
        vm = db.by_uuid("VM", vm_uuid)
        if hard:
            _cancel_clean_operations(db, vm)
        assert_not_busy(db, vm)
        assert_power(db, vm, op)
        db.update("VM", vm, current_operations={task: op})
        delay = int(db.get("VM", vm).get("shutdown_delay", 0))
        guest = "cooperates" if hard else (db.extra.get("guests") or {}).get(
            vm_uuid, "cooperates")
    if guest != "cooperates":
        _refuse_shutdown(lab, site, vm_uuid, task, guest)
    try:
        faults.hold(lab)
        costs.pause(lab, "shutdown_hard" if hard else "shutdown_clean")
    finally:
        with site.transaction() as db:
            vm = db.by_uuid("VM", vm_uuid)
            row = db.get("VM", vm)
            host = row.get("resident_on", NULL)
            if db.find("host", host) is not None:
                h = db.get("host", host)
                db.update("host", host, memory_free=int(h.get("memory_free", 0)) +
                          int(row.get("memory_static_max", 0)))
            db.update("VM", vm, power_state="Halted", resident_on=NULL, domid=-1,
                      current_operations={})
            for vbd in db.children("VBD", "VM", vm):
                db.update("VBD", vbd, currently_attached=False, device="")
            for vif in db.children("VIF", "VM", vm):
                db.update("VIF", vif, currently_attached=False)
            guests.halted(db, vm_uuid)
            log_power(db, vm_uuid, op)
    util.sleep(delay * lab.cost_factor())


def _refuse_shutdown(lab, site, vm_uuid, task, guest):
    """A guest that does not halt: xapi waits, then fails; the VM keeps running. A hard
    shutdown meanwhile cancels the wait (TASK_CANCELLED)."""
    wait = SHUTDOWN_ACK_TIMEOUT if guest == "ignores" else SHUTDOWN_TOTAL_TIMEOUT
    util.sleep(wait * lab.cost_factor())
    with site.transaction() as db:
        vm = db.by_uuid("VM", vm_uuid)
        ops = dict(db.get("VM", vm).get("current_operations") or {})
        cancelled = task not in ops
        ops.pop(task, None)
        db.update("VM", vm, current_operations=ops)
    if cancelled:
        raise XapiError("TASK_CANCELLED", [task])
    if guest == "ignores":
        raise XapiError("VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT", [vm])
    raise XapiError("VM_SHUTDOWN_TIMEOUT", [vm, "%d." % SHUTDOWN_TOTAL_TIMEOUT])


def log_power(db, vm_uuid, op):
    """The last power events of the site (extra.power_log: [uuid, op, time]), for tests."""
    events = db.extra.setdefault("power_log", [])
    events.append([vm_uuid, op, time.time()])
    del events[:-200]


def destroy(db, vm):
    if db.get("VM", vm).get("is_control_domain"):
        raise XapiError("OPERATION_NOT_ALLOWED",
                        ["You cannot destroy a control domain via the CLI"])
    assert_not_busy(db, vm)
    assert_power(db, vm, "destroy")
    guests.forget(db, vm)  # Xapi_vm_helpers.destroy destroys the guest metrics too
    for cls in ("VBD", "VIF"):
        for child in list(db.children(cls, "VM", vm)):
            db.delete(cls, child)
    db.delete("VM", vm)


# --- vApps -------------------------------------------------------------------------------------

APPLIANCE_CHECK = {
    "start": (lambda s: s == "Halted", "There are no halted VMs in this appliance."),
    "clean_shutdown": (lambda s: s == "Running", "There are no running VMs in this appliance."),
    "hard_shutdown": (lambda s: s != "Halted", "All VMs in this appliance are halted."),
}


def _appliance_begin(site, app_uuid, op):
    task = util.new_ref()
    with site.transaction() as db:
        app = db.by_uuid("VM_appliance", app_uuid)
        ops = db.get("VM_appliance", app).get("current_operations") or {}
        for op_ref, op_type in ops.items():
            raise XapiError("OTHER_OPERATION_IN_PROGRESS",
                            ["VM_appliance", app, op_type, op_ref])
        vms = db.children("VM", "appliance", app)
        if not vms:
            raise XapiError("OPERATION_NOT_ALLOWED", ["Appliance has no VMs."])
        predicate, message = APPLIANCE_CHECK[op]
        states = [db.rows("VM")[v].get("power_state", "Halted") for v in vms]
        if not any(predicate(s) for s in states):
            raise XapiError("OPERATION_NOT_ALLOWED", [message])
        db.update("VM_appliance", app, current_operations={task: op})
        return [(db.rows("VM")[v]["uuid"], int(db.rows("VM")[v].get("order", 0)),
                 db.rows("VM")[v].get("power_state", "Halted")) for v in vms]


def _appliance_end(site, app_uuid):
    with site.transaction() as db:
        app = db.lookup_uuid("VM_appliance", app_uuid)
        if app is not None:
            db.update("VM_appliance", app, current_operations={})


def _run_group(fn, uuids):
    errors = []

    def one(u):
        try:
            fn(u)
        except Exception as e:  # collected: the appliance reports the VMs that failed
            errors.append((u, e))
    threads = [threading.Thread(target=one, args=(u,)) for u in uuids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def appliance_operation(lab, site, app_uuid, op, paused=False):
    members = _appliance_begin(site, app_uuid, op)
    faults.hold(lab)
    required = ("Paused" if paused else "Running") if op == "start" else "Halted"
    try:
        targets = [(u, order) for u, order, state in members if state != required]
        orders = sorted(set(o for _, o in targets), reverse=(op != "start"))
        for order in orders:
            group = [u for u, o in targets if o == order]
            if op == "start":
                _run_group(lambda u: start(lab, site, u, paused=paused), group)
            else:
                _run_group(lambda u: shutdown(lab, site, u, hard=(op == "hard_shutdown")), group)
    finally:
        _appliance_end(site, app_uuid)
    db = site.read()
    failed = []
    for u, _ in targets:
        ref = db.lookup_uuid("VM", u)
        if ref is not None and db.rows("VM")[ref].get("power_state") != required:
            failed.append(ref)
    if failed:
        raise XapiError("OPERATION_PARTIALLY_FAILED", ["VM_appliance." + op] + failed)
