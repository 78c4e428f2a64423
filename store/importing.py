"""Merging exported logs (JSONL rows of `pzjudge export`) into a database.

Every row is checked against the documented row format before anything is written, and
the whole import is one transaction: a bad row, or an error half-way, leaves the database
as it was. Rows carry stable ids, so importing a log twice adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from store.db import Store
from store.errors import StoreError
from store.export import EXPORT_VERSION, STUDY_FIELDS
from store.export_world import stored_text
from store.migrations import world_id
from store.reads import named
from store.schema import row_problem
from store.writes import insert, json_text


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        f = path.open(encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"cannot read {path} ({exc.strerror}); check the path") from None
    hint = "; import reads JSONL from `pzjudge export --format jsonl`"
    with f:
        lineno = 0
        while True:
            lineno += 1
            try:
                line = f.readline()
            except UnicodeDecodeError:
                # decoding happens while reading (a binary file, a database…), not in json
                raise StoreError(f"{path}:{lineno}: not UTF-8 text{hint}") from None
            except OSError as exc:
                raise StoreError(f"cannot read {path} ({exc.strerror})") from None
            if not line:
                return
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise StoreError(f"{path}:{lineno}: not valid JSON ({exc.msg}){hint}") from None
            except RecursionError:
                raise StoreError(
                    f"{path}:{lineno}: malformed row: lists and objects nest too deeply; "
                    "nothing was imported"
                ) from None
            if not isinstance(row, dict) or "uid" not in row or "round_uid" not in row:
                raise StoreError(
                    f"{path}:{lineno}: not a pzjudge log row (no uid/round_uid); "
                    "import reads rows written by `pzjudge export`"
                )
            version = row.get("schema_version")
            if not isinstance(version, int) or version > EXPORT_VERSION:
                raise StoreError(
                    f"{path}:{lineno}: log schema_version {version!r} is newer than this "
                    f"pzjudge reads ({EXPORT_VERSION}); upgrade pzjudge"
                )
            yield lineno, row


def import_logs(store: Store, paths: Iterable[str | Path]) -> tuple[int, int]:
    """Merge JSONL logs into the store in one transaction; returns (added, skipped).

    Every row of every file is validated against the documented row format (`LogRow`)
    first: one bad row refuses the import with one line naming its file, line and field,
    and nothing is written. A database that fails SQLite's integrity check is refused
    before anything is written. A row whose judgement uid is already present is skipped,
    so importing twice is harmless.
    """
    # every file is read (JSON syntax) before any row is checked against the schema
    raws = [(Path(p), lineno, raw) for p in paths for lineno, raw in _read_jsonl(Path(p))]
    checked: list[tuple[Path, int, dict[str, Any]]] = []
    for path, lineno, raw in raws:
        model, problem = row_problem(raw)
        if model is None:
            raise StoreError(
                f"{path}:{lineno}: malformed row: {problem}; nothing was imported "
                "(see the fields in docs/logs.md)"
            )
        checked.append((path, lineno, model.model_dump()))
    store.check_integrity()
    added = skipped = 0
    with store.transaction() as db:
        conn = db.conn
        for path, lineno, row in checked:
            if conn.execute("SELECT 1 FROM judgements WHERE uid = ?", [row["uid"]]).fetchone():
                skipped += 1
                continue
            try:
                if _import_row(store, row):
                    added += 1
                else:
                    skipped += 1
            except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
                raise StoreError(
                    f"{path}:{lineno}: malformed row ({exc.__class__.__name__}: {exc}); "
                    "nothing was imported"
                ) from None
    return added, skipped


def _import_row(store: Store, row: dict[str, Any]) -> bool:
    """Insert one row inside the open transaction; False when its round is already judged.
    Turns, queries, credences and the judgement go in as every other writer's do (the
    store's public methods); the session and round keep the log's uids and times."""
    db = store.db
    conn = db.conn
    for key in _REQUIRED:
        if row.get(key) is None:
            raise ValueError(f"{key!r} is missing")
    created = float(row["created_at"])
    got = named(conn, "SELECT id FROM sessions WHERE uid = ?", [row["session"]]).fetchone()
    if got:
        session_id = got["id"]
    else:
        session_id = insert(
            db,
            "sessions",
            {
                "uid": row["session"],
                "judge_id": store.judge_id(row["judge"]),
                "kind": row.get("session_kind") or "imported",
                "settings": json_text(row.get("settings")),
                "rules": json_text(row.get("rules")),
                "debater_a": row.get("debater_a"),
                "debater_b": row.get("debater_b"),
                "seed": row.get("session_seed"),
                "app_version": row.get("app_version"),
                "started_at": created,
                "ended_at": created,
            },
        )
    got = named(
        conn, "SELECT id, answered_at FROM rounds WHERE uid = ?", [row["round_uid"]]
    ).fetchone()
    if got and got["answered_at"] is not None:
        return False
    if got:
        round_id = got["id"]
    else:
        round_id = insert(
            db,
            "rounds",
            {
                "uid": row["round_uid"],
                "session_id": session_id,
                "number": row["round"],
                "world_id": world_id(
                    conn, stored_text(row.get("world"), row.get("world_text")), created
                ),
                "world_seed": row.get("world_seed"),
                "n_statements": row["n_statements"],
                "truth_pz": row["truth_pz"],
                "log10_truth": row.get("log10_truth"),
                "log10_truth_stderr": row.get("log10_truth_stderr"),
                "honest_side": row.get("honest_side"),
                "claims": json_text(row.get("claims")),
                "rules": json_text(row.get("rules")),
                "debater_a": row.get("debater_a"),
                "debater_b": row.get("debater_b"),
                "practice": int(bool(row.get("practice"))),
                "started_at": created,
                # logs exported before rounds had a kind were all P(Z) rounds
                "kind": row.get("kind") or "pz",
                **{k: _sql_value(row.get(k)) for k in STUDY_FIELDS},
            },
        )
        for turn in row.get("turns") or []:
            store.add_turn(round_id, turn)
        for q in row.get("queries") or []:
            store.add_query(round_id, q["ids"], q["p"], q.get("at"))
        for c in row.get("credences") or []:
            store.add_credence(round_id, c["after_turn"], c["credence_a"], c.get("at"))
    interval = row.get("interval")
    store.record_judgement(
        int(round_id),
        estimate=float(row["estimate"]),
        interval=None if interval is None else (interval[0], interval[1]),
        credence_a=row.get("credence_a"),
        seconds=row.get("seconds") or 0.0,
        scores={k: row.get(k) for k in _SCORE_KEYS},
        baselines=dict(row.get("baselines") or {}),
        evidence=row.get("evidence") or {},
        # older logs lack the field: then the imported turns and queries (if any) tell
        sources=_sources(row.get("evidence_sources")),
        uid=row["uid"],
        created_at=created,
        # a failed judgement stays failed; logs from before the field had none marked
        judge_error=(row.get("judge_error") or "no answer") if row.get("judge_failed") else None,
    )
    return True


def _sql_value(v: Any) -> Any:
    """A study field as SQLite stores it (booleans as 0/1)."""
    return int(v) if isinstance(v, bool) else v


def _sources(value: Any) -> dict[str, list[str]] | None:
    """An imported `evidence_sources`, checked: {key: list of "a", "b", "judge"} or null."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(w in ("a", "b", "judge") for w in v)
        for k, v in value.items()
    ):
        raise ValueError('evidence_sources must map keys to lists of "a", "b", "judge"')
    return value


_REQUIRED = ("judge", "session", "round", "n_statements", "truth_pz", "estimate", "created_at")
_SCORE_KEYS = ("log10_error", "regret_bits", "covered", "trust_log_score", "trusted_honest")


__all__ = ["import_logs"]
