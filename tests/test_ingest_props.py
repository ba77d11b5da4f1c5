"""Property tests: valid records survive JSONL -> store -> Parquet; arbitrary input never crashes ingest."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.ingest import ingest_logs
from distillguard.schema import EXCHANGE_SCHEMA, ROLES
from distillguard.store import Store

# A bounded budget in `make test`; DISTILLGUARD_FUZZ_EXAMPLES=2000 for a longer run.
SETTINGS = settings(max_examples=int(os.environ.get("DISTILLGUARD_FUZZ_EXAMPLES", "15")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
name = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=10)
scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53),
                   st.floats(allow_nan=False, allow_infinity=False, width=64), text)
params = st.dictionaries(name, st.one_of(scalar, st.dictionaries(name, scalar, max_size=2),
                                         st.lists(scalar, max_size=3)), max_size=4)
part = st.one_of(st.builds(lambda t: {"type": "text", "text": t}, text),
                 st.just({"type": "image_url", "image_url": {"url": "data:,"}}))
content = st.one_of(st.none(), text, st.lists(part, max_size=3))
message = st.fixed_dictionaries({"role": st.sampled_from(sorted(ROLES)), "content": content})
zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))])
json_value = st.recursive(scalar, lambda c: st.lists(c, max_size=3) | st.dictionaries(text, c, max_size=3),
                          max_leaves=8)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """One valid exchange in its JSON form, with optional fields present or not and unknown extras."""
    ts = draw(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 1, 1), timezones=zones))
    rec: dict[str, Any] = {
        "ts": ts.isoformat().replace("+00:00", "Z") if draw(st.booleans()) else ts.isoformat(),
        "account_id": draw(name), "ip": draw(st.sampled_from(["", "10.0.0.1", "2001:db8::1"])), "model": draw(name),
    }
    if draw(st.booleans()):
        rec["messages"] = draw(st.lists(message, max_size=3))
    else:
        rec["prompt"] = draw(text)
    optional = {"api_key_id": name, "org_id": name, "user_agent": text, "endpoint": name, "completion": text,
                "conversation_id": name, "tools": st.lists(name, max_size=3), "params": params,
                "prompt_tokens": st.integers(0, 2**40), "completion_tokens": st.integers(0, 2**40),
                "status": st.integers(0, 999), "x_extra": json_value}
    for key, strategy in optional.items():
        if draw(st.booleans()):
            rec[key] = draw(strategy)
    return rec


def expected(rec: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a valid record, written independently of the code under test."""
    def joined(c: Any) -> Any:
        return "\n".join(p["text"] for p in c if "text" in p) if isinstance(c, list) else c

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v

    out = {f.name: rec.get(f.name) for f in EXCHANGE_SCHEMA}
    out["ts"] = datetime.fromisoformat(rec["ts"]).astimezone(UTC)
    out["endpoint"] = rec.get("endpoint") or "/v1/chat/completions"
    out["status"] = rec.get("status", 200)
    if "messages" in rec:
        out["messages"] = [{"role": m["role"], "content": joined(m["content"])} for m in rec["messages"]]
    if "params" in rec:
        out["params"] = orjson.dumps(clean(rec["params"]), option=orjson.OPT_SORT_KEYS).decode()
    return out


def _roundtrip(lines: list[bytes], suffix: str = ".jsonl") -> tuple[Any, list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / f"log{suffix}"
        data = b"".join(line + b"\n" for line in lines)
        log.write_bytes(gzip.compress(data, compresslevel=1) if suffix.endswith(".gz") else data)
        with Store.open(":memory:") as store:
            summary = ingest_logs(store, [log])
            store.exchanges_parquet(Path(tmp) / "out.parquet")
        return summary, pq.read_table(Path(tmp) / "out.parquet").to_pylist()


@SETTINGS
@given(st.lists(records(), min_size=1, max_size=12), st.booleans(), st.booleans())
def test_valid_records_survive_jsonl_store_parquet(recs: list[dict[str, Any]], poison: bool, gz: bool) -> None:
    for i, r in enumerate(recs):
        r["request_id"] = f"id-{i}"
    lines = [orjson.dumps(r) for r in recs]
    if poison:  # one bad line sends the whole block down the per-line path: same result expected
        lines.insert(len(lines) // 2, b"{broken")
    summary, rows = _roundtrip(lines, ".jsonl.gz" if gz else ".jsonl")
    assert (summary.stored, summary.rejected) == (len(recs), int(poison))
    got = {r["request_id"]: r for r in rows}
    for r in recs:
        assert got[r["request_id"]] == expected(r)


@SETTINGS
@given(st.lists(records(), min_size=1, max_size=8))
def test_valid_stored_form_survives_parquet_store_parquet(recs: list[dict[str, Any]]) -> None:
    stored = [expected({**r, "request_id": f"id-{i}"}) for i, r in enumerate(recs)]
    for s in stored:  # spell params differently from the canonical form: the store must canonicalise
        if s["params"] is not None:
            s["params"] = json.dumps(json.loads(s["params"]), indent=1)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.parquet"
        pq.write_table(pa.Table.from_pylist(stored, schema=EXCHANGE_SCHEMA), src)
        with Store.open(":memory:") as store:
            assert ingest_logs(store, [src]).stored == len(stored)
            store.exchanges_parquet(Path(tmp) / "out.parquet")
        rows = {r["request_id"]: r for r in pq.read_table(Path(tmp) / "out.parquet").to_pylist()}
    for i, r in enumerate(recs):
        assert rows[f"id-{i}"] == expected({**r, "request_id": f"id-{i}"})


@SETTINGS
@given(st.lists(st.one_of(st.binary(max_size=60), json_value.map(orjson.dumps),
                          records().map(orjson.dumps).map(lambda b: b[: len(b) // 2] if b[-2:] == b"}}" else b)),
                max_size=12), st.booleans())
def test_arbitrary_input_never_crashes_ingest(lines: list[bytes], gz: bool) -> None:
    summary, rows = _roundtrip(lines, ".jsonl.gz" if gz else ".jsonl")
    assert summary.rows_read == summary.stored + summary.rejected + summary.duplicates
    assert len(rows) == summary.stored
