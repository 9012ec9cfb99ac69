# -*- coding: utf-8 -*-
# GNU General Public License v2.0 only (see the repository's setup.py)
"""What the xe_dr.estate modules share: the pools of a sites file (read by xe-dr's own parser),
xe-dr's command line for one pool, running it, and reading its JSON document and its one-line
error.

The modules run on the Ansible controller, where xe-dr is installed in the module's Python,
and reach each pool master through xe-dr's own transport by running ``python -m xe_dr``: an
argument list, never a shell; a secret (a CHAP password) in the child's environment, never in
its arguments, which ps, audit logs and Ansible's own logging would show.
"""

import json
import os
import subprocess
import sys

#: The variable a CHAP password reaches xe-dr in (``--chap-password-env``).
CHAP_PASSWORD_ENV = "XE_DR_ANSIBLE_CHAP_PASSWORD"

#: Variables of the controller's environment that would aim xe-dr at another master, xe or
#: SSH implementation than the sites file names (xe_dr/cli/context.py reads them): left out
#: of xe-dr's environment, so that the sites file alone says how each pool is reached.
TARGET_VARIABLES = ("XE_DR_HOST", "XE_DR_XE", "XE_DR_SSH")

#: Exit statuses (xe_dr/exitcodes.py): success, and a dry run that could not check everything.
OK, DRY_RUN_UNCHECKED, NOTHING_FOUND = 0, 3, 66

#: How many objects a failure message names before "and N more".
NAMED_IN_MESSAGE = 3

ERROR_PREFIX = "xe-dr: error: "
WARNING_PREFIX = "xe-dr: warning: "


# -- argument specs (their documentation: plugins/doc_fragments/xe_dr.py) -----------------

def pool_spec():
    """The options every module takes (doc fragment xe_dr.estate.xe_dr)."""
    return dict(
        sites=dict(type="path", required=True),
        pool=dict(type="str", required=True),
        state_dir=dict(type="path"),
        timeout=dict(type="int"),
    )


def run_spec():
    """The options of a run (failover, drill, failback, cleanup: fragment ...xe_dr.run)."""
    return dict(wait_lock=dict(type="int"))


def selection_spec():
    """What a run recovers (fragment ...xe_dr.selection)."""
    return dict(
        all=dict(type="bool", default=False),
        vapps=dict(type="list", elements="str", default=[]),
        vms=dict(type="list", elements="str", default=[]),
        exclude=dict(type="list", elements="str", default=[]),
        plan=dict(type="path"),
        answer_prompts=dict(type="bool", default=False),
        resume=dict(type="str"),
    )


def storage_spec():
    """The LUNs a run attaches (fragment ...xe_dr.storage)."""
    return dict(storage=dict(
        type="dict",
        options=dict(
            target=dict(type="list", elements="str", default=[]),
            port=dict(type="int"),
            iqn=dict(type="str"),
            hba=dict(type="bool", default=False),
            scsiid=dict(type="list", elements="str", default=[]),
            hba_scsiid=dict(type="list", elements="str", default=[]),
            chap_user=dict(type="str"),
            chap_password=dict(type="str", no_log=True),
            # A path, not a secret (Ansible asks for no_log on any option named *password*).
            chap_password_file=dict(type="path", no_log=False),
            srs=dict(type="list", elements="str", default=[]),
        ),
        mutually_exclusive=[("chap_password", "chap_password_file")],
    ))


# -- the sites file -------------------------------------------------------------------------

def missing_xe_dr(module, failure):
    module.fail_json(msg="xe-dr cannot be imported by this module's Python (%s): %s. The "
                         "xe_dr.estate modules run on the controller: install xe-dr there "
                         "(pip install 'xe-dr[ansible]') and run them with connection: local "
                         "and ansible_python_interpreter: '{{ ansible_playbook_python }}'"
                     % (sys.executable, failure))


class Estate(object):
    """The sites file's pools, as xe-dr reads them (xe_dr/dr/sites.py: the same defaults, the
    same relative paths, the same one-line errors)."""

    def __init__(self, module):
        self.module = module
        self.path = module.params["sites"]
        try:
            from xe_dr.dr import sites
            from xe_dr.errors import XeDrError
        except ImportError as failure:
            missing_xe_dr(module, failure)
        try:
            self.estate = sites.load(self.path)
        except XeDrError as failure:
            module.fail_json(msg=failure.one_line())

    def pool(self, name):
        pools = self.estate.pools
        if name not in pools:
            self.module.fail_json(msg="no pool %r in the sites file %s (its pools: %s)" % (
                name, self.path, ", ".join(pools) or "none"))
        return pools[name]

    def peer(self, name, why):
        """Pool ``name``'s peer, which ``why`` (a clause) needs."""
        peer = getattr(self.pool(name), "peer", None)
        if not peer:
            self.module.fail_json(msg="pool %s has no peer in the sites file %s: %s "
                                      "([pool %s] peer = NAME)" % (name, self.path, why, name))
        return peer

    def plan(self, name):
        """The recovery plan the sites file gives pool ``name``, or None."""
        plan = getattr(self.pool(name), "plan", None)
        if plan and not os.path.isabs(plan):
            plan = os.path.join(os.path.dirname(os.path.abspath(self.path)), plan)
        return plan

    def srs(self, name):
        return list(getattr(self.pool(name), "srs", None) or [])


