"""User debaters: a Python class in its own process, or a declarative file of speeches.

A scripted debater implements one method:

    class MyDebater:
        def argue(self, view: dict, oracle) -> dict:
            # view: side, claim, opponent_claim, phase, round, statements [{id, text, p}],
            #       transcript [turns as the judge sees them], rules
            # oracle.prob(["s1", "s2"]) -> P(both true), up to the order limit
            return {"text": "...", "citations": [{"kind": "prob", "ids": ["s1", "s2"],
                                                  "claimed": 0.25}]}

It runs in a child process (`debate.script_host`) and sees only that view. A script that
raises, hangs past the turn timeout or returns garbage forfeits the turn; the debate goes
on (a hung child is killed and started afresh for the next turn).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from debate.errors import DebateError
from debate.models import Argument
from debate.protocol import DebaterView
from debate.verify import Oracle

#: Longest line the child may send (a speech with citations is far smaller).
LINE_LIMIT = 1 << 22

#: Environment variables a user's script never inherits: API keys and other secrets.
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)


def child_env() -> dict[str, str]:
    """The parent's environment without anything that looks like a secret, so a script
    cannot quote an API key into its speech (and from there into logs and exports)."""
    return {k: v for k, v in os.environ.items() if not SECRET_NAME.search(k)}


class ScriptDebater:
    """`script:path/to/file.py:ClassName` — a user's class in a separate process."""

    honest = None

    def __init__(self, path: str, cls: str) -> None:
        p = Path(path)
        if not p.is_file():
            raise DebateError(f"script {path}: no such file; check the path in script:FILE:Class")
        self.path = str(p.resolve())
        self.cls = cls
        self.name = f"script:{path}:{cls}"
        self._proc: asyncio.subprocess.Process | None = None
        self._dead: list[asyncio.subprocess.Process] = []
        #: Why the class could not be loaded: every later turn forfeits with the same reason.
        self._fatal: str | None = None

    async def _start(self) -> asyncio.subprocess.Process:
        if self._proc is None or self._proc.returncode is not None:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "debate.script_host",
                self.path,
                self.cls,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                limit=LINE_LIMIT,
                env=child_env(),
            )
        return self._proc

    def kill(self) -> None:
        """Stop the child at once (after a timeout); `aclose` also reaps it."""
        if self._proc is None:
            return
        if self._proc.returncode is None:
            self._proc.kill()
        self._dead.append(self._proc)
        self._proc = None

    async def aclose(self) -> None:
        """Stop the child and wait for it, so no process or pipe outlives the debate."""
        self.kill()
        dead, self._dead = self._dead, []
        for proc in dead:
            if proc.stdin is not None:
                proc.stdin.close()
            await proc.wait()

    async def argue(self, view: DebaterView, oracle: Oracle) -> Argument:
        try:
            return await self._argue(view, oracle)
        except asyncio.CancelledError:
            self.kill()  # it hung past the timeout: a fresh child next turn
            raise

    async def _argue(self, view: DebaterView, oracle: Oracle) -> Argument:
        if self._fatal is not None:
            raise DebateError(self._fatal)
        proc = await self._start()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps({"type": "argue", "view": view.model_dump()}) + "\n").encode())
        await proc.stdin.drain()
        while True:
            line = await proc.stdout.readline()
            if not line:
                self.kill()
                raise DebateError("the script's process exited without a speech")
            try:
                msg: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError:
                raise DebateError("the script's process sent something that is not JSON") from None
            kind = msg.get("type")
            if kind == "oracle":
                try:
                    reply = {"type": "answer", "p": oracle.prob([str(x) for x in msg["ids"]])}
                except (DebateError, KeyError, TypeError) as exc:
                    reply = {"type": "error", "message": str(exc)}
                proc.stdin.write((json.dumps(reply) + "\n").encode())
                await proc.stdin.drain()
            elif kind == "argument":
                try:
                    return Argument.model_validate(msg["argument"])
                except ValidationError as exc:
                    err = exc.errors()[0]
                    where = ".".join(str(x) for x in err["loc"]) or "the reply"
                    raise DebateError(
                        f"the script returned an invalid argument ({where}: {err['msg']})"
                    ) from None
            elif kind == "error":
                reason = f"the script raised {msg.get('message', 'an error')}"
                if msg.get("fatal"):
                    self._fatal = reason
                    self.kill()
                raise DebateError(reason)
            else:
                raise DebateError("the script's process sent an unknown message")


class FileDebater:
    """`file:speeches.toml` (or .json) — the speeches for each turn, written in advance.

    The file holds `[[turn]]` tables (or a JSON list, bare or under "turns"), each an Argument:
    `text` and optional `citations`. Turns are used in order; after the last one the
    debater forfeits.
    """

    honest = None

    def __init__(self, path: str) -> None:
        p = Path(path)
        try:
            raw = p.read_text(encoding="utf-8")
            data = json.loads(raw) if p.suffix == ".json" else tomllib.loads(raw)
        except FileNotFoundError:
            raise DebateError(f"{path}: no such debate file; check the path") from None
        except OSError as exc:
            raise DebateError(f"{path}: cannot read the debate file ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise DebateError(f"{path}: not a text file; write TOML or JSON in UTF-8") from None
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise DebateError(f"{path}: cannot parse it ({exc}); fix the syntax") from None
        if isinstance(data, list):
            data = {"turns": data}  # a bare JSON list of speeches
        turns = data.get("turn", data.get("turns")) if isinstance(data, dict) else None
        if not isinstance(turns, list) or not turns:
            raise DebateError(f"{path}: no speeches; add [[turn]] tables with a text each")
        self.turns = []
        for n, turn in enumerate(turns):
            try:
                self.turns.append(Argument.model_validate(turn))
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(x) for x in (n, *err["loc"]))
                raise DebateError(f"{path}: turn {where}: {err['msg']}") from None
        self.name = f"file:{path}"
        self._next = 0

    async def argue(self, view: DebaterView, oracle: Oracle) -> Argument:
        mine = sum(1 for t in view.transcript if t.speaker == view.side)
        if mine >= len(self.turns):
            n = len(self.turns)
            raise DebateError(f"the debate file has only {n} speech{'' if n == 1 else 'es'}")
        return self.turns[mine]
