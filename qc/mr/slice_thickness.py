"""Slice thickness from inclined ramps (test key "mr-slice-thickness").

Owns: finding the pair of opposed inclined ramps in a phantom image, their profiles, the FWHM of each
profile and the slice thickness corrected for the phantom's tilt.

- A ramp inclined at θ to the image plane turns the slice profile S(z) into an in-plane profile
  stretched by 1/tan θ: a slice of FWHM w shows a ramp image of FWHM L = w / tan θ (NEMA MS-5, IPEM
  Report 112 §slice width; ACR MRI QC manual, slice thickness).
- Two ramps inclined in opposite senses (+θ, −θ) give L₁ = w / tan(θ + φ), L₂ = w / tan(θ − φ) when the
  phantom is tilted by φ; both equations are solved exactly for w and φ. To first order this is the
  ACR formula w = 2 tan θ · L₁L₂ / (L₁ + L₂) (= 0.2 L₁L₂/(L₁+L₂) for the ACR ramps, tan θ = 0.1).
  hazen combines MagNET ramps by the geometric mean √(L₁L₂)·tan θ, equal to second order.
- Two phantoms are recognised, from the image only:
  * ACR large phantom, slice 1: a dark bar from wall to wall holding two bright ramp slots
    (tan θ = 0.1), one above the other; each ramp's profile is the mean of its half of the bar.
  * MagNET / IPEM slice-width object: two signal-free plates inclined at 11.3° (tan θ = 0.2) in the
    fluid, seen as two broad dips; each profile is averaged over the central 60 % of its band and its
    baseline is the straight line through the fluid on both sides.
- The FWHM is read between the half-height crossings (linear, sub-sample) of the baseline-corrected
  profile, the height being the mean of the profile's plateau (samples above 75 % of the smoothed
  maximum), not a single noisy maximum.
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

KEY = "mr-slice-thickness"
TAN_ACR = 0.1  # ACR large phantom ramps: 10:1 (ACR MRI QC manual)
TAN_MAGNET = math.tan(math.radians(11.3))  # MagNET slice-width object (hazen uses 11.3°)
PLATEAU_FRACTION = 0.75
MAX_TILT_DEG = 10.0  # a larger tilt means the two "ramps" found are not the phantom's ramp pair


@dataclass
class RampProfile:
    """One ramp: its profile along the ramp direction, baseline-corrected and normalised to 1 at the plateau."""

    label: str
    position_mm: np.ndarray = field(repr=False)  # in-plane position along the ramp, mm
    value: np.ndarray = field(repr=False)  # normalised ramp signal (0 = baseline, 1 = plateau)
    fwhm_mm: float | None  # in-plane FWHM of the ramp image, mm
    box: tuple[float, float, float, float]  # (r0, c0, r1, c1) px: where the profile was averaged
    centre_mm: float | None = None


@dataclass
class SliceThicknessResult:
    """What one image gives: phantom kind, ramps, thickness and tilt."""

    label: str
    phantom: str  # "acr" or "magnet"
    tan_theta: float
    ramps: list[RampProfile]
    slice_thickness_mm: float | None
    tilt_deg: float | None
    nominal_mm: float | None
    bar_box: tuple[float, float, float, float] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def single_ramp_mm(self) -> list[float | None]:
        return [None if r.fwhm_mm is None else r.fwhm_mm * self.tan_theta for r in self.ramps]


# ---------------------------------------------------------------- the formula


def opposed_ramps_thickness_mm(l1_mm: float, l2_mm: float, tan_theta: float) -> tuple[float, float]:
    """Slice thickness w and phantom tilt φ (degrees) from the FWHM lengths of two opposed ramps:
    L₁ = w / tan(θ + φ), L₂ = w / tan(θ − φ), solved exactly (IPEM Report 112; ACR manual to first order)."""
    from scipy import optimize  # ~0.3 s of CPU to import: when a thickness is solved, not with the module

    theta = math.atan(tan_theta)
    if l1_mm <= 0 or l2_mm <= 0:
        raise ValueError("ramp lengths must be positive")
    if abs(l1_mm - l2_mm) < 1e-12:
        return l1_mm * tan_theta, 0.0

    def g(phi: float) -> float:
        return l1_mm * math.tan(theta + phi) - l2_mm * math.tan(theta - phi)

    eps = 1e-9
    phi = optimize.brentq(g, -theta + eps, theta - eps, xtol=1e-12)
    return l1_mm * math.tan(theta + phi), math.degrees(phi)


# ---------------------------------------------------------------- profiles


def _plateau_height(v: np.ndarray) -> float:
    """Height of the peak: the top of a parabola fitted to the samples above 75 % of the smoothed maximum
    (a rounded real slice profile has no flat top, and a single sample's maximum is biased by noise)."""
    sm = ndimage.gaussian_filter1d(v, 1.0)
    k = int(np.argmax(sm))
    lo = k
    while lo > 0 and sm[lo - 1] >= PLATEAU_FRACTION * sm[k]:
        lo -= 1
    hi = k
    while hi < v.size - 1 and sm[hi + 1] >= PLATEAU_FRACTION * sm[k]:
        hi += 1
    if hi - lo < 3:
        return float(sm[k])
    x = np.arange(lo, hi + 1, dtype=float)
    a, b, c = np.polyfit(x, v[lo : hi + 1], 2)
    top = c - b * b / (4 * a) if a < 0 and lo <= -b / (2 * a) <= hi else float(np.max(np.polyval((a, b, c), x)))
    return float(top)


def normalised_fwhm(v: np.ndarray, step_mm: float) -> tuple[np.ndarray, float | None, float | None]:
    """(profile / plateau, FWHM in mm, centre in mm) of a baseline-corrected peak profile."""
    h = _plateau_height(v)
    if not h > 0:
        return v, None, None
    n = v / h
    sm = ndimage.gaussian_filter1d(n, 1.0)
    k = int(np.argmax(sm))
    left = crossing(n, 0.5, k, -1)
    right = crossing(n, 0.5, k, 1)
    if left is None or right is None:
        return n, None, None
    return n, (right - left) * step_mm, 0.5 * (left + right) * step_mm


# ---------------------------------------------------------------- ACR: bar with two bright ramps


def find_acr_bar(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float]) -> tuple[int, int] | None:
    """Rows (first, last) of the ACR slice-thickness bar: a dark band crossing at least 85 % of the
    phantom's chord, 5–30 mm high, within the central 60 % of the phantom (of several, the one nearest the
    centre). None when absent."""
    r0c, _c0c = ph.centre_rc
    n_rows, n_cols = img.shape
    rows = np.arange(n_rows)
    inside = ph.mask
    counts = inside.sum(axis=1)
    first = np.argmax(inside, axis=1)
    last = n_cols - 1 - np.argmax(inside[:, ::-1], axis=1)
    ok = (np.abs(rows - r0c) <= 0.6 * ph.radius_px) & (counts >= 0.5 * ph.radius_px)
    span = last - first
    lo = (first + 0.1 * span).astype(int)  # int() of positive values, as the chord's own 10 % margins
    hi = (last - 0.1 * span).astype(int)
    below = np.zeros((n_rows, n_cols + 1))
    np.cumsum(img < ph.level, axis=1, out=below[:, 1:])
    n = np.maximum(hi - lo + 1, 1)
    frac = (below[rows, np.clip(hi + 1, 0, n_cols)] - below[rows, np.clip(lo, 0, n_cols)]) / n
    dark = ok & (hi >= lo) & (frac > 0.85)
    labels, n_lab = ndimage.label(dark)
    best = None
    for i in range(1, n_lab + 1):
        rr = np.nonzero(labels == i)[0]
        h_mm = (rr[-1] - rr[0] + 1) * spacing_rc[0]
        # the bar crosses the phantom's middle; a wide block below it (the hole arrays: 83 % of the chord dark
        # on acr/PhilipsAchieva) may pass the 85 % test after resampling: the band nearest the centre is the bar
        if 5.0 <= h_mm <= 30.0 and (best is None or abs(0.5 * (rr[0] + rr[-1]) - r0c) < abs(0.5 * (best[0] + best[1]) - r0c)):
            best = (int(rr[0]), int(rr[-1]))
    return best


