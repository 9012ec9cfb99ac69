"""Run commands with the system ``ssh``: the user's ssh config, agent and keys apply, and one
shared (ControlMaster) connection carries all the commands of a runner.

How the command travels (why it is never in any process's argv)
----------------------------------------------------------------
Anything in ssh's argv is visible to every local user in ``ps`` and /proc/PID/cmdline, and
xe arguments can hold passwords. So ssh is always started with the same fixed remote command,
:data:`~xe_dr.runner.shell.BOOTSTRAP`, and the real command line follows as the first line
of stdin; the remote shell reads and evals it, so the remote shell's argv holds only
BOOTSTRAP too. ``run(..., env=...)`` variables are written on that line as ``NAME=value``
assignments before the command words: they reach the command's environment and no process's
argv, here or on the target. The scheme is described in :mod:`xe_dr.runner.shell` (shared
with the paramiko runner).
"""

import errno
import logging
import os
import shutil
import subprocess
import tempfile
import threading

from xe_dr.redact import redact_text
from xe_dr.runner.base import (
    CommandTimedOut,
    HostKeyRejected,
    LoginRefused,
    ProgramNotFound,
    Runner,
    TransportFailed,
)
from xe_dr.runner.local import communicate, decode_output, encode_input
from xe_dr.runner.shell import BOOTSTRAP, one_line_command
from xe_dr.runner.target import Target

logger = logging.getLogger(__name__)

# ssh exits 255 for its own failures (connection, authentication, host key).
SSH_FAILED = 255
_HOST_KEY_FAILED = "Host key verification failed"
# What ssh prints when the server refuses every authentication method it tried.
_LOGIN_REFUSED = "Permission denied ("
_LOGIN_HINT = ("check the user and the key (-i KEY), or add this key to the master's "
               "~/.ssh/authorized_keys")
_SOCKET_PATH_MAX = 60  # the control socket's directory; sun_path allows 108 bytes in all
DEFAULT_MAX_SESSIONS = 8  # sshd's MaxSessions defaults to 10 per connection, shared ones too
_KEEPALIVE = ("ServerAliveInterval=15", "ServerAliveCountMax=3")


def _config_path(path):
    """A path as an ssh -o value: '%' is ssh's token character, spaces need quotes."""
    path = path.replace("%", "%%")
    return '"%s"' % path if " " in path else path


