"""Reports of runs: one model (:func:`build`), four formats (:func:`render`).

- ``text`` and ``json``: standard library only (dom0's Python 3.6);
- ``markdown`` and ``html``: jinja2 templates in ``xe_dr/templates`` (the ``report`` extra),
  imported lazily; without jinja2 they raise a ConfigError (exit 78).

:func:`write_default` is what the workflows call when a run ends, however it ends.
"""

import json
import os

from xe_dr.report.model import build  # noqa: F401  (part of this package's interface)

FORMATS = ("text", "markdown", "html", "json")
#: What write_default leaves in the run directory.
DEFAULT_FILES = (("text", "report.txt"), ("html", "report.html"))


def jinja_available():
    try:
        import jinja2  # noqa: F401
    except ImportError:
        return False
    return True


def render(model, fmt):
    """The report as a str in ``fmt`` (one of FORMATS)."""
    if fmt == "json":
        return json.dumps(model, indent=2, sort_keys=True) + "\n"
    if fmt == "text":
        from xe_dr.report.text import render as render_text
        return render_text(model)
    if fmt in ("markdown", "html"):
        from xe_dr.report.markup import render as render_template
        return render_template(model, fmt)
    raise ValueError("unknown report format %r" % (fmt,))


def write_file(path, content):
    """Write ``content`` to ``path`` (in a run directory) whole or not at all."""
    from xe_dr.files import replace_atomically
    replace_atomically(path, content)


def write_default(run):
    """Write ``report.txt`` (always) and ``report.html`` (when jinja2 is installed) into the
    run's directory. ``run`` is a :class:`xe_dr.journal.Run` or a run directory path.

    Never raises (a report must not hide the run's own outcome): returns None when all went
    well, else one line saying what could not be written, for the caller to show on stderr
    (``output.warning(message)``).
    """
    try:
        directory = run if isinstance(run, str) else run.dir
        model = build(run)
    except Exception as failure:  # a defect or an unreadable directory: say so, go on
        return "the run's report could not be made: %s: %s" % (type(failure).__name__,
                                                                failure)
    problems = []
    for fmt, name in DEFAULT_FILES:
        if fmt in ("markdown", "html") and not jinja_available():
            continue
        path = os.path.join(directory, name)
        try:
            write_file(path, render(model, fmt))
        except Exception as failure:
            problems.append("%s: %s: %s" % (path, type(failure).__name__,
                                            getattr(failure, "strerror", None) or failure))
    if problems:
        return "the run's report could not be written: %s" % "; ".join(problems)
    return None
