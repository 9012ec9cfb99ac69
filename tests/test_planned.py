"""A planned migration (``failover --planned``, issue 19): both sites up, the run shuts the
selected VMs down at the source and unplugs its SRs there (the fence), records the metadata
generations its copies hold, stops for the array (exit 75) unless the LUNs here are writable,
and recovers only from copies that hold the source's final writes."""

import threading
from contextlib import contextmanager

from tests.test_safety_runs import runs, vm_states


def prepared(drill):
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    for site in ("A", "B"):
        drill.ok(site, "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")
    return sorted(n for n, s in vm_states(drill, "A").items() if s == "running")


def planned(drill, *args):
    return drill.xedr("B", "--yes", "--json", "failover", "--planned", "--source", "local",
                      "--source-xe", drill.lab.xe_path("A"), *args)


@contextmanager
def watched(drill):
    """Both sites polled, over and over, while the block runs: yields the list of what ran at
    both at one poll (empty, for a run that keeps its promise) and counts the polls."""
    seen, polls, done = [], [0], threading.Event()

    def poll():
        while not done.is_set():
            both = running_at_both(drill)
            if both:
                seen.append(both)
            polls[0] += 1
    watcher = threading.Thread(target=poll)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join(60)
    assert polls[0] > 1, polls


def test_a_planned_migration_fences_the_source_stops_for_the_array_and_loses_nothing(drill):
    running_at_a = prepared(drill)
    # a --source that is this pool itself is refused: it would shut B's own VMs down
    itself = drill.xedr("B", "--yes", "failover", "--planned", "--source", "local",
                        "--source-xe", drill.lab.xe_path("B"), "--vm", "b-monitor",
                        *drill.storage_args("B"))
    assert itself.code == 64, itself
    assert "is this pool" in itself.err, itself.err
    assert vm_states(drill, "B") == {"b-monitor": "running", "b-backup": "running"}
    with watched(drill) as twice:
        first = planned(drill, "--all", *drill.storage_args("B"))
    assert twice == []
    assert first.code == 75, first
    run = [r for r in runs(drill, "B") if r["kind"] == "planned"][-1]["id"]
    assert first.err.strip().splitlines()[-1] == (
        "xe-dr: error: the VMs at the source are shut down and its SRs unplugged; have the "
        "array make this site's LUNs writable (halt or reverse the mirror), then: xe-dr "
        "failover --resume %s" % run)
    # what still runs at A is what the metadata does not protect (a disk off the mirrored
    # SRs): not migrated, and never started at B
    stays = sorted(n for n, s in vm_states(drill, "A").items() if s == "running")
    assert stays == ["db-01", "file-01"], stays
    # the reverse of a failover's starts: order group 1 first, then the vApps with group 0
    stops = [c["args"][0].split("=", 1)[1] for c in drill.lab.call_log() if c["site"] == "A"
             and c["command"] in ("vm-shutdown", "appliance-shutdown")]
    names = dict((u, n) for n in ("cache-01", "mon-01", "queue-01")
                 for u in [drill.lab.vm_uuid(n)])
    names.update((drill.lab.uuid("A", "appliance", **{"name-label": n}), n)
                 for n in ("erp", "webshop"))
    order = [names[u] for u in stops if u in names]
    assert sorted(order[:1]) == ["cache-01"] and sorted(order[1:]) == [
        "erp", "queue-01", "webshop"], order
    moved = [n for n in running_at_a if n not in stays]
    assert not running_at_both(drill)

    drill.lab.mirror("break")
    # what the source shut down is what comes here: a resume choosing again is refused (the
    # excluded vApp would stay halted at both sites)
    narrowed = drill.xedr("B", "--yes", "failover", "--resume", run, "--exclude", "erp")
    assert narrowed.code == 64, narrowed
    assert "(it began shutting the source down); do not give --exclude" in narrowed.err
    with watched(drill) as twice:
        done = drill.xedr("B", "--yes", "--json", "failover", "--resume", run)
    assert twice == []
    assert done.code == 0, done
    assert done.json["generations"]["stale"] == [], done.json["generations"]
    assert done.json["data_lost"].startswith("none")
    at_b = vm_states(drill, "B")
    assert sorted(n for n in running_at_a if at_b.get(n) == "running") == moved
    assert not running_at_both(drill)
    assert "left at the source (not protected there: not migrated): db-01, dns-01, " \
        "file-01" in done.json["warnings"]
    text = drill.xedr("B", "report", run, "--format", "text")
    assert text.out.startswith("xe-dr report: Planned migration to pool Site B: succeeded\n")
    assert [line.split(None, 2)[2] for line in text.out.splitlines()
            if line.startswith("Data lost")] == [
        "none: the copies here hold the source's writes after its shutdown"], text.out


