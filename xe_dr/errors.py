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
