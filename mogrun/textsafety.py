"""Text from outside (agent events, server messages, error bodies) made safe to
show on one terminal line.

One implementation for every layer: the API client's error messages, the
reporters and the tables all escape the same characters the same way, so an
agent or a hostile server can never move the cursor, recolour, clear the
screen, reorder text or forge extra lines.
"""

from __future__ import annotations

# Characters that are not control characters by category but still reorder or
# break a terminal line: bidi overrides/isolates and the Unicode line breaks
# (``tomltext`` writes them escaped into a task file too: `cat` and `git diff`
# would show its line reordered).
LINE_UNSAFE = frozenset(
    [*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A)), "\u2028", "\u2029"]
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Format characters that only join or part the letters beside them: Persian and
# Urdu write the non-joiner in nearly every sentence, emoji sequences the joiner.
# They neither move the cursor nor reorder text, so they are shown as they are.
_JOINERS = frozenset("\u200c\u200d")


def not_utf8(text: str) -> str | None:
    """``text`` as the bytes it was (``caf\\xe9``) when it is no UTF-8 text (bytes
    the locale could not decode come back as lone surrogates), else ``None``: an
    argument or ``MOGRUN_FILE`` so named is refused, never a traceback later."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:  # the bytes as typed (the locale's undecodable ones come back)
            return text.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
        except UnicodeEncodeError:  # a lone surrogate no locale made
            return ascii(text)[1:-1]
    return None


def text_refusal(text: str) -> str | None:
    """Why a name or path mogrun was given (an argument, ``MOGRUN_FILE``) is refused,
    as ``'shown' is ...``, or ``None`` for UTF-8 text. Bytes that are UTF-8 but came
    through a locale that could not read them (``PYTHONUTF8=0`` under the C locale)
    are said to be so: "not UTF-8 text" about ``héllo`` sent its user to re-type it."""
    shown = not_utf8(text)
    if shown is None:
        return None
    typed = as_typed(text)
    if typed is None:  # not UTF-8 bytes, or a lone surrogate no locale made
        return f"'{shown}' is not UTF-8 text; mogrun takes UTF-8 names and paths"
    return f"'{escape_agent_text(typed)}' {_locale_cannot_read()}"


def locale_refusal(text: str) -> str | None:
    """``is UTF-8 text this process's locale cannot read ...: run mogrun under a UTF-8
    locale`` when ``text`` holds bytes the locale could not decode that are UTF-8
    (an environment value, typed right), else ``None`` (not such bytes)."""
    return None if not_utf8(text) is None or as_typed(text) is None else \
        _locale_cannot_read()


def as_typed(text: str) -> str | None:
    """``text``'s bytes read as UTF-8, or ``None`` when they are not UTF-8: a name a
    locale that is not UTF-8 (``LC_ALL=C``) decoded as bytes (``tâches``) is what
    its bytes spell."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return None


def _locale_cannot_read() -> str:
    import sys

    return (f"is UTF-8 text this process's locale cannot read (its encoding is "
            f"{sys.getfilesystemencoding()}): run mogrun under a UTF-8 locale "
            "(LC_ALL=C.UTF-8), and without PYTHONUTF8=0")


def escape_agent_text(text: str) -> str:
    """``text`` made safe for one terminal line: control characters and escape
    sequences are shown escaped (ESC as ``\\x1b``, newline as ``\\n``), never
    passed through."""
    if text.isprintable() and not LINE_UNSAFE.intersection(text):
        return text
    return "".join(_escape_char(ch) for ch in text)


def _shown_as_is(ch: str) -> bool:
    """Whether a line may hold ``ch`` as it is (``escape_agent_text``'s rule)."""
    return (ch.isprintable() and ch not in LINE_UNSAFE) or ch in _JOINERS


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    if _shown_as_is(ch):
        return ch
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte no UTF-8 (a path's, surrogate-escaped): that byte
        code -= 0xDC00
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def json_line_safe(text: str) -> str:
    """JSON text (``json.dumps(..., ensure_ascii=False)``'s) with every character
    ``escape_agent_text`` would escape written as a JSON ``\\u`` escape instead
    (a pair for one past U+FFFF): still JSON, and safe on a terminal line (``show``
    printed a prompt's U+009B as ``\\x9b``, which no JSON parser reads)."""
    if text.isprintable() and not LINE_UNSAFE.intersection(text):
        return text
    import json

    # json.dumps's own escape of one character (ASCII only: \u, a pair past U+FFFF)
    return "".join(ch if _shown_as_is(ch) else json.dumps(ch)[1:-1] for ch in text)


def shell_word(text: str) -> str:
    """``text`` as one word a user pastes into bash or zsh: ``shlex.quote``, but
    ``$'...'`` (ANSI-C quoting) for text ``escape_agent_text`` would escape, whose
    escapes (``\\n``, ``\\x1b``) mean the characters there and nothing inside
    ``'...'``. The one way a hint quotes a name (a task file, a job, a value)."""
    if escape_agent_text(text) == text:
        import shlex

        return shlex.quote(text)
    return "$'" + "".join(map(_ansi_c, text)) + "'"


def run_command(command: str, verb: str, run_id: str) -> str:
    """``mogrun cancel RUN`` (``verb``: ``cancel``, ``status``, ``logs --follow``) for a
    hint: the run id comes from the server, so it is one shell word however it is
    spelled (``x; touch f`` pasted would run ``touch``)."""
    return f"{command} {verb} {shell_word(run_id)}"


def _ansi_c(ch: str) -> str:
    """One character inside ``$'...'``. What must be escaped is written as its UTF-8
    bytes (``\\xc2\\xa0``): bash reads ``\\xHH`` as that byte in every locale, while
    ``\\u00a0`` depends on the locale and ``\\xa0`` alone is not UTF-8."""
    if ch in "\\'":
        return "\\" + ch
    if ch in _NAMED:
        return _NAMED[ch]
    if ch.isprintable() and ch not in LINE_UNSAFE:
        return ch
    try:  # a name's undecodable byte is a surrogate-escaped one: that byte again
        data = ch.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = ch.encode("utf-8", "surrogatepass")
    return "".join(f"\\x{byte:02x}" for byte in data)


def inert_json(line: str) -> str:
    """An encoded JSON line with the same value but no ``##[`` in it: the GitHub
    Actions runner takes ``##[command]`` for a workflow command anywhere in a line,
    and an agent's text may hold one (``\\u0023`` is ``#`` to every JSON parser).
    A JSON line cannot begin with ``::``, the other syntax, so that needs nothing."""
    return line.replace("##[", "\\u0023#[") if "##[" in line else line


def inert_text(line: str) -> str:
    """One plain line that the GitHub Actions runner cannot take for a workflow
    command: the first character of a ``::`` at its start (after blanks, which
    the runner skips) and of every ``##[`` is shown escaped, as
    ``escape_agent_text`` shows a character (``\\x3a:``, ``\\x23#[``). For stderr,
    which no ``::stop-commands::`` reliably covers: the runner reads it apart
    from stdout and handles each batch's stderr lines first."""
    stripped = line.lstrip()
    if stripped.startswith("::"):
        line = line[:len(line) - len(stripped)] + "\\x3a" + stripped[1:]
    return line.replace("##[", "\\x23#[") if "##[" in line else line
