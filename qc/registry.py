"""The list of QC tests and the contract every analyser follows.

One line per image/report test in `TESTS`: its key and the module that defines it. No analyser is imported when this
module is: `get_test(key)` imports that test's module only (a logged test imports no analyser), `all_tests()` (the
menus, the report) imports them all. Adding a test = its analyser module + its line here (docs/architecture.md,
"Adding a test"). The module defines, besides its analyser:
- `SPEC: TestSpec` with the key of its line (metrics with default tolerances, page, uploader types);
- `DEMO_INPUT`: "module:function" of a zero-argument function returning the demo's (name, bytes) inputs (the
  "try with a demo image" buttons, the demo database; `qc.demo_inputs`), or None; a name, so that the analyser
  never imports the synthetic generators;
- `ROUTING`: a `qc.spec.Routing`, how an object received over DICOM is recognised as this test's
  (`qc.intake.inbox`), or None when received objects never go to this test;
- `DEMO`: a `qc.spec.DemoSessions`, what the demo database holds of this test (generator, how many sessions at
  what frequency, drift and out-of-tolerance session, files kept), or None when the demo has no session of it.
- `MENU_GROUP` (optional): the study page the menu shows this test under ("mr-image", "mr-linac"; `menu_groups`).

Logged tests (values typed in a form) are data, not code: see `qc.records.logged`; they join this list from the
database, so one added in Settings is a test like any other.

Analyser contract: `analyse(inputs, ctx) -> AnalysisResult`, where `inputs` is a list of (filename, bytes) (a .zip
already allowed: use `qc.readers.dicom_io.load_images`) and `ctx` an `AnalysisContext`. Bad input raises
`qc.errors.QCInputError`; nothing else is expected.

A line whose module cannot be imported (or defines no `SPEC` with its key) raises `AnalyserModuleError`: a test
never vanishes from the menu. The types live in `qc.spec` (re-exported here), so `qc.records.logged` builds its
specs without importing this list; this module imports `qc.records.logged` only inside the functions.
"""

from __future__ import annotations

import functools

import importlib
from types import ModuleType

from qc.spec import FREQUENCIES, FREQUENCY_DAYS, AnalysisContext, Calibration, DemoSessions, MetricSpec, Routing, TestSpec

__all__ = [
    "FREQUENCIES", "FREQUENCY_DAYS", "AnalysisContext", "Calibration", "DemoSessions", "MetricSpec", "Routing", "TestSpec",
    "TESTS", "ANALYSER_MODULES", "analyser_keys", "analyser_module", "analyser_spec", "analyser_specs", "builtin_tests",
    "all_tests", "find_test", "get_test", "routings", "demo_input_ref", "demo_sessions", "demo_declarations", "menu_groups",
    "definitions_fingerprint",
]


# (key, module): one line per image/report test; order is the menu order.
TESTS: tuple[tuple[str, str], ...] = (
    ("field", "qc.mv.field"),
    ("leaves", "qc.mv.leaves"),
    ("slits", "qc.mv.slits"),
    ("wl", "qc.mv.winston_lutz"),
    ("piqt", "qc.mr.piqt"),
    # MR image quality (phantoms)
    ("mr-snr", "qc.mr.snr"),
    ("mr-uniformity", "qc.mr.uniformity"),
    ("mr-ghosting", "qc.mr.ghosting"),
    ("mr-slice-thickness", "qc.mr.slice_thickness"),
    ("mr-geometry", "qc.mr.geometry"),
    ("mr-resolution", "qc.mr.resolution"),
    ("mr-acr", "qc.mr.acr"),
    # MR-Linac MRI QA
    ("mr-b0", "qc.mr.b0"),
    ("mr-b0-gantry", "qc.mr.b0_gantry"),
    ("mr-b1", "qc.mr.b1"),
    ("mr-geometry-3d", "qc.mr.geometry_3d"),
)

ANALYSER_MODULES: tuple[str, ...] = tuple(module for _key, module in TESTS)  # former name (read only)




class AnalyserModuleError(RuntimeError):
    """A module of `TESTS` cannot be imported or defines no `SPEC` with its line's key: a broken install, never a
    test silently missing from the menu."""


def analyser_keys() -> tuple[str, ...]:
    """The keys of the image/report tests, in menu order (imports nothing)."""
    return tuple(key for key, _module in TESTS)


def _module_of(key: str) -> str | None:
    return next((module for k, module in TESTS if k == key), None)


def analyser_module(key: str) -> ModuleType:
    """The module of the test `key` (imported now if it was not), checked to define `SPEC` with that key."""
    mod_name = _module_of(key)
    if mod_name is None:
        raise KeyError(key)
    try:
        mod = importlib.import_module(mod_name)
    except Exception as exc:
        raise AnalyserModuleError(f"analyser module {mod_name} cannot be imported: {type(exc).__name__}: {exc}") from exc
    spec = getattr(mod, "SPEC", None)
    if not isinstance(spec, TestSpec):
        raise AnalyserModuleError(f"analyser module {mod_name} defines no SPEC (a TestSpec)")
    if spec.key != key:
        raise AnalyserModuleError(f"analyser module {mod_name} defines the test {spec.key!r}, its registry line says {key!r}")
    return mod


