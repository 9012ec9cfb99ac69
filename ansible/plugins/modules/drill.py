#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v2.0 only (see the repository's setup.py)

DOCUMENTATION = r'''
module: drill
short_description: Drill a pool of an xe-dr sites file at its peer
description:
  - Proves the DR site would bring the source pool back, by C(xe-dr drill) run at the pool's
    C(peer) with its recovery C(plan) from the sites file - the storage adapter has the
    array make writable copies of the replicas (replication never stops), the VMs are
    recovered from them, started isolated and verified, then everything is cleaned up (unless
    O(keep)).
  - Returns xe-dr's versioned JSON document of the drill (RV(report)), its verdict in it.
    C(changed) is true when the drill ran (it changed the DR pool, even if it undid it). A
    drill that fails, or in which a VM did not verify (exit 2), fails the task with xe-dr's
    one-line message and the run id.
  - C(--yes) and C(--no-input) are passed; the task is the confirmation.
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
      - The source pool, a C([pool NAME]) of the sites file with a C(peer); the drill is made
        in its peer (RV(run_pool)).
    type: str
    required: true
  adapter:
    description:
      - The storage adapter (C(--adapter)), the executable on the controller that has the
        array copy the replica LUNs (C(man xe-dr), STORAGE ADAPTERS). Required, except with
        O(resume).
    type: path
  verify_timeout:
    description: Seconds the VMs have after their starts to prove they booted (default 900).
    type: int
  keep:
    description: Leave the booted drill for inspection until M(xe_dr.estate.cleanup).
    type: bool
    default: false
  deadline:
    description: The drill's watchdog (C(--deadline), e.g. V(2h)); default 2h, with O(keep) 1d.
    type: str
  rto_target:
    description: The recovery time objective in seconds; the report says if it was met.
    type: int
  parallel:
    description: Recover up to this many objects at once (C(--parallel); default 4).
    type: int
'''

EXAMPLES = r'''
- name: Drill every source pool at its peer, by its plan
  xe_dr.estate.drill:
    sites: /etc/xe-dr/estate.ini
    pool: "{{ inventory_hostname }}"
    adapter: /usr/local/bin/array-adapter
    answer_prompts: true
    wait_lock: 7200
  register: drill

- name: The verdict
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ drill.report.verdict | default(drill.outcome) }}"
'''

RETURN = r'''
report:
  description:
    - xe-dr's JSON document of the drill (C(drill --json), schema 1; its keys in
      C(man xe-dr)), or of the dry run in check mode; null when xe-dr refused before making
      a run.
  returned: always
  type: dict
run:
  description: The drill's run id; null in check mode.
  returned: always
  type: str
outcome:
  description: The drill's outcome.
  returned: always
  type: str
exit_status:
  description: xe-dr's exit status (0 every VM verified, 2 some did not).
  returned: always
  type: int
pool:
  description: The source pool.
  returned: always
  type: str
run_pool:
  description: The pool the drill was made in (the source pool's peer).
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xe_dr.estate.plugins.module_utils.xe_dr_cli import (
    Estate, exit_if_resume_in_check_mode, finish_run, pool_spec, run_args, run_spec,
    run_xe_dr, selection_spec, storage_spec)


def argument_spec():
    spec = pool_spec()
    spec.update(run_spec())
    spec.update(selection_spec())
    spec.update(storage_spec())
    spec.update(
        adapter=dict(type="path"),
        verify_timeout=dict(type="int"),
        keep=dict(type="bool", default=False),
        deadline=dict(type="str"),
        rto_target=dict(type="int"),
        parallel=dict(type="int"),
    )
    return spec


def drill_args(params, plan, check_mode):
    """(arguments, environment) of ``drill`` for the source pool, by ``plan`` (or None)."""
    own = []
    if params["adapter"]:
        own += ["--adapter", params["adapter"]]
    if params["keep"]:
        own.append("--keep")
    if params["deadline"]:
        own += ["--deadline", params["deadline"]]
    if params["parallel"]:
        own += ["--parallel", str(params["parallel"])]
    if params["verify_timeout"] is not None:
        own += ["--verify-timeout", str(params["verify_timeout"])]
    return run_args(["drill"], params, plan, own, check_mode)


def main():
    module = AnsibleModule(argument_spec(), supports_check_mode=True,
                           required_one_of=[("adapter", "resume")])
    params = module.params
    pool = params["pool"]
    estate = Estate(module)
    at = estate.peer(pool, "a drill of it runs at its peer")
    exit_if_resume_in_check_mode(module, "drill", pool, at)
    args, environ = drill_args(params, params["plan"] or estate.plan(pool), module.check_mode)
    outcome = run_xe_dr(module, at, args, environ, yes=True)
    finish_run(module, outcome, "drill of %s at %s" % (pool, at), pool, at)


if __name__ == "__main__":
    main()
