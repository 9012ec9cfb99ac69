"""A destructive run checks everything it can before its first change and asks before it
changes production (the safety issue's findings 4 to 7, and the verdicts rule), through the
CLI as an administrator runs it, on the lab.
"""

import json
import os

from xe_dr.xe.records import parse_records


def protect(drill):
    names = [uuid for uuid, _ in drill.lab.replicated_srs()]
    drill.ok("A", "replication", "enable", *names)
    drill.ok("B", "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")


def disaster(drill):
    protect(drill)
    drill.lab.disaster("A")
    drill.lab.mirror("break")


def vm_states(drill, site):
    out = drill.lab.ok(site, "vm-list", "is-control-domain=false",
                       "params=name-label,power-state").out
    return dict((r["name-label"], r["power-state"]) for r in parse_records(out))


def runs(drill, site):
    return drill.xedr(site, "--json", "runs").json["runs"]


# -- 6 and 7: the two confirmations, and split brain -----------------------------------------

def test_a_real_failover_without_a_terminal_needs_yes_and_changes_nothing(drill):
    disaster(drill)
    before = drill.snapshot("B")
    result = drill.xedr("B", "failover", "--all", *drill.storage_args("B"))
    assert result.code == 64, result
    assert "--yes" in result.err and len(result.err.strip().splitlines()) == 1
    assert drill.snapshot("B") == before
    assert runs(drill, "B") == []
    no_input = drill.xedr("B", "--no-input", "failover", "--all", *drill.storage_args("B"),
                          tty=True)
    assert no_input.code == 64, no_input
    assert drill.snapshot("B") == before


def test_a_real_failover_asks_before_the_storage_and_before_the_first_recovery(drill):
    disaster(drill)
    result = drill.xedr("B", "failover", "--all", *drill.storage_args("B"),
                        stdin="yes\nyes\n", tty=True)
    assert result.code == 0, result
    first, second = result.err.split("Go on? [yes/no]")[:2]
    assert "Attach here the SRs of LUN(s)" in first
    assert "source not checked: make sure the source site is fenced" in first
    assert "Recover into pool" in second and "vApp webshop" in second
    # The split-brain warning is the last line, and in the report.
    assert "source not checked" in result.out.strip().splitlines()[-1]
    report = drill.xedr("B", "--json", "report", runs(drill, "B")[-1]["id"])
    assert "source not checked" in report.out


def test_declining_the_second_confirmation_recovers_nothing(drill):
    disaster(drill)
    vms_before = vm_states(drill, "B")
    result = drill.xedr("B", "failover", "--all", *drill.storage_args("B"),
                        stdin="yes\nno\n", tty=True)
    assert result.code == 1, result
    assert "not confirmed: nothing was recovered" in result.err
    assert vm_states(drill, "B") == vms_before
    assert runs(drill, "B")[-1]["status"] == "not confirmed"


def test_declining_the_first_confirmation_changes_nothing(drill):
    disaster(drill)
    before = drill.snapshot("B")
    result = drill.xedr("B", "failover", "--all", *drill.storage_args("B"),
                        stdin="no\n", tty=True)
    assert result.code == 1, result
    assert "not confirmed: nothing was changed" in result.err
    assert drill.snapshot("B") == before


def test_source_down_acknowledges_the_split_brain_risk(drill):
    disaster(drill)
    result = drill.xedr("B", "--json", "--yes", "failover", "--all", "--source", "down",
                        *drill.storage_args("B"))
    assert result.code == 0, result
    assert result.json["source"] == "declared down"
    assert not any("fenced" in w for w in result.json["warnings"])
    unchecked = drill.xedr("B", "--json", "--yes", "failover", "--dry-run", "--all",
                           *drill.storage_args("B"))
    assert unchecked.json["source"] == "not checked"


def test_an_unreachable_source_is_taken_for_down_and_said_so(drill):
    disaster(drill)
    result = drill.xedr("B", "--json", "--yes", "failover", "--all", "--source", "local",
                        "--source-xe", "/nonexistent/xe", *drill.storage_args("B"))
    assert result.code == 0, result
    assert result.json["source"] == "unreachable"
    assert any("source unreachable" in w and "fenced" in w for w in result.json["warnings"])


