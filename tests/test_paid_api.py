"""The hosted APIs themselves, through our providers: opt in with --runapi and the keys in the environment.

The same code paths run against a real llama.cpp server in test_providers_llama.py on every run; these tests
only confirm that the hosted services still speak what those servers speak.
"""

from __future__ import annotations

import asyncio

import pytest

from judge.providers import ProviderHub
from judge.providers.base import Endpoint, Message, Request
from judge.verdicts import verdict_schema

pytestmark = pytest.mark.api


def _ask(endpoint: Endpoint, request: Request):
    async def go():
        async with ProviderHub() as hub:
            return await hub.get(endpoint).complete(request)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("provider", "variable", "model"),
    [("openai", "OPENAI_API_KEY", "gpt-4o-mini"), ("anthropic", "ANTHROPIC_API_KEY", "claude-haiku-4-5")],
)
def test_hosted_model_answers_a_two_turn_conversation(provider, variable, model, api_key):
    endpoint = Endpoint(provider, model=model, api_key=api_key(variable), timeout_s=60)
    messages = (
        Message("user", "Remember the number 7. Reply with OK."),
        Message("assistant", "OK"),
        Message("user", "Which number did I ask you to remember? Reply with the digit only."),
    )
    completion = _ask(endpoint, Request(model=model, messages=messages, temperature=0, max_tokens=5))
    assert "7" in completion.text
    assert completion.input_tokens and completion.output_tokens


def test_openai_structured_verdict(api_key):
    endpoint = Endpoint("openai", model="gpt-4o-mini", api_key=api_key("OPENAI_API_KEY"), timeout_s=60)
    request = Request(
        model="gpt-4o-mini",
        messages=(Message("user", "Assistant A said 2+2=4, assistant B said 2+2=5. Which is better?"),),
        temperature=0,
        json_schema=verdict_schema(3),
    )
    completion = _ask(endpoint, request)
    assert '"verdict"' in completion.text
