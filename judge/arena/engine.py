"""The arena's battles: who may prompt, which pair answers, both replies streamed, and what a vote stores.

An `Arena` lives on one asyncio event loop (the server's). Battles in progress are kept in memory only: a
crash loses at most the unvoted ones. A vote or a void battle is written by a single store thread, the whole
conversation with the positions and the voter in one transaction, then appended to arena_battles.jsonl; at
start that file is rewritten from the store, so it can never lag behind the votes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from judge.arena.language import LanguageDetector
from judge.arena.limits import RateLimiter
from judge.arena.moderation import Moderator
from judge.arena.record import (
    ARENA_FILE,
    CHOICES,
    Turn,
    canonical_winner,
    categorize,
    conversation_json,
    log_battle,
    question_id,
)
from judge.arena.sampler import Pair, PairStats, draw_pair
from judge.config import ContestantConfig, TournamentConfig
from judge.errors import InputError
from judge.providers import CallFailed, Message, ProviderHub, Request, stream_text
from judge.redaction import Redactor
from judge.store import DB_NAME, Store, StoredArenaBattle

T = TypeVar("T")
Event = tuple[str, dict[str, Any]]
SIDES: Final = ("a", "b")


class Refused(InputError):
    """A request the arena turns down; `status` is the HTTP status, `retry_after` seconds for a 429."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass
class LiveBattle:
    """A battle in progress. model_a / model_b are canonical (sorted); shown_a sits in the left pane."""

    battle_id: str
    voter: str
    model_a: str
    model_b: str
    shown_a: str
    question_id: str
    category: str
    language: str
    touched: float
    turns: list[Turn] = field(default_factory=list)
    busy: bool = False  # a turn is being answered
    state: str = "open"  # open | voted | void

    def model(self, side: str) -> str:
        """The model in the left ("a") or right ("b") pane."""
        other = self.model_b if self.shown_a == self.model_a else self.model_a
        return self.shown_a if side == "a" else other

    def chars(self) -> int:
        return sum(len(t.user) + len(t.model_a) + len(t.model_b) for t in self.turns)


class _Writer:
    """The one thread that writes arena battles: a store connection of its own, then the battle log."""

    def __init__(self, out_dir: Path) -> None:
        self.db_path = out_dir / DB_NAME
        self.log_path = out_dir / ARENA_FILE
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="arena-store")
        self._store: Store | None = None

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _open(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.db_path)
        return self._store

    def rebuild_log(self) -> int:
        """Rewrite arena_battles.jsonl from the store (atomically); returns the votes in it."""
        rows = self._open().arena_battles("voted")
        temp = self.log_path.with_name(self.log_path.name + ".tmp")
        with temp.open("w", encoding="utf-8") as handle:
            for _, battle in rows:
                handle.write(_line(battle))
        os.replace(temp, self.log_path)
        return len(rows)

    def save(self, battle: StoredArenaBattle) -> bool:
        saved = self._open().save_arena_battle(battle)
        if saved and battle.status == "voted":
            with self.log_path.open("a", encoding="utf-8") as handle:
                handle.write(_line(battle))
        return saved

    def close(self) -> None:
        def shut() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        self._pool.submit(shut).result()
        self._pool.shutdown()


def _line(battle: StoredArenaBattle) -> str:
    return json.dumps(log_battle(battle).to_record(), ensure_ascii=False) + "\n"


