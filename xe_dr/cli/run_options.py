"""What the recovery commands share (failover, failback and runbook): their options, and the
running of a failover or failback from them. The commands import it; none imports another."""

import os

from xe_dr import interrupt
from xe_dr.cli import argtypes
from xe_dr.cli.storage_options import add_storage_arguments, storage_specs
from xe_dr.dr.failover.options import DEFAULT_VERIFY_TIMEOUT
from xe_dr.errors import ConfigError, UsageError, XeDrError
from xe_dr.marks import DISPOSABLE_KINDS, step_parts


def add_selection_arguments(parser):
    group = parser.add_argument_group("what to recover")
    group.add_argument("--all", action="store_true", help="every vApp and VM in the metadata")
    group.add_argument("--vapp", action="append", default=[], metavar="NAME|UUID",
                       help="a vApp (repeatable)")
    group.add_argument("--vm", action="append", default=[], metavar="NAME|UUID",
                       help="a VM (repeatable)")
    group.add_argument("--exclude", action="append", default=[], metavar="NAME|UUID",
                       help="leave this vApp or VM out (repeatable)")


def add_run_arguments(parser, objective=False, shutdown=False):
    """``objective``: --rto-target too (a run's; a runbook's script has no report);
    ``shutdown``: the options of a clean shutdown at the source (failback, planned)."""
    storage = add_storage_arguments(parser)
    storage.add_argument("--sr", action="append", default=[], metavar="UUID",
                         help="attach only these SRs of the LUNs (default: all)")
    group = parser.add_argument_group("how")
    group.add_argument("--power", choices=("start", "paused", "none"), metavar="MODE",
                       help="after recovery: start (default), paused or none")
    group.add_argument("--parallel", type=int, default=4, metavar="N",
                       help="recover up to N objects at once (default 4)")
    group.add_argument("--map-network", action="append", default=[], metavar="SRC=DST",
                       help="VIFs of network SRC go on network DST (repeatable)")
    group.add_argument("--force", action="store_true",
                       help="recover with force=true (needs the plugin)")
    group.add_argument("--source", metavar="HOST|down",
                       help="source master (as -H); 'down': it is fenced")
    group.add_argument("--source-xe", metavar="PATH", help="path of xe on the source")
    group.add_argument("--dry-run", action="store_true",
                       help="show the plan, checks, xe commands; change nothing")
    if objective:
        group.add_argument("--rto-target", type=argtypes.seconds, metavar="SECONDS",
                           help="recovery time objective; the report says if met")
    if shutdown:
        _add_shutdown_arguments(group)


def add_plan_arguments(parser):
    """--plan and --answer-prompts: a run by a recovery plan (xe_dr/dr/recovery_plan.py)."""
    # Among the command's own options: a group of their own would cost two lines of a help
    # held to 60 (tests/test_cli_help.py).
    parser.add_argument("--plan", metavar="FILE", type=argtypes.file_path,
                        help="a recovery plan (man: RECOVERY PLANS)")
    parser.add_argument("--answer-prompts", action="store_true",
                        help="answer the plan's prompts (--yes does not)")


# What a plan sets, so that a command line may not set it too. (Its storage is the DR site's:
# a failback by the plan is given this site's on the command line.)
_STORAGE_OPTIONS = ("target", "port", "iqn", "hba", "scsiid", "hba_scsiid", "chap_user",
                    "chap_password_file", "chap_password_env", "sr")
_SET_BY_A_PLAN = ("power", "map_network") + _STORAGE_OPTIONS


