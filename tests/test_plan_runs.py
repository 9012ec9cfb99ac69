"""Runs by a recovery plan (``failover --plan``, issue 18): the plan's priority groups start one
after another, each only once its gate passed (the guest agents of the group before up); hooks
run with the run's facts, a failing hook stops the run and a resume runs only that hook again;
a prompt is answered by --answer-prompts and stops a run with --no-input; the run keeps the
plan it followed. The hooks are scripts of the test tree (tests/plan_scripts)."""

import json
import os

import pytest

from xe_dr.dr import recovery_plan
from xe_dr.dr.recovery_plan_text import render

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plan_scripts")


@pytest.fixture
def site(drill, monkeypatch, tmp_path):
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    drill.ok("B", "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("XE_DR_TEST_LOG", str(log))
    drill.log = log
    return drill


def three_groups(site, tmp_path, disaster=True, **changes):
    """A plan of three groups (queue-01; then erp; then webshop and cache-01), each gated on
    the guest agents of the one before, made from `plan init` and edited as an admin would;
    then (``disaster``) the mirror broken, site B's LUNs writable."""
    path = tmp_path / "site-a.plan"
    made = site.xedr("A", "plan", "init", str(path), "--peer", "local", "--peer-xe",
                     site.lab.xe_path("B"), *site.storage_args("B"))
    assert made.code == 0, made
    plan = recovery_plan.read(str(path))
    gate = {"kind": "guest-agent", "command": None, "seconds": None, "timeout": 120,
            "on_timeout": "stop"}
    group = dict(plan["groups"][0], gate=gate, vapps=[], vms=[], tags=[], before=None,
                 after=None, prompt=None)
    plan["groups"] = [dict(group, name="queues", vms=["queue-01"]),
                      dict(group, name="erp", vapps=["erp"]),
                      dict(group, name="web", vapps=["webshop"], vms=["cache-01"],
                           gate=dict(gate, kind="none"))]
    for name, value in changes.items():
        where, _, key = name.partition("__")
        target = plan["hooks"] if where == "run" else [
            g for g in plan["groups"] if g["name"] == where][0]
        target[key] = value
    path.write_text(render(plan))
    os.chmod(str(path), 0o600)  # its commands run: no one else may write it, whatever the umask
    if disaster:
        site.lab.mirror("break")
    return str(path)


def journal(site, run):
    with open(os.path.join(site.state_dir, "runs", run, "journal.jsonl")) as handle:
        return [json.loads(line) for line in handle]


def log_lines(site):
    return site.log.read_text().splitlines() if site.log.exists() else []


def test_groups_start_one_after_another_each_after_the_guest_agents_before_it(site, tmp_path):
    plan = three_groups(site, tmp_path, run__before=SCRIPTS + "/record run-before",
                        erp__after=SCRIPTS + "/record erp-after",
                        queues__prompt="confirm the message queue is drained at A")
    result = site.xedr("B", "--json", "failover", "--plan", plan, "--yes", "--answer-prompts")
    assert result.code == 0, result
    report = result.json
    run = report["run"]
    with open(plan) as handle:
        text = handle.read()
    assert report["plan"]["path"] == plan and report["plan"]["text"] == text
    # the order in the journal: each group's starts begin after the gate before it is done
    events = [(e["step"], e["event"]) for e in journal(site, run)
              if e["step"].split(":")[0] in ("start", "gate", "prompt", "hook")]
    steps = [step for step, event in events if event == "begin"]
    kinds = [s.split(":")[0] + (":" + s.split(":")[1] if s.startswith(("gate", "hook")) else "")
             for s in steps]
    assert kinds == ["hook:run", "start", "gate:queues", "prompt", "start", "gate:erp",
                     "hook:after", "start", "start"], kinds
    first_start = [i for i, (s, e) in enumerate(events) if s.startswith("start:")
                   and e == "begin"]
    assert events.index(("gate:queues", "done")) < first_start[1]
    assert events.index(("gate:erp", "done")) < first_start[2]
    # the hooks ran once each, with the run's facts
    assert log_lines(site) == ["run-before|%s||" % run,
                               "erp-after|%s|erp|app-01,mail-01,web-01" % run]
    # the report's timeline: the plan's groups in order, each with the wait for its gate
    text = site.xedr("B", "report", run, "--format", "text").out
    timeline = text.split("\nTimeline")[1].split("\n\n")[0].splitlines()
    lanes = [line.strip() for line in timeline if line.startswith("  plan group")]
    assert lanes == ["plan group queues", "plan group erp", "plan group web"], timeline
    gates = [line for line in timeline if line.strip().startswith("gate ")]
    assert len(gates) == 2 and all(" passed after " in line for line in gates), timeline
    assert "g waiting for a plan group's gate" in timeline[0]
    states = dict((name, site.lab.ok("B", "vm-list", "name-label=" + name,
                                     "params=power-state", "--minimal").value)
                  for name in ("queue-01", "web-01", "build-01", "cache-01"))
    assert set(states.values()) == {"running"}, states


def test_a_failing_hook_stops_the_run_and_the_resume_runs_only_that_hook(site, tmp_path):
    ready = tmp_path / "ready"
    plan = three_groups(site, tmp_path, run__before=SCRIPTS + "/record run-before",
                        queues__after="%s/fail-until %s" % (SCRIPTS, ready))
    stopped = site.xedr("B", "failover", "--plan", plan, "--yes")
    assert stopped.code == 1, stopped
    last = stopped.err.strip().splitlines()[-1]
    assert last.startswith("xe-dr: error: group queues's after hook: %s/fail-until" % SCRIPTS)
    assert "group queues's after hook failed (exit 3): the load balancer is not ready" in last
    run = [r["id"] for r in site.xedr("B", "--json", "runs").json["runs"]][-1]
    assert "xe-dr failover --resume %s" % run in last
    ready.write_text("")
    resumed = site.xedr("B", "failover", "--resume", run, "--yes")
    assert resumed.code == 0, resumed
    # the run's before hook ran once; the failed one ran again; nothing else ran twice
    assert log_lines(site) == ["run-before|%s||" % run, "fail-until|queues",
                               "fail-until|queues"]
    starts = [e["step"] for e in journal(site, run) if e["step"].startswith("start:")
              and e["event"] == "begin"]
    assert len(starts) == len(set(starts)) == 4


def test_a_prompt_stops_a_run_without_a_person_until_answered(site, tmp_path):
    plan = three_groups(site, tmp_path, erp__prompt="confirm the DNS change")
    stopped = site.xedr("B", "failover", "--plan", plan, "--yes", "--no-input")
    assert stopped.code == 64, stopped
    last = stopped.err.strip().splitlines()[-1]
    assert last.startswith("xe-dr: error: group erp's prompt: waits for a person: confirm "
                           "the DNS change (answer it at a terminal, or give "
                           "--answer-prompts)"), last
    run = [r["id"] for r in site.xedr("B", "--json", "runs").json["runs"]][-1]
    web = site.lab.ok("B", "vm-list", "name-label=build-01", "params=power-state",
                      "--minimal").value
    assert web == "halted"  # the group after the prompt did not start
    resumed = site.xedr("B", "failover", "--resume", run, "--yes", "--answer-prompts")
    assert resumed.code == 0, resumed
    assert site.lab.ok("B", "vm-list", "name-label=build-01", "params=power-state",
                       "--minimal").value == "running"


def test_what_a_plan_sets_may_not_be_given_again_and_the_selection_narrows_it(site, tmp_path):
    plan = three_groups(site, tmp_path)
    both = site.xedr("B", "failover", "--plan", plan, "--yes", "--power", "paused")
    assert both.code == 64 and "the plan sets what --power would" in both.err, both
    unknown = site.xedr("B", "failover", "--plan", plan, "--yes", "--vm", "db-01")
    assert unknown.code == 64 and "db-01 is in no group of the plan" in unknown.err, unknown
    narrowed = site.xedr("B", "--json", "failover", "--plan", plan, "--yes", "--vapp", "erp")
    assert narrowed.code == 0, narrowed
    assert [i["name_label"] for i in narrowed.json["items"]] == ["erp"]


def test_readdressing_by_the_plan_reaches_the_guests_each_the_way_its_tools_allow(site,
                                                                                  tmp_path):
    """VM Network moves from 10.20/16 to 10.120/16, and fd20::/64 to fd21::/64. web-01's tools
    take the VIF's setting (vif-configure-ipv4 and -ipv6: its metrics, carried from production,
    advertise it); app-01 has a boot script reading Ansible's xenstore keys (IPv6: a DR address
    of its own in the plan); mail-01 has neither, and the report says so."""
    site.lab.cli("guest", "A", "web-01", "--static-ip-setting", "yes", "--ipv6",
                 "0=fd20::10/64")
    site.lab.cli("guest", "A", "app-01", "--network-script", "yes")
    web = site.lab.vm_uuid("web-01")
    site.lab.ok("A", "vm-shutdown", "uuid=" + web)
    site.lab.ok("A", "vm-start", "uuid=" + web)  # its metrics now advertise the feature
    plan = recovery_plan.read(three_groups(site, tmp_path))
    assert plan["vms"]["web-01"]["addresses6"] == {"0": "fd20::10"}
    plan["readdress"] = [{"from": "10.20.0.0/16", "to": "10.120.0.0/16",
                          "gateway": "10.120.0.1"},
                         {"from": "fd20::/64", "to": "fd21::/64", "gateway": "fd21::1"}]
    plan["vms"]["app-01"]["dr_addresses6"] = {"0": {"address": "fd21::11/64",
                                                    "gateway": None}}
    plan["groups"][1]["before"] = SCRIPTS + "/addresses"
    path = tmp_path / "readdress.plan"
    path.write_text(render(plan))
    os.chmod(str(path), 0o600)
    result = site.xedr("B", "--json", "failover", "--plan", str(path), "--yes")
    assert result.code == 0, result
    # the group's hook was given each VIF's addresses at the DR site, before the starts
    recorded = plan["vms"]["app-01"]["addresses"]["0"]
    assert recorded.startswith("10.20.")
    given = log_lines(site)[0].split("|")
    assert given[:2] == ["addresses", "erp"]
    assert {"app-01/0=10.120." + recorded.split(".", 2)[2], "app-01/0=fd21::11",
            "web-01/0=fd21::10"} <= set(given[2].split(",")), given
    by_vm = dict(((e["vm"], e["family"]), e) for e in result.json["addresses"]
                 if e["device"] == "0")
    assert [(by_vm[key]["method"], by_vm[key]["applied"]) for key in (
        ("web-01", 4), ("web-01", 6), ("app-01", 4), ("app-01", 6), ("mail-01", 4))] == [
        ("vif-configure-ipv4", True), ("vif-configure-ipv6", True), ("xenstore", True),
        ("xenstore", True), ("xenstore", False)]
    assert ("mail-01", 6) not in by_vm  # no IPv6 address, none of its own: nothing to give
    for name in ("web-01", "app-01"):
        reported = site.lab.ok("B", "vm-list", "name-label=" + name, "params=networks",
                               "--minimal").value
        assert "0/ip: %s" % by_vm[name, 4]["address"].split("/")[0] in reported, reported
        assert "0/ipv6/0: %s" % by_vm[name, 6]["address"].split("/")[0] in reported, reported
        assert by_vm[name, 4]["address"].startswith("10.120.")
        assert by_vm[name, 6]["address"].startswith("fd21::")
    # the IPv4 and IPv6 steps of one VIF are steps of their own
    steps = [e["step"] for e in journal(site, result.json["run"]) if e["event"] == "done"]
    assert ["readdress:%s" % by_vm["web-01", 4]["vif"],
            "readdress:%s:ipv6" % by_vm["web-01", 6]["vif"]] == [
        step for step in steps if step.startswith("readdress:" + by_vm["web-01", 4]["vif"])]
    assert [w for w in result.json["warnings"] if w.startswith("VM mail-01 VIF 0: the guest "
                                                               "reports 10.20.")], \
        result.json["warnings"]


def test_a_plan_with_commands_that_others_may_write_is_refused(site, tmp_path):
    plan = three_groups(site, tmp_path, run__before=SCRIPTS + "/record run-before")
    os.chmod(plan, 0o666)
    result = site.xedr("B", "failover", "--plan", plan, "--yes")
    assert result.code == 78, result
    assert result.err.strip() == (
        "xe-dr: error: the plan %s runs commands and others may write it (mode 666, owner "
        "uid %d) (chmod go-w %s (and own it), or take its commands out)" % (
            plan, os.getuid(), plan))
    assert not site.log.exists()


def test_a_drill_exercises_the_plan(site, tmp_path):
    """A drill by the plan: the array's copies of the plan's LUNs, the groups in order, each
    VM verified; the mirror keeps running (no break here: a drill works on copies)."""
    path = three_groups(site, tmp_path, disaster=False)
    result = site.xedr("B", "--json", "drill", "--plan", path, "--adapter",
                       site.lab.lab.path("bin", "storage-adapter"))
    assert result.code == 0, result
    assert result.json["verdict"] == "verified"
    assert sorted(vm["name_label"] for vm in result.json["vms"]) == [
        "app-01", "build-01", "cache-01", "ldap-01", "mail-01", "proxy-01", "queue-01",
        "web-01"]
    gates = [e["step"] for e in journal(site, result.json["run"])
             if e["step"].startswith("gate:") and e["event"] == "done"]
    assert gates == ["gate:queues", "gate:erp"]


def test_a_test_failover_by_a_plan_starts_its_groups_paused_and_runs_none_of_their_steps(
        site, tmp_path):
    # a paused guest runs no agent: a guest-agent gate could only time out (the test stopped
    # at the first one); hooks and prompts of the groups wait on what does not run either
    plan = three_groups(site, tmp_path, run__before=SCRIPTS + "/record run-before",
                        erp__after=SCRIPTS + "/record erp-after",
                        queues__prompt="confirm the message queue is drained at A")
    result = site.xedr("B", "--json", "failover", "--test", "--plan", plan, "--no-input")
    assert result.code == 0, result
    run = result.json["run"]
    begun = [e["step"] for e in journal(site, run) if e["event"] == "begin" and
             e["step"].split(":")[0] in ("start", "gate", "prompt", "hook")]
    names = dict(("start:%s:%s" % (i["kind"], i["uuid"]), i["name_label"])
                 for i in result.json["items"])
    assert [names.get(s, s) for s in begun[:3]] == ["hook:run:before", "queue-01", "erp"]
    assert sorted(names.get(s, s) for s in begun[3:]) == ["cache-01", "webshop"], begun
    assert log_lines(site) == ["run-before|%s||" % run]
    states = set(site.lab.ok("B", "vm-list", "other-config:xe-dr-run=" + run,
                             "params=power-state", "--minimal").value.split(","))
    assert states == {"paused"}, states


def _tiered(site, tmp_path):
    """three_groups, but its first group selects by the xapi tag dr-tier1 that queue-01 and
    cache-01 carry at A (the replicated metadata carries it to B); the mirror still runs."""
    for name in ("queue-01", "cache-01"):
        site.lab.ok("A", "vm-param-add", "uuid=" + site.lab.vm_uuid(name), "param-name=tags",
                    "param-key=dr-tier1")
    plan = recovery_plan.read(three_groups(site, tmp_path, disaster=False))
    plan["groups"][0].update(vms=[], tags=["dr-tier1"])
    plan["groups"][2]["vms"] = []
    path = tmp_path / "tiered.plan"
    path.write_text(render(plan))
    return str(path)


def test_a_group_selects_by_xapi_tag_as_the_replicated_metadata_carries_it(site, tmp_path):
    plan = _tiered(site, tmp_path)
    site.lab.mirror("break")
    result = site.xedr("B", "--json", "failover", "--test", "--plan", plan, "--no-input")
    assert result.code == 0, result
    names = dict(("start:%s:%s" % (i["kind"], i["uuid"]), i["name_label"])
                 for i in result.json["items"])
    begun = [names[e["step"]] for e in journal(site, result.json["run"])
             if e["event"] == "begin" and e["step"] in names]
    assert sorted(begun[:2]) == ["cache-01", "queue-01"], begun  # the tag's group first
    assert begun[2:] == ["erp", "webshop"], begun
    # narrowed to a VM the plan selects by its tag: that VM alone
    assert site.xedr("B", "cleanup", result.json["run"], "--yes").code == 0
    narrowed = site.xedr("B", "--json", "failover", "--test", "--plan", plan, "--vm",
                         "cache-01", "--no-input")
    assert narrowed.code == 0, narrowed
    assert [i["name_label"] for i in narrowed.json["items"]] == ["cache-01"]


def test_a_plan_takes_no_all_and_checks_the_source_it_is_given(site, tmp_path):
    plan = _tiered(site, tmp_path)
    every = site.xedr("B", "failover", "--plan", plan, "--all", "--dry-run")
    assert every.code == 64, every
    assert "--all and --plan are not given together" in every.err
    # In peacetime, before any attach, the live source answers what the plan's tag selects.
    dry = site.xedr("B", "--json", "failover", "--plan", plan, "--dry-run", "--source",
                    "local", "--source-xe", site.lab.xe_path("A"))
    assert dry.code == 0, dry
    assert sorted(i["name_label"] for i in dry.json["items"] if not i["excluded"]) == [
        "cache-01", "erp", "queue-01", "webshop"]


def test_a_plan_reaches_chap_storage_by_a_xapi_secret_and_holds_no_password(drill_factory,
                                                                           tmp_path):
    """[storage] chap-password-secret names a secret the administrator made at the DR site:
    the run attaches with it, and neither the plan nor the run holds the password."""
    password = "s3cr3t,with=odd;chars"
    drill = drill_factory(chap_user="dr-initiator", chap_password=password)
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    path = tmp_path / "chap.plan"
    assert drill.xedr("A", "plan", "init", str(path), *drill.storage_args("B")).code == 0
    plan = recovery_plan.read(str(path))
    plan["storage"].update(chap_user="dr-initiator",
                           chap_password_secret="00000000-0000-4000-8000-000000000000")
    path.write_text(render(plan))
    # validated against the DR site: a secret that is not there is drift
    missing = drill.xedr("A", "plan", "validate", str(path), "--peer", "local", "--peer-xe",
                         drill.lab.xe_path("B"))
    assert missing.code == 2, missing
    assert "the CHAP secret 00000000-0000-4000-8000-000000000000 ([storage] " \
        "chap-password-secret) is not at the DR site" in missing.out
    secret = drill.lab.ok("B", "secret-create", "value=" + password).value
    plan["storage"]["chap_password_secret"] = secret
    path.write_text(render(plan))
    assert password not in path.read_text()
    drill.lab.mirror("break")
    result = drill.xedr("B", "--json", "failover", "--test", "--plan", str(path), "--no-input")
    assert result.code == 0, result
    assert any(i.get("recovered_vms") for i in result.json["items"])
    # a resume follows the run's plan: the secret at the DR site, no password file to read
    again = drill.xedr("B", "failover", "--test", "--resume", result.json["run"], "--no-input")
    assert again.code == 0, again
    cleanup = drill.xedr("B", "cleanup", "--yes", result.json["run"])
    assert cleanup.code == 0, cleanup
    # the administrator's secret is theirs: still there after the cleanup
    assert drill.lab.ok("B", "secret-list", "uuid=" + secret, "params=uuid",
                        "--minimal").value == secret


def test_a_hook_has_ended_with_its_shell_though_a_daemon_it_started_keeps_its_output():
    from xe_dr.dr.failover.plan_phase import OUTPUT_CHARS, run_command
    # (a daemon started in the background holds the hook's stdout open for its whole life)
    code, output = run_command("sleep 30 & echo $!", dict(os.environ), 5)
    os.kill(int(output), 9)
    assert code == 0
    # a hook that prints megabytes: its end is kept
    code, output = run_command("head -c 3000000 /dev/zero | tr '\\0' x; echo; echo end",
                               dict(os.environ), 60)
    assert code == 0 and output.endswith("x\nend\n") and len(output) == OUTPUT_CHARS


def test_a_run_gives_no_address_to_a_name_two_recovered_vms_hold():
    from types import SimpleNamespace
    from xe_dr.dr.failover.readdress import ReaddressPhase
    from xe_dr.dr.plan import Item
    plan = recovery_plan.parse("[plan]\nschema = 1\n[readdress]\n10.1.0.0/24 = 10.2.0.0/24\n"
                               "[group all]\nvms = web\n    db\n"
                               "[vm web]\naddress 0 = 10.1.0.7\n[vm db]\naddress 0 = 10.1.0.9\n")
    records = {"vm": [{"uuid": "w1", "name-label": "web", "other": ""},
                      {"uuid": "w2", "name-label": "web", "other": ""},
                      {"uuid": "d1", "name-label": "db", "other": ""}],
               "vif": [{"uuid": "vif-%s" % u, "vm-uuid": u, "device": "0"}
                       for u in ("w1", "w2", "d1")]}
    done = []
    ctx = SimpleNamespace(xe=SimpleNamespace(list=lambda kind, params=(): records[kind]),
                          engine=SimpleNamespace(do=done.append),
                          opts=SimpleNamespace(plan=plan, mode="failover"),
                          report={"warnings": []})
    items = [Item("vm", u, n, "vdi", "pool") for u, n in (("s1", "web"), ("s2", "web"),
                                                           ("s3", "db"))]
    entries = ReaddressPhase(ctx).apply(items, {"s1": ["w1"], "s2": ["w2"], "s3": ["d1"]})
    assert [(e["vm_uuid"], e["address"]) for e in entries] == [("d1", "10.2.0.9/24")]
    assert [step.id for step in done] == ["readdress:vif-d1"]
    assert ctx.report["warnings"] == ["VM name web is held by 2 recovered VMs (w1, w2): none "
                                      "is re-addressed (the plan gives its addresses by name)"]


def test_a_name_gone_from_the_metadata_stops_a_plan_run_until_excluded(site, tmp_path):
    plan = three_groups(site, tmp_path, disaster=False)
    queue = site.lab.vm_uuid("queue-01")
    site.lab.ok("A", "vm-shutdown", "--force", "uuid=" + queue)
    site.lab.ok("A", "vm-destroy", "uuid=" + queue)
    site.lab.mirror("break")
    stale = site.xedr("B", "failover", "--test", "--plan", plan, "--no-input")
    assert stale.code == 64, stale
    assert "not found in the recoverable metadata: queue-01" in stale.err
    run = [r["id"] for r in site.xedr("B", "--json", "runs").json["runs"]][-1]
    # a resume of a run by a plan: what the plan sets is not given again
    power = site.xedr("B", "failover", "--resume", run, "--power", "none", "--no-input")
    assert power.code == 64 and "follows a plan, which sets what --power would" in \
        power.err, power
    assert site.xedr("B", "cleanup", "--yes", run).code == 0
    left_out = site.xedr("B", "--json", "failover", "--test", "--plan", plan, "--no-input",
                         "--exclude", "queue-01")
    assert left_out.code == 0, left_out
    assert sorted(i["name_label"] for i in left_out.json["items"]) == [
        "cache-01", "erp", "webshop"]
