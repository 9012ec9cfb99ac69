"""The generated commands: filters, params=, param-set/-add/-remove/-clear (reference 3.2, 4)."""

DOC_INTERNAL = ("The server failed to handle your request, due to an internal error. The given "
                "message may give details useful for debugging the problem.\nmessage: Failure: ")


def _failure(r):
    assert r.code == 1 and r.err.startswith(DOC_INTERNAL), r
    return r.err[len(DOC_INTERNAL):].rstrip("\n")


def test_default_filters(lab):
    names = lab.ok("A", "vm-list", "params=name-label", "--minimal").values
    assert "Debian Bookworm 12" not in names and "web-golden" not in names
    templates = lab.ok("A", "template-list", "params=name-label", "--minimal").values
    assert "Debian Bookworm 12" in templates and "web-golden" in templates
    assert "web-01 before upgrade" not in templates
    snaps = lab.ok("A", "snapshot-list", "params=name-label", "--minimal").values
    assert snaps == ["web-01 before upgrade"]


def test_filters_compare_printed_values(lab):
    assert lab.ok("A", "vdi-list", "type=metadata", "--minimal").out == "\n"
    lab.ok("A", "sr-enable-database-replication", "uuid=" + lab.replicated_srs()[0][0])
    assert len(lab.ok("A", "vdi-list", "type=Metadata", "--minimal").values) == 1
    assert lab.ok("A", "vm-list", "power-state=Running", "--minimal").out == "\n"


def test_map_and_set_filters(lab):
    vm = lab.vm_uuid("web-01")
    lab.ok("A", "vm-param-set", "uuid=" + vm, "other-config:role=frontend")
    assert lab.ok("A", "vm-list", "other-config:role=frontend", "--minimal").value == vm
    assert lab.ok("A", "vm-list", "other-config-role=frontend", "--minimal").value == vm
    lab.ok("A", "vm-param-add", "uuid=" + vm, "param-name=tags", "param-key=gold")
    assert lab.ok("A", "vm-list", "tags:contains=gold", "--minimal").value == vm
    assert _failure(lab.xe("A", "vm-list", "tags:has=gold")) == (
        "Invalid syntax for set filtering (should be set-param:contains=key)")
    assert _failure(lab.xe("A", "vm-list", "name-label:x=1")) == (
        "Field 'name-label' is not a set or map")
    mac = lab.ok("A", "vif-list", "vm-uuid=" + vm, "params=MAC", "--minimal").values[0]
    assert lab.ok("A", "vif-list", "MAC=" + mac.upper(), "params=vm-uuid", "--minimal").value \
        == vm  # MAC matches case-insensitively


def test_unknown_filter_only_fails_when_records_exist(lab):
    assert lab.ok("A", "drtask-list", "bogus=1").out == ""
    assert _failure(lab.xe("A", "sr-list", "bogus=1")) == "Unknown field 'bogus'"


def test_params_selection(lab):
    vm = lab.vm_uuid("web-01")
    out = lab.ok("A", "vm-list", "uuid=" + vm, "params=name-label,nonsense").out
    assert out == "name-label ( RW)    : web-01\n\n\n"
    assert lab.ok("A", "vm-list", "uuid=" + vm, "params=nonsense").out == "\n\n\n"
    everything = lab.ok("A", "vm-list", "name-label=nothing", "--all", "--minimal").values
    assert len(everything) == len(lab.db("A").rows("VM"))


def test_param_set_errors(lab):
    vm = lab.vm_uuid("web-01")
    assert _failure(lab.xe("A", "vm-param-set", "uuid=" + vm, "power-state=halted")) == \
        "Field 'power-state' is read-only."
    assert _failure(lab.xe("A", "vm-param-set", "uuid=" + vm, "other-config=x")) == \
        "Field 'other-config' is a map or set. use the 'name:key=value' syntax."
    assert _failure(lab.xe("A", "vm-param-set", "uuid=" + vm, "tags:x=y")) == \
        "Cannot param-set on set fields"
    r = lab.xe("A", "vm-param-set", "uuid=" + vm, "order=first")
    assert r.err == "Error: Failed to parse parameter 'order': expecting an integer\n"
    pool = lab.ok("A", "pool-list", "--minimal").value
    assert _failure(lab.xe("A", "pool-param-set", "uuid=" + pool, "restrictions:x=y")) == \
        "Field 'restrictions' is not a set or map"


