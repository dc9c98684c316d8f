"""Synthetic MVIC-Champ images (rectangular MLC/diaphragm fields on the Unity MV imager) with known truth.

Owns: the physics-like model of one field image and the department's 5-image demo session.

Model (mm at the isocentre, x along u, y along v (downwards), origin at the beam axis / CAX pixel):
    dose = cone(r) · [T + (1 − T) · A(x, y)]  ⊛  Gaussian(σ_penumbra)
where A is the geometric aperture (product of four half-planes, one per edge line, each
anti-aliased over 0.3 px), cone(r) = exp(−(r / r0)^1.3) an FFF-like fall-off from the axis
(r0 = 300 mm gives ≈ 0.85 at 75 mm; None = flat beam), T the transmission under the MLC (≈ 1 %,
domain.md §1), and the Gaussian blur gives error-function penumbrae (80–20 % = 1.683 σ).
Convolving (cone × aperture) rather than multiplying a blurred aperture by the cone keeps the
inflection point of a sloped FFF edge within bσ²/a of the geometric edge (< 0.03 mm here).
Then Gaussian noise (fraction of the open signal) and the Unity inverted raw scale are applied,
and the DICOM is written with the real Unity header geometry (`qc.synthetic.rt_image_bytes`).

Truth (`FieldTruth`) uses the analyser's documented definitions, computed here independently
from the generating lines: edges = signed perpendicular distance from the CAX to each edge line
(normal oriented to +x / +y); corners = intersections of adjacent edges; centre = mean of the
corners; sizes = distance between opposite edges along their mean normal through the centre;
rotation = mean angle of the four edges vs the image axes (positive = clockwise as displayed,
u right / v down); corner angles = interior angles.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from scipy.ndimage import gaussian_filter
from scipy.special import erf

from qc.synthetic import (
    UNITY_CAX_PX,
    UNITY_COLS,
    UNITY_PIXEL_ISO_MM,
    UNITY_ROWS,
    rt_image_bytes,
    unity_raw_from_signal,
)

#: The department's weekly session as generated for the demo (documented assumption, domain.md §3 and
#: §13.2): the three nominal fields of the prior app, the two larger ones delivered twice (first and
#: last of the session, so that a repeat checks reproducibility), all at gantry 0°.
DEMO_SESSION_FIELDS_MM: tuple[tuple[float, float], ...] = ((150, 80), (85, 85), (50, 50), (150, 80), (85, 85))


@dataclass
class FieldTruth:
    """What the analyser should find (mm at the isocentre, relative to the CAX; degrees)."""

    size_x_mm: float
    size_y_mm: float
    centre_x_mm: float
    centre_y_mm: float
    edge_x1_mm: float
    edge_x2_mm: float
    edge_y1_mm: float
    edge_y2_mm: float
    rotation_deg: float
    corner_angles_deg: dict[str, float]  # "tl", "tr", "br", "bl"
    penumbra_mm: float  # 80–20 % of the error-function edge (1.683 σ)
    cax_px: tuple[float, float]
    params: dict = field(default_factory=dict)

    @property
    def corner_angle_max_dev_deg(self) -> float:
        return max(abs(a - 90.0) for a in self.corner_angles_deg.values())


def _unit(angle_rad: float) -> np.ndarray:
    return np.array([np.cos(angle_rad), np.sin(angle_rad)])


def _edge_lines(size_x_mm, size_y_mm, centre, rotation_deg, tilt_x2_deg):
    """(point on line, outward unit normal) for x1, x2, y1, y2."""
    th = np.deg2rad(rotation_deg)
    ex = _unit(th)
    ey = np.array([-np.sin(th), np.cos(th)])
    c = np.asarray(centre, dtype=float)
    return {
        "x1": (c - ex * size_x_mm / 2, -ex),
        "x2": (c + ex * size_x_mm / 2, _unit(th + np.deg2rad(tilt_x2_deg))),
        "y1": (c - ey * size_y_mm / 2, -ey),
        "y2": (c + ey * size_y_mm / 2, ey),
    }


def _intersect(l1, l2) -> np.ndarray:
    (p1, n1), (p2, n2) = l1, l2
    # n·x = n·p for both lines
    a = np.array([n1, n2])
    b = np.array([n1 @ p1, n2 @ p2])
    return np.linalg.solve(a, b)


def _truth(lines, penumbra_sigma_mm, cax_px, params) -> FieldTruth:
    def signed(key):
        p, n = lines[key]
        m = -n if key in ("x1", "y1") else n  # normal oriented to +x / +y
        return float(m @ p), m

    e = {k: signed(k) for k in lines}
    corners = {
        "tl": _intersect(lines["y1"], lines["x1"]),
        "tr": _intersect(lines["y1"], lines["x2"]),
        "br": _intersect(lines["y2"], lines["x2"]),
        "bl": _intersect(lines["y2"], lines["x1"]),
    }
    centre = np.mean(list(corners.values()), axis=0)

    def size(k1, k2):
        mn = e[k1][1] + e[k2][1]
        mn /= np.linalg.norm(mn)
        # centre + t·mn hits line k where m·(centre + t·mn) = offset
        ts = [(e[k][0] - e[k][1] @ centre) / (e[k][1] @ mn) for k in (k1, k2)]
        return abs(ts[1] - ts[0])

    def interior(at, a, b):
        v1 = corners[a] - corners[at]
        v2 = corners[b] - corners[at]
        return float(np.degrees(np.arccos(v1 @ v2 / np.linalg.norm(v1) / np.linalg.norm(v2))))

    angles = {
        "tl": interior("tl", "tr", "bl"),
        "tr": interior("tr", "tl", "br"),
        "br": interior("br", "tr", "bl"),
        "bl": interior("bl", "tl", "br"),
    }
    # rotation: angle of each oriented normal from its image axis
    rots = []
    for k in ("x1", "x2"):
        m = e[k][1]
        rots.append(np.degrees(np.arctan2(m[1], m[0])))
    for k in ("y1", "y2"):
        m = e[k][1]
        rots.append(np.degrees(np.arctan2(-m[0], m[1])))
    return FieldTruth(
        size_x_mm=float(size("x1", "x2")),
        size_y_mm=float(size("y1", "y2")),
        centre_x_mm=float(centre[0]),
        centre_y_mm=float(centre[1]),
        edge_x1_mm=e["x1"][0],
        edge_x2_mm=e["x2"][0],
        edge_y1_mm=e["y1"][0],
        edge_y2_mm=e["y2"][0],
        rotation_deg=float(np.mean(rots)),
        corner_angles_deg=angles,
        penumbra_mm=float(2 * 0.8416212335729143 * penumbra_sigma_mm),
        cax_px=cax_px,
        params=params,
    )


def field_signal(
    size_x_mm: float,
    size_y_mm: float,
    *,
    centre_x_mm: float = 0.0,
    centre_y_mm: float = 0.0,
    rotation_deg: float = 0.0,
    tilt_x2_deg: float = 0.0,
    penumbra_sigma_mm: float = 2.5,
    fff_r0_mm: float | None = 300.0,
    cone_centre_mm: tuple[float, float] = (0.0, 0.0),
    penumbra_sigma_out_mm: float | None = None,
    tail_weight: float = 0.0,
    tail_sigma_mm: float = 15.0,
    transmission: float = 0.01,
    noise_rel: float = 0.005,
    cax_px: tuple[float, float] = UNITY_CAX_PX,
    pixel_mm: float = UNITY_PIXEL_ISO_MM,
    shape: tuple[int, int] = (UNITY_ROWS, UNITY_COLS),
    rng: np.random.Generator | int | None = 0,
) -> tuple[np.ndarray, FieldTruth]:
    """Relative dose image (1 ≈ open field on the axis) of one rectangular field, and its truth.

    `centre_*` place the field centre relative to the beam axis (CAX pixel `cax_px` = (u0, v0)),
    `rotation_deg` turns the whole field (positive = clockwise as displayed), `tilt_x2_deg` turns
    only the right edge (x2) about its midpoint to make two corners non-square, `cone_centre_mm`
    moves the apex of the FFF cone off the beam axis (a steered beam: the FFF peak moves).

    Edges that are NOT the analyser's model (for its bias table): `penumbra_sigma_out_mm` makes every
    edge an asymmetric penumbra (split-normal: σ = `penumbra_sigma_mm` inside, this σ outside; the
    50 % point and the steepest point stay on the geometric edge), and `tail_weight` mixes in a
    long scatter tail (that fraction of the dose blurred by `tail_sigma_mm` instead).
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    rows, cols = shape
    u0, v0 = cax_px
    x = (np.arange(cols, dtype=float) - u0) * pixel_mm
    y = (np.arange(rows, dtype=float) - v0) * pixel_mm
    lines = _edge_lines(size_x_mm, size_y_mm, (centre_x_mm, centre_y_mm), rotation_deg, tilt_x2_deg)
    aa = 0.3 * pixel_mm * np.sqrt(2)  # anti-aliasing of the sharp aperture edge
    aperture = np.ones(shape)
    for p, n in lines.values():
        # signed distance inside = −n·(q − p) = n·p − n_x·x − n_y·y (separable outer sum); an edge parallel to an
        # axis depends on one coordinate only: its column or row, broadcast (the same numbers, a 1024th of the erf calls)
        if n[0] == 0.0:
            dist = (n @ p) - (n[1] * y)[:, None]
        elif n[1] == 0.0:
            dist = (n @ p) - (n[0] * x)[None, :]
        else:
            dist = (n @ p) - np.add.outer(n[1] * y, n[0] * x)
        if penumbra_sigma_out_mm is None:
            aperture *= 0.5 * (1 + erf(dist / aa))
        else:  # the penumbra itself, split-normal (no blur below)
            sig = np.where(dist >= 0, penumbra_sigma_mm, penumbra_sigma_out_mm)
            aperture *= 0.5 * (1 + erf(dist / (np.sqrt(2) * sig)))
    if fff_r0_mm:
        r = np.hypot.outer(y - cone_centre_mm[1], x - cone_centre_mm[0])
        cone = np.exp(-((r / fff_r0_mm) ** 1.3))
    else:
        cone = 1.0
    base = cone * (transmission + (1 - transmission) * aperture)
    dose = base if penumbra_sigma_out_mm is not None else gaussian_filter(base, penumbra_sigma_mm / pixel_mm, mode="nearest", truncate=4.0)
    if tail_weight:
        dose = (1 - tail_weight) * dose + tail_weight * gaussian_filter(base, tail_sigma_mm / pixel_mm, mode="nearest", truncate=4.0)
    if noise_rel > 0:
        dose = dose + rng.normal(0.0, noise_rel, shape)
    params = dict(
        size_x_mm=size_x_mm,
        size_y_mm=size_y_mm,
        centre_x_mm=centre_x_mm,
        centre_y_mm=centre_y_mm,
        rotation_deg=rotation_deg,
        tilt_x2_deg=tilt_x2_deg,
        penumbra_sigma_mm=penumbra_sigma_mm,
        fff_r0_mm=fff_r0_mm,
        cone_centre_mm=cone_centre_mm,
        penumbra_sigma_out_mm=penumbra_sigma_out_mm,
        tail_weight=tail_weight,
        tail_sigma_mm=tail_sigma_mm,
        transmission=transmission,
        noise_rel=noise_rel,
    )
    return dose, _truth(lines, penumbra_sigma_mm, tuple(cax_px), params)


