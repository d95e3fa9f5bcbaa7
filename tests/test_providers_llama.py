"""Both SDKs against a real llama.cpp server (xllamacpp) with SmolLM2-135M; the local provider end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

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

pytestmark = pytest.mark.llama

VERDICT_SCHEMA = {
    "title": "verdict",
    "type": "object",
    "properties": {"winner": {"enum": ["A", "B", "tie"]}},
    "required": ["winner"],
    "additionalProperties": False,
}
CONVERSATION = (
    Message("user", "My name is Ada. Remember it."),
    Message("assistant", "Nice to meet you, Ada."),
    Message("user", "What is my name?"),
)


def ask(endpoint: Endpoint, request: Request) -> Completion:
    async def go() -> Completion:
        async with ProviderHub() as hub:
            return await hub.get(endpoint).complete(request)

    return asyncio.run(go())


def short(messages: tuple[Message, ...], **kwargs: object) -> Request:
    return Request(model="smollm2-135m", messages=messages, temperature=0.0, max_tokens=8, seed=7, **kwargs)


@pytest.fixture(params=["openai", "anthropic"])
def endpoint(request: pytest.FixtureRequest, llama_url: str) -> Endpoint:
    base = llama_url + "/v1" if request.param == "openai" else llama_url
    return Endpoint(request.param, model="smollm2-135m", base_url=base, timeout_s=120)


def test_single_turn_reports_text_tokens_and_latency(endpoint: Endpoint) -> None:
    done = ask(endpoint, short((Message("user", "Say hello."),), system="You are terse."))
    assert done.text.strip()
    assert done.input_tokens and done.input_tokens > 3
    assert done.output_tokens and 0 < done.output_tokens <= 8
    assert done.latency_s > 0
    assert done.model


def test_multi_turn_conversation_sends_every_turn(endpoint: Endpoint) -> None:
    three = ask(endpoint, short(CONVERSATION))
    assert three.text.strip()
    # Every turn reached the model: the prompt holds at least their words plus the chat template's markers.
    assert three.input_tokens is not None and three.input_tokens >= 20


def test_openai_structured_output_follows_the_schema(llama_url: str) -> None:
    endpoint = Endpoint("openai", model="smollm2-135m", base_url=llama_url + "/v1")
    request = Request(
        model="smollm2-135m",
        messages=(Message("user", "Answer A or B: which letter comes first?"),),
        max_tokens=24,
        temperature=0.0,
        json_schema=VERDICT_SCHEMA,
    )
    verdict = json.loads(ask(endpoint, request).text)
    assert verdict["winner"] in {"A", "B", "tie"}


def test_openai_logprobs_of_the_first_token(llama_url: str) -> None:
    endpoint = Endpoint("openai", model="smollm2-135m", base_url=llama_url + "/v1")
    done = ask(endpoint, short((Message("user", "Pick A or B."),), logprobs=True))
    assert 1 <= len(done.top_logprobs) <= 5
    assert all(value <= 0.0 for value in done.top_logprobs.values())


def test_anthropic_json_schema_is_best_effort_text(llama_url: str) -> None:
    endpoint = Endpoint("anthropic", model="smollm2-135m", base_url=llama_url)
    done = ask(endpoint, short((Message("user", "A or B?"),), json_schema=VERDICT_SCHEMA, logprobs=True))
    assert done.text.strip()
    assert done.top_logprobs == {}  # the Messages API offers none


def test_local_provider_starts_one_shared_server_and_stops_it(llama_gguf: Path) -> None:
    async def go() -> tuple[str, str, bool]:
        async with ProviderHub(cache_dir=llama_gguf.parent) as hub:
            contestant = hub.get(Endpoint("local", model="smollm2-135m"))
            assert hub.get(Endpoint("local", model="smollm2-135m")) is contestant
            judge = hub.get(Endpoint("local", path=str(llama_gguf), timeout_s=60))
            # Both first calls at once: still one server for the one GGUF.
            answer, verdict = await asyncio.gather(
                contestant.complete(short((Message("user", "Hi"),))),
                judge.complete(short((Message("user", "Bye"),))),
            )
            servers = hub._servers
            assert len(servers._running) == 1
        return answer.text, verdict.text, bool(servers._running)

    answer, verdict, still_running = asyncio.run(go())
    assert answer.strip() and verdict.strip()
    assert not still_running


def test_a_prompt_past_the_context_is_context_too_long(endpoint: Endpoint) -> None:
    request = Request(model="smollm2-135m", messages=(Message("user", "word " * 8400),), max_tokens=4)
    with pytest.raises(CallFailed) as caught:
        ask(endpoint, request)
    assert caught.value.kind is ErrorKind.CONTEXT_TOO_LONG


def collect(endpoint: Endpoint, request: Request) -> list[str]:
    async def go() -> list[str]:
        async with ProviderHub() as hub:
            return [piece async for piece in stream_text(hub.get(endpoint), request)]

    return asyncio.run(go())


def test_streaming_arrives_in_pieces_and_matches_the_whole_answer(endpoint: Endpoint) -> None:
    request = Request(model="smollm2-135m", messages=CONVERSATION, temperature=0.0, max_tokens=16, seed=7)
    pieces = collect(endpoint, request)
    assert len(pieces) > 1 and all(pieces)
    assert "".join(pieces) == ask(endpoint, request).text  # greedy: the stream is the same answer


def test_streaming_past_the_context_fails_as_a_call(endpoint: Endpoint) -> None:
    request = short((Message("user", "word " * 20000),))
    with pytest.raises(CallFailed) as failed:
        collect(endpoint, request)
    assert failed.value.kind in (ErrorKind.CONTEXT_TOO_LONG, ErrorKind.BAD_REQUEST)


def test_local_provider_streams_through_llama_cpp(llama_gguf: Path) -> None:
    endpoint = Endpoint("local", model="smollm2-135m", path=str(llama_gguf))
    pieces = collect(endpoint, short((Message("user", "Say hello."),)))
    assert len(pieces) > 1 and "".join(pieces).strip()
