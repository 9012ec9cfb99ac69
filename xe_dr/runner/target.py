"""Where commands run: `[USER@]HOST[:PORT]` parsed into a :class:`Target` (its runner is made by
:func:`xe_dr.runner.connect.make_runner`)."""

import ipaddress
import re

from xe_dr.errors import UsageError

_FORM_HINT = "use [USER@]HOST[:PORT], with IPv6 addresses in brackets: root@[fd00::1]:22"
# Host names and users as ssh and dom0 accept them; a leading dash would read as an ssh option.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_PORT = re.compile(r"^[0-9]{1,5}$")


class Target(object):
    """An SSH destination: ``host`` (name or address, IPv6 without brackets), ``port`` (int or
    None for ssh's default) and ``user`` (str or None for ssh's default)."""

    __slots__ = ("user", "host", "port")

    def __init__(self, host, port=None, user=None):
        self.host = host
        self.port = port
        self.user = user

    @classmethod
    def parse(cls, text):
        """Parse ``[USER@]HOST[:PORT]``; raise :class:`UsageError` on anything else."""
        def bad(why):
            return UsageError("bad target %r: %s" % (text, why), hint=_FORM_HINT)

        if not isinstance(text, str) or not text.strip():
            raise bad("it is empty")
        user, at, rest = text.strip().rpartition("@")
        if at and not user:
            raise bad("the user is missing before '@'")
        if at and not _NAME.match(user):
            raise bad("%r is not a user name" % user)
        port = None
        if rest.startswith("["):
            host, bracket, after = rest[1:].partition("]")
            if not bracket:
                raise bad("'[' without its closing ']'")
            if after and not after.startswith(":"):
                raise bad("only :PORT may follow ']'")
            if not (_is_ip(host) or _NAME.match(host)):
                raise bad("%r is not a host name or address" % host)
            if after:
                port = after[1:]
        elif rest.count(":") > 1:
            # More than one colon can only be a bare IPv6 address, which then has no port.
            host = rest
            if not _is_ip(host):
                raise bad("%r is not a host name or an IPv6 address" % host)
        else:
            host, colon, port = rest.partition(":")
            if not colon:
                port = None
            if not host:
                raise bad("the host is missing")
            if not _NAME.match(host):
                raise bad("%r is not a host name or address" % host)
        if port is not None:
            if not _PORT.match(port) or not 1 <= int(port) <= 65535:
                raise bad("the port must be a number from 1 to 65535")
            port = int(port)
        return cls(host, port, user or None)

    @classmethod
    def coerce(cls, value):
        return value if isinstance(value, cls) else cls.parse(value)

    @property
    def port_or_default(self):
        return 22 if self.port is None else self.port

    def known_hosts_name(self):
        """The name ssh files this host's key under: ``host``, or ``[host]:port`` off port 22."""
        if self.port_or_default == 22:
            return self.host
        return "[%s]:%d" % (self.host, self.port)

    def __str__(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        text = "%s@%s" % (self.user, host) if self.user else host
        return text if self.port is None else "%s:%d" % (text, self.port)

    def __repr__(self):
        return "Target(%r)" % str(self)

    def __eq__(self, other):
        return isinstance(other, Target) and (self.user, self.host, self.port) == (
            other.user, other.host, other.port)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.user, self.host, self.port))


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
