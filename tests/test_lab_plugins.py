"""Host plugins: xapi's contract (reference 7.2) and the XenAPI stand-ins bound to the lab."""

import json
import os
import shutil
import textwrap

import pytest

from tests.fixtures_lab import python36

PLUGIN = textwrap.dedent('''\
    #!/usr/bin/env python3
    import json
    import os
    import sys

    import XenAPI
    import XenAPIPlugin


    def ping(session, args):
        return json.dumps({"args": args, "python": list(sys.version_info[:2])})


    def fail(session, args):
        raise XenAPIPlugin.Failure("MY_CODE", ["a", "b"])


    def known(session, args):
        raise XenAPIPlugin.Failure("SR_HAS_PBD", ["x"])


    def boom(session, args):
        raise ValueError("bad thing")


    def noisy(session, args):
        print("hello")
        return "x"


    def crash(session, args):
        sys.stderr.write("dying\\n")
        sys.exit(3)


    def number(session, args):
        return 42


    def metadata(session, args):
        vdi = session.xenapi.VDI.get_by_uuid(args["vdi"])
        db = XenAPI.xapi_local()
        db._session = session.xenapi.VDI.open_database(vdi)
        try:
            vms = db.xenapi.VM.get_all_records()
            apps = db.xenapi.VM_appliance.get_all_records()
            pools = db.xenapi.pool.get_all_records()
            out = {
                "pool": [p["uuid"] for p in pools.values()],
                "vms": sorted(r["name_label"] for r in vms.values()
                              if not r["is_control_domain"] and not r["is_a_template"]),
                "apps": dict((a["name_label"], sorted(vms[v]["uuid"] for v in a["VMs"]))
                             for a in apps.values()),
                "order": dict((r["uuid"], r["order"]) for r in vms.values()),
            }
            if args.get("recover"):
                local = session._session
                for ref, a in apps.items():
                    if a["name_label"] == args["recover"]:
                        db.xenapi.VM_appliance.assert_can_be_recovered(ref, local)
                        db.xenapi.VM_appliance.recover(ref, local, False)
            return json.dumps(out)
        finally:
            # a session ref set by hand: only the raw call logs it out (XenAPI.py _logout
            # needs a login method)
            db.session.logout(db._session)


    def device(session, args):
        mapping = json.loads(os.environ["XE_DR_LAB_DEVICE_MAP"])
        path = mapping["/dev/VG_XenStorage-%s/LV-%s" % (args["sr"], args["vdi"])]
        with open(path, "rb") as f:
            head = f.read(18)
        return head[:16].decode("ascii")


    def environment(session, args):
        dev = os.environ["XE_DR_PLUGIN_DEV_ROOT"]
        links = {}
        for folder, _, files in os.walk(dev):
            for name in files:
                path = os.path.join(folder, name)
                links[os.path.relpath(path, dev)] = os.path.realpath(path)
        db = os.environ["XE_DR_PLUGIN_XAPI_DB"]
        with open(db + ".generation") as f:
            generation = f.read()
        with open(db, "rb") as f:
            head = f.read(300).decode("utf-8")
        with open(os.environ["XE_DR_PLUGIN_INVENTORY"]) as f:
            inventory = f.read()
        return json.dumps({"links": links, "generation": generation, "head": head,
                           "inventory": inventory, "dev": dev})


    def local(session, args):
        pool = session.xenapi.pool.get_all()[0]
        session.xenapi.pool.add_to_other_config(pool, "xe-dr-test", args["v"])
        return session.xenapi.pool.get_other_config(pool)["xe-dr-test"]


    def badsession(session, args):
        other = XenAPI.xapi_local()
        other._session = "OpaqueRef:nonsense"
        return str(other.xenapi.VM.get_all())


    if __name__ == "__main__":
        XenAPIPlugin.dispatch({"ping": ping, "fail": fail, "known": known, "boom": boom,
                               "noisy": noisy, "crash": crash, "number": number,
                               "metadata": metadata, "device": device, "local": local,
                               "badsession": badsession, "environment": environment})
    ''')


@pytest.fixture
def plugged(lab):
    host = lab.ok("B", "pool-list", "params=master", "--minimal").value
    folder = lab.lab.plugin_dir(host)
    with open(os.path.join(folder, "xedr-test"), "w") as f:
        f.write(PLUGIN)
    os.chmod(os.path.join(folder, "xedr-test"), 0o755)
    lab.host = host
    return lab


def call(lab, fn, **args):
    argv = ["host-call-plugin", "host-uuid=" + lab.host, "plugin=xedr-test", "fn=" + fn]
    argv += ["args:%s=%s" % kv for kv in sorted(args.items())]
    return lab.xe("B", *argv)


