"""The ACR large-phantom set on one axial series (test key "mr-acr").

Owns: finding the ACR axial series in an upload (≥ 5 slices; slice 1 = the end slice that shows the
slice-thickness bar, so the series may come in either order, the phantom turned on the table or not; a
single image such as the sagittal localiser, or a series without the bar, is set aside with a sentence; a
dual-echo series is split per echo, the first analysed), numbering its slices by their position along the
slice normal (10 mm apart from slice 1: a missing slice is named and its measures are not measured, never
replaced by the next one), measuring the phantom's turn on slice 1 (`phantom_rotation_deg`) and placing the
ROIs of slices 1, 5 and 11 in the phantom's frame, and the measures of the ACR MRI QC manual (2015) on them,
each ROI found from the phantom and returned for drawing:

- geometric accuracy: diameters (`qc.mr.geometry.diameters`, local edge: `local_edge_radii_mm`) along the
  phantom's left-right and top-bottom axes on slice 1, and its four directions on slice 5, against 190 mm;
  `acr_diameter_max_error_mm` = largest |L − 190|;
- slice thickness on slice 1 (`qc.mr.slice_thickness`, ACR ramps, tan θ = 0.1, tilt corrected);
- slice position on slices 1 and 11: bar length difference (right − left) of the two wedges that hang
  from the phantom's top wall: each bar's bottom = where its columns, divided row by row by the local fluid
  signal, cross 0.5 walking down, median over the bar's inner columns; the difference is twice the slice
  displacement;
- percent integral uniformity on slice 7: inside a centred 200 cm² circle, the 1 cm² moving mean;
  PIU = 100·(1 − (max − min)/(max + min));
- percent-signal ghosting on slice 7: four 10 cm² ellipses (4:1) in the background above, below, left and
  right of the phantom; PSG = 100·|(T + B) − (L + R)| / (2·S), S the mean of the 200 cm² circle;
- SNR on slice 7 (`qc.mr.acr_snr`), the method named in the result (option `noise_method`): "smoothed"
  (default, hazen's ACR method: five 20 × 20-px squares, noise from the image less its 25 × 25-px boxcar mean)
  or "background" (S / σ, σ = SD of the four background ellipses / 0.655, Rayleigh-distributed background of
  a magnitude image, NEMA MS-1); with a second acquisition of the series in the upload (another series, or
  one series holding every position twice), the difference SNR of the two slices 7 (`acr_snr_difference`).
  Trended without a limit (the ACR sets none).
- high-contrast spatial resolution on slice 1: the three pairs of hole arrays (1.1, 1.0, 0.9 mm), found and
  judged in `qc.mr.acr_resolution`; `resolution_ul_mm` (right-left) and `resolution_lr_mm` (top-bottom) =
  the smallest hole size resolved in that direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from qc.errors import QCInputError
from qc.i18n import t
from qc.mr import acr_resolution, acr_snr
from qc.mr.geometry import diameters, recentred
from qc.mr.image_rois import find_phantom as find_snr_phantom
from qc.mr.phantom_geometry import MRImage, Overlay, Phantom, _otsu, crossing, find_phantom, identity_of
from qc.mr.slice_thickness import find_acr_bar, measure_slice_thickness
from qc.mr.snr import normalisation_factor
from qc.tolerances import Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = "mr-acr"
NOMINAL_DIAMETER_MM = 190.0
LARGE_ROI_CM2 = 200.0
SMALL_ROI_CM2 = 1.0
GHOST_ROI_CM2 = 10.0
RAYLEIGH_SD_FACTOR = 0.655
SLICE_GAP_MM = 10.0  # ACR axial protocol: 11 slices 5 mm thick, 5 mm apart (centre to centre 10 mm)
N_SLICES = 11
MAX_ROTATION_DEG = 20.0  # searched range of the phantom's turn on the table
RESAMPLE_MIN_DEG = 0.5  # below this turn the slices are analysed as acquired (resampling would only blur them)
HOLES_OWN_TURN_DEG = 5.0  # `acr_resolution` fits the hole arrays' own turn up to this angle


def _image(s, series_label: str, decoded: dict | None = None) -> MRImage:
    """The slice as an MRImage (float64 signal); `decoded`: arrays already decoded, by id of the slice."""
    px = decoded.get(id(s)) if decoded else None
    return MRImage(s.label, px if px is not None else np.asarray(s.signal, dtype=np.float64), tuple(s.pixel_spacing_mm), s, series_label)


# ---------------------------------------------------------------- the phantom's frame


def phantom_rotation_deg(img: np.ndarray, ph: Phantom, spacing_rc, max_deg: float = MAX_ROTATION_DEG) -> float | None:
    """The phantom's turn about its axis on slice 1, degrees, positive counter-clockwise as displayed (row 0 at
    the top): the direction of the slice-thickness bar, the long dark insert crossing the phantom wall to wall
    parallel to its left-right axis. The dark pixels (below the half level after a 0.7-px smoothing, more than
    8 mm inside the wall) are split into connected parts; the parts at least 0.4 phantom diameters long and 4
    times longer than wide (the bar, or its strips on either side of the bright ramps) give the direction of
    their long axis (second moments of their pixels in mm, pixel-grid independent); the angle is the
    area-weighted mean. None when no part is that long and thin, or when the angle exceeds `max_deg` (the
    bar is then not the longest thin dark insert: the slice is not analysed turned)."""
    r_mm = ph.radius_px * math.sqrt(spacing_rc[0] * spacing_rc[1])
    inner = disc_mask(img.shape, ph.centre_rc, max(r_mm - 8.0, 1.0), spacing_rc)
    dark = inner & (ndimage.gaussian_filter(np.asarray(img, float), 0.7) < ph.level)
    labels, n = ndimage.label(dark)
    if n == 0:
        return None
    angles, weights = [], []
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        rr, cc = np.nonzero(labels[sl] == i)
        if rr.size < 20:
            continue
        y = (rr + sl[0].start) * spacing_rc[0]
        x = (cc + sl[1].start) * spacing_rc[1]
        cov = np.cov(np.vstack([x, y]))
        evals, evecs = np.linalg.eigh(cov)
        long_mm, wide_mm = 4.0 * math.sqrt(max(evals[1], 0.0)), 4.0 * math.sqrt(max(evals[0], 1e-12))
        if long_mm < 0.8 * r_mm or long_mm < 4.0 * wide_mm:
            continue
        ux, uy = evecs[:, 1]
        ang = math.degrees(math.atan2(-uy, ux))
        ang = (ang + 90.0) % 180.0 - 90.0
        angles.append(ang)
        weights.append(rr.size)
    if not angles:
        return None
    angle = float(np.average(angles, weights=weights))
    return angle if abs(angle) <= max_deg else None


def to_phantom_frame(img: np.ndarray, centre_rc, angle_deg: float, spacing_rc, order: int = 3) -> np.ndarray:
    """The image resampled in the phantom's frame: the phantom turned back by `angle_deg` (the
    `phantom_rotation_deg` convention) about `centre_rc`, on the same pixel grid (mm-true when the row and
    column spacings differ); cubic spline by default (linear smooths a 1 mm hole array)."""
    t_ = math.radians(angle_deg)
    sy, sx = spacing_rc
    # output pixel (r, c) = phantom-frame offset (dy, dx) mm; its place on the image:
    # x = dx·cos θ + dy·sin θ, y = −dx·sin θ + dy·cos θ (mm from the centre)
    matrix = np.array([[math.cos(t_), -math.sin(t_) * sx / sy], [math.sin(t_) * sy / sx, math.cos(t_)]])
    c = np.asarray(centre_rc, float)
    offset = c - matrix @ c
    return ndimage.affine_transform(np.asarray(img, float), matrix, offset=offset, order=order, mode="nearest")


def frame_point(rc, centre_rc, angle_deg: float, spacing_rc) -> tuple[float, float]:
    """Where an image point (row, col) falls in `to_phantom_frame`'s image (for drawing)."""
    t_ = math.radians(angle_deg)
    y = (rc[0] - centre_rc[0]) * spacing_rc[0]
    x = (rc[1] - centre_rc[1]) * spacing_rc[1]
    dx = x * math.cos(t_) - y * math.sin(t_)
    dy = x * math.sin(t_) + y * math.cos(t_)
    return centre_rc[0] + dy / spacing_rc[0], centre_rc[1] + dx / spacing_rc[1]


