"""The marks xe-dr leaves in a pool are written by three parties: the core, the host plugin
(which tags what it recovers in its own XenAPI session) and the bash runbooks. A cleanup
finds what any of them made only if they agree, byte for byte."""

from tests.plugin_fakes.loader import plugin_module
from xe_dr import marks
from xe_dr.report import runbook


def test_the_host_plugin_writes_the_core_marks():
    with plugin_module() as plugin:
        assert plugin.RUN_TAG == marks.RUN_TAG == "xe-dr-run"
        assert plugin.RUN_KIND_TAG == marks.RUN_KIND_TAG == "xe-dr-run-kind"
        assert tuple(plugin.RUN_KINDS) == tuple(marks.RUN_KINDS)
        assert plugin.HEARTBEAT_KEY == marks.HEARTBEAT_KEY == "xe-dr-heartbeat"


def test_the_runbook_writes_the_core_marks():
    assert runbook.RUN_TAG == marks.RUN_TAG
    assert runbook.RUN_KIND_TAG == marks.RUN_KIND_TAG
    assert marks.is_runbook_id("20261204-101500-runbook-1a2b")
    assert not marks.is_runbook_id("20261204-101500-test-1a2b")
