"""Verdicts: read the judge's preference from its output, strictly, and combine both orders into a winner.

Everything here is pure. A judge output that cannot be read raises ParseFailure (a CallFailed of kind
PARSE, so the runner retries it like any failed call and finally records a failure): never a tie.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from judge.battles import Battle
from judge.errors import InputError
from judge.pairings import Pair
from judge.providers.base import CallFailed, ErrorKind

Order = Literal["ab", "ba"]  # "ab": pair.model_a is shown as assistant A; "ba": pair.model_b is
ORDERS: Final[tuple[Order, Order]] = ("ab", "ba")
COMBINE_RULES: Final = ("conservative", "score", "sum", "single", "logprob")
STRONG_WEIGHT: Final = {"score": 3, "sum": 2}  # default weight of a >> verdict, per rule
# At most this many non-empty lines may follow the verdict line (a sign-off), else the output is unreadable.
MAX_TRAILING_LINES: Final = 3


class Preference(enum.Enum):
    """What one judgement prefers, as shown: A is whatever answer was shown first."""

    A_MUCH_BETTER = "A>>B"
    A_BETTER = "A>B"
    TIE = "A=B"
    B_BETTER = "B>A"
    B_MUCH_BETTER = "B>>A"

    @property
    def score(self) -> int:
        """+2 .. -2, positive favours the answer shown first."""
        return _SCORES[self]

    def flipped(self) -> Preference:
        """The same judgement seen from the other order (A and B swapped)."""
        return _BY_SCORE[-self.score]

    @property
    def direction(self) -> int:
        """+1 (A), 0 (tie) or -1 (B), ignoring strength."""
        return (self.score > 0) - (self.score < 0)


_SCORES: Final = {
    Preference.A_MUCH_BETTER: 2,
    Preference.A_BETTER: 1,
    Preference.TIE: 0,
    Preference.B_BETTER: -1,
    Preference.B_MUCH_BETTER: -2,
}
_BY_SCORE: Final = {score: pref for pref, score in _SCORES.items()}

# Marker values per scale, after upper-casing and removing spaces. TIE is also accepted on the 5-level scale.
MARKERS: Final[Mapping[int, Mapping[str, Preference]]] = {
    3: {"A": Preference.A_BETTER, "B": Preference.B_BETTER, "TIE": Preference.TIE},
    5: {**{p.value: p for p in Preference}, "TIE": Preference.TIE},
}

_ANY_MARKER: Final = frozenset(MARKERS[3]) | frozenset(MARKERS[5])


class ParseFailure(CallFailed):
    """The judge answered, but no verdict can be read from its own words."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.PARSE, message)


# ------------------------------------------------------------------------------------------------------------
# Parsing free text ("marker" format)

# An echoed fenced block (same label and token at both ends); an unclosed one runs to the end of the text.
_ECHOED_BLOCK: Final = re.compile(
    r"^[ \t]*<<<BEGIN (\S+) ([0-9a-f]+)>>>[ \t]*$.*?(?:^[ \t]*<<<END \1 \2>>>[ \t]*$|\Z)", re.M | re.S
)
# A Markdown code fence (``` or ~~~), closed by the same fence or the end of the text.
_CODE_FENCE: Final = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*$.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)
# The verdict line: optional Markdown decoration, "verdict" (optionally "final verdict"), separator, value.
_MARKER_LINE: Final = re.compile(
    r"^(?:#{1,6}\s*)?[*_]*\s*(?:final\s+)?verdict\s*[*_]*\s*[:=]\s*[*_]*\s*(?P<value>.*?)\s*[*_]*\s*\.?\s*$",
    re.I,
)


def _own_lines(text: str) -> list[str]:
    """The judge's own lines: echoed fenced blocks, code fences and block quotes removed."""
    text = _ECHOED_BLOCK.sub("", text.replace("\r\n", "\n"))
    text = _CODE_FENCE.sub("", text)
    return [line.strip() for line in text.split("\n") if line.strip() and not line.lstrip().startswith(">")]


def _marker_value(line: str) -> str | None:
    match = _MARKER_LINE.match(line)
    if match is None:
        return None
    value = match.group("value").strip("[]()*_`")
    return re.sub(r"\s+", "", value).upper()


