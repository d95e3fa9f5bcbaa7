"""Provider batch APIs through the official SDKs: OpenAI's Batch API and Anthropic's Message Batches.

A BatchClient submits (custom_id, Request) items as one provider batch, reports its status, and reads an
ended batch's results back as a Completion or a classified CallFailed per custom_id, using the same request
params and reply parsing as the live providers, so a batched answer is the answer a live call would store.
Which batches exist and what became of them is judge.batches' business (it owns the store side).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

from judge.errors import ProviderError
from judge.providers import anthropic as anthropic_provider
from judge.providers import openai as openai_provider
from judge.providers.base import (
    CallFailed,
    Completion,
    Endpoint,
    ErrorKind,
    Provider,
    Request,
    sdk_error_message,
    status_failure,
)

T = TypeVar("T")
_CLOCK_SKEW_S = 120.0  # between this machine's clock and the provider's
_LOOK_BACK_S = 3600.0  # how far back past the intent a search for its batch reads the provider's list
Outcome = Completion | CallFailed

# Anthropic's error types and the HTTP status each stands for, so they are classified like live calls.
_ANTHROPIC_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


@dataclass(frozen=True)
class BatchStatus:
    ended: bool  # results (possibly partial: expired, cancelled) can be read
    status: str  # the provider's own word for it
    counts: dict[str, int]


class BatchClient(Protocol):
    async def submit(self, items: Sequence[tuple[str, Request]], tag: str) -> str:
        """Create one provider batch of the items, labelled with `tag` where the provider keeps labels."""
        ...

    async def find(self, tag: str, since: float, requests: int, known: set[str]) -> str | None:
        """The id of a batch submit(items, tag) created (at `since`, epoch seconds, or a little later) whose
        answer never arrived (a killed run, a lost reply), or None; never one of the `known` ids."""
        ...

    async def status(self, batch_id: str) -> BatchStatus: ...

    async def results(self, batch_id: str) -> dict[str, Outcome]:
        """custom_id -> outcome for each item the ended batch reports on (missing ones never ran)."""
        ...

    async def cancel(self, batch_id: str) -> None: ...


def batch_client(provider: Provider) -> BatchClient:
    """The batch API behind a live provider (same SDK client, same endpoint)."""
    if isinstance(provider, openai_provider.OpenAIProvider):
        return OpenAIBatches(provider.endpoint, provider.client)
    if isinstance(provider, anthropic_provider.AnthropicProvider):
        return AnthropicBatches(provider.endpoint, provider.client)
    raise ProviderError(
        f"provider {provider.name} has no batch API", hint="batch is for openai and anthropic"
    )


async def _guard(sdk: Any, call: Callable[[], Awaitable[T]]) -> T:
    """Run one SDK call, turning its failures into CallFailed like the live providers do."""
    try:
        return await call()
    except sdk.APIStatusError as exc:
        raise status_failure(exc.status_code, sdk_error_message(exc), exc.response.headers) from exc
    except sdk.APITimeoutError as exc:
        raise CallFailed(ErrorKind.TIMEOUT, f"batch API call timed out: {exc}") from exc
    except sdk.APIConnectionError as exc:
        raise CallFailed(ErrorKind.TRANSIENT, f"connection failed: {exc.__cause__ or exc}") from exc
    except (sdk.APIResponseValidationError, ValueError) as exc:
        raise CallFailed(ErrorKind.TRANSIENT, f"malformed batch response: {exc}") from exc


class OpenAIBatches:
    """OpenAI's Batch API: a JSONL file of chat completion requests, a batch, output and error files."""

    _ENDED = ("completed", "expired", "failed", "cancelled")

    def __init__(self, endpoint: Endpoint, client: Any) -> None:
        import openai

        self._sdk, self._endpoint, self._client = openai, endpoint, client
        self._window = endpoint.batch.window if endpoint.batch is not None else "24h"

    async def submit(self, items: Sequence[tuple[str, Request]], tag: str) -> str:
        lines = [
            json.dumps(
                {
                    "custom_id": custom_id,
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": openai_provider._params(request, self._endpoint),
                },
                ensure_ascii=False,
            )
            for custom_id, request in items
        ]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        upload = await _guard(
            self._sdk,
            lambda: self._client.files.create(file=("judge-batch.jsonl", data), purpose="batch"),
        )
        batch = await _guard(
            self._sdk,
            lambda: self._client.batches.create(
                input_file_id=upload.id,
                endpoint="/v1/chat/completions",
                completion_window=self._window,
                metadata={"made_by": "judge", "judge_batch": tag},
            ),
        )
        return str(batch.id)

    async def find(self, tag: str, since: float, requests: int, known: set[str]) -> str | None:
        """By the tag in the batch's metadata, newest batches first, back to shortly before `since`."""

        async def look() -> str | None:
            async for batch in self._client.batches.list(limit=100):
                if (batch.metadata or {}).get("judge_batch") == tag and batch.id not in known:
                    return str(batch.id)
                if batch.created_at < since - _LOOK_BACK_S:
                    return None
            return None

        return await _guard(self._sdk, look)

    async def status(self, batch_id: str) -> BatchStatus:
        batch = await _guard(self._sdk, lambda: self._client.batches.retrieve(batch_id))
        counts = batch.request_counts.model_dump() if batch.request_counts is not None else {}
        return BatchStatus(batch.status in self._ENDED, str(batch.status), counts)

    async def results(self, batch_id: str) -> dict[str, Outcome]:
        batch = await _guard(self._sdk, lambda: self._client.batches.retrieve(batch_id))
        found: dict[str, Outcome] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await _guard(self._sdk, partial(self._client.files.content, file_id))
            for line in content.text.splitlines():
                if line.strip():
                    row = json.loads(line)
                    found[str(row["custom_id"])] = self._outcome(row)
        return found

    @staticmethod
    def _outcome(row: dict[str, Any]) -> Outcome:
        response, error = row.get("response"), row.get("error")
        if isinstance(response, dict):
            status, body = int(response.get("status_code") or 0), response.get("body") or {}
            if status == 200:
                try:
                    return openai_provider._completion(body, 0.0)
                except CallFailed as exc:
                    return exc
            inner = body.get("error", body) if isinstance(body, dict) else {}
            message = str(inner.get("message") or f"HTTP {status}") if isinstance(inner, dict) else str(body)
            return status_failure(status, message, {})
        code = str((error or {}).get("code") or "error")
        message = str((error or {}).get("message") or "no result")
        return CallFailed(ErrorKind.TRANSIENT, f"batch item {code}: {message}")

    async def cancel(self, batch_id: str) -> None:
        await _guard(self._sdk, lambda: self._client.batches.cancel(batch_id))


