"""Study fields in exports and `stats --by condition|item|participant|debater`, checked
against computations by hand on a small hand-built store (exact bootstrap distributions
for the intervals), and against SQL on a simulated study's own rows."""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_export_stats import _minimal

from debate.ratings import Game, rate
from debate.rounds import HONEST
from store.db import Store
from store.export import EXPORT_VERSION, FIELDS, STUDY_FIELDS, export_rows, to_text
from store.export import finite as _json_safe
from store.importing import import_logs
from store.stats import NO_STUDY, stats
from store.study import StudyDB
from store.study_export import _debaters
from store.study_ops import build_study, simulate_study
from tui.cli import main

# (participant, item, condition, log10 error, credence in A, honest side, attention)
STUDY_ROWS = [
    ("p1", "item1", "debate", 0.1, 0.9, "a", False),
    ("p1", "item2", "oracle", 0.7, None, None, False),
    ("p1", "item3", "debate", 1.4, 0.2, "a", False),
    ("p1", "check1", "oracle", 0.05, None, None, True),
    ("p2", "item1", "oracle", 2.0, None, None, False),
    ("p2", "item2", "debate", 0.5, 0.3, "b", False),
    ("p2", "item3", "oracle", 3.1, None, None, False),
    ("p2", "check1", "oracle", 2.5, None, None, True),
    ("p3", "item1", "debate", 0.9, 0.6, "b", False),
    ("p3", "item2", "debate", 2.6, 0.5, "a", False),
]
TRUTH = 1e-3


def _row(i: int, **over: Any) -> dict[str, Any]:
    err = over.pop("err", 0.3)
    row: dict[str, Any] = {
        **_minimal(i),
        "schema_version": EXPORT_VERSION,
        "truth_pz": TRUTH,
        "log10_truth": -3.0,
        # the estimate err orders of magnitude below the truth: log10 error = err
        "estimate": 10 ** (-3.0 - err),
        "log10_error": err,
    }
    ca, honest = over.pop("credence_a", None), over.get("honest_side")
    if ca is not None:
        trust = None if ca == 0.5 else ("a" if ca > 0.5 else "b")
        row["credence_a"] = ca
        row["trusted_honest"] = trust == honest
    row.update(over)
    return row


def _study_log() -> list[dict[str, Any]]:
    rows = []
    for i, (p, item, cond, err, ca, honest, att) in enumerate(STUDY_ROWS):
        rows.append(
            _row(
                i,
                err=err,
                credence_a=ca,
                honest_side=honest,
                session=f"s-{p}",
                study="pilot",
                participant=p,
                item=item,
                condition=cond,
                position=i % 4 + 1,
                protocol=cond,
                time_limit=60.0,
                timed_out=i == 2,
                attention=att,
            )
        )
    rows.append(_row(len(rows), err=1.0, session="free"))  # a game round: no study
    rows.append(_row(len(rows), err=5.0, session="free", practice=True))
    return rows


@pytest.fixture
def hand_store(tmp_path: Path) -> Store:
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in _study_log()))
    s = Store(tmp_path / "s.db")
    assert import_logs(s, [log]) == (len(STUDY_ROWS) + 2, 0)
    yield s  # type: ignore[misc]
    s.close()


def _exact_bootstrap_interval(values: list[float]) -> tuple[float, float]:
    """The 2.5% and 97.5% quantiles of the exact bootstrap distribution of the mean: the
    sum of n draws with replacement, by convolving the one-draw distribution n times
    (values are multiples of 0.01, so sums are exact integers)."""
    n = len(values)
    one = Counter(round(v * 100) for v in values)
    dist: dict[int, float] = {0: 1.0}
    for _ in range(n):
        nxt: dict[int, float] = {}
        for s, p in dist.items():
            for v, c in one.items():
                nxt[s + v] = nxt.get(s + v, 0.0) + p * c / n
        dist = nxt
    cdf, lo, hi = 0.0, None, None
    for s in sorted(dist):
        cdf += dist[s]
        if lo is None and cdf >= 0.025:
            lo = s / 100 / n
        if hi is None and cdf >= 0.975:
            hi = s / 100 / n
    assert lo is not None and hi is not None
    return lo, hi


