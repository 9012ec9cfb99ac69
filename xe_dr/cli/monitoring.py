"""``status --format nagios|prometheus``: the health checks (xe_dr/dr/health.py) in the forms
monitoring systems read.

Nagios/Icinga (the Monitoring Plugins guidelines, monitoring-plugins.org doc/guidelines):
one status line ``XE-DR STATE - summary | perfdata``, then detail lines, exit 0 OK,
1 WARNING, 2 CRITICAL, 3 UNKNOWN. Perfdata is ``'label'=value[UOM];[warn];[crit];[min];[max]``
with ranges as plugins print them (``N`` alerts above N).

Prometheus: the text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats),
gauges only, no timestamps, names ``xe_dr_*`` with the unit last (``_seconds``, ``_bytes``).
"""

from xe_dr.dr import health
from xe_dr.text import printable

NAGIOS_PREFIX = "XE-DR"
#: The longest summary on the status line: the line, perfdata last, must fit in what NRPE 2
#: passes (1024 bytes of output) and Nagios reads of a plugin (4 KiB); the detail lines
#: below it carry every check's whole summary.
SUMMARY_LIMIT = 300


def plugin_text(text):
    """Text of a pool (its name, a VM's, an error) as one piece of a plugin's line: whitespace,
    newlines too, as single spaces, control characters escaped, and ``|`` as ``/``: Nagios
    and Icinga read perfdata from the first ``|`` of the status line and of each detail
    line, with no escape."""
    return printable(" ".join(text.split())).replace("|", "/")


def nagios_unknown(text):
    """The status line of a check that could not be made (exit 3)."""
    return "%s %s - %s" % (NAGIOS_PREFIX, health.UNKNOWN, plugin_text(text))


def _number(value):
    if value is None:
        return ""
    return ("%d" % value) if value == int(value) else ("%.3f" % value)


def perfdata(label, value, unit="", warn=None, crit=None, minimum=0, maximum=None):
    # A label is quoted, as the guidelines allow always; its quote is doubled.
    fields = [_number(value) + unit if value is not None else "U",
              _number(warn), _number(crit), _number(minimum), _number(maximum)]
    while fields and fields[-1] == "":
        fields.pop()
    return "'%s'=%s" % (label.replace("'", "''"), ";".join(fields))


def nagios(status, checks):
    """``(lines, exit status)``: the status line, then one line per check."""
    state = health.worst([c["state"] for c in checks])
    pool = status["pool"]["name_label"] or status["pool"]["uuid"]
    bad = [c for c in checks if c["state"] != health.OK]
    if bad:
        ordered = sorted(bad, key=lambda c: -health.STATES.index(c["state"]))
        summary = "; ".join(c["summary"] for c in ordered)
    else:
        counts = status["counts"]
        summary = "%d VM(s) protected; %s" % (
            counts.get("protected", 0),
            "; ".join(c["summary"] for c in checks if c["name"] in ("srs-missing", "metadata-age")))
    perf = []
    for check in checks:
        if check["name"] in ("licence", "drill-copy"):  # no threshold, no figure
            continue
        perf.append(perfdata(check["name"].replace("-", "_"), check["value"], check["unit"],
                          check["warning"], check["critical"], 0, check["max"]))
    perf.append(perfdata("protected", status["counts"].get("protected", 0)))
    summary = plugin_text(summary)
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[:SUMMARY_LIMIT - 4].rstrip() + " ..."
    lines = ["%s %s - pool %s: %s | %s" % (NAGIOS_PREFIX, state, plugin_text(pool), summary,
                                          " ".join(perf))]
    for check in checks:
        lines.append("%s %s: %s" % (check["state"], check["name"], plugin_text(check["summary"])))
    return lines, health.STATES.index(state)


# -- Prometheus ----------------------------------------------------------------------------

def _label_value(text):
    return str(text).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Exposition(object):
    """Metric families in the order first named; each ``# HELP`` and ``# TYPE`` once."""

    def __init__(self):
        self.families = []
        self.samples = {}

    def gauge(self, name, help_text, value, **labels):
        if name not in self.samples:
            self.families.append((name, help_text))
            self.samples[name] = []
        if value is None:
            return
        self.samples[name].append((labels, value))

    def text(self):
        lines = []
        for name, help_text in self.families:
            lines.append("# HELP %s %s" % (name, help_text.replace("\\", "\\\\")
                                            .replace("\n", "\\n")))
            lines.append("# TYPE %s gauge" % name)
            for labels, value in self.samples[name]:
                label_text = ",".join('%s="%s"' % (k, _label_value(v))
                                      for k, v in sorted(labels.items()))
                lines.append("%s%s %s" % (name, "{%s}" % label_text if label_text else "",
                                          _prometheus_number(value)))
        return "\n".join(lines) + "\n"


def _prometheus_number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if value == float("inf"):  # health.UNDATED: a copy older than every heartbeat
        return "+Inf"
    return _number(value)


def prometheus(status, checks):
    """The exposition text of a status document and its checks."""
    out = Exposition()
    add_pool_metrics(out, status, checks)
    return out.text()


