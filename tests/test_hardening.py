"""Hardening (issue 10): untrusted text, secrets in output, limits on inputs.

Each test builds the hostile input the issue describes and checks it is refused with one
line, or made harmless, before it reaches a terminal, the database or an export.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from debate.errors import DebateError
from debate.models import Argument
from debate.protocol import Turn
from debate.rules import Rules, load_rules
from debate.secrets import env_secrets, redact_url, scrub, scrub_text
from latent.errors import LatentError
from latent.text import clean_text
from latent.world import load_world, parse_world
from tui.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SECRET = "sk-hardening-secret-77aa21"

#: What a hostile text may carry: window title (OSC 0), clipboard write (OSC 52), a
#: hyperlink (OSC 8), clear screen (CSI 2J), cursor home, 8-bit CSI, bell, backspace, CR,
#: a bidi override.
HOSTILE = (
    "a\x1b]0;pwned\x07b\x1b]52;c;ZXZpbA==\x1b\\c\x1b]8;;http://evil\x1b\\d\x1b[2Je\x1b[H"
    "f\x9b31mg\x07h\x08i\rj\u202ek"
)


def _terminal_safe(text: str) -> bool:
    """No ESC, no C0 but tab/newline, no DEL/C1, no bidi controls."""
    return not any(
        (ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F or c in "\u202a\u202e"
        for c in text
    )


# --------------------------------------------------------------------------- sanitiser


def test_clean_text_removes_whole_sequences_and_keeps_text() -> None:
    assert clean_text(HOSTILE) == "abcdefghi\njk"
    assert clean_text("line one\n\tindented\r\nline two") == "line one\n\tindented\nline two"
    plain = "ordinary text — with ünïcode, [brackets] and 100%"
    assert clean_text(plain) is plain


@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2100), max_size=60))
def test_clean_text_output_is_always_terminal_safe(text: str) -> None:
    out = clean_text(text)
    assert _terminal_safe(out)
    assert clean_text(out) == out  # idempotent


def test_speeches_and_forfeits_are_cleaned_where_they_are_parsed() -> None:
    arg = Argument.model_validate(
        {"text": HOSTILE, "citations": [{"kind": "prob", "ids": ["s1\x1b[2J"]}]}
    )
    assert arg.text == "abcdefghi\njk" and arg.citations[0].ids == ["s1"]  # type: ignore[union-attr]
    turn = Turn(
        index=0,
        speaker="a",
        phase="opening",
        round=0,
        text="",
        forfeit="the debater raised ValueError: \x1b]0;x\x07boom",
        started_at=0,
        seconds=0,
    )
    assert turn.forfeit == "the debater raised ValueError: boom"


def _world(ids: list[str], text: str = "t", threshold: float = 0.0) -> dict[str, Any]:
    n = len(ids)
    return {
        "blocks": [
            {
                "kind": "gaussian",
                "statements": [{"id": i, "text": text, "threshold": threshold} for i in ids],
                "covariance": [[1.0 if r == c else 0.0 for c in range(n)] for r in range(n)],
            }
        ]
    }


def test_world_texts_are_cleaned_and_bad_ids_refused() -> None:
    w = parse_world(_world(["s1"], text=HOSTILE))
    assert w.statement("s1").text == "abcdefghi\njk"
    with pytest.raises(LatentError, match=r"statements\[0\]\.id: .*control characters"):
        parse_world(_world(["s\x1b]0;x\x07"]))
    # "s1&s2" would be the evidence key of the pair (s1, s2)
    with pytest.raises(LatentError, match="contains '&'"):
        parse_world(_world(["s1", "s2", "s1&s2"]))


@pytest.mark.parametrize("threshold", [1e10, -1e10, 1e300, -1e300, 101.0])
def test_thresholds_far_out_are_refused(threshold: float) -> None:
    with pytest.raises(LatentError, match=r"statements\[0\]\.threshold: .*standard deviations"):
        parse_world(_world(["s1", "s2"], threshold=threshold))


def test_thresholds_at_the_limit_give_a_probability() -> None:
    from latent.pz import world_pz

    res = world_pz(parse_world(_world(["s1", "s2"], threshold=100.0)))
    # both statements at 100 sd, independent: P = Q(100)^2, with the asymptotic tail
    # ln Q(x) = -x^2/2 - ln(x sqrt(2 pi)) + ln(1 - 1/x^2 + 3/x^4 - ...) (error < 15/x^6)
    x = 100.0
    ln_q = -x * x / 2 - math.log(x * math.sqrt(2 * math.pi)) + math.log1p(-1 / x**2 + 3 / x**4)
    assert res.log10_pz is not None
    assert res.log10_pz == pytest.approx(2 * ln_q / math.log(10), abs=1e-6)
    assert 0.0 <= res.pz <= 1.0


def test_deeply_nested_world_and_rules_are_one_line_errors(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(LatentError, match="nest too deeply"):
        load_world(deep)
    nested = {"blocks": _world(["s1"])["blocks"], "meta": {"settings": {}}}
    inner: dict[str, Any] = nested["meta"]["settings"]
    for _ in range(200):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(LatentError, match="deeper than 64 levels"):
        parse_world(nested)
    toml = tmp_path / "rules.toml"
    toml.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(DebateError, match="nest too deeply"):
        load_rules(toml)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("lie_factor = 1e300", "lie_factor"),
        ("lie_factor = inf", "lie_factor"),
        ("claim_rel_tol = inf", "claim_rel_tol"),
        ("claim_rel_tol = 0.9", "claim_rel_tol"),
        ("claim_abs_tol = nan", "claim_abs_tol"),
        ("turn_timeout = nan", "turn_timeout"),
    ],
)
def test_rules_out_of_bounds_are_refused(tmp_path: Path, line: str, field: str) -> None:
    p = tmp_path / "rules.toml"
    p.write_text(line + "\n")
    with pytest.raises(DebateError, match=f"{field}: "):
        load_rules(p)


def test_liar_claim_stays_a_probability_at_the_largest_lie_factor() -> None:
    from debate.engine import liar_claim

    rules = Rules(lie_factor=1e6)
    for truth in (1e-300, 1e-5, 0.3, 0.999):
        for toward in (True, False):
            lie = liar_claim(truth, 0.5, rules.lie_factor, None, toward)
            assert 0.0 < lie <= 1.0 and lie != truth


# --------------------------------------------------------------------------- secrets


def test_url_userinfo_and_secret_query_parameters_are_redacted() -> None:
    url = "http://user:pa55word@host.example:8080/v1?api_key=K1&model=m&token=T2&Key=K3"
    out = redact_url(url)
    for secret in ("user", "pa55word", "K1", "T2", "K3"):
        assert secret not in out
    assert out.startswith("http://***@host.example:8080/v1?") and "model=m" in out
    assert redact_url("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/v1"
    assert scrub({"base_url": url, "n": 3})["base_url"] == out


def test_secret_names_cover_passwd_and_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PASSWD", "hunter2hunter2")
    monkeypatch.setenv("PROXY_AUTH", "Basic dXNlcjpwYXNz")
    monkeypatch.setenv("XAUTHORITY", "/run/user/1000/gdm/Xauthority")
    found = env_secrets()
    assert "hunter2hunter2" in found and "Basic dXNlcjpwYXNz" in found
    assert "/run/user/1000/gdm/Xauthority" not in found  # a path, not a credential
    assert scrub({"passwd": "x", "auth": "y", "author": "z"}) == {
        "passwd": "<redacted>",
        "auth": "<redacted>",
        "author": "z",
    }


def test_scrubber_promises_verbatim_copies_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """What docs/security.md says the scrubber does not promise, pinned down."""
    import base64

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert SECRET not in scrub_text(f"key={SECRET}!")
    encoded = base64.b64encode(SECRET.encode()).decode()
    split = "\u200b".join(SECRET)
    assert encoded in scrub_text(encoded) and split in scrub_text(split)
    assert SECRET[::-1] in scrub_text(SECRET[::-1])


def _speeches(tmp_path: Path, text: str) -> str:
    p = tmp_path / "speeches.json"
    p.write_text(json.dumps([{"text": text}] * 4))
    return str(p)


@pytest.mark.parametrize("as_json", [False, True])
def test_debate_output_never_prints_a_known_secret_or_escape(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    as_json: bool,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    spec = "file:" + _speeches(tmp_path, f"the key is {SECRET} {HOSTILE}")
    argv = ["debate", str(EXAMPLES / "small.json"), "--a", spec, "--b", "builtin:honest"]
    argv += ["--no-store", "--base-url", "http://u:p4ss@127.0.0.1:9/v1?api_key=zzz"]
    assert main(argv + (["--json"] if as_json else [])) == 0
    out = capsys.readouterr().out
    assert SECRET not in out and "<redacted>" in out
    assert _terminal_safe(out)
    if as_json:
        json.loads(out)


def test_error_line_is_scrubbed_and_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", SECRET)
    bad = tmp_path / f"{SECRET}\x1b]0;x\x07.json"
    assert main(["prob", str(bad)]) == 2
    err = capsys.readouterr().err
    assert SECRET not in err and _terminal_safe(err) and err.count("\n") == 1


def test_stored_settings_and_exports_redact_base_url(tmp_path: Path) -> None:
    from store.db import Store
    from store.export import export_rows

    url = "http://alice:s3cr3t-pass@llm.local/v1?api_key=abcdef123456"
    spec = "file:" + _speeches(tmp_path, "plain")
    db = tmp_path / "x.db"
    argv = ["debate", str(EXAMPLES / "small.json"), "--a", spec, "--b", "builtin:honest"]
    assert main([*argv, "--db", str(db), "--base-url", url]) == 0
    with Store(db) as store:
        (row,) = list(export_rows(store))
        raw = store.db.conn.execute("SELECT settings FROM sessions").fetchone()[0]
        # a database written before redaction: the export still redacts it
        store.db.conn.execute("UPDATE sessions SET settings = ?", [json.dumps({"base_url": url})])
        store.db.conn.commit()
        (old,) = list(export_rows(store))
    for text in (json.dumps(row), raw, json.dumps(old)):
        assert "s3cr3t-pass" not in text and "abcdef123456" not in text and "alice" not in text
    assert row["settings"]["base_url"].startswith("http://***@llm.local/v1")
    assert old["settings"]["base_url"] == row["settings"]["base_url"]


# --------------------------------------------------------------------------- the game


def test_streamed_draft_is_not_rejoined_per_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """100,000 tokens in a burst: a few drafts posted, not one whole re-join per token."""
    from tui.screens.judging import RoundScreen

    posted: list[str] = []
    fake = SimpleNamespace(post_message=lambda m: posted.append(m.raw))
    sink = RoundScreen._token_sink(fake, "a", {})  # type: ignore[arg-type]
    t0 = time.monotonic()
    for _ in range(100_000):
        sink("tok ")
    took = time.monotonic() - t0
    assert posted and posted[0] == "tok "
    assert len(posted) <= 2 + took / 0.05
    assert sum(map(len, posted)) < 100 * 400_000


def test_no_markup_is_interpreted_in_untrusted_text() -> None:
    from rich.text import Text

    from tui.screens.stats import _cell

    cell = _cell("[red]judge[/red] [@click=app.quit]x[/]")
    assert isinstance(cell, Text) and cell.plain == "[red]judge[/red] [@click=app.quit]x[/]"


def test_resume_lists_only_the_current_judges_sessions(tmp_path: Path) -> None:
    """One shared database: P02 must not see (so cannot resume or abandon) P01's session."""
    import asyncio

    from store.db import Store
    from tui.app import PzJudgeApp
    from tui.screens.resume import ResumeScreen, SessionsLoaded

    db = tmp_path / "shared.db"
    with Store(db) as s:
        for judge in ("P01", "P02"):
            s.start_session(judge, kind="game", rules=Rules().model_dump(mode="json"), seed=1)
    loaded: list[list[dict[str, Any]]] = []

    async def go() -> None:
        app = PzJudgeApp(db_path=str(db), judge="P02", seed=1)
        hook = lambda m: loaded.append(m.sessions) if isinstance(m, SessionsLoaded) else None  # noqa: E731
        async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
            app.push_screen(ResumeScreen())
            for _ in range(200):
                if loaded:
                    break
                await pilot.pause(0.02)

    asyncio.run(go())
    assert loaded and [s["judge"] for s in loaded[0]] == ["P02"]


def test_notifications_are_plain_text(tmp_path: Path) -> None:
    """A forfeit reason, an error or a path quoted in a notification is never markup."""
    import asyncio

    from tui.app import PzJudgeApp

    async def go() -> list[Any]:
        app = PzJudgeApp(db_path=str(tmp_path / "n.db"), judge="P02", seed=1)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            app.screen.notify("B forfeited a turn: [@click=app.quit]x[/] [red]y")
            await pilot.pause()
            return list(app._notifications)

    shown = asyncio.run(go())
    assert shown and all(n.markup is False for n in shown)