def field_image(
    size_x_mm: float,
    size_y_mm: float,
    *,
    acquired_at: dt.datetime = dt.datetime(2025, 1, 6, 8, 0, 0),
    label: str = "MVICIMRTSegment",
    gantry_deg: float = 0.0,
    header_jaws_mm: tuple[tuple[float, float], tuple[float, float]] | None = None,
    extra: dict | None = None,
    **kwargs,
) -> tuple[bytes, FieldTruth]:
    """A Unity RT Image (DICOM bytes, inverted polarity) of one field, and its truth.

    Keyword arguments are those of `field_signal` (offsets, rotation, tilt, penumbra, FFF, noise...).
    `header_jaws_mm` = ((X1, X2), (Y1, Y2)) writes the commanded jaws into the header (Exposure Sequence ›
    Beam Limiting Device Sequence, ASYMX/ASYMY, mm at the isocentre), as a linac that records them does;
    `extra` sets other header attributes (e.g. RTImageDescription).
    """
    dose, truth = field_signal(size_x_mm, size_y_mm, **kwargs)
    extra = dict(extra or {})
    if header_jaws_mm is not None:
        extra["ExposureSequence"] = exposure_sequence(*header_jaws_mm)
    data = rt_image_bytes(unity_raw_from_signal(dose), acquired_at=acquired_at, label=label, gantry_deg=gantry_deg, extra=extra)
    return data, truth