def add_pool_metrics(out, status, checks, labels=None):
    """A pool's series into ``out``, labelled ``pool``, ``pool_uuid`` and ``labels`` (a
    sites file's pool name and site, for an estate's exposition)."""
    pool = dict(labels or {}, pool=status["pool"]["name_label"] or "",
                pool_uuid=status["pool"]["uuid"])
    out.gauge("xe_dr_up", "1 when xe-dr could check the pool, 0 when it could not.", 1, **pool)
    out.gauge("xe_dr_check_state", "State of each health check: 0 OK, 1 WARNING, 2 CRITICAL, "
              "3 UNKNOWN (xe-dr status --format nagios uses the same).", None)
    for check in checks:
        out.gauge("xe_dr_check_state", "", health.STATES.index(check["state"]),
                  check=check["name"], **pool)
    heartbeat = status.get("heartbeat") or {}
    out.gauge("xe_dr_metadata_heartbeat_age_seconds",
              "Seconds since the pool's previous heartbeat (other-config:xe-dr-heartbeat), "
              "written by each xe-dr status.", heartbeat.get("age_seconds"), **pool)
    out.gauge("xe_dr_metadata_age_seconds", "Seconds since the newest heartbeat in the oldest "
              "replicated metadata copy (the pool's own when the copies cannot be read; +Inf "
              "when a copy holds no heartbeat though the pool has one).",
              health.metadata_age(status)[0], **pool)
    for family, help_text, key in (
            ("xe_dr_metadata_copy_age_seconds", "Seconds since the newest heartbeat in this "
             "SR's metadata copy.", "age_seconds"),
            ("xe_dr_metadata_copy_healthy", "1 when xapi writes this SR's metadata copy "
             "(metadata-latest and a dom0 VBD attached), else 0.", "healthy"),
            ("xe_dr_metadata_copy_lag_generations", "Database generations this SR's copy is "
             "behind the live database (a lower bound; with the plugin only).", "lag"),
            ("xe_dr_metadata_copy_size_bytes", "Size of this SR's metadata VDI.", "size")):
        out.gauge(family, help_text, None)
        for target in status["replication"]:
            value = target.get(key)
            out.gauge(family, "", None if value is None else value,
                      sr=target["sr_name"], sr_uuid=target["sr"], **pool)
    srs = [c for c in checks if c["name"] == "srs-missing"][0]
    out.gauge("xe_dr_replication_srs", "SRs carrying the pool's replicated metadata.",
              len(status["replication"]), **pool)
    out.gauge("xe_dr_replication_srs_healthy", "Replication SRs whose copy xapi writes.",
              len([t for t in status["replication"] if t["healthy"]]), **pool)
    out.gauge("xe_dr_replication_srs_expected", "Replication SRs expected (--expect-srs).",
              srs["max"], **pool)
    out.gauge("xe_dr_replication_srs_limit", "Most SRs xapi replicates a pool's metadata to.",
              status.get("max_metadata_srs", 8), **pool)
    out.gauge("xe_dr_vms", "VMs by protection class (protected, at-risk, unrecoverable, "
              "ignored).", None)
    for verdict in ("protected", "at-risk", "unrecoverable", "ignored"):
        out.gauge("xe_dr_vms", "", status["counts"].get(verdict, 0), protection=verdict, **pool)
    drill = status.get("last_drill")
    out.gauge("xe_dr_last_drill_timestamp_seconds", "When the last drill (here, or at the "
              "--peer DR pool) reached its verdict, seconds since the epoch.",
              drill and drill["time"], **pool)
    out.gauge("xe_dr_last_drill_verified", "1 when the last drill verified every VM it "
              "selected, else 0.", drill and drill["verdict"] == "verified", **pool)
    readiness = status.get("readiness")
    out.gauge("xe_dr_readiness_checked", "1 when the DR site's readiness was checked (--peer).",
              readiness is not None, **pool)
    if readiness is not None:
        out.gauge("xe_dr_readiness_problems", "DR site readiness failures.",
                  len(readiness.get("problems", [])), **pool)
        for family, help_text, key in (
                ("xe_dr_dr_site_memory_needed_bytes", "Memory the protected VMs need to start "
                 "at the DR site.", "memory_needed_bytes"),
                ("xe_dr_dr_site_memory_free_bytes", "Free memory of the DR pool's hosts.",
                 "memory_free_bytes"),
                ("xe_dr_dr_site_vcpus_needed", "VCPUs of the protected VMs.", "vcpus_needed"),
                ("xe_dr_dr_site_cpus", "Physical CPUs of the DR pool.", "cpus")):
            out.gauge(family, help_text, readiness.get(key), **pool)
        for family, help_text, key in (
                ("xe_dr_dr_site_vms_too_big", "Protected VMs no DR host can start.",
                 "vms_too_big"),
                ("xe_dr_dr_site_networks_missing", "Networks of protected VMs the DR pool "
                 "lacks.", "networks_missing"),
                ("xe_dr_dr_site_hosts_without_plugin", "DR hosts where the xe-dr plugin does "
                 "not answer.", "hosts_without_plugin"),
                ("xe_dr_dr_site_luns_invisible", "Mirrored LUNs the DR hosts cannot see.",
                 "luns_invisible"),
                ("xe_dr_dr_site_srs_attached_at_both_sites", "Replication SRs attached at "
                 "both sites (two LVM masters on one volume group).", "attached_at_both")):
            items = readiness.get(key)
            out.gauge(family, help_text, None if items is None else len(items), **pool)


def prometheus_down(**labels):
    """The exposition of a check that could not be made: ``xe_dr_up 0``, so that a textfile
    collector's stale figures do not outlive the pool's reachability. Labelled with what
    was asked (``master``: ``-H``, or ``local``; ``estate_pool``: --pool; ``sites``: the
    sites file of an estate): the files of two pools down at once would otherwise hold one
    series twice, and node_exporter refuses a duplicate series."""
    out = Exposition()
    out.gauge("xe_dr_up", "1 when xe-dr could check the pool, 0 when it could not.", 0,
              **labels)
    return out.text()
