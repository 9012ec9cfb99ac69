"""Load the extension-less plugin file as a module in the test process, with the fake
XenAPI/XenAPIPlugin importable only while it is in use (the idea of xen-api's
python3/tests/import_helper.py: scoped module mocking, not a session-wide sys.modules patch)."""

import contextlib
import importlib.machinery
import importlib.util
import sys

from tests.plugin_fakes.scenario import HERE as FAKES, PLUGIN

NAMES = ("XenAPI", "XenAPIPlugin", "fake_xapi", "xe_dr_plugin")


@contextlib.contextmanager
def plugin_module():
    saved = dict((n, sys.modules.pop(n, None)) for n in NAMES)
    sys.path.insert(0, FAKES)
    try:
        loader = importlib.machinery.SourceFileLoader("xe_dr_plugin", PLUGIN)
        spec = importlib.util.spec_from_loader("xe_dr_plugin", loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(FAKES)
        for name in NAMES:
            sys.modules.pop(name, None)
            if saved[name] is not None:
                sys.modules[name] = saved[name]
