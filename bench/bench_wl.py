"""Benchmark of the Winston-Lutz analyser (qc.mv.winston_lutz) against pylinac's WinstonLutz, same images.

Sessions: the real 17-image pylinac demo (../shared/data/pylinac/winston_lutz/demo) and a synthetic
8-angle Unity session (qc.synthetic.wl, known truth, written to a temporary folder). Prints, per session,
wall and CPU time of one whole analysis (DICOM reading included for both; median of `--repeat` runs),
the machine load, and the results side by side (gantry isocentre diameter, max/median CAX→BB, BB shift).

Ours runs in this interpreter (the project venv); pylinac runs in its own venv, given by --peer
(default /work/benchvenv/bin/python), in a subprocess that times itself the same way:
    python3 -m venv /work/peer-pylinac && /work/peer-pylinac/bin/pip install pylinac==3.49.0
    /work/main/.venv/bin/python bench/bench_wl.py [--repeat 3] [--peer /work/peer-pylinac/bin/python]
pylinac settings: `analyze(bb_size_mm=…)` with the BB size of the session (5 mm demo, 6 mm synthetic);
its other defaults (it reads GantryAngle etc., RTImageSID and RadiationMachineSAD).

`--cold N`: N fresh processes, each timing (CPU and wall) the imports the analyser needs, every analyser of the
registry (what the app and `python -m qc` load), the first analysis of the demo, a second one, and the page's
charts (first and second call): why the first Winston-Lutz analysis of a new process is slower than the next.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qc.readers.dicom_io import read_paths  # noqa: E402
from qc.mv import winston_lutz as wl  # noqa: E402
from qc.registry import AnalysisContext  # noqa: E402

DEMO = REPO.parent / "shared" / "data" / "pylinac" / "winston_lutz" / "demo"

PEER_SCRIPT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from pylinac import WinstonLutz
folder, bb, repeat = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
walls, cpus, out = [], [], {}
for _ in range(repeat):
    w0, c0 = time.perf_counter(), time.process_time()
    try:
        w = WinstonLutz(folder, missing_axis_value=0)  # Unity headers carry no collimator/couch angle
        w.analyze(bb_size_mm=bb)
        r = w.results_data()
        out = {"gantry_iso_size_mm": r.gantry_3d_iso_diameter_mm, "cax2bb_max_mm": r.max_2d_cax_to_bb_mm,
               "cax2bb_median_mm": r.median_2d_cax_to_bb_mm, "bb_shift": [w.bb_shift_vector.x, w.bb_shift_vector.y, w.bb_shift_vector.z],
               "collimator_iso_size_mm": r.coll_2d_iso_diameter_mm, "couch_iso_size_mm": r.couch_2d_iso_diameter_mm}
    except Exception as exc:
        out = {"error": f"{type(exc).__name__}: {exc}"[:200]}
    walls.append(time.perf_counter() - w0); cpus.append(time.process_time() - c0)
out["wall_s"] = sorted(walls)[len(walls) // 2]; out["cpu_s"] = sorted(cpus)[len(cpus) // 2]
import pylinac; out["version"] = pylinac.__version__
print(json.dumps(out))
"""


COLD_SCRIPT = r"""
import qc, json, os, sys, time
def t(): return time.perf_counter(), time.process_time()
out = {}
def lap(name, a):
    b = t(); out[name] = (round(b[0] - a[0], 3), round(b[1] - a[1], 3)); return b
a = t()
import numpy, scipy.ndimage, scipy.optimize, scipy.sparse, pydicom
a = lap("numpy, scipy.ndimage/optimize/sparse, pydicom", a)
from qc.mv import winston_lutz as wl
from qc.registry import AnalysisContext
from qc.readers.dicom_io import read_paths
a = lap("qc.mv.winston_lutz", a)
from qc import registry
registry.all_tests()
a = lap("every other analyser (registry)", a)
files = read_paths([sys.argv[1]])
a = t()
r = wl.analyse(files, AnalysisContext())
a = lap("first analysis", a)
r = wl.analyse(files, AnalysisContext())
a = lap("second analysis", a)
[c.to_dict() for _, c in wl.charts(r)]
a = lap("first charts (altair, pandas)", a)
[c.to_dict() for _, c in wl.charts(r)]
a = lap("second charts", a)
out["load"] = os.getloadavg()[0]
print(json.dumps(out))
"""


