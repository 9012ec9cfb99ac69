"""``xe-dr status --format nagios|prometheus``: health in the monitoring admins run (issue 16).

Each format on a healthy pool, a degraded one and a broken one, crossing each threshold in
turn; every failure to check is ``XE-DR UNKNOWN`` with exit 3; the Prometheus output is read
with the prometheus-client package's own parser and written atomically with ``-o``.
"""

import os
import re
import stat

import pytest

from xe_dr.dr.health import age_text, parse_threshold, ThresholdError

prometheus_parser = pytest.importorskip("prometheus_client.parser")

NEEDS_IGNORING = ("db-01", "file-01", "dns-01")  # at risk or unrecoverable in the default lab
STATUS_LINE = re.compile(r"^XE-DR (OK|WARNING|CRITICAL|UNKNOWN) - (.*?)(?: \| (.*))?$")


def replicate(drill):
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])


def ignore(drill, *names):
    for name in names:
        drill.lab.ok("A", "vm-param-add", "uuid=" + drill.lab.vm_uuid(name),
                     "param-name=tags", "param-key=xe-dr-ignore")


def break_copy(drill):
    """The first replicated SR's LUN stops taking writes at site A (the array reversed it):
    its metadata copy is no longer written. Returns the SR's uuid."""
    from xe_dr.lab import replication
    sr_uuid = drill.lab.replicated_srs()[0][0]
    db = drill.lab.db("A")
    lun = replication.sr_lun(drill.lab.array(), "A", db, db.by_uuid("SR", sr_uuid))
    drill.lab.mirror("reverse", [lun])
    pool = drill.lab.ok("A", "pool-list", "--minimal").value
    drill.lab.ok("A", "pool-param-set", "uuid=" + pool, "name-description=written")
    return sr_uuid


@pytest.fixture
def healthy(drill):
    """Site A replicating to every mirrored SR, the VMs it cannot protect tagged ignored."""
    replicate(drill)
    ignore(drill, *NEEDS_IGNORING)
    return drill


def nagios(drill, *args):
    result = drill.xedr("A", "status", "--format", "nagios", *args)
    lines = result.out.splitlines()
    match = STATUS_LINE.match(lines[0]) if lines else None
    assert match, result
    perf = {}
    for item in (match.group(3) or "").split():
        label, _, fields = item.partition("=")
        perf[label.strip("'")] = fields.split(";")
    return result.code, match.group(1), match.group(2), perf, lines[1:]


def metrics(text):
    """{(name, frozenset(labels)): value} through prometheus-client's parser."""
    found = {}
    for family in prometheus_parser.text_string_to_metric_families(text):
        assert family.type == "gauge"
        for sample in family.samples:
            assert sample.timestamp is None
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found, name, **labels):
    matches = [v for (n, ls), v in found.items()
               if n == name and all((k, val) in ls for k, val in labels.items())]
    assert len(matches) == 1, (name, labels, sorted(k for k in found if k[0] == name))
    return matches[0]


# -- Nagios ----------------------------------------------------------------------------------

def test_a_healthy_pool_is_ok_with_its_figures_as_perfdata(healthy):
    code, state, summary, perf, details = nagios(healthy)
    assert (code, state) == (0, "OK")
    assert summary.startswith("pool Site A: 9 VM(s) protected; 3 replication SR(s) written")
    assert perf["srs_missing"] == ["0", "0", "2", "0", "3"]
    assert perf["at_risk"] == ["0", "0", "", "0"]
    assert perf["unrecoverable"] == ["0", "0", "", "0"]
    assert perf["protected"] == ["9", "", "", "0"]
    assert details == ["OK srs-missing: 3 replication SR(s) written",
                       "OK metadata-age: " + details[1].split(": ", 1)[1],
                       "OK at-risk: 0 VM(s) at risk", "OK unrecoverable: 0 VM(s) unrecoverable",
                       "OK drill-copy: no drill's copies of the replicas attached",
                       "OK licence: the licence allows disaster recovery"]


