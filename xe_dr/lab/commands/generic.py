"""The generated commands of every class: <class>-list, -param-list, -param-get, -param-set,
-param-add, -param-remove, -param-clear (xapi ``cli_operations.ml make_param_funs``)."""

from . import STDPARAMS, Command, COMMANDS
from .. import foreign
from ..errors import Failure, MissingField
from ..render import View
from ..schema import CLASSES, CLASS_ORDER

EXPENSIVE = "<expensive field>"


def field_type(fields, by_name, name):
    """('normal'|'map'|'set', field name) for a filter or param-set key (get_field_type)."""
    if name in by_name:
        return "normal", name
    if ":" in name:
        real = name.split(":", 1)[0]
        f = by_name.get(real)
        if f is None:
            raise Failure("Unknown field '%s'" % name)
        if f.get_set is not None:
            return "set", real
        if f.get_map is not None:
            return "map", real
        raise Failure("Field '%s' is not a set or map" % real)
    maps = sorted((f for f in fields if f.get_map is not None), key=lambda f: -len(f.name))
    for f in maps:
        if name.startswith(f.name + "-"):
            return "map", f.name
    sets = sorted((f for f in fields if f.get_set is not None), key=lambda f: -len(f.name))
    for f in sets:
        if name.startswith(f.name + "-"):
            return "set", f.name
    raise Failure("Unknown field '%s'" % name)


def lookup(by_name, name):
    f = by_name.get(name)
    if f is None:
        raise MissingField(name)
    return f


def filter_records(view, ci, records, key, value):
    """records: list of (ref, row). One filter of a -list command (filter_records_on_fields)."""
    if not records:
        return []
    kind, name = field_type(ci.fields, ci.by_name, key)
    f = lookup(ci.by_name, name)
    if kind == "normal":
        if f.ci:
            value = value.lower()
            return [(r, row) for r, row in records if f.get(view, r, row).lower() == value]
        return [(r, row) for r, row in records if f.get(view, r, row) == value]
    suffix = key[len(name) + 1:]
    if kind == "map":
        if f.ci:
            suffix, value = suffix.lower(), value.lower()
        out = []
        for r, row in records:
            m = f.get_map(view, r, row)
            if f.ci:
                m = dict((k.lower(), v.lower()) for k, v in m.items())
            if suffix in m and m[suffix] == value:
                out.append((r, row))
        return out
    if suffix != "contains":
        raise Failure("Invalid syntax for set filtering (should be set-param:contains=key)")
    out = []
    for r, row in records:
        members = f.get_set(view, r, row)
        if f.ci:
            members, v = [m.lower() for m in members], value.lower()
        else:
            v = value
        if v in members:
            out.append((r, row))
    return out


def choose_params(ctx, defaults):
    ps = ctx.get("params")
    if ps is None:
        return defaults
    if ps == "all":
        return []
    return ps.split(",")


def render_record(view, ci, ref, row, names=None, list_mode=False):
    pairs = []
    for f in ci.fields:
        if f.hidden or (names is not None and f.name not in names):
            continue
        value = EXPENSIVE if (list_mode and f.expensive) else f.get(view, ref, row)
        pairs.append((f.label(), value))
    return pairs


def make_list(ci):
    def run(ctx):
        def body(db, view):
            if ci.in_db:
                records = list(db.rows(ci.table).items())
            else:  # messages (schema.ClassInfo): the pool's own, newest first
                records = list(reversed(list(view.local.rows(ci.table).items())))
            everything = records
            filters = list(ci.default_filters) + [
                (k, v) for k, v in ctx.params
                if k != "params" and k not in STDPARAMS and not k.startswith("database:")]
            for k, v in filters:
                records = filter_records(view, ci, records, k, v)
            if ctx.flag("all"):
                records = everything
            names = choose_params(ctx, ci.default_params)
            names = set(names) if names else None
            ctx.printer.table([render_record(view, ci, r, row, names, list_mode=True)
                               for r, row in records])
        foreign.with_specified_database(ctx, body)
    return run


def make_param_list(ci):
    def run(ctx):
        def body(db, view):
            ref = db.by_uuid(ci.table, ctx.get("uuid"))
            ctx.printer.table([render_record(view, ci, ref, db.get(ci.table, ref))])
        foreign.with_specified_database(ctx, body)
    return run


def make_param_get(ci):
    def run(ctx):
        def body(db, view):
            ref = db.by_uuid(ci.table, ctx.get("uuid"))
            row = db.get(ci.table, ref)
            f = lookup(ci.by_name, ctx.get("param-name"))
            key = ctx.get("param-key")
            if key is not None and f.get_map is not None:
                m = f.get_map(view, ref, row)
                if key not in m:
                    raise Failure("Key %s not found in map" % key)
                ctx.printer.plist([m[key]])
            else:
                ctx.printer.plist([f.get(view, ref, row)])
        foreign.with_specified_database(ctx, body)
    return run


def make_param_set(ci):
    def run(ctx):
        with ctx.site.transaction() as db:
            ref = db.by_uuid(ci.table, ctx.get("uuid"))
            for k, v in ctx.params:
                if k == "uuid" or k in STDPARAMS:
                    continue
                kind, name = field_type(ci.fields, ci.by_name, k)
                f = lookup(ci.by_name, name)
                if kind == "map":
                    key = k[len(name) + 1:]
                    if f.map_add is None:
                        raise Failure("Map field '%s' is read-only." % name)
                    view = View(db, db)
                    if key in f.get_map(view, ref, db.get(ci.table, ref)):
                        f.map_remove(db, ref, key)
                    f.map_add(db, ref, key, v)
                elif kind == "set":
                    raise Failure("Cannot param-set on set fields")
                elif f.setter is not None:
                    f.setter(db, ref, v)
                elif f.map_add is not None:
                    raise Failure("Field '%s' is a map or set. use the 'name:key=value' syntax."
                                  % k)
                else:
                    raise Failure("Field '%s' is read-only." % k)
    return run


