"""The analyst dashboard: live gateway traffic, campaigns and accounts, audited analyst actions.

    >>> from distillguard.dashboard import create_app  # doctest: +SKIP
    >>> app = create_app(gateway.control, "detect-out", admin_token)  # doctest: +SKIP
"""

from __future__ import annotations

from .app import create_app
from .control import Control

__all__ = ["Control", "create_app"]
