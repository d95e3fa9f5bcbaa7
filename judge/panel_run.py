"""The judging stage with a panel: one Judging per judge, the same batch for each, their battles combined.

Every judge goes through judge.judging's stored, resumable, position-swapped path with its own concurrency,
rate limit and prices, so adding a judge to a finished tournament pays only that judge's calls and removing
one pays nothing (its stored verdicts stay in the store, unused). A tournament with one judge is a panel of
one under `pool`, whose battles are exactly that judge's.

With `combine: single` every second judge is shown the other order of each item, so the panel as a whole sees
each model first about as often as second. A judge's own budget (judges[].budget) caps it at the first pairs
the schedule hands out, so a rerun replays the same cut and never pays twice.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from judge.battle_table import BattleTable
from judge.battles import Battle
from judge.config import JudgeConfig, TournamentConfig
from judge.judging import JudgeProgress, Judging, KeySet, judge_name
from judge.pairings import Pair
from judge.panel import PanelRule, panel_battles, votes_table
from judge.questions import Question
from judge.runner import Runner
from judge.store import Store
from judge.validate.interrater import krippendorff_alpha, majority_share, pairwise_kappa
from judge.verdicts import VerdictStats

# A judge call's size for dollar budgets, before any call is made: a long prompt and a full reply.
_PROMPT_TOKENS = 2000
_REPLY_TOKENS = 500


def panel_rule(config: TournamentConfig) -> PanelRule:
    """The combine rule of the tournament's panel (pool for a single judge)."""
    panel = config.panel
    if panel is None:
        return PanelRule()
    return PanelRule(panel.combine, panel.weights, panel.tie_margin, panel.name)


def calls_per_pair(judge: JudgeConfig, turns: int) -> int:
    return (1 if judge.combine == "single" else 2) * turns


def usd_per_call(judge: JudgeConfig) -> float | None:
    prices = judge.prices
    return None if prices is None else prices.cost(_PROMPT_TOKENS, judge.max_tokens or _REPLY_TOKENS)


def pair_cap(judge: JudgeConfig, turns: int) -> float:
    """How many pairs the judge's own budget allows (inf without one)."""
    per_pair = calls_per_pair(judge, turns)
    cap = math.inf
    if judge.budget_calls is not None:
        cap = judge.budget_calls // per_pair
    usd = usd_per_call(judge)
    if judge.budget_usd is not None and usd is not None:
        cap = min(cap, math.floor(judge.budget_usd / (usd * per_pair) + 1e-9))
    return cap


@dataclass(frozen=True)
class PanelCosts:
    """The panel's cost per scheduled pair, for the schedule's budget (which covers the whole panel)."""

    calls_per_pair: int
    usd_per_call: float | None  # mean over the panel's calls; None when a judge has no prices


def panel_costs(judges: Sequence[JudgeConfig], turns: int) -> PanelCosts:
    calls = sum(calls_per_pair(j, turns) for j in judges)
    prices = [usd_per_call(j) for j in judges]
    if any(p is None for p in prices):
        return PanelCosts(calls, None)
    usd = sum(p * calls_per_pair(j, turns) for p, j in zip(prices, judges, strict=True) if p is not None)
    return PanelCosts(calls, usd / calls)


