"""Scripted debaters run in a separate process, see only their view, and fail safely."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest

from debate.errors import DebateError
from debate.protocol import DebaterView, StatementView
from debate.rules import Rules
from debate.script import FileDebater, ScriptDebater
from debate.verify import Oracle
from latent.world import load_world

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _view() -> DebaterView:
    world = load_world(EXAMPLES / "d4.json")
    return DebaterView(
        side="a",
        claim=0.01,
        opponent_claim=0.1,
        phase="opening",
        round=0,
        statements=[StatementView(id=s, text=world.statement(s).text, p=0.5) for s in world.ids],
        transcript=[],
        rules=Rules(),
    )


def _oracle() -> Oracle:
    return Oracle(load_world(EXAMPLES / "d4.json"), max_order=2)


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "deb.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


def _argue(deb: ScriptDebater, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        try:
            return await asyncio.wait_for(deb.argue(_view(), _oracle()), timeout)
        finally:
            await deb.aclose()

    return asyncio.run(go())


def test_script_uses_oracle_and_returns_argument(tmp_path: Path) -> None:
    path = _script(
        tmp_path,
        """
        class D:
            def argue(self, view, oracle):
                print("chatter on stdout must not break the protocol")
                p = oracle.prob(["A", "B"])
                return {"text": f"pair {p}", "citations": [{"kind": "prob", "ids": ["A", "B"],
                        "claimed": p}]}
        """,
    )
    arg = _argue(ScriptDebater(path, "D"))
    assert arg.text == "pair 0.25"
    assert arg.citations[0].claimed == 0.25  # type: ignore[union-attr]


def test_script_may_define_argue_with_async_def(tmp_path: Path) -> None:
    path = _script(
        tmp_path,
        """
        class D:
            async def argue(self, view, oracle):
                return {"text": f"pair {oracle.prob(['A', 'B'])}", "citations": []}
        """,
    )
    assert _argue(ScriptDebater(path, "D")).text == "pair 0.25"


def test_script_sees_only_its_view(tmp_path: Path) -> None:
    """The child gets the view's keys and nothing of the world model or the truth."""
    path = _script(
        tmp_path,
        """
        import json, sys
        class D:
            def argue(self, view, oracle):
                mods = [m for m in sys.modules if m.startswith(("latent", "store", "tui"))]
                return {"text": json.dumps({"keys": sorted(view), "mods": mods,
                                            "view": view})}
        """,
    )
    arg = _argue(ScriptDebater(path, "D"))
    seen = json.loads(arg.text)
    assert seen["keys"] == sorted(DebaterView.model_fields)
    assert seen["mods"] == []  # the host never imports the world model
    dump = json.dumps(seen["view"])
    for secret in ("covariance", "threshold", "outcomes", "honest", "truth", "flip"):
        assert secret not in dump


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            "def argue(self, view, oracle):\n        raise RuntimeError('boom')",
            "RuntimeError: boom",
        ),
        ("def argue(self, view, oracle):\n        return {'txt': 1}", "invalid argument"),
        ("def argue(self, view, oracle):\n        return {1, 2}", "TypeError"),
        ("def argue(self, view, oracle):\n        oracle.prob(['A','B','C'])", "above the limit"),
        ("def argue(self, view, oracle):\n        import os; os._exit(3)", "exited without"),
    ],
)
def test_script_failures_become_one_line_errors(tmp_path: Path, body: str, needle: str) -> None:
    path = _script(tmp_path, f"class D:\n    {body}\n")
    with pytest.raises(DebateError) as exc:
        _argue(ScriptDebater(path, "D"))
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_missing_class_and_file(tmp_path: Path) -> None:
    path = _script(tmp_path, "class D:\n    pass\n")
    with pytest.raises(DebateError, match="could not load Nope"):
        _argue(ScriptDebater(path, "Nope"))
    with pytest.raises(DebateError, match="no such file"):
        ScriptDebater(str(tmp_path / "missing.py"), "D")


def test_hanging_script_is_killed_on_timeout(tmp_path: Path) -> None:
    path = _script(
        tmp_path, "import time\nclass D:\n    def argue(self, v, o):\n        time.sleep(60)\n"
    )
    deb = ScriptDebater(path, "D")

    async def go() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(deb.argue(_view(), _oracle()), 1.0)
        assert deb._proc is None  # killed; a fresh child would start next turn
        await deb.aclose()

    asyncio.run(go())


def test_file_debater_plays_its_turns_then_forfeits() -> None:
    deb = FileDebater(str(EXAMPLES / "speeches.toml"))
    assert len(deb.turns) == 3
    arg = asyncio.run(deb.argue(_view(), _oracle()))
    assert "pairwise independent" in arg.text


def test_file_debater_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.toml"
    bad.write_text("[[turn]]\ncitations = []\n")
    with pytest.raises(DebateError, match="text"):
        FileDebater(str(bad))
    bad.write_text("not toml = = 1")
    with pytest.raises(DebateError, match="cannot parse"):
        FileDebater(str(bad))


def test_a_class_that_fails_to_load_forfeits_every_turn_the_same_way(tmp_path: Path) -> None:
    path = _script(tmp_path, "class D:\n    pass\n")
    deb = ScriptDebater(path, "Nope")

    async def go() -> list[str]:
        reasons = []
        for _ in range(3):
            with pytest.raises(DebateError) as exc:
                await asyncio.wait_for(deb.argue(_view(), _oracle()), 20)
            reasons.append(str(exc.value))
        await deb.aclose()
        return reasons

    reasons = asyncio.run(go())
    assert len(set(reasons)) == 1 and "could not load Nope" in reasons[0]


def test_file_debater_json_forms(tmp_path: Path) -> None:
    speech = {"text": "t", "citations": [{"kind": "prob", "ids": ["A", "B"], "claimed": 0.25}]}
    for data in ({"turns": [speech]}, [speech]):
        p = tmp_path / "s.json"
        p.write_text(json.dumps(data))
        deb = FileDebater(str(p))
        assert asyncio.run(deb.argue(_view(), _oracle())).text == "t"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('"just a string"', "no speeches"),
        ("[1, 2]", "turn 0"),
        (b"\xff\xfe\x00", "not a text file"),
        (None, "cannot read the debate file"),  # a directory
    ],
)
def test_file_debater_bad_json_is_one_line(tmp_path: Path, content: object, needle: str) -> None:
    p = tmp_path / "s.json"
    if content is None:
        p.mkdir()
    elif isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(str(content))
    with pytest.raises(DebateError) as exc:
        FileDebater(str(p))
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_script_never_sees_api_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile script that quotes its environment finds no key to quote."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sentinel-one")
    monkeypatch.setenv("PZJUDGE_LLM_TOKEN", "sentinel-two")
    monkeypatch.setenv("PZJUDGE_HARMLESS", "still-here")
    path = _script(
        tmp_path,
        """
        import os

        class D:
            def argue(self, view, oracle):
                return {"text": repr(sorted(os.environ.items())), "citations": []}
        """,
    )
    arg = _argue(ScriptDebater(path, "D"))
    assert "still-here" in arg.text  # the environment is passed, only secrets are not
    assert "sentinel" not in arg.text
