"""A panel of judges: each judge's battles -> the panel's battles (pool, majority or weighted vote). Pure.

pool: every judge's battle is a battle of the panel (its `judge` column names the judge), so a panel of three
  gives three battles per item and the ratings pool all their evidence.
majority: one battle per item: a winner that more than half of the judges who decided the item named, else a
  tie (a split panel, or a panel that mostly called it a tie).
weighted: one battle per item from the weighted vote sum_k w_k * s_k, s_k = +1 (model_a), -1 (model_b),
  0 (tie); within `tie_margin` of zero it is a tie. A judge that did not decide the item adds nothing. The
  weights are given, or fitted to human votes by `judge validate --weights-out` (judge.validate.panel).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

from judge.battles import TIES, Battle
from judge.errors import InputError

WEIGHTS_FORMAT: Final = 1
Item = tuple[str, str, str, int | None]  # question_id, model_a, model_b, turn (canonical pair order)


def item_of(battle: Battle) -> Item:
    """The (question, unordered pair, turn) a battle decides, with the pair in sorted order."""
    low, high = sorted((battle.model_a, battle.model_b))
    return (battle.question_id, low, high, battle.turn)


def side(battle: Battle) -> int:
    """+1 when the item's first model (sorted) won, -1 when the second did, 0 for a tie."""
    if battle.winner in TIES:
        return 0
    won = battle.model_a if battle.winner == "model_a" else battle.model_b
    return 1 if won == min(battle.model_a, battle.model_b) else -1


def _winner(score: float) -> str:
    return "model_a" if score > 0 else "model_b" if score < 0 else "tie"


def majority_winner(sides: Sequence[int]) -> str:
    """model_a / model_b (of the sorted pair) when more than half of the votes name it, else tie."""
    for value in (1, -1):
        if 2 * sum(s == value for s in sides) > len(sides):
            return _winner(value)
    return "tie"


def weighted_winner(sides: Mapping[str, int], weights: Mapping[str, float], tie_margin: float = 0.0) -> str:
    """The sign of the weighted vote, a tie within tie_margin of zero."""
    score = sum(weights.get(name, 0.0) * s for name, s in sides.items())
    return _winner(0 if abs(score) <= tie_margin else score)


@dataclass(frozen=True)
class PanelRule:
    """How the panel combines (config.PanelConfig without the file bookkeeping)."""

    combine: str = "pool"
    weights: Mapping[str, float] | None = None
    tie_margin: float = 0.0
    name: str = "panel"


def panel_battles(by_judge: Mapping[str, Sequence[Battle]], rule: PanelRule) -> list[Battle]:
    """The panel's battles from each judge's battles of the same items (in first-seen item order).

    A judge with several battles on one item (`combine: score` plays two games) votes the sign of their sum.
    """
    if rule.combine == "pool":
        return [b for battles in by_judge.values() for b in battles]
    if rule.combine not in ("majority", "weighted"):
        raise InputError(f"unknown panel rule {rule.combine!r} (known: pool, majority, weighted)")
    votes = votes_table(by_judge)
    first: dict[Item, Battle] = {}
    for battles in by_judge.values():
        for battle in battles:
            first.setdefault(item_of(battle), battle)
    out = []
    for item, sides in votes.items():
        if rule.combine == "majority":
            winner = majority_winner(list(sides.values()))
        else:
            winner = weighted_winner(sides, rule.weights or {}, rule.tie_margin)
        out.append(_panel_battle(first[item], item, winner, rule.name))
    return out


def _panel_battle(seen: Battle, item: Item, winner: str, name: str) -> Battle:
    """The panel's row for an item: the item's fields from a judge's battle, no per-order verdicts (a panel
    has none), answer style counts kept and oriented to the sorted pair."""
    question_id, low, high, turn = item
    swap = seen.model_a != low
    style = {}
    for f in fields(Battle):
        if f.name.endswith("_a") and f.name not in ("model_a", "verdict_ab"):
            mine, other = f.name, f.name[:-2] + "_b"
            if hasattr(seen, other):
                style[mine] = getattr(seen, other if swap else mine)
                style[other] = getattr(seen, mine if swap else other)
    return Battle(
        question_id=question_id,
        model_a=low,
        model_b=high,
        winner=winner,
        judge=name,
        source="judge",
        category=seen.category,
        language=seen.language,
        turn=turn,
        tstamp=seen.tstamp,
        **style,
    )


def votes_table(by_judge: Mapping[str, Iterable[Battle]]) -> dict[Item, dict[str, int]]:
    """item -> judge -> side (+1 / -1 / 0; the sign of the sum over a judge's battles on the item)."""
    sums: dict[Item, dict[str, int]] = {}
    for judge, battles in by_judge.items():
        for battle in battles:
            cast = sums.setdefault(item_of(battle), {})
            cast[judge] = cast.get(judge, 0) + side(battle)
    return {item: {j: (s > 0) - (s < 0) for j, s in cast.items()} for item, cast in sums.items()}


def load_weights(path: str | Path) -> tuple[dict[str, float], float]:
    """A weights file written by `judge validate --weights-out`: (weights by judge, tie_margin)."""
    path = Path(path)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the weights file: {exc.strerror}", path=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"the weights file is not JSON: {exc}", path=path) from None
    if not isinstance(data, dict) or not isinstance(data.get("weights"), dict):
        raise InputError('expected {"weights": {judge: number}, ...}', path=path)
    if data.get("format_version") != WEIGHTS_FORMAT:
        raise InputError(f"unsupported format_version {data.get('format_version')!r}", path=path)
    weights = data["weights"]
    bad = [k for k, v in weights.items() if isinstance(v, bool) or not isinstance(v, int | float)]
    if bad:
        raise InputError(f"weight of {bad[0]!r} is not a number", path=path)
    margin = data.get("tie_margin", 0.0)
    if isinstance(margin, bool) or not isinstance(margin, int | float) or margin < 0:
        raise InputError("tie_margin must be a number >= 0", path=path)
    return {str(k): float(v) for k, v in weights.items()}, float(margin)
