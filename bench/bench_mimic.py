"""Benchmark the mimic mode: each `pzjudge mimic` curve at its default settings (goal ≤ 10 s)
and a mimic round dealt and revealed (goal ≤ 0.5 s), with the brute-force computation of the
same numbers (tests/mimic_reference.py: dictionaries and loops over the 27,990 books) as the
baseline in the same run, and the largest disagreement between the two.

Run: ``OPENBLAS_NUM_THREADS=1 python bench/bench_mimic.py``
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import mimic_reference as ref

from latent.mimic import MimicClass, finetune, fit_mimic, operator_forecast, push, tv
from latent.mimic_measure import DEFAULT_Z, bayes_accuracy, goodhart, merging, sync, transfer
from latent.mimic_world import (
    default_world,
    feature_cells,
    feature_code,
    objectives,
    sample_books,
)

CLASSES = [MimicClass.parse(s) for s in ("g1", "m1", "g0")]


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def brute_merge_point(counts: np.ndarray, cls: MimicClass) -> tuple[float, float]:
    """One replicate of one N of the merging curve, by dictionaries: (seconds, TV)."""
    w = default_world()
    t = time.perf_counter()
    books = ref.books(w.max_events)
    data = {b: float(c) for b, c in zip(books, counts, strict=True) if c}
    table = ref.mimic_table(cls, data, w.max_events)
    mz: dict[tuple[int, ...], float] = {}
    zc: dict[tuple[int, ...], float] = {}
    for b in books:
        f = ref.features(b)
        key = tuple(f[n] for n in DEFAULT_Z)
        mz[key] = mz.get(key, 0.0) + ref.mimic_prob(cls, data, b, w.max_events, table)
        zc[key] = zc.get(key, 0.0) + data.get(b, 0.0)
    cells = feature_cells(DEFAULT_Z)
    n = sum(data.values())
    shape = (3, 2, 3, 2, 3)
    op = {k: (zc.get(k, 0.0) + 0.5) / (n + 0.5 * cells) for k in np.ndindex(*shape)}
    d = 0.5 * sum(abs(op[k] - mz.get(k, 0.0)) for k in op)
    return time.perf_counter() - t, d


def main() -> None:
    w = default_world()
    rows = []
    t, _ = timed(lambda: merging(w, CLASSES, [10, 30, 100, 300, 1000, 3000, 10000, 30000], 20))
    rows.append(("merge (3 classes × 8 N × 20 reps = 480 fits)", t))
    names = ["positive", "helpful", "recommend", "enjoy", "persuade"]
    betas = [10, 3, 1, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.01, 0.003, 0]
    t, _ = timed(lambda: sync(w, names, betas))
    rows.append(("finetune (5 objectives × 12 β)", t))
    t, _ = timed(lambda: goodhart(w, ["recommend", "enjoy", "persuade"], 300))
    rows.append(("goodhart (3 presets + 300 random objectives)", t))
    t, _ = timed(lambda: transfer(w, CLASSES, [10, 30, 100, 300, 1000, 3000, 10000], 8))
    rows.append(
        ("transfer (3 classes × 7 N × 8 reps: Bayes + a logistic fit each, 8 natural fits)", t)
    )
    print("| curve (`pzjudge mimic …` defaults) | time |")
    print("|---|---:|")
    for name, secs in rows:
        print(f"| {name} | {secs:.2f} s |")

    # brute force against the vectorised code, same numbers
    print()
    print("| one computation | vectorised | brute force | max difference |")
    print("|---|---:|---:|---:|")
    p = w.probs()
    t_vec, _ = timed(w.probs)
    books = ref.books(w.max_events)
    t_ref, p_ref = timed(lambda: np.array([ref.book_prob(w, b) for b in books]))
    print(
        f"| P(book), all {len(books):,} books | {t_vec * 1e3:.1f} ms | {t_ref:.2f} s | "
        f"{np.max(np.abs(p - p_ref)):.1e} |"
    )
    counts = sample_books(p, 1000, np.random.default_rng(0))
    cls = CLASSES[0]
    code, cells = feature_code(DEFAULT_Z), feature_cells(DEFAULT_Z)

    def vec_point() -> float:
        zc = np.bincount(code, weights=counts, minlength=cells)
        mz = push(fit_mimic(cls, counts, w.max_events).probs, code, cells)
        return tv(operator_forecast(zc), mz)

    t_vec, d_vec = timed(vec_point)
    t_ref, d_ref = brute_merge_point(counts, cls)
    print(
        f"| one merging point (genre-markov1, N = 1,000) | {t_vec * 1e3:.1f} ms | "
        f"{t_ref:.2f} s | {abs(d_vec - d_ref):.1e} |"
    )
    o = objectives()["enjoy"]
    t_vec, pi = timed(lambda: finetune(p, o.rho, 0.1))
    t_ref, pi_ref = timed(lambda: _brute_finetune(p_ref, o.rho, 0.1))
    print(
        f"| fine-tuned distribution (enjoy, β = 0.1) | {t_vec * 1e3:.1f} ms | "
        f"{t_ref * 1e3:.0f} ms | {np.max(np.abs(pi - pi_ref)):.1e} |"
    )
    q = fit_mimic(CLASSES[1], counts, w.max_events).probs
    t_vec, acc = timed(lambda: bayes_accuracy(p, q))
    t_ref, acc_ref = timed(lambda: _brute_bayes(books, p, q))
    print(
        f"| Bayes classifier accuracy on a mimic | {t_vec * 1e3:.1f} ms | "
        f"{t_ref * 1e3:.0f} ms | {abs(acc - acc_ref):.1e} |"
    )
    _bench_round()


def _brute_finetune(p: np.ndarray, r: np.ndarray, beta: float) -> np.ndarray:
    w = [float(pi) * float(np.exp(float(ri) / beta)) for pi, ri in zip(p, r, strict=True)]
    s = sum(w)
    return np.array([v / s for v in w])


def _brute_bayes(books: list[ref.Book], p: np.ndarray, q: np.ndarray) -> float:
    joint: dict[tuple[int, ...], list[float]] = {}
    for b, pb in zip(books, p, strict=True):
        joint.setdefault(b[1], [0.0, 0.0, 0.0])[b[0]] += float(pb)
    acc = 0.0
    for b, qb in zip(books, q, strict=True):
        s = joint[b[1]]
        if s.index(max(s)) == b[0]:
            acc += float(qb)
    return acc


def _bench_round() -> None:
    """A round dealt in a fresh interpreter (imports and every cache cold), then warm."""
    code = (
        "import time; t = time.perf_counter()\n"
        "from debate.mimic_round import deal_mimic_round, reveal_mimic_round\n"
        "t1 = time.perf_counter(); r = deal_mimic_round(0); t2 = time.perf_counter()\n"
        "reveal_mimic_round(r, 0.5); t3 = time.perf_counter()\n"
        "print(t1 - t, t2 - t1, t3 - t2)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imp, deal, rev = (float(v) for v in out.stdout.split())
    print()
    print("| mimic round | time |")
    print("|---|---:|")
    print(
        f"| fresh process: imports / first deal (cold caches) / reveal | "
        f"{imp:.3f} s / {deal:.3f} s / {rev * 1e3:.1f} ms |"
    )
    from debate.mimic_round import deal_mimic_round

    times = [timed(lambda s=s: deal_mimic_round(s))[0] for s in range(1, 11)]
    print(f"| warm: deal, 10 seeds (max) | {max(times):.3f} s |")


if __name__ == "__main__":
    main()
