"""A fake provider for tests where the words do not matter (scheduling, resume): deterministic and instant."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

from judge.providers.base import Completion, Endpoint, Request


class EchoProvider:
    """Answers with text derived from a hash of the request; with a JSON schema, a valid instance of it."""

    name = "echo"

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def complete(self, request: Request) -> Completion:
        return await self._answer(request, delay=True)

    async def _answer(self, request: Request, *, delay: bool) -> Completion:
        if delay and self.endpoint.delay_s > 0:
            await asyncio.sleep(self.endpoint.delay_s)
        canonical = json.dumps(
            [request.model, request.system, [[m.role, m.content] for m in request.messages]], sort_keys=True
        )
        digest = int(hashlib.sha256(canonical.encode()).hexdigest(), 16)
        if request.json_schema is not None:
            text = json.dumps(instance_of(request.json_schema, digest))
        else:
            text = f"echo {digest % 16**8:08x}: answer {len(request.messages)} to {request.model}"
        return Completion(text=text, input_tokens=0, output_tokens=0, model=request.model)

    async def stream(self, request: Request) -> AsyncIterator[str]:
        """The same text as complete(), word by word, the delay spread over the words."""
        text = (await self._answer(request, delay=False)).text
        words = text.split(" ")
        for i, word in enumerate(words):
            if self.endpoint.delay_s > 0:
                await asyncio.sleep(self.endpoint.delay_s / len(words))
            yield word if i == 0 else " " + word

    async def aclose(self) -> None:
        pass


def instance_of(schema: dict[str, Any], digest: int) -> Any:
    """A small value valid for common JSON schemas; enum choices are picked by the digest, so they vary."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        options = list(schema["enum"])
        return options[digest % len(options)]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return instance_of(schema[key][0], digest)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        return {
            name: instance_of(sub, digest >> (4 * i)) for i, (name, sub) in enumerate(sorted(props.items()))
        }
    if kind == "array":
        return (
            [instance_of(schema["items"], digest)] * int(schema.get("minItems", 0))
            if "items" in schema
            else []
        )
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return bool(digest % 2)
    if kind == "null":
        return None
    return "x" * int(schema.get("minLength", 1))
