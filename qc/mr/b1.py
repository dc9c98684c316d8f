"""Relative B1 (transmit field) of the MR-Linac by the double-angle method (test key "mr-b1").

Owns the consortium programme's B1 measure (Wetscherek et al.): two spin-echo series of the same
geometry with nominal flip angles α = 60° and 2α = 120° (FlipAngle), per orientation. With a long TR,
S(α) ∝ sin(B1·α), so S(2α) / S(α) = 2·cos(B1·α) and

    relative B1 = arccos(S120 / (2 · S60)) / (π/3) = arccos(S120 / (2 · S60)) · 3/π   (1 = nominal)

(Insko & Bolinger 1993; Stollberger & Wach 1996). Both images are first averaged 3×3 in-plane inside
the phantom (noise in a ratio would bias the minimum); the ratio is clipped to [−1, 1]. Phantom mask:
the 60° image above 0.3 × its 99th percentile, holes filled, eroded 2 px. Reported per orientation within the
DSV spheres of 200 and 350 mm about the isocentre: mean, 5th and 95th percentiles, and minimum.
Magnitude images cannot tell B1 above 1.5 (S120 changes sign): such pixels read as below 1.5.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qc.errors import QCInputError
from qc.i18n import t
from qc.mr import linac_draw as draw
from qc.mr.linac_series import (
    B1,
    acquisition_of,
    dsv_mask,
    identity_of,
    phantom_mask,
    pixel_coordinates_mm,
    series_of_test,
    slice_pixels,
    SliceHeader,
    smooth3,
)
from qc.tolerances import Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, Routing, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = B1
DSVS_MM = (200.0, 350.0)


def relative_b1(s60: np.ndarray, s120: np.ndarray) -> np.ndarray:
    """arccos(S120 / (2·S60)) · 3/π, NaN where S60 ≤ 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(s60 > 0, s120 / (2.0 * s60), np.nan)
    return np.arccos(np.clip(r, -1.0, 1.0)) * 3.0 / math.pi


def b1_map(sl60: SliceHeader, sl120: SliceHeader) -> tuple[np.ndarray, np.ndarray]:
    """Relative B1 map of one slice pair and its valid pixels (phantom, full 3×3 neighbourhood)."""
    a = slice_pixels(sl60, np.float64)
    b = slice_pixels(sl120, np.float64)
    mask = phantom_mask(a)
    sa, valid = smooth3(a, mask)
    sb, _ = smooth3(b, mask)
    return np.where(valid, relative_b1(sa, sb), np.nan), valid & np.isfinite(sa)


def b1_statistics(v: np.ndarray) -> dict[str, float | None]:
    if v.size == 0:
        return {"mean": None, "p5": None, "p95": None, "min": None, "n": 0}
    return {"mean": float(v.mean()), "p5": float(np.percentile(v, 5)), "p95": float(np.percentile(v, 95)), "min": float(v.min()), "n": int(v.size)}


