"""The layers of `qc` hold (docs/architecture.md): each rule lists the packages a layer must not import.

Read from the source (every `import` and `from … import`, at module level or inside functions), so a lazy import
counts too. The few exceptions are named with their reason; a new import across a layer fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SHARED = ("qc.spec", "qc.results", "qc.tolerances", "qc.errors", "qc.i18n", "qc.config", "qc.textsafe", "qc.slots")
ABOVE_READERS = ("qc.mv", "qc.mr", "qc.records", "qc.intake", "qc.pipeline", "qc.registry", "qc.reporting", "qc.cli", "qc.demo")

RULES: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    # (layer: module prefixes, forbidden imports, why)
    (SHARED, ("qc.readers",) + ABOVE_READERS, ("the shared types know no reader, analyser, storage or face",)),
    (("qc.readers",), ABOVE_READERS, ("the readers are below the analysers and the receiver",)),
    (("qc.mv", "qc.mr"), ("qc.records", "qc.intake", "qc.pipeline", "qc.registry", "qc.cli", "qc.demo", "qc.reporting"),
     ("an analyser measures: it reads through qc.readers and knows the shared types only",)),
    (("qc.records",), ("qc.pipeline", "qc.mv", "qc.mr", "qc.intake", "qc.reporting", "qc.cli", "qc.demo"),
     ("storage is below the pipeline and the faces",)),
    (("qc.pipeline",), ("qc.intake", "qc.cli", "qc.reporting", "qc.demo"), ("the faces call the pipeline, not the reverse",)),
]

# (importer, imported): why it is allowed for now.
EXCEPTIONS = {
    ("qc.mv.field", "qc.reporting.trends"): "the field page's profile chart draws the dated tolerance bands with the History helper",
    ("qc.records.export", "qc.registry"): "the export labels each test by its name (the registry includes the logged tests stored here)",
    ("qc.records.storage", "qc.registry"): "Store.judge looks up a test's metrics (to go when judging lives in the pipeline only)",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)  # `from qc import pipeline`
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


MODULES = {module_name(p): p for p in (REPO / "qc").rglob("*.py")}


def test_qc_never_imports_streamlit():
    bad = sorted(m for m, p in MODULES.items() if any(within(i, ("streamlit",)) for i in imports_of(p)))
    assert not bad, f"qc must not import streamlit: {bad}"


@pytest.mark.parametrize("layer, forbidden, why", RULES, ids=[r[0][0] for r in RULES])
def test_layer_imports_nothing_above_it(layer, forbidden, why):
    bad = []
    for mod, path in MODULES.items():
        if not within(mod, layer):
            continue
        for imported in imports_of(path):
            if within(imported, forbidden) and (mod, imported) not in EXCEPTIONS and not any(
                    (mod, e) in EXCEPTIONS and within(imported, (e,)) for _, e in EXCEPTIONS):
                bad.append(f"{mod} imports {imported}")
    assert not bad, f"{why[0]}: " + "; ".join(sorted(set(bad)))


def test_the_rules_see_a_violation(tmp_path):
    """The checker itself: an analyser importing storage is caught."""
    fake = tmp_path / "x.py"
    fake.write_text("def f():\n    from qc.records.storage import Store\n")
    assert within("qc.records.storage", RULES[2][1]) and "qc.records.storage" in imports_of(fake)


def test_every_exception_is_still_needed():
    for (importer, imported), why in EXCEPTIONS.items():
        assert importer in MODULES, importer
        assert any(within(i, (imported,)) for i in imports_of(MODULES[importer])), f"exception no longer needed: {importer} → {imported} ({why})"
