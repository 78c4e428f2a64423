"""Logs out and in: one row per judgement (JSONL or CSV), merging logs, summary statistics.

The row format is documented field by field in docs/logs.md and versioned by
`EXPORT_VERSION` (the `schema_version` of every row). Rows carry stable ids (`uid` of the
judgement, `session` and `round_uid`), so importing a log twice, or into the database it
came from, adds nothing.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

from debate.ratings import RESAMPLES, Game, bootstrap_mean, rate
from debate.secrets import scrub
from store.db import Store, _js, insert
from store.errors import StoreError
from store.migrations import world_id
from store.schema import row_problem

#: Version of the exported row format (see docs/logs.md for the policy). 2: study fields.
EXPORT_VERSION = 2

#: Where a judgement sits in a study (all null outside studies), in column order.
STUDY_FIELDS = [
    "study",
    "participant",
    "item",
    "condition",
    "position",
    "protocol",
    "time_limit",
    "timed_out",
    "attention",
]

#: Every row's keys, in order (CSV columns); nested values (JSON objects) come last.
FIELDS = [
    "schema_version",
    "uid",
    "judge",
    "session",
    "session_kind",
    "session_seed",
    "app_version",
    "round",
    "round_uid",
    "practice",
    "world_seed",
    "n_statements",
    "debater_a",
    "debater_b",
    "honest_side",
    "estimate",
    "log10_estimate",
    "interval",
    "covered",
    "credence_a",
    "trust",
    "trust_honest",
    "trusted_honest",
    "trust_log_score",
    "truth_pz",
    "log10_truth",
    "log10_error",
    "regret_bits",
    "seconds",
    "created_at",
    "kind",
    *STUDY_FIELDS,
    "judge_failed",
    "judge_error",
    "baselines",
    "claims",
    "evidence",
    "evidence_sources",
    "rules",
    "settings",
]
#: Extra keys with `transcripts=True`.
TRANSCRIPT_FIELDS = ["world", "turns", "queries", "credences"]
#: Keys whose values are stored as JSON text and passed through as such when writing.
_RAW = ("claims", "evidence", "evidence_sources", "rules", "settings")

_SQL = (
    "SELECT j.uid, jd.name, s.uid, s.kind, s.seed, s.app_version, r.number, r.uid,"
    " r.practice, r.world_seed, r.n_statements, COALESCE(r.debater_a, s.debater_a),"
    " COALESCE(r.debater_b, s.debater_b), r.honest_side, j.estimate, j.interval_lo,"
    " j.interval_hi, j.covered, j.credence_a, j.trusted_honest, j.trust_log_score,"
    " r.truth_pz, r.log10_truth, j.log10_error, j.regret_bits, j.seconds, j.created_at,"
    " j.base_independence, j.base_maxent, j.base_lower, j.base_upper,"
    " r.claims, j.evidence, r.rules, s.id, r.id, j.evidence_sources, r.kind,"
    " r.study, r.participant, r.item, r.condition, r.position, r.protocol, r.time_limit,"
    " r.timed_out, r.attention, j.judge_failed, j.judge_error"
    " FROM judgements j JOIN rounds r ON r.id = j.round_id"
    " JOIN sessions s ON s.id = r.session_id JOIN judges jd ON jd.id = s.judge_id"
)
_LOG10_FLOOR = -300.0
_BATCH = 2000


def _redacted(settings: str | None) -> str | None:
    """Stored settings with credentials removed (URL userinfo and secret query parameters
    included), for databases written before the store removed them; unchanged text when
    there is nothing to remove, so exports stay byte for byte stable."""
    if settings is None:
        return None
    value = json.loads(settings)
    clean = _finite(scrub(value, []))
    return settings if clean == value else _js(clean)


def _fin(x: Any) -> float | None:
    """JSON has no infinity: non-finite numbers (and anything stored that is not a number)
    are exported as null."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return x if math.isfinite(x) else None


def _log10(p: float) -> float:
    return _LOG10_FLOOR if p <= 0 else max(_LOG10_FLOOR, math.log10(p))


