"""Bash completion: the committed script is the generated one, and bash itself completes
commands, options, choices, run ids and (from a lab) VM and vApp names with it."""

import argparse
import io
import os
import shutil
import stat
import subprocess
import sys

import pytest

from xe_dr.cli import build_parser, main
from xe_dr.cli.environment import Environment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "xe-dr-completion.bash")
CI = os.environ.get("CI") == "true"


def run_cli(argv, environ=None):
    env = Environment(stdin=io.StringIO(""), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ=environ or {}, stdin_isatty=False, stdout_isatty=False,
                      stderr_isatty=False)
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def _bash():
    path = shutil.which("bash")
    if path is None:
        if CI:
            pytest.fail("bash is not installed (required when CI=true)")
        pytest.skip("bash is not installed")
    return path


def _subparsers():
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return parser, action.choices
    raise AssertionError("no commands")


# -- the committed script -----------------------------------------------------------------------

def test_committed_script_is_the_generated_one():
    code, out, err = run_cli(["completion"])
    assert code == 0, err
    with open(SCRIPT, encoding="utf-8") as handle:
        committed = handle.read()
    assert committed == out, ("scripts/xe-dr-completion.bash is stale: regenerate it with "
                              "'python3 -m xe_dr completion > scripts/xe-dr-completion.bash'")


