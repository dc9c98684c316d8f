"""Accuracy of the MV analysers against synthetic truth, and their bias on edges that are NOT their model.

Prints the figures README.md states (each one is the tolerance of the test that backs it):
- MVIC-Champ on the standard cases of tests/test_field.py (max |measured − truth| per quantity);
- MVIC-Champ and Position des lames on non-model edges: an asymmetric penumbra (split-normal, σ 2 mm
  inside / 3.5 mm outside), a long scatter tail (10 % of the dose blurred by σ 15 mm), a steep FFF
  cone (r0 150 mm: twice the Unity slope across a 20 mm gap), and both together;
- Position des lames and MVIC Fente on the standard synthetic sessions.
Run: python bench/bench_accuracy_mv.py   (≈ 1 min on 2 cores)
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qc.mv import field as F  # noqa: E402
from qc.mv import leaves as L  # noqa: E402
from qc.mv import slits as S  # noqa: E402
from qc.registry import AnalysisContext, Calibration  # noqa: E402
from qc.synthetic import UNITY_CAX_PX  # noqa: E402
from qc.synthetic import mlc as sm  # noqa: E402
from qc.synthetic.field import field_image  # noqa: E402

CAL = Calibration(UNITY_CAX_PX[0], UNITY_CAX_PX[1], "2024-01-01", 1)
WHEN = dt.datetime(2026, 3, 2, 8, 0)

FIELD_CASES = {
    "150x80 centred FFF": dict(size_x_mm=150, size_y_mm=80),
    "85x85 off +7/-9 rot 0.8": dict(size_x_mm=85, size_y_mm=85, centre_x_mm=7, centre_y_mm=-9, rotation_deg=0.8),
    "50x50 off -10/+10 rot -1": dict(size_x_mm=50, size_y_mm=50, centre_x_mm=-10, centre_y_mm=10, rotation_deg=-1.0),
    "200x120 off 0/-20 rot 0.3": dict(size_x_mm=200, size_y_mm=120, centre_y_mm=-20, rotation_deg=0.3),
    "100x60 tilted x2 1.5deg": dict(size_x_mm=100, size_y_mm=60, centre_x_mm=3, rotation_deg=-0.4, tilt_x2_deg=1.5),
    "120x90 flat beam sigma 2": dict(size_x_mm=120, size_y_mm=90, centre_x_mm=-4, fff_r0_mm=None, penumbra_sigma_mm=2.0, rotation_deg=0.5),
    "20x30 small rot 0.6": dict(size_x_mm=20, size_y_mm=30, centre_x_mm=10, centre_y_mm=-5, rotation_deg=0.6),
}
NON_MODEL_FIELD = {
    "asymmetric penumbra (2.0 in / 3.5 out)": dict(penumbra_sigma_mm=2.0, penumbra_sigma_out_mm=3.5),
    "scatter tail 10 % σ 15 mm": dict(tail_weight=0.10, tail_sigma_mm=15.0),
    "steep FFF cone r0 150 mm": dict(fff_r0_mm=150.0),
    "all three": dict(penumbra_sigma_mm=2.0, penumbra_sigma_out_mm=3.5, tail_weight=0.10, fff_r0_mm=150.0),
}
NON_MODEL_MLC = {
    "asymmetric leaf-end penumbra (2.0 in / 3.5 out)": dict(sigma_t_mm=2.0, sigma_t_out_mm=3.5),
    "scatter tail 10 % σ 15 mm": dict(tail_weight=0.10, tail_sigma_mm=15.0),
    "steep FFF cone r0 150 mm": dict(fff_r0_mm=150.0),
    "all three": dict(sigma_t_mm=2.0, sigma_t_out_mm=3.5, tail_weight=0.10, fff_r0_mm=150.0),
}


def ctx(**kw) -> AnalysisContext:
    return AnalysisContext(cax_for=lambda _d: CAL, lang="en", **kw)


def field_errors(kw: dict, seed: int) -> dict[str, float]:
    kw = dict(kw)
    sx, sy = kw.pop("size_x_mm"), kw.pop("size_y_mm")
    data, truth = field_image(sx, sy, rng=seed, noise_rel=0.005, **kw)
    it = F.analyse([("f.dcm", data)], ctx()).items[0]
    out = {
        "size": max(abs(it["field_size_x_mm"] - truth.size_x_mm), abs(it["field_size_y_mm"] - truth.size_y_mm)),
        "centre": max(abs(it["centre_offset_x_mm"] - truth.centre_x_mm), abs(it["centre_offset_y_mm"] - truth.centre_y_mm)),
        "edge": max(abs(it[f"edge_{s}_mm"] - getattr(truth, f"edge_{s}_mm")) for s in ("x1", "x2", "y1", "y2")),
        # outward edge bias: + = the edge found outside the geometric edge (field larger)
        "edge_bias_out": float(np.mean([(-1 if s in ("x1", "y1") else 1) * (it[f"edge_{s}_mm"] - getattr(truth, f"edge_{s}_mm"))
                                        for s in ("x1", "x2", "y1", "y2")])),
        "rotation": abs(it["rotation_deg"] - truth.rotation_deg),
        "angle": max(abs(it[f"corner_{c}_deg"] - truth.corner_angles_deg[c]) for c in ("tl", "tr", "br", "bl")),
        "penumbra": max(abs(it[f"penumbra_{s}_mm"] - truth.penumbra_mm) for s in ("x1", "x2", "y1", "y2")),
        "penumbra_mean": float(np.mean([it[f"penumbra_{s}_mm"] for s in ("x1", "x2", "y1", "y2")])),
    }
    return out


def leaf_errors(result, truth, nominal=L.PRESETS["aqua"]) -> tuple[float, float, float]:
    """(max |measured − true tip|, mean signed outward bias bank A, bank B) over every leaf row."""
    d, a, b = [], [], []
    for it in result.items:
        if it["measured_mm"] is None:
            continue
        lo_hi = 0 if it["bank"] == "A" else 1
        true_tip = float(truth[it["image"] - 1][it["pair"] - 1, 0, lo_hi])
        e = it["measured_mm"] - true_tip
        d.append(abs(e))
        (a if it["bank"] == "A" else b).append(-e if lo_hi == 0 else e)  # + = outwards (gap wider)
    return max(d), float(np.mean(a)), float(np.mean(b))


def main() -> None:
    t0 = time.process_time()
    print("MVIC-Champ, standard cases (max |measured − truth|):")
    worst: dict[str, float] = {}
    for i, (name, kw) in enumerate(FIELD_CASES.items()):
        e = field_errors(kw, 100 + i)
        small = name.startswith("20x30")
        for k, v in e.items():
            if k in ("edge_bias_out", "penumbra_mean"):
                continue
            key = f"{k}{' (20x30)' if small and k in ('angle', 'rotation') else ''}"
            worst[key] = max(worst.get(key, 0.0), v)
    for k, v in worst.items():
        print(f"  {k:22s} {v:.3f}")
    print("\nMVIC-Champ on non-model edges (85x85 centred and 150x80 off +7/-9; 0.5 % noise):")
    print(f"  {'case':42s} {'size err':>9s} {'edge bias out':>14s} {'centre':>7s} {'penumbra':>9s}")
    for name, kw in NON_MODEL_FIELD.items():
        rows = [field_errors(dict(size_x_mm=85, size_y_mm=85, **kw), 7), field_errors(dict(size_x_mm=150, size_y_mm=80, centre_x_mm=7, centre_y_mm=-9, **kw), 8)]
        print(f"  {name:42s} {max(r['size'] for r in rows):9.3f} {np.mean([r['edge_bias_out'] for r in rows]):+14.3f} "
              f"{max(r['centre'] for r in rows):7.3f} {np.mean([r['penumbra_mean'] for r in rows]):9.2f}")

    print("\nPosition des lames, standard sessions (max |measured − true tip|):")
    for i, (key, errors) in enumerate((("clean", None), ("single", sm.STAIRCASE and { (30, 'A'): 0.6, (35, 'B'): -0.8, (41, 'A'): 1.5, (44, 'B'): 2.0, (50, 'A'): -1.2, (52, 'B'): 0.4}), ("staircase", "staircase"))):
        files, truth = sm.aqua_session(WHEN + dt.timedelta(days=7 * i), rng_seed=10 + i, errors=errors)
        r = L.analyse(files, ctx())
        mx, _, _ = leaf_errors(r, truth)
        print(f"  {key:10s} {mx:.3f}")
    print("\nPosition des lames on non-model edges (clean AQUA session; + = tip found outside the opening):")
    print(f"  {'case':48s} {'max |err|':>9s} {'bias A':>7s} {'bias B':>7s} {'axis v':>7s}")
    for name, kw in NON_MODEL_MLC.items():
        files, truth = sm.aqua_session(WHEN, rng_seed=70, model=sm.MLCModel(**kw))
        r = L.analyse(files, ctx())
        mx, ba, bb = leaf_errors(r, truth)
        print(f"  {name:48s} {mx:9.3f} {ba:+7.3f} {bb:+7.3f} {r.metrics['beam_axis_shift_v_mm']:+7.3f}")

    print("\nMVIC Fente (max |measured − truth| of the FWHM centre and width per pair):")
    for name, kw in {"standard": {}, **NON_MODEL_MLC}.items():
        model = sm.MLCModel(**kw)
        files, op = sm.slit_session(WHEN, rng_seed=21, model=model)
        r = S.analyse(files, ctx())
        truth = {p: sm.slit_truth(op, p, model) for p in {it["pair"] for it in r.items}}
        dc = max(abs(it["centre_mm"] - truth[it["pair"]][int(it["slit"].split()[1]) - 1][0]) for it in r.items if it["centre_mm"] is not None)
        dw = max(abs(it["width_mm"] - truth[it["pair"]][int(it["slit"].split()[1]) - 1][1]) for it in r.items if it["width_mm"] is not None)
        print(f"  {name:48s} centre {dc:.3f}  width {dw:.3f}")
    print(f"\nCPU time {time.process_time() - t0:.1f} s")


if __name__ == "__main__":
    main()
