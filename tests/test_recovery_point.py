"""What an auditor asks first: how old the recovered state was (the recovery point) and how long
the recovery took (the recovery time), against an optional objective (--rto-target).

The replicated database counts generations, not time: `xe-dr status` at the source (from cron)
writes `other-config:xe-dr-heartbeat=<UTC>` on the pool, which travels in the replicated
metadata; a run's recovery point is its start minus the heartbeat in the copy it read.
"""

import json
import os
import re
import time

import pytest

from tests.fixtures_lab import make_lab
from tests.fixtures_workflow import Drill
from xe_dr.dr.inventory import MetadataCopy, _source_from_plugin
from xe_dr.report import build, render

try:
    import jinja2  # noqa: F401
    FORMATS = ("text", "json", "markdown", "html")
except ImportError:
    FORMATS = ("text", "json")

HEARTBEAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _epoch(heartbeat):
    import calendar
    return calendar.timegm(time.strptime(heartbeat, "%Y-%m-%dT%H:%M:%SZ"))


class Runs(object):
    pass


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """At the source: replication on, then `status` (the cron job). At the DR site: a test
    failover with the plugin and an objective it meets, cleaned up; one with plain xe and an
    objective it misses. Then a lab whose source never ran `status`."""
    base = tmp_path_factory.mktemp("recovery-point")
    drill = Drill(make_lab(base / "lab"), str(base / "state"))
    lab = drill.lab
    result = Runs()
    result.drill = drill
    drill.ok("A", "replication", "enable", *[u for u, _ in lab.replicated_srs()])
    status = drill.xedr("A", "--json", "status")
    assert status.code in (0, 1), status
    result.status = status
    result.pool_a = lab.ok("A", "pool-list", "params=uuid", "--minimal").value
    result.at_source = lab.ok("A", "pool-param-get", "uuid=" + result.pool_a,
                              "param-name=other-config", "param-key=xe-dr-heartbeat").value
    drill.ok("B", "plugin", "install", "--host-root", lab.root + "/hosts/{uuid}")
    lab.mirror("break")
    storage = drill.storage_args("B")
    args = ["failover", "--test", "--power", "paused", "--vapp", "webshop", "--vm", "queue-01"]
    met = drill.xedr("B", "--json", *(args + ["--rto-target", "3600"] + storage))
    assert met.code == 0, met
    result.met = met.json["run"]
    result.copies = lab.ok("B", "vdi-list", "type=Metadata", "metadata-latest=true",
                           "params=uuid", "--minimal").values
    result.in_copies = [lab.ok("B", "pool-list", "database:vdi-uuid=" + vdi,
                               "params=other-config").value for vdi in result.copies]
    assert drill.xedr("B", "cleanup", "--yes", result.met).code == 0
    missed = drill.xedr("B", "--json", "--no-plugin", *(args + ["--rto-target", "0.001"] +
                                                          storage))
    assert missed.code == 0, missed
    result.missed = missed.json["run"]

    bare = Drill(make_lab(base / "bare"), str(base / "bare-state"))
    bare.ok("A", "replication", "enable", *[u for u, _ in bare.lab.replicated_srs()])
    bare.lab.mirror("break")
    none = bare.xedr("B", "--json", *(args + bare.storage_args("B")))
    assert none.code == 0, none
    result.bare, result.none = bare, none.json["run"]
    return result


def model_of(drill, run_id):
    return build(os.path.join(drill.state_dir, "runs", run_id))


def test_status_at_the_source_writes_the_heartbeat_that_travels_with_the_metadata(runs):
    heartbeat = runs.status.json["heartbeat"]
    assert heartbeat["error"] is None and HEARTBEAT.match(heartbeat["written"])
    assert runs.at_source == heartbeat["written"]  # other-config:xe-dr-heartbeat on the pool
    again = re.search(r"^  heartbeat (\S+) written \(it dates the replicated metadata\)$",
                      runs.drill.xedr("A", "status").out, re.M)  # the next cron run
    assert again and HEARTBEAT.match(again.group(1)) and again.group(1) >= heartbeat["written"]
    # the copies the DR site reads carry it (the whole database is replicated)
    assert runs.copies and all("xe-dr-heartbeat: %s" % heartbeat["written"] in other
                               for other in runs.in_copies)


