"""A tournament debate's id covers what its specs run, not only their strings: an edited
script or speeches file, or an LLM spec pointed at another endpoint, plays again on rerun;
unchanged inputs are reused, and built-in-only tournaments keep the ids they had."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from debate.rules import Rules
from debate.tournament import debate_id, spec_runs, tournament_worlds, world_digest
from tui.cli import main

SPEECHES = """[[turn]]
text = "The statements look independent to me."
[[turn]]
text = "{second}"
"""

SCRIPT = """class Plain:
    def argue(self, view, oracle):
        return {{"text": "{text}", "citations": []}}
"""


def _args(debater: str, db: Path) -> list[str]:
    return [
        "tournament", "--worlds", "1", "--seed", "2", "--statements", "12", "--debaters",
        f"builtin:honest,{debater}", "--judges", "maxent", "--concurrency", "1", "--json",
        "--trust-scripts", "--db", str(db),
    ]  # fmt: skip


def _texts(out: str, name: str) -> set[str]:
    """Every speech `name` made in the tournament's debates (from its --json)."""
    res = json.loads(out)
    return {
        t["text"]
        for d in res["debates"]
        for t in d["turns"]
        if (d["debater_a"] if t["speaker"] == "a" else d["debater_b"]) == name and not t["forfeit"]
    }


@pytest.mark.parametrize("kind", ["file", "script"])
def test_editing_a_debaters_file_plays_its_debates_again(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if kind == "file":
        path = tmp_path / "speeches.toml"
        spec = f"file:{path}"

        def write(version: str) -> None:
            path.write_text(SPEECHES.format(second=f"Version {version} of my case."))
    else:
        path = tmp_path / "mine.py"
        spec = f"script:{path}:Plain"

        def write(version: str) -> None:
            path.write_text(SCRIPT.format(text=f"Version {version} of my case."))

    db = tmp_path / "t.db"
    write("one")
    assert main(_args(spec, db)) == 0
    out = capsys.readouterr()
    assert "played 2/2 debates" in out.err
    assert "Version one of my case." in _texts(out.out, spec)

    # unchanged: both debates are reused, nothing is played
    assert main(_args(spec, db)) == 0
    out = capsys.readouterr()
    assert "played" not in out.err
    assert "Version one of my case." in _texts(out.out, spec)

    # edited: both debates are played again, with what the file now says
    write("two")
    assert main(_args(spec, db)) == 0
    out = capsys.readouterr()
    assert "played 2/2 debates" in out.err
    texts = _texts(out.out, spec)
    assert "Version two of my case." in texts and "Version one of my case." not in texts


def test_an_llm_specs_endpoint_is_in_the_id_and_its_key_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-key")
    monkeypatch.delenv("PZJUDGE_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (w,) = tournament_worlds(1, 5, 12)
    digest = world_digest(w)

    def one(spec_a: str, spec_j: str, base_url: str | None) -> str:
        runs = {s: spec_runs(s, base_url) for s in (spec_a, "builtin:honest", spec_j)}
        assert "sk-very-secret-key" not in json.dumps(runs)
        return debate_id(digest, 1, 0.25, spec_a, "builtin:honest", spec_j, Rules(), runs)

    here, there = "http://127.0.0.1:8001/v1", "http://127.0.0.1:8002/v1"
    ids = {
        one("openai:m1", "maxent", here),
        one("openai:m1", "maxent", there),
        one("openai:m2", "maxent", here),
        one("builtin:pairwise", "llm:m1", here),
        one("builtin:pairwise", "llm:m1", there),
    }
    assert len(ids) == 5
    # the same endpoint reached through the environment is the same debate
    assert one("openai:m1", "maxent", here) == one("openai:m1", "maxent", here + "/")
    monkeypatch.setenv("PZJUDGE_BASE_URL", there)
    assert one("openai:m1", "maxent", None) == one("openai:m1", "maxent", there)


def test_built_in_ids_are_unchanged_and_the_world_is_hashed_once_per_world(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the id this debate had before the ids covered what specs run (resumable runs of
    # built-in tournaments made then stay valid)
    before = "1d8c51fe764145fb8affb6cd23ba8400"
    w0 = tournament_worlds(2, 5, 16)[0]
    base = (1, 0.25, "builtin:honest", "builtin:pairwise", "maxent", Rules())
    assert debate_id(w0, *base) == before
    runs = {s: spec_runs(s) for s in ("builtin:honest", "builtin:pairwise", "maxent")}
    assert debate_id(world_digest(w0), *base, runs) == before

    # a tournament turns each world into text once, not once per debate
    import asyncio

    import latent.world as lw
    from debate.tournament import run_tournament

    calls = 0
    real = lw.World.to_json

    def counted(self: lw.World, *a: object, **kw: object) -> str:
        nonlocal calls
        calls += 1
        return real(self, *a, **kw)

    monkeypatch.setattr(lw.World, "to_json", counted)
    res = asyncio.run(
        run_tournament(
            2, 5, ["builtin:honest", "builtin:pairwise", "builtin:independence"], ["maxent"],
            statements=16,
        )
    )  # fmt: skip
    assert len(res.debates) == 2 * 6
    assert calls == 2
