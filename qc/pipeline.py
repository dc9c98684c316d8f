"""One analysis from input to judged (and optionally stored) result: the path the pages and the CLI share.

Owns: building the `AnalysisContext` for a machine (its CAX calibration by date, its baseline, the
test options), running the analyser, judging every measurement with the tolerance in force on the
acquisition date, and turning any unexpected exception into a `QCInputError` so that the user sees
a sentence and nothing is stored. Because both faces call this, the numbers on the CLI, the page,
the database and the PDF are the same numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from qc.errors import QCInputError
from qc.registry import AnalysisContext, TestSpec
from qc.results import AnalysisResult
from qc.records.storage import Store, _json_default
from qc.records.tolerances import Judged, worst

log = logging.getLogger(__name__)


@dataclass
class Analysis:
    spec: TestSpec
    result: AnalysisResult
    judged: list[Judged]
    machine: dict | None
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return worst(j.status for j in self.judged)

    def to_json_dict(self) -> dict[str, Any]:
        from qc.results import metric_key

        return {
            "test": self.spec.key,
            "machine": self.machine["name"] if self.machine else None,
            "acquired_at": self.result.acquired_at.isoformat(sep=" ") if self.result.acquired_at else None,
            "metrics": {metric_key(j.name, j.item): _num(j.value) for j in self.judged},
            "units": {metric_key(j.name, j.item): j.unit for j in self.judged},
            "statuses": {metric_key(j.name, j.item): j.status for j in self.judged},
            "status": self.status,
            "items": json.loads(json.dumps(self.result.items, default=_json_default)),
            "warnings": self.warnings,
            "files": [{"filename": f.filename, "sha256": f.sha256, "sop_instance_uid": f.sop_instance_uid} for f in self.result.files],
            "analyser_version": self.result.analyser_version,
        }


def _num(v):
    if v is None:
        return None
    f = float(v)
    return f if f == f else None


def make_context(
    store: Store | None,
    spec: TestSpec,
    machine: dict | None,
    lang: str = "fr",
    options: dict | None = None,
    acquired_at: dt.datetime | None = None,
) -> AnalysisContext:
    opts = dict(options or {})
    if store is not None:
        saved = store.get_setting(f"options.{spec.key}")
        if saved:
            opts = {**json.loads(saved), **opts}

    def default_tolerance(metric: str, _when: dt.datetime | None):
        m = spec.metric(metric)
        return m.tolerance if m is not None else None

    if store is None or machine is None:
        return AnalysisContext(
            machine=machine["name"] if machine else None, tolerance_for=default_tolerance, acquired_at=acquired_at, options=opts, lang=lang
        )
    mid = machine["id"]
    return AnalysisContext(
        machine=machine["name"],
        cax_for=lambda when: store.calibration_for(mid, when),
        tolerance_for=lambda metric, when: store.tolerance_for(spec.key, metric, mid, when) or default_tolerance(metric, when),
        baseline_for=lambda when: store.baseline_for(mid, spec.key, when),
        acquired_at=acquired_at,
        baseline=store.baseline_for(mid, spec.key),
        options=opts,
        lang=lang,
    )


def analyse(
    store: Store | None,
    spec: TestSpec,
    inputs: list[tuple[str, bytes]],
    machine: dict | None,
    lang: str = "fr",
    options: dict | None = None,
) -> Analysis:
    """Run the test's analyser on uploaded files and judge the result. Raises only QCInputError."""
    if spec.analyse is None:
        raise QCInputError("err.unknown_test", test=spec.key, known="")
    ctx = make_context(store, spec, machine, lang, options)
    try:
        result = spec.analyse(inputs, ctx)
    except QCInputError:
        raise
    except Exception as exc:  # an analyser bug must not show a traceback nor store anything
        log.exception("analyser %s failed", spec.key)
        raise QCInputError("err.internal", error=f"{type(exc).__name__}: {exc}") from exc
    return judge(store, spec, result, machine, lang)


def judge(store: Store | None, spec: TestSpec, result: AnalysisResult, machine: dict | None, lang: str = "fr") -> Analysis:
    from qc.records.tolerances import judge_measurements

    warnings = list(result.warnings)
    if machine is not None and (result.station_name or result.device_serial):
        other = store.machine_for_identity(result.station_name, result.device_serial) if store else None
        if other is not None and other["id"] != machine["id"]:
            from qc.i18n import t

            warnings.append(t("warn.machine_mismatch", lang, chosen=machine["name"], header=other["name"]))
    if store is not None:
        judged = store.judge(spec, result, machine["id"] if machine else None)
    else:
        judged = judge_measurements(result.measurements, lambda name: (spec.metric(name).tolerance if spec.metric(name) else None))
    return Analysis(spec=spec, result=result, judged=judged, machine=machine, warnings=warnings)


def store_analysis(
    store: Store,
    analysis: Analysis,
    *,
    operator: str = "",
    comment: str = "",
    allow_duplicate: bool = False,
    is_demo: bool = False,
    keep_files: bool = True,
    review_state: str = "",
) -> int:
    """Store a judged analysis; `review_state="pending"` for automatic intake (waits for a physicist)."""
    if analysis.machine is None:
        raise QCInputError("err.unknown_machine", machine="", known=", ".join(m["name"] for m in store.machines()) or "—")
    analysis.result.warnings = analysis.warnings
    return store.save_session(
        analysis.spec,
        analysis.result,
        analysis.machine["id"],
        operator=operator,
        comment=comment,
        allow_duplicate=allow_duplicate,
        is_demo=is_demo,
        keep_files=keep_files,
        review_state=review_state,
    )


def record_logged(
    store: Store,
    spec: TestSpec,
    machine: dict,
    values: dict[str, Any],
    *,
    acquired_at: dt.datetime,
    comments: dict[str, str] | None = None,
    lang: str = "fr",
) -> Analysis:
    """Check typed values of a logged test and judge them (rates use the machine's earlier readings)."""
    from qc.records.logged import rate_history

    test = spec.definition
    history = rate_history(store, test, machine["id"], acquired_at)
    result = test.evaluate(values, acquired_at=acquired_at, comments=comments, history=history, lang=lang)
    return judge(store, spec, result, machine, lang)
