"""The lab's outputs go through the foundation's parsers (xe_dr.xe.records / errors) intact."""

import pytest

from xe_dr.lab.schema import CLASSES
from xe_dr.xe import errors, records


@pytest.mark.parametrize("cli", sorted(CLASSES))
def test_every_listing_parses(lab, cli):
    out = lab.ok("A", cli + "-list", "params=all").out
    parsed = records.parse_records(out)
    table = CLASSES[cli].table
    db = lab.db("A")
    if cli in ("vm", "template", "snapshot"):
        assert parsed or cli == "snapshot"
    else:
        assert len(parsed) == len(db.rows(table))
    visible = [f.name for f in CLASSES[cli].fields if not f.hidden]
    for rec in parsed:
        assert list(rec) == visible
        for name in rec:
            f = CLASSES[cli].by_name[name]
            assert rec.modes[name] == f.mode.strip()[1:-1].strip()


def test_param_list_values_round_trip(lab):
    vm = lab.vm_uuid("web-01")
    rec = records.parse_records(lab.ok("A", "vm-param-list", "uuid=" + vm).out)[0]
    assert rec["uuid"] == vm and rec["name-label"] == "web-01"
    assert rec.map("platform")["device-model"] == "qemu-upstream-compat"
    assert rec.ref("appliance") is not None
    assert rec.bool("is-a-template") is False
    assert rec.set("VBDs")
    for field in ("order", "start-delay", "shutdown-delay", "version"):
        assert lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=" + field).value == \
            rec[field]


def test_foreign_listing_round_trip(lab):
    lab.enable_replication()
    lab.failover_task()
    vdi = lab.metadata_vdi("B")
    out = lab.ok("B", "vm-list", "database:vdi-uuid=" + vdi, "is-control-domain=false",
                 "params=uuid,name-label,power-state,order,start-delay,shutdown-delay,"
                 "ha-restart-priority,appliance").out
    parsed = records.parse_records(out)
    assert len(parsed) == 12
    assert all(r.ref("appliance") is None for r in parsed)  # <not in database>
    assert all(r["appliance"] == records.NOT_IN_DATABASE for r in parsed)


def test_minimal_round_trip(lab):
    vm = lab.vm_uuid("web-01")
    lab.ok("A", "vm-param-set", "uuid=" + vm, "name-label=a,b\\c")
    out = lab.ok("A", "vm-list", "is-control-domain=false", "params=name-label",
                 "--minimal").out
    names = records.parse_minimal(out)
    assert "a,b\\c" in names and len(names) == 12
    assert records.parse_minimal(lab.ok("A", "vm-list", "name-label=none", "--minimal").out) == []


def test_param_get_round_trip(lab):
    vm = lab.vm_uuid("web-01")
    out = lab.ok("A", "vm-param-get", "uuid=" + vm, "param-name=name-label").out
    assert records.parse_param_get(out) == "web-01"


def _parse(r):
    assert r.code == 1
    return errors.parse_error(r.err, r.out, exit_status=r.code)


def test_known_error_round_trip(lab):
    vm = lab.vm_uuid("web-01")
    e = _parse(lab.xe("A", "vm-start", "uuid=" + vm))
    assert e.code == "VM_BAD_POWER_STATE"
    assert e.params == ["%s (web-01)" % vm, "halted", "running"]
    assert e.param_map["expected"] == "halted"
    e = _parse(lab.xe("A", "vm-param-list", "uuid=nope"))
    assert (e.code, e.params) == ("UUID_INVALID", ["VM", "nope"])


def test_sm_error_round_trip(lab):
    e = _parse(lab.xe("B", "sr-probe", "type=lvmoiscsi", "device-config:target=10.0.2.50"))
    assert e.code == "SR_BACKEND_FAILURE_96" and e.sm_error_number == 96
    assert e.params[0] == ""
    assert e.params[1] == "The request is missing or has an incorrect target IQN parameter"
    assert "<TargetIQN>iqn.2001-05.com.labarray:site-b</TargetIQN>" in e.params[2]


def test_cli_error_round_trip(lab):
    e = _parse(lab.xe("A", "vm-list", "nosuch=1"))
    assert e.code == "INTERNAL_ERROR" and e.unknown_field() == "nosuch"
    e = _parse(lab.xe("A", "vm-param-get", "param-name=x"))
    assert e.code == "CLI_REQUIRED_PARAMETER_NOT_FOUND" and e.params == ["uuid"]
    e = _parse(lab.xe("A", "frob"))
    assert e.code == "CLI_UNKNOWN_COMMAND"
    e = _parse(lab.xe("A", "vm-recover", "uuid=x"))
    assert e.is_missing_database_vdi()
    e = _parse(lab.xe("A", "vm-shutdown", "power-state=running"))
    assert e.is_multiple_matches()
    lab.disaster("A")
    e = _parse(lab.xe("A", "vm-list"))
    assert e.code == "CLI_CONNECTION_FAILED"


def test_multiple_failure_round_trip(lab):
    e = _parse(lab.xe("A", "vm-start", "power-state=running", "is-control-domain=false",
                      "--multiple"))
    assert e.code == "CLI_MULTIPLE_FAILURE"


def test_partially_failed_round_trip(lab):
    app = lab.ok("A", "appliance-list", "name-label=erp", "--minimal").value
    lab.ok("A", "appliance-shutdown", "uuid=" + app, "--force")
    for h in lab.ok("A", "host-list", "--minimal").values:
        lab.poke("A", "host", h, memory_free=0)
    e = _parse(lab.xe("A", "appliance-start", "uuid=" + app))
    assert e.code == "OPERATION_PARTIALLY_FAILED"
    assert e.param_map["operation"] == "VM_appliance.start" and len(e.extra) == 3
