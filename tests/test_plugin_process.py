"""The plugin run as xapi runs it: a process whose argv[1] is an XML-RPC call, under Python 2.7
and 3.6 (pyenv), with the fake XenAPI/XenAPIPlugin on PYTHONPATH and no UTF-8 locale.

Every assertion is on the parsed XML-RPC response printed on stdout, and on the fake xapi's
journal (database opens, logouts, recoveries with their times).
"""

import json
import os
import time
import xmlrpc.client

import pytest

from tests.conftest import slow

from tests.plugin_fakes import scenario as sc

PYTHONS = [pytest.param(path, id=version, marks=[slow] if version in ("3.11", "3.12") else [])
           if path else
           pytest.param(None, id=version, marks=pytest.mark.skip("pyenv %s missing" % version))
           for version, path in sorted(sc.PYTHONS.items())]


@pytest.fixture(params=PYTHONS)
def python(request):
    return request.param


@pytest.fixture
def s(tmp_path):
    return sc.build(str(tmp_path))


def by_uuid(items):
    return dict((item["uuid"], item) for item in items)


def assert_one_response(outcome):
    """stdout holds exactly one XML-RPC response and nothing else (reference §7.2)."""
    out = outcome.stdout
    assert out.startswith("<?xml") and out.count("<methodResponse>") == 1
    assert out.rstrip().endswith("</methodResponse>") and out.endswith("\n")
    assert outcome.stderr == ""
    assert isinstance(outcome.response, dict)


def assert_closed(site, opens=1):
    assert len(site.events("open_database")) == opens
    logouts = [e for e in site.events("logout") if e["foreign"]]
    assert len(logouts) == opens
    (exit_event,) = site.events("exit")
    assert exit_event["open_foreign_sessions"] == []


# -- protocol ------------------------------------------------------------------------------------

def test_version(python, s):
    out = sc.call(python, s.b, "version")
    assert_one_response(out)
    assert out.value == "6"


def test_unknown_function(python, s):
    out = sc.call(python, s.b, "no_such_function")
    assert_one_response(out)
    assert out.error == ["UNKNOWN_XENAPI_PLUGIN_FUNCTION", "no_such_function"]


@pytest.mark.parametrize("fn", ["version", "metadata_state", "inventory", "recover"])
def test_nothing_but_the_response_on_stdout(python, s, fn):
    args = {"vdi": s.m1, "vms": json.dumps([s.apps[0]])} if fn in ("inventory", "recover") else {}
    out = sc.call(python, s.b, fn, args)
    assert_one_response(out)
    assert out.ok
    assert all(ord(c) < 128 for c in out.stdout)


def test_a_dead_session_is_a_plugin_error(python, s):
    out = sc.call(python, s.b, "metadata_state", session="OpaqueRef:logged-out")
    assert_one_response(out)
    assert out.error[0] == "XE_DR_PLUGIN_ERROR" and "log in" in out.error[1]
    assert len(out.error) == 2


# -- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", ["inventory", "recover"])
def test_unknown_vdi(python, s, fn):
    out = sc.call(python, s.b, fn, {"vdi": "5b7f1e7e-0000-4000-8000-000000000000"})
    assert out.error == ["UUID_INVALID", "VDI", "5b7f1e7e-0000-4000-8000-000000000000"]
    assert s.b.events("open_database") == []


def test_a_vdi_that_holds_no_database(python, s):
    out = sc.call(python, s.b, "inventory", {"vdi": s.user_vdi})
    assert out.error[0] == "VDI_INCOMPATIBLE_TYPE" and out.error[2] == "user"


def test_missing_vdi_argument(python, s):
    out = sc.call(python, s.b, "inventory", {})
    assert out.error == ["XE_DR_PLUGIN_INVALID_ARGUMENT", "missing argument 'vdi'"]


def test_non_ascii_in_an_error_under_no_locale(python, s):
    out = sc.call(python, s.b, "inventory", {"vdi": u"produ\u00e7\u00e3o"})
    assert_one_response(out)
    assert out.error == ["UUID_INVALID", "VDI", "produ\\xe7\\xe3o"]


