#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v2.0 only (see the repository's setup.py)

DOCUMENTATION = r'''
module: failover
short_description: Fail a pool of an xe-dr sites file over to its peer (or test it, or migrate)
description:
  - Recovers the vApps and VMs of a source pool at its C(peer), the DR pool the sites file
    names, by C(xe-dr failover) run there with the pool's recovery C(plan) from the sites
    file, and C(--source) the source pool (checked for VMs still running; one that cannot
    be reached is taken for down).
  - O(mode=failover), a real failover (after a disaster); O(mode=test), a test failover
    (nothing starts, or paused; undo it with M(xe_dr.estate.cleanup)); O(mode=planned), a
    planned migration (the source shut down cleanly first, then fenced).
  - Returns xe-dr's versioned JSON document of the run (RV(report)). C(changed) is true only
    when the run changed something (a step of its journal began). A run that fails or ends
    partly failed fails the task with xe-dr's one-line message and the run id; resume it
    with O(resume) once its cause is fixed.
  - C(--yes) is passed - the task is the confirmation a real failover asks for twice at a
    terminal - and C(--no-input).
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
      - The source pool, a C([pool NAME]) of the sites file with a C(peer); the run is made
        in its peer (RV(run_pool)).
    type: str
    required: true
  mode:
    description:
      - V(failover), V(test) (C(--test)) or V(planned) (C(--planned)).
    type: str
    choices: [failover, test, planned]
    required: true
  source_down:
    description:
      - The source site is known to be down and fenced (C(--source down)); else the source
        pool's master is checked first (C(--source POOL)).
    type: bool
    default: false
  power:
    description:
      - After recovery (C(--power)), for a run without a plan; xe-dr's default, V(start)
        (a test, V(none)).
    type: str
    choices: [start, paused, none]
  map_network:
    description:
      - Source network name to DR network (C(--map-network SRC=DST)), for a run without a plan.
    type: dict
  disable_ha:
    description: A test needs HA off - disable it now; its cleanup enables it again.
    type: bool
    default: false
  reprotect:
    description:
      - Once the VMs are back, reverse the mirror (through O(adapter)) and replicate this
        pool's metadata to the SRs the run attached (C(--reprotect)).
    type: bool
    default: false
  reprotect_srs:
    description: The SRs to replicate to after O(reprotect), instead of those the run attached.
    type: list
    elements: str
    default: []
  adapter:
    description:
      - The storage adapter (C(--adapter)) that halts (and with O(reprotect) reverses) the
        mirror, for V(planned) or O(reprotect).
    type: path
  rto_target:
    description: The recovery time objective in seconds; the report says if it was met.
    type: int
  parallel:
    description: Recover up to this many objects at once (C(--parallel); default 4).
    type: int
  shutdown_timeout:
    description: Seconds a clean shutdown at the source may take (V(planned); default 300).
    type: int
  force_shutdown:
    description: Shut down hard a VM not halted cleanly in time (V(planned)).
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Test failover of a source pool at its peer, by its plan
  xe_dr.estate.failover:
    sites: /etc/xe-dr/estate.ini
    pool: A1
    mode: test
  register: test_failover

- name: Undo it
  xe_dr.estate.cleanup:
    sites: /etc/xe-dr/estate.ini
    pool: "{{ test_failover.run_pool }}"
    run: "{{ test_failover.run }}"

- name: Site A is gone - fail every pool of the group over, queueing per DR pool
  xe_dr.estate.failover:
    sites: /etc/xe-dr/estate.ini
    pool: "{{ inventory_hostname }}"
    mode: failover
    source_down: true
    wait_lock: 7200

- name: A pool without a plan, its storage given here (the CHAP password from the vault)
  xe_dr.estate.failover:
    sites: /etc/xe-dr/estate.ini
    pool: A2
    mode: test
    all: true
    storage:
      target: [10.0.2.50]
      iqn: iqn.2001-05.com.example:site-b
      scsiid: [36001405281220e087835b92558589ea]
      chap_user: dr
      chap_password: "{{ vault_chap_password }}"
'''

RETURN = r'''
report:
  description:
    - xe-dr's JSON document of the run (C(failover --json), schema 1, also the run's
      C(report.json); its keys in C(man xe-dr)), or of the dry run in check mode; null when
      xe-dr refused before making a run.
  returned: always
  type: dict
run:
  description: The run's id (for M(xe_dr.estate.cleanup), O(resume)); null in check mode.
  returned: always
  type: str
outcome:
  description: The run's outcome (succeeded, partly failed, failed, blocked, planned...).
  returned: always
  type: str
exit_status:
  description: xe-dr's exit status.
  returned: always
  type: int
pool:
  description: The source pool.
  returned: always
  type: str
run_pool:
  description: The pool the run was made in (the source pool's peer), where its cleanup runs.
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
    spec.update(
        mode=dict(type="str", choices=["failover", "test", "planned"], required=True),
        disable_ha=dict(type="bool", default=False),
    )
    return spec


def failover_args(params, plan, check_mode):
    """(arguments, environment) of ``failover`` for the source pool ``params['pool']`` with
    the recovery plan ``plan`` (None: the selection and storage given)."""
    words = ["failover"] + {"failover": [], "test": ["--test"],
                            "planned": ["--planned"]}[params["mode"]]
    return run_args(words, params, plan, recovery_args(params, params["pool"]), check_mode)


def main():
    module = AnsibleModule(argument_spec(), supports_check_mode=True)
    params = module.params
    pool = params["pool"]
    estate = Estate(module)
    at = estate.peer(pool, "a failover of it runs at its peer")
    exit_if_resume_in_check_mode(module, "run", pool, at)
    plan = params["plan"] or estate.plan(pool)
    args, environ = failover_args(params, plan, module.check_mode)
    outcome = run_xe_dr(module, at, args, environ, yes=True)
    finish_run(module, outcome, "%s of %s at %s" % (
        {"failover": "failover", "test": "test failover", "planned": "planned migration"}[
            params["mode"]], pool, at), pool, at)


if __name__ == "__main__":
    main()
