"""Exports: documented fields, JSONL/CSV, import without duplicates, statistics."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from debate.baselines import Baselines
from debate.builtin import builtin
from debate.engine import run_debate
from debate.rules import Rules
from debate.scoring import score
from debate.specs import make_judge
from latent.world import load_world
from store.db import Store
from store.errors import StoreError
from store.export import (
    EXPORT_VERSION,
    FIELDS,
    TRANSCRIPT_FIELDS,
    export_rows,
    to_text,
    write_export,
)
from store.importing import import_logs
from store.stats import calibration, format_stats, stats

ROOT = Path(__file__).resolve().parent.parent
WORLD = ROOT / "examples" / "small.json"


def _populate(store: Store) -> None:
    """Three headless debates (two judges, two rule sets) and one hand-made UI round."""
    world = load_world(WORLD)
    text = WORLD.read_text()
    for judge, liar, rules in [
        ("maxent", "independence", Rules()),
        ("maxent", "pairwise", Rules(rounds=1)),
        ("trust-a", "flip-hider", Rules()),
    ]:
        res = asyncio.run(
            run_debate(world, builtin("honest"), builtin(liar), make_judge(judge), rules, seed=5)
        )
        store.record_debate(res, world_json=text)
    sid = store.start_session(
        "human",
        kind="game",
        settings={"difficulty": "hard"},
        rules=Rules().model_dump(mode="json"),
        app_version="0.1.0",
    )
    rid = store.start_round(
        sid,
        number=1,
        world_json=text,
        n_statements=6,
        truth_pz=0.01,
        log10_truth=-2.0,
        practice=True,
    )
    store.add_query(rid, ["s1", "s2"], 0.2, 1.0)
    # An estimate of 0 against a positive truth: infinite regret, exported as null.
    store.record_judgement(
        rid,
        estimate=0.0,
        interval=None,
        credence_a=None,
        seconds=3.0,
        scores=score(0.0, 0.01),
        baselines=Baselines(independence=0.02, maxent=None, lower=0.0, upper=0.5),
        evidence={"s1&s2": 0.2},
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "a.db")
    _populate(s)
    yield s  # type: ignore[misc]
    s.close()


def _documented() -> tuple[list[str], list[str]]:
    """Field names from the two tables of docs/logs.md (base fields, transcript fields)."""
    text = (ROOT / "docs" / "logs.md").read_text(encoding="utf-8")
    base_part, _, transcript_part = text.partition("### Transcript fields")

    def names(part: str) -> list[str]:
        return re.findall(r"^\| `([a-z_0-9.\[\]]+)` \|", part, flags=re.M)

    return names(base_part), names(transcript_part)


def test_documented_fields_are_exactly_the_exported_ones(store: Store) -> None:
    base, extra = _documented()
    top = [n for n in base if "." not in n]
    assert top == FIELDS
    assert [n for n in extra if "[" not in n] == TRANSCRIPT_FIELDS
    for row in export_rows(store):
        assert list(row) == FIELDS
        for dotted in (n for n in base if "." in n):
            parent, child = dotted.split(".")
            assert child in row[parent]
        # and every nested key is documented
        assert {n.split(".")[1] for n in base if n.startswith("baselines.")} == set(
            row["baselines"]
        )
    for row in export_rows(store, transcripts=True):
        assert list(row) == FIELDS + TRANSCRIPT_FIELDS
        assert row["schema_version"] == EXPORT_VERSION


def test_export_import_export_gives_the_same_rows(store: Store, tmp_path: Path) -> None:
    for transcripts in (False, True):
        log = tmp_path / f"log{transcripts}.jsonl"
        n = write_export(export_rows(store, transcripts=transcripts), "jsonl", log)
        assert n == 4
        with Store(tmp_path / f"fresh{transcripts}.db") as fresh:
            assert import_logs(fresh, [log]) == (4, 0)
            again = list(export_rows(fresh, transcripts=transcripts))
            assert import_logs(fresh, [log]) == (0, 4)  # nothing twice
        original = [json.loads(line) for line in log.read_text().splitlines()]
        assert json.loads(json.dumps(again)) == original
    # Into the database it came from: nothing new.
    assert import_logs(store, [tmp_path / "logTrue.jsonl"]) == (0, 4)


def test_fast_and_dict_paths_write_the_same(store: Store) -> None:
    for transcripts in (False, True):
        for fmt in ("jsonl", "csv"):
            fast = to_text(export_rows(store, transcripts=transcripts), fmt)  # type: ignore[arg-type]
            slow = to_text(list(export_rows(store, transcripts=transcripts)), fmt)  # type: ignore[arg-type]
            assert fast == slow


def test_csv_flattens_nested_fields(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "log.csv"
    write_export(export_rows(store), "csv", out)
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == FIELDS
    rows_json = list(export_rows(store))
    for c, j in zip(rows, rows_json, strict=True):
        assert json.loads(c["baselines"]) == j["baselines"]
        assert json.loads(c["evidence"]) == j["evidence"]
        assert json.loads(c["rules"]) == j["rules"]
        assert float(c["estimate"]) == j["estimate"]
        assert c["practice"] in ("true", "false")
    assert rows[-1]["regret_bits"] == "" and rows[-1]["claims"] == ""


def test_infinite_regret_is_null_in_json(store: Store) -> None:
    last = list(export_rows(store))[-1]
    assert last["estimate"] == 0.0 and last["regret_bits"] is None
    assert last["log10_estimate"] == -300.0
    for line in to_text(export_rows(store), "jsonl").splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


def test_filters(store: Store) -> None:
    assert {r["judge"] for r in export_rows(store, judge="human")} == {"human"}
    sid = store.unfinished_sessions("human")[0]["id"]
    assert len(list(export_rows(store, session=sid))) == 1
    assert list(export_rows(store, judge="nobody")) == []


def test_import_refuses_bad_logs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"uid": "x", "round_uid": "y", "schema_version": 1}\nnot json\n')
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps({"uid": "x", "round_uid": "y", "schema_version": 99}) + "\n")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"uid": "x", "round_uid": "y", "schema_version": 1}) + "\n")
    with Store(tmp_path / "db.db") as s:
        with pytest.raises(StoreError, match=r"bad.jsonl:2: not valid JSON"):
            import_logs(s, [bad])
        with pytest.raises(StoreError, match="newer"):
            import_logs(s, [newer])
        with pytest.raises(StoreError, match="malformed row"):
            import_logs(s, [broken])
        with pytest.raises(StoreError, match="cannot read"):
            import_logs(s, [tmp_path / "missing.jsonl"])
        assert list(export_rows(s)) == []


def test_stats_groups_and_baselines(store: Store) -> None:
    rows = [r for r in export_rows(store) if not r["practice"]]
    by_judge = {g["group"]: g for g in stats(store, "judge")}
    assert set(by_judge) == {"sim:maxent", "sim:trust-a"}  # the practice round is left out
    assert "human" in {g["group"] for g in stats(store, "judge", practice=True)}
    m = by_judge["sim:maxent"]
    mine = [r for r in rows if r["judge"] == "sim:maxent"]
    assert m["rounds"] == 2
    assert m["mean_log10_error"] == pytest.approx(sum(r["log10_error"] for r in mine) / 2)
    ind = [abs(math.log10(r["baselines"]["independence"]) - r["log10_truth"]) for r in mine]
    assert m["independence_log10_error"] == pytest.approx(sum(ind) / 2, rel=1e-9, abs=1e-9)
    assert m["trusted_honest_rate"] == pytest.approx(sum(r["trusted_honest"] for r in mine) / 2)
    by_rules = {g["group"] for g in stats(store, "rules")}
    assert by_rules == {"default", "rounds=1"}
    by_debaters = {g["group"] for g in stats(store, "debaters")}
    assert by_debaters == {
        f"builtin:honest vs builtin:{liar}" for liar in ("independence", "pairwise", "flip-hider")
    }
    table = format_stats(stats(store, "judge"), "judge")
    assert table.splitlines()[0].startswith("judge") and "sim:maxent" in table
    with pytest.raises(StoreError, match="unknown grouping"):
        stats(store, "colour")  # type: ignore[arg-type]


def test_calibration_and_ece() -> None:
    ece, bins = calibration([0.9] * 10 + [0.1] * 10, [True] * 9 + [False] + [False] * 10)
    assert ece == pytest.approx(0.5 * 0.0 + 0.5 * 0.1)
    assert [b["n"] for b in bins] == [10, 10]
    assert calibration([], []) == (None, [])


def test_empty_exports(tmp_path: Path) -> None:
    with Store(tmp_path / "e.db") as s:
        assert to_text(export_rows(s), "jsonl") == ""
        assert to_text(export_rows(s), "csv").strip() == ",".join(FIELDS)
        assert "no judgements" in format_stats(stats(s))
        with pytest.raises(StoreError, match="unknown export format"):
            write_export([], "xml", io.StringIO())  # type: ignore[arg-type]


def _answer(store: Store, judge: str, credence_a: float, honest: str, truth: float) -> None:
    """One UI-style round of `judge` with a final credence in A and a known honest side."""
    sid = store.start_session(
        judge,
        kind="game",
        rules=Rules().model_dump(mode="json"),
        debater_a="builtin:honest",
        debater_b="builtin:pairwise",
    )
    rid = store.start_round(
        sid,
        number=1,
        world_json="{}",
        n_statements=3,
        truth_pz=truth,
        log10_truth=math.log10(truth) if truth >= 1e-300 else -320.0,
        honest_side=honest,
    )
    store.record_judgement(
        rid,
        estimate=1e-3,
        interval=None,
        credence_a=credence_a,
        seconds=1.0,
        scores=score(1e-3, truth, credence_a=credence_a, honest=honest),
        baselines=Baselines(independence=1e-2, maxent=1e-4, lower=0.0, upper=0.5),
        evidence={},
    )


def test_stats_calibration_matches_a_hand_computation(tmp_path: Path) -> None:
    """ECE by hand: bins [0.1,0.2) {0.15 B, 0.15 A}, [0.6,0.7) {0.62 A, 0.68 A, 0.68 B},
    [0.9,1) {0.95 A}: (2·|0.15−1/2| + 3·|0.66−2/3| + 1·|0.95−1|) / 6 = 0.77 / 6."""
    rounds = [(0.15, "b"), (0.15, "a"), (0.62, "a"), (0.68, "a"), (0.68, "b"), (0.95, "a")]
    with Store(tmp_path / "cal.db") as s:
        for c, honest in rounds:
            _answer(s, "cal", c, honest, 1e-3)
        (g,) = stats(s, "judge")
        text = format_stats([g], "judge")
    assert g["rounds"] == 6 and g["trust_rounds"] == 6
    assert g["trust_ece"] == pytest.approx(0.77 / 6, abs=1e-12)
    got = [(b["lo"], b["hi"], b["n"], b["forecast"], b["freq"]) for b in g["reliability"]]
    want = [(0.1, 0.2, 2, 0.15, 0.5), (0.6, 0.7, 3, 0.66, 2 / 3), (0.9, 1.0, 1, 0.95, 1.0)]
    assert got == [pytest.approx(w, abs=1e-12) for w in want]
    # trusted the honest side: 0.15/B yes, 0.15/A no, 0.62 yes, 0.68/A yes, 0.68/B no, 0.95 yes
    assert g["trusted_honest_rate"] == pytest.approx(4 / 6)
    # the estimate 1e-3 is exact: it beats independence (1e-2) and max-ent (1e-4) every time
    assert g["beats_independence_rate"] == 1.0 and g["beats_maxent_rate"] == 1.0
    assert g["independence_log10_error"] == pytest.approx(1.0)
    assert "ECE 0.128" in text and "[0.6,0.7) 3: 0.66→0.67" in text  # bins on the terminal


def test_stats_survive_rows_without_baselines_and_underflowing_truth(tmp_path: Path) -> None:
    """Imported logs may lack baselines; a truth below 1e-300 uses log10_truth."""
    row = {
        "schema_version": 1,
        "uid": "u1",
        "round_uid": "r1",
        "judge": "j",
        "session": "s1",
        "round": 1,
        "n_statements": 3,
        "truth_pz": 0.0,
        "log10_truth": -320.0,
        "estimate": 1e-5,
        "created_at": 1.0,
    }
    log = tmp_path / "min.jsonl"
    log.write_text(json.dumps(row) + "\n")
    with Store(tmp_path / "m.db") as s:
        assert import_logs(s, [log]) == (1, 0)
        _answer(s, "deep", 0.5, "a", 1e-320)
        by = {g["group"]: g for g in stats(s, "judge")}
        assert by["j"]["independence_log10_error"] is None
        # independence 1e-2 against a truth of 1e-320: 318 orders, not the -300 floor's 298
        assert by["deep"]["independence_log10_error"] == pytest.approx(318.0)
        assert format_stats(list(by.values()))


def test_stats_json_is_strict_json(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """The practice round's infinite regret is null in `pzjudge stats --json`, not Infinity."""
    from tui.cli import main

    assert main(["stats", "--db", str(store.path), "--practice", "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    human = next(g for g in out if g["group"] == "human")
    assert human["mean_regret_bits"] is None and human["rounds"] == 1


#: The fields issue 4 asks every exported row to have, at least.
ISSUE_FIELDS = [
    "judge",
    "session",
    "round",
    "world_seed",
    "n_statements",
    "rules",
    "debater_a",
    "debater_b",
    "honest_side",
    "estimate",
    "interval",
    "trust",
    "truth_pz",
    "log10_error",
    "regret_bits",
    "evidence",
    "baselines",
    "seconds",
    "created_at",
    "schema_version",
]


def test_the_fields_the_issue_asks_for(store: Store) -> None:
    assert set(ISSUE_FIELDS) <= set(FIELDS)
    base, _ = _documented()
    assert set(ISSUE_FIELDS) <= set(base)
    rows = list(export_rows(store))
    debated = rows[0]
    assert debated["trust"] in ("a", "b") and len(debated["interval"]) == 2
    # the baselines as exported, against what the exported evidence implies by hand: the
    # product of the single probabilities, and P(Z) at most that of any set it lies in
    ev, bl = debated["evidence"], debated["baselines"]
    singles = [p for k, p in ev.items() if "&" not in k]
    assert len(singles) == debated["n_statements"] and len(ev) > len(singles)
    assert bl["independence"] == pytest.approx(math.prod(singles), rel=1e-12)
    assert bl["upper"] <= min(ev.values()) * (1 + 1e-12)
    assert bl["lower"] <= debated["truth_pz"] <= bl["upper"]


def _sources_from_transcript(row: dict[str, object]) -> dict[str, list[str]]:
    """Who brought each evidence key, read off the row's own turns and queries."""
    out: dict[str, set[str]] = {}
    for turn in row["turns"]:  # type: ignore[attr-defined]
        for c in turn["citations"]:
            if c["kind"] == "prob" and c["true_value"] is not None:
                out.setdefault("&".join(sorted(c["ids"])), set()).add(turn["speaker"])
    for q in row["queries"]:  # type: ignore[attr-defined]
        out.setdefault("&".join(sorted(q["ids"])), set()).add("judge")
    return {k: sorted(v) for k, v in out.items() if k in row["evidence"]}  # type: ignore[operator]


def test_evidence_sources_say_who_brought_each_probability(store: Store, tmp_path: Path) -> None:
    rows = list(export_rows(store, transcripts=True))
    seen: set[str] = set()
    for row in rows:
        src = row["evidence_sources"]
        assert src == _sources_from_transcript(row)
        assert set(src) <= set(row["evidence"])
        # what nobody brought was given with the statements: single probabilities only
        assert all("&" not in k for k in set(row["evidence"]) - set(src))
        seen |= {who for whos in src.values() for who in whos}
    assert seen == {"a", "b", "judge"}  # the fixture has citations by both and a query
    # A log from before the field: import fills it in from the turns and queries it carries.
    log = tmp_path / "old.jsonl"
    lines = [json.dumps({k: v for k, v in r.items() if k != "evidence_sources"}) for r in rows]
    log.write_text("\n".join(lines) + "\n")
    with Store(tmp_path / "fresh.db") as fresh:
        assert import_logs(fresh, [log]) == (4, 0)
        again = list(export_rows(fresh))
    assert [r["evidence_sources"] for r in again] == [r["evidence_sources"] for r in rows]
    # Without the field and without transcripts nothing tells: unknown (null), not "given".
    bare = tmp_path / "bare.jsonl"
    keep = set(FIELDS) - {"evidence_sources"}
    bare.write_text("\n".join(json.dumps({k: r[k] for k in keep}) for r in rows) + "\n")
    with Store(tmp_path / "bare.db") as fresh:
        assert import_logs(fresh, [bare]) == (4, 0)
        unknown = [r["evidence_sources"] for r in export_rows(fresh)]
    assert unknown == [None] * 4  # every fixture round has joint probabilities in evidence
    # A malformed value is refused in one line.
    odd = tmp_path / "odd.jsonl"
    odd.write_text(json.dumps({**rows[0], "evidence_sources": {"s1&s2": "judge"}}) + "\n")
    with Store(tmp_path / "odd.db") as fresh, pytest.raises(StoreError, match="evidence_sources"):
        import_logs(fresh, [odd])


# -- hostile logs (issue 10) ---------------------------------------------------------------


def _good_line(store: Store) -> dict[str, object]:
    return json.loads(to_text(export_rows(store, transcripts=True), "jsonl").splitlines()[0])


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("judge", "123", "field judge: Input should be a valid string"),
        ("round", str(10**30), "field round: Input should be less than or equal to"),
        ("settings", DEEP, "nest too deeply"),
        ("settings", "[" * 40 + "]" * 40, "field settings: Input should be a valid dictionary"),
        ("rules", '{"a": ' + "[" * 40 + "]" * 40 + "}", "field rules: nests deeper than 32"),
        ("estimate", "1e400", "field estimate: Input should be a finite number"),
        ("estimate", "-5", "field estimate: Input should be greater than or equal to 0"),
        ("credence_a", "7.5", "field credence_a: Input should be less than or equal to 1"),
        ("honest_side", '"c"', "field honest_side: Input should be 'a' or 'b'"),
        ("practice", '"false"', "field practice: Input should be a valid boolean"),
        ("regret_bits", '"lots"', "field regret_bits: Input should be a valid number"),
        ("truth_pz", "NaN", "field truth_pz: Input should be a finite number"),
        ("interval", "[0.1]", "field interval: List should have at least 2 items"),
        ("turns", '[{"speaker": "a"}]', "field turns.0.index: is required"),
    ],
)
def test_import_refuses_a_row_off_the_schema_and_writes_nothing(
    store: Store, tmp_path: Path, field: str, value: str, needle: str
) -> None:
    good = _good_line(store)
    bad = {**good, "uid": "f" * 32, "round_uid": "e" * 32, field: "@@"}
    log = tmp_path / "hostile.jsonl"
    log.write_text(json.dumps(good) + "\n" + json.dumps(bad).replace('"@@"', value, 1) + "\n")
    clean = tmp_path / "clean.jsonl"
    clean.write_text(json.dumps(good) + "\n")
    with Store(tmp_path / "fresh.db") as fresh:
        with pytest.raises(StoreError) as info:
            import_logs(fresh, [clean, log])  # the good file first: not imported either
        assert list(export_rows(fresh)) == []
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg
    assert msg.startswith(f"{log}:2: malformed row") and "nothing was imported" in msg
    assert needle in msg, msg


