"""xapi's memory accounting, as the lab's hosts answer ``host-compute-free-memory`` and show a
VM's ``memory-overhead``.

Read in xapi-project/xen-api (not copied):

- ``ocaml/xapi-idl/memory/memory.ml``: the models (``HVM`` for hvm and pvh guests, ``Linux``
  for pv, ``PVinPVH``), ``shadow_mib`` (256 pages per vCPU plus twice static-max in MiB,
  rounded up to MiB, times the shadow multiplier, at least 1), ``overhead_mib`` (extra
  internal + extra external + shadow + the shim; since v26.3.0, commit ec3bd4a887 /
  CA-423172, also 38 pages per vCPU) and ``footprint_mib`` (target + overhead);
- ``ocaml/xapi/memory_check.ml``: ``vm_compute_memory_overhead`` (what xapi stores in
  ``VM.memory_overhead``), ``vm_compute_used_memory`` (the policy's figure + the stored
  overhead), ``host_compute_free_memory_with_maximum_compression`` (what
  ``Host.compute_free_memory`` returns, xapi_host.ml ``compute_free_memory``): the host's
  total memory less its ``memory_overhead``, less every VM resident on or scheduled to the
  host, each at dynamic-min + overhead (the ``Dynamic_min`` policy: guests balloon down),
  never below 0.

The lab's ``memory_total`` stands for ``Host_metrics.memory_total``.
"""

MIB = 1024 * 1024
PAGES_PER_MIB = 256

# (extra internal MiB, extra external MiB, has a shim) per domain type (memory.ml
# *_memory_model_data); the shim is 23 MiB + static-max / 90.
_MODELS = {"hvm": (1, 1, False), "pvh": (1, 1, False), "pv": (0, 1, False),
           "pv_in_pvh": (1, 1, True)}
# CA-423172 (v26.3.0): Xen uses about 294 pages per vCPU, not 256.
VCPU_EXTRA_PAGES = 38
VCPU_EXTRA_SINCE = (26, 3)


def _up(value, unit):
    return -(-int(value) // unit)


def _domain_type(row):
    kind = (row.get("domain_type") or "hvm").replace("-", "_")
    return kind if kind in _MODELS else "hvm"


def vcpu_extra_pages(host_row):
    """38 on a host whose xapi is v26.3.0 or later, else 0 (its software-version)."""
    version = (host_row or {}).get("software_version") or {}
    text = version.get("xapi_build") or version.get("xapi") or ""
    try:
        parts = tuple(int(p) for p in text.split(".")[:2])
    except ValueError:
        return VCPU_EXTRA_PAGES
    return VCPU_EXTRA_PAGES if parts >= VCPU_EXTRA_SINCE else 0


def overhead_mib(domain_type, static_max_mib, vcpus, multiplier, extra_pages):
    internal, external, shim = _MODELS.get(domain_type, _MODELS["hvm"])
    shadow = max(1, int(float(_up(PAGES_PER_MIB * vcpus + 2 * static_max_mib, PAGES_PER_MIB))
                        * multiplier))
    return (internal + external + shadow + _up(extra_pages * vcpus, PAGES_PER_MIB) +
            (23 + static_max_mib // 90 if shim else 0))


def vm_overhead(row, extra_pages):
    """memory_check.ml vm_compute_memory_overhead: bytes (the VM's shadow multiplier, whatever
    its domain type)."""
    return MIB * overhead_mib(_domain_type(row), _up(row.get("memory_static_max", 0), MIB),
                              int(row.get("VCPUs_max", 1)),
                              float(row.get("HVM_shadow_multiplier", 1.0)), extra_pages)


def stored_overhead(row, extra_pages):
    """``VM.memory_overhead``: the row's, else what xapi computes and stores for it
    (Xapi_vm_helpers.update_memory_overhead, at creation and on every memory change)."""
    if row.get("memory_overhead") is not None:
        return int(row["memory_overhead"])
    return vm_overhead(row, extra_pages)


def host_free(db, host_ref):
    """Host.compute_free_memory (memory_check.ml host_compute_free_memory_with_maximum_
    compression, ignoring no VM)."""
    host = db.get("host", host_ref)
    extra = vcpu_extra_pages(host)
    available = int(host.get("memory_total", 0)) - int(host.get("memory_overhead", 0))
    for ref, row in db.rows("VM").items():
        if row.get("resident_on") == host_ref or \
                row.get("scheduled_to_be_resident_on") == host_ref:
            available -= int(row.get("memory_dynamic_min", 0)) + stored_overhead(row, extra)
    return max(0, available)
