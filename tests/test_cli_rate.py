"""`judge rate` through click's CliRunner: output shapes, exit codes and one-line messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from judge import api
from judge.cli import cli

DATA = Path(__file__).parent / "data"
MODEL_KEYS = [
    "model",
    "rating",
    "ci_lower",
    "ci_upper",
    "rank",
    "battles",
    "wins",
    "losses",
    "ties",
    "separated",
]


def run(*args: str | Path):
    return CliRunner().invoke(cli, ["rate", *map(str, args)])


def test_json_shape_is_exact_and_sorted() -> None:
    result = run(DATA / "arena_battles.json", DATA / "battles_generic.jsonl", "--bootstrap", "20", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert list(out) == ["method", "n_battles", "bootstrap", "cluster", "models", "excluded"]
    assert (out["method"], out["n_battles"], out["bootstrap"]) == ("bt", 6, 20)
    assert out["cluster"] in ("battle", "question")
    assert all(list(m) == MODEL_KEYS for m in out["models"])
    ratings = [m["rating"] for m in out["models"]]
    assert ratings == sorted(ratings, reverse=True)
    assert sum(m["battles"] for m in out["models"]) == 2 * 6
    assert out["excluded"]["files"][0] == {
        "path": str(DATA / "arena_battles.json"),
        "format": "arena",
        "rows_read": 6,
        "left_out": {"non-anonymous": 2},
    }
    assert "arena_battles.json: 6 rows read as arena, 2 left out (non-anonymous: 2)" in result.stderr


def test_table_output_lists_every_model() -> None:
    result = run(DATA / "mtbench_human_sample.csv", "--ci", "none")
    assert result.exit_code == 0, result.stderr
    for header in ("rank", "model", "rating", "95% CI", "battles", "W/L/T"):
        assert header in result.stdout
    for model in ("gpt-4", "claude-v1", "llama-13b", "alpaca-13b", "gpt-3.5-turbo", "vicuna-13b-v1.2"):
        assert model in result.stdout
    assert "mtbench_human_sample.csv: 6 rows read as mtbench" in result.stderr


def test_by_gives_one_object_per_group() -> None:
    result = run(DATA / "mtbench_human_sample.csv", "--by", "turn", "--ci", "none", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["by"] == "turn"
    assert sorted(out["groups"]) == ["1", "2"]
    assert [out["groups"][g]["n_battles"] for g in ("1", "2")] == [4, 2]
    keys = ["method", "n_battles", "bootstrap", "cluster", "models", "too_small_to_read", "missing_models"]
    assert list(out["groups"]["1"]) == keys
    assert out["groups"]["1"]["too_small_to_read"] == "too small to read: 4 battles, fewer than 30"


def test_by_counts_battles_without_the_field(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    rows = [("a", "b", "model_a", "x"), ("b", "a", "tie", "x"), ("a", "b", "model_b", None)]
    keys = ("model_a", "model_b", "winner", "category")
    path.write_text("".join(json.dumps(dict(zip(keys, r, strict=True))) + "\n" for r in rows))
    result = run(path, "--by", "category", "--ci", "none", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["excluded"]["rating"] == {"no category": 1}
    assert out["groups"]["x"]["n_battles"] == 2
    assert "1 battles left out of the rating (no category)" in result.stderr


def test_anchor_moves_the_scale() -> None:
    args = (DATA / "mtbench_human_sample.csv", "--ci", "none", "--json")
    out = json.loads(run(*args, "--anchor", "gpt-4=1500").stdout)
    assert {m["model"]: m["rating"] for m in out["models"]}["gpt-4"] == pytest.approx(1500)


def test_include_non_anony_keeps_named_battles() -> None:
    out = json.loads(run(DATA / "arena_battles.json", "--include-non-anony", "--ci", "none", "--json").stdout)
    assert out["n_battles"] == 6
    assert out["excluded"]["files"][0]["left_out"] == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--anchor", "gpt-4"], "--anchor must look like MODEL=RATING, got 'gpt-4'"),
        (["--anchor", "gpt-4=high"], "--anchor rating must be a number, got 'high'"),
        (["--anchor", "nobody=1000"], "anchor model 'nobody' does not appear in the battles"),
        (["--by", "language"], "--by language: no battle has a language"),
        (["--format", "llmfao"], "missing required column 'prompt' for the llmfao format"),
    ],
)
def test_bad_flags_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = run(DATA / "mtbench_human_sample.csv", "--ci", "none", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("judge: error: ")
    assert message in result.stderr.splitlines()[0]
    assert result.stdout == ""


def test_click_rejects_unknown_choices() -> None:
    result = run(DATA / "mtbench_human_sample.csv", "--method", "glicko")
    assert result.exit_code == 2
    assert "Invalid value for '--method'" in result.stderr


def test_all_battles_filtered_out_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "named.json"
    path.write_text('[{"question_id": "q", "model_a": "x", "model_b": "y", "winner": "tie", "anony": false}]')
    result = run(path)
    assert result.exit_code == 2
    assert "no battles left to rate (1 read, all left out: non-anonymous: 1)" in result.stderr
    assert "hint: --include-non-anony keeps them" in result.stderr


def test_cluster_question_needs_question_ids(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("model_a,model_b,winner\nx,y,model_a\ny,x,model_a\n")
    result = run(path, "--cluster", "question", "--bootstrap", "5")
    assert result.exit_code == 2
    assert "--cluster question needs a question_id on every battle" in result.stderr


MALFORMED = [
    ("bad winner", "1,x,y,left\n", "winner must be one of model_a, model_b, tie, tie (bothbad), not 'left'"),
    ("missing model", "1,,y,tie\n", "missing model_a"),
    ("same model", "1,x,x,tie\n", "model_a and model_b are the same model ('x')"),
    ("extra field", "1,x,y,tie,7\n", "expected 4 fields, found 5"),
]


@pytest.mark.parametrize(("kind", "row", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_row_kinds(tmp_path: Path, kind: str, row: str, reason: str) -> None:
    path = tmp_path / "votes.csv"
    path.write_text("question_id,model_a,model_b,winner\n1,x,y,model_a\n" + row)
    result = run(path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"judge: error: {path}:3: {reason}"]


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("empty.csv", "", "empty file"),
        ("cols.csv", "model_a,winner\nx,tie\n", "missing required column 'model_b' for the generic format"),
        ("broken.jsonl", '{"model_a": "x"\n', "1: not valid JSON: Expecting ',' delimiter"),
    ],
)
def test_malformed_file_kinds(tmp_path: Path, name: str, text: str, reason: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = run(path)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith(f"judge: error: {path}:")
    assert result.stderr.splitlines()[0].endswith(reason)


BAD_FIELDS = [
    ("negative turn", '"turn": -3', "2: turn must be a positive integer, not -3"),
    ("zero turn", '"turn": 0', "2: turn must be a positive integer, not 0"),
    ("NaN turn", '"turn": NaN', "2: turn must be a positive integer, not nan"),
    ("infinite turn", '"turn": Infinity', "2: turn must be a positive integer, not inf"),
    ("numeric model", '"model_b": 7', "2: model_b must be a non-empty string (a model name), not 7"),
    ("list model", '"model_b": ["y"]', "2: model_b must be a non-empty string (a model name), not ['y']"),
]


@pytest.mark.parametrize(("kind", "extra", "reason"), BAD_FIELDS, ids=[b[0] for b in BAD_FIELDS])
def test_turns_are_positive_integers_and_models_are_names(
    tmp_path: Path, kind: str, extra: str, reason: str
) -> None:
    # These used to be rated: turn -3 and NaN (read as "no turn") and the number 7 as a model called "7".
    path = tmp_path / "votes.jsonl"
    good = '"question_id": "q", "model_a": "x", "model_b": "y", "winner": "tie"'
    row = good.replace('"model_b": "y"', extra) if "model_b" in extra else f"{good}, {extra}"
    path.write_text(f'{{{good}, "turn": 1}}\n{{{row}}}\n')
    result = run(path)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"judge: error: {path}:{reason}"]


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = run(tmp_path / "nope.csv")
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_real_mt_bench_and_llmfao(shared_data: Path) -> None:
    mt = api.rate(shared_data / "mt_bench_human" / "human_judgments.csv", bootstrap=50)
    board = mt.leaderboard
    assert board is not None
    assert board["model"].tolist()[0] == "gpt-4"
    assert board["model"].tolist()[-1] == "llama-13b"
    assert board["battles"].sum() == 2 * 3355
    assert (board["ci_lower"] <= board["rating"]).all() and (board["rating"] <= board["ci_upper"]).all()
    llmfao = shared_data / "llmfao"
    result = run(
        llmfao / "crowd-comparisons.csv", llmfao / "gpt4-comparisons.csv", "--by", "source", "--ci", "none"
    )
    assert result.exit_code == 0, result.stderr
    assert "source = human: 8931 battles" in result.stdout
    assert "source = judge: 3236 battles" in result.stdout
    assert "GPT 4" in result.stdout


def test_real_llmfao_matches_evalica_bradley_terry(shared_data: Path) -> None:
    """BT with ties as half a win orders the LLMFAO crowd's models as evalica's reference fit does."""
    import pandas as pd

    result = api.rate(shared_data / "llmfao" / "crowd-comparisons.csv", ci="none")
    assert result.leaderboard is not None
    golden = pd.read_csv(shared_data / "llmfao" / "evalica_llmfao-golden.csv")
    bt = golden[golden["algorithm"] == "bradley_terry"].set_index("item")["score"]
    ours = result.leaderboard.set_index("model")["rating"]
    assert set(ours.index) == set(bt.index)
    assert ours.corr(bt.reindex(ours.index), method="spearman") > 0.999


def test_tables_keep_their_width_in_a_pipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Off a terminal (pipes, CI logs) a wide table is printed at its natural width, not wrapped at 80."""
    monkeypatch.delenv("COLUMNS", raising=False)
    long = "a-model-with-a-very-long-name-that-would-not-fit-in-eighty-columns-" * 2
    log = tmp_path / "b.jsonl"
    rows = [{"model_a": long, "model_b": "short", "winner": w} for w in ("model_a", "model_b", "tie")]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run(log, "--bootstrap", "10")
    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if long in line)
    assert len(row) > 80 and all(len(line) == len(row) for line in result.stdout.splitlines()[2:-1])


