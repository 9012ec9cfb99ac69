"""The DR site's readiness (issue 16): ``xe-dr status --peer`` reads the DR pool and says
whether it could take the protected VMs over now: memory and CPUs as xapi's start check
counts them, networks, the host plugin, the mirrored LUNs its hosts see, and no SR attached
at both sites. In-process CLI against the lab; the DR pool is site B."""

import os

from xe_dr.exitcodes import ExitCode

GIB = 1024 ** 3


def protect(drill):
    """Replication on at site A, the at-risk and unrecoverable VMs tagged xe-dr-ignore (so
    that the status's own verdicts do not hide the readiness's)."""
    drill.ok("A", "replication", "enable", "--alerts",
             *[uuid for uuid, _ in drill.lab.replicated_srs()])
    for vm in drill.xedr("A", "--json", "status").json["vms"]:
        if vm["class"] in ("at-risk", "unrecoverable"):
            drill.lab.ok("A", "vm-param-add", "uuid=" + vm["uuid"], "param-name=tags",
                         "param-key=xe-dr-ignore")


def make_ready(drill):
    """What the default lab's site B lacks: the DMZ network and the plugin."""
    protect(drill)
    drill.lab.ok("B", "network-create", "name-label=DMZ")
    drill.ok("B", "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")


def status(drill, *options):
    return drill.xedr("A", "--json", *options + ("status", "--peer", "local", "--peer-xe",
                                                 drill.lab.xe_path("B")))


def readiness(drill, *options):
    result = status(drill, *options)
    assert result.code in (0, 1), result
    ready = result.json["readiness"]
    for problem in ready["problems"]:  # each is one of the status's problems
        assert problem in result.json["problems"]
    return ready


def running_protected(drill):
    return [vm for vm in drill.xedr("A", "--json", "status").json["vms"]
            if vm["class"] == "protected" and vm["power_state"] == "running"]


def host_uuid(drill, site, name):
    return drill.lab.uuid(site, "host", **{"name-label": name})


def test_a_ready_dr_site(drill):
    make_ready(drill)
    result = status(drill)
    assert result.code == ExitCode.OK, result
    ready = result.json["readiness"]
    assert ready["checked"] is True
    assert ready["problems"] == [] and ready["pool"]["name_label"] == "Site B"
    for key in ("vms_too_big", "networks_missing", "hosts_without_plugin", "luns_invisible",
                "attached_at_both"):
        assert ready[key] == [], key
    # xapi's own figures: the DR hosts' Host.compute_free_memory, and what the running
    # protected VMs need to start (dynamic-min + xapi's overhead, which the lab shows as each
    # VM's memory-overhead), their vCPUs and the DR hosts' pCPUs.
    counted = running_protected(drill)
    assert ready["vms_counted"] == len(counted) > 0
    free = sum(int(drill.lab.ok("B", "host-compute-free-memory", "uuid=" + h).value)
               for h in drill.lab.ok("B", "host-list", "--minimal").values)
    assert ready["memory_free_bytes"] == free
    needed = vcpus = 0
    for vm in counted:
        record = dict((field, int(drill.lab.ok("A", "vm-param-get", "uuid=" + vm["uuid"],
                                               "param-name=" + field).value))
                      for field in ("memory-dynamic-min", "memory-overhead",
                                    "VCPUs-at-startup"))
        needed += record["memory-dynamic-min"] + record["memory-overhead"]
        vcpus += record["VCPUs-at-startup"]
    assert ready["memory_needed_bytes"] == needed < free
    assert (ready["vcpus_needed"], ready["cpus"]) == (vcpus, 16)
    assert "OK: all is well" in drill.xedr(
        "A", "status", "--peer", "local", "--peer-xe", drill.lab.xe_path("B")).out


def test_a_dr_pool_short_of_memory(drill):
    make_ready(drill)
    for name in ("xcp-b1", "xcp-b2"):  # 8 GiB hosts: about 1.4 GiB free each
        drill.lab.poke("B", "host", host_uuid(drill, "B", name), memory_total=8 * GIB)
    result = status(drill)
    assert result.code == ExitCode.FAILED, result
    ready = result.json["readiness"]
    assert ready["memory_free_bytes"] < 3 * GIB < ready["memory_needed_bytes"]
    assert any(p.startswith("the DR pool has %.1f GiB free for the %.1f GiB" % (
        ready["memory_free_bytes"] / GIB, ready["memory_needed_bytes"] / GIB))
        for p in ready["problems"])
    # every running protected VM of 2 GiB or more fits on no single host
    big = sorted(vm["name_label"] for vm in running_protected(drill) if int(drill.lab.ok(
        "A", "vm-param-get", "uuid=" + vm["uuid"], "param-name=memory-dynamic-min").value)
        >= 2 * GIB)
    assert big and sorted(ready["vms_too_big"]) == big
    assert any("fit on no DR host" in p and big[0] in p for p in ready["problems"])