@pytest.mark.parametrize("args, word", [
    ({"vms": "not json"}, "vms"), ({"appliances": '{"a": 1}'}, "appliances"),
    ({"vms": "[1, 2]"}, "vms"), ({"force": "maybe"}, "force"),
    ({"parallel": "0"}, "parallel"), ({"parallel": "33"}, "parallel"), ({"tag": "a b"}, "tag"),
    ({"parallel": "two"}, "parallel")])
def test_recover_refuses_bad_arguments(python, s, args, word):
    args = dict(args, vdi=s.m1)
    out = sc.call(python, s.b, "recover", args)
    assert out.error[0] == "XE_DR_PLUGIN_INVALID_ARGUMENT" and word in out.error[1]
    assert s.b.events("open_database") == []


# -- a copy from a newer schema ------------------------------------------------------------------

@pytest.mark.parametrize("fn", ["inventory", "recover"])
def test_a_copy_from_a_newer_schema(python, s, fn):
    out = sc.call(python, s.b, fn, {"vdi": s.m9, "vms": json.dumps([s.web1])})
    assert out.error == ["COULD_NOT_IMPORT_DATABASE", "Database does not match local schema."]
    assert s.b.events("logout") == []


# -- metadata_state ------------------------------------------------------------------------------

def test_metadata_state_on_the_protected_pool(python, s):
    state = sc.call(python, s.a, "metadata_state").json()
    assert state["version"] == "6"
    assert state["pool"] == {"uuid": s.pool_a, "name_label": "", "master": s.a1}
    assert state["host"] == {"uuid": s.a1, "is_master": True, "reason": None}
    # The database file was flushed at 118; the copy being replicated shows 130.
    assert state["live_generation"] == 130
    assert state["live_generation_sources"]["db_file_generation"] == 118
    assert state["live_generation_sources"]["replicating_copies"] == 130
    assert state["schema"] == [5, 786]
    copies = dict((c["vdi"], c) for c in state["vdis"])
    assert set(copies) == {s.m1, s.m2}
    m1, m2 = copies[s.m1], copies[s.m2]
    assert m1["sr"] == {"uuid": s.sr1, "name_label": "DR LUN 1", "type": "lvmoiscsi"}
    assert m1["pool"] == {"uuid": s.pool_a, "local": True, "reason": None, "source": "local"}
    assert (m1["replicating"], m1["attached_to"], m1["metadata_latest"]) == (True, [s.a1], True)
    assert (m1["generation"], m1["half"], m1["lag"], m1["size"]) == (130, 2, 0, 3988783104)
    # SR2's redo log lost its VBD at 110 while the pool went on to 130.
    assert (m2["replicating"], m2["metadata_latest"]) == (False, False)
    assert (m2["generation"], m2["lag"], m2["lag_reason"]) == (110, 20, None)
    assert m2["behind_newest_copy"] == 20
    assert m2["last_alert"] == {"name": "METADATA_LUN_BROKEN", "timestamp": "20240302T11:30:00Z"}
    assert m1["last_alert"]["name"] == "METADATA_LUN_HEALTHY"
    assert state["metadata_lun_alerts"] is True
    assert [m["name"] for m in state["messages"]] == ["METADATA_LUN_HEALTHY",
                                                      "METADATA_LUN_BROKEN"]
    assert state["messages"][1]["vdi"] == s.m2 and state["messages"][1]["priority"] == 3
    assert state["redo_log"] == {"enabled": False, "vdi": None, "generation": None,
                                 "generation_reason": "the pool redo log is disabled"}
    assert s.a.events("open_database") == []


