from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.cli import main
from distillguard.errors import InputError
from distillguard.gateway.logsink import ExchangeLog
from distillguard.ingest import ingest_logs
from distillguard.report import Campaign, Evidence, campaign_sentence, load_findings, render_report, write_report
from distillguard.report.charts import spec_json
from distillguard.report.sample import HOSTILE_AGENT, HOSTILE_PROMPT, write_sample_detection
from distillguard.report.summary import count
from distillguard.store import Store

EXTRAS = ("links.parquet", "features.parquet", "templates.csv", "infrastructure.csv", "timeline.csv",
          "enforcement.csv", "backtest.json")
FROZEN = datetime(2026, 6, 6, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_detection(tmp_path_factory.mktemp("detect"), hostile=True)


@pytest.fixture(scope="module")
def html(sample: Path) -> str:
    return write_report(sample).read_text(encoding="utf-8")


def test_sentence_in_provider_words() -> None:
    c = Campaign(
        "C-3", 24_812, 28_812_345, "2026-04-22T00:03:00Z", "2026-06-05T23:59:00Z",
        (("coding", 0.35), ("reasoning", 0.41), ("tool_use", 0.24)),
        (Evidence("shared-template", "x"), Evidence("lockstep-timing", "y"), Evidence("payment", "z"),
         Evidence("shared-template", "again")),
        0.97,
    )
    assert campaign_sentence(c) == (
        "campaign C-3: 24,812 accounts, 28.8M exchanges, 2026-04-22 → 2026-06-05, targeting reasoning 41 %, "
        "coding 35 %, tool use 24 %; bound by shared templates, lockstep timing, payment fingerprints"
    )


def test_report_is_self_contained(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    # nothing is fetched: no external script, stylesheet, image or font
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html
    assert "window.vegaEmbed=" in html  # the renderer itself is inlined
    assert "campaign C-1: 60 accounts" in html and "campaign C-2: 25 accounts" in html
    assert "bound by shared templates, lockstep timing, payment fingerprints" in html


def test_every_section_is_present(html: str) -> None:
    for marker in ('id="camp-C-1-timeline"', 'id="camp-C-1-caps"', 'id="camp-C-1-net"', "Top templates",
                   "Infrastructure", "Enforcement", "<td>throttle</td>", "per-key baseline",
                   "served before containment", "what each policy would have let through", "1.852 %",
                   'id="near-threshold"',
                   "Features that stand out", "Linked accounts", 'id="acct-acct-loner"'):
        assert marker in html, marker


def test_chart_specs_are_valid_json_with_data(html: str) -> None:
    specs = re.findall(r'<script type="application/json" id="([^"]+)-spec">(.*?)</script>', html, re.S)
    ids = {i for i, _ in specs}
    assert {"chart-sizes", "chart-scores", "chart-overview", "camp-C-1-net", "camp-C-2-timeline"} <= ids
    for _, text in specs:
        spec = json.loads(text)
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
        assert "<" not in text and ">" not in text
    net = json.loads(dict(specs)["camp-C-1-net"])
    nodes = net["datasets"]["nodes"]
    assert len(nodes) >= 60 and {"this campaign", "legitimate"} <= {n["group"] for n in nodes}


def test_hostile_text_is_escaped(html: str) -> None:
    assert HOSTILE_PROMPT not in html and HOSTILE_AGENT not in html
    assert "&lt;script&gt;alert(&#34;prompt&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(&#39;ua&#39;)&lt;/script&gt;Mozilla/5.0" in html
    # the only <script> elements are ours: one spec per chart, the print helper, vega and the embed loop
    n_charts = html.count('class="chart" id=')
    assert html.count("<script") == n_charts + 3


def test_contract_files_alone_still_make_a_report(tmp_path: Path) -> None:
    d = write_sample_detection(tmp_path / "d", sizes=(12,), legit=30)
    for name in EXTRAS:
        (d / name).unlink()
    text = write_report(d).read_text()
    assert "campaign C-1: 12 accounts" in text
    assert "No links.parquet" in text and "Top templates" not in text and "camp-C-1-timeline" not in text
    assert "Enforcement" not in text
    assert 'id="camp-C-1-caps"' in text


def test_unusable_extras_are_left_out_not_fatal(tmp_path: Path) -> None:
    d = write_sample_detection(tmp_path / "d", sizes=(12,), legit=30)
    (d / "templates.csv").write_text("something,else\n1,2\n")
    (d / "links.parquet").write_text("not parquet")
    text = write_report(d).read_text()
    assert "Top templates" not in text and "No links.parquet" in text


def test_no_campaigns(tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text("account_id,score,flagged,campaign_id,reasons\na,0.1,false,,\n")
    (tmp_path / "campaigns.json").write_text("[]")
    text = write_report(tmp_path).read_text()
    assert "No extraction campaign was found" in text


HEADER = "account_id,score,flagged,campaign_id,reasons\n"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "accounts.csv: missing"),
        ({"accounts.csv": ""}, "accounts.csv: empty file"),
        ({"accounts.csv": "account_id,score\na,1\n"}, "missing column.s. flagged, campaign_id, reasons"),
        ({"accounts.csv": HEADER}, "campaigns.json: missing"),
        ({"accounts.csv": HEADER, "campaigns.json": "{"}, "campaigns.json: not valid JSON"),
        ({"accounts.csv": HEADER, "campaigns.json": "{}"}, "expected a JSON list"),
        ({"accounts.csv": HEADER, "campaigns.json": '[{"x": 1}]'}, "campaigns.json:1: campaign_id"),
    ],
)
def test_bad_folders_name_the_file(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=message):
        write_report(tmp_path)


