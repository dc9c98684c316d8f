"""ACR high-contrast spatial resolution: the hole arrays of slice 1 (part of test "mr-acr").

The ACR large phantom's slice 1 holds a plastic insert with three pairs of 4 × 4 hole arrays, hole diameter
d = 1.1, 1.0 and 0.9 mm, centre-to-centre pitch 2d. In each pair the upper-left (UL) array is read along its
rows (resolution right-left: the holes of a row must be told apart along x) and the lower-right (LR) array
along its columns (top-bottom: along y). The ACR MRI QC manual (2015, §"High-contrast spatial resolution")
calls an array resolved when "all 4 holes in at least one row (column) are recognisable as points of brighter
signal than the spaces between them" at some window and level, and the score is the smallest hole size
resolved, read separately for each direction. Limit: 1.0 mm or better in both directions (ACR T1/T2 series,
25 cm FOV, 256 matrix).

Finding the arrays (never fixed pixel positions): from the phantom's centre (`find_phantom`, as `qc.mr.acr`),
each pair is searched within ± 6 mm of its nominal place (corner hole at x = −14.4 + 23·k mm, y = +37.1 mm,
k = 0, 1, 2 for 1.1, 1.0, 0.9 mm; measured on the 512² GE image of the hazen data) by maximising the mean
of the lightly smoothed image over the pair's 32 hole centres less its mean on a square frame of plastic
4 pitches out (so that the fluid beyond the insert does not attract the search); the phantom's in-plane rotation is the slope
of the line through the three pairs found (kept when ≤ 5°), the pairs are searched again with it, then each
array is fitted on its own within ± half a pitch (the LR array's offset to the UL one varies between phantoms).

Criterion ("resolved", defined here, not in the manual which is visual): for each row (UL) or column (LR),
a profile through the 4 fitted hole centres, from half a pitch before the first hole to half a pitch after the
last, sampled every 0.05 mm by bilinear interpolation and averaged over three parallel lines (0, ± d/4). The
line is resolved when the profile shows exactly 4 peaks of prominence ≥ T, with
T = max(0.10 × (profile maximum − plastic level), 3 × σ), plastic level = median of the two empty quadrants of
the pair, σ = the image noise there (SD of neighbouring-pixel differences / √2). The 10 % is a just-visible
contrast once the window is narrowed as the manual allows (Rayleigh's criterion asks 26 % for two point
images, Sparrow's 0 %); the 3σ keeps noise from making four peaks. Peaks are not required at the nominal hole
positions: at 0.98 mm pixels the 0.9 mm arrays (pitch 1.8 mm, above the Nyquist limit) show four stretched
peaks that a reader counts as resolved, as hazen does. An array is resolved when ≥ 1 of its 4 lines is.

`resolution_ul_mm` (right-left) / `resolution_lr_mm` (top-bottom) = the smallest hole size whose array is
resolved in that direction (as the manual scores: a 0.9 mm array resolved counts even if the 1.0 mm one is
not); none resolved → not measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from qc.mr.phantom_geometry import Overlay, Phantom

HOLE_SIZES_MM = (1.1, 1.0, 0.9)
PAIR_PITCH_X_MM = 23.0
CORNER_MM = (-14.4, 37.1)  # (x, y) of the 1.1 mm pair's corner hole (UL last row/column) from the phantom centre
SEARCH_MM = 6.0
MAX_ROTATION_DEG = 5.0
REL_CONTRAST = 0.10
NOISE_K = 3.0
N_HOLES = 4


@dataclass
class HoleArray:
    size_mm: float
    array: str  # "UL" or "LR"
    direction: str  # "rl" (right-left, along rows) or "tb" (top-bottom, along columns)
    centres_rc: np.ndarray = field(repr=False)  # (4, 4, 2) hole centres (row, col) px, [line][hole]
    rows_resolved: int = 0
    resolved: bool = False
    line_peaks: list = field(default_factory=list)  # peaks found on each line
    lines_rc: list = field(default_factory=list, repr=False)  # ((r0, c0), (r1, c1)) of each profile line
    profiles: list = field(default_factory=list, repr=False)  # (distance mm, value) of each line
    threshold: float = 0.0
    box_rc: tuple = ()  # (r0, c0, r1, c1) around the array


@dataclass
class HoleResolution:
    arrays: list[HoleArray]
    resolution_ul_mm: float | None
    resolution_lr_mm: float | None
    rotation_deg: float
    plastic: float
    noise_sd: float

    def array(self, name: str, size_mm: float) -> HoleArray:
        return next(a for a in self.arrays if a.array == name and abs(a.size_mm - size_mm) < 1e-6)


def _layout(d: float) -> tuple[np.ndarray, np.ndarray]:
    """Nominal hole offsets (x, y mm) from the pair's corner hole: UL rows/cols −3..0, LR 0..3 (pitch 2d)."""
    p = 2.0 * d
    ul = np.array([((j - 3) * p, (i - 3) * p) for i in range(4) for j in range(4)])
    lr = np.array([(j * p, i * p) for i in range(4) for j in range(4)])
    return ul, lr


