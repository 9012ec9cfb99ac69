"""What every run does around its steps, in one place for failover, test, failback and cleanup.

- The pool's lock is taken before the run exists, so that a run refused because another holds
  the pool leaves nothing behind; anything failing between the lock and the run's record
  releases it (:func:`claim`).
- However a run ends (done, blocked, stopped by an error, ^C) its status and its report are
  recorded (:func:`finished`, :func:`stopped`); a state directory that cannot be written any
  more leaves the run as if interrupted, and the reason it stopped is still what the operator
  sees.
- Rendering the report beside report.json is the caller's ``publish(run)`` (the presentation
  layer's writer): a workflow never imports presentation.
"""

import time

from xe_dr import interrupt
from xe_dr.dr.lock import RunLock
from xe_dr.errors import TemporaryError
from xe_dr.journal import NOTE, StateWriteError


class RunInterrupted(TemporaryError):
    """A run stopped by Ctrl-C (exit 75): its message names the run, its hint the command
    that goes on with it."""

    run_status = "interrupted"


def interrupted(run_id, stop, command, verb="resume it with"):
    """The error a run stopped by ``stop`` (a KeyboardInterrupt) ends with: which run, what
    became of the calls under way (xe_dr/interrupt.py), and the command that goes on."""
    if isinstance(stop, interrupt.Abandoned):
        how = ("stopped at once (a second Ctrl-C): the xe calls under way go on at the pool, "
               "and their steps are checked against it when the run goes on")
    elif isinstance(stop, interrupt.Interrupted):
        how = "stopped between two steps (Ctrl-C): every call under way was let finish"
    else:
        how = "interrupted"
    return RunInterrupted("run %s %s" % (run_id, how), hint="%s '%s'" % (verb, command))


def unless_state_fails(record):
    """Record how a run stopped, unless the state directory cannot take it."""
    try:
        record()
    except StateWriteError:
        pass


def claim(state_dir, xe, pool_uuid, run_id, note, open_run, wait=0):
    """Take the pool's lock for ``run_id`` (waiting up to ``wait`` seconds for another run
    holding it), then ``open_run()`` (checks, then the run created or reopened; returns the
    Run). Anything raised in between releases the lock. Returns (lock, run); the caller
    releases the lock when the run stops."""
    lock = RunLock(state_dir, xe, pool_uuid, note=note)
    lock.acquire(run_id, wait=wait)
    try:
        run = open_run()
        if lock.took_over:
            run.append(NOTE, "stale lock taken over", holder=lock.took_over)
    except BaseException:
        lock.release()  # a run refused, or one that cannot be recorded, leaves no claim
        raise
    return lock, run


class Publisher(object):
    """Saves a run's report.json (with its journal) and has ``publish(run)`` render it; a
    problem rendering it (a missing optional package) is a note, never a failure."""

    def __init__(self, publish=None, note=lambda text: None):
        self.publish = publish
        self.note = note

    def save(self, run, report):
        if run is None:
            return
        report["journal"] = run.entries()
        run.save("report.json", report)
        problem = self.publish(run) if self.publish is not None else None
        if problem:
            self.note(problem)

    def refresh(self, run):
        """Render the report of ``run`` again, its status changed by another run (cleaned
        up): the files in its directory must not tell what was true before."""
        problem = self.publish(run) if self.publish is not None and run is not None else None
        if problem:
            self.note(problem)

    def finished(self, run, report, outcome, ended=True, **status):
        """The run ended as ``outcome`` (succeeded, partly failed, failed, blocked)."""
        report["outcome"] = outcome
        if ended:
            status["ended"] = time.time()
        run.set_status(outcome, **status)
        self.save(run, report)

    def stopped(self, run, report, failure=None, ended=False):
        """The run stopped on ``failure`` (an XeDrError; None: interrupted, ^C). The run can
        be resumed; its status, a "stopped" note and the report say why."""
        if failure is None:
            status, error = "interrupted", None
        else:
            status, error = getattr(failure, "run_status", "failed"), failure.one_line()
        report["outcome"] = status
        report["error"] = error or "interrupted"
        extra = {"error": error} if error else {}
        if ended:
            extra["ended"] = time.time()
        unless_state_fails(lambda: run.append(NOTE, "stopped", error=error or "interrupted"))
        unless_state_fails(lambda: run.set_status(status, **extra))
        unless_state_fails(lambda: self.save(run, report))
