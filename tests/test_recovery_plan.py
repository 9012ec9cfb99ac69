"""The recovery plan file (issue 18): INI an administrator writes and reviews, read by the core
with the standard library alone. A file that is not a plan is one line naming the file, the
line and what is wrong (exit 78); what ``render`` writes, ``parse`` reads back the same."""

import pytest

from xe_dr.dr import recovery_plan
from xe_dr.dr.plan_addresses import dr_address, failback_address
from xe_dr.dr.recovery_plan import PlanError, parse
from xe_dr.dr.recovery_plan_text import render
from xe_dr.exitcodes import ExitCode

PLAN = """\
# the plan of site A
[plan]
schema = 1
name = Site A
source = root@xcp-a1
dr = root@xcp-b1
before = /usr/local/bin/freeze-dns --site b
hook-timeout = 2m

[storage]
target = 10.0.2.50
iqn = iqn.2001-05.com.example:site-b
scsiid =
    36001405aaaa
    36001405bbbb
hba-scsiid = 36001405cccc
chap-user = dr
chap-password-file = /etc/xe-dr/chap

[networks]
VM Network = VM Network B
DMZ = create

[readdress]
10.0.1.0/24 = 10.0.2.0/24 10.0.2.1

[group databases]
vms =
    db-01
    web server, old
gate = guest-agent
gate-timeout = 15m
on-timeout = ask
prompt = confirm the DNS change

[group applications]
vapps = erp
tags = dr-tier1
gate = command /usr/local/bin/app-ready 50% done
after = curl -fsS https://status.example/drill

[vm db-01]
address 0 = 10.0.1.10
dr-address 0 = 10.0.2.110/24 10.0.2.1
"""


def test_a_plan_reads_as_written():
    plan = parse(PLAN)
    assert plan["schema"] == 1 and plan["name"] == "Site A"
    assert plan["sites"] == {"source": "root@xcp-a1", "dr": "root@xcp-b1", "source_xe": None,
                             "dr_xe": None}
    assert plan["hooks"] == {"before": "/usr/local/bin/freeze-dns --site b", "after": None,
                             "timeout": 120}
    assert plan["storage"] == {
        "target": "10.0.2.50", "port": None, "iqn": "iqn.2001-05.com.example:site-b",
        "scsiid": ["36001405aaaa", "36001405bbbb"], "hba_scsiid": ["36001405cccc"],
        "chap_user": "dr", "chap_password_file": "/etc/xe-dr/chap",
        "chap_password_secret": None}
    # names keep their case and may hold spaces and commas; % is no interpolation
    assert plan["networks"] == {"VM Network": "VM Network B", "DMZ": "create"}
    assert [g["name"] for g in plan["groups"]] == ["databases", "applications"]
    databases, applications = plan["groups"]
    assert databases["vms"] == ["db-01", "web server, old"]
    assert databases["gate"] == {"kind": "guest-agent", "command": None, "seconds": None,
                                 "timeout": 900, "on_timeout": "ask"}
    assert databases["prompt"] == "confirm the DNS change"
    assert applications["gate"]["command"] == "/usr/local/bin/app-ready 50% done"
    assert applications["gate"]["on_timeout"] == "stop"  # the default
    assert (applications["vapps"], applications["tags"]) == (["erp"], ["dr-tier1"])
    assert plan["readdress"] == [{"from": "10.0.1.0/24", "to": "10.0.2.0/24",
                                  "gateway": "10.0.2.1", "from_gateway": None}]
    assert plan["vms"] == {"db-01": {"addresses": {"0": "10.0.1.10"}, "dr_addresses": {
        "0": {"address": "10.0.2.110/24", "gateway": "10.0.2.1"}}, "addresses6": {},
        "dr_addresses6": {}, "gateways": {}, "gateways6": {}}}


#: PLAN with IPv6 too: a readdress rule, a VM's source address and its own DR address.
PLAN6 = PLAN.replace("10.0.2.1\n\n[group", "10.0.2.1\nfd00:1::/64 = fd00:2::/64 fd00:2::1\n\n"
                     "[group") + "address6 0 = fd00:1::10\ndr-address6 1 = fd00:3::5/64 fd00:3::1\n"


