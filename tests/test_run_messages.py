"""What a run says when it stops (issue 15): the one error line an operator reads, and what a
dry run can and cannot tell, on the lab through the CLI."""

import json
import os

from tests.test_safety_runs import protect


# -- the error line ---------------------------------------------------------------------------

def test_a_failover_while_the_mirror_replicates_says_why_in_one_whole_line(drill):
    """The LUN copies at B are still the mirror's targets (the lab's "mirror" state): sm
    refuses the volume group with error 47 and says why (xe_dr/lab/sm.py, attach). The
    line names the object, xapi's code and sm's sentence whole, and what to do; the step id
    and the xe command are for -v and the report."""
    protect(drill)
    drill.lab.disaster("A")  # the array was not told: the mirror still replicates A to B
    args = ["--yes", "failover", "--all", "--source", "down"] + drill.storage_args("B")
    result = drill.xedr("B", *args)
    assert result.code == 1, result
    line = result.err.strip().splitlines()[-1]
    sr, scsiid = _first_iscsi(drill)
    assert line.startswith("xe-dr: error: attach SR(s) %s on LUN %s: SR_BACKEND_FAILURE_47: "
                           "The SR is not available [opterr=Logical volume group "
                           "VG_XenStorage-%s is on a write-protected device (%s is a "
                           "replication target)] (the replica is not writable: halt the "
                           "mirror" % (sr, scsiid, sr, scsiid)), line
    assert "drtask-create" not in line and "attach:" not in line and "..." not in line, line
    assert "fix that" not in line

    verbose = drill.xedr("B", "-v", *args)
    debug = [l for l in verbose.err.splitlines() if l.startswith("xe-dr: debug: ")]
    assert "xe-dr: debug: failed step: attach:%s" % scsiid in debug, verbose
    assert any(" drtask-create " in l and "SCSIid=%s" % scsiid in l for l in debug), verbose
    assert verbose.err.strip().splitlines()[-1].startswith("xe-dr: error: attach SR(s) ")

    run = sorted(os.listdir(os.path.join(drill.state_dir, "runs")))[-1]
    with open(os.path.join(drill.state_dir, "runs", run, "report.json")) as report:
        failed = [e for e in json.load(report)["journal"] if e["event"] == "failed"]
    assert failed and "drtask-create" in failed[0]["data"]["error"]  # the report keeps it


def _first_iscsi(drill):
    for sr, _ in drill.lab.replicated_srs():
        sr_type, config = drill.lab.device_config(sr, "B")
        if sr_type == "lvmoiscsi":
            return sr, config["SCSIid"]
    raise AssertionError("the lab has no iSCSI LUN")


# -- what a dry run can tell -----------------------------------------------------------------

def _dry(drill, *args):
    return drill.xedr("B", "--json", "failover", "--test", "--dry-run",
                      *(list(args) + drill.storage_args("B")))


def _from_the_live_source(drill):
    return ["--source", "local", "--source-xe", drill.lab.xe_path("A")]


def test_a_dry_run_before_the_storage_is_attached_says_what_it_could_not_check(drill):
    """At the DR site before the attach, without --source, no xe call can list the VMs: the
    dry run does not say "planned" and exit 0 but names each check it could not run, and
    why, and exits 3 (its own status)."""
    protect(drill)
    drill.lab.mirror("break")
    before = drill.snapshot("B")
    result = _dry(drill, "--vapp", "erpp")
    assert result.code == 3, result
    report = result.json
    assert report["outcome"] == "planned, not all checked"
    skipped = dict((c["name"], c["message"]) for c in report["checks"]
                   if c["verdict"] == "skipped")
    assert "not looked up: --vapp erpp" in skipped["selection"], skipped
    assert "not attach" in skipped["selection"] and "--source" in [
        c for c in report["checks"] if c["name"] == "selection"][0]["fix"]
    assert "not run" in skipped["objects"], skipped
    assert report["commands"]  # the storage steps are still shown
    assert drill.snapshot("B") == before
    text = drill.xedr("B", "failover", "--test", "--dry-run", "--all",
                      *drill.storage_args("B"))
    assert text.code == 3, text
    assert text.out.startswith("Test failover (dry run): planned, not all checked\n")
    assert "precheck skipped  what --all recovers is not known" in text.out


