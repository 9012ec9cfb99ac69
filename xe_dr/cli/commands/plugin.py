"""``xe-dr plugin install|status``: the xe-dr host plugin on every host of the pool."""

from xe_dr.exitcodes import ExitCode

NAME = "plugin"
HELP = "install the xe-dr host plugin on every host of the pool, or show what each host has"
SUBCOMMANDS = True
EXAMPLES = (
    "xe-dr -H root@xcp-a1 plugin install",
    "xe-dr --xe \"$LAB/bin/xe-A\" plugin install --host-root \"$LAB/hosts/{uuid}\"",
    "xe-dr -H root@xcp-b1 plugin status",
    "xe-dr plugin status --json",
)


def add_arguments(parser, add_shared_options=None):
    actions = parser.add_subparsers(dest="action", metavar="install|status",
                                    parser_class=type(parser))
    actions.required = True
    text = "copy the plugin to /etc/xapi.d/plugins/ on every host (mode 0755)"
    install = actions.add_parser("install", help=text, description=text)
    install.add_argument("--host-user", default="root", metavar="USER",
                         help="SSH user on the other hosts (default root)")
    install.add_argument("--host-root", metavar="TEMPLATE",
                         help="a local directory standing for each host's / (the lab: "
                              "LAB/hosts/{uuid}); no SSH is used")
    text = "the plugin version each host reports, or why its plugin does not answer"
    status = actions.add_parser("status", help=text, description=text)
    for sub in (install, status):
        if add_shared_options:
            add_shared_options(sub)


def run(ctx):
    from xe_dr.dr import plugin_install
    if ctx.args.action == "status":
        hosts = plugin_install.status(ctx.xe)
        ctx.output.data({"hosts": hosts}, ["%s%s: %s" % (
            h["name_label"], " [master]" if h["master"] else "",
            "version %s" % h["version"] if h["version"] else "FAILS: %s" % h["error"]
            if h["error"] else "not installed") for h in hosts])
        return ExitCode.OK if all(h["version"] for h in hosts) else ExitCode.FAILED
    roots = plugin_install.host_roots(ctx.args.host_root)
    results = plugin_install.install(ctx.xe, _runner_for_host(ctx), roots)
    ctx.output.data({"hosts": results}, [
        "%s: %s" % (r["name_label"], "installed version %s (%s)" % (r["version"], r[
            "interpreter"]) if r["ok"] else "FAILED: %s" % r["error"]) for r in results])
    failed = [r for r in results if not r["ok"]]
    return ExitCode.OK if not failed else (ExitCode.PARTIAL if len(failed) < len(results)
                                           else ExitCode.FAILED)


def _runner_for_host(ctx):
    """The master through the command's own runner; other hosts over SSH by their address,
    with the same SSH options (from dom0 itself too: the pool's hosts trust each other's
    root keys only if the administrator set that up, so errors name the host)."""
    from xe_dr.pool import read_pool
    if ctx.args.host_root:
        return lambda host: ctx.runner
    master = read_pool(ctx.xe).master
    runners = {}

    def runner_for(host):
        if host.uuid == master:
            return ctx.runner
        if host.uuid not in runners:
            runners[host.uuid] = ctx.make_runner("%s@%s" % (ctx.args.host_user, host.address))
            ctx.adopt_runner(runners[host.uuid])
        return runners[host.uuid]
    return runner_for
