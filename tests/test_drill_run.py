"""``xe-dr drill`` end to end on the lab (issue 17): the array's copies attached instead of
the replicas while the mirror keeps replicating, the VMs booted in isolation and verified,
the verdict written on the DR pool, then everything undone and the copies released, site B
and the array as they were."""

import json
import re

import pytest

GIB = 2 ** 30
STARTS = ("vm-start", "appliance-start", "vm-resume", "vm-unpause", "vm-resume-on")


@pytest.fixture
def site(drill):
    """Site A protected (replication on every mirrored SR, the mirror running); the plugin at
    B, so that --all leaves out the VMs on storage that is not replicated."""
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    drill.ok("B", "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")
    return drill


def adapter(drill):
    return drill.lab.lab.path("bin", "storage-adapter")


def mirrors(drill):
    return dict((lun, (entry.get("mirror") or {}).get("state"))
                for lun, entry in drill.lab.array()["luns"].items())


def adapter_calls(drill):
    with open(drill.lab.lab.path("adapter.jsonl")) as handle:
        return [json.loads(line)["verb"] for line in handle]


def without_last_drill(snapshot):
    for pool in snapshot["pool"].values():
        pool["other_config"] = dict((k, v) for k, v in pool["other_config"].items()
                                    if k != "xe-dr-last-drill")
    return snapshot


def test_a_drill_verifies_every_protected_vm_and_leaves_site_b_and_the_mirror_as_before(site):
    site.xedr("A", "status")  # the heartbeat, as cron writes it at the source (2 VMs at risk)
    before, mirrored = site.snapshot("B"), mirrors(site)
    result = site.xedr("B", "--json", "drill", "--adapter", adapter(site), "--all",
                       *site.storage_args("B"))
    assert result.code == 0, result
    report = result.json
    assert report["mode"] == "drill" and report["verdict"] == "verified"
    assert report["vms"] and all(vm["verified"] for vm in report["vms"]), report["vms"]
    assert {vm["reason"] for vm in report["vms"]} == {
        "running, its guest agent reported since this start"}
    assert report["cleanup"]["failures"] == [] and report["cleanup"]["released"]
    calls = adapter_calls(site)
    assert calls.count("copy") == 1 and calls.count("release") == 1
    assert calls.index("copy") < calls.index("release")
    assert mirrors(site) == mirrored  # replication never stopped
    # At every step no drill VM ran on a network with a PIF: every VIF on one was destroyed
    # before the first start, and none was made or moved after (the call log, in order).
    at_b = [c for c in site.lab.call_log() if c["site"] == "B"]
    starts = [i for i, c in enumerate(at_b) if c["command"] in STARTS]
    isolating = [i for i, c in enumerate(at_b) if c["command"] == "vif-destroy"]
    assert starts and isolating and max(isolating) < min(starts)
    assert not [c for c in at_b if c["command"] in ("vif-create", "vif-move", "vif-plug")]
    pool = site.lab.ok("B", "pool-list", "--minimal").value
    mark = site.lab.ok("B", "pool-param-get", "uuid=" + pool, "param-name=other-config",
                       "param-key=xe-dr-last-drill").value.split()
    assert mark[1:] == ["verified", report["run"]]
    assert without_last_drill(site.snapshot("B")) == without_last_drill(before)
    # the evidence, in every format
    text = site.xedr("B", "report", report["run"], "--format", "text")
    assert text.code == 0 and "Verification: verified" in text.out, text
    # the recovery point: the heartbeat 'xe-dr status' wrote at A (from cron) in the copy
    assert re.search(r"\nRecovery point +at most \d+ s before the run.s start: the copy of "
                     r"pool Site A holds the heartbeat of ", text.out), text.out
    for vm in report["vms"]:
        assert "verified     %-24s running, its guest agent reported" % vm["name_label"] in text.out
    assert "the array's copies: 3, released by cleanup run %s" % report["cleanup"]["run"] \
        in text.out
    # the exact adapter calls, among the commands: the copy here, the release in the cleanup's
    assert "\n  %s copy --run %s --lun " % (adapter(site), report["run"]) in text.out, text.out
    released = site.xedr("B", "report", report["cleanup"]["run"], "--format", "text")
    assert "\n  %s release --run %s\n" % (adapter(site), report["run"]) in released.out
    for fmt, heading in (("markdown", "## Verification: verified"),
                         ("html", "<h2>Verification: verified</h2>")):
        rendered = site.xedr("B", "report", report["run"], "--format", fmt)
        if rendered.code == 78 and "jinja2" in rendered.err:
            continue  # the standard library alone (dom0's Python): the text report only
        assert rendered.code == 0 and heading in rendered.out, rendered
    # status at B holds the site to its drills
    status = site.xedr("B", "status", "--format", "nagios", "--warning", "drill-age=1d")
    assert "OK drill-age: last drill verified " in status.out, status


