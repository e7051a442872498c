"""Task files as people's editors save them: LF, CRLF, a byte order mark, or
blank lines after the last one (tests parametrize over ``STYLES``)."""

from __future__ import annotations

STYLES = ["lf", "crlf", "bom", "trailing-blank-lines"]


def write(project, text: str, style: str) -> None:
    """``text`` written to ``project``'s task file in ``style``."""
    if style == "trailing-blank-lines":
        text += "\n\n\n"
    if style == "crlf":
        text = text.replace("\n", "\r\n")
    project.path.write_bytes((("\ufeff" if style == "bom" else "") + text).encode("utf-8"))
