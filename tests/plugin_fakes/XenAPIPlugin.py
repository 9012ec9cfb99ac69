# -*- coding: utf-8 -*-
"""A fake of xapi's XenAPIPlugin module (Python 2.7 and 3.6+) with the real response rules.

As in xapi-project/xen-api python3/examples/XenAPIPlugin.py (read, not copied) and our
reference §7.2: argv[1] is an XML-RPC methodCall whose method is the function name and whose
params are ``[session_ref, {args}]``; the function gets ``XenAPI.xapi_local()`` with
``_session`` set, and exactly one XML-RPC response is printed to stdout:
success -> ``{Status: Success, Value: result}``; ``Failure(code, params)`` ->
``{Status: Failure, ErrorDescription: [code] + params}``; any other exception ->
``['XENAPI_PLUGIN_FAILURE', fn, ExceptionClassName, str(e)]``; an unknown function ->
``['UNKNOWN_XENAPI_PLUGIN_FUNCTION', fn]``.
"""

from __future__ import print_function

import sys

import XenAPI

try:
    import xmlrpc.client as xmlrpclib
except ImportError:  # Python 2
    import xmlrpclib


class Failure(Exception):
    def __init__(self, code, params):
        Exception.__init__(self)
        self.params = [code] + params

    def __str__(self):
        return str(self.params)


def success_message(result):
    return xmlrpclib.dumps(({"Status": "Success", "Value": result},), "", True)


def failure_message(description):
    return xmlrpclib.dumps(({"Status": "Failure", "ErrorDescription": description},), "", True)


def dispatch(fn_table):
    if len(sys.argv) != 2:
        raise Exception("Incorrect number of commandline arguments")
    params, methodname = xmlrpclib.loads(sys.argv[1])
    session_id = params[0]
    args = params[1]
    if methodname in fn_table:
        x = XenAPI.xapi_local()
        x._session = session_id
        try:
            result = fn_table[methodname](x, args)
            print(success_message(result))
        except Failure as e:
            print(failure_message(e.params))
        except Exception as e:
            print(failure_message(["XENAPI_PLUGIN_FAILURE", methodname, e.__class__.__name__,
                                   str(e)]))
    else:
        print(failure_message(["UNKNOWN_XENAPI_PLUGIN_FUNCTION", methodname]))
