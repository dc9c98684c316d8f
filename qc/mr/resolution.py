"""Spatial resolution of MR images from a slanted edge: ESF → LSF → MTF (test key "mr-resolution").

Owns, for each image of an upload showing a signal-free block with straight edges turned a few degrees
(MagNET resolution object, IPEM Report 112; the ACR or PIQT square blocks behave the same):
- the block = the largest compact dark region inside the phantom; its orientation = the angle of the
  minimum-area bounding rectangle of its boundary (rotating calipers, 0.25° steps);
- for each side turned 1°–30° from the image axes, over the central 80 % of its length: the 50 %
  crossing of the fluid/block levels on every pixel line across the edge, a straight line fitted to
  them (sub-pixel edge), the signed perpendicular distance of every pixel of the ROI (true mm) to that
  line → oversampled edge spread function (ESF) binned at 1/10 pixel (ISO 12233 slanted-edge method),
  the two edges of a direction pooled;
- LSF = derivative of the ESF (central difference), Tukey-windowed over ±12 pixels; MTF = |FFT|,
  normalised at zero, corrected for the binning and the difference operator (sinc); MTF50 = first
  crossing of 0.5 (linear);
- per direction (edges whose normal is along the rows "x" or along the columns "y"), the MTF of its
  edges averaged; `mtf50_lp_per_mm` = worst direction; `effective_resolution_mm` = 1 / (2·MTF50), the
  width of a bar pattern resolved at 50 % modulation (hazen's MagNET convention, 10/(2·f50) with f50
  in lp/cm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from qc.errors import QCInputError
from qc.i18n import t
from qc.mr.phantom_geometry import MRImage, Overlay, Phantom, fill_holes, find_phantom, identity_of, load_images_of
from qc.tolerances import Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = "mr-resolution"
BIN_FRACTION = 0.1  # ESF bin = 1/10 pixel
HALF_WIDTH_PX = 12.0  # ESF taken ±12 px across the edge
SIDE_FRACTION = 0.8


@dataclass
class EdgeMTF:
    """One analysed edge: its direction, fitted line, ESF, MTF."""

    side: int
    direction: str  # "x" (normal along the rows) or "y"
    angle_deg: float  # edge tilt against the nearest image axis
    line_pts_rc: tuple[tuple[float, float], tuple[float, float]]
    roi_rc: list[tuple[float, float]] = field(repr=False)
    esf_x_mm: np.ndarray = field(repr=False, default=None)
    esf: np.ndarray = field(repr=False, default=None)
    freq_lp_mm: np.ndarray = field(repr=False, default=None)
    mtf: np.ndarray = field(repr=False, default=None)
    mtf50_lp_per_mm: float | None = None
    samples: tuple = field(repr=False, default=())


@dataclass
class ResolutionResult:
    label: str
    edges: list[EdgeMTF]
    mtf50_by_direction: dict[str, float | None]
    pixel_mm: dict[str, float]
    phase_direction: str | None
    warnings: list[str] = field(default_factory=list)

    @property
    def mtf50_lp_per_mm(self) -> float | None:
        vals = list(self.mtf50_by_direction.values())
        if not vals or any(v is None for v in vals):
            return None
        return min(vals)

    @property
    def effective_resolution_mm(self) -> float | None:
        m = self.mtf50_lp_per_mm
        return None if not m else 1.0 / (2.0 * m)


# ---------------------------------------------------------------- the block


def find_block(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float], lang: str, name: str) -> tuple[np.ndarray, float, np.ndarray]:
    """The signal-free block: (boundary points (row, col) px, orientation angle in degrees of its first side's
    normal in mm space, centre (row, col)). Largest compact dark region inside the phantom, 100 mm² to
    half of the phantom. Orientation = the angle (0.25° steps) of the minimum-area rectangle enclosing the
    boundary (its convex hull's vertices carry the same extremes)."""
    from scipy.spatial import ConvexHull, QhullError  # when a block is measured, not with the module

    # work in the phantom's bounding box, 5 px wider than the erosion and the smoothing reach (same pixels)
    H, W = ph.mask.shape
    rows = np.flatnonzero(ph.mask.any(axis=1))
    cols = np.flatnonzero(ph.mask.any(axis=0))
    r0, r1 = max(0, int(rows[0]) - 5), min(H, int(rows[-1]) + 6)
    c0, c1 = max(0, int(cols[0]) - 5), min(W, int(cols[-1]) + 6)
    mask = ph.mask[r0:r1, c0:c1]
    inner = ndimage.binary_erosion(mask, iterations=max(1, int(0.05 * ph.radius_px)))
    dark = inner & (ndimage.gaussian_filter(img[r0:r1, c0:c1], 0.7) < ph.level)
    labels, n = ndimage.label(dark)
    px_area = spacing_rc[0] * spacing_rc[1]
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:] * px_area
    ok = (areas >= 100.0) & (areas <= 0.5 * ph.mask.sum() * px_area)
    if not ok.any():
        raise QCInputError("err.wrong_image", file=name, reason=t("mrre.reason.no_block", lang))
    i = int(np.argmax(np.where(ok, areas, -1.0))) + 1  # the largest (first on a tie, as before)
    area = float(areas[i - 1])
    sl = ndimage.find_objects(labels, max_label=i)[i - 1]
    m = fill_holes(labels[sl] == i)
    boundary = m & ~ndimage.binary_erosion(m)
    rr, cc = np.nonzero(boundary)
    pts = np.column_stack([rr + sl[0].start + r0, cc + sl[1].start + c0]).astype(float)
    mm = pts * np.asarray(spacing_rc)
    try:
        hull = mm[ConvexHull(mm).vertices]
    except QhullError:
        hull = mm
    th = np.radians(np.arange(0.0, 90.0, 0.25))[:, None]
    cos, sin = np.cos(th), np.sin(th)
    u = hull[:, 1] * cos + hull[:, 0] * sin
    v = -hull[:, 1] * sin + hull[:, 0] * cos
    rect = np.ptp(u, axis=1) * np.ptp(v, axis=1)
    k = int(np.argmin(rect))
    best_a, best_area = 0.25 * k, float(rect[k])
    # compactness: the block fills its minimum rectangle
    if area / best_area < 0.8:
        raise QCInputError("err.wrong_image", file=name, reason=t("mrre.reason.no_block", lang))
    centre = pts.mean(axis=0)
    return pts, best_a, centre


