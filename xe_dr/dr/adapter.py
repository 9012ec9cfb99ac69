"""The storage adapter protocol: xe-dr's client for an array's point-in-time copies.

An adapter is an executable on the admin machine (where xe-dr runs), run as an argv list
(never through a shell) by the local runner, so a Ctrl-C treats it as any other command:

    ADAPTER VERB [--run RUN_ID] [--lun SCSIID]...

It reads nothing secret from xe-dr (its own configuration holds the array's credentials)
and writes ONE JSON object on stdout: exit 0 with the answer, non-zero with
``{"error": "one line"}`` (or a message on stderr). xe-dr kills it after ``timeout`` seconds.

Verbs and answers (man xe-dr, STORAGE ADAPTERS):

- ``capabilities`` -> ``{"protocol": 1, "verbs": [...], "consistency_group": bool,
  "rescan": "adapter"|"xe-dr"|"none"}``
- ``copy --run RUN --lun SCSIID...`` -> ``{"run", "consistent": bool, "copies": [COPY...]}``
  with COPY ``{"replica", "scsiid", "transport": "iscsi"|"fc", "target", "iqn", "port"}``
  (target, iqn and port for iSCSI): writable point-in-time copies of the replica LUNs
  presented to the DR hosts instead of the replicas; idempotent per run id.
- ``list --run RUN`` -> ``{"run", "copies": [COPY...]}`` (``[]`` when none)
- ``release --run RUN`` -> ``{"run", "released": [SCSIID...]}``; idempotent.
- optional ``mirror-state --lun...``, ``halt --lun...``, ``reverse --lun...`` ->
  ``{"luns": [{"lun", "state": "mirroring"|"broken"|"reversed", "source"}]}`` (halt and
  reverse answer the state they leave).

Every answer is checked here (missing keys, wrong types, a copy of a LUN not asked...): a
wrong one raises :class:`AdapterError` naming the adapter, the verb and what was wrong.
"""

import json
import os

from xe_dr.errors import AdapterError
from xe_dr.exitcodes import ExitCode
from xe_dr.runner.base import CommandTimedOut, ProgramNotFound, TransportFailed
from xe_dr.runner.local import LocalRunner
from xe_dr.text import printable

from xe_dr.dr.steps import Call

PROTOCOL = 1
DEFAULT_TIMEOUT = 300.0
REQUIRED_VERBS = ("capabilities", "copy", "list", "release")
OPTIONAL_VERBS = ("mirror-state", "halt", "reverse")
RESCAN = ("adapter", "xe-dr", "none")
TRANSPORTS = ("iscsi", "fc")
MIRROR_STATES = ("mirroring", "broken", "reversed")
# How much of an adapter's stderr a message quotes (its last line, this long at most).
_QUOTE_CHARS = 300


class InconsistentCopies(AdapterError):
    """``copy`` made copies of several LUNs, but not at one consistency point: they exist
    on the array and must be released (the caller's business)."""


class Capabilities(dict):
    """The validated ``capabilities`` answer (a dict), knowing which adapter gave it."""

    def __init__(self, answer, adapter):
        super(Capabilities, self).__init__(answer)
        self.adapter = adapter

    def supports(self, verb):
        return verb in self["verbs"]


