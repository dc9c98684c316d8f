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
- A sagittal image (slice normal within 18° of the patient's left-right axis, from
  ImageOrientationPatient) showing a rectangle (the ACR sagittal localiser): `si_length_mm`, the
  phantom's end-to-end length along the superior-inferior axis (the image axis that the orientation
  header puts along the patient's z), as the ACR procedure measures it: on the lines parallel to that
  axis over the central half of the phantom's width, each line's two end crossings of the half level
  between the local fluid plateau (a line fitted 3–10 mm inside, taken at the end: coil shading) and the
  local background (5–15 mm outside), read on the line's cubic spline; lines without a plateau or a
  crossing near the end, or whose length is > 1 mm off the band's median (an insert touching an end wall)
  are left out; length = median of the kept lines × cos(tilt), the tilt being the mean slope of the fitted
  end edges. Judged against 148 mm (ACR large phantom, ± 2 mm). The anterior-posterior width is
  measured the same way across the S-I axis (`ap_width_mm`, information only: a 20 mm slab shows the
  chord where it is half filled by the cylinder, 189.7 mm centred on the axis, 189.3 mm 8 mm off it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from qc.errors import QCInputError
from qc.i18n import t
from qc.mr.phantom_geometry import MRImage, Overlay, Phantom, crossing, find_phantom, fluid_background, identity_of, load_images_of
from qc.tolerances import Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = "mr-geometry"
DEFAULT_ROD_PITCH_MM = 60.0
DEFAULT_DIAMETER_MM = 190.0
DIAMETER_ANGLES_DEG = (0.0, 45.0, 90.0, 135.0)
SI_NOMINAL_MM = 148.0  # ACR large phantom, inside length along its axis
AP_NOMINAL_MM = 190.0
SAGITTAL_COS = 0.95  # slice normal within 18° of the left-right axis


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
    method: str  # "rods", "diameters" or "sagittal"
    distances: list[Distance]
    rods_rc: list[tuple[float, float]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    si: "EndToEnd | None" = None  # sagittal image: S-I length
    ap: "EndToEnd | None" = None  # sagittal image: A-P width (information)

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


def local_edge_radii_mm(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float], angles_deg: np.ndarray,
                        step_mm: float = 0.2) -> np.ndarray:
    """Distance (mm) from the phantom centre to the fluid's own edge along each angle (0 = +col, 90 = +row),
    the level taken on the ray itself rather than from the whole image. On the radial profile (sampled in
    mm, anisotropic pixels allowed):
    1. the wall is located, walking in from 1.4 phantom radii, at the first sample above a quarter of the
       phantom's median signal (a dim wall still reaches it; a ghost or a structure outside stays below);
    2. the edge is the steepest drop (profile smoothed over σ = 0.5 mm) within −4…+3 mm of that point (not a
       line of the slice-5 grid or another insert further in);
    3. the local plateau P is the highest value of the profile (smoothed over σ = 1 mm) 0.5–4 mm inside the
       edge (the fluid's own signal at the wall, bright rim included), the local background B the median
       4–14 mm outside it;
    4. the ray has an edge when the profile, walked outward from that plateau peak, falls below (P + B) / 2
       (half of the local step) within 4 mm past the drop, and the drop is at least a third of P;
    5. the edge point is the steepest drop, refined by a parabola through the gradient (sub-sample): the
       inflection of the edge, where a symmetric PSF puts the wall whatever the levels on either side.
    NaN where 4 fails or the profile leaves the image.

    Why: one global half level between the background and the phantom's median signal reads the edge at
    another fraction of the local step wherever the signal near the wall differs from the median (3 T
    dielectric shading, a bright rim near receive elements, coil proximity), misses a dim wall and follows
    any bright structure outside it. On synthetic slices with a bright rim (×3 at the wall, blurred 1.5 mm)
    half of the local step still reads 0.5 mm per side outside the wall, the inflection 0.3 mm; on the real
    sets of ../shared/data the two agree within 0.15 mm."""
    a = np.radians(np.asarray(angles_deg, float))
    r0_mm = ph.radius_px * math.sqrt(spacing_rc[0] * spacing_rc[1])
    s = np.arange(0.45 * r0_mm, 1.4 * r0_mm + 15.0, step_mm)  # mm from the centre
    rows = ph.centre_rc[0] + np.outer(np.sin(a), s) / spacing_rc[0]
    cols = ph.centre_rc[1] + np.outer(np.cos(a), s) / spacing_rc[1]
    vals = ndimage.map_coordinates(img, [rows.ravel(), cols.ravel()], order=1, mode="constant", cval=np.nan).reshape(rows.shape)
    off_image = ~np.isfinite(vals)
    vals = np.where(off_image, ph.background, vals)
    smooth = ndimage.gaussian_filter1d(vals, 0.5 / step_mm, axis=1)
    wide = ndimage.gaussian_filter1d(vals, 1.0 / step_mm, axis=1)
    grad = np.gradient(smooth, axis=1)
    n_s = len(s)
    idx = np.arange(n_s)
    ray = np.arange(len(a))[:, None]
    mm = lambda d: int(round(d / step_mm))  # noqa: E731 - a distance in samples

    low = ph.background + 0.15 * (ph.signal - ph.background)
    within = s <= 1.4 * r0_mm
    above = (smooth >= low) & within[None, :] & (s >= 0.6 * r0_mm)[None, :]
    has = above.any(axis=1)
    wall = n_s - 1 - np.argmax(above[:, ::-1], axis=1)
    near = (idx[None, :] >= (wall - mm(4.0))[:, None]) & (idx[None, :] <= (wall + mm(3.0))[:, None])
    k = np.argmin(np.where(near, grad, np.inf), axis=1)
    ok = has & (k - mm(4.0) >= 0) & (k + mm(14.0) < n_s)
    k = np.where(ok, k, mm(4.0))  # placeholder index for rays already failed (kept in range)
    inside = np.clip(k[:, None] + np.arange(-mm(4.0), -mm(0.5) + 1)[None, :], 0, n_s - 1)
    peak_at = np.take_along_axis(inside, np.argmax(wide[ray, inside], axis=1)[:, None], axis=1)[:, 0]
    plateau = wide[np.arange(len(a)), peak_at]
    outside = np.clip(k[:, None] + np.arange(mm(4.0), mm(14.0) + 1)[None, :], 0, n_s - 1)
    background = np.median(smooth[ray, outside], axis=1)
    level = 0.5 * (plateau + background)
    ok &= (plateau > 0) & (plateau - background >= plateau / 3.0)
    ok &= ~(off_image[ray, outside].any(axis=1))
    walk = (idx[None, :] > peak_at[:, None]) & (idx[None, :] <= (k + mm(4.0))[:, None])
    below = walk & (vals < level[:, None])
    ok &= below.any(axis=1)
    # the edge point: the steepest drop itself, refined to a fraction of a sample by a parabola through the
    # gradient around it (where a symmetric PSF puts the wall whatever the levels on either side)
    rr_ = np.arange(len(a))
    g0, g1, g2 = grad[rr_, np.clip(k - 1, 0, n_s - 1)], grad[rr_, k], grad[rr_, np.clip(k + 1, 0, n_s - 1)]
    den = g0 - 2 * g1 + g2
    with np.errstate(divide="ignore", invalid="ignore"):
        sub = np.clip(np.where(den != 0, 0.5 * (g0 - g2) / den, 0.0), -0.5, 0.5)
    return np.where(ok, s[0] + (k + sub) * step_mm, np.nan)


def recentred(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float], angles_deg: np.ndarray, passes: int = 2) -> Phantom:
    """The phantom with its centre moved to the centre of the circle fitted (least squares, Kåsa) through its
    local edge points (`local_edge_radii_mm`), twice. Why: the mask's centroid moves toward the bright side
    when part of the phantom falls below the mask's level (coil proximity, 3 T shading), and a diameter
    through a centre 12 mm off is a chord 1.5 mm short."""
    from dataclasses import replace

    a = np.radians(angles_deg)
    for _ in range(passes):
        r = local_edge_radii_mm(img, ph, spacing_rc, angles_deg)
        ok = np.isfinite(r)
        if ok.sum() < 0.25 * len(r):
            return ph
        x, y = r[ok] * np.cos(a[ok]), r[ok] * np.sin(a[ok])  # mm from the current centre
        A = np.column_stack([x, y, np.ones_like(x)])
        (bx, by, _c), *_ = np.linalg.lstsq(A, x * x + y * y, rcond=None)
        cx, cy = 0.5 * bx, 0.5 * by
        ph = replace(ph, centre_rc=(ph.centre_rc[0] + cy / spacing_rc[0], ph.centre_rc[1] + cx / spacing_rc[1]))
    return ph


