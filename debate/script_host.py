"""The child process that runs a user's debater class, isolated from the engine.

Started as `python -m debate.script_host FILE CLASS`. It speaks JSON lines with the
engine over its own stdin/stdout; whatever the user's code prints goes to stderr so it
cannot corrupt the protocol. It receives only the debater's view, never the world.

Protocol (one JSON object per line):
  engine → host  {"type": "argue", "view": {...}}
  host → engine  {"type": "oracle", "ids": [...]}          (any number of times)
  engine → host  {"type": "answer", "p": 0.25} | {"type": "error", "message": "..."}
  host → engine  {"type": "argument", "argument": {...}} | {"type": "error", "message": "..."}
  host → engine  {"type": "error", "message": "...", "fatal": true}  (the class did not load)
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import sys
import traceback
from typing import Any, TextIO


class ScriptOracle:
    """What a script may ask: joint probabilities of up to the order limit."""

    def __init__(self, inp: TextIO, out: TextIO) -> None:
        self._in = inp
        self._out = out

    def prob(self, ids: list[str]) -> float:
        """P(all `ids` true). Raises ValueError when the query is refused."""
        self._out.write(json.dumps({"type": "oracle", "ids": list(ids)}) + "\n")
        self._out.flush()
        reply = json.loads(self._in.readline() or "{}")
        if reply.get("type") != "answer":
            raise ValueError(reply.get("message", "oracle unavailable"))
        return float(reply["p"])


def _load(path: str, cls: str) -> Any:
    spec = importlib.util.spec_from_file_location("pzjudge_user_debater", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, cls)()


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    return obj


def main(argv: list[str]) -> int:
    proto_out = sys.stdout
    sys.stdout = sys.stderr  # user prints must not reach the protocol
    proto_in = sys.stdin
    try:
        debater = _load(argv[0], argv[1])
    except BaseException as exc:
        msg = f"could not load {argv[1]} from {argv[0]}: {exc.__class__.__name__}: {exc}"
        proto_out.write(json.dumps({"type": "error", "message": msg, "fatal": True}) + "\n")
        proto_out.flush()
        return 1
    oracle = ScriptOracle(proto_in, proto_out)
    for line in proto_in:
        msg = json.loads(line)
        if msg.get("type") != "argue":
            continue
        try:
            arg = debater.argue(msg["view"], oracle)
            if inspect.iscoroutine(arg):  # `async def argue` works too (the oracle blocks)
                arg = asyncio.run(arg)
            reply = {"type": "argument", "argument": _jsonable(arg)}
            text = json.dumps(reply)
        except BaseException as exc:
            traceback.print_exc(file=sys.stderr)
            first = (str(exc).strip().splitlines() or [""])[0]
            text = json.dumps(
                {"type": "error", "message": f"{exc.__class__.__name__}: {first}".rstrip(": ")}
            )
        proto_out.write(text + "\n")
        proto_out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
