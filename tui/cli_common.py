"""What every `pzjudge` command module shares: printing, the store, argument types.

The commands live in one module per group (tui/cli_world.py, cli_debate.py, cli_audit.py,
cli_logs.py, mimic_cli.py, study_cli.py); tui/cli.py wires them into one parser and turns
errors into one line. Nothing heavy is imported at parse time (see
`tui.cli._one_blas_thread`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from debate.fmt import fmt_log10
from debate.protocol import Debater

#: `generate`'s world options, which headless runs deal with too.
WORLD_OPTIONS = ("statements", "families", "counterexamples", "flips")


def cli_p(log10: float | None) -> str:
    """A probability that may be far below float range, from its log10: the project's one
    formatter with the command line's 6 significant digits (plain from 1e-4 up)."""
    return fmt_log10(log10, 6, plain_from=-4)


def safe(text: str) -> str:
    """What may reach the terminal: known secrets masked, URLs redacted, no control
    sequences (untrusted text is cleaned where it enters; this is the last guard)."""
    from debate.secrets import scrub_text
    from latent.text import clean_text

    return clean_text(scrub_text(text))


def emit(args: argparse.Namespace, payload: dict[str, Any], text: Callable[[], str]) -> None:
    """Print the payload as JSON with --json, else the readable summary `text()` writes."""
    if args.json:
        print(safe(json.dumps(payload, indent=2, allow_nan=False)))
    else:
        print(safe(text()))


def open_store(args: argparse.Namespace, *, create: bool = True) -> Any:
    """The store named by --db (or PZJUDGE_DB, or the data directory), or None for --no-store.

    Commands that only read (export, stats) pass `create=False`: a mistyped path is an
    error, not a new empty database.
    """
    if getattr(args, "no_store", False):
        return None
    from store.db import Store

    return Store(args.db, create=create)


def run_settings(args: argparse.Namespace, keys: Sequence[str]) -> dict[str, Any]:
    """How a headless run was started, stored with its session (the store drops secrets)."""
    return {k: getattr(args, k) for k in keys}


def warn_unsandboxed(debaters: Sequence[Debater]) -> None:
    """Say once, on stderr, that a script runs without a sandbox (the user trusted it)."""
    for d in debaters:
        if not d.sandboxed:
            from debate.sandbox import unavailable_reason

            print(
                f"pzjudge: warning: no sandbox ({unavailable_reason()}); script debaters run "
                "with your rights because of --trust-scripts",
                file=sys.stderr,
            )
            return


# --- the parser ---------------------------------------------------------------------------


def add_command(
    sub: Any, name: str, fn: Callable[[argparse.Namespace], int], help_: str
) -> argparse.ArgumentParser:
    """A (sub)command on `sub` that runs `fn`, with the --json every command has."""
    sp: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=help_)
    sp.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    sp.set_defaults(func=fn)
    return sp


def add_group(sub: Any, name: str, help_: str, description: str, dest: str, metavar: str) -> Any:
    """A command with steps of its own (`pzjudge mimic merge`, `pzjudge study build`): the
    subparsers its steps are added to."""
    gp = sub.add_parser(name, help=help_, description=description)
    return gp.add_subparsers(dest=dest, required=True, metavar=metavar)


def _whole(s: str, least: int) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a whole number") from None
    if v < least:
        raise argparse.ArgumentTypeError(f"must be >= {least}")
    return v


def nonneg(s: str) -> int:
    """An argument type: a whole number >= 0."""
    return _whole(s, 0)


def positive(s: str) -> int:
    """An argument type: a whole number >= 1."""
    return _whole(s, 1)


def number_in(lo: float, hi: float, message: str, *, ends: bool = True) -> Callable[[str], float]:
    """An argument type: a finite number in [lo, hi] (in (lo, hi) with ends=False);
    `message` says what to give otherwise."""

    def parse(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
        inside = lo <= v <= hi if ends else lo < v < hi
        if not (math.isfinite(v) and inside):
            raise argparse.ArgumentTypeError(message)
        return v

    return parse


#: `prob --rel-tol`: a relative standard error.
rel_tol = number_in(0.0, 1.0, "must be a number between 0 and 1, e.g. 0.005", ends=False)
#: A probability typed on the command line (`mimic round --answer`).
probability = number_in(0.0, 1.0, "give a probability between 0 and 1, e.g. 0.3")


def deal_args(sp: argparse.ArgumentParser) -> None:
    """--preset and `generate`'s world options: what a headless run deals, as the game."""
    sp.add_argument(
        "--preset",
        choices=["practice", "debate", "hard"],
        help="deal worlds as this game preset does (default debate)",
    )
    sp.add_argument("--statements", type=positive, help="statements per world (over the preset)")
    sp.add_argument("--families", type=nonneg, help="interpolation families")
    sp.add_argument("--counterexamples", type=nonneg, help="planted counterexamples")
    sp.add_argument("--flips", type=nonneg, help="negations hidden in families")


def store_args(sp: argparse.ArgumentParser, record: bool = False) -> None:
    """--db (and, for commands that record, --no-store)."""
    sp.add_argument("--db", help="database file (default: $PZJUDGE_DB or the data directory)")
    if record:
        sp.add_argument("--no-store", action="store_true", help="do not record into the store")


def trust_arg(sp: argparse.ArgumentParser) -> None:
    """--trust-scripts, for commands that may run script debaters."""
    sp.add_argument(
        "--trust-scripts",
        action="store_true",
        help="where no sandbox (bubblewrap) works, run script: debaters with your own rights",
    )
