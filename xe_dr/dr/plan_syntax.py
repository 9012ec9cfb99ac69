"""The syntax of a recovery plan file, below its meaning (xe_dr/dr/recovery_plan.py): the
error that names the file and the line at fault, the lines of sections and keys
(configparser keeps none), and how a value is read (one item, a list, a duration)."""

import configparser
import re

from xe_dr.errors import ConfigError
from xe_dr.text import duration_seconds


class PlanError(ConfigError):
    """A plan file that cannot be read as a plan (exit 78): the file, the line, what is
    wrong."""

    def __init__(self, path, message, line=None):
        where = "%s line %d" % (path, line) if line else path
        super(PlanError, self).__init__(
            "recovery plan %s: %s" % (where, message),
            hint="fix the plan file (man xe-dr: RECOVERY PLANS)")


def read_utf8(path, error):
    """The text of the file at ``path``; ``error(path, message)`` (raised) when it cannot be
    read or is not UTF-8."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except (IOError, OSError) as failure:
        raise error(path, "cannot be read: %s" % (failure.strerror or failure))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as failure:
        raise error(path, "is not UTF-8 (byte %d)" % failure.start)


def ini_parser():
    """configparser as plans and sites files are read: ``#`` and ``;`` comments on lines of
    their own, keys as written, no interpolation (``%`` in commands), a duplicate an error,
    no default section."""
    parser = configparser.ConfigParser(
        delimiters=("=",), comment_prefixes=("#", ";"), inline_comment_prefixes=None,
        strict=True, empty_lines_in_values=False, interpolation=None,
        default_section="\0none")
    parser.optionxform = str
    return parser


def config_error(failure):
    """configparser's message without where it was (the line is said once, before it)."""
    message = " ".join((getattr(failure, "message", None) or str(failure)).split())
    return re.sub(r"^While reading from .*?\[line +\d+\]: ", "", message)


def lines_of(text):
    """{section: line}, {(section, key): line} of the file, for messages that name the line
    at fault (configparser keeps no line numbers of what it read)."""
    sections, keys, section = {}, {}, None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or line[0].isspace():
            continue  # a comment, or a list's continuation line
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            sections.setdefault(section, number)
        elif "=" in stripped and section is not None:
            keys.setdefault((section, stripped.split("=", 1)[0].strip()), number)
    return sections, keys


class At(object):
    """``where(key)``: the line of ``key`` in the section (or of the section's header)."""

    def __init__(self, lines, section):
        self.sections, self.keys = lines
        self.section = section

    def __call__(self, key=None):
        return self.keys.get((self.section, key)) or self.sections.get(self.section)


def items(value):
    """A list value: one item per line (a single line is one item)."""
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def one(value):
    value = (value or "").strip()
    return value or None


def seconds(value, default, path, where, key):
    if not (value or "").strip():
        return default
    seconds = duration_seconds(value)
    if seconds is None or seconds <= 0:
        raise PlanError(path, "%s = %s is not a duration (seconds, or 30s, 10m, 2h)" % (
            key, value), where(key.split()[0]))
    return seconds
