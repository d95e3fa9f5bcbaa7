"""The hub, and the providers that need no network: replay (recorded MT-Bench answers) and echo (a fake)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from judge.errors import InputError, MissingDependency, ProviderError
from judge.providers import (
    PROVIDER_NAMES,
    CallFailed,
    Completion,
    Endpoint,
    ErrorKind,
    Message,
    ProviderHub,
    Request,
)
from judge.providers.echo import instance_of


def run(endpoint: Endpoint, request: Request, cache_dir: Path | None = None) -> Completion:
    async def go() -> Completion:
        async with ProviderHub(cache_dir) as hub:
            return await hub.get(endpoint).complete(request)

    return asyncio.run(go())


def turn(question_id: str | None, number: int | None = 1) -> Request:
    return Request(model="m", messages=(Message("user", "q"),), question_id=question_id, turn=number)


def write_answers(path: Path, *rows: object) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" if not isinstance(r, str) else r + "\n" for r in rows))
    return path


def test_replay_returns_the_recorded_turns_of_mt_bench(shared_data: Path) -> None:
    answers = shared_data / "mt_bench" / "model_answer" / "gpt-4.jsonl"
    first = json.loads(answers.read_text().splitlines()[0])
    endpoint = Endpoint("replay", model="gpt-4", path=str(answers))
    for number in (1, 2):
        done = run(endpoint, turn(str(first["question_id"]), number))
        assert done.text == first["choices"][0]["turns"][number - 1]
        assert (done.input_tokens, done.output_tokens, done.latency_s) == (0, 0, 0.0)
    # A folder works too: the model names the file.
    folder = Endpoint("replay", model="claude-v1", path=str(answers.parent))
    assert run(folder, turn("81")).text


def test_replay_missing_question_or_turn_is_a_bad_request(tmp_path: Path) -> None:
    path = write_answers(
        tmp_path / "a.jsonl", {"question_id": 81, "choices": [{"index": 0, "turns": ["x", "y"]}]}
    )
    endpoint = Endpoint("replay", path=str(path))
    for request, message in [
        (turn("999"), "no answer to question 999"),
        (turn("81", 3), r"2 turn\(s\) for question 81, not turn 3"),
        (turn(None), "needs the question_id"),
    ]:
        with pytest.raises(CallFailed, match=message) as caught:
            run(endpoint, request)
        assert caught.value.kind is ErrorKind.BAD_REQUEST


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{not json"], ":1: not valid JSON"),
        ([{"question_id": 81, "choices": [{"turns": ["a"]}]}, "[1, 2]"], ":2: expected a JSON object"),
        ([{"choices": [{"turns": ["a"]}]}], ":1: question_id must be"),
        ([{"question_id": 81, "choices": []}], ":1: choices must be a non-empty list"),
        ([{"question_id": 81, "choices": [{"turns": ["a", 5]}]}], ":1: choices\\[0\\].turns must be"),
        (
            [
                {"question_id": 1, "choices": [{"turns": ["a"]}]},
                "",
                {"question_id": 1, "choices": [{"turns": ["b"]}]},
            ],
            ":3: question_id 1 appears twice",
        ),
        ([""], "holds no answers"),
    ],
)
def test_replay_rejects_a_malformed_file_at_load_time(
    tmp_path: Path, lines: list[object], message: str
) -> None:
    path = write_answers(tmp_path / "bad.jsonl", *lines)
    with pytest.raises(InputError, match=message) as caught:
        ProviderHub().get(Endpoint("replay", path=str(path)))
    assert caught.value.path == str(path)


def test_replay_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="answer file not found"):
        ProviderHub().get(Endpoint("replay", path=str(tmp_path / "none.jsonl")))
    with pytest.raises(InputError, match="needs the path"):
        ProviderHub().get(Endpoint("replay"))


def test_echo_is_deterministic_and_answers_schemas() -> None:
    endpoint = Endpoint("echo", model="bot")
    request = Request(model="bot", messages=(Message("user", "hello"),))
    assert run(endpoint, request) == run(endpoint, request)
    assert (
        run(endpoint, request).text
        != run(endpoint, Request(model="bot", messages=(Message("user", "bye"),))).text
    )
    schema = {
        "type": "object",
        "properties": {"winner": {"enum": ["A", "B", "tie"]}, "score": {"type": "integer", "minimum": 1}},
    }
    verdicts = {
        json.loads(
            run(endpoint, Request(model="bot", messages=(Message("user", str(i)),), json_schema=schema)).text
        )["winner"]
        for i in range(12)
    }
    assert verdicts <= {"A", "B", "tie"} and len(verdicts) > 1  # varied, yet always valid
    assert instance_of(schema, 0) == {"score": 1, "winner": "A"}


def test_echo_delay_is_awaited_not_blocking() -> None:
    endpoint = Endpoint("echo", model="slow", delay_s=0.05)
    request = Request(model="slow", messages=(Message("user", "x"),))

    async def go() -> list[Completion]:
        async with ProviderHub() as hub:
            return await asyncio.gather(*(hub.get(endpoint).complete(request) for _ in range(20)))

    assert len({c.text for c in asyncio.run(go())}) == 1


def test_hub_shares_providers_between_equal_endpoints_and_names_unknown_ones() -> None:
    hub = ProviderHub()
    assert hub.get(Endpoint("echo", model="a")) is hub.get(Endpoint("echo", model="a"))
    assert hub.get(Endpoint("echo", model="a")) is not hub.get(Endpoint("echo", model="b"))
    with pytest.raises(
        InputError, match="'opnai' is unknown \\(known: anthropic, echo, local, openai, replay\\)"
    ):
        hub.get(Endpoint("opnai"))
    assert set(PROVIDER_NAMES) == {"anthropic", "echo", "local", "openai", "replay"}


def test_cloud_providers_need_a_key_unless_pointed_elsewhere() -> None:
    hub = ProviderHub()
    for name in ("openai", "anthropic"):
        with pytest.raises(ProviderError, match="needs an API key"):
            hub.get(Endpoint(name, model="m"))
        assert "sk-test" not in repr(Endpoint(name, model="m", api_key="sk-test"))
    asyncio.run(hub.aclose())


def test_local_provider_starts_nothing_until_called(tmp_path: Path) -> None:
    async def go() -> None:
        async with ProviderHub(cache_dir=tmp_path) as hub:
            hub.get(Endpoint("local", model="smollm2-135m"))
        # Nothing was fetched: the cache is still empty.
        assert list(tmp_path.iterdir()) == []

    asyncio.run(go())


def test_local_provider_with_an_unknown_model_fails_on_first_call(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown local model 'giant'"):
        run(Endpoint("local", model="giant"), turn("1"), cache_dir=tmp_path)


@pytest.mark.parametrize(("name", "package"), [("openai", "openai"), ("anthropic", "anthropic")])
def test_a_missing_sdk_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, name: str, package: str
) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # what the import system does for an absent package
    with pytest.raises(MissingDependency) as caught:
        ProviderHub().get(Endpoint(name, model="m", api_key="k"))
    assert caught.value.hint == f"pip install {package}"


def test_a_missing_xllamacpp_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(MissingDependency) as caught:
        run(Endpoint("local", path=str(gguf)), turn("1"))
    assert caught.value.hint == "pip install xllamacpp"


def test_a_file_llama_cpp_cannot_load_is_a_provider_error(tmp_path: Path) -> None:
    gguf = tmp_path / "broken.gguf"
    gguf.write_bytes(b"GGUF but not really")
    with pytest.raises(ProviderError, match="llama.cpp could not serve .*broken.gguf"):
        run(Endpoint("local", path=str(gguf)), turn("1"))


def test_local_threads_follow_the_override_and_the_idle_cores(monkeypatch):
    from judge.providers import local

    monkeypatch.setenv("JUDGE_LOCAL_THREADS", "3")
    assert local.default_threads() == 3
    monkeypatch.delenv("JUDGE_LOCAL_THREADS")
    cores = local._usable_cores()
    assert 0.0 <= local._idle_cores(cores, seconds=0.05) <= cores + 0.01
    monkeypatch.setattr(local, "_idle_cores", lambda cores: float(cores))
    assert local.default_threads() == cores  # an idle machine gets every core
    monkeypatch.setattr(local, "_idle_cores", lambda cores: 0.0)
    assert local.default_threads() == max(1, cores - 1)
