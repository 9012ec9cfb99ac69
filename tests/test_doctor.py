"""``xe-dr doctor`` on the lab's release profiles: the xapi version of each host, the
behaviours of issue 12 that apply and how xe-dr handles them, multipathing, the host plugin
and its interpreter, the metadata SRs and their VDI records; and that it changes nothing."""

import os

import pytest

from tests.fixtures_workflow import CliResult, run_cli
from xe_dr.dr import plugin_install

BEHAVIOURS = ("plug-does-not-scan", "operation-in-progress-4-params",
              "unmatched-network-fails", "multipath-probe-refused")


def doctor(lab, site, *args):
    code, out, err = run_cli(["--xe", lab.xe_path(site), "doctor", "--host-root",
                              os.path.join(lab.root, "hosts", "{uuid}")] + list(args))
    return CliResult(code, out, err)


def doctor_json(lab, site, *args):
    return doctor(lab, site, "--json", *args)


def behaviour(report, name):
    found = [b for b in report["behaviours"] if b["id"] == name]
    assert len(found) == 1, report["behaviours"]
    return found[0]


def attach_at_b(lab):
    """What a DR task leaves at site B: every replicated SR introduced (drtask-create), the
    mirror broken, nothing scanned by hand."""
    lab.enable_replication()
    lab.mirror("break")
    srs = [sr for sr, _ in lab.replicated_srs()]
    for sr in srs:
        assert lab.drtask("B", [sr]).code == 0
    return srs


def install_plugin(lab, site):
    code, out, err = run_cli(["--xe", lab.xe_path(site), "plugin", "install", "--host-root",
                              os.path.join(lab.root, "hosts", "{uuid}")])
    assert code == 0, err


@pytest.mark.parametrize("release, xapi, build, plug_does_not_scan, four_params", [
    ("citrix-8.2", "1.249", None, False, False),
    ("xcp-ng-8.3", "24.19.2", "24.19.2", True, False),
    ("xenserver-9", "26.17.0", "26.17.0", True, True),
])
def test_doctor_reports_the_behaviours_of_each_release(lab_factory, release, xapi, build,
                                                       plug_does_not_scan, four_params):
    lab = lab_factory(release=release, multipath=["B"])
    result = doctor_json(lab, "B")
    assert result.code == 0, result
    report = result.json
    assert report["xapi"]["version"] == xapi
    assert [b["id"] for b in report["behaviours"]] == list(BEHAVIOURS)
    assert {h["xapi_build"] for h in report["hosts"]} == {build}
    assert behaviour(report, "plug-does-not-scan")["applies"] is plug_does_not_scan
    assert behaviour(report, "operation-in-progress-4-params")["applies"] is four_params
    assert behaviour(report, "unmatched-network-fails")["applies"] is True
    multipath = behaviour(report, "multipath-probe-refused")
    assert multipath["applies"] is True
    assert multipath["hosts"] == sorted(h["name_label"] for h in report["hosts"])
    assert all(h["multipathing"] for h in report["hosts"])
    assert report["problems"] == [] and report["warnings"] == []

    text = doctor(lab, "B").out.splitlines()
    assert "xapi:       %s (the master's; behaviours below follow it)" % xapi in text
    scan_line = [line for line in text if line.startswith("behaviour: PBD.plug")]
    assert len(scan_line) == 1
    if plug_does_not_scan:
        assert "does not scan (xapi >= 23.22.0" in scan_line[0]
        assert scan_line[0].endswith("xe-dr scans every SR it attaches and re-plugs it so "
                                     "xapi finds the newest metadata copy")
    else:
        assert "PBD.plug scans the SR" in scan_line[0]
    assert ("behaviour: OTHER_OPERATION_IN_PROGRESS has %s parameters"
            % (4 if four_params else 2)) in "\n".join(text)
    assert any(line.startswith("behaviour: a network that matches neither by name nor bridge "
                               "fails recovery") and
               line.endswith("xe-dr creates a same-named network first") for line in text)
    assert any("sm refuses a probe of a LUN already attached (SR_DEVICE_IN_USE)" in line and
               line.endswith("xe-dr lists LUNs and does not re-probe attached ones")
               for line in text)
    assert text[-1] == "OK: all is well"

    # site A has multipathing off
    site_a = doctor_json(lab, "A").json
    assert behaviour(site_a, "multipath-probe-refused")["applies"] is False
    assert not any(h["multipathing"] for h in site_a["hosts"])


