"""The man pages lint clean, and xe-dr(8) documents every command, option, choice, exit
status and environment variable the code knows: adding an option without documenting it
fails here."""

import argparse
import os
import re
import shlex
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
    assert "xe_dr.estate" in see_also and "ansible/README.md" in see_also  # the collection


# -- the synopses against the parser ------------------------------------------------------------

OPTION = re.compile(r"(?<![\w$/.-])--?[A-Za-z][\w-]*")
# A synopsis that says "[options]" (or "[storage options]") leaves the list to the subsection.
PLACEHOLDER = re.compile(r"(?<![\w-])options\b")


def _leaves(parser, path=()):
    """(words, parser) of each command that takes no sub-command ('plugin install'), the
    lab aside (its command line is its own, described by 'xe-dr lab --help')."""
    for name, sub in sorted(_subparsers_or_none(parser).items()):
        if name == "lab":
            continue
        inner = list(_leaves(sub, path + (name,)))
        if inner:
            for leaf in inner:
                yield leaf
        else:
            yield path + (name,), sub


def _subparsers_or_none(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


LEAVES = dict((" ".join(words), sub) for words, sub in _leaves(PARSER))


def _synopses(page):
    """{(where, command): [synopsis, ...]}: the SYNOPSIS section's .SY blocks, and the lines
    of each command's subsection above its first .PP, one block per '.B xe-dr ...' line."""
    found = {}
    block = None
    for line in page["sections"]["SYNOPSIS"].splitlines():
        if line.startswith(".SY "):
            words = line[4:].strip().strip('"').split()[1:]
            block = found.setdefault(("SYNOPSIS", " ".join(words)), [])
            block.append("")
        elif line.startswith(".YS"):
            block = None
        elif block is not None:
            block[-1] += line + "\n"
    for command, body in page["commands"].items():
        for line in body.split("\n.PP")[0].splitlines():
            if line.startswith(".B xe-dr "):
                block = found.setdefault(("subsection", line[len(".B xe-dr "):].strip()), [])
                block.append("")
            elif block is not None and line != ".br":
                block[-1] += line + "\n"
        block = None
    return found


def _own_options(parser):
    return [a for a in parser._actions if a.option_strings
            and not isinstance(a, argparse._HelpAction)
            and not set(a.option_strings) <= set(GLOBAL_OPTIONS)]


def test_synopses_match_the_parser(page):
    """Every command has a synopsis in SYNOPSIS and in its subsection; each names only
    options the command takes and, unless it says "[options]", all of them."""
    synopses = _synopses(page)
    problems = []
    for (where, command), blocks in sorted(synopses.items()):
        if command not in ("", "lab") and command not in LEAVES:
            problems.append("%s: 'xe-dr %s' is not a command" % (where, command))
    for command, parser in sorted(LEAVES.items()):
        for where in ("SYNOPSIS", "subsection"):
            if (where, command) not in synopses:
                problems.append("%s: no synopsis of 'xe-dr %s'" % (where, command))
                continue
            text = "\n".join(synopses[(where, command)])
            foreign = sorted(set(OPTION.findall(text)) - set(parser._option_string_actions))
            if foreign:
                problems.append("%s of 'xe-dr %s' names %s" % (where, command, foreign))
            if PLACEHOLDER.search(text):
                continue  # "[options]": the subsection lists them (checked above)
            for action in _own_options(parser):
                if not any(_names(text, o) for o in action.option_strings):
                    problems.append("%s of 'xe-dr %s' lacks %s" % (
                        where, command, "/".join(action.option_strings)))
            for action in parser._actions:
                if not action.option_strings and action.metavar and \
                        not _names(text, action.metavar):
                    problems.append("%s of 'xe-dr %s' lacks %s" % (where, command,
                                                                   action.metavar))
    assert not problems, "\n".join(problems)


# -- the examples run as written ----------------------------------------------------------------

def _example_blocks(name):
    with open(_page(name), encoding="utf-8") as handle:
        text = _plain(handle.read())
    return re.findall(r"^\.EX\n(.*?)^\.EE$", text, re.S | re.M)


def _commands_of(block):
    """The commands of an example block, continuation lines joined."""
    commands = []
    for line in block.splitlines():
        if commands and commands[-1].endswith("\\"):
            commands[-1] = commands[-1][:-1] + " " + line.strip()
        else:
            commands.append(line.strip())
    return commands


def _single_quoted_dollars(command):
    """The '$' the shell would leave unexpanded: inside single quotes."""
    found, quote, escaped = [], None, False
    for index, char in enumerate(command):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote is None and char in "'\"":
            quote = char
        elif char == quote:
            quote = None
        elif char == "$" and quote == "'":
            found.append(command[index:index + 8])
    return found


def _parses(command, variables):
    """Whether an xe-dr command of an example is accepted by the parser (None when the
    line runs no xe-dr), its shell variables filled in from the example that sets them."""
    words = shlex.split(re.sub(r"\$([A-Z]+)\b", lambda m: variables.get(m.group(1), m.group(0)),
                               command))
    if "xe-dr" not in words:
        return None
    argv = []
    for word in words[words.index("xe-dr") + 1:]:
        if word in ("||", "&&", "|", ";") or word.startswith((">", "2>")):
            break
        argv.append(word)
    build_parser().parse_args(argv)  # a usage error raises
    return True


@pytest.mark.parametrize("name", PAGES)
def test_examples_run_as_written(name):
    """The shell expands every variable of an example (none inside single quotes), and
    each xe-dr command of xe-dr(8)'s examples is one its parser accepts (an option renamed
    or removed fails here)."""
    variables = {}
    parsed = 0
    for block in _example_blocks(name):
        for command in _commands_of(block):
            assert not _single_quoted_dollars(command), command
            assignment = re.match(r"^([A-Z]+)=(.*)$", command)
            if assignment:
                variables[assignment.group(1)] = shlex.split(assignment.group(2))[0]
            elif name == "xe-dr.8" and _parses(command, variables):
                parsed += 1
    assert parsed >= 20 or name != "xe-dr.8"


# -- the plugin's page against the plugin -------------------------------------------------------

PLUGIN = os.path.join(ROOT, "host-plugins", "xe-dr")


@pytest.fixture(scope="module")
def plugin_page():
    with open(_page("xe-dr-plugin.8"), encoding="utf-8") as handle:
        text = _plain(handle.read())
    return {"text": text, "sections": _split(text, ".SH"),
            "functions": _split(_split(text, ".SH").get("FUNCTIONS", ""), ".SS")}


@pytest.fixture(scope="module")
def plugin_source():
    if not os.path.exists(PLUGIN):
        pytest.skip("host-plugins/xe-dr is not in this checkout")
    with open(PLUGIN, encoding="utf-8") as handle:
        return handle.read()


def test_plugin_page_states_the_plugins_version(plugin_page, plugin_source):
    version = re.search(r'^PLUGIN_VERSION = "(\d+)"', plugin_source, re.M).group(1)
    stated = re.search(r"currently\s+(?:\.B\w*\s+)?(\d+)", plugin_page["functions"]["version"])
    assert stated and stated.group(1) == version, "the page says %s, the plugin is %s" % (
        stated and stated.group(1), version)


def test_plugin_page_synopsis_has_every_function_and_argument(plugin_page, plugin_source):
    synopsis = plugin_page["sections"]["SYNOPSIS"]
    table = re.search(r"^FUNCTIONS = \{(.*?)^\}", plugin_source, re.S | re.M).group(1)
    functions = re.findall(r'"(\w+)": wrapped', table)
    assert len(functions) >= 5
    for function in functions:
        assert "fn=%s\n" % function in synopsis + "\n", "fn=%s" % function
        assert function in plugin_page["functions"] or \
            re.search(r"^\.B %s$" % function, plugin_page["text"], re.M), function
    arguments = set(re.findall(r'args\.get\("(\w+)"\)', plugin_source))
    arguments |= set(re.findall(r'_(?:required_arg|uuid_list)\(args, "(\w+)"\)', plugin_source))
    assert {"vdi", "vms", "appliances", "force", "parallel", "tag", "kind", "keep"} <= arguments
    for argument in arguments:
        assert "args:%s=" % argument in synopsis, "args:%s" % argument


def test_the_lab_subsection_names_every_lab_command(page):
    from xe_dr.lab import cli as lab_cli
    body = page["commands"]["lab"]
    missing = [name for name in sorted(_subparsers_or_none(lab_cli.parser()))
               if not _names(body, name)]
    assert not missing, "xe-dr(8) lab does not name %s" % ", ".join(missing)
