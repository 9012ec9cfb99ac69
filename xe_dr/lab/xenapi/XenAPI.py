"""Lab stand-in for the ``XenAPI`` module that dom0 plugins import (same interface).

``xapi_local()`` returns a session whose calls go to the lab's state (the site and lab folder
come from ``XE_DR_LAB_DIR`` / ``XE_DR_LAB_SITE``, set by the lab when it runs a plugin):
``session.xenapi.<Class>.<method>(...)``, ``session.xenapi.login_with_password(...)``,
``session.logout()``. Errors are raised as ``Failure`` with ``.details = [code, params...]``.
Python 2.7 / 3.6 compatible.
"""

API_VERSION_1_1 = "1.1"
API_VERSION_1_2 = "1.2"

_backend = None


def _get_backend():
    global _backend
    if _backend is None:
        from xe_dr.lab.xenapi_backend import Backend
        _backend = Backend()
    return _backend


class Failure(Exception):
    def __init__(self, details):
        Exception.__init__(self, details)
        self.details = details

    def __str__(self):
        return str(self.details)

    def _details_map(self):
        return dict((str(i), d) for i, d in enumerate(self.details))


class _Dispatcher(object):
    def __init__(self, send, name):
        self.__send = send
        self.__name = name

    def __getattr__(self, name):
        if self.__name is None:
            return _Dispatcher(self.__send, name)
        return _Dispatcher(self.__send, "%s.%s" % (self.__name, name))

    def __call__(self, *args):
        return self.__send(self.__name, args)


class Session(object):
    def __init__(self, uri=None, transport=None, encoding=None, verbose=0, allow_none=1,
                 ignore_ssl=False):
        self._session = None
        self.last_login_method = None
        self.last_login_params = None
        self.API_version = API_VERSION_1_2
        self.uri = uri

    def xenapi_request(self, methodname, params):
        if methodname.startswith("login") or methodname.startswith("slave_local"):
            self._login(methodname, params)
            return None
        if methodname in ("logout", "session.logout"):
            self._logout()
            return None
        from xe_dr.lab.errors import XapiError
        try:
            return _get_backend().call(self._session, methodname, list(params))
        except XapiError as e:
            raise Failure([e.code] + list(e.params))

    def _login(self, method, params):
        self._session = _get_backend().login()
        self.last_login_method = method
        self.last_login_params = params

    def _logout(self):
        if self._session is not None:
            try:
                _get_backend().call(self._session, "session.logout", [])
            finally:
                self._session = None

    def logout(self):
        self._logout()

    def __getattr__(self, name):
        if name == "handle":
            return self._session
        if name == "xenapi":
            return _Dispatcher(self.xenapi_request, None)
        if name.startswith("login") or name.startswith("slave_local"):
            return lambda *params: self._login(name, params)
        if name.startswith("__"):
            raise AttributeError(name)
        # Like the real ServerProxy: a raw XML-RPC call, session first, returning the
        # {"Status": ..., "Value" | "ErrorDescription": ...} structure itself.
        return _Dispatcher(self._raw_request, name)

    def _raw_request(self, methodname, params):
        from xe_dr.lab.errors import XapiError
        if not params:
            return {"Status": "Failure", "ErrorDescription": ["SESSION_INVALID", ""]}
        try:
            value = _get_backend().call(params[0], methodname, list(params[1:]))
        except XapiError as e:
            return {"Status": "Failure", "ErrorDescription": [e.code] + list(e.params)}
        return {"Status": "Success", "Value": value}


def xapi_local():
    return Session("http://_var_lib_xcp_xapi/")