# ---------------------------------------------------------------- ESF → MTF


def _tukey(x: np.ndarray, half: float, flat: float = 0.6) -> np.ndarray:
    """Tukey window on [−half, half]: 1 over the central `flat` fraction, cosine taper outside (a Hann
    window over the whole LSF would smooth the MTF and raise MTF50 by ~1.6 % at ±8 px)."""
    a = np.abs(x) / half
    w = np.ones_like(x)
    taper = a > flat
    w[taper] = 0.5 * (1 + np.cos(np.pi * (a[taper] - flat) / (1 - flat)))
    w[a >= 1] = 0.0
    return w


def mtf_from_samples(dist_mm: np.ndarray, vals: np.ndarray, px_mm: float):
    """(bin centres, ESF, frequencies lp/mm, MTF, MTF50) from edge samples (distance to the edge in mm,
    normalised value 0 = block, 1 = fluid). ESF binned at `BIN_FRACTION` px, LSF by central difference,
    Tukey-windowed over ±`HALF_WIDTH_PX`, |FFT| normalised at 0, divided by the sinc of the binning and of
    the difference operator. None when bins are missing (edge too little tilted to be oversampled)."""
    step = BIN_FRACTION * px_mm
    half = HALF_WIDTH_PX * px_mm
    edges = np.arange(-half, half + step / 2, step)
    nb = len(edges) - 1
    idx = np.digitize(dist_mm, edges) - 1
    ok = (idx >= 0) & (idx < nb)
    sums = np.bincount(idx[ok], weights=vals[ok], minlength=nb)
    cnts = np.bincount(idx[ok], minlength=nb)
    xc = 0.5 * (edges[:-1] + edges[1:])
    good = cnts > 0
    if good.sum() < 0.3 * nb:  # a tilt with tan ≈ 1/4 fills one bin in 2 or 3: interpolated
        return None
    esf = np.interp(xc, xc[good], sums[good] / cnts[good])
    lsf = np.gradient(esf, step) * _tukey(xc, half)
    nfft = 4 * int(2 ** math.ceil(math.log2(len(lsf))))
    spec = np.abs(np.fft.rfft(lsf, nfft))
    f = np.fft.rfftfreq(nfft, step)
    mtf = spec / spec[0]
    corr = np.sinc(f * step) * np.sinc(2 * f * step)
    mtf = mtf / np.where(np.abs(corr) > 0.1, corr, 1.0)
    keep = f <= 1.0 / px_mm  # up to twice the Nyquist frequency
    f, mtf = f[keep], mtf[keep]
    below = mtf < 0.5
    m50 = None
    if below.any():
        k = int(np.argmax(below))
        if k > 0:
            m50 = float(f[k - 1] + (mtf[k - 1] - 0.5) * (f[k] - f[k - 1]) / (mtf[k - 1] - mtf[k]))
    return xc, esf, f, mtf, m50


