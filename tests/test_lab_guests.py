"""The lab's guests (xe_dr/lab/guests.py): what a started VM's guest reports as xapi shows it,
XO's in-guest health check through xenstore, and the pinning of VMs on a network without a PIF.

xapi facts (xen-api e2ee48d): VM.start clears the guest metrics (xapi_vm.ml ``start``); a record
appears with the domain, PV drivers not detected (xapi_xenops.ml
``create_guest_metrics_if_needed``); the agent's report fills it (xapi_guest_agent.ml); the
VM's xenstore-data is the domain's vm-data subtree once it runs (xapi_xenops.ml
``xsdata_state``, CTX226713); a VM on a network without a PIF boots only where the running VMs
on it are (xapi_network_attach_helpers.ml ``assert_can_see_named_networks``).
"""

import calendar
import io
import time

import pytest

from xe_dr.lab import cli, guests
from xe_dr.xe.errors import parse_error

NID = "<not in database>"
HEALTH = "vm-data/xo-backup-health-check"


def get(lab, vm, field, *key, site="A"):
    return lab.ok(site, "vm-param-get", "uuid=" + vm, "param-name=" + field, *key).value


def epoch(date):
    return calendar.timegm(time.strptime(date, "%Y%m%dT%H:%M:%SZ"))


def halt(lab, name, site="A"):
    vm = lab.vm_uuid(name, site)
    if get(lab, vm, "power-state", site=site) != "halted":
        lab.ok(site, "vm-shutdown", "uuid=" + vm)
    return vm


def lab_cli(*args):
    out = io.StringIO()
    code = cli.main(list(args), out=out)
    return code, out.getvalue()


# --- guest metrics -------------------------------------------------------------------------

def test_a_running_vm_shows_what_its_guest_agent_reported(lab):
    web = lab.vm_uuid("web-01")
    assert get(lab, web, "PV-drivers-detected") == "true"
    assert get(lab, web, "live") == "true"
    assert get(lab, web, "PV-drivers-version", "param-key=major") == "8"
    assert get(lab, web, "os-version", "param-key=distro") in ("debian", "rocky", "windows")
    assert get(lab, web, "networks", "param-key=0/ip").startswith("10.")
    assert get(lab, web, "can-use-hotplug-vbd") == "yes"
    # reported a minute after the VM started
    assert epoch(get(lab, web, "guest-metrics-last-updated")) == \
        epoch(get(lab, web, "start-time")) + 60
    dom0 = lab.ok("A", "vm-list", "is-control-domain=true", "params=uuid", "--minimal").values[0]
    for field in ("PV-drivers-detected", "live", "guest-metrics-last-updated", "networks"):
        assert get(lab, dom0, field) == NID  # xenopsd does not manage dom0


def test_a_start_clears_the_metrics_and_the_guest_reports_after_its_boot_time(lab):
    web = halt(lab, "web-01")
    before = get(lab, web, "guest-metrics-last-updated")
    assert get(lab, web, "PV-drivers-detected") == "true"  # a halted VM keeps its record
    lab.cli("guest", "A", "web-01", "--boot-seconds", "600")
    lab.ok("A", "vm-start", "uuid=" + web)
    started = get(lab, web, "start-time")
    # the old record is gone; the new one has nothing from the agent yet
    assert get(lab, web, "PV-drivers-detected") == "false"
    assert get(lab, web, "live") == "true"
    assert get(lab, web, "networks") == "" and get(lab, web, "os-version") == ""
    assert get(lab, web, "can-use-hotplug-vif") == "unspecified"
    assert epoch(get(lab, web, "guest-metrics-last-updated")) >= epoch(started) > epoch(before)
    generation = lab.db("A").generation
    guests.advance(lab.lab.site("A"), now=time.time() + 601)  # ten minutes later
    assert get(lab, web, "PV-drivers-detected") == "true"
    assert get(lab, web, "PV-drivers-up-to-date") == "true"
    assert get(lab, web, "networks", "param-key=0/ipv4/0").startswith("10.")
    assert epoch(get(lab, web, "guest-metrics-last-updated")) == epoch(started) + 600
    assert lab.db("A").generation == generation + 1  # the agent's report is a database write


def test_a_guest_reports_in_its_own_real_boot_time(lab):
    web = halt(lab, "web-01")
    lab.cli("guest", "A", web, "--boot-seconds", "1")
    lab.ok("A", "vm-start", "uuid=" + web)
    give_up = time.time() + 60
    while get(lab, web, "PV-drivers-detected") != "true":
        assert time.time() < give_up, "the guest never reported"
        time.sleep(0.2)


