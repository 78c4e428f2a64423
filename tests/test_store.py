"""The store: everything round-trips, crashes lose nothing, bad files are refused untouched."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from debate.baselines import Baselines
from debate.builtin import builtin
from debate.engine import DebateResult, run_debate
from debate.protocol import Turn
from debate.rules import Rules
from debate.scoring import Scores
from debate.specs import make_judge
from debate.verify import VerifiedCitation
from latent.world import load_world
from store.db import Store
from store.errors import StoreError
from store.export import export_rows, to_text
from store.migrations import APPLICATION_ID, SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent
WORLD = ROOT / "examples" / "small.json"


def _turn(i: int, speaker: str = "a") -> Turn:
    return Turn(
        index=i,
        speaker=speaker,  # type: ignore[arg-type]
        phase="opening" if i < 2 else "round",
        round=0 if i < 2 else 1,
        text=f"speech {i}: P(s1,s2) is 0.25",
        truncated=i == 3,
        citations=[
            VerifiedCitation(kind="statement", ids=["s1"], status="ok"),
            VerifiedCitation(
                kind="prob",
                ids=["s1", "s2"],
                claimed=0.3,
                true_value=0.25,
                verified=False,
                status="false",
                reason="claimed 0.3, true 0.25",
            ),
        ],
        unverified_numbers=["10%"] if i else [],
        forfeit="timed out" if i == 4 else None,
        started_at=1_700_000_000.0 + i,
        seconds=1.25 + i,
    )


SCORES = Scores(
    log10_error=1.5, regret_bits=0.02, covered=True, trust_log_score=-0.5, trusted_honest=True
)
BASE = Baselines(independence=0.2, maxent=0.15, lower=0.0, upper=0.6)


def _session(store: Store, judge: str = "alice") -> int:
    return store.start_session(
        judge,
        kind="game",
        settings={"difficulty": "normal", "n": 12},
        rules=Rules().model_dump(mode="json"),
        debater_a="builtin:honest",
        debater_b="builtin:independence",
        seed=7,
        app_version="0.1.0",
    )


def _round(store: Store, sid: int, number: int = 1) -> int:
    return store.start_round(
        sid,
        number=number,
        world_json=WORLD.read_text(),
        world_seed=11,
        n_statements=6,
        truth_pz=1.25e-4,
        log10_truth=-3.9030899869919435,
        honest_side="b",
        claims={"a": 0.01, "b": 1.25e-4},
    )


def _judge(store: Store, rid: int, estimate: float = 1e-3) -> int:
    return store.record_judgement(
        rid,
        estimate=estimate,
        interval=(1e-6, 1e-2),
        credence_a=0.3,
        seconds=42.5,
        scores=SCORES,
        baselines=BASE,
        evidence={"s1": 0.5, "s1&s2": 0.25},
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "pz.db")
    yield s  # type: ignore[misc]
    s.close()


def _debate(judge: str = "maxent", liar: str = "independence") -> DebateResult:
    world = load_world(WORLD)
    return asyncio.run(
        run_debate(world, builtin("honest"), builtin(liar), make_judge(judge), Rules(), seed=3)
    )


def test_ui_round_trip(store: Store) -> None:
    sid = _session(store)
    rid = _round(store, sid)
    turns = [_turn(i, "ab"[i % 2]) for i in range(5)]
    for t in turns:
        store.add_turn(rid, t)
        store.add_credence(rid, t.index, 0.1 * (t.index + 1), 1_700_000_100.0 + t.index)
    qid = store.add_query(rid, ["s1", "s3"], 0.125, 1_700_000_050.5)
    assert qid > 0

    pub = store.round_public(rid)
    for key in ("truth_pz", "log10_truth", "honest_side", "debater_a", "debater_b"):
        assert key not in pub
    secret = store.round_secret(rid)
    row = tuple(
        store._one("SELECT truth_pz, log10_truth, honest_side FROM rounds WHERE id = ?", [rid])
        or ()
    )
    assert (secret["truth_pz"], secret["log10_truth"], secret["honest_side"]) == row
    assert pub["world_json"] == WORLD.read_text()
    assert pub["claims"] == {"a": 0.01, "b": 1.25e-4}
    assert pub["rules"] == Rules().model_dump(mode="json")
    assert [Turn.model_validate(t) for t in pub["turns"]] == turns
    assert pub["queries"] == [{"ids": ["s1", "s3"], "p": 0.125, "at": 1_700_000_050.5}]
    assert [c["credence_a"] for c in pub["credences"]] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert pub["status"] == "open"
    assert [r["id"] for r in store.open_rounds(sid)] == [rid]

    unfinished = store.unfinished_sessions("alice")
    assert [u["id"] for u in unfinished] == [sid]
    assert unfinished[0]["last_round"]["turns"] == 5
    assert unfinished[0]["settings"] == {"difficulty": "normal", "n": 12}
    assert store.unfinished_sessions("bob") == []

    _judge(store, rid)
    assert store.open_rounds(sid) == []
    assert store.round_public(rid)["status"] == "answered"
    with pytest.raises(StoreError, match="already answered"):
        _judge(store, rid)
    with pytest.raises(StoreError, match="already answered"):
        store.add_turn(rid, turns[0])

    (row,) = list(export_rows(store, transcripts=True))
    assert row["judge"] == "alice"
    assert row["truth_pz"] == 1.25e-4 and row["honest_side"] == "b"
    assert row["estimate"] == 1e-3 and row["interval"] == [1e-6, 1e-2]
    assert row["credence_a"] == 0.3 and row["trust_honest"] == pytest.approx(0.7)
    assert row["trust"] == "b" and row["trusted_honest"] is True
    assert row["log10_error"] == 1.5 and row["regret_bits"] == 0.02 and row["covered"] is True
    assert row["baselines"] == BASE.model_dump()
    assert row["evidence"] == {"s1": 0.5, "s1&s2": 0.25}
    assert row["seconds"] == 42.5 and row["world_seed"] == 11 and row["n_statements"] == 6
    assert row["debater_a"] == "builtin:honest" and row["session_seed"] == 7
    assert [Turn.model_validate(t) for t in row["turns"]] == turns
    # stored as the file's own text (not World.to_json()): the object, and the text as is
    assert row["world"] == json.loads(WORLD.read_text())
    assert row["world_text"] == WORLD.read_text()

    rid2 = _round(store, sid, 2)
    store.abandon_round(rid2, "judge quit")
    assert store.round_public(rid2)["status"] == "abandoned"
    assert store.open_rounds(sid) == []
    with pytest.raises(StoreError, match="abandoned"):
        _judge(store, rid2)
    store.end_session(sid)
    assert store.unfinished_sessions() == []
    with pytest.raises(StoreError, match="has ended"):
        _round(store, sid, 3)
    with pytest.raises(StoreError, match="no round"):
        store.add_query(999, ["s1"], 0.5, 0.0)


def test_record_debate_round_trip(store: Store) -> None:
    res = _debate()
    rid = store.record_debate(res, world_json=WORLD.read_text())
    (row,) = list(export_rows(store, transcripts=True))
    assert row["judge"] == res.judge and row["session_kind"] == "debate"
    assert row["truth_pz"] == res.truth and row["log10_truth"] == res.log10_truth
    assert row["honest_side"] == res.honest_side and row["claims"] == res.claims
    assert row["estimate"] == res.judgement.estimate
    assert row["credence_a"] == res.judgement.credence_a
    assert row["rules"] == res.rules.model_dump(mode="json")
    assert row["evidence"] == res.evidence
    assert row["baselines"] == res.baselines.model_dump()
    assert row["log10_error"] == res.scores.log10_error
    assert row["trusted_honest"] == res.scores.trusted_honest
    assert [Turn.model_validate(t) for t in row["turns"]] == res.turns
    assert row["queries"] == [q.model_dump() for q in res.judgement.queries]
    assert row["credences"] == [c.model_dump() for c in res.judgement.credences]
    assert store.round_public(rid)["status"] == "answered"
    assert store.unfinished_sessions() == []  # the session it made is ended

    # Into an existing tournament session: per-round debaters and rules win.
    sid = _session(store, "tourney")
    res2 = _debate(liar="pairwise")
    store.record_debate(res2, session_id=sid)
    row2 = next(iter(export_rows(store, session=sid)))
    assert row2["debater_b"] == res2.debater_b and row2["round"] == 1


def _dump(store: Store) -> list[str]:
    with store.reading() as conn:
        return list(conn.iterdump())


def test_an_inner_failure_undoes_only_its_savepoint(store: Store) -> None:
    """Transactions nest: a write method called inside a bigger write is a savepoint; its
    failure undoes its own writes only, and the outer commit keeps the rest."""
    with store.transaction():
        sid = _session(store)
        rid = _round(store, sid)
        store.add_turn(rid, _turn(0))
        with pytest.raises(StoreError, match="already answered"), store.transaction():
            store.add_turn(rid, _turn(1, "b"))
            store.add_query(rid, ["s1"], 0.5, 1.0)
            _judge(store, rid)
            _judge(store, rid)  # a round is answered once: this one fails
        store.add_credence(rid, 0, 0.4, 2.0)
    with sqlite3.connect(store.path) as con:  # what another reader sees: all committed
        assert con.execute("SELECT COUNT(*) FROM sessions").fetchone() == (1,)
        assert con.execute("SELECT idx FROM turns").fetchall() == [(0,)]
        assert con.execute("SELECT COUNT(*) FROM citations").fetchone() == (2,)
        assert con.execute("SELECT COUNT(*) FROM queries").fetchone() == (0,)
        assert con.execute("SELECT COUNT(*) FROM judgements").fetchone() == (0,)
        assert con.execute("SELECT answered_at FROM rounds").fetchone() == (None,)
        assert con.execute("SELECT credence_a FROM credences").fetchall() == [(0.4,)]


def test_an_outer_failure_undoes_everything(store: Store) -> None:
    """A failure of the outer transaction undoes the savepoints that succeeded in it."""
    _session(store, "before")
    before = _dump(store)
    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        sid = _session(store)
        with store.transaction():
            rid = _round(store, sid)
            store.add_turn(rid, _turn(0))
        _judge(store, rid)
        raise RuntimeError("boom")
    assert _dump(store) == before
    with sqlite3.connect(store.path) as con:
        assert con.execute("SELECT name FROM judges").fetchall() == [("before",)]
    # the store is usable afterwards: the next write is a transaction of its own
    _judge(store, _round(store, _session(store)))
    assert len(list(export_rows(store))) == 1


def test_a_database_error_in_a_savepoint_is_a_store_error(store: Store) -> None:
    """An inner block's database error leaves as the one-line StoreError, its own writes
    undone, and the outer transaction may go on."""
    with store.transaction() as db:
        sid = _session(store)
        with pytest.raises(StoreError, match="rejected"), store.transaction():
            _round(store, sid)
            db.conn.execute("INSERT INTO rounds (id, uid) VALUES (1, 'x')")  # NOT NULL fails
        _round(store, sid, number=2)
    with sqlite3.connect(store.path) as con:
        assert con.execute("SELECT number FROM rounds").fetchall() == [(2,)]


def test_reopen_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "pz.db"
    with Store(path) as s:
        rid = _round(s, _session(s))
        _judge(s, rid)
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert len(list(export_rows(s))) == 1
        assert s.db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.db.conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        n = s.db.conn.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0]
        assert n == SCHEMA_VERSION
    assert Store(":memory:").judge_id("x") == 1


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PZJUDGE_DB", str(tmp_path / "env.db"))
    assert Store.default_path() == tmp_path / "env.db"
    with Store() as s:
        assert s.path == tmp_path / "env.db"
    monkeypatch.delenv("PZJUDGE_DB")
    p = Store.default_path()
    assert p.name == "pzjudge.db" and "pzjudge" in str(p.parent)


_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from store.db import Store
from debate.protocol import Turn
s = Store({path!r})
sid = s.start_session("k", kind="game", settings={{}}, rules={{}}, debater_a=None,
                      debater_b=None, seed=None, app_version="t")
rid = s.start_round(sid, number=1, world_json="{{}}", world_seed=1, n_statements=3,
                    truth_pz=0.5, log10_truth=None, honest_side="a", claims=None)
print("round", rid, flush=True)
i = 0
while True:
    s.add_turn(rid, Turn(index=i, speaker="ab"[i % 2], phase="round", round=1,
                         text="t" * 200, started_at=time.time(), seconds=0.1))
    s.add_credence(rid, i, 0.5, time.time())
    print("turn", i, flush=True)
    i += 1
"""


