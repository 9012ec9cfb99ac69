"""Fault suite (issue 7), part 2: XAPI errors injected on recover, start, pbd-plug and
drtask-create (lab faults: a chosen error on the Nth call of one command).

What each asserts:

- a VM's ``vm-recover`` or ``vm-start`` failing leaves that VM out and the run goes on with
  the others: exit 2, the ``--json`` report and the run's report.json name the failed step,
  its VM and the error; the item is marked failed;
- ``pbd-plug`` or ``drtask-create`` failing stops the run before anything is recovered (the
  documented behaviour of a storage failure: exit 1, one line on stderr naming the command
  and the error and saying how to resume; report.json outcome ``failed`` with that error);
- a resume, once the fault is cleared, redoes only what failed (and what was never tried):
  counted in the lab's call log, no second recover or start of an object already done, no
  second DR task for a LUN already attached; it reaches the state of an uninterrupted run.

Runs go one object at a time (``--parallel 1``) so that "the Nth call" names one object.
"""

import json

import pytest

from tests.fixtures_remote import count, run_file, run_ids
from tests.fixtures_workflow import Drill
from tests.test_crash_resume import normalized
from xe_dr.runner.local import LocalRunner
from xe_dr.xe import XapiError, Xe

SELECTION = ["--vm", "mon-01", "--vm", "cache-01", "--vm", "queue-01", "--parallel", "1"]
TEST = ["failover", "--test"] + SELECTION
FAILOVER = ["failover"] + SELECTION  # a real failover: it starts the VMs


def only_run(state):
    ids = run_ids(state)
    assert len(ids) == 1, ids
    return ids[0]


def error_lines(result):
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert "Traceback" not in result.err
    return lines


def failed_items(report):
    return [i for i in report["items"] if i.get("failed")]


def resume(drill, run_id):
    """Clear the lab's faults, resume; returns (result, the resume's xe calls)."""
    drill.lab.cli("fault", "clear")
    before = len(drill.lab.call_log())
    result = drill.xedr("B", "--json", "--yes", "failover", "--resume", run_id)
    return result, drill.lab.call_log()[before:]


def uuid_of_call(call):
    return [a.partition("=")[2] for a in call["args"] if a.startswith("uuid=")][0]


# -- per-object failures: the rest goes on, exit 2 ------------------------------------------

def test_a_vm_recover_error_leaves_that_vm_out_and_resume_recovers_only_it(
        dr_lab, dr_storage, dr_reference):
    lab, state = dr_lab
    drill = Drill(lab, state)
    expected_code, expected = dr_reference(TEST, code=0)
    lab.fault(site="B", command="vm-recover", nth=2,
              error=["VDI_LOCATION_MISSING", "OpaqueRef:0b1c", "injected-location"])
    result = drill.xedr("B", "--json", "--yes", *(TEST + dr_storage))

    assert result.code == 2, result
    report = result.json
    assert report["outcome"] == "partly failed"
    recovers = [c for c in lab.call_log() if c["command"] == "vm-recover"]
    assert [c["exit"] for c in recovers] == [0, 1, 0]  # the third went on after the second
    failed_uuid = uuid_of_call(recovers[1])
    [failure] = report["failures"]
    assert "recover:vm:" + failed_uuid in failure and "VDI_LOCATION_MISSING" in failure
    [item] = failed_items(report)
    assert item["uuid"] == failed_uuid and not item["recovered_vms"]
    assert sorted(i["uuid"] for i in report["items"] if i["recovered_vms"]) == sorted(
        uuid_of_call(c) for c in (recovers[0], recovers[2]))
    saved = run_file(state, report["run"], "report.json")
    assert saved["failures"] == report["failures"] and saved["outcome"] == "partly failed"
    assert run_file(state, report["run"], "run.json")["exit_code"] == 2

    resumed, calls = resume(drill, report["run"])
    assert resumed.code == expected_code, resumed
    assert [uuid_of_call(c) for c in calls if c["command"] == "vm-recover"] == [failed_uuid]
    assert not resumed.json["failures"]
    assert normalized(lab) == expected


