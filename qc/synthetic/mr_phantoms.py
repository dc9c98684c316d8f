"""Synthetic MR phantom images with known spatial truth (slice thickness, rod spacing, edge MTF, ACR set).

Owns the generators the spatial analysers (qc.mr.slice_thickness, geometry, resolution, acr) are tested
against, written as DICOM MR files by `qc.synthetic.mr.mr_image_bytes`. What they do NOT share with the
analysers (the biases this leaves are stated where they matter):

- Slice profile: the small-tip-angle profile of a Hann-windowed sinc RF pulse (time-bandwidth 4), i.e. the
  modulus of its Fourier transform, rescaled so that its FWHM is the requested thickness (the truth). It
  has rounded shoulders and side lobes; the analyser only reads a FWHM and assumes no shape.
- Ramps: plates (MagNET: signal-free, 1 mm thick, in fluid) or slots (ACR: fluid, 1 mm thick, in plastic)
  crossing the slice at tan θ = 0.2 / 0.1, in opposite senses, with the phantom tilted by a known angle;
  each pixel integrates the slice profile over the plate's extent in z (exact partial volume). The plate
  thickness widens the ramp image a little: the FWHM of profile ⊗ plate exceeds the profile's FWHM by
  < 0.05 mm at 5 mm (checked by `ramp_bias_mm`), well inside the 0.2 mm claimed.
- In-plane blur (Gaussian, 0.5 px), coil-like shading (linear + quadratic, ±10 %), Rician noise.
- Rods: 4 mm signal-free rods at known positions, optionally with a gradient scale error per axis
  (distances then known exactly).
- Edge: a square void turned by a known angle, blurred by an isotropic Gaussian PSF of σ (MTF
  exp(−2π²σ²f²), MTF50 = √(ln 2 / 2) / (π σ)) or by a Hann-apodised truncated k-space along the image
  axes (MTF along the edge normal = H(f cos α)·H(f sin α), solved numerically); point-sampled, noise added.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, special

from qc.synthetic import new_uid
from qc.synthetic.mr import mr_image_bytes

N_PROFILE = 4001


# ---------------------------------------------------------------- slice profile


def _unit_profile() -> tuple[np.ndarray, np.ndarray, float]:
    """(z, profile, fwhm) of the modulus of the FT of a Hann-windowed sinc pulse (TBW 4), z in arbitrary units."""
    t = np.linspace(-0.5, 0.5, 513)
    rf = np.sinc(4 * 2 * t) * (0.5 + 0.5 * np.cos(2 * np.pi * t))
    z = np.linspace(-10.0, 10.0, N_PROFILE)
    prof = np.abs(np.exp(-2j * np.pi * np.outer(z, t)) @ rf)
    prof /= prof.max()
    c = len(z) // 2
    i1 = c + int(np.argmax(prof[c:] < 0.5))  # first sample below half, walking right from the centre
    i0 = c - int(np.argmax(prof[c::-1] < 0.5))  # and walking left
    zl = z[i0] + (0.5 - prof[i0]) * (z[i0 + 1] - z[i0]) / (prof[i0 + 1] - prof[i0])
    zr = z[i1 - 1] + (0.5 - prof[i1 - 1]) * (z[i1] - z[i1 - 1]) / (prof[i1] - prof[i1 - 1])
    return z, prof, float(zr - zl)


_Z, _P, _W = _unit_profile()


def slice_profile(fwhm_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """(z in mm, profile normalised to 1) whose FWHM is exactly `fwhm_mm`."""
    return _Z * fwhm_mm / _W, _P


LOBE_OFFSET = 1.2  # side lobes of `lobed_profile`: centred ±1.2 FWHM from the slice centre, FWHM/2 wide


def lobed_profile(fwhm_mm: float, lobe: float) -> tuple[np.ndarray, np.ndarray]:
    """A slice profile with side lobes (as a 3 T Siemens ACR image shows, ~25 % of the peak 5–6 mm from a 5 mm
    slice's centre): the profile of `slice_profile` plus two copies of half its width, `lobe` × its height,
    centred ±1.2 FWHM away. Its FWHM (`profile_fwhm_mm`) stays within 0.01 mm of `fwhm_mm`."""
    z0, p0 = slice_profile(fwhm_mm)
    if not lobe:
        return z0, p0
    z = np.linspace(-3.0 * fwhm_mm, 3.0 * fwhm_mm, 2 * N_PROFILE - 1)
    zn, pn = slice_profile(fwhm_mm / 2)
    shift = LOBE_OFFSET * fwhm_mm
    extra = np.interp(z - shift, zn, pn, left=0.0, right=0.0) + np.interp(z + shift, zn, pn, left=0.0, right=0.0)
    return z, np.interp(z, z0, p0, left=0.0, right=0.0) + lobe * extra


def profile_fwhm_mm(z: np.ndarray, p: np.ndarray) -> float:
    """FWHM of a profile with one main peak at its centre (linear interpolation of the half crossings)."""
    p = p / p.max()
    c = int(np.argmax(p))
    i1 = c + int(np.argmax(p[c:] < 0.5))
    i0 = c - int(np.argmax(p[c::-1] < 0.5))
    zl = z[i0] + (0.5 - p[i0]) * (z[i0 + 1] - z[i0]) / (p[i0 + 1] - p[i0])
    zr = z[i1 - 1] + (0.5 - p[i1 - 1]) * (z[i1] - z[i1 - 1]) / (p[i1] - p[i1 - 1])
    return float(zr - zl)


def _plate_fraction(zc: np.ndarray, plate_mm: float, fwhm_mm: float, lobe: float = 0.0) -> np.ndarray:
    """Fraction of the slice's signal taken by a plate of thickness `plate_mm` (along z) centred at each zc."""
    z, p = lobed_profile(fwhm_mm, lobe)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(z))])
    total = cum[-1]
    hi = np.interp(zc + plate_mm / 2, z, cum, left=0.0, right=total)
    lo = np.interp(zc - plate_mm / 2, z, cum, left=0.0, right=total)
    return (hi - lo) / total


