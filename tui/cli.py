"""The `pzjudge` command line.

Every command is a thin shell over the core: parse arguments, call one function, print
either JSON (`--json`) or a short readable summary. Errors from the core become a single
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn

from debate.errors import DebateError
from debate.fmt import fmt_log10
from latent.errors import LatentError, PzJudgeError
from store.errors import StoreError
from tui.errors import TuiError, error_line

if TYPE_CHECKING:
    from debate.events import PublicEvent


def _fmt_p(log10: float | None) -> str:
    """A probability that may be far below float range, from its log10: the project's one
    formatter with the command line's 6 significant digits (plain from 1e-4 up)."""
    return fmt_log10(log10, 6, plain_from=-4)


def _safe(text: str) -> str:
    """What may reach the terminal: known secrets masked, URLs redacted, no control
    sequences (untrusted text is cleaned where it enters; this is the last guard)."""
    from debate.secrets import scrub_text
    from latent.text import clean_text

    return clean_text(scrub_text(text))


def _emit(args: argparse.Namespace, payload: dict[str, Any], text: Callable[[], str]) -> None:
    if args.json:
        print(_safe(json.dumps(payload, indent=2, allow_nan=False)))
    else:
        print(_safe(text()))


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
    whoever opens the printed address with its token (tui/serve.py)."""
    try:
        from tui.serve import LockedServer
    except ImportError:
        raise TuiError("pzjudge serve needs textual-serve: pip install 'pzjudge[serve]'") from None
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
    LockedServer(cmd, port=args.port, title="pzjudge").serve()
    return 0


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
            f"P(Z) = {_fmt_p(res.log10_pz)}   log10 P(Z) = "
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

    _emit(args, res.model_dump(), text)
    return 0


def cmd_nway(args: argparse.Namespace) -> int:
    from latent.nway import nway
    from latent.world import load_world

    res = nway(load_world(args.world), list(args.ids))

    def text() -> str:
        se = f" ± {res.log10_p_stderr:.2g}" if res.log10_p_stderr else ""
        return f"P({' ∩ '.join(res.ids)}) = {_fmt_p(res.log10_p)}   log10 = {res.log10_p}{se}"

    _emit(args, res.model_dump(), text)
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
            return "—" if v is None else (_fmt_p(math.log10(v)) if v > 0 else "0")

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

    _emit(args, payload, text)
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

    _emit(args, payload, text)
    return 0


def _json_safe(obj: Any) -> Any:
    """The payload with non-finite floats as null (an estimate of 0 for a possible Z has an
    infinite regret; JSON has no Infinity)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


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
        f"Truth: P(Z) = {_fmt_p(res.log10_truth)}; honest side: {res.honest_side.upper()}",
        f"Scores: log10 error {sc.log10_error:.2f}, regret {sc.regret_bits:.3g} bits, "
        f"trusted the honest side: {sc.trusted_honest}",
        f"Baselines on the same evidence: independence {bl.independence:.3g}, maxent "
        f"{'—' if bl.maxent is None else format(bl.maxent, '.3g')}, "
        f"range [{bl.lower:.3g}, {bl.upper:.3g}]",
    ]
    return "\n".join(lines)


def _open_store(args: argparse.Namespace, *, create: bool = True) -> Any:
    """The store named by --db (or PZJUDGE_DB, or the data directory), or None for --no-store.

    Commands that only read (export, stats) pass `create=False`: a mistyped path is an
    error, not a new empty database.
    """
    if getattr(args, "no_store", False):
        return None
    from store.db import Store

    return Store(args.db, create=create)


def _run_settings(args: argparse.Namespace, keys: Sequence[str]) -> dict[str, Any]:
    """How a headless run was started, stored with its session (the store drops secrets)."""
    return {k: getattr(args, k) for k in keys}


_WORLD_OPTIONS = ("statements", "families", "counterexamples", "flips")
#: How a headless debate was started, as stored with its session.
_DEBATE_RUN_KEYS = (
    *("world", "preset", *_WORLD_OPTIONS),
    *("a", "b", "honest", "liar", "judge", "rules", "base_url"),
)


