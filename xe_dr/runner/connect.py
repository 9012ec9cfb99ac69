"""The runner for a target: local, or one of the SSH runners. Kept apart from
xe_dr/runner/target.py, which the SSH runners import, so that no import goes both ways."""

from xe_dr.errors import UsageError
from xe_dr.runner.target import Target

SSH_KINDS = ("paramiko", "openssh")


def default_ssh_kind():
    """paramiko when it can be imported, else the system ssh (dom0 has no paramiko)."""
    try:
        import paramiko  # noqa: F401
    except ImportError:
        return "openssh"
    return "paramiko"


def make_runner(host=None, ssh=None, identity=None, known_hosts=None, accept_new=False,
                timeout=None, log=None, **options):
    """The runner for ``host`` (a ``[USER@]HOST[:PORT]`` string or a Target): a LocalRunner when
    it is None, else an SSH runner of kind ``ssh`` ("paramiko", "openssh", or None for
    :func:`default_ssh_kind`). Extra ``options`` go to the SSH runner's constructor.
    """
    if host is None:
        from xe_dr.runner.local import LocalRunner
        return LocalRunner(timeout=timeout, log=log)
    target = Target.coerce(host)
    kind = ssh or default_ssh_kind()
    if kind == "paramiko":
        from xe_dr.runner.paramiko_ssh import ParamikoRunner as runner_class
    elif kind == "openssh":
        from xe_dr.runner.openssh import OpenSshRunner as runner_class
    else:
        raise UsageError("unknown SSH implementation %r" % (kind,),
                         hint="use one of: %s" % ", ".join(SSH_KINDS))
    return runner_class(target, identity=identity, known_hosts=known_hosts,
                        accept_new=accept_new, timeout=timeout, log=log, **options)