def analyser_spec(key: str) -> TestSpec:
    """The `SPEC` of the image/report test `key` (imports its module only)."""
    return analyser_module(key).SPEC


def analyser_specs() -> list[TestSpec]:
    """The `SPEC` of every line of `TESTS`, in menu order (imports every analyser); raises `AnalyserModuleError`."""
    return [analyser_spec(key) for key in analyser_keys()]


_load_analysers = analyser_specs  # former name (qc.demo)


def routings() -> list[tuple[str, Routing]]:
    """(key, routing) of every test that declares how received objects are recognised as its own, in menu order
    (imports every analyser)."""
    out = []
    for key in analyser_keys():
        routing = getattr(analyser_module(key), "ROUTING", None)
        if routing is not None:
            out.append((key, routing))
    return out


def demo_input_ref(key: str) -> str | None:
    """The "module:function" of the test's demo input (its `DEMO_INPUT`), or None (a logged test, or no demo)."""
    if _module_of(key) is None:
        return None
    return getattr(analyser_module(key), "DEMO_INPUT", None)


def menu_groups() -> dict[str, tuple[str, ...]]:
    """The tests the menu shows under a study page (the page that takes a whole upload and routes it to them) instead
    of as top-level entries: {group: keys in menu order}, from each module's `MENU_GROUP` (imports every analyser).
    Also read as `MENU_GROUPS` (computed at each read: no analyser is imported with this module)."""
    groups: dict[str, list[str]] = {}
    for key in analyser_keys():
        group = getattr(analyser_module(key), "MENU_GROUP", None)
        if group:
            groups.setdefault(group, []).append(key)
    return {group: tuple(keys) for group, keys in groups.items()}


def __getattr__(name: str):
    if name == "MENU_GROUPS":  # former constant: now each module says its group
        return menu_groups()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def demo_sessions(key: str) -> DemoSessions | None:
    """What the demo database holds of the test `key` (its module's `DEMO`), or None (a logged test, or none)."""
    if _module_of(key) is None:
        return None
    demo = getattr(analyser_module(key), "DEMO", None)
    if demo is not None and not isinstance(demo, DemoSessions):
        raise AnalyserModuleError(f"analyser module {_module_of(key)} defines DEMO but not as a DemoSessions")
    return demo


def demo_declarations() -> list[tuple[str, DemoSessions]]:
    """(key, DEMO) of every test the demo database holds, in menu order (imports every analyser)."""
    return [(key, demo) for key in analyser_keys() if (demo := demo_sessions(key)) is not None]


@functools.lru_cache(maxsize=1)
def definitions_fingerprint() -> str | None:
    """A hash of the sources the tests' definitions (metrics, default tolerances) are made from, read without
    importing them: this list, every module of the analysers' packages, the shipped logged tests. `open_store` seeds
    the default tolerances again only when it changed (opening a store then imports no analyser). None when the
    sources cannot be read (the caller then seeds every time). Read once per process: the sources do not change
    under a running server (it does not watch them), and every new browser session opens a store."""
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parent
    packages = sorted({module.rsplit(".", 1)[0] for _key, module in TESTS})
    files = [Path(__file__).resolve(), root / "records" / "logged.py", root / "spec.py", root / "tolerances.py"]
    for package in packages:
        files += sorted((root.parent / package.replace(".", "/")).glob("*.py"))
    digest = hashlib.sha256(repr(TESTS).encode())
    try:
        for f in files:
            digest.update(f.relative_to(root.parent).as_posix().encode() + b"\0" + f.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


def _builtin_logged():
    from qc.records.logged import BUILTIN_LOGGED

    return BUILTIN_LOGGED


def builtin_tests() -> list[TestSpec]:
    """Image/report analysers, then the logged tests shipped with the app."""
    return analyser_specs() + [lt.to_spec() for lt in _builtin_logged()]


def all_tests(db=None) -> list[TestSpec]:
    """Built-in tests plus the logged tests a physicist defined in Settings (stored in `db`)."""
    tests = builtin_tests()
    if db is not None:
        from qc.records.logged import custom_logged_tests

        known = {t.key for t in tests}
        tests += [lt.to_spec() for lt in custom_logged_tests(db) if lt.key not in known]
    return tests


def find_test(key: str, db=None) -> TestSpec | None:
    """The test `key`, importing only what it needs: its analyser module (an image/report test), else the logged
    tests (shipped, then the ones defined in Settings when `db` is given); None when no test has that key."""
    if _module_of(key) is not None:
        return analyser_spec(key)
    for lt in _builtin_logged():
        if lt.key == key:
            return lt.to_spec()
    if db is not None:
        from qc.records.logged import custom_logged_tests

        for lt in custom_logged_tests(db):
            if lt.key == key:
                return lt.to_spec()
    return None


def get_test(key: str, db=None) -> TestSpec:
    """The test `key` (see `find_test`); an unknown key is a `QCInputError` naming the known ones."""
    spec = find_test(key, db)
    if spec is not None:
        return spec
    from qc.errors import QCInputError

    known = list(analyser_keys()) + [lt.key for lt in _builtin_logged()]
    if db is not None:
        from qc.records.logged import custom_logged_tests

        known += [lt.key for lt in custom_logged_tests(db) if lt.key not in known]
    raise QCInputError("err.unknown_test", test=key, known=", ".join(known))
