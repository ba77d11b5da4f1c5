from __future__ import annotations

import os
from pathlib import Path

import pytest

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - the property tests skip without it
    pass
else:
    # CI runs the suite on two loaded cores: no property test fails for wall-clock time alone (no per-example
    # deadline, no "generating the data is too slow" health check); what the tests assert is unchanged
    settings.register_profile("loaded-ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("loaded-ci")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DISTILLGUARD_CORPORA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def corpora() -> Path:
    """The real corpora folder (../shared/data); tests that need it skip only if it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"corpora not found at {SHARED_DATA}")
    return SHARED_DATA
