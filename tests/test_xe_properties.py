"""Property tests: the parsers never leak a foreign exception, and render/parse round trips."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xe_dr.xe.errors import KNOWN_ERRORS, XapiError, XeOutputError, parse_error
from xe_dr.xe.probe import parse_probe_xml
from xe_dr.xe.records import (
    MODES,
    Record,
    escape_minimal,
    format_records,
    parse_map,
    parse_minimal,
    parse_records,
    parse_set,
)

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# Text biased towards the characters that matter to the formats.
_ALPHABET = st.sampled_from(list(" \n:;,\\()[]<>=-_.aZ09\t\r\x0b\u2028é☃") + ["( RO)", ": "])
format_text = st.lists(_ALPHABET, max_size=60).map("".join)
any_text = st.one_of(st.text(max_size=200), format_text)


@SETTINGS
@given(any_text)
def test_records_parse_or_raise_their_own_error(text):
    try:
        records = parse_records(text)
    except XeOutputError:
        return
    assert all(isinstance(r, Record) for r in records)


@SETTINGS
@given(any_text)
def test_minimal_parses_or_raises_its_own_error(text):
    try:
        values = parse_minimal(text)
    except XeOutputError:
        return
    assert all(isinstance(v, str) for v in values)


@SETTINGS
@given(any_text)
def test_values_parse_or_raise_their_own_error(text):
    try:
        parse_map(text)
    except XeOutputError:
        pass
    assert isinstance(parse_set(text), list)


@SETTINGS
@given(any_text)
def test_probe_xml_parses_or_raises_its_own_error(text):
    try:
        parse_probe_xml(text)
    except XeOutputError:
        pass


_KNOWN_FIRST_LINES = [sentences[0] + "\n" for _, sentences in KNOWN_ERRORS.values()] + [
    "Error code: SR_BACKEND_FAILURE_96\nError parameters: ", "Error code: X\n",
    "Required parameter not found: ", "Error: ", "operation failed on "]


@SETTINGS
@given(st.sampled_from([""] + _KNOWN_FIRST_LINES), any_text, any_text,
       st.sampled_from([None, 0, 1, 126, 127, 255]))
def test_errors_always_give_an_xapi_error(prefix, stderr, stdout, status):
    error = parse_error(prefix + stderr, stdout, status, command="xe x")
    assert isinstance(error, XapiError)
    assert isinstance(error.code, str) and error.code
    assert all(isinstance(p, str) for p in error.params)
    assert "\n" not in error.one_line()
    repr(error)


# -- round trips -------------------------------------------------------------------------------

minimal_values = st.lists(st.text(max_size=20) | format_text, max_size=8).filter(
    lambda values: values != [""])


@SETTINGS
@given(minimal_values)
def test_minimal_round_trip(values):
    assert parse_minimal(escape_minimal(values)) == values


field_names = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,24}\Z")
# Values may hold anything xe prints raw (": ", "; ", newlines...) except "(", without which
# no line of a value can imitate a label or the start of the next record.
record_values = st.text(st.characters(blacklist_characters="(",
                                      blacklist_categories=("Cs",)), max_size=30) | \
    format_text.map(lambda s: s.replace("(", "").replace("( RO)", ""))


@st.composite
def listings(draw):
    names = draw(st.lists(field_names, min_size=1, max_size=6, unique=True))
    modes = dict((name, draw(st.sampled_from(MODES))) for name in names)
    deprecated = set(draw(st.lists(st.sampled_from(names), max_size=2)))
    records = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        record = Record()
        for name in names:
            record[name] = draw(record_values)
        record.modes.update(modes)
        record.deprecated.update(deprecated)
        records.append(record)
    return records


@SETTINGS
@given(listings())
def test_record_round_trip(records):
    parsed = parse_records(format_records(records))
    assert parsed == records
    for got, want in zip(parsed, records):
        assert list(got) == list(want)
        assert got.modes == want.modes
        assert got.deprecated == want.deprecated


single_line = st.text(st.characters(blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028"
                                                         "\u2029",
                                    blacklist_categories=("Cs",)), max_size=30)


@SETTINGS
@given(st.sampled_from(sorted(KNOWN_ERRORS)), st.data())
def test_known_error_round_trip(code, data):
    names, sentences = KNOWN_ERRORS[code]
    values = [data.draw(single_line.filter(lambda v: v != "<unknown>")) for _ in names]
    extra = data.draw(st.lists(single_line, max_size=2))
    text = data.draw(st.sampled_from(sentences)) + "\n"
    text += "".join("%s: %s\n" % pair for pair in zip(names, values))
    text += "".join("<extra>: %s\n" % value for value in extra)
    error = parse_error(text)
    assert error.code == code
    assert error.params == values + extra
    assert error.param_map == dict(zip(names, values))
    assert error.extra == extra