def _deal_settings(args: argparse.Namespace, preset_name: str | None) -> Any:
    """The round settings a headless run deals with: the preset's (a game preset deals the
    same worlds, sides and claims for the same seed), `generate`'s world options over it,
    always a debate."""
    from pydantic import ValidationError

    from debate.rounds import preset
    from debate.rules import load_rules

    over = {k: getattr(args, k) for k in _WORLD_OPTIONS if getattr(args, k, None) is not None}
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

    if (args.a is None) != (args.b is None):
        raise DebateError("give both --a and --b (the debaters, as they are), or neither")
    explicit = args.a is not None
    if explicit and (args.honest or args.liar):
        raise DebateError("--honest/--liar deal the sides; with --a and --b they are fixed")
    if args.world is not None and (args.preset or any(getattr(args, k) for k in _WORLD_OPTIONS)):
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
    _warn_unsandboxed([a, b])
    if args.protocol != "debate":
        from tui.study_cli import run_other_protocol

        return run_other_protocol(args, dealt, judge, {"a": a, "b": b})
    store = _open_store(args)  # before the debate: a bad database fails fast
    recorder = None
    world_text = world.to_json()  # once: a 10,000-statement world takes a second
    if store is not None:
        from store.recorder import DebateRecorder

        store.abandon_orphans()
        recorder = DebateRecorder(
            store,
            world_json=world_text,
            seed=args.seed,
            settings=_run_settings(args, _DEBATE_RUN_KEYS),
        )
    # each turn is committed the moment it is made: a run killed mid-debate keeps them
    on_record = None if recorder is None else recorder.on_event
    # an LLM turn can take minutes
    on_event = debate_progress(sys.stderr) if sys.stderr.isatty() else None
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
    _emit(args, _json_safe(payload), lambda: _render_debate(res))
    return 0


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
                f"forfeited ({_safe(t.forfeit)[:100]})"
                if t.forfeit
                else f"{len(t.text)} characters, {len(t.citations)} citations"
            )
            out.write(f"{t.speaker} {t.phase} {t.round}: {what}, {t.seconds:.1f} s\n")
        elif isinstance(event, JudgeErrorEvent):
            out.write(f"judge failed to answer: {_safe(event.message)[:100]}\n")
        else:
            return
        out.flush()

    return on