def test_vms_at_risk_and_unrecoverable_are_a_warning_by_default_and_thresholds_move_them(drill):
    replicate(drill)
    code, state, summary, perf, _ = nagios(drill)
    assert (code, state) == (1, "WARNING")
    assert "2 VM(s) at risk: db-01, file-01" in summary
    assert "1 VM(s) unrecoverable: dns-01" in summary
    assert perf["at_risk"][:3] == ["2", "0", ""]

    # at-risk above 1 is CRITICAL; the unrecoverable one switched off: CRITICAL, exit 2
    code, state, summary, _, details = nagios(drill, "--critical", "at-risk=1",
                                              "--warning", "unrecoverable=none")
    assert (code, state) == (2, "CRITICAL")
    assert "CRITICAL at-risk: 2 VM(s) at risk: db-01, file-01" in details
    assert "OK unrecoverable: 1 VM(s) unrecoverable: dns-01" in details

    # tolerate two at risk, one unrecoverable: OK
    code, state, _, _, _ = nagios(drill, "--warning", "at-risk=2", "--warning",
                                  "unrecoverable=1")
    assert (code, state) == (0, "OK")

    # the VM tagged xe-dr-ignore no longer counts
    ignore(drill, "dns-01")
    code, state, _, perf, _ = nagios(drill, "--warning", "at-risk=2")
    assert (code, state, perf["unrecoverable"][0]) == (0, "OK", "0")


def test_replication_srs_missing_against_the_expected_count(healthy):
    # one more expected than configured: one missing, a WARNING
    code, state, summary, perf, _ = nagios(healthy, "--expect-srs", "4")
    assert (code, state) == (1, "WARNING")
    assert "1 of 4 expected replication SRs not configured" in summary
    assert perf["srs_missing"] == ["1", "0", "3", "0", "4"]

    # a copy no longer written (its redo log lost the device): one missing of three
    break_copy(healthy)
    code, state, summary, perf, _ = nagios(healthy)
    assert (code, state) == (1, "WARNING")
    assert "1 of 3 expected replication SRs missing or not written (not written: " in summary
    # ... CRITICAL once no more than one is left, as asked
    code, state, _, _, _ = nagios(healthy, "--critical", "srs-missing=0")
    assert (code, state) == (2, "CRITICAL")


def test_a_pool_without_replication_is_critical(drill):
    ignore(drill, *NEEDS_IGNORING)
    code, state, summary, perf, _ = nagios(drill)
    assert (code, state) == (2, "CRITICAL")
    assert summary.startswith("pool Site A: no SR carries this pool's replicated metadata")
    assert perf["srs_missing"] == ["1", "0", "0", "0", "1"]


def test_a_name_holding_a_pipe_or_a_newline_forges_no_line_and_no_perfdata(drill):
    """Nagios and Icinga read perfdata from the first '|' of the status line and of each
    detail line, with no escape: a pool's or a VM's name holding one, a newline or an escape
    sequence stays text of its own line."""
    replicate(drill)
    pool = drill.lab.ok("A", "pool-list", "--minimal").value
    drill.lab.ok("A", "pool-param-set", "uuid=" + pool, "name-label=Site|A\nB\x1b[2J")
    drill.lab.ok("A", "vm-param-set", "uuid=" + drill.lab.vm_uuid("db-01"),
                 "name-label=db|01\n'x'")
    result = drill.xedr("A", "status", "--format", "nagios")
    lines = result.out.splitlines()
    assert result.code == 1 and len(lines) == 7, result
    assert lines[0].count("|") == 1 and not any("|" in line for line in lines[1:]), lines
    code, state, summary, perf, details = nagios(drill)
    assert summary.startswith("pool Site/A B\\x1b[2J: 2 VM(s) at risk: db/01 'x', file-01")
    assert sorted(perf) == ["at_risk", "metadata_age", "protected", "srs_missing",
                            "unrecoverable"]
    assert "WARNING at-risk: 2 VM(s) at risk: db/01 'x', file-01" in details


