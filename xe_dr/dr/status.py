"""``status``: is this pool protected? Replication targets, their health, and every VM's class
(protected, at risk, unrecoverable or ignored: xe_dr/dr/protection.py).

The pool is read once (xe_dr/pool.py PoolSnapshot): one call per class, made at once.
"""

import time

from xe_dr.dr import claims
from xe_dr.dr.lock import LOCK_KEY, parse_claim
from xe_dr.dr.plugin import (ask_version, call_json, fallback_line, malformed, master_label,
                             required_error)
from xe_dr.dr.protection import AT_RISK, UNRECOVERABLE, classify_vms
from xe_dr.dr.readiness import dr_readiness
from xe_dr.errors import XeDrError
from xe_dr.exitcodes import ExitCode
from xe_dr.marks import (HEARTBEAT_KEY, LAST_DRILL_KEY, heartbeat_epoch, parse_last_drill,
                         utc_text)
from xe_dr.pool import PoolSnapshot
from xe_dr.xe.errors import XapiError

MAX_METADATA_SRS = 8          # Xapi_globs.redo_log_max_instances (reference §1.2)


def write_heartbeat(xe, pool, now=None):
    """Give the replicated database a clock: ``other-config:xe-dr-heartbeat=<UTC now>`` on the
    pool. xapi writes every change of a persistent field to each metadata VDI (redo_log.ml
    database_callback), so the copy at the other site carries the time of the last heartbeat
    it received, and a run there knows how old its copy is. Returns
    ``{"written", "previous", "error"}``; a refusal (a read-only role) is an error, never a
    failure of the status."""
    stamp = utc_text(time.time() if now is None else now)
    heartbeat = {"written": None, "previous": pool.other_config.get(HEARTBEAT_KEY),
                 "error": None}
    try:
        xe.param_set("pool", pool.uuid, {"other-config": {HEARTBEAT_KEY: stamp}})
    except XeDrError as failure:
        heartbeat["error"] = failure.one_line()
    else:
        heartbeat["written"] = stamp
    return heartbeat


def _plugin_state(xe, master):
    """``(state, failure)``: the plugin's metadata_state on the master, or None and the
    error of a plugin that is installed but does not answer (None, None without it)."""
    version, failure = ask_version(xe, master)
    if not version:
        return None, failure
    try:
        return call_json(xe, master, "metadata_state", required=("vdis",)), None
    except XapiError as answer:  # a malformed answer (XeOutputError) is an error of its own
        if answer.exit_code != ExitCode.FAILED:
            raise  # xe's own failure (xapi unreachable...), not the plugin's
        return None, answer


#: The plugin's figures of a copy that status reads, and the types they may have (or None).
_COPY_FIELDS = (("generation", int), ("lag", int), ("heartbeat", str),
                ("heartbeat_unread", str))


def _copy_states(state):
    """{VDI uuid: the plugin's reading of that copy} of a metadata_state answer (None: no
    plugin), its figures' types checked: a plugin answering garbage is a malformed answer
    (XeOutputError, which names it), not a TypeError further on."""
    try:
        if state is None:
            return {}
        copies = {}
        for entry in state.get("vdis", []):
            for key, kind in _COPY_FIELDS:
                value = entry.get(key)
                if value is not None and (not isinstance(value, kind)
                                          or isinstance(value, bool)):
                    raise TypeError("%s of VDI %s is %r" % (key, entry.get("vdi"), value))
            copies[entry["vdi"]] = entry
        if not isinstance(state.get("redo_log", {}), (dict, type(None))):
            raise TypeError("redo_log is %r" % (state["redo_log"],))
        return copies
    except (AttributeError, KeyError, TypeError) as failure:
        raise malformed("metadata_state", failure)


def _age(text, now):
    epoch = heartbeat_epoch(text)
    return None if epoch is None else int(now) - epoch


def copy_heartbeat(on_disk, healthy, previous, now):
    """``heartbeat``, ``heartbeat_from``, ``heartbeat_unread``, ``age_seconds`` of one
    replication target: the heartbeat the plugin (version 5) read in the copy on disk
    ("copy"); else, without it (an older plugin, none, or a copy it could not read: the
    plugin's reason), the pool's previous heartbeat for a healthy target, which received it
    ("pool"), and nothing for one that is not being written. The age is ``now`` minus the
    heartbeat, in seconds (negative if the clock of whoever wrote it runs ahead)."""
    if "heartbeat" in on_disk and (on_disk["heartbeat"] or not on_disk.get("heartbeat_unread")):
        heartbeat, source = on_disk["heartbeat"] or None, "copy"
    elif healthy:
        heartbeat, source = previous or None, "pool"
    else:
        heartbeat, source = None, None
    return {"heartbeat": heartbeat, "heartbeat_from": source,
            "heartbeat_unread": on_disk.get("heartbeat_unread") if source != "copy" else None,
            "age_seconds": _age(heartbeat, now)}


