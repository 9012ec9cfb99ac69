"""A small writer of xapi redo-log images for the plugin's tests (our own, after reference §1.5).

It follows the writes of xapi's block_device_io (read in xapi-project/xen-api
ocaml/database/block_device_io.ml, not copied):

- a fresh device gets the 16-byte magic, a NUL and validity byte ``0``;
- a database write goes to the half that is *not* valid (the first if neither is): marker,
  16-digit length, the database, 16-digit generation, the marker again, then 16 NULs trample
  whatever followed; then the validity byte is set to that half;
- a delta is appended to the valid half after its last record: 16-digit length, data,
  generation, the half's marker, then 16 NULs;
- ``empty`` sets the validity byte to ``0``.

``Lun`` is one image file (sparse: the halves are 60 MiB each); ``Mirror`` forwards every write
to a primary and a replica until ``freeze()``, like an array's synchronous mirror whose link
broke: the replica keeps the state of that moment while the primary goes on.
"""

import os
import uuid as uuidlib

MAGIC = b"redo-log--------"
POS_VALIDITY = 17
POS_FIRST = 18
HALF = 60 * 1024 * 1024
SIZE = POS_FIRST + 2 * HALF


def sexpr_map(pairs):
    """A map as xapi marshals it (string_marshall_helper.ml map, sExpr.ml string_of and
    escape_buf): ``(('k' 'v') ('k2' 'v2'))``, a backslash before ``\\`` and ``'``."""
    def quoted(text):
        return "'%s'" % text.replace("\\", "\\\\").replace("'", "\\'")
    return "(%s)" % " ".join("(%s %s)" % (quoted(k), quoted(v)) for k, v in pairs)


def xml_attribute(text):
    """A marshalled value as db_xml.ml To.table writes it in a row's attribute: xml_spaces.ml
    protect (space %., tab %t, newline %n, CR %r, %% for %), then Xmlm's out_data (< > & and
    the double quote as entities; the apostrophe left as it is)."""
    protect = {" ": "%.", "\t": "%t", "\n": "%n", "\r": "%r", "%": "%%"}
    text = "".join(protect.get(c, c) for c in text)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        text = text.replace(char, entity)
    return text


def database_xml(generation, pool_uuid="00000000-0000-0000-0000-000000000000",
                 schema=(5, 786), padding=0, other_config=None):
    """A small database document with the manifest xapi writes first; ``other_config``
    (pairs) gives the pool row that attribute, as xapi writes it."""
    extra = ""
    if other_config is not None:
        extra = ' other_config="%s"' % xml_attribute(sexpr_map(other_config))
    body = ('<?xml version="1.0" encoding="UTF-8"?><database><manifest>'
            '<pair key="schema_major_vsn" value="%d"/><pair key="schema_minor_vsn" value="%d"/>'
            '<pair key="generation_count" value="%d"/></manifest>'
            '<table name="pool"><row ref="OpaqueRef:p" uuid="%s"%s/></table>%s</database>'
            % (schema[0], schema[1], generation, pool_uuid, extra, " " * padding))
    return body.encode("utf-8")


def _strings(*items):
    return b"".join(b"%08d" % len(item) + item for item in items)


def write_field(table, ref, field, value):
    """A delta's data as redo_log.ml redo_log_entry_to_string serialises WriteField(table,
    ref, field, marshalled value): ``WriteFiel`` then each string as %08d length and bytes."""
    return b"WriteFiel" + _strings(*(x.encode("utf-8") for x in (table, ref, field, value)))


def create_row(table, ref, pairs):
    """CreateRow(table, ref, [(field, marshalled value)]): the two strings, an %08d count, then
    each field and value as strings."""
    data = b"CreateRow" + _strings(table.encode("utf-8"), ref.encode("utf-8"))
    data += b"%08d" % len(pairs)
    return data + b"".join(_strings(k.encode("utf-8"), v.encode("utf-8")) for k, v in pairs)


def pool_other_config(pairs, ref="OpaqueRef:p"):
    """The delta xapi writes when the pool's other_config becomes ``pairs``."""
    return write_field("pool", ref, "other_config", sexpr_map(pairs))


class Lun(object):
    def __init__(self, path, size=SIZE):
        self.path = path
        if not os.path.exists(path):
            with open(path, "wb") as handle:
                handle.truncate(size)
            self.pwrite(0, MAGIC + b"\x000")
        self.pointer = {}      # half -> where its next delta goes
        self.marker = {}       # half -> its database marker

    def pwrite(self, pos, data):
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.lseek(fd, pos, os.SEEK_SET)
            os.write(fd, data)
        finally:
            os.close(fd)

    def pread(self, pos, size):
        with open(self.path, "rb") as handle:
            handle.seek(pos)
            return handle.read(size)

    def validity(self):
        return self.pread(POS_VALIDITY, 1)

    @staticmethod
    def start(half):
        return POS_FIRST if half == 1 else POS_FIRST + HALF

    def write_db(self, xml, generation, marker=None):
        current = self.validity()
        half = 2 if current == b"1" else 1
        marker = (marker or str(uuidlib.uuid4())).encode("ascii")
        assert len(marker) == 36
        record = b"".join([marker, b"%016d" % len(xml), xml, b"%016d" % generation, marker])
        pos = self.start(half)
        self.pwrite(pos, record + b"\x00" * 16)
        self.pointer[half] = pos + len(record)
        self.marker[half] = marker
        self.pwrite(POS_VALIDITY, str(half).encode("ascii"))
        return half

    def write_delta(self, data, generation, marker=None):
        half = int(self.validity())
        if half not in (1, 2):
            raise ValueError("the log cannot take deltas (validity %r)" % self.validity())
        marker = marker or self.marker[half]
        record = b"".join([b"%016d" % len(data), data, b"%016d" % generation, marker])
        pos = self.pointer[half]
        self.pwrite(pos, record + b"\x00" * 16)
        self.pointer[half] = pos + len(record)
        return pos

    def empty(self):
        self.pwrite(POS_VALIDITY, b"0")

    def flip_validity_to(self, value):
        self.pwrite(POS_VALIDITY, value)


class Mirror(object):
    """Synchronous mirroring of a primary image to a replica, until the link breaks."""

    def __init__(self, primary, replica):
        self.primary = primary
        self.replica = replica
        self.frozen = False

    def _both(self, method, *args):
        result = getattr(self.primary, method)(*args)
        if not self.frozen:
            getattr(self.replica, method)(*args)
        return result

    def write_db(self, xml, generation):
        marker = str(uuidlib.uuid4())
        return self._both("write_db", xml, generation, marker)

    def write_delta(self, data, generation):
        return self._both("write_delta", data, generation)

    def freeze(self):
        self.frozen = True
