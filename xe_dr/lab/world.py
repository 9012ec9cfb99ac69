"""``create``: a two-site world in the state of a real deployment before any disaster.

Site A runs its VMs on a pool of hosts with replicated LVM SRs (iSCSI and FC LUNs mirrored to
site B by the array), plus storage that is *not* replicated (an unmirrored iSCSI LUN, NFS, each
host's local storage). Database replication is not enabled yet (the DR procedure enables it).
Site B is a pool of its own: its hosts, local storage, NFS, a few VMs, and the same networks as
A except one (``DMZ``), so that recovery meets a missing network.

An estate (``estate="6:2"``) has several pools on each side: source pools A1.. (each a small
site A) whose replicated LUNs are mirrored to DR pools B1.. (each a site B) in turn, on one
array per side that presents each LUN copy to one pool (LUN masking).

Everything is derived from ``seed``: the same arguments give the same UUIDs, names and layout.
"""

import os
import sys

from . import array, copies, guests, plugins, releases, replication, util
from .model import Db
from .store import CONFIG, Lab

GiB = 1024 ** 3
MiB = 1024 ** 2
NULL = util.NULL_REF

DEFAULTS = {"seed": 1, "vms": 12, "vapps": 2, "order_groups": 3, "replicated_srs": 3,
            "hosts_a": 2, "hosts_b": 2, "vms_b": 2, "cost_factor": 0.0,
            "release": releases.DEFAULT}
# ``create --estate SOURCES:DRS``: each source pool is a small site A (these per pool; the
# other DEFAULTS too: --hosts-a, --hosts-b, --vms-b apply to each pool).
ESTATE_DEFAULTS = {"vms": 4, "vapps": 1, "replicated_srs": 2}
MAX_ESTATE_POOLS = 99
CHAP_OPTIONS = ("chap_user", "chap_password", "chap_sites")
# Every guest's behaviour unless set per VM (guests.py): --guest-tools, --guest-health-check,
# --guest-boot-seconds of ``create``.
GUEST_OPTIONS = {"guest_tools": "tools", "guest_health_check": "health_check",
                 "guest_boot_seconds": "boot_seconds"}

SOFTWARE_VERSION = releases.profile(None)["software_version"]
VMS_STARTED = 1727350200  # when the running VMs of ``create`` started (their start-time)

NETWORKS = [
    ("Pool-wide network associated with eth0", "xenbr0", ""),
    ("Storage", "xenbr1", ""),
    ("VM Network", "xenbr2", ""),
    ("DMZ", "xapi1", "Isolated network for public-facing VMs"),
]
MISSING_AT_B = "DMZ"
# The guests' own addresses (the lab's choice): each network is a /16 at each site, a NIC on it
# gets host number 10 + the VM's index there and the subnet's .0.1 as gateway; a guest's
# resolver is its site's DNS server (the management PIFs' DNS). Kept in the guest settings
# (guests.py), so a recovered guest still has production's until it is re-addressed.
SUBNETS = {("A", "VM Network"): "10.20", ("A", "DMZ"): "10.30", ("A", "Storage"): "10.40",
           ("B", "VM Network"): "10.120", ("B", "Storage"): "10.140"}

ROLES = ["web", "app", "db", "mail", "dns", "proxy", "file", "build", "ldap", "mon", "cache",
         "queue"]
TEMPLATES = ["Debian Bookworm 12", "Rocky Linux 9", "Windows Server 2022 (64-bit)",
             "Other install media"]

SIDE_OCTETS = {"A": 1, "B": 2}  # each physical site's networks: 10.0.1.0/24 (array, filer)...
PORTALS = {
    "A": {"address": "10.0.1.50", "hostname": "array-a.lab", "port": 3260,
          "iqn": "iqn.2001-05.com.labarray:site-a"},
    "B": {"address": "10.0.2.50", "hostname": "array-b.lab", "port": 3260,
          "iqn": "iqn.2001-05.com.labarray:site-b"},
}


class Gen(object):
    """Seeded identifiers."""

    def __init__(self, seed):
        self.rng = util.seeded(seed)

    def uuid(self):
        return util.new_uuid(self.rng)

    def ref(self):
        return util.new_ref(self.rng)

    def hexs(self, n):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def mac(self):
        return ":".join(["96"] + ["%02x" % self.rng.randrange(256) for _ in range(5)])

    def choice(self, seq):
        return self.rng.choice(seq)

    def randint(self, a, b):
        return self.rng.randint(a, b)

    def random(self):
        return self.rng.random()


