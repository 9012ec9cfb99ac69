"""``xe-dr plan init|validate|show`` on the lab (issue 18): a plan made from site A as it is,
in sync with it and with site B; drift named item by item (exit 2); a group that does not fit
at the DR site named by ``show --at``; a file that is not a plan, one line (exit 78)."""

import pytest

from xe_dr.dr import recovery_plan
from xe_dr.dr.plan_checks import guest_addresses
from xe_dr.dr.recovery_plan_text import render

GIB = 2 ** 30


@pytest.fixture
def site(drill):
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    return drill


def peer(site):
    return ["--peer", "local", "--peer-xe", site.lab.xe_path("B")]


def with_ipv6(site, name, where, address):
    """The guest of VM ``name`` at site ``where`` given its own IPv6 address (NIC 0), and
    rebooted: its agent reports it."""
    site.lab.cli("guest", where, name, "--ipv6", "0=" + address)
    uuid = site.lab.uuid(where, "vm", **{"name-label": name})
    site.lab.ok(where, "vm-shutdown", "uuid=" + uuid)
    site.lab.ok(where, "vm-start", "uuid=" + uuid)


def init(site, path, *extra):
    result = site.xedr("A", "plan", "init", str(path), *extra)
    assert result.code == 0, result
    return recovery_plan.read(str(path))


def test_a_plan_made_from_site_a_is_in_sync_with_both_sites(site, tmp_path):
    path = tmp_path / "site-a.plan"
    with_ipv6(site, "web-01", "A", "fd20::10/64")
    # without the DR site: every network mapped to create, and said so
    alone = site.xedr("A", "plan", "init", str(tmp_path / "alone.plan"))
    assert alone.code == 0 and "DR site not checked" in alone.out, alone
    plan = init(site, path, *peer(site))
    # every protected vApp and VM, by xapi's order; the vApps in the first group
    assert [(g["name"], g["vapps"], g["vms"]) for g in plan["groups"]] == [
        ("order 0", ["erp", "webshop"], ["queue-01"]),
        ("order 1", [], ["cache-01", "mon-01"])]
    assert plan["networks"] == {"DMZ": "create", "Storage": "Storage",
                                "VM Network": "VM Network"}
    assert plan["sites"]["dr"] == "local" and plan["sites"]["dr_xe"] == site.lab.xe_path("B")
    # the guests' addresses now, for failback
    web = site.lab.ok("A", "vm-list", "name-label=web-01", "params=networks",
                      "--minimal").value
    assert plan["vms"]["web-01"]["addresses"]["0"] in web
    assert (plan["vms"]["web-01"]["addresses6"], plan["vms"]["app-01"]["addresses6"]) == (
        {"0": "fd20::10"}, {})
    unchecked = site.xedr("A", "plan", "validate", str(tmp_path / "alone.plan"))
    assert unchecked.code == 0
    assert unchecked.out.strip() == "plan %s: in sync (DR site not checked)" % (
        tmp_path / "alone.plan")
    checked = site.xedr("A", "--json", "plan", "validate", str(path))
    assert checked.code == 0, checked
    assert (checked.json["in_sync"], checked.json["dr_checked"], checked.json["drift"]) == (
        True, True, [])


def test_drift_is_named_item_by_item_with_exit_2(site, tmp_path):
    path = tmp_path / "site-a.plan"
    init(site, path, *peer(site))
    site.lab.ok("A", "vm-shutdown", "--force", "uuid=" + site.lab.vm_uuid("queue-01"))
    site.lab.ok("A", "vm-destroy", "uuid=" + site.lab.vm_uuid("queue-01"))
    storage_b = site.lab.uuid("B", "network", **{"name-label": "Storage"})
    site.lab.ok("B", "network-param-set", "uuid=" + storage_b, "name-label=Storage (old)")
    result = site.xedr("A", "plan", "validate", str(path))
    assert result.code == 2, result
    assert result.out.splitlines() == [
        "plan %s: 2 item(s) drifted" % path,
        "  drift: VM queue-01 of group order 0 no longer exists at the source",
        "  drift: network Storage is mapped to Storage, which the DR site does not have (map "
        "it to create, or to a network there)"]


def test_a_protected_vm_in_no_group_and_a_vm_in_two_are_drift(site, tmp_path):
    path = tmp_path / "site-a.plan"
    plan = init(site, path, *peer(site))
    plan["groups"][1]["vms"] = ["cache-01", "queue-01"]  # queue-01 in order 0 too
    plan["groups"][0]["vapps"] = ["erp"]                # webshop in no group
    path.write_text(render(plan))
    result = site.xedr("A", "--json", "plan", "validate", str(path))
    assert result.code == 2
    assert result.json["drift"] == [
        "VM queue-01 is in two groups: order 0 and order 1",
        "protected VM build-01 (vApp webshop) is in no group of the plan",
        "protected VM ldap-01 (vApp webshop) is in no group of the plan",
        "protected VM mon-01 is in no group of the plan",
        "protected VM proxy-01 (vApp webshop) is in no group of the plan"]


