"""Release profiles: which xapi a lab's hosts run, and what that changes.

Each profile is pinned to one tag of xapi-project/xen-api that was read for it; a profile
sets only what differs between them (everything else follows the newest behaviour the lab
was checked against). ``lab create --release NAME``; the default is XCP-ng 8.3, the release
most deployed today. Brands that share a xapi line share its behaviour and differ in
``software-version`` only.

What a profile decides:

* ``scan_on_plug``: the master's PBD.plug of a shared SR scans it first and then handles the
  metadata VDIs (``message_forwarding.ml`` PBD.plug, ``Xapi_sr.scan_one ~callback``) up to
  v23.21.0; from v23.22.0 (commit 7c04e3e5e4, CA-379112) it calls the callback alone, so a
  freshly introduced SR has no VDI records, data disks included, until something scans it.
* ``errors``: the datamodel's parameter names and sentences where they changed
  (``ocaml/idl/datamodel_errors.ml``): OTHER_OPERATION_IN_PROGRESS has (class, object) up to
  v25.26 and four parameters from v25.27; HOST_IS_SLAVE says "pool member ... master host" in
  1.249 and "supporter ... coordinator host" later.
* ``pythons``: the interpreters dom0 has, by the name a plugin's first line uses, and which of
  them can import XenAPI / XenAPIPlugin (reference, version map; xcp-ng/xcp-ng-xapi-plugins#73:
  XCP-ng 8.3 still runs its own plugins under 2.7; XenServer 9 has no Python 2).
* ``message_destroy_many``: ``message-destroy`` takes ``uuid`` or ``uuids`` (commit 923cabd819,
  CP-38688, from v22.19.0); v1.249 requires ``uuid`` (commands/message.py).
* ``message_body_xml``: Message.create refuses a body with control characters or Unicode
  non-characters (``Encodings.UTF8_XML``) up to v25.30; from v25.31.0 (commit fb83a6b325,
  XSA-474) it checks UTF-8 only.
* ``vif_modes_extended``: ``vif-configure-ipv4`` takes ``mode=dhcp`` and
  ``vif-configure-ipv6`` ``mode=autoconf`` from v26.16.0 (commit d045710cbe, datamodel.ml
  VIF.configure_ipv4/6 "Mode extended"; the parse error is then the generated
  ``Expected one of 'None', 'Static', 'DHCP', got <mode>``); before, both take none or static
  only (record_util.ml ``vif_ipv4_configuration_mode_of_string``: ``Expected 'none' or
  'static', got <mode>``).
* ``software_version``: the host's ``software-version`` map as ``create_misc.ml``
  ``make_software_version`` builds it (1.249 has ``xapi`` = major.minor and no
  ``xapi_build``).
"""

# The interpreter versions stand for pyenv's builds of the same minor version.
_PY27, _PY36, _PY311, _PY312 = "2.7.18", "3.6.15", "3.11.7", "3.12.1"

_OLD_OPERATION_IN_PROGRESS = (["class", "object"],
                              "Another operation involving the object is currently in progress")
_OLD_HOST_IS_SLAVE = (["Master IP address"],
                      "You cannot make regular API calls directly on a pool member. Please pass "
                      "API calls via the master host.")


def _software_version(brand, product_version, text, platform_version, xapi, xapi_build,
                      date, xen, linux, xencenter):
    version = {
        "product_version": product_version, "product_version_text": text,
        "product_version_text_short": text, "platform_name": "XCP",
        "platform_version": platform_version, "product_brand": brand,
        "build_number": "cloud" if brand == "XCP-ng" else "release/%s" % text, "git_id": "0",
        "hostname": "localhost", "date": date, "dbv": date.replace("-", ".", 1).replace("-", ""),
        "is_preview_release": "false", "xapi": xapi, "xen": xen, "linux": linux,
        "xencenter_min": xencenter, "xencenter_max": xencenter,
        "network_backend": "openvswitch", "db_schema": "5.786" if xapi_build else "5.602",
    }
    if xapi_build:
        version["xapi_build"] = xapi_build
    return version


_1_249 = {
    "xapi_tag": "v1.249.42", "scan_on_plug": True, "message_destroy_many": False,
    "vif_modes_extended": False,
    "errors": {"OTHER_OPERATION_IN_PROGRESS": _OLD_OPERATION_IN_PROGRESS,
               "HOST_IS_SLAVE": _OLD_HOST_IS_SLAVE},
    # CentOS 7 dom0: Python 2.7 runs the plugins; no python3 that has XenAPIPlugin.
    "pythons": {"python": (_PY27, True), "python2": (_PY27, True)},
}
_24_19 = {
    "xapi_tag": "v24.19.2", "scan_on_plug": False, "vif_modes_extended": False,
    "errors": {"OTHER_OPERATION_IN_PROGRESS": _OLD_OPERATION_IN_PROGRESS},
    "pythons": {"python": (_PY27, True), "python2": (_PY27, True), "python3": (_PY36, True)},
}
_HEAD = {
    "xapi_tag": "e2ee48d688 (master, 2026-08, after v26.17.0)", "scan_on_plug": False, "errors": {},
    "message_body_xml": False,
}

RELEASES = {
    "citrix-8.2": dict(_1_249, title="Citrix Hypervisor 8.2 CU1", software_version=
                       _software_version("Citrix Hypervisor", "8.2.1", "8.2", "3.2.1", "1.249",
                                         None, "2022-06-21", "4.13.5", "4.19.0+1", "2.16")),
    "xcp-ng-8.2": dict(_1_249, title="XCP-ng 8.2 LTS", software_version=
                       _software_version("XCP-ng", "8.2.1", "8.2", "3.2.1", "1.249", None,
                                         "2022-02-11", "4.13.5-9.40", "4.19.0+1", "2.16")),
    "xenserver-8": dict(_24_19, title="XenServer 8", software_version=
                        _software_version("XenServer", "8.4.0", "8", "3.4.0", "24.19",
                                          "24.19.2", "2024-09-26", "4.17.5-3", "4.19.0+1",
                                          "2.21")),
    "xcp-ng-8.3": dict(_24_19, title="XCP-ng 8.3", software_version=
                       _software_version("XCP-ng", "8.3.0", "8.3", "3.4.0", "24.19", "24.19.2",
                                         "2024-09-26", "4.17.5-3", "4.19.0+1", "2.21")),
    "xenserver-9": dict(_HEAD, title="XenServer 9",
                        pythons={"python": (_PY311, True), "python3": (_PY311, True)},
                        software_version=_software_version(
                            "XenServer", "9.0.0", "9", "3.5.0", "26.17", "26.17.0", "2026-08-21",
                            "4.19.2-1", "6.6.0+1", "2.23")),
    "xcp-ng-9": dict(_HEAD, title="XCP-ng 9", pythons={"python3": (_PY312, True)},
                     software_version=_software_version(
                         "XCP-ng", "9.0.0", "9.0", "3.5.0", "26.17", "26.17.0", "2026-08-21",
                         "4.19.2-1", "6.6.0+1", "2.23")),
}
DEFAULT = "xcp-ng-8.3"


def names():
    return sorted(RELEASES)


def profile(name):
    """The profile called ``name`` (``None``: the default)."""
    try:
        return RELEASES[name or DEFAULT]
    except KeyError:
        raise ValueError("unknown release %r (known: %s)" % (name, ", ".join(names())))


def of_lab(lab):
    """The profile of a lab (labs made before profiles existed are the default)."""
    return profile((lab.config.get("options") or {}).get("release"))
