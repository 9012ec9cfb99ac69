"""What the DR site's xapi sees of the storage xe-dr attaches, release by release (issue 12,
rules 1 and 3), through the CLI on the lab.

From xapi 23.22.0 PBD.plug no longer scans (xen-api ocaml/xapi/message_forwarding.ml, PBD.plug;
commit 7c04e3e5e4): after drtask-create the SRs have no VDI records, so no metadata copy is
read and a VM's disks are not found. xe-dr scans every SR of the run and plugs again those
whose metadata xapi has not read. On a multipathed host sm refuses a probe of a LUN whose
multipath map exists (sm LVHDoISCSISR.py / LVHDoHBASR.py, probe), so a resume does not probe
a LUN it attached already.
"""

import json

import pytest

from xe_dr.lab import array, replication


def protect(drill, plugin=True):
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    if plugin:
        drill.ok("B", "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")


def disaster(drill, plugin=True):
    protect(drill, plugin)
    drill.lab.disaster("A")
    drill.lab.mirror("break")


def journal_steps(drill, run_id):
    with open("%s/runs/%s/journal.jsonl" % (drill.state_dir, run_id)) as f:
        return [json.loads(line) for line in f if line.strip()]


def vm_with_two_disks(lab):
    """A VM at A with disks on two replicated SRs: (name, {vdi uuid: LUN id})."""
    db = lab.db("A")
    data = lab.array()
    for vm_ref, vm in sorted(db.rows("VM").items(), key=lambda kv: kv[1]["name_label"]):
        if vm.get("is_a_template") or vm.get("is_control_domain"):
            continue
        disks = {}
        for vbd in db.children("VBD", "VM", vm_ref):
            row = db.rows("VBD")[vbd]
            vdi = db.find("VDI", row.get("VDI"))
            if row.get("type") != "Disk" or vdi is None:
                continue
            lun = replication.sr_lun(data, "A", db, vdi["SR"])
            if lun is None or not data["luns"][lun].get("mirror"):
                break
            disks[vdi["uuid"]] = lun
        else:
            if len(disks) == 2:
                return vm["name_label"], disks
    raise AssertionError("the default lab has a VM with disks on two replicated SRs")


def lose_disk_at(lab, site, vdi_uuid, lun):
    """The disk never reached this site's copy of the LUN (its LV and VG entry are gone)."""
    with array.locked(lab.lab):
        data = array.load(lab.lab)
        vg = array.read_vg(lab.lab, lun, site)
        del vg["vdis"][vdi_uuid]
        array.write_vg(lab.lab, data, lun, site, vg)


@pytest.mark.parametrize("release, replugged", [("xcp-ng-8.3", True), ("citrix-8.2", False)])
def test_every_attached_sr_is_scanned_and_replugged_where_plug_does_not_scan(
        drill_factory, release, replugged):
    drill = drill_factory(release=release)
    disaster(drill)
    result = drill.xedr("B", "--json", "--yes", "failover", "--test", "--all",
                        *drill.storage_args("B"))
    assert result.code == 0, result
    steps = [e["step"] for e in journal_steps(drill, result.json["run"]) if e["event"] == "done"]
    srs = sorted(u for u, _ in drill.lab.replicated_srs())
    assert sorted(s.split(":", 1)[1] for s in steps if s.startswith("scan:")) == srs
    assert sorted(s.split(":", 1)[1] for s in steps if s.startswith("replug:")) == \
        (srs if replugged else [])
    # The VMs came back with every disk: the scan made their records.
    web = drill.lab.uuid("B", "vm", **{"name-label": "web-01"})
    assert len(drill.lab.ok("B", "vbd-list", "vm-uuid=" + web, "type=Disk",
                            "--minimal").values) >= 1


@pytest.mark.parametrize("release, replugged", [("xcp-ng-8.3", True), ("citrix-8.2", False)])
def test_a_dry_run_shows_the_scan_and_the_replug_where_the_release_needs_it(
        drill_factory, release, replugged):
    drill = drill_factory(release=release)
    disaster(drill)
    plan = drill.xedr("B", "--json", "failover", "--test", "--all", "--dry-run",
                      *drill.storage_args("B"))
    assert plan.code == 3, plan  # the VMs are not known before the attach: not all checked
    steps = [step["step"] for step in plan.json["commands"]]
    commands = [" ".join(c) for step in plan.json["commands"] for c in step["commands"]]
    srs = sorted(u for u, _ in drill.lab.replicated_srs())
    for sr in srs:
        assert any(c.endswith("sr-scan uuid=" + sr) for c in commands), commands
    assert sorted(s.split(":", 1)[1] for s in steps if s.startswith("replug:")) == \
        (srs if replugged else [])


