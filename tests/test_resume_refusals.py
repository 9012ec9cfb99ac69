"""A resume that could only do harm is refused (issue 14, finding 5): a run that was cleaned
up, and a run that began recovering but lost its plan.json."""

import os

from tests.test_safety_cleanup import protect_and_break


def test_a_cleaned_up_run_is_not_resumed(drill):
    protect_and_break(drill)
    test = drill.xedr("B", "--json", "failover", "--test", "--all", *drill.storage_args("B"))
    run_id = test.json["run"]
    assert drill.xedr("B", "cleanup", run_id).code == 0
    before = drill.snapshot("B")
    resumed = drill.xedr("B", "failover", "--resume", run_id)
    assert resumed.code == 64, resumed
    assert "was cleaned up by" in resumed.err and "nothing to resume" in resumed.err
    assert drill.snapshot("B") == before
    listed = [r for r in drill.xedr("B", "--json", "runs").json["runs"] if r["id"] == run_id]
    assert listed[0]["status"] == "cleaned up"


def test_a_run_without_its_plan_is_not_resumed_once_it_recovered(drill):
    protect_and_break(drill)
    test = drill.xedr("B", "--json", "failover", "--test", "--all", *drill.storage_args("B"))
    run_id = test.json["run"]
    os.remove(os.path.join(drill.state_dir, "runs", run_id, "plan.json"))
    before = drill.snapshot("B")
    resumed = drill.xedr("B", "failover", "--resume", run_id)
    assert resumed.code == 78, resumed
    assert "plan.json is missing" in resumed.err
    assert drill.snapshot("B") == before
