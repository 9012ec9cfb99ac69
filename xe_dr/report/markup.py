"""Markdown and HTML reports: jinja2 templates shipped in the package (``xe_dr/templates``).

jinja2 is optional (the ``report`` extra) and imported here only, lazily; without it these
two formats fail with one ConfigError line (exit 78) and text and JSON still work. The
templates are read with :func:`pkgutil.get_data`, so they load from a checkout, an installed
package and the zipapp alike. HTML is autoescaped; Markdown goes through :func:`md`.
"""

import pkgutil
import re

from xe_dr.errors import ConfigError
from xe_dr.report.text import ascii_timeline, clean

TEMPLATES = {"markdown": "report.md.j2", "html": "report.html.j2"}

# The timeline picture (SVG user units = CSS px at scale 1).
SVG_WIDTH = 960
LABEL_WIDTH = 210
ROW = 22
BAR = 14
AXIS = 26
NOTE_WIDTH = 190  # kept right of the axis for "running after 1 h 02 min 30 s"
# Fills the tests look for in screenshots: keep them distinct from everything else.
COLOURS = {"recover": "#1f5fa8", "start": "#1e8a3c", "wait": "#9a9a9a", "failed": "#c0182a",
           "storage": "#7b3fa0", "source": "#b8860b"}
#: Bars of a phase before the recoveries (model.PHASES): one segment, in the phase's colour.
PHASE_KINDS = ("storage", "source")


def jinja_missing(fmt, directory=None):
    """On dom0 (no jinja2, nothing to install): the text and JSON reports are there, and a
    workstation makes the others from a copy of the run's directory."""
    return ConfigError(
        "the %s report needs jinja2, which is not installed here" % fmt,
        hint="the text and JSON reports need nothing: --format text or json; for %s, copy "
             "the run's directory%s to a workstation that has jinja2 and run 'xe-dr report "
             "DIRECTORY --format %s' there" % (
                 "HTML" if fmt == "html" else "Markdown",
                 " " + directory if directory else "", fmt))


def _environment(fmt, directory=None):
    try:
        import jinja2
    except ImportError:
        raise jinja_missing(fmt, directory) from None

    def load(name):
        data = pkgutil.get_data("xe_dr", "templates/" + name)
        if data is None:
            raise ConfigError("the report template %s is missing from this xe-dr" % name)
        return data.decode("utf-8")

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        autoescape=(fmt == "html"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["u"] = clean          # None -> "unknown", control characters escaped
    env.filters["md"] = md
    env.filters["mdcode"] = md_code
    env.globals["fence"] = fence
    return env


def render(model, fmt):
    env = _environment(fmt, (model.get("run") or {}).get("dir"))
    template = env.get_template(TEMPLATES[fmt])
    extra = {}
    if fmt == "html":
        extra["svg"] = layout(model.get("timeline"))
        extra["colours"] = COLOURS
    else:
        extra["ascii_timeline"] = ascii_timeline(model.get("timeline"))
    text = template.render(m=model, **extra)
    return text if text.endswith("\n") else text + "\n"


# -- Markdown escaping ------------------------------------------------------------------------

# Values never span lines (control characters are escaped), so only the characters that
# act inside a line need escaping: emphasis, code, links and images, tables, strikethrough.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(value):
    """A value as Markdown text that renders as itself: HTML characters as entities (raw HTML
    is live in Markdown), Markdown punctuation backslash-escaped, control characters escaped,
    None as "unknown"."""
    text = clean(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace('"', "&quot;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def fence(text):
    """A backtick fence longer than any run of backticks inside ``text``."""
    runs = [len(r) for r in re.findall(r"`+", text or "")]
    return "`" * max(3, max(runs or [0]) + 1)


def md_code(value):
    """A value for inside a fenced code block (the fence is made long enough by ``fence``)."""
    return clean(value)


# -- the timeline picture ---------------------------------------------------------------------

def _tick_step(span):
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
                 7200, 14400, 28800, 86400):
        if span / step <= 8:
            return step
    return span / 8.0


def _tick_text(seconds):
    if seconds < 10 and seconds != int(seconds):
        return "%.1fs" % seconds
    whole = int(round(seconds))
    if whole < 60:
        return "%ds" % whole
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return "%dh%02dm" % (hours, minutes)
    return "%dm%02ds" % (minutes, secs) if secs else "%dm" % minutes


def layout(timeline):
    """Coordinates for the SVG: one picture per order group, all on one time scale, so a
    group never splits across printed pages. None when there is nothing to draw."""
    if not timeline:
        return None
    span = timeline["span"] or 1.0
    step = _tick_step(span)
    scale_end = step * max(1, -(-span // step))  # the axis ends on a tick
    plot = SVG_WIDTH - LABEL_WIDTH - NOTE_WIDTH

    def x(offset):
        offset = max(0.0, min(offset or 0.0, scale_end))
        return round(LABEL_WIDTH + offset / scale_end * plot, 2)

    ticks = []
    value = 0.0
    while value <= scale_end + 1e-9:
        ticks.append({"x": x(value), "text": _tick_text(value)})
        value += step
    groups = []
    for group in timeline["groups"]:
        rows = []
        for index, bar in enumerate(group["bars"]):
            y = 6 + index * ROW
            segments = []
            recover_end = bar["recover_end"] if bar["recover_end"] is not None else bar["end"]
            if bar["kind"] in PHASE_KINDS:
                segments.append((bar["kind"], bar["begin"], bar["end"]))
            else:
                segments.append(("recover", bar["recover_begin"], recover_end))
            if bar["start_begin"] is not None:
                if bar["start_begin"] > recover_end:
                    segments.append(("wait", recover_end, bar["start_begin"]))
                start_end = bar["start_end"] if bar["start_end"] is not None else bar["end"]
                segments.append(("start", bar["start_begin"], start_end))
            shapes = []
            for kind, begin, end in segments:
                x0, x1 = x(begin), x(end)
                width = max(x1 - x0, 2.0)  # an instant is still visible
                fill = COLOURS["failed"] if bar["failed"] and kind != "wait" and \
                    (kind == "start" or bar["start_begin"] is None) else COLOURS[kind]
                height = BAR if kind != "wait" else 4
                shapes.append({"x": x0, "y": y + (BAR - height) / 2.0, "width": width,
                               "height": height, "fill": fill, "kind": kind})
            # The note goes right of the bar, in the room kept for it beyond the axis.
            note_x, note_anchor = x(bar["end"]) + (30 if bar["open"] else 5), "start"
            rows.append({"y": y, "text_y": y + BAR - 3, "label": bar["name_label"],
                         "note_x": note_x, "note_anchor": note_anchor,
                         "kind": bar["kind"], "note": bar["label"], "shapes": shapes,
                         "open": bar["open"], "end_x": x(bar["end"]),
                         "title": "%s: %s" % (clean(bar["name_label"]), clean(bar["label"]))})
        height = 6 + len(rows) * ROW + AXIS
        groups.append({"label": group["label"], "rows": rows, "height": height,
                       "axis_y": height - AXIS + 4, "tick_text_y": height - 6})
    return {"width": SVG_WIDTH, "label_width": LABEL_WIDTH, "plot_end": x(scale_end),
            "ticks": ticks, "groups": groups, "bar": BAR}
