"""Scripted debaters run in a separate process, see only their view, and fail safely."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from bad_files import write_case
from helpers import alive as _alive
from helpers import d4_view as _view

from debate.errors import DebateError
from debate.protocol import DebaterView
from debate.script import FileDebater, ScriptDebater
from debate.specs import make_debater
from debate.verify import Oracle
from latent.world import load_world

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _oracle() -> Oracle:
    return Oracle(load_world(EXAMPLES / "d4.json"), max_order=2)


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "deb.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


def _starts_helpers(tmp_path: Path, *popens: str) -> tuple[str, str]:
    """A script whose turn starts helper processes, one `subprocess.Popen(...)` per entry of
    `popens` (its arguments; `{mark}` in them becomes a mark to find the helper by), then
    speaks: the script's path and the mark."""
    mark = f"{uuid.uuid4().hex[:8]}"
    calls = "".join(f"        subprocess.Popen({p.format(mark=mark)})\n" for p in popens)
    turn = "class D:\n    def argue(self, view, oracle):\n" + calls
    speak = '        return {"text": "I started a helper", "citations": []}\n'
    return _script(tmp_path, "import subprocess\n" + turn + speak), mark


def _wait_gone(mark: str, seconds: float = 5.0) -> None:
    """Give the processes marked `mark` up to `seconds` to end."""
    deadline = time.monotonic() + seconds
    while _alive(mark) and time.monotonic() < deadline:
        time.sleep(0.1)


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
        assert deb._child is None  # killed; a fresh child would start next turn
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
def test_file_debater_bad_json_is_one_line(
    tmp_path: Path, content: str | bytes | None, needle: str
) -> None:
    p = write_case(tmp_path / "s.json", content)
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


def test_a_helper_process_cannot_hold_up_the_debate_or_lose_the_answer(tmp_path: Path) -> None:
    """Issue 10.3: a script that starts `sleep 90` made closing wait on the pipe the helper
    inherited; a headless debate took the helper's lifetime. Now it ends in seconds, the
    judgement is stored, and the helper is gone."""
    import sqlite3

    from tui.cli import main

    path, mark = _starts_helpers(tmp_path, '["sh", "-c", "sleep 90; : {mark}"]', '["sleep", "90"]')
    db = tmp_path / "pz.db"
    t0 = time.monotonic()
    world = str(EXAMPLES / "d4.json")
    status = main(
        ["debate", world, "--a", f"script:{path}:D", "--b", "builtin:honest", "--db", str(db)]
    )
    took = time.monotonic() - t0
    assert status == 0
    assert took < 15, took  # was the helper's 90 s
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM judgements").fetchone()[0] == 1
    _wait_gone(mark)
    assert _alive(mark) == []


def test_aclose_ends_at_once_even_with_a_helper_holding_pipes_unsandboxed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a sandbox (trusted), the process group is killed and no pipe is waited on."""
    monkeypatch.setattr("debate.script.probe", lambda: None)
    # a helper that holds every descriptor it can get
    path, mark = _starts_helpers(tmp_path, '["sh", "-c", "sleep 90; : {mark}"], close_fds=False')
    deb = ScriptDebater(path, "D", trust=True)
    assert not deb.sandboxed

    async def go() -> float:
        await asyncio.wait_for(deb.argue(_view(), _oracle()), 20)
        t0 = time.monotonic()
        await deb.aclose()
        return time.monotonic() - t0

    assert asyncio.run(go()) < 2
    _wait_gone(mark)
    assert _alive(mark) == []


def test_without_a_sandbox_scripts_need_trust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("debate.script.probe", lambda: None)
    monkeypatch.setattr("shutil.which", lambda _name: None)
    path = _script(tmp_path, "class D:\n    def argue(self, v, o):\n        return {'text': 'o'}\n")
    with pytest.raises(DebateError) as exc:
        ScriptDebater(path, "D")
    msg = str(exc.value)
    assert "\n" not in msg
    assert "apt-get install bubblewrap" in msg and "--trust-scripts" in msg
    with pytest.raises(DebateError, match="--trust-scripts"):
        make_debater(f"script:{path}:D")
    deb = make_debater(f"script:{path}:D", trust_scripts=True)
    assert _argue(deb).text == "o"


@pytest.mark.parametrize("close_fails", [False, True])
def test_the_game_stores_the_answer_with_a_helper_holding_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, close_fails: bool
) -> None:
    """Issue 10.3 in the game: "answer recorded; scoring…" and then nothing stored. The
    answer reaches `judgements` in seconds, and even if closing a debater fails."""
    import sqlite3

    from textual.keys import _character_to_key
    from textual.pilot import Pilot
    from textual.widgets import Input

    from tui.app import PzJudgeApp

    if close_fails:

        async def broken(self: ScriptDebater) -> None:
            self.kill()
            raise RuntimeError("could not close")

        monkeypatch.setattr(ScriptDebater, "aclose", broken)
    path = _script(
        tmp_path,
        """
        import subprocess
        class D:
            def argue(self, view, oracle):
                subprocess.Popen(["sleep", "90"])
                return {"text": "a helper runs", "citations": []}
        """,
    )
    db = tmp_path / "g.db"

    def stored() -> int:
        with sqlite3.connect(db) as con:
            return int(con.execute("SELECT COUNT(*) FROM judgements").fetchone()[0])

    async def until(pilot: Pilot[None], cond: Any, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not cond():
            assert time.monotonic() < deadline, "timed out"
            await pilot.pause(0.05)

    def fill(app: PzJudgeApp, field: str, text: str) -> None:
        app.screen.query_one(f"#f-{field}", Input).value = text  # typing is tested elsewhere

    async def main() -> float:
        app = PzJudgeApp(db_path=db, judge="tester", seed=5)
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.press("p")
            await until(pilot, lambda: type(app.screen).__name__ == "SetupScreen", 10)
            fill(app, "statements", "16")
            fill(app, "rounds", "1")
            fill(app, "debater_honest", f"script:{path}:D")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: type(app.screen).__name__ == "RoundScreen", 20)
            await pilot.pause(1.0)  # let the script speak (and start its helper)
            await pilot.press("a", "end", *[_character_to_key(c) for c in "1e-3"], "enter")
            t0 = time.monotonic()
            await until(pilot, lambda: stored() == 1, 20)
            took = time.monotonic() - t0
            await until(pilot, lambda: type(app.screen).__name__ == "RevealScreen", 10)
            await pilot.pause(0.2)  # let the reveal finish mounting before the app closes
            return took

    assert asyncio.run(main()) < 10  # was: never (the helper's 90 s, then lost on quit)


def test_cli_without_bubblewrap_refuses_scripts_unless_trusted(tmp_path: Path) -> None:
    """No bwrap on PATH: one line that names the fix; --trust-scripts runs, with one warning."""
    import subprocess
    import sys

    env = {**os.environ, "PATH": str(tmp_path)}  # an empty directory: no bwrap here
    env.pop("PZJUDGE_TRUST_SCRIPTS", None)
    spec = f"script:{EXAMPLES / 'product_debater.py'}:ProductDebater"
    args = [sys.executable, "-m", "tui.cli", "debate", str(EXAMPLES / "d4.json")]
    args += ["--a", spec, "--b", "builtin:honest", "--no-store"]
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert "bubblewrap" in line and "--trust-scripts" in line
    r = subprocess.run([*args, "--trust-scripts"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    (warning,) = r.stderr.splitlines()
    assert warning.startswith("pzjudge: warning: no sandbox")
    assert "[A opening] " in r.stdout and "[A opening] forfeited" not in r.stdout
