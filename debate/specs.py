"""Debater and judge spec strings, as typed on the command line.

Debaters: `builtin:honest`, `builtin:independence`, `builtin:pairwise`, `builtin:flip-hider`,
`builtin:cherry-picker`, `script:path.py:Class`, `file:speeches.toml`, `openai:MODEL`.
Judges: `independence`, `maxent`, `bounds`, `trust-a`, `trust-b`, `llm:MODEL`.
"""

from __future__ import annotations

from debate.builtin import builtin
from debate.errors import DebateError
from debate.judges import sim_judge
from debate.protocol import Debater, Judge
from debate.script import FileDebater, ScriptDebater


def make_debater(spec: str, *, base_url: str | None = None, trust_scripts: bool = False) -> Debater:
    """A debater from its spec string; DebateError saying which forms exist otherwise.

    `trust_scripts` lets a `script:` debater run without a sandbox where the machine has
    none (debate/sandbox.py); with a sandbox it changes nothing."""
    kind, _, rest = spec.partition(":")
    if kind == "builtin" and rest:
        return builtin(rest)
    if kind == "script" and rest:
        path, _, cls = rest.rpartition(":")
        if not path or not cls:
            raise DebateError(f"{spec!r}: write script:path/to/file.py:ClassName")
        return ScriptDebater(path, cls, trust=trust_scripts)
    if kind == "file" and rest:
        return FileDebater(rest)
    if kind == "openai" and rest:
        from debate.llm_players import LLMDebater

        return LLMDebater(rest, base_url=base_url)
    raise DebateError(
        f"unknown debater {spec!r}; use builtin:NAME, script:FILE.py:Class, file:FILE.toml "
        "or openai:MODEL"
    )


def make_judge(spec: str, *, base_url: str | None = None) -> Judge:
    """A judge from its spec string (a simulated judge's name, or llm:MODEL)."""
    kind, _, rest = spec.partition(":")
    if kind in ("llm", "openai") and rest:
        from debate.llm_players import LLMJudge

        return LLMJudge(rest, base_url=base_url)
    return sim_judge(spec.removeprefix("sim:"))