def pool_status(xe, peer_xe=None, use_plugin=True, now=None, require_plugin=False,
                writes=True):
    """The status document. ``problems`` empty means all is well (exit 0). A pool that
    replicates its metadata gets its heartbeat (write_heartbeat), at ``now``, unless
    ``writes`` is false (a status that changes nothing: Ansible's check mode).
    ``require_plugin`` (--plugin required): a master whose plugin does not answer is a
    ConfigError, not a fallback."""
    now = time.time() if now is None else now
    facts = PoolSnapshot(xe).read("pool", "srs", "pbds", "vdis", "vbds", "vms")
    pool = facts.pool
    problems, notes = [], []
    local_copies = [c for c in facts.metadata_copies() if c["local"]]
    metadata_srs = {c["sr"] for c in local_copies}

    state = None
    if use_plugin and pool.master:
        state, failure = _plugin_state(xe, pool.master)
        if state is None and require_plugin:
            raise required_error(master_label(xe, pool.master), failure)
        if failure is not None:  # read with plain xe instead, and said so
            notes.append(fallback_line(master_label(xe, pool.master), failure,
                                       "the status is read"))
    disk_state = _copy_states(state)

    targets = []
    for copy in sorted(local_copies, key=lambda c: facts.sr_name(c["sr"])):
        running = facts.attached_to_dom0(copy["vdi"])
        on_disk = disk_state.get(copy["vdi"], {})
        target = {
            "sr": copy["sr"], "sr_name": facts.sr_name(copy["sr"]), "vdi": copy["vdi"],
            "latest": copy["latest"], "replicating": running, "size": copy["size"],
            "generation": on_disk.get("generation"), "lag": on_disk.get("lag"),
            "healthy": copy["latest"] and running,
        }
        target.update(copy_heartbeat(on_disk, target["healthy"],
                                     pool.other_config.get(HEARTBEAT_KEY), now))
        targets.append(target)
        if not target["healthy"]:
            problems.append("metadata copy on %s is not being written (%s)" % (
                target["sr_name"], "no dom0 VBD attached" if not running
                else "metadata-latest is false: the redo log lost its device"))
        elif target["lag"]:
            # Not a problem by itself: xapi counts a generation for every message it
            # creates or destroys (xapi_message.ml), without a redo-log write, so a copy
            # that received every write still lags until the next one. A copy that stopped
            # receiving writes keeps an old heartbeat: the metadata-age check sees it.
            notes.append("metadata copy on %s is %d generation(s) behind the live database "
                         "(messages count too; its heartbeat dates it)"
                         % (target["sr_name"], target["lag"]))
    if not targets:
        problems.append("no SR carries this pool's replicated metadata: nothing can be "
                        "recovered at another site (xe-dr replication enable SR)")
    if len(targets) > MAX_METADATA_SRS:
        problems.append("more than %d metadata SRs" % MAX_METADATA_SRS)
    if not pool.dr_allowed:
        problems.append("the licence restricts disaster recovery (restrict_dr=true)")
    drill_copies = claims.drill_copies(facts.srs, facts.pbds)
    drill_deadlines = claims.drill_deadlines(facts.srs, drill_copies, now)
    for run_id, names in sorted(drill_copies.items()):
        problems.append("SR(s) %s are the array's copies attached by drill %s%s: a failover "
                        "here would recover from them, not the replicas (xe-dr cleanup %s)"
                        % (", ".join(names), run_id, claims.overdue_text(drill_deadlines[run_id]),
                           run_id))
    if not pool.metadata_lun_alerts:
        notes.append("metadata LUN alerts are off: enable them with "
                     "'xe-dr replication enable --alerts' so xapi reports a broken copy")

    vms = classify_vms(facts, metadata_srs)
    counts = {}
    for vm in vms:
        counts[vm["class"]] = counts.get(vm["class"], 0) + 1
    for verdict in (AT_RISK, UNRECOVERABLE):
        if counts.get(verdict):
            problems.append("%d VM(s) %s" % (counts[verdict], verdict))

    readiness = None
    if peer_xe is not None:  # the DR site's readiness (xe_dr/dr/readiness.py)
        readiness = dr_readiness(facts, vms, targets, peer_xe, use_plugin)
        problems.extend(readiness["problems"])
        notes.extend(readiness["notes"])
    else:
        notes.append("the DR site was not checked (give --peer HOST to check its readiness "
                     "and that no SR is attached at both sites)")

    redo_log = (state or {}).get("redo_log")
    if redo_log is None:
        # Without the plugin: the pool redo log has a VDI of its own type (reference §1.6).
        redo_log = {"enabled": any(v["type"] == "Redo log" for v in facts.vdis.values())}
    claim = pool.other_config.get(LOCK_KEY)  # a run under way (or one that died)
    if not targets:
        heartbeat = None
    elif not writes:
        heartbeat = {"written": None, "previous": pool.other_config.get(HEARTBEAT_KEY),
                     "error": None, "age_seconds": _age(pool.other_config.get(HEARTBEAT_KEY),
                                                        now)}
    else:
        heartbeat = write_heartbeat(xe, pool, now)
        heartbeat["age_seconds"] = _age(heartbeat["previous"], now)
        if heartbeat["error"]:
            notes.append("the heartbeat could not be written (%s): a failover from this "
                         "pool's metadata will not know its recovery point" % heartbeat["error"])
    return {
        "pool": pool.to_json(),
        "lock": (parse_claim(claim) or {"text": claim}) if claim else None,
        "heartbeat": heartbeat,
        "plugin": state is not None,
        "replication": targets,
        "alerts": (state or {}).get("messages"),
        "redo_log": redo_log,
        "vms": vms,
        "counts": counts,
        "readiness": readiness,
        "drill_copies": drill_copies,
        "drill_deadlines": drill_deadlines,
        "last_drill": _last_drill(pool, readiness, now),
        "problems": problems,
        "notes": notes,
    }


def _last_drill(pool, readiness, now):
    """The last drill at this pool, or with --peer at the DR pool (the newer of the two):
    ``{"time", "time_text", "verdict", "run", "age_seconds", "pool"}``, or None."""
    found = []
    own = parse_last_drill(pool.other_config.get(LAST_DRILL_KEY))
    if own:
        found.append(dict(own, pool=pool.name_label))
    peer = ((readiness or {}).get("pool") or {})
    if peer.get("last_drill"):
        found.append(dict(peer["last_drill"], pool=peer.get("name_label")))
    if not found:
        return None
    last = max(found, key=lambda d: d["time"])
    return dict(last, age_seconds=int(now) - last["time"])
