"""The pzjudge database: judges, sessions, rounds, turns, citations, judgements.

One SQLite file in WAL mode with a busy timeout, so the TUI and a CLI run can write at
the same time. Every write is its own `BEGIN IMMEDIATE` transaction, committed before
the method returns: a crash loses nothing that was answered. A file that is not a
pzjudge database, is damaged, or was written by a newer pzjudge is refused with a
`StoreError` before anything in it is touched.
"""

from __future__ import annotations

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
from store.migrations import (
    KNOWN,
    SCHEMA_VERSION,
    evidence_sources,
    inspect,
    migrate,
    up_to_date,
    world_id,
)

if TYPE_CHECKING:
    from debate.engine import DebateResult
    from debate.evidence import Baselines
    from debate.protocol import Turn
    from debate.scoring import Scores

#: Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT = 30.0
SQLITE_HEADER = b"SQLite format 3\x00"
#: What a round may ask the judge: P(Z) of a world, or a fine-tuned mimic's next book.
ROUND_KINDS = ("pz", "mimic")


def _js(value: Any) -> str | None:
    """Compact JSON text for a JSON column (None stays NULL)."""
    return None if value is None else json.dumps(value, separators=(",", ":"))


def insert(db: Database, table: str, row: dict[str, Any]) -> int:
    """Insert one row (inside the caller's transaction) and return its id."""
    pk = db.table(table).insert(row).last_pk
    if not isinstance(pk, int):
        raise StoreError(f"{table}: insert returned no row id; this is a bug, report it")
    return pk


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _bool(v: int | None) -> bool | None:
    return None if v is None else bool(v)


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


def _app_version() -> str:
    try:
        return metadata.version("pzjudge")
    except metadata.PackageNotFoundError:
        return "unknown"


def _check_file(path: Path, *, create: bool = True, make_dirs: bool = False) -> None:
    """Refuse, without writing to it, a file that is not a usable pzjudge database.

    A missing file is created only with `create`; its folder only with `make_dirs` (the
    default data directory), so a mistyped --db does not scatter databases about.
    """
    if path.is_dir():
        raise StoreError(f"{path} is a directory; give a database file path (--db or PZJUDGE_DB)")
    if not path.exists():
        if not create:
            raise StoreError(
                f"no pzjudge database at {path}; check --db or PZJUDGE_DB "
                "(play or run a debate first)"
            )
        if make_dirs:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create {path.parent} ({exc.strerror}); choose another path"
                ) from None
        elif not path.parent.is_dir():
            raise StoreError(
                f"folder {path.parent} does not exist; create it or choose another path "
                "(--db or PZJUDGE_DB)"
            )
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise StoreError(f"cannot create a database in {path.parent} (not writable)")
        return
    if not path.is_file():
        # a FIFO, socket or device: opening it to read the header would block or consume it
        raise StoreError(
            f"{path} is not a regular file; give a database file path (--db or PZJUDGE_DB)"
        )
    if not os.access(path, os.W_OK):
        raise StoreError(f"{path} is read-only; make it writable or copy it elsewhere")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        # WAL needs its -wal and -shm files next to the database
        raise StoreError(f"cannot write in {path.parent}, the folder of {path}; check it")
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read {path} ({exc.strerror}); check its permissions") from None
    if not head:
        if not create:
            # export and stats only read: an empty file is a mistyped path, not a database
            # to set up (which would write the schema into it)
            raise StoreError(
                f"{path} is an empty file, not a pzjudge database; check --db or PZJUDGE_DB"
            )
        return  # an empty file is an empty SQLite database
    if head != SQLITE_HEADER:
        raise StoreError(
            f"{path} is not a SQLite database; choose a pzjudge database or a new file "
            "(--db or PZJUDGE_DB)"
        )
    # Without a -wal file all content is in the main file: read it as immutable, so that
    # not even a -shm file is created next to a file we may refuse.
    wal = path.with_name(path.name + "-wal").exists()
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("" if wal else "&immutable=1")
    try:
        ro = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path} ({exc}); check the file and its folder") from None
    try:
        state = inspect(ro)
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path} is damaged ({exc}); restore a backup or choose another file"
        ) from None
    finally:
        ro.close()
    _refuse(path, state.kind, state.version, state.applied, state.tables)


