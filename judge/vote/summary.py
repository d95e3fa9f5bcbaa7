"""What a voting session adds up to: votes, skips, ties, and how often the voter sided with the judge (pure).

Agreement is counted as MT-Bench counts it between a judge and a human: on the votes whose battle the judge
decided (a winner or a tie), the share where both reached the same outcome, with "both are bad" as a tie (the
battle log records it as one); and, beside it, the share on the votes where both picked a winner.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from judge.battles import TIES


def outcome(winner: str | None) -> str | None:
    """model_a / model_b / tie, with both-bad folded into tie; None for no decision."""
    if winner is None:
        return None
    return "tie" if winner in TIES else winner


@dataclass(frozen=True)
class Tally:
    """Votes and their agreement with the judge's verdicts on the same battles."""

    votes: int = 0
    ties: int = 0  # the voter called a tie or both bad
    judged: int = 0  # votes on battles where the judge reached a verdict
    agreed: int = 0  # ... of which the voter's outcome was the judge's
    decisive: int = 0  # judged votes where neither the voter nor the judge called a tie
    decisive_agreed: int = 0


def tally(pairs: Iterable[tuple[str, str | None]]) -> Tally:
    """Add up (voter's canonical winner, judge's canonical winner or None) pairs."""
    votes = ties = judged = agreed = decisive = decisive_agreed = 0
    for voter_winner, judge_winner in pairs:
        mine, theirs = outcome(voter_winner), outcome(judge_winner)
        votes += 1
        ties += mine == "tie"
        if theirs is None:
            continue
        judged += 1
        agreed += mine == theirs
        if "tie" not in (mine, theirs):
            decisive += 1
            decisive_agreed += mine == theirs
    return Tally(votes, ties, judged, agreed, decisive, decisive_agreed)


def _agreement(t: Tally) -> str:
    if not t.judged:
        return "the judge decided none of them"
    line = f"agreed with the judge on {t.agreed} of {t.judged} it decided ({t.agreed / t.judged:.0%})"
    if t.decisive:
        line += f", {t.decisive_agreed} of {t.decisive} where both picked a winner"
        line += f" ({t.decisive_agreed / t.decisive:.0%})"
    return line


@dataclass(frozen=True)
class Summary:
    """One session (and this voter's votes on the run so far), for the page's last screen and the CLI."""

    session: Tally
    skipped: int  # battles passed over this session; they are offered again next session
    overall: Tally  # every vote of this voter on this results directory, earlier sessions included
    remaining: int  # battles this voter has not voted on (skipped ones included)
    votes_file: str

    def to_json(self) -> dict[str, Any]:
        return {
            "session": {**asdict(self.session), "skipped": self.skipped},
            "overall": asdict(self.overall),
            "remaining": self.remaining,
            "votes_file": self.votes_file,
        }

    def sentence(self) -> str:
        """One line for the terminal: what was cast, the agreement with the judge, where the votes went."""
        s = self.session
        line = f"{s.votes} vote(s) cast, {self.skipped} skipped, {s.ties} tie(s)"
        if s.votes:
            line += f"; {_agreement(s)}"
        if self.overall.votes > s.votes:
            line += f"; all {self.overall.votes} of your votes on this run: {_agreement(self.overall)}"
        return f"{line}; votes saved to {self.votes_file}"
