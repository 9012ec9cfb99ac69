"""HA statefiles (xapi_ha.ml enable/disable, xha_statefile.ml, xha_metadata_vdi.ml)."""

import pytest

from xe_dr.lab import array, replication


def pool(lab, site="A"):
    return lab.ok(site, "pool-list", "--minimal").value


def param(lab, site, cls, uuid, name):
    return lab.ok(site, "%s-param-get" % cls, "uuid=" + uuid, "param-name=" + name).value


def sr_named(lab, site, name):
    return lab.uuid(site, "sr", **{"name-label": name})


def test_enable_creates_the_statefile_on_the_heartbeat_sr(lab):
    sr, _ = lab.replicated_srs()[0]
    other, _ = lab.replicated_srs()[1]
    lab.ok("A", "pool-ha-enable", "heartbeat-sr-uuids=%s,%s" % (sr, other))
    statefile = param(lab, "A", "pool", pool(lab), "ha-statefiles")
    assert param(lab, "A", "vdi", statefile, "sr-uuid") == sr        # the first SR only
    for name, value in (("type", "HA statefile"), ("name-label", "Statefile for HA"),
                        ("name-description", "Used for storage heartbeating"),
                        ("sharable", "true"), ("read-only", "false"),
                        ("virtual-size", str(4 * 1024 * 1024))):      # LVHD: a 4 MiB raw LV
        assert param(lab, "A", "vdi", statefile, name) == value, name
    assert lab.ok("A", "vdi-param-get", "uuid=" + statefile, "param-name=sm-config",
                  "param-key=type").value == "raw"
    metadata = lab.ok("A", "vdi-list", "sr-uuid=" + sr, "name-label=Metadata for HA",
                      "--minimal").value
    assert param(lab, "A", "vdi", metadata, "type") == "Redo log"
    assert param(lab, "A", "vdi", metadata, "virtual-size") == "3988783104"
    assert not lab.ok("A", "vdi-list", "sr-uuid=" + other, "type=HA statefile",
                      "--minimal").values
    # the VG on the LUN has them too (the SR's VDIs follow the database)
    db = lab.db("A")
    lun = replication.sr_lun(lab.array(), "A", db, db.by_uuid("SR", sr))
    assert array.read_vg(lab.lab, lun, "A")["vdis"][statefile]["type"] == "ha_statefile"


def test_disable_keeps_the_statefile_and_enable_reuses_it(lab):
    sr, _ = lab.replicated_srs()[0]
    lab.ok("A", "pool-ha-enable", "heartbeat-sr-uuids=" + sr, "ha-config:timeout=60")
    statefile = param(lab, "A", "pool", pool(lab), "ha-statefiles")
    vdis = set(lab.ok("A", "vdi-list", "--minimal").values)
    lab.ok("A", "pool-ha-disable")
    assert param(lab, "A", "pool", pool(lab), "ha-enabled") == "false"
    # xapi's disable detaches the statefile; it neither destroys it nor clears the field
    assert lab.ok("A", "vdi-list", "uuid=" + statefile, "--minimal").value == statefile
    assert param(lab, "A", "pool", pool(lab), "ha-statefiles") == statefile
    assert param(lab, "A", "vdi", statefile, "sr-uuid") == sr
    lab.ok("A", "pool-ha-enable", "heartbeat-sr-uuids=" + sr)
    assert param(lab, "A", "pool", pool(lab), "ha-statefiles") == statefile
    assert set(lab.ok("A", "vdi-list", "--minimal").values) == vdis     # nothing new


def test_file_srs_keep_the_statefile_size(lab):
    nfs = sr_named(lab, "A", "NFS VM storage")
    lab.ok("A", "pool-ha-enable", "heartbeat-sr-uuids=" + nfs)
    statefile = param(lab, "A", "pool", pool(lab), "ha-statefiles")
    assert param(lab, "A", "vdi", statefile, "virtual-size") == str(4096 + 64 * 4096)


def test_srs_that_cannot_hold_a_statefile(lab):
    local = lab.ok("A", "sr-list", "name-label=Local storage", "--minimal").values[0]
    r = lab.xe("A", "pool-ha-enable", "heartbeat-sr-uuids=" + local)
    assert r.code == 1 and r.err.startswith("The SR has no attached PBDs\nsr: %s" % local)
    tools = sr_named(lab, "A", "XCP-ng Tools")
    r = lab.xe("A", "pool-ha-enable", "heartbeat-sr-uuids=" + tools)
    assert r.err.startswith("The SR backend does not support the operation")
    r = lab.xe("A", "pool-ha-enable", "heartbeat-sr-uuids=00000000-0000-4000-8000-000000000000")
    assert r.err.startswith("The uuid you supplied was invalid.")
    sr, _ = lab.replicated_srs()[0]
    pbd = lab.ok("A", "pbd-list", "sr-uuid=" + sr, "--minimal").values[-1]
    lab.poke("A", "PBD", pbd, currently_attached=False)
    r = lab.xe("A", "pool-ha-enable", "heartbeat-sr-uuids=" + sr)
    assert r.err.startswith("The SR has no attached PBDs")
    assert param(lab, "A", "pool", pool(lab), "ha-enabled") == "false"
    assert not lab.ok("A", "vdi-list", "type=HA statefile", "--minimal").values


@pytest.mark.parametrize("site", ["A", "B"])
def test_without_heartbeat_srs_a_suitable_sr_is_chosen(lab, site):
    lab.ok(site, "pool-ha-enable")
    statefile = param(lab, site, "pool", pool(lab, site), "ha-statefiles")
    sr = param(lab, site, "vdi", statefile, "sr-uuid")
    assert param(lab, site, "sr", sr, "type") in ("lvmoiscsi", "lvmohba", "nfs")