def test_a_vapp_with_a_member_not_protected_is_not_shut_down_by_all(drill):
    """B refuses to recover a vApp with an unprotected member: shut down at A, it would run
    nowhere. It stays at A, and so do the SRs its members share: nothing is shut down."""
    prepared(drill)
    erp = drill.lab.ok("A", "appliance-list", "name-label=erp", "--minimal").value
    db = drill.lab.ok("A", "vm-list", "name-label=db-01", "--minimal").value  # on NFS
    drill.lab.ok("A", "vm-param-set", "uuid=" + db, "appliance=" + erp)
    before = vm_states(drill, "A")
    refused = planned(drill, "--all", *drill.storage_args("B"))
    assert refused.code == 64, refused
    assert "still used by running VMs that are not migrated" in refused.err, refused.err
    assert vm_states(drill, "A") == before


def running_at_both(drill):
    at_a, at_b = vm_states(drill, "A"), vm_states(drill, "B")
    return sorted(n for n, s in at_a.items() if s == "running" and at_b.get(n) == "running")


def test_a_copy_without_the_final_writes_is_refused(drill):
    prepared(drill)
    drill.lab.mirror("freeze")  # the array stops copying writes: B's copies fall behind
    first = planned(drill, "--all", *drill.storage_args("B"))
    assert first.code == 75, first
    run = [r for r in runs(drill, "B") if r["kind"] == "planned"][-1]["id"]
    drill.lab.mirror("break")
    refused = drill.xedr("B", "--yes", "--json", "failover", "--resume", run)
    assert refused.code == 75, refused
    assert "have not received the source's final writes" in refused.err, refused.err
    assert not running_at_both(drill)
    assert [n for n, s in vm_states(drill, "B").items() if s == "running"] == [
        "b-monitor", "b-backup"]


def json_lines(path):
    import json
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_a_source_lost_mid_way_stops_the_run_with_nothing_running_twice(drill):
    """Site A goes dark at its first pbd-unplug, its VMs already shut down: the run stops
    (69) saying where each site stands; a resume while it is dark is refused the same way;
    once A is back, the resume finishes the fence, and the migration ends as planned."""
    prepared(drill)
    before_b = drill.snapshot("B")
    drill.lab.fault(site="A", command="pbd-unplug", dark=True)
    lost = planned(drill, "--all", *drill.storage_args("B"))
    assert lost.code == 69, lost
    run = [r for r in runs(drill, "B") if r["kind"] == "planned"][-1]["id"]
    said = lost.err.strip().splitlines()[-1]
    assert said == (
        "xe-dr: error: the source stopped answering (CLI_CONNECTION_FAILED) before this run's "
        "work there was done: there, it shut down 4 vApp(s) and VM(s) and unplugged 0 SR(s), "
        "and the rest is as it was; here nothing is attached or recovered yet (nothing runs "
        "at both sites; when the source answers again: xe-dr failover --resume %s; if it is "
        "lost, fence it (its VMs stopped, its LUNs detached), 'xe-dr cleanup %s', then fail "
        "over with --source down)" % (run, run)), said
    assert drill.snapshot("B") == before_b
    again = drill.xedr("B", "--yes", "failover", "--resume", run)
    assert again.code == 69 and "the source stopped answering before" in again.err, again
    assert drill.snapshot("B") == before_b

    drill.lab.restore("A")  # back, as after a power cycle: VMs halted, SRs plugged
    stopped = drill.xedr("B", "--yes", "failover", "--resume", run)
    assert stopped.code == 75, stopped  # the fence done; the array's turn
    drill.lab.mirror("break")
    done = drill.xedr("B", "--yes", "--json", "failover", "--resume", run)
    assert done.code == 0, done
    assert not running_at_both(drill)


def test_an_adapter_that_fails_its_halt_then_reverses_to_nothing_is_said_so(drill, tmp_path):
    """The lab's adapter behind a wrapper: its first halt fails (the array busy), and its
    reverse answers that the mirror is broken."""
    prepared(drill)
    real = drill.lab.lab.path("bin", "storage-adapter")
    wrapper = tmp_path / "adapter"
    wrapper.write_text(
        "#!/bin/sh\n"
        "if [ \"$1\" = halt ] && [ ! -e %(once)s ]; then\n"
        "    touch %(once)s; echo '{\"error\": \"ARRAY_BUSY\"}'; exit 1\n"
        "fi\n"
        "if [ \"$1\" = reverse ]; then\n"
        "    shift; %(real)s reverse \"$@\" >/dev/null && %(real)s mirror-state \"$@\" |"
        " sed 's/\"reversed\"/\"broken\"/g; s/\"mirroring\"/\"broken\"/g'; exit\n"
        "fi\n"
        "exec %(real)s \"$@\"\n" % {"once": tmp_path / "halted-once", "real": real})
    wrapper.chmod(0o755)
    busy = planned(drill, "--all", "--adapter", str(wrapper), "--reprotect",
                   *drill.storage_args("B"))
    assert busy.code != 0, busy
    run = [r for r in runs(drill, "B") if r["kind"] == "planned"][-1]["id"]
    said = busy.err.strip().splitlines()[-1]
    assert "ARRAY_BUSY" in said and "stopped after shutting the source down" in said, said
    assert "cleanup" not in said.split("ARRAY_BUSY", 1)[1].replace(
        "a cleanup here does not start them there again", ""), said
    done = drill.xedr("B", "--yes", "--json", "failover", "--resume", run)
    assert done.code == 0, done.err
    assert [w for w in done.json["warnings"] if w.startswith(
        "reprotect: the array left LUN(s)") and "unmirrored (state broken)" in w], \
        done.json["warnings"]


