"""Tolerance model and judgement (QATrack+'s model: act_low / tol_low / tol_high / act_high).

A value inside [tol_low, tol_high] passes; outside it but inside [act_low, act_high] it is a
warning (QATrack+'s "tolerance"); outside the action levels it fails. A missing bound is open.
`mode = "relative"` applies the bounds to value − nominal (the nominal of the measurement, e.g. the
matched field size, else the tolerance's own nominal). Tolerances are dated and never edited in
place: a change is a new row with a later `valid_from` (see `qc.records.storage`); the tolerance in force
on the acquisition date judges a result and is stored with it.

One judging rule for every face (page, CLI, storage, PDF):
- a metric that has limits and no value (not measured) FAILS: it is shown "Non mesuré"
  (`status.not_measured`) with its reason. Limits given with the value (`Measurement.limits`, e.g. a
  PIQT criterion) judge it; an empty `limits` never hides a missing value when the tolerance table
  has limits for that metric;
- a session's status is the worst of its metrics AND of its items that carry a verdict (a per-leaf
  row with "status" or "out_of_tolerance"), see `session_status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

PASS = "pass"
WARNING = "warning"
FAIL = "fail"
NO_TOLERANCE = "none"
STATUS_ORDER = {NO_TOLERANCE: 0, PASS: 1, WARNING: 2, FAIL: 3}
# Display-only status of a FAIL whose value is missing (catalogue key "status.not_measured").
NOT_MEASURED = "not_measured"


@dataclass(frozen=True)
class Tolerance:
    """Limits for one metric; `mode` is "absolute" or "relative" (to the nominal)."""

    act_low: float | None = None
    tol_low: float | None = None
    tol_high: float | None = None
    act_high: float | None = None
    nominal: float | None = None
    mode: str = "absolute"
    reference: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        lows = [v for v in (self.act_low, self.tol_low) if v is not None]
        highs = [v for v in (self.tol_high, self.act_high) if v is not None]
        if self.act_low is not None and self.tol_low is not None and self.act_low > self.tol_low:
            raise ValueError("act_low must be ≤ tol_low")
        if self.tol_high is not None and self.act_high is not None and self.tol_high > self.act_high:
            raise ValueError("tol_high must be ≤ act_high")
        if lows and highs and max(lows) > min(highs):
            raise ValueError("low limits must be ≤ high limits")
        if self.mode not in ("absolute", "relative"):
            raise ValueError("mode must be 'absolute' or 'relative'")

    @classmethod
    def symmetric(cls, tol: float, act: float | None = None, *, nominal: float | None = None, reference: str = "") -> "Tolerance":
        """± limits around the nominal (relative mode)."""
        return cls(
            act_low=-act if act is not None else None,
            tol_low=-tol,
            tol_high=tol,
            act_high=act,
            nominal=nominal,
            mode="relative",
            reference=reference,
        )

    @classmethod
    def at_least(cls, tol: float, act: float | None = None, reference: str = "") -> "Tolerance":
        """Pass at or above `tol`, warning down to `act`, fail below."""
        return cls(act_low=act if act is not None else tol, tol_low=tol, reference=reference)

    @classmethod
    def at_most(cls, tol: float, act: float | None = None, reference: str = "") -> "Tolerance":
        return cls(tol_high=tol, act_high=act if act is not None else tol, reference=reference)

    def bounds_for(self, nominal: float | None) -> tuple[float | None, float | None, float | None, float | None]:
        """The four limits as absolute values for a measurement with this nominal."""
        if self.mode == "absolute":
            return (self.act_low, self.tol_low, self.tol_high, self.act_high)
        base = nominal if nominal is not None else (self.nominal or 0.0)
        return tuple(None if v is None else base + v for v in (self.act_low, self.tol_low, self.tol_high, self.act_high))  # type: ignore[return-value]

    def as_row(self) -> dict:
        return {
            "act_low": self.act_low,
            "tol_low": self.tol_low,
            "tol_high": self.tol_high,
            "act_high": self.act_high,
            "nominal": self.nominal,
            "mode": self.mode,
            "reference": self.reference,
        }


def judge_value(
    value: float | None, bounds: tuple[float | None, float | None, float | None, float | None] | None
) -> str:
    """pass / warning / fail for a value against absolute limits; "none" when nothing applies.

    A missing value (not measurable) fails when limits exist: a QC figure that could not be
    measured must be looked at.
    """
    if bounds is None or all(b is None for b in bounds):
        return NO_TOLERANCE
    if is_missing(value):
        return FAIL
    act_low, tol_low, tol_high, act_high = bounds
    eps = 1e-9
    if (act_low is not None and value < act_low - eps) or (act_high is not None and value > act_high + eps):
        return FAIL
    if (tol_low is not None and value < tol_low - eps) or (tol_high is not None and value > tol_high + eps):
        return WARNING
    return PASS


def worst(statuses: Iterable[str]) -> str:
    """The overall status of a session: its worst judged value ("none" if nothing was judged)."""
    result = NO_TOLERANCE
    for s in statuses:
        if STATUS_ORDER.get(s, 0) > STATUS_ORDER[result]:
            result = s
    return result


def format_bounds(bounds: tuple[float | None, float | None, float | None, float | None] | None, unit: str = "") -> str:
    """Human-readable limits, e.g. "[149.0 ; 151.0] mm (action [148.5 ; 151.5])"."""
    if bounds is None or all(b is None for b in bounds):
        return "—"
    act_low, tol_low, tol_high, act_high = bounds

    def f(v: float | None) -> str:
        return "−∞" if v is None else f"{v:g}"

    def g(v: float | None) -> str:
        return "+∞" if v is None else f"{v:g}"

    text = f"[{f(tol_low)} ; {g(tol_high)}]"
    if (act_low, act_high) != (tol_low, tol_high) and (act_low is not None or act_high is not None):
        text += f" / [{f(act_low)} ; {g(act_high)}]"
    return f"{text} {unit}".strip()


@dataclass(frozen=True)
class Judged:
    """A measurement with the limits that judged it and its status (what is stored and shown)."""

    name: str
    item: str
    value: float | None
    unit: str
    nominal: float | None
    bounds: tuple[float | None, float | None, float | None, float | None] | None
    status: str
    tolerance_id: int | None
    reference: str
    reason: str = ""

    @property
    def not_measured(self) -> bool:
        """True when the metric has limits but no value: it fails and is shown "Non mesuré"."""
        return is_not_measured(self.status, self.value)

    @property
    def display_status(self) -> str:
        """The status to show: "not_measured" for a failed missing value, else the stored status."""
        return display_status(self.status, self.value)


def is_missing(value) -> bool:
    """None or NaN (of any float type: Python, numpy, pandas)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except Exception:
        return False


