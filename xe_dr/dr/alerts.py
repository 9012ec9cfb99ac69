"""``status --alert``: DR health as xapi messages on the pool, the way xapi pairs
METADATA_LUN_BROKEN with METADATA_LUN_HEALTHY (redo_log_alert.ml), so that XenCenter, Xen
Orchestra and every check of xapi's messages see them.

Each check (a dict: ``name`` such as ``replication`` or ``at-risk``, ``state`` ``OK`` /
``WARNING`` / ``CRITICAL``, ``summary`` one line) has two messages, ``XE_DR_<CHECK>_PROBLEM``
and ``XE_DR_<CHECK>_HEALTHY`` (``<CHECK>``: the name upper-cased, ``-`` as ``_``), class Pool,
on the pool. Priorities on xapi's scale (ocaml/xapi-consts/api_messages.ml: 1 critical, data
may be lost; 2 major, a service may fail; 3 warning; 4 minor, something improved; 5
informational): a CRITICAL check 2 (a failover would fail), a WARNING one 3, the healthy
message 4 (as METADATA_LUN_HEALTHY). Any other state (UNKNOWN: it could not be checked)
changes nothing.

No local state: the pool's own messages are the memory, so every monitoring host (each with
its own state directory) agrees. A check's alert state is the name of its newest message
(newest by timestamp; in the same second, by xe's order, which is the newest first:
xapi_message.ml get_real_inner). A check that goes bad raises PROBLEM, once; while it stays
bad nothing more; when it is OK again, HEALTHY, once; a check never raised and OK raises
nothing. A message dismissed in XenCenter is destroyed: a condition still true is raised
again at the next check.

One message per transition across hosts (see :func:`_winner`): create, wait SETTLE_SECONDS,
list again; of the messages of the same transition the first by (timestamp, uuid) stands,
every other is destroyed (one's own by its maker, any other by whoever sees it).
"""

import binascii
import os
import re
import time

from xe_dr import __version__
from xe_dr.text import printable
from xe_dr.xe.errors import XapiError

PREFIX = "XE_DR_"
PRIORITY = {"CRITICAL": 2, "WARNING": 3}
HEALTHY_PRIORITY = 4
# Longer than one second of xapi's clock (a message's timestamp has whole seconds) plus the
# time xapi takes to write a message file: see _winner.
SETTLE_SECONDS = 2.0
SUMMARY_LIMIT = 400
_CHECK_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def message_names(check):
    """(problem, healthy) message names of a check name: PREFIX, the name in capitals with
    ``_`` for ``-`` (``at-risk``: ``AT_RISK``), then ``_PROBLEM`` / ``_HEALTHY``."""
    if not _CHECK_NAME.match(check or ""):
        raise ValueError("a check name is lower-case words joined by '-', not %r" % (check,))
    stem = PREFIX + check.upper().replace("-", "_")
    return stem + "_PROBLEM", stem + "_HEALTHY"


def _body(summary, now, token):
    """The check's summary, the xe-dr version, the time of the check and the alert's token
    (how a host finds the message it made: message-create prints nothing). One line."""
    text = printable(" ".join((summary or "").split()))
    if len(text) > SUMMARY_LIMIT:
        text = text[:SUMMARY_LIMIT - 3] + "..."
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return "%s (xe-dr %s, checked %s, alert %s)" % (text, __version__, stamp, token)


def _chronological(messages):
    """Oldest first: by timestamp, then by xe's order (newest first) reversed."""
    return sorted(reversed(messages), key=lambda m: m["timestamp"])


def _trailing_run(history):
    """The newest messages of a check that share the newest one's name: one transition."""
    run = []
    for message in reversed(history):
        if run and message["name"] != run[0]["name"]:
            break
        run.append(message)
    return run


