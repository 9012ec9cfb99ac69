"""Keeping secrets out of logs, error messages, reprs, journals and reports.

A secret is the value of any parameter whose key contains ``password`` or ``secret``
(``device-config:chappassword=``, ``chappassword_secret``, ``value=`` of ``secret-create``
is handled by the caller listing it in ``extra``). Redaction works on argv elements of the
``key=value`` and ``map:key=value`` forms that xe takes.
"""

import re

REDACTED = "<redacted>"
_SECRET_KEY = re.compile(r"(password|secret)", re.IGNORECASE)


def is_secret_key(key):
    return bool(_SECRET_KEY.search(key))


def redact_arg(arg):
    """One argv element with its value hidden when its key names a secret."""
    key, sep, value = arg.partition("=")
    if sep and is_secret_key(key):
        return key + "=" + REDACTED
    return arg


def redact_argv(argv, secrets=()):
    """A copy of argv safe to log; ``secrets`` are extra literal values to hide anywhere."""
    return [redact_text(redact_arg(a), secrets) for a in argv]


def redact_text(text, secrets=()):
    """``text`` with every literal secret hidden, the longest first, so that a secret that
    holds another one (a whole ``XE_EXTRA_ARGS`` value and the password in it) goes whole."""
    for secret in sorted(set(s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
