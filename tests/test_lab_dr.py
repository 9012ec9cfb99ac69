"""One test per rule of the reference (xapi-dr.md) for the commands the lab serves."""

import time

import pytest

from xe_dr.lab import array, redolog, replication, util

NID = "<not in database>"


def _err_lines(r):
    return r.err.splitlines()


def _lv_generation(lab, lun_id, site):
    db = lab.db("A")
    import glob
    import os
    paths = glob.glob(os.path.join(lab.root, "array", lun_id, site, "LV-*"))
    assert paths, "no LV on %s/%s" % (lun_id, site)
    return redolog.read_path(paths[0])[0]


# --- sr-enable/disable-database-replication (1.2, 1.3) -------------------------------------

def test_enable_replication_creates_metadata_vdi(lab):
    sr, _ = lab.replicated_srs()[0]
    lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    pool = lab.ok("A", "pool-list", "--minimal").value
    vdi = lab.uuid("A", "vdi", type="Metadata", **{"sr-uuid": sr})
    get = lambda f, *k: lab.ok("A", "vdi-param-get", "uuid=" + vdi, "param-name=" + f,  # noqa
                               *k).value
    assert get("name-label") == "Metadata for DR"
    assert get("name-description") == "Used for disaster recovery"
    assert get("metadata-of-pool") == pool
    assert get("metadata-latest") == "true"
    assert get("virtual-size") == "3988783104"
    assert get("sm-config", "param-key=type") == "raw"
    vbd = lab.uuid("A", "vbd", **{"vdi-uuid": vdi})
    master = lab.ok("A", "pool-list", "params=master", "--minimal").value
    dom0 = lab.ok("A", "host-param-get", "uuid=" + master,
                  "param-name=control-domain-uuid").value
    assert lab.ok("A", "vbd-param-get", "uuid=" + vbd, "param-name=vm-uuid").value == dom0
    assert lab.ok("A", "vbd-param-get", "uuid=" + vbd, "param-name=mode").value == "RW"
    assert lab.ok("A", "vbd-param-get", "uuid=" + vbd,
                  "param-name=currently-attached").value == "true"
    # repeating it is harmless
    lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    assert len(lab.ok("A", "vdi-list", "type=Metadata", "--minimal").values) == 1


def test_enable_replication_licence(lab):
    sr, _ = lab.replicated_srs()[0]
    pool = lab.ok("A", "pool-list", "--minimal").value
    lab.poke("A", "pool", pool, restrictions={"restrict_dr": "true"})
    r = lab.xe("A", "sr-enable-database-replication", "uuid=" + sr)
    assert r.code == 1 and _err_lines(r)[1:] == ["feature: DR"]
    assert r.err.startswith("This operation is not allowed because your license lacks")


def test_enable_replication_needs_all_pbds_attached(lab):
    sr, _ = lab.replicated_srs()[0]
    db = lab.db("A")
    pbd = db.rows("PBD")[db.children("PBD", "SR", db.by_uuid("SR", sr))[1]]["uuid"]
    lab.poke("A", "PBD", pbd, currently_attached=False)
    r = lab.xe("A", "sr-enable-database-replication", "uuid=" + sr)
    assert r.err == "The SR has no attached PBDs\nsr: %s (iSCSI DR 1)\n" % sr


def test_enable_replication_storage_type(lab):
    nfs = lab.uuid("A", "sr", type="nfs")
    r = lab.xe("A", "sr-enable-database-replication", "uuid=" + nfs)
    assert r.err.startswith("The SR backend does not support the operation")
    assert _err_lines(r)[1] == "sr: %s (NFS VM storage)" % nfs


def test_enable_replication_eight_sr_limit(lab_factory):
    lab = lab_factory(replicated_srs=9, vms=4, vapps=0)
    srs = [u for u, _ in lab.replicated_srs()]
    for sr in srs[:8]:
        lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    r = lab.xe("A", "sr-enable-database-replication", "uuid=" + srs[8])
    assert r.err == "The upper limit of active redo log instances was reached.\n"


def test_every_change_rewrites_the_copy_with_a_higher_generation(lab):
    sr, _ = lab.replicated_srs()[0]
    lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    g1 = _lv_generation(lab, "lun1", "A")
    assert _lv_generation(lab, "lun1", "B") == g1  # mirrored
    vm = lab.vm_uuid("web-01")
    lab.ok("A", "vm-param-set", "uuid=" + vm, "name-description=changed")
    g2 = _lv_generation(lab, "lun1", "A")
    assert g2 > g1 and _lv_generation(lab, "lun1", "B") == g2
    assert g2 == lab.db("A").generation
    # frozen replication: the replica keeps the old copy (lost writes) until thawed
    lab.mirror("freeze")
    lab.ok("A", "vm-param-set", "uuid=" + vm, "name-description=again")
    assert _lv_generation(lab, "lun1", "A") > g2 == _lv_generation(lab, "lun1", "B")
    lab.mirror("thaw")
    assert _lv_generation(lab, "lun1", "B") == _lv_generation(lab, "lun1", "A")


def test_redo_log_layout(lab):
    sr, _ = lab.replicated_srs()[0]
    lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    import glob
    import os
    path = glob.glob(os.path.join(lab.root, "array", "lun1", "A", "LV-*"))[0]
    with open(path, "rb") as f:
        head = f.read(18 + 36 + 16)
    assert head[:16] == b"redo-log--------" and head[16:17] == b"\x00"
    assert head[17:18] in (b"1", b"2")
    gen, xml = redolog.read_path(path)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<database><manifest>')
    assert ('<pair key="generation_count" value="%d"/>' % gen).encode() in xml


def test_disable_replication_destroys_the_vdi(lab):
    sr, _ = lab.replicated_srs()[0]
    lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    lab.ok("A", "sr-disable-database-replication", "uuid=" + sr)
    assert lab.ok("A", "vdi-list", "type=Metadata", "--minimal").values == []
    lab.ok("A", "sr-disable-database-replication", "uuid=" + sr)  # no-op
    nfs = lab.uuid("A", "sr", type="nfs")
    lab.ok("A", "sr-disable-database-replication", "uuid=" + nfs)  # no checks


# --- sr-probe (5) ---------------------------------------------------------------------------

def _probe(lab, site, sr_type="lvmoiscsi", host=None, **dc):
    args = ["sr-probe", "type=" + sr_type] + ["device-config:%s=%s" % kv for kv in dc.items()]
    return lab.xe(site, *(args + (["host-uuid=" + host] if host else [])))


def _code(r):
    assert r.code == 1, r
    return r.err.split("\n")[0].replace("Error code: ", "")