def test_metadata_state_on_the_recovery_pool(python, s):
    a_state = sc.call(python, s.a, "metadata_state").json()
    state = sc.call(python, s.b, "metadata_state").json()
    copies = dict((c["vdi"], c) for c in state["vdis"])
    assert set(copies) == {s.m1, s.m2, s.m9, s.mb}
    m1, m2, m9, own = copies[s.m1], copies[s.m2], copies[s.m9], copies[s.mb]
    # The mirror of SR1 froze at 125 while site A went on to 130.
    assert m1["generation"] == 125 < a_state["live_generation"] == 130
    assert m1["pool"] == {"uuid": s.pool_a, "local": False, "reason": None, "source": "xapi"}
    assert m1["lag"] is None and "another pool" in m1["lag_reason"]
    assert (m1["behind_newest_copy"], m2["behind_newest_copy"]) == (0, 15)
    assert m2["generation"] == 110
    # A copy xapi could not cache (it is from a newer schema): its pool is read from the copy.
    assert m9["pool"] == {"uuid": s.pool_9, "local": False, "reason": None, "source": "copy"}
    assert (m9["generation"], m9["schema"], m9["newer_schema"]) == (40, [5, 999], True)
    assert own["pool"]["local"] and own["replicating"]
    assert (own["generation"], own["lag"]) == (57, 0)
    assert state["live_generation"] == 57
    assert state["metadata_lun_alerts"] is False and state["messages"] == []


def test_metadata_state_on_a_host_that_is_not_the_master(python, s):
    s.a.write_inventory(s.a2)
    state = sc.call(python, s.a, "metadata_state").json()
    assert state["host"]["is_master"] is False
    assert state["live_generation"] is None
    assert "not the pool master" in state["live_generation_reason"]
    copies = dict((c["vdi"], c) for c in state["vdis"])
    assert copies[s.m1]["lag"] is None and "not the pool master" in copies[s.m1]["lag_reason"]
    # a2 has no dom0 VBD of M1: the copy is still read through its LV
    assert copies[s.m1]["generation"] == 130


def test_metadata_state_without_a_readable_device(python, s, tmp_path):
    env = s.a.env
    s.a.env = lambda: dict(env(), XE_DR_PLUGIN_DEV_ROOT=str(tmp_path / "nowhere"))
    state = sc.call(python, s.a, "metadata_state").json()
    for copy in state["vdis"]:
        assert copy["generation"] is None and "no block device" in copy["generation_reason"]
        assert copy["lag"] is None and copy["lag_reason"] == "the copy's generation is unknown"
    # the live count falls back to the database file
    assert state["live_generation"] == 118


# -- metadata_state: the heartbeat in each copy (version 5) -------------------------------------

def test_each_copy_answers_the_heartbeat_it_holds_on_disk(python, s):
    """The newest pool xe-dr-heartbeat in the valid half: from the deltas after the database
    record (xe's param-set writes the map without the key, then with it) or from the record's
    XML; a copy that stopped being written keeps the heartbeat it last received."""
    a = dict((c["vdi"], c) for c in sc.call(python, s.a, "metadata_state").json()["vdis"])
    b = dict((c["vdi"], c) for c in sc.call(python, s.b, "metadata_state").json()["vdis"])
    # M1 on A: the delta at 128, after the full write at 121 (which holds HEARTBEATS[2])
    assert (a[s.m1]["heartbeat"], a[s.m1]["heartbeat_unread"]) == (sc.HEARTBEATS[4], None)
    # M2 lost its VBD at 110: the delta at 105 is the last it received, at both sites
    assert (a[s.m2]["heartbeat"], a[s.m2]["heartbeat_unread"]) == (sc.HEARTBEATS[1], None)
    assert b[s.m2]["heartbeat"] == sc.HEARTBEATS[1]
    # the mirror of M1 froze at 125: B's copy has the heartbeat of 123, not A's of 128
    assert (b[s.m1]["heartbeat"], b[s.m1]["heartbeat_unread"]) == (sc.HEARTBEATS[3], None)


def test_a_heartbeat_in_the_database_record_alone(python, s):
    """B's own copy: the heartbeat is in the XML of its database record, among values that
    look like it (quoted in another value, a longer key, escaped quotes, %, markup)."""
    copies = dict((c["vdi"], c) for c in sc.call(python, s.b, "metadata_state").json()["vdis"])
    own = copies[s.mb]
    assert (own["generation"], own["deltas_applied"]) == (57, 7)
    assert (own["heartbeat"], own["heartbeat_unread"]) == (sc.B_HEARTBEAT, None)


def test_a_copy_without_a_heartbeat(python, s):
    """M9's pool has an other_config without the key: null, and nothing is wrong."""
    copies = dict((c["vdi"], c) for c in sc.call(python, s.b, "metadata_state").json()["vdis"])
    assert copies[s.m9]["generation"] == 40
    assert (copies[s.m9]["heartbeat"], copies[s.m9]["heartbeat_unread"]) == (None, None)


