"""Shared fixtures. Every test runs with API keys and JUDGE_* variables removed and a private data dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Session fixtures for the real llama.cpp server (llama_gguf, llama_url).
pytest_plugins = ["tests.llama"]

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
# Paid-API tests read their keys from here: the environment as the session found it, before isolation.
_SESSION_KEYS = {name: value for name, value in os.environ.items() if name.endswith("_API_KEY")}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runapi", action="store_true", help="also run tests that call paid APIs (needs keys)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runapi"):
        return
    skip = pytest.mark.skip(reason="calls a paid API: run with --runapi and the API key set")
    for item in items:
        if "api" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def api_key() -> object:
    """The real key for a paid-API test (by variable name), or skip when it is not set."""

    def get(variable: str) -> str:
        key = _SESSION_KEYS.get(variable)
        if not key:
            pytest.skip(f"{variable} is not set")
        return key

    return get


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name.startswith("JUDGE_"):
            monkeypatch.delenv(name, raising=False)
    # Results go to a per-test directory; the model cache (slow to fill) stays shared across tests.
    monkeypatch.setenv("JUDGE_RESULTS_DIR", str(tmp_path / "results"))


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip cleanly when this checkout has no copy of it."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
