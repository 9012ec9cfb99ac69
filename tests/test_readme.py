"""The README's tour runs as written.

Every block of README.md fenced ``sh``, ``bash`` or ``console`` (of a console block, the lines
starting with ``$ ``) runs, in order, as one ``bash -eo pipefail`` script, from an empty
directory, with a clean environment (PATH and HOME) and the standard library's Python only,
and leaves the lab as the tour says: the failback done, the VMs running at site A again.

The first block is the newcomer's two commands (a whole drill and the whole test suite, run at
the top of a clone); it stays exactly as it is and is not run here (tests/test_drill.py runs
the drill). The second (where the tour finds xe-dr) runs at the top of the clone, as the
README says; the tour's blocks after it run from an empty directory.
"""

import json
import os
import re
import shlex
import stat
import subprocess
import sys

import pytest

# The slow tier (tests/conftest.py): a whole tour, every step a real process.
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NEWCOMER = (
    "scripts/drill            # a whole DR drill on the simulated lab (needs only python3 >= 3.6)",
    "scripts/run-tests        # the tests (sets itself up, system packages included; "
    "--fast: the quick tier)",
)
SHELL = ("sh", "bash", "console")

# The lab is deterministic: these are the VMs a failover --all recovers (three more are on
# storage without replicated metadata, and stay at site A).
RECOVERED = {"web-01", "app-01", "mail-01", "proxy-01", "build-01", "ldap-01", "cache-01",
             "mon-01", "queue-01"}


def fenced_blocks(text):
    """(language, lines) of each fenced block of a Markdown text, in order."""
    blocks, language, lines = [], None, None
    for line in text.splitlines():
        if lines is None:
            opening = re.match(r"^```([\w-]*)\s*$", line)
            if opening:
                language, lines = opening.group(1), []
        elif line.rstrip() == "```":
            blocks.append((language, lines))
            lines = None
        else:
            lines.append(line)
    assert lines is None, "README.md: a fenced block is never closed"
    return blocks


def commands(language, lines):
    if language == "console":
        return [line[2:] for line in lines if line.startswith("$ ")]
    return lines


def tour_script(text, here):
    """The README's shell blocks as one script, started in the empty directory ``here``."""
    blocks = [commands(language, lines) for language, lines in fenced_blocks(text)
              if language in SHELL]
    assert len(blocks) > 2, "README.md has no tour after its first two blocks"
    assert tuple(line for line in blocks[0] if line.strip()) == NEWCOMER, \
        "README.md's first block must be the newcomer's two commands, as they were"
    script = ["cd %s   # the second block runs at the top of the clone" % shlex.quote(ROOT)]
    script += blocks[1]
    script.append("cd %s   # the tour runs from any directory" % shlex.quote(here))
    for block in blocks[2:]:
        script += block
    return "\n".join(script) + "\n"


def lab_xe(lab, site, *args):
    out = subprocess.check_output([os.path.join(lab, "bin", "xe-" + site)] + list(args),
                                  stdin=subprocess.DEVNULL)
    return out.decode("utf-8")


def names(minimal):
    return set(name for name in minimal.strip().split(",") if name)


def test_the_readme_tour_runs_as_written(tmp_path):
    with open(os.path.join(ROOT, "README.md")) as handle:
        readme = handle.read()
    here, tmp, home, bin_dir = (tmp_path / name for name in ("here", "tmp", "home", "bin"))
    for path in (here, tmp, home, bin_dir):
        path.mkdir()
    # python3 is the interpreter running this test (dom0's 3.6 or a current one), not the
    # virtual environment's packages: the tour needs the standard library alone.
    python3 = bin_dir / "python3"
    python3.write_text('#!/bin/sh\nexec %s -S "$@"\n' % shlex.quote(os.path.realpath(sys.executable)))
    python3.chmod(python3.stat().st_mode | stat.S_IXUSR)
    script = tmp_path / "tour.sh"
    script.write_text(tour_script(readme, str(here)))
    env = {"PATH": "%s:/usr/bin:/bin" % bin_dir, "HOME": str(home), "TMPDIR": str(tmp)}
    proc = subprocess.Popen(["bash", "-eo", "pipefail", str(script)], cwd=str(here), env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    out = proc.communicate(timeout=900)[0].decode("utf-8", "replace")
    assert proc.returncode == 0, out[-6000:]

    # Everything under one mktemp -d: the lab and xe-dr's state; nothing where it ran.
    assert os.listdir(str(here)) == []
    made = os.listdir(str(tmp))
    assert len(made) == 1, made
    tour = os.path.join(str(tmp), made[0])
    assert sorted(os.listdir(tour)) == ["lab", "state"]

    runs = {}
    for run_id in os.listdir(os.path.join(tour, "state", "runs")):
        with open(os.path.join(tour, "state", "runs", run_id, "run.json")) as handle:
            meta = json.load(handle)
        runs.setdefault(meta["kind"], []).append(meta["status"])
    assert runs.get("test") == ["cleaned up"], runs
    assert runs.get("failover") == ["succeeded"], runs
    assert runs.get("failback") == ["succeeded"], runs

    # The failback as it really goes: the VMs halted at B, running at A again, and the array
    # mirroring A to B as before the disaster.
    lab = os.path.join(tour, "lab")
    running_a = names(lab_xe(lab, "A", "vm-list", "power-state=running",
                             "is-control-domain=false", "params=name-label", "--minimal"))
    running_b = names(lab_xe(lab, "B", "vm-list", "power-state=running",
                             "is-control-domain=false", "params=name-label", "--minimal"))
    assert RECOVERED <= running_a, running_a
    assert not RECOVERED & running_b, running_b
    show = json.loads(subprocess.check_output(
        [sys.executable, "-m", "xe_dr", "lab", "show", lab, "--json"], cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT)).decode("utf-8"))
    mirrors = {lun: show["luns"][lun]["mirror"] for lun in ("lun1", "lun2", "lun3")}
    assert set(mirrors.values()) == {"mirroring (source A)"}, mirrors
