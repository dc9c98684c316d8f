"""The monthly report's trend charts drawn by fpdf2 itself, as vectors: the same content as
`qc.reporting.trends.trend_chart` (the tolerance band in green inside the action band in amber, as steps
from the limits stored with each result; the nominal as a dashed step line; the values as a line with one
point per result coloured by its stored status; the machine events as dashed purple rules with a marker)
with date and value axes and a light grid.

Why not the Altair chart through vl-convert: each PNG cost about 0.1 s of CPU to render, the JavaScript
engine 0.6 s to start and Altair 1.3 s to import, most of a cold report (docs/speed.md); vector lines
also print sharp at any zoom. The History page keeps the interactive Altair charts.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from qc.i18n import t
from qc.reporting.trends import event_dates

STATUS_RGB = {"pass": (46, 125, 50), "warning": (249, 168, 37), "fail": (198, 40, 40), "none": (96, 125, 139)}  # trends.STATUS_COLOURS
ACTION_RGB, TOLERANCE_RGB = (249, 168, 37), (102, 187, 106)
LINE_RGB, NOMINAL_RGB, EVENT_RGB, GRID_RGB, AXIS_RGB, TEXT_RGB = (31, 119, 180), (69, 90, 100), (106, 27, 154), (221, 221, 221), (136, 136, 136), (60, 60, 60)
POINT_RADIUS_MM = 1.1
TICK_PT, TITLE_PT = 7.5, 8  # printed sizes of the tick labels and of the axis titles
EVENT_WINDOW_BEFORE = pd.Timedelta(days=45)  # events this long before the first result are still drawn (as on the History page)


def nice_step(span: float, count: int) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about `count` intervals over `span` (d3's tickStep)."""
    raw = span / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    error = raw / power
    return power * (10 if error >= math.sqrt(50) else 5 if error >= math.sqrt(10) else 2 if error >= math.sqrt(2) else 1)


def value_axis(low: float, high: float, count: int = 4) -> tuple[float, float, list[float]]:
    """(domain low, domain high, ticks): the data range widened to whole tick steps ("nice", as Vega draws it)."""
    if not high > low:
        low, high = low - 1, high + 1  # one value everywhere: a unit either side
    step = nice_step(high - low, count)
    lo, hi = math.floor(low / step) * step, math.ceil(high / step) * step
    ticks = [lo + i * step for i in range(int(round((hi - lo) / step)) + 1)]
    return lo, hi, ticks