def tag(drill, name, tag_name):
    drill.lab.ok("A", "vm-param-add", "uuid=" + drill.lab.vm_uuid(name), "param-name=tags",
                 "param-key=" + tag_name)


def test_guests_that_never_report_or_fail_their_check_are_named_and_the_drill_exits_2(site):
    site.lab.cli("guest", "A", "web-01", "--tools", "no")
    tag(site, "app-01", "xo-backup-health-check-xenstore")
    site.lab.cli("guest", "A", "app-01", "--health-check", "failure",
                 "--health-check-error", "database did not answer")
    # a stale success inherited from production: the copy carries it, it must not count
    tag(site, "mail-01", "xo-backup-health-check-xenstore")
    site.lab.ok("A", "vm-param-set", "uuid=" + site.lab.vm_uuid("mail-01"),
                "xenstore-data:vm-data/xo-backup-health-check=success")
    site.lab.cli("guest", "A", "mail-01", "--health-check", "hang")
    result = site.xedr("B", "--json", "drill", "--adapter", adapter(site), "--all",
                       "--verify-timeout", "1", *site.storage_args("B"))
    assert result.code == 2, result
    report = result.json
    assert report["verdict"] == "not-verified" and report["outcome"] == "partly failed"
    by_name = dict((vm["name_label"], vm) for vm in report["vms"])
    assert not by_name["web-01"]["verified"] and not by_name["web-01"]["guest_metrics"]
    assert not by_name["app-01"]["verified"]
    assert by_name["app-01"]["health_check"] == "failure"
    assert "database did not answer" in by_name["app-01"]["reason"]
    assert not by_name["mail-01"]["verified"]
    assert by_name["mail-01"]["health_check"] == "timeout"
    others = [vm for name, vm in by_name.items() if name not in ("web-01", "app-01", "mail-01")]
    assert others and all(vm["verified"] for vm in others)
    runs = site.xedr("B", "--json", "runs").json["runs"]
    assert [r["verdict"] for r in runs if r["kind"] == "drill"] == ["not-verified"]
    assert report["cleanup"]["failures"] == [] and report["cleanup"]["released"]


def generations_at_b(drill, run):
    """{replica LUN: ({metadata VDI: generation} on the copy made for ``run``, the same on the
    replica)}: which of A's databases each holds at B."""
    from xe_dr.lab import copies, replication
    lab = drill.lab.lab
    return dict((entry["drill"]["replica"], (
        replication.metadata_generations(lab, copy, "B"),
        replication.metadata_generations(lab, entry["drill"]["replica"], "B")))
        for copy, entry in copies.run_copies(drill.lab.array(), run))


