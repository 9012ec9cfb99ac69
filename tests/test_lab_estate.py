"""The estate lab (issue 20): ``create --estate SOURCES:DRS``, source pools A1.. mirrored to DR
pools B1.. on shared arrays, per-site commands on the pools' names, a test failover of two
sources into one DR pool by xe-dr, and ``serve --sites-file``."""

import configparser
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.fixtures_lab import make_lab
from tests.fixtures_workflow import Drill
from xe_dr.lab import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORTAL_B = ["device-config:target=10.0.2.50",
            "device-config:targetIQN=iqn.2001-05.com.labarray:site-b"]


def vm_names(lab, site):
    return sorted(row["name_label"] for row in lab.db(site).rows("VM").values()
                  if not row.get("is_a_template") and not row.get("is_control_domain"))


def srs_at_portal(lab, site):
    """The UUIDs of the SRs on the LUNs the site's hosts find at side B's portal (sr-probe:
    the target's LUN list, then each LUN's SRs)."""
    listing = lab.xe(site, "sr-probe", "type=lvmoiscsi", *PORTAL_B)
    assert listing.code == 1 and "SR_BACKEND_FAILURE_107" in listing.err, listing
    found = set()
    for scsiid in re.findall(r"<SCSIid>(\w+)</SCSIid>", listing.err):
        probe = lab.ok(site, "sr-probe", "type=lvmoiscsi", "device-config:SCSIid=" + scsiid,
                       *PORTAL_B)
        found.update(re.findall(r"<UUID>([-\w]+)</UUID>", probe.out))
    return found


def test_an_estate_of_six_sources_and_two_dr_pools(tmp_path):
    lab = make_lab(tmp_path / "lab", estate="6:2", vms=2, hosts_a=1, hosts_b=1, vms_b=1)
    sources = ["A1", "A2", "A3", "A4", "A5", "A6"]
    assert lab.lab.site_names() == sources + ["B1", "B2"]
    assert [lab.ok(s, "pool-list", "params=name-label", "--minimal").value
            for s in lab.lab.site_names()] == ["Site " + s for s in lab.lab.site_names()]
    # each DR pool's hosts find, at the shared portal, the replicas of the pools mirrored
    # to it (LUN masking per pool) and its own LUNs, never another DR pool's sources'
    own = dict((b, {lab.uuid(b, "sr", **{"name-label": "iSCSI " + b})}) for b in ("B1", "B2"))
    for dr, mirrored in (("B1", ["A1", "A3", "A5"]), ("B2", ["A2", "A4", "A6"])):
        replicas = set(u for s in mirrored for u, _ in lab.replicated_srs(s))
        assert len(replicas) == 6
        assert srs_at_portal(lab, dr) == replicas | own[dr]
        assert [lab.lab.peer(s) for s in mirrored] == [dr] * 3
    # the names of each pool's VMs, vApps and replicated SRs are its own
    assert vm_names(lab, "A3") == ["a3-app-01", "a3-web-01"]
    assert lab.ok("A3", "appliance-list", "params=name-label", "--minimal").value == "a3-erp"
    assert vm_names(lab, "B2") == ["b2-monitor"]
    shown = lab.cli("show")
    assert "A3 iSCSI DR 2" in shown and "role: primary, its LUNs mirrored to B1" in shown
    assert "a3-lun2        iscsi mirroring (source A3)" in shown


def test_estate_sizes_are_checked(tmp_path):
    for given in ("6", "6:0", "2:3", "a:b"):
        code = cli.main(["create", str(tmp_path / given), "--estate", given])
        assert code == 1 and not os.path.exists(str(tmp_path / given / "lab.json"))


