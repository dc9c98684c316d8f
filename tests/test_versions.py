"""Each analyser's method has its own version (`VERSION` beside its `SPEC`), stored with every session it produced.

`tests/analyser_versions.json` holds, for each analyser module, the hash of its code and its version. When a module's
code changes and its VERSION did not, this test fails: bump VERSION and write why in docs/changelog.md. Then
update the table with

    python -m tests.test_versions --update

The hash is of the module's syntax tree without docstrings (`ast.dump`): comments, blank lines and docstrings
change no method and need no bump; any change of code does (a renamed variable included: the bump is cheap, a
silent change of method is not).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "tests" / "analyser_versions.json"
UPDATE_COMMAND = "python -m tests.test_versions --update"


def analyser_modules() -> tuple[str, ...]:
    from qc.registry import ANALYSER_MODULES

    return ANALYSER_MODULES


def module_path(module: str) -> Path:
    return REPO / (module.replace(".", "/") + ".py")


def code_hash(source: str) -> str:
    """SHA-256 of the module's syntax tree without its docstrings (comments and layout do not count)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def declared_version(source: str) -> str | None:
    """The module's `VERSION = "…"` (read from the source, as the table is)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "VERSION" for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
    return None


def current_table() -> dict[str, dict[str, str]]:
    out = {}
    for module in analyser_modules():
        source = module_path(module).read_text(encoding="utf-8")
        out[module] = {"version": declared_version(source) or "", "code_sha256": code_hash(source)}
    return out


def stale_entries(table: dict, current: dict) -> list[str]:
    """One sentence per analyser whose code or version differs from the committed table."""
    problems = []
    for module, now in current.items():
        was = table.get(module)
        if was is None:
            problems.append(f"{module} is not in {TABLE.name}: run `{UPDATE_COMMAND}`.")
        elif was["code_sha256"] != now["code_sha256"] and was["version"] == now["version"]:
            problems.append(f"{module} changed but its VERSION is still {now['version']!r}: bump VERSION in {module_path(module).name} "
                            f"and write the change of method in docs/changelog.md, then run `{UPDATE_COMMAND}`.")
        elif was != now:
            problems.append(f"{module}: VERSION {was['version']!r} → {now['version']!r}; record it with `{UPDATE_COMMAND}`.")
    problems += [f"{m} is in {TABLE.name} but no longer an analyser: run `{UPDATE_COMMAND}`." for m in table if m not in current]
    return problems


def test_every_analyser_declares_its_version_in_its_spec():
    for module in analyser_modules():
        mod = importlib.import_module(module)
        assert isinstance(getattr(mod, "VERSION", None), str) and mod.VERSION, f"{module} defines no VERSION"
        assert mod.SPEC.version == mod.VERSION, f"{module}: SPEC.version is not VERSION"


def test_a_changed_method_has_a_new_version():
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    problems = stale_entries(table, current_table())
    assert not problems, "\n".join(problems)


def test_changing_one_analyser_changes_only_its_own_entry():
    """A change of code in one module is seen in that module only, and asks for its VERSION to be bumped;
    a comment or docstring change asks for nothing."""
    table = current_table()
    module = "qc.mv.leaves"
    source = module_path(module).read_text(encoding="utf-8")
    assert code_hash(source + "\n# a comment only\n") == table[module]["code_sha256"]
    changed = dict(table)
    changed[module] = {"version": table[module]["version"], "code_sha256": code_hash(source.replace("np.median", "np.mean", 1))}
    problems = stale_entries(table, changed)
    assert len(problems) == 1 and problems[0].startswith(module) and "bump VERSION" in problems[0]
    changed[module] = {**changed[module], "version": "9.9"}
    assert "record it with" in stale_entries(table, changed)[0]


def test_a_stored_session_names_its_analysers_version(store, machine):
    """The stored `analyser_version` is the analyser's own VERSION (it used to be the app's « 0.1.0 » for all)."""
    import datetime as dt

    from qc import pipeline
    from qc.mv import slits
    from qc.registry import get_test
    from qc.results import AnalysisResult, Measurement

    spec = get_test("slits", store)
    result = AnalysisResult("slits", [Measurement(spec.metrics[0].name, 0.1, spec.metrics[0].unit)], acquired_at=dt.datetime(2026, 5, 1))
    sid = pipeline.store_analysis(store, pipeline.judge(store, spec, result, machine), operator="AG")
    assert store.session(sid)["analyser_version"] == slits.VERSION == spec.version != "0.1.0"
    assert get_test("leaves", store).version == "2.1" and get_test("mr-snr", store).version == "1.0"


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: {UPDATE_COMMAND}")
    sys.path.insert(0, str(REPO))
    TABLE.write_text(json.dumps(current_table(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{TABLE.relative_to(REPO)} updated ({len(current_table())} analysers)")
