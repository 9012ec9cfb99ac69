"""The ``xe-dr`` command line: parsing, the shared options, dispatch and the exit status."""

import argparse
import importlib
import sys
import textwrap
import traceback

from xe_dr import __version__
from xe_dr.cli import argtypes
from xe_dr.cli.context import Context
from xe_dr.cli.environment import Environment
from xe_dr.cli.output import Output
from xe_dr.errors import UsageError, XeDrError
from xe_dr.exitcodes import EXIT_CODE_MEANINGS, ExitCode

# Command modules under xe_dr/cli/commands/, in the order --help lists them. Each defines
# NAME, HELP, EXAMPLES (command lines its --help ends with; a sub-command's help shows those
# that name it), add_arguments(parser) and run(ctx) -> ExitCode.
COMMAND_MODULES = (
    "doctor",
    "status",
    "replication",
    "probe",
    "inventory",
    "failover",
    "failback",
    "drill",
    "plan",
    "cleanup",
    "runbook",
    "runs",
    "report",
    "plugin",
    "lab",
    "completion",
)


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 64) instead of exiting with status 2."""

    #: Where --help and --version print: the injected environment's stdout.
    stdout = None

    def error(self, message):
        raise UsageError(message, hint="see '%s --help'" % self.prog)

    def _print_message(self, message, file=None):
        if message:
            (_Parser.stdout or file or sys.stdout).write(message)

    def _get_option_tuples(self, option_string):
        """No abbreviations of long options ("--for" is not --force), only grouped short
        flags ("-vv", "-Hhost"). allow_abbrev=False would do the first but, before Python
        3.8, also break the second (bpo-26967), so the candidates are filtered here."""
        prefix = option_string.split("=", 1)[0]
        short = option_string[:2] if not option_string.startswith("--") else None
        return [candidate for candidate
                in super(_Parser, self)._get_option_tuples(option_string)
                if candidate[1] == prefix or candidate[1] == short]


class _HelpFormatter(argparse.HelpFormatter):
    """A text of one paragraph (a description) is filled to the width; one with line breaks
    (examples, exit statuses) is printed as written."""

    def __init__(self, prog, **kwargs):
        kwargs.setdefault("max_help_position", 26)
        super(_HelpFormatter, self).__init__(prog, **kwargs)

    def _fill_text(self, text, width, indent):
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(True))
        return super(_HelpFormatter, self)._fill_text(text, width, indent)


#: The line each command's --help has instead of the global options.
GLOBAL_OPTIONS_LINE = "global options: see xe-dr --help (they may also follow the command)"


def _add_global_options(parser, suppress):
    """The options every command shares, accepted before or after the command name.

    On the sub-parsers the defaults are suppressed so that an option given before the
    command is not reset by the sub-parser.
    """
    def default(value):
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options (target and transport)")
    group.add_argument("-H", "--host", metavar="[USER@]HOST[:PORT]", default=default(None),
                       type=argtypes.non_empty,
                       help="pool master to drive over SSH (env XE_DR_HOST); absent: run xe locally on dom0")
    group.add_argument("--sites", metavar="FILE", default=default(None),
                       type=argtypes.file_path,
                       help="a sites file naming an estate's pools (env XE_DR_SITES); "
                            "without --pool or -H, 'status' checks every pool")
    group.add_argument("--pool", metavar="NAME", default=default(None),
                       type=argtypes.non_empty,
                       help="the sites file's pool to drive (its master, xe and SSH options)")
    group.add_argument("--ssh", choices=("paramiko", "openssh"), default=default(None),
                       help="SSH implementation (default: paramiko when installed, else openssh; env XE_DR_SSH)")
    group.add_argument("-i", "--identity", metavar="FILE", default=default(None),
                       type=argtypes.file_path,
                       help="SSH private key file")
    group.add_argument("--known-hosts", metavar="FILE", default=default(None),
                       type=argtypes.file_path,
                       help="known_hosts file to verify the host key against (default: ~/.ssh/known_hosts)")
    group.add_argument("--ssh-config", metavar="FILE", default=default(None),
                       type=argtypes.file_path,
                       help="ssh client configuration for --ssh openssh (default: the "
                            "user's own, as ssh reads it)")
    group.add_argument("--accept-new-host-key", action="store_true", default=default(False),
                       help="accept and record an unknown host key (never a changed one)")
    group.add_argument("--xe", metavar="PATH", default=default(None), type=argtypes.non_empty,
                       help="path of xe on the target (default: xe; env XE_DR_XE)")
    group.add_argument("--plugin", choices=("auto", "required", "off"), default=default(None),
                       help="the xe-dr host plugin: auto (default) uses it where it answers, "
                            "else plain xe, and says so; required refuses to run without "
                            "it (exit 78); off never asks it")
    group.add_argument("--no-plugin", dest="plugin", action="store_const", const="off",
                       default=default(None), help="the same as --plugin off")
    group.add_argument("--timeout", type=argtypes.seconds, metavar="SECONDS",
                       default=default(None),
                       help="timeout for each remote call (default: 600)")
    group.add_argument("--state-dir", metavar="DIR", default=default(None),
                       type=argtypes.non_empty,
                       help="where runs and journals are kept (default: /var/lib/xe-dr as root, "
                            "else $XDG_STATE_HOME/xe-dr; env XE_DR_STATE_DIR)")
    behaviour = parser.add_argument_group("global options (behaviour)")
    behaviour.add_argument("--json", action="store_true", default=default(False),
                           help="print one JSON document on stdout")
    behaviour.add_argument("-y", "--yes", action="store_true", default=default(False),
                           help="answer yes to confirmations of destructive steps")
    behaviour.add_argument("--no-input", action="store_true", default=default(False),
                           help="never prompt; fail where a confirmation would be needed")
    behaviour.add_argument("-v", "--verbose", action="count", default=default(0),
                           help="more detail on stderr (repeatable)")
    behaviour.add_argument("-q", "--quiet", action="store_true", default=default(False),
                           help="only warnings and errors on stderr")


def _main_epilog():
    lines = ["Global options may also follow the command. 'xe-dr COMMAND --help' shows the",
             "options of a command, and examples.", "", "exit status:"]
    for code, meaning in EXIT_CODE_MEANINGS:
        lines += textwrap.wrap(meaning, 78, initial_indent="  %-4d" % int(code),
                               subsequent_indent=" " * 6)
    return "\n".join(lines)


def _usage(parser):
    """``xe-dr [global options] COMMAND [options] ARGUMENTS``: the options are listed below
    it, and the global ones in ``xe-dr --help``."""
    words = parser.prog.split()
    words[1:1] = ["[global options]"]
    if any(a.option_strings and a.help != argparse.SUPPRESS
           and not isinstance(a, argparse._HelpAction) for a in parser._actions):
        words.append("[options]")
    for action in parser._actions:
        if action.option_strings:
            continue
        name = action.metavar or action.dest.upper()
        if action.nargs == "*":
            name = "[%s ...]" % name
        elif action.nargs in (argparse.REMAINDER, argparse.PARSER):
            name += " ..."
        words.append(name)
    return " ".join(words)


def _examples(parser, examples, subcommands=False):
    """The examples of a command's module that use this (sub-)command; a command with
    ``subcommands`` shows the first of each sub-command's (its help stays short)."""
    words = parser.prog.split()[1:]
    chosen, seen = [], set()
    for example in examples:
        argv = [w for w in example.split() if not w.startswith("-")]
        if not all(word in argv for word in words):
            continue
        if subcommands and len(words) == 1:
            after = argv[argv.index(words[0]) + 1:argv.index(words[0]) + 2]
            if tuple(after) in seen:
                continue
            seen.add(tuple(after))
        chosen.append(example)
    return chosen


