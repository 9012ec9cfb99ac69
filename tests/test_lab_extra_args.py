"""The fake xe's client side: XE_EXTRA_ARGS and the client's own options, as newcli.ml has them
(``parse_args``: the ``extras`` loop, ``process_args``, ``set_keyword``; ``main``)."""

import json

import pytest

from xe_dr.lab.xecli import split_extra_args
from xe_dr.xe.argv import xe_extra_args


@pytest.mark.parametrize("value, segments", [
    ("", []),
    ("a", ["a"]),
    ("a,b", ["a", "b"]),
    (",a,,b,", ["a", "b"]),                      # empty segments are dropped
    ("k=v\\,w,z=1", ["k=v,w", "z=1"]),          # \, does not cut; the backslash goes
    ("a\\\\,b", ["a,b"]),                        # \\, does not cut either (no escaping \)
    ("a,\\,b", ["a", ",b"]),
    ("x=\\y\\", ["x=y"]),                        # every backslash is removed
    ("a,\\", ["a", ""]),                         # ... even when nothing is left
    (",\\,", [","]),
])
def test_split_like_newcli(value, segments):
    assert split_extra_args(value) == segments


def test_what_xe_dr_sends_comes_back_whole():
    for items in (["device-config:chappassword=s3,cr=3t"],
                  ["device-config:chappassword=a,b", "device-config:incoming_chappassword=,"]):
        assert split_extra_args(xe_extra_args(items)) == items


def test_extras_go_after_the_command_line(lab):
    pool = lab.ok("A", "pool-list", "--minimal").value
    r = lab.ok("A", "pool-list", env={"XE_EXTRA_ARGS": "params=uuid,--minimal"})
    assert r.value == pool
    # the server takes the first occurrence of a key: the command line's
    r = lab.ok("A", "pool-list", "params=name-label", "--minimal",
               env={"XE_EXTRA_ARGS": "params=uuid"})
    assert r.value == "Site A"


def test_the_command_itself_may_come_from_the_variable(lab):
    r = lab.ok("A", env={"XE_EXTRA_ARGS": ",,pool-list,,params=name-label\\,uuid,"})
    assert "name-label ( RW): Site A" in r.out and "uuid ( RO)" in r.out


def test_commas_and_backslashes_in_values(lab):
    vm = lab.vm_uuid("web-01")
    lab.ok("A", "vm-param-set", "uuid=" + vm,
           env={"XE_EXTRA_ARGS": "name-description=a\\,b\\c"})
    assert lab.ok("A", "vm-param-get", "uuid=" + vm,
                  "param-name=name-description").value == "a,bc"


def test_real_process_reads_the_variable_too(lab):
    env = {"XE_EXTRA_ARGS": "params=uuid,--minimal"}
    a, b = lab.run("A", "pool-list", env=env), lab.xe("A", "pool-list", env=env)
    assert (a.out, a.err, a.code) == (b.out, b.err, b.code) and a.code == 0


def test_client_keywords_stay_with_the_client(lab):
    pool = lab.ok("A", "pool-list", "--minimal").value
    # server=, username=, password= are the client's: they never reach the server, wherever
    # they are (first argument included)
    r = lab.ok("A", "server=10.0.1.11", "pool-list", "--minimal", "password=x",
               env={"XE_EXTRA_ARGS": "username=root,password=hunter2,-s,10.0.1.11"})
    assert r.value == pool
    # port= is checked by the client: a bad one prints the usage and exits 0
    r = lab.xe("A", "pool-list", env={"XE_EXTRA_ARGS": "port=70000"})
    assert r.code == 0 and r.out == ""
    assert r.err.startswith("Port number must be an integer (0-65535)\nUsage:\n")
    assert lab.xe("A", "pool-list", "port=0x50", "--minimal").value == pool
    # nossl= goes through OCaml's bool_of_string, whose exception nobody catches
    r = lab.xe("A", "pool-list", env={"XE_EXTRA_ARGS": "nossl=yes"})
    assert (r.code, r.out, r.err) == (1, "", 'Unhandled exception\n'
                                             'Invalid_argument("bool_of_string")\n')
    # a switch without its value is not the client's: the server rejects it
    r = lab.xe("A", "pool-list", "-s")
    assert r.code == 1 and r.err.startswith("Syntax error")


def test_help_version_and_no_command(lab):
    r = lab.xe("A", "vm-list", "--help")
    assert r.code == 0 and r.out == "" and r.err.startswith("Usage:\n  xe <command>\n")
    assert lab.xe("A", "-version").out == "ThinCLI protocol: 0.2\n"
    r = lab.xe("A", "password=x", env={"XE_EXTRA_ARGS": "username=y"})
    assert r.code == 0 and r.err.startswith("Usage:")


def test_password_file(lab, tmp_path):
    good, bad = tmp_path / "pw", tmp_path / "short"
    good.write_text("root\nsecret\n")
    bad.write_text("root\n")
    assert lab.xe("A", "pool-list", "-pwf", str(good), "--minimal").code == 0
    r = lab.xe("A", "pool-list", "-pwf", str(bad))
    assert (r.code, r.err) == (1, "Error: password file format: expecting username on the "
                                  "first line, password on the second line\n")
    r = lab.xe("A", "pool-list", env={"XE_EXTRA_ARGS": "passwordfile=" + str(tmp_path / "no")})
    assert (r.code, r.err) == (1, "Error opening password file '%s'\n" % (tmp_path / "no"))


def test_the_call_log_hides_secrets_from_the_variable(lab):
    lab.ok("A", "pool-list")
    lab.xe("A", "sr-probe", "type=lvmoiscsi", "device-config:target=10.0.1.50",
           env={"XE_EXTRA_ARGS": xe_extra_args(["device-config:chappassword=hun,ter2",
                                                "device-config:chapuser=bob"])})
    entry = lab.call_log()[-1]
    assert entry["command"] == "sr-probe"
    assert entry["args"] == ["type=lvmoiscsi", "device-config:target=10.0.1.50"]
    assert entry["extra_args"] == ["device-config:chappassword=<redacted>",
                                   "device-config:chapuser=bob"]
    lab.xe("A", "pool-list", env={"XE_EXTRA_ARGS": "-pw,hunter3,secret:x=hunter4"})
    entry = lab.call_log()[-1]
    assert entry["extra_args"] == ["-pw", "<redacted>", "secret:x=<redacted>"]
    with open(lab.lab.path("calls.jsonl")) as f:
        text = f.read()
    for word in ("hun,ter2", "hunter3", "hunter4"):
        assert word not in text
    assert "extra_args" not in json.loads(text.splitlines()[0])