def test_ipv6_addresses_and_rules_read_as_written_and_back():
    plan = parse(PLAN6)
    assert plan["readdress"][1] == {"from": "fd00:1::/64", "to": "fd00:2::/64",
                                    "gateway": "fd00:2::1", "from_gateway": None}
    assert plan["vms"]["db-01"] == dict(parse(PLAN)["vms"]["db-01"], addresses6={
        "0": "fd00:1::10"}, dr_addresses6={"1": {"address": "fd00:3::5/64",
                                                 "gateway": "fd00:3::1"}})
    text = render(plan)
    assert parse(text) == plan
    assert render(parse(text)) == text
    assert text.splitlines()[-4:] == ["address 0 = 10.0.1.10",
                                      "dr-address 0 = 10.0.2.110/24 10.0.2.1",
                                      "address6 0 = fd00:1::10",
                                      "dr-address6 1 = fd00:3::5/64 fd00:3::1"]
    # a VM with IPv6 addresses alone has its section too
    only6 = dict(plan, vms={"v6": {"addresses6": {"0": "fd00:1::7"}}})
    assert parse(render(only6))["vms"] == {"v6": {"addresses": {}, "dr_addresses": {},
                                                  "addresses6": {"0": "fd00:1::7"},
                                                  "dr_addresses6": {}, "gateways": {},
                                                  "gateways6": {}}}


def test_a_source_address_may_carry_its_prefix_and_gateway_for_a_failback():
    plan = parse(PLAN.replace("address 0 = 10.0.1.10", "address 0 = 10.0.1.10/24 10.0.1.1"))
    assert (plan["vms"]["db-01"]["addresses"], plan["vms"]["db-01"]["gateways"]) == (
        {"0": "10.0.1.10/24"}, {"0": "10.0.1.1"})
    text = render(plan)
    assert "address 0 = 10.0.1.10/24 10.0.1.1" in text.splitlines()
    assert parse(text) == plan


def test_what_render_writes_parse_reads_back_the_same():
    plan = parse(PLAN)
    text = render(plan)
    assert parse(text) == plan
    assert render(parse(text)) == text
    assert not [line for line in text.splitlines() if line != line.rstrip()]
    assert max(len(line) for line in text.splitlines()) <= 100


def test_dr_addresses_from_the_vms_own_then_the_readdress_rules():
    plan = parse(PLAN)
    assert dr_address(plan, "db-01", 0, "10.0.1.10") == {"address": "10.0.2.110/24",
                                                         "gateway": "10.0.2.1"}
    assert dr_address(plan, "web-01", 0, "10.0.1.23") == {"address": "10.0.2.23/24",
                                                          "gateway": "10.0.2.1"}
    assert dr_address(plan, "web-01", 0, "192.168.7.7") is None  # no rule: it keeps it
    assert dr_address(plan, "web-01", 0, None) is None


def test_ipv6_dr_addresses_come_from_the_ipv6_key_and_rules_alone():
    plan = parse(PLAN6)
    assert dr_address(plan, "db-01", 1, None, 6) == {"address": "fd00:3::5/64",
                                                     "gateway": "fd00:3::1"}
    assert dr_address(plan, "db-01", 1, None) is None  # VIF 1 has no IPv4 one
    assert dr_address(plan, "web-01", 0, "fd00:1::23", 6) == {"address": "fd00:2::23/64",
                                                              "gateway": "fd00:2::1"}
    assert dr_address(plan, "db-01", 0, "fd00:1::10", 6) == {"address": "fd00:2::10/64",
                                                             "gateway": "fd00:2::1"}
    # an address of the other version is none of this version's
    assert dr_address(plan, "web-01", 0, "10.0.1.23", 6) is None
    assert dr_address(plan, "web-01", 0, "fd00:1::23") is None


