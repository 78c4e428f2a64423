"""The judge's own settings, remembered between runs: name, theme, the last setup.

A JSON file in the user's config directory (`$PZJUDGE_CONFIG` names another), read
through pydantic-settings so that `PZJUDGE_…` environment variables override it
(`PZJUDGE_JUDGE=ann`, `PZJUDGE_THEME=textual-light`, `PZJUDGE_LAST_SETUP__STATEMENTS=30`).
Saving writes only what the game changed into the file, never what the environment says,
so an override set for one run is not remembered. A file that cannot be read is a one-line
notice and the defaults, never a traceback; the file is replaced whole, never half-written.

Studies never use it: a participant's rounds are the study's (`pzjudge play --study`).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from platformdirs import user_config_path
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from tui.errors import TuiError

#: Setup fields remembered from the last session started on the setup screen. Never the
#: seed: with a seed a judge could deal the rounds headless and read the truth.
SETUP_FIELDS = (
    "preset",
    "statements",
    "families",
    "counterexamples",
    "flips",
    "debate",
    "debater_honest",
    "debater_liar",
    "base_url",
    "decoder",
    "rules_file",
    "oracle_budget",
    "oracle_order",
    "rounds",
)


def settings_path() -> Path:
    """Where the settings live: `$PZJUDGE_CONFIG`, else pzjudge's user config directory."""
    given = os.environ.get("PZJUDGE_CONFIG")
    return Path(given) if given else user_config_path("pzjudge") / "settings.json"


class LastSetup(BaseModel):
    """The setup screen's fields as last started (any left out: the preset's)."""

    model_config = ConfigDict(extra="ignore")

    #: Preset whose radio button was on (practice, debate, hard, custom).
    preset: str | None = None
    statements: int | None = None
    families: int | None = None
    counterexamples: int | None = None
    flips: int | None = None
    #: Whether debaters argue.
    debate: bool | None = None
    #: Debater specs (builtin:NAME, script:FILE.py:Class, file:FILE.toml, openai:MODEL).
    debater_honest: str | None = None
    debater_liar: str | None = None
    #: OpenAI-compatible endpoint for openai: debaters (never a key: keys stay in the env).
    base_url: str | None = None
    #: Who words the statements: builtin, or openai:MODEL.
    decoder: str | None = None
    rules_file: str | None = None
    oracle_budget: int | None = None
    oracle_order: int | None = None
    rounds: int | None = None


class Remembered(BaseModel):
    """What the settings file holds (checked alone when saving: no environment in it)."""

    model_config = ConfigDict(extra="ignore")

    #: The judge's name on new sessions (default: $USER).
    judge: str | None = Field(default=None, min_length=1, max_length=100)
    #: Textual theme name (ctrl+t switches dark and light).
    theme: str = "textual-dark"
    #: The setup screen as last started.
    last_setup: LastSetup | None = None


class UserSettings(BaseSettings, Remembered):
    """What pzjudge remembers for the judge; `PZJUDGE_<FIELD>` overrides each field (nested
    fields with `__`: `PZJUDGE_LAST_SETUP__ROUNDS=5`)."""

    model_config = SettingsConfigDict(
        env_prefix="PZJUDGE_", env_nested_delimiter="__", extra="ignore"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # earlier wins: what the code passes, then the environment, then the file
        path = settings_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            sources.append(JsonConfigSettingsSource(settings_cls, json_file=path))
        return tuple(sources)


_WRITING = threading.Lock()


class SettingsTrouble(TuiError):
    """The settings file cannot be read or written; the message is one line."""


def load_settings() -> tuple[UserSettings, str | None]:
    """The settings (file, then environment over it), and a one-line notice when the file
    or an override is bad (then the defaults are used)."""
    path = settings_path()
    try:
        if path.is_file() and not isinstance(json.loads(path.read_text()), dict):
            raise ValueError("not a JSON object")
        return UserSettings(), None
    except (ValidationError, ValueError, OSError) as exc:
        why = _one_line(exc)
    where = f"{path} or a PZJUDGE_ variable"
    return UserSettings.model_construct(), f"settings ignored ({where}): {why}"


def save_settings(**changes: Any) -> None:
    """Write `changes` into the settings file (other keys as they were); atomically, so
    a crash leaves the old file or the new one. SettingsTrouble with one line if not.
    Callers are worker threads: one write at a time."""
    with _WRITING:
        _save(changes)


def _save(changes: dict[str, Any]) -> None:
    path = settings_path()
    try:
        current: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
        if not isinstance(current, dict):
            current = {}
    except (OSError, ValueError):
        current = {}  # unreadable: replaced by what is known now
    current.update(changes)
    try:
        # the checks of loading, on the file's own content (model_validate reads no env)
        Remembered.model_validate(current)
    except ValidationError as exc:
        raise SettingsTrouble(f"not saved: {_one_line(exc)}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
        tmp.replace(path)
    except OSError as exc:
        raise SettingsTrouble(f"settings not saved to {path}: {exc.strerror or exc}") from None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        return f"{loc}: {err['msg']}" if loc else str(err["msg"])
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
