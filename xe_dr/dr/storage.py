"""Finding the mirrored storage: progressive sr-probe for lvmoiscsi and lvmohba (reference §5).

Each probe answers with what the next step needs: the target's IQNs, then its LUNs (or the
HBA's devices), then the SRs on a LUN and whether they hold pool metadata. CHAP passwords
travel only as secret parameters (XE_EXTRA_ARGS, never argv) and are never stored.
"""

from xe_dr.errors import UsageError, XeDrError
from xe_dr.xe.errors import XapiError
from xe_dr.xe.probe import parse_hba_devlist, parse_iqn_list, parse_lun_list, parse_srlist, \
    probe_xml_from_error

ISCSI, HBA = "lvmoiscsi", "lvmohba"

# What an SM error number means for the person probing, and what to do (XE_SR_ERRORCODES.xml).
SM_HINTS = {
    16: "the LUN is in use here already (a multipath map holds it)",
    68: "iSCSI login failed: check the initiator's access on the array and the CHAP "
        "credentials (--chap-user, --chap-password-file)",
    83: "iSCSI discovery failed: check --iqn (one of the target's IQNs), --target, --port "
        "and the array's access list",
    95: "no target given: add --target ADDRESS",
    97: "the host has no initiator IQN (other-config:iscsi_iqn): set one on every host",
    140: "the target name does not resolve: use an IP address or fix DNS on the hosts",
    141: "cannot reach the iSCSI service on the target: check the address, port and network",
    142: "the port must be a number between 1 and 65535",
}


class StorageSpec(object):
    """Where the replicated LUN is: SR type, device-config, and the CHAP secret (not stored)."""

    def __init__(self, sr_type, device_config, chap_password=None):
        self.sr_type = sr_type
        self.device_config = dict(device_config)
        self.chap_password = chap_password

    @classmethod
    def iscsi(cls, target, port=None, iqn=None, scsiid=None, chap_user=None, chap_password=None,
              chap_secret=None):
        """``chap_secret``: the uuid of a xapi secret holding the CHAP password, the
        administrator's (a recovery plan's ``chap-password-secret``), instead of the
        password."""
        if not target:
            raise UsageError("an iSCSI probe needs --target ADDRESS")
        config = {"target": target}
        if port:
            config["port"] = str(port)
        if iqn:
            config["targetIQN"] = iqn
        if scsiid:
            config["SCSIid"] = scsiid
        if chap_user and chap_secret:
            config["chapuser"] = chap_user
            config["chappassword_secret"] = chap_secret
        elif chap_user:
            if chap_password is None:
                raise UsageError("--chap-user needs a password",
                                 hint="--chap-password-file FILE or --chap-password-env VAR")
            config["chapuser"] = chap_user
        return cls(ISCSI, config, chap_password if chap_user else None)

    @classmethod
    def hba(cls, scsiid=None):
        return cls(HBA, {"SCSIid": scsiid} if scsiid else {})

    @property
    def complete(self):
        return "SCSIid" in self.device_config and (
            self.sr_type == HBA or "targetIQN" in self.device_config)

    def with_secret(self, secret_uuid):
        """device-config naming a xapi secret that holds the CHAP password.

        Why a secret rather than ``chappassword``: xapi moves any ``*password`` key of a
        device-config into a new secret of its own on every probe and PBD, and a probe's is
        never destroyed (read from xapi's source by the lab's author); XenCenter creates one
        secret and passes ``chappassword_secret`` for the same reason."""
        config = dict(self.device_config)
        if secret_uuid:
            config["chappassword_secret"] = secret_uuid
        return config

    def to_json(self):
        """What is kept in the journal: everything but the password."""
        return {"type": self.sr_type, "device_config": self.device_config,
                "chap": bool(self.chap_password)}


def probe(xe, spec, host=None):
    """One ``sr-probe`` with ``sm-config:metadata=true``; returns the stage reached and its data.
    ``host``: the uuid of the host that probes (default: the master).

    ``{"stage": "iqns"|"luns"|"devices"|"srs", "items": [...], "next": hint}``
    """
    secret = create_secret(xe, spec.chap_password) if spec.chap_password else None
    params = {"type": spec.sr_type, "device-config": spec.with_secret(secret),
              "sm-config": {"metadata": "true"}}
    if host:
        params["host-uuid"] = host
    try:
        output = xe.run("sr-probe", params)
    except XapiError as failure:
        if failure.sm_error_number == 107 and spec.device_config.get("SCSIid") and \
                not probe_xml_from_error(failure):
            # A SCSIid the target does not have: sm prints no LUN list then (BaseISCSI.attach
            # raises ConfigSCSIid), so the list is asked for to say what there is.
            raise _not_a_lun(xe, spec, host=host)
        answer = _progress_from_error(failure, spec)
        if answer["stage"] == "iqns" and spec.device_config.get("SCSIid"):
            answer["next"] = _iqn_holding(xe, spec, answer["items"], host)
        return answer
    finally:
        if secret:
            xe.run("secret-destroy", {"uuid": secret})
    srs = parse_srlist(output)
    if not srs and spec.sr_type == HBA and spec.device_config.get("SCSIid"):
        # lvmohba answers a SCSIid no HBA sees with an empty list (lvutil.scan_srlist
        # swallows the missing device): tell that from a LUN without an SR.
        listed = probe(xe, _without_scsiid(spec), host)
        if spec.device_config["SCSIid"] not in [d.get("scsi_id") for d in listed["items"]]:
            raise _not_a_lun(xe, spec, listed, host)
    return {"stage": "srs", "items": srs,
            "next": ("fail over with these SRs: xe-dr failover --sr UUID ... (plus these probe "
                     "options)") if srs else "no SR on this LUN"}