class StorageAdapter(object):
    """One adapter executable. ``runner``: a local runner (default a new
    :class:`LocalRunner`; give one with a ``log`` to record each call); ``timeout``: seconds
    each call may take before the adapter is killed; ``secrets``: values (the CHAP passwords
    of the invocation) that no variable of the default runner's environment may hold: the
    adapter gets nothing secret (--chap-password-env puts one in xe-dr's environment)."""

    def __init__(self, path, runner=None, timeout=DEFAULT_TIMEOUT, secrets=()):
        if not path:
            raise ValueError("no storage adapter path")
        self.path = path
        secrets = set(s for s in secrets if s)
        self.runner = runner if runner is not None else LocalRunner(env=dict(
            (k, v) for k, v in os.environ.items() if v not in secrets) if secrets else None)
        self.timeout = float(timeout)

    def __repr__(self):
        return "StorageAdapter(%r)" % (self.path,)

    # -- the verbs -------------------------------------------------------------------------

    def capabilities(self):
        answer = self._call("capabilities")
        check = _Checker(self, "capabilities", answer)
        protocol = check.field(answer, "protocol", int)
        if protocol != PROTOCOL:
            check.fail("speaks protocol %s; xe-dr speaks protocol %d" % (protocol, PROTOCOL))
        verbs = check.strings(answer, "verbs")
        missing = [v for v in REQUIRED_VERBS if v not in verbs]
        if missing:
            check.fail("'verbs' lacks %s" % ", ".join(missing))
        group = check.field(answer, "consistency_group", bool)
        rescan = check.choice(answer, "rescan", RESCAN)
        return Capabilities({"protocol": protocol, "verbs": verbs, "consistency_group": group,
                             "rescan": rescan}, self.path)

    def copy(self, run_id, luns):
        """Writable copies of ``luns`` (the replicas' SCSI ids as the DR site sees them), all
        at one consistency point. Copies of several LUNs that the adapter says are not
        consistent are refused (InconsistentCopies): the caller releases the run."""
        luns = _luns(luns)
        answer = self._call("copy", run_id, luns)
        check = _Checker(self, "copy", answer)
        check.run(answer, run_id)
        consistent = check.field(answer, "consistent", bool)
        copies = check.copies(answer, asked=luns)
        if len(luns) > 1 and not consistent:
            raise InconsistentCopies(
                "%s: the copies of %d LUNs were not taken at one consistency point"
                % (check.where, len(luns)), hint="drill one LUN at a time or use an array "
                "with consistency groups")
        return {"run": run_id, "consistent": consistent, "copies": copies}

    def list(self, run_id):
        answer = self._call("list", run_id)
        check = _Checker(self, "list", answer)
        check.run(answer, run_id)
        return {"run": run_id, "copies": check.copies(answer)}

    def release(self, run_id):
        answer = self._call("release", run_id)
        check = _Checker(self, "release", answer)
        check.run(answer, run_id)
        released = check.strings(answer, "released")
        return {"run": run_id, "released": released}

    def mirror_state(self, luns):
        return self._mirror("mirror-state", luns)

    def halt(self, luns):
        return self._mirror("halt", luns)

    def reverse(self, luns):
        return self._mirror("reverse", luns)

    # -- running it ------------------------------------------------------------------------

    def argv(self, verb, run_id=None, luns=()):
        """The command line of one call."""
        argv = [self.path, verb]
        if run_id is not None:
            if not isinstance(run_id, str) or not run_id or run_id.startswith("-") or \
                    any(c.isspace() for c in run_id):
                raise ValueError("not a run id: %r" % (run_id,))
            argv += ["--run", run_id]
        for lun in luns:
            argv += ["--lun", lun]
        return argv

    def _mirror(self, verb, luns):
        luns = _luns(luns)
        answer = self._call(verb, None, luns)
        check = _Checker(self, verb, answer)
        entries = check.field(answer, "luns", list)
        out = []
        seen = set()
        for entry in entries:
            if not isinstance(entry, dict):
                check.fail("an entry of 'luns' is not an object")
            lun = check.field(entry, "lun", str, where="luns")
            if lun not in luns:
                check.fail("answers for LUN %s, which was not asked" % lun)
            if lun in seen:
                check.fail("answers twice for LUN %s" % lun)
            seen.add(lun)
            out.append({"lun": lun,
                        "state": check.choice(entry, "state", MIRROR_STATES, where="luns"),
                        "source": check.field(entry, "source", str, where="luns")})
        missing = [lun for lun in luns if lun not in seen]
        if missing:
            check.fail("no state for LUN %s" % ", ".join(missing))
        return {"luns": out}

    def _call(self, verb, run_id=None, luns=()):
        argv = self.argv(verb, run_id, luns)
        where = "storage adapter %s %s" % (self.path, verb)
        try:
            result = self.runner.run(argv, timeout=self.timeout, check=False)
        except CommandTimedOut:
            raise AdapterError(
                "%s: no answer within %gs; it was killed" % (where, self.timeout),
                hint="retry; what the array made meanwhile is found again with list",
                exit_code=ExitCode.TEMPORARY)
        except ProgramNotFound as e:
            # the runner's "cannot run PATH: <strerror>" (3.6's strerror adds ": 'PATH'")
            reason = e.message.replace("cannot run %s: " % self.path, "", 1)
            reason = reason.replace(": %r" % self.path, "")
            raise AdapterError("%s: cannot run it (%s)" % (where, reason),
                               hint="give the path of an executable adapter",
                               exit_code=ExitCode.CONFIG)
        except TransportFailed as e:
            raise AdapterError("%s: %s" % (where, e.message))
        answer, problem = _parse(result.stdout)
        error = answer.get("error") if isinstance(answer, dict) else None
        if result.exit_code != 0 or error is not None:
            if isinstance(error, str) and error.strip():
                reason = _one_line(error)
            else:
                reason = _last_line(result.stderr) or "no message"
            raise AdapterError("%s failed%s: %s" % (
                where, " (exit %d)" % result.exit_code if result.exit_code else "", reason))
        if problem:
            raise AdapterError("%s: %s" % (where, problem),
                               hint="an adapter writes one JSON object on stdout")
        return answer


