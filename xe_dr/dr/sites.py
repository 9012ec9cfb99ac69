"""The sites file: the pools of an estate, how to reach each master, and what each is to the
others (its peer at the other site, its replication SRs, its recovery plan).

An INI file, read as recovery plans are (xe_dr/dr/plan_syntax.py: ``#`` comments,
case-sensitive keys, no interpolation, lists one item per line, a duplicate key an error)::

    # any pool key, for every pool that does not set it
    [defaults]
    ssh = openssh
    # a relative path is relative to the sites file's folder
    known-hosts = known_hosts

    [pool london-1]
    # the group of pools a site-wide failover takes together
    site = london
    # as -H takes it; local: this machine's xe
    master = root@10.0.1.10
    xe = /opt/xensource/bin/xe
    # the pool of this file its LUNs are mirrored to
    peer = dublin-1
    srs =
        iSCSI DR 1
    plan = plans/london-1.plan

A comment is a line of its own (``#`` after a value is part of the value, as in a plan).
Chosen over JSON (no comments) and YAML or TOML (not in Python 3.6's standard library), for
the same reasons as the plan (docs/NOTES.md).
"""

import collections
import configparser
import os
import re

from xe_dr.dr.plan_syntax import At, config_error, ini_parser, items, lines_of, one, read_utf8
from xe_dr.errors import ConfigError, UsageError
from xe_dr.runner.target import Target
from xe_dr.text import printable

#: Keys of a pool (and of [defaults]); the paths among them are resolved against the file.
POOL_KEYS = ("site", "master", "xe", "ssh", "identity", "known-hosts", "ssh-config", "peer",
             "srs", "plan")
PATH_KEYS = ("identity", "known-hosts", "ssh-config", "plan")
SSH_KINDS = ("openssh", "paramiko")
#: A pool's name: given to --pool, --peer and --source, shown in Nagios lines and Prometheus
#: labels. A host name's letters: no leading dash (an option), no space, no ``|`` (Nagios
#: perfdata), no control character.
POOL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
#: Words --peer and --source give a meaning of their own: a pool of that name would be
#: unreachable by it (``down``) or would shadow this machine's xe (``local``).
RESERVED_NAMES = ("local", "down")


class SitesError(ConfigError):
    """A sites file that cannot be read (exit 78): the file, the line, what is wrong."""

    def __init__(self, path, message, line=None):
        where = "%s line %d" % (path, line) if line else path
        super(SitesError, self).__init__("sites file %s: %s" % (where, message),
                                         hint="fix the sites file (man xe-dr: SITES FILE)")


class SitePool(object):
    """One pool of the sites file. Paths are absolute; unset values are None (``srs``: an
    empty list)."""

    def __init__(self, name, values):
        self.name = name
        self.site = values.get("site")
        self.master = values.get("master")
        self.xe = values.get("xe")
        self.ssh = values.get("ssh")
        self.identity = values.get("identity")
        self.known_hosts = values.get("known-hosts")
        self.ssh_config = values.get("ssh-config")
        self.peer = values.get("peer")
        self.srs = values.get("srs") or []
        self.plan = values.get("plan")

    @property
    def is_local(self):
        return self.master == "local"


class Estate(object):
    def __init__(self, path, pools):
        self.path = path
        self.pools = pools  # OrderedDict name -> SitePool, in the file's order

    def pool(self, name):
        """The pool called ``name``; a ConfigError naming the file's pools otherwise."""
        if name not in self.pools:
            raise ConfigError("no pool %r in the sites file %s (its pools: %s)" % (
                name, self.path, ", ".join(self.pools)))
        return self.pools[name]


def load(path):
    """The estate in the sites file at ``path`` (SitesError when it is not one)."""
    return parse(read_utf8(path, SitesError), path)


def parse(text, path="<sites>"):
    if text.startswith(u"\ufeff"):  # the byte order mark Windows editors write first
        text = text[1:]
    parser = ini_parser()
    try:
        parser.read_string(text, source=path)
    except configparser.Error as failure:
        raise SitesError(path, config_error(failure), getattr(failure, "lineno", None))
    lines = lines_of(text)
    folder = os.path.dirname(os.path.abspath(path))
    defaults, raw_pools = {}, collections.OrderedDict()
    for section in parser.sections():
        kind, _, name = section.partition(" ")
        name = name.strip()
        where = At(lines, section)
        values = dict(parser.items(section))
        if kind == "defaults" and not name:
            target = defaults
        elif kind == "pool" and name:
            _check_name(name, path, where)
            if name in raw_pools:  # [pool a] and [pool  a]: two sections, one pool
                raise SitesError(path, "[pool %s] is named twice (and line %d)" % (
                    name, raw_pools[name]["\0where"]()), where())
            target = raw_pools[name] = {}
        elif kind == "pool":
            raise SitesError(path, "[pool] needs a name: [pool NAME]", where())
        else:
            raise SitesError(path, "unknown section [%s] (sections: defaults, pool NAME)"
                             % section, where())
        for key, value in values.items():
            if key not in POOL_KEYS:
                raise SitesError(path, "[%s] has no key %s (its keys: %s)" % (
                    section, key, ", ".join(POOL_KEYS)), where(key))
            target[key] = _value(key, value, folder, path, where)
        if kind == "pool":
            target["\0where"] = where
    if not raw_pools:
        raise SitesError(path, "no [pool NAME] section: a sites file names its pools")
    pools = collections.OrderedDict()
    for name, values in raw_pools.items():
        where = values.pop("\0where")
        merged = dict(defaults, **values)
        if not merged.get("master"):
            raise SitesError(path, "[pool %s] has no master (as -H takes it, or local)"
                             % name, where())
        pools[name] = SitePool(name, merged)
    for pool in pools.values():
        if pool.peer is not None and pool.peer not in pools:
            raise SitesError(path, "[pool %s] peer = %s is no pool of this file" % (
                pool.name, pool.peer), At(lines, "pool " + pool.name)("peer"))
        if pool.peer == pool.name:
            raise SitesError(path, "[pool %s] is its own peer" % pool.name,
                             At(lines, "pool " + pool.name)("peer"))
    return Estate(path, pools)


def _check_name(name, path, where):
    if not POOL_NAME.match(name):
        raise SitesError(path, "[pool %s]: a pool's name is letters, digits, '.', '_' and '-', "
                               "not first a '-' or '.'" % printable(name), where())
    if name in RESERVED_NAMES:
        raise SitesError(path, "[pool %s]: %s is a word of --peer and --source (%s)" % (
            name, name, "this machine's xe" if name == "local" else "the source is down"),
            where())


def _value(key, value, folder, path, where):
    if key == "srs":
        return items(value)
    value = one(value)
    if value is None:
        raise SitesError(path, "%s has no value" % key, where(key))
    if "\n" in value:
        raise SitesError(path, "%s takes one value, not a list" % key, where(key))
    if key in ("master", "peer") and len(value.split()) > 1:
        raise SitesError(path, "%s = %s is more than one word (a comment is a line of its "
                               "own)" % (key, value), where(key))
    if key == "master" and value != "local":
        try:
            Target.parse(value)
        except UsageError as failure:
            why = failure.message.split(": ", 1)[-1]
            raise SitesError(path, "master = %s: %s" % (value, why), where(key))
    if key == "ssh" and value not in SSH_KINDS:
        raise SitesError(path, "ssh = %s: openssh or paramiko" % value, where(key))
    if key in PATH_KEYS:
        return os.path.join(folder, os.path.expanduser(value))
    return value
