"""Winston-Lutz: ball bearing (BB) versus radiation field on MV images at several gantry angles.

Owns the "Winston-Lutz" analyser (test key "wl"): for each RT Image, the field centre and the BB
centre (sub-pixel, found from the image, any polarity, low BB contrast through the Unity cryostat),
the CAX→BB vector in mm at the isocentre; over the session, the gantry isocentre size, the BB shift
to the radiation isocentre in the room frame, the max and median CAX→BB distance, and, for linacs
whose collimator or couch turn, the collimator and couch isocentre sizes. Chart and wording helpers
for the page are at the end of the module.

Definitions (docs/methods.md "Winston-Lutz"):
- Field centre = mean of the mid-points of the field's two inflection edges (maximum of the first
  derivative, NCS-33 / pylinac INFLECTION_DERIVATIVE) over the central rows (u) and columns (v).
- BB centre = centre of the best radially symmetric fit (free radial profile + ramps) to the BB's
  attenuation inside a disc around it (an attenuation-weighted centroid places the disc), after
  dividing the image by the BB-free field estimated around the BB: a separable field (row × column
  profile, in log, rows mapped between their own field edges) fitted outside the disc, plus a
  quadratic surface for what is not separable (FFF cone, cryostat). No penumbra or BB shape model is
  assumed. In a session, images of one MLC field (same collimator angle, ≥ 3) share the separable
  field (fitted once on all of them) and the BB's radial profile (`_session_bbs`).
- CAX→BB vector ε = BB − field centre, in mm at the isocentre (pixel × ImagePlanePixelSpacing ×
  SAD/SID, `DicomImage.pixel_size_iso_mm`), image axes u (columns, right) and v (rows, down).
- Room frame = IEC 61217 fixed system: +X to the right when facing the gantry from the foot of the
  couch, +Y towards the gantry, +Z up. Gantry angle θ turns the image receptor about Y:
  X_r(θ) = (cos θ, 0, −sin θ), Y_r = (0, 1, 0). Image axes from RTImageOrientation (default
  [1, 0, 0, 0, −1, 0]: u along +X_r, v along −Y_r). Couch angle φ (IEC, counter-clockwise seen from
  above) turns the BB about Z.
- Beam axis of an image: the line through BB − ε_u·U + … (the field centre back-projected) along
  the beam direction; gantry isocentre size = diameter of the smallest sphere touching every beam
  axis of the gantry images (minimax distance, as pylinac `gantry_iso_size`).
- BB shift = the vector to move the BB by so that it sits on the radiation isocentre: −δ, δ being
  the least-squares BB offset from the beam axes (Low et al. 1995, as pylinac `bb_shift_vector`), in
  the room frame (mm). Positive X = move right (facing the gantry), +Y = towards the gantry, +Z = up.
- Collimator / couch isocentre size (2-D, only when those axes turned) = the largest distance
  between the CAX→BB vectors of the collimator (couch) images and the reference image (as pylinac).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from qc.errors import QCInputError
from qc.i18n import t
from qc.readers.dicom_io import RT_IMAGE, DicomImage, load_images, session_identity
from qc.mv.geometry import inflection_edges, level_crossing_near
from qc.tolerances import Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, Routing, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = "wl"
SPEC_NAME = {"fr": "Winston-Lutz", "en": "Winston-Lutz"}
ANGLE_TOL_DEG = 1.0  # an axis within 1° of 0 counts as "not turned"
EDGE_HALF_WINDOW_MM = 6.0  # each edge profile spans ±6 mm around the 50 % edge (Unity leaf penumbra 6–8 mm)
FIELD_EDGE = "inflection"  # field edges at the inflection point (as MVIC-Champ); "50%" = at half the field maximum above background
FIELD_CENTRE = "edges"  # "edges": mean edge mid-points (BB lines left out); "area": sub-pixel centroid of the 50 % area (pylinac-like)
BB_CENTRE = "radial"  # "radial": free radial profile + ramps fit (robust to residual ramps); "centroid": attenuation-weighted centroid
CENTRAL_FRACTION = 0.6  # field centre from the central 60 % of rows / columns
BB_MIN_DIAMETER_MM = 2.0
BB_MAX_DIAMETER_MM = 12.0
BB_WINDOW_MARGIN_MM = 1.8  # disc radius = BB radius + this (blur of source and imager)
FIT_LEVEL = 0.3  # the field model is fitted (and the BB weighed) where the signal exceeds 30 % of the field's plateau
PROFILE_SMOOTH_PX = 0.0  # smoothing of the fitted row/column terms (penumbrae are ≥ 5 px wide on the Unity)
FIT_RING_MM = 3.5  # width of the ring around the disc where the smooth correction is fitted
EDGE_BLEND_MM = 3.0  # the edge-relative coordinate passes from the left edge's shift to the right one's over ~this (tanh): shifts for the penumbra tails near the edges, a gentle transition under a domed (FFF) field centre
SHARE_FIELD = True  # second pass: the BB-free field as one separable model shared by the session's images
PASS2_ROUNDS = 1  # radial-fit rounds on the shared field before the round with the shared BB profile
OWN_STRUCTURE_MAX = 10.0  # `_own_structure` above which an image leaves the shared field (synthetic ≤ 4.3, demo oblique ≥ 20)
SHARED_RING_MM = FIT_RING_MM  # the shared field is fitted in the same window around each BB as the single-image one
SHARE_PROFILE = True  # last pass: every image's BB centre fitted with the session's median radial profile
DEFAULT_ORIENTATION = (1.0, 0.0, 0.0, 0.0, -1.0, 0.0)  # DICOM RTImageOrientation default
AXES = ("reference", "gantry", "collimator", "couch", "combo")
_ANGLE_PATTERNS = {
    "gantry": re.compile(r"(?:gantry|gant|^g|[_\-\s]g)[_\-\s=]?(-?\d+(?:[.,]\d+)?)", re.I),
    "collimator": re.compile(r"(?:collimator|coll|col|[_\-\s]c|^c)[_\-\s=]?(-?\d+(?:[.,]\d+)?)", re.I),
    "couch": re.compile(r"(?:couch|table|[_\-\s]p|^p|[_\-\s]t)[_\-\s=]?(-?\d+(?:[.,]\d+)?)", re.I),
}


# ---------------------------------------------------------------- per image


@dataclass
class FieldCentre:
    u_px: float
    v_px: float
    size_u_mm: float
    size_v_mm: float
    mask: np.ndarray = field(repr=False)
    roi: tuple[int, int, int, int] = (0, 0, 0, 0)  # r0, r1, c0, c1 of the analysis window
    level: float = 0.0  # half-way between the 5th and 99.9th percentiles: the mask's threshold


@dataclass
class BBCentre:
    u_px: float
    v_px: float
    diameter_mm: float
    contrast_pct: float
    window_px: float
    profile: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)  # radial fit's (radius px, attenuation)


@dataclass
class WLImage:
    """One analysed image: angles, field and BB centres (pixels) and the CAX→BB vector (mm at iso)."""

    file: str
    gantry_deg: float
    collimator_deg: float
    couch_deg: float
    angle_source: str
    field: FieldCentre
    bb: BBCentre
    pixel_mm: tuple[float, float]  # (row, column) at the isocentre
    orientation: tuple[float, ...]

    @property
    def cax2bb_u_mm(self) -> float:
        return (self.bb.u_px - self.field.u_px) * self.pixel_mm[1]

    @property
    def cax2bb_v_mm(self) -> float:
        return (self.bb.v_px - self.field.v_px) * self.pixel_mm[0]

    @property
    def cax2bb_mm(self) -> float:
        return math.hypot(self.cax2bb_u_mm, self.cax2bb_v_mm)

    @property
    def axis(self) -> str:
        return varying_axis(self.gantry_deg, self.collimator_deg, self.couch_deg)


def _near_zero(angle: float) -> bool:
    a = angle % 360.0
    return min(a, 360.0 - a) <= ANGLE_TOL_DEG


def varying_axis(gantry: float, collimator: float, couch: float) -> str:
    """Which axis an image tests (pylinac's `variable_axis`): all at 0 = reference; one turned = that one."""
    g0, c0, p0 = _near_zero(gantry), _near_zero(collimator), _near_zero(couch)
    if g0 and c0 and p0:
        return "reference"
    if c0 and p0:
        return "gantry"
    if g0 and p0:
        return "collimator"
    if g0 and c0:
        return "couch"
    return "combo"


def _wrong(lang: str, key: str, **params) -> QCInputError:
    return QCInputError(key, **params)


def find_field(image: DicomImage, lang: str = "fr", exclude: tuple[float, float, float] | None = None,
               base: FieldCentre | None = None) -> FieldCentre:
    """Field centre (sub-pixel) from the inflection edges of rows and columns across the field.

    `exclude` = (u, v, radius) in pixels: rows and columns crossing that disc (the BB, once found)
    are left out, because the BB's own flank near a field edge moves that line's inflection point.
    `base`: a previous result on the same image, whose field mask is reused.
    """
    s = image.signal
    name = image.file.filename
    row_mm, col_mm = image.pixel_size_iso_mm
    if base is not None:
        mask, level = base.mask, base.level
    else:
        mask, level = _field_mask(s, lang, name)
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    r0, r1, c0, c1 = rows[0], rows[-1], cols[0], cols[-1]
    h_mm, w_mm = (r1 - r0 + 1) * row_mm, (c1 - c0 + 1) * col_mm
    margin_r, margin_c = int(EDGE_HALF_WINDOW_MM / row_mm) + 2, int(EDGE_HALF_WINDOW_MM / col_mm) + 2
    if (min(h_mm, w_mm) < 4.0 or max(h_mm, w_mm) > 120.0 or r0 < margin_r // 2 or c0 < margin_c // 2
            or r1 > s.shape[0] - 1 - margin_r // 2 or c1 > s.shape[1] - 1 - margin_c // 2):
        raise _wrong(lang, "wl.err.no_field", file=name)
    skip_rows = skip_cols = None
    if exclude is not None:
        eu, ev, er = exclude
        skip_rows = (ev - er, ev + er)
        skip_cols = (eu - er, eu + er)
    half_level = level if FIELD_EDGE == "50%" else None
    u_mid, w_u = _centre_along(s, mask, axis=1, half_window=margin_c - 2, frac=CENTRAL_FRACTION, skip=skip_rows, level=half_level)
    v_mid, w_v = _centre_along(s, mask, axis=0, half_window=margin_r - 2, frac=CENTRAL_FRACTION, skip=skip_cols, level=half_level)
    if u_mid is None or v_mid is None:
        raise _wrong(lang, "wl.err.no_field", file=name)
    if FIELD_CENTRE == "area":
        u_mid, v_mid = _area_centroid(s, mask, level, (r0, r1, c0, c1))
    roi = (max(0, r0 - margin_r), min(s.shape[0], r1 + margin_r + 1), max(0, c0 - margin_c), min(s.shape[1], c1 + margin_c + 1))
    return FieldCentre(u_mid, v_mid, w_u * col_mm, w_v * row_mm, mask, roi, level)


def _field_mask(s: np.ndarray, lang: str, name: str) -> tuple[np.ndarray, float]:
    """The field: largest region above half-way between the 5th and 99.9th percentiles, holes filled."""
    lo, hi = np.percentile(s[::2, ::2], [5, 99.9])
    if not hi > lo:
        raise _wrong(lang, "wl.err.no_field", file=name)
    level = float(lo + 0.5 * (hi - lo))
    labels, n = ndimage.label(s > level)
    if n == 0:
        raise _wrong(lang, "wl.err.no_field", file=name)
    k = int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    sl = ndimage.find_objects(labels, max_label=k)[k - 1]
    r0, r1 = max(0, sl[0].start - 1), min(s.shape[0], sl[0].stop + 1)
    c0, c1 = max(0, sl[1].start - 1), min(s.shape[1], sl[1].stop + 1)
    mask = np.zeros(s.shape, bool)
    mask[r0:r1, c0:c1] = ndimage.binary_fill_holes(labels[r0:r1, c0:c1] == k)
    return mask, level


def _area_centroid(s: np.ndarray, mask: np.ndarray, level: float, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """Centroid of the area above `level` (holes such as the BB filled), with each boundary pixel
    counted for the fraction of it inside the contour (0.5 + signed distance to the level in pixels,
    from the local gradient): the sub-pixel version of pylinac's field centroid."""
    r0, r1, c0, c1 = box
    r0, c0 = max(0, r0 - 3), max(0, c0 - 3)
    sub = s[r0 : r1 + 4, c0 : c1 + 4]
    m = mask[r0 : r1 + 4, c0 : c1 + 4]
    gv, gu = np.gradient(sub)
    grad = np.hypot(gu, gv)
    frac = np.clip(0.5 + (sub - level) / np.maximum(grad, 1e-9), 0.0, 1.0)
    inner = ndimage.binary_erosion(m, iterations=2)
    outer = ndimage.binary_dilation(m, iterations=2)
    w = np.where(inner, 1.0, np.where(outer, frac, 0.0))
    vv, uu = np.mgrid[0 : sub.shape[0], 0 : sub.shape[1]]
    total = w.sum()
    return float((w * uu).sum() / total + c0), float((w * vv).sum() / total + r0)


def _centre_along(
    s: np.ndarray, mask: np.ndarray, axis: int, half_window: int, frac: float, skip: tuple[float, float] | None = None,
    level: float | None = None,
) -> tuple[float | None, float]:
    """Mean mid-point (and mean width) of the two inflection edges along `axis` (1 = along rows → u).

    Profiles: the central `frac` of the lines crossing the field; each edge window is centred on the
    line's own 50 % mask edge (so rotated fields, e.g. collimator 45°, are followed). Outlying
    mid-points (robust 3.5 MAD) are dropped.
    """
    m = mask if axis == 1 else mask.T
    img = s if axis == 1 else s.T
    lines = np.nonzero(m.any(axis=1))[0]
    n = len(lines)
    if n < 4:
        return None, float("nan")
    keep = lines[int(round(n * (1 - frac) / 2)) : n - int(round(n * (1 - frac) / 2))]
    if len(keep) < 3:
        keep = lines
    if skip is not None:
        # keep the central band symmetric: drop the BB's lines and their mirror about the band's middle
        mid = (keep[0] + keep[-1]) / 2.0
        lo, hi = skip
        away = ~(((keep >= lo) & (keep <= hi)) | ((2 * mid - keep >= lo) & (2 * mid - keep <= hi)))
        if away.sum() >= 6:
            keep = keep[away]
    first = np.array([np.argmax(m[i]) for i in keep])
    last = np.array([m.shape[1] - 1 - np.argmax(m[i][::-1]) for i in keep])
    offs = np.arange(-half_window, half_window + 1)
    width = img.shape[1]
    idx_l = np.clip(first[:, None] + offs[None, :], 0, width - 1)
    idx_r = np.clip(last[:, None] + offs[None, :], 0, width - 1)
    # the edges are found on the lines divided by the field's in-field trend: a multiplicative tilt g (per pixel)
    # moves both inflection points of a penumbra of width σ by ≈ 2·g·σ² the same way, i.e. the centre
    slope, ref = _in_field_log_slope(img, m, lines, skip, half_window)
    prof_l = ndimage.gaussian_filter1d(img[keep[:, None], idx_l] * np.exp(-slope * (idx_l - ref)), 1.0, axis=1)
    prof_r = ndimage.gaussian_filter1d(img[keep[:, None], idx_r] * np.exp(-slope * (idx_r - ref)), 1.0, axis=1)
    if level is None:
        pos_l, _ = inflection_edges(prof_l, +1)
        pos_r, _ = inflection_edges(prof_r, -1)
    else:
        pos_l = np.array([level_crossing_near(p, level, 0, +1) for p in prof_l])
        pos_r = np.array([level_crossing_near(p, level, len(p) - 1, -1) for p in prof_r])
    left = first + pos_l - half_window
    right = last + pos_r - half_window
    mid = (left + right) / 2
    ok = np.isfinite(mid)
    if ok.sum() < 3:
        return None, float("nan")
    med = np.median(mid[ok])
    mad = 1.4826 * np.median(np.abs(mid[ok] - med)) + 1e-6
    good = ok & (np.abs(mid - med) <= max(3.5 * mad, 0.3))
    return float(np.mean(mid[good])), float(np.mean((right - left)[good]))


def _in_field_log_slope(img: np.ndarray, m: np.ndarray, lines: np.ndarray, skip: tuple[float, float] | None,
                        half_window: int) -> tuple[float, float]:
    """The field's multiplicative trend along the lines: (slope of log signal per pixel, reference position).

    Fitted as log(profile) = c + g·t + q·t² (q takes the FFF cone, which is even about the axis) on the mean
    profile of every field line away from the BB's band (`skip`), between the two edge windows (the plateau).
    A tilt of the signal (cryostat attenuation, imager response, beam steering) does not move the collimator's
    aperture, but it moves the inflection points of both edges the same way: a 0.08 %/mm tilt under a Unity
    leaf-end penumbra moves the field centre by ≈ 0.01 mm. Too short a plateau (under 8 px) gives no correction.
    """
    use = lines
    if skip is not None:
        use = lines[~((lines >= skip[0] - 2) & (lines <= skip[1] + 2))]
    if len(use) < 3:
        return 0.0, 0.0
    first = np.array([np.argmax(m[i]) for i in use])
    last = np.array([m.shape[1] - 1 - np.argmax(m[i][::-1]) for i in use])
    a = int(np.median(first)) + half_window
    b = int(np.median(last)) - half_window
    if b - a < 8:
        return 0.0, 0.0
    prof = img[use, a:b].mean(axis=0)
    if not np.all(prof > 0):
        return 0.0, 0.0
    ref = (a + b - 1) / 2.0
    coef = np.polyfit(np.arange(a, b) - ref, np.log(prof), 2)
    return float(coef[1]), ref


def find_bb(image: DicomImage, fc: FieldCentre, bb_diameter_mm: float | None = None, lang: str = "fr",
            template: tuple[np.ndarray, np.ndarray] | None = None, field_model: np.ndarray | None = None,
            start: tuple[float, float, float] | None = None, coarse_only: bool = False, max_fine: int = 3) -> BBCentre:
    """BB centre: attenuation-weighted centroid inside a disc, on the image divided by the BB-free field.

    1. Rough position: the deepest dip of a difference of Gaussians (σ 0.5 mm − σ 3 mm, relative)
       inside the field shrunk by 2 mm (edges give the opposite sign inside the field).
    2. BB-free field around it: log(signal) = x(u) + y(v) fitted (alternating means) on the pixels
       outside the disc within the field, plus a quadratic surface fitted on a ring around the disc.
    3. Centroid of the attenuation −log(signal / field) in the disc, repeated with the disc re-centred
       and sized from the BB seen (unless the diameter is given): this only places the disc.
    4. Centre = the best fit of a free radial profile plus ramps to the attenuation in the disc
       (`_radial_fit_centre`), with the field re-fitted around it, up to `max_fine` rounds; it always
       runs, even when the centroid of step 3 keeps wandering (low contrast).

    Session use (`_session_bbs`): `coarse_only` stops after step 3; `start` = (u, v, diameter) of a
    first pass skips steps 1 and 3; `field_model` = the BB-free log field on the field window (shared
    by the session's images) replaces step 2's separable fit (the quadratic ring fit stays);
    `template` = the session's radial profile (radius px, attenuation) replaces the free one.
    """
    name = image.file.filename
    row_mm, col_mm = image.pixel_size_iso_mm
    px = math.sqrt(row_mm * col_mm)
    r0, r1, c0, c1 = fc.roi
    s, mask, plateau = _bb_roi(image, fc, px)
    inner = ndimage.binary_erosion(mask, iterations=max(1, int(round(2.0 / px))))
    if inner.sum() < 9:
        raise _wrong(lang, "wl.err.no_bb", file=name)
    if start is None:
        g1 = ndimage.gaussian_filter(s, 0.5 / px)
        g2 = ndimage.gaussian_filter(s, 3.0 / px)
        dog = np.where(inner, (g1 - g2) / np.maximum(g2, 1e-9 * plateau + 1e-12), np.inf)
        vb_i, ub_i = np.unravel_index(int(np.argmin(dog)), dog.shape)
        ub, vb = float(ub_i), float(vb_i)
        diameter = bb_diameter_mm if bb_diameter_mm else 6.0
    else:  # a second pass from a first one's result: fine rounds only, diameter kept
        ub, vb, diameter = start[0] - c0, start[1] - r0, start[2]
        bb_diameter_mm = diameter
    vv, uu = np.mgrid[0 : s.shape[0], 0 : s.shape[1]].astype(float)
    logs = np.log(np.clip(s, plateau * 1e-3, None))
    mapped = _row_edge_mapping(s, mask, px) if field_model is None else None
    fit_region = s > FIT_LEVEL * plateau
    contrast = 0.0
    fine_rounds = 0
    coarse_moved = float("inf")
    for it in range(10):
        radius_px = (diameter / 2 + BB_WINDOW_MARGIN_MM) / px
        rr = np.hypot(uu - ub, vv - vb)
        disc = rr <= radius_px
        local = (np.abs(uu - ub) <= radius_px + FIT_RING_MM / px) & (np.abs(vv - vb) <= radius_px + FIT_RING_MM / px)
        outside = fit_region & ~disc & local
        model = field_model if field_model is not None else _warped_separable_model(logs, outside, mapped)
        ring = outside & (rr <= radius_px + FIT_RING_MM / px)
        resid = logs - model
        if ring.sum() < 12:
            raise _wrong(lang, "wl.err.no_bb", file=name)
        corr = _quadratic_surface(uu[ring] - ub, vv[ring] - vb, resid[ring], uu - ub, vv - vb)
        atten = -(resid - corr)  # > 0 where the BB attenuates
        # only where the field model holds (pixels used for it, in rows and columns it was fitted on)
        valid = fit_region & (outside.sum(axis=1) > 0)[:, None] & (outside.sum(axis=0) > 0)[None, :]
        w = np.where(disc & valid, atten, 0.0)
        total = w.sum()
        if not np.isfinite(total) or total <= 0:
            raise _wrong(lang, "wl.err.no_bb", file=name)
        # the centroid only places the disc: the radial fit always concludes, even if the centroid still wanders
        fine = BB_CENTRE == "radial" and (start is not None or (it >= 3 and (fine_rounds > 0 or coarse_moved < 0.1 or it >= 6)))
        if fine and coarse_only:  # the disc is placed: the session's shared field takes over (analyse)
            break
        if not fine:  # coarse: attenuation-weighted centroid until it settles
            nu = float((w * uu).sum() / total)
            nv = float((w * vv).sum() / total)
        else:  # fine: radially symmetric profile + residual ramps (see _radial_fit_centre)
            prof_out: dict = {}
            # with the session's profile the start is already a radial fit's result: a smaller first simplex
            nu, nv = _radial_fit_centre(atten, disc & valid, uu, vv, ub, vb, radius_px, template, prof_out, step=0.1 if template is not None else 0.4)
            fine_rounds += 1
        peak = float(np.percentile(atten[disc], 99))
        contrast = 100.0 * (1.0 - math.exp(-peak)) if peak > 0 else 0.0
        if not bb_diameter_mm and it < 3:
            sm = ndimage.gaussian_filter(np.where(disc, atten, 0.0), 0.4 / px)
            area = float(np.sum(disc & (sm > 0.5 * sm[disc].max()))) * px * px
            # a sphere's chord is above half its maximum inside 0.866 of its radius
            diameter = float(np.clip(2 * math.sqrt(area / math.pi) / 0.866, BB_MIN_DIAMETER_MM, BB_MAX_DIAMETER_MM))
        moved = math.hypot(nu - ub, nv - vb)
        coarse_moved = moved if not fine else 0.0
        ub, vb = nu, nv
        if moved > 3 * radius_px or not (0 <= ub < s.shape[1] and 0 <= vb < s.shape[0]):
            raise _wrong(lang, "wl.err.no_bb", file=name)
        if fine and (moved < 0.02 or fine_rounds >= max_fine):
            break
        if BB_CENTRE != "radial" and it >= 3 and moved < 0.005:
            break
    if contrast < 0.3:
        raise _wrong(lang, "wl.err.no_bb", file=name)
    return BBCentre(ub + c0, vb + r0, diameter, contrast, radius_px, prof_out.get("profile") if fine_rounds else None)


def _bb_roi(image: DicomImage, fc: FieldCentre, px: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The field's window with the out-of-field level removed (additive scatter, imager glare, which
    break the product model), its field mask and its plateau (90th percentile in the field)."""
    r0, r1, c0, c1 = fc.roi
    s = image.signal[r0:r1, c0:c1]
    mask = fc.mask[r0:r1, c0:c1]
    outside_field = ~ndimage.binary_dilation(mask, iterations=max(1, int(round(4.0 / px))))
    background = float(np.median(s[outside_field])) if outside_field.sum() > 20 else 0.0
    s = s - background
    return s, mask, float(np.percentile(s[mask], 90))


def shared_field_models(images: list[DicomImage], fields: list[FieldCentre], bbs: list[BBCentre], px: float,
                        robust_passes: int = 2) -> list[np.ndarray]:
    """The BB-free log field of images of one MLC field, as one separable model shared by all:
    log s_i(u, v) = X(ξ) + Y(η) + c_i, with ξ the row's position relative to its own two edges (each edge's
    shift onto the session's median width, `_edge_relative_u`, so leaf pairs of unequal gaps line up) and η = v − the image's field
    centre (sub-pixel: the imager sags). X and Y are piecewise linear (knots every pixel), fitted by
    least squares with Tukey biweights on the pixels around each image's BB (first pass) outside its
    disc. Every row and column is thus informed by all images. Returns each image's log model on its
    field window (`FieldCentre.roi`)."""
    from scipy import sparse  # imported when a session is analysed, not with the module (the menus import it)

    per = []
    for im, fc in zip(images, fields):
        s, mask, plateau = _bb_roi(im, fc, px)
        per.append((s, plateau, _smoothed_row_edges(s, mask, px)))
    widths = [np.nanmedian(e[1] - e[0]) for *_, e in per if e is not None]
    w_ref = float(np.median(widths)) if widths else 0.0
    xs, ys, zs, ks, shapes = [], [], [], [], []
    for k, ((s, plateau, edges), fc, bb) in enumerate(zip(per, fields, bbs)):
        r0, r1, c0, c1 = fc.roi
        nr, nc = s.shape
        vv, uu = np.mgrid[0:nr, 0:nc].astype(float)
        if edges is not None and w_ref > 0:
            left, right = edges
            narrow = ~(right - left > 2)  # a row without two distinct edges: centred on the median width
            centre = (left + right) / 2
            left, right = np.where(narrow, centre - w_ref / 2, left), np.where(narrow, centre + w_ref / 2, right)
            xi = _edge_relative_u(uu, left, right, -w_ref / 2, w_ref / 2, px)  # the edges' shifts, not a stretch
        else:
            xi = uu + c0 - fc.u_px
        eta = vv + r0 - fc.v_px
        shapes.append((xi, eta))
        ub, vb = bb.u_px - c0, bb.v_px - r0
        radius = bb.window_px
        local = (np.abs(uu - ub) <= radius + SHARED_RING_MM / px) & (np.abs(vv - vb) <= radius + SHARED_RING_MM / px)
        use = (s > FIT_LEVEL * plateau) & local & (np.hypot(uu - ub, vv - vb) > radius)
        logs = np.log(np.clip(s, plateau * 1e-3, None))
        xs.append(xi[use])
        ys.append(eta[use])
        zs.append(logs[use])
        ks.append(np.full(int(use.sum()), k))
    x_all, y_all, z_all, k_all = map(np.concatenate, (xs, ys, zs, ks))
    x0, y0 = math.floor(x_all.min()), math.floor(y_all.min())
    nx, ny = int(math.ceil(x_all.max()) - x0 + 2), int(math.ceil(y_all.max()) - y0 + 2)
    n_img = len(images)

    def hats(vals, lo, n):
        t = vals - lo
        i = np.clip(np.floor(t).astype(int), 0, n - 2)
        f = np.clip(t - i, 0.0, 1.0)
        return i, f

    ix, fx = hats(x_all, x0, nx)
    iy, fy = hats(y_all, y0, ny)
    m = len(z_all)
    rows = np.repeat(np.arange(m), 5)
    colidx = np.column_stack([ix, ix + 1, nx + iy, nx + iy + 1, nx + ny + k_all]).ravel()
    vals = np.column_stack([1 - fx, fx, 1 - fy, fy, np.ones(m)]).ravel()
    a = sparse.csr_matrix((vals, (rows, colidx)), shape=(m, nx + ny + n_img))
    w = np.ones(m)
    n_par = nx + ny + n_img
    reg = 1e-6 * m / n_par
    sol = np.zeros(n_par)
    for rp in range(robust_passes + 1):
        aw = a.multiply(w[:, None]).tocsr()
        ata = (a.T @ aw).toarray() + reg * np.eye(n_par)
        sol = np.linalg.solve(ata, aw.T @ z_all)
        if rp == robust_passes:
            break
        w = _tukey_biweights(z_all - a @ sol)
    xk, yk, ck = sol[:nx], sol[nx : nx + ny], sol[nx + ny :]
    out = []
    for k, (xi, eta) in enumerate(shapes):
        gx = np.arange(nx) + x0
        gy = np.arange(ny) + y0
        out.append(np.interp(xi, gx, xk) + np.interp(eta, gy, yk) + ck[k])
    return out


def _radial_fit_centre(atten: np.ndarray, use: np.ndarray, uu: np.ndarray, vv: np.ndarray, u0: float, v0: float, radius_px: float,
                       template: tuple[np.ndarray, np.ndarray] | None = None, out: dict | None = None, step: float = 0.4) -> tuple[float, float]:
    """Centre of a radially symmetric dip: the (u, v) minimising the least-squares misfit of
    atten ≈ P(r) + a·du + b·dv + c·(du² − dv²) + d·du·dv on the pixels `use`.

    P is a free piecewise-linear radial profile (knots every ~1 pixel up to the disc radius): no BB
    shape is assumed, only its circular symmetry; the non-radial terms absorb what the field model
    left (a residual ramp of 0.3 % across the disc moves a plain centroid by ~0.1 mm). With
    `template` (radius px, attenuation), P = amplitude × template + offset instead; `out` receives the
    fitted free profile ("profile": knots, values).
    """
    from scipy import optimize  # ~0.3 s of CPU to import: when a fit runs, not with the module

    uu_s, vv_s = uu[use], vv[use]
    y = atten[use]
    n_knots = int(max(6, min(20, radius_px / 1.5))) + 1
    knots = np.linspace(0.0, radius_px * 1.05, n_knots)
    h = knots[1] - knots[0]

    def design(c):
        du, dv = uu_s - c[0], vv_s - c[1]
        r = np.hypot(du, dv)
        if template is not None:  # the session's shared radial profile, amplitude (and offset) free
            prof = np.interp(r, template[0], template[1], right=template[1][-1])
            return np.column_stack([prof, np.ones_like(r), du, dv, du * du - dv * dv, du * dv])
        hats = np.clip(1.0 - np.abs(r[:, None] - knots[None, :]) / h, 0.0, None)
        return np.column_stack([hats, du, dv, du * du - dv * dv, du * dv])

    def misfit(c):
        a = design(c)
        ata = a.T @ a
        coef = np.linalg.solve(ata + 1e-10 * np.trace(ata) / len(ata) * np.eye(len(ata)), a.T @ y)
        r = y - a @ coef
        return float(r @ r)

    # stop when the simplex is within 0.002 px and the misfit within 1e-8 of itself (≈ 0.0004 px on these fits)
    fatol = 1e-8 * misfit(np.array([u0, v0]))
    res = optimize.minimize(misfit, np.array([u0, v0]), method="Nelder-Mead",
                            options={"xatol": 2e-3, "fatol": fatol, "initial_simplex": [[u0, v0], [u0 + step, v0], [u0, v0 + step]]})
    if out is not None and template is None:
        coef, *_ = np.linalg.lstsq(design(res.x), y, rcond=None)  # once: the profile, for the session's template
        out["profile"] = (knots, coef[: len(knots)])
    return float(res.x[0]), float(res.x[1])


def _row_edges(s: np.ndarray, mask: np.ndarray, px: float) -> tuple[np.ndarray, np.ndarray]:
    """Each row's two field edges (inflection points along u, pixels of `s`), NaN where a row has
    not two edges: the raw material of `_row_edge_mapping`."""
    nr, nc = s.shape
    left_all = np.full(nr, np.nan)
    right_all = np.full(nr, np.nan)
    rows = np.nonzero(mask.sum(axis=1) >= 3)[0]
    if len(rows) < 3:
        return left_all, right_all
    half = int(EDGE_HALF_WINDOW_MM / px)
    first = np.array([np.argmax(mask[i]) for i in rows])
    last = np.array([nc - 1 - np.argmax(mask[i][::-1]) for i in rows])
    offs = np.arange(-half, half + 1)
    prof_l = ndimage.gaussian_filter1d(s[rows[:, None], np.clip(first[:, None] + offs, 0, nc - 1)], 1.0, axis=1)
    prof_r = ndimage.gaussian_filter1d(s[rows[:, None], np.clip(last[:, None] + offs, 0, nc - 1)], 1.0, axis=1)
    left = first + inflection_edges(prof_l, +1)[0] - half
    right = last + inflection_edges(prof_r, -1)[0] - half
    ok = np.isfinite(left) & np.isfinite(right) & (right - left > 2)
    left_all[rows[ok]] = left[ok]
    right_all[rows[ok]] = right[ok]
    return left_all, right_all


def _smoothed_row_edges(s: np.ndarray, mask: np.ndarray, px: float) -> tuple[np.ndarray, np.ndarray] | None:
    """`_row_edges` with gaps filled and median-filtered over 7 rows along v (a leaf pair's step is kept,
    noise is not); None when fewer than 3 rows have two edges."""
    left, right = _row_edges(s, mask, px)
    if (np.isfinite(left) & np.isfinite(right)).sum() < 3:
        return None
    return (ndimage.median_filter(_fill_nan(left), size=7, mode="nearest"),
            ndimage.median_filter(_fill_nan(right), size=7, mode="nearest"))


def _edge_relative_u(uu: np.ndarray, left: np.ndarray, right: np.ndarray, l_ref: float, r_ref: float, px: float) -> np.ndarray:
    """Each row's u moved so that its two field edges land on (l_ref, r_ref): by the left edge's shift on
    the left half of the field and by the right edge's shift on the right half, the two blended by a tanh
    over ~`EDGE_BLEND_MM` about the row's centre (wider when the shifts differ much, so it stays monotone).

    Why shifts and not a stretch: a leaf pair that opens 0.15 mm wider moves its penumbra (and the long tail
    of it, which reaches several mm into the field) by 0.15 mm; it does not stretch the profile. Stretching
    the row between its edges put the tail 0.075 mm off 5 mm inside a 20 mm field: a 0.08 % step across a
    leaf-pair boundary, which moved a BB straddling that boundary by up to 0.05 mm in v (noise-free).
    """
    dl = (l_ref - left)[:, None]
    dr = (r_ref - right)[:, None]
    tau = np.maximum(EDGE_BLEND_MM / px, np.abs(dr - dl))  # slope ≥ 1/2 everywhere: the map stays invertible
    w = 0.5 * (1.0 + np.tanh((uu - ((left + right) / 2)[:, None]) / tau))
    return uu + (1.0 - w) * dl + w * dr


def _row_edge_mapping(s: np.ndarray, mask: np.ndarray, px: float) -> np.ndarray:
    """Per pixel, the row's edge-relative coordinate (`_edge_relative_u`) that puts the row's two field
    edges (inflection points, median-filtered along v so a leaf pair's steps are kept and noise is not)
    on the median edges.

    MLC leaf pairs end at slightly different positions (and a rotated field's rows differ in width):
    in the mapped coordinate the field is separable again, which the BB's background model needs.
    Rows without two edges keep the identity.
    """
    nr, nc = s.shape
    uu = np.broadcast_to(np.arange(nc, dtype=float), (nr, nc)).copy()
    edges = _smoothed_row_edges(s, mask, px)
    if edges is None:
        return uu
    rows = np.nonzero(mask.sum(axis=1) >= 3)[0]
    left, right = edges[0][rows], edges[1][rows]
    l_ref, r_ref = float(np.median(left)), float(np.median(right))
    uu[rows] = _edge_relative_u(uu[rows], left, right, l_ref, r_ref, px)
    return uu


def _warped_separable_model(logs: np.ndarray, use: np.ndarray, mapped: np.ndarray) -> np.ndarray:
    """log field = x(ξ) + y(v), ξ = each row's edge-relative coordinate (`_row_edge_mapping`, increasing
    along the row): the separable fit done on rows resampled to ξ, evaluated back on the pixel grid."""
    nr, nc = logs.shape
    grid = np.arange(nc, dtype=float)
    logs_w = np.empty_like(logs)
    use_w = np.empty(logs.shape, dtype=float)
    uf = use.astype(float)
    for i in range(nr):
        src = np.interp(grid, mapped[i], grid)  # original u of each mapped column (the map is increasing)
        logs_w[i] = np.interp(src, grid, logs[i])
        use_w[i] = np.interp(src, grid, uf[i], left=0.0, right=0.0)
    y, x = _separable_log_field(logs_w, use_w > 0.999)
    # light smoothing: the row and column terms come from few pixels each, their noise would stripe the disc
    if PROFILE_SMOOTH_PX > 0:
        y, x = ndimage.gaussian_filter1d(y, PROFILE_SMOOTH_PX, mode="nearest"), ndimage.gaussian_filter1d(x, PROFILE_SMOOTH_PX, mode="nearest")
    return y[:, None] + np.interp(mapped, grid, x)


def _separable_log_field(logs: np.ndarray, use: np.ndarray, robust_passes: int = 2) -> np.ndarray:
    """x(u) + y(v) fitted to `logs` on the pixels `use` by weighted least squares (normal equations of
    the two-way additive model, solved directly), made robust by Tukey biweights on the residuals:
    what is not separable (e.g. leaf ends of unequal leaf pairs) is down-weighted instead of leaking
    into a whole row or column. Rows/columns without any used pixel get the nearest fitted value."""
    nr, nc = logs.shape
    base = use.astype(float)
    w = base.copy()
    lz = np.where(use, logs, 0.0)
    y = np.zeros(nr)
    x = np.zeros(nc)
    for rp in range(robust_passes + 1):
        dr, dc = w.sum(axis=1), w.sum(axis=0)
        a = np.zeros((nr + nc, nr + nc))
        a[np.arange(nr), np.arange(nr)] = dr
        a[nr + np.arange(nc), nr + np.arange(nc)] = dc
        a[:nr, nr:] = w
        a[nr:, :nr] = w.T
        b = np.concatenate([(w * lz).sum(axis=1), (w * lz).sum(axis=0)])
        a += 1e-9 * np.eye(nr + nc) * max(1.0, float(dr.max(initial=1.0)))  # fixes the additive gauge
        sol = np.linalg.solve(a, b)
        y = _fill_nan(np.where(dr > 0, sol[:nr], np.nan))
        x = _fill_nan(np.where(dc > 0, sol[nr:], np.nan))
        if rp == robust_passes:
            break
        resid = logs - y[:, None] - x[None, :]
        r_used = resid[base > 0]
        scale = 1.4826 * np.median(np.abs(r_used - np.median(r_used))) + 1e-9
        z = resid / (4.685 * scale)
        w = base * np.where(np.abs(z) < 1, (1 - z * z) ** 2, 0.0)
    return y, x


def _fill_nan(a: np.ndarray) -> np.ndarray:
    ok = np.isfinite(a)
    if ok.all() or not ok.any():
        return np.nan_to_num(a)
    idx = np.arange(len(a))
    return np.interp(idx, idx[ok], a[ok])


def _tukey_biweights(r: np.ndarray) -> np.ndarray:
    """Tukey biweights of residuals r: (1 − (r/c)²)² inside c = 4.685 robust σ (MAD), 0 beyond."""
    scale = 1.4826 * np.median(np.abs(r - np.median(r))) + 1e-9
    q = r / (4.685 * scale)
    return np.where(np.abs(q) < 1, (1 - q * q) ** 2, 0.0)


def _quadratic_surface(du: np.ndarray, dv: np.ndarray, z: np.ndarray, gu: np.ndarray, gv: np.ndarray, robust_passes: int = 3) -> np.ndarray:
    """Quadratic surface z(du, dv) fitted by least squares with Tukey biweights, evaluated on (gu, gv)."""
    a = np.column_stack([np.ones_like(du), du, dv, du * du, du * dv, dv * dv])
    w = np.ones_like(z)
    coef = np.zeros(6)
    for rp in range(robust_passes + 1):
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(a * sw[:, None], z * sw, rcond=None)
        if rp == robust_passes:
            break
        w = _tukey_biweights(z - a @ coef)
    return coef[0] + coef[1] * gu + coef[2] * gv + coef[3] * gu * gu + coef[4] * gu * gv + coef[5] * gv * gv


# ---------------------------------------------------------------- angles


def angle_from_filename(name: str, axis: str) -> float | None:
    """An axis angle written in the file name (pylinac's convention: "gantry90", "coll45", "couch270",
    also "G090_C000_P000"), or None."""
    base = re.split(r"[\\/]", name)[-1].rsplit(".", 1)[0]
    m = _ANGLE_PATTERNS[axis].search(base)
    if not m:
        return None
    try:
        return float(m.group(1).replace(",", ".")) % 360.0
    except ValueError:
        return None


def image_angles(im: DicomImage, options: dict[str, Any]) -> tuple[float, float, float, str] | None:
    """(gantry, collimator, couch, source) from the header, else the file name, else the options
    (`gantry_angles`: {file name: angle}); None when the gantry angle is known from none of them."""
    ds = im.dataset
    base = re.split(r"[\\/]", im.file.filename)[-1]
    given = options.get("gantry_angles") or {}
    gantry, source = None, ""
    if im.gantry_angle_deg is not None:
        gantry, source = im.gantry_angle_deg % 360.0, "header"
    elif angle_from_filename(im.file.filename, "gantry") is not None:
        gantry, source = angle_from_filename(im.file.filename, "gantry"), "file name"
    elif base in given or im.file.filename in given:
        gantry, source = float(given.get(base, given.get(im.file.filename))) % 360.0, "entered"
    if gantry is None:
        return None

    def other(tag: str, axis: str) -> float:
        if ds is not None and tag in ds:
            try:
                return float(ds.get(tag)) % 360.0
            except (TypeError, ValueError):
                pass
        a = angle_from_filename(im.file.filename, axis) if source != "header" else None
        return a if a is not None else 0.0

    return gantry, other("BeamLimitingDeviceAngle", "collimator"), other("PatientSupportAngle", "couch"), source


def image_orientation(im: DicomImage) -> tuple[float, ...]:
    """RTImageOrientation (row and column directions in the image receptor frame), default when absent."""
    ds = im.dataset
    try:
        vals = tuple(float(v) for v in ds.RTImageOrientation)  # type: ignore[union-attr]
        if len(vals) == 6:
            return vals
    except Exception:
        pass
    return DEFAULT_ORIENTATION


# ---------------------------------------------------------------- room geometry


def receptor_axes(gantry_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X_r, Y_r and the beam direction (source → imager) in the IEC 61217 fixed frame."""
    g = math.radians(gantry_deg)
    xr = np.array([math.cos(g), 0.0, -math.sin(g)])
    yr = np.array([0.0, 1.0, 0.0])
    beam = np.array([-math.sin(g), 0.0, -math.cos(g)])
    return xr, yr, beam


def image_axes_in_room(gantry_deg: float, orientation: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Room-frame directions of the image's +u (columns) and +v (rows) at this gantry angle."""
    xr, yr, _ = receptor_axes(gantry_deg)
    a, b, _, c, d, _ = orientation
    return a * xr + b * yr, c * xr + d * yr


def couch_rotation(couch_deg: float) -> np.ndarray:
    """IEC 61217 couch rotation about the vertical axis (positive = counter-clockwise seen from above)."""
    p = math.radians(couch_deg)
    return np.array([[math.cos(p), -math.sin(p), 0.0], [math.sin(p), math.cos(p), 0.0], [0.0, 0.0, 1.0]])


def beam_axis_line(img: WLImage) -> tuple[np.ndarray, np.ndarray]:
    """(point, unit direction) of the image's beam axis, in the room frame with the BB at the origin.

    The field centre sits at −ε from the BB in the image plane: point = −ε_u·U − ε_v·V.
    """
    uvec, vvec = image_axes_in_room(img.gantry_deg, img.orientation)
    _, _, beam = receptor_axes(img.gantry_deg)
    point = -img.cax2bb_u_mm * uvec - img.cax2bb_v_mm * vvec
    return point, beam


def minimax_sphere(points: list[np.ndarray], directions: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Centre and radius of the smallest sphere touching every line (point, unit direction).

    Minimises r² subject to dist²(c, line_k) ≤ r² (SLSQP on the epigraph form; smooth, so it
    converges to the exact minimax point, unlike a gradient method on the max itself).
    """
    from scipy import optimize  # ~0.3 s of CPU to import: when a fit runs, not with the module

    p = np.array(points, float)
    d = np.array(directions, float)
    d /= np.linalg.norm(d, axis=1)[:, None]
    projs = np.eye(3)[None] - d[:, :, None] * d[:, None, :]  # projector orthogonal to each line

    def dist2(c):
        diff = c[None, :] - p
        perp = np.einsum("kij,kj->ki", projs, diff)
        return np.sum(perp * perp, axis=1)

    c0 = least_squares_point(points, directions)
    r0 = float(np.max(dist2(c0)))
    x0 = np.concatenate([c0, [r0]])
    cons = {"type": "ineq", "fun": lambda x: x[3] - dist2(x[:3])}
    res = optimize.minimize(lambda x: x[3], x0, constraints=[cons], method="SLSQP", options={"ftol": 1e-14, "maxiter": 500})
    x = res.x if res.success or np.all(np.isfinite(res.x)) else x0
    centre = x[:3]
    return centre, float(math.sqrt(max(0.0, float(np.max(dist2(centre))))))


def least_squares_point(points: list[np.ndarray], directions: list[np.ndarray]) -> np.ndarray:
    """The point minimising the sum of squared distances to the lines (minimum-norm when undetermined)."""
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for p, d in zip(points, directions):
        d = np.asarray(d, float) / np.linalg.norm(d)
        proj = np.eye(3) - np.outer(d, d)
        a += proj
        b += proj @ np.asarray(p, float)
    return np.linalg.lstsq(a, b, rcond=None)[0]


def bb_shift_vector(images: list[WLImage]) -> np.ndarray:
    """Shift to apply to the BB to bring it to the radiation isocentre, room frame (X, Y, Z) mm.

    Each image gives two equations ε_u = (R(φ)·δ)·U, ε_v = (R(φ)·δ)·V for the BB offset δ from
    the isocentre (couch at 0); δ by least squares over every image (Low et al., Med Phys 1995),
    shift = −δ.
    """
    rows, rhs = [], []
    for img in images:
        uvec, vvec = image_axes_in_room(img.gantry_deg, img.orientation)
        rot = couch_rotation(img.couch_deg)
        rows += [uvec @ rot, vvec @ rot]
        rhs += [img.cax2bb_u_mm, img.cax2bb_v_mm]
    delta, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    return -delta


def planar_iso_size(images: list[WLImage]) -> float | None:
    """Largest distance between the CAX→BB vectors of these images (pylinac's 2-D collimator/couch size)."""
    if len(images) < 2:
        return None
    pts = np.array([[i.cax2bb_u_mm, i.cax2bb_v_mm] for i in images])
    diff = pts[:, None, :] - pts[None, :, :]
    return float(np.sqrt((diff**2).sum(-1)).max())


def shift_words(shift_mm: np.ndarray, lang: str = "fr") -> str:
    """The BB shift as an instruction a therapist can apply ("déplacer la bille de 0,4 mm vers la gauche, …")."""
    parts = []
    for value, axis in zip(shift_mm, ("x", "y", "z")):
        if abs(value) < 0.05:
            continue
        direction = t(f"wl.dir.{axis}.{'pos' if value > 0 else 'neg'}", lang)
        parts.append(t("wl.words.part", lang, mm=f"{abs(value):.1f}", direction=direction))  # t() puts the French comma
    if not parts:
        return t("wl.words.none", lang)
    return t("wl.words.move", lang, parts=", ".join(parts))


# ---------------------------------------------------------------- analyser


def _gantry_item(img: WLImage, counts: dict[str, int]) -> str:
    label = f"G{img.gantry_deg:05.1f}".replace(".0", "") if abs(img.gantry_deg - round(img.gantry_deg)) < 0.05 else f"G{img.gantry_deg:.1f}"
    if img.axis == "collimator":
        label += f" C{img.collimator_deg:.0f}"
    elif img.axis == "couch":
        label += f" T{img.couch_deg:.0f}"
    elif img.axis == "combo":
        label += f" C{img.collimator_deg:.0f} T{img.couch_deg:.0f}"
    counts[label] = counts.get(label, 0) + 1
    return label if counts[label] == 1 else f"{label}#{counts[label]}"


def _own_structure(image: DicomImage, fc: FieldCentre, bb: BBCentre, model: np.ndarray, px: float) -> float:
    """How much better the image's own separable field (`_warped_separable_model`) fits the ring around
    its BB than the session's shared one, both with the ring's quadratic correction: (RSS_shared −
    RSS_own) / (p·σ²), p = the rows + columns the own model adds, σ = the robust sd of its residual
    (residuals clipped at 4σ). A few at most when the image has nothing of its own beyond noise (the
    synthetic sessions, seeds 1–8: −0.2…4.3); 20–56 on the oblique images of the pylinac demo, where the BB sits on
    the edge of the phantom block; 2–5 on its other images."""
    s, mask, plateau = _bb_roi(image, fc, px)
    r0, _, c0, _ = fc.roi
    vv, uu = np.mgrid[0 : s.shape[0], 0 : s.shape[1]].astype(float)
    logs = np.log(np.clip(s, plateau * 1e-3, None))
    ub, vb, radius = bb.u_px - c0, bb.v_px - r0, bb.window_px
    rr = np.hypot(uu - ub, vv - vb)
    local = (np.abs(uu - ub) <= radius + FIT_RING_MM / px) & (np.abs(vv - vb) <= radius + FIT_RING_MM / px)
    outside = (s > FIT_LEVEL * plateau) & (rr > radius) & local
    ring = outside & (rr <= radius + FIT_RING_MM / px)
    if ring.sum() < 12:
        return 0.0
    mapped = _row_edge_mapping(s, mask, px)
    resid = []
    for m in (model, _warped_separable_model(logs, outside, mapped)):
        r = logs - m
        resid.append((r - _quadratic_surface(uu[ring] - ub, vv[ring] - vb, r[ring], uu - ub, vv - vb))[ring])
    sigma = 1.4826 * float(np.median(np.abs(resid[1] - np.median(resid[1])))) + 1e-12
    rss = [float(np.sum(np.clip(r, -4 * sigma, 4 * sigma) ** 2)) for r in resid]
    p = len(np.unique(vv[outside])) + len(np.unique(uu[outside]))
    return (rss[0] - rss[1]) / (p * sigma * sigma)


def _session_bbs(found: list[tuple[DicomImage, tuple, FieldCentre]], bb_diameter_mm: float | None, lang: str) -> list[BBCentre]:
    """BB centres of a session, using what its images have in common (docs/methods.md "Winston-Lutz").

    Images of one MLC field (same collimator angle, same imager geometry; at least 3) share it: the
    first pass only places each BB's disc (`find_bb`, coarse), the BB-free field is then fitted once
    for them all (`shared_field_models`) and each centre fitted on it (radial fit, one round); last,
    each centre is fitted again with the session's median radial profile of the BB (same BB in every
    image; amplitude free). Other images (a collimator angle seen once or twice, or an image whose own
    field fits around its BB much better than the shared one: `_own_structure`) are analysed alone.
    """
    groups: dict[tuple, list[int]] = {}
    for k, (im, angles, fc) in enumerate(found):
        groups.setdefault((round(angles[1]) % 360, im.signal.shape, im.pixel_size_iso_mm), []).append(k)
    shared = [ks for ks in groups.values() if len(ks) >= 3] if SHARE_FIELD else []
    grouped = {k for ks in shared for k in ks}
    bbs = [find_bb(im, fc, bb_diameter_mm, lang, coarse_only=k in grouped) for k, (im, _, fc) in enumerate(found)]
    models: dict[int, np.ndarray] = {}
    for ks in shared:
        pix = found[ks[0]][0].pixel_size_iso_mm
        px = math.sqrt(pix[0] * pix[1])
        members = list(ks)
        while len(members) >= 3:
            mods = shared_field_models([found[k][0] for k in members], [found[k][2] for k in members], [bbs[k] for k in members], px)
            # an image with a structure of its own around the BB (e.g. a phantom edge seen obliquely) is analysed alone
            own = [k for k, m in zip(members, mods) if _own_structure(found[k][0], found[k][2], bbs[k], m, px) > OWN_STRUCTURE_MAX]
            if not own:
                models.update(zip(members, mods))
                break
            members = [k for k in members if k not in own]
        for k in ks:
            im, _, fc = found[k]
            if k in models:
                bbs[k] = find_bb(im, fc, bb_diameter_mm, lang, field_model=models[k], start=(bbs[k].u_px, bbs[k].v_px, bbs[k].diameter_mm), max_fine=PASS2_ROUNDS)
            else:
                bbs[k] = find_bb(im, fc, bb_diameter_mm, lang, start=(bbs[k].u_px, bbs[k].v_px, bbs[k].diameter_mm))
    if not SHARE_PROFILE:
        return bbs
    for ks in groups.values():
        profs = [bbs[k].profile for k in ks if bbs[k].profile is not None]
        if len(profs) < 3:
            continue
        grid = np.linspace(0.0, min(p[0][-1] for p in profs), 41)
        template = (grid, np.median([np.interp(grid, p[0], p[1]) for p in profs], axis=0))
        for k in ks:
            im, _, fc = found[k]
            bbs[k] = find_bb(im, fc, bb_diameter_mm, lang, template=template, field_model=models.get(k),
                             start=(bbs[k].u_px, bbs[k].v_px, bbs[k].diameter_mm), max_fine=1 if k in models else 3)
    return bbs


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """Analyse a Winston-Lutz session (see the module docstring for the definitions)."""
    lang = ctx.lang
    images = load_images(inputs, RT_IMAGE, SPEC_NAME.get(lang, SPEC_NAME["fr"]), lang)
    if len(images) < 2:
        raise QCInputError("wl.err.too_few", n=len(images))
    opts = ctx.options or {}
    bb_d = opts.get("bb_diameter_mm")
    warnings: list[str] = []
    missing = []
    analysed: list[WLImage] = []
    found = []
    for im in images:
        warnings.extend(im.warnings)
        angles = image_angles(im, opts)
        if angles is None:
            missing.append(im.file.filename)
            continue
        found.append((im, angles, find_field(im, lang)))
    bbs = _session_bbs(found, float(bb_d) if bb_d else None, lang)
    for k, (im, angles, fc) in enumerate(found):
        bb = bbs[k]
        fc_clean = find_field(im, lang, exclude=(bb.u_px, bb.v_px, bb.window_px), base=fc)
        fc.u_px, fc.v_px, fc.size_u_mm, fc.size_v_mm = fc_clean.u_px, fc_clean.v_px, fc_clean.size_u_mm, fc_clean.size_v_mm
        g, c, p, src = angles
        analysed.append(WLImage(im.file.filename, g, c, p, src, fc, bb, im.pixel_size_iso_mm, image_orientation(im)))
    if missing:
        raise QCInputError("wl.err.no_angle", files=", ".join(re.split(r"[\\/]", f)[-1] for f in missing))

    measurements: list[Measurement] = []
    items: list[dict[str, Any]] = []
    overlays: list[tuple[str, np.ndarray]] = []
    counts: dict[str, int] = {}

    def add(metric: str, value, item: str = ""):
        spec = SPEC_METRICS[metric]
        measurements.append(Measurement(metric, None if value is None else float(value), spec.unit, item=item, description=spec.label(lang)))

    by_image = {im.file.filename: im for im in images}
    for img in analysed:
        item = _gantry_item(img, counts)
        add("cax2bb_mm", img.cax2bb_mm, item)
        if img.bb.contrast_pct < 2.0:
            warnings.append(t("wl.warn.low_contrast", lang, file=img.file, pct=f"{img.bb.contrast_pct:.1f}"))
        items.append(
            {
                "item": item,
                "file": img.file,
                "gantry_deg": round(img.gantry_deg, 2),
                "collimator_deg": round(img.collimator_deg, 2),
                "couch_deg": round(img.couch_deg, 2),
                "axis": img.axis,
                "angle_source": img.angle_source,
                "cax2bb_u_mm": round(img.cax2bb_u_mm, 3),
                "cax2bb_v_mm": round(img.cax2bb_v_mm, 3),
                "cax2bb_mm": round(img.cax2bb_mm, 3),
                "field_u_px": round(img.field.u_px, 3),
                "field_v_px": round(img.field.v_px, 3),
                "bb_u_px": round(img.bb.u_px, 3),
                "bb_v_px": round(img.bb.v_px, 3),
                "field_size_u_mm": round(img.field.size_u_mm, 2),
                "field_size_v_mm": round(img.field.size_v_mm, 2),
                "bb_diameter_mm": round(img.bb.diameter_mm, 2),
                "bb_contrast_pct": round(img.bb.contrast_pct, 2),
            }
        )
        overlays.append((t("wl.overlay.title", lang, item=item, d=f"{img.cax2bb_mm:.2f}"), overlay_image(by_image[img.file], img)))

    dists = [i.cax2bb_mm for i in analysed]
    add("cax2bb_max_mm", max(dists))
    add("cax2bb_median_mm", float(np.median(dists)))

    gantry_imgs = [i for i in analysed if i.axis in ("gantry", "reference")]
    distinct_g = {round(i.gantry_deg) % 360 for i in gantry_imgs}
    iso_centre = None
    if len(distinct_g) >= 2:
        lines = [beam_axis_line(i) for i in gantry_imgs]
        iso_centre, radius = minimax_sphere([p for p, _ in lines], [d for _, d in lines])
        add("gantry_iso_size_mm", 2 * radius)
    else:
        add("gantry_iso_size_mm", None)
        warnings.append(t("wl.warn.few_gantry", lang, n=len(distinct_g)))

    shift = bb_shift_vector(analysed)
    for axis, v in zip(("x", "y", "z"), shift):
        add(f"bb_shift_{axis}_mm", v)
    add("bb_shift_mm", float(np.linalg.norm(shift)))

    not_applicable = []
    for axis in ("collimator", "couch"):
        imgs = [i for i in analysed if i.axis in (axis, "reference")]
        if any(i.axis == axis for i in analysed):
            add(f"{axis}_iso_size_mm", planar_iso_size(imgs))
        else:
            not_applicable.append(axis)
    combos = [i.file for i in analysed if i.axis == "combo"]
    if combos:
        warnings.append(t("wl.warn.combo", lang, files=", ".join(re.split(r"[\\/]", f)[-1] for f in combos)))
    add("n_images", len(analysed))

    return AnalysisResult(
        test=KEY,
        measurements=measurements,
        items=items,
        warnings=warnings,
        **session_identity(images),
        overlays=overlays,
        extra={
            "shift_words": shift_words(shift, lang),
            "shift_mm": [round(float(v), 3) for v in shift],
            "iso_centre_from_bb_mm": None if iso_centre is None else [round(float(v), 3) for v in iso_centre],
        },
        params={
            "field_centre": "mean mid-point of the two inflection edges over the central 60 % of rows and columns",
            "bb_centre": "radially symmetric fit in a disc, image divided by the BB-free field (separable log field shared by the images of one MLC field + quadratic ring fit per image), BB radial profile shared by the session",
            "room_frame": "IEC 61217 fixed: +X right facing the gantry from the couch foot, +Y towards the gantry, +Z up",
            "shift_sign": "shift = vector to move the BB by to reach the radiation isocentre (-delta of Low et al.)",
            "gantry_iso_size": "diameter of the smallest sphere touching every back-projected beam axis (gantry and reference images)",
            "planar_iso_size": "largest distance between the CAX->BB vectors of the collimator (couch) and reference images",
            "not_applicable": not_applicable,
            "bb_diameter_mm": bb_d,
        },
    )


# ---------------------------------------------------------------- spec

REF_ISO = "TG-142 (SRS/SBRT) 1 mm; Unity : diamètre isocentre ≤ 1 mm (PMC8504604); alerte à 0,75 mm"
_TOL_1MM = Tolerance.at_most(0.75, 1.0, reference=REF_ISO)
_METRICS = (
    MetricSpec("cax2bb_mm", "mm", "Distance axe–bille", "CAX–BB distance", _TOL_1MM, better="lower"),
    MetricSpec("cax2bb_max_mm", "mm", "Distance axe–bille max.", "Max CAX–BB distance", _TOL_1MM, better="lower"),
    MetricSpec("cax2bb_median_mm", "mm", "Distance axe–bille médiane", "Median CAX–BB distance", None, better="lower"),
    MetricSpec("gantry_iso_size_mm", "mm", "Diamètre de l'isocentre (bras)", "Gantry isocentre diameter", _TOL_1MM, better="lower"),
    MetricSpec("collimator_iso_size_mm", "mm", "Diamètre de l'isocentre (collimateur)", "Collimator isocentre diameter", _TOL_1MM, better="lower"),
    MetricSpec("couch_iso_size_mm", "mm", "Diamètre de l'isocentre (table)", "Couch isocentre diameter", _TOL_1MM, better="lower"),
    MetricSpec("bb_shift_x_mm", "mm", "Déplacement de la bille X (droite +)", "BB shift X (right +)", None),
    MetricSpec("bb_shift_y_mm", "mm", "Déplacement de la bille Y (vers le bras +)", "BB shift Y (towards gantry +)", None),
    MetricSpec("bb_shift_z_mm", "mm", "Déplacement de la bille Z (haut +)", "BB shift Z (up +)", None),
    MetricSpec("bb_shift_mm", "mm", "Déplacement de la bille (norme)", "BB shift (length)", None, better="lower"),
    MetricSpec("n_images", "", "Nombre d'images", "Number of images", None, trend=False),
)
SPEC_METRICS = {m.name: m for m in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "2.0"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr=SPEC_NAME["fr"],
    name_en=SPEC_NAME["en"],
    frequency="monthly",
    kind="dicom",
    metrics=_METRICS,
    analyse=analyse,
    page="pages/wl.py",
    description_fr=(
        "Bille à l'isocentre, petit champ MLC, images MV à plusieurs angles de bras : distance axe–bille par image, "
        "diamètre de l'isocentre, déplacement de la bille vers l'isocentre de rayonnement (repère salle CEI 61217)."
    ),
    description_en=(
        "BB at the isocentre, small MLC field, MV images at several gantry angles: CAX–BB distance per image, "
        "isocentre diameter, BB shift to the radiation isocentre (IEC 61217 room frame)."
    ),
    accepts=".dcm,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:wl_demo"
# first: a Winston-Lutz plan may also name the MLC field it uses
ROUTING = Routing(pattern=r"\b(WL|WINSTON|LUTZ|BILLE)\b", modality="RTIMAGE", order=10)
# The demo database: monthly, the first Tuesday evening of the last full month and of the current one, the ball a
# little further off in the month whose report is signed; no image kept on disk (17 MB a session).
DEMO = DemoSessions(
    make="qc.demo_inputs:wl_session", gen="wl", span="monthly", weekday=1, time="18:30",
    months=(({"bb_offset_mm": [-0.5, -0.38, 0.24]}, ""), ({"bb_offset_mm": [-0.4, -0.3, 0.2]}, "")), keep_latest=0,
)


# ---------------------------------------------------------------- page helpers


def overlay_image(image: DicomImage, img: WLImage, size_px: int = 240) -> np.ndarray:
    """RGB crop around the field: field centre (green cross), BB centre (red ring), BB disc (orange)."""
    r0, r1, c0, c1 = img.field.roi
    crop = image.signal[r0:r1, c0:c1]
    lo, hi = np.percentile(crop, [1, 99.5])
    g = np.clip((crop - lo) / max(hi - lo, 1e-9), 0, 1)
    scale = max(1, int(size_px // max(crop.shape)))
    g = np.kron(g, np.ones((scale, scale)))
    rgb = np.stack([g, g, g], -1)
    h, w = g.shape

    def put(u, v, colour):
        u, v = np.broadcast_arrays(np.atleast_1d(u), np.atleast_1d(v))
        ui, vi = np.rint(u).astype(int), np.rint(v).astype(int)
        ok = (vi >= 0) & (vi < h) & (ui >= 0) & (ui < w)
        rgb[vi[ok], ui[ok]] = colour

    fu, fv = (img.field.u_px - c0 + 0.5) * scale - 0.5, (img.field.v_px - r0 + 0.5) * scale - 0.5
    bu, bv = (img.bb.u_px - c0 + 0.5) * scale - 0.5, (img.bb.v_px - r0 + 0.5) * scale - 0.5
    arm = 6 * scale
    k = np.arange(-arm, arm + 1, dtype=float)
    for dk in (-1, 0, 1):
        put(fu + k, fv + dk, (0.1, 0.9, 0.2))
        put(fu + dk, fv + k, (0.1, 0.9, 0.2))
    for radius, colour in ((img.bb.diameter_mm / 2 / img.pixel_mm[1] * scale, (1.0, 0.1, 0.1)), (img.bb.window_px * scale, (1.0, 0.6, 0.0))):
        a = np.linspace(0, 2 * math.pi, int(8 * radius) + 16)
        put(bu + radius * np.cos(a), bv + radius * np.sin(a), colour)
    k = np.arange(-2, 3, dtype=float)
    put(bu + k, bv, (1.0, 0.1, 0.1))
    put(bu, bv + k, (1.0, 0.1, 0.1))
    return (rgb * 255).astype(np.uint8)


def charts(result: AnalysisResult, lang: str = "fr") -> list[tuple[str, Any]]:
    """Polar plot of the CAX→BB vectors against gantry angle (radius = distance, angle = gantry
    angle, 0° at the top, clockwise), with the 0.5 and 1 mm circles; then the u/v components."""
    import altair as alt
    import pandas as pd

    rows = [it for it in result.items if it.get("cax2bb_mm") is not None]
    if not rows:
        return []
    df = pd.DataFrame(rows)
    theta = np.radians(df["gantry_deg"].astype(float))
    df["px"] = df["cax2bb_mm"] * np.sin(theta)
    df["py"] = df["cax2bb_mm"] * np.cos(theta)
    rmax = max(1.2, float(df["cax2bb_mm"].max()) * 1.15)
    circles = []
    for r, name in ((0.5, "0,5 mm" if lang == "fr" else "0.5 mm"), (1.0, "1 mm")):
        a = np.linspace(0, 2 * np.pi, 121)
        circles.append(pd.DataFrame({"x": r * np.sin(a), "y": r * np.cos(a), "circle": name, "order": np.arange(121)}))
    spokes = []
    for ang in range(0, 360, 45):
        a = math.radians(ang)
        spokes.append({"x": 0, "y": 0, "spoke": ang, "order": 0})
        spokes.append({"x": rmax * math.sin(a), "y": rmax * math.cos(a), "spoke": ang, "order": 1})
    labels = pd.DataFrame([{"x": 1.07 * rmax * math.sin(math.radians(a)), "y": 1.07 * rmax * math.cos(math.radians(a)), "text": f"{a}°"} for a in range(0, 360, 45)])
    scale = alt.Scale(domain=[-1.15 * rmax, 1.15 * rmax])
    x = alt.X("x:Q", scale=scale, axis=None)
    y = alt.Y("y:Q", scale=scale, axis=None)
    circ = alt.Chart(pd.concat(circles)).mark_line(color="#66bb6a", strokeDash=[4, 3]).encode(x=x, y=y, detail="circle:N", order="order:Q")
    spk = alt.Chart(pd.DataFrame(spokes)).mark_line(color="#b0bec5", strokeWidth=0.7).encode(x=x, y=y, detail="spoke:N", order="order:Q")
    lab = alt.Chart(labels).mark_text(color="#455a64").encode(x=x, y=y, text="text:N")
    pts = alt.Chart(df).mark_point(filled=True, size=90, color="#c62828").encode(
        x=alt.X("px:Q", scale=scale, axis=None),
        y=alt.Y("py:Q", scale=scale, axis=None),
        tooltip=[
            alt.Tooltip("item:N", title=t("wl.chart.image", lang)),
            alt.Tooltip("gantry_deg:Q", title=t("wl.chart.gantry", lang)),
            alt.Tooltip("cax2bb_mm:Q", title=t("wl.chart.distance", lang), format=".2f"),
            alt.Tooltip("cax2bb_u_mm:Q", title="u (mm)", format=".2f"),
            alt.Tooltip("cax2bb_v_mm:Q", title="v (mm)", format=".2f"),
        ],
    )
    title = t("wl.chart.polar", lang)
    # a title wider than the plot squeezed it into an ellipse (Vega-Lite's "fit" sizing): two lines, and "pad" sizing
    head, _, tail = title.partition(" (")
    lines = [head, "(" + tail] if tail else [title]
    polar = alt.layer(circ, spk, lab, pts).properties(title=alt.TitleParams(lines), width=360, height=360,
                                                      autosize=alt.AutoSizeParams(type="pad"))
    long = df.melt(id_vars=["item", "gantry_deg"], value_vars=["cax2bb_u_mm", "cax2bb_v_mm"], var_name="component", value_name="mm")
    long["component"] = long["component"].map({"cax2bb_u_mm": t("wl.chart.u", lang), "cax2bb_v_mm": t("wl.chart.v", lang)})
    title2 = t("wl.chart.components", lang)
    comp = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("gantry_deg:Q", title=t("wl.chart.gantry", lang), scale=alt.Scale(domain=[0, 360])),
            y=alt.Y("mm:Q", title="mm"),
            color=alt.Color("component:N", title=t("wl.chart.component", lang)),
            tooltip=["item", "gantry_deg", alt.Tooltip("mm:Q", format=".2f")],
        )
        .properties(title=title2)
    )
    return [(title, polar), (title2, comp)]
