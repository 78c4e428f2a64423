"""Debates of a tournament as Ray tasks, and a cap on LLM calls per endpoint across a cluster.

`play_on_ray` submits one task per debate, at most `in_flight` at once, and hands each
result, or each failure with the events the debate made before it, to the driver's
callbacks as it arrives: the driver alone writes to the store. A debate that still fails
after Ray's retries is reported to `failed` and the run goes on with the others.

With an endpoint limit, every task plays under `RayGates`: a call to an endpoint (base URL
and model) first takes a lease from that endpoint's named actor (`EndpointLeases`, one per
endpoint in the cluster, shared by every run on it), so the endpoint never sees more calls
at once than the limit, however many workers and nodes play. A lease is renewed while its
call runs and lapses `LEASE_SECONDS` after its holder died, so a lost worker cannot keep a
slot for ever.

Ray is imported only here and only when used: it is an extra (`pip install 'pzjudge[ray]'`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from debate.endpoints import GATES, endpoint_key
from debate.errors import DebateError
from debate.events import Event

if TYPE_CHECKING:
    from debate.engine import DebateResult
    from debate.tournament import DebateJob

#: Seconds to wait for a TCP connection to a Ray address before calling it unreachable (Ray
#: itself retries for many minutes, printing warnings, before it gives up).
CONNECT_SECONDS = 5.0
#: Ray's ports when an address names none: the GCS of `ray start --head`, and Ray Client.
GCS_PORT, CLIENT_PORT = 6379, 10001

#: Times Ray plays a debate again after its task failed (a worker died, an exception).
RAY_RETRIES = 3
#: Ray namespace of the endpoint actors: every run on a cluster finds the same ones.
NAMESPACE = "pzjudge"
#: A lease lapses this long after its last renewal (its holder renews it a third of the
#: way through), so a slot held by a worker that died comes back within this time.
LEASE_SECONDS = 30.0

Play = Callable[["DebateJob"], tuple[list[Event], "DebateResult"]]


class DebateFailed(DebateError):
    """A debate that could not finish, with the events it made before it failed (what a
    Ray task raises, so the driver can store the partial debate)."""

    def __init__(self, message: str, events: list[Event] | None = None) -> None:
        super().__init__(message)
        self.events = list(events or [])

    def __reduce__(self) -> tuple[Any, ...]:
        return (DebateFailed, (str(self), self.events))


class EndpointLeases:
    """Counts the calls in progress to one endpoint across the cluster (a Ray async actor).

    `acquire(limit)` waits until fewer than `limit` leases are held, so each run's own limit
    holds against the calls of every run sharing the endpoint. `peak` is the most leases
    ever held at once (for tests and benchmarks)."""

    def __init__(self) -> None:
        self._leases: dict[str, float] = {}
        self._changed = asyncio.Condition()
        self.peak = 0

    def _expire(self, now: float) -> None:
        for lease in [k for k, until in self._leases.items() if until <= now]:
            del self._leases[lease]

    async def acquire(self, limit: int, ttl: float) -> str:
        """A new lease, once fewer than `limit` are held; it lapses after `ttl` seconds
        unless renewed."""
        async with self._changed:
            while True:
                now = time.monotonic()
                self._expire(now)
                if len(self._leases) < limit:
                    lease = uuid.uuid4().hex
                    self._leases[lease] = now + ttl
                    self.peak = max(self.peak, len(self._leases))
                    return lease
                soonest = min(self._leases.values()) - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=max(soonest, 0.01))

    async def renew(self, lease: str, ttl: float) -> bool:
        """Extend a lease still held; False when it had lapsed."""
        async with self._changed:
            if lease not in self._leases:
                return False
            self._leases[lease] = time.monotonic() + ttl
            return True

    async def release(self, lease: str) -> None:
        """Give a lease back and wake those waiting for one."""
        async with self._changed:
            self._leases.pop(lease, None)
            self._changed.notify_all()

    async def stats(self) -> tuple[int, int]:
        """(leases held now, the most ever held at once)."""
        async with self._changed:
            self._expire(time.monotonic())
            return len(self._leases), self.peak


def actor_name(base_url: str, model: str) -> str:
    """The name of an endpoint's lease actor (a hash: URLs hold characters names may not)."""
    digest = hashlib.sha256(endpoint_key(base_url, model).encode()).hexdigest()[:24]
    return f"endpoint-{digest}"


def endpoint_actor(base_url: str, model: str) -> Any:
    """The endpoint's lease actor, created by the first caller in the cluster (detached: it
    outlives the run that made it, so concurrent and later runs share its count)."""
    import ray

    return (
        ray.remote(EndpointLeases)
        .options(
            name=actor_name(base_url, model),
            namespace=NAMESPACE,
            get_if_exists=True,
            lifetime="detached",
            num_cpus=0,
            max_concurrency=10_000,  # waiters hold a thread of an async actor only as a task
        )
        .remote()
    )


