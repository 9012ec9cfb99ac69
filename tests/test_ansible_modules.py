"""The Ansible collection's modules (ansible/plugins/modules, issue 20), run in-process as
Ansible runs them (their arguments checked by AnsibleModule, their result printed as JSON) with
xe-dr itself replaced by a recorder: which xe-dr command line each task makes for a pool of a
sites file, what it makes of xe-dr's answer (changed, failed, the message), that a secret never
reaches an argument or the task's result; and ansible-doc of every module.

The collection runs on the controller's Python with ansible-core (the ``ansible`` extra):
skipped where ansible-core is not installed, as under dom0's 3.6."""

import contextlib
import importlib
import json
import os
import subprocess
import sys

import pytest

# Not "ansible": the repository's ansible/ folder imports as a namespace package anywhere.
pytest.importorskip("ansible.module_utils.basic")

from ansible.module_utils import basic  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = ("status", "replication", "failover", "drill", "cleanup", "failback")
PACKAGE = "ansible_collections.xe_dr.estate.plugins"
SECRET = "hunter2-$HOME-~root"  # $ and ~ would be expanded by a shell or by run_command


@pytest.fixture(scope="module")
def collections_path(tmp_path_factory):
    """A collections path holding the repository's collection (a link to ansible/), on
    sys.path for the module's imports."""
    root = tmp_path_factory.mktemp("collections")
    os.makedirs(str(root / "ansible_collections" / "xe_dr"))
    os.symlink(os.path.join(REPO, "ansible"), str(root / "ansible_collections" / "xe_dr" /
                                                   "estate"))
    sys.path.insert(0, str(root))
    try:
        yield str(root)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.startswith("ansible_collections")]:
            del sys.modules[name]


@pytest.fixture
def sites(tmp_path):
    path = tmp_path / "estate.ini"
    path.write_text("[defaults]\nssh = openssh\n\n"
                    "[pool A1]\nsite = primary\nmaster = root@10.0.1.10\npeer = B1\n"
                    "srs =\n    iSCSI DR 1\n    FC DR 3\nplan = plans/A1.plan\n\n"
                    "[pool A2]\nsite = primary\nmaster = root@10.0.1.20\npeer = B1\n\n"
                    "[pool B1]\nsite = dr\nmaster = root@10.0.2.10\n")
    return str(path)


@contextlib.contextmanager
def module_args(args):
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core before 2.19
        with _legacy_args(args):
            yield
        return
    with patch_module_args(args):
        yield


@contextlib.contextmanager
def _legacy_args(args):
    saved = basic._ANSIBLE_ARGS
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8")
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = saved


class Task(object):
    """One module run: ``result`` (what Ansible receives), ``calls`` ([(argv, environ)], the
    xe-dr commands it ran), ``printed`` (its whole output)."""

    def __init__(self, result, calls, printed):
        self.result, self.calls, self.printed = result, calls, printed

    @property
    def argv(self):
        """The one xe-dr command's arguments after ``python -m xe_dr``."""
        assert len(self.calls) == 1, self.calls
        return self.calls[0][0][3:]

    @property
    def command(self):
        """The one xe-dr command from its command word (after the global options)."""
        return command(self.argv)


def command(argv):
    """``argv`` after ``--sites FILE --pool NAME --json --no-input`` (and ``--yes``)."""
    assert argv[0] == "--sites" and argv[2] == "--pool" and argv[4:6] == ["--json",
                                                                        "--no-input"], argv
    return argv[7:] if argv[6] == "--yes" else argv[6:]


@pytest.fixture
def run_task(collections_path, monkeypatch, capsys):
    """run_task(module, args, answers, check_mode=False): the module's main() with xe-dr
    replaced: each call returns the next of ``answers`` ((exit status, stdout, stderr))."""
    utils = importlib.import_module(PACKAGE + ".module_utils.xe_dr_cli")

    def run(name, args, answers=(), check_mode=False):
        calls, answers = [], list(answers)

        def execute(argv, environ):
            calls.append((list(argv), dict(environ)))
            return answers.pop(0)
        monkeypatch.setattr(utils, "execute", execute)
        module = importlib.import_module(PACKAGE + ".modules." + name)
        with module_args(dict(args, _ansible_check_mode=check_mode)):
            with pytest.raises(SystemExit):
                module.main()
        printed = capsys.readouterr().out
        return Task(json.loads(printed), calls, printed)
    return run


