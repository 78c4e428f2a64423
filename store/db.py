"""The pzjudge database: judges, sessions, rounds, turns, citations, judgements.

One SQLite file in WAL mode with a busy timeout, so the TUI and a CLI run can write at
the same time. Every write method is one `transaction()`: alone it is a `BEGIN IMMEDIATE`
transaction committed before the method returns (a crash loses nothing that was
answered); inside a bigger write it is a savepoint of that one. A file that is not a
pzjudge database, is damaged, or was written by a newer pzjudge is refused with a
`StoreError` before anything in it is touched (store/files.py).
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_data_path
from sqlite_utils import Database

from debate.secrets import env_secrets, scrub
from store.errors import StoreError
from store.files import check_file, refuse
from store.migrations import (
    SCHEMA_VERSION,
    evidence_sources,
    inspect,
    migrate,
    up_to_date,
    world_id,
)
from store.reads import Reads, load, named

if TYPE_CHECKING:
    from debate.engine import DebateResult
    from debate.evidence import Baselines
    from debate.protocol import Turn
    from debate.scoring import Scores

#: Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT = 30.0
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


def _js(value: Any) -> str | None:
    """Compact JSON text for a JSON column (None stays NULL)."""
    return None if value is None else json.dumps(value, separators=(",", ":"))


def insert(db: Database, table: str, row: dict[str, Any]) -> int:
    """Insert one row (inside the caller's transaction) and return its id."""
    pk = db.table(table).insert(row).last_pk
    if not isinstance(pk, int):
        raise StoreError(f"{table}: insert returned no row id; this is a bug, report it")
    return pk


#: What a debate settles before its first speech (the engine's "started" event).
_DEBATE_HEAD = (
    "rules",
    "judge",
    "debater_a",
    "debater_b",
    "world_seed",
    "n_statements",
    "truth",
    "log10_truth",
    "honest_side",
    "claims",
)


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _store_error(path: Path, exc: BaseException) -> BaseException:
    """The one-line StoreError a database error of a write becomes (others pass as they are)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return StoreError(f"{path}: rejected ({exc}); this is a bug, report it")
    if isinstance(exc, sqlite3.OperationalError):
        return StoreError(f"{path}: write failed ({exc}); check disk and file")
    if isinstance(exc, sqlite3.DatabaseError):
        return StoreError(f"{path} is damaged ({exc}); restore a backup or choose another file")
    return exc


class Store(Reads):
    """All reads and writes of pzjudge's SQLite database (thread-safe, one connection).

    The reads (rounds, turns, what the judge may see, sessions to resume) are in
    `store.reads.Reads`; here is opening the file and every write.
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = True) -> None:
        """Open or create the database, refuse foreign/newer/damaged files, migrate.

        With `create=False` (export, stats) a missing file is an error, not a new database.
        """
        memory = path is not None and str(path) == ":memory:"
        default = path is None and not os.environ.get("PZJUDGE_DB")
        self.path = Path(path) if path is not None else self.default_path()
        if not memory:
            self.path = self.path.expanduser()
            check_file(self.path, create=create, make_dirs=default)
        self.lock = threading.RLock()
        self._savepoints = itertools.count(1)
        try:
            conn = sqlite3.connect(
                ":memory:" if memory else str(self.path),
                timeout=BUSY_TIMEOUT,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path} ({exc}); check the path") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            self.db = Database(conn, execute_plugins=False)
            # Two processes opening a new file at once: switching it to WAL (and reading
            # the schema meanwhile) can fail with "locked" without waiting on the busy
            # timeout, so the setup is retried until the other one is done.
            deadline = time.monotonic() + BUSY_TIMEOUT
            while True:
                try:
                    self._setup(memory)
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot use {self.path} ({exc}); check the file") from None
        except BaseException:
            conn.close()
            raise
        self._secrets = env_secrets()

    def _setup(self, memory: bool) -> None:
        """WAL, pragmas, and the schema checked (migrated if older); see __init__."""
        conn = self.db.conn
        if not memory:
            self.db.enable_wal()
        # WAL + NORMAL: a commit survives a crash of the process (kill -9), and only
        # an OS crash or power loss may lose the last commits.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # An up-to-date file is opened without a write: reading a database (export,
        # stats) leaves it byte for byte as it was.
        if up_to_date(conn):
            self.schema_version = SCHEMA_VERSION
        else:
            with self.transaction():
                state = inspect(conn)
                refuse(self.path, state.kind, state.version, state.applied, state.tables)
                self.schema_version = migrate(self.db)

    @staticmethod
    def default_path() -> Path:
        """$PZJUDGE_DB when set, else pzjudge.db in the user's data directory."""
        env = os.environ.get("PZJUDGE_DB")
        if env:
            return Path(env).expanduser()
        return user_data_path("pzjudge", appauthor=False) / "pzjudge.db"

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite on the last close)."""
        with self.lock:
            self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
                "settings": _js(scrub(settings or {}, self._secrets)),
                "rules": _js(scrub(rules or {}, self._secrets)),
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
        world_json: str | None,
        world_seed: int | None,
        n_statements: int,
        truth_pz: float,
        log10_truth: float | None,
        honest_side: str | None,
        claims: dict[str, float] | None,
        practice: bool = False,
        rules: dict[str, Any] | None = None,
        debater_a: str | None = None,
        debater_b: str | None = None,
        kind: str = "pz",
    ) -> int:
        """A new round of a session, with its world and (hidden) truth; returns its id.
        `rules`, `debater_a`/`debater_b` are this round's when they differ from the
        session's (a random liar is drawn per round). `kind` is what is judged: "pz" or
        "mimic"."""
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
                "honest_side": honest_side,
                "claims": _js(claims),
                "rules": _js(scrub(rules, self._secrets)),
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
                    "unverified_numbers": _js(list(t.get("unverified_numbers") or [])),
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
                    "ids": _js(list(c["ids"])),
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
            row = {"round_id": round_id, "ids": _js(list(ids)), "p": p, "at": at}
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
                "evidence": _js(dict(evidence)),
                "evidence_sources": None if sources is None else _js(dict(sources)),
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

    # -- headless debates ----------------------------------------------------------------

    def begin_debate(
        self,
        started: Mapping[str, Any],
        *,
        session_id: int | None = None,
        judge: str | None = None,
        world_json: str | None = None,
        kind: str = "debate",
        settings: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> tuple[int, int]:
        """Open the round of a headless debate from the engine's "started" event, before the
        first speech, so that its turns can be committed as they are made; returns
        (session id, round id). Without `session_id` a one-round session is opened for
        `judge` (by default the simulated judge's name) with `settings` (how it was run,
        credentials removed) and `seed` (the debate's seed; by default the world's)."""
        rules = started["rules"]
        rules = rules.model_dump(mode="json") if hasattr(rules, "model_dump") else dict(rules)
        with self.transaction() as db:
            if session_id is None:
                session_id = self.start_session(
                    judge or started["judge"],
                    kind=kind,
                    settings=settings or {},
                    rules=rules,
                    debater_a=started["debater_a"],
                    debater_b=started["debater_b"],
                    seed=started["world_seed"] if seed is None else seed,
                )
            last = named(
                db.conn, "SELECT MAX(number) AS last FROM rounds WHERE session_id = ?", [session_id]
            ).fetchone()["last"]
            rid = self.start_round(
                session_id,
                number=(last or 0) + 1,
                world_json=world_json,
                world_seed=started["world_seed"],
                n_statements=started["n_statements"],
                truth_pz=started["truth"],
                log10_truth=started["log10_truth"],
                honest_side=started["honest_side"],
                claims={str(k): v for k, v in started["claims"].items()},
                rules=rules,
                debater_a=started["debater_a"],
                debater_b=started["debater_b"],
            )
            return session_id, rid

    def finish_debate(
        self,
        round_id: int,
        result: DebateResult,
        *,
        end_session: int | None = None,
        debate_id: str | None = None,
        credences: bool = False,
    ) -> None:
        """Commit the end of a debate opened with `begin_debate` (whose turns and credences
        were committed as they came): the judge's queries and judgement, its credences too
        with `credences`; then end the session `end_session` if given. With `debate_id` (a
        tournament's), the round keeps it and the whole result, for `played_debates`. One
        transaction."""
        jm = result.judgement
        with self.transaction() as db:
            if credences:
                for c in jm.credences:
                    self.add_credence(round_id, c.after_turn, c.credence_a, c.at)
            for q in jm.queries:
                self.add_query(round_id, q.ids, q.p, q.at)
            self.record_judgement(
                round_id,
                estimate=jm.estimate,
                interval=jm.interval,
                credence_a=None if jm.failed else jm.credence_a,
                seconds=jm.seconds,
                scores=result.scores,
                baselines=result.baselines,
                evidence=result.evidence,
                judge_error=(jm.errors[-1] if jm.errors else "no answer") if jm.failed else None,
            )
            if debate_id is not None:
                db.conn.execute(
                    "UPDATE rounds SET debate_id = ?, debate_result = ? WHERE id = ?",
                    [debate_id, _js(scrub(result.model_dump(mode="json"))), round_id],
                )
            if end_session is not None:
                self.end_session(end_session)

    def record_debate(
        self,
        result: DebateResult,
        *,
        session_id: int | None = None,
        judge: str | None = None,
        world_json: str | None = None,
        kind: str = "debate",
        settings: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> int:
        """Store a whole finished debate in one transaction; returns the round id (see
        `begin_debate` for the arguments). Live runs use `DebateRecorder` instead."""
        started = {k: getattr(result, k) for k in _DEBATE_HEAD}
        with self.transaction():
            sid, rid = self.begin_debate(
                started,
                session_id=session_id,
                judge=judge,
                world_json=world_json,
                kind=kind,
                settings=settings,
                seed=seed,
            )
            for turn in result.turns:
                self.add_turn(rid, turn)
            own = session_id is None
            self.finish_debate(rid, result, credences=True, end_session=sid if own else None)
            return rid

    def abandon_orphans(self) -> int:
        """Mark abandoned the open rounds of headless runs whose process is gone (killed
        mid-debate: nothing can resume them), and end their sessions; returns how many.

        A run records its process id and host in its session's settings; a round of a
        process still alive on this host, or of another host, is left alone."""
        import socket

        host = socket.gethostname()
        rows = self._all(
            "SELECT r.id AS round_id, s.id AS session_id, s.settings"
            " FROM rounds r JOIN sessions s ON s.id = r.session_id"
            " WHERE r.answered_at IS NULL AND r.abandoned_at IS NULL"
            " AND s.kind IN ('debate', 'tournament')",
            [],
        )
        gone = 0
        for r in rows:
            run = (load(r["settings"]) or {}).get("run") or {}
            pid = run.get("pid")
            if not isinstance(pid, int) or run.get("host") != host or _alive(pid):
                continue
            with self.transaction():
                self.abandon_round(
                    r["round_id"], "interrupted: the run ended before the judge answered"
                )
                self.end_session(r["session_id"])
            gone += 1
        return gone