def _plan_options(ctx, mode):
    """Options of a run by the plan --plan names: its selection (narrowed by --vapp, --vm,
    --exclude), its storage, its network map; the file's text kept in the run."""
    from xe_dr.dr.failover import Options
    from xe_dr.dr.recovery_plan import CREATE, read_text
    args = ctx.args
    back = mode == "failback"
    given = [name for name in _SET_BY_A_PLAN if getattr(args, name, None) and not (
        back and name in _STORAGE_OPTIONS)]
    if given:
        raise UsageError("the plan sets what %s would: give it in the plan, not both" % (
            ", ".join("--" + g.replace("_", "-") for g in given)))
    path = os.path.abspath(os.path.expanduser(args.plan))
    text, plan = read_text(path)
    _refuse_open_commands(path, plan)
    if args.all:
        raise UsageError("a plan selects what it names: --all and --plan are not given together",
                         hint="narrow the plan's selection with --vapp, --vm and --exclude")
    # An --exclude of a name the plan gives drops it from the selection: a name gone from
    # the metadata since the plan was checked (drift) can be left out on the day.
    vapps = [name for g in plan["groups"] for name in g["vapps"] if name not in args.exclude]
    vms = [name for g in plan["groups"] for name in g["vms"] if name not in args.exclude]
    tags = [tag for g in plan["groups"] for tag in g["tags"]]
    named = set(name for g in plan["groups"] for name in g["vapps"] + g["vms"])
    for name in args.vapp + args.vm:
        # A name the plan may select by a tag is known only once the metadata is read.
        if name not in vapps + vms and not (tags and name in args.vm):
            raise UsageError("%s is in no group of the plan %s" % (name, args.plan),
                             hint="a run by a plan recovers what the plan names, or part "
                                  "of it")
    networks = dict((source, target) for source, target in plan["networks"].items()
                    if target not in (CREATE, source))
    if back:  # the plan reversed: this site's storage, the networks mapped back
        specs = storage_specs(ctx, allow_partial=False)
        networks = dict((target, source) for source, target in networks.items())
    else:
        specs = _plan_storage(plan["storage"], args.plan)
    options = Options(
        mode=mode, vapps=vapps, vms=vms, exclude=[e for e in args.exclude if e not in named],
        storage=[s.to_json() for s in specs], parallel=args.parallel, network_map=networks,
        force=getattr(args, "force", False), disable_ha=getattr(args, "disable_ha", False),
        adopt=getattr(args, "adopt", None), rto_target=getattr(args, "rto_target", None),
        adapter=_adapter_path(getattr(args, "adapter", None)),
        verify_timeout=getattr(args, "verify_timeout", None) or DEFAULT_VERIFY_TIMEOUT,
        keep=getattr(args, "keep", False), deadline=getattr(args, "deadline", None),
        power="paused" if mode == "test" else None, plan_path=path, plan_text=text,
        tags=tags, only=args.vapp + args.vm, source=_source(ctx),
        # --reprotect, else the plan's (and the SRs either names)
        reprotect=getattr(args, "reprotect", None) is not None or
        plan["reprotect"] is not None,
        protect=getattr(args, "reprotect", None) or plan["reprotect"] or None)
    _shutdown_options(args, options)
    return options, dict((s.device_config.get("SCSIid"), s.chap_password) for s in specs
                         if s.chap_password)


def _plan_storage(storage, plan_path):
    """The StorageSpecs of a plan's [storage] (the DR site's LUNs)."""
    from xe_dr.dr.storage import StorageSpec
    password = None
    if storage["chap_user"] and not storage["chap_password_secret"]:
        password = _plan_chap_password(storage["chap_password_file"], plan_path)
    specs = [StorageSpec.iscsi(storage["target"], storage["port"], storage["iqn"], scsiid,
                               storage["chap_user"], password,
                               chap_secret=storage["chap_password_secret"])
             for scsiid in storage["scsiid"]]
    return specs + [StorageSpec.hba(scsiid) for scsiid in storage["hba_scsiid"]]


def _refuse_open_commands(path, plan):
    """A plan's hooks and check commands run as the user running xe-dr (root on dom0): a plan
    file someone else may write (group or others, or another owner) is refused, as ssh
    refuses such a config file."""
    commands = [plan["hooks"]["before"], plan["hooks"]["after"]] + [
        c for g in plan["groups"] for c in (g["before"], g["after"], g["gate"]["command"])]
    if not [c for c in commands if c]:
        return
    info = os.stat(path)
    if info.st_mode & 0o022 or info.st_uid not in (os.getuid(), 0):
        raise ConfigError("the plan %s runs commands and others may write it (mode %o, "
                          "owner uid %d)" % (path, info.st_mode & 0o777, info.st_uid),
                          hint="chmod go-w %s (and own it), or take its commands out"
                               % path)


def _plan_chap_password(path, plan_path):
    if not path:
        raise ConfigError("the plan %s names a CHAP user and no chap-password-file" % plan_path)
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            password = handle.readline().rstrip("\r\n")
    except (IOError, OSError) as failure:
        raise UsageError("cannot read the CHAP password file %s the plan names: %s" % (
            path, failure.strerror))
    if not password:
        raise UsageError("the CHAP password file %s the plan names is empty" % path)
    return password


