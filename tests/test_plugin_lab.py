"""The plugin inside the simulated lab: installed by copying it into each host's plugin folder,
called through the lab's ``xe host-call-plugin`` (a real process with xapi's argv contract and
the lab's XenAPI/XenAPIPlugin stand-ins), and compared with what plain xe says on the same lab.

The lab hands the plugin what it reads on dom0 (xe_dr/lab/plugins.py): ``XE_DR_PLUGIN_DEV_ROOT``
(the host's active LVs), ``XE_DR_PLUGIN_XAPI_DB`` (a state.db and its ``.generation``) and
``XE_DR_PLUGIN_INVENTORY``.
"""

import json
import os
import shutil
import stat

import pytest

from tests.plugin_fakes.scenario import PLUGIN
from xe_dr.dr.inventory import find_metadata_copies, read_with_plugin, read_with_xe
from xe_dr.runner.local import LocalRunner
from xe_dr.xe import Xe
from xe_dr.xe.errors import XapiError


@pytest.fixture
def dr(lab):
    """A lab with site A replicating and the plugin on every host."""
    for site in ("A", "B"):
        for host in lab.ok(site, "host-list", "params=uuid", "--minimal").values:
            target = os.path.join(lab.lab.plugin_dir(host), "xe-dr")
            shutil.copy(PLUGIN, target)
            os.chmod(target, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH
                     | stat.S_IXOTH)
    lab.enable_replication("A")
    lab.masters = dict((s, lab.ok(s, "pool-list", "params=master", "--minimal").value)
                       for s in ("A", "B"))
    lab.client = dict((s, Xe(LocalRunner(), xe_path=lab.xe_path(s))) for s in ("A", "B"))
    return lab


def plugin(lab, site, fn, **args):
    return lab.client[site].call_plugin(lab.masters[site], "xe-dr", fn, args)


def state(lab, site):
    return json.loads(plugin(lab, site, "metadata_state"))


def live_generation(lab, site):
    return lab.db(site).generation


def opens_since(lab, mark):
    return sum(e.get("db_opens", 0) for e in lab.call_log()[mark:])


def test_version_and_missing_function(dr):
    assert plugin(dr, "B", "version") == "6"
    with pytest.raises(XapiError) as info:
        plugin(dr, "B", "nope")
    assert info.value.code == "UNKNOWN_XENAPI_PLUGIN_FUNCTION"


def test_metadata_state_matches_xe_and_the_disk(dr):
    got = state(dr, "A")
    listed = dr.client["A"].list("vdi", params=("uuid", "sr-uuid", "metadata-latest"),
                                 filters={"type": "Metadata"})
    copies = dict((c["vdi"], c) for c in got["vdis"])
    assert set(copies) == set(r["uuid"] for r in listed) and copies
    live = live_generation(dr, "A")
    assert got["host"]["is_master"] is True
    assert got["live_generation"] == live
    for record in listed:
        copy = copies[record["uuid"]]
        assert copy["sr"]["uuid"] == record["sr-uuid"]
        assert copy["metadata_latest"] == (record["metadata-latest"] == "true")
        assert copy["pool"]["local"] and copy["replicating"]
        assert copy["attached_to"] == [dr.masters["A"]]
        # the lab writes the whole database on every change: the copies are current
        assert (copy["generation"], copy["lag"]) == (live, 0), copy
        assert copy["schema"] is not None


def test_a_frozen_mirror_lags_the_live_database(dr):
    before = state(dr, "A")
    frozen_at = before["live_generation"]
    tasks = dr.failover_task("B")                # breaks the mirror, introduces the SRs at B
    assert tasks
    vm = dr.ok("A", "vm-list", "is-control-domain=false", "params=uuid", "--minimal").values[0]
    for n in range(3):                           # site A goes on changing
        dr.ok("A", "vm-param-set", "uuid=" + vm, "name-description=changed %d" % n)
    after = state(dr, "A")
    assert after["live_generation"] > frozen_at
    seen_at_b = state(dr, "B")
    foreign = [c for c in seen_at_b["vdis"] if not c["pool"]["local"]]
    assert foreign
    for copy in foreign:
        # xapi attached the copy only while it read it (Sm_fs_ops.with_block_attached_device):
        # its LV is not active at B, so a dom0 has no device node to read it from
        assert copy["generation"] is None and copy["device"] is None
        assert "no block device" in copy["generation_reason"]
        assert copy["lag"] is None and copy["lag_reason"]
        # whose copy it is: from xapi's foreign-database cache (VDI.read_database_pool_uuid)
        assert copy["pool"]["uuid"] == after["pool"]["uuid"]
        assert copy["pool"]["source"] == "xapi"
    # at A the copies are attached to the master's dom0 and written on: no lag there
    assert all(c["lag"] == 0 and c["generation"] == after["live_generation"]
               for c in after["vdis"])