def _winner(run):
    """The message that stands for a transition: the first by timestamp, then by uuid.

    Why this is enough: every host applies the same rule to the same messages, so all agree
    once they see the same ones. A host decides only SETTLE_SECONDS after its own
    message-create returned; by then xapi's clock is past the second of its message's
    timestamp, so every message of the same transition with the same or an earlier timestamp
    exists already (xapi stamps a message, then writes it). One created later has a later
    timestamp and loses to the one it finds. A host that fails between its create and its
    decision leaves a duplicate that the next check of any host destroys (the sweep)."""
    return min(run, key=lambda m: (m["timestamp"], m["uuid"]))


def _destroy(xe, uuid):
    """Destroy a message; one already gone (another host swept it) is fine."""
    try:
        xe.message_destroy(uuid)
    except XapiError as error:
        if error.code != "UUID_INVALID":
            raise


def _body_of(xe, uuid):
    """A message's body, or "" when it is gone already (another host swept it)."""
    try:
        return xe.param_get("message", uuid, "body")
    except XapiError as error:
        if error.code != "UUID_INVALID":
            raise
        return ""


def _histories(xe, pool_uuid, names):
    """{check: its messages on the pool, oldest first}: one message-list for all checks,
    without the bodies (those of xapi's own messages can be long, XML, several lines)."""
    listed = xe.messages({"class": "Pool", "obj-uuid": pool_uuid},
                         fields=("uuid", "name", "timestamp"))
    out = {}
    for check, pair in names.items():
        out[check] = _chronological([m for m in listed if m["name"] in pair])
    return out


def raise_alerts(xe, pool_uuid, checks, now=None, settle=None, sleep=time.sleep):
    """Raise or clear one pool message per check whose state changed. Returns, per check in
    order, ``{"check", "state" ("raised" | "cleared" | "unchanged"), "message" (the uuid of
    the check's standing message, or None), "name" (its name, or None)}``: ``raised`` /
    ``cleared`` when this call's PROBLEM / HEALTHY message is the one that stands,
    ``unchanged`` otherwise (nothing to say, or another host's message stands).

    ``now``: the time of the check (default: now), written in the body. ``settle``: seconds
    to wait between creating and deciding (default SETTLE_SECONDS); ``sleep`` waits."""
    now = time.time() if now is None else now
    settle = SETTLE_SECONDS if settle is None else settle
    names = {}
    for check in checks:
        if check["name"] in names:
            raise ValueError("two checks are called %r" % check["name"])
        names[check["name"]] = message_names(check["name"])
    histories = _histories(xe, pool_uuid, names)

    results, created = [], {}
    for check in checks:
        name = check["name"]
        problem, healthy = names[name]
        run = _trailing_run(histories[name])
        current = run[0]["name"] if run else None
        want = None
        if check["state"] in PRIORITY and current != problem:
            want, priority = problem, PRIORITY[check["state"]]
        elif check["state"] == "OK" and current == problem:
            want, priority = healthy, HEALTHY_PRIORITY
        result = {"check": name, "state": "unchanged", "message": None, "name": None}
        results.append(result)
        if want is None:
            if run:
                standing = _winner(run)
                result.update(message=standing["uuid"], name=standing["name"])
                for other in run:  # the sweep: duplicates a host left behind
                    if other is not standing:
                        _destroy(xe, other["uuid"])
            continue
        token = binascii.hexlify(os.urandom(4)).decode("ascii")
        xe.message_create(want, priority, _body(check.get("summary"), now, token),
                          "pool", pool_uuid)
        created[name] = (want, token, result)

    if not created:
        return results
    if settle > 0:
        sleep(settle)
    known = set(m["uuid"] for history in histories.values() for m in history)
    histories = _histories(xe, pool_uuid, names)
    for name, (want, token, result) in created.items():
        run = _trailing_run(histories[name])
        mine = [m for m in run if m["name"] == want and m["uuid"] not in known
                and _body_of(xe, m["uuid"]).endswith(", alert %s)" % token)]
        standing = _winner(run) if run else None
        for other in run:
            if other is not standing:
                _destroy(xe, other["uuid"])
        if standing is not None:
            result.update(message=standing["uuid"], name=standing["name"])
            if mine and standing is mine[0]:
                result["state"] = "raised" if want.endswith("_PROBLEM") else "cleared"
    return results