def refuse_inconsistent(capabilities, luns):
    """Refuse (AdapterError, usage exit) copies of several LUNs from an adapter whose array
    has no consistency group: a VM's disks on two LUNs, or its disks and the metadata LUN,
    would come from different instants. One LUN is fine."""
    luns = sorted(set(luns))
    if len(luns) > 1 and not capabilities["consistency_group"]:
        adapter = getattr(capabilities, "adapter", None) or "the storage adapter"
        raise AdapterError(
            "storage adapter %s cannot copy %d LUNs at one consistency point "
            "(consistency_group is false), so their copies would not match"
            % (adapter, len(luns)),
            hint="drill VMs whose disks and metadata are on one LUN, or use an adapter "
                 "for an array with consistency groups", exit_code=ExitCode.USAGE)


def rescan_calls(capabilities, copies, host_uuids):
    """The xe calls that make FC copies visible when the adapter leaves it to xe-dr
    (``rescan`` "xe-dr"): on each DR host an ``sr-probe type=lvmohba`` without a SCSI id,
    which has sm rescan every HBA of that host (LVHDoHBASR.load -> HBASR.print_devs ->
    devscan.adapters -> scsiutil.rescan). It answers SR_BACKEND_FAILURE_107 with the device
    list on stderr, by design: that is its success. None for iSCSI (sm rescans the session
    at each probe and plug) or when the adapter rescans."""
    if capabilities["rescan"] != "xe-dr":
        return []
    if not any(c["transport"] == "fc" for c in copies):
        return []
    return [Call("sr-probe", {"type": "lvmohba", "host-uuid": host}) for host in host_uuids]


# -- parsing and checking ------------------------------------------------------------------

def _luns(luns):
    if isinstance(luns, str):
        raise TypeError("luns is a list of SCSI ids, not one string")
    luns = list(luns)
    if not luns:
        raise ValueError("no LUN given")
    for lun in luns:
        if not isinstance(lun, str) or not lun or lun.startswith("-") or \
                any(c.isspace() for c in lun):
            raise ValueError("not a SCSI id: %r" % (lun,))
    if len(set(luns)) != len(luns):
        raise ValueError("a LUN is named twice: %s" % ", ".join(luns))
    return luns


def _one_line(text):
    return printable(" ".join(text.split()))[:_QUOTE_CHARS]


def _last_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return _one_line(lines[-1]) if lines else ""