def ramp_bias_mm(fwhm_mm: float, plate_mm: float = 1.0) -> float:
    """FWHM of (slice profile ⊗ plate) minus the profile's FWHM: the bias a finite plate puts on the method."""
    zc = np.linspace(-3 * fwhm_mm, 3 * fwhm_mm, 6001)
    f = _plate_fraction(zc, plate_mm, fwhm_mm)
    f = f / f.max()
    c = len(zc) // 2
    i1 = c + int(np.argmax(f[c:] < 0.5))
    i0 = c - int(np.argmax(f[c::-1] < 0.5))
    zl = zc[i0] + (0.5 - f[i0]) * (zc[i0 + 1] - zc[i0]) / (f[i0 + 1] - f[i0])
    zr = zc[i1 - 1] + (0.5 - f[i1 - 1]) * (zc[i1] - zc[i1 - 1]) / (f[i1] - f[i1 - 1])
    return float(zr - zl - fwhm_mm)


# ---------------------------------------------------------------- common image pieces


def _grid(n: int, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) in mm of pixel centres, origin at the image centre, x right, y down."""
    c = (np.arange(n) - (n - 1) / 2) * spacing_mm
    return np.meshgrid(c, c)


def _disc(x: np.ndarray, y: np.ndarray, radius_mm: float, edge_mm: float = 0.6) -> np.ndarray:
    r = np.hypot(x, y)
    return 0.5 * special.erfc((r - radius_mm) / (math.sqrt(2) * edge_mm))


def _finish(signal: np.ndarray, x: np.ndarray, y: np.ndarray, noise_sd: float, rng: np.random.Generator,
            shading: float = 0.1, blur_px: float = 0.5) -> np.ndarray:
    """Shading, in-plane blur and Rician noise (complex Gaussian of σ per channel, modulus)."""
    span = np.abs(x).max() or 1.0
    shade = 1 + shading * (0.6 * x / span - 0.4 * (y / span) ** 2)
    img = ndimage.gaussian_filter(signal * shade, blur_px) if blur_px else signal * shade
    re = img + rng.normal(0, noise_sd, img.shape)
    im = rng.normal(0, noise_sd, img.shape)
    return np.hypot(re, im)


def _dcm(img: np.ndarray, spacing_mm: float, thickness_mm: float | None, when: dt.datetime, description: str, **kw) -> bytes:
    scale = 4000.0 / max(float(img.max()), 1e-9)
    return mr_image_bytes(img * scale, pixel_spacing_mm=(spacing_mm, spacing_mm), slice_thickness_mm=thickness_mm,
                          acquired_at=when, series_description=description, **kw)


# ---------------------------------------------------------------- MagNET slice width + rods


@dataclass
class MagnetTruth:
    slice_thickness_mm: float
    tilt_deg: float
    rod_positions_mm: np.ndarray  # (9, 2) x, y
    rod_scale: tuple[float, float]


def magnet_image(
    thickness_mm: float = 5.0, *, tilt_deg: float = 0.0, n: int = 256, spacing_mm: float = 1.0, plate_mm: float = 1.0,
    tan_theta: float = 0.2, rod_pitch_mm: float = 60.0, rod_scale: tuple[float, float] = (1.0, 1.0), noise_sd: float = 0.01,
    seed: int = 0, rotation_deg: float = 0.0,
) -> tuple[np.ndarray, MagnetTruth]:
    """A MagNET-like slice-width/geometry slice: fluid disc of radius 95 mm, two signal-free plates inclined at
    ±θ (top band y ∈ [−42, −12] mm, bottom band y ∈ [18, 48] mm), 9 rods (4 mm) on a 3 × 3 grid of pitch
    `rod_pitch_mm` scaled by `rod_scale` (x, y) about the centre; phantom tilted by `tilt_deg` about the
    image's vertical axis, optionally turned in-plane by `rotation_deg`. Returns (image, truth)."""
    rng = np.random.default_rng(seed)
    x0, y0 = _grid(n, spacing_mm)
    a = math.radians(rotation_deg)
    x = math.cos(a) * x0 + math.sin(a) * y0
    y = -math.sin(a) * x0 + math.cos(a) * y0
    sig = _disc(x, y, 95.0)
    theta = math.atan(tan_theta)
    phi = math.radians(tilt_deg)
    t_eff = plate_mm / math.cos(theta)
    for (ylo, yhi), sense in (((-42.0, -12.0), 1), ((18.0, 48.0), -1)):
        band = 0.5 * (special.erf((y - ylo) / 0.6) - special.erf((y - yhi) / 0.6))
        inside = np.abs(x) < 40
        zc = sense * x * math.tan(theta + sense * phi) if sense == 1 else -x * math.tan(theta - phi)
        frac = _plate_fraction(zc, t_eff, thickness_mm)
        sig = sig * (1 - band * inside * frac)
    rods = []
    for j in (-1, 0, 1):
        for i in (-1, 0, 1):
            rx, ry = i * rod_pitch_mm * rod_scale[0], j * rod_pitch_mm * rod_scale[1]
            rods.append((rx, ry))
            sig = sig * (1 - _disc(x - rx, y - ry, 2.0, 0.4))
    img = _finish(sig, x0, y0, noise_sd, rng)
    return img, MagnetTruth(thickness_mm, tilt_deg, np.asarray(rods), rod_scale)


