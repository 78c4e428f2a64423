"""Tournaments: every pairing of debaters, on both sides, before every judge, over N worlds.

Worlds are generated from the seed, so a tournament of non-LLM debaters is reproducible.
Given round settings (a game preset), world i is the world the game deals for round i+1 of
a session with the same seed (`debate.rounds.deal_round`).
Debates run concurrently up to a limit (LLM debaters spend their time waiting on the
network; built-in ones share the CPU), in this process, or as Ray tasks on a local Ray or a
cluster (`use_ray`; docs/scale.md): each task plays one debate and returns its events and
result, and this process alone writes them to the store, in the order they finish.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
from collections.abc import Callable, Mapping
from itertools import permutations
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from debate.endpoints import GATES, LocalGates
from debate.engine import DebateResult, run_debate
from debate.errors import DebateError
from debate.events import Event, TurnEvent
from debate.ratings import Game, Ratings, rate
from debate.ray_runner import DebateFailed, Play, check_ray_address, play_on_ray
from debate.rounds import SessionSettings, deal_round, world_seed
from debate.rules import Rules
from debate.scoring import trust_points, trust_verdict
from debate.specs import make_debater, make_judge
from latent.generate import generate_world
from latent.pz import world_pz
from latent.world import World


class Standing(BaseModel):
    """Aggregate results for one debater or one judge."""

    name: str
    debates: int
    #: Share of debates in which the judge's final credence favoured the honest side (a
    #: credence of exactly 0.5 favours nobody and counts half, as a coin would).
    honest_won: float
    #: For a debater: share of its debates where the judge favoured it (ties count half).
    won: float | None = None
    mean_log10_error: float
    median_log10_error: float
    mean_regret_bits: float


class TournamentResult(BaseModel):
    """All debates of a tournament and the standings."""

    seed: int
    worlds: int
    debaters: list[Standing]
    judges: list[Standing]
    #: Bradley–Terry ratings of the debaters (as honest, as liar) and the judges' accuracy
    #: and error, with bootstrap 95% intervals (`debate.ratings`).
    ratings: Ratings
    debates: list[DebateResult]
    #: Debates that failed (after Ray's retries, with --ray): the run went on without them.
    failed: list[FailedDebate] = []


#: Version of how a tournament plays a debate from its inputs; part of every debate id, so
#: raise it when the same inputs would now play differently (old results then replay).
PROTOCOL = 1


def world_digest(world: World) -> str:
    """The SHA-256 of a world as played (its JSON text): what a debate id holds of it.
    Computed once per world of a tournament, not once per debate (a large world's text
    takes a while)."""
    return hashlib.sha256(world.to_json().encode()).hexdigest()


def spec_runs(spec: str, base_url: str | None = None) -> dict[str, str] | None:
    """What a debater or judge spec runs beyond its string, for a debate id: the SHA-256 of
    the file a `script:` or `file:` spec names (editing it changes the debates), the
    endpoint (base URL as resolved, model) of an `openai:`/`llm:` spec, never a key. None
    for built-in and simulated parties (their behaviour is `PROTOCOL`'s). A file that cannot
    be read is a one-line DebateError."""
    kind, _, rest = spec.partition(":")
    if kind in ("script", "file") and rest:
        path = rest.rpartition(":")[0] if kind == "script" else rest
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise DebateError(
                f"{spec}: cannot read {path} ({exc.strerror}); check the path"
            ) from None
        return {"sha256": hashlib.sha256(data).hexdigest()}
    if kind in ("openai", "llm") and rest:
        from debate.llm_players import llm_config

        return {"base_url": llm_config(rest, base_url).base_url, "model": rest}
    return None


def debate_id(
    world: World | str,
    seed: int,
    truth: float,
    spec_a: str,
    spec_b: str,
    spec_j: str,
    rules: Rules,
    runs: Mapping[str, Mapping[str, str] | None] | None = None,
) -> str:
    """The id of one debate of a tournament: a hash of everything that decides it (the world
    as played, or its `world_digest`; the debate's seed and truth, both debater specs in
    side order, the judge, the rules, `PROTOCOL`, and what each spec runs: `runs` maps a
    spec to its `spec_runs`, the hash of its script or speeches file or its endpoint). The
    same inputs give the same id in any run, so a rerun can tell what it has already
    played; an edited script or another endpoint gives new ids, so it plays again.
    Debates of built-in and simulated parties only have the ids they had before `runs`
    existed."""
    inputs: dict[str, Any] = {
        "protocol": PROTOCOL,
        "world": world if isinstance(world, str) else world_digest(world),
        "seed": seed,
        "truth": truth,
        "a": spec_a,
        "b": spec_b,
        "judge": spec_j,
        "rules": rules.model_dump(mode="json"),
    }
    ran = {s: dict(r) for s in (spec_a, spec_b, spec_j) if (r := (runs or {}).get(s))}
    if ran:  # absent otherwise: built-in-only ids stay what they were
        inputs["runs"] = ran
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class DebateJob(BaseModel):
    """Everything one debate of a tournament is played from (what a Ray task receives)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    world: World
    seed: int
    truth: float
    #: The standard error of log10 of `truth` (0: exact), stored with the round.
    truth_stderr: float | None = None
    spec_a: str
    spec_b: str
    spec_j: str
    rules: Rules
    base_url: str | None = None


def play_debate(job: DebateJob) -> tuple[list[Event], DebateResult]:
    """Play one debate to its end in this process (the body of a Ray task): its events in
    the order they came, and its result. Deterministic under the job's seed for non-LLM
    parties, so a task retried elsewhere plays the same debate. A debate that fails raises
    `DebateFailed` carrying the events it made first, so that they are stored."""
    events: list[Event] = []
    try:
        res = asyncio.run(
            run_debate(
                job.world,
                make_debater(job.spec_a, base_url=job.base_url),
                make_debater(job.spec_b, base_url=job.base_url),
                make_judge(job.spec_j, base_url=job.base_url),
                job.rules,
                seed=job.seed,
                truth=job.truth,
                truth_stderr=job.truth_stderr,
                on_record=events.append,
            )
        )
    except Exception as exc:
        raise DebateFailed(_reason(exc), events) from exc
    return events, res


def _reason(exc: BaseException) -> str:
    """A failure as one line: its message, or its type when it has none."""
    text = " ".join(str(exc).split())
    return (text or type(exc).__name__)[:300]


class FailedDebate(BaseModel):
    """A debate that could not finish: not in the standings or ratings. Its turns are
    stored as an abandoned round (when a store is given), so a rerun on the same store plays
    it again."""

    debate_id: str
    world: int
    debater_a: str
    debater_b: str
    judge: str
    error: str
    #: Turns it made before it failed (stored with it).
    turns: int


class Watcher(Protocol):
    """Follows one debate of a tournament: its events as they happen, then its end."""

    def on_event(self, event: Event) -> None: ...

    def on_result(self, result: DebateResult) -> None: ...

    def on_error(self, exc: BaseException) -> None: ...


def tournament_worlds(
    n: int, seed: int, statements: int = 30, settings: SessionSettings | None = None
) -> list[World]:
    """The N worlds of a tournament: with `settings`, the worlds of rounds 1..N of a game
    session with this seed; else a mix of families, traps and flips, from the seed."""
    if settings is not None:
        game = settings.model_copy(update={"seed": seed, "debate": True})
        return [deal_round(game, world_seed(game, i + 1)).world for i in range(n)]
    out = []
    for i in range(n):
        out.append(
            generate_world(
                seed=seed * 1000 + i,
                statements=statements,
                families=2 + i % 2,
                counterexamples=1 + i % 2,
                flips=i % 2,
            )
        )
    return out


def _standing(name: str, rows: list[DebateResult], side_of: dict[int, str] | None) -> Standing:
    honest_won = [trust_points(r.judgement.credence_a, r.honest_side) for r in rows]
    won = None
    if side_of is not None:
        won = statistics.fmean(trust_points(r.judgement.credence_a, side_of[id(r)]) for r in rows)
    errs = [r.scores.log10_error for r in rows]
    return Standing(
        name=name,
        debates=len(rows),
        honest_won=statistics.fmean(honest_won),
        won=won,
        mean_log10_error=statistics.fmean(errs),
        median_log10_error=statistics.median(errs),
        mean_regret_bits=statistics.fmean(r.scores.regret_bits for r in rows),
    )


def _game(res: DebateResult, spec_a: str, spec_b: str, spec_j: str) -> Game:
    """A debate as the ratings see it, under the specs the tournament was given."""
    honest, liar = (spec_a, spec_b) if res.honest_side == "a" else (spec_b, spec_a)
    credence = res.judgement.credence_a
    trusted = trust_verdict(credence if res.honest_side == "a" else 1.0 - credence)
    return Game(
        honest=honest,
        liar=liar,
        judge=spec_j,
        honest_trusted=trusted,
        log10_error=res.scores.log10_error,
    )


async def run_tournament(
    n_worlds: int,
    seed: int,
    debaters: list[str],
    judges: list[str],
    *,
    rules: Rules | None = None,
    concurrency: int = 4,
    statements: int = 30,
    base_url: str | None = None,
    on_result: Callable[[DebateResult], Any] | None = None,
    watch: Callable[[World, str], Watcher] | None = None,
    settings: SessionSettings | None = None,
    played: Mapping[str, DebateResult] | None = None,
    progress: Callable[[int, int], Any] | None = None,
    use_ray: bool = False,
    ray_address: str | None = None,
    endpoint_limit: int | None = None,
    task_cpus: float = 1.0,
    ray_play: Play = play_debate,
) -> TournamentResult:
    """Every ordered pair of distinct debaters × every judge × every world.

    With `settings` (a game preset and world options) the worlds are dealt as the game
    deals them (`tournament_worlds`); the claims are dealt per pairing, for its liar.

    `watch(world, debate_id)` is called as each debate starts; its watcher sees that
    debate's events (a store commits each turn as it is made) and then its result or the
    error ending it.

    Debates whose id (`debate_id`) is in `played` are not played again: their stored result
    stands, so a rerun after a crash (or with more worlds) plays only what is missing and
    returns what an uninterrupted run would. `progress(done, total)` counts the debates
    played in this run, finished or failed (`total` excludes those already played).

    A debate that fails (an exception; with Ray, after Ray's retries) does not stop the
    run: its watcher gets the error after the events it made, and it is listed in
    `failed`, outside the standings and ratings. When every debate to play fails, the run
    raises DebateError with the first reason.

    `endpoint_limit` caps the LLM calls in progress at once per endpoint (base URL and
    model): in this process by asyncio semaphores, with Ray across the whole cluster
    (`debate.ray_runner`), whatever `concurrency` allows.

    With `use_ray`, the debates are Ray tasks (`debate.ray_runner.play_on_ray`, each
    running `ray_play`, reserving `task_cpus` CPUs; `concurrency` caps those in flight) on a
    local Ray or the cluster at `ray_address`; each watcher sees its debate's events
    replayed here when the task returns, then its result: the same store rows and the same
    result as the local run.
    """
    if not debaters or not judges:
        raise DebateError("a tournament needs at least one debater and one judge")
    if endpoint_limit is not None and endpoint_limit < 1:
        raise DebateError("the endpoint limit must be at least 1 call at once")
    if task_cpus <= 0:
        raise DebateError("each Ray task must reserve more than 0 CPUs (e.g. 0.25)")
    if use_ray:
        check_ray_address(ray_address)  # before the worlds are made: a bad address fails fast
    rules = rules or Rules()
    worlds = tournament_worlds(n_worlds, seed, statements, settings)
    pzs = [world_pz(w) for w in worlds]
    truths = [pz.pz for pz in pzs]
    pairs = list(permutations(debaters, 2)) if len(debaters) > 1 else [(debaters[0],) * 2]
    sem = asyncio.Semaphore(max(1, concurrency))
    played = played or {}
    jobs = []
    for w, (world, truth) in enumerate(zip(worlds, truths, strict=True)):
        for spec_a, spec_b in pairs:
            for spec_j in judges:
                jobs.append((w, world, truth, spec_a, spec_b, spec_j))
    # what each spec runs (a file's hash, an endpoint) and each world's hash, once each
    runs = {spec: spec_runs(spec, base_url) for spec in {*debaters, *judges}}
    digests = [world_digest(w) for w in worlds]
    ids = [
        debate_id(digests[j[0]], seed * 7919 + j[0], j[2], j[3], j[4], j[5], rules, runs)
        for j in jobs
    ]
    index = {did: i for i, did in enumerate(ids)}
    todo = sum(did not in played for did in ids)
    done = 0
    failures: dict[str, FailedDebate] = {}

    def count() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, todo)

    def fail(did: str, events: list[Event], reason: str) -> None:
        w, _, _, spec_a, spec_b, spec_j = jobs[index[did]]
        failures[did] = FailedDebate(
            debate_id=did,
            world=w,
            debater_a=spec_a,
            debater_b=spec_b,
            judge=spec_j,
            error=reason,
            turns=sum(isinstance(e, TurnEvent) for e in events),
        )
        count()

    async def one(job: tuple[int, World, float, str, str, str], did: str) -> DebateResult | None:
        w, world, truth, spec_a, spec_b, spec_j = job
        if did in played:
            return played[did]
        async with sem:
            watcher = watch(world, did) if watch is not None else None
            events: list[Event] = []

            def record(event: Event) -> None:
                events.append(event)
                if watcher is not None:
                    watcher.on_event(event)

            try:
                res = await run_debate(
                    world,
                    make_debater(spec_a, base_url=base_url),
                    make_debater(spec_b, base_url=base_url),
                    make_judge(spec_j, base_url=base_url),
                    rules,
                    seed=seed * 7919 + w,
                    truth=truth,
                    truth_stderr=pzs[w].log10_pz_stderr,
                    on_record=record,
                )
            except Exception as exc:
                # the run goes on: this debate's turns are already stored, marked abandoned
                if watcher is not None:
                    watcher.on_error(exc)
                fail(did, events, _reason(exc))
                return None
            except BaseException as exc:
                if watcher is not None:
                    watcher.on_error(exc)
                raise
        if watcher is not None:
            watcher.on_result(res)
        if on_result is not None:
            on_result(res)
        count()
        return res

    if use_ray:
        by_id: dict[str, DebateResult] = {}

        def finished(did: str, job: DebateJob, events: list[Event], res: DebateResult) -> None:
            watcher = watch(job.world, did) if watch is not None else None
            if watcher is not None:
                for event in events:
                    watcher.on_event(event)
                watcher.on_result(res)
            if on_result is not None:
                on_result(res)
            by_id[did] = res
            count()

        def failed(did: str, job: DebateJob, events: list[Event], reason: str) -> None:
            # the partial debate is stored as the local runner stores it: turns, abandoned
            watcher = watch(job.world, did) if watch is not None else None
            if watcher is not None:
                for event in events:
                    watcher.on_event(event)
                watcher.on_error(DebateError(reason))
            fail(did, events, reason)

        pending = {
            did: DebateJob(
                world=world,
                seed=seed * 7919 + w,
                truth=truth,
                truth_stderr=pzs[w].log10_pz_stderr,
                spec_a=spec_a,
                spec_b=spec_b,
                spec_j=spec_j,
                rules=rules,
                base_url=base_url,
            )
            for (w, world, truth, spec_a, spec_b, spec_j), did in zip(jobs, ids, strict=True)
            if did not in played
        }
        play_on_ray(
            list(pending.items()),
            play=ray_play,
            address=ray_address,
            in_flight=concurrency,
            finished=finished,
            failed=failed,
            task_cpus=task_cpus,
            endpoint_limit=endpoint_limit,
        )
        outcome: list[DebateResult | None] = [
            played[did] if did in played else by_id.get(did) for did in ids
        ]
    else:
        token = GATES.set(LocalGates(endpoint_limit)) if endpoint_limit else None
        try:
            outcome = await asyncio.gather(*(one(j, did) for j, did in zip(jobs, ids, strict=True)))
        finally:
            if token is not None:
                GATES.reset(token)
    kept = [(res, job) for res, job in zip(outcome, jobs, strict=True) if res is not None]
    if not kept and failures:
        first = failures[next(iter(failures))]
        raise DebateError(f"every debate of the tournament failed; the first: {first.error}")
    deb_rows: dict[str, list[DebateResult]] = {}
    side_of: dict[str, dict[int, str]] = {}
    for res, job in kept:
        for side, name in (("a", job[3]), ("b", job[4])):
            if id(res) not in side_of.setdefault(name, {}):
                deb_rows.setdefault(name, []).append(res)
                side_of[name][id(res)] = side
    standings = [_standing(name, rows, side_of[name]) for name, rows in deb_rows.items()]
    judge_rows: dict[str, list[DebateResult]] = {}
    for res, job in kept:
        judge_rows.setdefault(job[5], []).append(res)
    games = [_game(res, job[3], job[4], job[5]) for res, job in kept]
    return TournamentResult(
        seed=seed,
        worlds=n_worlds,
        debaters=standings,
        judges=[_standing(name, rows, None) for name, rows in judge_rows.items()],
        ratings=rate(games, seed=seed),
        debates=[res for res, _ in kept],
        failed=[failures[did] for did in ids if did in failures],
    )
