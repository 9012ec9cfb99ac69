"""Faults, dark sites, the call log, concurrency and the cost model."""

import os
import signal
import subprocess
import threading
import time

import pytest

from tests.fixtures_remote import wait_until
from xe_dr.lab import faults


def test_fault_on_nth_call(lab):
    lab.fault(site="B", command="vm-list", nth=2, error=["SR_BACKEND_FAILURE_47", "", "x", ""])
    assert lab.xe("B", "vm-list", "--minimal").code == 0
    r = lab.xe("B", "vm-list", "--minimal")
    assert (r.code, r.err) == (1, "Error code: SR_BACKEND_FAILURE_47\nError parameters: , x, \n")
    assert lab.xe("B", "vm-list", "--minimal").code == 0
    assert lab.xe("A", "vm-list", "--minimal").code == 0  # other site untouched
    rule = faults.rules(lab.lab)[0]
    assert (rule["count"], rule["fired"]) == (3, 1)


def test_fault_every_and_known_error(lab):
    lab.fault(command="vm-start", nth=1, every=True, error=["HOST_OFFLINE", "OpaqueRef:x"])
    vm = lab.vm_uuid("dns-01")
    for _ in range(2):
        r = lab.xe("A", "vm-start", "uuid=" + vm)
        assert r.err == ("You attempted an operation which involves a host which could not be "
                         "contacted.\nhost: OpaqueRef:x\n")
    faults.clear(lab.lab)
    assert lab.xe("A", "vm-start", "uuid=" + vm).code == 0


def test_slow_call(lab):
    lab.fault(command="host-list", delay=0.3)
    t0 = time.time()
    lab.ok("A", "host-list", "--minimal")
    assert time.time() - t0 >= 0.3


def test_a_busy_delay_is_taken_while_the_vm_is_busy(lab):
    """--busy: the delay of a power operation is taken once xapi has marked the VM busy, so
    another operation on it meets OTHER_OPERATION_IN_PROGRESS meanwhile."""
    vm = lab.vm_uuid("dns-01")
    lab.fault(site="A", command="vm-start", delay=2.0, busy=True)
    first = []
    thread = threading.Thread(target=lambda: first.append(lab.xe("A", "vm-start", "uuid=" + vm)))
    thread.start()
    deadline = time.time() + 60
    while lab.ok("A", "vm-param-get", "uuid=" + vm,
                 "param-name=current-operations").value != "start":
        assert time.time() < deadline and thread.is_alive(), "vm-start never got busy"
        time.sleep(0.02)
    second = lab.xe("A", "vm-start", "uuid=" + vm)
    assert second.code == 1 and second.err.startswith(
        "Another operation involving the object is currently in progress"), second
    thread.join(60)
    assert first[0].code == 0, first
    assert lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=power-state").value == \
        "running"
    assert lab.ok("A", "vm-param-get", "uuid=" + vm,
                  "param-name=current-operations").value == ""


