"""``serve``: a real sshd per site that runs the site's fake xe (needs sshd and ssh)."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(
    not (os.path.exists("/usr/sbin/sshd") and shutil.which("ssh") and shutil.which("ssh-keygen")),
    reason="needs OpenSSH (sshd, ssh, ssh-keygen)")


def _ssh(lab, port, *argv):
    cmd = ["ssh", "-i", os.path.join(lab.root, "ssh", "id_ed25519"), "-p", str(port),
           "-o", "UserKnownHostsFile=" + os.path.join(lab.root, "ssh", "known_hosts"),
           "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
           "-o", "ConnectTimeout=5", "-F", "/dev/null", "root@127.0.0.1"] + list(argv)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out.decode(), err.decode()


def test_serve_runs_each_sites_xe_and_goes_dark(lab):
    if os.getuid() != 0:
        pytest.skip("the lab's sshd logs in as root")
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "xe_dr.lab", "serve", lab.root],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        ports = {}
        deadline = time.time() + 30
        while len(ports) < 2 and time.time() < deadline:
            line = proc.stdout.readline().decode()
            m = re.match(r"site (\w): xe-dr -H root@127.0.0.1:(\d+) --known-hosts (\S+) "
                         r"--xe (\S+) \.\.\.", line)
            if m:
                ports[m.group(1)] = int(m.group(2))
                assert m.group(4) == lab.xe_path(m.group(1))
        assert set(ports) == {"A", "B"}
        code, out, _ = _ssh(lab, ports["A"], lab.xe_path("A"), "pool-list", "--minimal")
        assert code == 0 and out.strip() == lab.ok("A", "pool-list", "--minimal").value
        code, _, err = _ssh(lab, ports["B"], lab.xe_path("B"), "vm-param-list", "uuid=x")
        assert code == 1 and err.startswith("The uuid you supplied was invalid.")
        lab.disaster("A")
        time.sleep(1.5)
        code, _, _ = _ssh(lab, ports["A"], lab.xe_path("A"), "pool-list")
        assert code == 255  # the coordinator is unreachable
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