def test_free_memory_that_adds_up_but_does_not_divide_among_the_vms(drill):
    """Each VM starts on one host: two DR hosts with about 11.7 GiB free each hold 23.5 GiB,
    more than the 23.2 GiB the running protected VMs need (8, 4, 4, 2, 2, 1, 1 and 1 GiB and
    xapi's overhead), and each VM fits on either alone; but no division of them fits."""
    make_ready(drill)
    for name in ("xcp-b1", "xcp-b2"):
        drill.lab.poke("B", "host", host_uuid(drill, "B", name), memory_total=int(18.3 * GIB))
    result = status(drill)
    assert result.code == ExitCode.FAILED, result
    ready = result.json["readiness"]
    assert ready["memory_needed_bytes"] < ready["memory_free_bytes"] < 24 * GIB
    assert ready["vms_too_big"] == []
    assert ready["vms_unplaced"] == ["proxy-01"]
    assert ready["problems"] == [
        "the DR hosts' free memory adds up to what the running protected VMs need but does "
        "not divide among them: each VM starts on one host, and placed largest first, each "
        "where it fits best, 1 VM(s) find no host with room (proxy-01): add memory or hosts "
        "at the DR site, or free memory there"]
    # 1 GiB more on one host: the last VM has a place
    drill.lab.poke("B", "host", host_uuid(drill, "B", "xcp-b2"), memory_total=int(19.3 * GIB))
    ready = readiness(drill)
    assert (ready["vms_unplaced"], ready["problems"]) == ([], [])


def test_a_peer_that_is_the_pool_itself_is_refused_not_told_to_detach_its_srs(drill):
    """--peer naming the protected pool's own master (or a member: xe there reaches the same
    master) would find every SR of the pool attached at both sites, with 'detach it there
    now' for each: a usage error instead, before anything is judged."""
    protect(drill)
    result = drill.xedr("A", "status", "--peer", "local", "--peer-xe", drill.lab.xe_path("A"))
    assert result.code == ExitCode.USAGE, result
    assert result.out == "" and "detach" not in result.err
    assert result.err.count("\n") == 1 and "--peer reaches pool Site A (" in result.err
    nagios = drill.xedr("A", "status", "--format", "nagios", "--peer", "local", "--peer-xe",
                        drill.lab.xe_path("A"))
    assert nagios.code == 3 and nagios.out.startswith("XE-DR UNKNOWN - --peer reaches pool ")


def test_a_vm_with_more_vcpus_than_any_dr_host(drill):
    make_ready(drill)
    vm = running_protected(drill)[0]
    drill.lab.ok("A", "vm-param-set", "uuid=" + vm["uuid"], "VCPUs-max=16")
    ready = readiness(drill)
    assert ready["vms_too_big"] == [vm["name_label"]]
    assert any("has 16 vCPUs, more than the 8 pCPUs of any DR host (HOST_NOT_ENOUGH_PCPUS)"
               in p for p in ready["problems"])
    # xapi lets it start anyway with platform:vcpu-unrestricted
    drill.lab.ok("A", "vm-param-set", "uuid=" + vm["uuid"], "platform:vcpu-unrestricted=true")
    assert readiness(drill)["vms_too_big"] == []


def test_a_missing_network(drill):
    protect(drill)
    drill.ok("B", "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")
    ready = readiness(drill)
    assert ready["networks_missing"] == ["DMZ"]  # the default lab has no DMZ at site B
    assert [p for p in ready["problems"] if "network" in p] == [
        "network DMZ, used by 1 protected VM(s) (cache-01), does not exist at the DR site: "
        "create it there with its uplink (xe network-create name-label=DMZ, then its VLAN or "
        "bond), or plan the failover with --map-network DMZ=NETWORK"]
    drill.lab.ok("B", "network-create", "name-label=DMZ")
    ready = readiness(drill)
    assert ready["networks_missing"] == [] and ready["problems"] == []


