"""The plugin's reader of xapi redo logs, run in-process against images from our own writer
(the plugin is loaded with the fake XenAPI for this module only: tests/plugin_fakes/loader.py).
"""

import gzip
import hashlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plugin_fakes import redolog_writer as rl
from tests.plugin_fakes.loader import plugin_module


@pytest.fixture(scope="module")
def plugin():
    with plugin_module() as module:
        yield module


@pytest.fixture
def lun(tmp_path):
    return rl.Lun(str(tmp_path / "LV-image"))


def read(plugin, lun):
    return plugin.read_copy(lun.path)


def test_loading_the_plugin_dispatches_nothing(plugin):
    assert plugin.PLUGIN_VERSION == "6"
    assert set(plugin.FUNCTIONS) == {"version", "metadata_state", "inventory", "recover",
                                     "release"}


def test_a_fresh_log_has_no_valid_half(plugin, lun):
    state = read(plugin, lun)
    assert state["generation"] is None
    assert "validity byte 0" in state["reason"]


def test_a_device_without_the_magic_is_no_redo_log(plugin, tmp_path):
    path = tmp_path / "other"
    path.write_bytes(b"\x00" * 4096)
    state = plugin.read_copy(str(path))
    assert state["generation"] is None and "bad magic" in state["reason"]
    tiny = tmp_path / "tiny"
    tiny.write_bytes(b"redo-log")
    assert "only 8 bytes" in plugin.read_copy(str(tiny))["reason"]


def test_a_missing_device_says_why(plugin, tmp_path):
    state = plugin.read_copy(str(tmp_path / "absent"))
    assert state["generation"] is None and "cannot open" in state["reason"]


def test_database_record_alone(plugin, lun):
    lun.write_db(rl.database_xml(77, schema=(5, 786)), 77)
    state = read(plugin, lun)
    assert (state["generation"], state["half"], state["reason"]) == (77, 1, None)
    assert state["database_generation"] == 77 and state["deltas_applied"] == 0
    assert state["schema"] == [5, 786] and state["manifest_generation"] == 77


def test_deltas_raise_the_generation(plugin, lun):
    lun.write_db(rl.database_xml(10), 10)
    for gen in (11, 12, 15):
        lun.write_delta(b"<delta/>", gen)
    state = read(plugin, lun)
    assert state["generation"] == 15
    assert (state["deltas_applied"], state["deltas_skipped"]) == (3, 0)


def test_deltas_older_than_expected_are_skipped(plugin, lun):
    # xapi applies a delta only if its count is at least (last applied + 1).
    lun.write_db(rl.database_xml(50), 50)
    for gen in (51, 52, 52, 40, 53):
        lun.write_delta(b"<d/>", gen)
    state = read(plugin, lun)
    assert state["generation"] == 53
    assert (state["deltas_applied"], state["deltas_skipped"]) == (3, 2)


def test_a_database_write_goes_to_the_other_half_and_flips(plugin, lun):
    lun.write_db(rl.database_xml(1), 1)
    for gen in range(2, 30):
        lun.write_delta(b"<a longer delta, to leave old records behind/>", gen)
    assert read(plugin, lun)["half"] == 1
    lun.write_db(rl.database_xml(30), 30)
    state = read(plugin, lun)
    assert (state["half"], state["generation"]) == (2, 30)
    # Back to the first half: its old deltas lie past the trampled bytes and do not count.
    lun.write_db(rl.database_xml(31), 31)
    lun.write_delta(b"<d/>", 32)
    state = read(plugin, lun)
    assert (state["half"], state["generation"], state["deltas_applied"]) == (1, 32, 1)


def test_the_half_that_is_not_valid_is_ignored(plugin, lun):
    lun.write_db(rl.database_xml(5), 5)          # half 1
    lun.write_db(rl.database_xml(6), 6)          # half 2, now valid
    lun.flip_validity_to(b"1")                   # as if the flip to 2 never happened
    assert read(plugin, lun)["generation"] == 5


