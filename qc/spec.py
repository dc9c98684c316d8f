"""The types every test is made of: `MetricSpec`, `TestSpec`, `AnalysisContext`, `Calibration`.

Owns the contract between the app and an analyser (kept apart from `qc.registry`, which lists the
tests, so that a test source such as `qc.records.logged` can build specs without importing the list
that includes it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

from qc.results import AnalysisResult
from qc.tolerances import Tolerance

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
    # A count of the session's items judged by another metric: ("slit_error_mm", "fail") is the number of rows
    # judged by `slit_error_mm` that fail. The pipeline computes it after judging the items (`qc.pipeline.judge`).
    # The metric None counts the rows judged by any metric; the status may be a tuple (rows with any of them).
    counts_items: tuple[str | None, str | tuple[str, ...]] | None = None

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
    - `acquired_at`: the session's acquisition date as the pipeline found it (the header's, else the
      one the user gave). An image without a header date uses it; the lookups above given `None`
      use it too, and with no date at all they raise `QCInputError` (never "the newest rules").
    - `options`: analyser options (nominal fields, presets...), never tolerances. `lang`: for messages.
    """

    machine: str | None = None
    cax_for: Callable[[dt.datetime | None], Calibration | None] = lambda _d: None
    tolerance_for: Callable[[str, dt.datetime | None], Tolerance | None] = lambda _m, _d: None
    baseline_for: Callable[[dt.datetime | None], dict[str, Any] | None] = lambda _d: None
    calibrations: Callable[[], list[dict[str, Any]]] = lambda: []  # every beam-axis calibration of the machine (for messages)
    acquired_at: dt.datetime | None = None
    baseline: dict[str, Any] | None = None  # deprecated: use baseline_for(date); the one in force on acquired_at
    options: dict[str, Any] = field(default_factory=dict)
    lang: str = "fr"
    # What the lookups returned (calibration and baseline ids...), filled by the pipeline's lookups and
    # stored with the session; analysers do not touch it.
    used: dict[str, Any] = field(default_factory=dict)


class UnknownMetricError(ValueError):
    """An analyser returned a measurement the test does not define (a bug in the analyser, never the user's)."""


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
    # The analyser's own method version (each analyser module's `VERSION`, bumped when its method changes;
    # tests/test_versions.py holds it to its source): stored with every session as `analyser_version`.
    version: str = "1.0"
    # True only for a report that names its own parameters (PIQT: a parameter not listed in `metrics` is the report's,
    # judged by the report's own criterion); every other test's metrics are a closed vocabulary.
    open_metrics: bool = False

    def name(self, lang: str) -> str:
        return self.name_fr if lang == "fr" else self.name_en

    def description(self, lang: str) -> str:
        return self.description_fr if lang == "fr" else self.description_en

    def check_vocabulary(self, result: AnalysisResult) -> None:
        """The test's metrics are a closed vocabulary: a measurement whose name is not one of them raises
        `UnknownMetricError` (a misspelt name would otherwise be stored "Sans tolérance" for ever)."""
        if self.open_metrics:
            return
        known = {m.name for m in self.metrics}
        unknown = sorted({m.name for m in result.measurements if m.name not in known})
        if unknown:
            raise UnknownMetricError(f"{self.key}: metric(s) {', '.join(unknown)} not in the test's metrics ({', '.join(sorted(known))})")

    def metric(self, name: str) -> MetricSpec | None:
        """The test's metric `name` (a trended metric or a per-item limit such as `leaf_position_error_mm`), or None."""
        for m in self.metrics:
            if m.name == name:
                return m
        return None