def add_array_arguments(parser):
    """--adapter and --reprotect: the array's mirror through a storage adapter (a run that
    shuts its source down), and protection once the VMs are back (xe_dr/dr/failover/
    mirror.py)."""
    # Among the command's own options: a group of their own would cost two lines of a help
    # held to 60 (tests/test_cli_help.py).
    parser.add_argument("--adapter", metavar="PATH", type=argtypes.file_path,
                        help="storage adapter: halts (and reverses) the mirror")
    parser.add_argument("--reprotect", nargs="*", metavar="SR",
                        help="afterwards: reverse the mirror, replicate here")


def _add_shutdown_arguments(group):
    """The remedies a resume may bring for a guest that would not shut down at the source
    (failback, planned migration)."""
    group.add_argument("--shutdown-timeout", type=argtypes.seconds, metavar="SECONDS",
                       help="how long a clean shutdown may take (default 300)")
    group.add_argument("--force-shutdown", action="store_true",
                       help="shut down hard a VM not halted cleanly in time")


def add_resume_arguments(parser):
    """--resume and --adopt: a run that stopped (failover and failback; not a runbook);
    --wait-lock: a run that holds the pool."""
    group = parser.add_argument_group("other runs")
    group.add_argument("--resume", metavar="RUN", type=argtypes.run_id,
                       help="resume this interrupted run")
    group.add_argument("--adopt", metavar="RUN", type=argtypes.run_id,
                       help="take over the SRs, VMs, networks a stopped run holds")
    add_wait_lock_argument(group)


def add_wait_lock_argument(group):
    group.add_argument("--wait-lock", type=argtypes.duration, metavar="SECONDS", default=0,
                       help="wait for another run's lock (up to SECONDS, or 30m)")


def network_map(pairs):
    result = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source or not target:
            raise UsageError("--map-network takes SRC=DST, not %r" % pair)
        result[source] = target
    return result


def build_options(ctx, mode):
    from xe_dr.dr.failover import Options
    args = ctx.args
    if getattr(args, "plan", None):
        return _plan_options(ctx, mode)
    specs = storage_specs(ctx, allow_partial=False)
    source = _source(ctx)
    options = Options(
        mode=mode, all=args.all, vapps=args.vapp, vms=args.vm, exclude=args.exclude,
        storage=[s.to_json() for s in specs], srs=args.sr, power=args.power,
        parallel=args.parallel, network_map=network_map(args.map_network), force=args.force,
        disable_ha=getattr(args, "disable_ha", False), source=source,
        adopt=getattr(args, "adopt", None), rto_target=getattr(args, "rto_target", None),
        adapter=_adapter_path(getattr(args, "adapter", None)),
        verify_timeout=getattr(args, "verify_timeout", None) or DEFAULT_VERIFY_TIMEOUT,
        keep=getattr(args, "keep", False), deadline=getattr(args, "deadline", None),
        reprotect=getattr(args, "reprotect", None) is not None,
        protect=getattr(args, "reprotect", None) or None)
    _shutdown_options(args, options)
    passwords = dict((s.device_config.get("SCSIid"), s.chap_password) for s in specs
                     if s.chap_password)
    return options, passwords


def _source(ctx):
    """--source and --source-xe, as Options keep them (None: not given). A pool of the
    sites file is kept as its master and xe, so that a resume without --sites reaches it."""
    source = getattr(ctx.args, "source", None)
    if not source:
        return None
    xe_path = getattr(ctx.args, "source_xe", None)
    pool = ctx.named_pool(source)
    if pool is not None:
        source, xe_path = pool.master, xe_path or pool.xe
    return {"host": source, "xe": xe_path}


def _adapter_path(path):
    """The storage adapter as an absolute path: run.json keeps it for a resume or a cleanup
    started from another directory."""
    return os.path.abspath(os.path.expanduser(path)) if path else None


def _shutdown_options(args, options):
    if getattr(args, "shutdown_timeout", None) is not None:
        options.shutdown_timeout = args.shutdown_timeout
    if getattr(args, "force_shutdown", False):
        options.force_shutdown = True


# Options a resumed run takes from its journal; giving them again would be ignored, so it is
# refused instead of silently doing something else than the command line says. The storage
# options may be given again, to correct a LUN whose attach has not begun (_corrected_storage).
_FIXED_ON_RESUME = ("all", "vapp", "vm", "exclude", "power", "map_network", "sr", "force",
                    "dry_run", "source", "source_xe", "disable_ha", "adopt", "plan")
