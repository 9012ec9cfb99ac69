"""The pool/query layer: small value objects read with one batched xe call per class.

Nothing here issues one call per object: a pool of 5,000 VMs is read with the same number
of calls as a pool of 5. Values are plain Python (str, int, bool, dict, list, None).
"""

from xe_dr.xe.records import XeOutputError, parse_map, parse_ref

# The product brand keys of Host.software_version, newest first in preference.
_PRODUCT_KEYS = ("product_version", "platform_version")


def _bool(text):
    return text == "true"


def _int(text, default=0):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


class Host(object):
    FIELDS = ("uuid", "name-label", "address", "enabled", "software-version", "memory-free",
              "multipathing")

    def __init__(self, uuid, name_label, address="", enabled=True, software_version=None,
                 memory_free=None, multipathing=False):
        self.uuid = uuid
        self.name_label = name_label
        self.address = address
        self.enabled = enabled
        self.software_version = software_version or {}
        self.memory_free = memory_free
        # Host.multipathing: sm then refuses a probe of a LUN attached here (SR_DEVICE_IN_USE)
        self.multipathing = multipathing

    @classmethod
    def from_record(cls, record):
        return cls(record["uuid"], record.get("name-label", ""), record.get("address", ""),
                   _bool(record.get("enabled", "true")),
                   parse_map(record.get("software-version", "")),
                   _int(record.get("memory-free"), None),
                   _bool(record.get("multipathing", "false")))

    @property
    def product_brand(self):
        return self.software_version.get("product_brand") or \
            self.software_version.get("platform_name") or "unknown"

    @property
    def product_version(self):
        for key in _PRODUCT_KEYS:
            if self.software_version.get(key):
                return self.software_version[key]
        return "unknown"

    @property
    def xapi_version(self):
        return self.software_version.get("xapi") or "unknown"

    @property
    def xapi_build(self):
        """The whole xapi version (``24.19.2``); absent before the 24.x line (1.249)."""
        return self.software_version.get("xapi_build") or ""

    @property
    def build_number(self):
        return self.software_version.get("build_number") or ""

    def to_json(self):
        return {
            "uuid": self.uuid, "name_label": self.name_label, "address": self.address,
            "enabled": self.enabled, "product_brand": self.product_brand,
            "product_version": self.product_version, "xapi_version": self.xapi_version,
            "build_number": self.build_number, "memory_free": self.memory_free,
            "xapi_build": self.xapi_build or None, "multipathing": self.multipathing,
        }


class Pool(object):
    FIELDS = ("uuid", "name-label", "master", "ha-enabled", "other-config", "restrictions")

    def __init__(self, uuid, name_label, master, ha_enabled=False, other_config=None,
                 restrictions=None):
        self.uuid = uuid
        self.name_label = name_label
        self.master = master
        self.ha_enabled = ha_enabled
        self.other_config = other_config or {}
        self.restrictions = restrictions or {}

    @classmethod
    def from_record(cls, record):
        return cls(record["uuid"], record.get("name-label", ""), parse_ref(record.get("master", "")),
                   _bool(record.get("ha-enabled", "false")),
                   parse_map(record.get("other-config", "")),
                   parse_map(record.get("restrictions", "")))

    @property
    def dr_allowed(self):
        """DR is licensed unless ``restrict_dr`` is true (XCP-ng never restricts it).

        An absent key means the release predates the restriction or does not restrict.
        """
        return self.restrictions.get("restrict_dr", "false") != "true"

    @property
    def metadata_lun_alerts(self):
        return self.other_config.get("metadata_lun_alerts") == "true"

    def to_json(self):
        return {"uuid": self.uuid, "name_label": self.name_label, "master": self.master,
                "ha_enabled": self.ha_enabled, "dr_allowed": self.dr_allowed,
                "metadata_lun_alerts": self.metadata_lun_alerts}


def read_pool(xe):
    """The pool this xe talks to (a pool always has exactly one record)."""
    records = xe.list("pool", params=Pool.FIELDS)
    if not records:
        raise XeOutputError("pool-list printed no pool")
    return Pool.from_record(records[0])


def read_hosts(xe):
    return [Host.from_record(r) for r in xe.list("host", params=Host.FIELDS)]