class PanelJudging:
    """Judges each batch with every judge at once and keeps each judge's battles and judgements."""

    def __init__(
        self,
        judgings: Sequence[Judging],
        rule: PanelRule,
        caps: Sequence[float],
        on_progress: Callable[[JudgeProgress], None] = lambda progress: None,
    ) -> None:
        self.judgings, self.rule, self.caps = tuple(judgings), rule, tuple(caps)
        self.handed = [0] * len(self.judgings)  # pairs handed to each judge so far (for its own budget)
        # Each judge's own battles, kept for a panel of several (one judge's are the panel's battles).
        self.by_judge: dict[str, BattleTable] = {j.name: BattleTable() for j in self.judgings}
        self.on_progress = on_progress

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.judgings)

    @property
    def progress(self) -> JudgeProgress:
        """Every judge's counters summed; `last` from the judge that reported last."""
        parts = [j.progress for j in self.judgings]
        counts = {
            f.name: sum(getattr(p, f.name) for p in parts) for f in fields(JudgeProgress) if f.name != "last"
        }
        return JudgeProgress(**counts, last=getattr(self, "_last", ""))

    def _report(self, name: str, progress: JudgeProgress) -> None:
        self._last = progress.last if len(self.judgings) == 1 else f"{name}: {progress.last}"
        self.on_progress(self.progress)

    async def judge_batch(self, batch: Sequence[Pair]) -> BattleTable:
        """Every judge's verdicts on the batch (within its budget), combined into the panel's battles."""
        shares = []
        for index, cap in enumerate(self.caps):
            room = max(0, int(min(cap - self.handed[index], len(batch))))
            shares.append(batch if room >= len(batch) else batch[:room])  # a slice of a plan stays a plan
            self.handed[index] += len(batch)
        results = await asyncio.gather(
            *(j.judge_batch(share) for j, share in zip(self.judgings, shares, strict=True))
        )
        if len(results) == 1:  # one judge: its battles are the panel's (by_judge is left to the caller)
            return results[0]
        fresh = {j.name: battles for j, battles in zip(self.judgings, results, strict=True)}
        for name, battles in fresh.items():
            self.by_judge[name].extend(battles)
        if self.rule.combine == "pool":  # pooled: each judge's battles as they are
            pooled = BattleTable()
            for battles in fresh.values():
                pooled.extend(battles)
            return pooled
        return BattleTable(panel_battles(fresh, self.rule))

    @property
    def cut_answers(self) -> set[tuple[str, str, int]]:
        """Answers any judge's prompts cut to judge.max_answer_chars."""
        return set().union(*(j.cut_answers for j in self.judgings))

    @property
    def unusable(self) -> str | None:
        """Why a judge of the panel cannot produce its verdict format (the first such), else None."""
        return next((j.unusable for j in self.judgings if j.unusable is not None), None)

    def advice(self) -> str:
        """How to get the unusable judge going (judge.judging.Judging.advice)."""
        return next((j.advice() for j in self.judgings if j.unusable is not None), "")

    def verdict_stats(self) -> dict[str, VerdictStats]:
        """Each judge's reliability counts over the items it finished."""
        return {j.name: j.verdicts.stats() for j in self.judgings}

    @property
    def base_keys(self) -> KeySet:
        keys = KeySet()
        for judging in self.judgings:
            keys.update(judging.base_keys)
        return keys


def make_panel(
    config: TournamentConfig,
    store: Store,
    run_id: int,
    runner: Runner,
    questions: Mapping[str, Question],
    answers: Mapping[tuple[str, str, int], str],
    *,
    turns: int,
    on_progress: Callable[[JudgeProgress], None] = lambda progress: None,
) -> PanelJudging:
    """One Judging per judge of the config, sharing the store, run and runner."""
    judges = config.panel_judges
    holder: list[PanelJudging] = []

    def reporter(name: str) -> Callable[[JudgeProgress], None]:
        return lambda progress: holder[0]._report(name, progress) if holder else None

    judgings = [
        Judging(
            judge,
            store,
            run_id,
            runner,
            questions,
            answers,
            base_dir=Path(config.path).parent,
            seed=config.seed,
            on_progress=reporter(judge_name(judge)),
            flip=index % 2 == 1,
            either_order=config.panel is not None,
        )
        for index, judge in enumerate(judges)
    ]
    panel = PanelJudging(judgings, panel_rule(config), [pair_cap(j, turns) for j in judges], on_progress)
    holder.append(panel)
    return panel


def panel_summary(config: TournamentConfig, entries: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """diagnostics.json "judge" for a panel: its name and rule, and the members' counts and spend summed."""
    panel = config.panel
    assert panel is not None
    summed = ("judgements", "parse_failures", "failed_calls", "calls", "input_tokens", "output_tokens")
    costs = [e.get("cost_usd") for e in entries.values()]
    return {
        "name": panel.name,
        "model": "panel of " + ", ".join(entries),
        "provider": "panel",
        "combine": panel.combine,
        "judges": list(entries),
        **{key: sum(int(e.get(key) or 0) for e in entries.values()) for key in summed},
        "cost_usd": None if all(c is None for c in costs) else sum(float(c or 0.0) for c in costs),
        "seconds": round(sum(float(e.get("seconds") or 0.0) for e in entries.values()), 3),
        "position_consistency": None,  # per judge, under "judges"
        "first_position_preference": None,
        "tie_rate": None,
    }


def panel_agreement(config: TournamentConfig, by_judge: Mapping[str, Sequence[Battle]]) -> dict[str, Any]:
    """How the judges agree: Cohen's kappa per pair, Krippendorff's alpha, share siding with the majority."""
    names = [judge_name(j) for j in config.panel_judges]
    votes = votes_table(by_judge)
    rule = panel_rule(config)

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    kappa = pairwise_kappa(votes, names)
    return {
        "name": rule.name,
        "combine": rule.combine,
        "weights": None if rule.weights is None else dict(rule.weights),
        "judges": names,
        "items": len(votes),
        "items_all_judges": sum(len(cast) == len(names) for cast in votes.values()),
        "cohen_kappa": {a: {b: rounded(v) for b, v in row.items()} for a, row in kappa.items()},
        "krippendorff_alpha": rounded(krippendorff_alpha(votes)),
        "majority_share": {k: rounded(v) for k, v in majority_share(votes, names).items()},
    }