def test_an_unreadable_copy_says_why_it_has_no_heartbeat(python, s, tmp_path):
    lun = s.a.lun(s.sr2, s.m2)
    lun.empty()                                   # validity byte 0: neither half is valid
    copies = dict((c["vdi"], c) for c in sc.call(python, s.a, "metadata_state").json()["vdis"])
    assert copies[s.m2]["generation"] is None and copies[s.m2]["heartbeat"] is None
    assert "validity byte 0" in copies[s.m2]["heartbeat_unread"]
    assert copies[s.m1]["heartbeat"] == sc.HEARTBEATS[4]
    env = s.a.env
    s.a.env = lambda: dict(env(), XE_DR_PLUGIN_DEV_ROOT=str(tmp_path / "nowhere"))
    for copy in sc.call(python, s.a, "metadata_state").json()["vdis"]:
        assert copy["heartbeat"] is None and "no block device" in copy["heartbeat_unread"]


# -- inventory -----------------------------------------------------------------------------------

def test_inventory(python, s):
    out = sc.call(python, s.b, "inventory", {"vdi": s.m1})
    assert_one_response(out)
    inv = out.json()
    assert inv["version"] == "6" and inv["vdi"] == s.m1
    assert inv["generation"] == 125
    # the pool has no name: its master's hostname stands in (as XenCenter shows it)
    assert inv["pool"] == {"uuid": s.pool_a, "name_label": "alpha-a1.example.org",
                           "master": s.a1, "heartbeat": None}
    hosts = by_uuid(inv["hosts"])
    assert set(hosts) == {s.a1, s.a2}
    assert hosts[s.a1]["software_version"] == {"product_brand": "XCP-ng",
                                               "product_version": "8.2.1"}
    vms = by_uuid(inv["vms"])
    # only real VMs: no template, no snapshot, no control domain
    assert set(vms) == {s.web1, s.web2, s.db1, s.local_vm} | set(s.apps)
    web1 = vms[s.web1]
    assert web1 == {
        "uuid": s.web1, "name_label": "web-1", "power_state": "running", "version": 1,
        "order": 0, "start_delay": 10, "shutdown_delay": 0, "ha_restart_priority": "restart",
        "memory": 4 * 2 ** 30, "vcpus": 4, "appliance": s.app, "tags": ["dr-tier1", "web"],
        "srs": [{"uuid": s.sr1, "name_label": "DR LUN 1", "type": "lvmoiscsi",
                 "shared": True, "content_type": "", "present": True, "attached": True,
                 "local_storage": False, "replicated": True}],
        "networks": [{"name_label": "Pool-wide network associated with eth0",
                      "bridge": "xenbr0", "mtu": 1500, "exists_here": True,
                      "local_network": web1["networks"][0]["local_network"],
                      "matched_by": "name_label"}],
        "vifs": [{"device": "0", "mac": "aa:00:00:00:00:01",
                  "network_name_label": "Pool-wide network associated with eth0",
                  "network_bridge": "xenbr0"}],
        "disks": [{"vdi": web1["disks"][0]["vdi"], "name_label": "disk", "device": "0",
                   "sr": s.sr1, "here": True}],
        "xe_dr_run": ""}
    assert web1["networks"][0]["local_network"]
    web2 = vms[s.web2]
    assert [v["device"] for v in web2["vifs"]] == ["0", "1"]
    storage = [n for n in web2["networks"] if n["bridge"] == "xenbr1"][0]
    assert (storage["exists_here"], storage["matched_by"]) == (True, "bridge")
    assert vms[s.web2]["order"] == 1 and vms[s.web2]["shutdown_delay"] == 5
    assert vms[s.web2]["tags"] == []

    db1 = vms[s.db1]
    assert db1["name_label"] == u"Produ\u00e7\u00e3o DB" and db1["power_state"] == "halted"
    assert db1["appliance"] == "" and db1["version"] == 2
    # two disks on two SRs; the CDs (one on the ISO SR, one empty) do not count
    assert sorted(sr["uuid"] for sr in db1["srs"]) == sorted([s.sr1, s.sr2])
    assert [(d["device"], d["sr"], d["here"]) for d in db1["disks"]] == [
        ("0", s.sr1, True), ("1", s.sr2, True)]
    # a disk on an SR this pool does not have is not here
    assert [d["here"] for d in vms[s.local_vm]["disks"]] == [False]
    backup = [n for n in db1["networks"] if n["name_label"] == "Backup"][0]
    assert backup == {"name_label": "Backup", "bridge": "xapi7", "mtu": 1500, "exists_here": False,
                      "local_network": None, "matched_by": None}
    (local,) = vms[s.local_vm]["srs"]
    assert (local["uuid"], local["present"], local["attached"], local["local_storage"],
            local["replicated"]) == (s.local_sr, False, False, True, False)

    (app,) = inv["appliances"]
    assert app == {"uuid": s.app, "name_label": "Web tier", "name_description": "front ends",
                   "vms": sorted([s.web1, s.web2])}
    assert_closed(s.b)


