"""A round's world in an export row, and back.

An export row carries `world` as a JSON object, so `jq .world log.jsonl > w.json` gives a
file `pzjudge prob` reads. The store keys each world by the SHA-256 of its text
(store.migrations.world_id), and an object has no text of its own: import rebuilds the text
every pzjudge writer stores (`World.to_json()`, or `json.dumps` for a mimic round's
`{"mimic": …}`), which is the stored text byte for byte for every world pzjudge wrote, so
the world keeps its identity (`world_sha256`). A stored text that is not that (a world
stored by an older pzjudge as its file's own text) is also exported as `world_text`, byte
for byte, so that nothing is lost either way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from latent.errors import LatentError
from latent.world import parse_world

#: Distinct worlds whose export fields are kept while exporting (rows of a tournament or a
#: study repeat a few worlds; a 10,000-statement world takes a second to rebuild).
_CACHED = 8


def world_text(world: Any) -> str:
    """The text the store keeps for an exported world object: its `World.to_json()` (what
    the game, `pzjudge debate`, tournaments and studies store), or `json.dumps` of a mimic
    round's `{"mimic": …}` (stored so). ValueError for anything else."""
    if isinstance(world, dict) and set(world) == {"mimic"}:
        return json.dumps(world)
    try:
        return parse_world(world, "world").to_json()
    except LatentError as exc:
        # an import must not store what no round can be played or scored from
        raise ValueError(f"world is neither a world nor a mimic round: {exc}") from None


def _rebuilds(world: Any, text: str) -> bool:
    """Whether import would rebuild `text` from `world` (then the export leaves it out)."""
    try:
        return world_text(world) == text
    except ValueError:
        return False


def sha256_of(text: str) -> str:
    """The key the store gives a world's text (as store.migrations.world_id computes it)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class WorldFields:
    """The transcript fields of a stored world text: `world` (the object), `world_sha256`
    (its key in the store) and `world_text` (the text byte for byte when import would not
    rebuild it from the object; null otherwise). Kept for the last few worlds seen."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, Any]] = {}

    def __call__(self, text: str | None) -> dict[str, Any]:
        if text is None:
            return {"world": None, "world_sha256": None, "world_text": None}
        got = self._seen.get(text)
        if got is None:
            world = json.loads(text)
            got = {
                "world": world,
                "world_sha256": sha256_of(text),
                "world_text": None if _rebuilds(world, text) else text,
            }
            if len(self._seen) >= _CACHED:
                self._seen.clear()
            self._seen[text] = got
        return got


def stored_text(world: Any, text: str | None) -> str | None:
    """The world text to store for an imported row: an old row's `world` string as it is;
    a new row's `world_text` when given (it must be the text of `world`), else the text
    rebuilt from the object. ValueError when `world_text` is not `world`'s text."""
    if world is None or isinstance(world, str):
        return world
    if text is not None:
        try:
            same = json.loads(text) == world
        except (json.JSONDecodeError, RecursionError):
            same = False
        if not same:
            raise ValueError("world_text is not the text of world (drop world_text)")
        return text
    return world_text(world)


__all__ = ["WorldFields", "sha256_of", "stored_text", "world_text"]
