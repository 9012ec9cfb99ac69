"""The lab's XenAPI through the xapi team's own client: the ``XenAPI`` SDK from the package
index (issue 12) talks XML-RPC to the lab on 127.0.0.1 (xe_dr/lab/xenapi_server.py). Method
names, marshalling (xapi sends no nil, and int64 as strings) and the Failure structure are
checked by that client."""

import sys

import pytest

from xe_dr.lab.schema import TABLES
from xe_dr.lab.xenapi_server import XenAPIServer



def _sdk():
    """The SDK, imported without leaving it in sys.modules: other tests of the same process
    import the lab's stand-in under the same name ``XenAPI``."""
    saved = dict((k, sys.modules.pop(k)) for k in list(sys.modules)
                 if k == "XenAPI" or k.startswith("XenAPI."))
    try:
        return pytest.importorskip("XenAPI", reason="the XenAPI SDK is a test requirement")
    finally:
        for k in [k for k in sys.modules if k == "XenAPI" or k.startswith("XenAPI.")]:
            del sys.modules[k]
        sys.modules.update(saved)


XenAPI = _sdk()
if not hasattr(XenAPI, "Session") or "site-packages" not in (XenAPI.__file__ or ""):
    pytest.skip("XenAPI here is not the SDK from the package index", allow_module_level=True)


@pytest.fixture
def sdk(lab):
    lab.enable_replication()
    server = XenAPIServer(lab.root, "A")
    session = XenAPI.Session(server.url)
    session.xenapi.login_with_password("root", "", "1.0", "xe-dr-tests")
    try:
        yield session
    finally:
        session.xenapi.session.logout()
        server.close()


def test_every_class_marshals_as_xapi_sends_it(sdk, lab):
    """Every record of every class goes through XML-RPC without nil and without an integer
    wider than XML-RPC's 32 bits (xapi sends int64 as strings)."""
    db = lab.db("A")
    for cls in TABLES:
        records = getattr(sdk.xenapi, cls).get_all_records()
        assert sorted(records) == sorted(db.rows(cls)), cls


def test_the_calls_the_plugin_makes(sdk, lab):
    web = sdk.xenapi.VM.get_all_records_where('field "name__label" = "web-01"')
    [(ref, record)] = web.items()
    assert record["uuid"] == lab.vm_uuid("web-01")
    assert isinstance(record["memory_static_max"], str)
    assert sdk.xenapi.VM.get_by_uuid(record["uuid"]) == ref
    [pool] = sdk.xenapi.pool.get_all()
    assert sdk.xenapi.pool.get_master(pool) in sdk.xenapi.host.get_all()
    metadata = sdk.xenapi.VDI.get_all_records_where('field "type" = "metadata"')
    assert metadata and all(r["type"] == "metadata" for r in metadata.values())


def test_failures_reach_the_sdk_as_xapi_raises_them(sdk):
    with pytest.raises(XenAPI.Failure) as info:
        sdk.xenapi.VM.get_record("OpaqueRef:nope")
    assert info.value.details == ["HANDLE_INVALID", "VM", "OpaqueRef:nope"]
    with pytest.raises(XenAPI.Failure) as info:
        sdk.xenapi.vm.get_all()
    assert info.value.details == ["MESSAGE_METHOD_UNKNOWN", "vm.get_all"]