@pytest.mark.parametrize("edit,line,message", [
    (("schema = 1", "schema = 2"), 3,
     "schema 2 is not one this xe-dr reads (it reads schema 1)"),
    (("[group databases]", "[group]"), 27, "[group] needs a name: [group NAME]"),
    (("gate = guest-agent", "gate = agent"), 31,
     "[group databases] gate = agent: a gate is one of guest-agent, command, delay, none"),
    (("on-timeout = ask", "on-timeout = retry"), 33,
     "[group databases] on-timeout = retry: one of continue, stop, ask"),
    (("gate-timeout = 15m", "gate-timeout = soon"), 32,
     "gate-timeout = soon is not a duration (seconds, or 30s, 10m, 2h)"),
    (("prompt = confirm", "promt = confirm"), 34,
     "[group databases] has no key promt (its keys: vapps, vms, tags, gate, gate-timeout, "
     "on-timeout, before, after, hook-timeout, prompt)"),
    (("10.0.1.0/24 = 10.0.2.0/24 10.0.2.1", "10.0.1.0/24 = 10.0.2.0/16"), 25,
     "[readdress] 10.0.1.0/24 = 10.0.2.0/16: the two subnets must have one size"),
    (("dr-address 0 = 10.0.2.110/24 10.0.2.1", "dr-address 0 = 10.0.2.110 10.0.2.1"), 44,
     "[vm db-01] dr-address 0 10.0.2.110 needs its prefix (10.0.2.21/24)"),
    (("dr-address 0 = 10.0.2.110/24 10.0.2.1", "dr-address 0 = 10.0.2.110/24 10.0.3.1"), 44,
     "[vm db-01] dr-address 0 gateway 10.0.3.1 is not in 10.0.2.0/24"),
    (("dr-address 0 = 10.0.2.110/24 10.0.2.1", "dr-address6 0 = fd00:2::10"), 44,
     "[vm db-01] dr-address6 0 fd00:2::10 needs its prefix (fd00:2::21/64)"),
    (("address 0 = 10.0.1.10", "address 0 = fd00:1::10"), 43,
     "[vm db-01] address 0 fd00:1::10 is not an IPv4 address (an IPv6 one is address6 0)"),
    (("address 0 = 10.0.1.10", "address6 0 = 10.0.1.10"), 43,
     "[vm db-01] address6 0 10.0.1.10 is not an IPv6 address (an IPv4 one is address 0)"),
    (("dr-address 0 = 10.0.2.110/24 10.0.2.1", "dr-address 0 = fd00:2::10/64"), 44,
     "[vm db-01] dr-address 0 fd00:2::10/64 is not an IPv4 address (an IPv6 one is "
     "dr-address6 0)"),
    (("dr-address 0 = 10.0.2.110/24 10.0.2.1", "dr-address6 0 = 10.0.2.110/24"), 44,
     "[vm db-01] dr-address6 0 10.0.2.110/24 is not an IPv6 address (an IPv4 one is "
     "dr-address 0)"),
    (("dr-address 0 = 10.0.2.110/24 10.0.2.1", "dr-address6 0 = fd00:2::10/64 10.0.2.1"), 44,
     "[vm db-01] dr-address6 0 gateway 10.0.2.1 is not in fd00:2::/64"),
    (("address 0 = 10.0.1.10", "adress6 0 = fd00:1::10"), 43,
     "[vm db-01] has no key adress6 0 (its keys: address DEVICE, dr-address DEVICE, "
     "address6 DEVICE, dr-address6 DEVICE)"),
    (("10.0.1.0/24 = 10.0.2.0/24 10.0.2.1", "10.0.1.0/24 = fd00:2::/120"), 25,
     "[readdress] 10.0.1.0/24 = fd00:2::/120: the two subnets must be of one family"),
    (("10.0.1.0/24 = 10.0.2.0/24 10.0.2.1", "fd00:1::/64 = fd00:2::/64 10.0.2.1"), 25,
     "[readdress] gateway 10.0.2.1 is not in fd00:2::/64"),
    (("chap-password-file = /etc/xe-dr/chap", "chap-password-file = /etc/xe-dr/chap\n"
      "chap-password-secret = 5fb0c7a4-1d2e-4c3b-9a8f-0e1d2c3b4a59"), 19,
     "[storage] gives chap-password-file and chap-password-secret: give one"),
    (("chap-password-file = /etc/xe-dr/chap", "chap-password-secret = s3cr3t"), 18,
     "[storage] chap-password-secret = s3cr3t is not the uuid of a xapi secret"),
    (("chap-user = dr\n", ""), 17,
     "[storage] a CHAP password needs its user (chap-user =)"),
    (("address 0 = 10.0.1.10", "address 0 = 10.0.1.10 10.0.1.1"), 43,
     "[vm db-01] address 0 = 10.0.1.10 10.0.1.1: a gateway goes with the address's prefix"),
    (("address 0 = 10.0.1.10", "address 0 = 10.0.1.10/24 10.0.9.1"), 43,
     "[vm db-01] address 0 gateway 10.0.9.1 is not in 10.0.1.0/24"),
    (("[networks]", "[network]"), 20, "unknown section [network]"),
    (("vapps = erp\ntags = dr-tier1\n", ""), 36,
     "[group applications] selects nothing: give vapps, vms or tags"),
])
def test_a_bad_plan_is_one_line_naming_the_file_the_line_and_the_fault(edit, line, message):
    text = PLAN.replace(*edit)
    assert text != PLAN
    with pytest.raises(PlanError) as bad:
        parse(text, "site-a.plan")
    assert bad.value.exit_code == ExitCode.CONFIG
    said = bad.value.one_line()
    assert said.startswith("recovery plan site-a.plan line %d: " % line), said
    assert message in said, said
    assert "\n" not in said


