"""3-D geometric fidelity of the MR-Linac images with the large-FOV marker phantom (test key "mr-geometry-3d").

Owns the consortium programme's geometry measure (Wetscherek et al.; defaults of the public WAD-QC module
MRL_GeomAcc): a 3-D FFE transverse volume (real Marlin export: 400 slices of 512² at 1.09375 mm, 2 mm slices
every 1 mm) of the Unity geometry phantom: markers on a 25 mm left-right (LR) × anterior-posterior (AP) grid
(the phantom's marker list `UNITY_MARKER_COLUMNS`: an ellipse-like outline, AP −250…+125 mm with a flat table
side, 276 markers) in 7 planes 55 mm apart at head-foot (HF) −165 … +165 mm. On the real volume each marker is
a flat-topped blob ≈ 8 mm wide and 8–9 slices long with Gibbs ringing inside its plateau (peak 250–430),
the foam background ≈ 9 (SD ≈ 4), the air exactly 0, the central plane imaged a few mm off 0 (set-up).
Steps and definitions:

1. Volume read slice by slice into one preallocated array of the stored type (uint16/int16, ≈ 210 MB
   for 400 × 512²; float32 only when slices have different rescale slopes): bounded memory, never a
   list of decoded slices. Coordinates are patient LPS mm (x = LR, y = AP, z = HF) from
   ImagePositionPatient (interpolated between slices), ImageOrientationPatient and PixelSpacing.
2. Background b and noise σ = 1.4826·MAD from the non-zero voxels of a sparse sample (air set to 0 by
   the scanner would give MAD = 0); bright level P = its 99.9th percentile (the markers' plateau).
   Threshold = b + max(k·σ, 0.15·(P − b)) (k = 10 by default). Only slabs of slices holding voxels
   above it are labelled (3-D, 6-connectivity): a ringing plateau stays one blob (its dips are far
   above the threshold). Typical marker size = median size of the blobs of ≥ 8 voxels (taken from the
   data, no marker diameter assumed); a blob is a marker when its size lies within 25 %…400 % of it, other
   blobs are listed (too small / too large), not used.
3. Sub-voxel centre = centroid of (I − local background) over an ellipsoid of the typical blob's half
   extent + 2 voxels per axis (voxels below 5 % of the window's peak excess left out), re-centred three
   times; local background = median of the window's box outside the ellipsoid (foam inside the
   phantom, air outside). Centres closer than half a marker
   are one marker split in two blobs, kept once.
4. Planes: markers sorted by HF and split at gaps of more than a quarter of the plane spacing; the
   central plane is the measured one nearest the nominal central plane, wherever it lies (not assumed
   at 0). Set-up (rotation about LR, AP, HF then translation, R = Rz·Ry·Rx) fitted by least squares on
   the markers within ±25 mm of the measured central plane matched to the nominal central plane's nodes
   within 50 mm of the isocentre (started from the measured plane's HF offset), then 100 mm, bounded
   to ±5 mm and ±4° (as the consortium; a fit at a bound is reported).
5. Every node moved by the fitted set-up is matched to the nearest measured marker within half a
   pitch. Deviation of a marker = its measured centre − its set-up node. Within the spheres DSV 200,
   300, 400 and 500 mm about the isocentre (a marker belongs to a DSV when its set-up node does): max
   |deviation| and 98th percentile of |deviation|; plus markers found / expected, each expected marker
   not found listed in a warning (never silently dropped), each blob matched to no node listed too.

Expected markers: the nodes of the marker list (or, option `phantom_semi_axes_mm`, of another
phantom: the grid nodes inside that ellipse) on each plane (options `planes_hf_mm`, `grid_pitch_mm`)
whose set-up position lies inside the imaged volume by the centroid window plus one voxel; markers cut
by the edge of a volume that does not cover the whole phantom are listed, neither expected nor judged.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pydicom

from qc.errors import QCInputError
from qc.i18n import t
from qc.mr import linac_draw as draw
from qc.mr.linac_series import GEOMETRY, SliceHeader, acquisition_of, identity_of, series_of_test
from qc.tolerances import Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, Routing, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = GEOMETRY
DSVS_MM = (200.0, 300.0, 400.0, 500.0)
PLANES_HF_MM = (-165.0, -110.0, -55.0, 0.0, 55.0, 110.0, 165.0)
GRID_PITCH_MM = 25.0
SEMI_AXES_MM = (250.0, 200.0)
FIT_RADII_MM = (50.0, 100.0)
BOUND_TRANSLATION_MM = 5.0
BOUND_ROTATION_DEG = 4.0
THRESHOLD_SIGMA = 10.0
MAX_SLAB_SLICES = 64  # slices labelled at once (memory bound)
WINDOW_MARGIN_VOX = 2.0  # centroid window beyond the typical blob's half extent (voxels)
WEIGHT_FLOOR = 0.05  # centroid weights below this fraction of the window's peak excess are left out

# The Unity geometry phantom's marker list (consortium programme, published with the WAD-QC module
# MRL_GeomAcc): on each plane, the 25 mm grid nodes of an ellipse-like outline with a flat table side.
# One row per LR column: (LR mm, lowest AP mm, highest AP mm), every 25 mm from the lowest to the highest.
UNITY_MARKER_COLUMNS: tuple[tuple[float, float, float], ...] = (
    (-250.0, -50.0, 50.0), (-225.0, -100.0, 125.0), (-200.0, -150.0, 125.0), (-175.0, -175.0, 125.0),
    (-150.0, -200.0, 125.0), (-125.0, -200.0, 125.0), (-100.0, -225.0, 125.0), (-75.0, -225.0, 125.0),
    (-50.0, -250.0, 125.0), (-25.0, -250.0, 125.0), (0.0, -250.0, 125.0), (25.0, -250.0, 125.0),
    (50.0, -250.0, 125.0), (75.0, -225.0, 125.0), (100.0, -225.0, 125.0), (125.0, -200.0, 125.0),
    (150.0, -200.0, 125.0), (175.0, -175.0, 125.0), (200.0, -150.0, 125.0), (225.0, -100.0, 125.0),
    (250.0, -50.0, 50.0),
)


# ---------------------------------------------------------------- volume


@dataclass
class Volume:
    """A transverse volume in stored or float units, and how to turn indices into patient mm."""

    data: np.ndarray  # (slices, rows, cols)
    positions_mm: np.ndarray  # ImagePositionPatient of each slice (n, 3)
    row_dir: np.ndarray
    col_dir: np.ndarray
    spacing_mm: tuple[float, float]  # (between rows, between columns)
    slope: float
    intercept: float

    def to_value(self, stored):
        return np.asarray(stored, np.float32) * np.float32(self.slope) + np.float32(self.intercept)

    def from_value(self, value: float) -> float:
        return (value - self.intercept) / self.slope

    def index_to_mm(self, kji: np.ndarray) -> np.ndarray:
        """(N, 3) fractional (slice, row, col) → (N, 3) patient mm."""
        k, j, i = kji[:, 0], kji[:, 1], kji[:, 2]
        n = len(self.positions_mm)
        base = np.column_stack([np.interp(k, np.arange(n), self.positions_mm[:, a]) for a in range(3)])
        return base + (i * self.spacing_mm[1])[:, None] * self.row_dir + (j * self.spacing_mm[0])[:, None] * self.col_dir

    @property
    def slice_step_mm(self) -> float:
        if len(self.positions_mm) < 2:
            return 1.0
        return float(np.median(np.linalg.norm(np.diff(self.positions_mm, axis=0), axis=1)))


def _stored_scale(ds: pydicom.Dataset) -> tuple[float, float]:
    """(slope, intercept) of a file: Real World Value Mapping first, then RescaleSlope/Intercept."""
    rwv = ds.get("RealWorldValueMappingSequence")
    if rwv:
        item = rwv[0]
        if float(item.get("RealWorldValueSlope", 0) or 0) != 0:
            return float(item.RealWorldValueSlope), float(item.get("RealWorldValueIntercept", 0) or 0)
    return float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)


def read_volume(slices: list[SliceHeader], lang: str = "fr", progress: Callable[[float, str], None] | None = None) -> Volume:
    """Decode the slices one by one into one preallocated array of the stored type (see the module
    docstring). When the files do not share one rescale, the volume is rebuilt in float32 from the
    reader's rescaled pixels (twice the memory; not seen in Philips exports)."""
    from pydicom.pixels import pixel_array

    first = slices[0]
    for s in slices:
        if (s.rows, s.cols) != (first.rows, first.cols) or not np.allclose(s.orientation, first.orientation, atol=1e-3) or not np.allclose(s.pixel_spacing_mm, first.pixel_spacing_mm, atol=1e-4):
            raise QCInputError("mrl.err.volume_mixed", file=s.file.filename)
    order = sorted(slices, key=lambda s: s.along_normal_mm)
    pos = np.array([s.along_normal_mm for s in order])
    if np.any(np.diff(pos) < 1e-3):
        dup = order[int(np.argmin(np.diff(pos)))]
        raise QCInputError("mrl.err.volume_duplicate", file=dup.file.filename, pos=dup.along_normal_mm)
    data = None
    n = len(order)
    scales: set[tuple[float, float]] = set()
    cached: tuple[str, pydicom.Dataset] | None = None  # one Enhanced MR file holds many frames
    for k, s in enumerate(order):
        try:
            if cached is None or cached[0] != s.file.sha256:
                cached = (s.file.sha256, pydicom.dcmread(io.BytesIO(s.data)))
            ds = cached[1]
            arr = np.asarray(pixel_array(ds, index=s.frame_index) if s.frame_index is not None else ds.pixel_array)
        except Exception:
            raise QCInputError("err.decode", file=s.file.filename, syntax="?") from None
        if arr.ndim == 3:
            arr = arr[0]
        scales.add(_stored_scale(ds))
        if data is None:
            data = np.empty((n, first.rows, first.cols), dtype=arr.dtype)
        data[k] = arr
        if progress is not None and (k % 20 == 0 or k == n - 1):
            progress(0.6 * (k + 1) / n, t("mrl.geo.progress_read", lang, k=k + 1, n=n))
    cached = None
    if len(scales) == 1:
        slope, intercept = scales.pop()
    else:
        data = None
        data = np.empty((n, first.rows, first.cols), dtype=np.float32)
        for k, s in enumerate(order):
            data[k] = s.source.pixels
        slope, intercept = 1.0, 0.0
    return Volume(
        data=data,
        positions_mm=np.array([s.position_mm for s in order]),
        row_dir=first.orientation[:3],
        col_dir=first.orientation[3:],
        spacing_mm=first.pixel_spacing_mm,
        slope=slope if slope != 0 else 1.0,
        intercept=intercept,
    )


