"""A runner that answers the lab's fake xe in this process: the same lab code
(``xe_dr.lab.xecli.execute``), the same bytes, exit codes and call log, without starting a Python
per call (a test failover and cleanup is over a hundred calls).

Everything else (the plugin's processes that the lab starts, any other program) still runs as a
real process. Tests that kill or interrupt xe-dr, and tests of a transport, use real processes
instead: real xapi outlives its client, and only a separate process shows that the lab does too.
"""

import os
import time

from xe_dr.lab import xecli
from xe_dr.runner.base import CommandTimedOut, Runner
from xe_dr.runner.local import LocalRunner


class InProcessLabRunner(Runner):
    """A local runner for which ``xes`` (path of a lab's ``bin/xe-SITE`` -> (lab dir, site))
    are answered in-process."""

    description = "local"

    def __init__(self, xes, timeout=None, log=None):
        super(InProcessLabRunner, self).__init__(timeout=timeout, log=log)
        self.xes = dict((os.path.abspath(path), where) for path, where in xes.items())
        self.local = LocalRunner(timeout=timeout)

    def _execute(self, argv, input, timeout, secrets, env):
        where = self.xes.get(os.path.abspath(argv[0]))
        if where is None:
            return self.local._execute(argv, input, timeout, secrets, env)
        environ = dict(os.environ)
        environ.update(env)
        started = time.time()
        out, err, code, _ = xecli.execute(where[0], where[1], list(argv[1:]), environ=environ)
        # A call cannot be cut short here: it finishes (as xapi does when its client is killed)
        # and then counts as unanswered, as a killed client would.
        if time.time() - started > timeout:
            raise CommandTimedOut("no answer within %gs; the command was killed" % timeout,
                                  hint="raise --timeout", argv=argv, secrets=secrets)
        return code, out, err


def local_runner_for(*labs):
    """An ``Environment(local_runner=...)`` factory answering every site's xe of ``labs``
    (``xe_dr.lab.store.Lab`` objects) in-process."""
    xes = {}
    for lab in labs:
        for site in lab.site_names():
            xes[lab.xe_path(site)] = (lab.root, site)

    def make(timeout):
        return InProcessLabRunner(xes, timeout=timeout)
    return make
