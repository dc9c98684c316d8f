"""Geometric accuracy of MR images: rod/hole distances or phantom diameters against nominal (test key "mr-geometry").

Owns, for each image of an upload:
- Rod grid (MagNET/IPEM geometry plate, any rectangular grid of signal-free rods or holes): rods are the
  small deep dips of the image relative to the smooth fluid signal; each centre is the dip-weighted
  centroid (sub-pixel); rods are grouped in rows and columns; distances between neighbours and between
  the outer rods of each row/column (true mm: row and column spacings may differ) are compared with the
  nominal pitch (option `rod_pitch_mm`, default 60 mm: the MagNET grid, 120 mm between outer rods).
- Without a rod grid, a round phantom: diameters at 0°, 45°, 90°, 135° against the nominal diameter
  (option `phantom_diameter_mm`, default 190 mm: ACR large phantom). Each diameter = median over ±8° of
  the distance between opposite edge points, an edge point being the outermost crossing of the half level
  between background and fluid on a radial profile (the median keeps a notch or marker out).
- `max_distortion_mm` = largest |measured − nominal| over every distance; `linearity_pct` = largest
  100·|measured/nominal − 1| over the longest distances (outer rods, or diameters): the NEMA MS-2 percent
  geometric distortion. References: NEMA MS-2, IPEM Report 112, ACR MRI QC manual (190 ± 2 mm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from qc.errors import QCInputError
from qc.i18n import t
from qc.mr.phantom_geometry import MRImage, Overlay, Phantom, find_phantom, fluid_background, identity_of, load_images_of
from qc.records.tolerances import Tolerance
from qc.registry import AnalysisContext, MetricSpec, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = "mr-geometry"
DEFAULT_ROD_PITCH_MM = 60.0
DEFAULT_DIAMETER_MM = 190.0
DIAMETER_ANGLES_DEG = (0.0, 45.0, 90.0, 135.0)


@dataclass
class Distance:
    """One measured distance between two points (pixel coordinates (row, col)), with its nominal."""

    label: str
    a_rc: tuple[float, float]
    b_rc: tuple[float, float]
    length_mm: float | None
    nominal_mm: float
    longest: bool  # an outer span (counts for the linearity)

    @property
    def error_mm(self) -> float | None:
        return None if self.length_mm is None else self.length_mm - self.nominal_mm


@dataclass
class GeometryResult:
    label: str
    method: str  # "rods" or "diameters"
    distances: list[Distance]
    rods_rc: list[tuple[float, float]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def max_distortion_mm(self) -> float | None:
        errs = [d.error_mm for d in self.distances]
        if not errs or any(e is None for e in errs):
            return None
        return max(abs(e) for e in errs)

    @property
    def linearity_pct(self) -> float | None:
        longs = [d for d in self.distances if d.longest]
        if not longs or any(d.length_mm is None for d in longs):
            return None
        return max(100.0 * abs(d.length_mm / d.nominal_mm - 1.0) for d in longs)


# ---------------------------------------------------------------- rods


def find_rods(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float]) -> list[tuple[float, float]]:
    """Centres (row, col) of the small signal-free rods/holes inside the phantom: regions below 60 % of the
    local fluid signal, 2–80 mm², compact; centre = centroid weighted by the dip depth (1 − ratio)."""
    bg = fluid_background(img)
    inner = ndimage.binary_erosion(ph.mask, iterations=max(1, int(0.04 * ph.radius_px)))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(inner, img / np.maximum(bg, 1e-9), 1.0)
    deep = inner & (ndimage.gaussian_filter(ratio, 0.7) < 0.6)
    labels, n = ndimage.label(deep)
    px_area = spacing_rc[0] * spacing_rc[1]
    rods = []
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        area = np.sum(labels[sl] == i) * px_area
        h_mm = (sl[0].stop - sl[0].start) * spacing_rc[0]
        w_mm = (sl[1].stop - sl[1].start) * spacing_rc[1]
        if not (2.0 <= area <= 80.0) or max(h_mm, w_mm) > 2.5 * max(1e-6, min(h_mm, w_mm)) + 2:
            continue
        # weighted centroid over a window 1.5x the blob around it
        r0 = max(0, sl[0].start - 2)
        r1 = min(img.shape[0], sl[0].stop + 2)
        c0 = max(0, sl[1].start - 2)
        c1 = min(img.shape[1], sl[1].stop + 2)
        w = np.clip(1.0 - ratio[r0:r1, c0:c1], 0, None)
        w = np.where(w > 0.2, w, 0.0)
        if w.sum() <= 0:
            continue
        rr, cc = np.mgrid[r0:r1, c0:c1]
        rods.append((float((w * rr).sum() / w.sum()), float((w * cc).sum() / w.sum())))
    return rods


def _groups(values: np.ndarray, gap: float) -> list[np.ndarray]:
    """Indices grouped where sorted values jump by more than `gap`."""
    order = np.argsort(values)
    groups, cur = [], [order[0]]
    for a, b in zip(order[:-1], order[1:]):
        if values[b] - values[a] > gap:
            groups.append(np.asarray(cur))
            cur = []
        cur.append(b)
    groups.append(np.asarray(cur))
    return groups


def rod_distances(rods: list[tuple[float, float]], spacing_rc: tuple[float, float], pitch_mm: float) -> list[Distance]:
    """Distances between neighbouring rods in each row and column, and between the outer rods of each."""
    pts = np.asarray(rods)
    mm = pts * np.asarray(spacing_rc)
    gap = 0.4 * pitch_mm
    out: list[Distance] = []

    def dist(i, j):
        return float(np.hypot(*(mm[i] - mm[j])))

    for axis, name in ((0, "h"), (1, "v")):  # rows share a y (axis 0 = row mm), sorted along the other axis
        for gi, g in enumerate(_groups(mm[:, axis], gap), start=1):
            if len(g) < 2:
                continue
            g = g[np.argsort(mm[g, 1 - axis])]
            for k in range(len(g) - 1):
                out.append(Distance(f"{name}{gi}.{k + 1}", tuple(pts[g[k]]), tuple(pts[g[k + 1]]), dist(g[k], g[k + 1]), pitch_mm, False))
            if len(g) > 2:
                out.append(Distance(f"{name}{gi}", tuple(pts[g[0]]), tuple(pts[g[-1]]), dist(g[0], g[-1]), pitch_mm * (len(g) - 1), True))
    return out


# ---------------------------------------------------------------- diameters


def edge_radii_mm(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float], angles_deg: np.ndarray) -> np.ndarray:
    """Distance (mm) from the phantom centre to its edge along each angle (0 = +col, 90 = +row): the
    outermost crossing of the half level on a radial profile walked from outside in (NaN if none)."""
    r_max = 1.4 * ph.radius_px
    step = 0.25
    s = np.arange(0.6 * ph.radius_px, r_max, step)
    out = np.full(len(angles_deg), np.nan)
    a = np.radians(angles_deg)
    rows = ph.centre_rc[0] + np.outer(np.sin(a), s)
    cols = ph.centre_rc[1] + np.outer(np.cos(a), s)
    vals = ndimage.map_coordinates(img, [rows.ravel(), cols.ravel()], order=1, mode="constant", cval=ph.background).reshape(rows.shape)
    above = vals >= ph.level
    has = above.any(axis=1)
    last = vals.shape[1] - 1 - np.argmax(above[:, ::-1], axis=1)  # outermost sample above the level
    nxt = np.minimum(last + 1, vals.shape[1] - 1)
    rows_i = np.arange(len(a))
    v0, v1 = vals[rows_i, last], vals[rows_i, nxt]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(v1 != v0, (ph.level - v0) / (v1 - v0), 0.0)
    k = last + np.clip(frac, 0.0, 1.0)
    scale = np.hypot(np.sin(a) * spacing_rc[0], np.cos(a) * spacing_rc[1])
    out = np.where(has & (last < vals.shape[1] - 1), (s[0] + k * step) * scale, np.nan)
    return out


def diameters(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float], nominal_mm: float,
              angles_deg: tuple[float, ...] = DIAMETER_ANGLES_DEG, window_deg: float = 8.0) -> list[Distance]:
    """Diameters through the centre at each angle: median over ±`window_deg` of r(θ) + r(θ + 180°), where
    edge points lying more than 1.5 mm off the local median radius (±45°: a notch, a marker, an
    insert touching the wall) are left out; where they fill the window it widens (±16°, ±24°)."""
    step = 0.5
    all_deg = np.arange(0.0, 360.0, step)
    r = edge_radii_mm(img, ph, spacing_rc, all_deg)
    k = int(45 / step)
    padded = np.concatenate([r[-k:], r, r[:k]])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1)
    ref = np.nanmedian(windows, axis=1)
    r = np.where(np.abs(r - ref) <= 1.5, r, np.nan)
    n = len(all_deg)
    out = []
    for ang in angles_deg:
        length = None
        for w in (window_deg, 2 * window_deg, 3 * window_deg):
            idx = (np.round((ang + np.arange(-w, w + 1e-9, step)) / step).astype(int)) % n
            opp = (idx + n // 2) % n
            d = r[idx] + r[opp]
            d = d[np.isfinite(d)]
            if d.size >= int(2 * window_deg / step) // 2:
                length = float(np.median(d))
                break
        a = math.radians(ang)
        half = 0.5 * (length or nominal_mm)
        dr, dc = math.sin(a) * half / spacing_rc[0], math.cos(a) * half / spacing_rc[1]
        c = ph.centre_rc
        out.append(Distance(f"{int(ang)}°", (c[0] - dr, c[1] - dc), (c[0] + dr, c[1] + dc), length, nominal_mm, True))
    return out


def is_grid(rods: list[tuple[float, float]], spacing_rc: tuple[float, float], pitch_mm: float) -> bool:
    """True when the rods form a complete rectangular grid (≥ 2 × 2, same count per row) whose neighbour
    distances are within 25 % of the nominal pitch."""
    if len(rods) < 4:
        return False
    mm = np.asarray(rods) * np.asarray(spacing_rc)
    rows = _groups(mm[:, 0], 0.4 * pitch_mm)
    cols = _groups(mm[:, 1], 0.4 * pitch_mm)
    if len(rows) < 2 or len(cols) < 2 or len({len(g) for g in rows}) != 1 or len(rows) * len(cols) != len(rods):
        return False
    d = [x.length_mm for x in rod_distances(rods, spacing_rc, pitch_mm) if not x.longest]
    return bool(d) and all(abs(v / pitch_mm - 1) < 0.25 for v in d)


# ---------------------------------------------------------------- one image


def measure_geometry(image: MRImage, lang: str = "fr", rod_pitch_mm: float = DEFAULT_ROD_PITCH_MM,
                     diameter_mm: float = DEFAULT_DIAMETER_MM, min_rods: int = 4) -> GeometryResult:
    """Rod-grid distances when the image holds at least `min_rods` rods in rows and columns, else diameters."""
    img = image.pixels
    ph = find_phantom(img, image.label, lang)
    rods = find_rods(img, ph, image.spacing_rc)
    if len(rods) >= min_rods and is_grid(rods, image.spacing_rc, rod_pitch_mm):
        return GeometryResult(image.label, "rods", rod_distances(rods, image.spacing_rc, rod_pitch_mm), rods)
    radii = edge_radii_mm(img, ph, image.spacing_rc, np.arange(0.0, 360.0, 2.0))
    ok = radii[np.isfinite(radii)]
    # a round phantom: most edge points within 3 % of the median radius (a localiser's rectangle is not)
    if ok.size < 90 or np.mean(np.abs(ok / np.median(ok) - 1) < 0.03) < 0.8:
        raise QCInputError("err.wrong_image", file=image.label, reason=t("mrge.reason.not_round", lang))
    dists = diameters(img, ph, image.spacing_rc, diameter_mm)
    warnings = [t("mrge.warn.diameter_missing", lang, file=image.label, angle=d.label) for d in dists if d.length_mm is None]
    return GeometryResult(image.label, "diameters", dists, [], warnings)


def overlay(image: MRImage, res: GeometryResult) -> np.ndarray:
    ov = Overlay(image.pixels)
    for d in res.distances:
        ov.line(d.a_rc, d.b_rc, (0, 230, 0) if d.longest else (0, 160, 255))
    for r in res.rods_rc:
        ov.dot(r, 2.0, (255, 60, 60))
    return ov.rgb


# ---------------------------------------------------------------- analyser


def _r(v, nd=3):
    return None if v is None else round(float(v), nd)


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    lang = ctx.lang
    _series, images, set_aside = load_images_of(inputs, lang)
    pitch = float(ctx.options.get("rod_pitch_mm", DEFAULT_ROD_PITCH_MM))
    diam = float(ctx.options.get("phantom_diameter_mm", DEFAULT_DIAMETER_MM))
    measurements: list[Measurement] = []
    items: list[dict[str, Any]] = []
    warnings = list(set_aside)
    overlays = []
    used, errors = [], []
    worst_mm: list[float | None] = []
    worst_pct: list[float | None] = []
    for im in images:
        try:
            res = measure_geometry(im, lang, pitch, diam)
        except QCInputError as exc:
            errors.append(exc.message(lang))
            continue
        used.append(im.slice)
        warnings.extend(res.warnings)
        item = im.label
        measurements.append(Measurement("max_distortion_mm", res.max_distortion_mm, "mm", item=item, description=SPEC_METRICS["max_distortion_mm"].label(lang)))
        measurements.append(Measurement("linearity_pct", res.linearity_pct, "%", item=item, description=SPEC_METRICS["linearity_pct"].label(lang)))
        worst_mm.append(res.max_distortion_mm)
        worst_pct.append(res.linearity_pct)
        for d in res.distances:
            items.append({"image": item, "method": res.method, "distance": d.label, "measured_mm": _r(d.length_mm),
                          "nominal_mm": d.nominal_mm, "error_mm": _r(d.error_mm), "outer": d.longest})
        key = "mrge.overlay.rods" if res.method == "rods" else "mrge.overlay.diam"
        overlays.append((t(key, lang, image=item), overlay(im, res)))
    if not used:
        raise QCInputError("mrge.err.none", detail=" ".join(errors[:3]))
    warnings.extend(t("mrge.warn.skipped", lang, reason=e) for e in errors)
    measurements.append(Measurement("session_max_distortion_mm", None if any(v is None for v in worst_mm) else max(worst_mm), "mm",
                                    description=SPEC_METRICS["session_max_distortion_mm"].label(lang)))
    measurements.append(Measurement("session_linearity_pct", None if any(v is None for v in worst_pct) else max(worst_pct), "%",
                                    description=SPEC_METRICS["session_linearity_pct"].label(lang)))
    return AnalysisResult(
        test=KEY, measurements=measurements, items=items, warnings=warnings, overlays=overlays,
        **identity_of(used, ctx.acquired_at, lang),
        params={"rod_pitch_mm": pitch, "phantom_diameter_mm": diam,
                "definition": "max |measured - nominal| over all distances; linearity = max 100*|measured/nominal - 1| over outer spans"},
    )


_REF = "ACR MRI QC manual (2015) : 190 ± 2 mm ; IPEM Report 112 ; NEMA MS-2"
_METRICS = (
    MetricSpec("max_distortion_mm", "mm", "Distorsion max. |mesure − nominal|", "Max distortion |measured − nominal|",
               Tolerance.at_most(1.0, 2.0, reference=_REF + " ; alerte à 1 mm"), better="lower"),
    MetricSpec("linearity_pct", "%", "Linéarité (écart max. en %)", "Linearity (max % deviation)",
               Tolerance.at_most(0.5, 1.0, reference="NEMA MS-2 / IPEM Report 112 : ≤ 1 % ; alerte à 0,5 %"), better="lower"),
    MetricSpec("session_max_distortion_mm", "mm", "Distorsion max. de la séance", "Session max distortion",
               Tolerance.at_most(1.0, 2.0, reference=_REF + " ; alerte à 1 mm"), better="lower"),
    MetricSpec("session_linearity_pct", "%", "Linéarité max. de la séance", "Session max linearity deviation",
               Tolerance.at_most(0.5, 1.0, reference="NEMA MS-2 / IPEM Report 112 : ≤ 1 % ; alerte à 0,5 %"), better="lower"),
)
SPEC_METRICS = {m.name: m for m in _METRICS}

SPEC = TestSpec(
    key=KEY,
    name_fr="IRM : géométrie",
    name_en="MR: geometry",
    frequency="monthly",
    kind="dicom",
    metrics=_METRICS,
    analyse=analyse,
    page="pages/mr_geometry.py",
    description_fr=("Distances entre tiges (grille MagNET/IPEM, pas nominal 60 mm par défaut) ou diamètres du fantôme rond "
                    "(ACR 190 mm par défaut) comparés au nominal : distorsion maximale (mm) et linéarité (%)."),
    description_en=("Distances between rods (MagNET/IPEM grid, nominal pitch 60 mm by default) or diameters of a round phantom "
                    "(ACR 190 mm by default) against nominal: maximum distortion (mm) and linearity (%)."),
    accepts=".dcm,.ima,.zip",
)