def test_a_guest_without_pv_tools_never_reports(lab):
    web = halt(lab, "web-01")
    lab.cli("guest", "A", "web-01", "--tools", "no")
    lab.ok("A", "vm-start", "uuid=" + web)
    guests.advance(lab.lab.site("A"), now=time.time() + 86400)
    assert get(lab, web, "PV-drivers-detected") == "false"
    assert get(lab, web, "PV-drivers-version") == "" and get(lab, web, "networks") == ""


def test_a_lab_made_without_tools_has_guests_that_never_report(lab_factory):
    lab = lab_factory(guest_tools=False)
    web = lab.vm_uuid("web-01")
    assert get(lab, web, "PV-drivers-detected") == "false"
    halt(lab, "web-01")
    lab.ok("A", "vm-start", "uuid=" + web)
    assert get(lab, web, "PV-drivers-detected") == "false"


def test_a_recovered_copy_carries_productions_metrics_until_it_starts(lab):
    web = lab.vm_uuid("web-01")
    reported = get(lab, web, "guest-metrics-last-updated")
    lab.enable_replication()
    lab.failover_task()
    lab.ok("B", "vm-recover", "uuid=" + web, "database:vdi-uuid=" + lab.metadata_vdi("B"))
    # import.ml GuestMetrics: the record comes along, dated as production's
    assert get(lab, web, "PV-drivers-detected", site="B") == "true"
    assert get(lab, web, "guest-metrics-last-updated", site="B") == reported
    lab.cli("guest", "B", web, "--boot-seconds", "600")
    lab.ok("B", "vm-start", "uuid=" + web)
    assert get(lab, web, "PV-drivers-detected", site="B") == "false"
    assert epoch(get(lab, web, "guest-metrics-last-updated", site="B")) >= \
        epoch(get(lab, web, "start-time", site="B"))


# --- xenstore and XO's health check ----------------------------------------------------------

@pytest.mark.parametrize("answer", ["success", "failure", "hang"])
def test_the_in_guest_health_check_answers_through_xenstore(lab, answer):
    web = halt(lab, "web-01")
    lab.cli("guest", "A", "web-01", "--health-check", answer,
            "--health-check-error", "fsck: /dev/xvda1; 3 errors")
    lab.ok("A", "vm-param-set", "uuid=" + web, "xenstore-data:%s=planned" % HEALTH,
           "xenstore-data:other-key=gone at the start")
    lab.ok("A", "vm-start", "uuid=" + web)
    written = {"success": "success", "failure": "failure", "hang": "running"}[answer]
    assert get(lab, web, "xenstore-data", "param-key=" + HEALTH) == written
    error = lab.xe("A", "vm-param-get", "uuid=" + web, "param-name=xenstore-data",
                   "param-key=%s-error" % HEALTH)
    if answer == "failure":
        assert error.value == "fsck: /dev/xvda1; 3 errors"
    else:
        assert error.code == 1 and "Key %s-error not found in map" % HEALTH in error.err
    # exactly the domain's vm-data subtree, directory node included (CTX226713)
    assert lab.xe("A", "vm-param-get", "uuid=" + web, "param-name=xenstore-data",
                  "param-key=other-key").code == 1
    assert get(lab, web, "xenstore-data", "param-key=vm-data") == ""


def test_the_check_runs_only_when_planned_and_only_after_the_boot(lab):
    web = halt(lab, "web-01")
    lab.cli("guest", "A", "web-01", "--health-check", "success")
    lab.ok("A", "vm-start", "uuid=" + web)  # nothing planned: XO's script does nothing
    assert get(lab, web, "xenstore-data") == "vm-data: "
    lab.ok("A", "vm-shutdown", "uuid=" + web)
    lab.cli("guest", "A", "web-01", "--boot-seconds", "600")
    lab.ok("A", "vm-param-set", "uuid=" + web, "xenstore-data:%s=planned" % HEALTH)
    lab.ok("A", "vm-start", "uuid=" + web)
    assert get(lab, web, "xenstore-data", "param-key=" + HEALTH) == "planned"
    guests.advance(lab.lab.site("A"), now=time.time() + 601)
    assert get(lab, web, "xenstore-data", "param-key=" + HEALTH) == "success"


