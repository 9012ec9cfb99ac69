"""The parts of a runbook made from a recovery plan (``xe-dr runbook --plan FILE``).

The script does what ``xe-dr failover --plan FILE`` does (xe_dr/dr/failover/plan_phase.py):
the run's before hook ahead of the storage; after the recovery, the plan's groups one after
another, each started at once, then its gate, its after hook and its prompt; the run's after
hook at the end. Which vApps and VMs start in which group comes from the plan-as-data's start
steps (each names its group); the gates, hooks and prompts from the plan's text, which the
options carry. A test starts its groups paused and runs none of their gates, hooks and prompts,
as the test failover does.

In bash, as xe-dr does it:

- a hook or a gate's check command is the plan's shell line run with ``/bin/sh -c``, here on
  dom0, cut short by ``timeout``, with the facts xe-dr gives them in its environment
  (``XE_DR_RUN`` is the runbook's id, ``XE_DR_PLAN`` the plan's path where the runbook was
  made); a hook that fails stops the script;
- the guest-agent gate is xe_dr/dr/verify.py's check with plain xe: each VM running, PV drivers
  detected, its guest metrics last updated at or after its ``start-time`` (both the pool's
  clock; xapi clears a VM's metrics at its start), one ``vm-list`` every few seconds;
- a prompt is asked at the terminal (``/dev/tty``: the script's own output may go to a pipe,
  and its standard input may be the script itself, ``bash -s < FILE``); without a terminal it
  stops the script, named, unless ``ANSWER_PROMPTS=1`` (the default when the runbook was made
  with ``--answer-prompts``), which answers yes, as ``--answer-prompts`` does, to the prompts
  and to a gate's ``on-timeout = ask``.
"""

import hashlib
import ipaddress
import math

from xe_dr.dr.failover.options import MOST_STARTS_AT_ONCE
from xe_dr.dr.failover.plan_phase import POLL
from xe_dr.marks import step_parts
from xe_dr.dr.plan_addresses import VM_ADDRESS_KEYS, dr_address
from xe_dr.report.shell import checked_uuid, clean, comment, q, qn