def test_inventory_logs_out_when_reading_fails(python, s):
    s.b.faults = {"VM.get_all_records": {"*": ["INTERNAL_ERROR", "disk on fire"]}}
    s.b.save()
    out = sc.call(python, s.b, "inventory", {"vdi": s.m1})
    assert out.error == ["INTERNAL_ERROR", "disk on fire"]
    assert_closed(s.b)


def test_inventory_agrees_with_what_recovery_needs(python, s):
    """A VM whose SRs are all present and attached passes assert_can_be_recovered."""
    inv = sc.call(python, s.b, "inventory", {"vdi": s.m1}).json()
    ready = sorted(v["uuid"] for v in inv["vms"]
                   if all(sr["present"] and sr["attached"] for sr in v["srs"]))
    assert s.local_vm not in ready
    result = sc.call(python, s.b, "recover", {"vdi": s.m1, "vms": json.dumps(
        [v["uuid"] for v in inv["vms"]]), "force": "true"}).json()
    passed = sorted(r["uuid"] for r in result["results"] if r["step"] != "assert")
    assert passed == ready


def test_inventory_answers_the_pools_heartbeat(python, s):
    """Version 4: the time xe-dr status last wrote on the source pool, as the copy holds it
    (it dates the copy: a failover's recovery point)."""
    pool = s.a.db.rec("pool", s.a.pool_ref)
    pool["other_config"] = dict(pool["other_config"], **{
        "xe-dr-heartbeat": "2026-03-01T10:15:00Z"})
    s.b.save()
    inv = sc.call(python, s.b, "inventory", {"vdi": s.m1}).json()
    assert inv["version"] == "6"
    assert inv["pool"]["heartbeat"] == "2026-03-01T10:15:00Z"


# -- recover -------------------------------------------------------------------------------------

def test_recover_a_batch(python, s):
    s.b.faults = {"VM.recover": {s.apps[2]: ["VDI_LOCATION_MISSING", "OpaqueRef:sr", "lv-1"]}}
    s.b.save()
    missing = "00000000-1111-4222-8333-444444444444"
    vms = [s.web1, s.apps[0], s.local_vm, s.apps[2], s.running_dup, missing, s.db1, s.web1]
    out = sc.call(python, s.b, "recover", {"vdi": s.m1, "vms": json.dumps(vms),
                                           "appliances": json.dumps([s.app]),
                                           "force": "false", "parallel": "2"})
    assert_one_response(out)
    result = out.json()
    assert (result["version"], result["vdi"], result["force"], result["parallel"]) == (
        "6", s.m1, False, 2)
    kinds = [(r["kind"], r["uuid"]) for r in result["results"]]
    # vApps first, then the VMs in the order given, each once
    assert kinds == [("appliance", s.app)] + [("vm", u) for u in vms[:-1]]
    res = by_uuid(result["results"])
    app = res[s.app]
    assert app["ok"] and app["error"] is None
    assert app["recovered_vms"] == app["members"] == sorted([s.web1, s.web2])
    # web-1 came back with its vApp: not recovered a second time
    assert res[s.web1]["ok"] and res[s.web1]["via_appliance"] == s.app
    assert res[s.apps[0]]["ok"] and res[s.apps[0]]["recovered_vms"] == [s.apps[0]]
    assert res[s.db1]["ok"]
    assert res[s.local_vm]["error"][0] == "VM_REQUIRES_SR"
    assert res[s.local_vm]["step"] == "assert" and res[s.local_vm]["recovered_vms"] == []
    assert res[s.apps[2]]["error"] == ["VDI_LOCATION_MISSING", "OpaqueRef:sr", "lv-1"]
    assert res[s.apps[2]]["step"] == "recover"
    assert res[s.running_dup]["error"][0] == "VM_BAD_POWER_STATE"
    assert res[s.running_dup]["error"][2:] == ["Halted", "Running"]
    assert res[missing]["error"] == ["UUID_INVALID", "VM", missing]
    for r in result["results"]:
        assert isinstance(r["seconds"], float) and r["seconds"] >= 0
    recovered = sorted((e["kind"], e["uuid"]) for e in s.b.events("recovered"))
    assert recovered == sorted([("appliance", s.app), ("vm", s.apps[0]), ("vm", s.db1)])
    assert_closed(s.b)


