"""The age of each replicated metadata copy in `xe-dr status` (issue 16): xapi writes the pool's
heartbeat (`other-config:xe-dr-heartbeat`, which status writes) into every metadata VDI it
replicates to, so a copy whose redo log stopped being written keeps an old one. The plugin
(version 5) reads it in each copy on disk; without it, a healthy copy is known to hold the
pool's previous heartbeat and a broken one is not known.
"""

import time

import pytest

from tests.fixtures_lab import make_lab
from tests.fixtures_workflow import Drill
from xe_dr.lab import replication

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class World(object):
    pass


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Site A replicates to every mirrored SR, with the plugin. Heartbeat OLD is written, then
    the first SR's LUN copy at A becomes a read-only mirror target (its redo log breaks), then
    heartbeat NEW is written: that copy keeps OLD, the others receive NEW."""
    base = tmp_path_factory.mktemp("copy-age")
    drill = Drill(make_lab(base / "lab"), str(base / "state"))
    lab = drill.lab
    w = World()
    w.drill = drill
    w.srs = [u for u, _ in lab.replicated_srs()]
    assert len(w.srs) >= 2
    drill.ok("A", "replication", "enable", *w.srs)
    drill.ok("A", "plugin", "install", "--host-root", lab.root + "/hosts/{uuid}")
    pool = lab.ok("A", "pool-list", "params=uuid", "--minimal").value
    now = time.time()
    w.old = time.strftime(FORMAT, time.gmtime(now - 7200))
    w.new = time.strftime(FORMAT, time.gmtime(now - 3600))
    lab.ok("A", "pool-param-set", "uuid=" + pool, "other-config:xe-dr-heartbeat=" + w.old)
    db = lab.db("A")
    broken = replication.sr_lun(lab.array(), "A", db, db.by_uuid("SR", w.srs[0]))
    lab.mirror("reverse", [broken])
    lab.ok("A", "pool-param-set", "uuid=" + pool, "other-config:xe-dr-heartbeat=" + w.new)
    w.plugin = drill.xedr("A", "--json", "status")
    w.plain = drill.xedr("A", "--json", "--no-plugin", "status")
    return w


def targets(result):
    assert result.code == 1, result          # the broken copy is a problem
    return dict((t["sr"], t) for t in result.json["replication"])


def test_a_copy_that_stopped_being_written_shows_an_older_heartbeat(world):
    status = world.plugin.json
    assert status["plugin"] is True
    assert status["heartbeat"]["previous"] == world.new
    pool_age = status["heartbeat"]["age_seconds"]
    assert pool_age >= 3600
    by_sr = targets(world.plugin)
    broken = by_sr[world.srs[0]]
    assert broken["healthy"] is False
    assert (broken["heartbeat"], broken["heartbeat_from"]) == (world.old, "copy")
    assert broken["age_seconds"] == pool_age + 3600      # one hour older than the pool's
    for sr in world.srs[1:]:
        target = by_sr[sr]
        assert target["healthy"] is True
        assert (target["heartbeat"], target["heartbeat_from"]) == (world.new, "copy")
        assert target["age_seconds"] == pool_age
        assert target["heartbeat_unread"] is None


def test_without_the_plugin_a_healthy_copy_has_the_pools_heartbeat(world):
    """Plain xe cannot read a copy: a healthy one received the pool's previous heartbeat; the
    age of one that is not being written is unknown."""
    status = world.plain.json
    assert status["plugin"] is False
    by_sr = targets(world.plain)
    broken = by_sr[world.srs[0]]
    assert (broken["heartbeat"], broken["heartbeat_from"], broken["age_seconds"]) == (
        None, None, None)
    for sr in world.srs[1:]:
        assert (by_sr[sr]["heartbeat"], by_sr[sr]["heartbeat_from"]) == (
            status["heartbeat"]["previous"], "pool")
        assert by_sr[sr]["age_seconds"] == status["heartbeat"]["age_seconds"]


def test_a_plugin_older_than_version_5_falls_back_to_the_pool():
    """Version 4's metadata_state has no heartbeat per copy: the same fallback as plain xe;
    a copy version 5 could not read falls back too, and says why."""
    from xe_dr.dr.status import copy_heartbeat
    previous, now = "2026-01-01T00:00:00Z", 1767225600 + 90   # 90 s later
    v4 = {"vdi": "v", "generation": 12, "lag": 0}
    assert copy_heartbeat(v4, True, previous, now) == {
        "heartbeat": previous, "heartbeat_from": "pool", "heartbeat_unread": None,
        "age_seconds": 90}
    assert copy_heartbeat(v4, False, previous, now) == {
        "heartbeat": None, "heartbeat_from": None, "heartbeat_unread": None,
        "age_seconds": None}
    unread = dict(v4, heartbeat=None, heartbeat_unread="no block device")
    assert copy_heartbeat(unread, True, previous, now)["heartbeat_from"] == "pool"
    assert copy_heartbeat(unread, True, previous, now)["heartbeat_unread"] == "no block device"
    none = dict(v4, heartbeat=None, heartbeat_unread=None)    # read: the copy has none
    assert copy_heartbeat(none, True, previous, now)["heartbeat_from"] == "copy"
    assert copy_heartbeat(none, True, previous, now)["age_seconds"] is None
