"""One analysis from input to judged (and optionally stored) result: the path the pages, the CLI and
(next) the DICOM receiver share — intake → analyse → judge → store.

Owns:
- intake: the session's acquisition date (the header's, see `qc.readers.dicom_io.DATE_TAGS`, else the
  one the user gave; with neither, `QCInputError("err.no_acquisition_date")`), and which source gave it;
- the `AnalysisContext` of a machine whose every lookup (tolerance, CAX calibration, baseline) is by
  that date, recording the calibration and baseline it returned;
- running the analyser, turning any unexpected exception into a `QCInputError` (the user sees a
  sentence and nothing is stored);
- judging, once and only here (`judge`): every measurement with the tolerance in force on the acquisition
  date (the dated table, else the metric's default: the same lookup the analyser was given), by one rule
  (a value with limits that is missing fails, "Non mesuré"); a measurement the test does not define raises
  (closed vocabulary, `TestSpec.check_vocabulary`); the session's status is the worst of its metrics and items
  (`qc.tolerances.session_status`); storage stores this judgement as it is;
- versions: the result carries the analyser's own `VERSION` (`TestSpec.version`), the app's beside it;
- the store call: the duplicate question (`duplicates`), the session with the ids of the calibration
  and baseline used (`store_analysis`), a baseline dated by its session (`set_baseline`).
Because every face calls this, the numbers on the CLI, the page, the database and the PDF are the same.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from qc.errors import DuplicateUploadError, QCInputError
from qc import __version__ as APP_VERSION
from qc.i18n import t
from qc.registry import AnalysisContext, TestSpec
from qc.spec import UnknownMetricError
from qc.results import AnalysisResult
from qc.records.storage import Store, _json_default
from qc.results import Measurement
from qc.tolerances import FAIL, Judged, Tolerance, count_items, item_status, judge_items, judge_measurements, session_status

log = logging.getLogger(__name__)

USER_DATE = "user"
# Header tags whose date needs no remark (the image's own acquisition time, or a report's own date).
_PLAIN_SOURCES = ("AcquisitionDate", "AcquisitionDateTime", "report")


@dataclass
class Analysis:
    spec: TestSpec
    result: AnalysisResult
    judged: list[Judged]
    machine: dict | None
    warnings: list[str] = field(default_factory=list)
    cax_calibration_id: int | None = None
    baseline_id: int | None = None
    lang: str = "fr"

    @property
    def status(self) -> str:
        """The session's verdict: the worst of its judged metrics and of its items that carry one."""
        return session_status(self.judged, self.result.items)

    @property
    def not_measured(self) -> list[Judged]:
        return [j for j in self.judged if j.not_measured]

    def to_json_dict(self) -> dict[str, Any]:
        from qc.results import metric_key

        return {
            "test": self.spec.key,
            "machine": self.machine["name"] if self.machine else None,
            "acquired_at": self.result.acquired_at.isoformat(sep=" ") if self.result.acquired_at else None,
            "acquired_at_source": self.result.acquired_at_source,
            "metrics": {metric_key(j.name, j.item): _num(j.value) for j in self.judged},
            "units": {metric_key(j.name, j.item): j.unit for j in self.judged},
            "statuses": {metric_key(j.name, j.item): j.display_status for j in self.judged},
            "status": self.status,
            "items": json.loads(json.dumps(self.result.items, default=_json_default)),
            "warnings": self.warnings,
            "cax_calibration_id": self.cax_calibration_id,
            "baseline_id": self.baseline_id,
            "files": [{"filename": f.filename, "sha256": f.sha256, "sop_instance_uid": f.sop_instance_uid} for f in self.result.files],
            "analyser_version": self.result.analyser_version,
            "app_version": APP_VERSION,
        }


def _num(v):
    if v is None:
        return None
    f = float(v)
    return f if f == f else None


