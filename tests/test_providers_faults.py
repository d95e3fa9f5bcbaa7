"""Each misbehaviour of a real scripted HTTP server maps to the right ErrorKind, through both SDKs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest

from judge.providers import (
    CallFailed,
    Completion,
    Endpoint,
    ErrorKind,
    Message,
    ProviderHub,
    Request,
    stream_text,
)
from judge.providers.base import parse_retry_after
from tests.fault_server import FaultServer, Step

REQUEST = Request(model="m", messages=(Message("user", "hi"),), max_tokens=5, temperature=0.0)


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


@pytest.fixture(params=["openai", "anthropic"])
def endpoint(request: pytest.FixtureRequest, server: FaultServer) -> Endpoint:
    base = server.openai_url if request.param == "openai" else server.anthropic_url
    # Generous, so a busy machine never turns a scripted answer into a timeout; the hang test shortens it.
    return Endpoint(request.param, model="m", base_url=base, api_key="secret-key", timeout_s=10)


def call(endpoint: Endpoint, server: FaultServer, *steps: Step) -> Completion | CallFailed:
    """Script the steps, make one call, and return what came back (the completion or the failure)."""
    server.script(*steps)

    async def go() -> Completion | CallFailed:
        async with ProviderHub() as hub:
            try:
                return await hub.get(endpoint).complete(REQUEST)
            except CallFailed as failed:
                return failed

    return asyncio.run(go())


def failure(endpoint: Endpoint, server: FaultServer, step: Step) -> CallFailed:
    result = call(endpoint, server, step)
    assert isinstance(result, CallFailed), result
    if step.action != "wrong_shape":  # valid JSON of the wrong shape raises nothing inside the SDK
        assert result.__cause__ is not None  # the SDK's exception stays chained
    assert "secret-key" not in str(result)
    return result


def test_success_after_failures_and_every_request_counted(endpoint: Endpoint, server: FaultServer) -> None:
    before = server.count
    assert failure(endpoint, server, Step.server_error()).kind is ErrorKind.TRANSIENT
    done = call(endpoint, server, Step.ok("fine answer"))
    assert isinstance(done, Completion)
    assert (done.text, done.input_tokens, done.output_tokens, done.model) == ("fine answer", 3, 2, "m")
    assert server.count == before + 2  # max_retries=0: the SDK never retried on its own
    assert server.requests[-1].body["messages"][-1] == {"role": "user", "content": "hi"}


def test_rate_limit_carries_retry_after(endpoint: Endpoint, server: FaultServer) -> None:
    failed = failure(endpoint, server, Step.rate_limited(retry_after=7))
    assert failed.kind is ErrorKind.RATE_LIMITED
    assert failed.retry_after == 7.0
    assert failed.kind.retryable


def test_rate_limit_without_header(endpoint: Endpoint, server: FaultServer) -> None:
    failed = failure(endpoint, server, Step.rate_limited(retry_after=None))
    assert (failed.kind, failed.retry_after) == (ErrorKind.RATE_LIMITED, None)


@pytest.mark.parametrize(
    ("step", "kind"),
    [
        (Step.server_error(500), ErrorKind.TRANSIENT),
        (Step.server_error(503), ErrorKind.TRANSIENT),
        (Step.error(529, "overloaded"), ErrorKind.TRANSIENT),
        (Step.hang(5), ErrorKind.TIMEOUT),
        (Step.drop(), ErrorKind.TRANSIENT),
        (Step.malformed(), ErrorKind.TRANSIENT),
        (Step.wrong_shape(), ErrorKind.TRANSIENT),
        (Step.error(401, "invalid x-api-key"), ErrorKind.AUTH),
        (Step.error(403, "forbidden"), ErrorKind.AUTH),
        (Step.error(400, "temperature must be at most 2"), ErrorKind.BAD_REQUEST),
        (Step.error(404, "model m not found"), ErrorKind.BAD_REQUEST),
        (Step.error(400, "This model's maximum context length is 8192 tokens"), ErrorKind.CONTEXT_TOO_LONG),
        (Step.error(400, "prompt is too long: 300000 tokens > 200000 maximum"), ErrorKind.CONTEXT_TOO_LONG),
        (Step.error(413, "request too large"), ErrorKind.CONTEXT_TOO_LONG),
    ],
    ids=lambda v: v.action + str(v.status) if isinstance(v, Step) else str(v),
)
def test_misbehaviour_maps_to_kind(
    endpoint: Endpoint, server: FaultServer, step: Step, kind: ErrorKind
) -> None:
    if step.action == "hang":
        endpoint = replace(endpoint, timeout_s=0.3)
    assert failure(endpoint, server, step).kind is kind


def test_requests_carry_the_generation_parameters(server: FaultServer) -> None:
    schema = {"type": "object", "properties": {"winner": {"enum": ["A", "B"]}}, "additionalProperties": False}
    request = Request(
        model="m",
        system="be fair",
        messages=(Message("user", "q"), Message("assistant", "a"), Message("user", "q2")),
        temperature=0.5,
        max_tokens=9,
        seed=3,
        json_schema=schema,
        logprobs=True,
    )

    async def go() -> None:
        async with ProviderHub() as hub:
            await hub.get(Endpoint("openai", model="m", base_url=server.openai_url)).complete(request)
            await hub.get(Endpoint("anthropic", model="m", base_url=server.anthropic_url)).complete(request)

    asyncio.run(go())
    chat, messages = server.requests[-2].body, server.requests[-1].body
    assert chat["messages"][0] == {"role": "system", "content": "be fair"}
    assert len(chat["messages"]) == 4
    assert (chat["temperature"], chat["max_tokens"], chat["seed"], chat["logprobs"]) == (0.5, 9, 3, True)
    assert chat["response_format"]["json_schema"] == {"name": "response", "schema": schema, "strict": True}
    assert [m["role"] for m in messages["messages"]] == ["user", "assistant", "user"]
    assert (messages["temperature"], messages["max_tokens"]) == (0.5, 9)
    assert messages["output_config"]["format"] == {"type": "json_schema", "schema": schema}
    assert messages["system"].startswith("be fair") and '"winner"' in messages["system"]


def test_unreachable_server_is_transient() -> None:
    with FaultServer() as gone:
        url = gone.openai_url
    failed = failure(Endpoint("openai", model="m", base_url=url, timeout_s=2), gone, Step.ok())
    assert failed.kind is ErrorKind.TRANSIENT


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past: go now
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert parse_retry_after(headers) == seconds


def test_streaming_through_the_openai_sdk_and_its_failures(server: FaultServer) -> None:
    endpoint = Endpoint("openai", model="m", base_url=server.openai_url, api_key="secret-key", timeout_s=10)

    async def stream(*steps: Step) -> list[str] | CallFailed:
        server.script(*steps)
        async with ProviderHub() as hub:
            try:
                return [piece async for piece in stream_text(hub.get(endpoint), REQUEST)]
            except CallFailed as failed:
                return failed

    pieces = asyncio.run(stream(Step.ok("a streamed answer in pieces")))
    assert pieces == ["a strea", "med ans", "wer in ", "pieces"]
    assert server.requests[-1].body["stream"] is True
    for step, kind in [
        (Step.server_error(503), ErrorKind.TRANSIENT),
        (Step.rate_limited(retry_after=3), ErrorKind.RATE_LIMITED),
        (Step.error(401, "bad key"), ErrorKind.AUTH),
    ]:
        failed = asyncio.run(stream(step))
        assert isinstance(failed, CallFailed) and failed.kind == kind, failed
        assert "secret-key" not in str(failed)