def bar_columns(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float], bar: tuple[int, int]) -> tuple[int, int]:
    """Columns inside the bar, 3 mm clear of its ends: walking out from the phantom's centre column on the
    bar's mean row profile until the signal rises above the phantom's half level (the wall)."""
    top, bottom = bar
    prof = img[top : bottom + 1].mean(axis=0)
    cc = int(round(ph.centre_rc[1]))
    left = crossing(prof, ph.level, cc, -1)
    right = crossing(prof, ph.level, cc, 1)
    margin = 3.0 / spacing_rc[1]
    # never beyond the phantom's outline (a bar that meets no bright wall, or runs out of the phantom)
    chord = np.nonzero(ph.mask[int(round(0.5 * (top + bottom)))])[0]
    lo_c = chord[0] if chord.size else 0
    hi_c = chord[-1] if chord.size else img.shape[1] - 1
    left = lo_c if left is None else max(left, lo_c)
    right = hi_c if right is None else min(right, hi_c)
    c0 = int(math.ceil(left + margin))
    c1 = int(math.floor(right - margin))
    return c0, c1


def end_baseline(prof: np.ndarray, fraction: float = 0.25, percentile: float = 10.0) -> np.ndarray:
    """The insert's own floor under a ramp (no excited fluid: noise bias only): the straight line between
    the 10th percentiles of the profile's outer 25 % on each side. Not their median: a real slice profile
    has side lobes that reach the ends of the bar (3 T Siemens ACR image: lobes of ~25 % of the peak 5-6 mm
    from the slice centre, on both ramps), and the FWHM is relative to zero excitation, as in the ACR
    manual's reading (display level at half the ramp signal, no background taken off)."""
    n = prof.size
    k = max(2, int(fraction * n))
    x = np.arange(n, dtype=float)
    xl, xr = (k - 1) / 2.0, n - 1 - (k - 1) / 2.0
    yl, yr = float(np.percentile(prof[:k], percentile)), float(np.percentile(prof[-k:], percentile))
    return yl + (yr - yl) * (x - xl) / (xr - xl)


