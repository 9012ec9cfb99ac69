"""The registry of xe commands the lab serves.

Each command is registered with its required and optional parameters and its help text (from
xapi's ``cli_frontend.ml``); ``Ctx`` gives a handler the parsed parameters, the site and a
printer. Handlers import their modules lazily through ``load_all``.
"""

from .. import util
from ..errors import CliError, Failure

COMMANDS = {}

STDPARAMS = ["server", "password", "port", "username", "minimal", "force", "multiple", "all",
             "message-priority", "trace"]


class Command(object):
    def __init__(self, name, fn, reqd, optn, help, vm_selectors=False, host_selectors=False):
        self.name = name
        self.fn = fn
        self.reqd = list(reqd)
        self.optn = list(optn)
        self.help = help
        self.vm_selectors = vm_selectors
        self.host_selectors = host_selectors


def command(name, reqd=(), optn=(), help="", vm_selectors=False, host_selectors=False):
    def register(fn):
        COMMANDS[name] = Command(name, fn, reqd, optn, help, vm_selectors, host_selectors)
        return fn
    return register


def parse_bool(param, value):
    v = value.lower()
    if v in ("true", "t", "yes", "y", "1"):
        return True
    if v in ("false", "f", "no", "n", "0"):
        return False
    raise CliError("Failed to parse parameter '%s': Expected 'true','t','yes','y','1','false',"
                   "'f','no','n','0' got %s" % (param, value))


class Ctx(object):
    """What a command handler sees: the lab, its site, parameters, printer and call info."""

    def __init__(self, lab, site, cmd, params, printer, info):
        self.lab = lab
        self.site = site
        self.cmd = cmd
        self.params = params
        self.printer = printer
        self.info = info

    def has(self, key):
        return any(k == key for k, _ in self.params)

    def get(self, key, default=None):
        for k, v in self.params:
            if k == key:
                return v
        return default

    def req(self, key):
        value = self.get(key)
        if value is None:
            raise Failure("Not_found")
        return value

    def flag(self, key, default=False):
        value = self.get(key)
        if value is None:
            return default
        return parse_bool(key, value)

    def map_params(self, name):
        """xapi's read_map_params: keys beginning with ``name`` and longer than ``name:``."""
        n = len(name) + 1
        return [(k[n:], v) for k, v in self.params if k.startswith(name) and len(k) > n]

    def cost(self, key, extra=0.0):
        from .. import costs
        costs.pause(self.lab, key, extra)


def load_all():
    from . import generic, vm, storage, dr, pool, network, message  # noqa: F401  (registration)
    return COMMANDS


def is_null(ref):
    return util.is_null(ref)
