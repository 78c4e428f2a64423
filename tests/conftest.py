"""Shared test settings.

Hypothesis runs derandomized (the same examples every run), so a property test cannot
pass on one CI run and fail on the next; set HYPOTHESIS_PROFILE=explore to search anew.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
