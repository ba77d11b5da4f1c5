from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DISTILLGUARD_CORPORA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def corpora() -> Path:
    """The real corpora folder (../shared/data); tests that need it skip only if it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"corpora not found at {SHARED_DATA}")
    return SHARED_DATA
