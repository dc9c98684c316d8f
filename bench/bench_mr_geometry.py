"""Time per MR spatial measure, ours against hazen, on the same real files (../shared/data/hazen).

Each side runs in its own process, after its imports, every measure once to warm up then `--repeat`
times; CPU (process) and wall time are printed per measure and per image, with the machine's load
average before and after. hazen runs in a separate venv (never a requirement of the app):

    python3 -m venv /work/peer-mriq2 && /work/peer-mriq2/bin/pip install hazen
    .venv/bin/python bench/bench_mr_geometry.py --hazen-python /work/peer-mriq2/bin/python

Without --hazen-python only our side is timed. `--side ours|hazen` runs one side (used internally).

`--volume-3d` times instead the 3-D geometric fidelity (mr-geometry-3d) on the realistic model of the
Marlin 3-D FFE export (`qc.synthetic.mr_linac.unity_marker_phantom_series`, 400 × 512², 1.09375 mm pixels,
1 mm slices): the volume is written to a temporary folder, then a fresh process reads the files (bytes
held in memory, as an upload) and analyses them once; it prints CPU and wall time, the process's peak
resident memory (ru_maxrss) before and after the analysis, the load, and the metrics against the truth.
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
    from qc.readers.dicom_io import read_paths
    from qc.registry import AnalysisContext, get_test

    inputs = read_paths(paths)
    ctx = AnalysisContext()
    if key.startswith("acr:"):
        import numpy as np

        from qc.readers.mr_series import load_mr_series
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


def volume_3d_child(folder: Path) -> dict:
    """In a fresh process: read the files, analyse once, report time, peak RSS and the metrics."""
    import resource

    sys.path.insert(0, str(REPO))
    from qc.readers.dicom_io import read_paths
    from qc.mr import geometry_3d
    from qc.registry import AnalysisContext

    inputs = read_paths(sorted(folder.glob("*.dcm")))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c0, w0 = time.process_time(), time.perf_counter()
    r = geometry_3d.analyse(inputs, AnalysisContext())
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"cpu_s": cpu, "wall_s": wall, "rss_before_mb": rss0, "rss_peak_mb": rss1, "dicom_mb": sum(len(d) for _, d in inputs) / 1e6,
            "metrics": r.metrics, "planes": r.params["planes_measured_hf_mm"], "found": len(r.extra["markers"])}


def volume_3d(seed: int = 14) -> None:
    """Time the 3-D geometry on the full-size realistic model and compare its metrics with the truth."""
    import datetime as dt
    import tempfile

    sys.path.insert(0, str(REPO))
    import numpy as np

    from qc.synthetic import mr_linac as S

    gen, truth = S.unity_marker_phantom_series(dt.datetime(2026, 11, 20, 9, 0), seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in gen:
            (Path(tmp) / name).write_bytes(data)
        load0 = os.getloadavg()
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--volume-3d-child", tmp], capture_output=True, text=True, check=True)
        load1 = os.getloadavg()
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"load average before {load0[0]:.2f}, after {load1[0]:.2f} ({os.cpu_count()} CPUs)")
    print(f"3-D geometry, 400 × 512² ({out['dicom_mb']:.0f} MB of DICOM held in memory): CPU {out['cpu_s']:.2f} s, wall {out['wall_s']:.2f} s, "
          f"peak RSS {out['rss_peak_mb']:.0f} MB (was {out['rss_before_mb']:.0f} MB after reading the files)")
    m = out["metrics"]
    print(f"markers found {out['found']} / {len(truth.nodes_mm)} in the phantom ({int(truth.present.sum())} imaged), expected {m['markers_expected']:.0f}, "
          f"spurious {m['markers_spurious']:.0f}; planes at {out['planes']} (truth {np.round(truth.plane_hf_mm, 2).tolist()})")
    for dsv in (200.0, 300.0, 400.0, 500.0):
        st = truth.stats(dsv)
        print(f"DSV {dsv:g}: max {m[f'max_dev_mm_dsv{dsv:g}']:.3f} mm (truth {st['max']:.3f}), p98 {m[f'p98_dev_mm_dsv{dsv:g}']:.3f} mm (truth {st['p98']:.3f}), "
              f"{m[f'n_markers_dsv{dsv:g}']:.0f} markers (truth {st['n']})")
    print("set-up: translation " + ", ".join(f"{m[f'setup_translation_{a}_mm']:+.3f}" for a in ("lr", "ap", "hf")) + f" mm (truth {truth.translation_mm}), rotation "
          + ", ".join(f"{m[f'setup_rotation_{a}_deg']:+.3f}" for a in ("lr", "ap", "hf")) + f"° (truth {truth.rotation_deg})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--volume-3d", action="store_true", help="time the 3-D geometry on the full-size realistic Unity model")
    ap.add_argument("--volume-3d-child", default="", help=argparse.SUPPRESS)
    ap.add_argument("--side", choices=("ours", "hazen"))
    ap.add_argument("--hazen-python", default="")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--slow-limit", type=float, default=10.0, help="a measure slower than this (s) is timed once")
    ap.add_argument("--only", default="", help="time only the measures whose label contains this text")
    args = ap.parse_args()
    if args.volume_3d_child:
        print(json.dumps(volume_3d_child(Path(args.volume_3d_child))))
        return
    if args.volume_3d:
        volume_3d()
        return
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