def pair_slices(slices: list[SliceHeader], lang: str) -> tuple[dict[str, list[tuple[SliceHeader, SliceHeader]]], list[str]]:
    """60°/120° slice pairs of the same orientation, position and matrix, by orientation; what is unpaired."""
    by_key: dict[tuple, dict[int, SliceHeader]] = {}
    for s in slices:
        fa = round(s.flip_angle_deg or 0)
        key = (s.orientation_name, round(s.along_normal_mm, 1), s.rows, s.cols, tuple(np.round(s.orientation, 3)))
        by_key.setdefault(key, {})[fa] = s
    pairs: dict[str, list[tuple[SliceHeader, SliceHeader]]] = {}
    unpaired = []
    for key, d in sorted(by_key.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if 60 in d and 120 in d:
            pairs.setdefault(key[0], []).append((d[60], d[120]))
        else:
            for s in d.values():
                unpaired.append(t("mrl.warn.b1_unpaired", lang, file=s.file.filename, flip=s.flip_angle_deg, pos=s.along_normal_mm))
    return pairs, unpaired


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """Relative B1 per orientation and DSV (see the module docstring)."""
    lang = ctx.lang
    chosen, warnings = series_of_test(inputs, KEY, "b1", lang)
    slices: list[SliceHeader] = [x for s in chosen for x in s.slices]
    pairs, unpaired = pair_slices(slices, lang)
    warnings += unpaired
    if not pairs:
        raise QCInputError("mrl.err.no_series", test=t("mrl.test.b1", lang), what=t("mrl.what.b1", lang))
    iso = tuple(float(v) for v in ctx.options.get("isocentre_mm", (0.0, 0.0, 0.0)))
    used = [x for ps in pairs.values() for p in ps for x in p]
    acquired = acquisition_of(used, ctx.acquired_at)
    measurements: list[Measurement] = []
    items: list[dict[str, Any]] = []
    tiles = []
    worst_min: dict[float, float | None] = {}
    for ori, ps in pairs.items():
        maps = [(*b1_map(a, b), a) for a, b in ps]
        for dsv in DSVS_MM:
            vals = np.concatenate([m[0][m[1] & dsv_mask(m[2], dsv, iso)] for m in maps])
            st = b1_statistics(vals)
            tag = f"dsv{dsv:g}"
            for metric, key in (("mean", "mean"), ("p5", "p5"), ("p95", "p95"), ("min", "min")):
                name = f"b1_{metric}_{tag}"
                measurements.append(Measurement(name, st[key], "", item=ori, description=SPEC_METRICS[name].label(lang)))
            if st["min"] is not None:
                worst_min[dsv] = min(worst_min.get(dsv, math.inf) or math.inf, st["min"])
            else:
                worst_min.setdefault(dsv, None)
            items.append(
                {
                    t("mrl.col.orientation", lang): t(f"mrl.ori.{ori}", lang),
                    "DSV (mm)": dsv,
                    t("mrl.col.pixels", lang): st["n"],
                    **{t(f"mrl.col.b1_{k}", lang): (None if st[k] is None else round(st[k], 4)) for k in ("mean", "p5", "p95", "min")},
                }
            )
        m0 = maps[len(maps) // 2]
        sh = m0[2]
        coords = pixel_coordinates_mm(sh) - np.asarray(iso, float)
        d2 = np.einsum("ijk,ijk->ij", coords, coords)
        r, c = np.unravel_index(int(np.argmin(d2)), d2.shape)
        radius = math.sqrt(max((DSVS_MM[-1] / 2) ** 2 - float(d2[r, c]), 0.0)) / sh.pixel_spacing_mm[0]
        tiles.append(draw.map_with_circle(draw.sequential(m0[0], 0.8, 1.2), (c, r), radius, 1, t(f"mrl.ori.{ori}", lang)))
    for dsv in DSVS_MM:
        name = f"worst_b1_min_dsv{dsv:g}"
        measurements.append(Measurement(name, worst_min.get(dsv), "", description=SPEC_METRICS[name].label(lang)))
    overlays = [(t("mrl.b1.overlay_title", lang), draw.stack([draw.side_by_side(tiles), draw.colour_bar(0.8, 1.2, "", 512)]))]
    return AnalysisResult(
        test=KEY,
        measurements=measurements,
        items=items,
        warnings=warnings,
        acquired_at=acquired,
        files=[x.file for x in used],
        overlays=overlays,
        params={
            "definition": "relative B1 = arccos(S120 / (2 S60)) * 3/pi on 3x3 in-plane means inside the phantom",
            "isocentre_mm": list(iso),
            "dsv_mm": list(DSVS_MM),
        },
        **identity_of(used),
    )


_REF = "Proposé (à confirmer) : programme du consortium MR-Linac (Wetscherek et al.) ; B1 relatif nominal 1"
_METRICS = []
for _dsv in DSVS_MM:
    _t = f"dsv{_dsv:g}"
    main = _dsv == DSVS_MM[-1]
    _METRICS += [
        MetricSpec(f"b1_mean_{_t}", "", f"B1 relatif moyen (DSV {_dsv:g} mm)", f"Mean relative B1 (DSV {_dsv:g} mm)",
                   Tolerance(act_low=0.85, tol_low=0.9, tol_high=1.1, act_high=1.15, reference=_REF) if main else None),
        MetricSpec(f"b1_p5_{_t}", "", f"B1 relatif 5e centile (DSV {_dsv:g} mm)", f"Relative B1 5th percentile (DSV {_dsv:g} mm)", None),
        MetricSpec(f"b1_p95_{_t}", "", f"B1 relatif 95e centile (DSV {_dsv:g} mm)", f"Relative B1 95th percentile (DSV {_dsv:g} mm)", None),
        MetricSpec(f"b1_min_{_t}", "", f"B1 relatif minimum (DSV {_dsv:g} mm)", f"Relative B1 minimum (DSV {_dsv:g} mm)", None),
    ]
    _METRICS.append(
        MetricSpec(f"worst_b1_min_{_t}", "", f"Plus petit B1 relatif des orientations (DSV {_dsv:g} mm)", f"Lowest relative B1 over orientations (DSV {_dsv:g} mm)",
                   Tolerance.at_least(0.8, 0.7, reference=_REF) if main else None, better="higher")
    )
SPEC_METRICS = {m.name: m for m in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "1.0"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr="IRM MR-Linac : B1 (double angle)",
    name_en="MR-Linac MRI: B1 (double angle)",
    frequency="monthly",
    kind="dicom",
    metrics=tuple(_METRICS),
    analyse=analyse,
    page="pages/mr_b1.py",
    description_fr="Deux écho de spin à 60° et 120° par orientation : B1 relatif = arccos(S120 / 2·S60)·3/π (1 = nominal) ; moyenne, 5e/95e centiles et minimum dans des sphères de 200 et 350 mm.",
    description_en="Two spin echoes at 60° and 120° per orientation: relative B1 = arccos(S120 / 2·S60)·3/π (1 = nominal); mean, 5th/95th percentiles and minimum within 200 and 350 mm spheres.",
    accepts=".dcm,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:mr_b1_demo"
ROUTING = Routing(modality="MR", mr_study=True)
# The menu shows this test under its study page (the page that takes a whole upload and routes it to its tests).
MENU_GROUP = "mr-linac"
# The demo database: the first Tuesday evening of the last full month and of the current one.
DEMO = DemoSessions(make="qc.demo_inputs:mr_linac_session", gen="mr_linac", span="monthly", weekday=1, time="19:50",
                    args={"kind": "b1"}, seed_offset=7)
