"""Applying a plan step by step through the journal, once across crashes and resumes.

Every step (xe_dr/dr/steps.py) has a stable id (``recover:vm:<uuid>``, ``attach:<SCSIid>``...).
Before a step starts, a "begin" entry is fsync'd; after it ends, "done" (with its result) or
"failed". On resume:

- a step journaled "done" is not run again; its recorded result is returned;
- a step journaled "begin" with no end was interrupted: its ``reconcile`` callable asks the
  pool whether the step's effect is already there (returning the result) or not (None, and
  the step runs again). Steps without a reconcile are only safe if they are idempotent;
- a step journaled "failed" runs again (a resume retries only what failed).

A Ctrl-C (xe_dr/interrupt.py) stops the run between steps: no step begins once it was asked
for (``Interrupted``), and the steps under way end first; after a second one xe-dr stops at
once and those steps stay "begin" (their calls go on at the pool), for a resume to reconcile.

A run with a ``deadline`` (a drill's watchdog) begins no step after it: ``DeadlinePassed``.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from xe_dr import interrupt
from xe_dr.errors import XeDrError
from xe_dr.journal import BEGIN, DONE, FAILED, NOTE, StateWriteError
from xe_dr.dr.steps import SOURCE
from xe_dr.redact import redact_argv


class StepFailed(XeDrError):
    """One step failed; the workflow decides whether the rest can go on.

    ``message`` (the journal's, the report's) names the step by its id and the whole xe
    command; the line an operator reads (:meth:`one_line`, ``summary``) names the object
    by the step's description, then xapi's code and its sentence whole; the step id and
    the command are the :meth:`details` (shown with -v)."""

    def __init__(self, step, cause, description=None):
        self.step = step
        self.cause = cause
        message = cause.one_line() if isinstance(cause, XeDrError) else str(cause)
        super(StepFailed, self).__init__("%s: %s" % (step, message))
        self.exit_code = getattr(cause, "exit_code", self.exit_code)
        said = getattr(cause, "summary", None) or (
            cause.message if isinstance(cause, XeDrError) else str(cause))
        if getattr(cause, "hint", None):
            said = "%s (%s)" % (said, cause.hint)
        self.summary = " ".join(("%s: %s" % (description or step, said)).split())

    def one_line(self):
        return "%s (%s)" % (self.summary, self.hint) if self.hint else self.summary

    def details(self):
        lines = ["failed step: %s" % self.step]
        command = getattr(self.cause, "command", None)
        if command:
            lines.append("its command: %s" % command)
        return lines


class DeadlinePassed(XeDrError):
    """The run's deadline (a drill's watchdog) passed before the step ``step`` could begin."""

    def __init__(self, step, deadline):
        super(DeadlinePassed, self).__init__(
            "the deadline passed (%s UTC) before step %s could begin" % (
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(deadline)), step))
        self.step = step
        self.deadline = deadline


class Engine(object):
    """Applies the steps (xe_dr/dr/steps.py) of one run through ``xe``. ``dry_run`` records
    nothing and runs nothing: it lists the steps it is given (``planned``).

    ``on_event(kind, step, info)`` lets the presentation layer show progress.
    """

    def __init__(self, run, xe=None, dry_run=False, on_event=None, source_xe=None):
        self.run = run
        self.xe = xe
        self.source_xe = source_xe  # where calls ``at`` SOURCE run
        self.dry_run = dry_run
        self.on_event = on_event or (lambda kind, step, info: None)
        self._states = run.step_states() if run is not None else {}
        # What each step journaled with its last "begin", before it changed anything: a
        # failed step may have changed something too (a timeout, a dropped connection).
        self._begun = dict((e["step"], e.get("data") or {}) for e in (
            run.entries() if run is not None else ()) if e["event"] == BEGIN)
        self._lock = threading.Lock()
        self._under_way = set()  # steps begun and not ended in this process
        self.failures = []   # StepFailed of this invocation
        self.planned = []    # Step.to_json() of the steps seen in dry-run mode
        self.deadline = None  # an epoch after which no step begins (a drill's watchdog)

    def state_of(self, step):
        entry = self._states.get(step)
        return entry["event"] if entry else None

    def result_of(self, step):
        entry = self._states.get(step)
        if entry and entry["event"] == DONE:
            return (entry.get("data") or {}).get("result")
        return None

    def steps(self, prefix):
        """[(step, event, data)] of the journaled steps whose id starts with ``prefix``, as
        their last event left them."""
        with self._lock:
            return sorted((step, entry["event"], entry.get("data") or {})
                          for step, entry in self._states.items() if step.startswith(prefix))

    def note(self, step, **data):
        if self.run is not None and not self.dry_run:
            self.run.append(NOTE, step, **data)

    def begun(self, step):
        """The data journaled with the "begin" of a step that was interrupted or failed (what
        it knew before it changed anything), or None. A reconcile uses it to find the step's
        effect: a failure (a timeout, a dropped connection) can leave one as well."""
        if self.state_of(step) in (BEGIN, FAILED):
            return self._begun.get(step)
        return None

    def _xe_for(self, call):
        return self.source_xe if call.at == SOURCE else self.xe

    def argv(self, call):
        """The argv of one of a step's calls, secrets redacted (none reach argv anyway)."""
        return redact_argv(self._xe_for(call).argv(call.command, call.params, call.flags))

    def do(self, step):
        """Apply ``step`` (a Step) unless the journal shows it done; return its result.

        Raises StepFailed when it fails.
        """
        if self.dry_run:
            with self._lock:
                self.planned.append(step.to_json(self.argv))
            return None
        state = self.state_of(step.id)
        if state == DONE:
            self.on_event("skipped", step.id, step.description)
            return self.result_of(step.id)
        self.may_begin(step.id)
        # An interrupted step, and a failed one too: a failure can leave the outcome unknown
        # (a dropped connection) or come after the change was made, so the pool is asked
        # before the step runs again.
        if state in (BEGIN, FAILED) and step.reconcile is not None:
            found = step.reconcile()
            if found is not None:
                self._journal(DONE, step.id, result=found, reconciled=True)
                self.on_event("reconciled", step.id, step.description)
                return found
        data = dict(step.begin_data or {})
        if step.calls:
            # What will run, for the report and the audit trail.
            data["commands"] = [self.argv(c) for c in step.calls]
        self.may_begin(step.id)  # (again: a reconcile may have waited)
        self._journal(BEGIN, step.id, description=step.description, **data)
        try:
            self.on_event("begin", step.id, step.description)
            result = step.action() if step.action is not None else self._run_calls(step)
        except StateWriteError:
            raise  # the journal cannot be written: stop here, as if interrupted
        except XeDrError as cause:
            failure = StepFailed(step.id, cause, step.description)
            self._journal(FAILED, step.id, error=failure.message)
            with self._lock:
                self.failures.append(failure)
            self.on_event("failed", step.id, failure.summary)
            raise failure
        else:
            self._journal(DONE, step.id, result=result)
        finally:
            self._left(step.id)  # ended, or left "begin" (a second Ctrl-C, a defect)
        self.on_event("done", step.id, step.description)
        return result

    def may_begin(self, step):
        """Before a step (or a batch of them, the plugin's) changes anything: raises
        interrupt.Interrupted once a Ctrl-C asked the run to stop, DeadlinePassed once the
        run's deadline passed."""
        interrupt.check()
        if self.deadline is not None and time.time() >= self.deadline:
            raise DeadlinePassed(step, self.deadline)

    def _left(self, step):
        with self._lock:
            if step in self._under_way:
                self._under_way.discard(step)
                interrupt.ended()

    def _run_calls(self, step):
        for call in step.calls:
            self._xe_for(call).run(call.command, call.params, flags=call.flags)
        return None

    def do_many(self, items, parallel, fn):
        """Call ``fn(item)`` for every item, at most ``parallel`` at once.

        A StepFailed of one item does not stop the others; the failures are collected in
        ``self.failures`` and the results of the items that worked are returned in order
        (None for failed ones). Any other exception stops the batch and is re-raised.
        """
        items = list(items)
        if not items:
            return []
        results = [None] * len(items)
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(items)))) as pool:
            futures = [pool.submit(fn, item) for item in items]
            try:
                for index, future in enumerate(futures):
                    try:
                        results[index] = future.result()
                    except StepFailed:
                        results[index] = None
            except BaseException:
                # Ctrl-C or a defect: start nothing new; what is already running on the
                # pool finishes (an xe call cannot be taken back) and is journaled.
                for future in futures:
                    future.cancel()
                raise
        return results

    def record(self, event, step, **data):
        """Journal one event of a step run outside :meth:`do` (a batch the plugin runs), and
        tell ``on_event`` as :meth:`do` does."""
        self._journal(event, step, **data)
        description = data.get("description") or (self._begun.get(step) or {}).get(
            "description") or step
        if event == BEGIN:
            self.on_event("begin", step, description)
        elif event == DONE:
            self.on_event("reconciled" if data.get("reconciled") else "done", step,
                          description)
        elif event == FAILED:
            self.on_event("failed", step, data.get("summary") or data.get("error") or step)

    def _journal(self, event, step, **data):
        with self._lock:
            if self.run is not None:
                entry = self.run.append(event, step, **data)
                self._states[step] = entry
                if event == BEGIN:
                    self._begun[step] = entry.get("data") or {}
            if event == BEGIN and step not in self._under_way:
                self._under_way.add(step)
                interrupt.began()
            elif event in (DONE, FAILED) and step in self._under_way:
                self._under_way.discard(step)
                interrupt.ended()


class LineProgress(object):
    """The progress interface the workflows call (``note``, ``phase``, ``step``), printing
    plain lines through a function; xe_dr/cli/progress.py has the terminal one (and says
    what the calls mean)."""

    def __init__(self, write=lambda text: None):
        self.write = write

    def note(self, text):
        self.write(text)

    def phase(self, name, total, prefix=""):
        self.write("%s: %d to do" % (name, total))

    def step(self, kind, step, description):
        if kind in ("begin", "reconciled"):
            self.write("%s %s" % (kind, description))
        elif kind == "failed":
            self.write("FAILED %s" % description)

    def holding(self, ask):
        return ask

    def close(self):
        pass
