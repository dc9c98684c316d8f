"""B0 homogeneity of the MR-Linac magnet from Philips B0 map series (test key "mr-b0").

Owns the analyser of the consortium programme's B0 measure (Wetscherek et al., "Longitudinal
stability of MRI QA up to 2 years on 8 clinical 1.5 T MR-Linacs"): for each B0 map series
(ImageType contains "B0 MAP", pixels rescaled to Hz by RescaleSlope/Intercept, RescaleType "Hz"; one
series per orientation, 5 slices each), within spheres of diameter DSV 200, 300 and 350 mm about the
isocentre and inside the phantom:

- ΔB0 (ppm) = B0 map (Hz) / ImagingFrequency (MHz);
- peak-to-peak = max − min, SD = standard deviation, P95 = 95th percentile of |ΔB0 − mean|,
  over the pixels of every slice of the series inside the DSV and inside the phantom.

Phantom mask: the magnitude images of the same series (same slice position) above 0.3 × their 99th percentile,
holes filled, eroded by 2 pixels; without magnitude images, pixels whose 3×3 neighbourhood varies by
less than 10 Hz (outside the phantom the console writes random values). Every statistic is taken on
the 3×3 in-plane mean of the map over the mask (kept where the whole neighbourhood is in the mask):
noise SD falls by 3 so the peak-to-peak is not inflated by noise, while a smooth field is unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from qc.errors import QCInputError
from qc.i18n import t
from qc.mr import linac_draw as draw
from qc.mr.linac_series import (
    B0,
    acquisition_of,
    dsv_mask,
    identity_of,
    imaging_frequency_of,
    phantom_mask,
    pixel_coordinates_mm,
    series_of_test,
    SeriesHeaders,
    slice_pixels,
    smooth3,
)
from qc.tolerances import Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, Routing, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = B0
DSVS_MM = (200.0, 300.0, 350.0)
MAIN_DSV_MM = 350.0
FLAT_HZ = 10.0  # mask without magnitude: 3×3 range below this


def _mask_from_map(hz: np.ndarray) -> np.ndarray:
    """Phantom pixels of a B0 map without its magnitude image: where the map is smooth (3×3 range below
    FLAT_HZ), less a background written as one constant value (a console that fills the outside of the
    phantom with 0 Hz rather than random phase): exactly constant pixels connected to the image edge. A
    measured field inside the phantom is never exactly constant out to the edge, so nothing inside is lost."""
    from scipy import ndimage

    rng = ndimage.maximum_filter(hz, 3) - ndimage.minimum_filter(hz, 3)
    labels, _ = ndimage.label(rng == 0)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    filled_background = np.isin(labels, edge[edge > 0])
    m = ndimage.binary_opening((rng < FLAT_HZ) & ~filled_background, iterations=2)
    return ndimage.binary_erosion(ndimage.binary_fill_holes(m), iterations=2)


def series_ppm_maps(series: SeriesHeaders, f0_mhz: float) -> list[dict[str, Any]]:
    """Per B0-map slice: the smoothed ppm map, its valid mask (phantom, full 3×3), and its header."""
    mags = {round(s.along_normal_mm, 1): s for s in series.slices if s.is_magnitude}
    out = []
    for s in series.slices:
        if not s.is_b0_map:
            continue
        hz = slice_pixels(s, np.float64)
        mag = mags.get(round(s.along_normal_mm, 1))
        mask = phantom_mask(slice_pixels(mag, np.float64)) if mag is not None else _mask_from_map(hz)
        sm, valid = smooth3(hz / f0_mhz, mask)
        out.append({"header": s, "ppm": sm, "valid": valid, "masked_by": "magnitude" if mag is not None else "map"})
    return out


def b0_statistics(values: np.ndarray) -> dict[str, float | None]:
    """Peak-to-peak, SD and P95 |ΔB0 − mean| (ppm) of the values; None when there are none."""
    if values.size == 0:
        return {"pk_pk": None, "sd": None, "p95": None, "mean": None, "n": 0}
    mean = float(values.mean())
    return {
        "pk_pk": float(values.max() - values.min()),
        "sd": float(values.std()),
        "p95": float(np.percentile(np.abs(values - mean), 95)),
        "mean": mean,
        "n": int(values.size),
    }


def _overlay(maps: list[dict[str, Any]], orientation: str, iso, lang: str) -> np.ndarray:
    """The central slice's ppm map (±1 ppm, blue-white-red) with the DSV 350 outline."""
    mid = maps[len(maps) // 2]
    sh = mid["header"]
    vals = np.where(mid["valid"], mid["ppm"] - np.nanmean(mid["ppm"][mid["valid"]]) if mid["valid"].any() else 0.0, np.nan)
    rgb = draw.diverging(vals, 1.0)
    coords = pixel_coordinates_mm(sh) - np.asarray(iso, float)
    d2 = np.einsum("ijk,ijk->ij", coords, coords)
    r, c = np.unravel_index(int(np.argmin(d2)), d2.shape)
    plane_dist = float(np.sqrt(d2[r, c]))
    radius = np.sqrt(max((MAIN_DSV_MM / 2) ** 2 - plane_dist**2, 0.0)) / sh.pixel_spacing_mm[0]
    cap = t("mrl.b0.overlay", lang, orientation=t(f"mrl.ori.{orientation}", lang), pos=sh.along_normal_mm)
    return draw.stack([draw.map_with_circle(rgb, (c, r), radius, 2, cap, caption_size=22), draw.colour_bar(-1.0, 1.0, "ppm", 512, diverge=True)])


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """B0 homogeneity per orientation and DSV (see the module docstring)."""
    lang = ctx.lang
    b0_series, warnings = series_of_test(inputs, KEY, "b0", lang)
    if not b0_series:
        raise QCInputError("mrl.err.no_series", test=t("mrl.test.b0", lang), what=t("mrl.what.b0", lang))
    iso = tuple(float(v) for v in ctx.options.get("isocentre_mm", (0.0, 0.0, 0.0)))
    all_slices = [x for s in b0_series for x in s.slices]
    acquired = acquisition_of(all_slices, ctx.acquired_at)
    f0 = imaging_frequency_of(all_slices, ctx.options)
    measurements: list[Measurement] = []
    items: list[dict[str, Any]] = []
    overlays: list[tuple[str, np.ndarray]] = []
    seen: dict[str, int] = {}
    worst: dict[float, float | None] = {}
    for s in b0_series:
        maps = series_ppm_maps(s, f0)
        if not maps:
            warnings.append(t("mrl.warn.no_b0_images", lang, series=s.label()))
            continue
        ori = maps[0]["header"].orientation_name
        seen[ori] = seen.get(ori, 0) + 1
        item = ori if seen[ori] == 1 else f"{ori} #{seen[ori]}"
        if maps[0]["masked_by"] == "map":
            warnings.append(t("mrl.warn.no_magnitude", lang, series=s.label()))
        for dsv in DSVS_MM:
            vals = np.concatenate([m["ppm"][m["valid"] & dsv_mask(m["header"], dsv, iso)] for m in maps])
            st = b0_statistics(vals)
            tag = f"dsv{dsv:g}"
            for metric, key in (("pk_pk_ppm", "pk_pk"), ("sd_ppm", "sd"), ("p95_ppm", "p95")):
                name = f"{metric}_{tag}"
                measurements.append(Measurement(name, st[key], "ppm", item=item, description=SPEC_METRICS[name].label(lang)))
            if st["pk_pk"] is not None:
                worst[dsv] = max(worst.get(dsv) or 0.0, st["pk_pk"])
            else:
                worst.setdefault(dsv, None)
            items.append(
                {
                    t("mrl.col.orientation", lang): t(f"mrl.ori.{ori}", lang),
                    t("mrl.col.series", lang): s.label(),
                    "DSV (mm)": dsv,
                    t("mrl.col.pixels", lang): st["n"],
                    t("mrl.col.mean_ppm", lang): None if st["mean"] is None else round(st["mean"], 4),
                    t("mrl.col.pk_pk_ppm", lang): None if st["pk_pk"] is None else round(st["pk_pk"], 4),
                    t("mrl.col.sd_ppm", lang): None if st["sd"] is None else round(st["sd"], 4),
                    t("mrl.col.p95_ppm", lang): None if st["p95"] is None else round(st["p95"], 4),
                }
            )
        overlays.append((t("mrl.b0.overlay_title", lang, orientation=t(f"mrl.ori.{ori}", lang), series=s.label()), _overlay(maps, ori, iso, lang)))
    if not items:
        raise QCInputError("mrl.err.no_series", test=t("mrl.test.b0", lang), what=t("mrl.what.b0", lang))
    for dsv in DSVS_MM:
        name = f"worst_pk_pk_ppm_dsv{dsv:g}"
        measurements.append(Measurement(name, worst.get(dsv), "ppm", description=SPEC_METRICS[name].label(lang)))
    return AnalysisResult(
        test=KEY,
        measurements=measurements,
        items=items,
        warnings=warnings,
        acquired_at=acquired,
        files=[x.file for x in all_slices],
        overlays=overlays,
        params={
            "imaging_frequency_mhz": f0,
            "isocentre_mm": list(iso),
            "dsv_mm": list(DSVS_MM),
            "definition": "ppm = Hz / f0 (MHz); pk-pk = max - min, SD, P95 |dB0 - mean|, on the 3x3 in-plane mean inside the phantom and the DSV sphere",
            "mask": "magnitude > 0.3 x its 99th percentile, holes filled, eroded 2 px (else 3x3 range of the map < 10 Hz)",
        },
        **identity_of(all_slices),
    )


# ---------------------------------------------------------------- spec

# Limits: the consortium practice is constancy; the defaults below are proposed for the department to
# confirm against the Unity acceptance values of its own magnet (Philips/Elekta specification).
_REF = "Proposé (à confirmer) : spécification Philips/Elekta Unity à la recette ; programme du consortium MR-Linac (Wetscherek et al.), valeurs de recette"
_METRICS: list[MetricSpec] = []
for _dsv, _pk, _sd in ((200.0, (0.5, 1.0), (0.1, 0.2)), (300.0, (1.0, 1.5), (0.2, 0.3)), (350.0, (1.5, 2.0), (0.3, 0.4))):
    _t = f"dsv{_dsv:g}"
    _METRICS += [
        MetricSpec(f"pk_pk_ppm_{_t}", "ppm", f"ΔB0 crête à crête (DSV {_dsv:g} mm)", f"ΔB0 peak-to-peak (DSV {_dsv:g} mm)", Tolerance.at_most(*_pk, reference=_REF), better="lower"),
        MetricSpec(f"sd_ppm_{_t}", "ppm", f"ΔB0 écart-type (DSV {_dsv:g} mm)", f"ΔB0 standard deviation (DSV {_dsv:g} mm)", Tolerance.at_most(*_sd, reference=_REF), better="lower"),
        MetricSpec(f"p95_ppm_{_t}", "ppm", f"ΔB0 95e centile |ΔB0 − moyenne| (DSV {_dsv:g} mm)", f"ΔB0 95th percentile |ΔB0 − mean| (DSV {_dsv:g} mm)", None, better="lower"),
    ]
for _dsv, _pk in ((200.0, (0.5, 1.0)), (300.0, (1.0, 1.5)), (350.0, (1.5, 2.0))):
    _METRICS.append(
        MetricSpec(f"worst_pk_pk_ppm_dsv{_dsv:g}", "ppm", f"Pire crête à crête des orientations (DSV {_dsv:g} mm)", f"Worst peak-to-peak over orientations (DSV {_dsv:g} mm)", Tolerance.at_most(*_pk, reference=_REF), better="lower")
    )
SPEC_METRICS = {m.name: m for m in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "1.1"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr="IRM MR-Linac : homogénéité B0",
    name_en="MR-Linac MRI: B0 homogeneity",
    frequency="monthly",
    kind="dicom",
    metrics=tuple(_METRICS),
    analyse=analyse,
    page="pages/mr_b0.py",
    description_fr="Cartes B0 Philips (Hz) des trois orientations : ΔB0 en ppm dans des sphères de 200, 300 et 350 mm autour de l'isocentre, dans le fantôme (crête à crête, écart-type, 95e centile).",
    description_en="Philips B0 maps (Hz) of the three orientations: ΔB0 in ppm within 200, 300 and 350 mm spheres about the isocentre, inside the phantom (peak-to-peak, SD, 95th percentile).",
    accepts=".dcm,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:mr_b0_demo"
ROUTING = Routing(modality="MR", mr_study=True)
# The menu shows this test under its study page (the page that takes a whole upload and routes it to its tests).
MENU_GROUP = "mr-linac"
# The demo database: the first Tuesday evening of the last full month and of the current one; no series kept on disk.
DEMO = DemoSessions(make="qc.demo_inputs:mr_linac_session", gen="mr_linac", span="monthly", weekday=1, time="19:30",
                    args={"kind": "b0"}, seed_offset=5, keep_latest=0)
