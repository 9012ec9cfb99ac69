"""The sites file and what reads it, attacked (issue 20's review): files an administrator
writes on a bad day, a source whose host key is refused, a defect in one pool's check, a
default target in the environment, an estate too large for one Nagios line, a broken file
under a Prometheus textfile collector."""

import io
import json
import os

import pytest

from tests.test_sites import xedr
from xe_dr.cli import main
from xe_dr.cli.environment import Environment
from xe_dr.dr.sites import SitesError, load, parse

pytest_plugins = ["tests.fixtures_lab", "tests.fixtures_workflow"]


@pytest.mark.parametrize("text, message", [
    # Two sections, one pool: the second master would win without a word.
    ("[pool a1]\nmaster = root@10.0.1.10\n[pool  a1]\nmaster = root@10.9.9.9\n",
     "line 3: [pool a1] is named twice (and line 1)"),
    # A name --pool reads as an option, one that forges Nagios perfdata, a control character.
    ("[pool --yes]\nmaster = local\n", "line 1: [pool --yes]: a pool's name is letters, "
                                       "digits, '.', '_' and '-', not first a '-' or '.'"),
    ("[pool a|b]\nmaster = local\n", "line 1: [pool a|b]: a pool's name is letters, "
                                     "digits, '.', '_' and '-', not first a '-' or '.'"),
    ("[pool a\x1b[2Jb]\nmaster = local\n", "line 1: [pool a\\x1b[2Jb]: a pool's name is "
                                           "letters, digits, '.', '_' and '-', not first a "
                                           "'-' or '.'"),
    # --peer local is this machine, --source down a declared-down source.
    ("[pool local]\nmaster = root@10.0.1.10\n",
     "line 1: [pool local]: local is a word of --peer and --source (this machine's xe)"),
    ("[pool down]\nmaster = root@10.0.1.10\n",
     "line 1: [pool down]: down is a word of --peer and --source (the source is down)"),
    # A master -H would refuse is the file's fault (78, its line), not a usage error later.
    ("[pool a1]\nmaster = -oProxyCommand=id\n",
     "line 2: master = -oProxyCommand=id: '-oProxyCommand=id' is not a host name or address"),
])
def test_a_pool_named_twice_or_oddly_or_a_master_ssh_would_refuse_is_the_files_fault(
        text, message):
    with pytest.raises(SitesError) as failure:
        parse(text, "estate.ini")
    assert failure.value.message == "sites file estate.ini " + message
    assert failure.value.exit_code == 78


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "estate.ini"
    path.write_bytes(b"\xef\xbb\xbf[pool a1]\r\nmaster = root@10.0.1.10\r\n")
    assert load(str(path)).pool("a1").master == "root@10.0.1.10"


def test_a_source_whose_host_key_is_refused_is_up_not_taken_for_down(drill, tmp_path,
                                                                     monkeypatch):
    """The known_hosts used lacks the source master's key: the sites file gives the pool a
    file of its own, or a resume without the sites file reaches the kept master with the
    default one. A host key refused (or a login) is an answer: the source is up, maybe
    running the VMs. Taken for down, the failover would recover them here as well."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text("#!/bin/sh\necho 'Host key verification failed.' >&2\n"
                                 "exit 255\n")
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))
    drill.ok("A", "replication", "enable", *[uuid for uuid, _ in drill.lab.replicated_srs()])
    drill.lab.mirror("break")
    sites = tmp_path / "estate.ini"
    sites.write_text("[pool london]\nmaster = root@xcp-a1.example\nssh = openssh\n"
                     "known-hosts = london_known_hosts\n"
                     "[pool dublin]\nmaster = local\nxe = %s\n" % drill.lab.xe_path("B"))
    before = drill.snapshot("B")
    code, out, err = xedr(drill, "--sites", str(sites), "--pool", "dublin", "failover",
                          "--all", "--yes", "--source", "london", *drill.storage_args("B"))
    assert (code, err.splitlines()[-1].split(": ")[:3]) == (
        77, ["xe-dr", "error", "the host key of xcp-a1.example is unknown or has CHANGED"]), err
    assert drill.snapshot("B") == before
    assert not os.path.exists(os.path.join(drill.state_dir, "runs"))  # no run began


def estate_of_the_lab(tmp_path, drill):
    """The lab's two sites as pools of a sites file: london (site A) and dublin (B)."""
    path = tmp_path / "estate.ini"
    path.write_text("[pool london]\nmaster = local\nxe = %s\npeer = dublin\n"
                    "[pool dublin]\nmaster = local\nxe = %s\n" % (
                        drill.lab.xe_path("A"), drill.lab.xe_path("B")))
    return str(path)