def test_probe_progressive_iscsi_errors(lab):
    sr, _ = lab.replicated_srs()[0]
    _, dc = lab.device_config(sr, "B")
    assert _code(_probe(lab, "B")) == "SR_BACKEND_FAILURE_95"
    assert _code(_probe(lab, "B", target="nowhere.example")) == "SR_BACKEND_FAILURE_140"
    assert _code(_probe(lab, "B", target=dc["target"], port="x")) == "SR_BACKEND_FAILURE_142"
    assert _code(_probe(lab, "B", target=dc["target"], port="70000")) == "SR_BACKEND_FAILURE_142"
    assert _code(_probe(lab, "B", target="10.9.9.9")) == "SR_BACKEND_FAILURE_141"
    r = _probe(lab, "B", target=dc["target"])
    assert _code(r) == "SR_BACKEND_FAILURE_96" and "<iscsi-target-iqns>" in r.err
    # the wildcard entry is on the target as given (BaseISCSI._scan_IQNs, targetlist)
    r = _probe(lab, "B", target="array-b.lab")
    assert "<IPAddress>%s</IPAddress>" % dc["target"] in r.err
    assert "<IPAddress>array-b.lab</IPAddress>\n\t\t<TargetIQN>*</TargetIQN>" in r.err
    # BaseISCSI.attach: the discovery filtered by the wrong IQN is empty -> _scan_IQNs, 83
    r = _probe(lab, "B", target=dc["target"], targetIQN="iqn.2000-01.wrong:x")
    assert _code(r) == "SR_BACKEND_FAILURE_83"
    assert r.err.startswith("Error code: SR_BACKEND_FAILURE_83\nError parameters: , ISCSI "
                            "discovery failed [opterr=check target settings], <?xml")
    assert "<TargetIQN>%s</TargetIQN>" % dc["targetIQN"] in r.err
    r = _probe(lab, "B", target=dc["target"], targetIQN=dc["targetIQN"])
    assert _code(r) == "SR_BACKEND_FAILURE_107"
    assert "<iscsi-target>" in r.err and dc["SCSIid"] in r.err
    assert "\t<LUN>\n\t\t<vendor>LABARRAY</vendor>\n\t\t<serial>" in r.err
    # A wrong (not missing) SCSIid: BaseISCSI.attach finds no /dev/disk/by-scsid/<SCSIid>
    # and raises ConfigSCSIid with nothing printed: no LUN list this time.
    r = _probe(lab, "B", target=dc["target"], targetIQN=dc["targetIQN"], SCSIid="3600bad")
    assert r.err == ("Error code: SR_BACKEND_FAILURE_107\nError parameters: , The SCSIid "
                     "parameter is missing or incorrect, \n")
    r = _probe(lab, "B", target="array-b.lab", targetIQN=dc["targetIQN"], SCSIid=dc["SCSIid"])
    assert r.code == 0 and "<UUID>%s</UUID>" % sr in r.out


def test_probe_needs_initiator_iqn(lab):
    host = lab.ok("B", "pool-list", "params=master", "--minimal").value
    lab.poke("B", "host", host, other_config={})
    assert _code(_probe(lab, "B", target="10.0.2.50")) == "SR_BACKEND_FAILURE_97"
    assert _code(_probe(lab, "B", target="10.0.2.50", localIQN="iqn.x:y")) == \
        "SR_BACKEND_FAILURE_96"


def test_probe_multipath_map_in_use(lab):
    sr = lab.uuid("B", "sr", **{"name-label": "iSCSI B"})
    dc = dict(lab.db("B").rows("PBD")[lab.db("B").children(
        "PBD", "SR", lab.db("B").by_uuid("SR", sr))[0]]["device_config"])
    host = lab.ok("B", "pool-list", "params=master", "--minimal").value
    assert _probe(lab, "B", **dc).code == 0
    lab.poke("B", "host", host, multipathing=True)
    # LVHDoISCSISR.probe: the LUN's multipath map exists on this host (its SR is attached
    # here) -> SRInUse (16), which xapi's sm_exec.ml turns into SR_DEVICE_IN_USE
    assert _probe(lab, "B", **dc).err == (
        "The SR operation cannot be performed because a device underlying the SR is in use "
        "by the server.\n")
    # another host of the pool without the LUN attached has no map
    other = [h for h in lab.ok("B", "host-list", "--minimal").values if h != host][0]
    for pbd in lab.ok("B", "pbd-list", "sr-uuid=" + sr, "host-uuid=" + other,
                      "--minimal").values:
        lab.ok("B", "pbd-unplug", "uuid=" + pbd)
    lab.poke("B", "host", other, multipathing=True)
    assert _probe(lab, "B", host=other, **dc).code == 0


def test_probe_hba(lab):
    hba = [u for u, t in lab.replicated_srs() if t == "lvmohba"][0]
    _, dc = lab.device_config(hba, "B")
    r = _probe(lab, "B", sr_type="lvmohba")
    assert _code(r) == "SR_BACKEND_FAILURE_107"
    assert "<Devlist>" in r.err and "<BlockDevice>" in r.err and "<Adapter>" in r.err
    block = r.err[r.err.index("<BlockDevice>"):]
    tags = [line.strip().split(">")[0][1:] for line in block.splitlines()[1:12]]
    assert tags == ["path", "numpaths", "SCSIid", "vendor", "serial", "size", "adapter",
                    "channel", "id", "lun", "hba"]
    r = _probe(lab, "B", sr_type="lvmohba", SCSIid=dc["SCSIid"])
    assert r.code == 0 and "<UUID>%s</UUID>" % hba in r.out
    # A SCSIid no HBA sees: LVHDoHBASR.probe succeeds with an empty list (lvutil.scan_srlist
    # swallows the missing device)
    assert lab.ok("B", "sr-probe", "type=lvmohba", "device-config:SCSIid=3600bad").out == \
        '<?xml version="1.0" ?>\n<SRlist/>\n\n'
    assert lab.xe("B", "sr-probe", "type=bogus").err == (
        "The SR could not be connected because the driver was not recognised.\n"
        "driver: bogus\n")


def test_probe_pool_metadata_detected(lab):
    sr, _ = lab.replicated_srs()[0]
    lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    _, dc = lab.device_config(sr, "B")
    args = ["sr-probe", "type=lvmoiscsi", "sm-config:metadata=true"] + \
        ["device-config:%s=%s" % kv for kv in dc.items()]
    assert "<pool_metadata_detected>true</pool_metadata_detected>" in lab.ok("B", *args).out


# --- drtask-create / drtask-destroy (2.1, 2.2) -----------------------------------------------

def test_drtask_type_not_allowed(lab):
    r = lab.xe("B", "drtask-create", "type=nfs", "device-config:server=x")
    assert r.err == ("You attempted an operation that was not allowed.\n"
                     "reason: Disaster recovery not supported on SRs of type nfs\n")


def test_drtask_licence(lab):
    pool = lab.ok("B", "pool-list", "--minimal").value
    lab.poke("B", "pool", pool, restrictions={"restrict_dr": "true"})
    r = lab.xe("B", "drtask-create", "type=lvmoiscsi")
    assert "feature: DR" in r.err


