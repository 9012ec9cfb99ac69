#!/usr/bin/env bash
# The DR procedure of the product documentation, by hand, with raw xe commands against the lab.
#
#   XE_A, XE_B   the fake xe of each site        LAB   "python -m xe_dr.lab" (a command)
#   LAB_DIR      the lab folder
#
# Failover: enable DR replication at A, disaster at A, break the mirror, probe at B with
# progressively fuller device-config (iSCSI and FC), drtask-create with a whitelist, list the
# foreign VMs and vApps, assert, recover, start by order, drtask-destroy, enable replication at
# B. Failback: reverse the mirror, A comes back, planned shutdown at B, break, re-attach at A,
# recover from B's metadata, start at A, clean up B, mirror A -> B again.
set -euo pipefail

say() { printf '== %s\n' "$*"; }
die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

# run_fail VAR cmd...: the command must fail (exit 1); its stderr goes to VAR.
run_fail() {
    local _var=$1; shift
    local _stderr _rc=0
    _stderr=$("$@" 2>&1 >/dev/null) || _rc=$?
    [ "$_rc" = 1 ] || die "expected exit 1 from: $* (got $_rc)"
    printf -v "$_var" '%s' "$_stderr"
}

xml_values() { sed -n "s:.*<$1>\\(.*\\)</$1>.*:\\1:p"; }

# ----------------------------------------------------------------------------------------------
say "site A: enable database replication on the replicated SRs"
A_POOL=$("$XE_A" pool-list params=uuid --minimal)
REPLICATED=()
for sr in $("$XE_A" sr-list params=uuid --minimal | tr , ' '); do
    case "$("$XE_A" sr-param-get uuid="$sr" param-name=name-description)" in
        "Replicated to site B"*) REPLICATED+=("$sr") ;;
    esac
done
[ "${#REPLICATED[@]}" -ge 2 ] || die "no replicated SRs found"
for sr in "${REPLICATED[@]}"; do
    "$XE_A" sr-enable-database-replication uuid="$sr"
done
[ "$("$XE_A" vdi-list type=Metadata metadata-of-pool="$A_POOL" --minimal | tr , '\n' | wc -l)" \
    = "${#REPLICATED[@]}" ] || die "one metadata VDI per replicated SR"
A_RUNNING=$("$XE_A" vm-list power-state=running is-control-domain=false --minimal)

say "disaster: site A goes dark"
$LAB disaster "$LAB_DIR" --site A >/dev/null
run_fail err "$XE_A" vm-list
[ "$err" = "Unable to contact server. Please check server and port settings." ] \
    || die "dark site message: $err"

say "storage: break the mirror (the replicas at B become writable)"
$LAB mirror "$LAB_DIR" break >/dev/null

# ----------------------------------------------------------------------------------------------
say "site B: probe iSCSI with progressively fuller device-config"
B_POOL=$("$XE_B" pool-list params=uuid --minimal)
PORTAL=10.0.2.50
run_fail err "$XE_B" sr-probe type=lvmoiscsi
grep -q '^Error code: SR_BACKEND_FAILURE_95$' <<<"$err" || die "95: $err"
run_fail err "$XE_B" sr-probe type=lvmoiscsi device-config:target=$PORTAL
grep -q '^Error code: SR_BACKEND_FAILURE_96$' <<<"$err" || die "96: $err"
IQN=$(xml_values TargetIQN <<<"$err" | grep -v '^\*$' | head -1)
[ -n "$IQN" ] || die "no IQN discovered"
run_fail err "$XE_B" sr-probe type=lvmoiscsi device-config:target=$PORTAL \
    device-config:targetIQN="$IQN"
grep -q '^Error code: SR_BACKEND_FAILURE_107$' <<<"$err" || die "107: $err"
ISCSI_IDS=$(xml_values SCSIid <<<"$err")