class Arena:
    """Battles, limits and votes of one arena; every method runs on the server's event loop."""

    def __init__(
        self,
        config: TournamentConfig,
        out_dir: Path,
        hub: ProviderHub,
        *,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.settings = config.arena
        self.out_dir = out_dir
        self.contestants: dict[str, ContestantConfig] = {c.name: c for c in config.contestants}
        self.hub = hub
        self.rng = random.Random(seed)
        self.clock = clock
        self.language = LanguageDetector()
        self.moderator = None if self.settings.moderation is None else Moderator(self.settings.moderation)
        self.limiter = RateLimiter(self.settings.prompts_per_minute)
        # Provider errors reach the page and the store: servers quote the key they were sent.
        moderation_key = None if self.settings.moderation is None else self.settings.moderation.api_key
        self.redact = Redactor.of([*(c.api_key for c in config.contestants), moderation_key])
        self.pair_stats: Mapping[Pair, PairStats] = {}  # refreshed by the leaderboard keeper
        self.on_stored: Callable[[], None] = lambda: None
        self._writer = _Writer(out_dir)
        self._battles: dict[str, LiveBattle] = {}

    async def start(self) -> int:
        """Migrate the store, rebuild the battle log from it, warm up language detection; returns votes."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        votes = await self._writer.call(self._writer.rebuild_log)
        asyncio.get_running_loop().run_in_executor(None, self.language.warm)
        return votes

    async def aclose(self) -> None:
        if self.moderator is not None:
            await self.moderator.aclose()
        await asyncio.to_thread(self._writer.close)

    # --- prompts ---

    async def prompt(self, voter: str, battle_id: str | None, prompt: Any) -> LiveBattle:
        """Check a prompt (a new battle's first or a further turn); return the battle that will answer it."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise Refused(400, "type a prompt first")
        limit = self.settings.max_prompt_chars
        if len(prompt) > limit:
            raise Refused(413, f"the prompt is {len(prompt)} characters; the limit is {limit}")
        now = self.clock()
        self._expire(now)
        if battle_id is None:
            battle = None
            self._make_room(voter)
        else:
            battle = self._own(voter, battle_id)
            if battle.state != "open":
                raise Refused(409, f"this battle is {battle.state}; start a new one")
            if battle.busy:
                raise Refused(409, "both models are still answering")
            if len(battle.turns) >= self.settings.max_turns:
                raise Refused(409, f"a battle has at most {self.settings.max_turns} turns; vote now")
            if battle.chars() + len(prompt) > self.settings.max_conversation_chars:
                raise Refused(413, "the conversation has reached its length limit; vote now")
        wait = self.limiter.take(voter, now)
        if wait is not None:
            raise Refused(429, f"too many prompts; try again in {wait:.0f} s", retry_after=wait)
        fresh = battle is None
        if battle is None:
            battle = self._new_battle(voter, prompt, now)
        battle.busy = True  # reserved before any await: a concurrent prompt sees it taken
        battle.touched = now
        try:
            if self.moderator is not None:
                decision = await self.moderator.check(prompt)
                if not decision.allowed:
                    raise Refused(422, decision.reason or "refused by moderation")
            if fresh:
                battle.language = await asyncio.to_thread(self.language.detect, prompt)
        except BaseException:
            battle.busy = False
            if fresh:
                self._battles.pop(battle.battle_id, None)
            raise
        return battle

    def _own(self, voter: str, battle_id: Any) -> LiveBattle:
        battle = self._battles.get(battle_id) if isinstance(battle_id, str) else None
        if battle is None or battle.voter != voter:  # another voter's battle looks like no battle at all
            raise Refused(404, "no such battle (it expired, or it is not yours)")
        return battle

    def _make_room(self, voter: str) -> None:
        """Hold at most `open_battles` unvoted battles per voter: an idle one is given up for the new one."""
        mine = [b for b in self._battles.values() if b.voter == voter and b.state == "open"]
        while len(mine) >= self.settings.open_battles:
            idle = [b for b in mine if not b.busy]
            if not idle:
                raise Refused(429, f"{len(mine)} of your battles are still being answered; wait for them")
            oldest = min(idle, key=lambda b: b.touched)
            del self._battles[oldest.battle_id]
            mine.remove(oldest)

    def _new_battle(self, voter: str, prompt: str, now: float) -> LiveBattle:
        names = sorted(self.contestants)
        a, b = draw_pair(names, self.settings.sampler, self.pair_stats, self.rng)
        battle = LiveBattle(
            battle_id=secrets.token_urlsafe(16),
            voter=voter,
            model_a=a,
            model_b=b,
            shown_a=(a, b)[self.rng.random() < 0.5],
            question_id=question_id(prompt),
            category=categorize(prompt, self.settings.categories),
            language="und",  # detected once the battle is reserved
            touched=now,
        )
        self._battles[battle.battle_id] = battle
        return battle

    def _expire(self, now: float) -> None:
        cutoff = now - self.settings.battle_ttl
        for key in [k for k, b in self._battles.items() if b.touched < cutoff and not b.busy]:
            del self._battles[key]
        self.limiter.prune(now)

    # --- answers ---

    def _request(self, battle: LiveBattle, model: str, prompt: str) -> Request:
        contestant = self.contestants[model]
        messages: list[Message] = []
        for turn in battle.turns:
            reply = turn.model_a if model == battle.model_a else turn.model_b
            messages += [Message("user", turn.user), Message("assistant", reply)]
        messages.append(Message("user", prompt))
        cap = self.settings.max_tokens
        return Request(
            model=contestant.model,
            messages=tuple(messages),
            system=contestant.system,
            temperature=contestant.temperature,
            max_tokens=min(cap, contestant.max_tokens) if contestant.max_tokens else cap,
            seed=contestant.seed,
        )

    async def answer(self, battle: LiveBattle, prompt: str) -> AsyncGenerator[Event, None]:
        """Both replies as they arrive: ("delta", {side, text}), ("error", {side, message}), then "end".

        A provider error voids the battle (stored as void, never as a loss). If the caller stops listening
        (the page went away), the turn is dropped and the battle stays as it was before it.
        """
        queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        texts = {"a": "", "b": ""}

        async def run(side: str) -> None:
            model = battle.model(side)
            try:
                provider = self.hub.get(self.contestants[model].endpoint())
                async for piece in stream_text(provider, self._request(battle, model, prompt)):
                    await queue.put((side, "delta", piece))
                await queue.put((side, "done", ""))
            except CallFailed as exc:
                await queue.put((side, "error", self.redact(f"{exc.kind}: {exc.message}")))
            except InputError as exc:  # the provider could not be built (missing SDK, no server)
                await queue.put((side, "error", self.redact(exc.message)))

        tasks = [asyncio.create_task(run(side)) for side in SIDES]
        finished = False
        try:
            pending, error = 2, None
            backlog: list[tuple[str, str, str]] = []
            while pending:
                if not backlog:
                    backlog.append(await queue.get())
                    while not queue.empty():
                        backlog.append(queue.get_nowait())
                side, kind, text = backlog.pop(0)
                if kind == "delta":
                    # Pieces that piled up while the page was being written go out as one event per side:
                    # under load the loop then pays per write, not per token.
                    while backlog and backlog[0][:2] == (side, "delta"):
                        text += backlog.pop(0)[2]
                    texts[side] += text
                    yield "delta", {"side": side, "text": text}
                elif kind == "done":
                    pending -= 1
                    yield "done", {"side": side}
                else:
                    error = f"{battle.model(side)} failed: {text}"
                    yield "error", {"side": side, "message": text}
                    break
            turn = Turn(
                prompt,
                texts["a"] if battle.shown_a == battle.model_a else texts["b"],
                texts["b"] if battle.shown_a == battle.model_a else texts["a"],
            )
            battle.turns.append(turn)
            if error is not None:
                await self._void(battle, error)
            finished = True
            yield (
                "end",
                {"void": error is not None, "turns": len(battle.turns), "more": self._can_go_on(battle)},
            )
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
            battle.busy = False
            battle.touched = self.clock()
            if not finished and not battle.turns:
                self._battles.pop(battle.battle_id, None)  # the page left before the first answer

    def release(self, battle: LiveBattle) -> None:
        """End a reservation made by prompt() whose answer never ran (the page left first); else a no-op."""
        battle.busy = False
        if battle.state == "open" and not battle.turns:
            self._battles.pop(battle.battle_id, None)

    def _can_go_on(self, battle: LiveBattle) -> bool:
        return (
            battle.state == "open"
            and len(battle.turns) < self.settings.max_turns
            and battle.chars() < self.settings.max_conversation_chars
        )

    def _stored(
        self, battle: LiveBattle, status: str, choice: str | None, error: str | None
    ) -> StoredArenaBattle:
        return StoredArenaBattle(
            battle_id=battle.battle_id,
            voter=battle.voter,
            question_id=battle.question_id,
            model_a=battle.model_a,
            model_b=battle.model_b,
            shown_a=battle.shown_a,
            turns=len(battle.turns),
            conversation=conversation_json(battle.turns),
            status=status,
            choice=choice,
            winner=None if choice is None else canonical_winner(choice, battle.shown_a, battle.model_a),
            error=error,
            category=battle.category,
            language=battle.language,
            tstamp=self.clock(),
        )

    async def _void(self, battle: LiveBattle, error: str) -> None:
        battle.state = "void"
        await self._writer.call(self._writer.save, self._stored(battle, "void", None, error))

    # --- votes ---

    async def vote(self, voter: str, battle_id: Any, choice: Any) -> dict[str, Any]:
        """Store the vote (one transaction), append it to the battle log, and reveal the names."""
        if choice not in CHOICES:
            raise Refused(400, f"unknown choice {choice!r} (choose from {', '.join(CHOICES)})")
        battle = self._own(voter, battle_id)
        if battle.state == "voted":
            raise Refused(409, "this battle already has your vote")
        if battle.state == "void":
            raise Refused(409, "this battle is void (a model failed); start a new one")
        if battle.busy or not battle.turns:
            raise Refused(409, "wait until both models have answered")
        battle.state = "voted"  # before the await: a second vote arriving meanwhile is refused
        row = self._stored(battle, "voted", choice, None)
        try:
            saved = await self._writer.call(self._writer.save, row)
        except BaseException:
            battle.state = "open"
            raise
        if not saved:
            raise Refused(409, "this battle already has your vote")
        battle.touched = self.clock()
        battle.turns = []  # stored; only the state is kept (for the 409) until the battle expires
        self.on_stored()
        return {"a": battle.model("a"), "b": battle.model("b"), "choice": choice, "winner": row.winner}
