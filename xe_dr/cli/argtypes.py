"""Argument types for the parser: a bad value is a usage error (exit 64) of one line, raised
while parsing, before anything is read, connected or created."""

import argparse
import math
import re

#: What a run id may hold: run ids are made as 20260101-120000-failover-1a2b. No '/', no
#: '..', no control characters: a run id names a directory and is written into tags.
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
#: The longest --timeout: a year (beyond it the clocks' waits overflow on some platforms).
MAX_SECONDS = 365 * 86400


def non_empty(text):
    """A value that must not be empty (an empty -H is not "run locally": "$MASTER" unset)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty (leave the option out instead)")
    return text


def seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or math.isnan(value) or not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError("%r is not a number of seconds above 0 and at most "
                                         "%d" % (text, MAX_SECONDS))
    return value


def duration(text):
    """Seconds, or a duration with a unit: 90, 30m, 2h, 1d."""
    from xe_dr.text import duration_seconds
    value = duration_seconds(text)
    if value is None or not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError("%r is not a duration above 0 and at most a year "
                                         "(seconds, or 30m, 2h, 1d)" % (text,))
    return value


def port(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < 65536:
        raise argparse.ArgumentTypeError("%r is not a port number (1 to 65535)" % (text,))
    return value


def run_id(text):
    """A run id as 'xe-dr runs' lists them."""
    if not _RUN_ID.match(text) or ".." in text:
        raise argparse.ArgumentTypeError(
            "%r is not a run id (like 20260101-120000-test-1a2b: letters, digits, '.', '_' "
            "and '-'; 'xe-dr runs' lists them)" % (text,))
    return text


def run_or_directory(text):
    """``report``'s RUN: 'last', a run id, or the path of a run directory (holding a '/')."""
    if text == "last" or text in (".", "..") or ("/" in text and non_empty(text)):
        return text
    return run_id(text)


def file_path(text):
    """A file to read or write: not empty, and not a directory."""
    import os
    non_empty(text)
    if os.path.isdir(os.path.expanduser(text)):
        raise argparse.ArgumentTypeError("%s is a directory, not a file" % (text,))
    return text