def exposure_sequence(x_mm: tuple[float, float], y_mm: tuple[float, float], mlc: tuple[list[float], list[float]] | None = None) -> Sequence:
    """An RT Image Exposure Sequence with one exposure whose jaws are at `x_mm`, `y_mm` (ASYMX, ASYMY) and,
    when given, an MLCX of (leaf positions bank A + bank B, leaf position boundaries)."""
    devices = []
    for kind, pos in (("ASYMX", x_mm), ("ASYMY", y_mm)):
        d = Dataset()
        d.RTBeamLimitingDeviceType = kind
        d.NumberOfLeafJawPairs = 1
        d.LeafJawPositions = [f"{v:.4f}" for v in pos]
        devices.append(d)
    if mlc is not None:
        positions, boundaries = mlc
        d = Dataset()
        d.RTBeamLimitingDeviceType = "MLCX"
        d.NumberOfLeafJawPairs = len(positions) // 2
        d.LeafPositionBoundaries = [f"{v:.4f}" for v in boundaries]
        d.LeafJawPositions = [f"{v:.4f}" for v in positions]
        devices.append(d)
    exp = Dataset()
    exp.BeamLimitingDeviceSequence = Sequence(devices)
    return Sequence([exp])


def demo_session(
    acquired_at: dt.datetime = dt.datetime(2025, 1, 6, 8, 0, 0),
    rng_seed: int = 0,
    size_drift_mm: float = 0.0,
    centre_drift_mm: tuple[float, float] = (0.0, 0.0),
    rotation_deg: float = 0.0,
    jitter_mm: float = 0.1,
    fields_mm: tuple[tuple[float, float], ...] = DEMO_SESSION_FIELDS_MM,
) -> list[tuple[str, bytes]]:
    """The department's 5-image MVIC-Champ session (`DEMO_SESSION_FIELDS_MM`), one minute apart.

    `size_drift_mm` is added to both sides of every field, `centre_drift_mm` moves every field
    centre (x, y), `rotation_deg` turns every field; `jitter_mm` is a random per-image spread
    (seeded) so a demo trend is not flat.
    """
    return [(name, data) for name, data, _ in demo_session_with_truth(
        acquired_at, rng_seed, size_drift_mm, centre_drift_mm, rotation_deg, jitter_mm, fields_mm
    )]


