"""The core commands (generate, prob, nway, bounds, plant) as a user meets them: bad input
gives one line and exit status 2, never a traceback; `--json` everywhere, a summary without."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import run_main as run

from latent.errors import LatentError
from latent.pz import world_pz
from latent.world import load_world

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
D4 = str(EXAMPLES / "d4.json")


def one_line_error(err: str, *needles: str) -> None:
    assert err.count("\n") == 1 and err.startswith("pzjudge: error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


MALFORMED: dict[str, str] = {
    "bad json": '{"blocks": [}',
    "empty file": "",
    "not psd": '{"blocks":[{"kind":"gaussian","statements":[{"id":"a","text":"x"},'
    '{"id":"b","text":"y"}],"covariance":[[1,2],[2,1]]}]}',
    "nan threshold": '{"blocks":[{"kind":"gaussian","statements":[{"id":"a","text":"x",'
    '"threshold":NaN}],"covariance":[[1]]}]}',
    "duplicate id": '{"blocks":[{"kind":"discrete","outcomes":{"1":1.0},"statements":'
    '[{"id":"a","text":"x","outcomes":["1"]}]},{"kind":"gaussian","statements":'
    '[{"id":"a","text":"x"}],"covariance":[[1]]}]}',
    "unknown outcome": '{"blocks":[{"kind":"discrete","outcomes":{"1":1.0},"statements":'
    '[{"id":"a","text":"x","outcomes":["2"]}]}]}',
}


@pytest.mark.parametrize("label", list(MALFORMED))
@pytest.mark.parametrize("command", ["prob", "nway", "bounds", "plant"])
def test_every_command_refuses_a_malformed_world_in_one_line(
    label: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(MALFORMED[label])
    extra = {
        "prob": [],
        "nway": ["a"],
        "bounds": ["--order", "2"],
        "plant": ["--extreme", "min", "-o", str(tmp_path / "out.json")],
    }[command]
    rc, out, err = run(capsys, command, str(path), *extra)
    assert rc == 2 and out == ""
    one_line_error(err, str(path))
    assert not (tmp_path / "out.json").exists()


def test_unwritable_outputs_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "w.json"
    rc, _, err = run(capsys, "generate", "--seed", "1", "--statements", "5", "-o", str(missing))
    assert rc == 2
    one_line_error(err, str(missing), "create it first")
    rc, _, err = run(capsys, "plant", D4, "--extreme", "min", "-o", str(missing))
    assert rc == 2
    one_line_error(err, str(missing))
    rc, _, err = run(capsys, "plant", D4, "--extreme", "min", "-o", str(tmp_path))
    assert rc == 2
    one_line_error(err, str(tmp_path), "choose another path")


@pytest.mark.parametrize("tol", ["0", "-1", "nan", "inf", "1.5", "x"])
def test_prob_refuses_a_bad_tolerance(tol: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "prob", D4, "--rel-tol", tol)
    assert rc == 2 and out == "" and "--rel-tol" in err and "Traceback" not in err
    assert err.count("\n") == 1, err  # one line, no usage block before it


@pytest.mark.parametrize("argv", [[], ["bogus"], ["prob"], ["nway", D4, "A", "--order"]])
def test_usage_errors_are_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == "" and err.count("\n") == 1 and "--help" in err, err


def test_prob_refuses_a_negative_seed(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "prob", str(EXAMPLES / "small.json"), "--seed", "-5")
    assert rc == 2 and out == "" and "--seed" in err


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"rel_tol": 0.0}, "tolerance"), ({"rel_tol": math.nan}, "tolerance"), ({"seed": -1}, "seed")],
)
def test_world_pz_refuses_bad_options(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(LatentError, match=fragment):
        world_pz(load_world(EXAMPLES / "small.json"), **kwargs)


def _core_commands(tmp_path: Path) -> dict[str, list[str]]:
    small = str(EXAMPLES / "small.json")
    return {
        "generate": [
            "generate",
            "--seed",
            "2",
            "--statements",
            "20",
            "--families",
            "2",
            "-o",
            str(tmp_path / "g.json"),
        ],
        "prob": ["prob", small],
        "nway": ["nway", small, "s03", "s09"],
        "bounds": ["bounds", small, "--order", "2"],
        "plant": ["plant", D4, "--extreme", "max", "-o", str(tmp_path / "p.json")],
    }


@pytest.mark.parametrize("name", ["generate", "prob", "nway", "bounds", "plant"])
def test_json_with_the_flag_and_a_summary_without(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _core_commands(tmp_path)[name]
    rc, out, err = run(capsys, *argv, "--json")
    assert rc == 0, err
    data = json.loads(out)
    # the headline figure of each command, with its value where it is known by hand
    key, known = {
        "generate": ("n_statements", 20),  # --statements 20
        "prob": ("pz", None),
        "nway": ("p", 0.265),  # P(s03 ∩ s09) in small.json, by brute force (test_pz.py)
        "bounds": ("upper", None),
        "plant": ("pz_after", None),
    }[name]
    assert isinstance(data[key], int | float) and data[key] > 0
    if known is not None:
        assert data[key] == pytest.approx(known, rel=1e-12)
    rc, out, err = run(capsys, *argv)
    assert rc == 0, err
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
    assert 0 < out.count("\n") <= 40
    assert f"{data[key]:.6g}" in out  # the summary says the same figure


def test_bounds_from_a_chosen_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bounds --subset`/`--known`: the evidence is a judge's list, valued by the oracle or
    given; on the fair D4 (A={1,2}, B={1,3}, C={2,3}) singles and pairs allow up to 1/4,
    the triple pins P(all) to 0 (hand-computed)."""
    pairs = ["A", "B", "C", "A,B", "A,C", "B,C"]
    argv = ["bounds", D4, "--json", *[x for s in pairs for x in ("--subset", s)]]
    rc, out, err = run(capsys, *argv)
    assert rc == 0, err
    data = json.loads(out)
    assert {"lower", "upper", "independence", "maxent", "truth", "blocks", "evidence"} <= set(data)
    d4 = data["blocks"][0]
    assert d4["lower"] == pytest.approx(0.0, abs=1e-9) and d4["upper"] == pytest.approx(0.25)
    assert d4["independence"] == pytest.approx(0.125) and d4["truth"] == 0.0
    assert {tuple(e["ids"]): e["p"] for e in data["evidence"]}[("A", "B")] == pytest.approx(0.25)
    other = data["blocks"][1]  # nothing known about it: the trivial range
    assert other["lower"] == pytest.approx(0.0, abs=1e-12) and other["upper"] == 1.0
    ev = tmp_path / "ev.json"
    ev.write_text(json.dumps([["A", "B", "C"], {"ids": ["A"], "p": 0.5}]))
    rc, out, err = run(capsys, "bounds", D4, "--known", str(ev), "--json")
    assert rc == 0, err
    assert json.loads(out)["blocks"][0]["upper"] <= 1e-9
    rc, out, err = run(capsys, "bounds", D4, "--known", str(ev))
    assert rc == 0 and "these 2 probabilities" in out


