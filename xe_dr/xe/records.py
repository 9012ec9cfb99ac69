"""Parsers for xe's standard output: records, ``--minimal`` lists and ``param-get`` values.

Pure functions on str; nothing here does I/O. Anything that is not in xe's format raises
:class:`XeOutputError` naming what was unexpected.

The record format (reference xapi-dr.md 4.1; xapi ``cli_printer.ml`` ``multi_line_record``,
``cli_operations.ml`` ``print_field``)::

    uuid ( RO)           : 0d7f6a52-1111-4c2e-9e3a-6c1a2b3c4d5e
         name-label ( RW): web01
        power-state ( RO): halted


- a label is ``<field> <mode>`` plus `` [DEPRECATED]``, the mode one of ``( RO)``, ``( RW)``,
  ``(MRO)``, ``(MRW)``, ``(SRO)``, ``(SRW)``;
- ``W = 4 + the longest label of the record``; the first label is padded on the right to W,
  every other label on the left, then ``": "`` and the value (an empty value leaves a trailing
  space);
- every record is followed by two empty lines, so the output ends with two empty lines; an
  empty result prints nothing;
- xe prints values raw: a value may hold ``": "`` (the separator is the ``": "`` at column W)
  and even newlines (a multi-line name-description, as XenCenter allows). A line that is not a
  label at column W continues the previous value; a record ends at two empty lines followed
  by the end of the output or by the next record's first line, which carries exactly the same
  label and padding as the first record's (every record of one listing has the same fields;
  two empty lines followed by a record's first line of another shape raise). A line inside a
  value that imitates a label at column W cannot be told apart; nor can a value that holds
  two empty lines followed by the first line of a record.
- with ``params=`` naming no existing field every record is empty and prints as three
  newlines.

``--minimal`` (reference 4.2; ``cli_printer.ml`` ``escape_commas``): the values joined by
``,``, each with ``\\`` -> ``\\\\`` and ``,`` -> ``\\,``, then a newline. Nothing else is
escaped, so a value may hold a newline. An empty result prints ``"\\n"``, which is also how a
single empty value prints: both parse as ``[]``.
"""

import re

from xe_dr.xe.errors import XeOutputError, snippet

__all__ = [
    "Record", "XeOutputError", "parse_records", "format_records", "parse_minimal",
    "escape_minimal", "parse_param_get", "parse_map", "parse_set", "parse_tags", "parse_ref",
    "parse_bool", "NOT_IN_DATABASE", "INVALID_REFERENCE", "MODES",
]

NOT_IN_DATABASE = "<not in database>"
INVALID_REFERENCE = "<invalid reference>"
MODES = ("RO", "RW", "MRO", "MRW", "SRO", "SRW")
_MODE_MARKERS = {"( RO)": "RO", "( RW)": "RW", "(MRO)": "MRO", "(MRW)": "MRW",
                 "(SRO)": "SRO", "(SRW)": "SRW"}
_DEPRECATED = " [DEPRECATED]"

_LABEL = r"([^\s:()]+) (\( RO\)|\( RW\)|\(MRO\)|\(MRW\)|\(SRO\)|\(SRW\))( \[DEPRECATED\])?"
# The first line of a record: label, at least 4 spaces of padding, ": ", value.
_FIRST_LINE = re.compile(r"^" + _LABEL + r"( {4,}): ")
# Any other label: at least 4 spaces of padding, label, ": " (its column is checked apart).
_OTHER_LABEL = re.compile(r"^ {4,}" + _LABEL + r"$")