def test_a_dry_run_that_can_look_names_up_refuses_an_unknown_one(drill):
    protect(drill)
    drill.lab.mirror("break")
    live = _dry(drill, "--vapp", "erpp", *_from_the_live_source(drill))
    assert live.code == 64, live
    assert "not found in the recoverable metadata: erpp" in live.err
    drill.lab.failover_task("B")  # the SRs attached: the metadata is here
    attached = drill.xedr("B", "failover", "--test", "--dry-run", "--vapp", "erpp")
    assert attached.code == 64, attached
    assert "erpp" in attached.err.strip().splitlines()[-1]


def test_a_dry_run_ends_as_the_run_would(drill):
    """Names resolved (from the live source here): --all leaves the unprotected VMs out and
    exits 0 as the run does; a named one that would be left out is 2; a blocking verdict
    about the pool is 1, whether the names could be looked up or not."""
    protect(drill)
    drill.lab.mirror("break")
    source = _from_the_live_source(drill)
    every = _dry(drill, "--all", *source)
    assert every.code == 0, every
    assert every.json["outcome"] == "planned"
    left_out = [i["name_label"] for i in every.json["items"] if i.get("excluded")]
    assert left_out, every
    named = _dry(drill, "--vm", left_out[0], "--vm", "mon-01", *source)
    assert named.code == 2, named
    for extra in (source, []):
        blocked = _dry(drill, "--all", "--map-network", "DMZ=nowhere", *extra)
        assert blocked.code == 1, blocked
        assert blocked.json["outcome"] == "blocked"
        assert any(c["verdict"] == "blocking" and c["name"] == "network-map"
                   for c in blocked.json["checks"]), blocked


# -- a SCSI id that is not a LUN of the target -------------------------------------------------

WRONG = "36001405deadbeefdeadbeefdeadbeef0"


def _iscsi_target(drill):
    sr, _ = _first_iscsi(drill)
    return drill.lab.device_config(sr, "B")[1]


def test_probe_checks_a_scsi_id_given_without_the_iqn(drill):
    """Without --iqn, sm answers with the target's IQNs whatever the SCSIid (its discovery
    comes first): the probe looks the id up in each IQN's LUNs, so that a wrong one is
    named (exit 64) and a right one says which IQN to add."""
    drill.lab.mirror("break")
    config = _iscsi_target(drill)
    wrong = drill.xedr("B", "probe", "--target", config["target"], "--scsiid", WRONG)
    assert wrong.code == 64, wrong
    line = wrong.err.strip()
    assert "SCSI id %s is not a LUN of target %s" % (WRONG, config["target"]) in line, line
    assert config["SCSIid"] in line and len(line.splitlines()) == 1
    right = drill.xedr("B", "probe", "--target", config["target"], "--scsiid",
                       config["SCSIid"])
    assert right.code == 0, right
    assert "next: add --iqn %s (its LUNs include SCSI id %s)" % (
        config["targetIQN"], config["SCSIid"]) in right.out
    empty = drill.xedr("B", "probe", "--target", config["target"], "--iqn",
                       config["targetIQN"], "--scsiid", "")
    assert empty.code == 64 and "--scsiid: must not be empty" in empty.err, empty


def test_a_failover_without_the_iqn_names_the_iqns_in_its_line(drill):
    """No "(one of the LUNs above)" with nothing above: the line names what there is."""
    drill.lab.mirror("break")
    config = _iscsi_target(drill)
    result = drill.xedr("B", "failover", "--test", "--all", "--target", config["target"],
                        "--scsiid", config["SCSIid"])
    assert result.code == 64, result
    line = result.err.strip().splitlines()[-1]
    assert "add --iqn IQN (the target has: %s)" % config["targetIQN"] in line, line
    assert "above" not in line


# -- exit 0 means all is well ------------------------------------------------------------------

def test_a_real_failover_of_all_on_the_default_lab_exits_0(drill):
    """The default lab keeps three VMs on storage DR never protected (local, NFS, an
    unmirrored LUN): --all leaves them out and lists them, which is no failure (exit 0), so
    that exit 2 keeps meaning that something went wrong."""
    protect(drill)  # replication and the host plugin, as the README's tour
    drill.lab.disaster("A")
    drill.lab.mirror("break")
    result = drill.xedr("B", "--yes", "failover", "--all", "--source", "down",
                        *drill.storage_args("B"))
    assert result.code == 0, result
    assert result.out.startswith("Failover (run ") and ": succeeded\n" in result.out
    left_out = sorted(line.split()[1] for line in result.out.splitlines()
                      if line.startswith("  vm ") and " excluded: " in line)
    assert left_out == ["db-01", "dns-01", "file-01"], result.out