def magnet_dicom(thickness_mm: float = 5.0, *, when: dt.datetime | None = None, nominal_mm: float | None = None, **kw) -> tuple[bytes, MagnetTruth]:
    img, truth = magnet_image(thickness_mm, **kw)
    return _dcm(img, kw.get("spacing_mm", 1.0), nominal_mm if nominal_mm is not None else round(thickness_mm), when or dt.datetime(2026, 11, 2, 8, 0),
                "QA_SLICEWIDTH_MAGNET"), truth


# ---------------------------------------------------------------- edge (resolution)


def hann_edge_mtf50(fc_lp_mm: float, angle_deg: float) -> float:
    """MTF50 along the normal of an edge turned by `angle_deg` for a Hann-apodised k-space cut at fc along x and y."""
    a = math.radians(angle_deg)

    def h(f):
        f = np.abs(f)
        return np.where(f < fc_lp_mm, 0.5 * (1 + np.cos(np.pi * f / fc_lp_mm)), 0.0)

    f = np.linspace(0, fc_lp_mm, 200001)
    m = h(f * math.cos(a)) * h(f * math.sin(a))
    k = int(np.argmax(m < 0.5))
    return float(f[k - 1] + (m[k - 1] - 0.5) * (f[k] - f[k - 1]) / (m[k - 1] - m[k]))