class Record(dict):
    """One record: field name -> raw value (str), in xe's order.

    ``modes`` maps each field to its mode (``RO``, ``RW``, ``MRO``, ``MRW``, ``SRO``,
    ``SRW``); ``deprecated`` is the set of fields labelled ``[DEPRECATED]``.
    """

    def __init__(self, *args, **kwargs):
        super(Record, self).__init__(*args, **kwargs)
        self.modes = {}
        self.deprecated = set()

    def map(self, field):
        """The field as a dict (see :func:`parse_map`); {} when absent."""
        return parse_map(self.get(field, ""))

    def set(self, field):
        """The field as a list (``tags`` is joined by ``, ``, other sets by ``; ``)."""
        if field == "tags":
            return parse_tags(self.get(field, ""))
        return parse_set(self.get(field, ""))

    def ref(self, field):
        """A reference field: None when absent or when xe cannot resolve it."""
        return parse_ref(self.get(field))

    def bool(self, field, default=None):
        if field not in self:
            return default
        return parse_bool(self[field])


def _label_of(match):
    name, marker, deprecated = match.group(1), match.group(2), match.group(3)
    return name, _MODE_MARKERS[marker], bool(deprecated)


def _parse_block(block, first_line_no):
    """One non-empty record (its lines joined by newlines, without the final newline)."""
    lines = block.split("\n")
    first = _FIRST_LINE.match(lines[0])
    if not first:
        raise XeOutputError("line %d is not the first line of a record: %s"
                            % (first_line_no, snippet(lines[0])))
    width = first.end() - 2
    record = Record()
    labels = []
    current = None
    for offset, line in enumerate(lines):
        if offset == 0:
            match, label_text, value = first, lines[0][:width].rstrip(" "), lines[0][width + 2:]
        else:
            match = None
            if line[width:width + 2] == ": ":
                match = _OTHER_LABEL.match(line[:width])
            if match is None:
                record[current] += "\n" + line  # continues a multi-line value
                continue
            label_text, value = line[:width].lstrip(" "), line[width + 2:]
        name, mode, deprecated = _label_of(match)
        if name in record:
            raise XeOutputError("line %d repeats the field %r" % (first_line_no + offset, name))
        labels.append(label_text)
        record[name] = value
        record.modes[name] = mode
        if deprecated:
            record.deprecated.add(name)
        current = name
    longest = max(len(label) for label in labels)
    if width != longest + 4:
        raise XeOutputError(
            "the record at line %d pads its labels to %d columns, not 4 more than its longest "
            "label (%d)" % (first_line_no, width, longest))
    return record