def is_not_measured(status: str, value) -> bool:
    return status == FAIL and is_missing(value)


def display_status(status: str, value) -> str:
    """Key suffix of the label to show for a stored (status, value): `t("status." + display_status(...))`.

    A failed metric without a value reads "Non mesuré" (`status.not_measured`), never a number or "None".
    """
    return NOT_MEASURED if is_not_measured(status, value) else status


def _empty(limits) -> bool:
    return limits is None or all(b is None for b in limits)


def _relative_to_unknown(m, tol: "Tolerance | None", missing: bool) -> bool:
    """A measured value whose analyser says its nominal is unknown (own limits all empty, e.g. the size of a field
    that is no known field), under a tolerance relative to a nominal that neither the value nor the tolerance gives:
    there is nothing to compare it with, so it is shown, not judged — the metric of its error says « Non mesuré »
    and fails. An absolute tolerance still judges such a value (empty own limits never let a value escape it)."""
    return (not missing and m.limits is not None and _empty(m.limits) and tol is not None and tol.mode == "relative"
            and m.nominal is None and tol.nominal is None)


def judge_measurements(measurements, tolerance_for) -> list[Judged]:
    """Judge each `qc.results.Measurement` with the tolerance in force for its metric (`tolerance_for(name)`, the
    dated table's, else the metric's default); when that sets no limit, with the limits the measurement carries
    as data (a PIQT value's criterion, printed in the report itself). The table thus overrides a report's
    criterion (a physicist's stricter limit, dated), and a missing value with limits either way fails
    ("Non mesuré")."""
    out = []
    for m in measurements:
        missing = is_missing(m.value)
        tol = tolerance_for(m.name)
        bounds = tol.bounds_for(m.nominal) if tol is not None else None
        tol_id = tol.id if tol is not None else None
        ref = tol.reference if tol is not None else ""
        if _empty(bounds) and not _empty(m.limits):
            bounds, tol_id, ref = tuple(m.limits), None, m.reference
        elif _relative_to_unknown(m, tol, missing):
            bounds = None
        out.append(
            Judged(
                name=m.name,
                item=m.item,
                value=m.value,
                unit=m.unit,
                nominal=m.nominal,
                bounds=bounds,  # type: ignore[arg-type]
                status=judge_value(m.value, bounds),  # type: ignore[arg-type]
                tolerance_id=tol_id,
                reference=ref,
                reason=(getattr(m, "reason", "") or m.description) if missing else "",
            )
        )
    return out