def test_a_kept_drill_runs_isolated_blocks_a_failover_until_its_cleanup(site):
    result = site.xedr("B", "--json", "drill", "--adapter", adapter(site), "--vapp", "erp",
                       "--keep", *site.storage_args("B"))
    assert result.code == 0, result
    run = result.json["run"]
    # no running drill VM has a VIF on a network with a PIF (none is tagged isolated here)
    networks = dict((n, site.lab.ok("B", "network-param-get", "uuid=" + n,
                                    "param-name=PIF-uuids").value)
                    for n in site.lab.ok("B", "network-list", "--minimal").values)
    running = site.lab.ok("B", "vm-list", "power-state=running", "is-control-domain=false",
                          "other-config:xe-dr-run=" + run, "--minimal").values
    assert running
    for vm in running:
        for network in site.lab.ok("B", "vif-list", "vm-uuid=" + vm, "params=network-uuid",
                                   "--minimal").values:
            assert not networks[network], (vm, network)
    refused = site.xedr("B", "failover", "--vapp", "erp", "--yes", *site.storage_args("B"))
    assert refused.code == 64 and "attached by drill %s" % run in refused.err, refused
    # the mirror goes on replicating beside the drill: A's next write reaches the replicas at
    # B (their generation of A's database moves on), not the copies the drill runs on
    taken = generations_at_b(site, run)
    assert sorted(taken) == ["lun1", "lun2", "lun3"], taken
    for copy, replicated in taken.values():  # A wrote nothing since the copies were taken
        assert copy and copy == replicated, taken
    site.lab.ok("A", "vm-param-set", "uuid=" + site.lab.vm_uuid("web-01"),
                "name-description=changed during the drill")
    now = site.lab.db("A").generation
    assert now > max(g for copy, _ in taken.values() for g in copy.values())
    after = generations_at_b(site, run)
    for replica, (copy, _) in taken.items():
        assert after[replica] == (copy, dict((vdi, now) for vdi in copy)), (replica, after)
    # its deadline (a day for a kept drill) is on the SRs it attached: status reads it there
    deadline = result.json["deadline"]
    srs = site.lab.ok("B", "sr-list", "other-config:xe-dr-run=" + run, "--minimal").values
    assert srs and deadline.endswith("Z")
    for sr in srs:
        assert site.lab.ok("B", "sr-param-get", "uuid=" + sr, "param-name=other-config",
                           "param-key=xe-dr-drill-deadline").value == deadline
    status = site.xedr("B", "status", "--format", "nagios")
    assert status.code == 2, status
    assert "CRITICAL drill-copy: drill %s (due to be over by %s) left" % (run, deadline) \
        in status.out, status
    # the machine that ran it is gone and the day has passed: the pool says it is overdue
    for sr in srs:
        site.lab.ok("B", "sr-param-set", "uuid=" + sr,
                    "other-config:xe-dr-drill-deadline=2026-01-01T00:00:00Z")
    overdue = site.xedr("B", "--json", "status")
    assert overdue.json["drill_deadlines"] == {run: {"deadline": "2026-01-01T00:00:00Z",
                                                     "overdue": True}}
    assert "drill %s (overdue since 2026-01-01T00:00:00Z: its deadline passed)" % run in \
        " ".join(overdue.json["problems"])
    cleaned = site.xedr("B", "--json", "cleanup", run)
    assert cleaned.code == 0, cleaned
    assert cleaned.json["released"]
    assert adapter_calls(site).count("release") == 1
    after = site.xedr("B", "status", "--format", "nagios")
    assert "OK drill-copy" in after.out, after


def test_a_network_declared_isolated_keeps_the_drill_vms_vifs(site):
    isolated = site.lab.uuid("B", "network", **{"name-label": "VM Network"})
    site.lab.ok("B", "network-param-add", "uuid=" + isolated, "param-name=tags",
                "param-key=xe-dr-isolated")
    result = site.xedr("B", "--json", "drill", "--adapter", adapter(site), "--vapp", "erp",
                       "--keep", *site.storage_args("B"))
    assert result.code == 0, result
    run = result.json["run"]
    running = site.lab.ok("B", "vm-list", "power-state=running", "is-control-domain=false",
                          "other-config:xe-dr-run=" + run, "--minimal").values
    on = [site.lab.ok("B", "vif-list", "vm-uuid=" + vm, "params=network-uuid",
                      "--minimal").values for vm in running]
    assert running and all(networks == [isolated] for networks in on), on
    assert site.xedr("B", "cleanup", run).code == 0


