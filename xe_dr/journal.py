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

from xe_dr.errors import ConfigError, TemporaryError, UsageError
from xe_dr.files import replace_atomically

BEGIN, DONE, FAILED, NOTE = "begin", "done", "failed", "note"


def write_json_atomic(path, payload):
    """Write ``payload`` as JSON to ``path`` whole or not at all; no temporary file is left
    behind when that fails (a full or read-only state directory). Raises OSError."""
    replace_atomically(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def _ensure_dir(path):
    try:
        os.makedirs(path, mode=0o700)
    except OSError as failure:
        if failure.errno != errno.EEXIST:
            raise ConfigError("cannot create the state directory %s: %s" % (path, failure.strerror),
                              hint="choose another with --state-dir")


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
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as failure:
            if failure.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "another xe-dr process"
            handle.close()
            raise TemporaryError("another run holds the lock on this pool: %s" % holder,
                                 hint="wait for it to finish, or resume it with --resume")
        handle.seek(0)
        handle.truncate()
        handle.write("run %s, pid %d on %s\n" % (run_id, os.getpid(), socket.gethostname()))
        handle.flush()
        self._handle = handle
        return self

    def release(self):
        if self._handle is not None:
            self._handle.close()  # closing drops the flock
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
        write_json_atomic(os.path.join(run.dir, "run.json"), meta)
        return run

    @classmethod
    def open(cls, state_dir, run_id):
        path = os.path.join(state_dir, "runs", run_id, "run.json")
        if "/" in run_id or not os.path.exists(path):
            raise UsageError("no run %r in %s" % (run_id, state_dir),
                             hint="'xe-dr runs' lists the runs kept there")
        with open(path, encoding="utf-8") as handle:
            return cls(state_dir, run_id, json.load(handle))

    @classmethod
    def list(cls, state_dir):
        runs_dir = os.path.join(state_dir, "runs")
        if not os.path.isdir(runs_dir):
            return []
        runs = []
        for run_id in sorted(os.listdir(runs_dir)):
            try:
                runs.append(cls.open(state_dir, run_id))
            except (UsageError, ValueError):
                continue  # a half-created directory is not a run
        return runs

    def set_status(self, status, **extra):
        self.meta["status"] = status
        self.meta.update(extra)
        write_json_atomic(os.path.join(self.dir, "run.json"), self.meta)

    def save(self, name, payload):
        """Keep a document of the run (the plan, the report data) beside the journal."""
        write_json_atomic(os.path.join(self.dir, name), payload)

    def load(self, name, default=None):
        path = os.path.join(self.dir, name)
        if not os.path.exists(path):
            return default
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)

    # -- the journal --------------------------------------------------------------------------
    def entries(self):
        """Every journal entry in order. A torn last line (killed mid-write) is ignored."""
        if not os.path.exists(self.journal_path):
            return []
        entries = []
        with open(self.journal_path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    break
        return entries

    def append(self, event, step, **data):
        with self._append_lock:
            if self._seq is None:
                self._seq = len(self.entries())
            self._seq += 1
            entry = {"seq": self._seq, "time": time.time(), "event": event, "step": step}
            if data:
                entry["data"] = data
            self._write_line(json.dumps(entry, sort_keys=True) + "\n")
            _fault_kill_after(self._seq)
        return entry

    def _write_line(self, line):
        # O_APPEND writes of one line are atomic with respect to other writers of this file;
        # fsync makes the entry survive a crash of the machine, not only of the process.
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def step_states(self):
        """step -> last event (begin/done/failed) with its data: the basis of --resume."""
        states = {}
        for entry in self.entries():
            if entry["event"] in (BEGIN, DONE, FAILED):
                states[entry["step"]] = entry
        return states


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