def _required(when: dt.datetime | None, fallback: dt.datetime | None) -> dt.datetime:
    """The date a lookup is made for: the one asked, else the session's; never "the newest rules"."""
    w = when or fallback
    if w is None:
        raise QCInputError("err.no_acquisition_date")
    return w


def make_context(
    store: Store | None,
    spec: TestSpec,
    machine: dict | None,
    lang: str = "fr",
    options: dict | None = None,
    acquired_at: dt.datetime | None = None,
) -> AnalysisContext:
    """The context of one analysis; every lookup is by date (`acquired_at` when the analyser gives none)."""
    opts = dict(options or {})
    if store is not None:
        saved = store.get_setting(f"options.{spec.key}")
        if saved:
            opts = {**json.loads(saved), **opts}

    tolerance_for = tolerance_lookup(store, spec, machine, acquired_at)
    if store is None or machine is None:
        return AnalysisContext(
            machine=machine["name"] if machine else None, tolerance_for=tolerance_for, acquired_at=acquired_at, options=opts, lang=lang
        )
    mid = machine["id"]
    used: dict[str, Any] = {"calibrations": [], "cax_missing": False, "baseline_id": None}

    def cax_for(when):
        cal = store.calibration_for(mid, _required(when, acquired_at))
        if cal is None:
            used["cax_missing"] = True
        elif cal.id not in used["calibrations"]:
            used["calibrations"].append(cal.id)
        return cal

    def baseline_for(when):
        rec = store.baseline_record_for(mid, spec.key, _required(when, acquired_at))
        if rec is not None:
            used["baseline_id"] = rec["id"]
        return rec["data"] if rec else None

    # Deprecated `ctx.baseline` (still read by qc.mv.field and qc.mv.slits): the one in force on the
    # acquisition date, never today's.
    baseline = baseline_for(acquired_at) if acquired_at is not None else None
    return AnalysisContext(
        machine=machine["name"],
        cax_for=cax_for,
        tolerance_for=tolerance_for,
        baseline_for=baseline_for,
        calibrations=lambda: store.calibrations(mid),
        acquired_at=acquired_at,
        baseline=baseline,
        options=opts,
        lang=lang,
        used=used,
    )


def tolerance_lookup(store: Store | None, spec: TestSpec, machine: dict | None, acquired_at: dt.datetime | None
                     ) -> Callable[[str, dt.datetime | None], Tolerance | None]:
    """The one tolerance rule: for a metric on a date (else the session's), the dated table's tolerance for this
    machine (else for every machine), else the metric's default; None when the metric has none. The analyser's
    context and `judge` both use it, so an item and a metric are judged by the same limits."""

    def tolerance_for(metric: str, when: dt.datetime | None) -> Tolerance | None:
        m = spec.metric(metric)
        default = m.tolerance if m is not None else None
        if store is None:
            return default
        return store.tolerance_for(spec.key, metric, machine["id"] if machine else None, _required(when, acquired_at)) or default

    return tolerance_for


def session_date(spec: TestSpec, inputs: list[tuple[str, bytes]], given: dt.datetime | None) -> tuple[dt.datetime | None, str]:
    """Intake: the session's acquisition date and its source, before any analysis.

    DICOM tests: the earliest header date of the files (AcquisitionDate/Time, then ContentDate/Time,
    then InstanceCreationDate/Time), else the date the user gave; files without one and no date given
    raise `QCInputError("err.no_acquisition_date")`, or `"err.implausible_header_date"` when the header's
    only date is a placeholder or impossible (before 1990, in the future: `qc.readers.dicom_io.is_plausible_date`).
    Files nobody can read are left to the analyser's own refusal. Other tests (reports) date themselves;
    their date is settled after the analysis.
    """
    when, source, _rejected = _session_date(spec, inputs, given)
    return when, source


