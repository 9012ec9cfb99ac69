import collections

import pytest

from xe_dr.xe.argv import build_argv


def test_command_only():
    assert build_argv("xe", "pool-sync-database") == ["xe", "pool-sync-database"]


def test_scalars_in_order():
    params = collections.OrderedDict([("uuid", "abc"), ("order", 3), ("force", True),
                                      ("paused", False), ("name-description", "")])
    assert build_argv("/opt/xensource/bin/xe", "vm-param-set", params) == [
        "/opt/xensource/bin/xe", "vm-param-set", "uuid=abc", "order=3", "force=true",
        "paused=false", "name-description="]


def test_maps_give_one_argument_per_key():
    params = collections.OrderedDict([
        ("type", "lvmoiscsi"),
        ("device-config", collections.OrderedDict([("target", "10.0.0.5"),
                                                   ("targetIQN", "iqn.2001-05.com.example:lun1"),
                                                   ("port", 3261), ("SCSIid", None)])),
        ("database", {"vdi-uuid": ""}),
    ])
    assert build_argv("xe", "sr-probe", params) == [
        "xe", "sr-probe", "type=lvmoiscsi", "device-config:target=10.0.0.5",
        "device-config:targetIQN=iqn.2001-05.com.example:lun1", "device-config:port=3261",
        "database:vdi-uuid="]


def test_lists_are_comma_joined():
    params = collections.OrderedDict([("params", ["uuid", "name-label"]),
                                      ("sr-whitelist", ("a", "b")), ("empty", [])])
    assert build_argv("xe", "x-list", params)[2:] == [
        "params=uuid,name-label", "sr-whitelist=a,b", "empty="]


def test_list_in_a_map():
    argv = build_argv("xe", "sr-probe", {"device-config": {"target": ["10.0.0.5", "10.0.0.6"]}})
    assert argv[2:] == ["device-config:target=10.0.0.5,10.0.0.6"]


def test_none_is_omitted():
    assert build_argv("xe", "vm-list", {"params": None, "uuid": "u"})[2:] == ["uuid=u"]


def test_filter_keys_with_colons():
    argv = build_argv("xe", "vm-list", collections.OrderedDict([
        ("is-control-domain", False), ("other-config:xe-dr-run", "r1")]))
    assert argv[2:] == ["is-control-domain=false", "other-config:xe-dr-run=r1"]


def test_flags():
    argv = build_argv("xe", "vm-shutdown", {"uuid": "u"}, flags=("force", "--multiple", "force"))
    assert argv == ["xe", "vm-shutdown", "uuid=u", "--force", "--multiple"]


def test_values_are_not_quoted():
    argv = build_argv("xe", "vm-param-set", {"name-label": "it's a \"vm\" $(rm -rf /) ; x"})
    assert argv[2] == "name-label=it's a \"vm\" $(rm -rf /) ; x"


def test_non_ascii_value():
    assert build_argv("xe", "vm-list", {"name-label": "Zürich ☃"})[2] == "name-label=Zürich ☃"


@pytest.mark.parametrize("value", ["a\nuuid=other", "a\r", "a\0b"])
def test_newlines_would_inject_arguments(value):
    with pytest.raises(ValueError) as info:
        build_argv("xe", "vm-param-set", {"device-config": {"chappassword": value}})
    assert value not in str(info.value)
    assert "device-config:chappassword" in str(info.value)


def test_comma_in_a_list_item():
    with pytest.raises(ValueError):
        build_argv("xe", "drtask-create", {"sr-whitelist": ["a,b"]})


@pytest.mark.parametrize("key", ["server", "password", "username", "port", "debug"])
def test_client_options_are_not_parameters(key):
    with pytest.raises(ValueError):
        build_argv("xe", "vm-list", {key: "x"})


@pytest.mark.parametrize("key", ["", "a=b", "a b", "-s", 5])
def test_bad_names(key):
    with pytest.raises(ValueError):
        build_argv("xe", "vm-list", {key: "x"})


def test_bad_map_key():
    with pytest.raises(ValueError):
        build_argv("xe", "sr-probe", {"device-config": {"a=b": "x"}})


@pytest.mark.parametrize("value", [1.5, object(), b"bytes", [["nested"]], {"a": {"b": "c"}}])
def test_bad_value_types(value):
    with pytest.raises(TypeError):
        build_argv("xe", "vm-list", {"k": value})


@pytest.mark.parametrize("flag", ["help", "--help", "Minimal", "a b", ""])
def test_bad_flags(flag):
    with pytest.raises(ValueError):
        build_argv("xe", "vm-list", flags=(flag,))


@pytest.mark.parametrize("command", ["", "vm list", "--help", "vm-list;", None])
def test_bad_commands(command):
    with pytest.raises(ValueError):
        build_argv("xe", command)