def answer(document=None, code=0, err=""):
    return code, json.dumps(document) if document is not None else "", err


def journal(*steps):
    return [{"step": step, "event": event} for step, event in steps]


# -- the runs -------------------------------------------------------------------------------

def test_a_test_failover_runs_at_the_peer_by_the_plan_of_the_sites_file(run_task, sites):
    report = {"schema": 1, "mode": "test", "run": "20261206-010000-test-ab12",
              "outcome": "succeeded", "items": [],
              "journal": journal(("phase:storage", "note"), ("attach:3600", "begin"),
                                 ("attach:3600", "done"))}
    task = run_task("failover", {"sites": sites, "pool": "A1", "mode": "test",
                                 "wait_lock": 600, "vms": ["db $1"]}, [answer(report)])
    assert task.calls[0][0][:3] == [sys.executable, "-m", "xe_dr"]
    plan = os.path.join(os.path.dirname(sites), "plans", "A1.plan")
    assert task.argv == ["--sites", sites, "--pool", "B1", "--json", "--no-input", "--yes",
                         "failover", "--test", "--plan", plan, "--vm", "db $1", "--source",
                         "A1", "--wait-lock", "600"]
    result = task.result
    assert result["changed"] is True and "failed" not in result
    assert (result["run"], result["outcome"], result["pool"], result["run_pool"]) == (
        report["run"], "succeeded", "A1", "B1")
    assert result["report"] == report and result["exit_status"] == 0


def test_check_mode_is_the_dry_run_and_says_whether_it_would_change(run_task, sites):
    planned = {"schema": 1, "outcome": "planned", "items": [
        {"name_label": "erp", "excluded": None}, {"name_label": "dns", "excluded": "local"}]}
    task = run_task("failover", {"sites": sites, "pool": "A1", "mode": "failover",
                                 "source_down": True}, [answer(planned)], check_mode=True)
    assert task.command == ["failover", "--plan", task.command[2], "--source", "down",
                            "--dry-run"]
    assert task.result["changed"] is True and task.result["run"] is None
    nothing = dict(planned, items=[{"name_label": "dns", "excluded": "local"}])
    task = run_task("drill", {"sites": sites, "pool": "A1", "adapter": "/bin/adapter"},
                    [answer(nothing)], check_mode=True)
    assert task.argv[-1] == "--dry-run" and task.result["changed"] is False


def test_a_failed_run_fails_the_task_with_xe_drs_line_and_the_run_id(run_task, sites):
    stopped = {"schema": 1, "run": "20261206-010000-failover-cd34", "outcome": "failed",
               "journal": journal(("attach:3600", "begin"), ("attach:3600", "failed"))}
    task = run_task("failover", {"sites": sites, "pool": "A1", "mode": "failover"},
                    [answer(stopped, 69, "xe-dr: warning: source not checked\n"
                                         "xe-dr: error: B1: cannot connect: refused\n")])
    assert task.result["failed"] is True and task.result["changed"] is True
    assert task.result["msg"] == ("B1: cannot connect: refused "
                                  "(run 20261206-010000-failover-cd34)")
    assert task.result["exit_status"] == 69
    assert "B1: source not checked" in json.dumps(task.result["warnings"])  # its pool
    # A run that ends partly failed prints no error line: the task names what was left out
    partly = {"schema": 1, "run": "20261206-010000-test-ef56", "outcome": "partly failed",
              "failures": [], "journal": journal(("recover:vm:1", "begin")),
              "items": [{"excluded": None}, {"excluded": "db-01 needs an SR"},
                        {"excluded": "file-01 needs an SR"}]}
    task = run_task("failover", {"sites": sites, "pool": "A1", "mode": "test"},
                    [answer(partly, 2)])
    assert task.result["failed"] is True
    assert task.result["msg"] == ("test failover of A1 at B1 partly failed (exit 2): db-01 "
                                  "needs an SR; file-01 needs an SR "
                                  "(run 20261206-010000-test-ef56)")


