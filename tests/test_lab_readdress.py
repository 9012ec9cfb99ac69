"""Re-addressing in the lab: vif-configure-ipv4/-ipv6 as xapi checks and records them, and what
each kind of guest makes of them, or of Ansible's xenstore keys, at its next boot.

xapi facts (xen-api e2ee48d, the same at v24.19.2 unless said; xe_dr/lab/vif.py): a Static
setting needs the pool's Guest_ip_setting feature (restrict_guest_ip_setting) and a CIDR address;
every mode needs the VM's guest metrics to advertise feature-static-ip-setting=1, else
VM_LACKS_FEATURE, also for a halted VM (judged by the metrics it keeps, a recovered copy by
production's); the modes are none and static up to v26.15, DHCP/Autoconf after. The tools
(Windows' advertise the feature, Linux's xe-guest-utilities do not) apply the VIF's
static-ip-setting; a boot script may apply vm-data/networks/<n>/... (Ansible's keys); neither
carries DNS. The lab's guests report the result in guest metrics networks (<n>/ip, <n>/ipv4/0,
<n>/ipv6/0).
"""

import time

from xe_dr.lab import guests

NID = "<not in database>"


def get(lab, site, cls, uuid, field, *key):
    return lab.ok(site, cls + "-param-get", "uuid=" + uuid, "param-name=" + field, *key).value


def vif_of(lab, vm, device="0", site="A"):
    return lab.uuid(site, "vif", **{"vm-uuid": vm, "device": device})


def halt(lab, name):
    vm = lab.vm_uuid(name)
    lab.ok("A", "vm-shutdown", "uuid=" + vm)
    return vm


def lacks_feature(vm, name):
    return "You attempted an operation on a VM which lacks the feature.\nvm: %s (%s)\n" % (
        vm, name)


def test_a_static_setting_is_checked_for_licence_then_address_then_the_guests_feature(lab):
    web = lab.vm_uuid("web-01")  # Rocky Linux: its tools do not advertise the feature
    vif = vif_of(lab, web)
    pool = lab.uuid("A", "pool")
    lab.poke("A", "pool", pool, restrictions={"restrict_dr": "false"})  # no Guest_ip_setting
    unlicensed = lab.xe("A", "vif-configure-ipv4", "uuid=" + vif, "mode=static",
                        "address=not-an-address")
    assert (unlicensed.code, unlicensed.err) == (1, (
        "This operation is not allowed because your license lacks a needed feature. Please "
        "contact your support representative.\nfeature: Guest_ip_setting\n"))
    # mode none needs no licence: only the guest's feature
    none = lab.xe("A", "vif-configure-ipv4", "uuid=" + vif, "mode=none")
    assert (none.code, none.err) == (1, lacks_feature(web, "web-01"))
    lab.poke("A", "pool", pool, restrictions={"restrict_guest_ip_setting": "false"})
    bad_address = lab.xe("A", "vif-configure-ipv4", "uuid=" + vif, "mode=static",
                         "address=10.99.0.5")  # no prefix length
    assert bad_address.err == ("A required parameter contained an invalid CIDR address "
                               "(<addr>/<prefix length>)\nparameter: address\n")
    bad_gateway = lab.xe("A", "vif-configure-ipv6", "uuid=" + vif, "mode=static",
                         "address=fd00::5/64", "gateway=10.99.0.1")
    assert bad_gateway.err == ("A required parameter contained an invalid IP address\n"
                               "parameter: gateway\n")
    good = lab.xe("A", "vif-configure-ipv4", "uuid=" + vif, "mode=static",
                  "address=10.99.0.5/24", "gateway=10.99.0.1")
    assert (good.code, good.err) == (1, lacks_feature(web, "web-01"))
    # the CLI's own checks, before any of xapi's (cli_operations.ml, record_util.ml)
    no_address = lab.xe("A", "vif-configure-ipv4", "uuid=" + vif, "mode=Static")
    assert no_address.err.endswith("message: Failure: Required parameter not found: address\n")
    dhcp = lab.xe("A", "vif-configure-ipv4", "uuid=" + vif, "mode=DHCP")
    assert dhcp.err == "Error: Expected 'none' or 'static', got dhcp\n"  # XCP-ng 8.3's xapi
    assert get(lab, "A", "vif", vif, "ipv4-configuration-mode") == "None"