def _bool(v: int | None) -> bool | None:
    return None if v is None else bool(v)


def _finite(value: Any) -> Any:
    """A JSON-like value with every non-finite number made null (JSON has none)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


_NON_FINITE = ("Infinity", "NaN")


def _finite_text(text: str | None) -> str | None:
    """A stored JSON text with non-finite numbers made null (unchanged when it has none)."""
    if text is None or not any(t in text for t in _NON_FINITE):
        return text
    value = json.loads(text)
    clean = _finite(value)
    return text if clean == value else _js(clean)


def _clean_record(r: tuple[Any, ...]) -> tuple[Any, ...]:
    """A database tuple with non-finite floats as None."""
    if all(not isinstance(x, float) or math.isfinite(x) for x in r):
        return r
    return tuple(_fin(x) if isinstance(x, float) else x for x in r)


def _scalars(r: tuple[Any, ...]) -> dict[str, Any]:
    """The row's fields up to `baselines` (everything but the stored JSON texts); a stored
    number that is not finite (a database written before imports were checked) is null."""
    r = _clean_record(r)
    estimate, honest, ca = r[14], r[13], r[18]
    trust_honest = None
    if ca is not None and honest is not None:
        trust_honest = ca if honest == "a" else 1.0 - ca
    return {
        "schema_version": EXPORT_VERSION,
        "uid": r[0],
        "judge": r[1],
        "session": r[2],
        "session_kind": r[3],
        "session_seed": r[4],
        "app_version": r[5],
        "round": r[6],
        "round_uid": r[7],
        "practice": bool(r[8]),
        "world_seed": r[9],
        "n_statements": r[10],
        "debater_a": r[11],
        "debater_b": r[12],
        "honest_side": honest,
        "estimate": estimate,
        "log10_estimate": None if estimate is None else _log10(estimate),
        "interval": None if r[15] is None else [r[15], r[16]],
        "covered": _bool(r[17]),
        "credence_a": ca,
        "trust": None if ca is None or ca == 0.5 else ("a" if ca > 0.5 else "b"),
        "trust_honest": trust_honest,
        "trusted_honest": _bool(r[19]),
        "trust_log_score": _fin(r[20]),
        "truth_pz": r[21],
        "log10_truth": r[22],
        "log10_error": _fin(r[23]),
        "regret_bits": _fin(r[24]),
        "seconds": r[25],
        "created_at": r[26],
        "kind": r[37],
        **_study(r),
        "judge_failed": bool(r[47]),
        "judge_error": r[48],
        "baselines": {"independence": r[27], "maxent": r[28], "lower": r[29], "upper": r[30]},
    }


def _study(r: tuple[Any, ...]) -> dict[str, Any]:
    """The study fields of a database tuple (`STUDY_FIELDS`, null outside studies)."""
    values = list(r[38:47])
    values[7], values[8] = _bool(values[7]), _bool(values[8])
    return dict(zip(STUDY_FIELDS, values, strict=True))


class ExportRows(Iterator[dict[str, Any]]):
    """The rows of an export, read in batches; `write_export` writes them without
    re-parsing the JSON the database already holds."""

    def __init__(
        self, store: Store, session: int | str | None, judge: str | None, transcripts: bool
    ) -> None:
        self.store = store
        self.transcripts = transcripts
        sql = _SQL
        params: list[Any] = []
        where = []
        if session is not None:
            # the numeric id the store shows, or the `session` uid of an exported row
            by_id = isinstance(session, int) or (session.isdigit() and len(session) < 32)
            where.append("s.id = ?" if by_id else "s.uid = ?")
            params.append(int(session) if by_id else str(session).strip())
        if judge is not None:
            where.append("jd.name = ?")
            params.append(judge.strip())
        if where:
            sql += " WHERE " + " AND ".join(where)
        self._sql = sql + " ORDER BY j.created_at, j.id"
        self._params = params
        self._dicts: Iterator[dict[str, Any]] | None = None
        self._session_json: dict[int, tuple[str | None, str | None]] = {}

    def session_json(self, sid: int) -> tuple[str | None, str | None]:
        """A session's rules and settings as stored JSON text (read once per session)."""
        got = self._session_json.get(sid)
        if got is None:
            with self.store.reading() as conn:
                got = conn.execute(
                    "SELECT rules, settings FROM sessions WHERE id = ?", [sid]
                ).fetchone()
            self._session_json[sid] = got = (_finite_text(got[0]), _redacted(got[1]))
        return got

    def records(self) -> Iterator[tuple[Any, ...]]:
        """Raw database tuples in export order (batches, so memory stays small)."""
        with self.store.reading() as conn:
            cur = conn.execute(self._sql, self._params)
        while True:
            with self.store.reading():
                batch = cur.fetchmany(_BATCH)
            if not batch:
                return
            yield from batch

    def extra(self, r: tuple[Any, ...]) -> dict[str, Any]:
        """The transcript fields of a row."""
        rid = r[35]
        with self.store.reading() as conn:
            world = conn.execute(
                "SELECT COALESCE(r.world_json, w.world_json) FROM rounds r"
                " LEFT JOIN worlds w ON w.id = r.world_id WHERE r.id = ?",
                [rid],
            ).fetchone()[0]
        extra = {
            "turns": self.store.turns(rid),
            "queries": self.store.queries(rid),
            "credences": self.store.credences(rid),
        }
        return {"world": world, **_finite(extra)}

    def _iter_dicts(self) -> Iterator[dict[str, Any]]:
        parsed: dict[str | None, Any] = {None: None}

        def cached(text: str | None) -> Any:
            if text not in parsed:
                parsed[text] = json.loads(text)  # type: ignore[arg-type]
            return parsed[text]

        loads = json.loads
        for r in self.records():
            row = _scalars(r)
            row["claims"] = None if r[31] is None else loads(_finite_text(r[31]) or "null")
            row["evidence"] = None if r[32] is None else loads(_finite_text(r[32]) or "null")
            row["evidence_sources"] = None if r[36] is None else loads(r[36])
            rules, settings = self.session_json(r[34])
            row["rules"] = cached(_finite_text(r[33] or rules))
            row["settings"] = cached(settings)
            if self.transcripts:
                row.update(self.extra(r))
            yield row

    def __iter__(self) -> ExportRows:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._dicts is None:
            self._dicts = self._iter_dicts()
        return next(self._dicts)

    @property
    def started(self) -> bool:
        return self._dicts is not None


