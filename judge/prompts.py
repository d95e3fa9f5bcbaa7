"""Judge prompts: load our jinja2 templates (built-in by name, or a file a config names) and render them.

Model answers are untrusted text. Every question, reference and answer reaches a template as a `Block`
that prints as a fenced piece between `<<<BEGIN NAME token>>>` and `<<<END NAME token>>>` lines. The token
is derived from a hash of everything fenced, so an answer cannot predict it (it would have to contain its
own hash), while the same inputs always give the same prompt (and so the same cache key for the judge).
"""

from __future__ import annotations

import hashlib
import importlib.resources
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import jinja2
import jinja2.meta

from judge.errors import InputError
from judge.providers.base import Message

# Bump when the hashed form or the fencing of blocks changes, so recorded template hashes stay comparable.
TEMPLATE_HASH_PREFIX: Final = "t1:"
BUILTIN_TEMPLATES: Final = ("pairwise", "pairwise_reference", "multi_turn", "multi_turn_reference")
SCALES: Final = (3, 5)
ANSWER_FORMATS: Final = ("marker", "json", "token")
AnswerFormat = Literal["marker", "json", "token"]
TEMPLATE_VARIABLES: Final = (
    "question",
    "reference",
    "answer_a",
    "answer_b",
    "turns",
    "turn",
    "category",
    "boundary",
    "scale",
    "answer_format",
)
_PACKAGE: Final = "judge._prompts"


@dataclass(frozen=True)
class Template:
    """A loaded template: its name (built-in name or path as given), source, and content hash."""

    name: str
    source: str
    digest: str  # TEMPLATE_HASH_PREFIX + sha256 over this source and every template it includes
    _compiled: jinja2.Template = field(repr=False, compare=False)


def cut_answer(text: str, limit: int) -> str:
    """An answer of at most `limit` characters for a judge prompt, the cut marked so the judge knows."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n\n[answer cut for judging: the first {limit:,} of {len(text):,} characters]"


@dataclass(frozen=True)
class TurnText:
    """One turn as the judge sees it: the user's message, both shown answers and an optional reference."""

    question: str
    answer_a: str
    answer_b: str
    reference: str | None = None

    def swapped(self) -> TurnText:
        """The same turn with the answers shown in the other order (for the "ba" judging order)."""
        return TurnText(self.question, self.answer_b, self.answer_a, self.reference)


@dataclass(frozen=True)
class RenderedPrompt:
    """The judge's prompt plus what the verdict row records about how it was made."""

    text: str
    template_name: str
    template_hash: str
    boundary: str
    scale: int
    answer_format: AnswerFormat

    def messages(self) -> tuple[Message, ...]:
        return (Message(role="user", content=self.text),)


class Block:
    """Untrusted text that prints as a fenced piece; `.text` gives the raw text for templates that need it."""

    def __init__(self, text: str, label: str, boundary: str) -> None:
        self.text = text
        self.label = label
        self._boundary = boundary

    def __str__(self) -> str:
        body = self.text if self.text.endswith("\n") else self.text + "\n"
        return f"<<<BEGIN {self.label} {self._boundary}>>>\n{body}<<<END {self.label} {self._boundary}>>>"


def _builtin_source(name: str) -> str | None:
    resource = importlib.resources.files(_PACKAGE).joinpath(name)
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


def _environment(search_dir: Path | None) -> jinja2.Environment:
    """Includes resolve next to a custom template first, then among the built-ins."""

    def load(name: str) -> str | None:
        if search_dir is not None:
            candidate = search_dir / name
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8")
        return _builtin_source(name)

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        auto_reload=False,
    )


def load_template(spec: str | Path, *, base_dir: Path | None = None) -> Template:
    """Load a built-in template by name (see BUILTIN_TEMPLATES) or a template file by path.

    A relative path is taken from `base_dir` (the directory of the config that names it) when given.
    """
    text = str(spec)
    if text in BUILTIN_TEMPLATES:
        source = _builtin_source(f"{text}.j2")
        if source is None:  # pragma: no cover - the package ships them
            raise InputError(f"built-in prompt template {text!r} is missing from the installation")
        return _compile(text, source, _environment(None), path=None)
    path = Path(spec)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        raise InputError(
            "prompt template not found",
            path=path,
            hint=f"name a built-in template ({', '.join(BUILTIN_TEMPLATES)}) or an existing .j2 file",
        )
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read prompt template: {exc}", path=path) from exc
    return _compile(text, source, _environment(path.parent), path=path)