def _finish_command(parser, module):
    """A command's (or a sub-command's) parser: the global options accepted but not listed
    (xe-dr --help lists them), and a help made of its own options, the line saying where
    the global ones are, and examples."""
    own = list(parser._actions)
    _add_global_options(parser, suppress=True)
    for action in parser._actions:
        if action not in own:
            action.help = argparse.SUPPRESS
    parser.formatter_class = _HelpFormatter
    parser.usage = _usage(parser)
    lines = [GLOBAL_OPTIONS_LINE, "", "examples:"]
    lines += ["  " + line for e in _examples(parser, getattr(module, "EXAMPLES", ()),
                                             getattr(module, "SUBCOMMANDS", False))
              for line in e.splitlines()]
    parser.epilog = "\n".join(lines)


def build_parser():
    parser = _Parser(
        prog="xe-dr",
        description="Disaster recovery for XenServer and XCP-ng pools, driven through xe.",
        epilog=_main_epilog(),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version="xe-dr " + __version__)
    _add_global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        module = importlib.import_module("xe_dr.cli.commands." + name)
        # A command with RAW_ARGS (the lab) takes its whole command line as it is, --help too.
        raw = getattr(module, "RAW_ARGS", False)
        sub = commands.add_parser(module.NAME, help=module.HELP, description=module.HELP,
                                  formatter_class=_HelpFormatter, add_help=not raw)
        if getattr(module, "SUBCOMMANDS", False):
            # Its own sub-commands take the shared options too.
            module.add_arguments(sub, lambda p, m=module: _finish_command(p, m))
        else:
            module.add_arguments(sub)
        if not raw:
            _finish_command(sub, module)
        sub.set_defaults(handler=module.run)
    return parser


