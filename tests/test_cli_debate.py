"""`pzjudge debate` and `pzjudge tournament` as a user runs them (in a subprocess)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import pz
from helpers import timeless as _strip_times
from llm_server import LLMServer, Reply

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SMALL = str(EXAMPLES / "small.json")
KEY = "sk-cli-secret-0042"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_line_error(r: subprocess.CompletedProcess[str], needle: str) -> None:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("pzjudge: error: ")
    assert needle in r.stderr, r.stderr


def test_readable_transcript_shows_rules_marks_and_outcome(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("rounds = 1\nchar_limit = 80\ncitations_per_turn = 3\n")
    speeches = tmp_path / "speeches.toml"
    speeches.write_text(
        """
[[turn]]
text = "Trust me: the triple is 12% and s01 with s02 is 0.3. And a great deal more, and more."
citations = [
  { kind = "prob", ids = ["s01", "s02"], claimed = 0.3 },
  { kind = "statement", id = "nope" },
  { kind = "prob", ids = ["s01", "s02", "s03", "s04"] },
  { kind = "prob", ids = ["s01"] },
]
"""
    )
    r = pz(
        "debate", SMALL, "--a", f"file:{speeches}", "--b", "builtin:honest", "--judge",
        "bounds", "--rules", str(rules), "--no-store",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("Rules: openings + 1 round (up to")
    assert "[A opening]" in out and "[B round 1]" in out
    assert "[cut at the limit]" in out
    # 0.4408 = P(s01) P(s02), blocks apart in small.json: (0.245 + 0.245 + 0.02) Phi(1.1)
    assert "✗ false P(s01 ∩ s02) = 0.4408 (claimed 0.3)" in out
    assert "nope: rejected, unknown statement id 'nope'" in out
    assert "rejected, order 4 is above the limit 3" in out
    assert "P(s01): dropped, over the limit of 3 citations per speech" in out
    assert "unverified numbers in the text: 12%, 0.3" in out
    assert "[A round 1] forfeited: the debate file has only 1 speech" in out
    for part in ("Judgement: P(Z) ≈", "Truth: P(Z) =", "Scores: log10 error", "Baselines"):
        assert part in out


def test_progress_lines_on_a_redirected_stderr_only_when_asked(tmp_path: Path) -> None:
    """A headless run logged to a file (stderr not a terminal) is quiet by default and
    writes a line per turn with --progress: who spoke, what and how long (never a side)."""
    quiet = pz("debate", "--seed", "2", "--no-store")
    loud = pz("debate", "--seed", "2", "--no-store", "--progress")
    assert quiet.returncode == 0 == loud.returncode, loud.stderr
    assert quiet.stderr == ""
    done = [line for line in loud.stderr.splitlines() if "characters" in line]
    starts = [line for line in loud.stderr.splitlines() if line.endswith("speaking…")]
    assert len(done) == len(starts) >= 2 and done[0].startswith("a opening 0: ")
    assert "honest" not in loud.stderr and "liar" not in loud.stderr
    assert loud.stdout == quiet.stdout  # the transcript itself is unchanged


def test_llm_debater_through_the_cli_never_shows_the_key(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("rounds = 1\nturn_timeout = 20\n")
    good = json.dumps(
        {
            "text": "s03 and s09 go together at 0.3",
            "citations": [{"kind": "prob", "ids": ["s03", "s09"], "claimed": 0.3}],
        }
    )
    with LLMServer() as server:
        # opening: a valid speech; round 1: garbage twice (reply, then the repair) -> forfeit
        server.script(Reply(good), Reply("no json at all"), Reply("still none"))
        r = pz(
            "debate", SMALL, "--a", "openai:tiny", "--b", "builtin:honest", "--judge",
            "maxent", "--base-url", server.url, "--rules", str(rules), "--seed", "1",
            "--no-store", "--json", OPENAI_API_KEY=KEY,
        )  # fmt: skip
        auth = {k.lower(): v for k, v in server.requests[0].headers.items()}["authorization"]
    assert r.returncode == 0, r.stderr
    assert KEY not in r.stdout and KEY not in r.stderr and auth == f"Bearer {KEY}"
    out = json.loads(r.stdout)
    a = [t for t in out["turns"] if t["speaker"] == "a"]
    assert a[0]["forfeit"] is None
    cite = a[0]["citations"][0]
    assert cite["ids"] == ["s03", "s09"] and cite["claimed"] == 0.3
    assert cite["verified"] is False and cite["true_value"] == pytest.approx(0.265, abs=1e-3)
    assert a[0]["unverified_numbers"] == ["0.3"]  # the claimed value was false
    assert a[1]["forfeit"] and "after one repair" in a[1]["forfeit"]
    assert all(t["forfeit"] is None for t in out["turns"] if t["speaker"] == "b")


def test_server_down_forfeits_with_a_reason_and_no_traceback(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("rounds = 0\n")
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    r = pz(
        "debate", SMALL, "--a", "openai:tiny", "--b", "builtin:honest", "--judge", "llm:tiny",
        "--base-url", url, "--rules", str(rules), "--no-store",
    )  # fmt: skip
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "[A opening] forfeited: connection to 127.0.0.1" in r.stdout
    assert "refused" in r.stdout and "is a server running" in r.stdout
    assert "Judge failed to answer: connection to 127.0.0.1" in r.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--a", "builtin:nope", "--b", "builtin:honest"], "unknown built-in debater 'nope'"),
        (["--a", "weird:x", "--b", "builtin:honest"], "unknown debater 'weird:x'"),
        (["--a", "script:/nonexistent/d.py:D", "--b", "builtin:honest"], "no such file"),
        (["--a", "script:examples/d.py", "--b", "builtin:honest"], "script:path/to/file.py"),
        (["--a", "file:/nonexistent.toml", "--b", "builtin:honest"], "no such debate file"),
        (["--a", "openai:m", "--b", "builtin:honest", "--base-url", "localhost:8080"], "http://"),
        (["--a", "openai:m", "--b", "builtin:honest", "--base-url", "http://[::1"], "not a valid"),
        (["--a", "builtin:honest", "--b", "builtin:honest", "--judge", "psychic"], "unknown judge"),
        (["--a", "builtin:honest", "--b", "builtin:honest", "--rules", "/nonexistent.toml"], "no"),
    ],
)
def test_bad_debate_input_is_one_line(args: list[str], needle: str) -> None:
    _one_line_error(pz("debate", SMALL, *args, "--no-store"), needle)


def test_tournament_table_and_json_deterministic_under_a_seed() -> None:
    args = [
        "tournament", "--worlds", "1", "--seed", "5", "--statements", "14", "--debaters",
        "builtin:honest,builtin:pairwise", "--judges", "maxent,trust-b", "--no-store",
    ]  # fmt: skip
    table = pz(*args)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "Tournament: 1 worlds, seed 5"
    assert "won as honest" in table.stdout and "fooled the judge as liar" in table.stdout
    assert "mean log10 error" in table.stdout
    assert any(line.startswith("builtin:pairwise") for line in lines)
    assert any(line.startswith("trust-b") for line in lines)
    one, two = pz(*args, "--json", "--concurrency", "1"), pz(*args, "--json", "--concurrency", "3")
    assert one.returncode == 0 and two.returncode == 0
    j1, j2 = json.loads(one.stdout), json.loads(two.stdout)
    assert _strip_times(j1) == _strip_times(j2)
    pairs = [(d["debater_a"], d["debater_b"], d["judge"]) for d in j1["debates"]]
    assert len(pairs) == 4 and {p[:2] for p in pairs} == {
        ("builtin:honest", "builtin:pairwise"),
        ("builtin:pairwise", "builtin:honest"),
    }
    assert {s["name"]: s["debates"] for s in j1["debaters"]} == {
        "builtin:honest": 4,
        "builtin:pairwise": 4,
    }
    ratings = {d["name"]: d for d in j1["ratings"]["debaters"]}
    honest = ratings["builtin:honest"]
    assert honest["as_honest"] == 4 and honest["liar"] is None
    assert {j["name"] for j in j1["ratings"]["judges"]} == {"maxent", "trust-b"}


@pytest.mark.parametrize(
    ("debaters", "judges", "needle"),
    [
        ("builtin:honest,builtin:nope", "maxent", "unknown built-in debater 'nope'"),
        ("builtin:honest", "maxent,psychic", "unknown judge 'psychic'"),
        (",", "maxent", "at least one debater"),
        ("builtin:honest", ",", "one judge"),
    ],
)
def test_bad_tournament_input_fails_fast_in_one_line(
    debaters: str, judges: str, needle: str
) -> None:
    # 500 worlds of 2,000 statements would take minutes: the specs must be checked first
    r = pz(
        "tournament", "--worlds", "500", "--statements", "2000", "--debaters", debaters,
        "--judges", judges, "--no-store",
    )  # fmt: skip
    _one_line_error(r, needle)


_SLOW_SCRIPT = """
import time