def test_a_source_that_answers_with_an_error_is_up_and_the_run_stops(drill, tmp_path):
    """A source that refuses the login answers: it is up, perhaps still running the VMs.
    Taking it for down (any error counted as unreachable) went on under the split-brain
    warning; the run stops before any change instead, saying why."""
    disaster(drill)
    refusing = tmp_path / "xe-refusing"
    refusing.write_text("#!/bin/sh\necho 'Authentication failed' >&2\nexit 1\n")
    refusing.chmod(0o755)
    before = vm_states(drill, "B")
    result = drill.xedr("B", "--json", "--yes", "failover", "--all", "--source", "local",
                        "--source-xe", str(refusing), *drill.storage_args("B"))
    assert result.code == 77, result
    assert "xe could not log in" in result.err, result.err
    assert vm_states(drill, "B") == before and not runs(drill, "B")


def test_a_source_lost_during_the_run_is_taken_for_down_and_said_so(drill):
    """Issue 14, finding 7: --source reached at first, then dark (the rolling disaster):
    without the plugin the vApp membership lookup there met the lost connection and aborted
    the failover (exit 69). The source is taken for down from then on, with the split-brain
    warning, and the run goes on."""
    protect(drill)
    drill.lab.mirror("break")
    drill.lab.fault(site="A", nth=2, dark=True)  # the first call is the check of the source
    result = drill.xedr("B", "--json", "--yes", "--no-plugin", "failover", "--all", "--source",
                        "local", "--source-xe", drill.lab.xe_path("A"),
                        *drill.storage_args("B"))
    assert drill.lab.lab.reload().get("dark") == ["A"]  # it went dark mid-run
    assert result.code in (0, 2), result
    assert result.json["source"] == "unreachable"
    assert any("source unreachable" in w and "fenced" in w for w in result.json["warnings"])
    assert result.json["outcome"] != "failed" and not result.json["failures"], result
    assert any(i.get("recovered_vms") for i in result.json["items"]), result


def test_a_test_failover_does_not_ask(drill):
    disaster(drill)
    result = drill.xedr("B", "failover", "--test", "--all", *drill.storage_args("B"),
                        tty=True)
    assert result.code == 0, result
    assert "[yes/no]" not in result.err


# -- the verdicts ----------------------------------------------------------------------------

def test_unprotected_vms_left_out_of_all_end_0_and_a_named_one_ends_2(drill):
    disaster(drill)
    result = drill.xedr("B", "--json", "failover", "--test", "--all", *drill.storage_args("B"))
    assert result.code == 0, result
    left_out = dict((i["name_label"], i["excluded"]) for i in result.json["items"]
                    if i.get("excluded") and i["excluded"] != "recovered with its vApp")
    assert left_out and all("local storage" in reason or "not protected" in reason
                            for reason in left_out.values()), left_out
    assert result.json["outcome"] == "succeeded"
    assert drill.xedr("B", "cleanup", result.json["run"]).code == 0

    name = sorted(left_out)[0]
    named = drill.xedr("B", "--json", "failover", "--test", "--vm", name, "--vm", "mon-01",
                       *drill.storage_args("B"))
    assert named.code == 2, named
    assert named.json["outcome"] == "partly failed"


# -- 4 and 5: failback checks everything before it shuts anything down ------------------------

