"""`pzjudge debate|tournament`: debates played headless, one or every pairing.

Each turn is recorded as it is made (tui/cli_common.open_store); progress goes to stderr so
that `--json` stays clean.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from debate.errors import DebateError
from tui.cli_common import (
    WORLD_OPTIONS,
    add_command,
    cli_p,
    deal_args,
    emit,
    number_in,
    open_store,
    positive,
    run_settings,
    safe,
    store_args,
    trust_arg,
    warn_unsandboxed,
)

#: How a headless debate was started, as stored with its session.
if TYPE_CHECKING:
    from debate.events import PublicEvent

_DEBATE_RUN_KEYS = (
    *("world", "preset", *WORLD_OPTIONS),
    *("a", "b", "honest", "liar", "judge", "rules", "base_url"),
)


def _deal_settings(args: argparse.Namespace, preset_name: str | None) -> Any:
    """The round settings a headless run deals with: the preset's (a game preset deals the
    same worlds, sides and claims for the same seed), `generate`'s world options over it,
    always a debate."""
    from pydantic import ValidationError

    from debate.rounds import preset
    from debate.rules import load_rules

    over = {k: getattr(args, k) for k in WORLD_OPTIONS if getattr(args, k, None) is not None}
    for key, spec in (("debater_honest", "honest"), ("debater_liar", "liar")):
        if getattr(args, spec, None) is not None:
            over[key] = getattr(args, spec)
    rules = load_rules(args.rules)  # its oracle budget and order, not the game's defaults
    try:
        return preset(
            preset_name or "debate",
            **over,
            debate=True,
            rules_file=args.rules,
            oracle_budget=rules.judge_budget,
            oracle_order=rules.judge_order,
            base_url=args.base_url,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise DebateError(f"--{where}: {err['msg'].lower()}") from None


def cmd_debate(args: argparse.Namespace) -> int:
    import asyncio
    import hashlib

    from debate.engine import run_debate
    from debate.rounds import RANDOM_LIAR, deal_round, debaters_of, world_maker
    from debate.specs import make_debater, make_judge
    from latent.world import load_world
    from store.export import finite

    if (args.a is None) != (args.b is None):
        raise DebateError("give both --a and --b (the debaters, as they are), or neither")
    explicit = args.a is not None
    if explicit and (args.honest or args.liar):
        raise DebateError("--honest/--liar deal the sides; with --a and --b they are fixed")
    if args.world is not None and (args.preset or any(getattr(args, k) for k in WORLD_OPTIONS)):
        raise DebateError("a world file fixes the world: drop --preset and the world options")
    settings = _deal_settings(args, args.preset)
    world = load_world(args.world) if args.world is not None else None
    judge = make_judge(args.judge, base_url=args.base_url)
    if explicit:
        a = make_debater(args.a, base_url=args.base_url)
        b = make_debater(args.b, base_url=args.base_url)
        if world is None:
            world = world_maker(settings)(args.seed, None)
        dealt = None
    else:
        for spec in (settings.debater_honest, settings.debater_liar):
            if spec != RANDOM_LIAR:
                make_debater(spec, base_url=args.base_url)  # fails before the world is made
        dealt = deal_round(settings, args.seed, world)
        debaters = debaters_of(dealt, base_url=args.base_url)
        a, b, world = debaters["a"], debaters["b"], dealt.world
    warn_unsandboxed([a, b])
    if args.protocol != "debate":
        from tui.study_cli import run_other_protocol

        return run_other_protocol(args, dealt, judge, {"a": a, "b": b})
    store = open_store(args)  # before the debate: a bad database fails fast
    recorder = None
    world_text = world.to_json()  # once: a 10,000-statement world takes a second
    if store is not None:
        from store.recorder import DebateRecorder

        store.abandon_orphans()
        recorder = DebateRecorder(
            store,
            world_json=world_text,
            seed=args.seed,
            settings=run_settings(args, _DEBATE_RUN_KEYS),
        )
    # each turn is committed the moment it is made: a run killed mid-debate keeps them
    on_record = None if recorder is None else recorder.on_event
    # an LLM turn can take minutes
    on_event = debate_progress(sys.stderr) if args.progress or sys.stderr.isatty() else None
    try:
        if dealt is not None:
            run = run_debate(dealt, a, b, judge, on_event=on_event, on_record=on_record)
        else:
            run = run_debate(
                world,
                a,
                b,
                judge,
                settings.rules(),
                seed=args.seed,
                on_event=on_event,
                on_record=on_record,
            )
        res = asyncio.run(run)
    except BaseException as exc:
        if recorder is not None:
            recorder.on_error(exc)
        raise
    if recorder is not None:
        with store:
            recorder.on_result(res)
    payload = res.model_dump(mode="json")
    # which world was played, checkable against a game round or `generate` of the same seed
    payload["world_sha256"] = hashlib.sha256(world_text.encode()).hexdigest()
    emit(args, finite(payload), lambda: _render_debate(res))
    return 0


def _render_debate(res: Any) -> str:
    """A readable transcript: speeches, verified citations, credences, outcome."""
    lines = [
        f"Rules: {res.rules.summary()}",
        f"A ({res.debater_a}) claims P(Z) = {res.claims['a']:.4g}; "
        f"B ({res.debater_b}) claims {res.claims['b']:.4g}. Judge: {res.judge}",
        "",
    ]
    cred = {c.after_turn: c.credence_a for c in res.judgement.credences}
    for t in res.turns:
        head = (
            f"[{t.speaker.upper()} {t.phase}{'' if t.phase == 'opening' else ' ' + str(t.round)}]"
        )
        if t.forfeit:
            lines.append(f"{head} forfeited: {t.forfeit}")
        else:
            lines.append(f"{head} {t.text}{' [cut at the limit]' if t.truncated else ''}")
        for c in t.citations:
            what = c.ids[0] if c.kind == "statement" else f"P({' ∩ '.join(c.ids)})"
            if c.status in ("rejected", "dropped"):
                lines.append(f"    – {what}: {c.status}, {c.reason}")
            elif c.kind == "statement":
                lines.append(f"    · {what}")
            else:
                mark = "✗ false" if c.verified is False else "✓"
                claim = "" if c.claimed is None else f" (claimed {c.claimed:.4g})"
                lines.append(f"    {mark} {what} = {c.true_value:.4g}{claim}")
        if t.unverified_numbers:
            lines.append(f"    unverified numbers in the text: {', '.join(t.unverified_numbers)}")
        if t.index in cred:
            lines.append(f"    judge's credence that A is honest: {cred[t.index]:.2f}")
    j, sc, bl = res.judgement, res.scores, res.baselines
    lines += [""] + [f"Judge failed to answer: {e}" for e in j.errors]
    lines += [
        (
            f"Judgement: none, the judge failed (the independence product {j.estimate:.4g} "
            "stands in; it is stored as failed)"
            if j.failed
            else f"Judgement: P(Z) ≈ {j.estimate:.4g}, credence in A {j.credence_a:.2f}"
        ),
        f"Truth: P(Z) = {cli_p(res.log10_truth)}; honest side: {res.honest_side.upper()}",
        f"Scores: log10 error {sc.log10_error:.2f}, regret {sc.regret_bits:.3g} bits, "
        f"trusted the honest side: {sc.trusted_honest}",
        f"Baselines on the same evidence: independence {bl.independence:.3g}, maxent "
        f"{'—' if bl.maxent is None else format(bl.maxent, '.3g')}, "
        f"range [{bl.lower:.3g}, {bl.upper:.3g}]",
    ]
    return "\n".join(lines)


def debate_progress(out: IO[str]) -> Callable[[PublicEvent], None]:
    """An engine event handler writing one line per step of a headless debate to `out`: who
    speaks, what came and how long it took, forfeits and judge failures (never the sides:
    it takes only public events)."""
    from debate.events import JudgeErrorEvent, TurnEvent, TurnStartedEvent

    def on(event: PublicEvent) -> None:
        if isinstance(event, TurnStartedEvent):
            out.write(f"{event.speaker} {event.phase} {event.round}: speaking…\n")
        elif isinstance(event, TurnEvent):
            t = event.turn
            what = (
                f"forfeited ({safe(t.forfeit)[:100]})"
                if t.forfeit
                else f"{len(t.text)} characters, {len(t.citations)} citations"
            )
            out.write(f"{t.speaker} {t.phase} {t.round}: {what}, {t.seconds:.1f} s\n")
        elif isinstance(event, JudgeErrorEvent):
            out.write(f"judge failed to answer: {safe(event.message)[:100]}\n")
        else:
            return
        out.flush()

    return on


class _Progress:
    """Debates played, rate and ETA on stderr (never stdout: --json stays clean), at most
    about once a second. The rate counts from the first debate to finish, not from the
    start: start-up (worlds, a local Ray, worker processes, the first LLM calls) would
    stretch the first ETAs far past the run (618 s shown for a run of 40 s)."""

    def __init__(self) -> None:
        self.shown = -math.inf
        #: When the first debate finished, and how many had then.
        self.first: tuple[float, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
        if done < total and now - self.shown < 1.0:
            return
        self.shown = now
        since, base = self.first
        line = f"played {done}/{total} debates"
        if done > base and now > since:  # a rate needs a second debate to finish
            rate = (done - base) / (now - since)
            line += f", {rate:.1f}/s, ETA {(total - done) / rate:.0f}s"
        end = "\n" if done == total or not sys.stderr.isatty() else ""
        print(f"\r{line}", end=end, file=sys.stderr, flush=True)


def cmd_tournament(args: argparse.Namespace) -> int:
    import asyncio

    from debate.rules import load_rules
    from debate.specs import make_debater, make_judge
    from debate.tournament import run_tournament
    from store.export import finite

    debaters = [d.strip() for d in args.debaters.split(",") if d.strip()]
    judges = [j.strip() for j in args.judges.split(",") if j.strip()]
    if not debaters or not judges:
        raise DebateError("name at least one debater (--debaters) and one judge (--judges)")
    # every spec is checked before any world is generated: a typo fails in a second
    warn_unsandboxed([make_debater(spec, base_url=args.base_url) for spec in debaters])
    for spec in judges:
        make_judge(spec, base_url=args.base_url)
    rules = load_rules(args.rules)
    # a preset or any world option but --statements: the worlds the game deals
    dealt = args.preset is not None or any(getattr(args, k) is not None for k in WORLD_OPTIONS[1:])
    deal = _deal_settings(args, args.preset) if dealt else None
    store = open_store(args)
    settings = run_settings(
        args, ("worlds", "debaters", "judges", "preset", *WORLD_OPTIONS, "rules", "base_url")
    )
    watch = None
    played: dict[str, Any] = {}
    if store is not None:
        from debate.engine import DebateResult
        from store.recorder import DebateRecorder

        store.abandon_orphans()

        # each world's text once, not once per debate (the world is kept with its text:
        # its id() is not reused while the run lasts)
        texts: dict[int, tuple[Any, str]] = {}

        def watch(world: Any, debate_id: str) -> DebateRecorder:
            # each debate has its own session under its judge's name; every turn is
            # committed as it is made, so an interrupted tournament keeps what it played
            if id(world) not in texts:
                texts[id(world)] = (world, world.to_json())
            return DebateRecorder(
                store,
                world_json=texts[id(world)][1],
                kind="tournament",
                seed=args.seed,
                settings=settings,
                debate_id=debate_id,
            )

        # a rerun plays only the debates this store has not seen judged (--fresh: all of
        # them again; the old results stay stored, and a later rerun reuses the newest)
        played = {}
        for did, stored in ({} if args.fresh else store.played_debates()).items():
            try:
                played[did] = DebateResult.model_validate_json(stored)
            except ValueError:
                continue  # written by another version: played again

    res = asyncio.run(
        run_tournament(
            args.worlds,
            args.seed,
            debaters,
            judges,
            rules=rules,
            concurrency=args.concurrency,
            statements=30 if args.statements is None else args.statements,
            base_url=args.base_url,
            watch=watch,
            settings=deal,
            played=played,
            progress=_Progress(),
            use_ray=args.ray is not None,
            ray_address=args.ray or None,
            endpoint_limit=args.endpoint_limit,
            task_cpus=args.task_cpus,
        )
    )
    if store is not None:
        store.close()

    def text() -> str:
        def ci(e: Any, fmt: str = "+.2f") -> str:
            if e is None:
                return "-"
            return f"{e.value:{fmt}} [{e.low:{fmt}}, {e.high:{fmt}}]"

        out = [f"Tournament: {args.worlds} worlds, seed {args.seed}", ""]
        out.append(
            f"{'debater':28s} {'won as honest':>13s} {'rating (95% CI)':>22s}  "
            f"{'fooled the judge as liar':>24s} {'rating (95% CI)':>22s}"
        )
        for d in res.ratings.debaters:
            won, fooled = f"{d.won_as_honest}/{d.as_honest}", f"{d.fooled_as_liar}/{d.as_liar}"
            out.append(
                f"{d.name[:28]:28s} {won:>13s} {ci(d.honest):>22s}  {fooled:>24s} {ci(d.liar):>22s}"
            )
        out.append(
            "rating: Bradley-Terry log-odds; honest rating of X minus liar rating of Y "
            "is the log-odds the judge trusts X over Y"
        )
        head = (
            f"{'':28s} {'debates':>7s} {'judge trusted it':>16s} "
            f"{'mean log10 error':>16s} {'median':>7s} {'mean regret (bits)':>18s}"
        )
        out += ["", "debaters", head]
        for st in res.debaters:
            won = "" if st.won is None else f"{st.won:.2f}"
            out.append(
                f"{st.name[:28]:28s} {st.debates:7d} {won:>16s} "
                f"{st.mean_log10_error:16.2f} {st.median_log10_error:7.2f} "
                f"{st.mean_regret_bits:18.3g}"
            )
        out += [
            "judge trusted it: share of its debates the judge ended favouring it (undecided "
            "counts half)",
            "log10 error: orders of magnitude between the judge's P(Z) and the true one",
            "regret: log score lost, in bits, by betting at the judge's P(Z) instead of the "
            "true one (0: none)",
        ]
        out += [
            "",
            f"{'judge':28s} {'debates':>7s} {'trusted the honest side (95% CI)':>32s} "
            f"{'mean log10 error (95% CI)':>25s}",
        ]
        for j in res.ratings.judges:
            out.append(
                f"{j.name[:28]:28s} {j.debates:7d} {ci(j.accuracy, '.2f'):>32s} "
                f"{ci(j.log10_error, '.2f'):>25s}"
            )
        return "\n".join(out)

    emit(args, finite(res.model_dump(mode="json")), text)
    # after the results are shown (and stored): a report that cannot be written loses nothing
    if args.report:
        from pathlib import Path

        from tui.tournament_report import write_tournament_report

        title = f"Tournament: {args.worlds} worlds, seed {args.seed}"
        for f in write_tournament_report(res.ratings, Path(args.report), title):
            print(f"wrote {f}", file=sys.stderr)
    if res.failed:
        # the others are shown and stored; the failed ones are played again by a rerun
        kept = "kept as abandoned rounds; " if store is not None else ""
        print(
            f"pzjudge: {len(res.failed)} debate(s) failed ({kept}run again with the same "
            f"--db to play them); the first: {res.failed[0].error}",
            file=sys.stderr,
        )
        return 1
    return 0


def add_debate_commands(sub: Any) -> None:
    """Register `pzjudge debate|tournament` on the top-level parser."""
    db = add_command(sub, "debate", cmd_debate, "run one debate about a world's P(Z), headless")
    db.add_argument("world", nargs="?", help="world file (JSON); default: deal one from --seed")
    db.add_argument("--seed", type=int, default=0, help="the round's seed (the game shows it)")
    deal_args(db)
    db.add_argument("--honest", metavar="SPEC", help="the honest debater (default builtin:honest)")
    db.add_argument("--liar", metavar="SPEC", help="the liar (default random-liar, as the game)")
    db.add_argument("--a", metavar="SPEC", help="debater A, fixed (with --b): sides not dealt")
    db.add_argument("--b", metavar="SPEC", help="debater B, fixed (with --a)")
    db.add_argument("--judge", default="maxent", metavar="SPEC", help="simulated or llm judge")
    db.add_argument(
        "--protocol",
        choices=["oracle", "consultancy", "debate", "offline"],
        default="debate",
        help="what the judge gets (default debate; the others are not stored in the game's db)",
    )
    db.add_argument("--rules", help="rules file (TOML)")
    db.add_argument("--base-url", help="OpenAI-compatible endpoint for openai:/llm: specs")
    db.add_argument(
        "--progress",
        action="store_true",
        help="a line per turn on stderr even when it is not a terminal (logs of long LLM runs)",
    )
    store_args(db, record=True)
    trust_arg(db)

    tn = add_command(
        sub, "tournament", cmd_tournament, "every pairing of debaters before every judge"
    )
    tn.add_argument("--worlds", type=positive, default=4, help="number of generated worlds")
    tn.add_argument("--seed", type=int, default=0)
    tn.add_argument("--debaters", required=True, help="comma-separated debater specs")
    tn.add_argument("--judges", default="maxent", help="comma-separated judge specs")
    tn.add_argument("--concurrency", type=positive, default=4)
    deal_args(tn)
    tn.add_argument("--rules", help="rules file (TOML)")
    tn.add_argument("--base-url", help="OpenAI-compatible endpoint for openai:/llm: specs")
    tn.add_argument(
        "--fresh",
        action="store_true",
        help="play every debate again, even those the store already holds judged",
    )
    tn.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="play the debates as Ray tasks: on a local Ray, or the cluster at ADDRESS "
        "('auto': the one this node belongs to); needs pzjudge[ray] (docs/scale.md)",
    )
    tn.add_argument(
        "--endpoint-limit",
        type=positive,
        metavar="N",
        help="at most N LLM calls at once per endpoint (base URL and model); with --ray, "
        "across the whole cluster",
    )
    tn.add_argument(
        "--task-cpus",
        type=number_in(0.0, 1024.0, "give the CPUs as a number above 0, e.g. 0.25", ends=False),
        default=1.0,
        metavar="C",
        help="CPUs Ray reserves per debate (default 1); e.g. 0.25 runs 4 LLM debates per core",
    )
    tn.add_argument(
        "--report",
        metavar="DIR",
        help="write ratings, judges and who-beats-whom as CSV, Markdown and PNG/SVG figures",
    )
    store_args(tn, record=True)
    trust_arg(tn)