def test_a_name_beyond_ascii_in_the_c_locale_of_cron_and_nrpe(healthy):
    """cron and NRPE run a plugin without LANG: Python 3.6 then encodes stdout as ASCII (3.7
    and later as UTF-8, which PYTHONCOERCECLOCALE=0 PYTHONUTF8=0 turn off, as 3.6 has it)."""
    from tests.fixtures_remote import run_xedr
    pool = healthy.lab.ok("A", "pool-list", "--minimal").value
    healthy.lab.ok("A", "pool-param-set", "uuid=" + pool, u"name-label=Soci\u00e9t\u00e9 A")
    result = run_xedr(healthy.lab, healthy.state_dir, ["status", "--format", "nagios"],
                      site="A", json_output=False,
                      env={"LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0",
                           "PYTHONUTF8": "0", "PYTHONIOENCODING": ""})
    assert result.code == 0, result
    assert result.out.startswith(u"XE-DR OK - pool Soci\u00e9t\u00e9 A: 9 VM(s) protected"), \
        result


def test_a_long_summary_leaves_the_status_line_and_its_perfdata_within_nrpe_2s_1024_bytes(
        healthy):
    """A DR site short of memory for eight VMs, without a network and without the plugin: its
    problems make a summary of more than 1000 characters. The status line (perfdata last) is
    cut short, the detail line holds it all."""
    from tests.test_readiness import host_uuid, GIB
    for name in ("xcp-b1", "xcp-b2"):
        healthy.lab.poke("B", "host", host_uuid(healthy, "B", name), memory_total=8 * GIB)
    result = healthy.xedr("A", "status", "--format", "nagios", "--peer", "local",
                          "--peer-xe", healthy.lab.xe_path("B"))
    lines = result.out.splitlines()
    assert result.code == 2 and len(lines[0].encode("utf-8")) < 1024, result
    code, state, summary, perf, details = nagios(
        healthy, "--peer", "local", "--peer-xe", healthy.lab.xe_path("B"))
    assert summary.endswith(" ...") and perf["readiness"][0] == "4"
    readiness = [d for d in details if d.startswith("CRITICAL readiness: DR site: ")][0]
    assert len(readiness) > 1000 and summary[:-4] in "pool Site A: " + readiness[20:]


def test_a_licence_that_restricts_dr_is_critical(healthy):
    pool = healthy.lab.ok("A", "pool-list", "--minimal").value
    healthy.lab.poke("A", "pool", pool, restrictions={"restrict_dr": "true"})
    code, state, summary, _, details = nagios(healthy)
    assert (code, state) == (2, "CRITICAL")
    assert "CRITICAL licence: the licence restricts disaster recovery (restrict_dr=true)" \
        in details


@pytest.mark.parametrize("args, says", [
    (["--warning", "age=1h"], "'age=1h' is not NAME=VALUE"),
    (["--critical", "at-risk=-1"], "'at-risk=-1': at-risk takes a count"),
    (["--expect-srs", "two"], "'two' is not a count"),
    (["--expect-srs", "0"], "'0' is not a count of replication SRs from 1 to 8"),
    (["--expect-srs", "9"], "'9' is not a count of replication SRs from 1 to 8"),
    (["--warning", "metadata-age=inf"], "metadata-age takes a number of seconds"),
    (["--critical", "at-risk=1e400"], "at-risk takes a count of 0 or more"),
    (["--json"], "--json and --format nagios are two outputs"),
    (["-o", "/dev/null"], "--format nagios answers on stdout, where Nagios reads it"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["--peer"], "expected one argument"),
    (["--peer", ""], "argument --peer: must not be empty"),
    (["--peer", "local", "--peer-xe", " "], "argument --peer-xe: must not be empty"),
])
def test_every_usage_error_is_unknown_with_exit_3(healthy, args, says):
    result = healthy.xedr("A", "status", "--format", "nagios", *args)
    assert result.code == 3, result
    assert result.out.startswith("XE-DR UNKNOWN - ") and says in result.out, result
    assert len(result.out.splitlines()) == 1


