"""Which leaf-end definition, and which off-axis effect the real AQUA weeks show (issue #24, item 6).

Two tables, both on synthetic Unity AQUA sessions (qc.synthetic.mlc) with known leaf ends at −40 … +40 mm:

1. **Definitions** on the noise-free profile of pair 41 (next to the axis): the bias (mm, + = read
   outside the opening) of the ends at −40, −20 (image 1), −20, 0 (image 3), 0, +20 (image 4),
   +20, +40 (image 6) read by 50 % of the local open field, 50 % of the gap maximum and the
   inflection (`qc.synthetic.mlc.leaf_end_reading`), for each model of the leaf end and the dome.
2. **The analyser** (`qc.mv.leaves`) on noisy 6-image sessions of each model: the mean error per
   image and bank (mm, signed along +v as the analyser reports it), the plan fit, and the RMS
   distance of that 12-value signature to the one described for the real normal week 13-11
   (image 1: A −0.66, B −0.30; image 6: A +0.09, B +0.41; images 2–5 within 0.06, taken as 0).
   That distance means something for the analyser that measured the real weeks (commit 26ba590):
   a model whose old-code signature is near the real one is a candidate cause.

Run: /work/main/.venv/bin/python bench/bench_leaf_ends.py [--sessions-only]   (≈ 30 s idle). The old
analyser's signatures were measured by running table 2 against the tree of commit 26ba590 (`git archive`)
with this generator.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qc.mv import leaves  # noqa: E402
from qc.registry import AnalysisContext, Calibration  # noqa: E402
from qc.synthetic import UNITY_CAX_PX  # noqa: E402
from qc.synthetic import mlc as sm  # noqa: E402

WHEN = dt.datetime(2026, 3, 2, 8, 0)
MODELS: dict[str, dict] = {
    "reference (σ 2.5 mm; dome 2.4 %/cm at 40 mm)": {},
    "steep dome (4.4 %/cm at 40 mm)": dict(fff_r0_mm=150.0),
    "rounded ends widening (σ 2.5 → 4.1 mm at 40 mm)": dict(sigma_t_per_mm=0.04),
    "widening + steep dome": dict(sigma_t_per_mm=0.04, fff_r0_mm=150.0),
    "only the ±40 mm ends wider (σ 2.5 → 4.0 mm from 30 mm)": dict(sigma_t_per_mm=0.15, sigma_widen_from_mm=30.0),
    "asymmetric ends (σ under the leaf 2.5 → 4.5 mm at 40 mm)": dict(sigma_out_per_mm=0.05),
    "imager glare 10 % (σ 15 mm), cut by the diaphragm": dict(tail_weight=0.10),
    "imager glare 25 % (σ 15 mm), cut by the diaphragm": dict(tail_weight=0.25),
    "scatter under the leaves (transmission 4 %)": dict(leaf_transmission=0.04),
}
# (image, bank A is the low edge) → the end's programmed position
ENDS = [(1, True, -40), (1, False, -20), (3, True, -20), (3, False, 0), (4, True, 0), (4, False, 20), (6, True, 20), (6, False, 40)]
REAL_13_11 = np.array([[-0.66, -0.30], [0, 0], [0, 0], [0, 0], [0, 0], [0.09, 0.41]])  # (image, bank A/B), mm


def definition_biases(model: sm.MLCModel) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for d in sm.LEAF_END_DEFINITIONS:
        row = []
        for image, low, tip in ENDS:
            gap = sm.AQUA_GAPS_MM[image - 1]
            t, prof, open_field = sm.pair_profile(sm.openings_for([gap]), 41, model)
            x = sm.leaf_end_reading(t, prof, open_field, gap, low, d)
            row.append((tip - x) if low else (x - tip))
        out[d] = row
    return out


def session_signature(model: sm.MLCModel, seed: int = 70) -> tuple[np.ndarray, dict, float]:
    cal = Calibration(UNITY_CAX_PX[0], UNITY_CAX_PX[1], "2024-01-01", 3)
    ctx = AnalysisContext(cax_for=lambda _d: cal, lang="en")
    files, _ = sm.aqua_session(WHEN, rng_seed=seed, model=model)
    t0 = time.perf_counter()
    r = leaves.analyse(files, ctx)
    dt_s = time.perf_counter() - t0
    sig = np.array([[np.mean([it["error_mm"] for it in r.items if it["image"] == img and it["bank"] == b and it["error_mm"] is not None])
                     for b in "AB"] for img in range(1, 7)])
    return sig, r.metrics, dt_s


def main() -> None:
    if "--sessions-only" in sys.argv:
        return sessions()
    print("1. Definitions, noise-free pair 41: bias (mm, + = outside the opening) at the ends")
    print("   " + " ".join(f"{f'i{img} {tip:+d}':>8s}" for img, _, tip in ENDS))
    for name, kw in MODELS.items():
        print(name)
        for d, row in definition_biases(sm.MLCModel(**kw)).items():
            print(f"   {d:14s}" + " ".join(f"{v:+8.3f}" for v in row))
    sessions()


def sessions() -> None:
    print("\n2. Analyser, noisy sessions: mean error per image [bank A, bank B] (mm), plan fit, RMS to the real 13-11 signature")
    for name, kw in MODELS.items():
        sig, met, dt_s = session_signature(sm.MLCModel(**kw))
        rms = float(np.sqrt(np.mean((sig - REAL_13_11) ** 2)))
        fit = (f"  scale {met['plan_fit_scale_error_pct']:+.2f} %, axis {met['plan_fit_axis_mm']:+.3f} mm,"
               f" residual {met['plan_fit_max_residual_mm']:.2f} mm;") if "plan_fit_scale_error_pct" in met else ""
        print(f"{name}\n   " + " ".join(f"[{a:+.2f},{b:+.2f}]" for a, b in sig) + f"{fit} RMS to real {rms:.2f} mm; {dt_s:.1f} s")


if __name__ == "__main__":
    main()