def test_imported_texts_are_cleaned(store: Store, tmp_path: Path) -> None:
    good = _good_line(store)
    turns = [{**good["turns"][0], "text": "hi\x1b]0;pwned\x07 there\x1b[2J"}]  # type: ignore[index]
    row = {**good, "judge": "P0\x1b[31m1", "turns": turns}
    log = tmp_path / "esc.jsonl"
    log.write_text(json.dumps(row) + "\n")
    with Store(tmp_path / "fresh.db") as fresh:
        assert import_logs(fresh, [log]) == (1, 0)
        (back,) = list(export_rows(fresh, transcripts=True))
    assert back["judge"] == "P01" and back["turns"][0]["text"] == "hi there"


def test_export_never_writes_non_finite_numbers(store: Store) -> None:
    """A database holding non-finite or non-numeric values (written by an import before
    rows were checked): export, stats and the dict path all stay strict JSON."""
    conn = store.db.conn
    conn.execute("UPDATE judgements SET estimate = ?, regret_bits = 'lots'", [math.inf])
    conn.execute('UPDATE judgements SET evidence = \'{"s1": Infinity, "s2": NaN}\'')
    conn.execute(
        'UPDATE rounds SET truth_pz = ?, claims = \'{"a": -Infinity, "b": 0.5}\'', [-math.inf]
    )
    conn.commit()
    for transcripts in (False, True):
        for rows in (
            export_rows(store, transcripts=transcripts),
            list(export_rows(store, transcripts=transcripts)),
        ):
            text = to_text(rows, "jsonl")
            for line in text.splitlines():
                row = json.loads(line, parse_constant=lambda c: pytest.fail(f"constant {c}"))
                assert row["estimate"] is None and row["regret_bits"] is None
                assert row["evidence"] == {"s1": None, "s2": None}
        csv_text = to_text(export_rows(store), "csv")
        assert "inf" not in csv_text.lower().replace("independence", "") and "nan" not in csv_text
    assert stats(store, "judge")


