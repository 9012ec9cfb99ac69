"""A failover plan as a bash script of plain xe commands (``xe-dr runbook``).

The script is for a colleague at the DR site with nothing but dom0 (bash 4.2 and xe): it
does what ``xe-dr failover [--test]`` would do with the same options, in the same order,
with a check after each step, and tags what it creates with ``other-config:xe-dr-run=<id>``
so that ``xe-dr cleanup <id>`` can undo it.

Rules the generated text keeps:

- every value from the plan is passed through :func:`shlex.quote` (names are hostile), and
  in comments control characters are escaped, so a name can neither run code nor end a
  comment line; UUIDs are checked to be UUIDs;
- the CHAP password is never in the script: it is read at run time from the file named by
  ``CHAP_PASSWORD_FILE`` and given to xe in ``XE_EXTRA_ARGS``, as xe-dr does (see
  :func:`xe_dr.xe.argv.xe_extra_args`); it never appears in an argv;
- the metadata VDI of each source pool is looked up when the script runs (``vdi-list
  type=Metadata metadata-latest=true``), never written in: which copy is newest changes;
- ``set -euo pipefail``: a step that every later one needs stops the script (exit 1); a vApp
  or VM that cannot be recovered or started is skipped and named (exit 2 at the end).
"""

import re
import time

from xe_dr.dr.failover import MOST_STARTS_AT_ONCE
from xe_dr.dr.recovery_plan import parse
from xe_dr.report import runbook_plan
from xe_dr.report.shell import checked_uuid as _uuid, comment, q, qn

from xe_dr.marks import RUN_KIND_TAG, RUN_TAG, step_parts

MODE_TEXT = {"failover": "failover", "test": "test failover"}
EXIT_NO_ITEMS = 3


def _label(name, uuid):
    return "%s (%s)" % (comment(name), uuid)


def _excluded_by(checks, uuid):
    return [c for c in checks if c.get("verdict") in ("blocking", "confirm") and
            uuid in (c.get("objects") or ())]


def _attach_steps(plan):
    """{lun: (type, [device-config args], [whitelist])} and [pbd uuids], read from the fields
    of the plan's attach and plug steps (their calls, as the run would make them)."""
    attach, plugs = {}, []
    for step in plan.get("commands") or ():
        kind, arg = step_parts(step.get("step") or "", 2)
        for call in step.get("calls") or ():
            params = call.get("params") or {}
            if kind == "attach" and call.get("xe") == "drtask-create":
                config = ["device-config:%s=%s" % kv for kv in sorted(
                    (params.get("device-config") or {}).items())]
                whitelist = [_uuid(v, "SR uuid") for v in params.get("sr-whitelist") or ()]
                attach[arg] = (params.get("type"), config, whitelist)
            elif kind == "plug" and call.get("xe") == "pbd-plug":
                plugs.append(_uuid(params.get("uuid"), "PBD uuid"))
    return attach, plugs


