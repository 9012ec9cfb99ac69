#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v2.0 only (see the repository's setup.py)

DOCUMENTATION = r'''
module: failback
short_description: Fail a pool of an xe-dr sites file back from its peer
description:
  - Brings a source pool's vApps and VMs home from its C(peer), by C(xe-dr failback) run at
    the pool itself with C(--source) its peer - the VMs shut down cleanly at the peer
    (descending order groups), then recovered here from the peer's replicated metadata - by
    the pool's recovery C(plan) from the sites file, reversed (groups shut down last first,
    networks mapped back, source addresses given back).
  - The plan holds the DR site's storage, not this one's - give this site's LUNs in
    O(storage), unless they are attached here already.
  - Returns xe-dr's versioned JSON document of the run (RV(report)); C(changed) only when the
    run changed something; a failed run fails the task with xe-dr's one-line message and the
    run id. A failback that stops for the array (exit 75, the storage still the mirror's
    target) fails the task the same way; resume it with O(resume).
  - C(--yes) is passed - the task is the confirmation a failback asks for at a terminal - and
    C(--no-input).
version_added: 0.1.0
author: xe-dr maintainers (!UNKNOWN)
extends_documentation_fragment:
  - xe_dr.estate.xe_dr
  - xe_dr.estate.xe_dr.run
  - xe_dr.estate.xe_dr.selection
  - xe_dr.estate.xe_dr.storage
options:
  pool:
    description:
      - The source (primary) pool, a C([pool NAME]) of the sites file with a C(peer); the run
        is made in it, its VMs brought back from the peer.
    type: str
    required: true
  source_down:
    description:
      - The peer is known to be down (C(--source down)); else it is checked and its VMs shut
        down (C(--source PEER)).
    type: bool
    default: false
  power:
    description: After recovery (C(--power)), for a run without a plan; default V(start).
    type: str
    choices: [start, paused, none]
  map_network:
    description: DR network name to network here (C(--map-network)), for a run without a plan.
    type: dict
  reprotect:
    description:
      - Once the VMs are back, reverse the mirror (through O(adapter)) and replicate this
        pool's metadata again (C(--reprotect)).
    type: bool
    default: false
  reprotect_srs:
    description: The SRs to replicate to after O(reprotect), instead of those the run attached.
    type: list
    elements: str
    default: []
  adapter:
    description: The storage adapter (C(--adapter)) that halts and reverses the mirror.
    type: path
  rto_target:
    description: The recovery time objective in seconds; the report says if it was met.
    type: int
  parallel:
    description: Recover up to this many objects at once (C(--parallel); default 4).
    type: int
  shutdown_timeout:
    description: Seconds a clean shutdown at the peer may take (default 300).
    type: int
  force_shutdown:
    description: Shut down hard a VM not halted cleanly in time.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Bring pool A1 home from its peer, by its plan reversed
  xe_dr.estate.failback:
    sites: /etc/xe-dr/estate.ini
    pool: A1
    storage:
      target: [10.0.1.50]
      iqn: iqn.2001-05.com.example:site-a
      scsiid: [36001405cbf0f19c557067cbbe80c46d]
    wait_lock: 3600
  register: failback
  failed_when: failback.exit_status not in [0, 75]

- name: Once the array gave the LUNs back, finish it
  xe_dr.estate.failback:
    sites: /etc/xe-dr/estate.ini
    pool: A1
    resume: "{{ failback.run }}"
  when: failback.exit_status == 75
'''

RETURN = r'''
report:
  description:
    - xe-dr's JSON document of the run (C(failback --json), schema 1; its keys in
      C(man xe-dr)), or of the dry run in check mode; null when xe-dr refused before making
      a run.
  returned: always
  type: dict
run:
  description: The run's id; null in check mode.
  returned: always
  type: str
outcome:
  description: The run's outcome.
  returned: always
  type: str
exit_status:
  description: xe-dr's exit status (75, waiting for the array, among others).
  returned: always
  type: int
pool:
  description: The pool failed back to.
  returned: always
  type: str
run_pool:
  description: The pool the run was made in (the pool itself).
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xe_dr.estate.plugins.module_utils.xe_dr_cli import (
    Estate, exit_if_resume_in_check_mode, finish_run, pool_spec, recovery_args, recovery_spec,
    run_args, run_spec, run_xe_dr, selection_spec, storage_spec)


def argument_spec():
    spec = pool_spec()
    spec.update(run_spec())
    spec.update(selection_spec())
    spec.update(storage_spec())
    spec.update(recovery_spec())
    return spec


def failback_args(params, peer, plan, check_mode):
    """(arguments, environment) of ``failback`` at the pool, from ``peer``, by ``plan``
    (this site's storage with a plan too)."""
    return run_args(["failback"], params, plan, recovery_args(params, peer), check_mode)


def main():
    module = AnsibleModule(argument_spec(), supports_check_mode=True)
    params = module.params
    pool = params["pool"]
    estate = Estate(module)
    peer = estate.peer(pool, "a failback brings its VMs back from its peer")
    exit_if_resume_in_check_mode(module, "run", pool, pool)
    args, environ = failback_args(params, peer, params["plan"] or estate.plan(pool),
                                  module.check_mode)
    outcome = run_xe_dr(module, pool, args, environ, yes=True)
    finish_run(module, outcome, "failback of %s from %s" % (pool, peer), pool, pool)


if __name__ == "__main__":
    main()