def test_failed_export_leaves_an_existing_file_as_it_was(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "log.jsonl"
    out.write_text("precious\n")
    out.chmod(0o640)

    def rows() -> object:
        yield from export_rows(store)
        raise StoreError("the database broke half-way")

    with pytest.raises(StoreError, match="half-way"):
        write_export(rows(), "jsonl", out)  # type: ignore[arg-type]
    assert out.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.db",
        "a.db-shm",
        "a.db-wal",
        "log.jsonl",
    ]
    assert write_export(export_rows(store), "jsonl", out) == 4
    assert len(out.read_text().splitlines()) == 4 and out.stat().st_mode & 0o777 == 0o640


def test_import_into_a_damaged_database_writes_nothing(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    write_export(export_rows(store), "jsonl", log)
    db = tmp_path / "damaged.db"
    with Store(db) as s:
        s.judge_id("someone")
    # An index that no longer matches its table: readable, but integrity_check fails.
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(
        "UPDATE sqlite_master SET sql = ? WHERE name = 'idx_judges_name'",
        ['CREATE UNIQUE INDEX "idx_judges_name" ON "judges" ("created_at")'],
    )
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with Store(db) as s:
        with pytest.raises(StoreError, match="damaged") as info:
            import_logs(s, [log])
        assert "nothing was written" in str(info.value)
        assert s.db.conn.execute("SELECT COUNT(*) FROM judgements").fetchone()[0] == 0
    assert db.read_bytes() == before


def test_an_error_half_way_through_an_import_leaves_the_database_as_before(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third row's judgement fails to be written (after its session, round, turns and
    queries went in, and after two whole rows): the whole import is undone."""
    log = tmp_path / "log.jsonl"
    write_export(export_rows(store, transcripts=True), "jsonl", log)
    with Store(tmp_path / "fresh.db") as fresh:
        fresh.judge_id("already here")
        with fresh.reading() as conn:
            before = list(conn.iterdump())
        calls = []
        real = Store.record_judgement

        def failing(self: Store, *args: Any, **kw: Any) -> int:
            calls.append(1)
            if len(calls) == 3:
                raise sqlite3.OperationalError("disk I/O error")
            return real(self, *args, **kw)

        monkeypatch.setattr(Store, "record_judgement", failing)
        with pytest.raises(StoreError, match="disk I/O error") as info:
            import_logs(fresh, [log])
        assert "\n" not in str(info.value)
        assert len(calls) == 3
        with fresh.reading() as conn:
            assert list(conn.iterdump()) == before
        monkeypatch.setattr(Store, "record_judgement", real)
        assert import_logs(fresh, [log]) == (4, 0)  # the same log, once the disk is back
