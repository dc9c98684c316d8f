"""Common MV-image toolkit (domain.md §2), shared by every MV analyser (field, leaves, slits, ...).

Owns: the beam central-axis (CAX) pixel for an image (calibrated, else the imager centre with a
warning), conversion between pixel coordinates and mm at the isocentre relative to the CAX,
sub-pixel threshold crossings in profiles, and straight-line fitting of edge points.

Coordinates: u = column index (x, left → right), v = row index (y, top → bottom), pixel centres at
integers. Distances are in mm at the isocentre: pixel index differences × `pixel_size_iso_mm`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from qc.readers.dicom_io import DicomImage
from qc.i18n import t
from qc.spec import AnalysisContext


@dataclass(frozen=True)
class CaxPixel:
    """Where the beam axis falls on the image, and where that number comes from."""

    u0: float
    v0: float
    source: str  # "calibration" or "image centre"
    calibration_id: int | None = None


def cax_pixel(image: DicomImage, ctx: AnalysisContext, when: dt.datetime | None = None) -> tuple[CaxPixel, str | None]:
    """The calibrated CAX pixel in force on `when` (default: the image's date), else the imager centre
    plus a warning. The imager centre is a placeholder for display only: an analyser never judges a
    position against it (`CaxPixel.source` says which one this is).

    The Unity CAX is NOT the image centre (domain.md §0.5): (511.03, 652.75) on the real MVIC.
    A calibration is only used when it fits inside the image.
    """
    cal = ctx.cax_for(when if when is not None else image.acquired_at)
    rows, cols = image.shape
    if cal is not None and 0 <= cal.u0 <= cols - 1 and 0 <= cal.v0 <= rows - 1:
        return CaxPixel(cal.u0, cal.v0, "calibration", cal.id), None
    u0, v0 = image.image_centre_px
    if cal is not None:
        warning = t("geom.warn.cax_outside", ctx.lang, file=image.file.filename, u=f"{cal.u0:g}", v=f"{cal.v0:g}",
                    cols=cols, rows=rows, uc=f"{u0:g}", vc=f"{v0:g}")
    else:
        # say which date has no calibration and which calibration exists (it may only start later)
        from qc.display import no_cax_warning

        warning = no_cax_warning(ctx.lang, image.file.filename, when if when is not None else image.acquired_at, ctx.calibrations(), u0, v0)
    return CaxPixel(u0, v0, "image centre"), warning


def px_to_iso_mm(u: float | np.ndarray, v: float | np.ndarray, image: DicomImage, cax: CaxPixel):
    """Pixel (u, v) → (x, y) in mm at the isocentre, relative to the CAX; y grows downwards (rows)."""
    row_mm, col_mm = image.pixel_size_iso_mm
    return (np.asarray(u) - cax.u0) * col_mm, (np.asarray(v) - cax.v0) * row_mm


def iso_mm_to_px(x_mm: float | np.ndarray, y_mm: float | np.ndarray, image: DicomImage, cax: CaxPixel):
    row_mm, col_mm = image.pixel_size_iso_mm
    return cax.u0 + np.asarray(x_mm) / col_mm, cax.v0 + np.asarray(y_mm) / row_mm


def subpixel_crossings(profile: np.ndarray, level: float) -> list[tuple[float, int]]:
    """Positions (in sample index units) where `profile` crosses `level`, by linear interpolation.

    Returns (position, direction) with direction +1 for a rising and −1 for a falling crossing.
    """
    p = np.asarray(profile, dtype=float) - level
    s = np.sign(p)
    # A sample exactly at the level belongs to the side it leaves towards.
    for i in range(len(s)):
        if s[i] == 0:
            s[i] = s[i - 1] if i > 0 else (1.0 if len(s) > 1 and p[1] > 0 else -1.0)
    idx = np.nonzero(s[:-1] != s[1:])[0]
    out: list[tuple[float, int]] = []
    for i in idx:
        a, b = p[i], p[i + 1]
        frac = a / (a - b) if a != b else 0.5
        out.append((float(i + frac), 1 if b > a else -1))
    return out


def fit_line(points_u: np.ndarray, points_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total-least-squares line through points: (a point on it, unit direction vector), in (u, v)."""
    pts = np.column_stack([np.asarray(points_u, float), np.asarray(points_v, float)])
    centre = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - centre, full_matrices=False)
    direction = vt[0] / np.linalg.norm(vt[0])
    return centre, direction


# ---------------------------------------------------------------- edges and lines (added for qc.mv.field)


