"""User debaters: a Python class in its own process, or a declarative file of speeches.

A scripted debater implements one method:

    class MyDebater:
        def argue(self, view: dict, oracle) -> dict:
            # view: side, claim, opponent_claim, phase, round, statements [{id, text, p}],
            #       transcript [turns as the judge sees them], rules
            # oracle.prob(["s1", "s2"]) -> P(both true), up to the order limit
            return {"text": "...", "citations": [{"kind": "prob", "ids": ["s1", "s2"],
                                                  "claimed": 0.25}]}

It runs in a child process (`debate.script_host`) inside a bubblewrap sandbox
(`debate.sandbox`: no view of the world file, the DB, the parent or the network) and sees
only that view; where the machine has no sandbox it runs only if the user trusts it
(`--trust-scripts`). A script that raises, hangs past the turn timeout, breaks the protocol
or sends more than the reply cap forfeits the turn; the debate goes on with a fresh child.
Closing never waits on a pipe: the child's whole process group (in the sandbox, its PID
namespace) is killed, so a helper process the script started cannot hold the debate up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from debate.errors import DebateError
from debate.models import Argument
from debate.protocol import BaseDebater, DebaterView
from debate.rules import read_text
from debate.sandbox import (
    HOST_FILE,
    HOST_IN_BOX,
    SCRIPT_IN_BOX,
    Limits,
    Sandbox,
    bwrap_argv,
    probe,
    runner_argv,
    trusted_by_env,
    unavailable_reason,
)
from debate.verify import Oracle

#: Longest message the child may send (a speech with citations is far smaller).
LINE_LIMIT = Limits().reply_bytes

#: Environment variables a user's script never inherits: API keys and other secrets.
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)

#: How long closing waits for a killed child to be reaped (SIGKILL is immediate; this
#: only bounds a child stuck in the kernel).
REAP_SECONDS = 5.0


def child_env() -> dict[str, str]:
    """The parent's environment without anything that looks like a secret, so a script
    cannot quote an API key into its speech (and from there into logs and exports)."""
    return {k: v for k, v in os.environ.items() if not SECRET_NAME.search(k)}


class _ProtocolError(DebateError):
    """The child broke the protocol: its process is replaced before the next turn."""


class _Child:
    """One running child: its process and the two ends of the protocol we hold."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        read_transport: asyncio.BaseTransport,
    ) -> None:
        self.proc = proc
        self.reader = reader
        self.writer = writer
        self._read_transport = read_transport

    def kill(self) -> None:
        """SIGKILL the child's process group and drop our pipe ends; waits for nothing."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: start_new_session
        self.writer.close()
        self._read_transport.close()


class ScriptDebater(BaseDebater):
    """`script:path/to/file.py:ClassName` — a user's class in a separate, sandboxed process."""

    def __init__(
        self, path: str, cls: str, *, trust: bool = False, limits: Limits | None = None
    ) -> None:
        p = Path(path)
        if not p.is_file():
            raise DebateError(f"script {path}: no such file; check the path in script:FILE:Class")
        self.path = str(p.resolve())
        self.cls = cls
        self.name = f"script:{path}:{cls}"
        self.limits = limits or Limits()
        self.box: Sandbox | None = probe()
        if self.box is None and not (trust or trusted_by_env()):
            raise DebateError(
                f"script:{path} needs a sandbox and {unavailable_reason()}; or, if you trust "
                "the script, pass --trust-scripts to run it with your own rights"
            )
        #: False when it runs with the user's rights (no sandbox here, --trust-scripts).
        self.sandboxed = self.box is not None
        self._child: _Child | None = None
        self._dead: list[asyncio.subprocess.Process] = []
        self._seq = 0
        #: Why the class could not be loaded: every later turn forfeits with the same reason.
        self._fatal: str | None = None

    def _argv(self, fds: tuple[int, int]) -> list[str]:
        if self.box is None:
            return runner_argv(
                sys.executable, str(HOST_FILE), self.path, self.cls, fds, self.limits, ""
            )
        return bwrap_argv(self.box, self.path, limits=self.limits) + runner_argv(
            sys.executable,
            HOST_IN_BOX,
            SCRIPT_IN_BOX,
            self.cls,
            fds,
            self.limits,
            self.box.drop_to or "",
        )

    async def _start(self) -> _Child:
        if self._child is not None and self._child.proc.returncode is None:
            return self._child
        self.kill()  # a child that died on its own: reap it with the others
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        loop = asyncio.get_running_loop()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._argv((to_child_r, from_child_w)),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                pass_fds=(to_child_r, from_child_w),
                start_new_session=True,
                env=child_env(),
            )
        except OSError as exc:
            for fd in (to_child_w, from_child_r):
                os.close(fd)
            raise DebateError(f"cannot start the script's process: {exc.strerror}") from None
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        reader = asyncio.StreamReader(limit=self.limits.reply_bytes)
        rtransport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(from_child_r, "rb", 0)
        )
        wtransport, wproto = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()),
            os.fdopen(to_child_w, "wb", 0),
        )
        writer = asyncio.StreamWriter(wtransport, wproto, None, loop)
        self._child = _Child(proc, reader, writer, rtransport)
        return self._child

    def kill(self) -> None:
        """Stop the child at once (after a timeout or a protocol error); `aclose` reaps it."""
        child, self._child = self._child, None
        if child is not None:
            child.kill()
            self._dead.append(child.proc)

    async def aclose(self) -> None:
        """Kill the child's whole group and reap the process we started; never waits on a
        pipe (a helper the script started may hold one), so it ends in milliseconds."""
        self.kill()
        dead, self._dead = self._dead, []
        for proc in dead:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), REAP_SECONDS)

    async def argue(self, view: DebaterView, oracle: Oracle) -> Argument:
        try:
            return await self._argue(view, oracle)
        except asyncio.CancelledError:
            self.kill()  # it hung past the timeout: a fresh child next turn
            raise
        except _ProtocolError:
            self.kill()  # whatever it sent next would be out of step: a fresh child
            raise

    async def _send(self, child: _Child, msg: dict[str, Any]) -> None:
        try:
            child.writer.write((json.dumps(msg) + "\n").encode())
            await child.writer.drain()
        except (ConnectionError, RuntimeError):
            raise _ProtocolError("the script's process exited without a speech") from None

    async def _receive(self, child: _Child, seq: int) -> dict[str, Any]:
        try:
            line = await child.reader.readline()
        except (ValueError, asyncio.LimitOverrunError):
            cap = self.limits.reply_bytes
            raise _ProtocolError(f"the script sent more than {cap} bytes at once") from None
        if not line:
            raise _ProtocolError("the script's process exited without a speech")
        try:
            msg = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _ProtocolError("the script's process sent something that is not JSON") from None
        if not isinstance(msg, dict) or msg.get("seq") != seq:
            raise _ProtocolError("the script's process sent a message out of turn")
        return msg

    async def _argue(self, view: DebaterView, oracle: Oracle) -> Argument:
        if self._fatal is not None:
            raise DebateError(self._fatal)
        child = await self._start()
        self._seq += 1
        seq = self._seq
        await self._send(child, {"type": "argue", "seq": seq, "view": view.model_dump()})
        while True:
            msg = await self._receive(child, seq)
            kind = msg.get("type")
            if kind == "oracle":
                try:
                    reply = {"type": "answer", "p": oracle.prob([str(x) for x in msg["ids"]])}
                except (DebateError, KeyError, TypeError) as exc:
                    reply = {"type": "error", "message": str(exc)}
                await self._send(child, {**reply, "seq": seq})
            elif kind == "argument":
                try:
                    return Argument.model_validate(msg["argument"])
                except (ValidationError, KeyError) as exc:
                    if isinstance(exc, KeyError):
                        raise DebateError("the script returned no argument") from None
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
                raise _ProtocolError("the script's process sent an unknown message")


class FileDebater(BaseDebater):
    """`file:speeches.toml` (or .json) — the speeches for each turn, written in advance.

    The file holds `[[turn]]` tables (or a JSON list, bare or under "turns"), each an Argument:
    `text` and optional `citations`. Turns are used in order; after the last one the
    debater forfeits.
    """

    def __init__(self, path: str) -> None:
        p = Path(path)
        raw = read_text(p, "debate", "TOML or JSON")
        try:
            data = json.loads(raw) if p.suffix == ".json" else tomllib.loads(raw)
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