def item_status(item: dict) -> str:
    """The verdict an item row carries: its "status" (pass/warning/fail; "not_measured" fails), else "out_of_tolerance"
    (True = fail, False = pass), else "none" (the row is only informative)."""
    s = item.get("status") if isinstance(item, dict) else None
    if s == NOT_MEASURED:  # an item that could not be measured fails, as a metric without a value does
        return FAIL
    if isinstance(s, str) and s in STATUS_ORDER:
        return s
    oot = item.get("out_of_tolerance") if isinstance(item, dict) else None
    if oot is True or oot is False or type(oot).__name__ == "bool_":
        return FAIL if bool(oot) else PASS
    return NO_TOLERANCE


# An item row judged by the pipeline carries `JUDGED_BY = {"metric": <the test's metric whose dated tolerance
# judges it>, "value": <the row's column holding the value>}` (a "_" key: not a table column), and optionally
# "limits": the row's own (act_low, tol_low, tol_high, act_high) as data (a PIQT report's criterion), used when the
# tolerance in force sets none. The analyser computes the value; `judge_items` sets the row's "status" (and
# "out_of_tolerance" when the row has it).
JUDGED_BY = "_judged_by"


def judge_items(items: list[dict], tolerance_for) -> None:
    """Set the status of every item row that names its metric (`JUDGED_BY`), with `tolerance_for(metric)` (the
    tolerance in force), by the rule of the metrics: a missing value with limits is not measured (fails); a value
    against the limits of a relative tolerance is read as a deviation from the row's "nominal" (else 0)."""
    for it in items:
        rule = it.get(JUDGED_BY) if isinstance(it, dict) else None
        if not rule:
            continue
        tol = tolerance_for(rule["metric"])
        bounds = tol.bounds_for(rule.get("nominal", 0.0)) if tol is not None else None
        if _empty(bounds) and not _empty(rule.get("limits")):
            bounds = tuple(rule["limits"])
        value = it.get(rule["value"])
        status = judge_value(value, bounds)
        it["status"] = NOT_MEASURED if status == FAIL and is_missing(value) else status
        if "out_of_tolerance" in it:
            it["out_of_tolerance"] = status == FAIL


def count_items(items: list[dict], metric: str | None, status: str | tuple[str, ...]) -> int:
    """How many item rows judged by `metric` (None: by any metric) have exactly `status` (or one of a tuple of
    statuses). A not-measured row is counted only when asked for: leaves counts it apart (its own metric,
    `n_leaf_pairs_not_measured`), PIQT counts it with the failing values as its report does."""
    wanted = (status,) if isinstance(status, str) else tuple(status)
    return sum(1 for it in items if isinstance(it, dict) and (rule := it.get(JUDGED_BY))
               and (metric is None or rule.get("metric") == metric) and it.get("status") in wanted)


def session_status(judged: Iterable[Judged], items: Iterable[dict] = ()) -> str:
    """A session's status: the worst of its judged metrics and of its items that carry a verdict."""
    return worst([j.status for j in judged] + [item_status(it) for it in items or ()])