PLAN_FUNCTIONS = r'''
DEFAULT_ANSWER_PROMPTS=%(answer)d
ANSWER_PROMPTS=${ANSWER_PROMPTS:-$DEFAULT_ANSWER_PROMPTS}   # 1: the plan's prompts answered yes
POOL_NAME=%(pool_name)s
PLAN_FILE=%(plan)s
# NAME<tab>DEVICE<tab>ADDRESS: the address each VIF of the plan's VMs is to have here (its
# re-addressed one, else the one the plan recorded)
ADDRESSES=%(addresses)s
GROUP=""          # the plan's group under way, and its VMs (group_vms)
GROUP_VMS=""
GROUP_UUIDS=""
OUTPUT=""        # the output of the last hook or check command (plan_output)

# plan_line SECONDS COMMAND: a shell line of the plan run with /bin/sh -c, cut short after
# SECONDS (exit status 124), with the facts xe-dr gives it: XE_DR_RUN, XE_DR_MODE,
# XE_DR_POOL, XE_DR_POOL_UUID, XE_DR_PLAN, and in a group XE_DR_GROUP, XE_DR_VMS,
# XE_DR_VM_UUIDS (one per line) and XE_DR_VM_ADDRESSES; its standard input is /dev/null
plan_line() {
    local seconds=$1 command=$2
    shift 2
    [ -z "$GROUP" ] ||
        set -- XE_DR_GROUP="$GROUP" XE_DR_VMS="$GROUP_VMS" XE_DR_VM_UUIDS="$GROUP_UUIDS" \
            XE_DR_VM_ADDRESSES="$(group_addresses)"
    env XE_DR_RUN="$RUN_ID" XE_DR_MODE="$RUN_KIND" XE_DR_POOL="$POOL_NAME" \
        XE_DR_POOL_UUID="$TARGET_POOL" XE_DR_PLAN="$PLAN_FILE" "$@" \
        timeout -k 10 "$seconds" /bin/sh -c "$command" </dev/null
}

# plan_output SECONDS COMMAND: plan_line, its output (stdout and stderr) in OUTPUT, through a
# file: a daemon the line starts in the background keeps its stdout open, and a pipe read to
# its end would wait for the daemon
plan_output() {
    local file code=0
    file=$(mktemp)
    plan_line "$1" "$2" >"$file" 2>&1 || code=$?
    OUTPUT=$(cat "$file")
    rm -f "$file"
    return "$code"
}

# hook WHAT SECONDS COMMAND: a hook of the plan, its output with this log; a hook that fails
# stops the script (run it again once fixed: the hooks run again, so they must be idempotent)
hook() {
    local code=0
    log "$1: running"
    plan_output "$2" "$3" || code=$?
    # its output, in this script's log, each line under the hook's name (given to awk by the
    # environment: a name is no program's text)
    [ -z "$OUTPUT" ] || printf '%%s\n' "$OUTPUT" |
        PREFIX="    $1 | " awk '{ print ENVIRON["PREFIX"] $0 }' >&2
    case $code in
        0) log "$1: done" ;;
        124) fail "$1 failed (timed out after $2s): fix it, then run this script again" ;;
        *) fail "$1 failed (exit $code): fix it, then run this script again" ;;
    esac
}

# ask WHAT MESSAGE: a person confirms MESSAGE at the terminal; ANSWER_PROMPTS=1 answers yes.
# Without a terminal, or not confirmed, the script stops here (run it again to go on).
ask() {
    local answer=""
    if [ "$ANSWER_PROMPTS" = 1 ]; then
        log "$1: $2: answered yes (ANSWER_PROMPTS=1)"
        return 0
    fi
    if ! ( : </dev/tty ) 2>/dev/null; then
        fail "$1 waits for a person: $2 (there is no terminal to ask on: run this script" \
            "at a terminal, or with ANSWER_PROMPTS=1)"
    fi
    printf '%%s: %%s [yes/no] ' "$1" "$2" >/dev/tty
    IFS= read -r answer </dev/tty || answer=""
    case ${answer,,} in
        y|yes) log "$1: $2: confirmed" ;;
        *) fail "$1: not confirmed: $2" ;;
    esac
}

# group_vms KIND:UUID...: the VMs the group's vApps and VMs brought back, by name, for its
# hooks and gate: GROUP_VMS (their names) and GROUP_UUIDS, one per line
group_vms() {
    local member uuid vm vms="" pairs=""
    for member in "$@"; do
        uuid=${member#*:}
        if [ "${member%%%%:*}" = vm ]; then
            case $STANDALONE in *" $uuid "*) vms="$vms $uuid" ;; esac
        else
            case $RECOVERED_APPS in *" $uuid "*)
                vms="$vms $(list vm-list appliance="$uuid" params=uuid)" ;;
            esac
        fi
    done
    for vm in $vms; do
        pairs="$pairs$("$XE" vm-param-get uuid="$vm" param-name=name-label)"$'\t'"$vm"$'\n'
    done
    pairs=$(printf '%%s' "$pairs" | LC_ALL=C sort)
    GROUP_VMS=$(printf '%%s\n' "$pairs" | cut -f1)
    GROUP_UUIDS=$(printf '%%s\n' "$pairs" | cut -f2)
}

# group_addresses: the lines of ADDRESSES of the group's VMs (GROUP_VMS)
group_addresses() {
    [ -n "$ADDRESSES" ] || return 0
    printf '%%s\n' "$ADDRESSES" |
        awk -F'\t' -v vms="$GROUP_VMS" 'BEGIN { n = split(vms, v, "\n")
            for (i = 1; i <= n; i++) want[v[i]] = 1 } ($1 in want)'
}

# readdress NAME DEVICE ADDRESS/PREFIX GATEWAY [NETMASK]: VIF DEVICE of the recovered VM NAME
# gets the address (IPv4 with its NETMASK, or IPv6) at its next start, as xe-dr's run gives
# it: by vif-configure-ipv4 (IPv6: vif-configure-ipv6) when the guest's tools advertise it
# (its metrics, production's until the start, say feature-static-ip-setting: 1), else by the
# xenstore keys Ansible's xenserver_guest writes (vm-data/networks/DEVICE/type, ip, prefix,
# netmask, gateway; IPv6: type6, ip6, prefix6, gateway6) for a boot script in the guest.
# Neither sets DNS.
readdress() {
    local vm="" candidate vif other ip=${3%%%%/*} prefix=${3##*/} key version=4
    case $3 in *:*) version=6 ;; esac
    for candidate in $RECOVERED; do
        if [ "$("$XE" vm-param-get uuid="$candidate" param-name=name-label)" = "$1" ]; then
            if [ -n "$vm" ]; then  # (the plan gives addresses by name: not one to both)
                skip "VM name $1 is held by more than one recovered VM: none is given $3"
                return 0
            fi
            vm=$candidate
        fi
    done
    [ -n "$vm" ] || return 0
    vif=$(list vif-list vm-uuid="$vm" device="$2" params=uuid)
    if [ -z "$vif" ]; then
        skip "VM $1 has no VIF $2: not given $3"
        return 0
    fi
    other=$("$XE" vm-param-get uuid="$vm" param-name=other 2>/dev/null) || other=""
    case "; $other;" in
        *"; feature-static-ip-setting: 1;"*)
            "$XE" "vif-configure-ipv$version" uuid="$vif" mode=static address="$3" \
                ${4:+gateway="$4"}
            log "VM $1 VIF $2: $3 (vif-configure-ipv$version)" ;;
        *)
            key=xenstore-data:vm-data/networks/$2
            if [ "$version" = 6 ]; then
                "$XE" vm-param-set uuid="$vm" "$key/type6=static" "$key/ip6=$ip" \
                    "$key/prefix6=$prefix" ${4:+"$key/gateway6=$4"}
            else
                "$XE" vm-param-set uuid="$vm" "$key/type=static" "$key/ip=$ip" \
                    "$key/prefix=$prefix" "$key/netmask=$5" ${4:+"$key/gateway=$4"}
            fi
            log "VM $1 VIF $2: $3 (xenstore vm-data/networks: a boot script in the guest" \
                "applies it)" ;;
    esac
}

# pause DEADLINE: wait %(poll)d seconds, or until DEADLINE (epoch seconds) if that is sooner
pause() {
    local left=$(( $1 - $(date +%%s) ))
    [ "$left" -le %(poll)d ] || left=%(poll)d
    [ "$left" -le 0 ] || sleep "$left"
}

# timed_out GROUP SECONDS ON-TIMEOUT WHY: what the plan says a gate that timed out does
timed_out() {
    local said="group $1's gate timed out after $2s: $4"
    case $3 in
        continue) log "$said; the plan says: continue" ;;
        ask) ask "group $1's gate" "it timed out after $2s: $4: go on with the next group?" ;;
        *) fail "$said (fix it, then run this script again: the gate is waited for again)" ;;
    esac
}

# not_up SINCE UUID...: those of the VMs given that are not running with their guest agent
# reported since this start, as xe-dr's gate decides it (xe_dr/dr/verify.py): power state
# running, PV drivers detected, guest metrics last updated at or after the VM's start-time
# (xapi clears a VM's metrics at its start, so older ones are production's). Both dates are
# the pool's (UTC, 20240115T10:20:30Z), compared as text; SINCE stands in for a start-time
# the pool does not give.
not_up() {
    local since=$1
    shift
    "$XE" vm-list \
        params=uuid,power-state,start-time,PV-drivers-detected,guest-metrics-last-updated |
        awk -v since="$since" -v wanted=" $* " '
            function date(text) {
                sub(/Z$/, "", text)
                if (text !~ /^[0-9]+T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]$/) return ""
                return text ~ /^19700101T/ ? "" : text
            }
            BEGIN { RS = ""; FS = "\n" }
            {
                split("", field)
                for (i = 1; i <= NF; i++) { n = split($i, word, " "); field[word[1]] = word[n] }
                uuid = field["uuid"]
                if (uuid == "" || index(wanted, " " uuid " ") == 0) next
                seen[uuid] = 1
                start = date(field["start-time"])
                if (start == "") start = since
                updated = date(field["guest-metrics-last-updated"])
                if (field["power-state"] != "running" || field["PV-drivers-detected"] != "true" ||
                    updated == "" || updated < start) print uuid
            }
            END {
                n = split(wanted, all, " ")
                for (i = 1; i <= n; i++) if (!(all[i] in seen)) print all[i]
            }'
}

# gate_guest_agent GROUP SECONDS ON-TIMEOUT SINCE: wait until every VM of the group
# (GROUP_UUIDS) runs with its guest agent reported since its start
gate_guest_agent() {
    local deadline late vm name names=""
    deadline=$(( $(date +%%s) + $2 ))
    while :; do
        # shellcheck disable=SC2086
        late=$(not_up "$4" $GROUP_UUIDS)
        if [ -z "$late" ]; then
            log "group $1's gate: every guest agent of the group is up"
            return 0
        fi
        [ "$(date +%%s)" -lt "$deadline" ] || break
        pause "$deadline"
    done
    for vm in $late; do
        name=$(list vm-list uuid="$vm" params=name-label)
        names="${names:+$names, }${name:-$vm}"
    done
    timed_out "$1" "$2" "$3" "the guest agent of $names did not report"
}

# gate_command GROUP SECONDS ON-TIMEOUT COMMAND: run COMMAND until it succeeds, every %(poll)d
# seconds, for up to SECONDS
gate_command() {
    local deadline left code output
    deadline=$(( $(date +%%s) + $2 ))
    while :; do
        left=$(( deadline - $(date +%%s) ))
        [ "$left" -ge 1 ] || left=1
        code=0
        plan_output "$left" "$4" || code=$?
        if [ "$code" -eq 0 ]; then
            log "group $1's gate: $4 succeeded"
            return 0
        fi
        [ "$(date +%%s)" -lt "$deadline" ] || break
        pause "$deadline"
    done
    output=$(printf '%%s\n' "$OUTPUT" | sed '/^[[:space:]]*$/d' | tail -n 1)
    timed_out "$1" "$2" "$3" "$4 did not succeed (exit $code: ${output:-no output})"
}
'''