def _session_date(spec: TestSpec, inputs: list[tuple[str, bytes]], given: dt.datetime | None
                  ) -> tuple[dt.datetime | None, str, list[tuple[str, dt.datetime]]]:
    """`session_date` and the (file, date) of every implausible header date rejected."""
    from qc.readers.dicom_io import header_date, is_plausible_date, iso_day

    if given is not None and not is_plausible_date(given):
        raise QCInputError("err.implausible_given_date", date=iso_day(given))
    if spec.kind != "dicom":
        return given, USER_DATE if given else "", []
    when, source, undated, rejected = header_date(inputs)
    if when is not None:
        return when, source, rejected
    if given is not None:
        return given, USER_DATE, rejected
    if rejected:
        name, bad = rejected[0]
        raise QCInputError("err.implausible_header_date", date=iso_day(bad), file=name)
    if undated:
        raise QCInputError("err.no_acquisition_date")
    return None, "", rejected


def rejected_date_warnings(rejected: list[tuple[str, dt.datetime]], lang: str) -> list[str]:
    """One sentence per distinct implausible header date (with the files that carry it, the first three)."""
    from qc.readers.dicom_io import iso_day

    by_date: dict[str, list[str]] = {}
    for name, bad in rejected:
        by_date.setdefault(iso_day(bad), []).append(name)
    return [
        t("warn.implausible_header_date", lang, date=day, files=", ".join(names[:3]) + (", …" if len(names) > 3 else ""), n=len(names))
        for day, names in by_date.items()
    ]


# Refusals for want of a usable acquisition date: none in the files, only a placeholder, or an impossible one given.
DATE_NEEDED_KEYS = ("err.no_acquisition_date", "err.implausible_header_date", "err.implausible_given_date")


def needs_date(exc: Exception) -> bool:
    """True when an analysis was refused only for want of an acquisition date (the page then asks for it)."""
    return isinstance(exc, QCInputError) and exc.key in DATE_NEEDED_KEYS


def analyse(
    store: Store | None,
    spec: TestSpec,
    inputs: list[tuple[str, bytes]],
    machine: dict | None,
    lang: str = "fr",
    options: dict | None = None,
    acquired_at: dt.datetime | None = None,
) -> Analysis:
    """Run the test's analyser on uploaded files and judge the result. Raises only QCInputError.

    `acquired_at` is the date the user gave; it is used only when the files carry none (the header wins).
    """
    if spec.analyse is None:
        raise QCInputError("err.unknown_test", test=spec.key, known="")
    when, source, rejected = _session_date(spec, inputs, acquired_at)
    ctx = make_context(store, spec, machine, lang, options, acquired_at=when)
    try:
        result = spec.analyse(inputs, ctx)
    except QCInputError:
        raise
    except Exception as exc:  # an analyser bug must not show a traceback nor store anything
        log.exception("analyser %s failed", spec.key)
        raise QCInputError("err.internal", error=f"{type(exc).__name__}: {exc}") from exc
    _settle_date(result, source, acquired_at, lang)
    result.warnings.extend(rejected_date_warnings(rejected, lang))
    try:
        analysis = judge(store, spec, result, machine, lang)
    except UnknownMetricError as exc:  # an analyser bug: a sentence for the user, nothing stored
        log.error("analyser %s: %s", spec.key, exc)
        raise QCInputError("err.internal", error=str(exc)) from exc
    _record_usage(store, analysis, ctx, lang)
    return analysis


def _settle_date(result: AnalysisResult, source: str, given: dt.datetime | None, lang: str) -> None:
    """The result's acquisition date: the analyser's (from the files), else the user's, else refuse;
    which source gave it goes to `params` and, when it is not the image's own acquisition time, to a warning."""
    if result.acquired_at is None:
        if given is None:
            raise QCInputError("err.no_acquisition_date")
        result.acquired_at = given
        result.acquired_at_source = USER_DATE
    elif not result.acquired_at_source:
        if source == USER_DATE and result.acquired_at == given:
            # the analyser took the user's date from its context (MR: `identity_of`): it is the user's
            result.acquired_at_source = USER_DATE
        else:
            result.acquired_at_source = source if source and source != USER_DATE else "report"
    if result.acquired_at_source == USER_DATE:
        result.warnings.append(t("warn.date_from_user", lang, date=result.acquired_at.strftime("%Y-%m-%d %H:%M")))
    elif result.acquired_at_source not in _PLAIN_SOURCES:
        result.warnings.append(t("warn.date_source", lang, source=t(f"date_source.{result.acquired_at_source}", lang)))
    if given is not None and result.acquired_at_source != USER_DATE and given.date() != result.acquired_at.date():
        result.warnings.append(
            t("warn.date_given_ignored", lang, given=given.strftime("%Y-%m-%d"), date=result.acquired_at.strftime("%Y-%m-%d"))
        )
    result.params["acquired_at_source"] = result.acquired_at_source


