"""Storage adapters (issue 17): xe-dr's client (xe_dr/dr/adapter.py) against the lab's array
adapter (LAB/bin/storage-adapter) and against broken adapters; the lab array's copies, what
the DR hosts see while they exist, and the duplicate volume group."""

import json
import os
import stat
import subprocess
import sys

import pytest

from xe_dr.dr.adapter import StorageAdapter, refuse_inconsistent, rescan_calls
from xe_dr.errors import AdapterError
from xe_dr.exitcodes import ExitCode
from xe_dr.lab import adapter as lab_adapter
from xe_dr.lab import array

PORTAL_B = ["type=lvmoiscsi", "device-config:target=10.0.2.50",
            "device-config:targetIQN=iqn.2001-05.com.labarray:site-b"]


def client(lab, **kw):
    return StorageAdapter(lab.lab.path("bin", "storage-adapter"), **kw)


def replica(lab, lun, site="B"):
    """The SCSI id of a replicated LUN as the DR site sees it."""
    return lab.array()["luns"][lun]["copies"][site]["scsiid"]


def sr_of(lab, lun):
    return array.read_vg(lab.lab, lun, "A")["sr_uuid"]


def probe(lab, scsiid, *extra, transport="iscsi", host=None):
    args = (PORTAL_B if transport == "iscsi" else ["type=lvmohba"]) + \
        ["device-config:SCSIid=" + scsiid] + list(extra)
    if host:
        args.append("host-uuid=" + lab.uuid("B", "host", **{"name-label": host}))
    return lab.xe("B", "sr-probe", *args)


def script(tmp_path, body, name="adapter"):
    """A made-up adapter: a shell script in tmp_path."""
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return StorageAdapter(str(path), timeout=30)


def answering(tmp_path, answer, code=0):
    """An adapter that prints ``answer`` (a JSON-able value or a string) and exits ``code``."""
    text = answer if isinstance(answer, str) else json.dumps(answer)
    (tmp_path / "answer.json").write_text(text)
    return script(tmp_path, "cat '%s'\nexit %d" % (tmp_path / "answer.json", code))


# -- the lab adapter through the client ---------------------------------------------------------

def test_capabilities_of_the_lab_array(lab):
    caps = client(lab).capabilities()
    assert caps == {"protocol": 1, "consistency_group": True, "rescan": "xe-dr",
                    "verbs": ["capabilities", "copy", "list", "release", "mirror-state",
                              "halt", "reverse"]}
    assert caps.adapter == lab.lab.path("bin", "storage-adapter") and caps.supports("halt")


def test_a_copy_of_two_luns_is_taken_at_one_point_while_the_mirror_goes_on(lab):
    """The copies are frozen at their instant and writable; the replicas keep receiving
    site A's writes."""
    adapter = client(lab)
    luns = [replica(lab, "lun1"), replica(lab, "lun3")]
    answer = adapter.copy("run-1", luns)
    assert answer["run"] == "run-1" and answer["consistent"] is True
    iscsi, fc = answer["copies"]
    assert (iscsi["replica"], iscsi["transport"], iscsi["target"], iscsi["iqn"],
            iscsi["port"]) == (luns[0], "iscsi", "10.0.2.50", "iqn.2001-05.com.labarray:site-b",
                               3260)
    assert (fc["replica"], fc["transport"], fc["target"]) == (luns[1], "fc", None)
    assert iscsi["scsiid"] not in luns and fc["scsiid"] not in luns

    for lun in ("lun1", "lun3"):  # site A writes after the copy
        lab.ok("A", "sr-param-set", "uuid=" + sr_of(lab, lun), "name-label=renamed " + lun)
    assert array.read_vg(lab.lab, "lun1", "B")["name_label"] == "renamed lun1"  # replicated
    copied = probe(lab, iscsi["scsiid"], "sm-config:metadata=true")
    assert "<name_label>iSCSI DR 1</name_label>" in copied.value  # the copy did not move

    # writable: the DR site introduces and plugs the SR from the copy
    task = lab.xe("B", "drtask-create", *(PORTAL_B + [
        "device-config:SCSIid=" + iscsi["scsiid"], "sr-whitelist=" + sr_of(lab, "lun1")]))
    assert task.code == 0, task.err
    assert lab.ok("B", "pbd-list", "sr-uuid=" + sr_of(lab, "lun1"), "currently-attached=true",
                  "--minimal").values

    released = adapter.release("run-1")
    assert sorted(released["released"]) == sorted([iscsi["scsiid"], fc["scsiid"]])
    assert "renamed lun1" in lab.xe("B", "sr-probe", *(PORTAL_B + [
        "device-config:SCSIid=" + luns[0], "sm-config:metadata=true"])).value


