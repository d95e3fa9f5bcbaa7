"""One tournament: answers -> pairings -> verdicts -> battles, round by round as the schedule asks.

Every answer and judgement is committed to the store as it arrives, so a rerun of the same config reuses all
of it and pays only for what is missing (an added contestant's answers and pairings, or calls that failed).
The schedule sees the same state-advance step as the schedule simulations in benchmarks/schedules.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from judge.answers import AnswerProgress, AnswersResult, collect_answers
from judge.batches import BatchQueue
from judge.battle_table import BattleTable, compact
from judge.battles import TIES
from judge.config import JudgeConfig, TournamentConfig
from judge.errors import ProviderError
from judge.judging import STAGE, JudgeProgress, KeySet, answer_table, judge_name
from judge.pairings import Schedule, ScheduleState, make_schedule
from judge.pairings.sequential import HeadToHead
from judge.pairings.state import advance, innermost, with_costs
from judge.panel_run import make_panel, panel_agreement, panel_costs, panel_summary
from judge.providers.base import Endpoint, Provider
from judge.questions import Question
from judge.redaction import NO_SECRETS, Redactor
from judge.runner import Runner, Sleep
from judge.store import Failure, Store, Usage
from judge.verdicts import VerdictStats


@dataclass(frozen=True)
class TournamentOutcome:
    """What a run produced, before any file is written."""

    answers: AnswersResult
    judging: JudgeProgress
    battles: BattleTable  # compact: a few dozen bytes a battle (judge.battle_table)
    judge_failures: tuple[Failure, ...]  # this run's failed judge calls and parse failures
    judgement_keys: KeySet  # base keys of the stored judge outputs behind this run's battles
    stats: VerdictStats
    pairs: int  # (question, pair) items the schedule handed out
    judge_run_id: int
    seconds: float
    answer_seconds: float  # of `seconds`, the answer stage
    decision: dict[str, Any] | None  # head-to-head: the decision, its interval and the calls it took
    by_judge: Mapping[str, BattleTable]  # each judge's own battles (the panel's members)
    judge_stats: Mapping[str, VerdictStats]
    judge_progress: Mapping[str, JudgeProgress]
    answers_cut: int = 0  # answers longer than judge.max_answer_chars, cut in the prompts they appeared in


async def run_tournament(
    config: TournamentConfig,
    questions: Sequence[Question],
    store: Store,
    providers: Callable[[Endpoint], Provider],
    *,
    on_answers: Callable[[AnswerProgress], None] = lambda progress: None,
    on_judging: Callable[[JudgeProgress], None] = lambda progress: None,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    no_wait: bool = False,
    redact: Redactor = NO_SECRETS,
) -> TournamentOutcome:
    """Collect answers, then judge the schedule's batches until it has nothing more to ask.

    With `batch:` endpoints each schedule batch (round) goes out as one provider batch per endpoint;
    `no_wait` raises BatchesPending where a run would wait for an open one.
    """
    started = clock()
    answers = await collect_answers(
        config,
        questions,
        store,
        providers,
        on_progress=on_answers,
        sleep=sleep,
        redact=redact,
        no_wait=no_wait,
    )
    answered = clock()
    texts = answer_table(answers.answers)
    by_id = {q.question_id: q for q in questions}
    run_id = store.start_run(STAGE, config.name, str(config.path))
    batches = BatchQueue(store, run_id, providers, no_wait=no_wait)
    runner = Runner(providers, config.retries, sleep=sleep, clock=clock, redact=redact, batches=batches)
    turns = max((len(q.turns) for q in questions), default=1)
    judging = make_panel(config, store, run_id, runner, by_id, texts, turns=turns, on_progress=on_judging)
    schedule = make_schedule(config.schedule.kind, **dict(config.schedule.options))
    costs = panel_costs(config.panel_judges, turns)  # a budget covers the whole panel
    schedule = with_costs(schedule, calls_per_pair=costs.calls_per_pair, usd_per_call=costs.usd_per_call)
    contestants = tuple(c.name for c in config.contestants)
    state = ScheduleState(contestants, tuple(by_id), battles=BattleTable())
    pairs = 0
    status = "interrupted"
    try:
        while batch := schedule.next_batch(state):
            battles = await judging.judge_batch(batch)
            if judging.unusable is not None:  # fail fast, with advice, instead of paying for every pair
                raise ProviderError(judging.unusable, hint=judging.advice())
            pairs += len(batch)
            state = advance(state, batch, battles)
        status = "finished"
    finally:
        await batches.aclose()
        p = judging.progress
        summary = {"judged": p.judged, "reused": p.reused, "failed": p.failed, "skipped": p.skipped}
        store.finish_run(run_id, status, {"total": p.total, "pairs": pairs, **summary})
    per_judge = judging.verdict_stats()
    battles = compact(state.battles)
    by_judge = dict(judging.by_judge) if len(judging.judgings) > 1 else {judging.names[0]: battles}
    return TournamentOutcome(
        answers=answers,
        judging=judging.progress,
        battles=battles,
        judge_failures=tuple(store.failures(run_id)),
        judgement_keys=judging.base_keys,
        stats=next(iter(per_judge.values())),  # the first (or only) judge
        pairs=pairs,
        judge_run_id=run_id,
        seconds=clock() - started,
        answer_seconds=answered - started,
        decision=_decision(schedule, state, costs.calls_per_pair),
        by_judge=by_judge,
        judge_stats=per_judge,
        judge_progress={j.name: j.progress for j in judging.judgings},
        answers_cut=len(judging.cut_answers),
    )


def _decision(schedule: Schedule, state: ScheduleState, calls_per_pair: int) -> dict[str, Any] | None:
    """What a head-to-head schedule concluded (under any budget or placement wrapper), for the summary."""
    inner = innermost(schedule)
    if not isinstance(inner, HeadToHead):
        return None
    result = inner.result(state)
    interval = result.interval
    return {
        "candidate": inner.candidate,
        "baseline": inner.baseline,
        "decision": result.decision,
        "win_rate": None if interval.battles == 0 else round(interval.mean, 4),
        "ci_low": round(interval.low, 4),
        "ci_high": round(interval.high, 4),
        "questions": interval.battles,  # the unit of the confidence sequence
        "judge_calls": result.pairs_scheduled * calls_per_pair,
    }


def problems(config: TournamentConfig, outcome: TournamentOutcome) -> tuple[str, ...]:
    """Why a run is not complete, in the order a user would fix them; empty when every item was decided.

    A nightly job must not pass on a leaderboard that silently lost a contestant or half its verdicts, so
    each of these makes `judge run` exit non-zero unless partial runs are accepted explicitly.
    """
    a, j = outcome.answers.progress, outcome.judging
    found = []
    if a.failed or a.skipped:
        found.append(
            f"{a.failed} answer(s) failed after retries" + (f", {a.skipped} not asked" if a.skipped else "")
        )
    answered = {answer.contestant for answer in outcome.answers.answers}
    silent = [c.name for c in config.contestants if c.name not in answered]
    if silent:
        found.append(f"no answers from {', '.join(silent)}")
    if j.failed:
        unreadable = f" ({j.parse_failed} unreadable)" if j.parse_failed else ""
        found.append(f"{j.failed} judgement(s) failed{unreadable}")
    if j.skipped:
        found.append(f"{j.skipped} judgement(s) not made for want of an answer")
    if not outcome.battles:
        found.append("no battle was decided")
    else:
        rated = compact(outcome.battles).distinct("model_a") | compact(outcome.battles).distinct("model_b")
        unrated = [c.name for c in config.contestants if c.name not in rated and c.name in answered]
        if unrated:
            found.append(f"not on the leaderboard (no decided battle): {', '.join(unrated)}")
    return tuple(found)


def counts(outcome: TournamentOutcome) -> dict[str, dict[str, int]]:
    """The run's counts as the progress bars and the summary show them (diagnostics.json's `run` section)."""
    a, j = outcome.answers.progress, outcome.judging
    return {
        "answers": {
            "total": a.total,
            "asked": a.asked,
            "reused": a.reused,
            "failed": a.failed,
            "skipped": a.skipped,
        },
        "judgements": {
            "total": j.total,
            "made": j.judged,
            "reused": j.reused,
            "failed": j.failed,
            "unreadable": j.parse_failed,
            "skipped": j.skipped,
        },
    }


def diagnostics(
    config: TournamentConfig,
    outcome: TournamentOutcome,
    usage: Mapping[str, Usage],
    judge: str,
    replicas: Mapping[str, list[dict[str, object]]] | None = None,
) -> dict[str, Any]:
    """diagnostics.json: each judge's reliability, the panel's agreement, every party's tokens and cost.

    Batch calls and their cost are shown apart (`batch_calls`, `batch_cost_usd`, both within the totals);
    `replicas` (name -> per-replica counts) adds each pooled endpoint's replicas.
    """

    def spend(name: str) -> dict[str, Any]:
        u = usage.get(name)
        found: dict[str, Any]
        if u is None:
            found = {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": None, "seconds": 0.0}
        else:
            found = {
                "calls": u.calls,
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cost_usd": u.cost_usd,
                "seconds": round(u.seconds, 3),
            }
            if u.batch_calls:
                found |= {"batch_calls": u.batch_calls, "batch_cost_usd": u.batch_cost_usd}
        if replicas and name in replicas:
            found["replicas"] = replicas[name]
        return found

    answers_per = {c.name: 0 for c in config.contestants}
    for a in outcome.answers.answers:
        answers_per[a.contestant] = answers_per.get(a.contestant, 0) + 1
    entries = {
        judge_name(j): _judge_entry(j, judge_name(j), outcome, spend(judge_name(j)))
        for j in config.panel_judges
    }
    found = problems(config, outcome)
    out: dict[str, Any] = {
        "run": {"complete": not found, "problems": list(found), **counts(outcome)},
        "judge": entries[judge] if config.panel is None else panel_summary(config, entries),
        "contestants": {
            name: {
                "answers": count,
                "failures": sum(f.subject == name for f in outcome.answers.failures),
                **spend(name),
            }
            for name, count in answers_per.items()
        },
    }
    if config.panel is not None:
        out["judges"] = entries
        out["panel"] = panel_agreement(config, outcome.by_judge)
    if outcome.decision is not None:
        out["head_to_head"] = outcome.decision
    return out


def _judge_entry(
    config: JudgeConfig, name: str, outcome: TournamentOutcome, spent: dict[str, Any]
) -> dict[str, Any]:
    stats = outcome.judge_stats[name]
    decided = outcome.by_judge[name]
    progress = outcome.judge_progress[name]
    ties = compact(decided).count_in("winner", TIES)
    return {
        "name": name,
        "model": config.model,
        "provider": config.provider,
        "combine": config.combine,
        "answer_format": config.answer_format,
        "judgements": stats.judgements,
        "pairs_with_both_orders": stats.pairs_with_both_orders,
        "position_consistency": _finite(stats.position_consistency),
        "first_position_preference": _finite(stats.first_position_share),
        "tie_rate": _finite(stats.tie_rate),
        "battle_tie_rate": _finite(ties / len(decided)) if decided else None,
        "parse_failures": stats.parse_failures,
        "max_answer_chars": config.max_answer_chars,
        "answers_cut": outcome.answers_cut,
        # This run's calls that failed for good; stats.parse_failures also counts reused outputs.
        "failed_calls": progress.failed - progress.parse_failed,
        **spent,
    }


def _finite(value: float) -> float | None:
    return None if value != value else round(value, 4)  # NaN (nothing to measure) -> null
