"""The project's documents stand on their own.

No document (the README, docs/, the lab's README, the bench's results, the man pages) names a
path of the machine it was written on or a path outside the repository: a fact is cited by
its public source (repository, file, function), a file of ours by its path in the repository.
Absolute paths are dom0's and an administrator's standard directories only.
"""

import os
import re
import shlex

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The top directories an absolute path in a document may start with: those of dom0 and of
# any Unix machine (xe in /opt/xensource/bin, the state in /var/lib/xe-dr, keys in /root).
STANDARD = {"bin", "boot", "dev", "etc", "lib", "lib64", "opt", "proc", "root", "run", "sbin",
            "srv", "sys", "tmp", "usr", "var"}

# A path starts a word: at the start of a line, after a space, an opening bracket or quote, an
# equals sign or a colon (PATH=/a:/b), or an opening backquote (so not in a/b, x.y/z,
# `Halted`/actual or a URL).
START = r"(?:^|(?<=[\s(\[\"'=,:])|(?<=^`)|(?<=[\s(\[]`))"
ABSOLUTE = re.compile(START + r"/[\w.+-]+(?:/[\w.+{}-]*)*")
PARENT = re.compile(START + r"\.\./[\w.+/-]*")
# roff: font changes and escapes would hide a path's first slash, and the alternating-font
# macros (.IR A B C) print their arguments as one word.
ROFF_ESCAPE = re.compile(r"\\f(?:[BIRP]|\(..|\[[^]]*\])|\\&|\\c|\\s[+-]?\d")
ROFF_ALTERNATING = re.compile(r"^\.(?:BI|IB|BR|RB|IR|RI)\s+(.*)$")


def documents():
    for directory, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__"
                         and not d.endswith(".egg-info"))
        relative = os.path.relpath(directory, ROOT)
        for name in sorted(files):
            if name.endswith(".md") or (relative == "man" and re.search(r"\.\d$", name)):
                yield os.path.join(directory, name)


def lines_of(path):
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if path.endswith(".md"):
                yield number, line
                continue
            line = ROFF_ESCAPE.sub("", line).replace("\\-", "-").replace("\\e", "\\")
            alternating = ROFF_ALTERNATING.match(line)
            if alternating:
                try:
                    line = "".join(shlex.split(alternating.group(1)))
                except ValueError:
                    line = "".join(alternating.group(1).split())
            yield number, line


def foreign_paths(path):
    here = os.path.dirname(path)
    for number, line in lines_of(path):
        for match in ABSOLUTE.finditer(line):
            name = match.group(0)
            top = name.split("/")[1]
            if top not in STANDARD or name == ROOT or name.startswith(ROOT + "/"):
                yield number, name
        for match in PARENT.finditer(line):
            name = match.group(0)
            target = os.path.normpath(os.path.join(here, name))
            if not target.startswith(ROOT + os.sep) or not os.path.exists(target):
                yield number, name


def test_no_document_names_a_path_of_this_machine_or_outside_the_repository():
    names = {os.path.relpath(path, ROOT) for path in documents()}
    assert {"README.md", "docs/NOTES.md", "docs/DESIGN.md", "xe_dr/lab/README.md",
            "man/xe-dr.8", "man/xe-dr-plugin.8"} <= names, names
    found = ["%s:%d: %s" % (os.path.relpath(path, ROOT), number, name)
             for path in documents() for number, name in foreign_paths(path)]
    assert not found, "paths a reader of the repository cannot follow:\n" + "\n".join(found)
