"""``xe-dr doctor`` says, read-only, what xe-dr will meet on a pool's xapi (issue 12): the
version and the behaviours it implies, multipathing per host, and metadata SRs that xapi has
not scanned or read. On the lab's release profiles."""

import pytest

from xe_dr.dr import fidelity

READS = ("-list", "-param-get", "-param-list")


def behaviours(result):
    return dict((b["name"], b) for b in result.json["xapi"]["behaviours"])


@pytest.mark.parametrize("release, version, build, no_scan, four", [
    ("citrix-8.2", "1.249", None, False, False),
    ("xcp-ng-8.3", "24.19", "24.19.2", True, False),
    ("xenserver-9", "26.17", "26.17.0", True, True),
])
def test_doctor_names_the_xapi_and_what_it_means(drill_factory, release, version, build,
                                                 no_scan, four):
    drill = drill_factory(release=release)
    result = drill.xedr("B", "--json", "doctor")
    assert result.code == 0, result
    assert (result.json["xapi"]["version"], result.json["xapi"]["build"]) == (version, build)
    rules = behaviours(result)
    assert rules["plug-does-not-scan"]["applies"] is no_scan
    assert ("and the operation" in rules["operation-in-progress-parameters"]["what"]) is four
    text = drill.xedr("B", "doctor").out
    assert ("plugging an SR does not scan it" in text) is no_scan


def test_doctor_shows_multipath_and_unread_metadata_and_changes_nothing(drill_factory):
    drill = drill_factory(multipath=["B"])
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    drill.lab.mirror("break")
    sr = drill.lab.replicated_srs()[0][0]
    assert drill.lab.drtask("B", [sr]).code == 0
    before = drill.snapshot("B")
    mark = len(drill.lab.call_log())
    result = drill.xedr("B", "--json", "doctor")
    assert result.code == 0, result
    assert all(h["multipathing"] for h in result.json["hosts"])
    assert [s["uuid"] for s in result.json["unread_srs"]] == [sr]
    assert any("SR_DEVICE_IN_USE" in w for w in result.json["warnings"])
    assert any(sr in w and "not scanned" in w for w in result.json["warnings"])
    # read-only: every call a read (lists, param-gets, the plugin's version), nothing changed
    calls = [c["command"] for c in drill.lab.call_log()[mark:]]
    assert calls and all(c.endswith(READS) or c == "host-call-plugin" for c in calls), calls
    assert drill.snapshot("B") == before


def test_versions_and_rules():
    assert fidelity.version_tuple("1.249") == (1, 249)
    assert fidelity.version_tuple("24.19.2") == (24, 19, 2)
    assert fidelity.version_tuple("unknown") is None
    assert fidelity.plug_scans((23, 21)) and not fidelity.plug_scans((23, 22, 0))
    assert not fidelity.plug_scans(None)