# ---------------------------------------------------------------- detection


@dataclass
class Detection:
    centres_mm: np.ndarray  # (N, 3) accepted markers
    peaks: np.ndarray
    rejected: list[dict[str, Any]]
    background: float
    noise_sd: float
    threshold: float
    marker_voxels: float = 0.0  # typical marker size (voxels above the threshold)
    window_vox: tuple[float, float, float] = (0.0, 0.0, 0.0)  # centroid window semi-axes (slice, row, col)


def noise_level(vol: Volume) -> tuple[float, float, float]:
    """(background, noise SD, bright level) from a sparse sample (every 3rd slice, 7th row and column).

    Background = median and SD = 1.4826·MAD of the sample's non-zero voxels: a scanner that sets the
    air outside the phantom to exactly 0 (as the Marlin 3-D export does) would otherwise give a zero
    MAD when air fills half the volume. Bright level = 99.9th percentile of the whole sample: the
    markers fill ≈ 0.4 % of the Unity phantom's volume, so this lies on their plateau."""
    sample = vol.to_value(vol.data[::3, ::7, ::7]).ravel()
    zero = np.float32(vol.to_value(0))
    nonzero = sample[sample != zero]
    use = nonzero if nonzero.size >= 0.05 * sample.size else sample
    med = float(np.median(use))
    mad = float(np.median(np.abs(use - med)))
    bright = float(np.percentile(sample, 99.9))
    return med, max(1.4826 * mad, 1e-6 * max(abs(med), 1.0)), bright