def seconds(value):
    """Whole seconds for bash (a plan's durations may have a fraction), at least 1."""
    return max(1, int(math.ceil(float(value or 0))))


def vif_addresses(recovery_plan):
    """[(VM name, VIF device, its address at the DR site, the re-addressing that gives it or
    None)] of the plan's VMs, each VIF's IPv4 then IPv6, as the run's
    (xe_dr/dr/failover/plan_phase.py) are."""
    found = []
    for name in sorted(recovery_plan["vms"]):
        vm = recovery_plan["vms"][name]
        pairs = dict(((device, version), (vm.get(source_key) or {}).get(device))
                     for version, (source_key, dr_key) in sorted(VM_ADDRESS_KEYS.items())
                     for device in set(vm.get(source_key) or {}) | set(vm.get(dr_key) or {}))
        for (device, version), recorded in sorted(
                pairs.items(), key=lambda pair: (len(pair[0][0]), pair[0])):
            target = dr_address(recovery_plan, name, device, recorded, version)
            found.append((name, device, target["address"].split("/")[0] if target
                          else recorded, target))
    return found


def functions(options, info, recovery_plan):
    """The settings and functions a runbook by a plan adds to the script's prelude."""
    addresses = "\n".join("%s\t%s\t%s" % (clean(name), device, address)
                          for name, device, address, _ in vif_addresses(recovery_plan))
    return PLAN_FUNCTIONS % {
        "answer": 1 if info.get("answer_prompts") else 0, "poll": int(POLL),
        "pool_name": q(info.get("pool_name") or ""), "plan": q(options.get("plan_path") or ""),
        "addresses": q(addresses)}