class SiteBuilder(object):
    """One pool of the lab. ``name``: the lab's site (``A``, or an estate's ``A3``); ``side``:
    the physical site it stands at, ``A`` (production) or ``B`` (recovery), whose array portal,
    NFS filer and guest subnets it uses; ``number``: its number among an estate's pools of that
    side (0: the two-site lab's pool), which names its hosts, VMs, vApps and LUNs apart from
    the other pools' (``xcp-a3-1``, ``a3-web-01``, ``a3-lun1``) and gives it a management
    network of its own (``10.1.3.0/24``; the two-site lab's pools: ``10.0.1.0/24``,
    ``10.0.2.0/24``)."""

    def __init__(self, gen, name, side, pool_label, release=None, multipath=False, number=0):
        self.release = releases.profile(release)
        self.multipath = multipath
        self.g = gen
        self.name = name
        self.side = side
        self.number = number
        side_octet = SIDE_OCTETS[side]
        if number:
            self.net = "10.%d.%d" % (side_octet, number)
            self.host_prefix = "xcp-%s%d-" % (side.lower(), number)
            self.prefix = "%s%d-" % (side.lower(), number)
        else:
            self.net = "10.0.%d" % side_octet
            self.host_prefix = "xcp-" + side.lower()
            self.prefix = ""
        self.filer = "10.0.%d.60" % side_octet  # the site's NFS server
        self.nfs_suffix = "/" + name.lower() if number else ""  # its export on the filer
        self.sr_prefix = name + " " if number else ""  # of its replicated SRs: A3 iSCSI DR 1
        self.replica_lunids = 0  # the last LUN number given to a replica presented to it
        self.db = Db(label=name)
        self.db.extra.update({"schema_minor": replication.DEFAULT_SCHEMA_MINOR,
                              "redo_logs": [], "foreign_cache": {}, "domid": 0,
                              "bridge_counter": 1})
        self.pool_label = pool_label
        self.hosts = []
        self.networks = {}
        self.guests = {}  # VM uuid -> the guest's own network settings (add_vif)
        self.srs = {}
        self.dom0 = {}

    def next_lunid(self):
        """The next free LUN number of the replicas presented to this (DR) pool (its own LUNs
        are 30 and 31)."""
        self.replica_lunids += 1
        if self.replica_lunids in (30, 31):
            self.replica_lunids = 32
        return self.replica_lunids

    def lun_id(self, what):
        """The id on the array of the pool's LUN ``what``: n (its nth replicated LUN: lun1,
        a3-lun1), or a name (scratch, local, spare: lun-a-scratch, a3-scratch)."""
        if isinstance(what, int):
            return "%slun%d" % (self.prefix, what)
        return self.prefix + what if self.number else "lun-%s-%s" % (self.side.lower(), what)

    def create(self, cls, row):
        row.setdefault("uuid", self.g.uuid())
        return self.db.create(cls, row, ref=self.g.ref())

    def build_pool(self, n_hosts):
        pool = self.create("pool", {
            "name_label": self.pool_label, "name_description": "", "master": NULL,
            "default_SR": NULL, "crash_dump_SR": NULL, "suspend_image_SR": NULL,
            "other_config": {"memory-ratio-hvm": "0.25", "memory-ratio-pv": "0.25"},
            "ha_enabled": False, "ha_configuration": {}, "ha_statefiles": [],
            "restrictions": {"restrict_dr": "false", "restrict_vswitch_controller": "false",
                             "restrict_pooling": "false", "restrict_read_caching": "false",
                             "restrict_pool_size": "false", "restrict_rpu": "false",
                             # VIF.configure_ipv4/6 static (features.ml Guest_ip_setting):
                             # a pool without the key is restricted.
                             "restrict_guest_ip_setting": "false"},
            "tags": [], "redo_log_enabled": False, "redo_log_vdi": NULL,
            "cpu_info": {"cpu_count": str(8 * n_hosts), "socket_count": str(n_hosts),
                         "vendor": "GenuineIntel"},
            "gui_config": {}, "health_check_config": {}, "guest_agent_config": {},
            "license_server": {}})
        for i in range(n_hosts):
            hostname = "%s%d" % (self.host_prefix, i + 1)
            iqn = "iqn.2024-01.lab.site-%s:%s" % (self.side.lower(), hostname)
            host = self.create("host", {
                "name_label": hostname, "name_description": "Default install",
                "hostname": hostname, "address": "%s.%d" % (self.net, 11 + i),
                "enabled": True, "software_version": dict(self.release["software_version"],
                                                            hostname=hostname),
                "other_config": {"iscsi_iqn": iqn, "agent_start_time": "1727350000.",
                                 "boot_time": "1727349900."},
                "iscsi_iqn": iqn, "multipathing": self.multipath, "memory_total": 64 * GiB,
                "memory_free": 60 * GiB, "memory_overhead": GiB // 2,
                "cpu_info": {"cpu_count": "8", "socket_count": "1", "vendor": "GenuineIntel",
                             "modelname": "Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz"},
                "capabilities": ["xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_64"],
                "logging": {}, "guest_VCPUs_params": {}, "tags": [],
                "suspend_image_sr": NULL, "crash_dump_sr": NULL, "local_cache_sr": NULL,
                "control_domain": NULL, "edition": _edition(self.release)})
            dom0 = self.create("VM", {
                "name_label": "Control domain on host: " + hostname,
                "name_description": "The domain which manages physical devices and manages "
                                    "other domains",
                "is_control_domain": True, "is_a_template": False, "power_state": "Running",
                "resident_on": host, "domid": 0, "memory_static_max": 4 * GiB,
                "memory_dynamic_max": 4 * GiB, "memory_dynamic_min": 4 * GiB,
                "memory_static_min": 4 * GiB, "VCPUs_max": 8, "VCPUs_at_startup": 8,
                "domain_type": "pv", "other_config": {"storage_driver_domain": ""},
                "platform": {}, "tags": [], "version": 0, "order": 0, "start_delay": 0,
                "shutdown_delay": 0, "ha_restart_priority": "", "appliance": NULL,
                "snapshot_of": NULL, "affinity": NULL, "suspend_VDI": NULL, "suspend_SR": NULL,
                "parent": NULL})
            self.db.update("VM", dom0, other_config={"storage_driver_domain": dom0})
            self.db.update("host", host, control_domain=dom0)
            self.hosts.append(host)
            self.dom0[host] = dom0
        self.db.update("pool", pool, master=self.hosts[0])
        return pool

    def build_networks(self, names):
        for index, (label, bridge, desc) in enumerate(NETWORKS):
            if label not in names:
                continue
            net = self.create("network", {
                "name_label": label, "name_description": desc, "bridge": bridge, "MTU": 1500,
                "managed": True, "other_config": {}, "tags": [], "purpose": []})
            self.networks[label] = net
            for k, h in enumerate(self.hosts):
                management = index == 0
                self.create("PIF", {
                    "device": "eth%d" % index, "MAC": self.g.mac().replace("96:", "00:", 1),
                    "physical": True, "managed": True, "currently_attached": True,
                    "MTU": 1500, "VLAN": -1, "management": management, "network": net,
                    "host": h, "ip_configuration_mode": "Static" if management else "None",
                    "IP": "%s.%d" % (self.net, 11 + k) if management else "",
                    "netmask": "255.255.255.0" if management else "",
                    "gateway": self.net + ".1" if management else "",
                    "DNS": self.net + ".2" if management else "",
                    "properties": {"gro": "on"}, "other_config": {},
                    "pci_bus_path": "0000:%02x:00.0" % (index + 1)})

    def add_sr(self, key, label, sr_type, device_config, size, shared=True, content_type="",
               hosts=None, desc="", sm_config=None, is_tools=False, chap=None):
        sr = self.create("SR", {
            "name_label": label, "name_description": desc, "type": sr_type,
            "content_type": content_type, "shared": shared, "physical_size": size,
            "physical_utilisation": 0, "virtual_allocation": 0, "introduced_by": NULL,
            "other_config": {}, "sm_config": sm_config or {}, "tags": [],
            "is_tools_sr": is_tools, "clustered": False})
        for h in hosts if hosts is not None else self.hosts:
            dc = dict(device_config)
            if chap:
                # as xapi keeps them: the user in clear, the password in a secret per PBD
                secret = self.create("secret", {"value": chap[1], "other_config": {}})
                dc.update(chapuser=chap[0],
                          chappassword_secret=self.db.get("secret", secret)["uuid"])
            self.create("PBD", {"host": h, "SR": sr, "device_config": dc,
                                "currently_attached": True, "other_config": {}})
        self.srs[key] = sr
        return sr

    def add_vdi(self, sr, label, size, vdi_type="user", **extra):
        uuid = self.g.uuid()
        sr_type = self.db.get("SR", sr)["type"]
        row = {"uuid": uuid, "name_label": label, "name_description": "", "SR": sr,
               "virtual_size": size, "type": vdi_type, "sharable": False,
               "read_only": sr_type == "iso", "managed": True,
               "location": uuid if sr_type != "iso" else label,
               "physical_utilisation": size if sr_type in ("lvmoiscsi", "lvmohba", "lvm") else
               size // 4, "snapshot_of": NULL, "is_a_snapshot": False, "metadata_latest": False,
               "metadata_of_pool": NULL, "other_config": {}, "sm_config": {},
               "xenstore_data": {}, "tags": [], "on_boot": "persist", "allow_caching": False}
        if sr_type in ("lvmoiscsi", "lvmohba", "lvm"):
            row["sm_config"] = {"vdi_type": "vhd"}
        row.update(extra)
        ref = self.create("VDI", row)
        srow = self.db.get("SR", sr)
        self.db.update("SR", sr, physical_utilisation=srow["physical_utilisation"] +
                       row["physical_utilisation"],
                       virtual_allocation=srow["virtual_allocation"] + size)
        return ref

    def add_vm(self, label, memory, vcpus, power, host, template_name, **extra):
        running = power == "Running"
        row = {
            "name_label": label, "name_description": "", "is_a_template": False,
            "is_default_template": False, "is_a_snapshot": False, "is_control_domain": False,
            "power_state": power, "resident_on": host if running else NULL,
            "domid": self.next_domid() if running else -1, "memory_static_max": memory,
            "memory_dynamic_max": memory, "memory_dynamic_min": memory,
            "memory_static_min": min(memory, 512 * MiB), "VCPUs_max": vcpus,
            "VCPUs_at_startup": vcpus, "domain_type": "hvm", "HVM_boot_policy": "BIOS order",
            "HVM_boot_params": {"order": "cdn"},
            "platform": {"timeoffset": "0", "device-model": "qemu-upstream-compat",
                         "viridian": "false", "nx": "true", "acpi": "1", "apic": "true",
                         "pae": "true", "hpet": "true", "videoram": "8"},
            "other_config": {"base_template_name": template_name, "import_task": "",
                             "mac_seed": self.g.uuid(), "install-methods": "cdrom"},
            "tags": [], "version": 0, "order": 0, "start_delay": 0, "shutdown_delay": 0,
            "ha_restart_priority": "", "appliance": NULL, "snapshot_of": NULL,
            "affinity": NULL, "suspend_VDI": NULL, "suspend_SR": NULL, "parent": NULL,
            "user_version": 1, "generation_id": "0:0", "blocked_operations": {},
            "xenstore_data": {"vm-data": ""}, "VCPUs_params": {}, "snapshot_info": {},
            "start_time": util.xapi_date(VMS_STARTED) if running else util.EPOCH,
            "install_time": util.xapi_date(1727000000), "has_vendor_device": False,
            "bios_strings": {"bios-vendor": "Xen", "system-manufacturer": "Xen"},
            "HVM_shadow_multiplier": 1.0, "snapshot_time": util.EPOCH,
        }
        row.update(extra)
        return self.create("VM", row)

    def next_domid(self):
        self.db.extra["domid"] += 1
        return self.db.extra["domid"]

    def add_vbd(self, vm, vdi, userdevice, vbd_type="Disk", empty=False, bootable=False):
        running = self.db.get("VM", vm)["power_state"] == "Running"
        device = ("xvd" + "abcdefghijklmnop"[int(userdevice)]) if running else ""
        return self.create("VBD", {
            "VM": vm, "VDI": vdi, "userdevice": str(userdevice), "device": device,
            "bootable": bootable, "mode": "RO" if vbd_type == "CD" else "RW", "type": vbd_type,
            "unpluggable": vbd_type != "CD", "empty": empty, "currently_attached": running,
            "other_config": {"owner": ""} if vbd_type == "Disk" else {},
            "qos_algorithm_params": {}, "status_code": 0})

    def add_vif(self, vm, network, device, host_number=None):
        """A VIF; with ``host_number``, the guest's own address on that network (SUBNETS; an
        estate's pools of one side share its subnets, pool n's guests in n.0/24 of each)."""
        running = self.db.get("VM", vm)["power_state"] == "Running"
        label = self.db.get("network", network)["name_label"]
        prefix = SUBNETS.get((self.side, label))
        if host_number is not None and prefix:
            host_number += 256 * self.number
            uuid = self.db.get("VM", vm)["uuid"]
            guest = self.guests.setdefault(uuid, {"nics": {}, "dns": [self.net + ".2"]})
            guest["nics"][str(device)] = {
                "ipv4": "%s.%d.%d/16" % (prefix, host_number // 256, host_number % 256),
                "gateway": prefix + ".0.1"}
        return self.create("VIF", {
            "VM": vm, "network": network, "device": str(device), "MAC": self.g.mac(),
            "MAC_autogenerated": True, "MTU": 1500, "currently_attached": running,
            "other_config": {}, "qos_algorithm_params": {}, "locking_mode": "network_default",
            "ipv4_allowed": [], "ipv6_allowed": [], "trunks": []})

    def add_templates(self):
        for name in TEMPLATES:
            self.create("VM", {
                "name_label": name, "name_description": "Template for " + name,
                "is_a_template": True, "is_default_template": True, "is_a_snapshot": False,
                "is_control_domain": False, "power_state": "Halted", "resident_on": NULL,
                "domid": -1, "memory_static_max": 2 * GiB, "memory_dynamic_max": 2 * GiB,
                "memory_dynamic_min": 2 * GiB, "memory_static_min": 512 * MiB,
                "VCPUs_max": 2, "VCPUs_at_startup": 2,
                "other_config": {"default_template": "true", "linux_template": "true"},
                "tags": [], "version": 0, "order": 0, "start_delay": 0, "shutdown_delay": 0,
                "ha_restart_priority": "", "appliance": NULL, "snapshot_of": NULL,
                "affinity": NULL, "suspend_VDI": NULL, "suspend_SR": NULL, "parent": NULL})

    def tools_sr(self):
        sr = self.add_sr("tools", "XCP-ng Tools", "iso",
                         {"location": "/opt/xensource/packages/iso", "legacy_mode": "true"},
                         0, content_type="iso", desc="XCP-ng Tools ISOs", is_tools=True)
        return sr, self.add_vdi(sr, "guest-tools.iso", 80 * MiB, is_tools_iso=True)

    def local_srs(self):
        out = []
        for i, h in enumerate(self.hosts):
            hostname = self.db.get("host", h)["name_label"]
            out.append(self.add_sr("local-%d" % i, "Local storage", "lvm",
                                   {"device": "/dev/disk/by-id/ata-SSD_%s-part3" % hostname},
                                   400 * GiB, shared=False, content_type="user", hosts=[h],
                                   desc="", sm_config={"allocation": "thick",
                                                       "use_vhd": "true"}))
        return out

    def free_memory(self):
        for h in self.hosts:
            used = 4 * GiB
            for vm in self.db.children("VM", "resident_on", h):
                if not self.db.rows("VM")[vm].get("is_control_domain"):
                    used += self.db.rows("VM")[vm]["memory_dynamic_max"]
            total = self.db.get("host", h)["memory_total"]
            self.db.update("host", h, memory_free=max(0, total - used - GiB // 2))


def _lun(gen, lun_no, size, transport, sites, home=False):
    """A LUN with a copy at each of ``sites`` (builders); two: mirrored from the first to the
    second. ``lun_no``: its LUN number at the target (one, or one per site). ``home``: record
    the pool it belongs to (array.home)."""
    copies = {}
    numbers = lun_no if isinstance(lun_no, list) else [lun_no] * len(sites)
    for s, number in zip(sites, numbers):
        copies[s.name] = {"scsiid": "36001405" + gen.hexs(24), "serial": gen.hexs(16).upper(),
                          "lunid": number,
                          "target": PORTALS[s.side]["iqn"] if transport == "iscsi" else ""}
    lun = {"size": size, "transport": transport, "vendor": "LABARRAY", "copies": copies,
           "mirror": {"source": sites[0].name, "state": "mirroring", "frozen": False}
           if len(sites) == 2 else None}
    if home:
        lun["home"] = sites[0].name
    return lun


def _device_config(lun, site):
    copy = lun["copies"][site.name]
    if lun["transport"] == "iscsi":
        return {"target": PORTALS[site.side]["address"], "port": "3260",
                "targetIQN": PORTALS[site.side]["iqn"], "SCSIid": copy["scsiid"]}
    return {"SCSIid": copy["scsiid"]}


def _sm_config(lun, site):
    return {"allocation": "thick", "use_vhd": "true", "multipathable": "true",
            "devserial": "scsi-" + lun["copies"][site.name]["scsiid"]}


def _python_for_lab():
    return os.path.abspath(sys.executable)


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


XE_SCRIPT = '''#!%(python)s -S
# The fake xe of site %(site)s of the xe-dr lab in %(lab)s (never put it on PATH).
# (-S: no site-packages; the lab needs the standard library only, and starts faster.)
import sys
sys.path.insert(0, %(repo)r)
from xe_dr.lab.xecli import main
sys.exit(main(%(lab)r, %(site)r))
'''


def write_xe(lab, site, python=None):
    path = lab.xe_path(site)
    util.atomic_write(path, XE_SCRIPT % {"python": python or _python_for_lab(), "site": site,
                                         "lab": lab.root, "repo": _repo_root()}, mode=0o755)
    os.chmod(path, 0o755)
    return path


ADAPTER_SCRIPT = '''#!%(python)s -S
# The storage adapter of the array of the xe-dr lab in %(lab)s (xe-dr's protocol:
# man xe-dr, STORAGE ADAPTERS): xe-dr drill --adapter %(path)s
import sys
sys.path.insert(0, %(repo)r)
from xe_dr.lab.adapter import main
sys.exit(main(%(lab)r))
'''


def write_adapter(lab, python=None):
    """``DIR/bin/storage-adapter``, the array's storage adapter (xe_dr/lab/adapter.py)."""
    path = lab.path("bin", "storage-adapter")
    util.atomic_write(path, ADAPTER_SCRIPT % {"python": python or _python_for_lab(),
                                              "lab": lab.root, "path": path,
                                              "repo": _repo_root()}, mode=0o755)
    os.chmod(path, 0o755)
    return path


def relocate(root):
    """Make a lab copied or moved to ``root`` (another directory or machine) runnable there:
    its xe executables, each host's interpreters, and the paths in ``lab.json`` are written
    anew for this place. The world (databases, array, plugins installed) is left as it is."""
    lab = Lab(os.path.abspath(root))
    lab.update_config(lambda c: c.update(python=_python_for_lab(), repo=_repo_root()))
    write_adapter(lab)
    for site in lab.site_names():
        write_xe(lab, site)
        for host in lab.site(site).read().rows("host").values():
            plugins.write_host_pythons(lab, host["uuid"])
    return lab


def parse_estate(text):
    """``SOURCES:DRS`` (``6:2``) -> (6, 2)."""
    sources, sep, drs = str(text).partition(":")
    try:
        counts = (int(sources), int(drs)) if sep else None
    except ValueError:
        counts = None
    if counts is None:
        raise ValueError("--estate %s: give SOURCES:DRS, e.g. 6:2" % text)
    if not (1 <= counts[1] <= counts[0] <= MAX_ESTATE_POOLS):
        raise ValueError("--estate %s: 1 <= DRS <= SOURCES <= %d" % (text, MAX_ESTATE_POOLS))
    return counts


def estate_sites(counts):
    """The sites of an estate of (SOURCES, DRS) pools: [(name, side, number)], sources
    first; and {source: DR pool}, source Ai mirrored to B((i-1) % DRS + 1)."""
    sources, drs = counts
    sites = [("A%d" % i, "A", i) for i in range(1, sources + 1)]
    sites += [("B%d" % j, "B", j) for j in range(1, drs + 1)]
    return sites, dict(("A%d" % i, "B%d" % ((i - 1) % drs + 1)) for i in range(1, sources + 1))


def create(root, **options):
    """Build a lab in ``root``. Options: those of DEFAULTS, ``chap_user`` with
    ``chap_password`` (and ``chap_sites``, default every site) for portals that want CHAP,
    and ``estate="SOURCES:DRS"`` for an estate (ESTATE_DEFAULTS) instead of two sites."""
    opts = dict(DEFAULTS)
    if options.get("estate") is not None:
        opts.update(ESTATE_DEFAULTS)
    opts.update(dict((k, v) for k, v in options.items() if v is not None))
    if "estate" in opts:
        counts = parse_estate(opts["estate"])
        opts["estate"] = "%d:%d" % counts
        site_specs, peers = estate_sites(counts)
    else:
        site_specs, peers = [("A", "A", 0), ("B", "B", 0)], {"A": "B"}
    names = [name for name, _, _ in site_specs]
    chap_user, chap_password = opts.pop("chap_user", None), opts.pop("chap_password", None)
    chap_sites = list(opts.pop("chap_sites", None) or names)
    if bool(chap_user) != bool(chap_password):
        raise ValueError("CHAP needs both a user and a password")
    if chap_user and not set(chap_sites) <= set(names):
        raise ValueError("no portal at site(s) %s" % ", ".join(sorted(set(chap_sites) -
                                                                       set(names))))
    chap = dict((s, (chap_user, chap_password)) for s in chap_sites) if chap_user else {}
    guest_defaults = dict((GUEST_OPTIONS[k], opts.pop(k)) for k in list(opts)
                          if k in GUEST_OPTIONS)
    guests.check_settings(guest_defaults)
    if guest_defaults.get("health_check") == "none":
        guest_defaults["health_check"] = None
    if chap:
        opts["chap"] = {"user": chap_user, "sites": sorted(chap)}
    releases.profile(opts["release"])  # an unknown name is refused before anything is made
    copies.check_options(opts)
    multipath = set(opts.pop("multipath", None) or [])
    if not multipath <= set(names):
        raise ValueError("no site %s" % ", ".join(sorted(multipath - set(names))))
    opts["multipath"] = sorted(multipath)
    root = os.path.abspath(root)
    if os.path.exists(os.path.join(root, CONFIG)):
        raise ValueError("%s already holds a lab (destroy it first)" % root)
    for sub in ("state", "locks", "bin", "array", "hosts"):
        util.makedirs(os.path.join(root, sub))

    # Every step below goes over the pools in the same order (sources, then DR pools), so
    # that the seeded generator draws the two-site lab's identifiers as it always did.
    g = Gen(opts["seed"])
    sites = [SiteBuilder(g, name, side, "Site " + name, opts["release"], name in multipath,
                         number) for name, side, number in site_specs]
    by_name = dict((s.name, s) for s in sites)
    sources = [s for s in sites if s.name in peers]
    drs = [s for s in sites if s.name not in peers]
    for s in sources:
        s.build_pool(opts["hosts_a"])
    for s in drs:
        s.build_pool(opts["hosts_b"])
    for s in sources:
        s.build_networks([n for n, _, _ in NETWORKS])
    for s in drs:
        s.build_networks([n for n, _, _ in NETWORKS if n != MISSING_AT_B])

    # --- the array -------------------------------------------------------------------------
    luns = {}
    home = "estate" in opts  # the two-site lab's LUNs are as they were (array.home)
    for s in sources:
        s.replicated = []
        for i in range(opts["replicated_srs"]):
            transport = "fc" if i % 3 == 2 else "iscsi"
            lun_id = s.lun_id(i + 1)
            dr = by_name[peers[s.name]]
            # its number in the DR pool's host group: one target, so one number per LUN
            # there (the two-site lab's: the same as at A)
            luns[lun_id] = _lun(g, [i + 1, dr.next_lunid() if home else i + 1], 200 * GiB,
                                transport, [s, dr], home)
            s.replicated.append(lun_id)
        luns[s.lun_id("scratch")] = _lun(g, 20, 100 * GiB, "iscsi", [s], home)
    for s in drs:
        luns[s.lun_id("local")] = _lun(g, 30, 100 * GiB, "iscsi", [s], home)
        luns[s.lun_id("spare")] = _lun(g, 31, 50 * GiB, "iscsi", [s], home)
    portals = dict((s.name, dict(PORTALS[s.side])) for s in sites)
    for site, (user, password) in chap.items():
        portals[site]["chap"] = {"user": user, "password": password}
    array_data = {
        "portals": portals, "luns": luns,
        "hbas": dict((s.name, [
            {"host": "host%d" % (3 + k), "name": "qla2xxx",
             "manufacturer": "QLogic HBA Driver", "id": str(3 + k),
             "node_name": "0x20000024ff%06x" % g.randint(0, 0xffffff),
             "port_name": "0x21000024ff%06x" % g.randint(0, 0xffffff),
             "port_state": "Online", "speed": "16 Gbit",
             "supported_speeds": "4 Gbit, 8 Gbit, 16 Gbit"} for k in range(2)])
            for s in sites),
    }

    for s in sources:
        _source_storage(s, luns, peers[s.name], chap.get(s.name))
    for s in drs:
        _dr_storage(s, luns, chap.get(s.name))
    for s in sources:
        _source_vms(s, g, opts)
    for s in drs:
        _dr_vms(s, opts["vms_b"])

    for site in sites:
        site.create("message", {"name": "HOST_CLOCK_SKEW_DETECTED", "priority": 3,
                                "cls": "Host", "obj_uuid": site.db.get("host", site.hosts[-1])[
                                    "uuid"],
                                "timestamp": util.xapi_date(1727350300),
                                "body": "The clock of the host is out of sync."})

    # The running VMs' guests reported long ago (drawn last: the UUIDs above do not move).
    guest_table = {}
    for site in sites:
        guest_table.update(site.guests)
    if guest_defaults:
        guest_table["*"] = guest_defaults
    for site in sites:
        guests.seed_running(site.db, site.create, VMS_STARTED,
                            lambda uuid: guests.merged(guest_table, uuid))

    config = {
        "format": 1, "seed": opts["seed"], "options": opts, "cost_factor": opts["cost_factor"],
        "costs": {}, "dark": [], "python": _python_for_lab(), "repo": _repo_root(),
        "sites": dict((s.name, {"pool": s.db.pool()["uuid"], "name": s.pool_label})
                      for s in sites),
    }
    if "estate" in opts:
        for s in sites:  # what each pool is to the others (the two-site lab's: store.py)
            config["sites"][s.name].update(
                {"role": "primary", "peer": peers[s.name]} if s in sources else {"role": "dr"})
    if guest_table:
        config["guests"] = guest_table
    util.write_json(os.path.join(root, CONFIG), config)
    lab = Lab(root)
    util.write_json(lab.path(*array.STATE), array_data)
    for s in sites:
        s.db.generation = 1
        lab.site(s.name).save(s.db)
        write_xe(lab, s.name)
        for h in s.hosts:
            util.makedirs(lab.plugin_dir(s.db.get("host", h)["uuid"]))
            plugins.write_host_pythons(lab, s.db.get("host", h)["uuid"])
    # The VGs the SRs wrote on their LUNs (mirroring carries the sources' to their DR pools).
    for s in sites:
        with array.locked(lab):
            data = array.load(lab)
            for sr_ref, row in s.db.rows("SR").items():
                lun = replication.sr_lun(data, s.name, s.db, sr_ref)
                if lun is not None:
                    array.write_vg(lab, data, lun, s.name, replication.vg_of(s.db, sr_ref))
    write_adapter(lab)
    open(lab.path("calls.jsonl"), "ab").close()
    return lab


def _source_storage(a, luns, peer, chap):
    """A production pool's SRs: replicated ones on its mirrored LUNs, and unreplicated ones."""
    a.rep_srs = []
    for i, lun_id in enumerate(a.replicated):
        lun = luns[lun_id]
        sr_type = "lvmoiscsi" if lun["transport"] == "iscsi" else "lvmohba"
        label = a.sr_prefix + ("iSCSI DR %d" if sr_type == "lvmoiscsi" else "FC DR %d") % (i + 1)
        sr = a.add_sr(lun_id, label, sr_type, _device_config(lun, a), lun["size"],
                      content_type="user", desc="Replicated to site %s (%s)" % (peer, lun_id),
                      sm_config=_sm_config(lun, a),
                      chap=chap if sr_type == "lvmoiscsi" else None)
        a.rep_srs.append(sr)
    scratch = luns[a.lun_id("scratch")]
    a.scratch = a.add_sr("scratch", "iSCSI scratch", "lvmoiscsi", _device_config(scratch, a),
                         scratch["size"], content_type="user", desc="Not replicated",
                         sm_config=_sm_config(scratch, a), chap=chap)
    a.nfs = a.add_sr("nfs", "NFS VM storage", "nfs",
                     {"server": a.filer, "serverpath": "/export/vms" + a.nfs_suffix,
                      "nfsversion": "3"},
                     2048 * GiB, content_type="user", desc="Not replicated")
    a.local = a.local_srs()
    _, a.tools_iso = a.tools_sr()
    a.db.update("pool", a.db.pool_ref(), default_SR=a.rep_srs[0] if a.rep_srs else a.nfs)


def _dr_storage(b, luns, chap):
    """A recovery pool's own SRs (none replicated)."""
    local_lun = luns[b.lun_id("local")]
    b.add_sr("iscsi-b", "iSCSI " + b.name, "lvmoiscsi", _device_config(local_lun, b),
             local_lun["size"], content_type="user", desc="Site %s only" % b.name,
             sm_config=_sm_config(local_lun, b), chap=chap)
    b.nfs = b.add_sr("nfs", "NFS " + b.name, "nfs",
                     {"server": b.filer, "serverpath": "/export/site" + b.name.lower(),
                      "nfsversion": "3"},
                     1024 * GiB, content_type="user")
    b.local = b.local_srs()
    b.tools_sr()
    b.db.update("pool", b.db.pool_ref(), default_SR=b.nfs)


def _source_vms(a, g, opts):
    """A production pool's VMs and vApps (names prefixed by an estate's pool: a3-web-01)."""
    rep_srs, local_a = a.rep_srs, a.local
    a.add_templates()
    n = opts["vms"]
    kinds = _storage_kinds(g, n, bool(rep_srs))
    vapp_refs = []
    for k in range(opts["vapps"]):
        vapp_refs.append(a.create("VM_appliance", {
            "name_label": a.prefix + ["erp", "webshop", "crm", "intranet", "billing"][k % 5] +
            ("" if k < 5 else "-%d" % k),
            "name_description": "vApp %d" % (k + 1)}))
    protected = [i for i in range(n) if kinds[i] == "protected"]
    members = {}
    per = 3
    for k, app in enumerate(vapp_refs):
        for j, idx in enumerate(protected[k * per:(k + 1) * per]):
            members[idx] = (app, j % max(1, opts["order_groups"]))
    host_cycle = 0
    vms = []
    for i in range(n):
        role = ROLES[i % len(ROLES)]
        label = "%s%s-%02d" % (a.prefix, role, i // len(ROLES) + 1)
        power = "Halted" if (i % 5 == 4) else "Running"
        host = a.hosts[host_cycle % len(a.hosts)]
        host_cycle += 1
        memory = g.choice([1, 2, 4, 8]) * GiB
        extra = {"ha_restart_priority": g.choice(["restart", "restart", "best-effort", ""])}
        if i in members:
            app, order = members[i]
            extra.update({"appliance": app, "order": order,
                          "start_delay": [10, 5, 0, 0][min(order, 3)],
                          "shutdown_delay": [0, 5, 10, 10][min(order, 3)]})
        else:
            extra.update({"order": g.randint(0, max(0, opts["order_groups"] - 1)),
                          "start_delay": g.choice([0, 0, 5])})
        vm = a.add_vm(label, memory, g.randint(1, 4), power, host,
                      g.choice(TEMPLATES[:3]), **extra)
        vms.append(vm)
        kind = kinds[i]
        if kind == "protected":
            sr = rep_srs[i % len(rep_srs)]
        elif kind == "nfs":
            sr = a.nfs
        elif kind == "local":
            sr = local_a[a.hosts.index(host)]
        else:
            sr = a.scratch
        disk = a.add_vdi(sr, "%s disk 0" % label, g.choice([10, 20, 40]) * GiB)
        a.add_vbd(vm, disk, 0, bootable=True)
        if kind == "protected" and len(rep_srs) > 1 and i % 4 == 1:
            other = rep_srs[(i + 1) % len(rep_srs)]
            a.add_vbd(vm, a.add_vdi(other, "%s disk 1" % label, 50 * GiB), 1)
        if kind == "protected" and i % 7 == 6:
            a.add_vbd(vm, a.add_vdi(local_a[0], "%s scratch" % label, 5 * GiB), 2)
        if i % 3 == 0:
            a.add_vbd(vm, a.tools_iso, 3, vbd_type="CD")
        else:
            a.add_vbd(vm, NULL, 3, vbd_type="CD", empty=True)
        a.add_vif(vm, a.networks["VM Network"], 0, 10 + i)
        if i % 4 == 2:
            a.add_vif(vm, a.networks["DMZ"], 1, 10 + i)
        if i % 6 == 3:
            a.add_vif(vm, a.networks["Storage"], 2, 10 + i)
    if vms and rep_srs:
        _snapshot(a, g, vms[0])
        golden_label = a.prefix + "web-golden"
        golden = a.create("VM", dict(a.db.get("VM", vms[0]), name_label=golden_label,
                                     name_description="Golden image", is_a_template=True,
                                     power_state="Halted", resident_on=NULL, domid=-1,
                                     appliance=NULL, other_config={}, uuid=g.uuid()))
        a.add_vbd(golden, a.add_vdi(rep_srs[0], golden_label + " disk 0", 10 * GiB), 0,
                  bootable=True)
    a.free_memory()


def _dr_vms(b, count):
    """A recovery pool's own few VMs (b-monitor..., an estate's b2-monitor...)."""
    b.add_templates()
    for i in range(count):
        label = (b.prefix or "b-") + ["monitor", "backup", "jump", "dns"][i % 4]
        host = b.hosts[i % len(b.hosts)]
        vm = b.add_vm(label, 2 * GiB, 2, "Running", host, TEMPLATES[0])
        sr = b.local[i % len(b.local)] if i % 2 == 0 else b.nfs
        b.add_vbd(vm, b.add_vdi(sr, label + " disk 0", 20 * GiB), 0, bootable=True)
        b.add_vif(vm, b.networks["VM Network"], 0, 10 + i)
    b.free_memory()


def _edition(release):
    """Host.edition: XCP-ng's is ``xcp-ng``; XenServer's licensed edition names it."""
    brand = release["software_version"]["product_brand"]
    return "xcp-ng" if brand == "XCP-ng" else "enterprise-per-socket"


def _storage_kinds(g, n, have_replicated):
    """Which kind of storage each VM's first disk is on: mostly protected."""
    base = ["protected", "protected", "nfs", "protected", "local", "protected", "scratch",
            "protected", "protected", "protected"]
    kinds = [base[i % len(base)] for i in range(n)]
    if not have_replicated:
        kinds = ["nfs" if k == "protected" else k for k in kinds]
    return kinds


def _snapshot(site, g, vm):
    row = site.db.get("VM", vm)
    snap = site.create("VM", dict(row, name_label=row["name_label"] + " before upgrade",
                                  is_a_template=True, is_a_snapshot=True, snapshot_of=vm,
                                  snapshot_time=util.xapi_date(1727300000),
                                  power_state="Halted", resident_on=NULL, domid=-1,
                                  appliance=NULL, uuid=g.uuid()))
    for vbd in list(site.db.children("VBD", "VM", vm)):
        vrow = site.db.get("VBD", vbd)
        vdi = vrow["VDI"]
        if vrow.get("type") == "CD" or util.is_null(vdi):
            continue
        vdi_row = site.db.get("VDI", vdi)
        if site.db.get("SR", vdi_row["SR"])["type"] == "iso":
            continue
        copy = site.add_vdi(vdi_row["SR"], vdi_row["name_label"], vdi_row["virtual_size"],
                            is_a_snapshot=True, snapshot_of=vdi,
                            snapshot_time=util.xapi_date(1727300000))
        site.add_vbd(snap, copy, vrow["userdevice"])
    return snap
