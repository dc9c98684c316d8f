"""Start-up cost of `python -m qc`: whole new processes, beside the floor `python -c "import numpy, pydicom"`.

Cases (each a new process, run `--repeat` times, median reported):
- `import numpy, pydicom`: what any DICOM tool pays before its first line (the floor);
- `python -m qc --help`: the parser alone;
- a logged test stored from the CLI (`python -m qc analyse couch --value … --machine … --store`, a new data folder
  with one machine, made before the timing);
- the first Winston-Lutz analysis of a new process (`get_test("wl")` then one analysis of the 17-image pylinac
  demo, ../shared/data/pylinac/winston_lutz/demo): the process also prints the CPU it spent before the analysis
  (imports and reading), shown as "of which before the analysis".

CPU is the child's user + system time from `resource.getrusage(RUSAGE_CHILDREN)` (whole process, interpreter start
included), wall from `time.perf_counter`, and the 1-minute load average when each case starts (the machine is shared:
wall times swell with the load, CPU much less).

    /work/main/.venv/bin/python bench/bench_startup.py [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WL_DEMO = REPO.parent / "shared" / "data" / "pylinac" / "winston_lutz" / "demo"

WL_FIRST = r"""
import sys, time
import qc
from qc.registry import get_test
from qc.readers.dicom_io import read_paths
from qc.spec import AnalysisContext
spec = get_test("wl")
files = read_paths([sys.argv[1]])
before = time.process_time()
spec.analyse(files, AnalysisContext())
print(before)
"""


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(CPU s, wall s, stdout) of one new process; CPU from RUSAGE_CHILDREN before/after (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()[-400:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, p.stdout


def cases(data_dir: Path) -> list[tuple[str, list[str]]]:
    py = sys.executable
    out = [
        ('python -c "import numpy, pydicom"', [py, "-c", "import numpy, pydicom"]),
        ("python -m qc --help", [py, "-m", "qc", "--help"]),
        ("python -m qc analyse couch … --store", [py, "-m", "qc", "--data-dir", str(data_dir), "analyse", "couch",
                                                 "--value", "couch_readout_1_cm=17,5", "--value", "couch_readout_2_cm=21,3",
                                                 "--machine", "Unity A", "--store", "--allow-duplicate"]),
    ]
    if WL_DEMO.is_dir():
        out.append(("first Winston-Lutz analysis (17 images)", [py, "-c", WL_FIRST, str(WL_DEMO)]))
    return out


def measure(repeat: int) -> list[dict]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    env.pop("QC_DATA_DIR", None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        run_once([sys.executable, "-m", "qc", "--data-dir", str(data), "add-machine", "Unity A"], env)
        for label, argv in cases(data):
            run_once(argv, env)  # warm the page cache and the .pyc files: not counted
            cpus, walls, loads, before = [], [], [], []
            for _ in range(repeat):
                loads.append(os.getloadavg()[0])
                cpu, wall, stdout = run_once(argv, env)
                cpus.append(cpu)
                walls.append(wall)
                if label.startswith("first Winston-Lutz"):
                    before.append(float(stdout.strip().splitlines()[-1]))
            row = {"case": label, "cpu_s": statistics.median(cpus), "wall_s": statistics.median(walls),
                   "load": [round(x, 1) for x in loads], "repeat": repeat}
            if before:
                row["cpu_before_analysis_s"] = statistics.median(before)
            rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = measure(args.repeat)
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{os.cpu_count()} CPUs; median of {args.repeat} new processes; CPU = user + system of the whole process")
    print(f"{'case':44s} {'CPU s':>6s} {'wall s':>7s}  load (1 min) at each start")
    for r in rows:
        print(f"{r['case']:44s} {r['cpu_s']:6.2f} {r['wall_s']:7.2f}  {r['load']}")
        if "cpu_before_analysis_s" in r:
            print(f"{'  of which before the analysis':44s} {r['cpu_before_analysis_s']:6.2f}")


if __name__ == "__main__":
    main()
