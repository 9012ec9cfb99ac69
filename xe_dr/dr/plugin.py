"""Whether the xe-dr host plugin can be used on a pool, asked once per command."""

import json

from xe_dr.xe.errors import XapiError, XeOutputError

PLUGIN = "xe-dr"
# Codes meaning "this host has no (usable) xe-dr plugin", as opposed to a plugin that failed.
_ABSENT = ("XENAPI_MISSING_PLUGIN", "UNKNOWN_XENAPI_PLUGIN_FUNCTION")


def plugin_version(xe, host_uuid):
    """The plugin version installed on a host, or None when it is not installed."""
    try:
        return xe.call_plugin(host_uuid, PLUGIN, "version", {}).strip() or None
    except XapiError as failure:
        if failure.code in _ABSENT:
            return None
        raise


def call_json(xe, host_uuid, fn, args=None, required=()):
    """Call a plugin function that answers with a JSON object; an answer that is not one, or
    lacks a ``required`` key, is an XeOutputError naming the call (never a traceback)."""
    command = "host-call-plugin plugin=%s fn=%s" % (PLUGIN, fn)
    text = xe.call_plugin(host_uuid, PLUGIN, fn, args or {})
    try:
        answer = json.loads(text)
    except ValueError as failure:
        raise XeOutputError("the plugin's answer is not JSON (%s)" % failure, command)
    if not isinstance(answer, dict):
        raise XeOutputError("the plugin's answer is not a JSON object", command)
    missing = [key for key in required if key not in answer]
    if missing:
        raise XeOutputError("the plugin's answer lacks %s (is the installed plugin older than "
                            "this xe-dr? 'xe-dr plugin status')" % ", ".join(missing), command)
    return answer


def malformed(fn, failure):
    """An XeOutputError for a plugin answer whose parts are not what they should be."""
    return XeOutputError("the plugin's answer has an unexpected shape (%s: %s)" % (
        type(failure).__name__, failure), "host-call-plugin plugin=%s fn=%s" % (PLUGIN, fn))