class AnthropicBatches:
    """Anthropic's Message Batches: a list of Messages requests, polled, then streamed results."""

    def __init__(self, endpoint: Endpoint, client: Any) -> None:
        import anthropic

        self._sdk, self._endpoint, self._client = anthropic, endpoint, client

    async def submit(self, items: Sequence[tuple[str, Request]], tag: str) -> str:
        requests = []
        for custom_id, request in items:
            params = anthropic_provider._params(request, self._endpoint)
            params.update(params.pop("extra_body", None) or {})  # in a batch, every param is in the body
            requests.append({"custom_id": custom_id, "params": params})
        batch = await _guard(self._sdk, lambda: self._client.messages.batches.create(requests=requests))
        return str(batch.id)

    async def find(self, tag: str, since: float, requests: int, known: set[str]) -> str | None:
        """Message batches carry no metadata: the earliest unknown batch of `requests` requests created from
        `since` on. A wrong pick (another client's batch of that size at that moment) costs a retry, never
        a wrong answer: its results carry other custom_ids, so this batch's requests end as failed ones."""

        async def look() -> str | None:
            found: str | None = None
            async for batch in self._client.messages.batches.list(limit=100):
                created = batch.created_at.timestamp()
                if created < since - _LOOK_BACK_S:
                    break
                total = sum(v for v in batch.request_counts.model_dump().values() if isinstance(v, int))
                if created >= since - _CLOCK_SKEW_S and total == requests and batch.id not in known:
                    found = str(batch.id)  # newest first: the last match is the earliest
            return found

        return await _guard(self._sdk, look)

    async def status(self, batch_id: str) -> BatchStatus:
        batch = await _guard(self._sdk, lambda: self._client.messages.batches.retrieve(batch_id))
        counts = batch.request_counts.model_dump()
        return BatchStatus(batch.processing_status == "ended", str(batch.processing_status), counts)

    async def results(self, batch_id: str) -> dict[str, Outcome]:
        async def read() -> dict[str, Outcome]:
            found: dict[str, Outcome] = {}
            async for row in await self._client.messages.batches.results(batch_id):
                found[str(row.custom_id)] = self._outcome(row.result)
            return found

        return await _guard(self._sdk, read)

    @staticmethod
    def _outcome(result: Any) -> Outcome:
        kind = getattr(result, "type", None)
        if kind == "succeeded":
            try:
                return anthropic_provider._completion(result.message, 0.0)
            except CallFailed as exc:
                return exc
        if kind == "errored":
            inner = getattr(result.error, "error", None)
            error_type = str(getattr(inner, "type", "api_error"))
            message = str(getattr(inner, "message", "") or error_type)
            return status_failure(_ANTHROPIC_STATUS.get(error_type, 500), message, {})
        return CallFailed(ErrorKind.TRANSIENT, f"batch item {kind}: not run before the batch ended")

    async def cancel(self, batch_id: str) -> None:
        await _guard(self._sdk, lambda: self._client.messages.batches.cancel(batch_id))
