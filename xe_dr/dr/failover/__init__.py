"""Failover, test failover and failback (see run.py for the phases, in order)."""

from xe_dr.dr.failover.options import (DEFAULT_SHUTDOWN_TIMEOUT, MODES, MOST_STARTS_AT_ONCE,
                                       POWER, ArrayStop, Declined, Options)
from xe_dr.dr.failover.run import Failover

__all__ = ["DEFAULT_SHUTDOWN_TIMEOUT", "MODES", "MOST_STARTS_AT_ONCE", "POWER", "ArrayStop",
           "Declined", "Failover", "Options"]