def test_copy_and_release_are_idempotent_per_run(lab):
    adapter = client(lab)
    luns = [replica(lab, "lun1"), replica(lab, "lun2")]
    first = adapter.copy("run-1", luns)
    assert adapter.copy("run-1", luns) == first
    assert adapter.list("run-1") == {"run": "run-1", "copies": first["copies"]}
    assert len(lab.array()["luns"]) == 8  # six LUNs and the two copies, not four
    with pytest.raises(AdapterError) as other:
        adapter.copy("run-1", luns[:1])
    assert "run run-1 already has copies of" in other.value.one_line()
    assert adapter.release("run-1")["released"] == [c["scsiid"] for c in first["copies"]]
    assert adapter.release("run-1") == {"run": "run-1", "released": []}
    assert adapter.list("run-1") == {"run": "run-1", "copies": []}
    assert sorted(os.listdir(lab.lab.path("array"))) == [
        "lun-a-scratch", "lun-b-local", "lun1", "lun2", "lun3"]


def test_list_finds_the_copies_of_a_client_killed_before_it_read_the_answer(lab):
    """xe-dr killed between the adapter's copy and its journal: the run id finds the copies."""
    lab.fault(site="array", command="adapter-copy", kill_client="after")
    adapter = client(lab)
    luns = [replica(lab, "lun1"), replica(lab, "lun3")]
    killed = subprocess.run(["sh", "-c", '"$@"; echo never', "sh"] +
                            adapter.argv("copy", "run-9", luns), stdout=subprocess.PIPE,
                            timeout=60)
    assert killed.returncode == -9 and b"never" not in killed.stdout
    found = adapter.list("run-9")["copies"]
    assert [c["replica"] for c in found] == luns
    assert adapter.copy("run-9", luns)["copies"] == found  # a resumed run gets the same
    assert lab_adapter.calls(lab.lab)[0]["kill_client"] == "after"


def test_a_timeout_of_the_lab_adapter_leaves_what_it_made_for_list(lab):
    lab.fault(site="array", command="adapter-copy", after=60)
    with pytest.raises(AdapterError) as timed_out:
        client(lab, timeout=1).copy("run-2", [replica(lab, "lun2")])
    assert timed_out.value.exit_code == ExitCode.TEMPORARY
    assert "no answer within 1s; it was killed" in timed_out.value.one_line()
    assert [c["replica"] for c in client(lab).list("run-2")["copies"]] == [replica(lab, "lun2")]


def test_the_copy_limit(lab_factory):
    lab = lab_factory(max_copies=1)
    adapter = client(lab)
    with pytest.raises(AdapterError) as refused:
        adapter.copy("run-1", [replica(lab, "lun1"), replica(lab, "lun2")])
    assert refused.value.exit_code == ExitCode.FAILED
    assert refused.value.one_line().startswith(
        "storage adapter %s copy failed (exit 1): the array's copy limit is reached: 0 in use, "
        "2 asked, at most 1" % adapter.path)
    assert adapter.list("run-1")["copies"] == []  # nothing made
    adapter.copy("run-1", [replica(lab, "lun1")])
    with pytest.raises(AdapterError, match="1 in use, 1 asked, at most 1"):
        adapter.copy("run-2", [replica(lab, "lun2")])
    adapter.release("run-1")
    adapter.copy("run-2", [replica(lab, "lun2")])


def test_an_injected_failure_makes_nothing(lab):
    lab.fault(site="array", command="adapter-copy",
              error=["SNAPSHOT_RESERVE_FULL", "pool0"])
    adapter = client(lab)
    with pytest.raises(AdapterError) as failed:
        adapter.copy("run-1", [replica(lab, "lun1")])
    assert failed.value.one_line().endswith(" copy failed (exit 1): SNAPSHOT_RESERVE_FULL: pool0")
    assert adapter.list("run-1")["copies"] == []
    assert "withdrawn" not in lab.array()["luns"]["lun1"]["copies"]["B"]
    assert adapter.copy("run-1", [replica(lab, "lun1")])["copies"]  # the next call works