def parse_marker(text: str, *, scale: int = 3) -> Preference:
    """The last verdict line of the judge's own output, which must sit at its end.

    A verdict line is "VERDICT: <marker>" alone on a line (case, spaces, Markdown bold or brackets aside);
    "verdict:" followed by anything that is not a marker is ordinary text.

    Marker-like lines inside echoed answer blocks, code fences or block quotes do not count, nor does a
    marker inside a sentence. Two different verdict lines in a row at the end (an echoed list of options)
    are ambiguous.
    """
    markers = MARKERS[scale]
    lines = _own_lines(text)
    found = [(i, value) for i, line in enumerate(lines) if (value := _marker_value(line)) in _ANY_MARKER]
    if not found:
        raise ParseFailure("no verdict line in the judge's output")
    index, value = found[-1]
    if len(lines) - 1 - index > MAX_TRAILING_LINES:
        raise ParseFailure(f"the last verdict line is followed by {len(lines) - 1 - index} more lines")
    if value not in markers:
        raise ParseFailure(f"verdict {value!r} is not on the {scale}-level scale ({', '.join(markers)})")
    previous = [v for i, v in found if i == index - 1]
    if previous and markers.get(previous[0]) != markers[value]:
        raise ParseFailure("the output ends with several different verdict lines")
    return markers[value]


# ------------------------------------------------------------------------------------------------------------
# Structured verdicts: JSON schema, JSON parsing, logprobs


def verdict_schema(scale: int = 3, *, max_reason_chars: int | None = None) -> dict[str, Any]:
    """JSON schema for {"reason", "verdict"}: reason first, so the judge explains before it decides.

    max_reason_chars bounds the reason for grammar-constrained local models (llama.cpp honours maxLength);
    leave it None for APIs whose strict mode rejects maxLength.
    """
    values = ["A", "B", "TIE"] if scale == 3 else [p.value for p in Preference]
    reason: dict[str, Any] = {"type": "string"}
    if max_reason_chars is not None:
        reason["maxLength"] = max_reason_chars
    return {
        "type": "object",
        "properties": {"reason": reason, "verdict": {"type": "string", "enum": values}},
        "required": ["reason", "verdict"],
        "additionalProperties": False,
    }


def parse_json(text: str, *, scale: int = 3) -> Preference:
    """The verdict field of a JSON answer (optionally in one ```json fence); the reason is never searched."""
    body = text.strip()
    fenced = re.fullmatch(r"```[a-zA-Z]*\s*\n(.*?)\n?\s*```", body, re.S)
    if fenced:
        body = fenced.group(1).strip()
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ParseFailure(f"judge output is not valid JSON: {exc.msg} at char {exc.pos}") from None
    if not isinstance(data, dict):
        raise ParseFailure("judge JSON is not an object")
    verdict = data.get("verdict")
    if not isinstance(verdict, str):
        raise ParseFailure('judge JSON has no string "verdict" field')
    value = re.sub(r"\s+", "", verdict).upper()
    markers = MARKERS[scale]
    if value not in markers:
        raise ParseFailure(f"verdict {verdict!r} is not one of {', '.join(markers)}")
    return markers[value]


def logprob_shares(top_logprobs: Mapping[str, float]) -> dict[Preference, float]:
    """Probability mass of A / tie / B among the top alternatives of the verdict token, renormalised.

    Tokens match after stripping spaces and upper-casing: A, B, and T / TI / TIE (tokenisers split "TIE").
    """
    mass = {Preference.A_BETTER: 0.0, Preference.TIE: 0.0, Preference.B_BETTER: 0.0}
    for token, logprob in top_logprobs.items():
        word = token.strip().upper()
        pref = MARKERS[3].get(word) or (Preference.TIE if word and "TIE".startswith(word) else None)
        if pref is not None and math.isfinite(logprob):
            mass[pref] += math.exp(logprob)
    total = sum(mass.values())
    if total <= 0.0:
        raise ParseFailure("no verdict token among the top logprobs")
    return {pref: m / total for pref, m in mass.items()}


def parse_logprobs(top_logprobs: Mapping[str, float]) -> Preference:
    """The most probable verdict token (3-level scale); an exact tie of A and B mass reads as a tie."""
    shares = logprob_shares(top_logprobs)
    best = max(shares.values())
    leaders = [pref for pref, share in shares.items() if share == best]
    return leaders[0] if len(leaders) == 1 else Preference.TIE


