"""Search-result snippets: the words around the first hit, hits in [brackets].

Made here in one pass over the text rather than by FTS5's snippet(), whose cost grows with
the square of how often a word occurs in one message (seconds for one long paste).
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque

WORD = re.compile(r"\w+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def fold(word: str) -> str:
    """A word as the full-text index compares it: case and accents ignored (cafe = Café)."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def snippet(content: str, query: str, width: int = 12) -> str:
    """About ``width`` words of ``content`` around the first word of ``query`` it contains."""
    wanted = {fold(word) for word in WORD.findall(query)}
    before: deque[re.Match[str]] = deque(maxlen=width // 3)
    window: list[re.Match[str]] = []
    for match in WORD.finditer(content):
        if window:
            window.append(match)
            if len(window) >= width - len(before):
                break
        elif fold(match[0]) in wanted:
            window.append(match)
        else:
            before.append(match)
    if not window:
        return _one_line(content[:80])
    tokens = [*before, *window]
    start, end = tokens[0].start(), tokens[-1].end()
    parts: list[str] = ["... " if start > 0 else ""]
    position = start
    for token in tokens:
        parts.append(content[position:token.start()])
        parts.append(f"[{token[0]}]" if fold(token[0]) in wanted else token[0])
        position = token.end()
    parts.append(" ..." if end < len(content) else "")
    return _one_line("".join(parts))


def _one_line(text: str) -> str:
    return _CONTROL.sub(" ", text)
