"""Summary statistics of judgements (`pzjudge stats` and the stats screen): errors, regret,
trust and its calibration, and the baselines' errors on the same rounds and evidence,
grouped by judge, rule set, debaters, round kind or study field.
"""

from __future__ import annotations

import math
import statistics
import zlib
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np

from debate.ratings import RESAMPLES, Game, bootstrap_mean, rate
from debate.scoring import safe_log10 as _log10  # the one floor (LOG10_FLOOR)
from debate.scoring import trust_points
from store.db import Store
from store.errors import StoreError
from store.export import export_rows

GroupBy = Literal[
    "judge", "rules", "debaters", "kind", "condition", "item", "participant", "debater"
]
#: The groupings `stats` knows, in the order the help lists them.
GROUPINGS: tuple[str, ...] = GroupBy.__args__  # type: ignore[attr-defined]
#: The group of a row outside any study, when grouping by a study field.
NO_STUDY = "(no study)"
#: Groupings by something a round of another kind (a mimic round) has too: such rounds form
#: that thing's own row, "NAME [kind]", beside its P(Z) row.
_OWN_ROW = ("judge", "participant", "item")
#: Reliability bins of the trust credence (equal width on [0, 1]).
N_BINS = 10


def _rules_label(rules: dict[str, Any] | None) -> str:
    """Short name of a rule set: the settings that differ from the defaults."""
    if not rules:
        return "(unknown)"
    from debate.rules import Rules

    defaults = Rules().model_dump(mode="json")
    diff = [f"{k}={v}" for k, v in sorted(rules.items()) if defaults.get(k, object()) != v]
    return ", ".join(diff) or "default"


def _mean(xs: list[float]) -> float | None:
    return math.fsum(xs) / len(xs) if xs else None


def calibration(
    forecasts: list[float], outcomes: list[bool], bins: int = N_BINS
) -> tuple[float | None, list[dict[str, Any]]]:
    """Expected calibration error and reliability bins of forecasts of a binary event."""
    table: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for f, o in zip(forecasts, outcomes, strict=True):
        table[min(bins - 1, max(0, int(f * bins)))].append((f, o))
    out, ece, n = [], 0.0, len(forecasts)
    for i, cell in enumerate(table):
        if not cell:
            continue
        conf = math.fsum(f for f, _ in cell) / len(cell)
        freq = sum(o for _, o in cell) / len(cell)
        ece += len(cell) / n * abs(conf - freq)
        out.append(
            {"lo": i / bins, "hi": (i + 1) / bins, "n": len(cell), "forecast": conf, "freq": freq}
        )
    return (ece if n else None), out


def _keys(row: dict[str, Any], by: str) -> list[str]:
    """The groups a row counts in: one, or for `debater` each distinct debater of the round
    (none when the round had no two debaters)."""
    kind = row["kind"] or "pz"
    if by == "kind":
        return [kind]
    if kind != "pz":
        # another measurement (a mimic's next book): never pooled with P(Z) rounds. It has
        # its own judge, participant and item ("ann [mimic]"), but no debaters: by debater
        # it is left out (`left_out` counts it for the note)
        if by == "debater":
            return []
        if by in _OWN_ROW:
            value = row.get(by)
            return [f"{NO_STUDY if value is None else value} [{kind}]"]
        return [f"[{kind}]"]
    if by == "judge":
        return [row["judge"]]
    if by == "rules":
        return [_rules_label(row["rules"])]
    if by == "debaters":
        return [f"{row['debater_a'] or '-'} vs {row['debater_b'] or '-'}"]
    if by == "debater":
        if not (row["debater_a"] and row["debater_b"] and row["honest_side"] in ("a", "b")):
            return []
        return sorted({row["debater_a"], row["debater_b"]})
    value = row.get(by)
    return [NO_STUDY if value is None else str(value)]