def parse_output(text: str, *, scale: int = 3, answer_format: str = "marker") -> Preference:
    """Dispatch on the answer format the prompt asked for (see judge.prompts.ANSWER_FORMATS)."""
    if answer_format == "json":
        return parse_json(text, scale=scale)
    if answer_format == "token":
        value = re.sub(r"[\s.*_`\"']", "", text).upper()
        if value not in MARKERS[3]:
            raise ParseFailure(f"expected a single verdict word, got {text[:40]!r}")
        return MARKERS[3][value]
    return parse_marker(text, scale=scale)


# ------------------------------------------------------------------------------------------------------------
# Combining the two orders


@dataclass(frozen=True)
class CombineRule:
    """How the judgements of one (question, pair, turn) in each order become one battle winner.

    conservative: both orders must name the same winner, anything else is a tie (MT-Bench).
    score: Arena-Hard's rule. Each order is its own game (a battle with first_shown set), and a strong
      verdict (A>>B) counts as strong_weight games (default 3); see games().
    sum: per-order scores (strong verdicts weigh strong_weight, default 2, ordinary ones 1) are summed in
      canonical orientation into one battle; a sum above tie_margin wins, below -tie_margin loses, anything in
      between is a tie.
    single: only one order is judged, picked per key by a seeded hash (half the cost, keeps position bias).
    logprob: both orders judged with the verdict read from first-token probabilities (answer_format token);
      the preference for model_a is the mean over both orders of P(model_a's letter) - P(model_b's letter).
      A judge's constant pull towards the first position adds +b in one order and -b in the other, so it
      cancels; |mean| <= prob_margin is a tie. Small judges that always name the first answer still rank.
    """

    name: str = "conservative"
    strong_weight: int | None = None  # None: the rule's default (STRONG_WEIGHT)
    tie_margin: int = 0
    seed: int = 0
    prob_margin: float = 0.05

    def __post_init__(self) -> None:
        if self.name not in COMBINE_RULES:
            raise InputError(f"unknown combine rule {self.name!r} (known: {', '.join(COMBINE_RULES)})")
        if (self.strong_weight is not None and self.strong_weight < 1) or self.tie_margin < 0:
            raise InputError("combine rule: strong_weight must be >= 1 and tie_margin >= 0")

    @property
    def weight(self) -> int:
        """The weight of a strong (>>) verdict under this rule."""
        return self.strong_weight if self.strong_weight is not None else STRONG_WEIGHT.get(self.name, 2)

    def orders(self, pair: Pair, turn: int = 1) -> tuple[Order, ...]:
        """The orders to judge for this key; for `single` a hash of (seed, key) picks one, stable per key."""
        if self.name != "single":
            return ORDERS
        key = f"{self.seed}\0{pair.question_id}\0{pair.model_a}\0{pair.model_b}\0{turn}".encode()
        return (ORDERS[hashlib.sha256(key).digest()[0] & 1],)


def canonical(order: Order, preference: Preference) -> Preference:
    """A judgement re-oriented so that A means pair.model_a."""
    return preference if order == "ab" else preference.flipped()


def combine(rule: CombineRule, judged: Mapping[Order, Preference]) -> str | None:
    """A winner in judge.battles.WINNERS for the canonical pair, or None when a needed order is missing.

    None means no battle is recorded (a failed order is never guessed as a tie). For `score`, which records
    games rather than one battle, see games().
    """
    if rule.name == "score":
        raise ValueError("the score rule records one game per order: use games()")
    needed = ORDERS if rule.name != "single" else tuple(o for o in ORDERS if o in judged)[:1]
    if not needed or any(order not in judged for order in needed):
        return None
    views = [canonical(order, judged[order]) for order in needed]
    if rule.name == "sum":
        total = sum(_weighted(v, rule.weight) for v in views)
        return _winner(0 if abs(total) <= rule.tie_margin else total)
    directions = {v.direction for v in views}
    return _winner(directions.pop()) if len(directions) == 1 else "tie"


def games(rule: CombineRule, judged: Mapping[Order, Preference]) -> list[tuple[Order, str]] | None:
    """Arena-Hard's `score` rule: each order is a game won by the model it names (a tie for A=B), and a strong
    verdict counts rule.weight times; the (order, canonical winner) list, or None when an order is missing.

    A pure position bias (A>B in both orders) gives one game each way; A>>B then B>A gives model_a 3 games
    to model_b's 1.
    """
    if any(order not in judged for order in ORDERS):
        return None
    out: list[tuple[Order, str]] = []
    for order in ORDERS:
        view = canonical(order, judged[order])
        out += [(order, _winner(view.direction))] * (rule.weight if abs(view.score) == 2 else 1)
    return out


