"""What xe-dr meets on a pool, by the version of its xapi, and how it handles each.

The facts were read in xapi-project/xen-api at the tags named (the lab's release profiles,
xe_dr/lab/releases.py, model the same lines); no real pool has confirmed them yet, which is
what ``xe-dr doctor`` is for. Plain functions on version tuples, so the workflows can ask
too.
"""

# message_forwarding.ml PBD.plug: the master's plug scans the SR up to v23.21.0; from v23.22.0
# (commit 7c04e3e5e4, CA-379112) it calls xapi's callback alone.
PLUG_STOPS_SCANNING = (23, 22)
# datamodel_errors.ml: OTHER_OPERATION_IN_PROGRESS gains operation_type and operation_ref.
OPERATION_IN_PROGRESS_GROWS = (25, 27)


def version_tuple(text):
    """(major, minor[, patch]) of a xapi version string ("1.249", "24.19.2"); None if it is
    not one."""
    try:
        parts = tuple(int(p) for p in (text or "").split("."))
    except ValueError:
        return None
    return parts if len(parts) >= 2 else None


def plug_scans(version):
    """Whether PBD.plug on the master scans the SR (so a new SR has its VDI records)."""
    return version is not None and version[:2] < PLUG_STOPS_SCANNING


def behaviours(version):
    """The version-dependent behaviours of issue 12 as [{name, applies, what, how}] for a
    xapi ``version`` tuple (None: unknown, every rule listed as possibly applying)."""
    unknown = version is None
    scans = plug_scans(version)
    out = [{
        "name": "plug-does-not-scan",
        "applies": unknown or not scans,
        "what": ("plugging an SR does not scan it (xapi >= 23.22): a DR task's SRs have no "
                 "VDI records until scanned, and no metadata copy is read"
                 if not scans else "plugging an SR scans it (xapi < 23.22)"),
        "how": ("xe-dr scans every SR it attaches and plugs again those whose metadata xapi "
                "has not read, so that xapi picks the newest copy"),
    }, {
        "name": "operation-in-progress-parameters",
        "applies": True,
        "what": ("OTHER_OPERATION_IN_PROGRESS names class and object%s" % (
            "" if unknown else (" and the operation" if version[:2] >=
                                OPERATION_IN_PROGRESS_GROWS else " only"))),
        "how": "xe-dr reads either form",
    }, {
        "name": "unmatched-network",
        "applies": True,
        "what": ("a recovered VM's network that matches no network here by name or bridge "
                 "is created from the source's record, and xapi refuses its bridge from a "
                 "user session: the recovery fails"),
        "how": "xe-dr makes sure every network the VMs need exists before it recovers them",
    }, {
        "name": "missing-disks",
        "applies": True,
        "what": ("a disk whose VDI has no record here fails a recovery "
                 "(VDI_LOCATION_MISSING), or with force is left out of the VM"),
        "how": ("xe-dr checks every disk of every VM (with the host plugin) and refuses a "
                "VM with a missing disk, naming it"),
    }]
    return out


def multipath_note():
    return ("multipathing is on: sm refuses a probe of a LUN whose multipath map exists "
            "(SR_DEVICE_IN_USE); xe-dr lists LUNs and never probes one attached here")