@pytest.mark.parametrize("kill", ["ctrl-c", "sigkill"])
def test_a_call_goes_on_when_its_client_is_killed(lab, kill):
    """xapi carries a call out whether or not its xe client is still there (xapi_cli.ml,
    do_rpcs): an xe vm-start killed by a Ctrl-C at its terminal, or by SIGKILL, leaves the VM
    starting, then running. The lab's xe did the work in the client's own process, so its
    death left the VM halted and marked busy for ever."""
    vm = lab.vm_uuid("dns-01")
    lab.fault(site="A", command="vm-start", delay=1.0, busy=True)
    client = subprocess.Popen([lab.xe_path("A"), "vm-start", "uuid=" + vm],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # a terminal's foreground job

    def operations():
        return lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=current-operations").value

    wait_until(lambda: operations() == "start", "vm-start to get busy")
    if kill == "ctrl-c":
        os.killpg(client.pid, signal.SIGINT)
    else:
        client.kill()
    assert client.wait(60) < 0  # the client died of its signal
    wait_until(lambda: operations() == "", "the start to end")
    assert lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=power-state").value == \
        "running"


def test_the_call_reads_its_clients_stdin(lab):
    """The call's server keeps the client's stdin: xe asks there before it destroys a VM
    (vm-uninstall without --force), and a "yes" piped in is the answer."""
    vm = lab.vm_uuid("dns-01")
    proc = subprocess.Popen([lab.xe_path("A"), "vm-uninstall", "uuid=" + vm],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out, _ = proc.communicate(b"yes\n", timeout=60)
    assert proc.returncode == 0 and b"All objects destroyed" in out, out
    assert lab.xe("A", "vm-param-get", "uuid=" + vm, "param-name=uuid").code == 1


def test_a_dark_rule_darkens_its_site_at_that_call(lab):
    lab.fault(site="A", command="vm-list", nth=2, dark=True)
    assert lab.xe("A", "vm-list", "--minimal").code == 0
    assert lab.xe("A", "host-list", "--minimal").code == 0  # another command: not counted
    for command in ("vm-list", "host-list"):
        r = lab.run("A", command)
        assert (r.code, r.err) == (1, "Unable to contact server. Please check server and "
                                      "port settings.\n"), command
    assert lab.xe("B", "vm-list", "--minimal").code == 0
    lab.restore("A")
    assert lab.xe("A", "vm-list", "--minimal").code == 0


def test_dark_site_and_restore(lab):
    vm = lab.vm_uuid("web-01")
    lab.disaster("A")
    r = lab.run("A", "vm-list")
    assert (r.code, r.err) == (1, "Unable to contact server. Please check server and port "
                                  "settings.\n")
    assert lab.xe("B", "vm-list", "--minimal").code == 0
    assert lab.call_log()[-2]["exit"] == 1
    lab.restore("A")
    assert lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=power-state").value == "halted"
    attached = lab.ok("A", "pbd-list", "params=currently-attached", "--minimal").values
    assert set(attached) == {"true"}  # the mirror still runs A -> B: A's LUNs are writable


def test_restore_after_reverse_leaves_luns_unplugged(lab):
    lab.disaster("A")
    lab.mirror("break")
    lab.mirror("reverse")
    lab.restore("A")
    sr, _ = lab.replicated_srs()[0]
    states = lab.ok("A", "pbd-list", "sr-uuid=" + sr, "params=currently-attached",
                    "--minimal").values
    assert set(states) == {"false"}


def test_call_log_entries(lab):
    lab.ok("A", "vm-list", "--minimal")
    lab.xe("A", "sr-probe", "type=lvmoiscsi", "device-config:chappassword=hunter2")
    log = lab.call_log()
    first, second = log[-2], log[-1]
    assert first["site"] == "A" and first["command"] == "vm-list"
    assert first["args"] == ["--minimal"] and first["exit"] == 0
    assert first["db_opens"] == 0 and first["db_open"] is False
    assert first["duration"] >= 0 and first["start"] > 0
    assert second["args"] == ["type=lvmoiscsi", "device-config:chappassword=<redacted>"]
    assert second["exit"] == 1


def test_real_process_and_in_process_agree(lab):
    vm = lab.vm_uuid("web-01")
    for args in (["vm-param-list", "uuid=" + vm], ["vm-start", "uuid=" + vm],
                 ["sr-list", "params=all"]):
        a, b = lab.run("A", *args), lab.xe("A", *args)
        assert (a.out, a.err, a.code) == (b.out, b.err, b.code)


def test_concurrent_writers_lose_nothing(lab):
    vms = lab.ok("A", "vm-list", "is-control-domain=false", "--minimal").values
    procs = [subprocess.Popen([lab.xe_path("A"), "vm-param-set", "uuid=" + vm,
                               "other-config:xe-dr-test=%d" % i],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i, vm in enumerate(vms)]
    assert [p.wait() for p in procs] == [0] * len(vms)
    for i, vm in enumerate(vms):
        assert lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=other-config",
                      "param-key=xe-dr-test").value == str(i)


def _parallel(lab, site, argvs):
    t0 = time.time()
    procs = [subprocess.Popen([lab.xe_path(site)] + argv, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for argv in argvs]
    codes = [p.wait() for p in procs]
    return time.time() - t0, codes


def test_database_opens_are_serialised(lab):
    lab.enable_replication()
    lab.failover_task()
    vdi = lab.metadata_vdi("B")
    lab.set_cost_factor(0.1)  # an open costs 0.3 s
    elapsed, codes = _parallel(lab, "B", [["vm-list", "database:vdi-uuid=" + vdi,
                                           "--minimal"]] * 3)
    assert codes == [0, 0, 0]
    assert elapsed >= 0.9


def test_starts_of_different_vms_overlap(lab):
    vms = lab.ok("A", "vm-list", "power-state=halted", "is-control-domain=false",
                 "--minimal").values[:2]
    assert len(vms) == 2
    lab.set_cost_factor(1.0)  # a start costs 0.3 + 5 s, most of it with the VM "starting"
    procs = [subprocess.Popen([lab.xe_path("A"), "vm-start", "uuid=" + vm],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for vm in vms]
    try:
        # Overlap seen in the pool itself: both VMs in their start operation at one moment
        # (a start serialised behind another could not be), whatever the machine's load.
        deadline = time.time() + 60
        both = False
        while not both and time.time() < deadline and \
                any(p.poll() is None for p in procs):
            db = lab.db("A")
            starting = [vm for vm in vms
                        if "start" in (db.get("VM", db.by_uuid("VM", vm))
                                       .get("current_operations") or {}).values()]
            both = len(starting) == 2
            time.sleep(0.05)
        assert both, "the two starts never ran at the same time"
    finally:
        codes = [p.wait() for p in procs]
    assert codes == [0, 0]


def test_cost_factor_zero_is_fast(lab, monkeypatch):
    from xe_dr.lab import util
    slept = []
    real_sleep = util.sleep
    monkeypatch.setattr(util, "sleep", lambda seconds: (slept.append(seconds),
                                                        real_sleep(seconds)))
    t0 = time.time()
    for _ in range(20):
        lab.ok("A", "vm-list", "--minimal")
    lab.ok("A", "vm-start", "uuid=" + lab.vm_uuid("dns-01"))
    assert [s for s in slept if s > 0] == []  # no cost is paid at factor 0
    assert time.time() - t0 < 60  # only a hang


def test_threads_in_one_process(lab):
    # the in-process entry point is safe from several threads too (the lock is per process fd)
    vms = lab.ok("A", "vm-list", "is-control-domain=false", "--minimal").values[:4]
    errors = []

    def set_tag(vm):
        r = lab.xe("A", "vm-param-add", "uuid=" + vm, "param-name=tags", "param-key=t")
        if r.code:
            errors.append(r.err)
    threads = [threading.Thread(target=set_tag, args=(vm,)) for vm in vms]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for vm in vms:
        assert lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=tags").value == "t"