def test_drtask_probe_error_creates_no_task(lab):
    r = lab.xe("B", "drtask-create", "type=lvmoiscsi", "device-config:target=10.0.2.50",
               "device-config:targetIQN=iqn.2001-05.com.labarray:site-b")
    assert _code(r) == "SR_BACKEND_FAILURE_107"
    assert lab.ok("B", "drtask-list", "--minimal").values == []


def test_drtask_without_whitelist_introduces_nothing(lab):
    lab.mirror("break")
    sr, _ = lab.replicated_srs()[0]
    r = lab.drtask("B", [sr], whitelist=[])
    task = r.value
    assert lab.ok("B", "drtask-param-get", "uuid=" + task,
                  "param-name=introduced-SRs").value == ""
    assert lab.xe("B", "sr-param-list", "uuid=" + sr).code == 1


def test_drtask_introduces_whitelisted_sr(lab):
    sr, _ = lab.replicated_srs()[0]
    lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    lab.mirror("break")
    task = lab.drtask("B", [sr]).value
    out = lab.ok("B", "drtask-list").out
    assert out == ("uuid ( RO)              : %s\n    introduced-SRs ( RO): %s\n\n\n"
                   % (task, sr))
    assert lab.ok("B", "sr-param-get", "uuid=" + sr, "param-name=introduced-by").value == task
    assert lab.ok("B", "sr-param-get", "uuid=" + sr, "param-name=name-label").value == \
        "iSCSI DR 1"
    assert lab.ok("B", "sr-param-get", "uuid=" + sr, "param-name=shared").value == "true"
    pbds = lab.ok("B", "pbd-list", "sr-uuid=" + sr, "params=currently-attached",
                  "--minimal").values
    assert pbds == ["true"] * len(lab.db("B").rows("host"))


def _introduce_at_b(lab):
    """Replication of A to its first replicated SR, mirror broken, the SR introduced at B."""
    sr, _ = lab.replicated_srs()[0]
    lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    lab.mirror("break")
    lab.drtask("B", [sr]).value
    at_a = sorted(lab.ok("A", "vdi-list", "sr-uuid=" + sr, "params=uuid", "--minimal").values)
    return sr, at_a


@pytest.mark.parametrize("release", ["citrix-8.2", "xcp-ng-8.2"])
def test_plug_scans_up_to_xapi_23_21(lab_factory, release):
    """message_forwarding.ml PBD.plug at v1.249.42: the master's plug runs
    Xapi_sr.scan_one ~callback (an SR.scan, then Xapi_dr.handle_metadata_vdis), so the SR's
    VDIs have records at once and the newest foreign copy is metadata-latest."""
    lab = lab_factory(release=release)
    sr, at_a = _introduce_at_b(lab)
    assert sorted(lab.ok("B", "vdi-list", "sr-uuid=" + sr, "params=uuid",
                         "--minimal").values) == at_a
    a_pool = lab.ok("A", "pool-list", "--minimal").value
    vdi = lab.metadata_vdi("B")
    assert lab.ok("B", "vdi-param-get", "uuid=" + vdi,
                  "param-name=metadata-of-pool").value == a_pool
    assert lab.ok("B", "vdi-param-get", "uuid=" + vdi, "param-name=sr-uuid").value == sr


@pytest.mark.parametrize("release", ["xcp-ng-8.3", "xenserver-8", "xenserver-9", "xcp-ng-9"])
def test_plug_does_not_scan_from_xapi_23_22(lab_factory, release):
    """message_forwarding.ml PBD.plug from v23.22.0 (commit 7c04e3e5e4, CA-379112): the
    master's plug calls the callback alone, without SR.scan. An SR new to the pool has no VDI
    records, data disks included; SR.scan (Xapi_sr.scan) makes them but does not call into
    Xapi_dr, so the metadata copy is not latest and its pool is not cached; plugging the SR
    again (master first) runs handle_metadata_vdis with the VDIs present."""
    lab = lab_factory(release=release)
    sr, at_a = _introduce_at_b(lab)
    assert lab.ok("B", "vdi-list", "sr-uuid=" + sr, "--minimal").values == []
    lab.ok("B", "sr-scan", "uuid=" + sr)
    assert sorted(lab.ok("B", "vdi-list", "sr-uuid=" + sr, "params=uuid",
                         "--minimal").values) == at_a
    vdi = lab.uuid("B", "vdi", type="Metadata", **{"sr-uuid": sr})
    assert lab.ok("B", "vdi-param-get", "uuid=" + vdi,
                  "param-name=metadata-latest").value == "false"
    assert lab.ok("B", "vdi-param-get", "uuid=" + vdi,
                  "param-name=metadata-of-pool").value == "<not in database>"
    lab.make_visible("B", [sr])
    assert lab.metadata_vdi("B") == vdi
    assert lab.ok("B", "vdi-param-get", "uuid=" + vdi, "param-name=metadata-of-pool").value \
        == lab.ok("A", "pool-list", "--minimal").value


def test_drtask_a_member_that_cannot_attach_undoes_the_sr_and_leaves_the_task(lab):
    """xapi_dr_task.ml try_create_sr_from_record: SR.introduce, then for the master and then
    each member in turn PBD.create and PBD.plug; on a failure the attached PBDs are unplugged
    (master last), the SR is forgotten and the error raised; the DR task record stays."""
    sr, _ = lab.replicated_srs()[0]
    lab.mirror("break")
    master = lab.ok("B", "pool-list", "params=master", "--minimal").value
    member = [h for h in lab.ok("B", "host-list", "--minimal").values if h != master][0]
    lab.poke("B", "host", member, other_config={})  # no initiator IQN: sm's 97 on attach
    r = lab.drtask("B", [sr])
    assert r.err.startswith("Error code: SR_BACKEND_FAILURE_97\n")
    assert lab.xe("B", "sr-list", "uuid=" + sr, "--minimal").value == ""
    assert lab.ok("B", "pbd-list", "sr-uuid=" + sr, "--minimal").value == ""
    [task] = lab.ok("B", "drtask-list", "--minimal").values
    assert lab.ok("B", "drtask-param-get", "uuid=" + task,
                  "param-name=introduced-SRs").value == ""


def test_drtask_skips_an_existing_sr(lab):
    sr, _ = lab.replicated_srs()[0]
    lab.mirror("break")
    lab.drtask("B", [sr]).value
    second = lab.drtask("B", [sr]).value
    assert lab.ok("B", "drtask-param-get", "uuid=" + second,
                  "param-name=introduced-SRs").value == ""


def test_drtask_on_a_read_only_replica_fails_and_leaks(lab):
    sr, _ = lab.replicated_srs()[0]
    r = lab.drtask("B", [sr])  # the mirror is still replicating: the replica is read-only
    assert _code(r) == "SR_BACKEND_FAILURE_47"
    assert "write-protected" in r.err
    leaked = lab.ok("B", "drtask-list", "--minimal").values
    assert len(leaked) == 1  # the task record is left behind
    assert lab.ok("B", "drtask-param-get", "uuid=" + leaked[0],
                  "param-name=introduced-SRs").value == ""
    assert lab.xe("B", "sr-list", "uuid=" + sr, "--minimal").out == "\n"  # SR forgotten