def _games(rows: Iterable[dict[str, Any]]) -> list[Game]:
    """Rounds with two debaters as the ratings see them: the spec that argued the truth, the
    spec that lied, and whether the judge trusted the honest one (None: trusted nobody)."""
    games = []
    for r in rows:
        if not (r["debater_a"] and r["debater_b"] and r["honest_side"] in ("a", "b")):
            continue
        if (r["kind"] or "pz") != "pz":
            continue
        a_honest = r["honest_side"] == "a"
        trust = r["trust"]
        games.append(
            Game(
                honest=r["debater_a"] if a_honest else r["debater_b"],
                liar=r["debater_b"] if a_honest else r["debater_a"],
                judge=r["judge"],
                honest_trusted=None if trust is None else trust == r["honest_side"],
                # judges' figures of `rate` are not read here: a missing error counts 0
                log10_error=r["log10_error"] or 0.0,
            )
        )
    return games


def _interval(values: list[float], rng: np.random.Generator, resamples: int) -> list[float] | None:
    """Percentile bootstrap 95% interval of the mean, as `debate.ratings` makes them (None
    with no values)."""
    if not values:
        return None
    est = bootstrap_mean(np.asarray(values, dtype=float), rng, resamples)
    return [est.low, est.high]


def stats(
    source: Store | Iterable[dict[str, Any]],
    by: GroupBy = "judge",
    *,
    practice: bool = False,
    resamples: int = RESAMPLES,
) -> list[dict[str, Any]]:
    """Per judge / rule set / debater pair / round kind / study condition, item or
    participant / debater: errors, regret, trust and its calibration, and the independence
    and max-ent baselines' errors on the same rounds and evidence. Rounds of another kind
    than P(Z) (mimic rounds) are never pooled with P(Z).

    `source` is a store or export rows (`store.study_export.study_rows` for a study).
    The mean log10 error and the share trusting the honest side carry percentile bootstrap
    95% intervals over rounds (`resamples` resamples, seeded by the group's name, so the
    same rows give the same intervals). By `debater`, a round counts for each of its two
    debaters, and each debater also gets its Bradley–Terry ratings as honest and as liar
    (`debate.ratings.rate`, over all rounds with two debaters).

    Practice rounds and a study's attention checks are left out unless `practice` is true.
    """
    if by not in GROUPINGS:
        raise StoreError(f"unknown grouping {by!r}; use {', '.join(GROUPINGS)}")
    groups: dict[str, list[dict[str, Any]]] = {}
    kept = []
    for row in export_rows(source) if isinstance(source, Store) else source:
        if (row["practice"] or row.get("attention")) and not practice:
            continue
        if row.get("judge_failed"):
            continue  # no answer: the stand-in estimate is not the judge's to be scored on
        kept.append(row)
        for key in _keys(row, by):
            groups.setdefault(key, []).append(row)
    ratings = {}
    if by == "debater":
        ratings = {d.name: d for d in rate(_games(kept), resamples=resamples).debaters}
    out = []
    for key, rows in sorted(groups.items()):
        rng = np.random.default_rng([zlib.crc32(key.encode()), 15])
        # P(Z) = 0 exactly: a log10 error is undefined (any estimate above 0 is infinitely
        # many orders off; the 1e-300 floor would make it ~300), so such rounds are left
        # out of every error and counted apart; regret and trust are defined and kept
        zero = [r for r in rows if zero_truth(r)]
        all_rows, rows = rows, [r for r in rows if not zero_truth(r)]
        errs = [r["log10_error"] for r in rows if r["log10_error"] is not None]
        regrets = [math.inf if r["regret_bits"] is None else r["regret_bits"] for r in all_rows]
        # undecided (credence 1/2) counts half: abstaining cannot lift an accuracy
        trusted = [
            trust_points(r["credence_a"], r["honest_side"]) for r in all_rows if _has_trust(r)
        ]
        fc = [(r["credence_a"], r["honest_side"] == "a") for r in all_rows if _has_trust(r)]
        ece, bins = calibration([f for f, _ in fc], [o for _, o in fc])
        ind_err = [baseline_error(r, "independence") for r in rows]
        me_err = [baseline_error(r, "maxent") for r in rows]
        ind = [e for e in ind_err if e is not None]
        me = [e for e in me_err if e is not None]
        beats = [
            r["log10_error"] < i
            for r, i in zip(rows, ind_err, strict=True)
            if r["log10_error"] is not None and i is not None
        ]
        beats_me = [
            r["log10_error"] < m
            for r, m in zip(rows, me_err, strict=True)
            if r["log10_error"] is not None and m is not None
        ]
        inside = [
            r["baselines"]["lower"] <= r["estimate"] <= r["baselines"]["upper"]
            for r in rows
            if r["baselines"]
            and r["baselines"].get("lower") is not None
            and r["baselines"].get("upper") is not None
            and r["estimate"] is not None
        ]
        covered = [r["covered"] for r in all_rows if r["covered"] is not None]
        extra: dict[str, Any] = {}
        if by == "debater":
            d = ratings.get(key)
            extra = {
                "as_honest": 0 if d is None else d.as_honest,
                "won_as_honest": 0 if d is None else d.won_as_honest,
                "as_liar": 0 if d is None else d.as_liar,
                "fooled_as_liar": 0 if d is None else d.fooled_as_liar,
                "honest_rating": None if d is None or d.honest is None else d.honest.model_dump(),
                "liar_rating": None if d is None or d.liar is None else d.liar.model_dump(),
            }
        out.append(
            {
                "group": key,
                "rounds": len(all_rows),
                "zero_truth_rounds": len(zero),
                # of those, the answers that were exactly right (0: the only estimate
                # without an infinite error)
                "zero_truth_said_zero": sum(1 for r in zero if r["estimate"] == 0),
                "mean_log10_error": _mean(errs),
                "mean_log10_error_ci": _interval(errs, rng, resamples),
                "median_log10_error": statistics.median(errs) if errs else None,
                "mean_regret_bits": _mean(regrets),
                "median_regret_bits": statistics.median(regrets) if regrets else None,
                "trust_rounds": len(trusted),
                "trusted_honest_rate": _mean([float(t) for t in trusted]),
                "trusted_honest_rate_ci": _interval([float(t) for t in trusted], rng, resamples),
                "mean_trust_honest": _mean(
                    [r["trust_honest"] for r in all_rows if r["trust_honest"] is not None]
                ),
                "trust_ece": ece,
                "reliability": bins,
                "covered_rate": _mean([float(c) for c in covered]),
                "within_bounds_rate": _mean([float(x) for x in inside]),
                "independence_log10_error": _mean(ind),
                "maxent_log10_error": _mean(me),
                "beats_independence_rate": _mean([float(b) for b in beats]),
                "beats_maxent_rate": _mean([float(b) for b in beats_me]),
                **extra,
            }
        )
    return out