def test_without_a_consistency_group_several_luns_are_refused(lab_factory):
    lab = lab_factory(consistency_group=False)
    adapter = client(lab)
    caps = adapter.capabilities()
    assert caps["consistency_group"] is False
    refuse_inconsistent(caps, [replica(lab, "lun1")])  # one LUN is fine
    with pytest.raises(AdapterError) as refused:
        refuse_inconsistent(caps, [replica(lab, "lun1"), replica(lab, "lun2")])
    assert refused.value.exit_code == ExitCode.USAGE
    assert refused.value.one_line() == (
        "storage adapter %s cannot copy 2 LUNs at one consistency point (consistency_group is "
        "false), so their copies would not match (drill VMs whose disks and metadata are on "
        "one LUN, or use an adapter for an array with consistency groups)" % adapter.path)
    # asked anyway, the array copies one LUN after the other and says so: the client refuses
    with pytest.raises(AdapterError, match="were not taken at one consistency point"):
        adapter.copy("run-1", [replica(lab, "lun1"), replica(lab, "lun2")])
    assert len(adapter.list("run-1")["copies"]) == 2  # made: the caller releases them
    assert adapter.copy("run-2", [replica(lab, "lun3")])["consistent"] is True


def test_mirror_verbs(lab):
    adapter = client(lab)
    luns = [replica(lab, "lun1"), replica(lab, "lun2", site="A")]
    assert adapter.mirror_state(luns) == {"luns": [
        {"lun": luns[0], "state": "mirroring", "source": "A"},
        {"lun": luns[1], "state": "mirroring", "source": "A"}]}
    assert adapter.halt(luns[:1])["luns"][0]["state"] == "broken"
    assert lab.array()["luns"]["lun1"]["mirror"]["state"] == "broken"
    assert adapter.reverse(luns[:1])["luns"] == [
        {"lun": luns[0], "state": "reversed", "source": "B"}]
    with pytest.raises(AdapterError, match="LUN lun-b-local .* is not mirrored"):
        adapter.mirror_state([lab.array()["luns"]["lun-b-local"]["copies"]["B"]["scsiid"]])


def test_the_lab_adapter_refuses_what_is_not_a_replica(lab):
    adapter = client(lab)
    with pytest.raises(AdapterError, match="no LUN with SCSI id 3600deadbeef on the array"):
        adapter.copy("run-1", ["3600deadbeef"])
    with pytest.raises(AdapterError, match=r"LUN lun1 \(SCSI id \w+\) at site A is not a "
                                           r"replica: mirroring \(source A\)"):
        adapter.copy("run-1", [replica(lab, "lun1", site="A")])
    copy = adapter.copy("run-1", [replica(lab, "lun1")])["copies"][0]["scsiid"]
    with pytest.raises(AdapterError, match="is a copy made for run run-1, not a replica"):
        adapter.copy("run-2", [copy])
    with pytest.raises(AdapterError, match="already has a copy, for run run-1"):
        adapter.copy("run-2", [replica(lab, "lun1")])
    usage = subprocess.run([adapter.path, "copy", "--lun", "x"], stdout=subprocess.PIPE,
                           universal_newlines=True)
    assert usage.returncode == 64
    assert json.loads(usage.stdout)["error"].startswith("copy needs --run RUN_ID; usage: ")


# -- what the DR hosts see ----------------------------------------------------------------------

def test_the_dr_hosts_see_the_copy_and_not_the_replica_while_it_exists(lab):
    adapter = client(lab)
    lun1 = replica(lab, "lun1")
    luns_seen = lambda: lab.xe("B", "sr-probe", *PORTAL_B).err  # the target's LUN list
    assert lun1 in luns_seen()
    copy = adapter.copy("run-1", [lun1])["copies"][0]["scsiid"]
    assert copy in luns_seen() and lun1 not in luns_seen()
    assert probe(lab, copy, host="xcp-b2").code == 0
    gone = probe(lab, lun1, host="xcp-b2")
    assert (gone.code, gone.err) == (1, "Error code: SR_BACKEND_FAILURE_107\nError parameters: "
                                        ", The SCSIid parameter is missing or incorrect, \n")
    adapter.release("run-1")
    assert lun1 in luns_seen() and copy not in luns_seen()
    assert probe(lab, lun1, host="xcp-b2").code == 0


