"""Every tournament config shipped in examples/ (and the demo's) loads cleanly: examples must not rot."""

from __future__ import annotations

from pathlib import Path

import pytest

from judge import load_config
from judge.api import demo_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONFIGS = sorted(p for p in EXAMPLES.rglob("*.yaml") if "contestants:" in p.read_text(encoding="utf-8"))
FAKE_KEYS = {name: "test-key" for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "CANDIDATE_API_KEY")}


@pytest.mark.parametrize("path", [*CONFIGS, demo_config()], ids=lambda p: p.parent.name + "/" + p.name)
def test_shipped_config_loads(path: Path) -> None:
    config = load_config(path, FAKE_KEYS)
    assert config.contestants and config.judge.model
    for contestant in config.contestants:
        if contestant.provider == "replay":
            assert contestant.path is not None and contestant.path.is_file()


def test_the_examples_are_found() -> None:
    assert {p.parent.name for p in CONFIGS} >= {"nightly", "mt_bench_judge"}
