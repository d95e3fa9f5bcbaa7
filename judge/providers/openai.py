"""Chat completions through the official openai SDK, for OpenAI or any compatible server (llama.cpp)."""

from __future__ import annotations

import time
from typing import Any

from judge.errors import MissingDependency, ProviderError
from judge.providers.base import CallFailed, Completion, Endpoint, ErrorKind, Request, status_failure

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
    )
    return OpenAIProvider(endpoint, client)


class OpenAIProvider:
    """One endpoint of the chat completions API."""

    name = "openai"

    def __init__(self, endpoint: Endpoint, client: Any) -> None:
        self.endpoint = endpoint
        self._client = client

    async def complete(self, request: Request) -> Completion:
        """One chat completion; SDK failures become CallFailed here and nowhere else."""
        import openai

        started = time.perf_counter()
        try:
            response = await self._client.chat.completions.create(**_params(request, self.endpoint))
        except openai.APITimeoutError as exc:
            raise CallFailed(ErrorKind.TIMEOUT, f"no answer within {self.endpoint.timeout_s:g}s") from exc
        except openai.APIStatusError as exc:
            raise status_failure(exc.status_code, _error_message(exc), exc.response.headers) from exc
        except openai.APIConnectionError as exc:
            raise CallFailed(ErrorKind.TRANSIENT, f"connection failed: {exc.__cause__ or exc}") from exc
        except (openai.APIResponseValidationError, ValueError) as exc:
            raise CallFailed(ErrorKind.TRANSIENT, f"malformed response: {exc}") from exc
        return _completion(response, time.perf_counter() - started)

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


def _completion(response: Any, latency_s: float) -> Completion:
    """Read the answer, treating a response without one as a malformed (transient) failure."""
    choices = getattr(response, "choices", None)
    if not choices or getattr(choices[0], "message", None) is None:
        raise CallFailed(ErrorKind.TRANSIENT, "malformed response: no choices")
    choice = choices[0]
    text = choice.message.content
    if text is None:
        text = getattr(choice.message, "refusal", None)
    if text is None:
        raise CallFailed(ErrorKind.TRANSIENT, "malformed response: the message has no content")
    usage = getattr(response, "usage", None)
    return Completion(
        text=text,
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
        latency_s=latency_s,
        model=getattr(response, "model", None),
        top_logprobs=_first_token_logprobs(choice),
    )


def _first_token_logprobs(choice: Any) -> dict[str, float]:
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return {}
    found: dict[str, float] = {}
    for alt in content[0].top_logprobs or []:
        # Different token ids can decode to the same text; keep the likelier one.
        found[alt.token] = max(alt.logprob, found.get(alt.token, float("-inf")))
    return found


def _error_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(exc, "message", exc))
