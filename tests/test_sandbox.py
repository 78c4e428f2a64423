"""A scripted debater is someone else's code: each attack it could make is refused or harmless.

The attacks of issue 10, each written as a hostile `script:` class that reports what it
managed to do, run through the real `ScriptDebater` under bubblewrap. Skipped (and said
so) only where this machine has no working bubblewrap; CI installs it (.ci/run).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from helpers import alive as _alive
from helpers import d4_view as _view

from debate.errors import DebateError
from debate.sandbox import Limits, probe
from debate.script import ScriptDebater
from debate.verify import Oracle
from latent.world import load_world

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.skipif(
    probe() is None,
    reason="no working bubblewrap here (apt-get install bubblewrap): the sandbox is untested",
)


def _oracle() -> Oracle:
    return Oracle(load_world(EXAMPLES / "d4.json"), max_order=2)


def _debater(tmp_path: Path, body: str, cls: str = "D", **kw: Any) -> ScriptDebater:
    # the script sits in its own directory: nothing beside it is shown either
    d = tmp_path / "scripts"
    d.mkdir(exist_ok=True)
    path = d / f"{cls}.py"
    path.write_text(textwrap.dedent(body))
    return ScriptDebater(str(path), cls, **kw)


def _turns(deb: ScriptDebater, n: int = 1, timeout: float = 30.0) -> list[str]:
    """Play `n` turns; each is the speech's text, or `forfeit: reason`."""

    async def go() -> list[str]:
        out = []
        try:
            for turn in range(n):
                try:
                    arg = await asyncio.wait_for(deb.argue(_view(turn), _oracle()), timeout)
                    out.append(arg.text)
                except DebateError as exc:
                    out.append(f"forfeit: {exc}")
        finally:
            await deb.aclose()
        return out

    return asyncio.run(go())


def _report(deb: ScriptDebater) -> dict[str, Any]:
    (text,) = _turns(deb)
    assert not text.startswith("forfeit"), text
    return dict(json.loads(text))


#: A hostile script's helper: try something, record what happened.
TRY = """
import json, os, sys
found = {}
def attempt(name, fn):
    try:
        found[name] = repr(fn())[:2000]
    except BaseException as exc:
        found[name] = "refused: " + exc.__class__.__name__
"""


def _hostile(argue: str, before: str = "") -> str:
    """A hostile script: `before` at module level, then a turn that runs `argue` (lines
    indented 8 spaces) and answers with everything `attempt` recorded, as JSON."""
    turn = "class D:\n    def argue(self, view, oracle):\n"
    return TRY + before + turn + argue + '        return {"text": json.dumps(found)}\n'


def _found_by(tmp_path: Path, argue: str) -> dict[str, Any]:
    """What a hostile script (see `_hostile`) found in its turn."""
    return _report(_debater(tmp_path, _hostile(argue)))


