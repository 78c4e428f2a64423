"""Ratings: Bradley–Terry strengths against closed forms and simulated known strengths;
judge figures against direct counts."""

from __future__ import annotations

import math

import numpy as np

from debate.ratings import Game, bradley_terry, rate
from debate.scoring import trust_points, trust_verdict


def test_two_players_bt_is_log_odds_of_their_record() -> None:
    # the MLE for two players: the difference of strengths is log(wins / losses)
    wins = [(0, 1)] * 7 + [(1, 0)] * 3
    s = bradley_terry(2, wins, alpha=1e-9)
    assert math.isclose(s[0] - s[1], math.log(7 / 3), abs_tol=1e-3)
    assert math.isclose(s.sum(), 0.0, abs_tol=1e-9)


def test_three_players_match_the_likelihood_equations() -> None:
    # at the MLE each player's expected wins equal its actual wins (BT's score equations)
    wins = [(0, 1)] * 6 + [(1, 0)] * 2 + [(1, 2)] * 5 + [(2, 1)] * 3 + [(0, 2)] * 4 + [(2, 0)]
    s = bradley_terry(3, wins, alpha=1e-9)
    for i in range(3):
        actual = sum(w == i for w, _ in wins)
        expected = sum(
            1 / (1 + math.exp(s[(b if a == i else a)] - s[i])) for a, b in wins if i in (a, b)
        )
        assert math.isclose(actual, expected, abs_tol=1e-3)


def _game(honest: str, liar: str, trusted: bool | None, judge: str = "j", err: float = 0.0) -> Game:
    return Game(honest=honest, liar=liar, judge=judge, honest_trusted=trusted, log10_error=err)


def test_two_debaters_roles_follow_their_own_records() -> None:
    # A honest beat B lying 8 of 10 times; B honest beat A lying 1 of 4 times; the two
    # role-pairs never meet, so each pair is centred on zero by the prior: +-log(w/l)/2
    games = [_game("A", "B", True)] * 8 + [_game("A", "B", False)] * 2
    games += [_game("B", "A", True)] + [_game("B", "A", False)] * 3
    games += [_game("B", "A", None)]  # credence exactly 0.5: trusted nobody, left out
    r = {d.name: d for d in rate(games, alpha=1e-9, resamples=50).debaters}
    assert r["A"].honest and r["A"].liar and r["B"].honest and r["B"].liar
    assert math.isclose(r["A"].honest.value, math.log(8 / 2) / 2, abs_tol=1e-3)
    assert math.isclose(r["B"].liar.value, -math.log(8 / 2) / 2, abs_tol=1e-3)
    assert math.isclose(r["B"].honest.value, math.log(1 / 3) / 2, abs_tol=1e-3)
    assert math.isclose(r["A"].liar.value, -math.log(1 / 3) / 2, abs_tol=1e-3)
    assert (r["A"].as_honest, r["A"].won_as_honest) == (10, 8)
    assert (r["A"].as_liar, r["A"].fooled_as_liar) == (5, 3)
    for d in r.values():
        for e in (d.honest, d.liar):
            assert e is not None and e.low <= e.value <= e.high


def test_known_strengths_are_recovered_from_simulated_debates() -> None:
    rng = np.random.default_rng(3)
    honest = {"a": 1.5, "b": 0.5, "c": -0.5, "d": -1.5}
    liar = {"a": -1.0, "b": 1.0, "c": 0.0, "d": 2.0}
    names = list(honest)
    games = []
    for _ in range(80):
        for h in names:
            for li in names:
                if h != li:
                    p = 1 / (1 + math.exp(liar[li] - honest[h]))
                    games.append(_game(h, li, bool(rng.random() < p)))
    r = {d.name: d for d in rate(games, resamples=2).debaters}
    assert all(d.honest and d.liar for d in r.values())
    assert sorted(names, key=lambda n: r[n].honest.value) == sorted(names, key=honest.get)
    assert sorted(names, key=lambda n: r[n].liar.value) == sorted(names, key=liar.get)
    # one scale for both roles: honest(a) - liar(b) near the true log-odds 0.5
    assert abs((r["a"].honest.value - r["b"].liar.value) - 0.5) < 0.3


def test_judge_accuracy_and_error_are_direct_means_with_intervals() -> None:
    games = [_game("A", "B", True, "j1", 0.5), _game("A", "B", False, "j1", 1.5)]
    games += [_game("B", "A", True, "j1", 1.0), _game("B", "A", None, "j1", 2.0)]
    games += [_game("A", "B", True, "j2", 0.2)] * 3
    j = {x.name: x for x in rate(games, resamples=400).judges}
    assert j["j1"].debates == 4
    assert j["j1"].accuracy.value == (1 + 0 + 1 + 0.5) / 4  # undecided counts half
    assert math.isclose(j["j1"].log10_error.value, 1.25)
    assert 0.0 <= j["j1"].accuracy.low < 0.625 < j["j1"].accuracy.high <= 1.0
    assert j["j2"].accuracy.value == j["j2"].accuracy.low == j["j2"].accuracy.high == 1.0


def test_a_role_never_played_has_no_rating() -> None:
    r = {d.name: d for d in rate([_game("H", "L", True), _game("H", "L", False)]).debaters}
    assert r["H"].liar is None and r["L"].honest is None
    assert r["H"].honest is not None and r["L"].liar is not None


def test_ratings_are_reproducible() -> None:
    games = [_game("A", "B", True), _game("B", "A", False), _game("A", "B", False)]
    assert rate(games, seed=5) == rate(games, seed=5)


def test_undecided_counts_half_in_a_judges_accuracy_as_in_stats() -> None:
    # final credences in A and the honest side; 0.5 trusts nobody: a coin's half point,
    # as `pzjudge stats` and the study report count it (trust_points)
    rows = [(0.9, "a"), (0.2, "b"), (0.5, "a"), (0.5, "b"), (0.7, "b"), (0.5, "a")]
    games = [_game("A", "B", trust_verdict(c if side == "a" else 1 - c), "j") for c, side in rows]
    (j,) = rate(games, resamples=50).judges
    assert j.accuracy.value == (1 + 1 + 0.5 + 0.5 + 0 + 0.5) / 6  # by hand
    assert math.isclose(j.accuracy.value, sum(trust_points(c, s) for c, s in rows) / len(rows))
