"""judge compare: exit codes on constructed runs, the paired bootstrap, and the markdown summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from judge.battles import BATTLE_COLUMNS
from judge.cli import cli
from judge.compare import compare_battles, render_markdown
from judge.ratings import fit_bt

STRENGTH = {"alpha": 1200.0, "bravo": 1100.0, "charlie": 1000.0, "delta": 950.0, "echo": 850.0}
ROUNDS = 40


def make_battles(strength: dict[str, float], seed: int, questions: int = 60) -> pd.DataFrame:
    """Every pair once per question, outcomes drawn from Bradley-Terry on the Elo scale (with some ties)."""
    rng = np.random.default_rng(seed)
    models = sorted(strength)
    rows = []
    for q in range(questions):
        for i, a in enumerate(models):
            for b in models[i + 1 :]:
                p = 1 / (1 + 10 ** ((strength[b] - strength[a]) / 400))
                u = rng.random()
                winner = "tie" if abs(u - p) < 0.05 else ("model_a" if u < p else "model_b")
                left, right = a, b
                if rng.random() < 0.5:
                    left, right = b, a
                    winner = {"model_a": "model_b", "model_b": "model_a"}.get(winner, winner)
                rows.append(
                    {
                        "question_id": f"q{q}",
                        "model_a": left,
                        "model_b": right,
                        "winner": winner,
                        "judge": "test-judge",
                        "source": "judge",
                        "category": "writing" if q % 2 else "math",
                        "language": "en",
                        "turn": 1,
                        "tstamp": 1.0e9 + q,
                    }
                )
    return pd.DataFrame(rows, columns=list(BATTLE_COLUMNS[:10]))  # optional columns left out, not NaN


def write_run(path: Path, battles: pd.DataFrame) -> Path:
    """A results directory in the tournament's layout (only the files compare reads)."""
    path.mkdir(parents=True)
    with (path / "battles.jsonl").open("w", encoding="utf-8") as handle:
        for record in battles.to_dict(orient="records"):
            present = {k: v for k, v in record.items() if not (isinstance(v, float) and v != v)}  # no NaN
            handle.write(json.dumps(present) + "\n")
    ratings = fit_bt(battles).ratings.sort_values(ascending=False)
    rows = [
        {
            "model": model,
            "rating": float(rating),
            "ci_lower": float(rating) - 30,
            "ci_upper": float(rating) + 30,
            "rank": rank,
            "battles": 0,
            "wins": 0,
            "losses": 0,
            "ties": 0,
        }
        for rank, (model, rating) in enumerate(ratings.items(), start=1)
    ]
    board = {"method": "bt", "n_battles": len(battles), "bootstrap": 0, "models": rows}
    (path / "leaderboard.json").write_text(json.dumps(board), encoding="utf-8")
    return path


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    return write_run(tmp_path / "baseline", make_battles(STRENGTH, seed=1))