def test_study_fields_are_exported_and_survive_a_round_trip(
    hand_store: Store, tmp_path: Path
) -> None:
    rows = list(export_rows(hand_store))
    assert [list(r) for r in rows] == [FIELDS] * len(rows)
    assert {r["schema_version"] for r in rows} == {EXPORT_VERSION} == {3}
    first = rows[0]
    assert {k: first[k] for k in STUDY_FIELDS} == {
        "study": "pilot",
        "participant": "p1",
        "item": "item1",
        "condition": "debate",
        "position": 1,
        "protocol": "debate",
        "time_limit": 60.0,
        "timed_out": False,
        "attention": False,
    }
    assert rows[2]["timed_out"] is True and rows[3]["attention"] is True
    # a round outside a study: every study field null
    assert all(rows[-1][k] is None for k in STUDY_FIELDS)
    # CSV: the same columns; study fields of a free round empty
    table = list(csv.DictReader(io.StringIO(to_text(export_rows(hand_store), "csv"))))
    assert list(table[0]) == FIELDS
    assert table[0]["condition"] == "debate" and table[0]["timed_out"] == "false"
    assert table[-1]["study"] == "" and table[-1]["position"] == ""
    # export -> import into a fresh store -> export: the same rows
    log = tmp_path / "again.jsonl"
    log.write_text(to_text(export_rows(hand_store), "jsonl"))
    with Store(tmp_path / "fresh.db") as fresh:
        import_logs(fresh, [log])
        assert list(export_rows(fresh)) == rows


def test_stats_by_condition_item_participant_match_hand_computation(hand_store: Store) -> None:
    kept = [r for r in STUDY_ROWS if not r[6]]
    for by, col in (("condition", 2), ("item", 1), ("participant", 0)):
        got = {g["group"]: g for g in stats(hand_store, by)}  # type: ignore[arg-type]
        names = sorted({r[col] for r in kept})
        assert sorted(got) == sorted([*names, NO_STUDY])
        assert got[NO_STUDY]["rounds"] == 1  # the free round; its practice round left out
        for name in names:
            mine = [r for r in kept if r[col] == name]
            g = got[name]
            assert g["rounds"] == len(mine)
            assert g["mean_log10_error"] == pytest.approx(sum(r[3] for r in mine) / len(mine))
            trusted = [
                (c > 0.5) == (h == "a")
                for _, _, _, _, c, h, _ in mine
                if c is not None and c != 0.5
            ]
            # credence exactly 1/2 trusts nobody and earns a coin's half in the rate
            half = sum(1 for r in mine if r[4] == 0.5)
            n_trust = len(trusted) + half
            if n_trust:
                assert g["trust_rounds"] == n_trust
                rate = (sum(trusted) + 0.5 * half) / n_trust
                assert g["trusted_honest_rate"] == pytest.approx(rate)
            else:
                assert g["trusted_honest_rate"] is None and g["trusted_honest_rate_ci"] is None
    # by hand: debate rounds 0.1, 1.4, 0.5, 0.9, 2.6 -> 1.1; trusted: T, F, T, F and the
    # last undecided (1/2) -> 2.5/5
    debate = {g["group"]: g for g in stats(hand_store, "condition")}["debate"]
    assert debate["mean_log10_error"] == pytest.approx(1.1)
    assert debate["trusted_honest_rate"] == pytest.approx(0.5)
    # attention checks count with --practice (as practice rounds do)
    oracle = {g["group"]: g for g in stats(hand_store, "condition", practice=True)}["oracle"]
    assert oracle["rounds"] == 5


def test_stats_intervals_match_the_exact_bootstrap_distribution(hand_store: Store) -> None:
    by = {g["group"]: g for g in stats(hand_store, "condition", resamples=20_000)}
    for cond in ("debate", "oracle"):
        errs = [r[3] for r in STUDY_ROWS if r[2] == cond and not r[6]]
        lo, hi = _exact_bootstrap_interval(errs)
        got = by[cond]["mean_log10_error_ci"]
        # 20,000 resamples: a quantile's Monte Carlo error is ~0.01 here; the atoms of the
        # exact distribution are 0.01/n apart
        assert got[0] == pytest.approx(lo, abs=0.04) and got[1] == pytest.approx(hi, abs=0.04)
        assert got[0] < by[cond]["mean_log10_error"] < got[1]
    trusted = [1.0, 0.0, 1.0, 0.0, 0.5]  # the last trusts nobody: half
    lo, hi = _exact_bootstrap_interval(trusted)
    got = by["debate"]["trusted_honest_rate_ci"]
    assert got[0] == pytest.approx(lo, abs=0.02) and got[1] == pytest.approx(hi, abs=0.02)
    # seeded: the same rows give the same intervals; the CLI prints the same figures
    assert stats(hand_store, "condition") == stats(hand_store, "condition")


