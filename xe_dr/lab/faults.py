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
carried out); an in-process call ignores it. Whole-site outages are not rules: see ``disaster``
(lab.json).
"""

import os

from . import util
from .errors import XapiError

PATH = "faults.json"


def _load(lab):
    return util.read_json(lab.path(PATH), {"rules": [], "next_id": 1})


def add(lab, site="*", command="*", nth=1, error=None, delay=0.0, every=False, after=0.0,
        kill_client=False):
    with util.flocked(lab.path("locks", "faults.lock")):
        data = _load(lab)
        rule = {"id": data.get("next_id", 1), "site": site, "command": command, "nth": int(nth),
                "error": list(error) if error else None, "delay": float(delay),
                "every": bool(every), "count": 0, "fired": 0, "after": float(after),
                "kill_client": _kill_mode(kill_client)}
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
    Returns (seconds to wait once the call has made its change, when to kill the client:
    None, "before" or "after")."""
    if not os.path.exists(lab.path(PATH)):
        return 0.0, None
    delay = after = 0.0
    kill = None
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
            delay += rule["delay"]
            after += rule.get("after", 0.0)
            kill = kill or _kill_mode(rule.get("kill_client"))
            if rule["error"] and error is None:
                error = rule["error"]
        util.write_json(lab.path(PATH), data)
    util.sleep(delay)
    if error:
        raise XapiError(error[0], error[1:])
    return after, kill
