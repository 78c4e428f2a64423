"""World files: valid ones load, malformed ones are refused with one actionable line."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from latent.errors import LatentError
from latent.sampling import sample_truth
from latent.world import load_world, parse_world

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _gauss(cov: Any, n: int = 2, **st: Any) -> dict[str, Any]:
    return {
        "kind": "gaussian",
        "statements": [{"id": f"s{i}", "text": f"statement {i}", **st} for i in range(n)],
        "covariance": cov,
    }


def _disc(outcomes: dict[str, float], stmts: list[list[str]]) -> dict[str, Any]:
    return {
        "kind": "discrete",
        "outcomes": outcomes,
        "statements": [
            {"id": f"d{i}", "text": f"d {i}", "outcomes": o} for i, o in enumerate(stmts)
        ],
    }


BAD: list[tuple[str, Any, str]] = [
    ("not psd", {"blocks": [_gauss([[1, 2], [2, 1]])]}, "positive semi-definite"),
    ("asymmetric", {"blocks": [_gauss([[1, 0.2], [0.3, 1]])]}, "not symmetric"),
    ("wrong shape", {"blocks": [_gauss([[1, 0.2]])]}, "2x2"),
    ("zero variance", {"blocks": [_gauss([[0, 0], [0, 1]])]}, "diagonal"),
    ("sum != 1", {"blocks": [_disc({"a": 0.5, "b": 0.4}, [["a"]])]}, "sum to 1"),
    ("negative prob", {"blocks": [_disc({"a": 1.5, "b": -0.5}, [["a"]])]}, ">= 0"),
    ("unknown outcome", {"blocks": [_disc({"a": 1.0}, [["z"]])]}, "unknown outcome 'z'"),
    (
        "duplicate id",
        {"blocks": [_gauss([[1.0]], n=1), _gauss([[1.0]], n=1)]},
        "duplicate statement id 's0'",
    ),
    ("bad kind", {"blocks": [{"kind": "poisson", "statements": []}]}, "kind must be"),
    (
        "missing text",
        {"blocks": [{"kind": "gaussian", "statements": [{"id": "x"}], "covariance": [[1]]}]},
        "text",
    ),
    ("no blocks", {"blocks": []}, "blocks"),
    ("not an object", [1, 2, 3], "a world file is a JSON object"),
    ("unknown field", {"blocks": [_gauss([[1.0]], n=1)], "colour": "red"}, "unknown field"),
]


#: (label, world, the field the message must name, a fragment of the fix)
FIELDS: list[tuple[str, Any, str, str]] = [
    ("not psd", {"blocks": [_gauss([[1, 2], [2, 1]])]}, "blocks[0].covariance:", "diagonal"),
    ("asymmetric", {"blocks": [_gauss([[1, 0.2], [0.3, 1]])]}, "blocks[0].covariance:", "mirror"),
    ("short row", {"blocks": [_gauss([[1, 0.2], [0.2]])]}, "blocks[0].covariance:", "row 1"),
    ("flat", {"blocks": [_gauss([1.0], n=1)]}, "blocks[0].covariance[0]:", "fix the value"),
    ("zero var", {"blocks": [_gauss([[1, 0], [0, 0]])]}, "blocks[0].covariance[1][1]:", "> 0"),
    ("nan cov", {"blocks": [_gauss([[math.nan]], n=1)]}, "blocks[0].covariance:", "finite"),
    ("nan thr", {"blocks": [_gauss([[1.0]], n=1, threshold=math.nan)]}, "threshold:", "finite"),
    ("inf thr", {"blocks": [_gauss([[1.0]], n=1, threshold=math.inf)]}, "threshold:", "finite"),
    (
        "nan prob",
        {"blocks": [_disc({"a": math.nan, "b": 0.5}, [["a"]])]},
        "blocks[0].outcomes.a:",
        ">= 0",
    ),
    ("sum", {"blocks": [_disc({"a": 0.5, "b": 0.4}, [["a"]])]}, "blocks[0].outcomes:", "sum to 1"),
    (
        "unknown outcome",
        {"blocks": [_disc({"a": 1.0}, [["a"], ["a", "z"]])]},
        "blocks[0].statements[1].outcomes[1]:",
        "use one of",
    ),
    (
        "duplicate across blocks",
        {"blocks": [_gauss([[1.0]], n=1), _disc({"a": 1.0}, [["a"]]), _gauss([[1.0]], n=1)]},
        "blocks[2].statements[0].id:",
        "unique",
    ),
    (
        "duplicate in a block",
        {
            "blocks": [
                _disc({"a": 1.0}, [["a"], ["a"]])
                | {
                    "statements": [
                        {"id": "x", "text": "t", "outcomes": ["a"]},
                        {"id": "x", "text": "u", "outcomes": ["a"]},
                    ]
                }
            ]
        },
        "blocks[0].statements[1].id:",
        "unique",
    ),
    ("no kind", {"blocks": [{"statements": [], "covariance": []}]}, "blocks[0]:", '"kind"'),
    ("empty block", {"blocks": [_gauss([], n=0)]}, "blocks[0].statements:", "at least one"),
    ("string number", {"blocks": [_gauss([["x"]], n=1)]}, "covariance[0][0]:", "fix the value"),
    ("not an object", [], ": a world file is a JSON object", '{"blocks"'),
]


@pytest.mark.parametrize(("label", "data", "field", "fix"), FIELDS, ids=[f[0] for f in FIELDS])
def test_malformed_worlds_name_the_field_and_the_fix(
    label: str, data: Any, field: str, fix: str, tmp_path: Path
) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(data))  # NaN and Infinity as Python's json writes them
    with pytest.raises(LatentError) as exc:
        load_world(path)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ")
    assert field in msg and fix in msg, msg


@pytest.mark.parametrize(("label", "data", "needle"), BAD, ids=[b[0] for b in BAD])
def test_malformed_worlds_are_refused_in_one_line(
    label: str, data: Any, needle: str, tmp_path: Path
) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(data))
    with pytest.raises(LatentError) as exc:
        load_world(path)
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(path) in msg
    assert needle in msg


def test_bad_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text('{"blocks": [\n  {"kind": "gaussian",,}\n]}')
    with pytest.raises(LatentError, match=r"not valid JSON at line 2 column"):
        load_world(path)


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(LatentError, match="no such file"):
        load_world(tmp_path / "nope.json")


def test_example_loads_and_locates_ids() -> None:
    w = load_world(EXAMPLES / "d4.json")
    assert w.ids == ["A", "B", "C", "h1", "h2", "h3"]
    assert w.locate("h3") == (1, 2)
    with pytest.raises(LatentError, match="unknown statement id 'zz'"):
        w.locate("zz")


def test_orthant_form_negates_flips() -> None:
    w = parse_world({"blocks": [_gauss([[4.0, 1.0], [1.0, 1.0]])]})
    block = w.blocks[0]
    assert block.kind == "gaussian"
    w2 = parse_world(
        {
            "blocks": [
                {
                    "kind": "gaussian",
                    "statements": [
                        {"id": "a", "text": "a", "threshold": 2.0},
                        {"id": "b", "text": "b", "threshold": 0.5, "flip": True},
                    ],
                    "covariance": [[4.0, 1.0], [1.0, 1.0]],
                }
            ]
        }
    )
    r, h = w2.blocks[0].orthant()  # type: ignore[union-attr]
    assert np.allclose(h, [1.0, -0.5])  # 2/sd 2, and -0.5 for the flip
    assert np.isclose(r[0, 1], -0.5)  # corr 1/(2*1), negated by the flip


def test_to_json_round_trips() -> None:
    w = load_world(EXAMPLES / "d4.json")
    again = parse_world(json.loads(w.to_json()))
    assert again == w
    assert again.to_json() == w.to_json()


def test_sampling_frequencies_match_marginals() -> None:
    """Monte Carlo: 200k draws, each frequency within 5 standard errors of its exact value."""
    w = load_world(EXAMPLES / "d4.json")
    ids, truth = sample_truth(w, 200_000, rng=7)
    assert ids == w.ids
    assert truth.shape == (200_000, 6)
    n = truth.shape[0]
    # D4: singles 1/2, pairs 1/4, triple impossible.
    assert not truth[:, :3].all(axis=1).any()
    for col in range(3):
        assert abs(truth[:, col].mean() - 0.5) < 5 * np.sqrt(0.25 / n)
    # Gaussian: threshold -1 → P = Φ(1); the flip (X <= -1) has P = Φ(-1).
    phi1 = 0.8413447460685429
    assert abs(truth[:, 3].mean() - phi1) < 5 * np.sqrt(phi1 * (1 - phi1) / n)
    assert abs(truth[:, 5].mean() - (1 - phi1)) < 5 * np.sqrt(phi1 * (1 - phi1) / n)
    # the flip is anti-correlated with its neighbour
    assert np.corrcoef(truth[:, 4], truth[:, 5])[0, 1] < -0.3