def test_drtask_destroy_forgets_only_unused_srs(lab):
    lab.enable_replication()
    tasks = lab.failover_task()
    vdi = lab.metadata_vdi("B")
    vm = lab.vm_uuid("web-01")  # on the first replicated SR
    lab.ok("B", "vm-recover", "uuid=" + vm, "database:vdi-uuid=" + vdi)
    for task in tasks:
        lab.ok("B", "drtask-destroy", "uuid=" + task)
    srs = [u for u, _ in lab.replicated_srs()]
    assert lab.ok("B", "sr-list", "uuid=" + srs[0], "--minimal").value == srs[0]
    assert lab.ok("B", "sr-param-get", "uuid=" + srs[0], "param-name=introduced-by").value == NID
    for other in srs[1:]:
        needed = any(lab.db("A").rows("SR")[s]["uuid"] == other for s in recovery_srs(lab, vm))
        listed = lab.ok("B", "sr-list", "uuid=" + other, "--minimal").out
        assert listed == (other + "\n" if needed else "\n")
    assert lab.ok("B", "drtask-list", "--minimal").values == []


def recovery_srs(lab, vm_uuid):
    db = lab.db("A")
    from xe_dr.lab import recovery
    return recovery.required_srs(db, db.by_uuid("VM", vm_uuid))


# --- foreign databases (2.3, 2.4, 1.5) -------------------------------------------------------

@pytest.fixture
def dr(lab):
    """Replication enabled at A, mirror broken, every replicated SR introduced at B."""
    lab.enable_replication()
    lab.tasks = lab.failover_task()
    lab.vdi = lab.metadata_vdi("B")
    return lab


def test_foreign_listing_prints_refs_as_not_in_database(dr):
    vm = dr.vm_uuid("web-01")
    out = dr.ok("B", "vm-list", "database:vdi-uuid=" + dr.vdi, "uuid=" + vm,
                "params=uuid,name-label,power-state,appliance,resident-on,VBDs,order").out
    assert "name-label ( RW): web-01" in out
    assert "appliance ( RW): " + NID in out
    assert "resident-on ( RO): " + NID in out
    assert "VBDs (SRO): %s; %s" % (NID, NID) in out
    names = dr.ok("B", "vm-list", "database:vdi-uuid=" + dr.vdi, "params=name-label",
                  "--minimal").values
    assert any(n.startswith("Control domain on host") for n in names)
    assert "web-01 before upgrade" not in names and "web-golden" not in names
    apps = dr.ok("B", "appliance-list", "database:vdi-uuid=" + dr.vdi).out
    assert "VMs (SRO): %s; %s; %s" % (NID, NID, NID) in apps
    a_pool = dr.ok("A", "pool-list", "--minimal").value
    assert dr.ok("B", "pool-list", "database:vdi-uuid=" + dr.vdi, "params=uuid",
                 "--minimal").value == a_pool
    # filtering on a foreign reference matches nothing
    app = dr.ok("A", "appliance-list", "--minimal").values[0]
    assert dr.ok("B", "vm-list", "database:vdi-uuid=" + dr.vdi, "appliance=" + app,
                 "--minimal").out == "\n"


def test_every_foreign_call_opens_the_database(dr):
    before = sum(e.get("db_opens", 0) for e in dr.call_log())
    dr.ok("B", "vm-list", "database:vdi-uuid=" + dr.vdi, "--minimal")
    dr.ok("B", "appliance-list", "database:vdi-uuid=" + dr.vdi, "--minimal")
    after = dr.call_log()
    assert sum(e.get("db_opens", 0) for e in after) == before + 2
    assert after[-1]["db_open"] is True and after[-1]["command"] == "appliance-list"


def test_database_vdi_and_file_together(dr, tmp_path):
    r = dr.xe("B", "vm-list", "database:vdi-uuid=" + dr.vdi, "database:filename=/x")
    assert r.err.endswith("message: Failure: xapi can query a DB vdi or a DB file, but not "
                          "both.\n")


def test_database_filename(lab, tmp_path):
    dump = str(tmp_path / "a.db")
    lab.ok("A", "pool-dump-database", "file-name=" + dump)
    vm = lab.vm_uuid("web-01")
    out = lab.ok("B", "vm-list", "database:filename=" + dump, "uuid=" + vm, "params=name-label",
                 "--minimal").value
    assert out == "web-01"


def test_open_database_on_a_user_vdi(dr):
    user = dr.ok("B", "vdi-list", "type=User", "--minimal").values[0]
    r = dr.xe("B", "vm-list", "database:vdi-uuid=" + user)
    assert r.err.startswith("This operation cannot be performed because the specified VDI is "
                            "of an incompatible type")
    assert _err_lines(r)[2] == "type: User"


def test_open_database_of_a_newer_schema(lab):
    with lab.lab.site("A").transaction() as db:
        db.extra["schema_minor"] = 900
        db.dirty = True
    lab.enable_replication()
    lab.failover_task()
    r = lab.xe("B", "vm-list", "database:vdi-uuid=" + lab.metadata_vdi("B"))
    assert r.err == ("An error occurred while attempting to import a database from a metadata "
                     "VDI\nreason: Database does not match local schema.\n")


def test_metadata_latest_is_the_highest_generation(lab):
    srs = [u for u, t in lab.replicated_srs() if t == "lvmoiscsi"][:2]
    for sr in srs:
        lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    lab.mirror("freeze", ["lun2"])
    lab.ok("A", "vm-param-set", "uuid=" + lab.vm_uuid("web-01"), "name-description=late")
    lab.mirror("break")
    for sr in srs:
        lab.drtask("B", [sr]).value
    lab.make_visible("B", srs)
    rows = dict((sr, lab.uuid("B", "vdi", type="Metadata", **{"sr-uuid": sr})) for sr in srs)
    latest = dict((sr, lab.ok("B", "vdi-param-get", "uuid=" + v,
                              "param-name=metadata-latest").value) for sr, v in rows.items())
    assert latest == {srs[0]: "true", srs[1]: "false"}
    # the stale copy lacks the late write
    desc = lab.ok("B", "vm-param-get", "database:vdi-uuid=" + rows[srs[1]],
                  "uuid=" + lab.vm_uuid("web-01"), "param-name=name-description").out
    assert desc == "\n"


# --- assert and recover (2.5, 2.6) -------------------------------------------------------------

def test_assert_requires_sr_with_foreign_refs(dr):
    vm = dr.vm_uuid("db-01")  # on NFS at site A
    r = dr.xe("B", "vm-assert-can-be-recovered", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi)
    lines = _err_lines(r)
    assert lines[0].startswith("You attempted to run a VM on a host which doesn't have access")
    assert lines[1].startswith("vm: OpaqueRef:") and lines[2].startswith("sr: OpaqueRef:")
    fdb = dr.db("A")
    assert lines[1] == "vm: " + fdb.by_uuid("VM", vm)
    assert dr.xe("B", "vm-assert-can-be-recovered", "uuid=" + dr.vm_uuid("web-01"),
                 "database:vdi-uuid=" + dr.vdi).code == 0