def test_force_refuses_a_vm_whose_disk_is_not_here_and_names_the_disk(drill):
    name, disks = vm_with_two_disks(drill.lab)
    lost, lun = sorted(disks.items())[1]
    vm = drill.lab.vm_uuid(name)
    disaster(drill)
    lose_disk_at(drill.lab, "B", lost, lun)
    result = drill.xedr("B", "--json", "--yes", "failover", "--test", "--force", "--vm", name,
                        *drill.storage_args("B"))
    assert result.code == 1, result  # the only VM asked for is refused
    blocking = [c for c in result.json["checks"] if c["name"] == "disks:" + vm]
    assert len(blocking) == 1 and blocking[0]["verdict"] == "blocking"
    assert name in blocking[0]["message"] and lost in blocking[0]["message"]
    # Not recovered: with force, xapi would have made it without that disk.
    assert drill.lab.ok("B", "vm-list", "name-label=" + name, "--minimal").values == []


def test_force_without_the_plugin_is_refused_before_any_recovery(drill):
    disaster(drill, plugin=False)
    result = drill.xedr("B", "--json", "--yes", "failover", "--test", "--force", "--vm",
                        "web-01", *drill.storage_args("B"))
    assert result.code == 1, result  # the only VM asked for is refused
    [check] = [c for c in result.json["checks"] if c["name"].startswith("disks:")]
    assert "without the xe-dr host plugin" in check["message"]
    assert "plugin install" in check["fix"]
    assert drill.lab.ok("B", "vm-list", "name-label=web-01", "--minimal").values == []


def test_a_failover_and_its_resume_on_a_multipathed_dr_pool(drill_factory):
    drill = drill_factory(multipath=["B"])
    disaster(drill, plugin=False)
    # The first scan fails: the run stops after the storage is attached.
    drill.lab.fault(site="B", command="sr-scan", nth=1, error=["INTERNAL_ERROR", "boom"])
    first = drill.xedr("B", "--json", "--yes", "failover", "--test", "--all",
                       *drill.storage_args("B"))
    assert first.code != 0, first
    run_id = first.json["run"]
    attached = [e for e in journal_steps(drill, run_id)
                if e["event"] == "done" and e["step"].startswith("attach:")]
    assert len(attached) == len(drill.lab.replicated_srs())
    probes_before = sum(1 for c in drill.lab.call_log() if c["command"] == "sr-probe")
    resumed = drill.xedr("B", "--json", "--yes", "failover", "--resume", run_id)
    # 2: without the plugin, plain xe cannot tell that db-01, dns-01 and file-01 were never
    # protected; every protected VM came back.
    assert resumed.code == 2, resumed
    assert resumed.json["outcome"] == "partly failed"
    # No LUN the run attached was probed again (sm would refuse: SR_DEVICE_IN_USE).
    assert sum(1 for c in drill.lab.call_log() if c["command"] == "sr-probe") == probes_before


def test_inventory_names_an_sr_attached_by_hand_that_xapi_has_not_scanned(drill):
    protect(drill, plugin=False)
    drill.lab.mirror("break")
    sr = drill.lab.replicated_srs()[0][0]
    assert drill.lab.drtask("B", [sr]).code == 0

    def inventory():
        result = drill.xedr("B", "--json", "inventory")
        return result, [(s["uuid"], s["why"]) for s in result.json["unread_srs"]]

    result, unread = inventory()
    assert result.code == 1 and result.json["sources"] == []
    assert unread == [(sr, "no VDI records: not scanned since it was attached")]
    text = drill.xedr("B", "inventory")
    assert "xe sr-scan uuid=%s" % sr in text.out
    drill.lab.ok("B", "sr-scan", "uuid=" + sr)
    assert inventory()[1] == [(sr, "a metadata copy xapi has not read")]
    drill.lab.make_visible("B", [sr])
    result, unread = inventory()
    assert result.code == 0 and unread == [] and len(result.json["sources"]) == 1


def test_inventory_finds_nothing_unread_where_plug_scans(drill_factory):
    drill = drill_factory(release="xcp-ng-8.2")
    protect(drill, plugin=False)
    drill.lab.mirror("break")
    assert drill.lab.drtask("B", [drill.lab.replicated_srs()[0][0]]).code == 0
    result = drill.xedr("B", "--json", "inventory")
    assert result.code == 0 and result.json["unread_srs"] == []


