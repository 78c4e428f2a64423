"""The one probability formatter (debate/fmt.py): speeches, prompts, the command line and the
screens write a number the same way, and what is written reads back as the number."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from debate.fmt import fmt_log10, fmt_p


@given(st.floats(min_value=1e-300, max_value=1.0), st.integers(min_value=2, max_value=8))
def test_what_is_written_reads_back_within_rounding(p: float, digits: int) -> None:
    text = fmt_p(p, digits)
    back = float(text)
    # `digits` significant digits: half a unit in the last place, relative
    assert abs(back - p) <= 0.5 * 10 ** (1 - digits) * p * (1 + 1e-9), (p, text)
    mantissa = text.split("e")[0].lstrip("0.").replace(".", "")
    assert len(mantissa) <= digits, text
    assert ("e" in text) == (p < 1e-3 and text != "0.001"), text


@given(st.floats(min_value=-5000.0, max_value=-3.5))
def test_far_below_float_range_the_log10_is_kept(lg: float) -> None:
    mant, exp = fmt_log10(lg).split("e")
    assert 1.0 <= float(mant) < 10.0
    assert abs(math.log10(float(mant)) + int(exp) - lg) <= math.log10(1.005) + 1e-12


def test_the_forms_each_reader_relies_on() -> None:
    assert fmt_p(1.234e-5) == "1.23e-5"  # no padded exponent: speeches read as the screen
    assert fmt_p(0.25) == "0.25" and fmt_p(0.0) == "0" and fmt_p(None) == "—"
    assert fmt_p(9.9996e-5, 4) == "1.000e-4"  # rounding up carries into the exponent
    assert fmt_p(9.996e-5, 4) == "9.996e-5"  # was "1.000e-4": a fixed 9.995 cut-off
    assert fmt_p(9.9996e-5, 5) == "9.9996e-5"
    assert fmt_log10(math.log10(0.000265826), 6, plain_from=-4) == "0.000265826"  # the CLI
    assert fmt_log10(None) == "0"  # log10 of an impossible Z
