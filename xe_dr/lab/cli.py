"""``python -m xe_dr.lab`` (and ``xe-dr lab``): create, inspect and drive a lab.

    create DIR [--estate SOURCES:DRS] [--seed N] [--vms N] [--vapps N] [--order-groups N]
               [--replicated-srs N] [--hosts-a N] [--hosts-b N] [--vms-b N] [--cost-factor F]
               [--chap-user USER --chap-password-file FILE [--chap-site SITE]...]
               [--guest-tools yes|no] [--guest-health-check success|failure|hang|none]
               [--guest-boot-seconds N]
    chap DIR SITE (--user USER --password-file FILE | --off)   CHAP on a site's array portal
    show DIR [--json]
    xe DIR SITE ARG...                 run a site's fake xe (same as DIR/bin/xe-SITE ARG...)
    mirror DIR break|resync|reverse|freeze|thaw [--lun ID]... [--site S]...
    mask DIR LUN --site S [--host HOST]... | --clear   hide a LUN copy from hosts (masking)
    disaster DIR [--site S]...         the site goes dark (its xe cannot reach the master;
                                       default: every primary site, A or an estate's A1..)
    restore DIR [--site S]...          the site comes back: hosts rebooted, VMs halted
    storage DIR SOURCE [--site S]      xe-dr's storage options reaching SOURCE's replicas
    fault DIR add [--site S] [--command C] [--nth N] [--every] [--delay SECONDS] [--busy]
                  [--after SECONDS] [--kill-client before|after]
                  [--error CODE [PARAM...]] [--dark]
    fault DIR list | clear
    cost DIR FACTOR                    set the cost factor (0: instant, 1: realistic)
    guest DIR SITE VM [--shutdown cooperates|ignores|hangs] [--tools yes|no]
                      [--health-check success|failure|hang|none] [--health-check-error MSG]
                      [--boot-seconds N] [--static-ip-setting yes|no]
                      [--network-script yes|no] [--show]   how one VM's guest behaves
    set DIR SITE CLASS UUID FIELD VALUE   poke a field the CLI cannot set (e.g. pool
                                       restrictions:restrict_dr true) - for tests and demos
    calls DIR [--json]                 the call log
    serve DIR [--site S]... [--sites-file FILE]
                                       a real sshd per site on 127.0.0.1 running its xe
    destroy DIR
"""

import argparse
import json
import os
import shlex
import shutil
import sys

from . import array, calllog, copies, faults, releases, util, world
from .store import CONFIG, Lab, LabNotFound


def _lab(path):
    lab = Lab(path)
    lab.config  # noqa: B018  (raises LabNotFound)
    return lab


def read_password_file(path):
    """The first line of a file (a password never travels in argv)."""
    with open(path, "rb") as f:
        line = f.read().decode("utf-8").split("\n")[0].rstrip("\r")
    if not line:
        raise ValueError("%s: the first line (the password) is empty" % path)
    return line


def cmd_create(args, out):
    if bool(args.chap_user) != bool(args.chap_password_file):
        raise ValueError("--chap-user and --chap-password-file go together")
    password = read_password_file(args.chap_password_file) if args.chap_password_file else None
    lab = world.create(args.dir, estate=args.estate, seed=args.seed, vms=args.vms,
                       vapps=args.vapps,
                       order_groups=args.order_groups, replicated_srs=args.replicated_srs,
                       hosts_a=args.hosts_a, hosts_b=args.hosts_b, vms_b=args.vms_b,
                       cost_factor=args.cost_factor, chap_user=args.chap_user,
                       chap_password=password, chap_sites=args.chap_site,
                       release=args.release, multipath=args.multipath,
                       max_copies=args.max_copies, consistency_group=args.consistency_group,
                       adapter_rescan=args.adapter_rescan,
                       guest_tools=None if args.guest_tools is None else
                       args.guest_tools == "yes", guest_health_check=args.guest_health_check,
                       guest_boot_seconds=args.guest_boot_seconds)
    out.write("created lab in %s (%s)\n" % (lab.root, releases.of_lab(lab)["title"]))
    for site in lab.site_names():
        out.write("  site %s: %s\n" % (site, lab.xe_path(site)))
    return 0