def test_a_vm_start_error_leaves_that_vm_halted_and_resume_starts_only_it(
        dr_lab, dr_storage, dr_reference):
    lab, state = dr_lab
    drill = Drill(lab, state)
    expected_code, expected = dr_reference(FAILOVER, code=0)
    # What xapi says when the host has not enough memory for the VM (bytes needed, free).
    lab.fault(site="B", command="vm-start", nth=2,
              error=["HOST_NOT_ENOUGH_FREE_MEMORY", "4294967296", "1073741824"])
    result = drill.xedr("B", "--json", "--yes", *(FAILOVER + dr_storage))

    assert result.code == 2, result
    report = result.json
    starts = [c for c in lab.call_log() if c["command"] == "vm-start"]
    assert [c["exit"] for c in starts] == [0, 1, 0]
    failed_uuid = uuid_of_call(starts[1])
    [failure] = report["failures"]
    assert "start:vm:" + failed_uuid in failure
    assert "Not enough server memory" in failure
    [item] = failed_items(report)
    assert item["uuid"] == failed_uuid and item["recovered_vms"] and not item["started"]
    assert run_file(state, report["run"], "report.json")["failures"] == report["failures"]
    state_of = dict((vm, lab.ok("B", "vm-param-get", "uuid=" + vm,
                                "param-name=power-state").value)
                    for vm in (uuid_of_call(c) for c in starts))
    assert state_of[failed_uuid] == "halted"
    assert sorted(state_of.values()) == ["halted", "running", "running"]

    resumed, calls = resume(drill, report["run"])
    assert resumed.code == expected_code, resumed
    assert count(calls, "vm-recover") == 0
    assert [uuid_of_call(c) for c in calls if c["command"] == "vm-start"] == [failed_uuid]
    assert normalized(lab) == expected


def test_a_start_refused_for_memory_is_reported_with_its_xapi_code(lab):
    vm = lab.ok("B", "vm-list", "is-control-domain=false", "params=uuid",
                "--minimal").values[0]
    lab.fault(site="B", command="vm-start",
              error=["HOST_NOT_ENOUGH_FREE_MEMORY", "4294967296", "1073741824"])
    xe = Xe(LocalRunner(), xe_path=lab.xe_path("B"))
    with pytest.raises(XapiError) as failure:
        xe.run("vm-start", {"uuid": vm})
    assert failure.value.code == "HOST_NOT_ENOUGH_FREE_MEMORY", failure.value.one_line()


def test_a_vapp_recover_error_leaves_the_vapp_whole_for_the_resume(
        dr_lab, dr_storage, dr_reference):
    lab, state = dr_lab
    drill = Drill(lab, state)
    args = ["failover", "--test", "--all", "--parallel", "1"]
    # The lab's unprotected VMs make --all with plain xe a partial success
    # (tests/test_workflows.py UNPROTECTED).
    expected_code, expected = dr_reference(args, code=2)
    lab.fault(site="B", command="appliance-recover", nth=1,
              error=["VDI_LOCATION_MISSING", "OpaqueRef:0b1c", "injected-location"])
    result = drill.xedr("B", "--json", "--yes", *(args + dr_storage))
    assert result.code == 2, result
    failed = failed_items(result.json)
    assert [i["kind"] for i in failed] == ["appliance"], failed
    vapp = failed[0]["uuid"]
    members = lab.ok("A", "vm-list", "appliance=" + vapp, "params=uuid", "--minimal").values
    assert members
    # Nothing of the failed vApp may be recovered outside it before the resume.
    recovered_alone = [uuid_of_call(c) for c in lab.call_log()
                       if c["command"] == "vm-recover" and uuid_of_call(c) in members]
    assert recovered_alone == []

    resumed, calls = resume(drill, result.json["run"])
    assert resumed.code == expected_code, resumed
    assert normalized(lab) == expected


# -- storage failures stop the run: exit 1, one line, --resume -------------------------------

def unplug_mirrored_srs(lab):
    """Site B knows the mirrored SRs but has them unplugged (DR tasks attached them, then
    every PBD was unplugged), so that a failover plugs them instead of making DR tasks."""
    lab.failover_task("B")
    for sr, _ in lab.replicated_srs():
        for pbd in lab.ok("B", "pbd-list", "sr-uuid=" + sr, "params=uuid", "--minimal").values:
            lab.ok("B", "pbd-unplug", "uuid=" + pbd)


def assert_stopped_by(result, state, command, code):
    """The run stopped at a storage step: exit 1, one line naming the object, the error and
    the resume (the xe command is in the report, and with -v); report.json says so."""
    assert result.code == 1, result
    # With --json the stopped run's report is on stdout; nothing else ever is.
    assert result.out == "" or json.loads(result.out)["outcome"] == "failed"
    [line] = error_lines(result)
    run_id = only_run(state)
    assert line.startswith("xe-dr: error: ")
    assert code in line and " SR" in line, line
    assert "xe-dr failover --resume %s" % run_id in line, line
    saved = run_file(state, run_id, "report.json")
    assert saved["outcome"] == "failed"
    assert code in saved["error"]
    assert any(command in e["data"]["error"] and code in e["data"]["error"]
               for e in saved["journal"] if e["event"] == "failed")
    assert run_file(state, run_id, "run.json")["status"] == "failed"
    assert not [c for c in saved["items"] if c.get("recovered_vms")]
    return run_id


