"""Answer collection end to end: real providers from ProviderHub, real SQLite files under tmp_path.

The echo provider stands in where the words do not matter; tests/fault_server.py is a real HTTP server that
misbehaves on purpose (429 with Retry-After, 500, hangs, dropped connections, malformed JSON).
"""

from __future__ import annotations

import asyncio
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from judge import api, load_config
from judge.answers import answer_key, build_request, collect_answers
from judge.cli import cli
from judge.errors import ConfigError
from judge.providers import ProviderHub
from judge.questions import load_questions, select_questions
from judge.store import Store
from tests.fault_server import FaultServer, Step

ECHO = """\
name: echo-demo
questions: demo
contestants:
  - {name: echo-a, provider: echo}
  - {name: echo-b, provider: echo, temperature: 0.5, prices: {input: 2, output: 4}}
retries: {attempts: 2, initial_wait: 0, max_wait: 0, jitter: 0}
"""


def write_config(tmp_path: Path, text: str = ECHO) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent(text))
    return path


class Counting:
    """Wraps the hub's providers to count the calls that reach them."""

    def __init__(self, hub: ProviderHub) -> None:
        self.hub = hub
        self.calls = 0

    def __call__(self, endpoint):
        provider = self.hub.get(endpoint)
        outer = self

        class Counted:
            name = provider.name

            async def complete(self, request):
                outer.calls += 1
                return await provider.complete(request)

            async def aclose(self):
                await provider.aclose()

        return Counted()


def collect(config_path: Path, db: Path, env: dict[str, str] | None = None):
    config = load_config(config_path, env or {})
    questions = select_questions(load_questions(config.questions.path), config.questions, config.seed)

    async def main():
        async with ProviderHub(cache_dir=None) as hub:
            counting = Counting(hub)
            with Store.open(db) as store:
                result = await collect_answers(config, questions, store, counting)
                return result, counting.calls, store.answers(), store.calls(result.run_id)

    return asyncio.run(main())


def test_every_turn_is_answered_and_stored(tmp_path):
    result, calls, stored, call_rows = collect(write_config(tmp_path), tmp_path / "r" / "judge.sqlite")
    p = result.progress
    assert (p.total, p.done, p.asked, p.reused, p.failed, p.skipped) == (14, 14, 14, 0, 0, 0)
    assert calls == 14 and len(call_rows) == 14 and all(c.ok for c in call_rows)
    assert sorted((a.key, a.text) for a in result.answers) == sorted((s.key, s.text) for s in stored)
    assert len({a.key for a in stored}) == 14
    assert {a.contestant for a in stored} == {"echo-a", "echo-b"}


def test_a_second_run_makes_no_model_calls(tmp_path):
    config, db = write_config(tmp_path), tmp_path / "judge.sqlite"
    first, _, stored_first, _ = collect(config, db)
    second, calls, stored_second, call_rows = collect(config, db)
    assert calls == 0 and call_rows == []
    assert (second.progress.asked, second.progress.reused) == (0, 14)
    assert stored_second == stored_first
    assert [(a.key, a.text) for a in second.answers] == [(a.key, a.text) for a in first.answers]


def test_a_changed_generation_setting_asks_that_contestant_again(tmp_path):
    db = tmp_path / "judge.sqlite"
    collect(write_config(tmp_path), db)
    changed = write_config(tmp_path, ECHO.replace("temperature: 0.5", "temperature: 0.7"))
    result, calls, stored, _ = collect(changed, db)
    assert (result.progress.asked, result.progress.reused, calls) == (7, 7, 7)
    assert len(stored) == 21  # the old answers stay; the new settings have their own keys


def test_turn_two_is_asked_with_turn_ones_stored_answer(tmp_path):
    config_path = write_config(tmp_path)
    result, _, stored, _ = collect(config_path, tmp_path / "judge.sqlite")
    config = load_config(config_path, {})
    question = next(q for q in load_questions(config.questions.path) if len(q.turns) == 2)
    for contestant in config.contestants:
        first = next(
            a
            for a in stored
            if (a.contestant, a.question_id, a.turn) == (contestant.name, question.question_id, 1)
        )
        request = build_request(contestant, question, 2, [first.text])
        assert [m.role for m in request.messages] == ["user", "assistant", "user"]
        assert request.messages[1].content == first.text
        second = next(
            a
            for a in stored
            if (a.contestant, a.question_id, a.turn) == (contestant.name, question.question_id, 2)
        )
        assert second.key == answer_key(contestant, request)


