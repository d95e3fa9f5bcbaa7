"""The HTML report: loading a results directory, rendering, escaping hostile answers, degrading gracefully."""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from markupsafe import escape

from judge.battles import BATTLE_COLUMNS
from judge.cli import cli
from judge.errors import InputError
from judge.ratings import board_order, leaderboard, leaderboards_by
from judge.report import charts, load_run_dir, quality, render_report, write_report
from judge.validate.biases import position_consistency

MODELS = ("model-x", "model-y", "model-z")
CATEGORIES = ("writing", "math")
HOSTILE = (
    '<script>document.title="PWNED"</script></script><script>document.body.dataset.pwned="1"</script>'
    '<img src=x onerror="document.body.dataset.pwned=\'img\'"></textarea><b>bold?</b> & "quotes" \u2028'
)


def _board_json(frame: pd.DataFrame, n_battles: int) -> dict[str, Any]:
    rows = json.loads(frame.to_json(orient="records"))
    return {"method": "bt", "n_battles": n_battles, "bootstrap": 20, "models": rows}


def write_run_dir(
    root: Path,
    *,
    hostile: bool = True,
    optional: bool = True,
    models: tuple[str, ...] = MODELS,
    questions: int = 8,
    flip: float = 0.2,
    tie: float = 0.15,
    details: bool = True,
    human_votes: int = 0,
    conservative: bool = True,
) -> Path:
    """A small results directory in the tournament's layout, with one hostile answer when asked.

    Each battle is judged in both orders (verdict_ab / verdict_ba); with probability `flip` the second order
    repeats the first as shown (a position-driven judge), and the conservative rule makes that pair a tie
    (without it the first order's verdict stands).
    Earlier models are stronger. `human_votes` writes that many votes of `judge vote` to human_votes.jsonl.
    """
    rng = np.random.default_rng(7)
    root.mkdir(parents=True)
    battles, texts = [], []
    strength = {m: -0.15 * i for i, m in enumerate(models)}
    shown = {"model_a": "A>B", "model_b": "B>A", "tie": "A=B"}
    swapped = {"model_a": "B>A", "model_b": "A>B", "tie": "A=B"}
    for q in range(questions):
        category = CATEGORIES[q % 2]
        for i, a in enumerate(models):
            for b in models[i + 1 :]:
                p_a = (1 - tie) / (1 + np.exp(strength[b] - strength[a]))
                pick = str(rng.choice(["model_a", "model_b", "tie"], p=[p_a, 1 - tie - p_a, tie]))
                consistent = rng.random() >= flip
                verdict_ba = swapped[pick] if consistent else ("A>B" if pick != "model_b" else "B>A")
                winner = pick if consistent or not conservative else "tie"
                row = dict(
                    zip(
                        BATTLE_COLUMNS[:10],  # the core columns; the other optional ones stay absent
                        [f"q{q}", a, b, winner, "tiny-judge", "judge", category, "en", 1, 1.7e9],
                        strict=True,
                    )
                )
                battles.append({**row, "verdict_ab": shown[pick], "verdict_ba": verdict_ba})
                if not details:
                    continue
                answer_b = HOSTILE if hostile and q == 0 and b == "model-z" else f"{b} says {q} turn one"
                texts.append(
                    {
                        "question_id": f"q{q}",
                        "category": category,
                        "turn": 1,
                        "question": [f"Question {q} <em>first</em> turn?"],
                        "model_a": a,
                        "model_b": b,
                        "answer_a": [f"{a} says {q} turn one"],
                        "answer_b": [answer_b],
                        "judgments": [
                            {"order": "ab", "raw": f"Reasoning AB for q{q}. [[A]]", "verdict": "A"},
                            {"order": "ba", "raw": f"Reasoning BA for q{q}. [[B]]", "verdict": "B"},
                        ],
                        "winner": winner,
                    }
                )
    if human_votes:
        votes = []
        for k in range(human_votes):
            a, b = sorted(rng.choice(models, size=2, replace=False))
            p_a = 0.85 / (1 + np.exp(3 * (strength[b] - strength[a])))  # people see a clearer order
            winner = str(rng.choice(["model_a", "model_b", "tie"], p=[p_a, 0.85 - p_a, 0.15]))
            votes.append(
                {
                    "question_id": f"q{k % questions}",
                    "model_a": str(a),
                    "model_b": str(b),
                    "winner": winner,
                    "judge": "human:eve" if k % 3 else "human:bob",
                    "source": "human",
                    "category": CATEGORIES[k % questions % 2],
                    "turn": 1,
                    "tstamp": 1.8e9 + k,
                    "first_shown": str(a if k % 2 else b),
                }
            )
        with (root / "human_votes.jsonl").open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(v) + "\n" for v in votes)
    frame = pd.DataFrame(battles)
    with (root / "battles.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in battles)
    board = leaderboard(frame, bootstrap=20, seed=0)
    (root / "leaderboard.json").write_text(json.dumps(_board_json(board, len(frame))), encoding="utf-8")
    if not optional:
        return root
    groups = {
        name: _board_json(group, int(group["battles"].sum()) // 2)
        for name, group in leaderboards_by(frame, "category", bootstrap=20, seed=0).items()
    }
    (root / "leaderboard_by_category.json").write_text(json.dumps({"groups": groups}), encoding="utf-8")
    usage = {"input_tokens": 1200, "output_tokens": 800, "cost_usd": 0.0123, "seconds": 4.5}
    diagnostics = {
        "judge": {
            "name": "tiny-judge",
            "position_consistency": 0.8,
            "first_position_preference": 0.55,
            "tie_rate": 0.15,
            "parse_failures": 2,
            "calls": 48,
            **usage,
        },
        "contestants": {m: {"answers": questions, "failures": 0, **usage} for m in models},
    }
    (root / "diagnostics.json").write_text(json.dumps(diagnostics), encoding="utf-8")
    if details:
        with (root / "details.jsonl").open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(d) + "\n" for d in texts)
    return root


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run_dir(tmp_path / "run")


def test_load_run_dir_reads_every_file(run_dir: Path) -> None:
    data = load_run_dir(run_dir)
    assert data.name == "run"
    assert len(data.battles) == 24
    assert set(data.leaderboard.models) == set(MODELS)
    assert sorted(data.by_category) == ["math", "writing"]
    assert data.judge is not None and data.judge["parse_failures"] == 2
    assert sorted(data.contestants) == list(MODELS)
    assert len(data.details) == 24
    assert data.details[0].judgments[1].order == "ba"


def test_report_is_one_self_contained_file(run_dir: Path) -> None:
    page = render_report(load_run_dir(run_dir))
    # Nothing to fetch: no external scripts, styles, images or fonts, and the CSP forbids any fetch.
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "default-src 'none'" in page
    assert page.count('<tr class="lb-row">') == 3
    for section in ("Observed win fraction", "Predicted win rate", "Battle count", "Position consistency"):
        assert section in page
    # position consistency from the battle log (as judge validate measures it), first-position preference
    assert "79.2% of 24" in page and "55.0%" in page
    assert "Tie rate: <strong>25%</strong> of 24 battles" in page
    assert "$0.0123" in page
    assert page.count('<table class="board small">') == 2  # one leaderboard per category


def test_hostile_answer_is_escaped_in_the_page(run_dir: Path) -> None:
    page = render_report(load_run_dir(run_dir))
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts == ['<script type="application/json" id="battle-data">', "<script>"]
    assert "<img" not in page and 'onerror="document' not in page
    assert "</textarea>" not in page
    block = re.search(r'<script type="application/json" id="battle-data">(.*?)</script>', page, re.S)
    assert block is not None
    assert "<" not in block.group(1) and ">" not in block.group(1)
    payload = json.loads(block.group(1))
    assert HOSTILE in payload["texts"]  # the text survives intact; only its encoding changed


def test_model_names_and_questions_are_escaped(tmp_path: Path) -> None:
    root = write_run_dir(tmp_path / "run")
    board = json.loads((root / "leaderboard.json").read_text())
    board["models"][0]["model"] = "<b>evil</b>"
    (root / "leaderboard.json").write_text(json.dumps(board))
    page = render_report(load_run_dir(root))
    assert "<b>evil</b>" not in page
    assert html.escape("<b>evil</b>", quote=False) in page


def test_missing_optional_files_degrade_to_notes(tmp_path: Path) -> None:
    root = write_run_dir(tmp_path / "run", optional=False)
    page = render_report(load_run_dir(root))
    assert "No per-category leaderboards" in page
    assert "No judge diagnostics" in page
    assert "no details.jsonl" in page
    assert page.count('<tr class="lb-row">') == 3


@pytest.mark.parametrize("name", ["battles.jsonl", "leaderboard.json"])
def test_missing_required_file_is_an_input_error_with_the_path(tmp_path: Path, name: str) -> None:
    root = write_run_dir(tmp_path / "run", optional=False)
    (root / name).unlink()
    with pytest.raises(InputError) as info:
        load_run_dir(root)
    assert info.value.path == str(root / name)


def test_malformed_details_line_is_located(run_dir: Path) -> None:
    with (run_dir / "details.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"question_id": "q9", "model_a": "x"\n')
    with pytest.raises(InputError, match=r"details\.jsonl:25: not valid JSON"):
        load_run_dir(run_dir)


def test_write_report_and_cli(run_dir: Path) -> None:
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    assert not list(run_dir.glob("*.partial"))
    result = CliRunner().invoke(cli, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "report.html" in result.stdout
    bad = CliRunner().invoke(cli, ["report", str(run_dir / "nowhere")])
    assert bad.exit_code == 2
    assert "not a results directory" in bad.stderr


def test_report_shows_style_board_and_baseline_scores(tmp_path: Path) -> None:
    root = write_run_dir(tmp_path / "run")
    frame = pd.read_json(root / "battles.jsonl", lines=True)
    rng = np.random.default_rng(3)
    verbosity = {"model-x": 400, "model-y": 150, "model-z": 250}
    frame["tokens_a"] = [rng.poisson(verbosity[m]) for m in frame["model_a"]]
    frame["tokens_b"] = [rng.poisson(verbosity[m]) for m in frame["model_b"]]
    with (root / "battles.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in frame.to_dict(orient="records"))
    plain = leaderboard(frame, bootstrap=20, seed=0, baseline="model-y")
    styled = leaderboard(frame, bootstrap=20, seed=0, baseline="model-y", style=["length"])
    board = _board_json(plain, len(frame))
    (root / "leaderboard.json").write_text(json.dumps(board), encoding="utf-8")
    style_board = {**_board_json(styled, len(frame)), "style": styled.attrs["style"]}
    (root / "leaderboard_style.json").write_text(json.dumps(style_board), encoding="utf-8")
    data = load_run_dir(root)
    assert data.style_leaderboard is not None and data.style_leaderboard.style is not None
    page = render_report(data)
    section = page[page.index('<section id="style">') : page.index('<section id="scores">')]
    assert "A 2x longer answer is worth" in section and "Elo to this judge" in section
    for model in MODELS:
        assert section.count(f'<td class="model">{model}</td>') == 1
    plain_x = plain.set_index("model").loc["model-x", "rating"]
    styled_x = styled.set_index("model").loc["model-x", "rating"]
    assert f"{plain_x:.0f}" in section and f"{styled_x:.0f}" in section
    scores = page[page.index('<section id="scores">') : page.index('<section id="matrices">')]
    assert "style-controlled %" in scores and ">50.0<" in scores  # the baseline against itself
    plain_only = write_run_dir(tmp_path / "plain")
    assert 'id="style"' not in render_report(load_run_dir(plain_only))


def section(page: str, ident: str) -> str:
    start = page.index(f'<section id="{ident}">')
    return page[start : page.index("</section>", start)]


def test_tie_rate_shown_and_board_flagged_when_weak(tmp_path: Path) -> None:
    plain = render_report(load_run_dir(write_run_dir(tmp_path / "plain")))
    assert 'class="check ok"' in plain and "This board is weak" not in plain
    tied = render_report(load_run_dir(write_run_dir(tmp_path / "tied", tie=0.8, questions=20)))
    head = tied[: tied.index("<nav>")]
    assert 'class="check weak"' in head
    match = re.search(
        r"This board is weak: (\d+)% of its 60 battles are ties \(above 50%\), so the ranking "
        r"rests on (\d+) decisive battles\.",
        head,
    )
    assert match and int(match.group(1)) > 50
    swayed = render_report(
        load_run_dir(write_run_dir(tmp_path / "swayed", flip=0.7, tie=0.0, questions=20, conservative=False))
    )
    assert re.search(
        r"This board is weak: the judge kept its pick with the answers swapped in only \d+% of 60 "
        r"pairs \(below 60%\), so many of its verdicts follow the position",
        swayed,
    )


def test_quality_measures_position_as_validate_does(tmp_path: Path) -> None:
    frame = load_run_dir(write_run_dir(tmp_path / "run", flip=0.5, questions=10)).battles
    found = quality.judge_quality(frame, "tiny-judge")
    assert found.consistency == position_consistency(frame)
    assert found.ties == int(frame["winner"].isin(["tie", "tie (bothbad)"]).sum())
    # Too few battles to judge the judge: the figures are shown, no flag is raised.
    few = frame.head(quality.MIN_SAMPLE - 1).assign(winner="tie")
    assert quality.judge_quality(few, "j").tie_rate == 1.0 and not quality.judge_quality(few, "j").weak
    # A panel's board is weak when most of its judges are.
    weak = quality.judge_quality(frame.assign(winner="tie"), "a")
    fine = quality.judge_quality(frame.assign(verdict_ab=None, verdict_ba=None, winner="model_a"), "c")
    assert quality.panel_reason(fine, [weak, weak.__class__(**{**weak.__dict__, "name": "b"}), fine])
    assert quality.panel_reason(fine, [weak, fine]) is None


def test_one_order_everywhere_rank_then_rating(tmp_path: Path) -> None:
    """model-y has the highest rating but a wide interval sits it at rank 2 below both: every table agrees."""
    root = write_run_dir(tmp_path / "run", human_votes=60)
    rows = [
        ("model-y", 1300, 1290, 1310, 2),
        ("model-z", 1100, 500, 1900, 1),
        ("model-x", 1200, 1000, 1400, 1),
    ]
    board = json.loads((root / "leaderboard.json").read_text())
    by_name = {r["model"]: r for r in board["models"]}
    board["models"] = [
        {
            **by_name[m],
            "rating": r,
            "ci_lower": lo,
            "ci_upper": hi,
            "rank": k,
            "score": r / 30,
            "score_lower": 0.0,
            "score_upper": 99.0,
        }
        for m, r, lo, hi, k in rows
    ]
    (root / "leaderboard.json").write_text(json.dumps(board))
    expected = ["model-x", "model-z", "model-y"]  # rank 1 (1200), rank 1 (1100), rank 2 (1300)
    page = render_report(load_run_dir(root))
    cells = lambda html_: re.findall(r'<td class="model">([^<]+)<', html_)  # noqa: E731
    assert cells(section(page, "leaderboard")) == expected
    assert cells(section(page, "scores")) == expected
    assert cells(section(page, "humans")) == expected
    for matrix in ("matrix-0-top", "matrix-1-top", "matrix-2-top", "category-matrix"):
        block = page[page.index(f'id="{matrix}"') :]
        block = block[: block.index("</table>")]
        assert re.findall(r'<th class="row" scope="row">([^<]+)<', block) == expected
        if matrix != "category-matrix":
            assert re.findall(r'<th class="col" scope="col"><span>([^<]+)<', block) == expected
    costs = section(page, "costs")
    assert [m for m in re.findall(r"<tr><td>([^<]+)</td><td>contestant", costs)] == expected
    browser = re.search(r'id="battle-data">(.*?)</script>', page, re.S)
    assert browser is not None
    assert json.loads(browser.group(1))["pairs"] == [
        ["model-x", "model-z"],
        ["model-x", "model-y"],
        ["model-y", "model-z"],
    ]
    # The engine, the CLI's --json and the report share the order.
    frame = pd.DataFrame([{"model": m, "rating": r, "rank": k} for m, r, _, _, k in rows])
    assert list(board_order(frame)["model"]) == expected


def test_interval_bars_share_a_labelled_axis() -> None:
    scale = charts.rating_scale([912.0, 1000.0, 1088.0])
    assert scale.ticks == (900.0, 950.0, 1000.0, 1050.0, 1100.0)  # round steps covering every value
    axis = str(charts.axis(scale))
    labels = re.findall(r'class="tick">(\d+)</text>', axis)
    assert labels == [f"{t:.0f}" for t in scale.ticks]
    tick_x = dict(zip(labels, map(float, re.findall(r'<text x="([\d.]+)"', axis)), strict=True))
    bar = str(charts.interval_bar(1000.0, 950.0, math.inf, scale))
    assert f'cx="{tick_x["1000"]}"' in bar  # the dot sits on the axis' 1000 tick
    assert 'class="open"' in bar and "1000 (950 to open)" in bar  # an open end is drawn and said


def test_matrices_show_the_top_twenty_and_the_rest_behind_a_toggle(tmp_path: Path) -> None:
    models = tuple(f"m{i:02d}" for i in range(25))
    page = render_report(
        load_run_dir(write_run_dir(tmp_path / "many", models=models, questions=1, details=False))
    )
    matrices = section(page, "matrices")
    assert matrices.count("<details") == 3 and "All 25 models" in matrices
    top = matrices[matrices.index('id="matrix-0-top"') : matrices.index('id="matrix-0-full"')]
    assert top.count('<th class="row"') == 20
    full = matrices[matrices.index('id="matrix-0-full"') : matrices.index('id="matrix-1-top"')]
    assert full.count('<th class="row"') == 25
    small = render_report(load_run_dir(write_run_dir(tmp_path / "few")))
    assert "<details" not in section(small, "matrices")


def test_category_matrix_marks_thin_cells(run_dir: Path) -> None:
    block = section(render_report(load_run_dir(run_dir)), "categories")
    matrix = block[block.index('id="category-matrix"') : block.index("</table>")]
    assert re.findall(r'<th class="col" scope="col"><span>([^<]+)<', matrix) == ["math", "writing", "all"]
    rows = re.findall(r"<tr><th class=\"row\".*?</tr>", matrix)
    assert len(rows) == 3
    for row in rows:  # 8 battles per model per category (hatched), 16 over all (not)
        assert row.count(' few"') == 2 and "of 16 battles" in row and "fewer than 10 battles" in row


def test_cost_total_with_batches_apart_and_unpriced_named(run_dir: Path) -> None:
    page = render_report(load_run_dir(run_dir))
    assert "Total cost: <strong>$0.0492</strong> (answers $0.0369, judging $0.0123)" in page
    diagnostics = json.loads((run_dir / "diagnostics.json").read_text())
    diagnostics["judge"] |= {"batch_calls": 40, "batch_cost_usd": 0.01}
    diagnostics["contestants"]["model-x"] |= {"cost_usd": None, "calls": 8}
    (run_dir / "diagnostics.json").write_text(json.dumps(diagnostics))
    costs = section(render_report(load_run_dir(run_dir)), "costs")
    assert "Total cost: <strong>$0.0369</strong> (answers $0.0246, judging $0.0123)" in costs
    assert "40 calls went through provider batches, costing $0.0100 of it" in costs
    assert "No price known for model-x: not counted." in costs


def test_human_votes_board_beside_the_judges(tmp_path: Path) -> None:
    root = write_run_dir(tmp_path / "run", human_votes=90)
    data = load_run_dir(root)
    assert data.human_votes is not None and len(data.human_votes) == 90
    humans = section(render_report(data), "humans")
    assert "90 votes by 2 voters" in humans
    fitted = leaderboard(data.human_votes, bootstrap=20, seed=0, cluster="battle").set_index("model")
    judge = {row.model: row.rank for row in data.leaderboard.rows}
    for model in MODELS:
        row = re.search(rf'<td class="model">{model}</td>(.*?)</tr>', humans, re.S)
        assert row is not None
        numbers = re.findall(r'<td class="num[^"]*">([^<]*)</td>', row.group(1))
        assert numbers[2] == str(fitted.loc[model, "rank"])
        assert numbers[3] == f"{fitted.loc[model, 'rating']:.0f}"
        diff = judge[model] - int(fitted.loc[model, "rank"])
        assert numbers[-1] == ("0" if diff == 0 else f"{diff:+d}")
    assert 'id="humans"' not in render_report(load_run_dir(write_run_dir(tmp_path / "none")))
    with (root / "human_votes.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"question_id": "q1", "model_a": "model-x"\n')
    with pytest.raises(InputError, match=r"human_votes\.jsonl:91"):
        load_run_dir(root)


def test_hostile_model_names_stay_text_in_every_table(tmp_path: Path) -> None:
    evil = '<img src=x onerror="alert(1)">'
    root = write_run_dir(tmp_path / "run", models=(evil, "model-y", "model-z"), hostile=False, human_votes=30)
    page = render_report(load_run_dir(root))
    assert "<img" not in page
    for ident in ("leaderboard", "matrices", "categories", "humans", "costs"):
        assert str(escape(evil)) in section(page, ident), ident


def test_votes_cast_through_judge_vote_show_up_beside_the_board(run_dir: Path) -> None:
    """The real voting session writes human_votes.jsonl; the report reads that file as it is."""
    from judge.vote import VoteSession

    for voter, choice in (("ann", "a"), ("bob", "tie")):
        session = VoteSession.open(run_dir, voter=voter, seed=3)
        while (shown := session.next_battle()) is not None:
            session.record(shown.token, choice)
    humans = section(render_report(load_run_dir(run_dir)), "humans")
    assert "48 votes by 2 voters" in humans
    assert humans.count('<tr class="human-row">') == 3
