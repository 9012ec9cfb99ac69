"""Did the VMs a drill started come up? (issue 17) Each VM gets a verdict and one line why.

A VM is **verified** when

1. it runs (power state ``running``);
2. its guest agent reported *since this start*: a guest metrics record with PV drivers
   detected, last updated at or after the VM's start. xapi clears a VM's guest metrics at
   ``VM.start`` (xen-api ``ocaml/xapi/xapi_vm.ml`` ``start``: ``delete_guest_metrics``) and
   drops older ones when xenopsd reports (``xapi_xenops.ml`` ``update_vm``), so the metrics a
   copy carries from production (the DR import keeps them, ``import.ml`` ``GuestMetrics``)
   never count; and since xapi makes a record as soon as the domain runs, with
   ``PV_drivers_detected`` false (``create_guest_metrics_if_needed``), a record alone proves
   nothing: PV drivers detected is what Xen Orchestra's health check waits for too
   (vatesfr/xen-orchestra ``@xen-orchestra/backups/HealthCheckVmBackup.mjs``). Both times
   are the pool's (``start-time``, ``guest-metrics-last-updated``), as xapi compares them, so
   the clock of the machine running xe-dr does not matter; ``started_at`` is used only for a
   VM whose start-time the pool does not give;
3. for a VM that opts in with XO's tag ``xo-backup-health-check-xenstore``, its in-guest check
   answered ``success`` through xenstore (XO's convention, same file: before the start
   ``vm-data/xo-backup-health-check=planned``; the guest writes ``success`` or ``failure``,
   its message in ``vm-data/xo-backup-health-check-error``). ``failure`` is a verdict at once,
   with the guest's message.

XO's opt-out tag ``xo:no-health-check`` (or ``xo:no-health-check=reason``: XO takes any tag
starting so, ``@xen-orchestra/backups/_runners/_vmRunners/_Abstract.mjs`` ``_healthCheck``)
means verified = started; it wins over the opt-in, as in XO.

**A stale answer never counts.** A recovered copy carries production's xenstore-data, which can
hold ``success`` (an earlier check, a VM restored from a health-checked replica). So
:func:`prepare_health_check`, called before the start, writes ``planned`` (the guest's script
runs only on seeing it), removes the old error and writes a token of its own,
``vm-data/xe-dr-health-check``; :func:`verify_vms` takes an answer only from a VM whose
xenstore-data holds the token prepare returned (``prepared``). That proves the answer is of
this boot: once a VM runs, xapi keeps its xenstore-data equal to the domain's vm-data subtree
(``xapi_xenops.ml`` ``xsdata_state``; Citrix CTX226713), which xenopsd built at the start from
the xenstore-data of that moment (``domain.ml`` ``filtered_xsdata``); the token is there only
if prepare ran before this start, and then so did ``planned``. An opted-in VM without a token
from ``prepared`` is not verified ("not armed"), whatever its xenstore-data says.

Every VM is polled together: one ``vm-list`` a round, plus two filtered ``vm-list`` (the
answers ``success`` and ``failure``) while an opted-in VM waits, and one ``param-get`` per VM
when its answer is first seen (its token, a failure's message) or at the deadline.
"""

import time
import uuid as _uuid

from xe_dr.pool import read_guests
from xe_dr.text import printable
from xe_dr.xe.errors import XapiError

HEALTH_KEY = "vm-data/xo-backup-health-check"
HEALTH_ERROR_KEY = "vm-data/xo-backup-health-check-error"
TOKEN_KEY = "vm-data/xe-dr-health-check"
OPT_IN_TAG = "xo-backup-health-check-xenstore"
OPT_OUT_TAG = "xo:no-health-check"
MESSAGE_CHARS = 300  # of a guest's failure message in the reason (the guest writes it)


def health_check_mode(tags):
    """``"skipped"`` (opted out), ``"xenstore"`` (opted in) or None (no in-guest check)."""
    tags = list(tags or ())
    if any(tag.startswith(OPT_OUT_TAG) for tag in tags):
        return "skipped"
    if OPT_IN_TAG in tags:
        return "xenstore"
    return None