def combine_shares(rule: CombineRule, shares: Mapping[Order, Mapping[Preference, float]]) -> str | None:
    """The `logprob` rule: position-debiased mean of first-token preference probabilities; None if an order
    is missing."""
    if any(order not in shares for order in ORDERS):
        return None
    a, b = Preference.A_BETTER, Preference.B_BETTER
    lean = shares["ab"][a] - shares["ab"][b] + shares["ba"][b] - shares["ba"][a]  # towards model_a
    mean = lean / 2
    return _winner(0 if abs(mean) <= rule.prob_margin else (1 if mean > 0 else -1))


def _weighted(pref: Preference, strong_weight: int) -> int:
    return pref.direction * (strong_weight if abs(pref.score) == 2 else 1)


def _winner(sign: int) -> str:
    return "model_a" if sign > 0 else "model_b" if sign < 0 else "tie"


def to_battle(
    pair: Pair,
    winner: str,
    *,
    judge: str,
    turn: int | None = None,
    category: str | None = None,
    language: str | None = None,
    tstamp: float | None = None,
    judged: Mapping[Order, Preference] | None = None,
    single: Order | None = None,
) -> Battle:
    """The battle-log row for a combined verdict (source="judge").

    `judged` adds the per-order verdicts as shown (verdict_ab, verdict_ba); `single` marks a battle that
    stands for one order only (one game, or the `single` rule), whose first-shown model is then recorded.
    """
    judged = judged or {}
    first = None if single is None else (pair.model_a if single == "ab" else pair.model_b)
    return Battle(
        question_id=pair.question_id,
        model_a=pair.model_a,
        model_b=pair.model_b,
        winner=winner,
        judge=judge,
        source="judge",
        category=category,
        language=language,
        turn=turn,
        tstamp=tstamp,
        first_shown=first,
        verdict_ab=judged["ab"].value if "ab" in judged else None,
        verdict_ba=judged["ba"].value if "ba" in judged else None,
    )


# ------------------------------------------------------------------------------------------------------------
# Diagnostics


@dataclass(frozen=True)
class Judgement:
    """One judged order as stored: preference None records a parse failure (after retries)."""

    pair: Pair
    turn: int
    order: Order
    preference: Preference | None


@dataclass(frozen=True)
class VerdictStats:
    """Judge reliability from per-order judgements, which see parse failures and both orders of a pair.

    judge/validate/biases.py measures the same biases from a battle log, where each order is a separate vote.
    """

    judgements: int  # parsed judgements
    parse_failures: int
    pairs_with_both_orders: int
    position_consistency: float  # share of those pairs whose two orders name the same winner (or both tie)
    first_position_share: float  # share of decisive judgements preferring the answer shown first (0.5 = none)
    tie_rate: float  # share of parsed judgements that are ties


def verdict_stats(judgements: Iterable[Judgement]) -> VerdictStats:
    """Position bias and reliability of a judge, from its per-order judgements. Empty shares are NaN."""
    tally = VerdictTally()
    tally.add(judgements)
    return tally.stats()


@dataclass
class VerdictTally:
    """Running counts behind VerdictStats: a run adds each finished item's judgements and keeps no rows.

    Both orders of an item must come in the same add() (the judging stage adds whole items at a time).
    """

    parsed: int = 0
    failures: int = 0
    ties: int = 0
    decisive: int = 0
    first: int = 0
    both: int = 0
    agree: int = 0

    def add(self, judgements: Iterable[Judgement]) -> None:
        by_key: dict[tuple[Pair, int], dict[Order, Preference]] = {}
        for j in judgements:
            if j.preference is None:
                self.failures += 1
                continue
            self.parsed += 1
            self.ties += j.preference.direction == 0
            self.decisive += j.preference.direction != 0
            self.first += j.preference.direction > 0
            by_key.setdefault((j.pair, j.turn), {})[j.order] = j.preference
        both = [views for views in by_key.values() if len(views) == 2]
        self.both += len(both)
        self.agree += sum(
            canonical("ab", v["ab"]).direction == canonical("ba", v["ba"]).direction for v in both
        )

    def stats(self) -> VerdictStats:
        return VerdictStats(
            judgements=self.parsed,
            parse_failures=self.failures,
            pairs_with_both_orders=self.both,
            position_consistency=_share(self.agree, self.both),
            first_position_share=_share(self.first, self.decisive),
            tie_rate=_share(self.ties, self.parsed),
        )


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan
