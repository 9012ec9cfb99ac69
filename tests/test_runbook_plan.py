"""``xe-dr runbook --plan FILE`` (issue 18): the runbook made from a recovery plan, run with bash
against the lab, reaches the state ``xe-dr failover --plan FILE`` reaches in a twin lab (same
seed); its groups start one after another, each after its gate; its hooks get xe-dr's facts; a
prompt stops it without a terminal. The guest-agent gate's decision (an xe that prints canned
records) and a prompt at a terminal are checked on their own, with the script's functions."""

import fcntl
import os
import pty
import select
import shutil
import subprocess
import termios

import pytest

from tests.conftest import slow
from tests.test_plan_runs import SCRIPTS, three_groups
from tests.test_runbook import state
from xe_dr.dr import recovery_plan
from xe_dr.dr.recovery_plan_text import render
from xe_dr.report import runbook_plan
from xe_dr.report.shell import q
from xe_dr.xe.records import parse_records

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")
GATE_LIST = "params=uuid,power-state,start-time,PV-drivers-detected,guest-metrics-last-updated"


def bash(script, env, cwd):
    """bash SCRIPT as on dom0 without a terminal: a session of its own has no /dev/tty, even
    when the tests run at one."""
    return subprocess.run([BASH, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=dict(os.environ, **env), cwd=str(cwd),
                          start_new_session=True)


def prepared(drill):
    """Metadata replicated, the mirror broken, every mirrored SR attached at B (the storage
    steps are the runbook's without a plan, tested in tests/test_runbook.py)."""
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    drill.lab.failover_task("B")
    return drill


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


@slow
def test_a_runbook_by_a_plan_reaches_the_state_of_the_failover_by_that_plan(
        drill_factory, tmp_path, monkeypatch):
    by_failover, by_runbook = prepared(drill_factory()), prepared(drill_factory())
    for site in (by_failover, by_runbook):  # app-01 applies Ansible's xenstore keys
        site.lab.cli("guest", "A", "app-01", "--network-script", "yes")
    plan = str(tmp_path / "readdress.plan")
    with open(plan, "w") as handle:  # VM Network moves from 10.20/16 to 10.120/16
        handle.write(render(dict(recovery_plan.read(three_groups(
            by_runbook, tmp_path, run__before=SCRIPTS + "/record run-before",
            erp__after=SCRIPTS + "/record erp-after", erp__before=SCRIPTS + "/addresses",
            queues__prompt="confirm the message queue is drained at A")),
            readdress=[{"from": "10.20.0.0/16", "to": "10.120.0.0/16",
                        "gateway": "10.120.0.1"}])))
    os.chmod(plan, 0o600)
    failover_log, runbook_log = tmp_path / "failover-hooks.log", tmp_path / "runbook-hooks.log"
    monkeypatch.setenv("XE_DR_TEST_LOG", str(failover_log))
    failed_over = by_failover.xedr("B", "--json", "failover", "--plan", plan, "--yes",
                                   "--answer-prompts")
    assert failed_over.code == 0, failed_over

    script = tmp_path / "failover.sh"
    made = by_runbook.xedr("B", "--json", "runbook", "--plan", plan, "-o", str(script))
    assert made.code == 0, made
    runbook = made.json["runbook"]
    environ = {"XE": by_runbook.lab.xe_path("B"), "XE_DR_TEST_LOG": str(runbook_log)}

    # No terminal and no ANSWER_PROMPTS: the first group's prompt stops the script, named
    stopped = bash(script, environ, tmp_path)
    assert stopped.returncode == 1, stopped.stderr
    assert stopped.stderr.splitlines()[-1].endswith(
        "FAILED: group queues's prompt waits for a person: confirm the message queue is "
        "drained at A (there is no terminal to ask on: run this script at a terminal, or "
        "with ANSWER_PROMPTS=1)"), stopped.stderr
    power = dict((v[0], v[1]) for v in state(by_runbook)["vms"].values() if v[4])
    assert power["queue-01"] == "Running" and power["web-01"] == "Halted", power

    # Run again, answering: it goes on from there to the end
    done = bash(script, dict(environ, ANSWER_PROMPTS="1"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert state(by_runbook) == state(by_failover)
    # the same re-addressing, as the guests report it (app-01 applied it); the hooks' output
    # is in the script's log, under each hook's name
    assert addresses(by_runbook) == addresses(by_failover)
    assert addresses(by_runbook)["app-01"].startswith("0/ip: 10.120."), addresses(by_runbook)
    assert "    group erp's before hook | given 4 address(es)" in done.stderr.splitlines()

    # The groups started one after another, each after its gate (the guest agents' look)
    vm_uuid = dict((v[0], u) for u, v in state(by_runbook)["vms"].items())
    apps = dict((name, u) for u, name in state(by_runbook)["vapps"].items())
    order = []
    for call in by_runbook.lab.call_log():
        if call["site"] == "B" and call["command"] in ("vm-start", "appliance-start"):
            order.append(call["args"][0])
        elif call["site"] == "B" and call["command"] == "vm-list" and GATE_LIST in call["args"]:
            order.append("gate")
    starts = ["uuid=" + vm_uuid["queue-01"], "uuid=" + apps["erp"]]
    web = sorted(["uuid=" + apps["webshop"], "uuid=" + vm_uuid["cache-01"]])
    started = [o for o in order if o != "gate"]
    assert started[:2] == starts and sorted(started[2:]) == web, order
    erp_at, web_at = order.index(starts[1]), min(order.index(w) for w in web)
    assert "gate" in order[order.index(starts[0]):erp_at] and "gate" in order[erp_at:web_at]

    # The hooks ran with the facts xe-dr gives them (the runbook's id as the run's); the run's
    # before hook ran again with the second run of the script, as the script says
    run = failed_over.json["run"]
    given = [line for line in lines(failover_log) if line.startswith("addresses|")]
    assert len(given) == 1 and "app-01/0=10.120." in given[0], given
    assert lines(failover_log) == ["run-before|%s||" % run] + given + [
        "erp-after|%s|erp|app-01,mail-01,web-01" % run]
    assert lines(runbook_log) == ["run-before|%s||" % runbook] * 2 + given + [
        "erp-after|%s|erp|app-01,mail-01,web-01" % runbook]


def addresses(site):
    """{VM name: its guest's reported networks} at B."""
    out = site.lab.ok("B", "vm-list", "params=name-label,networks").out
    return dict((r["name-label"], r["networks"]) for r in parse_records(out))


# -- the guest-agent gate, with plain xe -----------------------------------------------------

RECORD = """uuid ( RO)                       : %s
                   power-state ( RO): %s
                    start-time ( RO): %s
           PV-drivers-detected ( RO): %s
    guest-metrics-last-updated ( RO): %s


"""
STARTED = "20240926T11:30:00Z"
NEVER = "19700101T00:00:00Z"
GUESTS = [  # uuid, power state, start-time, PV drivers detected, metrics last updated
    ("up", "running", STARTED, "true", "20240926T11:30:05Z"),
    ("up-same-second", "running", STARTED, "true", STARTED),
    ("production-metrics", "running", STARTED, "true", "20240926T11:29:59Z"),
    ("no-pv-drivers", "running", STARTED, "false", "20240926T11:31:00Z"),
    ("no-metrics", "running", STARTED, "<not in database>", "<not in database>"),
    ("paused", "paused", STARTED, "true", "20240926T11:31:00Z"),
    ("no-start-time", "running", NEVER, "true", "20240926T11:30:05"),
    ("not-asked", "halted", NEVER, "<not in database>", "<not in database>"),
]


NO_PLAN = {"vms": {}, "readdress": []}


def not_up(tmp_path, since, *uuids):
    listing = tmp_path / "vm-list.txt"
    listing.write_text("".join(RECORD % guest for guest in GUESTS))
    xe = tmp_path / "xe"
    xe.write_text("#!/bin/sh\n[ \"$*\" = 'vm-list %s' ] || exit 9\ncat %s\n" % (
        GATE_LIST, q(str(listing))))
    xe.chmod(0o755)
    functions = runbook_plan.functions({"plan_path": "x.plan"}, {"pool_name": "B"}, NO_PLAN)
    result = subprocess.run(
        [BASH, "-c", 'set -euo pipefail\n%s\nnot_up "$@"' % functions, "bash", since] +
        list(uuids), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
        env=dict(os.environ, XE=str(xe)))
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_guest_agent_gate_waits_for_metrics_of_this_start_with_pv_drivers(tmp_path):
    every = [g[0] for g in GUESTS if g[0] != "not-asked"] + ["gone"]
    # a start-time the pool does not give is the time before the group's starts
    assert not_up(tmp_path, "20240926T11:30:00", *every) == [
        "production-metrics", "no-pv-drivers", "no-metrics", "paused", "gone"]
    assert not_up(tmp_path, "20240926T11:30:06", "up", "no-start-time") == ["no-start-time"]
    assert not_up(tmp_path, "20240926T11:30:00") == []


# -- a prompt at a terminal ---------------------------------------------------------------------

def ask_at_a_terminal(answer):
    """The script's ``ask`` on a pseudo-terminal that is its controlling terminal (as at a
    console or under ssh -t), its standard input /dev/null: (exit status, stderr, what the
    terminal showed)."""
    functions = runbook_plan.functions({"plan_path": "x.plan"}, {"pool_name": "B"}, NO_PLAN)
    script = "\n".join([
        "set -euo pipefail",
        'log() { printf "%s\\n" "$*" >&2; }',
        'fail() { log "FAILED: $*"; exit 1; }',
        functions,
        "ask \"group erp's prompt\" 'confirm the DNS change'",
        "log went-on"])
    master, slave = pty.openpty()

    def controlling_terminal():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    try:
        os.write(master, answer + b"\n")  # typed ahead: the terminal holds it until read
        proc = subprocess.Popen([BASH, "-c", script], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=(slave,), preexec_fn=controlling_terminal,
                                env=dict(os.environ, ANSWER_PROMPTS="0"))
        os.close(slave)
        _, err = proc.communicate(timeout=60)
        shown = b""
        while select.select([master], [], [], 0)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal's other end closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
    return proc.returncode, err.decode("utf-8"), shown.decode("utf-8")


def test_a_prompt_at_a_terminal_goes_on_with_yes_and_stops_the_script_otherwise():
    code, err, shown = ask_at_a_terminal(b"yes")
    assert "group erp's prompt: confirm the DNS change [yes/no]" in shown
    assert code == 0 and err.splitlines()[-1] == "went-on", err
    code, err, _ = ask_at_a_terminal(b"no")
    assert code == 1, err
    assert err.splitlines()[-1] == ("FAILED: group erp's prompt: not confirmed: confirm the "
                                    "DNS change"), err


def test_a_groups_hooks_are_given_the_addresses_of_its_vms_at_the_dr_site():
    plan = {"readdress": [{"from": "10.20.0.0/16", "to": "10.120.0.0/24", "gateway": None},
                          {"from": "fd20::/64", "to": "fd12:0:0:1::/64",
                           "gateway": "fd12:0:0:1::1"}],
            "vms": {"web 1": {"addresses": {"0": "10.20.0.7", "1": "192.168.1.7"},
                              "addresses6": {"0": "fd20::7"}},
                    "db": {"addresses": {"0": "10.20.3.9"}, "dr_addresses": {
                        "0": {"address": "10.9.0.9/24", "gateway": "10.9.0.1"}},
                        "dr_addresses6": {"1": {"address": "fd09::9/64", "gateway": None}}},
                    "mail": {"addresses": {"0": "10.20.0.8"}}}}
    functions = runbook_plan.functions({"plan_path": "x.plan"}, {"pool_name": "B"}, plan)
    result = subprocess.run(
        [BASH, "-c", 'set -euo pipefail\n%s\nGROUP_VMS=$1\ngroup_addresses' % functions,
         "bash", "web 1\ndb"], stdout=subprocess.PIPE, universal_newlines=True)
    assert result.stdout.splitlines() == ["db\t0\t10.9.0.9", "db\t1\tfd09::9",
                                          "web 1\t0\t10.120.0.7", "web 1\t0\tfd12:0:0:1::7",
                                          "web 1\t1\t192.168.1.7"]
    assert runbook_plan.readdress(plan) == [
        "# the plan's re-addressing, while the VMs are halted",
        "readdress db 0 10.9.0.9/24 10.9.0.1 255.255.255.0",
        "readdress db 1 fd09::9/64 ''",
        "readdress mail 0 10.120.0.8/24 '' 255.255.255.0",
        "readdress 'web 1' 0 10.120.0.7/24 '' 255.255.255.0",
        "readdress 'web 1' 0 fd12:0:0:1::7/64 fd12:0:0:1::1"]


# what a fake xe answers the runbook's readdress: db's tools take the VIF's setting, web 1's not
READDRESS_XE = """#!/bin/sh
printf '%s\\n' "$*" >>"$XE_CALLS"
case "$*" in
    "vm-param-get uuid=vm-db param-name=name-label") echo db ;;
    "vm-param-get uuid=vm-web param-name=name-label") echo "web 1" ;;
    "vm-param-get uuid=vm-db param-name=other") echo "feature-shutdown: 1; \\
feature-static-ip-setting: 1" ;;
    "vm-param-get uuid=vm-web param-name=other") echo "feature-shutdown: 1" ;;
    vif-list*) echo "vif-${2#vm-uuid=vm-}-${3#device=}" ;;
esac
"""


def test_the_runbook_gives_ipv4_and_ipv6_addresses_each_the_way_the_tools_allow(tmp_path):
    plan = {"readdress": [{"from": "10.20.0.0/16", "to": "10.120.0.0/24", "gateway": None},
                          {"from": "fd20::/64", "to": "fd12:0:0:1::/64",
                           "gateway": "fd12:0:0:1::1"}],
            "vms": {"web 1": {"addresses": {"0": "10.20.0.7"}, "addresses6": {"0": "fd20::7"}},
                    "db": {"dr_addresses": {"0": {"address": "10.9.0.9/24",
                                                  "gateway": "10.9.0.1"}},
                           "dr_addresses6": {"1": {"address": "fd09::9/64", "gateway": None}}}}}
    xe, calls = tmp_path / "xe", tmp_path / "calls"
    xe.write_text(READDRESS_XE)
    xe.chmod(0o755)
    result = run_readdress(plan, xe, calls, "vm-db vm-web", skipped="")
    assert result.returncode == 0, result.stderr
    key = "xenstore-data:vm-data/networks/0/"
    assert [c for c in calls.read_text().splitlines()
            if not c.startswith(("vm-param-get", "vif-list"))] == [
        "vif-configure-ipv4 uuid=vif-db-0 mode=static address=10.9.0.9/24 gateway=10.9.0.1",
        "vif-configure-ipv6 uuid=vif-db-1 mode=static address=fd09::9/64",
        "vm-param-set uuid=vm-web {0}type=static {0}ip=10.120.0.7 {0}prefix=24 "
        "{0}netmask=255.255.255.0".format(key),
        "vm-param-set uuid=vm-web {0}type6=static {0}ip6=fd12:0:0:1::7 {0}prefix6=64 "
        "{0}gateway6=fd12:0:0:1::1".format(key)]


def test_a_hook_of_a_group_named_with_a_slash_that_starts_a_daemon_goes_on(tmp_path):
    pid = tmp_path / "daemon.pid"
    script = "\n".join([
        "set -euo pipefail", 'log() { printf "%s\\n" "$*" >&2; }',
        'fail() { log "FAILED: $*"; exit 1; }', 'RUN_ID=r RUN_KIND=failover TARGET_POOL=p',
        runbook_plan.functions({"plan_path": "x.plan"}, {"pool_name": "B"}, NO_PLAN),
        # (a daemon started in the background holds the hook's stdout for its whole life;
        # sed would have read the group's name as its program)
        "hook \"group web/app's after hook\" 60 %s" % q(
            "sleep 60 & echo $! >%s; echo 'started' \\&" % q(str(pid))),
        "log went-on"])
    try:
        result = subprocess.run([BASH, "-c", script], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=30)
    finally:
        if pid.exists():
            os.kill(int(pid.read_text()), 9)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[1:] == [
        "    group web/app's after hook | started &", "group web/app's after hook: done",
        "went-on"], result.stderr


def test_the_runbook_gives_no_address_to_a_name_two_recovered_vms_hold(tmp_path):
    plan = {"readdress": [], "vms": {"web 1": {"dr_addresses": {
        "0": {"address": "10.9.0.7/24", "gateway": None}}}}}
    xe, calls = tmp_path / "xe", tmp_path / "calls"
    # (vm-web2 is a second VM named web 1: a copy, or two VMs of one name at the source)
    xe.write_text(READDRESS_XE.replace('echo "web 1" ;;', 'echo "web 1" ;;\n'
                                       '    "vm-param-get uuid=vm-web2 param-name=name-label")'
                                       ' echo "web 1" ;;'))
    xe.chmod(0o755)
    result = run_readdress(plan, xe, calls, "vm-db vm-web vm-web2")
    assert result.returncode == 0, result.stderr
    assert [c for c in calls.read_text().splitlines() if not c.startswith("vm-param-get")] == []
    assert result.stderr.splitlines() == ["SKIPPED: VM name web 1 is held by more than one "
                                          "recovered VM: none is given 10.9.0.7/24"]


def run_readdress(plan, xe, calls, recovered, skipped="SKIPPED: "):
    """The runbook's re-addressing lines for ``plan``, run by bash with the fake ``xe`` (it
    writes each call to ``calls``), the script having recovered ``recovered``."""
    script = "\n".join(
        ["set -euo pipefail", 'log() { printf "%s\\n" "$*" >&2; }',
         'skip() { log "%s$*"; }' % skipped, 'list() { "$XE" "$@"; }',
         'RECOVERED="%s"' % recovered,
         runbook_plan.functions({"plan_path": "x.plan"}, {"pool_name": "B"}, plan)] +
        runbook_plan.readdress(plan))
    return subprocess.run([BASH, "-c", script], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True,
                          env=dict(os.environ, XE=str(xe), XE_CALLS=str(calls)))