def test_param_set_values(lab):
    vm = lab.vm_uuid("web-01")
    lab.ok("A", "vm-param-set", "uuid=" + vm, "order=3", "start-delay=7", "shutdown-delay=9",
           "ha-restart-priority=best-effort", "other-config:a=1")
    get = lambda f: lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=" + f).value  # noqa
    assert (get("order"), get("start-delay"), get("shutdown-delay")) == ("3", "7", "9")
    assert get("ha-restart-priority") == "best-effort"
    assert lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=other-config",
                  "param-key=a").value == "1"
    lab.ok("A", "vm-param-set", "uuid=" + vm, "other-config:a=2")
    assert "a: 2" in get("other-config")
    lab.ok("A", "vm-param-set", "uuid=" + vm, "appliance=")
    assert get("appliance") == "<not in database>"


def test_param_add_remove_clear(lab):
    vm = lab.vm_uuid("web-01")
    lab.ok("A", "vm-param-add", "uuid=" + vm, "param-name=other-config", "k1=v1", "k2=v2")
    r = lab.xe("A", "vm-param-add", "uuid=" + vm, "param-name=other-config", "k1=again")
    assert r.err.startswith("You tried to add a key-value pair to a map, but that key is "
                            "already there.\ntype: VM\nparam_name: other_config\n")
    lab.ok("A", "vm-param-remove", "uuid=" + vm, "param-name=other-config", "param-key=k1")
    assert _failure(lab.xe("A", "vm-param-remove", "uuid=" + vm, "param-name=other-config",
                           "param-key=k1")) == "Key k1 is not in map"
    assert _failure(lab.xe("A", "vm-param-add", "uuid=" + vm, "param-name=tags")) == (
        "When adding a key to a set, use the syntax: *-param-add param-name=<name> "
        "param-key=<key>")
    lab.ok("A", "vm-param-add", "uuid=" + vm, "param-name=tags", "param-key=a")
    lab.ok("A", "vm-param-add", "uuid=" + vm, "param-name=tags", "param-key=b")
    assert lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=tags").value == "a, b"
    assert _failure(lab.xe("A", "vm-param-remove", "uuid=" + vm, "param-name=tags",
                           "param-key=z")) == "Key z is not in the set"
    lab.ok("A", "vm-param-clear", "uuid=" + vm, "param-name=tags")
    assert lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=tags").value == ""
    assert _failure(lab.xe("A", "vm-param-add", "uuid=" + vm, "param-name=VBDs",
                           "param-key=x")) == "Parameter is read-only"
    assert _failure(lab.xe("A", "vm-param-add", "uuid=" + vm, "param-name=order")) == (
        "Can only add to parameters of type Set or Map")
    assert _failure(lab.xe("A", "vm-param-clear", "uuid=" + vm,
                           "param-name=power-state")) == "Can only clear RW parameters"


def test_generated_commands_do_not_take_database(lab):
    vm = lab.vm_uuid("web-01")
    assert _failure(lab.xe("A", "vm-param-set", "uuid=" + vm, "database:vdi-uuid=x")) == \
        "Unknown field 'database:vdi-uuid'"


def test_sr_host_field(lab):
    out = lab.ok("A", "sr-list", "params=name-label,host").out
    assert "name-label ( RW)    : iSCSI DR 1\n          host ( RO): <shared>" in out
    assert "name-label ( RW)    : Local storage\n          host ( RO): xcp-a" in out


def test_pbd_device_config_map(lab):
    sr, _ = lab.replicated_srs()[0]
    pbd = lab.ok("A", "pbd-list", "sr-uuid=" + sr, "--minimal").values[0]
    dc = lab.ok("A", "pbd-param-get", "uuid=" + pbd, "param-name=device-config").value
    assert dc.startswith("target: 10.0.1.50; port: 3260; targetIQN: iqn.2001-05.com.labarray:"
                         "site-a; SCSIid: 36001405")