def test_an_empty_half_marked_valid_is_reported(plugin, lun):
    lun.write_db(rl.database_xml(5), 5)
    lun.flip_validity_to(b"2")
    state = read(plugin, lun)
    assert state["generation"] is None and "holds no database record" in state["reason"]


def test_a_strange_validity_byte(plugin, lun):
    lun.write_db(rl.database_xml(5), 5)
    lun.flip_validity_to(b"x")
    assert "invalid validity byte" in read(plugin, lun)["reason"]


def test_emptied_log(plugin, lun):
    lun.write_db(rl.database_xml(5), 5)
    lun.empty()
    assert "validity byte 0" in read(plugin, lun)["reason"]


def test_torn_database_record(plugin, lun):
    xml = rl.database_xml(9)
    lun.write_db(xml, 9)
    end_marker = rl.POS_FIRST + 36 + 16 + len(xml) + 16
    lun.pwrite(end_marker, b"X" * 36)
    state = read(plugin, lun)
    assert state["generation"] is None and "markers differ" in state["reason"]


def test_garbage_generation(plugin, lun):
    xml = rl.database_xml(9)
    lun.write_db(xml, 9)
    lun.pwrite(rl.POS_FIRST + 36 + 16 + len(xml), b"not-a-number!!!!")
    state = read(plugin, lun)
    assert state["generation"] is None and "not a number" in state["reason"]


def test_a_delta_with_another_marker_makes_the_copy_unreadable(plugin, lun):
    # xapi's reader answers nack for the whole read: so do we, rather than guess.
    lun.write_db(rl.database_xml(9), 9)
    lun.write_delta(b"<d/>", 10)
    lun.write_delta(b"<d/>", 11, marker=b"f" * 36)
    state = read(plugin, lun)
    assert state["generation"] is None and "delta 2" in state["reason"]


def test_a_record_running_past_the_end_is_truncated(plugin, tmp_path):
    path = str(tmp_path / "short")
    small = rl.Lun(path, size=rl.POS_FIRST + 200)
    small.write_db(b"x" * 150, 3)
    os.truncate(path, rl.POS_FIRST + 200)    # the generation and end marker are cut off
    state = plugin.read_copy(path)
    assert state["generation"] is None and "truncated" in state["reason"]


def test_reading_never_writes(plugin, lun, monkeypatch):
    lun.write_db(rl.database_xml(12), 12)
    lun.write_delta(b"<d/>", 13)
    before = (hashlib.sha256(open(lun.path, "rb").read()).hexdigest(),
              os.stat(lun.path).st_mtime_ns)
    flags = []
    real_open = os.open

    def spy(path, flag, *rest):
        flags.append(flag)
        return real_open(path, flag, *rest)

    monkeypatch.setattr(plugin.os, "open", spy)
    assert read(plugin, lun)["generation"] == 13
    assert flags and all(f & (os.O_WRONLY | os.O_RDWR) == 0 for f in flags)
    after = (hashlib.sha256(open(lun.path, "rb").read()).hexdigest(),
             os.stat(lun.path).st_mtime_ns)
    assert before == after


def test_a_copy_written_while_it_is_read_is_read_again(plugin, lun, monkeypatch):
    lun.write_db(rl.database_xml(20), 20)
    real = plugin._read_once
    calls = []

    def racing(reader):
        result = real(reader)
        if not calls:
            lun.write_db(rl.database_xml(21), 21)     # the writer flips the validity byte
        calls.append(result[0]["generation"])
        return result

    monkeypatch.setattr(plugin, "_read_once", racing)
    state = read(plugin, lun)
    assert calls == [20, 21] and state["generation"] == 21 and state["half"] == 2


# -- the model of xapi's reading rule, against random write sequences ---------------------------

ops = st.lists(st.one_of(st.tuples(st.just("db"), st.integers(0, 3)),
                         st.tuples(st.just("delta"), st.integers(-3, 4))),
               min_size=1, max_size=25)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops)
