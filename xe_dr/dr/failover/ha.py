"""A test failover's HA (DrHAEnabledCheck's fix, --disable-ha): the pool's HA set-up
remembered in the journal before HA is touched, for cleanup to enable it again."""

from xe_dr.dr.failover.context import Phase
from xe_dr.dr.steps import Call, Step
from xe_dr.xe.records import parse_set


class HaPhase(Phase):
    def disable(self):
        """Remember how HA was set up (heartbeat SRs, failures to tolerate), journaled with
        "begin" before HA is touched, for cleanup; then disable it (DrHAEnabledCheck's fix)."""
        step = "ha:disable"
        setup = self.engine.begun(step)
        if not setup:
            statefiles = self.xe.param_get("pool", self.pool.uuid, "ha-statefiles")
            vdis = [v for v in parse_set(statefiles) if v]
            setup = {"heartbeat_srs": sorted({self.xe.param_get("vdi", v, "sr-uuid")
                                              for v in vdis}),
                     "tolerate": self.xe.param_get("pool", self.pool.uuid,
                                                   "ha-host-failures-to-tolerate")}
        setup = {"heartbeat_srs": setup["heartbeat_srs"], "tolerate": setup["tolerate"]}

        def disable():
            self.xe.run("pool-ha-disable")
            return setup

        def reconcile():
            off = self.xe.param_get("pool", self.pool.uuid, "ha-enabled") == "false"
            return setup if off else None

        self.engine.do(Step(step, "disable HA for the test", [Call("pool-ha-disable")],
                            action=disable, reconcile=reconcile, begin_data=setup))
