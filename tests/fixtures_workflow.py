"""Fixtures for end-to-end tests of the DR workflows: the xe-dr CLI run in-process, as a user
would type it, against the lab's fake xe of one site.

``drill``: a fresh lab plus helpers:
    drill.xedr("B", "failover", "--test", ...) -> CliResult(code, out, err, json)
    drill.storage_args("B")   the probe options that reach every mirrored LUN from site B
    drill.snapshot("B")       site B's objects, for object-by-object comparison
"""

import io
import json

import pytest

from tests.fixtures_lab import make_lab
from tests.inprocess_xe import local_runner_for
from xe_dr.cli import main
from xe_dr.cli.environment import Environment

# Fields that change by themselves or by design between two reads of an unchanged world.
VOLATILE = {"generation", "current_operations", "allowed_operations", "memory_free",
            "last_updated", "timestamp", "metadata_latest"}


def run_cli(argv, environ=None):
    """xe-dr in-process with no terminal: (exit status, stdout, stderr)."""
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ=environ or {}, stdin_isatty=False, stdout_isatty=False,
                      stderr_isatty=False)
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


class CliResult(object):
    def __init__(self, code, out, err):
        self.code = code
        self.out = out
        self.err = err

    @property
    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "CliResult(code=%r)\n--- stdout\n%s\n--- stderr\n%s" % (
            self.code, self.out[-3000:], self.err[-3000:])


class Drill(object):
    """``transport``: extra global options (e.g. ``-H root@127.0.0.1:PORT ...``) so that the
    same drill runs over SSH; empty runs xe locally: in-process (tests/inprocess_xe.py), or as
    a process per call with ``processes=True``."""

    def __init__(self, lab, state_dir, transport=(), processes=False):
        self.lab = lab
        self.state_dir = state_dir
        self.transport = list(transport)
        self.local_runner = None if processes else local_runner_for(lab.lab)

    def xedr(self, site, *args, **kw):
        stdin = kw.pop("stdin", "")
        tty = kw.pop("tty", False)  # a person at a terminal: prompts are asked
        env = Environment(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(),
                          environ=kw.pop("environ", {}), stdin_isatty=tty,
                          stdout_isatty=False, stderr_isatty=tty,
                          local_runner=self.local_runner)
        argv = self.transport + ["--xe", self.lab.xe_path(site), "--state-dir",
                                 self.state_dir] + list(args)
        code = main(argv, env)
        return CliResult(code, env.stdout.getvalue(), env.stderr.getvalue())

    def ok(self, site, *args):
        result = self.xedr(site, *args)
        assert result.code == 0, result
        return result

    def storage_args(self, site="B", sr_uuids=None):
        """--target/--iqn/--scsiid (and --hba-scsiid) reaching the replicated LUNs."""
        args, iscsi = [], None
        for sr_uuid, _ in self.lab.replicated_srs():
            if sr_uuids is not None and sr_uuid not in sr_uuids:
                continue
            sr_type, config = self.lab.device_config(sr_uuid, site)
            if sr_type == "lvmoiscsi":
                iscsi = config
                args += ["--scsiid", config["SCSIid"]]
            else:
                args += ["--hba-scsiid", config["SCSIid"]]
        if iscsi:
            args = ["--target", iscsi["target"], "--iqn", iscsi["targetIQN"]] + args
        return args

    def snapshot(self, site):
        """Every object of a site by class and UUID, without volatile fields."""
        db = self.lab.db(site)
        result = {}
        for table in sorted(db.tables):
            rows = {}
            for row in db.rows(table).values():
                rows[row.get("uuid", repr(sorted(row)))] = dict(
                    (k, v) for k, v in row.items() if k not in VOLATILE)
            result[table] = rows
        return result


@pytest.fixture
def drill(tmp_path):
    return Drill(make_lab(tmp_path / "lab"), str(tmp_path / "state"))


@pytest.fixture
def process_drill(tmp_path):
    """A drill whose xe calls are processes: for tests of a call's timeout (an in-process call
    cannot be cut short)."""
    return Drill(make_lab(tmp_path / "lab"), str(tmp_path / "state"), processes=True)


@pytest.fixture
def drill_factory(tmp_path):
    counter = [0]

    def make(**options):
        counter[0] += 1
        return Drill(make_lab(tmp_path / ("lab%d" % counter[0]), **options),
                     str(tmp_path / ("state%d" % counter[0])))
    return make
