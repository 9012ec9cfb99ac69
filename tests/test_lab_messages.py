"""message-create, message-list and message-destroy as xapi's CLI has them (xen-api
cli_frontend.ml, cli_operations.ml message_create / message_destroy, xapi_message.ml create /
destroy / get_real_inner, records.ml message_record)."""

import pytest

DOC_INTERNAL = ("The server failed to handle your request, due to an internal error. The given "
                "message may give details useful for debugging the problem.\nmessage: Failure: ")
UTF8_EXPECTED = "The value given is invalid\nfield: UTF8 expected\nvalue: <unknown>\n"


def _pool(lab, site="A"):
    return lab.ok(site, "pool-list", "--minimal").value


def _row(lab, name, site="A"):
    rows = [r for r in lab.db(site).rows("message").values() if r["name"] == name]
    assert len(rows) == 1, rows
    return rows[0]


def test_create_prints_nothing_and_list_prints_the_record(lab):
    pool = _pool(lab)
    r = lab.xe("A", "message-create", "name=XE_DR_TEST_PROBLEM", "priority=2",
               "body=3 VM(s) at-risk: web-01, db-01", "pool-uuid=" + pool)
    assert (r.code, r.out, r.err) == (0, "", "")
    row = _row(lab, "XE_DR_TEST_PROBLEM")
    out = lab.ok("A", "message-list", "name=XE_DR_TEST_PROBLEM").out
    assert out == (
        "uuid ( RO)         : %s\n"
        "         name ( RO): XE_DR_TEST_PROBLEM\n"
        "     priority ( RO): 2\n"
        "        class ( RO): Pool\n"
        "     obj-uuid ( RO): %s\n"
        "    timestamp ( RO): %s\n"
        "         body ( RO): 3 VM(s) at-risk: web-01, db-01\n\n\n"
        % (row["uuid"], pool, row["timestamp"]))
    assert len(row["timestamp"]) == 18 and row["timestamp"].endswith("Z")  # 20240115T10:20:30Z
    assert lab.ok("A", "message-param-get", "uuid=" + row["uuid"],
                  "param-name=obj-uuid").value == pool


def test_list_is_newest_first_and_filters_by_object(lab):
    pool = _pool(lab)
    host = lab.ok("A", "host-list", "--minimal").values[0]
    for name in ("FIRST", "SECOND", "THIRD"):
        lab.ok("A", "message-create", "name=" + name, "priority=5", "body=x",
               "pool-uuid=" + pool)
    lab.ok("A", "message-create", "name=ON_HOST", "priority=5", "body=x", "host-uuid=" + host)
    assert lab.ok("A", "message-list", "obj-uuid=" + pool, "params=name",
                  "--minimal").values == ["THIRD", "SECOND", "FIRST"]
    assert lab.ok("A", "message-list", "class=Host", "obj-uuid=" + host, "params=name",
                  "--minimal").values == ["ON_HOST"]


def test_the_object_parameter_that_wins_and_the_class(lab):
    pool = _pool(lab)
    vm = lab.vm_uuid("web-01")
    sr = lab.replicated_srs()[0][0]
    # message_create tests vm-uuid, then pool-uuid, sr-uuid, host-uuid
    lab.ok("A", "message-create", "name=BOTH", "priority=1", "body=b", "pool-uuid=" + pool,
           "vm-uuid=" + vm)
    assert (_row(lab, "BOTH")["cls"], _row(lab, "BOTH")["obj_uuid"]) == ("VM", vm)
    lab.ok("A", "message-create", "name=ON_SR", "priority=1", "body=b", "sr-uuid=" + sr)
    assert lab.ok("A", "message-list", "name=ON_SR", "params=class",
                  "--minimal").value == "SR"


def test_priority_is_read_as_ocaml_int64(lab):
    pool = _pool(lab)
    for text, printed in (("0x10", "16"), ("1_000", "1000"), ("-3", "-3"), ("0b101", "5"),
                          ("0xFFFFFFFFFFFFFFFF", "-1"), ("-9223372036854775808",
                                                      "-9223372036854775808")):
        lab.ok("A", "message-create", "name=P" + text, "priority=" + text, "body=b",
               "pool-uuid=" + pool)
        assert lab.ok("A", "message-list", "name=P" + text, "params=priority",
                      "--minimal").value == printed, text
    for text in ("x", "", "1.5", "9223372036854775808", "_1", "0x"):
        r = lab.xe("A", "message-create", "name=bad", "priority=" + text, "body=b",
                   "pool-uuid=" + pool)
        assert (r.code, r.out, r.err) == (
            1, "", DOC_INTERNAL + "Priority field should be an integer\n"), text


def test_create_errors(lab):
    pool = _pool(lab)
    r = lab.xe("A", "message-create", "name=n", "priority=3", "body=b")
    assert (r.code, r.err) == (1, "Error: Need one of: vm-uuid, host-uuid, sr-uuid or "
                                  "pool-uuid\n")
    r = lab.xe("A", "message-create", "name=n", "priority=3", "pool-uuid=" + pool)
    assert (r.code, r.err) == (1, "Required parameter not found: body\n"
                                  "For usage run: 'xe help'\n")
    host = lab.ok("A", "host-list", "--minimal").values[0]
    r = lab.xe("A", "message-create", "name=n", "priority=3", "body=b", "pool-uuid=" + host)
    assert (r.code, r.err) == (1, "The uuid you supplied was invalid.\ntype: Pool\nuuid: %s\n"
                               % host)
    r = lab.xe("A", "message-create", "name=n", "priority=3", "body=b", "vm-uuid=")
    assert (r.code, r.err) == (1, "The uuid you supplied was invalid.\ntype: VM\nuuid: \n")
    assert lab.db("A").rows("message") and not [
        m for m in lab.db("A").rows("message").values() if m["name"] == "n"]


