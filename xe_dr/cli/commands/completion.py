"""``xe-dr completion``: the bash completion script, built from the live parser.

The word lists (commands, options, which options take a value, choices) come from
``build_parser()``, so a new option completes without anyone editing the script. The
committed copy in ``scripts/xe-dr-completion.bash`` is this command's output (a test keeps
them equal). Values that only the pool knows (VM, vApp and SR names) and run ids are asked
of xe-dr itself, with the target options of the command line being completed, a short
timeout, and nothing at all on failure.
"""

import argparse

from xe_dr.exitcodes import ExitCode

NAME = "completion"
HELP = ("print the bash completion script for xe-dr (install it with: "
        "xe-dr completion > /etc/bash_completion.d/xe-dr)")
EXAMPLES = (
    "xe-dr completion > /etc/bash_completion.d/xe-dr",
    "xe-dr completion --json",
)

# How the value of an option completes, beyond what the parser says (choices, FILE, DIR).
#   vm, vapp, vm-or-vapp: names from 'xe-dr --json inventory' (what can be recovered here);
#   sr: SR UUIDs on the LUNs the command line names, from 'xe-dr --json probe';
#   run: run ids from 'xe-dr --json runs' (local, no pool needed).
VALUE_KINDS = {"--vm": "vm", "--vapp": "vapp", "--exclude": "vm-or-vapp", "--sr": "sr",
               "--resume": "run"}
POSITIONAL_KINDS = {("cleanup", "run_id"): "run", ("report", "run_id"): "run"}
FILE_METAVARS = ("FILE", "PATH")
DIR_METAVARS = ("DIR",)

# Options copied from the command line into those queries (never --accept-new-host-key:
# pressing TAB must not record a host key, nor -y, nor anything that changes the pool).
TARGET_OPTIONS = ("-H", "--host", "--ssh", "-i", "--identity", "--known-hosts",
                  "--ssh-config", "--xe", "--plugin", "--no-plugin", "--state-dir")


def _storage_options():
    """The storage options (probe, failover, failback), passed on to a probe for --sr."""
    from xe_dr.cli.storage_options import add_storage_arguments
    parser = argparse.ArgumentParser(add_help=False)
    add_storage_arguments(parser)
    return tuple(o for a in parser._actions for o in a.option_strings)


def add_arguments(parser):
    pass


def run(ctx):
    from xe_dr.cli import build_parser
    parser = build_parser()
    ctx.output.data(word_lists(parser), bash_script(parser))
    return ExitCode.OK


# -- reading the parser -------------------------------------------------------------------------

def _subcommands(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices.items())
    return []


def _options(parser):
    return [a for a in parser._actions if a.option_strings]


def _positionals(parser):
    """Positional arguments, a sub-command choice included (it is the first word)."""
    return [a for a in parser._actions if not a.option_strings]


def _value_kind(command, action):
    """How the value of an option (or a positional) completes: '' for a flag, else a kind."""
    if action.option_strings and action.nargs == 0:
        return ""
    if action.choices:
        return "words " + " ".join(str(c) for c in action.choices)
    if action.nargs == argparse.REMAINDER:
        return "rest"
    for option in action.option_strings:
        if option in VALUE_KINDS:
            return VALUE_KINDS[option]
    if (command.split("/")[0], action.dest) in POSITIONAL_KINDS:
        return POSITIONAL_KINDS[(command.split("/")[0], action.dest)]
    if action.metavar in FILE_METAVARS:
        return "file"
    if action.metavar in DIR_METAVARS:
        return "dir"
    return "none"


def _describe(name, parser):
    """One command (``replication/enable`` for a sub-command) and its own sub-commands."""
    options = {}
    for action in _options(parser):
        for option in action.option_strings:
            options[option] = _value_kind(name, action)
    positionals = [{"name": action.metavar or action.dest, "kind": _value_kind(name, action),
                    "repeat": action.nargs in ("*", "+")} for action in _positionals(parser)]
    return {"name": name, "options": options, "positionals": positionals,
            "commands": [_describe("%s/%s" % (name, sub_name), sub)
                         for sub_name, sub in _subcommands(parser)]}


def _flatten(commands):
    for command in commands:
        yield command
        for inner in _flatten(command["commands"]):
            yield inner