def _record_usage(store: Store | None, analysis: Analysis, ctx: AnalysisContext, lang: str) -> None:
    """The calibration and baseline the analysis used (stored with the session) and, when the files
    are older than every calibration of the machine, a warning shown before anything is saved."""
    used = ctx.used or {}
    cals = used.get("calibrations") or []
    if cals:
        analysis.cax_calibration_id = cals[-1]
        analysis.result.params["cax_calibration_ids"] = list(cals)
    analysis.baseline_id = used.get("baseline_id")
    analysis.result.params["cax_calibration_id"] = analysis.cax_calibration_id
    analysis.result.params["baseline_id"] = analysis.baseline_id
    if store is not None and analysis.machine is not None and used.get("cax_missing"):
        first = store.first_calibration(analysis.machine["id"])
        if first is not None:
            analysis.warnings.append(
                t("warn.older_than_calibrations", lang, date=analysis.result.acquired_at.strftime("%Y-%m-%d"), first=first.valid_from[:10])
            )


def judge(store: Store | None, spec: TestSpec, result: AnalysisResult, machine: dict | None, lang: str = "fr") -> Analysis:
    """Judge each measurement with the tolerance in force on the acquisition date; say why the session
    fails when a value is missing ("Non mesuré") or when items are out of tolerance."""
    if result.acquired_at is None:
        raise QCInputError("err.no_acquisition_date")
    spec.check_vocabulary(result)
    # The version of the method that produced these numbers (the analyser's own), not the app's.
    result.analyser_version = spec.version
    warnings = list(result.warnings)
    if machine is not None and (result.station_name or result.device_serial):
        other = store.machine_for_identity(result.station_name, result.device_serial) if store else None
        if other is not None and other["id"] != machine["id"]:
            warnings.append(t("warn.machine_mismatch", lang, chosen=machine["name"], header=other["name"]))
    tolerance_for = tolerance_lookup(store, spec, machine, result.acquired_at)
    judge_result_items(spec, result, lambda name: tolerance_for(name, result.acquired_at))
    judged = judge_measurements(result.measurements, lambda name: tolerance_for(name, result.acquired_at))
    # The limits that judged each metric, for the charts of this result (band in force on its date).
    result.extra["bounds_in_force"] = {(j.name, j.item): j.bounds for j in judged if j.bounds is not None}
    # One sentence per metric not measured (with the items it concerns), not one per image: a list of
    # thirty lines would hide the reason.
    missing: dict[str, list] = {}
    for j in judged:
        if j.not_measured:
            missing.setdefault(j.name, []).append(j)
    for name, js in missing.items():
        m = spec.metric(name)
        base = m.label(lang) if m else name
        items = [j.item for j in js if j.item]
        label = base + (f" [{', '.join(items[:6])}{', …' if len(items) > 6 else ''}]" if items else "")
        explicit = next((j.reason for j in js if j.reason and j.reason not in (base, label)), "")
        warnings.append(t("warn.not_measured", lang, metric=label, reason=explicit or t("reason.not_measured", lang)))
    n_bad_items = sum(1 for it in result.items if item_status(it) == FAIL)
    if n_bad_items:
        warnings.append(t("warn.items_failed", lang, n=n_bad_items, total=len(result.items)))
    return Analysis(spec=spec, result=result, judged=judged, machine=machine, warnings=warnings, lang=lang)


