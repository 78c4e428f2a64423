"""Reading estimates: every scale a judge may type, and a hint for everything refused."""

from __future__ import annotations

import math

import pytest

from tui.estimate import (
    EstimateError,
    fmt_log10,
    fmt_p,
    parse_credence,
    parse_estimate,
    parse_interval,
    parse_log10,
)


@pytest.mark.parametrize(
    ("text", "log10"),
    [
        ("0.3", math.log10(0.3)),
        ("3e-5", math.log10(3e-5)),
        ("1e-12", -12),
        ("10^-12", -12),
        ("10**-12", -12),
        ("10^(-3.5)", -3.5),
        ("log10 -12", -12),
        ("log10 = -12", -12),
        ("log -7.5", -7.5),
        ("1 in 1000", -3),
        ("1 in 1,000,000", -6),
        ("2%", math.log10(0.02)),
        ("1/8", math.log10(1 / 8)),
        ("1", 0.0),
        (" 1E-300 ", -300),
        ("log10 −12", -12),
    ],
)
def test_accepts_every_scale(text: str, log10: float) -> None:
    assert parse_log10(text) == pytest.approx(log10)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("2", "above 1"),
        ("abc", "not a number"),
        ("", "empty"),
        ("0", "impossible"),
        ("-0.1", "negative"),
        ("log10 3", "above 1"),
        ("log10 -400", "below"),
        ("nan", "not a number"),
        ("1/0", "division"),
    ],
)
def test_refuses_with_a_hint(text: str, hint: str) -> None:
    with pytest.raises(EstimateError, match=hint):
        parse_log10(text)


def test_estimate_interval_credence() -> None:
    assert parse_estimate("10^-2") == pytest.approx(0.01)
    assert parse_interval("") is None
    lo, hi = parse_interval("1e-3 .. 1e-8")  # order does not matter
    assert lo == pytest.approx(1e-8) and hi == pytest.approx(1e-3)
    assert parse_interval("1e-8, log10 -2")[1] == pytest.approx(0.01)  # type: ignore[index]
    with pytest.raises(EstimateError):
        parse_interval("1e-3")
    assert parse_credence("70%") == pytest.approx(0.7)
    with pytest.raises(EstimateError):
        parse_credence("1.5")


def test_formatting_reads_tiny_numbers() -> None:
    assert fmt_log10(-45.2) == "6.31e-46"
    assert fmt_log10(None) == "0"
    assert fmt_p(0.5) == "0.5"
    assert fmt_p(0.0) == "0"
    assert fmt_p(None) == "—"
    assert fmt_log10(-3.0000001).startswith("1.00e-3") or fmt_log10(-3.0000001) == "1.00e-3"
