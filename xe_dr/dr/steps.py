"""A plan as data: each step is a stable id, the xe calls it makes, how it is reconciled after a
crash, and its order group.

One structure feeds all that reads a plan: the engine applies a step (xe_dr/dr/engine.py),
``--dry-run`` lists it, the runbook renders it from its fields (xe_dr/report/runbook.py) and
the journal records the argv of its calls. A step whose xe calls depend on what an earlier one
returned (the uuids of recovered VMs, a network just made) is produced when its phase runs;
its calls then name the value it will learn as a placeholder (``<the new network>``).
"""

from xe_dr.marks import step_id

__all__ = ["Call", "SOURCE", "Step", "step_id"]


SOURCE = "source"


class Call(object):
    """One xe command of a step: ``command``, ``params`` and ``flags`` as :meth:`Xe.argv`
    takes them; ``at``: None for the target pool, ``SOURCE`` for the source pool (a
    failback's shutdown and detach)."""

    __slots__ = ("command", "params", "flags", "at")

    def __init__(self, command, params=None, flags=(), at=None):
        self.command = command
        self.params = dict(params or {})
        self.flags = tuple(flags)
        self.at = at

    def to_json(self):
        data = {"xe": self.command, "params": self.params}
        if self.flags:
            data["flags"] = list(self.flags)
        if self.at is not None:
            data["at"] = self.at
        return data

    def __repr__(self):
        return "Call(%r, %r%s)" % (self.command, self.params,
                                   "" if self.at is None else ", at=%r" % self.at)


class Step(object):
    """One step of a plan.

    ``calls``: what it does, in order (a list of :class:`Call`). ``action``: a callable
    doing it when it is more than running its calls one after another (its result is
    journaled); without one the engine runs the calls. ``reconcile``: a callable asking the
    pool whether an interrupted step's effect is there (its result) or not (None); None when
    running the step again is harmless. ``begin_data``: journaled with "begin", for the
    reconcile. ``group``: the order group it belongs to, when it has one.
    """

    __slots__ = ("id", "description", "calls", "action", "reconcile", "begin_data", "group")

    def __init__(self, id, description, calls=(), action=None, reconcile=None,
                 begin_data=None, group=None):
        self.id = id
        self.description = description
        self.calls = list(calls)
        self.action = action
        self.reconcile = reconcile
        self.begin_data = begin_data
        self.group = group

    def to_json(self, argv):
        """The step as the dry run and the report show it; ``argv(call)`` renders a call."""
        data = {"step": self.id, "description": self.description,
                "calls": [c.to_json() for c in self.calls],
                "commands": [argv(c) for c in self.calls]}
        if self.group is not None:
            data["group"] = self.group
        return data

    def __repr__(self):
        return "Step(%r)" % (self.id,)
