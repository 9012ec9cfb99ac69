# -*- coding: utf-8 -*-
"""A two-site scenario for the plugin's tests, and a runner that starts the plugin as xapi does.

Site A (pool with an empty name, master ``alpha-a1``) replicates its database to two LUNs:
SR1 (still replicating) and SR2 (its dom0 VBD was unplugged at generation 110, so that copy
stopped while the pool went on). The array mirrors both LUNs to site B; SR1's mirror link
broke at generation 125 while site A kept writing up to 130. Site B (pool ``bravo``) has both
SRs introduced, its own metadata copy, and a copy of a third pool from a newer xapi schema.

Generations:
    A live (in memory) 130 = M1 on A; A's state.db file 118 (flushed earlier)
    M2 (on A and B) 110; M1 as B sees it 125; B's own copy 57, B's state.db 55
    M9 (newer schema, seen by B) 40

Heartbeats (pool other-config ``xe-dr-heartbeat``, written as xapi writes them: in the database
record's XML, and as deltas of the pool's other_config, xe's param-set removing the key then
adding it): A's database at 100 holds HEARTBEATS[0], deltas 104/105 write HEARTBEATS[1] (M2
keeps it), 115 HEARTBEATS[2], the full write at 121 carries it, 122/123 HEARTBEATS[3] (M1 as B
sees it), 127/128 HEARTBEATS[4] (M1 on A). B's own copy has B_HEARTBEAT in its database record
only, among keys made to mislead a reader; M9 has an other_config without a heartbeat.
"""

import json
import os
import subprocess
import xmlrpc.client

from tests.plugin_fakes import redolog_writer as rl
from tests.plugin_fakes.worldbuilder import LOCAL_SESSION, Db, new_uuid, world

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PLUGIN = os.path.join(ROOT, "host-plugins", "xe-dr")
SCHEMA = (5, 786)
HEARTBEATS = ["2026-03-01T10:00:00Z", "2026-03-01T10:05:00Z", "2026-03-01T10:15:00Z",
              "2026-03-01T10:23:00Z", "2026-03-01T10:28:00Z"]
B_HEARTBEAT = "2026-02-28T23:59:59Z"
A_CONFIG = [("metadata_lun_alerts", "true"), ("memory-ratio-hvm", "0.25")]
# Keys made to mislead a reader: a value that looks like the entry, quotes, spaces, markup.
DECOYS = [("note", "('xe-dr-heartbeat' '1999-01-01T00:00:00Z')"),
          ("xe-dr-heartbeat-old", "1999-01-01T00:00:00Z"),
          ("odd", 'it\'s "quoted" <b>&amp;</b> 100% \\ \t done')]


def heartbeat_config(base, heartbeat=None):
    """A pool other_config as xapi's add_to_map leaves it: the key added goes first."""
    return ([("xe-dr-heartbeat", heartbeat)] if heartbeat else []) + list(base)


def heartbeat_deltas(link, generation, heartbeat, base=A_CONFIG):
    """xe's param-set of the key: remove it (one write of the map), then add it (another)."""
    link.write_delta(rl.pool_other_config(heartbeat_config(base)), generation)
    link.write_delta(rl.pool_other_config(heartbeat_config(base, heartbeat)), generation + 1)


def pyenv_python(version):
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    try:
        root = subprocess.check_output(["pyenv", "root"], universal_newlines=True).strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    path = os.path.join(root, "versions", version, "bin", "python")
    return path if os.path.exists(path) else None


# dom0's interpreters across the releases (xe_dr/lab/releases.py): 2.7 (Citrix/XCP-ng 8.2,
# XCP-ng 8.3's own plugins), 3.6 (XenServer 8, XCP-ng 8.3), 3.11 (XenServer 9), 3.12 (XCP-ng 9).
PYTHONS = {"2.7": pyenv_python("2.7.18"), "3.6": pyenv_python("3.6.15"),
           "3.11": pyenv_python("3.11.7"), "3.12": pyenv_python("3.12.1")}


