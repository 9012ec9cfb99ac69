"""Writing files: whole or not at all, and never replacing what is not a regular file.

- :func:`replace_atomically`: the state directory's own files (``run.json``, reports).
- :func:`write_output_file`: a file the user named (``report -o``, ``runbook -o``). A regular
  file or a new path is replaced atomically (keeping an existing file's mode); a device or a
  fifo (``/dev/null``, ``/dev/stdout``, ``>(...)``) is written to, never replaced; a symlink is
  followed to its target; a directory is refused.
"""

import errno
import os
import stat

from xe_dr.errors import UsageError, XeDrError

# Failures of the file system rather than of the path the user gave.
_MEDIUM_ERRORS = (errno.ENOSPC, errno.EFBIG, errno.EIO, getattr(errno, "EDQUOT", errno.ENOSPC))


def fsync_dir(path):
    """Make a rename in ``path`` durable (best effort: some file systems refuse)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_all(fd, data):
    while data:
        written = os.write(fd, data)
        data = data[written:]


def replace_atomically(path, text, mode=None, owner=None):
    """Write ``text`` (str, UTF-8) to ``path`` whole or not at all: a temporary file beside
    it, fsync'd, renamed over it. ``mode``: the file's permissions (default 0o666 less the
    umask, like a shell's ``>``); ``owner``: (uid, gid) to keep, where allowed. The temporary
    file never outlives a failure. Raises OSError."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, ".%s.tmp.%d" % (name, os.getpid()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if mode is not None else 0o666)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            if owner is not None and owner != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fd, owner[0], owner[1])
                except OSError:
                    pass  # not ours to give away: the file becomes the writer's
            _write_all(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(directory or ".")


def write_output_file(path, text, mode=None):
    """Write ``text`` to the file the user named; returns the path written (a symlink's
    target; a device or a fifo as named). ``mode``: the permissions of a file that does not
    exist yet (default 0o666 less the umask); an existing file keeps its own. Raises a
    one-line XeDrError: UsageError (64) for a path that cannot be written, exit 1 when the
    file system fails (full, I/O error)."""
    shown = path
    path = os.path.expanduser(path)
    try:
        try:
            existing = os.stat(path)  # through symlinks, and /dev/stdout's link to a pipe
        except OSError as failure:
            if failure.errno != errno.ENOENT:
                raise
            existing = None
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise UsageError("cannot write %s: it is a directory" % shown,
                             hint="give a file name with -o")
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            # A device, a fifo, a terminal: written to, never replaced (as root, a rename
            # would turn /dev/null into a regular file).
            fd = os.open(path, os.O_WRONLY)
            try:
                _write_all(fd, text.encode("utf-8"))
            finally:
                os.close(fd)
        else:
            # A symlink: its target. Not before a device or a fifo is known to be none:
            # /dev/stdout on a pipe resolves to /proc/PID/fd/pipe:[N], which is no path.
            path = os.path.realpath(path)
            if existing is not None:
                replace_atomically(path, text, mode=stat.S_IMODE(existing.st_mode),
                                   owner=(existing.st_uid, existing.st_gid))
            else:
                replace_atomically(path, text, mode=mode)
    except (IOError, OSError) as failure:
        reason = failure.strerror or str(failure)
        if failure.errno in _MEDIUM_ERRORS:
            raise XeDrError("cannot write %s: %s" % (shown, reason),
                            hint="nothing was written; free some space or choose another file")
        raise UsageError("cannot write %s: %s" % (shown, reason),
                         hint="choose another file with -o")
    return path
