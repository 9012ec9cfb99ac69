"""Reports of runs made by really running the CLI against a lab: a run that succeeded, one
that partly failed, one killed in the middle (journal "begin" with no end) and a cleanup,
in each format, as a user reads them; hostile names escaped; write_default never raises.

The runs are made once for the module (one lab, one state directory), in the order a drill
makes them: test, cleanup, test of everything, cleanup, the same test killed.
"""

import html
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from tests.fixtures_lab import make_lab
from tests.fixtures_workflow import Drill
from xe_dr.cli import main
from xe_dr.cli.environment import Environment
from xe_dr.journal import Run
from xe_dr.report import build, render, write_default

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAS_JINJA = True
try:
    import jinja2  # noqa: F401
except ImportError:
    HAS_JINJA = False

# Names an attacker could give VMs and vApps in the source pool.
HOSTILE_VAPP = "<script>alert(1)</script>&\"'"
HOSTILE_VM = "<img src=x onerror=alert(2)>|*_[x](y)`"
FORGING_VM = "mon-01\n  VM    forged-01                    running"
# U+202E shows the rest of its line reversed ("Trojan Source"): file-01 would read "10-elif".
REVERSING_VM = "file-\u202e10"
FORMATS = ("text", "markdown", "html", "json")
needs_jinja = pytest.mark.skipif(not HAS_JINJA, reason="jinja2 is not installed")


def _uuid(drill, cls, name):
    return drill.lab.ok("A", cls + "-list", "name-label=" + name, "params=uuid",
                        "--minimal").value


def _kill_after(drill, args, entry):
    """The CLI as a real process, killed with SIGKILL right after journal entry ``entry``."""
    env = dict(os.environ, XE_DR_FAULT_KILL_AFTER_ENTRY=str(entry), PYTHONPATH=ROOT)
    argv = [sys.executable, "-m", "xe_dr", "--xe", drill.lab.xe_path("B"), "--state-dir",
            drill.state_dir] + list(args)
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          cwd=ROOT, universal_newlines=True)
    return proc.returncode


class Runs(object):
    pass


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("report-runs")
    drill = Drill(make_lab(base / "lab"), str(base / "state"))
    lab = drill.lab
    lab.ok("A", "appliance-param-set", "uuid=" + _uuid(drill, "appliance", "webshop"),
           "name-label=" + HOSTILE_VAPP)
    lab.ok("A", "vm-param-set", "uuid=" + _uuid(drill, "vm", "cache-01"),
           "name-label=" + HOSTILE_VM)
    lab.ok("A", "vm-param-set", "uuid=" + _uuid(drill, "vm", "mon-01"),
           "name-label=" + FORGING_VM)
    lab.ok("A", "vm-param-set", "uuid=" + _uuid(drill, "vm", "file-01"),
           "name-label=" + REVERSING_VM)
    drill.ok("A", "replication", "enable", *[u for u, _ in lab.replicated_srs()])
    # the host plugin at the DR site: vApp members and each VM's SRs are known
    drill.ok("B", "plugin", "install", "--host-root", lab.root + "/hosts/{uuid}")
    lab.mirror("break")
    storage = drill.storage_args("B")
    result = Runs()
    result.drill = drill

    ok = drill.xedr("B", "--json", "failover", "--test", "--power", "paused", "--vapp",
                    HOSTILE_VAPP, "--vm", HOSTILE_VM, "--vm", "queue-01", *storage)
    assert ok.code == 0, ok
    result.success = ok.json["run"]
    cleanup = drill.xedr("B", "--json", "cleanup", "--yes", result.success)
    assert cleanup.code == 0, cleanup
    result.cleanup = cleanup.json["run"]

    # --all, and a VM on local storage named: it is left out and the run ends partly failed
    everything = ["failover", "--test", "--all", "--vm", "db-01", "--power", "paused",
                  "--parallel", "1"] + storage
    partial = drill.xedr("B", "--json", *everything)
    assert partial.code == 2, partial
    result.partial = partial.json["run"]
    entries = Run.open(drill.state_dir, result.partial).entries()
    first_recovery = next(e["seq"] for e in entries
                          if e["event"] == "begin" and e["step"].startswith("recover:"))
    assert drill.xedr("B", "cleanup", "--yes", result.partial).code == 0

    before = set(os.listdir(os.path.join(drill.state_dir, "runs")))
    code = _kill_after(drill, everything, first_recovery)
    assert code == -signal.SIGKILL
    (killed,) = set(os.listdir(os.path.join(drill.state_dir, "runs"))) - before
    result.killed = killed

    # HA on at the DR site: a test failover is blocked by its prechecks
    heartbeat = drill.lab.ok("B", "sr-list", "name-label=iSCSI B", "--minimal").value
    drill.lab.ok("B", "pool-ha-enable", "heartbeat-sr-uuids=" + heartbeat)
    # (the killed run still holds the SRs: a run must take them over to get this far)
    blocked = drill.xedr("B", "--json", *(everything + ["--adopt", killed]))
    assert blocked.json["outcome"] == "blocked", blocked
    result.blocked = blocked.json["run"]
    return result


