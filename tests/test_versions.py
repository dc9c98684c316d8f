"""Each analyser's method has its own version (`VERSION` beside its `SPEC`), stored with every session it produced.

`tests/analyser_versions.json` holds, for each analyser module, the hash of its code and its version. When a module's
code changes and its VERSION did not, this test fails: bump VERSION and write why in docs/changelog.md. Then
update the table with

    python -m tests.test_versions --update

The hash is of the module's syntax tree without docstrings (`ast.dump`): comments, blank lines and docstrings
change no method and need no bump; any change of code does (a renamed variable included: the bump is cheap, a
silent change of method is not).

An analyser's method is also the code of the helper modules it imports: each entry holds, beside the module's own
hash, the hash of every module of `DEPENDENCY_PACKAGES` it imports (at any depth, an import inside a function
included), so changing `qc/mv/mlc.py` asks for the bumps of leaves and slits. What an analyser imports from another
analyser (acr uses snr's `normalisation_factor`, field names the other MV tests' `SPEC_NAME`) counts by the
definitions it names (with the definitions of that module they use, and that module's own helpers), not by the
whole module: changing one analyser's method still changes only its own entry unless another one uses that very
code. The shared types and words (`qc.spec`, `qc.results`, `qc.tolerances`, `qc.errors`, `qc.i18n`) and the display
helpers are not methods and are not followed.
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


# A module's declarations for the rest of the app (what the demo holds of the test, its demo button's input, how a
# received object is routed to it, its place in the menu) and its import of the shared types are not its method: they are left out of its
# hash (a new `DEMO` line asks for no bump).
DECLARATIONS = ("DEMO", "DEMO_INPUT", "ROUTING", "MENU_GROUP")


def _is_declaration(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom) and node.module == "qc.spec":
        return True
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return bool(targets) and all(isinstance(t, ast.Name) and t.id in DECLARATIONS for t in targets)


def code_hash(source: str) -> str:
    """SHA-256 of the module's syntax tree without its docstrings (comments and layout do not count) nor its
    declarations (`DECLARATIONS`, the import of `qc.spec`)."""
    tree = ast.parse(source)
    tree.body = [node for node in tree.body if not _is_declaration(node)]
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def code_hash_tree(source: str) -> str:
    """The module's source without its docstrings (as `code_hash` reads it)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def declared_version(source: str) -> str | None:
    """The module's `VERSION = "…"` (read from the source, as the table is)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "VERSION" for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
    return None


# The packages whose modules are part of an analyser's method when it imports them.
DEPENDENCY_PACKAGES = ("qc.mv", "qc.mr", "qc.readers")


def _followed(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in DEPENDENCY_PACKAGES)


def _resolve(module: str) -> str | None:
    """The module `module` names in this repository (a package is its `__init__`), or None."""
    if module_path(module).is_file() or (REPO / module.replace(".", "/") / "__init__.py").is_file():
        return module
    return None


def read_source(module: str) -> str:
    """The source of `module` (a package: its `__init__`)."""
    path = module_path(module)
    return (path if path.is_file() else REPO / module.replace(".", "/") / "__init__.py").read_text(encoding="utf-8")


def imports_of(tree: ast.AST) -> list[tuple[str, tuple[str, ...] | None]]:
    """(module, names) of every import of a followed package anywhere in `tree`: names None = the whole module
    (`import qc.mv.mlc`, `from qc.mv import mlc`), else the names taken from it (`from qc.mv.mlc import a, b`)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if _followed(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _followed(node.module):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                if _resolve(sub):
                    out.append((sub, None))  # a module of the package
                else:
                    out.append((node.module, (a.name,)))
    return out


def _top_level(tree: ast.Module) -> dict[str, ast.stmt]:
    """Name → the top-level statement defining it (def, class, assignment)."""
    defs: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for n in ast.walk(target):
                    if isinstance(n, ast.Name):
                        defs[n.id] = node
    return defs


def _used_definitions(tree: ast.Module, names: tuple[str, ...]) -> tuple[list[ast.stmt], set[str]]:
    """The top-level definitions `names` of a module with the module's definitions they use (at any depth), in
    source order, and every name they read (to find which of the module's imports they use)."""
    defs = _top_level(tree)
    todo, seen, read = [n for n in names if n in defs], set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        used = {n.id for n in ast.walk(defs[name]) if isinstance(n, ast.Name)}
        read |= used
        todo += [n for n in used if n in defs and n not in seen]
    nodes = sorted({id(defs[n]): defs[n] for n in seen}.values(), key=lambda node: node.lineno)
    return nodes, read


def definitions_hash(source: str, names: tuple[str, ...]) -> str:
    """SHA-256 of the top-level definitions `names` of a module and of the module's definitions they use, at any
    depth (docstrings dropped as in `code_hash`)."""
    nodes, _read = _used_definitions(ast.parse(code_hash_tree(source)), names)
    return hashlib.sha256("\n".join(ast.dump(n, include_attributes=False) for n in nodes).encode()).hexdigest()


def _imports_used(source: str, names: tuple[str, ...]) -> list[tuple[str, tuple[str, ...] | None]]:
    """The imports the definitions `names` of a module (and those they use) need: the imports written inside them,
    and the module-level ones that bind a name they read."""
    tree = ast.parse(source)
    nodes, read = _used_definitions(tree, names)
    out = [imp for node in nodes for imp in imports_of(node)]
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound = {(a.asname or a.name).split(".")[0] for a in node.names}
            if bound & read:
                out += imports_of(node)
    return out


def dependencies(module: str) -> dict[str, str]:
    """What `module`'s method is made of besides its own code: {helper module: its code hash} for every module of
    `DEPENDENCY_PACKAGES` it imports at any depth, and {"analyser:name": hash of those definitions} for what it
    takes from another analyser (followed into the imports those definitions use)."""
    analysers = set(analyser_modules())
    out: dict[str, str] = {}
    todo: list[tuple[str, tuple[str, ...] | None]] = [(module, None)]
    seen: set[tuple[str, tuple[str, ...] | None]] = set()
    while todo:
        name, names = todo.pop()
        if (name, names) in seen:
            continue
        seen.add((name, names))
        source = read_source(name)
        if names is not None:  # definitions of another analyser
            out[f"{name}:{','.join(names)}"] = definitions_hash(source, names)
            deps = _imports_used(source, names)
        else:
            if name != module:
                out[name] = code_hash(source)
            deps = imports_of(ast.parse(source))
        for dep, dep_names in deps:
            dep = _resolve(dep)
            if dep is None or dep == module:
                continue
            todo.append((dep, dep_names if dep in analysers else None))  # a helper counts whole
    return dict(sorted(out.items()))


def current_table() -> dict[str, dict]:
    out = {}
    for module in analyser_modules():
        source = read_source(module)
        out[module] = {"version": declared_version(source) or "", "code_sha256": code_hash(source), "imports": dependencies(module)}
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
        elif was.get("imports") != now["imports"] and was["version"] == now["version"]:
            old, new = was.get("imports") or {}, now["imports"]
            changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            problems.append(f"{module} uses code that changed ({', '.join(changed)}) but its VERSION is still {now['version']!r}: "
                            f"bump VERSION in {module_path(module).name} and write the change of method in docs/changelog.md, "
                            f"then run `{UPDATE_COMMAND}`.")
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
    # Nor does a declaration for the rest of the app (the demo, the routing): not the method.
    assert code_hash(source + "\nDEMO = None\nROUTING = None\nfrom qc.spec import Routing\n") == table[module]["code_sha256"]
    assert code_hash(source + "\nTOLERANCE = None\n") != table[module]["code_sha256"]
    changed = dict(table)
    changed[module] = {**table[module], "code_sha256": code_hash(source.replace("np.median", "np.mean", 1))}
    problems = stale_entries(table, changed)
    assert len(problems) == 1 and problems[0].startswith(module) and "bump VERSION" in problems[0]
    changed[module] = {**changed[module], "version": "9.9"}
    assert "record it with" in stale_entries(table, changed)[0]


def test_changing_a_helper_asks_for_the_bumps_of_the_analysers_using_it(monkeypatch):
    """qc/mv/mlc.py (leaf-edge detection) is part of leaves' and slits' method, not of Winston-Lutz's nor field's
    (field only names the other MV tests); before, the table held the analyser modules alone and a changed helper
    asked for nothing."""
    table = current_table()
    real = read_source

    def changed_mlc(module: str) -> str:
        source = real(module)
        return source.replace("np.median", "np.mean", 1) if module == "qc.mv.mlc" else source

    assert "np.median" in real("qc.mv.mlc")
    monkeypatch.setattr(sys.modules[__name__], "read_source", changed_mlc)
    problems = stale_entries(table, current_table())
    assert sorted(p.split(" ", 1)[0] for p in problems) == ["qc.mv.leaves", "qc.mv.slits"]
    assert all("qc.mv.mlc" in p and "bump VERSION" in p for p in problems)


def test_what_an_analyser_takes_from_another_counts_by_definition(monkeypatch):
    """acr uses snr's `normalisation_factor`: changing it asks for acr's bump too; changing another function of snr
    asks for snr's only. Field names leaves' `SPEC_NAME`: a change of leaves' method is leaves' alone."""
    table = current_table()
    real = read_source
    snr = real("qc.mr.snr")
    tree = ast.parse(snr)
    used = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "normalisation_factor"}
    other = next(n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name not in used and n.name != "analyse"
                 and "normalisation_factor" not in ast.unparse(n))

    def edited(function: str):
        """snr's source with one more statement in `function` (a change of its code)."""
        changed = ast.parse(snr)
        node = next(n for n in changed.body if isinstance(n, ast.FunctionDef) and n.name == function)
        node.body.append(ast.Expr(ast.Constant(0)))
        source = ast.unparse(changed)
        return lambda module: source if module == "qc.mr.snr" else real(module)

    monkeypatch.setattr(sys.modules[__name__], "read_source", edited("normalisation_factor"))
    assert sorted(p.split(" ", 1)[0] for p in stale_entries(table, current_table())) == ["qc.mr.acr", "qc.mr.snr"]
    monkeypatch.setattr(sys.modules[__name__], "read_source", edited(other))
    assert [p.split(" ", 1)[0] for p in stale_entries(table, current_table())] == ["qc.mr.snr"]
    assert "qc.mv.leaves:SPEC_NAME" in table["qc.mv.field"]["imports"] and "qc.mv.mlc" not in table["qc.mv.field"]["imports"]


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
