"""kill -9 at every journal step of a 30-VM failover, then --resume: each run must end in
exactly the state an uninterrupted run reaches (issue 5). The run is a real subprocess killed
with SIGKILL right after journal entry N (XE_DR_FAULT_KILL_AFTER_ENTRY), the way a power cut
would stop it there.

In the slow tier (a 30-VM failover killed at dozens of points takes minutes) the kill points
are the first "begin" of each kind of step (the step's outcome unknown), the last entry of the
last step of each kind (a kind's other steps, the same call about another VM, go through the
same code) and the last entry; XE_DR_CRASH_RESUME=all kills at every entry. They run two at
a time.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fixtures_lab import LabHandle, make_lab
from xe_dr.lab import world

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Fields that legitimately differ between two uninterrupted runs of the same failover.
VOLATILE = {"generation", "current_operations", "allowed_operations", "memory_free",
            "start_time", "domid", "resident_on", "scheduled_to_be_resident_on",
            "last_booted_record", "timestamp", "metrics", "guest_metrics", "bridge"}


def copy_lab(source, target):
    # cp keeps the LV files sparse (a metadata VDI is a 3.7 GiB file holding a few KiB).
    subprocess.check_call(["cp", "-a", "--sparse=always", source.root, target])
    handle = LabHandle(target)
    for site in ("A", "B"):
        world.write_xe(handle.lab, site)
    world.write_adapter(handle.lab)  # the array's storage adapter names its lab too
    return handle


def xedr(lab, state_dir, args, kill_after=None, site="B"):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("XE_DR_FAULT_KILL_AFTER_ENTRY", None)
    if kill_after is not None:
        env["XE_DR_FAULT_KILL_AFTER_ENTRY"] = str(kill_after)
    argv = [sys.executable, "-m", "xe_dr", "--xe", lab.xe_path(site), "--state-dir",
            state_dir, "--yes", "--json"] + list(args)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            stdin=subprocess.DEVNULL)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def normalized(lab, site="B"):
    """Every object of the site, references replaced by what they point at, keys that do not
    depend on random UUIDs (PBDs by SR and host, networks by name), volatile fields dropped."""
    db = lab.db(site)
    tables = dict((t, db.rows(t)) for t in sorted(db.tables))
    key_of = {}
    for table, rows in tables.items():
        for ref, row in rows.items():
            key_of[ref] = (table, row.get("uuid"))
    for ref, row in tables.get("network", {}).items():
        key_of[ref] = ("network", row.get("name_label"))
    # xapi gives the VBDs it makes for a control domain (to read or write a metadata VDI)
    # random UUIDs: known by their VM and VDI
    dom0s = set(ref for ref, row in tables.get("VM", {}).items()
                if row.get("is_control_domain"))
    for ref, row in tables.get("VBD", {}).items():
        if row.get("VM") in dom0s:
            key_of[ref] = ("VBD", key_of.get(row.get("VM")), key_of.get(row.get("VDI")))

    def norm(value):
        if isinstance(value, str) and value.startswith("OpaqueRef:"):
            return list(key_of.get(value, ("dangling",)))
        if isinstance(value, dict):
            # (the run id, and the uuids of the DR task and secret an SR names, are random)
            return dict((k, norm(v)) for k, v in value.items()
                        if k not in ("xe-dr-run", "xe-dr-drtask", "xe-dr-secret"))
        if isinstance(value, list):
            return sorted((norm(v) for v in value), key=json.dumps)
        return value

    result = {}
    for table, rows in tables.items():
        if table in ("message", "task", "session", "DR_task", "VM_guest_metrics"):
            result[table] = len(rows)
            continue
        entries = {}
        for ref, row in rows.items():
            clean = dict((k, norm(v)) for k, v in row.items() if k not in VOLATILE)
            if table == "PBD":
                key = json.dumps([norm(row.get("SR")), norm(row.get("host"))])
                clean.pop("uuid", None)
            elif table == "network":
                key = row.get("name_label")
                clean.pop("uuid", None)
            elif table == "VBD" and row.get("VM") in dom0s:
                key = json.dumps(key_of[ref])
                clean.pop("uuid", None)
            else:
                key = row.get("uuid")
            entries[key] = clean
        result[table] = entries
    return result


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    base = make_lab(str(tmp_path_factory.mktemp("crash") / "base"), vms=30, vapps=3, seed=7)
    base.enable_replication()
    for host in base.ok("B", "host-list", "params=uuid", "--minimal").values:
        plugins = os.path.join(base.root, "hosts", host, "etc", "xapi.d", "plugins")
        os.makedirs(plugins, exist_ok=True)
        shutil.copy(os.path.join(ROOT, "host-plugins", "xe-dr"), plugins)
    # DMZ exists at B on a network of its own: a DMZ the failover made would be internal, and
    # xapi pins every VM of an internal network to the host of the first one started there
    # (the lab models it), so where the DMZ VMs end up would depend on the start order.
    dmz = base.ok("B", "network-create", "name-label=DMZ").value
    base.ok("B", "network-param-set", "uuid=" + dmz,
            "other-config:assume_network_is_shared=true")
    base.mirror("break")
    return base


def storage_args(lab):
    from tests.fixtures_workflow import Drill
    return Drill(lab, None).storage_args("B")


def run_id(state_dir):
    return sorted(os.listdir(os.path.join(state_dir, "runs")))[-1]


def kill_points(entries):
    """The first "begin" of each kind of step (killed with the step's outcome unknown: the
    hard case), the last entry of the last step of each kind (its end written: the resume
    must skip it), and the last entry; every entry with XE_DR_CRASH_RESUME=all."""
    if os.environ.get("XE_DR_CRASH_RESUME") == "all":
        return list(range(1, len(entries) + 1))
    steps, first = {}, {}  # kind -> its steps in journal order; kind -> its first begin
    for index, entry in enumerate(entries, 1):
        kind = entry["step"].split(":", 1)[0]
        kind_steps = steps.setdefault(kind, [])
        if entry["step"] not in kind_steps:
            kind_steps.append(entry["step"])
        if entry["event"] == "begin":
            first.setdefault(kind, index)
    chosen = {kind_steps[-1] for kind_steps in steps.values()}
    last_of = dict((entry["step"], index) for index, entry in enumerate(entries, 1)
                   if entry["step"] in chosen)
    return sorted(set(last_of.values()) | set(first.values()) | {len(entries)})


@pytest.mark.slow
def test_kill_at_every_journal_step_then_resume_reaches_the_same_state(prepared, tmp_path):
    args = ["failover", "--all", "--parallel", "4"] + storage_args(prepared)
    reference = copy_lab(prepared, str(tmp_path / "reference"))
    state = str(tmp_path / "reference-state")
    code, out, err = xedr(reference, state, args)
    # The plugin is on B's hosts: the VMs on unreplicated storage are left out of --all as
    # unprotected, so the whole failover succeeds, and so must every resumed one.
    assert code == 0, (out[-2000:], err[-2000:])
    expected = normalized(reference)
    with open(os.path.join(state, "runs", run_id(state), "journal.jsonl")) as handle:
        entries = [json.loads(line) for line in handle]
    assert len(entries) > 60  # a 30-VM failover journals every step

    def crash_and_resume(point):
        lab = copy_lab(prepared, str(tmp_path / ("k%d" % point)))
        state = str(tmp_path / ("k%d-state" % point))
        try:
            killed, _, kill_err = xedr(lab, state, args, kill_after=point)
            if killed != -signal.SIGKILL:
                return "kill after entry %d: exit %s, not killed (%s)" % (
                    point, killed, kill_err[-300:])
            resumed, _, resume_err = xedr(lab, state, ["failover", "--resume", run_id(state)])
            if resumed != code:
                return "kill after entry %d (%s): resume exited %d, not %d: %s" % (
                    point, entries[point - 1]["step"], resumed, code, resume_err[-400:])
            if normalized(lab) != expected:
                return "kill after entry %d (%s): the end state differs" % (
                    point, entries[point - 1]["step"])
            return None
        finally:
            shutil.rmtree(lab.root, ignore_errors=True)

    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for p in pool.map(crash_and_resume, kill_points(entries)) if p]
    assert not problems, "\n".join(problems)
