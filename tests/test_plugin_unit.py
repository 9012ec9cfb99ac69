"""The plugin's helpers in-process: the error wrapper's one shape, logging out foreign sessions
with the real XenAPI's interface and with a stand-in's, the bounded worker pool, argv repair."""

import threading
import time

import pytest

from tests.plugin_fakes.loader import plugin_module


@pytest.fixture(scope="module")
def plugin():
    with plugin_module() as module:
        yield module


def failure_of(plugin, exc):
    def fn(session, args):
        raise exc
    with pytest.raises(plugin.XenAPIPlugin.Failure) as info:
        plugin.wrapped(fn)(None, {})
    return info.value.params


def test_a_xapi_failure_keeps_its_code_and_params(plugin):
    exc = plugin.XenAPI.Failure(["VM_REQUIRES_SR", "OpaqueRef:a", "OpaqueRef:b"])
    assert failure_of(plugin, exc) == ["VM_REQUIRES_SR", "OpaqueRef:a", "OpaqueRef:b"]


def test_other_exceptions_have_one_message(plugin):
    assert failure_of(plugin, KeyError("SR")) == ["XE_DR_PLUGIN_ERROR", "KeyError: 'SR'"]
    assert failure_of(plugin, plugin.bad_argument("no")) == [
        "XE_DR_PLUGIN_INVALID_ARGUMENT", "no"]


def test_failure_text_is_ascii(plugin):
    exc = plugin.XenAPI.Failure(["UUID_INVALID", "VM", u"caf\u00e9"])
    assert failure_of(plugin, exc) == ["UUID_INVALID", "VM", "caf\\xe9"]


def test_the_wrapper_passes_results_and_string_args(plugin):
    seen = []

    def fn(session, args):
        seen.append(args)
        return "done"
    assert plugin.wrapped(fn)("s", {"vdi": "x"}) == "done"
    assert seen == [{"vdi": "x"}]


class RawProxy(object):
    """What a real XenAPI.Session gives for ``proxy.session``: raw XML-RPC methods."""

    def __init__(self, log, status="Success"):
        self.log = log
        self.status = status

    def logout(self, ref):
        self.log.append(("raw", ref))
        return {"Status": self.status, "ErrorDescription": ["SESSION_INVALID", ref]}


class RealLike(object):
    def __init__(self, log, status="Success"):
        self.session = RawProxy(log, status)


class StandIn(object):
    """A stand-in XenAPI without raw attributes: only the dispatcher's logout."""

    def __init__(self, log):
        self.log = log

    def __getattr__(self, name):
        if name == "xenapi":
            outer = self

            class Dispatcher(object):
                class session(object):
                    @staticmethod
                    def logout():
                        outer.log.append(("dispatcher",))
            return Dispatcher
        raise AttributeError(name)


def test_logout_uses_the_raw_call_on_the_real_interface(plugin):
    log = []
    plugin._logout(RealLike(log), "OpaqueRef:f")
    assert log == [("raw", "OpaqueRef:f")]
    plugin._logout(RealLike(log, status="Failure"), "OpaqueRef:g")   # logged, not raised


def test_logout_falls_back_to_the_dispatcher(plugin):
    log = []
    plugin._logout(StandIn(log), "OpaqueRef:f")
    assert log == [("dispatcher",)]


def test_the_real_dispatcher_logout_cannot_log_out_a_session_set_by_hand(plugin):
    """Why the plugin does not call xenapi.session.logout(): XenAPI consults
    last_login_method, which is None for a session ref set by hand (the fake mirrors it)."""
    proxy = plugin.XenAPI.xapi_local()
    proxy._session = "OpaqueRef:f"
    with pytest.raises(AttributeError):
        proxy.xenapi.session.logout()


def test_run_bounded_keeps_order_and_the_bound(plugin):
    active, peak, lock = [0], [0], threading.Lock()

    def work(item):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return item * 2

    assert plugin.run_bounded(list(range(10)), work, 3) == [i * 2 for i in range(10)]
    assert peak[0] == 3
    assert plugin.run_bounded([], work, 3) == []


def test_argv_repair(plugin):
    import os
    raw = u"<x>produ\u00e7\u00e3o</x>".encode("utf-8")
    argv = ["plugin", os.fsdecode(raw)]
    assert plugin.argv_as_utf8(argv)[1] == u"<x>produ\u00e7\u00e3o</x>"
    assert plugin.argv_as_utf8(["plugin"]) == ["plugin"]


def test_real_vm_rule(plugin):
    assert plugin.is_real_vm({"is_a_template": False, "is_a_snapshot": False,
                              "is_control_domain": False})
    for field in ("is_a_template", "is_a_snapshot", "is_control_domain"):
        assert not plugin.is_real_vm({field: True})
    assert not plugin.is_real_vm({"is_a_template": "true"})
