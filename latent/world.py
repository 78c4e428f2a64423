"""World models: the hidden joint distribution of the statements' truth values.

A world is a list of independent blocks. A Gaussian block says statement i is true iff
X_i > threshold_i (X_i <= threshold_i for a flip), X ~ N(0, covariance). A discrete block
is a finite outcome space; a statement is a set of outcomes. P(Z) is the product of the
blocks' probabilities that all their statements are true.

World files are JSON; `load_world` refuses a malformed one with a single line naming the
file, the field and the fix.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from latent.errors import LatentError
from latent.text import CleanText, control_chars

#: Tolerance for "probabilities sum to 1", symmetry and positive semi-definiteness.
TOL = 1e-9
#: Largest |threshold| in standard deviations: beyond it a statement is certain or
#: impossible at any float precision (and the orthant integrals lose their meaning).
MAX_STD_THRESHOLD = 100.0
#: Deepest nesting of lists and objects a world file may have (a real one has 4 or 5).
MAX_DEPTH = 64
#: Longest statement id (ids are opaque names, not texts).
MAX_ID_CHARS = 200

Trap = Literal["d4", "parity", "extremal", "flip"]


class FieldError(ValueError):
    """A validation error that knows which field (relative to the model) is at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Statement(_Model):
    """What every statement has: an opaque id and the sentence a judge reads."""

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    #: Cleaned of terminal control sequences as the file is read.
    text: CleanText

    @field_validator("id")
    @classmethod
    def _plain_id(cls, v: str) -> str:
        # `&` joins ids in evidence keys ("s1&s2"): an id holding it would collide with a
        # pair's key; control characters would reach the terminal wherever ids are shown
        if "&" in v:
            raise ValueError(f"statement id {v!r} contains '&', which joins ids in evidence keys")
        if control_chars(v):
            raise ValueError(f"statement id {v!r} contains control characters; use plain text")
        return v


class GaussianStatement(Statement):
    """True iff X_i > threshold (or X_i <= threshold when `flip`)."""

    threshold: float = 0.0
    flip: bool = False
    #: The latent point the text was decoded from, when the world was generated.
    latent: list[float] | None = None

    @field_validator("threshold")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError(f"threshold must be a finite number, got {v}; use e.g. 0.0")
        return v


class DiscreteStatement(Statement):
    """True iff the block's outcome is one of `outcomes`."""

    outcomes: list[str]


