"""Where and how to reach an OpenAI-compatible endpoint (`LLMConfig`), and what a run has
learned about each server it called (`SERVERS`): which response formats it refused, whether
it takes a system message. See `debate.llm` for what the client promises.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

FormatMode = Literal["json_schema", "json_object_schema", "json_object", "plain"]
#: Response formats from strongest to weakest; `structured` starts at the strongest the call
#: can use and the server has not refused.
FORMAT_CHAIN: tuple[FormatMode, ...] = ("json_schema", "json_object_schema", "json_object", "plain")


class LLMConfig(BaseModel):
    """Where and how to reach an OpenAI-compatible endpoint. Holds no secret.

    `api_key_env` names the environment variable holding the key; the key itself is read at
    call time. `use_response_format`: "auto" walks down `FORMAT_CHAIN` as the server refuses
    formats (remembered per base URL and model); a mode name always uses that mode (a server
    that refuses it is an error); True means "json_object" and False "plain" (no response
    format). `system_role`: "system" sends the system message as it is, "user" folds it into
    the first user message, "auto" sends it and folds once a server refuses it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=30.0, ge=0)
    retry_after_cap: float = Field(default=60.0, ge=0)
    temperature: float | None = 0.7
    max_tokens: int | None = Field(default=None, gt=0)
    use_response_format: bool | Literal["auto"] | FormatMode = "auto"
    system_role: Literal["auto", "system", "user"] = "auto"
    extra_body: dict[str, Any] = Field(default_factory=dict)
    #: Most bytes (UTF-8) of reply text read; a longer reply is cut off and the call fails.
    max_reply_bytes: int = Field(default=65_536, ge=256, le=64_000_000)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        """Accept only http(s) URLs and drop a trailing slash so paths join cleanly."""
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        try:
            host = httpx.URL(value).host
        except (httpx.InvalidURL, ValueError) as exc:
            raise ValueError(f"base_url is not a valid URL ({exc})") from None
        if not host:
            raise ValueError("base_url has no host name")
        return value.rstrip("/")


class ServerMemory:
    """What this run has learned about each (base URL, model): the first response format of
    `FORMAT_CHAIN` not yet refused, and whether the system text must be folded. Shared by
    every client of the run (a client per turn learns nothing otherwise); steps only go
    down, so concurrent calls that fail at once agree."""

    def __init__(self) -> None:
        self._floor: dict[tuple[str, str], int] = {}
        self._fold: set[tuple[str, str]] = set()

    def floor(self, key: tuple[str, str]) -> int:
        """Index in FORMAT_CHAIN of the strongest format not refused yet."""
        return self._floor.get(key, 0)

    def refuse(self, key: tuple[str, str], mode: FormatMode) -> None:
        """Remember that `mode` was refused: later calls start below it."""
        self._floor[key] = max(self.floor(key), FORMAT_CHAIN.index(mode) + 1)

    def folds(self, key: tuple[str, str]) -> bool:
        """Whether the system text goes into the first user message for this server."""
        return key in self._fold

    def fold(self, key: tuple[str, str]) -> None:
        """Remember that this server refuses a system role."""
        self._fold.add(key)

    def forget(self) -> None:
        """Forget everything (tests; a new run against restarted servers)."""
        self._floor.clear()
        self._fold.clear()


#: The run's memory of servers (module-wide: one process is one run).
SERVERS = ServerMemory()