class Site(object):
    def __init__(self, root, name):
        self.name = name
        self.dir = os.path.join(root, name)
        self.dev = os.path.join(self.dir, "dev")
        os.makedirs(self.dev)
        self.db = Db()
        self.foreign = {}
        self.foreign_cache = {}
        self.faults = {}
        self.delays = {}
        self.host_uuid = None
        self.state_db = os.path.join(self.dir, "state.db")
        self.inventory = os.path.join(self.dir, "xensource-inventory")
        self.journal = os.path.join(self.dir, "journal.jsonl")
        self.world_path = os.path.join(self.dir, "world.json")

    def lun(self, sr_uuid, vdi_uuid):
        folder = os.path.join(self.dev, "VG_XenStorage-" + sr_uuid)
        if not os.path.isdir(folder):
            os.makedirs(folder)
        return rl.Lun(os.path.join(folder, "LV-" + vdi_uuid))

    def write_state_db(self, generation, schema=SCHEMA, generation_file=True):
        with open(self.state_db, "wb") as handle:
            handle.write(rl.database_xml(generation, schema=schema))
        if generation_file:
            with open(self.state_db + ".generation", "w") as handle:
                handle.write(str(generation))

    def write_inventory(self, host_uuid):
        self.host_uuid = host_uuid
        with open(self.inventory, "w") as handle:
            handle.write("PRODUCT_BRAND='XCP-ng'\nINSTALLATION_UUID='%s'\n"
                         "CONTROL_DOMAIN_UUID='%s'\n" % (host_uuid, new_uuid()))

    def save(self):
        data = world(self.db, self.foreign, self.foreign_cache, self.faults, self.delays)
        with open(self.world_path, "w") as handle:
            json.dump(data, handle)
        if os.path.exists(self.journal):
            os.remove(self.journal)

    def env(self):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "PYTHONPATH": HERE,
               "PYTHONDONTWRITEBYTECODE": "1",
               "XE_DR_FAKE_WORLD": self.world_path,
               "XE_DR_FAKE_JOURNAL": self.journal,
               "XE_DR_PLUGIN_DEV_ROOT": self.dev,
               "XE_DR_PLUGIN_XAPI_DB": self.state_db,
               "XE_DR_PLUGIN_INVENTORY": self.inventory,
               "XE_DR_PLUGIN_RUN_DIR": self.world_path + ".run"}
        return env  # no LANG/LC_*: xapi starts plugins without a UTF-8 locale

    def events(self, name=None):
        if not os.path.exists(self.journal):
            return []
        with open(self.journal) as handle:
            events = [json.loads(line) for line in handle if line.strip()]
        return [e for e in events if name is None or e["event"] == name]


class Outcome(object):
    def __init__(self, proc):
        self.proc = proc
        self.stdout = proc.stdout.decode("utf-8")
        self.stderr = proc.stderr.decode("utf-8", "replace")
        (self.response,), self.method = xmlrpc.client.loads(self.stdout)

    @property
    def ok(self):
        return self.response["Status"] == "Success"

    @property
    def value(self):
        assert self.ok, (self.response, self.stderr)
        return self.response["Value"]

    def json(self):
        return json.loads(self.value)

    @property
    def error(self):
        assert not self.ok, self.response
        return self.response["ErrorDescription"]


def call(python, site, fn, args=None, session=LOCAL_SESSION, argv=None):
    """Run the plugin as xapi does: argv[1] is an XML-RPC call (session, args)."""
    if argv is None:
        argv = [xmlrpc.client.dumps((session, args or {}), fn)]
    if os.path.exists(site.journal):
        os.remove(site.journal)
    proc = subprocess.run([python, PLUGIN] + argv, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=site.env(), timeout=60)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    return Outcome(proc)


class Scenario(object):
    pass


