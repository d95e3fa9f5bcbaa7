"""The report of a three-judge panel tournament (loopback judge server) in real headless Chromium: the panel
section shows every judge's board beside the panel's, the kappa heatmap and cost per judge, and the battle
browser names each judge's verdict and shows its reasoning as text.

Needs Debian's `chromium` (.ci/run installs it); skips with the reason when it is absent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_report_browser import articles, render_dom

from judge import api
from tests.chromium import needs_chromium
from tests.panel_server import JudgeServer
from tests.test_panel import ITEMS, judge_entry, write

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("panel-report")
    with JudgeServer() as server:
        judges = "".join(
            judge_entry(server, m, n)
            for m, n in (("acc-0.95", "big"), ("acc-0.75", "small-1"), ("first", "small-2"))
        )
        result = api.run(
            write(root, judges, "panel: {combine: majority}\n"), out=root / "out", env={}, bootstrap=20
        )
    return result.out_dir / "report.html"


def test_panel_section_in_chromium(report: Path, tmp_path: Path) -> None:
    dom, console = render_dom(report, tmp_path)
    assert console == []
    section = dom.split('<section id="panel">')[1].split("</section>")[0]
    assert section.count('<tr class="panel-row">') == 4  # one row per contestant
    for judge in ("big", "small-1", "small-2"):
        assert f'<th class="num">{judge}</th>' in section
    assert 'id="panel-kappa"' in section and 'id="kappa-matrix"' in section
    assert "majority" in section and "Krippendorff" in section
    costs = dom.split('<section id="costs">')[1].split("</section>")[0]
    for judge in ("big", "small-1", "small-2"):
        assert re.search(rf"<td>{judge}</td><td>judge</td><td class=\"num\">{2 * ITEMS}</td>", costs)
    assert "panel (all judges)" in costs
    assert articles(dom) and f"of {ITEMS} battles" in dom  # the browser shows the first page of them
    first_card = dom.split('<article class="battle"')[1].split("</article>")[0]
    for judge in ("big", "small-1", "small-2"):
        assert f"Judge {judge}, order ab" in first_card and f"Judge {judge}, order ba" in first_card
    # The judges' reasoning is text: the <b> in it is escaped, never an element.
    assert "&lt;b&gt;reads&lt;/b&gt;" in first_card and "<b>reads</b>" not in dom