def test_a_plan_moves_site_a_to_b_and_back_ending_where_it_began(drill, tmp_path):
    """One plan: a planned migration to B by it (the adapter halting, then reprotect), then a
    failback to A by the same plan reversed (the adapter again, and reprotect): A runs what
    it ran, with the addresses it had, and the mirror goes from A to B again."""
    from tests.test_plan_runs import three_groups
    from xe_dr.dr import recovery_plan
    from xe_dr.dr.recovery_plan_text import render
    prepared(drill)
    drill.lab.cli("guest", "A", "app-01", "--network-script", "yes")
    began = vm_states(drill, "A")
    plan = recovery_plan.read(three_groups(drill, tmp_path, disaster=False))
    plan["readdress"] = [{"from": "10.20.0.0/16", "to": "10.120.0.0/16",
                          "gateway": "10.120.0.1", "from_gateway": "10.20.0.1"}]
    plan["reprotect"] = ["iSCSI DR 1"]  # the plan reprotects, on this SR
    path = tmp_path / "move.plan"
    path.write_text(render(plan))
    adapter = drill.lab.lab.path("bin", "storage-adapter")
    there = planned(drill, "--plan", str(path), "--adapter", adapter)
    assert there.code == 0, there
    assert not running_at_both(drill)
    app = [e for e in there.json["addresses"] if e["vm"] == "app-01" and e["device"] == "0"][0]
    assert app["applied"] and app["address"].startswith("10.120."), app
    # the array halted the mirror (no stop), then reversed it: B is its source now, and B
    # replicates its metadata on the SR the plan names, as status sees it
    verbs = [c["verb"] for c in json_lines(drill.lab.lab.path("adapter.jsonl"))]
    assert verbs.index("halt") < verbs.index("reverse"), verbs
    assert set(there.json["reprotect"]["mirror"].values()) == {"reversed"}
    assert [(s["name_label"], s["replicating"]) for s in there.json["reprotect"]["srs"]] == [
        ("iSCSI DR 1", True)]
    status = drill.xedr("B", "status").out.splitlines()
    assert [line.split()[1:4] for line in status if line.startswith("  iSCSI DR 1 ")] == [
        ["DR", "1", "healthy"]], status

    calls = len(drill.lab.call_log())
    back = drill.xedr("A", "--yes", "--json", "failback", "--plan", str(path), "--source",
                      "local", "--source-xe", drill.lab.xe_path("B"), "--adapter", adapter,
                      "--reprotect", *drill.storage_args("A"))
    assert back.code == 0, back
    # at B, the plan's groups shut down the last first: web (webshop, cache-01), then erp,
    # then queues
    stops = [c["args"][0].split("=", 1)[1] for c in drill.lab.call_log()[calls:]
             if c["site"] == "B" and c["command"] in ("vm-shutdown", "appliance-shutdown")]
    names = dict((drill.lab.uuid("B", kind, **{"name-label": n}), n) for kind, n in (
        ("vm", "queue-01"), ("vm", "cache-01"), ("appliance", "erp"),
        ("appliance", "webshop")))
    order = [names[u] for u in stops if u in names]
    assert sorted(order[:2]) == ["cache-01", "webshop"] and order[2:] == ["erp", "queue-01"], \
        order
    moved = [n for n in ("queue-01", "app-01", "mail-01", "web-01", "build-01", "proxy-01",
                         "cache-01") if began.get(n) == "running"]
    assert moved and all(vm_states(drill, "A")[n] == "running" for n in moved)
    assert not running_at_both(drill)
    assert set(back.json["reprotect"]["mirror"].values()) == {"mirroring"}
    app = drill.lab.ok("A", "vm-list", "name-label=app-01", "params=networks",
                       "--minimal").value
    assert "0/ip: %s" % plan["vms"]["app-01"]["addresses"]["0"] in app, app
