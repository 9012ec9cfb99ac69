#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v2.0 only (see the repository's setup.py)

DOCUMENTATION = r'''
module: cleanup
short_description: Undo a test failover or a kept drill in a pool of an xe-dr sites file
description:
  - Undoes a run in the pool it was made in, by C(xe-dr cleanup RUN) - destroys the VM
    records it recovered (never their disks), its vApps, DR tasks and the SRs it attached,
    the networks it made; a drill's copies are released through its adapter.
  - Returns xe-dr's versioned JSON document of the cleanup (RV(report)). C(changed) only when
    it removed something; a run that left nothing in the pool (cleaned up already, or never
    made there; xe-dr's exit 66) is C(ok), so the task can be repeated. A cleanup that fails
    fails the task with xe-dr's one-line message and the run id.
  - C(--yes) and C(--no-input) are passed; the task is the confirmation (with O(force), of
    destroying what xe-dr lists).
version_added: 0.1.0
author: xe-dr maintainers (!UNKNOWN)
extends_documentation_fragment:
  - xe_dr.estate.xe_dr
  - xe_dr.estate.xe_dr.run
options:
  pool:
    description:
      - The pool the run was made in - for a test failover or a drill of a source pool, its
        C(peer), which M(xe_dr.estate.failover) and M(xe_dr.estate.drill) return as
        RV(xe_dr.estate.failover#module:run_pool).
    type: str
    required: true
  run:
    description: The run to undo (its id, as the run modules return it, or C(xe-dr runs)).
    type: str
    required: true
  force:
    description:
      - Also undo a real failover, failback or runbook, objects that do not say their run's
        kind, or a test's running VMs (C(--force)).
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Test failover of every source pool
  xe_dr.estate.failover:
    sites: /etc/xe-dr/estate.ini
    pool: "{{ inventory_hostname }}"
    mode: test
    wait_lock: 3600
  register: test_failover

- name: Undo each, in the pool it was made in
  xe_dr.estate.cleanup:
    sites: /etc/xe-dr/estate.ini
    pool: "{{ test_failover.run_pool }}"
    run: "{{ test_failover.run }}"
    wait_lock: 3600
  when: test_failover.run is truthy
'''

RETURN = r'''
report:
  description:
    - xe-dr's JSON document of the cleanup (C(cleanup --json), schema 1, C(run), C(of),
      C(destroys), C(kept), C(outcome)...; C(man xe-dr)), or of the dry run in check mode;
      null when xe-dr refused before making a run.
  returned: always
  type: dict
run:
  description: The cleanup's own run id; null in check mode or when there was nothing to undo.
  returned: always
  type: str
outcome:
  description: The cleanup's outcome.
  returned: always
  type: str
exit_status:
  description: xe-dr's exit status (66, nothing of the run in this pool).
  returned: always
  type: int
pool:
  description: The pool.
  returned: always
  type: str
run_pool:
  description: The pool the cleanup was made in (the same).
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xe_dr.estate.plugins.module_utils.xe_dr_cli import (
    NOTHING_FOUND, OK, Estate, finish_run, pool_spec, run_spec, run_xe_dr)


def argument_spec():
    spec = pool_spec()
    spec.update(run_spec())
    spec.update(
        run=dict(type="str", required=True),
        force=dict(type="bool", default=False),
    )
    return spec


def cleanup_args(params, check_mode):
    args = ["cleanup"]
    if params["force"]:
        args.append("--force")
    if params["wait_lock"] is not None:
        args += ["--wait-lock", str(params["wait_lock"])]
    if check_mode:
        args.append("--dry-run")
    # After "--": a run id is never an option.
    return args + ["--", params["run"]]


def main():
    module = AnsibleModule(argument_spec(), supports_check_mode=True)
    params = module.params
    Estate(module).pool(params["pool"])
    outcome = run_xe_dr(module, params["pool"], cleanup_args(params, module.check_mode),
                        yes=True)
    finish_run(module, outcome, "cleanup of %s in %s" % (params["run"], params["pool"]),
               params["pool"], params["pool"], ok=(OK, NOTHING_FOUND))


if __name__ == "__main__":
    main()
