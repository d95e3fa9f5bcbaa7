"""Contestants x questions -> answers, asked turn by turn, stored as they arrive, reused on a rerun.

A multi-turn question is one conversation: turn 2 is asked with turn 1's stored answer, so if turn 1 failed,
turn 2 is not asked and is recorded as skipped. A contestant's generation settings are part of each answer's
key, so changing temperature or max_tokens asks again instead of reusing answers made under other settings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from judge.batches import BatchQueue
from judge.config import ContestantConfig, TournamentConfig
from judge.providers.base import Endpoint, Message, Provider, Request
from judge.questions import Question
from judge.redaction import NO_SECRETS, Redactor
from judge.runner import Failed, Job, Outcome, Runner, Sleep, counted, request_key
from judge.store import Failure, Store, StoredAnswer

KEY_PREFIX = "a1:"
STAGE = "answers"


@dataclass(frozen=True)
class Answer:
    contestant: str
    question_id: str
    turn: int
    text: str  # untrusted model output
    key: str


@dataclass(frozen=True)
class AnswerProgress:
    """Counts so far, sent after every turn settles; `done` reaches `total` at the end."""

    total: int
    done: int = 0
    asked: int = 0
    reused: int = 0
    failed: int = 0
    skipped: int = 0
    last: str = ""  # e.g. "smol 81/2 stored"


@dataclass(frozen=True)
class AnswersResult:
    tournament: str
    db_path: str
    run_id: int
    progress: AnswerProgress
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    seconds: float
    answers: tuple[Answer, ...]
    failures: tuple[Failure, ...]


def build_request(
    contestant: ContestantConfig, question: Question, turn: int, earlier: Sequence[str]
) -> Request:
    """The request for one turn: every earlier turn and its answer, then this turn's text."""
    messages: list[Message] = []
    for text, answer in zip(question.turns[: turn - 1], earlier, strict=True):
        messages += [Message("user", text), Message("assistant", answer)]
    messages.append(Message("user", question.turns[turn - 1]))
    return Request(
        model=contestant.model,
        messages=tuple(messages),
        system=contestant.system,
        temperature=contestant.temperature,
        max_tokens=contestant.max_tokens,
        seed=contestant.seed,
        question_id=question.question_id,
        turn=turn,
    )


def answer_key(contestant: ContestantConfig, request: Request) -> str:
    """'a1:' + sha256 of provider, base_url, the request's settings and conversation, question id and turn."""
    extra = {"question_id": request.question_id, "turn": request.turn}
    return request_key(KEY_PREFIX, contestant.endpoint(), request, extra)


def _same(request: Request) -> Request:
    return request


class _Collector:
    """The state of one collection run: counts, and the writes to the store as outcomes arrive."""

    def __init__(self, store: Store, run_id: int, total: int, on_progress: Callable[[AnswerProgress], None]):
        self.store, self.run_id, self.on_progress = store, run_id, on_progress
        self.progress = AnswerProgress(total=total)
        self.answers: list[Answer] = []

    def settle(self, last: str, **counts: int) -> None:
        self.progress = counted(self.progress, last, **counts)
        self.on_progress(self.progress)

    async def ask(self, runner: Runner, contestant: ContestantConfig, question: Question) -> None:
        earlier: list[str] = []
        for turn in range(1, len(question.turns) + 1):
            request = build_request(contestant, question, turn, earlier)
            key = answer_key(contestant, request)
            label = f"{contestant.name} {question.question_id}/{turn}"
            stored = self.store.get_answer(key)
            if stored is not None:
                self.answers.append(Answer(contestant.name, question.question_id, turn, stored.text, key))
                self.settle(f"{label} reused", reused=1)
                earlier.append(stored.text)
                continue
            job = Job(
                key=key,
                endpoint=contestant.endpoint(),
                request=partial(_same, request),
                on_result=partial(self.record, contestant, question, turn),
                concurrency=contestant.concurrency,
                rpm=contestant.rpm,
                prices=contestant.prices,
            )
            outcome = await runner.execute(job)
            if isinstance(outcome, Failed):
                self.skip_rest(contestant, question, turn)
                return
            earlier.append(outcome.completion.text)

    def record(self, contestant: ContestantConfig, question: Question, turn: int, outcome: Outcome) -> None:
        label = f"{contestant.name} {question.question_id}/{turn}"
        if isinstance(outcome, Failed):
            failure = Failure(
                STAGE, outcome.key, contestant.name, question.question_id, turn,
                outcome.kind, outcome.message, outcome.attempts,
            )  # fmt: skip
            self.store.save_failure(self.run_id, failure, outcome.calls)
            self.settle(f"{label} failed: {outcome.kind}", failed=1)
            return
        text, served = outcome.completion.text, outcome.completion.model
        row = StoredAnswer(outcome.key, contestant.name, question.question_id, turn, text, served)
        self.store.save_answer(self.run_id, row, outcome.calls)
        self.answers.append(Answer(contestant.name, question.question_id, turn, text, outcome.key))
        self.settle(f"{label} stored", asked=1)

    def skip_rest(self, contestant: ContestantConfig, question: Question, failed_turn: int) -> None:
        for turn in range(failed_turn + 1, len(question.turns) + 1):
            message = f"not asked: turn {failed_turn} failed"
            failure = Failure(STAGE, None, contestant.name, question.question_id, turn, "skipped", message, 0)
            self.store.save_failure(self.run_id, failure)
            self.settle(f"{contestant.name} {question.question_id}/{turn} skipped", skipped=1)


async def collect_answers(
    config: TournamentConfig,
    questions: Sequence[Question],
    store: Store,
    providers: Callable[[Endpoint], Provider],
    *,
    on_progress: Callable[[AnswerProgress], None] = lambda progress: None,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    no_wait: bool = False,
    redact: Redactor = NO_SECRETS,
) -> AnswersResult:
    """Ask every contestant every question not already answered in `store`; failures are stored as data.

    `no_wait`: raise BatchesPending instead of waiting for a provider batch that is still open.
    """
    started = clock()
    run_id = store.start_run(STAGE, config.name, str(config.path))
    total = len(config.contestants) * sum(len(q.turns) for q in questions)
    collector = _Collector(store, run_id, total, on_progress)
    batches = BatchQueue(store, run_id, providers, no_wait=no_wait)
    runner = Runner(providers, config.retries, sleep=sleep, clock=clock, redact=redact, batches=batches)
    status = "interrupted"
    try:
        await runner.gather(collector.ask(runner, c, q) for c in config.contestants for q in questions)
        status = "finished"
    finally:
        await batches.aclose()
        p = collector.progress
        counts = {"asked": p.asked, "reused": p.reused, "failed": p.failed, "skipped": p.skipped}
        store.finish_run(run_id, status, {"total": total, **counts})
    totals = store.call_totals(run_id)
    slots = [(c.name, q.question_id) for c in config.contestants for q in questions]
    order = {slot: i for i, slot in enumerate(slots)}
    answers = sorted(collector.answers, key=lambda a: (order[a.contestant, a.question_id], a.turn))
    return AnswersResult(
        tournament=config.name,
        db_path=store.path,
        run_id=run_id,
        progress=collector.progress,
        calls=totals.calls,
        input_tokens=totals.input_tokens,
        output_tokens=totals.output_tokens,
        cost_usd=totals.cost_usd,
        seconds=clock() - started,
        answers=tuple(answers),
        failures=tuple(store.failures(run_id)),
    )
