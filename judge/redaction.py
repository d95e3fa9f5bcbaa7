"""Keeps API keys out of every message judge stores or prints, even when a server echoes them back.

A provider's error text is the server's own words, and servers quote the key they were sent (OpenAI's 401:
"Incorrect API key provided: sk-..."). Every failure message passes through a Redactor before it reaches the
store, and the CLI passes everything it prints through one as well. Two nets: the exact values of the key
variables in use, and anything shaped like a key or a bearer credential whatever its origin.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MASK = "[redacted]"
MIN_SECRET = 6  # shorter values are not real keys, and masking them would shred ordinary words

_KEY_SHAPED = re.compile(
    r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-*.]{8,}"  # OpenAI / Anthropic style keys, also partly starred ones
    r"|\b(?:Bearer|Basic)\s+[A-Za-z0-9_\-.=~+/*]{8,}"  # an Authorization header's credential
    r"|(?<=[\"'\s(,{])(?:x-)?api[_-]?key[\"']?\s*[:=]\s*[\"']?[^\s\"',;}]{6,}",  # api_key=..., x-api-key: ...
    re.IGNORECASE,
)


def is_secret_variable(name: str) -> bool:
    """Environment variables whose values are credentials (OPENAI_API_KEY, MY_SERVER_TOKEN, ...)."""
    upper = name.upper()
    return upper.endswith(("_API_KEY", "_KEY", "_TOKEN", "_SECRET")) or upper == "API_KEY"


@dataclass(frozen=True)
class Redactor:
    """Masks the given secret values and anything key-shaped; call it on text about to be kept or shown."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, values: Iterable[str | None]) -> Redactor:
        """A redactor for these values (None and too-short values are left out); longest first."""
        kept = {v for v in values if v and len(v) >= MIN_SECRET}
        return cls(tuple(sorted(kept, key=len, reverse=True)))

    @classmethod
    def from_env(cls, env: Mapping[str, str], extra: Iterable[str | None] = ()) -> Redactor:
        """The values of every credential-named variable in `env`, plus `extra` (keys a config resolved)."""
        return cls.of([*(v for k, v in env.items() if is_secret_variable(k)), *extra])

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return _KEY_SHAPED.sub(_mask_match, text)


NO_SECRETS = Redactor()
"""Masks key-shaped text only (the runner adds each call's own key)."""


def _mask_match(match: re.Match[str]) -> str:
    """Keep the label ("Bearer ", "api_key=") so the message still says what was there."""
    text = match.group(0)
    label = re.match(r"(?:Bearer|Basic)\s+|(?:x-)?api[_-]?key[\"']?\s*[:=]\s*[\"']?", text, re.IGNORECASE)
    return (label.group(0) if label else "") + MASK
