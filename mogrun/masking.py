"""Masking of secrets (tokens, webhook URLs, values from ``env.*``) in anything
mogrun prints or stores."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "***"


def mask_token(token: str | None) -> str:
    """A token as shown in traces: its prefix only (``mog_***``)."""
    if not token:
        return ""
    return token[:4] + MASK if token.startswith("mog_") else MASK


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***``.

    Longer secrets are replaced first so a secret containing another is
    masked whole; empty or very short strings are ignored (masking "a" would
    garble the output without protecting anything).
    """
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
