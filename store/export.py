"""Logs out: one row per judgement (JSONL or CSV); merging logs is store/importing.py,
summary statistics store/stats.py.

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
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

from debate.scoring import safe_log10 as _log10  # the one floor (LOG10_FLOOR)
from debate.secrets import scrub
from store.db import Store
from store.errors import StoreError
from store.export_world import WorldFields
from store.writes import json_text

#: Version of the exported row format (see docs/logs.md for the policy). 2: study fields;
#: 3: `world` is a JSON object (store/export_world.py).
EXPORT_VERSION = 3

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
    "log10_truth_stderr",
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
TRANSCRIPT_FIELDS = ["world", "world_sha256", "world_text", "turns", "queries", "credences"]
#: Keys whose values are stored as JSON text and passed through as such when writing.
_RAW = ("claims", "evidence", "evidence_sources", "rules", "settings")

#: One judgement with its round, session and judge; the aliases are the export's field
#: names where a column is exported as it is stored.
_SQL = (
    "SELECT j.uid, jd.name AS judge, s.uid AS session, s.kind AS session_kind,"
    " s.seed AS session_seed, s.app_version, r.number AS round, r.uid AS round_uid,"
    " r.practice, r.world_seed, r.n_statements,"
    " COALESCE(r.debater_a, s.debater_a) AS debater_a,"
    " COALESCE(r.debater_b, s.debater_b) AS debater_b, r.honest_side, j.estimate,"
    " j.interval_lo, j.interval_hi, j.covered, j.credence_a, j.trusted_honest,"
    " j.trust_log_score, r.truth_pz, r.log10_truth, r.log10_truth_stderr, j.log10_error,"
    " j.regret_bits, j.seconds,"
    " j.created_at, j.base_independence, j.base_maxent, j.base_lower, j.base_upper,"
    " r.claims, j.evidence, r.rules, s.id AS session_id, r.id AS round_id,"
    " j.evidence_sources, r.kind, r.study, r.participant, r.item, r.condition, r.position,"
    " r.protocol, r.time_limit, r.timed_out, r.attention, j.judge_failed, j.judge_error"
    " FROM judgements j JOIN rounds r ON r.id = j.round_id"
    " JOIN sessions s ON s.id = r.session_id JOIN judges jd ON jd.id = s.judge_id"
)
#: A row of `_SQL`, by column name.
Record = dict[str, Any]
_BATCH = 2000


def _redacted(settings: str | None) -> str | None:
    """Stored settings with credentials removed (URL userinfo and secret query parameters
    included), for databases written before the store removed them; unchanged text when
    there is nothing to remove, so exports stay byte for byte stable."""
    if settings is None:
        return None
    value = json.loads(settings)
    clean = finite(scrub(value, []))
    return settings if clean == value else json_text(clean)


def _fin(x: Any) -> float | None:
    """JSON has no infinity: non-finite numbers (and anything stored that is not a number)
    are exported as null."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return x if math.isfinite(x) else None


def _bool(v: int | None) -> bool | None:
    return None if v is None else bool(v)


