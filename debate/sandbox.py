"""Where a user's debater script runs: a bubblewrap sandbox, and the limits it runs under.

A `script:` debater is someone else's Python. Unconfined it could read the parent's
environment (API keys) and command line (world file, DB path), open the DB (the truth of
the open round), import `latent` on the world file (exact P(Z)), write files, open
sockets, fork without end. Under bubblewrap (`bwrap`) it runs in new PID, network, IPC
and UTS namespaces (and a new user namespace, or as `nobody` when pzjudge runs as root:
RLIMIT_NPROC does not bind uid 0), with a file system of its own built from read-only
binds of the Python runtime, one read-only file (the script), a private, small, empty
`/tmp`, and a fresh `/proc` that shows only the sandbox. Nothing of the user's home, the
working directory, the world file, the DB or the pzjudge packages is in it; the runner
(`debate/script_host.py`, one file, standard library only) is bound alone.

`probe()` finds, once per process, the first set of flags that works on this machine
(user namespaces are often disabled in containers) by running the real runner under it.
Where none works, scripts run only when the user says they trust them.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

#: Where the runner and the script appear inside the sandbox.
HOST_IN_BOX = "/run/pzjudge/script_host.py"
SCRIPT_IN_BOX = "/run/pzjudge/debater.py"

#: The runner, one stdlib-only file: the sandbox needs nothing else of pzjudge.
HOST_FILE = Path(__file__).resolve().with_name("script_host.py")

#: pzjudge's own packages: never importable inside the sandbox (`latent` computes P(Z)).
PROJECT_PACKAGES = ("latent", "debate", "store", "tui")

#: System directories with the shared libraries Python needs, bound read-only.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

#: A few files of /etc that programs read at start (dynamic linker cache, time zone,
#: user names); the rest of /etc is not shown.
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group")

#: Set to 1 by `--trust-scripts`: where no sandbox works, scripts run with the user's rights.
TRUST_ENV = "PZJUDGE_TRUST_SCRIPTS"

INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)"
)


@dataclass(frozen=True)
class Limits:
    """Resource limits of a script's process (setrlimit, applied by the runner before the
    script is loaded), and the largest message it may send."""

    #: CPU seconds over the child's life (it lives for a debate); past it the child is
    #: killed and the turn forfeits; the next turn starts a fresh child.
    cpu_seconds: int = 120
    #: Address space in bytes (numpy and friends load well within it).
    address_space: int = 2 << 30
    #: Processes the child's user may have (in the sandbox: only the sandbox's).
    processes: int = 64
    #: Largest file it may write, in bytes (its /tmp is also capped at `tmp_bytes`).
    file_size: int = 16 << 20
    #: Size of the private /tmp.
    tmp_bytes: int = 64 << 20
    #: Largest single message (a speech, an oracle query) read from the child.
    reply_bytes: int = 4 << 20


@dataclass(frozen=True)
class Sandbox:
    """A working bubblewrap command line, less the per-script binds."""

    bwrap: str
    #: Namespace and privilege flags found to work here.
    flags: tuple[str, ...]
    #: uid:gid the runner switches to inside (when pzjudge runs as root), or None.
    drop_to: str | None
    #: What it isolates, for messages: e.g. "user, PID, network, IPC namespaces".
    summary: str


_NS = ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try")


def _candidates() -> list[tuple[tuple[str, ...], str | None, str]]:
    """Flag sets to try, strongest first."""
    out: list[tuple[tuple[str, ...], str | None, str]] = []
    if os.geteuid() == 0:
        # Root: a new user namespace would map the script to uid 0, which RLIMIT_NPROC
        # does not bind. Run it as nobody instead; bwrap keeps root's capabilities
        # without a user namespace, so drop all but the two the runner needs to switch.
        try:
            nobody = pwd.getpwnam("nobody")
            ids = f"{nobody.pw_uid}:{nobody.pw_gid}"
        except KeyError:
            ids = "65534:65534"
        caps = ("--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID")
        out.append(((*_NS, *caps), ids, "PID, network, IPC namespaces; runs as nobody"))
    out.append(
        (
            ("--unshare-user", "--disable-userns", *_NS),
            None,
            "user, PID, network, IPC namespaces",
        )
    )
    out.append((("--unshare-user", *_NS), None, "user, PID, network, IPC namespaces"))
    return out


def _runtime_dirs() -> list[str]:
    """Directories the Python runtime lives in (a venv, pyenv, /usr/local), bound read-only.

    The interpreter's prefixes and its standard library and site-packages; never the
    current directory or anything from PYTHONPATH (the runner runs with -I).
    """
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            paths.add(p)
    paths.add(str(Path(sys.executable).parent))
    paths.add(str(Path(os.path.realpath(sys.executable)).parent))
    dirs = sorted(os.path.realpath(p) for p in paths if os.path.isdir(p))
    # keep the outermost of nested directories (a bind of /a covers /a/b)
    kept: list[str] = []
    for d in dirs:
        if not any(d == k or d.startswith(k + os.sep) for k in kept):
            kept.append(d)
    return [d for d in kept if d != "/"]


def _within(path: str, dirs: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip(os.sep) + os.sep) for d in dirs)


def _project_dirs() -> list[str]:
    """Where pzjudge's packages live: masked when they sit inside a bound directory (a
    regular, non-editable install puts them in site-packages)."""
    found: list[str] = []
    for name in PROJECT_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        for loc in (spec.submodule_search_locations or []) if spec else []:
            found.append(os.path.realpath(loc))
    return found


def bwrap_argv(
    box: Sandbox,
    script: str,
    *,
    limits: Limits,
    runtime: list[str] | None = None,
    hidden: list[str] | None = None,
) -> list[str]:
    """The bubblewrap command line that shows the runner `script` and the runtime, and
    nothing else; the runner's own arguments follow it."""
    runtime = _runtime_dirs() if runtime is None else runtime
    hidden = _project_dirs() if hidden is None else hidden
    argv = [box.bwrap, *box.flags, "--die-with-parent", "--new-session"]
    # the private /tmp first: a bind below it (a runtime under /tmp) must not be covered
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    made: set[str] = {"/", "/tmp", "/proc", "/dev"}

    def parents(dest: str) -> list[str]:
        # bwrap makes missing parents 0700, which `nobody` cannot cross: make them 0755
        out: list[str] = []
        for parent in reversed(Path(dest).parents):
            p = str(parent)
            if p not in made and not _within(p, seen):
                made.add(p)
                out += ["--perms", "0755", "--dir", p]
        return out

    seen: list[str] = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
            seen.append(d)
    for f in ETC_FILES:
        argv += [*parents(f), "--ro-bind-try", f, f]
    for d in runtime:
        if not _within(d, seen):
            argv += [*parents(d), "--ro-bind", d, d]
            seen.append(d)
    # masks go after the binds they cover: an empty tmpfs over each project package
    for d in hidden:
        if _within(d, seen):
            argv += ["--tmpfs", d]
    argv += [*parents(HOST_IN_BOX), "--ro-bind", str(HOST_FILE), HOST_IN_BOX]
    argv += ["--ro-bind", script, SCRIPT_IN_BOX]
    argv += ["--chdir", "/tmp", "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp"]
    argv += ["--unsetenv", "PWD", "--unsetenv", "OLDPWD"]
    return argv