def test_by_groups_sort_naturally(tmp_path: Path) -> None:
    log = tmp_path / "b.jsonl"
    rows = [
        {"model_a": "x", "model_b": "y", "winner": w, "judge": j}
        for j in ("judge-10", "judge-2", "judge-1")
        for w in ("model_a", "model_b", "tie")
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = api.rate([log], by="judge", bootstrap=0, ci="none")
    assert list(result.groups) == ["judge-1", "judge-2", "judge-10"]


def test_cluster_auto_names_the_unit_it_resampled(tmp_path: Path) -> None:
    repeated = tmp_path / "judge.jsonl"
    repeated.write_text(
        "".join(
            json.dumps({"question_id": f"q{k // 2}", "model_a": "x", "model_b": "y", "winner": w}) + "\n"
            for k, w in enumerate(["model_a", "model_b", "tie", "model_a"])
        )
    )
    unique = tmp_path / "arena.jsonl"
    unique.write_text(
        "".join(
            json.dumps({"question_id": f"q{k}", "model_a": "x", "model_b": "y", "winner": w}) + "\n"
            for k, w in enumerate(["model_a", "model_b", "tie"])
        )
    )
    for path, unit in ((repeated, "question"), (unique, "battle")):
        result = run(path, "--bootstrap", "20", "--json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["cluster"] == unit


def test_by_marks_boards_too_small_to_read(tmp_path: Path) -> None:
    log = tmp_path / "b.jsonl"
    rows = [
        {"model_a": a, "model_b": b, "winner": ("model_a", "model_b", "tie")[i % 3], "judge": "judge-big"}
        for i in range(12)
        for a, b in (("x", "y"), ("x", "z"), ("y", "z"))
    ]
    rows += [{"model_a": "x", "model_b": "y", "winner": "model_a", "judge": "judge-small"}] * 4
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = json.loads(run(log, "--by", "judge", "--ci", "none", "--json").stdout)["groups"]
    assert out["judge-big"]["too_small_to_read"] is None and out["judge-big"]["missing_models"] == []
    assert out["judge-small"]["too_small_to_read"] == "too small to read: 4 battles, fewer than 30"
    assert out["judge-small"]["missing_models"] == ["z"]
    table = run(log, "--by", "judge", "--ci", "none")
    assert table.exit_code == 0, table.stderr
    text = " ".join(table.stdout.split())  # a narrow terminal may wrap the lines
    assert "judge = judge-small: 4 battles, bt (TOO SMALL TO READ)" in text
    assert "judge = judge-small: too small to read: 4 battles, fewer than 30; do not read its order" in text
    assert "judge = judge-small: no battles for z (rated in other groups)" in text
    big = next(line for line in table.stdout.splitlines() if "judge = judge-big" in line)
    assert big.strip() == "judge = judge-big: 36 battles, bt"
