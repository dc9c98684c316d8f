"""Benchmark of the MR image-quality analysers (qc.mr.snr, qc.mr.uniformity, qc.mr.ghosting) against hazen.

Same files for both: the hazen test images of ../shared/data/hazen (snr/, uniformity/, ghosting/). Each
tool runs in its own process, after its imports; the time of one analysis is the median of `--repeat`
runs, wall time (perf_counter) and CPU time of the process (process_time), DICOM decoding included for
both (ours from bytes already in memory, hazen from files in the page cache). The machine load (1-min
load average) is printed with the figures, since 8 developers share 2 cores here.

Ours, in the app's venv:
    /work/main/.venv/bin/python bench/bench_mr.py
hazen, in a separate venv (never in requirements):
    python3 -m venv /work/peer-mriq1 && /work/peer-mriq1/bin/pip install hazen
    /work/peer-mriq1/bin/python bench/bench_mr.py --peer
Both together (runs the peer process itself when the peer venv exists), and a side-by-side table:
    /work/main/.venv/bin/python bench/bench_mr.py --both
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
DATA = REPO.parent / "shared" / "data" / "hazen"
PEER_PYTHON = next((p for p in (Path("/work/peer-mriq1/bin/python"), Path("/work/peer-hazen/bin/python")) if p.exists()),
                   Path("/work/peer-hazen/bin/python"))

CASES = [  # (measure, label, files)
    ("snr", "Siemens pair", ["snr/Siemens/tra_250_2meas_1.IMA", "snr/Siemens/tra_250_2meas_2.IMA"]),
    ("snr", "Philips pair", ["snr/Philips/Philips_IM-0011-0005.dcm", "snr/Philips/Philips_IM-0011-0006.dcm"]),
    ("uniformity", "axial_oil", ["uniformity/axial_oil.IMA"]),
    ("uniformity", "sag", ["uniformity/sag.dcm"]),
    ("uniformity-ipem", "axial_oil", ["uniformity/axial_oil.IMA"]),
    ("uniformity-ipem", "sag", ["uniformity/sag.dcm"]),
    ("ghosting", "IM_0001", ["ghosting/GHOSTING/IM_0001.dcm"]),
    ("ghosting", "axial_philips", ["ghosting/GHOSTING/axial_philips_ghosting.dcm"]),
]


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median wall and CPU time in ms over `repeat` runs, and the last output."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000, out


def run_ours(repeat: int) -> list[dict]:
    sys.path.insert(0, str(REPO))
    from qc.mr import ghosting, snr, uniformity
    from qc.registry import AnalysisContext

    from qc.readers.mr_series import load_mr_series
    from qc.mr.image_rois import find_phantom

    def ipem_only(inputs):
        """Like for like with hazen's uniformity task: read, find the phantom, IPEM fraction only."""
        (series,), _ = load_mr_series(inputs)
        s = series.slices[0]
        img = s.signal
        _, vertical, _, _ = uniformity.ipem_fractional_uniformity(img, find_phantom(img), s.pixel_spacing_mm)
        return vertical

    modules = {"snr": snr, "uniformity": uniformity, "ghosting": ghosting}
    keys = {"snr": "snr_difference_normalised", "uniformity": "fractional_uniformity_vertical_pct", "ghosting": "ghosting_pct"}
    rows = []
    for measure, label, files in CASES:
        inputs = [(Path(f).name, (DATA / f).read_bytes()) for f in files]
        if measure == "uniformity-ipem":
            ipem_only(inputs)
            wall, cpu, value = timed(lambda: ipem_only(inputs), repeat)
        else:
            mod = modules[measure]
            mod.analyse(inputs, AnalysisContext(lang="en"))  # warm-up (imports, caches)
            wall, cpu, result = timed(lambda: mod.analyse(inputs, AnalysisContext(lang="en")), repeat)
            value = result.metrics.get(keys[measure])
        rows.append({"measure": measure, "case": label, "images": len(files), "wall_ms": wall, "cpu_ms": cpu,
                     "value": value})
    return rows


def run_peer(repeat: int) -> list[dict]:
    os.chdir(tempfile.mkdtemp(prefix="hazen_bench_"))  # hazen writes a log file into the working folder
    from hazenlib.tasks.ghosting import Ghosting
    from hazenlib.tasks.snr import SNR
    from hazenlib.tasks.uniformity import Uniformity

    tasks = {"snr": SNR, "uniformity": Uniformity, "uniformity-ipem": Uniformity, "ghosting": Ghosting}
    rows = []
    for measure, label, files in CASES:
        paths = [str(DATA / f) for f in files]
        task = tasks[measure]
        task(input_data=paths, report=False).run()  # warm-up
        wall, cpu, result = timed(lambda: task(input_data=paths, report=False).run(), repeat)
        value = None
        for m in result.measurements:
            m = m if isinstance(m, dict) else m.to_dict()
            if measure == "snr" and m.get("subtype") == "subtraction" and m.get("type") == "normalised":
                value = m["value"]
            elif measure.startswith("uniformity") and str(m.get("subtype", m.get("name"))).lower() == "vertical":
                value = 100 * m["value"]
            elif measure == "ghosting":
                value = m["value"]
        rows.append({"measure": measure, "case": label, "images": len(files), "wall_ms": wall, "cpu_ms": cpu,
                     "value": value})
    return rows


def table(ours: list[dict], peer: list[dict] | None) -> str:
    head = "| measure | files | ours wall ms | ours CPU ms | ours per image ms | hazen wall ms | hazen CPU ms | ours value | hazen value |"
    lines = [head, "|" + "---|" * 9]
    for i, o in enumerate(ours):
        p = peer[i] if peer else {}
        fmt = lambda v, nd=1: "—" if v is None else f"{v:.{nd}f}"  # noqa: E731
        lines.append(
            f"| {o['measure']} | {o['case']} | {fmt(o['wall_ms'])} | {fmt(o['cpu_ms'])} | {fmt(o['wall_ms'] / o['images'])} "
            f"| {fmt(p.get('wall_ms'))} | {fmt(p.get('cpu_ms'))} | {fmt(o['value'], 3)} | {fmt(p.get('value'), 3)} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", action="store_true", help="time hazen (run with the peer venv's python)")
    ap.add_argument("--both", action="store_true", help="time ours here and hazen in the peer venv, print a table")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--peer-python", default=str(PEER_PYTHON), help="python of the venv where hazen is installed")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    if args.peer:
        rows = run_peer(args.repeat)
        print(json.dumps(rows) if args.json else table(rows, None))
        return
    ours = run_ours(args.repeat)
    peer = None
    if args.both and Path(args.peer_python).exists():
        out = subprocess.run([args.peer_python, __file__, "--peer", "--json", "--repeat", str(args.repeat)],
                             capture_output=True, text=True, check=True)
        peer = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"load average (1 min) at start: {load:.2f}; after: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")
    print(json.dumps(ours) if args.json else table(ours, peer))


if __name__ == "__main__":
    main()
