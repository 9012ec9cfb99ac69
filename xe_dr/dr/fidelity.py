"""What the xapi release of a pool changes for DR: plain functions on version tuples.

A version is a tuple of three ints, ``(24, 19, 2)``, read from a host's ``software-version``
(``Host.software_version``) by :func:`xapi_version`; ``None`` stands for a version that could
not be read, and every question then answers ``None`` (unknown) where the answer depends on it.
The workflows and ``xe-dr doctor`` ask here, so that the knowledge lives in one place.

Read in xapi-project/xen-api (not copied):

* ``ocaml/xapi/create_misc.ml`` ``make_software_version`` and ``ocaml/xapi/xapi_globs.ml``
  ``software_version``: the ``xapi`` key is major.minor only (``1.249``, ``24.19``); from the
  24.x line ``xapi_build`` holds the whole version (``24.19.2``). v1.249.42 has no
  ``xapi_build``.
* ``ocaml/xapi/message_forwarding.ml`` PBD.plug: up to v23.21.0 the master's plug of a shared
  SR runs ``Xapi_sr.scan_one`` and then the callback that reads the metadata VDIs
  (``Xapi_dr.handle_metadata_vdis``); from v23.22.0 (commit 7c04e3e5e4, CA-379112) it runs the
  callback alone, so an SR a DR task attaches has no VDI records until it is scanned.
* ``ocaml/idl/datamodel_errors.ml``: OTHER_OPERATION_IN_PROGRESS has the parameters (class,
  object) up to v25.26.0 and (class, object, operation_type, operation_ref) from v25.27.0.
* ``ocaml/xapi/xapi_network.ml`` ``create`` (``bridge_blacklist``, the same in v1.249.42,
  v24.19.2 and HEAD) and ``ocaml/xapi/import.ml`` (networks): a VM's network that matches no
  local network by name or bridge is created with the foreign bridge, which a user's session
  may not use: the recovery fails with INVALID_VALUE on every release.

And in xapi-project/sm, ``LVHDoISCSISR.py`` and ``LVHDoHBASR.py`` (probe): with multipathing
on, a probe of a LUN whose multipath map exists on the host fails with sm's error 16, which
xapi reports as SR_DEVICE_IN_USE (``ocaml/xapi/sm_exec.ml``).
"""

import re

#: The first xapi whose PBD.plug no longer scans the SR (commit 7c04e3e5e4).
PLUG_STOPS_SCANNING = (23, 22, 0)
#: The first xapi whose OTHER_OPERATION_IN_PROGRESS has four parameters.
OPERATION_IN_PROGRESS_FOUR_PARAMS = (25, 27, 0)

_LEADING_VERSION = re.compile(r"^v?(\d+(?:\.\d+){0,2})")


def parse_version(text):
    """``"24.19.2"`` -> ``(24, 19, 2)``; ``"1.249"`` -> ``(1, 249, 0)``; a suffix after the
    numbers (``"25.6.0-1.xs8"``) is ignored; anything else (``""``, ``"dev"``) -> None."""
    match = _LEADING_VERSION.match((text or "").strip())
    if not match:
        return None
    parts = [int(p) for p in match.group(1).split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def xapi_version(software_version):
    """The xapi version of a host from its ``software-version`` map: ``xapi_build`` where it
    is there and agrees with ``xapi`` (major.minor), else ``xapi`` alone; None if neither
    reads as a version."""
    short = parse_version((software_version or {}).get("xapi"))
    build = parse_version((software_version or {}).get("xapi_build"))
    if build is not None and (short is None or build[:2] == short[:2]):
        return build
    return short


def version_text(version):
    """``(24, 19, 2)`` -> ``"24.19.2"``; None -> ``"unknown"``."""
    return ".".join(str(p) for p in version) if version else "unknown"


def plug_scans(version):
    """Whether this xapi's PBD.plug scans an SR before reading its metadata copies
    (before 23.22.0); None when the version is unknown."""
    if version is None:
        return None
    return version < PLUG_STOPS_SCANNING


def operation_in_progress_params(version):
    """How many parameters OTHER_OPERATION_IN_PROGRESS has on this xapi (2 or 4); None when
    the version is unknown."""
    if version is None:
        return None
    return 4 if version >= OPERATION_IN_PROGRESS_FOUR_PARAMS else 2


def unmatched_network_fails(version):
    """Whether recovering a VM whose network matches no local network by name or bridge fails
    (INVALID_VALUE on the bridge): on every release read, so whatever ``version`` is."""
    return True


def probe_refuses_attached_lun(multipathing):
    """Whether sm refuses (SR_DEVICE_IN_USE) a probe of a LUN already attached on a host with
    this ``Host.multipathing`` setting."""
    return bool(multipathing)