def test_recover_tags_what_it_recovers_in_its_session(python, s):
    vms = [s.web1, s.apps[0], s.local_vm]
    out = sc.call(python, s.b, "recover", {"vdi": s.m1, "vms": json.dumps(vms),
                                           "appliances": json.dumps([s.app]),
                                           "tag": "20261125-101010-test-ab12"})
    res = by_uuid(out.json()["results"])
    assert res[s.app]["tagged"] == res[s.apps[0]]["tagged"] == "20261125-101010-test-ab12"
    assert res[s.web1]["tagged"] == "20261125-101010-test-ab12"  # came with its vApp
    assert "tagged" not in res[s.local_vm] and not res[s.local_vm]["ok"]
    added = sorted(e["ref"] for e in s.b.events("add_to_other_config")
                   if e["key"] == "xe-dr-run")
    assert added == sorted("OpaqueRef:recovered-%s" % u for u in [s.web1, s.web2, s.apps[0]])
    assert_closed(s.b)


def test_a_kept_session_serves_the_next_calls_of_its_run_until_released(python, s):
    key = {"keep": "20261125-101010-failover-ab12"}
    inv = sc.call(python, s.b, "inventory", dict(key, vdi=s.m1)).json()
    assert len(s.b.events("open_database")) == 1
    (kept,) = [e for e in s.b.events("exit")][0]["open_foreign_sessions"]
    assert oct(os.stat(s.b.world_path + ".run").st_mode & 0o777) == "0o700"
    # Another caller (no key, or another key) neither uses nor ends it.
    sc.call(python, s.b, "inventory", {"vdi": s.m1, "keep": "another-run"})
    assert len(s.b.events("open_database")) == 1
    first = sc.call(python, s.b, "recover", dict(key, vdi=s.m1, vms=json.dumps([s.db1])))
    assert first.json()["reused_session"] is True and first.json()["results"][0]["ok"]
    assert s.b.events("open_database") == [] and s.b.events("logout") == []
    released = sc.call(python, s.b, "release", dict(key, vdi=s.m1)).json()
    assert released["released"] is True
    assert [e["session"] for e in s.b.events("logout")] == [kept]
    again = sc.call(python, s.b, "release", dict(key, vdi=s.m1)).json()
    assert again["released"] is False
    assert inv["vdi"] == s.m1


def test_a_kept_session_xapi_dropped_is_opened_again(python, s):
    key = {"keep": "run-1"}
    sc.call(python, s.b, "inventory", dict(key, vdi=s.m1))
    os.remove(s.b.world_path + ".sessions.json")  # xapi restarted: the session is gone
    out = sc.call(python, s.b, "recover", dict(key, vdi=s.m1, vms=json.dumps([s.db1])))
    assert out.json()["reused_session"] is False
    assert len(s.b.events("open_database")) == 1