def test_a_masked_host_stays_masked_from_the_copy(lab):
    lab.mask("lun1", "B", hosts=["xcp-b2"])
    copy = client(lab).copy("run-1", [replica(lab, "lun1")])["copies"][0]["scsiid"]
    assert probe(lab, copy, host="xcp-b2").code == 1
    assert probe(lab, copy, host="xcp-b1").code == 0
    client(lab).release("run-1")
    assert lab.array()["luns"]["lun1"]["copies"]["B"]["hidden_from"] == [
        lab.uuid("B", "host", **{"name-label": "xcp-b2"})]


def test_an_fc_copy_is_seen_by_a_host_once_its_hbas_are_rescanned(lab):
    """sm rescans a host's HBAs in an lvmohba probe without a SCSI id (devscan.adapters):
    xe-dr does that on each DR host when the adapter says rescan "xe-dr"."""
    adapter = client(lab)
    lun3 = replica(lab, "lun3")
    answer = adapter.copy("run-1", [lun3])
    copy = answer["copies"][0]["scsiid"]
    unseen = probe(lab, copy, transport="fc", host="xcp-b2")
    assert (unseen.code, unseen.out) == (0, '<?xml version="1.0" ?>\n<SRlist/>\n\n')
    calls = rescan_calls(adapter.capabilities(), answer["copies"],
                         [lab.uuid("B", "host", **{"name-label": "xcp-b2"})])
    assert [(c.command, c.params["type"]) for c in calls] == [("sr-probe", "lvmohba")]
    rescan = lab.xe("B", "sr-probe", "type=lvmohba", "host-uuid=" + calls[0].params["host-uuid"])
    assert "SR_BACKEND_FAILURE_107" in rescan.err and copy in rescan.err  # the device list
    assert "<UUID>%s</UUID>" % sr_of(lab, "lun3") in probe(lab, copy, transport="fc",
                                                           host="xcp-b2").value
    adapter.release("run-1")  # the replica is presented again: a new LUN to the host
    assert "<SRlist/>" in probe(lab, lun3, transport="fc", host="xcp-b2").value
    lab.xe("B", "sr-probe", "type=lvmohba", "host-uuid=" + calls[0].params["host-uuid"])
    assert sr_of(lab, "lun3") in probe(lab, lun3, transport="fc", host="xcp-b2").value


def test_an_adapter_that_rescans_needs_no_rescan_from_xe_dr(tmp_path):
    from xe_dr.lab import cli
    import io
    root = str(tmp_path / "lab")
    assert cli.main(["create", root, "--max-copies", "3", "--no-consistency-group",
                     "--adapter-rescan", "adapter"], out=io.StringIO()) == 0
    from tests.fixtures_lab import LabHandle
    lab = LabHandle(root)
    adapter = client(lab)
    caps = adapter.capabilities()
    assert (caps["rescan"], caps["consistency_group"]) == ("adapter", False)
    answer = adapter.copy("run-1", [replica(lab, "lun3")])
    assert rescan_calls(caps, answer["copies"], ["any-host"]) == []
    copy = answer["copies"][0]["scsiid"]
    assert sr_of(lab, "lun3") in probe(lab, copy, transport="fc", host="xcp-b2").value


def test_a_replica_and_its_copy_on_one_host_are_a_duplicate_volume_group(lab):
    """Someone presents the replica again during the drill: LVM finds the PV twice and
    refuses to activate the MGT volume, so a probe with metadata (and drtask-create) fails
    as sm reports it; a plain probe still lists the SR."""
    lun1 = replica(lab, "lun1")
    copy = client(lab).copy("run-1", [lun1])["copies"][0]["scsiid"]
    lab.mask("lun1", "B", clear=True)  # the replica presented to every DR host again
    refused = probe(lab, copy, "sm-config:metadata=true")
    assert (refused.code, refused.err) == (
        1, "Error code: SR_BACKEND_FAILURE_1200\nError parameters: , Input/output error, \n")
    assert probe(lab, lun1, "sm-config:metadata=true").code == 1
    assert sr_of(lab, "lun1") in probe(lab, copy).value
    task = lab.xe("B", "drtask-create", *(PORTAL_B + [
        "device-config:SCSIid=" + copy, "sr-whitelist=" + sr_of(lab, "lun1")]))
    assert "SR_BACKEND_FAILURE_1200" in task.err
    lab.mask("lun1", "B")  # hidden from every DR host again
    assert probe(lab, copy, "sm-config:metadata=true").code == 0


