# -*- coding: utf-8 -*-
# GNU General Public License v2.0 only (see the repository's setup.py)
"""The documentation of the options the modules share (their argument specs:
plugins/module_utils/xe_dr_cli.py)."""


class ModuleDocFragment(object):

    # Every module: the pool it acts on, named in a sites file.
    DOCUMENTATION = r'''
options:
  sites:
    description:
      - The xe-dr sites file (C(man xe-dr)) that names the pool, how to reach its master
        (C(master), C(xe), C(ssh), C(identity), C(known-hosts)), its C(peer), its
        replication C(srs) and its recovery C(plan).
      - A path on the controller. Set it once for a play with C(module_defaults) and the
        action group C(group/xe_dr.estate.xe_dr) of every module of the collection.
    type: path
    required: true
  pool:
    description:
      - The pool's name, a C([pool NAME]) section of the sites file; in the example
        inventory, the inventory host's name (C(inventory_hostname)).
    type: str
    required: true
  state_dir:
    description:
      - xe-dr's state directory on the controller (C(--state-dir)), where its runs, journals
        and reports are kept. Default, xe-dr's own (C(XE_DR_STATE_DIR), else
        V(/var/lib/xe-dr) as root).
    type: path
  timeout:
    description:
      - Seconds each remote call may take (C(--timeout); xe-dr's default 600).
    type: int
requirements:
  - xe-dr installed in the Python that runs the module, on the controller (C(pip install
    'xe-dr[ansible]')); run the module there (C(connection=local) or
    C(delegate_to=localhost), with C(ansible_python_interpreter) the controller's Python,
    C({{ ansible_playbook_python }})).
notes:
  - The module runs xe-dr (C(python -m xe_dr --sites FILE --pool NAME ... --json)) as an
    argument list, never through a shell, with C(--no-input); xe-dr reaches the pool master
    over its own transport (SSH, as the sites file says), so the Python on dom0 does not
    matter.
  - C(XE_DR_HOST), C(XE_DR_XE) and C(XE_DR_SSH) in the controller's environment are not
    passed on; the sites file alone says how a pool is reached.
  - The sites file, the commands and their JSON documents are in C(man xe-dr).
'''

    # failover, drill, failback, cleanup: runs, which take the target pool's lock.
    RUN = r'''
options:
  wait_lock:
    description:
      - Seconds to wait for the lock of the pool the run is made in, when another run holds
        it (C(--wait-lock)); without it, a run that finds the lock taken fails at once
        (exit 75).
      - xe-dr runs one run at a time in a pool (the lock rule, C(man xe-dr)). The failovers
        of several source pools into one DR pool queue on its lock, while those into other
        DR pools run in parallel; give each a wait long enough for the runs before it.
    type: int
attributes:
  check_mode:
    support: full
    description:
      - Check mode is the command's C(--dry-run) - the plan, the prechecks and the exact C(xe)
        commands - which takes no lock and changes nothing; C(changed) then says whether the
        run would change something.
'''

    # failover, drill, failback: what a run recovers.
    SELECTION = r'''
options:
  plan:
    description:
      - The recovery plan to follow (C(--plan)). Default, the C(plan) the sites file gives
        the pool. A plan says what to recover, in which groups, on which networks and from
        which storage; O(all) and O(storage) (of the DR site) are then not given.
    type: path
  all:
    description:
      - Recover every vApp and VM in the metadata (C(--all)); for a pool without a plan.
    type: bool
    default: false
  vapps:
    description:
      - vApps to recover (C(--vapp)), names or UUIDs; with a plan, they narrow its selection.
    type: list
    elements: str
    default: []
  vms:
    description:
      - VMs to recover (C(--vm)), names or UUIDs; with a plan, they narrow its selection.
    type: list
    elements: str
    default: []
  exclude:
    description:
      - vApps and VMs to leave out (C(--exclude)).
    type: list
    elements: str
    default: []
  answer_prompts:
    description:
      - Answer the plan's prompts yes (C(--answer-prompts)). Without it a run by a plan with a
        prompt stops there (nothing can answer it in a task), to be resumed with O(resume).
    type: bool
    default: false
  resume:
    description:
      - Resume this interrupted run (C(--resume RUN)); its selection and options come from
        the run. In check mode the module says it would resume it and runs nothing (xe-dr
        has no dry run of a resume).
    type: str
'''

    # failover, drill, failback: the LUNs to attach.
    STORAGE = r'''
options:
  storage:
    description:
      - The LUNs to attach, as C(xe-dr probe) finds them; for a run without a plan (a plan
        holds the DR site's storage), and for a failback (this site's storage, which the plan
        does not hold).
      - A run by a plan takes its CHAP password from the file or the xapi secret the plan
        names, not from here.
    type: dict
    suboptions:
      target:
        description: iSCSI target addresses (C(--target)).
        type: list
        elements: str
        default: []
      port:
        description: iSCSI port (C(--port); default 3260).
        type: int
      iqn:
        description: iSCSI target IQN (C(--iqn)).
        type: str
      hba:
        description: Fibre Channel / HBA storage (C(--hba)).
        type: bool
        default: false
      scsiid:
        description: SCSI ids of the iSCSI LUNs (C(--scsiid)).
        type: list
        elements: str
        default: []
      hba_scsiid:
        description: SCSI ids of HBA LUNs (C(--hba-scsiid)).
        type: list
        elements: str
        default: []
      srs:
        description: Attach only these SRs of the LUNs (C(--sr)), UUIDs.
        type: list
        elements: str
        default: []
      chap_user:
        description: CHAP user name (C(--chap-user)).
        type: str
      chap_password:
        description:
          - The CHAP password, from Ansible Vault (C("{{ vault_chap_password }}")) or a
            lookup. Never logged (C(no_log)), never on xe-dr's command line - it reaches xe-dr
            in its environment (C(--chap-password-env)).
        type: str
      chap_password_file:
        description:
          - A file on the controller whose first line is the CHAP password
            (C(--chap-password-file)).
        type: path
'''
