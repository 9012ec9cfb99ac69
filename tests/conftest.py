"""Shared pytest configuration. Fixtures live in tests/fixtures_*.py modules, one per area."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _fixture_modules():
    here = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(here)):
        if name.startswith("fixtures_") and name.endswith(".py"):
            yield "tests." + name[:-3]


# Registering each fixtures module as a plugin makes its fixtures visible to every test; their
# asserts are rewritten even when one fixtures module imports another first.
pytest_plugins = list(_fixture_modules())
pytest.register_assert_rewrite(*pytest_plugins)


# Two tiers (issue 13). The fast one runs under the current Python and under dom0's 3.6; the
# slow one (``slow``: the crash test at every journal step, the sweeps over releases and dom0
# interpreters, fault campaigns, whole runs over real SSH) runs under the current Python only:
# those tests spawn their own interpreters and processes, so the Python running pytest
# changes nothing in them. scripts/run-tests runs both; --fast or --slow runs one.
slow = pytest.mark.slow


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: the slow tier, run under the current Python only (scripts/run-tests)")


#: Lab-heavy end-to-end tests left out of the 3.6 tier (the CI budget): the workflows they
#: drive (plans, the planned migration, drills) run under 3.6 in test_workflows.py,
#: test_safety_runs.py and the unit tests of their parts (test_recovery_plan.py,
#: test_select.py...). test_pyz.py runs the archive under each interpreter itself (3.6
#: included), whichever runs pytest; the runbooks of test_runbook.py and
#: test_plan_consumers.py are bash scripts (a runbook is written under 3.6 in
#: test_runbook_plan.py). The resume refusals, the state directory's failures and the
#: plugin's database opens are end-to-end runs of paths test_workflows.py,
#: test_safety_runs.py and test_journal.py take under 3.6.
CURRENT_PYTHON_ONLY = ("test_planned.py", "test_plan_runs.py", "test_drill_run.py",
                       "test_pyz.py", "test_runbook.py", "test_plan_consumers.py",
                       "test_resume_refusals.py", "test_state_dir.py", "test_plugin_opens.py")


def pytest_collection_modifyitems(config, items):
    """Under dom0's Python 3.6 the lab's own tests (tests/test_lab_*.py) are left out: the lab
    is a test tool, not what runs on dom0, and every end-to-end test of the 3.6 tier runs it
    there anyway. They run under the current Python (CI's 30 minutes)."""
    if sys.version_info >= (3, 7):
        return
    skip = pytest.mark.skip(reason="the lab's own tests run under the current Python")
    lab_heavy = pytest.mark.skip(reason="end-to-end runs of workflows the 3.6 tier runs "
                                        "elsewhere (CI's 30 minutes)")
    for item in items:
        name = os.path.basename(str(item.fspath))
        if name.startswith("test_lab_"):
            item.add_marker(skip)
        elif name in CURRENT_PYTHON_ONLY:
            item.add_marker(lab_heavy)