def _slabs(counts: np.ndarray, pad: int, gap: int) -> list[tuple[int, int]]:
    idx = np.nonzero(counts > 0)[0]
    if idx.size == 0:
        return []
    runs, start, prev = [], idx[0], idx[0]
    for k in idx[1:]:
        if k - prev > gap + 1:
            runs.append((start, prev))
            start = k
        prev = k
    runs.append((start, prev))
    n = len(counts)
    out: list[tuple[int, int]] = []
    for a, b in runs:
        a, b = max(0, a - pad), min(n, b + pad + 1)
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _bounded(slabs: list[tuple[int, int]], counts: np.ndarray, max_len: int) -> list[tuple[int, int]]:
    """Slabs longer than `max_len` slices cut at their emptiest slice within each second half-length,
    so the label array stays bounded (≈ 70 MB for 64 × 512²) even when something bright runs along
    the whole volume; between marker planes the emptiest slice holds no marker, so none is cut."""
    out: list[tuple[int, int]] = []
    for a, b in slabs:
        while b - a > max_len:
            lo = a + max_len // 2
            cut = lo + int(np.argmin(counts[lo : a + max_len]))
            out.append((a, cut))
            a = cut
        out.append((a, b))
    return out


def refine_centre(vol: Volume, centre_kji: np.ndarray, radius_vox: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Centroid of (I − b) in an ellipsoidal window of semi-axes `radius_vox` centred on the nearest
    voxel of the previous estimate, re-centred `iterations` times. b = median of the box corners
    outside the ellipsoid (the local background: foam inside the phantom, air outside). Voxels whose
    excess is below `WEIGHT_FLOOR` (5 %) of the window's largest are left out: background noise and foam
    on one side of a marker near the air would pull the centroid; the Gibbs ringing of a flat-topped
    marker is symmetric about its centre, so a whole plateau, dips included, weighs as one marker.
    (Floor 0, 5, 10, 20 % on the models: max error within 250 mm 0.093, 0.045, 0.062, 0.117 mm on
    smooth 5 mm markers, 0.022, 0.028, 0.034, 0.058 mm on the realistic ones; 0.61, 0.44-0.50, 0.39-0.43,
    0.31-0.34 mm on the worst blurred edge marker.)"""
    c = centre_kji.astype(float)
    shape = np.array(vol.data.shape)
    half = np.ceil(radius_vox).astype(int) + 1
    for _ in range(iterations):
        ci = np.rint(c).astype(int)
        lo = np.maximum(ci - half, 0)
        hi = np.minimum(ci + half + 1, shape)
        patch = vol.to_value(vol.data[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])
        kk, jj, ii = np.meshgrid(*(np.arange(lo[a], hi[a]) for a in range(3)), indexing="ij")
        rr = ((kk - ci[0]) / radius_vox[0]) ** 2 + ((jj - ci[1]) / radius_vox[1]) ** 2 + ((ii - ci[2]) / radius_vox[2]) ** 2
        inside = rr <= 1.0
        outside = patch[~inside]
        b = float(np.median(outside)) if outside.size else 0.0
        excess = patch - np.float32(b)
        keep = inside if WEIGHT_FLOOR <= 0 else inside & (excess > WEIGHT_FLOOR * float(excess[inside].max(initial=0.0)))
        w = np.where(keep, excess, 0.0).astype(np.float64)
        total = w.sum()
        if total <= 0:
            break
        new = np.array([(w * kk).sum(), (w * jj).sum(), (w * ii).sum()]) / total
        if np.any(np.abs(new - ci) > half):  # walked off the window: keep the previous estimate
            break
        c = new
    return c


def _blobs(vol: Volume, raw_thr: float, background: float, lang: str, progress) -> list[dict[str, Any]]:
    """Connected components (6-connectivity) of the voxels above the threshold, labelled slab by slab
    (only the slabs of slices holding such voxels): size, bounding-box extent, first centroid, peak."""
    from scipy import ndimage

    n = vol.data.shape[0]
    counts = np.zeros(n, np.int64)
    for k in range(0, n, 16):
        counts[k : k + 16] = (vol.data[k : k + 16] > raw_thr).sum(axis=(1, 2))
    blobs: list[dict[str, Any]] = []
    slabs = _bounded(_slabs(counts, pad=2, gap=2), counts, MAX_SLAB_SLICES)
    for si, (a, b) in enumerate(slabs):
        labels, nlab = ndimage.label(vol.data[a:b] > raw_thr)
        for lab, sl in enumerate(ndimage.find_objects(labels), start=1):
            if sl is None:
                continue
            region = labels[sl] == lab
            vals = vol.to_value(vol.data[a:b][sl][region]) - np.float32(background)
            kji = np.argwhere(region).astype(float) + np.array([s.start for s in sl])
            first = (vals[:, None] * kji).sum(axis=0) / max(float(vals.sum()), 1e-12)
            first[0] += a
            blobs.append({"kji": first, "voxels": int(region.sum()), "extent": np.array([s.stop - s.start for s in sl], float), "peak": float(vals.max() + background)})
        del labels
        if progress is not None:
            progress(0.6 + 0.3 * (si + 1) / len(slabs), t("mrl.geo.progress_detect", lang, k=si + 1, n=len(slabs)))
    return blobs


def detect_markers(vol: Volume, threshold_sigma: float, lang: str = "fr", progress=None, merge_mm: float | None = None) -> Detection:
    """Markers as blobs above the threshold, sized like the typical marker, centred to sub-voxel.

    Threshold = b + max(k·σ, 0.15·(bright − b)) (`noise_level`): k·σ keeps pure noise out, the
    fraction of the marker plateau keeps a near-noise-free background from joining the markers. A
    flat-topped marker with Gibbs ringing stays one blob (its dips stay far above the threshold).
    Typical marker size = median size of the blobs of ≥ 8 voxels (noise specks left out); a blob is a
    marker when its size lies within 25 %…400 % of it, otherwise it is listed (small/large), not used.
    Centre: `refine_centre` with a window of the typical blob's half extent + 2 voxels per axis; two
    centres closer than half a marker extent (`merge_mm`, default) are one marker split in two blobs."""
    bg, sd, bright = noise_level(vol)
    thr = bg + max(threshold_sigma * sd, 0.15 * (bright - bg))
    blobs = _blobs(vol, vol.from_value(thr), bg, lang, progress)
    rejected: list[dict[str, Any]] = []
    if not blobs:
        return Detection(np.zeros((0, 3)), np.zeros(0), rejected, bg, sd, thr)
    sizes = np.array([b["voxels"] for b in blobs], float)
    # typical marker: the median size of the blobs of at least 8 voxels (noise specks and single bright
    # voxels left out; markers outnumber any other bright object of a marker phantom)
    sized = sizes[sizes >= 8]
    typical = float(np.median(sized if sized.size else sizes))
    lo_vox, hi_vox = max(3.0, 0.25 * typical), 4.0 * typical
    ok = [b for b in blobs if lo_vox <= b["voxels"] <= hi_vox]
    for b in blobs:
        if not lo_vox <= b["voxels"] <= hi_vox:
            rejected.append({"kji": b["kji"], "voxels": b["voxels"], "why": "small" if b["voxels"] < lo_vox else "large", "peak": b["peak"]})
    half_extent = np.median(np.array([b["extent"] for b in ok]), axis=0) / 2 if ok else np.ones(3)
    radius_vox = half_extent + WINDOW_MARGIN_VOX
    centres = np.array([refine_centre(vol, b["kji"], radius_vox) for b in ok]).reshape(-1, 3)
    peaks = np.array([b["peak"] for b in ok])
    centres_mm = vol.index_to_mm(centres) if len(centres) else np.zeros((0, 3))
    steps = np.array([vol.slice_step_mm, vol.spacing_mm[0], vol.spacing_mm[1]])
    limit = merge_mm if merge_mm is not None else float(np.min(half_extent * steps))
    centres_mm, peaks = _merge_close(centres_mm, peaks, limit)
    for r in rejected:
        r["mm"] = vol.index_to_mm(r.pop("kji")[None, :])[0]
    return Detection(centres_mm, peaks, rejected, bg, sd, thr, typical, tuple(float(v) for v in radius_vox))


def _merge_close(centres_mm: np.ndarray, peaks: np.ndarray, limit_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Centres closer than `limit_mm`: one marker (its blob split by the threshold), kept once (the
    mean of the refined centres, which converge to the same marker)."""
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    if len(centres_mm) < 2 or limit_mm <= 0:
        return centres_mm, peaks
    pairs = cKDTree(centres_mm).query_pairs(limit_mm, output_type="ndarray")
    if len(pairs) == 0:
        return centres_mm, peaks
    from scipy.sparse import coo_matrix

    n = len(centres_mm)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, lab = connected_components(graph, directed=False)
    out = np.array([centres_mm[lab == g].mean(axis=0) for g in range(lab.max() + 1)])
    pk = np.array([peaks[lab == g].max() for g in range(lab.max() + 1)])
    return out, pk


# ---------------------------------------------------------------- grid, matching and set-up


def rotation_matrix(angles_deg) -> np.ndarray:
    """R = Rz·Ry·Rx for rotations (degrees) about LR (x), AP (y) and HF (z), applied x first."""
    ax, ay, az = (math.radians(a) for a in angles_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def grid_nodes(semi_axes_mm=SEMI_AXES_MM, planes=PLANES_HF_MM, pitch: float = GRID_PITCH_MM) -> np.ndarray:
    """Nominal marker positions (LR, AP, HF) mm: grid nodes inside the ellipse, on every plane."""
    a, b = semi_axes_mm
    i = np.arange(-int(a // pitch), int(a // pitch) + 1) * pitch
    j = np.arange(-int(b // pitch), int(b // pitch) + 1) * pitch
    X, Y = np.meshgrid(i, j, indexing="ij")
    keep = (X / a) ** 2 + (Y / b) ** 2 <= 1.0 + 1e-9
    xy = np.stack([X[keep], Y[keep]], axis=1)
    return np.concatenate([np.column_stack([xy, np.full(len(xy), z)]) for z in planes])


def phantom_marker_nodes(planes=PLANES_HF_MM, columns=UNITY_MARKER_COLUMNS, pitch: float = GRID_PITCH_MM) -> np.ndarray:
    """Nominal marker positions (LR, AP, HF) mm of the Unity phantom: its marker list (`columns`:
    LR, lowest and highest AP, every `pitch` mm) on every plane (276 markers per plane, 1 932 in all)."""
    xy = [(lr, ap) for lr, lo, hi in columns for ap in np.arange(lo, hi + pitch / 2, pitch)]
    xy_arr = np.array(xy, float)
    return np.concatenate([np.column_stack([xy_arr, np.full(len(xy_arr), z)]) for z in planes])


@dataclass
class SetUp:
    rotation_deg: np.ndarray
    translation_mm: np.ndarray
    n_markers: int
    at_bound: bool
    rms_mm: float

    def apply(self, nodes: np.ndarray, iso: np.ndarray) -> np.ndarray:
        return (nodes - iso) @ rotation_matrix(self.rotation_deg).T + iso + self.translation_mm


def fit_setup(nodes: np.ndarray, measured: np.ndarray, iso: np.ndarray, start: np.ndarray | None = None) -> SetUp:
    """Bounded least-squares rigid transform (±4°, ±5 mm) taking the nodes onto the measured centres."""
    from scipy.optimize import least_squares

    def residual(p):
        return ((nodes - iso) @ rotation_matrix(p[:3]).T + iso + p[3:] - measured).ravel()

    lo = np.array([-BOUND_ROTATION_DEG] * 3 + [-BOUND_TRANSLATION_MM] * 3)
    x0 = np.zeros(6) if start is None else np.clip(start, lo * 0.999, -lo * 0.999)
    res = least_squares(residual, x0, bounds=(lo, -lo), x_scale=np.array([0.1] * 3 + [1.0] * 3), xtol=1e-12, ftol=1e-12, gtol=1e-12)
    at_bound = bool(np.any(np.abs(res.x) >= -lo * 0.999))
    rms = float(np.sqrt(np.mean(res.fun.reshape(-1, 3) ** 2) * 3)) if len(measured) else float("nan")
    return SetUp(res.x[:3].copy(), res.x[3:].copy(), len(measured), at_bound, rms)


def match(predicted: np.ndarray, measured: np.ndarray, limit_mm: float) -> np.ndarray:
    """For each predicted node, the index of its measured marker (−1: none): mutual nearest within
    `limit_mm` (a marker claimed by two nodes goes to the nearer)."""
    from scipy.spatial import cKDTree

    out = np.full(len(predicted), -1)
    if len(measured) == 0 or len(predicted) == 0:
        return out
    d, j = cKDTree(measured).query(predicted, distance_upper_bound=limit_mm)
    best: dict[int, tuple[float, int]] = {}
    for i, (dd, jj) in enumerate(zip(d, j)):
        if np.isfinite(dd) and (jj not in best or dd < best[jj][0]):
            best[int(jj)] = (float(dd), i)
    for jj, (_, i) in best.items():
        out[i] = jj
    return out


@dataclass
class Planes:
    """Marker planes found along HF: measured HF of each (mm), the nominal plane it is, the index of
    the central one (the nominal plane nearest the isocentre) and the markers of each."""

    measured_hf_mm: list[float]
    nominal_hf_mm: list[float]
    central: int | None
    members: list[np.ndarray]

    @property
    def central_offset_mm(self) -> float:
        return 0.0 if self.central is None else self.measured_hf_mm[self.central] - self.nominal_hf_mm[self.central]


def find_planes(centres_mm: np.ndarray, nominal_hf_mm, iso: np.ndarray, core_mm: float = 100.0) -> Planes:
    """The marker planes of a volume, without assuming where the central plane lies.

    Markers sorted by HF are split where two neighbours are more than a quarter of the nominal plane
    spacing apart (within a plane the set-up tilt and the distortion spread HF by ≤ 10 mm; planes are
    55 mm apart). Measured HF of a plane = median HF of its markers within `core_mm` of the HF axis
    (all of them when none is). The central plane is the measured plane nearest the nominal central
    plane (nominal plane nearest the isocentre); every plane is named after the nominal plane nearest
    its HF once the central plane's offset is removed."""
    nominal = np.sort(np.asarray(nominal_hf_mm, float)) + iso[2]
    if len(centres_mm) == 0:
        return Planes([], [], None, [])
    spacing = float(np.min(np.diff(nominal))) if len(nominal) > 1 else 55.0
    order = np.argsort(centres_mm[:, 2])
    z = centres_mm[order, 2]
    cuts = np.nonzero(np.diff(z) > spacing / 4)[0] + 1
    groups = [g for g in np.split(order, cuts) if len(g) >= 3]
    measured, members = [], []
    for g in groups:
        core = g[np.hypot(centres_mm[g, 0] - iso[0], centres_mm[g, 1] - iso[1]) <= core_mm]
        measured.append(float(np.median(centres_mm[core if len(core) else g, 2])))
        members.append(g)
    if not measured:
        return Planes([], [], None, [])
    z_central = float(nominal[np.argmin(np.abs(nominal - iso[2]))])
    ci = int(np.argmin(np.abs(np.array(measured) - z_central)))
    if abs(measured[ci] - z_central) > spacing / 2:
        return Planes(measured, [float("nan")] * len(measured), None, members)
    offset = measured[ci] - z_central
    named = [float(nominal[np.argmin(np.abs(nominal - (m - offset)))]) for m in measured]
    return Planes(measured, named, ci, members)


def setup_from_central(nodes: np.ndarray, measured: np.ndarray, iso: np.ndarray, pitch: float, planes: Planes | None = None) -> SetUp | None:
    """Set-up fitted on the central plane's markers near the isocentre, as the consortium does: the
    measured markers within ±25 mm of the measured central plane, matched to the nominal central
    plane's nodes first within 50 mm then within 100 mm of the isocentre, the first fit started from
    the measured plane's HF offset (the central plane is often imaged a few mm off its nominal HF)."""
    if planes is not None and planes.central is not None:
        z_nom = planes.nominal_hf_mm[planes.central]
        z_meas = planes.measured_hf_mm[planes.central]
        start_t = np.array([0.0, 0.0, np.clip(z_meas - z_nom, -BOUND_TRANSLATION_MM, BOUND_TRANSLATION_MM)])
    else:
        z_nom = float(nodes[np.argmin(np.abs(nodes[:, 2] - iso[2])), 2]) if len(nodes) else iso[2]
        z_meas, start_t = z_nom, np.zeros(3)
    central = np.abs(nodes[:, 2] - z_nom) < 1e-6
    near = np.abs(measured[:, 2] - z_meas) <= 25.0
    pool = measured[near]
    setup = None
    for radius in FIT_RADII_MM:
        sel = central & (np.hypot(nodes[:, 0] - iso[0], nodes[:, 1] - iso[1]) <= radius + 1e-6)
        pred = nodes[sel] + start_t if setup is None else setup.apply(nodes[sel], iso)
        m = match(pred, pool, pitch / 2)
        ok = m >= 0
        if ok.sum() < 4:
            continue
        start = np.concatenate([np.zeros(3), start_t]) if setup is None else np.concatenate([setup.rotation_deg, setup.translation_mm])
        setup = fit_setup(nodes[sel][ok], pool[m[ok]], iso, start)
    return setup


# ---------------------------------------------------------------- analyser


def _progress(ctx: AnalysisContext):
    cb = ctx.options.get("progress")
    return cb if callable(cb) else None


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """3-D geometric fidelity of the marker phantom volume (see the module docstring)."""
    lang = ctx.lang
    progress = _progress(ctx)
    opts = ctx.options
    chosen, warnings = series_of_test(inputs, KEY, "geometry", lang)
    if not chosen:
        raise QCInputError("mrl.err.no_series", test=t("mrl.test.geometry", lang), what=t("mrl.what.geometry", lang))
    if len(chosen) > 1:
        warnings.append(t("mrl.warn.several_volumes", lang, used=chosen[0].label(), n=len(chosen)))
    s = chosen[0]
    acquired = acquisition_of(s.slices, ctx.acquired_at)
    iso = np.asarray(opts.get("isocentre_mm", (0.0, 0.0, 0.0)), float)
    pitch = float(opts.get("grid_pitch_mm", GRID_PITCH_MM))
    planes = tuple(float(p) for p in opts.get("planes_hf_mm", PLANES_HF_MM))
    semi = opts.get("phantom_semi_axes_mm")  # another phantom: grid nodes inside this ellipse
    vol = read_volume(s.slices, lang, progress)
    det = detect_markers(vol, float(opts.get("threshold_sigma", THRESHOLD_SIGMA)), lang, progress)
    window_mm = float(np.max(np.array(det.window_vox) * np.array([vol.slice_step_mm, *vol.spacing_mm])))
    del vol  # the volume is no longer needed: free ≈ 200 MB before matching
    if semi is None:
        nodes = phantom_marker_nodes(planes, pitch=pitch) + iso
    else:
        semi = tuple(float(v) for v in semi)
        nodes = grid_nodes(semi, planes, pitch) + iso
    found_planes = find_planes(det.centres_mm, planes, iso)
    setup = setup_from_central(nodes, det.centres_mm, iso, pitch, found_planes)
    if setup is None:
        raise QCInputError("mrl.err.no_central_markers", n=len(det.centres_mm))
    if setup.at_bound:
        warnings.append(t("mrl.warn.setup_bound", lang, mm=BOUND_TRANSLATION_MM, deg=BOUND_ROTATION_DEG))
    predicted = setup.apply(nodes, iso)
    m = match(predicted, det.centres_mm, pitch / 2)
    # expected: the nodes whose set-up position lies inside the imaged volume (with a marker radius margin)
    found = m >= 0
    dev = np.full((len(nodes), 3), np.nan)
    dev[found] = det.centres_mm[m[found]] - predicted[found]
    mag = np.linalg.norm(dev, axis=1)
    dist = np.linalg.norm(predicted - iso, axis=1)
    # a marker is expected when its set-up node lies inside the imaged volume by the centroid window
    # (plus one voxel): markers cut by the edge of a volume that does not cover the whole phantom are
    # neither expected nor judged (their centroid would be biased), they are listed.
    slice_step = abs(s.slices[-1].along_normal_mm - s.slices[0].along_normal_mm) / max(len(s.slices) - 1, 1)
    step = max(*s.slices[0].pixel_spacing_mm, slice_step)
    expected = _inside_volume(predicted, s.slices, window_mm + step)
    edge = found & ~expected
    found = found & expected
    dev[edge] = np.nan
    mag = np.linalg.norm(dev, axis=1)
    missing = expected & ~found
    unmatched = np.setdiff1d(np.arange(len(det.centres_mm)), m[m >= 0])
    if edge.any():
        warnings.append(t("mrl.warn.markers_edge", lang, n=int(edge.sum())))
    if missing.any():
        warnings.append(t("mrl.warn.markers_missing", lang, n=int(missing.sum()), list=_node_list(nodes[missing] - iso)))
    if len(unmatched):
        warnings.append(t("mrl.warn.markers_spurious", lang, n=len(unmatched), list=_pos_list(det.centres_mm[unmatched])))
    if det.rejected:
        warnings.append(t("mrl.warn.blobs_rejected", lang, n=len(det.rejected), small=sum(r["why"] == "small" for r in det.rejected), large=sum(r["why"] == "large" for r in det.rejected)))
    measurements: list[Measurement] = []

    def add(name: str, value, item: str = ""):
        measurements.append(Measurement(name, None if value is None else float(value), SPEC_METRICS[name].unit, item=item, description=SPEC_METRICS[name].label(lang)))

    for dsv in DSVS_MM:
        sel = found & (dist <= dsv / 2)
        vals = mag[sel]
        add(f"max_dev_mm_dsv{dsv:g}", vals.max() if vals.size else None)
        add(f"p98_dev_mm_dsv{dsv:g}", np.percentile(vals, 98) if vals.size else None)
        add(f"n_markers_dsv{dsv:g}", int(sel.sum()))
    n_exp, n_found = int(expected.sum()), int((found & expected).sum())
    add("markers_found_pct", 100.0 * n_found / n_exp if n_exp else None)
    add("markers_expected", n_exp)
    add("markers_spurious", len(unmatched))
    for a, name in enumerate(("lr", "ap", "hf")):
        add(f"setup_translation_{name}_mm", setup.translation_mm[a])
        add(f"setup_rotation_{name}_deg", setup.rotation_deg[a])
    items = []
    for i in np.nonzero(found)[0]:
        items.append(
            {
                t("mrl.col.plane", lang): nodes[i, 2] - iso[2],
                t("mrl.col.node_lr", lang): nodes[i, 0] - iso[0],
                t("mrl.col.node_ap", lang): nodes[i, 1] - iso[1],
                t("mrl.col.distance", lang): round(float(dist[i]), 1),
                t("mrl.col.dev_lr", lang): round(float(dev[i, 0]), 3),
                t("mrl.col.dev_ap", lang): round(float(dev[i, 1]), 3),
                t("mrl.col.dev_hf", lang): round(float(dev[i, 2]), 3),
                t("mrl.col.dev", lang): round(float(mag[i]), 3),
            }
        )
    if progress is not None:
        progress(0.95, t("mrl.geo.progress_draw", lang))
    overlays = [(t("mrl.geo.overlay_title", lang), plane_maps(nodes - iso, dev, found, planes, semi, lang))]
    if progress is not None:
        progress(1.0, t("mrl.geo.progress_done", lang))
    markers = [
        {"plane_mm": float(nodes[i, 2] - iso[2]), "lr_mm": float(nodes[i, 0] - iso[0]), "ap_mm": float(nodes[i, 1] - iso[1]), "distance_mm": float(dist[i]), "dev_mm": float(mag[i]), "dev": [float(v) for v in dev[i]]}
        for i in np.nonzero(found)[0]
    ]
    return AnalysisResult(
        test=KEY,
        measurements=measurements,
        items=items,
        warnings=warnings,
        acquired_at=acquired,
        files=[x.file for x in s.slices],
        overlays=overlays,
        extra={"markers": markers},
        params={
            "background": det.background,
            "noise_sd": det.noise_sd,
            "threshold": det.threshold,
            "threshold_sigma": float(opts.get("threshold_sigma", THRESHOLD_SIGMA)),
            "marker_voxels": det.marker_voxels,
            "centroid_window_mm": window_mm,
            "grid_pitch_mm": pitch,
            "planes_hf_mm": list(planes),
            "planes_measured_hf_mm": [round(z, 2) for z in found_planes.measured_hf_mm],
            "planes_nominal_hf_mm": [float(z - iso[2]) for z in found_planes.nominal_hf_mm],
            "phantom_markers": "Unity marker list (UNITY_MARKER_COLUMNS)" if semi is None else f"grid nodes inside the ellipse {semi}",
            "isocentre_mm": iso.tolist(),
            "setup_markers": setup.n_markers,
            "setup_rms_mm": setup.rms_mm,
            "setup_convention": "R = Rz.Ry.Rx (rotations about LR, AP, HF, degrees), position = R (node - iso) + iso + t",
            "deviation_definition": "measured centre - set-up node; DSV membership by the set-up node's distance to the isocentre",
            "centre_definition": "centroid of (I - local background) above 5 % of the peak excess, in an ellipsoid of the typical blob's half extent + 2 voxels, re-centred three times",
            "rejected_blobs": [{"mm": [round(float(v), 1) for v in r["mm"]], "voxels": r["voxels"], "why": r["why"]} for r in det.rejected[:50]],
        },
        **identity_of(s.slices),
    )


def _inside_volume(points: np.ndarray, slices: list[SliceHeader], margin_mm: float) -> np.ndarray:
    """Points whose position lies inside the imaged box (LPS extent of the slices) by `margin_mm`."""
    corners = []
    for s in (slices[0], slices[-1]):
        for r in (0, s.rows - 1):
            for c in (0, s.cols - 1):
                corners.append(s.position_mm + c * s.pixel_spacing_mm[1] * s.orientation[:3] + r * s.pixel_spacing_mm[0] * s.orientation[3:])
    zs = [s.position_mm for s in slices]
    allp = np.array(corners + zs)
    lo, hi = allp.min(axis=0) + margin_mm, allp.max(axis=0) - margin_mm
    return np.all((points >= lo) & (points <= hi), axis=1)


def _node_list(nodes: np.ndarray, limit: int = 12) -> str:
    txt = ", ".join(f"({x:+.0f}, {y:+.0f}, {z:+.0f})" for x, y, z in nodes[:limit])
    return txt + (" …" if len(nodes) > limit else "")


def _pos_list(p: np.ndarray, limit: int = 12) -> str:
    txt = ", ".join(f"({x:+.1f}, {y:+.1f}, {z:+.1f})" for x, y, z in p[:limit])
    return txt + (" …" if len(p) > limit else "")


def plane_maps(nodes: np.ndarray, dev: np.ndarray, found: np.ndarray, planes, semi, lang: str, colour_max_mm: float = 2.0) -> np.ndarray:
    """Seven per-plane deviation maps (in-plane arrows ×20, colour = |deviation|) and a colour bar."""
    tiles = []
    shown = nodes[found] if found.any() else nodes
    extent = float(np.max(np.abs(shown[:, :2]))) + 15.0
    for z in planes:
        sel = found & (np.abs(nodes[:, 2] - z) < 1e-6)
        cap = t("mrl.geo.plane_caption", lang, z=f"{z:+g}", n=int(sel.sum()), max=float(np.nanmax(np.linalg.norm(dev[sel], axis=1))) if sel.any() else 0.0)
        tiles.append(draw.deviation_plane_map(nodes[sel, :2], dev[sel], extent_mm=extent, colour_max_mm=colour_max_mm, caption=cap, size_px=330, sides=tuple(t(f"mrl.geo.side_{k}", lang) for k in ("right", "left", "ant", "post"))))
    rows = [draw.side_by_side(tiles[i : i + 4]) for i in range(0, len(tiles), 4)]
    return draw.stack(rows + [draw.colour_bar(0.0, colour_max_mm, "mm", 360)])


def charts(result: AnalysisResult, lang: str = "fr") -> list[tuple[str, Any]]:
    """|deviation| against distance from the isocentre, one colour per plane."""
    import altair as alt
    import pandas as pd

    rows = result.extra.get("markers", [])
    if not rows:
        return []
    df = pd.DataFrame(rows)
    df["plane"] = df["plane_mm"].map(lambda z: f"{z:+g} mm")
    title = t("mrl.geo.chart_title", lang)
    ch = (
        alt.Chart(df)
        .mark_circle(size=25, opacity=0.7)
        .encode(
            x=alt.X("distance_mm:Q", title=t("mrl.chart.distance", lang)),
            y=alt.Y("dev_mm:Q", title=t("mrl.chart.deviation", lang)),
            color=alt.Color("plane:N", title=t("mrl.chart.plane", lang), sort=sorted(df["plane"].unique(), key=lambda s: float(s.split()[0]))),
            tooltip=[alt.Tooltip("plane:N"), alt.Tooltip("lr_mm:Q"), alt.Tooltip("ap_mm:Q"), alt.Tooltip("dev_mm:Q", format=".2f")],
        )
        .properties(title=title)
    )
    return [(title, ch)]


# ---------------------------------------------------------------- spec

_REF = "Proposé (à confirmer) : spécification de recette Elekta/Philips Unity (distorsion) ; programme du consortium MR-Linac (Wetscherek et al.)"
_LIMITS = {200.0: (1.0, 1.5), 300.0: (1.5, 2.0), 400.0: (2.0, 3.0), 500.0: (3.0, 4.0)}
_METRICS: list[MetricSpec] = []
for _dsv in DSVS_MM:
    _tol, _act = _LIMITS[_dsv]
    _METRICS += [
        MetricSpec(f"max_dev_mm_dsv{_dsv:g}", "mm", f"Écart max. des marqueurs (DSV {_dsv:g} mm)", f"Max marker deviation (DSV {_dsv:g} mm)", Tolerance.at_most(_tol, _act, reference=_REF), better="lower"),
        MetricSpec(f"p98_dev_mm_dsv{_dsv:g}", "mm", f"Écart des marqueurs, 98e centile (DSV {_dsv:g} mm)", f"Marker deviation, 98th percentile (DSV {_dsv:g} mm)", None, better="lower"),
        MetricSpec(f"n_markers_dsv{_dsv:g}", "", f"Marqueurs dans la DSV {_dsv:g} mm", f"Markers within DSV {_dsv:g} mm", None, trend=False),
    ]
_METRICS += [
    MetricSpec("markers_found_pct", "%", "Marqueurs trouvés / attendus", "Markers found / expected", Tolerance.at_least(100.0, 98.0, reference="Tous les marqueurs du fantôme doivent être vus (pratique du département, proposée)"), better="higher"),
    MetricSpec("markers_expected", "", "Marqueurs attendus", "Markers expected", None, trend=False),
    MetricSpec("markers_spurious", "", "Taches non appariées à un marqueur", "Blobs not matched to a marker", None, trend=False),
]
for _a, _fr, _en in (("lr", "gauche-droite", "left-right"), ("ap", "antéro-postérieur", "anterior-posterior"), ("hf", "tête-pieds", "head-foot")):
    _METRICS += [
        MetricSpec(f"setup_translation_{_a}_mm", "mm", f"Mise en place du fantôme : translation {_fr}", f"Phantom set-up: {_en} translation", None),
        MetricSpec(f"setup_rotation_{_a}_deg", "°", f"Mise en place du fantôme : rotation autour de l'axe {_fr}", f"Phantom set-up: rotation about the {_en} axis", None),
    ]
SPEC_METRICS = {m.name: m for m in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "2.0"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr="IRM MR-Linac : géométrie 3D",
    name_en="MR-Linac MRI: 3-D geometry",
    frequency="monthly",
    kind="dicom",
    metrics=tuple(_METRICS),
    analyse=analyse,
    page="pages/mr_geometry_3d.py",
    description_fr=(
        "Volume 3D FFE du fantôme à marqueurs grand champ (grille 25 mm, 7 plans de −165 à +165 mm) : marqueurs détectés, "
        "mise en place ajustée près de l'isocentre, puis écart de chaque marqueur ; max. et 98e centile dans des sphères de 200 à 500 mm."
    ),
    description_en=(
        "3-D FFE volume of the large-FOV marker phantom (25 mm grid, 7 planes from −165 to +165 mm): markers detected, set-up fitted "
        "near the isocentre, then each marker's deviation; max and 98th percentile within 200 to 500 mm spheres."
    ),
    accepts=".dcm,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:mr_geometry_3d_demo"
ROUTING = Routing(modality="MR", mr_study=True)
# The menu shows this test under its study page (the page that takes a whole upload and routes it to its tests).
MENU_GROUP = "mr-linac"
# The demo database: the first Tuesday evening of the last full month and of the current one; no volume kept on disk.
DEMO = DemoSessions(make="qc.demo_inputs:mr_linac_session", gen="mr_linac", span="monthly", weekday=1, time="20:00",
                    args={"kind": "geometry-3d"}, seed_offset=8, keep_latest=0)