class Slow:
    def argue(self, view, oracle):
        if view["phase"] != "opening":
            time.sleep(600)
        return {"text": "I hold my claim.", "citations": []}
"""


def test_killed_headless_debate_keeps_its_turns_and_is_marked_abandoned(tmp_path: Path) -> None:
    """kill -9 in the middle of `pzjudge debate`: every turn made so far is in the database,
    and the next headless run marks the orphaned round abandoned (never silently dropped)."""
    import signal
    import sqlite3
    import time

    script = tmp_path / "slow.py"
    script.write_text(_SLOW_SCRIPT)
    rules = tmp_path / "rules.toml"
    rules.write_text("[rules]\nturn_timeout = 600\nrounds = 1\n")
    db = tmp_path / "h.db"
    args = ["debate", SMALL, "--a", f"script:{script}:Slow", "--b", "builtin:honest"]
    args += ["--judge", "maxent", "--rules", str(rules), "--db", str(db)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes the script's child too
    )

    def q(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(db) as conn:
            return list(conn.execute(sql))

    # both openings stored and judged: A is speaking in round 1 (the sandboxed script
    # cannot leave a marker file, so the database tells)
    def speaking() -> bool:
        if not db.exists():  # connecting would create it
            return False
        try:
            return q("SELECT COUNT(*) FROM credences") == [(2,)]
        except sqlite3.OperationalError:  # not created yet
            return False

    deadline = time.monotonic() + 120
    while not speaking():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    assert q("SELECT answered_at, abandoned_at FROM rounds") == [(None, None)]
    assert [s for (s,) in q("SELECT speaker FROM turns ORDER BY id")] == ["a", "b"]
    assert q("SELECT COUNT(*) FROM credences") == [(2,)]
    assert q("SELECT COUNT(*) FROM judgements") == [(0,)]

    r = pz("debate", SMALL, "--a", "builtin:honest", "--b", "builtin:pairwise", "--db", str(db))
    assert r.returncode == 0, r.stderr
    (first, second) = q("SELECT answered_at, abandoned_at, abandon_reason FROM rounds ORDER BY id")
    assert first[0] is None and first[1] is not None and "interrupted" in first[2]
    assert second[0] is not None and second[1] is None
    assert q("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL") == [(0,)]


def test_headless_debate_commits_each_turn_as_it_is_made(tmp_path: Path) -> None:
    """While a debate runs, its round is already open and holds the turns made so far."""
    import asyncio

    from debate.engine import run_debate
    from debate.events import Event, TurnEvent
    from debate.specs import make_debater, make_judge
    from latent.world import load_world
    from store.db import Store
    from store.recorder import DebateRecorder

    world = load_world(SMALL)
    with Store(tmp_path / "live.db") as store:
        rec = DebateRecorder(store, world_json=world.to_json())
        seen: list[int] = []

        def on_record(ev: Event) -> None:
            rec.on_event(ev)
            if isinstance(ev, TurnEvent):  # committed before the engine goes on
                (open_round,) = store.open_rounds(rec.session_id or -1)
                seen.append(len(open_round["turns"]))

        res = asyncio.run(
            run_debate(
                world,
                make_debater("builtin:honest"),
                make_debater("builtin:independence"),
                make_judge("maxent"),
                on_record=on_record,
            )
        )
        rec.on_result(res)
        assert seen == list(range(1, len(res.turns) + 1))
        assert store.open_rounds(rec.session_id or -1) == []
        (row,) = store._all("SELECT estimate FROM judgements", [])
        assert row[0] == res.judgement.estimate
