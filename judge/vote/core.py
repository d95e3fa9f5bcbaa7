"""Blind human voting over a results directory: which battle comes next, and what a vote records.

The pure part turns details.jsonl rows into votable battles and orders them (battles the judge found close or
inconsistent first, since a human vote there says the most about the judge). VoteSession adds the state of
one voting session: opaque battle tokens mapped to battles server-side (so the page never learns the models
before the vote), random positions, and one store transaction plus one human_votes.jsonl line per vote.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from judge.answer_html import texts_html
from judge.answer_style import with_shown_style
from judge.battles import TIES, Battle
from judge.errors import InputError
from judge.report.rundir import Detail, load_run_dir
from judge.store import DB_NAME, Store, StoredVote
from judge.verdicts import Preference
from judge.vote.summary import Summary, tally

VOTES_FILE: Final = "human_votes.jsonl"
ORDERS: Final = ("close-first", "random")
CHOICES: Final = ("a", "b", "tie", "bothbad")
_VOTER: Final = re.compile(r"^[\w.@+-]{1,64}$")

BattleKey = tuple[str, str, str, int]  # question_id, model_a, model_b (sorted), turn


class VoteRejected(InputError):
    """A vote the server refuses; `status` is the HTTP status the page gets with the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Candidate:
    """One votable (question, pair, turn) with the texts to show; the pair in canonical (sorted) order."""

    question_id: str
    model_a: str
    model_b: str
    turn: int
    category: str | None
    question: tuple[str, ...]
    answer_a: tuple[str, ...]
    answer_b: tuple[str, ...]
    judge_winner: str | None  # canonical, as the judge decided (None: no decision)
    close: bool
    reference: tuple[str, ...] | None = None  # the question set's reference answer per turn

    @property
    def key(self) -> BattleKey:
        return (self.question_id, self.model_a, self.model_b, self.turn)


def _direction(verdict: str | None) -> int | None:
    """+1 / 0 / -1 for a stored preference (enum name or marker), None when unparsed."""
    if verdict is None:
        return None
    for pref in Preference:
        if verdict in (pref.name, pref.value):
            return pref.direction
    return None


def is_close(detail: Detail) -> bool:
    """True when the judge called a tie, decided nothing, or its orders disagree once re-oriented."""
    if detail.winner is None or detail.winner in TIES:
        return True
    directions = set()
    for judgment in detail.judgments:
        direction = _direction(judgment.verdict)
        if direction is None:
            return True
        directions.add(direction if judgment.order == "ab" else -direction)
    return len(directions) > 1


def candidates(details: Iterable[Detail]) -> list[Candidate]:
    """The votable battles: one per (question, pair, turn) whose answers are all there."""
    out: dict[BattleKey, Candidate] = {}
    for d in details:
        if not d.answer_a or not d.answer_b or not all(d.answer_a) or not all(d.answer_b):
            continue
        flip = d.model_b < d.model_a
        winner = d.winner
        if flip and winner in ("model_a", "model_b"):
            winner = "model_b" if winner == "model_a" else "model_a"
        candidate = Candidate(
            question_id=d.question_id,
            model_a=d.model_b if flip else d.model_a,
            model_b=d.model_a if flip else d.model_b,
            turn=d.turn or 1,
            category=d.category,
            question=d.question,
            answer_a=d.answer_b if flip else d.answer_a,
            answer_b=d.answer_a if flip else d.answer_b,
            judge_winner=winner,
            close=is_close(d),
            reference=d.reference,
        )
        out[candidate.key] = candidate
    return list(out.values())


def queue(battles: Sequence[Candidate], order: str, rng: random.Random) -> list[Candidate]:
    """Voting order: shuffled, with close/inconsistent battles first under "close-first"."""
    if order not in ORDERS:
        raise InputError(f"unknown order {order!r} (choose from {', '.join(ORDERS)})")
    shuffled = list(battles)
    rng.shuffle(shuffled)
    if order == "close-first":
        shuffled.sort(key=lambda c: not c.close)  # stable: keeps the shuffle within each group
    return shuffled


def canonical_winner(choice: str, shown_a: str, battle: Candidate) -> str:
    """The battle-log winner for a click on the page, where A was `shown_a`."""
    if choice == "tie":
        return "tie"
    if choice == "bothbad":
        return "tie (bothbad)"
    a_is_model_a = shown_a == battle.model_a
    return "model_a" if (choice == "a") == a_is_model_a else "model_b"


def vote_battle(vote: StoredVote) -> Battle:
    """A stored vote as a row of the generic battle log (source human, judge human:<voter>)."""
    return Battle(
        question_id=vote.question_id,
        model_a=vote.model_a,
        model_b=vote.model_b,
        winner=vote.winner,
        judge=f"human:{vote.voter}",
        source="human",
        category=vote.category,
        turn=vote.turn,
        tstamp=vote.tstamp,
        first_shown=vote.shown_a,
    )


def check_voter(voter: str) -> str:
    if not _VOTER.match(voter):
        raise InputError(
            f"voter name {voter!r} is not allowed", hint="use 1-64 letters, digits or . _ @ + - (no spaces)"
        )
    return voter