# ---------------------------------------------------------------- series and slices


def split_repeats(slices: list) -> list[list]:
    """The acquisitions held in one series: when every slice position appears k ≥ 2 times (a series acquired
    twice under one series UID, e.g. hazen's acr/Siemens and acr/Siemens2), k lists taking the j-th image of
    each position (the reader sorts a position's images by time, instance number, then file name); when the k
    images of a position have k different echo times (a dual-echo series, e.g. the ACR T2 series, or an
    Enhanced object holding both echoes), one list per echo time, shortest first; else [slices]."""
    groups: list[list] = []
    last = None
    for s in slices:
        loc = None if s.slice_location_mm is None else round(s.slice_location_mm * 2) / 2
        if groups and loc is not None and loc == last:
            groups[-1].append(s)
        else:
            groups.append([s])
        last = loc
    k = len(groups[0]) if groups else 1
    if k < 2 or any(len(g) != k for g in groups):
        return [slices]
    echoes = sorted({_echo_key(s) for s in slices}, key=lambda e: (e is None, e or 0.0))
    if len(echoes) == k:  # one image per echo at each position (a multi-echo series): one acquisition per echo
        return [[next(s for s in g if _echo_key(s) == e) for g in groups] for e in echoes]
    return [[g[j] for g in groups] for j in range(k)]


def _echo_key(s) -> float | None:
    te = getattr(s, "echo_time_ms", None)
    return None if te is None else round(float(te), 1)