def test_script_is_valid_bash():
    result = subprocess.run([_bash(), "-n", SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    assert (result.returncode, result.stderr) == (0, "")


def test_json_gives_the_word_lists():
    import json
    code, out, _ = run_cli(["--json", "completion"])
    data = json.loads(out)
    _, commands = _subparsers()
    assert [c["name"] for c in data["commands"]] == list(commands)
    assert data["global_options"]["--ssh"] == "words paramiko openssh"


# -- bash completing ----------------------------------------------------------------------------

DRIVER = r'''
source "$1"; shift
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_xe_dr
printf '%s\n' "${COMPREPLY[@]}"
'''


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory):
    """A directory with an ``xe-dr`` that runs this checkout with this Python."""
    path = tmp_path_factory.mktemp("bin")
    wrapper = path / "xe-dr"
    wrapper.write_text('#!/bin/sh\nPYTHONPATH=%s exec %s -m xe_dr "$@"\n' % (ROOT, sys.executable))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def complete(bin_dir, *words, **env):
    environ = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    environ.pop("PYTHONPATH", None)
    # A lookup gives up after XE_DR_COMPLETION_TIMEOUT (5 s by default, for a person at a
    # prompt): a loaded machine running Python 3.6 can take longer than that to start xe-dr
    # and ask the lab, which would complete nothing. The tests wait for the answer.
    environ["XE_DR_COMPLETION_TIMEOUT"] = "120"
    environ.update(env)
    result = subprocess.run([_bash(), "--norc", "--noprofile", "-c", DRIVER, "driver", SCRIPT]
                            + list(words), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, env=environ, timeout=300)
    assert result.returncode == 0, result.stderr
    # bash sorts what it shows; COMPREPLY itself is in no particular order
    return sorted(line for line in result.stdout.splitlines() if line)


def test_commands(bin_dir):
    _, commands = _subparsers()
    assert complete(bin_dir, "xe-dr", "") == sorted(commands)
    assert complete(bin_dir, "xe-dr", "fa") == ["failback", "failover"]


def test_commands_after_global_options_with_values(bin_dir):
    assert complete(bin_dir, "xe-dr", "-H", "root@xcp-b1", "--xe", "/x", "inv") == ["inventory"]


def test_global_options_before_the_command(bin_dir):
    parser, _ = _subparsers()
    expected = sorted(o for a in parser._actions for o in a.option_strings if o.startswith("--"))
    assert complete(bin_dir, "xe-dr", "--") == expected


def test_options_of_failover(bin_dir):
    _, commands = _subparsers()
    expected = sorted(o for a in commands["failover"]._actions for o in a.option_strings
                      if o.startswith("--"))
    assert complete(bin_dir, "xe-dr", "failover", "--") == expected
    assert "--test" in expected and "--json" in expected  # its own and the global ones
    assert complete(bin_dir, "xe-dr", "failover", "--dis") == ["--disable-ha"]


def test_choices(bin_dir):
    assert complete(bin_dir, "xe-dr", "failover", "--power", "") == ["none", "paused", "start"]
    assert complete(bin_dir, "xe-dr", "--ssh", "o") == ["openssh"]
    assert complete(bin_dir, "xe-dr", "replication", "") == ["disable", "enable"]
    # a sub-command has options of its own
    assert complete(bin_dir, "xe-dr", "replication", "enable", "--al") == ["--alerts"]
    assert complete(bin_dir, "xe-dr", "replication", "disable", "--al") == []
    assert complete(bin_dir, "xe-dr", "replication", "enable", "SR1", "") == []
    # the value of a flag is not a thing: the next word is the next option or argument
    assert complete(bin_dir, "xe-dr", "--json", "replication", "e") == ["enable"]


def test_the_lab_command_line_is_left_alone(bin_dir):
    assert complete(bin_dir, "xe-dr", "lab", "") == []
    assert complete(bin_dir, "xe-dr", "lab", "show", "--") == []


def test_run_ids_from_the_state_dir(bin_dir, tmp_path):
    from xe_dr.journal import Run
    state = str(tmp_path / "state")
    run = Run.create(state, "test", {"pool_uuid": "p", "pool_name": "B"})
    assert complete(bin_dir, "xe-dr", "--state-dir", state, "cleanup", "") == [run.id]
    assert complete(bin_dir, "xe-dr", "failover", "--state-dir", state, "--resume",
                    run.id[:4]) == [run.id]
    assert complete(bin_dir, "xe-dr", "failover", "--state-dir=" + state, "--resume",
                    "nothing") == []


def test_names_are_quoted_for_the_shell(bin_dir):
    script = (r'source "$1"; _xe_dr_reply_lines "we" "$(printf "web 01\nweb-02\ndb\n")";'
              r' printf "%s\n" "${COMPREPLY[@]}"')
    result = subprocess.run([_bash(), "--norc", "-c", script, "driver", SCRIPT],
                            stdout=subprocess.PIPE, universal_newlines=True)
    assert result.stdout.splitlines() == ["web\\ 01", "web-02"]


# -- names from a pool (the lab) ----------------------------------------------------------------

def _xe(path, *args):
    return subprocess.run([path] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def dr_site(tmp_path_factory):
    """A lab where site B sees site A's replicated metadata: replication enabled at A on a
    mirrored SR, the mirror broken, and B's copy of that SR attached with a DR task."""
    from xe_dr.lab import cli as lab_cli
    from xe_dr.lab import world
    from xe_dr.lab.store import Lab
    root = str(tmp_path_factory.mktemp("lab") / "lab")
    world.create(root)
    lab = Lab(root)
    xe_a, xe_b = lab.xe_path("A"), lab.xe_path("B")
    facts = lab_cli.summary(lab)
    lun = facts["luns"]["lun1"]
    sr = lun["vg"]["A"]
    _xe(xe_a, "sr-enable-database-replication", "uuid=" + sr)
    with open(os.devnull, "w") as quiet:
        saved, sys.stdout = sys.stdout, quiet
        try:
            assert lab_cli.main(["mirror", root, "break"]) == 0
        finally:
            sys.stdout = saved
    portal = facts["portals"]["B"]
    _xe(xe_b, "drtask-create", "type=lvmoiscsi", "device-config:target=" + portal["address"],
        "device-config:targetIQN=" + portal["iqn"],
        "device-config:SCSIid=" + lun["copies"]["B"], "sr-whitelist=" + sr)
    # xapi >= 23.22 (the lab's default) does not scan on plug: scan, then plug again so that
    # it reads the metadata copy
    from tests.fixtures_lab import LabHandle
    LabHandle(root).make_visible("B", [sr])
    vms = _xe(xe_a, "vm-list", "is-control-domain=false", "is-a-snapshot=false",
              "params=name-label", "--minimal").split(",")
    vapps = _xe(xe_a, "appliance-list", "params=name-label", "--minimal").split(",")
    return {"xe_a": xe_a, "xe_b": xe_b, "vms": sorted(set(vms)), "vapps": sorted(set(vapps)),
            "target": portal["address"], "iqn": portal["iqn"], "sr": sr,
            "scsiid": lun["copies"]["B"]}


def test_vm_names_from_the_recoverable_metadata(bin_dir, dr_site):
    assert dr_site["vms"] and dr_site["vapps"]
    assert complete(bin_dir, "xe-dr", "--xe", dr_site["xe_b"], "failover", "--vm", "") == \
        dr_site["vms"]
    first = dr_site["vms"][0]
    assert first in complete(bin_dir, "xe-dr", "failover", "--test", "--xe", dr_site["xe_b"],
                             "--vm", first[:2])


def test_vapp_and_exclude_names(bin_dir, dr_site):
    assert complete(bin_dir, "xe-dr", "failover", "--xe", dr_site["xe_b"], "--vapp", "") == \
        dr_site["vapps"]
    assert complete(bin_dir, "xe-dr", "failback", "--xe", dr_site["xe_b"], "--exclude", "") == \
        sorted(dr_site["vms"] + dr_site["vapps"])


def test_option_equals_value_as_bash_splits_it(bin_dir, dr_site):
    # bash splits "--vm=w" at '=' into "--vm" "=" "w"; the '=' in --xe=PATH too
    words = ["xe-dr", "failover", "--xe", "=", dr_site["xe_b"], "--vm", "=", ""]
    assert complete(bin_dir, *words) == dr_site["vms"]


def test_sr_uuids_from_a_probe_of_the_lun(bin_dir, dr_site):
    assert complete(bin_dir, "xe-dr", "failover", "--xe", dr_site["xe_b"],
                    "--target", dr_site["target"], "--iqn", dr_site["iqn"],
                    "--scsiid", dr_site["scsiid"], "--sr", "") == [dr_site["sr"]]
    # without --scsiid there is nothing to ask: no SR, and no probe
    assert complete(bin_dir, "xe-dr", "failover", "--xe", dr_site["xe_b"], "--sr", "") == []


def test_nothing_when_the_pool_cannot_be_asked(bin_dir, dr_site, tmp_path):
    missing = str(tmp_path / "no-such-xe")
    assert complete(bin_dir, "xe-dr", "--xe", missing, "failover", "--vm", "") == []
    # the primary site has no foreign metadata: nothing to recover, nothing to complete
    assert complete(bin_dir, "xe-dr", "--xe", dr_site["xe_a"], "failover", "--vm", "") == []
