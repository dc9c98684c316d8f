"""Shared toolkit of the MR image-quality analysers (qc.mr.snr, qc.mr.uniformity, qc.mr.ghosting).

Owns: finding the phantom in an image (threshold at 40 % of the phantom's own signal level, the largest
connected region, holes filled), placing ROIs from it (in mm, never at fixed pixel positions), the ROI
shapes (`Roi`: rectangle or disc, with its mask and a colour for drawing), the overlay drawing (RGB uint8
image with the ROIs outlined), choosing the images of an upload (`images_for_test`), and the
`AnalysisResult` identity fields of a set of slices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
from scipy import ndimage

from qc.errors import QCInputError
from qc.i18n import t
from qc.readers.dicom_io import expand_inputs
from qc.readers.mr_series import MRSeries, MRSlice, load_mr_series

MAX_IMAGES = 60  # images analysed per session (bounded time); the rest are listed in a warning

COLOURS = {
    "signal": (40, 220, 40),
    "noise": (0, 200, 255),
    "ghost": (255, 60, 60),
    "profile": (255, 210, 0),
    "extreme_high": (255, 60, 60),
    "extreme_low": (80, 120, 255),
    "region": (255, 160, 0),
}


@dataclass
class Phantom:
    """The phantom found in one image, in pixel coordinates (row, col)."""

    mask: np.ndarray = field(repr=False)
    centre_rc: tuple[float, float]
    inscribed_radius_px: float  # distance from the centre to the nearest edge of the phantom
    equivalent_radius_px: float  # radius of the disc of the same area
    bbox: tuple[int, int, int, int]  # (row min, row max, col min, col max), inclusive
    signal_level: float  # median of the pixels above the Otsu threshold

    @property
    def area_px(self) -> int:
        return int(np.count_nonzero(self.mask))


@dataclass
class Roi:
    """A region of interest: "rect" (centre, half sizes) or "disc" (centre, radius), in pixels."""

    kind: str
    centre_rc: tuple[float, float]
    half_rc: tuple[float, float]  # half height/width for "rect"; (radius, radius) for "disc"
    role: str  # signal, noise, ghost, profile, extreme_high, extreme_low, region
    label: str = ""
    value: float | None = None

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        rows, cols = shape
        if self.kind == "rect":
            r0, r1, c0, c1 = self.bounds(shape)
            m = np.zeros(shape, dtype=bool)
            m[r0:r1, c0:c1] = True
            return m
        rr, cc = np.ogrid[:rows, :cols]
        return (rr - self.centre_rc[0]) ** 2 + (cc - self.centre_rc[1]) ** 2 <= self.half_rc[0] ** 2

    def bounds(self, shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """(r0, r1, c0, c1) slice bounds clipped to the image."""
        rows, cols = shape
        r0 = int(round(self.centre_rc[0] - self.half_rc[0]))
        r1 = int(round(self.centre_rc[0] + self.half_rc[0]))
        c0 = int(round(self.centre_rc[1] - self.half_rc[1]))
        c1 = int(round(self.centre_rc[1] + self.half_rc[1]))
        return max(0, r0), min(rows, max(r1, r0 + 1)), max(0, c0), min(cols, max(c1, c0 + 1))

    def values(self, image: np.ndarray) -> np.ndarray:
        if self.kind == "rect":
            r0, r1, c0, c1 = self.bounds(image.shape)
            return image[r0:r1, c0:c1].ravel()
        r = int(math.ceil(self.half_rc[0]))
        rc, cc = int(round(self.centre_rc[0])), int(round(self.centre_rc[1]))
        r0, r1 = max(0, rc - r), min(image.shape[0], rc + r + 1)
        c0, c1 = max(0, cc - r), min(image.shape[1], cc + r + 1)
        sub = image[r0:r1, c0:c1]
        rr, cc2 = np.ogrid[r0:r1, c0:c1]
        m = (rr - self.centre_rc[0]) ** 2 + (cc2 - self.centre_rc[1]) ** 2 <= self.half_rc[0] ** 2
        return sub[m]

    def inside(self, shape: tuple[int, int]) -> bool:
        rows, cols = shape
        return (self.centre_rc[0] - self.half_rc[0] >= 0 and self.centre_rc[0] + self.half_rc[0] <= rows
                and self.centre_rc[1] - self.half_rc[1] >= 0 and self.centre_rc[1] + self.half_rc[1] <= cols)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "role": self.role, "label": self.label, "row_px": round(self.centre_rc[0], 1),
                "col_px": round(self.centre_rc[1], 1), "half_rows_px": round(self.half_rc[0], 1),
                "half_cols_px": round(self.half_rc[1], 1), "value": None if self.value is None else round(self.value, 4)}


def rect_mm(centre_rc: tuple[float, float], height_mm: float, width_mm: float, spacing: tuple[float, float],
            role: str, label: str = "") -> Roi:
    """A rectangle given in mm around a centre in pixels (row, col); half sizes at least one pixel."""
    return Roi("rect", centre_rc, (max(0.5, height_mm / 2 / spacing[0]), max(0.5, width_mm / 2 / spacing[1])), role, label)


def disc_mm(centre_rc: tuple[float, float], radius_mm: float, spacing: tuple[float, float], role: str,
            label: str = "") -> Roi:
    r = radius_mm / math.sqrt(spacing[0] * spacing[1])
    return Roi("disc", centre_rc, (r, r), role, label)


# ---------------------------------------------------------------- phantom


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold (maximum between-class variance) of a 1-D sample, from its histogram."""
    hist, edges = np.histogram(values, bins=bins)
    centres = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mean0 = np.divide(m0, w0, out=np.zeros_like(m0), where=w0 > 0)
    mean1 = np.divide(m0[-1] - m0, w1, out=np.zeros_like(m0), where=w1 > 0)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(centres[int(np.argmax(between[:-1]))])


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill holes: every background region not touching the image border joins the mask."""
    labels, n = ndimage.label(~mask)
    if n == 0:
        return mask
    touches = np.zeros(n + 1, dtype=bool)
    touches[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = True
    touches[0] = False
    return ~touches[labels]


def inscribed_radius(mask: np.ndarray, centre_rc: tuple[float, float], n_rays: int = 90, start: float = 0.0,
                     r_max: float | None = None, inside_radius: float | None = None) -> float:
    """Distance from the centre to the nearest edge of the mask along `n_rays` rays (0.5 pixel steps),
    looking for the edge between `start` and `r_max` pixels only."""
    rows, cols = mask.shape
    r_max = float(np.hypot(rows, cols)) if r_max is None else r_max
    radii = np.arange(start, r_max, 0.5)
    angles = np.linspace(0.0, 2 * math.pi, n_rays, endpoint=False)
    rr = np.rint(centre_rc[0] + np.outer(np.sin(angles), radii)).astype(int)
    cc = np.rint(centre_rc[1] + np.outer(np.cos(angles), radii)).astype(int)
    inside_img = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
    hit = np.zeros_like(inside_img)
    hit[inside_img] = mask[rr[inside_img], cc[inside_img]]
    if inside_radius is not None:  # pixels this close to the centre count as inside (= mask | ~_ring(...), sampled only)
        r_in, c_in = rr[inside_img], cc[inside_img]
        hit[inside_img] |= (r_in - centre_rc[0]) ** 2 + (c_in - centre_rc[1]) ** 2 <= max(inside_radius, 0.0) ** 2
    outside = ~hit
    first = np.where(outside.any(axis=1), outside.argmax(axis=1), len(radii) - 1)
    return float(radii[first].min())


def _block_mean(img: np.ndarray, f: int) -> np.ndarray:
    rows, cols = (img.shape[0] // f) * f, (img.shape[1] // f) * f
    out = np.zeros((rows // f, cols // f), dtype=np.float32)
    for i in range(f):
        for j in range(f):
            out += img[i:rows:f, j:cols:f]
    return out / np.float32(f * f)


def find_phantom(image: np.ndarray, file: str = "?") -> Phantom:
    """The phantom (largest bright region) of an MR image.

    Found on the image averaged over f × f blocks (f = smaller side // 64: 4 for 256², 8 for 512²): fast,
    and the averaging bridges thin dark lines (grids, rods). Otsu's threshold separates signal
    from background; the phantom's level is the median of the pixels above it; the phantom is every block
    above 40 % of that level (tolerates coil shading down to 40 %), holes filled (structures inside), its
    largest connected region. Its outline, centroid, bounding box and inscribed radius (nearest edge from
    the centre over 90 rays) are then refined on the full-resolution pixels of the boundary blocks. Raises `QCInputError` when no region of at
    least 1 % of the image is found.
    """
    img = np.asarray(image, dtype=np.float32)
    if not np.isfinite(img).all():
        img = np.nan_to_num(img, nan=0.0, posinf=0.0, neginf=0.0)
    f = max(1, min(img.shape) // 64)
    small = _block_mean(img, f) if f > 1 else img
    sample = small.ravel()
    if sample.size == 0 or float(sample.max()) <= float(sample.min()):
        raise QCInputError("mrq.err.no_phantom", file=file)
    thr = otsu_threshold(sample)
    level = float(np.median(sample[sample > thr]))
    mask_s = _fill_holes(small > 0.4 * level)
    labels, n = ndimage.label(mask_s)
    if n == 0:
        raise QCInputError("mrq.err.no_phantom", file=file)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    biggest = int(np.argmax(sizes))
    if sizes[biggest] < 0.01 * small.size:
        raise QCInputError("mrq.err.no_phantom", file=file)
    mask_s = labels == biggest if n > 1 else mask_s
    mask = np.zeros(img.shape, dtype=bool)
    up = np.repeat(np.repeat(mask_s, f, axis=0), f, axis=1)
    mask[:up.shape[0], :up.shape[1]] = up
    area = float(np.count_nonzero(mask))
    centre = (float(np.dot(np.count_nonzero(mask, axis=1), np.arange(mask.shape[0])) / area),
              float(np.dot(np.count_nonzero(mask, axis=0), np.arange(mask.shape[1])) / area))
    reach_of = lambda b: float(np.hypot(max(centre[0] - b[0], b[1] - centre[0]),  # noqa: E731
                                        max(centre[1] - b[2], b[3] - centre[1]))) + 2
    if f == 1:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
        inscribed = inscribed_radius(mask, centre, r_max=reach_of((r0, r1, c0, c1)))
    else:
        # Refinement at full resolution, near the block outline only (interior structures are ignored).
        fine = img > 0.4 * level
        near = ndimage.binary_dilation(mask_s, iterations=1)
        near_up = np.zeros(img.shape, dtype=bool)
        near_up[:up.shape[0], :up.shape[1]] = np.repeat(np.repeat(near, f, axis=0), f, axis=1)
        edge_mask = fine & near_up
        rows, cols = np.flatnonzero(edge_mask.any(axis=1)), np.flatnonzero(edge_mask.any(axis=0))
        if rows.size == 0 or cols.size == 0:
            raise QCInputError("mrq.err.no_phantom", file=file)
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
        # Full-resolution outline: interior blocks as found, boundary blocks from the pixels' own threshold.
        interior = ndimage.binary_erosion(mask_s, iterations=1)
        inner_up = np.zeros(img.shape, dtype=bool)
        inner_up[:up.shape[0], :up.shape[1]] = np.repeat(np.repeat(interior, f, axis=0), f, axis=1)
        mask = inner_up | edge_mask
        area = float(np.count_nonzero(mask))
        centre = (float(np.dot(np.count_nonzero(mask, axis=1), np.arange(mask.shape[0])) / area),
                  float(np.dot(np.count_nonzero(mask, axis=0), np.arange(mask.shape[1])) / area))
        centre_s = (centre[0] / f - (f - 1) / (2 * f), centre[1] / f - (f - 1) / (2 * f))
        coarse = inscribed_radius(mask_s, centre_s, r_max=reach_of((r0, r1, c0, c1)) / f) * f
        start = max(0.0, coarse - 2 * f)
        inscribed = inscribed_radius(edge_mask, centre, start=start, inside_radius=start,
                                     r_max=coarse + 3 * f)
    if inscribed < 3:
        raise QCInputError("mrq.err.no_phantom", file=file)
    return Phantom(mask=mask, centre_rc=centre, inscribed_radius_px=inscribed,
                   equivalent_radius_px=math.sqrt(area / math.pi), bbox=(r0, r1, c0, c1), signal_level=level)


STRUCTURE_FRACTION = 0.02  # above 2 % structured pixels: not a uniform section (floods < 1 %, MagNET slice-width object 2.8 %, ACR inserts 16-79 %)


def structured_fraction(image: np.ndarray, phantom: Phantom) -> float:
    """Fraction of the pixels of the central disc (the NEMA region: 75 % of the phantom's area, at most its
    inscribed radius) that depart from their
    15-pixel neighbourhood mean by more than both 10 % of the phantom's level and 5 noise SDs (noise from
    the median absolute deviation of neighbouring-pixel differences). Grids, rods, wedges and holes give several %; coil shading and noise
    give ~0 (shading varies over far more than 15 pixels)."""
    r = min(math.sqrt(0.75) * phantom.equivalent_radius_px, phantom.inscribed_radius_px) - 1.0
    cr, cc = phantom.centre_rc
    r0, r1 = max(0, int(cr - r)), min(image.shape[0], int(cr + r) + 1)
    c0, c1 = max(0, int(cc - r)), min(image.shape[1], int(cc + r) + 1)
    step = 2 if r > 40 else 1  # every other pixel on large phantoms: 4 times faster, same verdict
    sub = np.asarray(image[r0:r1:step, c0:c1:step], dtype=np.float32)
    if sub.size < 100:
        return 0.0
    size = max(3, int(round(15 / step)) | 1)
    # Local mean over phantom pixels only (normalised convolution): the phantom's own edge is no structure.
    inside = phantom.mask[r0:r1:step, c0:c1:step].astype(np.float32)
    weight = ndimage.uniform_filter(inside, size, mode="constant")
    local = ndimage.uniform_filter(sub * inside, size, mode="constant") / np.maximum(weight, 1e-6)
    resid = sub - local
    rr, cc2 = np.ogrid[r0:r1:step, c0:c1:step]
    disc = (rr - cr) ** 2 + (cc2 - cc) ** 2 <= r * r
    vals = resid[disc]
    # Noise from neighbouring-pixel differences (MAD / √2): edges of structures are too few to move it.
    diffs = (sub[:, 1:] - sub[:, :-1])[disc[:, 1:] & disc[:, :-1]]
    sigma = 1.4826 * float(np.median(np.abs(diffs))) / math.sqrt(2.0) if diffs.size else 0.0
    limit = max(0.1 * phantom.signal_level, 5.0 * sigma)
    return float(np.mean(np.abs(vals) > limit))


def is_acr_sagittal_localiser(s: MRSlice, phantom: Phantom) -> bool:
    """A sagittal image (orientation header) whose phantom is the ACR cylinder seen from the side: 120–160 mm
    along S-I (148 mm; this 40 % mask loses the dim end of a shaded localiser) by 175–205 mm along A-P (190 mm).
    Its inserts are too sparse for the uniform-section check; mr-geometry measures its S-I length."""
    from qc.mr.geometry import sagittal_si_axis

    axis = sagittal_si_axis(getattr(s, "orientation", None))
    if axis is None:
        return False
    r0, r1, c0, c1 = phantom.bbox
    extent = ((r1 - r0 + 1) * s.pixel_spacing_mm[0], (c1 - c0 + 1) * s.pixel_spacing_mm[1])
    return 120.0 <= extent[axis] <= 160.0 and 175.0 <= extent[1 - axis] <= 205.0


def uniform_images(slices: list[MRSlice], lang: str, warnings: list[str]) -> list[tuple[MRSlice, np.ndarray, Phantom]]:
    """The images that show a uniform section of a phantom, with their signal and phantom; the others are
    listed in `warnings` (one sentence each). Raises `QCInputError` when none is uniform."""
    out = []
    reasons = []
    for s in slices:
        img = s.signal
        ph = find_phantom(img, s.label)
        if is_acr_sagittal_localiser(s, ph):
            reasons.append(t("mrq.warn.acr_sagittal", lang, file=s.label))
            warnings.append(reasons[-1])
            continue
        frac = structured_fraction(img, ph)
        if frac > STRUCTURE_FRACTION:
            warnings.append(t("mrq.warn.not_uniform", lang, file=s.label, pct=f"{100 * frac:.0f}"))
            continue
        out.append((s, img, ph))
    if not out:
        raise QCInputError("mrq.err.no_uniform" if len(slices) > 1 else "mrq.err.no_uniform_one", n=len(slices), detail=" ".join(reasons))
    return out


# ---------------------------------------------------------------- images of an upload


EAGER_BYTES = 64 * 1024**2  # above this upload size, headers first and pixels of the analysed images only


def images_for_test(inputs: list[tuple[str, bytes]], lang: str) -> tuple[list[MRSlice], list[str]]:
    """Every MR image of the upload in series order, and the warnings (what was set aside, what is beyond
    `MAX_IMAGES`). A large upload (a 400-slice volume) is read headers-first and only the analysed images
    are decoded, so memory stays bounded."""
    files = expand_inputs(inputs)
    lazy = sum(len(d) for _, d in files) > EAGER_BYTES
    series, set_aside = load_mr_series(files, lang=lang, lazy=lazy)
    slices = [s for ser in series for s in ser.slices]
    warnings = list(set_aside)
    if len(slices) > MAX_IMAGES:
        extra = slices[MAX_IMAGES:]
        warnings.append(t("mrq.warn.too_many", lang, n=len(slices), max=MAX_IMAGES,
                          files=", ".join(s.label for s in extra[:5]) + (" …" if len(extra) > 5 else "")))
        slices = slices[:MAX_IMAGES]
    if lazy:
        for s in slices:  # decoded once here, kept for the measures
            s.pixels = s.pixels
    return slices, warnings


def series_of(slices: Iterable[MRSlice]) -> list[MRSeries]:
    out: dict[str, MRSeries] = {}
    for s in slices:
        out.setdefault(s.series_uid, MRSeries(s.series_uid, s.series_number, s.series_description, [])).slices.append(s)
    return list(out.values())


def identity(slices: list[MRSlice], lang: str, user_date: Any = None) -> dict[str, Any]:
    """AnalysisResult keyword arguments: earliest acquisition date of the headers (else the date the user
    gave, `ctx.acquired_at`; with neither, `QCInputError`), machine identity, every file once."""
    files: dict[str, Any] = {}
    for s in slices:
        files.setdefault(s.file.sha256, s.file)
    first = slices[0]
    when = min((s.acquired_at for s in slices if s.acquired_at), default=None) or user_date
    if when is None:
        raise QCInputError("mrq.err.no_date", file=first.label)
    return {
        "acquired_at": when,
        "station_name": first.station_name,
        "device_serial": first.device_serial,
        "files": list(files.values()),
    }


def image_label(s: MRSlice, lang: str) -> str:
    """Short human label of an image: series number, description, slice position."""
    parts = []
    if s.series_number is not None:
        parts.append(t("mrq.label.series", lang, n=s.series_number))
    if s.series_description:
        parts.append(s.series_description)
    if s.slice_location_mm is not None:
        parts.append(f"{s.slice_location_mm:.1f} mm")
    if s.temporal_position is not None:
        parts.append(f"t{s.temporal_position}")
    return " · ".join(parts) or s.label


# ---------------------------------------------------------------- overlay


def overlay(image: np.ndarray, rois: list[Roi], phantom: Phantom | None = None, max_px: int = 512) -> np.ndarray:
    """RGB uint8 view of `image` (window 0.5–99.5 percentile, ≤ `max_px` a side) with each ROI outlined
    in its role's colour and the phantom outline in grey."""
    img = np.asarray(image, dtype=np.float32)
    f = max(1, int(math.ceil(max(img.shape) / max_px)))
    small = img[::f, ::f]
    if phantom is not None:  # window from the phantom's own level (no percentile sort needed)
        lo, hi = 0.0, 1.25 * phantom.signal_level
    else:
        lo, hi = np.percentile(small[::3, ::3], [0.5, 99.5])
    scale = np.float32(210.0 / (hi - lo if hi > lo else 1.0))
    g = np.clip((small - np.float32(lo)) * scale, 0, 210).astype(np.uint8)
    rgb = np.empty(g.shape + (3,), dtype=np.uint8)
    rgb[..., 0] = rgb[..., 1] = rgb[..., 2] = g
    H, W = g.shape
    if phantom is not None:
        m = phantom.mask[::f, ::f]
        inner = np.zeros_like(m)
        inner[1:-1, 1:-1] = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
        rgb[m & ~inner] = (150, 150, 150)
    for roi in rois:
        colour = COLOURS.get(roi.role, (255, 255, 255))
        cr, cc = roi.centre_rc[0] / f, roi.centre_rc[1] / f
        hr, hc = roi.half_rc[0] / f, roi.half_rc[1] / f
        if roi.kind == "rect":
            r0, r1 = int(round(cr - hr)), int(round(cr + hr))
            c0, c1 = int(round(cc - hc)), int(round(cc + hc))
            r0, r1, c0, c1 = max(0, r0), min(H - 1, r1), max(0, c0), min(W - 1, c1)
            if r1 < r0 or c1 < c0:
                continue
            for width in (0, 1):
                rgb[min(r0 + width, H - 1), c0:c1 + 1] = colour
                rgb[max(r1 - width, 0), c0:c1 + 1] = colour
                rgb[r0:r1 + 1, min(c0 + width, W - 1)] = colour
                rgb[r0:r1 + 1, max(c1 - width, 0)] = colour
        else:
            n = max(24, int(2 * math.pi * hr * 1.5))
            a = np.linspace(0, 2 * math.pi, n, endpoint=False)
            for dr in (0.0, 0.7):
                rr = np.clip(np.round(cr + (hr - dr) * np.sin(a)).astype(int), 0, H - 1)
                cc2 = np.clip(np.round(cc + (hr - dr) * np.cos(a)).astype(int), 0, W - 1)
                rgb[rr, cc2] = colour
    return rgb


def rounded(v: float | None, nd: int = 3) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)
