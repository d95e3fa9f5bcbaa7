"""Session fixtures for a real llama.cpp server (xllamacpp) serving SmolLM2-135M on loopback.

The GGUF is fetched into the model cache as the product does (JUDGE_CACHE_DIR or ~/.cache/judge/models), so
the first run downloads it once and later runs, and parallel xdist workers, reuse it. Each xdist worker starts
its own server; tests are skipped only when the model cannot be obtained.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from judge.errors import ProviderError
from judge.providers.gguf import BUILTIN_MODELS, default_cache_dir, fetch_builtin
from judge.providers.local import start_server

LLAMA_MODEL = "smollm2-135m"


@pytest.fixture(scope="session")
def llama_gguf() -> Path:
    """The SmolLM2 GGUF in the model cache (read before the per-test env scrub, as the CLI would)."""
    cache = os.environ.get("JUDGE_CACHE_DIR")
    try:
        return fetch_builtin(BUILTIN_MODELS[LLAMA_MODEL], Path(cache) if cache else default_cache_dir())
    except ProviderError as exc:
        pytest.skip(f"the {LLAMA_MODEL} model cannot be obtained: {exc.message}")


@pytest.fixture(scope="session")
def llama_url(llama_gguf: Path) -> Iterator[str]:
    """Root URL (http://127.0.0.1:PORT) of one llama.cpp server shared by this worker's tests."""
    server, url = start_server(llama_gguf)
    try:
        yield url
    finally:
        del server  # the last reference: its destructor stops the server
