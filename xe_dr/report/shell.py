"""Values written into a generated bash script (``xe-dr runbook``): quoted for the shell, or
made one line for a comment, so that a name can neither run code nor end a comment line."""

import re
import shlex

from xe_dr.errors import UsageError
from xe_dr.report.text import clean

_UUID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")


def q(value):
    return shlex.quote("" if value is None else str(value))


def qn(name):
    """A name for the script's messages: one line (control characters escaped), quoted."""
    return q(clean(name))


def comment(text):
    """Text for after a ``#``: one line whatever it holds."""
    return clean(text)


def checked_uuid(value, what):
    """``value``, once it is seen to be a UUID (the script writes it unquoted)."""
    if not isinstance(value, str) or not _UUID.match(value):
        raise UsageError("the plan holds a %s that is not a UUID: %r" % (what, value))
    return value
