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


def acr_series(
    *, thickness_mm: float = 5.0, tilt_deg: float = 0.0, diameter_mm: tuple[float, float] = (190.0, 190.0), n: int = 256,
    spacing_mm: float = 0.9765625, noise_sd: float = 0.01, ghost_fraction: float = 0.0, seed: int = 0,
    when: dt.datetime | None = None, reverse: bool = False, bar_difference_mm: float = 0.0, side_lobes: float = 0.0,
) -> tuple[list[tuple[str, bytes]], AcrTruth]:
    """An 11-slice ACR-like axial series (slice gap 10 mm): slice 1 with the thickness bar, slice 5 with a
    grid-free uniform section, the others uniform; an optional ghost (copy shifted by half the FOV along the
    phase direction = columns) of known fraction, slice-position bars on slices 1 and 11 whose lengths differ by
    `bar_difference_mm` (right − left). Files named in acquisition order (reversed if asked). `side_lobes`: the
    slice profile gets side lobes of that height (`lobed_profile`); the truth is then its exact FWHM."""
    from pydicom.uid import generate_uid

    rng = np.random.default_rng(seed)
    x, y = _grid(n, spacing_mm)
    rad = (diameter_mm[0] / 2, diameter_mm[1] / 2)
    uid = generate_uid()
    when = when or dt.datetime(2026, 11, 2, 9, 0)
    files = []
    for k in range(1, 12):
        if k == 1:
            sig = acr_slice1(x, y, thickness_mm, tilt_deg, rad, side_lobes)
        else:
            sig = _disc(x / rad[0] * 95.0, y / rad[1] * 95.0, 95.0)
        if k in (1, 11):
            sig = sig * (1 - position_bars(x, y, rad[1], bar_difference_mm))
        if ghost_fraction:
            sig = sig + ghost_fraction * np.roll(sig, n // 2, axis=1)
        img = _finish(sig, x, y, noise_sd, rng, shading=0.06)
        loc = -50.0 + 10.0 * (k - 1)
        data = mr_image_bytes(
            img * 3000.0, pixel_spacing_mm=(spacing_mm, spacing_mm), slice_thickness_mm=5.0, acquired_at=when,
            series_uid=uid, series_description="ACR T1 AX", instance_number=k, phase_encoding_direction="ROW",
            position_mm=[-(n - 1) / 2 * spacing_mm, -(n - 1) / 2 * spacing_mm, loc],
        )
        files.append((f"acr_{(12 - k) if reverse else k:02d}.dcm", data))
    truth_mm = profile_fwhm_mm(*lobed_profile(thickness_mm, side_lobes)) if side_lobes else thickness_mm
    return files, AcrTruth(truth_mm, diameter_mm, ghost_fraction)