def test_the_generation_read_is_the_one_written(plugin, tmp_path, ops):
    path = str(tmp_path / ("hyp-%d" % abs(hash(tuple(ops)))))
    if os.path.exists(path):
        os.remove(path)
    lun = rl.Lun(path)
    counter = 100
    expected = None
    last_applied = None
    for kind, step in ops:
        if kind == "db":
            counter += step + 1
            lun.write_db(rl.database_xml(counter, padding=step * 40), counter)
            expected = last_applied = counter
        elif expected is not None:
            gen = counter + step          # may be older than the last one: xapi skips those
            counter = max(counter, gen)
            lun.write_delta(b"<delta/>" * (step + 4), gen)
            if gen >= last_applied + 1:
                expected = last_applied = gen
    state = plugin.read_copy(path)
    assert state["generation"] == expected
    os.remove(path)


# -- the live database file -----------------------------------------------------------------------

def test_live_generation_from_the_generation_file_and_manifest(plugin, tmp_path, monkeypatch):
    db = tmp_path / "state.db"
    db.write_bytes(rl.database_xml(300, schema=(5, 786)))
    monkeypatch.setenv("XE_DR_PLUGIN_XAPI_DB", str(db))
    live = plugin.read_live_db()
    assert (live["generation"], live["schema"], live["reason"]) == (300, [5, 786], None)
    (tmp_path / "state.db.generation").write_text("305")
    assert plugin.read_live_db()["generation"] == 305


def test_live_generation_unknown_says_why(plugin, tmp_path, monkeypatch):
    db = tmp_path / "state.db"
    with gzip.open(str(db), "wb") as handle:
        handle.write(rl.database_xml(3))
    monkeypatch.setenv("XE_DR_PLUGIN_XAPI_DB", str(db))
    live = plugin.read_live_db()
    assert live["generation"] is None
    assert "compressed" in live["reason"] and "state.db.generation" in live["reason"]


def test_db_conf_lists_the_database_files(plugin, tmp_path, monkeypatch):
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    one.write_bytes(rl.database_xml(10))
    two.write_bytes(rl.database_xml(12))
    conf = tmp_path / "db.conf"
    conf.write_text("[%s]\nmode:no_limit\nformat:xml\n\n[%s]\nmode:write_limit\n" % (one, two))
    monkeypatch.delenv("XE_DR_PLUGIN_XAPI_DB", raising=False)
    monkeypatch.setattr(plugin, "DB_CONF", str(conf))
    live = plugin.read_live_db()
    assert (live["generation"], live["path"]) == (12, str(two))


def test_device_paths(plugin, monkeypatch):
    monkeypatch.setenv("XE_DR_PLUGIN_DEV_ROOT", "/lab/dev")
    assert plugin.device_candidates("S", "lvmoiscsi", "V", ["xvdb"]) == [
        "/lab/dev/VG_XenStorage-S/LV-V", "/lab/dev/xvdb"]
    state = plugin.read_vdi_copy("S", "nfs", "V")
    assert state["generation"] is None and "no known block device layout" in state["reason"]
    state = plugin.read_vdi_copy("S", "lvmohba", "V")
    assert "/lab/dev/VG_XenStorage-S/LV-V" in state["reason"]