def _parse(stdout):
    """(answer, problem): the one JSON object of stdout, or what is wrong with it."""
    text = stdout.strip()
    if not text:
        return None, "no answer on stdout"
    try:
        answer = json.loads(text)
    except ValueError:
        return None, "its answer is not one JSON object: %s" % _one_line(text[:80])
    if not isinstance(answer, dict):
        return None, "its answer is %s, not an object" % _kind(answer)
    return answer, None


class _Checker(object):
    """Checks one answer; every failure is an AdapterError naming the adapter and verb."""

    def __init__(self, adapter, verb, answer):
        self.where = "storage adapter %s %s" % (adapter.path, verb)

    def fail(self, problem, hint=None):
        raise AdapterError("%s: %s" % (self.where, printable(problem)),
                           hint=hint or "fix the adapter: man xe-dr, STORAGE ADAPTERS")

    def field(self, obj, key, kind, where=None):
        label = "'%s'%s" % (key, " of an entry of '%s'" % where if where else "")
        if key not in obj:
            self.fail("the answer has no %s" % label)
        value = obj[key]
        # bool is an int in Python: neither stands for the other here.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail("%s is %s, not %s" % (label, _kind(value), _KIND_NAMES.get(kind)))
        if kind is str and not value.strip():
            self.fail("%s is empty" % label)
        return value

    def choice(self, obj, key, choices, where=None):
        value = self.field(obj, key, str, where)
        if value not in choices:
            self.fail("'%s' is %r, not one of %s" % (key, value, ", ".join(choices)))
        return value

    def strings(self, obj, key):
        values = self.field(obj, key, list)
        for value in values:
            if not isinstance(value, str) or not value:
                self.fail("'%s' holds %s, not only strings" % (key, _kind(value)))
        return list(values)

    def run(self, answer, run_id):
        run = self.field(answer, "run", str)
        if run != run_id:
            self.fail("answers for run %s, not %s" % (run, run_id))

    def copies(self, answer, asked=None):
        entries = self.field(answer, "copies", list)
        out = []
        seen = {}
        for entry in entries:
            if not isinstance(entry, dict):
                self.fail("an entry of 'copies' is %s, not an object" % _kind(entry))
            replica = self.field(entry, "replica", str, where="copies")
            scsiid = self.field(entry, "scsiid", str, where="copies")
            transport = self.choice(entry, "transport", TRANSPORTS, where="copies")
            if asked is not None and replica not in asked:
                self.fail("gives a copy of LUN %s, which was not asked" % replica)
            if replica in seen:
                self.fail("gives two copies of LUN %s" % replica)
            if scsiid == replica or scsiid in seen.values():
                self.fail("gives SCSI id %s twice: a copy has a SCSI id of its own" % scsiid)
            seen[replica] = scsiid
            copy = {"replica": replica, "scsiid": scsiid, "transport": transport,
                    "target": None, "iqn": None, "port": None}
            if transport == "iscsi":
                copy["target"] = self.field(entry, "target", str, where="copies")
                copy["iqn"] = self.field(entry, "iqn", str, where="copies")
                port = self.field(entry, "port", int, where="copies")
                if not 0 < port < 65536:
                    self.fail("'port' %d of the copy of LUN %s is not a TCP port"
                              % (port, replica))
                copy["port"] = port
            out.append(copy)
        if asked is not None:
            missing = [lun for lun in asked if lun not in seen]
            if missing:
                self.fail("gives no copy of LUN %s" % ", ".join(missing))
        # A "copy" that is one of the replicas: the drill would boot on the replica itself
        # and write to it.
        replicas = set(seen) | set(asked or ())
        for replica, scsiid in sorted(seen.items()):
            if scsiid in replicas:
                self.fail("gives LUN %s, a replica, as the copy of LUN %s: a copy has a SCSI "
                          "id of its own" % (scsiid, replica))
        return out


_KIND_NAMES = {int: "an integer", bool: "true or false", str: "a string", list: "a list",
               dict: "an object"}


def _kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    for kind in (int, float, str, list, dict):
        if isinstance(value, kind):
            return {float: "a number"}.get(kind) or _KIND_NAMES[kind]
    return type(value).__name__
