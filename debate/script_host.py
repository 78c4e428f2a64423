"""The child process that runs a user's debater class, isolated from the engine.

Started as `python -I -B script_host.py FILE CLASS IN,OUT CPU,AS,NPROC,FSIZE UID:GID|-`
(debate/script.py; inside the sandbox of debate/sandbox.py when there is one). It is one
file that imports only the standard library: the sandbox shows it alone, not pzjudge.

Before the user's code runs it lowers its resource limits, reads the script, and (when
started as root) becomes `nobody`. The protocol runs over its own two pipes, IN and OUT,
not over stdin/stdout: fd 0 and 1 are /dev/null and `print` goes to stderr, so nothing the
script writes can shift a reply. Every message carries the turn's `seq`, so a stray or
forged line is a protocol error, never the next turn's answer. It receives only the
debater's view, never the world.

Protocol (one JSON object per line):
  engine → host  {"type": "argue", "seq": n, "view": {...}}
  host → engine  {"type": "oracle", "seq": n, "ids": [...]}          (any number of times)
  engine → host  {"type": "answer", "seq": n, "p": 0.25} | {"type": "error", "seq": n, ...}
  host → engine  {"type": "argument", "seq": n, "argument": {...}}
               | {"type": "error", "seq": n, "message": "...", "fatal": bool}
(fatal: the class did not load; every turn would fail the same way.)

With FILE `-` it only checks that it can start here (the sandbox probe) and prints
`pzjudge-sandbox-ok`.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import inspect
import json
import os
import resource
import signal
import sys
import traceback
import types
from typing import Any, TextIO

#: prctl(2) option: the signal this process gets when its parent dies.
PR_SET_PDEATHSIG = 1


class ScriptOracle:
    """What a script may ask: joint probabilities of up to the order limit."""

    def __init__(self, inp: TextIO, out: TextIO) -> None:
        self._in = inp
        self._out = out
        self.seq = 0

    def prob(self, ids: list[str]) -> float:
        """P(all `ids` true). Raises ValueError when the query is refused."""
        self._out.write(json.dumps({"type": "oracle", "seq": self.seq, "ids": list(ids)}) + "\n")
        self._out.flush()
        reply = json.loads(self._in.readline() or "{}")
        if reply.get("seq") != self.seq:
            raise ValueError("oracle reply out of turn")
        if reply.get("type") != "answer":
            raise ValueError(reply.get("message", "oracle unavailable"))
        return float(reply["p"])


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when the engine dies (Linux; the sandbox adds
    its own --die-with-parent)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _limit(spec: str) -> None:
    """Lower (never raise) CPU seconds, address space, processes and file size; no core."""
    cpu, space, nproc, fsize = (int(x) for x in spec.split(","))
    for res, value in (
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_AS, space),
        (resource.RLIMIT_NPROC, nproc),
        (resource.RLIMIT_FSIZE, fsize),
        (resource.RLIMIT_CORE, 0),
    ):
        _, hard = resource.getrlimit(res)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(res, (value, value))


def _become(ids: str) -> None:
    """Switch to `uid:gid` for good (pzjudge runs as root: RLIMIT_NPROC binds only others)."""
    uid, gid = (int(x) for x in ids.split(":"))
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("could not drop privileges")


def _load(path: str, source: bytes, cls: str) -> Any:
    module = types.ModuleType("pzjudge_user_debater")
    module.__file__ = path
    sys.modules[module.__name__] = module
    exec(compile(source, path, "exec"), module.__dict__)
    return getattr(module, cls)()


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    return obj


def _self_check(drop: str) -> int:
    """The probe: limits and privileges work, and pzjudge is not importable here."""
    if drop != "-":
        _become(drop)
    # a masked package is an empty directory, importable as a namespace: look for a module
    try:
        visible = importlib.util.find_spec("latent.pz") is not None
    except ImportError:
        visible = False
    if visible:
        print("pzjudge's packages are visible", file=sys.stderr)
        return 1
    print("pzjudge-sandbox-ok")
    return 0


def main(argv: list[str]) -> int:
    path, cls, fds, limits, drop = argv
    _die_with_parent()
    _limit(limits)
    if path == "-":
        return _self_check(drop)
    in_fd, out_fd = (int(x) for x in fds.split(","))
    for fd in (in_fd, out_fd):
        os.set_inheritable(fd, False)  # a helper process the script starts never holds them
    proto_in = os.fdopen(in_fd, "r", encoding="utf-8")
    proto_out = os.fdopen(out_fd, "w", encoding="utf-8")
    sys.stdout = sys.stderr  # user prints go where the protocol is not
    failure: str | None = None
    debater: Any = None
    try:
        with open(path, "rb") as f:
            source = f.read()
        if drop != "-":
            _become(drop)
        debater = _load(path, source, cls)
    except BaseException as exc:
        failure = f"could not load {cls} from the script: {exc.__class__.__name__}: {exc}"
    oracle = ScriptOracle(proto_in, proto_out)
    for line in proto_in:
        msg = json.loads(line)
        if msg.get("type") != "argue":
            continue
        seq = oracle.seq = msg.get("seq")
        if failure is not None:
            reply: dict[str, Any] = {"type": "error", "message": failure, "fatal": True}
        else:
            try:
                arg = debater.argue(msg["view"], oracle)
                if inspect.iscoroutine(arg):  # `async def argue` works too (the oracle blocks)
                    arg = asyncio.run(arg)
                reply = {"type": "argument", "argument": _jsonable(arg)}
            except BaseException as exc:
                traceback.print_exc(file=sys.stderr)
                first = (str(exc).strip().splitlines() or [""])[0]
                message = f"{exc.__class__.__name__}: {first}".rstrip(": ")
                reply = {"type": "error", "message": message}
        try:
            text = json.dumps({**reply, "seq": seq})
        except (TypeError, ValueError) as exc:
            text = json.dumps({"type": "error", "seq": seq, "message": f"TypeError: {exc}"})
        proto_out.write(text + "\n")
        proto_out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
