"""`pzjudge mimic …`: the measurements of the mimic mode on the command line.

merge, finetune, goodhart, transfer: each prints a short table (or `--json`, the
`Measurement` model) and, with `--plot FILE.png`, draws its figure (needs the `plots` extra,
matplotlib). Numbers come from `latent.mimic_measure`; nothing here computes them. numpy is
imported only when a command runs (see `tui.cli._one_blas_thread`).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from latent.errors import LatentError
from tui.cli_common import add_command, add_group, nonneg, positive, probability
from tui.errors import TuiError, error_line

_T = TypeVar("_T")
#: The mimic classes `merge` and `transfer` compare by default.
CLASSES = "genre-markov1,markov1,genre-markov0"
#: Most books one training sample may hold: far more than any curve needs, and below what
#: numpy's multinomial draw takes (2**63).
MAX_BOOKS = 10**12
#: Most replicate samples per N: each is a full sample over 27,990 books kept in memory.
MAX_REPS = 1000
#: Largest add-alpha smoothing: every chain is uniform long before; far above it the
#: smoothed counts overflow to inf and the distances to nan.
MAX_ALPHA = 1e6
#: Smallest positive --alpha and --betas: below it nothing changes, and near the bottom of
#: the float range numpy's divisions overflow (warnings on stderr).
TINY = 1e-12


def _listed(
    s: str, convert: Callable[[str], _T], kind: str, ok: Callable[[_T], bool], want: str
) -> list[_T]:
    """A comma-separated argument, each value converted and checked; one line if not."""
    try:
        vals = [convert(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r}: give comma-separated {kind}") from None
    if not vals or not all(ok(v) for v in vals):
        raise argparse.ArgumentTypeError(f"{s!r}: give {want}")
    return vals


def _ints(s: str) -> list[int]:
    return _listed(
        s,
        int,
        "integers",
        lambda v: 1 <= v <= MAX_BOOKS,
        f"positive integers up to {MAX_BOOKS:.0e}, e.g. 30,100,1000",
    )


def _upto(most: int, *, zero: bool = False) -> Callable[[str], int]:
    """An argument type: a whole number from 1 (from 0 with `zero`) up to `most`."""

    def parse(s: str) -> int:
        v = nonneg(s) if zero else positive(s)
        if v > most:
            raise argparse.ArgumentTypeError(f"must be at most {most:,}")
        return v

    return parse


def _alpha(s: str) -> float:
    """--alpha: add-alpha smoothing, a number in [TINY, MAX_ALPHA]."""
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
    if not (math.isfinite(v) and TINY <= v <= MAX_ALPHA):
        raise argparse.ArgumentTypeError(
            f"give a smoothing weight from {TINY:g} to {MAX_ALPHA:g}, e.g. 0.5"
        )
    return v


def _floats(s: str) -> list[float]:
    return _listed(
        s,
        float,
        "numbers",
        lambda v: math.isfinite(v) and (v == 0 or v >= TINY),
        f"numbers ≥ 0 (0, or from {TINY:g} up), e.g. 1,0.1,0",
    )


def _names(s: str) -> list[str]:
    vals = [v.strip() for v in s.split(",") if v.strip()]
    if not vals:
        raise argparse.ArgumentTypeError("give at least one name")
    return vals


def _world(args: argparse.Namespace) -> Any:
    from latent.mimic_world import default_world

    return default_world(args.max_events)


def _classes(args: argparse.Namespace) -> list[Any]:
    from latent.mimic import MimicClass

    return [MimicClass.parse(s, args.alpha) for s in args.mimic]


def _z(args: argparse.Namespace) -> tuple[str, ...]:
    from latent.mimic_measure import DEFAULT_Z
    from latent.mimic_world import FEATURE_VALUES

    if args.z is None:
        return DEFAULT_Z
    bad = [f for f in args.z if f not in FEATURE_VALUES]
    if bad:
        raise LatentError(
            f"unknown feature {', '.join(bad)}; choose from {', '.join(FEATURE_VALUES)}"
        )
    return tuple(args.z)


def cmd_merge(args: argparse.Namespace) -> Any:
    from latent.mimic_measure import merging

    return merging(_world(args), _classes(args), args.n, args.reps, args.seed, _z(args))


def cmd_finetune(args: argparse.Namespace) -> Any:
    from latent.mimic import MimicClass
    from latent.mimic_measure import sync

    base = None if args.base == "world" else MimicClass.parse(args.base, args.alpha)
    return sync(_world(args), args.objectives, args.betas, base, args.train, args.seed, _z(args))


def cmd_goodhart(args: argparse.Namespace) -> Any:
    from latent.mimic_measure import goodhart

    return goodhart(_world(args), args.objectives, args.random, args.seed, _z(args))


def cmd_transfer(args: argparse.Namespace) -> Any:
    from latent.mimic_measure import transfer

    return transfer(
        _world(args),
        _classes(args),
        args.n,
        args.reps,
        args.seed,
        logistic=not args.no_logistic,
        n_classifier=args.classifier_books,
    )


def cmd_round(args: argparse.Namespace) -> int:
    """Deal one mimic round; with --answer, score it and show the reveal."""
    from debate.mimic_round import deal_mimic_round, reveal_mimic_round

    rnd = deal_mimic_round(args.seed)
    if args.answer is None:
        if args.json:
            print(json.dumps(rnd.public.model_dump(), indent=2))
        else:
            print(round_text(rnd.public))
        return 0
    rev = reveal_mimic_round(rnd, args.answer)
    if args.json:
        print(json.dumps({"public": rnd.public.model_dump(), "reveal": rev.model_dump()}, indent=2))
    else:
        print(round_text(rnd.public))
        print()
        print(reveal_text(rev, args.answer))
    return 0


def round_text(pub: Any) -> str:
    """The round as the judge sees it (plain text; the game screen shows the same)."""
    lines = [
        f"A mimic read {pub.n_train:,} natural books, then was fine-tuned on "
        f"{pub.finetuned_on} (KL weight beta = {pub.spec.beta:g}; smaller is stronger).",
        f"The objective ({pub.achieved_means}) was achieved for {pub.n_achieved:,} of its "
        "training books.",
        "",
    ]
    for name, rows in ((pub.feature, pub.table), ("genre", pub.genre_table)):
        if not rows:
            continue
        lines.append(f"  {name:16s} {'books':>7s} {'achieved':>9s}")
        for r in rows:
            lines.append(f"  {r.value:16s} {r.books:7d} {r.achieved:9d}")
        lines.append("")
    lines.append("Two training books: " + " / ".join(pub.examples))
    lines.append("")
    lines.append(f"Question: {pub.question}?")
    return "\n".join(lines)


def reveal_text(rev: Any, answer: float) -> str:
    """The reveal in words."""
    control = "perfect (the text decides)" if rev.perfect else "imperfect (the world decides)"
    return "\n".join(
        [
            f"exact answer {rev.truth:.4f}; yours {answer:g}: "
            f"{rev.scores.regret_bits:.3f} bits of regret",
            f"a synchronised operator (natural books where it was achieved) "
            f"{rev.synchronised:.4f}; from the table {rev.from_table:.4f}; "
            f"unconditioned {rev.unconditioned:.4f}",
            *(
                [
                    f"an exact operator (the natural books fine-tuned exactly as the mimic "
                    f"was) {rev.exact:.4f}; it misses only what the mimic did not learn"
                ]
                if rev.exact is not None
                else []
            ),
            f"control: {control}; forcing set: {rev.forcing_set}",
            f"Goodhart-proneness G = P(forcing set | achieved) = {rev.goodhart:.3f} in natural "
            f"books; the fine-tuned mimic writes {rev.forcing_share:.1%} of its books there",
        ]
    )


def _summary(m: Any) -> str:
    lines = [f"{m.kind}: {m.y_label} against {m.x_label}"]
    for c in m.curves:
        if m.kind == "goodhart":
            worst = max(p.mean - p.x for p in c.points)
            lines.append(
                f"  {c.label}: {len(c.points)} random objectives, "
                f"max(gap − ε) = {worst:.2g}, max gap/2ε = "
                f"{max((p.mean / (2 * p.x) for p in c.points if p.x > 0), default=0.0):.3f}"
            )
            continue
        pts = "  ".join(f"{p.x:g}: {p.mean:.3f}" for p in c.points)
        lim = "" if c.predicted_limit is None else f"   → predicted {c.predicted_limit:.3f}"
        note = f" [{c.note}]" if c.note else ""
        lines.append(f"  {c.label}{note}: {pts}{lim}")
    for k, v in m.facts.items():
        lines.append(f"  {k} = {v:.4g}" if isinstance(v, float) else f"  {k} = {v}")
    lines.append(f"predicted: {m.prediction}")
    return "\n".join(lines)


#: Figure formats offered first when --plot names one matplotlib cannot write.
_COMMON_FORMATS = ("png", "svg", "pdf")


def _check_plot(path: str) -> None:
    """Refuse, before measuring, a figure that could not be written: no matplotlib, a
    format it does not draw (it picks the format from the suffix; pgf needs LaTeX), or a
    folder that does not exist."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise TuiError("--plot needs matplotlib: pip install 'pzjudge[plots]'") from None
    drawn = sorted(set(FigureCanvasBase.get_supported_filetypes()) - {"pgf"})
    suffix = Path(path).suffix.lstrip(".").lower()
    if suffix not in drawn:
        others = ", ".join(f".{f}" for f in drawn if f not in _COMMON_FORMATS)
        what = f"a .{suffix} figure" if suffix else "a figure from a name without a suffix"
        raise TuiError(
            f"--plot {path}: cannot draw {what}; end the name with .png, .svg or .pdf (or {others})"
        )
    parent = Path(path).parent
    if not parent.is_dir():
        raise TuiError(f"cannot write {path}: no folder {parent}")


