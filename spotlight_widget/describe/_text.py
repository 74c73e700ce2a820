"""Values from the data (group names, labels) as one line of plain text, for captions and figures."""

from __future__ import annotations

import unicodedata
from typing import Any

_CAPTION_NAME_CHARS = 40


def _plain(value: Any, limit: int = _CAPTION_NAME_CHARS) -> str:
    """``value`` as one line of plain text: control characters become spaces, long text is cut."""
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in str(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