class RayGates:
    """At most `limit` calls at once per endpoint across the Ray cluster (`debate.endpoints`).

    The Ray task's own process keeps one actor handle per endpoint."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("an endpoint limit must be at least 1")
        self.limit = limit
        self._actors: dict[str, Any] = {}

    @asynccontextmanager
    async def slot(self, base_url: str, model: str) -> AsyncIterator[None]:
        """Hold one lease of the endpoint for the length of the block, renewing it."""
        key = endpoint_key(base_url, model)
        if key not in self._actors:
            self._actors[key] = endpoint_actor(base_url, model)
        actor = self._actors[key]
        lease = await actor.acquire.remote(self.limit, LEASE_SECONDS)

        async def renew() -> None:
            while True:
                await asyncio.sleep(LEASE_SECONDS / 3)
                await actor.renew.remote(lease, LEASE_SECONDS)

        keeper = asyncio.ensure_future(renew())
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await actor.release.remote(lease)


def run_task(play: Play, job: DebateJob, endpoint_limit: int | None) -> Any:
    """The body of a Ray task: `play(job)` under the cluster-wide endpoint cap, if any."""
    token = GATES.set(RayGates(endpoint_limit)) if endpoint_limit else None
    try:
        return play(job)
    finally:
        if token is not None:
            GATES.reset(token)


def _failure(exc: BaseException) -> tuple[str, list[Event]]:
    """Why a task failed and the events its debate made first (none when its worker died)."""
    cause = getattr(exc, "cause", None)
    for err in (cause, exc):
        if isinstance(err, DebateFailed):
            return str(err), err.events
    text = str(cause if cause is not None else exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[-1].strip() if lines else type(exc).__name__)[:300], []


def check_ray_address(address: str | None, timeout: float = CONNECT_SECONDS) -> None:
    """Fail fast, in one line, when nothing listens at a Ray `address` (HOST:PORT, or
    ray://HOST:PORT for Ray Client): ray.init would retry for many minutes. No address (a
    local Ray) and "auto"/"local" (Ray finds its own) are not checked."""
    if not address or address in ("auto", "local"):
        return
    rest = address.removeprefix("ray://")
    host, sep, port_text = rest.rpartition(":")
    if not sep or not port_text.isdigit():
        host, port_text = rest, str(CLIENT_PORT if rest != address else GCS_PORT)
    host = host.strip("[]")  # an IPv6 literal: [::1]:6379
    hint = "start one with `ray start --head` or leave out the address for a local Ray"
    if not host or not 0 < int(port_text) < 65536:
        raise DebateError(f"no Ray cluster at {address}: not a HOST:PORT address; {hint}")
    try:
        with socket.create_connection((host, int(port_text)), timeout=timeout):
            pass
    except TimeoutError:
        raise DebateError(
            f"no Ray cluster at {address}: no answer within {timeout:g} s; {hint}"
        ) from None
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise DebateError(f"no Ray cluster at {address}: {why.lower()}; {hint}") from None


def play_on_ray(
    jobs: list[tuple[str, DebateJob]],
    *,
    play: Play,
    address: str | None,
    in_flight: int,
    finished: Callable[[str, DebateJob, list[Event], DebateResult], None],
    failed: Callable[[str, DebateJob, list[Event], str], None],
    task_cpus: float = 1.0,
    endpoint_limit: int | None = None,
) -> None:
    """Play `jobs` (debate id, job) as Ray tasks, at most `in_flight` at once, each reserving
    `task_cpus` CPUs, and hand each to `finished` (events, result) or, when it still fails
    after `RAY_RETRIES` retries, to `failed` (the events made before the failure, the
    reason), here in the driver, as it arrives. A local Ray is started when none is running
    and `address` is None (and shut down at the end); `address` joins a running cluster
    ("auto" finds the local node's)."""
    try:
        import ray
    except ImportError:
        raise DebateError("--ray needs Ray: pip install 'pzjudge[ray]'") from None
    started = not ray.is_initialized()
    if started:
        check_ray_address(address)
        try:
            ray.init(
                address=address,
                namespace=NAMESPACE,
                include_dashboard=False,
                log_to_driver=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address or "a local Ray"
            raise DebateError(f"cannot start or reach {where}: {exc}".splitlines()[0]) from None
    task = ray.remote(max_retries=RAY_RETRIES, retry_exceptions=True, num_cpus=task_cpus)(run_task)
    waiting = list(reversed(jobs))
    running: dict[Any, tuple[str, DebateJob]] = {}
    # Ray's driver prints its tasks' failures and retries on stdout, where `--json` goes
    with contextlib.redirect_stdout(sys.stderr):
        try:
            while waiting or running:
                while waiting and len(running) < max(1, in_flight):
                    did, job = waiting.pop()
                    running[task.remote(play, job, endpoint_limit)] = (did, job)
                (ref,), _ = ray.wait(list(running), num_returns=1)
                did, job = running.pop(ref)
                try:
                    events, res = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    reason, partial = _failure(exc)
                    failed(
                        did, job, partial, f"failed after {RAY_RETRIES} retries on Ray: {reason}"
                    )
                    continue
                finished(did, job, events, res)
        finally:
            for ref in running:
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()