def test_kill_9_loses_no_committed_row(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    code = _CHILD.format(root=str(ROOT), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    last = -1
    rid = None
    for line in proc.stdout:
        word, n = line.split()
        if word == "round":
            rid = int(n)
        else:
            last = int(n)
        if last >= 40:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert rid is not None
    with Store(path) as s:
        (open_round,) = s.open_rounds(1)
        assert open_round["id"] == rid
        assert len(open_round["turns"]) >= last + 1  # every reported commit is there
        assert len(open_round["credences"]) >= last + 1
        assert [u["id"] for u in s.unfinished_sessions("k")] == [1]
        # Resume: the half-finished round takes more turns and its answer, the session
        # goes on with a new round, and that one can be abandoned rather than dropped.
        n = len(open_round["turns"])
        s.add_turn(rid, _turn(n))
        _judge(s, rid)
        assert s.round_public(rid)["status"] == "answered"
        assert len(s.round_public(rid)["turns"]) == n + 1
        rid2 = _round(s, 1, 2)
        s.abandon_round(rid2, "crashed")
        assert s.open_rounds(1) == []
        (row,) = list(export_rows(s, judge="k"))
        assert row["round_uid"] == open_round["uid"]


_WRITER = """
import sys
sys.path.insert(0, {root!r})
from store.db import Store
from debate.scoring import Scores
from debate.baselines import Baselines
s = Store({path!r})
sid = s.start_session({name!r}, kind="game", settings={{}}, rules={{}}, debater_a=None,
                      debater_b=None, seed=None, app_version="t")
sc = Scores(log10_error=1.0, regret_bits=0.1)
b = Baselines(independence=0.1, maxent=None, lower=0.0, upper=1.0)
for i in range({n}):
    rid = s.start_round(sid, number=i + 1, world_json="{{}}", world_seed=i, n_statements=3,
                        truth_pz=0.5, log10_truth=None, honest_side=None, claims=None)
    s.record_judgement(rid, estimate=0.5, interval=None, credence_a=None, seconds=1.0,
                       scores=sc, baselines=b, evidence={{}})
s.close()
"""


@pytest.mark.parametrize("fresh", [False, True], ids=["existing", "fresh-file"])
def test_two_writer_processes(tmp_path: Path, fresh: bool) -> None:
    """Two processes writing at once; with `fresh` both also create and migrate the file."""
    path = tmp_path / "two.db"
    if not fresh:
        Store(path).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER.format(root=str(ROOT), path=str(path), name=n, n=200)]
        )
        for n in ("w1", "w2")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    with Store(path) as s:
        for name in ("w1", "w2"):
            rows = list(export_rows(s, judge=name))
            assert sorted(r["world_seed"] for r in rows) == list(range(200))