# ---------------------------------------------------------------- one edge


_SMOOTH = np.exp(-0.5 * (np.arange(-2, 3) / 0.5) ** 2)
_SMOOTH = _SMOOTH / _SMOOTH.sum()  # = ndimage.gaussian_filter1d(·, 0.5) (radius 2)


def _edge_line(img: np.ndarray, roi_mask: np.ndarray, along_rows: bool, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray] | None:
    """50 % crossings on each pixel line of the ROI (lines = rows when the edge is near-vertical): each line's
    segment from its first to its last ROI pixel, smoothed (Gaussian σ 0.5 px, mirrored at the segment ends),
    walked from the sample nearest the level towards the side where the segment crosses it; linear
    interpolation between the straddling samples. Every line at once (array operations)."""
    level = 0.5 * (lo + hi)
    a = img if along_rows else img.T
    m = roi_mask if along_rows else roi_mask.T
    lines = np.flatnonzero(m.sum(axis=1) >= 6)
    if lines.size < 6:
        return None
    mr = m[lines]
    A = np.asarray(a[lines], dtype=np.float64)
    W = mr.shape[1]
    S = np.argmax(mr, axis=1)[:, None]
    E = (W - 1 - np.argmax(mr[:, ::-1], axis=1))[:, None]
    C = np.arange(W)[None, :]
    sm = np.zeros_like(A)
    for k, wk in zip(range(-2, 3), _SMOOTH):
        cc = C + k
        cc = np.where(cc < S, 2 * S - 1 - cc, cc)
        cc = np.where(cc > E, 2 * E + 1 - cc, cc)
        sm += wk * np.take_along_axis(A, np.clip(cc, 0, W - 1), axis=1)
    inseg = (C >= S) & (C <= E)
    n = np.arange(lines.size)
    kk = np.argmin(np.where(inseg, np.abs(sm - level), np.inf), axis=1)
    sk, first, last = sm[n, kk], sm[n, S[:, 0]], sm[n, E[:, 0]]
    step = np.where(((sk < level) & (last > first)) | ((sk >= level) & (last < first)), 1, -1)
    differs = ((sm >= level) != (sk >= level)[:, None]) & inseg
    fwd = differs & (C > kk[:, None])
    bwd = differs & (C < kk[:, None])
    has_f, has_b = fwd.any(axis=1), bwd.any(axis=1)
    j_f = np.argmax(fwd, axis=1)
    j_b = W - 1 - np.argmax(bwd[:, ::-1], axis=1)
    # the wanted side, else the other one
    use_f = np.where(step == 1, has_f, ~has_b & has_f)
    found = has_f | has_b
    j = np.where(use_f, j_f, j_b)
    st = np.where(use_f, 1, -1)
    i0 = j - st
    p0, p1 = sm[n, np.clip(i0, 0, W - 1)], sm[n, j]
    d = p1 - p0
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(d == 0, 0.0, (level - p0) / np.where(d == 0, 1.0, d))
    pos = i0 + st * frac
    if found.sum() < 6:
        return None
    return lines[found].astype(float), pos[found].astype(float)