def test_assert_names_an_unplugged_local_sr_by_its_local_ref(dr):
    """xapi_vm_helpers.ml assert_can_be_recovered: an SR found here by uuid but without an
    attached PBD is raised with its local reference, which xe prints as uuid and name."""
    metadata_sr = dr.ok("B", "vdi-param-get", "uuid=" + dr.vdi, "param-name=sr-uuid").value
    sr = [u for u, _ in dr.replicated_srs() if u != metadata_sr][0]
    db = dr.db("A")
    vm = sorted(db.rows("VM")[db.rows("VBD")[vbd]["VM"]]["uuid"]
                for vdi in db.children("VDI", "SR", db.by_uuid("SR", sr))
                for vbd in db.children("VBD", "VDI", vdi)
                if not db.rows("VM")[db.rows("VBD")[vbd]["VM"]].get("is_a_template"))[0]
    for pbd in dr.ok("B", "pbd-list", "sr-uuid=" + sr, "--minimal").values:
        dr.ok("B", "pbd-unplug", "uuid=" + pbd)
    r = dr.xe("B", "vm-assert-can-be-recovered", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi)
    name = dr.ok("B", "sr-param-get", "uuid=" + sr, "param-name=name-label").value
    lines = _err_lines(r)
    assert lines[1] == "vm: " + dr.db("A").by_uuid("VM", vm)
    assert lines[2] == "sr: %s (%s)" % (sr, name)


def test_assert_ignores_iso_srs(dr):
    vm = dr.vm_uuid("web-01")
    db = dr.db("A")
    cds = [db.rows("VBD")[v] for v in db.children("VBD", "VM", db.by_uuid("VM", vm))
           if db.rows("VBD")[v]["type"] == "CD"]
    assert cds and not cds[0]["empty"]  # web-01 has the tools ISO in its drive
    assert dr.xe("B", "vm-assert-can-be-recovered", "uuid=" + vm,
                 "database:vdi-uuid=" + dr.vdi).code == 0


def test_recover_needs_database_parameter(dr):
    r = dr.xe("B", "vm-recover", "uuid=" + dr.vm_uuid("web-01"))
    assert r.err.endswith("message: Failure: A parameter of the form 'database:vdi-uuid=<uuid>' "
                          "must be specified to run this command.\n")


def test_recover_unknown_vm(dr):
    r = dr.xe("B", "vm-recover", "uuid=00000000-0000-0000-0000-000000000000",
              "database:vdi-uuid=" + dr.vdi)
    assert r.err == ("The uuid you supplied was invalid.\ntype: VM\n"
                     "uuid: 00000000-0000-0000-0000-000000000000\n")


def test_recover_version_rule(dr):
    vm = dr.vm_uuid("web-01")
    args = ("vm-recover", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi)
    assert dr.ok("B", *args).out == ""
    assert dr.ok("B", "vm-param-get", "uuid=" + vm, "param-name=version").value == "1"
    assert dr.ok("B", "vm-param-get", "uuid=" + vm, "param-name=power-state").value == "halted"
    r = dr.xe("B", *args)
    assert r.err == ("The VM cannot be imported unforced because it is either the same version "
                     "or an older version of an existing VM.\nvm: %s (web-01)\n"
                     "existing_version: 1\nversion_to_import: 0\n" % vm)
    dr.ok("B", *(args + ("force=true",)))
    assert dr.ok("B", "vm-param-get", "uuid=" + vm, "param-name=version").value == "1"


def test_recover_existing_running_vm(dr):
    vm = dr.vm_uuid("web-01")
    args = ("vm-recover", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi)
    dr.ok("B", *args)
    dr.ok("B", "vm-start", "uuid=" + vm)
    r = dr.xe("B", *args)
    assert _err_lines(r)[1:] == ["vm: %s (web-01)" % vm, "expected: Halted", "actual: Running"]
    dr.ok("B", *(args + ("--force",)))  # skipped, no error
    assert dr.ok("B", "vm-param-get", "uuid=" + vm, "param-name=power-state").value == "running"


def test_recover_keeps_uuids_clears_appliance_and_matches_networks(dr):
    vm = dr.vm_uuid("web-01")
    dr.ok("B", "vm-recover", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi)
    a, b = dr.db("A"), dr.db("B")
    a_vm, b_vm = a.by_uuid("VM", vm), b.by_uuid("VM", vm)
    assert sorted(a.rows("VBD")[v]["uuid"] for v in a.children("VBD", "VM", a_vm)) == \
        sorted(b.rows("VBD")[v]["uuid"] for v in b.children("VBD", "VM", b_vm))
    assert dr.ok("B", "vm-param-get", "uuid=" + vm, "param-name=appliance").value == NID
    macs_a = sorted(a.rows("VIF")[v]["MAC"] for v in a.children("VIF", "VM", a_vm))
    macs_b = sorted(b.rows("VIF")[v]["MAC"] for v in b.children("VIF", "VM", b_vm))
    assert macs_a == macs_b
    net = dr.ok("B", "vif-list", "vm-uuid=" + vm, "params=network-uuid", "--minimal").values
    assert net == [dr.uuid("B", "network", **{"name-label": "VM Network"})]
    cd = dr.ok("B", "vbd-list", "vm-uuid=" + vm, "type=CD", "params=empty", "--minimal").value
    assert cd == "true"  # the ISO of site A's tools SR is not found: the CD is ejected


def _vms_on(dr, network, recoverable=True):
    """Foreign VMs with a VIF on site A's network ``network``, recoverable at B now."""
    db = dr.db("A")
    net = db.by_uuid("network", dr.uuid("A", "network", **{"name-label": network}))
    vms = sorted({db.rows("VM")[db.rows("VIF")[v]["VM"]]["uuid"]
                  for v in db.children("VIF", "network", net)
                  if not db.rows("VM")[db.rows("VIF")[v]["VM"]].get("appliance") or
                  util.is_null(db.rows("VM")[db.rows("VIF")[v]["VM"]]["appliance"])})
    return [vm for vm in vms if not recoverable or dr.xe(
        "B", "vm-assert-can-be-recovered", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi).code == 0]


def _contents(db):
    return dict((t, sorted(r["uuid"] for r in db.rows(t).values()))
                for t in ("VM", "VBD", "VIF", "network", "VM_appliance"))


