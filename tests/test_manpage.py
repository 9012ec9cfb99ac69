"""The man pages lint clean, and xe-dr(8) documents every command, option, choice, exit
status and environment variable the code knows: adding an option without documenting it
fails here."""

import argparse
import os
import re
import shutil
import subprocess

import pytest

from xe_dr.cli import build_parser
from xe_dr.exitcodes import EXIT_CODE_MEANINGS, ExitCode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAN_DIR = os.path.join(ROOT, "man")
PAGES = ("xe-dr.8", "xe-dr-plugin.8")
CI = os.environ.get("CI") == "true"


def _page(name):
    path = os.path.join(MAN_DIR, name)
    if not os.path.exists(path):
        pytest.skip("%s is not written yet" % name)
    return path


def _tool(name):
    path = shutil.which(name)
    if path is None:
        if CI:
            pytest.fail("%s is not installed (required when CI=true)" % name)
        pytest.skip("%s is not installed" % name)
    return path


def _run(argv):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=dict(os.environ, LC_ALL="C.UTF-8"))


# -- lint ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_mandoc_lint_is_clean(page):
    path = _page(page)
    result = _run([_tool("mandoc"), "-Tlint", path])
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("page", PAGES)
def test_groff_renders_without_warnings(page):
    path = _page(page)
    result = _run([_tool("groff"), "-ww", "-man", "-Tutf8", "-z", path])
    assert (result.returncode, result.stderr) == (0, "")


def test_commands_and_options_copy_as_typed():
    """Rendered, every dash is an ASCII hyphen-minus (no hyphenation, no typographic
    hyphen or minus), so that a command copied from the page runs."""
    path = _page("xe-dr.8")
    result = _run([_tool("groff"), "-man", "-Tutf8", path])
    assert result.returncode == 0
    for char in ("\u2010", "\u2011", "\u2212", "\u00ad"):
        assert char not in result.stdout, "%r in the rendered page" % char
    assert "xe-dr -H root@" in result.stdout


# -- what the page says -------------------------------------------------------------------------

def _plain(source):
    """The page's source with the font and character escapes removed."""
    text = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", source)
    for escape, char in (("\\-", "-"), ("\\&", ""), ("\\%", ""), ("\\e", "\\"),
                         ("\\(ti", "~"), ("\\(aq", "'"), ("\\(ha", "^")):
        text = text.replace(escape, char)
    return text


def _split(text, macro):
    """{heading: body} for the ``.SH`` or ``.SS`` headings of ``text``."""
    parts = {}
    heading = None
    for line in text.splitlines():
        if line.startswith(macro + " "):
            heading = line[len(macro) + 1:].strip().strip('"')
            parts[heading] = []
        elif heading is not None:
            parts[heading].append(line)
    return dict((k, "\n".join(v)) for k, v in parts.items())


@pytest.fixture(scope="module")
def page():
    with open(_page("xe-dr.8"), encoding="utf-8") as handle:
        text = _plain(handle.read())
    sections = _split(text, ".SH")
    return {"text": text, "sections": sections,
            "commands": _split(sections.get("COMMANDS", ""), ".SS")}


def _names(text, word):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(word), text) is not None


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    raise AssertionError("the parser has no commands")


def _option_actions(parser):
    return [a for a in parser._actions if a.option_strings]


PARSER = build_parser()
GLOBAL_OPTIONS = sorted({o for a in _option_actions(PARSER) for o in a.option_strings})
COMMANDS = sorted(_subparsers(PARSER))


def test_sections_are_there(page):
    for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "GLOBAL OPTIONS", "COMMANDS",
                 "ENVIRONMENT", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert name in page["sections"], "no %s section" % name


@pytest.mark.parametrize("option", GLOBAL_OPTIONS)
def test_every_global_option_is_documented(page, option):
    assert _names(page["sections"]["GLOBAL OPTIONS"], option)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_its_subsection_and_synopsis(page, command):
    assert command in page["commands"], "no '.SS %s' under COMMANDS" % command
    assert _names(page["sections"]["SYNOPSIS"], command)


def _actions_within(parser):
    """Every action of a command and of its own sub-commands (replication enable)."""
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for inner in _actions_within(sub):
                    yield inner


def _command_cases():
    seen = set()
    for command, sub in sorted(_subparsers(PARSER).items()):
        for action in _actions_within(sub):
            if isinstance(action, argparse._HelpAction):
                continue
            own = [o for o in action.option_strings if o not in GLOBAL_OPTIONS]
            if action.option_strings and not own:
                continue  # a global option, accepted after the command too
            key = (command, tuple(action.option_strings) or action.dest)
            if key not in seen:
                seen.add(key)
                yield command, action


@pytest.mark.parametrize("command,action", list(_command_cases()),
                         ids=lambda value: value if isinstance(value, str) else
                         "/".join(value.option_strings) or value.dest)
def test_every_option_of_a_command_is_documented_with_it(page, command, action):
    body = page["commands"].get(command, "")
    for option in action.option_strings:
        assert _names(body, option), "%s %s is not in its subsection" % (command, option)
    if isinstance(action, argparse._SubParsersAction):
        for name in action.choices:
            assert _names(body, "xe-dr %s %s" % (command, name)), \
                "no synopsis line 'xe-dr %s %s' in its subsection" % (command, name)
            assert _names(page["sections"]["SYNOPSIS"], name)
        return
    if not action.option_strings and action.metavar not in (None, "..."):
        assert _names(body, action.metavar), "%s: %s" % (command, action.metavar)
    for choice in action.choices or ():
        assert _names(body, str(choice)), "%s: choice %s" % (command, choice)


def test_choices_of_global_options_are_documented(page):
    for action in _option_actions(PARSER):
        for choice in action.choices or ():
            assert _names(page["sections"]["GLOBAL OPTIONS"], str(choice))


def test_exit_status_lists_every_exit_code(page):
    body = page["sections"]["EXIT STATUS"].splitlines()
    tags = {line.split()[-1] for before, line in zip(body, body[1:]) if before == ".TP"}
    assert tags == {str(int(code)) for code in ExitCode}
    assert {int(code) for code, _ in EXIT_CODE_MEANINGS} == {int(code) for code in ExitCode}


def _environment_variables():
    names = set()
    for top, dirs, files in os.walk(os.path.join(ROOT, "xe_dr")):
        dirs[:] = [d for d in dirs if d not in ("lab", "__pycache__")]
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(top, name), encoding="utf-8") as handle:
                    names.update(re.findall(r"\bXE_DR_[A-Z0-9_]+\b", handle.read()))
    return sorted(names | {"NO_COLOR", "XDG_STATE_HOME"})


@pytest.mark.parametrize("variable", _environment_variables())
def test_every_environment_variable_is_documented(page, variable):
    assert _names(page["sections"]["ENVIRONMENT"], variable)


def test_files_name_the_state_layout(page):
    files = page["sections"]["FILES"]
    for name in ("run.json", "journal.jsonl", "plan.json", "report.json", ".lock",
                 "/var/lib/xe-dr", "/etc/xapi.d/plugins/xe-dr"):
        assert name in files


def test_see_also(page):
    see_also = page["sections"]["SEE ALSO"]
    assert "xe (1)" in see_also and "xe-dr-plugin (8)" in see_also
