"""Time per MR spatial measure, ours against hazen, on the same real files (../shared/data/hazen).

Each side runs in its own process, after its imports, every measure once to warm up then `--repeat`
times; CPU (process) and wall time are printed per measure and per image, with the machine's load
average before and after. hazen runs in a separate venv (never a requirement of the app):

    python3 -m venv /work/peer-mriq2 && /work/peer-mriq2/bin/pip install hazen
    .venv/bin/python bench/bench_mr_geometry.py --hazen-python /work/peer-mriq2/bin/python

Without --hazen-python only our side is timed. `--side ours|hazen` runs one side (used internally).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "hazen"

SLICEWIDTH = DATA / "slicewidth" / "SLICEWIDTH" / "ANNUALQA.MR.HEAD_GENERAL.tra.slice_width.IMA"
RES_SIEMENS = DATA / "resolution" / "RESOLUTION" / "ax_512_resolution.dcm"
RES_PHILIPS = DATA / "resolution" / "philips" / "IM-0004-0002.dcm"
ACR = {name: DATA / "acr" / name for name in ("Siemens", "PhilipsAchieva", "GE")}
LOCALISER = DATA / "acr" / "PhilipsAchievaLocalizer" / "0.dcm"

# (label, our test key, files, images measured, hazen task module.class)
CASES = [
    ("slice width MagNET 256²", "mr-slice-thickness", [SLICEWIDTH], 1, "slice_width.SliceWidth"),
    ("rod geometry MagNET 256²", "mr-geometry", [SLICEWIDTH], 1, "slice_width.SliceWidth"),
    ("slice width MagNET resampled to 512²", "mr-slice-thickness", ["resampled_512"], 1, "slice_width.SliceWidth"),
    ("resolution Siemens 512²", "mr-resolution", [RES_SIEMENS], 1, "spatial_resolution.SpatialResolution"),
    ("resolution Philips 512²", "mr-resolution", [RES_PHILIPS], 1, "spatial_resolution.SpatialResolution"),
    ("ACR sagittal localiser S-I length 256²", "mr-geometry", [LOCALISER], 1,
     "acr_sagittal_geometric_accuracy.ACRSagittalGeometricAccuracy"),
]
for _name, _folder in ACR.items():
    CASES += [
        (f"ACR {_name} slice thickness", "acr:thickness", [_folder], 1, "acr_slice_thickness.ACRSliceThickness"),
        (f"ACR {_name} geometry", "acr:geometry", [_folder], 2, "acr_geometric_accuracy.ACRGeometricAccuracy"),
        (f"ACR {_name} slice position", "acr:position", [_folder], 2, "acr_slice_position.ACRSlicePosition"),
        (f"ACR {_name} PIU", "acr:piu", [_folder], 1, "acr_uniformity.ACRUniformity"),
        (f"ACR {_name} ghosting", "acr:ghosting", [_folder], 1, "acr_ghosting.ACRGhosting"),
        (f"ACR {_name} hole-array resolution", "acr:holes", [_folder], 1, "acr_spatial_resolution.ACRSpatialResolution"),
        (f"ACR {_name} SNR (smoothed residual)", "acr:snr", [_folder], 1, "acr_snr.ACRSNR"),
        (f"ACR {_name} full set (ours: 4 slices, hazen: sum of the 6 tasks above)", "mr-acr", [_folder], 4, None),
    ]
# two acquisitions: ours reads both folders in one upload (mr-acr reports the difference SNR), hazen's --subtract
CASES.append(("ACR subtraction SNR, Siemens + Siemens2", "acr:snr_difference", [ACR["Siemens"], DATA / "acr" / "Siemens2"], 1,
              "acr_snr.ACRSNR"))


def resampled_512(src: Path = SLICEWIDTH) -> Path:
    """The 256² MagNET slice-width image resampled to 512² (cubic, half the pixel spacing, same header
    otherwise), written once to a temporary file: hazen's slice width is slow on 512² images."""
    import tempfile

    import numpy as np
    import pydicom
    from scipy import ndimage

    out = Path(tempfile.gettempdir()) / "bench_mr_slicewidth_512.dcm"
    if out.exists():
        return out
    ds = pydicom.dcmread(str(src))
    a = ndimage.zoom(ds.pixel_array.astype(float), 2, order=3)
    ds.PixelData = np.clip(np.rint(a), 0, 65535).astype(np.uint16).tobytes()
    ds.Rows, ds.Columns = a.shape
    ds.PixelSpacing = [float(ds.PixelSpacing[0]) / 2, float(ds.PixelSpacing[1]) / 2]
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(str(out))
    return out