def test_per_site_commands_take_the_pools_names(tmp_path):
    lab = make_lab(tmp_path / "lab", estate="3:2", vms=1, hosts_a=1, hosts_b=1, vms_b=0)
    assert lab.cli("mirror", "break", "--site", "A3") == \
        "a3-lun1: broken (source A3)\na3-lun2: broken (source A3)\n"
    assert lab.cli("mirror", "resync", "--site", "B2") == \
        "a2-lun1: mirroring (source A2)\na2-lun2: mirroring (source A2)\n"
    lab.disaster("A3")
    assert lab.xe("A3", "vm-list").code == 1 and lab.xe("A1", "vm-list").code == 0
    lab.restore("A3")
    assert lab.xe("A3", "vm-list").code == 0
    lab.cli("disaster")  # the production site: every source pool
    assert [s for s in lab.lab.site_names() if lab.xe(s, "pool-list").code] == \
        ["A1", "A2", "A3"]
    lab.cli("restore")
    lab.cli("fault", "add", "--site", "B2", "--command", "sr-list", "--error", "HOST_OFFLINE",
            "OpaqueRef:x")
    assert lab.xe("B2", "sr-list").code == 1 and lab.xe("B1", "sr-list").code == 0
    assert cli.main(["disaster", lab.root, "--site", "A"]) == 1  # no such site
    assert not lab.lab.reload()["dark"]


def failover(drill, dr, source):
    """A test failover by xe-dr of ``source``'s replicas into ``dr``, with the storage
    options ``python -m xe_dr.lab storage`` prints for them."""
    storage = shlex.split(drill.lab.cli("storage", source))
    return drill.xedr(dr, "--json", "failover", "--test", "--all", "--power", "none", *storage)


@pytest.fixture(scope="module")
def two_sources_into_b1(tmp_path_factory):
    """An estate 3:2 (A1 and A3 mirrored to B1) after xe-dr's test failover of A1's replicas
    into B1, then of A3's: (lab, {step: B1's VM names}, {source: run result})."""
    root = tmp_path_factory.mktemp("estate")
    lab = make_lab(root / "lab", estate="3:2", vms=2, replicated_srs=1, hosts_a=1, hosts_b=1,
                   vms_b=1)
    drill = Drill(lab, str(root / "state"))
    for source in ("A1", "A3"):
        drill.ok(source, "replication", "enable", source + " iSCSI DR 1")
        lab.cli("mirror", "break", "--site", source)
    seen, runs = {"before": vm_names(lab, "B1")}, {}
    for source in ("A1", "A3"):
        runs[source] = failover(drill, "B1", source)
        seen[source] = vm_names(lab, "B1")
    return lab, seen, runs


def test_two_sources_test_failed_over_into_one_dr_pool_each_recover_their_own_vms(
        two_sources_into_b1):
    lab, seen, runs = two_sources_into_b1
    assert runs["A1"].code == 0, runs["A1"]
    assert [s["name_label"] for s in runs["A1"].json["sources"]] == ["Site A1"]
    assert seen["A1"] == sorted(seen["before"] + ["a1-app-01", "a1-web-01"])
    assert seen["A3"] == sorted(seen["A1"] + ["a3-app-01", "a3-web-01"])
    assert lab.ok("B1", "appliance-list", "params=name-label", "--minimal").values == \
        ["a1-erp", "a3-erp"]


def test_the_second_sources_failover_reads_only_its_own_metadata(two_sources_into_b1):
    _, _, runs = two_sources_into_b1
    second = runs["A3"]
    assert [s["name_label"] for s in second.json["sources"]] == ["Site A3"]
    assert second.code == 0, second


def test_the_sites_file_of_the_two_site_lab(lab):
    from xe_dr.lab import serve
    text = serve.sites_file_text(lab.lab, ["A", "B"], {"A": 40001, "B": 40002}, "root",
                                 "/k/id", "/k/kh")
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.read_string(text)
    assert dict(parsed["pool A"]) == {
        "site": "primary", "master": "root@127.0.0.1:40001", "xe": lab.xe_path("A"),
        "peer": "B", "srs": "\niSCSI DR 1\niSCSI DR 2\nFC DR 3"}
    assert dict(parsed["pool B"]) == {"site": "dr", "master": "root@127.0.0.1:40002",
                                      "xe": lab.xe_path("B")}
    assert dict(parsed["defaults"]) == {"ssh": "openssh", "known-hosts": "/k/kh",
                                        "identity": "/k/id"}


