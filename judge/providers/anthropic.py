"""Anthropic's Messages API through the official anthropic SDK (also spoken by llama.cpp's server)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from judge.errors import MissingDependency, ProviderError
from judge.providers.base import (
    CallFailed,
    Completion,
    Endpoint,
    ErrorKind,
    Request,
    sdk_failure,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
# The Messages API requires max_tokens; used when the request leaves it open.
DEFAULT_MAX_TOKENS = 1024
_NO_KEY = "no-key"


def create(endpoint: Endpoint) -> AnthropicProvider:
    """Build the provider; the SDK is imported here so the rest of judge works without it."""
    try:
        import anthropic
    except ImportError as exc:
        raise MissingDependency(
            "the anthropic provider needs the anthropic package", hint="pip install anthropic"
        ) from exc
    if endpoint.api_key is None and endpoint.base_url is None:
        raise ProviderError(
            "the anthropic provider needs an API key (or a base_url of a server that needs none)",
            hint="set ANTHROPIC_API_KEY",
        )
    client = anthropic.AsyncAnthropic(
        api_key=endpoint.api_key or _NO_KEY,
        base_url=endpoint.base_url or DEFAULT_BASE_URL,
        timeout=endpoint.timeout_s,
        max_retries=0,
    )
    return AnthropicProvider(endpoint, client)


class AnthropicProvider:
    """One endpoint of the Messages API. Logprobs are not offered by this API and stay empty."""

    name = "anthropic"

    def __init__(self, endpoint: Endpoint, client: Any) -> None:
        self.endpoint = endpoint
        self._client = client

    @property
    def client(self) -> Any:
        """The SDK client, shared with this endpoint's batch API (judge.providers.batches)."""
        return self._client

    async def complete(self, request: Request) -> Completion:
        """One message; SDK failures become CallFailed here and nowhere else."""
        import anthropic

        started = time.perf_counter()
        try:
            response = await self._client.messages.create(**_params(request, self.endpoint))
        except (
            anthropic.APITimeoutError,
            anthropic.APIStatusError,
            anthropic.APIConnectionError,
            anthropic.APIResponseValidationError,
            ValueError,
        ) as exc:
            raise _failure(exc, self.endpoint) from exc
        return _completion(response, time.perf_counter() - started)

    async def stream(self, request: Request) -> AsyncIterator[str]:
        """The answer's text as it is generated (the SDK's messages.stream over server-sent events)."""
        import anthropic

        try:
            async with self._client.messages.stream(**_params(request, self.endpoint)) as events:
                async for text in events.text_stream:
                    if text:
                        yield text
        except (anthropic.APIError, ValueError) as exc:  # APIError itself: an error event inside the stream
            raise _failure(exc, self.endpoint) from exc

    async def aclose(self) -> None:
        await self._client.close()


def _params(request: Request, endpoint: Endpoint) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": request.model or endpoint.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
    }
    system = request.system
    if request.json_schema is not None:
        # Structured output where the server honours output_config; the instruction covers the others.
        params["output_config"] = {"format": {"type": "json_schema", "schema": request.json_schema}}
        rule = "Reply with one JSON object, and nothing else, that matches this JSON schema: " + json.dumps(
            request.json_schema, sort_keys=True
        )
        system = rule if system is None else f"{system}\n\n{rule}"
    if system is not None:
        params["system"] = system
    if request.temperature is not None:
        # This SDK's create() no longer takes sampling parameters; servers that still read them find it here.
        params["extra_body"] = {"temperature": request.temperature}
    return params


def _failure(exc: Exception, endpoint: Endpoint) -> CallFailed:
    """Classify an SDK (or JSON) exception; this module's only place that knows the SDK's error classes."""
    import anthropic

    return sdk_failure(anthropic, exc, endpoint.timeout_s)


def _completion(response: Any, latency_s: float) -> Completion:
    """Join the text blocks, treating a response without any as a malformed (transient) failure."""
    blocks = getattr(response, "content", None)
    if not isinstance(blocks, list):
        raise CallFailed(ErrorKind.TRANSIENT, "malformed response: no content")
    texts = [b.text for b in blocks if getattr(b, "type", None) == "text" and isinstance(b.text, str)]
    if not texts and blocks:
        raise CallFailed(ErrorKind.TRANSIENT, "malformed response: no text block")
    return Completion(
        text="".join(texts),
        input_tokens=_input_tokens(getattr(response, "usage", None)),
        output_tokens=getattr(getattr(response, "usage", None), "output_tokens", None),
        latency_s=latency_s,
        model=getattr(response, "model", None),
    )


def _input_tokens(usage: Any) -> int | None:
    """The whole prompt: this API counts tokens read from or written to its prompt cache apart."""
    fresh = getattr(usage, "input_tokens", None)
    if not isinstance(fresh, int):
        return None
    cached = (
        getattr(usage, "cache_read_input_tokens", None),
        getattr(usage, "cache_creation_input_tokens", None),
    )
    return fresh + sum(c for c in cached if isinstance(c, int))