# -- xe-dr's command line -------------------------------------------------------------------

def command(params, pool, args, yes=False):
    """``python -m xe_dr --sites FILE --pool NAME --json --no-input ... ARGS``: the module's
    own Python, which has xe-dr. ``--no-input``: nothing can answer a prompt in a module;
    ``yes``: the task is the confirmation of a destructive step (--yes)."""
    argv = [sys.executable, "-m", "xe_dr", "--sites", params["sites"], "--pool", pool,
            "--json", "--no-input"]
    if yes:
        argv.append("--yes")
    if params.get("state_dir"):
        argv += ["--state-dir", params["state_dir"]]
    if params.get("timeout"):
        argv += ["--timeout", str(params["timeout"])]
    return argv + list(args)


def selection_args(params):
    """--all, --vapp, --vm, --exclude."""
    args = ["--all"] if params.get("all") else []
    for option, key in (("--vapp", "vapps"), ("--vm", "vms"), ("--exclude", "exclude")):
        for name in params.get(key) or ():
            args += [option, name]
    return args


def storage_args(storage):
    """(arguments, environment) of the storage options: a CHAP password goes to xe-dr in the
    environment (--chap-password-env), never among its arguments."""
    if not storage:
        return [], {}
    args, environ = [], {}
    if storage.get("target"):
        args += ["--target", ",".join(storage["target"])]
    if storage.get("port"):
        args += ["--port", str(storage["port"])]
    if storage.get("iqn"):
        args += ["--iqn", storage["iqn"]]
    if storage.get("hba"):
        args.append("--hba")
    for option, key in (("--scsiid", "scsiid"), ("--hba-scsiid", "hba_scsiid"),
                        ("--sr", "srs")):
        for value in storage.get(key) or ():
            args += [option, value]
    if storage.get("chap_user"):
        args += ["--chap-user", storage["chap_user"]]
    if storage.get("chap_password") is not None:
        args += ["--chap-password-env", CHAP_PASSWORD_ENV]
        environ[CHAP_PASSWORD_ENV] = storage["chap_password"]
    elif storage.get("chap_password_file"):
        args += ["--chap-password-file", storage["chap_password_file"]]
    return args, environ


def recovery_spec():
    """The options of a run that recovers VMs and starts them (failover, failback)."""
    return dict(
        source_down=dict(type="bool", default=False),
        power=dict(type="str", choices=["start", "paused", "none"]),
        map_network=dict(type="dict"),
        reprotect=dict(type="bool", default=False),
        reprotect_srs=dict(type="list", elements="str", default=[]),
        adapter=dict(type="path"),
        rto_target=dict(type="int"),
        parallel=dict(type="int"),
        shutdown_timeout=dict(type="int"),
        force_shutdown=dict(type="bool", default=False),
    )


def recovery_args(params, source):
    """A failover's or failback's own options: where its source is (``source``, the pool
    named, or down), what it does after the recovery, how."""
    args = ["--source", "down" if params["source_down"] else source]
    if params["power"]:
        args += ["--power", params["power"]]
    for network, target in sorted((params["map_network"] or {}).items()):
        args += ["--map-network", "%s=%s" % (network, target)]
    if params.get("disable_ha"):
        args.append("--disable-ha")
    if params["reprotect"] or params["reprotect_srs"]:
        args += ["--reprotect"] + params["reprotect_srs"]
    if params["adapter"]:
        args += ["--adapter", params["adapter"]]
    if params["parallel"]:
        args += ["--parallel", str(params["parallel"])]
    return args


# Options every run takes after its storage, when the module has them.
RUN_MEASURES = (("--rto-target", "rto_target"), ("--shutdown-timeout", "shutdown_timeout"),
                ("--wait-lock", "wait_lock"))


def run_args(words, params, plan, own, check_mode):
    """(arguments, environment) of a run: ``words`` (the command), then --resume RUN, or
    the plan, the selection and ``own`` (the command's own options); then the storage
    (with a resume too: a LUN's correction, or its CHAP password, which no run keeps), the
    measures, --answer-prompts, and --dry-run in check mode."""
    args = list(words)
    if params["resume"]:
        args += ["--resume", params["resume"]]
    else:
        if plan:
            args += ["--plan", plan]
        args += selection_args(params) + own
    more, environ = storage_args(params["storage"])
    args += more
    for option, key in RUN_MEASURES:
        if params.get(key) is not None:
            args += [option, str(params[key])]
    if params.get("force_shutdown"):
        args.append("--force-shutdown")
    if params["answer_prompts"]:
        args.append("--answer-prompts")
    if check_mode:
        args.append("--dry-run")
    return args, environ


