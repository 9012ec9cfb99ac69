"""What a run recovers, from the metadata as xe-dr reads it (xe_dr/dr/plan.py select and
narrow): a recovery plan's groups may select VMs by xapi tag (issue 18)."""

import pytest

from xe_dr.dr.inventory import MetadataCopy, SourceAppliance, SourcePool, SourceVM
from xe_dr.dr.plan import narrow, select
from xe_dr.errors import UsageError


def pool(vms, appliances=()):
    copy = MetadataCopy("vdi-1", "sr-1", "pool-a", True, True)
    return SourcePool(copy, "pool-a", "site A", [], vms, list(appliances), "plugin")


def vm(name, tags=(), appliance=""):
    return SourceVM("uuid-" + name, name, appliance=appliance,
                    tags=None if tags is None else list(tags))


def names(items):
    return [(i.name_label, i.excluded) for i in items]


def test_a_tag_selects_the_vms_that_carry_it_and_keeps_their_tags():
    source = pool([vm("db", ["dr-tier1"]), vm("web", ["dr-tier2", "dr-tier1"]), vm("mail")])
    items = select([source], tags=["dr-tier1"])
    assert names(items) == [("db", None), ("web", None)]
    assert items[1].tags == ["dr-tier2", "dr-tier1"]


def test_a_tag_on_no_vm_is_a_usage_error_as_an_unknown_name_is():
    with pytest.raises(UsageError) as raised:
        select([pool([vm("db", ["dr-tier1"])])], tags=["dr-tier9"])
    assert "not found in the recoverable metadata: tag dr-tier9" in str(raised.value)
    # a tag carried only by an excluded VM was found: excluding it is not a typo
    assert select([pool([vm("db", ["dr-tier1"]), vm("web")])], vms=["web"],
                  tags=["dr-tier1"], exclude=["db"])[0].name_label == "web"


def test_metadata_read_without_tags_cannot_answer_a_selection_by_tag():
    with pytest.raises(UsageError) as raised:
        select([pool([vm("db", None)])], tags=["dr-tier1"])
    assert "read without the VMs' tags" in str(raised.value)
    assert "plugin install" in raised.value.hint
    assert names(select([pool([vm("db", None)])], vms=["db"])) == [("db", None)]


def test_narrowing_a_plan_keeps_what_it_names_and_a_member_named_alone_leaves_its_vapp():
    members = [vm("web-1", ["dr-tier1"], appliance="uuid-shop"), vm("web-2",
                                                                    appliance="uuid-shop")]
    shop = SourceAppliance("uuid-shop", "shop", vms=["uuid-web-1", "uuid-web-2"])
    source = pool(members + [vm("db", ["dr-tier1"])], [shop])
    items = select([source], vapps=["shop"], tags=["dr-tier1"])
    assert names(items) == [("shop", None), ("web-1", "recovered with its vApp"),
                            ("db", None)]
    assert names(narrow(items, ["web-1"], "p.plan")) == [("web-1", None)]
    assert names(narrow(select([source], vapps=["shop"], tags=["dr-tier1"]),
                        ["shop", "web-1"], "p.plan")) == [
        ("shop", None), ("web-1", "recovered with its vApp")]
    with pytest.raises(UsageError) as raised:
        narrow(items, ["mail"], "p.plan")
    assert str(raised.value) == "mail is in no group of the plan p.plan"