def test_the_watchdog_ends_a_drill_held_up_past_its_deadline_and_undoes_it(site):
    """The array takes 8 s to copy; the drill has 4: no step begins after its deadline, the
    drill ends not verified (exit 2), its verdict is on the pool and its copies released."""
    before = site.snapshot("B")
    site.lab.fault(site="array", command="adapter-copy", after=8)
    result = site.xedr("B", "--json", "drill", "--adapter", adapter(site), "--vapp", "erp",
                       "--deadline", "4", *site.storage_args("B"))
    assert result.code == 2, result
    report = result.json
    assert report["verdict"] == "not-verified" and report["vms"] == []
    assert report["outcome"] == "partly failed"
    fired = report["failures"][-1]
    assert fired.startswith("the deadline passed (") and " before step attach:" in fired, fired
    assert report["cleanup"]["failures"] == [] and report["cleanup"]["released"]
    assert adapter_calls(site).count("release") == 1
    pool = site.lab.ok("B", "pool-list", "--minimal").value
    mark = site.lab.ok("B", "pool-param-get", "uuid=" + pool, "param-name=other-config",
                       "param-key=xe-dr-last-drill").value.split()
    assert mark[1:] == ["not-verified", report["run"]]
    assert without_last_drill(site.snapshot("B")) == without_last_drill(before)


def host_uuid(drill, name):
    return drill.lab.uuid("B", "host", **{"name-label": name})


def test_vms_pinned_together_start_on_the_one_host_with_room_or_the_drill_stops_first(site):
    """On a network without a PIF xapi runs every VM on one host. cache-01 is on DMZ, which B
    lacks: the drill creates it there, internal; mon-01 and queue-01 join it at A. B's hosts
    get 16 GiB, 9.4 GiB free each: each VM fits on either alone, the three together (11 GiB)
    on neither. Once b-backup is shut down xcp-b2 has 11.5 GiB free and holds them; xcp-b1,
    the master (where xapi would start the first of them), still does not."""
    group = ("cache-01", "mon-01", "queue-01")  # standalone VMs of 1, 2 and 8 GiB
    dmz = site.lab.uuid("A", "network", **{"name-label": "DMZ"})
    for name in group[1:]:
        site.lab.ok("A", "vif-create", "vm-uuid=" + site.lab.vm_uuid(name),
                    "network-uuid=" + dmz, "device=1")
    db = site.lab.db("B")
    for name in ("xcp-b1", "xcp-b2"):  # the memory the hosts have, and so what they report free
        host = db.get("host", db.by_uuid("host", host_uuid(site, name)))
        site.lab.poke("B", "host", host["uuid"], memory_total=16 * GIB,
                      memory_free=host["memory_free"] - (host["memory_total"] - 16 * GIB))
    before, mirrored = site.snapshot("B"), mirrors(site)
    selection = [arg for name in group for arg in ("--vm", name)]
    stopped = site.xedr("B", "drill", "--adapter", adapter(site), *selection,
                        *site.storage_args("B"))
    assert stopped.code == 1, stopped
    [run] = [r["id"] for r in site.xedr("B", "--json", "runs").json["runs"]
             if r["kind"] == "drill"]
    error = stopped.err.splitlines()[-1]
    assert error == (
        "xe-dr: error: the drill VMs cache-01, mon-01, queue-01 share networks without a PIF, "
        "so xapi starts them on one host, and no host has the 11.0 GiB they need free (free "
        "memory on a DR host, or drill fewer VMs; run {run} stopped after changing the pool "
        "(SR(s) {srs} attached; 3 vApp(s) or VM(s) recovered): undo it with 'xe-dr cleanup "
        "{run}', fix the cause and resume with 'xe-dr drill --resume {run}', or take it over "
        "in a new run with --adopt {run})").format(run=run, srs=", ".join(sorted(
            u for u, _ in site.lab.replicated_srs()))), error
    # recovered, and not started: no start was even tried
    assert site.lab.ok("B", "vm-list", "other-config:xe-dr-run=" + run, "params=power-state",
                       "--minimal").values == ["halted"] * 3
    assert not [c for c in site.lab.call_log() if c["site"] == "B" and
                c["command"] in ("vm-start", "appliance-start")]
    cleaned = site.xedr("B", "--json", "cleanup", run)
    assert cleaned.code == 0 and cleaned.json["released"], cleaned
    assert adapter_calls(site).count("release") == 1
    assert not [lun for lun, entry in site.lab.array()["luns"].items() if entry.get("drill")]
    assert mirrors(site) == mirrored
    assert site.snapshot("B") == before
    # memory freed on xcp-b2: the three start there
    site.lab.ok("B", "vm-shutdown", "uuid=" + site.lab.vm_uuid("b-backup", "B"))
    kept = site.xedr("B", "--json", "drill", "--adapter", adapter(site), "--keep", *selection,
                     *site.storage_args("B"))
    assert kept.code == 0 and kept.json["verdict"] == "verified", kept
    assert site.lab.ok("B", "vm-list", "other-config:xe-dr-run=" + kept.json["run"],
                       "power-state=running", "params=resident-on", "--minimal").values == \
        [host_uuid(site, "xcp-b2")] * 3