def test_recover_onto_a_missing_network_fails_in_the_users_session(dr):
    """xen-api (v1.249.42, v24.19.2, HEAD): import.ml module Net matches a foreign network by
    name_label, then by bridge; with neither, ``handle`` calls
    ``Network.create_from_record`` with the foreign record, bridge included, in the session
    the recovery runs in (xapi_dr.ml ``recover_vms``: ``session_to``, which
    cli_operations.ml ``vm_recover`` sets to the CLI's own, a user's session).
    xapi_network.ml ``create`` refuses a bridge starting with xen/xapi/vif/tap/eth (or
    longer than 15 characters) from a session that is not a pool one:
    INVALID_VALUE ["bridge"; bridge]. Unforced, import.ml ``handle_all`` destroys what the
    import had created: nothing is left. A match by bridge alone (the precheck's
    ``get_all_records_where field "bridge"=...``) puts the VIF on that network, whatever it
    is called, and says nothing."""
    vm = _vms_on(dr, "DMZ")[0]
    assert dr.ok("A", "network-list", "name-label=DMZ", "params=bridge", "--minimal").value \
        == "xapi1"
    before = _contents(dr.db("B"))
    r = dr.xe("B", "vm-recover", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi)
    assert (r.code, r.out, r.err) == (1, "", "The value given is invalid\nfield: bridge\n"
                                            "value: xapi1\n")
    assert _contents(dr.db("B")) == before
    # a network of that name here is matched by name: the recovery goes through, onto it
    net = dr.ok("B", "network-create", "name-label=DMZ").value
    dr.ok("B", "vm-recover", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi)
    assert net in dr.ok("B", "vif-list", "vm-uuid=" + vm, "params=network-uuid",
                        "--minimal").values
    # bridge alone: B's Storage network (bridge xenbr1) renamed; a VM on A's Storage joins it
    storage_b = dr.uuid("B", "network", **{"name-label": "Storage"})
    dr.poke("B", "network", storage_b, name_label="Backup")
    vm = _vms_on(dr, "Storage")[0]
    before = _contents(dr.db("B"))["network"]
    dr.ok("B", "vm-recover", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi)
    assert _contents(dr.db("B"))["network"] == before
    assert storage_b in dr.ok("B", "vif-list", "vm-uuid=" + vm, "params=network-uuid",
                              "--minimal").values


def test_appliance_recover_onto_a_missing_network_fails_whole(lab):
    """The same rule for appliance-recover (xapi_vm_appliance.ml ``recover``: one import of
    every member, xapi_dr.ml ``recover_vms``): one member on DMZ fails the whole vApp."""
    app = lab.ok("A", "appliance-list", "params=uuid", "--minimal").values[0]
    member = lab.ok("A", "vm-list", "appliance=" + app, "params=uuid", "--minimal").values[0]
    dmz = lab.uuid("A", "network", **{"name-label": "DMZ"})
    lab.ok("A", "vif-create", "vm-uuid=" + member, "network-uuid=" + dmz, "device=7")
    lab.enable_replication()
    lab.failover_task()
    lab.vdi = lab.metadata_vdi("B")
    before = _contents(lab.db("B"))
    r = lab.xe("B", "appliance-recover", "uuid=" + app, "database:vdi-uuid=" + lab.vdi)
    assert (r.code, r.err) == (1, "The value given is invalid\nfield: bridge\nvalue: xapi1\n")
    assert _contents(lab.db("B")) == before


def test_forced_recovery_onto_a_missing_network_leaves_the_vm_record(dr):
    """import.ml ``handle_all``: with force a failed import is not cleaned up ("Not cleaning
    up after import failure since --force provided"); the VM handler ran before the network
    handler (``handlers``), so the VM record stays, Halted, with no VBD and no VIF."""
    vm = _vms_on(dr, "DMZ")[0]
    r = dr.xe("B", "vm-recover", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi, "force=true")
    assert (r.code, r.err) == (1, "The value given is invalid\nfield: bridge\nvalue: xapi1\n")
    assert dr.ok("B", "vm-param-get", "uuid=" + vm, "param-name=power-state").value == "halted"
    assert dr.ok("B", "vbd-list", "vm-uuid=" + vm, "--minimal").out == "\n"
    assert dr.ok("B", "vif-list", "vm-uuid=" + vm, "--minimal").out == "\n"


def test_network_create_checks_the_bridge(lab):
    """xapi_network.ml ``create`` from a user's session (xe network-create)."""
    for bridge in ("xapi9", "xenbr7", "eth0", "vif1.0", "tap2", "a" * 16):
        r = lab.xe("B", "network-create", "name-label=n", "bridge=" + bridge)
        assert (r.code, r.err) == (1, "The value given is invalid\nfield: bridge\nvalue: %s\n"
                                   % bridge)
    lab.ok("B", "network-create", "name-label=n", "bridge=br-dmz")
    r = lab.xe("B", "network-create", "name-label=m", "bridge=br-dmz")
    assert (r.code, r.err) == (1, "The specified bridge already exists.\nbridge: br-dmz\n")
    net = lab.ok("B", "network-create", "name-label=o").value
    assert lab.ok("B", "network-param-get", "uuid=" + net, "param-name=bridge").value \
        .startswith("xapi")


def test_recover_missing_vdi(dr):
    vm = dr.vm_uuid("web-01")
    a = dr.db("A")
    disk = [a.rows("VBD")[v]["VDI"] for v in a.children("VBD", "VM", a.by_uuid("VM", vm))
            if a.rows("VBD")[v]["type"] == "Disk"][0]
    vdi_uuid, location = a.rows("VDI")[disk]["uuid"], a.rows("VDI")[disk]["location"]
    with dr.lab.site("B").transaction() as db:
        db.delete("VDI", db.by_uuid("VDI", vdi_uuid))
    sr = a.rows("SR")[a.rows("VDI")[disk]["SR"]]
    r = dr.xe("B", "vm-recover", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi)
    assert r.err == ("This operation cannot be performed because the specified VDI could not be "
                     "found in the specified SR\nsr: %s (%s)\nlocation: %s\n"
                     % (sr["uuid"], sr["name_label"], location))
    assert dr.xe("B", "vm-list", "uuid=" + vm, "--minimal").out == "\n"  # cleaned up
    dr.ok("B", "vm-recover", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi, "--force")
    disks = dr.ok("B", "vbd-list", "vm-uuid=" + vm, "type=Disk", "--minimal").values
    assert len(disks) == len([v for v in a.children("VBD", "VM", a.by_uuid("VM", vm))
                              if a.rows("VBD")[v]["type"] == "Disk"]) - 1


def test_recover_brings_snapshots(dr):
    vm = dr.vm_uuid("web-01")
    dr.ok("B", "vm-recover", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi)
    snaps = dr.ok("B", "snapshot-list", "snapshot-of=" + vm, "--minimal").values
    assert len(snaps) == 1


def test_recover_clears_introduced_by(dr):
    vm = dr.vm_uuid("web-01")
    sr = dr.replicated_srs()[0][0]
    assert dr.ok("B", "sr-param-get", "uuid=" + sr, "param-name=introduced-by").value != NID
    dr.ok("B", "vm-recover", "uuid=" + vm, "database:vdi-uuid=" + dr.vdi)
    assert dr.ok("B", "sr-param-get", "uuid=" + sr, "param-name=introduced-by").value == NID