def demo_session_with_truth(
    acquired_at: dt.datetime = dt.datetime(2025, 1, 6, 8, 0, 0),
    rng_seed: int = 0,
    size_drift_mm: float = 0.0,
    centre_drift_mm: tuple[float, float] = (0.0, 0.0),
    rotation_deg: float = 0.0,
    jitter_mm: float = 0.1,
    fields_mm: tuple[tuple[float, float], ...] = DEMO_SESSION_FIELDS_MM,
) -> list[tuple[str, bytes, FieldTruth]]:
    """`demo_session` with each image's truth."""
    rng = np.random.default_rng(rng_seed)
    out = []
    for i, (sx, sy) in enumerate(fields_mm):
        j = rng.normal(0.0, jitter_mm, 4) if jitter_mm > 0 else np.zeros(4)
        data, truth = field_image(
            sx + size_drift_mm + j[0],
            sy + size_drift_mm + j[1],
            centre_x_mm=centre_drift_mm[0] + j[2],
            centre_y_mm=centre_drift_mm[1] + j[3],
            rotation_deg=rotation_deg,
            acquired_at=acquired_at + dt.timedelta(minutes=i),
            rng=rng,
        )
        out.append((f"MVIC_{i + 1}_{sx:g}x{sy:g}.dcm", data, truth))
    return out