def test_a_chap_password_reaches_xe_dr_in_its_environment_never_an_argument(run_task, sites):
    storage = {"target": ["10.0.2.50", "10.0.2.51"], "iqn": "iqn.2001-05.com.example:b",
               "scsiid": ["3600a", "3600b"], "chap_user": "dr", "chap_password": SECRET}
    task = run_task("failback", {"sites": sites, "pool": "A2", "all": True,
                                 "storage": storage}, [answer({"schema": 1, "run": None})])
    (argv, environ), = task.calls
    assert task.argv[2:] == ["--pool", "A2", "--json", "--no-input", "--yes", "failback",
                             "--all", "--source", "B1", "--target", "10.0.2.50,10.0.2.51",
                             "--iqn", "iqn.2001-05.com.example:b", "--scsiid", "3600a",
                             "--scsiid", "3600b", "--chap-user", "dr", "--chap-password-env",
                             "XE_DR_ANSIBLE_CHAP_PASSWORD"]
    assert environ == {"XE_DR_ANSIBLE_CHAP_PASSWORD": SECRET}
    assert not [a for a in argv if SECRET in a]
    assert SECRET not in task.printed  # Ansible's result (and its log) masks it
    assert task.result["invocation"]["module_args"]["storage"]["chap_password"] != SECRET


def test_xe_dr_runs_with_no_shell_no_stdin_and_not_the_environments_target(collections_path,
                                                                            monkeypatch):
    utils = importlib.import_module(PACKAGE + ".module_utils.xe_dr_cli")
    monkeypatch.setenv("XE_DR_HOST", "root@elsewhere")
    monkeypatch.setenv("XE_DR_STATE_DIR", "/var/lib/xe-dr-test")
    code, out, err = utils.execute(
        [sys.executable, "-c", "import json, os, sys; print(json.dumps([sys.argv[1:], "
         "sys.stdin.read(), os.environ.get('XE_DR_HOST'), os.environ.get('XE_DR_STATE_DIR'), "
         "os.environ.get('SECRET')]))", SECRET], {"SECRET": "s"})
    assert (code, err) == (0, "")
    assert json.loads(out) == [[SECRET], "", None, "/var/lib/xe-dr-test", "s"]


def test_a_cleanup_of_a_run_already_undone_is_ok_and_unchanged(run_task, sites):
    task = run_task("cleanup", {"sites": sites, "pool": "B1", "run": "-20261206-x",
                                "wait_lock": 60},
                    [answer(None, 66, "xe-dr: error: nothing tagged -20261206-x in this pool\n")])
    assert task.command == ["cleanup", "--wait-lock", "60", "--", "-20261206-x"]
    assert "failed" not in task.result and task.result["changed"] is False
    assert task.result["msg"] == "nothing tagged -20261206-x in this pool"


def test_a_pool_the_sites_file_lacks_or_without_a_peer_fails_before_xe_dr(run_task, sites):
    task = run_task("failover", {"sites": sites, "pool": "C1", "mode": "test"})
    assert task.result["msg"] == ("no pool 'C1' in the sites file %s (its pools: A1, A2, B1)"
                                  % sites)
    task = run_task("drill", {"sites": sites, "pool": "B1", "adapter": "/bin/adapter"})
    assert task.result["msg"].startswith("pool B1 has no peer in the sites file")
    assert task.calls == []


# -- status and replication -----------------------------------------------------------------

def status_document(replicated=(), alerts=True, problems=()):
    return {"schema": 1, "pool": {"name_label": "Site A", "metadata_lun_alerts": alerts},
            "replication": [{"sr": "uuid-" + name, "sr_name": name} for name in replicated],
            "problems": list(problems)}


def test_status_gives_the_facts_never_changed_and_check_mode_writes_no_heartbeat(run_task,
                                                                                  sites):
    document = status_document(["iSCSI DR 1"], problems=["1 VM(s) at-risk"])
    task = run_task("status", {"sites": sites, "pool": "A1", "readiness": True},
                    [answer(document, 1)])
    assert task.command == ["status", "--peer", "B1"]
    assert task.result["ansible_facts"] == {"xe_dr_status": document}
    assert (task.result["changed"], task.result["problems"]) == (False, ["1 VM(s) at-risk"])
    assert "failed" not in task.result
    task = run_task("status", {"sites": sites, "pool": "B1"}, [answer(document, 1)],
                    check_mode=True)
    assert task.command == ["status", "--no-heartbeat"]
    task = run_task("status", {"sites": sites, "pool": "B1", "heartbeat": False,
                               "fail_on_problems": True}, [answer(document, 1)])
    assert task.command == ["status", "--no-heartbeat"]
    assert task.result["failed"] is True and task.result["msg"] == "pool B1: 1 VM(s) at-risk"