def test_a_vm_of_a_vapp_that_failed_is_not_recovered_alone(python, s):
    s.b.faults = {"VM_appliance.recover": {s.app: ["SR_BACKEND_FAILURE_47", "", "down", ""]}}
    s.b.save()
    out = sc.call(python, s.b, "recover", {"vdi": s.m1, "vms": json.dumps([s.web1]),
                                           "appliances": json.dumps([s.app])})
    res = by_uuid(out.json()["results"])
    assert not res[s.app]["ok"] and not res[s.web1]["ok"]
    assert res[s.web1]["via_appliance"] == s.app and "not recovered" in res[s.web1]["error"][1]
    assert s.b.events("recovered") == []


def test_recover_with_force_skips_a_running_duplicate(python, s):
    out = sc.call(python, s.b, "recover", {"vdi": s.m1, "vms": json.dumps([s.running_dup]),
                                           "force": "true"})
    (result,) = out.json()["results"]
    assert result["ok"] and result["recovered_vms"] == [s.running_dup]
    assert s.b.events("recovered")[0]["force"] is True


def test_recover_nothing(python, s):
    result = sc.call(python, s.b, "recover", {"vdi": s.m1}).json()
    assert result["results"] == []
    assert_closed(s.b)


@pytest.mark.parametrize("parallel", [1, 3])
def test_recoveries_run_concurrently_within_the_bound(python, s, parallel):
    delay = 0.15
    s.b.delays = {"VM.recover": delay}
    s.b.save()
    vms = [s.apps[0], s.apps[2], s.apps[3], s.apps[4], s.apps[5], s.db1]
    started = time.time()
    result = sc.call(python, s.b, "recover", {"vdi": s.m1, "vms": json.dumps(vms),
                                              "parallel": str(parallel)}).json()
    elapsed = time.time() - started
    assert all(r["ok"] for r in result["results"]), result
    assert all(r["seconds"] >= delay * 0.9 for r in result["results"])
    calls = s.b.events("call")
    assert len(calls) == len(vms)
    assert max(c["inflight"] for c in calls) == parallel
    # overlap measured from the calls' own times, not from process start-up
    spans = sorted((c["start"], c["end"]) for c in calls)
    busiest = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert busiest == parallel
    assert elapsed < 60  # only a hang: the overlap is asserted from the calls' own times
    assert len(set(c["thread"] for c in calls)) == parallel
    assert_closed(s.b)


def test_one_database_open_serves_the_whole_batch(python, s):
    vms = list(s.apps)
    sc.call(python, s.b, "recover", {"vdi": s.m1, "vms": json.dumps(vms), "force": "true"})
    assert_closed(s.b, opens=1)


def test_argv_is_one_xmlrpc_call():
    """The contract the tests rely on: xapi passes (session, args) under the function name."""
    call = xmlrpc.client.dumps(("OpaqueRef:s", {"vdi": "x"}), "inventory")
    params, method = xmlrpc.client.loads(call)
    assert method == "inventory" and params == ("OpaqueRef:s", {"vdi": "x"})


def test_metadata_state_with_the_pool_redo_log_and_no_messages(python, s):
    from tests.plugin_fakes import redolog_writer as rl
    db = s.a.db
    sr = db.sr("Redo LUN", "lvmoiscsi", attached_on=list(db.tables["host"]))
    redo = db.vdi(sr, "Metadata redo-log", type="redo_log", sharable=True)
    db.rec("pool", s.a.pool_ref).update(redo_log_enabled=True, redo_log_vdi=redo)
    image = s.a.lun(db.uuid("SR", sr), db.uuid("VDI", redo))
    image.write_db(rl.database_xml(139), 139)
    image.write_delta(b"<d/>", 140)
    s.a.faults = {"message.get_all_records": {"*": ["PERMISSION_DENIED"]}}
    s.a.save()
    state = sc.call(python, s.a, "metadata_state").json()
    assert state["redo_log"] == {"enabled": True, "vdi": db.uuid("VDI", redo),
                                 "generation": 140, "generation_reason": None}
    assert state["live_generation"] == 140
    assert state["live_generation_sources"]["redo_log"] == 140
    copies = dict((c["vdi"], c) for c in state["vdis"])
    assert (copies[s.m1]["lag"], copies[s.m2]["lag"]) == (10, 30)
    assert state["messages"] is None and "PERMISSION_DENIED" in state["messages_reason"]
    assert copies[s.m2]["last_alert"] is None
