"""The claim a run puts on the pool it changes, so that a second run is refused wherever it
comes from.

The journal's :class:`~xe_dr.journal.PoolLock` (a flock in the state directory) only excludes
runs that share that directory. Two administrators on two machines, or root's
``/var/lib/xe-dr`` and a user's ``$XDG_STATE_HOME``, would each get their own. So the claim
also lives with the pool: the key ``xe-dr-lock`` in the pool's other-config, added with
``pool-param-add``. xapi makes that add a test-and-set: the master adds a map key under its
database lock and fails with ``MAP_DUPLICATE_KEY`` when the key is already there
(xapi-project/xen-api ``ocaml/database/db_cache_impl.ml`` process_structured_field_locked and
``db_cache_types.ml`` add_to_map; read, not copied). The master's own calls use the
non-idempotent add, so even the same value is refused; a slave's idempotent add accepts an
identical value, which cannot matter because every claim's value names its own run and pid.

The value says who holds the claim: ``run=<id> pid=<pid> host=<client hostname>
machine=<machine id> boot=<boot id> pidns=<pid namespace> start=<process start time>
since=<UTC time>``. A claim whose process is gone is stale; xe-dr can only tell that for a
claim made by this very machine, boot and pid namespace (a hostname is no identity: two
admin machines, or two containers, may share one), and then the process is gone when no
process has its pid, the one that has it started at another time (the pid was reused), or it
is a zombie. Such a claim is taken over, so that ``--resume`` after a kill -9 or a cut works
without help. Any other claim, and one written without these fields (an older xe-dr), is
never broken automatically: the refusal names it and says how to remove it by hand (the run
that made it may still be running over there).
"""

import errno
import os
import socket
import time

from xe_dr.errors import LockHeld, TemporaryError, XeDrError
from xe_dr.journal import PoolLock
from xe_dr.xe.errors import XapiError

LOCK_KEY = "xe-dr-lock"  # other-config key of the pool a run is changing


IDENTITY = ("machine", "boot", "pidns", "start")
#: How often a run waiting for the lock (--wait-lock) asks again: a claim is one xe call.
WAIT_POLL = 2.0


def _first_line(path):
    try:
        with open(path) as handle:
            return handle.readline().strip() or None
    except (IOError, OSError):
        return None


def _start_time(pid):
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat, read
    after the last ')': the command name may hold spaces and parentheses), or None."""
    text = _first_line("/proc/%d/stat" % pid)
    try:
        return text.rsplit(")", 1)[1].split()[19]
    except (AttributeError, IndexError):
        return None


def identity(pid=None):
    """Who a claim's process is, beyond its pid: this machine, its boot and this process's
    pid namespace, and the start time of ``pid`` (None for what cannot be told)."""
    pid = os.getpid() if pid is None else pid
    try:
        pidns = os.readlink("/proc/self/ns/pid").replace(" ", "")
    except OSError:
        pidns = None
    return {"machine": _first_line("/etc/machine-id") or
            _first_line("/var/lib/dbus/machine-id"),
            "boot": _first_line("/proc/sys/kernel/random/boot_id"),
            "pidns": pidns, "start": _start_time(pid)}


def claim_value(run_id, pid=None, host=None, now=None, **who):
    """The claim of process ``pid`` (this one); ``who`` overrides identity fields (tests)."""
    pid = os.getpid() if pid is None else pid
    fields = dict(identity(pid), **who)
    words = ["run=%s" % run_id, "pid=%d" % pid, "host=%s" % (host or socket.gethostname())]
    words += ["%s=%s" % (k, fields[k]) for k in IDENTITY if fields.get(k)]
    words.append("since=%s" % time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                            time.gmtime(now or time.time())))
    return " ".join(words)


def parse_claim(value):
    """The fields of a claim's value (``{}`` for text xe-dr did not write)."""
    fields = {}
    for word in (value or "").split():
        name, sep, text = word.partition("=")
        if sep:
            fields[name] = text
    return fields if "run" in fields else {}


def _process_gone(pid):
    """Whether no live process has this pid on this machine (a zombie is gone: it was killed
    and only waits for its parent to read its status)."""
    try:
        os.kill(pid, 0)
    except OSError as failure:
        return failure.errno == errno.ESRCH
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (IOError, OSError, IndexError):
        return False


def is_stale(fields, here=None):
    """Whether a claim was made on this machine, boot and pid namespace by a process that no
    longer exists. ``here``: this process's identity (for tests)."""
    here = identity() if here is None else here
    if not fields or any(not fields.get(k) or fields.get(k) != here.get(k)
                         for k in ("machine", "boot", "pidns")):
        return False
    try:
        pid = int(fields.get("pid", ""))
    except ValueError:
        return False
    if pid <= 0 or not fields.get("start"):
        return False
    return _process_gone(pid) or _start_time(pid) != fields["start"]