def test_a_master_that_cannot_be_reached_or_a_bad_configuration_is_unknown(healthy, tmp_path):
    unreachable = healthy.xedr("A", "-H", "root@127.0.0.1:1", "--ssh", "openssh",
                               "--known-hosts", str(tmp_path / "known_hosts"),
                               "status", "--format", "nagios")
    assert unreachable.code == 3, unreachable
    assert unreachable.out.startswith("XE-DR UNKNOWN - ")
    no_xe = healthy.xedr("A", "status", "--format=nagios", "--xe", str(tmp_path / "no-xe"))
    assert no_xe.code == 3 and no_xe.out.startswith("XE-DR UNKNOWN - "), no_xe
    peer = healthy.xedr("A", "status", "--format", "nagios", "--peer", "root@127.0.0.1:1",
                        "--ssh", "openssh", "--known-hosts", str(tmp_path / "known_hosts"))
    assert peer.code == 3 and peer.out.startswith("XE-DR UNKNOWN - "), peer
    # --plugin required where it is not installed (site B's master): a configuration error
    plugin = healthy.xedr("B", "--plugin", "required", "status", "--format", "nagios")
    assert plugin.code == 3, plugin
    assert plugin.out.startswith("XE-DR UNKNOWN - --plugin required: the xe-dr host plugin on ")


def test_a_pool_the_xapi_of_which_fails_is_unknown(healthy):
    healthy.lab.fault(site="A", command="pool-list", error=["INTERNAL_ERROR", "lost"], every=True)
    result = healthy.xedr("A", "status", "--format", "nagios")
    assert result.code == 3, result
    assert result.out.startswith("XE-DR UNKNOWN - ") and "INTERNAL_ERROR" in result.out


@pytest.mark.parametrize("figures", [
    {"heartbeat": 5}, {"lag": "1"}, {"lag": float("nan")}, {"generation": True},
    {"heartbeat_unread": ["why"]}, {"redo_log": 7}],
    ids=["heartbeat-number", "lag-text", "lag-nan", "generation-bool", "reason-list",
         "redo-log-number"])
def test_a_plugin_answering_garbage_is_unknown_and_prometheus_says_down(healthy, tmp_path,
                                                                        figures):
    """A metadata_state answer of the right shape with figures of the wrong types: the
    plugin's answer is named, not an internal error, and a textfile's figures go down."""
    import json
    from tests.fixtures_remote import scripted_xe
    vdi = healthy.xedr("A", "--json", "status").json["replication"][0]["vdi"]
    answer = {"vdis": [dict(figures, vdi=vdi)]}
    if "redo_log" in figures:
        answer = {"vdis": [{"vdi": vdi}], "redo_log": figures["redo_log"]}
    xe = scripted_xe(tmp_path, healthy.lab, "A")
    xe.answer("host-call-plugin", stdout="1.0\n", with_args=("fn=version",))
    xe.answer("host-call-plugin", stdout=json.dumps(answer) + "\n",
              with_args=("fn=metadata_state",))
    result = healthy.xedr("A", "--xe", xe.path, "status", "--format", "nagios")
    assert result.code == 3, result
    assert result.out.startswith("XE-DR UNKNOWN - unexpected output from host-call-plugin "
                                 "plugin=xe-dr fn=metadata_state: "), result
    target = tmp_path / "xe-dr.prom"
    assert healthy.xedr("A", "status", "--format", "prometheus", "-o", str(target)).code == 0
    failed = healthy.xedr("A", "--xe", xe.path, "status", "--format", "prometheus", "-o",
                          str(target))
    assert failed.code == 1 and "internal error" not in failed.err, failed
    assert value(metrics(target.read_text()), "xe_dr_up") == 0


