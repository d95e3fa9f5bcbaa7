"""Markdown answers as HTML: markdown constructs render, and nothing a model writes becomes markup, a script
link or a fetched image. The page's own re-parse (answer_html.js) runs in tests/test_vote_browser.py."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from judge.answer_html import ATTRIBUTES, MAX_MARKDOWN_CHARS, SAFE_HTML_JS, TAGS, safe_link, to_html


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> tuple[list[tuple[str, dict[str, str | None]]], str]:
    """(elements with their attributes, visible text) of a rendered fragment."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.elements, "".join(parser.text)


def assert_allowlisted(html: str) -> None:
    """Only the renderer's tags and attributes, and only http(s) / mailto link targets."""
    for tag, attrs in parse(html)[0]:
        assert tag in TAGS, (tag, html)
        assert set(attrs) <= ATTRIBUTES.get(tag, frozenset()), (tag, attrs, html)
        if "href" in attrs:
            assert safe_link(attrs["href"] or ""), (attrs, html)


HOSTILE_MARKDOWN = {
    "script": "<script>alert(1)</script>",
    "onerror": '<img src=x onerror="alert(1)">',
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "inline link": "[click](javascript:alert(1))",
    "mixed case": "[click](JaVaScRiPt:alert(1))",
    "entity scheme": "[click](&#106;avascript:alert(1))",
    "autolink": "<javascript:alert(1)>",
    "data link": "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "vbscript": "[click](vbscript:msgbox(1))",
    "reference link": "[click][x]\n\n[x]: javascript:alert(1)",
    "raw anchor": '<a href="javascript:alert(1)" onclick="alert(1)">click</a>',
    "svg": '<svg onload="alert(1)"><circle r="1"/></svg>',
    "style": "<style>body{display:none}</style>",
    "event in title": '[ok](https://example.org "x\\" onmouseover=\\"alert(1)")',
    "fence info": '```js" onmouseover="alert(1)\ncode\n```',
}


def test_hostile_markdown_shows_as_text_and_never_as_markup() -> None:
    for name, source in HOSTILE_MARKDOWN.items():
        html = to_html(source)
        assert_allowlisted(html)
        elements, _ = parse(html)
        assert all(tag not in ("script", "img", "iframe", "svg", "style") for tag, _ in elements), name
        assert all(not key.startswith("on") for _, attrs in elements for key in attrs), name
    # Raw HTML is escaped, so the voter sees exactly what the model wrote.
    for name in ("script", "onerror", "iframe", "raw anchor", "svg", "style"):
        assert parse(to_html(HOSTILE_MARKDOWN[name]))[1].strip() == HOSTILE_MARKDOWN[name], name
    # A refused link keeps its source text; the title with quotes stays an attribute value.
    assert parse(to_html(HOSTILE_MARKDOWN["inline link"]))[1].strip() == "[click](javascript:alert(1))"
    elements, _ = parse(to_html(HOSTILE_MARKDOWN["event in title"]))
    assert elements == [
        ("p", {}),
        ("a", {"href": "https://example.org", "title": 'x" onmouseover="alert(1)'}),
    ]
    assert parse(to_html(HOSTILE_MARKDOWN["fence info"]))[0] == [("pre", {}), ("code", {})]


def test_images_become_links_that_fetch_nothing() -> None:
    elements, text = parse(to_html("![a *pixel*](https://tracker.example/p.png)"))
    assert elements == [("p", {}), ("a", {"class": "image", "href": "https://tracker.example/p.png"})]
    assert text.strip() == "[image: a pixel]"
    elements, text = parse(to_html("![x](javascript:alert(1))"))
    assert elements == [("p", {})] and "javascript" in text


def test_markdown_constructs_render() -> None:
    source = (
        "# Title\n\n## Part *one*\n\n"
        "Some **bold**, *italic*, ~~gone~~ and `inline code`.\nA second line.\n\n"
        "1. first\n2. second\n\n3) restart\n\n- dash\n- list\n\n"
        "> quoted\n\n---\n\n"
        "```python\ndef f(x):\n    return  x   # spaces kept\n\n\n    # after blank lines\n```\n\n"
        "    indented code\n\n"
        "| left | centre | right |\n|:-----|:------:|------:|\n| a | b | c |\n\n"
        '[docs](https://example.org/a?b=1&c=2 "Docs") <https://example.org> [mail](mailto:x@example.org)\n'
    )
    html = to_html(source)
    assert_allowlisted(html)
    assert "<h1>Title</h1>" in html and "<h2>Part <em>one</em></h2>" in html
    assert "<strong>bold</strong>" in html and "<s>gone</s>" in html and "<code>inline code</code>" in html
    assert "code</code>.<br />\nA second line." in html  # a single newline stays a line break, as in chat UIs
    assert "<ol>\n<li>first</li>" in html and '<ol start="3">' in html and "<ul>\n<li>dash</li>" in html
    assert "<blockquote>" in html and "<hr />" in html
    assert (
        '<pre><code class="language-python">def f(x):\n    return  x   # spaces kept\n\n\n'
        "    # after blank lines\n</code></pre>"
    ) in html
    assert "<pre><code>indented code\n</code></pre>" in html
    for cell in ('<th class="align-left">left</th>', '<th class="align-center">centre</th>'):
        assert cell in html
    assert '<td class="align-right">c</td>' in html and "style=" not in html
    assert '<a href="https://example.org/a?b=1&amp;c=2" title="Docs">docs</a>' in html
    assert '<a href="https://example.org">https://example.org</a>' in html
    assert '<a href="mailto:x@example.org">mail</a>' in html


def test_a_text_too_long_for_markdown_is_shown_as_plain_lines() -> None:
    text = "**not bold** <script>x</script>\n" + "[" * MAX_MARKDOWN_CHARS
    html = to_html(text)
    assert_allowlisted(html)
    assert html.startswith("<p>**not bold** &lt;script&gt;x&lt;/script&gt;<br />\n[[[")
    assert parse(html)[1] == text + "\n"  # and the newline after </p>


def test_the_page_script_allows_what_the_renderer_emits() -> None:
    """answer_html.js carries its own copy of the allowlist; the two must not drift apart."""
    for tag in TAGS:
        assert f'"{tag}"' in SAFE_HTML_JS
    for tag, names in ATTRIBUTES.items():
        assert f"{tag}: {json.dumps(sorted(names))}" in SAFE_HTML_JS
    assert "</script" not in SAFE_HTML_JS.lower()


_PIECES = st.sampled_from(
    ["<", ">", "&", '"', "'", "[", "]", "(", ")", "!", "*", "_", "`", "```", "~~", "#", "|", "-", ":", "\n",
     "\n\n", " ", "    ", "javascript:", "data:", "https://x.y/", "script", "img", "iframe", "onerror=",
     "src=", "href=", "&#106;", "\\", "---", "1. ", "> ", "a", "b"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60).map("".join))
def test_any_text_renders_to_allowlisted_html(text: str) -> None:
    assert_allowlisted(to_html(text))