def test_doctor_changes_nothing(drill_factory):
    drill = drill_factory()
    lab = drill.lab
    attach_at_b(lab)
    lab.ok("B", "sr-scan", "uuid=" + lab.replicated_srs()[0][0])
    install_plugin(lab, "B")
    before = drill.snapshot("B")
    mark = len(lab.call_log())
    for args in ((), ("--json",), ("--no-plugin",)):
        result = doctor(lab, "B", *args)
        assert result.code == 2, result
    calls = lab.call_log()[mark:]
    assert calls
    for call in calls:
        command = call["command"]
        assert command.endswith(("-list", "-param-get")) or (
            command == "host-call-plugin" and "fn=version" in call["args"]), call
    assert any(c["command"] == "host-call-plugin" for c in calls)
    assert drill.snapshot("B") == before


def test_no_plugin_calls_no_plugin(lab):
    install_plugin(lab, "A")
    mark = len(lab.call_log())
    report = doctor_json(lab, "A", "--no-plugin").json
    assert not [c for c in lab.call_log()[mark:] if c["command"] == "host-call-plugin"]
    assert all(h["plugin"] is None for h in report["hosts"])
    assert "the host plugin was not asked (--no-plugin)" in report["notes"]


def test_an_sr_a_dr_task_attached_without_vdi_records_is_a_warning_where_plug_does_not_scan(
        lab_factory):
    lab = lab_factory(release="xcp-ng-8.3")
    srs = attach_at_b(lab)
    result = doctor_json(lab, "B")
    assert result.code == 2, result  # warnings only
    report = result.json
    assert report["problems"] == []
    by_uuid = {sr["uuid"]: sr for sr in report["metadata_srs"]}
    for sr in srs:
        assert by_uuid[sr]["introduced_by"] and by_uuid[sr]["attached"]
        assert (by_uuid[sr]["vdi_records"], by_uuid[sr]["metadata_vdis"]) == (0, [])
        warning = [w for w in report["warnings"] if sr in w]
        assert len(warning) == 1
        assert "has no VDI records: this xapi (24.19.2) does not scan on plug" in warning[0]
        assert "xe sr-scan uuid=%s" % sr in warning[0]
    text = doctor(lab, "B")
    assert text.code == 2
    lines = text.out.splitlines()
    assert len([line for line in lines if line.startswith("WARNING: SR ")]) == len(srs)
    assert lines[-1] == "%d warning(s), no problem" % len(srs)

    # after the scan and the re-plug an administrator (or xe-dr failover) does, all is well
    lab.make_visible("B", srs)
    result = doctor_json(lab, "B")
    assert result.code == 0, result
    _assert_metadata_read(lab, result.json, srs)


def test_the_same_sr_carries_its_records_where_plug_scans(lab_factory):
    lab = lab_factory(release="citrix-8.2")
    srs = attach_at_b(lab)
    result = doctor_json(lab, "B")
    assert result.code == 0, result
    assert result.json["warnings"] == []
    _assert_metadata_read(lab, result.json, srs)


def _assert_metadata_read(lab, report, srs):
    pool_a = lab.ok("A", "pool-list", "params=uuid", "--minimal").value
    by_uuid = {sr["uuid"]: sr for sr in report["metadata_srs"]}
    for sr in srs:
        assert by_uuid[sr]["vdi_records"] > 0
        copies = by_uuid[sr]["metadata_vdis"]
        assert len(copies) == 1 and copies[0]["metadata_of_pool"] == pool_a
        assert copies[0]["this_pool"] is False
    assert any(c["metadata_latest"] for sr in srs for c in by_uuid[sr]["metadata_vdis"])


def test_a_copy_xapi_has_not_read_is_a_warning(lab_factory):
    lab = lab_factory(release="xcp-ng-8.3")
    srs = attach_at_b(lab)
    lab.make_visible("B", srs[1:])
    lab.ok("B", "sr-scan", "uuid=" + srs[0])  # scanned, not plugged again
    result = doctor_json(lab, "B")
    assert result.code == 2, result
    [copy] = [sr for sr in result.json["metadata_srs"] if sr["uuid"] == srs[0]][0][
        "metadata_vdis"]
    assert copy["metadata_of_pool"] is None and copy["metadata_latest"] is False
    [warning] = result.json["warnings"]
    assert srs[0] in warning and copy["uuid"] in warning and "xapi has not read" in warning


