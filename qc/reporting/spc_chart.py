"""The control chart (Altair, the style of `qc.reporting.trends`): individuals with centre line, ±3 sigma
control limits and ±2 sigma warning lines over the phase, the baseline period shaded, the tolerance band
as green lines, points that fired a rule in red with the rule in words in the tooltip, machine events as
dashed lines; the moving-range chart under it."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from qc.i18n import t
from qc.reporting.spc import SpcResult
from qc.reporting.trends import _events_layer

POINT_COLOURS = {"signal": "#c62828", "ok": "#1f77b4", "before": "#9e9e9e"}


def control_frame(res: SpcResult, df: pd.DataFrame | None, lang: str) -> pd.DataFrame:
    """One row per result: date, value, the limits over the phase (NaN before it), its moving range, rules fired."""
    n = len(res.values)
    data = pd.DataFrame({"acquired_at": pd.to_datetime(res.dates).reset_index(drop=True), "value": res.values})
    in_phase = np.arange(n) >= res.phase_start
    lim = res.limits
    for col, v in (("centre", lim.centre if lim else None), ("ucl", lim.ucl if lim else None), ("lcl", lim.lcl if lim else None),
                   ("u2", lim.centre + 2 * lim.sigma if lim else None), ("l2", lim.centre - 2 * lim.sigma if lim else None)):
        data[col] = np.where(in_phase, v, np.nan) if v is not None else np.nan
    mr = np.r_[np.nan, np.abs(np.diff(res.values))]
    mr[: res.phase_start + 1] = np.nan
    data["mr"] = mr
    data["mr_ucl"] = np.where(in_phase, lim.mr_ucl, np.nan) if lim else np.nan
    data["rules"] = [", ".join(t("spc.rule." + r, lang) for r in res.flags.get(i, [])) for i in range(n)]
    data["kind"] = ["signal" if res.flags.get(i) else ("ok" if in_phase[i] and lim else "before") for i in range(n)]
    if df is not None and len(df) == n:
        d = df.sort_values("acquired_at", kind="stable").reset_index(drop=True)
        for col in ("tol_low", "tol_high"):
            data[col] = d[col].to_numpy(float)
        data["session_id"] = d["session_id"].to_numpy()
    return data


def control_chart(res: SpcResult, df: pd.DataFrame | None, title: str, unit: str, lang: str = "fr", width: int = 640,
                  height: int = 220, events=None, interactive: bool = True) -> alt.VConcatChart:
    """Individuals chart over the moving-range chart, one figure of a fixed width (a PDF, a PNG)."""
    return alt.vconcat(*control_charts(res, df, title, unit, lang, width, height, events, interactive))


def control_charts(res: SpcResult, df: pd.DataFrame | None, title: str, unit: str, lang: str = "fr", width: int | str = "container",
                   height: int = 220, events=None, interactive: bool = True) -> tuple[alt.LayerChart, alt.LayerChart]:
    """(individuals chart, moving-range chart) of one series analysed by `qc.reporting.spc.analyse_frame`: two charts,
    so that each fills the page's width (a "container" width inside a vconcat overflows it)."""
    data = control_frame(res, df, lang)
    x = alt.X("acquired_at:T", title=t("chart.date", lang), axis=alt.Axis(format="%d/%m/%y", labelAngle=0))
    base = alt.Chart()
    layers = []
    b = res.baseline
    if b is not None:
        shade = pd.DataFrame({"a": [b.start], "b": [b.end], "label": [t("spc.chart.baseline", lang)]})
        layers.append(alt.Chart(shade).mark_rect(color="#90a4ae", opacity=0.15).encode(
            x=alt.X("a:T"), x2=alt.X2("b:T"), tooltip=[alt.Tooltip("label:N", title=t("spc.chart.baseline", lang))]))
    if "tol_low" in data and (data["tol_low"].notna().any() or data["tol_high"].notna().any()):
        if data["tol_low"].notna().any():
            layers.append(base.mark_line(interpolate="step-after", color="#66bb6a", strokeWidth=2).encode(x=x, y=alt.Y("tol_low:Q")))
        if data["tol_high"].notna().any():
            layers.append(base.mark_line(interpolate="step-after", color="#66bb6a", strokeWidth=2).encode(x=x, y=alt.Y("tol_high:Q")))
    y_title = unit or t("chart.value", lang)
    layers.append(base.mark_line(color="#1f77b4", opacity=0.6).encode(x=x, y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False))))
    if res.limits is not None:
        layers.append(base.mark_line(color="#37474f").encode(x=x, y=alt.Y("centre:Q")))
        for col in ("ucl", "lcl"):
            layers.append(base.mark_line(color="#c62828", strokeDash=[6, 3]).encode(x=x, y=alt.Y(f"{col}:Q")))
        for col in ("u2", "l2"):
            layers.append(base.mark_line(color="#ef9a9a", strokeDash=[2, 3]).encode(x=x, y=alt.Y(f"{col}:Q")))
    tooltip = [alt.Tooltip("acquired_at:T", title=t("chart.date", lang), format="%Y-%m-%d %H:%M"),
               alt.Tooltip("value:Q", title=t("chart.value", lang), format=".4g"),
               alt.Tooltip("rules:N", title=t("spc.chart.rules", lang))]
    layers.append(base.mark_point(filled=True, size=55, opacity=1).encode(
        x=x, y=alt.Y("value:Q"), tooltip=tooltip,
        color=alt.Color("kind:N", scale=alt.Scale(domain=list(POINT_COLOURS), range=list(POINT_COLOURS.values())), legend=None)))
    ev = _events_layer(events, lang, (data["acquired_at"].min() - pd.Timedelta(days=45), data["acquired_at"].max() + pd.Timedelta(days=1)))
    if ev is not None:
        layers.insert(len(layers) - 1, ev)
    top = alt.layer(*layers, data=data).properties(title=title, width=width, height=height)
    mr_layers = [base.mark_line(color="#1f77b4", point=alt.OverlayMarkDef(size=20)).encode(
        x=x, y=alt.Y("mr:Q", title=t("spc.chart.mr", lang)), tooltip=[alt.Tooltip("acquired_at:T", format="%Y-%m-%d"),
                                                                     alt.Tooltip("mr:Q", title=t("spc.chart.mr", lang), format=".3g")])]
    if res.limits is not None:
        mr_layers.append(base.mark_line(color="#c62828", strokeDash=[6, 3]).encode(x=x, y=alt.Y("mr_ucl:Q")))
    bottom = alt.layer(*mr_layers, data=data).properties(width=width, height=max(90, height // 2))
    if interactive:
        top = top.interactive(bind_y=False)
    return top, bottom