def summary(lab):
    release = releases.of_lab(lab)
    data = {"dir": lab.root, "cost_factor": lab.cost_factor(),
            "release": {"name": (lab.config.get("options") or {}).get("release",
                                                                      releases.DEFAULT),
                        "title": release["title"], "xapi": release["xapi_tag"]}, "dark": lab.config.get("dark", []),
            "sites": {}, "luns": {}, "faults": faults.rules(lab)}
    for name in lab.site_names():
        db = lab.site(name).read()
        vms = [r for r in db.rows("VM").values()
               if not r.get("is_a_template") and not r.get("is_control_domain")]
        data["sites"][name] = {
            "xe": lab.xe_path(name), "pool": db.pool()["uuid"],
            "pool_name": db.pool().get("name_label"), "generation": db.generation,
            "hosts": [(h["name_label"], h["uuid"], h["address"])
                      for h in db.rows("host").values()],
            "vms_running": sum(1 for v in vms if v.get("power_state") == "Running"),
            "vms_total": len(vms), "appliances": len(db.rows("VM_appliance")),
            "srs": [(s["name_label"], s["type"], s["uuid"]) for s in db.rows("SR").values()],
            "replication": [db.rows("VDI")[v]["uuid"] for v in db.extra.get("redo_logs", [])
                            if v in db.rows("VDI")],
            "dr_tasks": [t["uuid"] for t in db.rows("DR_task").values()],
            "dark": lab.is_dark(name), "role": lab.role(name), "peer": lab.peer(name),
        }
    a = array.load(lab)
    for lun_id, lun in sorted(a["luns"].items()):
        data["luns"][lun_id] = {
            "transport": lun["transport"], "size": lun["size"],
            "mirror": array.describe_state(lun),
            "copies": dict((s, c["scsiid"]) for s, c in lun["copies"].items()),
            "hidden_from": dict((s, c["hidden_from"]) for s, c in lun["copies"].items()
                                if c.get("hidden_from")),
            "vg": dict((s, (array.read_vg(lab, lun_id, s) or {}).get("sr_uuid"))
                       for s in lun["copies"]),
            "withdrawn": dict((s, c["withdrawn"]) for s, c in lun["copies"].items()
                              if c.get("withdrawn"))}
        if lun.get("drill"):
            data["luns"][lun_id]["copy_of"] = {
                "lun": lun["drill"]["replica"], "run": lun["drill"]["run"],
                "created": lun["drill"]["created"], "consistent": lun["drill"]["consistent"]}
    data["portals"] = array.public_portals(a)
    return data


def cmd_show(args, out):
    lab = _lab(args.dir)
    data = summary(lab)
    if args.json:
        out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        return 0
    out.write("lab %s (cost factor %s), %s, xapi %s\n" % (
        data["dir"], data["cost_factor"], data["release"]["title"], data["release"]["xapi"]))
    for name in sorted(data["sites"], key=util.natural_key):
        s = data["sites"][name]
        out.write("\nsite %s: pool %s (%s)%s, generation %d\n"
                  % (name, s["pool_name"], s["pool"], "  ** DARK **" if s["dark"] else "",
                     s["generation"]))
        out.write("  xe: %s\n" % s["xe"])
        out.write("  role: %s\n" % ("primary, its LUNs mirrored to %s" % s["peer"]
                                    if s["role"] == "primary" else "DR pool"))
        for label, uuid, address in s["hosts"]:
            out.write("  host %s %s %s\n" % (label, address, uuid))
        out.write("  VMs: %d running of %d; vApps: %d\n"
                  % (s["vms_running"], s["vms_total"], s["appliances"]))
        for label, sr_type, uuid in s["srs"]:
            out.write("  SR %-10s %s  %s\n" % (sr_type, uuid, label))
        out.write("  DR replication to metadata VDIs: %s\n" % (", ".join(s["replication"])
                                                               or "none"))
        if s["dr_tasks"]:
            out.write("  DR tasks: %s\n" % ", ".join(s["dr_tasks"]))
    out.write("\narray\n")
    for site in sorted(data["portals"], key=util.natural_key):
        p = data["portals"][site]
        out.write("  portal %s: %s (%s:%s) %s%s\n" % (
            site, p["hostname"], p["address"], p["port"], p["iqn"],
            ", CHAP user %s" % p["chap"]["user"] if p.get("chap") else ""))
    for lun_id in sorted(data["luns"], key=util.natural_key):
        lun = data["luns"][lun_id]
        copy_of = lun.get("copy_of")
        out.write("  %-14s %-5s %s\n" % (lun_id, lun["transport"], lun["mirror"] if not copy_of
                                        else "copy of %(lun)s for run %(run)s, %(created)s"
                                        % copy_of))
        for site, scsiid in sorted(lun["copies"].items()):
            out.write("      %s: SCSIid %s  %s%s%s\n" % (
                site, scsiid, "VG of SR %s" % lun["vg"][site] if lun["vg"].get(site)
                else "no SR on it", "  hidden from %s" % ", ".join(lun["hidden_from"][site])
                if site in lun["hidden_from"] else "",
                "  withdrawn for run %s" % lun["withdrawn"][site]
                if site in lun["withdrawn"] else ""))
    if data["faults"]:
        out.write("\nfaults\n")
        for r in data["faults"]:
            out.write("  #%(id)d site=%(site)s command=%(command)s nth=%(nth)d every=%(every)s "
                      "delay=%(delay)s error=%(error)s count=%(count)d fired=%(fired)d\n" % r)
    return 0


