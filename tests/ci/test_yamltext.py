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
