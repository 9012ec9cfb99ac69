"""What the CLI needs from the outside world, injected so the whole CLI runs in-process in tests."""

import codecs
import getpass
import io
import os
import sys
import time


class Environment(object):
    """Streams, terminal facts, environment variables, the clock and the prompt.

    Tests build one with ``io.StringIO`` streams and a dict for ``environ``.
    """

    def __init__(self, stdin=None, stdout=None, stderr=None, environ=None,
                 stdin_isatty=None, stdout_isatty=None, stderr_isatty=None, clock=time.time,
                 local_runner=None):
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else _utf8_stdout()
        self.stderr = stderr if stderr is not None else sys.stderr
        self.environ = environ if environ is not None else os.environ
        self.stdin_isatty = _isatty(self.stdin) if stdin_isatty is None else stdin_isatty
        self.stdout_isatty = _isatty(self.stdout) if stdout_isatty is None else stdout_isatty
        self.stderr_isatty = _isatty(self.stderr) if stderr_isatty is None else stderr_isatty
        self.clock = clock
        # A callable(timeout) -> Runner for commands run on this machine (None: a LocalRunner).
        # Tests hand in one that answers the lab's xe without a process per call.
        self.local_runner = local_runner

    @property
    def colour(self):
        """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
        return self.stderr_isatty and "NO_COLOR" not in self.environ

    def can_prompt(self):
        return self.stdin_isatty and self.stderr_isatty

    def ask(self, question):
        """Ask a question on stderr and read one line from stdin; '' at end of input."""
        self.stderr.write(question)
        self.stderr.flush()
        line = self.stdin.readline()
        return line.strip()

    def ask_secret(self, question):
        if self.stdin is sys.stdin and self.stdin_isatty:
            return getpass.getpass(question, stream=self.stderr)
        return self.ask(question)


def _utf8_stdout():
    """sys.stdout, in UTF-8 where it would be ASCII: Python 3.6 in the C locale (cron, NRPE,
    an ssh command without LANG) encodes stdout as ASCII, and a pool's name with an accent
    was a UnicodeEncodeError; 3.7 and later write UTF-8 there (PEP 538, PEP 540), and so do
    we. stderr needs nothing: Python escapes what it cannot encode there."""
    stream = sys.stdout
    try:
        if codecs.lookup(stream.encoding).name != "ascii":
            return stream
        fd = stream.fileno()
    except (AttributeError, LookupError, TypeError, ValueError, io.UnsupportedOperation):
        return stream
    stream.flush()
    sys.stdout = io.open(fd, "w", buffering=1 if stream.line_buffering else -1,
                         encoding="utf-8", errors=stream.errors or "strict", closefd=False)
    return sys.stdout


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