def test_appliance_recover_creates_then_reuses(dr):
    app = dr.ok("A", "appliance-list", "name-label=erp", "--minimal").value
    members = sorted(dr.ok("A", "vm-list", "appliance=" + app, "--minimal").values)
    args = ("appliance-recover", "uuid=" + app, "database:vdi-uuid=" + dr.vdi)
    dr.ok("B", "appliance-assert-can-be-recovered", "uuid=" + app, "database:vdi-uuid=" + dr.vdi)
    dr.ok("B", *args)
    assert dr.ok("B", "appliance-list", "--minimal").value == app
    assert sorted(dr.ok("B", "vm-list", "appliance=" + app, "--minimal").values) == members
    for vm in members:
        assert dr.ok("B", "vm-param-get", "uuid=" + vm, "param-name=version").value == "1"
    dr.ok("B", "appliance-param-set", "uuid=" + app, "name-label=renamed")
    dr.ok("B", *(args + ("force=true",)))
    assert dr.ok("B", "appliance-param-get", "uuid=" + app,
                 "param-name=name-label").value == "erp"
    assert sorted(dr.ok("B", "vm-list", "appliance=" + app, "--minimal").values) == members


# --- start, shutdown, destroy, appliances (2.8) -----------------------------------------------

def test_vm_start_waits_start_delay(lab):
    vm = lab.vm_uuid("dns-01")  # halted
    lab.ok("A", "vm-param-set", "uuid=" + vm, "start-delay=10")
    lab.set_cost_factor(0.02)
    t0 = time.time()
    lab.ok("A", "vm-start", "uuid=" + vm)
    assert time.time() - t0 >= (0.3 + 5 + 10) * 0.02 - 0.01
    assert lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=power-state").value == "running"


def test_vm_start_paused(lab):
    vm = lab.vm_uuid("dns-01")
    lab.ok("A", "vm-start", "uuid=" + vm, "paused=true")
    assert lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=power-state").value == "paused"


def test_vm_selectors(lab):
    assert lab.xe("A", "vm-start", "name-label=nope").err.endswith(
        "message: Failure: No matching VMs found\n")
    assert lab.xe("A", "vm-shutdown", "power-state=running").err.endswith(
        "message: Failure: Multiple matches VMs found. --multiple required to complete the "
        "operation\n")
    lab.ok("A", "vm-start", "vm=dns-01")


def test_vm_shutdown_clean_and_hard(lab):
    vm = lab.vm_uuid("web-01")
    lab.ok("A", "vm-shutdown", "uuid=" + vm)
    r = lab.xe("A", "vm-shutdown", "uuid=" + vm)
    assert _err_lines(r)[2:] == ["expected: running", "actual: halted"]
    r = lab.xe("A", "vm-shutdown", "uuid=" + vm, "--force")
    assert _err_lines(r)[2:] == ["expected: paused, suspended, running", "actual: halted"]
    vm2 = lab.vm_uuid("app-01")
    lab.ok("A", "vm-shutdown", "uuid=" + vm2, "--force")
    assert lab.ok("A", "vm-param-get", "uuid=" + vm2, "param-name=power-state").value == "halted"


def test_vm_destroy(lab):
    vm = lab.vm_uuid("web-01")
    r = lab.xe("A", "vm-destroy", "uuid=" + vm)
    assert _err_lines(r)[2:] == ["expected: halted, suspended", "actual: running"]
    disks = lab.ok("A", "vbd-list", "vm-uuid=" + vm, "params=vdi-uuid", "--minimal").values
    lab.ok("A", "vm-shutdown", "uuid=" + vm, "--force")
    lab.ok("A", "vm-destroy", "uuid=" + vm)
    assert lab.ok("A", "vm-list", "uuid=" + vm, "--minimal").out == "\n"
    for d in disks:
        if d != NID:
            assert lab.ok("A", "vdi-list", "uuid=" + d, "--minimal").value == d  # kept
    dom0 = lab.ok("A", "vm-list", "is-control-domain=true", "--minimal").values[0]
    assert lab.xe("A", "vm-destroy", "uuid=" + dom0).err.endswith(
        "reason: You cannot destroy a control domain via the CLI\n")


def _power_log(lab, site, uuids):
    return [(u, op) for u, op, _ in lab.db(site).extra.get("power_log", []) if u in uuids]


def test_appliance_start_and_shutdown_by_order_groups(lab):
    app = lab.ok("A", "appliance-list", "name-label=erp", "--minimal").value
    members = lab.ok("A", "vm-list", "appliance=" + app, "--minimal").values
    order = dict((u, int(lab.ok("A", "vm-param-get", "uuid=" + u, "param-name=order").value))
                 for u in members)
    lab.ok("A", "appliance-shutdown", "uuid=" + app)
    events = _power_log(lab, "A", members)
    assert [order[u] for u, _ in events] == sorted((order[u] for u, _ in events), reverse=True)
    assert set(op for _, op in events) == {"clean_shutdown"}
    lab.ok("A", "appliance-start", "uuid=" + app)
    events = _power_log(lab, "A", members)[len(events):]
    assert [order[u] for u, _ in events] == sorted(order[u] for u, _ in events)
    assert len(events) == len(members)


def test_appliance_operation_errors(lab):
    app = lab.ok("A", "appliance-list", "name-label=erp", "--minimal").value
    r = lab.xe("A", "appliance-start", "uuid=" + app)
    assert r.err.endswith("reason: There are no halted VMs in this appliance.\n")
    lab.ok("A", "appliance-shutdown", "uuid=" + app, "--force")
    assert lab.xe("A", "appliance-shutdown", "uuid=" + app).err.endswith(
        "reason: There are no running VMs in this appliance.\n")
    assert lab.xe("A", "appliance-shutdown", "uuid=" + app, "--force").err.endswith(
        "reason: All VMs in this appliance are halted.\n")
    empty = lab.ok("A", "appliance-create", "name-label=empty").value
    assert lab.xe("A", "appliance-start", "uuid=" + empty).err.endswith(
        "reason: Appliance has no VMs.\n")
    lab.ok("A", "appliance-destroy", "uuid=" + empty)


def test_appliance_partial_failure(lab):
    app = lab.ok("A", "appliance-list", "name-label=erp", "--minimal").value
    lab.ok("A", "appliance-shutdown", "uuid=" + app, "--force")
    for h in lab.ok("A", "host-list", "--minimal").values:
        lab.poke("A", "host", h, memory_free=0)
    r = lab.xe("A", "appliance-start", "uuid=" + app)
    lines = _err_lines(r)
    assert lines[0].startswith("Some VMs belonging to the appliance threw an exception")
    assert lines[1] == "operation: VM_appliance.start"
    assert all(l.startswith("<extra>: ") for l in lines[2:]) and len(lines) == 5


# --- SRs and PBDs (3.1) ---------------------------------------------------------------------

