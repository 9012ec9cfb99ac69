"""Make the old-run fixtures: labs and state directories left by xe-dr as it was at a given
commit, for tests/test_old_runs.py (upgrading xe-dr in the middle of an incident is a real
case: a run journaled by the old code must still --resume, report and clean up).

Run it with the checkout of the commit to preserve on PYTHONPATH; it writes
``tests/old_runs/<name>.tar.gz`` (sparse files kept sparse) and ``<name>.json`` (what each
run is and how it ended). The archive holds absolute paths of the machine that made it only
in the lab's executables and ``lab.json``, which ``xe_dr.lab.world.relocate`` writes anew.

    PYTHONPATH=$PWD python3 tests/old_runs/make.py main-2006597
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

from tests.fixtures_lab import make_lab  # noqa: E402
from tests.fixtures_workflow import Drill  # noqa: E402


def xedr(lab, state, args, kill_after=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("XE_DR_FAULT_KILL_AFTER_ENTRY", None)
    if kill_after is not None:
        env["XE_DR_FAULT_KILL_AFTER_ENTRY"] = str(kill_after)
    argv = [sys.executable, "-m", "xe_dr", "--xe", lab.xe_path("B"), "--state-dir", state,
            "--yes", "--json"] + list(args)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            stdin=subprocess.DEVNULL)
    out, err = proc.communicate(timeout=600)
    return proc.returncode, err.decode("utf-8", "replace")


def prepared(root):
    lab = make_lab(root, vms=8, vapps=2, seed=11)
    lab.enable_replication()
    for host in lab.ok("B", "host-list", "params=uuid", "--minimal").values:
        plugins = lab.lab.plugin_dir(host)
        os.makedirs(plugins, exist_ok=True)
        shutil.copy(os.path.join(ROOT, "host-plugins", "xe-dr"), plugins)
    lab.mirror("break")
    return lab


def only_run(state):
    return sorted(os.listdir(os.path.join(state, "runs")))[-1]


def journal(state, run_id):
    with open(os.path.join(state, "runs", run_id, "journal.jsonl")) as handle:
        return [json.loads(line) for line in handle]


def main(name):
    work = tempfile.mkdtemp(prefix="xe-dr-old-runs-")
    manifest = {"made_by": name, "runs": {}}
    try:
        # 1. a test failover that ended: report and cleanup must still read it.
        lab = prepared(os.path.join(work, "test-done", "lab"))
        state = os.path.join(work, "test-done", "state")
        storage = Drill(lab, None).storage_args("B")
        code, err = xedr(lab, state, ["failover", "--test", "--all"] + storage)
        # The plugin is on B's hosts (prepared): the VMs on unreplicated storage are left out
        # of --all as unprotected, without failing it.
        assert code == 0, (code, err)
        manifest["runs"]["test-done"] = {"run_id": only_run(state), "exit": code,
                                         "args": ["failover", "--test", "--all"]}

        # 2. a real failover killed in the middle of its recoveries: --resume must finish it,
        # with the exit code of the same run uninterrupted.
        reference = prepared(os.path.join(work, "reference", "lab"))
        ref_state = os.path.join(work, "reference", "state")
        code, err = xedr(reference, ref_state, ["failover", "--all"] + storage)
        entries = journal(ref_state, only_run(ref_state))
        kill_after = [i for i, e in enumerate(entries, 1)
                      if e["step"].startswith("recover:") and e["event"] == "done"][0]
        lab = prepared(os.path.join(work, "failover-killed", "lab"))
        state = os.path.join(work, "failover-killed", "state")
        killed, err = xedr(lab, state, ["failover", "--all"] + storage, kill_after=kill_after)
        assert killed == -signal.SIGKILL, err
        manifest["runs"]["failover-killed"] = {
            "run_id": only_run(state), "exit": code, "kill_after": kill_after,
            "killed_at": entries[kill_after - 1]["step"], "args": ["failover", "--all"]}

        # 3. a test failover killed after its first recovery: cleanup (no resume) must undo
        # what it made.
        lab = prepared(os.path.join(work, "test-killed", "lab"))
        state = os.path.join(work, "test-killed", "state")
        test_entries = journal(os.path.join(work, "test-done", "state"),
                               manifest["runs"]["test-done"]["run_id"])
        kill_after = [i for i, e in enumerate(test_entries, 1)
                      if e["step"].startswith("recover:") and e["event"] == "done"][0]
        killed, err = xedr(lab, state, ["failover", "--test", "--all"] + storage,
                           kill_after=kill_after)
        assert killed == -signal.SIGKILL, err
        manifest["runs"]["test-killed"] = {
            "run_id": only_run(state), "kill_after": kill_after,
            "killed_at": test_entries[kill_after - 1]["step"],
            "args": ["failover", "--test", "--all"]}

        shutil.rmtree(os.path.join(work, "reference"))
        archive = os.path.join(HERE, name + ".tar.gz")
        subprocess.check_call(["tar", "--sparse", "-czf", archive, "-C", work,
                               "test-done", "failover-killed", "test-killed"])
        with open(os.path.join(HERE, name + ".json"), "w") as handle:
            json.dump(manifest, handle, indent=2, sort_keys=True)
            handle.write("\n")
        print("%s: %d bytes" % (archive, os.path.getsize(archive)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
