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
from qc.intake.mr_series import MRSeries, MRSlice, load_mr_series

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
        return int(self.mask.sum())


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


def find_phantom(image: np.ndarray, file: str = "?") -> Phantom:
    """The phantom (largest bright region) of an MR image.

    Threshold: Otsu's threshold separates signal from background; the phantom's level is the median of the
    pixels above it; the phantom is then every pixel above 40 % of that level (tolerates coil shading down
    to 40 % of the typical signal), its largest connected region, holes filled. Raises `QCInputError`
    when no region of at least 1 % of the image is found.
    """
    from skimage.filters import threshold_otsu

    img = np.asarray(image, dtype=np.float32)
    step = max(1, min(img.shape) // 256)
    sample = img[::step, ::step]
    finite = sample[np.isfinite(sample)]
    if finite.size == 0 or float(finite.max()) <= float(finite.min()):
        raise QCInputError("mrq.err.no_phantom", file=file)
    thr = float(threshold_otsu(finite))
    level = float(np.median(finite[finite > thr]))
    # Holes are filled before labelling: thin dark structures (grid lines, rods) inside the phantom
    # would otherwise cut it into pieces.
    mask = ndimage.binary_fill_holes(img > 0.4 * level)
    labels, n = ndimage.label(mask)
    if n == 0:
        raise QCInputError("mrq.err.no_phantom", file=file)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    biggest = int(np.argmax(sizes))
    if sizes[biggest] < 0.01 * img.size:
        raise QCInputError("mrq.err.no_phantom", file=file)
    mask = labels == biggest
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    rr, cc = np.nonzero(mask)
    centre = (float(rr.mean()), float(cc.mean()))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    # Inscribed radius at the centre: distance transform of the mask within its bounding box (+1 px margin).
    sub = np.pad(mask[r0:r1 + 1, c0:c1 + 1], 1)
    edt = ndimage.distance_transform_edt(sub)
    ci = min(max(int(round(centre[0])) - r0 + 1, 0), sub.shape[0] - 1)
    cj = min(max(int(round(centre[1])) - c0 + 1, 0), sub.shape[1] - 1)
    inscribed = float(edt[ci, cj])
    if inscribed < 3:
        raise QCInputError("mrq.err.no_phantom", file=file)
    return Phantom(mask=mask, centre_rc=centre, inscribed_radius_px=inscribed,
                   equivalent_radius_px=math.sqrt(float(mask.sum()) / math.pi), bbox=(r0, r1, c0, c1),
                   signal_level=level)


# ---------------------------------------------------------------- images of an upload


def images_for_test(inputs: list[tuple[str, bytes]], lang: str) -> tuple[list[MRSlice], list[str]]:
    """Every MR image of the upload in series order, and the warnings (what was set aside, what is beyond
    `MAX_IMAGES`)."""
    series, set_aside = load_mr_series(inputs, lang=lang)
    slices = [s for ser in series for s in ser.slices]
    warnings = list(set_aside)
    if len(slices) > MAX_IMAGES:
        extra = slices[MAX_IMAGES:]
        warnings.append(t("mrq.warn.too_many", lang, n=len(slices), max=MAX_IMAGES,
                          files=", ".join(s.label for s in extra[:5]) + (" …" if len(extra) > 5 else "")))
        slices = slices[:MAX_IMAGES]
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
    lo, hi = np.percentile(small, [0.5, 99.5])
    g = np.clip((small - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    rgb = np.repeat((g * 210).astype(np.uint8)[:, :, None], 3, axis=2)
    H, W = g.shape
    if phantom is not None:
        m = phantom.mask[::f, ::f]
        edge = m & ~ndimage.binary_erosion(m)
        rgb[edge] = (150, 150, 150)
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