def test_a_duplicate_key_and_a_file_without_groups_are_refused():
    with pytest.raises(PlanError, match=r"^recovery plan p line 13: option 'iqn' in section "
                                        r"'storage' already exists"):
        parse(PLAN.replace("target = 10.0.2.50", "iqn = x\ntarget = 10.0.2.50"), "p")
    with pytest.raises(PlanError, match="no \\[group NAME\\]"):
        parse("[plan]\nschema = 1\n", "p")
    with pytest.raises(PlanError, match="no \\[plan\\] section with its schema"):
        parse("[group a]\nvms = x\n", "p")


def test_a_plan_file_that_is_not_utf8_or_missing(tmp_path):
    bad = tmp_path / "latin1.plan"
    bad.write_bytes(PLAN.replace("Site A", "Site \xe9").encode("latin-1"))
    with pytest.raises(PlanError, match="latin1.plan: is not UTF-8"):
        recovery_plan.read(str(bad))
    with pytest.raises(PlanError, match="nothing.plan: cannot be read: No such file"):
        recovery_plan.read(str(tmp_path / "nothing.plan"))


def test_plan_init_names_by_uuid_a_vm_or_vapp_whose_name_a_list_line_cannot_hold():
    from types import SimpleNamespace
    from xe_dr.dr.plan_checks import initial_plan
    vms = [{"uuid": "u-%d" % n, "name_label": name, "appliance": appliance, "order": 0,
            "start_delay": 0, "networks": {}, "addresses": {}, "addresses6": {}}
           for n, (name, appliance) in enumerate([
               ("#1 web", None), ("; db", None), (" mail", None), ("app", None),
               ("erp-db", "a-1")])]
    source = SimpleNamespace(
        protected=lambda: vms, appliances={"a-1": "#erp"}, pool=SimpleNamespace(name_label="A"),
        members=lambda uuid: [vm for vm in vms if vm["appliance"] == uuid])
    plan = parse(render(initial_plan(source)))
    assert [(g["vapps"], g["vms"]) for g in plan["groups"]] == [
        (["a-1"], ["u-2", "u-0", "u-1", "app"])]  # (in the order of their names)


def test_a_failback_gives_back_the_source_address_when_the_plan_holds_its_gateway():
    plan = parse(PLAN.replace("10.0.1.0/24 = 10.0.2.0/24 10.0.2.1",
                              "10.0.1.0/24 10.0.1.1 = 10.0.2.0/24 10.0.2.1"))
    plan["vms"]["web-01"] = dict(plan["vms"]["db-01"], addresses={"0": "10.0.1.23"},
                                 dr_addresses={})
    plan["vms"]["mail-01"] = dict(plan["vms"]["web-01"], addresses={"0": "192.168.1.5"})
    # by the rule: its source subnet's prefix and gateway
    assert failback_address(plan, "web-01", 0) == {"address": "10.0.1.23/24",
                                                   "gateway": "10.0.1.1"}
    # not re-addressed at the DR site: nothing to give back
    assert failback_address(plan, "mail-01", 0) is None
    # its own DR address: what the plan recorded of the source must be whole
    assert failback_address(plan, "db-01", 0) == {"address": "10.0.1.10/24",
                                                  "gateway": "10.0.1.1"}
    alone = parse(PLAN)
    assert failback_address(alone, "db-01", 0) == {
        "missing": "the plan records no gateway of its source address 10.0.1.10"}
    assert render(plan).splitlines().count("10.0.1.0/24 10.0.1.1 = 10.0.2.0/24 10.0.2.1") == 1


@pytest.mark.parametrize("written,read", [
    ("", None), ("reprotect = no", None), ("reprotect = yes", []),
    ("reprotect = DR LUN 1", ["DR LUN 1"]),
    ("reprotect =\n    DR LUN 1\n    DR LUN 2", ["DR LUN 1", "DR LUN 2"])])
def test_a_plan_says_whether_and_where_a_run_reprotects(written, read):
    plan = parse(PLAN.replace("hook-timeout = 2m\n", "hook-timeout = 2m\n%s\n" % written, 1))
    assert plan["reprotect"] == read
    assert parse(render(plan)) == plan


def test_reprotect_is_yes_no_or_srs_not_both():
    with pytest.raises(PlanError) as bad:
        parse(PLAN.replace("hook-timeout = 2m\n", "hook-timeout = 2m\nreprotect =\n    yes\n"
                           "    DR LUN 1\n", 1))
    assert "reprotect: yes, no, or the SRs to protect" in bad.value.one_line()