# -- Prometheus ------------------------------------------------------------------------------

def test_prometheus_output_parses_and_carries_every_figure(healthy):
    result = healthy.xedr("A", "status", "--format", "prometheus")
    assert result.code == 0, result
    found = metrics(result.out)
    assert value(found, "xe_dr_up", pool="Site A") == 1
    assert value(found, "xe_dr_replication_srs") == 3
    assert value(found, "xe_dr_replication_srs_healthy") == 3
    assert value(found, "xe_dr_replication_srs_limit") == 8
    assert value(found, "xe_dr_vms", protection="protected") == 9
    assert value(found, "xe_dr_vms", protection="ignored") == 3
    assert value(found, "xe_dr_vms", protection="at-risk") == 0
    assert value(found, "xe_dr_check_state", check="srs-missing") == 0
    assert value(found, "xe_dr_readiness_checked") == 0
    names = {n for n, _ in found}
    assert all(n.startswith("xe_dr_") for n in names)
    for sr_uuid, _ in healthy.lab.replicated_srs():
        assert value(found, "xe_dr_metadata_copy_healthy", sr_uuid=sr_uuid) == 1
        assert value(found, "xe_dr_metadata_copy_size_bytes", sr_uuid=sr_uuid) > 0


def test_prometheus_output_of_a_degraded_pool(drill):
    replicate(drill)
    sr = break_copy(drill)
    result = drill.xedr("A", "status", "--format", "prometheus")
    assert result.code == 1, result  # the status has problems: as without --format
    found = metrics(result.out)
    assert value(found, "xe_dr_replication_srs_healthy") == 2
    assert value(found, "xe_dr_vms", protection="at-risk") == 2
    assert value(found, "xe_dr_vms", protection="unrecoverable") == 1
    assert value(found, "xe_dr_check_state", check="at-risk") == 1
    assert value(found, "xe_dr_check_state", check="srs-missing") == 1
    assert value(found, "xe_dr_metadata_copy_healthy", sr_uuid=sr) == 0


def test_prometheus_file_is_replaced_atomically_and_says_down_when_the_pool_is_not_read(
        healthy, tmp_path):
    collector = tmp_path / "textfile"
    collector.mkdir()
    target = collector / "xe-dr.prom"
    target.write_text("old\n")
    os.link(str(target), str(collector / "reader-holds-this"))  # a reader's open file
    before = os.stat(str(target)).st_ino
    result = healthy.xedr("A", "status", "--format", "prometheus", "-o", str(target))
    assert result.code == 0 and result.out == "", result
    assert os.stat(str(target)).st_ino != before  # a new file renamed over the old
    assert (collector / "reader-holds-this").read_text() == "old\n"
    assert value(metrics(target.read_text()), "xe_dr_up", pool="Site A") == 1
    assert stat.S_IMODE(os.stat(str(target)).st_mode) & 0o044 == 0o044  # the collector reads it
    assert sorted(p.name for p in collector.iterdir()) == ["reader-holds-this", "xe-dr.prom"]

    healthy.lab.fault(site="A", command="pool-list", error=["INTERNAL_ERROR", "lost"], every=True)
    failed = healthy.xedr("A", "status", "--format", "prometheus", "-o", str(target))
    assert failed.code == 1 and "INTERNAL_ERROR" in failed.err, failed
    assert metrics(target.read_text()) == {("xe_dr_up", frozenset([("master", "local")])): 0}