def run_compare(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["compare", *args, "--rounds", str(ROUNDS)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_noise_only_passes(baseline: Path, tmp_path: Path) -> None:
    # One draw of noise; benchmarks/compare_calibration.py measures the false-alarm rate over many draws.
    candidate = write_run(tmp_path / "candidate", make_battles(STRENGTH, seed=2))
    code, out, err = run_compare(str(baseline), str(candidate))
    assert code == 0, out + err
    assert "**No regression:**" in out
    assert "paired bootstrap over 60 shared questions" in out


def test_real_regression_fails_with_exit_1(baseline: Path, tmp_path: Path) -> None:
    worse = dict(STRENGTH, charlie=STRENGTH["charlie"] - 250)
    candidate = write_run(tmp_path / "candidate", make_battles(worse, seed=2))
    markdown = tmp_path / "summary.md"
    code, out, err = run_compare(str(baseline), str(candidate), "--markdown", str(markdown))
    assert code == 1
    assert "judge: error: regression: charlie significantly worse" in err
    assert "**Regression:** charlie got significantly worse." in out
    assert out == markdown.read_text(encoding="utf-8") + "\n"


def test_regression_outside_watch_list_passes(baseline: Path, tmp_path: Path) -> None:
    worse = dict(STRENGTH, charlie=STRENGTH["charlie"] - 250)
    candidate = write_run(tmp_path / "candidate", make_battles(worse, seed=2))
    code, out, _ = run_compare(str(baseline), str(candidate), "--watch", "alpha", "--watch", "bravo")
    assert code == 0
    assert "(not watched)" in out


def test_a_margin_larger_than_the_drop_passes(baseline: Path, tmp_path: Path) -> None:
    worse = dict(STRENGTH, charlie=STRENGTH["charlie"] - 250)
    candidate = write_run(tmp_path / "candidate", make_battles(worse, seed=2))
    code, _, _ = run_compare(str(baseline), str(candidate), "--margin", "600")
    assert code == 0


def test_new_and_gone_models_are_listed_never_a_regression(baseline: Path, tmp_path: Path) -> None:
    changed = {k: v for k, v in STRENGTH.items() if k != "echo"} | {"foxtrot": 700.0}
    candidate = write_run(tmp_path / "candidate", make_battles(changed, seed=2))
    code, out, _ = run_compare(str(baseline), str(candidate), "--json")
    assert code == 0
    result = json.loads(out)
    status = {m["model"]: (m["status"], m["verdict"]) for m in result["models"]}
    assert status["foxtrot"] == ("new", "new")
    assert status["echo"] == ("gone", "gone")
    assert result["anchor"] == ["alpha", "bravo", "charlie", "delta"]
    assert result["regression"] is False


def test_bad_input_exits_2_with_the_path(tmp_path: Path, baseline: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_compare(str(baseline), str(empty))
    assert code == 2
    assert f"{empty / 'battles.jsonl'}: missing battles.jsonl" in err
    code, _, err = run_compare(str(baseline), str(baseline), "--watch", "nobody")
    assert code == 2
    assert "--watch names model(s) in neither run: nobody" in err


def test_identical_runs_give_zero_change_with_a_paired_interval() -> None:
    battles = make_battles(STRENGTH, seed=3)
    result = compare_battles(battles, battles, rounds=ROUNDS, seed=0)
    assert result.paired and result.shared_questions == 60
    for change in result.changes:
        assert change.delta is not None
        # Both runs are refitted on the same draw, so the difference is exactly zero in every round.
        assert change.delta.value == pytest.approx(0, abs=1e-6)
        assert change.delta.lower == pytest.approx(0, abs=1e-6)
        assert change.delta.upper == pytest.approx(0, abs=1e-6)
        assert change.verdict == "same"


def test_disjoint_questions_fall_back_to_independent_bootstraps() -> None:
    base = make_battles(STRENGTH, seed=3)
    cand = make_battles(STRENGTH, seed=4)
    cand["question_id"] = "other-" + cand["question_id"]
    result = compare_battles(base, cand, rounds=ROUNDS, seed=0)
    assert not result.paired and result.shared_questions == 0
    widths = [c.delta.upper - c.delta.lower for c in result.changes if c.delta is not None]
    assert all(w > 0 for w in widths)


def test_anchor_is_the_mean_of_shared_models() -> None:
    base = make_battles(STRENGTH, seed=3)
    # Shifting every rating of the candidate changes nothing: only differences are identified.
    result = compare_battles(
        base, make_battles({k: v + 500 for k, v in STRENGTH.items()}, seed=3), rounds=ROUNDS
    )
    kept = [c for c in result.changes if c.delta is not None]
    assert sum(c.delta.value for c in kept) == pytest.approx(0, abs=1e-6)
    assert all(c.delta.value == pytest.approx(0, abs=1e-6) for c in kept)


def test_markdown_summary_shape() -> None:
    base = make_battles(STRENGTH, seed=1)
    worse = make_battles(dict(STRENGTH, charlie=STRENGTH["charlie"] - 250), seed=2)
    result = compare_battles(base, worse, rounds=ROUNDS, seed=0, baseline_ranks={"alpha": 1})
    text = render_markdown(result, baseline="runs/last-good", candidate="runs/new")
    # Numbers depend on the rating engine; the layout, verdicts and wording are what a PR comment relies on.
    shape = re.sub(r"[+-]?\d+(\.\d+)?", "N", text)
    assert shape == (
        "## judge compare: `runs/last-good` → `runs/new`\n"
        "\n"
        "**Regression:** charlie got significantly worse.\n"
        "\n"
        "| model | baseline | candidate | change | rank | verdict | minimum detectable drop |\n"
        "|---|---:|---:|---:|:---:|---|---:|\n"
        "| alpha | N [N, N] | N [N, N] | N [N, N] | N → – | no significant change | N Elo |\n"
        "| bravo | N [N, N] | N [N, N] | N [N, N] | – → – | no significant change | N Elo |\n"
        "| delta | N [N, N] | N [N, N] | N [N, N] | – → – | better | N Elo |\n"
        "| echo | N [N, N] | N [N, N] | N [N, N] | – → – | no significant change | N Elo |\n"
        "| charlie | N [N, N] | N [N, N] | N [N, N] | – → – | **worse** ❌ | N Elo |\n"
        "\n"
        "Ratings are anchored on the mean of the N models in both runs. Intervals are N% per model "
        "(N% over all watched models at once) from paired bootstrap over N shared questions, N rounds, "
        "seed N. A drop counts when its whole interval lies below N Elo; the minimum detectable drop is the "
        "smallest true drop each watched model's interval could have caught.\n"
    )
    assert "below 0 Elo" in text  # a zero margin is a number, not "-0."


def test_a_watched_model_missing_from_a_run_fails(baseline: Path, tmp_path: Path) -> None:
    # It used to pass ("No regression") and the nightly workflow then promoted the run to last-good.
    without = {k: v for k, v in STRENGTH.items() if k != "bravo"}
    candidate = write_run(tmp_path / "candidate", make_battles(without, seed=2))
    code, out, err = run_compare(str(baseline), str(candidate), "--watch", "bravo", "--watch", "alpha")
    assert code == 1
    assert err.splitlines()[0] == f"judge: error: watched model(s) missing: bravo (not in {candidate})"
    assert "**Missing:** watched model(s) bravo (not in the candidate run) cannot be compared." in out
    code, out, err = run_compare(str(candidate), str(baseline), "--watch", "bravo", "--json")
    assert code == 1 and json.loads(out)["missing"] == [{"model": "bravo", "from": "baseline"}]


def test_minimum_detectable_drop_is_margin_plus_the_upper_half_width() -> None:
    base = make_battles(STRENGTH, seed=1)
    result = compare_battles(
        base, make_battles(STRENGTH, seed=2), rounds=ROUNDS, margin=15, watch=["charlie"]
    )
    (charlie,) = [c for c in result.changes if c.model == "charlie"]
    assert all(c.detectable_drop is None for c in result.changes if c is not charlie)  # not watched
    assert charlie.delta is not None and charlie.detectable_drop is not None
    assert charlie.detectable_drop == pytest.approx(15 + charlie.delta.upper - charlie.delta.value)
    assert 15 < charlie.detectable_drop < 300
    text = render_markdown(result, baseline="b", candidate="c")
    assert f"| {charlie.detectable_drop:.0f} Elo |" in text and "lies below -15 Elo" in text


def test_a_conservative_judge_that_flips_with_order_is_noted(baseline: Path, tmp_path: Path) -> None:
    candidate = write_run(tmp_path / "candidate", make_battles(STRENGTH, seed=2))
    judge = {"combine": "conservative", "position_consistency": 0.6}
    (candidate / "diagnostics.json").write_text(json.dumps({"judge": judge}), encoding="utf-8")
    (baseline / "diagnostics.json").write_text(json.dumps({"judge": {**judge, "combine": "score"}}))
    code, out, _ = run_compare(str(baseline), str(candidate))
    assert code == 0
    assert "> note: the candidate run's judge combines both orders with the `conservative` rule" in out
    assert "40% of pairs whose orders disagree into ties: this compresses the rating scale" in out
    assert "baseline run's judge" not in out
