"""Bench: MR-Linac MRI QA analysers on full-size synthetic series, with accuracy against the truth.

The 3-D geometry case is the real export's size: 400 transverse slices of 512² at 1.09 × 1.09 × 1 mm
(≈ 210 MB of DICOM), 7 planes of markers on the 25 mm grid of the Unity phantom's marker list (1 932
markers; smooth 5 mm spheres: the realistic model of the real export is timed by
bench/bench_mr_geometry.py --volume-3d). Reports CPU and wall time, the peak resident memory of this process (ru_maxrss, which
includes the DICOM bytes held in memory as an upload would be) and the machine load before/after.

    cd <worktree> && /work/main/.venv/bin/python bench/bench_mr_linac.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qc.mr import b0, b0_gantry, b1, geometry_3d  # noqa: E402
from qc.registry import AnalysisContext  # noqa: E402
from qc.synthetic import mr_linac as S  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the reduced test volume instead of 400 × 512²")
    args = ap.parse_args()
    when = dt.datetime(2026, 11, 20, 9, 0)
    print(f"load average before: {os.getloadavg()}  cores: {os.cpu_count()}")

    files, truth = S.b0_map_study(when, seed=11)
    r, wall, cpu = timed(lambda: b0.analyse(files, AnalysisContext()))
    err = max(abs(r.measurement(f"{k}_ppm_dsv{d:g}", o).value - truth.stats(o, d)[k]) for o in truth.ppm for d in b0.DSVS_MM for k in ("pk_pk", "sd", "p95"))
    print(f"B0 maps (3 × 5 slices 256²): wall {wall:.2f} s, CPU {cpu:.2f} s, max |error| {err:.4f} ppm")

    files, gt = S.gantry_phase_series(when, seed=12)
    r, wall, cpu = timed(lambda: b0_gantry.analyse(files, AnalysisContext()))
    err = max(abs(r.measurement(f"{k}_ppm_dsv{d:g}", f"{a:+g}°").value - gt.stats(i, d)[k]) for i, a in enumerate(gt.angles_deg) if a != 0 for d in b0_gantry.DSVS_MM for k in ("pk_pk", "sd", "mean"))
    print(f"B0 vs gantry (13 × 3 × 2 images 256²): wall {wall:.2f} s, CPU {cpu:.2f} s, max |error| {err:.4f} ppm")

    files, bt = S.b1_study(when, seed=13)
    r, wall, cpu = timed(lambda: b1.analyse(files, AnalysisContext()))
    err = max(abs(r.measurement(f"b1_{k}_dsv{d:g}", o).value - bt.stats(o, d)[k]) for o in bt.b1 for d in b1.DSVS_MM for k in ("mean", "p5", "p95", "min"))
    print(f"B1 (3 orientations × 60°/120°): wall {wall:.2f} s, CPU {cpu:.2f} s, max |error| {err:.4f}")

    vol = S.SMALL_VOLUME if args.quick else S.VolumeSpec()
    opts = {} if vol.semi_lr_mm is None else {"phantom_semi_axes_mm": (vol.semi_lr_mm, vol.semi_ap_mm)}
    t0 = time.perf_counter()
    gen, mt = S.marker_phantom_series(when, volume=vol, seed=14)
    files = list(gen)
    size_mb = sum(len(d) for _, d in files) / 1e6
    print(f"marker volume {vol.n_slices} × {vol.rows} × {vol.cols}: {len(files)} files, {size_mb:.0f} MB, generated in {time.perf_counter() - t0:.1f} s; RSS so far {rss_mb():.0f} MB")
    print(f"load average before the 3-D analysis: {os.getloadavg()}")
    rss_before = rss_mb()
    r, wall, cpu = timed(lambda: geometry_3d.analyse(files, AnalysisContext(options=opts)))
    tmap = {(round(n[0]), round(n[1]), round(n[2])): d for n, d in zip(mt.nodes_mm, mt.deviation_mm)}
    errs = np.array([np.array(m["dev"]) - tmap[(round(m["lr_mm"]), round(m["ap_mm"]), round(m["plane_mm"]))] for m in r.extra["markers"]])
    rot_err = max(abs(r.metrics[f"setup_rotation_{a}_deg"] - mt.rotation_deg[i]) for i, a in enumerate(("lr", "ap", "hf")))
    tr_err = max(abs(r.metrics[f"setup_translation_{a}_mm"] - mt.translation_mm[i]) for i, a in enumerate(("lr", "ap", "hf")))
    print(
        f"3-D geometry: wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {rss_mb():.0f} MB (was {rss_before:.0f} MB with the DICOM bytes held), "
        f"markers found {len(r.extra['markers'])}/{len(mt.nodes_mm)} ({r.metrics['markers_found_pct']:.1f} %), spurious {r.metrics['markers_spurious']:.0f}, "
        f"max |deviation error| {np.linalg.norm(errs, axis=1).max():.3f} mm (per axis SD {np.round(errs.std(axis=0), 3).tolist()}), "
        f"set-up error {tr_err:.3f} mm / {rot_err:.4f}°"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
