"""message-create and message-destroy (``message-list`` and ``message-param-*`` are the
generated commands of the ``message`` class, commands/generic.py).

Facts from xapi-project/xen-api at each release profile's tag:

* ``cli_frontend.ml``: message-create takes ``name``, ``priority``, ``body`` and one of
  ``vm-uuid``, ``host-uuid``, ``sr-uuid``, ``pool-uuid``; message-destroy takes ``uuid`` (required)
  up to v1.249, and ``uuid`` or ``uuids`` (a comma-separated list, commit 923cabd819,
  CP-38688, first in v22.19.0) later.
* ``cli_operations.ml`` message_create: ``Int64.of_string`` of the priority, else
  ``failwith "Priority field should be an integer"``; the object is the first of vm-uuid,
  pool-uuid, sr-uuid, host-uuid given (in that order), else ``Cli_failure "Need one of:
  vm-uuid, host-uuid, sr-uuid or pool-uuid"``; the new message's ref is ignored: **nothing is
  printed**. message_destroy: ``Message.get_by_uuid`` of every uuid first (UUID_INVALID
  [message; uuid]), then ``destroy_many`` one by one; both given: ``Cli_failure "Ambiguous
  arguments; need one of uuid, uuids"``, neither: ``"Need one of uuid, uuids"``.
* ``xapi_message.ml`` create: the body must be valid UTF-8 (``UTF8_XML`` up to v25.30: also
  no control character but tab, LF, CR and no non-character; commit fb83a6b325, XSA-474, plain
  UTF-8 from v25.31.0), else INVALID_VALUE [UTF8 expected]; the object must exist
  (``check_uuid``), else UUID_INVALID [<class>; <uuid>] with the class as
  ``Record_util.cls_to_string`` prints it (VM, Host, SR, Pool); the timestamp is the server's
  clock; no range is imposed on the priority. destroy of a message already gone: HANDLE_INVALID
  [message; ref] (the messages destroyed before it stay destroyed).
* ``records.ml`` message_record: uuid, name, priority, class, obj-uuid, timestamp, body
  (schema.py ``_message_record``); ``xapi_message.ml`` get_real_inner lists the newest first.
"""

import re
import time

from . import command
from .. import releases, util
from ..errors import CliError, Failure, ParamError, XapiError

# cli_operations.ml message_create: the parameter tested first wins.
_OBJECTS = (("vm-uuid", "VM", "VM"), ("pool-uuid", "Pool", "pool"), ("sr-uuid", "SR", "SR"),
            ("host-uuid", "Host", "host"))

_INT64 = re.compile(r"^[-+]?(0[xX][0-9a-fA-F][0-9a-fA-F_]*|0[oO][0-7][0-7_]*|"
                    r"0[bB][01][01_]*|0[uU][0-9][0-9_]*|[0-9][0-9_]*)$")


def ocaml_int64(text):
    """OCaml's ``Int64.of_string``: decimal (signed range), or 0x/0o/0b/0u (up to 2^64-1, read
    modulo 2^64), underscores allowed after the first digit; ValueError otherwise."""
    if not _INT64.match(text):
        raise ValueError(text)
    negative = text.startswith("-")
    body = text.lstrip("+-").replace("_", "")
    prefix = body[1:2].lower() if len(body) > 1 and body[0] == "0" else ""
    base = {"x": 16, "o": 8, "b": 2}.get(prefix, 10)
    value = int(body[2:] if prefix in ("x", "o", "b", "u") else body, base)
    if prefix in ("x", "o", "b", "u"):
        if value >= 1 << 64:
            raise ValueError(text)
        if value >= 1 << 63:
            value -= 1 << 64
    elif value > (1 << 63) - (0 if negative else 1):
        raise ValueError(text)
    return -value if negative else value


def _xml_body_ok(body):
    """``Encodings.UTF8_XML.is_valid`` (up to v25.30): no C0 control character but tab, LF
    and CR, and no Unicode non-character (U+FDD0..U+FDEF, U+xxFFFE, U+xxFFFF)."""
    for ch in body:
        code = ord(ch)
        if code < 0x20 and code not in (0x09, 0x0A, 0x0D):
            return False
        if 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE:
            return False
    return True


@command("message-create", reqd=["name", "priority", "body"],
         optn=["vm-uuid", "host-uuid", "sr-uuid", "pool-uuid"],
         help="Create a message associated with a particular API object. Note exactly one of "
              "the optional parameters must be supplied.")
def message_create(ctx):
    body = ctx.get("body")
    try:
        priority = ocaml_int64(ctx.get("priority"))
    except ValueError:
        raise Failure("Priority field should be an integer")
    name = ctx.get("name")
    for param, cls, table in _OBJECTS:
        if ctx.has(param):
            obj_uuid = ctx.get(param)
            break
    else:
        raise CliError("Need one of: vm-uuid, host-uuid, sr-uuid or pool-uuid")
    try:
        body.encode("utf-8")  # an argv byte that is not UTF-8 arrives as a lone surrogate
    except UnicodeEncodeError:
        raise XapiError("INVALID_VALUE", ["UTF8 expected"])
    if releases.of_lab(ctx.lab).get("message_body_xml", True) and not _xml_body_ok(body):
        raise XapiError("INVALID_VALUE", ["UTF8 expected"])
    with ctx.site.transaction(redo_log=False) as db:
        if db.lookup_uuid(table, obj_uuid) is None:
            raise XapiError("UUID_INVALID", [cls, obj_uuid])
        db.create("message", {
            "name": name, "priority": priority, "cls": cls, "obj_uuid": obj_uuid,
            "timestamp": util.xapi_date(time.time()), "body": body})


@command("message-destroy", optn=["uuid", "uuids"],
         help="Destroy one existing message or many")
def message_destroy(ctx):
    uuid, uuids = ctx.get("uuid"), ctx.get("uuids")
    if not releases.of_lab(ctx.lab).get("message_destroy_many", True):
        # v1.249: reqd=["uuid"], Message.destroy of that one message; uuids= is not read.
        if uuid is None:
            raise ParamError("Required parameter not found", "uuid")
        uuids = None
    if uuid is not None and uuids is not None:
        raise CliError("Ambiguous arguments; need one of uuid, uuids")
    if uuid is None and uuids is None:
        raise CliError("Need one of uuid, uuids")
    wanted = [uuid] if uuid is not None else uuids.split(",")
    gone = None
    with ctx.site.transaction(redo_log=False) as db:
        refs = []
        for one in wanted:
            ref = db.lookup_uuid("message", one)
            if ref is None:
                raise XapiError("UUID_INVALID", ["message", one])
            refs.append(ref)
        for ref in refs:
            if db.find("message", ref) is None:  # named twice: gone with the first
                gone = ref
                break
            db.delete("message", ref)
    if gone is not None:
        raise XapiError("HANDLE_INVALID", ["message", gone])
