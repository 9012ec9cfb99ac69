"""The HTML report in a real browser: headless Chromium draws a drill's timeline (the bars'
fill colours are found in the screenshot's pixels, and not when the SVG is taken out) and
builds its Verification table (each VM's verdict, in the DOM Chromium made of the page), and
the picture's geometry keeps every bar inside it, so nothing is cut when printed.

Skipped without Chromium or jinja2, unless CI=true (then their absence fails).
"""

import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import pytest

from tests.fixtures_workflow import Drill  # noqa: F401  (the drill fixture's type)

CI = os.environ.get("CI") == "true"


def _need(what, present):
    """Chromium must be there in CI; jinja2 is absent by design in the run under dom0's Python
    (the standard library alone), where the HTML report cannot be made at all."""
    if not present:
        if CI and what != "jinja2":
            pytest.fail("%s is required when CI=true" % what)
        pytest.skip("%s is not installed" % what)


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _jinja():
    try:
        import jinja2  # noqa: F401
    except ImportError:
        return False
    return True


# -- PNG, decoded with the standard library ---------------------------------------------------

def decode_png(path):
    """(width, height, channels, rows) of an 8-bit RGB or RGBA PNG; rows are bytearrays."""
    with open(path, "rb") as handle:
        data = handle.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + predictor) & 255
        rows.append(line)
        previous = line
    return width, height, channels, rows


def count_colour(png, colour, tolerance=6):
    width, height, channels, rows = png
    want = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    count = 0
    for line in rows:
        for x in range(0, width * channels, channels):
            if abs(line[x] - want[0]) <= tolerance and abs(line[x + 1] - want[1]) <= \
                    tolerance and abs(line[x + 2] - want[2]) <= tolerance:
                count += 1
    return count


def screenshot(chromium, page, png, tmp_path, dom=False):
    """The decoded screenshot; with ``dom``, (screenshot, the DOM as Chromium serializes it)
    from the same launch."""
    profile = tmp_path / ("profile-" + png.name)
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--user-data-dir=%s" % profile, "--screenshot=%s" % png,
            "--window-size=1200,1600", "--hide-scrollbars"] + (
            ["--dump-dom"] if dom else []) + ["file://%s" % page]
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=120)
    assert result.returncode == 0 and png.exists(), result.stderr[-2000:]
    if dom:
        assert "</html>" in result.stdout, result.stderr[-2000:]
        return decode_png(str(png)), result.stdout
    return decode_png(str(png))


class SectionTables(HTMLParser):
    """The rows (lists of cell texts) of the tables under each <h2>, by the heading's text."""

    def __init__(self):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.sections = {}
        self.heading = None
        self.in_heading = False
        self.cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "h2":
            self.heading, self.in_heading = "", True
        elif tag == "tr" and self.heading is not None:
            self.sections.setdefault(self.heading, []).append([])
        elif tag in ("td", "th") and self.heading in self.sections:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "h2":
            self.in_heading = False
        elif tag in ("td", "th") and self.cell is not None:
            self.sections[self.heading][-1].append(" ".join(self.cell.split()))
            self.cell = None

    def handle_data(self, data):
        if self.in_heading:
            self.heading += data
        elif self.cell is not None:
            self.cell += data


# -- the tests --------------------------------------------------------------------------------

def test_chromium_draws_a_drills_timeline_and_builds_its_verification_table(drill, tmp_path):
    """A drill (the timeline is a test failover's, plus the verdicts) on the array's copies
    while the mirror runs. No plugin at B: the VMs are named, none is left out without it."""
    _need("jinja2", _jinja())
    chromium = _chromium()
    _need("chromium", chromium)
    from xe_dr.report.markup import COLOURS
    drill.ok("A", "replication", "enable", *[u for u, _ in drill.lab.replicated_srs()])
    run = drill.xedr("B", "--json", "drill", "--adapter", drill.lab.lab.path(
        "bin", "storage-adapter"), "--vapp", "erp", "--vm", "queue-01", "--vm", "cache-01",
        *drill.storage_args("B"))
    assert run.code == 0 and run.json["verdict"] == "verified", run
    vms = run.json["vms"]
    assert vms and all(vm["verified"] for vm in vms), vms
    page = tmp_path / "report.html"
    made = drill.xedr("B", "report", run.json["run"], "--format", "html", "-o", str(page))
    assert made.code == 0, made
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") >= 2  # the vApps, and the order groups of the VMs
    bare = tmp_path / "no-timeline.html"
    bare.write_text(re.sub(r"<svg.*?</svg>", "", html, flags=re.S), encoding="utf-8")

    drawn, dom = screenshot(chromium, page, tmp_path / "report.png", tmp_path, dom=True)
    blank = screenshot(chromium, bare, tmp_path / "no-timeline.png", tmp_path)
    assert drawn[0] == 1200 and drawn[1] >= 1600
    # three bars at least (erp, queue-01, cache-01), each at least 2 x 14 pixels; and the
    # storage phase's
    for part, bars in (("recover", 3), ("start", 3), ("storage", 1)):
        with_bars = count_colour(drawn, COLOURS[part])
        without = count_colour(blank, COLOURS[part])  # the legend's swatch alone
        assert without < 400, (part, without)
        assert with_bars - without >= bars * 28, (part, with_bars, without)
    # the Verification table as Chromium built it: a row per VM, its verdict and why
    tables = SectionTables()
    tables.feed(dom)
    rows = tables.sections.get("Verification: verified")
    assert rows and rows[0] == ["VM", "Verified", "Why"], tables.sections.keys()
    assert [(r[0], r[1].startswith("yes, at "), r[2]) for r in rows[1:]] == [
        (vm["name_label"], True, vm["reason"]) for vm in vms]


def test_every_bar_stays_inside_its_picture():
    _need("jinja2", _jinja())
    from xe_dr.report.markup import layout
    bars = []
    for index, (begin, end, open_) in enumerate([(0.0, 0.0, False), (5.0, 7300.0, False),
                                                 (100.0, 7450.0, True), (7449.0, 7450.0, True)]):
        bars.append({"name_label": "vm-%d" % index, "kind": "vm", "uuid": "u%d" % index,
                     "state": "ready", "begin": begin, "end": end, "open": open_,
                     "recover_begin": begin, "recover_end": (begin + end) / 2,
                     "start_begin": (begin + end) / 2 + 1 if end else None,
                     "start_end": None if open_ else end, "failed": False, "label": "x"})
    picture = layout({"start": 0, "start_text": "", "span": 7450.0, "span_text": "",
                      "ready_word": "running",
                      "groups": [{"label": "order group 0", "order": 0, "bars": bars}]})
    for group in picture["groups"]:
        for row in group["rows"]:
            assert row["y"] + picture["bar"] <= group["axis_y"]
            for shape in row["shapes"]:
                assert picture["label_width"] <= shape["x"]
                assert shape["x"] + shape["width"] <= picture["plot_end"] + 2
            if row["open"]:  # the dashed "no end" box fits too
                assert row["end_x"] + 24 <= picture["width"]
            assert row["note_x"] <= picture["width"] - 150
    ticks = [t["x"] for t in picture["ticks"]]
    assert ticks == sorted(ticks) and ticks[-1] == picture["plot_end"]
    assert 3 <= len(ticks) <= 10
