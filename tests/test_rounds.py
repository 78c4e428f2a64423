"""One round pipeline: the game, `pzjudge debate` and `pzjudge tournament` deal alike."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from helpers import pz

from debate.rounds import deal_round, preset, world_seed
from latent.generate import generate_world
from tui.game import prepare_round
from tui.game_store import GameStore


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(("name", "session_seed", "number"), [("debate", 7, 2), ("debate", 3, 1)])
def test_a_game_round_and_pzjudge_debate_deal_the_same_round(
    tmp_path: Path, name: str, session_seed: int, number: int
) -> None:
    """The game's round `number` of a session with seed S, and `pzjudge debate --preset
    --seed` given that round's seed: the same world, honest side, debaters and claims."""
    settings = preset(name, seed=session_seed, judge="tester")
    store = GameStore(tmp_path / "game.db")
    sid = store.start_session(settings)
    rnd = prepare_round(settings, number, store, sid)
    store.close()
    seed = world_seed(settings, number)
    assert rnd.seed == seed == session_seed * 1000 + number
    db = tmp_path / "cli.db"
    r = pz("debate", "--preset", name, "--seed", str(seed), "--json", "--db", str(db))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["world_sha256"] == _sha(rnd.world.to_json())
    assert out["world_seed"] == seed
    assert out["honest_side"] == rnd.secret.honest_side
    assert {"a": out["debater_a"], "b": out["debater_b"]} == rnd.secret.specs
    assert out["claims"] == rnd.claims
    assert out["truth"] == rnd.secret.truth
    # and what each stored: the same world file, claims and sides
    q = (
        "SELECT w.world_json, world_seed, honest_side, claims, debater_a, debater_b"
        " FROM rounds r JOIN worlds w ON w.id = r.world_id"
    )
    with sqlite3.connect(tmp_path / "game.db") as g, sqlite3.connect(db) as c:
        (game,) = list(g.execute(q))
        (cli,) = list(c.execute(q))
    assert game[0] == cli[0] and game[1:] == cli[1:]
    assert json.loads(game[3]) == rnd.claims


def test_dealing_is_deterministic_and_the_seed_deals_the_world() -> None:
    """Same settings and seed, same round; without a debate the world is `generate`'s
    world of that seed (a debate's may be a pair draw: see debate/lies.py)."""
    s = preset("debate")
    one, two = deal_round(s, 4001), deal_round(s, 4001)
    assert one.world.to_json() == two.world.to_json()
    assert (one.claims, one.secret) == (two.claims, two.secret)
    solo = deal_round(s.model_copy(update={"debate": False}), 4001)
    plain = generate_world(seed=4001, statements=60, families=3, counterexamples=2, flips=0)
    assert solo.world.to_json() == plain.to_json()
    # the judge's view: sorted by id, with free singletons and their product
    ids = [v.id for v in one.statements]
    assert ids == sorted(ids) and len(ids) == 60
    assert one.independence is not None and one.independence > 0
    assert one.claims is not None and one.secret.honest_side is not None
    assert one.claims[one.secret.honest_side] == one.secret.truth
    assert one.secret.specs[one.secret.honest_side] == "builtin:honest"
    other = deal_round(s, 4002)
    assert other.world.to_json() != one.world.to_json()


def test_a_practice_round_has_no_sides() -> None:
    d = deal_round(preset("practice"), 1001)
    assert d.claims is None and d.secret.honest_side is None and d.secret.specs == {}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--a", "builtin:honest"], "both --a and --b"),
        (["--honest", "builtin:nope"], "unknown built-in debater 'nope'"),
        (["--statements", "2"], "statements"),
        (["--preset", "debate", "--statements", "9"], "need at least 15 statements"),
        (["examples/small.json", "--preset", "hard"], "a world file fixes the world"),
    ],
)
def test_bad_deal_options_are_one_line(args: list[str], needle: str) -> None:
    r = pz("debate", *args, "--no-store")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and needle in r.stderr, r.stderr


def test_a_preset_tournament_plays_the_worlds_the_game_deals(tmp_path: Path) -> None:
    """`tournament --preset debate --seed S`: world i is game round i+1's of seed S."""
    db = tmp_path / "t.db"
    r = pz(
        "tournament", "--preset", "debate", "--seed", "7", "--worlds", "2", "--debaters",
        "builtin:honest,builtin:independence", "--db", str(db), "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    settings = preset("debate", seed=7)
    game = {deal_round(settings, world_seed(settings, n)).world.to_json() for n in (1, 2)}
    with sqlite3.connect(db) as c:
        q = "SELECT w.world_json FROM rounds r JOIN worlds w ON w.id = r.world_id"
        stored = [w for (w,) in c.execute(q)]
        # two debates per world, each world stored once
        assert c.execute("SELECT COUNT(*) FROM worlds").fetchone() == (2,)
    assert len(stored) == 4 and set(stored) == game
    for d in json.loads(r.stdout)["debates"]:
        honest = d["honest_side"]
        assert d[f"debater_{honest}"] == "builtin:honest"
        assert d["claims"][honest] == d["truth"]
