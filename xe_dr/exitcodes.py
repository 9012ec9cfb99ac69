"""The one table of exit statuses; the man page and ``--help`` are generated from it.

The numbers above 63 follow sysexits(3) so that shell runbooks can share one vocabulary.
"""

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    PARTIAL = 2          # some objects failed, the rest succeeded (doctor: warnings only)
    UNCHECKED = 3        # a dry run that could not run every check (it lists them)
    USAGE = 64           # bad command line
    NOINPUT = 66         # what the command names does not exist (a run that never ran here)
    UNREACHABLE = 69     # the target (ssh, xapi) could not be reached
    TEMPORARY = 75       # interrupted, locked or timed out: safe to resume or retry
    REFUSED = 77         # host key, permission or licence refused the operation
    CONFIG = 78          # bad configuration (state dir, known_hosts, xe path...)


EXIT_CODE_MEANINGS = (
    (ExitCode.OK, "success; for checks, all is well"),
    (ExitCode.FAILED, "failed"),
    (ExitCode.PARTIAL, "partly failed: some objects failed and the report names them; "
                       "for doctor, warnings only"),
    (ExitCode.UNCHECKED, "a dry run that could not check everything: the vApps and VMs are "
                         "listed in metadata on SRs not attached yet, so it names the checks "
                         "it could not run and why (--source plans from the live primary)"),
    (ExitCode.USAGE, "usage error on the command line, or a safety check that needs --force "
                     "or --yes"),
    (ExitCode.NOINPUT, "nothing found: the run named never ran in this pool, or was cleaned up"),
    (ExitCode.UNREACHABLE, "the target host or xapi could not be reached"),
    (ExitCode.TEMPORARY, "interrupted, locked by another run, or timed out: safe to resume or retry"),
    (ExitCode.REFUSED, "refused: host key, a login the SSH server refused, permission or "
                       "licence"),
    (ExitCode.CONFIG, "bad configuration, or a state directory that cannot be written "
                      "(a run stops at its last journal entry: resume it once there is room)"),
)