def exit_if_resume_in_check_mode(module, what, pool, run_pool):
    """xe-dr has no dry run of a resume: in check mode, a resume only says it would."""
    if module.check_mode and module.params["resume"]:
        module.exit_json(changed=True, exit_status=None, run=module.params["resume"],
                         outcome=None, pool=pool, run_pool=run_pool, report=None,
                         msg="check mode: would resume %s %s (xe-dr has no dry run of a "
                             "resume)" % (what, module.params["resume"]))


# -- running it -----------------------------------------------------------------------------

def execute(argv, environ):
    """Run ``argv`` (a list: no shell, no expansion of $ or ~ in VM names) with ``environ``
    added to the controller's environment less TARGET_VARIABLES; (exit status, stdout,
    stderr). Nothing on its stdin: xe-dr never waits for an answer."""
    env = dict((k, v) for k, v in os.environ.items() if k not in TARGET_VARIABLES)
    env.update(environ)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate()
    return (proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


class Outcome(object):
    """What one xe-dr command did: its exit status, its JSON document (or None), its error
    line (without the ``xe-dr: error:`` prefix, or None) and its warnings."""

    def __init__(self, rc, out, err):
        self.rc = rc
        self.document = None
        if out.strip():
            try:
                self.document = json.loads(out)
            except ValueError:
                self.document = None
        lines = err.splitlines()
        errors = [line[len(ERROR_PREFIX):] for line in lines if line.startswith(ERROR_PREFIX)]
        self.error = errors[-1] if errors else None
        self.warnings = [line[len(WARNING_PREFIX):] for line in lines
                         if line.startswith(WARNING_PREFIX)]
        self.stderr = err

    @property
    def run(self):
        return (self.document or {}).get("run")


def run_xe_dr(module, pool, args, environ=None, yes=False):
    """Run xe-dr for ``pool``; its warnings become the task's."""
    argv = command(module.params, pool, args, yes=yes)
    outcome = Outcome(*execute(argv, environ or {}))
    for line in outcome.warnings:
        module.warn("%s: %s" % (pool, line))
    return outcome


def failure_message(outcome, what):
    """xe-dr's one line and the run id; for a run that ended partly failed (which prints no
    error line), the objects that failed or were left out."""
    line = outcome.error
    document = outcome.document or {}
    if line is None:
        reasons = [str(f) for f in document.get("failures") or ()]
        reasons += [item["excluded"] for item in document.get("items") or ()
                    if item.get("excluded") and item["excluded"] not in reasons]
        shown = reasons[:NAMED_IN_MESSAGE]
        if len(reasons) > len(shown):
            shown.append("and %d more" % (len(reasons) - len(shown)))
        line = "%s %s (exit %d)%s" % (what, document.get("outcome") or "failed", outcome.rc,
                                      ": " + "; ".join(shown) if shown else "")
    if outcome.run:
        line += " (run %s)" % outcome.run
    return line


def began(document):
    """Whether a run changed something: its journal has a step that began (steps are
    journaled before they change a pool; notes and dry runs change nothing). A run whose
    document has no journal may have: say it did."""
    document = document or {}
    if document.get("run") and "journal" not in document:
        return True
    return any(entry.get("event") == "begin" for entry in document.get("journal") or ())


def would_change(document):
    """Whether a dry run plans a change: a vApp or VM it would recover, or an object a
    cleanup would destroy."""
    document = document or {}
    if document.get("destroys"):
        return True
    return any(not item.get("excluded") for item in document.get("items") or ())


def finish_run(module, outcome, what, pool, run_pool, ok=(OK,)):
    """Exit the task with a run's document: ``changed`` when the run changed something (in
    check mode, when the dry run plans a change); failed, with xe-dr's line and the run id,
    unless its exit status is in ``ok``."""
    document = outcome.document
    check = module.check_mode
    # exit_status, not rc: Ansible takes a result whose rc is not 0 for a failure, and a
    # cleanup's 66 (nothing to undo) or a dry run's 3 are not.
    result = dict(changed=would_change(document) if check else began(document),
                  exit_status=outcome.rc, run=outcome.run, outcome=(document or {}).get("outcome"),
                  pool=pool, run_pool=run_pool, report=document)
    if outcome.rc in ok:
        if outcome.error:  # nothing to do (a cleanup's 66): xe-dr says why
            result["msg"] = outcome.error
        module.exit_json(**result)
    if check and outcome.rc == DRY_RUN_UNCHECKED:
        module.warn("%s: the dry run could not check everything (exit 3): %s" % (
            pool, "; ".join(c.get("message", "") for c in (document or {}).get("checks") or ()
                            if c.get("verdict") == "skipped") or "see its report"))
        module.exit_json(**result)
    module.fail_json(msg=failure_message(outcome, what), **result)
