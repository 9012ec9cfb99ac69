"""The product's DR procedure, by hand with raw xe, in a shell script against the lab."""

import os
import subprocess
import sys

import pytest

from tests.conftest import slow

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


@pytest.mark.skipif(not os.path.exists("/bin/bash"), reason="needs bash")
@pytest.mark.parametrize("release", ["xcp-ng-8.3", pytest.param("citrix-8.2", marks=slow),
                                     pytest.param("xenserver-9", marks=slow)])
def test_failover_and_failback_by_hand(lab_factory, release):
    """The documented sequence, with the sr-scan and re-plug that xapi >= 23.22.0 needs (and
    that are harmless on 1.249), on a release of each xapi line."""
    lab = lab_factory(release=release)
    env = dict(os.environ)
    env.update({
        "XE_A": lab.xe_path("A"), "XE_B": lab.xe_path("B"), "LAB_DIR": lab.root,
        "LAB": "%s -m xe_dr.lab" % sys.executable,
        "PYTHONPATH": REPO + os.pathsep + env.get("PYTHONPATH", ""),
    })
    proc = subprocess.Popen(["/bin/bash", os.path.join(HERE, "lab_dr_procedure.sh")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    out, _ = proc.communicate()
    text = out.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert "== done:" in text
    log = lab.call_log()
    assert any(e["command"] == "drtask-create" and e["site"] == "B" for e in log)
    assert any(e["command"] == "appliance-recover" and e["site"] == "A" for e in log)
    assert sum(e.get("db_opens", 0) for e in log) > 0