def _compile(name: str, source: str, env: jinja2.Environment, *, path: Path | None) -> Template:
    where = path if path is not None else f"<built-in template {name}>"
    try:
        compiled = env.from_string(source)
        parts = [f"{name}\0{source}"] + [
            f"{n}\0{s}" for n, s in sorted(_included(env, source, set()).items())
        ]
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"prompt template syntax error: {exc.message}", path=where, line=exc.lineno) from exc
    except jinja2.TemplateNotFound as exc:
        raise InputError(f"prompt template includes {exc.name!r}, which does not exist", path=where) from exc
    digest = hashlib.sha256("\0\0".join(parts).encode("utf-8")).hexdigest()
    return Template(name=name, source=source, digest=TEMPLATE_HASH_PREFIX + digest, _compiled=compiled)


def _included(env: jinja2.Environment, source: str, seen: set[str]) -> dict[str, str]:
    """Sources of every template `source` includes (transitively): editing a partial changes the hash."""
    found: dict[str, str] = {}
    for name in jinja2.meta.find_referenced_templates(env.parse(source)):
        if name is None or name in seen:
            continue
        seen.add(name)
        assert env.loader is not None
        child, _, _ = env.loader.get_source(env, name)
        found[name] = child
        found.update(_included(env, child, seen))
    return found


def _boundary(template: Template, turns: Sequence[TurnText]) -> str:
    """A token derived from all fenced text; re-derived in the unlikely case some text already contains it."""
    texts = [t for turn in turns for t in (turn.question, turn.answer_a, turn.answer_b, turn.reference or "")]
    seed = "\0".join([template.digest, *texts]).encode("utf-8")
    for attempt in range(100):
        token = hashlib.sha256(seed + attempt.to_bytes(4, "big")).hexdigest()[:16]
        if not any(token in text for text in texts):
            return token
    raise AssertionError("no boundary token found")  # pragma: no cover - would need 100 sha256 collisions


def render(
    template: Template,
    turns: Sequence[TurnText],
    *,
    scale: int = 3,
    answer_format: AnswerFormat = "marker",
    category: str | None = None,
) -> RenderedPrompt:
    """Render the prompt that judges the last of `turns`, with every untrusted text fenced.

    Missing variables (e.g. a reference template without a reference) raise InputError, never render blank.
    """
    if not turns:
        raise ValueError("render needs at least one turn")
    if scale not in SCALES:
        raise InputError(f"verdict scale must be 3 or 5, not {scale!r}")
    if answer_format not in ANSWER_FORMATS:
        raise InputError(f"answer format must be one of {', '.join(ANSWER_FORMATS)}, not {answer_format!r}")
    if answer_format == "token" and scale != 3:
        raise InputError(
            "the token answer format (verdict read from logprobs) supports only the 3-level scale"
        )
    boundary = _boundary(template, turns)
    many = len(turns) > 1

    def block(text: str, label: str, number: int) -> Block:
        return Block(text, f"{label}_TURN_{number}" if many else label, boundary)

    # Plain dicts with absent values left out: StrictUndefined turns their use into an error, never "None".
    blocks: list[dict[str, Block]] = []
    for n, t in enumerate(turns, start=1):
        turn_blocks = {
            "question": block(t.question, "QUESTION", n),
            "answer_a": block(t.answer_a, "ANSWER_A", n),
            "answer_b": block(t.answer_b, "ANSWER_B", n),
        }
        if t.reference is not None:
            turn_blocks["reference"] = block(t.reference, "REFERENCE", n)
        blocks.append(turn_blocks)
    context: dict[str, Any] = {
        **blocks[-1],
        "turns": blocks,
        "turn": len(turns),
        "boundary": boundary,
        "scale": scale,
        "answer_format": answer_format,
    }
    if category is not None:
        context["category"] = category
    try:
        text = template._compiled.render(context)
    except jinja2.UndefinedError as exc:
        if "reference" in str(exc):
            reason = "needs a reference answer, and this question has none"
        else:
            reason = f"uses an undefined variable ({exc.message})"
        raise InputError(
            f"prompt template {template.name!r} {reason}",
            hint=f"variables available to templates: {', '.join(TEMPLATE_VARIABLES)}",
        ) from exc
    except jinja2.TemplateError as exc:
        raise InputError(f"prompt template {template.name!r} failed to render: {exc}") from exc
    return RenderedPrompt(
        text=text.strip() + "\n",
        template_name=template.name,
        template_hash=template.digest,
        boundary=boundary,
        scale=scale,
        answer_format=answer_format,
    )


def default_template_name(*, turn: int, has_reference: bool) -> str:
    """The built-in template for a turn: multi-turn from the second turn on, with references when present."""
    base = "pairwise" if turn <= 1 else "multi_turn"
    return f"{base}_reference" if has_reference else base