class RunLock(object):
    """Held for the whole of a run that changes a pool: the state directory's flock first (a
    second run from the same directory is refused without a call to xe), then the pool's
    claim. Release in a ``finally``; a claim that cannot be released (the pool went dark) is
    left and taken over by the next run from this machine."""

    def __init__(self, state_dir, xe, pool_uuid, note=lambda text: None):
        self.xe = xe
        self.note = note  # shows the operator a line (a takeover, a claim left behind)
        self.pool_uuid = pool_uuid
        self.local = PoolLock(state_dir, pool_uuid)
        self.value = None
        self.took_over = None  # the stale claim replaced, for the journal

    def acquire(self, run_id, wait=0, clock=time.time, sleep=time.sleep):
        """Take the lock for ``run_id``. Held by another run: refused (TemporaryError, 75),
        or with ``wait`` seconds, asked again every few seconds until it is free or the wait
        is over (--wait-lock: runs of several source pools into one DR pool queue)."""
        deadline = clock() + (wait or 0)
        said = None
        while True:
            try:
                self._acquire_once(run_id)
                return self
            except LockHeld as refusal:
                left = deadline - clock()
                if left <= 0:
                    raise
                holder = refusal.message
                if holder != said:
                    self.note("waiting up to %ds for the lock: %s" % (int(left + 0.5), holder))
                    said = holder
                try:
                    sleep(min(WAIT_POLL, left))
                except KeyboardInterrupt:
                    # Nothing was begun: "resume with --resume RUN" would send the operator
                    # after a run that does not exist.
                    raise TemporaryError("interrupted while waiting for the lock on this "
                                         "pool: nothing was done", hint=holder)

    def _acquire_once(self, run_id):
        self.local.acquire(run_id)
        try:
            self._claim(run_id)
        except BaseException:
            self.local.release()
            raise

    def _claim(self, run_id):
        value = claim_value(run_id)
        try:
            self._add(value)
        except XapiError as failure:
            if failure.code != "MAP_DUPLICATE_KEY":
                raise
            holder = self._holder()
            if holder is None:  # released between our add and our read: try once more
                self._add_or_refuse(value)
            elif is_stale(parse_claim(holder)):
                self._take_over(holder, value)
            else:
                raise self._refusal(holder)
        self.value = value

    def _add(self, value):
        self.xe.param_add("pool", self.pool_uuid, "other-config", {LOCK_KEY: value})

    def _holder(self):
        """The claim on the pool now, None when there is none."""
        try:
            return self.xe.param_get("pool", self.pool_uuid, "other-config", key=LOCK_KEY)
        except XapiError as failure:
            # xe's answer for a key a map does not have (cli_operations.ml param_get:
            # a Failure, printed as INTERNAL_ERROR); anything else is a real failure.
            if failure.code == "INTERNAL_ERROR" and "not found in map" in " ".join(
                    failure.params):
                return None
            raise

    def _take_over(self, stale, value):
        # Remove, then add again: if another process took the stale claim in between, the add
        # fails and this run is refused like any second run.
        self.note("taking over a stale lock on this pool (its process is gone): %s" % stale)
        try:
            self.xe.param_remove("pool", self.pool_uuid, "other-config", LOCK_KEY)
        except XapiError:
            pass  # already removed by someone else; the add decides
        self._add_or_refuse(value)
        self.took_over = stale

    def _add_or_refuse(self, value):
        try:
            self._add(value)
        except XapiError as failure:
            if failure.code != "MAP_DUPLICATE_KEY":
                raise
            raise self._refusal(self._holder() or "another run")

    def _refusal(self, holder):
        fields = parse_claim(holder)
        who = holder if not fields else "run %s (pid %s on %s, since %s)" % (
            fields.get("run"), fields.get("pid", "?"), fields.get("host", "?"),
            fields.get("since", "?"))
        return LockHeld(
            "another run holds the lock on this pool: %s" % who,
            hint="wait for it to finish or resume it with --resume on the machine that ran it; "
                 "if that run is certainly dead, remove its claim with 'xe pool-param-remove "
                 "uuid=%s param-name=other-config param-key=%s'" % (self.pool_uuid, LOCK_KEY))

    def release(self):
        try:
            if self.value is not None and self._holder() == self.value:
                self.xe.param_remove("pool", self.pool_uuid, "other-config", LOCK_KEY)
        except XeDrError as failure:
            # Never hide the run's own outcome behind this: the claim is stale once this
            # process ends, and the next run from this machine takes it over.
            self.note("could not remove this run's lock from the pool (the next run from this "
                      "machine takes it over): %s" % failure.one_line())
        finally:
            self.value = None
            self.local.release()
