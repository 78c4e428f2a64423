"""`--ray ADDRESS` where no Ray cluster listens fails in seconds with one line, instead of
Ray's minutes of connection warnings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from debate.errors import DebateError
from debate.ray_runner import check_ray_address

HINT = "start one with `ray start --head` or leave out the address for a local Ray"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound by this test but not listening: a connection is refused, and
    no other process can take the port meanwhile."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    try:
        yield int(s.getsockname()[1])
    finally:
        s.close()


def test_an_unreachable_ray_address_fails_fast_in_one_line(closed_port: int) -> None:
    address = f"127.0.0.1:{closed_port}"
    cmd = [
        sys.executable, "-m", "tui.cli", "tournament", "--worlds", "1", "--debaters",
        "builtin:honest,builtin:flip-hider", "--ray", address, "--no-store",
    ]  # fmt: skip
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=os.environ)
    took = time.monotonic() - t0
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"pzjudge: error: no Ray cluster at {address}: connection refused; {HINT}"
    ]
    # the interpreter's start-up and imports only (Ray itself retried for 9+ minutes)
    assert took < 60, took


@pytest.mark.parametrize("form", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}", "[::1]:{port}"])
def test_every_address_form_is_checked(form: str, closed_port: int) -> None:
    address = form.format(port=closed_port)
    t0 = time.monotonic()
    with pytest.raises(DebateError) as err:
        check_ray_address(address, timeout=2.0)
    assert time.monotonic() - t0 < 3.0
    msg = str(err.value)
    assert msg.startswith(f"no Ray cluster at {address}: ") and msg.endswith(HINT)
    assert "\n" not in msg


def test_a_listening_address_and_the_local_forms_pass() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        check_ray_address(f"127.0.0.1:{s.getsockname()[1]}")
    for address in (None, "", "auto", "local"):
        check_ray_address(address)  # a local Ray, or the one Ray finds itself: not checked
    with pytest.raises(DebateError, match="not a HOST:PORT address"):
        check_ray_address("127.0.0.1:99999")