TASKS=()
WHITELIST=()
introduce() {  # type scsiid device-config...: probe with metadata, then a DR task for its SR
    local type=$1 scsiid=$2; shift 2
    local out uuid
    out=$("$XE_B" sr-probe type="$type" "$@" device-config:SCSIid="$scsiid" \
        sm-config:metadata=true)
    grep -q '<pool_metadata_detected>true</pool_metadata_detected>' <<<"$out" || return 0
    uuid=$(xml_values UUID <<<"$out")
    WHITELIST+=("$uuid")
    TASKS+=("$("$XE_B" drtask-create type="$type" "$@" device-config:SCSIid="$scsiid" \
        sr-whitelist="$uuid")")
}
for id in $ISCSI_IDS; do
    introduce lvmoiscsi "$id" device-config:target=$PORTAL device-config:targetIQN="$IQN"
done

say "site B: probe FC (lvmohba)"
run_fail err "$XE_B" sr-probe type=lvmohba
grep -q '^Error code: SR_BACKEND_FAILURE_107$' <<<"$err" || die "hba 107: $err"
for id in $(xml_values SCSIid <<<"$err"); do
    introduce lvmohba "$id"
done
[ "${#WHITELIST[@]}" = "${#REPLICATED[@]}" ] || die "found ${WHITELIST[*]}, want ${REPLICATED[*]}"
for t in "${TASKS[@]}"; do
    [ -n "$("$XE_B" drtask-param-get uuid="$t" param-name=introduced-SRs)" ] \
        || die "task $t introduced nothing"
done

# From xapi 23.22.0 PBD.plug no longer scans (message_forwarding.ml, PBD.plug): scan each SR for
# its VDI records, then plug it again (members off, master off, master on, members on) so that
# xapi reads the metadata copies and marks the newest. Harmless where plug still scans.
make_visible() {  # xe sr...
    local xe=$1 sr pbd master; shift
    master=$("$xe" pool-list params=master --minimal)
    for sr in "$@"; do
        "$xe" sr-scan uuid="$sr"
        for pbd in $("$xe" pbd-list sr-uuid="$sr" --minimal | tr , ' '); do
            [ "$("$xe" pbd-param-get uuid="$pbd" param-name=host-uuid)" = "$master" ] \
                || "$xe" pbd-unplug uuid="$pbd"
        done
        "$xe" pbd-unplug uuid="$("$xe" pbd-list sr-uuid="$sr" host-uuid="$master" --minimal)"
        "$xe" pbd-plug uuid="$("$xe" pbd-list sr-uuid="$sr" host-uuid="$master" --minimal)"
        for pbd in $("$xe" pbd-list sr-uuid="$sr" currently-attached=false --minimal | tr , ' ')
        do
            "$xe" pbd-plug uuid="$pbd"
        done
    done
}
say "site B: scan the introduced SRs and plug them again"
make_visible "$XE_B" "${WHITELIST[@]}"

# ----------------------------------------------------------------------------------------------
say "site B: the newest metadata, the foreign VMs and vApps"
VDI=$("$XE_B" vdi-list type=Metadata metadata-latest=true metadata-of-pool="$A_POOL" \
    params=uuid --minimal | cut -d, -f1)
[ -n "$VDI" ] || die "no metadata-latest VDI"
DB=database:vdi-uuid=$VDI
[ "$("$XE_B" pool-list "$DB" params=uuid --minimal)" = "$A_POOL" ] || die "foreign pool"
VMS=$("$XE_B" vm-list "$DB" is-control-domain=false params=uuid --minimal | tr , ' ')
APPS=$("$XE_B" appliance-list "$DB" params=uuid --minimal | tr , ' ')
[ -n "$APPS" ] || die "no vApps in the foreign database"
"$XE_B" appliance-list "$DB" params=VMs | grep -q '<not in database>' \
    || die "foreign refs should print <not in database>"