PRELUDE = r'''
set -euo pipefail
set -o errtrace   # the ERR trap below also fires inside functions
unset XE_EXTRA_ARGS   # set below for drtask-create alone, when CHAP needs it

DEFAULT_XE=%(xe)s
XE=${XE:-$DEFAULT_XE}                    # the xe to use: XE=/path/to/xe bash SCRIPT
RUN_ID=${RUN_ID:-%(run_id)s}   # tagged on what this creates
RUN_KIND=%(run_kind)s   # tagged beside it: a cleanup tells a test's objects by it
TARGET_POOL=%(pool)s
%(chap)s
PARTIAL=0         # 1 when a vApp or VM was skipped: exit status 2 at the end
TASKS=""          # the DR tasks this script created
RECOVERED=" "     # the VMs this script recovered
STANDALONE=" "    # the VMs it recovered by themselves (not with a vApp)
RECOVERED_APPS=" "

log() { printf '%%s %%s\n' "$(date '+%%H:%%M:%%S')" "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
skip() { log "SKIPPED: $*"; PARTIAL=1; }
trap 'log "FAILED: the command on line $LINENO failed; nothing after it ran"' ERR
list() { "$XE" "$@" --minimal | tr ',' ' '; }   # uuids, space-separated

# check_sr SR NAME: the SR is in the pool and attached on every host
check_sr() {
    [ -n "$(list sr-list uuid="$1" params=uuid)" ] || fail "SR $2 ($1) is not in the pool"
    [ -z "$(list pbd-list sr-uuid="$1" currently-attached=false params=uuid)" ] ||
        fail "SR $2 ($1) is not attached on every host"
    log "SR $2 ($1) is attached"
}

# attach TYPE 'SR...' device-config:...: a DR task for the SRs not in the pool yet
attach() {
    local type=$1 srs=$2 wanted="" sr task extra=""
    shift 2
    for sr in $srs; do
        [ -n "$(list sr-list uuid="$sr" params=uuid)" ] || wanted=${wanted:+$wanted,}$sr
    done
    if [ -z "$wanted" ]; then
        log "SR(s) $srs: in the pool already"
        return 0
    fi
    log "drtask-create type=$type sr-whitelist=$wanted"
    if [ "${NEEDS_CHAP:-0}" = 1 ]; then
        extra=$(chap_extra_args)
        task=$(XE_EXTRA_ARGS=$extra "$XE" drtask-create type="$type" "$@" sr-whitelist="$wanted")
    else
        task=$("$XE" drtask-create type="$type" "$@" sr-whitelist="$wanted")
    fi
    TASKS="$TASKS $task"
    for sr in ${wanted//,/ }; do
        "$XE" sr-param-set uuid="$sr" other-config:%(tag)s="$RUN_ID" \
            other-config:%(kind_tag)s="$RUN_KIND"
    done
    log "DR task $task introduced SR(s) $wanted"
}

# make_visible REPLUG SR...: scan each SR, since from xapi 23.22 plugging an SR no longer
# scans it (without VDI records no disk is found and no metadata is read); with REPLUG=1
# plug again an SR whose metadata xapi has not read (members off, master off, master on,
# members on), so that it reads the copies and marks the newest
make_visible() {
    local replug=$1 sr pbd master
    shift
    master=$(list pool-list params=master)
    for sr in "$@"; do
        "$XE" sr-scan uuid="$sr"
        log "SR $sr scanned"
        [ "$replug" = 1 ] || continue
        "$XE" vdi-list sr-uuid="$sr" type=Metadata params=metadata-of-pool --minimal |
            grep -q '<not in database>' || continue
        for pbd in $(list pbd-list sr-uuid="$sr" params=uuid); do
            [ "$("$XE" pbd-param-get uuid="$pbd" param-name=host-uuid)" = "$master" ] ||
                "$XE" pbd-unplug uuid="$pbd"
        done
        pbd=$(list pbd-list sr-uuid="$sr" host-uuid="$master" params=uuid)
        "$XE" pbd-unplug uuid="$pbd"
        "$XE" pbd-plug uuid="$pbd"
        for pbd in $(list pbd-list sr-uuid="$sr" currently-attached=false params=uuid); do
            "$XE" pbd-plug uuid="$pbd"
        done
        log "SR $sr plugged again: xapi has read its metadata"
    done
}

# metadata_vdi POOL: the newest metadata VDI of source pool POOL that this pool can see
metadata_vdi() {
    "$XE" vdi-list type=Metadata metadata-latest=true params=uuid,metadata-of-pool |
        awk -v pool="$1" '$1 == "uuid" { vdi = $NF }
                          $1 == "metadata-of-pool" && $NF == pool { print vdi }' |
        sort | sed -n 1p
}

# recovered KIND UUID VMS: remember what this runbook recovered
recovered() {
    local vm
    if [ "$1" = vm ]; then
        STANDALONE="$STANDALONE$2 "
    else
        RECOVERED_APPS="$RECOVERED_APPS$2 "
    fi
    for vm in $3; do
        RECOVERED="$RECOVERED$vm "
    done
}

# recover KIND UUID VDI NAME: assert, recover, tag its VMs; a failure skips it
recover() {
    local kind=$1 uuid=$2 vdi=$3 name=$4 vm vms force=%(force)s filter=uuid
    case $RECOVERED in *" $uuid "*)
        log "VM $name ($uuid) was recovered with its vApp"
        return 0 ;;
    esac
    [ "$kind" = vm ] || filter=appliance
    vms=$(list vm-list "$filter=$uuid" other-config:%(tag)s="$RUN_ID" params=uuid)
    if [ -n "$vms" ]; then  # a second run of this runbook
        log "$kind $name ($uuid) was recovered by this runbook already"
        recovered "$kind" "$uuid" "$vms"
        return 0
    fi
    if ! "$XE" "$kind-assert-can-be-recovered" uuid="$uuid" database:vdi-uuid="$vdi"; then
        skip "$kind $name ($uuid) cannot be recovered here (xe said why, above)"
        return 0
    fi
    log "recovering $kind $name ($uuid)"
    if ! "$XE" "$kind-recover" uuid="$uuid" database:vdi-uuid="$vdi" ${force:+force=true}; then
        skip "$kind $name ($uuid): $kind-recover failed (xe said why, above)"
        return 0
    fi
    vms=$(list vm-list "$filter=$uuid" params=uuid)
    [ -n "$vms" ] || fail "$kind $name ($uuid) has no VM in the pool after $kind-recover"
    for vm in $vms; do
        "$XE" vm-param-set uuid="$vm" other-config:%(tag)s="$RUN_ID" \
            other-config:%(kind_tag)s="$RUN_KIND"
    done
    recovered "$kind" "$uuid" "$vms"
    log "recovered $kind $name: VM(s) $vms"
}

# ensure_network NAME [MTU]: a network named NAME here, made and tagged if there is none.
# xapi matches a VM's networks by name, then by bridge; a network that matches neither it
# creates with the source's bridge, which it refuses in this session (INVALID_VALUE bridge),
# and the whole recovery fails: so the networks the plan found missing are made first.
ensure_network() {
    local net description="made by xe-dr: no network here had the name of a network"
    if [ -n "$(list network-list name-label="$1" params=uuid)" ]; then
        log "network $1: in the pool already"
        return 0
    fi
    net=$("$XE" network-create name-label="$1" ${2:+MTU="$2"} \
        name-description="$description of the source pool")
    "$XE" network-param-set uuid="$net" other-config:%(tag)s="$RUN_ID" \
        other-config:%(kind_tag)s="$RUN_KIND"
    log "network $1 ($net) created"
}

# drop_networks: remove the networks this runbook tagged that nothing uses (a network made
# for a --map-network name, once its VIFs were moved)
drop_networks() {
    local net
    for net in $(list network-list other-config:%(tag)s="$RUN_ID" params=uuid); do
        [ -z "$(list vif-list network-uuid="$net" params=uuid)" ] || continue
        [ -z "$(list pif-list network-uuid="$net" params=uuid)" ] || continue
        "$XE" network-destroy uuid="$net"
        log "network $net removed: no VIF uses it"
    done
}

# tag_new_networks 'NETWORK...': tag the networks xapi created during recovery
tag_new_networks() {
    local net
    for net in $(list network-list params=uuid); do
        case " $1 " in *" $net "*) continue ;; esac
        "$XE" network-param-set uuid="$net" other-config:%(tag)s="$RUN_ID" \
            other-config:%(kind_tag)s="$RUN_KIND"
        log "network $net was created by the recovery: tagged"
    done
}

# is_up VM...: every VM given is running or paused
is_up() {
    local vm state
    for vm in "$@"; do
        state=$("$XE" vm-param-get uuid="$vm" param-name=power-state)
        case $state in running|paused) ;; *) return 1 ;; esac
    done
}

# start KIND UUID NAME: start a recovered vApp or VM (%(power)s); returns 1 on failure
start() {
    local kind=$1 uuid=$2 name=$3 vms
    if [ "$kind" = vm ]; then
        case $STANDALONE in *" $uuid "*) ;; *) return 0 ;; esac
        vms=$uuid
    else
        case $RECOVERED_APPS in *" $uuid "*) ;; *) return 0 ;; esac
        vms=$(list vm-list appliance="$uuid" params=uuid)
    fi
    # shellcheck disable=SC2086
    if is_up $vms; then
        log "$kind $name ($uuid) is up already"
        return 0
    fi
    log "starting $kind $name ($uuid)"
    if ! "$XE" "$kind-start" uuid="$uuid"%(paused)s; then
        log "SKIPPED: $kind $name ($uuid): $kind-start failed (xe said why, above)"
        return 1
    fi
    # shellcheck disable=SC2086
    if ! is_up $vms; then
        log "SKIPPED: $kind $name ($uuid) is not running after $kind-start"
        return 1
    fi
    log "$kind $name is up"
}

# wait_jobs PID...: wait for started jobs; one that failed makes the exit status 2
wait_jobs() {
    local pid
    for pid in "$@"; do
        wait "$pid" || PARTIAL=1
    done
}
'''

