"""The database schema, as numbered migrations (sqlite-utils' own `Migrations`).

A pzjudge database is marked by `PRAGMA application_id` and records its schema version in
`PRAGMA user_version` (the number of migrations applied), so a file can be recognised and
judged "ours / foreign / newer" from a read-only connection before anything is written.
Migrations only ever add: a step is never edited once released; a new step is appended.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlite_utils import Database, Migrations

#: "pzjg" as a big-endian 32-bit integer: marks the file as a pzjudge database.
APPLICATION_ID = 0x707A6A67
MIGRATION_SET = "pzjudge"
MIGRATIONS_TABLE = Migrations.migrations_table

migrations = Migrations(MIGRATION_SET)


@migrations(name="001_initial")
def m001_initial(db: Database) -> None:
    """Judges, sessions, rounds, turns, citations, queries, credences, judgements."""
    db.table("judges").create(
        {"id": int, "name": str, "created_at": float}, pk="id", not_null={"name"}
    )
    db.table("judges").create_index(["name"], unique=True)
    db.table("sessions").create(
        {
            "id": int,
            "uid": str,
            "judge_id": int,
            "kind": str,
            "settings": str,
            "rules": str,
            "debater_a": str,
            "debater_b": str,
            "seed": int,
            "app_version": str,
            "started_at": float,
            "ended_at": float,
        },
        pk="id",
        not_null={"uid", "judge_id", "kind", "started_at"},
        foreign_keys=[("judge_id", "judges", "id")],
    )
    db.table("sessions").create_index(["uid"], unique=True)
    db.table("sessions").create_index(["judge_id"])
    db.table("rounds").create(
        {
            "id": int,
            "uid": str,
            "session_id": int,
            "number": int,
            "world_json": str,
            "world_seed": int,
            "n_statements": int,
            "truth_pz": float,
            "log10_truth": float,
            "honest_side": str,
            "claims": str,
            # Per-round rules and debaters (a tournament session mixes them); NULL means
            # "as the session says".
            "rules": str,
            "debater_a": str,
            "debater_b": str,
            "practice": int,
            "started_at": float,
            "answered_at": float,
            "abandoned_at": float,
            "abandon_reason": str,
        },
        pk="id",
        not_null={"uid", "session_id", "number", "n_statements", "truth_pz", "started_at"},
        defaults={"practice": 0},
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db.table("rounds").create_index(["uid"], unique=True)
    db.table("rounds").create_index(["session_id", "number"])
    db.table("turns").create(
        {
            "id": int,
            "round_id": int,
            "idx": int,
            "speaker": str,
            "phase": str,
            "round_no": int,
            "text": str,
            "truncated": int,
            "unverified_numbers": str,
            "forfeit": str,
            "started_at": float,
            "seconds": float,
        },
        pk="id",
        not_null={"round_id", "idx", "speaker", "text"},
        foreign_keys=[("round_id", "rounds", "id")],
    )
    db.table("turns").create_index(["round_id", "idx"])
    db.table("citations").create(
        {
            "id": int,
            "turn_id": int,
            "position": int,
            "kind": str,
            "ids": str,
            "claimed": float,
            "true_value": float,
            "verified": int,
            "status": str,
            "reason": str,
        },
        pk="id",
        not_null={"turn_id", "position", "kind", "ids", "status"},
        foreign_keys=[("turn_id", "turns", "id")],
    )
    db.table("citations").create_index(["turn_id"])
    db.table("queries").create(
        {"id": int, "round_id": int, "ids": str, "p": float, "at": float},
        pk="id",
        not_null={"round_id", "ids", "p"},
        foreign_keys=[("round_id", "rounds", "id")],
    )
    db.table("queries").create_index(["round_id"])
    db.table("credences").create(
        {"id": int, "round_id": int, "after_turn": int, "credence_a": float, "at": float},
        pk="id",
        not_null={"round_id", "after_turn", "credence_a"},
        foreign_keys=[("round_id", "rounds", "id")],
    )
    db.table("credences").create_index(["round_id"])
    db.table("judgements").create(
        {
            "id": int,
            "uid": str,
            "round_id": int,
            "estimate": float,
            "interval_lo": float,
            "interval_hi": float,
            "credence_a": float,
            "seconds": float,
            "log10_error": float,
            "regret_bits": float,
            "covered": int,
            "trust_log_score": float,
            "trusted_honest": int,
            "base_independence": float,
            "base_maxent": float,
            "base_lower": float,
            "base_upper": float,
            "evidence": str,
            "created_at": float,
        },
        pk="id",
        not_null={"uid", "round_id", "estimate", "created_at"},
        foreign_keys=[("round_id", "rounds", "id")],
    )
    db.table("judgements").create_index(["uid"], unique=True)
    db.table("judgements").create_index(["round_id"], unique=True)
    db.table("judgements").create_index(["created_at"])


def evidence_sources(
    conn: sqlite3.Connection, round_id: int, evidence: Iterable[str]
) -> dict[str, list[str]] | None:
    """Who brought each evidence key of a round into it, from the stored turns and queries:
    "a" or "b" (that debater cited it, so its true value was shown) and "judge" (the judge
    asked the oracle). Keys nobody brought were given with the statements (free single
    probabilities) and are left out. Lists are sorted, so the result is deterministic.
    None (unknown) when the evidence holds joint probabilities but the round has no stored
    turns or queries to say where they came from (a log imported without transcripts)."""
    keys = set(evidence)
    has_record = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM turns WHERE round_id = ?)"
        " OR EXISTS (SELECT 1 FROM queries WHERE round_id = ?)",
        [round_id, round_id],
    ).fetchone()[0]
    if not has_record and any("&" in k for k in keys):
        return None
    out: dict[str, set[str]] = {}

    def add(ids_json: str, who: str) -> None:
        key = "&".join(sorted(json.loads(ids_json)))
        if key in keys:
            out.setdefault(key, set()).add(who)

    for speaker, ids in conn.execute(
        "SELECT t.speaker, c.ids FROM citations c JOIN turns t ON t.id = c.turn_id"
        " WHERE t.round_id = ? AND c.kind = 'prob' AND c.true_value IS NOT NULL",
        [round_id],
    ):
        add(ids, speaker)
    for (ids,) in conn.execute("SELECT ids FROM queries WHERE round_id = ?", [round_id]):
        add(ids, "judge")
    return {k: sorted(v) for k, v in sorted(out.items())}


@migrations(name="002_evidence_sources")
def m002_evidence_sources(db: Database) -> None:
    """Judgements say where each piece of evidence came from (cited by a or b, asked by the
    judge); rows judged before this are filled in from their stored turns and queries."""
    db.table("judgements").add_column("evidence_sources", str)
    rows = db.conn.execute("SELECT id, round_id, evidence FROM judgements").fetchall()
    for jid, rid, evidence in rows:
        sources = evidence_sources(db.conn, rid, json.loads(evidence or "{}"))
        text = None if sources is None else json.dumps(sources, separators=(",", ":"))
        db.conn.execute("UPDATE judgements SET evidence_sources = ? WHERE id = ?", [text, jid])


@migrations(name="003_round_kind")
def m003_round_kind(db: Database) -> None:
    """Rounds say what was judged: "pz" (P(Z) of a world, every round before this) or
    "mimic" (a fine-tuned mimic's next book, debate/mimic_round.py)."""
    db.table("rounds").add_column("kind", str, not_null_default="pz")


@migrations(name="004_debate_id")
def m004_debate_id(db: Database) -> None:
    """Tournament rounds carry their debate's id (a hash of everything that decides it,
    `debate.tournament.debate_id`) and, once judged, the whole result as played, so a rerun
    plays only what is missing and reports exactly what the first run played."""
    db.table("rounds").add_column("debate_id", str)
    db.table("rounds").add_column("debate_result", str)
    db.table("rounds").create_index(["debate_id"])


@migrations(name="005_study_fields")
def m005_study_fields(db: Database) -> None:
    """Rounds played in a study say which: the study, the participant's code, the item, the
    condition, the position in the participant's order, the protocol, the time limit and
    whether it was hit, and whether the item was an attention check. Null outside studies
    (every round before this)."""
    rounds = db.table("rounds")
    for name, kind in (
        ("study", str),
        ("participant", str),
        ("item", str),
        ("condition", str),
        ("position", int),
        ("protocol", str),
        ("time_limit", float),
        ("timed_out", int),
        ("attention", int),
    ):
        rounds.add_column(name, kind)


@migrations(name="006_llm_failures")
def m006_llm_failures(db: Database) -> None:
    """A judgement says whether the judge failed to answer (an LLM judge that gave no usable
    reply: the estimate is then the independence product standing in, never the judge's),
    and why; a forfeited turn keeps the raw reply that was refused."""
    db.table("judgements").add_column("judge_failed", int, not_null_default=0)
    db.table("judgements").add_column("judge_error", str)
    db.table("turns").add_column("raw_reply", str)


def world_id(
    conn: sqlite3.Connection, world_json: str | None, at: float | None = None
) -> int | None:
    """The id of a world file's row in `worlds`, added if it is new (inside the caller's
    transaction); None for no world. Worlds are keyed by the SHA-256 of their text, so a
    world played in many rounds (a file debated again and again, a tournament's worlds, a
    study's items) is stored once, however large."""
    if world_json is None:
        return None
    digest = hashlib.sha256(world_json.encode("utf-8", "surrogatepass")).hexdigest()
    row = conn.execute("SELECT id FROM worlds WHERE sha256 = ?", [digest]).fetchone()
    if row is not None:
        return int(row[0])
    cur = conn.execute(
        "INSERT INTO worlds (sha256, world_json, created_at) VALUES (?, ?, ?)",
        [digest, world_json, time.time() if at is None else at],
    )
    if cur.lastrowid is None:
        raise sqlite3.DatabaseError("worlds: insert returned no row id")
    return int(cur.lastrowid)


@migrations(name="007_worlds")
def m007_worlds(db: Database) -> None:
    """Worlds are stored once, in `worlds`, and rounds refer to theirs (`world_id`): a
    10,000-statement world file is megabytes, and a copy in every round grew a database by
    tens of megabytes a round. Each round's stored world moves there, byte for byte (its
    `world_json` is then NULL; readers take `COALESCE(r.world_json, w.world_json)`), one at
    a time so that memory stays small on a large database."""
    db.table("worlds").create(
        {"id": int, "sha256": str, "world_json": str, "created_at": float},
        pk="id",
        not_null={"sha256", "world_json"},
    )
    db.table("worlds").create_index(["sha256"], unique=True)
    db.table("rounds").add_column("world_id", int)
    db.table("rounds").create_index(["world_id"])
    conn = db.conn
    ids = [r[0] for r in conn.execute("SELECT id FROM rounds WHERE world_json IS NOT NULL")]
    for rid in ids:
        text, at = conn.execute(
            "SELECT world_json, started_at FROM rounds WHERE id = ?", [rid]
        ).fetchone()
        conn.execute(
            "UPDATE rounds SET world_id = ?, world_json = NULL WHERE id = ?",
            [world_id(conn, text, at), rid],
        )


@migrations(name="008_truth_stderr")
def m008_truth_stderr(db: Database) -> None:
    """A round's truth may be estimated (a large Gaussian block): its log10 standard error
    is kept so that a round resumed from the store judges "truth outside the evidence's
    range" with the same margin as when it was dealt. NULL (rounds stored before) reads as
    0, the margin of an exact truth."""
    db.table("rounds").add_column("log10_truth_stderr", float)


#: The names this version knows, in order; the schema version is how many are applied.
KNOWN = [m.name for m in migrations.pending(Database(memory=True))]
SCHEMA_VERSION = len(KNOWN)
#: Tables a pzjudge database may hold (anything else makes a file "foreign").
TABLES = {
    "judges",
    "sessions",
    "rounds",
    "turns",
    "citations",
    "queries",
    "credences",
    "judgements",
    "worlds",
    MIGRATIONS_TABLE,
}


@dataclass(frozen=True)
class FileState:
    """What a database file is, judged without writing to it."""

    kind: str  # "empty" | "ours" | "foreign"
    version: int
    tables: frozenset[str]
    applied: tuple[str, ...]


def inspect(conn: sqlite3.Connection) -> FileState:
    """Classify an open database; raises sqlite3.DatabaseError when it is not SQLite."""
    tables = frozenset(
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    )
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    applied: tuple[str, ...] = ()
    if MIGRATIONS_TABLE in tables:
        applied = tuple(
            r[0]
            for r in conn.execute(
                f"SELECT name FROM [{MIGRATIONS_TABLE}] WHERE migration_set = ? ORDER BY rowid",
                [MIGRATION_SET],
            )
        )
    if not tables and app_id in (0, APPLICATION_ID):
        return FileState("empty", version, tables, applied)
    # A newer pzjudge may add tables: with our application id the file is still ours.
    ours = app_id == APPLICATION_ID or (app_id == 0 and applied and tables <= TABLES)
    kind = "ours" if ours else "foreign"
    return FileState(kind, max(version, len(applied)), tables, applied)


def up_to_date(conn: sqlite3.Connection) -> bool:
    """A pzjudge database of exactly this version: nothing to migrate, nothing to write."""
    if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        return False
    if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        return False
    state = inspect(conn)
    return state.kind == "ours" and state.applied == tuple(KNOWN)


def migrate(db: Database) -> int:
    """Apply pending migrations inside the caller's transaction; returns the schema version.

    The header pragmas are written only when they change, so a concurrent opener that
    finds the work done writes nothing.
    """
    migrations.apply(db)
    version = len(migrations.applied(db))
    if db.conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        db.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    if db.conn.execute("PRAGMA user_version").fetchone()[0] != version:
        db.conn.execute(f"PRAGMA user_version = {version}")
    return version
