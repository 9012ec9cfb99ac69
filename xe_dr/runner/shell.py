"""One command as one line of POSIX shell, for the SSH runners' stdin bootstrap.

Why the command travels on stdin
--------------------------------
Whatever is in a process's argv (/proc/PID/cmdline, ``ps``) is readable by every local user,
and xe commands can carry passwords. A process's environment (/proc/PID/environ) is readable
only by its owner and root. So both SSH runners start the remote login shell (bash on dom0)
with the same fixed command, :data:`BOOTSTRAP`, and send the real command as the first line
of the command's stdin:

    stdin = <one_line_command(argv, env)> "\\n" <the command's own input>

BOOTSTRAP's ``read`` takes exactly that first line (a shell reads a pipe byte by byte, so
nothing after the newline is consumed) and ``eval`` runs it; the command inherits stdin
positioned just after that line, so its own input still works. Neither the local ssh client
nor the remote shell ever holds the command in its argv; only the command itself has its
own argv, and ``env`` reaches it as ``NAME=value`` assignments written before the command
words, which put the values in the command's environment and in no process's argv.

Every word is single-quoted (literal in POSIX shells). A newline inside an argument or a
value would end the line early, so it is written as ``"$xe_dr_nl"``, a variable holding a
newline that the line itself defines first. The command word is always quoted, so that it
can never be read as an assignment (``a=b``) or a reserved word (``if``, ``time``).
"""

import re
import shlex

__all__ = ["BOOTSTRAP", "one_line_command", "valid_env_name"]

BOOTSTRAP = 'IFS= read -r xe_dr_command && eval "$xe_dr_command"'

_NEWLINE_VAR = "xe_dr_nl"
# printf's output ends with "x" so that $(...) keeps the newline; then the "x" is cut off.
_DEFINE_NEWLINE = "%s=$(printf '\\nx'); %s=${%s%%x}; " % ((_NEWLINE_VAR,) * 3)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def valid_env_name(name):
    """Whether ``name`` can be an environment variable set by a shell assignment."""
    return isinstance(name, str) and bool(_ENV_NAME.match(name))


def _always_quoted(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _word(text, quote=shlex.quote):
    """``text`` as one shell word, its newlines written as ``"$xe_dr_nl"``."""
    return ('"$%s"' % _NEWLINE_VAR).join(quote(part) for part in text.split("\n"))


def one_line_command(argv, env=None):
    """``argv`` as one line of POSIX shell with no newline that runs it exactly, with
    ``env`` (a dict, names checked by :func:`valid_env_name`) added to its environment
    only. See the module docstring."""
    env = env or {}
    for name in env:
        if not valid_env_name(name):
            raise ValueError("not an environment variable name: %r" % (name,))
    assignments = ["%s=%s" % (name, _word(value)) for name, value in sorted(env.items())]
    words = [_word(arg, _always_quoted if i == 0 else shlex.quote)
             for i, arg in enumerate(argv)]
    needs_newline = any("\n" in text for text in list(argv) + list(env.values()))
    return (_DEFINE_NEWLINE if needs_newline else "") + " ".join(assignments + words)