def finite(value: Any) -> Any:
    """A JSON-like value with every non-finite number made null (JSON has none): for any
    JSON the CLI prints, too."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


_NON_FINITE = ("Infinity", "NaN")


def _finite_text(text: str | None) -> str | None:
    """A stored JSON text with non-finite numbers made null (unchanged when it has none)."""
    if text is None or not any(t in text for t in _NON_FINITE):
        return text
    value = json.loads(text)
    clean = finite(value)
    return text if clean == value else json_text(clean)


def _clean_record(r: Record) -> Record:
    """A database record with non-finite floats as None."""
    if all(not isinstance(x, float) or math.isfinite(x) for x in r.values()):
        return r
    return {k: _fin(x) if isinstance(x, float) else x for k, x in r.items()}


def _scalars(r: Record) -> dict[str, Any]:
    """The row's fields up to `baselines` (everything but the stored JSON texts); a stored
    number that is not finite (a database written before imports were checked) is null."""
    r = _clean_record(r)
    estimate, honest, ca = r["estimate"], r["honest_side"], r["credence_a"]
    return {
        "schema_version": EXPORT_VERSION,
        "uid": r["uid"],
        "judge": r["judge"],
        "session": r["session"],
        "session_kind": r["session_kind"],
        "session_seed": r["session_seed"],
        "app_version": r["app_version"],
        "round": r["round"],
        "round_uid": r["round_uid"],
        "practice": bool(r["practice"]),
        "world_seed": r["world_seed"],
        "n_statements": r["n_statements"],
        "debater_a": r["debater_a"],
        "debater_b": r["debater_b"],
        "honest_side": honest,
        "estimate": estimate,
        "log10_estimate": None if estimate is None else _log10(estimate),
        "interval": None if r["interval_lo"] is None else [r["interval_lo"], r["interval_hi"]],
        "covered": _bool(r["covered"]),
        "credence_a": ca,
        **trust_fields(ca, honest),
        "trusted_honest": _bool(r["trusted_honest"]),
        "trust_log_score": _fin(r["trust_log_score"]),
        "truth_pz": r["truth_pz"],
        "log10_truth": r["log10_truth"],
        "log10_truth_stderr": r["log10_truth_stderr"],
        "log10_error": _fin(r["log10_error"]),
        "regret_bits": _fin(r["regret_bits"]),
        "seconds": r["seconds"],
        "created_at": r["created_at"],
        "kind": r["kind"],
        **_study(r),
        "judge_failed": bool(r["judge_failed"]),
        "judge_error": r["judge_error"],
        # a mimic round has no P(Z) evidence, so no baselines: null (docs/logs.md)
        "baselines": None
        if r["kind"] == "mimic"
        else {
            "independence": r["base_independence"],
            "maxent": r["base_maxent"],
            "lower": r["base_lower"],
            "upper": r["base_upper"],
        },
    }


def trust_fields(credence_a: float | None, honest_side: str | None) -> dict[str, Any]:
    """A row's `trust` (the side the credence favours; exactly 1/2 favours nobody) and
    `trust_honest` (the credence put on the honest side)."""
    ca = credence_a
    trust_honest = None
    if ca is not None and honest_side is not None:
        trust_honest = ca if honest_side == "a" else 1.0 - ca
    trust = None if ca is None or ca == 0.5 else ("a" if ca > 0.5 else "b")
    return {"trust": trust, "trust_honest": trust_honest}


def _study(r: Record) -> dict[str, Any]:
    """The study fields of a database record (`STUDY_FIELDS`, null outside studies)."""
    out = {k: r[k] for k in STUDY_FIELDS}
    out["timed_out"], out["attention"] = _bool(out["timed_out"]), _bool(out["attention"])
    return out


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
        self._world = WorldFields()

    def session_json(self, sid: int) -> tuple[str | None, str | None]:
        """A session's rules and settings as stored JSON text (read once per session)."""
        got = self._session_json.get(sid)
        if got is None:
            row = self.store._one("SELECT rules, settings FROM sessions WHERE id = ?", [sid])
            if row is None:
                raise StoreError(f"no session {sid} in {self.store.path}")
            got = (_finite_text(row["rules"]), _redacted(row["settings"]))
            self._session_json[sid] = got
        return got

    def records(self) -> Iterator[Record]:
        """Database records by column name, in export order (batches, so memory stays
        small)."""
        with self.store.reading() as conn:
            cur = conn.execute(self._sql, self._params)
        names = [d[0] for d in cur.description]
        while True:
            with self.store.reading():
                batch = cur.fetchmany(_BATCH)
            if not batch:
                return
            for values in batch:
                yield dict(zip(names, values, strict=True))

    def extra(self, r: Record) -> dict[str, Any]:
        """The transcript fields of a row."""
        rid = r["round_id"]
        got = self.store._one(
            "SELECT COALESCE(r.world_json, w.world_json) AS world FROM rounds r"
            " LEFT JOIN worlds w ON w.id = r.world_id WHERE r.id = ?",
            [rid],
        )
        world = self._world(None if got is None else got["world"])
        extra = {
            "turns": self.store.turns(rid),
            "queries": self.store.queries(rid),
            "credences": self.store.credences(rid),
        }
        return {**world, **finite(extra)}

    def _iter_dicts(self) -> Iterator[dict[str, Any]]:
        parsed: dict[str | None, Any] = {None: None}

        def cached(text: str | None) -> Any:
            if text not in parsed:
                parsed[text] = json.loads(text)  # type: ignore[arg-type]
            return parsed[text]

        loads = json.loads
        for r in self.records():
            row = _scalars(r)
            claims, evidence, sources = r["claims"], r["evidence"], r["evidence_sources"]
            row["claims"] = None if claims is None else loads(_finite_text(claims) or "null")
            row["evidence"] = None if evidence is None else loads(_finite_text(evidence) or "null")
            row["evidence_sources"] = None if sources is None else loads(sources)
            rules, settings = self.session_json(r["session_id"])
            row["rules"] = cached(_finite_text(r["rules"] or rules))
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


