"""The study database: one SQLite file per study, built once by `pzjudge study build`.

It holds the study file as validated, every item's dealt round (world, truth, sides,
claims, the consultant's side, the offline transcript), the participant codes with their
assignments (item, condition, position), and every judgement made in the study (simulated
or by a participant). It is a file of its own (marked by its own `application_id`), apart
from the game's store: a study is handed around as one file.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from store.errors import StoreError

#: "pzst" as a big-endian 32-bit integer: marks the file as a pzjudge study.
STUDY_APPLICATION_ID = 0x707A7374
STUDY_SCHEMA = 3

#: The tables schema 2 added (both in a new file and in the upgrade from schema 1).
_V2_TABLES = """
CREATE TABLE started (
    participant TEXT NOT NULL, position INTEGER NOT NULL, judge TEXT NOT NULL,
    started_at REAL NOT NULL, PRIMARY KEY (participant, position, judge)
);
CREATE TABLE queries (
    id INTEGER PRIMARY KEY, participant TEXT NOT NULL, position INTEGER NOT NULL,
    judge TEXT NOT NULL, ids TEXT NOT NULL, p REAL NOT NULL, at REAL NOT NULL
);
"""

#: The tables schema 3 added: a participant's answer, stored the moment it is given and
#: before the protocol scores it, so an answer outlives a protocol that fails after it; and
#: the speeches of a live debate (or consultation) as they are shown, with the credence set
#: after each, so a participant who leaves mid-debate comes back to the same transcript.
_V3_TABLES = """
CREATE TABLE answers (
    participant TEXT NOT NULL, position INTEGER NOT NULL, judge TEXT NOT NULL,
    decision TEXT NOT NULL, submitted TEXT NOT NULL, at REAL NOT NULL, error TEXT,
    PRIMARY KEY (participant, position, judge)
);
CREATE TABLE seen_turns (
    participant TEXT NOT NULL, position INTEGER NOT NULL, judge TEXT NOT NULL,
    idx INTEGER NOT NULL, turn TEXT NOT NULL, credence_a REAL,
    PRIMARY KEY (participant, position, judge, idx)
);
"""

_SCHEMA = (
    """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, attention INTEGER NOT NULL,
    spec TEXT NOT NULL, seed INTEGER NOT NULL, world_json TEXT NOT NULL,
    truth REAL NOT NULL, log10_truth REAL, honest_side TEXT, claims TEXT,
    consultant_honest INTEGER, transcript TEXT
);
CREATE TABLE participants (
    code TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE, completion_code TEXT NOT NULL,
    consented_at REAL, finished_at REAL
);
CREATE TABLE assignments (
    participant TEXT NOT NULL REFERENCES participants(code), position INTEGER NOT NULL,
    item INTEGER NOT NULL REFERENCES items(id), condition TEXT NOT NULL,
    attention INTEGER NOT NULL, PRIMARY KEY (participant, position)
);
CREATE TABLE results (
    id INTEGER PRIMARY KEY, participant TEXT NOT NULL REFERENCES participants(code),
    position INTEGER NOT NULL, judge TEXT NOT NULL, item INTEGER NOT NULL,
    condition TEXT NOT NULL, attention INTEGER NOT NULL, estimate REAL NOT NULL,
    truth REAL NOT NULL, log10_error REAL NOT NULL, regret_bits REAL NOT NULL,
    honest_side TEXT, credence_a REAL, trusted_honest INTEGER, seconds REAL,
    time_limit REAL, timed_out INTEGER NOT NULL, result_json TEXT NOT NULL,
    created_at REAL NOT NULL, submitted TEXT NOT NULL DEFAULT 'answer',
    UNIQUE (participant, position, judge)
);
"""
    + _V2_TABLES
    + _V3_TABLES
)

#: Schema 1 → 2: when each round was first shown (its time limit runs from then, across a
#: quit and a return), the oracle queries asked in it (a return does not refill the
#: budget), and how each judgement was submitted (`submitted`: see `StudyDB.add_result`).
_TO_2 = (
    "ALTER TABLE results ADD COLUMN submitted TEXT NOT NULL DEFAULT 'answer';"
    + _V2_TABLES
    + "PRAGMA user_version = 2;"
)

#: Schema 2 → 3: answers stored before they are scored (`StudyDB.add_answer`).
_TO_3 = _V3_TABLES + "PRAGMA user_version = 3;"

#: How a judgement was submitted: by the participant, by the time limit with the estimate
#: typed so far, or by the time limit with nothing valid typed (the estimate is then the
#: study's default, `store.study_ops.expiry_default`).
SUBMITTED = ("answer", "expiry", "expiry-default")


def new_code(nbytes: int = 4) -> str:
    """A participant or completion code: random hex, hard to guess."""
    return secrets.token_hex(nbytes)


class StudyDB:
    """A study file on disk. `create=True` makes a new one (refusing an existing file)."""

    def __init__(self, path: str | Path, *, create: bool = False) -> None:
        self.path = Path(path)
        if create:
            if self.path.exists():
                raise StoreError(f"{self.path}: already exists; choose another -o or remove it")
            if not self.path.parent.is_dir():
                raise StoreError(f"{self.path.parent}: no such directory; create it first")
        elif not self.path.is_file():
            raise StoreError(f"{self.path}: no such study database; build it with `study build`")
        try:
            self.conn = sqlite3.connect(self.path)
            self.conn.row_factory = sqlite3.Row
            if create:
                self.conn.executescript(_SCHEMA)
                self.conn.execute(f"PRAGMA application_id = {STUDY_APPLICATION_ID}")
                self.conn.execute(f"PRAGMA user_version = {STUDY_SCHEMA}")
                self.conn.commit()
            else:
                (app,) = self.conn.execute("PRAGMA application_id").fetchone()
                (ver,) = self.conn.execute("PRAGMA user_version").fetchone()
                if app != STUDY_APPLICATION_ID:
                    raise StoreError(f"{self.path}: not a pzjudge study database")
                if ver > STUDY_SCHEMA:
                    raise StoreError(f"{self.path}: made by a newer pzjudge; upgrade to open it")
                if ver < 2:
                    self.conn.executescript(f"BEGIN; {_TO_2} COMMIT;")
                if ver < 3:
                    self.conn.executescript(f"BEGIN; {_TO_3} COMMIT;")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a study database ({exc})") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> StudyDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it is written, or none."""
        with self.conn:
            yield self.conn

    # -------------------------------------------------------------- building
    def set_meta(self, **values: Any) -> None:
        with self.tx() as c:
            for k, v in values.items():
                c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, json.dumps(v)))

    def meta(self) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"]) for r in self.conn.execute("SELECT * FROM meta")}

    def add_item(self, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.tx() as c:
            c.execute(f"INSERT INTO items ({cols}) VALUES ({marks})", list(row.values()))

    def add_participant(self, number: int, rounds: list[dict[str, Any]]) -> str:
        """A participant with a fresh code and their rounds; returns the code."""
        code = new_code()
        with self.tx() as c:
            c.execute(
                "INSERT INTO participants (code, number, completion_code) VALUES (?, ?, ?)",
                (code, number, new_code(6)),
            )
            for r in rounds:
                c.execute(
                    "INSERT INTO assignments VALUES (?, ?, ?, ?, ?)",
                    (code, r["position"], r["item"], r["condition"], int(r["attention"])),
                )
        return code

    # -------------------------------------------------------------- reading
    def items(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM items ORDER BY id")]

    def item(self, item_id: int) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no item {item_id}")
        return dict(row)

    def participants(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM participants ORDER BY number")]

    def participant(self, code: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT * FROM participants WHERE code = ?", (code.strip().lower(),)
        ).fetchone()
        if row is None:
            raise StoreError(f"no participant with code {code!r} in this study; check the code")
        return dict(row)

    def rounds_of(self, code: str) -> list[dict[str, Any]]:
        """A participant's rounds in order."""
        q = "SELECT * FROM assignments WHERE participant = ? ORDER BY position"
        return [dict(r) for r in self.conn.execute(q, (code,))]

    def done_positions(self, code: str, judge: str) -> set[int]:
        q = "SELECT position FROM results WHERE participant = ? AND judge = ?"
        return {r[0] for r in self.conn.execute(q, (code, judge))}

    def results(self) -> list[dict[str, Any]]:
        """Every judgement, oldest first; `judge_failed` (the protocol's mark of a judge
        that gave no answer) is read out of `result_json` for the report and exports."""
        rows = [dict(r) for r in self.conn.execute("SELECT * FROM results ORDER BY id")]
        for r in rows:
            r["judge_failed"] = bool(json.loads(r["result_json"]).get("judge_failed", False))
            r["attention"] = bool(r["attention"])
            r["timed_out"] = bool(r["timed_out"])
            if r["trusted_honest"] is not None:
                r["trusted_honest"] = bool(r["trusted_honest"])
        return rows

    # -------------------------------------------------------------- playing
    def consent(self, code: str) -> None:
        with self.tx() as c:
            c.execute(
                "UPDATE participants SET consented_at = COALESCE(consented_at, ?) WHERE code = ?",
                (time.time(), code),
            )

    def start_round(self, code: str, position: int, judge: str) -> float:
        """When round `position` was first shown to `judge` (now, the first time): its time
        limit runs from then, whether or not the participant quits and returns."""
        with self.tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO started VALUES (?, ?, ?, ?)",
                (code, position, judge, time.time()),
            )
        q = "SELECT started_at FROM started WHERE participant = ? AND position = ? AND judge = ?"
        return float(self.conn.execute(q, (code, position, judge)).fetchone()[0])

    def add_query(
        self, code: str, position: int, judge: str, ids: list[str], p: float, at: float
    ) -> None:
        """An oracle query asked in a round (replayed when the round is shown again)."""
        with self.tx() as c:
            c.execute(
                "INSERT INTO queries (participant, position, judge, ids, p, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (code, position, judge, json.dumps(sorted(ids)), p, at),
            )

    def queries_of(self, code: str, position: int, judge: str) -> list[list[str]]:
        """The statement ids of each query asked in a round, in the order asked."""
        q = (
            "SELECT ids FROM queries WHERE participant = ? AND position = ? AND judge = ? "
            "ORDER BY id"
        )
        return [json.loads(r[0]) for r in self.conn.execute(q, (code, position, judge))]

    def next_round(self, code: str, judge: str) -> dict[str, Any] | None:
        """The participant's first round not yet judged by `judge` (None: all are)."""
        done = self.done_positions(code, judge)
        return next((r for r in self.rounds_of(code) if r["position"] not in done), None)

    def add_result(self, row: dict[str, Any]) -> None:
        """One judgement; a position already judged by this judge is refused. `submitted`
        (one of `SUBMITTED`) says whether the participant or the time limit submitted it."""
        if row.get("submitted", "answer") not in SUBMITTED:
            raise StoreError(f"submitted must be one of {', '.join(SUBMITTED)}")
        row = {**row, "created_at": time.time()}
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        try:
            with self.tx() as c:
                c.execute(f"INSERT INTO results ({cols}) VALUES ({marks})", list(row.values()))
        except sqlite3.IntegrityError:
            raise StoreError(
                f"round {row['position']} of {row['participant']} is already judged by "
                f"{row['judge']}"
            ) from None

    def add_answer(
        self, code: str, position: int, judge: str, decision: dict[str, Any], submitted: str
    ) -> None:
        """A judge's answer to a round, before anything scores it (the first one given
        stands: a round is answered once)."""
        if submitted not in SUBMITTED:
            raise StoreError(f"submitted must be one of {', '.join(SUBMITTED)}")
        with self.tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO answers (participant, position, judge, decision, "
                "submitted, at) VALUES (?, ?, ?, ?, ?, ?)",
                (code, position, judge, json.dumps(decision), submitted, time.time()),
            )

    def answer_of(self, code: str, position: int, judge: str) -> dict[str, Any] | None:
        """The stored answer of a round (`decision` parsed), or None."""
        q = "SELECT * FROM answers WHERE participant = ? AND position = ? AND judge = ?"
        row = self.conn.execute(q, (code, position, judge)).fetchone()
        if row is None:
            return None
        return {**dict(row), "decision": json.loads(row["decision"])}

    def answer_failed(self, code: str, position: int, judge: str, error: str) -> None:
        """Record why the protocol did not score a stored answer."""
        with self.tx() as c:
            c.execute(
                "UPDATE answers SET error = ? WHERE participant = ? AND position = ? AND judge = ?",
                (error, code, position, judge),
            )

    def add_seen_turn(
        self, code: str, position: int, judge: str, idx: int, turn: dict[str, Any]
    ) -> None:
        """A speech of a live round, stored before it is shown."""
        with self.tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO seen_turns (participant, position, judge, idx, turn) "
                "VALUES (?, ?, ?, ?, ?)",
                (code, position, judge, idx, json.dumps(turn)),
            )

    def set_seen_credence(
        self, code: str, position: int, judge: str, idx: int, credence_a: float
    ) -> None:
        """The credence the judge set after speech `idx` of a live round."""
        with self.tx() as c:
            c.execute(
                "UPDATE seen_turns SET credence_a = ? WHERE participant = ? AND position = ? "
                "AND judge = ? AND idx = ?",
                (credence_a, code, position, judge, idx),
            )

    def seen_turns_of(
        self, code: str, position: int, judge: str
    ) -> list[tuple[dict[str, Any], float | None]]:
        """The speeches shown in a live round, in order, each with the credence set after it."""
        q = (
            "SELECT turn, credence_a FROM seen_turns WHERE participant = ? AND position = ? "
            "AND judge = ? ORDER BY idx"
        )
        return [(json.loads(t), c) for t, c in self.conn.execute(q, (code, position, judge))]

    def finish(self, code: str) -> str:
        """Mark a participant finished; their completion code."""
        with self.tx() as c:
            c.execute(
                "UPDATE participants SET finished_at = COALESCE(finished_at, ?) WHERE code = ?",
                (time.time(), code),
            )
        return str(self.participant(code)["completion_code"])
