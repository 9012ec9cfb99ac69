"""Issue 15: a host plugin that is installed but does not answer (here, as after a ``pip
install`` that left out the lab's XenAPI stand-ins, a plugin whose import fails) is named with
its host and its error's last line; a failover or failback then goes on with plain xe and says
so (a note, the confirmations, the report's warnings); ``--plugin required`` refuses instead,
before any change (exit 78), as it does on a master without the plugin."""

import os

import pytest

from tests.fixtures_workflow import run_cli

# Replicated and protected in the default lab: plain xe recovers it as the plugin does.
VAPP = "erp"
CAUSE = "ModuleNotFoundError: No module named 'XenAPIPlugin_gone'"


def protect(drill):
    names = [uuid for uuid, _ in drill.lab.replicated_srs()]
    drill.ok("A", "replication", "enable", *names)
    drill.ok("B", "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")


def master(drill, site):
    uuid = drill.lab.ok(site, "pool-list", "params=master", "--minimal").value
    name = drill.lab.ok(site, "host-param-get", "uuid=" + uuid, "param-name=name-label").value
    return uuid, name


def break_plugin(drill, site):
    """The master's plugin fails at its import, as the lab's did when installed from a wheel
    without its XenAPI stand-ins (a traceback on stderr, exit 1)."""
    uuid, name = master(drill, site)
    path = os.path.join(drill.lab.lab.plugin_dir(uuid), "xe-dr")
    with open(path) as handle:
        first = handle.readline()
    with open(path, "w") as handle:
        handle.write(first + "import XenAPIPlugin_gone\n")
    return name


def plugin_calls(drill, mark):
    return [c for c in drill.lab.call_log()[mark:] if c["command"] == "host-call-plugin"]


def recoveries(report):
    return [e for e in report["journal"]
            if e["event"] == "begin" and e["step"].startswith("recover:")]


@pytest.fixture
def broken(drill):
    protect(drill)
    drill.broken_on = break_plugin(drill, "B")
    drill.lab.mirror("break")
    return drill


def test_a_plugin_that_does_not_answer_falls_back_to_plain_xe_and_says_so(broken):
    result = broken.xedr("B", "--json", "failover", "--test", "--vapp", VAPP,
                         *broken.storage_args("B"))
    assert result.code == 0, result
    report = result.json
    assert report["outcome"] == "succeeded" and report["plugin"] is False
    assert [i["name_label"] for i in report["items"] if i.get("recovered_vms")] == [VAPP]
    assert recoveries(report) and all(e["data"].get("via") != "plugin"
                                      for e in recoveries(report))
    [warning] = [w for w in report["warnings"] if "plain xe" in w]
    assert warning.startswith("the host plugin on %s (the master) does not answer ("
                              "XENAPI_PLUGIN_FAILURE: non-zero exit: %s)" % (
                                  broken.broken_on, CAUSE)), warning
    assert "several times slower" in warning
    dry = broken.xedr("B", "failover", "--test", "--vapp", VAPP, "--dry-run",
                      *broken.storage_args("B"))
    assert dry.code == 0 and warning + "\n" in dry.err, dry  # said as it goes
    text = broken.xedr("B", "report", report["run"], "--format", "text")
    assert text.code == 0 and "plain xe" in text.out, text


def test_a_real_failover_asks_knowing_it_goes_on_with_plain_xe(broken):
    broken.lab.disaster("A")
    result = broken.xedr("B", "failover", "--vapp", VAPP, *broken.storage_args("B"),
                         stdin="yes\nyes\n", tty=True)
    assert result.code == 0, result
    questions = result.err.split("Go on? [yes/no]")[:2]
    assert len(questions) == 2
    for question in questions:
        assert "WARNING: the host plugin on %s (the master) does not answer" % (
            broken.broken_on) in question
        assert "goes on with plain xe" in question


def test_plugin_required_refuses_a_plugin_that_does_not_answer_before_any_change(broken):
    before = broken.snapshot("B")
    for args in (("--dry-run",), ()):
        result = broken.xedr("B", "--plugin", "required", "failover", "--test", "--vapp", VAPP,
                             *(broken.storage_args("B") + list(args)))
        assert result.code == 78, result
        line = result.err.strip().splitlines()[-1]  # progress lines may come before it
        assert "Traceback" not in result.err and line.startswith("xe-dr: error: --plugin required: the xe-dr host plugin on %s "
                               "(the master) does not answer (XENAPI_PLUGIN_FAILURE: non-zero "
                               "exit: %s)" % (broken.broken_on, CAUSE)), line
        assert "xe-dr plugin install" in line
    assert broken.snapshot("B") == before
    assert broken.xedr("B", "--json", "runs").json["runs"] == []


def test_plugin_required_refuses_a_master_without_the_plugin(drill):
    names = [uuid for uuid, _ in drill.lab.replicated_srs()]
    drill.ok("A", "replication", "enable", *names)
    drill.lab.mirror("break")
    _, name = master(drill, "B")
    result = drill.xedr("B", "failover", "--test", "--vapp", VAPP, *drill.storage_args("B"),
                        "--plugin", "required")  # a global option after the command
    assert result.code == 78, result
    assert "the xe-dr host plugin on %s (the master) is not installed" % name in result.err


def test_plugin_off_and_no_plugin_never_ask_it(broken):
    for option in (["--plugin", "off"], ["--no-plugin"]):
        mark = len(broken.lab.call_log())
        result = broken.xedr("B", "--json", *option, "failover", "--test", "--vapp", VAPP,
                             "--dry-run", *broken.storage_args("B"))
        # 3: before the attach, a dry run cannot check the vApp's name (ExitCode.UNCHECKED).
        assert result.code == 3, result
        assert plugin_calls(broken, mark) == [] and result.json["warnings"] == []


def test_plugin_status_and_install_name_each_host_and_the_cause(broken):
    status = broken.xedr("B", "plugin", "status")
    assert status.code == 1
    assert "%s [master]: FAILS: XENAPI_PLUGIN_FAILURE: non-zero exit: %s" % (
        broken.broken_on, CAUSE) in status.out.splitlines(), status


def test_an_unknown_plugin_mode_is_a_usage_error():
    code, out, err = run_cli(["--plugin", "sometimes", "runs"])
    assert code == 64 and "--plugin" in err and "'required'" in err


def test_inventory_reads_with_plain_xe_when_the_plugin_does_not_answer(broken):
    broken.lab.failover_task("B")
    result = broken.xedr("B", "--json", "inventory")
    assert result.code == 0, result
    assert result.json["plugin"] is False and result.json["sources"]
    assert "xe-dr: warning: the host plugin on %s (the master) does not answer (" \
           "XENAPI_PLUGIN_FAILURE: non-zero exit: %s): read with plain xe" % (
               broken.broken_on, CAUSE) in result.err, result


def test_status_reads_with_plain_xe_when_the_plugin_does_not_answer(drill):
    protect(drill)
    drill.ok("A", "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")
    plain = drill.xedr("A", "--json", "--no-plugin", "status")
    name = break_plugin(drill, "A")
    result = drill.xedr("A", "--json", "status")
    assert result.code == plain.code, result
    assert result.json["plugin"] is False
    assert any("the host plugin on %s (the master) does not answer" % name in note and
               CAUSE in note for note in result.json["notes"]), result.json["notes"]