def cmd_xe(args, out):
    from . import xecli
    lab = _lab(args.dir)
    o, e, code, _ = xecli.execute(lab.root, args.site, args.argv)
    out.write(o)
    sys.stderr.write(e)
    return code


def cmd_mirror(args, out):
    lab = _lab(args.dir)
    lun_ids = args.lun or None
    if args.site:
        for site in args.site:
            lab.site(site)  # a KeyError naming the lab's sites
        data = array.load(lab)
        lun_ids = [lun_id for lun_id, lun in sorted(data["luns"].items())
                   if lun.get("mirror") and set(args.site) & set(lun["copies"]) and
                   (not args.lun or lun_id in args.lun)]
        if not lun_ids:
            out.write("no mirrored LUN matched\n")
            return 0
    changed = array.mirror_action(lab, args.action, lun_ids)
    data = array.load(lab)
    for lun_id in changed:
        out.write("%s: %s\n" % (lun_id, array.describe_state(data["luns"][lun_id])))
    if not changed:
        out.write("no mirrored LUN matched\n")
    return 0


def cmd_mask(args, out):
    lab = _lab(args.dir)
    db = lab.site(args.site).read()
    hosts = []
    if not args.clear:
        for name in args.host or [row["uuid"] for row in db.rows("host").values()]:
            found = [row["uuid"] for row in db.rows("host").values()
                     if name in (row["uuid"], row.get("name_label"))]
            if not found:
                raise ValueError("no host %s at site %s" % (name, args.site))
            hosts += found
    elif args.host:
        raise ValueError("--clear takes no --host")
    array.mask(lab, args.lun, args.site, hosts)
    names = [row.get("name_label") for row in db.rows("host").values() if row["uuid"] in hosts]
    out.write("%s at site %s: %s\n" % (args.lun, args.site, "hidden from %s" % ", ".join(
        sorted(names)) if hosts else "presented to every host"))
    return 0


def _sites(lab, names):
    """The sites named (checked), or every primary site: the production site that a
    disaster takes down (A; an estate's A1, A2...)."""
    for name in names or ():
        lab.site(name)  # a KeyError naming the lab's sites
    return list(names) if names else lab.primary_sites()


def cmd_disaster(args, out):
    lab = _lab(args.dir)
    sites = _sites(lab, args.site)

    def mutate(config):
        for site in sites:
            if site not in config.setdefault("dark", []):
                config["dark"].append(site)
    lab.update_config(mutate)
    for site in sites:
        out.write("site %s is dark: its xe cannot contact the coordinator\n" % site)
    return 0


def cmd_restore(args, out):
    lab = _lab(args.dir)
    sites = _sites(lab, args.site)
    lab.update_config(lambda c: c.__setitem__("dark", [s for s in c.get("dark", [])
                                                      if s not in sites]))
    for site in sites:
        reboot(lab, site)
        out.write("site %s is back: VMs halted, SRs re-attached where their LUN is writable\n"
                  % site)
    return 0


def cmd_storage(args, out):
    lab = _lab(args.dir)
    if lab.role(args.source) != "primary":
        raise ValueError("site %s is a DR pool: its LUNs are mirrored from no one" % args.source)
    site = args.site or lab.peer(args.source)
    lab.site(site)
    data = array.load(lab)
    options = array.storage_options(data, args.source, site)
    if args.json:
        out.write(json.dumps(options) + "\n")
    else:
        out.write(" ".join(shlex.quote(option) for option in options) + "\n")
    if "--chap-user" in options:
        sys.stderr.write("xe-dr lab: the portal of site %s wants CHAP: add the password "
                         "(--chap-password-file FILE)\n" % site)
    return 0