@pytest.mark.parametrize("which", ["met", "missed"])
def test_the_recovery_point_is_the_runs_start_minus_the_heartbeat(runs, which):
    """With the plugin and with plain xe alike; to the second, and said to be accurate to one
    interval of the cron job."""
    model = model_of(runs.drill, getattr(runs, which))
    written = runs.status.json["heartbeat"]["written"]
    rpo = model["rpo"]
    (source,) = rpo["sources"]
    assert source["via"] == ("plugin" if which == "met" else "xe")
    assert source["heartbeat"] == written
    expected = int(model["run"]["created"] - _epoch(written))
    assert rpo["known"] and rpo["seconds"] == expected
    assert rpo["text"] == "at most %d s before the run's start: the copy of pool Site A " \
        "holds the heartbeat of %s" % (expected, source["heartbeat_text"])
    assert "accurate to one interval of the cron job" in rpo["accuracy"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_shows_the_recovery_point_and_time_against_the_objective(runs, fmt):
    for which, verdict in (("met", "1 h 00 min 00 s: met"), ("missed", "0.00 s: MISSED by ")):
        model = model_of(runs.drill, getattr(runs, which))
        assert model["rto"]["complete"] and model["rto"]["target"] == (
            3600 if which == "met" else 0.001)
        assert model["rto"]["met"] is (which == "met")
        assert model["rto"]["objective_text"].startswith(verdict)
        out = render(model, fmt)
        if fmt == "json":
            data = json.loads(out)
            assert data["rpo"]["seconds"] == model["rpo"]["seconds"]
            assert data["rto"]["met"] is (which == "met")
            continue
        plain = out.replace("&#39;", "'").replace("\\_", "_")
        assert model["rpo"]["text"] in plain
        assert model["rpo"]["accuracy"] in plain
        assert model["rto"]["text"] in plain
        assert model["rto"]["objective_text"] in plain
        if fmt == "text":
            assert re.search(r"^Recovery point +at most \d+ s before the run's start", out,
                             re.M)
            assert re.search(r"^RTO objective +%s" % re.escape(verdict), out, re.M)


def test_without_a_heartbeat_the_recovery_point_is_unknown_and_says_why(runs):
    model = model_of(runs.bare, runs.none)
    rpo = model["rpo"]
    assert rpo["known"] is False and rpo["seconds"] is None and rpo["accuracy"] is None
    assert re.match(r"unknown \(generation (\d+|unknown)\): the copy of pool Site A carries "
                    r"no heartbeat: run 'xe-dr status' at the source from cron$", rpo["text"])
    text = render(model, "text")
    assert "Recovery point  unknown (generation" in text
    assert model["rto"]["objective_text"] is None and "RTO objective" not in text


def test_a_plugin_older_than_version_4_leaves_the_heartbeat_unread():
    """Version 3's inventory has no heartbeat: that is said, not taken for "none"."""
    copy = MetadataCopy("vdi-1", "sr-1", "pool-a", True, False)
    answer = {"generation": 12, "pool": {"uuid": "pool-a", "name_label": "Site A",
                                         "master": "host-1"},
              "hosts": [], "vms": [], "appliances": []}
    source = _source_from_plugin(copy, answer)
    assert source.heartbeat is None
    assert source.heartbeat_unread == "the host plugin is older than version 4: 'xe-dr " \
        "plugin install' updates it"
    answer["pool"]["heartbeat"] = None  # version 4, a pool that has none
    assert _source_from_plugin(copy, answer).heartbeat_unread is None


def test_rto_target_is_an_option_of_failover_and_failback_only(runs):
    for command in ("failover", "failback"):
        assert "--rto-target SECONDS" in runs.drill.xedr("B", command, "--help").out
    refused = runs.drill.xedr("B", "runbook", "--all", "--rto-target", "60")
    assert refused.code == 64 and "--rto-target" in refused.err
    bad = runs.drill.xedr("B", "failover", "--test", "--all", "--rto-target", "soon")
    assert bad.code == 64 and "'soon' is not a number of seconds" in bad.err
