"""Shared MLC toolkit: leaf pairs, per-leaf profiles and the edges of leaf-defined bright bands.

Owns the one engine behind "Position des lames" (`qc.mv.leaves`) and "MVIC Fente" (`qc.mv.slits`), and
the picket fences of other linacs (domain.md §2, §4, §5, §12.1):

1. **Leaf travel direction** from the image itself (`leaf_travel_axis`): the MLC openings are bands
   whose edges are perpendicular to the leaf travel, so the image's gradient energy is largest
   along the travel. No polarity or orientation hint is needed (polarity is set by `qc.readers.dicom_io`).
   Below, t = coordinate along the leaf travel, p = coordinate across the pairs. On the Unity
   t = v (rows) and p = u (columns) (domain.md §0.6).
2. **Leaf pairs from the image** (`detect_leaf_pairs`): in the leaf-blocked rows the inter-leaf
   leakage draws one bright line per pair boundary; the rows are averaged, high-passed, and the
   line peaks located to sub-pixel. Pair centre = midpoint of two neighbouring boundaries; pitch =
   median boundary spacing, checked against the expected pitch (Unity 7.175 mm at isocentre).
   Leaf widths are taken as found (Millennium 5/10 mm, Agility 5 mm...). Without a visible pattern
   the pairs are placed from the CAX at the expected pitch (with a warning).
3. **Per-leaf profiles** (`pair_profiles`): the mean along t over the central 40 % of each pair
   (pylinac `leaf_analysis_width_ratio=0.4`, domain.md §2.5), which avoids tongue-and-groove and
   the inter-leaf lines.
4. **Bands and their edges** (`bands_in_profile`): a band is a run of the profile above the image's
   mid level (between its low and high percentiles). Each band edge is the sub-pixel 50 % crossing
   between the *local* open level (maximum inside the band within 8 mm of the edge, i.e. the
   peak for a narrow slit/picket) and the *local* blocked level (minimum outside the band within
   10 mm, up to the valley towards the next band): the locally normalised 50 % of domain.md §2.6,
   which is also pylinac's FWXM-50 for pickets. A narrow band (slit, picket) gives its FWHM centre
   (the position of the leaf "kiss") and width. A wide band (gap) gives one leaf tip per bank,
   refined (`refine_gap_edges`) with the open level *at the edge* (the FFF-shaped plateau of the
   image's wide gaps) and an erf edge model that undoes the overlap of the two penumbrae of
   narrow gaps (e.g. the 5 mm gaps of the AQUA error staircase).
   Picket or gap: an image with two or more openings, or whose bands are narrower than 12 mm
   (90th percentile of the FWHMs), is a picket fence / slit image; one wide opening is a gap image.
5. **Grouping and lines** (`measure_mlc_image`): the bands of all pairs are grouped into the
   image's openings (pickets, slits, gaps); a robust straight line per opening edge or centre
   (position vs pair position) gives the relative errors pylinac reports.

Coordinates: positions are in mm at the isocentre (`qc.readers.dicom_io` scales by SAD/SID) relative to the
calibrated CAX pixel (`qc.mv.geometry.cax_pixel`), + towards increasing row (v) or column (u) index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from qc.readers.dicom_io import DicomImage
from qc.errors import QCInputError
from qc.mv.common import block_mean
from qc.mv.geometry import CaxPixel, subpixel_crossings
from qc.i18n import t as tr

UNITY_LEAF_PITCH_MM = 7.175  # 57.4 cm / 80 pairs at isocentre (domain.md §1)
UNITY_N_PAIRS = 80
UNITY_CENTRAL_BOUNDARY = 40  # pairs 40|41 meet on the beam axis (domain.md §0.6)
LEAF_WIDTH_RATIO = 0.4  # central fraction of each leaf averaged into its profile (pylinac default)
PITCH_MATCH_FRACTION = 0.10  # detected pitch within ±10 % of the expected one = the expected MLC
MIN_PAIRS = 5  # fewer leaf pairs with an opening: not an MLC image
OPEN_FIELD_LIMIT_MM = 60.0  # a band wider than this is an open field, not a leaf pattern
EDGE_INSIDE_MM = 8.0  # local open level: max inside the band within this distance of the edge
EDGE_OUTSIDE_MM = 10.0  # local blocked level: min outside the band within this distance
BORDER_PX = 6  # imager border rows/columns ignored (dead or saturated lines on real panels)
PICKET_MAX_WIDTH_MM = 12.0  # a band narrower than this (FWHM) is a slit/picket, wider a gap
GROUP_PRESENCE = 0.3  # an opening must appear in at least this fraction of the pairs
EDGE_DEFINITION = (
    "sub-pixel 50 % crossing between the local open level (max inside the band within 8 mm of the edge) and "
    "the local blocked level (min outside within 10 mm, up to the valley towards the next band), on the mean "
    "profile over the central 40 % of each leaf pair (domain.md §2.6 locally normalised 50 %; pylinac FWXM 50)"
)


# ---------------------------------------------------------------- data


@dataclass
class LeafPairs:
    """Leaf pairs found across the image (pair axis p, pixels of the canonical frame)."""

    centres_px: np.ndarray
    widths_px: np.ndarray
    numbers: np.ndarray  # pair number of each (int)
    boundaries_px: np.ndarray  # detected inter-leaf lines
    pitch_mm: float  # median boundary spacing (mm at isocentre)
    source: str  # "image" or "expected"
    numbering: str  # "unity" (pair 40|41 at the CAX) or "image order"


@dataclass
class MLCImage:
    """Everything measured on one MLC image, in the canonical frame (t along the leaf travel).

    Arrays indexed [pair, group]: `lo_mm`/`hi_mm` are the band's low-t and high-t edges (mm from
    the CAX along t), `peak` the band's local open level, nan where that pair shows no complete band.
    """

    file: str
    travel_axis: int  # 0: leaves travel along v (rows, Unity); 1: along u (columns)
    cax: CaxPixel
    t0_px: float
    p0_px: float
    px_t_mm: float
    px_p_mm: float
    pairs: LeafPairs
    p_mm: np.ndarray  # pair centre positions across (mm from the CAX)
    lo_mm: np.ndarray
    hi_mm: np.ndarray
    peak: np.ndarray
    mode: str  # "gap" (wide bands: one leaf end per bank) or "picket" (narrow bands: centres)
    warnings: list[str] = field(default_factory=list)
    profiles: np.ndarray | None = None  # the per-pair profiles along t (pair, t px) the edges were read on
    # per opening (gap mode): the 20–80 % penumbra (mm) of its low-t and high-t leaf ends used in the edge model
    penumbra_mm: list[tuple[float, float]] = field(default_factory=list)

    @property
    def centre_mm(self) -> np.ndarray:
        return (self.lo_mm + self.hi_mm) / 2

    @property
    def width_mm(self) -> np.ndarray:
        return self.hi_mm - self.lo_mm

    @property
    def n_groups(self) -> int:
        return self.lo_mm.shape[1]

    def t_mm_to_px(self, t_mm: np.ndarray) -> np.ndarray:
        return self.t0_px + np.asarray(t_mm) / self.px_t_mm

    def p_mm_to_px(self, p_mm: np.ndarray) -> np.ndarray:
        return self.p0_px + np.asarray(p_mm) / self.px_p_mm

    def to_uv(self, t_px: np.ndarray, p_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Canonical (t, p) pixels → image (u, v) pixels."""
        return (np.asarray(p_px), np.asarray(t_px)) if self.travel_axis == 0 else (np.asarray(t_px), np.asarray(p_px))


