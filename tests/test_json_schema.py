"""Every command's --json document carries its schema version at the top level, and xe-dr(8)
names every top-level key of it in the command's JSON paragraph: monitoring, Ansible and
customers' scripts depend on both.

The commands run in-process against one lab, in the order an administrator runs them.
"""

import json
import re

import pytest

from tests.fixtures_lab import make_lab
from tests.fixtures_workflow import Drill
from tests.test_manpage import _names, _page, _plain, _split

SCHEMA = 1


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    """{(command, subcommand or ""): the JSON document it printed}."""
    base = tmp_path_factory.mktemp("json-schema")
    drill = Drill(make_lab(base / "lab"), str(base / "state"))
    lab = drill.lab
    found = {}

    def run(key, site, *args, codes=(0,)):
        result = drill.xedr(site, "--json", *args)
        assert result.code in codes, result
        found[key] = result.json
        return result.json

    srs = [u for u, _ in lab.replicated_srs()]
    run(("replication", "enable"), "A", "replication", "enable", *srs)
    run(("status", ""), "A", "status", codes=(0, 1))
    run(("doctor", ""), "B", "doctor", codes=(0, 1))
    run(("plugin", "install"), "B", "plugin", "install", "--host-root",
        lab.root + "/hosts/{uuid}")
    run(("plugin", "status"), "B", "plugin", "status")
    storage = drill.storage_args("B")
    run(("probe", ""), "B", "probe", *storage)
    lab.mirror("break")
    run(("runbook", ""), "B", "runbook", "--test", "--all", "--power", "paused", *storage)
    test = run(("failover", ""), "B", "failover", "--test", "--vapp", "webshop", "--vm",
               "queue-01", "--power", "paused", *storage)
    run(("inventory", ""), "B", "inventory")
    run(("report", ""), "B", "report", test["run"])
    run(("cleanup", ""), "B", "cleanup", "--yes", test["run"])
    run(("runs", ""), "B", "runs")
    run(("completion", ""), "B", "completion")
    run(("replication", "disable"), "A", "--yes", "replication", "disable", *srs)
    return found


@pytest.fixture(scope="module")
def commands():
    with open(_page("xe-dr.8"), encoding="utf-8") as handle:
        text = _plain(handle.read())
    return text, _split(_split(text, ".SH").get("COMMANDS", ""), ".SS")


KEYS = [("replication", "enable"), ("replication", "disable"), ("status", ""), ("doctor", ""),
        ("plugin", "install"), ("plugin", "status"), ("probe", ""), ("runbook", ""),
        ("failover", ""), ("inventory", ""), ("report", ""), ("cleanup", ""), ("runs", ""),
        ("completion", "")]


@pytest.mark.parametrize("key", KEYS, ids=["-".join(k).strip("-") for k in KEYS])
def test_every_document_carries_its_schema_version(documents, key):
    assert documents[key]["schema"] == SCHEMA


@pytest.mark.parametrize("key", KEYS, ids=["-".join(k).strip("-") for k in KEYS])
def test_the_man_page_names_every_top_level_key(documents, commands, key):
    _, sections = commands
    section = sections[key[0]]
    paragraph = section[section.index("\nJSON"):]
    # a time's "_text" form (local time) goes with the time, as the page says once
    missing = [k for k in sorted(documents[key]) if not _names(paragraph, k) and not (
        k.endswith("_text") and _names(paragraph, k[:-len("_text")]))]
    assert not missing, "%s: the JSON paragraph of xe-dr(8) lacks %s" % (" ".join(key),
                                                                         missing)


def test_the_man_page_says_what_the_schema_version_promises(commands):
    text, _ = commands
    description = " ".join(_split(text, ".SH")["DESCRIPTION"].split())
    assert re.search(r"schema\s+1", description)
    assert "only ever added" in description