def cold(n: int) -> None:
    """Fresh processes: where the first analysis's extra time goes (see the module docstring)."""
    rows = []
    for _ in range(n):
        p = subprocess.run([sys.executable, "-c", COLD_SCRIPT, str(DEMO)], capture_output=True, text=True, cwd=REPO, timeout=600)
        rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    print(f"fresh processes: {n}, load average {[round(r['load'], 1) for r in rows]}; wall / CPU seconds, median over the processes")
    for k in rows[0]:
        if k == "load":
            continue
        print(f"  {k:48s} {statistics.median(r[k][0] for r in rows):6.2f} / {statistics.median(r[k][1] for r in rows):5.2f}")


def ours(folder: Path, repeat: int) -> dict:
    walls, cpus, r = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        r = wl.analyse(read_paths([folder]), AnalysisContext())
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    m = r.metrics
    return {
        "gantry_iso_size_mm": m.get("gantry_iso_size_mm"), "cax2bb_max_mm": m["cax2bb_max_mm"], "cax2bb_median_mm": m["cax2bb_median_mm"],
        "bb_shift": [m["bb_shift_x_mm"], m["bb_shift_y_mm"], m["bb_shift_z_mm"]],
        "collimator_iso_size_mm": m.get("collimator_iso_size_mm"), "couch_iso_size_mm": m.get("couch_iso_size_mm"),
        "wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus), "n": int(m["n_images"]),
    }


def peer(python: str, folder: Path, bb_mm: float, repeat: int) -> dict:
    if not Path(python).exists():
        return {"error": f"no pylinac venv at {python}"}
    p = subprocess.run([python, "-c", PEER_SCRIPT, str(folder), str(bb_mm), str(repeat)], capture_output=True, text=True, timeout=1800)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except Exception:
        return {"error": (p.stderr or p.stdout).strip()[-300:]}


def fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, list):
        return "(" + ", ".join(f"{x:+.2f}" for x in v) + ")"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peer", default="/work/benchvenv/bin/python")
    ap.add_argument("--cold", type=int, default=0, help="only time N fresh processes (first vs following analyses)")
    args = ap.parse_args()
    if args.cold:
        cold(args.cold)
        return
    from qc.synthetic.wl import unity_session

    with tempfile.TemporaryDirectory() as tmp:
        syn = Path(tmp) / "unity8"
        syn.mkdir()
        files, truth = unity_session([0, 45, 90, 135, 180, 225, 270, 315], (1.0, -0.5, 0.8), seed=11)
        for name, data in files:
            (syn / name).write_bytes(data)
        sessions = [("pylinac demo (17 images, 384×512)", DEMO, 5.0, None), ("synthetic Unity (8 images, 1024²)", syn, 6.0, truth)]
        print(f"machine: {os.cpu_count()} CPUs, load average before {os.getloadavg()}")
        for label, folder, bb_mm, tr in sessions:
            a = ours(folder, args.repeat)
            b = peer(args.peer, folder, bb_mm, args.repeat)
            print(f"\n== {label}   (load {os.getloadavg()[0]:.1f})")
            print(f"{'':28s}{'ours':>26s}{'pylinac ' + str(b.get('version', '')):>30s}" + ("   truth" if tr else ""))
            print(f"{'wall time per session (s)':28s}{fmt(a['wall_s']):>26s}{fmt(b.get('wall_s')):>30s}")
            print(f"{'CPU time per session (s)':28s}{fmt(a['cpu_s']):>26s}{fmt(b.get('cpu_s')):>30s}")
            for key, name in (("gantry_iso_size_mm", "gantry iso diameter (mm)"), ("cax2bb_max_mm", "max CAX→BB (mm)"),
                              ("cax2bb_median_mm", "median CAX→BB (mm)"), ("collimator_iso_size_mm", "collimator iso (mm)"),
                              ("couch_iso_size_mm", "couch iso (mm)"), ("bb_shift", "BB shift X,Y,Z (mm)")):
                t = ""
                if tr is not None and key == "gantry_iso_size_mm":
                    t = f"   {tr.gantry_iso_size_mm:.3f}"
                if tr is not None and key == "bb_shift":
                    t = "   " + fmt(list(tr.bb_shift_mm))
                print(f"{name:28s}{fmt(a.get(key)):>26s}{fmt(b.get(key)):>30s}{t}")
            if "error" in b:
                print(f"pylinac: {b['error']}")


if __name__ == "__main__":
    main()