def test_a_vapp_member_pinned_with_a_standalone_vm_starts_on_the_host_chosen_for_both(site):
    """web-01 (in erp) joins cache-01 on DMZ, which B lacks (created internal): erp starts by
    appliance-start, which takes no host, so web-01's affinity names the host chosen for the
    two; cache-01 starts there with on=. Both run on one host, the one with the most free."""
    site.lab.ok("A", "vif-create", "vm-uuid=" + site.lab.vm_uuid("web-01"), "device=1",
                "network-uuid=" + site.lab.uuid("A", "network", **{"name-label": "DMZ"}))
    db = site.lab.db("B")
    master, other = db.hosts()
    # The other host has more free: xapi's own choice for web-01 (the master) would differ.
    row = db.get("host", master)
    less = int(row["memory_free"]) - int(db.get("host", other)["memory_free"]) + GIB
    site.lab.poke("B", "host", row["uuid"], memory_total=int(row["memory_total"]) - less,
                  memory_free=int(row["memory_free"]) - less)
    most_free = other
    result = site.xedr("B", "--json", "drill", "--adapter", adapter(site), "--vapp", "erp",
                       "--vm", "cache-01", "--keep", *site.storage_args("B"))
    assert result.code == 0 and result.json["verdict"] == "verified", result
    run = result.json["run"]
    on = dict((name, site.lab.ok("B", "vm-list", "name-label=" + name,
                                 "other-config:xe-dr-run=" + run, "params=resident-on",
                                 "--minimal").value) for name in ("web-01", "cache-01"))
    assert on == {"web-01": db.get("host", most_free)["uuid"],
                  "cache-01": db.get("host", most_free)["uuid"]}, on
    assert site.xedr("B", "cleanup", run).code == 0