def diameters(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float], nominal_mm: float,
              angles_deg: tuple[float, ...] = DIAMETER_ANGLES_DEG, window_deg: float = 8.0,
              local_edge: bool = False, turn_deg: float = 0.0) -> list[Distance]:
    """Diameters through the centre at each angle: median over ±`window_deg` of r(θ) + r(θ + 180°), where
    edge points lying more than 1.5 mm off the local median radius (±45°: a notch, a marker, an
    insert touching the wall) are left out; where they fill the window it widens (±16°, ±24°).
    `local_edge`: edge points by `local_edge_radii_mm` (half of the local step) instead of the global half
    level; `turn_deg`: the angles are taken in the phantom's frame, turned by that angle on the image
    (`qc.mr.acr.phantom_rotation_deg`'s convention); labels stay the phantom-frame angles."""
    step = 0.5
    all_deg = np.arange(0.0, 360.0, step)
    if local_edge:
        ph = recentred(img, ph, spacing_rc, all_deg[::4])  # every 2° is plenty for a circle fit
        r = local_edge_radii_mm(img, ph, spacing_rc, all_deg)
    else:
        r = edge_radii_mm(img, ph, spacing_rc, all_deg)
    k = int(45 / step)
    padded = np.concatenate([r[-k:], r, r[:k]])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1)
    ref = np.nanmedian(windows, axis=1)
    r = np.where(np.abs(r - ref) <= 1.5, r, np.nan)
    n = len(all_deg)
    out = []
    for label_ang in angles_deg:
        ang = label_ang - turn_deg  # image angle (0 = +col, 90 = +row) of the phantom-frame direction
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
        out.append(Distance(f"{int(label_ang)}°", (c[0] - dr, c[1] - dc), (c[0] + dr, c[1] + dc), length, nominal_mm, True))
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


