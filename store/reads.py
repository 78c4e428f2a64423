"""The read side of `store.db.Store`: rounds and what of them the judge may see, turns,
queries, credences, sessions to resume. Every row is read by column name (`named`)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from store.errors import StoreError


def named(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
    """Run a query whose rows are read by column name (`sqlite3.Row`), never by position;
    the connection's own rows stay tuples."""
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    return cur.execute(sql, params)


def load(text: str | None) -> Any:
    """A JSON column's value (NULL is None)."""
    return None if text is None else json.loads(text)


def flag(v: int | None) -> bool | None:
    """A 0/1 column as a bool (NULL stays None)."""
    return None if v is None else bool(v)


class Reads:
    """Reads of a pzjudge database under the store's lock (a `Store` opens it)."""

    path: Path
    db: Database
    lock: threading.RLock

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads, under the lock; a damaged page becomes a StoreError."""
        with self.lock:
            try:
                yield self.db.conn
            except sqlite3.OperationalError as exc:
                raise StoreError(f"{self.path}: read failed ({exc}); try again") from None
            except sqlite3.DatabaseError as exc:
                raise StoreError(
                    f"{self.path} is damaged ({exc}); restore a backup or choose another file"
                ) from None

    def check_integrity(self) -> None:
        """Refuse (StoreError) a database that fails SQLite's integrity check, before a
        bulk write (import) makes the damage worse or mixes good rows into it."""
        with self.reading() as conn:
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise StoreError(
                f"{self.path} is damaged ({problems[0]}); nothing was written — restore a "
                "backup or choose another file"
            )

    def _one(self, sql: str, params: Sequence[Any]) -> sqlite3.Row | None:
        """The first row of a read, by column name (None when there is none)."""
        with self.reading() as conn:
            row: sqlite3.Row | None = named(conn, sql, params).fetchone()
            return row

    def _all(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        """Every row of a read, by column name."""
        with self.reading() as conn:
            return named(conn, sql, params).fetchall()

    def unfinished_sessions(self, judge: str | None = None) -> list[dict[str, Any]]:
        """Sessions not ended (newest first), each with the public state of its last round."""
        sql = (
            "SELECT s.id, s.uid, j.name AS judge, s.kind, s.settings, s.rules, s.debater_a,"
            " s.debater_b, s.seed, s.app_version, s.started_at,"
            " (SELECT COUNT(*) FROM rounds r WHERE r.session_id = s.id) AS rounds,"
            " (SELECT COUNT(*) FROM rounds r WHERE r.session_id = s.id"
            "   AND r.answered_at IS NOT NULL) AS answered,"
            " (SELECT r.id FROM rounds r WHERE r.session_id = s.id ORDER BY r.id DESC LIMIT 1)"
            "   AS last_round"
            " FROM sessions s JOIN judges j ON j.id = s.judge_id WHERE s.ended_at IS NULL"
        )
        params: list[Any] = []
        if judge is not None:
            sql += " AND j.name = ?"
            params.append(judge.strip())
        sql += " ORDER BY s.started_at DESC, s.id DESC"
        out = []
        for r in self._all(sql, params):
            last = None
            if r["last_round"] is not None:
                pub = self.round_public(r["last_round"])
                keep = ("id", "number", "status", "practice", "n_statements", "started_at")
                last = {k: pub[k] for k in keep}
                last.update(
                    turns=len(pub["turns"]),
                    queries=len(pub["queries"]),
                    credences=len(pub["credences"]),
                )
            session = dict(r)
            session.update(settings=load(r["settings"]), rules=load(r["rules"]), last_round=last)
            out.append(session)
        return out

    def open_rounds(self, session_id: int) -> list[dict[str, Any]]:
        """Rounds of a session started but neither answered nor abandoned, for resume."""
        ids = self._all(
            "SELECT id FROM rounds WHERE session_id = ? AND answered_at IS NULL"
            " AND abandoned_at IS NULL ORDER BY number, id",
            [session_id],
        )
        return [self.round_public(r["id"]) for r in ids]

    def round_secret(self, round_id: int) -> dict[str, Any]:
        """The round's truth, honest side and debater specs, as stored when it was prepared:
        for the engine (scoring, resuming) only; nothing the judge sees before answering may
        show them (a debater spec such as builtin:honest names the honest side)."""
        r = self._one(
            "SELECT r.truth_pz, r.log10_truth, COALESCE(r.log10_truth_stderr, 0.0)"
            " AS log10_truth_stderr, r.honest_side,"
            " COALESCE(r.debater_a, s.debater_a) AS debater_a,"
            " COALESCE(r.debater_b, s.debater_b) AS debater_b"
            " FROM rounds r JOIN sessions s ON s.id = r.session_id WHERE r.id = ?",
            [round_id],
        )
        if r is None:
            raise StoreError(f"no round {round_id} in {self.path}")
        return dict(r)

    def round_public(self, round_id: int) -> dict[str, Any]:
        """What the judge may see before answering: everything but the truth, the honest
        side and which debater speaks for which side (`round_secret` has those).

        The world file is included for the engine to rebuild the round on resume; the UI
        must show its statements only.
        """
        r = self._one(
            "SELECT r.id, r.uid, r.session_id, r.number,"
            " COALESCE(r.world_json, w.world_json) AS world_json, r.world_seed,"
            " r.n_statements, r.claims, COALESCE(r.rules, s.rules) AS rules, r.practice,"
            " r.started_at, r.answered_at, r.abandoned_at, r.abandon_reason"
            " FROM rounds r JOIN sessions s ON s.id = r.session_id"
            " LEFT JOIN worlds w ON w.id = r.world_id WHERE r.id = ?",
            [round_id],
        )
        if r is None:
            raise StoreError(f"no round {round_id} in {self.path}")
        answered, abandoned = r["answered_at"] is not None, r["abandoned_at"] is not None
        return {
            "id": r["id"],
            "uid": r["uid"],
            "session_id": r["session_id"],
            "number": r["number"],
            "world_json": r["world_json"],
            "world_seed": r["world_seed"],
            "n_statements": r["n_statements"],
            "claims": load(r["claims"]),
            "rules": load(r["rules"]),
            "practice": bool(r["practice"]),
            "started_at": r["started_at"],
            "status": "answered" if answered else "abandoned" if abandoned else "open",
            "abandon_reason": r["abandon_reason"],
            "turns": self.turns(round_id),
            "queries": self.queries(round_id),
            "credences": self.credences(round_id),
        }

    def turns(self, round_id: int) -> list[dict[str, Any]]:
        """The round's turns in order, shaped like `Turn.model_dump()`."""
        cites: dict[int, list[dict[str, Any]]] = {}
        for c in self._all(
            "SELECT c.turn_id, c.kind, c.ids, c.claimed, c.true_value, c.verified, c.status,"
            " c.reason FROM citations c JOIN turns t ON t.id = c.turn_id"
            " WHERE t.round_id = ? ORDER BY c.turn_id, c.position",
            [round_id],
        ):
            cite = dict(c)
            cite.update(ids=json.loads(c["ids"]), verified=flag(c["verified"]))
            cites.setdefault(cite.pop("turn_id"), []).append(cite)
        return [
            {
                "index": t["idx"],
                "speaker": t["speaker"],
                "phase": t["phase"],
                "round": t["round_no"],
                "text": t["text"],
                "truncated": bool(t["truncated"]),
                "citations": cites.get(t["id"], []),
                "unverified_numbers": load(t["unverified_numbers"]) or [],
                "forfeit": t["forfeit"],
                "started_at": t["started_at"],
                "seconds": t["seconds"],
                "raw_reply": t["raw_reply"],
            }
            for t in self._all(
                "SELECT id, idx, speaker, phase, round_no, text, truncated, unverified_numbers,"
                " forfeit, started_at, seconds, raw_reply FROM turns WHERE round_id = ?"
                " ORDER BY id",
                [round_id],
            )
        ]

    def queries(self, round_id: int) -> list[dict[str, Any]]:
        """The judge's oracle queries in the round, in order."""
        return [
            {"ids": json.loads(q["ids"]), "p": q["p"], "at": q["at"]}
            for q in self._all(
                "SELECT ids, p, at FROM queries WHERE round_id = ? ORDER BY id", [round_id]
            )
        ]

    def credences(self, round_id: int) -> list[dict[str, Any]]:
        """The judge's credence that A is honest after each turn, in order."""
        return [
            dict(c)
            for c in self._all(
                "SELECT after_turn, credence_a, at FROM credences WHERE round_id = ? ORDER BY id",
                [round_id],
            )
        ]

    def played_debates(self) -> dict[str, str]:
        """Judged tournament debates by debate id: the result as played (JSON text)."""
        rows = self._all(
            "SELECT debate_id, debate_result FROM rounds WHERE debate_id IS NOT NULL"
            " AND debate_result IS NOT NULL AND answered_at IS NOT NULL ORDER BY id",
            [],
        )
        return {str(r["debate_id"]): str(r["debate_result"]) for r in rows}