@dataclass(frozen=True)
class Routing:
    """How an object received over DICOM (receiver, watched folder, PACS) is recognised as a test's own: declared
    by the test's analyser module as `ROUTING`; `qc.intake.inbox` makes its default rules from them (a department
    edits the rules in Settings).

    - `pattern`: a regular expression searched (case-insensitive) in the header's `field`: "text" (patient name/id,
      study id/description, series description, RT Image label) or "image_type";
    - `modality`: only objects of this DICOM modality ("" = any);
    - `order`: rules are tried by increasing order, the first match wins (a narrow pattern such as "MVIC fente"
      goes before the broad "MVIC");
    - `expected_images`: a session is complete with this many images (else after the quiet time);
    - `mr_study`: MR objects are not routed one by one: the whole MR study is split by series content at analysis
      time (`qc.mr.linac_series.route`) among the tests that declare this.
    """

    pattern: str = ""
    modality: str = ""
    field: str = "text"
    order: int = 100
    expected_images: int | None = None
    mr_study: bool = False


DEMO_SPANS = ("weeks", "month", "monthly", "quarterly")


@dataclass(frozen=True)
class DemoSessions:
    """What the demo database holds of a test: declared by the test's analyser module as `DEMO` (None: the test
    has no session in the demo database), read by `qc.demo.image_plan`. Every session is one recipe of the stored
    plan (demo/plan.json): the generator's name and its arguments, so that its images are made again byte for byte.

    - `make`: "module:function" of the generator, called with the recipe's arguments (the date argument, `seed`,
      then `args`), returning the (name, bytes) inputs; a name, so that the analyser never imports `qc.synthetic`;
    - `gen`: the generator's name written in the plan (keep it when `make` moves: a plan written by an earlier
      version must still regenerate its sessions);
    - `span`: "weeks": every `weekday` of the demo's latest image weeks (the test's own noise seed; the first
      session is the baseline, the second-latest of more than three is voided after a wrong set-up); "month": every
      `weekday` of the last full month and the current one; "monthly": the first `weekday` of the last full month
      and of the current one (yesterday when it is not yet); "quarterly": that day of the last full month only;
    - `time`: the acquisition time "HH:MM"; `date_arg`: the generator's date argument, "when" (ISO date and time) or
      "day" (ISO date);
    - `args`: constant arguments; `ramp`: per-session increments, the session i gets ramp × i (over the last
      `ramp_last` sessions only when given: ramp × max(0, i − (n − ramp_last))), a slow drift;
    - `outlier`: (numerator, denominator, args, comment): the session i = n × numerator // denominator gets these
      arguments and this comment (an out-of-tolerance week and what the physicist wrote);
    - `months`: for "monthly"/"quarterly": ((args, comment) of the last full month, (args, comment) of the current
      one), when they differ (the month whose report the physicist signs shows a borderline value);
    - `seed`: a fixed noise draw instead of the shared one; `seed_offset`: the test's place among the tests sharing
      the month's noise seed (seed + 10 × week + offset for "month", seed + 1000 × (month + 1) + offset otherwise);
    - `keep_latest`: how many of the latest sessions keep their image files on disk (the others are regenerated on
      demand; 0 for the large series: the demo folder is copied by every test that uses it).
    """

    make: str
    gen: str
    span: str
    weekday: int
    time: str
    date_arg: str = "when"
    args: dict[str, Any] = field(default_factory=dict)
    ramp: dict[str, float] = field(default_factory=dict)
    ramp_last: int | None = None
    outlier: tuple[int, int, dict[str, Any], str] | None = None
    months: tuple[tuple[dict[str, Any], str], tuple[dict[str, Any], str]] | None = None
    seed: int | None = None
    seed_offset: int = 0
    keep_latest: int = 1

    def __post_init__(self) -> None:
        if self.span not in DEMO_SPANS:
            raise ValueError(f"DemoSessions.span must be one of {DEMO_SPANS}, not {self.span!r}")
        if self.date_arg not in ("when", "day"):
            raise ValueError(f"DemoSessions.date_arg must be 'when' or 'day', not {self.date_arg!r}")
        if ":" not in self.make:
            raise ValueError(f"DemoSessions.make must be 'module:function', not {self.make!r}")