def tick_text(v: float, step: float, lang: str) -> str:
    """A tick label with the decimals its step needs (0.5 → « 0,5 » in French, every label of an axis alike)."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    text = f"{v:.{decimals}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace(".", ",") if lang == "fr" else text


DAY_STEPS = (1, 2, 7, 14)
MONTH_STEPS = (1, 2, 3, 6, 12)


def date_ticks(start: pd.Timestamp, end: pd.Timestamp, most: int = 8) -> list[pd.Timestamp]:
    """Midnights between `start` and `end`: every 1 or 2 days (days of the month 1, 3, 5…), every week or two
    (Mondays), or on the first of every 1, 2, 3, 6 or 12 months; the finest step with at most `most` ticks."""
    days = pd.date_range(start.normalize(), end.normalize(), freq="D")
    days = days[(days >= start) & (days <= end)]
    for step in DAY_STEPS:
        if step < 7:
            picked = [d for d in days if (d.day - 1) % step == 0]
        else:
            mondays = [d for d in days if d.weekday() == 0]
            picked = mondays[:: step // 7]
        if 0 < len(picked) <= most:
            return picked
    firsts = [d for d in days if d.day == 1]
    for step in MONTH_STEPS:
        picked = [d for d in firsts if (d.month - 1) % step == 0]
        if len(picked) <= most:
            return picked
    return firsts[:: max(1, len(firsts) // most)]


def _steps(xs: np.ndarray, ys: np.ndarray) -> list[tuple[float, float]]:
    """Step-after path: each value holds from its date until the next one (the last until its own date)."""
    pts: list[tuple[float, float]] = []
    for i in range(len(xs)):
        if i:
            pts.append((xs[i], ys[i - 1]))
        pts.append((xs[i], ys[i]))
    return pts


def draw_trend_chart(pdf, x0: float, y0: float, width: float, height: float, df: pd.DataFrame, unit: str, lang: str = "fr", events=None) -> None:
    """One metric series of `Store.metrics_frame` (a single test, metric and item) drawn in the box (x0, y0,
    width, height) in mm, axes included. Limits as in `trends.trend_chart`: a missing bound of a band is
    drawn at the padded edge of the data (a one-sided tolerance is a band to the chart's edge); a magnitude
    (never negative, no lower limit) starts at 0."""
    d = df.sort_values("acquired_at", kind="stable")
    when = pd.to_datetime(d["acquired_at"]).reset_index(drop=True)
    value = d["value"].to_numpy(float)
    measured = value[~np.isnan(value)]
    vmin, vmax = (float(measured.min()), float(measured.max())) if len(measured) else (0.0, 0.0)  # none measured: the bands alone
    pad_low, pad_high = vmin - abs(vmin) * 0.1 - 1, vmax + abs(vmax) * 0.1 + 1
    if not (vmin < 0) and d["act_low"].isna().all() and d["tol_low"].isna().all():
        pad_low = 0.0
    bands = []
    for lo_col, hi_col, colour, opacity in (("act_low", "act_high", ACTION_RGB, 0.18), ("tol_low", "tol_high", TOLERANCE_RGB, 0.25)):
        if d[lo_col].notna().any() or d[hi_col].notna().any():
            bands.append((d[lo_col].fillna(pad_low).to_numpy(float), d[hi_col].fillna(pad_high).to_numpy(float), colour, opacity))
    nominal = d["nominal"].to_numpy(float) if d["nominal"].notna().any() else None

    # Events drawn: those from 45 days before the first result to a day after the last.
    ev = event_dates(events)
    ev = [e for e in ev if when.min() - EVENT_WINDOW_BEFORE <= e <= when.max() + pd.Timedelta(days=1)]

    # Scales: every drawn value sets the value axis (as one Vega scale over all layers), the dates and events the time axis.
    drawn = [value[~np.isnan(value)]] + [b for lo, hi, *_ in bands for b in (lo, hi)] + ([nominal[~np.isnan(nominal)]] if nominal is not None else [])
    allv = np.concatenate(drawn) if sum(len(a) for a in drawn) else np.zeros(1)  # nothing measured nor limited: an axis around 0
    y_lo, y_hi, y_ticks = value_axis(float(np.min(allv)), float(np.max(allv)))
    t_lo, t_hi = min([when.min(), *ev]), max([when.max(), *ev])
    if t_hi <= t_lo:
        t_lo, t_hi = t_lo - pd.Timedelta(days=1), t_hi + pd.Timedelta(days=1)

    pdf.set_font("DejaVu", size=TICK_PT)
    label_w = max(pdf.get_string_width(tick_text(v, y_ticks[1] - y_ticks[0], lang)) for v in y_ticks)
    left = x0 + 5.5 + label_w + 1.5  # rotated unit title, labels, tick marks
    right, top, bottom = x0 + width - 3, y0 + 1.5, y0 + height - 9
    span_s = (t_hi - t_lo).total_seconds()

    def px(ts) -> float:
        return left + (pd.Timestamp(ts) - t_lo).total_seconds() / span_s * (right - left)

    def py(v: float) -> float:
        return bottom - (v - y_lo) / (y_hi - y_lo) * (bottom - top)

    xs = np.array([px(w) for w in when])
    step = y_ticks[1] - y_ticks[0]

    # Grid and value axis
    pdf.set_line_width(0.15)
    pdf.set_draw_color(*GRID_RGB)
    pdf.set_text_color(*TEXT_RGB)
    for v in y_ticks:
        pdf.line(left, py(v), right, py(v))
        label = tick_text(v, step, lang)
        pdf.text(left - 1.2 - pdf.get_string_width(label), py(v) + 0.8, label)
    x_ticks = date_ticks(t_lo, t_hi)
    for tick in x_ticks:
        pdf.line(px(tick), top, px(tick), bottom)
    # Bands (filled steps), the nominal (dashed step), then events, the value line and the points on top.
    for lo, hi, colour, opacity in bands:
        outline = [(x, py(v)) for x, v in _steps(xs, hi) + list(reversed(_steps(xs, lo)))]
        with pdf.local_context(fill_opacity=opacity):
            pdf.set_fill_color(*colour)
            pdf.polygon(outline, style="F")
    if nominal is not None:
        keep = ~np.isnan(nominal)
        pdf.set_draw_color(*NOMINAL_RGB)
        pdf.set_line_width(0.3)
        pdf.set_dash_pattern(dash=1.1, gap=0.8)
        pdf.polyline([(x, py(v)) for x, v in _steps(xs[keep], nominal[keep])])
        pdf.set_dash_pattern()
    for e in ev:
        pdf.set_draw_color(*EVENT_RGB)
        pdf.set_line_width(0.45)
        pdf.set_dash_pattern(dash=1.6, gap=0.8)
        pdf.line(px(e), top, px(e), bottom)
        pdf.set_dash_pattern()
        pdf.set_fill_color(*EVENT_RGB)
        pdf.polygon([(px(e) - 1.1, top), (px(e) + 1.1, top), (px(e), top + 1.6)], style="F")
    keep = ~np.isnan(value)
    pdf.set_draw_color(*LINE_RGB)
    pdf.set_line_width(0.4)
    if keep.sum() > 1:
        pdf.polyline([(x, py(v)) for x, v in zip(xs[keep], value[keep])])
    for x, v, status in zip(xs[keep], value[keep], d["status"].to_numpy(object)[keep]):
        pdf.set_fill_color(*STATUS_RGB.get(str(status), STATUS_RGB["none"]))
        pdf.circle(x, py(v), POINT_RADIUS_MM, style="F")

    # Axes: the frame, the date labels under it, the titles (unit on the left, « Date » under the labels).
    pdf.set_draw_color(*AXIS_RGB)
    pdf.set_line_width(0.2)
    pdf.line(left, bottom, right, bottom)
    pdf.line(left, top, left, bottom)
    pdf.set_font("DejaVu", size=TICK_PT)
    for tick in x_ticks:
        label = f"{tick:%d/%m/%y}"
        w = pdf.get_string_width(label)
        pdf.line(px(tick), bottom, px(tick), bottom + 0.8)
        pdf.text(min(max(px(tick) - w / 2, left - w / 2), right - w), bottom + 3.8, label)
    pdf.set_font("DejaVu", "B", TITLE_PT)
    title = t("chart.date", lang)
    pdf.text((left + right) / 2 - pdf.get_string_width(title) / 2, bottom + 7.9, title)
    y_title = unit or t("chart.value", lang)
    with pdf.rotation(90, x0 + 3, (top + bottom) / 2):
        pdf.text(x0 + 3 - pdf.get_string_width(y_title) / 2, (top + bottom) / 2, y_title)
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_font("DejaVu", size=10)