def test_two_pools_down_at_once_leave_no_series_twice_in_the_textfile_directory(
        healthy, tmp_path):
    """node_exporter's textfile collector reads every file of its directory as one
    exposition and refuses a series found twice."""
    collector = tmp_path / "textfile"
    collector.mkdir()
    seen = {}
    for port in ("1", "2"):
        master = "root@127.0.0.1:" + port
        down = healthy.xedr("A", "-H", master, "--ssh", "openssh", "--known-hosts",
                            str(tmp_path / "known_hosts"), "status", "--format",
                            "prometheus", "-o", str(collector / ("pool-%s.prom" % port)))
        assert down.code != 0, down
        for key, found in metrics((collector / ("pool-%s.prom" % port)).read_text()).items():
            assert key not in seen, key
            seen[key] = found
    assert seen == {("xe_dr_up", frozenset([("master", "root@127.0.0.1:1")])): 0,
                    ("xe_dr_up", frozenset([("master", "root@127.0.0.1:2")])): 0}


# -- thresholds ------------------------------------------------------------------------------

def test_thresholds_parse_units_and_none():
    assert parse_threshold("metadata-age=90m") == ("metadata-age", 5400)
    assert parse_threshold("metadata-age=2h") == ("metadata-age", 7200)
    assert parse_threshold("metadata-age=1d") == ("metadata-age", 86400)
    assert parse_threshold("metadata-age=45") == ("metadata-age", 45)
    assert parse_threshold("at-risk=none") == ("at-risk", None)
    for bad in ("at-risk=2h", "metadata-age=-5", "metadata-age=nan", "readiness", "x=1",
                "metadata-age=inf", "at-risk=1e400"):
        with pytest.raises(ThresholdError):
            parse_threshold(bad)
    assert [age_text(s) for s in (59, 61, 3660, 90000)] == ["59s", "1m 1s", "1h 1m", "1d 1h"]


def test_messages_move_the_generation_without_writing_the_copies_and_that_is_no_fault(healthy):
    """xapi counts a generation for each message it creates, without a redo-log write
    (xapi_message.ml): the copies then lag though they received every write. The check that
    raised the message must not find its own message a fault at the next run."""
    healthy.ok("A", "plugin", "install", "--host-root", healthy.lab.root + "/hosts/{uuid}")
    healthy.ok("A", "status")  # the first heartbeat
    pool = healthy.lab.ok("A", "pool-list", "--minimal").value
    healthy.lab.ok("A", "message-create", "name=VM_STARTED", "body=started", "priority=5",
                   "pool-uuid=" + pool)
    status = healthy.xedr("A", "--json", "status").json
    assert status["plugin"] is True
    assert [c["lag"] for c in status["replication"]] == [1, 1, 1]
    code, state, _, _, details = nagios(healthy)
    assert (code, state) == (0, "OK"), details


def set_heartbeat(drill, seconds_ago):
    """The pool's heartbeat as if the last status ran ``seconds_ago`` (a write: it reaches
    every copy still written)."""
    import time
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))
    pool = drill.lab.ok("A", "pool-list", "--minimal").value
    drill.lab.ok("A", "pool-param-set", "uuid=" + pool, "other-config:xe-dr-heartbeat=" + stamp)


@pytest.mark.parametrize("plugin", [True, False], ids=["copies-read", "no-plugin"])
def test_metadata_age_crosses_its_thresholds_and_the_check_itself_renews_it(healthy, plugin):
    if plugin:
        healthy.ok("A", "plugin", "install", "--host-root", healthy.lab.root + "/hosts/{uuid}")
    options = [] if plugin else ["--no-plugin"]
    set_heartbeat(healthy, 2 * 3600)
    code, state, summary, perf, _ = nagios(healthy, *options)
    assert (code, state) == (1, "WARNING")
    assert ("replicated metadata 2h old (%s)" % ("the oldest replicated copy's heartbeat"
                                                 if plugin else "the pool's last heartbeat")
            ) in summary
    assert 7200 <= int(perf["metadata_age"][0].rstrip("s")) < 7200 + 600
    assert perf["metadata_age"][1:3] == ["3600", "86400"]

    set_heartbeat(healthy, 2 * 86400)
    code, state, _, _, _ = nagios(healthy, *options)
    assert (code, state) == (2, "CRITICAL")
    set_heartbeat(healthy, 2 * 86400)
    code, state, _, _, _ = nagios(healthy, "--critical", "metadata-age=3d", "--warning",
                                  "metadata-age=none", *options)
    assert (code, state) == (0, "OK")
    # each check wrote a heartbeat: the next one finds the metadata fresh
    code, state, summary, _, _ = nagios(healthy, *options)
    assert (code, state) == (0, "OK"), summary


