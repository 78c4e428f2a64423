"""Files a loader must refuse with one line, written the same way for every loader's test."""

from __future__ import annotations

from pathlib import Path


def write_case(p: Path, content: str | bytes | None) -> Path:
    """Write `content` at `p`: text, raw bytes (not UTF-8, say), or, for None, a directory
    where a file is expected (it cannot be read)."""
    if content is None:
        p.mkdir()
    elif isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    return p
