"""The storage options shared by ``probe`` and ``failover``: where the mirrored LUN is.

The CHAP password is read from a file, an environment variable or a prompt, never from the
command line (where every local user could read it in the process list).
"""

import os

from xe_dr.dr.storage import StorageSpec
from xe_dr.cli import argtypes
from xe_dr.errors import UsageError


def add_storage_arguments(parser):
    group = parser.add_argument_group("storage (iSCSI or HBA)")
    group.add_argument("--target", metavar="ADDRESS",
                       help="iSCSI target address(es), comma-separated")
    group.add_argument("--port", type=argtypes.port, help="iSCSI port (default 3260)")
    group.add_argument("--iqn", metavar="IQN", help="iSCSI target IQN")
    group.add_argument("--hba", action="store_true", help="Fibre Channel / HBA storage")
    group.add_argument("--scsiid", metavar="SCSIID", action="append", type=argtypes.non_empty,
                       help="SCSI id of the LUN (repeatable, one per LUN)")
    group.add_argument("--hba-scsiid", metavar="SCSIID", action="append", default=[],
                       type=argtypes.non_empty,
                       help="an HBA LUN besides the iSCSI ones (repeatable)")
    group.add_argument("--chap-user", metavar="USER", help="CHAP user name")
    group.add_argument("--chap-password-file", metavar="FILE", type=argtypes.file_path,
                       help="the CHAP password is the first line of FILE")
    group.add_argument("--chap-password-env", metavar="VAR",
                       help="the CHAP password is in the environment variable VAR")
    return group


def storage_specs(ctx, allow_partial):
    """The StorageSpec(s) the options describe (one per --scsiid), or [] when none given."""
    args = ctx.args
    extra_hba = [StorageSpec.hba(s) for s in args.hba_scsiid]
    if not (args.target or args.hba):
        if args.iqn or args.scsiid or args.chap_user:
            raise UsageError("--iqn, --scsiid and --chap-user need --target (iSCSI) or --hba")
        return extra_hba
    if args.target and args.hba:
        raise UsageError("give either --target (iSCSI) or --hba, not both")
    scsiids = args.scsiid or [None]
    if not allow_partial and scsiids == [None]:
        raise UsageError("attaching storage needs --scsiid", hint="find it with 'xe-dr probe'")
    if args.hba:
        return [StorageSpec.hba(s) for s in scsiids] + extra_hba
    password = _chap_password(ctx) if args.chap_user else None
    return [StorageSpec.iscsi(args.target, args.port, args.iqn, s, args.chap_user, password)
            for s in scsiids] + extra_hba


def _chap_password(ctx):
    args = ctx.args
    if args.chap_password_file:
        try:
            with open(os.path.expanduser(args.chap_password_file), encoding="utf-8") as handle:
                password = handle.readline().rstrip("\r\n")
        except (IOError, OSError) as failure:
            raise UsageError("cannot read the CHAP password file %s: %s"
                             % (args.chap_password_file, failure.strerror))
    elif args.chap_password_env:
        password = ctx.env.environ.get(args.chap_password_env)
        if password is None:
            raise UsageError("the environment variable %s is not set" % args.chap_password_env)
    elif not args.no_input and ctx.env.can_prompt():
        password = ctx.env.ask_secret("CHAP password for %s: " % args.chap_user)
    else:
        raise UsageError("--chap-user needs a password",
                         hint="--chap-password-file FILE or --chap-password-env VAR")
    if not password:
        raise UsageError("the CHAP password is empty")
    return password
