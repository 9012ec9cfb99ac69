"""Whether the xe-dr host plugin can be used on a pool, asked once per command."""

from xe_dr.xe.errors import XapiError

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
