"""MVIC Fente: centre and width of narrow MLC slits per leaf pair, against a baseline or the plan.

Owns the weekly "MVIC Fente" analyser (test key "slits", domain.md §4). Each RT Image is measured
by the shared MLC engine (`qc.mv.mlc.measure_mlc_image`, picket mode): leaf pairs found from the
image's inter-leaf pattern (not a fixed column step: the former tool stepped 29 px over a 33.2 px
pitch), the mean profile over the central 40 % of each pair, and for each slit:
- **centre** = middle of the FWHM, **width** = the FWHM, both at 50 % of the slit's own peak above
  the local leakage background on each side (pylinac's picket "fwxm" 50; domain.md §4), in mm at
  the isocentre from the calibrated CAX along the leaf travel (+ towards increasing v);
- **deviations**: centre − reference centre and width − reference width, per pair. Reference =
  the baseline in force on the acquisition date (`ctx.baseline_for`, built by `baseline_from_result`;
  same pair, else that slit's baseline mean). Without a baseline: the configured nominal centre
  (default plan below); the widths are then Non mesuré (the FWHM of a slit narrower than the
  penumbra is not its nominal gap, so widths are judged against a baseline, never the plan), and
  the session fails until a baseline is stored. The measured width is kept as `slit_fwhm_mm`;
- **relative error** = distance of the centre to the slit's fitted line across the pairs (pylinac).
Per slit (item "slit 1", "slit 2", ... in order along v, numbered through the session's images):
mean and SD of the centres, mean width, max |centre deviation|; per session: slit and pair counts,
max |centre deviation|, max |width deviation|. Each pair's row is judged by the dated tolerance of
`slit_error_mm` (centre deviation); a pair expected in a slit (measured in another one) but not
measured there has a row with status `not_measured` and counts in `n_leaf_pairs_not_measured`.

Default slit plan: an ASSUMPTION (domain.md §13 Q4, the delivered plan is unknown): 5 slits of
5 mm centred at −40, −20, 0, +20, +40 mm along v (`nominal_slits_mm` = [(centre, width), ...]).
Plotting helpers for the page are kept at the end of the module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qc.errors import QCInputError
from qc.i18n import t
from qc.readers.dicom_io import session_identity
from qc.mv import mlc
from qc.mv.common import PreparedImage, calibration_warnings, baseline_in_force, item_tolerance, measurement, prepare_images, rounded, session_date, tolerance_record
from qc.tolerances import FAIL, JUDGED_BY, Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, Routing, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = "slits"
DEFAULT_SLITS_MM: tuple[tuple[float, float], ...] = ((-40.0, 5.0), (-20.0, 5.0), (0.0, 5.0), (20.0, 5.0), (40.0, 5.0))
SLIT_MAX_WIDTH_MM = 15.0  # median FWHM above this: the image holds gaps (leaf-position test), not slits
MATCH_LIMIT_MM = 5.0  # a slit farther than this from every nominal / baseline slit has no reference: Non mesuré
NOT_MEASURED = "not_measured"  # item status of a pair that could not be measured (counts as a failure)


def nominal_slits(ctx: AnalysisContext) -> list[tuple[float, float]]:
    return [(float(c), float(w)) for c, w in ctx.options.get("nominal_slits_mm", DEFAULT_SLITS_MM)]


def _nearest(value: float, refs: list[float], limit: float) -> int | None:
    if not refs:
        return None
    d = [abs(value - r) for r in refs]
    k = int(np.argmin(d))
    return k if d[k] <= limit else None


def baseline_from_result(result: AnalysisResult) -> dict:
    """The baseline structure `ctx.baseline_for` returns, built from a session ("use as baseline").

    {"slits": {"slit 1": {"centre_mean_mm", "width_mean_mm", "pairs": {"40": {"centre_mm", "width_mm"}, ...}}},
     "source": {...}} (pair numbers as strings: the structure is stored as JSON). Pairs not measured are left out.
    """
    slits: dict[str, dict] = {}
    for it in result.items:
        s = slits.setdefault(it["slit"], {"pairs": {}})
        if it.get("centre_mm") is None or it.get("width_mm") is None:
            continue
        s["pairs"][str(it["pair"])] = {"centre_mm": it["centre_mm"], "width_mm": it["width_mm"]}
    slits = {k: s for k, s in slits.items() if s["pairs"]}
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


@dataclass
class SlitImage:
    """One slit image measured by the MLC engine (picket mode: each band's FWHM centre and width per pair)."""

    index: int
    prepared: PreparedImage
    mlc: mlc.MLCImage

    @property
    def filename(self) -> str:
        return self.prepared.filename


def measure_slit_image(p: PreparedImage, index: int, ctx: AnalysisContext) -> SlitImage:
    """The MLC engine on one image; an image of wide gaps (the leaf-position test) is refused."""
    pitch = float(ctx.options.get("leaf_pitch_mm", mlc.UNITY_LEAF_PITCH_MM))
    pair1_low = str(ctx.options.get("pair1_side", "-")) != "+"
    m = mlc.measure_mlc_image(p.image, p.cax, ctx.lang, pitch, pair1_low, mode="picket")
    widths = m.width_mm[np.isfinite(m.width_mm)]
    if len(widths) and float(np.median(widths)) > SLIT_MAX_WIDTH_MM:
        raise QCInputError("err.wrong_image", file=p.filename,
                           reason=t("mlc.reason.not_slits", ctx.lang, width=float(np.median(widths)), limit=SLIT_MAX_WIDTH_MM))
    return SlitImage(index, p, m)


def _reference_of(label: str, c_med: float, nominal: list[tuple[float, float]], baseline: dict | None) -> tuple[dict | None, int | None]:
    """The baseline slit (same label, else the nearest within `MATCH_LIMIT_MM`) and the nearest nominal slit."""
    k_nom = _nearest(c_med, [n[0] for n in nominal], MATCH_LIMIT_MM)
    bl = None
    if baseline:
        bl = baseline.get(label)
        if bl is None or abs(bl.get("centre_mean_mm", 1e9) - c_med) > MATCH_LIMIT_MM:
            keys = list(baseline)
            kb = _nearest(c_med, [baseline[k]["centre_mean_mm"] for k in keys], MATCH_LIMIT_MM)
            bl = baseline[keys[kb]] if kb is not None else None
    return bl, k_nom


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """Analyse an 'MVIC Fente' session: each image measured, then the session summarised."""
    prepared = prepare_images(inputs, ctx, SPEC_NAME, "mlc.warn.gantry")
    measured = [measure_slit_image(p, i, ctx) for i, p in enumerate(prepared, start=1)]
    return summarise_session(measured, ctx, session_date(prepared, ctx))


def summarise_session(measured: list[SlitImage], ctx: AnalysisContext, when) -> AnalysisResult:
    """Each slit matched to its reference, every pair's row and status, and the session's metrics."""
    lang = ctx.lang
    pair1_low = str(ctx.options.get("pair1_side", "-")) != "+"
    nominal = nominal_slits(ctx)
    stored = baseline_in_force(ctx, when)
    baseline = stored.get("slits") if isinstance(stored, dict) else None
    slit_tol = item_tolerance(ctx, SPEC_METRICS["slit_error_mm"], when)
    warnings: list[str] = [w for si in measured for w in si.prepared.warnings + si.mlc.warnings]
    calibrated = all(si.prepared.calibrated for si in measured)
    warnings += calibration_warnings([si.prepared for si in measured])
    if not calibrated:
        warnings.append(t("slits.warn.no_calibration", lang))
    if not baseline:
        warnings.append(t("slits.warn.no_baseline", lang))
    expected_pairs = sorted({int(p) for si in measured for p, ok in zip(si.mlc.pairs.numbers, np.isfinite(si.mlc.centre_mm).any(axis=1)) if ok})
    items: list[dict[str, Any]] = []
    overlays: list[tuple[str, np.ndarray]] = []
    slit_info: list[dict[str, Any]] = []
    n_slit = 0
    for si in measured:
        m, name, idx = si.mlc, si.filename, si.index
        row_of = {int(p): i for i, p in enumerate(m.pairs.numbers)}
        pts = []
        for j in range(m.n_groups):
            n_slit += 1
            label = f"slit {n_slit}"
            c, wd = m.centre_mm[:, j], m.width_mm[:, j]
            good = np.isfinite(c)
            c_med = float(np.median(c[good]))
            if calibrated:
                bl, k_nom = _reference_of(label, c_med, nominal, baseline)
                if bl is None and k_nom is None:
                    warnings.append(t("slits.warn.unmatched", lang, file=name, centre=c_med, limit=MATCH_LIMIT_MM))
            else:  # positions unknown without the axis: the baseline slit of the same rank, for its widths only
                bl, k_nom = (baseline or {}).get(label), None
            rel, _ = mlc.relative_errors(m.p_mm, c)
            ref_c_slit = None if not calibrated else bl["centre_mean_mm"] if bl else (nominal[k_nom][0] if k_nom is not None else None)
            ref_w_slit = bl["width_mean_mm"] if bl else None  # widths are judged against a baseline only
            c_dev = np.full(len(c), np.nan)
            w_dev = np.full(len(c), np.nan)
            missing = []
            for pair in expected_pairs:
                i = row_of.get(pair)
                ok = i is not None and bool(good[i])
                bp = (bl or {}).get("pairs", {}).get(str(pair)) if bl else None
                ref_c = (bp["centre_mm"] if bp else ref_c_slit) if calibrated else None
                ref_w = bp["width_mm"] if bp else ref_w_slit
                if ok:
                    c_dev[i] = c[i] - ref_c if ref_c is not None else np.nan
                    w_dev[i] = wd[i] - ref_w if ref_w is not None else np.nan
                else:
                    missing.append(pair)
                dev = float(c_dev[i]) if ok and np.isfinite(c_dev[i]) else None
                items.append({
                    "image": idx, "file": name, "slit": label, "pair": pair, "p_mm": rounded(m.p_mm[i]) if i is not None else None,
                    "centre_mm": rounded(c[i]) if ok else None, "width_mm": rounded(wd[i]) if ok else None,
                    "reference_centre_mm": rounded(ref_c), "reference_width_mm": rounded(ref_w),
                    "centre_dev_mm": rounded(dev), "width_dev_mm": rounded(w_dev[i]) if ok else None,
                    "relative_error_mm": rounded(rel[i]) if ok else None, "peak": rounded(m.peak[i, j], 1) if ok else None,
                    # judged by the pipeline with the dated tolerance of `slit_error_mm` (qc.tolerances.judge_items)
                    JUDGED_BY: {"metric": "slit_error_mm", "value": "centre_dev_mm"},
                })
            if missing:
                warnings.append(t("slits.warn.pairs_not_measured", lang, file=name, slit=label, n=len(missing), pairs=", ".join(map(str, missing))))
            pts.append((c, m.p_mm, np.where(np.isfinite(c_dev), c_dev, rel)))
            slit_info.append({
                "slit": label, "image": idx, "file": name, "n_pairs": int(good.sum()),
                "centre_mean_mm": float(np.mean(c[good])), "centre_sd_mm": float(np.std(c[good], ddof=1)) if good.sum() > 1 else None,
                "width_mean_mm": float(np.mean(wd[good])),
                "max_abs_dev_mm": float(np.nanmax(np.abs(c_dev))) if np.isfinite(c_dev).any() else None,
                "max_abs_width_dev_mm": float(np.nanmax(np.abs(w_dev))) if np.isfinite(w_dev).any() else None,
                "reference_centre_mm": ref_c_slit, "reference_width_mm": ref_w_slit,
                "nominal": list(nominal[k_nom]) if k_nom is not None else None, "reference": "baseline" if bl else "nominal",
            })
        scale = float((slit_tol.act_high or slit_tol.tol_high or 1.0) if slit_tol is not None else 1.0)
        overlays.append((t("mlc.overlay.title", lang, label=f"{idx}", file=name), mlc.overlay_rgb(si.prepared.image, m, pts, scale_mm=scale)))

    expected = (len(baseline) if baseline else len(nominal)) * len(measured)
    if n_slit != expected:
        warnings.append(t("slits.warn.count", lang, n=n_slit, expected=expected))
    measurements = session_metrics(items, slit_info, n_slit, expected, lang)
    return AnalysisResult(
        test=KEY,
        measurements=measurements,
        items=items,
        warnings=warnings,
        **session_identity([si.prepared.image for si in measured]),
        overlays=overlays,
        extra={"slits": slit_info, "errors": errors_frame(items)},
        params={
            "slit_definition": "centre of the FWHM and FWHM at 50 % of the slit's own peak above the local leakage background on each side, "
            "mean profile over the central 40 % of each leaf pair (pylinac fwxm 50)",
            "reference": "baseline" if baseline else "nominal centre; widths not judged without a baseline (Non mesuré)",
            "nominal_slits_mm": [list(n) for n in nominal],
            "nominal_is_assumption": "default plan 5 × 5 mm at −40, −20, 0, +20, +40 mm (assumption)",
            "position_convention": "mm at isocentre from the calibrated CAX along the leaf travel, + towards increasing v (rows)",
            "pair_convention": f"Unity: junction nearest the CAX = 40|41, pair 1 on the {'-' if pair1_low else '+'}u side (assumption)",
            "max_abs_dev_definition": "slit_max_abs_dev_mm = max over pairs of |centre − reference centre|",
            "slit_tolerance": tolerance_record(slit_tol),
            "cax": {si.filename: si.prepared.cax_record() for si in measured},
        },
    )


def session_metrics(items: list[dict[str, Any]], slit_info: list[dict[str, Any]], n_slit: int, expected: int, lang: str) -> list[Measurement]:
    """Per-slit and session metrics; a value that has no reference to be judged against is None (fails)."""
    out: list[Measurement] = []

    def metric(name: str, value, item: str = "", nominal_value: float | None = None) -> None:
        out.append(measurement(SPEC_METRICS[name], value, lang, item=item, nominal=nominal_value))

    for s in slit_info:
        ref_c, ref_w = s["reference_centre_mm"], s["reference_width_mm"]
        metric("slit_centre_mean_mm", s["centre_mean_mm"] if ref_c is not None else None, s["slit"], ref_c)
        metric("slit_centre_sd_mm", s["centre_sd_mm"], s["slit"])
        metric("slit_width_mean_mm", s["width_mean_mm"] if ref_w is not None else None, s["slit"], ref_w)
        metric("slit_fwhm_mm", s["width_mean_mm"], s["slit"])
        metric("slit_max_abs_dev_mm", s["max_abs_dev_mm"], s["slit"])
    c_devs = [abs(it["centre_dev_mm"]) for it in items if it["centre_dev_mm"] is not None]
    w_devs = [abs(it["width_dev_mm"]) for it in items if it["width_dev_mm"] is not None]
    metric("n_slits", n_slit, nominal_value=float(expected))
    metric("n_leaf_pairs", len({it["pair"] for it in items if it["centre_mm"] is not None}))
    metric("n_leaf_pairs_not_measured", len({(it["slit"], it["pair"]) for it in items if it["centre_mm"] is None}))
    metric("max_abs_centre_dev_mm", max(c_devs) if c_devs else None)
    metric("max_abs_width_dev_mm", max(w_devs) if w_devs else None)
    return out


def errors_frame(items: list[dict[str, Any]]):
    """The chart table (image, slit, pair, centre_dev_mm, width_mm, width_dev_mm, relative_error_mm) from item rows."""
    import pandas as pd

    cols = ["image", "slit", "pair", "centre_dev_mm", "width_mm", "width_dev_mm", "relative_error_mm"]
    return pd.DataFrame([{c: it.get(c) for c in cols} for it in items], columns=cols)



# ---------------------------------------------------------------- spec

SPEC_NAME = {"fr": "MVIC Fente", "en": "MVIC slit"}
REF = "pylinac picket fence 0,5 mm ; AAPM TG-142 1 mm ; Unity ≤ 1 mm (PMC8504604)"
_METRICS = (
    MetricSpec("slit_centre_mean_mm", "mm", "Centre moyen de la fente", "Mean slit centre",
               Tolerance.symmetric(0.5, 1.0, reference=f"{REF}; par rapport à la référence ou au plan")),
    MetricSpec("slit_centre_sd_mm", "mm", "Écart-type des centres", "SD of slit centres",
               Tolerance.at_most(0.3, 0.5, reference="Proposé (pas de limite publiée)"), better="lower"),
    MetricSpec("slit_width_mean_mm", "mm", "Largeur moyenne (FWHM)", "Mean width (FWHM)",
               Tolerance.symmetric(0.5, 1.0, reference="Proposé : constance par rapport à la référence")),
    MetricSpec("slit_max_abs_dev_mm", "mm", "Écart max. |centre − référence|", "Max |centre − reference|",
               Tolerance.at_most(0.5, 1.0, reference=REF), better="lower"),
    MetricSpec("slit_fwhm_mm", "mm", "Largeur mesurée (FWHM)", "Measured width (FWHM)", None),
    MetricSpec("slit_error_mm", "mm", "Écart du centre d'une paire", "Centre deviation of one pair",
               Tolerance.symmetric(0.5, 1.0, reference=REF), trend=False),
    MetricSpec("n_slits", "", "Nombre de fentes", "Number of slits",
               Tolerance.symmetric(0.0, 0.0, reference="Plan de la séance : chaque fente prévue doit être trouvée"), trend=False),
    MetricSpec("n_leaf_pairs", "", "Paires de lames analysées", "Leaf pairs analysed", None, trend=False),
    MetricSpec("n_leaf_pairs_not_measured", "", "Paires de lames non mesurées", "Leaf pairs not measured",
               Tolerance.at_most(0.0, 0.0, reference="Une paire attendue doit être mesurée (procédure du département)"), better="lower", trend=False),
    MetricSpec("n_pairs_out_of_tolerance", "", "Paires hors tolérance", "Pairs out of tolerance",
               Tolerance.at_most(0.0, 0.0, reference=REF), better="lower", counts_items=("slit_error_mm", FAIL)),
    MetricSpec("max_abs_centre_dev_mm", "mm", "Écart max. des centres", "Max |centre deviation|",
               Tolerance.at_most(0.5, 1.0, reference=REF), better="lower"),
    MetricSpec("max_abs_width_dev_mm", "mm", "Écart max. des largeurs", "Max |width deviation|",
               Tolerance.at_most(0.5, 1.0, reference="Proposé : constance de la largeur par paire"), better="lower"),
)
SPEC_METRICS = {ms.name: ms for ms in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "1.1"

SPEC = TestSpec(
    version=VERSION,
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

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:slits_demo"
# before the leaf and field rules: a slit plan is named "MVIC fente"
ROUTING = Routing(pattern=r"FENTE|SLIT", modality="RTIMAGE", order=20, expected_images=1)
# The demo database: weekly on Thursdays; leaf pair 45 bank B drifts by 0.12 mm a week over the last five weeks.
DEMO = DemoSessions(
    make="qc.demo_inputs:slits_session", gen="slits", span="weeks", weekday=3, time="08:05",
    ramp={"pair45_b_mm": 0.12}, ramp_last=5, keep_latest=2,
)


# ---------------------------------------------------------------- plotting helpers (for the page)


def heatmap_chart(result: AnalysisResult, lang: str = "fr"):
    """Altair heat map pair × slit of the centre deviations (mm), diverging around 0; pairs that could
    not be measured in black, with their own legend."""
    import altair as alt

    df = result.extra.get("errors")
    if df is None:  # a stored session: rebuilt from its item rows
        df = errors_frame(result.items)
    if len(df) == 0 or not df["centre_dev_mm"].notna().any():
        return None
    d = df.copy()
    lim = max(1.0, float(np.nanmax(np.abs(d["centre_dev_mm"].astype(float)))))
    pairs = sorted({int(p) for p in d["pair"].dropna()})
    x = alt.X("pair:O", title=t("mlc.chart.pair", lang), scale=alt.Scale(domain=pairs))
    y = alt.Y("slit:N", title=t("slits.chart.slit", lang), sort=None)
    measured = (
        alt.Chart(d[d["centre_dev_mm"].notna()])
        .mark_rect()
        .encode(
            x=x, y=y,
            color=alt.Color("centre_dev_mm:Q", title=t("slits.chart.dev_mm", lang), scale=alt.Scale(scheme="redblue", domain=[-lim, lim], reverse=True)),
            tooltip=["slit", "pair", alt.Tooltip("centre_dev_mm:Q", format=".2f"), alt.Tooltip("width_mm:Q", format=".2f")],
        )
    )
    label = t("mlc.chart.not_measured", lang)
    gone = d[d["centre_dev_mm"].isna()].assign(state=label)
    if len(gone) == 0:
        return measured.properties(title=t("slits.chart.centres", lang))
    unmeasured = alt.Chart(gone).mark_rect().encode(
        x=x, y=y, color=alt.Color("state:N", title=t("mlc.chart.status", lang), scale=alt.Scale(domain=[label], range=["#000000"])),
        tooltip=["slit", "pair", "state"],
    )
    return alt.layer(measured, unmeasured).resolve_scale(color="independent").properties(title=t("slits.chart.centres", lang))


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
