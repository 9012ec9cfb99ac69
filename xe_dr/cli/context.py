"""One command's context: parsed options resolved against the environment, and lazily the
runner and the Xe client (so commands that need no target, like ``lab`` or ``runs``, never
connect)."""

import os

from xe_dr.errors import UsageError

DEFAULT_TIMEOUT = 600.0
DOM0_XE = "/opt/xensource/bin/xe"


def _on_path(program, environ):
    for directory in (environ.get("PATH") or os.defpath).split(os.pathsep):
        if directory and os.access(os.path.join(directory, program), os.X_OK):
            return True
    return False


class Context(object):
    def __init__(self, args, env, output, argv=()):
        self.args = args
        self.argv = list(argv)  # the command line as given to main(), for run records
        self.env = env
        self.output = output
        self._runner = None
        self._xe = None
        self._extra_runners = []
        self._estate = None

    # -- options resolved against the environment and the sites file ------------------------
    @property
    def estate(self):
        """The sites file's pools (--sites FILE, env XE_DR_SITES), or None."""
        if self._estate is None:
            path = getattr(self.args, "sites", None) or self.env.environ.get("XE_DR_SITES")
            if not path:
                return None
            from xe_dr.dr.sites import load
            self._estate = load(expand(path))
        return self._estate

    @property
    def site_pool(self):
        """The pool of the sites file that --pool names (the target), or None."""
        name = getattr(self.args, "pool", None)
        if not name:
            return None
        if self.estate is None:
            raise UsageError("--pool %s names a pool of a sites file: give --sites FILE"
                             % name)
        if self.args.host:
            raise UsageError("-H and --pool both name the target: give one")
        return self.estate.pool(name)

    def _pool_value(self, option, pool=None):
        """An SSH or xe option: the command line's, else the pool's (--pool), else None."""
        given = getattr(self.args, option, None)
        if given:
            return given
        pool = pool or self.site_pool
        return getattr(pool, option, None) if pool is not None else None

    @property
    def host(self):
        pool = self.site_pool
        if pool is not None:
            return None if pool.is_local else pool.master
        return self.args.host or self.env.environ.get("XE_DR_HOST") or None

    @property
    def xe_path(self):
        """xe on the target. Locally, when xe is not on PATH (cron's PATH lacks
        /opt/xensource/bin), its dom0 location is used."""
        path = self._pool_value("xe") or self.env.environ.get("XE_DR_XE")
        if path:
            return path
        if not self.host and not _on_path("xe", self.env.environ) and \
                os.access(DOM0_XE, os.X_OK):
            return DOM0_XE
        return "xe"

    @property
    def ssh_kind(self):
        kind = self._pool_value("ssh") or self.env.environ.get("XE_DR_SSH")
        if kind:
            if kind not in ("paramiko", "openssh"):
                raise UsageError("XE_DR_SSH must be paramiko or openssh, not %r" % kind)
            return kind
        try:
            import paramiko  # noqa: F401  (only asking whether it is installed)
            return "paramiko"
        except ImportError:
            return "openssh"

    @property
    def timeout(self):
        return self.args.timeout if self.args.timeout is not None else DEFAULT_TIMEOUT

    @property
    def plugin_mode(self):
        """--plugin (auto, required or off; --no-plugin is off); default auto."""
        return self.args.plugin or "auto"

    @property
    def use_plugin(self):
        return self.plugin_mode != "off"

    @property
    def plugin_required(self):
        return self.plugin_mode == "required"

    @property
    def state_dir(self):
        """The state directory; ConfigError (78) when it is a file or lies below one."""
        from xe_dr.journal import check_state_dir
        from xe_dr.state import default_state_dir
        path = self.args.state_dir or self.env.environ.get("XE_DR_STATE_DIR") or \
            default_state_dir(self.env.environ)
        check_state_dir(path)
        return path

    # -- the target ---------------------------------------------------------------------------
    @property
    def runner(self):
        if self._runner is None:
            self._runner = self.make_runner(self.host)
        return self._runner

    @property
    def xe(self):
        if self._xe is None:
            from xe_dr.xe import Xe
            self._xe = Xe(self.runner, xe_path=self.xe_path, timeout=self.timeout)
        return self._xe

    def other_site(self, host, xe_path=None):
        """An Xe client for the other site's pool master (same SSH options), or None when
        no host is given. ``host`` may be ``local`` for an xe on this machine (the lab), or
        a pool of the sites file (its master, xe and SSH options)."""
        if not host:
            return None
        from xe_dr.xe import Xe
        pool = self.named_pool(host)
        if pool is not None:
            host, xe_path = pool.master, xe_path or pool.xe
        runner = self.make_runner(None if host == "local" else host, pool)
        self.adopt_runner(runner)
        return Xe(runner, xe_path=xe_path or "xe", timeout=self.timeout)

    def named_pool(self, name):
        """The sites file's pool called ``name`` (another pool given by name), else the one
        whose master it is (a run's --source, kept as the master), or None."""
        estate = self.estate
        if estate is None:
            return None
        if name in estate.pools:
            return estate.pools[name]
        masters = [p for p in estate.pools.values() if p.master == name and not p.is_local]
        return masters[0] if len(masters) == 1 else None

    def make_runner(self, host, pool=None):
        """A runner for ``host`` (None: this machine) with the command's SSH options (those
        the command line leaves out: ``pool``'s, else the target's in the sites file)."""
        from xe_dr.runner.connect import make_runner
        if host is None and self.env.local_runner is not None:
            return self.env.local_runner(self.timeout)
        options = {}
        ssh_config = self._pool_value("ssh_config", pool)
        ssh_kind = self._pool_value("ssh", pool) or self.ssh_kind
        if host and ssh_kind == "openssh" and ssh_config:
            options["ssh_config"] = ssh_config
        return make_runner(host=host, ssh=ssh_kind, identity=self._pool_value("identity", pool),
                           known_hosts=self._pool_value("known_hosts", pool),
                           accept_new=self.args.accept_new_host_key, timeout=self.timeout,
                           **options)

    def adopt_runner(self, runner):
        """Close this runner with the command's own."""
        self._extra_runners.append(runner)

    # -- confirmations ------------------------------------------------------------------------
    def confirm(self, question, what):
        """True when a destructive step may go ahead: --yes, or 'yes' typed at the prompt.

        With --no-input or without a terminal, and without --yes, it refuses with a usage
        error naming the step, so a runbook never hangs on a prompt.
        """
        if self.args.yes:
            return True
        if self.args.no_input or not self.env.can_prompt():
            raise UsageError("%s needs confirmation" % what,
                             hint="re-run with --yes to allow it")
        answer = self.env.ask("%s [yes/no] " % question)
        return answer.lower() in ("y", "yes")

    def answer_prompt(self, message):
        """True once a person confirmed a recovery plan's prompt, or --answer-prompts did
        (--yes does not: it confirms destructive steps only). With --no-input or without a
        terminal, a usage error naming the prompt (the run stops there, to be resumed)."""
        if getattr(self.args, "answer_prompts", False):
            return True
        if self.args.no_input or not self.env.can_prompt():
            raise UsageError("waits for a person: %s" % message,
                             hint="answer it at a terminal, or give --answer-prompts")
        answer = self.env.ask("%s [yes/no] " % message)
        return answer.lower() in ("y", "yes")

    def close(self):
        for runner in [self._runner] + self._extra_runners:
            if runner is not None:
                runner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def expand(path):
    return os.path.abspath(os.path.expanduser(path)) if path else path
