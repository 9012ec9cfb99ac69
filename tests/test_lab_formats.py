"""The on-disk formats: redo log, database XML, S-expressions (round trips)."""

import os

from hypothesis import given, settings, strategies as st

from xe_dr.lab import dbxml, redolog
from xe_dr.lab.model import Db

TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=20)
# What xapi accepts in a string (valid XML 1.0 characters): control characters other than
# tab, newline and carriage return cannot be stored.
XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\n",
                                 max_codepoint=0xFFFD), max_size=20)


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, max_size=5), st.dictionaries(TEXT.filter(bool), TEXT, max_size=5))
def test_sexpr_round_trip(items, mapping):
    assert dbxml.parse_sexpr(dbxml.sexpr_set(items)) == items
    assert dict(dbxml.parse_sexpr(dbxml.sexpr_map(mapping))) == mapping


def test_sexpr_escaping():
    assert dbxml.sexpr_map({"k'": "v\\"}) == "(('k\\'' 'v\\\\'))"
    assert dbxml.sexpr_set([]) == "()"


@settings(max_examples=50, deadline=None)
@given(XML_TEXT, st.dictionaries(XML_TEXT.filter(bool), XML_TEXT, max_size=3))
def test_database_xml_round_trip(label, other_config):
    db = Db()
    db.create("pool", {"name_label": "p", "other_config": {}, "ha_enabled": False})
    ref = db.create("VM", {"name_label": label, "other_config": other_config, "order": 3,
                           "is_a_template": False, "tags": ["a", "b"],
                           "HVM_shadow_multiplier": 1.5})
    db.generation = 42
    back, minor = dbxml.from_xml(dbxml.to_xml(db, 786))
    assert (back.generation, minor) == (42, 786)
    row = back.get("VM", ref)
    assert row["name_label"] == label and row["other_config"] == other_config
    assert row["order"] == 3 and row["is_a_template"] is False and row["tags"] == ["a", "b"]
    assert row["HVM_shadow_multiplier"] == 1.5


def test_xml_column_names():
    db = Db()
    db.create("VM", {"name_label": "x", "memory_static_max": 1, "VCPUs_max": 2, "order": 0})
    xml = dbxml.to_xml(db, 786).decode()
    assert 'name__label="x"' in xml and 'memory__static_max="1"' in xml
    assert 'VCPUs__max="2"' in xml and ' order="0"' in xml


def test_xml_values_protect_whitespace_as_xapi_does():
    """xen-api ocaml/database/xml_spaces.ml protect, applied by db_xml.ml To.table to every
    field's value: what a reader of a real state.db or metadata copy meets."""
    db = Db()
    db.create("pool", {"name_label": "", "other_config": {"xe-dr-heartbeat": "2026-01-01T00:00:00Z",
                                                          "a b": "50%\tx"}})
    db.create("network", {"name_label": "Pool-wide network associated with eth0"})
    xml = dbxml.to_xml(db, 786).decode()
    assert 'name__label="Pool-wide%.network%.associated%.with%.eth0"' in xml
    assert "(('xe-dr-heartbeat'%.'2026-01-01T00:00:00Z')%.('a%.b'%.'50%%%tx'))" in xml
    back, _ = dbxml.from_xml(xml.encode())
    assert back.pool()["other_config"]["a b"] == "50%\tx"
    assert dbxml.unprotect("%_%.%%.%x") == "   %.%x"


def test_redo_log_alternates_halves(tmp_path):
    path = str(tmp_path / "lv")
    with open(path, "wb") as f:
        f.truncate(2 * redolog.HALF + 100)
    for gen in (5, 6, 7):
        redolog.write_path(path, b"<database>%d</database>" % gen, gen)
        fd = os.open(path, os.O_RDONLY)
        try:
            half = redolog.validity(fd)
        finally:
            os.close(fd)
        assert half == (1 if gen % 2 else 2)
        assert redolog.read_path(path) == (gen, b"<database>%d</database>" % gen)


def test_redo_log_errors(tmp_path):
    path = str(tmp_path / "lv")
    with open(path, "wb") as f:
        f.truncate(1000)
    try:
        redolog.read_path(path)
    except redolog.RedoLogError as e:
        assert "magic" in str(e)
    else:
        raise AssertionError("expected a RedoLogError")


def test_the_xml_is_written_the_same_under_a_hosts_python_2_7():
    # The XenAPI stand-ins a plugin imports run the lab under the host's interpreter, 2.7 on
    # XenServer 8.2: its byte strings have no str.translate by a dict (found by the slow
    # tier's failback campaign).
    import subprocess
    import pytest
    from tests.fixtures_lab import pyenv_python
    python = pyenv_python("2.7.18")
    if python is None:
        pytest.skip("pyenv's Python 2.7.18 is not installed")
    script = ("import sys; sys.path.insert(0, %r)\n"
              "from xe_dr.lab import dbxml\n"
              "from xe_dr.lab.model import Db\n"
              "db = Db(); db.create('pool', {'name_label': 'a <b>', 'other_config': "
              "{'k': 'v w'}, 'ha_enabled': False})\n"
              "back, _ = dbxml.from_xml(dbxml.to_xml(db, 786))\n"
              "row = back.pool()\n"
              "print(repr([row['name_label'], sorted(row['other_config'].items()), "
              "row['ha_enabled'], dbxml.protect(str(12) + ' %%'), dbxml._escape('<\"&>')]))\n"
              % os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.check_output([python, "-c", script]).decode("utf-8")
    assert out.replace("u'", "'") == repr(["a <b>", [("k", "v w")], False, "12%.%%",
                                            "&lt;&quot;&amp;&gt;"]) + "\n"