def reboot(lab, site_name):
    """What a power cycle does to a pool: VMs halted, PBDs re-plugged if the LUN allows."""
    from . import guests, replication, sm
    site = lab.site(site_name)
    with site.transaction() as db:
        for ref, vm in db.rows("VM").items():
            if vm.get("is_control_domain") or vm.get("power_state") == "Halted":
                continue
            db.update("VM", ref, power_state="Halted", resident_on=util.NULL_REF, domid=-1,
                      current_operations={})
            guests.halted(db, vm["uuid"])
            for vbd in db.children("VBD", "VM", ref):
                db.update("VBD", vbd, currently_attached=False, device="")
            for vif in db.children("VIF", "VM", ref):
                db.update("VIF", vif, currently_attached=False)
        for h in db.rows("host"):
            db.update("host", h, memory_free=int(db.rows("host")[h].get("memory_total", 0)) -
                      5 * 1024 ** 3)
        with array.locked(lab):  # a boot scans every HBA
            data = array.load(lab)
            array.rescanned(data, [row["uuid"] for row in db.rows("host").values()])
            array.save(lab, data)
        for pbd, row in db.rows("PBD").items():
            sr = db.rows("SR").get(row["SR"])
            ok = True
            if sr is not None and sr.get("type") in sm.LVM_LUN_TYPES:
                try:
                    sm.attach(lab, site_name, db, row["SR"], row["host"],
                              row.get("device_config") or {})
                except Exception:
                    ok = False
            if bool(row.get("currently_attached")) != ok:
                db.update("PBD", pbd, currently_attached=ok)
        for vdi in list(db.extra.get("redo_logs") or []):
            if db.find("VDI", vdi) is None:
                continue
            sr = db.rows("VDI")[vdi]["SR"]
            if not replication.master_attached(db, sr):
                replication.disable_redo_log(db, vdi, destroy_vbds=False)
        db.dirty = True


def cmd_chap(args, out):
    lab = _lab(args.dir)
    if args.site not in array.load(lab)["portals"]:
        raise ValueError("no portal at site %s" % args.site)
    if args.off:
        if args.user or args.password_file:
            raise ValueError("--off takes no --user or --password-file")
        array.set_chap(lab, args.site)
        out.write("portal %s: CHAP off\n" % args.site)
        return 0
    if not (args.user and args.password_file):
        raise ValueError("give --user USER --password-file FILE, or --off")
    array.set_chap(lab, args.site, args.user, read_password_file(args.password_file))
    out.write("portal %s: CHAP on for user %s\n" % (args.site, args.user))
    return 0


def cmd_fault(args, out):
    lab = _lab(args.dir)
    if args.action == "clear":
        faults.clear(lab)
        return 0
    if args.action == "list":
        for r in faults.rules(lab):
            out.write(json.dumps(r, sort_keys=True) + "\n")
        return 0
    rule = faults.add(lab, site=args.site, command=args.command, nth=args.nth,
                      error=args.error, delay=args.delay, every=args.every,
                      after=args.after, kill_client=args.kill_client,
                      dark=args.dark, busy=args.busy)
    out.write(json.dumps(rule, sort_keys=True) + "\n")
    return 0


def cmd_cost(args, out):
    lab = _lab(args.dir)
    lab.update_config(lambda c: c.__setitem__("cost_factor", float(args.factor)))
    out.write("cost factor %s\n" % float(args.factor))
    return 0


def cmd_set(args, out):
    from .schema import CLASSES
    lab = _lab(args.dir)
    ci = CLASSES.get(args.cls)
    table = ci.table if ci else args.cls
    field, _, key = args.field.partition(":")
    value = json.loads(args.value) if args.json else args.value
    with lab.site(args.site).transaction() as db:
        ref = db.by_uuid(table, args.uuid)
        if key:
            m = dict(db.get(table, ref).get(field) or {})
            m[key] = value
            db.update(table, ref, **{field: m})
        else:
            db.update(table, ref, **{field: value})
    return 0


