"""One plan, three readers (issue 13): the dry run lists a failover's steps, the runbook renders
them as bash, and the run journals them; all three are fed by the same steps
(xe_dr/dr/steps.py), so for the same failover they name the same xe commands on the same
objects. Twin labs (one seed) run the runbook and xe-dr; the runbook's commands are read from
the lab's call log, what xe-dr ran from its journal, what the dry run planned from its JSON.
"""

import json
import os
import re

from tests.test_runbook import make_runbook, protect_and_break, run_bash
from tests.test_workflows import install_plugin

# The commands whose objects are the same in twin labs (the UUIDs the lab made at creation, and
# names); those of objects made during the run (PBDs, DR tasks) differ between twins.
OBJECT_OF = {"drtask-create": "sr-whitelist", "sr-scan": "uuid", "network-create": "name-label",
             "vm-recover": "uuid", "appliance-recover": "uuid", "vm-start": "uuid",
             "appliance-start": "uuid"}
OPTIONS = ["--all", "--map-network", "DMZ=VM Network"]


def action(command, params):
    """(what, which object) of one xe command: recovering and starting by object."""
    value = params.get(OBJECT_OF[command])
    if isinstance(value, list):
        value = ",".join(value)
    if command == "drtask-create":
        value = ",".join(sorted(value.split(",")))
    return (command.split("-", 1)[1] if command.startswith(("vm-", "appliance-"))
            else command, value)


def argv_params(args):
    return dict(a.split("=", 1) for a in args if "=" in a)


def planned_actions(plan):
    found = []
    for step in plan["commands"]:
        for call in step["calls"]:
            if call["xe"] in OBJECT_OF:
                found.append(action(call["xe"], call["params"]))
    return sorted(found)


def journaled_actions(drill, run_id):
    found = []
    with open(os.path.join(drill.state_dir, "runs", run_id, "journal.jsonl")) as journal:
        entries = [json.loads(line) for line in journal]
    for entry in entries:
        if entry["event"] != "begin":
            continue
        match = re.match(r"^recover:(vm|appliance):(.+)$", entry["step"])
        if match:  # through the plugin: one call recovers a batch
            found.append(("recover", match.group(2)))
            continue
        for argv in (entry.get("data") or {}).get("commands") or ():
            if argv[1] in OBJECT_OF:
                found.append(action(argv[1], argv_params(argv[2:])))
    return sorted(found)


def called_actions(drill, since):
    return sorted(action(e["command"], argv_params(e["args"]))
                  for e in drill.lab.call_log()[since:]
                  if e["command"] in OBJECT_OF and e["exit"] == 0)


def test_the_dry_run_the_runbook_and_the_journal_name_the_same_commands(drill_factory,
                                                                         tmp_path):
    by_failover, by_runbook = drill_factory(), drill_factory()
    for drill in (by_failover, by_runbook):
        protect_and_break(drill)
        install_plugin(drill, "B")

    plan = by_runbook.xedr("B", "--json", "failover", "--dry-run",
                           *(OPTIONS + by_runbook.storage_args("B")))
    assert plan.code == 0, plan
    script = tmp_path / "failover.sh"
    make_runbook(by_runbook, script, *OPTIONS)
    since = len(by_runbook.lab.call_log())
    assert run_bash(by_runbook, script).returncode == 2  # VMs on unmirrored storage skipped

    run = by_failover.xedr("B", "--json", "--yes", "failover",
                           *(OPTIONS + by_failover.storage_args("B")))
    assert run.code == 0, run  # with the plugin, unprotected VMs are left out of --all

    planned = planned_actions(plan.json)
    assert {a for a, _ in planned} == {"drtask-create", "sr-scan", "network-create",
                                       "recover", "start"}
    assert journaled_actions(by_failover, run.json["run"]) == planned
    assert called_actions(by_runbook, since) == planned
