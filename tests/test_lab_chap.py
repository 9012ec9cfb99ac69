"""CHAP on the array portals: what sm answers (BaseISCSI.load, iscsi.discovery / login) and what
xapi does with the passwords in a device-config (xapi_secret.ml, message_forwarding.ml)."""

import io
import json

import pytest

from xe_dr.lab import cli
from xe_dr.xe.argv import xe_extra_args

USER, PASSWORD = "dr-initiator", "s3cr,et=pw"
LOGIN_FAILED = ("ISCSI login failed - check access settings for the initiator on the storage, "
                "if CHAP is used verify CHAP credentials")


@pytest.fixture
def chap(lab_factory):
    return lab_factory(chap_user=USER, chap_password=PASSWORD)


def probe(lab, site, env=None, **dc):
    args = ["sr-probe", "type=lvmoiscsi"] + ["device-config:%s=%s" % kv for kv in dc.items()]
    return lab.xe(site, *args, env=env)


def code(r):
    assert r.code == 1, r
    return r.err.split("\n")[0].replace("Error code: ", "")


def secrets(lab, site):
    return dict((r["uuid"], r["value"]) for r in lab.db(site).rows("secret").values())


def target(lab, site="B"):
    sr, _ = lab.replicated_srs()[0]
    _, dc = lab.device_config(sr, site)
    return sr, dc


def test_discovery_and_login_want_the_portals_chap(chap):
    sr, dc = target(chap)
    plain = {"target": dc["target"]}
    # discovery (no targetIQN) without CHAP, or with a wrong password: 68, no IQN list
    for extra in ({}, {"chapuser": USER, "chappassword": "wrong"},
                  {"chapuser": USER}, {"chappassword": PASSWORD},
                  {"chapuser": "", "chappassword": PASSWORD}):
        r = probe(chap, "B", **dict(plain, **extra))
        assert code(r) == "SR_BACKEND_FAILURE_68", extra
        assert r.err == "Error code: SR_BACKEND_FAILURE_68\nError parameters: , %s, \n" \
            % LOGIN_FAILED
    r = probe(chap, "B", chapuser=USER, chappassword=PASSWORD, **plain)
    assert code(r) == "SR_BACKEND_FAILURE_96" and "<TargetIQN>" in r.err
    # the login (targetIQN given) checks it too
    with_iqn = dict(plain, targetIQN=dc["targetIQN"])
    assert code(probe(chap, "B", **with_iqn)) == "SR_BACKEND_FAILURE_68"
    r = probe(chap, "B", chapuser=USER, chappassword=PASSWORD, **with_iqn)
    assert code(r) == "SR_BACKEND_FAILURE_107" and "<SCSIid>" in r.err
    full = dict(with_iqn, SCSIid=dc["SCSIid"])
    assert code(probe(chap, "B", **full)) == "SR_BACKEND_FAILURE_68"
    r = probe(chap, "B", chapuser=USER, chappassword=PASSWORD, **full)
    assert r.code == 0 and "<UUID>%s</UUID>" % sr in r.out


def test_the_password_through_xe_extra_args(chap):
    sr, dc = target(chap)
    env = {"XE_EXTRA_ARGS": xe_extra_args(["device-config:chappassword=" + PASSWORD])}
    r = probe(chap, "B", env=env, target=dc["target"], targetIQN=dc["targetIQN"],
              SCSIid=dc["SCSIid"], chapuser=USER)
    assert r.code == 0 and sr in r.out
    assert PASSWORD not in json.dumps(chap.call_log())


def test_chappassword_secret_and_a_missing_secret(chap):
    sr, dc = target(chap)
    base = dict(target=dc["target"], targetIQN=dc["targetIQN"], SCSIid=dc["SCSIid"],
                chapuser=USER)
    secret = chap.ok("B", "secret-create", "value=" + PASSWORD).value
    before = secrets(chap, "B")
    r = probe(chap, "B", chappassword_secret=secret, **base)
    assert r.code == 0 and sr in r.out
    assert secrets(chap, "B") == before              # nothing to move, nothing left behind
    missing = "00000000-0000-4000-8000-00000000beef"
    r = probe(chap, "B", chappassword_secret=missing, **base)
    assert r.err == ("Error code: SR_BACKEND_FAILURE_20\nError parameters: , No such secret. "
                     "[opterr=Unable to look up secret [%s]], \n" % missing)
    # the secret is looked up only with chapuser, and before the port is checked
    r = probe(chap, "B", chappassword_secret=missing, port="99999", **base)
    assert code(r) == "SR_BACKEND_FAILURE_20"
    del base["chapuser"]
    assert code(probe(chap, "B", chappassword_secret=missing, **base)) == \
        "SR_BACKEND_FAILURE_68"


