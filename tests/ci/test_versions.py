"""Which mogrun version is newer, as pip orders them: what keeps an older mogrun
from rewriting a newer one's workflow."""

from __future__ import annotations

import pytest

from mogrun.ci.versions import is_newer


@pytest.mark.parametrize(("newer", "older"), [
    ("0.2.0", "0.2.0.dev0"), ("0.2.0a1", "0.2.0.dev0"), ("0.2.0rc1", "0.2.0b2"),
    ("0.2.0", "0.2.0rc1"), ("0.2.0.post1", "0.2.0"), ("0.10.0", "0.9.9"),
    ("0.2.1.dev0", "0.2.0"), ("0.2.0a1", "0.2.0a1.dev3"), ("0.2.0.post1.dev0", "0.2.0"),
    ("1", "0.99"), ("0.2.0.dev1", "0.2.0.dev0"),
])
def test_a_later_release_is_newer_and_not_the_other_way(newer, older) -> None:
    assert is_newer(newer, older) and not is_newer(older, newer)


@pytest.mark.parametrize(("one", "other"), [
    ("0.2", "0.2.0"), ("0.2.0+g1234", "0.2.0"), ("0.2.0", "0.2.0"),
    ("not a version", "0.2.0"), ("0.2.0", "0.2.0)"),
])
def test_equal_or_unknown_versions_are_neither_newer(one, other) -> None:
    assert not is_newer(one, other) and not is_newer(other, one)
