"""The Ansible collection's example playbooks (ansible/playbooks), run by a real
ansible-playbook against the lab served over real sshd (``lab serve``): each task's module runs
xe-dr on this machine, which reaches each pool's master over SSH as the sites file says
(issue 20).

One lab for the module, as few playbook runs as prove it (CI's budget): the status playbook
twice (replication enabled and the status facts, then nothing changed), the site failover in
check mode (the lab's call log holds only reads, no run kept), then for real as a test
failover of every pool, cleaned up (the DR pool as it was).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

# Not "ansible": the repository's ansible/ folder imports as a namespace package anywhere.
pytest.importorskip("ansible.module_utils.basic")  # the ansible extra (not under 3.6)

from tests.fixtures_lab import make_lab  # noqa: E402
from tests.fixtures_remote import writes  # noqa: E402
from tests.fixtures_workflow import Drill  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAYBOOKS = os.path.join(REPO, "ansible", "playbooks")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

# The slow tier (tests/conftest.py): whole runs over a real sshd, each task a process.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (os.path.exists("/usr/sbin/sshd") and shutil.which("ssh")),
                       reason="needs OpenSSH (sshd, ssh)"),
    pytest.mark.skipif(os.getuid() != 0, reason="the lab's sshd logs in as root"),
]

RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                   re.M)


class Served(object):
    """A small two-site lab served over sshd, its sites file and inventory (hosts: the
    pools A and B), and the environment ansible-playbook runs in."""

    def __init__(self, root):
        self.root = root
        # Small: every xe call crosses SSH, and a run's calls grow with VMs, hosts and LUNs.
        self.lab = make_lab(os.path.join(root, "lab"), vms=4, vapps=1, order_groups=1,
                            replicated_srs=1, hosts_a=1, hosts_b=1, vms_b=1)
        self.drill = Drill(self.lab, os.path.join(root, "state"))  # setup, in-process
        self.state_dir = self.drill.state_dir
        self.server = None

    def start(self):
        self.server = subprocess.Popen(
            [sys.executable, "-m", "xe_dr.lab", "serve", self.lab.root],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ,
                                                                       PYTHONPATH=REPO))
        self.ports = self._ports()
        self.srs = sorted(self.lab.ok("A", "sr-param-get", "uuid=" + uuid,
                                      "param-name=name-label").value
                          for uuid, _ in self.lab.replicated_srs())
        self.sites = os.path.join(self.root, "estate.ini")
        self.plan = os.path.join(self.root, "A.plan")
        self._write_sites()
        self.inventory = os.path.join(self.root, "inventory.ini")
        with open(os.path.join(PLAYBOOKS, "inventory.ini")) as example:
            text = example.read()
        # The example inventory's hosts (A1, A2, B1) are those of its sites file; here the
        # lab's two pools, with the example's variables.
        with open(self.inventory, "w") as inventory:
            inventory.write("[primary]\nA\n\n[dr]\nB\n\n" + text[text.index("[all:vars]"):])
        self.env = self._ansible_env()
        return self

    def _ports(self):
        ports = {}
        deadline = time.time() + 60
        while len(ports) < 2 and time.time() < deadline:
            line = self.server.stdout.readline().decode()
            found = re.match(r"site (\w): xe-dr -H root@127\.0\.0\.1:(\d+) ", line)
            if found:
                ports[found.group(1)] = int(found.group(2))
        assert set(ports) == {"A", "B"}, "lab serve did not say its ports"
        return ports

    def _write_sites(self):
        ssh = os.path.join(self.lab.root, "ssh")
        with open(self.sites, "w") as sites:
            sites.write(
                "[defaults]\nssh = openssh\nssh-config = /dev/null\nidentity = %s\n"
                "known-hosts = %s\n\n"
                "[pool A]\nsite = primary\nmaster = root@127.0.0.1:%d\nxe = %s\npeer = B\n"
                "srs =\n%s\nplan = A.plan\n\n"
                "[pool B]\nsite = dr\nmaster = root@127.0.0.1:%d\nxe = %s\n" % (
                    os.path.join(ssh, "id_ed25519"), os.path.join(ssh, "known_hosts"),
                    self.ports["A"], self.lab.xe_path("A"),
                    "".join("    %s\n" % name for name in self.srs),
                    self.ports["B"], self.lab.xe_path("B")))

    def _ansible_env(self):
        """This xe-dr; the collection from the repository (a collections path holding a link
        to ansible/); nothing of this machine's Ansible configuration, home or agent."""
        collections = os.path.join(self.root, "collections", "ansible_collections", "xe_dr")
        os.makedirs(collections)
        os.symlink(os.path.join(REPO, "ansible"), os.path.join(collections, "estate"))
        config = os.path.join(self.root, "ansible.cfg")
        open(config, "w").close()
        env = dict(os.environ, PYTHONPATH=REPO, XE_DR_STATE_DIR=self.state_dir,
                   ANSIBLE_CONFIG=config, ANSIBLE_HOME=os.path.join(self.root, "ansible-home"),
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(self.root, "collections"),
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.root, "ansible-tmp"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_FORKS="5")
        env.pop("SSH_AUTH_SOCK", None)
        return env

    def playbook(self, *args):
        """ansible-playbook with the inventory; (its output, the recap: host -> (ok, changed,
        unreachable, failed))."""
        proc = subprocess.Popen([ANSIBLE_PLAYBOOK, "-i", self.inventory] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=self.env, cwd=self.root)
        out = proc.communicate(timeout=600)[0].decode("utf-8", "replace")
        recap = dict((m.group(1), tuple(int(v) for v in m.groups()[1:]))
                     for m in RECAP.finditer(out[out.rindex("PLAY RECAP"):]))
        return out, recap

    def runs(self):
        path = os.path.join(self.state_dir, "runs")
        return set(os.listdir(path)) if os.path.isdir(path) else set()

    def report(self, run, name="report.json"):
        with open(os.path.join(self.state_dir, "runs", run, name)) as handle:
            return json.load(handle)

    def stop(self):
        if self.server is None:
            return
        self.server.send_signal(signal.SIGTERM)
        try:
            self.server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not os.path.exists(ANSIBLE_PLAYBOOK):
        pytest.skip("no ansible-playbook beside %s" % sys.executable)
    estate = Served(str(tmp_path_factory.mktemp("ansible")))
    try:
        yield estate.start()
    finally:
        estate.stop()