def test_stats_cli_by_condition_and_table(
    hand_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(hand_store.path)
    expected = stats(hand_store, "condition")
    hand_store.close()
    assert main(["stats", "--db", path, "--by", "condition", "--json"]) == 0
    # the rows carry no regret: an infinite mean regret, printed as null
    assert json.loads(capsys.readouterr().out) == _json_safe(expected)
    assert main(["stats", "--db", path, "--by", "condition"]) == 0
    table = capsys.readouterr().out
    debate = next(g for g in expected if g["group"] == "debate")
    lo, hi = debate["mean_log10_error_ci"]
    assert table.splitlines()[0].startswith("condition")
    assert f"1.10 [{lo:.2f}, {hi:.2f}]" in table


# (debater A, debater B, honest side, credence in A)
DEBATES = [
    ("honest", "pairwise", "a", 0.8),
    ("honest", "pairwise", "b", 0.7),
    ("pairwise", "honest", "a", 0.4),
    ("pairwise", "honest", "b", 0.9),
    ("honest", "flip", "a", 0.2),
    ("flip", "honest", "b", 0.5),
    ("flip", "pairwise", "a", 0.6),
    ("honest", "honest", "a", 0.9),
]


def test_stats_by_debater_counts_and_ratings(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    rows = [
        _row(i, debater_a=a, debater_b=b, honest_side=h, credence_a=c, err=0.1 * (i + 1))
        for i, (a, b, h, c) in enumerate(DEBATES)
    ]
    rows.append(_row(len(rows), err=1.0))  # no debaters: in no debater's group
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with Store(tmp_path / "d.db") as s:
        import_logs(s, [log])
        got = {g["group"]: g for g in stats(s, "debater")}
    assert sorted(got) == ["flip", "honest", "pairwise"]
    # by hand: the honest side's spec, the liar's, and whom the judge trusted
    games = []
    for a, b, h, c in DEBATES:
        honest, liar = (a, b) if h == "a" else (b, a)
        trusted = None if c == 0.5 else (c > 0.5) == (h == "a")
        games.append(
            Game(honest=honest, liar=liar, judge="j", honest_trusted=trusted, log10_error=0)
        )
    want = {d.name: d for d in rate(games).debaters}
    for name, g in got.items():
        mine = [i for i, (a, b, _, _) in enumerate(DEBATES) if name in (a, b)]
        assert g["rounds"] == len(mine)  # a debater playing itself counts once
        assert g["mean_log10_error"] == pytest.approx(sum(0.1 * (i + 1) for i in mine) / len(mine))
        as_honest = [gm for gm in games if gm.honest == name]
        as_liar = [gm for gm in games if gm.liar == name]
        assert g["as_honest"] == len(as_honest) and g["as_liar"] == len(as_liar)
        assert g["won_as_honest"] == sum(gm.honest_trusted is True for gm in as_honest)
        assert g["fooled_as_liar"] == sum(gm.honest_trusted is False for gm in as_liar)
        assert g["honest_rating"] == want[name].honest.model_dump()  # type: ignore[union-attr]
    # by hand, (won as honest, argued the truth, fooled the judge as liar, lied): "honest"
    # is honest in debates 1, 4, 5, 6, 8 and trusted in 1 and 8 (6 trusts nobody), liar in
    # 2, 3, 8 and believed in 2 and 3; "pairwise" honest in 2, 3 (never trusted), liar in
    # 1, 4, 7 (believed in 4); "flip" honest in 7 (trusted), liar in 5 (believed) and 6
    counts = {
        n: (g["won_as_honest"], g["as_honest"], g["fooled_as_liar"], g["as_liar"])
        for n, g in got.items()
    }
    assert counts == {"honest": (2, 5, 2, 3), "pairwise": (0, 2, 1, 3), "flip": (1, 1, 1, 2)}


@pytest.fixture(scope="module")
def small_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("study")
    f = d / "study.toml"
    f.write_text(
        'title = "mini"\nconditions = ["oracle", "debate"]\nparticipants = 2\n'
        "time_limit = 30\n"
        '[[items]]\npreset = "practice"\nseed = 5\n'
        '[[items]]\npreset = "practice"\nseed = 6\n'
        '[attention]\ncondition = "oracle"\n'
        "[[attention.items]]\np = 0.03\nseed = 99\n"
    )
    build_study(f, d / "study.db")
    with StudyDB(d / "study.db") as db:
        simulate_study(db, ["maxent", "trust-a"])
    return d / "study.db"


def test_a_study_database_exports_and_stats_like_a_store(
    small_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--study", str(small_study), "--by", "condition", "--json"]) == 0
    by = {g["group"]: g for g in json.loads(capsys.readouterr().out)}
    conn = sqlite3.connect(small_study)
    rows = conn.execute(
        "SELECT condition, log10_error, trusted_honest FROM results WHERE attention = 0"
    ).fetchall()
    assert sorted(by) == ["debate", "oracle"]
    for cond, g in by.items():
        mine = [r for r in rows if r[0] == cond]
        assert g["rounds"] == len(mine) == 4  # 2 participants x 2 judges, one item each
        assert g["mean_log10_error"] == pytest.approx(sum(r[1] for r in mine) / len(mine))
        trusted = [r[2] for r in mine if r[2] is not None]
        want = sum(trusted) / len(trusted) if trusted else None
        assert g["trusted_honest_rate"] == (None if want is None else pytest.approx(want))
    assert by["oracle"]["trusted_honest_rate"] is None

    out = tmp_path / "study.jsonl"
    assert main(["export", "--study", str(small_study), "-o", str(out)]) == 0
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    (n,) = conn.execute("SELECT COUNT(*) FROM results").fetchone()
    assert len(exported) == n == 12
    codes = {r[0] for r in conn.execute("SELECT code FROM participants")}
    assert {r["participant"] for r in exported} == codes
    assert {r["study"] for r in exported} == {"mini"}
    assert {r["time_limit"] for r in exported} == {30.0}
    assert sum(r["attention"] for r in exported) == 4
    assert all(r["protocol"] == r["condition"] for r in exported)
    # the debaters dealt for each item: both in a debate, the honest side's spec honest
    for r in exported:
        if r["condition"] == "oracle":
            assert r["debater_a"] is r["debater_b"] is None
        else:
            liar = "b" if r["honest_side"] == "a" else "a"
            assert r[f"debater_{r['honest_side']}"] == HONEST
            assert r[f"debater_{liar}"] not in (None, HONEST)
    debate_rows = [r for r in exported if r["condition"] == "debate" and not r["attention"]]
    assert main(["stats", "--study", str(small_study), "--by", "debater", "--json"]) == 0
    by_debater = {g["group"]: g for g in json.loads(capsys.readouterr().out)}
    assert by_debater[HONEST]["rounds"] == len(debate_rows) == 4
    assert by_debater[HONEST]["as_honest"] == 4
    # the same rows again (stable ids); imported twice into a store, added once
    again = tmp_path / "again.jsonl"
    assert main(["export", "--study", str(small_study), "-o", str(again)]) == 0
    assert again.read_text() == out.read_text()
    with Store(tmp_path / "merged.db") as s:
        assert import_logs(s, [out, again]) == (12, 12)
        assert [{k: r[k] for k in STUDY_FIELDS} for r in export_rows(s)] == [
            {k: r[k] for k in STUDY_FIELDS} for r in exported
        ]
        merged = {g["group"]: g for g in stats(s, "condition")}
    assert merged == by
    # a free round's error in the merged store would add a (no study) group; here none
    assert NO_STUDY not in merged
    assert math.isfinite(by["debate"]["mean_log10_error"])


def test_study_flag_errors_are_one_line(
    small_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--study", str(small_study), "--transcripts"]) == 2
    assert "drop --db, --session and --transcripts" in capsys.readouterr().err
    assert main(["stats", "--study", str(tmp_path / "nope.db")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such study database" in err


def test_a_consultancy_round_shows_its_consultant_as_a() -> None:
    specs = {"a": HONEST, "b": "builtin:pairwise"}
    honest_a = {"honest_side": "a", "consultant_honest": 1}
    lying = {"honest_side": "a", "consultant_honest": 0}
    assert _debaters(specs, "consultancy", honest_a) == (HONEST, None)
    assert _debaters(specs, "consultancy", lying) == ("builtin:pairwise", None)
    assert _debaters(specs, "offline", lying) == (HONEST, "builtin:pairwise")
    assert _debaters(specs, "oracle", lying) == (None, None)
    assert _debaters(None, "debate", lying) == (None, None)