def test_a_copy_no_longer_written_keeps_its_old_heartbeat_and_ages(healthy):
    healthy.ok("A", "plugin", "install", "--host-root", healthy.lab.root + "/hosts/{uuid}")
    set_heartbeat(healthy, 2 * 86400)
    sr = break_copy(healthy)
    code, state, _, _, details = nagios(healthy)  # renews the heartbeat of the copies written
    code, state, summary, _, details = nagios(healthy, "--warning", "srs-missing=1")
    assert (code, state) == (2, "CRITICAL"), details
    assert "OK srs-missing: 1 of 3 expected replication SRs missing or not written" in details[0]
    assert details[1].startswith("CRITICAL metadata-age: replicated metadata 2d ")
    found = metrics(healthy.xedr("A", "status", "--format", "prometheus").out)
    assert value(found, "xe_dr_metadata_copy_age_seconds", sr_uuid=sr) >= 2 * 86400
    others = [value(found, "xe_dr_metadata_copy_age_seconds", sr_uuid=u)
              for u, _ in healthy.lab.replicated_srs() if u != sr]
    assert len(others) == 2 and all(age < 600 for age in others)


def test_a_copy_no_longer_written_since_before_the_first_heartbeat_is_not_dated_fresh(
        healthy):
    """A copy broken before any status ran holds no heartbeat, though the pool and the other
    copies have one: its age is unknown and above every threshold, not the others' age."""
    healthy.ok("A", "plugin", "install", "--host-root", healthy.lab.root + "/hosts/{uuid}")
    sr = break_copy(healthy)
    nagios(healthy)  # the first heartbeat: it reaches the two copies still written
    code, state, summary, perf, details = nagios(healthy, "--warning", "srs-missing=1")
    assert (code, state) == (2, "CRITICAL"), details
    name = [t["sr_name"] for t in healthy.xedr("A", "--json", "status").json["replication"]
            if t["sr"] == sr][0]
    assert details[1] == (
        "CRITICAL metadata-age: replicated metadata older than the pool's first heartbeat (the "
        "copy on %s holds no heartbeat though the pool has one: no write has reached it "
        "since)" % name)
    assert perf["metadata_age"][0] == "U"
    code, state, _, _, _ = nagios(healthy, "--warning", "srs-missing=1", "--critical",
                                  "metadata-age=none")
    assert (code, state) == (1, "WARNING")
    found = metrics(healthy.xedr("A", "status", "--format", "prometheus").out)
    assert value(found, "xe_dr_metadata_age_seconds") == float("inf")
    assert healthy.xedr("A", "--json", "status").json["health"][1]["value"] is None


