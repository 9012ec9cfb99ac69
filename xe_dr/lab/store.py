"""A lab folder on disk: its configuration, one pool database per site, locks.

Layout (``DIR`` is the folder given to ``create``)::

    DIR/lab.json                  configuration: sites (an estate's: their role and peer),
                                  seed, cost factor, dark sites
    DIR/state/<site>.json         that site's pool database (JSON, written atomically)
    DIR/state/array.json          the storage array: LUNs and mirror relations
    DIR/array/<lun>/<side>/       each LUN copy: vg.json (the LVM VG / SR metadata) and LV files
    DIR/locks/                    flock files: <site>.lock, <site>.dbopen.lock, array.lock ...
    DIR/bin/xe-<site>             the fake xe of each site
    DIR/hosts/<host-uuid>/etc/xapi.d/plugins/   each host's plugin folder
    DIR/calls.jsonl               the call log (one JSON object per xe call)
    DIR/faults.json               fault rules and their call counters

Every change is: take the site's lock, load, mutate, save to a temporary file, rename. Readers
never lock: a rename is atomic, so they see a whole database. Nothing sleeps under a lock.
"""

import contextlib
import json
import os

from . import util
from .model import Db

CONFIG = "lab.json"


class LabNotFound(Exception):
    pass


class Lab(object):
    def __init__(self, root):
        self.root = os.path.abspath(root)
        self._config = None

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def config(self):
        if self._config is None:
            try:
                self._config = util.read_json(self.path(CONFIG))
            except (IOError, OSError, ValueError):
                raise LabNotFound("no lab in %s (run: python -m xe_dr.lab create %s)"
                                  % (self.root, self.root))
        return self._config

    def reload(self):
        self._config = None
        return self.config

    def update_config(self, mutate):
        with util.flocked(self.path("locks", "lab.lock")):
            config = util.read_json(self.path(CONFIG))
            mutate(config)
            util.write_json(self.path(CONFIG), config)
        self._config = None

    def site_names(self):
        return sorted(self.config["sites"], key=util.natural_key)

    def role(self, name):
        """``primary`` (a production pool, its LUNs mirrored to its peer) or ``dr``. An
        estate's lab.json says; the two-site lab's, kept as it always was, does not: A is its
        primary, B its DR pool."""
        site = self._site_config(name)
        return site.get("role") or ("primary" if name == "A" else "dr")

    def peer(self, name):
        """The DR pool a primary pool's LUNs are mirrored to; None for a DR pool."""
        site = self._site_config(name)
        if site.get("role"):
            return site.get("peer")
        return "B" if name == "A" else None

    def _site_config(self, name):
        self.site(name)  # a KeyError naming the lab's sites when it has no such site
        return self.config["sites"][name]

    def primary_sites(self):
        return [name for name in self.site_names() if self.role(name) == "primary"]

    def site(self, name):
        if name not in self.config["sites"]:
            raise KeyError("no site %r in this lab (sites: %s)"
                           % (name, ", ".join(self.site_names())))
        return Site(self, name)

    def xe_path(self, site):
        return self.path("bin", "xe-" + site)

    def is_dark(self, site):
        return site in self.config.get("dark", [])

    def cost_factor(self):
        return float(self.config.get("cost_factor", 0))

    def plugin_dir(self, host_uuid):
        return self.path("hosts", host_uuid, "etc", "xapi.d", "plugins")


class Site(object):
    """One pool (one xapi database) of the lab."""

    def __init__(self, lab, name):
        self.lab = lab
        self.name = name
        self.state_path = lab.path("state", name + ".json")
        self.lock_path = lab.path("locks", name + ".lock")

    def read(self):
        """A snapshot of the database, without locking (the file is replaced atomically)."""
        with open(self.state_path, "rb") as f:
            return Db(json.loads(f.read().decode("utf-8")), readonly=True, label=self.name)

    @contextlib.contextmanager
    def transaction(self, redo_log=True):
        """The database under the site's lock; saved (generation + 1) if it was changed.
        ``redo_log=False``: a change xapi makes outside its database callbacks, so that no
        redo log (no metadata VDI) is written, though the generation counts it (messages:
        xapi-project/xen-api ocaml/xapi/xapi_message.ml create and destroy bump the
        generation with Db_ref.update_database/Database.increment, which notifies no
        callback, while redo_log.ml database_callback is called only for row and field
        writes)."""
        with util.flocked(self.lock_path):
            with open(self.state_path, "rb") as f:
                db = Db(json.loads(f.read().decode("utf-8")), label=self.name)
            yield db
            if db.dirty:
                self.commit(db, redo_log)

    def commit(self, db, redo_log=True):
        db.generation += 1
        if redo_log:
            from . import replication  # late import: only writers need it
            replication.after_commit(self, db)
        self.save(db)

    def save(self, db):
        util.atomic_write(self.state_path,
                          json.dumps(db.to_data(), separators=(",", ":"), sort_keys=False))
        db.dirty = False
