"""MR image uniformity of a uniform phantom (`mr-uniformity`): NEMA integral uniformity, IPEM fractional
uniformity and ACR percent integral uniformity (PIU).

Owns the uniformity analyser. Every region is placed from the phantom found in the image
(qc.mr.image_rois: centroid and inscribed radius R), in mm:

- NEMA integral uniformity (NEMA MS 3-2008), `integral_uniformity_pct`: the image is smoothed by a 3 × 3
  mean (NEMA's 9-point low-pass filter); inside a disc centred on the phantom covering 75 % of its area
  (radius √0.75·R_eq, R_eq the radius of the disc of the phantom's area, at most R), Smax and Smin are the extreme smoothed pixels;
  U = 100 · (1 − (Smax − Smin)/(Smax + Smin)) %, 100 % = perfectly uniform. Residual noise after smoothing
  biases U low by about 100 · 1.2σ/S points (σ/S = 1/SNR; 0.4 points at SNR 300).
- IPEM fractional uniformity (IPEM Report 112, MagNET method, as hazen): reference = median of a central
  10 × 10 mm square (hazen takes the mode of a 10 × 10 pixel square); a horizontal and a vertical profile
  through the centre, 160 mm long (capped at 90 % of the phantom's extent along it) and 10 mm wide
  (averaged across); fraction of profile points within ±10 % of the reference, in %
  (`fractional_uniformity_horizontal_pct`, `fractional_uniformity_vertical_pct`; hazen reports the fraction).
- ACR percent integral uniformity (ACR Large Phantom Test Guidance 2022 / ACR MRI QC Manual), `piu_pct`:
  inside a disc of 200 cm² (or 75 % of the phantom's area when smaller; at most R) centred on the phantom, the mean
  of a 1 cm² disc is taken at every position fully inside it; high = largest, low = smallest such mean;
  PIU = 100 · (1 − (high − low)/(high + low)) %. The 1 cm² discs are drawn at their positions.

Default limits: PIU ≥ 87.5 % for ≤ 1.5 T (ACR MRI QC Manual 2015 / ACR Large Phantom Test Guidance; 82 %
at 3 T). NEMA MS 3 sets no limit; the ACR figure is used for the integral uniformity too, and 80 % for the
IPEM fractional uniformity as a department proposal. All are editable and dated in Settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from qc.i18n import t
from qc.mr.image_rois import (
    Phantom,
    Roi,
    disc_mm,
    find_phantom,
    identity,
    image_label,
    images_for_test,
    overlay,
    uniform_images,
    rect_mm,
    rounded,
)
from qc.tolerances import Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = "mr-uniformity"
NEMA_AREA_FRACTION = 0.75
PROFILE_LENGTH_MM = 160.0
PROFILE_WIDTH_MM = 10.0
CENTRAL_SQUARE_MM = 10.0
FRACTION_BAND = 0.10
PIU_LARGE_AREA_MM2 = 20000.0  # 200 cm²
PIU_SMALL_AREA_MM2 = 100.0  # 1 cm²


@dataclass
class UniformityMeasurement:
    integral_uniformity_pct: float | None
    fractional_horizontal_pct: float | None
    fractional_vertical_pct: float | None
    piu_pct: float | None
    rois: list[Roi] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def _disc_mask(shape: tuple[int, int], centre: tuple[float, float], radius_px: float) -> np.ndarray:
    rr, cc = np.ogrid[:shape[0], :shape[1]]
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius_px ** 2


def nema_integral_uniformity(image: np.ndarray, phantom: Phantom, spacing: tuple[float, float]
                             ) -> tuple[float | None, list[Roi], dict[str, Any]]:
    """NEMA MS 3 integral uniformity (module docstring) with the measured disc and the extreme pixels."""
    # 75 % of the phantom's area, kept inside the phantom (a notch makes the inscribed radius the limit).
    radius = min(math.sqrt(NEMA_AREA_FRACTION) * phantom.equivalent_radius_px, phantom.inscribed_radius_px)
    # Work on the bounding box of the disc only (speed on 512² images).
    r0 = max(0, int(phantom.centre_rc[0] - radius) - 2)
    r1 = min(image.shape[0], int(phantom.centre_rc[0] + radius) + 3)
    c0 = max(0, int(phantom.centre_rc[1] - radius) - 2)
    c1 = min(image.shape[1], int(phantom.centre_rc[1] + radius) + 3)
    sub = np.asarray(image[r0:r1, c0:c1], dtype=np.float32)
    smooth = ndimage.uniform_filter(sub, 3, mode="nearest")
    mask = _disc_mask(sub.shape, (phantom.centre_rc[0] - r0, phantom.centre_rc[1] - c0), radius)
    mask &= phantom.mask[r0:r1, c0:c1]
    if mask.sum() < 9:
        return None, [], {}
    vals = np.where(mask, smooth, np.nan)
    i_max = np.unravel_index(np.nanargmax(vals), vals.shape)
    i_min = np.unravel_index(np.nanargmin(vals), vals.shape)
    s_max, s_min = float(vals[i_max]), float(vals[i_min])
    u = 100.0 * (1.0 - (s_max - s_min) / (s_max + s_min)) if s_max + s_min > 0 else None
    region = Roi("disc", phantom.centre_rc, (radius, radius), "region", "NEMA 75 %")
    hi = Roi("disc", (i_max[0] + r0, i_max[1] + c0), (2.0, 2.0), "extreme_high", "max", s_max)
    lo = Roi("disc", (i_min[0] + r0, i_min[1] + c0), (2.0, 2.0), "extreme_low", "min", s_min)
    return u, [region, hi, lo], {"nema_max": s_max, "nema_min": s_min, "nema_radius_mm": radius * math.sqrt(
        spacing[0] * spacing[1])}


def ipem_fractional_uniformity(image: np.ndarray, phantom: Phantom, spacing: tuple[float, float]
                               ) -> tuple[float | None, float | None, list[Roi], dict[str, Any]]:
    """IPEM/MagNET fractional uniformity along the horizontal and the vertical profiles, in %."""
    cr, cc = phantom.centre_rc
    central = rect_mm((cr, cc), CENTRAL_SQUARE_MM, CENTRAL_SQUARE_MM, spacing, "signal", "réf.")
    ref = float(np.median(central.values(image)))
    r0, r1, c0, c1 = phantom.bbox
    len_h = min(PROFILE_LENGTH_MM, 0.9 * (c1 - c0 + 1) * spacing[1])
    len_v = min(PROFILE_LENGTH_MM, 0.9 * (r1 - r0 + 1) * spacing[0])
    horiz = rect_mm((cr, cc), PROFILE_WIDTH_MM, len_h, spacing, "profile", "H")
    vert = rect_mm((cr, cc), len_v, PROFILE_WIDTH_MM, spacing, "profile", "V")
    out = []
    for roi, axis in ((horiz, 0), (vert, 1)):
        rr0, rr1, cc0, cc1 = roi.bounds(image.shape)
        profile = np.asarray(image[rr0:rr1, cc0:cc1], dtype=np.float64).mean(axis=axis)
        if ref <= 0 or profile.size == 0:
            out.append(None)
            continue
        inside = (profile > (1 - FRACTION_BAND) * ref) & (profile < (1 + FRACTION_BAND) * ref)
        roi.value = 100.0 * float(inside.mean())
        out.append(roi.value)
    central.value = ref
    return out[0], out[1], [central, horiz, vert], {"ipem_reference": ref, "profile_h_mm": len_h, "profile_v_mm": len_v}


def percent_integral_uniformity(image: np.ndarray, phantom: Phantom, spacing: tuple[float, float]
                                ) -> tuple[float | None, list[Roi], dict[str, Any]]:
    """ACR PIU (module docstring): 1 cm² disc means over every position inside the large disc."""
    px_area = spacing[0] * spacing[1]
    phantom_area_mm2 = phantom.area_px * px_area
    large_area = min(PIU_LARGE_AREA_MM2, NEMA_AREA_FRACTION * phantom_area_mm2)
    large_r = min(math.sqrt(large_area / math.pi / px_area), phantom.inscribed_radius_px)
    large_area = math.pi * large_r ** 2 * px_area
    small_r = math.sqrt(PIU_SMALL_AREA_MM2 / math.pi / px_area)
    if large_r <= small_r + 1:
        return None, [], {}
    cr, cc = phantom.centre_rc
    r0 = max(0, int(cr - large_r) - 2)
    r1 = min(image.shape[0], int(cr + large_r) + 3)
    c0 = max(0, int(cc - large_r) - 2)
    c1 = min(image.shape[1], int(cc + large_r) + 3)
    sub = np.asarray(image[r0:r1, c0:c1], dtype=np.float64)
    means = disc_means(sub, small_r)
    valid = _disc_mask(sub.shape, (cr - r0, cc - c0), large_r - small_r)
    if not valid.any():
        return None, [], {}
    vals = np.where(valid, means, np.nan)
    i_max = np.unravel_index(np.nanargmax(vals), vals.shape)
    i_min = np.unravel_index(np.nanargmin(vals), vals.shape)
    high, low = float(vals[i_max]), float(vals[i_min])
    piu = 100.0 * (1.0 - (high - low) / (high + low)) if high + low > 0 else None
    rois = [
        Roi("disc", (cr, cc), (large_r, large_r), "region", "PIU"),
        Roi("disc", (i_max[0] + r0, i_max[1] + c0), (small_r, small_r), "extreme_high", "haut", high),
        Roi("disc", (i_min[0] + r0, i_min[1] + c0), (small_r, small_r), "extreme_low", "bas", low),
    ]
    return piu, rois, {"piu_high": high, "piu_low": low, "piu_area_cm2": large_area / 100.0}


def disc_means(image: np.ndarray, radius_px: float) -> np.ndarray:
    """Mean over a disc of `radius_px` around every pixel (edges replicated), from running sums along the
    rows: one shifted difference of cumulative sums per row of the disc (exact disc, no Fourier)."""
    k = int(math.floor(radius_px))
    pad = np.pad(np.asarray(image, dtype=np.float64), k + 1, mode="edge")
    csum = np.cumsum(pad, axis=1)
    rows, cols = image.shape
    total = np.zeros((rows, cols))
    count = 0
    for dy in range(-k, k + 1):
        w = int(math.floor(math.sqrt(max(radius_px ** 2 - dy ** 2, 0.0))))
        r_slice = slice(k + 1 + dy, k + 1 + dy + rows)
        hi = csum[r_slice, k + 1 + w: k + 1 + w + cols]
        lo = csum[r_slice, k - w: k - w + cols]
        total += hi - lo
        count += 2 * w + 1
    return total / count


def measure_uniformity(image: np.ndarray, spacing: tuple[float, float], phantom: Phantom | None = None,
                       file: str = "?") -> UniformityMeasurement:
    """The three uniformity figures of one image of a uniform phantom."""
    phantom = phantom or find_phantom(image, file)
    u, rois_u, det_u = nema_integral_uniformity(image, phantom, spacing)
    fh, fv, rois_f, det_f = ipem_fractional_uniformity(image, phantom, spacing)
    piu, rois_p, det_p = percent_integral_uniformity(image, phantom, spacing)
    return UniformityMeasurement(u, fh, fv, piu, rois_u + rois_f + rois_p, {**det_u, **det_f, **det_p})


# ---------------------------------------------------------------- analyser


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """Uniformity of every image; the session value of each figure is its worst (lowest) image."""
    lang = ctx.lang
    slices, warnings = images_for_test(inputs, lang)
    analysed = uniform_images(slices, lang, warnings)  # sections with grids, rods, ramps... are listed and skipped
    slices = [a[0] for a in analysed]
    items: list[dict[str, Any]] = []
    overlays: list[tuple[str, np.ndarray]] = []
    per: dict[str, list[float]] = {k: [] for k in ("integral_uniformity_pct", "fractional_uniformity_horizontal_pct",
                                                   "fractional_uniformity_vertical_pct", "piu_pct")}
    for s, img, ph in analysed:
        m = measure_uniformity(img, s.pixel_spacing_mm, ph, s.label)
        values = {"integral_uniformity_pct": m.integral_uniformity_pct,
                  "fractional_uniformity_horizontal_pct": m.fractional_horizontal_pct,
                  "fractional_uniformity_vertical_pct": m.fractional_vertical_pct, "piu_pct": m.piu_pct}
        for k, v in values.items():
            if v is not None:
                per[k].append(v)
        items.append({"image": image_label(s, lang), "file": s.label, **{k: rounded(v, 2) for k, v in values.items()},
                      **{k: rounded(v, 2) for k, v in m.details.items()}})
        overlays.append((t("uni.overlay", lang, image=image_label(s, lang)), overlay(img, m.rois, ph)))
    measurements = []
    for name in per:
        spec = SPEC_METRICS[name]
        value = min(per[name]) if len(per[name]) == len(slices) and per[name] else None
        measurements.append(Measurement(name, value, spec.unit, description=spec.label(lang),
                                        reference=spec.tolerance.reference if spec.tolerance else ""))
    spec = SPEC_METRICS["n_images"]
    measurements.append(Measurement("n_images", float(len(slices)), "", description=spec.label(lang)))
    return AnalysisResult(
        test=KEY, measurements=measurements, items=items, warnings=warnings, overlays=overlays,
        **identity(slices, lang, ctx.acquired_at),
        params={
            "nema": "U = 100*(1-(Smax-Smin)/(Smax+Smin)), 3x3 mean, disc of 75 % of the phantom area",
            "ipem": "fraction of a 160 mm x 10 mm profile within +/-10 % of the median of a central 10 mm square",
            "piu": "PIU = 100*(1-(high-low)/(high+low)), 1 cm2 disc means inside a 200 cm2 disc",
            "session_value": "lowest image",
        },
    )


# ---------------------------------------------------------------- spec

SPEC_NAME = {"fr": "IRM — uniformité", "en": "MR — uniformity"}
_REF_ACR = "ACR MRI QC Manual 2015 / ACR Large Phantom Test Guidance : PIU ≥ 87,5 % (≤ 1,5 T)"
_TOL_PIU = Tolerance.at_least(87.5, 82.0, reference=_REF_ACR + " ; action à 82 % (limite 3 T)")
_TOL_NEMA = Tolerance.at_least(87.5, 82.0, reference="NEMA MS 3-2008 (méthode) ; limites ACR " + _REF_ACR.split(" : ")[1])
_TOL_IPEM = Tolerance.at_least(80.0, 70.0, reference="IPEM Report 112 (méthode MagNET) ; limites proposées par le service")

_METRICS = (
    MetricSpec("integral_uniformity_pct", "%", "Uniformité intégrale (NEMA)", "Integral uniformity (NEMA)", _TOL_NEMA,
               better="higher"),
    MetricSpec("fractional_uniformity_horizontal_pct", "%", "Uniformité fractionnelle horizontale (IPEM)",
               "Fractional uniformity, horizontal (IPEM)", _TOL_IPEM, better="higher"),
    MetricSpec("fractional_uniformity_vertical_pct", "%", "Uniformité fractionnelle verticale (IPEM)",
               "Fractional uniformity, vertical (IPEM)", _TOL_IPEM, better="higher"),
    MetricSpec("piu_pct", "%", "Uniformité intégrale en pourcentage (ACR)", "Percent integral uniformity (ACR)",
               _TOL_PIU, better="higher"),
    MetricSpec("n_images", "", "Nombre d'images", "Number of images", None, trend=False),
)
SPEC_METRICS = {m.name: m for m in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "1.0"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr=SPEC_NAME["fr"],
    name_en=SPEC_NAME["en"],
    frequency="weekly",
    kind="dicom",
    metrics=_METRICS,
    analyse=analyse,
    page="pages/mr_uniformity.py",
    description_fr=(
        "Fantôme uniforme : uniformité intégrale NEMA MS 3 (75 % de la surface), uniformité fractionnelle IPEM "
        "(profils de 160 mm) et PIU de l'ACR (ROI de 1 cm² dans 200 cm²), régions placées sur le fantôme trouvé."
    ),
    description_en=(
        "Uniform phantom: NEMA MS 3 integral uniformity (75 % of the area), IPEM fractional uniformity (160 mm "
        "profiles) and ACR PIU (1 cm² ROIs within 200 cm²), regions placed on the phantom found in the image."
    ),
    accepts=".dcm,.ima,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:mr_uniformity_demo"
ROUTING = None  # received MR phantom images are not routed to the image-quality tests yet: they are uploaded on their study page
# The menu shows this test under its study page (the page that takes a whole upload and routes it to its tests).
MENU_GROUP = "mr-image"
# The demo database: every Wednesday of the last full month and the current one, after the SNR.
DEMO = DemoSessions(make="qc.demo_inputs:mr_flood_session", gen="mr_flood", span="month", weekday=2, time="08:10",
                    args={"kind": "uniformity"}, seed_offset=1)