@dataclass(frozen=True)
class Shown:
    """A battle as handed to the page: an opaque token and which model sits in position A."""

    token: str
    battle: Candidate
    shown_a: str

    @property
    def shown_b(self) -> str:
        return self.battle.model_b if self.shown_a == self.battle.model_a else self.battle.model_a

    def page(self) -> dict[str, Any]:
        """What the page sees before the vote: texts (raw, and as rendered markdown), never a model name."""
        battle = self.battle
        a_first = self.shown_a == battle.model_a
        answer_a = battle.answer_a if a_first else battle.answer_b
        answer_b = battle.answer_b if a_first else battle.answer_a
        # the reference for the turn voted on (MT-Bench keeps one per turn)
        reference = battle.reference[battle.turn - 1] if battle.reference else None
        return {
            "token": self.token,
            "question_id": battle.question_id,
            "category": battle.category,
            "turn": battle.turn,
            "question": list(battle.question),
            "answer_a": list(answer_a),
            "answer_b": list(answer_b),
            "question_html": texts_html(battle.question),
            "answer_a_html": texts_html(answer_a),
            "answer_b_html": texts_html(answer_b),
            "reference": reference,
            "reference_html": None if reference is None else texts_html([reference])[0],
        }


@dataclass
class VoteSession:
    """One voter's session over one results directory; safe to call from several server threads."""

    run_dir: Path
    voter: str
    battles: list[Candidate]
    rng: random.Random
    _issued: dict[str, Shown] = field(default_factory=dict)
    _by_key: dict[BattleKey, Shown] = field(default_factory=dict)
    _cast: list[StoredVote] = field(default_factory=list)
    _skipped: set[BattleKey] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(
        cls, run_dir: str | Path, *, voter: str, order: str = "close-first", seed: int | None = None
    ) -> VoteSession:
        """Load a results directory's battles and check the store opens; nothing is written yet."""
        root = Path(run_dir)
        check_voter(voter)
        battles = candidates(load_run_dir(root).details)
        if not battles:
            raise InputError(
                "no battles to vote on (details.jsonl is missing or empty)",
                path=root,
                hint="run the tournament with `judge run CONFIG --out DIR` first",
            )
        rng = random.Random(seed)
        with Store.open(root / DB_NAME):  # migrate (adds the votes table) or refuse now, not mid-vote
            pass
        return cls(root, voter, queue(battles, order, rng), rng)

    def _store(self) -> Store:
        return Store.open(self.run_dir / DB_NAME)

    def progress(self) -> dict[str, int]:
        with self._store() as store:
            return {"voted": len(store.votes(self.voter)), "total": len(self.battles)}

    def next_battle(self) -> Shown | None:
        """The first battle in the queue this voter has not voted on (the same token again until voted)."""
        with self._lock, self._store() as store:
            done = {vote_key(v) for v in store.votes(self.voter)}
            for battle in self.battles:
                if battle.key in done or battle.key in self._skipped:
                    continue
                shown = self._by_key.get(battle.key)
                if shown is None:
                    pair = (battle.model_a, battle.model_b)
                    shown = Shown(secrets.token_urlsafe(18), battle, pair[self.rng.random() < 0.5])
                    self._issued[shown.token] = shown
                    self._by_key[battle.key] = shown
                return shown
        return None

    def record(self, token: Any, choice: Any) -> tuple[Shown, StoredVote]:
        """Store a vote (one transaction) and append it to human_votes.jsonl; VoteRejected if refused."""
        if not isinstance(token, str) or not isinstance(choice, str):
            raise VoteRejected(400, "'token' and 'choice' must be strings")
        if choice not in CHOICES:
            raise VoteRejected(400, f"unknown choice {choice!r} (choose from {', '.join(CHOICES)})")
        with self._lock:
            shown = self._issued.get(token)
            if shown is None:
                raise VoteRejected(404, "unknown battle token")
            battle = shown.battle
            now = time.time()
            vote = StoredVote(
                voter=self.voter,
                question_id=battle.question_id,
                model_a=battle.model_a,
                model_b=battle.model_b,
                turn=battle.turn,
                shown_a=shown.shown_a,
                choice=choice,
                winner=canonical_winner(choice, shown.shown_a, battle),
                category=battle.category,
                tstamp=now,
            )
            with self._store() as store:
                if not store.save_vote(vote):
                    raise VoteRejected(409, "this battle already has your vote")
            self._cast.append(vote)
            self._skipped.discard(battle.key)
            with (self.run_dir / VOTES_FILE).open("a", encoding="utf-8") as handle:
                row = with_shown_style(vote_battle(vote), battle.answer_a, battle.answer_b)
                handle.write(json.dumps(row.to_record(), ensure_ascii=False) + "\n")
        return shown, vote

    def skip(self, token: Any) -> Shown:
        """Pass over a battle for the rest of this session (a later session offers it again)."""
        if not isinstance(token, str):
            raise VoteRejected(400, "'token' must be a string")
        with self._lock:
            shown = self._issued.get(token)
            if shown is None:
                raise VoteRejected(404, "unknown battle token")
            if any(vote_key(v) == shown.battle.key for v in self._cast):
                raise VoteRejected(409, "this battle already has your vote")
            self._skipped.add(shown.battle.key)
        return shown

    def summary(self) -> Summary:
        """This session's votes, skips and agreement with the judge; this voter's votes on the run so far."""
        judged = {battle.key: battle.judge_winner for battle in self.battles}
        with self._lock, self._store() as store:
            everything = store.votes(self.voter)
            cast = list(self._cast)
            skipped = len(self._skipped)
        done = {vote_key(v) for v in everything}
        return Summary(
            session=tally((v.winner, judged.get(vote_key(v))) for v in cast),
            skipped=skipped,
            overall=tally((v.winner, judged.get(vote_key(v))) for v in everything),
            remaining=sum(battle.key not in done for battle in self.battles),
            votes_file=str(self.run_dir / VOTES_FILE),
        )


def vote_key(vote: StoredVote) -> BattleKey:
    return (vote.question_id, vote.model_a, vote.model_b, vote.turn)
