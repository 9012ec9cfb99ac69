"""xe_dr/dr/fidelity.py: the xapi version of a host and what it changes for DR, on the
versions admins run (read in xapi-project/xen-api; see the module's docstring)."""

import pytest

from xe_dr.dr import fidelity

# software-version as create_misc.ml make_software_version builds it (trimmed).
CH_8_2 = {"product_brand": "Citrix Hypervisor", "product_version": "8.2.1", "xapi": "1.249"}
XCP_8_3 = {"product_brand": "XCP-ng", "product_version": "8.3.0", "xapi": "24.19",
           "xapi_build": "24.19.2"}
XS_9 = {"product_brand": "XenServer", "product_version": "9.0.0", "xapi": "26.17",
        "xapi_build": "26.17.0"}


@pytest.mark.parametrize("text, version", [
    ("24.19.2", (24, 19, 2)),
    ("1.249", (1, 249, 0)),
    ("23.22", (23, 22, 0)),
    ("v25.27.0", (25, 27, 0)),
    ("25.6.0-1.xs8", (25, 6, 0)),
    ("", None),
    (None, None),
    ("dev", None),
])
def test_parse_version(text, version):
    assert fidelity.parse_version(text) == version


@pytest.mark.parametrize("software_version, version", [
    (CH_8_2, (1, 249, 0)),          # 1.249 has no xapi_build: major.minor only
    (XCP_8_3, (24, 19, 2)),
    (XS_9, (26, 17, 0)),
    ({"xapi": "24.19", "xapi_build": "dev"}, (24, 19, 0)),        # unreadable build
    ({"xapi": "24.19", "xapi_build": "25.6.0"}, (24, 19, 0)),     # a build that disagrees
    ({"xapi_build": "25.30.0"}, (25, 30, 0)),
    ({}, None),
])
def test_xapi_version_of_a_host(software_version, version):
    assert fidelity.xapi_version(software_version) == version


@pytest.mark.parametrize("version, scans", [
    ((1, 249, 0), True),
    ((23, 21, 0), True),
    ((23, 22, 0), False),   # commit 7c04e3e5e4, CA-379112
    ((24, 19, 2), False),
    ((26, 17, 0), False),
    (None, None),
])
def test_pbd_plug_scans_up_to_23_21(version, scans):
    assert fidelity.plug_scans(version) is scans


@pytest.mark.parametrize("version, count", [
    ((1, 249, 0), 2),
    ((24, 19, 2), 2),
    ((25, 26, 0), 2),
    ((25, 27, 0), 4),
    ((26, 17, 0), 4),
    (None, None),
])
def test_other_operation_in_progress_has_four_parameters_from_25_27(version, count):
    assert fidelity.operation_in_progress_params(version) == count


@pytest.mark.parametrize("version", [(1, 249, 0), (24, 19, 2), (26, 17, 0), None])
def test_an_unmatched_network_fails_recovery_on_every_version(version):
    assert fidelity.unmatched_network_fails(version) is True


def test_a_probe_of_an_attached_lun_is_refused_only_where_multipathing_is_on():
    assert fidelity.probe_refuses_attached_lun(True) is True
    assert fidelity.probe_refuses_attached_lun(False) is False


def test_version_text():
    assert fidelity.version_text((24, 19, 2)) == "24.19.2"
    assert fidelity.version_text(None) == "unknown"