# Those a resume may change while the run has recovered nothing: it is planned and checked
# again then, so the fix a blocking precheck names (--exclude, --power none, --map-network,
# --disable-ha) counts (_replanned).
_REPLANNED_ON_RESUME = ("all", "vapp", "vm", "exclude", "power", "map_network", "disable_ha")
# Those of them that choose what a run brings (fixed once it shut the source down).
_SELECTION = ("all", "vapp", "vm", "exclude")


def run_mode(ctx, mode, finish=None):
    """Run (or resume) a failover-like run of ``mode``; ``finish(failover, report, code)``,
    when given, runs after it (its lock released) and returns the (report, code) shown."""
    from xe_dr.cli.present import failover_text, redacted_argv
    from xe_dr.cli.progress import Progress
    from xe_dr.dr.failover import Failover, Options
    from xe_dr.journal import Run
    from xe_dr.report import write_default
    args = ctx.args
    corrected = None
    if args.resume:
        given = [name for name in _FIXED_ON_RESUME if getattr(args, name, None)]
        run = Run.open(ctx.state_dir, args.resume) if given else None
        recovering = run is not None and _began_recovering(run)
        # What the source shut down is what the run must bring here: another selection
        # would leave VMs halted at both sites, or bring one the fence did not cover.
        shut_down = run is not None and _began_shutting_down(run)
        fixed = [g for g in given if recovering or g not in _REPLANNED_ON_RESUME or (
            shut_down and g in _SELECTION)]
        if fixed:
            raise UsageError("--resume continues the run as it was planned%s; do not give %s"
                             % (" (it began recovering)" if recovering else
                                " (it began shutting the source down)" if shut_down else "",
                                ", ".join("--" + g.replace("_", "-") for g in fixed)),
                             hint="the storage options may be given again, to correct a LUN "
                                  "not attached yet or give its CHAP password; the selection, "
                                  "--power, --map-network and --disable-ha too, until the "
                                  "run begins recovering (the selection, until it begins "
                                  "shutting the source down)")
        run = run or Run.open(ctx.state_dir, args.resume)
        command = mode if mode in ("failback", "drill") else "failover"
        expected = run.meta.get("kind") if run.meta.get("kind") in ("failback", "drill") \
            else "failover"
        if run.meta.get("kind") in ("test", "failover", "failback", "drill", "planned") and (
                command != expected or (getattr(args, "test", False) and
                                        run.meta["kind"] != "test")):
            raise UsageError("run %s is a %s: resume it with 'xe-dr %s --resume %s'" % (
                args.resume, run.meta["kind"], expected, args.resume))
        options = Options.from_json(run.meta["options"])
        if given:
            options = _replanned(args, options, given)
        # The shutdown options are remedies: a failback stopped by a guest that would not
        # shut down resumes with more time or with --force-shutdown.
        _shutdown_options(args, options)
        if args.rto_target is not None:  # the report's measure, not the run's plan
            options.rto_target = args.rto_target
        if args.scsiid or args.hba_scsiid:
            corrected = _corrected_storage(ctx, run, options)
            passwords = dict((s.device_config.get("SCSIid"), s.chap_password)
                             for s in corrected if s.chap_password)
        else:
            passwords = _resume_passwords(ctx, options)
    else:
        if args.sr and not (args.target or args.hba or args.hba_scsiid):
            raise UsageError("--sr chooses among the SRs of probed LUNs: give the storage "
                             "options too (--target/--iqn/--scsiid or --hba-scsiid)")
        options, passwords = build_options(ctx, mode)
    if options.mode not in DISPOSABLE_KINDS and not args.dry_run and not args.yes and (
            args.no_input or not ctx.env.can_prompt()) and not (
            args.resume and corrected is None and _answered(run, ("storage", "recovery"))):
        # Refused before anything is read or recorded: a real run asks twice.
        raise UsageError("a real %s asks for confirmation, and there is no terminal to ask "
                         "on" % options.mode, hint="re-run with --yes to allow it")
    source_xe = ctx.other_site(options.source["host"], options.source["xe"]) \
        if options.source and options.source["host"] != "down" else None
    progress = Progress(ctx.output)
    failover = Failover(ctx.xe, ctx.state_dir, options, progress.holding(ctx.confirm), progress,
                        source_xe=source_xe, chap_passwords=passwords,
                        use_plugin=ctx.use_plugin, argv=redacted_argv(ctx),
                        transport=ctx.runner.description, publish=write_default,
                        plugin_required=ctx.plugin_required,
                        prompt=progress.holding(ctx.answer_prompt),
                        lock_wait=args.wait_lock, estate_pool=ctx.args.pool)
    try:
        if args.dry_run:
            report, code = failover.plan()
        else:
            # Ctrl-C stops the run between steps, the calls under way let finish.
            with interrupt.deferred(ctx.env.stderr):
                report, code = failover.apply(resume_id=args.resume, storage=corrected)
    except XeDrError:
        progress.close()
        if failover.run is not None and ctx.output.json_mode:
            # A stopped run's report still reaches scripts; a person gets the one error line.
            ctx.output.data(failover.report)
        raise
    finally:
        progress.close()
    if finish is not None and not args.dry_run:
        report, code = finish(failover, report, code)
    ctx.output.data(report, failover_text(report))
    return code


