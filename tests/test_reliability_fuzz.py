"""Property-based fuzzing of the files an operator or a partner hands DistillGuard.

Policy files, key files, log mappings, STIX / MISP intel: whatever the bytes, the loader either succeeds or
raises a `DistillGuardError` naming the file (never a bare KeyError / AttributeError / TypeError). The
documents are generated near the real vocabulary so the fuzzer gets past the first check. Gateway request
parsing is fuzzed in test_gateway_openai.py and over HTTP by the schemathesis test at the end.
`bench/fuzz.py` runs the same properties with a longer budget (and atheris on the parsers).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.errors import DistillGuardError
from distillguard.gateway.keys import KeyStore
from distillguard.mapping import load_mapping
from distillguard.policy import parse_policy
from distillguard.schema import EXCHANGE_COLUMNS, REQUIRED_EXCHANGE, FieldError

EXAMPLES = int(os.environ.get("DG_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 6, 1, tzinfo=UTC)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))


def near(keys: list[str]) -> st.SearchStrategy[Any]:
    """JSON-like values whose dict keys come mostly from `keys` (the format's vocabulary)."""
    key = st.one_of(st.sampled_from(keys), st.text(max_size=8))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(key, inner, max_size=6)), max_leaves=25)


# -- policy ----------------------------------------------------------------------------------------------
POLICY_WORDS = ["version", "limits", "account", "throttled_account", "campaign", "rules", "min_score",
                "min_confidence", "action", "requests_per_minute", "request_burst", "tokens_per_minute",
                "token_burst", "degrade", "max_tokens", "drop_reasoning", "watermark", "verify", "exempt_verified",
                "input", "max_body_bytes", "max_messages", "template_matches", "template_share",
                "template_confidence", "learn_templates", "learn_min_accounts", "learn_min_share", "allow",
                "block", "throttle"]


@FUZZ
@given(st.one_of(near(POLICY_WORDS), st.dictionaries(st.sampled_from(POLICY_WORDS), near(POLICY_WORDS), max_size=8)))
def test_any_policy_document_loads_or_is_a_config_error(doc: Any) -> None:
    if isinstance(doc, dict) and "version" not in doc:
        doc = {"version": 1, **doc}
    try:
        text = json.dumps(doc, allow_nan=True)
    except (ValueError, TypeError):
        return
    try:
        p = parse_policy(text, "fuzz.json", json_format=True)
    except DistillGuardError as e:
        assert "fuzz.json" in str(e)
        return
    assert p.max_body_bytes >= 1 and p.max_messages >= 1


@FUZZ
@given(st.text(max_size=300))
def test_any_policy_text_loads_or_is_a_config_error(text: str) -> None:
    try:
        parse_policy(text, "fuzz.toml")
    except DistillGuardError:
        pass


# -- key files -------------------------------------------------------------------------------------------
KEY_WORDS = ["keys", "key_id", "account_id", "secret_sha256", "org_id", "verified", "label", "created",
             "revoked", "revoked_at"]


@FUZZ
@given(near(KEY_WORDS), st.lists(st.text(max_size=80), max_size=5))
def test_any_key_file_loads_or_is_a_config_error_and_auth_never_raises(doc: Any, attempts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "keys.json"
        path.write_text(json.dumps(doc if not isinstance(doc, dict) else {"keys": [doc], **doc}, allow_nan=True))
        try:
            ks = KeyStore(path)
        except DistillGuardError as e:
            assert str(path) in str(e)
            return
        for a in [*attempts, "dg-x-y", "dg--", "dg-" + "a" * 10_000]:
            assert ks.authenticate(a) is None or ks.authenticate(a).account_id is not None


# -- log mappings ----------------------------------------------------------------------------------------
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if v == v and abs(v) != float("inf") else "0"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v if not isinstance(x, dict)) + "]"
    return json.dumps(str(v))


def _toml(doc: dict[str, Any]) -> str:
    """A small TOML writer: scalars and lists at the top, one level of tables."""
    head, tables = [], []
    for k, v in doc.items():
        if isinstance(v, dict):
            tables.append(f"[{json.dumps(k)}]")
            tables += [f"{json.dumps(kk)} = {_toml_value(vv)}" for kk, vv in v.items() if not isinstance(vv, dict)]
        elif v is not None:
            head.append(f"{json.dumps(k)} = {_toml_value(v)}")
    return "\n".join(head + tables) + "\n"


MAPPING_WORDS = ["fields", "defaults", "params", "ts", "format", "iso", "epoch_s", "epoch_ms", *EXCHANGE_COLUMNS]
section = st.one_of(scalars, st.dictionaries(st.sampled_from(MAPPING_WORDS), st.one_of(scalars, st.lists(scalars,
                                                                                                    max_size=3)),
                                            max_size=8))
