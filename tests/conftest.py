"""Shared fixtures. Every test runs with API keys and JUDGE_* variables removed and a private data dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Session fixtures for the real llama.cpp server (llama_gguf, llama_url).
pytest_plugins = ["tests.llama"]

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name.startswith("JUDGE_"):
            monkeypatch.delenv(name, raising=False)
    # The model cache is shared across tests (it is slow to fill), everything else is per test.
    monkeypatch.setenv("JUDGE_RESULTS_DIR", str(tmp_path / "results"))


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip cleanly when this checkout has no copy of it."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
