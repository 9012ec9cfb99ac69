"""Whether the xe-dr host plugin can be used on a pool, asked once per command."""

import json

from xe_dr.errors import ConfigError
from xe_dr.exitcodes import ExitCode
from xe_dr.xe.errors import XapiError, XeOutputError

PLUGIN = "xe-dr"
# Codes meaning "this host has no (usable) xe-dr plugin", as opposed to a plugin that failed.
_ABSENT = ("XENAPI_MISSING_PLUGIN", "UNKNOWN_XENAPI_PLUGIN_FUNCTION")

# What ``--plugin`` asks of a run (``--no-plugin`` is ``off``): use the plugin where it
# answers, else plain xe (auto); refuse to run without it (required); never ask it (off).
AUTO, REQUIRED, OFF = "auto", "required", "off"
MODES = (AUTO, REQUIRED, OFF)
SLOWER = "one metadata database open per call: several times slower on a large site"


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


def failure_line(failure):
    """Why a host's plugin did not answer, in one line without the command: for
    XENAPI_PLUGIN_FAILURE, xapi's status and the last line the plugin wrote on stderr (a
    traceback's exception, which xe's own message cuts off), else the error itself."""
    if isinstance(failure, XapiError) and failure.code == "XENAPI_PLUGIN_FAILURE":
        params = list(failure.params) + ["", "", ""]
        status, stdout, stderr = params[:3]
        lines = [line.strip() for line in (stderr or stdout or "").splitlines() if line.strip()]
        text = "XENAPI_PLUGIN_FAILURE: %s" % (status or "failed")
        return "%s: %s" % (text, lines[-1][:300]) if lines else text
    text = failure.one_line()
    command = failure.command if isinstance(failure, XapiError) else None
    if command and text.startswith(command + " failed: "):
        text = text[len(command) + len(" failed: "):]
    return text


def ask_version(xe, host_uuid):
    """``(version, failure)``: the plugin version on a host (None when it is not installed)
    and None; or None and the error of a plugin that is installed but does not answer. An
    error with an exit status of its own (xapi unreachable, xe missing, refused) is xe's,
    not the plugin's: it is raised, as plain xe would meet it too."""
    try:
        return plugin_version(xe, host_uuid), None
    except (XapiError, XeOutputError) as failure:
        if failure.exit_code != ExitCode.FAILED:
            raise
        return None, failure


def master_label(xe, host_uuid):
    """``NAME (the master)``: how the messages about the master's plugin name its host."""
    return "%s (the master)" % (xe.param_get("host", host_uuid, "name-label") or host_uuid)


def fallback_line(host_name, failure, what):
    """The one line a command says when it goes on without the plugin (``what``: what it
    does with plain xe instead)."""
    return "the host plugin on %s does not answer (%s): %s with plain xe (%s)" % (
        host_name, failure_line(failure), what, SLOWER)


def required_error(host_name, failure=None):
    """``--plugin required`` on a host whose plugin is missing (``failure`` None) or does not
    answer: a ConfigError (exit 78), before anything is changed."""
    why = "is not installed" if failure is None else "does not answer (%s)" % failure_line(
        failure)
    return ConfigError("--plugin required: the xe-dr host plugin on %s %s" % (host_name, why),
                       hint="install it with 'xe-dr plugin install', or run with --plugin "
                            "auto to fall back to plain xe (%s)" % SLOWER)
