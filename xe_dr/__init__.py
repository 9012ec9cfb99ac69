"""xe-dr: a command-line disaster-recovery orchestrator for XenServer and XCP-ng pools.

Everything importable from ``xe_dr`` (except ``xe_dr.lab`` and the optional SSH and report
extras) runs on dom0's Python 3.6 with the standard library alone.
"""

__version__ = "0.1.0"
