"""CI: the offline advisory check. Fails (exit 1) when a pin of requirements.lock is affected by an advisory of
.ci/advisories.toml, or when it could not check anything (no pins read). Needs no network, so it holds where
pip-audit's services are unreachable (see .ci/audit.py, which then only warns).

Usage: python .ci/advisories.py [requirements.lock] [advisories.toml]
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    """PEP 503 normalised package name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    """name -> pinned version of a (pip-compile style) lock file."""
    out = {}
    for line in lock.read_text().splitlines():
        m = _PIN.match(line.strip()) if not line.startswith((" ", "#")) else None
        if m:
            out[canonical(m.group(1))] = m.group(2)
    return out


def main(argv: list[str]) -> int:
    """Check, print a summary, return the exit status."""
    lock = Path(argv[1] if len(argv) > 1 else "requirements.lock")
    db = Path(argv[2] if len(argv) > 2 else Path(__file__).with_name("advisories.toml"))
    pinned = pins(lock)
    doc = tomllib.loads(db.read_text())
    advisories = doc.get("advisory", [])
    if not pinned or not advisories:
        print("!" * 100)
        print(f"!! advisories: NOTHING CHECKED: {len(pinned)} pins read from {lock}, {len(advisories)} advisories "
              f"in {db}")
        print("!" * 100)
        return 1
    hits = []
    for a in advisories:
        version = pinned.get(canonical(a["package"]))
        if version is None:
            continue
        try:
            if Version(version) in SpecifierSet(a["affected"]):
                hits.append((a, version))
        except InvalidVersion:
            print(f"advisories: cannot compare {a['package']}=={version}")
    print(f"advisories: {len(pinned)} pins checked against {len(advisories)} offline advisories "
          f"(snapshot {doc.get('snapshot', '?')}), {len(hits)} affected")
    for a, version in hits:
        print(f"  VULNERABLE {a['package']}=={version}: {a['id']} ({', '.join(a.get('aliases', []))}) "
              f"affected {a['affected']}: {a['summary']}")
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
