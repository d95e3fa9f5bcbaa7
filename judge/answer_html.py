"""Markdown texts (answers, questions, references) as HTML a voting page may insert.

Chatbot Arena shows answers rendered (headings, lists, code, tables); a voter shown a code block as a wall of
backticks judges the layout, not the answer. The texts are untrusted, so the rendering is closed:
markdown-it-py with raw HTML off (a tag in an answer is escaped and shows as text), links only to http(s) and
mailto targets (anything else stays its source text), images turned into a link with their alt text (a
voter's browser never fetches a URL a model chose), and table alignment as a class (the pages' CSP forbids
style attributes). `TAGS` and `ATTRIBUTES` list everything the output can contain; the pages insert it
through `SAFE_HTML_JS`, which parses it inertly and rebuilds only those tags and attributes, so a bug here
still cannot put markup of a model's choosing into the page.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Final

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

TAGS: Final = frozenset(
    {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code", "em"}
    | {"strong", "s", "a", "table", "thead", "tbody", "tr", "th", "td"}
)
ATTRIBUTES: Final[Mapping[str, frozenset[str]]] = {
    "a": frozenset({"href", "title", "class"}),
    "ol": frozenset({"start"}),
    "code": frozenset({"class"}),
    "th": frozenset({"class"}),
    "td": frozenset({"class"}),
}
_LINK: Final = re.compile(r"^(?:https?|mailto):", re.IGNORECASE)
_LANGUAGE: Final = re.compile(r"^[\w+#.-]{1,40}$")
_CACHE_SIZE: Final = 1024  # a voting session shows each text a few times (reloads); answers are small
# Longer texts are shown as plain text: markdown-it-py renders a real 50 kB answer in under 0.1 s, but crafted
# input (thousands of "[" or table rows) costs about 50 us a character on this machine.
MAX_MARKDOWN_CHARS: Final = 50_000
# Marked safe for jinja2: our own script and style, inlined under each page's CSP nonce.
SAFE_HTML_JS: Final = Markup(resources.files("judge").joinpath("answer_html.js").read_text(encoding="utf-8"))
MARKDOWN_CSS: Final = Markup(resources.files("judge").joinpath("answer_html.css").read_text(encoding="utf-8"))


def safe_link(url: str) -> bool:
    """Only web and mail links: javascript:, data:, vbscript:, file: and relative links show as text."""
    return bool(_LINK.match(url))


def _cell(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """A table cell's alignment as class align-left/center/right instead of a style attribute."""
    token = tokens[idx]
    style = token.attrs.pop("style", None)
    if isinstance(style, str) and style.startswith("text-align:"):
        token.attrSet("class", "align-" + style.removeprefix("text-align:"))
    return self.renderToken(tokens, idx, options, env)


def _fence(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """A fenced code block: monospace, whitespace kept, a language class only when it is a plain word."""
    token = tokens[idx]
    language = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
    cls = f' class="language-{language}"' if _LANGUAGE.match(language) else ""
    return f"<pre><code{cls}>{html.escape(token.content, quote=False)}</code></pre>\n"


def _image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """An image as a link labelled with its alt text: nothing is fetched unless the voter follows it."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    src = str(token.attrGet("src") or "")
    label = html.escape(f"[image: {alt}]", quote=False)
    if not safe_link(src):
        return label
    return f'<a class="image" href="{html.escape(src)}">{label}</a>'


@functools.cache
def _renderer() -> MarkdownIt:
    """CommonMark, GitHub tables and strikethrough; single newlines kept as line breaks, as chat UIs do."""
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = safe_link  # type: ignore[method-assign]
    for name in ("th_open", "td_open"):
        md.add_render_rule(name, _cell)
    md.add_render_rule("fence", _fence)
    md.add_render_rule("image", _image)
    return md


@functools.lru_cache(maxsize=_CACHE_SIZE)
def to_html(text: str) -> str:
    """One markdown text as HTML made only of `TAGS` and `ATTRIBUTES`; raw HTML in it stays visible text."""
    if len(text) > MAX_MARKDOWN_CHARS:
        return plain_html(text)
    return str(_renderer().render(text))


def plain_html(text: str) -> str:
    """A text as one paragraph of escaped lines: what a text too long to parse as markdown is shown as."""
    lines = html.escape(text, quote=False).split("\n")
    return "<p>" + "<br />\n".join(lines) + "</p>\n"


def texts_html(texts: Sequence[str]) -> list[str]:
    return [to_html(text) for text in texts]