def inflection_edge(profile: np.ndarray, direction: int, smooth_px: float = 1.0) -> tuple[float, float]:
    """Sub-pixel inflection point of one edge in a 1-D profile: (position in samples, profile value there).

    Definition: the field edge is the inflection point, i.e. the maximum of the first derivative
    (NCS-33 / pylinac `INFLECTION_DERIVATIVE`, domain.md §2.6); it suits FFF and flattened beams.
    `direction` = +1 for a rising edge (outside → inside going to higher index), −1 for a falling one.
    The profile is lightly smoothed (Gaussian, `smooth_px`), differentiated (central differences), and
    the derivative peak located by a weighted least-squares Gaussian fit (a parabola on the log of
    the derivative, weights = derivative) over the contiguous samples above half the peak: a 3-point
    parabola is far too noise-sensitive on penumbrae 10–20 pixels wide. Returns (nan, nan) when no
    edge in that direction is found.
    """
    from scipy.ndimage import gaussian_filter1d

    p = np.asarray(profile, dtype=float)
    ps = gaussian_filter1d(p, smooth_px) if smooth_px > 0 else p
    d = np.gradient(ps) * (1 if direction >= 0 else -1)
    k = int(np.argmax(d))
    peak = d[k]
    if not np.isfinite(peak) or peak <= 0:
        return float("nan"), float("nan")
    above = d > 0.5 * peak
    lo = k
    while lo > 0 and above[lo - 1]:
        lo -= 1
    hi = k
    while hi < len(d) - 1 and above[hi + 1]:
        hi += 1
    if hi - lo < 2:  # widen to 3 samples when the edge is very sharp
        lo, hi = max(0, k - 1), min(len(d) - 1, k + 1)
    if hi - lo < 2 or lo == 0 and k == 0 or hi == len(d) - 1 and k == len(d) - 1:
        return float("nan"), float("nan")
    x = np.arange(lo, hi + 1, dtype=float) - k
    y = np.log(np.clip(d[lo : hi + 1], peak * 1e-3, None))
    # log(d) has noise ∝ 1/d: weight residuals by d (polyfit's w multiplies the residuals).
    w2 = np.clip(d[lo : hi + 1], 0, None) ** 2
    # weighted normal equations of y ≈ c0 + c1·x + c2·x² (np.polyfit costs ~10x more here)
    xp = [np.sum(w2 * x**k) for k in range(5)]
    a = np.array([[xp[0], xp[1], xp[2]], [xp[1], xp[2], xp[3]], [xp[2], xp[3], xp[4]]])
    rhs = np.array([np.sum(w2 * y), np.sum(w2 * x * y), np.sum(w2 * x * x * y)])
    try:
        _, c1, c2 = np.linalg.solve(a, rhs)
    except np.linalg.LinAlgError:
        return float(k), float(ps[k])
    if c2 >= 0:
        pos = float(k)
    else:
        pos = k - c1 / (2 * c2)
        if abs(pos - k) > (hi - lo):  # a degenerate fit: keep the sample maximum
            pos = float(k)
    value = float(np.interp(pos, np.arange(len(ps)), ps))
    return float(pos), value


def level_crossing_near(profile: np.ndarray, level: float, start: float, step: int) -> float:
    """First position where `profile` crosses `level`, walking from `start` (samples) by `step` (±1).

    Linear interpolation between the two bracketing samples; nan if the profile never crosses.
    Used for penumbra levels on either side of an edge.
    """
    p = np.asarray(profile, dtype=float)
    n = len(p)
    i = int(np.floor(start)) if step > 0 else int(np.ceil(start))
    i = min(max(i, 0), n - 1)
    s0 = np.sign(p[i] - level)
    j = i
    while 0 <= j + step < n:
        a, b = p[j], p[j + step]
        if np.sign(b - level) != s0 or b == level:
            frac = (level - a) / (b - a) if b != a else 0.0
            return float(j + step * frac)
        j += step
    return float("nan")


@dataclass(frozen=True)
class RobustLine:
    """A line across = intercept + slope · along, fitted to edge points with outliers rejected."""

    intercept: float
    slope: float
    inliers: np.ndarray  # bool mask over the input points
    rms: float  # rms residual of the inliers (same unit as `across`)

    def at(self, along: float | np.ndarray) -> float | np.ndarray:
        return self.intercept + self.slope * np.asarray(along)