class GaussianBlock(_Model):
    """Statements whose truth comes from thresholding a correlated Gaussian vector."""

    kind: Literal["gaussian"] = "gaussian"
    name: CleanText | None = None
    #: What was planted here, for the reveal (never shown before the judge answers).
    trap: Trap | None = None
    statements: list[GaussianStatement] = Field(min_length=1)
    covariance: list[list[float]]

    @model_validator(mode="after")
    def _check_covariance(self) -> GaussianBlock:
        m = len(self.statements)
        cov = self.covariance
        if len(cov) != m or any(len(row) != m for row in cov):
            bad = next((i for i, row in enumerate(cov) if len(row) != m), None)
            got = (
                f"row {bad} has {len(cov[bad])} entr{'y' if len(cov[bad]) == 1 else 'ies'}"
                if bad is not None
                else f"it has {len(cov)} row{'' if len(cov) == 1 else 's'}"
            )
            raise FieldError(
                "covariance",
                f"must be a {m}x{m} matrix (one row and column per statement) but {got}; "
                "fix its size",
            )
        a = np.asarray(cov, dtype=float)
        if not np.all(np.isfinite(a)):
            raise FieldError("covariance", "has a non-finite entry; use finite numbers")
        d = np.diag(a)
        if np.any(d <= 0):
            i = int(np.argmin(d))
            raise FieldError(
                f"covariance[{i}][{i}]",
                f"diagonal entry (a variance) is {d[i]:g}; variances must be > 0",
            )
        asym = np.max(np.abs(a - a.T)) if m > 1 else 0.0
        if asym > TOL * max(1.0, float(np.max(d))):
            i, j = (int(x) for x in np.unravel_index(int(np.argmax(np.abs(a - a.T))), a.shape))
            raise FieldError(
                "covariance",
                f"not symmetric (entry [{i}][{j}] = {a[i, j]:g} but [{j}][{i}] = {a[j, i]:g}); "
                "mirror it",
            )
        s = np.sqrt(d)
        h = np.abs(np.array([st.threshold for st in self.statements])) / s
        if np.any(h > MAX_STD_THRESHOLD):
            i = int(np.argmax(h))
            raise FieldError(
                f"statements[{i}].threshold",
                f"is {h[i]:.3g} standard deviations from 0; at most {MAX_STD_THRESHOLD:g} make "
                "sense (further out a statement is simply true or false: drop it, or use a "
                "discrete block)",
            )
        corr = a / np.outer(s, s)
        lam = float(np.linalg.eigvalsh((corr + corr.T) / 2)[0]) if m > 1 else 1.0
        if lam < -1e-8:
            raise FieldError(
                "covariance",
                f"not positive semi-definite (smallest eigenvalue of the correlation "
                f"{lam:.3g}); add to the diagonal or use a kernel matrix",
            )
        return self

    @cached_property
    def cov(self) -> np.ndarray:
        """The covariance as a float array (m, m)."""
        return np.asarray(self.covariance, dtype=float)

    @cached_property
    def corr(self) -> np.ndarray:
        """The correlation matrix (truth only depends on it after standardising)."""
        s = np.sqrt(np.diag(self.cov))
        r = self.cov / np.outer(s, s)
        np.fill_diagonal(r, 1.0)
        return np.clip((r + r.T) / 2, -1.0, 1.0)

    @cached_property
    def std_thresholds(self) -> np.ndarray:
        """Thresholds in units of each X_i's standard deviation."""
        return np.array([st.threshold for st in self.statements]) / np.sqrt(np.diag(self.cov))

    @cached_property
    def flips(self) -> np.ndarray:
        return np.array([st.flip for st in self.statements], dtype=bool)

    @cached_property
    def signs(self) -> np.ndarray:
        """+1 for an ordinary statement, -1 for a flip: E_i is {signs_i * (X_i - c_i) > 0}."""
        return np.where(self.flips, -1.0, 1.0)

    def orthant(self, idx: list[int] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Upper-orthant form of a subset: E_i = {Y_i > h_i}, Y = signs * X standardised.

        Returns the correlation matrix of Y restricted to `idx` and the thresholds h.
        """
        sel = np.arange(len(self.statements)) if idx is None else np.asarray(idx, dtype=int)
        s = self.signs[sel]
        r = self.corr[np.ix_(sel, sel)] * np.outer(s, s)
        h = self.std_thresholds[sel] * s
        return r, h


class DiscreteBlock(_Model):
    """A finite outcome space; exact probabilities by summation."""

    kind: Literal["discrete"] = "discrete"
    name: CleanText | None = None
    trap: Trap | None = None
    outcomes: dict[str, float] = Field(min_length=1)
    statements: list[DiscreteStatement] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> DiscreteBlock:
        for k, p in self.outcomes.items():
            if control_chars(k):
                raise FieldError("outcomes", f"outcome {k!r} contains control characters")
            if not (math.isfinite(p) and p >= 0):
                raise FieldError(f"outcomes.{k}", f"probability is {p}; use a number >= 0")
        total = math.fsum(self.outcomes.values())
        if abs(total - 1.0) > TOL:
            raise FieldError("outcomes", f"probabilities sum to {total:.12g}; make them sum to 1")
        for i, st in enumerate(self.statements):
            for j, o in enumerate(st.outcomes):
                if o not in self.outcomes:
                    raise FieldError(
                        f"statements[{i}].outcomes[{j}]",
                        f"statement {st.id!r} names unknown outcome {o!r}; "
                        f"use one of {sorted(self.outcomes)[:8]}",
                    )
        return self

    @cached_property
    def probs(self) -> np.ndarray:
        """Outcome probabilities in the order of `outcomes`."""
        return np.array(list(self.outcomes.values()), dtype=float)

    @cached_property
    def membership(self) -> np.ndarray:
        """Boolean (statements, outcomes): statement i is true at outcome j."""
        keys = {k: j for j, k in enumerate(self.outcomes)}
        a = np.zeros((len(self.statements), len(keys)), dtype=bool)
        for i, st in enumerate(self.statements):
            a[i, [keys[o] for o in st.outcomes]] = True
        return a


Block = Annotated[GaussianBlock | DiscreteBlock, Field(discriminator="kind")]


class WorldMeta(_Model):
    """How a world was made: enough to make it again."""

    seed: int | None = None
    generator: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)


class World(_Model):
    """Independent blocks of statements; the whole background model Z."""

    blocks: list[Block] = Field(min_length=1)
    meta: WorldMeta | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> World:
        seen: set[str] = set()
        for b, block in enumerate(self.blocks):
            for i, st in enumerate(block.statements):
                if st.id in seen:
                    raise FieldError(
                        f"blocks[{b}].statements[{i}].id",
                        f"duplicate statement id {st.id!r}; ids must be unique across all blocks",
                    )
                seen.add(st.id)
        return self

    @cached_property
    def index(self) -> dict[str, tuple[int, int]]:
        """Statement id -> (block number, position in block)."""
        return {
            st.id: (b, i)
            for b, blk in enumerate(self.blocks)
            for i, st in enumerate(blk.statements)
        }

    @property
    def ids(self) -> list[str]:
        return list(self.index)

    @property
    def n_statements(self) -> int:
        return len(self.index)

    def statement(self, sid: str) -> GaussianStatement | DiscreteStatement:
        b, i = self.locate(sid)
        return self.blocks[b].statements[i]

    def locate(self, sid: str) -> tuple[int, int]:
        """(block, position) of a statement id, or a LatentError naming the bad id."""
        try:
            return self.index[sid]
        except KeyError:
            raise LatentError(
                f"unknown statement id {sid!r}; see the ids in the world file"
            ) from None

    def group(self, ids: list[str]) -> dict[int, list[int]]:
        """Split statement ids into {block: [positions]} (duplicates removed, order kept)."""
        out: dict[int, list[int]] = {}
        for sid in ids:
            b, i = self.locate(sid)
            if i not in out.setdefault(b, []):
                out[b].append(i)
        return out

    def to_json(self) -> str:
        """Deterministic JSON text: same world -> byte-identical file.

        Indented for reading, except that each covariance row stays on one line (a
        2,000-statement world would otherwise be hundreds of thousands of lines).
        """
        data = self.model_dump(mode="json", exclude_none=True)
        nonce = uuid.uuid4().hex
        rows: list[str] = []
        for block in data["blocks"]:
            if "covariance" in block:
                rows.append(
                    "[\n"
                    + ",\n".join(
                        "   " + json.dumps(r, separators=(",", ":")) for r in block["covariance"]
                    )
                    + "\n  ]"
                )
                block["covariance"] = f"@@cov{nonce}:{len(rows) - 1}@@"
        text = json.dumps(data, indent=1)
        # one pass (a replace per block rescanned the whole text: seconds at 100 blocks);
        # the nonce keeps a marker-like string elsewhere in the file (a setting) as it is
        marker = re.compile(f'"@@cov{nonce}:(\\d+)@@"')
        return marker.sub(lambda m: rows[int(m.group(1))], text) + "\n"


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("gaussian", "discrete") or str(part).startswith(("function-", "tagged-")):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def too_deep(data: Any, limit: int) -> bool:
    """Whether lists/objects in `data` nest deeper than `limit` (checked without recursion,
    so a hostile file cannot exhaust the stack here)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def parse_world(data: Any, source: str = "world") -> World:
    """Validate already-parsed JSON as a world; errors are one actionable line."""
    if too_deep(data, MAX_DEPTH):
        raise LatentError(
            f"{source}: lists and objects nest deeper than {MAX_DEPTH} levels; "
            "a world file is blocks of statements (see the schema in the README)"
        )
    try:
        return World.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            loc = (*loc, *_split_field(cause.field))
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        where = _field_path(loc)
        where = f"{where}: " if where else ""  # the whole file is wrong: no field to name
        raise LatentError(f"{source}: {where}{_message(err)}{more}") from None


def _split_field(field: str) -> tuple[int | str, ...]:
    """ "statements[1].id" -> ("statements", 1, "id"), the shape of a pydantic location."""
    out: list[int | str] = []
    for part in field.split("."):
        name, *idx = part.replace("]", "").split("[")
        if name:
            out.append(name)
        out += [int(i) for i in idx]
    return tuple(out)


def _message(err: Any) -> str:
    """Pydantic's message for one error, made to say what to do about it."""
    kind = err["type"]
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        return "this field is required; add it"
    if kind == "union_tag_invalid":
        return "kind must be 'gaussian' or 'discrete'"
    if kind == "union_tag_not_found":
        return 'kind is required; add "kind": "gaussian" or "discrete"'
    if kind == "extra_forbidden":
        return "unknown field; remove it or check its spelling"
    if kind == "model_type" and not err["loc"]:
        return 'a world file is a JSON object {"blocks": [...]}; see the schema in the README'
    if kind == "too_short":
        return "must not be empty; add at least one"
    if kind.endswith(("_type", "_parsing")):
        got = json.dumps(err.get("input"), default=str)
        got = got if len(got) <= 40 else got[:37] + "..."
        return f"{msg}, got {got}; fix the value"
    return msg


def read_json(path: str | Path) -> Any:
    """The parsed JSON of a user's file; a LatentError (one line, naming the file and the
    fix) if it is missing, unreadable or not JSON."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LatentError(f"{p}: no such file; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LatentError(
            f"{p}: cannot read it ({exc.__class__.__name__}); check the file"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LatentError(
            f"{p}: not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
            "fix the syntax"
        ) from None
    except RecursionError:
        raise LatentError(
            f"{p}: lists and objects nest too deeply to read; this is not a world file"
        ) from None
    return data


def load_world(path: str | Path) -> World:
    """Read and validate a world file; a LatentError (one line) if it cannot be used."""
    return parse_world(read_json(path), str(path))


def save_world(world: World, path: str | Path) -> None:
    """Write `world.to_json()` to `path`; a LatentError (one line) if it cannot be written."""
    p = Path(path)
    try:
        p.write_text(world.to_json(), encoding="utf-8")
    except FileNotFoundError:
        raise LatentError(f"{p}: cannot write it: no such directory; create it first") from None
    except OSError as exc:
        raise LatentError(
            f"{p}: cannot write it ({exc.strerror or exc.__class__.__name__}); choose another path"
        ) from None
