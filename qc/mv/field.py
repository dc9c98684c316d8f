"""MVIC-Champ: size, position, shape, edges and penumbrae of rectangular fields on the Unity MV imager.

Owns the weekly "MVIC-Champ" analyser (test key "field", domain.md §3): for each RT Image of the
session, find the one rectangular field, fit its four edges and report, in mm at the isocentre
relative to the beam axis (CAX pixel, `qc.mv.geometry.cax_pixel`), the field sizes, centre offset, edge
positions, corner angles, rotation and penumbrae, against the field's nominal size (`resolve_nominal`:
the header's jaws/leaves, else the size given for the session, else the nearest of the machine's known
fields; never the measured size itself: without one the size error is Non mesuré); plus the
central profiles for constancy against a stored baseline profile and their FFF quantities (NCS
report 33, `qc.mv.fff`), judged as changes from the baseline in force on the acquisition date (FFF
beam through the cryostat: no absolute flatness). Each image is measured on its own
(`measure_field_image` → `FieldImage`), then the session is summarised (`summarise_session`).
Without a beam-axis calibration in force the positions relative to the axis (centre offset, edges)
are Non mesuré, never taken from the imager centre. Plotting helpers for the page are kept at the
end of the module.

Conventions (documented in `params`):
- x along u (columns, left → right), y along v (rows, top → bottom); origin at the CAX pixel.
- Edge X1 = left (−u), X2 = right (+u), Y1 = top (−v), Y2 = bottom (+v). Each edge value is the
  signed perpendicular distance from the CAX to the fitted edge line, along its normal oriented to
  +x (X1, X2) or +y (Y1, Y2): a centred 150 × 80 field gives X1 ≈ −75, X2 ≈ +75, Y1 ≈ −40, Y2 ≈ +40.
- Field edge = inflection point (maximum of the first derivative; NCS-33, pylinac
  `INFLECTION_DERIVATIVE`, domain.md §2.6): valid for FFF and flattened beams alike.
- Corners = intersections of adjacent lines; centre = mean of the four corners; field size =
  distance between the two opposite lines along their mean normal through the centre.
- Rotation = mean angle of the four edges against the image axes, positive = clockwise as the
  image is displayed (u right, v down).
- Penumbra, by the beam (`beam_kind`: the header's word, else the profile's NCS-33 unflatness), perpendicular
  to the edge: FFF = distance between 20/50 and 80/50 of the inflection height on the grounded profile
  (pylinac's inflection-scaled 20–80 %, domain.md §2.6); flattened = distance between 20 % and 80 % of the
  profile's own height (pylinac's 20/80 % of the grounded maximum, AAPM TG-45). The definition used is
  named in each result (item "penumbra_definition", params, the metric's description).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from qc.errors import QCInputError
from qc.readers.dicom_io import DicomImage, session_identity
from qc.mv.common import PreparedImage, calibration_warnings, baseline_in_force, block_mean, measurement, prepare_images, rounded, session_date
from qc.mv.fff import QUANTITIES as FFF_QUANTITIES
from qc.mv.fff import FFFProfile, fff_profile
from qc.mv.beam_header import header_field, header_says_fff
from qc.mv.geometry import (
    CaxPixel,
    RobustLine,
    fit_line_robust,
    inflection_edges,
    level_crossing_near,
)
from qc.i18n import t
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, Routing, TestSpec
from qc.results import AnalysisResult, Measurement
from qc.tolerances import Tolerance

KEY = "field"
DEFAULT_NOMINAL_FIELDS_MM: tuple[tuple[float, float], ...] = ((150, 80), (85, 85), (50, 50))
MATCH_LIMIT_MM = 10.0  # farther than this from every known field: no nominal (size error Non mesuré)
N_PROFILES_PER_SIDE = 30
SIDE_FRACTION = 0.6  # profiles spread over the central 60 % of each side (domain.md §3)
PROFILE_HALF_WINDOW_MM = 12.0  # each edge profile spans ±12 mm around the rough edge
SMOOTH_PX = 1.0  # light Gaussian smoothing of the profiles (penumbra levels are read on these)
INFLECTION_SMOOTH_MM = 0.65  # extra smoothing before differentiating: the derivative peak is symmetric
# for an error-function edge, so this cuts the noise of the inflection (×3 at Unity's 0.216 mm/px)
# without moving it; penumbrae are still read on the lightly smoothed profile.
PENUMBRA_MIN_TAIL_MM = 8.0  # profile seen at least this far outside the edge for a penumbra
MIN_OUTSIDE_MM = 4.0  # an edge closer than this to the imager border is "clipped" (penumbra tail unseen)
MIN_FIELD_SIDE_MM = 8.0
CONSTANCY_FIELD_FRACTION = 0.8  # profile constancy is judged inside the central 80 % of the field
SIDES = ("x1", "x2", "y1", "y2")
EDGE_DEFINITION = (
    "inflection point (maximum of the first derivative of the lightly smoothed profile, "
    "sub-pixel by a weighted Gaussian fit of the derivative peak; NCS-33 / pylinac INFLECTION_DERIVATIVE)"
)
PENUMBRA_DEFINITIONS = {
    "fff": "distance between 20/50 and 80/50 of the inflection height on the grounded profile "
    "(pylinac's inflection-scaled 20-80 % for FFF beams), perpendicular to the edge",
    "flattened": "distance between 20 % and 80 % of the profile's own height (its maximum over the field above its "
    "minimum over the image line; pylinac's 20/80 % of the grounded profile's maximum, AAPM TG-45), read on the unsmoothed "
    "band means, perpendicular to the edge",
}
FLAT_PENUMBRA_LEVELS = (0.2, 0.8)
# A beam is FFF when its header says so ("FFF" in its description, or an Elekta Unity: 7 MV FFF only), else when
# its central profiles are cones: NCS-33 unflatness (centre over the values at 80 % of the width) ≥ this on both
# axes. Flattened beams measured here: 1.02–1.03 (pylinac's 6x 10 × 10 cm on an aS1200, whose EPID response
# rises to the centre), ≤ 1.0 for horned large fields; the Unity's cone gives 1.03 (50 mm) to 1.12 (150 mm).
FFF_UNFLATNESS_MIN = 1.05
REF_DEPT = "Département ±1 mm / 90° ± 1°"


# ---------------------------------------------------------------- data


@dataclass
class EdgeFit:
    """One fitted field edge: its edge points (pixels), the robust line (mm) and the penumbra."""

    side: str
    u_px: np.ndarray
    v_px: np.ndarray
    line: RobustLine  # across = intercept + slope·along, mm; x-sides: x(y), y-sides: y(x)
    penumbra_fff_mm: float | None  # 20/50–80/50 of the inflection height (FFF definition)
    penumbra_flat_mm: float | None = None  # 20–80 % of the profile's own height (flattened-beam definition)

    def penumbra(self, definition: str) -> float | None:
        """The penumbra by `definition` ("fff" or "flattened", see `PENUMBRA_DEFINITIONS`)."""
        return self.penumbra_flat_mm if definition == "flattened" else self.penumbra_fff_mm

    @property
    def inliers(self) -> np.ndarray:
        return self.line.inliers

    @property
    def normal(self) -> np.ndarray:
        """Unit normal oriented to +x (X sides) or +y (Y sides), in (x, y)."""
        b = self.line.slope
        n = np.array([1.0, -b]) if self.side[0] == "x" else np.array([-b, 1.0])
        return n / math.hypot(1.0, b)

    @property
    def offset_mm(self) -> float:
        """Signed perpendicular distance from the CAX to the line, along `normal`."""
        return self.line.intercept / math.hypot(1.0, self.line.slope)

    @property
    def direction(self) -> np.ndarray:
        """Unit direction along the edge, oriented to +y (X sides) or +x (Y sides)."""
        b = self.line.slope
        d = np.array([b, 1.0]) if self.side[0] == "x" else np.array([1.0, b])
        return d / math.hypot(1.0, b)

    @property
    def angle_deg(self) -> float:
        """Angle of the edge against its image axis, positive = clockwise as displayed."""
        b = self.line.slope
        return math.degrees(-math.atan(b) if self.side[0] == "x" else math.atan(b))


@dataclass
class FieldMeasurement:
    """Everything measured on one image (mm at the isocentre, relative to the CAX)."""

    filename: str
    cax: CaxPixel
    pixel_mm: tuple[float, float]  # (row, col)
    edges: dict[str, EdgeFit]
    clipped: tuple[str, ...]
    corners_mm: dict[str, np.ndarray]
    centre_mm: tuple[float | None, float | None]
    size_x_mm: float | None
    size_y_mm: float | None
    corner_angles_deg: dict[str, float]
    rotation_deg: float | None
    warnings: list[str] = field(default_factory=list)
    rough_size_mm: tuple[float, float] = (0.0, 0.0)  # the rough mask's box (x, y): the extent when a side is clipped

    def edge_mm(self, side: str) -> float | None:
        e = self.edges.get(side)
        return None if e is None else e.offset_mm

    def penumbra_mm(self, side: str, definition: str = "fff") -> float | None:
        e = self.edges.get(side)
        return None if e is None else e.penumbra(definition)

    @property
    def corner_angle_max_dev_deg(self) -> float | None:
        if not self.corner_angles_deg:
            return None
        return max(abs(a - 90.0) for a in self.corner_angles_deg.values())


# ---------------------------------------------------------------- field finding


def _wrong(name: str, lang: str, key: str, **params) -> QCInputError:
    return QCInputError("err.wrong_image", file=name, reason=t(key, lang, **params))


def rough_field_box(image: DicomImage, lang: str = "fr") -> tuple[tuple[float, float, float, float], tuple[str, ...]]:
    """Approximate field bounding box (u_min, u_max, v_min, v_max) in pixels, and the clipped sides.

    Rough mask (domain.md §3 step 2): on a ≈256-px block-mean copy, threshold half-way between the
    background (1st percentile) and the field level (99.9th percentile), keep the largest connected
    region. Refuses (err.wrong_image) a blank or uniform image, several separate irradiated regions,
    a region that is not a rectangle, a field too small, or one that runs off every side.
    """
    name = image.file.filename
    s = image.signal
    f = max(1, min(s.shape) // 256)
    ds = block_mean(s, f)
    bg, hi = np.percentile(ds, [1.0, 99.9])
    if not np.isfinite(hi - bg) or hi - bg <= 1e-9 * max(abs(hi), 1.0):
        raise _wrong(name, lang, "field.reason.blank")
    mask = ds > bg + 0.5 * (hi - bg)
    # medians on every 3rd pixel: enough for a contrast test, 3x cheaper
    inside, outside = ds[mask][::3], ds[~mask][::3]
    if outside.size == 0 or inside.size == 0:
        raise _wrong(name, lang, "field.reason.no_contrast")
    out_sd = 1.4826 * np.median(np.abs(outside - np.median(outside))) + 1e-12 * hi
    if np.median(inside) - np.median(outside) < 10 * out_sd:
        raise _wrong(name, lang, "field.reason.no_contrast")
    labels, n = ndimage.label(mask)
    areas = np.bincount(labels.ravel())[1:]
    big = int(np.argmax(areas))
    significant = int(np.sum(areas > 0.05 * areas[big]))
    if significant > 1:
        raise _wrong(name, lang, "field.reason.several", n=significant)
    region = labels == big + 1
    rows = np.nonzero(region.any(axis=1))[0]
    cols = np.nonzero(region.any(axis=0))[0]
    r0, r1, c0, c1 = rows[0], rows[-1], cols[0], cols[-1]
    fill = areas[big] / float((r1 - r0 + 1) * (c1 - c0 + 1))
    if fill < 0.75:
        raise _wrong(name, lang, "field.reason.not_rectangular", fill=100 * fill)
    row_mm, col_mm = image.pixel_size_iso_mm
    w_mm, h_mm = (c1 - c0 + 1) * f * col_mm, (r1 - r0 + 1) * f * row_mm
    if min(w_mm, h_mm) < MIN_FIELD_SIDE_MM:
        raise _wrong(name, lang, "field.reason.too_small", w=w_mm, h=h_mm, min=MIN_FIELD_SIDE_MM)
    # block (i) covers pixels i·f … i·f+f−1: the mask boundary lies between blocks
    box = (c0 * f - 0.5, (c1 + 1) * f - 0.5, r0 * f - 0.5, (r1 + 1) * f - 0.5)
    # A side is clipped when its edge lies within MIN_OUTSIDE_MM of the imager border (or beyond):
    # its penumbra is not seen whole, so the edge is not fitted.
    rows_full, cols_full = s.shape
    outside_mm = {
        "x1": (box[0] + 0.5) * col_mm,
        "x2": (cols_full - 0.5 - box[1]) * col_mm,
        "y1": (box[2] + 0.5) * row_mm,
        "y2": (rows_full - 0.5 - box[3]) * row_mm,
    }
    clipped = tuple(side for side in SIDES if outside_mm[side] < MIN_OUTSIDE_MM)
    if len(clipped) == 4:
        raise _wrong(name, lang, "field.reason.all_clipped")
    return box, clipped


# ---------------------------------------------------------------- images of other tests

BAND_PROMINENCE = 0.25  # a band stands out of the profile by at least this fraction of the image's range
BAND_MAX_WIDTH_MM = 15.0  # narrower than this (FWHM): a picket or a slit (qc.mv.slits.SLIT_MAX_WIDTH_MM)
MIN_PARALLEL_BANDS = 3  # this many separate bands side by side: a picket fence, slits or leaf gaps, not one field
GAP_MAX_WIDTH_MM = 40.0  # a band this narrow running off two opposite sides of the imager: a leaf gap (AQUA)
BB_FIELD_MAX_MM = 40.0  # the BB of a Winston-Lutz image sits in a small field (Unity: 20 mm; pylinac demo 20 mm)
BB_MIN_DIP = 0.008  # a dip this deep (fraction of the maximum) in a small field: a BB. Measured: synthetic Unity WL
# (5 % BB) 0.018–0.026, pylinac WL demo 0.20–0.25; plain 20–40 mm fields (FFF and flat, 0.5 % noise) ≤ 0.002


def _band_count(norm: np.ndarray, axis: int, step_mm: float) -> tuple[int, float]:
    """Separate bands across `axis` on the image's middle half: (number, median FWHM mm)."""
    from scipy.signal import find_peaks, peak_widths

    n_other = norm.shape[1 - axis]
    mid = slice(n_other // 4, n_other - n_other // 4)
    prof = (norm[mid, :] if axis == 1 else norm[:, mid].T).mean(axis=0)
    prof = ndimage.gaussian_filter1d(prof, 1.0)
    peaks, _ = find_peaks(prof, prominence=BAND_PROMINENCE)
    if len(peaks) == 0:
        return 0, 0.0
    widths = peak_widths(prof, peaks, rel_height=0.5)[0] * step_mm
    return len(peaks), float(np.median(widths))


def _trapped_dip(profile: np.ndarray) -> float:
    """The deepest dip of a profile below the lower of its maxima on either side (0 for a flat, peaked or
    horned-but-monotonic top), as a fraction of its maximum."""
    left = np.maximum.accumulate(profile)
    right = np.maximum.accumulate(profile[::-1])[::-1]
    return float(np.max(np.minimum(left, right) - profile) / max(float(profile.max()), 1e-12))


def _has_bb(image: DicomImage, box: tuple[float, float, float, float]) -> bool:
    """A round dip in a small field (a Winston-Lutz BB): the central row and the central column of the field
    (±1 mm band means, smoothed over 0.5 mm, where they exceed 70 % of their maximum) both dip by more than
    `BB_MIN_DIP` below the lower of their maxima on either side. A plain field's top (flat, FFF cone, horns) has
    no such dip; a BB shadows both directions at once."""
    row_mm, col_mm = image.pixel_size_iso_mm
    u0, u1, v0, v1 = box
    if (u1 - u0) * col_mm > BB_FIELD_MAX_MM or (v1 - v0) * row_mm > BB_FIELD_MAX_MM:
        return False
    s = image.signal
    uc, vc = int(round((u0 + u1) / 2)), int(round((v0 + v1) / 2))
    dips = []
    for prof, step in (
        (s[max(vc - int(round(1 / row_mm)), 0) : vc + int(round(1 / row_mm)) + 1, max(int(u0), 0) : int(u1) + 1].mean(axis=0), col_mm),
        (s[max(int(v0), 0) : int(v1) + 1, max(uc - int(round(1 / col_mm)), 0) : uc + int(round(1 / col_mm)) + 1].mean(axis=1), row_mm),
    ):
        if prof.size < 5:
            return False
        prof = ndimage.gaussian_filter1d(prof, 0.5 / step)
        top = np.nonzero(prof >= 0.7 * prof.max())[0]
        dips.append(_trapped_dip(prof[top[0] : top[-1] + 1]))
    return min(dips) > BB_MIN_DIP


def other_test_reason(image: DicomImage, lang: str) -> QCInputError | None:
    """The refusal of an image that belongs to another MV test, naming it; None for a field image.

    Several parallel bands (a picket fence, slits, AQUA leaf gaps), one narrow band running off two opposite
    sides of the imager (a leaf gap or a slit), a small field holding a BB (Winston-Lutz).
    """
    from qc.mv.leaves import SPEC_NAME as LEAVES
    from qc.mv.slits import SPEC_NAME as SLITS
    from qc.mv.winston_lutz import SPEC_NAME as WL

    name = image.file.filename
    s = image.signal
    f = max(1, min(s.shape) // 256)
    ds = block_mean(s, f)
    bg, hi = np.percentile(ds, [1.0, 99.9])
    if not np.isfinite(hi - bg) or hi - bg <= 1e-9 * max(abs(hi), 1.0):
        return None
    norm = (ds - bg) / (hi - bg)
    row_mm, col_mm = image.pixel_size_iso_mm
    for axis, step in ((1, col_mm * f), (0, row_mm * f)):
        n, width = _band_count(norm, axis, step)
        if n >= MIN_PARALLEL_BANDS:
            if width <= BAND_MAX_WIDTH_MM:  # pickets and slits look alike: both tests named
                return _wrong(name, lang, "field.reason.narrow_bands", n=n, width=width,
                              leaves=LEAVES.get(lang, LEAVES["fr"]), slits=SLITS.get(lang, SLITS["fr"]))
            return _wrong(name, lang, "field.reason.bands", n=n, width=width, test=LEAVES.get(lang, LEAVES["fr"]))
    mask = norm > 0.5
    labels, n_regions = ndimage.label(mask)
    if n_regions == 0:
        return None
    big = labels == (1 + int(np.argmax(np.bincount(labels.ravel())[1:])))
    rows = np.nonzero(big.any(axis=1))[0]
    cols = np.nonzero(big.any(axis=0))[0]
    edge_px = max(1, int(math.ceil(MIN_OUTSIDE_MM / (min(row_mm, col_mm) * f))))
    across_cols = cols[0] < edge_px and cols[-1] >= ds.shape[1] - edge_px
    across_rows = rows[0] < edge_px and rows[-1] >= ds.shape[0] - edge_px
    for runs_off, narrow_mm in ((across_cols, (rows[-1] - rows[0] + 1) * row_mm * f), (across_rows, (cols[-1] - cols[0] + 1) * col_mm * f)):
        if runs_off and narrow_mm <= GAP_MAX_WIDTH_MM:
            test = SLITS if narrow_mm <= BAND_MAX_WIDTH_MM else LEAVES
            return _wrong(name, lang, "field.reason.band_across", width=narrow_mm, test=test.get(lang, test["fr"]))
    w_mm, h_mm = (cols[-1] - cols[0] + 1) * col_mm * f, (rows[-1] - rows[0] + 1) * row_mm * f
    if min(w_mm, h_mm) <= BAND_MAX_WIDTH_MM and max(w_mm, h_mm) >= 5 * min(w_mm, h_mm):
        return _wrong(name, lang, "field.reason.strip", width=min(w_mm, h_mm), length=max(w_mm, h_mm), test=SLITS.get(lang, SLITS["fr"]))
    box = (cols[0] * f - 0.5, (cols[-1] + 1) * f - 0.5, rows[0] * f - 0.5, (rows[-1] + 1) * f - 0.5)
    if _has_bb(image, box):
        return _wrong(name, lang, "field.reason.bb", test=WL.get(lang, WL["fr"]))
    return None


# ---------------------------------------------------------------- edges


def edge_profiles(
    signal: np.ndarray, side: str, box: tuple[float, float, float, float], pixel_mm: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Band-averaged profiles across one edge: (band centres px, profiles [n, window], window start px,
    the same bands over the whole image line [n, line]: their own maximum and ground set the flattened-beam
    penumbra levels).

    `N_PROFILES_PER_SIDE` bands tile the central `SIDE_FRACTION` of the side; each profile is the mean
    of its band's rows (X sides) or columns (Y sides), over ±`PROFILE_HALF_WINDOW_MM` (at most 45 % of
    the field width) around the rough edge. Profiles run along the image axis: for fields turned by a
    few degrees the crossing still lies on the edge line (the line fit uses those points), and the
    penumbra is corrected by cos(angle).
    """
    u_min, u_max, v_min, v_max = box
    rows, cols = signal.shape
    row_mm, col_mm = pixel_mm
    if side in ("x1", "x2"):
        img, along_lo, along_hi, edge, across_mm, n_across = signal, v_min, v_max, (u_min if side == "x1" else u_max), col_mm, cols
        width = u_max - u_min
    else:
        img, along_lo, along_hi, edge, across_mm, n_across = signal.T, u_min, u_max, (v_min if side == "y1" else v_max), row_mm, rows
        width = v_max - v_min
    length = along_hi - along_lo
    a0 = int(math.ceil(along_lo + 0.5 * (1 - SIDE_FRACTION) * length))
    a1 = int(math.floor(along_hi - 0.5 * (1 - SIDE_FRACTION) * length))
    a0, a1 = max(a0, 0), min(a1, img.shape[0] - 1)
    n = max(1, min(N_PROFILES_PER_SIDE, a1 - a0 + 1))
    half = int(round(min(PROFILE_HALF_WINDOW_MM / across_mm, 0.45 * width)))
    half = max(half, 8)
    w0, w1 = max(0, int(round(edge)) - half), min(n_across, int(round(edge)) + half + 1)
    starts = np.linspace(a0, a1 + 1, n + 1).round().astype(int)
    counts = np.diff(starts)[:, None]
    lines = np.add.reduceat(img[a0 : a1 + 1, :], starts[:-1] - a0, axis=0) / counts
    profiles = lines[:, w0:w1]
    centres = (starts[:-1] + starts[1:] - 1) / 2.0
    return centres, profiles, w0, lines


def fit_edge(
    image: DicomImage, cax: CaxPixel, side: str, box: tuple[float, float, float, float]
) -> tuple[EdgeFit | None, int]:
    """Edge points (inflection) on the band profiles, a robust line through them, and the penumbra.

    Returns (fit or None when too few points, number of profiles tried).
    """
    row_mm, col_mm = image.pixel_size_iso_mm
    centres, profiles, w0, lines = edge_profiles(image.signal, side, box, image.pixel_size_iso_mm)
    direction = 1 if side in ("x1", "y1") else -1
    pen = np.full(len(centres), np.nan)
    pen_flat = np.full(len(centres), np.nan)
    step_mm = col_mm if side in ("x1", "x2") else row_mm
    smooth = ndimage.gaussian_filter1d(profiles, SMOOTH_PX, axis=1)
    # flattened-beam height of each band: its own maximum over the field and its ground over the whole line
    lines_s = ndimage.gaussian_filter1d(lines, SMOOTH_PX, axis=1)
    lo_px, hi_px = (box[0], box[1]) if side in ("x1", "x2") else (box[2], box[3])
    inside = lines_s[:, max(0, int(math.ceil(lo_px))) : int(math.floor(hi_px)) + 1]
    line_max = inside.max(axis=1) if inside.shape[1] else lines_s.max(axis=1)
    line_ground = lines_s.min(axis=1)
    heavy = ndimage.gaussian_filter1d(profiles, max(SMOOTH_PX, INFLECTION_SMOOTH_MM / step_mm), axis=1)
    n_win = profiles.shape[1]
    pos, _ = inflection_edges(heavy, direction)
    for i in range(len(profiles)):
        p = pos[i]
        if not np.isfinite(p):
            continue
        # the penumbra needs the profile's outside tail (its ground): not when the imager border cuts it
        tail_mm = (p if direction == 1 else n_win - 1 - p) * step_mm
        if tail_mm < PENUMBRA_MIN_TAIL_MM:
            continue
        ps = smooth[i]
        val = float(np.interp(p, np.arange(len(ps)), ps))
        ground = ps.min()
        height = val - ground
        if height <= 0:
            continue
        lo_level, hi_level = ground + 0.4 * height, ground + 1.6 * height
        # rising edge: the low level lies outside (lower index), the high level inside
        lo = level_crossing_near(ps, lo_level, p, -direction)
        hi = level_crossing_near(ps, hi_level, p, direction)
        pen[i] = abs(hi - lo)
        full = line_max[i] - line_ground[i]
        if full > 0:
            raw = profiles[i]  # unsmoothed: a 1-px blur widens a 1.7 mm-sigma edge by ~0.1 mm; the band mean is the denoising
            lo = level_crossing_near(raw, line_ground[i] + FLAT_PENUMBRA_LEVELS[0] * full, p, -direction)
            hi = level_crossing_near(raw, line_ground[i] + FLAT_PENUMBRA_LEVELS[1] * full, p, direction)
            pen_flat[i] = abs(hi - lo)
    if side in ("x1", "x2"):
        u = w0 + pos
        v = centres.astype(float)
        along_mm = (v - cax.v0) * row_mm
        across_mm = (u - cax.u0) * col_mm
    else:
        v = w0 + pos
        u = centres.astype(float)
        along_mm = (u - cax.u0) * col_mm
        across_mm = (v - cax.v0) * row_mm
    line = fit_line_robust(along_mm, across_mm, min_points=max(5, int(0.4 * len(centres))), floor=0.5 * step_mm)
    if line is None:
        return None, len(centres)
    def median_mm(values: np.ndarray) -> float | None:
        good = line.inliers & np.isfinite(values)
        return float(np.median(values[good]) * step_mm / math.hypot(1.0, line.slope)) if good.any() else None

    return EdgeFit(side, u, v, line, median_mm(pen), median_mm(pen_flat)), len(centres)


def _pair_size_and_mid(e1: EdgeFit, e2: EdgeFit, ref: np.ndarray) -> tuple[float, np.ndarray]:
    """Distance between two opposite lines along their mean normal through `ref`, and the midpoint."""
    mn = e1.normal + e2.normal
    mn /= np.linalg.norm(mn)
    ts = [(e.offset_mm - e.normal @ ref) / (e.normal @ mn) for e in (e1, e2)]
    return abs(ts[1] - ts[0]), ref + mn * (ts[0] + ts[1]) / 2


def _intersect(e1: EdgeFit, e2: EdgeFit) -> np.ndarray:
    a = np.array([e1.normal, e2.normal])
    return np.linalg.solve(a, np.array([e1.offset_mm, e2.offset_mm]))


def _interior_angle(d1: np.ndarray, d2: np.ndarray) -> float:
    c = float(np.clip(d1 @ d2, -1.0, 1.0))
    return math.degrees(math.acos(c))


def measure_field(image: DicomImage, cax: CaxPixel, lang: str = "fr") -> FieldMeasurement:
    """Find the field on one image and measure it (see the module docstring for the definitions)."""
    name = image.file.filename
    warnings: list[str] = []
    refusal = other_test_reason(image, lang)
    if refusal is not None:
        raise refusal
    box, clipped = rough_field_box(image, lang)
    if clipped:
        warnings.append(t("field.warn.clipped", lang, file=name, sides=", ".join(t(f"field.side.{s}", lang) for s in clipped)))
    edges: dict[str, EdgeFit] = {}
    for side in SIDES:
        if side in clipped:
            continue
        fit, n_tried = fit_edge(image, cax, side, box)
        if fit is None:
            warnings.append(t("field.warn.edge_failed", lang, file=name, side=t(f"field.side.{side}", lang)))
            continue
        n_out = int(np.sum(~fit.inliers))
        if n_out > 0.2 * n_tried:
            warnings.append(t("field.warn.outliers", lang, file=name, side=t(f"field.side.{side}", lang), n=n_out, total=n_tried))
        edges[side] = fit
    if not edges:
        raise _wrong(name, lang, "field.reason.no_edges")

    corners: dict[str, np.ndarray] = {}
    for key, (a, b) in {"tl": ("y1", "x1"), "tr": ("y1", "x2"), "br": ("y2", "x2"), "bl": ("y2", "x1")}.items():
        if a in edges and b in edges:
            corners[key] = _intersect(edges[a], edges[b])
    if len(corners) == 4:
        ref = np.mean(list(corners.values()), axis=0)
    else:
        ref = np.mean(
            [[np.mean(((e.u_px - cax.u0) * image.pixel_size_iso_mm[1])[e.inliers]), np.mean(((e.v_px - cax.v0) * image.pixel_size_iso_mm[0])[e.inliers])] for e in edges.values()],
            axis=0,
        )
    size_x = size_y = None
    cx = cy = None
    if "x1" in edges and "x2" in edges:
        size_x, mid = _pair_size_and_mid(edges["x1"], edges["x2"], ref)
        cx = float(mid[0])
    if "y1" in edges and "y2" in edges:
        size_y, mid = _pair_size_and_mid(edges["y1"], edges["y2"], ref)
        cy = float(mid[1])
    if len(corners) == 4:
        cx, cy = float(ref[0]), float(ref[1])
    # interior angles from the edge directions (X sides point to +y, Y sides to +x)
    angles: dict[str, float] = {}
    d = {s: e.direction for s, e in edges.items()}
    for key, (a, sa, b, sb) in {
        "tl": ("y1", 1, "x1", 1),
        "tr": ("y1", -1, "x2", 1),
        "br": ("y2", -1, "x2", -1),
        "bl": ("y2", 1, "x1", -1),
    }.items():
        if a in d and b in d:
            angles[key] = _interior_angle(sa * d[a], sb * d[b])
    rotation = float(np.mean([e.angle_deg for e in edges.values()]))
    return FieldMeasurement(
        filename=name,
        cax=cax,
        pixel_mm=image.pixel_size_iso_mm,
        edges=edges,
        clipped=clipped,
        corners_mm=corners,
        centre_mm=(cx, cy),
        size_x_mm=None if size_x is None else float(size_x),
        size_y_mm=None if size_y is None else float(size_y),
        corner_angles_deg=angles,
        rotation_deg=rotation,
        warnings=warnings,
        rough_size_mm=((box[1] - box[0]) * image.pixel_size_iso_mm[1], (box[3] - box[2]) * image.pixel_size_iso_mm[0]),
    )


# ---------------------------------------------------------------- nominal matching


def match_nominal(
    size_x_mm: float | None, size_y_mm: float | None, nominals: list[tuple[float, float]] | tuple = DEFAULT_NOMINAL_FIELDS_MM
) -> tuple[float | None, float | None, bool]:
    """Nearest known field (X, Y) to the measured sizes, in either orientation; (X, Y, matched).

    Distance = the larger of the two side differences (a side not measured is ignored). When no
    known field is within `MATCH_LIMIT_MM`, there is no nominal: (None, None, False). The measured
    size is never its own nominal (a size error against it could never exceed 0.5 mm).
    """
    best, best_d = None, math.inf
    for nx, ny in nominals:
        for X, Y in ((float(nx), float(ny)), (float(ny), float(nx))):
            diffs = [abs(s - n) for s, n in ((size_x_mm, X), (size_y_mm, Y)) if s is not None]
            dd = max(diffs) if diffs else math.inf
            if dd < best_d:
                best, best_d = (X, Y), dd
    if best is not None and best_d <= MATCH_LIMIT_MM:
        return best[0], best[1], True
    return None, None, False


@dataclass(frozen=True)
class Nominal:
    """The size the field should have and where it comes from: "header" (the image's beam limiting
    devices), "user" (given for the session), "known" (the machine's list of fields) or "none"."""

    x_mm: float | None
    y_mm: float | None
    source: str
    centred: bool = True  # edges expected at ± half the size (False: an asymmetric header field)

    @property
    def known(self) -> bool:
        return self.x_mm is not None and self.y_mm is not None


def _oriented(a: float, b: float, size_x_mm: float | None, size_y_mm: float | None) -> tuple[float, float]:
    """(a, b) or (b, a), whichever is nearer the measured sizes: the header's IEC X is the image's x on one
    machine and its y on another (the Unity's leaves travel along the image rows), so the measurement only
    tells which side is which; the values themselves are the header's."""
    def dist(x: float, y: float) -> float:
        return max([abs(s - n) for s, n in ((size_x_mm, x), (size_y_mm, y)) if s is not None] or [0.0])

    return (a, b) if dist(a, b) <= dist(b, a) else (b, a)


def parse_nominal_mm(text: str | None) -> tuple[float, float] | None:
    """A nominal field typed by the user ("100x100", "150 × 80", "85,5x85,5") as (X, Y) mm; None when empty.

    Raises QCInputError("field.err.nominal_text") for anything else.
    """
    if text is None or not str(text).strip():
        return None
    parts = str(text).lower().replace("×", "x").replace("*", "x").replace(",", ".").replace("mm", "").split("x")
    try:
        x, y = (float(p.strip()) for p in parts)
    except ValueError:
        raise QCInputError("field.err.nominal_text", text=str(text)) from None
    if not (MIN_FIELD_SIDE_MM <= x <= 600 and MIN_FIELD_SIDE_MM <= y <= 600):
        raise QCInputError("field.err.nominal_text", text=str(text))
    return x, y


def resolve_nominal(fm: "FieldMeasurement", image: DicomImage, options: dict, known: list[tuple[float, float]]) -> Nominal:
    """The nominal field of one image: its header's beam limiting devices, else the size given for the
    session (`options["nominal_field_mm"]`, X along the image columns), else the nearest of the machine's
    known fields within `MATCH_LIMIT_MM`, else none (the size error is then Non mesuré)."""
    hf = header_field(image.dataset)
    if hf is not None:
        # to 0.01 mm: the header holds the jaws as 49.999921738497
        x, y = _oriented(round(hf.size_x_mm, 2), round(hf.size_y_mm, 2), fm.size_x_mm, fm.size_y_mm)
        return Nominal(x, y, "header", hf.centred)
    given = options.get("nominal_field_mm")
    if given:
        gx, gy = (float(v) for v in given)
        return Nominal(gx, gy, "user")
    nx, ny, matched = match_nominal(fm.size_x_mm, fm.size_y_mm, known)
    if matched:
        return Nominal(nx, ny, "known")
    return Nominal(None, None, "none")


def nominal_label(nx: float, ny: float) -> str:
    return f"{nx:g}x{ny:g}"


# ---------------------------------------------------------------- profiles (constancy)


def central_profiles(image: DicomImage, cax: CaxPixel, fm: FieldMeasurement) -> dict:
    """Central X and Y profiles through the field centre: positions mm at iso from the CAX, signal
    relative to the mean within ±2 mm of the field centre. Each is a 5-pixel-wide band mean, kept
    over the field ± 15 mm.
    """
    row_mm, col_mm = image.pixel_size_iso_mm
    s = image.signal
    cx = fm.centre_mm[0] if fm.centre_mm[0] is not None else 0.0
    cy = fm.centre_mm[1] if fm.centre_mm[1] is not None else 0.0
    uc, vc = cax.u0 + cx / col_mm, cax.v0 + cy / row_mm
    out = {}
    for axis, centre, other, n_mm, other_mm, size in (
        ("x", cx, vc, col_mm, row_mm, fm.size_x_mm or fm.rough_size_mm[0]),
        ("y", cy, uc, row_mm, col_mm, fm.size_y_mm or fm.rough_size_mm[1]),
    ):
        arr = s if axis == "x" else s.T
        k = int(round(other))
        k0, k1 = max(0, k - 2), min(arr.shape[0], k + 3)
        prof = arr[k0:k1].mean(axis=0)
        pos = (np.arange(arr.shape[1]) - (cax.u0 if axis == "x" else cax.v0)) * n_mm
        keep = np.abs(pos - centre) <= size / 2 + 15.0
        pos, prof = pos[keep], prof[keep]
        central = prof[np.abs(pos - centre) <= 2.0]
        norm = float(central.mean()) if central.size else float(np.max(prof))
        out[axis] = {"pos_mm": np.round(pos, 3).tolist(), "value": np.round(prof / norm, 5).tolist()}
    return out


def profile_constancy_pct(profile: dict, baseline: dict, centre_mm: float, nominal_mm: float) -> float | None:
    """Max |point difference| (% of the central value) between a profile and its baseline, inside
    the central `CONSTANCY_FIELD_FRACTION` of the field (domain.md §3, optional profile constancy).

    Both profiles are relative to their field-centre value; the baseline is interpolated at this
    profile's positions. None when they do not overlap.
    """
    pos = np.asarray(profile["pos_mm"], float)
    val = np.asarray(profile["value"], float)
    bpos = np.asarray(baseline["pos_mm"], float)
    bval = np.asarray(baseline["value"], float)
    if bpos.size < 2:
        return None
    order = np.argsort(bpos)
    bpos, bval = bpos[order], bval[order]
    inside = (np.abs(pos - centre_mm) <= CONSTANCY_FIELD_FRACTION * nominal_mm / 2) & (pos >= bpos[0]) & (pos <= bpos[-1])
    if not inside.any():
        return None
    diff = 100.0 * (val[inside] - np.interp(pos[inside], bpos, bval))
    return float(np.max(np.abs(diff)))


def baseline_from_result(result: AnalysisResult) -> dict:
    """The baseline structure `ctx.baseline_for` returns, built from a session ("use as baseline").

    {"profiles": {item: {"x": {"pos_mm", "value"}, "y": {...}, "fff": {"x": {quantity: value}, "y": {...}}}}, "source": {...}}.
    """
    fff = result.extra.get("fff", {})
    profiles = {}
    for item, p in result.extra.get("profiles", {}).items():
        entry: dict[str, Any] = {ax: {"pos_mm": list(p[ax]["pos_mm"]), "value": list(p[ax]["value"])} for ax in ("x", "y")}
        q = fff.get(item) or {}
        entry["fff"] = {ax: {k: q[ax][k] for k in FFF_QUANTITIES} for ax in ("x", "y") if q.get(ax)}
        profiles[item] = entry
    return {
        "profiles": profiles,
        "source": {
            "acquired_at": result.acquired_at.isoformat() if result.acquired_at else None,
            "files": [f.filename for f in result.files],
            "analyser_version": result.analyser_version,
        },
    }


# ---------------------------------------------------------------- overlay


def overlay_image(image: DicomImage, fm: FieldMeasurement, max_px: int = 512) -> np.ndarray:
    """RGB uint8 view (≤ `max_px`) with the fitted edge lines (green), edge points (yellow; rejected
    in magenta), corners (red) and the CAX cross (cyan)."""
    from skimage.draw import disk, line

    s = image.signal
    f = max(1, int(math.ceil(max(s.shape) / max_px)))
    ds = block_mean(s, f) if f > 1 else s
    lo, hi = np.percentile(ds[::2, ::2], [0.5, 99.5])
    g = np.clip((ds - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    rgb = np.repeat((g * 200).astype(np.uint8)[:, :, None], 3, axis=2)
    H, W = g.shape
    row_mm, col_mm = fm.pixel_mm

    def to_px(x_mm: float, y_mm: float) -> tuple[float, float]:
        u = fm.cax.u0 + x_mm / col_mm
        v = fm.cax.v0 + y_mm / row_mm
        return (v - (f - 1) / 2) / f, (u - (f - 1) / 2) / f  # (row, col) in the small image

    def seg(p, q, colour):
        rr, cc = line(int(round(p[0])), int(round(p[1])), int(round(q[0])), int(round(q[1])))
        ok = (rr >= 0) & (rr < H) & (cc >= 0) & (cc < W)
        rgb[rr[ok], cc[ok]] = colour

    def dot(p, r, colour):
        rr, cc = disk((p[0], p[1]), r, shape=(H, W))
        rgb[rr, cc] = colour

    corner_of = {"x1": ("tl", "bl"), "x2": ("tr", "br"), "y1": ("tl", "tr"), "y2": ("bl", "br")}
    for side, e in fm.edges.items():
        a, b = corner_of[side]
        if a in fm.corners_mm and b in fm.corners_mm:
            ends = [fm.corners_mm[a], fm.corners_mm[b]]
        else:  # clipped neighbour: draw over the span of the edge points, extended
            along = (e.v_px - fm.cax.v0) * row_mm if side[0] == "x" else (e.u_px - fm.cax.u0) * col_mm
            t0, t1 = float(np.min(along)), float(np.max(along))
            t0, t1 = t0 - (t1 - t0), t1 + (t1 - t0)
            ends = [np.array([e.line.at(tt), tt]) if side[0] == "x" else np.array([tt, e.line.at(tt)]) for tt in (t0, t1)]
        seg(to_px(*ends[0]), to_px(*ends[1]), (0, 230, 0))
    for e in fm.edges.values():
        ok = np.isfinite(e.u_px) & np.isfinite(e.v_px)
        rr = np.rint((e.v_px[ok] - (f - 1) / 2) / f).astype(int)
        cc = np.rint((e.u_px[ok] - (f - 1) / 2) / f).astype(int)
        colours = np.where(e.inliers[ok][:, None], [[255, 230, 0]], [[255, 0, 255]]).astype(np.uint8)
        for dr in (-1, 0, 1):  # 3×3 squares
            for dc in (-1, 0, 1):
                r2, c2 = rr + dr, cc + dc
                inside = (r2 >= 0) & (r2 < H) & (c2 >= 0) & (c2 < W)
                rgb[r2[inside], c2[inside]] = colours[inside]
    for c in fm.corners_mm.values():
        dot(to_px(*c), 4, (255, 40, 40))
    cr, cc = (fm.cax.v0 - (f - 1) / 2) / f, (fm.cax.u0 - (f - 1) / 2) / f
    seg((cr - 8, cc), (cr + 8, cc), (0, 220, 255))
    seg((cr, cc - 8), (cr, cc + 8), (0, 220, 255))
    return rgb


# ---------------------------------------------------------------- analyser


_FFF_NAME = {
    "unflatness": "fff_unflatness_{ax}",
    "slope_left_pct_per_mm": "fff_slope_left_{ax}_pct_per_mm",
    "slope_right_pct_per_mm": "fff_slope_right_{ax}_pct_per_mm",
    "peak_position_mm": "fff_peak_position_{ax}_mm",
    "symmetry_pct": "fff_symmetry_{ax}_pct",
}
FFF_DEFINITION = (
    "NCS report 33 on the central profile of each axis: inflection points (max |derivative|), profile normalised so that "
    "they are at 50 %; unflatness = N(centre)/N(±0.4 W); slopes = linear fit of N over [W/6, W/3] each side (%/mm); "
    "peak = vertex of a parabola over the central 40 % of W (≤ ±25 mm), from the field centre; symmetry = max |N(c+x) − N(c−x)| "
    "for |x| ≤ 0.4 W. Judged as changes from the stored baseline."
)


def fff_metric_name(quantity: str, axis: str) -> str:
    """The stored metric of one FFF quantity on one axis (e.g. "fff_slope_left_x_pct_per_mm")."""
    return _FFF_NAME[quantity].format(ax=axis)


@dataclass
class FieldImage:
    """One MVIC-Champ image measured: the field, its nominal, its central profiles and their FFF quantities."""

    prepared: PreparedImage
    fm: FieldMeasurement
    nominal: Nominal
    profiles: dict
    fff: dict[str, FFFProfile | None]
    beam: str = "fff"  # "fff" or "flattened": the penumbra definition used
    beam_source: str = "profile"  # "header" or "profile"

    @property
    def filename(self) -> str:
        return self.prepared.filename

    @property
    def calibrated(self) -> bool:
        return self.prepared.calibrated

    @property
    def size_errors_mm(self) -> tuple[float | None, float | None]:
        """Measured − nominal per axis; None (Non mesuré) when either is unknown."""
        nx, ny = self.nominal.x_mm, self.nominal.y_mm
        return (None if self.fm.size_x_mm is None or nx is None else self.fm.size_x_mm - nx,
                None if self.fm.size_y_mm is None or ny is None else self.fm.size_y_mm - ny)

    @property
    def label(self) -> str:
        """The item: the nominal field ("150x80"), else the measured size rounded and marked ("≈99x99"): never
        a nominal taken from the measurement."""
        if self.nominal.known:
            return nominal_label(self.nominal.x_mm, self.nominal.y_mm)  # type: ignore[arg-type]
        sx = self.fm.size_x_mm if self.fm.size_x_mm is not None else self.fm.rough_size_mm[0]
        sy = self.fm.size_y_mm if self.fm.size_y_mm is not None else self.fm.rough_size_mm[1]
        return "≈" + nominal_label(round(sx), round(sy))

    def edge_nominal_mm(self, side: str) -> float | None:
        """Where the edge should be: ± half the nominal size for a centred field; None otherwise."""
        n = self.nominal.x_mm if side[0] == "x" else self.nominal.y_mm
        if n is None or not self.nominal.centred:
            return None
        return n / 2 if side[1] == "2" else -n / 2

    def position_mm(self, value: float | None) -> float | None:
        """A position relative to the beam axis: only with a calibration in force (never the imager centre)."""
        return value if self.calibrated else None


def measure_field_image(p: PreparedImage, ctx: AnalysisContext, nominals: list[tuple[float, float]]) -> FieldImage:
    """Find and measure the field of one image, match it to a nominal field, take its central
    profiles and their FFF (NCS-33) quantities."""
    fm = measure_field(p.image, p.cax, ctx.lang)
    nominal = resolve_nominal(fm, p.image, ctx.options, nominals)
    prof = central_profiles(p.image, p.cax, fm)
    fff = {ax: fff_profile(np.asarray(prof[ax]["pos_mm"]), np.asarray(prof[ax]["value"])) for ax in ("x", "y")}
    beam, source = beam_kind(p.image, fff)
    return FieldImage(p, fm, nominal, prof, fff, beam, source)


def beam_kind(image: DicomImage, fff: dict[str, FFFProfile | None]) -> tuple[str, str]:
    """("fff" | "flattened", "header" | "profile"): the header's word first ("FFF" named, or an Elekta Unity,
    whose only beam is 7 MV FFF), else the central profiles: FFF when both measured axes have an NCS-33
    unflatness of at least `FFF_UNFLATNESS_MIN` (a cone), flattened otherwise (a flat or horned top)."""
    if header_says_fff(image.dataset) or "UNITY" in (image.model or "").upper():
        return "fff", "header"
    values = [q.unflatness for q in fff.values() if q is not None]
    if values and min(values) >= FFF_UNFLATNESS_MIN:
        return "fff", "profile"
    return ("flattened", "profile") if values else ("fff", "profile")


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """Analyse an MVIC-Champ session: each image measured, then the session summarised."""
    prepared = prepare_images(inputs, ctx, SPEC_NAME, "field.warn.gantry")
    nominals = [tuple(map(float, p)) for p in ctx.options.get("nominal_fields_mm", DEFAULT_NOMINAL_FIELDS_MM)]
    measured = [measure_field_image(p, ctx, nominals) for p in prepared]
    return summarise_session(measured, ctx, nominals, session_date(prepared, ctx))


def _fff_changes(fi: FieldImage, bl: dict | None) -> dict[str, dict[str, float | None]]:
    """Per axis and quantity: measured − baseline (None without a baseline value or a measurement)."""
    out: dict[str, dict[str, float | None]] = {}
    for ax in ("x", "y"):
        cur = fi.fff.get(ax)
        ref = ((bl or {}).get("fff") or {}).get(ax) or {}
        out[ax] = {q: (getattr(cur, q) - ref[q]) if cur is not None and getattr(cur, q) is not None and ref.get(q) is not None else None
                   for q in FFF_QUANTITIES}
    return out


def image_measurements(fi: FieldImage, item: str, centre: tuple[float | None, float | None], constancy: dict, lang: str) -> list[Measurement]:
    """The stored rows of one image (item = its nominal field label); positions only with a calibration."""
    fm, nom = fi.fm, fi.nominal
    err_x, err_y = fi.size_errors_mm
    out: list[Measurement] = []
    no_nominal = t("field.reason_missing.no_nominal", lang)
    unjudged = (None, None, None, None)  # a value relative to a nominal that is not known: shown, not judged

    def m(metric: str, value, nominal=None, *, relative_to_unknown: bool = False, reason: str = ""):
        row = measurement(SPEC_METRICS[metric], value, lang, item=item, nominal=nominal)
        if relative_to_unknown and row.value is not None:
            row.limits = unjudged
        if row.value is None and reason:
            row.reason = reason
        out.append(row)

    m("field_size_x_mm", fm.size_x_mm, nom.x_mm, relative_to_unknown=nom.x_mm is None)
    m("field_size_y_mm", fm.size_y_mm, nom.y_mm, relative_to_unknown=nom.y_mm is None)
    m("field_size_error_x_mm", err_x, reason=no_nominal if nom.x_mm is None else "")
    m("field_size_error_y_mm", err_y, reason=no_nominal if nom.y_mm is None else "")
    m("nominal_x_mm", nom.x_mm, reason=no_nominal)
    m("nominal_y_mm", nom.y_mm, reason=no_nominal)
    m("centre_offset_x_mm", centre[0])
    m("centre_offset_y_mm", centre[1])
    for side in SIDES:
        expected = fi.edge_nominal_mm(side)
        m(f"edge_{side}_mm", fi.position_mm(fm.edge_mm(side)), expected, relative_to_unknown=expected is None)
    m("corner_angle_max_dev_deg", fm.corner_angle_max_dev_deg)
    m("rotation_deg", fm.rotation_deg)
    for s in SIDES:
        m(f"penumbra_{s}_mm", fm.penumbra_mm(s, fi.beam))
        out[-1].description = f"{out[-1].description} ({t(f'field.penumbra_def.{fi.beam}', lang)})"  # the definition used, named
    for ax in ("x", "y"):
        m(f"profile_constancy_{ax}_pct", constancy[ax])
    for ax in ("x", "y"):
        cur = fi.fff.get(ax)
        for q in FFF_QUANTITIES:
            m(fff_metric_name(q, ax), None if cur is None else getattr(cur, q))
    return out


def item_row(fi: FieldImage, item: str, base: str, centre: tuple[float | None, float | None], constancy: dict, changes: dict) -> dict[str, Any]:
    """The image's row of the session table (everything measured on it, rounded for storage)."""
    fm, nom = fi.fm, fi.nominal
    err_x, err_y = fi.size_errors_mm
    return {
        "file": fi.filename, "item": item, "nominal": base if nom.known else None, "nominal_x_mm": nom.x_mm, "nominal_y_mm": nom.y_mm,
        "nominal_source": nom.source, "matched_nominal": nom.known,
        "field_size_x_mm": rounded(fm.size_x_mm), "field_size_y_mm": rounded(fm.size_y_mm),
        "field_size_error_x_mm": rounded(err_x), "field_size_error_y_mm": rounded(err_y),
        "centre_offset_x_mm": rounded(centre[0]), "centre_offset_y_mm": rounded(centre[1]),
        **{f"edge_{s}_mm": rounded(fi.position_mm(fm.edge_mm(s))) for s in SIDES},
        **{f"corner_{k}_deg": rounded(fm.corner_angles_deg.get(k)) for k in ("tl", "tr", "br", "bl")},
        "corner_angle_max_dev_deg": rounded(fm.corner_angle_max_dev_deg),
        "rotation_deg": rounded(fm.rotation_deg),
        **{f"penumbra_{s}_mm": rounded(fm.penumbra_mm(s, fi.beam)) for s in SIDES},
        "penumbra_definition": fi.beam, "beam_source": fi.beam_source,
        "profile_constancy_x_pct": rounded(constancy.get("x")), "profile_constancy_y_pct": rounded(constancy.get("y")),
        **{f"fff_{q}_{ax}": rounded(getattr(fi.fff[ax], q), 4) if fi.fff.get(ax) else None for ax in ("x", "y") for q in FFF_QUANTITIES},
        **{f"fff_{q}_{ax}_change": rounded(changes[ax][q], 4) for ax in ("x", "y") for q in FFF_QUANTITIES},
        "clipped_sides": ",".join(fm.clipped), "cax_source": fi.prepared.cax.source, "cax_calibration_id": fi.prepared.cax.calibration_id,
        "cax_u_px": round(fi.prepared.cax.u0, 2), "cax_v_px": round(fi.prepared.cax.v0, 2),
        "gantry_deg": fi.prepared.image.gantry_angle_deg,
        "acquired_at": fi.prepared.image.acquired_at.isoformat() if fi.prepared.image.acquired_at else None,
    }


def summarise_session(measured: list[FieldImage], ctx: AnalysisContext, nominals: list[tuple[float, float]], when) -> AnalysisResult:
    """Item labels, baseline comparisons, one row per image and the session's metrics."""
    lang = ctx.lang
    stored = baseline_in_force(ctx, when)
    baseline_profiles = stored.get("profiles", {}) if isinstance(stored, dict) else {}
    warnings: list[str] = [w for fi in measured for w in fi.prepared.warnings]
    calibrated = all(fi.calibrated for fi in measured)
    warnings += calibration_warnings([fi.prepared for fi in measured])
    if not calibrated:
        warnings.append(t("field.warn.no_calibration", lang))
    if not baseline_profiles:
        warnings.append(t("field.warn.no_baseline", lang))
    measurements: list[Measurement] = []
    items: list[dict[str, Any]] = []
    overlays: list[tuple[str, np.ndarray]] = []
    profiles: dict[str, dict] = {}
    used_baseline: dict[str, dict] = {}
    label_counts: dict[str, int] = {}
    size_errors: list[float | None] = []
    angle_devs: list[float] = []
    offsets: list[float | None] = []
    fff_worst: dict[str, list[float | None]] = {q: [] for q in FFF_QUANTITIES}

    for fi in measured:
        fm, name = fi.fm, fi.filename
        warnings.extend(fm.warnings)
        nom = fi.nominal
        nx = nom.x_mm if nom.x_mm is not None else (fm.size_x_mm or fm.rough_size_mm[0])
        ny = nom.y_mm if nom.y_mm is not None else (fm.size_y_mm or fm.rough_size_mm[1])
        base = fi.label
        if not nom.known:
            warnings.append(t("field.warn.no_nominal", lang, file=name,
                              sx="?" if fm.size_x_mm is None else f"{fm.size_x_mm:.1f}", sy="?" if fm.size_y_mm is None else f"{fm.size_y_mm:.1f}",
                              limit=MATCH_LIMIT_MM, known=", ".join(nominal_label(*p) for p in nominals)))
        elif not nom.centred:
            warnings.append(t("field.warn.asymmetric_nominal", lang, file=name, nominal=base))
        label_counts[base] = label_counts.get(base, 0) + 1
        item = base if label_counts[base] == 1 else f"{base}#{label_counts[base]}"
        err_x, err_y = fi.size_errors_mm
        size_errors += [err_x, err_y]
        if fm.corner_angle_max_dev_deg is not None:
            angle_devs.append(fm.corner_angle_max_dev_deg)
        centre = (fi.position_mm(fm.centre_mm[0]), fi.position_mm(fm.centre_mm[1]))
        offsets += [None if c is None else abs(c) for c in centre]

        bl = baseline_profiles.get(item) or baseline_profiles.get(base)
        if bl:
            used_baseline[item] = bl
        profiles[item] = fi.profiles
        constancy = {ax: profile_constancy_pct(fi.profiles[ax], bl[ax], c, nom) if bl and ax in bl else None  # no baseline: Non mesuré
                     for ax, c, nom in (("x", fm.centre_mm[0] or 0.0, nx), ("y", fm.centre_mm[1] or 0.0, ny))}
        changes = _fff_changes(fi, bl)
        for ax in ("x", "y"):
            for q in FFF_QUANTITIES:
                fff_worst[q].append(changes[ax][q])
        measurements += image_measurements(fi, item, centre, constancy, lang)
        items.append(item_row(fi, item, base, centre, constancy, changes))
        overlays.append((t("field.overlay.title", lang, item=item, file=name), overlay_image(fi.prepared.image, fm)))

    def summary(metric: str, value):
        measurements.append(measurement(SPEC_METRICS[metric], value, lang))

    def worst_abs(values: list[float | None]) -> float | None:
        """The largest |value|, or None if any is missing (one unmeasured image is not hidden by the others)."""
        return None if not values or any(v is None for v in values) else max(abs(v) for v in values)  # type: ignore[arg-type]

    summary("n_images", len(measured))
    summary("max_abs_size_error_mm", worst_abs(size_errors))
    summary("max_corner_angle_dev_deg", max(angle_devs) if angle_devs else None)
    summary("max_abs_centre_offset_mm", worst_abs(offsets))
    summary("fff_max_abs_unflatness_change", worst_abs(fff_worst["unflatness"]))
    summary("fff_max_abs_slope_change_pct_per_mm", worst_abs(fff_worst["slope_left_pct_per_mm"] + fff_worst["slope_right_pct_per_mm"]))
    summary("fff_max_abs_peak_shift_mm", worst_abs(fff_worst["peak_position_mm"]))
    summary("fff_max_abs_symmetry_change_pct", worst_abs(fff_worst["symmetry_pct"]))

    return AnalysisResult(
        test=KEY,
        measurements=measurements,
        items=items,
        warnings=warnings,
        **session_identity([fi.prepared.image for fi in measured]),
        overlays=overlays,
        extra={"profiles": profiles, "baseline_profiles": used_baseline,
               "fff": {it: {ax: (fi.fff[ax].as_dict() if fi.fff[ax] else None) for ax in ("x", "y")} for it, fi in zip(profiles, measured)}},
        params={
            "edge_definition": EDGE_DEFINITION,
            "penumbra_definition": {fi.filename: PENUMBRA_DEFINITIONS[fi.beam] for fi in measured},
            "penumbra_definitions": PENUMBRA_DEFINITIONS,
            "fff_unflatness_min": FFF_UNFLATNESS_MIN,
            "size_definition": "distance between opposite fitted edge lines along their mean normal through the field centre (mean of the corners)",
            "edge_convention": "X1 left (-u), X2 right (+u), Y1 top (-v), Y2 bottom (+v); signed perpendicular distance from the CAX, + towards +u / +v",
            "rotation_convention": "mean edge angle vs image axes, positive = clockwise as displayed (u right, v down)",
            "position_reference": "the beam-axis calibration in force on the acquisition date" if calibrated else
            "no calibration in force: centre offset and edge positions not measured (Non mesuré); sizes, angles, penumbrae and profiles do not depend on the axis",
            "fff_definition": FFF_DEFINITION,
            "profiles_per_side": N_PROFILES_PER_SIDE,
            "side_fraction": SIDE_FRACTION,
            "nominal_fields_mm": [list(p) for p in nominals],
            "match_limit_mm": MATCH_LIMIT_MM,
            "cax": {fi.filename: fi.prepared.cax_record() for fi in measured},
        },
    )



# ---------------------------------------------------------------- spec

SPEC_NAME = {"fr": "MVIC-Champ", "en": "MVIC field"}
# The department's limit is the action (fail) level; the warning level at 75 % of it flags a drift
# before it fails (docs/methods.md "Tolerances").
_TOL_SIZE = Tolerance.symmetric(0.75, 1.0, reference=f"{REF_DEPT}; alerte à 0,75 mm")
_TOL_SIZE_ERR = Tolerance(act_low=-1.0, tol_low=-0.75, tol_high=0.75, act_high=1.0, reference=f"{REF_DEPT}; alerte à 0,75 mm")
_TOL_EDGE = Tolerance.symmetric(1.0, 2.0, reference="AAPM TG-142 mâchoires 2 mm ; alerte 1 mm")
_TOL_ABS_1MM = Tolerance(act_low=-2.0, tol_low=-1.0, tol_high=1.0, act_high=2.0, reference="AAPM TG-142 2 mm ; alerte 1 mm")
_TOL_ANGLE = Tolerance.at_most(0.75, 1.0, reference=f"{REF_DEPT}; alerte à 0,75°")
_TOL_ROT = Tolerance(act_low=-2.0, tol_low=-1.0, tol_high=1.0, act_high=2.0, reference="Proposé ±1° (comme les angles des coins) ; pas de limite publiée")
_TOL_CONST = Tolerance.at_most(2.0, 3.0, reference="Proposé 2 %/3 % : constance de profil AAPM TG-142 (1 %) élargie pour l'imageur MV")

_REF_FFF = ("NCS report 33 (faisceaux sans filtre égalisateur) : grandeurs de constance ; limites proposées par le département "
            "(≈ 2 %/3 % du profil, pic ±1 mm/2 mm), à confirmer à la mise en service")

_METRICS = (
    MetricSpec("field_size_x_mm", "mm", "Taille de champ X", "Field size X", _TOL_SIZE),
    MetricSpec("field_size_y_mm", "mm", "Taille de champ Y", "Field size Y", _TOL_SIZE),
    MetricSpec("field_size_error_x_mm", "mm", "Écart de taille X", "Field size error X", _TOL_SIZE_ERR),
    MetricSpec("field_size_error_y_mm", "mm", "Écart de taille Y", "Field size error Y", _TOL_SIZE_ERR),
    MetricSpec("nominal_x_mm", "mm", "Nominal X", "Nominal X", None, trend=False),
    MetricSpec("nominal_y_mm", "mm", "Nominal Y", "Nominal Y", None, trend=False),
    MetricSpec("centre_offset_x_mm", "mm", "Décalage du centre X (centre − axe)", "Centre offset X (centre − axis)", _TOL_ABS_1MM),
    MetricSpec("centre_offset_y_mm", "mm", "Décalage du centre Y (centre − axe)", "Centre offset Y (centre − axis)", _TOL_ABS_1MM),
    MetricSpec("edge_x1_mm", "mm", "Bord X1 (gauche) / axe", "Edge X1 (left) from axis", _TOL_EDGE),
    MetricSpec("edge_x2_mm", "mm", "Bord X2 (droite) / axe", "Edge X2 (right) from axis", _TOL_EDGE),
    MetricSpec("edge_y1_mm", "mm", "Bord Y1 (haut) / axe", "Edge Y1 (top) from axis", _TOL_EDGE),
    MetricSpec("edge_y2_mm", "mm", "Bord Y2 (bas) / axe", "Edge Y2 (bottom) from axis", _TOL_EDGE),
    MetricSpec("corner_angle_max_dev_deg", "°", "Écart max. des angles à 90°", "Max corner angle deviation from 90°", _TOL_ANGLE, better="lower"),
    MetricSpec("rotation_deg", "°", "Rotation du champ", "Field rotation", _TOL_ROT),
    MetricSpec("penumbra_x1_mm", "mm", "Pénombre X1", "Penumbra X1", None, better="lower"),
    MetricSpec("penumbra_x2_mm", "mm", "Pénombre X2", "Penumbra X2", None, better="lower"),
    MetricSpec("penumbra_y1_mm", "mm", "Pénombre Y1", "Penumbra Y1", None, better="lower"),
    MetricSpec("penumbra_y2_mm", "mm", "Pénombre Y2", "Penumbra Y2", None, better="lower"),
    MetricSpec("profile_constancy_x_pct", "%", "Constance du profil X / référence", "Profile constancy X vs baseline", _TOL_CONST, better="lower"),
    MetricSpec("profile_constancy_y_pct", "%", "Constance du profil Y / référence", "Profile constancy Y vs baseline", _TOL_CONST, better="lower"),
    *(MetricSpec(fff_metric_name(q, ax), unit, f"{fr} {ax.upper()}", f"{en} {ax.upper()}", None, trend=True)
      for ax in ("x", "y")
      for q, unit, fr, en in (
          ("unflatness", "", "Non-planéité FFF (NCS-33)", "FFF unflatness (NCS-33)"),
          ("slope_left_pct_per_mm", "%/mm", "Pente FFF côté 1", "FFF slope side 1"),
          ("slope_right_pct_per_mm", "%/mm", "Pente FFF côté 2", "FFF slope side 2"),
          ("peak_position_mm", "mm", "Position du pic FFF / centre du champ", "FFF peak position from field centre"),
          ("symmetry_pct", "%", "Symétrie FFF (profil normalisé aux points d'inflexion)", "FFF symmetry (inflection-normalised profile)"),
      )),
    MetricSpec("fff_max_abs_unflatness_change", "", "Variation max. de la non-planéité / référence", "Max unflatness change vs baseline",
               Tolerance.at_most(0.02, 0.03, reference=_REF_FFF), better="lower"),
    MetricSpec("fff_max_abs_slope_change_pct_per_mm", "%/mm", "Variation max. des pentes / référence", "Max slope change vs baseline",
               Tolerance.at_most(0.05, 0.1, reference=_REF_FFF), better="lower"),
    MetricSpec("fff_max_abs_peak_shift_mm", "mm", "Déplacement max. du pic / référence", "Max peak shift vs baseline",
               Tolerance.at_most(1.0, 2.0, reference=_REF_FFF), better="lower"),
    MetricSpec("fff_max_abs_symmetry_change_pct", "%", "Variation max. de la symétrie / référence", "Max symmetry change vs baseline",
               Tolerance.at_most(1.0, 2.0, reference=_REF_FFF), better="lower"),
    MetricSpec("n_images", "", "Nombre d'images", "Number of images", None, trend=False),
    MetricSpec("max_abs_size_error_mm", "mm", "Écart de taille max. |·|", "Max |field size error|", Tolerance.at_most(0.75, 1.0, reference=REF_DEPT), better="lower"),
    MetricSpec("max_corner_angle_dev_deg", "°", "Écart d'angle max.", "Max corner angle deviation", _TOL_ANGLE, better="lower"),
    MetricSpec("max_abs_centre_offset_mm", "mm", "Décalage du centre max. |·|", "Max |centre offset|", Tolerance.at_most(1.0, 2.0, reference=REF_DEPT), better="lower"),
)
SPEC_METRICS = {ms.name: ms for ms in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "2.0"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr=SPEC_NAME["fr"],
    name_en=SPEC_NAME["en"],
    frequency="weekly",
    kind="dicom",
    metrics=_METRICS,
    analyse=analyse,
    page="pages/field.py",
    description_fr=(
        "Champs rectangulaires (150×80, 85×85, 50×50 mm) sur l'imageur MV (MVIC) : taille, position par rapport à l'axe, "
        "bords, angles des coins, rotation, pénombre, constance des profils et grandeurs FFF du rapport NCS-33 (non-planéité, "
        "pentes, position du pic, symétrie) par rapport à la référence. Bords au point d'inflexion ; pénombre 20/50–80/50 de la hauteur "
        "d'inflexion sur un faisceau FFF, 20–80 % de la hauteur du profil sur un faisceau égalisé. Taille nominale : en-tête DICOM, "
        "champ indiqué, ou champ connu de la machine."
    ),
    description_en=(
        "Rectangular fields (150×80, 85×85, 50×50 mm) on the MV imager (MVIC): size, position relative to the axis, edges, "
        "corner angles, rotation, penumbra, profile constancy and the NCS-33 FFF quantities (unflatness, slopes, peak position, "
        "symmetry) against the baseline. Edges at the inflection point; penumbra 20/50–80/50 of the inflection height on an FFF "
        "beam, 20–80 % of the profile's height on a flattened beam. Nominal size: DICOM header, given field, or a known field of the machine."
    ),
    accepts=".dcm,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:field_demo"
# the broadest RT Image rule, tried after the slit, leaf and Winston-Lutz ones (a slit plan is named "MVIC fente")
ROUTING = Routing(pattern=r"MVIC|CHAMP|FIELD", modality="RTIMAGE", order=40, expected_images=5)
# The demo database: weekly on Tuesdays over the latest weeks, the fields growing slowly (a drift), one week too
# large (and what the physicist wrote); the two latest sessions keep their images on disk.
DEMO = DemoSessions(
    make="qc.demo_inputs:field_session", gen="field", span="weeks", weekday=1, time="07:45",
    ramp={"drift_mm": 0.045, "centre_x_mm": 0.02, "centre_y_mm": -0.01},
    outlier=(1, 3, {"drift_mm": 1.25}, "Champs trop grands : calibration des diaphragmes vérifiée par Elekta, refait conforme la semaine suivante."),
    keep_latest=2,
)


# ---------------------------------------------------------------- plotting helpers (for the page)


def charts(result: AnalysisResult, lang: str = "fr") -> list[tuple[str, Any]]:
    """Altair charts for the page: field size errors per image, then each image's central profiles
    (with the baseline when one was used)."""
    import altair as alt
    import pandas as pd

    out: list[tuple[str, Any]] = []
    rows = []
    for it in result.items:
        for ax in ("x", "y"):
            e = it.get(f"field_size_error_{ax}_mm")
            if e is not None:
                rows.append({"item": it["item"], "axis": ax.upper(), "error_mm": e})
    if rows:
        df = pd.DataFrame(rows)
        from qc.reporting.trends import band_layers  # the limits in force on the acquisition date (tolerance table)

        bands = band_layers(result, "field_size_error_x_mm")
        pts = (
            alt.Chart(df)
            .mark_point(filled=True, size=80)
            .encode(
                x=alt.X("item:N", title=t("field.chart.item", lang)),
                y=alt.Y("error_mm:Q", title=t("field.chart.error_mm", lang)),
                color=alt.Color("axis:N", title=t("field.chart.axis", lang)),
                tooltip=["item", "axis", "error_mm"],
            )
        )
        title = t("field.chart.size_errors", lang)
        out.append((title, alt.layer(*bands, pts).properties(title=title)))
    cur, ref = t("field.chart.current", lang), t("field.chart.baseline", lang)
    for item, prof in result.extra.get("profiles", {}).items():
        frames = []
        for ax in ("x", "y"):
            frames.append(pd.DataFrame({"pos_mm": prof[ax]["pos_mm"], "value": prof[ax]["value"], "profile": f"{ax.upper()} ({cur})"}))
            bl = result.extra.get("baseline_profiles", {}).get(item)
            if bl and ax in bl:
                frames.append(pd.DataFrame({"pos_mm": bl[ax]["pos_mm"], "value": bl[ax]["value"], "profile": f"{ax.upper()} ({ref})"}))
        df = pd.concat(frames, ignore_index=True)
        title = t("field.chart.profiles", lang, item=item)
        ch = (
            alt.Chart(df)
            .mark_line()
            .encode(
                x=alt.X("pos_mm:Q", title=t("field.chart.position", lang)),
                y=alt.Y("value:Q", title=t("field.chart.relative", lang)),
                color=alt.Color("profile:N", title=t("field.chart.profile", lang)),
                strokeDash=alt.StrokeDash("profile:N", legend=None),
            )
            .properties(title=title)
        )
        out.append((title, ch))
    return out
