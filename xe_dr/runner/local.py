"""Run commands on this machine (xe-dr running on dom0 itself)."""

import errno
import os
import select
import selectors
import signal
import subprocess
import time

from xe_dr import interrupt
from xe_dr.runner.base import CommandTimedOut, ProgramNotFound, Runner, TransportFailed

# A command is waited for in slices this long, so that a second Ctrl-C (xe_dr/interrupt.py)
# is noticed by a thread that waits for one.
_SLICE_SECONDS = 0.5


def encode_input(input):
    if input is None:
        return b""
    if isinstance(input, bytes):
        return input
    return input.encode("utf-8", "surrogateescape")


def decode_output(data):
    return data.decode("utf-8", "surrogateescape")


def communicate(process, stdin_bytes, timeout):
    """Feed stdin and drain stdout and stderr together (no pipe can fill up and deadlock).

    Returns (stdout, stderr) as bytes; on timeout kills the process and returns None. After
    a second Ctrl-C (interrupt.Abandoned) the process is let go, not killed: an xe call
    cannot be taken back by killing its client, and it goes on at the pool.

    Not Popen.communicate: a thread waiting here must notice the second Ctrl-C, so the wait
    is cut in slices, and Python 3.6's communicate cannot be called again after a timeout
    once one of the pipes was closed (it registers the closed pipe again: fixed in 3.7).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    output = {process.stdout: [], process.stderr: []}
    pending = memoryview(stdin_bytes or b"")
    let_go = interrupt.let_go_watch()
    try:
        with selectors.DefaultSelector() as selector:
            if pending:
                selector.register(process.stdin, selectors.EVENT_WRITE)
            else:
                process.stdin.close()
            for pipe in output:
                selector.register(pipe, selectors.EVENT_READ)
            while selector.get_map():
                if let_go():
                    raise interrupt.Abandoned()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    _kill(process)
                    return None
                for key, _ in selector.select(_SLICE_SECONDS if left is None
                                              else min(_SLICE_SECONDS, left)):
                    if key.fileobj is process.stdin:
                        try:
                            # At most PIPE_BUF bytes: a write to a writable pipe that cannot
                            # block.
                            pending = pending[os.write(key.fd, pending[:select.PIPE_BUF]):]
                        except BrokenPipeError:  # it exited, or closed its stdin
                            pending = pending[:0]
                        if not pending:
                            selector.unregister(key.fileobj)
                            key.fileobj.close()
                        continue
                    data = os.read(key.fd, 65536)
                    if data:
                        output[key.fileobj].append(data)
                    else:
                        selector.unregister(key.fileobj)
                        key.fileobj.close()
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            process.wait(left)
        except subprocess.TimeoutExpired:  # its pipes closed, and it runs on
            _kill(process)
            return None
        return b"".join(output[process.stdout]), b"".join(output[process.stderr])
    except interrupt.Abandoned:  # the second Ctrl-C: in this thread's wait, or another's
        _let_go(process)
        raise
    except BaseException:
        # A first Ctrl-C while no step is under way (a read, nothing to protect), or a
        # defect: never leave the child behind.
        process.kill()
        process.wait()
        raise


def _kill(process):
    # Its whole process group (each command runs in a session of its own): a shell script,
    # such as a storage adapter, must not leave a child acting on the array after the
    # timeout.
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGKILL)
    except OSError:  # it exited meanwhile
        pass
    process.kill()
    # Do not wait for the pipes to reach EOF: another process may hold them open (a
    # grandchild of the command, or the ssh master the mux client handed them to).
    for pipe in (process.stdin, process.stdout, process.stderr):
        pipe.close()
    process.wait()


def _let_go(process):
    """Stop waiting for ``process`` and leave it running: it reads EOF and its output goes
    nowhere (as a remote command's when its SSH channel closes)."""
    for pipe in (process.stdin, process.stdout, process.stderr):
        try:
            pipe.close()
        except (OSError, ValueError):
            pass


def exit_status(returncode):
    """A shell-style exit status: a process killed by signal N exited 128+N, as sh reports it."""
    return 128 - returncode if returncode < 0 else returncode


class LocalRunner(Runner):
    """Runs argv directly (no shell) with the standard library's subprocess.

    ``env``: the environment for commands (None: ours); ``run(..., env=...)`` adds to it
    for one command, so a secret reaches the command without being in its argv.

    A missing or non-executable program raises :class:`ProgramNotFound` (exit 78, a
    configuration problem: on dom0 that is almost always the path of xe, hence the hint).
    """

    description = "local"

    def __init__(self, timeout=None, log=None, env=None):
        super(LocalRunner, self).__init__(timeout=timeout, log=log)
        self.env = env  # the environment for commands; None inherits ours

    def _execute(self, argv, input, timeout, secrets, env):
        child_env = self.env
        if env:
            child_env = dict(os.environ if self.env is None else self.env)
            child_env.update(env)
        try:
            # A session of its own: the SIGINT a terminal sends to xe-dr's process group
            # must not kill a call under way (xe_dr/interrupt.py).
            process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                close_fds=True, env=child_env, start_new_session=True)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.EACCES, errno.ENOEXEC):
                raise ProgramNotFound(
                    "cannot run %s: %s" % (argv[0], e.strerror),
                    hint="install it or give its full path, e.g. --xe /opt/xensource/bin/xe")
            raise TransportFailed("cannot start %s: %s" % (argv[0], e), argv=argv,
                                  secrets=secrets)
        output = communicate(process, encode_input(input), timeout)
        if output is None:
            raise CommandTimedOut("no answer within %gs; the command was killed" % timeout,
                                  hint="raise --timeout", argv=argv, secrets=secrets)
        stdout, stderr = output
        return exit_status(process.returncode), decode_output(stdout), decode_output(stderr)