def test_success_returns_the_string(plugged):
    r = call(plugged, "ping", x="1")
    assert r.code == 0
    result = json.loads(r.out)
    assert result["args"] == {"x": "1"}
    if python36():
        assert result["python"] == [3, 6]
    assert r.out.endswith("}\n")


def test_failure_becomes_the_error(plugged):
    r = call(plugged, "fail")
    assert r.err == "Error code: MY_CODE\nError parameters: a, b\n"
    r = call(plugged, "known")
    assert r.err.startswith("The SR is still connected to a host via a PBD.")


def test_other_exception(plugged):
    r = call(plugged, "boom")
    assert r.err == ("There was a failure communicating with the plug-in.\nstatus: boom\n"
                     "stdout: ValueError\nstderr: bad thing\n")


def test_unknown_function(plugged):
    r = call(plugged, "nope")
    assert r.err == "Error code: UNKNOWN_XENAPI_PLUGIN_FUNCTION\nError parameters: nope\n"


def test_stray_stdout(plugged):
    r = call(plugged, "noisy")
    lines = r.err.splitlines()
    assert lines[0] == "There was a failure communicating with the plug-in."
    assert lines[1] == "status: failed to parse plugin output"
    assert lines[2] == "stdout: hello"


def test_non_zero_exit(plugged):
    r = call(plugged, "crash")
    assert r.err == ("There was a failure communicating with the plug-in.\n"
                     "status: non-zero exit\nstdout: \nstderr: dying\n\n")


def test_non_string_value(plugged):
    r = call(plugged, "number")
    assert "status: unexpected XMLRPC result" in r.err


def test_missing_plugin(plugged):
    r = plugged.xe("B", "host-call-plugin", "host-uuid=" + plugged.host, "plugin=absent",
                   "fn=x")
    assert r.err == "The requested plug-in could not be found.\nname: absent\n"
    other = [h for h in plugged.ok("B", "host-list", "--minimal").values if h != plugged.host][0]
    r = plugged.xe("B", "host-call-plugin", "host-uuid=" + other, "plugin=xedr-test",
                   "fn=ping")
    assert r.err.startswith("The requested plug-in could not be found.")  # per host


def test_args_are_redacted_in_the_call_log(plugged):
    call(plugged, "ping", secretish="x")
    entry = plugged.call_log()[-1]
    assert entry["command"] == "host-call-plugin"
    assert "args:secretish=<redacted>" in entry["args"]


def test_plugin_reads_foreign_database_and_recovers(plugged):
    lab = plugged
    lab.enable_replication()
    lab.failover_task()
    vdi = lab.metadata_vdi("B")
    r = call(lab, "metadata", vdi=vdi, recover="erp")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["pool"] == [lab.ok("A", "pool-list", "--minimal").value]
    assert len(out["vms"]) == 12
    app = lab.ok("A", "appliance-list", "name-label=erp", "--minimal").value
    members = sorted(lab.ok("A", "vm-list", "appliance=" + app, "--minimal").values)
    assert out["apps"]["erp"] == members  # membership that xe cannot show
    assert sorted(lab.ok("B", "vm-list", "appliance=" + app, "--minimal").values) == members
    opens = [e for e in lab.call_log() if e["command"] == "VDI.open_database"]
    assert opens and opens[-1]["via"] == "XenAPI"


def test_plugin_device_map(plugged):
    lab = plugged
    sr, _ = lab.replicated_srs()[0]
    lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    lab.failover_task()
    vdi = lab.metadata_vdi("B")
    r = call(lab, "device", sr=sr, vdi=vdi)
    assert r.value == "redo-log--------"


def test_plugin_local_session_writes(plugged):
    r = call(plugged, "local", v="yes")
    assert r.value == "yes"
    pool = plugged.ok("B", "pool-list", "--minimal").value
    assert plugged.ok("B", "pool-param-get", "uuid=" + pool, "param-name=other-config",
                      "param-key=xe-dr-test").value == "yes"


def test_plugin_invalid_session(plugged):
    # XenAPI.py: SESSION_INVALID on a session set by hand (no login to retry with) is
    # xmlrpclib.Fault(401, 'You must log in'); XenAPIPlugin.dispatch reports the exception
    r = call(plugged, "badsession")
    assert r.err == ("There was a failure communicating with the plug-in.\n"
                     "status: badsession\nstdout: Fault\n"
                     "stderr: <Fault 401: 'You must log in'>\n")


