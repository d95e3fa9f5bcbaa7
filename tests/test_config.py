"""Tournament config: the README example loads as written; each kind of mistake is located and explained."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from judge import load_config
from judge.cli import cli
from judge.config import (
    ANSWER_FORMATS,
    COMBINE_RULES,
    JUDGE_MAX_TOKENS,
    SCALES,
    TEMPLATES,
    ContestantConfig,
)
from judge.errors import ConfigError, InputError

CONFIGS = Path(__file__).parent / "data" / "configs"
ENV = {"VLLM_KEY": "vllm-secret", "ANTHROPIC_API_KEY": "sk-ant-secret"}

# A valid base that each mistake test changes in one place; the line numbers below refer to it.
BASE = """\
name: t
questions: {path: q.jsonl}
contestants:
  - {name: a, provider: echo}
  - name: b
    provider: openai
    model: gpt-4o-mini
"""


def write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    (tmp_path / "q.jsonl").write_text('{"question_id": 1, "category": "math", "turns": ["1+1?"]}\n')
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {"OPENAI_API_KEY": "sk-test"} if env is None else env)
    assert caught.value.exit_code == 2
    assert str(path) in caught.value.message
    return caught.value


def test_readme_example_loads_as_written():
    config = load_config(CONFIGS / "nightly.yaml", ENV)
    assert config.name == "nightly"
    assert [c.name for c in config.contestants] == ["gpt-4", "smol", "my-vllm", "claude"]
    replay, smol, vllm, claude = config.contestants
    assert replay.path == (CONFIGS / "answers" / "gpt-4.jsonl").resolve()  # relative to the config file
    assert config.questions.path == (CONFIGS / "../../../question_sets/mt_bench.jsonl").resolve()
    assert config.questions.categories == ("math", "coding") and config.questions.limit == 10
    assert smol.model == "smollm2-135m" and smol.temperature == 0.0 and smol.api_key is None
    assert vllm.api_key == "vllm-secret" and vllm.max_tokens == 1024 and vllm.concurrency == 8
    assert claude.api_key == "sk-ant-secret" and claude.prices is not None and claude.prices.output == 15
    assert config.judge.provider == "local" and config.judge.temperature == 0.0
    assert config.schedule.kind == "round-robin"
    assert vllm.endpoint().base_url == "http://127.0.0.1:8000/v1"


def test_api_key_never_in_repr_or_identity():
    config = load_config(CONFIGS / "nightly.yaml", ENV)
    assert "secret" not in repr(config)
    assert all("secret" not in repr(c.identity()) for c in config.contestants)
    assert "secret" not in repr(config.contestant("claude").endpoint())


def test_builtin_question_set_by_name_and_defaults():
    config = load_config(CONFIGS / "echo.yaml", {})
    assert config.questions.path.name == "demo.yaml" and config.questions.path.is_file()
    assert config.concurrency == 4 and config.timeout == 120.0 and config.seed == 0
    assert config.retries.attempts == 2 and config.retries.max_wait == 0
    assert isinstance(config.contestants[0], ContestantConfig)


def test_loopback_openai_needs_no_key(tmp_path):
    path = write(tmp_path, BASE + '    base_url: "http://localhost:8080/v1"\n')
    config = load_config(path, {})
    assert config.contestants[1].api_key is None


def test_per_contestant_overrides(tmp_path):
    text = BASE.replace("{name: a, provider: echo}", "{name: a, provider: echo, concurrency: 2, rpm: 30}")
    config = load_config(write(tmp_path, text + "concurrency: 5\ntimeout: 9\n"), {"OPENAI_API_KEY": "k"})
    a, b = config.contestants
    assert (a.concurrency, a.rpm, a.timeout) == (2, 30.0, 9.0)
    assert (b.concurrency, b.rpm, b.timeout) == (5, None, 9.0)
    assert b.endpoint().timeout_s == 9.0


def test_unknown_key(tmp_path):
    exc = error(tmp_path, BASE + "    temprature: 0\n")
    assert exc.line == 8 and exc.field == "contestants[1].temprature"
    assert "unknown key 'temprature'" in exc.message and exc.hint == "did you mean 'temperature'?"


def test_unknown_top_level_key(tmp_path):
    exc = error(tmp_path, BASE + "concurrancy: 3\n")
    assert exc.line == 8 and exc.field == "concurrancy" and "concurrency" in (exc.hint or "")


def test_missing_question_file(tmp_path):
    exc = error(tmp_path, BASE.replace("q.jsonl", "nope.jsonl"))
    assert exc.line == 2 and exc.field == "questions.path" and "does not exist" in exc.message
    assert "relative to the config file" in (exc.hint or "")


def test_missing_replay_file(tmp_path):
    exc = error(
        tmp_path, BASE.replace("{name: a, provider: echo}", "{name: a, provider: replay, path: x.jsonl}")
    )
    assert exc.line == 4 and exc.field == "contestants[0].path" and "'x.jsonl' does not exist" in exc.message


def test_bad_value(tmp_path):
    exc = error(tmp_path, BASE + "    temperature: 7\n")
    assert exc.line == 8 and exc.field == "contestants[1].temperature" and "between 0 and 2" in exc.message


def test_bad_type(tmp_path):
    exc = error(tmp_path, BASE + "concurrency: many\n")
    assert exc.line == 8 and exc.field == "concurrency" and "must be an integer" in exc.message


def test_boolean_is_not_a_number(tmp_path):
    exc = error(tmp_path, BASE + "    max_tokens: true\n")
    assert exc.field == "contestants[1].max_tokens" and "integer" in exc.message


def test_duplicate_contestant_name(tmp_path):
    exc = error(tmp_path, BASE + "  - {name: a, provider: echo, temperature: 1}\n")
    assert exc.line == 8 and exc.field == "contestants[2].name"
    assert "already used by contestants[0]" in exc.message


def test_same_model_and_settings_twice(tmp_path):
    exc = error(tmp_path, BASE + "  - {name: c, provider: openai, model: gpt-4o-mini}\n")
    assert exc.field == "contestants[2]" and "same answers" in exc.message


def test_unset_api_key_variable(tmp_path):
    exc = error(tmp_path, BASE, env={})
    assert exc.line == 6 and exc.field == "contestants[1].provider"
    assert "OPENAI_API_KEY is not set" in exc.message and "export OPENAI_API_KEY" in (exc.hint or "")


def test_unset_named_api_key_variable(tmp_path):
    exc = error(tmp_path, BASE + "    api_key_env: MY_KEY\n")
    assert exc.line == 8 and exc.field == "contestants[1].api_key_env" and "MY_KEY is not set" in exc.message


def test_unknown_provider(tmp_path):
    exc = error(tmp_path, BASE.replace("provider: openai", "provider: opnai"))
    assert exc.line == 6 and exc.field == "contestants[1].provider"
    assert "'opnai' is unknown (known: anthropic, echo, local, openai, replay)" in exc.message
    assert exc.hint == "did you mean 'openai'?"


def test_missing_required_key(tmp_path):
    exc = error(tmp_path, BASE.replace("    model: gpt-4o-mini\n", ""))
    assert exc.line == 5 and exc.field == "contestants[1].model" and "required" in exc.message


def test_too_few_contestants(tmp_path):
    exc = error(tmp_path, BASE.split("  - name: b")[0])
    assert exc.field == "contestants" and "at least two" in exc.message


def test_bad_name_for_a_directory(tmp_path):
    exc = error(tmp_path, BASE.replace("name: t", "name: ../t"))
    assert exc.line == 1 and exc.field == "name"


def test_schedule_baseline_must_be_a_contestant(tmp_path):
    exc = error(tmp_path, BASE + "schedule: {kind: baseline, baseline: zed}\n")
    assert exc.line == 8 and exc.field == "schedule.baseline" and "not a contestant" in exc.message


def test_schedule_options_are_checked_by_the_schedule(tmp_path):
    exc = error(tmp_path, BASE + "schedule: {kind: round-robin, rounds: 3}\n")
    assert exc.line == 8 and exc.field == "schedule" and "rounds" in exc.message
    exc = error(tmp_path, BASE + "schedule: {kind: round-robbin}\n")
    assert exc.field == "schedule.kind" and exc.hint == "did you mean 'round-robin'?"
    config = load_config(
        write(tmp_path, BASE + "schedule: {kind: baseline, baseline: a}\n"), {"OPENAI_API_KEY": "k"}
    )
    assert config.schedule.kind == "baseline" and config.schedule.baseline == "a"


def test_bad_judge_option(tmp_path):
    exc = error(tmp_path, BASE + "judge: {provider: echo, combine: majority}\n")
    assert exc.field == "judge.combine" and "conservative" in exc.message


def test_bad_base_url(tmp_path):
    exc = error(tmp_path, BASE + "    base_url: localhost:8000\n")
    assert exc.field == "contestants[1].base_url" and "not an http(s) URL" in exc.message


def test_yaml_syntax_error_is_located(tmp_path):
    path = write(tmp_path, BASE + "  - {name: c, provider: echo\n")
    with pytest.raises(InputError) as caught:
        load_config(path, {"OPENAI_API_KEY": "k"})
    assert (
        caught.value.line is not None and caught.value.line >= 8 and "not valid YAML" in caught.value.message
    )


def test_duplicate_yaml_key(tmp_path):
    path = write(tmp_path, BASE + "name: again\n")
    with pytest.raises(InputError) as caught:
        load_config(path, {"OPENAI_API_KEY": "k"})
    assert caught.value.line == 8 and "appears twice" in caught.value.message


def test_missing_config_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_config(tmp_path / "absent.yaml", {})


def test_names_match_the_judging_stage():
    """config.py copies the judging stage's option names rather than importing it (keeps pandas out)."""
    from judge import prompts, verdicts

    assert COMBINE_RULES == verdicts.COMBINE_RULES
    assert TEMPLATES == prompts.BUILTIN_TEMPLATES and SCALES == prompts.SCALES
    assert ANSWER_FORMATS == prompts.ANSWER_FORMATS