def _hann_esf(fc_lp_mm: float, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Edge spread function along the normal for the Hann k-space filter (numerical inverse transform)."""
    a = math.radians(angle_deg)
    f = np.linspace(0, fc_lp_mm / max(math.cos(a), 1e-6), 1500)

    def h(v):
        v = np.abs(v)
        return np.where(v < fc_lp_mm, 0.5 * (1 + np.cos(np.pi * v / fc_lp_mm)), 0.0)

    m = h(f * math.cos(a)) * h(f * math.sin(a))
    d = np.linspace(-15, 15, 3001)
    df = f[1] - f[0]
    lsf = (m[None, :] * np.cos(2 * np.pi * np.outer(d, f))).sum(axis=1) * 2 * df - m[0] * df
    esf = np.cumsum(lsf) * (d[1] - d[0])
    esf /= esf[-1]
    return d, esf


@dataclass
class EdgeTruth:
    mtf50_lp_per_mm: float
    angle_deg: float
    psf: str


def edge_image(
    *, n: int = 256, spacing_mm: float = 0.9765625, angle_deg: float = 10.0, sigma_mm: float | None = 0.6,
    hann_fc_lp_mm: float | None = None, noise_sd: float = 0.01, seed: int = 0, side_mm: float = 50.0,
) -> tuple[np.ndarray, EdgeTruth]:
    """A disc of fluid (radius 95 mm) with a square signal-free block of side `side_mm` turned by `angle_deg`,
    blurred by a Gaussian PSF of σ = `sigma_mm` or by a Hann-apodised k-space cut at `hann_fc_lp_mm`."""
    rng = np.random.default_rng(seed)
    x, y = _grid(n, spacing_mm)
    a = math.radians(angle_deg)
    u = math.cos(a) * x + math.sin(a) * y
    v = -math.sin(a) * x + math.cos(a) * y
    h = side_mm / 2
    if hann_fc_lp_mm:
        d, esf = _hann_esf(hann_fc_lp_mm, angle_deg)

        def inside(dist):
            return np.interp(dist, d, esf, left=0.0, right=1.0)

        truth = EdgeTruth(hann_edge_mtf50(hann_fc_lp_mm, angle_deg), angle_deg, "hann")
    else:
        s = float(sigma_mm)

        def inside(dist):
            return 0.5 * special.erfc(-dist / (math.sqrt(2) * s))

        truth = EdgeTruth(math.sqrt(math.log(2) / 2) / (math.pi * s), angle_deg, "gaussian")
    block = inside(h - np.abs(u)) * inside(h - np.abs(v))
    sig = _disc(x, y, 95.0) * (1 - block)
    img = _finish(sig, x, y, noise_sd, rng, shading=0.05, blur_px=0.0)
    return img, truth


def edge_dicom(*, when: dt.datetime | None = None, **kw) -> tuple[bytes, EdgeTruth]:
    img, truth = edge_image(**kw)
    return _dcm(img, kw.get("spacing_mm", 0.9765625), 5.0, when or dt.datetime(2026, 11, 2, 8, 5), "QA_RESOLUTION_EDGE"), truth


# ---------------------------------------------------------------- ACR-like series


@dataclass
class AcrTruth:
    slice_thickness_mm: float
    diameter_mm: tuple[float, float]
    ghost_fraction: float


def acr_slice1(x: np.ndarray, y: np.ndarray, thickness_mm: float, tilt_deg: float, radius: tuple[float, float],
               side_lobes: float = 0.0) -> np.ndarray:
    """Slice 1 of an ACR-like phantom: fluid ellipse, a wall-to-wall plastic bar (y ∈ [−5, 5] mm) holding two
    1 mm fluid slots inclined at tan θ = 0.1 in opposite senses (top half, bottom half of the bar)."""
    sig = _disc(x / radius[0] * 95.0, y / radius[1] * 95.0, 95.0)
    bar = 0.5 * (special.erf((y + 5.0) / 0.5) - special.erf((y - 5.0) / 0.5))
    theta = math.atan(0.1)
    phi = math.radians(tilt_deg)
    t_eff = 1.0 / math.cos(theta)
    slots = np.zeros_like(x)
    for (ylo, yhi), sense in (((-4.0, -0.5), 1), ((0.5, 4.0), -1)):
        band = 0.5 * (special.erf((y - ylo) / 0.4) - special.erf((y - yhi) / 0.4))
        zc = x * math.tan(theta + phi) if sense == 1 else -x * math.tan(theta - phi)
        slots += band * _plate_fraction(zc, t_eff, thickness_mm, side_lobes)
    # slot signal relative to the fluid: the fraction of the slice inside the 1 mm slot, boosted ×1.5 so that it
    # stands out of the noise as on real images (a real slot is seen against a near-zero plastic background)
    return sig * (1 - bar) + sig * bar * np.clip(1.5 * slots, 0, 1)


def position_bars(x: np.ndarray, y: np.ndarray, radius_y_mm: float, difference_mm: float) -> np.ndarray:
    """The two slice-position wedges of slices 1 and 11 as seen in the image: plastic bars 5 mm wide hanging
    from the top wall, left one 20 − d/2 mm long, right one 20 + d/2 mm (d = right − left)."""
    top = -radius_y_mm
    out = np.zeros_like(x)
    for (x0, x1), length in (((-5.0, 0.0), 20.0 - difference_mm / 2), ((0.0, 5.0), 20.0 + difference_mm / 2)):
        inx = 0.5 * (special.erf((x - x0) / 0.4) - special.erf((x - x1) / 0.4))
        iny = 0.5 * (special.erf((y - (top - 5.0)) / 0.4) - special.erf((y - (top + length)) / 0.4))
        out = np.maximum(out, inx * iny)
    return out


def acr_grid(x: np.ndarray, y: np.ndarray, pitch_mm: float = 15.0, half_mm: float = 75.0, line_mm: float = 2.0) -> np.ndarray:
    """Plastic fraction of the slice-5 grid: lines `line_mm` wide every `pitch_mm` along x and y inside a
    square of half-side `half_mm` (phantom frame)."""
    def lines(u):
        d = np.abs(((u + pitch_mm / 2) % pitch_mm) - pitch_mm / 2)
        return 0.5 * special.erfc((d - line_mm / 2) / 0.4)
    inside = 0.25 * special.erfc((np.abs(x) - half_mm) / 0.4) * special.erfc((np.abs(y) - half_mm) / 0.4)
    return np.clip(np.maximum(lines(x), lines(y)) * inside, 0, 1)


def acr_series(
    *, thickness_mm: float = 5.0, tilt_deg: float = 0.0, diameter_mm: tuple[float, float] = (190.0, 190.0), n: int = 256,
    spacing_mm: float = 0.9765625, noise_sd: float = 0.01, ghost_fraction: float = 0.0, seed: int = 0,
    when: dt.datetime | None = None, reverse: bool = False, bar_difference_mm: float = 0.0, side_lobes: float = 0.0,
    hole_psf_sigma_mm: tuple[float, float] | None = None, rotation_deg: float = 0.0, omit: tuple[int, ...] = (),
    rim: float = 0.0, dielectric: float = 0.0, coil_gradient: float = 0.0, grid: bool = False, edge_blur_mm: float = 0.0,
    enhanced: bool = False, shuffle_seed: int | None = None, echo_time_ms: float = 30.0, series_uid: str | None = None,
    prefix: str = "acr",
) -> tuple[list[tuple[str, bytes]], AcrTruth]:
    """An 11-slice ACR-like axial series (slice gap 10 mm): slice 1 with the thickness bar, slice 5 with a
    grid-free uniform section, the others uniform; an optional ghost (copy shifted by half the FOV along the
    phase direction = columns) of known fraction, slice-position bars on slices 1 and 11 whose lengths differ by
    `bar_difference_mm` (right − left); slice 1 holds the resolution insert (`_insert_fluid`), seen through
    an extra Gaussian PSF of σ (x, y) mm when `hole_psf_sigma_mm` is given (the whole slice is blurred).
    Files named in acquisition order (reversed if asked). `side_lobes`: the slice profile gets side lobes of
    that height (`lobed_profile`); the truth is then its exact FWHM.

    What real scanners add (each off by default):
    - `rotation_deg`: the phantom turned about its axis by that angle, counter-clockwise as displayed (every
      insert, bar and wall turns; the ghost stays along the image's phase axis, the shading on the image);
    - `omit`: ACR slice numbers left out of the series (a slice lost in transfer);
    - `rim`: a bright rim inside the wall, signal × (1 + rim·exp(−d / 6 mm)), d the depth from the wall;
    - `dielectric`: 3 T centre brightening, × (1 + dielectric·(1 − (r / R)²)) (r from the phantom's axis);
    - `coil_gradient`: receive-coil proximity, × (1 + coil_gradient·(y / R)) (posterior elements brighter);
    - `grid`: slice 5 holds the ACR grid (plastic lines 2 mm wide every 15 mm over a 150 mm square);
    - `edge_blur_mm`: an extra Gaussian PSF (σ mm) on every slice;
    - `enhanced`: one Enhanced MR object holding the 11 (or fewer) frames, shuffled by `shuffle_seed`, each
      frame's position in its own functional group;
    - `echo_time_ms`, `series_uid`, `prefix` (file names): a second echo of the same series, for instance."""
    rng = np.random.default_rng(seed)
    x, y = _grid(n, spacing_mm)
    rad = (diameter_mm[0] / 2, diameter_mm[1] / 2)
    uid = series_uid or new_uid()
    when = when or dt.datetime(2026, 11, 2, 9, 0)
    th = math.radians(rotation_deg)
    xp = x * math.cos(th) - y * math.sin(th)  # phantom frame (x right, y down when not turned)
    yp = x * math.sin(th) + y * math.cos(th)
    depth = 95.0 - np.hypot(xp / rad[0] * 95.0, yp / rad[1] * 95.0)  # mm inside the wall (negative outside)
    gain = (1 + rim * np.exp(-np.clip(depth, 0, None) / 6.0)) * (1 + dielectric * np.clip(depth / 95.0 * (2 - depth / 95.0), 0, 1))
    gain = gain * (1 + coil_gradient * yp / rad[1])
    files, frames, locs = [], [], []
    for k in range(1, 12):
        if k == 1:
            sig = acr_slice1(xp, yp, thickness_mm, tilt_deg, rad, side_lobes) * _insert_fluid(x, y, spacing_mm, -rotation_deg)  # its angle is clockwise as displayed
            if hole_psf_sigma_mm is not None:
                sig = psf_blur(sig, spacing_mm, hole_psf_sigma_mm)
        else:
            sig = _disc(xp / rad[0] * 95.0, yp / rad[1] * 95.0, 95.0)
        if k == 5 and grid:
            sig = sig * (1 - acr_grid(xp, yp))
        if k in (1, 11):
            sig = sig * (1 - position_bars(xp, yp, rad[1], bar_difference_mm))
        sig = sig * gain
        if edge_blur_mm:
            sig = ndimage.gaussian_filter(sig, edge_blur_mm / spacing_mm)
        if ghost_fraction:
            sig = sig + ghost_fraction * np.roll(sig, n // 2, axis=1)
        img = _finish(sig, x, y, noise_sd, rng, shading=0.06)
        loc = -50.0 + 10.0 * (k - 1)
        if k in omit:
            continue
        if enhanced:
            frames.append(img * 3000.0)
            locs.append(loc)
            continue
        data = mr_image_bytes(
            img * 3000.0, pixel_spacing_mm=(spacing_mm, spacing_mm), slice_thickness_mm=5.0, acquired_at=when,
            series_uid=uid, series_description="ACR T1 AX", instance_number=k, phase_encoding_direction="ROW",
            position_mm=[-(n - 1) / 2 * spacing_mm, -(n - 1) / 2 * spacing_mm, loc], echo_time_ms=echo_time_ms,
        )
        files.append((f"{prefix}_{(12 - k) if reverse else k:02d}.dcm", data))
    if enhanced:
        from qc.synthetic.mr import enhanced_mr_bytes

        order = np.random.default_rng(shuffle_seed).permutation(len(frames)) if shuffle_seed is not None else np.arange(len(frames))
        data = enhanced_mr_bytes(np.stack([frames[i] for i in order]), [locs[i] for i in order], pixel_spacing_mm=(spacing_mm, spacing_mm),
                                 slice_thickness_mm=5.0, acquired_at=when, series_uid=uid, series_description="ACR T1 AX enhanced",
                                 phase_encoding_direction="ROW")
        files = [("acr_enhanced.dcm", data)]
    truth_mm = profile_fwhm_mm(*lobed_profile(thickness_mm, side_lobes)) if side_lobes else thickness_mm
    return files, AcrTruth(truth_mm, diameter_mm, ghost_fraction)


# ---------------------------------------------------------------- ACR slice 1: high-contrast resolution insert

ACR_HOLE_SIZES_MM = (1.1, 1.0, 0.9)


def acr_hole_centres(size_mm: float, k: int, rotation_deg: float = 0.0, lr_shift: float = 0.25) -> dict[str, np.ndarray]:
    """True hole centres (x, y mm, image frame, y down) of the pair of 4 × 4 arrays of hole size `size_mm`
    (pitch 2·size), pair k = 0, 1, 2 from the left. The generator's own layout, measured on the 512² GE image
    of ../shared/data: UL rows/columns end on the corner hole at (x, y) = (−14.4 + 23k, 37.1) mm; the LR array
    starts on the UL's last row but `lr_shift` of a pitch to the right of its last column (the GE image shows
    0.1–0.25 pitch; the analyser assumes 0 and fits each array on its own). Turned by `rotation_deg` about the
    image centre."""
    p = 2.0 * size_mm
    cx, cy = -14.4 + 23.0 * k, 37.1
    ul = np.array([(cx + (j - 3) * p, cy + (i - 3) * p) for i in range(4) for j in range(4)])
    lr = np.array([(cx + (j + lr_shift) * p, cy + i * p) for i in range(4) for j in range(4)])
    a = math.radians(rotation_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return {"UL": ul @ rot.T, "LR": lr @ rot.T}


def _insert_fluid(x: np.ndarray, y: np.ndarray, spacing_mm: float, rotation_deg: float, supersample: int = 7) -> np.ndarray:
    """Fluid fraction of each pixel in the resolution insert (1 in the holes, 0 in the plastic), each pixel
    integrated over `supersample`² points (exact partial volume to ~1 %): a plastic block
    x ∈ [−30, 44], y ∈ [26, 49] mm holding the 6 arrays; outside the block the fluid fraction is 1."""
    a = math.radians(rotation_deg)
    u = math.cos(a) * x + math.sin(a) * y  # phantom frame
    v = -math.sin(a) * x + math.cos(a) * y
    block = (u > -30) & (u < 44) & (v > 26) & (v < 49)
    out = np.ones_like(x)
    rr, cc = np.nonzero(block)
    if rr.size == 0:
        return out
    offs = (np.arange(supersample) + 0.5) / supersample - 0.5
    oy, ox = np.meshgrid(offs * spacing_mm, offs * spacing_mm, indexing="ij")
    px = x[rr, cc][:, None] + ox.ravel()[None, :]
    py = y[rr, cc][:, None] + oy.ravel()[None, :]
    fluid = np.zeros_like(px)
    for k, d in enumerate(ACR_HOLE_SIZES_MM):
        for cen in acr_hole_centres(d, k, rotation_deg).values():
            for hx, hy in cen:
                near = (np.abs(px - hx) < d) & (np.abs(py - hy) < d)
                fluid[near] = np.maximum(fluid[near], ((px[near] - hx) ** 2 + (py[near] - hy) ** 2 <= (d / 2) ** 2).astype(float))
    out[rr, cc] = fluid.mean(axis=1)
    return out


def psf_blur(img: np.ndarray, spacing_mm: float, sigma_mm: tuple[float, float] = (0.0, 0.0),
             cutoff_lp_mm: tuple[float | None, float | None] = (None, None)) -> np.ndarray:
    """The image seen through a known PSF, applied in k-space: Gaussian of σ (x, y) in mm, MTF
    exp(−2π²σ²f²), times an optional truncation |f| ≤ cutoff along x and/or y (fewer k-space lines)."""
    fy = np.fft.fftfreq(img.shape[0], spacing_mm)[:, None]
    fx = np.fft.fftfreq(img.shape[1], spacing_mm)[None, :]
    mtf = np.exp(-2 * math.pi**2 * (sigma_mm[0] ** 2 * fx**2 + sigma_mm[1] ** 2 * fy**2))
    if cutoff_lp_mm[0]:
        mtf = mtf * (np.abs(fx) <= cutoff_lp_mm[0])
    if cutoff_lp_mm[1]:
        mtf = mtf * (np.abs(fy) <= cutoff_lp_mm[1])
    return np.real(np.fft.ifft2(np.fft.fft2(img) * mtf))


@dataclass
class AcrResolutionTruth:
    """Per array ("UL"/"LR", size): the true modulation of the noise-free image, read at the KNOWN hole
    centres and midpoints (no search, no peak finding): for each row (UL) or column (LR) the smallest of
    (min(neighbour holes) − midpoint) / (min(neighbour holes) − plastic), the best line kept. An array is
    `resolvable` when that modulation ≥ 0.3, `unresolvable` when ≤ 0.03; the tests use only cases that
    fall in one of the two (far from the analyser's 0.1 threshold either side)."""

    modulation: dict
    sigma_mm: tuple[float, float]
    cutoff_lp_mm: tuple

    def resolvable(self, array: str, size: float) -> bool | None:
        m = self.modulation[(array, size)]
        return True if m >= 0.3 else False if m <= 0.03 else None


def _true_modulation(clean: np.ndarray, spacing_mm: float, rotation_deg: float) -> dict:
    n = clean.shape[0]
    c = (n - 1) / 2

    def val(pts):
        return ndimage.map_coordinates(clean, [pts[:, 1] / spacing_mm + c, pts[:, 0] / spacing_mm + c], order=1)

    out = {}
    for k, d in enumerate(ACR_HOLE_SIZES_MM):
        cen = acr_hole_centres(d, k, rotation_deg)
        a = math.radians(rotation_deg)
        # plastic level: the empty quadrant of the pair, two pitches right of the UL array's top row
        g = cen["UL"].reshape(4, 4, 2)
        step = g[0, 1] - g[0, 0]
        plastic = float(val(np.array([g[0, 3] + 2 * step, g[1, 3] + 2 * step])).mean())
        for arr, pts in cen.items():
            g = pts.reshape(4, 4, 2)
            lines = [g[i] for i in range(4)] if arr == "UL" else [g[:, j] for j in range(4)]
            best = -1.0
            for ln in lines:
                peaks = val(ln)
                mids = val(0.5 * (ln[1:] + ln[:-1]))
                m = min((min(peaks[i], peaks[i + 1]) - mids[i]) / max(min(peaks[i], peaks[i + 1]) - plastic, 1e-9) for i in range(3))
                best = max(best, float(m))
            out[(arr, d)] = best
    return out


def acr_resolution_slice(
    *, n: int = 512, spacing_mm: float = 0.48828125, sigma_mm: tuple[float, float] = (0.15, 0.15),
    cutoff_lp_mm: tuple[float | None, float | None] = (None, None), noise_sd: float = 0.01, seed: int = 0,
    rotation_deg: float = 0.0, shading: float = 0.06,
) -> tuple[np.ndarray, AcrResolutionTruth]:
    """ACR slice 1 (fluid disc of 190 mm, the thickness bar, the resolution insert) seen through a known PSF
    (`psf_blur`: Gaussian σ per axis and optional k-space truncation), coil-like shading and Rician noise
    (σ = `noise_sd` of the fluid signal). Returns (image, truth); truth from the noise-free image."""
    rng = np.random.default_rng(seed)
    x, y = _grid(n, spacing_mm)
    sig = acr_slice1(x, y, 5.0, 0.0, (95.0, 95.0)) * _insert_fluid(x, y, spacing_mm, rotation_deg)
    clean = psf_blur(sig, spacing_mm, sigma_mm, cutoff_lp_mm)
    truth = AcrResolutionTruth(_true_modulation(clean, spacing_mm, rotation_deg), sigma_mm, cutoff_lp_mm)
    img = _finish(clean, x, y, noise_sd, rng, shading=shading, blur_px=0.0)
    return img, truth

# ---------------------------------------------------------------- ACR sagittal localiser


@dataclass
class SagittalTruth:
    si_length_mm: float  # the phantom's length along its axis (the truth of `si_length_mm`)
    ap_chord_mm: float  # the chord where the slab is half filled, 2·√(R² − w²) (the truth of the A-P width)
    tilt_deg: float
    offset_lr_mm: float


def _box(s: np.ndarray, lo: float, hi: float, px: float) -> np.ndarray:
    """Fraction of a fine pixel of width `px` centred at s inside [lo, hi] (one-axis partial volume)."""
    return np.clip((np.minimum(s + px / 2, hi) - np.maximum(s - px / 2, lo)) / px, 0.0, 1.0)


def acr_sagittal_image(
    *, length_mm: float = 148.0, radius_mm: float = 95.0, tilt_deg: float = 0.0, offset_lr_mm: float = 0.0,
    slab_mm: float = 20.0, n: int = 256, spacing_rc: tuple[float, float] = (0.9765625, 0.9765625), noise_sd: float = 0.01,
    shading: float = 0.45, inserts: bool = True, seed: int = 0,
) -> tuple[np.ndarray, SagittalTruth]:
    """A sagittal image of an ACR-like cylinder (axis along the patient's S-I = image rows going down, A-P =
    columns), turned in-plane by `tilt_deg`, NOT built on the analyser's model (half-level crossings):

    - the object is drawn on a grid 4× finer than the image: along the axis, the fine pixels' exact overlap
      with the flat end faces; across, the thick slab (`slab_mm`, off the axis by `offset_lr_mm`) filled by
      the cylinder, overlap(slab, [−√(R² − u²), √(R² − u²)]) / slab (a soft A-P edge, as on real localisers);
    - signal-free inserts: a 12 mm bar rising 65 mm from the inferior end at the centre (on the middle line,
      as on the real localiser), two 6 mm plates hanging 50 mm from the superior end, a row of marks;
    - coil shading, strong along S-I (±`shading`, the real Philips localiser's ends differ 3×) and 10 %
      along A-P, applied to the object;
    - acquisition: k-space of the fine object truncated to the n × n matrix without a window (ideal sinc
      sampling, Gibbs ringing at the end faces), then complex Gaussian noise of σ = `noise_sd` (the image is
      its modulus: Rician background).

    Returns the image (fluid ≈ 1) and the truth."""
    f = 4
    rng = np.random.default_rng(seed)
    sr, sc = spacing_rc
    # fine grid whose every f-th sample is an image pixel centre (origin at the image centre)
    rows = (np.arange(n * f) / f - (n - 1) / 2) * sr
    cols = (np.arange(n * f) / f - (n - 1) / 2) * sc
    y, x = np.meshgrid(rows, cols, indexing="ij")  # y: S-I (down = inferior), x: A-P
    th = math.radians(tilt_deg)
    u = x * math.cos(th) + y * math.sin(th)  # across the axis (A-P in the phantom frame)
    v = -x * math.sin(th) + y * math.cos(th)  # along the axis
    px = min(sr, sc) / f
    half_chord = np.sqrt(np.clip(radius_mm ** 2 - u ** 2, 0.0, None))
    lo, hi = offset_lr_mm - slab_mm / 2, offset_lr_mm + slab_mm / 2
    slab = np.clip((np.minimum(hi, half_chord) - np.maximum(lo, -half_chord)) / slab_mm, 0.0, 1.0)
    obj = slab * _box(v, -length_mm / 2, length_mm / 2, px)
    if inserts:
        top, bottom = -length_mm / 2, length_mm / 2
        holes = _box(u, -6.0, 6.0, px) * _box(v, bottom - 65.0, bottom + 1.0, px)
        for c in (-45.0, 55.0):
            holes = np.maximum(holes, _box(u, c - 3.0, c + 3.0, px) * _box(v, top - 1.0, top + 50.0, px))
        for c in np.arange(-80.0, 81.0, 16.0):
            holes = np.maximum(holes, _box(u, c - 1.0, c + 1.0, px) * _box(v, -9.0, -1.0, px))
        obj = obj * (1.0 - holes)
    obj = obj * (1.0 - shading * v / (length_mm / 2)) * (1.0 + 0.1 * u / radius_mm)
    k = np.fft.fftshift(np.fft.fft2(obj))
    c0 = (n * f - n) // 2
    img = np.fft.ifft2(np.fft.ifftshift(k[c0:c0 + n, c0:c0 + n])).real / (f * f)
    re = img + rng.normal(0, noise_sd, img.shape)
    im = rng.normal(0, noise_sd, img.shape)
    # A-P truth: the chord where the slab is half filled, overlap(slab, [−w, w]) = slab / 2, solved for w
    w_lo, w_hi = 0.0, radius_mm
    for _ in range(60):
        w = 0.5 * (w_lo + w_hi)
        if min(hi, w) - max(lo, -w) < slab_mm / 2:
            w_lo = w
        else:
            w_hi = w
    truth = SagittalTruth(length_mm, 2 * math.sqrt(max(radius_mm ** 2 - w ** 2, 0.0)), tilt_deg, offset_lr_mm)
    return np.hypot(re, im), truth


def acr_sagittal_dicom(*, when: dt.datetime | None = None, localiser_type: bool = False, **kw) -> tuple[bytes, SagittalTruth]:
    """`acr_sagittal_image` as a sagittal DICOM MR file (rows run head → feet, columns anterior → posterior:
    ImageOrientationPatient 0\\1\\0\\0\\0\\−1, as the Philips ACR localiser); `localiser_type` adds LOCALIZER to
    ImageType (how Siemens and GE mark their localisers)."""
    img, truth = acr_sagittal_image(**kw)
    n = img.shape[0]
    sp = kw.get("spacing_rc", (0.9765625, 0.9765625))
    image_type = ("ORIGINAL", "PRIMARY", "LOCALIZER") if localiser_type else ("ORIGINAL", "PRIMARY", "M_SE", "M", "SE")
    data = mr_image_bytes(img * 1500.0, pixel_spacing_mm=tuple(sp), slice_thickness_mm=kw.get("slab_mm", 20.0),
                          acquired_at=when or dt.datetime(2026, 11, 2, 8, 55), series_description="ACR SAG T1",
                          orientation=(0.0, 1.0, 0.0, 0.0, 0.0, -1.0), image_type=image_type,
                          position_mm=[0.0, -(n - 1) / 2 * sp[1], (n - 1) / 2 * sp[0]])
    return data, truth
