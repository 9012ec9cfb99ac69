#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v2.0 only (see the repository's setup.py)

DOCUMENTATION = r'''
module: replication
short_description: Pool-metadata replication of a pool of an xe-dr sites file
description:
  - Makes the pool replicate its metadata to the SRs (O(state=enabled)), or stop replicating
    it there (O(state=disabled), which deletes the SRs' metadata copies), by
    C(xe-dr replication enable|disable).
  - Reads the pool's status first (C(status --no-heartbeat), which writes nothing) and
    changes only what differs, so C(changed) is true only when an SR was enabled or disabled
    (or the metadata LUN alerts turned on); in check mode it says what it would change and
    changes nothing.
version_added: 0.1.0
author: xe-dr maintainers (!UNKNOWN)
extends_documentation_fragment:
  - xe_dr.estate.xe_dr
options:
  state:
    description:
      - V(enabled), the SRs replicate the pool's metadata; V(disabled), they do not (their
        copies deleted; C(--yes) is passed, the task being the confirmation).
    type: str
    choices: [enabled, disabled]
    default: enabled
  srs:
    description:
      - The SRs, names or UUIDs; at most 8 replicate a pool. Default, the C(srs) the sites
        file gives the pool; a pool with none (a recovery site) is left as it is.
    type: list
    elements: str
  alerts:
    description:
      - With O(state=enabled) and SRs, also turn on the pool's metadata LUN alerts
        (C(other-config:metadata_lun_alerts), C(--alerts)) so that xapi reports a broken
        copy. V(false) leaves them as they are.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Check mode reads the status and says what would change; it changes nothing.
'''

EXAMPLES = r'''
- name: Every source pool replicates to the SRs its sites file names
  xe_dr.estate.replication:
    sites: /etc/xe-dr/estate.ini
    pool: "{{ inventory_hostname }}"
    alerts: true

- name: Stop replicating to an SR about to be retired
  xe_dr.estate.replication:
    sites: /etc/xe-dr/estate.ini
    pool: A1
    srs: [iSCSI DR 2]
    state: disabled
'''

RETURN = r'''
srs:
  description: The SRs the module was asked about (O(srs), or the sites file's).
  returned: always
  type: list
  elements: str
changed_srs:
  description: The SRs it enabled or disabled (in check mode, would have).
  returned: always
  type: list
  elements: str
alerts_turned_on:
  description: Whether it turned the metadata LUN alerts on (in check mode, would have).
  returned: always
  type: bool
replication:
  description:
    - The pool's replication before any change, as C(xe-dr status --json) gives it (each
      C(sr), C(sr_name), C(replicating), C(healthy)...); null for a pool without SRs.
  returned: always
  type: list
  elements: dict
result:
  description:
    - xe-dr's document of the change (C(replication enable|disable --json)), null when
      nothing changed or in check mode.
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xe_dr.estate.plugins.module_utils.xe_dr_cli import (
    Estate, pool_spec, run_xe_dr)


def argument_spec():
    spec = pool_spec()
    spec.update(
        state=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
        srs=dict(type="list", elements="str"),
        alerts=dict(type="bool", default=False),
    )
    return spec


def replicated(name, replication):
    """Whether the SR named (its UUID or its name) holds a copy of the pool's metadata."""
    return any(name in (target.get("sr"), target.get("sr_name")) for target in replication)


def changes(state, srs, alerts, status):
    """(the SRs to enable or disable, whether to turn the alerts on), from the status."""
    replication = status.get("replication") or []
    if state == "disabled":
        return [sr for sr in srs if replicated(sr, replication)], False
    alerts_off = not (status.get("pool") or {}).get("metadata_lun_alerts")
    return [sr for sr in srs if not replicated(sr, replication)], bool(alerts and alerts_off)


def change_args(state, srs, alerts):
    """``replication enable|disable``; the SRs after ``--``, so that a name beginning with
    a dash is a name."""
    if state == "disabled":
        return ["replication", "disable", "--"] + srs
    return ["replication", "enable"] + (["--alerts"] if alerts else []) + ["--"] + srs


def main():
    module = AnsibleModule(argument_spec(), supports_check_mode=True)
    params = module.params
    pool = params["pool"]
    estate = Estate(module)
    srs = params["srs"] if params["srs"] is not None else estate.srs(pool)
    if not srs:  # a recovery site: the sites file names no SRs for it to replicate to
        module.exit_json(changed=False, srs=[], changed_srs=[], alerts_turned_on=False,
                         replication=None, result=None,
                         msg="no SRs for pool %s (srs, or srs in its [pool %s] of the sites "
                             "file): nothing to do" % (pool, pool))
    status = run_xe_dr(module, pool, ["status", "--no-heartbeat"])
    if status.rc not in (0, 1) or not isinstance(status.document, dict):
        module.fail_json(msg=status.error or "xe-dr status of %s ended with exit %d"
                         % (pool, status.rc), exit_status=status.rc, changed=False)
    todo, alerts = changes(params["state"], srs, params["alerts"], status.document)
    result = dict(changed=bool(todo or alerts), srs=srs, changed_srs=todo,
                  alerts_turned_on=alerts, replication=status.document.get("replication"),
                  result=None)
    if not result["changed"] or module.check_mode:
        module.exit_json(**result)
    outcome = run_xe_dr(module, pool, change_args(params["state"], todo, alerts),
                        yes=params["state"] == "disabled")
    if outcome.rc != 0:  # xe-dr checks every SR before it changes any
        result["changed"] = False
        module.fail_json(msg=outcome.error or "xe-dr replication %s ended with exit %d" % (
            params["state"], outcome.rc), exit_status=outcome.rc, **result)
    result["result"] = outcome.document
    module.exit_json(**result)


if __name__ == "__main__":
    main()