def test_pif_list_and_network_pifs(lab):
    hosts = lab.ok("A", "host-list", "--minimal").values
    eth0 = lab.ok("A", "pif-list", "device=eth0", "params=host-uuid", "--minimal").values
    assert sorted(eth0) == sorted(hosts)
    mgmt = lab.ok("A", "pif-list", "management=true", "params=IP", "--minimal").values
    assert sorted(mgmt) == sorted(lab.ok("A", "host-list", "params=address",
                                         "--minimal").values)
    net = lab.uuid("A", "network", **{"name-label": "VM Network"})
    assert len(lab.ok("A", "network-param-get", "uuid=" + net,
                      "param-name=PIF-uuids").value.split("; ")) == len(hosts)


def test_network_and_vif_commands(lab):
    vm = lab.vm_uuid("app-01")
    net = lab.ok("A", "network-create", "name-label=test net").value
    assert lab.ok("A", "network-param-get", "uuid=" + net, "param-name=bridge").value \
        .startswith("xapi")
    r = lab.xe("A", "vif-create", "vm-uuid=" + vm, "network-uuid=" + net, "device=0")
    assert r.err == ("A device with the name given already exists on the selected VM\n"
                     "device: 0\n")
    vif = lab.ok("A", "vif-create", "vm-uuid=" + vm, "network-uuid=" + net, "device=5").value
    mac = lab.ok("A", "vif-param-get", "uuid=" + vif, "param-name=MAC").value
    assert len(mac.split(":")) == 6
    assert lab.ok("A", "vif-param-get", "uuid=" + vif,
                  "param-name=MAC-autogenerated").value == "true"
    lab.ok("A", "vif-destroy", "uuid=" + vif)
    lab.ok("A", "network-destroy", "uuid=" + net)
    dmz = lab.uuid("A", "network", **{"name-label": "DMZ"})
    r = lab.xe("A", "network-destroy", "uuid=" + dmz)
    assert r.err.startswith("The network contains active VIFs and cannot be deleted.\nvifs: ")
    storage = lab.uuid("B", "network", **{"name-label": "Storage"})
    r = lab.xe("B", "network-destroy", "uuid=" + storage)
    assert r.err.startswith("The network contains active PIFs and cannot be deleted.\npifs: ")


def test_vm_uninstall_destroys_owned_disks(lab):
    vm = lab.vm_uuid("web-01")
    disks = lab.ok("A", "vbd-list", "vm-uuid=" + vm, "type=Disk", "params=vdi-uuid",
                   "--minimal").values
    r = lab.ok("A", "vm-uninstall", "uuid=" + vm, "--force")
    lines = r.out.splitlines()
    assert lines[0] == "The following items are about to be destroyed"
    assert lines[1] == "VM : %s (web-01)" % vm
    assert lines[2].startswith("VDI: ") and lines[2].endswith(") ")
    assert lines[-1] == "All objects destroyed"
    for d in disks:
        assert lab.ok("A", "vdi-list", "uuid=" + d, "--minimal").out == "\n"
    assert lab.ok("A", "snapshot-list", "--minimal").out == "\n"  # its snapshot went too


def test_snapshot_destroy(lab):
    snap = lab.ok("A", "snapshot-list", "--minimal").value
    assert lab.xe("A", "snapshot-destroy").err.endswith(
        "message: Failure: Required parameter not found: snapshot-uuid or uuid.\n")
    vm = lab.vm_uuid("web-01")
    assert lab.xe("A", "snapshot-destroy", "uuid=" + vm).err.endswith(
        "message: Failure: This operation can only be performed on a VM snapshot. %s is not a "
        "VM snapshot.\n" % vm)
    lab.ok("A", "snapshot-destroy", "snapshot-uuid=" + snap)
    assert lab.ok("A", "snapshot-list", "--minimal").out == "\n"