def test_a_disabled_host_and_a_network_matched_by_bridge(drill):
    """A disabled DR host starts nothing: its memory and pCPUs do not count. A network with
    no namesake but one on its bridge at the DR site is where xapi puts its VIFs: a note."""
    make_ready(drill)
    drill.lab.poke("B", "host", host_uuid(drill, "B", "xcp-b2"), enabled=False)
    network = drill.lab.uuid("B", "network", **{"name-label": "VM Network"})
    drill.lab.ok("B", "network-param-set", "uuid=" + network, "name-label=LAN")
    ready = readiness(drill)
    b1 = int(drill.lab.ok("B", "host-compute-free-memory", "host=xcp-b1").value)
    assert (ready["memory_free_bytes"], ready["cpus"]) == (b1, 8)
    assert [h["memory_free_bytes"] is None for h in ready["hosts"]] == [False, True]
    assert "DR host(s) xcp-b2 are disabled: their memory and CPUs are not counted " \
        "(xe host-enable)" in ready["notes"]
    assert ready["networks_missing"] == [] and ready["problems"] == []
    assert "network VM Network has no namesake at the DR site: its VIFs would join LAN, the " \
        "DR network on the same bridge xenbr2" in ready["notes"]


def test_the_plugin_absent_at_the_dr_site(drill):
    protect(drill)
    drill.lab.ok("B", "network-create", "name-label=DMZ")
    ready = readiness(drill)
    assert ready["hosts_without_plugin"] == ["xcp-b1", "xcp-b2"]
    assert ready["problems"] == [
        "the xe-dr plugin is not installed on DR host(s) xcp-b1, xcp-b2: install it with "
        "'xe-dr -H <DR master> plugin install'"]
    drill.ok("B", "plugin", "install", "--host-root", drill.lab.root + "/hosts/{uuid}")
    os.remove(os.path.join(drill.lab.root, "hosts", host_uuid(drill, "B", "xcp-b2"),
                           "etc", "xapi.d", "plugins", "xe-dr"))
    ready = readiness(drill)
    assert ready["hosts_without_plugin"] == ["xcp-b2"]
    assert [h["plugin_version"] is not None for h in ready["hosts"]] == [True, False]
    # --no-plugin: not asked, and said so
    ready = readiness(drill, "--no-plugin")
    assert ready["hosts_without_plugin"] == [] and ready["plugin_checked"] is False
    assert "the xe-dr plugin of the DR hosts was not checked (--no-plugin)" in ready["notes"]


def test_an_sr_attached_at_both_sites(drill):
    """A test failover left an SR attached at site B (its drtask-create, the mirror
    broken): both pools write it."""
    make_ready(drill)
    drill.lab.mirror("break")
    sr = drill.lab.replicated_srs()[0][0]
    assert drill.lab.drtask("B", [sr]).code == 0
    result = status(drill)
    assert result.code == ExitCode.FAILED, result
    ready = result.json["readiness"]
    assert ready["attached_at_both"] == ["iSCSI DR 1"]
    assert ready["problems"] == [
        "metadata SR iSCSI DR 1 is also attached to the other site's pool: detach it there "
        "now (two pools on one LUN corrupt it)"]


def test_a_lun_the_dr_hosts_cannot_see(drill):
    make_ready(drill)
    array = drill.lab.array()["luns"]
    drill.lab.mask("lun1", "B", hosts=["xcp-b2"])  # the array's host group lacks xcp-b2
    ready = readiness(drill)
    lun1 = array["lun1"]["copies"]["B"]["scsiid"]
    assert ready["luns_invisible"] == [lun1]
    assert ready["problems"] == [
        "LUN %s (the mirror of SR iSCSI DR 1) is not visible to DR host(s) xcp-b2: present it "
        "to them on the array (LUN masking or zoning)" % lun1]
    # hidden from every DR host: the mirror is found nowhere; the source's LUN is named
    drill.lab.mask("lun1", "B", clear=True)
    drill.lab.mask("lun3", "B")
    ready = readiness(drill)
    lun3 = array["lun3"]["copies"]["A"]["scsiid"]
    assert ready["luns_invisible"] == [lun3]
    assert ready["problems"] == [
        "no LUN the DR hosts see carries SR FC DR 3 (the mirror of LUN %s): present the "
        "mirrored LUN to the DR hosts on the array (replication pair, host group or zoning)"
        % lun3]


def test_a_check_the_dr_pool_fails_is_a_problem_an_unreachable_pool_an_error(drill):
    make_ready(drill)
    drill.lab.fault(site="B", command="sr-probe", every=True,
                    error=["SR_BACKEND_FAILURE_141", "", "Unable to connect to iSCSI service "
                           "on target", ""])
    result = status(drill)
    assert result.code == ExitCode.FAILED, result
    ready = result.json["readiness"]
    for host in ("xcp-b1", "xcp-b2"):
        assert any(p.startswith("DR host %s cannot list the LUNs of iSCSI target 10.0.2.50 "
                                "(iqn.2001-05.com.labarray:site-b): sr-probe failed" % host)
                   for p in ready["problems"]), ready["problems"]
    assert len(ready["luns_invisible"]) == len(drill.lab.replicated_srs())
    assert len(ready["problems"]) == 4  # each host, iSCSI and HBA: nothing else to say
    drill.lab.disaster("B")
    result = status(drill)
    assert result.code == ExitCode.UNREACHABLE, result
    assert result.out == ""


