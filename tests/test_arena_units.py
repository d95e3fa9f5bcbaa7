"""The arena's pure parts and its config section: pair sampling, records, language, limits, the board."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from judge import api, load_config
from judge.arena.board import JudgeSide, board, pair_stats
from judge.arena.language import LanguageDetector
from judge.arena.limits import RateLimiter
from judge.arena.record import canonical_winner, categorize, clean_battle, log_battle, question_id
from judge.arena.sampler import PairStats, draw_pair, pair_weights
from judge.battles import Battle, to_frame
from judge.errors import ConfigError
from judge.store import StoredArenaBattle
from tests.test_arena import CONFIG, write_config


def test_active_sampling_prefers_uncertain_and_rarely_seen_pairs() -> None:
    models = ["a", "b", "c"]
    uniform = pair_weights(models, "uniform", {})
    assert all(w == pytest.approx(1 / 3) for w in uniform.values())
    stats = {
        ("a", "b"): PairStats(100, 400.0),  # well measured
        ("a", "c"): PairStats(2, 400.0),  # same variance, few battles
        ("b", "c"): PairStats(2, 3600.0),  # few battles and wide intervals
    }
    weights = pair_weights(models, "active", stats)
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights[("b", "c")] > weights[("a", "c")] > weights[("a", "b")] >= 0.1 / 3
    rng = random.Random(0)
    drawn = Counter(draw_pair(models, "active", stats, rng) for _ in range(3000))
    assert drawn[("b", "c")] > drawn[("a", "c")] > drawn[("a", "b")] > 0


def test_question_ids_cluster_repeated_prompts_and_categories_match_in_order() -> None:
    assert question_id("What is  a Prime?") == question_id("what is a prime?\n")
    assert question_id("What is a prime?") != question_id("What is a primer?")
    import re

    rules = {"coding": re.compile(r"\bpython\b", re.I), "math": re.compile(r"\bprime\b", re.I)}
    assert categorize("Python code for a prime test", rules) == "coding"
    assert categorize("is 7 prime?", rules) == "math" and categorize("hello", rules) == "user"


def test_the_winner_follows_the_position_shown() -> None:
    assert canonical_winner("a", "m1", "m1") == "model_a" and canonical_winner("a", "m2", "m1") == "model_b"
    assert canonical_winner("b", "m2", "m1") == "model_a"
    assert (
        canonical_winner("tie", "m2", "m1") == "tie"
        and canonical_winner("bothbad", "m1", "m1") == "tie (bothbad)"
    )


def test_language_identification() -> None:
    detect = LanguageDetector().detect
    assert detect("How do I reverse a linked list in place?") == "en"
    assert detect("Wie spät ist es in Berlin, und wie wird das Wetter morgen?") == "de"
    assert detect("¿Cuál es la capital de Australia y por qué no es Sídney?") == "es"
    assert detect("2 + 2 = ?") == "und"


def test_rate_limit_is_a_rolling_minute() -> None:
    limiter = RateLimiter(2)
    assert limiter.take("v", 0.0) is None and limiter.take("v", 10.0) is None
    assert limiter.take("v", 20.0) == pytest.approx(40.0)
    assert limiter.take("w", 20.0) is None  # per voter
    assert limiter.take("v", 60.5) is None  # the first prompt left the window
    limiter.prune(1000.0)
    assert limiter.take("v", 1000.0) is None


def stored(**kw: object) -> StoredArenaBattle:
    turns = [{"user": "Hi", "model_a": "# Title\n- one\n- two **bold**", "model_b": "1. x\n```py\n```"}]
    base = dict(
        battle_id="b1",
        voter="anon-1",
        question_id="p1:x",
        model_a="m1",
        model_b="m2",
        shown_a="m2",
        turns=1,
        conversation=json.dumps(turns),
        status="voted",
        choice="a",
        winner="model_b",
        error=None,
        category="user",
        language="en",
        tstamp=1.7e9,
    )
    return StoredArenaBattle(**{**base, **kw})  # type: ignore[arg-type]


def test_clean_battle_shape() -> None:
    record = clean_battle(stored())
    assert record["anony"] is True and record["winner"] == "model_b" and record["judge"] == "human:anon-1"
    meta = record["conv_metadata"]
    assert meta["turns"] == 1 and meta["sum_user_tokens"] == 1
    assert meta["header_count_a"] == {"h1": 1} and meta["list_count_a"] == {"ordered": 0, "unordered": 2}
    assert meta["bold_count_a"]["**"] == 1 and meta["list_count_b"]["ordered"] == 1
    assert record["is_code"] is True and record["dedup_tag"]["sampled"] is True
    with pytest.raises(ValueError):
        log_battle(stored(status="void", choice=None, winner=None, error="x"))


def test_board_with_a_judge_side_beside() -> None:
    rng = random.Random(1)
    strength = {"m1": 0.8, "m2": 0.5, "m3": 0.2}
    battles = []
    for i in range(300):
        a, b = rng.sample(sorted(strength), 2)
        p = 0.5 + strength[a] - strength[b]
        winner = "model_a" if rng.random() < p else "model_b"
        battles.append(
            Battle(
                f"p1:{i % 40}",
                a,
                b,
                winner,
                "human:x",
                "human",
                "user",
                ["en", "fr"][i % 2],
                1,
                1.7e9 + 86400 * (i % 3),
            )
        )
    frame = to_frame(battles)
    judge_board = pd.DataFrame(
        {
            "model": ["m1", "m2", "m3"],
            "rating": [1100.0, 1000.0, 900.0],
            "ci_lower": [1080.0, 980, 880],
            "ci_upper": [1120.0, 1020, 920],
            "rank": [1, 2, 3],
        }
    )
    result = board(frame, bootstrap=30, judge=JudgeSide("runs/j", judge_board))
    assert result["ready"] and result["cluster"] == "question" and result["votes"] == 300
    assert [row["model"] for row in result["bt"]] == ["m1", "m2", "m3"]
    assert result["by_language"] == [{"key": "en", "votes": 150}, {"key": "fr", "votes": 150}]
    assert [d["key"] for d in result["by_day"]] == ["2023-11-14", "2023-11-15", "2023-11-16"]
    assert result["battles"]["values"][0][0] == 0 and result["predicted"]["values"][0][1] > 0.5
    agreement = result["judge"]["agreement"]
    assert agreement["models"] == 3 and agreement["spearman"] == pytest.approx(1.0)
    assert agreement["brier_votes"] == 300
    stats = pair_stats(result)
    assert set(stats) == {("m1", "m2"), ("m1", "m3"), ("m2", "m3")}
    assert all(s.variance and s.variance > 0 for s in stats.values())
    json.dumps(result)  # JSON-ready
    assert board(to_frame([]), bootstrap=10) == {
        "votes": 0,
        "ready": False,
        "by_language": [],
        "by_day": [],
        "message": "no votes yet",
    }


def test_config_section_errors_are_located(tmp_path: Path) -> None:
    def load(extra: str) -> ConfigError:
        with pytest.raises(ConfigError) as caught:
            load_config(write_config(tmp_path, extra), {})
        return caught.value

    assert "arena.sampler" in str(load("  sampler: clever\n"))
    assert "unknown key 'max_turn'" in str(load("  max_turn: 3\n"))
    assert "regular expression" in str(load("  categories: {code: '('}\n"))
    assert "exactly one of" in str(load("  moderation: {}\n"))
    assert "OPENAI_KEY is not set" in str(
        load("  moderation: {url: 'http://x/v1', api_key_env: OPENAI_KEY}\n")
    )
    (tmp_path / "v.txt").write_text("ada:short\n")
    error = load("  voters: v.txt\n")
    assert error.line == 1 and "shorter than" in str(error)
    (tmp_path / "v.txt").write_text("ada:0123456789abc\nada:abcdef0123456\n")
    assert "twice" in str(load("  voters: v.txt\n"))
    config = load_config(write_config(tmp_path), {})
    assert config.arena.max_turns == 3 and config.arena.voters is None
    assert load_config(write_config(tmp_path, config=CONFIG.split("arena:")[0]), {}).arena.max_turns == 6


def test_judge_run_beside_the_arena(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, config=CONFIG + "judge: {provider: echo, model: j, answer_format: json}\n"
    )
    run = api.run(config, out=tmp_path / "judged", bootstrap=10)
    server = api.arena_server(config, out=tmp_path / "arena", port=0, judge_run=run.out_dir)
    with server:
        server.start()
        from tests.arena_client import Client

        client = Client(server.url)
        client.page()
        battle = client.turn("hello").event("battle")["battle_id"]
        client.vote(battle, "a")
        battle = client.turn("hello again").event("battle")["battle_id"]
        client.vote(battle, "b")
        snapshot = server.keeper.wait_for(2)
    assert snapshot["judge"]["run_dir"] == str(run.out_dir)
    assert {r["model"] for r in snapshot["judge"]["board"]} == {"model-kilo", "model-lima", "model-mike"}