def judge_result_items(spec: TestSpec, result: AnalysisResult, tolerance_for: Callable[[str], Tolerance | None]) -> None:
    """The items' statuses (rows that name their metric, `qc.tolerances.judge_items`) and the metrics counting them:
    the part of `judge` that settles the per-item verdicts (tolerance_for(metric): the tolerance in force)."""
    judge_items(result.items, tolerance_for)
    _item_counts(spec, result)


def _item_counts(spec: TestSpec, result: AnalysisResult) -> None:
    """The metrics that count judged items (`MetricSpec.counts_items`), from the statuses `judge_items` just set:
    replaced in place when the analyser listed them (so their order is kept), else added."""
    for m in spec.metrics:
        if m.counts_items is None:
            continue
        value = float(count_items(result.items, *m.counts_items))
        for i, x in enumerate(result.measurements):
            if x.name == m.name and not x.item:
                result.measurements[i] = Measurement(m.name, value, x.unit or m.unit, description=x.description, reference=x.reference)
                break
        else:
            result.measurements.append(Measurement(m.name, value, m.unit))


def duplicates(store: Store, analysis: Analysis, same_test_only: bool = False) -> list[dict]:
    """Files of this analysis already stored in a non-voided session: the question to ask before saving.

    `same_test_only`: one upload feeds several tests (MR image quality: one series, seven measures), so the same
    files stored for another test are not a duplicate; stored twice for the same test they are."""
    found = store.find_duplicates(analysis.result.files)
    return [d for d in found if d.get("test") == analysis.spec.key] if same_test_only else found


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
    same_test_only: bool = False,
    then: Callable[[int], None] | None = None,
) -> int:
    """Store a judged analysis whole (with the calibration and baseline it used), or nothing.

    `allow_duplicate` is the user's answer to `duplicates` (re-checked inside the write transaction, so files stored
    meanwhile by someone else raise `DuplicateUploadError`); `same_test_only` as in `duplicates`;
    `review_state="pending"` for automatic intake (the session waits for a physicist); `then(session_id)` runs in the
    same write transaction (the inbox marks its rows with the session: a crash between the two cannot leave a stored
    session whose files still wait to be analysed).
    """
    if analysis.machine is None:
        raise QCInputError("err.unknown_machine", machine="", known=", ".join(m["name"] for m in store.machines()) or "—")
    from qc.record import drawn_pictures

    warnings = list(analysis.warnings)
    pictures = drawn_pictures(analysis.spec, analysis.result, analysis.lang, warnings)  # drawn once, stored with it
    analysis.result.warnings = warnings
    with store.write():  # re-entrant: save_session joins this transaction, so the question and the write are one
        if not same_test_only:  # the store asks the question inside its write transaction
            session_id = _save(store, analysis, operator, comment, allow_duplicate, is_demo, keep_files, review_state, pictures)
        else:
            found = store.find_duplicates(analysis.result.files)
            same = [d for d in found if d.get("test") == analysis.spec.key]
            if same and not allow_duplicate:
                d = same[0]
                raise DuplicateUploadError(d["upload"], d["session_id"], d["acquired_at"])
            # files held by another test's session only (one series, several measures) are no duplicate here
            session_id = _save(store, analysis, operator, comment, allow_duplicate or bool(found), is_demo, keep_files,
                               review_state, pictures)
        if then is not None:
            then(session_id)
    # E-mail alerts (out of tolerance, control signal) once the session is stored; a mail never fails the store.
    from qc.alerts import after_store

    after_store(store, session_id, is_demo=is_demo)
    return session_id


def _save(store: Store, analysis: Analysis, operator: str, comment: str, allow_duplicate: bool, is_demo: bool,
          keep_files: bool, review_state: str, pictures: list) -> int:
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
        cax_calibration_id=analysis.cax_calibration_id,
        baseline_id=analysis.baseline_id,
        judged=analysis.judged,
        pictures=pictures,
        app_version=APP_VERSION,
    )


