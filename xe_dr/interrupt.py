"""Ctrl-C during a run: the run stops between steps, never in the middle of a call.

An xe call that changes a pool cannot be taken back by killing its client: xapi carries the
operation out whether or not anyone waits for the answer (an ``xe vm-start`` killed by ^C
leaves the VM starting, and the next start of it fails with OTHER_OPERATION_IN_PROGRESS). So
while a run applies its steps (:class:`deferred`):

- the commands the runners start are in a session of their own (LocalRunner and
  OpenSshRunner), so the SIGINT a terminal sends to its foreground process group does not
  reach them, and paramiko's channels are xe-dr's alone. Over SSH a closed channel does not
  stop the remote command either: without a pty, sshd sends it no signal (OpenSSH session.c,
  ``session_close_by_channel``: a session whose child still runs only releases its pty);
- the first Ctrl-C asks the run to stop: the calls under way finish and are journaled, and
  no step begins after it (:func:`check`, called by the engine before each step raises
  :class:`Interrupted`). When no step is under way (a read, a prompt) it stops at once:
  there is nothing to protect;
- a second Ctrl-C stops at once: xe-dr no longer waits for the calls under way
  (:func:`abandoned`; a runner then raises :class:`Abandoned`). They are not killed: they go
  on at the pool, and their steps stay "begin" in the journal, which a resume reconciles.

The engine counts the steps under way (:func:`began` at "begin", :func:`ended` at their end).

Outside :class:`deferred` (and in a thread other than the main one, as in the in-process
tests) Ctrl-C is Python's KeyboardInterrupt as usual.
"""

import os
import signal
import threading

__all__ = ["Abandoned", "Interrupted", "abandoned", "began", "check", "deferred", "ended",
           "let_go_watch"]


class Interrupted(KeyboardInterrupt):
    """The run stopped at a Ctrl-C: between two steps, or at once after a second one."""


class Abandoned(Interrupted):
    """A call no longer waited for, after a second Ctrl-C: it goes on at the target."""


class _State(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.steps = 0  # steps under way, in any thread
        self.requested = threading.Event()
        self.now = threading.Event()
        self.stream = None  # where the first Ctrl-C is acknowledged


_STATE = _State()


def abandoned():
    """Whether a second Ctrl-C said to stop waiting for the calls under way."""
    return _STATE.now.is_set()


def let_go_watch():
    """For a call about to wait for its command: a function telling whether a second Ctrl-C
    came since, i.e. whether to let the command go (:class:`Abandoned`). A call begun after
    it (the lock's release as the run stops) is waited for as usual."""
    before = _STATE.now.is_set()
    return lambda: not before and _STATE.now.is_set()


def check():
    """Before a step: raise :class:`Interrupted` once a stop was asked."""
    if _STATE.requested.is_set():
        raise Interrupted()


def began():
    """A step is under way (journaled "begin"): a Ctrl-C now waits for it to end."""
    with _STATE.lock:
        _STATE.steps += 1


def ended():
    """A step counted by :func:`began` ended (done, failed, or left behind)."""
    with _STATE.lock:
        _STATE.steps = max(0, _STATE.steps - 1)


def _say(text):
    """Written straight to the file descriptor: a signal handler must not take the locks of
    a stream the interrupted code may hold."""
    try:
        os.write(_STATE.stream.fileno(), text.encode("utf-8", "replace"))
    except Exception:  # no descriptor (a test's stream), or a closed one: nothing to say
        pass


def _on_sigint(signum, frame):
    if _STATE.requested.is_set():
        _STATE.now.set()
        raise Abandoned()
    _STATE.requested.set()
    # No lock here: the handler runs in the main thread, which may hold it (began, ended).
    busy = _STATE.steps
    if not busy:
        raise Interrupted()
    _say("\nxe-dr: stopping after the %d step(s) under way (Ctrl-C again to stop at once: "
         "their xe calls go on at the pool, and a resume checks them)\n" % busy)


class deferred(object):
    """``with deferred(stream):`` while a run applies its steps: Ctrl-C as described above
    (acknowledged on ``stream``, the command's stderr). Only the main thread can take
    signals; elsewhere this changes nothing."""

    def __init__(self, stream=None):
        self.stream = stream
        self.previous = None
        self.installed = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            _reset(self.stream)
            self.previous = signal.signal(signal.SIGINT, _on_sigint)
            self.installed = True
        return self

    def __exit__(self, *exc):
        if self.installed:
            signal.signal(signal.SIGINT, self.previous)
            _reset(None)
            self.installed = False


def _reset(stream):
    with _STATE.lock:
        _STATE.steps = 0
    _STATE.requested.clear()
    _STATE.now.clear()
    _STATE.stream = stream
