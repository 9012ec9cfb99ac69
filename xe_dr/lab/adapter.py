"""``DIR/bin/storage-adapter``: the lab array's storage adapter, speaking xe-dr's protocol
(man xe-dr, STORAGE ADAPTERS; the client is xe_dr/dr/adapter.py; the array's side is
copies.py):

    storage-adapter VERB [--run RUN_ID] [--lun SCSIID]...

VERB is ``capabilities``, ``copy``, ``list``, ``release``, ``mirror-state``, ``halt`` or
``reverse``. It writes one JSON object on stdout: exit 0 with the answer, 1 with
``{"error": "..."}`` when the array refuses or fails, 64 for a command line it does not take.

Every call is logged in ``DIR/adapter.jsonl`` (``verb``, ``args``, ``start``, ``duration``,
``exit``, ``pid``, ``ppid``) and counted against the fault rules of site ``array``, command
``adapter-<verb>`` (faults.py): ``delay`` before the call, ``error`` fails it (``{"error":
"CODE: params"}``, nothing done), ``after`` is waited once its change is made, and
``kill_client`` SIGKILLs the process that ran the adapter (xe-dr) as the call arrives
(``before``: nothing done) or once its change is made (``after``).
"""

import json
import os
import signal
import sys
import time

from . import copies, faults, util
from .errors import LabError, Unreachable, XapiError
from .store import Lab, LabNotFound

PROTOCOL = 1
VERBS = ("capabilities", "copy", "list", "release", "mirror-state", "halt", "reverse")
USAGE = "storage-adapter VERB [--run RUN_ID] [--lun SCSIID]... (VERB: %s)" % ", ".join(VERBS)
LOG = "adapter.jsonl"
FAULT_SITE = "array"


class Usage(Exception):
    pass


def parse(argv):
    """(verb, run or None, [luns]) or Usage."""
    if not argv:
        raise Usage("no verb")
    verb, rest = argv[0], list(argv[1:])
    if verb not in VERBS:
        raise Usage("unknown verb %r" % verb)
    run, luns = None, []
    while rest:
        word = rest.pop(0)
        name, eq, value = word.partition("=")
        if name not in ("--run", "--lun"):
            raise Usage("unknown argument %r" % word)
        if not eq:
            if not rest:
                raise Usage("%s needs a value" % name)
            value = rest.pop(0)
        if not value or value.startswith("-"):
            raise Usage("%s needs a value, not %r" % (name, value))
        if name == "--run":
            if run is not None:
                raise Usage("--run is given twice")
            run = value
        elif value in luns:
            raise Usage("LUN %s is given twice" % value)
        else:
            luns.append(value)
    wants_run = verb in ("copy", "list", "release")
    wants_luns = verb in ("copy", "mirror-state", "halt", "reverse")
    if wants_run and run is None:
        raise Usage("%s needs --run RUN_ID" % verb)
    if not wants_run and run is not None:
        raise Usage("%s takes no --run" % verb)
    if wants_luns and not luns:
        raise Usage("%s needs --lun SCSIID" % verb)
    if not wants_luns and luns:
        raise Usage("%s takes no --lun" % verb)
    return verb, run, luns


def carry_out(lab, verb, run, luns):
    """The answer of one verb (a dict), or copies.CopyError."""
    if verb == "capabilities":
        return {"protocol": PROTOCOL, "verbs": list(VERBS),
                "consistency_group": bool(copies.option(lab, "consistency_group")),
                "rescan": copies.option(lab, "adapter_rescan")}
    if verb == "copy":
        consistent, made = copies.copy(lab, run, luns)
        return {"run": run, "consistent": consistent, "copies": copies.answer(lab, run, made)}
    if verb == "list":
        return {"run": run, "copies": copies.listing(lab, run)}
    if verb == "release":
        return {"run": run, "released": copies.release(lab, run)}
    if verb == "mirror-state":
        return {"luns": copies.mirror_state(lab, luns)}
    return {"luns": copies.mirror(lab, "break" if verb == "halt" else "reverse", luns)}


def call(lab, argv):
    """(exit code, answer dict, kill_client) of one call; the call is logged."""
    start = time.time()
    kill = None
    try:
        verb, run, luns = parse(argv)
    except Usage as e:
        code, answer = 64, {"error": "%s; usage: %s" % (e, USAGE)}
        verb = argv[0] if argv else ""
    else:
        code = 1
        try:
            after, kill = faults.check(lab, FAULT_SITE, "adapter-" + verb)
            if kill == "before":
                answer = {}
            else:
                answer = carry_out(lab, verb, run, luns)
                util.sleep(after)
                code = 0
        except copies.CopyError as e:
            answer = {"error": str(e)}
        except XapiError as e:
            answer = {"error": e.code + (": " + " ".join(e.params) if e.params else "")}
        except Unreachable:
            answer = {"error": "the array's management interface does not answer"}
        except (LabError, LabNotFound, ValueError, KeyError, IOError, OSError) as e:
            answer = {"error": "lab internal error: %s: %s" % (type(e).__name__, e)}
    entry = {"verb": verb, "args": list(argv), "start": start,
             "duration": time.time() - start, "exit": code, "pid": os.getpid(),
             "ppid": os.getppid()}
    if kill:
        entry["kill_client"] = kill
    _log(lab, entry)
    return code, answer, kill


def _log(lab, entry):
    line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    try:
        fd = os.open(lab.path(LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except (IOError, OSError):
        pass


def calls(lab):
    """The adapter's call log (a list of dicts)."""
    try:
        with open(lab.path(LOG), "rb") as f:
            return [json.loads(line.decode("utf-8")) for line in f if line.strip()]
    except (IOError, OSError):
        return []


def main(lab_dir, argv=None):
    lab = Lab(lab_dir)
    code, answer, kill = call(lab, sys.argv[1:] if argv is None else argv)
    if kill:
        os.kill(os.getppid(), signal.SIGKILL)  # its client (xe-dr) dies here
        if kill == "before":
            return 1
    try:
        sys.stdout.write(json.dumps(answer, sort_keys=True) + "\n")
        sys.stdout.flush()
    except (IOError, OSError):  # its client went away: the change stays made
        pass
    return code
