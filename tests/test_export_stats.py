"""Exports past one write batch, and every `stats` field against a computation by hand.

The expected statistics are computed from the values put into the store (estimate, truth,
interval, credence, baselines), with mpmath for the regret, not from exported rows.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from pathlib import Path

import mpmath
import pytest

from debate.baselines import Baselines
from debate.rules import Rules
from debate.scoring import score
from store import export as export_mod
from store.db import Store
from store.export import FIELDS, export_rows, to_text, write_export
from store.importing import import_logs
from store.stats import stats


def _minimal(i: int) -> dict[str, object]:
    return {
        "schema_version": 1,
        "uid": f"u{i}",
        "round_uid": f"r{i}",
        "judge": "j",
        "session": "s1",
        "round": i + 1,
        "n_statements": 3,
        "truth_pz": 0.25,
        "log10_truth": math.log10(0.25),
        "estimate": 1e-3 * (1 + i % 7),
        "created_at": float(i),
    }


@pytest.mark.parametrize("n", [export_mod._BATCH, export_mod._BATCH + 1, 2 * export_mod._BATCH + 1])
def test_an_export_longer_than_a_batch_has_one_valid_line_per_row(tmp_path: Path, n: int) -> None:
    """2,001 rows: the first batch of 2,000 must end in a newline, or row 2,000 and 2,001
    share one (invalid) JSONL line. Both the fast path and the dict path, JSONL and CSV."""
    log = tmp_path / "in.jsonl"
    log.write_text("".join(json.dumps(_minimal(i)) + "\n" for i in range(n)))
    with Store(tmp_path / "big.db") as s:
        assert import_logs(s, [log]) == (n, 0)
        fast = io.StringIO()
        assert write_export(export_rows(s), "jsonl", fast) == n
        slow = to_text(list(export_rows(s)), "jsonl")  # a list takes the dict path
        fast_csv = io.StringIO()
        assert write_export(export_rows(s), "csv", fast_csv) == n
        slow_csv = to_text(list(export_rows(s)), "csv")
    for text in (fast.getvalue(), slow):
        assert text.endswith("\n")
        lines = text.split("\n")[:-1]
        assert len(lines) == n
        uids = [json.loads(line)["uid"] for line in lines]  # every line is one JSON object
        assert sorted(uids) == sorted(f"u{i}" for i in range(n))
    for text in (fast_csv.getvalue(), slow_csv):
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == FIELDS and len(rows) == n + 1
        assert all(len(r) == len(FIELDS) for r in rows)


def _kl_bits(p: float, q: float) -> float:
    """KL(Bern(p) || Bern(q)) in bits at 60 digits."""
    with mpmath.workdps(60):
        P, Q = mpmath.mpf(p), mpmath.mpf(q)
        head = P * mpmath.log(P / Q, 2) if P > 0 else mpmath.mpf(0)
        tail = (1 - P) * mpmath.log((1 - P) / (1 - Q), 2) if P < 1 else mpmath.mpf(0)
        return float(head + tail)


# (estimate, truth, interval, credence_a, honest, baselines (independence, maxent, lo, hi))
ROUNDS = [
    (1e-3, 2e-3, (1e-4, 1e-2), 0.8, "a", (1e-2, 1e-3, 1e-5, 0.1)),
    (0.3, 1e-5, (0.1, 0.5), 0.3, "a", (1e-4, None, 1e-6, 0.2)),
    (1e-7, 1e-6, None, None, "b", (1e-6, 2e-6, 1e-8, 1e-6)),
    (0.05, 0.05, (0.01, 0.2), 0.1, "b", (0.5, 0.04, 0.001, 0.9)),
    (2e-9, 1e-12, (1e-10, 1e-8), 0.55, "b", (1e-9, 1e-11, 1e-13, 1e-9)),
]


def _store_rounds(store: Store) -> None:
    for k, (est, truth, interval, ca, honest, (ind, me, lo, hi)) in enumerate(ROUNDS):
        sid = store.start_session(
            "judge-x",
            kind="game",
            rules=Rules().model_dump(mode="json"),
            debater_a="builtin:honest",
            debater_b="builtin:pairwise",
            seed=k,
        )
        rid = store.start_round(
            sid,
            number=1,
            world_json="{}",
            world_seed=k,
            n_statements=4,
            truth_pz=truth,
            log10_truth=math.log10(truth),
            honest_side=honest,
        )
        store.record_judgement(
            rid,
            estimate=est,
            interval=interval,
            credence_a=ca,
            seconds=1.0,
            scores=score(est, truth, interval=interval, credence_a=ca, honest=honest),
            baselines=Baselines(independence=ind, maxent=me, lower=lo, upper=hi),
            evidence={},
        )


def test_every_stats_field_against_a_direct_computation(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as s:
        _store_rounds(s)
        (g,) = stats(s, "judge")
    errs = [abs(math.log10(e) - math.log10(t)) for e, t, *_ in ROUNDS]
    regrets = [_kl_bits(t, e) for e, t, *_ in ROUNDS]
    inside = [lo <= e <= hi for e, _, _, _, _, (_, _, lo, hi) in ROUNDS]
    covered = [iv[0] <= t <= iv[1] for _, t, iv, *_ in ROUNDS if iv is not None]
    trust = [c if h == "a" else 1 - c for _, _, _, c, h, _ in ROUNDS if c is not None]
    me_err = [abs(math.log10(me) - math.log10(t)) for _, t, *_, (_, me, _, _) in ROUNDS if me]
    ind_err = [abs(math.log10(i) - math.log10(t)) for _, t, *_, (i, _, _, _) in ROUNDS]
    assert g["rounds"] == len(ROUNDS)
    # inside: [T, F, T, T, F]; covered: [T, F, T, F] (round 3 has no interval)
    assert inside == [True, False, True, True, False] and covered == [True, False, True, False]
    assert g["within_bounds_rate"] == pytest.approx(3 / 5, abs=1e-15)
    assert g["covered_rate"] == pytest.approx(2 / 4, abs=1e-15)
    assert g["median_log10_error"] == pytest.approx(statistics.median(errs), rel=1e-12)
    assert g["mean_log10_error"] == pytest.approx(math.fsum(errs) / 5, rel=1e-12)
    assert g["median_regret_bits"] == pytest.approx(statistics.median(regrets), rel=1e-9)
    assert g["mean_regret_bits"] == pytest.approx(math.fsum(regrets) / 5, rel=1e-9)
    assert g["mean_trust_honest"] == pytest.approx(math.fsum(trust) / len(trust), rel=1e-12)
    assert g["maxent_log10_error"] == pytest.approx(math.fsum(me_err) / len(me_err), rel=1e-9)
    assert g["independence_log10_error"] == pytest.approx(math.fsum(ind_err) / 5, rel=1e-9)
    # by hand: trust 0.8, 0.3, 0.9, 0.45 -> mean 0.6125; max-ent skips the round without one
    assert g["mean_trust_honest"] == pytest.approx(0.6125, abs=1e-12)
    assert len(me_err) == 4