def test_a_probe_with_a_password_leaves_a_secret_behind(chap):
    # message_forwarding.ml SR.probe: move_passwds_to_secrets, never cleaned up
    _, dc = target(chap)
    before = secrets(chap, "B")
    generation = chap.db("B").generation
    probe(chap, "B", target=dc["target"], chapuser=USER, chappassword=PASSWORD)
    after = secrets(chap, "B")
    new = set(after) - set(before)
    assert len(new) == 1 and after[new.pop()] == PASSWORD
    assert chap.db("B").generation == generation + 1
    # also when the probe fails, and for any key ending in "password", any SR type
    probe(chap, "B", target=dc["target"], incoming_chappassword="x")
    assert len(secrets(chap, "B")) == len(after) + 1
    chap.xe("B", "sr-probe", "type=nfs", "device-config:password=y")
    assert len(secrets(chap, "B")) == len(after) + 2


def test_pbd_keeps_a_secret_of_its_own(lab):
    sr = lab.ok("B", "sr-introduce", "uuid=11111111-2222-4333-8444-555555555555",
                "name-label=x", "type=lvmoiscsi", "shared=true").value
    host = lab.ok("B", "pool-list", "params=master", "--minimal").value
    before = secrets(lab, "B")
    pbd = lab.ok("B", "pbd-create", "host-uuid=" + host, "sr-uuid=" + sr,
                 "device-config:target=10.0.2.50", "device-config:chapuser=u",
                 "device-config:chappassword=pw").value
    text = lab.ok("B", "pbd-param-get", "uuid=" + pbd, "param-name=device-config").value
    # moved into a secret, the map reversed (List.rev_map), and the PBD's own copy of it
    keys = [item.split(": ")[0] for item in text.split("; ")]
    assert keys == ["chappassword_secret", "chapuser", "target"]
    assert "pw" not in text.split("; ")[0]
    own = lab.ok("B", "pbd-param-get", "uuid=" + pbd, "param-name=device-config",
                 "param-key=chappassword_secret").value
    after = secrets(lab, "B")
    assert len(after) == len(before) + 2 and after[own] == "pw"   # one leaked, one owned
    lab.ok("B", "pbd-destroy", "uuid=" + pbd)
    assert own not in secrets(lab, "B") and len(secrets(lab, "B")) == len(before) + 1
    # a given secret is copied, and stays
    given = lab.ok("B", "secret-create", "value=pw2").value
    pbd = lab.ok("B", "pbd-create", "host-uuid=" + host, "sr-uuid=" + sr,
                 "device-config:chappassword_secret=" + given).value
    copy = lab.ok("B", "pbd-param-get", "uuid=" + pbd, "param-name=device-config",
                  "param-key=chappassword_secret").value
    assert copy != given and secrets(lab, "B")[copy] == "pw2"
    lab.ok("B", "sr-forget", "uuid=" + sr)
    assert copy not in secrets(lab, "B") and given in secrets(lab, "B")
    # an unknown secret: UUID_INVALID from the duplication, after the host and SR lookups
    sr = lab.ok("B", "sr-introduce", "uuid=11111111-2222-4333-8444-555555555556",
                "name-label=y", "type=lvmoiscsi").value
    r = lab.xe("B", "pbd-create", "host-uuid=" + host, "sr-uuid=" + sr,
               "device-config:chappassword_secret=nope")
    assert r.code == 1 and r.err.startswith("The uuid you supplied was invalid.\n"
                                            "type: secret\nuuid: nope\n")