def test_the_plugin_version_and_interpreter_of_every_host(lab):
    install_plugin(lab, "A")
    report = doctor_json(lab, "A").json
    shipped = plugin_install.bundled_version()
    assert shipped
    for host in report["hosts"]:
        path = os.path.join(lab.root, "hosts", host["uuid"], "etc", "xapi.d", "plugins",
                            "xe-dr")
        with open(path) as handle:
            first_line = handle.readline().rstrip("\n")
        assert host["plugin"] == shipped and host["plugin_error"] is None
        assert host["plugin_first_line"] == first_line
        assert first_line == "#!/usr/bin/env " + host["plugin_interpreter"]
    [master] = [h for h in report["hosts"] if h["master"]]
    # the Pythons of the master's dom0, as 'plugin install' asks (here: this machine)
    assert isinstance(master["pythons"], list)
    assert master["plugin_install_chooses"] == plugin_install.choose_interpreter(
        master["pythons"]) == master["plugin_interpreter"]
    assert all(h["pythons"] is None for h in report["hosts"] if not h["master"])
    text = doctor(lab, "A").out
    assert "  plugin: version %s, runs under %s" % (shipped, master["plugin_interpreter"]) \
        in text


def test_a_plugin_that_does_not_answer_is_a_problem(lab):
    install_plugin(lab, "A")
    host = lab.ok("A", "pool-list", "params=master", "--minimal").value
    path = os.path.join(lab.root, "hosts", host, "etc", "xapi.d", "plugins", "xe-dr")
    with open(path, "w") as handle:
        handle.write("#!/usr/bin/env python\nimport sys\nsys.exit(3)\n")
    result = doctor_json(lab, "A")
    assert result.code == 1, result
    [entry] = [h for h in result.json["hosts"] if h["uuid"] == host]
    assert entry["plugin"] is None and "XENAPI_PLUGIN_FAILURE" in entry["plugin_error"]
    [problem] = result.json["problems"]
    assert problem.startswith("the host plugin on %s does not answer" % entry["name_label"])
    assert doctor(lab, "A").out.splitlines()[-1] == "1 problem(s), 0 warning(s)"


def test_plugin_status_names_a_plugin_that_does_not_answer_and_goes_on(lab):
    install_plugin(lab, "A")
    master = lab.ok("A", "pool-list", "params=master", "--minimal").value
    path = os.path.join(lab.root, "hosts", master, "etc", "xapi.d", "plugins", "xe-dr")
    with open(path, "w") as handle:
        handle.write("#!/usr/bin/env python\nimport sys\nsys.exit(3)\n")
    code, out, err = run_cli(["--xe", lab.xe_path("A"), "--json", "plugin", "status"])
    assert code == 1, err
    hosts = CliResult(code, out, err).json["hosts"]
    [broken] = [h for h in hosts if h["host"] == master]
    assert broken["version"] is None and "XENAPI_PLUGIN_FAILURE" in broken["error"]
    assert all(h["version"] and h["error"] is None for h in hosts if h["host"] != master)


@pytest.mark.parametrize("line, interpreter", [
    ("#!/usr/bin/env python3", "python3"),
    ("#!/usr/bin/env python", "python"),
    ("#!/usr/bin/python2 -u", "python2"),
    ("#!/usr/bin/env -S python3 -u", "python3"),
    ("# not a first line", None),
    (None, None),
])
def test_the_interpreter_a_first_line_names(line, interpreter):
    assert plugin_install.interpreter_of(line) == interpreter


def test_plugin_install_chooses_python3_only_where_it_has_xenapiplugin():
    def python(name, xenapi):
        return {"name": name, "path": "/usr/bin/" + name, "version": "3.6.15", "xenapi": xenapi}
    assert plugin_install.choose_interpreter([python("python", True),
                                              python("python3", True)]) == "python3"
    assert plugin_install.choose_interpreter([python("python", True),
                                              python("python3", False)]) == "python"
    assert plugin_install.choose_interpreter([python("python", True)]) == "python"
