"""The hand-rolled YAML writer: what it writes reads back (YAML 1.2) as the data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mogrun.ci.yamltext import dump, in_comment, scalar

from .workflows import load_yaml

TRICKY = ["on", "off", "yes", "No", "null", "~", "true", "1", "0x1F", "1e3", "-", "- x",
          "* * * * *", "17 6 * * 1", "a: b", "a #b", "#x", "&anchor", "!tag", "|", ">",
          "@at", "`x", "'q'", '"dq"', "", " ", "trailing ", "two  spaces", "tab\there",
          "line\nbreak", "back\\slash", "ünïcode", "${{ secrets.X }}", "[x]", "{x}", "%x",
          "?x", "a,b", "(x == 'y') || z", "mogrun==0.1.0", "\u2028", "\x00", "\ufeffbom"]


@pytest.mark.parametrize("text", TRICKY)
def test_every_tricky_string_reads_back_as_itself(text) -> None:
    document = {"key": text, "list": [text], "nested": {text or "k": {"x": text}}}
    assert load_yaml(dump(document)) == document


@pytest.mark.parametrize("text", TRICKY)
def test_every_tricky_string_stays_inside_a_comment(text) -> None:
    assert load_yaml(f"# {in_comment(text)}\nkey: 1\n") == {"key": 1}


# Every plain scalar a YAML 1.1 or 1.2 reader resolves to something but a string.
YAML_11_BOOLS = [w for word in ("y", "yes", "n", "no", "true", "false", "on", "off")
                 for w in dict.fromkeys((word, word.capitalize(), word.upper()))]
YAML_NULLS = ["~", "null", "Null", "NULL", ""]
YAML_NUMBERS = ["0", "17", "-1", "+1", "0o17", "017", "0x1F", "0b101", "1_000", "1.5", "1e3",
                "-.5", ".5", "1:20", "1:20.5", ".inf", "-.Inf", ".NaN", "2026-12-07",
                "2026-12-07T06:17:00Z", "=", "<<"]
SPECIAL = YAML_11_BOOLS + YAML_NULLS + YAML_NUMBERS


def load_yaml_11(text: str) -> object:
    return load_yaml("%YAML 1.1\n---\n" + text)


@pytest.mark.parametrize("text", SPECIAL)
def test_special_scalars_read_back_as_strings_in_yaml_1_1_and_1_2(text) -> None:
    """A job named ``on`` was written as a bare key ``on:``, which YAML 1.1 reads
    as ``True``; every such word is quoted, as a key (below the top level) or a
    value."""
    document = {"jobs": {text: {"name": text, "needs": [text]}}}
    written = dump(document)
    assert load_yaml(written) == document
    assert load_yaml_11(written) == document


def test_only_the_workflow_s_own_on_stays_a_plain_key() -> None:
    text = dump({"on": {"on": "on"}, "jobs": {"on": {"name": "x"}, "ON": {"name": "y"}}})
    assert text.splitlines() == ['on:', '  "on": "on"', "jobs:", '  "on":', "    name: x",
                                 '  "ON":', '    name: "y"']


def test_plain_where_safe_quoted_otherwise() -> None:
    assert scalar("ubuntu-latest") == "ubuntu-latest"
    assert scalar("actions/checkout@v4") == "actions/checkout@v4"
    assert scalar("${{ secrets.MOGPLEX_API_KEY }}") == "${{ secrets.MOGPLEX_API_KEY }}"
    assert scalar("17 6 * * 1") == '"17 6 * * 1"'
    assert scalar("on") == '"on"'
    assert scalar("3.12") == '"3.12"'
    assert scalar(True) == "true" and scalar(360) == "360"
    with pytest.raises(TypeError):
        scalar(1.5)


def test_layout_of_lists_of_mappings_and_empties() -> None:
    text = dump({"on": {"schedule": [{"cron": "5 4 * * *"}]},
                 "steps": [{"uses": "a/b@v1", "with": {"k": "v"}}, {"run": "x"}],
                 "empty": {}, "none": []})
    assert text == (
        "on:\n  schedule:\n    - cron: \"5 4 * * *\"\n"
        "steps:\n  - uses: a/b@v1\n    with:\n      k: v\n  - run: x\n"
        "empty: {}\nnone: []\n")


scalars = st.one_of(st.text(), st.integers(), st.booleans())
documents = st.recursive(
    st.dictionaries(st.text(min_size=1), scalars, max_size=4),
    lambda inner: st.dictionaries(st.text(min_size=1),
                                  st.one_of(inner, st.lists(st.one_of(scalars, inner),
                                                            max_size=3)), max_size=4),
    max_leaves=12)


@given(documents)
def test_any_document_round_trips(document) -> None:
    assert load_yaml(dump(document)) == document