def test_a_vm_on_an_sr_here_but_unplugged_is_told_by_the_srs_name(drill):
    """VM_REQUIRES_SR names an SR that is in the pool but unplugged by its local reference
    (xapi_vm_helpers.ml assert_can_be_recovered); xe-dr says which SR and how to fix it."""
    disaster(drill, plugin=False)
    srs = [u for u, _ in drill.lab.replicated_srs()]
    # The last LUN's SR was attached by hand earlier and then unplugged; the run attaches the
    # others only.
    drill.lab.drtask("B", [srs[-1]]).value
    drill.lab.make_visible("B", [srs[-1]])
    for pbd in drill.lab.ok("B", "pbd-list", "sr-uuid=" + srs[-1], "--minimal").values:
        drill.lab.ok("B", "pbd-unplug", "uuid=" + pbd)
    name = drill.lab.ok("B", "sr-param-get", "uuid=" + srs[-1], "param-name=name-label").value
    result = drill.xedr("B", "--json", "--yes", "failover", "--test", "--all",
                        *drill.storage_args("B", srs[:-1]))
    assert result.code == 1, result  # every VM left needs that SR (or was never protected)
    told = [c for c in result.json["checks"] if "%s (%s)" % (srs[-1], name) in c["message"]]
    assert told and all("in this pool but not attached" in c["message"] and
                        "pbd-plug" in c["fix"] for c in told)
    # Plain xe cannot tell a vApp's members, so a vApp is refused as a whole: by the assert
    # of its recovery in a run, by its own assert in a dry run, with one verdict.
    apps = sorted(i["name_label"] for i in result.json["items"] if i["kind"] == "appliance")
    assert apps and sorted(i["name_label"] for i in result.json["items"] if i["kind"] ==
                           "appliance" and "FC DR 3" in (i["excluded"] or "")) == apps
    assert result.json["failures"] == []
    dry = drill.xedr("B", "--json", "--no-plugin", "failover", "--test", "--all", "--dry-run")
    assert dry.code == result.code, dry  # the dry run ends as the run would
    # (the run defers the VMs of a pool whose vApp failed: they may be its members)
    planned = set(c["message"] for c in dry.json["checks"] if c["name"].startswith("storage:"))
    assert set(c["message"] for c in result.json["checks"]
               if c["name"].startswith("storage:")) <= planned
    assert len([m for m in planned if m.startswith(("erp ", "webshop "))]) == 2


WRONG = "36001405deadbeefdeadbeefdeadbeef0"


def _with_wrong(args, flag):
    at = args.index(flag) + 1
    return args[:at] + [WRONG] + args[at + 1:]


@pytest.mark.parametrize("transport", ["iscsi", "hba"])
def test_probe_with_a_wrong_scsi_id_names_the_luns_there_are(drill, transport):
    """lvmoiscsi answers a wrong SCSIid with 107 and no LUN list (BaseISCSI.attach), lvmohba
    with an empty SR list (lvutil.scan_srlist): either way one line with the LUNs there are."""
    drill.lab.mirror("break")
    hba = [u for u, t in drill.lab.replicated_srs() if t == "lvmohba"][0]
    if transport == "iscsi":
        args = _with_wrong(drill.storage_args("B", [drill.lab.replicated_srs()[0][0]]),
                           "--scsiid")
    else:
        args = ["--hba", "--scsiid", WRONG]
    result = drill.xedr("B", "probe", *args)
    assert result.code == 64, result
    [line] = result.err.strip().splitlines()
    expected = drill.lab.device_config(hba, "B")[1]["SCSIid"] if transport == "hba" else \
        drill.lab.device_config(drill.lab.replicated_srs()[0][0], "B")[1]["SCSIid"]
    assert WRONG in line and expected in line, line
    assert ("not a LUN the HBAs see" if transport == "hba" else "not a LUN of target") in line


@pytest.mark.parametrize("flag", ["--scsiid", "--hba-scsiid"])
def test_a_failover_with_a_wrong_scsi_id_changes_nothing(drill, flag):
    disaster(drill)
    before = drill.snapshot("B")
    result = drill.xedr("B", "--json", "--yes", "failover", "--all",
                        *_with_wrong(drill.storage_args("B"), flag))
    assert result.code == 64, result
    assert WRONG in result.err and "nothing was changed" in result.err
    assert drill.snapshot("B") == before
    assert drill.xedr("B", "--json", "runs").json["runs"] == []
