"""Judge prompts: load our jinja2 templates (built-in by name, or a file a config names) and render them.

Model answers are untrusted text. Every question, reference and answer reaches a template as a `Block`
that prints as a fenced piece between `<<<BEGIN NAME token>>>` and `<<<END NAME token>>>` lines. Each
block's token is derived from a hash of its own name and text, so an answer cannot predict it (it would have
to contain its own hash), while the same inputs always give the same prompt (and the same judge cache key).
Because a block's token does not depend on what follows it, prompts that share a question and a first answer
share their whole beginning, which servers with prompt caching (llama.cpp, hosted APIs) compute only once.
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
TEMPLATE_HASH_PREFIX: Final = "t2:"  # t2: one token per block (t1: one per prompt)
BUILTIN_TEMPLATES: Final = ("pairwise", "pairwise_reference", "multi_turn", "multi_turn_reference", "compact")
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
    boundary: str  # the judged question's token (the `boundary` template variable)
    scale: int
    answer_format: AnswerFormat
    tokens: tuple[tuple[str, str], ...] = ()  # (block name, token) of every fenced block

    def token(self, label: str) -> str:
        """The fencing token of one block, e.g. token("ANSWER_B")."""
        return dict(self.tokens)[label]

    def messages(self) -> tuple[Message, ...]:
        return (Message(role="user", content=self.text),)


class Block:
    """Untrusted text that prints as a fenced piece; `.text` gives the raw text for templates that need it."""

    def __init__(self, text: str, label: str, boundary: str) -> None:
        self.text = text
        self.label = label
        self.boundary = boundary

    def __str__(self) -> str:
        body = self.text if self.text.endswith("\n") else self.text + "\n"
        return f"<<<BEGIN {self.label} {self.boundary}>>>\n{body}<<<END {self.label} {self.boundary}>>>"


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


def _boundary(template: Template, label: str, text: str) -> str:
    """A block's token, from a hash of its name and text; re-derived should the text hold it."""
    seed = "\0".join([template.digest, label, text]).encode("utf-8")
    for attempt in range(100):
        token = hashlib.sha256(seed + attempt.to_bytes(4, "big")).hexdigest()[:16]
        if token not in text:
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
    many = len(turns) > 1
    tokens: dict[str, str] = {}

    def block(text: str, label: str, number: int) -> Block:
        name = f"{label}_TURN_{number}" if many else label
        tokens[name] = _boundary(template, name, text)
        return Block(text, name, tokens[name])

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
        "boundary": blocks[-1]["question"].boundary,
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
        boundary=blocks[-1]["question"].boundary,
        scale=scale,
        answer_format=answer_format,
        tokens=tuple(tokens.items()),
    )


def default_template_name(*, turn: int, has_reference: bool, answer_format: str = "marker") -> str:
    """The built-in template for a turn: multi-turn from the second turn on, with references when present.

    The token format (a verdict read from one token, for small local judges) gets the short `compact`
    template: a tiny model follows a short prompt better, and every prompt token costs it time.
    """
    if answer_format == "token":
        return "compact"
    base = "pairwise" if turn <= 1 else "multi_turn"
    return f"{base}_reference" if has_reference else base