def _ssh(pool, defaults, *argv):
    user_host, port = pool["master"].rsplit(":", 1)
    cmd = ["ssh", "-i", defaults["identity"], "-p", port,
           "-o", "UserKnownHostsFile=" + defaults["known-hosts"],
           "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
           "-F", "/dev/null", user_host, pool["xe"]] + list(argv)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.skipif(not (os.path.exists("/usr/sbin/sshd") and shutil.which("ssh") and
                         shutil.which("ssh-keygen")), reason="needs OpenSSH")
def test_serve_writes_a_sites_file_whose_masters_answer_over_ssh_and_to_xe_dr(tmp_path):
    if os.getuid() != 0:
        pytest.skip("the lab's sshd logs in as root")
    lab = make_lab(tmp_path / "lab", estate="2:1", vms=1, hosts_a=1, hosts_b=1, vms_b=0)
    lab.disaster("A2")  # dark before serve starts: in the file, on the port it comes back to
    sites_file = str(tmp_path / "estate.ini")
    proc = subprocess.Popen([sys.executable, "-m", "xe_dr.lab", "serve", lab.root,
                             "--sites-file", sites_file], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=REPO))
    try:
        deadline, line = time.time() + 30, ""
        while not line.startswith("sites file ") and time.time() < deadline:
            line = proc.stdout.readline().decode()
            assert line, "serve ended"
        parsed = configparser.ConfigParser(interpolation=None)
        assert parsed.read(sites_file) == [sites_file]
        assert parsed.sections() == ["defaults", "pool A1", "pool A2", "pool B1"]
        defaults = parsed["defaults"]
        assert (defaults["ssh"], defaults["identity"]) == (
            "openssh", os.path.join(lab.root, "ssh", "id_ed25519"))
        assert [(parsed[p]["site"], parsed[p].get("peer"), parsed[p].get("srs")) for p in
                parsed.sections()[1:]] == [("primary", "B1", "\nA1 iSCSI DR 1\nA1 iSCSI DR 2"),
                                           ("primary", "B1", "\nA2 iSCSI DR 1\nA2 iSCSI DR 2"),
                                           ("dr", None, None)]
        for site in ("A1", "B1"):
            code, out, err = _ssh(parsed["pool " + site], defaults, "pool-list", "--minimal")
            assert code == 0 and out.strip() == lab.ok(site, "pool-list", "--minimal").value
        assert _ssh(parsed["pool A2"], defaults, "pool-list")[0] == 255  # refused: dark
        # xe-dr's status of the whole estate over the same sshds: A2 UNKNOWN, the rest told.
        status = subprocess.Popen(
            [sys.executable, "-m", "xe_dr", "--sites", sites_file, "--state-dir",
             str(tmp_path / "state"), "status", "--json", "--no-plugin"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=REPO))
        out, err = status.communicate(timeout=120)
        pools = json.loads(out.decode())["pools"]
        assert [(p["name"], p["role"], p["state"]) for p in pools] == [
            ("A1", "protected", "CRITICAL"), ("A2", "protected", "UNKNOWN"),
            ("B1", "recovery", "OK")]
        assert pools[0]["status"]["readiness"]["pool"]["name_label"] == "Site B1"
        assert "Connection refused" in pools[1]["error"] and pools[1]["status"] is None
        assert status.returncode == pools[1]["exit"] == 69, err
        lab.restore("A2")
        for _ in range(60):
            code, out, _ = _ssh(parsed["pool A2"], defaults, "pool-list", "--minimal")
            if code != 255:
                break
            time.sleep(0.25)
        assert code == 0 and out.strip() == lab.ok("A2", "pool-list", "--minimal").value
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
