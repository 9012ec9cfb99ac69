"""Lab stand-in for the ``XenAPI`` module that dom0 plugins import (same interface).

``xapi_local()`` returns a session whose calls go to the lab's state (the site and lab folder
come from ``XE_DR_LAB_DIR`` / ``XE_DR_LAB_SITE``, set by the lab when it runs a plugin).

The ``Session`` class follows xen-api's ``python3/examples/XenAPI/XenAPI.py`` (the same logic
as ``scripts/examples/python/XenAPI/XenAPI.py`` of v1.249.0), with the lab's backend where the
real one has an xmlrpclib ServerProxy:

* ``session.xenapi.<Class>.<method>(...)`` sends ``(session ref,) + args``; a Failure answer
  raises ``Failure(details)``; SESSION_INVALID makes it log in again with the last login
  method and retry (three times at most, then ``xmlrpclib.Fault(500, ...)``), or, for a
  session ref set by hand (``_session = ref``, no login method), raise
  ``xmlrpclib.Fault(401, 'You must log in')``;
* ``login_with_password`` (through ``xenapi`` or directly) and ``slave_local...`` log in;
* ``session.logout()`` and ``session.xenapi.session.logout()`` call ``_logout``, which reads
  ``last_login_method.startswith(...)``: with a session ref set by hand it raises
  AttributeError ('NoneType' object has no attribute 'startswith') after clearing
  ``_session`` - the server-side session is *not* logged out;
* any other attribute is a raw XML-RPC method: ``session.VM.get_all(ref)`` returns the
  ``{"Status": ..., "Value" | "ErrorDescription": ...}`` dict itself (so
  ``session.session.logout(ref)`` logs out a session set by hand);
* ``API_version`` is 1.1 until a login, then asked of the pool master (2.21 in the lab).

Python 2.7 / 3.6 compatible.
"""

try:
    import xmlrpc.client as xmlrpclib
except ImportError:  # Python 2
    import xmlrpclib

API_VERSION_1_1 = '1.1'
API_VERSION_1_2 = '1.2'

_backend = None


def _get_backend():
    global _backend
    if _backend is None:
        from xe_dr.lab.xenapi_backend import Backend
        _backend = Backend()
    return _backend


class Failure(Exception):
    def __init__(self, details):
        self.details = details

    def __str__(self):
        try:
            return str(self.details)
        except Exception as exn:
            return "Xen-API failure: %s" % exn

    def _details_map(self):
        return dict([(str(i), self.details[i]) for i in range(len(self.details))])


# Just a "constant" that we use to decide whether to retry the RPC
_RECONNECT_AND_RETRY = object()


def notimplemented(name, *args, **kwargs):
    raise NotImplementedError("XMLRPC proxies do not support python magic methods", name,
                              *args, **kwargs)


class Session(object):
    def __init__(self, uri, transport=None, encoding=None, verbose=False, allow_none=True,
                 ignore_ssl=False):
        self.uri = uri
        self.transport = transport
        self._session = None
        self.last_login_method = None
        self.last_login_params = None
        self._API_version = API_VERSION_1_1

    def _raw(self, methodname, params):
        """What ServerProxy's method call returns: the server's answer, unparsed."""
        return _get_backend().raw(methodname, tuple(params))

    def xenapi_request(self, methodname, params):
        if methodname.startswith('login'):
            self._login(methodname, params)
            return None
        elif methodname == 'logout' or methodname == 'session.logout':
            self._logout()
            return None
        else:
            retry_count = 0
            while retry_count < 3:
                full_params = (self._session,) + tuple(params)
                result = _parse_result(self._raw(methodname, full_params))
                if result is _RECONNECT_AND_RETRY:
                    retry_count += 1
                    if self.last_login_method:
                        self._login(self.last_login_method, self.last_login_params)
                    else:
                        raise xmlrpclib.Fault(401, 'You must log in')
                else:
                    return result
            raise xmlrpclib.Fault(500, 'Tried 3 times to get a valid session, but failed')

    def _login(self, method, params):
        result = _parse_result(self._raw('session.%s' % method, params))
        if result is _RECONNECT_AND_RETRY:
            raise xmlrpclib.Fault(500, 'Received SESSION_INVALID when logging in')
        self._session = result
        self.last_login_method = method
        self.last_login_params = params
        self._API_version = None

    def _logout(self):
        try:
            if self.last_login_method.startswith("slave_local"):
                return _parse_result(self._raw("session.local_logout", (self._session,)))
            else:
                return _parse_result(self._raw("session.logout", (self._session,)))
        finally:
            self._session = None
            self.last_login_method = None
            self.last_login_params = None
            self._API_version = API_VERSION_1_1

    def _get_api_version(self):
        pool = self.xenapi.pool.get_all()[0]
        host = self.xenapi.pool.get_master(pool)
        major = self.xenapi.host.get_API_version_major(host)
        minor = self.xenapi.host.get_API_version_minor(host)
        return "%s.%s" % (major, minor)

    @property
    def API_version(self):
        if not self._API_version:
            self._API_version = self._get_api_version()
        return self._API_version

    def __getattr__(self, name):
        if name == 'handle':
            return self._session
        elif name == 'xenapi':
            return _Dispatcher(self.xenapi_request, None)
        elif name.startswith('login') or name.startswith('slave_local'):
            return lambda *params: self._login(name, params)
        elif name == 'logout':
            return _Dispatcher(self.xenapi_request, "logout")
        elif name.startswith('__') and name.endswith('__'):
            return lambda *args, **kwargs: notimplemented(name, args, kwargs)
        else:
            return _Dispatcher(self._raw, name)


def xapi_local():
    return Session("http://_var_lib_xcp_xapi/")


def _parse_result(result):
    if type(result) != dict or 'Status' not in result:
        raise xmlrpclib.Fault(500, 'Missing Status in response from server' + str(result))
    if result['Status'] == 'Success':
        if 'Value' in result:
            return result['Value']
        else:
            raise xmlrpclib.Fault(500, 'Missing Value in response from server')
    else:
        if 'ErrorDescription' in result:
            if result['ErrorDescription'][0] == 'SESSION_INVALID':
                return _RECONNECT_AND_RETRY
            else:
                raise Failure(result['ErrorDescription'])
        else:
            raise xmlrpclib.Fault(500, 'Missing ErrorDescription in response from server')


class _Dispatcher:
    def __init__(self, send, name):
        self.__send = send
        self.__name = name

    def __repr__(self):
        if self.__name:
            return '<XenAPI._Dispatcher for %s>' % self.__name
        else:
            return '<XenAPI._Dispatcher>'

    def __getattr__(self, name):
        if self.__name is None:
            return _Dispatcher(self.__send, name)
        else:
            return _Dispatcher(self.__send, "%s.%s" % (self.__name, name))

    def __call__(self, *args):
        return self.__send(self.__name, args)
