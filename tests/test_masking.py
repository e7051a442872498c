"""Masking as a whole: no secret is left showing in what mogrun masks, however
the secrets overlap, nest or repeat (``mogrun.masking``)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from mogrun.masking import MASK, _mask_at, mask, mask_data

SECRET = st.text(alphabet="ab-", min_size=4, max_size=9)


@given(text=st.text(alphabet="ab- x", max_size=60), secrets=st.sets(SECRET, max_size=4))
def test_no_secret_is_left_in_masked_text(text: str, secrets: set[str]) -> None:
    """Replaced one after another, a secret masked first took an overlapping one's
    match away and left half of it showing (``AAAA-***`` or ``***-CCCC``)."""
    masked = mask(text, frozenset(secrets))
    assert not [secret for secret in secrets if secret in masked]
    assert mask_data({"k": [text]}, secrets) == {"k": [masked]}


def _masked_by_coverage(text: str, secrets: set[str]) -> str:
    """The rule spelled out: every occurrence of every secret, at every index;
    occurrences that overlap are one ``***``, the rest of the text as it is."""
    found = sorted((at, at + len(secret)) for secret in secrets for at in range(len(text))
                   if text.startswith(secret, at))
    runs: list[list[int]] = []
    for begin, end in found:
        if runs and begin < runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([begin, end])
    out, at = [], 0
    for begin, end in runs:
        out += [text[at:begin], MASK]
        at = end
    return "".join([*out, text[at:]])


@given(text=st.text(alphabet="ab- x", max_size=60), secrets=st.sets(SECRET, max_size=3))
def test_masking_is_the_rule_character_by_character(text: str, secrets: set[str]) -> None:
    """A secret that overlaps itself (``aaaa`` in ``aaaaa``) was masked once and
    left its last character showing."""
    assert mask(text, frozenset(secrets)) == _masked_by_coverage(text, secrets)


def test_overlapping_secrets_are_one_mask_whichever_order_they_come_in() -> None:
    text = "token AAAA-BBBB-CCCC here"
    for secrets in (["AAAA-BBBB", "BBBB-CCCC"], ["BBBB-CCCC", "AAAA-BBBB"]):
        assert mask(text, secrets) == f"token {MASK} here"
    assert mask("abcdabcd and abcd", ["abcd", "bcda"]) == f"{MASK} and {MASK}"
    assert mask("aaaaa ababab", ["aaaa"]) == f"{MASK} ababab"
    assert mask("ababab", ["abab"]) == MASK


def test_an_excerpt_with_overlapping_secrets_keeps_its_caret() -> None:
    line = 'prompt = "AAAA-BBBB-CCCC" # x'
    shown, column = _mask_at(line, line.index("#"), ("AAAA-BBBB", "BBBB-CCCC"))
    assert shown == f'prompt = "{MASK}" # x'
    assert shown[column] == "#"
    assert _mask_at(line, line.index("C"), ("AAAA-BBBB", "BBBB-CCCC"))[1] == line.index("A")


def test_wire_forms_hold_each_secret_as_a_url_and_a_json_string_carry_it() -> None:
    import json
    from urllib.parse import quote, quote_plus

    from mogrun.masking import with_wire_forms

    secrets = ("mog_token", 'pa"ss\\wd-Q1', "line1\nline2-NL9", "sécret-E7x", "")
    forms = with_wire_forms(secrets)
    for secret in secrets[:-1]:
        assert {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
                json.dumps(secret, ensure_ascii=False)[1:-1]} <= set(forms)
    assert {'pa\\"ss\\\\wd-Q1', "line1\\nline2-NL9", "s\\u00e9cret-E7x"} <= set(forms)
    assert "" not in forms and len(forms) == len(set(forms))
    assert with_wire_forms(list(secrets)) is forms  # remembered: every request asks


def test_a_body_quoted_back_json_escaped_is_masked_with_the_wire_forms() -> None:
    import json

    from mogrun.masking import with_wire_forms

    secrets = ('pa"ss\\wd-Q1', "line1\nline2-NL9", "sécret-E7x", "tab\there-T4")
    body = json.dumps({"prompt": " ".join(secrets)})
    again = json.dumps({"prompt": " ".join(secrets)}, ensure_ascii=False)
    for quoted in (body, again):
        masked = mask(f"Invalid body: {quoted}", with_wire_forms(secrets))
        assert not any(tail in masked for tail in ("wd-Q1", "2-NL9", "t-E7x", "re-T4")), masked


def test_show_masks_a_webhook_whole_its_host_and_credentials_too(tmp_path) -> None:
    """A webhook's host can be its secret (a token as the subdomain), and its
    credentials can hold an "@": a show that kept the host printed both."""
    from mogrun.testing import run_mogrun

    (tmp_path / "mogplex.toml").write_text(
        '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nnotify = [\n'
        '  { webhook = "{{ env.PIPE }}" },\n  { webhook = "{{ env.CORP }}" },\n]\n')
    env = {"PIPE": "https://eo1a2b3c4d5e6f7a8.m.pipedream.net/",
           "CORP": "https://me@corp.com:APITOKEN123@hooks.example/x"}
    result = run_mogrun("--json", "show", "a", cwd=tmp_path, env=env)
    assert result.exit_code == 0, result
    assert [t["webhook"] for t in json.loads(result.stdout)["options"]["notify"]] == [
        "***", "***"]
    for part in ("eo1a2b3c4d5e6f7a8", "APITOKEN123", "corp.com", "pipedream"):
        assert part not in result.stdout + result.stderr