def readdress(recovery_plan):
    """The lines giving the plan's DR addresses to the recovered VMs' VIFs, before the
    starts (as the run does, while the VMs are halted)."""
    out = []
    for name, device, _, target in vif_addresses(recovery_plan):
        if target is None:
            continue
        interface = ipaddress.ip_interface(target["address"])
        out.append("readdress %s %s %s %s%s" % (
            q(name), q(device), q(str(interface.with_prefixlen)), q(target["gateway"] or ""),
            " " + q(str(interface.netmask)) if interface.version == 4 else ""))
    if out:
        out.insert(0, "# the plan's re-addressing, while the VMs are halted")
    return out


def header(recovery_plan, options, info):
    """Comment lines for the script's head: the plan it follows, and how its prompts are
    answered."""
    running = (options.get("power") or "start") == "start"
    lines = [
        "#",
        "# Made from the recovery plan %s (%s," % (
            comment(recovery_plan.get("name") or "(no name)"), comment(options.get("plan_path"))),
        "#   sha256 %s):" % hashlib.sha256(options["plan_text"].encode("utf-8")).hexdigest(),
        "# what it recovers, its storage and its networks are the plan's; the starts follow "
        "its",
        "# %d group(s), one after another, each all at once%s" % (
            len(recovery_plan["groups"]), ", then its gate, after hook and prompt." if running
            else ", paused (a test: the groups'"),
    ]
    if running:
        lines += [
            "# The plan's hooks and check commands run here (/bin/sh -c) with the facts xe-dr "
            "gives",
            "# them (XE_DR_RUN: this runbook's id); a hook that fails stops the script, and "
            "running",
            "# it again runs the hooks again (make them idempotent). A prompt is asked at the "
            "terminal,",
            "# and without one it stops the script, unless ANSWER_PROMPTS=1 (yes to every "
            "prompt, as",
            "# --answer-prompts; made %s it, so the default is %d):" % (
                "with" if info.get("answer_prompts") else "without",
                1 if info.get("answer_prompts") else 0),
            "#   ANSWER_PROMPTS=0 bash THIS-FILE      (asks them)" if info.get("answer_prompts")
            else "#   ANSWER_PROMPTS=1 bash THIS-FILE      (answers them)",
        ]
    else:
        lines += ["# gates, hooks and prompts are not run: a paused guest runs no agent); the "
                  "run's own hooks are."]
    return lines


