"""Setup that several test files (and two bench scripts) share: the command line run as a
user runs it, a debater's view of the D4 world, processes a test must see gone, and results
compared without their wall-clock fields."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from debate.protocol import DebaterView, StatementView
from debate.rules import Rules
from latent.world import load_world
from tui.cli import main

if TYPE_CHECKING:
    import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SMALL = str(EXAMPLES / "small.json")
#: A headless debate on small.json: the honest debater against the pairwise liar.
SMALL_DEBATE = ("debate", SMALL, "--a", "builtin:honest", "--b", "builtin:pairwise")


def pz(*args: str, env_db: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`pzjudge ARGS` in a child process (this environment, plus `env`; `env_db` as
    PZJUDGE_DB), its output captured as text."""
    if env_db is not None:
        env["PZJUDGE_DB"] = str(env_db)
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`pzjudge ARGV` in this process: exit status (argparse's too), stdout, stderr."""
    try:
        rc = main(list(argv))
    except SystemExit as exc:  # argparse refusing an option
        rc = int(exc.code or 0)
    out = capsys.readouterr()
    return rc, out.out, out.err


def d4_view(turn: int = 0) -> DebaterView:
    """Debater A's view of examples/d4.json at `turn` (0: the opening)."""
    world = load_world(EXAMPLES / "d4.json")
    return DebaterView(
        side="a",
        claim=0.01,
        opponent_claim=0.1,
        phase="opening" if turn == 0 else "round",
        round=turn,
        statements=[StatementView(id=s, text=world.statement(s).text, p=0.5) for s in world.ids],
        transcript=[],
        rules=Rules(),
    )


def alive(mark: str) -> list[int]:
    """Processes on this machine whose command line holds `mark`."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if mark.encode() in Path(f"/proc/{p}/cmdline").read_bytes():
                    out.append(int(p))
            except OSError:
                pass
    return out


def timeless(d: Any) -> Any:
    """A result without the wall-clock fields (when each speech, query and answer was made)."""
    if isinstance(d, dict):
        return {k: timeless(v) for k, v in d.items() if k not in ("at", "started_at", "seconds")}
    if isinstance(d, list):
        return [timeless(v) for v in d]
    return d