def _foreign(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    con.execute("INSERT INTO invoices VALUES (1, 9.5)")
    con.commit()
    con.close()


def _newer_version(path: Path) -> None:
    Store(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()


def _newer_migration(path: Path) -> None:
    Store(path).close()
    con = sqlite3.connect(path)
    con.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('pzjudge', '999_future', 'x')"
    )
    con.commit()
    con.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("hello, I am notes\n"), "not a SQLite database"),
        (lambda p: p.write_bytes(os.urandom(4096)), "not a SQLite database"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + os.urandom(8192)), "damaged|cannot"),
        (_foreign, "not a pzjudge database .*invoices"),
        (_newer_version, "newer pzjudge"),
        (_newer_migration, "newer pzjudge"),
    ],
    ids=["text", "random", "corrupt-sqlite", "foreign", "newer-version", "newer-migration"],
)
def test_bad_database_refused_untouched(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.db"
    make(path)
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    files = sorted(os.listdir(tmp_path))
    with pytest.raises(StoreError, match=message) as info:
        Store(path)
    assert "\n" not in str(info.value)
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == mtime
    assert sorted(os.listdir(tmp_path)) == files


def test_reading_an_up_to_date_database_writes_nothing(tmp_path: Path) -> None:
    """Opening a current database to export or summarise it leaves the file as it was."""
    path = tmp_path / "pz.db"
    with Store(path) as s:
        _judge(s, _round(s, _session(s)))
    snap = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    with Store(path, create=False) as s:
        assert len(to_text(export_rows(s, transcripts=True), "jsonl").splitlines()) == 1
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()} == snap