CHAP_FUNCTION = r'''DEFAULT_CHAP_PASSWORD_FILE=%(file)s
CHAP_PASSWORD_FILE=${CHAP_PASSWORD_FILE:-$DEFAULT_CHAP_PASSWORD_FILE}
# chap_extra_args: XE_EXTRA_ARGS carrying the CHAP password, read from its file at run time
# (never in an argv: every local user can read those; xe reads XE_EXTRA_ARGS itself)
chap_extra_args() {
    local password=""
    [ -n "$CHAP_PASSWORD_FILE" ] ||
        fail "set CHAP_PASSWORD_FILE to the file holding the CHAP password"
    IFS= read -r password < "$CHAP_PASSWORD_FILE" || [ -n "$password" ] ||
        fail "cannot read the CHAP password from $CHAP_PASSWORD_FILE"
    password=${password%%$'\r'}
    case $password in
        *\\*) fail "the CHAP password holds a backslash, which xe cannot take from XE_EXTRA_ARGS" ;;
    esac
    [ -n "$password" ] || fail "the CHAP password in $CHAP_PASSWORD_FILE is empty"
    printf 'device-config:chappassword=%%s' "${password//,/\\,}"
}
'''

NETWORK_FUNCTION = r'''
# network_for NAME: the network here that VIFs on source network NAME go to (--map-network)
network_for() {
    local wanted
    case $1 in
%(cases)s
        *) return 1 ;;
    esac
    local found
    found=$(list network-list uuid="$wanted" params=uuid 2>/dev/null || true)
    [ -n "$found" ] || found=$(list network-list name-label="$wanted" params=uuid)
    [ -n "$found" ] || fail "--map-network: no network $wanted in this pool"
    printf '%%s' "${found%%%% *}"
}

# move_vifs VM: put the VM's VIFs on the networks chosen with --map-network (it is halted)
move_vifs() {
    local vm=$1 vif net name target device mac
    for vif in $(list vif-list vm-uuid="$vm" params=uuid); do
        net=$("$XE" vif-param-get uuid="$vif" param-name=network-uuid)
        name=$("$XE" network-param-get uuid="$net" param-name=name-label)
        target=$(network_for "$name") || continue
        [ "$target" != "$net" ] || continue
        device=$("$XE" vif-param-get uuid="$vif" param-name=device)
        mac=$("$XE" vif-param-get uuid="$vif" param-name=MAC)
        "$XE" vif-destroy uuid="$vif"
        "$XE" vif-create vm-uuid="$vm" network-uuid="$target" device="$device" \
            mac="$mac" >/dev/null
        log "VM $vm: VIF $device moved from network $name to $target"
    done
}
'''