@pytest.mark.parametrize("release, refused", [("xcp-ng-8.3", True), ("citrix-8.2", True),
                                              ("xcp-ng-9", False)])
def test_body_checks_by_release(lab_factory, release, refused):
    """UTF8_XML.is_valid up to v25.30 refuses control characters; from v25.31 (XSA-474) the
    body is only checked to be UTF-8."""
    lab = lab_factory(release=release)
    pool = _pool(lab)
    r = lab.xe("A", "message-create", "name=BELL", "priority=3", "body=a\x07b",
               "pool-uuid=" + pool)
    assert (r.code, r.err) == ((1, UTF8_EXPECTED) if refused else (0, ""))
    lab.ok("A", "message-create", "name=TAB", "priority=3", "body=a\tb", "pool-uuid=" + pool)
    r = lab.xe("A", "message-create", "name=BAD", "priority=3", "body=a\udcffb",
               "pool-uuid=" + pool)
    assert (r.code, r.err) == (1, UTF8_EXPECTED)


def test_destroy_one_or_many(lab):
    pool = _pool(lab)
    for name in ("M1", "M2", "M3"):
        lab.ok("A", "message-create", "name=" + name, "priority=4", "body=b",
               "pool-uuid=" + pool)
    m1, m2, m3 = (_row(lab, n)["uuid"] for n in ("M1", "M2", "M3"))
    r = lab.xe("A", "message-destroy", "uuid=" + m1)
    assert (r.code, r.out, r.err) == (0, "", "")
    lab.ok("A", "message-destroy", "uuids=%s,%s" % (m2, m3))
    assert lab.ok("A", "message-list", "obj-uuid=" + pool, "--minimal").out == "\n"
    r = lab.xe("A", "message-destroy", "uuid=" + m1)
    assert (r.code, r.err) == (1, "The uuid you supplied was invalid.\ntype: message\n"
                                  "uuid: %s\n" % m1)


def test_destroy_errors(lab):
    pool = _pool(lab)
    lab.ok("A", "message-create", "name=KEEP", "priority=4", "body=b", "pool-uuid=" + pool)
    keep = _row(lab, "KEEP")["uuid"]
    assert lab.xe("A", "message-destroy").err == "Error: Need one of uuid, uuids\n"
    assert lab.xe("A", "message-destroy", "uuid=" + keep, "uuids=" + keep).err == \
        "Error: Ambiguous arguments; need one of uuid, uuids\n"
    # every uuid is looked up before any is destroyed
    r = lab.xe("A", "message-destroy", "uuids=%s,nope" % keep)
    assert (r.code, r.err) == (1, "The uuid you supplied was invalid.\ntype: message\n"
                                  "uuid: nope\n")
    assert _row(lab, "KEEP")
    # named twice: destroyed by the first, HANDLE_INVALID (the raw ref) for the second
    ref = [k for k, v in lab.db("A").rows("message").items() if v["uuid"] == keep][0]
    r = lab.xe("A", "message-destroy", "uuids=%s,%s" % (keep, keep))
    assert r.code == 1 and r.err.endswith("\nclass: message\nhandle: %s\n" % ref)
    assert r.err.startswith("You gave an invalid object reference.")
    assert not [m for m in lab.db("A").rows("message").values() if m["uuid"] == keep]


def test_destroy_takes_one_uuid_on_1_249(lab_factory):
    lab = lab_factory(release="citrix-8.2")
    pool = _pool(lab)
    lab.ok("A", "message-create", "name=OLD", "priority=4", "body=b", "pool-uuid=" + pool)
    old = _row(lab, "OLD")["uuid"]
    r = lab.xe("A", "message-destroy", "uuids=" + old)
    assert (r.code, r.err) == (1, "Required parameter not found: uuid\n"
                                  "For usage run: 'xe help'\n")
    lab.ok("A", "message-destroy", "uuid=" + old)
    assert not lab.ok("A", "message-list", "name=OLD", "--minimal").values


def test_messages_stay_out_of_the_database(lab, tmp_path):
    """datamodel.ml Message in_db:false: xapi keeps messages in files, so a database dump,
    hence a replicated copy, holds none, and database: listings show the pool's own."""
    pool = _pool(lab)
    lab.ok("A", "message-create", "name=LOCAL", "priority=4", "body=b", "pool-uuid=" + pool)
    dump = str(tmp_path / "dump.xml")
    lab.ok("A", "pool-dump-database", "file-name=" + dump)
    with open(dump, "rb") as handle:
        data = handle.read()
    assert b'<table name="message"' not in data and b"LOCAL" not in data
    assert lab.ok("A", "message-list", "name=LOCAL", "database:filename=" + dump,
                  "params=name", "--minimal").value == "LOCAL"
