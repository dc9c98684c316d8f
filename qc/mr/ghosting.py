"""MR ghosting of a uniform phantom (`mr-ghosting`): ghost signal along the phase-encoding direction.

Owns the ghosting analyser. The phase-encoding direction comes from the header
(InPlanePhaseEncodingDirection, or MRFOVGeometrySequence in Enhanced MR): "ROW" means phase is encoded
along a row, so ghosts are displaced horizontally, within the phantom's rows. Regions, from the phantom
found in the image (qc.mr.image_rois), in mm:

- phantom: a disc of 0.75 × the phantom's inscribed radius at its centre, mean P;
- ghost: on each side of the phantom along the phase direction, a rectangle from 15 mm beyond the
  phantom's edge to 3 pixels from the image edge, across the central half of the phantom's extent in the
  frequency direction; mean G over the sides at least 5 mm wide;
- noise: the same construction along the frequency direction (no ghosts there), mean N.

Ghosting ratio (IPEM Report 112 small-bottle method, as hazen; equal to the ACR percent-signal ghosting
with the ROIs on the four sides): `ghosting_pct` = 100 · |G − N| / P %.
Bias: magnitude images have a Rician background, so when a ghost stands well above the noise the
difference of means underestimates it by about 100 · 1.25 σ / P points (σ the noise SD, P/σ the SNR:
0.125 points at SNR 1000, 0.6 at SNR 200). The value is what the references define; compare sessions
at similar SNR.

Default limit: ≤ 2.5 % (ACR MRI QC Manual 2015, percent-signal ghosting), warning from 2 %.
When the header has no phase direction, both directions are measured and the larger is kept (warning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qc.i18n import t
from qc.mr.image_rois import (
    Phantom,
    Roi,
    find_phantom,
    identity,
    image_label,
    images_for_test,
    overlay,
    uniform_images,
    rounded,
)
from qc.tolerances import Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = "mr-ghosting"
GAP_MM = 15.0
MIN_WIDTH_MM = 5.0
EDGE_PX = 3
PHANTOM_ROI_FRACTION = 0.75


@dataclass
class GhostingMeasurement:
    ghosting_pct: float | None
    phase_direction: str
    ghost_mean: float | None
    noise_mean: float | None
    phantom_mean: float
    rois: list[Roi] = field(default_factory=list)


def side_rois(phantom: Phantom, spacing: tuple[float, float], shape: tuple[int, int], along: str, role: str
              ) -> list[Roi]:
    """Rectangles on both sides of the phantom along `along` ("ROW": left/right, "COL": above/below), from
    `GAP_MM` beyond its edge to the image edge, across the central half of its extent the other way."""
    rows, cols = shape
    r0, r1, c0, c1 = phantom.bbox
    out = []
    if along == "ROW":
        gap = GAP_MM / spacing[1]
        mid, half = (r0 + r1) / 2, (r1 - r0 + 1) / 4
        for label, lo, hi in (("G", EDGE_PX, c0 - gap), ("D", c1 + gap, cols - EDGE_PX)):
            if (hi - lo) * spacing[1] >= MIN_WIDTH_MM:
                out.append(Roi("rect", (mid, (lo + hi) / 2), (half, (hi - lo) / 2), role, label))
    else:
        gap = GAP_MM / spacing[0]
        mid, half = (c0 + c1) / 2, (c1 - c0 + 1) / 4
        for label, lo, hi in (("H", EDGE_PX, r0 - gap), ("B", r1 + gap, rows - EDGE_PX)):
            if (hi - lo) * spacing[0] >= MIN_WIDTH_MM:
                out.append(Roi("rect", ((lo + hi) / 2, mid), ((hi - lo) / 2, half), role, label))
    return out


def measure_ghosting(image: np.ndarray, spacing: tuple[float, float], phase_direction: str,
                     phantom: Phantom | None = None, file: str = "?") -> GhostingMeasurement:
    """Ghosting ratio of one image for a phase-encoding direction "ROW" or "COL" (module docstring)."""
    phantom = phantom or find_phantom(image, file)
    r = PHANTOM_ROI_FRACTION * phantom.inscribed_radius_px
    signal_roi = Roi("disc", phantom.centre_rc, (r, r), "signal", "P")
    p = float(np.mean(signal_roi.values(image)))
    signal_roi.value = p
    other = "COL" if phase_direction == "ROW" else "ROW"
    ghosts = side_rois(phantom, spacing, image.shape, phase_direction, "ghost")
    noises = side_rois(phantom, spacing, image.shape, other, "noise")
    for roi in ghosts + noises:
        roi.value = float(np.mean(roi.values(image)))
    g = _pooled_mean(image, ghosts)
    n = _pooled_mean(image, noises)
    value = None if g is None or n is None or p <= 0 else 100.0 * abs(g - n) / p
    return GhostingMeasurement(value, phase_direction, g, n, p, [signal_roi] + ghosts + noises)


def _pooled_mean(image: np.ndarray, rois: list[Roi]) -> float | None:
    if not rois:
        return None
    vals = np.concatenate([r.values(image) for r in rois])
    return float(vals.mean()) if vals.size else None


# ---------------------------------------------------------------- analyser


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """Ghosting of every image; the session value is the largest."""
    lang = ctx.lang
    slices, warnings = images_for_test(inputs, lang)
    analysed = uniform_images(slices, lang, warnings)  # sections with grids, rods, ramps... are listed and skipped
    slices = [a[0] for a in analysed]
    items: list[dict[str, Any]] = []
    overlays: list[tuple[str, np.ndarray]] = []
    values: list[float | None] = []
    for s, img, ph in analysed:
        pe = s.phase_encoding_direction
        if pe in ("ROW", "COL"):
            m = measure_ghosting(img, s.pixel_spacing_mm, pe, ph, s.label)
        else:
            candidates = [measure_ghosting(img, s.pixel_spacing_mm, d, ph, s.label) for d in ("ROW", "COL")]
            m = max(candidates, key=lambda c: -1.0 if c.ghosting_pct is None else c.ghosting_pct)
            warnings.append(t("ghost.warn.no_pe", lang, file=s.label, direction=t(f"ghost.pe.{m.phase_direction}", lang)))
        if m.ghosting_pct is None:
            warnings.append(t("ghost.warn.no_room", lang, file=s.label))
        values.append(m.ghosting_pct)
        items.append({
            "image": image_label(s, lang), "file": s.label,
            "phase_direction": t(f"ghost.pe.{m.phase_direction}", lang) + ("" if pe else " *"),
            "ghosting_pct": rounded(m.ghosting_pct, 4), "ghost_mean": rounded(m.ghost_mean, 3),
            "noise_mean": rounded(m.noise_mean, 3), "phantom_mean": rounded(m.phantom_mean, 2),
            "ghost_sides": ",".join(r.label for r in m.rois if r.role == "ghost"),
            "noise_sides": ",".join(r.label for r in m.rois if r.role == "noise"),
        })
        overlays.append((t("ghost.overlay", lang, image=image_label(s, lang),
                           direction=t(f"ghost.pe.{m.phase_direction}", lang)), overlay(img, m.rois, ph)))
    spec = SPEC_METRICS["ghosting_pct"]
    worst = None if any(v is None for v in values) else max(values)  # type: ignore[type-var]
    measurements = [
        Measurement("ghosting_pct", worst, "%", description=spec.label(lang),
                    reference=spec.tolerance.reference if spec.tolerance else ""),
        Measurement("n_images", float(len(slices)), "", description=SPEC_METRICS["n_images"].label(lang)),
    ]
    return AnalysisResult(
        test=KEY, measurements=measurements, items=items, warnings=warnings, overlays=overlays,
        **identity(slices, lang, ctx.acquired_at),
        params={"definition": "100*|mean(ghost) - mean(noise)| / mean(phantom)", "gap_mm": GAP_MM,
                "phantom_roi": "disc of 0.75 x inscribed radius", "session_value": "largest image"},
    )


# ---------------------------------------------------------------- spec

SPEC_NAME = {"fr": "IRM — artefacts fantômes (ghosting)", "en": "MR — ghosting"}
_TOL = Tolerance.at_most(2.0, 2.5, reference="ACR MRI QC Manual 2015 : signal fantôme ≤ 2,5 % ; alerte proposée à 2 %")

_METRICS = (
    MetricSpec("ghosting_pct", "%", "Rapport de fantôme (ghosting)", "Ghosting ratio", _TOL, better="lower"),
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
    page="pages/mr_ghosting.py",
    description_fr=(
        "Fantôme uniforme : signal fantôme dans la direction du codage de phase (lue dans l'en-tête) par rapport au "
        "bruit de la direction de fréquence, en % du signal du fantôme (IPEM Report 112, ACR)."
    ),
    description_en=(
        "Uniform phantom: ghost signal along the phase-encoding direction (read from the header) relative to the "
        "noise along the frequency direction, in % of the phantom signal (IPEM Report 112, ACR)."
    ),
    accepts=".dcm,.ima,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:mr_ghosting_demo"
ROUTING = None  # received MR phantom images are not routed to the image-quality tests yet: they are uploaded on their study page
# The menu shows this test under its study page (the page that takes a whole upload and routes it to its tests).
MENU_GROUP = "mr-image"
# The demo database: every Wednesday of the last full month and the current one, after the uniformity.
DEMO = DemoSessions(make="qc.demo_inputs:mr_flood_session", gen="mr_flood", span="month", weekday=2, time="08:20",
                    args={"kind": "ghosting"}, seed_offset=2)
