"""Benchmark of the MLC analysers (qc.mv.leaves / qc.mv.slits, engine qc.mv.mlc) against pylinac's PicketFence.

Images: the two real picket fences of ../shared/data/pylinac/picket_fence (Varian EPID-PF-LR,
Elekta "pickets near edges"), a synthetic Unity slit image with displaced leaves (known truth,
qc.synthetic.mlc), a synthetic picket fence delivered in two images (jaw part + MLC part, combined by
both tools) and a synthetic 6-image AQUA session (staircase errors). Prints the time per image
(median of repeated runs, DICOM decoding included for both tools), the picket counts, the max and
median |error to the fitted picket line| of both tools, MANIFEST.md's values for the real files, and
the accuracy against the synthetic truth.

pylinac settings: its defaults and NO hint (orientation, invert) unless it fails, then the hint
is reported; Unity images: `mlc=MLCArrangement([(80, 7.175)])` and the CAX pixel as
`central_axis` (domain.md §12.1).

pylinac lives only in a separate bench venv:
    python3 -m venv /work/benchvenv
    /work/benchvenv/bin/pip install pylinac -r requirements.txt
    /work/benchvenv/bin/python bench/bench_mlc.py
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qc.mv import leaves  # noqa: E402
from qc.mv import slits  # noqa: E402
from qc.registry import AnalysisContext, Calibration  # noqa: E402
from qc.synthetic import UNITY_CAX_PX  # noqa: E402
from qc.synthetic import mlc as sm  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "pylinac" / "picket_fence"
MANIFEST = {"EPID-PF-LR.dcm": (10, 0.217, 0.06), "PF, Elekta, pickets near edges.dcm": (9, 0.23, 0.07)}

try:
    import pylinac
    from pylinac import PicketFence
    from pylinac.picketfence import MLCArrangement

    PYLINAC = pylinac.__version__
except ImportError:  # the app's venv has no pylinac on purpose
    PicketFence = None
    PYLINAC = None


CPU_MS: dict[str, list[float]] = {}  # tool → CPU ms per call (median of each timed series)


def timed(fn, repeat: int, tool: str = "") -> tuple[float, object]:
    """Median wall time (ms) of `repeat` calls and the last result; the median CPU time goes to CPU_MS[tool]."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU_MS.setdefault(tool, []).append(statistics.median(cpu) * 1000)
    return statistics.median(times) * 1000, out


def load_line() -> str:
    import os

    return f"machine load (1/5/15 min): {' / '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs"


def unity_ctx(**kw) -> AnalysisContext:
    cal = Calibration(UNITY_CAX_PX[0], UNITY_CAX_PX[1], "2024-01-01", 1)
    return AnalysisContext(cax_for=lambda _d: cal, lang="en", **kw)


def run_pylinac(path: Path, unity: bool, repeat: int) -> tuple[float | None, dict | str]:
    """(ms per image, {n_pickets, max, median, hint}) or (None, error text)."""
    if PicketFence is None:
        return None, "pylinac not installed"
    kw_init = {"mlc": MLCArrangement([(80, 7.175)])} if unity else {}
    kw_an = {}
    if unity:
        from pylinac.core.geometry import Point

        kw_an["central_axis"] = Point(UNITY_CAX_PX[0], UNITY_CAX_PX[1])
    last_exc = None
    for hint in ({}, {"orientation": "Up-Down"}, {"orientation": "Left-Right"}, {"invert": True}):

        def go():
            pf = PicketFence(str(path), **kw_init)
            pf.analyze(**kw_an, **hint)
            return pf

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ms, pf = timed(go, repeat, "pylinac")
        except Exception as exc:  # pylinac raises various errors when it cannot find pickets
            last_exc = exc
            continue
        return ms, {"n_pickets": pf.num_pickets, "max": pf.max_error, "median": pf.abs_median_error, "hint": hint or "none"}
    return None, f"failed: {type(last_exc).__name__}: {last_exc}"


def run_pylinac_parts(paths: list[Path], repeat: int) -> tuple[float | None, dict | str]:
    """pylinac's picket fence in several images (`PicketFence.from_multiple_images`, stretch_each, its
    default mean) on Unity images: (ms per image, {n_pickets, max, median}) or (None, error text)."""
    if PicketFence is None:
        return None, "pylinac not installed"
    from pylinac.core.geometry import Point

    def go():
        pf = PicketFence.from_multiple_images([str(p) for p in paths], stretch_each=True, mlc=MLCArrangement([(80, 7.175)]))
        pf.analyze(central_axis=Point(UNITY_CAX_PX[0], UNITY_CAX_PX[1]))
        return pf

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ms, pf = timed(go, repeat, "pylinac")
    except Exception as exc:  # pylinac raises various errors when it cannot find pickets
        return None, f"failed: {type(exc).__name__}: {exc}"
    return ms / len(paths), {"n_pickets": pf.num_pickets, "max": pf.max_error, "median": pf.abs_median_error}


