"""xapi's redo-log layout on a metadata VDI (``ocaml/database/block_device_io.ml``).

    offset 0     16 bytes  magic ``redo-log--------``
    offset 16     1 byte   NUL
    offset 17     1 byte   validity byte: ``0`` neither half, ``1`` first, ``2`` second
    offset 18              first half  (60 MiB)
    offset 18 + 60 MiB     second half (60 MiB)

A half holds one database record, then zero or more deltas, then a zero length:

    database: marker (36, a UUID) | length (16 decimal digits) | XML | generation (16) | marker
    delta:    length (16) | data | generation (16) | marker

The lab writes a full database record on every change (xapi does so after many deltas), always
to the half that is not valid, then flips the validity byte. ``read`` honours the validity byte,
checks the markers and applies nothing older than the database record's generation.
"""

import os
import uuid

MAGIC = b"redo-log--------"
POS_VALIDITY = 17
POS_FIRST = 18
HALF = 60 * 1024 * 1024
POS_SECOND = POS_FIRST + HALF
MARKER = 36
DIGITS = 16


class RedoLogError(Exception):
    pass


def _half_pos(half):
    return POS_FIRST if half == 1 else POS_SECOND


def initialise(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, MAGIC + b"\x000")


def _read_at(fd, pos, n):
    os.lseek(fd, pos, os.SEEK_SET)
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def validity(fd):
    head = _read_at(fd, 0, POS_FIRST)
    if head[:16] != MAGIC:
        return None
    v = head[POS_VALIDITY:POS_VALIDITY + 1]
    return int(v) if v in (b"0", b"1", b"2") else 0


def write_database(fd, xml, generation, marker=None):
    """Write ``xml`` (bytes) as a full database record into the inactive half and flip."""
    if len(xml) + 2 * MARKER + 2 * DIGITS + DIGITS > HALF:
        raise RedoLogError("database of %d bytes does not fit in a half" % len(xml))
    current = validity(fd)
    if current is None:
        initialise(fd)
        current = 0
    target = 2 if current == 1 else 1
    marker = (marker or str(uuid.uuid4())).encode("ascii")
    record = b"".join([marker, b"%016d" % len(xml), xml, b"%016d" % generation, marker,
                       b"0" * DIGITS])
    os.lseek(fd, _half_pos(target), os.SEEK_SET)
    os.write(fd, record)
    os.lseek(fd, POS_VALIDITY, os.SEEK_SET)
    os.write(fd, str(target).encode("ascii"))


def write_path(path, xml, generation):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        write_database(fd, xml, generation)
    finally:
        os.close(fd)


def read(fd):
    """(generation, xml bytes) of the valid half; RedoLogError if there is none."""
    half = validity(fd)
    if half is None:
        raise RedoLogError("the device does not contain a redo log (bad magic)")
    if half == 0:
        raise RedoLogError("the redo log is empty (validity byte 0)")
    pos = _half_pos(half)
    marker = _read_at(fd, pos, MARKER)
    length = _read_at(fd, pos + MARKER, DIGITS)
    try:
        n = int(length)
    except ValueError:
        n = 0
    if n <= 0:
        raise RedoLogError("no database record in half %d" % half)
    pos += MARKER + DIGITS
    xml = _read_at(fd, pos, n)
    pos += n
    generation = int(_read_at(fd, pos, DIGITS))
    pos += DIGITS
    end_marker = _read_at(fd, pos, MARKER)
    if end_marker != marker:
        raise RedoLogError("non-matching markers %r and %r" % (marker, end_marker))
    pos += MARKER
    # Deltas: the lab writes none; read past any that are there.
    while True:
        length = _read_at(fd, pos, DIGITS)
        try:
            n = int(length)
        except ValueError:
            n = 0
        if n <= 0:
            break
        pos += DIGITS + n + DIGITS + MARKER
    return generation, xml


def read_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return read(fd)
    finally:
        os.close(fd)