def test_show_at_the_dr_site_names_the_first_group_that_does_not_fit(site, tmp_path):
    path = tmp_path / "site-a.plan"
    init(site, path, *peer(site))
    db = site.lab.db("B")
    # 12 GiB free on each DR host: order 0 (22.2 GiB) fits, with order 1 (25.2 GiB) the VMs
    # placed largest first leave two without a host
    for host in db.hosts():
        row = db.get("host", host)
        less = int(row["memory_free"]) - 12 * GIB
        site.lab.poke("B", "host", row["uuid"], memory_total=int(row["memory_total"]) - less,
                      memory_free=int(row["memory_free"]) - less)
    result = site.xedr("A", "plan", "show", str(path), "--at", "local", "--at-xe",
                       site.lab.xe_path("B"))
    assert result.code == 2, result
    lines = result.out.splitlines()
    assert lines[lines.index("group order 0") + 5].endswith(", fits"), lines
    assert lines[lines.index("group order 1") + 4].endswith(
        "25.2 GiB to start so far, does not fit: no host for web-01, proxy-01"), lines
    assert "network DMZ -> create: made (internal) by the run" in lines
    assert "network Storage -> Storage: at the DR site" in lines
    assert [line for line in lines if line.startswith("DR host ")] == [  # as xapi computes it
        "DR host xcp-b1: 11.9 GiB free", "DR host xcp-b2: 11.9 GiB free"]
    as_json = site.xedr("A", "--json", "plan", "show", str(path), "--at", "local", "--at-xe",
                        site.lab.xe_path("B"))
    assert [c["unplaced"] for c in as_json.json["capacity"]] == [[], ["web-01", "proxy-01"]]


def test_an_address_a_dr_guest_uses_is_drift_and_shown_at_the_dr_site(site, tmp_path):
    """B's own guests b-monitor and b-backup run at 10.120.0.10 and .11 (b-monitor also at
    fd21::10): moving VM Network from 10.20/16 to 10.120/16 (and fd20::/64 to fd21::/64)
    gives web-01 and app-01 theirs."""
    path = tmp_path / "site-a.plan"
    with_ipv6(site, "web-01", "A", "fd20::10/64")
    with_ipv6(site, "b-monitor", "B", "fd21::10/64")
    plan = init(site, path, *peer(site))
    assert (plan["vms"]["web-01"]["addresses"]["0"],
            plan["vms"]["app-01"]["addresses"]["0"]) == ("10.20.0.10", "10.20.0.11")
    plan["readdress"] = [{"from": "10.20.0.0/16", "to": "10.120.0.0/16", "gateway": None},
                         {"from": "fd20::/64", "to": "fd21::/64", "gateway": None}]
    path.write_text(render(plan))
    clashes = ["address 10.120.0.10 of VM web-01 (VIF 0) is in use at the DR site by VM "
               "b-monitor",
               "address fd21::10 of VM web-01 (VIF 0) is in use at the DR site by VM "
               "b-monitor",
               "address 10.120.0.11 of VM app-01 (VIF 0) is in use at the DR site by VM "
               "b-backup"]
    result = site.xedr("A", "--json", "plan", "validate", str(path))
    assert result.code == 2, result
    assert sorted(result.json["drift"]) == sorted(clashes)
    shown = site.xedr("A", "plan", "show", str(path), "--at", "local", "--at-xe",
                      site.lab.xe_path("B"))
    assert shown.code == 2, shown
    assert sorted(line for line in shown.out.splitlines() if line.startswith("drift: ")) == \
        sorted("drift: " + line for line in clashes)
    assert [line for line in shown.out.splitlines() if line.startswith("address web-01 ")] == [
        "address web-01 VIF 0: 10.20.0.10 -> 10.120.0.10/16",
        "address web-01 VIF 0 IPv6: fd20::10 -> fd21::10/64"]
    # b-monitor stopped: its addresses are free
    site.lab.ok("B", "vm-shutdown", "uuid=" + site.lab.uuid("B", "vm", **{
        "name-label": "b-monitor"}))
    assert site.xedr("A", "--json", "plan", "validate", str(path)).json["drift"] == clashes[2:]


def test_a_vifs_ipv6_address_is_the_first_reported_that_is_not_link_local():
    networks = {"0/ipv6/0": "fe80::216:3eff:fe00:1", "0/ipv6/1": "fd20::10",
                "0/ipv6/2": "2001:db8::10", "0/ip": "10.20.0.10", "0/ipv4/0": "10.20.0.10",
                "1/ipv6/10": "fd30::9", "1/ipv6/2": "fd30::12", "2/ipv6/0": "fe80::1"}
    assert guest_addresses(networks, 6) == {"0": "fd20::10", "1": "fd30::12"}
    assert guest_addresses(networks) == {"0": "10.20.0.10"}


def test_a_file_that_is_not_a_plan_and_an_existing_file(site, tmp_path):
    bad = tmp_path / "bad.plan"
    bad.write_text("[plan]\nschema = 1\n[group tier1]\ngate = agent\nvms = db-01\n")
    result = site.xedr("A", "plan", "validate", str(bad))
    assert result.code == 78
    assert result.err.strip() == (
        "xe-dr: error: recovery plan %s line 4: [group tier1] gate = agent: a gate is one of "
        "guest-agent, command, delay, none (fix the plan file (man xe-dr: RECOVERY PLANS))"
        % bad)
    path = tmp_path / "site-a.plan"
    path.write_text("mine")
    refused = site.xedr("A", "plan", "init", str(path))
    assert refused.code == 64 and "exists" in refused.err
    assert path.read_text() == "mine"
