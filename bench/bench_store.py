"""Store benchmark: export of 100,000 judgements (JSONL, CSV) and the judgement commit time.

Targets: each export <= 3 s; median commit of one judgement <= 5 ms. The database runs in
WAL mode with synchronous=NORMAL (a commit survives a killed process; an OS crash may lose
the last commits), which is what the Store always uses.

    python bench/bench_store.py [--n 100000] [--commits 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from debate.baselines import Baselines
from debate.rules import Rules
from debate.scoring import Scores
from store.db import Store
from store.export import export_rows, write_export


def seed(store: Store, n: int, per_session: int = 1000) -> None:
    """Fill the store with n answered rounds, in one transaction (insert_all)."""
    rules = json.dumps(Rules().model_dump(mode="json"))
    now = time.time()
    evidence = {f"s{i}": 0.9 for i in range(12)} | {f"s{i}&s{i + 1}": 0.85 for i in range(6)}
    ev = json.dumps(evidence, separators=(",", ":"))
    with store.transaction() as db:
        judges = [store.judge_id(f"judge{k}") for k in range(10)]
        sessions = [
            {
                "id": s + 1,
                "uid": uuid.uuid4().hex,
                "judge_id": judges[s % len(judges)],
                "kind": "game",
                "settings": '{"n_statements":18,"difficulty":"normal"}',
                "rules": rules,
                "debater_a": "honest",
                "debater_b": "liar-independence",
                "seed": s,
                "app_version": "bench",
                "started_at": now,
                "ended_at": now,
            }
            for s in range(-(-n // per_session))
        ]
        db.table("sessions").insert_all(sessions)
        rounds = (
            {
                "id": i + 1,
                "uid": uuid.uuid4().hex,
                "session_id": i // per_session + 1,
                "number": i % per_session + 1,
                "world_json": None,
                "world_seed": i,
                "n_statements": 18,
                "truth_pz": 1e-6,
                "log10_truth": -6.0,
                "honest_side": "ab"[i % 2],
                "claims": '{"a":1e-06,"b":0.0001}' if i % 2 == 0 else '{"a":0.0001,"b":1e-06}',
                "practice": 0,
                "started_at": now,
                "answered_at": now,
            }
            for i in range(n)
        )
        db.table("rounds").insert_all(rounds, batch_size=2000)
        judgements = (
            {
                "uid": uuid.uuid4().hex,
                "round_id": i + 1,
                "estimate": 10 ** -(3 + i % 6),
                "interval_lo": 1e-9,
                "interval_hi": 1e-2,
                "credence_a": (i % 10) / 10,
                "seconds": 40.0 + i % 30,
                "log10_error": float(abs(3 + i % 6 - 6)),
                "regret_bits": 1e-6,
                "covered": 1,
                "trust_log_score": -0.5,
                "trusted_honest": i % 3 != 0,
                "base_independence": 0.28,
                "base_maxent": 0.3,
                "base_lower": 0.0,
                "base_upper": 0.85,
                "evidence": ev,
                "created_at": now + i * 1e-3,
            }
            for i in range(n)
        )
        db.table("judgements").insert_all(judgements, batch_size=2000)


def commit_times(store: Store, k: int) -> list[float]:
    """Milliseconds of `record_judgement`, each on a fresh round."""
    sid = store.start_session("bench", kind="game", app_version="bench")
    scores = Scores(log10_error=1.0, regret_bits=0.01, covered=True)
    base = Baselines(independence=0.3, maxent=0.3, lower=0.0, upper=0.9)
    evidence = {f"s{i}": 0.9 for i in range(12)}
    out = []
    for i in range(k):
        rid = store.start_round(
            sid,
            number=i + 1,
            world_json="{}",
            world_seed=i,
            n_statements=12,
            truth_pz=1e-3,
            log10_truth=-3.0,
            honest_side="a",
            claims={"a": 1e-3, "b": 1e-1},
        )
        t0 = time.perf_counter()
        store.record_judgement(
            rid,
            estimate=1e-2,
            interval=None,
            credence_a=0.6,
            seconds=30.0,
            scores=scores,
            baselines=base,
            evidence=evidence,
        )
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--commits", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        seed(store, args.n)
        print(f"seed {args.n:,} judgements: {time.perf_counter() - t0:.2f} s")
        for fmt in ("jsonl", "csv"):
            out = Path(tmp) / f"export.{fmt}"
            t0, c0 = time.perf_counter(), time.process_time()
            n = write_export(export_rows(store), fmt, out)  # type: ignore[arg-type]
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            mb = out.stat().st_size / 1e6
            flag = "ok" if dt <= 3.0 else "SLOW (see cpu: is the machine busy?)"
            print(
                f"export {fmt:5s} {n:,} rows, {mb:.1f} MB: {dt:.2f} s wall, {cpu:.2f} s cpu "
                f"(target <= 3 s) {flag}"
            )
        ms = commit_times(store, args.commits)
        med = statistics.median(ms)
        p95 = sorted(ms)[int(0.95 * len(ms))]
        flag = "ok" if med <= 5.0 else "SLOW"
        print(
            f"judgement commit: median {med:.2f} ms, p95 {p95:.2f} ms over {len(ms)} "
            f"(target median <= 5 ms; WAL, synchronous=NORMAL) {flag}"
        )
        store.close()


if __name__ == "__main__":
    main()