# ---------------------------------------------------------------- orientation and frame


def leaf_travel_axis(sig: np.ndarray) -> int:
    """0 when the leaves travel along v (rows; bands run across the image horizontally), 1 along u.

    Definition: the axis along which the image's total absolute gradient is larger, on every 4th
    row and column (noise adds alike to both axes; the MLC band edges run the whole image length,
    the leaf sides and inter-leaf lines are faint by comparison).
    """
    s = sig[BORDER_PX:-BORDER_PX:4, BORDER_PX:-BORDER_PX:4]
    g_v = np.abs(np.diff(s, axis=0)).sum()
    g_u = np.abs(np.diff(s, axis=1)).sum()
    return 0 if g_v >= g_u else 1


def canonical(image: DicomImage, cax: CaxPixel, travel_axis: int) -> tuple[np.ndarray, float, float, float, float]:
    """(signal with the leaf travel along axis 0, t0 px, p0 px, t pixel mm, p pixel mm)."""
    row_mm, col_mm = image.pixel_size_iso_mm
    if travel_axis == 0:
        return image.signal, cax.v0, cax.u0, row_mm, col_mm
    return image.signal.T, cax.u0, cax.v0, col_mm, row_mm


# ---------------------------------------------------------------- levels and bands


def band_threshold(sig_c: np.ndarray) -> tuple[float, float, float]:
    """(low, high, mid) levels of the image: 5th and 99.5th percentiles inside the border, and their mean."""
    inner = sig_c[BORDER_PX:-BORDER_PX:2, BORDER_PX:-BORDER_PX:2]
    lo, hi = np.percentile(inner, [5, 99.5])
    return float(lo), float(hi), float((lo + hi) / 2)


@dataclass
class Band:
    """One bright band in a leaf-pair profile: sub-pixel edges along t (pixels), levels."""

    lo_px: float
    hi_px: float
    peak: float
    bg_lo: float
    bg_hi: float
    pen_lo_px: float = float("nan")  # 2 × the 50–80 % distance of each edge, opening side (for the penumbra σ)
    pen_hi_px: float = float("nan")

    @property
    def centre_px(self) -> float:
        return (self.lo_px + self.hi_px) / 2


def _crossing_near(profile: np.ndarray, level: float, near: float, direction: int, half_window: int) -> float:
    """The sub-pixel crossing of `level` in `direction` (+1 rising) nearest to `near`, within ±half_window."""
    n = len(profile)
    a = max(0, int(math.floor(near)) - half_window)
    b = min(n, int(math.ceil(near)) + half_window + 1)
    best, best_d = float("nan"), float("inf")
    for pos, d in subpixel_crossings(profile[a:b], level):
        if d != direction:
            continue
        x = a + pos
        if abs(x - near) < best_d:
            best, best_d = x, abs(x - near)
    return best