def make_param_add(ci):
    def run(ctx):
        with ctx.site.transaction() as db:
            ref = db.by_uuid(ci.table, ctx.get("uuid"))
            f = lookup(ci.by_name, ctx.get("param-name"))
            if f.set_add is not None:
                key = ctx.get("param-key")
                if key is None:
                    raise Failure("When adding a key to a set, use the syntax: *-param-add "
                                  "param-name=<name> param-key=<key>")
                f.set_add(db, ref, key)
            elif f.map_add is not None:
                skip = ["uuid", "param-name", "param-key"] + STDPARAMS
                for k, v in ctx.params:
                    if k not in skip:
                        f.map_add(db, ref, k, v)
            elif f.get_set is not None or f.get_map is not None:
                raise Failure("Parameter is read-only")
            else:
                raise Failure("Can only add to parameters of type Set or Map")
    return run


def make_param_remove(ci):
    def run(ctx):
        with ctx.site.transaction() as db:
            ref = db.by_uuid(ci.table, ctx.get("uuid"))
            row = db.get(ci.table, ref)
            f = lookup(ci.by_name, ctx.get("param-name"))
            key = ctx.get("param-key")
            view = View(db, db)
            if f.get_set is not None and f.set_remove is not None:
                if key not in f.get_set(view, ref, row):
                    raise Failure("Key %s is not in the set" % key)
                f.set_remove(db, ref, key)
            elif f.get_map is not None and f.map_remove is not None:
                if key not in f.get_map(view, ref, row):
                    raise Failure("Key %s is not in map" % key)
                f.map_remove(db, ref, key)
            elif f.get_set is not None or f.get_map is not None:
                raise Failure("Cannot remove parameters from read-only map")
            else:
                raise Failure("Can only remove from parameters of type Set or Map")
    return run


def make_param_clear(ci):
    def run(ctx):
        with ctx.site.transaction() as db:
            ref = db.by_uuid(ci.table, ctx.get("uuid"))
            row = db.get(ci.table, ref)
            f = lookup(ci.by_name, ctx.get("param-name"))
            view = View(db, db)
            if f.get_set is not None and f.set_remove is not None:
                for member in f.get_set(view, ref, row):
                    f.set_remove(db, ref, member)
            elif f.clear_map is not None:
                f.clear_map(db, ref)
            elif f.get_map is not None and f.map_remove is not None:
                for key in list(f.get_map(view, ref, row)):
                    f.map_remove(db, ref, key)
            elif f.setter is not None:
                try:
                    f.setter(db, ref, "")
                except Exception:
                    raise Failure("Cannot clear this parameter")
            else:
                raise Failure("Can only clear RW parameters")
    return run


def _register():
    for cli in CLASS_ORDER:
        ci = CLASSES[cli]
        plural = cli + "s"
        visible = [f for f in ci.fields if not f.hidden]
        sm_names = [f.name + ":contains" for f in visible if f.get_set is not None]
        ops = [
            (cli + "-list", [], ["params", "database:"] + [f.name for f in visible] + sm_names,
             "Lists all the %s, filtering on the optional arguments. To filter on map "
             "parameters, use the syntax 'map-param:key=value'" % plural, make_list(ci)),
            (cli + "-param-list", ["uuid"], ["database:"],
             "Lists all the parameters of the object specified by the uuid.",
             make_param_list(ci)),
            (cli + "-param-get", ["uuid", "param-name"], ["param-key", "database:"],
             "Gets the parameter specified of the object. If the parameter is a map of "
             "key=value pairs, use 'param-key=<key>' to get the value associated with a "
             "particular key.", make_param_get(ci)),
        ]
        settable = [f.name for f in visible if f.setter is not None] + \
            [f.name + ":" for f in visible if f.map_add is not None]
        if settable:
            ops.insert(0, (cli + "-param-set", ["uuid"], settable,
                           "Sets the parameter specified. If param-value is not given, the "
                           "parameter is set to a null value. To set a (key,value) pair in a map "
                           "parameter, use the syntax 'map-param:key=value'.",
                           make_param_set(ci)))
        if any(f.set_add is not None or f.map_add is not None for f in visible):
            ops.append((cli + "-param-add", ["uuid", "param-name"], ["param-key"],
                        "Adds to a set or map parameter. If the parameter is a set, use "
                        "param-key=<key to add>. If the parameter is a map, pass the values to "
                        "add as 'key=value' pairs.", make_param_add(ci)))
            ops.append((cli + "-param-remove", ["uuid", "param-name", "param-key"], [],
                        "Removes a member or a key,value pair from a set/map respectively.",
                        make_param_remove(ci)))
        clearable = [f.name for f in visible
                     if f.setter is not None or f.get_set is not None or f.get_map is not None]
        if clearable:
            ops.append((cli + "-param-clear", ["uuid", "param-name"], [],
                        "Clears the specified parameter (param-name can be %s)."
                        % ",".join(clearable), make_param_clear(ci)))
        for name, reqd, optn, text, fn in ops:
            COMMANDS[name] = Command(name, fn, reqd, optn, text)


_register()