def _rot(xy: np.ndarray, deg: float) -> np.ndarray:
    a = math.radians(deg)
    return xy @ np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])


class _Sampler:
    """Bilinear samples of an image at (x, y) mm from the phantom centre."""

    def __init__(self, img: np.ndarray, centre_rc, spacing_rc) -> None:
        self.img, self.c, self.s = img, centre_rc, spacing_rc

    def rc(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=float)
        return np.stack([self.c[0] + xy[..., 1] / self.s[0], self.c[1] + xy[..., 0] / self.s[1]], axis=-1)

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        rc = self.rc(xy).reshape(-1, 2)
        return ndimage.map_coordinates(self.img, [rc[:, 0], rc[:, 1]], order=1, mode="nearest").reshape(np.shape(xy)[:-1])


def _frame(d: float) -> np.ndarray:
    """Points (x, y mm from the corner hole) on a square 4 pitches out from the pair's centre: plastic
    around the arrays. Scoring the holes against it keeps the search off the bright fluid beyond the insert."""
    p = 2.0 * d
    e = np.arange(-4.0, 4.01, 1.0)
    side = np.full_like(e, 4.0)
    return p * np.vstack([np.stack([e, -side], 1), np.stack([e, side], 1), np.stack([-side, e], 1), np.stack([side, e], 1)])