def cmd_guest(args, out):
    """How a VM's guest boots, reports, runs an in-guest health check, sets up its network
    (guests.py) and answers a clean shutdown (lifecycle.GUEST_BEHAVIOURS); ``--show`` prints
    its settings and, while it runs, its network as seen inside."""
    from . import guests, lifecycle
    changes = dict((k, v) for k, v in (("tools", args.tools), ("health_check", args.health_check),
                                       ("boot_seconds", args.boot_seconds),
                                       ("error", args.health_check_error),
                                       ("static_ip_setting", args.static_ip_setting),
                                       ("network_script", args.network_script))
                   if v is not None)
    for name in ("tools", "static_ip_setting", "network_script"):
        if changes.get(name) is not None:
            changes[name] = changes[name] == "yes"
    if not changes and args.shutdown is None and not args.show and not args.ipv6:
        raise ValueError("say what the guest does: --shutdown, --tools, --health-check, "
                         "--health-check-error, --boot-seconds, --static-ip-setting, "
                         "--network-script, --ipv6 (or --show)")
    lab = _lab(args.dir)
    site = lab.site(args.site)
    db = site.read()
    ref = db.lookup_uuid("VM", args.vm)
    if ref is None:
        named = [r["uuid"] for r in db.rows("VM").values() if r.get("name_label") == args.vm]
        if len(named) != 1:
            raise ValueError("no single VM %s at site %s" % (args.vm, args.site))
        uuid = named[0]
    else:
        uuid = args.vm
    if args.ipv6:
        changes["nics"] = _own_ipv6(guests.settings(lab, uuid).get("nics") or {}, args.ipv6)
    if changes:
        guests.configure(lab, uuid, **changes)
        guest = guests.settings(lab, uuid)
        out.write("VM %s%s: %s, %s, %s\n" % (
            args.vm, "" if args.vm == uuid else " (%s)" % uuid,
            "PV tools: it boots and reports guest metrics" if guest["tools"]
            else "no PV tools: it never reports",
            "booting in %s s" % guest["boot_seconds"] if guest["boot_seconds"] is not None
            else "booting in the cost model's time",
            "its in-guest health check answers %s" % guest["health_check"]
            if guest["health_check"] in ("success", "failure")
            else "its in-guest health check hangs" if guest["health_check"] == "hang"
            else "no in-guest health check"))
    if args.shutdown is not None:
        lifecycle.set_guest(site, uuid, args.shutdown)
        out.write("VM %s at site %s: a clean shutdown %s\n" % (args.vm, args.site, {
            "cooperates": "works", "ignores": "is never acknowledged (60 s, then it fails)",
            "hangs": "is acknowledged but the VM never halts (1200 s, then it fails)"}[
                args.shutdown]))
    if args.show:
        _show_guest(out, lab, site.read(), uuid)
    return 0


def _own_ipv6(nics, given):
    """The guest's own NICs (``nics``) with the IPv6 addresses of ``--ipv6``
    (DEVICE=ADDRESS/PREFIX[,GATEWAY], ``none`` for the address: none)."""
    import ipaddress
    nics = json.loads(json.dumps(nics))
    for item in given:
        device, equals, setting = item.partition("=")
        address, _, gateway = setting.partition(",")
        if not (device.isdigit() and equals and address):
            raise ValueError("--ipv6 %s: DEVICE=ADDRESS/PREFIX[,GATEWAY]" % item)
        nic = nics.setdefault(device, {})
        if address == "none":
            nic.pop("ipv6", None)
            nic.pop("gateway6", None)
            continue
        try:
            ok = "/" in address and ipaddress.ip_interface(u"%s" % address).version == 6 and (
                not gateway or ipaddress.ip_address(u"%s" % gateway).version == 6)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError("--ipv6 %s: an IPv6 ADDRESS/PREFIX and, optionally, an IPv6 "
                             "gateway" % item)
        nic["ipv6"] = address
        if gateway:
            nic["gateway6"] = gateway
        else:
            nic.pop("gateway6", None)
    return nics


def _show_guest(out, lab, db, uuid):
    from . import guests
    guest = guests.settings(lab, uuid)
    row = db.get("VM", db.by_uuid("VM", uuid))
    config = guests.guest_config(guest, row)
    out.write("%s (%s): %s; static IP setting (feature-static-ip-setting): %s; "
              "network script (vm-data/networks): %s\n" % (
                  row.get("name_label"), uuid, "PV tools" if config["tools"] else "no PV tools",
                  "yes" if config["static_ip"] else "no",
                  "yes" if config["network_script"] else "no"))
    out.write(" its own configuration:\n")
    for device in sorted(guest.get("nics") or {}, key=int):
        nic = guest["nics"][device]
        for family, gateway in (("ipv4", "gateway"), ("ipv6", "gateway6")):
            if nic.get(family):
                out.write("  NIC %s %s %s gateway %s\n" % (
                    device, family, nic[family], nic.get(gateway) or "none"))
    out.write("  DNS %s\n" % (" ".join(guest.get("dns") or []) or "none"))
    seen = guests.inside(db, uuid)
    if seen is None:
        out.write(" not running (or not booted yet)\n")
        return
    out.write(" inside the running guest:\n")
    for device in sorted(seen["nics"], key=int):
        for family in ("ipv4", "ipv6"):
            setting = seen["nics"][device][family]
            if setting["address"] or setting["from"] != "own":  # what was set, if anything
                out.write("  NIC %s %s %s gateway %s (%s)\n" % (
                    device, family, setting["address"] or "none",
                    setting["gateway"] or "none", setting["from"]))
    out.write("  DNS %s\n" % (" ".join(seen["dns"]) or "none"))


def cmd_calls(args, out):
    lab = _lab(args.dir)
    for e in calllog.read(lab):
        if args.json:
            out.write(json.dumps(e, sort_keys=True) + "\n")
        else:
            out.write("%s %-36s exit=%d %.3fs%s %s%s\n" % (
                e["site"], e["command"], e["exit"], e["duration"],
                " db_opens=%d" % e["db_opens"] if e.get("db_opens") else "",
                " ".join(e.get("args", [])),
                " [XE_EXTRA_ARGS: %s]" % " ".join(e["extra_args"]) if e.get("extra_args")
                else ""))
    return 0