def _first_crossings(block: np.ndarray, level: float, start: int, step: int) -> np.ndarray:
    """`crossing` for every column of `block` at once (walking rows from `start` by `step`); NaN where none."""
    above = block >= level
    changed = above != above[start]
    if step < 0:
        sub = changed[start - 1 :: -1] if start > 0 else changed[:0]
    else:
        sub = changed[start + 1 :]
    out = np.full(block.shape[1], np.nan)
    if sub.shape[0] == 0:
        return out
    has = sub.any(axis=0)
    j = start + step * (1 + np.argmax(sub, axis=0))
    i = j - step
    cols = np.arange(block.shape[1])
    pj, pi = block[np.clip(j, 0, block.shape[0] - 1), cols], block[np.clip(i, 0, block.shape[0] - 1), cols]
    d = pj - pi
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(d == 0, 0.0, (level - pi) / d)
    out[has] = (i + step * frac)[has]
    return out


def bar_edges(img: np.ndarray, ph: Phantom, bar: tuple[int, int], c0: int, c1: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Straight lines (row = a + b·col) of the bar's upper and lower borders, from the half-level crossing
    of every column between c0 and c1 (the phantom may be turned by a degree or two: hazen finds −1° on
    its Siemens set). Returns (upper coefficients, lower coefficients) for np.polyval, or None."""
    top, bottom = bar
    h = bottom - top + 1
    r_lo, r_hi = max(0, top - h), min(img.shape[0] - 1, bottom + h)
    mid = int(round(0.5 * (top + bottom))) - r_lo
    block = img[r_lo : r_hi + 1, c0 : c1 + 1]
    ups = _first_crossings(block, ph.level, mid, -1)
    downs = _first_crossings(block, ph.level, mid, 1)
    good = np.isfinite(ups) & np.isfinite(downs)
    if good.sum() < 10:
        return None
    x = np.arange(c0, c1 + 1, dtype=float)[good]
    out = []
    for y in (ups[good] + r_lo, downs[good] + r_lo):
        coef = np.polyfit(x, y, 1)
        res = y - np.polyval(coef, x)
        ok = np.abs(res) < max(1.0, 3 * 1.4826 * np.median(np.abs(res)))
        out.append(np.polyfit(x[ok], y[ok], 1))
    return out[0], out[1]


def acr_ramps(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float], bar: tuple[int, int]) -> list[RampProfile]:
    """The two ramp profiles of the ACR bar: sampled along lines parallel to the bar's fitted borders,
    the top ramp over 15–45 % of the bar's height and the bottom one over 55–85 % (clear of the borders'
    ringing and of the divider), each the mean of its lines, along the bar less 3 mm at each end; the
    baseline is the bar's floor at both ends of the profile (`end_baseline`)."""
    c0, c1 = bar_columns(img, ph, spacing_rc, bar)
    edges = bar_edges(img, ph, bar, c0, c1)
    cols = np.arange(c0, c1 + 1, dtype=float)
    if edges is None:
        upper = np.full_like(cols, bar[0] - 0.5)
        lower = np.full_like(cols, bar[1] + 0.5)
    else:
        upper, lower = np.polyval(edges[0], cols), np.polyval(edges[1], cols)
    # Gibbs ringing across the bar alternates row by row (period 2 px) with a phase that follows the tilted
    # borders' sub-pixel position; a [1, 2, 1]/4 filter across the bar removes that Nyquist component before
    # lines are interpolated between rows (it moves no signal along the ramps)
    r_lo, r_hi = max(0, bar[0] - 3), min(img.shape[0], bar[1] + 4)
    band = ndimage.convolve1d(img[r_lo:r_hi], [0.25, 0.5, 0.25], axis=0, mode="nearest")
    out = []
    for name, fr in (("top", np.linspace(0.15, 0.45, 7)), ("bottom", np.linspace(0.55, 0.85, 7))):
        prof = np.zeros_like(cols)
        for f in fr:
            rows = upper + f * (lower - upper)
            prof += ndimage.map_coordinates(band, [rows - r_lo, cols], order=1, mode="nearest")
        prof /= len(fr)
        n, fw, centre = normalised_fwhm(prof - end_baseline(prof), spacing_rc[1])
        pos = np.arange(prof.size) * spacing_rc[1]
        r_a = float(np.mean(upper + fr[0] * (lower - upper)))
        r_b = float(np.mean(upper + fr[-1] * (lower - upper)))
        out.append(RampProfile(name, pos, n, fw, (r_a, c0 - 0.5, r_b, c1 + 0.5), centre))
    return out


