"""How a probability is written for a person: one formatter for the whole project.

Debaters' speeches, the prompts of LLM players, the command line and the game's screens all
write probabilities through `fmt_p` / `fmt_log10`, so the same number reads the same
everywhere (a judge compares a speech's figure with the screen's). P(Z) may lie far below
float range, so the exact form takes a log10.
"""

from __future__ import annotations

import math


def fmt_log10(lg: float | None, digits: int = 3, plain_from: int = -3) -> str:
    """A probability given by its log10, readable however small: `digits` significant
    digits, plain from 10**plain_from up (0.00123, 0.5), scientific below (1.23e-45); None
    (log of 0) is "0". The command line, which prints 6 digits, writes plain from 1e-4."""
    if lg is None:
        return "0"
    if lg >= plain_from:
        return f"{10**lg:.{digits}g}"
    exp = math.floor(lg)
    mant = 10 ** (lg - exp)
    if mant >= 10 - 0.5 * 10 ** (1 - digits):  # rounds up to 10.0: one more power of ten
        mant, exp = 1.0, exp + 1
    return f"{mant:.{digits - 1}f}e{exp}"


def fmt_p(p: float | None, digits: int = 3, plain_from: int = -3) -> str:
    """A probability, as `fmt_log10` writes it; None (not known) is "—"."""
    if p is None:
        return "—"
    if p <= 0:
        return "0"
    return fmt_log10(math.log10(p), digits, plain_from)
