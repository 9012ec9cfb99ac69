import io

from xe_dr.cli.environment import Environment
from xe_dr.cli.output import Output
from xe_dr.cli.progress import Progress


def progress(tty, json_mode=False, verbosity=0, environ=None):
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ=environ or {}, stdin_isatty=False, stdout_isatty=False,
                      stderr_isatty=tty, clock=lambda: 1000.0)
    return Progress(Output(env, json_mode=json_mode, verbosity=verbosity), clock=iter(
        [0.0] + [65.0] * 100).__next__), env


def drive(p):
    p.phase("recover", 3, "recover:")
    p.step("begin", "recover:vm:1", "recover vm web-01")
    p.step("done", "recover:vm:1", "recover vm web-01")
    p.step("begin", "tag:vm:1", "tag")       # not a recover step: not counted
    p.step("done", "tag:vm:1", "tag")
    p.step("failed", "recover:vm:2", "recover:vm:2: VM_REQUIRES_SR")
    p.close()


def test_a_terminal_gets_one_live_line_rewritten_in_place():
    p, env = progress(tty=True)
    drive(p)
    err = env.stderr.getvalue()
    assert "\r\x1b[K" in err
    assert "recover 1/3, 1 failed  01:05  tag" in err
    assert "FAILED recover:vm:2" in err
    assert err.endswith("\n")


def test_off_a_terminal_plain_timestamped_lines_and_nothing_animated():
    p, env = progress(tty=False)
    drive(p)
    err = env.stderr.getvalue()
    assert "\x1b" not in err and "\r" not in err
    lines = err.splitlines()
    assert any(line.endswith("begin recover vm web-01") for line in lines)
    assert all(line.startswith("xe-dr: ") for line in lines)
    assert lines[0].split()[1].count(":") == 2  # HH:MM:SS


def test_nothing_animated_with_json_quiet_or_no_color():
    for options in ({"json_mode": True}, {"verbosity": -1}, {"environ": {"NO_COLOR": "1"}}):
        p, env = progress(tty=True, **options)
        drive(p)
        assert "\r" not in env.stderr.getvalue(), options
