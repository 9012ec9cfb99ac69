"""What a failover-like run is asked to do (kept in run.json so that --resume needs nothing
else), its constants, and the two ways it stops on purpose."""

from xe_dr.errors import TemporaryError, UsageError, XeDrError

MODES = ("failover", "test", "failback", "drill", "planned")
# How long a drill waits for every VM's verdict after the starts, by default (--verify-timeout).
DEFAULT_VERIFY_TIMEOUT = 900
# A drill's watchdog, by default: by then it is due to be over (--deadline). Two hours hold the
# copies, a site's recovery and starts and the verification; a drill kept for inspection
# (--keep) is due to be cleaned up within a day.
DEFAULT_DRILL_DEADLINE = 2 * 3600
DEFAULT_KEPT_DRILL_DEADLINE = 86400
POWER = ("start", "paused", "none")
# What a step's calls name in place of a value the step learns when it runs.
NEW_NETWORK = "<the new network>"
RECOVERED_VMS = "<each VM recovered>"
# The most objects one plugin call recovers at once (the plugin's MAX_PARALLEL; version 1
# of the plugin accepted 16).
PLUGIN_PARALLEL = {"1": 16}
PLUGIN_PARALLEL_DEFAULT = 32
# An order group starts as xapi starts a vApp's order group: all of its VMs at once
# (xapi_vm_appliance.ml, one Async VM.start per VM, then wait for all). Capped, because each
# start here is an xe process on the admin machine or dom0.
MOST_STARTS_AT_ONCE = 64
# Seconds a failback waits for one VM's clean shutdown at the source before it calls the
# guest uncooperative. xapi itself waits up to 60 s for an acknowledgement and 1200 s in all;
# five minutes is what an administrator on a bad day will wait per VM (VMs of an order group
# shut down together).
DEFAULT_SHUTDOWN_TIMEOUT = 300


# What a resume may change while the run has recovered nothing (it is planned and checked
# again then): the fixes blocking prechecks name.
REPLANNED = ("all", "vapps", "vms", "exclude", "power", "network_map", "disable_ha")


class Declined(XeDrError):
    """The operator answered no: the run stops before the change it was asked about."""
    run_status = "not confirmed"


class ArrayStop(TemporaryError):
    """The run needs the array's hand (a LUN here is still a read-only mirror target): a stop
    by design, not a failure; it resumes once the array made the LUN writable."""
    run_status = "waiting for the array"
    names_the_way_on = True  # its message says how the run goes on (RunContext.left_behind)


class Options(object):
    """What the user asked for; kept in run.json so that --resume needs nothing else
    (but the CHAP password, which is never stored)."""

    FIELDS = ("mode", "all", "vapps", "vms", "exclude", "storage", "srs", "power", "parallel",
              "network_map", "force", "disable_ha", "protect", "source", "shutdown_timeout",
              "force_shutdown", "adopt", "rto_target", "adapter", "verify_timeout", "keep",
              "deadline", "plan_path", "plan_text", "tags", "only", "reprotect")

    def __init__(self, mode="failover", all=False, vapps=(), vms=(), exclude=(), storage=(),
                 srs=(), power=None, parallel=4, network_map=None, force=False,
                 disable_ha=False, protect=None, source=None,
                 shutdown_timeout=DEFAULT_SHUTDOWN_TIMEOUT, force_shutdown=False, adopt=None,
                 rto_target=None, adapter=None, verify_timeout=DEFAULT_VERIFY_TIMEOUT,
                 keep=False, deadline=None, plan_path=None, plan_text=None, tags=(), only=(),
                 reprotect=False):
        if mode not in MODES:
            raise UsageError("unknown mode %r" % mode)
        self.mode = mode
        self.all = all
        self.vapps = list(vapps)
        self.vms = list(vms)
        self.exclude = list(exclude)
        self.storage = list(storage)        # [StorageSpec.to_json()]
        self.srs = list(srs)                # SR UUIDs to attach (default: all on the LUNs)
        # A test starts nothing unless asked: the product documentation's test failover
        # recovers VMs "but does not start them".
        self.power = power or ("none" if mode == "test" else "start")
        if self.power not in POWER:
            raise UsageError("--power must be one of %s" % ", ".join(POWER))
        if mode == "drill" and (self.power != "start" or not adapter):
            raise UsageError("a drill starts the VMs it recovers, on the array's copies: "
                             "give --adapter, and no --power")
        if mode == "test" and self.power == "start":
            raise UsageError("a test failover never runs guest code: use --power paused or none")
        if parallel < 1:
            raise UsageError("--parallel must be at least 1")
        self.parallel = parallel
        self.network_map = dict(network_map or {})
        self.force = force
        self.disable_ha = disable_ha
        self.protect = protect              # the SRs reprotect names (None: the run's)
        self.source = source                # {"host": ..., "xe": ...} or None
        # A failback's clean shutdown at the source: the budget of each call, and whether a
        # guest that does not halt in it is shut down hard.
        self.shutdown_timeout = float(shutdown_timeout)
        self.force_shutdown = force_shutdown
        self.adopt = adopt                  # a run whose held SRs this run takes over
        # Seconds from the run's start to the last object ready that the report holds the
        # run to (--rto-target), or None.
        self.rto_target = rto_target
        # A drill's: the storage adapter (an executable path on this machine), how long the
        # VMs have to be verified after their starts, and whether the drill is kept running
        # for inspection (until 'xe-dr cleanup RUN') instead of cleaned up at its verdict.
        self.adapter = adapter
        self.verify_timeout = float(verify_timeout)
        self.keep = keep
        # Seconds from the drill's start (or its resume) to when it is due to be over: its
        # watchdog stops it there, and status calls it overdue after (None: the default).
        self.deadline = deadline
        # A recovery plan (xe_dr/dr/recovery_plan.py): the file's path and its text as the
        # run began, kept in run.json, so that a resume follows the plan it began with.
        self.plan_path = plan_path
        self.plan_text = plan_text
        # A plan's selection by xapi tag, and the --vapp/--vm names that narrow what the plan
        # selects (applied once the metadata is read: a tag's VMs are known only then).
        self.tags = list(tags)
        self.only = list(only)
        # Once the VMs are back: the mirror reversed and this pool's metadata replicated on
        # the SRs the run attached (xe_dr/dr/failover/mirror.py).
        self.reprotect = reprotect
        if reprotect and mode in ("test", "drill"):
            raise UsageError("--reprotect is for a failover, a planned migration or a "
                             "failback: a test or a drill changes no protection")
        self._plan = None

    @property
    def plan(self):
        """The recovery plan as data, or None."""
        if self._plan is None and self.plan_text is not None:
            from xe_dr.dr.recovery_plan import parse
            self._plan = parse(self.plan_text, self.plan_path or "<the run's plan>")
        return self._plan

    def drill_deadline(self):
        """Seconds the drill has, from its start or resume, to be over."""
        if self.deadline is not None:
            return float(self.deadline)
        return DEFAULT_KEPT_DRILL_DEADLINE if self.keep else DEFAULT_DRILL_DEADLINE

    def to_json(self):
        return dict((k, getattr(self, k)) for k in self.FIELDS)

    @classmethod
    def from_json(cls, data):
        return cls(**dict((k, data[k]) for k in cls.FIELDS if k in data))