class _Progress:
    """Debates played, rate and ETA on stderr (never stdout: --json stays clean), at most
    about once a second."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.shown = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.shown < 1.0:
            return
        self.shown = now
        rate = done / max(now - self.start, 1e-9)
        eta = (total - done) / rate if rate > 0 else 0.0
        end = "\n" if done == total or not sys.stderr.isatty() else ""
        print(
            f"\rplayed {done}/{total} debates, {rate:.1f}/s, ETA {eta:.0f}s",
            end=end,
            file=sys.stderr,
            flush=True,
        )


def cmd_tournament(args: argparse.Namespace) -> int:
    import asyncio

    from debate.rules import load_rules
    from debate.specs import make_debater, make_judge
    from debate.tournament import run_tournament

    debaters = [d.strip() for d in args.debaters.split(",") if d.strip()]
    judges = [j.strip() for j in args.judges.split(",") if j.strip()]
    if not debaters or not judges:
        raise DebateError("name at least one debater (--debaters) and one judge (--judges)")
    # every spec is checked before any world is generated: a typo fails in a second
    _warn_unsandboxed([make_debater(spec, base_url=args.base_url) for spec in debaters])
    for spec in judges:
        make_judge(spec, base_url=args.base_url)
    rules = load_rules(args.rules)
    # a preset or any world option but --statements: the worlds the game deals
    dealt = args.preset is not None or any(getattr(args, k) is not None for k in _WORLD_OPTIONS[1:])
    deal = _deal_settings(args, args.preset) if dealt else None
    store = _open_store(args)
    settings = _run_settings(
        args, ("worlds", "debaters", "judges", "preset", *_WORLD_OPTIONS, "rules", "base_url")
    )
    watch = None
    played: dict[str, Any] = {}
    if store is not None:
        from debate.engine import DebateResult
        from store.recorder import DebateRecorder

        store.abandon_orphans()

        def watch(world: Any, debate_id: str) -> DebateRecorder:
            # each debate has its own session under its judge's name; every turn is
            # committed as it is made, so an interrupted tournament keeps what it played
            return DebateRecorder(
                store,
                world_json=world.to_json(),
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
            f"{'mean log10 error':>16s} {'median':>7s} {'regret bits':>11s}"
        )
        out += ["", "debaters", head]
        for st in res.debaters:
            won = "" if st.won is None else f"{st.won:.2f}"
            out.append(
                f"{st.name[:28]:28s} {st.debates:7d} {won:>16s} "
                f"{st.mean_log10_error:16.2f} {st.median_log10_error:7.2f} "
                f"{st.mean_regret_bits:11.3g}"
            )
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

    _emit(args, _json_safe(res.model_dump(mode="json")), text)
    # after the results are shown (and stored): a report that cannot be written loses nothing
    if args.report:
        from pathlib import Path

        from tui.tournament_report import write_tournament_report

        title = f"Tournament: {args.worlds} worlds, seed {args.seed}"
        for f in write_tournament_report(res.ratings, Path(args.report), title):
            print(f"wrote {f}", file=sys.stderr)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Play many rounds headlessly and test simple heuristics against a coin."""
    from debate.audit import AuditSpec, WorldOptions, markdown, render, report
    from debate.rounds import PRESETS

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
    _emit(
        args,
        _json_safe(rep.model_dump(mode="json")),
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


def cmd_export(args: argparse.Namespace) -> int:
    from store.export import export_rows, write_export

    if args.study:
        n = _export_study(args)
    else:
        store = _open_store(args, create=False)
        with store:
            rows = export_rows(
                store, session=args.session, judge=args.judge, transcripts=args.transcripts
            )
            n = write_export(rows, args.format, args.output or "-")
    if args.output:
        print(f"wrote {n} judgements to {args.output} ({args.format})", file=sys.stderr)
    return 0


def _export_study(args: argparse.Namespace) -> int:
    """`export --study STUDY.db`: the study's judgements as export rows."""
    from store.export import write_export
    from store.study import StudyDB
    from store.study_export import study_rows

    if args.db or args.session or args.transcripts:
        raise StoreError("--study exports a study alone; drop --db, --session and --transcripts")
    with StudyDB(args.study) as db:
        rows = [r for r in study_rows(db) if args.judge is None or r["judge"] == args.judge]
        return write_export(rows, args.format, args.output or "-")


def cmd_import(args: argparse.Namespace) -> int:
    from store.importing import import_logs

    with _open_store(args) as store:
        added, skipped = import_logs(store, args.files)
    if args.json:
        print(json.dumps({"added": added, "skipped": skipped}))
    else:
        print(f"imported {added} judgements ({skipped} already there)")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from store.stats import format_stats, stats

    if args.study:
        from store.study import StudyDB
        from store.study_export import study_rows

        if args.db:
            raise StoreError("give --db or --study, not both")
        with StudyDB(args.study) as db:
            rows = stats(list(study_rows(db)), args.by, practice=args.practice)
    else:
        with _open_store(args, create=False) as store:
            rows = stats(store, args.by, practice=args.practice)
    if args.json:
        # JSON has no infinity: an infinite mean regret is null, as in exports
        print(json.dumps(_json_safe(rows), indent=2, allow_nan=False))
    else:
        print(format_stats(rows, args.by) if rows else "no answered rounds yet")
    return 0


def _nonneg(s: str) -> int:
    v = int(s)
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def _rel_tol(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
    if not (math.isfinite(v) and 0.0 < v < 1.0):
        raise argparse.ArgumentTypeError("must be a number between 0 and 1, e.g. 0.005")
    return v


def _pos(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


#: `stats --by` (store.stats.GROUPINGS, not imported here: the parser imports nothing heavy).
_GROUPINGS = ["judge", "rules", "debaters", "kind", "condition", "item", "participant", "debater"]


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="pzjudge",
        description="How well does a bounded judge estimate P(Z)? A game and research tool.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str) -> Any:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--json", action="store_true", help="print JSON instead of a summary")
        sp.set_defaults(func=fn)
        return sp

    pl_ = add("play", cmd_play, "play a judging session in the terminal")
    pl_.add_argument("--judge", help="your name as a judge (default: $USER)")
    pl_.add_argument("--seed", type=int, help="seed of new sessions (default: random)")
    pl_.add_argument("--study", metavar="STUDY.db", help="take a study (from `study build`)")
    pl_.add_argument("--participant", metavar="CODE", help="with --study: your participant code")
    _store_args(pl_)
    _trust_arg(pl_)

    sv = add("serve", cmd_serve, "play in a browser: textual-serve on 127.0.0.1")
    sv.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    sv.add_argument("--judge", help="your name as a judge (default: $USER)")
    sv.add_argument("--study", metavar="STUDY.db", help="serve a study: each browser asks a code")
    _store_args(sv)
    _trust_arg(sv)

    g = add("generate", cmd_generate, "generate a world file from a seed")
    g.add_argument("--seed", type=int, required=True, help="random seed (same seed, same file)")
    g.add_argument("--statements", type=_pos, required=True, help="number of statements M")
    g.add_argument("--families", type=_nonneg, default=0, help="interpolation families")
    g.add_argument("--counterexamples", type=_nonneg, default=0, help="planted counterexamples")
    g.add_argument("--flips", type=_nonneg, default=0, help="negations hidden in families")
    g.add_argument("-o", "--output", help="write the world here (default: stdout)")
    g.add_argument(
        "--decoder",
        metavar="SPEC",
        help="builtin (default) or openai:MODEL: an LLM words each sentence, keeping the "
        "built-in decoder's meaning; failed calls keep the built-in text",
    )
    g.add_argument("--base-url", help="OpenAI-compatible endpoint for --decoder openai:MODEL")

    pr = add("prob", cmd_prob, "P(Z) of a world, with its standard error")
    pr.add_argument("world", help="world file (JSON)")
    pr.add_argument("--rel-tol", type=_rel_tol, default=0.005, help="relative std error to aim for")
    pr.add_argument("--seed", type=_nonneg, default=0, help="seed of the estimator")

    nw = add("nway", cmd_nway, "joint probability that the listed statements are all true")
    nw.add_argument("world", help="world file (JSON)")
    nw.add_argument("ids", nargs="+", metavar="ID", help="statement ids")

    bd = add("bounds", cmd_bounds, "what known n-way probabilities say about P(Z)")
    bd.add_argument("world", help="world file (JSON)")
    bd.add_argument("--order", type=_pos, help="every ≤K-way probability is known (default 2)")
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

    pl = add("plant", cmd_plant, "plant an LP-extremal counterexample with the same ≤K-way probs")
    pl.add_argument("world", help="world file (JSON)")
    pl.add_argument("--order", type=_pos, default=2, help="order K of probabilities to keep")
    pl.add_argument("--extreme", choices=["min", "max"], required=True)
    pl.add_argument("-o", "--output", required=True, help="where to write the planted world")

    db = add("debate", cmd_debate, "run one debate about a world's P(Z), headless")
    db.add_argument("world", nargs="?", help="world file (JSON); default: deal one from --seed")
    db.add_argument("--seed", type=int, default=0, help="the round's seed (the game shows it)")
    _deal_args(db)
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
    _store_args(db, record=True)
    _trust_arg(db)

    tn = add("tournament", cmd_tournament, "every pairing of debaters before every judge")
    tn.add_argument("--worlds", type=_pos, default=4, help="number of generated worlds")
    tn.add_argument("--seed", type=int, default=0)
    tn.add_argument("--debaters", required=True, help="comma-separated debater specs")
    tn.add_argument("--judges", default="maxent", help="comma-separated judge specs")
    tn.add_argument("--concurrency", type=_pos, default=4)
    _deal_args(tn)
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
        "--report",
        metavar="DIR",
        help="write ratings, judges and who-beats-whom as CSV, Markdown and PNG/SVG figures",
    )
    _store_args(tn, record=True)
    _trust_arg(tn)

    au = add("audit", cmd_audit, "can a heuristic tell the honest side? many rounds, headless")
    au.add_argument("--preset", choices=["practice", "debate", "hard"], default="debate")
    au.add_argument("--rounds", type=_pos, default=200, help="rounds to play (default 200)")
    au.add_argument("--seed", type=_nonneg, default=0)
    au.add_argument("--statements", type=_pos, help="override the preset's statements")
    au.add_argument("--families", type=_nonneg, help="override the preset's families")
    au.add_argument("--counterexamples", type=_nonneg, help="override the preset's traps")
    au.add_argument("--flips", type=_nonneg, help="override the preset's flips")
    au.add_argument(
        "--liar", default="random-liar", metavar="SPEC", help="builtin:NAME or random-liar"
    )
    au.add_argument(
        "--judge", default="maxent,independence,bounds", help="comma-separated simulated judges"
    )
    au.add_argument("--rules", help="rules file (TOML)")
    au.add_argument("--workers", type=_pos, default=2, help="processes (default 2)")
    au.add_argument("--markdown", action="store_true", help="one Markdown table (for docs)")
    au.add_argument("--save", metavar="FILE", help="write each round as played (JSON lines)")
    au.add_argument(
        "--claims-only",
        action="store_true",
        help="deal the rounds without debates: audit only where the claims sit (fast)",
    )
    au.add_argument("--load", metavar="FILE", help="report on rounds saved by --save")

    ex = add("export", cmd_export, "judgement logs out: one row per judgement")
    ex.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    ex.add_argument("--session", help="only this session (its id, or the uid in a log row)")
    ex.add_argument("--judge", help="only this judge")
    ex.add_argument("--transcripts", action="store_true", help="include the full transcripts")
    ex.add_argument("-o", "--output", help="file to write (default: stdout)")
    ex.add_argument("--study", metavar="STUDY.db", help="export a study database's judgements")
    _store_args(ex)

    im = add("import", cmd_import, "merge logs exported elsewhere (no duplicates)")
    im.add_argument("files", nargs="+", metavar="FILE", help="JSONL logs from pzjudge export")
    _store_args(im)

    stt = add("stats", cmd_stats, "summary of judgements: errors, trust, calibration")
    stt.add_argument(
        "--by",
        choices=_GROUPINGS,
        default="judge",
        help="group by: judge, rule set, debater pair, round kind, a study's condition, item "
        "or participant, or debater (with ratings as honest and as liar)",
    )
    stt.add_argument(
        "--practice", action="store_true", help="include practice rounds and attention checks"
    )
    stt.add_argument("--study", metavar="STUDY.db", help="a study database instead of --db")
    _store_args(stt)

    from tui.mimic_cli import add_mimic_commands

    add_mimic_commands(sub)
    from tui.study_cli import add_study_commands

    add_study_commands(sub)
    return p


def _deal_args(sp: argparse.ArgumentParser) -> None:
    """--preset and `generate`'s world options: what a headless run deals, as the game."""
    sp.add_argument(
        "--preset",
        choices=["practice", "debate", "hard"],
        help="deal worlds as this game preset does (default debate)",
    )
    sp.add_argument("--statements", type=_pos, help="statements per world (over the preset)")
    sp.add_argument("--families", type=_nonneg, help="interpolation families")
    sp.add_argument("--counterexamples", type=_nonneg, help="planted counterexamples")
    sp.add_argument("--flips", type=_nonneg, help="negations hidden in families")


def _store_args(sp: argparse.ArgumentParser, record: bool = False) -> None:
    sp.add_argument("--db", help="database file (default: $PZJUDGE_DB or the data directory)")
    if record:
        sp.add_argument("--no-store", action="store_true", help="do not record into the store")


def _trust_arg(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--trust-scripts",
        action="store_true",
        help="where no sandbox (bubblewrap) works, run script: debaters with your own rights",
    )


def _trust_scripts(args: argparse.Namespace) -> None:
    """--trust-scripts reaches every script debater, also those the game (or the game
    `serve` starts) makes later, through the environment (debate/sandbox.py)."""
    if getattr(args, "trust_scripts", False):
        from debate.sandbox import TRUST_ENV

        os.environ[TRUST_ENV] = "1"


def _warn_unsandboxed(debaters: Sequence[Any]) -> None:
    """Say once, on stderr, that a script runs without a sandbox (the user trusted it)."""
    for d in debaters:
        if getattr(d, "sandboxed", True) is False:
            from debate.sandbox import unavailable_reason

            print(
                f"pzjudge: warning: no sandbox ({unavailable_reason()}); script debaters run "
                "with your rights because of --trust-scripts",
                file=sys.stderr,
            )
            return


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