def create_secret(xe, value, marks=None):
    """A xapi secret holding ``value``, which travels in XE_EXTRA_ARGS, never in argv.
    ``marks``: its other-config (xapi's secret-create reads ``other-config:``,
    cli_operations.ml ``secret_create``, though xe never prints it)."""
    return xe.new_uuid("secret-create", {"other-config": marks} if marks else None,
                       secret_params={"value": value})


def find_secret(xe, value):
    """The secret holding ``value``, if one exists (after a crash right after creating it)."""
    for record in xe.list("secret", params=("uuid", "value")):
        if record.get("value") == value:
            return record["uuid"]
    return None


def _without_scsiid(spec):
    return StorageSpec(spec.sr_type, dict((k, v) for k, v in spec.device_config.items()
                                          if k != "SCSIid"), spec.chap_password)


def _not_a_lun(xe, spec, listed=None, host=None):
    """The usage error for a SCSIid that is not a LUN of the target (or the HBAs)."""
    if listed is None:
        listed = probe(xe, _without_scsiid(spec), host)
    return UsageError(not_a_lun_text(spec.sr_type, spec.device_config, [
        item.get("scsi_id") for item in listed["items"]]),
        hint="check it with 'xe-dr probe' without --scsiid")


def _iqn_holding(xe, spec, targets, host=None):
    """A SCSIid given without --iqn: sm lists the target's IQNs and looks no further (its
    discovery comes first, BaseISCSI.load), so each IQN's LUNs are listed here to say which
    IQN to add; a SCSIid that is a LUN of none of them is a usage error naming it."""
    scsiid = spec.device_config["SCSIid"]
    luns, holding = [], []
    for target in targets:
        iqn = target["target_iqn"]
        if target["wildcard"] or iqn in holding:
            continue
        config = dict((k, v) for k, v in spec.device_config.items() if k != "SCSIid")
        config["targetIQN"] = iqn
        listed = probe(xe, StorageSpec(spec.sr_type, config, spec.chap_password), host)
        found = [item.get("scsi_id") for item in listed["items"]] \
            if listed["stage"] == "luns" else []
        luns += found
        if scsiid in found:
            holding.append(iqn)
    if not holding:
        raise UsageError(not_a_lun_text(spec.sr_type, spec.device_config, luns),
                         hint="check it with 'xe-dr probe' without --scsiid")
    return "add --iqn %s (its LUNs include SCSI id %s)" % (holding[0], scsiid)


def next_step(answer):
    """What an incomplete probe answer asks for, with what there is named in the line itself
    (for a message that has no listing above it)."""
    if answer["stage"] == "iqns":
        return "add --iqn IQN (the target has: %s)" % ", ".join(
            t["target_iqn"] for t in answer["items"] if not t["wildcard"])
    if answer["stage"] in ("luns", "devices"):
        return "add --scsiid SCSIID (%s: %s)" % (
            "the target has" if answer["stage"] == "luns" else "the HBAs see",
            ", ".join(i.get("scsi_id") or "?" for i in answer["items"]) or "none")
    return answer["next"]


def not_a_lun_text(sr_type, device_config, scsi_ids):
    have = ", ".join(sorted(s for s in scsi_ids if s)) or "none"
    if sr_type in (ISCSI, "lvhdoiscsi"):
        return "SCSI id %s is not a LUN of target %s (it has: %s)" % (
            device_config["SCSIid"], device_config.get("target"), have)
    return "SCSI id %s is not a LUN the HBAs see (they see: %s)" % (
        device_config["SCSIid"], have)


def _progress_from_error(failure, spec):
    number = failure.sm_error_number
    xml = probe_xml_from_error(failure)
    if number == 96 and xml:
        targets = parse_iqn_list(xml)
        return {"stage": "iqns", "items": targets,
                "next": "add --iqn IQN (one of the target IQNs above)"}
    if number == 107 and xml and spec.sr_type == ISCSI:
        return {"stage": "luns", "items": parse_lun_list(xml),
                "next": "add --scsiid SCSIID (one of the LUNs above)"}
    if number == 107 and xml and spec.sr_type == HBA:
        devices = parse_hba_devlist(xml)
        return {"stage": "devices", "items": devices["block_devices"],
                "adapters": devices["adapters"],
                "next": "add --scsiid SCSIID (one of the devices above)"}
    hint = SM_HINTS.get(number)
    if hint:
        raise XeDrError("sr-probe failed: %s" % failure.description, hint=hint)
    raise failure
