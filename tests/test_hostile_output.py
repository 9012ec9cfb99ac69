"""Hostile input (issue 7): malformed, truncated or unexpected xe output and plugin answers.

A scripted xe stands in front of the lab's (tests/fixtures_remote.py ``ScriptedXe``): one
call gets a bad answer, every other call reaches the lab. For each bad answer xe-dr must
stop with a clear error naming the command, as one line on stderr, with a documented exit
status (1: failed; an unreadable answer is ``XeOutputError``), never a traceback or an
"internal error", and never act on what it could not read: no pool-changing xe call after
the bad one.
"""

import json

import pytest

from tests.fixtures_remote import one_error_line, scripted_xe
from tests.fixtures_workflow import Drill
from tests.test_workflows import assert_partly_failed_by_the_unprotected

TEST_ALL = ["failover", "--test", "--all"]

XML_HEAD = '<?xml version="1.0" ?>\n'
HALF_SRLIST = XML_HEAD + "<SRlist>\n\t<SR>\n\t\t<UUID>5463852d-9c43-4723-9de1-38d8"
HALF_LUNS = ("Error code: SR_BACKEND_FAILURE_107\nError parameters: , The SCSIid parameter "
             "is missing or incorrect, " + XML_HEAD + "<iscsi-target>\n\t<LUN>\n\t\t<vendor>"
             "LABARRAY</vendor>\n\t\t<ser")
HALF_IQNS = ("Error code: SR_BACKEND_FAILURE_96\nError parameters: , The request is missing or "
             "has an incorrect target IQN parameter, " + XML_HEAD + "<iscsi-target-iqns>\n"
             "\t<TGT>\n\t\t<Index>0</Index>\n\t\t<IPAddr")
TRUNCATED_RECORD = "uuid ( RO)                : 5463852d-9c43-4723\n    name-label ( RW): iSC"
PLUGIN_PRESENT = ("host-call-plugin", "1.0\n", ("fn=version",))


@pytest.fixture
def protected(drill):
    """Replication on at A, the mirror broken: a failover at B can attach and read."""
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    drill.lab.mirror("break")
    return drill


def run_with(drill, tmp_path, site, args, answers, storage=True):
    xe = scripted_xe(tmp_path, drill.lab, site)
    for command, stdout, with_args in answers:
        xe.answer(command, stdout=stdout, with_args=with_args)
    extra = drill.storage_args("B") if storage else []
    result = drill.xedr(site, "--json", *(list(args) + ["--xe", xe.path] + extra))
    return result, xe


def run_with_error(drill, tmp_path, site, args, command, stderr, exit=1, with_args=()):
    xe = scripted_xe(tmp_path, drill.lab, site)
    xe.answer(command, stderr=stderr, exit=exit, with_args=with_args)
    result = drill.xedr(site, "--json", *(list(args) + ["--xe", xe.path]))
    return result, xe


def assert_refused_cleanly(result, xe, command, with_args=(), code=1):
    assert result.code == code, result
    line = one_error_line(result)
    assert command in line, line
    assert xe.writes_after(command, with_args) == []
    return line


# Each: (id, command, with_args, bad stdout, what the message must say)
BAD_READS = [
    ("pool-list-truncated", "pool-list", (), "uuid ( RO)    : 12", "does not end"),
    ("pool-list-binary", "pool-list", (), b"\x00\xff\xfe\x80garbage\x1b[2J\n", "pool-list"),
    ("sr-list-truncated-record", "sr-list", (), TRUNCATED_RECORD, "does not end"),
    ("sr-probe-half-srlist", "sr-probe", (), HALF_SRLIST, "malformed sr-probe XML"),
    ("sr-probe-not-xml", "sr-probe", (), "Segmentation fault\n", "sr-probe"),
    ("foreign-vm-list-truncated", "vm-list", ("database:vdi-uuid=*",),
     "uuid ( RO)  : 1e2c0ef7\n\n\nuuid ( RO)  : a28a\n   name-label ( RW", "does not end"),
    ("foreign-pool-list-garbage", "pool-list", ("database:vdi-uuid=*",),
     "<html><body>502 Bad Gateway</body></html>\n", "pool-list"),
]


@pytest.mark.parametrize("name,command,with_args,stdout,says", BAD_READS,
                         ids=[case[0] for case in BAD_READS])
