"""The runner contract shared by the local, paramiko and OpenSSH runners and the test fakes."""

import time

from xe_dr.errors import XeDrError
from xe_dr.exitcodes import ExitCode
from xe_dr.redact import redact_argv, redact_text
from xe_dr.runner.shell import valid_env_name

# How much of a failed command's output an error message quotes.
_TAIL_CHARS = 600

# Seconds a command may take when neither the runner nor the call names a timeout: every call
# has one, so that a hung target never hangs a recovery.
DEFAULT_TIMEOUT = 600.0


class Result(object):
    """What one command did: argv (as given), exit status, stdout and stderr (str), duration (s).

    Output is decoded as UTF-8 with ``surrogateescape`` so that any byte xe prints survives a
    round trip (``result.stdout.encode('utf-8', 'surrogateescape')``).
    """

    __slots__ = ("argv", "exit_code", "stdout", "stderr", "duration", "secrets")

    def __init__(self, argv, exit_code, stdout, stderr, duration=0.0, secrets=()):
        self.argv = list(argv)
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.duration = duration
        self.secrets = tuple(secrets)

    @property
    def ok(self):
        return self.exit_code == 0

    def safe_argv(self):
        return redact_argv(self.argv, self.secrets)

    def __repr__(self):
        return "Result(argv=%r, exit_code=%r, stdout=%d chars, stderr=%d chars, %.3fs)" % (
            self.safe_argv(), self.exit_code, len(self.stdout), len(self.stderr), self.duration)


class RunnerError(XeDrError):
    """Base of everything a runner raises."""


class CommandFailed(RunnerError):
    """The command ran on the target and exited non-zero. Carries the whole result."""

    exit_code = ExitCode.FAILED

    def __init__(self, result):
        self.result = result
        tail = redact_text(result.stderr.strip()[-_TAIL_CHARS:], result.secrets)
        message = "command %s exited %d" % (" ".join(result.safe_argv()), result.exit_code)
        if tail:
            message += ": " + tail
        super(CommandFailed, self).__init__(message)


class TransportFailed(RunnerError):
    """The command could not be run, or the connection dropped so its outcome is unknown."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, message, hint=None, argv=None, secrets=()):
        if argv:
            message = "%s (while running %s)" % (message, " ".join(redact_argv(argv, secrets)))
        super(TransportFailed, self).__init__(message, hint)


class HostKeyRejected(TransportFailed):
    """The target's host key is unknown or does not match known_hosts. Nothing was run."""

    exit_code = ExitCode.REFUSED


class LoginRefused(TransportFailed):
    """The server refused the login (a wrong user, or a key it does not authorise): a
    refusal (exit 77), not an unreachable host. Nothing was run."""

    exit_code = ExitCode.REFUSED


class ProgramNotFound(TransportFailed):
    """The program to run (argv[0], or ssh itself) is missing or not executable on this
    machine: a configuration problem (exit 78), nothing was run."""

    exit_code = ExitCode.CONFIG


class CommandTimedOut(TransportFailed):
    """No answer within the timeout; the command may still be running on the target."""

    exit_code = ExitCode.TEMPORARY


def check_env(env):
    """``env`` for :meth:`Runner.run` as a new dict, or ValueError / TypeError naming the
    variable (never its value)."""
    checked = {}
    for name, value in (env or {}).items():
        if not valid_env_name(name):
            raise ValueError("not an environment variable name: %r" % (name,))
        if not isinstance(value, str):
            raise TypeError("the value of environment variable %s is a %s, not a str"
                            % (name, type(value).__name__))
        if "\0" in value:
            raise ValueError("the value of environment variable %s holds a NUL" % name)
        checked[name] = value
    return checked


class Runner(object):
    """Runs argv lists on one target. Thread-safe: workflows call ``run`` from several threads.

    Subclasses implement :meth:`_execute`; ``run`` adds timing, the check and logging.
    """

    #: A short text for messages and ``doctor``: ``local``, ``ssh root@host:22 (paramiko)``.
    description = "runner"

    def __init__(self, timeout=None, log=None):
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.log = log  # a callable(result) that records each command, or None

    def run(self, argv, input=None, timeout=None, check=True, secrets=(), env=None):
        """Run ``argv`` (a list of str) with optional ``input`` (str) on stdin.

        ``secrets`` are literal values (already in argv or input) never to be shown.
        ``env`` is a dict of extra environment variables for this command only, the way to
        hand a command a secret without putting it in any process's argv (readable by every
        local user, where the environment is readable only by its owner and root). Its
        values count as secrets: they are in no repr, log or message, and are hidden in the
        output an error quotes. Names must be shell identifiers and values str without NUL.
        Raises :class:`CommandFailed` when ``check`` and the exit status is not 0.
        """
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a list of strings, not one string")
        argv = [str(a) for a in argv]
        env = check_env(env)
        secrets = tuple(secrets) + tuple(value for value in env.values() if value)
        started = time.time()
        exit_code, stdout, stderr = self._execute(
            argv, input, self.timeout if timeout is None else timeout, secrets, env)
        result = Result(argv, exit_code, stdout, stderr, time.time() - started, secrets)
        if self.log is not None:
            self.log(result)
        if check and exit_code != 0:
            raise CommandFailed(result)
        return result

    def _execute(self, argv, input, timeout, secrets, env):
        """Return (exit_code, stdout, stderr) or raise TransportFailed / CommandTimedOut.

        ``env`` is a checked dict (maybe empty) to add to the command's environment;
        ``secrets`` already include its values."""
        raise NotImplementedError

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
