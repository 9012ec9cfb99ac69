"""Fixtures for the simulated lab (xe_dr/lab).

``lab``: a fresh small lab (the defaults of ``create``) at cost factor 0, as a ``LabHandle``:

    lab.xe_path("A")            the path of site A's fake xe (a real executable)
    lab.xe("B", "vm-list", ...) run it in-process (same bytes, exit code and call log)
    lab.run("B", ...)           run the executable as a subprocess
                                (both take env={...}: variables added to the environment,
                                e.g. {"XE_EXTRA_ARGS": "..."})
    lab.call_log()              the call log entries (dicts)
    lab.db("A")                 a snapshot of site A's database (xe_dr.lab.model.Db)
    lab.mirror("break"), lab.disaster("A"), lab.restore("A"), lab.fault(...), lab.poke(...)
    lab.mask("lun1", "B", hosts=["xcp-b2"])   hide a LUN copy from hosts (LUN masking)
    lab.storage_args("A3")      xe-dr's --target/--iqn/--scsiid reaching A3's replicas at
                                its DR pool (an estate: ``make_lab(root, estate="6:2")``)
    lab.enable_replication(), lab.failover_task() ... steps of the DR procedure

``lab_factory(**options)`` makes labs with other sizes (``vms=``, ``vapps=``, ``seed=``...).
"""

import json
import os
import subprocess
import sys

import pytest

from xe_dr.lab import array, calllog, faults, world, xecli
from xe_dr.lab.store import Lab


class XeResult(object):
    def __init__(self, out, err, code):
        self.out = out
        self.err = err
        self.code = code

    @property
    def value(self):
        assert self.code == 0, self.err
        return self.out.rstrip("\n")

    @property
    def values(self):
        """--minimal output split on unescaped commas (the lab's UUIDs hold none)."""
        v = self.value
        return v.split(",") if v else []

    def __repr__(self):
        return "XeResult(code=%r, out=%r, err=%r)" % (self.code, self.out[:200], self.err[:300])