def _xenstore(xe, vm_uuid, key):
    """One key of the VM's xenstore-data (``param-key=``: values may hold ``; ``), or None."""
    try:
        return xe.param_get("vm", vm_uuid, "xenstore-data", key=key)
    except XapiError as error:
        if error.missing_map_key() is not None:
            return None
        raise


def prepare_health_check(xe, vm_uuid, token=None):
    """Arm a halted VM's in-guest check, before it is started: ``planned`` written, the last
    error message removed, a token written (``token``, else a new random one). Returns the
    token, for :func:`verify_vms` ``prepared``. Call it for the VMs whose tags opt in
    (:func:`health_check_mode` ``"xenstore"``)."""
    token = token or _uuid.uuid4().hex
    xe.param_set("vm", vm_uuid, {"xenstore-data": {HEALTH_KEY: "planned", TOKEN_KEY: token}})
    if _xenstore(xe, vm_uuid, HEALTH_ERROR_KEY) is not None:  # removing a missing key fails
        xe.param_remove("vm", vm_uuid, "xenstore-data", HEALTH_ERROR_KEY)
    return token


def _answered(xe, value):
    """The uuids of the VMs whose health-check key is ``value`` (one filtered listing)."""
    return set(xe.uuids("vm", filters={"xenstore-data": {HEALTH_KEY: value}}))