def _band_depth(img: np.ndarray) -> float:
    """How deep the darkest row of the image's central half (central third of its columns) falls below the
    median row, relative to it: ~0.9 on the slice showing the thickness bar, small on a uniform slice."""
    h, w = img.shape
    rows = img[h // 4 : 3 * h // 4, w // 3 : 2 * w // 3].mean(axis=1)
    med = float(np.median(rows))
    return float(med - rows.min()) / med if med > 0 else 0.0


def _end_order(cand: list, pixels) -> list[list]:
    """Both orders of a series, the likelier one first: as given when its first slice shows a deep dark band
    across its middle (the thickness bar: 0.9-0.99 on hazen's and the synthetic series, 0.005-0.53 on their
    other end), else the end with the deeper band first. Only the order of the tries; the bar is then found
    for real."""
    fwd, rev = list(cand), list(reversed(cand))
    first = _band_depth(pixels(fwd[0]))
    if first >= 0.8 or first >= _band_depth(pixels(rev[0])):
        return [fwd, rev]
    return [rev, fwd]


def _shows_bar(img: np.ndarray, spacing_rc) -> bool:
    """Whether the slice shows the thickness bar: `find_acr_bar` on a quick outline of the phantom (Otsu's
    half level, the disc spanned by the pixels above it), several times cheaper than `find_phantom`'s filled
    hull; this only orders the series, every measure then finds the phantom and the bar on its own."""
    sample = img[::2, ::2].ravel()
    if sample.size == 0 or not np.ptp(sample) > 0:
        return False
    otsu = _otsu(sample)
    signal, background = float(np.median(sample[sample > otsu])), float(np.median(sample[sample <= otsu]))
    level = background + 0.5 * (signal - background)
    bright = img > level
    rows, cols = np.flatnonzero(bright.any(axis=1)), np.flatnonzero(bright.any(axis=0))
    if rows.size < 10 or cols.size < 10:
        return False
    centre = (0.5 * (rows[0] + rows[-1]), 0.5 * (cols[0] + cols[-1]))
    ry, rx = 0.5 * (rows[-1] - rows[0]), 0.5 * (cols[-1] - cols[0])
    rr, cc = np.ogrid[: img.shape[0], : img.shape[1]]
    disc = ((rr - centre[0]) / max(ry, 1.0)) ** 2 + ((cc - centre[1]) / max(rx, 1.0)) ** 2 <= 1.0
    quick = Phantom(disc, centre, float(math.sqrt(rx * ry)), signal, background, level)
    if find_acr_bar(img, quick, tuple(spacing_rc)) is not None:
        return True
    # a phantom turned on the table: the bar crosses the rows obliquely; look again in the phantom's frame
    angle = phantom_rotation_deg(img, quick, tuple(spacing_rc))
    if angle is None or abs(angle) < RESAMPLE_MIN_DEG:
        return False
    turned = to_phantom_frame(img, centre, angle, tuple(spacing_rc), order=1)
    return find_acr_bar(turned, quick, tuple(spacing_rc)) is not None


def pick_acr_series(series: list, lang: str, found: dict | None = None) -> tuple[Any, list, list[str]]:
    """(the ACR series, its slices ordered from slice 1, sentences for every series set aside).
    `found`, when given, receives "repeat": a second acquisition of the ACR series (another series, or the
    second of the two images at every position of one series), ordered the same way, for the subtraction SNR
    (None without one), and "pixels": the end slices decoded here, by id (a lazy series decodes a slice on
    each access)."""
    aside: list[str] = []
    chosen = None
    repeat = None
    decoded: dict[int, np.ndarray] = {}

    def pixels(sl) -> np.ndarray:
        if id(sl) not in decoded:
            decoded[id(sl)] = np.asarray(sl.signal, dtype=np.float64)
        return decoded[id(sl)]
    for se in series:
        label = se.label(lang)
        if len(se.slices) < 5:
            aside.append(t("mracr.aside.series", lang, series=label, reason=t("mracr.reason.single", lang)))
            continue
        for acq in split_repeats(se.slices):
            ordered = None
            for cand in _end_order(acq, pixels):
                if _shows_bar(pixels(cand[0]), tuple(cand[0].pixel_spacing_mm)):
                    ordered = cand
                    break
            if ordered is None:
                reason = t("mracr.reason.no_bar", lang)
                locs = [sl.slice_location_mm for sl in acq]
                if len(acq) < N_SLICES and all(v is not None for v in locs):
                    span = abs(float(locs[-1]) - float(locs[0]))
                    reason += t("mracr.reason.no_bar_short", lang, n=len(acq), span=round(span, 1))
                aside.append(t("mracr.aside.series", lang, series=label, reason=reason))
                continue
            if chosen is None:
                chosen = (se, ordered)
            elif _echo_key(ordered[0]) != _echo_key(chosen[1][0]):  # another contrast: never a repeat for the SNR
                aside.append(t("mracr.aside.echo", lang, series=label, te=_echo_key(ordered[0]), te1=_echo_key(chosen[1][0])))
            elif repeat is None and len(ordered) == len(chosen[1]) and ordered[0].shape == chosen[1][0].shape:
                repeat = ordered
            else:
                aside.append(t("mracr.aside.series", lang, series=label, reason="—"))
    if chosen is None:
        raise QCInputError("mracr.err.no_series", detail=" ".join(aside[:3]))
    if found is not None:
        found["repeat"] = repeat
        found["pixels"] = decoded
    return chosen[0], chosen[1], aside


@dataclass
class NumberedSlices:
    """The ACR slice number (1–11) of each image of the chosen series, from its position along the normal."""

    by_number: dict[int, Any]
    missing: list[int]
    off_grid: list[Any]  # images between two slice positions, or beyond slice 11: not used
    positions_mm: dict[int, float]


def number_slices(ordered: list, lang: str) -> NumberedSlices:
    """ACR slice numbers from the header positions, never from the order: slice 1 is `ordered[0]` (the end that
    shows the thickness bar); an image at distance d (mm, along the slice normal: ImagePositionPatient ·
    normal, else SliceLocation) from it is slice 1 + round(d / 10 mm) (ACR protocol: 11 slices, 10 mm centre to
    centre). An image more than 2.5 mm off that grid, or numbered beyond 11, is listed in `off_grid`; a number
    without an image is `missing`. Without positions in the header, the order is used only for a complete
    series of 11 images; otherwise the set is refused (`mracr.err.no_positions`)."""
    locs = [s.slice_location_mm for s in ordered]
    if any(v is None for v in locs):
        if len(ordered) != N_SLICES:
            raise QCInputError("mracr.err.no_positions", n=len(ordered))
        return NumberedSlices({k + 1: s for k, s in enumerate(ordered)}, [], [], {})
    p1 = float(locs[0])
    sense = 1.0 if len(locs) < 2 or float(locs[-1]) >= p1 else -1.0
    by: dict[int, Any] = {}
    pos: dict[int, float] = {}
    off: list[Any] = []
    for s, v in zip(ordered, locs):
        d = sense * (float(v) - p1)
        k = 1 + int(round(d / SLICE_GAP_MM))
        if abs(d - (k - 1) * SLICE_GAP_MM) > 0.25 * SLICE_GAP_MM or not 1 <= k <= N_SLICES or k in by:
            off.append(s)
            continue
        by[k] = s
        pos[k] = float(v)
    missing = [k for k in range(1, N_SLICES + 1) if k not in by]
    return NumberedSlices(by, missing, off, pos)


# ---------------------------------------------------------------- ROIs


def disc_mask(shape, centre_rc, radius_mm: float, spacing_rc) -> np.ndarray:
    rr, cc = np.ogrid[: shape[0], : shape[1]]
    return ((rr - centre_rc[0]) * spacing_rc[0]) ** 2 + ((cc - centre_rc[1]) * spacing_rc[1]) ** 2 <= radius_mm**2


def ellipse_mask(shape, centre_rc, a_rows_mm: float, b_cols_mm: float, spacing_rc) -> np.ndarray:
    rr, cc = np.ogrid[: shape[0], : shape[1]]
    return (((rr - centre_rc[0]) * spacing_rc[0]) / a_rows_mm) ** 2 + (((cc - centre_rc[1]) * spacing_rc[1]) / b_cols_mm) ** 2 <= 1.0


def large_roi_radius_mm() -> float:
    return math.sqrt(LARGE_ROI_CM2 * 100.0 / math.pi)


def piu(img: np.ndarray, ph: Phantom, spacing_rc) -> tuple[float, float, float, tuple, tuple]:
    """(PIU %, low 1 cm² mean, high 1 cm² mean, low centre, high centre) inside the centred 200 cm² circle."""
    r_small = math.sqrt(SMALL_ROI_CM2 * 100.0 / math.pi)
    ry, rx = r_small / spacing_rc[0], r_small / spacing_rc[1]
    ky, kx = int(math.ceil(ry)), int(math.ceil(rx))
    yy, xx = np.ogrid[-ky : ky + 1, -kx : kx + 1]
    kernel = ((yy / ry) ** 2 + (xx / rx) ** 2 <= 1.0).astype(float)
    kernel /= kernel.sum()
    from scipy.signal import fftconvolve

    smooth = fftconvolve(img, kernel, mode="same")  # 10x faster than a direct 23x23 convolution on 512²
    allowed = disc_mask(img.shape, ph.centre_rc, large_roi_radius_mm() - r_small, spacing_rc)
    vals = np.where(allowed, smooth, np.nan)
    hi_i = np.unravel_index(np.nanargmax(vals), vals.shape)
    lo_i = np.unravel_index(np.nanargmin(vals), vals.shape)
    hi, lo = float(vals[hi_i]), float(vals[lo_i])
    return 100.0 * (1.0 - (hi - lo) / (hi + lo)), lo, hi, lo_i, hi_i


def ghost_rois(shape, ph: Phantom, spacing_rc) -> dict[str, tuple[tuple[float, float], float, float]]:
    """Centres and semi-axes (rows, cols, mm) of the four background ellipses: 10 cm², long axis along the
    phantom edge, centred half-way between the phantom and the image border (shortened to fit)."""
    area = GHOST_ROI_CM2 * 100.0
    cy, cx = ph.centre_rc
    r_mm_y = ph.radius_px * spacing_rc[0]
    r_mm_x = ph.radius_px * spacing_rc[1]
    out = {}
    for name, (dy, dx) in {"top": (-1, 0), "bottom": (1, 0), "left": (0, -1), "right": (0, 1)}.items():
        if dy:
            edge = cy + dy * r_mm_y / spacing_rc[0]
            border = 0 if dy < 0 else shape[0] - 1
            gap_mm = abs(border - edge) * spacing_rc[0]
            short = max(1.0, min(math.sqrt(area / (4 * math.pi)), 0.5 * gap_mm - 1.5))
            long = area / (math.pi * short)
            centre = (0.5 * (edge + border), cx)
            out[name] = (centre, short, long)
        else:
            edge = cx + dx * r_mm_x / spacing_rc[1]
            border = 0 if dx < 0 else shape[1] - 1
            gap_mm = abs(border - edge) * spacing_rc[1]
            short = max(1.0, min(math.sqrt(area / (4 * math.pi)), 0.5 * gap_mm - 1.5))
            long = area / (math.pi * short)
            centre = (cy, 0.5 * (edge + border))
            out[name] = (centre, long, short)
    return out


@dataclass
class Slice7:
    piu_pct: float
    psg_pct: float
    snr: float
    signal: float
    low_rc: tuple
    high_rc: tuple
    ghosts: dict
    ghost_means: dict
    centre_rc: tuple
    large_radius_mm: float


def measure_slice7(img: np.ndarray, ph: Phantom, spacing_rc) -> Slice7:
    big = disc_mask(img.shape, ph.centre_rc, large_roi_radius_mm(), spacing_rc)
    s = float(img[big].mean())
    p, lo, hi, lo_i, hi_i = piu(img, ph, spacing_rc)
    rois = ghost_rois(img.shape, ph, spacing_rc)
    means, sds = {}, []
    for name, (c, a, b) in rois.items():
        m = ellipse_mask(img.shape, c, a, b, spacing_rc)
        means[name] = float(img[m].mean())
        sds.append(float(img[m].std(ddof=1)))
    psg = 100.0 * abs((means["top"] + means["bottom"]) - (means["left"] + means["right"])) / (2.0 * s)
    sigma = float(np.mean(sds)) / RAYLEIGH_SD_FACTOR
    return Slice7(p, psg, s / sigma if sigma > 0 else float("nan"), s, lo_i, hi_i, rois, means, ph.centre_rc, large_roi_radius_mm())


# ---------------------------------------------------------------- slice position


@dataclass
class PositionBars:
    difference_mm: float | None  # right bar length − left bar length (as displayed; hazen's sign)
    left_cols: tuple[int, int] | None = None
    right_cols: tuple[int, int] | None = None
    left_bottom: float | None = None
    right_bottom: float | None = None
    top_row: float | None = None


def top_band_ratio(img: np.ndarray, ph: Phantom, spacing_rc, half_width_mm: float = 25.0) -> tuple[np.ndarray, int, int, float] | None:
    """The top of the phantom around its centre column divided, row by row, by the local fluid signal: (ratio
    image of rows wall − 5 mm … centre, columns centre ± `half_width_mm`; its first row; its first column; the
    wall's row). The fluid signal of a row is the 80th percentile of that row over the band (the wedges take
    ≤ 13 of its 50 mm); the wall is the steepest rise of that fluid signal walking down from above the
    phantom (0.6–1.4 radii above the centre). Why: under 3 T shading or a coil's falloff the fluid near the top
    wall falls below a level taken from the whole phantom, and the wedges then cannot be told from it."""
    cy, cx = ph.centre_rc
    sy, sx = spacing_rc
    hw = int(round(half_width_mm / sx))
    c0, c1 = max(0, int(round(cx)) - hw), min(img.shape[1], int(round(cx)) + hw + 1)
    r_px = ph.radius_px * math.sqrt(sx * sy) / sy
    r_top, r_bot = max(0, int(cy - 1.4 * r_px)), int(cy - 0.6 * r_px)
    if r_bot - r_top < 10 or c1 - c0 < 10:
        return None
    fluid = ndimage.gaussian_filter1d(np.percentile(img[r_top:int(cy), c0:c1], 80, axis=1), max(0.5 / sy, 0.5))
    rise = np.gradient(fluid)[: r_bot - r_top]
    wall = r_top + float(np.argmax(rise))
    first = max(0, int(wall - 5.0 / sy))
    band = img[first:int(cy), c0:c1]
    level = np.percentile(img[first:int(cy), c0:c1], 80, axis=1)
    plateau = float(np.median(level[int(10.0 / sy):])) if level.size > int(10.0 / sy) else float(level.max())
    ref = np.maximum(level, 0.05 * plateau)  # above the wall: background, kept from dividing by ~0
    return band / ref[:, None], first, c0, wall


def position_bars(img: np.ndarray, ph: Phantom, spacing_rc) -> PositionBars:
    """The two dark wedges hanging from the top wall near the centre column, on the image divided row by row by
    the local fluid signal (`top_band_ratio`): each column's dark run is followed down from the wall to where
    the ratio crosses 0.5 (half-way between the plastic and the fluid of that row); columns whose run is
    ≥ 5 mm long form the bars; the bars are split where their bottoms step (or at the middle), each bar's
    bottom is the median over its inner columns; difference = right − left as displayed (mm; hazen's sign,
    the ACR limit is on |·|)."""
    cy, cx = ph.centre_rc
    found = top_band_ratio(img, ph, spacing_rc)
    if found is None:
        return PositionBars(None)
    ratio, first, col0, top = found
    half_w = int(round(12.0 / spacing_rc[1]))
    c0, c1 = int(cx) - half_w, int(cx) + half_w
    start = int(top)
    entry = int(math.ceil(6.0 / spacing_rc[0]))  # a bar column turns dark within 6 mm of the wall (bright rim first)
    bottoms = np.full(c1 - c0 + 1, np.nan)
    for j, c in enumerate(range(c0, c1 + 1)):
        if not 0 <= c - col0 < ratio.shape[1]:
            continue
        col = ndimage.gaussian_filter1d(ratio[start - first :, c - col0], 0.7)
        dark = np.nonzero(col[:entry] < 0.5)[0]
        if col.size < entry + 5 or dark.size == 0:
            continue
        k = crossing(col, 0.5, int(dark[0]), 1)
        if k is not None:
            bottoms[j] = start + k
    run_mm = (bottoms - top) * spacing_rc[0]
    bar = np.isfinite(run_mm) & (run_mm >= 5.0)
    idx = np.nonzero(bar)[0]
    if idx.size < 4:
        return PositionBars(None)
    # the largest connected run of bar columns
    groups = np.split(idx, np.nonzero(np.diff(idx) > 1)[0] + 1)
    g = max(groups, key=len)
    if g.size < 4:
        return PositionBars(None)
    mid = g.size // 2
    left, right = g[:mid], g[mid:]
    trim = lambda a: a[1:-1] if a.size > 3 else a  # noqa: E731 - drop the edge columns (partial volume)
    lb = float(np.median(bottoms[trim(left)]))
    rb = float(np.median(bottoms[trim(right)]))
    return PositionBars((rb - lb) * spacing_rc[0], (c0 + int(left[0]), c0 + int(left[-1])), (c0 + int(right[0]), c0 + int(right[-1])), lb, rb, top)


# ---------------------------------------------------------------- analyser


def _r(v, nd=3):
    return None if v is None else round(float(v), nd)


def _framed(img: MRImage, angle: float | None, centre_rc) -> MRImage:
    """The slice in the phantom's frame (`to_phantom_frame`) when the phantom is turned by at least
    `RESAMPLE_MIN_DEG`, else as acquired."""
    if angle is None or abs(angle) < RESAMPLE_MIN_DEG:
        return img
    return MRImage(img.label, to_phantom_frame(img.pixels, centre_rc, angle, img.spacing_rc), img.spacing_rc, img.slice, img.series_label)


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    from qc.readers.mr_series import load_mr_series

    lang = ctx.lang
    series, set_aside = load_mr_series(inputs, lang=lang, lazy=True)  # only slices 1, 5, 7, 11 are decoded
    method = str(ctx.options.get("noise_method", "smoothed"))
    if method not in acr_snr.METHODS:
        raise QCInputError("snr.err.method", method=method, known=", ".join(acr_snr.METHODS))
    found: dict[str, Any] = {}
    se, ordered, aside = pick_acr_series(series, lang, found)
    warnings = list(set_aside) + aside
    numbered = number_slices(ordered, lang)
    if numbered.off_grid:
        warnings.append(t("mracr.warn.off_grid", lang, files=", ".join(s.label for s in numbered.off_grid)))
    if numbered.missing:
        warnings.append(t("mracr.warn.missing", lang, slices=", ".join(str(k) for k in numbered.missing), n=len(numbered.by_number)))
    lab = se.label(lang)
    px = found.get("pixels")

    def image_of(k: int) -> MRImage | None:
        sl = numbered.by_number.get(k)
        return None if sl is None else _image(sl, lab, px)

    s1, s5, s7, s11 = image_of(1), image_of(5), image_of(7), image_of(11)
    used = [x.slice for x in (s1, s5, s7, s11) if x is not None]
    m: list[Measurement] = []
    items: list[dict[str, Any]] = []
    overlays = []

    def add(name, value, item="", nominal=None, reason=""):
        spec = SPEC_METRICS[name]
        m.append(Measurement(name, None if value is None else float(value), spec.unit, item=item, nominal=nominal, description=spec.label(lang),
                             reason="" if value is not None else reason))

    def missing_reason(k: int) -> str:
        return t("mracr.reason.missing_slice", lang, k=k)

    # the phantom's turn on the table, from slice 1; every ROI of slices 1, 5 and 11 is placed in its frame
    ph1 = find_phantom(s1.pixels, s1.label, lang)
    rotation = phantom_rotation_deg(s1.pixels, ph1, s1.spacing_rc)
    turn = rotation or 0.0
    add("acr_rotation_deg", rotation)
    f1 = _framed(s1, rotation, ph1.centre_rc)
    fph1 = ph1 if f1 is s1 else find_phantom(f1.pixels, f1.label, lang)

    # geometry: diameters at the phantom's own axes, edge at half of the local fluid-to-background step
    ph5 = find_phantom(s5.pixels, s5.label, lang) if s5 is not None else None
    d1 = diameters(s1.pixels, ph1, s1.spacing_rc, NOMINAL_DIAMETER_MM, angles_deg=(0.0, 90.0), local_edge=True, turn_deg=turn)
    d5 = diameters(s5.pixels, ph5, s5.spacing_rc, NOMINAL_DIAMETER_MM, local_edge=True, turn_deg=turn) if s5 is not None else []
    errs = []
    for sl, ds in (("1", d1), ("5", d5)):
        for d in ds:
            items.append({"measure": SPEC_METRICS["acr_diameter_mm"].label(lang), "slice": sl, "what": d.label, "value": _r(d.length_mm), "nominal": NOMINAL_DIAMETER_MM, "unit": "mm"})
            add("acr_diameter_mm", d.length_mm, item=f"#{sl} {d.label}", nominal=NOMINAL_DIAMETER_MM, reason=t("mracr.reason.no_edge", lang, k=sl))
            errs.append(None if d.length_mm is None else abs(d.length_mm - NOMINAL_DIAMETER_MM))
    if s5 is None:
        for ang in (0, 45, 90, 135):
            add("acr_diameter_mm", None, item=f"#5 {ang}°", nominal=NOMINAL_DIAMETER_MM, reason=missing_reason(5))
        errs.append(None)
    add("acr_diameter_max_error_mm", None if any(e is None for e in errs) else max(errs),
        reason=missing_reason(5) if s5 is None else t("mracr.reason.no_edge", lang, k="1/5"))
    # slice thickness
    st = None
    try:
        st = measure_slice_thickness(f1, lang, phantom="acr", found=(fph1, find_acr_bar(f1.pixels, fph1, f1.spacing_rc)))
        thick = st.slice_thickness_mm
        thick_reason = ""
    except QCInputError as exc:
        thick = None
        thick_reason = exc.message(lang)
        warnings.append(t("mracr.warn.failed", lang, measure=SPEC_METRICS["acr_slice_thickness_mm"].label(lang), reason=thick_reason))
    nominal_th = getattr(s1.slice, "slice_thickness_mm", None)
    add("acr_slice_thickness_mm", thick, nominal=nominal_th, reason=thick_reason)
    if st is not None:
        items.append({"measure": SPEC_METRICS["acr_slice_thickness_mm"].label(lang), "slice": "1", "what": t("mracr.what.ramps", lang),
                      "value": f"{_r(st.ramps[0].fwhm_mm, 2)} / {_r(st.ramps[1].fwhm_mm, 2)}", "nominal": nominal_th, "unit": "mm"})
    # high-contrast resolution (hole arrays, slice 1): `acr_resolution` fits a turn of up to 5° itself on the
    # image as acquired (a cubic resampling lowers the contrast of 0.9 mm holes on ~1 mm pixels: acr/Siemens
    # LR 0.9 → 1.0 mm); beyond, in the phantom's frame
    h1, hph1 = (f1, fph1) if abs(turn) > HOLES_OWN_TURN_DEG else (s1, ph1)
    holes = acr_resolution.measure_hole_resolution(h1.pixels, hph1, h1.spacing_rc)
    add("resolution_ul_mm", holes.resolution_ul_mm)
    add("resolution_lr_mm", holes.resolution_lr_mm)
    items += acr_resolution.items(holes, SPEC_METRICS["resolution_ul_mm"].label(lang), lang)
    # slice position (phantom frame)
    pos = {}
    f11 = None
    for name, sl in (("1", f1), ("11", s11)):
        if sl is None:
            add("acr_slice_position_mm", None, item=f"#{name}", reason=missing_reason(int(name)))
            continue
        if name == "11":
            ph11 = find_phantom(sl.pixels, sl.label, lang)
            sl = f11 = _framed(sl, rotation, ph11.centre_rc)
            ph = ph11 if sl is s11 else find_phantom(sl.pixels, sl.label, lang)
        else:
            ph = fph1
        pb = position_bars(sl.pixels, ph, sl.spacing_rc)
        pos[name] = pb
        add("acr_slice_position_mm", pb.difference_mm, item=f"#{name}", reason=t("mracr.reason.no_bars", lang, k=name))
        items.append({"measure": SPEC_METRICS["acr_slice_position_mm"].label(lang), "slice": name, "what": t("mracr.what.bars", lang), "value": _r(pb.difference_mm, 2), "nominal": 0.0, "unit": "mm"})
    # slice 7, in the image's frame: the circles do not depend on the turn, and ghosts run along the image's
    # phase-encoding axis whatever the phantom's turn
    r7 = smooth = diff = factor = other = None
    if s7 is None:
        for name in ("acr_piu_pct", "acr_ghosting_pct"):
            add(name, None, reason=missing_reason(7))
        m.append(Measurement("acr_snr", None, "", description=SPEC_METRICS["acr_snr"].label(lang), reason=missing_reason(7)))
    else:
        # centred on the circle through the phantom's edge (the mask's centroid leans to the bright side under
        # 3 T shading or a coil's falloff, and the 200 cm² disc then reaches the dim side's edge)
        ph7 = recentred(s7.pixels, find_phantom(s7.pixels, s7.label, lang), s7.spacing_rc, np.arange(0.0, 360.0, 2.0))
        r7 = measure_slice7(s7.pixels, ph7, s7.spacing_rc)
        add("acr_piu_pct", r7.piu_pct)
        add("acr_ghosting_pct", r7.psg_pct)
        # SNR: the chosen single-image method (named in the result), the other one listed; two series: difference
        centre7 = find_snr_phantom(s7.pixels, s7.label).centre_rc
        smooth = acr_snr.snr_smoothed(s7.pixels, centre7)
        snr_value = smooth.snr if method == "smoothed" else r7.snr
        m_name = t(f"snr.method.{method}", lang)
        m.append(Measurement("acr_snr", None if snr_value is None else float(snr_value), "", description=f"{SPEC_METRICS['acr_snr'].label(lang)} — {m_name}"))
        if found.get("repeat") is not None:
            other = number_slices(found["repeat"], lang).by_number.get(7)
            if other is not None:
                diff = acr_snr.snr_difference(s7.pixels, np.asarray(other.signal, dtype=np.float64), centre7)
                add("acr_snr_difference", diff.snr)
        for res in (smooth, diff):  # a square off the image or without any noise (constant pixels) is not averaged
            if res is not None and res.snr is not None and sum(np.isfinite(v) for v in res.per_square) < 5:
                warnings.append(t("mracr.warn.snr_squares", lang, n=int(sum(np.isfinite(v) for v in res.per_square)),
                                  method=t(f"snr.method.{res.method}", lang)))
        factor = normalisation_factor(s7.slice)
        items.append({"measure": SPEC_METRICS["acr_piu_pct"].label(lang), "slice": "7", "what": "PIU", "value": _r(r7.piu_pct, 2), "nominal": None, "unit": "%"})
        items.append({"measure": SPEC_METRICS["acr_ghosting_pct"].label(lang), "slice": "7", "what": "PSG", "value": _r(r7.psg_pct, 3), "nominal": None, "unit": "%"})
        for meth, val in (("smoothed", smooth.snr), ("background", r7.snr)):
            items.append({"measure": SPEC_METRICS["acr_snr"].label(lang), "slice": "7", "what": t(f"snr.method.{meth}", lang) + (t("mracr.what.snr_used", lang) if meth == method else ""),
                          "value": _r(val, 1), "nominal": None, "unit": ""})
        if diff is not None:
            items.append({"measure": SPEC_METRICS["acr_snr_difference"].label(lang), "slice": "7", "what": t("mracr.what.snr_difference", lang, other=other.label),
                          "value": _r(diff.snr, 2), "nominal": None, "unit": ""})
        if factor is not None:
            items.append({"measure": t("mracr.what.snr_factor", lang), "slice": "7", "what": t("mracr.what.snr_factor_def", lang),
                          "value": _r(factor, 4), "nominal": None, "unit": ""})
    items.append({"measure": SPEC_METRICS["acr_rotation_deg"].label(lang), "slice": "1", "what": t("mracr.what.rotation", lang),
                  "value": _r(rotation, 2), "nominal": 0.0, "unit": "°"})

    # overlays (slices 1 and 11 in the phantom's frame when it is turned)
    ov = Overlay(f1.pixels)
    for d in d1:
        a, b = (d.a_rc, d.b_rc) if f1 is s1 else (frame_point(d.a_rc, ph1.centre_rc, turn, s1.spacing_rc), frame_point(d.b_rc, ph1.centre_rc, turn, s1.spacing_rc))
        ov.line(a, b, (0, 230, 0))
    if st is not None:
        if st.bar_box:
            ov.rect(*st.bar_box, colour=(0, 200, 255))
        for r in st.ramps:
            ov.rect(*r.box, colour=(255, 200, 0))
    _draw_bars(ov, pos.get("1"))
    if h1 is f1:
        acr_resolution.draw(ov, holes)
    overlays.append((t("mracr.overlay.s1", lang), ov.rgb))
    overlays.append((t("mracr.overlay.holes", lang), acr_resolution.zoom_overlay(h1.pixels, holes)))
    if s5 is not None:
        ov = Overlay(s5.pixels)
        for d in d5:
            ov.line(d.a_rc, d.b_rc, (0, 230, 0))
        overlays.append((t("mracr.overlay.s5", lang), ov.rgb))
    if s7 is not None:
        ov = Overlay(s7.pixels)
        ov.ellipse(r7.centre_rc, r7.large_radius_mm / s7.spacing_rc[0], r7.large_radius_mm / s7.spacing_rc[1], (0, 230, 0))
        rs = math.sqrt(SMALL_ROI_CM2 * 100 / math.pi)
        ov.ellipse(r7.low_rc, rs / s7.spacing_rc[0], rs / s7.spacing_rc[1], (0, 120, 255))
        ov.ellipse(r7.high_rc, rs / s7.spacing_rc[0], rs / s7.spacing_rc[1], (255, 60, 60))
        for c, a, b in r7.ghosts.values():
            ov.ellipse(c, a / s7.spacing_rc[0], b / s7.spacing_rc[1], (255, 200, 0))
        for r0_, c0_, r1_, c1_ in smooth.squares:
            ov.rect(r0_ - 0.5, c0_ - 0.5, r1_ - 0.5, c1_ - 0.5, colour=(255, 60, 255))
        overlays.append((t("mracr.overlay.s7", lang), ov.rgb))
    if f11 is not None:
        ov = Overlay(f11.pixels)
        _draw_bars(ov, pos.get("11"))
        overlays.append((t("mracr.overlay.s11", lang), ov.rgb))

    return AnalysisResult(
        test=KEY, measurements=m, items=items, warnings=warnings, overlays=overlays,
        **identity_of(used, ctx.acquired_at, lang),
        params={"series": lab, "slices": {str(k): (x.label if x is not None else None) for k, x in (("1", s1), ("5", s5), ("7", s7), ("11", s11))},
                "missing_slices": numbered.missing, "rotation_deg": rotation, "analysed_in_phantom_frame": f1 is not s1,
                "nominal_diameter_mm": NOMINAL_DIAMETER_MM, "large_roi_cm2": LARGE_ROI_CM2, "small_roi_cm2": SMALL_ROI_CM2,
                "ghost_roi_cm2": GHOST_ROI_CM2, "snr_method": method,
                "snr_definition": {"smoothed": "mean over 5 squares of 20x20 px (centre, diagonals at +-40 px) of mean / SD(image - 25x25 px boxcar) * sqrt(625/624)",
                                   "background": "mean(200 cm2) / (mean SD of the 4 background ellipses / 0.655)",
                                   "difference": "same 5 squares: mean of both means / (SD(image1 - image2) / sqrt(2))"},
                "snr_normalisation_factor": factor, "snr_difference_with": None if diff is None else other.label},
    )


def _draw_bars(ov: Overlay, pb: PositionBars | None) -> None:
    if pb is None or pb.difference_mm is None:
        return
    for (a, b), bottom in ((pb.left_cols, pb.left_bottom), (pb.right_cols, pb.right_bottom)):
        ov.rect(pb.top_row, a - 0.5, bottom, b + 0.5, colour=(255, 60, 255))


_ACR = "ACR MRI QC manual (2015), grand fantôme"
_METRICS = (
    MetricSpec("acr_diameter_mm", "mm", "Diamètre (190 mm nominal)", "Diameter (190 mm nominal)",
               Tolerance.symmetric(1.5, 2.0, reference=_ACR + " : 190 ± 2 mm ; alerte à 1,5 mm")),
    MetricSpec("acr_diameter_max_error_mm", "mm", "Écart max. des diamètres à 190 mm", "Max diameter error to 190 mm",
               Tolerance.at_most(1.5, 2.0, reference=_ACR + " : ± 2 mm ; alerte à 1,5 mm"), better="lower"),
    MetricSpec("acr_slice_thickness_mm", "mm", "Épaisseur de coupe (coupe 1)", "Slice thickness (slice 1)",
               Tolerance.symmetric(0.5, 0.7, reference=_ACR + " : 5,0 ± 0,7 mm ; alerte à 0,5 mm")),
    MetricSpec("acr_slice_position_mm", "mm", "Position de coupe : différence de longueur des barres", "Slice position: bar length difference",
               Tolerance(act_low=-5.0, tol_low=-4.0, tol_high=4.0, act_high=5.0, reference=_ACR + " : |différence| ≤ 5 mm ; alerte à 4 mm")),
    MetricSpec("acr_piu_pct", "%", "Uniformité intégrale (PIU, coupe 7)", "Percent integral uniformity (PIU, slice 7)",
               Tolerance.at_least(90.0, 87.5, reference=_ACR + " : PIU ≥ 87,5 % sous 3 T (≥ 82,0 % à 3 T) ; alerte à 90 %"), better="higher"),
    MetricSpec("acr_ghosting_pct", "%", "Fantômes de signal (PSG, coupe 7)", "Percent-signal ghosting (PSG, slice 7)",
               Tolerance.at_most(2.0, 2.5, reference=_ACR + " : PSG ≤ 2,5 % ; alerte à 2 %"), better="lower"),
    MetricSpec("resolution_ul_mm", "mm", "Résolution haut contraste droite-gauche (matrices haut-gauche, coupe 1)",
               "High-contrast resolution right-left (upper-left arrays, slice 1)",
               Tolerance.at_most(1.0, 1.0, reference=_ACR + " : trous de 1,0 mm résolus ou mieux ; "
                                 "pas de bande d'alerte (mesure par pas de 0,1 mm : 0,9 et 1,0 conformes, 1,1 non conforme)"), better="lower"),
    MetricSpec("resolution_lr_mm", "mm", "Résolution haut contraste haut-bas (matrices bas-droite, coupe 1)",
               "High-contrast resolution top-bottom (lower-right arrays, slice 1)",
               Tolerance.at_most(1.0, 1.0, reference=_ACR + " : trous de 1,0 mm résolus ou mieux ; "
                                 "pas de bande d'alerte (mesure par pas de 0,1 mm : 0,9 et 1,0 conformes, 1,1 non conforme)"), better="lower"),
    MetricSpec("acr_snr", "", "RSB (coupe 7)", "SNR (slice 7)", None, better="higher"),
    MetricSpec("acr_rotation_deg", "°", "Rotation du fantôme sur la table (coupe 1)", "Phantom rotation on the table (slice 1)", None),
    MetricSpec("acr_snr_difference", "", "RSB par différence de deux acquisitions (coupe 7)", "SNR by difference of two acquisitions (slice 7)", None, better="higher"),
)
SPEC_METRICS = {m.name: m for m in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "2.0"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr="IRM : fantôme ACR",
    name_en="MR: ACR phantom",
    frequency="quarterly",
    kind="dicom",
    metrics=_METRICS,
    analyse=analyse,
    page="pages/mr_acr.py",
    description_fr=("Série axiale du grand fantôme ACR (11 coupes) : géométrie (coupes 1 et 5), épaisseur et position de coupe "
                    "(coupes 1 et 11), résolution haut contraste (matrices de trous, coupe 1), uniformité PIU, fantômes de signal et RSB (coupe 7), selon le manuel de CQ IRM de l'ACR."),
    description_en=("Axial series of the ACR large phantom (11 slices): geometry (slices 1 and 5), slice thickness and position "
                    "(slices 1 and 11), high-contrast resolution (hole arrays, slice 1), PIU uniformity, percent-signal ghosting and SNR (slice 7), per the ACR MRI QC manual."),
    accepts=".dcm,.ima,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:mr_acr_demo"
ROUTING = None  # received MR phantom images are not routed to the image-quality tests yet: they are uploaded on their study page
# The menu shows this test under its study page (the page that takes a whole upload and routes it to its tests).
MENU_GROUP = "mr-image"
# The demo database: quarterly, once in the last full month. A fixed noise draw: at 0.98 mm pixels the 1.0 mm hole
# array sits at the resolution limit and reads 1.0 or 1.1 mm with the noise (as on a real 256² ACR series); seed 0 passes.
DEMO = DemoSessions(make="qc.demo_inputs:mr_acr_session", gen="mr_acr", span="quarterly", weekday=1, time="19:15",
                    args={"thickness_mm": 5.2}, seed=0)