def runner_argv(
    python: str, host: str, script: str, cls: str, fds: tuple[int, int], limits: Limits, drop: str
) -> list[str]:
    """The runner's command line: isolated Python (-I: no PYTHONPATH, no user site, not the
    current directory), the protocol's two descriptors, the limits, whom to become."""
    lim = f"{limits.cpu_seconds},{limits.address_space},{limits.processes},{limits.file_size}"
    return [python, "-I", "-B", host, script, cls, f"{fds[0]},{fds[1]}", lim, drop or "-"]


@functools.cache
def probe() -> Sandbox | None:
    """The strongest sandbox that works here (checked by running the runner in it), or None."""
    exe = shutil.which("bwrap")
    if exe is None:
        return None
    for flags, drop, summary in _candidates():
        box = Sandbox(exe, flags, drop, summary)
        argv = bwrap_argv(box, str(HOST_FILE), limits=Limits())
        argv += runner_argv(sys.executable, HOST_IN_BOX, "-", "-", (-1, -1), Limits(), drop or "")
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=20,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0 and done.stdout.strip() == b"pzjudge-sandbox-ok":
            return box
    return None


def trusted_by_env() -> bool:
    """True when the user said (`--trust-scripts`, or PZJUDGE_TRUST_SCRIPTS=1) that scripts may
    run unsandboxed where no sandbox works."""
    return os.environ.get(TRUST_ENV, "").strip().lower() in ("1", "true", "yes")


def unavailable_reason() -> str:
    """Why no sandbox works here (for the one-line message), assuming `probe()` is None."""
    if shutil.which("bwrap") is None:
        return f"bubblewrap (bwrap) is not installed; {INSTALL_HINT}"
    return (
        "bubblewrap is installed but cannot create namespaces here (user namespaces may be "
        "disabled: sysctl kernel.unprivileged_userns_clone=1, or run outside the container)"
    )
