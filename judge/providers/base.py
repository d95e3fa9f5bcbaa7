"""The Provider protocol and its values. Providers classify their SDK errors; the runner alone retries."""

from __future__ import annotations

import enum
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol


class ErrorKind(enum.StrEnum):
    """What went wrong with one call; the runner decides retries from this alone."""

    RATE_LIMITED = "rate_limited"  # 429; may carry retry_after
    TRANSIENT = "transient"  # 5xx, dropped connection, malformed response
    TIMEOUT = "timeout"
    AUTH = "auth"  # never retried
    BAD_REQUEST = "bad_request"  # never retried
    CONTEXT_TOO_LONG = "context_too_long"  # never retried
    PARSE = "parse"  # the judge answered but not in the verdict format

    @property
    def retryable(self) -> bool:
        return self in (ErrorKind.RATE_LIMITED, ErrorKind.TRANSIENT, ErrorKind.TIMEOUT, ErrorKind.PARSE)


class CallFailed(Exception):
    """One model call failed; raised by providers with the SDK exception chained via `from`."""

    def __init__(self, kind: ErrorKind, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Message:
    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Request:
    """Everything that determines a model's answer; its canonical form is hashed into the answer key."""

    model: str
    messages: tuple[Message, ...]
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    # Structured output where the server supports it (JSON schema / grammar); used by the judge.
    json_schema: dict[str, Any] | None = None
    logprobs: bool = False
    # Routing only, never hashed: lets the replay provider find a recorded answer.
    question_id: str | None = None
    turn: int | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float = 0.0
    model: str | None = None  # what the server says it ran
    # Top alternatives of the first generated token, when asked for: token -> logprob.
    top_logprobs: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchOptions:
    """Send this endpoint's calls through the provider's batch API (half price, answered within `window`)."""

    max_requests: int = 50_000  # per provider batch (OpenAI's limit; Anthropic allows 100,000)
    poll_seconds: float = 60.0  # between status checks of an open batch
    window: str = "24h"  # OpenAI's completion_window (Anthropic's is fixed at 24 hours)


@dataclass(frozen=True)
class Endpoint:
    """Where a model lives. Equal endpoints share one provider (and one local llama.cpp server per model)."""

    provider: str  # openai | anthropic | local | replay | echo
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)  # resolved from the environment by config.py
    path: str | None = None  # replay answer file, or a GGUF file for local
    timeout_s: float = 120.0
    delay_s: float = 0.0  # echo only: pretend each call takes this long
    # A pool: every replica's base URL (base_url is the first, and names the pool in request keys).
    replicas: tuple[str, ...] = ()
    batch: BatchOptions | None = None  # openai / anthropic only: calls go out as provider batches
    workers: int = 0  # openai / anthropic only: calls made by this many child processes (0: in this one)


class Provider(Protocol):
    """A source of completions. Never prints, exits, reads config files or touches the store."""

    name: str

    async def complete(self, request: Request) -> Completion:
        """Return a completion or raise CallFailed."""
        ...

    async def aclose(self) -> None: ...


class StreamingProvider(Provider, Protocol):
    """A provider that can also hand out its answer as it is generated (the arena's live panes)."""

    def stream(self, request: Request) -> AsyncIterator[str]:
        """Yield the answer's text in pieces as they arrive; raise CallFailed, also part-way through."""
        ...


async def stream_text(provider: Provider, request: Request) -> AsyncIterator[str]:
    """The provider's stream when it has one; otherwise its whole completion as one piece (replay)."""
    stream = getattr(provider, "stream", None)
    if stream is None:
        yield (await provider.complete(request)).text
        return
    async for piece in stream(request):
        yield piece


_CONTEXT_TOO_LONG = re.compile(
    r"context.{0,20}(length|size|window)|too many tokens|prompt is too long|maximum context|exceed_context",
    re.IGNORECASE,
)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from retry-after-ms / Retry-After (delta seconds or an HTTP date), or None."""
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def sdk_error_message(exc: Any) -> str:
    """The server's own error message from an SDK status error (its JSON body), else the exception's text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(exc, "message", exc))


def status_failure(status: int, message: str, headers: Mapping[str, str]) -> CallFailed:
    """Map an HTTP error status (shared by every SDK's status errors) to a CallFailed."""
    text = f"HTTP {status}: {message}"
    if status == 429:
        return CallFailed(ErrorKind.RATE_LIMITED, text, retry_after=parse_retry_after(headers))
    if status in (401, 403):
        return CallFailed(ErrorKind.AUTH, text)
    if status == 413 or (400 <= status < 500 and _CONTEXT_TOO_LONG.search(message)):
        return CallFailed(ErrorKind.CONTEXT_TOO_LONG, text)
    if status == 408:
        return CallFailed(ErrorKind.TIMEOUT, text)
    if status >= 500 or status == 409:
        return CallFailed(ErrorKind.TRANSIENT, text, retry_after=parse_retry_after(headers))
    return CallFailed(ErrorKind.BAD_REQUEST, text)


def sdk_failure(sdk: Any, exc: Exception, timeout_s: float) -> CallFailed:
    """Classify an openai or anthropic SDK exception (both name their error classes alike) or a JSON one."""
    if isinstance(exc, sdk.APITimeoutError):
        return CallFailed(ErrorKind.TIMEOUT, f"no answer within {timeout_s:g}s")
    if isinstance(exc, sdk.APIStatusError):
        return status_failure(exc.status_code, sdk_error_message(exc), exc.response.headers)
    if isinstance(exc, sdk.APIConnectionError):
        return CallFailed(ErrorKind.TRANSIENT, f"connection failed: {exc.__cause__ or exc}")
    if isinstance(exc, sdk.APIResponseValidationError | ValueError):
        return CallFailed(ErrorKind.TRANSIENT, f"malformed response: {exc}")
    return CallFailed(ErrorKind.TRANSIENT, f"the stream failed: {sdk_error_message(exc)}")