def test_the_status_playbook_replicates_gives_the_facts_then_changes_nothing(served, tmp_path):
    status_dir = tmp_path / "status"
    status_dir.mkdir()
    out, recap = served.playbook(os.path.join(PLAYBOOKS, "status.yml"),
                                 "-e", "status_dir=%s" % status_dir)
    # A: replication enabled, its status kept; B (no srs: a recovery site): its status kept
    assert recap == {"A": (4, 2, 0, 0), "B": (4, 1, 0, 0)}, out
    with open(str(status_dir / "A.json")) as handle:
        status = json.load(handle)  # the fact xe_dr_status, as the playbook kept it
    assert status["schema"] == 1 and status["pool"]["name_label"] == "Site A"
    assert sorted(t["sr_name"] for t in status["replication"] if t["healthy"]) == served.srs
    assert status["pool"]["metadata_lun_alerts"] is True
    assert status["heartbeat"]["written"]
    with open(str(status_dir / "B.json")) as handle:
        assert json.load(handle)["pool"]["name_label"] == "Site B"

    out, recap = served.playbook(os.path.join(PLAYBOOKS, "status.yml"))
    assert recap == {"A": (3, 0, 0, 0), "B": (3, 0, 0, 0)}, out


def test_a_site_failover_checks_reading_only_then_tests_and_cleans_up_every_pool(served):
    # What the status playbook did in the test before (harmless again), and the plan the
    # sites file names, made from the pools (not under test: in-process, no SSH)
    served.drill.ok("A", "replication", "enable", *served.srs)
    made = served.drill.xedr("A", "plan", "init", served.plan, "--peer", "local", "--peer-xe",
                             served.lab.xe_path("B"), *served.drill.storage_args("B"))
    assert made.code == 0, made
    served.lab.mirror("break")  # the array's part of a test failover
    before, runs, mark = served.drill.snapshot("B"), served.runs(), len(served.lab.call_log())

    out, recap = served.playbook(os.path.join(PLAYBOOKS, "site-failover.yml"), "--check",
                                 "-e", "mode=test")
    assert recap["A"][3] == 0 and recap["B"][3] == 0, out
    assert re.search(r'"msg": "A: test at B planned \(run none\);', out), out
    calls = served.lab.call_log()[mark:]
    assert {c["site"] for c in calls} == {"A", "B"}  # the dry run read both pools
    assert writes(calls) == [] and served.runs() == runs
    assert served.drill.snapshot("B") == before

    out, recap = served.playbook(os.path.join(PLAYBOOKS, "site-failover.yml"), "-e", "mode=test")
    assert recap["A"] == (5, 2, 0, 0) and recap["B"][3] == 0, out  # the test, its cleanup
    test_run, = [r for r in served.runs() - runs if "-test-" in r]
    cleanup_run, = [r for r in served.runs() - runs if "-cleanup-" in r]
    test = served.report(test_run)
    assert test["outcome"] == "succeeded" and test["mode"] == "test"
    made = served.report(test_run, "run.json")  # in A's peer, by A's plan, queueing on B
    assert made["target"]["estate_pool"] == "B"
    assert made["argv"][made["argv"].index("failover"):] == [
        "failover", "--test", "--plan", served.plan, "--source", "A", "--wait-lock", "14400",
        "--answer-prompts"]
    assert any(item.get("recovered_vms") for item in test["items"])
    assert re.search(r'"msg": "A: test at B succeeded \(run %s\);' % test_run, out), out
    cleanup = served.report(cleanup_run)
    assert (cleanup["outcome"], cleanup["of"]) == ("succeeded", test_run)
    assert served.drill.snapshot("B") == before
