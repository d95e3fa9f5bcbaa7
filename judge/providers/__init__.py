"""Model providers: the only async network edge. A `ProviderHub` turns Endpoints into Providers and owns them.

    async with ProviderHub(cache_dir=None) as hub:   # starts nothing until a call needs it
        provider = hub.get(endpoint)                 # equal endpoints share one provider
        completion = await provider.complete(request)   # or raises CallFailed(kind, message, retry_after)
        async for piece in stream_text(provider, request): ...   # the same answer as it is generated

Providers never retry, print, read config or environment, or touch the store; the runner does those things.
An endpoint with `workers=N` gets a WorkerProvider: the same calls, made by N child processes (workers.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from judge.errors import InputError
from judge.providers import anthropic, echo, local, openai, pool, replay, workers
from judge.providers.base import (
    BatchOptions,
    CallFailed,
    Completion,
    Endpoint,
    ErrorKind,
    Message,
    Provider,
    Request,
    StreamingProvider,
    stream_text,
)
from judge.providers.gguf import BUILTIN_MODELS, default_cache_dir

__all__ = [
    "BUILTIN_MODELS",
    "PROVIDER_NAMES",
    "BatchOptions",
    "CallFailed",
    "Completion",
    "Endpoint",
    "ErrorKind",
    "Message",
    "Provider",
    "ProviderHub",
    "Request",
    "StreamingProvider",
    "default_cache_dir",
    "stream_text",
]

_Factory = Callable[[Endpoint, local.LocalServers], Provider]

# Name -> factory. Each SDK is imported inside its factory, so a missing one only matters when it is used.
_FACTORIES: dict[str, _Factory] = {
    "anthropic": lambda endpoint, _: anthropic.create(endpoint),
    "echo": lambda endpoint, _: echo.EchoProvider(endpoint),
    "local": lambda endpoint, servers: local.LocalProvider(endpoint, servers),
    "openai": lambda endpoint, _: openai.create(endpoint),
    "replay": lambda endpoint, _: replay.create(endpoint),
}
PROVIDER_NAMES: tuple[str, ...] = tuple(sorted(_FACTORIES))


class ProviderHub:
    """Builds providers on demand, shares them between equal endpoints, closes them and local servers."""

    def __init__(self, cache_dir: str | Path | None = None) -> None:
        """cache_dir holds local GGUF models; None means ~/.cache/judge/models."""
        self._servers = local.LocalServers(None if cache_dir is None else Path(cache_dir))
        self._providers: dict[Endpoint, Provider] = {}

    def get(self, endpoint: Endpoint) -> Provider:
        """The provider for an endpoint; unknown names are an InputError, missing SDKs a MissingDependency."""
        provider = self._providers.get(endpoint)
        if provider is None:
            if endpoint.workers > 0:  # calls made by child processes; built here too, to stream and check
                if endpoint.provider not in ("openai", "anthropic"):
                    raise InputError(
                        f"workers are for openai and anthropic endpoints, not {endpoint.provider}"
                    )
                provider = workers.WorkerProvider(endpoint, self._build(replace(endpoint, workers=0)))
            else:
                provider = self._build(endpoint)
            self._providers[endpoint] = provider
        return provider

    def _build(self, endpoint: Endpoint) -> Provider:
        factory = _FACTORIES.get(endpoint.provider)
        if factory is None:
            known = ", ".join(PROVIDER_NAMES)
            raise InputError(f"provider {endpoint.provider!r} is unknown (known: {known})")
        if len(endpoint.replicas) > 1:  # one provider per replica, behind one pool
            members = [(url, factory(replace(endpoint, base_url=url, replicas=()), self._servers))
                       for url in endpoint.replicas]  # fmt: skip
            return pool.PoolProvider(endpoint, members)
        return factory(endpoint, self._servers)

    def replica_counts(self, endpoint: Endpoint) -> list[dict[str, object]] | None:
        """Per-replica calls, failures, peak load and cool-downs of a pooled endpoint; None if not a pool."""
        provider = self._providers.get(endpoint)
        if isinstance(provider, pool.PoolProvider | workers.WorkerProvider):
            return provider.counts()
        return None

    async def prepare(self, endpoints: Iterable[Endpoint]) -> None:
        """Fetch the local models these endpoints name and start their servers now, before the first call.

        A missing or broken model then stops the run at once, and the fetch is timed apart from the answers.
        """
        for endpoint in endpoints:
            if endpoint.provider == "local":
                await self._servers.url_for(endpoint)

    async def aclose(self) -> None:
        """Close every provider's connections, then stop the local servers."""
        providers, self._providers = list(self._providers.values()), {}
        try:
            for provider in providers:
                await provider.aclose()
        finally:
            await self._servers.aclose()

    async def __aenter__(self) -> ProviderHub:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
