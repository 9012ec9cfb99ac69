"""Shared helpers of the benchmarks in bench/ (standard library only, Python 3.6+).

The benchmark scripts (``bench/rto``, ``bench/scale``, ``bench/parse``, ``bench/estate``) put
this folder on sys.path by being run from it; this module puts the repository there too.
"""

import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from xe_dr.lab import array, calllog, world, xecli  # noqa: E402
from xe_dr.lab.store import Lab  # noqa: E402

LUN_SR_TYPES = ("lvmoiscsi", "lvmohba")


# -- the machine ---------------------------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except (IOError, OSError):
        pass
    return platform.processor() or "unknown"


def revision():
    """The checkout measured: HEAD, and whether the product's files differ from it."""
    try:
        head = subprocess.check_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                       stderr=subprocess.DEVNULL).decode().strip()
        dirty = subprocess.check_output(["git", "-C", ROOT, "status", "--porcelain", "--",
                                         "xe_dr", "host-plugins"],
                                        stderr=subprocess.DEVNULL).decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" + uncommitted changes in xe_dr/ or host-plugins/" if dirty else "")


def machine():
    """What the figures depend on, as printed at the top of every benchmark."""
    try:
        load = "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = "unknown"
    return [("date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")),
            ("nproc", str(os.cpu_count())),
            ("cpu", cpu_model()),
            ("python", "%s (%s)" % (platform.python_version(), sys.executable)),
            ("os", "%s %s" % (platform.system(), platform.release())),
            ("load average at start", load),
            ("revision", revision())]


def print_machine(out=sys.stdout):
    for key, value in machine():
        out.write("%-22s %s\n" % (key + ":", value))
    out.flush()


def table(headers, rows, out=sys.stdout):
    """A plain text table, columns right-aligned but the first."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths)))
    out.write(line(cells[0]) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells[1:]:
        out.write(line(row) + "\n")
    out.flush()


# -- labs ----------------------------------------------------------------------------------------

class LabXe(object):
    """The fake xe of one lab, run in-process (same bytes, exit codes and call log as the
    executable; used to prepare worlds, never for what is timed)."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.lab = Lab(self.root)

    def run(self, site, *args):
        out, err, code, _ = xecli.execute(self.root, site, list(args))
        return out, err, code

    def ok(self, site, *args):
        out, err, code = self.run(site, *args)
        if code != 0:
            raise RuntimeError("lab xe-%s %s: exit %d: %s" % (site, " ".join(args), code,
                                                              err.strip()))
        return out

    def values(self, site, *args):
        text = self.ok(site, *(list(args) + ["--minimal"])).strip()
        return text.split(",") if text else []

    def set_cost_factor(self, factor):
        self.lab.update_config(lambda c: c.__setitem__("cost_factor", factor))

    def calls(self):
        return calllog.read(self.lab)

    def call_count(self):
        return len(self.calls())

    def replicated_srs(self, site="A"):
        """[(lun id, sr uuid, sr type)] of the site's SRs on mirrored LUNs, in LUN order."""
        from xe_dr.lab import replication
        data = array.load(self.lab)
        db = self.lab.site(site).read()
        out = []
        for sr_ref, sr in db.rows("SR").items():
            lun = replication.sr_lun(data, site, db, sr_ref)
            if lun and data["luns"][lun].get("mirror"):
                out.append((lun, sr["uuid"], sr["type"]))
        return sorted(out)

    def device_config(self, lun_id, site):
        data = array.load(self.lab)
        lun = data["luns"][lun_id]
        copy = lun["copies"][site]
        if lun["transport"] == "iscsi":
            portal = data["portals"][site]
            return "lvmoiscsi", {"target": portal["address"], "targetIQN": portal["iqn"],
                                 "SCSIid": copy["scsiid"]}
        return "lvmohba", {"SCSIid": copy["scsiid"]}

    def enable_replication(self, site="A"):
        for _, sr_uuid, _ in self.replicated_srs(site):
            self.ok(site, "sr-enable-database-replication", "uuid=" + sr_uuid)

    def attach_replicas(self, site="B"):
        """What an administrator does first at the DR site: halt the mirror, then one
        drtask-create per LUN (SR probe, introduce, plug). Returns the DR task UUIDs."""
        array.mirror_action(self.lab, "break")
        tasks = []
        for lun_id, sr_uuid, _ in self.replicated_srs("A"):
            sr_type, config = self.device_config(lun_id, site)
            args = ["drtask-create", "type=" + sr_type]
            args += ["device-config:%s=%s" % kv for kv in sorted(config.items())]
            args.append("sr-whitelist=" + sr_uuid)
            tasks.append(self.ok(site, *args).strip())
            self.make_visible(site, sr_uuid)
        return tasks

    def make_visible(self, site, sr_uuid):
        """From xapi 23.22 plug does not scan (the lab's default release): the administrator
        scans the SR and plugs it again (master first) so that xapi reads its metadata."""
        from xe_dr.lab import releases
        if releases.of_lab(self.lab)["scan_on_plug"]:
            return
        master = self.ok(site, "pool-list", "params=master", "--minimal").strip()
        self.ok(site, "sr-scan", "uuid=" + sr_uuid)
        pbds = self.ok(site, "pbd-list", "sr-uuid=" + sr_uuid, "--minimal").strip().split(",")
        first = self.ok(site, "pbd-list", "sr-uuid=" + sr_uuid, "host-uuid=" + master,
                        "--minimal").strip()
        members = [p for p in pbds if p and p != first]
        for pbd in members + [first]:
            self.ok(site, "pbd-unplug", "uuid=" + pbd)
        for pbd in [first] + members:
            self.ok(site, "pbd-plug", "uuid=" + pbd)

    def disaster(self, site="A"):
        from xe_dr.lab import cli
        import io
        out = io.StringIO()
        code = cli.main(["disaster", self.root, "--site", site], out=out)
        if code != 0:
            raise RuntimeError("lab disaster: %s" % out.getvalue())


