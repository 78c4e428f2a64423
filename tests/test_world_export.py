"""An export's `world` is a JSON object a researcher writes straight to a file (schema 3);
old logs (a string) still import, and export -> import keeps a world's identity (the hash
the store keys it by)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from helpers import run_main

from debate.baselines import Baselines
from debate.rounds import deal_round, preset
from debate.scoring import score
from latent.world import load_world
from store.db import Store
from store.errors import StoreError
from store.export import EXPORT_VERSION, export_rows, write_export
from store.importing import import_logs

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _round(store: Store, world_json: str, number: int, truth: float) -> None:
    sid = store.start_session("ann", kind="game", settings={}, rules={})
    rid = store.start_round(
        sid, number=number, world_json=world_json, n_statements=3, truth_pz=truth, log10_truth=-1.0
    )
    store.record_judgement(
        rid,
        estimate=0.01,
        interval=None,
        credence_a=None,
        seconds=1.0,
        scores=score(0.01, truth),
        baselines=Baselines(independence=0.02, maxent=None, lower=0.0, upper=0.5),
        evidence={},
    )


#: The texts stored: a world as every pzjudge writer stores it (World.to_json()), a world
#: file's own text (as an older pzjudge stored it), a mimic round's spec (json.dumps).
def _texts() -> list[str]:
    dealt = deal_round(preset("practice", seed=2), 4).world.to_json()
    mimic = json.dumps({"mimic": {"public": {"spec": {"seed": 3}}, "truth": 0.25}})
    return [dealt, (EXAMPLES / "small.json").read_text(), mimic]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "a.db"
    with Store(path) as s:
        for i, text in enumerate(_texts(), start=1):
            _round(s, text, i, 0.1)
    return path


def _export(path: Path, out: Path) -> list[dict[str, Any]]:
    with Store(path) as s:
        write_export(export_rows(s, transcripts=True), "jsonl", out)
    return [json.loads(line) for line in out.read_text().splitlines()]


def _worlds(path: Path) -> set[tuple[str, str]]:
    with closing(sqlite3.connect(path)) as con:
        return set(con.execute("SELECT sha256, world_json FROM worlds").fetchall())


def test_an_exported_world_written_to_a_file_gives_the_same_pz(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _export(db, tmp_path / "log.jsonl")
    assert [r["schema_version"] for r in rows] == [EXPORT_VERSION] * 3 and EXPORT_VERSION >= 3
    texts = _texts()
    for k, (row, text) in enumerate(zip(rows[:2], texts, strict=False)):
        assert isinstance(row["world"], dict)
        original, exported = tmp_path / f"orig{k}.json", tmp_path / f"w{k}.json"
        original.write_text(text)
        exported.write_text(json.dumps(row["world"]))  # what `jq .world` writes
        got = [run_main(capsys, "prob", str(f), "--json") for f in (original, exported)]
        assert [rc for rc, _, _ in got] == [0, 0]
        (a, b) = (json.loads(out) for _, out, _ in got)
        assert a["log10_pz"] is not None and a == b
        assert load_world(exported) == load_world(original)
    assert rows[2]["world"]["mimic"]["truth"] == 0.25  # a mimic's spec is an object too


def test_export_import_keeps_every_worlds_identity(db: Path, tmp_path: Path) -> None:
    """Fresh database <- export; its worlds are the same texts under the same hashes (each
    hash the text's own), and exporting again gives the same rows."""
    rows = _export(db, tmp_path / "log.jsonl")
    texts = _texts()
    assert [r["world_sha256"] for r in rows] == [
        hashlib.sha256(t.encode()).hexdigest() for t in texts
    ]
    # only the file's own text is not what import rebuilds from the object
    assert [r["world_text"] for r in rows] == [None, texts[1], None]
    other = tmp_path / "b.db"
    with Store(other) as s:
        assert import_logs(s, [tmp_path / "log.jsonl"]) == (3, 0)
    assert (
        _worlds(other)
        == _worlds(db)
        == {(hashlib.sha256(t.encode()).hexdigest(), t) for t in texts}
    )
    assert _export(other, tmp_path / "again.jsonl") == rows
    with Store(db) as s:  # back into the database it came from: nothing new
        assert import_logs(s, [tmp_path / "log.jsonl"]) == (0, 3)
    assert len(_worlds(db)) == 3


def test_an_old_export_whose_world_is_a_string_still_imports(db: Path, tmp_path: Path) -> None:
    rows = _export(db, tmp_path / "log.jsonl")
    texts = _texts()
    old = tmp_path / "v2.jsonl"
    with old.open("w") as f:
        for row, text in zip(rows, texts, strict=True):
            row = {k: v for k, v in row.items() if k not in ("world_sha256", "world_text")}
            f.write(json.dumps({**row, "schema_version": 2, "world": text}) + "\n")
    other = tmp_path / "b.db"
    with Store(other) as s:
        assert import_logs(s, [old]) == (3, 0)
    assert _worlds(other) == _worlds(db)  # the strings stored byte for byte
    assert _export(other, tmp_path / "again.jsonl") == rows


def test_an_edited_world_imports_as_a_new_world_and_a_wrong_text_is_refused(
    db: Path, tmp_path: Path
) -> None:
    (row, *_) = _export(db, tmp_path / "log.jsonl")
    world = row["world"]
    world["blocks"][0]["statements"][0]["text"] = "Edited by hand."
    edited = tmp_path / "edited.jsonl"
    edited.write_text(json.dumps(row) + "\n")
    other = tmp_path / "b.db"
    with Store(other) as s:
        assert import_logs(s, [edited]) == (1, 0)
    ((sha, text),) = _worlds(other)
    assert json.loads(text) == world and sha == hashlib.sha256(text.encode()).hexdigest()
    assert sha != row["world_sha256"]  # a different world: its own hash
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({**row, "uid": "u" * 32, "world_text": "{}"}) + "\n")
    with Store(tmp_path / "c.db") as s, pytest.raises(StoreError) as err:
        import_logs(s, [wrong])
    assert "world_text is not the text of world" in str(err.value)
    assert "\n" not in str(err.value) and "nothing was imported" in str(err.value)


def test_an_object_that_is_no_world_is_refused_on_import(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row whose `world` object is neither a world nor a mimic round's spec is refused in
    one line and nothing is stored (before, it was stored as its JSON)."""
    good, *_ = _export(db, tmp_path / "log.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**good, "world": {"blocks": 1}}) + "\n")
    fresh = tmp_path / "fresh.db"
    rc, _, err = run_main(capsys, "import", str(bad), "--db", str(fresh))
    assert rc != 0 and "neither a world nor a mimic round" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    with Store(fresh) as s:
        assert list(export_rows(s)) == []