def test_vif_param_list_shows_the_setting_and_a_running_capable_guest_applies_it_at_once(lab):
    db = lab.vm_uuid("db-01")  # Windows Server: its tools advertise feature-static-ip-setting
    assert get(lab, "A", "vm", db, "other", "param-key=feature-static-ip-setting") == "1"
    vif = vif_of(lab, db)
    lab.ok("A", "vif-configure-ipv4", "uuid=" + vif, "mode=static", "address=10.99.0.5/24",
           "gateway=10.99.0.1")
    lab.ok("A", "vif-configure-ipv6", "uuid=" + vif, "mode=static", "address=fd00::5/64")
    lines = lab.ok("A", "vif-param-list", "uuid=" + vif).out.splitlines()
    shown = [line.lstrip() for line in lines if "-configuration-mode" in line or
             "-addresses" in line or "-gateway" in line]
    assert shown == ["ipv4-configuration-mode ( RO): Static",
                     "ipv4-addresses ( RO): 10.99.0.5/24",
                     "ipv4-gateway ( RO): 10.99.0.1",
                     "ipv6-configuration-mode ( RO): Static",
                     "ipv6-addresses ( RO): fd00::5/64",
                     "ipv6-gateway ( RO): "]
    # the agent applied it and reported: VIFs last first, IPv6 before IPv4 within one
    assert get(lab, "A", "vm", db, "networks") == (
        "1/ip: 10.30.0.12; 1/ipv4/0: 10.30.0.12; "
        "0/ipv6/0: fd00::5; 0/ip: 10.99.0.5; 0/ipv4/0: 10.99.0.5")
    lab.ok("A", "vif-configure-ipv4", "uuid=" + vif, "mode=none")
    assert [get(lab, "A", "vif", vif, f) for f in (
        "ipv4-configuration-mode", "ipv4-addresses", "ipv4-gateway")] == ["None", "", ""]


def test_each_kind_of_guest_reports_its_addresses_after_a_start_and_none_changes_dns(lab):
    windows, script, plain, no_agent = (halt(lab, name) for name in (
        "db-01", "web-01", "app-01", "queue-01"))
    for vm in (windows, script, plain, no_agent):  # Ansible's keys (xenserver_guest, custom)
        lab.ok("A", "vm-param-set", "uuid=" + vm,
               "xenstore-data:vm-data/networks/0/type=static",
               "xenstore-data:vm-data/networks/0/ip=10.77.0.9",
               "xenstore-data:vm-data/networks/0/netmask=255.255.255.0",
               "xenstore-data:vm-data/networks/0/gateway=10.77.0.1",
               "xenstore-data:vm-data/networks/0/dns=10.77.0.53")  # no such key in Ansible's
    lab.ok("A", "vif-configure-ipv4", "uuid=" + vif_of(lab, windows), "mode=static",
           "address=10.99.0.5/24", "gateway=10.99.0.1")
    lab.cli("guest", "A", "db-01", "--network-script", "yes")  # the tools' setting wins
    lab.cli("guest", "A", "web-01", "--network-script", "yes")
    lab.cli("guest", "A", "queue-01", "--network-script", "yes", "--tools", "no")
    lab.cli("guest", "A", "app-01", "--ipv6", "0=fd20::11/64,fd20::1")  # its own IPv6 too
    for vm in (windows, script, plain, no_agent):
        lab.ok("A", "vm-start", "uuid=" + vm)
    assert get(lab, "A", "vm", windows, "networks", "param-key=0/ip") == "10.99.0.5"
    assert get(lab, "A", "vm", script, "networks") == "0/ip: 10.77.0.9; 0/ipv4/0: 10.77.0.9"
    assert get(lab, "A", "vm", plain, "networks") == (
        "0/ipv6/0: fd20::11; 0/ip: 10.20.0.11; 0/ipv4/0: 10.20.0.11")
    assert get(lab, "A", "vm", no_agent, "networks") == ""  # no agent reports what it set up
    inside = lab.db("A")
    assert guests.inside(inside, no_agent)["nics"]["0"]["ipv4"] == {
        "address": "10.77.0.9/24", "gateway": "10.77.0.1", "from": "xenstore"}
    for vm in (windows, script, plain, no_agent):
        assert guests.inside(inside, vm)["dns"] == ["10.0.1.2"]  # production's resolver
    shown = lab.cli("guest", "A", "db-01", "--show")
    assert shown.endswith(" inside the running guest:\n"
                          "  NIC 0 ipv4 10.99.0.5/24 gateway 10.99.0.1 (vif)\n"
                          "  NIC 1 ipv4 10.30.0.12/16 gateway 10.30.0.1 (own)\n"
                          "  DNS 10.0.1.2\n")