def _refuse(
    path: Path, kind: str, version: int, applied: tuple[str, ...], tables: frozenset[str]
) -> None:
    if kind == "foreign":
        names = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise StoreError(
            f"{path} is not a pzjudge database (it holds tables {names}); "
            "choose another file with --db or PZJUDGE_DB"
        )
    unknown = [a for a in applied if a not in KNOWN]
    if version > SCHEMA_VERSION or unknown:
        raise StoreError(
            f"{path} was written by a newer pzjudge (schema version {max(version, len(applied))}"
            f", this one knows {SCHEMA_VERSION}); upgrade pzjudge to open it"
        )


class Store:
    """All reads and writes of pzjudge's SQLite database (thread-safe, one connection)."""

    def __init__(self, path: str | Path | None = None, *, create: bool = True) -> None:
        """Open or create the database, refuse foreign/newer/damaged files, migrate.

        With `create=False` (export, stats) a missing file is an error, not a new database.
        """
        memory = path is not None and str(path) == ":memory:"
        default = path is None and not os.environ.get("PZJUDGE_DB")
        self.path = Path(path) if path is not None else self.default_path()
        if not memory:
            self.path = self.path.expanduser()
            _check_file(self.path, create=create, make_dirs=default)
        self.lock = threading.RLock()
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
                _refuse(self.path, state.kind, state.version, state.applied, state.tables)
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
        """One write transaction, taken at once (BEGIN IMMEDIATE) and committed on exit."""
        with self.lock:
            conn = self.db.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(
                    f"{self.path}: {exc}; another program holds the database, try again"
                ) from None
            try:
                yield self.db
                conn.commit()
            except sqlite3.IntegrityError as exc:
                conn.rollback()
                raise StoreError(
                    f"{self.path}: rejected ({exc}); this is a bug, report it"
                ) from None
            except sqlite3.OperationalError as exc:
                conn.rollback()
                raise StoreError(
                    f"{self.path}: write failed ({exc}); check disk and file"
                ) from None
            except sqlite3.DatabaseError as exc:
                conn.rollback()
                raise StoreError(
                    f"{self.path} is damaged ({exc}); restore a backup or choose another file"
                ) from None
            except BaseException:
                conn.rollback()
                raise

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

    def _one(self, sql: str, params: list[Any]) -> tuple[Any, ...] | None:
        with self.reading() as conn:
            row: tuple[Any, ...] | None = conn.execute(sql, params).fetchone()
            return row

    def _all(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self.reading() as conn:
            return list(conn.execute(sql, params))

    # -- judges and sessions -------------------------------------------------------------

    def _judge_id(self, db: Database, name: str) -> int:
        name = name.strip()
        if not name or len(name) > 100:
            raise StoreError("a judge name must be 1 to 100 characters; choose another one")
        row = db.conn.execute("SELECT id FROM judges WHERE name = ?", [name]).fetchone()
        if row:
            return int(row[0])
        return insert(db, "judges", {"name": name, "created_at": time.time()})

    def judge_id(self, name: str) -> int:
        """The id of the judge with this name, created when new."""
        with self.transaction() as db:
            return self._judge_id(db, name)

    def _start_session(
        self,
        db: Database,
        judge: str,
        *,
        kind: str,
        settings: dict[str, Any],
        rules: dict[str, Any],
        debater_a: str | None,
        debater_b: str | None,
        seed: int | None,
        app_version: str,
    ) -> int:
        row = {
            "uid": uuid.uuid4().hex,
            "judge_id": self._judge_id(db, judge),
            "kind": kind,
            "settings": _js(scrub(settings, self._secrets)),
            "rules": _js(scrub(rules, self._secrets)),
            "debater_a": scrub(debater_a, self._secrets),
            "debater_b": scrub(debater_b, self._secrets),
            "seed": seed,
            "app_version": app_version,
            "started_at": time.time(),
        }
        return insert(db, "sessions", row)

    def start_session(
        self,
        judge: str,
        *,
        kind: str,
        settings: dict[str, Any],
        rules: dict[str, Any],
        debater_a: str | None,
        debater_b: str | None,
        seed: int | None,
        app_version: str,
    ) -> int:
        """A new session for `judge`; credentials in settings are never stored."""
        with self.transaction() as db:
            return self._start_session(
                db,
                judge,
                kind=kind,
                settings=settings,
                rules=rules,
                debater_a=debater_a,
                debater_b=debater_b,
                seed=seed,
                app_version=app_version,
            )

    def end_session(self, session_id: int) -> None:
        """Mark a session finished (it no longer shows up for resume)."""
        with self.transaction() as db:
            if not self._end_session(db, session_id) and not self._exists(
                db, "sessions", session_id
            ):
                raise StoreError(f"no session {session_id} in {self.path}")

    @staticmethod
    def _exists(db: Database, table: str, rid: int) -> bool:
        return db.conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", [rid]).fetchone() is not None

    def unfinished_sessions(self, judge: str | None = None) -> list[dict[str, Any]]:
        """Sessions not ended (newest first), each with the public state of its last round."""
        sql = (
            "SELECT s.id, s.uid, j.name, s.kind, s.settings, s.rules, s.debater_a, s.debater_b,"
            " s.seed, s.app_version, s.started_at,"
            " (SELECT COUNT(*) FROM rounds r WHERE r.session_id = s.id),"
            " (SELECT COUNT(*) FROM rounds r WHERE r.session_id = s.id"
            "   AND r.answered_at IS NOT NULL),"
            " (SELECT r.id FROM rounds r WHERE r.session_id = s.id ORDER BY r.id DESC LIMIT 1)"
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
            if r[13] is not None:
                pub = self.round_public(r[13])
                keep = ("id", "number", "status", "practice", "n_statements", "started_at")
                last = {k: pub[k] for k in keep}
                last.update(
                    turns=len(pub["turns"]),
                    queries=len(pub["queries"]),
                    credences=len(pub["credences"]),
                )
            out.append(
                {
                    "id": r[0],
                    "uid": r[1],
                    "judge": r[2],
                    "kind": r[3],
                    "settings": _load(r[4]),
                    "rules": _load(r[5]),
                    "debater_a": r[6],
                    "debater_b": r[7],
                    "seed": r[8],
                    "app_version": r[9],
                    "started_at": r[10],
                    "rounds": r[11],
                    "answered": r[12],
                    "last_round": last,
                }
            )
        return out

    # -- rounds --------------------------------------------------------------------------

    def _start_round(
        self,
        db: Database,
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
        row = db.conn.execute("SELECT ended_at FROM sessions WHERE id = ?", [session_id]).fetchone()
        if row is None:
            raise StoreError(f"no session {session_id} in {self.path}; start a session first")
        if row[0] is not None:
            raise StoreError(f"session {session_id} has ended; start a new session")
        if honest_side not in (None, "a", "b"):
            raise StoreError(f"honest_side must be 'a', 'b' or None, not {honest_side!r}")
        if kind not in ROUND_KINDS:
            raise StoreError(f"round kind must be one of {', '.join(ROUND_KINDS)}, not {kind!r}")
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

    def start_round(
        self,
        session_id: int,
        *,
        number: int,
        world_json: str,
        world_seed: int | None,
        n_statements: int,
        truth_pz: float,
        log10_truth: float | None,
        honest_side: str | None,
        claims: dict[str, float] | None,
        practice: bool = False,
        debater_a: str | None = None,
        debater_b: str | None = None,
        kind: str = "pz",
    ) -> int:
        """A new round of a session, with its world and (hidden) truth; returns its id.
        `debater_a`/`debater_b` are this round's specs when they differ from the session's
        (a random liar is drawn per round). `kind` is what is judged: "pz" or "mimic"."""
        with self.transaction() as db:
            return self._start_round(
                db,
                session_id,
                number=number,
                world_json=world_json,
                world_seed=world_seed,
                n_statements=n_statements,
                truth_pz=truth_pz,
                log10_truth=log10_truth,
                honest_side=honest_side,
                claims=claims,
                practice=practice,
                debater_a=debater_a,
                debater_b=debater_b,
                kind=kind,
            )

    def _open_round(self, db: Database, round_id: int) -> None:
        row = db.conn.execute(
            "SELECT answered_at, abandoned_at FROM rounds WHERE id = ?", [round_id]
        ).fetchone()
        if row is None:
            raise StoreError(f"no round {round_id} in {self.path}")
        if row[0] is not None:
            raise StoreError(f"round {round_id} is already answered; start a new round")
        if row[1] is not None:
            raise StoreError(f"round {round_id} was abandoned; start a new round")

    def round_secret(self, round_id: int) -> dict[str, Any]:
        """The round's truth, honest side and debater specs, as stored when it was prepared:
        for the engine (scoring, resuming) only; nothing the judge sees before answering may
        show them (a debater spec such as builtin:honest names the honest side)."""
        r = self._one(
            "SELECT r.truth_pz, r.log10_truth, r.honest_side,"
            " COALESCE(r.debater_a, s.debater_a), COALESCE(r.debater_b, s.debater_b)"
            " FROM rounds r JOIN sessions s ON s.id = r.session_id WHERE r.id = ?",
            [round_id],
        )
        if r is None:
            raise StoreError(f"no round {round_id} in {self.path}")
        return {
            "truth_pz": r[0],
            "log10_truth": r[1],
            "honest_side": r[2],
            "debater_a": r[3],
            "debater_b": r[4],
        }

    def round_public(self, round_id: int) -> dict[str, Any]:
        """What the judge may see before answering: everything but the truth, the honest
        side and which debater speaks for which side (`round_secret` has those).

        The world file is included for the engine to rebuild the round on resume; the UI
        must show its statements only.
        """
        r = self._one(
            "SELECT r.id, r.uid, r.session_id, r.number, COALESCE(r.world_json, w.world_json),"
            " r.world_seed, r.n_statements, r.claims, COALESCE(r.rules, s.rules),"
            " r.practice, r.started_at, r.answered_at, r.abandoned_at, r.abandon_reason"
            " FROM rounds r JOIN sessions s ON s.id = r.session_id"
            " LEFT JOIN worlds w ON w.id = r.world_id WHERE r.id = ?",
            [round_id],
        )
        if r is None:
            raise StoreError(f"no round {round_id} in {self.path}")
        status = "answered" if r[11] is not None else "abandoned" if r[12] is not None else "open"
        return {
            "id": r[0],
            "uid": r[1],
            "session_id": r[2],
            "number": r[3],
            "world_json": r[4],
            "world_seed": r[5],
            "n_statements": r[6],
            "claims": _load(r[7]),
            "rules": _load(r[8]),
            "practice": bool(r[9]),
            "started_at": r[10],
            "status": status,
            "abandon_reason": r[13],
            "turns": self.turns(round_id),
            "queries": self.queries(round_id),
            "credences": self.credences(round_id),
        }

    def turns(self, round_id: int) -> list[dict[str, Any]]:
        """The round's turns in order, shaped like `Turn.model_dump()`."""
        turns = self._all(
            "SELECT id, idx, speaker, phase, round_no, text, truncated, unverified_numbers,"
            " forfeit, started_at, seconds, raw_reply FROM turns WHERE round_id = ? ORDER BY id",
            [round_id],
        )
        cites: dict[int, list[dict[str, Any]]] = {}
        for c in self._all(
            "SELECT c.turn_id, c.kind, c.ids, c.claimed, c.true_value, c.verified, c.status,"
            " c.reason FROM citations c JOIN turns t ON t.id = c.turn_id"
            " WHERE t.round_id = ? ORDER BY c.turn_id, c.position",
            [round_id],
        ):
            cites.setdefault(c[0], []).append(
                {
                    "kind": c[1],
                    "ids": json.loads(c[2]),
                    "claimed": c[3],
                    "true_value": c[4],
                    "verified": _bool(c[5]),
                    "status": c[6],
                    "reason": c[7],
                }
            )
        return [
            {
                "index": t[1],
                "speaker": t[2],
                "phase": t[3],
                "round": t[4],
                "text": t[5],
                "truncated": bool(t[6]),
                "citations": cites.get(t[0], []),
                "unverified_numbers": _load(t[7]) or [],
                "forfeit": t[8],
                "started_at": t[9],
                "seconds": t[10],
                "raw_reply": t[11],
            }
            for t in turns
        ]

    def queries(self, round_id: int) -> list[dict[str, Any]]:
        """The judge's oracle queries in the round, in order."""
        return [
            {"ids": json.loads(q[0]), "p": q[1], "at": q[2]}
            for q in self._all(
                "SELECT ids, p, at FROM queries WHERE round_id = ? ORDER BY id", [round_id]
            )
        ]

    def credences(self, round_id: int) -> list[dict[str, Any]]:
        """The judge's credence that A is honest after each turn, in order."""
        return [
            {"after_turn": c[0], "credence_a": c[1], "at": c[2]}
            for c in self._all(
                "SELECT after_turn, credence_a, at FROM credences WHERE round_id = ? ORDER BY id",
                [round_id],
            )
        ]

    def _add_turn(self, db: Database, round_id: int, turn: dict[str, Any]) -> int:
        tid = insert(
            db,
            "turns",
            {
                "round_id": round_id,
                "idx": turn["index"],
                "speaker": turn["speaker"],
                "phase": turn["phase"],
                "round_no": turn["round"],
                # a debater's text or a forfeit reason may quote an error that held a key
                "text": scrub(turn["text"], self._secrets),
                "truncated": int(bool(turn.get("truncated"))),
                "unverified_numbers": _js(list(turn.get("unverified_numbers") or [])),
                "forfeit": scrub(turn.get("forfeit"), self._secrets),
                "raw_reply": scrub(turn.get("raw_reply"), self._secrets),
                "started_at": turn["started_at"],
                "seconds": turn["seconds"],
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
            for i, c in enumerate(turn.get("citations") or [])
        ]
        if cites:
            db.table("citations").insert_all(cites)
        return tid

    def add_turn(self, round_id: int, turn: Turn) -> int:
        """Store a verified turn and its citations in one transaction; returns its id."""
        with self.transaction() as db:
            self._open_round(db, round_id)
            return self._add_turn(db, round_id, turn.model_dump(mode="json"))

    def add_query(self, round_id: int, ids: list[str], p: float, at: float) -> int:
        """Store one oracle query of the judge; returns its id."""
        with self.transaction() as db:
            self._open_round(db, round_id)
            row = {"round_id": round_id, "ids": _js(list(ids)), "p": p, "at": at}
            return insert(db, "queries", row)

    def add_credence(self, round_id: int, after_turn: int, credence_a: float, at: float) -> None:
        """Store the judge's credence that A is honest after a turn."""
        with self.transaction() as db:
            self._open_round(db, round_id)
            db.table("credences").insert(
                {"round_id": round_id, "after_turn": after_turn, "credence_a": credence_a, "at": at}
            )

    def _record_judgement(
        self,
        db: Database,
        round_id: int,
        *,
        estimate: float,
        interval: tuple[float, float] | None,
        credence_a: float | None,
        seconds: float,
        scores: dict[str, Any],
        baselines: dict[str, Any],
        evidence: dict[str, float],
        sources: Mapping[str, list[str]] | None = None,
        uid: str | None = None,
        created_at: float | None = None,
        judge_error: str | None = None,
    ) -> int:
        """Insert the judgement; `sources` (who brought each evidence key) defaults to what
        the round's stored citations and queries say, so record those first (None when
        they cannot say: see `evidence_sources`). `judge_error` (why the judge gave no
        answer) marks it failed: the estimate is then a stand-in, not the judge's."""
        self._open_round(db, round_id)
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
            "log10_error": scores.get("log10_error"),
            "regret_bits": scores.get("regret_bits"),
            "covered": None if scores.get("covered") is None else int(scores["covered"]),
            "trust_log_score": scores.get("trust_log_score"),
            "trusted_honest": (
                None if scores.get("trusted_honest") is None else int(scores["trusted_honest"])
            ),
            "base_independence": baselines.get("independence"),
            "base_maxent": baselines.get("maxent"),
            "base_lower": baselines.get("lower"),
            "base_upper": baselines.get("upper"),
            "evidence": _js(dict(evidence)),
            "evidence_sources": None if sources is None else _js(dict(sources)),
            "created_at": now,
            "judge_failed": int(judge_error is not None),
            "judge_error": scrub(judge_error, self._secrets),
        }
        jid = insert(db, "judgements", row)
        db.conn.execute("UPDATE rounds SET answered_at = ? WHERE id = ?", [now, round_id])
        return jid

    def record_judgement(
        self,
        round_id: int,
        *,
        estimate: float,
        interval: tuple[float, float] | None,
        credence_a: float | None,
        seconds: float,
        scores: Scores,
        baselines: Baselines | None,
        evidence: dict[str, float],
    ) -> int:
        """Commit the judge's final answer at once and mark the round answered (a mimic
        round has no P(Z) baselines: None)."""
        with self.transaction() as db:
            return self._record_judgement(
                db,
                round_id,
                estimate=estimate,
                interval=interval,
                credence_a=credence_a,
                seconds=seconds,
                scores=scores.model_dump(),
                baselines={} if baselines is None else baselines.model_dump(),
                evidence=evidence,
            )

    def abandon_round(self, round_id: int, reason: str) -> None:
        """Close a round without a judgement (the judge quit, the world failed…)."""
        with self.transaction() as db:
            row = db.conn.execute(
                "SELECT answered_at, abandoned_at FROM rounds WHERE id = ?", [round_id]
            ).fetchone()
            if row is None:
                raise StoreError(f"no round {round_id} in {self.path}")
            if row[0] is not None:
                raise StoreError(f"round {round_id} is already answered; it cannot be abandoned")
            if row[1] is None:
                db.conn.execute(
                    "UPDATE rounds SET abandoned_at = ?, abandon_reason = ? WHERE id = ?",
                    [time.time(), reason, round_id],
                )

    def open_rounds(self, session_id: int) -> list[dict[str, Any]]:
        """Rounds of a session started but neither answered nor abandoned, for resume."""
        ids = self._all(
            "SELECT id FROM rounds WHERE session_id = ? AND answered_at IS NULL"
            " AND abandoned_at IS NULL ORDER BY number, id",
            [session_id],
        )
        return [self.round_public(r[0]) for r in ids]

    # -- headless debates ----------------------------------------------------------------

    def _begin_debate(
        self,
        db: Database,
        started: Mapping[str, Any],
        *,
        session_id: int | None,
        judge: str | None,
        world_json: str | None,
        kind: str,
        settings: dict[str, Any] | None,
        seed: int | None,
    ) -> tuple[int, int]:
        rules = started["rules"]
        rules = rules.model_dump(mode="json") if hasattr(rules, "model_dump") else dict(rules)
        if session_id is None:
            session_id = self._start_session(
                db,
                judge or started["judge"],
                kind=kind,
                settings=settings or {},
                rules=rules,
                debater_a=started["debater_a"],
                debater_b=started["debater_b"],
                seed=started["world_seed"] if seed is None else seed,
                app_version=_app_version(),
            )
        last = db.conn.execute(
            "SELECT MAX(number) FROM rounds WHERE session_id = ?", [session_id]
        ).fetchone()[0]
        rid = self._start_round(
            db,
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
        with self.transaction() as db:
            return self._begin_debate(
                db,
                started,
                session_id=session_id,
                judge=judge,
                world_json=world_json,
                kind=kind,
                settings=settings,
                seed=seed,
            )

    def _finish_debate(
        self, db: Database, round_id: int, result: DebateResult, *, credences: bool
    ) -> None:
        jm = result.judgement
        if credences:
            for c in jm.credences:
                db.table("credences").insert(
                    {
                        "round_id": round_id,
                        "after_turn": c.after_turn,
                        "credence_a": c.credence_a,
                        "at": c.at,
                    }
                )
        for q in jm.queries:
            db.table("queries").insert(
                {"round_id": round_id, "ids": _js(q.ids), "p": q.p, "at": q.at}
            )
        self._record_judgement(
            db,
            round_id,
            estimate=jm.estimate,
            interval=jm.interval,
            credence_a=None if jm.failed else jm.credence_a,
            seconds=jm.seconds,
            scores=result.scores.model_dump(),
            baselines=result.baselines.model_dump(),
            evidence=result.evidence,
            judge_error=(jm.errors[-1] if jm.errors else "no answer") if jm.failed else None,
        )

    def finish_debate(
        self,
        round_id: int,
        result: DebateResult,
        *,
        end_session: int | None = None,
        debate_id: str | None = None,
    ) -> None:
        """Commit the end of a debate opened with `begin_debate` (whose turns and credences
        were committed as they came): the judge's queries and judgement; then end the
        session `end_session` if given. With `debate_id` (a tournament's), the round keeps
        it and the whole result, for `played_debates`. One transaction."""
        with self.transaction() as db:
            self._finish_debate(db, round_id, result, credences=False)
            if debate_id is not None:
                db.conn.execute(
                    "UPDATE rounds SET debate_id = ?, debate_result = ? WHERE id = ?",
                    [debate_id, _js(scrub(result.model_dump(mode="json"))), round_id],
                )
            if end_session is not None:
                self._end_session(db, end_session)

    def _end_session(self, db: Database, session_id: int) -> bool:
        """Mark the session ended (inside the caller's transaction); False if it was not
        open (already ended, or no such session)."""
        cur = db.conn.execute(
            "UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
            [time.time(), session_id],
        )
        return cur.rowcount > 0

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
        with self.transaction() as db:
            own = session_id is None
            sid, rid = self._begin_debate(
                db,
                started,
                session_id=session_id,
                judge=judge,
                world_json=world_json,
                kind=kind,
                settings=settings,
                seed=seed,
            )
            for turn in result.turns:
                self._add_turn(db, rid, turn.model_dump(mode="json"))
            self._finish_debate(db, rid, result, credences=True)
            if own:
                self._end_session(db, sid)
            return rid

    def played_debates(self) -> dict[str, str]:
        """Judged tournament debates by debate id: the result as played (JSON text)."""
        rows = self._all(
            "SELECT debate_id, debate_result FROM rounds WHERE debate_id IS NOT NULL"
            " AND debate_result IS NOT NULL AND answered_at IS NOT NULL ORDER BY id",
            [],
        )
        return {str(did): str(text) for did, text in rows}

    def abandon_orphans(self) -> int:
        """Mark abandoned the open rounds of headless runs whose process is gone (killed
        mid-debate: nothing can resume them), and end their sessions; returns how many.

        A run records its process id and host in its session's settings; a round of a
        process still alive on this host, or of another host, is left alone."""
        import socket

        host = socket.gethostname()
        rows = self._all(
            "SELECT r.id, s.id, s.settings FROM rounds r JOIN sessions s ON s.id = r.session_id"
            " WHERE r.answered_at IS NULL AND r.abandoned_at IS NULL"
            " AND s.kind IN ('debate', 'tournament')",
            [],
        )
        gone = 0
        for rid, sid, settings in rows:
            run = (_load(settings) or {}).get("run") or {}
            pid = run.get("pid")
            if not isinstance(pid, int) or run.get("host") != host or _alive(pid):
                continue
            self.abandon_round(rid, "interrupted: the run ended before the judge answered")
            with self.transaction() as db:
                self._end_session(db, sid)
            gone += 1
        return gone