def test_status_text_shows_each_figure(drill):
    protect(drill)
    result = drill.xedr("A", "status", "--peer", "local", "--peer-xe", drill.lab.xe_path("B"))
    assert result.code == ExitCode.FAILED, result
    lines = result.out.splitlines()
    start = [i for i, line in enumerate(lines) if line.startswith("DR site readiness, pool "
                                                                    "Site B (")]
    assert start, result.out
    figures = [line.split(":")[0].strip() for line in lines[start[0] + 1:start[0] + 8]]
    assert figures == ["memory", "CPUs", "VMs too big for any DR host", "networks missing",
                       "hosts without the xe-dr plugin", "mirrored LUNs not visible",
                       "SRs attached at both sites"]
    assert "  networks missing: DMZ" in lines
    assert "  hosts without the xe-dr plugin: xcp-b1, xcp-b2" in lines
    assert "PROBLEM: network DMZ, used by 1 protected VM(s)" in result.out
    # without --peer: no readiness, and a note says how to get it
    alone = drill.xedr("A", "--json", "status").json
    assert alone["readiness"] is None
    assert any("give --peer HOST" in note for note in alone["notes"])


# -- the lab's side: what readiness reads, modelled on xapi and the array -------------------

def test_lab_host_compute_free_memory_follows_xapi(lab):
    """Host.compute_free_memory (memory_check.ml): total less the host's overhead, less each
    resident VM at dynamic-min + its memory-overhead."""
    for host in lab.ok("B", "host-list", "--minimal").values:
        total = int(lab.ok("B", "host-param-get", "uuid=" + host,
                           "param-name=memory-total").value)
        overhead = int(lab.ok("B", "host-param-get", "uuid=" + host,
                              "param-name=memory-overhead").value)
        used = 0
        for vm in lab.ok("B", "vm-list", "resident-on=" + host, "params=uuid",
                         "--minimal").values:
            used += sum(int(lab.ok("B", "vm-param-get", "uuid=" + vm, "param-name=" + f).value)
                        for f in ("memory-dynamic-min", "memory-overhead"))
        free = lab.ok("B", "host-compute-free-memory", "uuid=" + host).value
        assert int(free) == total - overhead - used
        assert lab.ok("B", "host-param-get", "uuid=" + host,
                      "param-name=memory-free-computed").value == free
    both = lab.xe("B", "host-compute-free-memory")
    assert both.code == 1 and "Multiple matching hosts found" in both.err


def test_lab_vm_memory_overhead_is_xapis(lab):
    """VM.memory_overhead as memory.ml computes it: a 2 GiB HVM guest with 2 vCPUs has
    1 + 1 MiB extra and ceil((256 x 2 + 2 x 2048) / 256) = 18 MiB of shadow; a float prints
    as OCaml's string_of_float."""
    vm = lab.ok("B", "vm-list", "name-label=b-monitor", "--minimal").value
    get = lambda field: lab.ok("B", "vm-param-get", "uuid=" + vm, "param-name=" + field).value
    assert (get("memory-static-max"), get("VCPUs-max"), get("domain-type")) == (
        str(2 * GIB), "2", "hvm")
    assert get("memory-overhead") == str(20 * 1024 ** 2)
    assert get("HVM-shadow-multiplier") == "1."


def test_lab_lun_masking_hides_a_copy_from_a_host(lab):
    b2 = lab.uuid("B", "host", **{"name-label": "xcp-b2"})
    portal = ["type=lvmoiscsi", "device-config:target=10.0.2.50",
              "device-config:targetIQN=iqn.2001-05.com.labarray:site-b"]
    lun1 = lab.array()["luns"]["lun1"]["copies"]["B"]["scsiid"]
    assert lun1 in lab.xe("B", "sr-probe", "host-uuid=" + b2, *portal).err
    lab.mask("lun1", "B", hosts=["xcp-b2"])
    assert lun1 not in lab.xe("B", "sr-probe", "host-uuid=" + b2, *portal).err
    assert lun1 in lab.xe("B", "sr-probe", *portal).err  # the master still sees it
    named = lab.xe("B", "sr-probe", "host-uuid=" + b2, "device-config:SCSIid=" + lun1, *portal)
    assert named.code == 1 and "SR_BACKEND_FAILURE_107" in named.err