class OpenSshRunner(Runner):
    """Runs commands on ``target`` (a Target or ``[USER@]HOST[:PORT]``) with the ``ssh`` binary.

    ``identity``: private key file (then only that key is offered: IdentitiesOnly).
    ``known_hosts``: UserKnownHostsFile (default: the user's ssh config).
    ``accept_new``: StrictHostKeyChecking=accept-new instead of yes. ``ssh_config``: a config
    file for -F (default: the user's own config). ``connect_timeout``: ConnectTimeout.
    ``control_persist``: seconds the shared connection stays up once idle.
    ``max_sessions``: commands in flight at once on the shared connection. ``ssh_binary``:
    the client program. ``env``: the client's environment (None: ours); it is not what
    ``run(..., env=...)`` sets, which goes to the remote command only.
    """

    def __init__(self, target, identity=None, known_hosts=None, accept_new=False, timeout=None,
                 log=None, connect_timeout=15, ssh_config=None, control_persist=60,
                 max_sessions=DEFAULT_MAX_SESSIONS, ssh_binary="ssh", env=None):
        super(OpenSshRunner, self).__init__(timeout=timeout, log=log)
        self.target = Target.coerce(target)
        self.identity = identity
        self.known_hosts = known_hosts
        self.accept_new = accept_new
        self.connect_timeout = connect_timeout
        self.ssh_config = ssh_config
        self.control_persist = control_persist
        self.ssh_binary = ssh_binary
        self.env = env
        self.description = "ssh %s (openssh)" % self.target
        self._control_dir = None  # made on first use: no I/O in the constructor
        self._master_lock = threading.Lock()
        self._sessions = threading.BoundedSemaphore(max_sessions)

    # -- ssh's command line --

    @property
    def control_socket(self):
        return os.path.join(self._control_dir, "master") if self._control_dir else None

    def _ssh_argv(self, *options):
        """ssh, our options, then the caller's; the destination and command come after."""
        argv = [self.ssh_binary]
        if self.ssh_config:
            argv += ["-F", self.ssh_config]
        settings = [
            "BatchMode=yes",  # never prompt: there is nobody to answer
            "StrictHostKeyChecking=%s" % ("accept-new" if self.accept_new else "yes"),
            "ConnectTimeout=%d" % max(1, int(self.connect_timeout)),
            "ControlPath=%s" % _config_path(self.control_socket),
            "ControlPersist=%d" % self.control_persist,
        ] + list(_KEEPALIVE)
        if self.known_hosts:
            settings.append("UserKnownHostsFile=%s" % _config_path(self.known_hosts))
        if self.identity:
            argv += ["-i", self.identity]
            settings.append("IdentitiesOnly=yes")
        for setting in settings:
            argv += ["-o", setting]
        if self.target.port is not None:
            argv += ["-p", str(self.target.port)]
        if self.target.user:
            argv += ["-l", self.target.user]
        return argv + list(options)

    def _popen(self, argv, **streams):
        try:
            # A session of its own, like LocalRunner's commands: a Ctrl-C at xe-dr's terminal
            # must not kill ssh, whose death would end the call under way (xe_dr/interrupt.py).
            return subprocess.Popen(argv, close_fds=True, env=self.env,
                                    start_new_session=True, **streams)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.EACCES):
                raise ProgramNotFound("cannot run %s: %s" % (self.ssh_binary, e.strerror),
                                      hint="install the OpenSSH client, or use --ssh paramiko")
            raise TransportFailed("cannot start %s: %s" % (self.ssh_binary, e))

    def _ssh_failure(self, stderr, argv=None, secrets=()):
        """The error for ssh's exit status 255, from what ssh printed."""
        detail = " ".join(stderr.strip().splitlines()[-3:]) or "connection lost or refused"
        detail = redact_text(detail, secrets)
        if _HOST_KEY_FAILED in stderr:
            return HostKeyRejected(
                "the host key of %s is unknown or has CHANGED: %s"
                % (self.target.known_hosts_name(), detail),
                hint="check the fingerprint; for a new host pass --accept-new-host-key, for a "
                     "reinstalled one remove the old key with ssh-keygen -R")
        if _LOGIN_REFUSED in stderr:
            return LoginRefused("the login to %s was refused: %s" % (self.target, detail),
                                hint=_LOGIN_HINT)
        return TransportFailed("ssh to %s failed: %s" % (self.target, detail), argv=argv,
                               secrets=secrets)

    # -- the shared connection --

    def _ensure_master(self):
        """Start the shared connection unless it is up, so that commands started together
        share it instead of racing to become the master. Host key and login problems show
        here, before any command runs."""
        with self._master_lock:
            if self._control_dir is None:
                self._control_dir = tempfile.mkdtemp(prefix="xe-dr-ssh-")
                if len(self._control_dir) > _SOCKET_PATH_MAX:
                    os.rmdir(self._control_dir)
                    self._control_dir = tempfile.mkdtemp(prefix="xe-dr-ssh-", dir="/tmp")
            if os.path.exists(self.control_socket):
                return
            # -f -N: authenticate, then leave a master in the background with no command.
            # Its messages go to a file, not a pipe, as the background master keeps no pipe
            # of ours open that we could wait on forever.
            argv = self._ssh_argv("-o", "ControlMaster=yes", "-f", "-N", "--",
                                  self.target.host)
            with tempfile.TemporaryFile() as messages:
                process = self._popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=messages)
                try:
                    process.wait(timeout=2 * self.connect_timeout + 5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    raise TransportFailed("no SSH connection to %s within %ds"
                                          % (self.target, 2 * self.connect_timeout + 5))
                messages.seek(0)
                stderr = decode_output(messages.read())
            if process.returncode != 0:
                raise self._ssh_failure(stderr)
            for line in stderr.splitlines():  # e.g. accept-new's "Permanently added ..."
                if line.strip():
                    logger.warning("ssh %s: %s", self.target, line.strip())

    def close(self):
        """Stop the shared connection and remove its socket directory."""
        with self._master_lock:
            if self._control_dir is None:
                return
            if os.path.exists(self.control_socket):
                try:
                    process = self._popen(
                        self._ssh_argv("-O", "exit", "--", self.target.host),
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
                    process.wait(timeout=10)
                except (TransportFailed, subprocess.TimeoutExpired):
                    pass  # the master ends by itself after ControlPersist seconds
            shutil.rmtree(self._control_dir, ignore_errors=True)
            self._control_dir = None

    # -- commands --

    def _execute(self, argv, input, timeout, secrets, env):
        if not self._sessions.acquire(timeout=timeout):
            raise CommandTimedOut("no free SSH session on %s within %gs" % (self.target, timeout),
                                  hint="raise --timeout", argv=argv, secrets=secrets)
        try:
            self._ensure_master()
            # LogLevel=ERROR: ssh's own notices must not land in the command's stderr.
            ssh_argv = self._ssh_argv("-T", "-o", "ControlMaster=auto", "-o", "LogLevel=ERROR",
                                      "--", self.target.host, BOOTSTRAP)
            stdin = (one_line_command(argv, env) + "\n").encode("utf-8", "surrogateescape")
            process = self._popen(ssh_argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
            output = communicate(process, stdin + encode_input(input), timeout)
        finally:
            self._sessions.release()
        if output is None:
            raise CommandTimedOut(
                "no answer from %s within %gs; the command may still be running there"
                % (self.target, timeout), hint="raise --timeout", argv=argv, secrets=secrets)
        stdout, stderr = decode_output(output[0]), decode_output(output[1])
        if process.returncode == SSH_FAILED:
            # Also what a remote command exiting 255 looks like: ssh cannot tell them apart,
            # so 255 always counts as a transport failure.
            raise self._ssh_failure(stderr, argv, secrets)
        if process.returncode < 0:
            raise TransportFailed("ssh to %s was killed by signal %d"
                                  % (self.target, -process.returncode), argv=argv,
                                  secrets=secrets)
        return process.returncode, stdout, stderr
