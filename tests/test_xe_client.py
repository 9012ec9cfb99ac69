"""The Xe client over a fake runner with canned outputs."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from xe_dr.errors import UsageError
from xe_dr.exitcodes import ExitCode
from xe_dr.runner.base import CommandTimedOut, Runner, TransportFailed
from xe_dr.xe import XapiError, Xe, XeOutputError, build_argv, xe_extra_args

VM_LIST = (
    "uuid ( RO)           : 0d7f6a52-1111-4c2e-9e3a-6c1a2b3c4d5e\n"
    "     name-label ( RW): web01\n"
    "    power-state ( RO): halted\n"
    "\n"
    "\n")
UUID_INVALID = ("The uuid you supplied was invalid.\n"
                "type: VM\n"
                "uuid: 00000000-dead-beef-0000-000000000000\n")


class FakeRunner(Runner):
    """Answers each argv (as a tuple) from a dict of (exit_code, stdout, stderr) or an
    exception to raise; records what it was asked: (argv, input, timeout, env)."""

    description = "fake"

    def __init__(self, outputs):
        super(FakeRunner, self).__init__(timeout=30)
        self.outputs = outputs
        self.calls = []

    def _execute(self, argv, input, timeout, secrets, env):
        self.calls.append((list(argv), input, timeout, env))
        answer = self.outputs[tuple(argv)]
        if isinstance(answer, Exception):
            raise answer
        return answer


def xe_with(outputs, **kwargs):
    runner = FakeRunner(outputs)
    return Xe(runner, **kwargs), runner


def test_constructor_does_no_io():
    runner = FakeRunner({})
    xe = Xe(runner, xe_path="/opt/xensource/bin/xe", timeout=5)
    assert runner.calls == []
    assert "fake" in repr(xe)


def test_run_returns_stdout():
    xe, runner = xe_with({("xe", "drtask-create", "type=lvmoiscsi",
                           "device-config:target=10.0.0.5", "sr-whitelist=a,b"):
                          (0, "5c4e0f2a\n", "")})
    out = xe.run("drtask-create", {"type": "lvmoiscsi", "device-config": {"target": "10.0.0.5"},
                                   "sr-whitelist": ["a", "b"]})
    assert out == "5c4e0f2a\n"


def test_value():
    xe, _ = xe_with({("xe", "sr-introduce", "uuid=u"): (0, "u\n", "")})
    assert xe.value("sr-introduce", {"uuid": "u"}) == "u"


def test_timeouts():
    xe, runner = xe_with({("xe", "pool-sync-database"): (0, "", "")}, timeout=7)
    xe.run("pool-sync-database")
    xe.run("pool-sync-database", timeout=3)
    assert [call[2] for call in runner.calls] == [7, 3]
    xe, runner = xe_with({("xe", "pool-sync-database"): (0, "", "")})
    xe.run("pool-sync-database")
    assert runner.calls[0][2] == 30  # the runner's own default


def test_list_records_and_filters():
    argv = ("/x/xe", "vm-list", "is-control-domain=false", "other-config:xe-dr-run=r1",
            "params=uuid,name-label,power-state", "database:vdi-uuid=v1")
    xe, runner = xe_with({argv: (0, VM_LIST, "")}, xe_path="/x/xe")
    records = xe.list("vm", params=("uuid", "name-label", "power-state"),
                      filters={"is-control-domain": False, "other-config:xe-dr-run": "r1"},
                      database="v1")
    assert records == [{"uuid": "0d7f6a52-1111-4c2e-9e3a-6c1a2b3c4d5e", "name-label": "web01",
                        "power-state": "halted"}]
    assert records[0].modes["name-label"] == "RW"


def test_list_empty_and_database_file():
    xe, _ = xe_with({("xe", "appliance-list", "params=all", "database:filename=/tmp/db.xml"):
                     (0, "", "")})
    assert xe.list("appliance", params="all", database={"filename": "/tmp/db.xml"}) == []


def test_minimal_and_uuids():
    xe, runner = xe_with({
        ("xe", "pool-list", "params=master", "--minimal"): (0, "h1\n", ""),
        ("xe", "vdi-list", "type=Metadata", "params=uuid", "--minimal"): (0, "a,b\\,c\n", ""),
        ("xe", "vm-list", "params=uuid", "database:vdi-uuid=v", "--minimal"): (0, "\n", ""),
    })
    assert xe.minimal("pool-list", {"params": "master"}) == ["h1"]
    assert xe.uuids("vdi", filters={"type": "Metadata"}) == ["a", "b,c"]
    assert xe.uuids("vm", database="v") == []


@pytest.mark.parametrize("fields", [["uuid", "name-label"], "uuid,name-label", "all", []])
def test_minimal_refuses_several_fields(fields):
    xe, runner = xe_with({})
    with pytest.raises(ValueError):
        xe.minimal("vm-list", {"params": fields})
    assert runner.calls == []


def test_param_get():
    xe, _ = xe_with({
        ("xe", "host-param-get", "uuid=h1", "param-name=software-version",
         "param-key=product_version"): (0, "8.2.1\n", ""),
        ("xe", "vm-param-get", "uuid=v", "param-name=order", "database:vdi-uuid=m"):
            (0, "2\n", ""),
        ("xe", "vm-param-get", "uuid=v", "param-name=name-description"): (0, "a\nb\n", ""),
    })
    assert xe.param_get("host", "h1", "software-version", key="product_version") == "8.2.1"
    assert xe.param_get("vm", "v", "order", database="m") == "2"
    assert xe.param_get("vm", "v", "name-description") == "a\nb"


def test_param_list():
    xe, _ = xe_with({("xe", "vm-param-list", "uuid=u"): (0, VM_LIST, ""),
                     ("xe", "vm-param-list", "uuid=two"): (0, VM_LIST + VM_LIST, "")})
    assert xe.param_list("vm", "u")["name-label"] == "web01"
    with pytest.raises(XeOutputError):
        xe.param_list("vm", "two")


def test_param_set_add_remove_clear():
    xe, runner = xe_with({
        ("xe", "vm-param-set", "uuid=u", "order=2", "other-config:xe-dr-run=r1"): (0, "", ""),
        ("xe", "vm-param-add", "uuid=u", "param-name=other-config", "a=1"): (0, "", ""),
        ("xe", "vm-param-add", "uuid=u", "param-name=tags", "param-key=dr"): (0, "", ""),
        ("xe", "vm-param-remove", "uuid=u", "param-name=other-config", "param-key=a"):
            (0, "", ""),
        ("xe", "vm-param-clear", "uuid=u", "param-name=tags"): (0, "", ""),
    })
    xe.param_set("vm", "u", {"order": 2, "other-config": {"xe-dr-run": "r1"}})
    xe.param_add("vm", "u", "other-config", {"a": "1"})
    xe.param_add("vm", "u", "tags", key="dr")
    xe.param_remove("vm", "u", "other-config", "a")
    xe.param_clear("vm", "u", "tags")
    assert len(runner.calls) == 5


def test_call_plugin():
    xe, _ = xe_with({("xe", "host-call-plugin", "host-uuid=h", "plugin=xe-dr", "fn=version",
                      "args:x=1"): (0, '{"version": "1"}\n', ""),
                     ("xe", "host-call-plugin", "host-uuid=h", "plugin=xe-dr", "fn=ping"):
                         (0, "\n", "")})
    assert xe.call_plugin("h", "xe-dr", "version", {"x": "1"}) == '{"version": "1"}'
    assert xe.call_plugin("h", "xe-dr", "ping", {}) == ""


def test_failure_becomes_xapi_error():
    xe, _ = xe_with({("xe", "vm-start", "uuid=00000000-dead-beef-0000-000000000000"):
                     (1, "", UUID_INVALID)})
    with pytest.raises(XapiError) as info:
        xe.run("vm-start", {"uuid": "00000000-dead-beef-0000-000000000000"})
    error = info.value
    assert error.code == "UUID_INVALID"
    assert error.command == "xe vm-start uuid=00000000-dead-beef-0000-000000000000"
    assert error.result.exit_code == 1
    assert error.__cause__ is None
    assert error.exit_code == ExitCode.FAILED


def test_plugin_missing_is_recognisable():
    xe, _ = xe_with({("xe", "host-call-plugin", "host-uuid=h", "plugin=xe-dr", "fn=version"):
                     (1, "", "The requested plug-in could not be found.\nname: xe-dr\n")})
    with pytest.raises(XapiError) as info:
        xe.call_plugin("h", "xe-dr", "version")
    assert info.value.code == "XENAPI_MISSING_PLUGIN"


def test_secrets_are_redacted_in_the_error():
    argv = ("xe", "sr-probe", "type=lvmoiscsi", "device-config:chappassword=hunter2",
            "device-config:chapuser=bob")
    stderr = ("The server failed to handle your request, due to an internal error. The given "
              "message may give details useful for debugging the problem.\n"
              "message: Failure: login as bob with hunter2 failed\n")
    xe, _ = xe_with({argv: (1, "", stderr)})
    with pytest.raises(XapiError) as info:
        xe.run("sr-probe", {"type": "lvmoiscsi",
                            "device-config": {"chappassword": "hunter2", "chapuser": "bob"}},
               secrets=("hunter2",))
    error = info.value
    for text in (str(error), repr(error), error.one_line(), error.stderr, error.command):
        assert "hunter2" not in text
    assert "device-config:chappassword=<redacted>" in error.command


def test_transport_failures_pass_through():
    timed_out = CommandTimedOut("no answer within 5s")
    xe, _ = xe_with({("xe", "pool-list"): TransportFailed("ssh: connection refused"),
                     ("xe", "host-list"): timed_out})
    with pytest.raises(TransportFailed) as info:
        xe.run("pool-list")
    assert not isinstance(info.value, XapiError)
    with pytest.raises(CommandTimedOut) as info:
        xe.run("host-list")
    assert info.value is timed_out


def test_unreadable_output_names_the_command():
    xe, _ = xe_with({("xe", "vm-list", "params=uuid"): (0, "garbage\n", "")})
    with pytest.raises(XeOutputError) as info:
        xe.list("vm", params=["uuid"])
    assert "xe vm-list params=uuid" in str(info.value)
    assert "garbage" in str(info.value)


def test_connection_failure_exit_code():
    xe, _ = xe_with({("xe", "pool-list"): (1, "", "Lost connection to the server.\n")})
    with pytest.raises(XapiError) as info:
        xe.run("pool-list")
    assert info.value.code == "CLI_CONNECTION_FAILED"
    assert info.value.exit_code == ExitCode.UNREACHABLE


# -- secret_params: through XE_EXTRA_ARGS, never in argv --

SR_PROBE = ("xe", "sr-probe", "type=lvmoiscsi", "device-config:target=10.0.0.5",
            "device-config:chapuser=bob")


def test_secret_params_go_in_xe_extra_args_not_argv():
    xe, runner = xe_with({SR_PROBE: (0, "<xml/>\n", "")})

    out = xe.run("sr-probe", {"type": "lvmoiscsi",
                              "device-config": {"target": "10.0.0.5", "chapuser": "bob"}},
                 secret_params={"device-config": {"chappassword": "s3,cr=3t"}})

    assert out == "<xml/>\n"
    argv, _, _, env = runner.calls[0]
    assert tuple(argv) == SR_PROBE
    assert env == {"XE_EXTRA_ARGS": "device-config:chappassword=s3\\,cr=3t"}


def test_several_secret_params_are_joined_and_value_passes_them_through():
    xe, runner = xe_with({("xe", "sr-create", "name-label=x"): (0, "sr-uuid\n", "")})

    uuid = xe.value("sr-create", {"name-label": "x"},
                    secret_params={"device-config": {"chappassword": "a,b",
                                                     "incoming_chappassword": "c"},
                                   "other": None})

    assert uuid == "sr-uuid"
    assert runner.calls[0][3] == {"XE_EXTRA_ARGS": "device-config:chappassword=a\\,b,"
                                                   "device-config:incoming_chappassword=c"}


def test_without_secret_params_no_environment_is_added():
    xe, runner = xe_with({("xe", "pool-list"): (0, "", "")})

    xe.run("pool-list")
    xe.run("pool-list", secret_params={"device-config": {"chappassword": None}})

    assert [call[3] for call in runner.calls] == [{}, {}]


def test_a_backslash_in_a_secret_is_refused_before_anything_runs():
    xe, runner = xe_with({})

    with pytest.raises(UsageError) as refused:
        xe.run("sr-probe", {"type": "lvmoiscsi"},
               secret_params={"device-config": {"chappassword": "dom\\ain-pw"}})

    error = refused.value
    assert error.exit_code == ExitCode.USAGE == 64
    assert runner.calls == []
    text = error.one_line()
    assert "\n" not in text
    assert "device-config:chappassword" in text and "backslash" in text
    assert "chappassword_secret" in text
    assert "dom" not in text and "ain-pw" not in text


def test_a_parameter_in_both_params_and_secret_params_is_refused():
    xe, runner = xe_with({})

    with pytest.raises(ValueError) as refused:
        xe.run("sr-probe", {"device-config": {"chappassword": "a"}},
               secret_params={"device-config": {"chappassword": "b"}})

    assert runner.calls == []
    assert "device-config:chappassword" in str(refused.value)


def test_failure_with_secret_params_never_shows_the_password():
    password = "hunter2,x"
    stderr = ("The server failed to handle your request, due to an internal error. The given "
              "message may give details useful for debugging the problem.\n"
              "message: Failure: login as bob with hunter2,x failed; "
              "args device-config:chappassword=hunter2\\,x\n")
    xe, _ = xe_with({SR_PROBE: (1, "echo: " + password + "\n", stderr)})

    with pytest.raises(XapiError) as info:
        xe.run("sr-probe", {"type": "lvmoiscsi",
                            "device-config": {"target": "10.0.0.5", "chapuser": "bob"}},
               secret_params={"device-config": {"chappassword": password}})

    error = info.value
    assert error.code == "INTERNAL_ERROR"
    texts = [str(error), repr(error), error.one_line(), error.stderr, error.command,
             error.description, repr(error.result)] + list(error.params)
    for text in texts:
        assert "hunter2" not in text, text
    assert "login as bob with <redacted> failed" in error.stderr


# An oracle for the xe client's reading of XE_EXTRA_ARGS: the same steps as newcli.ml, on
# bytes (the client works on bytes; ',' and '\\' never occur inside a UTF-8 sequence).
def newcli_split(value):
    data = value.encode("utf-8")
    items, pos, i = [], 0, 0
    while pos < len(data):
        if data[pos:pos + 1] == b",":  # an empty item is skipped
            pos += 1
            i = pos
        elif i >= len(data) or (data[i:i + 1] == b"," and data[i - 1:i] != b"\\"):
            items.append(data[pos:i].replace(b"\\", b"").decode("utf-8"))
            i += 1
            pos = i
        else:
            i += 1
    return items


def test_the_oracle_behaves_like_newcli():
    assert newcli_split("a=1,b=2") == ["a=1", "b=2"]
    assert newcli_split(",,a=1,,") == ["a=1"]
    assert newcli_split("a=x\\,y,b=\\z") == ["a=x,y", "b=z"]
    assert newcli_split("") == []


_PASSWORDS = st.text(st.characters(blacklist_characters="\\\n\r\0",
                                   blacklist_categories=("Cs",)))
_SUBKEYS = st.sampled_from(["chappassword", "incoming_chappassword", "password,odd", "k"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_SUBKEYS, _PASSWORDS, min_size=1))
@example({"chappassword": ","})
@example({"chappassword": ",,a=b,"})
@example({"chappassword": ""})
def test_xe_extra_args_round_trips_through_the_client_rules(secrets):
    secret_params = {"device-config": secrets}
    args = build_argv("xe", "sr-probe", secret_params)[2:]

    assert newcli_split(xe_extra_args(args)) == args
    xe, runner = xe_with({("xe", "sr-probe"): (0, "", "")})
    xe.run("sr-probe", secret_params=secret_params)
    assert newcli_split(runner.calls[0][3]["XE_EXTRA_ARGS"]) == args


@given(_PASSWORDS, _PASSWORDS)
def test_any_backslash_is_refused(before, after):
    with pytest.raises(UsageError):
        xe_extra_args(["device-config:chappassword=%s\\%s" % (before, after)])
