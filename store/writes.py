"""The write side of `store.db.Store`: judges, sessions, rounds, turns, queries, credences
and judgements, each write one `transaction()`.

Transactions nest: alone, a write is a `BEGIN IMMEDIATE` transaction committed before the
method returns (a crash loses nothing that was answered); inside a bigger write (a whole
debate, an import) it is a savepoint of that one, so one method serves both.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from debate.secrets import scrub
from store.errors import StoreError
from store.migrations import evidence_sources, world_id
from store.reads import Reads, named

if TYPE_CHECKING:
    from debate.baselines import Baselines
    from debate.protocol import Turn
    from debate.scoring import Scores

#: What a round may ask the judge: P(Z) of a world, or a fine-tuned mimic's next book.
ROUND_KINDS = ("pz", "mimic")

#: The version stored with a session when pzjudge is not installed as a package.
UNKNOWN_VERSION = "0+unknown"


def installed_version() -> str:
    """The installed pzjudge's version, as every session records it (the one reader: the
    CLI and the UI ask here too, so one column never mixes two spellings of "unknown")."""
    try:
        return metadata.version("pzjudge")
    except metadata.PackageNotFoundError:
        return UNKNOWN_VERSION


def json_text(value: Any) -> str | None:
    """Compact JSON text for a JSON column (None stays NULL)."""
    return None if value is None else json.dumps(value, separators=(",", ":"))


def insert(db: Database, table: str, row: dict[str, Any]) -> int:
    """Insert one row (inside the caller's transaction) and return its id."""
    pk = db.table(table).insert(row).last_pk
    if not isinstance(pk, int):
        raise StoreError(f"{table}: insert returned no row id; this is a bug, report it")
    return pk


def _store_error(path: Path, exc: BaseException) -> BaseException:
    """The one-line StoreError a database error of a write becomes (others pass as they are)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return StoreError(f"{path}: rejected ({exc}); this is a bug, report it")
    if isinstance(exc, sqlite3.OperationalError):
        return StoreError(f"{path}: write failed ({exc}); check disk and file")
    if isinstance(exc, sqlite3.DatabaseError):
        return StoreError(f"{path} is damaged ({exc}); restore a backup or choose another file")
    return exc


class Writes(Reads):
    """Writes of a pzjudge database under the store's lock (a `Store` opens it)."""

    _secrets: list[str]
    _savepoints: itertools.count[int]

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """One write, all of it or none: the outermost takes the database at once (BEGIN
        IMMEDIATE) and commits on exit; one opened inside another is a savepoint (as
        sqlite-utils' `atomic()`), so a failure inside it undoes only its own writes and
        the outer one keeps the rest unless it fails too. A database error leaves as a
        one-line StoreError."""
        with self.lock:
            conn = self.db.conn
            if conn.in_transaction:
                name = f"pzjudge_{next(self._savepoints)}"
                conn.execute(f"SAVEPOINT {name}")
                try:
                    yield self.db
                except BaseException as exc:
                    # an error such as a full disk may have ended the whole transaction,
                    # savepoint included: then there is nothing left to undo here
                    if conn.in_transaction:
                        conn.execute(f"ROLLBACK TO {name}")
                        conn.execute(f"RELEASE {name}")
                    err = _store_error(self.path, exc)
                    if err is exc:
                        raise
                    raise err from None
                conn.execute(f"RELEASE {name}")
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(
                    f"{self.path}: {exc}; another program holds the database, try again"
                ) from None
            try:
                yield self.db
                conn.commit()
            except BaseException as exc:
                conn.rollback()
                err = _store_error(self.path, exc)
                if err is exc:
                    raise
                raise err from None

    # -- judges and sessions -------------------------------------------------------------

    def judge_id(self, name: str) -> int:
        """The id of the judge with this name, created when new."""
        name = name.strip()
        if not name or len(name) > 100:
            raise StoreError("a judge name must be 1 to 100 characters; choose another one")
        with self.transaction() as db:
            row = named(db.conn, "SELECT id FROM judges WHERE name = ?", [name]).fetchone()
            if row:
                return int(row["id"])
            return insert(db, "judges", {"name": name, "created_at": time.time()})

    def start_session(
        self,
        judge: str,
        *,
        kind: str,
        settings: dict[str, Any] | None = None,
        rules: dict[str, Any] | None = None,
        debater_a: str | None = None,
        debater_b: str | None = None,
        seed: int | None = None,
        app_version: str | None = None,
    ) -> int:
        """A new session for `judge`; credentials in settings are never stored. Settings
        and rules default to none given ({}); `app_version` to the installed pzjudge's."""
        with self.transaction() as db:
            row = {
                "uid": uuid.uuid4().hex,
                "judge_id": self.judge_id(judge),
                "kind": kind,
                "settings": json_text(scrub(settings or {}, self._secrets)),
                "rules": json_text(scrub(rules or {}, self._secrets)),
                "debater_a": scrub(debater_a, self._secrets),
                "debater_b": scrub(debater_b, self._secrets),
                "seed": seed,
                "app_version": installed_version() if app_version is None else app_version,
                "started_at": time.time(),
            }
            return insert(db, "sessions", row)

    def end_session(self, session_id: int) -> bool:
        """Mark a session finished (it no longer shows up for resume); False if it had
        ended already. No such session is a StoreError."""
        with self.transaction() as db:
            cur = db.conn.execute(
                "UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                [time.time(), session_id],
            )
            if cur.rowcount > 0:
                return True
            if db.conn.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone():
                return False
            raise StoreError(f"no session {session_id} in {self.path}")

    # -- rounds --------------------------------------------------------------------------

    def start_round(
        self,
        session_id: int,
        *,
        number: int,
        n_statements: int,
        truth_pz: float,
        log10_truth: float | None,
        log10_truth_stderr: float | None = None,
        world_json: str | None = None,
        world_seed: int | None = None,
        honest_side: str | None = None,
        claims: dict[str, float] | None = None,
        practice: bool = False,
        rules: dict[str, Any] | None = None,
        debater_a: str | None = None,
        debater_b: str | None = None,
        kind: str = "pz",
    ) -> int:
        """A new round of a session, with its world and (hidden) truth; returns its id.
        A round may have no world file and no debate (no honest side, no claims). `rules`,
        `debater_a`/`debater_b` are this round's when they differ from the session's (a
        random liar is drawn per round). `kind` is what is judged: "pz" or "mimic".
        `log10_truth_stderr` is the estimated truth's standard error (0 exact, None not
        known): a resumed round judges "truth outside the range" with it."""
        if honest_side not in (None, "a", "b"):
            raise StoreError(f"honest_side must be 'a', 'b' or None, not {honest_side!r}")
        if kind not in ROUND_KINDS:
            raise StoreError(f"round kind must be one of {', '.join(ROUND_KINDS)}, not {kind!r}")
        with self.transaction() as db:
            row = named(
                db.conn, "SELECT ended_at FROM sessions WHERE id = ?", [session_id]
            ).fetchone()
            if row is None:
                raise StoreError(f"no session {session_id} in {self.path}; start a session first")
            if row["ended_at"] is not None:
                raise StoreError(f"session {session_id} has ended; start a new session")
            rec = {
                "uid": uuid.uuid4().hex,
                "session_id": session_id,
                "number": number,
                # the world itself once, in `worlds` (migration 007)
                "world_id": world_id(db.conn, world_json),
                "world_seed": world_seed,
                "n_statements": n_statements,
                "truth_pz": truth_pz,
                "log10_truth": log10_truth,
                "log10_truth_stderr": log10_truth_stderr,
                "honest_side": honest_side,
                "claims": json_text(claims),
                "rules": json_text(scrub(rules, self._secrets)),
                "debater_a": scrub(debater_a, self._secrets),
                "debater_b": scrub(debater_b, self._secrets),
                "practice": int(practice),
                "started_at": time.time(),
                "kind": kind,
            }
            return insert(db, "rounds", rec)

    def _open_round(self, round_id: int) -> None:
        """Refuse a write to a round that is missing, answered or abandoned."""
        row = self._one("SELECT answered_at, abandoned_at FROM rounds WHERE id = ?", [round_id])
        if row is None:
            raise StoreError(f"no round {round_id} in {self.path}")
        if row["answered_at"] is not None:
            raise StoreError(f"round {round_id} is already answered; start a new round")
        if row["abandoned_at"] is not None:
            raise StoreError(f"round {round_id} was abandoned; start a new round")

    def add_turn(self, round_id: int, turn: Turn | Mapping[str, Any]) -> int:
        """Store a verified turn (a `Turn`, or one as `Turn.model_dump(mode="json")` shapes
        it, such as an imported log's) and its citations; returns its id."""
        t = dict(turn) if isinstance(turn, Mapping) else turn.model_dump(mode="json")
        with self.transaction() as db:
            self._open_round(round_id)
            tid = insert(
                db,
                "turns",
                {
                    "round_id": round_id,
                    "idx": t["index"],
                    "speaker": t["speaker"],
                    "phase": t["phase"],
                    "round_no": t["round"],
                    # a debater's text or a forfeit reason may quote an error that held a key
                    "text": scrub(t["text"], self._secrets),
                    "truncated": int(bool(t.get("truncated"))),
                    "unverified_numbers": json_text(list(t.get("unverified_numbers") or [])),
                    "forfeit": scrub(t.get("forfeit"), self._secrets),
                    "raw_reply": scrub(t.get("raw_reply"), self._secrets),
                    "started_at": t["started_at"],
                    "seconds": t["seconds"],
                },
            )
            cites = [
                {
                    "turn_id": tid,
                    "position": i,
                    "kind": c["kind"],
                    "ids": json_text(list(c["ids"])),
                    "claimed": c.get("claimed"),
                    "true_value": c.get("true_value"),
                    "verified": None if c.get("verified") is None else int(c["verified"]),
                    "status": c["status"],
                    "reason": scrub(c.get("reason"), self._secrets),
                }
                for i, c in enumerate(t.get("citations") or [])
            ]
            if cites:
                db.table("citations").insert_all(cites)
            return tid

    def add_query(self, round_id: int, ids: list[str], p: float, at: float | None) -> int:
        """Store one oracle query of the judge; returns its id."""
        with self.transaction() as db:
            self._open_round(round_id)
            row = {"round_id": round_id, "ids": json_text(list(ids)), "p": p, "at": at}
            return insert(db, "queries", row)

    def add_credence(
        self, round_id: int, after_turn: int, credence_a: float, at: float | None
    ) -> None:
        """Store the judge's credence that A is honest after a turn."""
        with self.transaction() as db:
            self._open_round(round_id)
            db.table("credences").insert(
                {"round_id": round_id, "after_turn": after_turn, "credence_a": credence_a, "at": at}
            )

    def record_judgement(
        self,
        round_id: int,
        *,
        estimate: float,
        interval: tuple[float, float] | None,
        credence_a: float | None,
        seconds: float,
        scores: Scores | Mapping[str, Any],
        baselines: Baselines | Mapping[str, Any] | None,
        evidence: Mapping[str, float],
        sources: Mapping[str, list[str]] | None = None,
        uid: str | None = None,
        created_at: float | None = None,
        judge_error: str | None = None,
    ) -> int:
        """Commit the judge's final answer and mark the round answered (a mimic round has no
        P(Z) baselines: None). `sources` (who brought each evidence key) defaults to what
        the round's stored citations and queries say, so record those first (None when
        they cannot say: see `evidence_sources`). `judge_error` (why the judge gave no
        answer) marks it failed: the estimate is then a stand-in, not the judge's."""
        sc = dict(scores) if isinstance(scores, Mapping) else scores.model_dump()
        base: Mapping[str, Any] = (
            {}
            if baselines is None
            else baselines
            if isinstance(baselines, Mapping)
            else baselines.model_dump()
        )
        with self.transaction() as db:
            self._open_round(round_id)
            now = time.time() if created_at is None else created_at
            if sources is None:
                sources = evidence_sources(db.conn, round_id, evidence)
            row = {
                "uid": uid or uuid.uuid4().hex,
                "round_id": round_id,
                "estimate": estimate,
                "interval_lo": None if interval is None else interval[0],
                "interval_hi": None if interval is None else interval[1],
                "credence_a": credence_a,
                "seconds": seconds,
                "log10_error": sc.get("log10_error"),
                "regret_bits": sc.get("regret_bits"),
                "covered": None if sc.get("covered") is None else int(sc["covered"]),
                "trust_log_score": sc.get("trust_log_score"),
                "trusted_honest": (
                    None if sc.get("trusted_honest") is None else int(sc["trusted_honest"])
                ),
                "base_independence": base.get("independence"),
                "base_maxent": base.get("maxent"),
                "base_lower": base.get("lower"),
                "base_upper": base.get("upper"),
                "evidence": json_text(dict(evidence)),
                "evidence_sources": None if sources is None else json_text(dict(sources)),
                "created_at": now,
                "judge_failed": int(judge_error is not None),
                "judge_error": scrub(judge_error, self._secrets),
            }
            jid = insert(db, "judgements", row)
            db.conn.execute("UPDATE rounds SET answered_at = ? WHERE id = ?", [now, round_id])
            return jid

    def abandon_round(self, round_id: int, reason: str) -> None:
        """Close a round without a judgement (the judge quit, the world failed…)."""
        with self.transaction() as db:
            row = self._one("SELECT answered_at, abandoned_at FROM rounds WHERE id = ?", [round_id])
            if row is None:
                raise StoreError(f"no round {round_id} in {self.path}")
            if row["answered_at"] is not None:
                raise StoreError(f"round {round_id} is already answered; it cannot be abandoned")
            if row["abandoned_at"] is None:
                db.conn.execute(
                    "UPDATE rounds SET abandoned_at = ?, abandon_reason = ? WHERE id = ?",
                    [time.time(), reason, round_id],
                )
