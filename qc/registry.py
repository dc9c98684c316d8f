"""The list of QC tests and the contract every analyser follows.

Adding an image/report test = one `qc` module that defines `SPEC: TestSpec` (its analyser, metrics
with default tolerances, demo input) + its name in `ANALYSER_MODULES` + one page in `pages/`.
Logged tests (values typed in a form) are data, not code: see `qc.records.logged`; they join this list
from the database, so one added in Settings is a test like any other.

Analyser contract: `analyse(inputs, ctx) -> AnalysisResult`, where `inputs` is a list of
(filename, bytes) (a .zip already allowed: use `qc.readers.dicom_io.load_images`) and `ctx` an
`AnalysisContext`. Bad input raises `qc.errors.QCInputError`; nothing else is expected.

A module listed here that cannot be imported (or has no `SPEC`) raises `AnalyserModuleError`: a test never
vanishes from the menu. The types live in `qc.spec` (re-exported here), so `qc.records.logged` builds its
specs without importing this list; this module imports `qc.records.logged` only inside the functions.
"""

from __future__ import annotations

import importlib

from qc.spec import FREQUENCIES, FREQUENCY_DAYS, AnalysisContext, Calibration, MetricSpec, TestSpec

__all__ = [
    "FREQUENCIES", "FREQUENCY_DAYS", "AnalysisContext", "Calibration", "MetricSpec", "TestSpec",
    "ANALYSER_MODULES", "analyser_specs", "builtin_tests", "all_tests", "get_test",
]


# Modules that define `SPEC`; order is the menu order.
ANALYSER_MODULES: tuple[str, ...] = (
    "qc.mv.field", "qc.mv.leaves", "qc.mv.slits", "qc.mv.winston_lutz", "qc.mr.piqt",
    # MR image quality (phantoms)
    "qc.mr.snr", "qc.mr.uniformity", "qc.mr.ghosting",
    "qc.mr.slice_thickness", "qc.mr.geometry", "qc.mr.resolution", "qc.mr.acr",
    # MR-Linac MRI QA
    "qc.mr.b0", "qc.mr.b0_gantry", "qc.mr.b1", "qc.mr.geometry_3d",
)


# The MR tests the menu shows under their study page (the page that takes a whole upload and routes it to them),
# instead of 11 more top-level entries: keys of the tests above.
MENU_GROUPS: dict[str, tuple[str, ...]] = {
    "mr-image": ("mr-snr", "mr-uniformity", "mr-ghosting", "mr-slice-thickness", "mr-geometry", "mr-resolution", "mr-acr"),
    "mr-linac": ("mr-b0", "mr-b0-gantry", "mr-b1", "mr-geometry-3d"),
}


class AnalyserModuleError(RuntimeError):
    """A module listed in `ANALYSER_MODULES` cannot be imported or defines no `SPEC`: a broken
    install, never a test silently missing from the menu."""


def analyser_specs() -> list[TestSpec]:
    """The `SPEC` of every module in `ANALYSER_MODULES`, in menu order; raises `AnalyserModuleError`."""
    specs = []
    for mod_name in ANALYSER_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except Exception as exc:
            raise AnalyserModuleError(f"analyser module {mod_name} cannot be imported: {type(exc).__name__}: {exc}") from exc
        spec = getattr(mod, "SPEC", None)
        if not isinstance(spec, TestSpec):
            raise AnalyserModuleError(f"analyser module {mod_name} defines no SPEC (a TestSpec)")
        specs.append(spec)
    return specs


_load_analysers = analyser_specs  # former name (qc.demo)


def builtin_tests() -> list[TestSpec]:
    """Image/report analysers, then the logged tests shipped with the app."""
    from qc.records.logged import BUILTIN_LOGGED

    return analyser_specs() + [lt.to_spec() for lt in BUILTIN_LOGGED]


def all_tests(db=None) -> list[TestSpec]:
    """Built-in tests plus the logged tests a physicist defined in Settings (stored in `db`)."""
    tests = builtin_tests()
    if db is not None:
        from qc.records.logged import custom_logged_tests

        known = {t.key for t in tests}
        tests += [lt.to_spec() for lt in custom_logged_tests(db) if lt.key not in known]
    return tests


def get_test(key: str, db=None) -> TestSpec:
    for t in all_tests(db):
        if t.key == key:
            return t
    from qc.errors import QCInputError

    raise QCInputError("err.unknown_test", test=key, known=", ".join(t.key for t in all_tests(db)))