def fit_line_robust(
    along: np.ndarray, across: np.ndarray, min_points: int = 5, floor: float = 0.0, k_mad: float = 3.5, iterations: int = 4
) -> RobustLine | None:
    """Least-squares line `across = a + b·along`, iteratively dropping points whose residual exceeds
    max(`k_mad` × 1.4826 × MAD, `floor`).

    Fit in the coordinate the measurement errors lie in (`across` = position along the profile);
    for near-axis edges that is better conditioned than a total-least-squares fit. Returns None
    when fewer than `min_points` finite points survive.
    """
    t = np.asarray(along, dtype=float)
    s = np.asarray(across, dtype=float)
    keep = np.isfinite(t) & np.isfinite(s)
    if keep.sum() < min_points:
        return None
    for _ in range(iterations):
        b, a = np.polyfit(t[keep], s[keep], 1)
        res = s - (a + b * t)
        # residuals measured from their median: a fit pulled by outliers shifts every inlier alike
        med = np.median(res[keep])
        mad = np.median(np.abs(res[keep] - med))
        limit = max(k_mad * 1.4826 * mad, floor)
        new = np.isfinite(res) & (np.abs(res - med) <= limit)
        if new.sum() < min_points:
            break
        if np.array_equal(new, keep):
            break
        keep = new
    b, a = np.polyfit(t[keep], s[keep], 1)
    res = s[keep] - (a + b * t[keep])
    return RobustLine(float(a), float(b), keep, float(np.sqrt(np.mean(res**2))))


def line_intersection(
    p1: np.ndarray, d1: np.ndarray, p2: np.ndarray, d2: np.ndarray
) -> np.ndarray | None:
    """Intersection of the lines p1 + t·d1 and p2 + s·d2 (2-D), or None if they are parallel."""
    p1, d1, p2, d2 = (np.asarray(v, dtype=float) for v in (p1, d1, p2, d2))
    det = d1[0] * (-d2[1]) - d1[1] * (-d2[0])
    if abs(det) < 1e-12:
        return None
    rhs = p2 - p1
    t = (rhs[0] * (-d2[1]) - rhs[1] * (-d2[0])) / det
    return p1 + t * d1


def inflection_edges(profiles: np.ndarray, direction: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised `inflection_edge` over the rows of `profiles` (already smoothed): (positions, values).

    Same definition and the same weighted Gaussian fit of the derivative peak; the fit window is
    the peak ± half the number of samples above half its height (the contiguous run for a single
    peak). Rows without a usable peak give nan.
    """
    p = np.asarray(profiles, dtype=float)
    n, m = p.shape
    d = np.gradient(p, axis=1) * (1 if direction >= 0 else -1)
    k = np.argmax(d, axis=1)
    rows = np.arange(n)
    peak = d[rows, k]
    half = np.maximum(1, np.sum(d > 0.5 * peak[:, None], axis=1) // 2)
    hmax = int(half.max()) if n else 1
    offs = np.arange(-hmax, hmax + 1)
    idx = k[:, None] + offs[None, :]
    valid = (np.abs(offs)[None, :] <= half[:, None]) & (idx >= 0) & (idx < m)
    dv = d[rows[:, None], np.clip(idx, 0, m - 1)]
    valid &= dv > 0
    safe_peak = np.where(peak > 0, peak, 1.0)
    y = np.log(np.clip(dv, safe_peak[:, None] * 1e-3, None))
    w2 = np.where(valid, np.clip(dv, 0, None) ** 2, 0.0)
    x = offs.astype(float)[None, :]
    s = [np.sum(w2 * x**j, axis=1) for j in range(5)]
    t = [np.sum(w2 * y * x**j, axis=1) for j in range(3)]
    a = np.stack([np.stack([s[0], s[1], s[2]], -1), np.stack([s[1], s[2], s[3]], -1), np.stack([s[2], s[3], s[4]], -1)], -2)
    b = np.stack(t, -1)
    det = np.linalg.det(a)
    ok = (peak > 0) & (np.sum(valid, axis=1) >= 3) & (np.abs(det) > 1e-300) & (k > 0) & (k < m - 1)
    a_safe = np.where(ok[:, None, None], a, np.eye(3)[None])
    c = np.linalg.solve(a_safe, b[:, :, None])[:, :, 0]
    c1, c2 = c[:, 1], c[:, 2]
    shift = np.where(c2 < 0, -c1 / np.where(c2 < 0, 2 * c2, 1.0), 0.0)
    shift = np.where(np.abs(shift) > 2 * half, 0.0, shift)  # a degenerate fit keeps the sample maximum
    pos = np.where(ok, k + shift, np.nan)
    grid = np.arange(m)
    vals = np.array([np.interp(q, grid, row) if np.isfinite(q) else np.nan for q, row in zip(pos, p)])
    return pos, vals
