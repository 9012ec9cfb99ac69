"""Run commands over SSH with paramiko: one persistent connection per target, one channel
per command, so several threads can run commands at once.

paramiko is optional (dom0 does not ship it): it is imported when a ParamikoRunner is made,
and its absence is a ConfigError that points at ``--ssh openssh``.

How the command travels: as with the OpenSSH runner (see :mod:`xe_dr.runner.shell`), the
channel's exec request is always the fixed :data:`~xe_dr.runner.shell.BOOTSTRAP` and the real
command line is the first line of the channel's stdin, followed by the command's own input.
sshd hands an exec request to the login shell as ``$SHELL -c <request>``, so a command in
the request would be in that shell's argv on the target, readable by every user there; this
way the shell's argv holds only BOOTSTRAP, and ``run(..., env=...)`` variables, written as
``NAME=value`` assignments on the line, reach the command's environment and no argv.
"""

import base64
import getpass
import hashlib
import logging
import os
import select
import socket
import threading
import time

from xe_dr import interrupt
from xe_dr.errors import ConfigError
from xe_dr.runner.base import (CommandTimedOut, HostKeyRejected, LoginRefused, Runner,
                               TransportFailed)
from xe_dr.runner.local import decode_output, encode_input
from xe_dr.runner.shell import BOOTSTRAP, one_line_command
from xe_dr.runner.target import Target

logger = logging.getLogger(__name__)

GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
_CHUNK = 65536
# A waiting command wakes at least this often to notice a dead connection or its deadline.
_POLL_SECONDS = 1.0
_KEEPALIVE_SECONDS = 15
# sshd's MaxSessions defaults to 10 channels per connection; stay under it.
DEFAULT_MAX_SESSIONS = 8
# Stdin up to this size (the command line, a small input) is sent before reading any output:
# it fits in a channel's first window (OpenSSH's sshd opens it at 2 MiB), so sending does not
# block. More is sent from a thread while the output is drained.
_INLINE_STDIN = 32 * 1024


