"""Lab stand-in for ``XenAPIPlugin``: ``Failure(code, params)`` and ``dispatch(fn_table)``.

``dispatch`` reads the XML-RPC call xapi puts in argv[1] (``fn(session, {args})``), calls
``fn_table[fn](session, args)`` with a ``XenAPI.xapi_local()`` session whose ``_session`` is the
caller's, and prints exactly one XML-RPC response: ``{Status: Success, Value: result}``;
``{Status: Failure, ErrorDescription: [code] + params}`` for ``Failure``;
``XENAPI_PLUGIN_FAILURE [fn, exception class, message]`` for any other exception;
``UNKNOWN_XENAPI_PLUGIN_FUNCTION [fn]`` for an unknown function. Python 2.7 / 3.6 compatible.
"""

from __future__ import print_function

import sys

try:
    import xmlrpc.client as xmlrpclib
except ImportError:  # Python 2
    import xmlrpclib

import XenAPI


class Failure(Exception):
    def __init__(self, code, params):
        Exception.__init__(self)
        self.params = [code] + list(params)

    def __str__(self):
        return str(self.params)


def _response(value):
    return xmlrpclib.dumps((value,), "", True)


def success_message(result):
    return _response({"Status": "Success", "Value": result})


def failure_message(description):
    return _response({"Status": "Failure", "ErrorDescription": description})


def dispatch(fn_table):
    if len(sys.argv) != 2:
        raise Exception("Incorrect number of commandline arguments")
    params, methodname = xmlrpclib.loads(sys.argv[1])
    session_id, args = params[0], params[1]
    if methodname not in fn_table:
        print(failure_message(["UNKNOWN_XENAPI_PLUGIN_FUNCTION", methodname]))
        return
    session = XenAPI.xapi_local()
    session._session = session_id
    try:
        result = fn_table[methodname](session, args)
        print(success_message(result))
    except Failure as e:
        print(failure_message(e.params))
    except Exception as e:
        print(failure_message(["XENAPI_PLUGIN_FAILURE", methodname, e.__class__.__name__,
                               str(e)]))
