"""Synthetic Winston-Lutz sessions with known truth (Unity geometry by default).

Physical model, written independently of `qc.mv.winston_lutz` (which assumes none of it):
- Room = IEC 61217 fixed frame (X right facing the gantry, Y towards the gantry, Z up); the image
  axes are u = +X_r and v = −Y_r (DICOM RTImageOrientation default).
- Each gantry angle has its own beam axis: through `a(θ) = axis_wobble(θ)` (mm, in the plane
  through the nominal isocentre), the source on that axis at SAD. The BB (a tungsten sphere) sits at
  `bb_mm` in the room; its shadow is a divergent projection (magnification by depth), attenuation =
  exp(−μ·chord) with μ set for the requested contrast.
- The field is an MLC aperture of 3 Unity leaf pairs (7.1 mm) × `field_mm`: each pair's gap is
  perturbed (±0.15 mm, centre kept) so the field is not separable; leaf-end and leaf-side
  penumbrae are two-component (a narrow and a wide error function, different on each axis), the
  leaves transmit 0.5 %, the FFF cone is radial, the cryostat adds an oblique ripple and a tilt,
  the whole image is blurred (source + imager) and scatter plus noise are added. The imager sags
  with the gantry (which moves field and BB alike).
Truth per image: the CAX→BB vector (mm at the isocentre, image u/v, exact divergent projection);
per session: the gantry isocentre diameter (smallest sphere touching the true axes, computed by
a brute-force Nelder–Mead here, not by the analyser's solver) and the BB shift (least-squares
point of the true axes − BB). The analyser ignores divergence: its bias is < 0.01 mm at 3 mm.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, optimize
from scipy.special import erf

from qc.synthetic import (
    UNITY_CAX_PX,
    UNITY_COLS,
    UNITY_PANEL_PITCH_MM,
    UNITY_ROWS,
    UNITY_SAD_MM,
    UNITY_SID_MM,
    rt_image_bytes,
)

LEAF_WIDTH_MM = 7.1


@dataclass
class WLTruth:
    gantry_deg: list[float]
    cax2bb_uv_mm: list[tuple[float, float]]
    gantry_iso_size_mm: float
    bb_shift_mm: tuple[float, float, float]
    params: dict = field(default_factory=dict)

    @property
    def cax2bb_mm(self) -> list[float]:
        return [math.hypot(u, v) for u, v in self.cax2bb_uv_mm]


def _axes(theta_deg: float):
    g = math.radians(theta_deg)
    xr = np.array([math.cos(g), 0.0, -math.sin(g)])
    yr = np.array([0.0, 1.0, 0.0])
    beam = np.array([-math.sin(g), 0.0, -math.cos(g)])
    return xr, -yr, beam  # image u, image v, beam


def default_wobble(theta_deg: float, amplitude_mm: float = 0.25) -> np.ndarray:
    """A gantry-sag-like wobble of the beam axis (room frame, mm): up to ~`amplitude_mm`."""
    g = math.radians(theta_deg)
    u, v, _ = _axes(theta_deg)
    return amplitude_mm * (0.8 * math.sin(g) + 0.3 * math.cos(2 * g)) * u + amplitude_mm * (0.6 * math.cos(g) - 0.2 * math.sin(3 * g)) * (-v)


def _edge(d: np.ndarray, s1: float, s2: float, w2: float) -> np.ndarray:
    """Two-component penumbra: fraction inside at signed distance d (mm, > 0 inside)."""
    return (1 - w2) * 0.5 * (1 + erf(d / (s1 * math.sqrt(2)))) + w2 * 0.5 * (1 + erf(d / (s2 * math.sqrt(2))))


def wl_signal(
    theta_deg: float,
    bb_mm: np.ndarray,
    axis_point_mm: np.ndarray,
    *,
    field_mm: float = 20.0,
    bb_diameter_mm: float = 6.0,
    bb_contrast: float = 0.05,
    noise_rel: float = 0.004,
    sag_px: tuple[float, float] = (0.0, 0.0),
    leaf_gap_error_mm: float = 0.15,
    scatter: float = 0.02,
    ripple: float = 0.015,
    cone_round_mm: float = 10.0,
    flattened: bool = False,
    rng: np.random.Generator,
    shape: tuple[int, int] = (UNITY_ROWS, UNITY_COLS),
    pitch_mm: float = UNITY_PANEL_PITCH_MM,
    sid_mm: float = UNITY_SID_MM,
    sad_mm: float = UNITY_SAD_MM,
    cax_px: tuple[float, float] = UNITY_CAX_PX,
) -> tuple[np.ndarray, tuple[float, float]]:
    """Relative dose image (1 ≈ open beam) for one gantry angle, and the true CAX→BB (u, v) in mm at iso."""
    u_ax, v_ax, beam = _axes(theta_deg)
    px_iso = pitch_mm * sad_mm / sid_mm
    a = np.asarray(axis_point_mm, float)
    a = a - (a @ beam) * beam  # the axis point in the nominal iso plane
    source = a - sad_mm * beam
    b = np.asarray(bb_mm, float)
    depth = (b - source) @ beam
    p = source + (b - source) * (sad_mm / depth)  # divergent projection of the BB centre on the iso plane
    ax_u, ax_v = float(a @ u_ax), float(a @ v_ax)
    bb_u, bb_v = float(p @ u_ax), float(p @ v_ax)
    truth = (bb_u - ax_u, bb_v - ax_v)

    rows, cols = shape
    u0, v0 = cax_px[0] + sag_px[0], cax_px[1] + sag_px[1]
    # only a window around the field is computed; the rest is scatter and leakage
    half = int((field_mm / 2 + 25.0) / px_iso)
    cu, cv = int(round(u0 + ax_u / px_iso)), int(round(v0 + ax_v / px_iso))
    r0, r1 = max(0, cv - half), min(rows, cv + half + 1)
    c0, c1 = max(0, cu - half), min(cols, cu + half + 1)
    x = (np.arange(c0, c1) - u0) * px_iso
    y = (np.arange(r0, r1) - v0) * px_iso
    xx, yy = np.meshgrid(x - ax_u, y - ax_v)  # relative to the beam axis
    # aperture: 3 leaf pairs along v, each with its own gap (centre kept), leaf ends along u
    n_pairs = 3
    y_half = n_pairs * LEAF_WIDTH_MM / 2
    gaps = field_mm / 2 + rng.uniform(-leaf_gap_error_mm, leaf_gap_error_mm, n_pairs)
    pair = np.clip(np.floor((yy + y_half) / LEAF_WIDTH_MM).astype(int), 0, n_pairs - 1)
    gap = gaps[pair]
    ends = _edge(gap - np.abs(xx), 1.4, 4.0, 0.25)
    sides = _edge(y_half - np.abs(yy), 1.1, 3.0, 0.15)
    aperture = 0.005 + 0.995 * ends * sides
    # FFF cone: exp(−(ρ/160)^1.25) far from the axis, rounded within ~cone_round_mm of it (a bremsstrahlung
    # fluence has a smooth top: NCS-33 fits its peak with a parabola); cone_round_mm = 0 gives the pure cusp
    rho = np.hypot(xx, yy)
    cone = np.exp(-((np.sqrt(rho**2 + cone_round_mm**2) ** 1.25 - cone_round_mm**1.25) / 160.0**1.25))
    if flattened:  # a flattened beam (C-arm linac): no cone over a 2 cm field
        cone = np.ones_like(rho)
    # BB shadow (divergent magnification of its radius), tungsten chord attenuation
    r_bb = bb_diameter_mm / 2 * sad_mm / depth
    rho2 = (x[None, :] - bb_u) ** 2 + (y[:, None] - bb_v) ** 2
    chord = 2 * np.sqrt(np.clip(r_bb**2 - rho2, 0, None))
    mu = -math.log(1 - bb_contrast) / bb_diameter_mm
    transmission = np.exp(-mu * chord)
    local = aperture * cone * transmission
    local = ndimage.gaussian_filter(local, 0.55 / px_iso, mode="nearest")
    img = np.full(shape, 0.005 * 0.6)
    img[r0:r1, c0:c1] = np.maximum(img[r0:r1, c0:c1], local)
    # cryostat: oblique ripple and tilt; scatter; noise
    X = (np.arange(cols) - u0)[None, :] * px_iso
    Y = (np.arange(rows) - v0)[:, None] * px_iso
    cryo = 1 + ripple * np.sin(2 * np.pi * (0.8 * X + 0.6 * Y) / 55.0 + 0.7) + 0.0008 * X - 0.0005 * Y
    img = img * cryo + scatter * np.exp(-(X**2 + Y**2) / (2 * 60.0**2))
    img = img + rng.normal(0.0, noise_rel, shape)
    return img, truth


def _truth_iso(points: list[np.ndarray], dirs: list[np.ndarray]) -> float:
    """Minimax sphere diameter by brute force (Nelder–Mead on the max distance, several starts)."""
    p = np.array(points)
    d = np.array(dirs)

    def fmax(c):
        diff = c[None, :] - p
        along = np.sum(diff * d, axis=1)
        return float(np.max(np.linalg.norm(diff - along[:, None] * d, axis=1)))

    best = None
    rng = np.random.default_rng(1)
    for start in [np.zeros(3)] + [rng.normal(0, 0.5, 3) for _ in range(6)]:
        r = optimize.minimize(fmax, start, method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 20000, "maxfev": 40000})
        if best is None or r.fun < best.fun:
            best = r
    return 2 * float(best.fun)


def unity_session(
    gantry_deg: list[float],
    bb_mm: tuple[float, float, float],
    *,
    acquired_at: dt.datetime = dt.datetime(2026, 3, 2, 7, 30),
    wobble_mm: float = 0.25,
    seed: int = 0,
    bb_diameter_mm: float = 6.0,
    bb_contrast: float = 0.05,
    noise_rel: float = 0.004,
    inverted: bool = True,
    angles_in_header: bool = True,
    file_stem: str = "WL",
    field_mm: float = 20.0,
    **image_kwargs,
) -> tuple[list[tuple[str, bytes]], WLTruth]:
    """A Unity WL session: one RT Image per gantry angle, and its truth."""
    rng = np.random.default_rng(seed)
    files: list[tuple[str, bytes]] = []
    uv, points, dirs = [], [], []
    for i, g in enumerate(gantry_deg):
        a = default_wobble(g, wobble_mm)
        sag = (1.5 * math.sin(math.radians(g)), 2.0 * (1 - math.cos(math.radians(g))))
        dose, truth = wl_signal(g, np.array(bb_mm, float), a, field_mm=field_mm, bb_diameter_mm=bb_diameter_mm,
                                bb_contrast=bb_contrast, noise_rel=noise_rel, sag_px=sag, rng=rng, **image_kwargs)
        uv.append(truth)
        _, _, beam = _axes(g)
        points.append(a - (a @ beam) * beam)
        dirs.append(beam)
        raw = np.clip(np.rint(65535.0 - dose * 40000.0 if inverted else dose * 40000.0 + 1000.0), 0, 65535).astype(np.uint16)
        extra = {} if angles_in_header else None
        # the header carries the geometry the image was drawn with (Unity by default; `pitch_mm`, `sid_mm`, `sad_mm`)
        data = rt_image_bytes(raw, acquired_at=acquired_at + dt.timedelta(seconds=40 * i), label="MVIC WL", gantry_deg=g % 360.0, extra=extra,
                              panel_pitch_mm=image_kwargs.get("pitch_mm", UNITY_PANEL_PITCH_MM),
                              sid_mm=image_kwargs.get("sid_mm", UNITY_SID_MM), sad_mm=image_kwargs.get("sad_mm", UNITY_SAD_MM))
        if not angles_in_header:
            import io

            import pydicom

            ds = pydicom.dcmread(io.BytesIO(data))
            del ds.GantryAngle
            buf = io.BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            data = buf.getvalue()
        files.append((f"{file_stem}_G{int(round(g % 360.0)):03d}_{i:02d}.dcm", data))
    # BB shift truth: least-squares point of the true axes minus the BB
    a_mat = np.zeros((3, 3))
    rhs = np.zeros(3)
    for p, d in zip(points, dirs):
        proj = np.eye(3) - np.outer(d, d)
        a_mat += proj
        rhs += proj @ p
    centre = np.linalg.lstsq(a_mat, rhs, rcond=None)[0]
    shift = tuple(float(v) for v in centre - np.array(bb_mm, float))
    iso = _truth_iso(points, dirs)
    return files, WLTruth(list(gantry_deg), uv, iso, shift, dict(bb_mm=bb_mm, wobble_mm=wobble_mm, seed=seed, bb_diameter_mm=bb_diameter_mm, bb_contrast=bb_contrast))


def demo_session(acquired_at: dt.datetime, rng_seed: int = 0) -> list[tuple[str, bytes]]:
    """The demo: 8 gantry angles, BB 0.4 mm left, 0.3 mm towards the couch foot, 0.2 mm up of the isocentre."""
    files, _ = unity_session([0, 45, 90, 135, 180, 225, 270, 315], (-0.4, -0.3, 0.2), acquired_at=acquired_at, seed=rng_seed)
    return files


def implanted_bb_bytes(data: bytes, profile: tuple[np.ndarray, np.ndarray], old_uv: tuple[float, float],
                       new_uv: tuple[float, float], background: float, inverted: bool, gain: np.ndarray | None = None) -> bytes:
    """A real WL image with its BB moved: the BB's radial attenuation `profile` (radius px, −log transmission,
    0 at its last knot) is divided out at `old_uv` and multiplied in at `new_uv` (pixels). The field, its
    penumbrae, its noise and whatever else the image holds stay as they were, so the true field centre does not
    move and the implanted BB's centre is `new_uv` exactly (a sphere's shadow is radially symmetric). Dose is
    taken as the signal above `background` (the out-of-field level, which the BB does not attenuate);
    `inverted`: dose lowers the raw value. Files without file meta (the pylinac demo) are read as Implicit VR
    Little Endian. `gain` (image-shaped): the dose is also multiplied by it (e.g. a rounded field top).
    Used to put a real session's BB 3 mm off the field centre (tests, bench)."""
    import io

    import pydicom

    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    if not getattr(ds, "file_meta", None) or "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    raw = ds.pixel_array
    a = raw.astype(float)
    dose = ((a.max() - a) if inverted else (a - a.min())) - background
    vv, uu = np.mgrid[0 : a.shape[0], 0 : a.shape[1]].astype(float)
    knots, att = (np.asarray(x, float) for x in profile)

    def at(u: float, v: float) -> np.ndarray:
        r = np.hypot(uu - u, vv - v)
        return np.where(r <= knots[-1], np.interp(r, knots, att), 0.0)

    delta = dose * (np.exp(at(*old_uv) - at(*new_uv)) * (1.0 if gain is None else gain) - 1.0)
    new = a - delta if inverted else a + delta
    ds.PixelData = np.clip(np.rint(new), 0, np.iinfo(raw.dtype).max).astype(raw.dtype).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