def test_report_is_reproducible(tmp_path: Path) -> None:
    small = write_sample_detection(tmp_path, sizes=(12,), legit=20)
    a = render_report(load_findings(small), generated_at=FROZEN, inline_js=False)
    b = render_report(load_findings(small), generated_at=FROZEN, inline_js=False)
    assert a == b and "2026-06-06 12:00 UTC" in a


def test_store_adds_activity_and_timeline(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    rows = [{"request_id": f"r{i}", "ts": f"2026-05-0{1 + i % 4}T10:00:00Z", "account_id": a, "ip": f"10.0.0.{i % 2}",
             "model": "m", "user_agent": HOSTILE_AGENT, "messages": [{"role": "user", "content": "hi"}]}
            for i, a in enumerate(["bad-1", "bad-2", "good-1"] * 4)]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    db = tmp_path / "store.duckdb"
    with Store.open(db) as store:
        ingest_logs(store, [log])
    sink = ExchangeLog(str(db))  # the gateway's own writer: enforcement events and the audit log
    for i in range(30):
        sink.enforcement({"ts": datetime(2026, 5, 2, 9, i, tzinfo=UTC), "request_id": f"q{i}", "account_id": "bad-1",
                          "campaign_id": "C-9", "action": "block" if i >= 10 else "throttle", "code": "x",
                          "status": 403, "reason": "", "template_id": None, "score": 0.9})
    sink.audit({"ts": datetime(2026, 5, 2, 9, 9, tzinfo=UTC), "actor": "ana", "action": "block_campaign",
                "target": "C-9", "reason": "<b>confirmed</b>"})
    sink.close()
    d = tmp_path / "out"
    d.mkdir()
    (d / "accounts.csv").write_text(
        "account_id,score,flagged,campaign_id,reasons\n"
        "bad-1,0.9,true,C-9,shared-template\nbad-2,0.8,true,C-9,shared-template\ngood-1,0.2,false,,\n")
    (d / "campaigns.json").write_text(json.dumps([{
        "campaign_id": "C-9", "accounts": 2, "exchanges": 8, "first_seen": "2026-05-01T10:00:00Z",
        "last_seen": "2026-05-03T10:00:00Z", "capabilities": {"coding": 1.0}, "evidence": [], "confidence": 0.9}]))
    text = write_report(d, db).read_text()
    assert 'id="camp-C-9-timeline"' in text  # exchanges per day came from the store
    spec = re.search(r'id="camp-C-9-timeline-spec">(.*?)</script>', text, re.S)
    assert spec and '"series":"legitimate baseline"' in spec.group(1)
    assert "distinct IPs" in text and HOSTILE_AGENT not in text
    assert "&lt;script&gt;alert(&#39;ua&#39;)&lt;/script&gt;" in text
    section = text[text.index('id="camp-C-9"'):]
    assert re.search(r"<td>throttle</td><td>2026-05-02 09:00:00</td><td>2026-05-02 09:09:00</td>"
                     r'<td class="n">10</td><td class="n">1</td>', section)
    assert '<td>block</td><td>2026-05-02 09:10:00</td><td>2026-05-02 09:29:00</td><td class="n">20</td>' in section
    assert "<td>ana</td><td>block campaign</td><td>&lt;b&gt;confirmed&lt;/b&gt;</td>" in section
    assert '"action":"block","count":20' in section  # marked on the timeline


def test_cli_report(tmp_path: Path) -> None:
    small = write_sample_detection(tmp_path / "small", sizes=(5,), legit=10)
    result = CliRunner().invoke(main, ["report", str(small)])
    assert result.exit_code == 0, result.output
    assert Path(result.output.strip()) == (small / "report.html").resolve()
    bad = CliRunner().invoke(main, ["report", str(tmp_path / "nope")])
    assert bad.exit_code == 2 and "not a folder" in bad.output


def test_big_campaign_stays_small(tmp_path: Path) -> None:
    d = write_sample_detection(tmp_path / "big", sizes=(25_000,), legit=300, hostile=False, enforcement=False)
    out = write_report(d)
    size = out.stat().st_size
    assert size < 2_500_000, size  # the vega bundle is ~0.9 MB; the data must stay far below that
    text = out.read_text()
    assert "120 of 25,000 member accounts drawn" in text


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                    max_leaves=20))
def test_chart_json_round_trips_and_cannot_close_a_script(value: object) -> None:
    text = spec_json({"v": value})
    assert json.loads(text) == {"v": value}
    assert not set(text) & {"<", ">", "&"}