def _best_offset(sample: _Sampler, holes_xy: np.ndarray, half_mm: float, step_mm: float,
                 frame_xy: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Offset (x, y mm) within ± half_mm maximising the mean sampled value over the holes (less the mean
    over the frame points, when given)."""
    g = np.arange(-half_mm, half_mm + 1e-9, step_mm)
    ox, oy = np.meshgrid(g, g)
    offs = np.stack([ox.ravel(), oy.ravel()], axis=1)
    vals = sample(offs[:, None, :] + holes_xy[None, :, :]).mean(axis=1)
    if frame_xy is not None:
        vals = vals - sample(offs[:, None, :] + frame_xy[None, :, :]).mean(axis=1)
    i = int(np.argmax(vals))
    return offs[i], float(vals[i])


def image_noise_sd(img: np.ndarray, ph: Phantom) -> float:
    """Noise σ inside the phantom: robust SD (1.4826·MAD) of neighbouring-pixel differences over the
    phantom's inner 80 % radius, / √2; the inserts' edges are few and fall in the MAD's tails. (The air
    around the phantom is zeroed by some scanners, Philips here, so it is not used.)"""
    rr, cc = np.ogrid[: img.shape[0], : img.shape[1]]
    inner = np.hypot(rr - ph.centre_rc[0], cc - ph.centre_rc[1]) < 0.8 * ph.radius_px
    m = inner[:, 1:] & inner[:, :-1]
    d = (img[:, 1:] - img[:, :-1])[m]
    if d.size < 100:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2))


def measure_hole_resolution(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float]) -> HoleResolution:
    from scipy import signal  # ~0.3 s of CPU to import: when holes are measured, not with the module

    img = np.asarray(img, dtype=np.float64)
    px = min(spacing_rc)
    cx0, cy0 = CORNER_MM
    layouts = {d: _layout(d) for d in HOLE_SIZES_MM}
    smooth = {d: _Sampler(ndimage.gaussian_filter(img, max(0.5, 0.3 * d / px)), ph.centre_rc, spacing_rc) for d in set(HOLE_SIZES_MM)}
    # pass 1: pairs without rotation
    corners = {}
    for k, d in enumerate(HOLE_SIZES_MM):
        ul, lr = layouts[d]
        nominal = np.array([cx0 + PAIR_PITCH_X_MM * k, cy0])
        off, _ = _best_offset(smooth[d], nominal + np.vstack([ul, lr]), SEARCH_MM, 0.25, nominal + _frame(d))
        corners[d] = nominal + off
    pts = np.array([corners[d] for d in HOLE_SIZES_MM])
    slope = np.polyfit(pts[:, 0], pts[:, 1], 1)[0]
    rotation = math.degrees(math.atan(slope))
    if abs(rotation) > MAX_ROTATION_DEG:
        rotation = 0.0
    # pass 2: with rotation, then each array on its own
    arrays: list[HoleArray] = []
    sample = _Sampler(img, ph.centre_rc, spacing_rc)
    plastic_vals = []
    per_pair = []
    for k, d in enumerate(HOLE_SIZES_MM):
        p = 2.0 * d
        ul, lr = layouts[d]
        if rotation == 0.0:
            corner = corners[d]
        else:
            nominal = _rot(np.array([[cx0 + PAIR_PITCH_X_MM * k, cy0]]), rotation)[0]
            corner = nominal + _best_offset(smooth[d], nominal + _rot(np.vstack([ul, lr]), rotation), SEARCH_MM, 0.25,
                                            nominal + _rot(_frame(d), rotation))[0]
        fitted = {}
        for name, lay in (("UL", ul), ("LR", lr)):
            holes = corner + _rot(lay, rotation)
            o, _ = _best_offset(smooth[d], holes, 0.5 * p, 0.05)
            fitted[name] = holes + o
        # empty quadrants of the pair (plastic): upper-right and lower-left, 1–3.5 pitches from the corner
        r0c = sample.rc(corner)
        lo_r, hi_r = int(max(0, r0c[0] - 4 * p / spacing_rc[0])), int(min(img.shape[0], r0c[0] + 4 * p / spacing_rc[0] + 1))
        lo_c, hi_c = int(max(0, r0c[1] - 4 * p / spacing_rc[1])), int(min(img.shape[1], r0c[1] + 4 * p / spacing_rc[1] + 1))
        sub_r, sub_c = np.mgrid[lo_r:hi_r, lo_c:hi_c]
        xy = np.stack([(sub_c - ph.centre_rc[1]) * spacing_rc[1], (sub_r - ph.centre_rc[0]) * spacing_rc[0]], axis=-1) - corner
        uv = _rot(xy.reshape(-1, 2), -rotation).reshape(xy.shape) / p
        u, v = uv[..., 0], uv[..., 1]
        quad = ((u >= 1) & (u <= 3.5) & (v >= -3.5) & (v <= -1)) | ((u >= -3.5) & (u <= -1) & (v >= 1) & (v <= 3.5))
        sub = img[lo_r:hi_r, lo_c:hi_c]
        plastic_vals.append(float(np.median(sub[quad])) if quad.any() else float(np.percentile(sub, 10)))
        per_pair.append((d, fitted, (lo_r, lo_c, hi_r, hi_c)))
    plastic = float(np.median(plastic_vals))
    sigma = image_noise_sd(img, ph)
    for (d, fitted, _box), pl in zip(per_pair, plastic_vals):
        p = 2.0 * d
        for name in ("UL", "LR"):
            g = fitted[name].reshape(4, 4, 2)  # [row][col] (x, y)
            lines = [g[i] for i in range(4)] if name == "UL" else [g[:, j] for j in range(4)]
            arr = HoleArray(d, name, "rl" if name == "UL" else "tb", sample.rc(g))
            rc_all = sample.rc(g).reshape(-1, 2)
            pad = d / min(spacing_rc)
            arr.box_rc = (float(rc_all[:, 0].min() - pad), float(rc_all[:, 1].min() - pad), float(rc_all[:, 0].max() + pad), float(rc_all[:, 1].max() + pad))
            for ln in lines:
                u = (ln[-1] - ln[0]) / np.linalg.norm(ln[-1] - ln[0])
                nrm = np.array([-u[1], u[0]])
                s = np.arange(-0.5 * p, np.linalg.norm(ln[-1] - ln[0]) + 0.5 * p + 1e-9, 0.05)
                base = ln[0][None, :] + s[:, None] * u[None, :]
                prof = np.mean([sample(base + o * nrm) for o in (-0.25 * d, 0.0, 0.25 * d)], axis=0)
                thr = max(REL_CONTRAST * (float(prof.max()) - pl), NOISE_K * sigma)
                # the array's outer ends lie against plastic: pad with its level so that only the dips
                # between holes limit the prominences ("holes distinguishable from one another")
                peaks, _ = signal.find_peaks(np.concatenate([[pl], prof, [pl]]), prominence=thr)
                arr.line_peaks.append(int(peaks.size))
                arr.lines_rc.append((tuple(sample.rc(base[0])), tuple(sample.rc(base[-1]))))
                arr.profiles.append((s, prof))
                arr.threshold = thr
            arr.rows_resolved = sum(1 for n in arr.line_peaks if n == N_HOLES)
            arr.resolved = arr.rows_resolved > 0
            arrays.append(arr)
    ul = [a.size_mm for a in arrays if a.array == "UL" and a.resolved]
    lr = [a.size_mm for a in arrays if a.array == "LR" and a.resolved]
    return HoleResolution(arrays, min(ul) if ul else None, min(lr) if lr else None, rotation, plastic, sigma)


def draw(ov: Overlay, res: HoleResolution) -> None:
    """Each array's box (green resolved, red not) and the profile lines of its resolved rows/columns."""
    for a in res.arrays:
        colour = (0, 220, 0) if a.resolved else (255, 60, 60)
        ov.rect(*a.box_rc, colour=colour)
        for n, (p0, p1) in zip(a.line_peaks, a.lines_rc):
            if n == N_HOLES:
                ov.line(p0, p1, (0, 200, 255))