def _files(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        out += sorted(q for q in p.iterdir() if q.is_file()) if p.is_dir() else [p]
    return out


def ours_runner(key: str, paths: list[Path]):
    """A callable doing one measure from the file bytes (reading included, as hazen reads its files)."""
    sys.path.insert(0, str(REPO))
    from qc.intake.dicom_io import read_paths
    from qc.registry import AnalysisContext, get_test

    inputs = read_paths(paths)
    ctx = AnalysisContext()
    if key.startswith("acr:"):
        import numpy as np

        from qc.intake.mr_series import load_mr_series
        from qc.mr import acr as A
        from qc.mr.geometry import diameters
        from qc.mr.phantom_geometry import find_phantom
        from qc.mr.slice_thickness import find_acr_bar, measure_slice_thickness

        part = key.split(":")[1]

        from qc.mr import acr_snr
        from qc.mr.image_rois import find_phantom as find_snr_phantom

        def run():
            # as the ACR set does, a single measure decodes only the slices it uses (and the end slices that
            # tell the series' order, decoded once)
            series, _ = load_mr_series(inputs, lazy=True)
            found: dict = {}
            _se, ordered, _ = A.pick_acr_series(series, "fr", found)
            img = lambda k: A._image(ordered[k - 1], "", found["pixels"])  # noqa: E731
            if part == "thickness":
                s1 = img(1)
                ph = find_phantom(s1.pixels)
                return measure_slice_thickness(s1, phantom="acr", found=(ph, find_acr_bar(s1.pixels, ph, s1.spacing_rc))).slice_thickness_mm
            if part == "geometry":
                s1, s5 = img(1), img(5)
                return [diameters(s1.pixels, find_phantom(s1.pixels), s1.spacing_rc, 190.0, angles_deg=(0.0, 90.0)),
                        diameters(s5.pixels, find_phantom(s5.pixels), s5.spacing_rc, 190.0)]
            if part == "position":
                s1, s11 = img(1), img(11)
                return [A.position_bars(s1.pixels, find_phantom(s1.pixels), s1.spacing_rc),
                        A.position_bars(s11.pixels, find_phantom(s11.pixels), s11.spacing_rc)]
            if part == "holes":
                from qc.mr.acr_resolution import measure_hole_resolution

                s1 = img(1)
                return measure_hole_resolution(s1.pixels, find_phantom(s1.pixels), s1.spacing_rc)
            s7 = img(7)
            if part in ("snr", "snr_difference"):
                centre = find_snr_phantom(s7.pixels).centre_rc
                if part == "snr":
                    return acr_snr.snr_smoothed(s7.pixels, centre).snr
                other = np.asarray(found["repeat"][6].signal, dtype=np.float64)
                return acr_snr.snr_difference(s7.pixels, other, centre).snr
            ph = find_phantom(s7.pixels)
            if part == "piu":
                return A.piu(s7.pixels, ph, s7.spacing_rc)
            return A.measure_slice7(s7.pixels, ph, s7.spacing_rc).psg_pct

        return run
    spec = get_test(key)
    return lambda: spec.analyse(inputs, ctx)


def hazen_runner(task: str, paths: list[Path]):
    import importlib
    import logging

    logging.disable(logging.CRITICAL)
    mod, cls = task.rsplit(".", 1)
    klass = getattr(importlib.import_module(f"hazenlib.tasks.{mod}"), cls)
    if cls == "ACRSNR" and len(paths) == 2:  # subtraction: the second folder is hazen's --subtract
        files = [str(p) for p in _files(paths[:1])]
        return lambda: klass(input_data=files, subtract=str(paths[1])).run()
    files = [str(p) for p in _files(paths)]
    return lambda: klass(input_data=files).run()


def time_side(side: str, repeat: int, slow_limit_s: float, only: str = "") -> dict:
    out = {}
    for label, key, paths, n_images, task in CASES:
        if (side == "hazen" and task is None) or (only and only not in label):
            continue
        paths = [resampled_512() if p == "resampled_512" else p for p in paths]
        run = ours_runner(key, paths) if side == "ours" else hazen_runner(task, paths)
        c0, w0 = time.process_time(), time.perf_counter()
        run()  # warm-up (imports, caches)
        first = time.perf_counter() - w0
        n = 1 if first > slow_limit_s else repeat
        cpu, wall = [], []
        for _ in range(n):
            c0, w0 = time.process_time(), time.perf_counter()
            run()
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        out[label] = {"cpu_s": min(cpu), "wall_s": min(wall), "wall_mean_s": sum(wall) / len(wall), "n": n, "images": n_images}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--side", choices=("ours", "hazen"))
    ap.add_argument("--hazen-python", default="")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--slow-limit", type=float, default=10.0, help="a measure slower than this (s) is timed once")
    ap.add_argument("--only", default="", help="time only the measures whose label contains this text")
    args = ap.parse_args()
    if args.side:
        print(json.dumps(time_side(args.side, args.repeat, args.slow_limit, args.only)))
        return
    load0 = os.getloadavg()
    results = {}
    for side, py in (("ours", sys.executable), ("hazen", args.hazen_python)):
        if not py:
            continue
        # hazen writes a log file in its working directory: run it in the temporary folder
        import tempfile

        proc = subprocess.run([py, str(Path(__file__).resolve()), "--side", side, "--repeat", str(args.repeat), "--slow-limit", str(args.slow_limit),
                               "--only", args.only],
                              capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
        results[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    load1 = os.getloadavg()
    print(f"load average before {load0[0]:.2f}, after {load1[0]:.2f} ({os.cpu_count()} CPUs)")
    print(f"{'measure':<62} {'ours wall/img':>13} {'ours cpu':>9} {'hazen wall':>11} {'hazen cpu':>10} {'cpu ratio':>9}")
    for label, _key, _paths, n_images, task in CASES:
        if label not in results["ours"]:
            continue
        o = results["ours"][label]
        h = results.get("hazen", {}).get(label)
        if task is None and "hazen" in results:
            name = label.split(" full set")[0]
            tot = sum(v["wall_s"] for k, v in results["hazen"].items() if k.startswith(name + " "))
            h = {"wall_s": tot, "cpu_s": sum(v["cpu_s"] for k, v in results["hazen"].items() if k.startswith(name + " "))}
        hw = f"{h['wall_s']:.3f}" if h else "-"
        hc = f"{h['cpu_s']:.3f}" if h else "-"
        ratio = f"{h['cpu_s'] / o['cpu_s']:.1f}x" if h else "-"
        print(f"{label:<62} {o['wall_s'] / n_images:>13.3f} {o['cpu_s']:>9.3f} {hw:>11} {hc:>10} {ratio:>9}")


if __name__ == "__main__":
    main()
