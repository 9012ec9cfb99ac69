"""The cost model: how long each operation takes, in seconds at cost factor 1.

Every duration is multiplied by the lab's ``cost_factor`` (0 in tests, 1 for realistic
benchmarks). ``lab.json`` may override any entry under ``"costs"``. Nothing sleeps while a
site's lock is held.
"""

from . import util

DEFAULTS = {
    "call": 0.3,                 # every xe call, on top of its own cost
    "db_open": 3.0,              # VDI.open_database (serialised per site)
    "probe": 3.0,                # sr-probe (and the probe inside drtask-create)
    "drtask_create": 10.0,       # drtask-create ...
    "drtask_create_per_host": 2.0,   # ... plus this per host of the pool
    "vm_recover": 1.0,
    "appliance_recover": 1.0,    # appliance-recover ...
    "appliance_recover_per_vm": 0.5,  # ... plus this per VM
    "assert": 0.1,               # vm/appliance-assert-can-be-recovered, after the open
    "vm_start": 5.0,             # plus the VM's start-delay
    "shutdown_clean": 10.0,      # plus the VM's shutdown-delay
    "shutdown_hard": 2.0,
    "pbd_plug": 1.0,
    "sr_scan": 3.0,              # sr-scan of an LVM SR (LVHD reads its VG and MGT volume)
    "pbd_unplug": 0.5,
    "sr_forget": 0.5,
    "plugin": 0.0,               # host-call-plugin, on top of the plugin's own run time
    "array_copy": 5.0,           # a storage adapter's copy of one LUN, presented (copies.py)
    "array_release": 2.0,        # destroying one copy, the replica presented again
    "guest_boot": 30.0,          # a started guest's agent reports (guests.py)
    "guest_health_check": 10.0,  # an in-guest health check answers, after the boot
}


def base(lab, key):
    """The unscaled duration of ``key`` (lab.json overrides, else the default)."""
    table = lab.config.get("costs") or {}
    return float(table.get(key, DEFAULTS.get(key, 0.0)))


def seconds(lab, key, extra=0.0):
    return (base(lab, key) + float(extra)) * lab.cost_factor()


def pause(lab, key, extra=0.0):
    util.sleep(seconds(lab, key, extra))
