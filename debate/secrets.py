"""Keeping credentials out of what pzjudge stores, exports and prints.

What the scrubber promises (docs/security.md says how each promise is tested):

- A credential-like environment value (a variable named like `KEY`, `TOKEN`, `SECRET`,
  `PASSWORD`/`PASSWD`, `AUTH`, `CREDENTIAL`; at least `MIN_SECRET` characters) is replaced
  wherever it appears *verbatim* in a string that goes through `scrub_text`/`scrub`.
- Mapping keys named like a credential (`api_key`, `token`, `password`, `auth`, …) have
  their whole value replaced.
- URLs lose their `user:password@` part and the values of secret-looking query parameters
  (`redact_url`).

What it does not promise: a copy of a secret that is encoded (base64, URL- or JSON-escaped),
reversed, split by other characters (zero-width spaces, line breaks) or cut into pieces is
not recognised; nor is a secret that is not in the environment of this process.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "MIN_SECRET",
    "REDACTED",
    "env_secrets",
    "redact_url",
    "scrub",
    "scrub_text",
    "secret_name",
]

REDACTED = "<redacted>"
#: Shorter values are not treated as secrets (masking every "abc" would garble text).
MIN_SECRET = 8

#: Names of settings, mapping keys and query parameters whose value is a credential.
_SECRET_KEY = re.compile(
    r"api[_-]?key|secret|token(?!s)|passw(?:or)?d|pwd|auth(?!or)|credential|bearer"
    r"|^key$|^sig(?:nature)?$",
    re.I,
)
#: Names of environment variables whose value is a credential.
_SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSW(?:OR)?D|AUTH(?!ORITY)|CREDENTIAL", re.I)
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")


def secret_name(name: str) -> bool:
    """Whether a setting, key or query parameter with this name holds a credential."""
    return bool(_SECRET_KEY.search(name))


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables that look like credentials, longest first (so that a
    secret containing another is masked whole)."""
    env = os.environ if environ is None else environ
    found = {v.strip() for k, v in env.items() if _SECRET_ENV.search(k)}
    return sorted((v for v in found if len(v) >= MIN_SECRET), key=len, reverse=True)


def redact_url(url: str) -> str:
    """`url` without its userinfo and with the values of secret-looking query parameters
    replaced; anything that does not parse as a URL is returned as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(secret_name(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if secret_name(k) else v) for k, v in pairs])
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub_text(text: str, secrets: Iterable[str] | None = None) -> str:
    """`text` with every known secret masked and every URL in it redacted."""
    for s in env_secrets() if secrets is None else secrets:
        if s and s in text:
            text = text.replace(s, REDACTED)
    if "://" in text:
        text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    return text


def scrub(value: Any, secrets: list[str] | None = None) -> Any:
    """A copy of a JSON-like value with credentials removed: values under keys named like a
    credential, known secrets wherever they appear in a string, URLs redacted."""
    secrets = env_secrets() if secrets is None else secrets
    if isinstance(value, Mapping):
        return {k: REDACTED if secret_name(str(k)) else scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, str):
        return scrub_text(value, secrets)
    return value