class LabHandle(object):
    def __init__(self, root):
        self.root = root
        self.lab = Lab(root)

    # -- running xe ------------------------------------------------------------------------

    def xe_path(self, site):
        return self.lab.xe_path(site)

    def xe(self, site, *args, env=None):
        environ = dict(os.environ, **env) if env else None
        out, err, code, _ = xecli.execute(self.root, site, list(args), environ=environ)
        return XeResult(out, err, code)

    def ok(self, site, *args, env=None):
        r = self.xe(site, *args, env=env)
        assert r.code == 0, (args, r.err)
        return r

    def run(self, site, *args, env=None, **kw):
        if env:
            kw["env"] = dict(os.environ, **env)
        proc = subprocess.Popen([self.xe_path(site)] + list(args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, **kw)
        out, err = proc.communicate()
        return XeResult(out.decode("utf-8"), err.decode("utf-8"), proc.returncode)

    def call_log(self):
        return calllog.read(self.lab)

    def db(self, site):
        return self.lab.site(site).read()

    # -- driving the world -----------------------------------------------------------------

    def cli(self, *args):
        from xe_dr.lab import cli
        import io
        out = io.StringIO()
        code = cli.main([args[0], self.root] + list(args[1:]), out=out)
        assert code == 0, out.getvalue()
        return out.getvalue()

    def mirror(self, action, luns=None):
        return array.mirror_action(self.lab, action, luns)

    def mask(self, lun, site="B", hosts=None, clear=False):
        """Hide a LUN's copy at ``site`` from ``hosts`` (names or uuids; default all), or
        present it to all again (``clear``)."""
        args = ["mask", lun, "--site", site] + (["--clear"] if clear else [])
        for host in hosts or ():
            args += ["--host", host]
        return self.cli(*args)

    def disaster(self, site="A"):
        self.cli("disaster", "--site", site)

    def restore(self, site="A"):
        self.cli("restore", "--site", site)

    def fault(self, **kw):
        return faults.add(self.lab, **kw)

    def set_cost_factor(self, factor):
        self.lab.update_config(lambda c: c.__setitem__("cost_factor", factor))

    def poke(self, site, table, uuid, **fields):
        with self.lab.site(site).transaction() as db:
            db.update(table, db.by_uuid(table, uuid), **fields)

    def array(self):
        return array.load(self.lab)

    # -- names and steps of the DR procedure ----------------------------------------------

    def uuid(self, site, cls, **filters):
        args = [cls + "-list", "--minimal"] + ["%s=%s" % kv for kv in filters.items()]
        values = self.ok(site, *args).values
        assert len(values) == 1, (cls, filters, values)
        return values[0]

    def replicated_srs(self, site="A"):
        """(UUID, type) of the site's SRs on mirrored LUNs, in LUN order."""
        data = self.array()
        db = self.db(site)
        from xe_dr.lab import replication
        out = []
        for sr_ref, sr in db.rows("SR").items():
            lun = replication.sr_lun(data, site, db, sr_ref)
            if lun and data["luns"][lun].get("mirror"):
                out.append((lun, sr["uuid"], sr["type"]))
        return [(u, t) for _, u, t in sorted(out)]

    def device_config(self, sr_uuid, site="B"):
        """The device-config that reaches an SR's LUN copy from ``site`` (as an admin knows;
        with the portal's CHAP user and password when it wants CHAP)."""
        data = self.array()
        for lun_id, lun in data["luns"].items():
            vg = array.read_vg(self.lab, lun_id, site)
            if vg and vg.get("sr_uuid") == sr_uuid and site in lun["copies"]:
                copy = lun["copies"][site]
                if lun["transport"] == "iscsi":
                    portal = data["portals"][site]
                    dc = {"target": portal["address"], "targetIQN": portal["iqn"],
                          "SCSIid": copy["scsiid"]}
                    if portal.get("chap"):
                        dc.update(chapuser=portal["chap"]["user"],
                                  chappassword=portal["chap"]["password"])
                    return "lvmoiscsi", dc
                return "lvmohba", {"SCSIid": copy["scsiid"]}
        raise AssertionError("no LUN copy at %s carries SR %s" % (site, sr_uuid))

    def storage_args(self, source="A", site=None):
        """xe-dr's storage options reaching the copies of ``source``'s mirrored LUNs at
        ``site`` (default: the pool they are mirrored to): ``--target ADDRESS --iqn IQN
        --scsiid ID...`` and ``--hba-scsiid ID...`` (``python -m xe_dr.lab storage``)."""
        return array.storage_options(self.array(), source, site or self.lab.peer(source))

    def enable_replication(self, site="A"):
        for sr_uuid, _ in self.replicated_srs(site):
            self.ok(site, "sr-enable-database-replication", "uuid=" + sr_uuid)

    def drtask(self, site, sr_uuids, whitelist=None):
        """drtask-create for the SRs (all of one type) -> XeResult."""
        sr_type, dc = self.device_config(sr_uuids[0], site)
        args = ["drtask-create", "type=" + sr_type]
        args += ["device-config:%s=%s" % kv for kv in sorted(dc.items())]
        args.append("sr-whitelist=" + ",".join(sr_uuids if whitelist is None else whitelist))
        return self.xe(site, *args)

    def failover_task(self, site="B"):
        """Break the mirror and introduce every replicated SR at ``site`` (then make their VDIs
        known, as the release needs: ``make_visible``); returns task UUIDs."""
        self.mirror("break")
        tasks = []
        for sr_uuid, _ in self.replicated_srs():
            r = self.drtask(site, [sr_uuid])
            assert r.code == 0, r.err
            tasks.append(r.value)
        self.make_visible(site, [sr for sr, _ in self.replicated_srs()])
        return tasks

    def make_visible(self, site, sr_uuids):
        """What an administrator does after drtask-create where PBD.plug no longer scans
        (xapi >= 23.22.0): sr-scan each SR (its VDI records), then plug its PBDs again, master
        first (members off, master off, master on, members on), so that xapi's
        handle_metadata_vdis reads the metadata copies and marks the newest. Nothing on a
        release that scans on plug."""
        from xe_dr.lab import releases
        if releases.of_lab(self.lab)["scan_on_plug"]:
            return
        master = self.ok(site, "pool-list", "params=master", "--minimal").value
        for sr in sr_uuids:
            self.ok(site, "sr-scan", "uuid=" + sr)
            pbds = []
            for uuid in self.ok(site, "pbd-list", "sr-uuid=" + sr, "params=uuid",
                                "--minimal").values:
                host = self.ok(site, "pbd-param-get", "uuid=" + uuid,
                               "param-name=host-uuid").value
                pbds.append((host == master, uuid))
            for _, uuid in sorted(pbds):
                self.ok(site, "pbd-unplug", "uuid=" + uuid)
            for _, uuid in sorted(pbds, reverse=True):
                self.ok(site, "pbd-plug", "uuid=" + uuid)

    def metadata_vdi(self, site="B"):
        values = self.ok(site, "vdi-list", "type=Metadata", "metadata-latest=true",
                         "params=uuid", "--minimal").values
        assert values, "no metadata-latest VDI at %s" % site
        return values[0]

    def vm_uuid(self, name, site="A"):
        return self.uuid(site, "vm", **{"name-label": name})


def make_lab(root, **options):
    world.create(str(root), **options)
    return LabHandle(str(root))


@pytest.fixture
def lab(tmp_path):
    return make_lab(tmp_path / "lab")


@pytest.fixture
def lab_factory(tmp_path):
    counter = [0]

    def make(**options):
        counter[0] += 1
        return make_lab(tmp_path / ("lab%d" % counter[0]), **options)
    return make


def pyenv_python(version):
    """pyenv's Python ``version`` if installed, else None."""
    try:
        root = subprocess.check_output(["pyenv", "root"], universal_newlines=True).strip()
    except (OSError, subprocess.CalledProcessError):
        root = os.path.expanduser("~/.pyenv")
    path = os.path.join(root, "versions", version, "bin", "python")
    return path if os.path.exists(path) else None


def python36():
    """pyenv's Python 3.6.15 if installed (the plugin interpreter), else None."""
    return pyenv_python("3.6.15")


def dumps(obj):
    return json.dumps(obj, sort_keys=True)


def current_python():
    return sys.executable