def edge_mtf(img: np.ndarray, ph: Phantom, spacing_rc: tuple[float, float], centre: np.ndarray, normal_deg: float,
             half_side_mm: float, dist_mm: float, side: int) -> EdgeMTF | None:
    """Slanted-edge MTF of one side of the block (normal at `normal_deg` in mm space, at `dist_mm` from the centre)."""
    th = math.radians(normal_deg)
    nrm = np.array([math.sin(th), math.cos(th)])  # (row, col) components in mm space
    tang = np.array([math.cos(th), -math.sin(th)])
    H, W = img.shape
    px = max(spacing_rc)
    # work inside the ROI's bounding box only (a full 512² grid per edge cost 0.2 s)
    reach_r = (SIDE_FRACTION * half_side_mm * abs(tang[0]) + HALF_WIDTH_PX * px * abs(nrm[0])) / spacing_rc[0] + 2
    reach_c = (SIDE_FRACTION * half_side_mm * abs(tang[1]) + HALF_WIDTH_PX * px * abs(nrm[1])) / spacing_rc[1] + 2
    mid_r = centre[0] + dist_mm * nrm[0] / spacing_rc[0]
    mid_c = centre[1] + dist_mm * nrm[1] / spacing_rc[1]
    r0, r1 = max(0, int(mid_r - reach_r)), min(H, int(mid_r + reach_r) + 1)
    c0, c1 = max(0, int(mid_c - reach_c)), min(W, int(mid_c + reach_c) + 1)
    full_img = img
    img = full_img[r0:r1, c0:c1]
    mask = ph.mask[r0:r1, c0:c1]
    rr, cc = np.mgrid[r0:r1, c0:c1]
    y = (rr - centre[0]) * spacing_rc[0]
    x = (cc - centre[1]) * spacing_rc[1]
    across = y * nrm[0] + x * nrm[1] - dist_mm
    along = y * tang[0] + x * tang[1]
    roi = (np.abs(across) <= HALF_WIDTH_PX * px) & (np.abs(along) <= SIDE_FRACTION * half_side_mm) & mask
    if roi.sum() < 50:
        return None
    # levels: block inside (across < 0), fluid outside
    inside_v = img[roi & (across < -3 * px)]
    outside_v = img[roi & (across > 3 * px)]
    if inside_v.size < 10 or outside_v.size < 10:
        return None
    lo, hi = float(np.median(inside_v)), float(np.median(outside_v))
    tilt = (normal_deg % 90.0)
    tilt = min(tilt, 90.0 - tilt)
    near_vertical_edge = abs(nrm[1]) >= abs(nrm[0])  # normal along the columns → the edge runs along the rows' index
    fit = _edge_line(img, roi, near_vertical_edge, lo, hi)
    if fit is None:
        return None
    i, p = fit
    i, p = (i + r0, p + c0) if near_vertical_edge else (i + c0, p + r0)  # back to full-image pixels
    coef = np.polyfit(i, p, 1)
    res = p - np.polyval(coef, i)
    ok = np.abs(res) < max(0.5, 3 * 1.4826 * np.median(np.abs(res)))
    coef = np.polyfit(i[ok], p[ok], 1)
    # signed distance (mm) of ROI pixels to the fitted line, positive towards the fluid
    if near_vertical_edge:
        r_line, c_line = rr[roi].astype(float), np.polyval(coef, rr[roi])
        e_r, e_c = 1.0, coef[0]
    else:
        c_line, r_line = cc[roi].astype(float), np.polyval(coef, cc[roi])
        e_r, e_c = coef[0], 1.0
    d_r = (rr[roi] - r_line) * spacing_rc[0]
    d_c = (cc[roi] - c_line) * spacing_rc[1]
    t_r, t_c = e_r * spacing_rc[0], e_c * spacing_rc[1]
    tn = math.hypot(t_r, t_c)
    t_r, t_c = t_r / tn, t_c / tn
    dist = d_r * (-t_c) + d_c * t_r  # perpendicular component (normal = (-t_c, t_r))
    if np.corrcoef(dist, across[roi])[0, 1] < 0:
        dist = -dist
    vals = (img[roi] - lo) / (hi - lo)
    curve = mtf_from_samples(dist, vals, px)
    if curve is None:
        return None
    xc, esf, f, mtf, m50 = curve
    direction = "x" if abs(nrm[1]) >= abs(nrm[0]) else "y"
    # ends of the fitted line for drawing
    if near_vertical_edge:
        ii = np.array([i.min(), i.max()])
        ends = ((ii[0], np.polyval(coef, ii[0])), (ii[1], np.polyval(coef, ii[1])))
    else:
        ii = np.array([i.min(), i.max()])
        ends = ((np.polyval(coef, ii[0]), ii[0]), (np.polyval(coef, ii[1]), ii[1]))
    corners = []
    for s_al, s_ac in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        a_mm = s_al * SIDE_FRACTION * half_side_mm
        c_mm = dist_mm + s_ac * HALF_WIDTH_PX * px
        yy = a_mm * tang[0] + c_mm * nrm[0]
        xx = a_mm * tang[1] + c_mm * nrm[1]
        corners.append((centre[0] + yy / spacing_rc[0], centre[1] + xx / spacing_rc[1]))
    e = EdgeMTF(side, direction, tilt, ends, corners, xc, esf, f, mtf, m50)
    e.samples = (dist, vals)
    return e


# ---------------------------------------------------------------- one image