def word_lists(parser):
    """What the completion knows, as data (the --json output of this command). A
    sub-command is named with its command: ``replication/enable``."""
    globals_ = {}
    for action in _options(parser):
        for option in action.option_strings:
            globals_[option] = _value_kind("", action)
    return {"global_options": globals_,
            "commands": [_describe(name, sub) for name, sub in _subcommands(parser)],
            "target_options": list(TARGET_OPTIONS), "storage_options": list(_storage_options())}


# -- writing the script -------------------------------------------------------------------------

def _case_arms(pairs, indent="        "):
    """``pattern) echo 'value';;`` lines, one per distinct value, patterns joined with |."""
    by_value = {}
    order = []
    for pattern, value in pairs:
        if value not in by_value:
            by_value[value] = []
            order.append(value)
        if pattern not in by_value[value]:
            by_value[value].append(pattern)
    lines = []
    for value in order:
        lines.append("%s%s) echo %s ;;" % (indent, "|".join(by_value[value]), _sq(value)))
    return lines


def _sq(text):
    return "'%s'" % text.replace("'", "'\\''") if text else "''"


def bash_script(parser):
    data = word_lists(parser)
    commands = [c["name"] for c in data["commands"]]
    globals_ = data["global_options"]
    option_pairs, specific_pairs, positional_lines, sub_pairs = [], [], [], []
    for command in _flatten(data["commands"]):
        name = command["name"]
        if command["commands"]:
            sub_pairs.append((name, " ".join(c["name"].rsplit("/", 1)[1]
                                             for c in command["commands"])))
        option_pairs.append((name, " ".join(sorted(command["options"]))))
        for option, kind in sorted(command["options"].items()):
            # a flag needs an arm only where it would otherwise match a global's arm
            if (kind or option in globals_) and globals_.get(option) != kind:
                specific_pairs.append(("%s:%s" % (name, option), kind))
        if command["positionals"]:
            kinds = " ".join(_sq(p["kind"]) for p in command["positionals"])
            repeat = "1" if command["positionals"][-1]["repeat"] else ""
            positional_lines.append("        %s) kinds=(%s); repeat=%s ;;" % (
                name, kinds, repeat))
    global_pairs = [("*:%s" % option, kind) for option, kind in sorted(globals_.items()) if kind]
    lists = SCRIPT_LISTS % {
        "commands": _sq(" ".join(commands)),
        "globals": _sq(" ".join(sorted(globals_))),
        "target": _sq(" ".join(TARGET_OPTIONS)),
        "storage": _sq(" ".join(data["storage_options"])),
        "option_arms": "\n".join(_case_arms(option_pairs)),
        "kind_arms": "\n".join(_case_arms(specific_pairs) + _case_arms(global_pairs)),
        "positional_arms": "\n".join(positional_lines),
        "subcommand_arms": "\n".join(_case_arms(sub_pairs)),
    }
    return SCRIPT_HEAD + lists + SCRIPT_BODY


SCRIPT_HEAD = r"""# bash completion for xe-dr                                  -*- shell-script -*-
#
# Generated by 'xe-dr completion' from xe-dr's own parser: do not edit, regenerate.
# Install:  xe-dr completion > /etc/bash_completion.d/xe-dr   (or source it from ~/.bashrc)
#
# Commands, options and fixed choices complete from the lists below. VM and vApp names
# (--vm, --vapp, --exclude) are asked of the pool with 'xe-dr --json inventory', SR UUIDs
# (--sr) with 'xe-dr --json probe' on the LUNs named by the command line, run ids (--resume,
# cleanup RUN) with 'xe-dr --json runs'; each query uses the target options of the command
# line (-H, --xe, ...), gives up after XE_DR_COMPLETION_TIMEOUT seconds (default 5) and
# completes nothing when it fails.
"""

# The word lists and lookups, filled in from the parser.
SCRIPT_LISTS = r"""
_xe_dr_commands=%(commands)s
_xe_dr_global_options=%(globals)s
_xe_dr_target_options=%(target)s
_xe_dr_storage_options=%(storage)s

# The options of command $1 (global options included: they are accepted after it).
_xe_dr_options() {
    case $1 in
%(option_arms)s
    esac
}

# How the value of option $2 of command $1 ("" before the command) completes:
# '' for a flag or an unknown option, else none, file, dir, words W..., vm, vapp,
# vm-or-vapp, sr or run.
_xe_dr_kind() {
    case $1:$2 in
%(kind_arms)s
        *) echo '' ;;
    esac
}

# The sub-commands of command $1 (replication enable|disable): "replication/enable" is a
# command of its own for the lookups here.
_xe_dr_subcommands() {
    case $1 in
%(subcommand_arms)s
    esac
}

# How positional argument $2 (counted from 0) of command $1 completes; 'rest' means
# that everything after it belongs to another command line.
_xe_dr_positional() {
    local -a kinds=()
    local repeat=
    case $1 in
%(positional_arms)s
    esac
    if (( $2 < ${#kinds[@]} )); then
        echo "${kinds[$2]}"
    elif [[ -n $repeat ]]; then
        echo "${kinds[${#kinds[@]}-1]}"
    else
        echo none
    fi
}
"""

