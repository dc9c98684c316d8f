"""The list of QC tests and the contract every analyser follows.

Adding an image/report test = one `qc` module that defines `SPEC: TestSpec` (its analyser, metrics
with default tolerances, demo input) + its name in `ANALYSER_MODULES` + one page in `pages/`.
Logged tests (values typed in a form) are data, not code: see `qc.records.logged`; they join this list
from the database, so one added in Settings is a test like any other.

Analyser contract: `analyse(inputs, ctx) -> AnalysisResult`, where `inputs` is a list of
(filename, bytes) (a .zip already allowed: use `qc.intake.dicom_io.load_images`) and `ctx` an
`AnalysisContext`. Bad input raises `qc.errors.QCInputError`; nothing else is expected.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from qc.results import AnalysisResult
from qc.records.tolerances import Tolerance

FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "yearly")
FREQUENCY_DAYS = {"daily": 1, "weekly": 7, "monthly": 31, "quarterly": 92, "yearly": 366}


@dataclass(frozen=True)
class MetricSpec:
    """A metric a test produces: unit, labels, default tolerance, and which way is better."""

    name: str
    unit: str
    label_fr: str
    label_en: str
    tolerance: Tolerance | None = None
    trend: bool = True
    better: str | None = None  # "lower", "higher" or None (closer to nominal)

    def label(self, lang: str) -> str:
        return self.label_fr if lang == "fr" else self.label_en


@dataclass(frozen=True)
class Calibration:
    """The beam central-axis pixel of a machine's MV imager, valid from a date (see qc.records.storage)."""

    u0: float
    v0: float
    valid_from: str
    id: int | None = None
    comment: str = ""


@dataclass
class AnalysisContext:
    """What an analyser may know besides its input files; every lookup is by the acquisition date.

    - `cax_for(date)`: the machine's beam-axis calibration in force on that date, or None.
    - `tolerance_for(metric, date)`: the tolerance in force for this test's metric on that date (the
      dated tolerance table, else the metric's default), or None. Analysers take every threshold that
      decides a status from here (e.g. the per-leaf limit), never from `options`.
    - `baseline_for(date)`: the machine's stored constancy data for this test in force on that date.
    - `acquired_at`: the acquisition date given by the user when the header has none (the analyser
      uses the header's date when present and this one otherwise; with neither it raises).
    - `options`: analyser options (nominal fields, presets...), never tolerances. `lang`: for messages.
    """

    machine: str | None = None
    cax_for: Callable[[dt.datetime | None], Calibration | None] = lambda _d: None
    tolerance_for: Callable[[str, dt.datetime | None], Tolerance | None] = lambda _m, _d: None
    baseline_for: Callable[[dt.datetime | None], dict[str, Any] | None] = lambda _d: None
    acquired_at: dt.datetime | None = None
    baseline: dict[str, Any] | None = None  # deprecated: use baseline_for(date)
    options: dict[str, Any] = field(default_factory=dict)
    lang: str = "fr"


@dataclass(frozen=True)
class TestSpec:
    """One QC test as the app knows it."""

    key: str
    name_fr: str
    name_en: str
    frequency: str
    kind: str  # "dicom", "report" or "logged"
    metrics: tuple[MetricSpec, ...]
    analyse: Callable[[list[tuple[str, bytes]], AnalysisContext], AnalysisResult] | None = None
    page: str | None = None
    description_fr: str = ""
    description_en: str = ""
    accepts: str = ".dcm"  # file types for the uploader, comma-separated
    definition: Any = None  # logged tests: their qc.records.logged.LoggedTest

    def name(self, lang: str) -> str:
        return self.name_fr if lang == "fr" else self.name_en

    def description(self, lang: str) -> str:
        return self.description_fr if lang == "fr" else self.description_en

    def metric(self, name: str) -> MetricSpec | None:
        for m in self.metrics:
            if m.name == name:
                return m
        return None


# Modules that define `SPEC`; order is the menu order.
ANALYSER_MODULES: tuple[str, ...] = ("qc.mv.field", "qc.mv.leaves", "qc.mv.slits", "qc.mv.winston_lutz", "qc.mr.piqt")


def _load_analysers() -> list[TestSpec]:
    specs = []
    for mod_name in ANALYSER_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name == mod_name:
                continue  # a test whose module is not written yet
            raise
        specs.append(mod.SPEC)
    return specs


def builtin_tests() -> list[TestSpec]:
    """Image/report analysers, then the logged tests shipped with the app."""
    from qc.records.logged import BUILTIN_LOGGED

    return _load_analysers() + [lt.to_spec() for lt in BUILTIN_LOGGED]


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
