"""Shared test settings.

Hypothesis runs derandomized (the same examples every run), so a property test cannot
pass on one CI run and fail on the next; set HYPOTHESIS_PROFILE=explore to search anew.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True, scope="session")
def _own_default_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Commands run without --db write to this run's own database, never the user's, even
    when PZJUDGE_DB is set (another checkout of a newer version may have migrated it:
    `pzjudge debate` then refused it)."""
    before = os.environ.get("PZJUDGE_DB")
    os.environ["PZJUDGE_DB"] = str(Path(tmp_path_factory.mktemp("db")) / "pzjudge.db")
    yield
    if before is None:
        os.environ.pop("PZJUDGE_DB", None)
    else:
        os.environ["PZJUDGE_DB"] = before


_SETTINGS_DIR = Path(tempfile.gettempdir()) / f"pzjudge-test-settings-{os.getpid()}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Each test remembers settings (tui/user_settings.py) in its own file: never the
    user's, and never what another test's setup screen left (a script debater, say). A
    hook, not a fixture: Hypothesis refuses function-scoped fixtures around @given."""
    name = hashlib.sha256(item.nodeid.encode()).hexdigest()[:16]
    os.environ["PZJUDGE_CONFIG"] = str(_SETTINGS_DIR / f"{name}.json")


def pytest_sessionfinish(session: pytest.Session) -> None:
    shutil.rmtree(_SETTINGS_DIR, ignore_errors=True)