def measure_resolution(image: MRImage, lang: str = "fr") -> ResolutionResult:
    img = image.pixels
    sp = image.spacing_rc
    ph = find_phantom(img, image.label, lang)
    pts, angle, centre = find_block(img, ph, sp, lang, image.label)
    mm = (pts - centre) * np.asarray(sp)
    edges: list[EdgeMTF] = []
    for k in range(4):
        nd = angle + 90.0 * k
        th = math.radians(nd)
        proj = mm[:, 0] * math.sin(th) + mm[:, 1] * math.cos(th)
        tang = mm[:, 0] * math.cos(th) - mm[:, 1] * math.sin(th)  # along the side
        dist = float(np.percentile(proj, 99))
        half_side = 0.5 * float(np.ptp(tang))
        tilt = nd % 90.0
        tilt = min(tilt, 90.0 - tilt)
        if not (1.0 <= tilt <= 30.0):
            continue
        e = edge_mtf(img, ph, sp, centre, nd, half_side, dist, k)
        if e is not None and e.mtf50_lp_per_mm is not None:
            edges.append(e)
    if not edges:
        raise QCInputError("err.wrong_image", file=image.label, reason=t("mrre.reason.no_edges", lang))
    by_dir: dict[str, float | None] = {}
    for d in ("x", "y"):
        es = [e for e in edges if e.direction == d]
        if not es:
            continue
        # both edges of a direction pooled into one ESF (halves the noise of the LSF, whose power would
        # otherwise raise the MTF)
        dist = np.concatenate([e.samples[0] for e in es])
        vals = np.concatenate([e.samples[1] for e in es])
        curve = mtf_from_samples(dist, vals, max(sp))
        by_dir[d] = None if curve is None else curve[4]
    pe = getattr(image.slice, "phase_encoding_direction", None)
    return ResolutionResult(image.label, edges, by_dir, {"x": sp[1], "y": sp[0]}, pe)


def direction_name(d: str, pe: str | None) -> str:
    """"x (FE)" / "y (PE)"... from the header's phase direction (ROW: phase encoded along the rows = x)."""
    if pe in ("ROW", "COL"):
        pe_axis = "x" if pe == "ROW" else "y"
        return f"{d} ({'PE' if d == pe_axis else 'FE'})"
    return d


def overlay(image: MRImage, res: ResolutionResult) -> np.ndarray:
    ov = Overlay(image.pixels)
    for e in res.edges:
        c = e.roi_rc
        for a, b in zip(c, c[1:] + c[:1]):
            ov.line(a, b, (255, 200, 0))
        ov.line(e.line_pts_rc[0], e.line_pts_rc[1], (0, 230, 0))
    return ov.rgb


# ---------------------------------------------------------------- analyser


def _r(v, nd=4):
    return None if v is None else round(float(v), nd)


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    lang = ctx.lang
    _series, images, set_aside = load_images_of(inputs, lang)
    measurements: list[Measurement] = []
    items: list[dict[str, Any]] = []
    warnings = list(set_aside)
    overlays = []
    curves: dict[str, Any] = {}
    used, errors = [], []
    for im in images:
        try:
            res = measure_resolution(im, lang)
        except QCInputError as exc:
            errors.append(exc.message(lang))
            continue
        used.append(im.slice)
        item = im.label
        eff = res.effective_resolution_mm
        px = max(im.spacing_rc)
        ratio = None if eff is None else eff / px
        for name, v, unit in (("mtf50_lp_per_mm", res.mtf50_lp_per_mm, "lp/mm"), ("effective_resolution_mm", eff, "mm"),
                              ("effective_to_pixel_ratio", ratio, "")):
            measurements.append(Measurement(name, v, unit, item=item, description=SPEC_METRICS[name].label(lang)))
        for d, m50 in res.mtf50_by_direction.items():
            items.append({"image": item, "direction": direction_name(d, res.phase_direction), "pixel_mm": _r(res.pixel_mm[d]),
                          "mtf50_lp_per_mm": _r(m50), "effective_resolution_mm": _r(None if not m50 else 1 / (2 * m50)),
                          "edges": sum(1 for e in res.edges if e.direction == d),
                          "edge_tilt_deg": _r(np.mean([e.angle_deg for e in res.edges if e.direction == d]), 2)})
        curves[item] = [{"direction": direction_name(e.direction, res.phase_direction), "side": e.side,
                         "f": e.freq_lp_mm[::2].tolist(), "mtf": e.mtf[::2].tolist()} for e in res.edges]
        overlays.append((t("mrre.overlay", lang, image=item), overlay(im, res)))
    if not used:
        raise QCInputError("mrre.err.none", detail=" ".join(errors[:3]))
    warnings.extend(t("mrre.warn.skipped", lang, reason=e) for e in errors)
    ratios = [m.value for m in measurements if m.name == "effective_to_pixel_ratio"]
    worst = None if any(v is None for v in ratios) else max(ratios)
    measurements.append(Measurement("session_worst_effective_to_pixel_ratio", worst, "",
                                    description=SPEC_METRICS["session_worst_effective_to_pixel_ratio"].label(lang)))
    return AnalysisResult(
        test=KEY, measurements=measurements, items=items, warnings=warnings, overlays=overlays, extra={"mtf": curves},
        **identity_of(used, ctx.acquired_at, lang),
        params={"method": "slanted edge (ISO 12233): ESF binned at 1/10 px, LSF Hann-windowed over +/-8 px, MTF sinc-corrected",
                "effective_resolution": "1 / (2 * MTF50)"},
    )


