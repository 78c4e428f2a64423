"""Mimic rounds in the store: the round kind (migration 003), its export and import."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from debate.mimic_round import deal_mimic_round, reveal_mimic_round
from debate.scoring import score
from store.db import Store
from store.errors import StoreError
from store.export import export_rows, write_export
from store.importing import import_logs
from store.migrations import MIGRATIONS_TABLE, SCHEMA_VERSION
from store.stats import stats
from tui.game_store import GameStore


def _play(path: Path, seed: int = 3, estimate: float = 0.4) -> float:
    gs = GameStore(path)
    rnd = deal_mimic_round(seed)
    rid = gs.start_mimic_round("ann", rnd)
    gs.record_mimic_judgement(rid, estimate, 2.5, reveal_mimic_round(rnd, estimate))
    gs.close()
    return rnd.truth


def _bobs_round(s: Store, kind: str = "pz") -> int:
    """A round of a new session of bob's, of this kind."""
    sid = s.start_session("bob", kind="play", seed=1)
    return s.start_round(
        sid,
        number=1,
        world_json="{}",
        world_seed=1,
        n_statements=1,
        truth_pz=0.5,
        log10_truth=None,
        kind=kind,
    )


def test_old_rounds_become_pz_rounds(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path) as s:
        _bobs_round(s)
    with sqlite3.connect(path) as con:
        con.execute("ALTER TABLE rounds DROP COLUMN kind")
        con.execute(f"DELETE FROM [{MIGRATIONS_TABLE}] WHERE name = '003_round_kind'")
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        with s.reading() as conn:
            assert list(conn.execute("SELECT kind FROM rounds")) == [("pz",)]


def test_unknown_round_kind_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "k.db") as s, pytest.raises(StoreError, match="round kind"):
        _bobs_round(s, kind="poetry")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_mimic_judgement_exports_with_its_kind(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "m.db"
    truth = _play(path)
    with Store(path) as s:
        (row,) = list(export_rows(s))
        out = tmp_path / f"x.{fmt}"
        write_export(export_rows(s), fmt, out)  # type: ignore[arg-type]
    assert row["kind"] == "mimic" and row["truth_pz"] == truth and row["estimate"] == 0.4
    assert row["session_kind"] == "mimic" and row["n_statements"] == 0
    # a mimic round has no P(Z) baselines: null, as docs/logs.md says (not an object of nulls)
    assert row["baselines"] is None
    text = out.read_text()
    if fmt == "csv":
        header, line = text.splitlines()
        cells = dict(zip(header.split(","), line.split(","), strict=False))
        assert cells["kind"] == "mimic" and cells["baselines"] == ""
    else:
        assert '"kind":"mimic"' in text


def test_import_keeps_the_kind(tmp_path: Path) -> None:
    src = tmp_path / "a.db"
    _play(src, seed=5)
    log = tmp_path / "log.jsonl"
    with Store(src) as s:
        write_export(export_rows(s, transcripts=True), "jsonl", log)
    assert '"baselines":null' in log.read_text()
    with Store(tmp_path / "b.db") as s:
        import_logs(s, [log])
        (row,) = list(export_rows(s))
        by_kind = stats(s, "kind")
    assert row["kind"] == "mimic" and row["baselines"] is None
    assert [g["group"] for g in by_kind] == ["mimic"] and by_kind[0]["rounds"] == 1
    assert by_kind[0]["independence_log10_error"] is None


def test_stats_never_pool_mimic_rounds_with_pz(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    truth = _play(path, seed=2, estimate=0.25)
    with Store(path) as s:
        by_judge = stats(s, "judge")
        by_kind = stats(s, "kind")
    assert [g["group"] for g in by_judge] == ["ann [mimic]"]
    assert [g["group"] for g in by_kind] == ["mimic"]
    assert abs(by_kind[0]["mean_regret_bits"] - score(0.25, truth).regret_bits) < 1e-12