def _date(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class _Vm(object):
    """One VM's state while it is being verified."""

    def __init__(self, vm, started_at):
        self.uuid = vm["uuid"]
        self.name_label = vm.get("name_label", "")
        self.mode = health_check_mode(vm.get("tags"))
        self.started_at = started_at
        self.verdict = None
        self.result = {"uuid": self.uuid, "name_label": self.name_label, "verified": False,
                       "reason": "", "started": False, "guest_metrics": False,
                       "health_check": "skipped" if self.mode == "skipped" else None,
                       "verified_at": None}
        self.token_ok = None   # the token check of an answer, once seen
        self.answer = None     # "success" or "failure" of this boot
        self.guest = None      # the last read_guests entry

    def finish(self, verified, reason, now=None, **fields):
        self.result.update(fields, verified=verified, reason=reason,
                           verified_at=now if verified else None)
        self.verdict = verified


def _fresh(vm):
    """Whether the guest agent reported since this start, and if not, why (one phrase)."""
    g = vm.guest
    since = g["start_time"] or vm.started_at
    if not g["metrics"]:
        return False, "no guest metrics since this start (the guest agent did not report)"
    if not g["pv_drivers_detected"]:
        return False, "the guest agent did not report since this start (PV drivers not " \
                      "detected)"
    if since is None or g["metrics_updated"] is None or g["metrics_updated"] < since:
        return False, "guest metrics from before this start (last updated %s, started %s)" % (
            _date(g["metrics_updated"]) if g["metrics_updated"] else "never",
            _date(since) if since else "unknown")
    return True, ""


def _look_at_answer(xe, vm, token, success, failure):
    """Take this boot's answer if there is one (checking the token once)."""
    value = "success" if vm.uuid in success else "failure" if vm.uuid in failure else None
    if value is None or vm.answer is not None:
        return
    if vm.token_ok is None:
        vm.token_ok = token is not None and _xenstore(xe, vm.uuid, TOKEN_KEY) == token
    if vm.token_ok:
        vm.answer = value


def _decide(xe, vm, prepared, success, failure, now):
    g = vm.guest
    if g is None:
        return vm.finish(False, "the VM no longer exists")
    if g["power_state"] != "running":
        return vm.finish(False, "not running (power state %s)" % (g["power_state"] or "unknown"))
    vm.result["started"] = True
    fresh = _fresh(vm)[0]
    vm.result["guest_metrics"] = fresh
    if vm.mode == "skipped":
        return vm.finish(True, "running (%s: no further check)" % OPT_OUT_TAG, now)
    token = prepared.get(vm.uuid)
    if vm.mode == "xenstore":
        _look_at_answer(xe, vm, token, success, failure)
        if vm.answer == "failure":
            message = " ".join((_xenstore(xe, vm.uuid, HEALTH_ERROR_KEY) or "").split())
            if len(message) > MESSAGE_CHARS:
                message = message[:MESSAGE_CHARS - 3] + "..."
            return vm.finish(False, "its in-guest health check failed: %s" % (
                printable(message) or "(no message)"), health_check="failure")
    if not fresh:
        return None
    if vm.mode is None:
        return vm.finish(True, "running, its guest agent reported since this start", now)
    if token is None:
        return vm.finish(False, "its in-guest health check was not armed before this start "
                                "(no prepare_health_check token): an answer in its "
                                "xenstore-data could be stale and is not taken")
    if vm.answer == "success":
        return vm.finish(True, "running, its guest agent reported and its in-guest health "
                               "check answered success", now, health_check="success")
    return None


def _time_out(xe, vm, expired):
    if vm.guest is None or vm.guest["power_state"] != "running":
        return vm.finish(False, expired)
    fresh, why = _fresh(vm)
    if vm.mode == "xenstore":
        if vm.answer == "success":  # answered, but the agent's report is missing
            return vm.finish(False, "%s: %s (its in-guest health check answered success)"
                             % (expired, why), health_check="success")
        value = _xenstore(xe, vm.uuid, HEALTH_KEY)
        if not fresh:
            why = "%s; no in-guest health check answer" % why
        elif value in ("success", "failure"):
            why = "its xenstore-data says %s, but not from this boot (the token of this " \
                  "drill's prepare_health_check is missing)" % value
        else:
            why = "no in-guest health check answer (%s is %s)" % (
                HEALTH_KEY, "not set" if value is None else "'%s'" % printable(
                    value if len(value) <= 40 else value[:37] + "..."))
        return vm.finish(False, "%s: %s" % (expired, why), health_check="timeout")
    return vm.finish(False, "%s: %s" % (expired, why))


def verify_vms(xe, vms, started_at, deadline, clock=time.time, sleep=time.sleep, poll=5.0,
               prepared=None, expired="timed out"):
    """Verify started VMs; a list of results in the order of ``vms``.

    ``vms``: dicts ``{"uuid", "name_label", "tags"}`` of VMs already started; ``started_at``:
    ``{uuid: epoch}`` of their starts (used where the pool gives no start-time); ``deadline``:
    an epoch of ``clock`` after which the VMs still waiting time out; ``prepared``:
    ``{uuid: token}`` that :func:`prepare_health_check` returned for the opted-in VMs;
    ``expired``: what the reason of a VM still waiting at the deadline begins with.

    Each result: ``uuid``, ``name_label``, ``verified`` (bool), ``reason`` (one line),
    ``started`` (it runs), ``guest_metrics`` (reported since this start), ``health_check``
    (``"success"``, ``"failure"``, ``"skipped"`` for an opt-out, ``"timeout"``, or None: no
    in-guest check) and ``verified_at`` (the ``clock`` time of the verdict, or None)."""
    prepared = dict(prepared or {})
    pending = [_Vm(vm, (started_at or {}).get(vm["uuid"])) for vm in vms]
    if not pending:
        return []
    order = list(pending)
    while True:
        now = clock()
        guests = read_guests(xe)
        waiting = any(vm.mode == "xenstore" and vm.answer is None for vm in pending)
        success = _answered(xe, "success") if waiting else set()
        failure = _answered(xe, "failure") if waiting else set()
        for vm in pending:
            vm.guest = guests.get(vm.uuid)
            _decide(xe, vm, prepared, success, failure, now)
        pending = [vm for vm in pending if vm.verdict is None]
        if not pending:
            break
        if now >= deadline:
            for vm in pending:
                _time_out(xe, vm, expired)
            break
        sleep(max(0.0, min(poll, deadline - now)))
    return [vm.result for vm in order]