def export_rows(
    store: Store,
    *,
    session: int | str | None = None,
    judge: str | None = None,
    transcripts: bool = False,
) -> Iterator[dict[str, Any]]:
    """One dict per judgement, oldest first (keys: `FIELDS`, plus `TRANSCRIPT_FIELDS`).

    `session` is a session's numeric id or its uid (the `session` field of a row).

    Rows share parsed `settings`/`rules` dicts with each other; copy before mutating.
    """
    return ExportRows(store, session, judge, transcripts)


def _cell(v: Any) -> str:
    """CSV cell: text as is, null empty, booleans true/false, nested values as JSON."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def write_export(
    rows: Iterable[dict[str, Any]],
    fmt: Literal["jsonl", "csv"],
    out: str | Path | IO[str],
) -> int:
    """Write rows as JSONL or CSV to a path, '-' (stdout) or an open text file; returns
    how many rows were written.

    A path is written whole or not at all: the rows go to a temporary file in the same
    folder, renamed over `out` only when every row is written, so an export that fails
    part-way leaves an existing file as it was (a FIFO or device is written directly)."""
    if fmt not in ("jsonl", "csv"):
        raise StoreError(f"unknown export format {fmt!r}; use jsonl or csv")
    if not isinstance(out, str | Path) or str(out) == "-":
        return _write(rows, fmt, sys.stdout if isinstance(out, str | Path) else out)
    path = Path(out)
    try:
        if path.exists() and not path.is_file():
            with path.open("w", encoding="utf-8", newline="") as f:
                return _write(rows, fmt, f)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise StoreError(f"cannot write {out} ({exc.strerror}); check the path") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            n = _write(rows, fmt, f)
        if path.exists():
            shutil.copymode(path, tmp)  # keep the permissions of the file replaced
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StoreError(f"cannot write {out} ({exc.strerror}); check the path") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread);
    0o022 where /proc does not say."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _write(rows: Iterable[dict[str, Any]], fmt: str, f: IO[str]) -> int:
    if isinstance(rows, ExportRows) and not rows.started:
        return _write_fast(rows, fmt, f)
    n = 0
    if fmt == "jsonl":
        encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        buf: list[str] = []
        for row in rows:
            buf.append(encode(row))
            n += 1
            if len(buf) >= _BATCH:
                f.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            f.write("\n".join(buf) + "\n")
        return n
    writer = csv.writer(f, lineterminator="\n")
    header: list[str] | None = None
    for row in rows:
        if header is None:
            header = list(row)
            writer.writerow(header)
        writer.writerow([_cell(row.get(k)) for k in header])
        n += 1
    if header is None:
        writer.writerow(FIELDS)
    return n


class _Lines:
    """A write-only file that collects each write as one list item (one CSV line)."""

    def __init__(self, out: list[str]) -> None:
        self.out = out

    def write(self, text: str) -> int:
        self.out.append(text)
        return len(text)


def _tf(v: int | None) -> str | None:
    return None if v is None else ("true" if v else "false")


def _csv_cells(r: tuple[Any, ...]) -> list[Any]:
    """The CSV cells of `_scalars(r)` (csv writes numbers with repr and None as empty)."""
    r = _clean_record(r)
    d = _scalars(r)
    return [
        EXPORT_VERSION,
        *r[0:8],
        "true" if r[8] else "false",
        *r[9:15],
        d["log10_estimate"],
        None if r[15] is None else f"[{r[15]!r},{r[16]!r}]",
        _tf(r[17]),
        r[18],
        d["trust"],
        d["trust_honest"],
        _tf(r[19]),
        d["trust_log_score"],
        r[21],
        r[22],
        d["log10_error"],
        d["regret_bits"],
        r[25],
        r[26],
        r[37],
        *(_tf(v) if isinstance(v, bool) else v for v in _study(r).values()),
        "true" if r[47] else "false",
        r[48],
        _cell(d["baselines"]),
    ]


def _write_fast(rows: ExportRows, fmt: str, f: IO[str]) -> int:
    """Same output as the dict path, splicing the stored JSON texts in unparsed."""
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    n = 0
    buf: list[str] = []
    quoted: dict[str | None, str] = {}

    def q(text: str | None) -> str:
        """A stored JSON text as a CSV cell (quoted like csv's QUOTE_MINIMAL would)."""
        if text is None:
            return ""
        if any(c in text for c in ',"\r\n'):
            return '"' + text.replace('"', '""') + '"'
        return text

    def q_cached(text: str | None) -> str:
        if text not in quoted:
            quoted[text] = q(text)
        return quoted[text]

    scalars = csv.writer(_Lines(buf), lineterminator="")
    if fmt == "csv":
        header = FIELDS + (TRANSCRIPT_FIELDS if rows.transcripts else [])
        csv.writer(f, lineterminator="\n").writerow(header)
    for r in rows.records():
        rules, settings = rows.session_json(r[34])
        rules = _finite_text(r[33]) or rules
        claims, evidence = _finite_text(r[31]), _finite_text(r[32])
        if fmt == "jsonl":
            tail = "".join(
                [
                    ',"claims":',
                    claims or "null",
                    ',"evidence":',
                    evidence or "null",
                    ',"evidence_sources":',
                    r[36] or "null",
                    ',"rules":',
                    rules or "null",
                    ',"settings":',
                    settings or "null",
                ]
            )
            line = encode(_scalars(r))[:-1] + tail
            line += "," + encode(rows.extra(r))[1:] if rows.transcripts else "}"
            buf.append(line)
        else:
            scalars.writerow(_csv_cells(r))
            parts = [",", q(claims), ",", q(evidence), ",", q(r[36])]
            parts += [",", q_cached(rules), ",", q_cached(settings)]
            if rows.transcripts:
                extra = [_cell(v) for v in rows.extra(r).values()]
                parts += [x for v in extra for x in (",", q(v))]
            buf[-1] += "".join(parts)
        n += 1
        if len(buf) >= _BATCH:
            f.write("\n".join(buf) + "\n")
            buf.clear()
    if buf:
        f.write("\n".join(buf) + "\n")
    return n


# -- import -------------------------------------------------------------------------------


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
    """Insert one row inside the open transaction; False when its round is already judged."""
    db = store.db
    conn = db.conn
    for key in _REQUIRED:
        if row.get(key) is None:
            raise ValueError(f"{key!r} is missing")
    created = float(row["created_at"])
    got = conn.execute("SELECT id FROM sessions WHERE uid = ?", [row["session"]]).fetchone()
    if got:
        session_id = got[0]
    else:
        session_id = insert(
            db,
            "sessions",
            {
                "uid": row["session"],
                "judge_id": store._judge_id(db, row["judge"]),
                "kind": row.get("session_kind") or "imported",
                "settings": _js(row.get("settings")),
                "rules": _js(row.get("rules")),
                "debater_a": row.get("debater_a"),
                "debater_b": row.get("debater_b"),
                "seed": row.get("session_seed"),
                "app_version": row.get("app_version"),
                "started_at": created,
                "ended_at": created,
            },
        )
    got = conn.execute(
        "SELECT id, answered_at FROM rounds WHERE uid = ?", [row["round_uid"]]
    ).fetchone()
    if got and got[1] is not None:
        return False
    if got:
        round_id = got[0]
    else:
        round_id = insert(
            db,
            "rounds",
            {
                "uid": row["round_uid"],
                "session_id": session_id,
                "number": row["round"],
                "world_id": world_id(conn, row.get("world"), created),
                "world_seed": row.get("world_seed"),
                "n_statements": row["n_statements"],
                "truth_pz": row["truth_pz"],
                "log10_truth": row.get("log10_truth"),
                "honest_side": row.get("honest_side"),
                "claims": _js(row.get("claims")),
                "rules": _js(row.get("rules")),
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
            store._add_turn(db, round_id, turn)
        for q in row.get("queries") or []:
            db.table("queries").insert(
                {"round_id": round_id, "ids": _js(q["ids"]), "p": q["p"], "at": q.get("at")}
            )
        for c in row.get("credences") or []:
            db.table("credences").insert(
                {
                    "round_id": round_id,
                    "after_turn": c["after_turn"],
                    "credence_a": c["credence_a"],
                    "at": c.get("at"),
                }
            )
    interval = row.get("interval")
    store._record_judgement(
        db,
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


# -- statistics ---------------------------------------------------------------------------

GroupBy = Literal[
    "judge", "rules", "debaters", "kind", "condition", "item", "participant", "debater"
]
#: The groupings `stats` knows, in the order the help lists them.
GROUPINGS: tuple[str, ...] = GroupBy.__args__  # type: ignore[attr-defined]
#: The group of a row outside any study, when grouping by a study field.
NO_STUDY = "(no study)"
#: Reliability bins of the trust credence (equal width on [0, 1]).
N_BINS = 10


def _rules_label(rules: dict[str, Any] | None) -> str:
    """Short name of a rule set: the settings that differ from the defaults."""
    if not rules:
        return "(unknown)"
    from debate.rules import Rules

    defaults = Rules().model_dump(mode="json")
    diff = [f"{k}={v}" for k, v in sorted(rules.items()) if defaults.get(k, object()) != v]
    return ", ".join(diff) or "default"


def _mean(xs: list[float]) -> float | None:
    return math.fsum(xs) / len(xs) if xs else None


def calibration(
    forecasts: list[float], outcomes: list[bool], bins: int = N_BINS
) -> tuple[float | None, list[dict[str, Any]]]:
    """Expected calibration error and reliability bins of forecasts of a binary event."""
    table: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for f, o in zip(forecasts, outcomes, strict=True):
        table[min(bins - 1, max(0, int(f * bins)))].append((f, o))
    out, ece, n = [], 0.0, len(forecasts)
    for i, cell in enumerate(table):
        if not cell:
            continue
        conf = math.fsum(f for f, _ in cell) / len(cell)
        freq = sum(o for _, o in cell) / len(cell)
        ece += len(cell) / n * abs(conf - freq)
        out.append(
            {"lo": i / bins, "hi": (i + 1) / bins, "n": len(cell), "forecast": conf, "freq": freq}
        )
    return (ece if n else None), out


def _keys(row: dict[str, Any], by: str) -> list[str]:
    """The groups a row counts in: one, or for `debater` each distinct debater of the round
    (none when the round had no two debaters)."""
    kind = row["kind"] or "pz"
    if by == "kind":
        return [kind]
    if kind != "pz":
        # another measurement (a mimic's next book): never pooled with P(Z) rounds
        return [f"{row['judge']} [{kind}]" if by == "judge" else f"[{kind}]"]
    if by == "judge":
        return [row["judge"]]
    if by == "rules":
        return [_rules_label(row["rules"])]
    if by == "debaters":
        return [f"{row['debater_a'] or '-'} vs {row['debater_b'] or '-'}"]
    if by == "debater":
        if not (row["debater_a"] and row["debater_b"] and row["honest_side"] in ("a", "b")):
            return []
        return sorted({row["debater_a"], row["debater_b"]})
    value = row.get(by)
    return [NO_STUDY if value is None else str(value)]


def _games(rows: Iterable[dict[str, Any]]) -> list[Game]:
    """Rounds with two debaters as the ratings see them: the spec that argued the truth, the
    spec that lied, and whether the judge trusted the honest one (None: trusted nobody)."""
    games = []
    for r in rows:
        if not (r["debater_a"] and r["debater_b"] and r["honest_side"] in ("a", "b")):
            continue
        if (r["kind"] or "pz") != "pz":
            continue
        a_honest = r["honest_side"] == "a"
        trust = r["trust"]
        games.append(
            Game(
                honest=r["debater_a"] if a_honest else r["debater_b"],
                liar=r["debater_b"] if a_honest else r["debater_a"],
                judge=r["judge"],
                honest_trusted=None if trust is None else trust == r["honest_side"],
                # judges' figures of `rate` are not read here: a missing error counts 0
                log10_error=r["log10_error"] or 0.0,
            )
        )
    return games


def _interval(values: list[float], rng: np.random.Generator, resamples: int) -> list[float] | None:
    """Percentile bootstrap 95% interval of the mean, as `debate.ratings` makes them (None
    with no values)."""
    if not values:
        return None
    est = bootstrap_mean(np.asarray(values, dtype=float), rng, resamples)
    return [est.low, est.high]


def stats(
    source: Store | Iterable[dict[str, Any]],
    by: GroupBy = "judge",
    *,
    practice: bool = False,
    resamples: int = RESAMPLES,
) -> list[dict[str, Any]]:
    """Per judge / rule set / debater pair / round kind / study condition, item or
    participant / debater: errors, regret, trust and its calibration, and the independence
    and max-ent baselines' errors on the same rounds and evidence. Rounds of another kind
    than P(Z) (mimic rounds) are never pooled with P(Z).

    `source` is a store or export rows (`store.study_export.study_rows` for a study).
    The mean log10 error and the share trusting the honest side carry percentile bootstrap
    95% intervals over rounds (`resamples` resamples, seeded by the group's name, so the
    same rows give the same intervals). By `debater`, a round counts for each of its two
    debaters, and each debater also gets its Bradley–Terry ratings as honest and as liar
    (`debate.ratings.rate`, over all rounds with two debaters).

    Practice rounds and a study's attention checks are left out unless `practice` is true.
    """
    if by not in GROUPINGS:
        raise StoreError(f"unknown grouping {by!r}; use {', '.join(GROUPINGS)}")
    groups: dict[str, list[dict[str, Any]]] = {}
    kept = []
    for row in export_rows(source) if isinstance(source, Store) else source:
        if (row["practice"] or row.get("attention")) and not practice:
            continue
        if row.get("judge_failed"):
            continue  # no answer: the stand-in estimate is not the judge's to be scored on
        kept.append(row)
        for key in _keys(row, by):
            groups.setdefault(key, []).append(row)
    ratings = {}
    if by == "debater":
        ratings = {d.name: d for d in rate(_games(kept), resamples=resamples).debaters}
    out = []
    for key, rows in sorted(groups.items()):
        rng = np.random.default_rng([zlib.crc32(key.encode()), 15])
        errs = [r["log10_error"] for r in rows if r["log10_error"] is not None]
        regrets = [math.inf if r["regret_bits"] is None else r["regret_bits"] for r in rows]
        trusted = [r["trusted_honest"] for r in rows if r["trusted_honest"] is not None]
        fc = [(r["credence_a"], r["honest_side"] == "a") for r in rows if _has_trust(r)]
        ece, bins = calibration([f for f, _ in fc], [o for _, o in fc])
        ind_err = [_baseline_error(r, "independence") for r in rows]
        me_err = [_baseline_error(r, "maxent") for r in rows]
        ind = [e for e in ind_err if e is not None]
        me = [e for e in me_err if e is not None]
        beats = [
            r["log10_error"] < i
            for r, i in zip(rows, ind_err, strict=True)
            if r["log10_error"] is not None and i is not None
        ]
        beats_me = [
            r["log10_error"] < m
            for r, m in zip(rows, me_err, strict=True)
            if r["log10_error"] is not None and m is not None
        ]
        inside = [
            r["baselines"]["lower"] <= r["estimate"] <= r["baselines"]["upper"]
            for r in rows
            if r["baselines"]
            and r["baselines"].get("lower") is not None
            and r["baselines"].get("upper") is not None
            and r["estimate"] is not None
        ]
        covered = [r["covered"] for r in rows if r["covered"] is not None]
        extra: dict[str, Any] = {}
        if by == "debater":
            d = ratings.get(key)
            extra = {
                "as_honest": 0 if d is None else d.as_honest,
                "won_as_honest": 0 if d is None else d.won_as_honest,
                "as_liar": 0 if d is None else d.as_liar,
                "fooled_as_liar": 0 if d is None else d.fooled_as_liar,
                "honest_rating": None if d is None or d.honest is None else d.honest.model_dump(),
                "liar_rating": None if d is None or d.liar is None else d.liar.model_dump(),
            }
        out.append(
            {
                "group": key,
                "rounds": len(rows),
                "mean_log10_error": _mean(errs),
                "mean_log10_error_ci": _interval(errs, rng, resamples),
                "median_log10_error": statistics.median(errs) if errs else None,
                "mean_regret_bits": _mean(regrets),
                "median_regret_bits": statistics.median(regrets) if regrets else None,
                "trust_rounds": len(trusted),
                "trusted_honest_rate": _mean([float(t) for t in trusted]),
                "trusted_honest_rate_ci": _interval([float(t) for t in trusted], rng, resamples),
                "mean_trust_honest": _mean(
                    [r["trust_honest"] for r in rows if r["trust_honest"] is not None]
                ),
                "trust_ece": ece,
                "reliability": bins,
                "covered_rate": _mean([float(c) for c in covered]),
                "within_bounds_rate": _mean([float(x) for x in inside]),
                "independence_log10_error": _mean(ind),
                "maxent_log10_error": _mean(me),
                "beats_independence_rate": _mean([float(b) for b in beats]),
                "beats_maxent_rate": _mean([float(b) for b in beats_me]),
                **extra,
            }
        )
    return out


def _baseline_error(row: dict[str, Any], name: str) -> float | None:
    """A baseline's error in orders of magnitude on the row's evidence (None if unknown).

    The truth's log comes from `log10_truth`, exact even where `truth_pz` underflows.
    """
    value = (row["baselines"] or {}).get(name)
    if value is None:
        return None
    if row["log10_truth"] is not None:
        truth = row["log10_truth"]
    elif row["truth_pz"] is not None:
        truth = _log10(row["truth_pz"])
    else:
        return None
    return abs(_log10(value) - truth)


def _has_trust(row: dict[str, Any]) -> bool:
    return row["credence_a"] is not None and row["honest_side"] in ("a", "b")


_COLUMNS = [
    ("group", "group", "s"),
    ("rounds", "rounds", "d"),
    ("mean_log10_error", "err mean [95% CI]", "ci.2f"),
    ("median_log10_error", "err med", ".2f"),
    ("mean_regret_bits", "regret", ".3g"),
    ("trusted_honest_rate", "trusted [95% CI]", "ci%"),
    ("trust_ece", "ECE", ".3f"),
    ("independence_log10_error", "indep err", ".2f"),
    ("maxent_log10_error", "maxent err", ".2f"),
    ("beats_independence_rate", "beats indep", "%"),
    ("beats_maxent_rate", "beats maxent", "%"),
]


#: Columns added by `--by debater`: Bradley–Terry ratings (log-odds) with their intervals.
_DEBATER_COLUMNS = [
    ("honest_rating", "rating as honest [95% CI]", "est"),
    ("liar_rating", "rating as liar [95% CI]", "est"),
]


def format_stats(rows: list[dict[str, Any]], by: str = "group") -> str:
    """A plain text table of `stats` rows (errors in orders of magnitude); a mean with an
    interval reads `value [low, high]`."""

    def fmt(v: Any, spec: str, r: dict[str, Any], k: str) -> str:
        if v is None:
            return "-"
        if spec == "est":
            # rounded first, so a bound of -1e-17 reads +0.00, not -0.00
            a, lo, hi = (round(v[k], 2) + 0.0 for k in ("value", "low", "high"))
            return f"{a:+.2f} [{lo:+.2f}, {hi:+.2f}]"
        if spec.startswith("ci"):
            ci = r.get(f"{k}_ci")
            one = (lambda x: f"{100 * x:.0f}%") if spec == "ci%" else (lambda x: f"{x:.2f}")
            return one(v) + ("" if ci is None else f" [{one(ci[0])}, {one(ci[1])}]")
        if spec == "%":
            return f"{100 * v:.0f}%"
        return format(v, spec)

    columns = _COLUMNS + (_DEBATER_COLUMNS if rows and "honest_rating" in rows[0] else [])
    header = [by if k == "group" else title for k, title, _ in columns]
    body = [[fmt(r[k], spec, r, k) for k, _, spec in columns] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    lines = []
    for cells in [header, *body]:
        parts = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    if not rows:
        lines.append("(no judgements yet)")
    calibrated = [r for r in rows if r["reliability"]]
    if columns is not _COLUMNS:
        lines += [
            "",
            "rating: Bradley-Terry log-odds; rating as honest of X minus rating as liar of Y "
            "is the log-odds the judge trusts X over Y",
        ]
    if calibrated:
        lines += ["", "reliability of the credence that A is honest (bin: n, said → was):"]
        for r in calibrated:
            cells = [
                f"[{b['lo']:.1f},{b['hi']:.1f}) {b['n']}: {b['forecast']:.2f}→{b['freq']:.2f}"
                for b in r["reliability"]
            ]
            lines.append(f"  {r['group']}  ECE {r['trust_ece']:.3f}  " + "  ".join(cells))
    return "\n".join(lines)


def to_text(rows: Iterable[dict[str, Any]], fmt: Literal["jsonl", "csv"]) -> str:
    """Rows as a string (for tests and small exports)."""
    buf = io.StringIO()
    _write(rows, fmt, buf)
    return buf.getvalue()


__all__ = [
    "EXPORT_VERSION",
    "FIELDS",
    "TRANSCRIPT_FIELDS",
    "calibration",
    "export_rows",
    "format_stats",
    "import_logs",
    "stats",
    "to_text",
    "write_export",
]