SCRIPT_BODY = r'''
# Removes simple shell quoting from a word of the command line, without evaluating it.
_xe_dr_dequote() {
    local word=$1
    case $word in
        \'*\') word=${word#\'}; word=${word%\'} ;;
        \"*\") word=${word#\"}; word=${word%\"} ;;
        \'*) word=${word#\'} ;;
        \"*) word=${word#\"} ;;
        *) word=${word//\\/} ;;
    esac
    case $word in
        \~/*) word=$HOME/${word#\~/} ;;
    esac
    printf '%s' "$word"
}

# Names from one of xe-dr's JSON documents on stdin, one a line: $1 is the kind.
_xe_dr_json_names='
import json, sys
kind = sys.argv[1]
try:
    doc = json.load(sys.stdin)
except Exception:
    sys.exit(0)
names = []
if kind == "run":
    names = [r.get("id") for r in doc.get("runs", [])]
elif kind == "sr":
    for probe in doc.get("probes", []):
        if probe.get("stage") == "srs":
            names += [sr.get("uuid") for sr in probe.get("items", [])]
else:
    for source in doc.get("sources", []):
        if kind in ("vm", "vm-or-vapp"):
            names += [vm.get("name_label") for vm in source.get("vms", [])]
        if kind in ("vapp", "vm-or-vapp"):
            names += [a.get("name_label") for a in source.get("appliances", [])]
for name in sorted(set(n for n in names if n and "\n" not in n)):
    print(name)
'

# Asks xe-dr for the values of kind $1, with the target options of the command line.
_xe_dr_query() {
    local kind=$1 prog command i word opt take want
    local limit=${XE_DR_COMPLETION_TIMEOUT:-5}
    local -a args=()
    prog=$(_xe_dr_dequote "${COMP_WORDS[0]}")
    want=" $_xe_dr_target_options "
    [[ $kind == sr ]] && want+="$_xe_dr_storage_options "
    take=
    for (( i = 1; i < ${#_xe_dr_words[@]}; i++ )); do
        [[ $i -eq $_xe_dr_cword ]] && continue
        word=${_xe_dr_words[i]}
        if [[ -n $take ]]; then
            args+=("$take" "$(_xe_dr_dequote "$word")")
            take=
            continue
        fi
        opt=${word%%=*}
        [[ $word == -* && $want == *" $opt "* ]] || continue
        if [[ $word == *=* ]]; then
            args+=("$opt" "$(_xe_dr_dequote "${word#*=}")")
        elif [[ -z $(_xe_dr_kind "$_xe_dr_command" "$opt") ]]; then
            args+=("$opt")
        else
            take=$opt
        fi
    done
    case $kind in
        vm|vapp|vm-or-vapp) command=inventory ;;
        run) command=runs ;;
        sr)
            # Only a probe down to the LUN (--scsiid, --hba-scsiid) names SRs.
            [[ " ${args[*]} " == *" --scsiid "* || " ${args[*]} " == *" --hba-scsiid "* ]] \
                || return 0
            command=probe ;;
        *) return 0 ;;
    esac
    local -a runner=()
    type -P timeout >/dev/null 2>&1 && runner=(timeout "$limit")
    type -P python3 >/dev/null 2>&1 || return 0
    "${runner[@]}" "$prog" "$command" --json --no-input -q --timeout "$limit" "${args[@]}" \
        </dev/null 2>/dev/null | python3 -c "$_xe_dr_json_names" "$kind" 2>/dev/null
}

# Sets COMPREPLY to the values in $2 (one a line) that start with $1, quoted for the shell.
_xe_dr_reply_lines() {
    local cur=$1 raw line
    raw=$(_xe_dr_dequote "$cur")
    COMPREPLY=()
    while IFS= read -r line; do
        [[ -n $line && $line == "$raw"* ]] || continue
        if [[ $cur == [\'\"]* ]]; then
            COMPREPLY+=("$line")
        else
            COMPREPLY+=("$(printf '%q' "$line")")
        fi
    done <<< "$2"
}

# Completes the value of an option or positional of kind $1, the word so far being $2.
_xe_dr_complete_value() {
    local kind=$1 cur=$2
    case $kind in
        words\ *) COMPREPLY=($(compgen -W "${kind#words }" -- "$cur")) ;;
        file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")) ;;
        dir) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")) ;;
        vm|vapp|vm-or-vapp|sr|run) _xe_dr_reply_lines "$cur" "$(_xe_dr_query "$kind")" ;;
        *) COMPREPLY=() ;;
    esac
}

_xe_dr() {
    local i word cur kind opt
    local -a _xe_dr_words
    local _xe_dr_cword _xe_dr_command
    COMPREPLY=()
    # Join "--opt" "=" "value": bash splits words at '=' (COMP_WORDBREAKS).
    _xe_dr_cword=0
    local glue=
    local last
    for (( i = 0; i < ${#COMP_WORDS[@]}; i++ )); do
        word=${COMP_WORDS[i]}
        last=
        [[ ${#_xe_dr_words[@]} -gt 0 ]] && last=${_xe_dr_words[${#_xe_dr_words[@]}-1]}
        if [[ $word == = && $last == --* && $last != *=* ]]; then
            _xe_dr_words[${#_xe_dr_words[@]}-1]+="="
            glue=1
        elif [[ -n $glue ]]; then
            _xe_dr_words[${#_xe_dr_words[@]}-1]+=$word
            glue=
        else
            _xe_dr_words+=("$word")
        fi
        [[ $i -eq $COMP_CWORD ]] && _xe_dr_cword=$(( ${#_xe_dr_words[@]} - 1 ))
    done
    cur=${_xe_dr_words[_xe_dr_cword]}

    # The command, and the positional arguments before the word being completed.
    _xe_dr_command=
    local npos=0 skip= rest=
    for (( i = 1; i < _xe_dr_cword; i++ )); do
        word=${_xe_dr_words[i]}
        if [[ -n $skip ]]; then skip=; continue; fi
        if [[ $word == -?* && -z $rest ]]; then
            [[ $word == *=* ]] && continue
            kind=$(_xe_dr_kind "$_xe_dr_command" "$word")
            [[ -n $kind ]] && skip=1
            continue
        fi
        if [[ -z $_xe_dr_command ]]; then
            [[ " $_xe_dr_commands " == *" $word "* ]] && _xe_dr_command=$word
            continue
        fi
        if [[ $npos -eq 0 && " $(_xe_dr_subcommands "$_xe_dr_command") " == *" $word "* ]]
        then
            _xe_dr_command+=/$word
            continue
        fi
        kind=$(_xe_dr_positional "$_xe_dr_command" "$npos")
        [[ $kind == rest ]] && rest=1
        (( npos++ ))
    done
    [[ -n $rest ]] && return 0    # the lab's own command line: not ours to complete

    # The value of an option: "--opt VALUE" or "--opt=VALUE".
    if [[ -n $skip ]]; then
        opt=${_xe_dr_words[_xe_dr_cword-1]}
        _xe_dr_complete_value "$(_xe_dr_kind "$_xe_dr_command" "$opt")" "$cur"
        return 0
    fi
    if [[ $cur == --*=* ]]; then
        opt=${cur%%=*}
        cur=${cur#*=}
        _xe_dr_complete_value "$(_xe_dr_kind "$_xe_dr_command" "$opt")" "$cur"
        # Without '=' in COMP_WORDBREAKS the word to replace starts at the option.
        if [[ $COMP_WORDBREAKS != *=* ]]; then
            for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]="$opt=${COMPREPLY[i]}"; done
        fi
        return 0
    fi

    if [[ $cur == -* ]]; then
        if [[ -z $_xe_dr_command ]]; then
            COMPREPLY=($(compgen -W "$_xe_dr_global_options" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_xe_dr_options "$_xe_dr_command")" -- "$cur"))
        fi
        return 0
    fi
    if [[ -z $_xe_dr_command ]]; then
        COMPREPLY=($(compgen -W "$_xe_dr_commands" -- "$cur"))
        return 0
    fi
    _xe_dr_complete_value "$(_xe_dr_positional "$_xe_dr_command" "$npos")" "$cur"
    return 0
}

complete -F _xe_dr xe-dr xe-dr.pyz
'''