def _asks_nagios(argv):
    """Whether the command line asks for ``status --format nagios``, read before parsing:
    a monitoring plugin must answer every failure, a usage error too, with an UNKNOWN line
    and exit 3, since Nagios takes any other status for a broken plugin."""
    if "status" not in argv:
        return False
    pairs = zip(argv, argv[1:] + [""])
    return "--format=nagios" in argv or any(a == "--format" and b == "nagios" for a, b in pairs)


def main(argv=None, env=None):
    """Run xe-dr; returns the exit status (the console script passes it to sys.exit)."""
    env = env or Environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    if _asks_nagios(argv):
        return _main_nagios(argv, env)
    return _main(argv, env)


def _main_nagios(argv, env):
    """``status --format nagios``: whatever goes wrong is ``XE-DR UNKNOWN - <line>`` on
    stdout with exit 3 (the error line also goes to stderr, as always)."""
    from xe_dr.cli.monitoring import nagios_unknown
    failures = []
    code = _main(argv, env, on_failure=failures.append)
    if failures or code not in (0, 1, 2, 3):
        env.stdout.write(nagios_unknown(failures[-1] if failures else
                                        "xe-dr status ended with exit %d" % code) + "\n")
        env.stdout.flush()
        return 3
    return code


def _main(argv, env, on_failure=None):
    output = Output(env)
    _Parser.stdout = env.stdout
    try:
        if argv[:1] == ["lab"]:
            # The lab has a command line of its own (--help included); hand it over whole.
            return int(importlib.import_module("xe_dr.cli.commands.lab").run_raw(argv[1:]))
        args = build_parser().parse_args(argv)
        output = Output(env, json_mode=args.json, verbosity=-1 if args.quiet else args.verbose)
        if not getattr(args, "handler", None):
            raise UsageError("no command given", hint="see 'xe-dr --help'")
        with Context(args, env, output, argv) as ctx:
            return int(args.handler(ctx))
    except SystemExit as stop:  # --help and --version
        return stop.code if isinstance(stop.code, int) else 0
    except XeDrError as failure:
        for line in failure.details():
            output.debug(line)  # -v: which step, which command
        return _failed(output, on_failure, failure.one_line(), failure.exit_code)
    except KeyboardInterrupt:
        return _failed(output, on_failure,
                       "interrupted; a journaled run can be resumed with --resume RUN",
                       ExitCode.TEMPORARY)
    except BrokenPipeError:
        return int(ExitCode.FAILED)
    except Exception as bug:  # a defect: say so plainly, with the traceback only on request
        code = _failed(output, on_failure, "internal error: %s: %s (run with -v for the "
                       "traceback, and please report it)" % (type(bug).__name__, bug),
                       ExitCode.FAILED)
        if output.verbosity > 0:
            env.stderr.write(traceback.format_exc())
        return code


def _failed(output, on_failure, line, code):
    output.error(line)
    if on_failure is not None:
        on_failure(line)
    return int(code)