def test_readme_config_section_loads(tmp_path):
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The tournament config", 1)[1]
    text = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "gpt-4.jsonl").write_text("")
    (tmp_path / "nightly.yaml").write_text(text)
    config = load_config(tmp_path / "nightly.yaml", ENV)
    assert config.questions.path.name == "mt_bench.jsonl" and len(config.contestants) == 4
    assert config.retries.attempts == 5 and config.judge.combine == "conservative"


def test_delay_is_for_echo_only(tmp_path):
    exc = error(tmp_path, BASE + "    delay: 1\n")
    assert exc.field == "contestants[1].delay" and "not used by provider openai" in exc.message
    text = BASE.replace("{name: a, provider: echo}", "{name: a, provider: echo, delay: 0.25}")
    config = load_config(write(tmp_path, text), {"OPENAI_API_KEY": "k"})
    assert config.contestants[0].endpoint().delay_s == 0.25


PAIR = "contestants: [{name: a, provider: echo}, {name: b, provider: echo}]\n"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            "questions: {path: q.jsonl}\n" + PAIR,
            "name",
        ),
        ("name: t\nquestions: {path: q.jsonl}\n", "contestants"),
        ("name: t\n" + PAIR, "questions"),
        (
            "name: t\nquestions: {path: q.jsonl}\n" + PAIR + "judge: {model: m}\n",
            "judge.provider",
        ),
        ("", None),
    ],
)
def test_missing_top_level_key_is_reported_at_once(tmp_path, text, field):
    # The locator looped forever shortening a key with no dot in it: an alarm turns a hang into a failure.
    def hung(*_):
        raise TimeoutError("load_config hung")

    signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        with pytest.raises(ConfigError) as info:
            load_config(write(tmp_path, text), ENV)
    finally:
        signal.alarm(0)
    assert "required" in str(info.value) or "empty" in str(info.value) or "mapping" in str(info.value)
    if field:
        assert f"{field}: is required" in str(info.value)