def left_out(
    rows: Iterable[dict[str, Any]], by: GroupBy, *, practice: bool = False
) -> dict[str, int]:
    """Rounds that `stats(rows, by, practice=practice)` counts in no group because their
    kind has nothing to group by (by debater: mimic rounds, which have no debaters), per
    kind: what a note under the table says."""
    out: dict[str, int] = {}
    if by != "debater":
        return out
    for r in rows:
        kind = r["kind"] or "pz"
        if kind == "pz" or r.get("judge_failed"):
            continue
        if (r["practice"] or r.get("attention")) and not practice:
            continue
        out[kind] = out.get(kind, 0) + 1
    return out


def baseline_error(row: dict[str, Any], name: str) -> float | None:
    """A baseline's error in orders of magnitude on the row's evidence (None if unknown, or
    undefined when P(Z) is exactly 0).

    The truth's log comes from `log10_truth`, exact even where `truth_pz` underflows.
    """
    value = (row["baselines"] or {}).get(name)
    if value is None or zero_truth(row):
        return None  # unknown, or undefined (P(Z) = 0: any estimate above 0 is infinitely off)
    if row["log10_truth"] is not None:
        truth = row["log10_truth"]
    elif row["truth_pz"] is not None:
        truth = _log10(row["truth_pz"])
    else:
        return None
    return abs(_log10(value) - truth)