def test_inventory_matches_plain_xe(dr):
    dr.failover_task("B")
    xe_b = dr.client["B"]
    local_pool = dr.ok("B", "pool-list", "params=uuid", "--minimal").value
    copies = [c for c in find_metadata_copies(xe_b, local_pool) if c.latest and not c.local]
    assert copies
    copy = copies[0]
    mark = len(dr.call_log())
    via_plugin = read_with_plugin(xe_b, dr.masters["B"], copy)
    plugin_opens = opens_since(dr, mark)
    mark = len(dr.call_log())
    via_xe = read_with_xe(xe_b, copy)
    xe_opens = opens_since(dr, mark)
    assert plugin_opens == 1 < xe_opens

    assert (via_plugin.uuid, via_plugin.name_label) == (via_xe.uuid, via_xe.name_label)
    assert sorted(h["uuid"] for h in via_plugin.hosts) == sorted(h["uuid"] for h in via_xe.hosts)
    for mine, theirs in zip(sorted(via_plugin.hosts, key=lambda h: h["uuid"]),
                            sorted(via_xe.hosts, key=lambda h: h["uuid"])):
        assert mine["name_label"] == theirs["name_label"]
        assert mine["software_version"] == theirs["software_version"]
    assert sorted(v.uuid for v in via_plugin.vms) == sorted(v.uuid for v in via_xe.vms)
    scalar = ("name_label", "power_state", "version", "order", "start_delay",
              "shutdown_delay", "ha_restart_priority", "memory", "vcpus")
    for vm in via_plugin.vms:
        other = via_xe.vm(vm.uuid)
        assert dict((f, getattr(vm, f)) for f in scalar) == \
            dict((f, getattr(other, f)) for f in scalar), vm.uuid
    assert sorted((a.uuid, a.name_label, a.name_description) for a in via_plugin.appliances) \
        == sorted((a.uuid, a.name_label, a.name_description) for a in via_xe.appliances)
    # the copy is not attached at B (see above): no generation to read
    assert copy.generation is None

    # What plain xe cannot tell through the foreign database, checked against site A's own
    # listing (its references resolve there): vApp membership and the SRs each VM needs.
    xe_a = dr.client["A"]
    membership = dict((r["uuid"], r["appliance"]) for r in xe_a.list(
        "vm", params=("uuid", "appliance"), filters={"is-control-domain": "false"}))
    for vm in via_plugin.vms:
        expected = membership[vm.uuid]
        assert vm.appliance == ("" if expected in ("", "<not in database>") else expected)
    for app in via_plugin.appliances:
        assert sorted(app.vms) == sorted(u for u, a in membership.items() if a == app.uuid)
    vdis = dict((r["uuid"], r["sr-uuid"]) for r in xe_a.list("vdi", params=("uuid", "sr-uuid")))
    iso = set(r["uuid"] for r in xe_a.list("sr", params=("uuid",),
                                           filters={"content-type": "iso"}))
    needs = {}
    for vbd in xe_a.list("vbd", params=("vm-uuid", "vdi-uuid", "type")):
        sr = vdis.get(vbd["vdi-uuid"])
        if vbd["type"] != "CD" and sr and sr not in iso:
            needs.setdefault(vbd["vm-uuid"], set()).add(sr)
    b_srs = set(r["uuid"] for r in xe_b.list("sr", params=("uuid",)))
    for vm in via_plugin.vms:
        assert set(s["uuid"] for s in vm.srs) == needs.get(vm.uuid, set()), vm.name_label
        for sr in vm.srs:
            assert sr["present"] == (sr["uuid"] in b_srs)