def cmd_destroy(args, out):
    root = os.path.abspath(args.dir)
    if not os.path.exists(os.path.join(root, CONFIG)):
        raise LabNotFound("no lab in %s" % root)
    shutil.rmtree(root)
    out.write("destroyed %s\n" % root)
    return 0


def cmd_serve(args, out):
    from . import serve
    lab = _lab(args.dir)
    for site in args.site or ():
        lab.site(site)  # a KeyError naming the lab's sites
    return serve.serve(lab, args.site or lab.site_names(), out, sites_file=args.sites_file)


DESCRIPTION = """\
The simulated two-site XenServer/XCP-ng lab: two pools, a storage array that
mirrors LUNs between them, and a fake xe per site (DIR/bin/xe-A, DIR/bin/xe-B);
or, with 'create --estate 6:2', an estate: pools A1..A6 mirrored to B1, B2.
'python -m xe_dr.lab COMMAND --help' describes each command."""

EXAMPLES = """examples:
  python -m xe_dr.lab create "$LAB" --cost-factor 0.1
  python -m xe_dr.lab xe "$LAB" B sr-list params=uuid,name-label
  python -m xe_dr.lab disaster "$LAB" --site A
  python -m xe_dr.lab create "$ESTATE" --estate 6:2
  python -m xe_dr.lab serve "$ESTATE" --sites-file "$ESTATE/sites.ini"
  python -m xe_dr.lab fault "$LAB" add --site B --command vm-recover --nth 2 \\
      --error HOST_OFFLINE OpaqueRef:x"""


def _guest_options(p, prefix, suffix=""):
    p.add_argument("--" + prefix + "tools", choices=["yes", "no"],
                   help="yes: the guest has PV tools and reports guest metrics once booted; "
                        "no: it never reports (default yes)" + suffix)
    p.add_argument("--" + prefix + "health-check", choices=["success", "failure", "hang",
                                                             "none"],
                   help="Xen Orchestra's in-guest check: when a start finds "
                        "xenstore-data:vm-data/xo-backup-health-check=planned, the guest "
                        "writes running, then success, failure (with a message) or nothing "
                        "(hang); none: no check (default none)" + suffix)
    p.add_argument("--" + prefix + "boot-seconds", type=float, metavar="N",
                   help="real seconds from the start to the guest's first report (default: "
                        "the cost model's guest_boot, 30 s times the cost factor)" + suffix)
    if not prefix:
        p.add_argument("--health-check-error", metavar="MESSAGE",
                       help="the message a failing check writes to "
                            "vm-data/xo-backup-health-check-error")
        p.add_argument("--static-ip-setting", choices=["yes", "no"],
                       help="yes: its tools advertise feature-static-ip-setting and apply "
                            "vif-configure-ipv4/-ipv6 (needs PV tools); default: as its OS "
                            "(Windows yes, Linux no)")
        p.add_argument("--network-script", choices=["yes", "no"],
                       help="yes: a boot script sets its NICs from the xenstore keys "
                            "vm-data/networks/<device>/... that Ansible's xenserver_guest "
                            "writes (default no)")
        p.add_argument("--ipv6", action="append", metavar="DEVICE=ADDRESS/PREFIX[,GATEWAY]",
                       help="the guest's own IPv6 address on its NIC DEVICE (what production "
                            "set up inside it; none: none), from its next boot; repeatable")
        p.add_argument("--show", action="store_true",
                       help="print the guest's settings and, while it runs, its network as "
                            "seen inside (addresses, where they came from, DNS)")


