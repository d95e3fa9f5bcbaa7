"""Judge panels end to end: deterministic judges of known accuracy on a real loopback OpenAI-compatible server
(tests/panel_server.py), echo contestants whose true order is q-1 < q-2 < q-3 < q-4.

Checks the pooled and majority boards against the truth, what adding or removing a judge costs (counted at the
server), per-judge budgets and the panel budget, the results files, and the agreement statistics on a
hand-worked case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge import api, load_config
from judge.battles import Battle
from judge.errors import ConfigError
from judge.panel import PanelRule, majority_winner, panel_battles, weighted_winner
from judge.validate.interrater import cohen_kappa, krippendorff_alpha, majority_share, pairwise_kappa
from tests.panel_server import JudgeServer, correct

QUESTIONS = "\n".join(
    f'  - {{question_id: p{i}, category: {"math" if i % 2 else "writing"}, turns: ["Question number {i}?"]}}'
    for i in range(1, 9)
)
CONTESTANTS = "".join(f"  - {{name: q-{i}, provider: echo}}\n" for i in range(1, 5))
PRICES = "prices: {input: 1.0, output: 10.0}"  # 1000 in + 100 out per call -> $0.002


def judge_entry(server: JudgeServer, model: str, name: str, extra: str = "") -> str:
    return (
        f"  - {{name: {name}, provider: openai, base_url: '{server.openai_url}', model: {model}, "
        f"{PRICES}{extra}}}\n"
    )


def write(tmp_path: Path, judges: str, panel: str = "", schedule: str = "") -> Path:
    (tmp_path / "q.yaml").write_text(f"questions:\n{QUESTIONS}\n")
    path = tmp_path / "t.yaml"
    path.write_text(
        f"name: t\nquestions: q.yaml\ncontestants:\n{CONTESTANTS}judges:\n{judges}{panel}{schedule}"
        "retries: {attempts: 1, initial_wait: 0, max_wait: 0, jitter: 0}\n"
    )
    return path


@pytest.fixture(scope="module")
def server():
    with JudgeServer() as s:
        yield s


def run(config: Path, out: Path, **kwargs):
    return api.run(config, out=out, env={}, bootstrap=0, write_html=False, **kwargs)


ITEMS = 8 * 6  # 8 questions x 6 pairs of 4 contestants


def test_pool_panel_files_and_known_accuracy(tmp_path, server):
    judges = "".join(
        judge_entry(server, m, n) for m, n in (("acc-0.95", "strong"), ("acc-0.75", "w1"), ("acc-0.70", "w2"))
    )
    result = run(write(tmp_path, judges), tmp_path / "out")
    out = result.out_dir
    own = [json.loads(line) for line in (out / "battles_by_judge.jsonl").read_text().splitlines()]
    pooled = [json.loads(line) for line in (out / "battles.jsonl").read_text().splitlines()]
    assert len(pooled) == len(own) == 3 * ITEMS  # pool: every judge's battle is a panel battle
    for name, model in (("strong", "acc-0.95"), ("w1", "acc-0.75"), ("w2", "acc-0.70")):
        mine = [b for b in own if b["judge"] == name]
        assert len(mine) == ITEMS
        right = sum(
            (b["winner"] == "model_a") == (int(b["model_a"][2:]) > int(b["model_b"][2:])) for b in mine
        )
        assert right / ITEMS == pytest.approx(float(model.split("-")[1]), abs=0.2)
    board = json.loads((out / "leaderboard.json").read_text())
    assert [m["model"] for m in board["models"]] == ["q-4", "q-3", "q-2", "q-1"]
    by_judge = json.loads((out / "leaderboard_by_judge.json").read_text())
    assert by_judge["by"] == "judge" and set(by_judge["groups"]) == {"strong", "w1", "w2"}
    diag = json.loads((out / "diagnostics.json").read_text())
    assert set(diag["judges"]) == {"strong", "w1", "w2"}
    assert diag["judges"]["strong"]["calls"] == 2 * ITEMS
    assert diag["judges"]["strong"]["cost_usd"] == pytest.approx(2 * ITEMS * 0.002)
    assert diag["judges"]["strong"]["position_consistency"] == 1.0
    assert diag["judge"]["calls"] == 3 * 2 * ITEMS
    panel = diag["panel"]
    assert panel["items"] == ITEMS and panel["items_all_judges"] == ITEMS
    assert panel["cohen_kappa"]["strong"]["strong"] == 1.0
    assert -1 <= panel["krippendorff_alpha"] <= 1
    assert set(panel["majority_share"]) == {"strong", "w1", "w2"}
    details = [json.loads(line) for line in (out / "details.jsonl").read_text().splitlines()]
    assert len(details) == ITEMS
    assert {j["judge"] for j in details[0]["judgments"]} == {"strong", "w1", "w2"}
    assert len(details[0]["judgments"]) == 6  # three judges, both orders


def test_majority_board_and_truth(tmp_path, server):
    judges = "".join(
        judge_entry(server, m, n) for m, n in (("acc-0.80", "a"), ("acc-0.75", "b"), ("acc-0.70", "c"))
    )
    result = run(write(tmp_path, judges, "panel: {combine: majority}\n"), tmp_path / "out")
    battles = result.outcome.battles
    assert len(battles) == ITEMS and {b.judge for b in battles} == {"panel"}
    assert [m for m in result.leaderboard.sort_values("rating", ascending=False)["model"]] == [
        "q-4", "q-3", "q-2", "q-1"
    ]  # fmt: skip
    # The majority is right exactly where at least two of the three judges are (each is order-consistent).
    for b in battles:
        texts = {}  # recompute from the server's rule through the by-judge battles
        votes = [x for x in result.outcome.by_judge.values() for x in x if x.question_id == b.question_id
                 and {x.model_a, x.model_b} == {b.model_a, b.model_b}]  # fmt: skip
        assert len(votes) == 3, texts
        a_votes = sum(v.winner == "model_a" for v in votes)
        assert b.winner == ("model_a" if a_votes >= 2 else "model_b")


def test_adding_and_removing_a_judge_costs_exactly_its_calls(tmp_path, server):
    two = judge_entry(server, "acc-0.91", "x1") + judge_entry(server, "acc-0.61", "x2")
    config = write(tmp_path, two)
    out = tmp_path / "out"
    before = server.calls.copy()
    first = run(config, out)
    assert server.calls["acc-0.91"] - before["acc-0.91"] == 2 * ITEMS
    assert server.calls["acc-0.61"] - before["acc-0.61"] == 2 * ITEMS

    write(tmp_path, two + judge_entry(server, "acc-0.71", "x3"))  # add a third judge
    before = server.calls.copy()
    added = run(config, out)
    spent = server.calls - before
    assert dict(spent) == {"acc-0.71": 2 * ITEMS}
    assert added.outcome.judge_progress["x1"].reused == 2 * ITEMS
    assert added.outcome.judge_progress["x3"].judged == 2 * ITEMS

    write(tmp_path, judge_entry(server, "acc-0.91", "x1") + judge_entry(server, "acc-0.71", "x3"))
    before = server.calls.copy()
    removed = run(config, out)
    assert server.calls == before  # removing a judge pays nothing
    assert removed.outcome.judging.judged == 0
    x1 = [b.winner for b in first.outcome.by_judge["x1"]]
    assert [b.winner for b in removed.outcome.by_judge["x1"]] == x1


def test_single_order_alternates_across_judges(tmp_path, server):
    judges = "".join(
        judge_entry(server, m, n, ", combine: single") for m, n in (("first", "f1"), ("acc-0.50", "f2"))
    )
    result = run(write(tmp_path, judges), tmp_path / "out")
    details = [json.loads(line) for line in (result.out_dir / "details.jsonl").read_text().splitlines()]
    for d in details:
        orders = {j["judge"]: j["order"] for j in d["judgments"]}
        assert orders["f1"] != orders["f2"]  # the second judge sees the other order of every item
    # The always-first judge's votes go to model_a and model_b about equally: the panel stays balanced.
    shown_first = [b for b in result.outcome.by_judge["f1"]]
    a_share = sum(b.winner == "model_a" for b in shown_first) / len(shown_first)
    assert 0.25 < a_share < 0.75


def test_per_judge_budget_and_panel_budget(tmp_path, server):
    judges = judge_entry(server, "acc-0.90", "rich") + judge_entry(
        server, "acc-0.80", "poor", ", budget: {judge_calls: 20}"
    )
    result = run(write(tmp_path, judges), tmp_path / "out")
    assert result.diagnostics["judges"]["poor"]["calls"] == 20  # 10 pairs in both orders
    assert result.diagnostics["judges"]["rich"]["calls"] == 2 * ITEMS
    again = run(write(tmp_path, judges), tmp_path / "out")
    assert again.outcome.judging.judged == 0  # the cut replays: nothing paid twice

    judges = judge_entry(server, "acc-0.90", "rich", ", max_tokens: 500") + judge_entry(
        server, "acc-0.80", "poor", ", max_tokens: 500"
    )
    capped = write(tmp_path, judges, schedule="schedule: {kind: round-robin, budget: {usd: 0.28}}\n")
    result = run(capped, tmp_path / "out2")
    # Before any call a judge call is priced as 2000 tokens in, max_tokens out: $0.007 here; the panel makes 4
    # calls per pair, so $0.28 buys 10 pairs for the whole panel (which then really cost 4 x $0.002 each).
    assert result.outcome.pairs == 10
    assert result.diagnostics["judge"]["cost_usd"] == pytest.approx(10 * 4 * 0.002)


def test_config_checks(tmp_path, server):
    one = judge_entry(server, "acc-0.9", "a")
    with pytest.raises(ConfigError, match=r"judges\[1\].name: 'a' is already used"):
        load_config(write(tmp_path, one + judge_entry(server, "acc-0.8", "a")), {})
    with pytest.raises(ConfigError, match="same model and settings"):
        load_config(write(tmp_path, one + judge_entry(server, "acc-0.9", "b")), {})
    with pytest.raises(ConfigError, match=r"panel.weights: is required"):
        load_config(write(tmp_path, one, "panel: {combine: weighted}\n"), {})
    with pytest.raises(ConfigError, match=r"panel.weights: no weight for judge 'a'"):
        load_config(write(tmp_path, one, "panel: {combine: weighted, weights: {}}\n"), {})
    with pytest.raises(ConfigError, match=r"judges\[0\].name: is required"):
        load_config(write(tmp_path, "  - {provider: echo}\n"), {})
    with pytest.raises(ConfigError, match=r"panel.combine: 'vote' is unknown"):
        load_config(write(tmp_path, one, "panel: {combine: vote}\n"), {})
    path = write(tmp_path, one)
    path.write_text(path.read_text() + "judge: {provider: echo}\n")
    with pytest.raises(ConfigError, match="either judge"):
        load_config(path, {})
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps({"format_version": 1, "weights": {"a": 1.5}, "tie_margin": 0.2}))
    config = load_config(write(tmp_path, one, "panel: {combine: weighted, weights: w.json}\n"), {})
    assert config.panel is not None and config.panel.weights == {"a": 1.5} and config.panel.tie_margin == 0.2
    assert config.judge.name == "a" and config.panel_judges == config.judges


def battle(q: str, winner: str, judge: str, a: str = "m1", b: str = "m2") -> Battle:
    return Battle(q, a, b, winner, judge=judge, source="judge", turn=1)


def test_combine_rules():
    assert majority_winner([1, 1, -1]) == "model_a"
    assert majority_winner([1, 0, -1]) == "tie"
    assert majority_winner([1, 0]) == "tie"
    assert majority_winner([-1, -1, 0]) == "model_b"
    assert weighted_winner({"x": 1, "y": -1, "z": -1}, {"x": 3.0, "y": 1.0, "z": 1.0}) == "model_a"
    assert weighted_winner({"x": 1, "y": -1}, {"x": 1.0, "y": 0.8}, tie_margin=0.5) == "tie"
    by_judge = {
        "x": [battle("q1", "model_a", "x"), battle("q2", "tie", "x")],
        # the same item listed the other way round: model_b here is m1
        "y": [battle("q1", "model_b", "y", a="m2", b="m1"), battle("q2", "model_b", "y")],
        "z": [battle("q1", "model_b", "z")],
    }
    majority = panel_battles(by_judge, PanelRule("majority"))
    assert [(b.question_id, b.model_a, b.winner, b.judge) for b in majority] == [
        ("q1", "m1", "model_a", "panel"),
        ("q2", "m1", "tie", "panel"),
    ]
    assert len(panel_battles(by_judge, PanelRule("pool"))) == 5


def test_kappa_and_alpha_hand_worked():
    # Two raters, ten items, votes +1 / 0 / -1.
    x = [1, 1, 1, 1, -1, -1, -1, 0, 0, 1]
    y = [1, 1, 1, -1, -1, -1, 0, 0, 1, 1]
    # p_o = 7/10. Marginals: x has 5 (+1), 3 (-1), 2 (0); y has 5, 3, 2. p_e = (25 + 9 + 4) / 100 = 0.38.
    # kappa = (0.70 - 0.38) / 0.62 = 0.516129...
    assert cohen_kappa(x, y) == pytest.approx(0.32 / 0.62)
    sklearn = pytest.importorskip("sklearn.metrics")
    assert cohen_kappa(x, y) == pytest.approx(sklearn.cohen_kappa_score(x, y))
    # Alpha for the same two raters: every item is a pair, so o_cc counts 2 per agreeing item and the
    # disagreements (1,-1), (-1,0), (0,1) give o = 2 each way once. n = 20; n_+1 = 10, n_-1 = 6, n_0 = 4.
    # sum_{c!=k} o_ck = 6; sum_{c!=k} n_c n_k = 2 (10*6 + 10*4 + 6*4) = 248.
    # alpha = 1 - (20 - 1) * 6 / 248 = 0.540322...
    votes = {i: {"x": a, "y": b} for i, (a, b) in enumerate(zip(x, y, strict=True))}
    assert krippendorff_alpha(votes) == pytest.approx(1 - 19 * 6 / 248)
    # Three raters with a missing vote: Krippendorff's (2011) worked rule, checked by hand.
    # item 1: (1, 1, 1), item 2: (1, -1) , item 3: (0, 0, -1), item 4: (-1) alone (ignored).
    # o(1,1) = 6/2 = 3; o(1,-1) = o(-1,1) = 1; o(0,0) = 2/2 = 1; o(0,-1) = o(-1,0) = 2/2 = 1.
    # n_1 = 4, n_-1 = 2, n_0 = 2, n = 8. sum_{c!=k} o = 4; sum_{c!=k} n_c n_k = 2 (8 + 8 + 4) = 40.
    # alpha = 1 - 7 * 4 / 40 = 0.3
    three = {1: {"a": 1, "b": 1, "c": 1}, 2: {"a": 1, "c": -1}, 3: {"a": 0, "b": 0, "c": -1}, 4: {"b": -1}}
    assert krippendorff_alpha(three) == pytest.approx(0.3)
    kappa = pairwise_kappa(three, ["a", "b", "c"])
    assert kappa["a"]["b"] == 1.0 and kappa["a"]["a"] == 1.0
    # majority: item 1 -> +1, item 2 split -> tie, item 3 -> 0 (two of three say tie).
    share = majority_share(three, ["a", "b", "c"])
    assert share == {"a": pytest.approx(2 / 3), "b": 1.0, "c": pytest.approx(1 / 3)}


def test_server_accuracy_is_what_its_name_says():
    hits = sum(correct("acc-0.70", f"answer 1 to q-{i}", f"answer 1 to q-{i + 100}") for i in range(4000))
    assert hits / 4000 == pytest.approx(0.70, abs=0.03)


def test_cli_run_prints_each_judge_and_the_panel(tmp_path, server):
    from click.testing import CliRunner

    from judge.cli import cli

    judges = judge_entry(server, "acc-0.85", "c1") + judge_entry(server, "acc-0.65", "c2")
    config = write(tmp_path, judges, "panel: {combine: majority, name: jury}\n")
    result = CliRunner().invoke(cli, ["run", str(config), "--out", str(tmp_path / "out"), "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    line = "judge c1: position consistency 100% (share of pairs whose two orders agree), parse failures 0"
    assert f"{line}, calls {2 * ITEMS}, cost $0.1920" in result.output
    assert "judge c2: position consistency" in result.output
    assert "panel jury (majority): Krippendorff's alpha" in result.output


def test_removing_a_judge_from_a_single_order_panel_pays_nothing(tmp_path, server):
    """Removing the first judge shifts which judges see the flipped order; their stored verdicts count."""
    entries = [
        judge_entry(server, m, n, ", combine: single")
        for m, n in (("acc-0.52", "s1"), ("acc-0.62", "s2"), ("acc-0.72", "s3"))
    ]
    config = write(tmp_path, "".join(entries))
    first = run(config, tmp_path / "out")
    assert first.diagnostics["judges"]["s3"]["calls"] == ITEMS  # one order per item
    write(tmp_path, entries[1] + entries[2])
    before = server.calls.copy()
    again = run(config, tmp_path / "out")
    assert server.calls == before
    assert again.outcome.judging.reused == 2 * ITEMS
    for name in ("s2", "s3"):
        assert [b.winner for b in again.outcome.by_judge[name]] == [
            b.winner for b in first.outcome.by_judge[name]
        ]


def test_a_judge_with_two_games_per_item_votes_once_and_style_follows_the_pair():
    games = [
        Battle("q1", "m1", "m2", "model_a", judge="x", source="judge", turn=1, tokens_a=10, tokens_b=20),
        Battle("q1", "m1", "m2", "tie", judge="x", source="judge", turn=1, tokens_a=10, tokens_b=20),
    ]
    y = [Battle("q1", "m2", "m1", "model_a", judge="y", source="judge", turn=1, tokens_a=20, tokens_b=10)]
    z = [Battle("q1", "m1", "m2", "model_a", judge="z", source="judge", turn=1, verdict_ab="A>B")]
    (one,) = panel_battles({"x": games, "y": y, "z": z}, PanelRule("majority"))
    # x: +1 and a tie sum to +1 (model m1); y: m2 won; z: m1 won -> m1 by two of three.
    assert (one.model_a, one.winner, one.judge) == ("m1", "model_a", "panel")
    assert (one.tokens_a, one.tokens_b, one.verdict_ab) == (10, 20, None)
    (flipped,) = panel_battles({"y": y}, PanelRule("majority"))
    assert (flipped.model_a, flipped.winner, flipped.tokens_a, flipped.tokens_b) == ("m1", "model_b", 10, 20)