def _began_recovering(run):
    return any(e["step"].startswith(("recover:", "start:")) for e in run.entries())


def _began_shutting_down(run):
    return any(e["step"].startswith("source-") for e in run.entries())


def _replanned(args, options, given):
    """The options of a resume of a run that recovered nothing, with what the command line
    changes: --all, --vapp or --vm choose again what to recover; --exclude adds to the run's
    exclusions, --map-network to its map; --power and --disable-ha replace the run's."""
    from xe_dr.dr.failover import Options
    data = options.to_json()
    if options.plan_text is not None:
        # A run by a plan: the plan says what, and how; --vapp and --vm narrow it again.
        set_by_plan = [g for g in given if g in ("all", "power", "map_network")]
        if set_by_plan:
            raise UsageError("run %s follows a plan, which sets what %s would" % (
                args.resume, ", ".join("--" + g.replace("_", "-") for g in set_by_plan)),
                hint="--vapp, --vm and --exclude narrow a plan's selection")
        if {"vapp", "vm"} & set(given):
            data["only"] = list(args.vapp) + list(args.vm)
    elif {"all", "vapp", "vm"} & set(given):
        data.update(all=args.all, vapps=list(args.vapp), vms=list(args.vm))
    data["exclude"] = data["exclude"] + [e for e in args.exclude if e not in data["exclude"]]
    data["network_map"] = dict(data["network_map"], **network_map(args.map_network))
    if args.power:
        data["power"] = args.power
    if getattr(args, "disable_ha", False):
        data["disable_ha"] = True
    return Options.from_json(data)  # checked as a new run's


def _answered(run, confirmations):
    """Whether a run has journaled a yes to each of these confirmations."""
    noted = {e["step"] for e in run.entries() if e.get("event") == "note"}
    return all("confirmed:%s" % c in noted for c in confirmations)


def _corrected_storage(ctx, run, options):
    """The storage options given again to a resume: they replace the run's, as long as every
    LUN whose attach has begun is still among them (what it attached stays the run's)."""
    specs = storage_specs(ctx, allow_partial=False)
    begun = {step_parts(e["step"], 2)[1] for e in run.entries()
             if e.get("step", "").startswith("attach:")}
    given = {s.device_config.get("SCSIid") for s in specs}
    dropped = sorted(begun - given)
    if dropped:
        raise UsageError("LUN(s) %s have been attached by this run already: give them again "
                         "too" % ", ".join(dropped))
    return specs


def _resume_passwords(ctx, options=None):
    """A resumed run may still have storage to attach: the CHAP password is asked again (a
    run by a plan reads it again from the file the plan names, or has none: the DR site's
    xapi secret holds it)."""
    args = ctx.args
    plan = options.plan if options is not None else None
    if options is not None and options.mode == "failback":
        plan = None  # a failback by a plan attaches this site's storage, not the plan's
    if plan is not None and plan["storage"]["chap_password_secret"]:
        return {}
    if plan is not None and plan["storage"]["chap_user"]:
        return {None: _plan_chap_password(plan["storage"]["chap_password_file"],
                                          options.plan_path)}
    if not args.chap_user:
        return {}
    specs = storage_specs(ctx, allow_partial=True)
    return dict((None, s.chap_password) for s in specs if s.chap_password)
