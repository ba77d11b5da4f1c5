"""The report an analyst reads, in Debian's Chromium at 1024, 1280 and 1600 px (issue 21 item 5).

Nothing overflows its column, the score histogram says its scale, a campaign's timeline spans its days, the
templates shown characterise the campaign, network links are visible, evidence tags do not break mid-word,
features have names a person reads, and a "What to do" table says what the default policy would do.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from distillguard.report import write_report
from distillguard.report.sample import write_sample_detection
from test_browser import ARTIFACTS, CHROMIUM, browser, charts_drawn  # noqa: F401  (browser: the fixture)

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} not installed")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(write_sample_detection(tmp_path_factory.mktemp("report-widths")))


@pytest.mark.parametrize("width", [1024, 1280, 1600])
def test_report_reads_well_at_common_widths(browser: Any, report: Path, width: int) -> None:  # noqa: F811
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(report.as_uri())
    charts_drawn(page)
    # nothing wider than the window, and every chart inside its own box
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    over = page.eval_on_selector_all(".chart", """els => els.filter(e => {
        const s = e.querySelector('svg'); if (!s) return false;
        const b = e.getBoundingClientRect(), r = s.getBoundingClientRect();
        return r.right > b.right + 1 || r.left < b.left - 1; }).map(e => e.id)""")
    assert over == [], over
    # the histogram's y axis says it is linear
    assert "accounts (linear scale)" in page.locator("#chart-scores svg").text_content()
    # a campaign's timeline axis runs over its own days, not the whole log's
    first, last = page.evaluate("""() => { const c = document.querySelector('section.campaign');
        const kv = [...c.querySelectorAll('table.kv td')].map(td => td.textContent.trim());
        return [kv[2].slice(0, 10), kv[3].slice(0, 10)]; }""")
    labels = page.evaluate("""() => [...document.querySelector('section.campaign')
        .querySelectorAll(".chart[id$='-timeline'] svg text")].map(e => e.textContent)
        .filter(t => /^\\d{4}-\\d\\d-\\d\\d$/.test(t))""")
    assert labels and min(labels) >= first and max(labels) <= last, (labels, first, last)
    # top templates: neither the generic "continue" nor a template of one account
    examples = page.eval_on_selector_all("section.campaign td.example", "els => els.map(e => e.textContent)")
    assert examples and "continue" not in examples
    assert not any(e.startswith("Summarise the following customer email") for e in examples)
    # network links drawn opaque enough to see
    opacities = page.eval_on_selector_all(".chart[id$='-net'] svg .mark-rule line",
                                          "els => els.map(e => parseFloat(e.getAttribute('opacity') || 1))")
    assert opacities and min(opacities) >= 0.75
    # evidence tags: each on one line (a tag never broken inside a word)
    broken = page.eval_on_selector_all(".evidence code", "els => els.filter(e => e.getClientRects().length > 1)"
                                                         ".map(e => e.textContent)")
    assert broken == []
    # drill-down features in words
    names = page.eval_on_selector_all("details.account td[title]", "els => els.map(e => e.textContent)")
    assert names and not any("_" in n for n in names), names
    # what to do, per campaign: the default policy's action, accounts, legitimate traffic touched
    rows = page.eval_on_selector_all("table.what-to-do tbody tr", "els => els.map(e => e.innerText)")
    assert len(rows) == 2 and all("block" in r for r in rows), rows
    page.screenshot(path=str(ARTIFACTS / f"report-{width}.png"), full_page=False)
    page.close()
