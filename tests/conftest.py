"""Shared test settings.

Hypothesis runs derandomized (the same examples every run), so a property test cannot
pass on one CI run and fail on the next; set HYPOTHESIS_PROFILE=explore to search anew.
"""

from __future__ import annotations

import os
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
    # nor the user's remembered settings (tui/user_settings.py): read, or written
    os.environ["PZJUDGE_CONFIG"] = str(Path(tmp_path_factory.mktemp("config")) / "settings.json")
    yield
    if before is None:
        os.environ.pop("PZJUDGE_DB", None)
    else:
        os.environ["PZJUDGE_DB"] = before