def test_missing_file_or_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StoreError, match="no pzjudge database"):
        Store(tmp_path / "typo.db", create=False)
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "no" / "dir" / "x.db")
    monkeypatch.setenv("PZJUDGE_DB", str(tmp_path / "nope" / "x.db"))
    with pytest.raises(StoreError, match="does not exist"):
        Store()
    assert list(tmp_path.iterdir()) == []
    # the default data directory is the one folder pzjudge creates itself
    monkeypatch.delenv("PZJUDGE_DB")
    monkeypatch.setattr(Store, "default_path", staticmethod(lambda: tmp_path / "d" / "p.db"))
    Store().close()
    assert (tmp_path / "d" / "p.db").exists()


def test_directory_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)


def test_api_key_never_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-NOT-A-REAL-KEY-5f3a9c"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    path = tmp_path / "keys.db"
    with Store(path) as s:
        sid = s.start_session(
            "alice",
            kind="game",
            settings={
                "llm": {"base_url": "http://127.0.0.1:9/v1", "api_key": secret},
                "note": f"key was {secret}",
                "headers": {"Authorization": f"Bearer {secret}"},
            },
            debater_a="openai:gpt",
            debater_b=f"openai:gpt?key={secret}",
        )
        rid = _round(s, sid)
        _judge(s, rid)
        text = to_text(export_rows(s, transcripts=True), "jsonl")
        text += to_text(export_rows(s), "csv")
        s.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row = next(iter(export_rows(s)))
    assert secret not in text
    assert row["debater_a"] == "openai:gpt"
    assert row["settings"]["llm"]["base_url"] == "http://127.0.0.1:9/v1"
    for f in tmp_path.iterdir():
        assert secret.encode() not in f.read_bytes()


