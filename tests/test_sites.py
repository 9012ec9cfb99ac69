"""The sites file (xe_dr/dr/sites.py) and what reads it (issue 20): ``--sites FILE --pool
NAME`` drives that pool, another pool is named by its name, and ``--sites FILE status``
checks every pool at once, one table, exit the worst."""

import io
import json

import pytest

from xe_dr.cli import main
from xe_dr.cli.environment import Environment
from xe_dr.dr.sites import SitesError, parse

pytest_plugins = ["tests.fixtures_lab", "tests.fixtures_workflow"]


def xedr(drill, *argv):
    """xe-dr in-process against the drill's lab, with no --xe of its own: the sites file
    says which xe each pool has."""
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={}, stdin_isatty=False, stdout_isatty=False,
                      stderr_isatty=False, local_runner=drill.local_runner)
    code = main(["--state-dir", drill.state_dir] + list(argv), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def write_sites(tmp_path, drill, extra=""):
    path = tmp_path / "estate.ini"
    path.write_text(
        "# the lab's two pools, and one whose xe is not there\n"
        "[defaults]\n"
        "known-hosts = keys/known_hosts\n"
        "\n"
        "[pool london]\n"
        "site = primary\n"
        "master = local\n"
        "xe = %s\n"
        "peer = dublin\n"
        "srs =\n"
        "    iSCSI DR 1\n"
        "    FC DR 3\n"
        "\n"
        "[pool dublin]\n"
        "site = dr\n"
        "master = local\n"
        "xe = %s\n"
        "\n"
        "[pool paris]\n"
        "site = primary\n"
        "master = local\n"
        "xe = %s\n"
        "peer = dublin\n%s" % (drill.lab.xe_path("A"), drill.lab.xe_path("B"),
                               tmp_path / "no-such-xe", extra))
    return str(path)


def test_a_sites_file_is_read_with_defaults_lists_and_paths_beside_it(tmp_path):
    estate = parse("[defaults]\nssh = openssh\nknown-hosts = keys/known_hosts\n"
                   "[pool a1]\nmaster = root@10.0.1.10\npeer = b1\nsrs =\n    iSCSI DR 1\n"
                   "    FC DR 3\nplan = /etc/xe-dr/a1.plan\n"
                   "[pool b1]\nmaster = local\nknown-hosts = /root/b1_hosts\n",
                   str(tmp_path / "estate.ini"))
    a1, b1 = estate.pool("a1"), estate.pool("b1")
    assert list(estate.pools) == ["a1", "b1"]
    assert (a1.master, a1.peer, a1.srs, a1.plan, a1.ssh) == (
        "root@10.0.1.10", "b1", ["iSCSI DR 1", "FC DR 3"], "/etc/xe-dr/a1.plan", "openssh")
    assert a1.known_hosts == str(tmp_path / "keys" / "known_hosts")
    assert (b1.known_hosts, b1.is_local, b1.peer, b1.srs) == ("/root/b1_hosts", True, None, [])


@pytest.mark.parametrize("text, message", [
    ("[pool a1]\nmaster = local\nport = 22\n",
     "sites file estate.ini line 3: [pool a1] has no key port (its keys: site, master, xe, "
     "ssh, identity, known-hosts, ssh-config, peer, srs, plan)"),
    ("[pool a1]\nsite = london\n",
     "sites file estate.ini line 1: [pool a1] has no master (as -H takes it, or local)"),
    ("[pool a1]\nmaster = local\npeer = b9\n",
     "sites file estate.ini line 3: [pool a1] peer = b9 is no pool of this file"),
    ("[pool a1]\nmaster = local\nmaster = root@x\n",
     "sites file estate.ini line 3: option 'master' in section 'pool a1' already exists"),
    ("[defaults]\nssh = telnet\n[pool a1]\nmaster = local\n",
     "sites file estate.ini line 2: ssh = telnet: openssh or paramiko"),
    ("[pool a1]\nmaster = root@10.0.1.10  # the master\n",
     "sites file estate.ini line 2: master = root@10.0.1.10  # the master is more than one "
     "word (a comment is a line of its own)"),
    ("[site london]\n", "sites file estate.ini line 1: unknown section [site london] "
                        "(sections: defaults, pool NAME)"),
    ("[defaults]\nssh = openssh\n", "sites file estate.ini: no [pool NAME] section: a sites "
                                    "file names its pools"),
])
def test_a_file_that_is_not_a_sites_file_says_which_line_and_what(text, message):
    with pytest.raises(SitesError) as failure:
        parse(text, "estate.ini")
    assert failure.value.message == message
    assert failure.value.exit_code == 78


def test_pool_drives_that_pool_and_the_peer_is_named_by_its_name(drill, tmp_path):
    sites = write_sites(tmp_path, drill)
    code, out, err = xedr(drill, "--sites", sites, "--pool", "london", "status", "--json",
                          "--peer", "dublin", "--no-plugin")
    status = json.loads(out)
    assert status["pool"]["name_label"] == "Site A"
    assert status["readiness"]["pool"]["name_label"] == "Site B"
    # The sites file expects two replication SRs the pool does not replicate to yet.
    assert "SR FC DR 3, which the sites file names, carries none of this pool's replicated " \
           "metadata (xe-dr replication enable)" in status["problems"]
    assert code == 1, err


@pytest.mark.parametrize("argv, code, line", [
    (["--pool", "london", "status"], 64,
     "xe-dr: error: --pool london names a pool of a sites file: give --sites FILE"),
    (["--sites", "SITES", "--pool", "rome", "status"], 78,
     "xe-dr: error: no pool 'rome' in the sites file SITES (its pools: london, dublin, "
     "paris)"),
    (["--sites", "SITES", "--pool", "london", "-H", "root@10.0.0.1", "status"], 64,
     "xe-dr: error: -H and --pool both name the target: give one"),
])
def test_a_pool_that_cannot_be_the_target_is_one_line(drill, tmp_path, argv, code, line):
    sites = write_sites(tmp_path, drill)
    result, out, err = xedr(drill, *[sites if a == "SITES" else a for a in argv])
    assert (result, err.splitlines()[0]) == (code, line.replace("SITES", sites))


def test_the_estate_status_reports_every_pool_and_exits_with_the_worst(drill, tmp_path):
    drill.ok("A", "replication", "enable", "iSCSI DR 1", "FC DR 3")
    sites = write_sites(tmp_path, drill)
    code, out, err = xedr(drill, "--sites", sites, "status", "--no-plugin")
    lines = out.splitlines()
    assert lines[0] == "estate %s: 3 pool(s), 1 OK, 1 WARNING, 1 UNKNOWN" % sites
    assert lines[1].split() == ["POOL", "SITE", "STATE", "SRS", "PROTECTED", "AT", "RISK",
                                "UNRECOVERABLE", "METADATA", "AGE"]
    assert lines[2].split()[:4] == ["london", "primary", "WARNING", "2/2"]
    assert lines[3].split() == ["dublin", "dr", "OK", "-", "-", "-", "-", "recovery",
                                "site"]
    assert lines[4].split() == ["paris", "primary", "UNKNOWN", "-", "-", "-", "-", "-"]
    assert "paris: UNKNOWN: cannot run %s: No such file or directory" % (
        tmp_path / "no-such-xe") in out
    assert code == 78  # paris could not be asked: its own exit status, the worst

    code, out, err = xedr(drill, "--sites", sites, "status", "--no-plugin", "--json")
    pools = json.loads(out)["pools"]
    assert [(p["name"], p["role"], p["state"], p["exit"]) for p in pools] == [
        ("london", "protected", "WARNING", 1), ("dublin", "recovery", "OK", 0),
        ("paris", "protected", "UNKNOWN", 78)]
    assert pools[0]["status"]["readiness"]["pool"]["name_label"] == "Site B"
    assert pools[2]["status"] is None and pools[2]["error"].startswith("cannot run ")

    code, out, err = xedr(drill, "--sites", sites, "status", "--no-plugin", "--format",
                          "nagios")
    assert out.splitlines()[0] == "XE-DR UNKNOWN - 3 pool(s): london WARNING; paris UNKNOWN | " \
        "'pools_ok'=1;;;0;3 'pools_warning'=1;;;0;3 'pools_critical'=0;;;0;3 " \
        "'pools_unknown'=1;;;0;3"
    assert out.splitlines()[2] == "dublin: XE-DR OK - recovery site"
    assert code == 3


def test_a_source_named_by_its_pool_is_kept_as_its_master_and_xe(drill, tmp_path):
    # run.json keeps the options: a resume without --sites must still reach the source.
    from xe_dr.cli import build_parser
    from xe_dr.cli.context import Context
    from xe_dr.cli.run_options import _source
    sites = write_sites(tmp_path, drill, "\n[pool oslo]\nmaster = root@10.9.0.1\n"
                                         "xe = /opt/xe\n")
    for source, kept in (("london", {"host": "local", "xe": drill.lab.xe_path("A")}),
                         ("oslo", {"host": "root@10.9.0.1", "xe": "/opt/xe"}),
                         ("root@10.7.0.1", {"host": "root@10.7.0.1", "xe": None})):
        args = build_parser().parse_args(["--sites", sites, "--pool", "dublin", "failover",
                                          "--planned", "--all", "--source", source])
        assert _source(Context(args, None, None)) == kept


def test_a_status_that_changes_nothing_raises_no_alert(drill, tmp_path):
    code, out, err = xedr(drill, "--sites", write_sites(tmp_path, drill), "--pool", "london",
                          "status", "--no-heartbeat", "--alert")
    assert (code, err.splitlines()[0]) == (64, "xe-dr: error: --no-heartbeat is a status that "
                                               "changes nothing, and --alert raises xapi "
                                               "messages: choose one")
