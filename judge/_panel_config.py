"""The `judges:` and `panel:` checks of a tournament config (kept apart from the single-judge reader)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from judge.config import PANEL_RULES, JudgeConfig, PanelConfig, Prices
from judge.errors import InputError
from judge.panel import load_weights

if TYPE_CHECKING:
    from judge._config_reader import Reader

_BUDGET_KEYS = ("judge_calls", "usd")


def read_judges(
    reader: Reader, m: dict[str, Any], top: dict[str, Any], prices: dict[str, Prices]
) -> tuple[JudgeConfig, tuple[JudgeConfig, ...], PanelConfig | None]:
    """(the judge, the panel's members, the panel settings); without `judges:` just the one judge."""
    if m.get("judges") is None:
        if m.get("panel") is not None:
            raise reader.fail("panel", "is used only with judges: (a list of judges)")
        return reader.judge(m.get("judge"), top, prices), (), None
    if m.get("judge") is not None:
        raise reader.fail(
            "judges",
            "give either judge: (one judge) or judges: (a panel), not both",
            "move judge into judges",
        )
    raw = reader.get(m, "", "judges", "list")
    if not raw:
        raise reader.fail("judges", "must list at least one judge")
    judges = tuple(_member(reader, spec, f"judges[{i}]", top, prices) for i, spec in enumerate(raw))
    seen: dict[str, int] = {}
    identities: dict[str, int] = {}
    for i, judge in enumerate(judges):
        name = judge.name or ""
        if name in seen:
            raise reader.fail(f"judges[{i}].name", f"'{name}' is already used by judges[{seen[name]}]")
        seen[name] = i
        ident = repr(sorted(judge.identity().items()) + [judge.template, judge.scale, judge.answer_format])
        if ident in identities:
            raise reader.fail(
                f"judges[{i}]",
                f"same model and settings as judges[{identities[ident]}], so the same verdicts",
                "change the model or a setting, or remove one",
            )
        identities[ident] = i
    return judges[0], judges, _panel(reader, m.get("panel"), tuple(seen))


def _member(
    reader: Reader, spec: Any, at: str, top: dict[str, Any], prices: dict[str, Prices]
) -> JudgeConfig:
    if isinstance(spec, dict) and spec.get("name") is None:
        raise reader.fail(f"{at}.name", "is required for each judge of a panel", "e.g. name: gpt4o-judge")
    judge = reader.judge(spec, top, prices, at=at, extra=("budget",))
    budget = spec.get("budget")
    if budget is None:
        return judge
    b = reader.mapping(budget, f"{at}.budget", _BUDGET_KEYS)
    calls = reader.positive(b, f"{at}.budget", "judge_calls", "int", None)
    usd = reader.positive(b, f"{at}.budget", "usd", "num", None, low=1e-9)
    if calls is None and usd is None:
        raise reader.fail(f"{at}.budget", "give judge_calls and/or usd")
    if usd is not None and judge.prices is None:
        raise reader.fail(
            f"{at}.budget.usd", "needs this judge's prices", "set prices: {input: .., output: ..}"
        )
    from dataclasses import replace

    return replace(judge, budget_calls=calls, budget_usd=usd)


def _panel(reader: Reader, spec: Any, names: tuple[str, ...]) -> PanelConfig:
    m = reader.mapping({} if spec is None else spec, "panel", ("combine", "weights", "tie_margin", "name"))
    combine = reader.get(m, "panel", "combine", "str", "pool")
    if combine not in PANEL_RULES:
        raise reader.fail("panel.combine", f"'{combine}' is unknown (known: {', '.join(PANEL_RULES)})")
    name = reader.get(m, "panel", "name", "str", "panel")
    if name in names:
        raise reader.fail(
            "panel.name", f"'{name}' is also a judge's name", "the panel needs a name of its own"
        )
    margin = reader.positive(m, "panel", "tie_margin", "num", None, low=0)
    weights: dict[str, float] | None = None
    raw = m.get("weights")
    if raw is not None:
        if combine != "weighted":
            raise reader.fail("panel.weights", "is used only with combine: weighted")
        if isinstance(raw, str):
            path = reader.file(raw, "panel.weights", "weights file")
            try:
                weights, fitted_margin = load_weights(path)
            except InputError as exc:
                raise reader.fail(
                    "panel.weights", exc.reason, "write it with judge validate --weights-out"
                ) from None
            margin = fitted_margin if margin is None else margin
        else:
            w = reader.mapping(raw, "panel.weights", names)
            weights = {str(k): reader.get(w, "panel.weights", str(k), "num") for k in w}
        missing = [n for n in names if n not in weights]
        if missing:
            raise reader.fail(
                "panel.weights", f"no weight for judge '{missing[0]}'", f"judges: {', '.join(names)}"
            )
    elif combine == "weighted":
        raise reader.fail(
            "panel.weights",
            "is required for combine: weighted",
            "a mapping judge -> weight, or a file from judge validate --weights-out",
        )
    return PanelConfig(combine, weights, 0.0 if margin is None else margin, name)
