"""Each command's --help, as an operator reads it at an 80-column terminal: short (at most 60
lines, none wider than 80), its own options only (the global ones are listed once, in
'xe-dr --help', and accepted after the command all the same), and examples that end it and
run as written against the parser."""

import argparse
import io
import re
import shlex

import pytest

from xe_dr.cli import build_parser, main
from xe_dr.cli.environment import Environment


def run_cli(argv):
    env = Environment(stdin=io.StringIO(""), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={}, stdin_isatty=False, stdout_isatty=False,
                      stderr_isatty=False)
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def _commands(parser, path=()):
    """(path, parser) of every command and sub-command ('plugin', 'plugin install'), the lab
    left out: its command line is its own (tests/test_lab_cli.py)."""
    for name, sub in sorted(_subparsers(parser).items()):
        if name == "lab":
            continue
        yield path + (name,), sub
        for inner in _commands(sub, path + (name,)):
            yield inner


PARSER = build_parser()
COMMANDS = dict((" ".join(path), sub) for path, sub in _commands(PARSER))
GLOBAL_OPTIONS = sorted(o for a in PARSER._actions for o in a.option_strings
                        if not isinstance(a, (argparse._VersionAction, argparse._HelpAction)))
OPTION = re.compile(r"(?<![\w$/.-])--?[A-Za-z][\w-]*")


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # argparse reads it, on 3.6 as on 3.12


def _help(command):
    code, out, err = run_cli(command.split() + ["--help"])
    assert (code, err) == (0, ""), err
    return out


def _parts(text):
    """(the help above the examples, the examples, each one joined from its lines)."""
    head, sep, tail = text.partition("\nexamples:\n")
    assert sep, "no 'examples:' at the end"
    examples = []
    for line in tail.splitlines():
        assert line.startswith("  "), "not an example line: %r" % line
        if examples and examples[-1].endswith("\\"):
            examples[-1] = examples[-1][:-1] + " " + line.strip()
        else:
            examples.append(line.strip())
    return head, examples


def _argv(example):
    """The words of an example, without the shell around it (redirections, || ...)."""
    words = []
    for word in shlex.split(example):
        if word in ("||", "&&", "|", ";") or word.startswith((">", "2>")):
            break
        words.append(word)
    return words


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_fits_sixty_lines_of_eighty_columns(command):
    lines = _help(command).splitlines()
    assert len(lines) <= 60, "%d lines" % len(lines)
    wide = [line for line in lines if len(line) > 80]
    assert not wide, wide


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_ends_with_examples_of_this_command_that_parse(command):
    head, examples = _parts(_help(command))
    assert 2 <= len(examples) <= 4, examples
    for example in examples:
        argv = _argv(example)
        assert argv[0] == "xe-dr", example
        args = PARSER.parse_args(argv[1:])  # a usage error raises
        words = [args.command] + ([args.action] if getattr(args, "action", None) else [])
        assert " ".join(words).startswith(command), example


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_names_only_options_the_command_accepts(command):
    accepted = COMMANDS[command]._option_string_actions  # the global options included
    head, _ = _parts(_help(command))  # the examples are parsed (above)
    foreign = sorted(set(OPTION.findall(head)) - set(accepted))
    assert not foreign, foreign


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_global_options_are_listed_once_and_accepted_after_the_command(command):
    head, _ = _parts(_help(command))
    listed = [OPTION.match(line.strip()).group(0) for line in head.splitlines()
              if OPTION.match(line.strip()) and line.startswith("  -")]
    assert not set(listed) & set(GLOBAL_OPTIONS), listed
    assert "\nglobal options: see xe-dr --help" in head
    # ... and still taken after the command, as cron lines and runbooks give them.
    sub = COMMANDS[command]
    if _subparsers(sub):
        return  # the sub-commands are checked themselves
    positionals = ["20260101-000000-test-0000" for a in sub._actions
                   if not a.option_strings and a.nargs is None]
    args = PARSER.parse_args(command.split() + ["--json", "-H", "root@xcp-b1", "-vv", "-y",
                                                "--state-dir", "/srv/xe-dr"] + positionals)
    assert (args.json, args.host, args.verbose, args.yes, args.state_dir) == (
        True, "root@xcp-b1", 2, True, "/srv/xe-dr")


def test_the_main_help_lists_every_global_option_and_every_command():
    code, out, _ = run_cli(["--help"])
    assert code == 0
    listed = {o for line in out.splitlines() if line.startswith("  -")
              for o in OPTION.findall(line.split("  ")[1])}
    assert set(GLOBAL_OPTIONS) <= listed
    for name in _subparsers(PARSER):
        assert re.search(r"^    %s " % name, out, re.M), name
    assert [line for line in out.splitlines() if len(line) > 80] == []


def test_runbook_neither_offers_nor_takes_resume():
    assert "--resume" not in _help("runbook")
    code, out, err = run_cli(["runbook", "--all", "--resume", "20260101-000000-test-0000"])
    assert (code, out) == (64, "")
    assert "unrecognized arguments: --resume" in err
