"""MVIC Fente: centre and width of narrow MLC slits per leaf pair, against a baseline or the plan.

Owns the weekly "MVIC Fente" analyser (test key "slits", domain.md §4). Each RT Image is measured
by the shared MLC engine (`qc.mv.mlc.measure_mlc_image`, picket mode): leaf pairs found from the
image's inter-leaf pattern (not a fixed column step: the former tool stepped 29 px over a 33.2 px
pitch), the mean profile over the central 40 % of each pair, and for each slit:
- **centre** = middle of the FWHM, **width** = the FWHM, both at 50 % of the slit's own peak above
  the local leakage background on each side (pylinac's picket "fwxm" 50; domain.md §4), in mm at
  the isocentre from the calibrated CAX along the leaf travel (+ towards increasing v);
- **deviations**: centre − reference centre and width − reference width, per pair. Reference =
  the stored baseline (`ctx.baseline`, built by `baseline_from_result`; same pair, else that
  slit's baseline mean). Without a baseline: the configured nominal centre (default plan below),
  and the slit's median width in this session (the FWHM of a slit narrower than the penumbra is
  not its nominal gap, domain.md §4, so widths are judged against a baseline, never the plan);
- **relative error** = distance of the centre to the slit's fitted line across the pairs (pylinac).
Per slit (item "slit 1", "slit 2", ... in order along v, numbered through the session's images):
mean and SD of the centres, mean width, max |centre deviation|; per session: slit and pair counts,
max |centre deviation|, max |width deviation|.

Default slit plan: an ASSUMPTION (domain.md §13 Q4, the delivered plan is unknown): 5 slits of
5 mm centred at −40, −20, 0, +20, +40 mm along v (`nominal_slits_mm` = [(centre, width), ...]).
Plotting helpers for the page are kept at the end of the module.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qc.mv import mlc
from qc.intake.dicom_io import RT_IMAGE, load_images, session_identity
from qc.errors import QCInputError
from qc.mv.geometry import cax_pixel
from qc.i18n import t
from qc.registry import AnalysisContext, MetricSpec, TestSpec
from qc.results import AnalysisResult, Measurement
from qc.records.tolerances import Tolerance

KEY = "slits"
DEFAULT_SLITS_MM: tuple[tuple[float, float], ...] = ((-40.0, 5.0), (-20.0, 5.0), (0.0, 5.0), (20.0, 5.0), (40.0, 5.0))
SLIT_MAX_WIDTH_MM = 15.0  # median FWHM above this: the image holds gaps (leaf-position test), not slits
MATCH_LIMIT_MM = 5.0  # a slit farther than this from every nominal / baseline slit is not judged
NOT_JUDGED = (None, None, None, None)


def nominal_slits(ctx: AnalysisContext) -> list[tuple[float, float]]:
    return [(float(c), float(w)) for c, w in ctx.options.get("nominal_slits_mm", DEFAULT_SLITS_MM)]


def _nearest(value: float, refs: list[float], limit: float) -> int | None:
    if not refs:
        return None
    d = [abs(value - r) for r in refs]
    k = int(np.argmin(d))
    return k if d[k] <= limit else None


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


def baseline_from_result(result: AnalysisResult) -> dict:
    """The baseline structure `ctx.baseline` expects, built from a session ("use as baseline").

    {"slits": {"slit 1": {"centre_mean_mm", "width_mean_mm", "pairs": {"40": {"centre_mm", "width_mm"}, ...}}},
     "source": {...}} (pair numbers as strings: the structure is stored as JSON).
    """
    slits: dict[str, dict] = {}
    for it in result.items:
        s = slits.setdefault(it["slit"], {"pairs": {}})
        s["pairs"][str(it["pair"])] = {"centre_mm": it["centre_mm"], "width_mm": it["width_mm"]}
    for s in slits.values():
        s["centre_mean_mm"] = float(np.mean([p["centre_mm"] for p in s["pairs"].values()]))
        s["width_mean_mm"] = float(np.mean([p["width_mm"] for p in s["pairs"].values()]))
    return {
        "slits": slits,
        "source": {
            "acquired_at": result.acquired_at.isoformat() if result.acquired_at else None,
            "files": [f.filename for f in result.files],
            "analyser_version": result.analyser_version,
        },
    }


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """Analyse an 'MVIC Fente' session (see the module docstring)."""
    lang = ctx.lang
    images = load_images(inputs, RT_IMAGE, SPEC_NAME.get(lang, SPEC_NAME["fr"]), lang)
    pitch = float(ctx.options.get("leaf_pitch_mm", mlc.UNITY_LEAF_PITCH_MM))
    pair1_low = str(ctx.options.get("pair1_side", "-")) != "+"
    nominal = nominal_slits(ctx)
    baseline = (ctx.baseline or {}).get("slits") if isinstance(ctx.baseline, dict) else None
    warnings: list[str] = []
    if not baseline:
        warnings.append(t("slits.warn.no_baseline", lang))
    items: list[dict[str, Any]] = []
    overlays: list[tuple[str, np.ndarray]] = []
    cax_used: dict[str, dict] = {}
    slit_info: list[dict[str, Any]] = []
    n_slit = 0
    for idx, im in enumerate(images, start=1):
        name = im.file.filename
        warnings.extend(im.warnings)
        cax, w = cax_pixel(im, ctx)
        if w:
            warnings.append(w)
        if im.gantry_angle_deg is not None and min(abs(im.gantry_angle_deg), abs(im.gantry_angle_deg - 360)) > 1.0:
            warnings.append(t("mlc.warn.gantry", lang, file=name, angle=im.gantry_angle_deg))
        m = mlc.measure_mlc_image(im, cax, lang, pitch, pair1_low, mode="picket")
        widths = m.width_mm[np.isfinite(m.width_mm)]
        if len(widths) and float(np.median(widths)) > SLIT_MAX_WIDTH_MM:
            raise QCInputError("err.wrong_image", file=name, reason=t("mlc.reason.not_slits", lang, width=float(np.median(widths)), limit=SLIT_MAX_WIDTH_MM))
        warnings.extend(m.warnings)
        cax_used[name] = {"u0": cax.u0, "v0": cax.v0, "source": cax.source, "calibration_id": cax.calibration_id}
        pts = []
        for j in range(m.n_groups):
            n_slit += 1
            label = f"slit {n_slit}"
            c, wd = m.centre_mm[:, j], m.width_mm[:, j]
            good = np.isfinite(c)
            c_med = float(np.median(c[good]))
            k_nom = _nearest(c_med, [n[0] for n in nominal], MATCH_LIMIT_MM)
            bl = None
            if baseline:
                bl = baseline.get(label)
                if bl is None or abs(bl.get("centre_mean_mm", 1e9) - c_med) > MATCH_LIMIT_MM:
                    keys = list(baseline)
                    kb = _nearest(c_med, [baseline[k]["centre_mean_mm"] for k in keys], MATCH_LIMIT_MM)
                    bl = baseline[keys[kb]] if kb is not None else None
            if bl is None and k_nom is None:
                warnings.append(t("slits.warn.unmatched", lang, file=name, centre=c_med, limit=MATCH_LIMIT_MM))
            rel, _ = mlc.relative_errors(m.p_mm, c)
            w_med = float(np.median(wd[good]))
            ref_c_slit = bl["centre_mean_mm"] if bl else (nominal[k_nom][0] if k_nom is not None else None)
            ref_w_slit = bl["width_mean_mm"] if bl else w_med
            c_dev = np.full(len(c), np.nan)
            w_dev = np.full(len(c), np.nan)
            for i, pair in enumerate(m.pairs.numbers):
                if not good[i]:
                    continue
                bp = (bl or {}).get("pairs", {}).get(str(int(pair))) if bl else None
                ref_c = bp["centre_mm"] if bp else ref_c_slit
                ref_w = bp["width_mm"] if bp else ref_w_slit
                c_dev[i] = c[i] - ref_c if ref_c is not None else np.nan
                w_dev[i] = wd[i] - ref_w
                items.append({
                    "image": idx, "file": name, "slit": label, "pair": int(pair), "p_mm": _r(m.p_mm[i]),
                    "centre_mm": _r(c[i]), "width_mm": _r(wd[i]),
                    "reference_centre_mm": _r(ref_c), "reference_width_mm": _r(ref_w),
                    "centre_dev_mm": _r(c_dev[i]), "width_dev_mm": _r(w_dev[i]), "relative_error_mm": _r(rel[i]),
                    "peak": _r(m.peak[i, j], 1),
                })
            pts.append((c, m.p_mm, np.where(np.isfinite(c_dev), c_dev, rel)))
            slit_info.append({
                "slit": label, "image": idx, "file": name, "n_pairs": int(good.sum()),
                "centre_mean_mm": float(np.mean(c[good])), "centre_sd_mm": float(np.std(c[good], ddof=1)) if good.sum() > 1 else None,
                "width_mean_mm": float(np.mean(wd[good])),
                "max_abs_dev_mm": float(np.nanmax(np.abs(c_dev))) if np.isfinite(c_dev).any() else None,
                "max_abs_width_dev_mm": float(np.nanmax(np.abs(w_dev))) if np.isfinite(w_dev).any() else None,
                "reference_centre_mm": ref_c_slit, "reference_width_mm": ref_w_slit if bl else None,
                "nominal": list(nominal[k_nom]) if k_nom is not None else None, "reference": "baseline" if bl else "nominal",
            })
        overlays.append((t("mlc.overlay.title", lang, label=f"{idx}", file=name), mlc.overlay_rgb(im, m, pts, scale_mm=1.0)))

    expected = len(nominal) * len(images) if not baseline else len(baseline) * len(images)
    if n_slit != expected:
        warnings.append(t("slits.warn.count", lang, n=n_slit, expected=expected))

    measurements: list[Measurement] = []

    def metric(name: str, value, item: str = "", nominal_value: float | None = None, judged: bool = True) -> None:
        spec = SPEC_METRICS[name]
        v = None if value is None or (isinstance(value, float) and not math.isfinite(value)) else float(value)
        measurements.append(Measurement(name, v, spec.unit, item=item, description=spec.label(lang), nominal=nominal_value,
                                        limits=None if judged and v is not None else NOT_JUDGED))

    for s in slit_info:
        metric("slit_centre_mean_mm", s["centre_mean_mm"], s["slit"], s["reference_centre_mm"], s["reference_centre_mm"] is not None)
        metric("slit_centre_sd_mm", s["centre_sd_mm"], s["slit"])
        metric("slit_width_mean_mm", s["width_mean_mm"], s["slit"], s["reference_width_mm"], s["reference_width_mm"] is not None)
        metric("slit_max_abs_dev_mm", s["max_abs_dev_mm"], s["slit"])
    c_devs = [abs(it["centre_dev_mm"]) for it in items if it["centre_dev_mm"] is not None]
    w_devs = [abs(it["width_dev_mm"]) for it in items if it["width_dev_mm"] is not None]
    metric("n_slits", n_slit)
    metric("n_leaf_pairs", len({it["pair"] for it in items}))
    metric("max_abs_centre_dev_mm", max(c_devs) if c_devs else None)
    metric("max_abs_width_dev_mm", max(w_devs) if w_devs else None)

    return AnalysisResult(
        test=KEY,
        measurements=measurements,
        items=items,
        warnings=warnings,
        **session_identity(images),
        overlays=overlays,
        extra={
            "slits": slit_info,
            "errors": errors_frame(items),
        },
        params={
            "slit_definition": "centre of the FWHM and FWHM at 50 % of the slit's own peak above the local leakage background on each side, "
            "mean profile over the central 40 % of each leaf pair (pylinac fwxm 50; domain.md §4)",
            "reference": "baseline" if baseline else "nominal centre; session median width",
            "nominal_slits_mm": [list(n) for n in nominal],
            "nominal_is_assumption": "default plan 5 × 5 mm at −40, −20, 0, +20, +40 mm (domain.md §13 Q4)",
            "position_convention": "mm at isocentre from the calibrated CAX along the leaf travel, + towards increasing v (rows)",
            "pair_convention": f"Unity: junction nearest the CAX = 40|41, pair 1 on the {'-' if pair1_low else '+'}u side (assumption, domain.md §13 Q5)",
            "max_abs_dev_definition": "slit_max_abs_dev_mm = max over pairs of |centre − reference centre|",
            "cax": cax_used,
        },
    )


def errors_frame(items: list[dict[str, Any]]):
    """The chart table (image, slit, pair, centre_dev_mm, width_mm, width_dev_mm, relative_error_mm) from item rows."""
    import pandas as pd

    cols = ["image", "slit", "pair", "centre_dev_mm", "width_mm", "width_dev_mm", "relative_error_mm"]
    return pd.DataFrame([{c: it.get(c) for c in cols} for it in items], columns=cols)



# ---------------------------------------------------------------- spec

SPEC_NAME = {"fr": "MVIC Fente", "en": "MVIC slit"}
REF = "pylinac picket fence 0,5 mm (domain.md §4, §12.1); TG-142 1 mm; Unity ≤ 1 mm (PMC8504604)"
_METRICS = (
    MetricSpec("slit_centre_mean_mm", "mm", "Centre moyen de la fente", "Mean slit centre",
               Tolerance.symmetric(0.5, 1.0, reference=f"{REF}; par rapport à la référence ou au plan")),
    MetricSpec("slit_centre_sd_mm", "mm", "Écart-type des centres", "SD of slit centres",
               Tolerance.at_most(0.3, 0.5, reference="Proposé (pas de limite publiée, domain.md §4)"), better="lower"),
    MetricSpec("slit_width_mean_mm", "mm", "Largeur moyenne (FWHM)", "Mean width (FWHM)",
               Tolerance.symmetric(0.5, 1.0, reference="Proposé : constance par rapport à la référence (domain.md §4)")),
    MetricSpec("slit_max_abs_dev_mm", "mm", "Écart max. |centre − référence|", "Max |centre − reference|",
               Tolerance.at_most(0.5, 1.0, reference=REF), better="lower"),
    MetricSpec("n_slits", "", "Nombre de fentes", "Number of slits", None, trend=False),
    MetricSpec("n_leaf_pairs", "", "Paires de lames analysées", "Leaf pairs analysed", None, trend=False),
    MetricSpec("max_abs_centre_dev_mm", "mm", "Écart max. des centres", "Max |centre deviation|",
               Tolerance.at_most(0.5, 1.0, reference=REF), better="lower"),
    MetricSpec("max_abs_width_dev_mm", "mm", "Écart max. des largeurs", "Max |width deviation|",
               Tolerance.at_most(0.5, 1.0, reference="Proposé : constance de la largeur par paire (domain.md §4)"), better="lower"),
)
SPEC_METRICS = {ms.name: ms for ms in _METRICS}

SPEC = TestSpec(
    key=KEY,
    name_fr=SPEC_NAME["fr"],
    name_en=SPEC_NAME["en"],
    frequency="weekly",
    kind="dicom",
    metrics=_METRICS,
    analyse=analyse,
    page="pages/slits.py",
    description_fr=(
        "Fentes MLC étroites sur l'imageur MV : pour chaque paire de lames (trouvée sur l'image) et chaque fente, centre et "
        "largeur à mi-hauteur, écarts à la référence ou au plan ; moyenne, écart-type et écart max. par fente."
    ),
    description_en=(
        "Narrow MLC slits on the MV imager: for each leaf pair (found on the image) and slit, the centre and full width at "
        "half maximum, deviations from the baseline or plan; mean, SD and max deviation per slit."
    ),
    accepts=".dcm,.zip",
)


# ---------------------------------------------------------------- plotting helpers (for the page)


def heatmap_chart(result: AnalysisResult, lang: str = "fr"):
    """Altair heat map pair × slit of the centre deviations (mm), diverging around 0."""
    import altair as alt

    df = result.extra.get("errors")
    if df is None:  # a stored session: rebuilt from its item rows
        df = errors_frame(result.items)
    if len(df) == 0:
        return None
    d = df.dropna(subset=["centre_dev_mm"])
    if len(d) == 0:
        return None
    lim = max(1.0, float(np.nanmax(np.abs(d["centre_dev_mm"]))))
    return (
        alt.Chart(d)
        .mark_rect()
        .encode(
            x=alt.X("pair:O", title=t("mlc.chart.pair", lang)),
            y=alt.Y("slit:N", title=t("slits.chart.slit", lang), sort=None),
            color=alt.Color("centre_dev_mm:Q", title=t("slits.chart.dev_mm", lang), scale=alt.Scale(scheme="redblue", domain=[-lim, lim], reverse=True)),
            tooltip=["slit", "pair", alt.Tooltip("centre_dev_mm:Q", format=".2f"), alt.Tooltip("width_mm:Q", format=".2f")],
        )
        .properties(title=t("slits.chart.centres", lang))
    )


def charts(result: AnalysisResult, lang: str = "fr") -> list[tuple[str, Any]]:
    """The page's charts: centre deviations (heat map) and the FWHM per pair, one line per slit."""
    import altair as alt

    out: list[tuple[str, Any]] = []
    ch = heatmap_chart(result, lang)
    if ch is not None:
        out.append((t("slits.chart.centres", lang), ch))
    df = result.extra.get("errors")
    if df is None:
        df = errors_frame(result.items)
    if len(df):
        title = t("slits.chart.widths", lang)
        ch = (
            alt.Chart(df)
            .mark_line(point=True)
            .encode(
                x=alt.X("pair:Q", title=t("mlc.chart.pair", lang)),
                y=alt.Y("width_mm:Q", title=t("slits.chart.width_mm", lang), scale=alt.Scale(zero=False)),
                color=alt.Color("slit:N", title=t("slits.chart.slit", lang)),
                tooltip=["slit", "pair", alt.Tooltip("width_mm:Q", format=".2f"), alt.Tooltip("width_dev_mm:Q", format=".2f")],
            )
            .properties(title=title)
        )
        out.append((title, ch))
    return out