def parse_records(text):
    """Parse ``*-list`` / ``*-param-list`` output into a list of :class:`Record`."""
    if text == "":
        return []
    if not text.endswith("\n\n\n"):
        raise XeOutputError("the output does not end with two empty lines: ends with %s"
                            % snippet(text[-20:]))
    if text.strip("\n") == "":
        if len(text) % 3:
            raise XeOutputError("%d newlines is not a number of empty records" % len(text))
        return [Record() for _ in range(len(text) // 3)]
    first = _FIRST_LINE.match(text)
    if not first:
        raise XeOutputError("line 1 is not the first line of a record: %s"
                            % snippet(text.split("\n", 1)[0]))
    start_marker = text[:first.end()]
    records = []
    pos = 0
    line_no = 1
    while pos < len(text):
        if not text.startswith(start_marker, pos):
            raise XeOutputError("line %d does not start a record like line 1: %s"
                                % (line_no, snippet(text[pos:].split("\n", 1)[0])))
        search = pos
        while True:
            end = text.find("\n\n\n", search)
            after = end + 3
            if after == len(text) or text.startswith(start_marker, after):
                break
            if _FIRST_LINE.match(text[after:text.find("\n", after)]):
                # Records of one listing all have the same fields, hence the same first line
                # up to the value: this is not a value holding empty lines.
                raise XeOutputError(
                    "line %d starts a record whose first label or padding differs from line "
                    "1: %s" % (line_no + text.count("\n", pos, after),
                               snippet(text[after:].split("\n", 1)[0])))
            search = end + 1
        block = text[pos:end]
        records.append(_parse_block(block, line_no))
        line_no += block.count("\n") + 3
        pos = after
    return records


def format_records(records):
    """Render records exactly as xe prints them (the inverse of :func:`parse_records`).

    Each record needs ``modes`` for all its fields (a plain dict defaults to ``RO``).
    """
    markers = dict((mode, marker) for marker, mode in _MODE_MARKERS.items())
    out = []
    for record in records:
        modes = getattr(record, "modes", {})
        deprecated = getattr(record, "deprecated", ())
        labels = ["%s %s%s" % (name, markers[modes.get(name, "RO")],
                               _DEPRECATED if name in deprecated else "")
                  for name in record]
        width = 4 + max([len(label) for label in labels] or [0])
        lines = []
        for index, (label, value) in enumerate(zip(labels, record.values())):
            label = label.ljust(width) if index == 0 else label.rjust(width)
            lines.append("%s: %s" % (label, value))
        out.append("\n".join(lines) + "\n\n\n")
    return "".join(out)


def parse_minimal(text):
    """Parse ``--minimal`` output into a list of str (``"\\n"`` -> [])."""
    if not text.endswith("\n"):
        raise XeOutputError("--minimal output does not end with a newline: ends with %s"
                            % snippet(text[-20:]))
    body = text[:-1]
    if body == "":
        return []
    values = []
    current = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            following = body[index + 1:index + 2]
            if following not in (",", "\\"):
                raise XeOutputError("--minimal output has a bare backslash at offset %d: %s"
                                    % (index, snippet(body[max(0, index - 20):index + 20])))
            current.append(following)
            index += 2
        elif char == ",":
            values.append("".join(current))
            current = []
            index += 1
        else:
            current.append(char)
            index += 1
    values.append("".join(current))
    return values


def escape_minimal(values):
    """Render values as ``--minimal`` prints them (the inverse of :func:`parse_minimal`,
    except that ``[""]`` prints like ``[]``)."""
    return ",".join(v.replace("\\", "\\\\").replace(",", "\\,") for v in values) + "\n"


def parse_param_get(text):
    """``*-param-get`` output: the value and a newline."""
    if not text.endswith("\n"):
        raise XeOutputError("param-get output does not end with a newline: ends with %s"
                            % snippet(text[-20:]))
    return text[:-1]


def parse_map(value):
    """A map field (``k: v; k2: v2``) as a dict. Best effort.

    xe joins pairs with ``"; "`` and key and value with ``": "`` and escapes nothing, so a value
    holding ``"; "`` or ``": "`` is ambiguous: a piece without ``": "`` is taken as the rest
    of the previous value, and a key ends at its first ``": "``. Where one key matters, ask xe
    for it alone with ``param-get ... param-key=<key>``.
    """
    result = {}
    if value == "":
        return result
    key = None
    for piece in value.split("; "):
        name, sep, item = piece.partition(": ")
        if sep:
            key = name
            result[key] = item
        elif key is None:
            raise XeOutputError("a map value does not start with 'key: ': %s" % snippet(value))
        else:
            result[key] += "; " + piece
    return result


def parse_set(value):
    """A set or reference list (``a; b``) as a list; ``<not in database>`` items -> None.

    Items are joined by ``"; "`` unescaped: an item holding ``"; "`` is split.
    """
    if value == "":
        return []
    return [parse_ref(item) for item in value.split("; ")]


def parse_tags(value):
    """The ``tags`` field, joined by ``", "`` (a tag holding ``", "`` is split)."""
    if value == "":
        return []
    return value.split(", ")


def parse_ref(value):
    """A reference printed by xe: None for ``<not in database>`` (null or unresolvable here)
    and ``<invalid reference>`` (a dangling ref), else the value (a uuid)."""
    if value is None or value in (NOT_IN_DATABASE, INVALID_REFERENCE):
        return None
    return value


def parse_bool(value):
    if value == "true":
        return True
    if value == "false":
        return False
    raise XeOutputError("expected true or false, got %s" % snippet(value))