def test_a_previous_answer_stays_in_xenstore_data_after_a_halt(lab):
    """Why xe-dr writes ``planned`` first: the answer of an earlier boot is carried into the
    next domain and shown again."""
    web = halt(lab, "web-01")
    lab.cli("guest", "A", "web-01", "--health-check", "success")
    lab.ok("A", "vm-param-set", "uuid=" + web, "xenstore-data:%s=planned" % HEALTH)
    lab.ok("A", "vm-start", "uuid=" + web)
    lab.ok("A", "vm-shutdown", "uuid=" + web)
    lab.cli("guest", "A", "web-01", "--health-check", "hang")
    lab.ok("A", "vm-start", "uuid=" + web)
    assert get(lab, web, "xenstore-data", "param-key=" + HEALTH) == "success"


def test_bad_guest_settings_are_refused_in_one_line(lab, capsys):
    capsys.readouterr()
    assert lab_cli("guest", lab.root, "A", "web-01")[0] == 1
    assert capsys.readouterr().err == (
        "xe-dr lab: say what the guest does: --shutdown, --tools, --health-check, "
        "--health-check-error, --boot-seconds, --static-ip-setting, --network-script, --ipv6 "
        "(or --show)\n")
    assert lab_cli("guest", lab.root, "A", "web-01", "--boot-seconds", "-1")[0] == 1
    assert capsys.readouterr().err == "xe-dr lab: a boot time is 0 seconds or more, not -1.0\n"


# --- network pinning -------------------------------------------------------------------------

def _isolated(lab, *names):
    net = lab.ok("A", "network-create", "name-label=isolated").value
    vms = [halt(lab, name) for name in names]
    for vm in vms:
        lab.ok("A", "vif-create", "vm-uuid=" + vm, "network-uuid=" + net, "device=5")
    hosts = dict((lab.ok("A", "host-param-get", "uuid=" + h, "param-name=name-label").value, h)
                 for h in lab.ok("A", "host-list", "params=uuid", "--minimal").values)
    return net, vms, hosts


def test_a_network_without_a_pif_pins_its_vms_to_one_host(lab):
    net, (web, app), hosts = _isolated(lab, "web-01", "app-01")
    lab.ok("A", "vm-start", "uuid=" + web, "on=" + hosts["xcp-a2"])
    refused = lab.xe("A", "vm-start", "uuid=" + app, "on=" + hosts["xcp-a1"])
    assert refused.code == 1
    assert refused.err == (
        "You attempted to run a VM on a host which doesn't have a PIF on a Network needed by "
        "the VM. The VM has at least one VIF attached to the Network.\n"
        "vm: %s (app-01)\nnetwork: %s (isolated)\n" % (app, net))
    assert parse_error(refused.err).code == "VM_REQUIRES_NETWORK"  # xe-dr reads it so
    assert get(lab, app, "power-state") == "halted"
    lab.ok("A", "vm-start", "uuid=" + app)  # placed where the network is
    assert get(lab, app, "resident-on") == hosts["xcp-a2"]


def test_only_running_vms_pin_and_a_network_declared_shared_pins_none(lab):
    net, (web, app), hosts = _isolated(lab, "web-01", "app-01")
    lab.ok("A", "vm-start", "uuid=" + web, "on=" + hosts["xcp-a2"], "--paused")
    lab.ok("A", "vm-start", "uuid=" + app, "on=" + hosts["xcp-a1"])  # a paused VM pins not
    lab.ok("A", "vm-shutdown", "uuid=" + web, "--force")
    refused = lab.xe("A", "vm-start", "uuid=" + web, "on=" + hosts["xcp-a2"])
    assert refused.code == 1
    assert "doesn't have a PIF on a Network needed by the VM" in refused.err
    lab.ok("A", "network-param-set", "uuid=" + net,
           "other-config:assume_network_is_shared=true")
    lab.ok("A", "vm-start", "uuid=" + web, "on=" + hosts["xcp-a2"])
    assert get(lab, web, "resident-on") == hosts["xcp-a2"]
    assert get(lab, app, "resident-on") == hosts["xcp-a1"]


def test_no_host_has_both_the_pinned_network_and_the_vms_local_disk(lab):
    net, (web, dns), hosts = _isolated(lab, "web-01", "dns-01")  # dns-01: on xcp-a1's disk
    lab.ok("A", "vm-start", "uuid=" + web, "on=" + hosts["xcp-a2"])
    refused = lab.xe("A", "vm-start", "uuid=" + dns)
    assert refused.code == 1
    assert refused.err == "There were no servers available to complete the specified " \
                          "operation.\n"
    assert parse_error(refused.err).code == "NO_HOSTS_AVAILABLE"
