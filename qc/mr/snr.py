"""MR signal-to-noise ratio of a uniform phantom (`mr-snr`): single image and two-image difference.

Owns the SNR analyser. ROIs are placed from the phantom found in each image (qc.mr.image_rois):
five 20 × 20 mm squares, one at the phantom centre and four on the diagonals at ±d mm in both directions,
d = min(40 mm, (R − 5 mm)/√2 − 10 mm) with R the inscribed radius of the phantom (hazen's layout is the
same five squares at ±40 pixels; here it is in mm and shrinks to fit a small phantom; below d = 20 mm only
the central square is used).

Definitions (SNR = mean over the ROIs of signal / noise):
- signal S = mean pixel value of the ROI.
- Single image, "smoothed residual" (default; McCann et al. 2013, Phys. Med. Biol. 58:3775, as hazen):
  noise σ = SD(image − k×k boxcar-smoothed image) in the ROI × √(k²/(k² − 1)), k = 9 (option coil="head",
  default) or 25 (coil="body"), McCann's kernels. The factor corrects for the pixel's own weight in the
  boxcar mean (residual variance = σ²·(1 − 1/k²)); hazen does not apply it, so our value is 0.6 % below
  hazen's on the same ROIs.
- Single image, "background" (NEMA MS 1-2008 method 4): σ = SD(background) / 0.655, the mean SD of the
  background strips beyond the phantom along the frequency direction (10 mm from the phantom, clear of
  the phase-encoding band where ghosts fall); 0.655 = √(2 − π/2) is the Rayleigh SD of magnitude noise
  for σ = 1 (a background zeroed by the reconstruction is refused with a warning).
- Two images (`snr_difference`, NEMA MS 1-2008 method 1): S = mean of the two images' ROI means,
  σ = SD(image 1 − image 2 in the ROI) / √2. Images are paired when they are at the same slice position
  and orientation with the same TE/TR and matrix (two repeated acquisitions).
- Normalised SNR (hazen/MagNET convention, reported for trending across protocols, never judged):
  SNR_norm = SNR × √(BW·Nc/2/1000)/√30 × 1/(0.001·dx·dy·Δz) × 1/√(NEX·Nr·TR/1000), with BW the pixel
  bandwidth (Hz/pixel), Nc/Nr columns/rows, dx·dy the pixel size and Δz the slice thickness (mm), NEX the
  number of averages, TR in ms: SNR per cm³ of voxel, per √(s of sampling) at 30 kHz total bandwidth.
  Options: normalise=False skips it; slice_thickness_mm=<measured> replaces the header's Δz (as hazen).

Judgement: SNR depends on the coil, the sequence and the phantom, so no absolute limit is universal. When a
reference session is set (baseline), `snr_change_pct` (and `snr_difference_change_pct`) = 100·(SNR / SNR_ref
− 1) is judged against the dated tolerance (default ±10 % warning, ±20 % action).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from qc.errors import QCInputError
from qc.i18n import t
from qc.readers.mr_series import MRSlice
from qc.mr.image_rois import (
    Phantom,
    Roi,
    find_phantom,
    identity,
    image_label,
    images_for_test,
    overlay,
    uniform_images,
    rect_mm,
    rounded,
)
from qc.tolerances import Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = "mr-snr"
ROI_SIDE_MM = 20.0
ROI_OFFSET_MM = 40.0
SMOOTHING_KERNEL_PX = 9
KERNEL_BY_COIL = {"head": 9, "body": 25}  # McCann et al. 2013: 9×9 for head coils, 25×25 for body coils
RAYLEIGH_SD_FACTOR = math.sqrt(2.0 - math.pi / 2.0)  # 0.655
METHODS = ("smoothed", "background")


@dataclass
class SnrMeasurement:
    """SNR of one image (or of a pair), with its ROIs for drawing."""

    snr: float | None
    signal: float | None
    noise_sd: float | None
    method: str
    rois: list[Roi] = field(default_factory=list)
    per_roi: list[float] = field(default_factory=list)
    warning: str = ""


# ---------------------------------------------------------------- ROIs


def signal_rois(phantom: Phantom, spacing: tuple[float, float]) -> list[Roi]:
    """The five 20 mm squares (centre + four diagonal), fitted inside the phantom (see module docstring)."""
    px_mm = math.sqrt(spacing[0] * spacing[1])
    radius_mm = phantom.inscribed_radius_px * px_mm
    side = min(ROI_SIDE_MM, 0.5 * radius_mm)
    centre = phantom.centre_rc
    rois = [rect_mm(centre, side, side, spacing, "signal", "C")]
    d = min(ROI_OFFSET_MM, (radius_mm - 5.0) / math.sqrt(2.0) - side / 2.0)
    if d >= side:
        for label, sr, sc in (("HG", -1, -1), ("HD", -1, 1), ("BG", 1, -1), ("BD", 1, 1)):
            rois.append(rect_mm((centre[0] + sr * d / spacing[0], centre[1] + sc * d / spacing[1]), side, side,
                                spacing, "signal", label))
    return rois


def background_rois(phantom: Phantom, spacing: tuple[float, float], shape: tuple[int, int],
                    phase_direction: str | None) -> list[Roi]:
    """Background clear of the phantom (10 mm margin) and of its phase-encoding band (where ghosts fall):
    the two strips beyond the phantom along the frequency direction, each at least 5 mm thick, 3 pixels
    from the image edge. Without a phase direction, the four corners clear of both bands."""
    rows, cols = shape
    margin = 3  # edge rows/columns of some reconstructions are not noise
    r0, r1, c0, c1 = phantom.bbox
    gap_r, gap_c = 10.0 / spacing[0], 10.0 / spacing[1]
    top, bottom = (margin, r0 - gap_r), (r1 + gap_r, rows - margin)
    left, right = (margin, c0 - gap_c), (c1 + gap_c, cols - margin)
    boxes: list[tuple[str, tuple[float, float], tuple[float, float]]] = []
    if phase_direction == "ROW":  # ghosts run along the rows of the phantom: take the strips above and below
        boxes = [("H", top, (margin, cols - margin)), ("B", bottom, (margin, cols - margin))]
    elif phase_direction == "COL":
        boxes = [("G", (margin, rows - margin), left), ("D", (margin, rows - margin), right)]
    else:
        boxes = [("HG", top, left), ("HD", top, right), ("BG", bottom, left), ("BD", bottom, right)]
    out = []
    for label, (ra, rb), (ca, cb) in boxes:
        if (rb - ra) * spacing[0] >= 5.0 and (cb - ca) * spacing[1] >= 5.0:
            out.append(Roi("rect", ((ra + rb) / 2, (ca + cb) / 2), ((rb - ra) / 2, (cb - ca) / 2), "noise", label))
    return out


# ---------------------------------------------------------------- measures


def smoothed_residual(image: np.ndarray, kernel_px: int = SMOOTHING_KERNEL_PX) -> np.ndarray:
    """image − boxcar(image), scaled by √(K/(K−1)) (K = kernel²) so that its SD estimates the noise σ."""
    img = np.asarray(image, dtype=np.float32)
    k2 = kernel_px * kernel_px
    return (img - ndimage.uniform_filter(img, kernel_px, mode="nearest")) * np.float32(math.sqrt(k2 / (k2 - 1)))


def snr_single(image: np.ndarray, spacing: tuple[float, float], method: str = "smoothed",
               phase_direction: str | None = None, phantom: Phantom | None = None, lang: str = "fr",
               file: str = "?", kernel_px: int = SMOOTHING_KERNEL_PX) -> SnrMeasurement:
    """Single-image SNR by the smoothed-residual or the background method (module docstring)."""
    phantom = phantom or find_phantom(image, file)
    rois = signal_rois(phantom, spacing)
    if method == "background":
        noise_rois = background_rois(phantom, spacing, image.shape, phase_direction)
        if not noise_rois:
            return SnrMeasurement(None, None, None, method, rois, warning=t("snr.warn.no_background", lang, file=file))
        values = [r.values(image) for r in noise_rois]
        if any(np.mean(v == 0) > 0.05 for v in values):
            return SnrMeasurement(None, None, None, method, rois + noise_rois,
                                  warning=t("snr.warn.zero_background", lang, file=file))
        sd_bg = float(np.mean([np.std(v, ddof=1) for v in values]))
        for r, v in zip(noise_rois, values):
            r.value = float(np.std(v, ddof=1))
        sigma = sd_bg / RAYLEIGH_SD_FACTOR
        per = []
        for r in rois:
            r.value = float(np.mean(r.values(image)))
            per.append(r.value / sigma if sigma > 0 else float("nan"))
        signal = float(np.mean([r.value for r in rois]))
        return SnrMeasurement(_finite_mean(per), signal, sigma, method, rois + noise_rois, per)
    residual = smoothed_residual(_crop_around(image, rois, kernel_px), kernel_px)
    offset = _crop_offset(image, rois, kernel_px)
    per, noises = [], []
    for r in rois:
        s = float(np.mean(r.values(image)))
        shifted = Roi(r.kind, (r.centre_rc[0] - offset[0], r.centre_rc[1] - offset[1]), r.half_rc, r.role)
        n = float(np.std(shifted.values(residual), ddof=1))
        r.value = s / n if n > 0 else None
        noises.append(n)
        per.append(s / n if n > 0 else float("nan"))
    signal = float(np.mean([np.mean(r.values(image)) for r in rois]))
    return SnrMeasurement(_finite_mean(per), signal, float(np.mean(noises)), method, rois, per)


def snr_difference(image1: np.ndarray, image2: np.ndarray, spacing: tuple[float, float],
                   phantom: Phantom | None = None, file: str = "?") -> SnrMeasurement:
    """Two-image SNR (NEMA MS 1 method 1): mean signal of both / (SD of the difference / √2), per ROI."""
    phantom = phantom or find_phantom(image1, file)
    rois = signal_rois(phantom, spacing)
    diff = np.asarray(image1, dtype=np.float32) - np.asarray(image2, dtype=np.float32)
    per, noises, signals = [], [], []
    for r in rois:
        s = 0.5 * (float(np.mean(r.values(image1))) + float(np.mean(r.values(image2))))
        n = float(np.std(r.values(diff), ddof=1)) / math.sqrt(2.0)
        r.value = s / n if n > 0 else None
        per.append(s / n if n > 0 else float("nan"))
        noises.append(n)
        signals.append(s)
    return SnrMeasurement(_finite_mean(per), float(np.mean(signals)), float(np.mean(noises)), "difference", rois, per)


def normalisation_factor(s: MRSlice, slice_thickness_mm: float | None = None) -> float | None:
    """hazen/MagNET normalisation factor (module docstring), or None when a header value is missing.
    `slice_thickness_mm`: a measured slice thickness to use instead of the header's (as hazen's option)."""
    rows, cols = s.shape
    bw, tr, thk = s.pixel_bandwidth_hz, s.repetition_time_ms, slice_thickness_mm or s.slice_thickness_mm
    nex = s.number_of_averages or 1.0
    if not bw or not tr or not thk:
        return None
    dx, dy = s.pixel_spacing_mm
    bandwidth_factor = math.sqrt(bw * cols / 2.0 / 1000.0) / math.sqrt(30.0)
    voxel_factor = 1.0 / (0.001 * dx * dy * thk)
    return bandwidth_factor * voxel_factor / math.sqrt(nex * rows * tr / 1000.0)


def _finite_mean(values: list[float]) -> float | None:
    v = [x for x in values if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else None


def _crop_bounds(image: np.ndarray, rois: list[Roi], kernel_px: int = SMOOTHING_KERNEL_PX) -> tuple[int, int, int, int]:
    pad = kernel_px + 2
    r0 = min(int(r.centre_rc[0] - r.half_rc[0]) for r in rois) - pad
    r1 = max(int(r.centre_rc[0] + r.half_rc[0]) for r in rois) + pad
    c0 = min(int(r.centre_rc[1] - r.half_rc[1]) for r in rois) - pad
    c1 = max(int(r.centre_rc[1] + r.half_rc[1]) for r in rois) + pad
    return max(0, r0), min(image.shape[0], r1), max(0, c0), min(image.shape[1], c1)


def _crop_around(image: np.ndarray, rois: list[Roi], kernel_px: int = SMOOTHING_KERNEL_PX) -> np.ndarray:
    r0, r1, c0, c1 = _crop_bounds(image, rois, kernel_px)
    return image[r0:r1, c0:c1]


def _crop_offset(image: np.ndarray, rois: list[Roi], kernel_px: int = SMOOTHING_KERNEL_PX) -> tuple[int, int]:
    r0, _, c0, _ = _crop_bounds(image, rois, kernel_px)
    return r0, c0


# ---------------------------------------------------------------- pairing


def pairs_of(slices: list[MRSlice]) -> list[tuple[MRSlice, MRSlice]]:
    """Repeated acquisitions of the same slice: same position (±0.5 mm), orientation, matrix, TE and TR,
    from different files or frames; consecutive ones in acquisition order are paired."""
    groups: dict[tuple, list[MRSlice]] = {}
    for s in slices:
        loc = None if s.slice_location_mm is None else round(s.slice_location_mm * 2) / 2
        ori = None if s.orientation is None else tuple(round(v, 2) for v in s.orientation)
        key = (loc, ori, s.shape, s.echo_time_ms, s.repetition_time_ms, tuple(round(v, 4) for v in s.pixel_spacing_mm))
        groups.setdefault(key, []).append(s)
    out = []
    for group in groups.values():
        group.sort(key=lambda s: (s.acquired_at is None, s.acquired_at or 0, s.series_number or 0,
                                  s.temporal_position or 0, s.instance_number or 0, s.file.filename))
        for a, b in zip(group[0::2], group[1::2]):
            out.append((a, b))
    return out


# ---------------------------------------------------------------- analyser


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """SNR of every image (single-image method) and of every pair of repeated acquisitions (difference)."""
    lang = ctx.lang
    method = str(ctx.options.get("noise_method", "smoothed"))
    if method not in METHODS:
        raise QCInputError("snr.err.method", method=method, known=", ".join(METHODS))
    coil = str(ctx.options.get("coil", "head"))
    if coil not in KERNEL_BY_COIL:
        raise QCInputError("snr.err.coil", coil=coil, known=", ".join(KERNEL_BY_COIL))
    kernel = KERNEL_BY_COIL[coil]
    normalise = bool(ctx.options.get("normalise", True))
    thickness = ctx.options.get("slice_thickness_mm")
    thickness = float(thickness) if thickness else None
    slices, warnings = images_for_test(inputs, lang)
    analysed = uniform_images(slices, lang, warnings)  # sections with grids, rods, ramps... are listed and skipped
    slices = [a[0] for a in analysed]
    items: list[dict[str, Any]] = []
    overlays: list[tuple[str, np.ndarray]] = []
    singles, norm_singles = [], []
    phantoms: dict[int, Phantom] = {}
    for s, img, ph in analysed:
        phantoms[id(s)] = ph
        m = snr_single(img, s.pixel_spacing_mm, method, s.phase_encoding_direction, ph, lang, s.label, kernel)
        if m.warning:
            warnings.append(m.warning)
        factor = normalisation_factor(s, thickness) if normalise else None
        if m.snr is not None:
            singles.append(m.snr)
            if factor is not None:
                norm_singles.append(m.snr * factor)
        items.append({
            "image": image_label(s, lang), "file": s.label, "method": t(f"snr.method.{method}", lang),
            "snr": rounded(m.snr, 2), "signal_mean": rounded(m.signal, 2), "noise_sd": rounded(m.noise_sd, 3),
            "snr_normalised": rounded(None if m.snr is None or factor is None else m.snr * factor, 1),
            "normalisation_factor": rounded(factor, 6), "n_rois": len([r for r in m.rois if r.role == "signal"]),
        })
        overlays.append((t("snr.overlay.single", lang, image=image_label(s, lang), method=t(f"snr.method.{method}", lang)),
                         overlay(img, m.rois, ph)))
    diffs, norm_diffs = [], []
    for a, b in pairs_of(slices):
        m = snr_difference(a.signal, b.signal, a.pixel_spacing_mm, phantoms.get(id(a)), a.label)
        factor = normalisation_factor(a, thickness) if normalise else None
        if m.snr is not None:
            diffs.append(m.snr)
            if factor is not None:
                norm_diffs.append(m.snr * factor)
        items.append({
            "image": f"{image_label(a, lang)} − {b.label}", "file": f"{a.label} − {b.label}",
            "method": t("snr.method.difference", lang), "snr": rounded(m.snr, 2), "signal_mean": rounded(m.signal, 2),
            "noise_sd": rounded(m.noise_sd, 3),
            "snr_normalised": rounded(None if m.snr is None or factor is None else m.snr * factor, 1),
            "normalisation_factor": rounded(factor, 6), "n_rois": len(m.rois),
        })
        overlays.append((t("snr.overlay.difference", lang, a=a.label, b=b.label),
                         overlay(a.signal - b.signal, m.rois, None)))
    if len(slices) >= 2 and not diffs:
        warnings.append(t("snr.warn.no_pair", lang))
    ident = identity(slices, lang, ctx.acquired_at)
    when = ident["acquired_at"] or ctx.acquired_at
    baseline = ctx.baseline_for(when) if ctx.baseline_for else None
    measurements: list[Measurement] = []

    def add(name: str, value: float | None) -> None:
        spec = SPEC_METRICS[name]
        measurements.append(Measurement(name, None if value is None else float(value), spec.unit,
                                        description=spec.label(lang), reference=_ref(spec)))

    snr = float(np.mean(singles)) if singles else None
    add("snr", snr)
    if norm_singles:
        add("snr_normalised", float(np.mean(norm_singles)))
    if diffs:
        add("snr_difference", float(np.mean(diffs)))
        if norm_diffs:
            add("snr_difference_normalised", float(np.mean(norm_diffs)))
    ref = baseline if isinstance(baseline, dict) else {}
    if ref.get("snr"):
        add("snr_change_pct", None if snr is None else 100.0 * (snr / float(ref["snr"]) - 1.0))
    if ref.get("snr_difference") and diffs:
        add("snr_difference_change_pct", 100.0 * (float(np.mean(diffs)) / float(ref["snr_difference"]) - 1.0))
    add("n_images", len(slices))
    return AnalysisResult(
        test=KEY, measurements=measurements, items=items, warnings=warnings, overlays=overlays, **ident,
        params={
            "noise_method": method,
            "roi_side_mm": ROI_SIDE_MM,
            "roi_offset_mm": ROI_OFFSET_MM,
            "smoothing_kernel_px": kernel,
            "coil": coil,
            "normalised": normalise,
            "slice_thickness_mm_for_normalisation": thickness,
            "definition": "SNR = mean over 5 ROIs of mean(ROI) / noise; smoothed: SD(image - 9x9 boxcar)*sqrt(81/80); "
                          "background: SD(corners)/0.655; difference: SD(image1 - image2)/sqrt(2)",
            "normalisation": "SNR * sqrt(BW*Ncols/2/1000)/sqrt(30) / (0.001*dx*dy*thickness) / sqrt(NEX*Nrows*TR/1000)",
            "baseline": {k: ref.get(k) for k in ("snr", "snr_difference")} if ref else None,
        },
    )


def _ref(spec: MetricSpec) -> str:
    return spec.tolerance.reference if spec.tolerance else ""


def baseline_from_result(result: AnalysisResult) -> dict:
    """Reference values for `snr_change_pct` ("use as baseline")."""
    m = result.metrics
    return {
        "snr": m.get("snr"),
        "snr_difference": m.get("snr_difference"),
        "source": {"acquired_at": result.acquired_at.isoformat() if result.acquired_at else None,
                   "files": [f.filename for f in result.files], "analyser_version": result.analyser_version},
    }


# ---------------------------------------------------------------- spec

SPEC_NAME = {"fr": "IRM — rapport signal sur bruit", "en": "MR — signal-to-noise ratio"}
_REF_SNR = ("IPEM Report 112 (2017) / ACR MRI QC Manual 2015 : constance du SNR par rapport à la référence du site ; "
            "limites proposées ±10 % (alerte) / ±20 % (action)")
_TOL_CHANGE = Tolerance(act_low=-20.0, tol_low=-10.0, tol_high=10.0, act_high=20.0, reference=_REF_SNR)

_METRICS = (
    MetricSpec("snr", "", "SNR (image seule)", "SNR (single image)", None, better="higher"),
    MetricSpec("snr_difference", "", "SNR (différence de deux images)", "SNR (difference of two images)", None,
               better="higher"),
    MetricSpec("snr_normalised", "", "SNR normalisé (image seule)", "Normalised SNR (single image)", None,
               better="higher"),
    MetricSpec("snr_difference_normalised", "", "SNR normalisé (différence)", "Normalised SNR (difference)", None,
               better="higher"),
    MetricSpec("snr_change_pct", "%", "Écart du SNR à la référence", "SNR change from baseline", _TOL_CHANGE),
    MetricSpec("snr_difference_change_pct", "%", "Écart du SNR (différence) à la référence",
               "SNR (difference) change from baseline", _TOL_CHANGE),
    MetricSpec("n_images", "", "Nombre d'images", "Number of images", None, trend=False),
)
SPEC_METRICS = {m.name: m for m in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "1.0"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr=SPEC_NAME["fr"],
    name_en=SPEC_NAME["en"],
    frequency="weekly",
    kind="dicom",
    metrics=_METRICS,
    analyse=analyse,
    page="pages/mr_snr.py",
    description_fr=(
        "Fantôme uniforme : SNR d'une image (résidu lissé, McCann 2013, ou bruit de fond NEMA MS 1) et de deux "
        "acquisitions répétées (différence, NEMA MS 1). Cinq ROI de 20 mm placées sur le fantôme trouvé dans l'image. "
        "SNR normalisé (voxel, bande passante, moyennes) pour le suivi."
    ),
    description_en=(
        "Uniform phantom: SNR of one image (smoothed residual, McCann 2013, or NEMA MS 1 background noise) and of two "
        "repeated acquisitions (difference, NEMA MS 1). Five 20 mm ROIs placed on the phantom found in the image. "
        "Normalised SNR (voxel, bandwidth, averages) for trending."
    ),
    accepts=".dcm,.ima,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:mr_snr_demo"
ROUTING = None  # received MR phantom images are not routed to the image-quality tests yet: they are uploaded on their study page
# The menu shows this test under its study page (the page that takes a whole upload and routes it to its tests).
MENU_GROUP = "mr-image"
# The demo database: every Wednesday of the last full month and the current one, after the PIQT.
DEMO = DemoSessions(make="qc.demo_inputs:mr_flood_session", gen="mr_flood", span="month", weekday=2, time="08:00", args={"kind": "snr"})