def _write_lines(lines: Iterable[str], f: IO[str]) -> int:
    """Write lines in batches (one write per `_BATCH` lines); returns how many."""
    n = 0
    buf: list[str] = []
    for line in lines:
        buf.append(line)
        if len(buf) >= _BATCH:
            f.write("\n".join(buf) + "\n")
            n += len(buf)
            buf.clear()
    if buf:
        f.write("\n".join(buf) + "\n")
    return n + len(buf)


def _write(rows: Iterable[dict[str, Any]], fmt: str, f: IO[str]) -> int:
    if isinstance(rows, ExportRows) and not rows.started:
        if fmt == "csv":
            fields = FIELDS + (TRANSCRIPT_FIELDS if rows.transcripts else [])
            csv.writer(f, lineterminator="\n").writerow(fields)
        return _write_lines(_fast_lines(rows, fmt), f)
    if fmt == "jsonl":
        encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        return _write_lines(map(encode, rows), f)
    n = 0
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


def _csv_cells(r: Record) -> list[Any]:
    """The CSV cells of `_scalars(r)` (csv writes numbers with repr and None as empty)."""
    r = _clean_record(r)
    d = _scalars(r)
    lo, hi = r["interval_lo"], r["interval_hi"]
    return [
        EXPORT_VERSION,
        *(r[k] for k in FIELDS[1:9]),  # uid … round_uid
        "true" if r["practice"] else "false",
        *(r[k] for k in FIELDS[10:16]),  # world_seed … estimate
        d["log10_estimate"],
        None if lo is None else f"[{lo!r},{hi!r}]",
        _tf(r["covered"]),
        r["credence_a"],
        d["trust"],
        d["trust_honest"],
        _tf(r["trusted_honest"]),
        d["trust_log_score"],
        r["truth_pz"],
        r["log10_truth"],
        r["log10_truth_stderr"],
        d["log10_error"],
        d["regret_bits"],
        r["seconds"],
        r["created_at"],
        r["kind"],
        *(_tf(v) if isinstance(v, bool) else v for v in _study(r).values()),
        "true" if r["judge_failed"] else "false",
        r["judge_error"],
        _cell(d["baselines"]),
    ]


def _fast_lines(rows: ExportRows, fmt: str) -> Iterator[str]:
    """The lines of the dict path, made splicing the stored JSON texts in unparsed."""
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
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
    for r in rows.records():
        rules, settings = rows.session_json(r["session_id"])
        rules = _finite_text(r["rules"]) or rules
        claims, evidence = _finite_text(r["claims"]), _finite_text(r["evidence"])
        sources = r["evidence_sources"]
        if fmt == "jsonl":
            tail = "".join(
                [
                    ',"claims":',
                    claims or "null",
                    ',"evidence":',
                    evidence or "null",
                    ',"evidence_sources":',
                    sources or "null",
                    ',"rules":',
                    rules or "null",
                    ',"settings":',
                    settings or "null",
                ]
            )
            line = encode(_scalars(r))[:-1] + tail
            line += "," + encode(rows.extra(r))[1:] if rows.transcripts else "}"
            yield line
        else:
            scalars.writerow(_csv_cells(r))
            parts = [",", q(claims), ",", q(evidence), ",", q(sources)]
            parts += [",", q_cached(rules), ",", q_cached(settings)]
            if rows.transcripts:
                extra = [_cell(v) for v in rows.extra(r).values()]
                parts += [x for v in extra for x in (",", q(v))]
            yield buf.pop() + "".join(parts)


def to_text(rows: Iterable[dict[str, Any]], fmt: Literal["jsonl", "csv"]) -> str:
    """Rows as a string (for tests and small exports)."""
    buf = io.StringIO()
    _write(rows, fmt, buf)
    return buf.getvalue()


__all__ = [
    "EXPORT_VERSION",
    "FIELDS",
    "STUDY_FIELDS",
    "TRANSCRIPT_FIELDS",
    "export_rows",
    "finite",
    "to_text",
    "trust_fields",
    "write_export",
]