def _secrets_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A parent with a key in its environment, a DB and a world file, in a telling cwd."""
    work = tmp_path / "cwd-sentinel-e1f7"
    work.mkdir()
    db = work / "pz.db"
    db.write_text("truth_pz=0.123456 honest_side=b")
    world = work / "world.json"
    world.write_text((EXAMPLES / "d4.json").read_text())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sentinel-8c2d")
    monkeypatch.chdir(work)
    return {"db": str(db), "world": str(world), "work": str(work), "pid": str(os.getpid())}


def test_parent_environment_cmdline_and_cwd_are_out_of_sight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _secrets_setup(tmp_path, monkeypatch)
    seen = _found_by(
        tmp_path,
        f"""
        for pid in ({s["pid"]}, os.getppid(), 1):
            attempt(f"environ {{pid}}", lambda: open(f"/proc/{{pid}}/environ", "rb").read())
            attempt(f"cmdline {{pid}}", lambda: open(f"/proc/{{pid}}/cmdline", "rb").read())
            attempt(f"cwd {{pid}}", lambda: os.readlink(f"/proc/{{pid}}/cwd"))
        every = {{}}
        for p in os.listdir("/proc"):
            if p.isdigit():
                for what in ("environ", "cmdline"):
                    try:
                        every[p + what] = open(f"/proc/{{p}}/{{what}}", "rb").read().decode()
                    except OSError:
                        pass
        found["every"] = every
        found["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        found["own"] = dict(os.environ)
""",
    )
    dump = json.dumps(seen)
    assert "sk-sentinel-8c2d" not in dump  # neither the parent's nor anyone's environment
    assert "cwd-sentinel-e1f7" not in dump  # nor the parent's working directory
    cmdlines = [v for k, v in seen["every"].items() if k.endswith("cmdline")]
    assert not any("test_sandbox" in c for c in cmdlines)  # nor the parent's command line
    assert s["pid"] not in seen["pids"] or int(s["pid"]) < 10  # its own PID namespace
    assert len(seen["pids"]) <= 4  # bwrap's init, the runner (and what it forked)


def test_db_world_file_and_latent_are_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _secrets_setup(tmp_path, monkeypatch)
    seen = _found_by(
        tmp_path,
        f"""
        attempt("db", lambda: open({s["db"]!r}).read())
        attempt("world", lambda: open({s["world"]!r}).read())
        attempt("work dir", lambda: os.listdir({s["work"]!r}))
        attempt("script dir", lambda: sorted(os.listdir(os.path.dirname(__file__))))
        attempt("project", lambda: os.listdir({str(ROOT)!r}))
        sys.path[:0] = [{str(ROOT)!r}, {s["work"]!r}]
        def pz():
            from latent.pz import world_pz
            from latent.world import load_world
            return world_pz(load_world({s["world"]!r})).pz
        attempt("latent", pz)
        attempt("debate", lambda: __import__("debate.engine"))
        attempt("store", lambda: __import__("store.db"))
""",
    )
    for what in ("db", "world", "work dir", "latent", "debate", "store"):
        assert seen[what].startswith("refused"), (what, seen[what])
    # the project: refused, or (a virtualenv made inside the clone, as the README's
    # commands allow) nothing of it but the Python environment the script runs on
    venv = Path(sys.prefix).resolve()
    inside = venv.is_relative_to(ROOT.resolve())
    env = [venv.relative_to(ROOT.resolve()).parts[0]] if inside else []
    assert seen["project"].startswith("refused") or seen["project"] == repr(env), seen["project"]
    assert seen["latent"] == "refused: ModuleNotFoundError"
    # beside the script: only the runner
    assert seen["script dir"] == repr(sorted(["debater.py", "script_host.py"]))
    assert "0.123456" not in json.dumps(seen)


def test_project_packages_in_the_runtime_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A regular install puts `latent` in site-packages, which the sandbox shows: masked."""
    import debate.sandbox as sb

    site = tmp_path / "site-packages"
    (site / "latent").mkdir(parents=True)
    (site / "latent" / "pz.py").write_text("TRUTH = 'exact P(Z) here'\n")
    runtime = [*sb._runtime_dirs(), str(site)]
    body = f"""
import json, sys
sys.path.insert(0, {str(site)!r})
class D:
    def argue(self, view, oracle):
        try:
            from latent.pz import TRUTH
        except ImportError as exc:
            TRUTH = "refused: " + exc.__class__.__name__
        return {{"text": TRUTH}}
"""
    monkeypatch.setattr(sb, "_runtime_dirs", lambda: runtime)
    monkeypatch.setattr(sb, "_project_dirs", lambda: [str(site / "latent")])
    assert _turns(_debater(tmp_path, body)) == ["refused: ModuleNotFoundError"]
    # the control: the same runtime without the mask shows it (so the mask is what hides it)
    monkeypatch.setattr(sb, "_project_dirs", lambda: [])
    assert _turns(_debater(tmp_path, body)) == ["exact P(Z) here"]


def test_writes_land_only_in_a_private_tmp(tmp_path: Path) -> None:
    mark = f"pzjudge-sandbox-{uuid.uuid4().hex}"
    deb = _debater(
        tmp_path,
        _hostile(
            f"""
        attempt("script", lambda: open(__file__, "a").write("x"))
        attempt("runtime", lambda: open(os.path.join(sys.prefix, {mark!r}), "w").write("x"))
        attempt("usr", lambda: open("/usr/{mark}", "w").write("x"))
        attempt("outside", lambda: open({str(tmp_path / mark)!r}, "w").write("x"))
        attempt("tmp", lambda: open("/tmp/{mark}", "w").write("x"))
        attempt("huge", lambda: open("/tmp/big", "wb").write(b"x" * (64 << 20)))
"""
        ),
        limits=Limits(file_size=1 << 20),
    )
    script_text = Path(deb.path).read_text()
    seen = _report(deb)
    for what in ("script", "runtime", "usr", "outside", "huge"):
        assert seen[what].startswith("refused"), (what, seen[what])
    assert seen["tmp"] == "1"  # its own /tmp works…
    assert not Path("/tmp", mark).exists()  # …and is not the machine's
    assert not (tmp_path / mark).exists()
    assert Path(deb.path).read_text() == script_text


def test_no_network_not_even_loopback(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        deb = _debater(
            tmp_path,
            _hostile(
                f"""
        attempt("loopback", lambda: connect(("127.0.0.1", {port})))
        attempt("outside", lambda: connect(("192.0.2.1", 80)))
""",
                before="""
import socket
def connect(addr):
    with socket.create_connection(addr, timeout=2):
        return "connected"
""",
            ),
        )
        seen = _report(deb)
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody came
    assert seen["loopback"].startswith("refused")
    assert seen["outside"].startswith("refused")


def test_fork_bomb_is_capped_and_dies_with_the_debate(tmp_path: Path) -> None:
    cls = f"Bomb{uuid.uuid4().hex[:12]}"
    deb = _debater(
        tmp_path,
        f"""
import os, time
class {cls}:
    def argue(self, view, oracle):
        forked = 0
        for _ in range(500):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(120)
                os._exit(0)
            forked += 1
        return {{"text": str(forked)}}
""",
        cls=cls,
        limits=Limits(processes=16),
    )
    (text,) = _turns(deb)
    assert int(text) < 16
    deadline = time.monotonic() + 10
    while _alive(cls) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive(cls) == []  # closing the debater took every fork with it


def test_runaway_memory_and_cpu_are_limited(tmp_path: Path) -> None:
    mem = _debater(
        tmp_path,
        """
class D:
    def argue(self, view, oracle):
        try:
            hog = bytearray(3 << 30)
        except MemoryError:
            return {"text": "MemoryError"}
        return {"text": f"got {len(hog)} bytes"}
""",
        limits=Limits(address_space=1 << 30),
    )
    assert _turns(mem) == ["MemoryError"]
    spin = _debater(
        tmp_path,
        "class Spin:\n    def argue(self, view, oracle):\n        while True:\n            pass\n",
        cls="Spin",
        limits=Limits(cpu_seconds=1),
    )
    t0 = time.monotonic()
    (text,) = _turns(spin, timeout=60)
    assert text == "forfeit: the script's process exited without a speech"
    assert time.monotonic() - t0 < 30  # SIGXCPU, long before the turn timeout


def test_writing_to_stdout_never_shifts_replies(tmp_path: Path) -> None:
    """Garbage and forged replies on fd 1 (the old protocol channel) change nothing."""
    deb = _debater(
        tmp_path,
        """
import json, os, sys
class D:
    n = 0
    def argue(self, view, oracle):
        self.n += 1
        forged = {"type": "argument", "seq": self.n + 1,
                  "argument": {"text": "FORGED", "citations": []}}
        for out in (1, 2):
            os.write(out, (json.dumps(forged) + "\\n").encode() + b"\\x00garbage\\n")
        print(json.dumps(forged))
        sys.__stdout__.write("not json\\n")
        sys.__stdout__.flush()
        return {"text": f"turn {self.n} p={oracle.prob(['A', 'B'])}"}
""",
    )
    assert _turns(deb, 3) == ["turn 1 p=0.25", "turn 2 p=0.25", "turn 3 p=0.25"]


def test_a_huge_reply_forfeits_that_turn_only(tmp_path: Path) -> None:
    deb = _debater(
        tmp_path,
        """
class D:
    started = 0
    def __init__(self):
        D.started += 1
        self.n = 0
    def argue(self, view, oracle):
        self.n += 1
        if view["round"] == 0:
            return {"text": "x" * (100 << 20)}
        return {"text": f"ok: turn {self.n} of child {D.started}"}
""",
    )
    turns = _turns(deb, 3)
    assert turns[0] == f"forfeit: the script sent more than {Limits().reply_bytes} bytes at once"
    # a fresh child after the protocol error: its first turn, then its second
    assert turns[1:] == ["ok: turn 1 of child 1", "ok: turn 2 of child 1"]


#: A parent that starts a script debater whose script starts a helper, then waits.
PARENT = """
import asyncio, os, sys
sys.path[:0] = [{root!r}, os.path.join({root!r}, "tests")]  # the tests import their helpers
from debate.script import ScriptDebater
from tests.test_sandbox import _view, _oracle
async def main():
    deb = ScriptDebater({path!r}, {cls!r})
    arg = await deb.argue(_view(), _oracle())
    print(arg.text, flush=True)
    await asyncio.sleep(600)
asyncio.run(main())
"""


def test_the_child_dies_with_a_killed_parent(tmp_path: Path) -> None:
    cls = f"Orphan{uuid.uuid4().hex[:12]}"
    script = tmp_path / "orphan.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import subprocess, sys
            class {cls}:
                def argue(self, view, oracle):
                    subprocess.Popen(["sh", "-c", "sleep 300; : {cls}"])
                    return {{"text": "helper started"}}
            """
        )
    )
    code = PARENT.format(root=str(ROOT), path=str(script), cls=cls)
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=str(ROOT)
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "helper started"
        assert len(_alive(cls)) >= 2  # the runner and its helper
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(cls) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _alive(cls) == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
