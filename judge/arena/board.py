"""The arena's live leaderboard: computed from the stored votes by the rating engine, off the event loop.

`board` is pure (a battle frame in, a JSON-ready dict out). `BoardKeeper` recomputes it in its own thread
whenever votes arrived since the last time, at most every `min_interval` seconds, and publishes the result
by swapping one reference: reading the board never waits for a computation and voting never waits for either.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from scipy.stats import ConstantInputWarning

from judge.arena.record import log_battle
from judge.arena.sampler import Pair, PairStats
from judge.battles import Battle, to_frame
from judge.errors import InputError
from judge.ratings.leaderboard import leaderboard
from judge.ratings.matrices import battle_count_matrix, predicted_win_matrix, win_fraction_matrix
from judge.store import DB_NAME, Store
from judge.validate.ranks import brier_score, rank_agreement

Z95: Final = 1.959964


@dataclass(frozen=True)
class JudgeSide:
    """A judge tournament's board on the same contestants, shown beside the humans'."""

    run_dir: str
    board: pd.DataFrame  # LEADERBOARD_COLUMNS


def load_judge_side(run_dir: str | Path) -> JudgeSide:
    """The judge board of a results directory (leaderboard.json as `judge run` wrote it)."""
    from judge.report.rundir import load_run_dir

    data = load_run_dir(run_dir, details=False)
    rows = [row.__dict__ for row in data.leaderboard.rows]
    return JudgeSide(str(run_dir), pd.DataFrame(rows))


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in table.to_dict(orient="records"):
        out.append({k: _plain(v) for k, v in row.items()})
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else round(float(value), 4)
    return value


def _matrix(table: pd.DataFrame, order: list[str]) -> dict[str, Any]:
    square = table.reindex(index=order, columns=order)
    return {"models": order, "values": [[_plain(v) for v in row] for row in square.to_numpy(dtype=float)]}


def board(
    frame: pd.DataFrame, *, bootstrap: int, seed: int = 0, judge: JudgeSide | None = None
) -> dict[str, Any]:
    """Everything the leaderboard tab shows, from a battle frame of human votes."""
    out: dict[str, Any] = {"votes": len(frame), "ready": False}
    out["by_language"] = _counts(frame["language"].fillna("und"))
    days = pd.to_datetime(frame["tstamp"].astype("float64"), unit="s", utc=True).dt.strftime("%Y-%m-%d")
    out["by_day"] = _counts(days, by_key=True)
    models = sorted(set(frame["model_a"].astype(str)) | set(frame["model_b"].astype(str)))
    if len(models) < 2:
        out["message"] = "no votes yet" if frame.empty else "votes on only one model so far"
        return out
    repeats = bool(frame["question_id"].duplicated().any())
    cluster: Literal["question", "battle"] = "question" if repeats else "battle"
    try:
        bt = leaderboard(
            frame,
            method="bt",
            bootstrap=bootstrap,
            seed=seed,
            cluster=cluster,
            ci="bootstrap" if bootstrap else "none",
        )
        elo = leaderboard(frame, method="elo", ci="none")
    except InputError as exc:
        out["message"] = exc.message
        return out
    order = list(bt["model"])
    ratings = pd.Series(bt["rating"].to_numpy(), index=order)
    out.update(
        ready=True,
        cluster=cluster,
        bootstrap=bootstrap,
        bt=_records(bt),
        elo=_records(elo),
        win_fraction=_matrix(win_fraction_matrix(frame), order),
        predicted=_matrix(predicted_win_matrix(ratings), order),
        battles=_matrix(battle_count_matrix(frame).astype(float), order),
    )
    if judge is not None:
        out["judge"] = _judge(bt, judge, frame)
    return out


def _judge(human: pd.DataFrame, side: JudgeSide, frame: pd.DataFrame) -> dict[str, Any]:
    with warnings.catch_warnings():  # a constant board (early on: all ratings equal) has no rank correlation
        warnings.simplefilter("ignore", ConstantInputWarning)
        agreement = rank_agreement(human, side.board)
    ratings = pd.Series(side.board["rating"].to_numpy(dtype=float), index=side.board["model"].astype(str))
    brier, brier_votes = brier_score(ratings, frame)
    numbers = {**agreement.to_json(), "brier": brier, "brier_votes": brier_votes}
    return {
        "run_dir": side.run_dir,
        "board": _records(side.board),
        "agreement": {k: _plain(v) for k, v in numbers.items()},
    }


def _counts(values: pd.Series, *, by_key: bool = False) -> list[dict[str, Any]]:
    counts = values.astype(str).value_counts()
    items = sorted(counts.items()) if by_key else sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"key": k, "votes": int(v)} for k, v in items]


def pair_stats(result: Mapping[str, Any]) -> dict[Pair, PairStats]:
    """Battles per pair and the variance of its rating difference (from the intervals), for the sampler."""
    if not result.get("ready"):
        return {}
    sd = {}
    for row in result["bt"]:
        low, high = row["ci_lower"], row["ci_upper"]
        sd[row["model"]] = None if low is None or high is None or high <= low else (high - low) / (2 * Z95)
    counts = result["battles"]
    models = counts["models"]
    stats = {}
    for i, a in enumerate(models):
        for j, b in enumerate(models):
            if a < b:
                sa, sb = sd.get(a), sd.get(b)
                variance = None if sa is None or sb is None else sa * sa + sb * sb
                stats[(a, b)] = PairStats(int(counts["values"][i][j] or 0), variance)
    return stats


class BoardKeeper:
    """Recomputes the board in a background thread after new votes; `snapshot` is always immediate."""

    def __init__(
        self,
        out_dir: Path,
        *,
        bootstrap: int,
        seed: int = 0,
        judge: JudgeSide | None = None,
        min_interval: float = 1.0,
        on_update: Callable[[dict[str, Any]], None] = lambda _: None,
    ) -> None:
        self.db_path = out_dir / DB_NAME
        self.bootstrap, self.seed, self.judge = bootstrap, seed, judge
        self.min_interval = min_interval
        self.on_update = on_update
        self._snapshot: dict[str, Any] = {"votes": 0, "ready": False, "message": "computing", "version": 0}
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="arena-board", daemon=True)
        self._battles: list[Battle] = []
        self._last_rowid = 0

    def start(self) -> BoardKeeper:
        self._dirty.set()
        self._thread.start()
        return self

    def mark_dirty(self) -> None:
        """New votes were stored (thread-safe; called from the event loop)."""
        self._dirty.set()

    def snapshot(self) -> dict[str, Any]:
        return self._snapshot

    def wait_for(self, votes: int, timeout: float = 30.0) -> dict[str, Any]:
        """The first snapshot counting at least `votes` votes (tests and the load benchmark)."""
        deadline = time.monotonic() + timeout
        while self._snapshot["votes"] < votes or self._dirty.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the board still counts {self._snapshot['votes']} of {votes} votes")
            time.sleep(0.05)
        return self._snapshot

    def close(self) -> None:
        self._stop.set()
        self._dirty.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        with Store.open(self.db_path) as store:
            while True:
                self._dirty.wait()
                if self._stop.is_set():
                    return
                self._dirty.clear()
                started = time.monotonic()
                for rowid, row in store.arena_battles("voted", after=self._last_rowid):
                    self._battles.append(log_battle(row))
                    self._last_rowid = rowid
                frame = to_frame(self._battles)
                try:
                    result = board(frame, bootstrap=self.bootstrap, seed=self.seed, judge=self.judge)
                except Exception as exc:  # a board that cannot be computed must not stop the next one
                    result = {"votes": len(frame), "ready": False, "by_language": [], "by_day": []}
                    result["message"] = f"the leaderboard could not be computed: {type(exc).__name__}: {exc}"
                result["version"] = self._snapshot.get("version", 0) + 1
                result["seconds"] = round(time.monotonic() - started, 3)
                self._snapshot = result
                self.on_update(result)
                self._stop.wait(max(0.0, self.min_interval - (time.monotonic() - started)))
