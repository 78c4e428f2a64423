"""The `pzjudge` command line end to end, as a user types it (in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def pz(*args: str, env_db: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = None
    if env_db is not None:
        import os

        env = {**os.environ, "PZJUDGE_DB": str(env_db)}
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_generate_is_byte_identical_under_a_seed(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    args = ["generate", "--statements", "80", "--families", "3", "--counterexamples", "2"]
    assert pz(*args, "--seed", "5", "--flips", "1", "-o", str(a)).returncode == 0
    assert pz(*args, "--seed", "5", "--flips", "1", "-o", str(b)).returncode == 0
    assert pz(*args, "--seed", "6", "--flips", "1", "-o", str(c)).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    world = json.loads(a.read_text())
    assert sum(len(b["statements"]) for b in world["blocks"]) == 80


def test_generate_bad_options_are_one_line() -> None:
    r = pz("generate", "--seed", "1", "--statements", "10", "--flips", "2")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "flips" in r.stderr
    r = pz("generate", "--seed", "1", "--statements", "5000")
    assert r.returncode == 2 and "2000" in r.stderr


def test_debate_is_recorded_then_exported_imported_and_summarised(tmp_path: Path) -> None:
    db, db2, log = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "log.jsonl"
    r = pz(
        "debate",
        str(EXAMPLES / "small.json"),
        "--a",
        "builtin:honest",
        "--b",
        "builtin:independence",
        "--judge",
        "maxent",
        "--db",
        str(db),
    )
    assert r.returncode == 0, r.stderr
    assert "Judgement" in r.stdout and "✓" in r.stdout
    assert pz("export", "--db", str(db), "-o", str(log)).returncode == 0
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert row["judge"] == "sim:maxent" and row["debater_a"] == "builtin:honest"
    assert row["truth_pz"] > 0 and row["log10_error"] >= 0
    r = pz("import", str(log), "--db", str(db2), "--json")
    assert json.loads(r.stdout) == {"added": 1, "skipped": 0}
    r = pz("import", str(log), "--db", str(db2), "--json")
    assert json.loads(r.stdout) == {"added": 0, "skipped": 1}
    r = pz("stats", "--db", str(db2))
    assert r.returncode == 0 and "sim:maxent" in r.stdout


def test_no_store_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    r = pz(
        "debate",
        str(EXAMPLES / "small.json"),
        "--a",
        "builtin:honest",
        "--b",
        "builtin:pairwise",
        "--no-store",
        env_db=db,
    )
    assert r.returncode == 0, r.stderr
    assert not db.exists()


def test_bad_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "notes.db"
    db.write_text("my notes, not a database\n")
    r = pz(
        "debate",
        str(EXAMPLES / "small.json"),
        "--a",
        "builtin:honest",
        "--b",
        "builtin:pairwise",
        "--db",
        str(db),
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "not a SQLite database" in r.stderr
    assert db.read_text() == "my notes, not a database\n"


def test_play_command_exists() -> None:
    r = pz("--help")
    assert r.returncode == 0 and "play" in r.stdout


def test_bounds_json_contains_truth(tmp_path: Path) -> None:
    w = tmp_path / "w.json"
    assert (
        pz(
            "generate",
            "--seed",
            "3",
            "--statements",
            "60",
            "--families",
            "3",
            "--counterexamples",
            "3",
            "--flips",
            "2",
            "-o",
            str(w),
        ).returncode
        == 0
    )
    for order in ("1", "2", "3"):
        r = pz("bounds", str(w), "--order", order, "--json")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert {"lower", "upper", "independence", "maxent", "truth", "blocks"} <= set(out)
        assert out["lower"] <= out["truth"] <= out["upper"]
        for b in out["blocks"]:
            assert b["method"] and b["lower"] <= b["truth"] <= b["upper"]


def test_plant_keeps_low_order_probabilities(tmp_path: Path) -> None:
    from itertools import combinations

    from latent.nway import nway
    from latent.world import load_world

    src = EXAMPLES / "small.json"
    for extreme in ("min", "max"):
        out = tmp_path / f"{extreme}.json"
        r = pz("plant", str(src), "--order", "2", "--extreme", extreme, "-o", str(out), "--json")
        assert r.returncode == 0, r.stderr
        rep = json.loads(r.stdout)
        assert {"pz_before", "pz_after"} <= set(rep)
        before, after = load_world(src), load_world(out)
        assert [after.statement(i).text for i in before.ids] == [
            before.statement(i).text for i in before.ids
        ]
        for blk in before.blocks:
            ids = [s.id for s in blk.statements]
            for k in (1, 2):
                for sub in combinations(ids, k):
                    assert abs(nway(after, list(sub)).p - nway(before, list(sub)).p) <= 1e-9
        if extreme == "min":
            assert rep["pz_after"] <= rep["pz_before"] * (1 + 1e-9)
        else:
            assert rep["pz_after"] >= rep["pz_before"] * (1 - 1e-9)
