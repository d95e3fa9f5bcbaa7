"""Pairs -> judgements -> battles: the judge decides each (question, pair, turn), in both orders by default.

Every judge call's raw output is stored with what it parsed to (or nothing, for a parse failure), so verdict
rules and parsing can change without paying again. An unparseable output is asked again with a fresh sampling
seed up to `judge.parse_retries` times, then recorded as a parse failure: never as a tie. Network failures go
through the runner's retries and are stored as failures; a rerun asks them again, while a stored judgement is
never paid twice.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from judge.answers import Answer
from judge.battle_table import BattleTable
from judge.battles import Battle
from judge.config import JudgeConfig
from judge.pairings import Pair
from judge.prompts import (
    RenderedPrompt,
    Template,
    TurnText,
    cut_answer,
    default_template_name,
    load_template,
    render,
)
from judge.providers.base import Completion, Request
from judge.questions import Question
from judge.runner import Failed, Job, Runner, counted, request_key
from judge.store import Failure, Store, StoredJudgement
from judge.verdicts import (
    ORDERS,
    CombineRule,
    Judgement,
    Order,
    ParseFailure,
    Preference,
    VerdictTally,
    combine,
    combine_shares,
    games,
    logprob_shares,
    parse_logprobs,
    parse_output,
    to_battle,
    verdict_schema,
)

KEY_PREFIX = "j1:"
# This many unreadable judge outputs before a first readable one: the judge cannot follow the verdict format,
# and the rest of the run would only pay for more of the same (and wait for every retry).
UNUSABLE_AFTER = 8
STAGE = "judge"
# Pairs of a round judged together before their battles are decided and their state dropped.
CHUNK_PAIRS = 1024
PARSE_FAILURE = "parse"


def judge_name(judge: JudgeConfig) -> str:
    """How the judge is named in the battle log (`judge` column)."""
    return judge.name or judge.model


@dataclass(frozen=True)
class JudgeProgress:
    total: int
    done: int = 0
    judged: int = 0
    reused: int = 0
    failed: int = 0
    skipped: int = 0  # an answer the judgement needs is missing (its call failed)
    # Of `failed`: answered every time, but no verdict could be read (in this run, or stored by an earlier
    # one: those are not asked again, and an item without a verdict is a failure however old it is).
    parse_failed: int = 0
    last: str = ""


@dataclass
class _Chunk:
    """Pairs of a batch judged together, and how many of their calls are not settled yet."""

    pairs: Sequence[Pair]
    left: int = 0


class KeySet:
    """Request keys as 64-bit numbers (the first 16 hex digits of their sha256): 8 bytes a key, not ~150.

    Only filters details.jsonl rows, where a false match would need two of a run's keys to share 64 bits.
    """

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._codes: array[int] = array("Q")
        self._sorted: np.ndarray[Any, np.dtype[np.uint64]] | None = None
        for key in keys:
            self.add(key)

    @staticmethod
    def _code(key: str) -> int:
        digest = key.split(":", 1)[-1]
        try:
            return int(digest[:16], 16)
        except ValueError:  # not a hex digest: hash it
            return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")

    def add(self, key: str) -> None:
        self._codes.append(self._code(key))
        self._sorted = None

    def update(self, other: KeySet) -> None:
        self._codes.extend(other._codes)
        self._sorted = None

    def __len__(self) -> int:
        return len(self._frozen())

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        found = self._frozen()
        code = np.uint64(self._code(key))
        at = int(np.searchsorted(found, code))
        return at < len(found) and found[at] == code

    def _frozen(self) -> np.ndarray[Any, np.dtype[np.uint64]]:
        if self._sorted is None:
            self._sorted = np.unique(np.array(self._codes, dtype=np.uint64))
        return self._sorted


@dataclass(frozen=True)
class _Task:
    """One order of one (question, pair, turn) to judge."""

    pair: Pair
    turn: int
    order: Order
    question: Question


class Judging:
    """Judges batches of pairs for one run; keeps the judgements it has seen so battles can be combined."""

    def __init__(
        self,
        judge: JudgeConfig,
        store: Store,
        run_id: int,
        runner: Runner,
        questions: Mapping[str, Question],
        answers: Mapping[tuple[str, str, int], str],
        *,
        base_dir: Path | None = None,
        seed: int = 0,
        on_progress: Callable[[JudgeProgress], None] = lambda progress: None,
        flip: bool = False,
        either_order: bool = False,
    ) -> None:
        self.judge, self.store, self.run_id, self.runner = judge, store, run_id, runner
        self.questions, self.answers = questions, answers
        self.rule = CombineRule(judge.combine, strong_weight=judge.strong_weight, seed=seed)
        self.name = judge_name(judge)
        self.on_progress = on_progress
        self.progress = JudgeProgress(total=0)
        self.judgements: dict[tuple[Pair, int, Order], Preference | None] = {}
        self.shares: dict[tuple[Pair, int, Order], dict[Preference, float]] = {}  # token format only
        self.base_keys = KeySet()  # judgements this run asked for or reused (for details.jsonl)
        self.verdicts = VerdictTally()  # position consistency, ties, ... of the items finished so far
        self.flip = flip  # `single`: show the other order (every second judge of a panel, for balance)
        # `single` in a panel: a stored verdict in the other order counts, so a judge whose turn to flip
        # changed (a judge before it was removed) pays nothing again.
        self.either_order = either_order
        self.readable = self.unreadable = 0  # judge outputs this run asked for, by whether a verdict was read
        self.unusable: str | None = None  # set once the judge has shown it cannot produce the verdict format
        # When each order's verdict was stored: a battle's tstamp is its latest, so a rerun that reuses
        # every verdict writes the same battle log byte for byte.
        self.stored_at: dict[tuple[Pair, int, Order], float | None] = {}
        self.cut_answers: set[tuple[str, str, int]] = set()  # (contestant, question, turn) cut in prompts
        self._templates: dict[str, Template] = {}
        self._base_dir = base_dir
        if judge.template is not None:  # load now: a bad template is an input error before any call
            self._template(judge.template)

    @staticmethod
    def turns_of(question: Question) -> range:
        return range(1, len(question.turns) + 1)

    def orders(self, pair: Pair, turn: int) -> tuple[Order, ...]:
        """Both orders, or for `single` the one a position-balancing schedule pinned (else a seeded pick)."""
        if self.rule.name == "single" and pair.first is not None:
            picked: tuple[Order, ...] = ("ab",) if pair.first == pair.model_a else ("ba",)
        else:
            picked = self.rule.orders(pair, turn)
        if self.flip and self.rule.name == "single":
            return ("ba",) if picked == ("ab",) else ("ab",)
        return picked

    async def judge_batch(self, batch: Sequence[Pair]) -> BattleTable:
        """Judge every order of every turn of the batch (reusing what is stored); return the new battles.

        The batch is worked through in chunks of CHUNK_PAIRS pairs: a chunk's tasks are made when the workers
        reach it, and once every call of a chunk (and of the chunks before it) is settled its battles are
        decided, its verdicts counted into `verdicts` and its per-order state dropped. So a round of 500,000
        pairs (a round-robin's only round) holds only the chunks in flight, never a task or verdict per call.
        """
        total = sum(
            len(self.orders(pair, turn))
            for pair in batch
            for turn in self.turns_of(self.questions[pair.question_id])
        )
        self.progress = replace(self.progress, total=self.progress.total + total)
        out = BattleTable()
        # A fixed set of workers takes the tasks one by one: preparing (render, hash, look up) only a little
        # ahead of the calls in flight keeps the event loop free for reading answers, and there is no
        # coroutine per call however big the round. A batch judge takes the whole round at once: it goes out
        # as one provider batch.
        batched = self.judge.batch
        width = 2 * self.judge.concurrency if batched is None else batched.max_requests
        size = max(CHUNK_PAIRS, width) if batched is None else max(1, len(batch))
        pending: deque[_Chunk] = deque()

        def tasks() -> Iterator[tuple[_Task, _Chunk]]:
            for start in range(0, len(batch), size):
                chunk = _Chunk(batch[start : start + size])
                made = [
                    _Task(pair, turn, order, self.questions[pair.question_id])
                    for pair in chunk.pairs
                    for turn in self.turns_of(self.questions[pair.question_id])
                    for order in self.orders(pair, turn)
                ]
                # Calls that show the same question and the same first answer go out one after another:
                # their prompts share everything up to the second answer, which a prompt-caching server
                # computes once.
                made.sort(key=_shared_prefix)
                chunk.left = len(made)
                pending.append(chunk)
                for task in made:
                    yield task, chunk

        todo = tasks()

        async def worker() -> None:
            for task, chunk in todo:
                await self._judge(task)
                chunk.left -= 1
                while pending and pending[0].left == 0:  # in batch order: the battle log's order
                    out.extend(self._finish(pending.popleft().pairs))

        await self.runner.gather(worker() for _ in range(min(width, total)))
        return out

    def _finish(self, pairs: Sequence[Pair]) -> list[Battle]:
        """The battles of judged pairs; their verdicts go into the running counts and are then forgotten."""
        battles: list[Battle] = []
        judged: list[Judgement] = []
        for pair in pairs:
            question = self.questions[pair.question_id]
            for turn in self.turns_of(question):
                battles += self.battles(pair, turn, question)
                for order in ORDERS:
                    slot = (pair, turn, order)
                    if slot in self.judgements:
                        judged.append(Judgement(pair, turn, order, self.judgements.pop(slot)))
                    self.stored_at.pop(slot, None)
                    self.shares.pop(slot, None)
        self.verdicts.add(judged)
        return battles

    def battles(self, pair: Pair, turn: int, question: Question) -> list[Battle]:
        """The battle-log rows of one judged (question, pair, turn): one battle, or one per game (`score`),
        none while an order it needs is missing. Each row keeps the per-order verdicts as shown."""
        either = self.either_order and self.rule.name == "single"
        judged = {
            order: pref
            for order in (ORDERS if either else self.orders(pair, turn))
            if (pref := self.judgements.get((pair, turn, order))) is not None
        }
        row = partial(to_battle, pair, judge=self.name, turn=turn, category=question.category)
        if self.rule.name == "score":
            played = games(self.rule, judged)
            if played is None:
                return []
            return [
                row(w, tstamp=self.stored_time(pair, turn, (o,)), judged={o: judged[o]}, single=o)
                for o, w in played
            ]
        if self.rule.name == "logprob":
            shares = {o: v for o in ORDERS if (v := self.shares.get((pair, turn, o))) is not None}
            winner = combine_shares(self.rule, shares)
        else:
            winner = combine(self.rule, judged)
        if winner is None:
            return []
        single = next(iter(judged)) if self.rule.name == "single" else None
        return [row(winner, tstamp=self.stored_time(pair, turn), judged=judged, single=single)]

    def stored_time(self, pair: Pair, turn: int, orders: Sequence[Order] | None = None) -> float | None:
        """When the latest verdict behind a battle was stored: the same on every rerun that reuses it."""
        wanted = self.orders(pair, turn) if orders is None else orders
        times = [t for o in wanted if (t := self.stored_at.get((pair, turn, o))) is not None]
        return max(times, default=None)

    def _template(self, name: str) -> Template:
        template = self._templates.get(name)
        if template is None:
            template = self._templates[name] = load_template(name, base_dir=self._base_dir)
        return template

    def prompt(self, task: _Task) -> RenderedPrompt | None:
        """The judge prompt for a task, or None when an answer it needs is missing."""
        question, pair = task.question, task.pair
        first, second = (pair.model_a, pair.model_b) if task.order == "ab" else (pair.model_b, pair.model_a)
        turns = []
        for turn in range(1, task.turn + 1):
            answer_first = self.answers.get((first, question.question_id, turn))
            answer_second = self.answers.get((second, question.question_id, turn))
            if answer_first is None or answer_second is None:
                return None
            limit = self.judge.max_answer_chars
            for model, answer in ((first, answer_first), (second, answer_second)):
                if len(answer) > limit:
                    self.cut_answers.add((model, question.question_id, turn))
            answer_first, answer_second = cut_answer(answer_first, limit), cut_answer(answer_second, limit)
            reference = question.reference[turn - 1] if question.reference else None
            turns.append(TurnText(question.turns[turn - 1], answer_first, answer_second, reference or None))
        has_reference = turns[-1].reference is not None
        name = self.judge.template or default_template_name(
            turn=task.turn, has_reference=has_reference, answer_format=self.judge.answer_format
        )
        return render(
            self._template(name),
            turns,
            scale=self.judge.scale,
            answer_format=self.judge.answer_format,  # type: ignore[arg-type]
            category=question.category,
        )

    def request(self, prompt: RenderedPrompt, attempt: int) -> Request:
        judge = self.judge
        seed, temperature = judge.seed, judge.temperature
        if attempt > 0:  # the same request would give the same unreadable answer: sample afresh
            seed = (seed or 0) + attempt
            temperature = max(temperature or 0.0, 0.7)
        schema = verdict_schema(judge.scale, max_reason_chars=judge.max_reason_chars)
        return Request(
            model=judge.model,
            messages=prompt.messages(),
            system=judge.system,
            temperature=temperature,
            max_tokens=1 if judge.answer_format == "token" else judge.max_tokens,
            seed=seed,
            json_schema=schema if judge.answer_format == "json" else None,
            logprobs=judge.answer_format == "token",
        )

    def _raw(self, completion: Completion) -> str:
        """What is stored of a judge output: its text, plus the verdict token's alternatives for `token`."""
        if self.judge.answer_format != "token":
            return completion.text
        return json.dumps({"text": completion.text, "top_logprobs": completion.top_logprobs}, sort_keys=True)

    def _parse(self, raw: str, key: tuple[Pair, int, Order]) -> Preference:
        """Read a stored raw output (re-parsing later costs nothing); token shares are kept for `logprob`."""
        if self.judge.answer_format != "token":
            return parse_output(raw, scale=self.judge.scale, answer_format=self.judge.answer_format)
        data = json.loads(raw)
        if data["top_logprobs"]:
            self.shares[key] = logprob_shares(data["top_logprobs"])
            return parse_logprobs(data["top_logprobs"])
        return parse_output(data["text"], scale=3, answer_format="token")

    def _settle(self, last: str, **counts: int) -> None:
        self.progress = counted(self.progress, last, **counts)
        self.on_progress(self.progress)

    async def _judge(self, task: _Task) -> None:
        pair = task.pair
        label = f"{pair.model_a} vs {pair.model_b} {pair.question_id}/{task.turn}"
        prompt = self.prompt(task)
        if prompt is None:
            self._settle(f"{label} skipped: missing answer", skipped=1)
            return
        base_key = request_key(
            KEY_PREFIX, self.judge.endpoint(), self.request(prompt, 0), self._identity(prompt)
        )
        self.base_keys.add(base_key)
        slot = (pair, task.turn, task.order)
        stored = self.store.judgements(base_key)
        if any(j.preference is not None for j in stored) or len(stored) > self.judge.parse_retries:
            parsed = [j for j in stored if j.preference is not None]
            found = self._parse(parsed[0].raw, slot) if parsed else None
            self.judgements[slot] = found
            if parsed:
                self.stored_at[slot] = self.store.judgement_time(parsed[0].key)
            if found is None:  # a stored parse failure is not asked again, and still has no verdict
                self.progress = replace(self.progress, parse_failed=self.progress.parse_failed + 1)
                self._settle(f"{label} {task.order}: stored parse failure", failed=1)
            else:
                self._settle(f"{label} reused", reused=1)
            return
        if not stored and self.either_order and self.rule.name == "single" and self._other_order(task, label):
            return
        for attempt in range(len(stored), self.judge.parse_retries + 1):
            if self.unusable is not None:
                self._settle(f"{label} skipped: the judge writes no readable verdict", skipped=1)
                return
            key = base_key if attempt == 0 else f"{base_key}#{attempt}"
            request = self.request(prompt, attempt)
            job = Job(
                key=key,
                endpoint=self.judge.endpoint(),
                request=partial(_same, request),
                on_result=lambda outcome: None,
                concurrency=self.judge.concurrency,
                rpm=self.judge.rpm,
                prices=self.judge.prices,
            )
            outcome = await self.runner.execute(job)
            if isinstance(outcome, Failed):
                failure = Failure(
                    STAGE, key, self.name, pair.question_id, task.turn, outcome.kind,
                    f"{label} order {task.order}: {outcome.message}", outcome.attempts,
                )  # fmt: skip
                self.store.save_failure(self.run_id, failure, outcome.calls)
                self._settle(f"{label} failed: {outcome.kind}", failed=1)
                return
            raw = self._raw(outcome.completion)
            try:
                preference: Preference | None = self._parse(raw, slot)
                error = None
            except ParseFailure as exc:
                preference, error = None, exc.message
            row = self._row(task, prompt, key, base_key, attempt, raw, preference, error)
            self.store.save_judgement(self.run_id, row, outcome.calls)
            self._count_readable(preference is not None, error)
            if preference is not None:
                self.judgements[slot] = preference
                self.stored_at[slot] = self.store.judgement_time(key)
                self._settle(f"{label} {task.order}: {preference.name}", judged=1)
                return
        self.judgements[slot] = None
        failure = Failure(
            STAGE, base_key, self.name, pair.question_id, task.turn, PARSE_FAILURE,
            f"{label} order {task.order}: no verdict in {self.judge.parse_retries + 1} outputs", 0,
        )  # fmt: skip
        self.store.save_failure(self.run_id, failure)
        self.progress = replace(self.progress, parse_failed=self.progress.parse_failed + 1)
        self._settle(f"{label} {task.order}: parse failure", failed=1)

    def _other_order(self, task: _Task, label: str) -> bool:
        """Reuse a parsed verdict stored for the other order of the task; False when there is none."""
        other = replace(task, order="ba" if task.order == "ab" else "ab")
        prompt = self.prompt(other)
        if prompt is None:
            return False
        key = request_key(KEY_PREFIX, self.judge.endpoint(), self.request(prompt, 0), self._identity(prompt))
        parsed = [j for j in self.store.judgements(key) if j.preference is not None]
        if not parsed:
            return False
        slot = (other.pair, other.turn, other.order)
        self.base_keys.add(key)
        self.judgements[slot] = self._parse(parsed[0].raw, slot)
        self._settle(f"{label} reused (order {other.order})", reused=1)
        return True

    def _count_readable(self, readable: bool, error: str | None) -> None:
        if readable:
            self.readable += 1
            return
        self.unreadable += 1
        if self.readable == 0 and self.unreadable >= UNUSABLE_AFTER and self.unusable is None:
            fmt = self.judge.answer_format
            self.unusable = (
                f"judge {self.name} wrote no readable verdict in its first {self.unreadable} replies "
                f"(answer_format: {fmt}; last problem: {error})"
            )

    def advice(self) -> str:
        """How to get a judge that cannot follow its verdict format going (for the unusable error)."""
        if self.judge.answer_format != "token":
            return (
                "a small model rarely follows a free-text verdict format: set answer_format: token (with "
                "combine: logprob) in judge:, or point judge: at a stronger model"
            )
        return "this server may not return logprobs: use answer_format: marker or json, or another model"

    def _row(
        self,
        task: _Task,
        prompt: RenderedPrompt,
        key: str,
        base_key: str,
        attempt: int,
        raw: str,
        preference: Preference | None,
        error: str | None,
    ) -> StoredJudgement:
        return StoredJudgement(
            key=key,
            base_key=base_key,
            attempt=attempt,
            judge=self.name,
            question_id=task.pair.question_id,
            model_a=task.pair.model_a,
            model_b=task.pair.model_b,
            turn=task.turn,
            order=task.order,
            template_name=prompt.template_name,
            template_hash=prompt.template_hash,
            settings=json.dumps(self._identity(prompt), sort_keys=True),
            raw=raw,
            preference=None if preference is None else preference.name,
            error=error,
        )

    def _identity(self, prompt: RenderedPrompt) -> dict[str, object]:
        return {
            **self.judge.identity(),
            "template_name": prompt.template_name,
            "template_hash": prompt.template_hash,
            "scale": prompt.scale,
            "answer_format": prompt.answer_format,
        }


def _shared_prefix(task: _Task) -> tuple[str, int, str, str]:
    """Sort key: question, turn, then the answer shown first and the one shown second."""
    pair = task.pair
    first, second = (pair.model_a, pair.model_b) if task.order == "ab" else (pair.model_b, pair.model_a)
    return (pair.question_id, task.turn, first, second)


def _same(request: Request) -> Request:
    return request


def answer_table(answers: Iterable[Answer]) -> dict[tuple[str, str, int], str]:
    """(contestant, question_id, turn) -> answer text: what judge prompts and details.jsonl are built from."""
    return {(a.contestant, a.question_id, a.turn): a.text for a in answers}