def ours_leaves(files, ctx, repeat: int):
    ms, r = timed(lambda: leaves.analyse(files, ctx), repeat, "ours")
    return ms / len(files), r


def row(label: str, values: list) -> None:
    print(f"  {label:<38}" + "".join(f"{v:>14}" for v in values))


def fmt(v, nd=3) -> str:
    return "—" if v is None else f"{v:.{nd}f}"


def main() -> None:
    print(f"pylinac: {PYLINAC or 'not installed (run with /work/benchvenv/bin/python, see the docstring)'}")
    print(load_line())
    print("\n== Real picket fences (no hint) ==")
    for name, (n_ref, max_ref, med_ref) in MANIFEST.items():
        path = DATA / name
        if not path.exists():
            print(f"  {name}: missing ({path})")
            continue
        ms, r = ours_leaves([(name, path.read_bytes())], AnalysisContext(lang="en"), 5)
        m = r.metrics
        print(f"{name}")
        row("", ["ours", "pylinac", "MANIFEST"])
        p_ms, p = run_pylinac(path, unity=False, repeat=3)
        pd_ = p if isinstance(p, dict) else {}
        row("time per image (ms, wall)", [fmt(ms, 0), fmt(p_ms, 0), ""])
        row("CPU per image (ms)", [fmt(CPU_MS["ours"][-1], 0), fmt(CPU_MS["pylinac"][-1] if p_ms else None, 0), ""])
        row("pickets", [int(m["n_pickets"]), pd_.get("n_pickets", "—"), n_ref])
        row("max |error to picket line| (mm)", [fmt(m["max_abs_relative_error_mm"]), fmt(pd_.get("max")), max_ref])
        row("median |error| (mm)", [fmt(m["median_abs_relative_error_mm"]), fmt(pd_.get("median")), med_ref])
        row("leaf pitch found (mm)", [r.extra["images"][0]["pitch_mm"], "preset", ""])
        if isinstance(p, str):
            print(f"  pylinac: {p}")
        elif p["hint"] != "none":
            print(f"  pylinac needed the hint {p['hint']}")

    tmp = Path(tempfile.mkdtemp(prefix="bench_mlc_"))
    when = dt.datetime(2026, 3, 2, 8, 0)
    print("\n== Synthetic Unity slit image (5 slits of 5 mm, displaced leaves; truth = generator) ==")
    errors = {(33, "A"): 0.7, (33, "B"): 0.7, (45, "A"): -0.5, (45, "B"): -0.5, (50, "A"): 1.2, (50, "B"): 1.2}
    files, op = sm.slit_session(when, rng_seed=7, errors=errors)
    (tmp / "slit.dcm").write_bytes(files[0][1])
    ms, r = ours_leaves(files, unity_ctx(), 5)
    ms_s, rs = timed(lambda: slits.analyse(files, unity_ctx()), 5, "ours slits")
    true_shift = {k: (errors.get((k, "A"), 0) + errors.get((k, "B"), 0)) / 2 for k in range(1, 81)}
    dev = [it["relative_error_mm"] - true_shift[it["pair"]] for it in r.items if it["relative_error_mm"] is not None]
    truth_w = {k: sm.slit_truth(op, k) for k in range(26, 56)}
    dw = [it["width_mm"] - truth_w[it["pair"]][int(it["slit"].split()[1]) - 1][1] for it in rs.items if it["width_mm"] is not None]
    dc = [it["centre_mm"] - truth_w[it["pair"]][int(it["slit"].split()[1]) - 1][0] for it in rs.items if it["centre_mm"] is not None]
    p_ms, p = run_pylinac(tmp / "slit.dcm", unity=True, repeat=3)
    pd_ = p if isinstance(p, dict) else {}
    row("", ["ours", "pylinac", "truth"])
    row("time per image (ms), leaves / slits", [f"{ms:.0f} / {ms_s:.0f}", fmt(p_ms, 0), ""])
    row("pickets", [int(r.metrics["n_pickets"]), pd_.get("n_pickets", "—"), 5])
    row("max |error to picket line| (mm)", [fmt(r.metrics["max_abs_relative_error_mm"]), fmt(pd_.get("max")), fmt(max(abs(v) for v in true_shift.values()))])
    row("max |rel. error − truth| (mm)", [fmt(max(abs(v) for v in dev)), "", ""])
    row("slits: max |centre − truth| (mm)", [fmt(max(abs(v) for v in dc)), "", ""])
    row("slits: max |FWHM − truth| (mm)", [fmt(max(abs(v) for v in dw)), "", ""])
    if isinstance(p, str):
        print(f"  pylinac: {p}")

    print("\n== Synthetic Unity AQUA session (6 × 20 mm gaps, staircase errors; truth = generator) ==")
    files, truth = sm.aqua_session(when, rng_seed=8, errors="staircase")
    ms, r = ours_leaves(files, unity_ctx(), 3)
    nominal = leaves.PRESETS["aqua"]
    diffs = [it["error_mm"] - (truth[it["image"] - 1][it["pair"] - 1, 0, 0 if it["bank"] == "A" else 1] - nominal[it["image"] - 1][0 if it["bank"] == "A" else 1])
             for it in r.items if it["error_mm"] is not None]
    row("time per image (ms, wall)", [f"{ms:.0f}"])
    row("leaf tips measured", [len(r.items)])
    row("max |error − true error| (mm)", [fmt(max(abs(v) for v in diffs))])
    row("mean (error − true error) (mm)", [fmt(float(np.mean(diffs)))])
    (tmp / "aqua1.dcm").write_bytes(files[3][1])
    p_ms, p = run_pylinac(tmp / "aqua1.dcm", unity=True, repeat=3)
    if isinstance(p, dict):
        print(f"  pylinac on one AQUA gap image (gap = 1 'picket'): {p_ms:.0f} ms, pickets {p['n_pickets']}, max {p['max']:.3f} mm "
              "(error of the gap centre to its line; pylinac has no leaf-tip / nominal analysis)")
    else:
        print(f"  pylinac on an AQUA gap image: {p}")

    print("\n== Synthetic Unity picket fence in two images (jaw part + MLC part; truth = generator) ==")
    errors = {(30, "A"): 0.4, (30, "B"): 0.4, (50, "A"): -0.3, (50, "B"): -0.3}
    parts, single, op = sm.picket_parts_session(when, rng_seed=3, errors=errors)
    for n, d in parts:
        (tmp / n).write_bytes(d)
    (tmp / "single.dcm").write_bytes(single)
    ms, r = ours_leaves(parts, unity_ctx(), 3)
    _, r1 = ours_leaves([("single.dcm", single)], unity_ctx(), 1)
    p_ms, p = run_pylinac_parts([tmp / n for n, _ in parts], repeat=3)
    p1_ms, p1 = run_pylinac(tmp / "single.dcm", unity=True, repeat=1)
    pd_, p1d = (p if isinstance(p, dict) else {}), (p1 if isinstance(p1, dict) else {})
    row("", ["ours 2 img", "ours 1 img", "pylinac 2 img", "pylinac 1 img"])
    row("time per image (ms, wall)", [fmt(ms, 0), "", fmt(p_ms, 0), ""])
    row("pickets", [int(r.metrics["n_pickets"]), int(r1.metrics["n_pickets"]), pd_.get("n_pickets", "—"), p1d.get("n_pickets", "—")])
    row("leaf pairs not measured", [int(r.metrics["n_leaf_pairs_not_measured"]), int(r1.metrics["n_leaf_pairs_not_measured"]), "", ""])
    row("max |error to picket line| (mm)", [fmt(r.metrics["max_abs_relative_error_mm"]), fmt(r1.metrics["max_abs_relative_error_mm"]),
                                            fmt(pd_.get("max")), fmt(p1d.get("max"))])
    row("median |error| (mm)", [fmt(r.metrics["median_abs_relative_error_mm"]), fmt(r1.metrics["median_abs_relative_error_mm"]),
                                fmt(pd_.get("median")), fmt(p1d.get("median"))])
    if isinstance(p, str):
        print(f"  pylinac: {p}")

    print("\n== Crosstalk check: lateral blur as wide as the leaf-end penumbra (σ_p = 2.5 mm) ==")
    model = sm.MLCModel(sigma_p_mm=2.5)
    files, truth = sm.aqua_session(when, rng_seed=9, errors="staircase", gaps_mm=((-40.0, -20.0),), model=model)
    r = leaves.analyse(files, unity_ctx())
    diffs = [it["error_mm"] - (truth[0][it["pair"] - 1, 0, 0 if it["bank"] == "A" else 1] - nominal[0][0 if it["bank"] == "A" else 1])
             for it in r.items if it["error_mm"] is not None]
    row("max |error − true error| (mm)", [fmt(max(abs(v) for v in diffs))])
    print("  (neighbours displaced by 5 mm bleed into the central 40 % of a leaf: a physical limit of profile-based tips)")
    print(load_line())


if __name__ == "__main__":
    main()