def test_drtask_create_and_destroy_with_chap(chap):
    chap.enable_replication()
    chap.mirror("break")
    sr, dc = target(chap)
    assert code(chap.xe("B", "drtask-create", "type=lvmoiscsi",
                        *["device-config:%s=%s" % kv for kv in sorted(dc.items())
                          if kv[0] != "chappassword"], "sr-whitelist=" + sr)) == \
        "SR_BACKEND_FAILURE_68"
    assert not chap.ok("B", "sr-list", "uuid=" + sr, "--minimal").values
    before = secrets(chap, "B")
    env = {"XE_EXTRA_ARGS": xe_extra_args(["device-config:chappassword=" + PASSWORD])}
    args = ["drtask-create", "type=lvmoiscsi"] + [
        "device-config:%s=%s" % kv for kv in sorted(dc.items()) if kv[0] != "chappassword"]
    task = chap.ok("B", *(args + ["sr-whitelist=" + sr]), env=env).value
    pbds = chap.ok("B", "pbd-list", "sr-uuid=" + sr, "params=uuid", "--minimal").values
    hosts = len(chap.ok("B", "host-list", "--minimal").values)
    assert len(pbds) == hosts
    owned = set()
    for pbd in pbds:
        config = chap.ok("B", "pbd-param-get", "uuid=" + pbd, "param-name=device-config").value
        assert PASSWORD not in config and "chappassword:" not in config
        owned.add(chap.ok("B", "pbd-param-get", "uuid=" + pbd, "param-name=device-config",
                          "param-key=chappassword_secret").value)
    after = secrets(chap, "B")
    # the probe's move, each PBD.create's move, and each PBD's own copy
    assert len(after) == len(before) + 1 + 2 * hosts
    assert owned <= set(after) and set(after[u] for u in set(after) - set(before)) == {PASSWORD}
    assert chap.ok("B", "sr-param-get", "uuid=" + sr, "param-name=introduced-by").value == task
    chap.ok("B", "drtask-destroy", "uuid=" + task)
    left = secrets(chap, "B")
    assert not owned & set(left) and len(left) == len(before) + 1 + hosts


def test_plug_with_the_pbds_secret_and_a_changed_array_password(chap, tmp_path):
    # the lab's iSCSI PBDs were made with CHAP: chapuser and a secret of their own
    sr = chap.uuid("B", "sr", **{"name-label": "iSCSI B"})
    master = chap.ok("B", "pool-list", "params=master", "--minimal").value
    pbd = chap.ok("B", "pbd-list", "sr-uuid=" + sr, "host-uuid=" + master, "--minimal").value
    config = chap.ok("B", "pbd-param-get", "uuid=" + pbd, "param-name=device-config").value
    assert "chapuser: %s" % USER in config and "chappassword_secret: " in config
    assert PASSWORD not in config
    chap.ok("B", "pbd-unplug", "uuid=" + pbd)
    chap.ok("B", "pbd-plug", "uuid=" + pbd)
    # the array's password changes: the next login fails as sm's does
    pwfile = tmp_path / "pw"
    pwfile.write_text("new-password\n")
    out = io.StringIO()
    assert cli.main(["chap", chap.root, "B", "--user", USER, "--password-file", str(pwfile)],
                    out=out) == 0
    chap.ok("B", "pbd-unplug", "uuid=" + pbd)
    r = chap.xe("B", "pbd-plug", "uuid=" + pbd)
    assert code(r) == "SR_BACKEND_FAILURE_68"
    assert cli.main(["chap", chap.root, "B", "--off"], out=out) == 0
    chap.ok("B", "pbd-plug", "uuid=" + pbd)   # a portal without CHAP takes any credentials


def test_create_options_and_show(tmp_path):
    pwfile = tmp_path / "pw"
    pwfile.write_text(PASSWORD + "\n")
    root = str(tmp_path / "lab")
    out = io.StringIO()
    assert cli.main(["create", root, "--chap-user", USER, "--chap-password-file", str(pwfile),
                     "--chap-site", "B"], out=out) == 0
    out = io.StringIO()
    cli.main(["show", root], out=out)
    text = out.getvalue()
    assert "iqn.2001-05.com.labarray:site-b, CHAP user %s" % USER in text
    assert "site-a, CHAP" not in text
    out = io.StringIO()
    cli.main(["show", root, "--json"], out=out)
    assert PASSWORD not in out.getvalue()
    with open(tmp_path / "lab" / "lab.json") as f:
        assert PASSWORD not in f.read()
    assert cli.main(["create", str(tmp_path / "lab2"), "--chap-user", USER], out=out) == 1


def test_no_chap_by_default(lab):
    assert "chap" not in lab.ok("A", "pbd-list", "params=device-config").out
    assert not lab.db("A").rows("secret")
