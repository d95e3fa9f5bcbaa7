"""The rating engine: battle log in, ratings, intervals and tables out. Pure: no I/O, no clock, explicit
rng."""

from judge.ratings.bootstrap import bootstrap_ratings
from judge.ratings.bt import DEFAULT_PRIOR, BTFit, EloScale, fit_bt
from judge.ratings.elo import online_elo
from judge.ratings.leaderboard import (
    LEADERBOARD_COLUMNS,
    board_order,
    clustered,
    leaderboard,
    leaderboards_by,
    resolve_cluster,
    separated_models,
)
from judge.ratings.matrices import battle_count_matrix, predicted_win_matrix, win_fraction_matrix
from judge.ratings.sandwich import sandwich_covariance
from judge.ratings.style import STYLE_FEATURES, StyleFit, bootstrap_style, fit_style

__all__ = [
    "DEFAULT_PRIOR",
    "LEADERBOARD_COLUMNS",
    "STYLE_FEATURES",
    "BTFit",
    "EloScale",
    "StyleFit",
    "battle_count_matrix",
    "board_order",
    "bootstrap_ratings",
    "clustered",
    "bootstrap_style",
    "fit_bt",
    "fit_style",
    "leaderboard",
    "leaderboards_by",
    "online_elo",
    "predicted_win_matrix",
    "resolve_cluster",
    "sandwich_covariance",
    "separated_models",
    "win_fraction_matrix",
]
