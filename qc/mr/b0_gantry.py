"""B0 versus gantry angle on the MR-Linac, from one dynamic FFE phase series (test key "mr-b0-gantry").

Owns the consortium programme's gantry measure (Wetscherek et al.): the steel of the rotating linac
perturbs B0; one dynamic FFE series holds 13 temporal positions = gantry angles (−180…+180° by 30°),
3 slices, magnitude (M_FFE) and phase images (ImageType "PHASE MAP", RescaleType "mrad",
intercept −3142), echo time TE (15.66 ms on the console protocol). For each angle θ:

- Δφ_θ = arg(exp(i(φ_θ − φ_0))): the phase difference to gantry 0 taken as a complex ratio, which
  cancels the receiver phase and every wrap of the static field;
- unwrapped in 2-D inside the phantom (scikit-image `unwrap_phase`, Herráez et al. 2002), then shifted
  by the multiple of 2π that brings its median inside (−π, π] (assumes the mean change is below half
  a cycle, 1/(2·TE) = 32 Hz = 0.5 ppm at 15.66 ms);
- ΔB0_θ (ppm) = Δφ_θ / (2π · TE · f0), f0 = ImagingFrequency;
- per angle, within the DSV (200 and 350 mm) and the phantom (magnitude at gantry 0 above 0.3 × its 99th percentile,
  threshold, eroded 2 px): peak-to-peak, SD and mean of ΔB0_θ (3×3 in-plane mean, as for B0 maps);
  the worst angle is the one with the largest peak-to-peak at DSV 350.

Angle of each temporal position: option `gantry_angles_deg` (13 values) when given, else from the
series description ("SHIM_CHECK_30_deg_fwd (start at 181)": start 181° ≡ −179°, step +30°;
"bwd"/"rev": −30°), else −180° + 30°·(k − 1). Gantry 0 = the position whose angle is nearest 0°.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from qc.errors import QCInputError
from qc.i18n import t
from qc.mr import linac_draw as draw
from qc.mr.linac_series import (
    GANTRY,
    acquisition_of,
    dsv_mask,
    identity_of,
    imaging_frequency_of,
    phantom_mask,
    series_of_test,
    SeriesHeaders,
    slice_pixels,
    smooth3,
)
from qc.tolerances import Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, Routing, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = GANTRY
DSVS_MM = (200.0, 350.0)
DEFAULT_TE_MS = 15.66


def gantry_angles(series: SeriesHeaders, n: int, options: dict) -> tuple[list[float], str]:
    """Angle (degrees) of temporal positions 1…n and where it came from ("option", "description", "default")."""
    given = options.get("gantry_angles_deg")
    if given:
        angles = [float(a) for a in given]
        if len(angles) != n:
            raise QCInputError("mrl.err.angles_count", n=len(angles), expected=n)
        return angles, "option"
    desc = series.description or ""
    step_m = re.search(r"(\d+(?:\.\d+)?)\s*_?deg_?(fwd|forward|bwd|backward|rev)", desc, re.I)
    start_m = re.search(r"start\s*(?:at)?\s*(-?\d+(?:\.\d+)?)", desc, re.I)
    if step_m and start_m:
        step = float(step_m.group(1)) * (-1 if step_m.group(2).lower() in ("bwd", "backward", "rev") else 1)
        start = (float(start_m.group(1)) + 180.0) % 360.0 - 180.0
        return [start + k * step for k in range(n)], "description"
    start = float(options.get("gantry_start_deg", -180.0))
    step = float(options.get("gantry_step_deg", 30.0))
    return [start + k * step for k in range(n)], "default"


def phase_radians(sh, pixels: np.ndarray) -> np.ndarray:
    """Phase in radians: RescaleType "mrad" (Philips) or values beyond ±2π are milliradians."""
    kind = (sh.rescale_type or "").lower()
    if "mrad" in kind or "milli" in kind or float(np.nanmax(np.abs(pixels))) > 2 * math.pi * 1.05:
        return pixels / 1000.0
    return pixels


def wrapped_deg(angle: float) -> float:
    """The gantry angle in (−180, 180]: −180° and +180°, or −179° and +181°, are one gantry position."""
    w = (float(angle) + 180.0) % 360.0 - 180.0
    return 180.0 if w <= -180.0 + 1e-9 else w


def gantry_positions(angles: list[float], tol_deg: float = 0.5) -> list[list[int]]:
    """Temporal indices grouped by gantry position (wrapped angles within `tol_deg`), in acquisition order.

    A sweep from −179° to +181° by 30° measures the first position twice (at the start and at the end of the
    rotation): that position gets two indices, the later one being the repeat."""
    groups: list[list[int]] = []
    for k, a in enumerate(angles):
        w = wrapped_deg(a)
        for g in groups:
            d = abs(wrapped_deg(angles[g[0]]) - w)
            if min(d, 360.0 - d) <= tol_deg:
                g.append(k)
                break
        else:
            groups.append([k])
    return groups


def reference_index(angles: list[float]) -> int:
    return int(np.argmin([abs((a + 180.0) % 360.0 - 180.0) for a in angles]))


def phase_difference_ppm(phi: np.ndarray, phi_ref: np.ndarray, mask: np.ndarray, te_ms: float, f0_mhz: float) -> np.ndarray:
    """ΔB0 (ppm) from two phase maps (rad): complex difference, 2-D unwrap in the mask, 2π offset
    chosen so the median lies in (−π, π], then Δφ / (2π·TE·f0). NaN outside the mask."""
    from skimage.restoration import unwrap_phase

    d = np.angle(np.exp(1j * (phi - phi_ref)))
    if mask.sum() < 10:
        return np.full(phi.shape, np.nan)
    un = unwrap_phase(np.ma.array(d, mask=~mask))
    un = np.ma.filled(un, np.nan)
    med = float(np.nanmedian(un[mask]))
    un = un - 2 * math.pi * round(med / (2 * math.pi))
    return np.where(mask, un / (2 * math.pi * te_ms * 1e-3 * f0_mhz), np.nan)


def _one_per_position(per_angle: list[dict[str, Any]], angles: list[float], main: str, warnings: list[str], lang: str) -> list[dict[str, Any]]:
    """One entry per gantry position: a position measured twice (a sweep's repeated end angle) keeps the less
    favourable of its two measurements (largest peak-to-peak at the main DSV) and a sentence says it was a repeat,
    with the difference between the two (the gantry's reproducibility)."""
    by_k = {p["k"]: p for p in per_angle}
    kept: list[dict[str, Any]] = []
    for group in gantry_positions(angles):
        entries = [by_k[k] for k in group if k in by_k]
        if not entries:
            continue
        if len(entries) > 1:
            pk = [e[main]["pk_pk"] for e in entries]
            worst = max(range(len(entries)), key=lambda i: -1.0 if pk[i] is None else pk[i])
            diff = None if None in pk else abs(pk[0] - pk[-1])
            warnings.append(t("mrl.warn.gantry_repeat", lang, angle=f"{entries[0]['angle']:+g}",
                              first=f"{angles[group[0]]:+g}", repeat=f"{angles[group[-1]]:+g}",
                              diff="—" if diff is None else round(diff, 3)))
            entries = [entries[worst]]
        kept.append(entries[0])
    return kept


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """ΔB0 of each gantry angle against gantry 0 (see the module docstring)."""
    lang = ctx.lang
    chosen, warnings = series_of_test(inputs, KEY, "gantry", lang)
    if not chosen:
        raise QCInputError("mrl.err.no_series", test=t("mrl.test.gantry", lang), what=t("mrl.what.gantry", lang))
    if len(chosen) > 1:
        warnings.append(t("mrl.warn.several_gantry", lang, used=chosen[0].label(), n=len(chosen)))
    s = chosen[0]
    iso = tuple(float(v) for v in ctx.options.get("isocentre_mm", (0.0, 0.0, 0.0)))
    acquired = acquisition_of(s.slices, ctx.acquired_at)
    f0 = imaging_frequency_of(s.slices, ctx.options)
    te = next((x.echo_time_ms for x in s.slices if x.is_phase and x.echo_time_ms), None)
    if te is None:
        te = float(ctx.options.get("echo_time_ms", DEFAULT_TE_MS))
        warnings.append(t("mrl.warn.no_te", lang, te=te))
    phases = {(x.temporal_position or 1, round(x.along_normal_mm, 1)): x for x in s.slices if x.is_phase}
    mags = {(x.temporal_position or 1, round(x.along_normal_mm, 1)): x for x in s.slices if x.is_magnitude}
    temporal = sorted({k[0] for k in phases})
    positions = sorted({k[1] for k in phases})
    if len(temporal) < 2:
        raise QCInputError("mrl.err.one_angle", series=s.label())
    angles, source = gantry_angles(s, len(temporal), ctx.options)
    ref = reference_index(angles)
    if abs((angles[ref] + 180) % 360 - 180) > 5:
        warnings.append(t("mrl.warn.no_gantry0", lang, angle=angles[ref]))
    ref_phase, masks, geo = {}, {}, {}
    for pos in positions:
        ph = phases.get((temporal[ref], pos))
        if ph is None:
            continue
        ref_phase[pos] = phase_radians(ph, slice_pixels(ph, np.float64))
        mag = mags.get((temporal[ref], pos))
        masks[pos] = phantom_mask(slice_pixels(mag, np.float64)) if mag is not None else np.ones(ref_phase[pos].shape, bool)
        geo[pos] = ph
    if any(mags.get((temporal[ref], p)) is None for p in positions):
        warnings.append(t("mrl.warn.no_magnitude", lang, series=s.label()))
    measurements: list[Measurement] = []
    items: list[dict[str, Any]] = []
    per_angle: list[dict[str, Any]] = []
    for k, tp in enumerate(temporal):
        if k == ref:
            continue
        label = f"{wrapped_deg(angles[k]):+g}°"
        maps = []
        for pos in positions:
            ph = phases.get((tp, pos))
            if ph is None or pos not in ref_phase:
                warnings.append(t("mrl.warn.missing_phase", lang, angle=label, pos=pos))
                continue
            ppm = phase_difference_ppm(phase_radians(ph, slice_pixels(ph, np.float64)), ref_phase[pos], masks[pos], te, f0)
            sm, valid = smooth3(np.nan_to_num(ppm), masks[pos] & np.isfinite(ppm))
            maps.append((sm, valid, geo[pos]))
        row: dict[str, Any] = {t("mrl.col.angle", lang): wrapped_deg(angles[k]), t("mrl.col.temporal", lang): tp}
        summary = {"angle": wrapped_deg(angles[k]), "k": k, "maps": maps, "row": row, "measurements": []}
        for dsv in DSVS_MM:
            vals = np.concatenate([m[0][m[1] & dsv_mask(m[2], dsv, iso)] for m in maps]) if maps else np.zeros(0)
            pk = float(vals.max() - vals.min()) if vals.size else None
            sd = float(vals.std()) if vals.size else None
            mean = float(vals.mean()) if vals.size else None
            tag = f"dsv{dsv:g}"
            for metric, v in (("pk_pk_ppm", pk), ("sd_ppm", sd), ("mean_ppm", mean)):
                name = f"{metric}_{tag}"
                summary["measurements"].append(Measurement(name, v, "ppm", item=label, description=SPEC_METRICS[name].label(lang)))
            summary[tag] = {"pk_pk": pk, "sd": sd, "mean": mean}
            row[f"{t('mrl.col.pk_pk_ppm', lang)} DSV {dsv:g}"] = None if pk is None else round(pk, 4)
            row[f"{t('mrl.col.sd_ppm', lang)} DSV {dsv:g}"] = None if sd is None else round(sd, 4)
            row[f"{t('mrl.col.mean_ppm', lang)} DSV {dsv:g}"] = None if mean is None else round(mean, 4)
        per_angle.append(summary)
    main = f"dsv{DSVS_MM[-1]:g}"
    per_angle = _one_per_position(per_angle, angles, main, warnings, lang)
    for p in per_angle:
        items.append(p["row"])
        measurements.extend(p["measurements"])
    measured = [p for p in per_angle if p[main]["pk_pk"] is not None]
    worst = max(measured, key=lambda p: p[main]["pk_pk"]) if measured else None
    measurements.append(Measurement(f"worst_pk_pk_ppm_{main}", worst[main]["pk_pk"] if worst else None, "ppm", description=SPEC_METRICS[f"worst_pk_pk_ppm_{main}"].label(lang)))
    measurements.append(Measurement("worst_angle_deg", worst["angle"] if worst else None, "°", description=SPEC_METRICS["worst_angle_deg"].label(lang)))
    shifts = [abs(p[main]["mean"]) for p in per_angle if p[main]["mean"] is not None]
    measurements.append(Measurement(f"max_abs_mean_ppm_{main}", max(shifts) if shifts else None, "ppm", description=SPEC_METRICS[f"max_abs_mean_ppm_{main}"].label(lang)))
    overlays = []
    if worst is not None and worst["maps"]:
        tiles = []
        for sm, valid, sh in worst["maps"]:
            cap = t("mrl.gantry.overlay", lang, angle=f"{worst['angle']:+g}", pos=sh.along_normal_mm)
            tiles.append(draw.map_with_circle(draw.diverging(np.where(valid, sm, np.nan), 0.5), None, None, 1, cap))
        overlays.append((t("mrl.gantry.overlay_title", lang, angle=f"{worst['angle']:+g}"), draw.stack([draw.side_by_side(tiles), draw.colour_bar(-0.5, 0.5, "ppm", 512, diverge=True)])))
    return AnalysisResult(
        test=KEY,
        measurements=measurements,
        items=items,
        warnings=warnings,
        acquired_at=acquired,
        files=[x.file for x in s.slices],
        overlays=overlays,
        extra={"per_angle": [{"angle_deg": p["angle"], **{d: p[d] for d in p if d.startswith("dsv")}} for p in per_angle]},
        params={
            "imaging_frequency_mhz": f0,
            "echo_time_ms": te,
            "angles_deg": angles,
            "angles_from": source,
            "reference_temporal_position": temporal[ref],
            "isocentre_mm": list(iso),
            "definition": "ppm = unwrap(arg(exp(i(phi - phi_0)))) / (2 pi TE f0), 2-D unwrap (Herraez), 2pi offset so the median is in (-pi, pi]",
        },
        **identity_of(s.slices),
    )


def charts(result: AnalysisResult, lang: str = "fr") -> list[tuple[str, Any]]:
    """Peak-to-peak and mean ΔB0 against gantry angle (DSV 350 mm)."""
    import altair as alt
    import pandas as pd

    rows = []
    for p in result.extra.get("per_angle", []):
        d = p.get("dsv350") or {}
        for what, key in (("pk_pk", t("mrl.chart.pk_pk", lang)), ("mean", t("mrl.chart.mean", lang))):
            if d.get(what) is not None:
                rows.append({"angle": p["angle_deg"], "ppm": d[what], "what": key})
    if not rows:
        return []
    title = t("mrl.gantry.chart_title", lang)
    ch = (
        alt.Chart(pd.DataFrame(rows))
        .mark_line(point=True)
        .encode(
            x=alt.X("angle:Q", title=t("mrl.chart.angle", lang), scale=alt.Scale(domain=[-185, 185])),
            y=alt.Y("ppm:Q", title="ΔB0 (ppm)"),
            color=alt.Color("what:N", title=""),
            tooltip=["angle", "what", alt.Tooltip("ppm:Q", format=".3f")],
        )
        .properties(title=title)
    )
    return [(title, ch)]


_REF = "Proposé (à confirmer) : programme du consortium MR-Linac (Wetscherek et al.), valeurs de recette Unity"
_METRICS = []
for _dsv in DSVS_MM:
    _t = f"dsv{_dsv:g}"
    _METRICS += [
        MetricSpec(f"pk_pk_ppm_{_t}", "ppm", f"ΔB0 / bras 0° crête à crête (DSV {_dsv:g} mm)", f"ΔB0 vs gantry 0° peak-to-peak (DSV {_dsv:g} mm)", Tolerance.at_most(0.25, 0.5, reference=_REF) if _dsv == 350 else None, better="lower"),
        MetricSpec(f"sd_ppm_{_t}", "ppm", f"ΔB0 / bras 0° écart-type (DSV {_dsv:g} mm)", f"ΔB0 vs gantry 0° SD (DSV {_dsv:g} mm)", None, better="lower"),
        MetricSpec(f"mean_ppm_{_t}", "ppm", f"ΔB0 / bras 0° moyenne (DSV {_dsv:g} mm)", f"ΔB0 vs gantry 0° mean (DSV {_dsv:g} mm)", None),
    ]
_METRICS += [
    MetricSpec("worst_pk_pk_ppm_dsv350", "ppm", "Pire crête à crête sur les angles (DSV 350 mm)", "Worst peak-to-peak over angles (DSV 350 mm)", Tolerance.at_most(0.25, 0.5, reference=_REF), better="lower"),
    MetricSpec("worst_angle_deg", "°", "Angle du bras le plus défavorable", "Worst gantry angle", None, trend=False),
    MetricSpec("max_abs_mean_ppm_dsv350", "ppm", "Décalage moyen max. |ΔB0| (DSV 350 mm)", "Max |mean ΔB0 shift| (DSV 350 mm)", Tolerance.at_most(0.25, 0.5, reference=_REF), better="lower"),
]
SPEC_METRICS = {m.name: m for m in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "2.0"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr="IRM MR-Linac : B0 et angle du bras",
    name_en="MR-Linac MRI: B0 and gantry angle",
    frequency="monthly",
    kind="dicom",
    metrics=tuple(_METRICS),
    analyse=analyse,
    page="pages/mr_b0_gantry.py",
    description_fr="Série FFE dynamique de phase à 13 angles du bras (−180…+180°) : variation de B0 par rapport au bras à 0°, en ppm, dans des sphères de 200 et 350 mm.",
    description_en="Dynamic FFE phase series at 13 gantry angles (−180…+180°): B0 change from gantry 0° in ppm within 200 and 350 mm spheres.",
    accepts=".dcm,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:mr_b0_gantry_demo"
ROUTING = Routing(modality="MR", mr_study=True)
# The menu shows this test under its study page (the page that takes a whole upload and routes it to its tests).
MENU_GROUP = "mr-linac"
# The demo database: the first Tuesday evening of the last full month and of the current one; no series kept on disk.
DEMO = DemoSessions(make="qc.demo_inputs:mr_linac_session", gen="mr_linac", span="monthly", weekday=1, time="19:40",
                    args={"kind": "b0-gantry"}, seed_offset=6, keep_latest=0)