def _size(v: float, lang: str) -> str:
    txt = f"{v:.1f}"
    return txt.replace(".", ",") if lang == "fr" else txt


def items(res: HoleResolution, measure: str, lang: str) -> list[dict]:
    """One table row per array: which array, hole size, direction, resolved or not; value = lines resolved / 4."""
    from qc.i18n import t

    out = []
    for a in res.arrays:
        what = t("mracr.what.holes", lang, array=t(f"mracr.array.{a.array}", lang), size=_size(a.size_mm, lang),
                 direction=t(f"mracr.dir.{a.direction}", lang),
                 verdict=t("mracr.holes.resolved" if a.resolved else "mracr.holes.unresolved", lang))
        out.append({"measure": measure, "slice": "1", "what": what, "value": f"{a.rows_resolved}/4", "nominal": None, "unit": ""})
    return out


def zoom_overlay(img: np.ndarray, res: HoleResolution, zoom: int = 0) -> np.ndarray:
    """The insert enlarged (nearest neighbour, ~500 px wide) with the arrays' boxes and resolved lines."""
    boxes = np.array([a.box_rc for a in res.arrays])
    r0 = max(0, int(boxes[:, 0].min()) - 4)
    c0 = max(0, int(boxes[:, 1].min()) - 4)
    r1 = min(img.shape[0], int(boxes[:, 2].max()) + 5)
    c1 = min(img.shape[1], int(boxes[:, 3].max()) + 5)
    z = zoom or max(1, int(500 // max(1, c1 - c0)))
    crop = np.kron(np.asarray(img, dtype=np.float64)[r0:r1, c0:c1], np.ones((z, z)))
    ov = Overlay(crop, max_px=max(crop.shape))

    def tr(rc):
        return ((rc[0] - r0 + 0.5) * z - 0.5, (rc[1] - c0 + 0.5) * z - 0.5)

    for a in res.arrays:
        colour = (0, 220, 0) if a.resolved else (255, 60, 60)
        b = a.box_rc
        p0, p1 = tr((b[0], b[1])), tr((b[2], b[3]))
        ov.rect(p0[0], p0[1], p1[0], p1[1], colour=colour)
        for n, (q0, q1) in zip(a.line_peaks, a.lines_rc):
            if n == N_HOLES:
                ov.line(tr(q0), tr(q1), (0, 200, 255))
    return ov.rgb