def failed_over(drill):
    disaster(drill)
    done = drill.xedr("B", "--json", "--yes", "failover", "--all", "--source", "down",
                      *drill.storage_args("B"))
    assert done.code == 0, done
    drill.ok("B", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    drill.lab.mirror("reverse")
    drill.lab.restore("A")
    running = sorted(n for n, s in vm_states(drill, "B").items() if s == "running")
    assert running
    return running


def failback(drill, *args, **kw):
    return drill.xedr("A", "--yes", "failback", "--all", "--source", "local", "--source-xe",
                      drill.lab.xe_path("B"), *args, **kw)


def test_failback_with_a_mistyped_scsi_id_shuts_nothing_down(drill):
    running = failed_over(drill)
    storage = drill.storage_args("A")
    wrong = storage[:storage.index("--scsiid") + 1] + ["36001405deadbeefdeadbeefdeadbeef0"] + \
        storage[storage.index("--scsiid") + 2:]
    result = failback(drill, *wrong)
    assert result.code == 64, result
    assert "36001405deadbeefdeadbeefdeadbeef0 is not a LUN of" in result.err
    assert sorted(n for n, s in vm_states(drill, "B").items() if s == "running") == running
    assert [r for r in runs(drill, "A") if r["kind"] == "failback"] == []


def test_failback_without_storage_options_shuts_nothing_down(drill):
    running = failed_over(drill)
    result = failback(drill)
    assert result.code == 64, result
    assert "neither attached here nor on a LUN given" in result.err
    assert sorted(n for n, s in vm_states(drill, "B").items() if s == "running") == running


def test_failback_with_an_unknown_vm_name_shuts_nothing_down(drill):
    running = failed_over(drill)
    result = drill.xedr("A", "--yes", "failback", "--vm", "no-such-vm", "--source", "local",
                        "--source-xe", drill.lab.xe_path("B"), *drill.storage_args("A"))
    assert result.code == 64 and "no-such-vm" in result.err, result
    assert sorted(n for n, s in vm_states(drill, "B").items() if s == "running") == running


def test_failback_stops_for_the_array_with_75_and_resumes(drill):
    failed_over(drill)
    first = failback(drill, *drill.storage_args("A"))
    assert first.code == 75, first
    run_id = [r for r in runs(drill, "A") if r["kind"] == "failback"][-1]["id"]
    assert first.err.strip().splitlines()[-1] == (
        "xe-dr: error: the VMs at the DR site are shut down; have the array make this site's "
        "LUNs writable (halt or reverse the mirror), then: xe-dr failback --resume %s" % run_id)
    listed = [r for r in runs(drill, "A") if r["id"] == run_id][0]
    assert listed["status"] == "waiting for the array"
    report = json.loads(drill.xedr("A", "--json", "report", run_id).out)
    assert report["run"]["status"] == "waiting for the array", report["run"]

    drill.lab.mirror("break")
    # The storage options may be given again to a resume (the same, or corrected).
    resumed = drill.xedr("A", "--yes", "failback", "--resume", run_id,
                         *drill.storage_args("A"))
    assert resumed.code == 0, resumed
    assert [r for r in runs(drill, "A") if r["id"] == run_id][0]["status"] == "succeeded"


def test_a_failback_resumed_after_plugging_its_srs_still_reads_their_metadata(drill):
    """The SRs a failback plugged before it stopped are the run's when it resumes: plugged
    again so that xapi reads their metadata. Before, the resume took them for SRs attached
    already, plugged nothing again, found no metadata and recovered nothing (exit 1). The
    fault campaign found it: xe-dr killed once its first sr-scan at A had made its change."""
    running = failed_over(drill)
    first = failback(drill, *drill.storage_args("A"))
    assert first.code == 75, first
    run_id = [r for r in runs(drill, "A") if r["kind"] == "failback"][-1]["id"]
    drill.lab.mirror("break")
    drill.lab.fault(site="A", command="sr-scan", error=[
        "SR_BACKEND_FAILURE_40", "", "The SR scan failed  [opterr=lab fault]", ""])
    stopped = drill.xedr("A", "--yes", "failback", "--resume", run_id)
    assert stopped.code == 1 and "SR_BACKEND_FAILURE_40" in stopped.err, stopped

    resumed = drill.xedr("A", "--yes", "--json", "failback", "--resume", run_id)
    assert resumed.code == 0, resumed
    at_b = vm_states(drill, "B")
    failed_back = [n for n in running if at_b[n] == "halted"]
    assert failed_back and sorted(
        n for n, s in vm_states(drill, "A").items() if s == "running") == failed_back
    plugged = [sr for e in resumed.json["storage"] for sr in e["plugged"]]
    assert sorted(plugged) == sorted(sr for sr, _ in drill.lab.replicated_srs())


def test_a_resume_refuses_to_drop_a_lun_it_attached(drill, tmp_path):
    disaster(drill)
    first = drill.xedr("B", "--json", "--yes", "failover", "--all", "--source", "down",
                       "--power", "none", *drill.storage_args("B"))
    assert first.code == 0, first
    only_hba = [a for a in drill.storage_args("B")]
    only_hba = only_hba[only_hba.index("--hba-scsiid"):]
    resumed = drill.xedr("B", "--yes", "failover", "--resume", first.json["run"], *only_hba)
    assert resumed.code == 64 and "attached by this run already" in resumed.err, resumed
    assert os.path.isdir(os.path.join(drill.state_dir, "runs", first.json["run"]))


def test_a_lun_without_an_sr_is_an_error_naming_it(drill):
    """lvmohba answers an unusable SCSI id with an empty SR list (reference §0.4): a LUN that
    holds no SR must never be 'attached' silently as nothing."""
    disaster(drill)
    lab_luns = json.loads(drill.lab.cli("show", "--json"))["luns"]
    spare = lab_luns["lun-b-spare"]["copies"]["B"]
    storage = drill.storage_args("B")
    only_spare = storage[:storage.index("--scsiid")] + ["--scsiid", spare]
    result = drill.xedr("B", "failover", "--test", "--all", *only_spare)
    assert result.code == 1, result
    assert "no SR on LUN %s" % spare in result.err


def test_a_control_character_in_a_source_sr_name_does_not_block_its_lun(drill):
    """sm prints the probe's XML with minidom, control characters raw: xe-dr still reads it,
    lists the SR and attaches it (the name cannot be changed at the DR site any more)."""
    sr, _ = drill.lab.replicated_srs()[0]
    drill.lab.ok("A", "sr-param-set", "uuid=" + sr, "name-label=DR\x07\x1b[31m LUN")
    disaster(drill)
    probe = drill.xedr("B", "--json", "probe", *drill.storage_args("B"))
    assert probe.code == 0, probe
    names = [i["name_label"] for p in probe.json["probes"] if p["stage"] == "srs"
             for i in p["items"]]
    assert "DR\x07\x1b[31m LUN" in names
    text = drill.xedr("B", "probe", *drill.storage_args("B"))
    assert "\x07" not in text.out and "\x1b" not in text.out  # shown escaped
    # xapi's own drtask-create parses that XML too, and refuses it: said plainly, one line.
    test = drill.xedr("B", "failover", "--test", "--all", *drill.storage_args("B"))
    assert test.code == 1, test
    line = test.err.strip().splitlines()[-1]
    assert "xapi cannot read the probe of LUN" in line and "control character" in line, line
    assert "\x07" not in line and "\x1b" not in line


def running_at(drill, site):
    return sorted(n for n, s in vm_states(drill, site).items() if s == "running")


def test_failback_excluding_a_vapp_never_shuts_its_vms_down(drill):
    """--exclude of a vApp excludes its members too; here they share the SRs to give back,
    so the failback is refused before anything is shut down."""
    running = failed_over(drill)
    webshop = drill.lab.uuid("B", "appliance", **{"name-label": "webshop"})
    in_webshop = drill.lab.ok("B", "vm-list", "appliance=" + webshop, "params=name-label",
                              "--minimal").values
    assert in_webshop and set(in_webshop) <= set(running)
    result = failback(drill, "--exclude", "webshop", *drill.storage_args("A"))
    assert result.code == 64, result
    assert "still used by running VMs that are not failed back" in result.err
    assert running_at(drill, "B") == running
    assert [r for r in runs(drill, "A") if r["kind"] == "failback"] == []


def test_failback_with_the_luns_of_only_some_srs_shuts_nothing_down(drill):
    running = failed_over(drill)
    storage = drill.storage_args("A")
    only_fc = storage[storage.index("--hba-scsiid"):]
    result = failback(drill, *only_fc)
    assert result.code == 64, result
    assert "neither attached here nor on a LUN given" in result.err
    assert running_at(drill, "B") == running


def test_failback_with_an_iscsi_lun_given_as_hba_shuts_nothing_down(drill):
    running = failed_over(drill)
    storage = drill.storage_args("A")
    iscsi = storage[storage.index("--scsiid") + 1]
    result = failback(drill, "--hba-scsiid", iscsi)
    assert result.code == 64, result
    assert running_at(drill, "B") == running


def test_failback_needs_its_dr_site(drill):
    running = failed_over(drill)
    unreachable = drill.xedr("A", "--yes", "failback", "--all", "--source", "local",
                             "--source-xe", "/nonexistent/xe", *drill.storage_args("A"))
    assert unreachable.code == 69, unreachable
    assert "needs the DR site" in unreachable.err
    missing = drill.xedr("A", "--yes", "failback", "--all", *drill.storage_args("A"))
    assert missing.code == 64 and "--source" in missing.err, missing
    assert running_at(drill, "B") == running
    assert [r for r in runs(drill, "A") if r["kind"] == "failback"] == []


def test_a_resume_is_of_the_same_kind(drill):
    disaster(drill)
    real = drill.xedr("B", "--json", "failover", "--all", "--source", "down",
                      *drill.storage_args("B"), stdin="yes\nno\n", tty=True)
    assert real.code == 1, real
    run_id = runs(drill, "B")[-1]["id"]
    as_test = drill.xedr("B", "--yes", "failover", "--test", "--resume", run_id)
    assert as_test.code == 64 and "is a failover" in as_test.err, as_test
    as_failback = drill.xedr("A", "--yes", "--state-dir", drill.state_dir, "failback",
                             "--resume", run_id)
    assert as_failback.code == 64, as_failback
    assert runs(drill, "B")[-1]["status"] == "not confirmed"