def bands_in_profile(profile: np.ndarray, threshold: float, px_mm: float, floor: float) -> list[Band]:
    """The bright bands of one leaf-pair profile (along t) and their two 50 % edges (see the module docstring).

    `threshold` finds the bands (runs above it); each edge is then refined to 50 % between its
    local open and blocked levels. A band running off the usable profile (within `BORDER_PX` of the
    ends) or whose local contrast is under 10 % of (threshold − floor) is skipped.
    """
    n = len(profile)
    sp = ndimage.gaussian_filter1d(profile, 1.0)  # light smoothing: does not move a symmetric edge
    above = sp > threshold
    above[:BORDER_PX] = False
    above[n - BORDER_PX :] = False
    d = np.diff(above.astype(np.int8))
    starts = np.nonzero(d == 1)[0] + 1
    ends = np.nonzero(d == -1)[0]
    if len(starts) == 0 or len(ends) == 0:
        return []
    # pair each start with the next end
    runs = []
    for s in starts:
        e = ends[ends >= s]
        if len(e):
            runs.append((int(s), int(e[0])))
    inside = max(2, int(round(EDGE_INSIDE_MM / px_mm)))
    outside = max(3, int(round(EDGE_OUTSIDE_MM / px_mm)))
    win = max(3, int(round(3.0 / px_mm)))
    out: list[Band] = []
    for i, (s, e) in enumerate(runs):
        if s <= BORDER_PX or e >= n - 1 - BORDER_PX:
            continue
        mid = (s + e) // 2
        prev_mid = (runs[i - 1][1] + s) // 2 if i > 0 else BORDER_PX
        next_mid = (e + runs[i + 1][0]) // 2 if i + 1 < len(runs) else n - 1 - BORDER_PX
        hi_l = float(sp[s : min(s + inside, mid) + 1].max())
        hi_r = float(sp[max(e - inside, mid) : e + 1].max())
        lo_l = float(sp[max(s - outside, prev_mid) : s + 1].min())
        lo_r = float(sp[e : min(e + outside, next_mid) + 1].min())
        if min(hi_l - lo_l, hi_r - lo_r) < 0.1 * (threshold - floor):
            continue
        x_l = _crossing_near(sp, (hi_l + lo_l) / 2, s - 0.5, +1, win)
        x_r = _crossing_near(sp, (hi_r + lo_r) / 2, e + 0.5, -1, win)
        if not (np.isfinite(x_l) and np.isfinite(x_r)) or x_r <= x_l:
            continue
        # the opening-side half of each leaf end's penumbra: 2 × (50 → 80 %) distance, the erf 20–80 % when the edge
        # is symmetric; the plateau and the overlap of two ends only see this half (a long tail under the leaf
        # does not shape them). 80 % lies 0.84 σ inside: searched within ±6 mm (σ up to 7 mm), not ±3 mm.
        pw = max(win, int(round(6.0 / px_mm)))
        pen_l = 2 * (_crossing_near(sp, lo_l + 0.8 * (hi_l - lo_l), x_l, +1, pw) - x_l)
        pen_r = 2 * (x_r - _crossing_near(sp, lo_r + 0.8 * (hi_r - lo_r), x_r, -1, pw))
        out.append(Band(x_l, x_r, max(hi_l, hi_r), lo_l, lo_r, pen_l, pen_r))
    return out


def refine_gap_edges(profile: np.ndarray, band: Band, open_at, sigma_px: float | tuple[float, float], px_mm: float) -> Band:
    """Leaf tips of one gap (a wide band), with the open level taken *at each edge*.

    (1) Each edge's 50 % level is halfway between its blocked level and the open level at the
    edge position, `open_at(t_px)` (the FFF-shaped plateau of the image's wide gaps, see
    `_refine_gap_group`), instead of the band's maximum a few mm inside (biased by the FFF slope,
    and never reached by a gap narrower than its penumbrae); two passes, as the level depends on
    the position. (2) The crossings x_l, x_r are turned into leaf tips a, b of the erf edge model
    f(t) = bg + open·[Φ((t−a)/σ_a) − Φ((t−b)/σ_b)] (`sigma_px`: one σ, or (σ_a, σ_b) of the low-t
    and high-t leaf ends, measured on the wide gaps), solving
    f(x_l) = f(x_r) = 50 % by fixed-point iteration: for a 5 mm gap and σ 2.5 mm the overlapping
    penumbrae alone would put each tip 0.17 mm inside; for gaps ≥ 5σ the correction vanishes.
    A gap that does not reach 50 % of the open level keeps its local definition.
    """
    from scipy.special import ndtr, ndtri

    sp = ndimage.gaussian_filter1d(profile, 1.0)
    win = max(3, int(round(3.0 / px_mm)))
    x_l, x_r = band.lo_px, band.hi_px
    for _ in range(2):
        o_l, o_r = float(open_at(x_l)), float(open_at(x_r))
        xl2 = _crossing_near(sp, (o_l + band.bg_lo) / 2, x_l, +1, win)
        xr2 = _crossing_near(sp, (o_r + band.bg_hi) / 2, x_r, -1, win)
        if not (np.isfinite(xl2) and np.isfinite(xr2) and xr2 > xl2):
            return band
        x_l, x_r = xl2, xr2
    a, b = x_l, x_r
    s_lo, s_hi = (sigma_px, sigma_px) if np.isscalar(sigma_px) else (float(sigma_px[0]), float(sigma_px[1]))
    if min(s_lo, s_hi) > 0 and np.isfinite(s_lo) and np.isfinite(s_hi):
        for _ in range(30):
            a_new = x_l - s_lo * ndtri(np.clip(0.5 + ndtr((x_l - b) / s_hi), 1e-12, 1 - 1e-12))
            b_new = x_r + s_hi * ndtri(np.clip(0.5 + ndtr((a_new - x_r) / s_lo), 1e-12, 1 - 1e-12))
            done = abs(a_new - a) < 1e-4 and abs(b_new - b) < 1e-4
            a, b = float(a_new), float(b_new)
            if done:
                break
    return Band(a, b, max(band.peak, o_l, o_r), band.bg_lo, band.bg_hi, band.pen_lo_px, band.pen_hi_px)


