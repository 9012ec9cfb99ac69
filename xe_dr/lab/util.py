"""Small helpers shared by the lab: identifiers, time stamps, files and locks (Python 3.6, stdlib)."""

import contextlib
import errno
import fcntl
import json
import os
import random
import re
import threading
import time
import uuid

NULL_REF = "OpaqueRef:NULL"


def new_uuid(rng=None):
    """A random version-4 UUID string; deterministic when ``rng`` (a random.Random) is given."""
    if rng is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def new_ref(rng=None):
    return "OpaqueRef:" + new_uuid(rng)


def is_null(ref):
    return not ref or ref == NULL_REF


def xapi_date(ts=None):
    """xapi's date format (``Date.to_rfc3339``): ``20240115T10:20:30Z``, UTC."""
    if ts is None:
        ts = time.time()
    return time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime(ts))


EPOCH = "19700101T00:00:00Z"


def atomic_write(path, data, mode=0o644):
    """Write bytes or text to ``path`` through a temporary file and a rename."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    # The thread too: tests run the lab's xe in-process, several calls at once.
    tmp = "%s.tmp.%d.%d" % (path, os.getpid(), threading.current_thread().ident)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    finally:
        os.close(fd)
    os.rename(tmp, path)


def read_json(path, default=None):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except IOError as e:
        if e.errno == errno.ENOENT and default is not None:
            return default
        raise


def write_json(path, obj):
    atomic_write(path, json.dumps(obj, sort_keys=True, separators=(",", ":")))


def makedirs(path):
    try:
        os.makedirs(path)
    except OSError as e:
        if e.errno != errno.EEXIST:
            raise


@contextlib.contextmanager
def flocked(path, shared=False):
    """Hold an fcntl lock on ``path`` (created if missing) for the duration of the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield fd
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def natural_key(name):
    """Sort key putting A2 before A10 and a1-lun2 before a1-lun10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def seeded(seed):
    return random.Random(seed)


def sleep(seconds):
    if seconds > 0:
        time.sleep(seconds)
