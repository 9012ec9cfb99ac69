#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v2.0 only (see the repository's setup.py)

DOCUMENTATION = r'''
module: status
short_description: The DR status of a pool of an xe-dr sites file, as facts
description:
  - Runs C(xe-dr status) for the pool - its metadata replication, the heartbeat that dates
    it, every VM classified as protected, at risk or unrecoverable, the lock of a run under
    way, the last drill - and returns xe-dr's versioned JSON document as the fact
    C(xe_dr_status).
  - Never C(changed). A status writes the pool's heartbeat (C(other-config:xe-dr-heartbeat),
    which dates the replicated metadata) unless O(heartbeat=false) or check mode, which run
    C(status --no-heartbeat) and write nothing.
  - A pool with problems (xe-dr's exit 1) is a success with RV(problems) listed, unless
    O(fail_on_problems); a pool that cannot be read (unreachable, refused) fails the task
    with xe-dr's one-line message.
version_added: 0.1.0
author: xe-dr maintainers (!UNKNOWN)
extends_documentation_fragment:
  - xe_dr.estate.xe_dr
options:
  heartbeat:
    description:
      - Write the heartbeat (a status run from cron does). V(false) runs C(status
        --no-heartbeat), which writes nothing; so does check mode.
    type: bool
    default: true
  readiness:
    description:
      - Also check that the pool's C(peer) (from the sites file) could take its protected
        VMs over now (C(--peer)) - memory, CPUs, networks, the plugin, the mirrored LUNs.
        It reads the peer and changes nothing there.
    type: bool
    default: false
  expect_srs:
    description:
      - Replication SRs the pool should have, 1 to 8 (C(--expect-srs)); default, those
        configured.
    type: int
  fail_on_problems:
    description:
      - Fail the task when the status lists problems (xe-dr's exit 1).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Check mode runs C(status --no-heartbeat), which writes nothing.
'''

EXAMPLES = r'''
- name: Status of every pool of the estate
  xe_dr.estate.status:
    sites: /etc/xe-dr/estate.ini
    pool: "{{ inventory_hostname }}"
    readiness: true

- name: The same, as a monitoring check that writes nothing and fails on a problem
  xe_dr.estate.status:
    sites: /etc/xe-dr/estate.ini
    pool: "{{ inventory_hostname }}"
    heartbeat: false
    fail_on_problems: true

- name: Say which VMs are not protected
  ansible.builtin.debug:
    msg: "{{ xe_dr_status.vms | rejectattr('class', 'eq', 'protected')
             | map(attribute='name_label') }}"
'''

RETURN = r'''
status:
  description:
    - xe-dr's status document (C(xe-dr status --json), schema 1; its keys in C(man xe-dr)),
      C(pool), C(lock), C(heartbeat), C(replication), C(vms), C(counts), C(readiness),
      C(last_drill), C(health), C(problems), C(notes)...
  returned: success
  type: dict
problems:
  description: The status's problems; empty when all is well.
  returned: success
  type: list
  elements: str
exit_status:
  description: xe-dr's exit status (0 all well, 1 problems).
  returned: always
  type: int
ansible_facts:
  description: Facts the module sets on the pool's host.
  returned: success
  type: dict
  contains:
    xe_dr_status:
      description: The same document as RV(status).
      type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xe_dr.estate.plugins.module_utils.xe_dr_cli import (
    Estate, pool_spec, run_xe_dr)


def argument_spec():
    spec = pool_spec()
    spec.update(
        heartbeat=dict(type="bool", default=True),
        readiness=dict(type="bool", default=False),
        expect_srs=dict(type="int"),
        fail_on_problems=dict(type="bool", default=False),
    )
    return spec


def status_args(params, check_mode, peer=None):
    """``status`` and its options; ``peer``: the pool whose readiness it checks."""
    args = ["status"]
    if check_mode or not params["heartbeat"]:
        args.append("--no-heartbeat")
    if peer:
        args += ["--peer", peer]
    if params["expect_srs"]:
        args += ["--expect-srs", str(params["expect_srs"])]
    return args


def main():
    module = AnsibleModule(argument_spec(), supports_check_mode=True)
    params = module.params
    estate = Estate(module)
    estate.pool(params["pool"])
    peer = estate.peer(params["pool"], "readiness checks its peer") \
        if params["readiness"] else None
    outcome = run_xe_dr(module, params["pool"], status_args(params, module.check_mode, peer))
    document = outcome.document
    if outcome.rc not in (0, 1) or not isinstance(document, dict):
        module.fail_json(msg=outcome.error or "xe-dr status of %s ended with exit %d and no "
                         "document: %s" % (params["pool"], outcome.rc, outcome.stderr.strip()),
                         exit_status=outcome.rc, changed=False)
    problems = document.get("problems") or []
    result = dict(changed=False, exit_status=outcome.rc, status=document, problems=problems,
                  ansible_facts=dict(xe_dr_status=document))
    if params["fail_on_problems"] and problems:
        module.fail_json(msg="pool %s: %s" % (params["pool"], "; ".join(problems)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