valid_fields = st.just({f: f for f in REQUIRED_EXCHANGE})  # gets past the first check to the rest of the file
mapping_docs = st.builds(lambda fields, rest: {"fields": fields, **rest},
                         st.one_of(valid_fields, section),
                         st.dictionaries(st.sampled_from(["defaults", "params", "ts", "other"]), section, max_size=4))


@FUZZ
@given(mapping_docs, near(["request_id", "ts", "account_id", "messages", "model", "ip", "a", "b"]))
def test_any_mapping_file_loads_or_is_a_config_error_and_apply_never_crashes(doc: dict[str, Any], rec: Any) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.toml"
        path.write_text(_toml(doc))
        try:
            m = load_mapping(path)
        except DistillGuardError as e:
            assert str(path) in str(e)
            return
        try:
            m.apply(rec)
        except (DistillGuardError, FieldError):  # FieldError: one bad record, named by field (ingest rejects it)
            pass


# -- STIX / MISP intel -----------------------------------------------------------------------------------
STIX_WORDS = ["type", "id", "objects", "bundle", "indicator", "identity", "campaign", "relationship", "pattern",
              "pattern_type", "stix", "valid_from", "valid_until", "confidence", "revoked", "created_by_ref",
              "source_ref", "target_ref", "relationship_type", "indicates", "spec_version", "created", "modified",
              "name", "extensions", "object_marking_refs"]
MISP_WORDS = ["Event", "response", "Attribute", "Tag", "Orgc", "name", "info", "uuid", "type", "value", "ip-src",
              "ip-dst", "user-agent", "campaign-name", "deleted", "Object", "category", "to_ids", "date"]

STIX_ID = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
valid_indicator = st.fixed_dictionaries({
    "type": st.just("indicator"), "spec_version": st.just("2.1"), "id": st.just(STIX_ID),
    "created": st.just("2026-01-01T00:00:00Z"), "modified": st.just("2026-01-01T00:00:00Z"),
    "pattern_type": st.just("stix"), "valid_from": st.just("2026-01-01T00:00:00Z"),
    "pattern": st.one_of(st.text(max_size=60), st.sampled_from([
        "[ipv4-addr:value = '203.0.113.5']", "[ipv4-addr:value ISSUBSET '203.0.113.0/24']",
        "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'x']",
        "[x-distillguard-template:template_hash = 'abc'] OR [ipv4-addr:value = '1.2.3.4']"])),
}, optional={"confidence": scalars, "valid_until": scalars, "revoked": scalars, "extensions": near(STIX_WORDS),
             "object_marking_refs": near(STIX_WORDS), "created_by_ref": scalars})
intel_docs = st.one_of(
    near(STIX_WORDS),
    st.fixed_dictionaries({"type": st.just("bundle"), "id": st.just("bundle--1"),
                           "objects": st.lists(st.one_of(valid_indicator, near(STIX_WORDS)), max_size=4)}),
    near(MISP_WORDS),
    st.fixed_dictionaries({"Event": st.dictionaries(st.sampled_from(MISP_WORDS), near(MISP_WORDS), max_size=6)}),
)


@pytest.fixture(scope="module")
def intel_store():  # type: ignore[no-untyped-def]
    pytest.importorskip("stix2")
    from distillguard.intel.importer import ensure_tables
    from distillguard.store import Store

    with Store.open(":memory:") as s:
        ensure_tables(s)
        yield s


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(intel_docs)
def test_any_intel_file_imports_or_is_an_input_error(intel_store, doc: Any) -> None:  # type: ignore[no-untyped-def]
    from distillguard.intel.importer import import_file

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "intel.json"
        try:
            path.write_text(json.dumps(doc, allow_nan=True))
        except (ValueError, TypeError):
            return
        try:
            summary = import_file(intel_store, path, NOW)
        except DistillGuardError as e:
            assert str(path) in str(e)
            return
        assert summary.indicators >= 0


# -- inputs atheris found (bench/fuzz.py), kept as regressions ------------------------------------------------
def test_mapping_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_bytes(b'[fields]\nrequest_id = "id"\nmodel = "\xd1(m"\n')
    with pytest.raises(DistillGuardError, match="UTF-8"):
        load_mapping(path)


def test_stix_object_without_id_is_skipped_not_a_crash(intel_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from distillguard.intel.importer import import_file

    path = tmp_path / "b.json"
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "indicator", "spec_version": "0.1", "pattern": "[ipv4-addr:value = '203.0.113.5']"},
        {"type": "relationship", "spec_version": "0.1", "id": "relationship--1", "relationship_type": "indicates",
         "target_ref": "campaign--1"}]}))
    summary = import_file(intel_store, path, NOW)
    assert summary.indicators == 0 and summary.skipped
