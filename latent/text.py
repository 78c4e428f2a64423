"""Untrusted text made safe for a terminal: the one sanitiser every boundary uses.

Text from outside pzjudge (world files, debaters' speeches, LLM replies, imported logs)
may carry terminal control sequences: CSI (cursor moves, clearing the screen), OSC (the
window title, OSC 52 writing the clipboard, hyperlinks), or bare C0/C1 control characters.
`clean_text` removes them where such text enters, so everything downstream (the game, the
command line, the database, exports) holds clean text. Rich/Textual markup is not this
module's concern: text is data, and the UI renders it as `rich.text.Text`, never as markup.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["CleanText", "clean_text", "control_chars"]

#: Whole escape sequences first (so that no printable residue such as "]0;title" is left):
#: CSI ESC [ … final, OSC/DCS/SOS/PM/APC ESC ] P X ^ _ … up to BEL or ST, two-byte ESC x,
#: and the 8-bit CSI/OSC forms.
_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)
#: Control characters left after that: C0 but tab and newline, DEL, C1, and the Unicode
#: controls that reorder or hide text on screen (bidi embeddings, overrides and isolates).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """`text` without terminal escape sequences and control characters (tab and newline
    kept; a carriage return before a newline dropped, any other one made a newline)."""
    if not _CONTROL.search(text):
        return text
    text = _SEQUENCE.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def control_chars(text: str) -> bool:
    """Whether `text` holds anything `clean_text` would remove (for names that must be
    refused rather than changed: statement ids)."""
    return bool(_CONTROL.search(text))


#: A pydantic string field cleaned on validation: use it for every field that holds text
#: from outside (speeches, forfeit reasons, names), so a model cannot hold raw escapes.
CleanText = Annotated[str, AfterValidator(clean_text)]