def run_hook(recovery_plan, which):
    """The lines of the run's ``which`` hook (before: ahead of the storage; after: once every
    group started)."""
    command = recovery_plan["hooks"][which]
    if not command:
        return []
    return ["# the plan's %s hook (the run's): %s" % (which, comment(command)),
            'GROUP=""',
            "hook %s %d %s" % (q("the run's %s hook" % which),
                               seconds(recovery_plan["hooks"]["timeout"]), q(command))]


def starts_by_group(plan):
    """{group name: [(kind, uuid)]} of the plan-as-data's start steps, in their order."""
    found = {}
    for step in plan.get("commands") or ():
        what, kind, uuid = step_parts(step.get("step") or "", 3)
        if what == "start" and kind in ("vm", "appliance") and step.get("group") is not None:
            found.setdefault(step["group"], []).append((kind, uuid))
    return found


def starts(recovery_plan, plan, options, names):
    """The lines of the starts: group by group, as the plan orders them. ``names``: {uuid:
    name} of the items."""
    running = (options.get("power") or "start") == "start"
    members_of = starts_by_group(plan)
    out = []
    total = len(recovery_plan["groups"])
    for number, group in enumerate(recovery_plan["groups"], 1):
        name = group["name"]
        members = [(kind, checked_uuid(u, "%s uuid" % kind)) for kind, u in members_of.get(name, ())]
        gate = group["gate"]
        out.append("")
        out.append("# group %s (%d of %d): %s" % (comment(name), number, total, ", ".join(
            "%s %s" % ("vApp" if kind == "appliance" else "VM", comment(names.get(u)))
            for kind, u in members) or "nothing recovered here"))
        out.append("GROUP=%s" % q(name))
        needs_vms = running and (group["before"] or group["after"] or
                                 gate["kind"] in ("guest-agent", "command"))
        if needs_vms:
            out.append("group_vms %s" % " ".join(q("%s:%s" % m) for m in members))
        if running and group["before"]:
            out.append("# its before hook: %s" % comment(group["before"]))
            out.append("hook %s %d %s" % (q("group %s's before hook" % name),
                                          seconds(group["hook_timeout"]), q(group["before"])))
        if running and gate["kind"] == "guest-agent" and members:
            out.append("SINCE=$(date -u +%Y%m%dT%H:%M:%S)   # stands in for a start-time "
                       "the pool does not give")
        if members:
            out.append('log %s' % qn("group %s: starting %d vApp(s) and VM(s)%s" % (
                name, len(members), "" if running else ", paused")))
            for first in range(0, len(members), MOST_STARTS_AT_ONCE):
                out.append('JOBS=""')
                for kind, u in members[first:first + MOST_STARTS_AT_ONCE]:
                    out.append("start %s %s %s &" % (kind, q(u), qn(names.get(u))))
                    out.append('JOBS="$JOBS $!"')
                out.append("# shellcheck disable=SC2086")
                out.append("wait_jobs $JOBS")
        if not running:
            continue
        limit, on_timeout = seconds(gate["timeout"]), q(gate["on_timeout"])
        if gate["kind"] == "guest-agent" and not members:
            out.append("# its gate: the guest agents of its VMs, and none is recovered here")
        elif gate["kind"] == "guest-agent":
            out.append("# its gate: every guest agent of the group up, for up to %ds (on "
                       "timeout: %s)" % (limit, comment(gate["on_timeout"])))
            out.append('gate_guest_agent %s %d %s "$SINCE"' % (q(name), limit, on_timeout))
        elif gate["kind"] == "command":
            out.append("# its gate: %s succeeding, for up to %ds (on timeout: %s)" % (
                comment(gate["command"]), limit, comment(gate["on_timeout"])))
            out.append("gate_command %s %d %s %s" % (q(name), limit, on_timeout,
                                                      q(gate["command"])))
        elif gate["kind"] == "delay":
            out.append("# its gate: a delay")
            out.append("log %s" % qn("group %s's gate: waiting %ds" % (
                name, seconds(gate["seconds"]))))
            out.append("sleep %d" % seconds(gate["seconds"]))
        if group["after"]:
            out.append("# its after hook: %s" % comment(group["after"]))
            out.append("hook %s %d %s" % (q("group %s's after hook" % name),
                                          seconds(group["hook_timeout"]), q(group["after"])))
        if group["prompt"]:
            out.append("ask %s %s" % (q("group %s's prompt" % name), qn(group["prompt"])))
    out.append('GROUP=""')
    return out
