"""Synthetic Unity MLC images with known leaf positions: AQUA "MLC exactitude" gaps and MVIC slits.

Owns the ground truth of the MLC analysers' tests and the demo sessions. Model (all in mm at the
isocentre, Unity geometry of `qc.synthetic`: CAX pixel (511.03, 652.75), 0.2160 mm/px):
- 80 leaf pairs of 7.175 mm (33.2 px) stacked along u, pair 40|41 junction on the CAX column,
  pair 1 on the −u side (the analyser's default numbering); leaves travel along v. Bank A closes
  from −v (its tips are the low-v edges of the openings), bank B from +v.
- Per pair, the openings (lo, hi) along v are box functions convolved with a Gaussian leaf-end
  penumbra σ_t (default 2.5 mm; erf, exact); leaf transmission 1 % under the leaves; inter-leaf
  leakage lines (Gaussian lines, σ 0.3 mm, +1.5 % of open) on every pair junction under the
  leaves; a tongue-and-groove dip (−3 %) on the junctions inside the openings; a diaphragm band
  (default −47.5/+47.4 mm along v, σ 2.5 mm, 0.2 % transmission) as on the real images (domain.md §5).
- Lateral (across-pair) blur σ_p 0.8 mm: focused leaf sides, so the leaf-end penumbra (rounded
  tips) is wider than the leaf-side one. With a lateral σ as wide as σ_t, a leaf next to a
  neighbour displaced by 5 mm would be measured ~0.3 mm off by crosstalk (see the bench).
- FFF cone exp(−(r/300 mm)^1.3) (as `qc.synthetic.field`): the dome falls 1.9 %/cm at 20 mm and
  2.4 %/cm at 40 mm off axis (`dome_slope_pct_per_cm`); `fff_r0_mm` 150 mm gives 3.5 and 4.4 %/cm.
  It multiplies the blurred aperture, so the 50 % of the local open signal sits on the tip; a dome
  blurred together with the aperture would move that point by σ²·D′/D (0.02 mm at 40 mm, σ 2.5 mm).
- Rounded leaf ends (`sigma_t_per_mm`, `sigma_out_per_mm`, dimensionless mm of σ per mm off axis):
  the leaf-end penumbra of a tip at distance |x| from the axis is σ_t + k·d (inside the opening)
  and σ_out + k_out·d (under the leaf), d = max(0, |x| − `sigma_widen_from_mm`), each edge its
  own (from 30 mm: only the ±40 mm ends widen, as the Y diaphragm's edge 7.5 mm beyond them or a
  U-shaped rounded-end penumbra would); the 50 % point of each edge stays on
  the programmed tip (the radiation-field offset of a rounded end is constant with position and
  is calibrated into the tip position: Zhou et al., Radiol Oncol 2015; 49(3): 299–306).
- Gaussian noise (0.5 % of open), then the Unity inverted polarity (`unity_raw_from_signal`).
Truth: the programmed leaf-tip positions; for slits, the FWHM/centre of the noise-free profile at
the pair centre computed on a 0.002 mm grid with the analyser's level definition (`slit_truth`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.special import ndtr

from qc.synthetic import (
    UNITY_CAX_PX,
    UNITY_COLS,
    UNITY_PIXEL_ISO_MM,
    UNITY_ROWS,
    rt_image_bytes,
    unity_raw_from_signal,
)

LEAF_PITCH_MM = 7.175
N_PAIRS = 80
AQUA_GAPS_MM: tuple[tuple[float, float], ...] = ((-40, -20), (-30, -10), (-20, 0), (0, 20), (10, 30), (20, 40))
DIAPHRAGM_MM = (-47.5, 47.4)
# Default MVIC slit plan: an ASSUMPTION (domain.md §13 Q4: the delivered plan is unknown):
# 5 slits of 5 mm centred at −40, −20, 0, +20, +40 mm along v. Configurable in the analyser.
SLITS_MM: tuple[tuple[float, float], ...] = ((-40, 5), (-20, 5), (0, 5), (20, 5), (40, 5))
# The AQUA-ExactitudeErr staircase (domain.md §0.6, §5): bank A tips moved towards +v on pairs
# 28–39, bank B tips towards −v on pairs 41–53, in 5 mm steps (the gaps close).
STAIRCASE: dict[tuple[int, str], float] = {
    **{(k, "A"): 15.0 for k in (28, 29)},
    **{(k, "A"): 10.0 for k in range(30, 35)},
    **{(k, "A"): 5.0 for k in range(35, 40)},
    **{(k, "B"): -5.0 for k in range(41, 46)},
    **{(k, "B"): -10.0 for k in range(46, 51)},
    **{(k, "B"): -15.0 for k in range(51, 54)},
}


@dataclass(frozen=True)
class MLCModel:
    """Physical parameters of the synthetic images (defaults as in the module docstring)."""

    sigma_t_mm: float = 2.5
    sigma_p_mm: float = 0.8
    leaf_transmission: float = 0.01
    interleaf: float = 0.015
    interleaf_sigma_mm: float = 0.3
    tongue_groove: float = 0.03
    diaphragm_mm: tuple[float, float] = DIAPHRAGM_MM
    diaphragm_sigma_mm: float = 2.5
    diaphragm_transmission: float = 0.002
    fff_r0_mm: float | None = 300.0
    # edges that are NOT the analyser's model (bias table): an asymmetric leaf-end penumbra (σ outside
    # the opening; None = σ_t both sides) and a long scatter tail (that fraction blurred by tail σ)
    sigma_t_out_mm: float | None = None
    tail_weight: float = 0.0
    tail_sigma_mm: float = 15.0
    # rounded leaf ends: σ of a tip grows with its distance from the axis (mm of σ per mm off axis)
    sigma_t_per_mm: float = 0.0
    sigma_out_per_mm: float | None = None  # under the leaf; None = as `sigma_t_per_mm`
    sigma_widen_from_mm: float = 0.0  # the widening starts this far off axis (e.g. 30: only the ±40 mm ends widen)
    cax_px: tuple[float, float] = UNITY_CAX_PX
    pixel_mm: float = UNITY_PIXEL_ISO_MM
    pitch_mm: float = LEAF_PITCH_MM
    # a jaw across the leaf pairs (field limited to [lo, hi] mm along u; None: no such jaw), as the jaw
    # image of a two-image picket fence: the pairs beyond it are in the jaw's shadow
    jaw_p_mm: tuple[float, float] | None = None
    jaw_sigma_mm: float = 2.5
    jaw_transmission: float = 0.002


def pair_edges_mm(model: MLCModel = MLCModel()) -> np.ndarray:
    """Junction positions along u (mm from the CAX) of the 80 pairs: pair k spans [e[k−1], e[k]]."""
    return (np.arange(N_PAIRS + 1) - 40) * model.pitch_mm


def openings_for(
    nominal: list[tuple[float, float]], errors: dict[tuple[int, str], float] | None = None
) -> np.ndarray:
    """Leaf-tip positions (mm along v) of every pair: array (80, n_openings, 2) = (bank A tip, bank B tip).

    `errors` {(pair, "A"|"B"): mm} moves that leaf's tip by mm along +v in every opening.
    """
    op = np.tile(np.asarray(nominal, dtype=float)[None, :, :], (N_PAIRS, 1, 1))
    for (k, bank), d in (errors or {}).items():
        op[k - 1, :, 0 if bank == "A" else 1] += d
    return op


def _edge_sigmas(tip_mm: float, model: "MLCModel") -> tuple[float, float]:
    """(σ inside the opening, σ under the leaf) in mm of the leaf end at `tip_mm` from the axis."""
    k_in = model.sigma_t_per_mm
    k_out = k_in if model.sigma_out_per_mm is None else model.sigma_out_per_mm
    s_out = model.sigma_t_mm if model.sigma_t_out_mm is None else model.sigma_t_out_mm
    d = max(0.0, abs(tip_mm) - model.sigma_widen_from_mm)
    return model.sigma_t_mm + k_in * d, s_out + k_out * d


def _edge(d_mm: np.ndarray, s_in: float, s_out: float) -> np.ndarray:
    """A leaf end's transmission at signed distance d inside the opening: a split normal (σ `s_in`
    inside, `s_out` under the leaf) whose 50 % point is the tip."""
    return ndtr(d_mm / np.where(d_mm >= 0, s_in, s_out))


def _profile_1d(t_mm: np.ndarray, openings: np.ndarray, model: "MLCModel", sigma: float | None = None) -> np.ndarray:
    """Aperture of one pair along t: Σ over openings of the two leaf ends' edges (clipped to 1).

    Each leaf end has its own penumbra (`_edge_sigmas`: rounded ends widen off axis); `sigma`
    forces one symmetric σ on every edge (the scatter tail)."""
    a = np.zeros_like(t_mm)
    for lo, hi in openings:
        s_lo = (sigma, sigma) if sigma is not None else _edge_sigmas(lo, model)
        s_hi = (sigma, sigma) if sigma is not None else _edge_sigmas(hi, model)
        a += _edge(t_mm - lo, *s_lo) + _edge(hi - t_mm, *s_hi) - 1
    return np.clip(a, 0, 1)


def _aperture_1d(t_mm: np.ndarray, openings: np.ndarray, model: "MLCModel") -> np.ndarray:
    """One pair's aperture with the model's edge shape, plus its long scatter tail when asked."""
    a = _profile_1d(t_mm, openings, model)
    if model.tail_weight:
        a = (1 - model.tail_weight) * a + model.tail_weight * _profile_1d(t_mm, openings, model, model.tail_sigma_mm)
    return a


def _diaphragm(t_mm: np.ndarray, model: MLCModel) -> np.ndarray:
    lo, hi = model.diaphragm_mm
    j = ndtr((t_mm - lo) / model.diaphragm_sigma_mm) - ndtr((t_mm - hi) / model.diaphragm_sigma_mm)
    return model.diaphragm_transmission + (1 - model.diaphragm_transmission) * j


def _cone(r_mm: np.ndarray, model: MLCModel) -> np.ndarray:
    if not model.fff_r0_mm:
        return np.ones_like(r_mm)
    return np.exp(-((r_mm / model.fff_r0_mm) ** 1.3))


def dome_slope_pct_per_cm(r_mm: float, model: MLCModel = MLCModel()) -> float:
    """Fall of the FFF dome at `r_mm` off axis, % of the local signal per cm (d ln D/dr × 10 mm × 100)."""
    if not model.fff_r0_mm:
        return 0.0
    return float(-1.3 / model.fff_r0_mm * (r_mm / model.fff_r0_mm) ** 0.3 * 1000.0)


def mlc_signal(openings: np.ndarray, model: MLCModel = MLCModel(), shape: tuple[int, int] = (UNITY_ROWS, UNITY_COLS)) -> np.ndarray:
    """Noise-free relative dose image (open ≈ 1 at the CAX) for `openings` (80, n, 2) in mm along v."""
    rows, cols = shape
    u0, v0 = model.cax_px
    px = model.pixel_mm
    t_mm = (np.arange(rows) - v0) * px
    p_mm = (np.arange(cols) - u0) * px
    edges = pair_edges_mm(model)
    ap = np.stack([_aperture_1d(t_mm, openings[k], model) for k in range(N_PAIRS)])  # (80, rows)
    # each column: fraction of the pixel in the pair of its left half vs the next pair
    left = p_mm - px / 2
    k_left = np.clip(np.searchsorted(edges, left, side="right") - 1, 0, N_PAIRS - 1)
    boundary = edges[np.clip(k_left + 1, 0, N_PAIRS)]
    frac = np.clip((boundary - left) / px, 0, 1)
    k_right = np.clip(k_left + 1, 0, N_PAIRS - 1)
    a_img = ap[k_left].T * frac[None, :] + ap[k_right].T * (1 - frac[None, :])  # (rows, cols)
    # junction lines: inter-leaf leakage under the leaves, tongue-and-groove dip in the openings
    d = np.min(np.abs(p_mm[:, None] - edges[None, :]), axis=1)
    g = np.exp(-0.5 * (d / model.interleaf_sigma_mm) ** 2)[None, :]
    tx = model.leaf_transmission
    t_map = tx + (1 - tx) * a_img + model.interleaf * (1 - a_img) * g - model.tongue_groove * a_img * g
    dose = t_map * _diaphragm(t_mm, model)[:, None]
    if model.jaw_p_mm is not None:
        lo, hi = model.jaw_p_mm
        j = ndtr((p_mm - lo) / model.jaw_sigma_mm) - ndtr((p_mm - hi) / model.jaw_sigma_mm)
        dose = dose * (model.jaw_transmission + (1 - model.jaw_transmission) * j)[None, :]
    dose = ndimage.gaussian_filter1d(dose, model.sigma_p_mm / px, axis=1, mode="nearest")
    r = np.hypot(t_mm[:, None], p_mm[None, :])
    return dose * _cone(r, model)


def mlc_image_bytes(
    openings: np.ndarray,
    *,
    acquired_at: dt.datetime,
    rng: int | np.random.Generator = 0,
    noise_rel: float = 0.005,
    model: MLCModel = MLCModel(),
    label: str = "MVICIMRTSegment",
    **dicom_kw,
) -> bytes:
    """A Unity RT Image (DICOM bytes) of `openings`, with noise and the inverted polarity."""
    gen = np.random.default_rng(rng)
    s = mlc_signal(openings, model)
    if noise_rel > 0:
        s = s + gen.normal(0.0, noise_rel, s.shape)
    return rt_image_bytes(unity_raw_from_signal(s), acquired_at=acquired_at, label=label, **dicom_kw)


# ---------------------------------------------------------------- sessions


def aqua_session(
    acquired_at: dt.datetime,
    rng_seed: int = 0,
    errors: dict[tuple[int, str], float] | str | None = None,
    gaps_mm: tuple[tuple[float, float], ...] = AQUA_GAPS_MM,
    noise_rel: float = 0.005,
    model: MLCModel = MLCModel(),
) -> tuple[list[tuple[str, bytes]], list[np.ndarray]]:
    """The 6-image AQUA session: (files, true openings per image (80, 1, 2)). `errors="staircase"`
    applies the AQUA-ExactitudeErr staircase (`STAIRCASE`) to every image."""
    err = STAIRCASE if errors == "staircase" else errors
    files, truth = [], []
    for i, gap in enumerate(gaps_mm):
        op = openings_for([gap], err)  # type: ignore[arg-type]
        when = acquired_at + dt.timedelta(seconds=40 * i)
        name = f"AQUA_{i + 1}_{gap[0]:+.0f}_{gap[1]:+.0f}.dcm"
        files.append((name, mlc_image_bytes(op, acquired_at=when, rng=rng_seed * 100 + i, noise_rel=noise_rel, model=model,
                                            patient_name="AQUA^MLC", patient_id="AQUA-MLC", study_id="MLC_exact_0")))
        truth.append(op)
    return files, truth


def slit_session(
    acquired_at: dt.datetime,
    rng_seed: int = 0,
    errors: dict[tuple[int, str], float] | None = None,
    slits_mm: tuple[tuple[float, float], ...] = SLITS_MM,
    noise_rel: float = 0.005,
    model: MLCModel = MLCModel(),
) -> tuple[list[tuple[str, bytes]], np.ndarray]:
    """One slit image (default plan `SLITS_MM`): (files, true openings (80, n_slits, 2))."""
    nominal = [(c - w / 2, c + w / 2) for c, w in slits_mm]
    op = openings_for(nominal, errors)
    data = mlc_image_bytes(op, acquired_at=acquired_at, rng=rng_seed, noise_rel=noise_rel, model=model,
                           patient_name="MVIC^FENTE", patient_id="MVIC-FENTE", study_id="MVIC_fente")
    return [("MVIC_fente.dcm", data)], op


def picket_parts_session(
    acquired_at: dt.datetime,
    rng_seed: int = 0,
    errors: dict[tuple[int, str], float] | None = None,
    pickets_mm: tuple[float, ...] = (-40.0, -20.0, 0.0, 20.0, 40.0),
    width_mm: float = 5.0,
    split_pair: int = 46,
    noise_rel: float = 0.005,
    model: MLCModel = MLCModel(),
) -> tuple[list[tuple[str, bytes]], bytes, np.ndarray]:
    """One picket fence delivered as two images, as pylinac's two-image picket fence (`combo-jaw` +
    `combo-mlc`, `PicketFence.from_multiple_images`): (the two parts, the same fence in one image, the
    true openings (80, n_pickets, 2)).

    - "jaw" part: the pickets on every pair, a jaw across the pairs ending on the junction below
      `split_pair` (pairs ≥ `split_pair` in its shadow: 0.2 % transmission, σ 2.5 mm);
    - "MLC" part: the pickets on pairs ≥ `split_pair` only, the other pairs closed (leaf transmission
      and inter-leaf leakage only);
    together every pair shows every picket once. Default: 5 pickets of 5 mm, 20 mm apart (pylinac's combo
    test has 5 pickets 30 mm apart; the Unity diaphragm leaves ±47 mm along v, so 20 mm here, the MVIC slit
    plan's spacing). Same geometry and gantry in both headers.
    """
    nominal = [(c - width_mm / 2, c + width_mm / 2) for c in pickets_mm]
    op = openings_for(nominal, errors)
    closed = op.copy()
    closed[: split_pair - 1] = closed[: split_pair - 1, :, :1]  # lo = hi: no opening on the pairs the jaw image shows
    split_u = float(pair_edges_mm(model)[split_pair - 1])
    jaw = dataclasses.replace(model, jaw_p_mm=(-1000.0, split_u))
    kw = dict(patient_name="PF^COMBO", patient_id="PF-COMBO", study_id="PF_combo", noise_rel=noise_rel)
    part_jaw = mlc_image_bytes(op, acquired_at=acquired_at, rng=rng_seed, model=jaw, label="PF jaw", **kw)
    part_mlc = mlc_image_bytes(closed, acquired_at=acquired_at + dt.timedelta(seconds=30), rng=rng_seed + 1, model=model, label="PF MLC", **kw)
    single = mlc_image_bytes(op, acquired_at=acquired_at, rng=rng_seed + 2, model=model, label="PF", **kw)
    return [("PF_jaw.dcm", part_jaw), ("PF_mlc.dcm", part_mlc)], single, op


def demo_session_leaves(acquired_at: dt.datetime, seed: int = 0, errors: dict[tuple[int, str], float] | str | None = None) -> list[tuple[str, bytes]]:
    """Demo 'Position des lames' session (6 images); `errors="staircase"` for the error session."""
    return aqua_session(acquired_at, seed, errors)[0]


def demo_session_slits(acquired_at: dt.datetime, seed: int = 0, errors: dict[tuple[int, str], float] | None = None) -> list[tuple[str, bytes]]:
    """Demo 'MVIC Fente' session (one image, default slit plan)."""
    return slit_session(acquired_at, seed, errors)[0]


# ---------------------------------------------------------------- truth for slits


def slit_truth(openings: np.ndarray, pair: int, model: MLCModel = MLCModel(), step_mm: float = 0.002) -> list[tuple[float, float]]:
    """(centre, FWHM) in mm along v of each slit of `pair` on the noise-free profile at the pair's centre.

    Computed on a `step_mm` grid from the model (aperture × diaphragm × FFF cone; the lateral blur
    and the junction lines do not reach the pair centre), with the analyser's levels: 50 % between
    the slit's peak and the minimum outside it within 10 mm, up to the valley towards the next slit.
    """
    edges = pair_edges_mm(model)
    p_c = (edges[pair - 1] + edges[pair]) / 2
    t = np.arange(-60.0, 60.0, step_mm)
    tx = model.leaf_transmission
    a = _aperture_1d(t, openings[pair - 1], model)
    prof = (tx + (1 - tx) * a) * _diaphragm(t, model) * _cone(np.hypot(t, p_c), model)
    out = []
    slits = openings[pair - 1]
    for j, (lo, hi) in enumerate(slits):
        c = (lo + hi) / 2
        prev_mid = (slits[j - 1][1] + lo) / 2 if j > 0 else -np.inf
        next_mid = (hi + slits[j + 1][0]) / 2 if j + 1 < len(slits) else np.inf
        inside = (t >= lo) & (t <= hi) if hi - lo > 2 * step_mm else np.abs(t - c) < 2 * step_mm
        peak = prof[inside | (np.abs(t - c) <= 1.0)].max()
        half_lo = (t >= max(lo - 10.0, prev_mid)) & (t <= c)
        half_hi = (t <= min(hi + 10.0, next_mid)) & (t >= c)
        lvl_l = (peak + prof[half_lo].min()) / 2
        lvl_r = (peak + prof[half_hi].min()) / 2
        il = np.nonzero(half_lo & (prof >= lvl_l))[0][0]
        ir = np.nonzero(half_hi & (prof >= lvl_r))[0][-1]
        x_l = t[il - 1] + (lvl_l - prof[il - 1]) / (prof[il] - prof[il - 1]) * step_mm
        x_r = t[ir] + (prof[ir] - lvl_r) / (prof[ir] - prof[ir + 1]) * step_mm
        out.append(((x_l + x_r) / 2, x_r - x_l))
    return out


# ---------------------------------------------------------------- leaf-end definitions (bias table)

LEAF_END_DEFINITIONS = ("local_open_50", "gap_max_50", "inflection")


def pair_profile(openings: np.ndarray, pair: int, model: MLCModel = MLCModel(), step_mm: float = 0.002) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t mm, noise-free signal, open-field signal) along the leaf travel at the centre of `pair`.

    The open-field signal is what the same beam gives with every leaf retracted (diaphragm × FFF
    dome): the denominator of "50 % of the open-field value at that position"."""
    edges = pair_edges_mm(model)
    p_c = (edges[pair - 1] + edges[pair]) / 2
    t = np.arange(-60.0, 60.0, step_mm)
    tx = model.leaf_transmission
    open_field = _diaphragm(t, model) * _cone(np.hypot(t, p_c), model)
    return t, (tx + (1 - tx) * _aperture_1d(t, openings[pair - 1], model)) * open_field, open_field


def leaf_end_reading(t_mm: np.ndarray, prof: np.ndarray, open_field: np.ndarray, gap: tuple[float, float], bank_low: bool, definition: str) -> float:
    """Where one leaf end of the gap `gap` (lo, hi) reads on a noise-free pair profile, by `definition`:

    - "local_open_50": 50 % between the leaf-blocked level (the profile 10 mm outside the tip,
      under the leaf) and the open-field signal at the tip position (the dome normalised out);
    - "gap_max_50": 50 % between the same blocked level and the gap's maximum (FWHM style, as
      pylinac's FWXM and most in-house tools): the dome's slope across the gap moves it;
    - "inflection": the steepest point of the profile (largest |gradient|, parabola-refined).
    Searched within ±6 mm of the programmed tip; mm along t."""
    lo, hi = gap
    tip = lo if bank_low else hi
    sgn = 1.0 if bank_low else -1.0  # + into the opening
    step = float(t_mm[1] - t_mm[0])
    near = np.abs(t_mm - tip) <= 6.0
    blocked = float(np.interp(tip - sgn * 10.0, t_mm, prof))
    if definition == "inflection":
        g = np.abs(np.gradient(prof, step))
        i = int(np.argmax(np.where(near, g, -np.inf)))
        y0, y1, y2 = g[i - 1], g[i], g[i + 1]
        return float(t_mm[i] + step * 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2))
    if definition == "gap_max_50":
        top = float(prof[(t_mm >= lo) & (t_mm <= hi)].max())
    elif definition == "local_open_50":
        top = float(np.interp(tip, t_mm, open_field))
    else:
        raise ValueError(definition)
    level = (blocked + top) / 2
    idx = np.nonzero(near & (sgn * np.diff(np.r_[prof, prof[-1]]) >= 0) & (prof >= level))[0]
    # the crossing on the opening side of the edge nearest the tip
    i = idx[0] if bank_low else idx[-1]
    j = i - 1 if bank_low else i + 1
    return float(t_mm[j] + (level - prof[j]) / (prof[i] - prof[j]) * (t_mm[i] - t_mm[j]))
