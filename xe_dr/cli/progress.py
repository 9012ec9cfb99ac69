"""Progress of a long run: one live line on a terminal, plain timestamped lines elsewhere.

A run goes through phases (probe, attach, scan, prechecks, recover, start...), each of some
steps. On a terminal (stderr), the live line shows the phases under way with n of m done and
failures, the elapsed time and the object being worked on (the step begun last that has not
ended, and how many more are under way), drawn again in place as steps begin and end, and
every second so that a long xe call shows the run is alive. Every other line (a note, a
warning, a question) first erases the live line, which is then drawn again below it: a line is
never written onto the live one. A phase that ends leaves one line (``attach: 3/3 done``); one
cut short by an error leaves none (the error says why).

Off a terminal, and always with --json, -q or NO_COLOR, nothing is animated: each phase, each
step that begins and each phase that ends is a timestamped line (none with -q or --json).
"""

import os
import threading
import time

from xe_dr.text import printable

TICK = 1.0  # seconds between two draws of the live line while nothing happens


class _Phase(object):
    def __init__(self, name, total, prefix):
        self.name = name
        self.total = total
        self.prefixes = ()
        self.add_prefix(prefix)
        self.done = 0
        self.failed = 0
        self.left = 0

    def add_prefix(self, prefix):
        for p in prefix if isinstance(prefix, tuple) else (prefix,):
            if p not in self.prefixes:
                self.prefixes += (p,)

    @property
    def over(self):
        return self.done + self.failed + self.left >= self.total

    def counts(self, ended=False):
        """``recover 3/5, 1 failed`` on the live line; ``recover: 4/5 done, 1 failed`` when
        it ends."""
        text = "%s%s%d/%d%s" % (self.name, ": " if ended else " ", self.done, self.total,
                               " done" if ended else "")
        if self.failed:
            text += ", %d failed" % self.failed
        if self.left:
            text += ", %d left out" % self.left
        return text


class Progress(object):
    """What the workflows call: ``phase(name, total, prefix)``, ``step(kind, step,
    description)`` (the engine's events), ``note(text)``; and ``close()`` at the end."""

    def __init__(self, output, clock=time.time, tick=TICK):
        self.output = output
        self.clock = clock
        self.started = clock()
        self.live = (output.env.stderr_isatty and not output.json_mode and
                     output.verbosity >= 0 and "NO_COLOR" not in output.env.environ)
        self._lock = threading.RLock()
        self._phases = []      # the phases begun and not over yet (or the last one)
        self._under_way = []   # [(step, description)] begun and not ended, oldest first
        self._shown = False
        self._held = 0
        self._closed = threading.Event()
        if self.live:
            output.live = self  # what Output writes goes above the live line
            if tick and _real_terminal(output.env.stderr):
                ticker = threading.Thread(target=self._tick, args=(tick,))
                ticker.daemon = True
                ticker.start()

    # -- what the workflows call --------------------------------------------------------------
    def note(self, text):
        self.output.progress(text)  # above the live line (Output.live)

    def phase(self, name, total, prefix=""):
        """A phase of ``total`` steps; only steps whose id starts with ``prefix`` (a string or
        a tuple of them) count. A phase of the name under way already gets ``total`` more."""
        with self._lock:
            phase = self._find(name)
            if phase is not None:
                phase.total += total
                phase.add_prefix(prefix)
            else:
                self._retire(lambda p: p.over)
                self._phases.append(_Phase(name, total, prefix))
                if not self.live:
                    self.output.progress("%s: %d to do" % (name, total))
            self._draw()

    def step(self, kind, step, description):
        """``kind``: begin, done, reconciled, skipped (done before), failed (``description``
        is then the failure) or left (left out, not failed)."""
        with self._lock:
            if kind != "begin":
                self._under_way = [u for u in self._under_way if u[0] != step]
            phase = self._counting(step)
            if kind == "begin":
                self._under_way.append((step, description))
            elif kind in ("done", "reconciled", "skipped") and phase is not None:
                phase.done += 1
            elif kind == "left" and phase is not None:
                phase.left += 1
            elif kind == "failed":
                if phase is not None:
                    phase.failed += 1
                self.note("FAILED %s" % description)
            if not self.live and kind in ("begin", "reconciled"):
                self.output.progress("%s %s" % (kind, description))
            if phase is not None and phase.over and phase is not self._phases[-1]:
                self._retire(lambda p: p is phase)  # over while a later one goes on
            self._draw()

    def close(self):
        with self._lock:
            self._closed.set()
            # A phase cut short leaves no line: the error or the interruption says why.
            self._retire(lambda p: p.over)
            self._clear()
            if self.output.live is self:
                self.output.live = None

    def holding(self, ask):
        """``ask`` (a question on the terminal) wrapped so that the live line is erased while
        it is asked, and drawn again after the answer."""
        def held(*args, **kwargs):
            with self._lock:
                self._clear()
                self._held += 1
            try:
                return ask(*args, **kwargs)
            finally:
                with self._lock:
                    self._held -= 1
                    self._draw()
        return held

    def above(self, write):
        """Output.live: ``write()`` puts a line on stderr; the live line is erased first and
        drawn again below it."""
        with self._lock:
            self._clear()
            write()
            self._draw()

    # -- the phases ----------------------------------------------------------------------------
    def _find(self, name):
        for phase in self._phases:
            if phase.name == name:
                return phase
        return None

    def _counting(self, step):
        """The phase a step counts in: the latest begun whose prefix it has."""
        for phase in reversed(self._phases):
            if step.startswith(phase.prefixes):
                return phase
        return None

    def _retire(self, which):
        """Phases ``which`` chooses end: each leaves one line."""
        for phase in [p for p in self._phases if which(p)]:
            self._phases.remove(phase)
            self.output.progress(phase.counts(ended=True))

    # -- the live line -------------------------------------------------------------------------
    def line(self):
        elapsed = int(self.clock() - self.started)
        text = " | ".join(p.counts() for p in self._phases)
        text += "  %02d:%02d" % (elapsed // 60, elapsed % 60)
        if self._under_way:
            text += "  %s" % self._under_way[-1][1]
            if len(self._under_way) > 1:
                text += " (+%d more)" % (len(self._under_way) - 1)
        return text

    def _width(self):
        """The terminal's columns (a terminal that does not say, as a new pseudo-terminal:
        $COLUMNS, else 80)."""
        try:
            columns = os.get_terminal_size(self.output.env.stderr.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
        if columns <= 0:
            try:
                columns = int(self.output.env.environ.get("COLUMNS") or 80)
            except ValueError:
                columns = 80
        return columns

    def _draw(self):
        if self.live and self._phases and not self._held and not self._closed.is_set():
            stream = self.output.env.stderr
            # One column short of the width: a full row would wrap on some terminals, and
            # the carriage return would then erase only its second row.
            stream.write("\r\x1b[K" + printable(self.line())[:max(10, self._width() - 1)])
            stream.flush()
            self._shown = True

    def _clear(self):
        if self.live and self._shown:
            self.output.env.stderr.write("\r\x1b[K")
            self.output.env.stderr.flush()
            self._shown = False

    def _tick(self, every):
        while not self._closed.wait(every):
            with self._lock:
                if self._shown:
                    self._draw()


def _real_terminal(stream):
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False
