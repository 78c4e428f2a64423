"""The pzjudge database: judges, sessions, rounds, turns, citations, judgements.

One SQLite file in WAL mode with a busy timeout, so the TUI and a CLI run can write at
the same time. Every write method is one `transaction()` (store/writes.py): alone it is a
`BEGIN IMMEDIATE` transaction committed before the method returns (a crash loses nothing
that was answered); inside a bigger write it is a savepoint of that one. A file that is not a
pzjudge database, is damaged, or was written by a newer pzjudge is refused with a
`StoreError` before anything in it is touched (store/files.py).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from platformdirs import user_data_path
from sqlite_utils import Database

from debate.events import DebateStartedEvent
from debate.secrets import env_secrets, scrub
from store.errors import StoreError
from store.files import check_file, refuse
from store.migrations import (
    SCHEMA_VERSION,
    inspect,
    migrate,
    up_to_date,
)
from store.reads import load, named
from store.writes import Writes, json_text

if TYPE_CHECKING:
    from debate.engine import DebateResult

#: Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT = 30.0


class DebateWhere(TypedDict, total=False):
    """Where a debate is recorded: `begin_debate`'s keywords, which `record_debate` takes."""

    session_id: int | None
    judge: str | None
    world_json: str | None
    kind: str
    settings: dict[str, Any] | None
    seed: int | None


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store(Writes):
    """All reads and writes of pzjudge's SQLite database (thread-safe, one connection).

    Here: opening the file, and recording headless debates (several writes in one
    transaction). The single writes are in `store.writes.Writes`, the reads (rounds, turns,
    what the judge may see, sessions to resume) in `store.reads.Reads`.
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

    # -- headless debates ----------------------------------------------------------------

    def begin_debate(
        self,
        started: DebateStartedEvent,
        *,
        session_id: int | None = None,
        judge: str | None = None,
        world_json: str | None = None,
        kind: str = "debate",
        settings: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> tuple[int, int]:
        """Open the round of a headless debate from the engine's `DebateStartedEvent`, before the
        first speech, so that its turns can be committed as they are made; returns
        (session id, round id). Without `session_id` a one-round session is opened for
        `judge` (by default the simulated judge's name) with `settings` (how it was run,
        credentials removed) and `seed` (the debate's seed; by default the world's)."""
        rules = started.rules.model_dump(mode="json")
        with self.transaction() as db:
            if session_id is None:
                session_id = self.start_session(
                    judge or started.judge,
                    kind=kind,
                    settings=settings or {},
                    rules=rules,
                    debater_a=started.debater_a,
                    debater_b=started.debater_b,
                    seed=started.world_seed if seed is None else seed,
                )
            last = named(
                db.conn, "SELECT MAX(number) AS last FROM rounds WHERE session_id = ?", [session_id]
            ).fetchone()["last"]
            rid = self.start_round(
                session_id,
                number=(last or 0) + 1,
                world_json=world_json,
                world_seed=started.world_seed,
                n_statements=started.n_statements,
                truth_pz=started.truth,
                log10_truth=started.log10_truth,
                log10_truth_stderr=started.log10_truth_stderr,
                honest_side=started.honest_side,
                claims={str(k): v for k, v in started.claims.items()},
                rules=rules,
                debater_a=started.debater_a,
                debater_b=started.debater_b,
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
                    [debate_id, json_text(scrub(result.model_dump(mode="json"))), round_id],
                )
            if end_session is not None:
                self.end_session(end_session)

    def record_debate(self, result: DebateResult, **where: Unpack[DebateWhere]) -> int:
        """Store a whole finished debate in one transaction; returns the round id (`where`
        takes `begin_debate`'s keywords). Live runs use `DebateRecorder` instead."""
        started = DebateStartedEvent.model_validate(result, from_attributes=True)
        with self.transaction():
            sid, rid = self.begin_debate(started, **where)
            for turn in result.turns:
                self.add_turn(rid, turn)
            own = where.get("session_id") is None
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
