"""Runs, their journals and the per-pool lock.

A run lives in ``<state-dir>/runs/<run-id>/``:

- ``run.json``: what the run is (kind, target pool, who, from where, the command line with
  secrets redacted, its options), rewritten atomically when its status changes;
- ``journal.jsonl``: one JSON object per line, appended and fsync'd *before* each step
  starts ("begin") and after it ends ("done"/"failed"). A step that has a "begin" and no end
  was interrupted: the workflow reconciles it against the pool before doing it again.

The lock is ``<state-dir>/locks/<pool-uuid>.lock`` held with ``flock`` for the whole run; a
second run against the same pool fails at once with exit 75 instead of waiting.
"""

import errno
import fcntl
import getpass
import json
import os
import random
import signal
import socket
import threading
import time

from xe_dr.errors import ConfigError, LockHeld, UsageError, XeDrError
from xe_dr.files import replace_atomically

BEGIN, DONE, FAILED, NOTE = "begin", "done", "failed", "note"


def write_json_atomic(path, payload):
    """Write ``payload`` as JSON to ``path`` whole or not at all; no temporary file is left
    behind when that fails (a full or read-only state directory). Raises OSError."""
    replace_atomically(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


class StateWriteError(ConfigError):
    """The state directory could not be written (full, read-only, gone): exit 78. Raised
    before a change when a run cannot start, or mid-run, where the run stops as if it had
    been interrupted at its last journal entry."""


def _state_write(what, path, hint):
    """A context manager turning an OSError while writing ``path`` into a StateWriteError."""
    return _StateWrite(what, path, hint)


class _StateWrite(object):
    def __init__(self, what, path, hint):
        self.what, self.path, self.hint = what, path, hint

    def __enter__(self):
        return self

    def __exit__(self, kind, failure, tb):
        if isinstance(failure, (IOError, OSError)) and not isinstance(failure, XeDrError):
            raise StateWriteError("cannot write %s (%s): %s" % (
                self.what, self.path, failure.strerror or failure), hint=self.hint)
        return False


def _stopped_hint(run):
    """What to do when ``run`` can no longer write to the state directory: the command that
    goes on from its last journal entry once there is room."""
    kind = run.meta.get("kind")
    if kind in ("test", "failover", "failback", "planned"):
        again = "resume it with 'xe-dr %s --resume %s' (or undo it with 'xe-dr cleanup %s')" \
            % ("failback" if kind == "failback" else "failover", run.id, run.id)
    elif kind == "cleanup" and (run.meta.get("options") or {}).get("of"):
        again = "run 'xe-dr cleanup %s' again" % run.meta["options"]["of"]
    else:
        again = "run the command again"
    return "run %s stopped at its last journal entry, as if interrupted: make room in the " \
           "state directory %s (or make it writable), then %s" % (run.id, run.state_dir, again)


_NOT_STARTED = "nothing was changed: make room in it, make it writable, or choose another " \
               "with --state-dir"


class BrokenRun(ConfigError):
    """A run directory whose ``run.json`` is missing, unreadable or not a run's (exit 78)."""

    def __init__(self, directory, problem):
        runs_dir, run_id = os.path.split(os.path.normpath(directory))
        super(BrokenRun, self).__init__(
            "run %s cannot be read: %s" % (run_id, problem),
            hint="restore its run.json, or move %s out of %s to set it aside"
                 % (run_id, runs_dir))
        self.run_id = run_id
        self.problem = problem


class UnreadableDocument(ConfigError):
    """A document of a run (plan.json, report.json) that is there but cannot be read."""

    def __init__(self, run, name, problem):
        super(UnreadableDocument, self).__init__(
            "%s of run %s cannot be read (%s)" % (name, run.id, problem),
            hint="restore it from a backup of the state directory %s" % run.state_dir)
        self.name = name
        self.problem = problem


# The fields every run.json has (Run.create writes them), with their types.
_META_FIELDS = (("kind", (str,)), ("status", (str,)), ("target", (dict,)),
                ("created", (int, float)))
_OPTIONAL_FIELDS = (("id", (str,)), ("options", (dict,)), ("argv", (list,)),
                    ("ended", (int, float, type(None))))


def read_meta(directory):
    """The ``run.json`` of a run directory, checked; raises BrokenRun saying what is wrong."""
    path = os.path.join(directory, "run.json")
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except (IOError, OSError) as failure:
        if failure.errno == errno.ENOENT:
            raise BrokenRun(directory, "it has no run.json (a run that never started, or "
                                       "not a run)")
        raise BrokenRun(directory, "run.json: %s" % (failure.strerror or failure))
    if not raw.strip():
        raise BrokenRun(directory, "run.json is empty")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as failure:
        raise BrokenRun(directory, "run.json is not valid JSON (%s)" % failure)
    if not isinstance(meta, dict):
        raise BrokenRun(directory, "run.json holds a %s, not a run's record (an object)"
                        % type(meta).__name__)
    for name, types in _META_FIELDS + _OPTIONAL_FIELDS:
        required = (name, types) in _META_FIELDS
        if name not in meta and not required:
            continue
        value = meta.get(name)
        if name not in meta or isinstance(value, bool) or not isinstance(value, types):
            raise BrokenRun(directory, "run.json has %s %s" % (
                "no" if name not in meta else "a wrong", repr(name) if name not in meta
                else "%r (%s)" % (name, type(value).__name__)))
    return meta


def _ensure_dir(path):
    try:
        os.makedirs(path, mode=0o700)
    except OSError as failure:
        if failure.errno != errno.EEXIST:
            raise ConfigError("cannot create the state directory %s: %s" % (path, failure.strerror),
                              hint="choose another with --state-dir")


def check_state_dir(path):
    """ConfigError (exit 78) when ``path`` is not a directory and can never be one (it, or
    the nearest of its parents that exists, is a file). A path that does not exist yet is
    fine: it is made when a run needs it."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return
        probe = parent
    if not os.path.isdir(probe):
        raise ConfigError("the state directory %s is not a directory (%s is a file)"
                          % (path, probe) if probe != os.path.abspath(path) else
                          "the state directory %s is not a directory" % path,
                          hint="choose another with --state-dir or XE_DR_STATE_DIR")


def new_run_id(kind, now=None):
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now or time.time()))
    return "%s-%s-%04x" % (stamp, kind, random.getrandbits(16))


class PoolLock(object):
    """An exclusive, non-blocking lock on one target pool, released when the process ends."""

    def __init__(self, state_dir, pool_uuid):
        self.path = os.path.join(state_dir, "locks", "%s.lock" % pool_uuid)
        self._handle = None

    def acquire(self, run_id):
        _ensure_dir(os.path.dirname(self.path))
        with _state_write("the lock file", self.path, _NOT_STARTED):
            handle = open(self.path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as failure:
            if failure.errno not in (errno.EAGAIN, errno.EACCES):
                handle.close()
                raise
            handle.seek(0)
            holder = handle.read().strip() or "another xe-dr process"
            handle.close()
            raise LockHeld("another run holds the lock on this pool: %s" % holder,
                                 hint="wait for it to finish, or resume it with --resume")
        try:
            with _state_write("the lock file", self.path, _NOT_STARTED):
                handle.seek(0)
                handle.truncate()
                handle.write("run %s, pid %d on %s\n" % (run_id, os.getpid(),
                                                         socket.gethostname()))
                handle.flush()
        except BaseException:
            try:
                handle.close()
            except (IOError, OSError):
                pass  # the buffered line cannot be written either
            raise
        self._handle = handle
        return self

    def release(self):
        if self._handle is not None:
            try:
                self._handle.close()  # closing drops the flock
            except (IOError, OSError):
                pass  # nothing left to write; the descriptor is closed all the same
            self._handle = None


class Run(object):
    """One journaled run. Create with :meth:`create`, reopen with :meth:`open`."""

    def __init__(self, state_dir, run_id, meta):
        self.state_dir = state_dir
        self.id = run_id
        self.meta = meta
        self.dir = os.path.join(state_dir, "runs", run_id)
        self.journal_path = os.path.join(self.dir, "journal.jsonl")
        self._seq = None
        self._append_lock = threading.Lock()  # workflows journal from several threads

    # -- lifecycle ----------------------------------------------------------------------------
    @classmethod
    def create(cls, state_dir, kind, target, argv=(), options=None, now=None, run_id=None):
        run_id = run_id or new_run_id(kind, now)
        meta = {
            "id": run_id,
            "kind": kind,
            "target": target,          # {"pool_uuid", "pool_name", "transport", "host"}
            "user": _user(),
            "client_host": socket.gethostname(),
            "argv": list(argv),        # already redacted by the caller
            "options": options or {},
            "created": now or time.time(),
            "status": "running",
        }
        run = cls(state_dir, run_id, meta)
        _ensure_dir(run.dir)
        try:
            with _state_write("a new run", run.dir, _NOT_STARTED):
                write_json_atomic(os.path.join(run.dir, "run.json"), meta)
        except StateWriteError:
            try:
                os.rmdir(run.dir)  # no run is left half-made
            except OSError:
                pass
            raise
        return run

    @classmethod
    def open(cls, state_dir, run_id):
        """The run ``run_id``: UsageError when there is none, BrokenRun when its run.json
        cannot be read."""
        directory = os.path.join(state_dir, "runs", run_id)
        if "/" in run_id or run_id in ("", ".", "..") or not os.path.isdir(directory):
            raise UsageError("no run %r in %s" % (run_id, state_dir),
                             hint="'xe-dr runs' lists the runs kept there")
        return cls(state_dir, run_id, read_meta(directory))

    @classmethod
    def list(cls, state_dir):
        return cls.scan(state_dir)[0]

    @classmethod
    def scan(cls, state_dir):
        """(the runs kept in ``state_dir``, [BrokenRun] for each directory that is not a
        readable run), both in the order of their ids."""
        check_state_dir(state_dir)
        runs_dir = os.path.join(state_dir, "runs")
        try:
            names = sorted(os.listdir(runs_dir))
        except OSError as failure:
            if failure.errno == errno.ENOENT:
                return [], []
            raise ConfigError("cannot read the state directory %s: %s"
                              % (runs_dir, failure.strerror),
                              hint="choose another with --state-dir")
        runs, broken = [], []
        for run_id in names:
            if run_id.startswith(".") or not os.path.isdir(os.path.join(runs_dir, run_id)):
                continue
            try:
                runs.append(cls.open(state_dir, run_id))
            except BrokenRun as failure:
                broken.append(failure)
        return runs, broken

    def set_status(self, status, **extra):
        self.meta["status"] = status
        self.meta.update(extra)
        path = os.path.join(self.dir, "run.json")
        with _state_write("the run's record", path, _stopped_hint(self)):
            write_json_atomic(path, self.meta)

    def save(self, name, payload):
        """Keep a document of the run (the plan, the report data) beside the journal."""
        path = os.path.join(self.dir, name)
        with _state_write("the run's " + name, path, _stopped_hint(self)):
            write_json_atomic(path, payload)

    def load(self, name, default=None):
        """A document kept by :meth:`save` (a JSON object), or ``default`` when there is
        none; UnreadableDocument (exit 78) when it cannot be read."""
        path = os.path.join(self.dir, name)
        if not os.path.exists(path):
            return default
        try:
            with open(path, "rb") as handle:
                value = json.loads(handle.read().decode("utf-8"))
        except (IOError, OSError) as failure:
            raise UnreadableDocument(self, name, failure.strerror or str(failure))
        except (ValueError, UnicodeDecodeError) as failure:
            raise UnreadableDocument(self, name, "not valid JSON: %s" % failure)
        if not isinstance(value, dict):
            raise UnreadableDocument(self, name, "a %s, not a JSON object"
                                     % type(value).__name__)
        return value

    # -- the journal --------------------------------------------------------------------------
    def entries(self):
        """Every journal entry in order (:func:`read_journal`: a torn line is left out)."""
        try:
            return read_journal(self.journal_path).entries
        except (IOError, OSError) as failure:
            raise ConfigError("cannot read the journal of run %s (%s): %s" % (
                self.id, self.journal_path, failure.strerror or failure),
                hint="make it readable, or move %s out of %s to set the run aside"
                     % (self.id, os.path.dirname(self.dir)))

    def append(self, event, step, **data):
        with self._append_lock:
            if self._seq is None:
                seqs = [e["seq"] for e in self.entries()
                        if isinstance(e.get("seq"), int) and not isinstance(e["seq"], bool)]
                self._seq = max(seqs) if seqs else 0
            self._seq += 1
            entry = {"seq": self._seq, "time": time.time(), "event": event, "step": step}
            if data:
                entry["data"] = data
            try:
                with _state_write("the journal", self.journal_path,
                                  _stopped_hint(self)):
                    _append_line(self.journal_path, json.dumps(entry, sort_keys=True) + "\n")
            except StateWriteError:
                self._seq -= 1  # not written: the next entry takes its number
                raise
            _fault_kill_after(self._seq)
        return entry

    def step_states(self):
        """step -> last event (begin/done/failed) with its data: the basis of --resume."""
        states = {}
        for entry in self.entries():
            if entry["event"] in (BEGIN, DONE, FAILED):
                states[entry["step"]] = entry
        return states


class Journal(object):
    """What :func:`read_journal` found: ``entries`` in order, ``torn`` (lines a write cut
    short: they do not parse) and ``foreign`` (lines that parse but are no entry)."""

    def __init__(self, entries, torn, foreign, torn_last):
        self.entries = entries
        self.torn = torn
        self.foreign = foreign
        self.torn_last = torn_last  # the last line has no end: the write was cut there

    def problems(self):
        """What a reader should be told, in sentences (empty for a sound journal)."""
        problems = []
        if self.torn_last:
            problems.append("the journal's last line is torn (the process stopped while "
                            "writing it): it was left out")
        if self.torn - self.torn_last:
            problems.append("%d torn journal line(s) (a write cut short by a crash) were left "
                            "out" % (self.torn - self.torn_last))
        if self.foreign:
            problems.append("%d journal line(s) could not be read and were left out"
                            % self.foreign)
        return problems


def read_journal(path):
    """The journal at ``path``, read the one way every reader (resume, cleanup, the report)
    reads it. A line that does not parse is a write cut short (an entry is always written
    whole, so only a crash tears one): it is left out wherever it is, and the entries after
    it, written by a resume on a line of their own, count. A missing journal has no entries."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except (IOError, OSError) as failure:
        if failure.errno == errno.ENOENT:
            return Journal([], 0, 0, False)
        raise
    lines = raw.split(b"\n")  # the last one is empty unless the last write was cut short
    entries, torn, foreign, torn_last = [], 0, 0, False
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            entry = json.loads(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            torn += 1
            torn_last = number == len(lines) - 1
            continue
        if isinstance(entry, dict) and isinstance(entry.get("step"), str) and \
                isinstance(entry.get("event"), str):
            entries.append(entry)
        else:
            foreign += 1
    return Journal(entries, torn, foreign, torn_last)


def _append_line(path, line):
    """Append ``line`` to the journal at ``path`` whole or not at all.

    A short write (a full disk, a file size limit) is followed by one for the rest, whose
    failure says why; the file is then cut back to where it was, and the OSError raised. A
    line torn before (a crash in the middle of a write, or a cut that failed) is ended
    first, so that this entry is a line of its own. O_APPEND writes are atomic with respect
    to other writers of this file; fsync makes the entry survive a crash of the machine."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        start = os.fstat(fd).st_size
        data = line.encode("utf-8")
        if start and os.pread(fd, 1, start - 1) != b"\n":
            data = b"\n" + data
        written = 0
        try:
            while written < len(data):
                count = os.write(fd, data[written:])
                if count <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                written += count
        except OSError:
            if written:
                try:
                    os.ftruncate(fd, start)
                except OSError:
                    pass  # the torn line stays; the next entry starts after it
            raise
        os.fsync(fd)
    finally:
        os.close(fd)


def _fault_kill_after(seq):
    """Fault injection for the crash tests: with XE_DR_FAULT_KILL_AFTER_ENTRY=N the process
    kills itself with SIGKILL right after journal entry N is on disk, the way a power cut or
    kill -9 would stop it there. Unset (always, outside tests) it does nothing."""
    wanted = os.environ.get("XE_DR_FAULT_KILL_AFTER_ENTRY")
    if wanted and wanted.isdigit() and int(wanted) == seq:
        os.kill(os.getpid(), signal.SIGKILL)


def _user():
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in a container: say so rather than fail a DR run
        return "uid %d" % os.getuid()