def _rows(store: Store, table: str) -> list[dict[str, Any]]:
    return [dict(r) for r in store.db.table(table).rows]


def test_every_column_round_trips(store: Store) -> None:
    """Each table read back column by column after a UI session: nothing is lost or NULL
    that was given, and times are ordered as they happened."""
    sid = _session(store)
    rid = _round(store, sid)
    turns = [_turn(i, "ab"[i % 2]) for i in range(5)]
    for t in turns:
        store.add_turn(rid, t)
        store.add_credence(rid, t.index, 0.25, 1_700_000_200.0 + t.index)
    store.add_query(rid, ["s2", "s1"], 0.125, 1_700_000_300.0)
    _judge(store, rid)
    rid2 = _round(store, sid, 2)
    store.abandon_round(rid2, "judge quit")
    store.end_session(sid)

    (judge,) = _rows(store, "judges")
    assert judge["name"] == "alice" and isinstance(judge["created_at"], float)
    (sess,) = _rows(store, "sessions")
    assert sess["judge_id"] == judge["id"] and sess["kind"] == "game"
    assert json.loads(sess["settings"]) == {"difficulty": "normal", "n": 12}
    assert json.loads(sess["rules"]) == Rules().model_dump(mode="json")
    assert (sess["debater_a"], sess["debater_b"]) == ("builtin:honest", "builtin:independence")
    assert sess["seed"] == 7 and sess["app_version"] == "0.1.0"
    assert len(sess["uid"]) == 32
    assert sess["started_at"] <= sess["ended_at"]
    r1, r2 = _rows(store, "rounds")
    # both rounds played one world: it is stored once, by its hash (migration 007)
    (w,) = _rows(store, "worlds")
    assert w["world_json"] == WORLD.read_text()
    assert w["sha256"] == hashlib.sha256(WORLD.read_bytes()).hexdigest()
    assert r1["world_id"] == r2["world_id"] == w["id"] and r1["world_json"] is None
    assert r1["world_seed"] == 11
    assert r1["truth_pz"] == 1.25e-4 and r1["log10_truth"] == -3.9030899869919435
    assert r1["honest_side"] == "b" and r1["n_statements"] == 6 and r1["practice"] == 0
    assert json.loads(r1["claims"]) == {"a": 0.01, "b": 1.25e-4}
    assert r1["started_at"] <= r1["answered_at"] and r1["abandoned_at"] is None
    assert r2["answered_at"] is None and r2["abandon_reason"] == "judge quit"
    assert r2["abandoned_at"] is not None
    stored = _rows(store, "turns")
    assert [
        (t["speaker"], t["text"], t["forfeit"], t["started_at"], t["seconds"]) for t in stored
    ] == [(t.speaker, t.text, t.forfeit, t.started_at, t.seconds) for t in turns]
    assert stored[4]["forfeit"] == "timed out" and stored[3]["truncated"] == 1
    cites = _rows(store, "citations")
    assert len(cites) == 10
    prob = next(c for c in cites if c["kind"] == "prob")
    assert json.loads(prob["ids"]) == ["s1", "s2"]
    assert (prob["claimed"], prob["true_value"], prob["verified"]) == (0.3, 0.25, 0)
    assert prob["status"] == "false" and prob["reason"] == "claimed 0.3, true 0.25"
    (q,) = _rows(store, "queries")
    assert (json.loads(q["ids"]), q["p"], q["at"]) == (["s2", "s1"], 0.125, 1_700_000_300.0)
    creds = _rows(store, "credences")
    assert [(c["after_turn"], c["credence_a"]) for c in creds] == [(i, 0.25) for i in range(5)]
    assert [c["at"] for c in creds] == [1_700_000_200.0 + i for i in range(5)]
    (j,) = _rows(store, "judgements")
    assert (j["estimate"], j["interval_lo"], j["interval_hi"]) == (1e-3, 1e-6, 1e-2)
    assert (j["credence_a"], j["seconds"]) == (0.3, 42.5)
    assert (j["log10_error"], j["regret_bits"], j["covered"]) == (1.5, 0.02, 1)
    assert (j["trust_log_score"], j["trusted_honest"]) == (-0.5, 1)
    assert (j["base_independence"], j["base_maxent"]) == (0.2, 0.15)
    assert (j["base_lower"], j["base_upper"]) == (0.0, 0.6)
    assert json.loads(j["evidence"]) == {"s1": 0.5, "s1&s2": 0.25}
    assert j["created_at"] == r1["answered_at"]
    # and the export carries the session's settings, seed and version, the trust pick
    (row,) = list(export_rows(store))
    assert row["settings"] == {"difficulty": "normal", "n": 12} and row["session_seed"] == 7
    assert row["app_version"] == "0.1.0" and row["trust"] == "b"
    assert row["trust_log_score"] == -0.5 and row["covered"] is True


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_nothing_shown_before_the_answer_carries_the_truth(store: Store) -> None:
    """What the UI reads for an open round (resume, public view) holds no truth, no log10
    truth and no honest side, at any depth; they are stored all the same."""
    sid = _session(store)
    rid = store.start_round(
        sid,
        number=1,
        world_json=WORLD.read_text(),
        world_seed=11,
        n_statements=6,
        truth_pz=0.0123456789,
        log10_truth=-1.9085,
        honest_side="a",
        claims={"a": 0.02, "b": 0.5},
    )
    store.add_turn(rid, _turn(0))
    store.add_query(rid, ["s1"], 0.5, 1.0)
    seen = [store.round_public(rid), store.open_rounds(sid), store.unfinished_sessions()]
    keys = _keys(seen)
    assert not {k for k in keys if "truth" in k or "honest" in k or "log10" in k}
    assert "0.0123456789" not in json.dumps(seen) and "-1.9085" not in json.dumps(seen)
    assert store.db.execute("SELECT truth_pz, honest_side FROM rounds").fetchone() == (
        0.0123456789,
        "a",
    )