say "site B: assert what can be recovered"
RECOVERABLE=()
UNRECOVERABLE=0
for vm in $VMS; do
    if "$XE_B" vm-assert-can-be-recovered uuid="$vm" "$DB" 2>/tmp/assert.$$; then
        RECOVERABLE+=("$vm")
    else
        grep -q '^sr: OpaqueRef:' /tmp/assert.$$ || die "assert error: $(cat /tmp/assert.$$)"
        UNRECOVERABLE=$((UNRECOVERABLE + 1))
    fi
done
rm -f /tmp/assert.$$
[ "$UNRECOVERABLE" -gt 0 ] || die "the lab has VMs on unreplicated storage"
for app in $APPS; do
    "$XE_B" appliance-assert-can-be-recovered uuid="$app" "$DB"
done

say "site B: a network for each foreign one B has no namesake of (xapi would create it with"
say "        the source's bridge, refuse that bridge, and fail the recovery: INVALID_VALUE)"
CREATED=0
while IFS= read -r name; do
    [ -n "$name" ] || continue
    if [ -z "$("$XE_B" network-list name-label="$name" params=uuid --minimal)" ]; then
        "$XE_B" network-create name-label="$name" >/dev/null
        CREATED=$((CREATED + 1))
    fi
done < <("$XE_B" network-list "$DB" params=name-label | sed -n 's/^ *name-label ( RW) *: //p')
[ "$CREATED" -ge 1 ] || die "the lab's site B lacks a network of site A (DMZ)"

say "site B: recover the vApps, then the other VMs"
for app in $APPS; do
    "$XE_B" appliance-recover uuid="$app" "$DB"
done
for vm in "${RECOVERABLE[@]}"; do
    if [ -z "$("$XE_B" vm-list uuid="$vm" --minimal)" ]; then
        "$XE_B" vm-recover uuid="$vm" "$DB"
    fi
done
for vm in "${RECOVERABLE[@]}"; do
    [ "$("$XE_B" vm-param-get uuid="$vm" param-name=version)" = 1 ] || die "version of $vm"
done
run_fail err "$XE_B" vm-recover uuid="${RECOVERABLE[0]}" "$DB"
grep -q '^existing_version: 1$' <<<"$err" || die "not newer: $err"

say "site B: start the vApps and the VMs that ran at A, lowest order first"
for app in $APPS; do
    "$XE_B" appliance-start uuid="$app"
done
for vm in $(for v in "${RECOVERABLE[@]}"; do
                printf '%s %s\n' "$("$XE_B" vm-param-get uuid="$v" param-name=order)" "$v"
            done | sort -n | cut -d' ' -f2); do
    case ",$A_RUNNING," in *",$vm,"*) ;; *) continue ;; esac
    [ "$("$XE_B" vm-param-get uuid="$vm" param-name=power-state)" = halted ] || continue
    "$XE_B" vm-start uuid="$vm"
done

say "site B: destroy the DR tasks (SRs in use stay), then protect site B"
for t in "${TASKS[@]}"; do
    "$XE_B" drtask-destroy uuid="$t"
done
[ -z "$("$XE_B" drtask-list --minimal)" ] || die "DR tasks left"
B_SRS=()
for sr in "${REPLICATED[@]}"; do
    if [ -n "$("$XE_B" sr-list uuid="$sr" --minimal)" ]; then B_SRS+=("$sr"); fi
done
[ "${#B_SRS[@]}" -ge 1 ] || die "no recovered SR kept"
for sr in "${B_SRS[@]}"; do
    "$XE_B" sr-enable-database-replication uuid="$sr"
done

# ----------------------------------------------------------------------------------------------
say "failback: reverse the mirror (B -> A), site A comes back"
$LAB mirror "$LAB_DIR" reverse >/dev/null
$LAB restore "$LAB_DIR" --site A >/dev/null
[ -z "$("$XE_A" vm-list power-state=running is-control-domain=false --minimal)" ] \
    || die "A should come back with its VMs halted"

say "site B: planned shutdown, in descending order groups"
for app in $APPS; do
    "$XE_B" appliance-shutdown uuid="$app"
