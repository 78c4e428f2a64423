"""`pzjudge generate|prob|nway|bounds|plant`: worlds and what the core says of them.

Each command is a thin shell over latent/: parse, call one function, print JSON (`--json`)
or a short summary.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from debate.errors import DebateError
from latent.errors import LatentError
from tui.cli_common import add_command, cli_p, emit, nonneg, positive, rel_tol


def cmd_generate(args: argparse.Namespace) -> int:
    from latent.generate import generate_world
    from latent.world import save_world

    world = generate_world(
        seed=args.seed,
        statements=args.statements,
        families=args.families,
        counterexamples=args.counterexamples,
        flips=args.flips,
    )
    decoder = args.decoder or "builtin"
    if decoder != "builtin":
        kind, _, model = decoder.partition(":")
        if kind != "openai" or not model:
            raise DebateError(f"--decoder {decoder!r}: use builtin or openai:MODEL")
        from debate.llm_decoder import rewrite_world_sync

        world, report = rewrite_world_sync(world, model, base_url=args.base_url)
        if not report.rewritten:
            # a world labelled with the model's sentences that has none of them misleads
            raise DebateError(
                f"--decoder {decoder}: no sentence was reworded "
                f"({report.top_reasons()}); nothing written — "
                "fix the server or model, or leave out --decoder for the built-in sentences"
            )
        print(report.summary(), file=sys.stderr)
    if args.output:
        save_world(world, args.output)
        kinds = [b.trap or b.kind for b in world.blocks]
        if not args.json:
            print(
                f"wrote {args.output}: {world.n_statements} statements in {len(world.blocks)} "
                f"block{'' if len(world.blocks) == 1 else 's'} "
                f"({', '.join(f'{kinds.count(k)} {k}' for k in sorted(set(kinds)))})"
            )
        else:
            print(json.dumps({"path": args.output, "n_statements": world.n_statements}))
    else:
        sys.stdout.write(world.to_json())
    return 0


def cmd_prob(args: argparse.Namespace) -> int:
    from latent.pz import world_pz
    from latent.world import load_world

    res = world_pz(load_world(args.world), rel_tol=args.rel_tol, seed=args.seed)

    def text() -> str:
        se = f" ± {res.log10_pz_stderr:.2g} (log10)" if res.log10_pz_stderr else " (exact)"
        lines = [
            f"P(Z) = {cli_p(res.log10_pz)}   log10 P(Z) = "
            f"{'-inf (impossible)' if res.log10_pz is None else res.log10_pz}{se}",
            f"{len(res.blocks)} blocks:",
        ]
        for i, b in enumerate(res.blocks):
            tag = f" [{b.trap}]" if b.trap else ""
            lines.append(
                f"  {i:3d} {b.kind:8s} {b.n_statements:4d} statements{tag:10s} "
                f"log10 = {'-inf' if b.log10_pz is None else round(b.log10_pz, 6)}  ({b.method})"
            )
        return "\n".join(lines)

    emit(args, res.model_dump(), text)
    return 0


def cmd_nway(args: argparse.Namespace) -> int:
    from latent.nway import nway
    from latent.world import load_world

    res = nway(load_world(args.world), list(args.ids))

    def text() -> str:
        se = f" ± {res.log10_p_stderr:.2g}" if res.log10_p_stderr else ""
        return f"P({' ∩ '.join(res.ids)}) = {cli_p(res.log10_p)}   log10 = {res.log10_p}{se}"

    emit(args, res.model_dump(), text)
    return 0


def cmd_bounds(args: argparse.Namespace) -> int:
    from latent.bounds import bounds_from_known, world_bounds
    from latent.evidence import evidence_from_ids, load_evidence
    from latent.world import load_world

    world = load_world(args.world)
    chosen = args.known is not None or bool(args.subset)
    if chosen and args.order is not None:
        raise LatentError("give either --order K or a chosen list (--known/--subset), not both")
    if chosen:
        evidence = load_evidence(world, args.known) if args.known is not None else {}
        evidence.update(evidence_from_ids(world, [s.split(",") for s in args.subset or []]))
        res = bounds_from_known(world, evidence)
        what = f"these {len(evidence)} probabilities"
    else:
        order = 2 if args.order is None else args.order
        res = world_bounds(world, order)
        what = f"all ≤{order}-way probabilities"
    payload = res.model_dump()
    if chosen:
        payload["evidence"] = [{"ids": list(k), "p": v} for k, v in evidence.items()]

    def text() -> str:
        def f(v: float | None) -> str:
            return "—" if v is None else (cli_p(math.log10(v)) if v > 0 else "0")

        lines = [
            f"What {what} say about P(Z):",
            f"  truth        {f(payload['truth'])}",
            f"  range        [{f(payload['lower'])}, {f(payload['upper'])}]",
            f"  independence {f(payload['independence'])}",
            f"  maxent       {f(payload['maxent'])}",
            "per block:",
        ]
        for i, b in enumerate(payload["blocks"]):
            lines.append(
                f"  {i:3d} {b['n_statements']:4d} stmts  [{f(b['lower'])}, {f(b['upper'])}]  "
                f"truth {f(b['truth'])}  ({b['method']})"
                + ("  TRUTH OUTSIDE" if b["truth_outside"] else "")
            )
        if payload["truth_outside"]:
            lines.append(
                "note: the truth lies outside these bounds by more than rounding: the "
                "evidence given is not this world's (or the bounds are wrong; please report it)"
            )
        return "\n".join(lines)

    emit(args, payload, text)
    return 0


def cmd_plant(args: argparse.Namespace) -> int:
    from latent.plant import plant_world
    from latent.world import load_world, save_world

    world, report = plant_world(load_world(args.world), args.order, args.extreme)
    save_world(world, args.output)
    payload = report.model_dump()

    def text() -> str:
        return (
            f"wrote {args.output}: every ≤{args.order}-way probability kept, "
            f"P(Z) {payload['pz_before']:.6g} -> {payload['pz_after']:.6g}"
        )

    emit(args, payload, text)
    return 0


def add_world_commands(sub: Any) -> None:
    """Register `pzjudge generate|prob|nway|bounds|plant` on the top-level parser."""
    g = add_command(sub, "generate", cmd_generate, "generate a world file from a seed")
    g.add_argument("--seed", type=int, required=True, help="random seed (same seed, same file)")
    g.add_argument("--statements", type=positive, required=True, help="number of statements M")
    g.add_argument("--families", type=nonneg, default=0, help="interpolation families")
    g.add_argument("--counterexamples", type=nonneg, default=0, help="planted counterexamples")
    g.add_argument("--flips", type=nonneg, default=0, help="negations hidden in families")
    g.add_argument("-o", "--output", help="write the world here (default: stdout)")
    g.add_argument(
        "--decoder",
        metavar="SPEC",
        help="builtin (default) or openai:MODEL: an LLM words each sentence, keeping the "
        "built-in decoder's meaning; failed calls keep the built-in text",
    )
    g.add_argument("--base-url", help="OpenAI-compatible endpoint for --decoder openai:MODEL")

    pr = add_command(sub, "prob", cmd_prob, "P(Z) of a world, with its standard error")
    pr.add_argument("world", help="world file (JSON)")
    pr.add_argument("--rel-tol", type=rel_tol, default=0.005, help="relative std error to aim for")
    pr.add_argument("--seed", type=nonneg, default=0, help="seed of the estimator")

    nw = add_command(
        sub, "nway", cmd_nway, "joint probability that the listed statements are all true"
    )
    nw.add_argument("world", help="world file (JSON)")
    nw.add_argument("ids", nargs="+", metavar="ID", help="statement ids")

    bd = add_command(sub, "bounds", cmd_bounds, "what known n-way probabilities say about P(Z)")
    bd.add_argument("world", help="world file (JSON)")
    bd.add_argument("--order", type=positive, help="every ≤K-way probability is known (default 2)")
    bd.add_argument(
        "--known",
        metavar="FILE",
        help='only a chosen list: JSON [["s1","s2"], {"ids": ["s3"], "p": 0.4}, ...]',
    )
    bd.add_argument(
        "--subset",
        action="append",
        metavar="ID,ID,…",
        help="a known subset (its probability from the oracle); repeat it",
    )

    pl = add_command(
        sub, "plant", cmd_plant, "plant an LP-extremal counterexample with the same ≤K-way probs"
    )
    pl.add_argument("world", help="world file (JSON)")
    pl.add_argument("--order", type=positive, default=2, help="order K of probabilities to keep")
    pl.add_argument("--extreme", choices=["min", "max"], required=True)
    pl.add_argument("-o", "--output", required=True, help="where to write the planted world")