def copy_lab(source, target):
    """A fresh copy of a prepared lab: cp keeps the LV files sparse (a metadata VDI is a
    3.7 GiB file holding a few KiB); the fake xe scripts name their lab folder, so they are
    written again for the copy."""
    subprocess.check_call(["cp", "-a", "--sparse=always", source, target])
    lab = Lab(target)
    for site in lab.site_names():
        world.write_xe(lab, site)
    return LabXe(target)


def remove(path):
    shutil.rmtree(path, ignore_errors=True)


# -- xe-dr as a user runs it ---------------------------------------------------------------------

def xe_dr_argv(*args):
    return [sys.executable, "-m", "xe_dr"] + list(args)


def run_xe_dr(args, timeout=3600):
    """Run the xe-dr CLI as a process; returns (exit code, stdout, stderr, wall seconds)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                else "")
    for name in list(env):
        if name.startswith("XE_DR_") and name not in ("XE_DR_LAB_DIR",):
            env.pop(name)
    started = time.time()
    proc = subprocess.Popen(xe_dr_argv(*args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
    out, err = proc.communicate(timeout=timeout)
    return (proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
            time.time() - started)


def dumps(value):
    return json.dumps(value, indent=2, sort_keys=True)


# -- the shape of a site, exactly ----------------------------------------------------------------

def make_dr_world(root, seed=42, vapps=20, vapp_size=5, vapp_orders=(0, 0, 1, 1, 2),
                  vapp_delays=(3, 2, 1), standalone=100, standalone_groups=5,
                  standalone_delays=(0, 1, 2, 3, 4), replicated_srs=3, hosts_a=4, hosts_b=4,
                  memory_gib=1):
    """A lab whose site A runs exactly: ``vapps`` vApps of ``vapp_size`` VMs (member j in
    order group ``vapp_orders[j]``, start delay ``vapp_delays[order]``) and ``standalone``
    VMs in ``standalone_groups`` order groups of equal size (VM i of a group has start delay
    ``standalone_delays[i % len]``). Every VM runs, has one disk on a replicated SR (the SRs
    taken in turn), an empty CD drive and one VIF on ``VM Network``.

    ``world.create`` mixes storage kinds, makes vApps of 3 and draws orders at random, so the
    lab is created empty and the VMs are added through its Python API (the same row builders
    ``create`` uses), in one transaction of site A (the commit writes the VGs on the LUNs,
    which the mirror copies to site B).

    Returns (LabXe, plan) where plan = {"appliances": [{uuid, name, members: [{uuid, order,
    start_delay}]}], "vms": [{uuid, name, order, start_delay}]}."""
    world.create(root, seed=seed, vms=0, vapps=0, replicated_srs=replicated_srs,
                 hosts_a=hosts_a, hosts_b=hosts_b)
    lab = LabXe(root)
    site = lab.lab.site("A")
    plan = {"appliances": [], "vms": []}
    with site.transaction() as db:
        builder = world.SiteBuilder(world.Gen(seed + 7919), "A", "A", "Site A")
        builder.db = db
        builder.hosts = db.hosts()
        network = [ref for ref, row in db.rows("network").items()
                   if row["name_label"] == "VM Network"][0]
        srs = sorted((row["name_label"], ref) for ref, row in db.rows("SR").items()
                     if row["type"] in LUN_SR_TYPES and row["name_label"].split()[1] == "DR")
        srs = [ref for _, ref in srs]
        count = [0]

        def vm(label, **extra):
            host = builder.hosts[count[0] % len(builder.hosts)]
            ref = builder.add_vm(label, memory_gib * world.GiB, 1, "Running", host,
                                 world.TEMPLATES[0], ha_restart_priority="", **extra)
            disk = builder.add_vdi(srs[count[0] % len(srs)], label + " disk 0", 10 * world.GiB)
            builder.add_vbd(ref, disk, 0, bootable=True)
            builder.add_vbd(ref, world.NULL, 3, vbd_type="CD", empty=True)
            builder.add_vif(ref, network, 0)
            count[0] += 1
            return db.get("VM", ref)["uuid"]

        for k in range(vapps):
            name = "vapp-%02d" % (k + 1)
            app = builder.create("VM_appliance", {"name_label": name,
                                                  "name_description": "bench vApp"})
            entry = {"uuid": db.get("VM_appliance", app)["uuid"], "name": name, "members": []}
            for j in range(vapp_size):
                order = vapp_orders[j % len(vapp_orders)]
                delay = vapp_delays[min(order, len(vapp_delays) - 1)]
                uuid = vm("%s-vm%d" % (name, j + 1), appliance=app, order=order,
                          start_delay=delay, shutdown_delay=0)
                entry["members"].append({"uuid": uuid, "order": order, "start_delay": delay})
            plan["appliances"].append(entry)
        per_group = max(1, -(-standalone // standalone_groups))
        for i in range(standalone):
            order = i // per_group
            delay = standalone_delays[(i % per_group) % len(standalone_delays)]
            name = "vm-%03d" % (i + 1)
            uuid = vm(name, order=order, start_delay=delay)
            plan["vms"].append({"uuid": uuid, "name": name, "order": order,
                                "start_delay": delay})
        builder.free_memory()
    return lab, plan


def print_command(argv, out=sys.stdout):
    """The exact command line of this benchmark (interpreter included)."""
    args = list(sys.argv if argv is None else [sys.argv[0]] + list(argv))
    script = os.path.relpath(os.path.abspath(args[0]), ROOT)
    out.write("%-22s %s\n" % ("command:", " ".join([sys.executable, script] + args[1:])))
    out.flush()
