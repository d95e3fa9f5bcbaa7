"""`judge vote`: a blind side-by-side voting page whose votes land in the store and in a battle log."""

from judge._hosts import is_loopback
from judge.vote.core import CHOICES, ORDERS, VOTES_FILE, Candidate, VoteRejected, VoteSession
from judge.vote.server import VoteServer
from judge.vote.summary import Summary, Tally

__all__ = [
    "CHOICES",
    "ORDERS",
    "VOTES_FILE",
    "Candidate",
    "Summary",
    "Tally",
    "VoteRejected",
    "VoteServer",
    "VoteSession",
    "is_loopback",
]
