# -*- coding: utf-8 -*-
"""A fake of xapi's XenAPI module for the plugin's tests (Python 2.7 and 3.6+).

Same shape as the real one (xapi-project/xen-api python3/examples/XenAPI/XenAPI.py, read, not
copied): ``Failure(details)``, ``xapi_local()``, a ``Session`` whose ``xenapi`` attribute builds
``Class.method`` names, ``_session`` holding the session ref, and the same logout rule: going
through ``session.xenapi.session.logout()`` consults ``last_login_method`` (None for a session
ref set by hand, which raises AttributeError just like the real module). Raw attribute calls
(``proxy.session.logout(ref)``) return the raw ``{"Status": ...}`` dict, as xmlrpclib's
ServerProxy does. Calls go to ``fake_xapi.server()`` through an XML-RPC round trip.

A real Session is an xmlrpclib ServerProxy and must not be used by two threads at once; this
fake raises if that happens, so the plugin's threading is checked.
"""

import threading

import fake_xapi

try:
    import xmlrpc.client as xmlrpclib
except ImportError:  # Python 2
    import xmlrpclib

API_VERSION_1_1 = "1.1"
API_VERSION_1_2 = "1.2"


class Failure(Exception):
    def __init__(self, details):
        Exception.__init__(self)
        self.details = details

    def __str__(self):
        return str(self.details)

    def _details_map(self):
        return dict([(str(i), self.details[i]) for i in range(len(self.details))])


_RECONNECT_AND_RETRY = object()


class ConcurrentUse(Exception):
    pass


class _Method(object):
    """A raw XML-RPC method (what ServerProxy.__getattr__ returns)."""

    def __init__(self, session, name):
        self._owner = session
        self._name = name

    def __getattr__(self, name):
        return _Method(self._owner, "%s.%s" % (self._name, name))

    def __call__(self, *params):
        return self._owner._raw_call(self._name, params)


class Session(object):
    def __init__(self, uri, transport=None, encoding=None, verbose=False, allow_none=True,
                 ignore_ssl=False):
        self._uri = uri
        self._session = None
        self.last_login_method = None
        self.last_login_params = None
        self._API_version = API_VERSION_1_1
        self._busy = threading.Lock()

    def _raw_call(self, name, params):
        if not self._busy.acquire(False):
            raise ConcurrentUse("one XenAPI.Session used by two threads at once (%s)" % name)
        try:
            return fake_xapi.server().call(name, params)
        finally:
            self._busy.release()

    def xenapi_request(self, methodname, params):
        if methodname.startswith("login"):
            self._login(methodname, params)
            return None
        elif methodname == "logout" or methodname == "session.logout":
            self._logout()
            return None
        retry_count = 0
        while retry_count < 3:
            full_params = (self._session,) + tuple(params)
            result = _parse_result(self._raw_call(methodname, full_params))
            if result is _RECONNECT_AND_RETRY:
                retry_count += 1
                if self.last_login_method:
                    self._login(self.last_login_method, self.last_login_params)
                else:
                    raise xmlrpclib.Fault(401, "You must log in")
            else:
                return result
        raise xmlrpclib.Fault(500, "Tried 3 times to get a valid session, but failed")

    def _login(self, method, params):
        raise xmlrpclib.Fault(500, "the fake XenAPI does not log in; set _session")

    def _logout(self):
        try:
            if self.last_login_method.startswith("slave_local"):
                return _parse_result(self._raw_call("session.local_logout", (self._session,)))
            return _parse_result(self._raw_call("session.logout", (self._session,)))
        finally:
            self._session = None
            self.last_login_method = None
            self.last_login_params = None
            self._API_version = API_VERSION_1_1

    def __getattr__(self, name):
        if name == "handle":
            return self._session
        elif name == "xenapi":
            return _Dispatcher(self.xenapi_request, None)
        elif name.startswith("login") or name.startswith("slave_local"):
            return lambda *params: self._login(name, params)
        elif name == "logout":
            return _Dispatcher(self.xenapi_request, "logout")
        elif name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Method(self, name)


def xapi_local():
    return Session("http://_var_lib_xcp_xapi/")


def _parse_result(result):
    if type(result) != dict or "Status" not in result:
        raise xmlrpclib.Fault(500, "Missing Status in response from server" + str(result))
    if result["Status"] == "Success":
        if "Value" in result:
            return result["Value"]
        raise xmlrpclib.Fault(500, "Missing Value in response from server")
    if "ErrorDescription" in result:
        if result["ErrorDescription"][0] == "SESSION_INVALID":
            return _RECONNECT_AND_RETRY
        raise Failure(result["ErrorDescription"])
    raise xmlrpclib.Fault(500, "Missing ErrorDescription in response from server")


class _Dispatcher(object):
    def __init__(self, send, name):
        self.__send = send
        self.__name = name

    def __repr__(self):
        if self.__name:
            return "<XenAPI._Dispatcher for %s>" % self.__name
        return "<XenAPI._Dispatcher>"

    def __getattr__(self, name):
        if self.__name is None:
            return _Dispatcher(self.__send, name)
        return _Dispatcher(self.__send, "%s.%s" % (self.__name, name))

    def __call__(self, *args):
        return self.__send(self.__name, args)
