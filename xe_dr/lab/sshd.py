"""A throw-away OpenSSH server on 127.0.0.1, for the SSH runner tests and the lab's ``serve``.

``SshServer`` starts the real ``sshd`` in the foreground (``-D -e``) on a free port, with host
and client keys made on the fly by ``ssh-keygen`` in a private directory. It authorises one
client key for the user running it (as root: root, which ``PermitRootLogin
prohibit-password`` allows with a key). Standard library only, Python 3.6.

    with SshServer() as server:
        server.write_known_hosts("/tmp/kh")
        # ssh -p server.port -i server.client_key -o UserKnownHostsFile=/tmp/kh 127.0.0.1
"""

import errno
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DEFAULT_SSHD = "/usr/sbin/sshd"

# sshd as root refuses to start without its privilege-separation directory.
_PRIVSEP_DIR = "/run/sshd"
_READY_LINE = "Server listening on"
_PORT_ATTEMPTS = 5


class SshServerError(Exception):
    """sshd could not be started (the message quotes the end of its log)."""


def generate_key(path, comment="xe-dr-lab"):
    """Write a new ed25519 key pair to ``path`` and ``path.pub``; return the public key line."""
    subprocess.check_call(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return read_public_key(path + ".pub")


def read_public_key(path):
    """``type base64`` of a .pub file, without its comment (as known_hosts wants it)."""
    with open(path) as f:
        return " ".join(f.read().split()[:2])


def free_port(host):
    """A port of ``host`` free now (sshd may still lose it to someone else, hence the
    retries in start(); serve keeps one for a dark site)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def _processes():
    """{pid: (ppid, command name)} of every process, from /proc."""
    processes = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except (IOError, OSError):
            continue  # the process ended while we looked
        # Fields after the command name, which is in parentheses and may hold anything.
        fields = stat[stat.rfind(")") + 2:].split()
        processes[int(name)] = (int(fields[1]), stat[stat.find("(") + 1:stat.rfind(")")])
    return processes


class SshServer(object):
    """A running sshd. Attributes once started: ``host``, ``port``, ``user``, ``client_key``
    (private key path), ``client_public_key``, ``host_public_key`` (``type base64``), ``dir``.

    ``workdir``: where keys, config and log go (a new temporary directory, removed on stop,
    when None). ``port``: a fixed port (default: a free one, picked again if it is taken). ``client_key``: an existing private key to authorise (with ``.pub`` beside it)
    instead of a new one. ``extra_config``: more sshd_config lines.
    """

    def __init__(self, workdir=None, client_key=None, sshd=DEFAULT_SSHD, host="127.0.0.1",
                 port=None, extra_config=(), start_timeout=10.0):
        self.sshd = sshd
        self.host = host
        self.extra_config = list(extra_config)
        self.start_timeout = start_timeout
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self._given_workdir = workdir
        self._given_client_key = client_key
        self._given_port = port
        self.dir = None
        self.port = None
        self.client_key = None
        self.client_public_key = None
        self.host_key = None
        self.host_public_key = None
        self.log_path = None
        self._process = None

    # -- lifecycle --

    def start(self):
        if self._process is not None:
            return self
        try:
            self._start()
        except BaseException:
            self.stop()  # no half-started server or stray directory left behind
            raise
        return self

    def _start(self):
        self.dir = self._given_workdir or tempfile.mkdtemp(prefix="xe-dr-sshd-")
        if not os.path.isdir(self.dir):
            os.makedirs(self.dir)
        self._make_keys()
        if os.getuid() == 0 and not os.path.isdir(_PRIVSEP_DIR):
            os.makedirs(_PRIVSEP_DIR, 0o755)
        attempts = 1 if self._given_port else _PORT_ATTEMPTS
        for attempt in range(attempts):
            self.port = self._given_port or free_port(self.host)
            if self._start_on_port():
                return
        raise SshServerError("sshd could not bind a port after %d attempt(s): %s"
                             % (attempts, self.log_tail().strip()))

    def stop(self):
        """Stop the listener and cut every connection; remove the directory if it is ours."""
        if self._process is not None:
            self.kill_children()
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None
        if self.dir and not self._given_workdir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def pid(self):
        return self._process.pid if self._process else None

    # -- what clients need --

    def known_hosts_line(self):
        """The known_hosts entry for this server: ``[127.0.0.1]:PORT type base64``."""
        return "[%s]:%d %s" % (self.host, self.port, self.host_public_key)

    def write_known_hosts(self, path):
        """Write a known_hosts file that trusts this server (and nothing else)."""
        with open(path, "w") as f:
            f.write(self.known_hosts_line() + "\n")
        return path

    def kill_children(self):
        """SIGKILL the per-connection sshd processes: every live connection drops at once.

        The commands those connections started are left running (they are not sshd).
        Returns the pids killed.
        """
        if self._process is None:
            return []
        processes = _processes()
        # Descendants of the listener, found by walking ppid links down from it.
        descendants = set()
        frontier = {self._process.pid}
        while frontier:
            children = {pid for pid, (ppid, _) in processes.items() if ppid in frontier}
            children -= descendants
            descendants |= children
            frontier = children
        # sshd >= 9.8 runs connections in "sshd-session"; both start with "sshd".
        killed = [pid for pid in descendants if processes[pid][1].startswith("sshd")]
        for pid in killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError as e:
                if e.errno != errno.ESRCH:
                    raise
        return killed

    def log_tail(self, chars=2000):
        try:
            with open(self.log_path) as f:
                return f.read()[-chars:]
        except (IOError, OSError, TypeError):
            return ""

    # -- internals --

    def _make_keys(self):
        self.host_key = os.path.join(self.dir, "ssh_host_ed25519_key")
        if not os.path.exists(self.host_key):
            generate_key(self.host_key, "xe-dr-lab-host")
        self.host_public_key = read_public_key(self.host_key + ".pub")
        if self._given_client_key:
            self.client_key = self._given_client_key
        else:
            self.client_key = os.path.join(self.dir, "client_ed25519")
            if not os.path.exists(self.client_key):
                generate_key(self.client_key, "xe-dr-lab-client")
        self.client_public_key = read_public_key(self.client_key + ".pub")
        with open(os.path.join(self.dir, "authorized_keys"), "w") as f:
            f.write(self.client_public_key + "\n")

    def _write_config(self):
        path = os.path.join(self.dir, "sshd_config")
        lines = [
            "ListenAddress %s:%d" % (self.host, self.port),
            "HostKey %s" % self.host_key,
            "PidFile %s" % os.path.join(self.dir, "sshd.pid"),
            "AuthorizedKeysFile %s" % os.path.join(self.dir, "authorized_keys"),
            "UsePAM no",
            # Keys live in temporary directories whose modes sshd would otherwise refuse.
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UseDNS no",
            "PrintMotd no",
            "LogLevel INFO",
        ] + self.extra_config
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def _start_on_port(self):
        """Start sshd on self.port; True once it listens, False if the port was taken."""
        config = self._write_config()
        self.log_path = os.path.join(self.dir, "sshd.log")
        with open(self.log_path, "w") as log:
            self._process = subprocess.Popen(
                [self.sshd, "-D", "-e", "-f", config], stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, close_fds=True)
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if _READY_LINE in self.log_tail(100000):
                return True
            if self._process.poll() is not None:
                self._process = None
                log = self.log_tail()
                if "Address already in use" in log or "Cannot bind" in log:
                    return False
                raise SshServerError("sshd exited at start: %s" % log.strip())
            time.sleep(0.02)
        raise SshServerError("sshd did not start within %.0fs: %s"
                             % (self.start_timeout, self.log_tail().strip()))
