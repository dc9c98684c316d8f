"""SNR of the ACR large phantom, slice 7 (part of test "mr-acr"): smoothed residual, background, two series.

Owns the ROI layout and the three noise estimates of the ACR set's SNR:

- "smoothed" (default; McCann et al. 2013, Phys. Med. Biol. 58:3775, as hazen's `acr_snr` task): noise image
  = image − 25 × 25-pixel boxcar mean of the image, × √(K/(K − 1)) with K = 25² (the pixel's own weight in the
  mean; +0.08 %, hazen leaves it out); five 20 × 20-pixel squares, one centred on the phantom and four on its
  diagonals at ±40 pixels in rows and columns (hazen's layout, in pixels of the image: 20 mm squares 39 mm
  out on a 256² 25 cm field, 10 mm squares 20 mm out on a 512² one). SNR = mean over the squares of
  mean(image) / SD(noise image) (SD with n − 1).
  The layout is kept in pixels, as hazen's, so that values compare: on an image whose reconstruction
  corrects the coil's intensity (GE SCIC), noise is not uniform (GE ACR slice 7: SD 52 at the centre, 36–40
  on the diagonals 20 mm out), so the SNR depends on where it is read. Trend it per protocol.
- "background" (NEMA MS 1): S = mean of the 200 cm² circle, σ = mean SD of the four 10 cm² background
  ellipses / 0.655 (Rayleigh distribution of magnitude noise). Ghosts and a zeroed background bias it.
- "difference" of two acquisitions of the series (NEMA MS 1 method 1, hazen's subtraction): same five
  squares on both slices 7, per square S = mean of the two means, σ = SD(image 1 − image 2) / √2.

Normalisation (hazen's convention, `qc.mr.snr.normalisation_factor`) is reported with the value, not judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

KERNEL_PX = 25  # boxcar of the smoothed-residual noise image (hazen acr_snr: 25; McCann 2013 body-coil size)
ROI_SIDE_PX = 20
ROI_OFFSET_PX = 40
METHODS = ("smoothed", "background")


@dataclass
class AcrSnr:
    snr: float | None
    method: str  # smoothed, background, difference
    signal: float | None
    noise_sd: float | None
    squares: list[tuple[int, int, int, int]] = field(default_factory=list)  # (r0, c0, r1, c1) px, end exclusive
    per_square: list[float] = field(default_factory=list)


def squares(centre_rc: tuple[float, float], shape: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The five squares (r0, c0, r1, c1), end exclusive, around the phantom centre rounded to a pixel;
    squares that fall off the image are left out."""
    cr, cc = int(round(centre_rc[0])), int(round(centre_rc[1]))
    h = ROI_SIDE_PX // 2
    out = []
    for dr, dc in ((0, 0), (-1, -1), (1, -1), (-1, 1), (1, 1)):
        r, c = cr + dr * ROI_OFFSET_PX, cc + dc * ROI_OFFSET_PX
        box = (r - h, c - h, r + h, c + h)
        if box[0] >= 0 and box[1] >= 0 and box[2] <= shape[0] and box[3] <= shape[1]:
            out.append(box)
    return out


def _residual_around(img: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, int, int]:
    """Noise image over the squares' bounding box (plus the kernel's reach, so values equal those of the whole
    image filtered), with the crop's offset."""
    pad = KERNEL_PX // 2 + 1
    r0 = max(0, min(b[0] for b in boxes) - pad)
    c0 = max(0, min(b[1] for b in boxes) - pad)
    r1 = min(img.shape[0], max(b[2] for b in boxes) + pad)
    c1 = min(img.shape[1], max(b[3] for b in boxes) + pad)
    crop = np.asarray(img[r0:r1, c0:c1], dtype=np.float64)
    k2 = KERNEL_PX * KERNEL_PX
    res = (crop - ndimage.uniform_filter(crop, KERNEL_PX, mode="nearest")) * math.sqrt(k2 / (k2 - 1))
    return res, r0, c0


def snr_smoothed(img: np.ndarray, centre_rc: tuple[float, float]) -> AcrSnr:
    boxes = squares(centre_rc, img.shape)
    if not boxes:
        return AcrSnr(None, "smoothed", None, None)
    res, r0, c0 = _residual_around(img, boxes)
    per, sig, noi = [], [], []
    for a, b, c, d in boxes:
        s = float(img[a:c, b:d].mean())
        n = float(res[a - r0 : c - r0, b - c0 : d - c0].std(ddof=1))
        sig.append(s)
        noi.append(n)
        per.append(s / n if n > 0 else float("nan"))
    return AcrSnr(_mean(per), "smoothed", float(np.mean(sig)), float(np.mean(noi)), boxes, per)


def snr_difference(img1: np.ndarray, img2: np.ndarray, centre_rc: tuple[float, float]) -> AcrSnr:
    boxes = squares(centre_rc, img1.shape)
    if not boxes or img1.shape != img2.shape:
        return AcrSnr(None, "difference", None, None)
    per, sig, noi = [], [], []
    for a, b, c, d in boxes:
        p, q = np.asarray(img1[a:c, b:d], dtype=np.float64), np.asarray(img2[a:c, b:d], dtype=np.float64)
        s = 0.5 * (float(p.mean()) + float(q.mean()))
        n = float((p - q).std(ddof=1)) / math.sqrt(2.0)
        sig.append(s)
        noi.append(n)
        per.append(s / n if n > 0 else float("nan"))
    return AcrSnr(_mean(per), "difference", float(np.mean(sig)), float(np.mean(noi)), boxes, per)


def _mean(values: list[float]) -> float | None:
    v = [x for x in values if np.isfinite(x)]
    return float(np.mean(v)) if v else None
