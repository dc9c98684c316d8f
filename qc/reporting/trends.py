"""Trend charts (Altair) and the drift signal, shared by the History page and the PDF reports.

Owns: the per-metric trend chart (values over acquisition date, the tolerance and action bands as
they were on each date drawn as steps from the limits stored with each result, points coloured by
status, tooltips with operator, comment and session, zoom/pan on dates), small multiples of several
metrics, and the drift signal: the least-squares slope over the last N results projected forward,
flagged when it reaches a limit within the horizon. Machine events (service, upgrade, recalibration,
MLC change; `Store.events`) are drawn as dashed vertical lines on every chart, and the drift signal
only uses the results after the latest event (an upgrade can shift a series: a one-year Unity SPC
study saw the MR-to-MV offsets move after upgrades).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from qc.i18n import t

if TYPE_CHECKING:
    import altair as alt

STATUS_COLOURS = {"pass": "#2e7d32", "warning": "#f9a825", "fail": "#c62828", "none": "#607d8b"}


@dataclass(frozen=True)
class DriftSignal:
    """Slope of the last `n` results and whether, continued, it leaves the tolerance within the horizon."""

    n: int
    slope_per_30d: float
    projected_value: float
    horizon_days: int
    reaches_limit: bool
    limit: float | None
    days_to_limit: float | None


def drift_signal(df: pd.DataFrame, last_n: int = 8, horizon_days: int = 30, events=None) -> DriftSignal | None:
    """Least-squares slope over the last `last_n` values of one series (columns acquired_at, value,
    tol_low, tol_high as stored); None with fewer than 4 points. The limit used is the latest
    tolerance bound the line is heading to. With `events` (dates, or a frame with `occurred_at`),
    only the results after the latest event are used: the signal restarts after a service."""
    s = df.dropna(subset=["value"]).sort_values("acquired_at")
    restart = last_event_before(events, s["acquired_at"].max() if len(s) else None)
    if restart is not None:
        s = s[pd.to_datetime(s["acquired_at"]) > restart]
    s = s.tail(last_n)
    if len(s) < 4:
        return None
    days = (s["acquired_at"] - s["acquired_at"].iloc[0]).dt.total_seconds().to_numpy() / 86400.0
    if np.ptp(days) <= 0:
        return None
    slope, intercept = np.polyfit(days, s["value"].to_numpy(float), 1)
    last_day = days[-1]
    projected = float(intercept + slope * (last_day + horizon_days))
    last = s.iloc[-1]
    limit = last["tol_high"] if slope > 0 else last["tol_low"]
    limit = None if limit is None or pd.isna(limit) else float(limit)
    reaches, days_to = False, None
    if limit is not None and slope != 0:
        current = float(intercept + slope * last_day)
        days_to = (limit - current) / slope
        if days_to < 0:
            days_to = 0.0
        reaches = days_to <= horizon_days
    return DriftSignal(len(s), float(slope * 30.0), projected, horizon_days, reaches, limit, days_to)


def band_in_force(result, metric: str) -> tuple[float | None, float | None, float | None, float | None] | None:
    """The limits (act_low, tol_low, tol_high, act_high) that judged `metric` in this analysed result:
    the tolerance in force on its acquisition date, as the pipeline judged it (None when not judged)."""
    bounds = (getattr(result, "extra", None) or {}).get("bounds_in_force", {})
    for (name, _item), b in bounds.items():
        if name == metric and b is not None:
            return tuple(b)  # type: ignore[return-value]
    return None


def band_layers(result, metric: str) -> list[alt.Chart]:
    """Horizontal bands for one analysed result: tolerance (green) inside action (amber), from the
    limits in force on its acquisition date (`band_in_force`); none when the metric was not judged."""
    import altair as alt

    b = band_in_force(result, metric)
    layers: list[alt.Chart] = []
    if b is None:
        return layers
    act_low, tol_low, tol_high, act_high = b
    for lo, hi, colour, opacity in ((act_low, act_high, "#f9a825", 0.15), (tol_low, tol_high, "#66bb6a", 0.2)):
        if lo is not None and hi is not None:
            band = pd.DataFrame({"lo": [lo], "hi": [hi]})
            layers.append(alt.Chart(band).mark_rect(opacity=opacity, color=colour).encode(y=alt.Y("lo:Q"), y2=alt.Y2("hi:Q")))
    return layers


def event_dates(events) -> list[pd.Timestamp]:
    """Event dates from a `Store.events` frame, a list of dates, or None."""
    if events is None:
        return []
    if isinstance(events, pd.DataFrame):
        if events.empty or "occurred_at" not in events:
            return []
        return sorted(pd.to_datetime(events["occurred_at"]).tolist())
    return sorted(pd.Timestamp(e) for e in events)


def last_event_before(events, when) -> pd.Timestamp | None:
    """The latest event at or before `when` (None when there is none)."""
    if when is None or pd.isna(when):
        return None
    before = [e for e in event_dates(events) if e <= pd.Timestamp(when)]
    return before[-1] if before else None


def _events_layer(events, lang: str, date_range: tuple | None):
    """Dashed purple vertical rules with the event type in the tooltip (and a small marker on top)."""
    import altair as alt

    if events is None or not isinstance(events, pd.DataFrame) or events.empty:
        dates = event_dates(events)
        if not dates:
            return None
        ev = pd.DataFrame({"occurred_at": dates, "kind": ["other"] * len(dates), "note": [""] * len(dates)})
    else:
        ev = events.copy()
    ev["acquired_at"] = pd.to_datetime(ev["occurred_at"])
    if date_range is not None:
        lo, hi = date_range
        ev = ev[(ev["acquired_at"] >= lo) & (ev["acquired_at"] <= hi)]
    if ev.empty:
        return None
    data = pd.DataFrame({
        "acquired_at": ev["acquired_at"],
        "event": ev["kind"].map(lambda k: t(f"event.kind.{k}", lang)),
        "note": ev["note"].fillna("").astype(str),
    })
    x = alt.X("acquired_at:T")
    tip = [alt.Tooltip("acquired_at:T", title=t("chart.date", lang), format="%Y-%m-%d"),
           alt.Tooltip("event:N", title=t("event.chart.label", lang)), alt.Tooltip("note:N", title=t("event.col.note", lang))]
    rule = alt.Chart(data).mark_rule(color="#6a1b9a", strokeDash=[6, 3], strokeWidth=1.6).encode(x=x, tooltip=tip)
    mark = alt.Chart(data).mark_point(shape="triangle-down", color="#6a1b9a", filled=True, size=70, opacity=1).encode(
        x=x, y=alt.value(4), tooltip=tip)
    return rule + mark


def trend_chart(
    df: pd.DataFrame,
    title: str,
    unit: str,
    lang: str = "fr",
    width: int | str = "container",
    height: int = 220,
    link_base: str | None = "history",
    interactive: bool = True,
    events=None,
) -> alt.LayerChart:
    """One metric series: tolerance band (green), action band (amber) as steps, line and status points,
    and the machine events (`events`, a `Store.events` frame) inside the series' dates as dashed lines.

    `df` has the columns of `Store.metrics_frame` for a single (test, metric, item).
    """
    import altair as alt  # imported when a chart is drawn: the PDF report and the CLI do not need it

    d = df.sort_values("acquired_at")
    vmin, vmax = d["value"].min(), d["value"].max()
    pad_low, pad_high = vmin - abs(vmin) * 0.1 - 1, vmax + abs(vmax) * 0.1 + 1
    if not (vmin < 0) and d["act_low"].isna().all() and d["tol_low"].isna().all():
        # A magnitude (|max|, SD, count: better lower, never negative) has no lower limit: its
        # bands start at 0, not below it.
        pad_low = 0.0
    labels = {s: t(f"status.{s}", lang) for s in d["status"].unique()}
    # One dataset with only the columns drawn, shared by every layer: Altair sanitises, inlines and
    # validates each layer's own DataFrame, so 3 frames of ~20 columns made to_dict/to_json 3-5x slower
    # (bench/bench_history.py, bench/bench_report.py).
    data = pd.DataFrame({
        "acquired_at": pd.to_datetime(d["acquired_at"]),
        "value": d["value"],
        "status": d["status"],
        "status_label": d["status"].map(labels),
        "operator": d["operator"].fillna(""),
        "comment": d["comment"].fillna(""),
        "session_id": d["session_id"],
    })
    if link_base:
        data["link"] = link_base + "?session=" + d["session_id"].astype(int).astype(str)
    has_act = bool(d["act_low"].notna().any() or d["act_high"].notna().any())
    has_tol = bool(d["tol_low"].notna().any() or d["tol_high"].notna().any())
    has_nominal = bool(d["nominal"].notna().any())
    if has_act:
        data["act_lo"], data["act_hi"] = d["act_low"].fillna(pad_low), d["act_high"].fillna(pad_high)
    if has_tol:
        data["tol_lo"], data["tol_hi"] = d["tol_low"].fillna(pad_low), d["tol_high"].fillna(pad_high)
    if has_nominal:
        data["nominal"] = d["nominal"]
    # Numeric dates: Vega's month and weekday names are English only.
    x = alt.X("acquired_at:T", title=t("chart.date", lang), axis=alt.Axis(format="%d/%m/%y", labelAngle=0))
    # The chart title names the measure; the axis only gives the unit (long axis titles stretch the chart).
    y_title = unit or t("chart.value", lang)
    # Channel objects, not "field:Q" strings: Altair 6 turns each string into a channel through
    # from_dict, which rebuilds its schema lookup every time (~4 ms a channel).
    base = alt.Chart()
    layers = []
    if has_act:
        layers.append(base.mark_area(interpolate="step-after", opacity=0.18, color="#f9a825").encode(x=x, y=alt.Y("act_lo:Q"), y2=alt.Y2("act_hi:Q")))
    if has_tol:
        layers.append(base.mark_area(interpolate="step-after", opacity=0.25, color="#66bb6a").encode(x=x, y=alt.Y("tol_lo:Q"), y2=alt.Y2("tol_hi:Q")))
    if has_nominal:
        layers.append(base.mark_line(interpolate="step-after", strokeDash=[4, 3], color="#455a64").encode(x=x, y=alt.Y("nominal:Q")))
    layers.append(base.mark_line(color="#1f77b4").encode(x=x, y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False))))
    tooltip = [
        alt.Tooltip("acquired_at:T", title=t("chart.date", lang), format="%Y-%m-%d %H:%M"),
        alt.Tooltip("value:Q", title=t("chart.value", lang), format=".4g"),
        alt.Tooltip("status_label:N", title=t("chart.status", lang)),
        alt.Tooltip("operator:N", title=t("chart.operator", lang)),
        alt.Tooltip("comment:N", title=t("chart.comment", lang)),
        alt.Tooltip("session_id:Q", title=t("chart.session", lang)),
    ]
    point_enc = dict(
        x=x,
        y=alt.Y("value:Q"),
        color=alt.Color(
            "status:N",
            scale=alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values())),
            legend=None,
        ),
        tooltip=tooltip,
    )
    if link_base:
        point_enc["href"] = alt.Href("link:N")
    layers.append(base.mark_point(filled=True, size=60, opacity=1).encode(**point_enc))
    ev_layer = _events_layer(events, lang, (data["acquired_at"].min() - pd.Timedelta(days=45), data["acquired_at"].max() + pd.Timedelta(days=1)))
    if ev_layer is not None:
        layers.insert(len(layers) - 1, ev_layer)  # under the points (the last layer stays the points)
    chart = alt.layer(*layers, data=data).properties(title=title, width=width, height=height)
    # Zoom/pan on dates; off in grids (one shared selection name per chart would clash).
    return chart.interactive(bind_y=False) if interactive else chart


def series_label(spec, metric: str, item: str, lang: str) -> tuple[str, str]:
    """Title and unit of a (metric, item) series, from the test's metric spec when known."""
    m = spec.metric(metric) if spec is not None else None
    label = m.label(lang) if m else metric
    if m is not None and m.better:
        label += " " + t(f"chart.better_{m.better}", lang)
    if item:
        label = f"{label} — {item}"
    return label, (m.unit if m else "")


def small_multiples(df: pd.DataFrame, spec, lang: str = "fr", columns: int = 2, max_series: int = 12, width: int = 330, events=None) -> alt.ConcatChart | None:
    """Several (metric, item) series of one test, as a grid of trend charts (with the machine events)."""
    import altair as alt

    charts = []
    for (metric, item), g in list(df.groupby(["metric", "item"], sort=False))[:max_series]:
        title, unit = series_label(spec, metric, item, lang)
        charts.append(trend_chart(g, title, unit, lang, width=width, height=160, interactive=False, events=events))
    if not charts:
        return None
    # One wrapped concat, not hconcat rows in a vconcat: each nesting level copies every subchart.
    return alt.concat(*charts, columns=columns)


def chart_png(chart: alt.TopLevelMixin, scale: float = 2.0) -> bytes:
    """Render a chart to PNG without a browser (vl-convert), for the PDF reports."""
    import vl_convert as vlc

    # The charts are built by trend_chart and validated by the tests; skipping validation saves time per chart.
    return vlc.vegalite_to_png(chart.to_json(validate=False), scale=scale)