# ---------------------------------------------------------------- leaf pairs


def interleaf_profile(sig_c: np.ndarray, threshold: float, floor: float, px_p_mm: float) -> np.ndarray:
    """Mean high-passed profile across the pairs over the leaf-blocked rows (where inter-leaf lines show).

    Blocked rows: rows whose median is below 30 % of the image's range, more than 4 mm from a
    band. High-pass: minus a Gaussian low-pass of σ 2 mm.
    """
    rows = np.median(sig_c[:, BORDER_PX:-BORDER_PX:4], axis=1)
    # (rows in the jaw shadow are kept: they add noise but no false lines)
    blocked = rows < floor + 0.6 * (threshold - floor)
    blocked[:BORDER_PX] = False
    blocked[-BORDER_PX:] = False
    # Rows within a few mm of a band edge carry leaf-end steps, not inter-leaf lines: drop them.
    band_rows = rows >= floor + 0.6 * (threshold - floor)
    band_rows = ndimage.binary_dilation(band_rows, iterations=max(1, int(round(4.0 / px_p_mm))))
    blocked &= ~band_rows
    if blocked.sum() < 10:
        blocked = rows < threshold
        blocked[:BORDER_PX] = False
        blocked[-BORDER_PX:] = False
    if blocked.sum() == 0:
        return np.zeros(sig_c.shape[1])
    prof = sig_c[blocked].mean(axis=0)
    prof[:BORDER_PX] = prof[BORDER_PX]
    prof[-BORDER_PX:] = prof[-BORDER_PX - 1]
    return prof - ndimage.gaussian_filter1d(prof, 2.0 / px_p_mm)


