"""The layers of xe_dr, read from its source: every import counts, those inside functions and
``importlib.import_module("...")`` too, since an import hidden in a function still ties two
modules together (issue 13; docs/DESIGN.md "Layers").

- no import cycle between modules;
- no module imports from a layer above its own (LAYERS, lowest first);
- the workflows (xe_dr/dr/) never import presentation (xe_dr/report/, xe_dr/cli/);
- the lab stands apart: it imports nothing of xe_dr outside xe_dr/lab, and only the CLI's
  ``lab`` command loads it;
- a command never imports another command;
- xe's wire format (``<not in database>``, ``"; "``-joined sets) stays in xe_dr/xe/records.py.
"""

import ast
import os
import sys

import xe_dr

PACKAGE = os.path.dirname(os.path.abspath(xe_dr.__file__))

# Lowest first; each module may import its own layer and those below. An entry names one
# module, or with ".*" every module of a package (its __init__ included). Every module must
# be placed (test_every_module_has_a_layer), so a new one is placed on purpose.
LAYERS = (
    # What every layer shares: the exit codes, the error base every layer raises (runners
    # and xe raise XeDrError subclasses, hence below them), secrets' redaction, the
    # printable form of a name, atomic files, where the state lives, the bundled plugin, how
    # a Ctrl-C stops a run (the runners shield their calls, the engine stops between steps).
    ("base", ("xe_dr", "xe_dr.exitcodes", "xe_dr.errors", "xe_dr.redact", "xe_dr.text",
              "xe_dr.files", "xe_dr.state", "xe_dr.plugin_source", "xe_dr.interrupt")),
    ("runner", ("xe_dr.runner.*",)),
    ("xe", ("xe_dr.xe.*",)),
    ("pool", ("xe_dr.pool", "xe_dr.marks", "xe_dr.journal")),
    ("dr", ("xe_dr.dr.*",)),
    ("report", ("xe_dr.report.*",)),
    ("cli", ("xe_dr.cli.*", "xe_dr.__main__", "xe_dr.lab.*")),
)
LAB = "xe_dr.lab"

# Imports from a higher layer that remain, each with the reason it is allowed for now
# (empty: the run lifecycle moved to xe_dr/dr/lifecycle.py, which hands rendering to the CLI).
ALLOWED_UPWARD = {}


def _module_files():
    """{module name: path} for every module of xe_dr."""
    found = {}
    for directory, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in files:
            if not name.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(directory, name), os.path.dirname(PACKAGE))
            module = rel[:-3].replace(os.sep, ".")
            if module.endswith(".__init__"):
                module = module[:-len(".__init__")]
            found[module] = os.path.join(directory, name)
    return found


MODULES = _module_files()


def _parse(module):
    with open(MODULES[module], "rb") as handle:
        return ast.parse(handle.read(), MODULES[module])


def _string(node):
    if sys.version_info >= (3, 8):
        return node.value if isinstance(node, ast.Constant) and isinstance(
            node.value, str) else None
    return node.s if isinstance(node, ast.Str) else None


def _known(name):
    """The module an imported name lives in: the longest prefix that is a module."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module):
    """The xe_dr modules ``module`` imports, anywhere in it."""
    package = module if os.path.basename(MODULES[module]) == "__init__.py" else \
        module.rpartition(".")[0]
    found = set()
    for node in ast.walk(_parse(module)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            # "from xe_dr.dr import guard" imports the module xe_dr.dr.guard
            names = [base + "." + alias.name if base + "." + alias.name in MODULES else base
                     for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and (
                getattr(node.func, "attr", None) == "import_module" or
                getattr(node.func, "id", None) == "import_module"):
            text = _string(node.args[0])
            names = [text] if text else []
        for name in names:
            if name == "xe_dr" or name.startswith("xe_dr."):
                target = _known(name)
                if target and target != module:
                    found.add(target)
    return found


GRAPH = dict((m, _imports(m)) for m in MODULES)
CORE = sorted(m for m in MODULES if m != LAB and not m.startswith(LAB + "."))


def layer_of(module):
    for index, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            if module == entry or (entry.endswith(".*") and (
                    module == entry[:-2] or module.startswith(entry[:-1]))):
                return index
    return None


def _cycles(graph, nodes):
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root] & set(nodes))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child] & set(nodes)))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return sorted(out)


def test_the_graph_sees_function_level_and_importlib_imports():
    """The reader itself: an import inside a function and importlib's count."""
    assert "xe_dr.dr.status" in GRAPH["xe_dr.cli.commands.status"]  # inside run()
    assert "xe_dr.lab.cli" in GRAPH["xe_dr.cli.commands.lab"]  # importlib, by name
    assert "xe_dr.xe.records" in GRAPH["xe_dr.pool"]


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer_of(m) is None] == []


