"""The embedded default: llama.cpp's own server run in-process by xllamacpp, reached via the openai provider.

The hub owns one `LocalServers`; it starts one server per GGUF file on first use, on a free loopback port, and
every contestant or judge using that file shares it. Servers are stopped when the hub closes (and, as a safety
net, at interpreter exit: a server still alive then would keep the process from ending).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from judge.errors import MissingDependency, ProviderError
from judge.providers import openai as openai_provider
from judge.providers.base import Completion, Endpoint, Request
from judge.providers.gguf import resolve_gguf

# Two cores: two slots keep both busy (continuous batching) without starving either; 8192 tokens of context
# per slot holds a two-turn question and two two-turn answers for the judge.
SLOTS = 2
CONTEXT_PER_SLOT = 8192


@dataclass
class _Running:
    server: Any  # xllamacpp.Server; dropping the last reference stops it
    url: str


def start_server(
    gguf: Path, *, slots: int = SLOTS, context_per_slot: int = CONTEXT_PER_SLOT, threads: int | None = None
) -> tuple[Any, str]:
    """Start llama.cpp's HTTP server on 127.0.0.1 (free port), silent; return it and its base URL."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise MissingDependency(
            "the local provider needs the xllamacpp package", hint="pip install xllamacpp"
        ) from exc
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the OS picks a free port
    if threads is None:
        threads = default_threads()
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_parallel = slots
    params.n_ctx = slots * context_per_slot
    params.verbosity = -1  # llama.cpp logs to the terminal otherwise
    params.ui = False
    params.warmup = False
    try:
        server = xllamacpp.Server(params)
    except RuntimeError as exc:
        raise ProviderError(f"llama.cpp could not serve {gguf}: {exc}") from exc
    return server, str(server.listening_address)


def default_threads() -> int:
    """llama.cpp threads: every core on an idle machine, else all but one (JUDGE_LOCAL_THREADS overrides).

    llama.cpp's threads spin-wait at every barrier, so a thread competing with other work for a core stalls
    all of them: on 2 busy cores one thread made prompts 2-4x faster than two, while on 2 idle cores two are
    2x faster than one (benchmarks/local_provider.py). Idle means almost no CPU used over a quarter second.
    """
    override = os.environ.get("JUDGE_LOCAL_THREADS", "").strip()
    if override.isdigit() and int(override) > 0:
        return int(override)
    cores = _usable_cores()
    idle = _idle_cores(cores)
    return cores if idle >= cores - 0.3 else max(1, cores - 1)


def _idle_cores(cores: int, seconds: float = 0.25) -> float:
    """How many cores sat idle over a short sample (Linux /proc/stat); elsewhere from the load average."""
    try:
        first = _cpu_times()
        time.sleep(seconds)
        second = _cpu_times()
    except (OSError, ValueError, IndexError):
        try:
            return max(0.0, cores - os.getloadavg()[0])
        except (OSError, AttributeError):
            return 0.0
    total = sum(second) - sum(first)
    idle = (second[3] + second[4]) - (first[3] + first[4])  # idle + iowait
    return cores * idle / total if total > 0 else 0.0


def _cpu_times() -> list[int]:
    with open("/proc/stat", encoding="ascii") as stat:
        return [int(field) for field in stat.readline().split()[1:]]


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # Linux: the cores this process may run on (cgroups, taskset)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class LocalServers:
    """The running llama.cpp servers of one hub, keyed by GGUF file."""

    def __init__(self, cache_dir: Path | None) -> None:
        self._cache_dir = cache_dir
        self._running: dict[Path, _Running] = {}
        self._locks: dict[Path, asyncio.Lock] = {}

    async def url_for(self, endpoint: Endpoint) -> str:
        """Base URL of the server for this endpoint's model, fetching the model and starting it if needed."""
        gguf = await asyncio.to_thread(resolve_gguf, endpoint.model, endpoint.path, self._cache_dir)
        key = gguf.resolve()
        async with self._locks.setdefault(key, asyncio.Lock()):
            running = self._running.get(key)
            if running is None:
                server, url = await asyncio.to_thread(start_server, key)
                if not self._running:
                    atexit.register(self._stop_servers)
                running = self._running[key] = _Running(server, url)
            return running.url

    def stop_all(self) -> None:
        """Stop every server; dropping the last reference runs its destructor, which ends its loop."""
        atexit.unregister(self._stop_servers)
        self._stop_servers()

    def _stop_servers(self) -> None:
        while self._running:
            _, running = self._running.popitem()
            running.server = None

    async def aclose(self) -> None:
        await asyncio.to_thread(self.stop_all)


class LocalProvider:
    """A local model: starts its server on the first call, then delegates to the openai provider."""

    name = "local"

    def __init__(self, endpoint: Endpoint, servers: LocalServers) -> None:
        self.endpoint = endpoint
        self._servers = servers
        self._inner: openai_provider.OpenAIProvider | None = None
        self._lock = asyncio.Lock()

    async def complete(self, request: Request) -> Completion:
        """Raises ProviderError when the model cannot be had at all; CallFailed for one failed call."""
        return await (await self._started()).complete(request)

    async def stream(self, request: Request) -> AsyncIterator[str]:
        """llama.cpp's own streaming, through its OpenAI-compatible endpoint."""
        async for piece in (await self._started()).stream(request):
            yield piece

    async def _started(self) -> openai_provider.OpenAIProvider:
        if self._inner is None:
            async with self._lock:
                if self._inner is None:
                    url = await self._servers.url_for(self.endpoint)
                    self._inner = openai_provider.create(
                        replace(self.endpoint, provider="openai", base_url=url + "/v1", api_key=None)
                    )
        return self._inner

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()
            self._inner = None
