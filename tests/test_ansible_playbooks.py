"""The Ansible collection's example playbooks (ansible/playbooks), run by a real
ansible-playbook against an estate lab served over real sshd (``lab serve --sites-file``):
each task's module runs xe-dr on this machine, which reaches each pool's master over SSH as
the sites file says (issue 20).

One estate for the module (two source pools mirrored to one DR pool), as few playbook runs as
prove it (CI's budget): the status playbook twice (replication enabled and the status facts,
then nothing changed), the site failover in check mode (the lab's call log holds only reads,
no run kept), then for real as a test failover of every pool, the two into the DR pool one
after the other (its lock), each cleaned up (the DR pool as it was).
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
    """A small estate served over sshd (``lab create --estate 2:1``: source pools A1 and A2,
    both mirrored to the DR pool B1), the sites file ``lab serve --sites-file`` writes with a
    recovery plan for each source, an inventory whose hosts are its pools, and the
    environment ansible-playbook runs in."""

    SOURCES, DR = ("A1", "A2"), "B1"

    def __init__(self, root):
        self.root = root
        # Small: every xe call crosses SSH, and a run's calls grow with VMs, hosts and LUNs.
        self.lab = make_lab(os.path.join(root, "lab"), estate="2:1", vms=2, replicated_srs=1,
                            hosts_a=1, hosts_b=1, vms_b=1)
        self.drill = Drill(self.lab, os.path.join(root, "state"))  # setup, in-process
        self.state_dir = self.drill.state_dir
        self.sites = os.path.join(root, "estate.ini")
        self.server = None

    def plan(self, source):
        return os.path.join(self.root, "%s.plan" % source)

    def start(self):
        self.server = subprocess.Popen(
            [sys.executable, "-m", "xe_dr.lab", "serve", self.lab.root, "--sites-file",
             self.sites], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONPATH=REPO))
        deadline, line = time.time() + 60, ""
        while not line.startswith("sites file ") and time.time() < deadline:
            line = self.server.stdout.readline().decode()
            assert line, "lab serve ended"
        with open(self.sites) as handle:
            text = handle.read()
        # Each source's plan (made by the test that runs by it), and no ssh configuration
        # of this machine's user.
        for source in self.SOURCES:
            text = text.replace("[pool %s]\n" % source, "[pool %s]\nplan = %s.plan\n"
                                % (source, source))
        with open(self.sites, "w") as handle:
            handle.write(text.replace("[defaults]\n", "[defaults]\nssh-config = /dev/null\n"))
        self.inventory = os.path.join(self.root, "inventory.ini")
        with open(os.path.join(PLAYBOOKS, "inventory.ini")) as example:
            text = example.read()
        # The example inventory's hosts are the pools of its sites file; here the lab's,
        # with the example's variables.
        with open(self.inventory, "w") as inventory:
            inventory.write("[primary]\n%s\n\n[dr]\n%s\n\n%s" % (
                "\n".join(self.SOURCES), self.DR, text[text.index("[all:vars]"):]))
        self.env = self._ansible_env()
        return self

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


def sites_srs(served, pool):
    from xe_dr.dr.sites import load
    return load(served.sites).pools[pool].srs


def test_the_status_playbook_replicates_gives_the_facts_then_changes_nothing(served, tmp_path):
    status_dir = tmp_path / "status"
    status_dir.mkdir()
    out, recap = served.playbook(os.path.join(PLAYBOOKS, "status.yml"),
                                 "-e", "status_dir=%s" % status_dir)
    # Each source: replication enabled, its status kept; B1 (no srs, a recovery site): its
    # status kept
    assert recap == {"A1": (4, 2, 0, 0), "A2": (4, 2, 0, 0), "B1": (4, 1, 0, 0)}, out
    for source in served.SOURCES:
        with open(str(status_dir / (source + ".json"))) as handle:
            status = json.load(handle)  # the fact xe_dr_status, as the playbook kept it
        assert status["schema"] == 1 and status["pool"]["name_label"] == "Site " + source
        assert sorted(t["sr_name"] for t in status["replication"] if t["healthy"]) == \
            sorted(sites_srs(served, source))
        assert status["pool"]["metadata_lun_alerts"] is True
        assert status["heartbeat"]["written"]
    with open(str(status_dir / "B1.json")) as handle:
        assert json.load(handle)["pool"]["name_label"] == "Site B1"

    out, recap = served.playbook(os.path.join(PLAYBOOKS, "status.yml"))
    assert recap == dict((pool, (3, 0, 0, 0)) for pool in ("A1", "A2", "B1")), out


def test_a_site_failover_checks_reading_only_then_tests_every_pool_queueing_on_the_dr_pool(
        served):
    for source in served.SOURCES:
        # What the status playbook did in the test before (harmless again), and the plan
        # the sites file names, made from the pools (not under test: in-process, no SSH)
        served.drill.ok(source, "replication", "enable", *sites_srs(served, source))
        made = served.drill.xedr(source, "plan", "init", served.plan(source), "--peer",
                                 "local", "--peer-xe", served.lab.xe_path(served.DR),
                                 *served.lab.storage_args(source))
        assert made.code == 0, made
        served.lab.cli("mirror", "break", "--site", source)  # the array's part of a test
    before = served.drill.snapshot(served.DR)
    runs, mark = served.runs(), len(served.lab.call_log())

    out, recap = served.playbook(os.path.join(PLAYBOOKS, "site-failover.yml"), "--check",
                                 "-e", "mode=test")
    assert [recap[pool][3] for pool in ("A1", "A2", "B1")] == [0, 0, 0], out
    for source in served.SOURCES:
        assert re.search(r'"msg": "%s: test at B1 planned \(run none\);' % source, out), out
    calls = served.lab.call_log()[mark:]
    assert {c["site"] for c in calls} == {"A1", "A2", "B1"}  # the dry runs read every pool
    assert writes(calls) == [] and served.runs() == runs
    assert served.drill.snapshot(served.DR) == before

    out, recap = served.playbook(os.path.join(PLAYBOOKS, "site-failover.yml"), "-e", "mode=test")
    # each source: its test failover and its cleanup
    assert (recap["A1"], recap["A2"], recap["B1"][3]) == ((5, 2, 0, 0), (5, 2, 0, 0), 0), out
    made = sorted((served.report(r, "run.json") for r in served.runs() - runs),
                  key=lambda m: m["created"])
    tests = [m for m in made if m["kind"] == "test"]
    for test in tests:  # each made in B1, by its source's plan, the lock waited for
        source = test["argv"][test["argv"].index("--source") + 1]
        assert test["target"]["estate_pool"] == "B1"
        assert test["argv"][test["argv"].index("failover"):] == [
            "failover", "--test", "--plan", served.plan(source), "--source", source,
            "--wait-lock", "14400", "--answer-prompts"]
        report = served.report(test["id"])
        assert report["outcome"] == "succeeded", report
        recovered = [i["name_label"] for i in report["items"] if i.get("recovered_vms")]
        assert recovered and all(name.startswith(source.lower() + "-") for name in recovered)
        assert re.search(r'"msg": "%s: test at B1 succeeded \(run %s\);' % (
            source, test["id"]), out), out
    assert sorted(t["argv"][t["argv"].index("--source") + 1] for t in tests) == ["A1", "A2"]
    # the lock rule: the second test failover into B1 began once the first had ended
    assert tests[0]["ended"] <= tests[1]["created"]
    cleanups = [m for m in made if m["kind"] == "cleanup"]
    assert sorted(served.report(c["id"])["of"] for c in cleanups) == sorted(
        t["id"] for t in tests)
    assert [served.report(c["id"])["outcome"] for c in cleanups] == ["succeeded"] * 2
    assert served.drill.snapshot(served.DR) == before
