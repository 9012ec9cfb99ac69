"""Text as a terminal or a report may show it: what any layer that prints a pool's names uses."""

import re

# C0 and C1 control characters and DEL: a name holding a newline could forge a line of the
# output, and an escape sequence would reach the administrator's terminal. The Unicode line
# separators too, and the bidirectional marks, embeddings, overrides and isolates: a name
# holding U+202E would show the rest of its line reversed ("Trojan Source", CVE-2021-42574).
_CONTROL = re.compile(u"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def printable(text):
    """One line of output with its control characters shown as escapes, never acted on."""
    return _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 256
                        else "\\u%04x" % ord(m.group()), text)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text):
    """Seconds of a duration as an administrator writes one: ``90``, ``30m``, ``2h``, ``1d``
    (s, m, h, d); None when it is not a number of 0 or more, finite."""
    raw = (text or "").strip().lower()
    factor = 1
    if raw[-1:] in _UNITS:
        factor, raw = _UNITS[raw[-1]], raw[:-1]
    try:
        value = float(raw) * factor
    except ValueError:
        return None
    if value != value or value < 0 or value == float("inf"):  # NaN, negative, infinite
        return None
    return value