def test_cost_comes_from_prices(tmp_path):
    result, _, _, call_rows = collect(write_config(tmp_path), tmp_path / "judge.sqlite")
    priced = [c for c in call_rows if c.cost_usd is not None]
    assert len(priced) == 7  # echo-b only
    expected = sum(((c.input_tokens or 0) * 2 + (c.output_tokens or 0) * 4) / 1e6 for c in priced)
    assert result.cost_usd == pytest.approx(expected)


def test_cli_answers_summary_and_rerun(tmp_path):
    config = write_config(tmp_path)
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(cli, ["answers", str(config), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "asked 14, reused 0, failed 0, skipped 0 (of 14)" in first.stdout
    assert (out / "judge.sqlite").is_file()
    second = runner.invoke(cli, ["answers", str(config), "--out", str(out)])
    assert "asked 0, reused 14, failed 0, skipped 0 (of 14)" in second.stdout and "calls 0," in second.stdout


def test_cli_default_results_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_RESULTS_DIR", str(tmp_path / "elsewhere"))
    result = CliRunner().invoke(cli, ["answers", str(write_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "elsewhere" / "echo-demo" / "judge.sqlite").is_file()


def test_a_bad_config_writes_nothing_and_exits_2(tmp_path):
    config = write_config(tmp_path, ECHO.replace("provider: echo}", "provider: ecko}", 1))
    result = CliRunner().invoke(cli, ["answers", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "contestants[0].provider: 'ecko' is unknown" in result.stderr and "t.yaml:4:" in result.stderr
    assert not (tmp_path / "out").exists()


def test_api_answers_checks_keys_before_writing(tmp_path):
    text = ECHO.replace("retries:", "  - {name: gpt, provider: openai, model: gpt-4o-mini}\nretries:")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        api.answers(write_config(tmp_path, text), env={"JUDGE_RESULTS_DIR": str(tmp_path / "r")})
    assert not (tmp_path / "r").exists()


# Against tests/fault_server.py: a real HTTP server, reached through the real openai SDK provider.

FAULTY = """\
name: faulty
questions: {{path: demo{ids}}}
contestants:
  - {{name: flaky, provider: openai, model: m, base_url: "{url}", concurrency: 1, timeout: 0.5}}
  - {{name: steady, provider: echo}}
retries: {{attempts: {attempts}, initial_wait: 0, max_wait: 0, jitter: 0}}
"""


def faulty_config(tmp_path: Path, server: FaultServer, attempts: int, ids: str = "") -> Path:
    text = FAULTY.format(url=server.openai_url, attempts=attempts, ids=ids)
    return write_config(tmp_path, text)


def test_every_kind_of_fault_is_retried_and_the_run_completes(tmp_path):
    with FaultServer() as server:
        server.script(
            Step.rate_limited(retry_after=1), Step.server_error(), Step.hang(5), Step.drop(), Step.malformed()
        )
        config, db = faulty_config(tmp_path, server, attempts=6), tmp_path / "judge.sqlite"
        result, _, stored, call_rows = collect(config, db)
        assert (result.progress.asked, result.progress.failed, result.progress.skipped) == (14, 0, 0)
        assert server.count == 7 + 5
        failed = [c for c in call_rows if not c.ok]
        assert Counter(c.error_kind for c in failed) == {"rate_limited": 1, "transient": 3, "timeout": 1}
        for key in {c.key for c in failed}:  # each retried slot: attempts 1..n, the last one answered
            attempts = [(c.attempt, c.ok) for c in call_rows if c.key == key]
            assert attempts == [(n, n == len(attempts)) for n in range(1, len(attempts) + 1)]
        assert len(stored) == 14 and len({a.key for a in stored}) == 14
        assert {a.text for a in stored if a.contestant == "flaky"} == {"ok"}
        again, calls, stored_again, _ = collect(config, db)
        assert server.count == 12 and calls == 0 and stored_again == stored  # nothing asked twice


def test_failures_after_the_last_try_are_errors_and_a_rerun_fills_them(tmp_path):
    with FaultServer() as server:
        server.script(*[Step.server_error() for _ in range(3)])
        config = faulty_config(tmp_path, server, attempts=3, ids=", ids: [demo-1]")
        db = tmp_path / "judge.sqlite"
        result, _, stored, call_rows = collect(config, db)
        assert (result.progress.asked, result.progress.failed) == (1, 1) and server.count == 3
        (failure,) = result.failures
        assert (failure.subject, failure.kind, failure.attempts) == ("flaky", "transient", 3)
        assert "500" in failure.message and [c.ok for c in call_rows if c.key == failure.key] == [False] * 3
        assert failure.key not in {a.key for a in stored}  # an error is never an answer
        rerun, calls, stored_again, _ = collect(config, db)
        assert (rerun.progress.asked, rerun.progress.reused, calls, server.count) == (1, 1, 1, 4)
        assert len(stored_again) == 2 and len({a.key for a in stored_again}) == 2


def test_a_failed_first_turn_skips_the_second(tmp_path):
    with FaultServer() as server:
        server.script(Step.error(401, "bad key"))
        config = faulty_config(tmp_path, server, attempts=3, ids=", ids: [demo-2]")
        result, _, stored, _ = collect(config, tmp_path / "judge.sqlite")
        assert server.count == 1  # auth is never retried, and turn 2 was never sent
        p = result.progress
        assert (p.total, p.asked, p.failed, p.skipped) == (4, 2, 1, 1)
        auth, skipped = result.failures
        assert (auth.turn, auth.kind, auth.attempts) == (1, "auth", 1)
        assert (skipped.turn, skipped.kind, skipped.attempts, skipped.key) == (2, "skipped", 0, None)
        assert {a.contestant for a in stored} == {"steady"}


def test_replay_answers_come_from_the_recorded_file_and_a_missing_one_is_an_error(tmp_path):
    answers = Path(__file__).parent / "data" / "configs" / "answers" / "gpt-4.jsonl"
    text = f"""\
    name: replayed
    questions: {{path: mt_bench, ids: [111, 121, 101]}}
    contestants:
      - {{name: gpt-4, provider: replay, path: "{answers}"}}
      - {{name: steady, provider: echo}}
    """
    result, calls, stored, _ = collect(write_config(tmp_path, text), tmp_path / "judge.sqlite")
    replayed = {(a.question_id, a.turn): a.text for a in stored if a.contestant == "gpt-4"}
    assert replayed == {
        ("111", 1): "The area is 3.",
        ("111", 2): "The circle's area is 5 pi.",
        ("121", 1): "def f(): pass",
        ("121", 2): "def g(): pass",
    }
    missing, skipped = result.failures
    assert (missing.subject, missing.question_id, missing.turn, missing.kind) == (
        "gpt-4",
        "101",
        1,
        "bad_request",
    )
    assert "no answer to question 101" in missing.message and (skipped.turn, skipped.kind) == (2, "skipped")


@pytest.mark.llama
def test_a_local_model_answers_in_words_with_token_counts(tmp_path, llama_gguf):
    text = f"""\
    name: local
    questions: {{path: demo, ids: [demo-1, demo-3]}}
    contestants:
      - {{name: smol, provider: local, path: "{llama_gguf}", temperature: 0, max_tokens: 16,
         prices: {{input: 1, output: 1}}}}
      - {{name: steady, provider: echo}}
    """
    result, _, stored, call_rows = collect(write_config(tmp_path, text), tmp_path / "judge.sqlite")
    assert result.progress.failed == 0
    smol = [a for a in stored if a.contestant == "smol"]
    assert len(smol) == 2 and all(a.text.strip() for a in smol)
    priced = [c for c in call_rows if c.cost_usd is not None]
    assert len(priced) == 2 and all((c.input_tokens or 0) > 0 and (c.output_tokens or 0) > 0 for c in priced)
    assert result.input_tokens > 0 and result.cost_usd == pytest.approx(
        (result.input_tokens + result.output_tokens) / 1e6
    )


def test_results_sit_beside_the_config_so_another_folder_resumes(tmp_path, monkeypatch):
    monkeypatch.delenv("JUDGE_RESULTS_DIR")
    config = write_config(tmp_path)
    first = CliRunner().invoke(cli, ["answers", str(config)])
    assert first.exit_code == 0, first.output
    assert (tmp_path / "results" / "echo-demo" / "judge.sqlite").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    second = CliRunner().invoke(cli, ["answers", str(config)])
    assert "asked 0, reused 14" in second.stdout  # the same store: nothing is paid again
    assert not (elsewhere / "results").exists()