BAD_EVIDENCE: dict[str, tuple[str, str]] = {
    "not json": ("[[", "not valid JSON"),
    "not a list": ('{"A": 0.5}', "non-empty JSON list"),
    "empty": ("[]", "non-empty JSON list"),
    "unknown id": ('[["A", "Z"]]', "unknown statement id 'Z'"),
    "bad item": ('[{"ids": ["A"]}]', "item 0"),
    "p outside": ('[{"ids": ["A"], "p": 1.5}]', "item 0.p"),
    "p not a number": ('[{"ids": ["A"], "p": "half"}]', "item 0.p"),
    "twice": ('[["A", "A"]]', "listed twice"),
}


@pytest.mark.parametrize("label", list(BAD_EVIDENCE))
def test_bad_evidence_is_one_line(
    label: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, needle = BAD_EVIDENCE[label]
    ev = tmp_path / "ev.json"
    ev.write_text(text)
    rc, out, err = run(capsys, "bounds", D4, "--known", str(ev))
    assert rc == 2 and out == ""
    one_line_error(err, str(ev), needle)


def test_bounds_order_and_a_list_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "bounds", D4, "--order", "2", "--subset", "A")
    assert rc == 2
    one_line_error(err, "not both")
    rc, _, err = run(capsys, "bounds", D4, "--subset", "A,Z")
    assert rc == 2
    one_line_error(err, "unknown statement id 'Z'")


def test_every_layer_raises_a_pzjudge_error() -> None:
    """One base: whoever shows an error catches PzJudgeError alone (issue 11.5)."""
    from debate.errors import DebateError
    from debate.llm import LLMHTTPError, LLMReplyError
    from latent.errors import PzJudgeError
    from store.errors import StoreError
    from tui.errors import TuiError
    from tui.estimate import EstimateError, parse_log10
    from tui.user_settings import SettingsTrouble

    for cls in (LatentError, DebateError, StoreError, TuiError):
        assert issubclass(cls, PzJudgeError) and cls is not PzJudgeError
    for cls in (LLMHTTPError, LLMReplyError):
        assert issubclass(cls, DebateError)
    for cls in (EstimateError, SettingsTrouble):
        assert issubclass(cls, TuiError)
    with pytest.raises(ValueError):  # an estimate's error is still a ValueError
        parse_log10("soon")


@pytest.mark.parametrize("kind", ["latent", "debate", "store", "tui"])
def test_a_command_failing_with_each_kind_of_error_is_one_line(
    kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv, needle = {
        "latent": (["bounds", D4, "--order", "2", "--subset", "A,B"], "not both"),
        "debate": (["debate", D4, "--a", "builtin:honest"], "give both --a and --b"),
        "store": (["stats", "--db", str(tmp_path / "none.db")], "none.db"),
        "tui": (["serve", "--port", "8765"], "pip install 'pzjudge[serve]'"),
    }[kind]
    monkeypatch.setitem(sys.modules, "tui.serve", None)  # importing it raises ImportError
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == ""
    one_line_error(err, needle)
    assert not (tmp_path / "none.db").exists()


def test_error_line_is_one_safe_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI and the screens show an error through error_line: one line, no secret, no
    escape sequence, whatever the message quotes."""
    from debate.errors import DebateError
    from latent.errors import PzJudgeError
    from tui.errors import error_line

    monkeypatch.setenv("OPENAI_API_KEY", "sk-sentinel-5b1e9a77")
    exc = PzJudgeError("bad reply\nfrom sk-sentinel-5b1e9a77:\x1b[31m red\x1b[0m\r\n  end")
    assert error_line(exc) == "bad reply from <redacted>: red end"
    assert error_line(DebateError("a\n\nb")) == "a b"
    assert error_line(ValueError("headline\ndetail")) == "headline"
