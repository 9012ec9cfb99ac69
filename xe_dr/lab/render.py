"""xe's output formats, byte for byte (xapi ``cli_printer.ml`` and the ``xe`` client).

* A record: the first label left-justified and every other label right-justified to
  ``4 + longest label``, then ``": "`` and the value; each record is followed by two blank
  lines (the record ends with a newline, the printer adds one and the client another).
* ``--minimal``: the first field of each record, joined with ``,`` (``,`` -> ``\\,`` and
  ``\\`` -> ``\\\\``), one line; an empty table prints an empty line.
* Plain lists (``param-get``, a new object's UUID): one line per item.
"""

from . import util
from .schema import NID


class View(object):
    """Renders rows of ``db``; references resolve through ``local`` (the site's own pool)."""

    def __init__(self, db, local, foreign_cache=None):
        self.db = db
        self.local = local
        self.refinfo = local.refinfo()
        self.foreign_cache = foreign_cache if foreign_cache is not None else \
            local.extra.get("foreign_cache", {})

    def uuid_of(self, ref):
        info = self.refinfo.get(ref)
        return info[0] if info is not None else NID

    def name_of(self, ref):
        info = self.refinfo.get(ref)
        if info is None or info[1] is None:
            return NID
        return info[1]


def ref_converter(local):
    """Error parameters that are references into the local database print as uuid (name)."""
    info = local.refinfo() if local is not None else {}

    def convert(value):
        hit = info.get(value)
        if hit is None:
            return value
        uuid, name = hit
        return uuid if name is None else "%s (%s)" % (uuid, name)
    return convert


def record_text(pairs):
    """One record (a list of (label, value)) without the trailing blank lines."""
    if not pairs:
        return "\n"
    width = 4 + max(len(label) for label, _ in pairs)
    first_label, first_value = pairs[0]
    lines = [first_label.ljust(width) + ": " + first_value]
    for label, value in pairs[1:]:
        lines.append(label.rjust(width) + ": " + value)
    return "\n".join(lines) + "\n"


def escape_minimal(value):
    return value.replace("\\", "\\\\").replace(",", "\\,")


class Printer(object):
    """Collects what the CLI server sends (PTable, PList, PMsg, PStderr) for one command."""

    def __init__(self, minimal=False):
        self.minimal = minimal
        self.out = []
        self.err = []
        self._buffer = []

    def table(self, records):
        if self.minimal:
            if records and all(records):
                self._buffer.insert(0, ",".join(escape_minimal(r[0][1]) for r in records))
            return
        for r in records:
            self.out.append(record_text(r) + "\n\n")

    def plist(self, items):
        if self.minimal:
            self._buffer.insert(0, ",".join(escape_minimal(i) for i in items))
            return
        for i in items:
            self.out.append(i + "\n")

    def msg(self, text):
        if not self.minimal:
            self.out.append(text + "\n")

    def stderr(self, text):
        if not self.minimal:
            self.err.append(text + "\n")

    def flush(self):
        if self.minimal:
            self.out.append(",".join(self._buffer) + "\n")
            self._buffer = []

    def stdout_text(self):
        return "".join(self.out)

    def stderr_text(self):
        return "".join(self.err)


def is_null(ref):
    return util.is_null(ref)