def test_a_pbd_plug_error_stops_the_run_and_resume_plugs_only_what_was_not_plugged(
        dr_base, dr_storage, tmp_path):
    from tests.test_crash_resume import copy_lab
    prepared = copy_lab(dr_base, str(tmp_path / "prepared"))
    unplug_mirrored_srs(prepared)
    reference = Drill(copy_lab(prepared, str(tmp_path / "reference")), str(tmp_path / "rs"))
    expected = reference.xedr("B", "--json", "--yes", *(TEST + dr_storage))
    assert expected.code == 0, expected
    assert count(reference.lab.call_log(), "drtask-create") == 1 + 2  # the setup's only

    drill = Drill(copy_lab(prepared, str(tmp_path / "lab")), str(tmp_path / "state"))
    lab, state = drill.lab, drill.state_dir
    lab.fault(site="B", command="pbd-plug", nth=2,
              error=["SR_BACKEND_FAILURE_47", "", "The SR is not available [opterr=injected]",
                     ""])
    before = len(lab.call_log())
    result = drill.xedr("B", "--json", "--yes", *(TEST + dr_storage))
    run_id = assert_stopped_by(result, state, "pbd-plug", "SR_BACKEND_FAILURE_47")
    plugs = [c for c in lab.call_log()[before:] if c["command"] == "pbd-plug"]
    assert [c["exit"] for c in plugs] == [0, 1]  # nothing after the failure
    assert count(lab.call_log()[before:], "vm-recover") == 0

    resumed, calls = resume(drill, run_id)
    assert resumed.code == 0, resumed
    replugged = [uuid_of_call(c) for c in calls if c["command"] == "pbd-plug"]
    assert uuid_of_call(plugs[0]) not in replugged, "the plugged PBD was plugged again"
    assert uuid_of_call(plugs[1]) in replugged
    assert count(calls, "drtask-create") == 0
    assert normalized(lab) == normalized(reference.lab)


def test_a_drtask_create_error_stops_the_run_and_resume_attaches_only_the_rest(
        dr_lab, dr_storage, dr_reference):
    lab, state = dr_lab
    drill = Drill(lab, state)
    expected_code, expected = dr_reference(TEST, code=0)
    lab.fault(site="B", command="drtask-create", nth=2,
              error=["SR_BACKEND_FAILURE_141", "",
                     "Unable to connect to ISCSI service on target", ""])
    result = drill.xedr("B", "--json", "--yes", *(TEST + dr_storage))
    run_id = assert_stopped_by(result, state, "drtask-create", "SR_BACKEND_FAILURE_141")
    creates = [c for c in lab.call_log() if c["command"] == "drtask-create"]
    assert [c["exit"] for c in creates] == [0, 1]  # the third LUN was not tried
    assert not lab.ok("B", "drtask-list", "--minimal").values[1:]  # one task, none leaked

    def lun(call):
        return [a for a in call["args"] if a.startswith("device-config:SCSIid=")]

    resumed, calls = resume(drill, run_id)
    assert resumed.code == expected_code, resumed
    again = [c for c in calls if c["command"] == "drtask-create"]
    assert len(again) == 2  # the failed LUN and the one never tried
    assert lun(creates[0]) not in [lun(c) for c in again], "the attached LUN got a 2nd task"
    assert lun(creates[1]) in [lun(c) for c in again]
    assert count(calls, "vm-recover") == 3
    assert normalized(lab) == expected


def test_a_run_stopped_by_a_storage_failure_still_prints_its_json_report(
        dr_lab, dr_storage):
    lab, state = dr_lab
    drill = Drill(lab, state)
    lab.fault(site="B", command="drtask-create", nth=1,
              error=["SR_BACKEND_FAILURE_141", "",
                     "Unable to connect to ISCSI service on target", ""])
    result = drill.xedr("B", "--json", "--yes", *(TEST + dr_storage))
    assert result.code == 1, result
    assert result.json["run"] == only_run(state)
    assert result.json["outcome"] == "failed"
    assert "SR_BACKEND_FAILURE_141" in result.json["error"]
