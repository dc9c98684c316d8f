"""Position des lames: leaf-end positions on the AQUA "MLC exactitude" gaps, and picket fences.

Owns the weekly "Position des lames" analyser (test key "leaves", domain.md §5). Each RT Image of
the session is measured by the shared MLC engine (`qc.mv.mlc.measure_mlc_image`), which finds the
leaf travel direction, the leaf pairs (from the inter-leaf pattern) and the bright bands of each pair.
One engine, two readings, chosen per image from the bands found (`qc.mv.mlc.measure_mlc_image`): one
opening wider than 12 mm = a gap image, two or more openings or narrower bands = a picket fence:
- **Gap images** (one wide band per pair, the AQUA plan: 20 mm gaps at [−40,−20] … [+20,+40] mm
  along v): each edge is one leaf tip. Measured tip (mm from the calibrated CAX along the leaf
  travel) − nominal tip = the leaf's **error** (absolute; needs the CAX calibration). The image is
  matched to a nominal gap by plan order (a full session, default) or by its detected position
  (`match_nominals`). The **relative error**
  is the distance to the straight line fitted through that edge across the pairs (pylinac).
- **Picket-fence / slit images** (two or more narrow bands per pair; e.g. other linacs' picket
  fences): each band's FWHM centre is one leaf-pair "kiss"; its error is the distance to the
  picket's fitted line (pylinac's definition: relative only, no nominal). Pairs not seen in every
  picket are dropped, as pylinac does.

Conventions (assumptions, domain.md §13 Q5; configurable through `ctx.options`):
- Positions along the leaf travel are + towards increasing row index v (down the displayed
  image); across, + towards increasing u.
- Bank A = the bank whose tips form the low-v (top) edges of the gaps, bank B the high-v edges
  (`bank_a_side="+"` swaps them).
- Pair numbering (Unity, pitch 7.175 mm found in the image): the inter-leaf junction nearest the
  CAX is 40|41, pair 1 on the −u side (`pair1_side="+"` reverses); other MLCs: image order.
Options: `preset` ("aqua"), `nominal_gaps_mm` [(lo, hi), ...], `match_nominal` ("auto", "position" or
"order"), `leaf_tolerance_mm` (1.0), `leaf_pitch_mm` (7.175), `mode` ("auto", "gap", "picket").
Plotting helpers for the page are kept at the end of the module.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qc.mv import mlc
from qc.intake.dicom_io import RT_IMAGE, load_images, session_identity
from qc.mv.geometry import cax_pixel
from qc.i18n import t
from qc.registry import AnalysisContext, MetricSpec, TestSpec
from qc.results import AnalysisResult, Measurement
from qc.records.tolerances import Tolerance

KEY = "leaves"
PRESETS: dict[str, tuple[tuple[float, float], ...]] = {
    # AQUA "MLC exactitude" on the Unity: 20 mm gaps along v from the CAX (domain.md §0.5, §5)
    "aqua": ((-40.0, -20.0), (-30.0, -10.0), (-20.0, 0.0), (0.0, 20.0), (10.0, 30.0), (20.0, 40.0)),
}
MATCH_LIMIT_MM = 6.0  # mean |edge − nominal| above this: the image matches no nominal gap
NOT_JUDGED = (None, None, None, None)  # Measurement.limits for a value that does not apply


def nominal_gaps(ctx: AnalysisContext) -> list[tuple[float, float]]:
    """The nominal gaps in force: `nominal_gaps_mm` if given, else the preset (default "aqua")."""
    given = ctx.options.get("nominal_gaps_mm")
    if given:
        return [(float(a), float(b)) for a, b in given]
    return list(PRESETS.get(str(ctx.options.get("preset", "aqua")), PRESETS["aqua"]))


def gap_label(lo: float, hi: float) -> str:
    return f"[{lo:+g}, {hi:+g}]"


def match_nominals(
    measured: list[tuple[float, float]], nominals: list[tuple[float, float]], by: str = "position"
) -> list[int | None]:
    """Index of the nominal gap of each gap image (None: none within `MATCH_LIMIT_MM`).

    "position": the nominal with the smallest mean |edge − nominal| of the image's median edges.
    "order": the i-th image (acquisition order) gets the i-th nominal (only when the counts agree;
    else by position).
    "auto" (default): by order when the counts agree and the images' detected centres rank as the
    nominal centres do (a full session in plan order), else by position. By position alone, a CAX
    wrong by a multiple of the 10 mm plan step would match images to the wrong gaps with small
    errors; by order the wrong CAX shows as large errors.
    """
    if by == "auto":
        same_count = len(measured) == len(nominals) and len(measured) > 1
        ranks_agree = same_count and list(np.argsort([lo + hi for lo, hi in measured], kind="stable")) == list(
            np.argsort([a + b for a, b in nominals], kind="stable")
        )
        by = "order" if ranks_agree else "position"
    if by == "order" and len(measured) == len(nominals):
        return list(range(len(measured)))
    out: list[int | None] = []
    for lo, hi in measured:
        costs = [(abs(lo - a) + abs(hi - b)) / 2 for a, b in nominals]
        k = int(np.argmin(costs)) if costs else -1
        out.append(k if k >= 0 and costs[k] <= MATCH_LIMIT_MM else None)
    return out


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """Analyse a 'Position des lames' session (see the module docstring)."""
    lang = ctx.lang
    images = load_images(inputs, RT_IMAGE, SPEC_NAME.get(lang, SPEC_NAME["fr"]), lang)
    tol_mm = float(ctx.options.get("leaf_tolerance_mm", 1.0))
    pitch = float(ctx.options.get("leaf_pitch_mm", mlc.UNITY_LEAF_PITCH_MM))
    bank_a_low = str(ctx.options.get("bank_a_side", "-")) != "+"
    pair1_low = str(ctx.options.get("pair1_side", "-")) != "+"
    mode_opt = str(ctx.options.get("mode", "auto"))
    nominals = nominal_gaps(ctx)
    warnings: list[str] = []
    measured: list[tuple[Any, mlc.MLCImage]] = []
    cax_used: dict[str, dict] = {}
    for im in images:
        warnings.extend(im.warnings)
        cax, w = cax_pixel(im, ctx)
        if w:
            warnings.append(w)
        if im.gantry_angle_deg is not None and min(abs(im.gantry_angle_deg), abs(im.gantry_angle_deg - 360)) > 1.0:
            warnings.append(t("mlc.warn.gantry", lang, file=im.file.filename, angle=im.gantry_angle_deg))
        m = mlc.measure_mlc_image(im, cax, lang, pitch, pair1_low, mode_opt)
        warnings.extend(m.warnings)
        measured.append((im, m))
        cax_used[im.file.filename] = {"u0": cax.u0, "v0": cax.v0, "source": cax.source, "calibration_id": cax.calibration_id}

    # nominal matching of the gap images
    gap_ims = [(im, m) for im, m in measured if m.mode == "gap"]
    med_edges = [(float(np.nanmedian(m.lo_mm[:, 0])), float(np.nanmedian(m.hi_mm[:, 0]))) for _, m in gap_ims]
    by = str(ctx.options.get("match_nominal", "auto"))
    if by == "order" and len(gap_ims) != len(nominals):
        warnings.append(t("mlc.warn.nominal_count", lang, n_images=len(gap_ims), n_nominal=len(nominals)))
    matches = match_nominals(med_edges, nominals, by)
    used: dict[int, list[str]] = {}
    for (im, _), k, (lo, hi) in zip(gap_ims, matches, med_edges):
        if k is None:
            warnings.append(t("mlc.warn.no_nominal", lang, file=im.file.filename, lo=lo, hi=hi))
        else:
            used.setdefault(k, []).append(im.file.filename)
    for k, files in used.items():
        if len(files) > 1:
            warnings.append(t("mlc.warn.nominal_reused", lang, nominal=gap_label(*nominals[k]), files=", ".join(files)))
    match_of = {id(m): k for (_, m), k in zip(gap_ims, matches)}

    items: list[dict[str, Any]] = []
    overlays: list[tuple[str, np.ndarray]] = []
    n_pickets = 0
    for idx, (im, m) in enumerate(measured, start=1):
        name = im.file.filename
        pts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if m.mode == "gap":
            k = match_of.get(id(m))
            nom = nominals[k] if k is not None else None
            label = gap_label(*nom) if nom else gap_label(*med_edges[gap_ims.index((im, m))])
            for j in range(m.n_groups):
                lo, hi = m.lo_mm[:, j], m.hi_mm[:, j]
                rel_lo, _ = mlc.relative_errors(m.p_mm, lo)
                rel_hi, _ = mlc.relative_errors(m.p_mm, hi)
                for edge, pos, rel, nominal in (("lo", lo, rel_lo, nom[0] if nom else None), ("hi", hi, rel_hi, nom[1] if nom else None)):
                    bank = ("A" if edge == "lo" else "B") if bank_a_low else ("B" if edge == "lo" else "A")
                    err = pos - nominal if nominal is not None else np.full_like(pos, np.nan)
                    pts.append((pos, m.p_mm, np.where(np.isfinite(err), err, rel)))
                    for i, pair in enumerate(m.pairs.numbers):
                        if not np.isfinite(pos[i]):
                            continue
                        gap_w = hi[i] - lo[i]
                        items.append({
                            "image": idx, "file": name, "kind": "gap", "position": label, "pair": int(pair), "bank": bank,
                            "picket": None, "p_mm": _r(m.p_mm[i]), "measured_mm": _r(pos[i]), "nominal_mm": nominal,
                            "error_mm": _r(err[i]), "relative_error_mm": _r(rel[i]),
                            "gap_mm": _r(gap_w), "gap_error_mm": _r(gap_w - (nom[1] - nom[0])) if nom else None,
                            "out_of_tolerance": bool(np.isfinite(err[i]) and abs(err[i]) > tol_mm),
                        })
        else:
            c = m.centre_mm
            full = np.all(np.isfinite(c), axis=1)
            dropped = [int(p) for p, f, a in zip(m.pairs.numbers, full, np.any(np.isfinite(c), axis=1)) if a and not f]
            if dropped:
                warnings.append(t("mlc.warn.dropped_pairs", lang, file=name, n=len(dropped), pairs=", ".join(map(str, dropped))))
            warnings.append(t("mlc.warn.picket_mode", lang, file=name, n=m.n_groups))
            n_pickets += m.n_groups
            for j in range(m.n_groups):
                pos = np.where(full, c[:, j], np.nan)
                rel, _ = mlc.relative_errors(m.p_mm, pos)
                pts.append((pos, m.p_mm, rel))
                label = f"picket {j + 1}"
                for i, pair in enumerate(m.pairs.numbers):
                    if not np.isfinite(pos[i]):
                        continue
                    items.append({
                        "image": idx, "file": name, "kind": "picket", "position": label, "pair": int(pair), "bank": "",
                        "picket": j + 1, "p_mm": _r(m.p_mm[i]), "measured_mm": _r(pos[i]), "nominal_mm": None,
                        "error_mm": _r(rel[i]), "relative_error_mm": _r(rel[i]),
                        "gap_mm": _r(m.width_mm[i, j]), "gap_error_mm": None,
                        "out_of_tolerance": bool(abs(rel[i]) > tol_mm),
                    })
        title = t("mlc.overlay.title", lang, label=f"{idx}", file=name)
        overlays.append((title, mlc.overlay_rgb(im, m, pts, scale_mm=tol_mm)))

    errs = np.array([it["error_mm"] for it in items if it["error_mm"] is not None], dtype=float)
    rels = np.array([it["relative_error_mm"] for it in items if it["relative_error_mm"] is not None], dtype=float)
    bank_a = [it["error_mm"] for it in items if it["bank"] == "A" and it["error_mm"] is not None]
    bank_b = [it["error_mm"] for it in items if it["bank"] == "B" and it["error_mm"] is not None]
    gap_errs = [abs(it["gap_error_mm"]) for it in items if it["gap_error_mm"] is not None and it["bank"] == "A"]
    pairs_seen = sorted({it["pair"] for it in items})

    measurements: list[Measurement] = []

    def metric(name: str, value: float | None, applies: bool = True) -> None:
        spec = SPEC_METRICS[name]
        v = None if value is None or (isinstance(value, float) and not math.isfinite(value)) else float(value)
        measurements.append(Measurement(name, v, spec.unit, description=spec.label(lang), limits=None if applies and v is not None else NOT_JUDGED))

    metric("max_abs_error_mm", float(np.max(np.abs(errs))) if len(errs) else None)
    metric("mean_error_bank_a_mm", float(np.mean(bank_a)) if bank_a else None)
    metric("mean_error_bank_b_mm", float(np.mean(bank_b)) if bank_b else None)
    metric("sd_error_mm", float(np.std(errs, ddof=1)) if len(errs) > 1 else None)
    metric("n_leaves_out_of_tolerance", float(sum(it["out_of_tolerance"] for it in items)))
    metric("max_abs_relative_error_mm", float(np.max(np.abs(rels))) if len(rels) else None)
    metric("median_abs_relative_error_mm", float(np.median(np.abs(rels))) if len(rels) else None)
    metric("max_abs_gap_error_mm", max(gap_errs) if gap_errs else None)
    metric("n_leaf_pairs", float(len(pairs_seen)))
    metric("n_images", float(len(images)))
    metric("n_pickets", float(n_pickets))

    errors_df = errors_frame(items)
    return AnalysisResult(
        test=KEY,
        measurements=measurements,
        items=items,
        warnings=warnings,
        **session_identity(images),
        overlays=overlays,
        extra={
            "errors": errors_df,
            "images": [
                {"image": i, "file": im.file.filename, "mode": m.mode, "n_bands": m.n_groups, "pitch_mm": round(m.pairs.pitch_mm, 4),
                 "pairs_from": m.pairs.source, "numbering": m.pairs.numbering, "leaf_travel": "v" if m.travel_axis == 0 else "u"}
                for i, (im, m) in enumerate(measured, start=1)
            ],
        },
        params={
            "edge_definition": mlc.EDGE_DEFINITION,
            "gap_tip_definition": "gaps: 50 % level between the blocked level and the open level at the edge (FFF plateau line); "
            "tips of the erf edge model through the two crossings (qc.mv.mlc.refine_gap_edges)",
            "picket_definition": "centre of the FWHM at 50 % between the band peak and the local background; error = distance to the picket's fitted line (pylinac)",
            "relative_error_definition": "distance to the least-squares line (position vs pair position) of that edge/picket, 3.5 MAD outlier rejection, floor 0.5 mm",
            "position_convention": "mm at isocentre from the calibrated CAX along the leaf travel, + towards increasing v (rows) or u",
            "bank_convention": f"bank A = {'low' if bank_a_low else 'high'}-v edges of the gaps (assumption, domain.md §13 Q5)",
            "pair_convention": f"Unity: junction nearest the CAX = 40|41, pair 1 on the {'-' if pair1_low else '+'}u side (assumption); other MLCs: image order",
            "leaf_width_ratio": mlc.LEAF_WIDTH_RATIO,
            "leaf_tolerance_mm": tol_mm,
            "nominal_gaps_mm": [list(g) for g in nominals],
            "preset": ctx.options.get("preset", "aqua") if not ctx.options.get("nominal_gaps_mm") else None,
            "match_nominal": by,
            "cax": cax_used,
        },
    )


def errors_frame(items: list[dict[str, Any]]):
    """The heat-map table (image, position, pair, bank, error_mm, relative_error_mm) from item rows;
    pickets have their picket label as "bank"."""
    import pandas as pd

    return pd.DataFrame(
        [{"image": it["image"], "position": it["position"], "pair": it["pair"], "bank": it["bank"] or it["position"],
          "error_mm": it["error_mm"], "relative_error_mm": it["relative_error_mm"]} for it in items],
        columns=["image", "position", "pair", "bank", "error_mm", "relative_error_mm"],
    )


def worst_leaves(result: AnalysisResult, n: int = 10) -> list[dict[str, Any]]:
    """The `n` item rows with the largest |error| (absolute, else relative)."""
    def key(it):
        e = it.get("error_mm")
        return -abs(e) if e is not None else 0.0

    return sorted((it for it in result.items if it.get("error_mm") is not None), key=key)[:n]



# ---------------------------------------------------------------- spec

SPEC_NAME = {"fr": "Position des lames", "en": "Leaf position"}
REF = "Département ±1 mm (domain.md §5); TG-142 1 mm; Unity ≤ 1 mm (PMC8504604)"
_METRICS = (
    MetricSpec("max_abs_error_mm", "mm", "Écart max. |position − nominal|", "Max |position − nominal|",
               Tolerance.at_most(0.75, 1.0, reference=f"{REF}; alerte à 0,75 mm"), better="lower"),
    MetricSpec("mean_error_bank_a_mm", "mm", "Écart moyen banc A", "Mean error bank A",
               Tolerance(act_low=-1.0, tol_low=-0.5, tol_high=0.5, act_high=1.0, reference=f"{REF}; décalage d'étalonnage, alerte 0,5 mm (proposé)")),
    MetricSpec("mean_error_bank_b_mm", "mm", "Écart moyen banc B", "Mean error bank B",
               Tolerance(act_low=-1.0, tol_low=-0.5, tol_high=0.5, act_high=1.0, reference=f"{REF}; décalage d'étalonnage, alerte 0,5 mm (proposé)")),
    MetricSpec("sd_error_mm", "mm", "Écart-type des écarts", "SD of errors",
               Tolerance.at_most(0.5, 1.0, reference="Proposé (domain.md §5, pas de limite publiée)"), better="lower"),
    MetricSpec("n_leaves_out_of_tolerance", "", "Lames hors tolérance", "Leaves out of tolerance",
               Tolerance.at_most(0.0, 0.0, reference=REF), better="lower"),
    MetricSpec("max_abs_relative_error_mm", "mm", "Écart max. à la droite ajustée", "Max error to fitted line",
               Tolerance.at_most(0.5, 1.0, reference="pylinac PicketFence 0,5 mm (domain.md §12.1); TG-142 1 mm"), better="lower"),
    MetricSpec("median_abs_relative_error_mm", "mm", "Écart médian à la droite ajustée", "Median error to fitted line", None, better="lower"),
    MetricSpec("max_abs_gap_error_mm", "mm", "Écart max. de largeur d'ouverture", "Max gap width error",
               Tolerance.at_most(1.0, 2.0, reference="Département ±1 mm par paire (domain.md §5, appli précédente)"), better="lower"),
    MetricSpec("n_leaf_pairs", "", "Paires de lames analysées", "Leaf pairs analysed", None, trend=False),
    MetricSpec("n_images", "", "Nombre d'images", "Number of images", None, trend=False),
    MetricSpec("n_pickets", "", "Nombre de pickets", "Number of pickets", None, trend=False),
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
    page="pages/leaves.py",
    description_fr=(
        "Test AQUA « MLC exactitude » : 6 ouvertures de 20 mm de −40 à +40 mm ; position de chaque extrémité de lame "
        "par rapport à l'axe, écart au nominal (±1 mm), écarts par banc et carte des écarts. Lit aussi les picket fences."
    ),
    description_en=(
        "AQUA \"MLC exactitude\" test: 6 gaps of 20 mm from −40 to +40 mm; each leaf tip's position from the axis, error "
        "from nominal (±1 mm), per-bank errors and an error heat map. Also reads picket fences."
    ),
    accepts=".dcm,.zip",
)


# ---------------------------------------------------------------- plotting helpers (for the page)


def heatmap_chart(result: AnalysisResult, lang: str = "fr", relative: bool = False):
    """Altair heat map pair × (position, bank) of the leaf errors (mm), diverging around 0."""
    import altair as alt

    df = result.extra.get("errors")
    if df is None:  # a stored session: rebuilt from its item rows
        df = errors_frame(result.items)
    if len(df) == 0:
        return None
    col = "relative_error_mm" if relative else "error_mm"
    d = df.dropna(subset=[col]).copy()
    if len(d) == 0:
        return None
    d["row"] = d["image"].astype(str) + " " + d["position"].astype(str) + d["bank"].where(d["bank"] != d["position"], "").map(lambda b: f" {b}" if b else "")
    lim = max(1.0, float(np.nanmax(np.abs(d[col]))))
    title = t("mlc.chart.relative" if relative else "mlc.chart.heatmap", lang)
    return (
        alt.Chart(d)
        .mark_rect()
        .encode(
            x=alt.X("pair:O", title=t("mlc.chart.pair", lang)),
            y=alt.Y("row:N", title=t("mlc.chart.position", lang), sort=None),
            color=alt.Color(f"{col}:Q", title=t("mlc.chart.error_mm", lang), scale=alt.Scale(scheme="redblue", domain=[-lim, lim], reverse=True)),
            tooltip=["image", "position", "pair", "bank", alt.Tooltip(f"{col}:Q", format=".2f")],
        )
        .properties(title=title)
    )


def charts(result: AnalysisResult, lang: str = "fr") -> list[tuple[str, Any]]:
    """The page's charts: the absolute-error heat map (gap images), the relative-error heat map,
    and the errors per pair by bank."""
    import altair as alt

    out: list[tuple[str, Any]] = []
    df = result.extra.get("errors")
    if df is None:
        df = errors_frame(result.items)
    if len(df) == 0:
        return out
    if df["error_mm"].notna().any() and (df["bank"].isin(["A", "B"])).any():
        ch = heatmap_chart(result, lang)
        if ch is not None:
            out.append((t("mlc.chart.heatmap", lang), ch))
    ch = heatmap_chart(result, lang, relative=True)
    if ch is not None:
        out.append((t("mlc.chart.relative", lang), ch))
    d = df.dropna(subset=["error_mm"])
    if len(d):
        tol = float(result.params.get("leaf_tolerance_mm", 1.0))
        band = alt.Chart(__import__("pandas").DataFrame({"lo": [-tol], "hi": [tol]})).mark_rect(opacity=0.12, color="green").encode(y="lo:Q", y2="hi:Q")
        pts = (
            alt.Chart(d)
            .mark_point(filled=True)
            .encode(
                x=alt.X("pair:Q", title=t("mlc.chart.pair", lang)),
                y=alt.Y("error_mm:Q", title=t("mlc.chart.error_mm", lang)),
                color=alt.Color("bank:N", title=t("mlc.chart.bank", lang)),
                tooltip=["image", "position", "pair", "bank", alt.Tooltip("error_mm:Q", format=".2f")],
            )
        )
        title = t("mlc.chart.bank_errors", lang)
        out.append((title, (band + pts).properties(title=title)))
    return out
