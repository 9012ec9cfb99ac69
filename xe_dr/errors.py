"""The error base every layer raises, carrying the exit status the CLI will use.

Each error has one short ``message`` (what was wrong) and an optional ``hint`` (what to do);
the CLI prints them as one line on stderr.
"""

from xe_dr.exitcodes import ExitCode


class XeDrError(Exception):
    exit_code = ExitCode.FAILED

    def __init__(self, message, hint=None):
        super(XeDrError, self).__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self):
        text = " ".join(self.message.split())
        if self.hint:
            text = "%s (%s)" % (text, self.hint)
        return text

    def details(self):
        """Lines for -v beyond the one line (which step, which command), if any."""
        return []


class UsageError(XeDrError):
    exit_code = ExitCode.USAGE


class NoInputError(XeDrError):
    exit_code = ExitCode.NOINPUT


class ConfigError(XeDrError):
    exit_code = ExitCode.CONFIG


class RefusedError(XeDrError):
    exit_code = ExitCode.REFUSED


class UnreachableError(XeDrError):
    exit_code = ExitCode.UNREACHABLE


class TemporaryError(XeDrError):
    exit_code = ExitCode.TEMPORARY


class LockHeld(TemporaryError):
    """Another run holds the lock on the pool (75): wait for it, or resume it."""


class AdapterError(XeDrError):
    """A storage adapter (xe_dr/dr/adapter.py) failed, or answered what the protocol does not
    allow: the message names the adapter, the verb and what was wrong.

    Exit 1 (FAILED) by default: the adapter ran and the storage operation failed or its
    answer cannot be trusted, which neither a retry as such nor another command line fixes.
    A timeout is TEMPORARY (75: the array may finish; ``list`` finds what it made), an
    adapter that cannot be run is CONFIG (78), a request the adapter cannot honour safely
    (several LUNs without a consistency group) is USAGE (64)."""

    exit_code = ExitCode.FAILED

    def __init__(self, message, hint=None, exit_code=None):
        super(AdapterError, self).__init__(message, hint)
        if exit_code is not None:
            self.exit_code = exit_code