def test_migration_fills_in_evidence_sources(tmp_path: Path) -> None:
    """A database from before migration 002 gets `evidence_sources` on open, computed from
    its stored citations and queries, equal to what a new database records."""
    from store.migrations import MIGRATIONS_TABLE

    path = tmp_path / "old.db"
    with Store(path) as s:
        world = load_world(ROOT / "examples" / "small.json")
        res = asyncio.run(
            run_debate(world, builtin("honest"), builtin("pairwise"), make_judge("maxent"))
        )
        s.record_debate(res)
    with sqlite3.connect(path) as con:
        (want,) = con.execute("SELECT evidence_sources FROM judgements").fetchone()
        con.execute("ALTER TABLE judgements DROP COLUMN evidence_sources")
        con.execute(f"DELETE FROM [{MIGRATIONS_TABLE}] WHERE name = '002_evidence_sources'")
        con.execute("PRAGMA user_version = 1")
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        with s.reading() as conn:
            (got,) = conn.execute("SELECT evidence_sources FROM judgements").fetchone()
    assert json.loads(got) == json.loads(want) and json.loads(want)


# -- hostile paths and shared databases (issue 10) -----------------------------------------


def test_an_empty_file_is_not_made_a_database_by_readers(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    from tui.cli import main

    for argv in (["export", "--db", str(empty)], ["stats", "--db", str(empty)]):
        assert main(argv) == 2
        assert empty.stat().st_size == 0
    with pytest.raises(StoreError, match="empty file, not a pzjudge database"):
        Store(empty, create=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]
    with Store(empty) as s:  # a writer may still start a database in an empty file
        assert s.schema_version == SCHEMA_VERSION


def test_a_fifo_as_database_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "db.fifo"
    os.mkfifo(fifo)
    r = subprocess.run(
        [sys.executable, "-m", "tui.cli", "stats", "--db", str(fifo)],
        capture_output=True,
        text=True,
        timeout=30,  # it hung forever
    )
    assert r.returncode == 2 and "not a regular file" in r.stderr
    assert r.stderr.count("\n") == 1
    for create in (True, False):
        with pytest.raises(StoreError, match="not a regular file"):
            Store(fifo, create=create)


def test_unfinished_sessions_are_listed_per_judge(tmp_path: Path) -> None:
    with Store(tmp_path / "shared.db") as s:
        ids = {}
        for judge in ("P01", "P02"):
            ids[judge] = s.start_session(
                judge,
                kind="game",
                rules=Rules().model_dump(mode="json"),
                seed=1,
            )
        assert [u["id"] for u in s.unfinished_sessions("P02")] == [ids["P02"]]
        assert [u["judge"] for u in s.unfinished_sessions(" P01 ")] == ["P01"]


def test_every_writer_records_one_spelling_of_the_version(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A UI session and a headless debate record the same app_version, also when pzjudge
    is not installed as a package (once "unknown" and "0+unknown" shared the column)."""
    from importlib import metadata

    from debate.rounds import SessionSettings
    from tui.game_store import GameStore

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    store.start_session("ui", kind="game")
    store.record_debate(_debate())
    game = GameStore(store.path)
    game.start_session(SessionSettings(judge="player"))
    game.close()
    with store.reading() as conn:
        versions = conn.execute("SELECT app_version FROM sessions").fetchall()
    assert versions == [("0+unknown",)] * 3
