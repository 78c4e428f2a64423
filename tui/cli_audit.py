"""`pzjudge audit`: can a simple heuristic tell the honest side? Many rounds, headless.

The rounds and the tests are debate/audit.py's; this module plays, saves, loads and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from debate.errors import DebateError
from tui.cli_common import add_command, emit, nonneg, positive


def cmd_audit(args: argparse.Namespace) -> int:
    """Play many rounds headlessly and test simple heuristics against a coin."""
    from debate.audit import AuditSpec, WorldOptions, markdown, render, report
    from debate.rounds import PRESETS
    from store.export import finite

    world = {k: v for k, v in PRESETS[args.preset].items() if k in WorldOptions.model_fields}
    for key in ("statements", "families", "counterexamples", "flips"):
        if getattr(args, key) is not None:
            world[key] = getattr(args, key)
    judges = [j.strip() for j in args.judge.split(",") if j.strip()]
    spec = AuditSpec(
        label=f"preset {args.preset}",
        world=WorldOptions(**world),
        liar=args.liar,
        judges=judges,
        rounds=args.rounds,
        seed=args.seed,
        rules_file=args.rules,
        claims_only=args.claims_only,
    )

    if args.load:
        saved, facts = _load_audit(args.load)
        # the spec the rounds were played with (saved with them), not this command's defaults
        spec = (saved or spec.model_copy(update={"label": f"rounds in {args.load}"})).model_copy(
            update={"rounds": len(facts), "judges": list(facts[0].credence_a)}
        )
    else:
        facts = _play_audit(spec, args.workers, args.save)
    rep = report(spec, facts)
    emit(
        args,
        finite(rep.model_dump(mode="json")),
        lambda: (markdown if args.markdown else render)(rep),
    )
    return 0


def _load_audit(path: str) -> tuple[Any, list[Any]]:
    """The spec and the rounds saved by `audit --save` (one JSON object a line; the first
    line is the spec, absent from files saved before it was written)."""
    from pydantic import ValidationError

    from debate.audit import AuditSpec, RoundFacts

    spec = None
    facts = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith('{"audit_spec":'):
                    spec = AuditSpec.model_validate(json.loads(line)["audit_spec"])
                elif line.strip():
                    facts.append(RoundFacts.model_validate_json(line))
    except OSError as exc:
        raise DebateError(f"{path}: cannot read it ({exc.strerror}); check the path") from None
    except ValidationError:
        raise DebateError(f"{path}: not rounds saved by `pzjudge audit --save`") from None
    except (ValueError, KeyError):
        raise DebateError(f"{path}: not rounds saved by `pzjudge audit --save`") from None
    if not facts:
        raise DebateError(f"{path}: no rounds in it; play some with `pzjudge audit --save`")
    return spec, facts


def _play_audit(spec: Any, workers: int, save: str | None) -> list[Any]:
    """Play the audit's rounds, with progress on a terminal, each round saved as played."""
    from debate.audit import play_rounds

    tty = sys.stderr.isatty()
    try:
        out = open(save, "w", encoding="utf-8") if save else None  # noqa: SIM115
    except OSError as exc:
        raise DebateError(
            f"{save}: cannot write it ({exc.strerror}); choose another path"
        ) from None
    if out is not None:
        out.write(json.dumps({"audit_spec": spec.model_dump(mode="json")}) + "\n")

    def progress(done: int, new: list[Any]) -> None:
        if out is not None:
            out.writelines(f.model_dump_json() + "\n" for f in new)
            out.flush()
        if tty:  # a 1,000-round audit takes minutes
            print(f"\raudit: {done}/{spec.rounds} rounds", end="", file=sys.stderr, flush=True)

    try:
        return play_rounds(spec, workers=workers, on_progress=progress)
    finally:
        if out is not None:
            out.close()
        if tty:
            print(file=sys.stderr)


def add_audit_command(sub: Any) -> None:
    """Register `pzjudge audit` on the top-level parser."""
    au = add_command(
        sub, "audit", cmd_audit, "can a heuristic tell the honest side? many rounds, headless"
    )
    au.add_argument("--preset", choices=["practice", "debate", "hard"], default="debate")
    au.add_argument("--rounds", type=positive, default=200, help="rounds to play (default 200)")
    au.add_argument("--seed", type=nonneg, default=0)
    au.add_argument("--statements", type=positive, help="override the preset's statements")
    au.add_argument("--families", type=nonneg, help="override the preset's families")
    au.add_argument("--counterexamples", type=nonneg, help="override the preset's traps")
    au.add_argument("--flips", type=nonneg, help="override the preset's flips")
    au.add_argument(
        "--liar", default="random-liar", metavar="SPEC", help="builtin:NAME or random-liar"
    )
    au.add_argument(
        "--judge", default="maxent,independence,bounds", help="comma-separated simulated judges"
    )
    au.add_argument("--rules", help="rules file (TOML)")
    au.add_argument("--workers", type=positive, default=2, help="processes (default 2)")
    au.add_argument("--markdown", action="store_true", help="one Markdown table (for docs)")
    au.add_argument("--save", metavar="FILE", help="write each round as played (JSON lines)")
    au.add_argument(
        "--claims-only",
        action="store_true",
        help="deal the rounds without debates: audit only where the claims sit (fast)",
    )
    au.add_argument("--load", metavar="FILE", help="report on rounds saved by --save")
