"""`GameStore`: the only door from the UI to `store/`.

Kept apart from tui/game.py so the app can open the store for the home screen without
importing the game (numpy, scipy, the debate engine): those load in the background.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from debate.mimic_round import MimicReveal, MimicRound
    from debate.protocol import Turn
    from debate.rounds import SessionSettings


class GameStore:
    """The only door from the UI to `store/`: a thin adapter, so API changes land here."""

    def __init__(self, path: str | Path | None = None) -> None:
        from store.db import Store

        self.store = Store(path)
        self.path = self.store.path

    def close(self) -> None:
        self.store.close()

    def start_session(self, settings: SessionSettings) -> int:
        rules = settings.rules().model_dump(mode="json")
        return self.store.start_session(
            settings.judge,
            kind=settings.kind,
            settings=settings.model_dump(mode="json"),
            rules=rules,
            debater_a=settings.debater_honest if settings.debate else None,
            debater_b=settings.debater_liar if settings.debate else None,
            seed=settings.seed,
        )

    def end_session(self, session_id: int) -> None:
        self.store.end_session(session_id)

    def start_round(self, session_id: int, **kw: Any) -> int:
        return self.store.start_round(session_id, **kw)

    def add_turn(self, round_id: int, turn: Turn) -> None:
        self.store.add_turn(round_id, turn)

    def add_query(self, round_id: int, ids: list[str], p: float, at: float) -> None:
        self.store.add_query(round_id, ids, p, at)

    def add_credence(self, round_id: int, after_turn: int, credence_a: float, at: float) -> None:
        self.store.add_credence(round_id, after_turn, credence_a, at)

    def record_judgement(self, round_id: int, **kw: Any) -> None:
        self.store.record_judgement(round_id, **kw)

    def abandon_round(self, round_id: int, reason: str) -> None:
        self.store.abandon_round(round_id, reason)

    def unfinished(self, judge: str | None = None) -> list[dict[str, Any]]:
        return self.store.unfinished_sessions(judge)

    def open_rounds(self, session_id: int) -> list[dict[str, Any]]:
        return self.store.open_rounds(session_id)

    def round_secret(self, round_id: int) -> dict[str, Any]:
        return self.store.round_secret(round_id)

    def start_mimic_round(self, judge: str, rnd: MimicRound) -> int:
        """A one-round session of kind "mimic" and its round, truth hidden until the reveal;
        returns the round id. The world column holds the round's spec and reveal numbers (for
        the engine and exports; the screen shows only the public part)."""
        import json

        spec = rnd.public.spec
        sid = self.store.start_session(
            judge,
            kind="mimic",
            settings={"mimic": spec.model_dump(mode="json")},
            rules={},
            debater_a=None,
            debater_b=None,
            seed=spec.seed,
        )
        return self.store.start_round(
            sid,
            number=1,
            world_json=json.dumps({"mimic": rnd.model_dump(mode="json")}),
            world_seed=spec.seed,
            n_statements=0,
            truth_pz=rnd.truth,
            log10_truth=math.log10(rnd.truth) if rnd.truth > 0 else None,
            honest_side=None,
            claims=None,
            kind="mimic",
        )

    def record_mimic_judgement(
        self, round_id: int, estimate: float, seconds: float, reveal: MimicReveal
    ) -> None:
        """Commit the answer of a mimic round and close its session, in one write: if
        closing fails the answer is undone too, so trying again stores it once."""
        with self.store.transaction():
            self.store.record_judgement(
                round_id,
                estimate=estimate,
                interval=None,
                credence_a=None,
                seconds=seconds,
                scores=reveal.scores,
                baselines=None,
                evidence={},
            )
            sid = self.store.round_public(round_id)["session_id"]
            self.store.end_session(sid)

    def history(self) -> list[dict[str, Any]]:
        """Every judgement as an export row, oldest first."""
        from store.export import export_rows

        rows = list(export_rows(self.store))
        rows.sort(key=lambda r: r["created_at"] or 0)
        return rows

    def stats(
        self, by: Literal["judge", "rules", "debaters", "kind"] = "judge"
    ) -> list[dict[str, Any]]:
        from store.stats import stats

        return stats(self.store, by)

    def export(self, fmt: str, out: str) -> int:
        from store.export import export_rows, write_export

        # a format typed by hand (the screen's choice) is refused there, in one line
        return write_export(export_rows(self.store), cast(Literal["jsonl", "csv"], fmt), out)