def build(root):
    s = Scenario()
    s.root = root
    a = s.a = Site(root, "alpha")
    b = s.b = Site(root, "bravo")

    # -- site A: the protected pool -----------------------------------------------------------
    a1 = a.db.host("alpha-a1", hostname="alpha-a1.example.org",
                   software_version={"product_brand": "XCP-ng", "product_version": "8.2.1"})
    a2 = a.db.host("alpha-a2")
    a.pool_ref = a.db.pool(name_label="", master=a1,
                           other_config={"metadata_lun_alerts": "true"})
    s.pool_a = a.db.uuid("pool", a.pool_ref)
    s.a1, s.a2 = a.db.uuid("host", a1), a.db.uuid("host", a2)
    s.sr1 = new_uuid()
    s.sr2 = new_uuid()
    sr1 = a.db.sr("DR LUN 1", "lvmoiscsi", attached_on=[a1, a2], uuid=s.sr1)
    sr2 = a.db.sr("DR LUN 2", "lvmohba", attached_on=[a1, a2], uuid=s.sr2)
    local_sr = a.db.sr("Local storage", "lvm", shared=False, attached_on=[a1])
    s.local_sr = a.db.uuid("SR", local_sr)
    iso = a.db.sr("ISO library", "iso", content_type="iso", attached_on=[a1, a2])
    m1 = a.db.vdi(sr1, "Metadata for DR", type="metadata", virtual_size=3988783104,
                  metadata_of_pool=a.pool_ref, metadata_latest=True)
    m2 = a.db.vdi(sr2, "Metadata for DR", type="metadata", virtual_size=3988783104,
                  metadata_of_pool=a.pool_ref, metadata_latest=False)
    s.m1, s.m2 = a.db.uuid("VDI", m1), a.db.uuid("VDI", m2)
    a.db.vbd(a.db.dom0(a1), m1, device="xvdb", currently_attached=True, userdevice="1")
    a.db.vbd(a.db.dom0(a1), m2, device="xvdc", currently_attached=False, userdevice="2")
    eth0 = a.db.network("Pool-wide network associated with eth0", "xenbr0")
    storage = a.db.network("Storage network", "xenbr1")
    backup = a.db.network("Backup", "xapi7")

    web1 = a.db.vm("web-1", power_state="Running", order=0, start_delay=10, version=1,
                   ha_restart_priority="restart", memory=4 * 2 ** 30, vcpus=4,
                   tags=["dr-tier1", "web"])
    a.db.disk(web1, sr1)
    a.db.vif(web1, eth0, "0", "aa:00:00:00:00:01")
    web2 = a.db.vm("web-2", power_state="Running", order=1, shutdown_delay=5)
    a.db.disk(web2, sr1)
    a.db.vif(web2, storage, "1", "aa:00:00:00:00:03")
    a.db.vif(web2, eth0, "0", "aa:00:00:00:00:02")
    app = a.db.appliance("Web tier", [web1, web2], name_description="front ends")
    db1 = a.db.vm(u"Produção DB", power_state="Halted", version=2, memory=8 * 2 ** 30,
                  vcpus=8)
    a.db.disk(db1, sr1, device="xvda")
    a.db.disk(db1, sr2, device="xvdb", userdevice="1")
    a.db.cd(db1, iso)
    a.db.cd(db1, None, device="xvde")
    a.db.vif(db1, backup, "0", "aa:00:00:00:00:04")
    a.db.vif(db1, eth0, "1", "aa:00:00:00:00:05")
    local_vm = a.db.vm("local-only")
    a.db.disk(local_vm, local_sr)
    apps = [a.db.vm("app-%d" % n) for n in range(1, 7)]
    for vm in apps:
        a.db.disk(vm, sr1)
    template = a.db.vm("Debian template", is_a_template=True)
    a.db.disk(template, sr1)
    snapshot = a.db.vm("web-1 before upgrade", is_a_template=True, is_a_snapshot=True)
    a.db.disk(snapshot, sr1)
    s.web1, s.web2, s.db1 = (a.db.uuid("VM", v) for v in (web1, web2, db1))
    s.local_vm = a.db.uuid("VM", local_vm)
    s.apps = [a.db.uuid("VM", v) for v in apps]
    s.template, s.snapshot = a.db.uuid("VM", template), a.db.uuid("VM", snapshot)
    s.dom0s = [a.db.uuid("VM", a.db.dom0(h)) for h in (a1, a2)]
    s.app = a.db.uuid("VM_appliance", app)
    a.db.message("METADATA_LUN_HEALTHY", "Redo log [DR redo log for VDI %s]" % s.m1, s.pool_a,
                 "20240301T10:00:00Z", priority=4)
    a.db.message("METADATA_LUN_BROKEN", "Redo log [DR redo log for VDI %s]" % s.m2, s.pool_a,
                 "20240302T11:30:00Z", priority=3)
    a.db.message("VM_STARTED", "irrelevant", s.web1, "20240302T11:31:00Z")
    s.foreign_db = a.db  # what site B reads from the copies (taken before B is built)

    # -- the copies on disk: A writes, the array mirrors to B ----------------------------------
    m1_a, m1_b = a.lun(s.sr1, s.m1), b.lun(s.sr1, s.m1)
    m2_a, m2_b = a.lun(s.sr2, s.m2), b.lun(s.sr2, s.m2)
    link1, link2 = rl.Mirror(m1_a, m1_b), rl.Mirror(m2_a, m2_b)

    def deltas(link, first, last, heartbeats=None):
        """Deltas first..last; at each generation g in heartbeats, the heartbeat is set
        (two deltas, g - 1 and g)."""
        for gen in range(first, last + 1):
            if heartbeats and gen + 1 in heartbeats:
                heartbeat_deltas(link, gen, heartbeats[gen + 1])
            elif not (heartbeats and gen in heartbeats):
                link.write_delta(b"<delta %d/>" % gen, gen)

    for link in (link1, link2):
        link.write_db(rl.database_xml(100, s.pool_a, other_config=heartbeat_config(
            A_CONFIG, HEARTBEATS[0])), 100)
        deltas(link, 101, 110, {105: HEARTBEATS[1]})
    # SR2's redo log lost its VBD at 110: nothing more is written to M2.
    deltas(link1, 111, 120, {115: HEARTBEATS[2]})
    link1.write_db(rl.database_xml(121, s.pool_a, other_config=heartbeat_config(
        A_CONFIG, HEARTBEATS[2])), 121)                  # a full write: the other half
    deltas(link1, 122, 125, {123: HEARTBEATS[3]})
    link1.freeze()                                        # SR1's mirror link breaks at 125
    deltas(link1, 126, 130, {128: HEARTBEATS[4]})
    a.write_state_db(118)
    a.write_inventory(s.a1)

    # -- site B: the recovery pool -----------------------------------------------------------
    b1 = b.db.host("bravo-b1")
    b.pool_ref = b.db.pool(name_label="bravo", master=b1)
    s.pool_b, s.b1 = b.db.uuid("pool", b.pool_ref), b.db.uuid("host", b1)
    bsr1 = b.db.sr("DR LUN 1", "lvmoiscsi", attached_on=[b1], uuid=s.sr1)
    bsr2 = b.db.sr("DR LUN 2", "lvmohba", attached_on=[b1], uuid=s.sr2)
    own = b.db.sr("B LUN", "lvmoiscsi", attached_on=[b1])
    s.sr9 = new_uuid()
    sr9 = b.db.sr("Other pool LUN", "lvmoiscsi", attached_on=[b1], uuid=s.sr9)
    foreign_pool_ref = "OpaqueRef:%s" % new_uuid()   # A's pool: not in B's database
    b.db.vdi(bsr1, "Metadata for DR", type="metadata", uuid=s.m1, metadata_latest=True,
             metadata_of_pool=a.pool_ref)
    b.db.vdi(bsr2, "Metadata for DR", type="metadata", uuid=s.m2, metadata_latest=False,
             metadata_of_pool=a.pool_ref)
    mb = b.db.vdi(own, "Metadata for DR", type="metadata", metadata_latest=True,
                  metadata_of_pool=b.pool_ref)
    s.mb = b.db.uuid("VDI", mb)
    b.db.vbd(b.db.dom0(b1), mb, device="xvdb", currently_attached=True, userdevice="1")
    s.m9 = new_uuid()
    b.db.vdi(sr9, "Metadata for DR", type="metadata", uuid=s.m9, metadata_of_pool=foreign_pool_ref)
    b.db.network("Pool-wide network associated with eth0", "xenbr0")
    b.db.network("DR storage", "xenbr1")          # same bridge, other name
    user = b.db.vdi(own, "not metadata")
    s.user_vdi = b.db.uuid("VDI", user)
    # a VM already here with app-2's uuid, running (a test failover left it)
    s.running_dup = s.apps[1]
    b.db.vm("app-2", power_state="Running", version=5, uuid=s.running_dup)
    own_lun = b.lun(b.db.uuid("SR", own), s.mb)
    own_lun.write_db(rl.database_xml(50, s.pool_b, other_config=DECOYS[:1] + heartbeat_config(
        DECOYS[1:], B_HEARTBEAT)), 50)
    for gen in range(51, 58):
        own_lun.write_delta(b"<d/>", gen)
    newer = b.lun(s.sr9, s.m9)
    s.pool_9 = new_uuid()
    newer.write_db(rl.database_xml(40, s.pool_9, schema=(5, 999), other_config=DECOYS), 40)
    b.write_state_db(55)
    b.write_inventory(s.b1)
    b.foreign = {s.m1: a.db, s.m2: a.db,
                 s.m9: ["COULD_NOT_IMPORT_DATABASE", "Database does not match local schema."]}
    b.foreign_cache = {s.m1: s.pool_a, s.m2: s.pool_a}
    a.save()
    b.save()
    return s