def test_replication_enables_only_what_the_status_lacks(run_task, sites):
    enabled = {"schema": 1, "enabled": [{"sr": "uuid-FC DR 3", "was_enabled": False}]}
    task = run_task("replication", {"sites": sites, "pool": "A1", "alerts": True},
                    [answer(status_document(["iSCSI DR 1"], alerts=False), 1),
                     answer(enabled)])
    assert [command(argv[3:]) for argv, _ in task.calls] == [
        ["status", "--no-heartbeat"], ["replication", "enable", "--alerts", "--", "FC DR 3"]]
    assert (task.result["changed"], task.result["changed_srs"]) == (True, ["FC DR 3"])
    # by name or by UUID, and the alerts on: nothing to do, nothing run but the status
    task = run_task("replication", {"sites": sites, "pool": "A1", "alerts": True,
                                    "srs": ["uuid-FC DR 3", "iSCSI DR 1"]},
                    [answer(status_document(["iSCSI DR 1", "FC DR 3"]))])
    assert len(task.calls) == 1 and task.result["changed"] is False


def test_replication_in_check_mode_says_what_it_would_change_and_runs_only_the_status(
        run_task, sites):
    task = run_task("replication", {"sites": sites, "pool": "A1", "state": "disabled",
                                    "srs": ["FC DR 3", "iSCSI DR 9"]},
                    [answer(status_document(["iSCSI DR 1", "FC DR 3"]))], check_mode=True)
    assert task.command == ["status", "--no-heartbeat"]
    assert (task.result["changed"], task.result["changed_srs"]) == (True, ["FC DR 3"])
    task = run_task("replication", {"sites": sites, "pool": "A1", "state": "disabled",
                                    "srs": ["FC DR 3"]},
                    [answer(status_document(["FC DR 3"])), answer({"schema": 1})])
    assert task.calls[1][0][3:] == ["--sites", sites, "--pool", "A1", "--json", "--no-input",
                                    "--yes", "replication", "disable", "--", "FC DR 3"]


# -- the documentation ----------------------------------------------------------------------

def test_ansible_doc_shows_every_module_with_every_option_it_takes(collections_path):
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    if not os.path.exists(ansible_doc):
        pytest.skip("no ansible-doc beside %s" % sys.executable)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR="1")
    proc = subprocess.Popen([ansible_doc, "--json", "-t", "module"] +
                            ["xe_dr.estate." + name for name in MODULES],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    docs = json.loads(out.decode("utf-8"))
    assert sorted(docs) == sorted("xe_dr.estate." + name for name in MODULES)
    for name in MODULES:
        entry = docs["xe_dr.estate." + name]
        module = importlib.import_module(PACKAGE + ".modules." + name)
        spec, options = module.argument_spec(), entry["doc"]["options"]
        assert sorted(options) == sorted(spec), name
        for option, rules in spec.items():
            documented = options[option]
            assert documented["description"], (name, option)
            assert documented.get("type", "str") == rules.get("type", "str"), (name, option)
            assert documented.get("required", False) == rules.get("required", False), (
                name, option)
            if "options" in rules:
                assert sorted(documented["suboptions"]) == sorted(rules["options"]), option
        assert entry["examples"].strip() and entry["return"], name
        assert "xe_dr.estate." + name in entry["examples"], name


def test_the_example_playbooks_and_inventory_parse(collections_path, tmp_path):
    """What the slow tier does not run (the drill playbook) parses, against the example
    inventory whose hosts are the example sites file's pools."""
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(ansible_playbook):
        pytest.skip("no ansible-playbook beside %s" % sys.executable)
    playbooks = os.path.join(REPO, "ansible", "playbooks")
    config = tmp_path / "ansible.cfg"
    config.write_text("")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR="1",
               ANSIBLE_CONFIG=str(config), ANSIBLE_HOME=str(tmp_path / "home"))
    proc = subprocess.Popen([ansible_playbook, "--syntax-check", "-i",
                             os.path.join(playbooks, "inventory.ini")] +
                            [os.path.join(playbooks, name) for name in
                             ("status.yml", "site-failover.yml", "drill.yml")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    out = proc.communicate(timeout=120)[0].decode("utf-8", "replace")
    assert proc.returncode == 0, out
    from xe_dr.dr import sites
    estate = sites.load(os.path.join(playbooks, "estate.ini"))
    with open(os.path.join(playbooks, "inventory.ini")) as handle:
        hosts = [line.strip() for line in handle
                 if line.strip() and not line.startswith(("#", "[")) and "=" not in line]
    assert sorted(hosts) == sorted(estate.pools)