# -- broken adapters ----------------------------------------------------------------------------

def test_a_hanging_adapter_is_killed_after_its_timeout(tmp_path):
    adapter = script(tmp_path, "sleep 60")
    adapter.timeout = 1
    with pytest.raises(AdapterError) as timed_out:
        adapter.capabilities()
    assert timed_out.value.exit_code == ExitCode.TEMPORARY
    assert timed_out.value.one_line() == (
        "storage adapter %s capabilities: no answer within 1s; it was killed (retry; what the "
        "array made meanwhile is found again with list)" % adapter.path)


@pytest.mark.parametrize("stdout,problem", [
    ("not json", "its answer is not one JSON object: not json"),
    ('{"run": "r"} {"run": "r"}', "its answer is not one JSON object"),
    ('["r"]', "its answer is a list, not an object"),
    ("", "no answer on stdout"),
])
def test_an_answer_that_is_not_one_json_object(tmp_path, stdout, problem):
    with pytest.raises(AdapterError) as bad:
        answering(tmp_path, stdout).list("r")
    assert problem in bad.value.one_line()
    assert bad.value.exit_code == ExitCode.FAILED


def test_a_non_zero_exit_with_and_without_an_error(tmp_path):
    with pytest.raises(AdapterError) as with_error:
        answering(tmp_path, {"error": "LUN 3600a not found\non array x"}, code=3).list("r")
    assert with_error.value.one_line() == (
        "storage adapter %s list failed (exit 3): LUN 3600a not found on array x"
        % (tmp_path / "adapter"))
    stderr = script(tmp_path, "echo starting >&2; echo 'login refused by array' >&2; exit 2",
                    name="stderr")
    with pytest.raises(AdapterError, match=r"list failed \(exit 2\): login refused by array$"):
        stderr.list("r")
    silent = script(tmp_path, "exit 1", name="silent")
    with pytest.raises(AdapterError, match=r"list failed \(exit 1\): no message$"):
        silent.list("r")
    zero = answering(tmp_path, {"error": "no licence for snapshots"})
    with pytest.raises(AdapterError, match=r"list failed: no licence for snapshots$"):
        zero.list("r")


def test_an_adapter_that_cannot_be_run(tmp_path):
    with pytest.raises(AdapterError) as missing:
        StorageAdapter(str(tmp_path / "nowhere")).capabilities()
    assert missing.value.exit_code == ExitCode.CONFIG
    assert missing.value.one_line() == (
        "storage adapter %s capabilities: cannot run it (No such file or directory) (give the "
        "path of an executable adapter)" % (tmp_path / "nowhere"))


GOOD_COPY = {"replica": "3600a", "scsiid": "3600c", "transport": "iscsi",
             "target": "10.0.2.50", "iqn": "iqn.x:y", "port": 3260}


