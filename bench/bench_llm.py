"""Throughput of LLMClient against the loopback server with an artificial latency per request.

Run from the repository root: ``python bench/bench_llm.py`` (about 15 s). With a 200 ms server
latency, concurrency 16 should give at least 10x the throughput of concurrency 1; the exit
status is 1 when it does not.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the loopback server
sys.path.insert(0, str(ROOT))  # debate/, when not installed

from llm_server import LLMServer  # noqa: E402

from debate.llm import LLMClient, LLMConfig, gather_limited  # noqa: E402
from debate.models import Argument  # noqa: E402

MESSAGES = [{"role": "user", "content": "argue"}]


async def measure(
    url: str, n: int, concurrency: int, *, stream: bool, structured: bool
) -> tuple[float, float]:
    """Run `n` requests with at most `concurrency` in flight; return (seconds, requests/s)."""
    config = LLMConfig(base_url=url, model="bench", read_timeout=10.0, max_retries=0)
    async with LLMClient(config) as llm:
        jobs: list[Awaitable[object]]
        if structured:
            jobs = [llm.structured(MESSAGES, Argument, stream=stream) for _ in range(n)]
        else:
            jobs = [llm.complete(MESSAGES, stream=stream) for _ in range(n)]
        t0 = time.perf_counter()
        await gather_limited(jobs, concurrency)
        elapsed = time.perf_counter() - t0
    return elapsed, n / elapsed


def main() -> int:
    """Print a throughput table; return 0 when concurrency 16 is >= 10x concurrency 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="server latency, seconds")
    parser.add_argument("--requests", type=int, default=64, help="requests at concurrency 16")
    args = parser.parse_args()

    plan = [  # (concurrency, requests): fewer requests where each costs a full latency
        (1, max(4, args.requests // 8)),
        (4, max(8, args.requests // 2)),
        (16, args.requests),
    ]
    rates: dict[tuple[int, str], float] = {}
    with LLMServer(latency=args.latency) as server:
        print(f"loopback server, {args.latency * 1000:.0f} ms latency per request")
        print(f"{'mode':<22}{'concurrency':>12}{'requests':>10}{'seconds':>10}{'req/s':>10}")
        for mode, stream, structured in (
            ("complete", False, False),
            ("complete, streamed", True, False),
            ("structured Argument", False, True),
        ):
            for concurrency, n in plan:
                elapsed, rate = asyncio.run(
                    measure(server.url, n, concurrency, stream=stream, structured=structured)
                )
                rates[(concurrency, mode)] = rate
                print(f"{mode:<22}{concurrency:>12}{n:>10}{elapsed:>10.2f}{rate:>10.1f}")
    ok = True
    for mode in ("complete", "complete, streamed", "structured Argument"):
        ratio = rates[(16, mode)] / rates[(1, mode)]
        verdict = "ok" if ratio >= 10 else "BELOW TARGET"
        ok = ok and ratio >= 10
        print(f"{mode}: concurrency 16 / concurrency 1 = {ratio:.1f}x (target >= 10x) {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