def test_a_bad_read_during_a_failover_stops_it_with_one_clear_line(
        protected, tmp_path, name, command, with_args, stdout, says):
    result, xe = run_with(protected, tmp_path, "B", TEST_ALL,
                          [(command, stdout, with_args)])
    line = assert_refused_cleanly(result, xe, command, with_args)
    assert says in line, line
    # Whatever ran before the bad read, nothing was recovered.
    assert not [c for c in xe.calls() if c["argv"][0].endswith("-recover")]


def test_a_truncated_pool_list_stops_status_with_one_clear_line(drill, tmp_path):
    result, xe = run_with(drill, tmp_path, "A", ["status"],
                          [("pool-list", "uuid ( RO)    : 12", ())], storage=False)
    assert_refused_cleanly(result, xe, "pool-list")


@pytest.mark.parametrize("stderr", [HALF_IQNS, HALF_LUNS], ids=["iqns", "luns"])
def test_a_half_xml_probe_answer_is_a_clear_error(drill, tmp_path, stderr):
    args = ["probe", "--target", "10.0.2.50"]
    if "107" in stderr:
        args += ["--iqn", "iqn.2001-05.com.labarray:site-b"]
    result, xe = run_with_error(drill, tmp_path, "B", args, "sr-probe", stderr)
    line = assert_refused_cleanly(result, xe, "sr-probe")
    assert "malformed sr-probe XML" in line, line
    assert result.out == ""


def test_xe_killed_by_a_signal_with_no_output_is_a_clear_error(protected, tmp_path):
    """The shell's status for a program killed by SIGSEGV, nothing printed."""
    xe = scripted_xe(tmp_path, protected.lab, "B")
    xe.answer("drtask-list", exit=139)
    result = protected.xedr("B", "--json", *(TEST_ALL + ["--xe", xe.path] +
                                              protected.storage_args("B")))
    line = assert_refused_cleanly(result, xe, "drtask-list")
    assert "139" in line or "signal" in line.lower(), line
    assert not [c for c in xe.calls() if c["argv"][0] == "drtask-create"]


# -- plugin answers --------------------------------------------------------------------------

BAD_INVENTORIES = [
    ("missing-keys", '{"pool": {}, "hosts": []}\n'),
    ("vm-missing-keys", '{"pool": {"uuid": "x", "name_label": "y"}, "hosts": [], '
                        '"vms": [{"uuid": "abc"}], "appliances": []}\n'),
    ("truncated", '{"pool": {"uuid"\n'),
    ("not-an-object", "[1, 2]\n"),
]


@pytest.mark.parametrize("answer", [a for _, a in BAD_INVENTORIES],
                         ids=[n for n, _ in BAD_INVENTORIES])
def test_a_bad_plugin_inventory_stops_the_failover_with_one_clear_line(
        protected, tmp_path, answer):
    result, xe = run_with(protected, tmp_path, "B", TEST_ALL, [
        PLUGIN_PRESENT, ("host-call-plugin", answer, ("fn=inventory",))])
    line = assert_refused_cleanly(result, xe, "host-call-plugin", ("fn=inventory",))
    assert "inventory" in line, line


def test_a_truncated_plugin_metadata_state_is_a_clear_status_error(drill, tmp_path):
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    result, xe = run_with(drill, tmp_path, "A", ["status"], [
        PLUGIN_PRESENT, ("host-call-plugin", '{"vdis": [{"vdi": \n', ("fn=metadata_state",))],
        storage=False)
    assert_refused_cleanly(result, xe, "host-call-plugin", ("fn=metadata_state",))


@pytest.mark.parametrize("stdout", ["not-a-uuid\n", "Error: \x00garbage\n"],
                         ids=["word", "control-characters"])
def test_a_drtask_create_answer_that_is_no_uuid_stops_the_run(protected, tmp_path, stdout):
    result, xe = run_with(protected, tmp_path, "B", TEST_ALL,
                          [("drtask-create", stdout, ())])
    assert_refused_cleanly(result, xe, "drtask-create")


def test_the_scripted_xe_reaches_the_lab_for_everything_else(protected, tmp_path):
    """The harness itself: with no bad answer, the failover through the scripted xe is the
    failover through the lab's xe."""
    result, xe = run_with(protected, tmp_path, "B", TEST_ALL, [])
    # As through the lab's xe with no plugin: the lab's VMs on unreplicated storage make --all
    # a partial success (tests/test_workflows.py UNPROTECTED).
    assert_partly_failed_by_the_unprotected(result)
    assert json.loads(result.out)["items"]
    assert xe.writes_after("pool-list")  # it did change the pool, through the lab
