"""Chat completions through the official openai SDK, for OpenAI or any compatible server (llama.cpp)."""

from __future__ import annotations

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

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# How many alternatives of the first token to ask for when logprobs are wanted (OpenAI allows up to 20).
TOP_LOGPROBS = 5
# Sent when a compatible local server needs no key; the SDK refuses to start without one.
_NO_KEY = "no-key"


def create(endpoint: Endpoint) -> OpenAIProvider:
    """Build the provider; the SDK is imported here so the rest of judge works without it."""
    try:
        import openai
    except ImportError as exc:
        raise MissingDependency(
            "the openai provider needs the openai package", hint="pip install openai"
        ) from exc
    if endpoint.api_key is None and endpoint.base_url is None:
        raise ProviderError(
            "the openai provider needs an API key (or a base_url of a server that needs none)",
            hint="set OPENAI_API_KEY",
        )
    # Explicit values everywhere so the SDK reads nothing from the environment, and never retries on its own.
    client = openai.AsyncOpenAI(
        api_key=endpoint.api_key or _NO_KEY,
        base_url=endpoint.base_url or DEFAULT_BASE_URL,
        timeout=endpoint.timeout_s,
        max_retries=0,
        http_client=_http_client(openai),
    )
    return OpenAIProvider(endpoint, client)


def _http_client(openai: Any) -> Any:
    """The SDK's aiohttp transport when aiohttp is installed: at 64 calls in flight its per-request CPU is
    a fraction of httpx's, which otherwise caps a judge at about half the rate a fast server allows."""
    try:
        return openai.DefaultAioHttpClient()
    except (AttributeError, RuntimeError):
        return None


class OpenAIProvider:
    """One endpoint of the chat completions API."""

    name = "openai"

    def __init__(self, endpoint: Endpoint, client: Any) -> None:
        self.endpoint = endpoint
        self._client = client

    @property
    def client(self) -> Any:
        """The SDK client, shared with this endpoint's batch API (judge.providers.batches)."""
        return self._client

    async def complete(self, request: Request) -> Completion:
        """One chat completion; SDK failures become CallFailed here and nowhere else."""
        import openai

        started = time.perf_counter()
        try:
            # The SDK's generic post, answered as plain JSON: our params are already the wire format, and
            # chat.completions.create spends most of a call's client CPU walking them against its TypedDicts
            # and building typed models of the reply (at 64 calls in flight that CPU is the bottleneck).
            response = await self._client.post(
                "/chat/completions", body=_params(request, self.endpoint), cast_to=object
            )
        except (
            openai.APITimeoutError,
            openai.APIStatusError,
            openai.APIConnectionError,
            openai.APIResponseValidationError,
            ValueError,
        ) as exc:
            raise _failure(exc, self.endpoint) from exc
        return _completion(response, time.perf_counter() - started)

    async def stream(self, request: Request) -> AsyncIterator[str]:
        """The answer's text as the server generates it (stream=True, server-sent events)."""
        import openai

        params = _params(request, self.endpoint)
        params.pop("logprobs", None)
        params.pop("top_logprobs", None)
        try:
            chunks = await self._client.chat.completions.create(**params, stream=True)
            async with chunks:
                async for chunk in chunks:
                    for choice in chunk.choices or ():
                        delta = choice.delta
                        text = getattr(delta, "content", None) or getattr(delta, "refusal", None)
                        if text:
                            yield text
        except (openai.APIError, ValueError) as exc:  # APIError itself: an error event inside the stream
            raise _failure(exc, self.endpoint) from exc

    async def aclose(self) -> None:
        await self._client.close()


def _params(request: Request, endpoint: Endpoint) -> dict[str, Any]:
    messages: list[dict[str, str]] = []
    if request.system is not None:
        messages.append({"role": "system", "content": request.system})
    messages.extend({"role": m.role, "content": m.content} for m in request.messages)
    params: dict[str, Any] = {"model": request.model or endpoint.model, "messages": messages}
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.max_tokens is not None:
        params["max_tokens"] = request.max_tokens
    if request.seed is not None:
        params["seed"] = request.seed
    if request.json_schema is not None:
        schema = request.json_schema
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": str(schema.get("title", "response")),
                "schema": schema,
                # OpenAI's strict mode demands closed objects; use it when the schema is written that way.
                "strict": schema.get("additionalProperties") is False,
            },
        }
    if request.logprobs:
        params["logprobs"] = True
        params["top_logprobs"] = TOP_LOGPROBS
    return params


def _failure(exc: Exception, endpoint: Endpoint) -> CallFailed:
    """Classify an SDK (or JSON) exception; this module's only place that knows the SDK's error classes."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        refused = _connection_error(exc)
        if refused is not None:  # the aiohttp transport reports a refused connection as a connect timeout
            return CallFailed(ErrorKind.TRANSIENT, f"connection failed: {refused}")
    return sdk_failure(openai, exc, endpoint.timeout_s)


def _completion(response: Any, latency_s: float) -> Completion:
    """Read the answer from the reply's JSON; a reply without one is a malformed (transient) failure."""
    try:
        choice = response["choices"][0]
        message = choice["message"]
        text = message.get("content")
        if text is None:
            text = message.get("refusal")
    except (TypeError, KeyError, IndexError, AttributeError) as exc:
        raise CallFailed(ErrorKind.TRANSIENT, "malformed response: no choices") from exc
    if not isinstance(text, str):
        raise CallFailed(ErrorKind.TRANSIENT, "malformed response: the message has no content")
    usage = response.get("usage") or {}
    return Completion(
        text=text,
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        latency_s=latency_s,
        model=response.get("model"),
        top_logprobs=_first_token_logprobs(choice),
    )


def _first_token_logprobs(choice: Any) -> dict[str, float]:
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return {}
    found: dict[str, float] = {}
    for alt in content[0].get("top_logprobs") or []:
        # Different token ids can decode to the same text; keep the likelier one.
        found[alt["token"]] = max(float(alt["logprob"]), found.get(alt["token"], float("-inf")))
    return found


def _connection_error(exc: BaseException) -> OSError | None:
    """The operating system's connection error behind an exception, if one is in its chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and not isinstance(seen, TimeoutError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
