"""The lab's XenAPI over XML-RPC on 127.0.0.1, so that a real client (the xapi team's own
``XenAPI`` SDK from the package index) can talk to a site: method names, marshalling and the
Failure structure are then checked by that client, not by our stand-ins.

The wire format is xapi's (ocaml/xapi/server_helpers.ml and the SDK's ``_parse_result``):
every call answers ``{"Status": "Success", "Value": v}`` or ``{"Status": "Failure",
"ErrorDescription": [code, params...]}``; xapi marshals int64 fields as strings (XML-RPC's
<int> is 32 bits), which the backend's records already are.

    server = XenAPIServer(lab_dir, "B")   # listening on an ephemeral port of 127.0.0.1
    server.url                            # http://127.0.0.1:PORT/
    server.close()
"""

import threading

try:
    from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer
except ImportError:  # pragma: no cover - the lab needs Python 3
    raise

from .xenapi_backend import Backend


class _Quiet(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2")

    def log_message(self, *args):
        pass


class _Dispatcher(object):
    def __init__(self, backend):
        self.backend = backend
        self.lock = threading.Lock()

    def _dispatch(self, method, params):
        with self.lock:  # one call at a time, as the backend keeps its sessions in memory
            return self.backend.raw(method, params)


class XenAPIServer(object):
    def __init__(self, lab_dir, site):
        self.backend = Backend(lab_dir, site)
        self.server = SimpleXMLRPCServer(("127.0.0.1", 0), requestHandler=_Quiet,
                                         logRequests=False, allow_none=False)
        self.server.register_instance(_Dispatcher(self.backend))
        self.url = "http://127.0.0.1:%d/" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
