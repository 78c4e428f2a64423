"""The `pzjudge` command line: the parser, and errors as one line.

Every command is a thin shell over the core: parse arguments, call one function, print
either JSON (`--json`) or a short readable summary. The commands live in one module per
group (tui/cli_world.py, cli_debate.py, cli_audit.py, cli_logs.py, mimic_cli.py,
study_cli.py); the game's own (play, serve) are here. Errors from the core become a single
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from typing import NoReturn

from debate.errors import DebateError
from latent.errors import PzJudgeError
from tui.cli_common import add_command, nonneg, store_args, trust_arg
from tui.errors import TuiError, error_line


def cmd_play(args: argparse.Namespace) -> int:
    """Launch the terminal game (Textual is imported only here); with --study, a
    participant's session of that study (tui/study_app.py)."""
    if args.study:
        from tui.study_app import run_study

        # a study fixes every round: nothing of the game's own settings applies
        for flag, value in (("--seed", args.seed), ("--judge", args.judge), ("--db", args.db)):
            if value is not None:
                raise DebateError(f"{flag} does not go with --study: the study fixes its rounds")
        run_study(args.study, args.participant)
        return 0
    if args.participant:
        raise DebateError("--participant goes with --study STUDY.db")
    from tui.app import run

    run(db_path=args.db, judge=args.judge, seed=args.seed)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the game in a browser on 127.0.0.1 (needs the `serve` extra: textual-serve), to
    whoever opens the printed address with its token (tui/serve.py); a study also on another
    address (`--host`), under the names the organiser states (`--public-name`)."""
    try:
        from tui.serve import LockedServer, check_host, is_loopback
    except ImportError:
        raise TuiError("pzjudge serve needs textual-serve: pip install 'pzjudge[serve]'") from None
    beyond = not is_loopback(check_host(args.host)) or args.public_name
    if beyond and not args.study:
        # the game lets its user export to any path and point debaters (and API keys) at
        # any server: only a study's locked rounds may be served to other machines
        flag = f"--host {args.host}" if not is_loopback(args.host) else "--public-name"
        raise TuiError(
            f"{flag}: only a study is served beyond this machine (add --study STUDY.db); "
            "the game itself stays on 127.0.0.1"
        )
    cmd = f"{shlex.quote(sys.executable)} -m tui.cli play"
    if args.study:
        # each browser gets its own game, which asks for a participant code
        from tui.study_app import check_participant

        check_participant(args.study, None)
        cmd += f" --study {shlex.quote(os.path.abspath(args.study))}"
    if args.db:
        cmd += f" --db {shlex.quote(args.db)}"
    if args.judge:
        cmd += f" --judge {shlex.quote(args.judge)}"
    # a random token per start, printed with the URL; other sites' pages are refused
    server = LockedServer(
        cmd, port=args.port, title="pzjudge", host=args.host, public_names=args.public_name
    )
    try:
        server.serve()
    except OSError as exc:
        raise TuiError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
            "choose another --port or --host"
        ) from None
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the game's commands, then each group's."""
    from tui.cli_audit import add_audit_command
    from tui.cli_debate import add_debate_commands
    from tui.cli_logs import add_logs_commands
    from tui.cli_world import add_world_commands
    from tui.mimic_cli import add_mimic_commands
    from tui.study_cli import add_study_commands

    p = _Parser(
        prog="pzjudge",
        description="How well does a bounded judge estimate P(Z)? A game and research tool.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    pl_ = add_command(sub, "play", cmd_play, "play a judging session in the terminal")
    pl_.add_argument("--judge", help="your name as a judge (default: $USER)")
    pl_.add_argument("--seed", type=nonneg, help="seed of new sessions (default: random)")
    pl_.add_argument("--study", metavar="STUDY.db", help="take a study (from `study build`)")
    pl_.add_argument("--participant", metavar="CODE", help="with --study: your participant code")
    store_args(pl_)
    trust_arg(pl_)

    sv = add_command(sub, "serve", cmd_serve, "play in a browser: textual-serve on 127.0.0.1")
    sv.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    sv.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to listen on (default 127.0.0.1, this machine only); with --study, "
        "e.g. 0.0.0.0 for a lab network (then give --public-name)",
    )
    sv.add_argument(
        "--public-name",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name or address participants open (repeatable); requests naming any "
        "other Host are refused, which keeps DNS-rebinding sites out",
    )
    sv.add_argument("--judge", help="your name as a judge (default: $USER)")
    sv.add_argument("--study", metavar="STUDY.db", help="serve a study: each browser asks a code")
    sv.epilog = (
        "A study on a lab network: pzjudge serve --study study.db --host 0.0.0.0 "
        "--public-name lab.example.org; give participants the printed address (the same for "
        "all), and each browser asks for its participant code. Plain HTTP: use it on a "
        "network you trust (README: Run a study)."
    )
    store_args(sv)
    trust_arg(sv)

    add_world_commands(sub)
    add_debate_commands(sub)
    add_audit_command(sub)
    add_logs_commands(sub)
    add_mimic_commands(sub)
    add_study_commands(sub)
    return p


def _trust_scripts(args: argparse.Namespace) -> None:
    """--trust-scripts reaches every script debater, also those the game (or the game
    `serve` starts) makes later, through the environment (debate/sandbox.py)."""
    if getattr(args, "trust_scripts", False):
        from debate.sandbox import TRUST_ENV

        os.environ[TRUST_ENV] = "1"


#: Thread pools of the numeric libraries: one thread unless the user set otherwise.
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _one_blas_thread() -> None:
    """Our BLAS/LAPACK calls are small: with threads, OpenBLAS and OpenMP spin-wait, and
    with the other core busy `pzjudge bounds` took 2.4-2.8x longer (~30x in a tester's run).
    Must run before numpy is first imported, which no command does at parse time."""
    for var in _THREAD_VARS:
        os.environ.setdefault(var, "1")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `pzjudge` console script; returns the exit status."""
    _one_blas_thread()
    args = build_parser().parse_args(argv)
    _trust_scripts(args)
    try:
        return int(args.func(args))
    except PzJudgeError as exc:
        print(f"pzjudge: error: {error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pzjudge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
