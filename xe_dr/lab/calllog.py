"""The call log: one JSON object per xe call in ``DIR/calls.jsonl``.

Fields: ``site``, ``command``, ``args`` (argv after the command, secrets redacted), ``start``
(epoch seconds), ``duration``, ``exit`` (exit code), ``db_opens`` (foreign databases opened by
the call) and ``db_open`` (whether it opened any), ``pid``, and for an xe call ``ppid`` (who ran
it: sshd's session, or xe-dr itself). Secrets are hidden the way xapi's CLI log hides them: any
key containing ``password`` or ``secret``, ``value`` of commands whose name contains
``secret``, ``args:*`` of ``host-call-plugin``, and ``url``.
"""

import json
import os
import re

REDACTED = "<redacted>"
_SECRET = re.compile(r"password|secret", re.IGNORECASE)


def _hidden(command, key):
    if _SECRET.search(key) or key == "url":
        return True
    if "secret" in command and key == "value":
        return True
    if command == "host-call-plugin" and key.startswith("args"):
        return True
    return False


def redact(command, args):
    out = []
    hide_next = False
    for a in args:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if a in ("-pw", "-pwf"):
            out.append(a)
            hide_next = True
            continue
        key, sep, _ = a.partition("=")
        out.append(key + "=" + REDACTED if sep and _hidden(command, key) else a)
    return out


def append(lab, entry):
    line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(lab.path("calls.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read(lab):
    try:
        with open(lab.path("calls.jsonl"), "rb") as f:
            return [json.loads(l.decode("utf-8")) for l in f if l.strip()]
    except (IOError, OSError):
        return []