def fingerprint(key):
    """OpenSSH's SHA256 fingerprint of a paramiko key, as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def import_paramiko():
    try:
        import paramiko
    except ImportError:
        raise ConfigError("the paramiko SSH library is not installed",
                          hint="install python3-paramiko, or use --ssh openssh")
    return paramiko


class _KnownHostsPolicy(object):
    """paramiko's hook for a host with no key of any type in known_hosts (a key that differs
    from a known one never gets here: paramiko raises BadHostKeyException for it)."""

    def __init__(self, runner):
        self.runner = runner

    def missing_host_key(self, client, hostname, key):
        runner = self.runner
        if not runner.accept_new:
            raise HostKeyRejected(
                "the host key of %s (%s %s) is not in %s"
                % (hostname, key.get_name(), fingerprint(key), runner.known_hosts),
                hint="check the fingerprint and add the key to known_hosts, "
                     "or pass --accept-new-host-key")
        _append_known_host(runner.known_hosts, hostname, key)
        logger.warning("Permanently added %s (%s %s) to %s", hostname, key.get_name(),
                       fingerprint(key), runner.known_hosts)


def _append_known_host(path, hostname, key):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    line = "%s %s %s\n" % (hostname, key.get_name(), key.get_base64())
    with open(path, "a+") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() > 0:
            f.seek(f.tell() - 1)
            if f.read(1) != "\n":
                line = "\n" + line
        f.write(line)


def _send_stdin(channel, data):
    """Send the command's input then EOF (in its own thread: a command may write a lot of
    output before it reads its input, and the reader must keep draining meanwhile)."""
    try:
        if data:
            channel.sendall(data)
        channel.shutdown_write()
    except Exception:
        pass  # the channel closed under us; the reader reports why


class ParamikoRunner(Runner):
    """Runs commands on ``target`` (a Target or ``[USER@]HOST[:PORT]``) with paramiko.

    ``identity``: private key file. ``known_hosts``: the file host keys are checked against
    and, with ``accept_new``, added to (default ``~/.ssh/known_hosts``; the system file
    /etc/ssh/ssh_known_hosts is read too, as OpenSSH does). ``allow_agent`` and
    ``look_for_keys`` default to True only when no identity is given. ``user`` defaults to
    the local user name, as with OpenSSH. ``connect_timeout`` bounds connecting;
    ``timeout`` (Runner) bounds each command. ``max_sessions`` caps commands running at once
    on the one connection (sshd refuses more than MaxSessions); others wait their turn.
    """

    def __init__(self, target, identity=None, known_hosts=None, accept_new=False, timeout=None,
                 log=None, connect_timeout=15.0, allow_agent=None, look_for_keys=None,
                 max_sessions=DEFAULT_MAX_SESSIONS):
        super(ParamikoRunner, self).__init__(timeout=timeout, log=log)
        self._paramiko = import_paramiko()
        self.target = Target.coerce(target)
        self.identity = identity
        self.known_hosts = known_hosts or os.path.expanduser("~/.ssh/known_hosts")
        self.accept_new = accept_new
        self.connect_timeout = connect_timeout
        self.allow_agent = identity is None if allow_agent is None else allow_agent
        self.look_for_keys = identity is None if look_for_keys is None else look_for_keys
        self.description = "ssh %s (paramiko)" % self.target
        self._client = None
        self._connect_lock = threading.Lock()
        self._sessions = threading.BoundedSemaphore(max_sessions)

    # -- connection --

    def _live_transport(self):
        """The connection's transport, connecting (again) when there is none or it died."""
        with self._connect_lock:
            transport = self._client.get_transport() if self._client else None
            if transport is not None and transport.is_active():
                return transport
            if self._client is not None:
                self._client.close()
                self._client = None
            self._client = self._connect()
            return self._client.get_transport()

    def _connect(self):
        paramiko = self._paramiko
        client = paramiko.SSHClient()
        for path in (GLOBAL_KNOWN_HOSTS, self.known_hosts):
            self._load_known_hosts(client, path)
        # Never AutoAddPolicy: unknown keys go through our policy, which refuses them unless
        # the user asked for accept-new.
        client.set_missing_host_key_policy(_KnownHostsPolicy(self))
        where = str(self.target)
        try:
            client.connect(
                self.target.host, port=self.target.port_or_default,
                username=self.target.user or getpass.getuser(),
                key_filename=self.identity, allow_agent=self.allow_agent,
                look_for_keys=self.look_for_keys, timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout, auth_timeout=self.connect_timeout)
        except HostKeyRejected:
            client.close()
            raise
        except paramiko.BadHostKeyException as e:
            client.close()
            raise HostKeyRejected(
                "the host key of %s has CHANGED: it offered %s %s, %s holds another key"
                % (self.target.known_hosts_name(), e.key.get_name(), fingerprint(e.key),
                   self.known_hosts),
                hint="if the host was reinstalled, remove the old key with ssh-keygen -R; "
                     "otherwise someone may be intercepting the connection")
        except paramiko.AuthenticationException as e:
            client.close()
            raise LoginRefused("the login to %s was refused: %s" % (where, e),
                               hint="check the user and the key (-i KEY), or add this key to "
                                    "the master's ~/.ssh/authorized_keys")
        except (paramiko.SSHException, socket.error, EOFError) as e:
            client.close()
            raise TransportFailed("cannot connect to %s: %s" % (where, str(e) or type(e).__name__),
                                  hint="check the host, the port and that sshd runs there")
        client.get_transport().set_keepalive(_KEEPALIVE_SECONDS)
        return client

    def _load_known_hosts(self, client, path):
        try:
            client.get_host_keys().load(path)
        except (IOError, OSError) as e:
            if os.path.exists(path):
                raise HostKeyRejected("cannot read known_hosts file %s: %s" % (path, e))
        except (self._paramiko.SSHException, self._paramiko.hostkeys.InvalidHostKey) as e:
            # paramiko stops at the bad line, so the keys after it would be missing: refuse.
            raise HostKeyRejected("bad line in known_hosts file %s: %s" % (path, e.args[0]),
                                  hint="fix or remove that line")

    def _open_channel(self, argv, secrets):
        for attempt in (1, 2):
            transport = self._live_transport()
            try:
                return transport.open_session(timeout=self.connect_timeout)
            except (self._paramiko.SSHException, socket.error, EOFError) as e:
                # Nothing has run yet, so a connection that died while idle is simply
                # reopened, once.
                if attempt == 2 or transport.is_active():
                    raise TransportFailed("cannot open an SSH session on %s: %s"
                                          % (self.target, e), argv=argv, secrets=secrets)

    def close(self):
        with self._connect_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- commands --

    def _execute(self, argv, input, timeout, secrets, env):
        deadline = time.monotonic() + timeout
        if not self._sessions.acquire(timeout=timeout):
            raise CommandTimedOut("no free SSH session on %s within %gs" % (self.target, timeout),
                                  hint="raise --timeout", argv=argv, secrets=secrets)
        try:
            channel = self._open_channel(argv, secrets)
            try:
                return self._run_on(channel, argv, input, env, deadline, timeout, secrets)
            finally:
                channel.close()
        finally:
            self._sessions.release()

    def _run_on(self, channel, argv, input, env, deadline, timeout, secrets):
        try:
            channel.exec_command(BOOTSTRAP)
        except (self._paramiko.SSHException, socket.error, EOFError) as e:
            raise TransportFailed("the SSH connection to %s failed starting the command: %s"
                                  % (self.target, e), argv=argv, secrets=secrets)
        line = (one_line_command(argv, env) + "\n").encode("utf-8", "surrogateescape")
        data = line + encode_input(input)
        if len(data) <= _INLINE_STDIN:
            _send_stdin(channel, data)
        else:
            threading.Thread(target=_send_stdin, args=(channel, data), daemon=True).start()

        def wait_slice():
            return max(0.0, min(_POLL_SECONDS, deadline - time.monotonic()))

        let_go = interrupt.let_go_watch()

        def check_deadline():
            if let_go():
                # A second Ctrl-C: the channel closes unanswered (without a pty, sshd sends
                # the command no signal for that: it goes on; xe_dr/interrupt.py).
                raise interrupt.Abandoned()
            if time.monotonic() >= deadline:
                raise CommandTimedOut(
                    "no answer from %s within %gs; the command may still be running there"
                    % (self.target, timeout), hint="raise --timeout", argv=argv, secrets=secrets)

        # Drain stdout and stderr together: reading one to its end first deadlocks as soon as
        # the other fills the channel window (paramiko issues 1778, 1790).
        stdout, stderr = [], []
        wakeup = channel.fileno()  # readable whenever either stream has data, or at EOF/close
        while True:
            # Look at EOF before reading: once it is seen, all the output is already buffered.
            at_eof = channel.eof_received or channel.closed
            read_something = False
            if channel.recv_ready():
                stdout.append(channel.recv(_CHUNK))
                read_something = True
            if channel.recv_stderr_ready():
                stderr.append(channel.recv_stderr(_CHUNK))
                read_something = True
            if not read_something and at_eof:
                break
            check_deadline()
            if not read_something:
                select.select([wakeup], [], [], wait_slice())
        while not channel.exit_status_ready():  # exit-status comes just after EOF, or close
            check_deadline()
            channel.status_event.wait(wait_slice())

        exit_code = channel.recv_exit_status()
        if exit_code == -1:  # the channel closed without an exit status
            if not channel.get_transport().is_active():
                raise TransportFailed(
                    "the SSH connection to %s dropped while the command ran; its outcome is "
                    "unknown" % self.target, hint="check the host, then run the command again",
                    argv=argv, secrets=secrets)
            raise TransportFailed(
                "the command on %s ended without an exit status (killed by a signal?)"
                % self.target, argv=argv, secrets=secrets)
        return exit_code, decode_output(b"".join(stdout)), decode_output(b"".join(stderr))
