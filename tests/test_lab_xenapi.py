"""The XenAPI stand-in in-process, against xen-api's python3/examples/XenAPI/XenAPI.py (sessions,
logout, faults) and xapi's server side (get_all_records_where, read_database_pool_uuid)."""

import os
import sys

import pytest

from xe_dr.lab import plugins

try:
    import xmlrpc.client as xmlrpclib
except ImportError:  # pragma: no cover
    import xmlrpclib


@pytest.fixture
def api(lab):
    """(XenAPI module, make(site) -> a logged-in session) bound to the lab."""
    sys.path.insert(0, plugins.XENAPI_DIR)
    saved = dict((k, os.environ.get(k)) for k in ("XE_DR_LAB_DIR", "XE_DR_LAB_SITE"))
    # the stand-in, never an XenAPI (the SDK) another test of this process imported
    for name in [k for k in sys.modules if k == "XenAPI" or k.startswith("XenAPI.")]:
        del sys.modules[name]
    import XenAPI

    def make(site):
        os.environ["XE_DR_LAB_DIR"] = lab.root
        os.environ["XE_DR_LAB_SITE"] = site
        XenAPI._backend = None
        s = XenAPI.xapi_local()
        s.xenapi.login_with_password("root", "", "1.0", "test")
        return s
    try:
        yield XenAPI, make
    finally:
        sys.path.remove(plugins.XENAPI_DIR)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        XenAPI._backend = None


def test_logout_of_a_session_set_by_hand_is_refused(api):
    XenAPI, make = api
    s = make("A")
    ref = s._session
    by_hand = XenAPI.xapi_local()
    by_hand._session = ref
    with pytest.raises(AttributeError):
        by_hand.logout()                       # _logout reads last_login_method.startswith
    assert by_hand._session is None
    # ... and the server-side session was not logged out
    assert s.xenapi.pool.get_all()
    by_hand._session = ref
    with pytest.raises(AttributeError):
        by_hand.xenapi.session.logout()
    # the raw XML-RPC call is what works
    assert by_hand.session.logout(ref) == {"Status": "Success", "Value": ""}
    assert by_hand.session.logout(ref)["ErrorDescription"][0] == "SESSION_INVALID"


def test_a_logged_in_session_logs_out_and_logs_in_again(api):
    XenAPI, make = api
    s = make("A")
    assert s.API_version == "2.21"
    first = s._session
    s.logout()
    assert s._session is None and s.last_login_method is None and s.API_version == "1.1"
    with pytest.raises(xmlrpclib.Fault) as info:
        s.xenapi.pool.get_all()
    assert (info.value.faultCode, info.value.faultString) == (401, "You must log in")
    s = make("A")
    s.session.logout(s._session)               # the server forgets it behind its back
    assert s.xenapi.pool.get_all()             # SESSION_INVALID: logged in again, retried
    assert s._session not in (None, first)


def test_an_invalid_session_set_by_hand_is_a_fault(api):
    XenAPI, make = api
    make("A")
    other = XenAPI.xapi_local()
    other._session = "OpaqueRef:nonsense"
    with pytest.raises(xmlrpclib.Fault) as info:
        other.xenapi.VM.get_all()
    assert info.value.faultCode == 401
    with pytest.raises(XenAPI.Failure) as info:
        make("A").xenapi.VM.get_record("OpaqueRef:nope")
    assert info.value.details == ["HANDLE_INVALID", "VM", "OpaqueRef:nope"]


def test_get_all_records_where(api, lab):
    XenAPI, make = api
    x = make("A").xenapi
    sr, _ = lab.replicated_srs()[0]
    lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    metadata = x.VDI.get_all_records_where('field "type" = "metadata"')
    assert [r["uuid"] for r in metadata.values()] == \
        lab.ok("A", "vdi-list", "type=Metadata", "--minimal").values
    assert x.VDI.get_all_where('field "type" = "metadata"') == list(metadata)
    # database column names: name__label, not name_label
    named = x.VM.get_all_records_where('field "name__label" = "web-01"')
    assert [r["uuid"] for r in named.values()] == [lab.vm_uuid("web-01")]
    with pytest.raises(XenAPI.Failure) as info:
        x.VM.get_all_records_where('field "name_label" = "web-01"')
    assert info.value.details == ["INTERNAL_ERROR", "missing field", "name_label", ""]
    # booleans and references as the database marshals them; and, or, not
    dom0s = x.VM.get_all_where('field "is_control_domain" = "true"')
    assert len(dom0s) == len(x.host.get_all())
    master = x.pool.get_master(x.pool.get_all()[0])
    on_master = x.VM.get_all_where('field "resident_on" = "%s" and field '
                                   '"is_control_domain" = "true"' % master)
    assert len(on_master) == 1
    # "not" takes everything to its right: not (a and b)
    assert set(x.VM.get_all_where('not field "resident_on" = "%s" and field '
                                  '"is_control_domain" = "true"' % master)) == \
        set(x.VM.get_all()) - set(on_master)
    assert x.VM.get_all_where("false or true") == x.VM.get_all()
    assert x.VM.get_all_where('("a" = "b")') == []
    for bad, exn in (("field x", 'Failure("lexing: empty token")'),
                     ('field "a" =', "Stdlib.Parsing.Parse_error"),
                     ("", "Stdlib.Parsing.Parse_error")):
        with pytest.raises(XenAPI.Failure) as info:
            x.VM.get_all_records_where(bad)
        assert info.value.details == ["INVALID_VALUE", bad, exn]


def test_messages_where(api, lab):
    XenAPI, make = api
    x = make("A").xenapi
    found = x.message.get_all_records_where('field "name" = "HOST_CLOCK_SKEW_DETECTED" and '
                                            'field "cls" = "Host" and field "priority" = "3"')
    assert len(found) == 1
    with pytest.raises(XenAPI.Failure) as info:
        x.message.get_all_records_where('field "class" = "Host"')
    assert info.value.details == ["INTERNAL_ERROR", "missing field", "class", ""]


def test_read_database_pool_uuid(api, lab):
    XenAPI, make = api
    lab.enable_replication()
    lab.failover_task("B")
    vdi = lab.metadata_vdi("B")
    x = make("B").xenapi
    pool_a = lab.ok("A", "pool-list", "--minimal").value
    assert x.VDI.read_database_pool_uuid(x.VDI.get_by_uuid(vdi)) == pool_a
    local = x.VDI.get_by_uuid(lab.ok("B", "vdi-list", "type=User", "--minimal").values[0])
    assert x.VDI.read_database_pool_uuid(local) == ""
    assert x.VDI.read_database_pool_uuid("OpaqueRef:nope") == ""


def test_class_names_are_the_exact_wire_names(api):
    """xapi dispatches "VM.get_all", not "vm.get_all" (its server dispatch is generated per
    class name, ocaml/xapi/server.ml): any other case is MESSAGE_METHOD_UNKNOWN."""
    XenAPI, make = api
    session = make("A")
    assert session.xenapi.VM.get_all()
    assert session.xenapi.VM_appliance.get_all() is not None
    for wrong in ("vm", "Vm", "sr", "Host", "vm_appliance"):
        with pytest.raises(XenAPI.Failure) as info:
            getattr(session.xenapi, wrong).get_all()
        assert info.value.details == ["MESSAGE_METHOD_UNKNOWN", "%s.get_all" % wrong]