def test_install_by_copying(lab, tmp_path):
    host = lab.ok("A", "host-list", "--minimal").values[0]
    src = tmp_path / "echo.py"
    src.write_text(PLUGIN)
    shutil.copy(str(src), os.path.join(lab.lab.plugin_dir(host), "echo.py"))
    r = lab.xe("A", "host-call-plugin", "host-uuid=" + host, "plugin=echo.py", "fn=ping",
               "args:k=v")
    assert json.loads(r.value)["args"] == {"k": "v"}


def test_xenapi_stand_in_in_process(lab):
    import sys
    from xe_dr.lab import plugins
    sys.path.insert(0, plugins.XENAPI_DIR)
    # the stand-in, never an XenAPI (the SDK) another test of this process imported
    for name in [k for k in sys.modules if k == "XenAPI" or k.startswith("XenAPI.")]:
        del sys.modules[name]
    try:
        import XenAPI
        os.environ["XE_DR_LAB_DIR"] = lab.root
        os.environ["XE_DR_LAB_SITE"] = "A"
        XenAPI._backend = None
        s = XenAPI.xapi_local()
        s.xenapi.login_with_password("root", "", "1.0", "test")
        vms = s.xenapi.VM.get_all_records()
        assert any(r["name_label"] == "web-01" for r in vms.values())
        with pytest.raises(XenAPI.Failure) as e:
            s.xenapi.VM.get_record("OpaqueRef:nope")
        assert e.value.details[0] == "HANDLE_INVALID"
        raw = s.VM.get_all(s._session)
        assert raw["Status"] == "Success" and raw["Value"]
        assert s.VM.get_record(s._session, "OpaqueRef:nope")["ErrorDescription"][0] == \
            "HANDLE_INVALID"
        assert s.session.logout(s._session) == {"Status": "Success", "Value": ""}
    finally:
        sys.path.remove(plugins.XENAPI_DIR)
        os.environ.pop("XE_DR_LAB_DIR", None)
        os.environ.pop("XE_DR_LAB_SITE", None)
        XenAPI._backend = None


def test_killed_by_a_signal(lab):
    host = lab.ok("A", "host-list", "--minimal").values[0]
    path = os.path.join(lab.lab.plugin_dir(host), "suicide")
    with open(path, "w") as f:
        f.write("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    r = lab.xe("A", "host-call-plugin", "host-uuid=" + host, "plugin=suicide", "fn=x")
    assert r.err.startswith("There was a failure communicating with the plug-in.\n"
                            "status: signal: SIGKILL\n")


def test_the_plugin_sees_what_dom0_would(lab):
    hosts = lab.ok("A", "host-list", "--minimal").values
    master = lab.ok("A", "pool-list", "params=master", "--minimal").value
    for host in hosts:
        with open(os.path.join(lab.lab.plugin_dir(host), "xedr-test"), "w") as f:
            f.write(PLUGIN)

    def env(site, host):
        r = lab.xe(site, "host-call-plugin", "host-uuid=" + host, "plugin=xedr-test",
                   "fn=environment")
        assert r.code == 0, r.err
        return json.loads(r.out)

    sr, _ = lab.replicated_srs()[0]
    lab.ok("A", "sr-enable-database-replication", "uuid=" + sr)
    vdi = lab.ok("A", "vdi-list", "sr-uuid=" + sr, "type=Metadata", "--minimal").value
    device = lab.ok("A", "vbd-list", "vdi-uuid=" + vdi, "params=device", "--minimal").value
    got = env("A", master)
    lv = "VG_XenStorage-%s/LV-%s" % (sr, vdi)
    assert sorted(got["links"]) == sorted([lv, device])
    assert got["links"][lv] == got["links"][device]
    with open(got["links"][lv], "rb") as f:
        assert f.read(16) == b"redo-log--------"
    assert got["dev"] == lab.lab.path("hosts", master, "dev")
    generation = lab.db("A").generation
    assert got["generation"] == str(generation)
    assert '<pair key="schema_minor_vsn" value="786"/>' in got["head"]
    assert '<pair key="generation_count" value="%d"/>' % generation in got["head"]
    assert "INSTALLATION_UUID='%s'\n" % master in got["inventory"]
    dom0 = lab.ok("A", "vm-list", "is-control-domain=true", "resident-on=" + master,
                  "--minimal").value
    assert "CONTROL_DOMAIN_UUID='%s'\n" % dom0 in got["inventory"]
    # the other host has no dom0 VBD of that VDI: no node there
    other = [h for h in hosts if h != master][0]
    assert env("A", other)["links"] == {}
    assert "INSTALLATION_UUID='%s'" % other in env("A", other)["inventory"]
    # the live count follows the database; nodes go with the attachment
    lab.ok("A", "sr-disable-database-replication", "uuid=" + sr)
    got = env("A", master)
    assert got["links"] == {} and got["generation"] == str(lab.db("A").generation)
