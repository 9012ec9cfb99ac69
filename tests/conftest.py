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


# The sweeps over releases and dom0 interpreters spawn the lab's xe and pyenv's Pythons
# themselves, so the Python running pytest changes nothing in them: they run once, under the
# current Python (issue 12 allows that tier); dom0's 3.6 runs the default profile.
sweep = pytest.mark.skipif(sys.version_info < (3, 7),
                           reason="release and interpreter sweeps run under the current Python")