# ---------------------------------------------------------------- MagNET: two dips


def _edge_width(p: np.ndarray) -> float:
    """How soft the flanks of a dip profile are, in samples: its depth over its steepest slope (a sharp
    band edge gives ~1–2 samples, a ramp's slice profile many). Robust to a sloping floor, unlike
    20–80 % crossings."""
    sm = ndimage.gaussian_filter1d(p, 1.0)
    depth = float(sm.max() - sm.min())
    slope = float(np.max(np.abs(np.diff(sm))))
    return depth / slope if slope > 0 else 0.0


REFERENCE_GAP_MM = 3.0  # fluid strips start this far outside the plate band (clear of its edge and its ringing)
REFERENCE_DEPTH_MM = 8.0  # and are this deep (the quadratic across the band needs their span)
ACROSS_ORDER = 2  # the shading across the band: quadratic


def fluid_beside_band(img: np.ndarray, usable: np.ndarray, band_rows: tuple[int, int], cols: tuple[int, int],
                      profile_rows: tuple[int, int], row_mm: float) -> np.ndarray:
    """The fluid signal the plate band would show without its plate, column by column: a surface quadratic along
    and across the band (9 terms) fitted to two strips of fluid, one just above and one just below the band (rods
    and dips left out), averaged over the rows the ramp profile averages.

    The receive-coil shading of a real image is not a straight line along a 100 mm profile (hazen's Siemens file:
    the fluid falls 577 → 510 over the 30 mm before the top plate and rises only to 533 after it), so a line fitted
    through the profile's own flanks sits above the fluid at the dip, deepens it and widens its half-height
    crossings (5.72 mm read for MATLAB's 5.48 there, 6.15 under a bowl-shaped shading of +50 % at the phantom's
    edge). The fluid beside the band, at the same columns, carries the same shading and none of the slice
    profile's tails; the quadratic across the band follows a shading that curves between the two strips."""
    r0, r1 = band_rows
    c_start, c_stop = cols
    gap = max(1, int(round(REFERENCE_GAP_MM / row_mm)))
    depth = max(2, int(round(REFERENCE_DEPTH_MM / row_mm)))
    rows = np.r_[max(0, r0 - gap - depth) : max(0, r0 - gap), min(img.shape[0], r1 + gap + 1) : min(img.shape[0], r1 + gap + depth + 1)]
    n_cols = c_stop - c_start
    if rows.size == 0:
        return np.full(n_cols, np.nan)
    rr, cc = np.meshgrid(rows, np.arange(c_start, c_stop), indexing="ij")
    ok = usable[rr, cc]
    # both sides are needed to follow the shading across the band, and most columns
    above, below = ok[rows < r0].any(axis=1).sum(), ok[rows > r1].any(axis=1).sum()
    if above < 2 or below < 2 or ok.any(axis=0).sum() < 0.5 * n_cols:
        return np.full(n_cols, np.nan)
    centre_r, half_r = 0.5 * (r0 + r1), max(1.0, 0.5 * (r1 - r0) + gap + depth)
    centre_c, half_c = 0.5 * (c_start + c_stop - 1), max(1.0, 0.5 * (n_cols - 1))

    def design(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        u, v = (c - centre_c) / half_c, (r - centre_r) / half_r
        return np.stack([u**i * v**j for i in range(3) for j in range(ACROSS_ORDER + 1)], axis=-1)

    coef, *_ = np.linalg.lstsq(design(rr[ok].astype(float), cc[ok].astype(float)), img[rr, cc][ok], rcond=None)
    pr = np.arange(profile_rows[0], profile_rows[1] + 1, dtype=float)
    pr_g, pc_g = np.meshgrid(pr, np.arange(c_start, c_stop, dtype=float), indexing="ij")
    return (design(pr_g, pc_g) @ coef).mean(axis=0)


def dip_fraction(prof: np.ndarray, fluid: np.ndarray) -> np.ndarray:
    """How much of the fluid signal the plate takes away, 0 (fluid) to ~1: 1 − profile / fluid (the shading
    multiplies the plate's shadow, it does not add to it). Where no fluid reference was found, the former straight
    line through the profile's flanks stands in (a phantom filling the strips: rare)."""
    if not np.all(np.isfinite(fluid)):
        x = np.arange(prof.size, dtype=float)
        k = int(np.argmax(ndimage.gaussian_filter1d(prof.max() - prof, 1.0)))
        flank = np.abs(x - k) > prof.size / 4.0
        if flank.sum() < 4:
            flank = np.ones_like(x, dtype=bool)
        fluid = np.polyval(np.polyfit(x[flank], prof[flank], 1), x)
    return 1.0 - prof / np.maximum(fluid, 1e-9)


def magnet_ramps(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float]) -> list[RampProfile]:
    """The two broad dips of the MagNET slice-width plates, each profiled along its soft (ramp) direction."""
    bg = fluid_background(img)
    inner = ndimage.binary_erosion(ph.mask, iterations=max(1, int(0.1 * ph.radius_px)))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(inner, img / np.maximum(bg, 1e-9), 1.0)
    ratio = ndimage.gaussian_filter(ratio, 1.0)
    # small deep dips (rods, pins) are not ramps: take them out, with a margin, before looking for the plates
    deep = ndimage.binary_dilation(ratio < 0.6, iterations=max(2, int(round(3.0 / min(spacing_rc)))))
    dips = inner & (ratio < 0.92) & ~deep
    labels, n = ndimage.label(dips)
    px_area = spacing_rc[0] * spacing_rc[1]
    found = []
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        h_mm = (sl[0].stop - sl[0].start) * spacing_rc[0]
        w_mm = (sl[1].stop - sl[1].start) * spacing_rc[1]
        area = np.sum(labels[sl] == i) * px_area
        if area >= 100.0 and min(h_mm, w_mm) >= 8.0:
            found.append((area, sl))
    found.sort(key=lambda a: -a[0])
    ramps = []
    for area, sl in found[:2]:
        r0, r1, c0, c1 = sl[0].start, sl[0].stop - 1, sl[1].start, sl[1].stop - 1
        hr, hc = r1 - r0 + 1, c1 - c0 + 1
        # profiles across the blob both ways, extended by the blob size on each side
        rr = slice(int(r0 + 0.2 * hr), int(r1 - 0.2 * hr) + 1)
        cc = slice(int(c0 + 0.2 * hc), int(c1 - 0.2 * hc) + 1)
        ext_c = slice(max(0, c0 - hc), min(img.shape[1], c1 + hc + 1))
        ext_r = slice(max(0, r0 - hr), min(img.shape[0], r1 + hr + 1))
        # direction test on a window reaching half the blob's size around it (the other plate stays out),
        # rods blanked
        clean = np.where(deep, 1.0, ratio)
        usable = inner & ~deep & (labels == 0)  # fluid: inside, no rod, in no dip
        near_c = slice(max(0, c0 - hc // 2), min(img.shape[1], c1 + hc // 2 + 1))
        near_r = slice(max(0, r0 - hr // 2), min(img.shape[0], r1 + hr // 2 + 1))
        along_cols = clean[rr, near_c].mean(axis=0)
        along_rows = clean[near_r, cc].mean(axis=1)
        soft_cols = _edge_width(along_cols) * spacing_rc[1]
        soft_rows = _edge_width(along_rows) * spacing_rc[0]
        if soft_cols >= soft_rows:  # ramp runs along the columns (profile left → right)
            band = (int(r0 + 0.2 * hr), int(r1 - 0.2 * hr))
            start, stop = ext_c.start, ext_c.stop
            prof = img[band[0] : band[1] + 1, start:stop].mean(axis=0)
            step = spacing_rc[1]
            box = (band[0] - 0.5, start - 0.5, band[1] + 0.5, stop - 0.5)
        else:
            band = (int(c0 + 0.2 * hc), int(c1 - 0.2 * hc))
            start, stop = ext_r.start, ext_r.stop
            prof = img[start:stop, band[0] : band[1] + 1].mean(axis=1)
            step = spacing_rc[0]
            box = (start - 0.5, band[0] - 0.5, stop - 0.5, band[1] + 0.5)
        x = np.arange(prof.size, dtype=float)
        if soft_cols >= soft_rows:
            fluid = fluid_beside_band(img, usable, (r0, r1), (start, stop), band, spacing_rc[0])
        else:
            fluid = fluid_beside_band(img.T, usable.T, (c0, c1), (start, stop), band, spacing_rc[1])
        nprof, fw, centre = normalised_fwhm(dip_fraction(prof, fluid), step)
        ramps.append(RampProfile("", x * step, nprof, fw, box, centre))
    # name them by position: top/bottom (or left/right)
    if len(ramps) == 2:
        (a, b) = ramps
        if abs(a.box[0] - b.box[0]) >= abs(a.box[1] - b.box[1]):
            order = sorted(ramps, key=lambda r: r.box[0])
            names = ("top", "bottom")
        else:
            order = sorted(ramps, key=lambda r: r.box[1])
            names = ("left", "right")
        for r, nm in zip(order, names):
            r.label = nm
        ramps = order
    return ramps


# ---------------------------------------------------------------- one image


def measure_slice_thickness(image: MRImage, lang: str = "fr", tan_theta: float | None = None, phantom: str = "auto",
                            found: tuple[Phantom, tuple[int, int]] | None = None) -> SliceThicknessResult:
    """Slice thickness of one image from its opposed ramps (ACR bar or MagNET plates, found in the image).
    `found`: the (phantom, ACR bar rows) already found on this image (the ACR set finds them to order its
    series), not searched again."""
    img = image.pixels
    if found is not None:
        ph, bar = found
    else:
        ph = find_phantom(img, image.label, lang)
        bar = find_acr_bar(img, ph, image.spacing_rc) if phantom in ("auto", "acr") else None
    nominal = getattr(image.slice, "slice_thickness_mm", None)
    warnings: list[str] = []
    if bar is not None:
        kind, tan_t = "acr", tan_theta or TAN_ACR
        ramps = acr_ramps(img, ph, image.spacing_rc, bar)
    elif phantom in ("auto", "magnet"):
        kind, tan_t = "magnet", tan_theta or TAN_MAGNET
        ramps = magnet_ramps(img, ph, image.spacing_rc)
    else:
        kind, tan_t, ramps = phantom, tan_theta or TAN_ACR, []
    if len(ramps) < 2:
        raise QCInputError("err.wrong_image", file=image.label, reason=t("mrst.reason.no_ramps", lang, n=len(ramps)))
    thickness = tilt = None
    l1, l2 = ramps[0].fwhm_mm, ramps[1].fwhm_mm
    if l1 and l2:
        thickness, tilt = opposed_ramps_thickness_mm(l1, l2, tan_t)
        # a phantom tilted by more than 10° (possible in the solution only for the 11.3° MagNET ramps) means the
        # two dips found are not its ramp pair
        if abs(tilt) > MAX_TILT_DEG:
            raise QCInputError("err.wrong_image", file=image.label, reason=t("mrst.reason.inconsistent", lang, l1=l1, l2=l2))
    else:
        warnings.append(t("mrst.warn.no_fwhm", lang, file=image.label))
    bar_box = None
    if bar is not None:
        c0, c1 = bar_columns(img, ph, image.spacing_rc, bar)
        bar_box = (bar[0] - 0.5, c0 - 0.5, bar[1] + 0.5, c1 + 0.5)
    return SliceThicknessResult(image.label, kind, tan_t, ramps, thickness, tilt, nominal, bar_box, warnings)


def overlay(image: MRImage, res: SliceThicknessResult) -> np.ndarray:
    ov = Overlay(image.pixels)
    if res.bar_box:
        ov.rect(*res.bar_box, colour=(0, 200, 255))
    colours = ((0, 230, 0), (255, 200, 0))
    for r, col in zip(res.ramps, colours):
        ov.rect(*r.box, colour=col)
    return ov.rgb


# ---------------------------------------------------------------- analyser


def _r(v, nd=3):
    return None if v is None else round(float(v), nd)


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """Every image of the upload with a ramp pair: thickness per image, worst deviation for the session."""
    lang = ctx.lang
    series, images, set_aside = load_images_of(inputs, lang)
    tan_opt = ctx.options.get("ramp_tan")
    phantom = str(ctx.options.get("phantom", "auto"))
    measurements: list[Measurement] = []
    items: list[dict[str, Any]] = []
    warnings = list(set_aside)
    overlays = []
    profiles: dict[str, Any] = {}
    used = []
    errors = []
    for im in images:
        try:
            res = measure_slice_thickness(im, lang, float(tan_opt) if tan_opt else None, phantom)
        except QCInputError as exc:
            errors.append(exc.message(lang))
            continue
        used.append(im.slice)
        warnings.extend(res.warnings)
        item = im.label
        dev = None if res.slice_thickness_mm is None or res.nominal_mm is None else res.slice_thickness_mm - res.nominal_mm
        measurements.append(Measurement("slice_thickness_mm", res.slice_thickness_mm, "mm", item=item, nominal=res.nominal_mm,
                                        description=SPEC_METRICS["slice_thickness_mm"].label(lang)))
        single = res.single_ramp_mm
        items.append({
            "image": item, "phantom": res.phantom, "tan_theta": round(res.tan_theta, 4),
            "ramp_1": res.ramps[0].label, "ramp_1_fwhm_mm": _r(res.ramps[0].fwhm_mm), "ramp_1_thickness_mm": _r(single[0]),
            "ramp_2": res.ramps[1].label, "ramp_2_fwhm_mm": _r(res.ramps[1].fwhm_mm), "ramp_2_thickness_mm": _r(single[1]),
            "slice_thickness_mm": _r(res.slice_thickness_mm), "nominal_mm": res.nominal_mm, "error_mm": _r(dev), "tilt_deg": _r(res.tilt_deg, 2),
        })
        profiles[item] = [
            {"ramp": r.label, "z_mm": ((r.position_mm - (r.centre_mm or 0.0)) * res.tan_theta).tolist(), "value": r.value.tolist()}
            for r in res.ramps
        ]
        overlays.append((t("mrst.overlay", lang, image=item), overlay(im, res)))
    if not used:
        raise QCInputError("mrst.err.none", detail=" ".join(errors[:3]))
    warnings.extend(t("mrst.warn.skipped", lang, reason=e) for e in errors)
    errs = [it["error_mm"] for it in items]
    worst_err = None if any(e is None for e in errs) else max(abs(e) for e in errs)
    measurements.append(Measurement("max_abs_slice_thickness_error_mm", worst_err, "mm",
                                    description=SPEC_METRICS["max_abs_slice_thickness_error_mm"].label(lang)))
    return AnalysisResult(
        test=KEY, measurements=measurements, items=items, warnings=warnings, overlays=overlays,
        extra={"profiles": profiles}, **identity_of(used, ctx.acquired_at, lang),
        params={
            "definition": "FWHM of each ramp profile x tan(theta), two opposed ramps solved exactly for thickness and tilt",
            "tan_theta_acr": TAN_ACR, "tan_theta_magnet": round(TAN_MAGNET, 5), "phantom": phantom,
        },
    )


# ---------------------------------------------------------------- spec

_REF = "ACR MRI QC manual (2015): épaisseur 5,0 ± 0,7 mm ; IPEM Report 112 ; NEMA MS-5"
_METRICS = (
    MetricSpec("slice_thickness_mm", "mm", "Épaisseur de coupe", "Slice thickness",
               Tolerance.symmetric(0.5, 0.7, reference=_REF + " ; alerte à 0,5 mm")),
    MetricSpec("max_abs_slice_thickness_error_mm", "mm", "Écart max. |épaisseur − nominale|", "Max |slice thickness error|",
               Tolerance.at_most(0.5, 0.7, reference=_REF + " ; alerte à 0,5 mm"), better="lower"),
)
SPEC_METRICS = {m.name: m for m in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "2.0"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr="IRM : épaisseur de coupe",
    name_en="MR: slice thickness",
    frequency="monthly",
    kind="dicom",
    metrics=_METRICS,
    analyse=analyse,
    page="pages/mr_slice_thickness.py",
    description_fr=("Épaisseur de coupe mesurée sur deux rampes inclinées opposées (fantôme ACR, coupe 1, ou objet MagNET/IPEM) : "
                    "largeur à mi-hauteur de chaque rampe × tan θ, inclinaison du fantôme corrigée."),
    description_en=("Slice thickness from two opposed inclined ramps (ACR phantom slice 1, or the MagNET/IPEM object): FWHM of each "
                    "ramp × tan θ, corrected for the phantom's tilt."),
    accepts=".dcm,.ima,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:mr_slice_thickness_demo"
ROUTING = None  # received MR phantom images are not routed to the image-quality tests yet: they are uploaded on their study page
# The menu shows this test under its study page (the page that takes a whole upload and routes it to its tests).
MENU_GROUP = "mr-image"
# The demo database: the first Tuesday evening of the last full month (a borderline thickness, commented) and of the
# current one.
DEMO = DemoSessions(
    make="qc.demo_inputs:mr_slice_thickness_session", gen="mr_slice_thickness", span="monthly", weekday=1, time="19:00",
    months=(({"thickness_mm": 5.55}, "Épaisseur de coupe en limite : à recontrôler avec le PIQT de la semaine prochaine."),
            ({"thickness_mm": 5.3}, "")),
    seed_offset=1,
)


def charts(result: AnalysisResult, lang: str = "fr") -> list[tuple[str, Any]]:
    """The ramp profiles of each image against the slice position z = x·tan θ."""
    import altair as alt
    import pandas as pd

    out = []
    for item, profs in result.extra.get("profiles", {}).items():
        frames = [pd.DataFrame({"z_mm": p["z_mm"], "value": p["value"], "ramp": p["ramp"]}) for p in profs]
        df = pd.concat(frames, ignore_index=True)
        title = t("mrst.chart.title", lang, image=item)
        ch = alt.Chart(df).mark_line().encode(
            x=alt.X("z_mm:Q", title=t("mrst.chart.z", lang)),
            y=alt.Y("value:Q", title=t("mrst.chart.value", lang)),
            color=alt.Color("ramp:N", title=t("mrst.chart.ramp", lang)),
        ).properties(title=title)
        out.append((title, ch))
    return out
