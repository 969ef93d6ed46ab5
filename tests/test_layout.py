"""The library's layout: no module imports, however indirectly, a module that imports it back, counting the
imports inside functions and those made for type checking only (``lint-imports`` keeps the layers; this keeps
each layer free of cycles, which the layers alone allow)."""

from __future__ import annotations

import grimp


def import_cycles(package: str) -> list[list[str]]:
    """Every set of modules of ``package`` that import one another in a ring (strongly connected, Tarjan)."""
    graph = grimp.build_graph(package)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            ring = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                ring.append(w)
                if w == v:
                    break
            if len(ring) > 1:
                cycles.append(sorted(ring))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_module_of_the_library_imports_itself_back():
    assert import_cycles("hscore") == []


def test_the_cycle_finder_finds_a_ring(tmp_path, monkeypatch):
    """Three modules importing each other in a ring, one of the imports inside a function: one cycle."""
    pkg = tmp_path / "ringpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from . import c\n")
    (pkg / "c.py").write_text("from .a import *\n")
    (pkg / "d.py").write_text("from . import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("ringpkg") == [["ringpkg.a", "ringpkg.b", "ringpkg.c"]]


def test_every_training_set_a_plan_trains_is_named_drawn_and_seeded_by_the_one_registry():
    """Each phase-2 method of every profile's plan has its label, style and per-seed rule in ``METHODS``, and the
    tables' labels and the figures' styles are views of it."""
    from hscore import config
    from hscore.analysis.tables import METHOD_LABELS
    from hscore.pruning.baselines import BASELINES
    from hscore.pruning.methods import METHODS
    from hscore.report.plots import METHOD_STYLE
    from hscore.study import plan

    trained = {s.method for profile in config.profiles() for s in plan.build(profile, check_writable=False).steps
               if s.stage == "finetune"}
    assert {"full", "hscore", "random", "cleanlab", "floor"} <= trained and trained <= set(METHODS)
    assert METHOD_LABELS == {m.name: m.label for m in METHODS.values()}
    assert METHOD_STYLE == {m.name: (m.color, m.marker) for m in METHODS.values() if m.color}
    assert all(METHODS[b].per_seed == BASELINES[b].per_seed for b in BASELINES)