def test_the_pool_uuid_written_in_a_copy(plugin, lun):
    pool = "0a1b2c3d-0000-4000-8000-00000000abcd"
    filler = b"".join(b'<table name="VM%d"><row ref="OpaqueRef:x" uuid="%s"/></table>'
                      % (n, ("%08d-0000-4000-8000-000000000000" % n).encode("ascii"))
                      for n in range(3000))
    xml = (b'<database><manifest/>' + filler + b'<table name="host"/><table name="pool">'
           b'<row ref="OpaqueRef:p" name__label="a &quot; uuid=&quot;x" uuid="'
           + pool.encode("ascii") + b'"/></table></database>')
    lun.write_db(xml, 8)
    state = plugin.read_copy(lun.path)
    state["device"] = lun.path
    assert plugin.pool_uuid_of_copy(state) == pool
    fd = os.open(lun.path, os.O_RDONLY)
    try:
        for chunk in (7, 64, 4096):          # the table marker across chunk boundaries
            assert plugin._pool_uuid_in(plugin._Reader(fd), state["xml"][0], state["xml"][1],
                                        chunk=chunk) == pool
    finally:
        os.close(fd)
    lun.write_db(rl.database_xml(9).replace(b'<table name="pool">', b'<table name="poo">'), 9)
    state = plugin.read_copy(lun.path)
    state["device"] = lun.path
    assert plugin.pool_uuid_of_copy(state) is None


# -- the heartbeat in a copy (version 5) -----------------------------------------------------------

HB = "xe-dr-heartbeat"


def heartbeat(plugin, lun):
    state = plugin.read_copy(lun.path, heartbeat=True)
    return state["heartbeat"], state["heartbeat_unread"]


def test_the_heartbeat_of_the_database_record(plugin, lun):
    lun.write_db(rl.database_xml(7, other_config=[("a", "b c"), (HB, "2026-01-02T03:04:05Z")]),
                 7)
    assert heartbeat(plugin, lun) == ("2026-01-02T03:04:05Z", None)
    assert "heartbeat" not in plugin.read_copy(lun.path)   # only when asked (metadata_state)


def test_the_last_applied_delta_wins_over_the_record(plugin, lun):
    lun.write_db(rl.database_xml(7, other_config=[(HB, "2026-01-01T00:00:00Z")]), 7)
    lun.write_delta(rl.pool_other_config([(HB, "2026-01-01T00:05:00Z")]), 8)
    lun.write_delta(rl.write_field("VM", "OpaqueRef:v", "name__label", "x"), 9)
    lun.write_delta(rl.pool_other_config([(HB, "2026-01-01T00:10:00Z"), ("k", "v")]), 10)
    assert heartbeat(plugin, lun) == ("2026-01-01T00:10:00Z", None)
    # a delta older than expected is skipped by xapi's reader, and by ours
    lun.write_delta(rl.pool_other_config([(HB, "2099-01-01T00:00:00Z")]), 4)
    assert heartbeat(plugin, lun) == ("2026-01-01T00:10:00Z", None)


def test_a_write_without_the_key_does_not_hide_the_last_heartbeat(plugin, lun):
    """xe's param-set removes the key, then adds it: a copy cut off between the two writes
    still received the heartbeat before."""
    lun.write_db(rl.database_xml(7, other_config=[(HB, "2026-01-01T00:00:00Z")]), 7)
    lun.write_delta(rl.pool_other_config([(HB, "2026-01-01T00:05:00Z")]), 8)
    lun.write_delta(rl.pool_other_config([("k", "v")]), 9)
    assert heartbeat(plugin, lun) == ("2026-01-01T00:05:00Z", None)


def test_a_pool_row_created_in_a_delta(plugin, lun):
    lun.write_db(rl.database_xml(7), 7)
    lun.write_delta(rl.create_row("pool", "OpaqueRef:p2", [
        ("uuid", "u"), ("other_config", rl.sexpr_map([(HB, "2026-05-05T05:05:05Z")]))]), 8)
    assert heartbeat(plugin, lun) == ("2026-05-05T05:05:05Z", None)


def test_no_heartbeat_is_none_without_a_reason(plugin, lun):
    lun.write_db(rl.database_xml(7), 7)                      # no other_config at all
    assert heartbeat(plugin, lun) == (None, None)
    lun.write_db(rl.database_xml(8, other_config=[("xe-dr-heartbeat-old", "x")]), 8)
    lun.write_delta(rl.write_field("pool", "OpaqueRef:p", "name__label", HB), 9)
    assert heartbeat(plugin, lun) == (None, None)