def test_sr_forget_with_attached_pbd(lab):
    nfs = lab.uuid("A", "sr", type="nfs")
    r = lab.xe("A", "sr-forget", "uuid=" + nfs)
    assert r.err == ("The SR is still connected to a host via a PBD. It cannot be destroyed or "
                     "forgotten.\nsr: %s (NFS VM storage)\n" % nfs)


def test_pbd_unplug_with_running_vm(lab):
    sr, _ = lab.replicated_srs()[0]
    master = lab.ok("A", "pool-list", "params=master", "--minimal").value
    pbd = lab.uuid("A", "pbd", **{"sr-uuid": sr, "host-uuid": master})
    r = lab.xe("A", "pbd-unplug", "uuid=" + pbd)
    assert r.err.startswith("This operation cannot be performed because this VDI is in use")


def test_manual_introduce_and_plug(lab):
    sr, _ = lab.replicated_srs()[0]
    sr_type, dc = lab.device_config(sr, "B")
    lab.mirror("break")
    lab.ok("B", "sr-introduce", "uuid=" + sr, "type=" + sr_type, "name-label=manual",
           "shared=true")
    r = lab.xe("B", "sr-introduce", "uuid=" + sr, "type=" + sr_type, "name-label=again")
    assert r.err == "An SR with that uuid already exists.\nuuid: %s\n" % sr
    host = lab.ok("B", "pool-list", "params=master", "--minimal").value
    args = ["pbd-create", "sr-uuid=" + sr, "host-uuid=" + host] + \
        ["device-config:%s=%s" % kv for kv in dc.items()]
    pbd = lab.ok("B", *args).value
    assert lab.xe("B", *args).err.startswith("A PBD already exists connecting the SR")
    lab.ok("B", "pbd-plug", "uuid=" + pbd)
    assert lab.ok("B", "vdi-list", "sr-uuid=" + sr, "--minimal").values == []  # no scan
    lab.ok("B", "sr-scan", "uuid=" + sr)
    assert lab.ok("B", "vdi-list", "sr-uuid=" + sr, "--minimal").values
    lab.ok("B", "pbd-unplug", "uuid=" + pbd)
    lab.ok("B", "sr-forget", "uuid=" + sr)


def test_plug_read_only_replica_refused(lab):
    sr, _ = lab.replicated_srs()[0]
    sr_type, dc = lab.device_config(sr, "B")
    lab.ok("B", "sr-introduce", "uuid=" + sr, "type=" + sr_type, "name-label=x", "shared=true")
    host = lab.ok("B", "pool-list", "params=master", "--minimal").value
    pbd = lab.ok("B", *(["pbd-create", "sr-uuid=" + sr, "host-uuid=" + host] +
                        ["device-config:%s=%s" % kv for kv in dc.items()])).value
    r = lab.xe("B", "pbd-plug", "uuid=" + pbd)
    assert r.err.startswith("Error code: SR_BACKEND_FAILURE_47\nError parameters: , The SR is "
                            "not available [opterr=")


def test_pool_redo_log(lab):
    sr, _ = lab.replicated_srs()[0]
    lab.ok("A", "pool-enable-redo-log", "sr-uuid=" + sr)
    vdi = lab.uuid("A", "vdi", **{"name-label": "Metadata redo-log"})
    assert lab.ok("A", "vdi-param-get", "uuid=" + vdi, "param-name=type").value == "Redo log"
    assert lab.ok("A", "vdi-param-get", "uuid=" + vdi, "param-name=sharable").value == "true"
    lab.ok("A", "pool-disable-redo-log")
    assert lab.ok("A", "vdi-list", "uuid=" + vdi, "--minimal").value == vdi  # kept


def test_ha_enable_disable(lab):
    pool = lab.ok("A", "pool-list", "--minimal").value
    lab.ok("A", "pool-ha-enable")
    assert lab.ok("A", "pool-param-get", "uuid=" + pool, "param-name=ha-enabled").value == "true"
    assert lab.xe("A", "pool-ha-enable").err.startswith("The operation could not be performed "
                                                        "because HA is enabled")
    lab.ok("A", "pool-ha-disable")
    assert lab.xe("A", "pool-ha-disable").code == 1


def test_secret_create(lab):
    uuid = lab.ok("A", "secret-create", "value=s3cret").value
    assert lab.ok("A", "secret-param-get", "uuid=" + uuid, "param-name=value").value == "s3cret"
    entry = lab.call_log()[-2]
    assert entry["command"] == "secret-create" and entry["args"] == ["value=<redacted>"]


def test_unused_helpers_stay_importable():
    assert replication.MAX_REDO_LOGS == 8 and array.STATE


def test_metadata_lun_alerts(lab):
    sr, _ = lab.replicated_srs()[0]
    pool = lab.ok("A", "pool-list", "--minimal").value
    lab.ok("A", "pool-param-set", "uuid=" + pool, "other-config:metadata_lun_alerts=true")
    lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    lab.mirror("break")
    lab.mirror("reverse")  # A's copy becomes a read-only target: A's redo log breaks
    lab.ok("A", "vm-param-set", "uuid=" + lab.vm_uuid("web-01"), "name-description=x")
    msg = lab.ok("A", "message-list", "name=METADATA_LUN_BROKEN", "--minimal").value
    vdi = lab.uuid("A", "vdi", type="Metadata")
    assert lab.ok("A", "message-param-get", "uuid=" + msg, "param-name=body").value == \
        "Redo log [DR redo log for VDI %s]" % vdi
    assert lab.ok("A", "vdi-param-get", "uuid=" + vdi,
                  "param-name=metadata-latest").value == "false"
    lab.mirror("reverse")  # back to A -> B: the next write succeeds again
    lab.ok("A", "vm-param-set", "uuid=" + lab.vm_uuid("web-01"), "name-description=y")
    healthy = lab.ok("A", "message-list", "name=METADATA_LUN_HEALTHY", "--minimal").value
    assert lab.ok("A", "vdi-param-get", "uuid=" + vdi,
                  "param-name=metadata-latest").value == "true"
    # api_messages.ml: redo_log_broken priority 3, redo_log_healthy 4; on the pool
    for uuid, priority in ((msg, "3"), (healthy, "4")):
        for field, value in (("priority", priority), ("class", "Pool"), ("obj-uuid", pool),
                             ("body", "Redo log [DR redo log for VDI %s]" % vdi)):
            assert lab.ok("A", "message-param-get", "uuid=" + uuid,
                          "param-name=" + field).value == value, (field, uuid)


def test_scan_brings_vdis_with_their_snapshot_links(dr):
    a = dr.db("A")
    snaps = [(r["uuid"], a.rows("VDI")[r["snapshot_of"]]["uuid"])
             for r in a.rows("VDI").values() if r.get("is_a_snapshot")]
    assert snaps
    for snap, parent in snaps:
        assert dr.ok("B", "vdi-param-get", "uuid=" + snap, "param-name=snapshot-of").value == \
            parent
        assert dr.ok("B", "vdi-param-get", "uuid=" + snap,
                     "param-name=is-a-snapshot").value == "true"