@pytest.mark.parametrize("answer,problem", [
    ({"run": "r", "copies": [GOOD_COPY]}, "the answer has no 'consistent'"),
    ({"run": "r", "consistent": "yes", "copies": [GOOD_COPY]},
     "'consistent' is a string, not true or false"),
    ({"run": "other", "consistent": True, "copies": [GOOD_COPY]},
     "answers for run other, not r"),
    ({"run": "r", "consistent": True, "copies": [GOOD_COPY, dict(GOOD_COPY, replica="3600z",
                                                                 scsiid="3600d")]},
     "gives a copy of LUN 3600z, which was not asked"),
    ({"run": "r", "consistent": True, "copies": []}, "gives no copy of LUN 3600a"),
    ({"run": "r", "consistent": True, "copies": [dict(GOOD_COPY, scsiid="3600a")]},
     "gives SCSI id 3600a twice"),
    ({"run": "r", "consistent": True, "copies": [dict(GOOD_COPY, transport="nvme")]},
     "'transport' is 'nvme', not one of iscsi, fc"),
    ({"run": "r", "consistent": True, "copies": [dict(GOOD_COPY, port="3260")]},
     "'port' of an entry of 'copies' is a string, not an integer"),
    ({"run": "r", "consistent": True, "copies": [{"replica": "3600a", "scsiid": "3600c",
                                                  "transport": "iscsi"}]},
     "the answer has no 'target' of an entry of 'copies'"),
    ({"run": "r", "consistent": True, "copies": None}, "'copies' is null, not a list"),
])
def test_a_copy_answer_the_protocol_does_not_allow(tmp_path, answer, problem):
    with pytest.raises(AdapterError) as bad:
        answering(tmp_path, answer).copy("r", ["3600a"])
    assert bad.value.one_line().startswith(
        "storage adapter %s copy: %s" % (tmp_path / "adapter", problem))


@pytest.mark.parametrize("verb", ["copy", "list"])
def test_a_copy_that_is_another_replica_is_refused(tmp_path, verb):
    """Copies of two LUNs swapped: each "copy" is the other replica, which a drill would boot
    on and write to."""
    swapped = [dict(GOOD_COPY), dict(GOOD_COPY, replica="3600c", scsiid="3600a")]
    adapter = answering(tmp_path, {"run": "r", "consistent": True, "copies": swapped})
    with pytest.raises(AdapterError) as bad:
        adapter.copy("r", ["3600a", "3600c"]) if verb == "copy" else adapter.list("r")
    assert bad.value.one_line().startswith(
        "storage adapter %s %s: gives LUN 3600c, a replica, as the copy of LUN 3600a: a copy "
        "has a SCSI id of its own" % (tmp_path / "adapter", verb))


def test_a_made_up_adapter_that_follows_the_protocol(tmp_path):
    """An FC copy needs no target; capabilities of another protocol are refused."""
    good = {"run": "r", "consistent": True, "copies": [
        {"replica": "3600a", "scsiid": "3600c", "transport": "fc"}]}
    assert answering(tmp_path, good).copy("r", ["3600a"])["copies"] == [
        {"replica": "3600a", "scsiid": "3600c", "transport": "fc", "target": None,
         "iqn": None, "port": None}]
    caps = {"protocol": 2, "verbs": ["capabilities", "copy", "list", "release"],
            "consistency_group": True, "rescan": "none"}
    with pytest.raises(AdapterError, match="speaks protocol 2; xe-dr speaks protocol 1"):
        answering(tmp_path, caps).capabilities()
    caps.update(protocol=1, verbs=["capabilities", "copy"])
    with pytest.raises(AdapterError, match="'verbs' lacks list, release"):
        answering(tmp_path, caps).capabilities()


def test_the_adapter_gets_an_argv_and_no_shell(tmp_path):
    dump = script(tmp_path, "%s -c 'import json, sys; print(json.dumps({\"run\": \"r\", "
                            "\"copies\": [], \"argv\": sys.argv[1:]}))' \"$@\"" % sys.executable)
    runs = []
    from xe_dr.runner.local import LocalRunner
    dump.runner = LocalRunner(log=runs.append)
    assert dump.list("r") == {"run": "r", "copies": []}
    assert json.loads(runs[0].stdout)["argv"] == ["list", "--run", "r"]
    assert runs[0].argv == [dump.path, "list", "--run", "r"]
    assert dump.argv("copy", "r", ["3600a", "3600b"]) == [
        dump.path, "copy", "--run", "r", "--lun", "3600a", "--lun", "3600b"]
    with pytest.raises(ValueError):
        dump.argv("copy", "r; rm -rf /")


# -- the man page's worked example --------------------------------------------------------------