def test_a_recovered_halted_vm_takes_a_setting_only_if_productions_guest_advertised_it(lab):
    windows, linux = lab.vm_uuid("proxy-01"), lab.vm_uuid("web-01")
    lab.enable_replication()
    lab.failover_task()
    for vm in (windows, linux):
        lab.ok("B", "vm-recover", "uuid=" + vm, "database:vdi-uuid=" + lab.metadata_vdi("B"))
        assert get(lab, "B", "vm", vm, "power-state") == "halted"
    refused = lab.xe("B", "vif-configure-ipv4", "uuid=" + vif_of(lab, linux, site="B"),
                     "mode=static", "address=10.120.5.10/16", "gateway=10.120.0.1")
    assert (refused.code, refused.err) == (1, lacks_feature(linux, "web-01"))
    lab.ok("B", "vif-configure-ipv4", "uuid=" + vif_of(lab, windows, site="B"),
           "mode=static", "address=10.120.5.15/16", "gateway=10.120.0.1")
    # still production's report until the start clears it
    assert get(lab, "B", "vm", windows, "networks", "param-key=0/ip") == "10.20.0.15"
    lab.cli("guest", "B", "proxy-01", "--boot-seconds", "600")
    lab.ok("B", "vm-start", "uuid=" + windows)
    assert get(lab, "B", "vm", windows, "networks") == ""
    guests.advance(lab.lab.site("B"), now=time.time() + 601)
    assert get(lab, "B", "vm", windows, "networks") == (
        "0/ip: 10.120.5.15; 0/ipv4/0: 10.120.5.15")


def test_newer_xapi_takes_dhcp_and_autoconf_and_the_lab_has_no_server_for_them(lab_factory):
    lab = lab_factory(release="xcp-ng-9")
    db = lab.vm_uuid("db-01")
    vif = vif_of(lab, db)
    typo = lab.xe("A", "vif-configure-ipv6", "uuid=" + vif, "mode=dhcp")
    assert typo.err == "Error: Expected one of 'None', 'Static', 'Autoconf', got dhcp\n"
    lab.ok("A", "vif-configure-ipv4", "uuid=" + vif, "mode=DHCP")
    lab.ok("A", "vif-configure-ipv6", "uuid=" + vif, "mode=autoconf")
    assert get(lab, "A", "vif", vif, "ipv4-configuration-mode") == "DHCP"
    assert get(lab, "A", "vif", vif, "ipv6-configuration-mode") == "Autoconf"
    assert get(lab, "A", "vm", db, "networks") == "1/ip: 10.30.0.12; 1/ipv4/0: 10.30.0.12"