# ---------------------------------------------------------------- sagittal image: end-to-end length


@dataclass
class EndToEnd:
    """End-to-end length of a rectangle along one image axis, from a band of parallel lines."""

    length_mm: float | None
    axis: int  # 0: along the columns (down the rows), 1: along the rows
    tilt_deg: float | None
    lines_used: int
    lines_band: int
    ends_rc: list[tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=list)  # kept lines, for drawing


def sagittal_si_axis(orientation) -> int | None:
    """The image axis along the patient's superior-inferior axis for a sagittal image: 0 when it runs down
    the columns (row index), 1 along the rows; None when the image is not sagittal (slice normal more than
    18° off the left-right axis) or has no orientation."""
    if orientation is None or len(orientation) < 6:
        return None
    r, c = np.asarray(orientation[:3], float), np.asarray(orientation[3:6], float)
    n = np.cross(r, c)
    if np.linalg.norm(n) == 0 or abs(n[0]) / np.linalg.norm(n) < SAGITTAL_COS:
        return None
    if abs(c[2]) >= SAGITTAL_COS:
        return 0
    if abs(r[2]) >= SAGITTAL_COS:
        return 1
    return None


def is_rectangle(ph: Phantom, spacing_rc: tuple[float, float], min_fill: float = 0.9) -> bool:
    """The phantom mask fills at least `min_fill` of its smallest enclosing rectangle turned by up to ±20°
    (0.5° steps; a disc fills π/4 = 0.785 of any)."""
    edge = ph.mask & ~ndimage.binary_erosion(ph.mask)
    pts = np.argwhere(edge) * np.asarray(spacing_rc, float)
    if len(pts) < 4:
        return False
    th = np.radians(np.arange(-20.0, 20.01, 0.5))[:, None]
    u = pts[:, 1] * np.cos(th) + pts[:, 0] * np.sin(th)
    v = -pts[:, 1] * np.sin(th) + pts[:, 0] * np.cos(th)
    rect = float(np.min((np.ptp(u, axis=1) + spacing_rc[1]) * (np.ptp(v, axis=1) + spacing_rc[0])))
    return bool(ph.mask.sum() * spacing_rc[0] * spacing_rc[1] / rect >= min_fill)