FAKE_ACMECTL = r'''#!%(python)s
# A made-up array's command line tool, as xe-dr(8)'s example adapter uses it.
import hashlib, json, os, sys
path = os.environ["ACME_STATE"]
with open(path) as handle:
    state = json.load(handle)
args = sys.argv[1:]
assert args[:3] == ["--config", "/root/.acmectl.conf", "--json"], args
args = args[3:]
volumes = state["volumes"]
def by_wwn(wwn):
    for name, vol in volumes.items():
        if vol["wwn"] == wwn:
            return name
    sys.stderr.write("no volume with WWN %%s\n" %% wwn)
    sys.exit(2)
out = None
if args[:2] == ["volume", "show"]:
    out = {"name": by_wwn(args[3])}
elif args[:2] == ["volume", "list"]:
    out = [dict(vol, name=name) for name, vol in sorted(volumes.items())
           if name.startswith(args[3])]
elif args[:2] == ["volume", "delete"]:
    del volumes[args[2]]
elif args[:2] == ["snapgroup", "create"]:
    state["snapgroups"].setdefault(args[3], args[4:])
elif args[:2] == ["snapgroup", "delete"]:
    state["snapgroups"].pop(args[3], None)
elif args[:2] == ["clone", "create"]:
    source = volumes[args[5]]
    wwn = "6001405" + hashlib.sha1(args[6].encode()).hexdigest()[:25]
    volumes[args[6]] = {"wwn": wwn, "source_wwn": source["wwn"]}
elif args[:2] == ["hostgroup", "map"]:
    state["mapped"] = sorted(set(state["mapped"]) | {args[3]})
elif args[:2] == ["hostgroup", "unmap"]:
    state["mapped"] = sorted(set(state["mapped"]) - {args[3]})
else:
    sys.stderr.write("acmectl: unknown command %%s\n" %% " ".join(args))
    sys.exit(2)
with open(path, "w") as handle:
    json.dump(state, handle)
print(json.dumps(out))
'''


def _man_example():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "man", "xe-dr.8"), encoding="utf-8") as handle:
        page = handle.read()
    start = page.index(".EX\n#!/usr/bin/env python3\n") + len(".EX\n")
    return page[start:page.index("\n.EE\n", start)].replace("\\-", "-").replace("\\e", "\\")


def test_the_man_pages_example_adapter_works(tmp_path):
    """The worked example of xe-dr(8), STORAGE ADAPTERS, against a made-up array CLI: its
    answers pass the client's checks, a second copy answers the first, release maps the
    replicas again."""
    from xe_dr.runner.local import LocalRunner
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    example = bin_dir / "acme-adapter"
    example.write_text(_man_example())
    fake = bin_dir / "acmectl"
    fake.write_text(FAKE_ACMECTL % {"python": sys.executable})
    for path in (example, fake):
        path.chmod(0o755)
    state = tmp_path / "array.json"
    state.write_text(json.dumps({"volumes": {
        "vm-disks": {"wwn": "6001405aaaa", "source_wwn": ""},
        "pool-meta": {"wwn": "6001405bbbb", "source_wwn": ""}},
        "snapgroups": {}, "mapped": ["pool-meta", "vm-disks"]}))
    env = dict(os.environ, ACME_STATE=str(state),
               PATH="%s:%s" % (bin_dir, os.environ.get("PATH", "")))
    adapter = StorageAdapter(str(example), runner=LocalRunner(env=env), timeout=60)
    caps = adapter.capabilities()
    assert (caps["consistency_group"], caps["rescan"]) == (True, "none")
    copies = adapter.copy("run-1", ["36001405aaaa", "36001405bbbb"])
    assert [c["replica"] for c in copies["copies"]] == ["36001405bbbb", "36001405aaaa"]
    assert adapter.copy("run-1", ["36001405aaaa", "36001405bbbb"]) == copies
    assert adapter.list("run-1")["copies"] == copies["copies"]
    mapped = json.loads(state.read_text())["mapped"]
    assert mapped == ["drill-run-1-pool-meta", "drill-run-1-vm-disks"]  # copies, no replica
    released = adapter.release("run-1")["released"]
    assert sorted(released) == sorted(c["scsiid"] for c in copies["copies"])
    after = json.loads(state.read_text())
    assert (after["mapped"], after["snapgroups"]) == (["pool-meta", "vm-disks"], {})
    assert adapter.list("run-1")["copies"] == []
    with pytest.raises(AdapterError, match=r"copy failed \(exit 1\): acmectl volume show "
                                           r"--wwn 404: no volume with WWN 404$"):
        adapter.copy("run-2", ["3404"])