def test_a_drill_that_recovers_nothing_is_on_record_as_failed_and_left_for_cleanup(site):
    """Given one LUN of the three erp's disks are on, the vApp is refused by its recovery:
    the drill failed (exit 1); the pool says so, and one line says how to undo it."""
    one_lun = site.storage_args("B", sr_uuids=[site.lab.replicated_srs()[0][0]])
    result = site.xedr("B", "--json", "drill", "--adapter", adapter(site), "--vapp", "erp",
                       *one_lun)
    assert result.code == 1, result
    report = result.json
    assert report["outcome"] == "failed" and report["verdict"] == "failed"
    assert [t for t in report["todo"] if "cleanup" in t] == [
        "the drill is left as it is: undo it with 'xe-dr cleanup %s'" % report["run"]]
    pool = site.lab.ok("B", "pool-list", "--minimal").value
    mark = site.lab.ok("B", "pool-param-get", "uuid=" + pool, "param-name=other-config",
                       "param-key=xe-dr-last-drill").value.split()
    assert mark[1:] == ["failed", report["run"]]
    status = site.xedr("B", "status", "--format", "nagios", "--warning", "drill-age=1d")
    assert "WARNING drill-age: last drill failed " in status.out, status
    assert site.xedr("B", "cleanup", report["run"]).code == 0


def drilled_copies(drill):
    return sorted(lun for lun, entry in drill.lab.array()["luns"].items() if entry.get("drill"))


def test_a_cleanup_that_leaves_an_sr_attached_does_not_release_the_copy_under_it(site):
    """A kept drill's web-01 no longer carries the run's tag (an administrator took it over):
    cleanup leaves it and the SR its disks are on attached, and so the array's copies too (a
    release would destroy the LUN under that SR), saying so."""
    kept = site.xedr("B", "--json", "drill", "--adapter", adapter(site), "--vapp", "erp",
                     "--keep", *site.storage_args("B"))
    assert kept.code == 0, kept
    run = kept.json["run"]
    copies = drilled_copies(site)
    web = site.lab.ok("B", "vm-list", "name-label=web-01", "other-config:xe-dr-run=" + run,
                      "--minimal").value
    site.lab.ok("B", "vm-param-remove", "uuid=" + web, "param-name=other-config",
                "param-key=xe-dr-run")
    cleaned = site.xedr("B", "--json", "cleanup", run)
    assert cleaned.code == 0, cleaned
    report = cleaned.json
    assert report["released"] is None and "release" not in adapter_calls(site)
    assert drilled_copies(site) == copies
    assert [line for line in report["kept"] if "copies" in line] == [
        "the array's copies of drill %s: not released, SR(s) %s are left attached on them; "
        "run 'xe-dr cleanup %s' again once no other VM uses them" % (
            run, ", ".join(sorted(u for u, _ in site.lab.replicated_srs()[:1])), run)]


def test_a_cleanup_from_another_machine_says_it_cannot_release_the_copies(site):
    """Without the drill's journal cleanup does not know the adapter: the copies stay, and
    the report says so and how to release them (not a silent success)."""
    kept = site.xedr("B", "--json", "drill", "--adapter", adapter(site), "--vapp", "erp",
                     "--keep", *site.storage_args("B"))
    assert kept.code == 0, kept
    run = kept.json["run"]
    site.state_dir += "-elsewhere"
    cleaned = site.xedr("B", "--json", "cleanup", run)
    assert cleaned.code == 0 and cleaned.json["released"] is None, cleaned
    line = ("the array's copies of drill %s: not released, its journal, which names the "
            "storage adapter, is not on this machine: run 'ADAPTER release --run %s' with the "
            "drill's adapter" % (run, run))
    assert cleaned.json["kept"] == [line]
    assert len(drilled_copies(site)) == 3


