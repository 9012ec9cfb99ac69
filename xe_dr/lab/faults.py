"""Faults on demand, kept in ``DIR/faults.json``.

A rule matches calls by site (or ``*``) and command (or ``*``) and counts them; on its
``nth`` matching call (and on every later one if ``every``) it adds ``delay`` seconds (a slow
call) and/or fails the call with a chosen XAPI error ``[code, param, ...]``, printed exactly as
xe prints that error (exit 1). ``after`` seconds are added once the call has made its change,
before xe answers: a client that gives up meanwhile (its timeout) or is killed does not undo
it, as xapi finishes an operation whose CLI client went away. ``kill_client``: the fake xe
executable kills the process that ran it (SIGKILL to its parent: xe-dr when it runs xe
locally), as a power cut or kill -9 of xe-dr would: ``"after"`` (or true) once the call has
made its change, ``"before"`` as the call arrives, before it changes anything (it is not
carried out); an in-process call ignores it.

Whole-site outages are ``disaster`` (lab.json); a rule with ``dark`` starts one when it fires
(the site goes dark at that call: it fails as a dark site's call, and so does every later one
until ``restore``), for a site lost in the middle of a run.

With ``busy`` the delay of a power operation (``BUSY_COMMANDS``) is taken inside it, while
xapi has marked the VM or vApp busy (its ``current-operations`` name the operation, and another
operation on it fails with OTHER_OPERATION_IN_PROGRESS), instead of before the call.
"""

import os

from . import util
from .errors import Unreachable, XapiError

PATH = "faults.json"
# The commands whose objects are busy while they run (lifecycle.py): a ``busy`` delay is taken
# there, after the object is marked busy; any other command takes it before the call.
BUSY_COMMANDS = ("vm-start", "vm-shutdown", "appliance-start", "appliance-shutdown")


def _load(lab):
    return util.read_json(lab.path(PATH), {"rules": [], "next_id": 1})


def add(lab, site="*", command="*", nth=1, error=None, delay=0.0, every=False, after=0.0,
        kill_client=False, dark=False, busy=False):
    if dark and site == "*":
        raise ValueError("a rule that darkens a site names it (site=...)")
    with util.flocked(lab.path("locks", "faults.lock")):
        data = _load(lab)
        rule = {"id": data.get("next_id", 1), "site": site, "command": command, "nth": int(nth),
                "error": list(error) if error else None, "delay": float(delay),
                "every": bool(every), "count": 0, "fired": 0, "after": float(after),
                "kill_client": _kill_mode(kill_client)}
        if dark:
            rule["dark"] = True
        if busy:
            rule["busy"] = True
        data["next_id"] = rule["id"] + 1
        data["rules"].append(rule)
        util.write_json(lab.path(PATH), data)
        return rule


def _kill_mode(value):
    if value in (None, False, ""):
        return None
    if value is True or value == "after":
        return "after"
    if value == "before":
        return "before"
    raise ValueError("kill_client is 'before' or 'after', not %r" % (value,))


def clear(lab):
    with util.flocked(lab.path("locks", "faults.lock")):
        util.write_json(lab.path(PATH), {"rules": [], "next_id": 1})


def rules(lab):
    return _load(lab)["rules"]


def check(lab, site, command):
    """Count this call against the rules; sleep and/or raise what fires (lock not held then).
    A ``busy`` delay of a power operation is kept on ``lab`` (one Lab per call) for
    :func:`hold`. Returns (seconds to wait once the call has made its change, when to kill
    the client: None, "before" or "after")."""
    if not os.path.exists(lab.path(PATH)):
        return 0.0, None
    delay = after = held = 0.0
    kill = None
    dark = False
    error = None
    with util.flocked(lab.path("locks", "faults.lock")):
        data = _load(lab)
        if not data["rules"]:
            return 0.0, None
        for rule in data["rules"]:
            if rule["site"] not in ("*", site) or rule["command"] not in ("*", command):
                continue
            rule["count"] += 1
            fires = rule["count"] == rule["nth"] or (rule["every"] and rule["count"] >= rule["nth"])
            if not fires:
                continue
            rule["fired"] += 1
            if rule.get("busy") and command in BUSY_COMMANDS:
                held += rule["delay"]
            else:
                delay += rule["delay"]
            after += rule.get("after", 0.0)
            kill = kill or _kill_mode(rule.get("kill_client"))
            dark = dark or bool(rule.get("dark"))
            if rule["error"] and error is None:
                error = rule["error"]
        util.write_json(lab.path(PATH), data)
    if dark:
        lab.update_config(lambda config: config.setdefault("dark", []).append(site)
                          if site not in config.get("dark", []) else None)
        raise Unreachable()
    util.sleep(delay)
    if error:
        raise XapiError(error[0], error[1:])
    lab.busy_delay = held
    return after, kill


def hold(lab):
    """Inside a power operation, once its object is marked busy: the ``busy`` delay of the
    rules that fired for this call (taken once: a vApp's holds it, not each member's)."""
    delay, lab.busy_delay = getattr(lab, "busy_delay", 0.0), 0.0
    util.sleep(delay)
