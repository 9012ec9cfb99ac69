"""Release profiles of the lab (xe_dr/lab/releases.py): what changes between the xapi lines
admins run, each rule on the profiles where it applies, with the exact bytes xe prints."""

import pytest

from xe_dr.lab import releases
from xe_dr.xe.errors import parse_error
from xe_dr.xe.records import parse_map

TASK = "OpaqueRef:5e1f0c2a-9d1b-4c1e-8a0e-0123456789ab"


def test_every_release_builds_a_lab_and_the_default_is_xcp_ng_8_3(lab_factory):
    assert releases.DEFAULT == "xcp-ng-8.3"
    assert sorted(releases.RELEASES) == ["citrix-8.2", "xcp-ng-8.2", "xcp-ng-8.3", "xcp-ng-9",
                                         "xenserver-8", "xenserver-9"]
    with pytest.raises(ValueError):
        lab_factory(release="xenserver-7")


@pytest.mark.parametrize("release, xapi, build, brand", [
    ("citrix-8.2", "1.249", None, "Citrix Hypervisor"),
    ("xcp-ng-8.2", "1.249", None, "XCP-ng"),
    ("xenserver-8", "24.19", "24.19.2", "XenServer"),
    ("xcp-ng-8.3", "24.19", "24.19.2", "XCP-ng"),
    ("xenserver-9", "26.17", "26.17.0", "XenServer"),
])
def test_software_version_as_make_software_version_builds_it(lab_factory, release, xapi,
                                                              build, brand):
    """create_misc.ml make_software_version: ``xapi`` is major.minor on every line; 1.249 has
    no ``xapi_build`` (added with the 23.x line, Xapi_version.version)."""
    lab = lab_factory(release=release)
    master = lab.ok("B", "pool-list", "params=master", "--minimal").value
    version = parse_map(lab.ok("B", "host-param-get", "uuid=" + master,
                               "param-name=software-version").value)
    assert (version["xapi"], version.get("xapi_build"), version["product_brand"]) == \
        (xapi, build, brand)


def _busy_shutdown(lab):
    vm = lab.vm_uuid("web-01")
    lab.poke("A", "VM", vm, current_operations={TASK: "clean_shutdown"})
    return vm, lab.xe("A", "vm-shutdown", "uuid=" + vm)


@pytest.mark.parametrize("release", ["citrix-8.2", "xcp-ng-8.3", "xenserver-8"])
def test_other_operation_in_progress_has_two_parameters_before_25_27(lab_factory, release):
    """ocaml/idl/datamodel_errors.ml: other_operation_in_progress ["class"; "object"] at
    v1.249.42 and v24.19.2; four parameters from v25.27.0."""
    vm, result = _busy_shutdown(lab_factory(release=release))
    assert result.err == ("Another operation involving the object is currently in progress\n"
                          "class: VM\nobject: %s (web-01)\n" % vm)
    error = parse_error(result.err, exit_status=1)
    assert error.code == "OTHER_OPERATION_IN_PROGRESS"
    assert error.param_map == {"class": "VM", "object": "%s (web-01)" % vm,
                               "operation_type": None, "operation_ref": None}


@pytest.mark.parametrize("release", ["xenserver-9", "xcp-ng-9"])
def test_other_operation_in_progress_has_four_parameters_from_25_27(lab_factory, release):
    """datamodel_errors.ml at master: ["class"; "object"; "operation_type"; "operation_ref"]."""
    vm, result = _busy_shutdown(lab_factory(release=release))
    assert result.err == ("Another operation involving the object is currently in progress\n"
                          "class: VM\nobject: %s (web-01)\noperation_type: clean_shutdown\n"
                          "operation_ref: %s\n" % (vm, TASK))
    assert parse_error(result.err, exit_status=1).param_map["operation_type"] == \
        "clean_shutdown"


@pytest.mark.parametrize("text", [
    # v1.249.42 (datamodel_errors.ml, host_is_slave)
    "You cannot make regular API calls directly on a pool member. Please pass API calls via "
    "the master host.\nMaster IP address: 10.0.1.11\n",
    # v24.19.2 and master
    "You cannot make regular API calls directly on a supporter. Please pass API calls via "
    "the coordinator host.\nMaster IP address: 10.0.1.11\n",
    # before v1.249.42
    "You cannot make regular API calls directly on a slave. Please pass API calls via the "
    "master host.\nMaster IP address: 10.0.1.11\n",
])
def test_host_is_slave_in_every_wording(text):
    error = parse_error(text, exit_status=1)
    assert error.code == "HOST_IS_SLAVE"
    assert error.param_map == {"Master IP address": "10.0.1.11"}
    assert "10.0.1.11" in error.hint


def test_sr_device_in_use_is_sm_error_16():
    """sm_exec.ml turns sm's SRInUse (16) into SR_DEVICE_IN_USE, without parameters."""
    error = parse_error("The SR operation cannot be performed because a device underlying "
                        "the SR is in use by the server.\n", exit_status=1)
    assert (error.code, error.params, error.sm_error_number) == ("SR_DEVICE_IN_USE", [], 16)
