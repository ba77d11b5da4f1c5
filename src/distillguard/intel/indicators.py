"""A partner's indicator as stored, and the defaults of an import (read by every import format)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DEFAULT_CONFIDENCE = 0.5
DEFAULT_VALID_DAYS = 90


@dataclass(frozen=True)
class PartnerIndicator:
    """One shared indicator as stored: what to look for, who said so, how sure, and until when."""

    indicator_id: str
    kind: str
    value: str
    source: str
    confidence: float
    valid_from: datetime | None
    valid_until: datetime | None
    campaign: str | None = None
    tlp: str | None = None
    minhash: tuple[int, ...] | None = None