def detect_leaf_pairs(
    sig_c: np.ndarray,
    threshold: float,
    floor: float,
    p0_px: float,
    px_p_mm: float,
    expected_pitch_mm: float | None = UNITY_LEAF_PITCH_MM,
    pair1_at_low_p: bool = True,
) -> tuple[LeafPairs, list[str]]:
    """Leaf pairs from the inter-leaf lines (see the module docstring); codes of problems as 2nd value.

    Pitch = the period of the strongest line of the periodogram of the inter-leaf profile (periods
    2.2–16 mm; the expected pitch ±10 % first, when it stands out of the noise); phase = the
    least-squares sinusoid at that period, whose maxima are the bright inter-leaf lines (the pair
    boundaries). The boundaries form a regular grid: on MLCs with two leaf widths (Millennium
    5/10 mm) the outer leaves are sampled at the inner pitch, which keeps each profile inside one leaf.

    Returned codes: "fallback" (no pattern: expected grid from the CAX), "mismatch" (pitch ≠
    expected: image-order numbering), "offset:<mm>" (the boundary nearest the CAX is far from it).
    Unity numbering: the boundary nearest the CAX is 40|41; pair 1 on the low-p side by default
    (an assumption, domain.md §13 Q5; `pair1_at_low_p=False` reverses it).
    """
    n = sig_c.shape[1]
    hp = interleaf_profile(sig_c, threshold, floor, px_p_mm)
    x = np.arange(BORDER_PX, n - BORDER_PX, dtype=float)
    y = hp[BORDER_PX : n - BORDER_PX] * np.hanning(len(x))
    codes: list[str] = []
    period_px = phase = None
    # coarse: zero-padded FFT power over periods 2.2–16 mm; fine: direct DFT around the best bin
    nfft = 8192
    freqs = np.fft.rfftfreq(nfft)  # cycles per px
    spec = np.abs(np.fft.rfft(y, nfft)) ** 2
    band = (freqs >= px_p_mm / 16.0) & (freqs <= px_p_mm / 2.2)
    cand = 1.0 / freqs[band]  # periods, px
    power = spec[band]
    noise = float(np.median(power)) if len(power) else 0.0
    order = []
    if expected_pitch_mm is not None:
        near = np.abs(cand * px_p_mm - expected_pitch_mm) <= PITCH_MATCH_FRACTION * expected_pitch_mm
        if near.any():
            order.append(np.nonzero(near)[0][np.argmax(power[near])])
    if len(power):
        order.append(int(np.argmax(power)))
    for k in order:
        # a line of the periodogram standing 25× above the median (padded bins are correlated)
        if noise > 0 and power[k] >= 25 * noise and 0 < k < len(cand) - 1:
            fine = np.linspace(cand[k + 1], cand[k - 1], 41)
            pw = _periodogram(x, y, fine)
            period_px = float(fine[np.argmax(pw)])
            break
    if period_px is not None:
        w = 2 * np.pi / period_px
        c, s_ = np.sum(y * np.cos(w * x)), np.sum(y * np.sin(w * x))
        phase = math.atan2(s_, c)  # y ≈ A cos(w x − phase): maxima at x = (phase + 2πk) / w
        first = (phase / w) % period_px
        bounds = first + period_px * np.arange(int((n - first) // period_px) + 1)
        bounds = bounds[(bounds >= BORDER_PX) & (bounds <= n - 1 - BORDER_PX)]
    else:
        codes.append("fallback")
        period_px = (expected_pitch_mm or UNITY_LEAF_PITCH_MM) / px_p_mm
        k_lo = math.ceil((BORDER_PX - p0_px) / period_px)
        k_hi = math.floor((n - 1 - BORDER_PX - p0_px) / period_px)
        bounds = p0_px + np.arange(k_lo, k_hi + 1) * period_px
    spacing = np.diff(bounds)
    centres = (bounds[:-1] + bounds[1:]) / 2
    pitch_mm = float(period_px * px_p_mm)
    unity = expected_pitch_mm is not None and abs(pitch_mm - expected_pitch_mm) <= PITCH_MATCH_FRACTION * expected_pitch_mm
    if expected_pitch_mm is not None and not unity:
        codes.append("mismatch")
    if unity:
        j = int(np.argmin(np.abs(bounds - p0_px)))  # boundary index of the 40|41 junction
        off = (bounds[j] - p0_px) * px_p_mm
        if abs(off) > 0.25 * expected_pitch_mm:
            codes.append(f"offset:{off:.2f}")
        # pair i lies between bounds[i] and bounds[i+1]; the one just after bounds[j] is 41 (low-p numbering)
        idx = np.arange(len(centres))
        numbers = UNITY_CENTRAL_BOUNDARY + 1 + (idx - j) if pair1_at_low_p else UNITY_CENTRAL_BOUNDARY - (idx - j)
        keep = (numbers >= 1) & (numbers <= UNITY_N_PAIRS)
        centres, spacing, numbers = centres[keep], spacing[keep], numbers[keep]
        numbering = "unity"
    else:
        numbers = np.arange(1, len(centres) + 1) if pair1_at_low_p else np.arange(len(centres), 0, -1)
        numbering = "image order"
    return (
        LeafPairs(centres, spacing, numbers.astype(int), bounds, pitch_mm, "expected" if "fallback" in codes else "image", numbering),
        codes,
    )


def _periodogram(x: np.ndarray, y: np.ndarray, periods_px: np.ndarray) -> np.ndarray:
    """|Σ y·exp(−2πi x / P)|² for each period P (a direct DFT at arbitrary periods)."""
    ph = np.exp(-2j * np.pi * x[None, :] / periods_px[:, None])
    return np.abs(ph @ y) ** 2


def pair_profiles(sig_c: np.ndarray, centres_px: np.ndarray, widths_px: np.ndarray, ratio: float = LEAF_WIDTH_RATIO) -> np.ndarray:
    """Mean profile along t of each pair over the central `ratio` of its width: shape (n_pairs, n_t).

    Columns partly inside the window get a fractional weight (a sub-pixel window), so a 13.3-px
    window on the Unity averages exactly 13.3 columns' worth. One matrix product for all pairs.
    """
    n_p = sig_c.shape[1]
    grid = np.arange(n_p)[:, None]
    a = centres_px[None, :] - ratio * widths_px[None, :] / 2
    b = centres_px[None, :] + ratio * widths_px[None, :] / 2
    # overlap of pixel [x−½, x+½] with [a, b]
    w = np.clip(np.minimum(grid + 0.5, b) - np.maximum(grid - 0.5, a), 0, None)
    w /= np.maximum(w.sum(axis=0, keepdims=True), 1e-12)
    return (sig_c @ w).T


# ---------------------------------------------------------------- one picket fence in several images


def stretched_signal(sig: np.ndarray) -> np.ndarray:
    """The image scaled to 0 at its low level and 1 at its high level (`band_threshold`: 5th and 99.5th
    percentiles inside the border), so that images of different exposure weigh alike when combined.

    pylinac (`load_multiples(stretch_each=True)`) stretches each image between its minimum and maximum;
    the percentiles do the same without letting one dead or saturated pixel set the scale."""
    lo, hi, _ = band_threshold(sig)
    return (sig - lo) / (hi - lo if hi > lo else 1.0)


def combined_signal(signals: list[np.ndarray], method: str = "max") -> np.ndarray:
    """One picket fence from its parts (all of one shape), each stretched first (`stretched_signal`), as
    pylinac's `PicketFence.from_multiple_images` (`load_multiples`, `stretch_each=True`).

    "max" (default): pixel-wise maximum; "mean": pylinac's default. With complementary parts both give
    the same pickets, but the mean halves each picket's height above the other part's blocked level
    (lower signal-to-noise), and where parts overlap it doubles it: a fence whose full image is combined
    with a partial one then has pickets of two heights, and the half-height ones fall under the band
    threshold. Measured on the synthetic jaw + MLC pair (`qc.synthetic.mlc.picket_parts_session`, errors
    to the picket lines vs truth): complementary parts max 0.011–0.012 mm, mean 0.017–0.019 mm; a partial
    + a full image: max 30/30 pairs within 0.013 mm, mean 16–17/30 pairs measured."""
    stack = np.stack([stretched_signal(s) for s in signals])
    return stack.max(axis=0) if method == "max" else stack.mean(axis=0)


# ---------------------------------------------------------------- one image


def _wrong(file: str, lang: str, key: str, **params) -> QCInputError:
    return QCInputError("err.wrong_image", file=file, reason=tr(key, lang, **params))


def measure_mlc_image(
    image: DicomImage,
    cax: CaxPixel,
    lang: str = "fr",
    expected_pitch_mm: float | None = UNITY_LEAF_PITCH_MM,
    pair1_at_low_p: bool = True,
    mode: str = "auto",
    width_ratio: float = LEAF_WIDTH_RATIO,
) -> MLCImage:
    """Leaf pairs, per-pair bands and their edges on one image (the whole engine; see the module docstring).

    `mode`: "gap" (wide bands, each edge one bank's leaf end), "picket" (narrow bands, FWHM centre
    and width) or "auto": picket when the image has two or more openings or its bands are narrower
    than `PICKET_MAX_WIDTH_MM` (90th percentile of the widths), else gap.
    Raises `QCInputError("err.wrong_image")` for a blank image, an open field or no leaf pattern.
    """
    name = image.file.filename
    warnings: list[str] = []
    sig = image.signal
    inner = sig[BORDER_PX:-BORDER_PX:4, BORDER_PX:-BORDER_PX:4]
    lo_all, hi_all = np.percentile(inner, [1, 99.5])
    if not np.isfinite(hi_all) or hi_all - lo_all <= 1e-6 * max(1.0, abs(hi_all)) or hi_all <= 0:
        raise _wrong(name, lang, "mlc.reason.blank")
    axis = leaf_travel_axis(sig)
    sig_c, t0, p0, px_t, px_p = canonical(image, cax, axis)
    floor, high, thr = band_threshold(sig_c)
    pairs, codes = detect_leaf_pairs(sig_c, thr, floor, p0, px_p, expected_pitch_mm, pair1_at_low_p)
    for c in codes:
        if c == "fallback":
            warnings.append(tr("mlc.warn.pitch_fallback", lang, file=name, pitch=expected_pitch_mm or UNITY_LEAF_PITCH_MM))
        elif c == "mismatch":
            warnings.append(tr("mlc.warn.pitch_mismatch", lang, file=name, pitch=pairs.pitch_mm, expected=expected_pitch_mm))
        elif c.startswith("offset:"):
            warnings.append(tr("mlc.warn.boundary_offset", lang, file=name, offset=float(c.split(":")[1])))
    if axis == 1 and expected_pitch_mm is not None and pairs.numbering == "unity":
        warnings.append(tr("mlc.warn.orientation", lang, file=name))
    profiles = pair_profiles(sig_c, pairs.centres_px, pairs.widths_px, width_ratio)
    per_pair = [bands_in_profile(pr, thr, px_t, floor) for pr in profiles]
    all_bands = [(i, b) for i, bl in enumerate(per_pair) for b in bl]
    if not all_bands:
        raise _wrong(name, lang, "mlc.reason.no_bands")
    widths = np.array([(b.hi_px - b.lo_px) * px_t for _, b in all_bands])
    if np.median(widths) > OPEN_FIELD_LIMIT_MM:
        raise _wrong(name, lang, "mlc.reason.open_field", width=float(np.median(widths)), limit=OPEN_FIELD_LIMIT_MM)
    groups = _group_bands(all_bands, per_pair, px_t)
    min_pairs = min(MIN_PAIRS, len(pairs.centres_px))
    required = max(min_pairs, int(math.ceil(GROUP_PRESENCE * len(pairs.centres_px))))
    n_seen = max(len(g) for g in groups)
    groups = [g for g in groups if len(g) >= required]
    if not groups:
        raise _wrong(name, lang, "mlc.reason.too_few_pairs", n=n_seen, min=required)
    widths_px = np.array([b.hi_px - b.lo_px for g in groups for b in g.values()])
    if mode == "auto":
        w90 = float(np.percentile(widths_px, 90)) * px_t
        mode = "picket" if (len(groups) >= 2 or w90 < PICKET_MAX_WIDTH_MM) else "gap"
    # groups sorted by position along t
    groups.sort(key=lambda g: np.median([b.centre_px for b in g.values()]))
    penumbra_mm: list[tuple[float, float]] = []
    if mode == "gap":
        for g in groups:
            s_px = _refine_gap_group(g, profiles, pairs.centres_px, px_t)
            penumbra_mm.append(tuple(float(v) * 1.683 * px_t for v in s_px) if s_px is not None else (float("nan"), float("nan")))
    n_pairs, n_g = len(pairs.centres_px), len(groups)
    lo = np.full((n_pairs, n_g), np.nan)
    hi = np.full((n_pairs, n_g), np.nan)
    peak = np.full((n_pairs, n_g), np.nan)
    for j, g in enumerate(groups):
        for i, b in g.items():
            lo[i, j] = (b.lo_px - t0) * px_t
            hi[i, j] = (b.hi_px - t0) * px_t
            peak[i, j] = b.peak
    # a band far lower than its opening's typical peak is a pair at the jaw edge or a stray blob
    med_peak = np.nanmedian(peak, axis=0)
    weak = peak < 0.25 * (med_peak[None, :] - floor) + floor
    lo[weak] = hi[weak] = peak[weak] = np.nan
    p_mm = (pairs.centres_px - p0) * px_p
    return MLCImage(name, axis, cax, t0, p0, px_t, px_p, pairs, p_mm, lo, hi, peak, mode, warnings, profiles, penumbra_mm)


def _refine_gap_group(g: dict[int, Band], profiles: np.ndarray, centres_px: np.ndarray, px_t: float) -> tuple[float, float] | None:
    """In place: the gaps of one opening re-measured with `refine_gap_edges` (two passes); returns the
    (σ_lo, σ_hi) px used, None when nothing changed.

    σ of each bank's leaf ends (low-t, high-t) = median of 2 × their 50–80 % distance (the
    opening-side half of the penumbra, which shapes the plateau) / 1.683 (erf) over the widest bands: rounded leaf ends at ±40 mm can have a wider penumbra than those at ±20 mm, and
    one σ for both ends of a gap tilts its plateau line (measured: up to 0.7 mm). Open level along t at each
    pair: a straight line (level at the opening's median centre t_ref, slope) fitted to the
    plateau estimates bg + (v − bg) / A(t) of the gaps at least 4σ wide, over [lo + 1.5σ, hi − 1.5σ],
    where A(t) = Φ((t−lo)/σ_lo) − Φ((t−hi)/σ_hi) is the erf aperture of the current tips (so the
    penumbra tails do not pull the plateau down). The slope of pairs whose plateau is shorter than
    4 mm, and of narrow gaps, comes from a quadratic fit of the slopes across the pairs; the level
    of narrow gaps is interpolated between neighbouring wide pairs. This follows the FFF shape
    without assuming its form. Needs 3 plateaus of 4 mm; otherwise nothing changes.
    """
    from scipy.special import ndtr

    if len(g) < 3:
        return None
    idx = np.array(sorted(g))
    first = [g[i] for i in idx]
    w = np.array([b.hi_px - b.lo_px for b in first])
    widest = w >= 0.8 * w.max()
    pens = np.array([[b.pen_lo_px, b.pen_hi_px] for b, k in zip(first, widest) if k])
    side_sigmas = []
    for col in pens.T:  # each bank's leaf ends: their own penumbra (rounded ends widen off axis)
        col = col[np.isfinite(col) & (col > 0)]
        side_sigmas.append(float(np.median(col)) / 1.683 if len(col) else float("nan"))
    if not np.all(np.isfinite(side_sigmas)):
        return None
    s_lo, s_hi = side_sigmas
    sigma = max(s_lo, s_hi)  # plateau margins: clear of the wider penumbra
    n_t = profiles.shape[1]
    t_ref = float(np.median([b.centre_px for b in first]))
    pk = centres_px[idx]
    current = list(first)
    for _ in range(2):
        level = np.full(len(idx), np.nan)  # open level at t_ref
        slope = np.full(len(idx), np.nan)
        plateau_mid = np.full(len(idx), np.nan)  # short plateaus: mean and centre until the slope is known
        long_plateau = np.zeros(len(idx), bool)
        for k, (i, b) in enumerate(zip(idx, current)):
            a0, a1 = int(math.ceil(b.lo_px + 1.5 * sigma)), int(math.floor(b.hi_px - 1.5 * sigma))
            if not (b.hi_px - b.lo_px >= 4 * sigma and a1 >= a0 and a0 >= 0 and a1 < n_t):
                continue  # a narrow gap: no plateau
            tt = np.arange(a0, a1 + 1, dtype=float)
            bg = (b.bg_lo + b.bg_hi) / 2
            ap = ndtr((tt - b.lo_px) / s_lo) - ndtr((tt - b.hi_px) / s_hi)
            vv = bg + (profiles[i, a0 : a1 + 1] - bg) / ap
            if (a1 - a0) * px_t >= 4.0:
                slope[k], level[k] = np.polyfit(tt - t_ref, vv, 1)
                long_plateau[k] = True
            else:
                level[k], plateau_mid[k] = float(np.mean(vv)), float(tt.mean())
        if long_plateau.sum() < 3:
            return None
        cs = np.polyfit(pk[long_plateau], slope[long_plateau], 2 if long_plateau.sum() >= 5 else 0)
        short = ~long_plateau
        slope[short] = np.polyval(cs, pk[short])
        has_mid = np.isfinite(plateau_mid)
        level[has_mid] -= slope[has_mid] * (plateau_mid[has_mid] - t_ref)  # plateau mean → level at t_ref
        have = np.isfinite(level)
        new = []
        for k, (i, b0) in enumerate(zip(idx, first)):
            lv = level[k] if have[k] else float(np.interp(pk[k], pk[have], level[have]))
            sl = float(slope[k])
            start = Band(current[k].lo_px, current[k].hi_px, b0.peak, b0.bg_lo, b0.bg_hi, b0.pen_lo_px, b0.pen_hi_px)
            new.append(refine_gap_edges(profiles[i], start, lambda t, lv=lv, sl=sl: lv + sl * (t - t_ref), (s_lo, s_hi), px_t))
        current = new
    for i, b in zip(idx, current):
        g[int(i)] = b
    return s_lo, s_hi


def _group_bands(all_bands: list[tuple[int, Band]], per_pair: list[list[Band]], px_t: float) -> list[dict[int, Band]]:
    """Group the bands of all pairs into openings: sorted centres split where the gap exceeds 40 % of
    the typical spacing between neighbouring bands of one pair (one group when every pair has one band).
    Within a group a pair keeps the band nearest the group's median."""
    spacings = [bl[k + 1].centre_px - bl[k].centre_px for bl in per_pair for k in range(len(bl) - 1)]
    split = 0.4 * float(np.median(spacings)) if spacings else float("inf")
    order = sorted(all_bands, key=lambda ib: ib[1].centre_px)
    clusters: list[list[tuple[int, Band]]] = [[order[0]]]
    for ib in order[1:]:
        if ib[1].centre_px - clusters[-1][-1][1].centre_px > split:
            clusters.append([ib])
        else:
            clusters[-1].append(ib)
    groups = []
    for cl in clusters:
        med = float(np.median([b.centre_px for _, b in cl]))
        g: dict[int, Band] = {}
        for i, b in cl:
            if i not in g or abs(b.centre_px - med) < abs(g[i].centre_px - med):
                g[i] = b
        groups.append(g)
    return groups


# ---------------------------------------------------------------- lines and relative errors


def relative_errors(p_mm: np.ndarray, pos_mm: np.ndarray, floor_mm: float = 0.5, k_mad: float = 3.5) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Errors of leaf positions to their fitted straight line (position vs pair position), as
    pylinac's picket fits, made robust: the first inliers are the points within
    max(`k_mad`·1.4826·MAD, `floor_mm`) of Siegel's repeated-median line (so a displaced block of
    leaves, even 40 % of them, does not tilt the line), then least squares on the inliers and
    re-selection around the line, until stable. Sub-`floor_mm` scatter is all kept, as in pylinac.

    Returns (errors for every point, nan where unmeasured; (intercept, slope) or None).
    """
    x = np.asarray(p_mm, dtype=float)
    y = np.asarray(pos_mm, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return np.full_like(y, np.nan), None

    def select(res: np.ndarray) -> np.ndarray:
        med = np.median(res[ok])
        mad = np.median(np.abs(res[ok] - med))
        return ok & (np.abs(res - med) <= max(k_mad * 1.4826 * mad, floor_mm))

    # start: Siegel's repeated-median line (breakdown point 50 %)
    xo, yo = x[ok], y[ok]
    dx = xo[None, :] - xo[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        sl = np.where(dx != 0, (yo[None, :] - yo[:, None]) / dx, np.nan)
    slope0 = float(np.nanmedian(np.nanmedian(sl, axis=1))) if np.isfinite(sl).any() else 0.0
    coef = (slope0, float(np.median(yo - slope0 * xo)))
    keep = select(y - (coef[0] * x + coef[1]))
    for _ in range(6):
        if keep.sum() < 2:
            break
        coef = tuple(np.polyfit(x[keep], y[keep], 1)) if np.ptp(x[keep]) > 0 else (0.0, float(np.mean(y[keep])))
        new = select(y - (coef[0] * x + coef[1]))
        if np.array_equal(new, keep):
            break
        keep = new
    slope, intercept = float(coef[0]), float(coef[1])
    return np.where(ok, y - (intercept + slope * x), np.nan), (intercept, slope)


# ---------------------------------------------------------------- overlay


def overlay_rgb(image: DicomImage, m: MLCImage, points: list[tuple[np.ndarray, np.ndarray, np.ndarray]], scale_mm: float = 1.0, max_px: int = 512) -> np.ndarray:
    """RGB uint8 view (≤ `max_px`) of the image with leaf-end / band points coloured by error and the CAX cross.

    `points` = [(t_mm, p_mm, error_mm)]: green at 0, yellow at `scale_mm`/2, red from `scale_mm`;
    grey when the error is unknown (nan). Pair boundaries are ticked on the image border (cyan).
    """
    s = image.signal
    f = max(1, int(math.ceil(max(s.shape) / max_px)))
    ds = block_mean(s, f)
    lo, hi = np.percentile(ds[::2, ::2], [0.5, 99.5])
    g = np.clip((ds - lo) / (hi - lo if hi > lo else 1.0), 0, 1) ** 0.5  # γ 0.5 shows the leakage pattern
    rgb = np.repeat((g * 200).astype(np.uint8)[:, :, None], 3, axis=2)
    H, W = g.shape

    def small(u, v):
        return (np.asarray(v) - (f - 1) / 2) / f, (np.asarray(u) - (f - 1) / 2) / f

    for t_mm, p_mm, err in points:
        u, v = m.to_uv(m.t_mm_to_px(t_mm), m.p_mm_to_px(p_mm))
        rr, cc = small(u, v)
        ok = np.isfinite(rr) & np.isfinite(cc)
        e = np.abs(np.asarray(err, dtype=float))
        x = np.clip(np.where(np.isfinite(e), e / scale_mm, np.nan), 0, 1)
        col = np.where(
            np.isfinite(x)[:, None],
            np.stack([np.clip(2 * x, 0, 1) * 255, np.clip(2 - 2 * x, 0, 1) * 220, np.zeros_like(x)], axis=1),
            np.array([[160, 160, 160]]),
        ).astype(np.uint8)
        ri, ci = np.rint(rr[ok]).astype(int), np.rint(cc[ok]).astype(int)
        colk = col[ok]
        for dr in (-1, 0, 1):
            for dc in (-2, -1, 0, 1, 2):
                # a short dash across the leaf (along p)
                r2, c2 = (ri + dr, ci + dc) if m.travel_axis == 0 else (ri + dc, ci + dr)
                inside = (r2 >= 0) & (r2 < H) & (c2 >= 0) & (c2 < W)
                rgb[r2[inside], c2[inside]] = colk[inside]
    # CAX cross
    cr, cc0 = small(m.cax.u0, m.cax.v0)
    cr, cc0 = int(round(float(cr))), int(round(float(cc0)))
    for d in range(-8, 9):
        if 0 <= cr + d < H and 0 <= cc0 < W:
            rgb[cr + d, cc0] = (0, 220, 255)
        if 0 <= cr < H and 0 <= cc0 + d < W:
            rgb[cr, cc0 + d] = (0, 220, 255)
    # pair boundaries as ticks on the border where the leaves enter
    for b in m.pairs.boundaries_px:
        u, v = m.to_uv(np.array([BORDER_PX]), np.array([b]))
        rr, cc = small(u, v)
        r, c = int(round(float(rr[0]))), int(round(float(cc[0])))
        for d in range(0, 6):
            rr2, cc2 = (d, c) if m.travel_axis == 0 else (r, d)
            if 0 <= rr2 < H and 0 <= cc2 < W:
                rgb[rr2, cc2] = (0, 220, 255)
    return rgb
