"""Bootstrap and sandwich intervals: reproducible, exact resampling, and in agreement with each other."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judge.errors import InputError
from judge.ratings import bootstrap_ratings, fit_bt, sandwich_covariance
from judge.ratings.bootstrap import multinomial


def small_log(seed: int = 0, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array(["a", "b", "c", "d"])
    strength = np.array([0.8, 0.3, 0.0, -0.6])
    i = rng.integers(0, 4, n)
    j = (i + rng.integers(1, 4, n)) % 4
    p = 1 / (1 + np.exp(strength[j] - strength[i]))
    u = rng.random(n)
    winner = np.where(u < p - 0.1, "model_a", np.where(u < p + 0.1, "tie", "model_b"))
    return pd.DataFrame(
        {
            "question_id": rng.integers(0, 40, n).astype(str),
            "model_a": names[i],
            "model_b": names[j],
            "winner": winner,
        }
    )


def llmfao(shared_data: Path) -> pd.DataFrame:
    raw = pd.read_csv(shared_data / "llmfao" / "crowd-comparisons.csv")
    return pd.DataFrame(
        {
            "question_id": raw["prompt"].astype(str),
            "model_a": raw["left"],
            "model_b": raw["right"],
            "winner": raw["winner"].map({"left": "model_a", "right": "model_b", "tie": "tie"}),
        }
    )


def test_poissonised_multinomial_is_multinomial() -> None:
    shares = np.array([0.5, 0.3, 0.15, 0.05])
    draws = multinomial(np.random.default_rng(0), 20, shares, 40_000)
    assert (draws.sum(axis=1) == 20).all()
    np.testing.assert_allclose(draws.mean(axis=0), 20 * shares, atol=0.05)
    expected_cov = 20 * (np.diag(shares) - np.outer(shares, shares))
    np.testing.assert_allclose(np.cov(draws.T), expected_cov, atol=0.15)  # about 4 standard errors


@pytest.mark.parametrize("cluster", ["battle", "question"])
@pytest.mark.parametrize("ties", ["half", "davidson"])
def test_bootstrap_is_reproducible_for_a_seed(cluster: str, ties: str) -> None:
    log = small_log()
    runs = [
        bootstrap_ratings(
            log, rounds=120, rng=np.random.default_rng(7), cluster=cluster, ties=ties, workers=w
        )
        for w in (1, 2, 1)
    ]
    pd.testing.assert_frame_equal(runs[0], runs[1])
    pd.testing.assert_frame_equal(runs[0], runs[2])
    other = bootstrap_ratings(log, rounds=120, rng=np.random.default_rng(8), cluster=cluster, ties=ties)
    assert not other.equals(runs[0])
    assert runs[0].shape == (120, 4)
    assert list(runs[0].columns) == ["a", "b", "c", "d"]
    assert np.isfinite(runs[0].to_numpy()).all()


def test_bootstrap_replicates_are_exact_refits() -> None:
    """Each replicate equals fit_bt on its own counts (chord-Newton converged to the true optimum)."""
    log = small_log(n=300)
    boot = bootstrap_ratings(log, rounds=3, rng=np.random.default_rng(1))
    # Rebuild replicate 0 from the same random stream.
    from judge.ratings._counts import aggregate

    pairs = aggregate(log).pairs
    flat = pairs.counts.ravel()
    cells = np.flatnonzero(flat)
    child = np.random.default_rng(1).spawn(1)[0]
    draw = np.zeros(flat.size)
    draw[cells] = multinomial(child, int(flat.sum()), flat[cells] / flat.sum(), 3)[0]
    rows = []
    for p, (i, j) in enumerate(zip(pairs.i, pairs.j, strict=True)):
        a, b = pairs.models[i], pairs.models[j]
        won, lost, tied = draw[3 * p : 3 * p + 3].astype(int)
        rows += [(a, b, "model_a")] * won + [(a, b, "model_b")] * lost + [(a, b, "tie")] * tied
    refit = fit_bt(pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])).ratings
    np.testing.assert_allclose(boot.iloc[0].to_numpy(), refit.reindex(boot.columns).to_numpy(), atol=1e-6)


def test_elo_bootstrap_is_reproducible() -> None:
    log = small_log(n=200)
    first = bootstrap_ratings(log, method="elo", rounds=30, rng=np.random.default_rng(3))
    again = bootstrap_ratings(log, method="elo", rounds=30, rng=np.random.default_rng(3))
    pd.testing.assert_frame_equal(first, again)
    by_question = bootstrap_ratings(
        log, method="elo", rounds=5, rng=np.random.default_rng(3), cluster="question"
    )
    assert by_question.shape == (5, 4)
    # Each round is a full online-Elo pass, so the rating sum is conserved.
    np.testing.assert_allclose(first.sum(axis=1), 4000.0)


def test_question_cluster_needs_question_ids() -> None:
    log = small_log(n=50)
    log.loc[3, "question_id"] = None
    with pytest.raises(InputError, match="question_id is missing"):
        bootstrap_ratings(log, rounds=5, rng=np.random.default_rng(0), cluster="question")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rounds": 0}, "at least 1"),
        ({"cluster": "pair"}, "unknown bootstrap cluster"),
        ({"method": "x"}, "method"),
    ],
)
def test_bad_bootstrap_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        bootstrap_ratings(small_log(n=20), rng=np.random.default_rng(0), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("cluster", ["battle", "question"])
def test_sandwich_agrees_with_bootstrap_on_real_votes(shared_data: Path, cluster: str) -> None:
    log = llmfao(shared_data)
    fit = fit_bt(log)
    sandwich_sd = np.sqrt(np.diag(sandwich_covariance(fit, log, cluster=cluster).to_numpy()))
    boot_sd = (
        bootstrap_ratings(log, rounds=400, rng=np.random.default_rng(0), cluster=cluster).std().to_numpy()
    )
    ratio = sandwich_sd / boot_sd
    # 59 models; question clustering has only 13 clusters, so its bootstrap is itself noisy.
    assert 0.85 < np.median(ratio) < 1.15
    assert (ratio > 0.5).all() and (ratio < 2.0).all()


def test_question_clustering_widens_intervals_when_questions_matter(shared_data: Path) -> None:
    log = llmfao(shared_data)
    fit = fit_bt(log)
    per_battle = np.diag(sandwich_covariance(fit, log).to_numpy())
    per_question = np.diag(sandwich_covariance(fit, log, cluster="question").to_numpy())
    assert np.median(per_question / per_battle) > 1.2


def test_sandwich_with_anchor_and_tie_models() -> None:
    log = small_log()
    pinned = fit_bt(log, anchor=("c", 1114.0))
    cov = sandwich_covariance(pinned)
    assert cov.loc["c", "c"] == pytest.approx(0.0, abs=1e-9)
    for ties in ("davidson", "rao-kupper"):
        cov = sandwich_covariance(fit_bt(log, ties=ties), log, cluster="question")  # type: ignore[arg-type]
        assert np.isfinite(cov.to_numpy()).all() and (np.diag(cov) > 0).all()
        np.testing.assert_allclose(cov.to_numpy().sum(axis=1), 0.0, atol=1e-6)  # mean rating is fixed


def test_sandwich_refuses_other_battles() -> None:
    log = small_log()
    with pytest.raises(InputError, match="not the ones"):
        sandwich_covariance(fit_bt(log), small_log(seed=1), cluster="question")