def _fine_crossing(coefs: np.ndarray, level: float, start: int, step: int, span: int) -> float | None:
    """First crossing of `level` walking `span` pixels from `start` by `step`, on the cubic-spline
    interpolation of the line (`coefs` = its spline coefficients) sampled every 0.05 px: linear
    interpolation between raw samples reads a band-limited (ringing) edge up to 0.06 px off, depending on
    where the edge falls between two pixels."""
    pos = start + step * np.arange(0.0, span + 1e-9, 0.05)
    pos = pos[(pos >= 0) & (pos <= len(coefs) - 1)]
    vals = ndimage.map_coordinates(coefs, [pos], order=3, mode="nearest", prefilter=False)
    c = crossing(vals, level, 0, 1)
    return None if c is None else float(start + step * 0.05 * c)


def end_to_end(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float], axis: int,
               band_fraction: float = 0.5, max_off_mm: float = 1.0) -> EndToEnd:
    """End-to-end length of the phantom along image `axis` (0: lines down the columns), on the lines over
    the central `band_fraction` of the phantom's extent across them. On each line, each end: the outermost
    sample above 10 % of the phantom signal (walking in from the image border), the local plateau = the
    line fitted to the profile 3–10 mm inside, taken at that sample (coil shading can halve the signal
    from one end to the other), the local background = median 5–15 mm outside, and the crossing of their
    half level walking in from 5 mm outside, on the line's cubic spline (`_fine_crossing`). A line is left out when an end has no
    plateau (< 20 % of the phantom signal) or no crossing within 3 mm, then when its length is more than
    `max_off_mm` off the median (an insert touching the end wall: the line ends at the insert). Length =
    median × cos(tilt), the tilt being the mean slope of the two end edges fitted over the kept lines."""
    a = np.asarray(img if axis == 0 else img.T, dtype=np.float64)
    m = ph.mask if axis == 0 else ph.mask.T
    along, across = spacing_rc[axis], spacing_rc[1 - axis]
    n_rows = a.shape[0]
    cols = np.flatnonzero(m.any(axis=0))
    c_mid, half = 0.5 * (cols[0] + cols[-1]), 0.5 * band_fraction * (cols[-1] - cols[0])
    band = np.arange(int(math.ceil(c_mid - half)), int(math.floor(c_mid + half)) + 1)
    n3, n5, n10, n15 = (max(k, int(round(mm / along))) for k, mm in ((2, 3.0), (3, 5.0), (4, 10.0), (5, 15.0)))
    t_low = ph.background + 0.1 * (ph.signal - ph.background)
    xs, tops, bots = [], [], []
    for j in band:
        col = a[:, j]
        coefs = None
        above = np.flatnonzero(col >= t_low)
        if above.size < 2 or above[-1] - above[0] < 2 * n10:
            continue
        ends = []
        for e, step in ((int(above[0]), 1), (int(above[-1]), -1)):
            k = np.arange(n3, n10 + 1)
            idx = e + step * k
            bg_idx = e - step * np.arange(n5, n15 + 1)
            bg_idx = bg_idx[(bg_idx >= 0) & (bg_idx < n_rows)]
            if idx.min() < 0 or idx.max() >= n_rows:
                break
            fluid = float(np.polyval(np.polyfit(k, col[idx], 1), 0.0))
            if fluid < 0.2 * ph.signal:
                break
            level = 0.5 * (fluid + (float(np.median(col[bg_idx])) if bg_idx.size >= 3 else ph.background))
            start = min(max(e - step * n5, 0), n_rows - 1)
            if col[start] >= level:
                break
            if coefs is None:
                coefs = ndimage.spline_filter1d(col, order=3, mode="nearest")
            c = _fine_crossing(coefs, level, start, step, n5 + n3)
            if c is None or abs(c - e) > n3:
                break
            ends.append(c)
        if len(ends) == 2:
            xs.append(j)
            tops.append(ends[0])
            bots.append(ends[1])
    xs_a, tops_a, bots_a = np.asarray(xs, float), np.asarray(tops), np.asarray(bots)
    lengths = (bots_a - tops_a) * along
    need = max(5, int(0.25 * band.size))
    if lengths.size < need:
        return EndToEnd(None, axis, None, int(lengths.size), int(band.size))
    keep = np.abs(lengths - np.median(lengths)) <= max_off_mm
    if keep.sum() < need:
        return EndToEnd(None, axis, None, int(keep.sum()), int(band.size))
    x_mm = xs_a[keep] * across
    slope = 0.5 * (np.polyfit(x_mm, tops_a[keep] * along, 1)[0] + np.polyfit(x_mm, bots_a[keep] * along, 1)[0])
    tilt = math.atan(slope)
    length = float(np.median(lengths[keep])) * math.cos(tilt)
    pts = [((t, x), (b, x)) for x, t, b in zip(xs_a[keep], tops_a[keep], bots_a[keep])]
    if axis == 1:
        pts = [((p[1], p[0]), (q[1], q[0])) for p, q in pts]
    return EndToEnd(length, axis, math.degrees(tilt), int(keep.sum()), int(band.size), pts)


