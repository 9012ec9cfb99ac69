"""``python -m xe_dr.lab``: create, show, mirror, disaster/restore, fault, cost, set, calls,
xe, destroy."""

import argparse
import io
import json
import os
import subprocess
import sys

import pytest

from xe_dr.lab import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*argv):
    out = io.StringIO()
    code = cli.main(list(argv), out=out)
    return code, out.getvalue()


def test_create_show_destroy(tmp_path):
    d = str(tmp_path / "lab")
    code, out = run("create", d, "--vms", "5", "--vapps", "1", "--seed", "7")
    assert code == 0 and "site A: %s/bin/xe-A" % d in out
    assert os.access(os.path.join(d, "bin", "xe-A"), os.X_OK)
    code, out = run("show", d, "--json")
    data = json.loads(out)
    assert data["sites"]["A"]["vms_total"] == 5 and data["sites"]["A"]["appliances"] == 1
    assert data["luns"]["lun1"]["mirror"] == "mirroring (source A)"
    code, out = run("show", d)
    assert "site B: pool Site B" in out and "lun1" in out
    assert "None" not in out  # a LUN with no SR at a site says so
    assert run("create", d)[0] == 1  # refuses to overwrite
    assert run("destroy", d)[0] == 0 and not os.path.exists(d)
    assert run("show", d)[0] == 1


def test_same_seed_same_world(tmp_path):
    run("create", str(tmp_path / "a"), "--seed", "3")
    run("create", str(tmp_path / "b"), "--seed", "3")
    sa = json.loads(run("show", str(tmp_path / "a"), "--json")[1])
    sb = json.loads(run("show", str(tmp_path / "b"), "--json")[1])
    assert sa["sites"]["A"]["pool"] == sb["sites"]["A"]["pool"]
    assert sa["sites"]["B"]["srs"] == sb["sites"]["B"]["srs"]


def test_mirror_actions(lab):
    for action, state in (("break", "broken (source A)"), ("reverse", "reversed (source B)"),
                          ("freeze", "reversed (source B, frozen)"),
                          ("thaw", "reversed (source B)"), ("resync", "reversed (source B)")):
        code, out = run("mirror", lab.root, action)
        assert code == 0 and "lun1: %s" % state in out
    code, out = run("mirror", lab.root, "break", "--lun", "lun2")
    assert out == "lun2: broken (source B)\n"


def test_disaster_restore_fault_cost_set_calls(lab):
    run("disaster", lab.root, "--site", "A")
    assert lab.xe("A", "vm-list").code == 1
    run("restore", lab.root, "--site", "A")
    assert lab.xe("A", "vm-list").code == 0
    code, out = run("fault", lab.root, "add", "--command", "host-list", "--error",
                    "HOST_OFFLINE", "OpaqueRef:x")
    assert json.loads(out)["error"] == ["HOST_OFFLINE", "OpaqueRef:x"]
    assert lab.xe("B", "host-list").code == 1
    assert "HOST_OFFLINE" in run("fault", lab.root, "list")[1]
    run("fault", lab.root, "clear")
    assert lab.xe("B", "host-list").code == 0
    run("cost", lab.root, "0.5")
    assert lab.lab.reload()["cost_factor"] == 0.5
    run("cost", lab.root, "0")
    pool = lab.ok("A", "pool-list", "--minimal").value
    assert run("set", lab.root, "A", "pool", pool, "restrictions:restrict_dr", "true")[0] == 0
    assert "restrict_dr: true" in lab.ok("A", "pool-param-get", "uuid=" + pool,
                                         "param-name=restrictions").value
    out = run("calls", lab.root)[1]
    assert "A pool-param-get" in out and "exit=0" in out


def test_module_entry_point_and_xe_subcommand(lab):
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "xe_dr.lab", "xe", lab.root, "A",
                             "pool-list", "--minimal"], stdout=subprocess.PIPE, env=env)
    out, _ = proc.communicate()
    assert proc.returncode == 0
    assert out.decode().strip() == lab.ok("A", "pool-list", "--minimal").value
    proc = subprocess.Popen([sys.executable, "-m", "xe_dr.lab"], stdout=subprocess.PIPE,
                            env=env)
    proc.communicate()
    assert proc.returncode == 64


def _lab_commands():
    parser = cli.parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = dict((a.dest, a.help) for a in action._choices_actions)
            return parser, [(name, helps.get(name), sub)
                            for name, sub in sorted(action.choices.items())]
    raise AssertionError("the lab's parser has no commands")


def test_every_command_and_option_of_the_lab_has_help(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    parser, commands = _lab_commands()
    assert len(commands) >= 14
    missing = []
    for name, text, sub in commands:
        if not text or not sub.description:
            missing.append(name)
        for action in sub._actions:
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append("%s %s" % (name, "/".join(action.option_strings) or
                                          action.metavar or action.dest))
    assert missing == [], "no help text: %s" % ", ".join(missing)
    for name, text, sub in commands:
        with pytest.raises(SystemExit) as stop:
            cli.main([name, "--help"])
        assert stop.value.code == 0
        shown = capsys.readouterr().out
        assert text in " ".join(shown.split())
        for action in sub._actions:
            first = " ".join(action.help.split()[:4])  # wrapped at 80 columns
            assert first in " ".join(shown.split()), (name, action.help)
    assert "examples:" in parser.format_help()
