"""`pzjudge stats`' text table, its grouping edges, and the export's file mode: what a
mutation run of store/stats.py and store/export.py found no test reading (docs/testing.md).

The expected tables are written out by hand from the rows given (each cell's rounding is
worked in a comment), not printed by the code and pasted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from debate.rules import Rules
from store import export as export_mod
from store.db import Store
from store.export import export_rows
from store.stats import _keys, _rules_label, format_stats, left_out, stats


def _row(group: str, **values: Any) -> dict[str, Any]:
    """A `stats` row with every column the table reads, None unless given."""
    row: dict[str, Any] = dict.fromkeys(
        [
            "mean_log10_error",
            "mean_log10_error_ci",
            "median_log10_error",
            "mean_regret_bits",
            "trusted_honest_rate",
            "trusted_honest_rate_ci",
            "trust_ece",
            "independence_log10_error",
            "maxent_log10_error",
            "beats_independence_rate",
            "beats_maxent_rate",
        ]
    )
    row.update(group=group, rounds=0, reliability=[])
    row.update(values)
    return row


ALICE = _row(
    "alice",
    rounds=3,
    mean_log10_error=0.5,  # 0.50 [0.25, 0.75]
    mean_log10_error_ci=[0.25, 0.75],
    median_log10_error=0.4,  # 0.40
    mean_regret_bits=1.2345,  # 3 significant digits: 1.23
    trusted_honest_rate=0.5,  # 50% [10%, 90%]
    trusted_honest_rate_ci=[0.1, 0.9],
    trust_ece=0.0123,  # 0.012
    independence_log10_error=1.0,  # 1.00
    beats_independence_rate=2 / 3,  # 67%
    reliability=[
        {"lo": 0.0, "hi": 0.1, "n": 1, "forecast": 0.05, "freq": 0.0},
        {"lo": 0.9, "hi": 1.0, "n": 2, "forecast": 0.95, "freq": 1.0},
    ],
)
BOB = _row(
    "bob",
    rounds=12,
    mean_log10_error=2.0,  # no interval: 2.00 alone
    trusted_honest_rate=0.25,  # 25%, no interval
    maxent_log10_error=0.333,  # 0.33
    beats_maxent_rate=0.25,  # 25%
)


def test_the_stats_table_reads_as_written_by_hand() -> None:
    """Columns: the first left-aligned, the rest right-aligned to the widest cell (header
    included), two spaces apart, trailing blanks cut; '-' for a missing value; the
    reliability bins of each group with trust bins after a blank line."""
    expected = [
        "judge  rounds  err mean [95% CI]  err med  regret  trusted [95% CI]    ECE"
        "  indep err  maxent err  beats indep  beats maxent",
        "alice       3  0.50 [0.25, 0.75]     0.40    1.23    50% [10%, 90%]  0.012"
        "       1.00           -          67%             -",
        "bob        12               2.00        -       -               25%      -"
        "          -        0.33            -           25%",
        "",
        "reliability of the credence that A is honest (bin: n, said → was):",
        "  alice  ECE 0.012  [0.0,0.1) 1: 0.05→0.00  [0.9,1.0) 2: 0.95→1.00",
    ]
    assert format_stats([ALICE, BOB], "judge").split("\n") == expected


def test_an_empty_stats_table_says_so() -> None:
    assert format_stats([], "rules").split("\n") == [
        "rules  rounds  err mean [95% CI]  err med  regret  trusted [95% CI]  ECE  indep err"
        "  maxent err  beats indep  beats maxent",
        "(no judgements yet)",
    ]


def test_the_debater_table_adds_the_ratings_and_says_what_they_mean() -> None:
    """`--by debater` rows carry Bradley–Terry ratings: value [low, high] with signs, a
    rounding of -1e-17 read as +0.00; the table ends with what a rating means."""
    row = _row(
        "builtin:honest",
        rounds=1,
        honest_rating={"value": 0.123, "low": -1e-17, "high": 0.5},  # +0.12 [+0.00, +0.50]
        liar_rating=None,
    )
    lines = format_stats([row], "debater").split("\n")
    assert lines[0].endswith("  rating as honest [95% CI]  rating as liar [95% CI]")
    assert lines[1].endswith("       +0.12 [+0.00, +0.50]                        -")
    assert lines[2:] == [
        "",
        "rating: Bradley-Terry log-odds; rating as honest of X minus rating as liar of Y "
        "is the log-odds the judge trusts X over Y",
    ]


def test_a_rule_set_is_named_by_what_differs_from_the_defaults() -> None:
    defaults = Rules().model_dump(mode="json")
    assert _rules_label(None) == "(unknown)" and _rules_label({}) == "(unknown)"
    assert _rules_label(defaults) == "default"
    key = sorted(defaults)[0]
    assert _rules_label({**defaults, key: "other"}) == f"{key}=other"
    # a setting this version does not know is named, even when it is None
    assert _rules_label({**defaults, "from_a_newer_version": None}) == "from_a_newer_version=None"


def _store_two_rounds(path: Path) -> Store:
    from debate.baselines import Baselines
    from debate.scoring import score

    store = Store(path)
    for k in range(2):
        sid = store.start_session("judge-x", kind="game", rules=None, seed=k)
        rid = store.start_round(
            sid,
            number=1,
            world_json="{}",
            world_seed=k,
            n_statements=4,
            truth_pz=0.01,
            log10_truth=-2.0,
        )
        store.record_judgement(
            rid,
            estimate=0.02,
            interval=None,
            credence_a=None,
            seconds=1.0,
            scores=score(0.02, 0.01),
            baselines=Baselines(independence=0.01, maxent=None, lower=0.0, upper=1.0),
            evidence={},
        )
    return store


def test_a_round_without_a_kind_is_a_pz_round_and_a_failed_judge_is_not_scored(
    tmp_path: Path,
) -> None:
    """Rounds stored before round kinds existed have none: they count as P(Z) rounds. A
    round whose judge failed (no answer; a stand-in estimate) is left out of every figure."""
    with _store_two_rounds(tmp_path / "s.db") as s:
        rows = list(export_rows(s))
    assert len(rows) == 2
    rows = [{**r, "kind": None} for r in rows]
    assert _keys(rows[0], "kind") == ["pz"] and _keys(rows[0], "judge") == ["judge-x"]
    assert [(g["group"], g["rounds"]) for g in stats(rows, "kind")] == [("pz", 2)]
    rows[1]["judge_failed"] = True
    assert [(g["group"], g["rounds"]) for g in stats(rows, "judge")] == [("judge-x", 1)]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_the_export_reads_the_process_umask_without_changing_it() -> None:
    """An export is written to a temporary file and renamed; its mode follows the umask,
    which `_umask` reads from /proc (0o022 is only the fallback)."""
    old = os.umask(0o027)
    try:
        assert export_mod._umask() == 0o027
        assert os.umask(0o027) == 0o027  # unchanged by the read
    finally:
        os.umask(old)


def test_the_dict_path_counts_the_rows_it_writes(tmp_path: Path) -> None:
    """Rows given as dicts (a list, or a study's rows) take the slow path: it still returns
    how many rows it wrote (the count `pzjudge export` reports), 0 with a header alone."""
    import csv
    import io

    with _store_two_rounds(tmp_path / "s.db") as s:
        rows = list(export_rows(s))
    for fmt in ("csv", "jsonl"):
        out = io.StringIO()
        assert export_mod.write_export(rows, fmt, out) == 2
        assert len(out.getvalue().splitlines()) == 2 + (fmt == "csv")
    out = io.StringIO()
    assert export_mod.write_export([], "csv", out) == 0
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [export_mod.FIELDS]


def test_the_fast_export_splices_a_rounds_own_fields(tmp_path: Path) -> None:
    """A round's own rules override its session's; its world comes with the transcripts; a
    failed judge reads `true` in CSV; a missing sources map is JSON null: every line of
    the fast path is valid JSON and says what was stored."""
    import csv
    import io
    import json
    import sqlite3

    from debate.baselines import Baselines
    from debate.scoring import score

    own = {**Rules().model_dump(mode="json"), "judge_order": 1}
    world = '{"blocks":[]}'
    with Store(tmp_path / "s.db") as s:
        sid = s.start_session("judge-x", kind="game", rules=Rules().model_dump(mode="json"))
        rid = s.start_round(
            sid, number=1, world_json=world, n_statements=4, truth_pz=0.01, log10_truth=-2.0,
            rules=own,
        )  # fmt: skip
        s.record_judgement(
            rid, estimate=0.02, interval=None, credence_a=None, seconds=1.0,
            scores=score(0.02, 0.01), evidence={},
            baselines=Baselines(independence=0.01, maxent=None, lower=0.0, upper=1.0),
            judge_error="no answer",
        )  # fmt: skip
        out = io.StringIO()
        assert export_mod.write_export(export_rows(s, transcripts=True), "jsonl", out) == 1
        (row,) = [json.loads(line) for line in out.getvalue().splitlines()]
        fast_csv = io.StringIO()
        assert export_mod.write_export(export_rows(s), "csv", fast_csv) == 1
    assert row["rules"] == own and row["world"] == json.loads(world)  # an object (schema 3)
    assert row["judge_failed"] is True
    header, cells = list(csv.reader(io.StringIO(fast_csv.getvalue())))
    assert dict(zip(header, cells, strict=True))["judge_failed"] == "true"
    # a database migrated from before evidence sources (002) may hold NULL for them
    with sqlite3.connect(tmp_path / "s.db") as conn:
        conn.execute("UPDATE judgements SET evidence = NULL, evidence_sources = NULL")
    conn.close()
    with Store(tmp_path / "s.db") as s:
        out = io.StringIO()
        assert export_mod.write_export(export_rows(s), "jsonl", out) == 1
    (row,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert row["evidence"] is None and row["evidence_sources"] is None


def test_other_measurements_are_grouped_apart_by_judge_and_by_debater(tmp_path: Path) -> None:
    """Rounds of another kind than P(Z) (a mimic's) are never pooled: by judge they are
    'judge [kind]', by anything else '[kind]'; by debater they are in no group (a mimic
    round has no debaters) and `left_out` counts them. A tie with a baseline is not a win
    over it."""
    with _store_two_rounds(tmp_path / "s.db") as s:
        rows = list(export_rows(s))
    mimic = {**rows[0], "kind": "mimic", "debater_a": "x", "debater_b": "y", "honest_side": "a"}
    assert _keys(mimic, "judge") == ["judge-x [mimic]"] and _keys(mimic, "rules") == ["[mimic]"]
    assert stats([mimic], "debater") == []
    assert left_out([mimic, rows[0]], "debater") == {"mimic": 1}
    assert left_out([mimic], "judge") == {}
    # truth 10^-2, max-ent 10^-1 and independence 10^-3: both one order away, as the judge
    tie = {**rows[0], "log10_truth": -2.0, "log10_error": 1.0}
    tie["baselines"] = {**tie["baselines"], "maxent": 0.1, "independence": 0.001}
    (g,) = stats([tie], "judge")
    assert g["beats_maxent_rate"] == 0.0 and g["beats_independence_rate"] == 0.0


def test_credentials_stored_by_an_old_version_never_reach_an_export(tmp_path: Path) -> None:
    """Settings written before the store removed credentials are redacted on the way out
    (a key named like one, a URL's password); settings with nothing to remove are exported
    as the very text stored."""
    import io
    import json
    import sqlite3

    with _store_two_rounds(tmp_path / "s.db"):
        pass
    raw = '{"api_key": "sk-secret-123", "base_url": "http://user:hunter2@127.0.0.1:9/v1"}'
    plain = '{"judge_order":  2}'  # odd spacing: kept byte for byte
    with sqlite3.connect(tmp_path / "s.db") as conn:
        conn.execute("UPDATE sessions SET settings = ? WHERE id = 1", [raw])
        conn.execute("UPDATE sessions SET settings = ? WHERE id = 2", [plain])
    conn.close()
    with Store(tmp_path / "s.db") as s:
        out = io.StringIO()
        export_mod.write_export(export_rows(s), "jsonl", out)
        rows = list(export_rows(s))
    text = out.getvalue()
    assert "sk-secret-123" not in text and "hunter2" not in text
    first = json.loads(text.splitlines()[0])["settings"]
    assert set(first) == {"api_key", "base_url"} and first["api_key"] != "sk-secret-123"
    assert "127.0.0.1" in first["base_url"]
    assert export_mod._redacted(plain) == plain
    assert "sk-secret-123" not in json.dumps(rows[0]["settings"])


def test_a_session_is_chosen_by_id_or_by_a_uid_of_32_digits(tmp_path: Path) -> None:
    """Numeric ids are short; a session uid is 32 characters and may be all digits."""
    import sqlite3

    with _store_two_rounds(tmp_path / "s.db"):
        pass
    uid = "1" * 32
    with sqlite3.connect(tmp_path / "s.db") as conn:
        conn.execute("UPDATE sessions SET uid = ? WHERE id = 2", [uid])
    conn.close()
    with Store(tmp_path / "s.db") as s:
        assert [r["session"] for r in export_rows(s, session=uid)] == [uid]
        assert len(list(export_rows(s, session=1))) == 1
        assert len(list(export_rows(s, session="2"))) == 1