def render(plan, options, info):
    """The runbook (a str) for ``plan`` (what ``Failover.plan()`` returns) made with
    ``options`` (``Options.to_json()``); ``info``: ``run_id``, ``xe_path``, ``argv``,
    ``pool_uuid``, ``pool_name``, ``user``, ``client_host``, ``chap_password_file``,
    ``created`` (epoch seconds), ``answer_prompts`` (a run by a recovery plan: its prompts
    answered by default, xe_dr/report/runbook_plan.py)."""
    mode = options.get("mode", "failover")
    power = options.get("power") or "start"
    run_id = info["run_id"]
    checks = [c for c in plan.get("checks") or () if isinstance(c, dict)]
    items = [i for i in plan.get("items") or () if isinstance(i, dict)]
    sources = [s for s in plan.get("sources") or () if isinstance(s, dict)]
    attach, plugs = _attach_steps(plan)
    specs = dict(((s.get("device_config") or {}).get("SCSIid"), s)
                 for s in options.get("storage") or ())
    chap = any(s.get("chap") for s in specs.values())
    network_map = options.get("network_map") or {}
    recovery_plan = parse(options["plan_text"], options.get("plan_path") or "<plan>") \
        if options.get("plan_text") is not None else None
    out = []
    add = out.append
    created = info.get("created") or time.time()

    # -- header -------------------------------------------------------------------------------
    add("#!/usr/bin/env bash")
    add("# xe-dr runbook %s: %s into pool %s (%s)" % (
        run_id, MODE_TEXT.get(mode, mode), comment(info.get("pool_name")),
        comment(info.get("pool_uuid"))))
    add("# Made %s by %s on %s with:" % (
        time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(created)),
        comment(info.get("user")), comment(info.get("client_host"))))
    add("#   %s" % comment(" ".join(q(a) for a in info.get("argv") or ())))
    add("# from the plan that 'xe-dr failover%s --dry-run' shows with the same options." % (
        " --test" if mode == "test" else ""))
    if recovery_plan is not None:
        out.extend(runbook_plan.header(recovery_plan, options, info))
    add("#")
    add("# What it does, in order (each step checked before the next):")
    add("#   1. attaches the mirrored LUNs (drtask-create, one DR task per LUN) and checks "
        "that their SRs are attached;")
    add("#      then scans them, and plugs again those whose metadata xapi has not read;")
    add("#   2. finds the newest metadata VDI of each source pool (looked up when it runs);")
    n_apps = len([i for i in items if i.get("kind") == "appliance"])
    n_vms = len(items) - n_apps
    add("#   3. recovers %d vApp(s) and %d VM(s), each after *-assert-can-be-recovered, and "
        "tags their VMs" % (n_apps, n_vms))
    add("#      other-config:%s=%s;" % (RUN_TAG, run_id))
    if power == "none":
        add("#   4. starts nothing (--power none);")
    elif recovery_plan is not None:
        add("#   4. starts them%s by the recovery plan's groups, one group after another "
            "(vApps with" % (" PAUSED" if power == "paused" else ""))
        add("#      appliance-start, xapi running their own order groups);")
    else:
        add("#   4. starts them%s: vApps with appliance-start (xapi runs their own order "
            "groups), standalone VMs" % (" PAUSED (a test never runs guest code)"
                                         if power == "paused" else ""))
        add("#      by order group, lowest first, each group all at once (up to %d);" %
            MOST_STARTS_AT_ONCE)
    if mode == "test":
        add("#   5. leaves everything in place for the test: undo it with 'xe-dr cleanup %s'."
            % run_id)
    else:
        add("#   5. destroys the DR tasks (xapi keeps the SRs the recovered VMs use).")
    add("#")
    add("# How to run it: as root on the master of pool %s, with nothing but bash and xe:"
        % comment(info.get("pool_name")))
    add("#   bash THIS-FILE 2>&1 | tee runbook.log")
    add("#   XE=/opt/xensource/bin/xe bash THIS-FILE      (another xe; default: %s)" %
        comment(info.get("xe_path")))
    if chap:
        add("#   CHAP_PASSWORD_FILE=/root/chap bash THIS-FILE  (the CHAP password is read "
            "from that file; never written here)")
    add("# It is safe to run again after a failure: what is in the pool already is left as "
        "it is.")
    add("# Exit status: 0 all done; 1 a step every later one needs failed (nothing after it "
        "ran);")
    add("#   2 some vApps or VMs were skipped (each named on a SKIPPED line); %d the plan had "
        "no vApps or VMs." % EXIT_NO_ITEMS)
    blocking = [c for c in checks if c.get("verdict") == "blocking" and not c.get("objects")]
    other = [c for c in checks if c.get("verdict") not in ("ok",) and c not in blocking]
    if blocking or other:
        add("#")
        add("# Prechecks when the plan was made (the vApp and VM checks are made again by "
            "xe when it runs):")
        for check in blocking + other:
            add("#   %s: %s%s" % (comment(check.get("verdict")), comment(check.get("message")),
                                  " (fix: %s)" % comment(check["fix"]) if check.get("fix")
                                  else ""))

    # -- settings and functions ---------------------------------------------------------------
    chap_text = ""
    if chap:
        chap_text = CHAP_FUNCTION % {"file": q(info.get("chap_password_file") or "")}
    paused = " paused=true" if power == "paused" else ""
    add((PRELUDE % {"xe": q(info.get("xe_path") or "xe"), "run_id": q(run_id),
                   "pool": q(_uuid(info.get("pool_uuid"), "pool uuid")), "chap": chap_text,
                   "tag": RUN_TAG, "kind_tag": RUN_KIND_TAG, "run_kind": q(mode),
                   "force": "1" if options.get("force") else "",
                   "power": {"paused": "paused", "start": "running"}.get(power, "not at all"),
                   "paused": paused}).rstrip("\n"))
    if recovery_plan is not None:
        add(runbook_plan.functions(options, info, recovery_plan).rstrip("\n"))
    if network_map:
        cases = []
        for source, target in sorted(network_map.items()):
            cases.append("        %s) wanted=%s ;;" % (q(source), q(target)))
        add(NETWORK_FUNCTION % {"cases": "\n".join(cases)})
    add("")
    add("# -- 0. the right pool? " + "-" * 62)
    add('pool=$(list pool-list params=uuid)')
    add('[ "$pool" = "$TARGET_POOL" ] || fail "xe reaches pool $pool, not %s ($TARGET_POOL): '
        'set XE or run this on the right master"' % _dq(info.get("pool_name")))
    add('log "runbook %s: %s into pool $TARGET_POOL"' % (_dq(run_id), MODE_TEXT.get(mode, mode)))
    if recovery_plan is not None:
        out.extend(runbook_plan.run_hook(recovery_plan, "before"))

    # -- 1. storage ---------------------------------------------------------------------------
    add("")
    add("# -- 1. storage " + "-" * 70)
    storage = [e for e in plan.get("storage") or () if isinstance(e, dict)]
    if not storage:
        add("# no storage options were given: the SRs were attached already")
    for entry in storage:
        lun = entry.get("lun")
        names = dict((f.get("uuid"), f.get("name_label")) for f in entry.get("found") or ())
        add("# LUN %s (%s): SR(s) %s" % (comment(lun), comment(entry.get("type")), ", ".join(
            _label(n, u) for u, n in sorted(names.items(), key=lambda kv: str(kv[1]))) or
            "none found"))
        step = attach.get(lun)
        if step:
            sr_type, config, whitelist = step
            spec = specs.get(lun) or {}
            add("NEEDS_CHAP=%d attach %s %s %s" % (
                1 if spec.get("chap") else 0, q(sr_type), q(" ".join(whitelist)),
                " ".join(q(a) for a in config)))
        for sr in entry.get("already_attached") or ():
            add("# SR %s was attached already when the plan was made" % _label(names.get(sr), sr))
        for sr in (step[2] if step else []) + list(entry.get("already_attached") or ()):
            add("check_sr %s %s" % (q(_uuid(sr, "SR uuid")), qn(names.get(sr))))
    if plugs:
        add("# SRs of the LUNs that were in the pool but not attached on every host: plug them")
    for pbd in plugs:
        add('[ "$("$XE" pbd-param-get uuid=%s param-name=currently-attached)" = true ] || '
            '"$XE" pbd-plug uuid=%s' % (q(pbd), q(pbd)))
    replug, scan_only = [], []
    for entry in storage:
        names = dict((f.get("uuid"), f.get("name_label")) for f in entry.get("found") or ())
        for sr in entry.get("plugged") or ():
            add("check_sr %s %s" % (q(_uuid(sr, "SR uuid")), qn(names.get(sr))))
        step = attach.get(entry.get("lun"))
        replug += list(step[2] if step else []) + list(entry.get("plugged") or ())
        scan_only += list(entry.get("already_attached") or ())
    if replug or scan_only:
        add("# Make xapi see the SRs' disks and metadata (xapi >= 23.22 does not scan on plug)")
    if replug:
        add("make_visible 1 %s" % " ".join(q(_uuid(sr, "SR uuid")) for sr in replug))
    if scan_only:
        add("make_visible 0 %s" % " ".join(q(_uuid(sr, "SR uuid")) for sr in scan_only))

    # -- 2. metadata --------------------------------------------------------------------------
    add("")
    add("# -- 2. the newest metadata of each source pool " + "-" * 38)
    variables = {}
    pool_names = dict((s.get("uuid"), s.get("name_label")) for s in sources)
    for index, source in enumerate(sources, 1):
        pool = _uuid(source.get("uuid"), "source pool uuid")
        var = "VDI_%d" % index
        variables[pool] = var
        add("# pool %s; when the plan was made: VDI %s on SR %s" % (
            _label(source.get("name_label"), pool), comment(source.get("vdi")),
            comment(source.get("sr"))))
        add("%s=$(metadata_vdi %s)" % (var, q(pool)))
        add('[ -n "$%s" ] || fail "no metadata of pool %s (%s) is visible here: are its SRs '
            'attached?"' % (var, _dq(source.get("name_label")), pool))
        add('log "metadata of pool %s: VDI $%s"' % (_dq(source.get("name_label")), var))
    if not items:
        add("")
        add("# When this runbook was made no metadata was visible in this pool (its LUNs were "
            "not attached),")
        add("# so it does not know which vApps and VMs to recover: the storage is attached "
            "now; make the")
        add("# runbook again (same options), or recover with 'xe-dr failover'.")
        add('log "the plan had no vApps or VMs: the SRs are attached; make the runbook again '
            'to recover"')
        add("exit %d" % EXIT_NO_ITEMS)
        return "\n".join(out) + "\n"

    # -- 3. recovery --------------------------------------------------------------------------
    add("")
    add("# -- 3. recover (vApps first, then standalone VMs) " + "-" * 35)
    made = [n for n in plan.get("networks") or () if isinstance(n, dict) and
            n.get("action") in ("create", "transient")]
    if made:
        add("# networks of the source that no network here is named after: made first")
    for entry in made:
        mtu = entry.get("mtu")
        add("ensure_network %s%s   # %s" % (
            q(entry.get("name_label")), " %d" % mtu if isinstance(mtu, int) and mtu != 1500
            else "", comment("its VIFs then go to %s" % entry.get("target")
                             if entry.get("action") == "transient" else
                             "kept for the VMs on it")))
    add('NETWORKS_BEFORE=$(list network-list params=uuid)')
    ordered = sorted(items, key=lambda i: i.get("kind") != "appliance")
    for item in ordered:
        kind = "appliance" if item.get("kind") == "appliance" else "vm"
        uuid = _uuid(item.get("uuid"), "%s uuid" % kind)
        pool = item.get("source_pool")
        var = variables.get(pool)
        what = "vApp" if kind == "appliance" else "VM"
        add("# %s %s from pool %s%s" % (
            what, _label(item.get("name_label"), uuid),
            _label(pool_names.get(pool), pool) if pool in pool_names else comment(pool),
            "" if kind == "appliance" else ", order %s" % comment(item.get("order"))))
        if item.get("members"):
            add("#   members: %s" % ", ".join("%s (order %s)" % (
                comment(m.get("name_label")), comment(m.get("order")))
                for m in item["members"]))
        for check in _excluded_by(checks, uuid):
            add("#   precheck when the plan was made: %s: %s" % (
                comment(check.get("verdict")), comment(check.get("message"))))
        if var is None:
            add("# its source pool's metadata was not found when the plan was made: skipped")
            add('skip %s' % qn("%s %s: no metadata of its pool" % (what, item.get("name_label"))))
            continue
        add('recover %s %s "$%s" %s' % (kind, q(uuid), var, qn(item.get("name_label"))))
    add("tag_new_networks \"$NETWORKS_BEFORE\"")
    if network_map:
        add("for vm in $RECOVERED; do move_vifs \"$vm\"; done")
    if made:
        add("drop_networks")

    # -- 4. start -----------------------------------------------------------------------------
    add("")
    if power == "none":
        add("# -- 4. start: nothing (--power none) " + "-" * 48)
    elif recovery_plan is not None:
        title = "# -- 4. start%s, by the recovery plan's groups " % (
            " paused" if power == "paused" else "")
        add(title + "-" * (85 - len(title)))
        out.extend(runbook_plan.readdress(recovery_plan))
        out.extend(runbook_plan.starts(recovery_plan, plan, options, dict(
            (i.get("uuid"), i.get("name_label")) for i in items)))
    else:
        add("# -- 4. start%s " % (" paused" if power == "paused" else "") + "-" * 70)
        apps = [i for i in ordered if i.get("kind") == "appliance"]
        vms = [i for i in ordered if i.get("kind") != "appliance"]
        add("APP_JOBS=\"\"")
        if apps:
            add("# vApps, each in the background (xapi starts its VMs by their order groups)")
        for item in apps:
            add("start appliance %s %s &" % (q(item["uuid"]), qn(item.get("name_label"))))
            add('APP_JOBS="$APP_JOBS $!"')
        groups = {}
        for item in vms:
            order = item.get("order") if isinstance(item.get("order"), int) else 0
            groups.setdefault(order, []).append(item)
        parallel = MOST_STARTS_AT_ONCE  # a group starts all at once, as with xe-dr
        for order in sorted(groups):
            members = groups[order]
            add("# order group %d: %d VM(s), all at once (up to %d)" % (
                order, len(members), parallel))
            add('log "starting order group %d"' % order)
            for start in range(0, len(members), parallel):
                add("JOBS=\"\"")
                for item in members[start:start + parallel]:
                    add("start vm %s %s &" % (q(item["uuid"]), qn(item.get("name_label"))))
                    add('JOBS="$JOBS $!"')
                add("# shellcheck disable=SC2086")
                add("wait_jobs $JOBS")
        add("# shellcheck disable=SC2086")
        add("wait_jobs $APP_JOBS")

    # -- 5. the end ---------------------------------------------------------------------------
    add("")
    add("# -- 5. finish " + "-" * 71)
    if recovery_plan is not None:
        out.extend(runbook_plan.run_hook(recovery_plan, "after"))
    if mode == "test":
        add('log "test failover done: undo it with: xe-dr cleanup $RUN_ID"')
        add('[ -z "$TASKS" ] || log "(without xe-dr: destroy the VMs tagged '
            'other-config:%s=$RUN_ID, then xe drtask-destroy uuid= each of:$TASKS)"' % RUN_TAG)
    else:
        add("for task in $TASKS; do")
        add('    "$XE" drtask-destroy uuid="$task"')
        add('    log "DR task $task destroyed"')
        add("done")
        add('log "failover done: protect this pool now (xe-dr replication enable SR... on SRs '
            'the array mirrors back)"')
    add('if [ "$PARTIAL" -ne 0 ]; then')
    add('    log "some vApps or VMs were skipped: see the SKIPPED lines above"')
    add("    exit 2")
    add("fi")
    add('log "all done"')
    return "\n".join(out) + "\n"


def _dq(text):
    """Text to put inside a double-quoted bash string: one line, nothing bash expands."""
    text = comment(text)
    return re.sub(r'([\\$`"])', r"\\\1", text)