_METRICS = (
    MetricSpec("mtf50_lp_per_mm", "lp/mm", "FTM à 50 % (direction la moins bonne)", "MTF50 (worst direction)", None, better="higher"),
    MetricSpec("effective_resolution_mm", "mm", "Résolution effective 1/(2·FTM50)", "Effective resolution 1/(2·MTF50)", None, better="lower"),
    MetricSpec("effective_to_pixel_ratio", "", "Résolution effective / taille du pixel", "Effective resolution / pixel size",
               Tolerance.at_most(1.2, 1.5, reference="Proposé : résolution effective ≤ 1,2 × pixel (critère PIQT « pixel size ≤ 1,2 mm » pour 1 mm, UMCU) ; action à 1,5"),
               better="lower"),
    MetricSpec("session_worst_effective_to_pixel_ratio", "", "Rapport résolution / pixel le moins bon de la séance",
               "Worst effective resolution / pixel ratio of the session",
               Tolerance.at_most(1.2, 1.5, reference="Proposé : résolution effective ≤ 1,2 × pixel (critère PIQT « pixel size ≤ 1,2 mm » pour 1 mm, UMCU) ; action à 1,5"),
               better="lower"),
)
SPEC_METRICS = {m.name: m for m in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "1.0"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr="IRM : résolution spatiale",
    name_en="MR: spatial resolution",
    frequency="monthly",
    kind="dicom",
    metrics=_METRICS,
    analyse=analyse,
    page="pages/mr_resolution.py",
    description_fr=("Fonction de transfert de modulation par la méthode du bord incliné (bloc carré sans signal) : FTM à 50 % "
                    "et résolution effective 1/(2·FTM50) dans chaque direction (codage de phase et de fréquence)."),
    description_en=("Modulation transfer function by the slanted-edge method (signal-free square block): MTF50 and effective "
                    "resolution 1/(2·MTF50) in each direction (phase and frequency encoding)."),
    accepts=".dcm,.ima,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:mr_resolution_demo"
ROUTING = None  # received MR phantom images are not routed to the image-quality tests yet: they are uploaded on their study page
# The menu shows this test under its study page (the page that takes a whole upload and routes it to its tests).
MENU_GROUP = "mr-image"
# The demo database: the first Tuesday evening of the last full month and of the current one.
DEMO = DemoSessions(make="qc.demo_inputs:mr_resolution_session", gen="mr_resolution", span="monthly", weekday=1, time="19:10",
                    args={"sigma_mm": 0.42}, seed_offset=3)


def charts(result: AnalysisResult, lang: str = "fr") -> list[tuple[str, Any]]:
    import altair as alt
    import pandas as pd

    out = []
    for item, curves in result.extra.get("mtf", {}).items():
        df = pd.concat([pd.DataFrame({"f": c["f"], "mtf": c["mtf"], "edge": f"{c['direction']} #{c['side'] + 1}"}) for c in curves], ignore_index=True)
        title = t("mrre.chart.title", lang, image=item)
        ch = alt.Chart(df).mark_line().encode(
            x=alt.X("f:Q", title=t("mrre.chart.f", lang)),
            y=alt.Y("mtf:Q", title=t("mrre.chart.mtf", lang), scale=alt.Scale(domain=[0, 1.2])),
            color=alt.Color("edge:N", title=t("mrre.chart.dir", lang)),
        ).properties(title=title)
        out.append((title, ch))
    return out
