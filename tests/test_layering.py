"""The package's layering, read from the source (module-level and lazy imports alike).

- no import cycle anywhere in `distillguard`;
- the detection core is imported only by itself, `distillguard.api` and `distillguard.commands` (and by
  bench/ and tests/, which are outside the package);
- detection, fingerprints and the findings contract never import the views or the edges: report, dashboard,
  gateway, the CLI and its commands;
- at most 15 modules loose at the package's top level.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "distillguard"
CORE = ("distillguard.detection", "distillguard.fingerprints", "distillguard.findings")
VIEWS = ("distillguard.report", "distillguard.dashboard", "distillguard.gateway", "distillguard.cli",
         "distillguard.commands")
MAY_IMPORT_DETECTION = ("distillguard.detection", "distillguard.api", "distillguard.commands")


def _modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = p.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        base = name if is_pkg else name.rsplit(".", 1)[0]
        deps = set()
        for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(n, ast.Import):
                targets = [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom):
                if n.level:
                    parts = base.split(".")
                    mod = ".".join(parts[: len(parts) - (n.level - 1)] + ([n.module] if n.module else []))
                else:
                    mod = n.module or ""
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in n.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rsplit(".", 1)[0] if "." in t else ""
                if t and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_graph_is_read() -> None:
    graph = _graph()
    assert "distillguard.detection.run" in graph["distillguard.detection"]
    assert "distillguard.findings" in graph["distillguard.policy"]


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_lazy_loop() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_detection_is_imported_only_by_api_and_commands() -> None:
    bad = sorted(f"{m} -> {d}" for m, deps in _graph().items() for d in deps
                 if _within(d, ("distillguard.detection",)) and not _within(m, MAY_IMPORT_DETECTION))
    assert bad == []


def test_core_and_contract_do_not_import_views_or_edges() -> None:
    bad = sorted(f"{m} -> {d}" for m, deps in _graph().items() if _within(m, CORE)
                 for d in deps if _within(d, VIEWS))
    assert bad == []


def test_at_most_15_top_level_modules() -> None:
    top = sorted(m for m, p in _modules().items() if m.count(".") == 1 and p.name != "__init__.py")
    assert len(top) <= 15, top


def test_work_tables_crossing_modules_are_declared_once() -> None:
    import re

    from distillguard.detection import tables

    declared = {t.name for t in tables.ALL}
    assert len(declared) == len(tables.ALL)
    users: dict[str, set[str]] = {}
    for folder in ("detection", "fingerprints", "intel"):
        for p in (SRC / folder).glob("*.py"):
            if p.name == "tables.py":
                continue
            for name in set(re.findall(r"\bdg_[a-z0-9_]+\b", p.read_text(encoding="utf-8"))):
                users.setdefault(name, set()).add(f"{folder}/{p.name}")
    crossing = {n for n, mods in users.items() if len(mods) > 1}
    assert crossing - declared == set(), f"declare these in detection/tables.py: {sorted(crossing - declared)}"
    assert declared - set(users) == set(), f"declared but used nowhere: {sorted(declared - set(users))}"