def test_no_import_cycle():
    assert _cycles(GRAPH, CORE) == []


def test_no_module_imports_from_a_higher_layer():
    upward = sorted((m, t) for m in CORE for t in GRAPH[m]
                    if layer_of(t) > layer_of(m) and (m, t) not in ALLOWED_UPWARD)
    assert upward == [], ["%s (%s) imports %s (%s)" % (
        m, LAYERS[layer_of(m)][0], t, LAYERS[layer_of(t)][0]) for m, t in upward]


def test_the_allowed_upward_imports_are_still_there():
    """An allowance that is no longer needed is taken out of ALLOWED_UPWARD."""
    assert sorted(e for e in ALLOWED_UPWARD if e[1] not in GRAPH.get(e[0], ())) == []


def test_the_workflows_never_import_presentation():
    found = sorted((m, t) for m in CORE if m.startswith("xe_dr.dr.") for t in GRAPH[m]
                   if t.split(".")[:2] in (["xe_dr", "report"], ["xe_dr", "cli"]))
    assert found == []


def test_the_lab_stands_apart():
    lab = [m for m in MODULES if m not in CORE]
    assert lab, "the lab was not found"
    outside = sorted((m, t) for m in lab for t in GRAPH[m] if t in CORE)
    assert outside == []
    into = sorted(m for m in CORE for t in GRAPH[m] if t not in CORE)
    assert into == ["xe_dr.cli.commands.lab"]


def test_a_command_never_imports_another_command():
    commands = [m for m in CORE if m.startswith("xe_dr.cli.commands.")]
    found = sorted((m, t) for m in commands for t in GRAPH[m] if t in commands)
    assert found == []


def _docstrings(tree):
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and body and \
                isinstance(body[0], ast.Expr) and _string(body[0].value) is not None:
            yield body[0].value


def test_the_workflows_leave_the_wire_format_to_the_parsers():
    """``<not in database>`` and the ``"; "`` of a set are xe's wire format: the workflows
    use xe_dr/xe/records.py (parse_ref, parse_set) or plain values from xe_dr/pool.py."""
    found = []
    for module in (m for m in CORE if m.startswith("xe_dr.dr.")):
        tree = _parse(module)
        docs = set(id(node) for node in _docstrings(tree))
        for node in ast.walk(tree):
            text = _string(node)
            if text is not None and id(node) not in docs and (
                    "<not in database>" in text or "<invalid reference>" in text):
                found.append("%s:%d names %r" % (module, node.lineno, text))
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in (
                    "split", "rsplit") and node.args and _string(node.args[0]) in (
                    "; ", ";", ", "):
                found.append("%s:%d splits on %r" % (module, node.lineno,
                                                      _string(node.args[0])))
    assert found == []


def test_no_workflow_module_is_over_400_lines():
    """A workflow that outgrows a screenful of screens is split by phase (issue 13)."""
    long = sorted((m, n) for m, n in ((m, sum(1 for _ in open(MODULES[m], "rb")))
                                      for m in CORE if m.startswith("xe_dr.dr"))
                  if n > 400)
    assert long == []