def test_copies_not_taken_at_one_point_are_released_and_a_resume_does_not_take_them(
        site, tmp_path):
    """The array says it has consistency groups, but its copies of erp's three LUNs came
    back not consistent: the drill stops and has them released at once (they hid the
    replicas), and its resume, asking again, stops the same way: it never boots VMs from
    copies of different instants."""
    import sys
    wrapper = tmp_path / "inconsistent-adapter"
    wrapper.write_text(
        "#!%s\nimport json, subprocess, sys\n"
        "done = subprocess.run([%r] + sys.argv[1:], stdout=subprocess.PIPE)\n"
        "answer = json.loads(done.stdout.decode())\n"
        "if sys.argv[1] == 'copy':\n    answer['consistent'] = False\n"
        "print(json.dumps(answer))\nsys.exit(done.returncode)\n" % (sys.executable, adapter(site)))
    wrapper.chmod(0o755)
    stopped = site.xedr("B", "--json", "drill", "--adapter", str(wrapper), "--vapp", "erp",
                        *site.storage_args("B"))
    assert stopped.code == 1, stopped
    run = stopped.json["run"]
    assert stopped.err.strip().splitlines()[-1].endswith(
        "copy: the copies of 3 LUNs were not taken at one consistency point (drill one LUN at "
        "a time or use an array with consistency groups)"), stopped.err
    assert adapter_calls(site)[-2:] == ["copy", "release"] and drilled_copies(site) == []
    resumed = site.xedr("B", "--json", "drill", "--resume", run)
    assert resumed.code == 1 and "not taken at one consistency point" in resumed.err, resumed
    assert not site.lab.ok("B", "vm-list", "other-config:xe-dr-run=" + run, "--minimal").values
    assert drilled_copies(site) == []


def test_a_drill_on_chap_storage_attaches_its_copies_and_its_adapter_never_sees_the_password(
        tmp_path, monkeypatch):
    """B's portal wants CHAP, the password given with --chap-password-env: the copies are
    attached with the password given for their replicas (they have SCSI ids of their own),
    and the adapter, which inherits xe-dr's environment, is not given it."""
    from tests.fixtures_lab import make_lab
    from tests.fixtures_workflow import Drill
    password = "chap-%s" % tmp_path.name
    drill = Drill(make_lab(str(tmp_path / "lab"), chap_user="drchap", chap_password=password,
                           chap_sites=["B"]), str(tmp_path / "state"))
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    seen = tmp_path / "adapter-environment"
    wrapper = tmp_path / "adapter"
    wrapper.write_text("#!/bin/sh\nenv >> '%s'\nexec '%s' \"$@\"\n" % (seen, adapter(drill)))
    wrapper.chmod(0o755)
    monkeypatch.setenv("DR_CHAP", password)  # as the shell gives it to xe-dr and its children
    result = drill.xedr("B", "--json", "drill", "--adapter", str(wrapper), "--vapp", "erp",
                        "--chap-user", "drchap", "--chap-password-env", "DR_CHAP",
                        *drill.storage_args("B"), environ={"DR_CHAP": password})
    assert result.code == 0 and result.json["verdict"] == "verified", result
    assert result.json["cleanup"]["released"]
    calls = adapter_calls(drill)
    assert calls.count("copy") == 1 and calls.count("release") == 1
    assert password not in seen.read_text()


def test_a_verified_drill_whose_adapter_cannot_tell_the_mirror_state_after_still_ends(site):
    """The mirror's state after the drill is evidence: the array not answering it leaves a
    warning, and the verified drill still exits 0 and is undone (it stopped, exit 1, its
    verdict 'verified' on the pool, its VMs running and its copies presented)."""
    site.lab.fault(site="array", command="adapter-mirror-state", nth=2, error=["ARRAY_BUSY"])
    result = site.xedr("B", "--json", "drill", "--adapter", adapter(site), "--vapp", "erp",
                       *site.storage_args("B"))
    assert result.code == 0 and result.json["verdict"] == "verified", result
    assert result.json["mirror_after"] is None
    assert [w for w in result.json["warnings"] if "mirror" in w] == [
        "the mirror's state after the drill is unknown: storage adapter %s mirror-state "
        "failed (exit 1): ARRAY_BUSY" % adapter(site)]
    assert result.json["cleanup"]["released"] and drilled_copies(site) == []
