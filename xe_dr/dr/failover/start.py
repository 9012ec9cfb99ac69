"""The failover's starts: vApps with appliance-start (xapi runs their order groups) beside the
standalone VMs, order group by order group, each group at once; with the recovery in waves,
each group or vApp waits for its wave."""

import threading
import time

from xe_dr.dr.engine import StepFailed
from xe_dr.dr.failover.context import Phase
from xe_dr.dr.failover.options import MOST_STARTS_AT_ONCE
from xe_dr.dr.steps import Call, Step, step_id
from xe_dr.marks import DRILL
from xe_dr.pool import when_idle


class StartPhase(Phase):
    def start(self, items, recovered, gate=None):
        """Start what was recovered: the standalone VMs order group by order group, each
        group all at once, and each vApp by appliance-start (xapi runs its order groups)
        alongside them. With a ``gate`` (a _Settled: recovery still going on in waves), each
        group and vApp waits until its wave is over, and nothing more starts once the
        recovery stopped."""
        if self.opts.power == "none":
            return {}
        paused = self.opts.power == "paused"
        started = {}
        lock = threading.Lock()
        wanted = [i for i in items if not i.excluded and (i.uuid in recovered or
                                                          gate is not None)]
        self.progress.phase("start" if not paused else "start paused", len(wanted), "start:")

        def start(item):
            result = self.engine.do(self.step(item))
            with lock:
                started[item.uuid] = result
            return result

        def ready(group):
            """The items of ``group`` that were recovered, once their wave is over."""
            if gate is not None and not gate.wait_for(i.uuid for i in group):
                return []
            return [i for i in group if i.uuid in recovered]

        def vms_by_order():
            groups = {}
            for item in wanted:
                if item.kind == "vm":
                    groups.setdefault(item.order, []).append(item)
            for order in sorted(groups):
                group = ready(groups[order])
                if group:
                    self.progress.note("order group %d: %d VM(s)" % (order, len(group)))
                    self.engine.do_many(group, min(len(group), MOST_STARTS_AT_ONCE), start)

        stops = []  # a Ctrl-C met by a vApp's thread, raised here once the others ended

        def appliance(item):
            if ready([item]):
                self._guarded(start, item, stops)

        threads = [threading.Thread(target=appliance, args=(item,))
                   for item in wanted if item.kind == "appliance"]
        for thread in threads:
            thread.start()
        try:
            vms_by_order()
        finally:
            for thread in threads:
                thread.join()
        if stops:
            raise stops[0]
        return started

    def step(self, item):
        """Start a recovered vApp or standalone VM (paused with --power paused)."""
        params = {"uuid": item.uuid}
        if self.opts.power == "paused":
            params["paused"] = "true"
        if item.kind == "vm" and item.uuid in self.ctx.start_on:
            params["on"] = self.ctx.start_on[item.uuid]  # a drill VM on PIF-less networks
        call = Call("%s-start" % item.kind, params)

        def action():
            began = time.time()
            self.xe.run(call.command, call.params)
            # A drill's verification wants the start's beginning: guest metrics updated
            # after it are this boot's (xe_dr/dr/verify.py).
            return began if self.opts.mode == DRILL else time.time()

        def reconcile():
            # A start the stopped run left under way goes on in xapi: wait for it first.
            if item.kind == "appliance":
                when_idle(self.xe, "appliance", {"uuid": item.uuid})
            states = {r["power-state"] for r in when_idle(
                self.xe, "vm", {"uuid": item.uuid} if item.kind == "vm" else
                {"appliance": item.uuid}, params=("uuid", "power-state"))}
            return time.time() if states and states <= {"running", "paused"} else None

        return Step(step_id("start", item.kind, item.uuid), "start %s %s" % (
            item.kind, item.name_label), [call], action=action, reconcile=reconcile,
            group=None if item.kind == "appliance" else item.order)

    def _guarded(self, start, item, stops):
        try:
            start(item)
        except StepFailed:
            pass  # recorded in engine.failures
        except KeyboardInterrupt as stop:  # the run stops: say so in the phase's thread
            stops.append(stop)


class Settled(object):
    """The objects whose recovery wave is over (recovered or not), for the start phase to wait
    on; shut when the recovery stopped."""

    def __init__(self):
        self._done = set()
        self._shut = False
        self._changed = threading.Condition()

    def add(self, uuids):
        with self._changed:
            self._done.update(uuids)
            self._changed.notify_all()

    def shut(self):
        with self._changed:
            self._shut = True
            self._changed.notify_all()

    def wait_for(self, uuids):
        """True once every one of ``uuids`` is settled; False if the recovery stopped first."""
        uuids = set(uuids)
        with self._changed:
            while not uuids <= self._done and not self._shut:
                self._changed.wait()
            return uuids <= self._done


class Background(object):
    """fn(*args) on a thread of its own; :meth:`result` waits and returns its value or raises
    its exception here."""

    def __init__(self, fn, *args, **options):
        """``daemon=True``: a read nobody may wait for (the process may end without it)."""
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn, args))
        self._thread.daemon = options.get("daemon", False)
        self._thread.start()

    def _run(self, fn, args):
        try:
            self._value = fn(*args)
        except BaseException as failure:  # handed to the caller of result()
            self._error = failure

    def wait(self):
        self._thread.join()

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
