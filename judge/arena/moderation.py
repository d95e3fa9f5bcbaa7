"""The optional moderation hook: a prompt it refuses never reaches a contestant.

Either a command (the prompt on stdin; exit 0 lets it through, any other exit refuses it, the first line of
its output is the reason shown), or an OpenAI-compatible moderation endpoint called through the openai SDK
(a flagged result refuses). A hook that cannot answer refuses too: failing open would defeat its purpose.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from judge.arena.settings import Moderation


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


class Moderator:
    """Runs the configured hook; one per arena (it holds the SDK client)."""

    def __init__(self, settings: Moderation) -> None:
        self.settings = settings
        self._client: Any = None

    async def check(self, prompt: str) -> Decision:
        if self.settings.command is not None:
            return await self._command(prompt)
        return await self._endpoint(prompt)

    async def _command(self, prompt: str) -> Decision:
        command = self.settings.command or ()
        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            return Decision(False, f"the moderation command could not start ({exc.strerror or exc})")
        try:
            out, _ = await asyncio.wait_for(proc.communicate(prompt.encode()), self.settings.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return Decision(False, "the moderation command did not answer in time")
        if proc.returncode == 0:
            return Decision(True)
        first = out.decode("utf-8", "replace").strip().splitlines()
        return Decision(False, first[0][:200] if first else "refused by moderation")

    async def _endpoint(self, prompt: str) -> Decision:
        import openai

        if self._client is None:
            self._client = openai.AsyncOpenAI(
                api_key=self.settings.api_key or "no-key",
                base_url=self.settings.url,
                timeout=self.settings.timeout,
                max_retries=1,
            )
        kwargs: dict[str, Any] = {"input": prompt}
        if self.settings.model is not None:
            kwargs["model"] = self.settings.model
        try:
            result = await self._client.moderations.create(**kwargs)
        except openai.OpenAIError as exc:
            return Decision(False, f"the moderation service failed ({type(exc).__name__})")
        flagged = [r for r in result.results if r.flagged]
        if not flagged:
            return Decision(True)
        categories = flagged[0].categories.model_dump(by_alias=True) if flagged[0].categories else {}
        named = sorted(k for k, v in categories.items() if v)
        return Decision(False, "refused by moderation" + (f" ({', '.join(named)})" if named else ""))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
