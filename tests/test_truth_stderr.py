"""The dealt truth's standard error reaches every stored round: a headless debate's and a
tournament's, through the recorder-only head event, into the store, the export and back
through an import. 0 means exact, null not known; the number is `world_pz`'s own."""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers import EXAMPLES, run_main

from debate.builtin import builtin
from debate.engine import DebateResult, run_debate
from debate.errors import DebateError
from debate.events import DebateStartedEvent, Event
from debate.rounds import DealtRound, deal_round, preset
from debate.rules import Rules
from debate.specs import make_judge
from debate.tournament import DebateJob, play_debate, tournament_worlds
from latent.pz import world_pz
from latent.world import World, load_world
from store.db import Store
from store.errors import StoreError
from store.export import FIELDS, export_rows, write_export
from store.importing import import_logs
from store.recorder import DebateRecorder

#: small.json's Gaussian blocks are estimated; d4.json is exact (a D4 and a 1-statement block).
ESTIMATED, EXACT = EXAMPLES / "small.json", EXAMPLES / "d4.json"


def _debate(world: World | DealtRound, **kw: Any) -> tuple[DebateStartedEvent, DebateResult]:
    """A short debate (honest vs pairwise on a bare world; a dealt round's own debaters),
    judged by maxent: its head event (the recorder's first) and its result."""
    recorded: list[Event] = []
    a, b = (
        (None, None) if isinstance(world, DealtRound) else (builtin("honest"), builtin("pairwise"))
    )
    res = asyncio.run(
        run_debate(world, a, b, make_judge("maxent"), on_record=recorded.append, **kw)
    )
    head = recorded[0]
    assert isinstance(head, DebateStartedEvent)
    return head, res


@pytest.mark.parametrize("path", [ESTIMATED, EXACT])
def test_a_bare_worlds_head_carries_its_truths_standard_error(path: Path) -> None:
    world = load_world(path)
    want = world_pz(world)
    assert want.exact == (path == EXACT)
    for kw in ({"seed": 2}, {"seed": 2, "claims": {"a": 0.1, "b": 0.01}}):
        head, res = _debate(world, rules=Rules(rounds=1), **kw)
        assert head.log10_truth_stderr == want.log10_pz_stderr
        assert res.log10_truth_stderr == want.log10_pz_stderr
    assert (want.log10_pz_stderr > 0) == (path == ESTIMATED)


def test_a_given_truth_has_the_standard_error_given_with_it_or_none() -> None:
    world = load_world(ESTIMATED)
    head, _ = _debate(world, rules=Rules(rounds=1), seed=2, truth=0.01)
    assert head.truth == 0.01 and head.log10_truth_stderr is None
    head, _ = _debate(world, rules=Rules(rounds=1), seed=2, truth=0.01, truth_stderr=0.003)
    assert head.log10_truth_stderr == 0.003


def test_a_dealt_round_brings_its_own_standard_error() -> None:
    dealt = deal_round(preset("debate", debate=True), 4)
    assert dealt.secret.log10_stderr > 0  # a 60-statement round: estimated
    head, res = _debate(dealt)
    assert head.log10_truth_stderr == dealt.secret.log10_stderr == res.log10_truth_stderr
    with pytest.raises(DebateError, match="brings its own"):
        asyncio.run(run_debate(dealt, judge=make_judge("maxent"), truth_stderr=0.1))


def test_a_ray_task_carries_the_standard_error_of_its_job() -> None:
    world = load_world(ESTIMATED)
    pz = world_pz(world)
    job = DebateJob(
        world=world,
        seed=3,
        truth=pz.pz,
        truth_stderr=pz.log10_pz_stderr,
        spec_a="builtin:honest",
        spec_b="builtin:pairwise",
        spec_j="maxent",
        rules=Rules(rounds=1),
    )
    events, res = play_debate(job)
    assert isinstance(events[0], DebateStartedEvent)
    assert events[0].log10_truth_stderr == pz.log10_pz_stderr == res.log10_truth_stderr


def _stored(db: Path) -> list[float | None]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT log10_truth_stderr FROM rounds ORDER BY id")]


#: A log row from before the field (the least an import takes).
OLD_ROW = {
    "schema_version": 3,
    "uid": "u1",
    "round_uid": "r1",
    "judge": "j",
    "session": "s1",
    "round": 1,
    "n_statements": 3,
    "truth_pz": 0.5,
    "estimate": 0.4,
    "created_at": 4e9,  # after the debates: exports are oldest first
}


def test_a_recorded_debate_keeps_it_through_export_and_import(tmp_path: Path) -> None:
    db, again = tmp_path / "a.db", tmp_path / "b.db"
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps(OLD_ROW) + "\n")
    with Store(db) as store:
        for path in (ESTIMATED, EXACT):
            world = load_world(path)
            # as `pzjudge debate` records: the head opens the round, the result closes it
            rec = DebateRecorder(store, world_json=world.to_json())
            res = asyncio.run(
                run_debate(
                    world,
                    builtin("honest"),
                    builtin("pairwise"),
                    make_judge("maxent"),
                    Rules(rounds=1),
                    seed=5,
                    on_record=rec.on_event,
                )
            )
            rec.on_result(res)
        assert import_logs(store, [old]) == (1, 0)  # not recorded: null, not 0
        rows = list(export_rows(store))
        # as `pzjudge export` writes them (stored JSON spliced in, not the dicts above)
        log, table = tmp_path / "log.jsonl", tmp_path / "log.csv"
        write_export(export_rows(store), "jsonl", log)
        write_export(export_rows(store), "csv", table)
    want = [world_pz(load_world(p)).log10_pz_stderr for p in (ESTIMATED, EXACT)]
    assert want[0] > 0 and want[1] == 0.0
    assert _stored(db) == [*want, None]
    assert [r["log10_truth_stderr"] for r in rows] == [*want, None]
    assert list(rows[0]).index("log10_truth_stderr") == FIELDS.index("log10_truth") + 1
    # CSV: the same column, empty when null
    assert [json.loads(line) for line in log.read_text().splitlines()] == rows
    with table.open(newline="") as f:
        cells = list(csv.DictReader(f))
    assert list(cells[0]) == FIELDS
    assert [c["log10_truth_stderr"] for c in cells] == [repr(want[0]), "0.0", ""]
    with Store(again) as store:
        assert import_logs(store, [log]) == (3, 0)
        back = list(export_rows(store))
    assert _stored(again) == [*want, None]
    assert back == rows


def test_an_import_refuses_a_negative_standard_error(tmp_path: Path) -> None:
    log = tmp_path / "bad.jsonl"
    log.write_text(json.dumps({**OLD_ROW, "log10_truth_stderr": -0.1}) + "\n")
    with Store(tmp_path / "b.db") as store, pytest.raises(StoreError, match="log10_truth_stderr"):
        import_logs(store, [log])


def test_a_tournaments_rounds_keep_their_worlds_standard_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "t.db"
    args = ["tournament", "--worlds", "2", "--seed", "3", "--preset", "debate"]
    args += ["--debaters", "builtin:honest,builtin:pairwise", "--judges", "maxent"]
    rc, _, err = run_main(capsys, *args, "--db", str(db))
    assert rc == 0, err
    worlds = tournament_worlds(2, 3, settings=preset("debate"))
    want = {world_pz(w).log10_pz_stderr for w in worlds}
    assert all(se > 0 for se in want)
    stored = _stored(db)
    assert len(stored) == 4 and set(stored) == want
    with Store(db) as store:
        assert {r["log10_truth_stderr"] for r in export_rows(store)} == want
