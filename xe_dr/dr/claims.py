"""Storage another run still holds. A run that stopped after attaching SRs, or a test not
cleaned up yet, claims its SRs by their tags (``other-config:xe-dr-run``): a new run that
would use them takes them for pre-existing, and its cleanup leaves them, the other run's
cleanup then pulls them from under it. So a new run refuses, naming the run that holds them,
unless it takes them over (``--adopt RUN``).

Whose claim stands: a run whose journal is here and that stopped before its end (failed,
interrupted, blocked, declined, waiting for the array). A run that ended holds nothing more:
a real one's SRs are production, a test's are protected by its cleanup, which never forgets
an SR that holds disks of VMs it does not destroy; nor does a run cleaned up or superseded
by one that adopted what it held. A run whose journal is elsewhere cannot be told stopped.
Nothing here changes the pool.
"""

from xe_dr.errors import UsageError
from xe_dr.journal import Run
from xe_dr.marks import (DRILL, DRILL_DEADLINE_KEY, RUN_KIND_TAG, RUN_TAG, TEST,
                         heartbeat_epoch)
from xe_dr.xe.records import parse_map

# The statuses of runs that hold nothing any more.
RELEASED = ("succeeded", "partly failed", "cleaned up", "superseded")


def sr_marks(srs):
    """{SR uuid: (run id, run kind)} of the SRs (``pool.read_srs`` values) a run tagged."""
    return dict((uuid, (sr["other_config"][RUN_TAG], sr["other_config"].get(RUN_KIND_TAG, "")))
                for uuid, sr in srs.items() if sr["other_config"].get(RUN_TAG))


def on_luns(srs, pbds, scsi_ids):
    """The SRs known here whose PBDs name one of ``scsi_ids`` (pbds: records with
    ``sr-uuid`` and ``device-config``)."""
    return {p["sr-uuid"] for p in pbds if p.get("sr-uuid") in srs and
            parse_map(p.get("device-config", "")).get("SCSIid") in scsi_ids}


def held(state_dir, srs, used, this_run=None):
    """{run id: (how it stands, its resume command, [SR names])} for the runs other than
    ``this_run`` whose claim on an SR in ``used`` stands (see the module doc)."""
    found = {}
    marks = sr_marks(srs)
    for uuid in sorted(used):
        if uuid not in marks or marks[uuid][0] == this_run:
            continue
        run_id, kind = marks[uuid]
        standing = _standing(state_dir, run_id)
        if standing is not None:
            resume = "xe-dr %s --resume %s" % (
                "failback" if kind == "failback" else "failover", run_id)
            found.setdefault(run_id, (standing, resume, []))[2].append(srs[uuid]["name_label"])
    return found


def _standing(state_dir, run_id):
    try:
        run = Run.open(state_dir, run_id)
    except UsageError:  # its journal is elsewhere
        return None
    status = run.meta.get("status")
    if status in RELEASED:
        return None
    return "a %s that stopped (%s)" % ("test" if run.meta["kind"] == TEST else
                                       run.meta["kind"], status)


def refuse(claims, adopt=None):
    """UsageError for the first claim not adopted (``adopt``: the run id of --adopt)."""
    for run_id, (standing, resume, names) in sorted(claims.items()):
        if run_id == adopt:
            continue
        raise UsageError("SR(s) %s are held by run %s, %s" % (", ".join(names), run_id,
                                                               standing),
                         hint="resume it ('%s'), undo it ('xe-dr cleanup %s'), or take them "
                              "over with --adopt %s; nothing was changed" % (
                                  resume, run_id, run_id))


def drill_copies(srs, pbds, this_run=None):
    """{run id: [SR names]}: SRs a drill introduced from the array's copies of the replicas
    (tagged with a run of kind ``drill``) with a PBD attached here. ``pbds``: read_pbds
    values. A copy carries its replica's SR uuid, and drtask-create skips an SR whose uuid
    is known already (xapi_dr_task.ml create: only the SRs not yet introduced are
    introduced), so while one is attached, a failover would recover from the drill's
    written-to copy instead of the replica."""
    attached = {p["sr"] for p in pbds if p["attached"]}
    found = {}
    for uuid, (run_id, kind) in sorted(sr_marks(srs).items()):
        if kind == DRILL and uuid in attached and run_id != this_run:
            found.setdefault(run_id, []).append(srs[uuid]["name_label"])
    return found


def drill_deadlines(srs, copies, now):
    """{run id: {"deadline": UTC text or None, "overdue": bool}} of the drills in ``copies``
    (drill_copies): the soonest deadline their SRs carry (DRILL_DEADLINE_KEY); a drill is
    overdue once it passed (its watchdog did not end it: the machine that ran it died, or it
    was kept longer than it said)."""
    found = {}
    for run_id in copies:
        dates = sorted((heartbeat_epoch(sr["other_config"].get(DRILL_DEADLINE_KEY)),
                        sr["other_config"].get(DRILL_DEADLINE_KEY))
                       for sr in srs.values() if sr["other_config"].get(RUN_TAG) == run_id
                       and heartbeat_epoch(sr["other_config"].get(DRILL_DEADLINE_KEY)))
        found[run_id] = {"deadline": dates[0][1] if dates else None,
                         "overdue": bool(dates) and dates[0][0] <= now}
    return found


def overdue_text(deadline):
    """A drill's deadline (a drill_deadlines value, or None) as a phrase after its name."""
    if deadline and deadline.get("overdue"):
        return " (overdue since %s: its deadline passed)" % deadline["deadline"]
    if deadline and deadline.get("deadline"):
        return " (due to be over by %s)" % deadline["deadline"]
    return ""


def refuse_hidden_by_drill(state_dir, pool_uuid, scsi_ids, this_run=None):
    """UsageError naming a drill of this machine, not cleaned up, that had the array copy one
    of ``scsi_ids``: while its copies exist the array presents them instead of the replicas,
    so a LUN given is missing here even when the drill attached no SR (it stopped before, or
    its SRs were forgotten by hand) and nothing in the pool names the drill. Called once a
    LUN is found missing; does nothing when no such drill is known here."""
    from xe_dr.dr.failover.drill import COPY_STEP
    scsi_ids = set(scsi_ids)
    for run in Run.list(state_dir):
        if run.id == this_run or run.meta.get("kind") != DRILL or \
                run.meta.get("status") in ("cleaned up", "superseded") or \
                (run.meta.get("target") or {}).get("pool_uuid") != pool_uuid:
            continue
        copied = [e for e in run.entries() if e.get("step") == COPY_STEP and
                  e.get("event") == "begin"]
        luns = sorted(scsi_ids.intersection((copied[-1].get("data") or {}).get("luns") or ())
                      if copied else ())
        if luns:
            raise UsageError("LUN(s) %s are hidden from this site's hosts by the array's "
                             "copies that drill %s had made and has not released"
                             % (", ".join(luns), run.id),
                             hint="clean the drill up first ('xe-dr cleanup %s': it releases "
                                  "them); nothing was changed" % run.id)


def refuse_drill_copies(copies):
    """UsageError naming the first drill whose copies are attached (drill_copies)."""
    for run_id, names in sorted(copies.items()):
        raise UsageError("SR(s) %s are the array's copies attached by drill %s: a failover "
                         "now would recover from the drill's copy, not the replica"
                         % (", ".join(names), run_id),
                         hint="clean the drill up first ('xe-dr cleanup %s'); nothing was "
                              "changed" % run_id)