def test_every_problem_is_reported_in_one_pass(tmp_path):
    path = write(
        tmp_path,
        "name: t\nquestions: {path: mt_bench}\ncontestants:\n"
        "  - {name: a, provider: opnai, model: m}\n"
        "  - {name: b, provider: echo, temperature: 7}\n"
        "judge: {provider: echo, scale: 4, colour: red}\n"
        "concurrency: 0\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    found = [(p.line, p.field) for p in info.value.problems]
    assert found == [
        (4, "contestants[0].provider"),
        (5, "contestants[1].temperature"),
        (6, "judge.colour"),
        (6, "judge.scale"),
        (7, "concurrency"),
    ]
    assert "5 problems" in info.value.message and "did you mean 'openai'?" in info.value.problems[0].hint


def test_config_problems_are_printed_one_per_line(tmp_path):
    path = write(tmp_path, "name: t\nquestions: {path: mt_bench}\ncontestants: []\njudge: {provider: x}\n")
    result = CliRunner().invoke(cli, ["run", str(path)])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("judge: error:")]
    assert len(errors) == 2 and "contestants" in errors[0] and "judge.provider" in errors[1]
    assert "2 problems" in result.output


def test_a_local_judge_named_by_provider_and_model_gets_a_format_it_can_produce(tmp_path):
    path = write(
        tmp_path,
        "name: t\nquestions: {path: mt_bench}\n"
        "contestants: [{name: a, provider: echo}, {name: b, provider: echo}]\n"
        "judge: {provider: local, model: smollm2-135m}\n",
    )
    judge = load_config(path, {}).judge
    assert (judge.answer_format, judge.combine) == ("token", "logprob")
    assert judge.notes and "answer_format: token" in judge.notes[0]
    hosted = load_config(
        write(
            tmp_path,
            "name: t\nquestions: {path: mt_bench}\ncontestants: [{name: a, provider: echo}, "
            "{name: b, provider: echo}]\njudge: {provider: openai, model: gpt-4o}\n",
        ),
        {"OPENAI_API_KEY": "k"},
    ).judge
    assert (hosted.answer_format, hosted.combine, hosted.notes) == ("marker", "conservative", ())
    assert hosted.max_tokens == JUDGE_MAX_TOKENS


def test_the_embedded_model_gets_a_longer_default_timeout(tmp_path):
    from judge.config import LOCAL_TIMEOUT

    text = (
        "name: t\nquestions: {path: mt_bench}\n"
        "contestants: [{name: a, provider: local}, {name: b, provider: echo}]\njudge: {provider: local}\n"
    )
    config = load_config(write(tmp_path, text), {})
    assert config.contestants[0].timeout == LOCAL_TIMEOUT and config.judge.timeout == LOCAL_TIMEOUT
    assert config.contestants[1].timeout == 120.0
    given = load_config(write(tmp_path, text + "timeout: 30\n"), {})
    assert given.contestants[0].timeout == 30.0 and given.judge.timeout == 30.0
