"""Synthetic MR-Linac MRI QA series with known truth (Philips Marlin-like headers of a 1.5 T Unity).

- `b0_map_study`: a B0 field of known spherical-harmonic content (ppm) written as Philips B0 map series
  (ImageType ...\\B0 MAP\\..., RescaleType Hz, slope 0.1626, intercept −333, 256², 1.76 mm, 5 slices per
  orientation; each series also holds the magnitude images, as the console exports them).
- `gantry_phase_series`: the same base field plus a known gantry-dependent perturbation, as one dynamic
  FFE series (13 temporal positions, 3 slices, magnitude M_FFE and wrapped PHASE MAP images in mrad,
  intercept −3142, TE 15.66 ms).
- `b1_study`: a known relative-B1 map through the signal equation of spin echoes at 60° and 120°.
- `marker_phantom_series`: the large-FOV marker phantom (25 mm LR × AP grid, planes at HF −165…+165 mm)
  with a known smooth distortion field, a known set-up rotation/translation, noise and spikes.

What the analysers do not assume (the bias each adds is stated in docs/mr.md): Rician noise, coil
shading, a smooth receiver phase that the gantry difference must cancel, many phase wraps, 12-bit
quantisation of the B0 map, random values outside the phantom, partial volume at the phantom edge,
blurred spherical markers of varying brightness, isolated bright voxels that are not markers.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from qc.synthetic import new_uid

F0_MHZ = 63.8784
STATION = "UNITY-DEMO"
SERIAL = "DEMO-0001"
R0_MM = 250.0  # normalisation radius of the harmonics

ORIENTATIONS = {
    # name: (row direction, column direction); normal = row × column
    "transverse": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}


# ---------------------------------------------------------------- DICOM writing


def mr_image_bytes(
    stored: np.ndarray,
    *,
    acquired_at: dt.datetime,
    series_uid: str,
    series_number: int,
    description: str,
    image_type: tuple[str, ...],
    position_mm: np.ndarray,
    row_dir,
    col_dir,
    spacing_mm: tuple[float, float],
    slice_thickness_mm: float,
    instance: int,
    slope: float = 1.0,
    intercept: float = 0.0,
    rescale_type: str = "",
    echo_time_ms: float = 4.6,
    repetition_time_ms: float = 10.0,
    flip_angle_deg: float = 10.0,
    sequence: str = "GR",
    temporal: tuple[int, int] | None = None,
    study_uid: str | None = None,
) -> bytes:
    """One MR Image Storage file holding the stored values `stored` (uint16), through the shared MR
    writer `qc.synthetic.mr.mr_image_bytes` (Philips Marlin-like header), with this test's tags:
    RescaleType (Hz, mrad), ScanningSequence, TemporalPositionIdentifier / NumberOfTemporalPositions."""
    from qc.synthetic.mr import mr_image_bytes as write

    extra: dict = {"ScanningSequence": sequence}
    if rescale_type:
        extra["RescaleType"] = rescale_type
    if temporal is not None:
        extra["NumberOfTemporalPositions"] = temporal[1]
    return write(
        np.asarray(stored, np.float64) * slope + intercept,
        pixel_spacing_mm=tuple(spacing_mm),
        slice_thickness_mm=slice_thickness_mm,
        position_mm=[float(v) for v in position_mm],
        orientation=(*row_dir, *col_dir),
        series_uid=series_uid,
        series_number=series_number,
        series_description=description,
        instance_number=instance,
        image_type=tuple(image_type),
        acquired_at=acquired_at,
        echo_time_ms=echo_time_ms,
        repetition_time_ms=repetition_time_ms,
        flip_angle_deg=flip_angle_deg,
        imaging_frequency_mhz=F0_MHZ,
        temporal_position=None if temporal is None else temporal[0],
        station_name=STATION,
        device_serial=SERIAL,
        rescale_slope=slope,
        rescale_intercept=intercept,
        study_uid=study_uid,
        **extra,
    )


# ---------------------------------------------------------------- shared geometry


def plane_coordinates(orientation: str, offset_mm: float, n: int, spacing_mm: float) -> tuple[np.ndarray, np.ndarray, tuple, tuple]:
    """Pixel-centre coordinates (n, n, 3) of a centred square slice, its IPP and directions."""
    row_dir, col_dir = (np.array(v) for v in ORIENTATIONS[orientation])
    normal = np.cross(row_dir, col_dir)
    half = (n - 1) / 2.0 * spacing_mm
    ipp = normal * offset_mm - half * row_dir - half * col_dir
    idx = np.arange(n) * spacing_mm
    coords = ipp + idx[None, :, None] * row_dir + idx[:, None, None] * col_dir
    return coords, ipp, tuple(row_dir), tuple(col_dir)


def spherical_harmonics_ppm(coords: np.ndarray, coeffs: dict[str, float]) -> np.ndarray:
    """Field (ppm) of real solid harmonics up to order 3, coordinates normalised by R0_MM."""
    x, y, z = (coords[..., i] / R0_MM for i in range(3))
    terms = {
        "Z0": np.ones_like(x),
        "X": x,
        "Y": y,
        "Z": z,
        "Z2": z**2 - 0.5 * (x**2 + y**2),
        "ZX": z * x,
        "ZY": z * y,
        "X2-Y2": x**2 - y**2,
        "XY": x * y,
        "Z3": z**3 - 1.5 * z * (x**2 + y**2),
        "X3": x**3 - 3 * x * y**2,
    }
    out = np.zeros_like(x)
    for k, c in coeffs.items():
        out = out + c * terms[k]
    return out


# the phantom: an elliptical cylinder along HF (LR 240 mm, AP 190 mm semi-axes, HF ±240 mm)
PHANTOM_SEMI_MM = (240.0, 190.0, 240.0)


def phantom_fraction(coords: np.ndarray, shrink_mm: float = 0.0, edge_mm: float = 1.0) -> np.ndarray:
    """Phantom occupancy in [0, 1] (a soft edge of width `edge_mm`: partial volume)."""
    a, b, h = (s - shrink_mm for s in PHANTOM_SEMI_MM)
    rho = np.sqrt((coords[..., 0] / a) ** 2 + (coords[..., 1] / b) ** 2)
    d_in = np.minimum((1 - rho) * min(a, b), h - np.abs(coords[..., 2]))
    return np.clip(0.5 + d_in / edge_mm, 0.0, 1.0)


def coil_shading(coords: np.ndarray) -> np.ndarray:
    x, y, z = (coords[..., i] / R0_MM for i in range(3))
    return 1.0 + 0.25 * y**2 - 0.1 * z**2 + 0.05 * x


def rician(signal: np.ndarray, sd: float, rng: np.random.Generator) -> np.ndarray:
    return np.hypot(signal + rng.normal(0, sd, signal.shape), rng.normal(0, sd, signal.shape))


# ---------------------------------------------------------------- B0 map


DEFAULT_B0_COEFFS = {"Z0": 0.05, "X": 0.12, "Y": -0.2, "Z": 0.15, "Z2": 0.35, "ZX": -0.1, "XY": 0.08, "X2-Y2": 0.25, "Z3": 0.2}
B0_SLOPE, B0_INTERCEPT = 0.1626, -333.0


@dataclass
class B0Truth:
    """Per orientation: the true ppm map of each slice and the phantom interior (geometric)."""

    coeffs: dict[str, float]
    ppm: dict[str, list[np.ndarray]] = field(default_factory=dict)
    inside: dict[str, list[np.ndarray]] = field(default_factory=dict)
    coords: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def stats(self, orientation: str, dsv_mm: float) -> dict[str, float]:
        v = np.concatenate(
            [p[m & (np.einsum("ijk,ijk->ij", c, c) <= (dsv_mm / 2) ** 2)] for p, m, c in zip(self.ppm[orientation], self.inside[orientation], self.coords[orientation])]
        )
        return {"pk_pk": float(v.max() - v.min()), "sd": float(v.std()), "p95": float(np.percentile(np.abs(v - v.mean()), 95)), "mean": float(v.mean())}


def b0_map_study(
    acquired_at: dt.datetime,
    *,
    coeffs: dict[str, float] | None = None,
    n: int = 256,
    spacing_mm: float = 1.76,
    slice_offsets_mm=(-60.0, -30.0, 0.0, 30.0, 60.0),
    noise_hz: float = 0.5,
    seed: int = 0,
    orientations=("transverse", "coronal", "sagittal"),
) -> tuple[list[tuple[str, bytes]], B0Truth]:
    """Three B0 map series (one per orientation), each with magnitude and B0 map images."""
    rng = np.random.default_rng(seed)
    coeffs = dict(DEFAULT_B0_COEFFS if coeffs is None else coeffs)
    truth = B0Truth(coeffs)
    study = new_uid()
    files: list[tuple[str, bytes]] = []
    for si, ori in enumerate(orientations):
        uid = new_uid()
        truth.ppm[ori], truth.inside[ori], truth.coords[ori] = [], [], []
        for k, off in enumerate(slice_offsets_mm):
            coords, ipp, rd, cd = plane_coordinates(ori, off, n, spacing_mm)
            ppm = spherical_harmonics_ppm(coords, coeffs)
            frac = phantom_fraction(coords)
            hz = ppm * F0_MHZ + rng.normal(0, noise_hz, ppm.shape)
            hz = np.where(frac > 0.5, hz, rng.uniform(-300, 300, ppm.shape))  # no signal: random phase
            sv = np.clip(np.rint((hz - B0_INTERCEPT) / B0_SLOPE), 0, 4095)
            mag = rician(1000.0 * frac * coil_shading(coords), 15.0, rng)
            truth.ppm[ori].append(ppm)
            truth.inside[ori].append(phantom_fraction(coords, shrink_mm=2 * spacing_mm + 1.0) >= 1.0)
            truth.coords[ori].append(coords)
            common = dict(
                acquired_at=acquired_at, series_uid=uid, series_number=301 + 100 * si, description=f"{ori[0]} 2DFFE_B0",
                position_mm=ipp, row_dir=rd, col_dir=cd, spacing_mm=(spacing_mm, spacing_mm), slice_thickness_mm=10.0,
                echo_time_ms=4.6, repetition_time_ms=20.0, flip_angle_deg=25.0, study_uid=study,
            )
            files.append((f"b0_{ori}_{k + 1:02d}_M.dcm", mr_image_bytes(np.clip(np.rint(mag), 0, 65535), instance=2 * k + 1, image_type=("ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE"), **common)))
            files.append(
                (
                    f"b0_{ori}_{k + 1:02d}_B0.dcm",
                    mr_image_bytes(sv, instance=2 * k + 2, image_type=("DERIVED", "PRIMARY", "B0 MAP", "B0", "UNSPECIFIED"), slope=B0_SLOPE, intercept=B0_INTERCEPT, rescale_type="Hz", **common),
                )
            )
    return files, truth


# ---------------------------------------------------------------- B0 versus gantry angle


TE_GANTRY_MS = 15.66


def gantry_perturbation_ppm(coords: np.ndarray, angle_deg: float) -> np.ndarray:
    """Known gantry-induced field change (ppm) relative to gantry 0: steel of the rotating gantry
    adds low-order terms that follow the angle (zero at 0°)."""
    a = math.radians(angle_deg)
    return spherical_harmonics_ppm(
        coords, {"Z0": 0.04 * (1 - math.cos(a)), "X": 0.10 * math.sin(a), "Y": 0.06 * (math.cos(a) - 1), "XY": 0.03 * math.sin(2 * a), "X2-Y2": 0.02 * (1 - math.cos(2 * a))}
    )


@dataclass
class GantryTruth:
    angles_deg: list[float]
    diff_ppm: list[list[np.ndarray]]  # per angle, per slice: true change from gantry 0
    inside: list[np.ndarray]
    coords: list[np.ndarray]

    def stats(self, k: int, dsv_mm: float) -> dict[str, float]:
        v = np.concatenate([d[m & (np.einsum("ijk,ijk->ij", c, c) <= (dsv_mm / 2) ** 2)] for d, m, c in zip(self.diff_ppm[k], self.inside, self.coords)])
        return {"pk_pk": float(v.max() - v.min()), "sd": float(v.std()), "mean": float(v.mean())}


def gantry_phase_series(
    acquired_at: dt.datetime,
    *,
    n: int = 256,
    spacing_mm: float = 1.76,
    slice_offsets_mm=(-40.0, 0.0, 40.0),
    start_deg: float = -180.0,
    step_deg: float = 30.0,
    description: str = "SHIM_CHECK_30_deg_fwd (start at 180)",
    snr: float = 150.0,
    seed: int = 0,
) -> tuple[list[tuple[str, bytes]], GantryTruth]:
    """One dynamic FFE series: 13 temporal positions × 3 transverse slices × (magnitude, phase)."""
    rng = np.random.default_rng(seed)
    angles = [start_deg + k * step_deg for k in range(13)]
    uid, study = new_uid(), new_uid()
    files: list[tuple[str, bytes]] = []
    geo = [plane_coordinates("transverse", off, n, spacing_mm) for off in slice_offsets_mm]
    inside = [phantom_fraction(c, shrink_mm=2 * spacing_mm + 1.0) >= 1.0 for c, *_ in geo]
    base = [spherical_harmonics_ppm(c, DEFAULT_B0_COEFFS) * 6.0 for c, *_ in geo]  # unshimmed-looking: many wraps
    rx_phase = [0.8 + 1.5 * c[..., 0] / R0_MM - 0.7 * (c[..., 1] / R0_MM) ** 2 for c, *_ in geo]  # receiver phase
    te_s = TE_GANTRY_MS / 1000.0
    diffs: list[list[np.ndarray]] = []
    inst = 0
    for k, ang in enumerate(angles):
        per_slice = []
        for j, (coords, ipp, rd, cd) in enumerate(geo):
            d = gantry_perturbation_ppm(coords, ang)
            per_slice.append(d)
            frac = phantom_fraction(coords)
            amp = 1000.0 * frac * coil_shading(coords)
            phase = 2 * math.pi * (base[j] + d) * F0_MHZ * te_s + rx_phase[j]
            sd = 1000.0 / snr
            z = amp * np.exp(1j * phase) + rng.normal(0, sd, amp.shape) + 1j * rng.normal(0, sd, amp.shape)
            mag, ph = np.abs(z), np.angle(z)
            common = dict(
                acquired_at=acquired_at, series_uid=uid, series_number=801, description=description, position_mm=ipp, row_dir=rd, col_dir=cd,
                spacing_mm=(spacing_mm, spacing_mm), slice_thickness_mm=10.0, echo_time_ms=TE_GANTRY_MS, repetition_time_ms=30.0,
                flip_angle_deg=20.0, temporal=(k + 1, 13), study_uid=study,
            )
            inst += 1
            files.append((f"gantry_t{k + 1:02d}_s{j + 1}_M.dcm", mr_image_bytes(np.clip(np.rint(mag), 0, 65535), instance=inst, image_type=("ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE"), **common)))
            inst += 1
            sv = np.clip(np.rint(ph * 1000.0) + 3142, 0, 6284)
            files.append(
                (
                    f"gantry_t{k + 1:02d}_s{j + 1}_P.dcm",
                    mr_image_bytes(sv, instance=inst, image_type=("ORIGINAL", "PRIMARY", "PHASE MAP", "P", "FFE"), slope=1.0, intercept=-3142.0, rescale_type="mrad", **common),
                )
            )
        diffs.append(per_slice)
    return files, GantryTruth(angles, diffs, inside, [g[0] for g in geo])


# ---------------------------------------------------------------- B1 (double angle)


def b1_relative(coords: np.ndarray) -> np.ndarray:
    """Known relative B1 (1 = nominal): a central brightening and a left-right slope, as at 1.5 T."""
    x, y, z = (coords[..., i] / R0_MM for i in range(3))
    return 1.03 - 0.12 * (x**2 + y**2) - 0.05 * z**2 + 0.04 * x + 0.02 * y


@dataclass
class B1Truth:
    b1: dict[str, list[np.ndarray]] = field(default_factory=dict)
    inside: dict[str, list[np.ndarray]] = field(default_factory=dict)
    coords: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def stats(self, orientation: str, dsv_mm: float) -> dict[str, float]:
        v = np.concatenate([b[m & (np.einsum("ijk,ijk->ij", c, c) <= (dsv_mm / 2) ** 2)] for b, m, c in zip(self.b1[orientation], self.inside[orientation], self.coords[orientation])])
        return {"mean": float(v.mean()), "p5": float(np.percentile(v, 5)), "p95": float(np.percentile(v, 95)), "min": float(v.min())}


def b1_study(
    acquired_at: dt.datetime,
    *,
    n: int = 256,
    spacing_mm: float = 1.76,
    slice_offsets_mm=(0.0,),
    snr: float = 250.0,
    seed: int = 0,
    orientations=("transverse", "coronal", "sagittal"),
) -> tuple[list[tuple[str, bytes]], B1Truth]:
    """Spin-echo series at 60° and 120° per orientation, S(α) = M0·shading·sin(B1·α) + Rician noise
    (TR 5000 ms ≫ T1: no saturation term)."""
    rng = np.random.default_rng(seed)
    truth = B1Truth()
    study = new_uid()
    files: list[tuple[str, bytes]] = []
    num = 1001
    for ori in orientations:
        geo = [plane_coordinates(ori, off, n, spacing_mm) for off in slice_offsets_mm]
        truth.b1[ori] = [b1_relative(g[0]) for g in geo]
        truth.inside[ori] = [phantom_fraction(g[0], shrink_mm=2 * spacing_mm + 1.0) >= 1.0 for g in geo]
        truth.coords[ori] = [g[0] for g in geo]
        for alpha in (60.0, 120.0):
            uid = new_uid()
            for k, (coords, ipp, rd, cd) in enumerate(geo):
                s = 1500.0 * phantom_fraction(coords) * coil_shading(coords) * np.sin(np.radians(alpha) * truth.b1[ori][k])
                img = rician(s, 1500.0 / snr, rng)
                files.append(
                    (
                        f"b1_{ori}_{int(alpha)}_{k + 1}.dcm",
                        mr_image_bytes(
                            np.clip(np.rint(img), 0, 65535), acquired_at=acquired_at, series_uid=uid, series_number=num, description=f"{ori[0]} SE_B1_{int(alpha)}",
                            image_type=("ORIGINAL", "PRIMARY", "M_SE", "M", "SE"), position_mm=ipp, row_dir=rd, col_dir=cd, spacing_mm=(spacing_mm, spacing_mm),
                            slice_thickness_mm=10.0, instance=k + 1, echo_time_ms=20.0, repetition_time_ms=5000.0, flip_angle_deg=alpha, sequence="SE", study_uid=study,
                        ),
                    )
                )
            num += 100
    return files, truth


# ---------------------------------------------------------------- marker phantom (3-D geometric fidelity)

PLANES_HF_MM = (-165.0, -110.0, -55.0, 0.0, 55.0, 110.0, 165.0)
GRID_PITCH_MM = 25.0


def phantom_nodes(semi_lr_mm: float = 250.0, semi_ap_mm: float = 200.0, planes=PLANES_HF_MM, pitch: float = GRID_PITCH_MM) -> np.ndarray:
    """Nominal marker positions (LR, AP, HF) mm: grid nodes inside an ellipse, on every plane."""
    i = np.arange(-int(semi_lr_mm // pitch), int(semi_lr_mm // pitch) + 1) * pitch
    j = np.arange(-int(semi_ap_mm // pitch), int(semi_ap_mm // pitch) + 1) * pitch
    X, Y = np.meshgrid(i, j, indexing="ij")
    keep = (X / semi_lr_mm) ** 2 + (Y / semi_ap_mm) ** 2 <= 1.0 + 1e-9
    xy = np.stack([X[keep], Y[keep]], axis=1)
    return np.concatenate([np.column_stack([xy, np.full(len(xy), z)]) for z in planes])


def distortion_mm(p: np.ndarray) -> np.ndarray:
    """Known smooth distortion (mm) at physical positions p (N, 3): gradient-nonlinearity-like cubic
    terms, largest along AP, vanishing at the isocentre (≈ 2 mm at the far corners)."""
    x, y, z = (p[:, i] / R0_MM for i in range(3))
    r2 = x**2 + y**2 + z**2
    dx = 0.6 * x * r2 + 0.15 * x * y
    dy = 1.2 * y * r2 + 0.2 * (x**2 - z**2) * y
    dz = 0.5 * z * r2 - 0.1 * x * z
    return np.column_stack([dx, dy, dz])


def rotation_matrix(angles_deg) -> np.ndarray:
    """R = Rz·Ry·Rx for rotations (degrees) about LR (x), AP (y) and HF (z), applied x first."""
    ax, ay, az = (math.radians(a) for a in angles_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass
class MarkerTruth:
    nodes_mm: np.ndarray  # nominal (phantom frame)
    physical_mm: np.ndarray  # after the set-up transform
    image_mm: np.ndarray  # where the marker is imaged (physical + distortion)
    deviation_mm: np.ndarray  # image − physical = distortion
    rotation_deg: tuple[float, float, float]
    translation_mm: tuple[float, float, float]
    spikes_mm: np.ndarray


@dataclass
class VolumeSpec:
    rows: int = 512
    cols: int = 512
    n_slices: int = 400
    pixel_mm: float = 1.09
    slice_mm: float = 1.0
    # None: the Unity phantom's marker list (qc.mr.geometry_3d.UNITY_MARKER_COLUMNS); numbers: the grid
    # nodes inside an ellipse of these semi-axes (a phantom of another outline)
    semi_lr_mm: float | None = None
    semi_ap_mm: float | None = None


def marker_phantom_series(
    acquired_at: dt.datetime,
    *,
    volume: VolumeSpec | None = None,
    rotation_deg=(0.6, -0.4, 1.1),
    translation_mm=(1.5, -2.0, 0.8),
    marker_diameter_mm: float = 5.0,
    psf_sigma_mm: float = 0.6,
    snr: float = 60.0,
    n_spikes: int = 12,
    seed: int = 0,
    distortion: Callable[[np.ndarray], np.ndarray] = distortion_mm,
) -> tuple[Iterator[tuple[str, bytes]], MarkerTruth]:
    """The 3-D FFE transverse volume of the marker phantom, written slice by slice (a generator of
    files, so that a full-size 400 × 512² volume never sits in memory), and its truth.

    Background: Rician noise of SD 1 (signal-free foam); markers: blurred spheres (analytic
    Gaussian-blurred ball, sampled at voxel centres) of peak `snr` ×(1 ± 15 %) × a smooth shading;
    `n_spikes` single bright voxels away from the markers (not markers: must not be counted).
    """
    v = volume or VolumeSpec()
    rng = np.random.default_rng(seed)
    if v.semi_lr_mm is None or v.semi_ap_mm is None:
        from qc.mr.geometry_3d import phantom_marker_nodes

        nodes = phantom_marker_nodes()
    else:
        nodes = phantom_nodes(v.semi_lr_mm, v.semi_ap_mm)
    R = rotation_matrix(rotation_deg)
    phys = nodes @ R.T + np.asarray(translation_mm, float)
    dev = distortion(phys)
    img = phys + dev
    amp = snr * (1 + rng.uniform(-0.15, 0.15, len(img))) * (1 + 0.1 * img[:, 0] / R0_MM)
    # volume geometry: transverse slices, centred on the isocentre, z increasing with the index
    x0 = -(v.cols - 1) / 2 * v.pixel_mm
    y0 = -(v.rows - 1) / 2 * v.pixel_mm
    z0 = -(v.n_slices - 1) / 2 * v.slice_mm
    spikes = []
    while len(spikes) < n_spikes:
        p = np.array([rng.uniform(x0 + 10, -x0 - 10), rng.uniform(y0 + 10, -y0 - 10), rng.uniform(z0 + 5, -z0 - 5)])
        if np.min(np.linalg.norm(img - p, axis=1)) > 12:
            spikes.append(p)
    spikes_arr = np.array(spikes).reshape(-1, 3)
    truth = MarkerTruth(nodes, phys, img, dev, tuple(rotation_deg), tuple(translation_mm), spikes_arr)
    radius = marker_diameter_mm / 2
    reach = radius + 4 * psf_sigma_mm
    s2 = math.sqrt(2) * psf_sigma_mm

    def blurred_ball(r: np.ndarray) -> np.ndarray:
        from scipy.special import erf

        r = np.maximum(r, 1e-6)
        a = 0.5 * (erf((radius - r) / s2) + erf((radius + r) / s2))
        b = psf_sigma_mm / (r * math.sqrt(2 * math.pi)) * (np.exp(-((radius - r) ** 2) / (2 * psf_sigma_mm**2)) - np.exp(-((radius + r) ** 2) / (2 * psf_sigma_mm**2)))
        return a - b

    uid, study = new_uid(), new_uid()
    half = int(math.ceil(reach / v.pixel_mm)) + 1
    order = np.argsort(img[:, 2])
    zs_sorted = img[order, 2]
    slope = 0.05  # stored = value / slope (rescale slope 0.05: 20 counts per noise SD)

    def files() -> Iterator[tuple[str, bytes]]:
        for k in range(v.n_slices):
            z = z0 + k * v.slice_mm
            sig = np.zeros((v.rows, v.cols))
            lo, hi = np.searchsorted(zs_sorted, [z - reach, z + reach])
            for m in order[lo:hi]:
                c0 = int(round((img[m, 0] - x0) / v.pixel_mm))
                r0 = int(round((img[m, 1] - y0) / v.pixel_mm))
                cs = np.arange(max(c0 - half, 0), min(c0 + half + 1, v.cols))
                rs = np.arange(max(r0 - half, 0), min(r0 + half + 1, v.rows))
                if cs.size == 0 or rs.size == 0:
                    continue
                dx = (x0 + cs * v.pixel_mm - img[m, 0])[None, :]
                dy = (y0 + rs * v.pixel_mm - img[m, 1])[:, None]
                r = np.sqrt(dx**2 + dy**2 + (z - img[m, 2]) ** 2)
                sig[rs[0] : rs[-1] + 1, cs[0] : cs[-1] + 1] += amp[m] * blurred_ball(r)
            # magnitude of (signal + complex noise): Rician everywhere
            sl = np.hypot(sig + rng.normal(0, 1.0, sig.shape), rng.normal(0, 1.0, sig.shape))
            for p in spikes_arr:
                if abs(p[2] - z) < v.slice_mm / 2:
                    sl[int(round((p[1] - y0) / v.pixel_mm)), int(round((p[0] - x0) / v.pixel_mm))] += 30.0
            stored = np.clip(np.rint(sl / slope), 0, 65535)
            yield (
                f"geo3d_{k + 1:04d}.dcm",
                mr_image_bytes(
                    stored, acquired_at=acquired_at, series_uid=uid, series_number=1101, description="3D_GEO_LARGE_FOV", image_type=("ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE"),
                    position_mm=np.array([x0, y0, z]), row_dir=(1.0, 0.0, 0.0), col_dir=(0.0, 1.0, 0.0), spacing_mm=(v.pixel_mm, v.pixel_mm),
                    slice_thickness_mm=v.slice_mm, instance=k + 1, slope=slope, echo_time_ms=2.1, repetition_time_ms=4.5, flip_angle_deg=10.0, study_uid=study,
                ),
            )

    return files(), truth


# ---------------------------------------------------------------- the real Unity geometry phantom, realistic model


@dataclass
class UnityVolumeSpec:
    """The Marlin 3-D FFE geometry export: transverse slices of rows × cols at `pixel_mm`, one every
    `slice_mm` (2 mm acquired slices reconstructed every 1 mm), centred on the isocentre in LR/AP and
    on `centre_hf_mm` along HF."""

    rows: int = 512
    cols: int = 512
    n_slices: int = 400
    pixel_mm: float = 1.09375
    slice_mm: float = 1.0
    centre_hf_mm: float = 0.0


@dataclass
class UnityMarkerTruth:
    nodes_mm: np.ndarray  # nominal (phantom frame), every marker of the phantom's list
    physical_mm: np.ndarray  # after the set-up transform
    image_mm: np.ndarray  # where the marker is imaged (physical + deviation)
    deviation_mm: np.ndarray  # image − physical: known distortion + the edge displacement
    present: np.ndarray  # False: the marker is not imaged (missing near the phantom's edge)
    edge: np.ndarray  # in-plane radius beyond `edge_radius_mm`: blurred and displaced
    rotation_deg: tuple[float, float, float]
    translation_mm: tuple[float, float, float]
    plane_hf_mm: np.ndarray  # where each nominal plane's centre is imaged (HF, mm)

    def stats(self, dsv_mm: float, iso=(0.0, 0.0, 0.0)) -> dict[str, float]:
        """True max and 98th percentile of |deviation| over the imaged markers whose physical
        position lies within the sphere of diameter `dsv_mm` (the analyser's definition)."""
        sel = self.present & (np.linalg.norm(self.physical_mm - np.asarray(iso), axis=1) <= dsv_mm / 2)
        mag = np.linalg.norm(self.deviation_mm[sel], axis=1)
        return {"max": float(mag.max()), "p98": float(np.percentile(mag, 98)), "n": int(sel.sum())}


def sphere_ft(k: np.ndarray, radius_mm: float) -> np.ndarray:
    """Continuous Fourier transform of a uniform ball of radius R (unit inside), at spatial frequency
    |k| (cycles/mm): 4πR³ (sin a − a cos a) / a³ with a = 2π|k|R (limit 4πR³/3 at k = 0)."""
    a = 2 * math.pi * np.maximum(k, 1e-9) * radius_mm
    small = a < 1e-3
    out = 4 * math.pi * radius_mm**3 * (np.sin(a) - a * np.cos(a)) / a**3
    return np.where(small, 4 * math.pi * radius_mm**3 / 3, out)


def marker_spectrum(spacing_mm: tuple[float, float, float], n: int, radius_mm: float, kmax: tuple[float, float, float], blur_mm: float = 0.0, roll_off: float = 0.3) -> np.ndarray:
    """k-space (n³ grid, axes slice/row/col) of a unit ball of radius `radius_mm` as the scanner
    acquires it: truncated at |k_axis| ≤ kmax (1 / (2 × acquired voxel)) with a raised-cosine roll-off
    over the outer `roll_off` fraction of each axis (the reconstruction filter: it softens, does not
    remove, the Gibbs ringing), optionally blurred by a Gaussian of SD `blur_mm`."""
    ks = [np.fft.fftfreq(n, d) for d in spacing_mm]
    windows = []
    for k, km in zip(ks, kmax):
        u = np.abs(k) / km
        w = np.where(u <= 1 - roll_off, 1.0, 0.5 * (1 + np.cos(math.pi * np.clip((u - (1 - roll_off)) / max(roll_off, 1e-9), 0, 1))))
        windows.append(np.where(u <= 1, w, 0.0))
    kz, ky, kx = np.meshgrid(*ks, indexing="ij")
    kk = np.sqrt(kz**2 + ky**2 + kx**2)
    spec = sphere_ft(kk, radius_mm) * windows[0][:, None, None] * windows[1][None, :, None] * windows[2][None, None, :]
    if blur_mm > 0:
        spec = spec * np.exp(-2 * math.pi**2 * blur_mm**2 * kk**2)
    return spec / (spacing_mm[0] * spacing_mm[1] * spacing_mm[2])


def truncated_marker_patch(spectrum: np.ndarray, offset_mm: np.ndarray, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """The reconstructed image (n³ patch) of the ball whose acquired k-space is `spectrum`
    (`marker_spectrum`), centred `offset_mm` (HF, AP, LR) from the patch's central voxel (index n // 2):
    a flat top with Gibbs ringing, exactly band-limited (the shift is a phase ramp in k-space)."""
    from scipy import fft

    n = spectrum.shape[0]
    shift = np.asarray(offset_mm) + (n // 2) * np.asarray(spacing_mm)
    ph = [np.exp(-2j * math.pi * np.fft.fftfreq(n, d) * s).astype(np.complex64) for d, s in zip(spacing_mm, shift)]
    return fft.ifftn(spectrum * (ph[0][:, None, None] * ph[1][None, :, None] * ph[2][None, None, :])).real


def unity_marker_phantom_series(
    acquired_at: dt.datetime,
    *,
    volume: UnityVolumeSpec | None = None,
    rotation_deg=(0.7, -1.1, 1.4),
    translation_mm=(1.2, -1.6, -3.0),
    marker_diameter_mm: float = 8.0,
    acquired_voxel_mm: tuple[float, float] = (2.2, 2.0),
    plateau: float = 320.0,
    foam_level: float = 8.0,
    noise_sd: float = 4.0,
    edge_radius_mm: float = 230.0,
    edge_shift_mm: tuple[float, float] = (2.0, 4.5),
    edge_blur_mm: float = 1.2,
    edge_missing_fraction: float = 0.1,
    seed: int = 0,
    distortion: Callable[[np.ndarray], np.ndarray] = distortion_mm,
) -> tuple[Iterator[tuple[str, bytes]], UnityMarkerTruth]:
    """The Marlin 3-D FFE volume of the Unity geometry phantom, from what a real export shows:

    - the phantom's marker list (`qc.mr.geometry_3d.UNITY_MARKER_COLUMNS`: 25 mm grid inside an ellipse
      with a flat table side, AP −250…+125 mm) on 7 planes 55 mm apart, moved by a set-up rotation of
      a degree or two and a translation of a few mm (so the central plane is imaged a few mm off 0);
    - each marker a ball of `marker_diameter_mm` imaged with k-space truncated at the acquired voxel
      (`acquired_voxel_mm` in-plane, along HF) and reconstructed at 1.09 × 1.09 × 1 mm: a flat top
      about 7–8 pixels wide and 8–9 slices long with Gibbs ringing inside the plateau;
    - plateau signal rising from the centre to the edge (×1.18 at 225 mm) with ±8 % per marker;
    - beyond `edge_radius_mm` in-plane: markers blurred (`edge_blur_mm`), displaced by `edge_shift_mm`
      (in a random direction; part of the known deviation) and a fraction missing;
    - foam background (magnitude of `foam_level` + complex noise of SD `noise_sd`) inside the phantom
      outline (radius 265 mm, table side flat at AP +140 mm, HF ±190 mm), exactly 0 outside;
    - a known distortion `distortion` (mm, at physical positions) moving every marker's image.

    Slices are written one by one through slabs (a generator of files): the full 400 × 512² volume never
    sits in memory. Stored as uint16 with rescale slope 0.5.
    """
    from qc.mr.geometry_3d import phantom_marker_nodes

    v = volume or UnityVolumeSpec()
    rng = np.random.default_rng(seed)
    nodes = phantom_marker_nodes()
    R = rotation_matrix(rotation_deg)
    t = np.asarray(translation_mm, float)
    phys = nodes @ R.T + t
    rho = np.hypot(nodes[:, 0], nodes[:, 1])
    edge = rho > edge_radius_mm
    dev = distortion(phys)
    ang = rng.uniform(0, 2 * math.pi, len(nodes))
    mag = rng.uniform(*edge_shift_mm, len(nodes))
    dev[edge, 0] += (mag * np.cos(ang))[edge]
    dev[edge, 1] += (mag * np.sin(ang))[edge]
    img = phys + dev
    present = np.ones(len(nodes), bool)
    edge_idx = np.nonzero(edge)[0]
    present[rng.choice(edge_idx, int(round(edge_missing_fraction * len(edge_idx))), replace=False)] = False
    amp = plateau * (1 + 0.18 * (rho / 225.0) ** 2) * (1 + rng.uniform(-0.08, 0.08, len(nodes)))
    planes = np.unique(nodes[:, 2])
    plane_hf = np.array([(R @ np.array([0.0, 0.0, z]) + t)[2] for z in planes])
    truth = UnityMarkerTruth(nodes, phys, img, dev, present, edge, tuple(rotation_deg), tuple(translation_mm), plane_hf)

    x0 = -(v.cols - 1) / 2 * v.pixel_mm
    y0 = -(v.rows - 1) / 2 * v.pixel_mm
    z0 = v.centre_hf_mm - (v.n_slices - 1) / 2 * v.slice_mm
    spacing = (v.slice_mm, v.pixel_mm, v.pixel_mm)
    kmax = (1 / (2 * acquired_voxel_mm[1]), 1 / (2 * acquired_voxel_mm[0]), 1 / (2 * acquired_voxel_mm[0]))
    n = 32  # patch of ≈ 32 mm: the ringing tails reach the neighbours (25 mm), as in a real volume
    half = n // 2
    spectra = {b: marker_spectrum(spacing, n, marker_diameter_mm / 2, kmax, b).astype(np.complex64) for b in (0.0, edge_blur_mm)}
    idx = np.nonzero(present)[0]
    centre_vox = np.column_stack([(img[idx, 2] - z0) / v.slice_mm, (img[idx, 1] - y0) / v.pixel_mm, (img[idx, 0] - x0) / v.pixel_mm])
    c0 = np.rint(centre_vox).astype(int)
    order = np.argsort(c0[:, 0])
    xs = (x0 + np.arange(v.cols) * v.pixel_mm)[None, :]
    ys = (y0 + np.arange(v.rows) * v.pixel_mm)[:, None]
    outline = (np.hypot(xs, ys) <= 265.0) & (ys <= 140.0)
    uid, study = new_uid(), new_uid()
    slope = 0.5
    slab_n = 24

    def slab(k0: int, k1: int) -> np.ndarray:
        """Signal (complex foam + real markers, before noise) of slices k0..k1−1."""
        out = np.zeros((k1 - k0, v.rows, v.cols), np.float32)
        lo, hi = np.searchsorted(c0[order, 0], [k0 - half, k1 + half])
        for j in order[lo:hi]:
            m = idx[j]
            off = (centre_vox[j] - c0[j]) * np.array(spacing)
            p = amp[m] * truncated_marker_patch(spectra[edge_blur_mm if edge[m] else 0.0], off, spacing)
            a = c0[j] - half
            lo_v = np.maximum(a, [k0, 0, 0])
            hi_v = np.minimum(a + n, [k1, v.rows, v.cols])
            if np.any(hi_v <= lo_v):
                continue
            out[lo_v[0] - k0 : hi_v[0] - k0, lo_v[1] : hi_v[1], lo_v[2] : hi_v[2]] += p[lo_v[0] - a[0] : hi_v[0] - a[0], lo_v[1] - a[1] : hi_v[1] - a[1], lo_v[2] - a[2] : hi_v[2] - a[2]]
        return out

    def files() -> Iterator[tuple[str, bytes]]:
        for k0 in range(0, v.n_slices, slab_n):
            k1 = min(k0 + slab_n, v.n_slices)
            sig = slab(k0, k1)
            for k in range(k0, k1):
                z = z0 + k * v.slice_mm
                inside = outline & (abs(z) <= 190.0)
                re = sig[k - k0] + np.float32(foam_level) + np.float32(noise_sd) * rng.standard_normal(sig.shape[1:], dtype=np.float32)
                im = np.float32(noise_sd) * rng.standard_normal(sig.shape[1:], dtype=np.float32)
                value = np.where(inside, np.hypot(re, im), 0.0)
                stored = np.clip(np.rint(value / slope), 0, 65535)
                yield (
                    f"geom3d_{k + 1:04d}.dcm",
                    mr_image_bytes(
                        stored, acquired_at=acquired_at, series_uid=uid, series_number=1401, description="3D_GEOM_QA:3D,FFE", image_type=("ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE"),
                        position_mm=np.array([x0, y0, z]), row_dir=(1.0, 0.0, 0.0), col_dir=(0.0, 1.0, 0.0), spacing_mm=(v.pixel_mm, v.pixel_mm),
                        slice_thickness_mm=2.0, instance=k + 1, slope=slope, echo_time_ms=2.3, repetition_time_ms=5.0, flip_angle_deg=10.0, study_uid=study,
                    ),
                )

    return files(), truth


# a reduced volume for unit tests: the real export's pixels (1.09375 mm), slices (1 mm) and 512² field
# of view (so the phantom's edge markers are in it), but 150 slices (HF −75…+74 mm: the 3 central planes)
UNITY_SMALL_VOLUME = UnityVolumeSpec(n_slices=150)


# ---------------------------------------------------------------- demo sessions


def demo_study(acquired_at: dt.datetime, seed: int = 0, small_volume: bool = True) -> list[tuple[str, bytes]]:
    """A whole exported MR-Linac QA study: B0 maps, the gantry sweep, B1 pairs and a (reduced) marker volume."""
    files: list[tuple[str, bytes]] = []
    files += b0_map_study(acquired_at, seed=seed)[0]
    files += gantry_phase_series(acquired_at, seed=seed)[0]
    files += b1_study(acquired_at, seed=seed)[0]
    gen, _ = marker_phantom_series(acquired_at, volume=SMALL_VOLUME if small_volume else None, seed=seed)
    files += list(gen)
    return files


# a reduced volume for unit tests and the demo: the real phantom's grid and planes, 1.09 mm pixels and
# 1.5 mm slices, but a 327 mm field of view that crops the phantom's outer markers (the analyser
# counts only the markers fully inside the volume)
SMALL_VOLUME = VolumeSpec(rows=300, cols=300, n_slices=248, pixel_mm=1.09, slice_mm=1.5)
