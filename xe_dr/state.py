"""Where xe-dr keeps its runs: /var/lib/xe-dr as root, else the XDG state home."""

import os


def default_state_dir(environ=None):
    environ = os.environ if environ is None else environ
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "/var/lib/xe-dr"
    base = environ.get("XDG_STATE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "xe-dr")