def test_recover_through_the_plugin(dr):
    dr.failover_task("B")
    xe_b = dr.client["B"]
    local_pool = dr.ok("B", "pool-list", "params=uuid", "--minimal").value
    copy = [c for c in find_metadata_copies(xe_b, local_pool) if c.latest and not c.local][0]
    inventory = json.loads(plugin(dr, "B", "inventory", vdi=copy.vdi_uuid))
    apps = [a["uuid"] for a in inventory["appliances"]]
    ready = [v["uuid"] for v in inventory["vms"] if not v["appliance"]
             and all(s["present"] and s["attached"] for s in v["srs"])]
    # a VM on a network B lacks fails (xapi_network.ml create, in the caller's session)
    unmatched = [u for u in ready if not all(n["exists_here"] for n in [
        v for v in inventory["vms"] if v["uuid"] == u][0]["networks"])]
    assert unmatched, "the default lab has a VM on DMZ, which B lacks"
    ready = [u for u in ready if u not in unmatched]
    blocked = [v["uuid"] for v in inventory["vms"] if not v["appliance"]
               and not all(s["present"] and s["attached"] for s in v["srs"])]
    mark = len(dr.call_log())
    result = json.loads(plugin(dr, "B", "recover", vdi=copy.vdi_uuid, vms=json.dumps(
        ready + blocked + unmatched), appliances=json.dumps(apps), force="false",
        parallel="3"))
    assert opens_since(dr, mark) == 1
    results = dict((r["uuid"], r) for r in result["results"])
    assert [r["kind"] for r in result["results"]][:len(apps)] == ["appliance"] * len(apps)
    for uuid in apps + ready:
        assert results[uuid]["ok"], results[uuid]
    for uuid in blocked:
        assert results[uuid]["error"][0] == "VM_REQUIRES_SR"
    for uuid in unmatched:
        assert (results[uuid]["step"], results[uuid]["error"]) == (
            "recover", ["INVALID_VALUE", "bridge", "xapi1"])
    # B's own listing now shows the recovered VMs, and each vApp's members are in it
    here = dict((r["uuid"], r) for r in xe_b.list(
        "vm", params=("uuid", "appliance", "power-state"),
        filters={"is-control-domain": "false"}))
    for app in inventory["appliances"]:
        assert sorted(results[app["uuid"]]["recovered_vms"]) == sorted(app["vms"])
        for member in app["vms"]:
            assert here[member]["appliance"] == app["uuid"]
    for uuid in ready:
        assert here[uuid]["power-state"] == "halted"
    # again, unforced: the copies are not newer than what is here now
    again = json.loads(plugin(dr, "B", "recover", vdi=copy.vdi_uuid, vms=json.dumps(ready[:1])))
    if ready:
        assert again["results"][0]["error"][0] in ("VM_TO_IMPORT_IS_NOT_NEWER_VERSION",
                                                   "VM_BAD_POWER_STATE")


def test_a_plugin_called_on_a_member_gets_a_pool_session(dr):
    """xapi_host.ml ``call_plugin`` passes the plugin the session of the call; on a member,
    the call arrives forwarded from the master (message_forwarding.ml Host.call_plugin,
    ``do_op_on`` -> ``call_slave_with_session``: ``login_no_password ~pool:true``), so its
    recovery (forwarded back to the master, api_server.ml) runs in a pool session, which
    xapi_network.ml ``create`` trusts with the foreign bridge: the DR site gets a network
    DMZ on bridge xapi1, marked ``import_task``. Through the master the same call fails."""
    dr.failover_task("B")
    xe_b = dr.client["B"]
    local_pool = dr.ok("B", "pool-list", "params=uuid", "--minimal").value
    copy = [c for c in find_metadata_copies(xe_b, local_pool) if c.latest and not c.local][0]
    inventory = json.loads(plugin(dr, "B", "inventory", vdi=copy.vdi_uuid))
    vm = [v["uuid"] for v in inventory["vms"] if not v["appliance"] and all(
        s["attached"] for s in v["srs"]) and not all(n["exists_here"] for n in v["networks"])][0]
    on_master = json.loads(plugin(dr, "B", "recover", vdi=copy.vdi_uuid, vms=json.dumps([vm])))
    assert on_master["results"][0]["error"] == ["INVALID_VALUE", "bridge", "xapi1"]
    member = [h for h in dr.ok("B", "host-list", "params=uuid", "--minimal").values
              if h != dr.masters["B"]][0]
    answer = json.loads(xe_b.call_plugin(member, "xe-dr", "recover", {
        "vdi": copy.vdi_uuid, "vms": json.dumps([vm])}))
    assert answer["results"][0]["ok"], answer
    net = dr.uuid("B", "network", **{"name-label": "DMZ"})
    assert dr.ok("B", "network-param-get", "uuid=" + net, "param-name=bridge").value == "xapi1"
    assert dr.ok("B", "network-param-get", "uuid=" + net, "param-name=other-config",
                 "param-key=import_task").value.startswith("OpaqueRef:")
    assert net in dr.ok("B", "vif-list", "vm-uuid=" + vm, "params=network-uuid",
                        "--minimal").values


def test_errors_travel_through_xe(dr):
    with pytest.raises(XapiError) as info:
        plugin(dr, "B", "inventory", vdi="00000000-0000-4000-8000-000000000000")
    assert info.value.code == "UUID_INVALID"
    with pytest.raises(XapiError) as info:
        plugin(dr, "B", "recover", vdi="x", force="perhaps")
    assert info.value.code == "XE_DR_PLUGIN_INVALID_ARGUMENT"


