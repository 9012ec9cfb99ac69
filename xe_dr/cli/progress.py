"""Progress of a long run: one live line on a terminal, plain timestamped lines elsewhere.

On a terminal (stderr), the live line shows the phase, n of m done, failures, the elapsed time
and the current step, rewritten in place; notes and failures are printed as lines above it.
Off a terminal, and always with --json, -q or NO_COLOR, nothing is animated: each step is a
timestamped line (none with -q or --json).
"""

import time

from xe_dr.text import printable


class Progress(object):
    def __init__(self, output, clock=time.time):
        self.output = output
        self.clock = clock
        self.started = clock()
        self.live = (output.env.stderr_isatty and not output.json_mode and
                     output.verbosity >= 0 and "NO_COLOR" not in output.env.environ)
        self.phase_name = None
        self.total = 0
        self.done = 0
        self.failed = 0
        self.current = ""
        self.prefix = ""
        self._shown = False

    # -- what the workflows call --------------------------------------------------------------
    def note(self, text):
        self._clear()
        self.output.progress(text)
        self._draw()

    def phase(self, name, total, prefix=""):
        """A new phase of ``total`` steps; only steps whose id starts with ``prefix`` count."""
        self._finish_line()
        self.phase_name, self.total, self.done, self.failed = name, total, 0, 0
        self.prefix = prefix
        if not self.live:
            self.output.progress("%s: %d to do" % (name, total))
        self._draw()

    def step(self, kind, step, description):
        counts = step.startswith(self.prefix)
        if kind == "begin":
            self.current = description
        elif kind in ("done", "reconciled", "skipped") and counts:
            self.done += 1
        elif kind == "failed":
            self.failed += 1 if counts else 0
            self.note("FAILED %s" % description)
            return
        if not self.live:
            if kind in ("begin", "reconciled"):
                self.output.progress("%s %s" % (kind, description))
            return
        self._draw()

    def close(self):
        self._finish_line()

    # -- the live line -------------------------------------------------------------------------
    def line(self):
        elapsed = int(self.clock() - self.started)
        text = "%s %d/%d" % (self.phase_name or "working", self.done, self.total)
        if self.failed:
            text += ", %d failed" % self.failed
        text += "  %02d:%02d  %s" % (elapsed // 60, elapsed % 60, self.current)
        return text

    def _draw(self):
        if self.live and self.phase_name:
            width = 79
            self.output.env.stderr.write("\r\x1b[K" + printable(self.line())[:width])
            self.output.env.stderr.flush()
            self._shown = True

    def _clear(self):
        if self.live and self._shown:
            self.output.env.stderr.write("\r\x1b[K")
            self._shown = False

    def _finish_line(self):
        if self.live and self._shown:
            self.output.env.stderr.write("\n")
            self.output.env.stderr.flush()
            self._shown = False
