"""Presentation: data on stdout (text or JSON), messages on stderr."""

import json
import time

from xe_dr.text import printable

#: The version of every command's --json document, its top-level "schema" key: keys are only
#: ever added within one version; one removed, renamed or changed in meaning raises it
#: (documented in man/xe-dr.8, DESCRIPTION and each command's JSON paragraph).
JSON_SCHEMA = 1


class Output(object):
    """Writes a command's data and messages. ``json_mode`` makes stdout one JSON document.

    Verbosity: -q hides notes (warnings and errors still print); -v shows debug lines.
    """

    def __init__(self, env, json_mode=False, verbosity=0):
        self.env = env
        self.json_mode = json_mode
        self.verbosity = verbosity
        # The live progress line (xe_dr/cli/progress.py) while a run shows one: each message
        # is written above it (``live.above(write)``), never onto it.
        self.live = None

    # -- data ---------------------------------------------------------------------------
    def data(self, payload, text=None):
        """Emit the command's result: ``payload`` as JSON with --json, else ``text`` lines."""
        if self.json_mode:
            if isinstance(payload, dict):
                payload = dict(payload, schema=JSON_SCHEMA)
            json.dump(payload, self.env.stdout, indent=2, sort_keys=True, default=_json_default)
            self.env.stdout.write("\n")
        elif text is not None:
            if isinstance(text, (list, tuple)):
                text = "\n".join(printable(line) for line in text)
            self.env.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        self.env.stdout.flush()

    # -- messages -----------------------------------------------------------------------
    def error(self, text):
        self._message("error", text)

    def warning(self, text):
        self._message("warning", text)

    def note(self, text):
        if self.verbosity >= 0:
            self._message(None, text)

    def debug(self, text):
        if self.verbosity > 0:
            self._message("debug", text)

    def progress(self, text):
        """A plain timestamped line off a terminal; suppressed with -q and --json."""
        if self.verbosity < 0 or self.json_mode:
            return
        if self.env.stderr_isatty:
            self._message(None, text)
        else:
            stamp = time.strftime("%H:%M:%S", time.localtime(self.env.clock()))
            self._message(None, "%s %s" % (stamp, text))

    def _message(self, level, text):
        line = "xe-dr: " + (level + ": " if level else "") + printable(text) + "\n"

        def write():
            self.env.stderr.write(line)
            self.env.stderr.flush()
        if self.live is not None:
            self.live.above(write)
        else:
            write()


def _json_default(value):
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError("not JSON serialisable: %r" % (value,))