def zero_truth(row: dict[str, Any]) -> bool:
    """P(Z) is exactly 0 (not a truth too small for a float: that one has its log)."""
    return row["log10_truth"] is None and row["truth_pz"] is not None and row["truth_pz"] <= 0


def _has_trust(row: dict[str, Any]) -> bool:
    return row["credence_a"] is not None and row["honest_side"] in ("a", "b")


_COLUMNS = [
    ("group", "group", "s"),
    ("rounds", "rounds", "d"),
    ("mean_log10_error", "err mean [95% CI]", "ci.2f"),
    ("median_log10_error", "err med", ".2f"),
    ("mean_regret_bits", "regret", ".3g"),
    ("trusted_honest_rate", "trusted [95% CI]", "ci%"),
    ("trust_ece", "ECE", ".3f"),
    ("independence_log10_error", "indep err", ".2f"),
    ("maxent_log10_error", "maxent err", ".2f"),
    ("beats_independence_rate", "beats indep", "%"),
    ("beats_maxent_rate", "beats maxent", "%"),
]


#: Columns added by `--by debater`: Bradley–Terry ratings (log-odds) with their intervals.
_DEBATER_COLUMNS = [
    ("honest_rating", "rating as honest [95% CI]", "est"),
    ("liar_rating", "rating as liar [95% CI]", "est"),
]


def format_stats(rows: list[dict[str, Any]], by: str = "group") -> str:
    """A plain text table of `stats` rows (errors in orders of magnitude); a mean with an
    interval reads `value [low, high]`."""

    def fmt(v: Any, spec: str, r: dict[str, Any], k: str) -> str:
        if v is None:
            return "-"
        if spec == "est":
            # rounded first, so a bound of -1e-17 reads +0.00, not -0.00
            a, lo, hi = (round(v[k], 2) + 0.0 for k in ("value", "low", "high"))
            return f"{a:+.2f} [{lo:+.2f}, {hi:+.2f}]"
        if spec.startswith("ci"):
            ci = r.get(f"{k}_ci")
            one = (lambda x: f"{100 * x:.0f}%") if spec == "ci%" else (lambda x: f"{x:.2f}")
            return one(v) + ("" if ci is None else f" [{one(ci[0])}, {one(ci[1])}]")
        if spec == "%":
            return f"{100 * v:.0f}%"
        return format(v, spec)

    debater = bool(rows) and "honest_rating" in rows[0]
    columns = _COLUMNS + (_DEBATER_COLUMNS if debater else [])
    header = [by if k == "group" else title for k, title, _ in columns]
    body = [[fmt(r[k], spec, r, k) for k, _, spec in columns] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    lines = []
    for cells in [header, *body]:
        parts = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    if not rows:
        lines.append("(no judgements yet)")
    zero = sum(r.get("zero_truth_rounds", 0) for r in rows)
    if zero:
        said = sum(r.get("zero_truth_said_zero", 0) for r in rows)
        lines += [
            "",
            f"{zero} rounds had P(Z) = 0 exactly ({said} answered 0): a log10 error is "
            "undefined there, so they are left out of the error columns (kept in rounds, "
            "regret and trust)",
        ]
    calibrated = [r for r in rows if r["reliability"]]
    if debater:  # (`columns is not _COLUMNS` was always true: the sum is a new list)
        lines += [
            "",
            "rating: Bradley-Terry log-odds; rating as honest of X minus rating as liar of Y "
            "is the log-odds the judge trusts X over Y",
        ]
    if calibrated:
        lines += ["", "reliability of the credence that A is honest (bin: n, said → was):"]
        for r in calibrated:
            cells = [
                f"[{b['lo']:.1f},{b['hi']:.1f}) {b['n']}: {b['forecast']:.2f}→{b['freq']:.2f}"
                for b in r["reliability"]
            ]
            lines.append(f"  {r['group']}  ECE {r['trust_ece']:.3f}  " + "  ".join(cells))
    return "\n".join(lines)


__all__ = [
    "GROUPINGS",
    "NO_STUDY",
    "GroupBy",
    "baseline_error",
    "calibration",
    "format_stats",
    "left_out",
    "stats",
    "zero_truth",
]