def test_a_heartbeat_that_cannot_be_read_keeps_the_generation(plugin, lun):
    lun.write_db(rl.database_xml(7, other_config=[(HB, "2026-01-01T00:00:00Z")]), 7)
    lun.write_delta(rl.write_field("pool", "OpaqueRef:p", "other_config", "(('unterminated"), 8)
    state = plugin.read_copy(lun.path, heartbeat=True)
    assert (state["generation"], state["reason"], state["heartbeat"]) == (8, None, None)
    assert state["heartbeat_unread"].startswith("the heartbeat cannot be read: the delta at "
                                                "offset ")
    lun.write_db(rl.database_xml(9).replace(b'<table name="pool">', b'<table name="poo">'), 9)
    state = plugin.read_copy(lun.path, heartbeat=True)
    assert state["generation"] == 9 and "no pool table" in state["heartbeat_unread"]


def test_an_unreadable_copy_has_no_heartbeat_for_the_same_reason(plugin, lun, tmp_path):
    state = plugin.read_copy(lun.path, heartbeat=True)          # validity byte 0
    assert state["heartbeat"] is None and state["heartbeat_unread"] == state["reason"]
    state = plugin.read_copy(str(tmp_path / "absent"), heartbeat=True)
    assert state["heartbeat"] is None and "cannot open" in state["heartbeat_unread"]


def test_the_record_is_scanned_in_chunks_across_their_boundaries(plugin, lun, monkeypatch):
    """A record larger than a chunk, its pool table anywhere against the chunk boundaries."""
    filler = b"".join(b'<table name="VM%d"><row ref="OpaqueRef:x" name__label="a%%.b"/></table>'
                      % n for n in range(30000))
    head = b'<?xml version="1.0" encoding="UTF-8"?><database><manifest/>'
    pool = (b'<table name="pool"><row ref="OpaqueRef:p" other_config="'
            + rl.xml_attribute(rl.sexpr_map([(HB, "2026-07-07T07:07:07Z")])).encode("utf-8")
            + b'"/></table></database>')
    xml = head + filler + pool
    assert len(xml) > plugin.SCAN_CHUNK
    lun.write_db(xml, 5)
    assert heartbeat(plugin, lun) == ("2026-07-07T07:07:07Z", None)
    reads = []
    real = plugin._Reader.read_at

    def counted(self, pos, size):
        reads.append(size)
        return real(self, pos, size)

    at = len(head) + len(filler)
    for chunk in (4096, at - 5, at + 3, at + 19, at + 30):
        monkeypatch.setattr(plugin, "SCAN_CHUNK", chunk)
        monkeypatch.setattr(plugin._Reader, "read_at", counted)
        del reads[:]
        assert heartbeat(plugin, lun) == ("2026-07-07T07:07:07Z", None), chunk
        assert max(reads) <= max(chunk, 4096) < len(xml)    # never the whole record


def test_the_map_as_xapi_escapes_it(plugin):
    """The attribute goes back through Xmlm's entities, Xml_spaces.unprotect and the
    S-expression reader, in that order."""
    pairs = [("note", "('xe-dr-heartbeat' '1999')"), ("odd", 'it\'s "q" <&> 100%. \\ \t\n'),
             (HB, "2026-01-01T00:00:00Z")]
    raw = rl.xml_attribute(rl.sexpr_map(pairs)).encode("utf-8")
    assert b" " not in raw and b"'1999'" not in raw
    assert plugin.sexpr_pairs(plugin.attribute_text(raw)) == pairs
    assert plugin.attribute_text(b"%_%%.&#65;&#x42;&apos;") == u"  %.AB'"
    for bad in (u"", u"(('a'))", u"(('a' 'b')", u"(('a' 'b')) x", u"((a b))"):
        with pytest.raises(plugin.HeartbeatUnread):
            plugin.sexpr_pairs(bad)
