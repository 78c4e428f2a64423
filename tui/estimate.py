"""Reading a judge's typed estimate of P(Z), and writing probabilities back for reading.

P(Z) spans hundreds of orders of magnitude, so the judge may type it on any scale:
`0.3`, `3e-5`, `1e-12`, `10^-12`, `log10 -12`, `1 in 1000`, `2%`. Everything refused
comes back as one `EstimateError` whose message is a hint the input can show in place.
"""

from __future__ import annotations

import math
import re

# re-exported for the screens: the project's one probability formatter is debate/fmt.py's
from debate.fmt import fmt_log10 as fmt_log10
from debate.fmt import fmt_p as fmt_p
from debate.scoring import LOG10_FLOOR
from tui.errors import TuiError

#: Smallest log10 an estimate may have: the floor of every score (below it a float is 0).
MIN_LOG10 = LOG10_FLOOR
#: Step of the +/- keys, in log10.
STEP = 0.5

_LOG = re.compile(r"^(?:log10|log|lg)\s*[:=]?\s*\(?\s*([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)\s*\)?$")
_POW = re.compile(r"^10\s*(?:\^|\*\*)\s*\(?\s*([-+]?\d+(?:\.\d*)?)\s*\)?$")
_IN = re.compile(r"^1\s*in\s*([\d,_]+(?:\.\d*)?(?:e[-+]?\d+)?)$")
_PCT = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*%$")
_FRAC = re.compile(r"^(\d+(?:\.\d*)?)\s*/\s*(\d+(?:\.\d*)?(?:e[-+]?\d+)?)$")

HINT = "type a probability: 0.3, 3e-5, 10^-12 or log10 -12"


class EstimateError(TuiError, ValueError):
    """An estimate that cannot be used; the message says what to type instead (a ValueError
    too, for the callers that parse with `float`'s contract)."""


def parse_log10(text: str) -> float:
    """log10 of the probability the text means; EstimateError (with a hint) otherwise."""
    t = text.strip().lower().replace("−", "-").replace("×", "*").replace(" ", " ")
    if not t:
        raise EstimateError(f"empty; {HINT}")
    m = _LOG.match(t)
    if m or (m := _POW.match(t)):
        lg = float(m.group(1))
    elif m := _IN.match(t):
        n = float(m.group(1).replace(",", "").replace("_", ""))
        if n < 1:
            raise EstimateError("'1 in N' needs N >= 1")
        lg = -math.log10(n)
    elif m := _PCT.match(t):
        lg = _log10_of(float(m.group(1)) / 100, text)
    elif m := _FRAC.match(t):
        den = float(m.group(2))
        if den == 0:
            raise EstimateError("division by zero; " + HINT)
        lg = _log10_of(float(m.group(1)) / den, text)
    else:
        try:
            v = float(t)
        except ValueError:
            raise EstimateError(f"{text.strip()!r} is not a number; {HINT}") from None
        lg = _log10_of(v, text)
    if not math.isfinite(lg):
        raise EstimateError(f"not a finite number; {HINT}")
    if lg > 0:
        raise EstimateError(f"{text.strip()} is above 1; a probability is at most 1")
    if lg < MIN_LOG10:
        raise EstimateError(f"below 1e{int(MIN_LOG10)}; even P(Z) is not that small here")
    return lg


def _log10_of(v: float, text: str) -> float:
    if math.isnan(v):
        raise EstimateError(f"not a number; {HINT}")
    if v > 1:
        raise EstimateError(f"{text.strip()} is above 1; a probability is at most 1")
    if v < 0:
        raise EstimateError("a probability cannot be negative; for a tiny one write 1e-20")
    if v == 0:
        raise EstimateError("0 says impossible; for a tiny probability write e.g. 1e-30")
    return math.log10(v)


def parse_estimate(text: str) -> float:
    """The probability the text means (0 < p <= 1)."""
    return 10.0 ** parse_log10(text)


def parse_interval(text: str) -> tuple[float, float] | None:
    """An optional interval `lo .. hi` (also `lo, hi`, `lo to hi`); None when empty."""
    t = text.strip()
    if not t:
        return None
    parts = [p for p in re.split(r"\s*(?:\.\.|,|;|\bto\b|–)\s*", t) if p.strip()]
    if len(parts) != 2:
        raise EstimateError("an interval is two probabilities: 1e-8 .. 1e-5")
    lo, hi = sorted(parse_log10(p) for p in parts)
    return 10.0**lo, 10.0**hi


def parse_credence(text: str) -> float:
    """A credence in [0, 1] (`0.7`, `70%`); EstimateError otherwise."""
    t = text.strip().removesuffix("%")
    try:
        v = float(t)
    except ValueError:
        raise EstimateError("credence that A is honest: a number from 0 to 1, e.g. 0.7") from None
    if text.strip().endswith("%"):
        v /= 100
    if not 0.0 <= v <= 1.0:
        raise EstimateError("credence must be between 0 and 1")
    return v