def measure_sagittal(image: MRImage, ph: Phantom, axis: int) -> GeometryResult:
    """S-I length (judged) and A-P width (information) of the rectangle of a sagittal image."""
    si = end_to_end(image.pixels, ph, image.spacing_rc, axis)
    ap = end_to_end(image.pixels, ph, image.spacing_rc, 1 - axis)
    dists = []
    for name, e, nominal, judged in (("S-I", si, SI_NOMINAL_MM, True), ("A-P", ap, AP_NOMINAL_MM, False)):
        if e.ends_rc:
            mid = e.ends_rc[len(e.ends_rc) // 2]
            dists.append(Distance(name, mid[0], mid[1], e.length_mm, nominal, judged))
        else:
            c = ph.centre_rc
            dists.append(Distance(name, c, c, None, nominal, judged))
    return GeometryResult(image.label, "sagittal", dists, [], [], si, ap)


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
        axis = sagittal_si_axis(getattr(image.slice, "orientation", None))
        if axis is not None and is_rectangle(ph, image.spacing_rc):
            return measure_sagittal(image, ph, axis)
        raise QCInputError("err.wrong_image", file=image.label, reason=t("mrge.reason.not_round", lang))
    dists = diameters(img, ph, image.spacing_rc, diameter_mm)
    warnings = [t("mrge.warn.diameter_missing", lang, file=image.label, angle=d.label) for d in dists if d.length_mm is None]
    return GeometryResult(image.label, "diameters", dists, [], warnings)


def is_localiser(s) -> bool:
    """The reader's localiser rule (ImageType LOCALIZER, "survey"/"scout"... descriptions) on a kept slice."""
    from qc.readers.mr_series import LOCALISER_WORDS

    image_type = [str(v).upper() for v in (getattr(s, "image_type", None) or ())]
    desc = str(getattr(s, "series_description", "") or "").lower()
    return "LOCALIZER" in image_type or "LOCALISER" in image_type or any(w in desc for w in LOCALISER_WORDS)


def overlay(image: MRImage, res: GeometryResult) -> np.ndarray:
    ov = Overlay(image.pixels)
    if res.method == "sagittal":  # every 4th kept line: S-I green, A-P blue
        for e, colour in ((res.si, (0, 230, 0)), (res.ap, (0, 160, 255))):
            for a, b in (e.ends_rc[::4] if e is not None else []):
                ov.line(a, b, colour)
        return ov.rgb
    for d in res.distances:
        ov.line(d.a_rc, d.b_rc, (0, 230, 0) if d.longest else (0, 160, 255))
    for r in res.rods_rc:
        ov.dot(r, 2.0, (255, 60, 60))
    return ov.rgb


# ---------------------------------------------------------------- analyser


def _r(v, nd=3):
    return None if v is None else round(float(v), nd)


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    from qc.display import fmt_number  # qc.display imports pandas: not with the module

    lang = ctx.lang
    # localisers are read too: the ACR sagittal localiser is measured (S-I length); the others are set aside below
    _series, images, set_aside = load_images_of(inputs, lang, keep_localisers=True)
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
        localiser = is_localiser(im.slice)
        aside = t("mrs.aside.localiser", lang, file=im.label, desc=str(getattr(im.slice, "series_description", "") or "—"))
        if localiser and sagittal_si_axis(getattr(im.slice, "orientation", None)) is None:
            warnings.append(aside)
            continue
        try:
            res = measure_geometry(im, lang, pitch, diam)
        except QCInputError as exc:
            if localiser:
                warnings.append(aside)
            else:
                errors.append(exc.message(lang))
            continue
        if localiser and res.method != "sagittal":
            warnings.append(aside)
            continue
        used.append(im.slice)
        warnings.extend(res.warnings)
        item = im.label
        if res.method == "sagittal":
            si, ap = res.si, res.ap
            measurements.append(Measurement("si_length_mm", si.length_mm, "mm", item=item, nominal=SI_NOMINAL_MM,
                                            description=SPEC_METRICS["si_length_mm"].label(lang),
                                            reason="" if si.length_mm is not None else t("mrge.reason.si_lines", lang, n=si.lines_used, band=si.lines_band)))
            measurements.append(Measurement("ap_width_mm", ap.length_mm, "mm", item=item, nominal=AP_NOMINAL_MM,
                                            description=SPEC_METRICS["ap_width_mm"].label(lang)))
            for d in res.distances:
                items.append({"image": item, "method": res.method, "distance": d.label, "measured_mm": _r(d.length_mm),
                              "nominal_mm": d.nominal_mm, "error_mm": _r(d.error_mm), "outer": d.longest})
            overlays.append((t("mrge.overlay.sagittal", lang, image=item, n=si.lines_used, band=si.lines_band,
                               tilt=fmt_number(round(si.tilt_deg, 1), lang) if si.tilt_deg is not None else "—"), overlay(im, res)))
            continue
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
    if worst_mm:  # rod or diameter images (an upload of the sagittal localiser alone has only its S-I length)
        measurements += _session(worst_mm, worst_pct, lang)
    return AnalysisResult(
        test=KEY, measurements=measurements, items=items, warnings=warnings, overlays=overlays,
        **identity_of(used, ctx.acquired_at, lang),
        params={"rod_pitch_mm": pitch, "phantom_diameter_mm": diam, "si_length_nominal_mm": SI_NOMINAL_MM,
                "definition": "max |measured - nominal| over all distances; linearity = max 100*|measured/nominal - 1| over outer spans",
                "si_length": "sagittal image: median end-to-end length along S-I over the central half of the width (half-level crossings), x cos(tilt)"},
    )


def _session(worst_mm: list, worst_pct: list, lang: str) -> list[Measurement]:
    return [Measurement("session_max_distortion_mm", None if any(v is None for v in worst_mm) else max(worst_mm), "mm",
                        description=SPEC_METRICS["session_max_distortion_mm"].label(lang)),
            Measurement("session_linearity_pct", None if any(v is None for v in worst_pct) else max(worst_pct), "%",
                        description=SPEC_METRICS["session_linearity_pct"].label(lang))]


_REF = "ACR MRI QC manual (2015) : 190 ± 2 mm ; IPEM Report 112 ; NEMA MS-2"
_METRICS = (
    MetricSpec("max_distortion_mm", "mm", "Distorsion max. |mesure − nominal|", "Max distortion |measured − nominal|",
               Tolerance.at_most(1.0, 2.0, reference=_REF + " ; alerte à 1 mm"), better="lower"),
    MetricSpec("linearity_pct", "%", "Linéarité (écart max. en %)", "Linearity (max % deviation)",
               Tolerance.at_most(0.5, 1.0, reference="NEMA MS-2 / IPEM Report 112 : ≤ 1 % ; alerte à 0,5 %"), better="lower"),
    MetricSpec("si_length_mm", "mm", "Longueur S-I du fantôme ACR (localisateur sagittal, 148 mm nominal)",
               "ACR phantom S-I length (sagittal localiser, 148 mm nominal)",
               Tolerance.symmetric(1.5, 2.0, nominal=SI_NOMINAL_MM,
                                   reference="ACR MRI QC manual (2015) / Large Phantom Test Guidance : 148 ± 2 mm ; alerte à 1,5 mm "
                                             "(comme les diamètres ACR ; le guide ACR 2022 repris par hazen tolère ± 3 mm)")),
    MetricSpec("ap_width_mm", "mm", "Largeur A-P du fantôme (localisateur sagittal, information)",
               "Phantom A-P width (sagittal localiser, information)", None),
    MetricSpec("session_max_distortion_mm", "mm", "Distorsion max. de la séance", "Session max distortion",
               Tolerance.at_most(1.0, 2.0, reference=_REF + " ; alerte à 1 mm"), better="lower"),
    MetricSpec("session_linearity_pct", "%", "Linéarité max. de la séance", "Session max linearity deviation",
               Tolerance.at_most(0.5, 1.0, reference="NEMA MS-2 / IPEM Report 112 : ≤ 1 % ; alerte à 0,5 %"), better="lower"),
)
SPEC_METRICS = {m.name: m for m in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "1.0"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr="IRM : géométrie",
    name_en="MR: geometry",
    frequency="monthly",
    kind="dicom",
    metrics=_METRICS,
    analyse=analyse,
    page="pages/mr_geometry.py",
    description_fr=("Distances entre tiges (grille MagNET/IPEM, pas nominal 60 mm par défaut) ou diamètres du fantôme rond "
                    "(ACR 190 mm par défaut) comparés au nominal : distorsion maximale (mm) et linéarité (%). Sur le localisateur "
                    "sagittal du fantôme ACR : longueur supérieur-inférieur (148 mm nominal)."),
    description_en=("Distances between rods (MagNET/IPEM grid, nominal pitch 60 mm by default) or diameters of a round phantom "
                    "(ACR 190 mm by default) against nominal: maximum distortion (mm) and linearity (%). On the ACR phantom's "
                    "sagittal localiser: superior-inferior length (148 mm nominal)."),
    accepts=".dcm,.ima,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:mr_geometry_demo"
ROUTING = None  # received MR phantom images are not routed to the image-quality tests yet: they are uploaded on their study page
# The menu shows this test under its study page (the page that takes a whole upload and routes it to its tests).
MENU_GROUP = "mr-image"
# The demo database: the first Tuesday evening of the last full month and of the current one (0.4 % scale error in x).
DEMO = DemoSessions(make="qc.demo_inputs:mr_geometry_session", gen="mr_geometry", span="monthly", weekday=1, time="19:05",
                    args={"scale_x": 1.004, "scale_y": 0.999}, seed_offset=2)