def set_baseline(store: Store, analysis: Analysis, session_id: int, make: Callable[[AnalysisResult], dict], user: str) -> int:
    """Make a stored session the machine's baseline for this test, valid from its acquisition date
    (so that a session acquired before it is never judged against it)."""
    if analysis.machine is None:
        raise QCInputError("err.unknown_machine", machine="", known="—")
    return store.set_baseline(
        analysis.machine["id"], analysis.spec.key, make(analysis.result), session_id, user, valid_from=analysis.result.acquired_at
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
    earlier: dict[str, list[tuple[dt.datetime, float]]] | None = None,
) -> Analysis:
    """Check typed values of a logged test and judge them (rates use the machine's earlier readings).

    `earlier`: readings not stored yet that precede this one (an import's earlier rows, see
    `qc.intake.history_import`), added to the stored ones a rate is taken of."""
    from qc.records.logged import rate_history

    if acquired_at is None:
        raise QCInputError("err.no_acquisition_date")
    test = spec.definition
    history = rate_history(store, test, machine["id"], acquired_at)
    for name, readings in (earlier or {}).items():
        # A row of the file that is already stored (a re-imported spreadsheet that grew) is one reading,
        # not two: counted twice it would halve the span of the last-n slope.
        stored = history.get(name, [])
        known = {(when, float(v)) for when, v in stored}
        fresh = list(dict.fromkeys((when, float(v)) for when, v in readings if (when, float(v)) not in known))
        history[name] = sorted(stored + fresh, key=lambda r: r[0])
    result = test.evaluate(values, acquired_at=acquired_at, comments=comments, history=history, lang=lang)
    result.acquired_at_source = result.acquired_at_source or USER_DATE
    return judge(store, spec, result, machine, lang)


def stored_inputs(store: Store, session: dict) -> list[tuple[str, bytes]]:
    """The input files a stored session was analysed from, read back from the data folder; refuses in one
    sentence when they were not kept (a demo session, a session stored without its files) or are gone."""
    inputs = []
    for f in session["files"]:
        data = store.file_bytes(f["stored_path"] or "")
        if data is None:
            raise QCInputError("record.err.files_not_kept", session=session["id"])
        inputs.append((f["filename"], data))
    if not inputs:
        raise QCInputError("record.err.files_not_kept", session=session["id"])
    return inputs


def reanalyse(store: Store, session_id: int, lang: str = "fr") -> Analysis:
    """« Réanalyser »: the stored input files of a session analysed again with the current analyser and the
    rules in force on its acquisition date (a date the user gave is given again). Nothing is stored: the
    physicist compares old and new (`Analysis.result.analyser_version` against the stored one) and only
    then `replace_with_reanalysis`."""
    from qc.registry import get_test

    s = store.session(session_id)
    spec = get_test(s["test"], store)
    given = dt.datetime.fromisoformat(s["acquired_at"]) if s.get("acquired_at_source") == USER_DATE else None
    return analyse(store, spec, stored_inputs(store, s), store.machine(s["machine_id"]), lang, acquired_at=given)


def replace_with_reanalysis(store: Store, session_id: int, analysis: Analysis, user: str, lang: str = "fr") -> int:
    """Store the re-analysis of `session_id` and void the original with the reason « réanalysé », in one write:
    both happen or neither. The original stays (as every voided session), the new session names it."""
    if not user.strip():
        raise QCInputError("ui.operator_required")
    from qc.record import VersionText

    old = store.session(session_id)
    if old["voided"]:
        raise QCInputError("record.err.already_voided", session=session_id)
    with store.write():
        new_id = store_analysis(
            store, analysis, operator=old["operator"] or user, allow_duplicate=True,
            comment=t("record.reanalysis_comment", lang, session=session_id, version=VersionText(old["analyser_version"]), user=user),
        )
        store.void_session(session_id, t("record.reanalysed_reason", lang, session=new_id), user)
    return new_id