def test_the_dr_sites_readiness_short_of_memory_or_a_network_is_critical(healthy):
    from tests.test_readiness import make_ready
    make_ready(healthy)
    peer = ["--peer", "local", "--peer-xe", healthy.lab.xe_path("B")]
    code, state, summary, perf, details = nagios(healthy, *peer)
    assert (code, state) == (0, "OK"), details
    assert "OK readiness: DR site ready" in details
    assert perf["readiness"] == ["0", "", "0", "0"]
    found = metrics(healthy.xedr("A", "status", "--format", "prometheus", *peer).out)
    assert value(found, "xe_dr_readiness_checked") == 1
    assert value(found, "xe_dr_readiness_problems") == 0
    free = value(found, "xe_dr_dr_site_memory_free_bytes")
    assert 0 < value(found, "xe_dr_dr_site_memory_needed_bytes") < free
    assert value(found, "xe_dr_dr_site_networks_missing") == 0

    for name in ("xcp-b1", "xcp-b2"):  # 8 GiB hosts: short of memory
        healthy.lab.poke("B", "host", healthy.lab.uuid("B", "host", **{"name-label": name}),
                         memory_total=8 * 1024 ** 3)
    code, state, summary, perf, details = nagios(healthy, *peer)
    assert (code, state) == (2, "CRITICAL")
    assert summary.startswith("pool Site A: DR site: the DR pool has ")
    assert int(perf["readiness"][0]) >= 1
    found = metrics(healthy.xedr("A", "status", "--format", "prometheus", *peer).out)
    assert value(found, "xe_dr_dr_site_memory_needed_bytes") > value(
        found, "xe_dr_dr_site_memory_free_bytes")
    assert value(found, "xe_dr_check_state", check="readiness") == 2
    # the readiness judged a WARNING only, as asked
    code, state, _, _, _ = nagios(healthy, "--critical", "readiness=none", "--warning",
                                  "readiness=0", *peer)
    assert (code, state) == (1, "WARNING")

    for name in ("xcp-b1", "xcp-b2"):
        healthy.lab.poke("B", "host", healthy.lab.uuid("B", "host", **{"name-label": name}),
                         memory_total=256 * 1024 ** 3)
    healthy.lab.ok("B", "network-destroy", "uuid=" + healthy.lab.uuid(
        "B", "network", **{"name-label": "DMZ"}))
    code, state, summary, _, details = nagios(healthy, *peer)
    assert (code, state) == (2, "CRITICAL"), details
    assert "DMZ" in summary
    found = metrics(healthy.xedr("A", "status", "--format", "prometheus", *peer).out)
    assert value(found, "xe_dr_dr_site_networks_missing") == 1


def test_the_last_drill_holds_a_site_to_a_verified_drill_every_n_days(healthy):
    import time
    code, state, _, perf, details = nagios(healthy)
    assert (code, state) == (0, "OK") and "drill_age" not in perf  # off by default
    code, state, summary, _, _ = nagios(healthy, "--warning", "drill-age=30d")
    assert (code, state) == (1, "WARNING") and "no drill on record (xe-dr drill)" in summary

    pool = healthy.lab.ok("A", "pool-list", "--minimal").value
    when = time.time() - 40 * 86400
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
    healthy.lab.ok("A", "pool-param-set", "uuid=" + pool, "other-config:xe-dr-last-drill=%s "
                   "verified 20261025-100000-drill-0a1b" % stamp)
    code, state, summary, perf, _ = nagios(healthy, "--warning", "drill-age=30d")
    assert (code, state) == (1, "WARNING")
    assert "last drill verified 40d ago at Site A (20261025-100000-drill-0a1b)" in summary
    assert perf["drill_age"][1:3] == ["2592000", ""]
    assert (nagios(healthy, "--warning", "drill-age=60d")[:2]) == (0, "OK")
    found = metrics(healthy.xedr("A", "status", "--format", "prometheus").out)
    assert value(found, "xe_dr_last_drill_timestamp_seconds") == int(when)
    assert value(found, "xe_dr_last_drill_verified") == 1

    healthy.lab.ok("A", "pool-param-set", "uuid=" + pool, "other-config:xe-dr-last-drill=%s "
                   "not-verified 20261025-100000-drill-0a1b" % stamp)
    code, state, summary, _, _ = nagios(healthy)  # a failed drill warns, whatever its age
    assert (code, state) == (1, "WARNING") and "last drill not-verified 40d ago" in summary
    found = metrics(healthy.xedr("A", "status", "--format", "prometheus").out)
    assert value(found, "xe_dr_last_drill_verified") == 0