def parser():
    p = argparse.ArgumentParser(prog="python -m xe_dr.lab",
                                description=DESCRIPTION,
                                epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    def command(name, text, fn, site=False):
        c = sub.add_parser(name, help=text, description=text)
        c.add_argument("dir", metavar="DIR", help="the lab's directory")
        if site:
            c.add_argument("site", metavar="SITE",
                           help="the site: A or B (an estate's: A1.., B1..)")
        c.set_defaults(fn=fn)
        return c

    c = command("create", "create a lab: two pools, their VMs and vApps, the array", cmd_create)
    c.add_argument("--estate", metavar="SOURCES:DRS",
                   help="an estate instead: source pools A1..A<SOURCES>, each a small site A, "
                        "mirrored to DR pools B1..B<DRS> in turn (Ai to B((i-1) %% DRS + 1)); "
                        "the options below then apply to each pool")
    estate = world.ESTATE_DEFAULTS
    for name, default, text in (
            ("seed", 1, "the random seed: the same seed makes the same world"),
            ("vms", 12, "VMs at site A"),
            ("vapps", 2, "vApps at site A"),
            ("order-groups", 3, "start order groups of the VMs"),
            ("replicated-srs", 3, "SRs at site A on LUNs the array mirrors to B (every "
                                  "third one Fibre Channel)"),
            ("hosts-a", 2, "hosts in site A's pool"),
            ("hosts-b", 2, "hosts in site B's pool"),
            ("vms-b", 2, "site B's own VMs")):
        key = name.replace("-", "_")
        c.add_argument("--" + name, type=int, metavar="N", help="%s (default %d%s)" % (
            text, default, "; an estate's %d" % estate[key] if key in estate else ""))
    c.add_argument("--cost-factor", type=float, metavar="F",
                   help="how long calls take: 0 instant (default), 1 as on real hosts")
    c.add_argument("--chap-user", metavar="USER",
                   help="the array portals want CHAP with this user")
    c.add_argument("--chap-password-file", metavar="FILE",
                   help="the CHAP password: the first line of FILE")
    c.add_argument("--chap-site", action="append", metavar="SITE",
                   help="only this site's portal wants CHAP (repeatable; default every site)")
    c.add_argument("--release", choices=releases.names(),
                   help="the release the hosts run (default %s)" % releases.DEFAULT)
    c.add_argument("--multipath", action="append", metavar="SITE",
                   help="this site's hosts have multipathing on (repeatable)")
    c.add_argument("--max-copies", type=int, metavar="N",
                   help="how many copies DIR/bin/storage-adapter may keep at once (default %d)"
                        % copies.OPTIONS["max_copies"])
    c.add_argument("--no-consistency-group", dest="consistency_group", action="store_const",
                   const=False, help="the array copies several LUNs one after another, not "
                                     "at one instant")
    c.add_argument("--adapter-rescan", choices=copies.RESCAN_CHOICES,
                   help="who rescans the FC hosts after the adapter presents a LUN: xe-dr "
                        "(default) or the adapter itself")
    _guest_options(c, "guest-", " (every guest's default; `guest` sets one)")
    h = command("chap", "turn CHAP on or off at a site's array portal", cmd_chap, site=True)
    h.add_argument("--user", metavar="USER", help="the CHAP user the portal wants")
    h.add_argument("--password-file", metavar="FILE",
                   help="the CHAP password: the first line of FILE")
    h.add_argument("--off", action="store_true", help="the portal wants no CHAP")
    s = command("show", "describe a lab: sites, hosts, VMs, SRs, the array, faults", cmd_show)
    s.add_argument("--json", action="store_true", help="print it as one JSON document")
    x = command("xe", "run a site's fake xe (as DIR/bin/xe-SITE ARG... does)", cmd_xe,
                site=True)
    x.add_argument("argv", nargs=argparse.REMAINDER, metavar="ARG",
                   help="xe's arguments, as for the real xe")
    m = command("mirror", "act on the array's mirror of the replicated LUNs", cmd_mirror)
    m.add_argument("action", choices=["break", "resync", "reverse", "freeze", "thaw"],
                   help="break: stop mirroring (the copies become writable); resync: "
                        "mirror again from the source; reverse: the other site becomes "
                        "the source, and resync; freeze: stop copying writes; thaw: copy "
                        "again")
    m.add_argument("--lun", action="append", metavar="ID",
                   help="only this LUN (lun1, lun2...; repeatable; default every "
                        "mirrored LUN)")
    m.add_argument("--site", action="append", metavar="SITE",
                   help="only the LUNs with a copy at this site (an estate's A3: its own; "
                        "B1: those mirrored to it; repeatable)")
    k = command("mask", "hide a LUN's copy at a site from some of its hosts (the array's "
                        "LUN masking or zoning), or present it to all again", cmd_mask)
    k.add_argument("lun", metavar="LUN", help="the LUN (lun1, lun2...: 'show' lists them)")
    k.add_argument("--site", required=True, metavar="SITE", help="the site of the copy")
    k.add_argument("--host", action="append", metavar="HOST",
                   help="hide it from this host (uuid or name; repeatable; default every "
                        "host of the site)")
    k.add_argument("--clear", action="store_true", help="present it to every host again")
    for name, fn, text in (("disaster", cmd_disaster,
                            "a site goes dark: its xe can no longer reach its master"),
                           ("restore", cmd_restore,
                            "a dark site comes back, as after a power cycle: VMs halted, "
                            "SRs plugged again where their LUN is writable")):
        d = command(name, text, fn)
        d.add_argument("--site", action="append", metavar="SITE",
                       help="the site (repeatable; default every primary site: A, or an "
                            "estate's A1, A2...)")
    o = command("storage", "print xe-dr's storage options (--target, --iqn, --scsiid, "
                           "--hba-scsiid) that reach a source pool's replicas at its DR pool",
                cmd_storage)
    o.add_argument("source", metavar="SOURCE", help="the source pool (A, or an estate's A3)")
    o.add_argument("--site", metavar="SITE",
                   help="at this site (default: the pool its LUNs are mirrored to)")
    o.add_argument("--json", action="store_true", help="print them as a JSON list")
    f = command("fault", "make xe calls fail, wait or kill their client", cmd_fault)
    f.add_argument("action", choices=["add", "list", "clear"],
                   help="add a rule, list the rules (JSON lines), or clear them all")
    f.add_argument("--site", default="*", metavar="SITE",
                   help="only calls to this site (default: any)")
    f.add_argument("--command", default="*", metavar="XE-COMMAND",
                   help="only this xe command, e.g. vm-start (default: any)")
    f.add_argument("--nth", type=int, default=1, metavar="N",
                   help="fire on the Nth matching call (default 1)")
    f.add_argument("--every", action="store_true",
                   help="and on every matching call after it")
    f.add_argument("--delay", type=float, default=0.0, metavar="SECONDS",
                   help="seconds to wait before the call runs")
    f.add_argument("--after", type=float, default=0.0, metavar="SECONDS",
                   help="seconds to wait once the call made its change, before answering")
    f.add_argument("--kill-client", choices=("before", "after"),
                   help="SIGKILL the process that ran xe as the call arrives (before) or "
                        "once it made its change (after)")
    f.add_argument("--error", nargs="+", metavar="CODE_OR_PARAM",
                   help="fail the call with this xapi error code and its parameters")
    f.add_argument("--dark", action="store_true",
                   help="the site goes dark when the rule fires (that call fails as a dark "
                        "site's; needs --site)")
    f.add_argument("--busy", action="store_true",
                   help="take the delay of a power operation while its VM or vApp is busy "
                        "(current-operations), not before the call")
    k = command("cost", "set the cost factor: how long calls take", cmd_cost)
    k.add_argument("factor", type=float, metavar="FACTOR",
                   help="0 instant (for tests), 1 as on real hosts")
    g = command("guest", "how a VM's guest boots, reports, sets up its network, answers an "
                         "in-guest health check and a clean shutdown", cmd_guest, site=True)
    g.add_argument("vm", metavar="VM", help="the VM's UUID or name (at SITE; its boot, "
                                            "health-check and network settings follow its "
                                            "UUID to the other site)")
    g.add_argument("--shutdown", choices=["cooperates", "ignores", "hangs"],
                   help="cooperates: it halts; ignores: never acknowledged; hangs: "
                        "acknowledged but the VM never halts")
    _guest_options(g, "")
    t = command("set", "set a field the CLI cannot set, directly in a site's database "
                       "(for tests and demos)", cmd_set, site=True)
    t.add_argument("cls", metavar="CLASS", help="xe class (vm, pool, host, sr...) or table name")
    t.add_argument("uuid", metavar="UUID", help="the object's UUID")
    t.add_argument("field", metavar="FIELD", help="API field name, or FIELD:KEY for a map")
    t.add_argument("value", metavar="VALUE", help="the new value (a string, or see --json)")
    t.add_argument("--json", action="store_true", help="the value is JSON")
    l = command("calls", "print the call log: every xe call, its exit and time",  # noqa: E741
                cmd_calls)
    l.add_argument("--json", action="store_true", help="one JSON object a line")
    v = command("serve", "a real sshd per site on 127.0.0.1 running its xe, until stopped",
                cmd_serve)
    v.add_argument("--site", action="append", metavar="SITE",
                   help="only this site (repeatable; default every site)")
    v.add_argument("--sites-file", metavar="FILE",
                   help="once every site listens, write FILE: xe-dr's sites file of the "
                        "served sites (pools named as the sites, masters on their ports)")
    command("destroy", "remove a lab and everything in its directory", cmd_destroy)
    return p


def main(argv=None, out=None):
    out = out or sys.stdout
    args = parser().parse_args(argv)
    if not getattr(args, "fn", None):
        parser().print_help(out)
        return 64
    try:
        return args.fn(args, out)
    except (LabNotFound, ValueError, KeyError) as e:
        sys.stderr.write("xe-dr lab: %s\n" % (e.args[0] if e.args else e))
        return 1
    except (IOError, OSError) as e:
        sys.stderr.write("xe-dr lab: %s: %s\n" % (e.filename or "", e.strerror or e))
        return 1
    except KeyboardInterrupt:
        return 130