def test_a_defect_in_one_pools_check_leaves_it_unknown_and_the_others_reported(
        drill, tmp_path, monkeypatch):
    """Not an XeDrError (a defect, odd answers of some xapi): the command stood on it before,
    the other pools' states lost with it in every format."""
    from xe_dr.dr import status
    checked = status.pool_status

    def broken_for_site_a(xe, **kw):
        if xe.xe_path == drill.lab.xe_path("A"):
            raise KeyError("name_label")
        return checked(xe, **kw)

    monkeypatch.setattr(status, "pool_status", broken_for_site_a)
    sites = estate_of_the_lab(tmp_path, drill)
    code, out, err = xedr(drill, "--sites", sites, "status", "--no-plugin", "--json")
    pools = json.loads(out)["pools"]
    assert [(p["name"], p["state"], p["exit"], p["error"]) for p in pools] == [
        ("london", "UNKNOWN", 1, "internal error: KeyError: 'name_label' (run with -v for the "
                                 "traceback, and please report it)"),
        ("dublin", "OK", 0, None)]
    assert code == 1, err
    code, out, err = xedr(drill, "--sites", sites, "status", "--no-plugin", "--format",
                          "nagios")
    assert (code, out.splitlines()[0].split(" | ")[0], out.splitlines()[2]) == (
        3, "XE-DR UNKNOWN - 2 pool(s): london UNKNOWN", "dublin: XE-DR OK - recovery site"), out


def xedr_with(drill, environ, *argv):
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ=environ, stdin_isatty=False, stdout_isatty=False,
                      stderr_isatty=False, local_runner=drill.local_runner)
    code = main(["--state-dir", drill.state_dir] + list(argv), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def test_sites_typed_checks_the_estate_even_with_a_default_target_in_the_environment(
        drill, tmp_path):
    """An admin's profile exports XE_DR_HOST; a --sites typed (or a Nagios command line)
    means the estate, not that one master."""
    sites = estate_of_the_lab(tmp_path, drill)
    code, out, err = xedr_with(drill, {"XE_DR_HOST": "root@127.0.0.1:1"}, "--sites", sites,
                               "status", "--no-plugin", "--json")
    assert [(p["name"], p["state"]) for p in json.loads(out)["pools"]] == [
        ("london", "CRITICAL"), ("dublin", "OK")], err
    # Both from the environment: -H's default names the target, as before the sites file.
    code, out, err = xedr_with(drill, {"XE_DR_HOST": "root@127.0.0.1:1", "XE_DR_SITES": sites},
                               "status", "--no-plugin")
    assert code == 69 and "root@127.0.0.1:1" in err.splitlines()[-1], err


def test_a_large_estate_keeps_the_nagios_status_line_within_nrpe_2s_1024_bytes(tmp_path):
    """Forty pools none of which answers (their xe is not there): the status line names as
    many as fit, with the pools in each state as perfdata; each pool keeps its own line."""
    from tests.fixtures_workflow import run_cli
    path = tmp_path / "estate.ini"
    path.write_text("".join("[pool dublin-dr-pool-%02d]\nmaster = local\nxe = %s\n" % (
        number, tmp_path / "no-xe") for number in range(40)))
    code, out, err = run_cli(["--state-dir", str(tmp_path / "state"), "--sites", str(path),
                              "status", "--format", "nagios"])
    lines = out.splitlines()
    summary, perf = lines[0].split(" | ")
    assert code == 3 and len(lines[0].encode("utf-8")) < 1024 and len(lines) == 41, out
    assert summary.startswith("XE-DR UNKNOWN - 40 pool(s): dublin-dr-pool-00 UNKNOWN; ")
    assert summary.endswith(" ...")
    assert perf == "'pools_ok'=0;;;0;40 'pools_warning'=0;;;0;40 'pools_critical'=0;;;0;40 " \
                   "'pools_unknown'=40;;;0;40"
    assert lines[40].startswith("dublin-dr-pool-39: XE-DR UNKNOWN - cannot run ")


@pytest.mark.parametrize("pool, down", [
    ([], 'xe_dr_up{sites="SITES"} 0'), (["--pool", "a1"], 'xe_dr_up{estate_pool="a1"} 0')])
def test_a_sites_file_that_cannot_be_read_leaves_no_stale_figures_for_prometheus(
        tmp_path, pool, down):
    """An edit gone wrong: the textfile collector must not go on serving the last figures
    as the pools' (with -H, a pool not read already says so)."""
    from tests.fixtures_workflow import run_cli
    sites, metrics = tmp_path / "estate.ini", tmp_path / "xe_dr.prom"
    sites.write_text("[pool a1]\nmaster = local\nmaster = root@10.0.1.10\n")
    metrics.write_text('xe_dr_up{estate_pool="a1"} 1\n')
    code, out, err = run_cli(["--state-dir", str(tmp_path / "state"), "--sites", str(sites)] +
                             pool + ["status", "--format", "prometheus", "-o", str(metrics)])
    assert code == 78, err
    assert metrics.read_text().splitlines()[-1] == down.replace("SITES", str(sites))
