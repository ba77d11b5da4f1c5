"""Licences: the project's own LICENSE, the third-party listing, and no new copyleft licence in the core closure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "requirements"))
import licenses  # noqa: E402


def test_license_file_is_apache_2() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:3] == ["Apache", "License", "Version"] and "END OF TERMS AND CONDITIONS" in text
    assert licenses.project()["license"] == "Apache-2.0"


def test_core_closure_has_no_new_copyleft_licence() -> None:
    core = licenses.core_closure()
    assert {"pyarrow", "duckdb", "numpy"} <= set(core)  # the closure is really computed from the metadata
    new = {n: licenses.license_of(d) for n, d in core.items()
           if licenses.is_copyleft(licenses.license_of(d)) and n not in licenses.ALLOWED_COPYLEFT}
    assert not new, f"copyleft licence in the core dependency closure (move it to an extra or justify it): {new}"


def test_copyleft_detection() -> None:
    for lic in ("GPL-2.0-or-later", "GNU General Public License (GPL)", "LGPL-3.0-only", "AGPL-3.0", "MPL-2.0"):
        assert licenses.is_copyleft(lic), lic
    for lic in ("MIT", "BSD-3-Clause", "Apache-2.0 OR BSD-2-Clause", "PSF-2.0", "ISC"):
        assert not licenses.is_copyleft(lic), lic


def test_third_party_listing_is_current() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "requirements" / "licenses.py")], capture_output=True,
                         text=True, check=True).stdout
    assert (ROOT / "THIRD_PARTY_LICENSES.md").read_text() == out, "THIRD_PARTY_LICENSES.md is stale: make licenses"