def run_dir(runs, name):
    return os.path.join(runs.drill.state_dir, "runs", getattr(runs, name))


def report(runs, name, fmt, *extra):
    """``xe-dr report RUN --format FMT`` in-process -> (code, stdout, stderr)."""
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={}, stdin_isatty=False, stdout_isatty=False,
                      stderr_isatty=False)
    code = main(["--state-dir", runs.drill.state_dir, "report", getattr(runs, name, name),
                 "--format", fmt] + list(extra), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def shown(text, fmt):
    """How a value from the run appears in a format."""
    if text is None:
        return "unknown"
    text = re.sub(u"[\x00-\x1f\u202a-\u202e]", lambda m: ("\\x%02x" if ord(m.group()) < 256
                                                         else "\\u%04x") % ord(m.group()),
                  text)
    if fmt == "html":
        return html.escape(text, quote=True).replace("&#x27;", "&#39;").replace(
            "&quot;", "&#34;")
    if fmt == "markdown":
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        text = text.replace('"', "&quot;")
        return re.sub(r"([\\`*_\[\]|~])", r"\\\1", text)
    return text


def check_common(model, out, fmt):
    """What every report says, whatever the run: who, from where, against what, each step."""
    run = model["run"]
    assert run["user"] and run["client_host"]
    for value in (run["id"], run["user"], run["client_host"], model["target"]["pool_name"],
                  model["target"]["pool_uuid"], run["created_text"]):
        assert shown(value, fmt) in out, (value, fmt)
    for step in model["steps"]:
        assert shown(step["description"], fmt) in out, step
        assert step["begin_offset_text"] in out


# -- the model ------------------------------------------------------------------------------

def test_success_model_has_times_per_object_and_the_recovery_time(runs):
    model = build(run_dir(runs, "success"))
    assert model["run"]["outcome"] == "succeeded" and model["run"]["state"] == "finished"
    assert model["run"]["status"] == "cleaned up"  # the cleanup run marked it so
    assert model["run"]["status_text"] == "succeeded, then cleaned up by run %s" % runs.cleanup
    assert model["run"]["kind"] == "test"
    assert model["target"]["pool_name"] == "Site B"
    assert model["target"]["transport"] == "local"
    assert model["run"]["argv"] and model["run"]["command"]
    names = sorted(i["name_label"] for i in model["items"])
    assert names == sorted([HOSTILE_VAPP, HOSTILE_VM, "queue-01"])
    for item in model["items"]:
        assert item["state"] == "ready" and item["state_text"] == "paused"
        start = [s for s in model["steps"] if s["step"] == "start:%s:%s" % (
            item["kind"], item["uuid"])][0]
        assert item["time_to_ready"] == pytest.approx(start["end"] - model["run"]["created"])
    assert model["rto"]["complete"]
    assert model["rto"]["seconds"] == max(i["time_to_ready"] for i in model["items"])
    assert [s["lun"] for s in model["storage"]] and model["srs"]["introduced"]
    vapp = [i for i in model["items"] if i["kind"] == "appliance"][0]
    assert len(vapp["members"]) == 3
    for step in model["steps"]:
        assert step["status"] == "done"
        assert step["begin"] <= step["end"]
    assert not any("clean up" in t or "cleanup" in t for t in model["todo"])  # done
    objects = [g for g in model["timeline"]["groups"] if g["phase"] is None]
    assert objects[0]["bars"][0]["name_label"] == HOSTILE_VAPP
    assert model["problems"] == []


@pytest.mark.parametrize("name", ("success", "partial"))
def test_a_test_cleaned_up_no_longer_says_to_clean_it_up(runs, name, tmp_path):
    """The cleanup marks the test's run cleaned up and writes its reports again: neither
    they nor 'xe-dr report' ask for the cleanup that was done."""
    run_id = getattr(runs, name)
    files = ["report.txt"] + (["report.html"] if HAS_JINJA else [])
    for fmt, shown_in in [("text", None), ("json", None)] + [(f, f) for f in files]:
        if shown_in:
            with open(os.path.join(run_dir(runs, name), shown_in), encoding="utf-8") as handle:
                out = handle.read()
        else:
            code, out, _ = report(runs, name, fmt)
            assert code == 0
        assert "clean up the test" not in out, (fmt, shown_in)
        assert "xe-dr cleanup %s" % run_id not in out, (fmt, shown_in)
        assert "then cleaned up by run" in out, (fmt, shown_in)
    # the same run, as it was before its cleanup, still asks for it
    copy = tmp_path / run_id
    shutil.copytree(run_dir(runs, name), str(copy))
    meta = json.loads((copy / "run.json").read_text())
    meta["status"] = json.loads((copy / "report.json").read_text())["outcome"]
    (copy / "run.json").write_text(json.dumps(meta))
    assert any("clean up the test with 'xe-dr cleanup %s'" % run_id in t
               for t in build(str(copy))["todo"])


def test_partial_model_names_what_was_left_out(runs):
    model = build(run_dir(runs, "partial"))
    assert model["run"]["outcome"] == "partly failed"
    assert model["run"]["exit_code"] == 2
    excluded = dict((e["name_label"], e["reason"]) for e in model["excluded"])
    assert "dns-01" in excluded and "local storage" in excluded["dns-01"]
    assert any("dns-01 was left out" in t for t in model["todo"])
    assert not model["rto"]["complete"] or model["rto"]["excluded"]
    assert "left out by the prechecks" in model["rto"]["text"]
    assert any(c["verdict"] == "blocking" for c in model["checks"])


def test_killed_model_shows_the_step_begun_with_no_end(runs):
    meta = Run.open(runs.drill.state_dir, runs.killed).meta
    assert meta["status"] == "running"  # killed: nothing could record its end
    model = build(run_dir(runs, "killed"))
    assert model["run"]["state"] == "interrupted"  # its process is gone
    open_steps = [s for s in model["steps"] if s["status"] == "interrupted"]
    assert len(open_steps) == 1 and open_steps[0]["step"].startswith("recover:")
    assert open_steps[0]["end"] is None
    assert any(i["state"] == "interrupted" for i in model["items"])
    assert any("--resume %s" % runs.killed in t for t in model["todo"])
    assert any("report.json is missing" in p for p in model["problems"])
    assert model["rto"]["ready"] == 0


def test_interrupted_by_ctrl_c_says_how_to_resume(runs, tmp_path):
    """What Ctrl-C leaves: status "interrupted" in run.json, a step begun with no end."""
    copy = tmp_path / "runs" / runs.killed
    shutil.copytree(run_dir(runs, "killed"), str(copy))
    meta = json.loads((copy / "run.json").read_text())
    meta["status"] = "interrupted"
    (copy / "run.json").write_text(json.dumps(meta))
    model = build(str(copy))
    assert model["run"]["state"] == "interrupted"
    assert [s["status"] for s in model["steps"]].count("interrupted") == 1
    assert any("--resume %s" % runs.killed in t for t in model["todo"])
    assert render(model, "text").splitlines()[0].endswith(
        "interrupted (status interrupted; 1 step(s) begun with no end)")


def test_blocked_model_and_text(runs):
    model = build(run_dir(runs, "blocked"))
    assert model["run"]["status"] == "blocked" and model["run"]["state"] == "finished"
    assert [c["verdict"] for c in model["checks"]] == ["blocking"]
    assert "HA is enabled" in model["checks"][0]["message"]
    assert model["storage"][0]["note"] == "the run stopped before it reached this LUN"
    text = render(model, "text")
    assert text.startswith("xe-dr report: Test failover to pool Site B: blocked\n")
    assert re.search(r"^  blocking HA is enabled on the target pool", text, re.M)
    assert "  none journaled" in text


def test_cleanup_model(runs):
    model = build(run_dir(runs, "cleanup"))
    assert model["run"]["kind"] == "cleanup"
    assert model["run"]["of"] == runs.success
    assert model["cleanup"]["counts"]["vms"] >= 4
    assert model["items"] == [] and model["timeline"] is None and model["rto"] is None


# -- each run in each format ------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ("success", "partial", "killed", "blocked", "cleanup"))
def test_every_run_renders_in_every_format(runs, name, fmt):
    if fmt in ("markdown", "html") and not HAS_JINJA:
        pytest.skip("jinja2 is not installed")
    code, out, err = report(runs, name, fmt)
    assert code == 0, err
    model = build(run_dir(runs, name))
    if fmt == "json":
        data = json.loads(out)
        assert data["run"] == dict(model["run"])
        assert data["items"] == model["items"] and data["steps"] == model["steps"]
        return
    check_common(model, out, fmt)
    for item in model["items"]:
        assert shown(item["name_label"], fmt) in out, item["name_label"]
        assert shown(item["state_text"], fmt) in out
        if item["time_to_ready_text"]:
            assert item["time_to_ready_text"] in out
    for todo in model["todo"]:
        assert shown(todo, fmt) in out
    if model["rto"]:
        assert shown(model["rto"]["text"], fmt) in out


def test_success_text_reads_as_a_report(runs):
    code, out, _ = report(runs, "success", "text")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "xe-dr report: Test failover to pool Site B: succeeded, then " \
        "cleaned up by run %s" % runs.cleanup
    assert re.search(r"^Run by +\S+ on \S+", out, re.M)
    assert re.search(r"^Recovery time +\d.* from the run's start to the last object paused "
                     r"\(3 of 3\)", out, re.M)
    assert re.search(r"^ +vApp +%s +\d[\d.]* s +paused$" % re.escape(HOSTILE_VAPP), out, re.M)
    assert re.search(r"^ +VM +queue-01 +\d[\d.]* s +paused$", out, re.M)
    assert "members: web-01 (order 0)" not in out  # webshop's members, not erp's
    assert re.search(r"members: proxy-01 \(order 0\), build-01 \(order 1\), ldap-01 "
                     r"\(order 2\)", out)
    assert re.search(r"^ +\+[\d.]+ s +\+[\d.]+ s +[\d.]+ s +done +start vm queue-01$", out,
                     re.M)
    assert "SRs introduced: iSCSI DR 1" in out
    assert "Timeline" in out and "|" in out


def test_partial_text_names_failures_and_todo(runs):
    code, out, _ = report(runs, "partial", "text")
    assert code == 0
    assert "partly failed, then cleaned up by run" in out
    assert re.search(r"^Status +partly failed.*, exit status 2$", out, re.M)
    assert re.search(r"^ +VM +dns-01 +excluded: dns-01 uses local storage", out, re.M)
    assert re.search(r"^Still to do\n(  - .*\n)*  - VM dns-01 was left out", out, re.M)
    # the newline in a VM name cannot forge a line of the report
    assert not re.search(r"^  VM +forged-01", out, re.M)
    assert "mon-01\\x0a  VM    forged-01" in out


def _commands_section(out, fmt):
    """The lines of the "Commands" section of a report."""
    if fmt == "html":
        return html.unescape(out.split("<h2>Commands</h2>")[1].split("</pre>")[0]).split(
            "\n")
    heading = "Commands\n" if fmt == "text" else "## Commands\n"
    return out.split(heading)[1].split("\n\n")[0].splitlines()


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_batched_plugin_call_is_listed_once(runs, fmt):
    """The plugin recovers a batch in one call, journaled with each object's step: the report
    lists the call once."""
    if fmt != "text" and not HAS_JINJA:
        pytest.skip("jinja2 is not installed")
    model = build(run_dir(runs, "partial"))
    calls = [t for s in model["steps"] if s["via"] == "plugin" for t in s["commands"]]
    assert len(calls) > len(set(calls))  # several objects' steps journaled one call
    code, out, _ = report(runs, "partial", fmt)
    assert code == 0
    listed = [line for line in _commands_section(out, fmt) if "fn=recover" in line]
    assert len(listed) == len(set(calls))
    assert sorted(line.strip() for line in listed) == sorted(set(calls))
    batch = [c for c in model["commands"] if "fn=recover" in c["text"]]
    assert sum(len(c["steps"]) for c in batch) == len(calls)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_the_timeline_shows_the_storage_phase(runs, fmt):
    """From the beginning of the storage phase (the probes come first, and are no steps) to
    the end of its last step, above the recoveries."""
    if fmt != "text" and not HAS_JINJA:
        pytest.skip("jinja2 is not installed")
    model = build(run_dir(runs, "success"))
    storage = [s for s in model["steps"] if s["action"] in ("attach", "scan", "replug")]
    luns = len([s for s in storage if s["action"] == "attach"])
    assert luns and storage
    phase = model["timeline"]["groups"][0]
    assert phase["phase"] == "storage" and phase["label"].startswith("storage")
    (bar,) = phase["bars"]
    assert bar["begin"] < min(s["begin_offset"] for s in storage)  # the probes before
    assert bar["end"] == max(s["end_offset"] for s in storage)
    recoveries = [s["begin_offset"] for s in model["steps"] if s["action"] == "recover"]
    assert bar["end"] <= min(recoveries)
    assert bar["label"].startswith("%d LUN(s), %d SR(s) in " % (
        luns, len([s for s in storage if s["action"] == "scan"])))
    code, out, _ = report(runs, "success", fmt)
    assert code == 0
    if fmt == "html":
        from xe_dr.report.markup import COLOURS
        assert len(re.findall(r'<rect [^>]*fill="%s"' % COLOURS["storage"], out)) == 1
        assert "<figcaption>storage" in out
    else:
        assert re.search(r"^ +storage +\|[ #]*#[ #]*\| %s$" % re.escape(bar["label"]), out,
                         re.M)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_bidi_override_in_a_name_is_shown_not_obeyed(runs, fmt):
    if fmt != "text" and not HAS_JINJA:
        pytest.skip("jinja2 is not installed")
    code, out, _ = report(runs, "partial", fmt)
    assert code == 0
    assert "\u202e" not in out
    assert shown(REVERSING_VM, fmt) in out  # file-\u202e10, as the format writes it


def test_killed_text_says_interrupted_and_how_to_resume(runs):
    code, out, _ = report(runs, "killed", "text")
    assert code == 0
    assert "interrupted (status running; 1 step(s) begun with no end)" in out
    assert re.search(r"INTERRUPTED \(begun, no end\) +recover ", out)
    assert "xe-dr failover --resume %s" % runs.killed in out
    assert "report.json is missing" in out


@needs_jinja
def test_html_is_self_contained_and_escapes_hostile_names(runs):
    code, out, _ = report(runs, "success", "html")
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    assert "<script" not in out.lower().replace("&lt;script", "")
    assert "<img" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#34;&#39;" in out
    assert "&lt;img src=x onerror=alert(2)&gt;" in out
    # nothing fetched: no URL but the SVG namespace, no link or import
    assert set(re.findall(r"(?:https?:)?//[\w.-]+", out)) == {"http://www.w3.org"}
    assert "<link" not in out and "@import" not in out and "src=" not in out.replace(
        "src=x", "")
    assert "@media print" in out
    assert out.count("<svg") == len(build(run_dir(runs, "success"))["timeline"]["groups"])


@needs_jinja
def test_markdown_escapes_hostile_names(runs):
    code, out, _ = report(runs, "success", "markdown")
    assert code == 0
    # outside code blocks (whose text Markdown never reads as HTML) no raw HTML
    prose = re.sub(r"^(`{3,})[^\n]*\n.*?^\1$", "", out, flags=re.M | re.S)
    assert "```" not in prose
    assert "<script>" not in prose and "<img" not in prose
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;'" in out
    assert "\\|\\*\\_\\[x\\](y)\\`" in out
    for line in out.splitlines():  # a table row keeps its columns whatever the names hold
        if line.startswith("| VM |") or line.startswith("| vApp |"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 7, line


@needs_jinja
def test_output_file(runs, tmp_path):
    target = tmp_path / "drill.html"
    code, out, err = report(runs, "partial", "html", "-o", str(target))
    assert code == 0 and out == ""
    assert "written to %s" % target in err
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_last_is_the_newest_run(runs):
    code, out, _ = report(runs, "last", "json")
    assert code == 0
    assert json.loads(out)["run"]["id"] == runs.blocked


def test_json_flag_is_the_model(runs):
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={}, stdin_isatty=False, stdout_isatty=False,
                      stderr_isatty=False)
    assert main(["--state-dir", runs.drill.state_dir, "--json", "report", runs.success],
                env) == 0
    data = json.loads(env.stdout.getvalue())
    assert data["schema"] == 1 and data["run"]["id"] == runs.success


def test_unknown_run_is_a_usage_error(runs):
    code, _, err = report(runs, "20990101-000000-test-0000", "text")
    assert code == 64 and "no run" in err


def test_markdown_and_html_without_jinja2_exit_78(runs, monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 -> ImportError
    for fmt in ("markdown", "html"):
        code, out, err = report(runs, "success", fmt)
        assert code == 78 and out == ""
        assert len(err.strip().splitlines()) == 1
        assert "needs jinja2" in err and "pip" not in err
        assert "the text and JSON reports need nothing" in err
        assert "copy the run's directory %s to a workstation" % run_dir(runs, "success") in err
        assert "'xe-dr report DIRECTORY --format %s' there" % fmt in err
    code, out, _ = report(runs, "success", "text")
    assert code == 0 and out.startswith("xe-dr report:")


# -- secrets ----------------------------------------------------------------------------------

def test_secrets_in_a_run_directory_never_reach_the_report(tmp_path):
    directory = tmp_path / "runs" / "20260101-000000-test-beef"
    directory.mkdir(parents=True)
    (directory / "run.json").write_text(json.dumps({
        "id": "20260101-000000-test-beef", "kind": "test", "status": "failed",
        "created": 1767225600.0, "argv": ["xe-dr", "device-config:chappassword=hunter2"],
        "options": {"storage": [{"device_config": {"chappassword": "hunter2"}}]},
        "error": "drtask-create failed: device-config:chappassword=hunter2 refused"}))
    (directory / "journal.jsonl").write_text(json.dumps({
        "seq": 1, "time": 1767225601.0, "event": "begin", "step": "attach:lun",
        "data": {"description": "attach", "commands": [
            ["xe", "drtask-create", "device-config:chappassword=hunter2"]]}}) + "\n")
    model = build(str(directory))
    for fmt in ("text", "json") + (("markdown", "html") if HAS_JINJA else ()):
        out = render(model, fmt)
        assert "hunter2" not in out, fmt
    assert "xe drtask-create 'device-config:chappassword=<redacted>'" in render(model, "text")


# -- write_default ----------------------------------------------------------------------------

def test_write_default_writes_the_reports_of_a_real_run(runs, tmp_path):
    assert write_default(run_dir(runs, "partial")) is None
    text = open(os.path.join(run_dir(runs, "partial"), "report.txt"), encoding="utf-8").read()
    assert text.startswith("xe-dr report: Test failover to pool Site B: partly failed, "
                           "then cleaned up")
    html_path = os.path.join(run_dir(runs, "partial"), "report.html")
    assert os.path.exists(html_path) == HAS_JINJA
    run = Run.open(runs.drill.state_dir, runs.killed)
    assert write_default(run) is None  # a Run object too, and a killed run
    assert "INTERRUPTED" in open(os.path.join(run.dir, "report.txt"), encoding="utf-8").read()


@pytest.mark.parametrize("breakage", ["missing", "empty", "garbage", "wrong-types",
                                      "is-a-file", "torn-journal", "unwritable"])
def test_write_default_never_raises_on_a_broken_run_dir(tmp_path, breakage):
    directory = tmp_path / "runs" / "20260101-000000-failover-dead"
    if breakage != "missing":
        directory.parent.mkdir(parents=True)
    if breakage == "is-a-file":
        directory.write_text("not a directory")
    elif breakage not in ("missing",):
        directory.mkdir()
    if breakage == "garbage":
        for name in ("run.json", "report.json", "plan.json", "journal.jsonl"):
            (directory / name).write_bytes(b"\xff\xfe{{{ not json")
    elif breakage == "wrong-types":
        (directory / "run.json").write_text(json.dumps({
            "id": 7, "kind": ["x"], "created": "yesterday", "target": "Site B",
            "argv": "xe-dr failover", "options": [], "status": None}))
        (directory / "report.json").write_text(json.dumps({
            "items": [{"uuid": "u1", "kind": "vm", "order": "x", "members": "none"}, 5],
            "storage": ["x", {"found": "y"}], "checks": [None, {"verdict": 3}],
            "sources": "A", "todo": [None], "failures": {"a": 1}, "commands": [{"x": 1}]}))
        (directory / "plan.json").write_text("[1, 2]")
        (directory / "journal.jsonl").write_text(
            '{"seq": 1, "time": "now", "event": "begin", "step": 5}\n'
            '{"seq": 2, "time": 1767225601.0, "event": "done", "step": "recover:vm:u1"}\n'
            '[1]\n')
    elif breakage == "torn-journal":
        (directory / "run.json").write_text(json.dumps({"id": directory.name,
                                                         "kind": "failover",
                                                         "created": 1767225600.0,
                                                         "status": "running"}))
        (directory / "journal.jsonl").write_text(
            '{"seq": 1, "time": 1767225601.0, "event": "begin", "step": "attach:lun", '
            '"data": {"description": "attach SR(s) x on LUN lun"}}\n{"seq": 2, "ti')
    elif breakage == "unwritable":
        (directory / "run.json").write_text("{}")
        (directory / "report.txt").mkdir()  # the report cannot be written where it goes
    message = write_default(str(directory))
    if breakage in ("missing", "is-a-file", "unwritable"):
        assert isinstance(message, str) and "\n" not in message
        assert "report" in message
    else:
        assert message is None
        text = (directory / "report.txt").read_text(encoding="utf-8")
        assert "unknown" in text
    if breakage == "torn-journal":
        assert "torn" in text and "attach SR(s) x on LUN lun" in text


def test_write_default_survives_a_defect_in_the_renderer(runs, monkeypatch):
    import xe_dr.report.text as text_module

    def broken(model):
        raise KeyError("a defect")
    monkeypatch.setattr(text_module, "render", broken)
    message = write_default(run_dir(runs, "success"))
    assert "report.txt" in message and "KeyError" in message
