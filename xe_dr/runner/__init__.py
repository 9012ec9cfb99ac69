"""Runners execute one argv on the target (dom0 itself, or a pool master over SSH).

Every runner returns a :class:`Result` and raises only the :class:`RunnerError` family:
:class:`CommandFailed` when the command ran and exited non-zero, :class:`TransportFailed`
(and its subclasses) when the command could not be run or its outcome is unknown.
"""

from xe_dr.runner.base import (  # noqa: F401
    CommandFailed,
    CommandTimedOut,
    HostKeyRejected,
    LoginRefused,
    ProgramNotFound,
    Result,
    Runner,
    RunnerError,
    TransportFailed,
)