def test_a_copy_that_stopped_being_written_lags_and_is_alerted(dr):
    pool = dr.ok("A", "pool-list", "params=uuid", "--minimal").value
    dr.ok("A", "pool-param-set", "uuid=" + pool, "other-config:metadata_lun_alerts=true")
    before = state(dr, "A")
    assert before["metadata_lun_alerts"] is True
    written_at = before["live_generation"]
    assert all(c["lag"] == 0 for c in before["vdis"])
    dr.mirror("reverse")                         # site A's LUN copies become read-only targets
    vm = dr.ok("A", "vm-list", "is-control-domain=false", "params=uuid", "--minimal").values[0]
    for n in range(3):
        dr.ok("A", "vm-param-set", "uuid=" + vm, "name-description=after %d" % n)
    after = state(dr, "A")
    live = live_generation(dr, "A")
    assert after["live_generation"] == live > written_at
    broken = dict((m["vdi"], m) for m in after["messages"] if m["name"] == "METADATA_LUN_BROKEN")
    for copy in after["vdis"]:
        assert copy["metadata_latest"] is False
        assert copy["generation"] == written_at
        assert copy["lag"] == live - written_at > 0
        assert copy["last_alert"]["name"] == "METADATA_LUN_BROKEN"
        assert copy["vdi"] in broken


def test_inventory_tells_each_disk_and_whether_it_is_here(dr):
    """A recovery finds a disk by its SR and location (xen-api ocaml/xapi/import.ml): the
    inventory says which disks the pool has records of: those of the attached, scanned SR, not
    those of SRs that are not here."""
    sr = dr.replicated_srs()[0][0]
    dr.mirror("break")
    assert dr.drtask("B", [sr]).code == 0
    dr.make_visible("B", [sr])
    vdi = dr.metadata_vdi("B")
    for sr_uuid, _ in dr.replicated_srs()[1:]:  # the other SRs are not attached yet
        assert dr.xe("B", "sr-list", "uuid=" + sr_uuid, "--minimal").value == ""
    vms = json.loads(plugin(dr, "B", "inventory", vdi=vdi))["vms"]
    db = dr.db("A")
    for vm in vms:
        ref = db.by_uuid("VM", vm["uuid"])
        expected = []
        for vbd in db.children("VBD", "VM", ref):
            row = db.rows("VBD")[vbd]
            disk = db.find("VDI", row.get("VDI"))
            if row.get("type") != "Disk" or disk is None:
                continue
            sr_uuid = db.get("SR", disk["SR"])["uuid"]
            expected.append((disk["uuid"], sr_uuid, sr_uuid == sr))
        assert sorted((d["vdi"], d["sr"], d["here"]) for d in vm["disks"]) == sorted(expected)
    assert any(d["here"] for vm in vms for d in vm["disks"])
    assert any(not d["here"] for vm in vms for d in vm["disks"])


def test_inventory_counts_the_networks_of_a_vms_snapshots(dr):
    """A recovery imports a VM's snapshots and the networks of their VIFs (xapi_dr.ml
    create_import_objects: export.ml update_table ~include_snapshots:true), so a network only
    a snapshot uses is one the VM needs here too."""
    snapshot = dr.ok("A", "snapshot-list", "params=uuid", "--minimal").values[0]
    parent = dr.ok("A", "snapshot-param-get", "uuid=" + snapshot,
                   "param-name=snapshot-of").value
    dmz = dr.uuid("A", "network", **{"name-label": "DMZ"})
    with dr.lab.site("A").transaction() as wdb:
        wdb.create("VIF", {"VM": wdb.by_uuid("VM", snapshot), "network": wdb.by_uuid(
            "network", dmz), "device": "5", "MAC": "aa:00:00:00:00:55",
            "currently_attached": False, "other_config": {}})
    dr.failover_task("B")
    xe_b = dr.client["B"]
    local_pool = dr.ok("B", "pool-list", "params=uuid", "--minimal").value
    copy = [c for c in find_metadata_copies(xe_b, local_pool) if c.latest and not c.local][0]
    inventory = json.loads(plugin(dr, "B", "inventory", vdi=copy.vdi_uuid))
    vm = [v for v in inventory["vms"] if v["uuid"] == parent][0]
    dmz_entry = [n for n in vm["networks"] if n["name_label"] == "DMZ"]
    assert dmz_entry and not dmz_entry[0]["exists_here"]
    assert "DMZ" not in [v["network_name_label"] for v in vm["vifs"]]