def _run(args: argparse.Namespace) -> int:
    if args.plot:
        _check_plot(args.plot)
    m = args.mimic_func(args)
    if args.plot:
        from tui.mimic_plot import plot

        try:
            plot(m, args.plot)
        except OSError as exc:
            raise TuiError(f"cannot write {args.plot}: {exc.strerror}") from None
        except (ValueError, RuntimeError) as exc:
            # a format matplotlib lists but cannot draw here (a codec Pillow lacks)
            raise TuiError(f"cannot draw {args.plot}: {error_line(exc)}") from None
    if args.json:
        print(json.dumps(m.model_dump(), indent=2, allow_nan=False))
    else:
        print(_summary(m))
        if args.plot:
            print(f"figure: {args.plot}")
    return 0


def add_mimic_commands(sub: Any) -> None:
    """Register `pzjudge mimic merge|finetune|goodhart|transfer` on the top-level parser."""
    msub = add_group(
        sub,
        "mimic",
        "mimics: merging, fine-tuning, Goodhart-proneness, classifier transfer",
        "Exact measurements of seed 000's claims about mimics on a small world of books "
        "(docs/mimics.md).",
        dest="mimic_command",
        metavar="MEASUREMENT",
    )

    def add(name: str, fn: Any, help_: str) -> argparse.ArgumentParser:
        sp = add_command(msub, name, _run, help_)
        sp.add_argument("--plot", metavar="FILE.png", help="draw the figure (needs matplotlib)")
        sp.add_argument("--seed", type=nonneg, default=0, help="seed of the training samples")
        sp.add_argument(
            "--max-events",
            type=int,
            default=5,
            choices=range(1, 7),
            metavar="L",
            help="longest book, 1..6 (default 5: 27,990 books)",
        )
        sp.add_argument(
            "--alpha", type=_alpha, default=0.5, help="add-alpha smoothing, 1e-12..1e6 (0.5)"
        )
        sp.add_argument(
            "--z",
            type=_names,
            metavar="F,F,…",
            help="the operator's coarse features (default genre,sentiment,helps,thesis,praise)",
        )
        sp.set_defaults(mimic_func=fn)
        return sp

    mg = add("merge", cmd_merge, "merging curve: TV(operator's forecast, mimic) against N")
    _mimics_learning(mg, "10,30,100,300,1000,3000,10000,30000", "training sizes", reps=20)

    ft = add("finetune", cmd_finetune, "synchronisation error after fine-tuning against beta")
    _listed_arg(
        ft,
        "--objectives",
        _names,
        "positive,helpful,recommend,enjoy,persuade",
        "O,…",
        "objectives (positive, helpful: perfect control; recommend, enjoy, persuade: the "
        "world decides)",
    )
    _listed_arg(
        ft,
        "--betas",
        _floats,
        "10,3,1,0.5,0.3,0.2,0.1,0.05,0.03,0.01,0.003,0",
        "B,…",
        "KL weights (0 = the limit)",
    )
    ft.add_argument(
        "--base",
        default="world",
        metavar="CLASS",
        help="mimic to fine-tune: 'world' (perfectly merged) or a class, e.g. g1",
    )
    ft.add_argument(
        "--train", type=_upto(MAX_BOOKS, zero=True), default=10000, help="books the base mimic saw"
    )

    gh = add("goodhart", cmd_goodhart, "Goodhart-proneness G and the 2ε bound")
    _listed_arg(
        gh, "--objectives", _names, "recommend,enjoy,persuade", "O,…", "objectives to report G for"
    )
    gh.add_argument(
        "--random", type=positive, default=300, help="random objectives for the bound (≥ 1)"
    )

    tr = add("transfer", cmd_transfer, "classifier-transfer gap against N and capacity")
    _mimics_learning(tr, "10,30,100,300,1000,3000,10000", "training sizes of the mimic", reps=8)
    tr.add_argument(
        "--classifier-books",
        type=_upto(MAX_BOOKS),
        default=2000,
        help="books each logistic regression is trained on (2000)",
    )
    tr.add_argument("--no-logistic", action="store_true", help="Bayes-optimal classifiers only")

    rd = msub.add_parser(
        "round",
        help="deal one mimic round (as the game does); --answer scores it",
        description="Deal one mimic round (as the game does); --answer scores it.",
    )
    rd.add_argument("--json", action="store_true", help="print JSON instead of text")
    rd.add_argument("--seed", type=nonneg, default=0, help="seed of the round")
    rd.add_argument("--answer", type=probability, help="your P(…), 0..1: show the reveal")
    rd.set_defaults(func=cmd_round)


def _mimics_learning(sp: argparse.ArgumentParser, sizes: str, sizes_help: str, reps: int) -> None:
    """--mimic, --n and --reps: which mimic classes learn from how many books, how often."""
    _listed_arg(sp, "--mimic", _names, CLASSES, "CLASS,…", f"mimic classes (default {CLASSES})")
    _listed_arg(sp, "--n", _ints, sizes, "N,…", sizes_help)
    sp.add_argument(
        "--reps",
        type=_upto(MAX_REPS),
        default=reps,
        help=f"training samples per N, 1..{MAX_REPS} ({reps})",
    )


def _listed_arg(
    sp: argparse.ArgumentParser,
    flag: str,
    parse: Callable[[str], list[_T]],
    default: str,
    metavar: str,
    help_: str,
) -> None:
    """A comma-separated option whose default is written as a user would type it."""
    sp.add_argument(flag, type=parse, default=parse(default), metavar=metavar, help=help_)