done
"$XE_B" vm-shutdown power-state=running is-control-domain=false --multiple 2>/dev/null || true
"$XE_B" vm-list power-state=running is-control-domain=false --minimal | grep -q . \
    && "$XE_B" vm-list power-state=running is-control-domain=false params=name-label \
    && die "VMs still running at B"

say "storage: break the mirror again (A's copies become writable with B's data)"
$LAB mirror "$LAB_DIR" break >/dev/null

say "site A: the SRs exist already (unplugged): plug them (master first)"
MASTER_A=$("$XE_A" pool-list params=master --minimal)
for sr in "${REPLICATED[@]}"; do
    for pbd in $("$XE_A" pbd-list sr-uuid="$sr" host-uuid="$MASTER_A" --minimal | tr , ' ') \
               $("$XE_A" pbd-list sr-uuid="$sr" --minimal | tr , ' '); do
        "$XE_A" pbd-plug uuid="$pbd"
    done
done
make_visible "$XE_A" "${REPLICATED[@]}"
VDI_B=$("$XE_A" vdi-list type=Metadata metadata-latest=true metadata-of-pool="$B_POOL" \
    params=uuid --minimal | cut -d, -f1)
[ -n "$VDI_B" ] || die "B's metadata is not visible at A"
DBB=database:vdi-uuid=$VDI_B

say "site A: recover from B's metadata (the halted older VMs at A are replaced)"
for app in $APPS; do
    "$XE_A" appliance-recover uuid="$app" "$DBB"
done
BACK=0
for vm in $("$XE_A" vm-list "$DBB" is-control-domain=false params=uuid --minimal | tr , ' '); do
    [ "$("$XE_A" vm-param-get "$DBB" uuid="$vm" param-name=version)" = 1 ] || continue
    if [ "$("$XE_A" vm-param-get uuid="$vm" param-name=version)" != 2 ]; then
        "$XE_A" vm-recover uuid="$vm" "$DBB"
    fi
    BACK=$((BACK + 1))
done
[ "$BACK" = "${#RECOVERABLE[@]}" ] || die "recovered $BACK of ${#RECOVERABLE[@]} at A"
for app in $APPS; do
    "$XE_A" appliance-start uuid="$app"
done
for vm in "${RECOVERABLE[@]}"; do
    case ",$A_RUNNING," in *",$vm,"*) ;; *) continue ;; esac
    [ "$("$XE_A" vm-param-get uuid="$vm" param-name=power-state)" = halted ] || continue
    "$XE_A" vm-start uuid="$vm"
done
for vm in "${RECOVERABLE[@]}"; do
    [ "$("$XE_A" vm-param-get uuid="$vm" param-name=version)" = 2 ] || die "version at A"
done

say "site B: clean up (destroy the VM records, never the disks; forget the SRs)"
for app in $APPS; do
    "$XE_B" appliance-destroy uuid="$app"
done
for vm in "${RECOVERABLE[@]}"; do
    "$XE_B" vm-destroy uuid="$vm"
done
for sr in "${B_SRS[@]}"; do
    "$XE_B" sr-disable-database-replication uuid="$sr"
    for pbd in $("$XE_B" pbd-list sr-uuid="$sr" --minimal | tr , ' '); do
        "$XE_B" pbd-unplug uuid="$pbd"
    done
    "$XE_B" sr-forget uuid="$sr"
done

say "storage: mirror A -> B again; site A protects itself again"
$LAB mirror "$LAB_DIR" reverse >/dev/null
for sr in "${REPLICATED[@]}"; do
    "$XE_A" sr-enable-database-replication uuid="$sr"
done
RUNNING_NOW=$("$XE_A" vm-list power-state=running is-control-domain=false --minimal \
    | tr , '\n' | sort)
for vm in "${RECOVERABLE[@]}"; do
    case ",$A_RUNNING," in *",$vm,"*)
        grep -qx "$vm" <<<"$RUNNING_NOW" || die "$vm not running at A after failback" ;;
    esac
done
say "done: ${#RECOVERABLE[@]} VMs failed over and back; $UNRECOVERABLE were not protected"
