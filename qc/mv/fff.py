"""FFF profile constancy (NCS report 33 quantities) of one central profile of an MVIC-Champ field.

Owns the per-axis quantities of a flattening-filter-free beam profile, after NCS report 33
("Beam parameters for non-flattened photon beams", Netherlands Commission on Radiation Dosimetry):
- **Inflection points**: the two field edges (maximum of |first derivative|; sub-pixel Gaussian fit
  of the derivative peak, as the MVIC-Champ edges). Field centre c = their midpoint, width W = their distance.
- **Inflection-point normalisation**: N(x) = 50 % · D(x) / mean(D(left inflection), D(right inflection)),
  so both inflection points sit at 50 % (NCS-33 renormalisation, simplified to the measured heights).
- **Unflatness** = N(c) / mean(N(c − 0.4 W), N(c + 0.4 W)): the central value over the values at
  80 % of the field width (1 for a flat beam, > 1 for FFF).
- **Slopes** (%/mm of N) = least-squares slope of N over [W/6, W/3] from the centre on each side
  (between 1/3 and 2/3 of the half field width): left positive, right negative for an FFF cone.
- **Peak position** (mm from the field centre) = vertex of a parabola fitted to N over the central
  40 % of the width (at most ±25 mm: NCS-33 fits the central 5 cm; pylinac's "top" is the same idea).
- **Symmetry** (percentage points of N) = max |N(c + x) − N(c − x)| for 0 < x ≤ 0.4 W.
On the Unity the beam crosses the cryostat before the MVIC: these are constancy quantities, judged
as changes from the stored baseline, not against absolute beam specifications.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from qc.mv.geometry import inflection_edge

FIELD_FRACTION = 0.8  # unflatness and symmetry over the central 80 % of the width
SLOPE_FROM, SLOPE_TO = 1 / 6, 1 / 3  # slope fit between 1/3 and 2/3 of the half width
PEAK_FRACTION = 0.2  # half-width of the peak fit window, as a fraction of W
PEAK_MAX_HALF_MM = 25.0  # NCS-33: central 5 cm at most
SMOOTH_MM = 0.65
QUANTITIES = ("unflatness", "slope_left_pct_per_mm", "slope_right_pct_per_mm", "peak_position_mm", "symmetry_pct")


@dataclass(frozen=True)
class FFFProfile:
    """NCS-33 quantities of one profile (see the module docstring); positions in the profile's mm."""

    left_inflection_mm: float
    right_inflection_mm: float
    centre_mm: float
    width_mm: float
    unflatness: float
    slope_left_pct_per_mm: float
    slope_right_pct_per_mm: float
    peak_position_mm: float | None  # from the field centre; None when the top has no maximum (flattened beam, horns)
    symmetry_pct: float
    centre_value_pct: float  # N at the field centre

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def fff_profile(pos_mm: np.ndarray, value: np.ndarray) -> FFFProfile | None:
    """The NCS-33 quantities of a profile sampled at `pos_mm` (ascending, regular); None when the
    profile does not hold both field edges with room for the fits."""
    x = np.asarray(pos_mm, float)
    y = np.asarray(value, float)
    if len(x) < 20 or not np.all(np.isfinite(y)):
        return None
    step = float(np.median(np.diff(x)))
    ys = ndimage.gaussian_filter1d(y, max(0.5, SMOOTH_MM / step))
    k = int(np.argmax(ys))
    if k < 5 or k > len(x) - 6:
        return None
    pl, vl = inflection_edge(ys[: k + 1], +1, smooth_px=0)
    pr, vr = inflection_edge(ys[k:], -1, smooth_px=0)
    if not (np.isfinite(pl) and np.isfinite(pr)) or vl <= 0 or vr <= 0:
        return None
    grid = np.arange(len(x), dtype=float)
    xl = float(np.interp(pl, grid, x))
    xr = float(np.interp(k + pr, grid, x))
    c, w = (xl + xr) / 2, xr - xl
    if w <= 10 * step:
        return None
    n = 50.0 * ys / ((vl + vr) / 2)

    def at(xx: float) -> float:
        return float(np.interp(xx, x, n))

    unflat = at(c) / ((at(c - 0.4 * w) + at(c + 0.4 * w)) / 2)

    def slope(a: float, b: float) -> float:
        sel = (x >= min(a, b)) & (x <= max(a, b))
        if sel.sum() < 3:
            return float("nan")
        return float(np.polyfit(x[sel], n[sel], 1)[0])

    s_left = slope(c - w * SLOPE_TO, c - w * SLOPE_FROM)
    s_right = slope(c + w * SLOPE_FROM, c + w * SLOPE_TO)
    half = min(PEAK_FRACTION * w, PEAK_MAX_HALF_MM)
    sel = np.abs(x - c) <= half
    peak = float("nan")
    if sel.sum() >= 5:
        a2, a1, _ = np.polyfit(x[sel] - c, n[sel], 2)
        if a2 < 0:
            peak = float(np.clip(-a1 / (2 * a2), -half, half))
    xs = np.linspace(step, FIELD_FRACTION * w / 2, max(3, int(FIELD_FRACTION * w / 2 / step)))
    sym = float(np.max(np.abs(np.interp(c + xs, x, n) - np.interp(c - xs, x, n))))
    if not all(math.isfinite(v) for v in (unflat, s_left, s_right, sym)):
        return None
    return FFFProfile(xl, xr, c, w, unflat, s_left, s_right, peak if math.isfinite(peak) else None, sym, at(c))