@given(st.integers(min_value=0, max_value=10**12))
def test_counts_read_like_a_provider_writes_them(n: int) -> None:
    text = count(n)
    assert text[-1].isdigit() or text[-1] in "kMB"
    if n < 100_000:
        assert int(text.replace(",", "")) == n
    else:  # rounded, but never by more than 5 %
        value = float(text[:-1]) * {"k": 1e3, "M": 1e6, "B": 1e9}[text[-1]]
        assert abs(value - n) <= 0.05 * n


def test_hostile_campaign_and_account_ids(tmp_path: Path) -> None:
    d = write_sample_detection(tmp_path / "d", sizes=(8,), legit=10)
    weird = '<C&"1\'>'
    for name in ("accounts.csv", "campaigns.json", "timeline.csv", "templates.csv", "infrastructure.csv",
                 "enforcement.csv", "backtest.json"):
        path = d / name
        text = path.read_text()
        quoted = json.dumps(weird)[1:-1] if name.endswith(".json") else '"' + weird.replace('"', '""') + '"'
        path.write_text(text.replace("C-1", quoted).replace("acct-c1-00000", "<b>acct</b>"))
    html = write_report(d).read_text()
    assert weird not in html and "<b>acct</b>" not in html
    assert 'id="camp-_C__1__"' in html and "&lt;C&amp;&#34;1&#39;&gt;" in html


def test_reads_what_distillguard_backtest_writes(tmp_path: Path) -> None:
    from distillguard.backtest import CampaignResult, LegitResult, PolicyResult, write_json

    d = write_sample_detection(tmp_path / "d", sizes=(6,), legit=10, enforcement=False)
    camp = CampaignResult("C-1", 6, 1000, 120, 40, 3.5, 90, 20.0, 700, 12)
    legit = LegitResult(10, 5000, 2, 1, 1, 0, 0)
    write_json([PolicyResult("default", (camp,), legit, 1.0, 1000, 12, 700)], d / "backtest.json")
    html = write_report(d).read_text()
    assert "<td>default</td><td class=\"n\">1,000</td><td class=\"n\">1.200 %</td>" in html
    section = html[html.index('id="camp-C-1"'):]
    assert '<td>default</td><td class="n">120</td><td class="n">40</td><td class="n">3.5</td>' in section


def test_timeline_axis_spans_the_data_not_the_events() -> None:
    """A campaign's five days fill the axis; enforcement events months away do not stretch it."""
    from distillguard.report import charts

    rows = [{"day": f"2026-03-0{d}", "exchanges": 10 * d, "series": "C-1"} for d in range(2, 7)]
    events = [{"day": "2026-03-04", "action": "block", "count": 1},
              {"day": "2026-12-01", "action": "block", "count": 9}]
    spec = charts.timeline(rows, ["C-1"], events)
    x = spec["layer"][0]["encoding"]["x"]
    assert [(d["year"], d["month"], d["date"]) for d in x["scale"]["domain"]] == [(2026, 3, 2), (2026, 3, 6)]
    assert [e["day"] for e in spec["datasets"]["events"]] == ["2026-03-04"]


def test_top_templates_leave_out_generic_and_single_account_ones() -> None:
    from distillguard.report.sections import specific_template

    assert not specific_template("continue") and not specific_template("hi <NUM>")
    assert specific_template("Solve step by step and show your reasoning: problem <NUM> about <NAME>")
