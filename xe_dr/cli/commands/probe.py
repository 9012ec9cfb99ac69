"""``xe-dr probe``: find the mirrored storage at the DR site, one step at a time."""

from xe_dr.cli.storage_options import add_storage_arguments, storage_specs
from xe_dr.errors import UsageError
from xe_dr.exitcodes import ExitCode

NAME = "probe"
HELP = ("probe iSCSI or HBA storage step by step: the target's IQNs, then its LUNs, then the "
        "SRs on a LUN and whether they hold pool metadata")
EXAMPLES = (
    "xe-dr -H root@xcp-b1 probe --target 10.0.2.50",
    "xe-dr -H root@xcp-b1 probe --target 10.0.2.50 \\\n"
    "    --iqn iqn.2001-05.com.example:site-b",
    "xe-dr -H root@xcp-b1 probe --hba --scsiid 3600a098038303053453f463045727a6c",
)


def add_arguments(parser):
    add_storage_arguments(parser)


def run(ctx):
    from xe_dr.dr.storage import probe
    specs = storage_specs(ctx, allow_partial=True)
    if not specs:
        raise UsageError("say where to probe: --target ADDRESS (iSCSI) or --hba")
    answers = []
    known = {r["uuid"] for r in ctx.xe.list("sr", params=("uuid",))}
    for spec in specs:
        answer = probe(ctx.xe, spec)
        answer["storage"] = spec.to_json()
        for sr in answer["items"] if answer["stage"] == "srs" else ():
            sr["known_here"] = sr["uuid"] in known
        answers.append(answer)
    ctx.output.data({"probes": answers}, _text(answers))
    return ExitCode.OK


def _text(answers):
    lines = []
    for answer in answers:
        items = answer["items"]
        if answer["stage"] == "iqns":
            lines.append("target IQNs:")
            lines += ["  %s  %s%s" % (t["target_iqn"], t["ip_address"],
                                       ":%s" % t["port"] if t["port"] else "")
                      for t in items if not t["wildcard"]]
        elif answer["stage"] == "luns":
            lines.append("LUNs:")
            lines += ["  SCSIid %s  LUN %s  %s  %s %s" % (
                l["scsi_id"], l["lun_id"], _size(l["size"]), l["vendor"] or "", l["serial"] or "")
                for l in items]
        elif answer["stage"] == "devices":
            lines.append("HBA devices:")
            lines += ["  SCSIid %s  %s  %s %s" % (d["scsi_id"], _size(d["size"]), d["vendor"] or "",
                                                  d["path"] or "") for d in items]
        else:
            lines.append("SRs on LUN %s:" % answer["storage"]["device_config"].get("SCSIid"))
            for sr in items:
                lines.append("  %s  %-24s pool metadata: %s%s" % (
                    sr["uuid"], sr["name_label"] or "-",
                    {True: "yes", False: "no", None: "unknown"}[sr["pool_metadata_detected"]],
                    "  (already known in this pool)" if sr["known_here"] else ""))
        lines.append("next: " + answer["next"])
    return lines


def _size(size):
    return "%.1f GiB" % (size / 1073741824.0) if size else "?"
