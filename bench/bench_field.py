"""Benchmark of the MVIC-Champ analyser (qc.mv.field) against pylinac's FieldAnalysis.

Same images for both: the two real TrueBeam open fields of ../shared/data/pylinac/open_field and a
few synthetic Unity images (qc.synthetic.field, known truth). Prints the time per image (median of
repeated runs, DICOM decoding included for both) and the agreement of field sizes and centres.
Both are run relative to the image centre (no CAX calibration) so that their centres compare.
pylinac settings: is_FFF=True on the Unity images (FFF beam), INFLECTION_DERIVATIVE edges
(its default), central single-pixel profiles through the beam centre (its default).

pylinac lives only in a separate bench venv:
    python3 -m venv /work/benchvenv
    /work/benchvenv/bin/pip install pylinac -r requirements.txt
    /work/benchvenv/bin/python bench/bench_field.py
"""

from __future__ import annotations

import io
import statistics
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qc.mv.field import analyse  # noqa: E402
from qc.registry import AnalysisContext, Calibration  # noqa: E402
from qc.synthetic import UNITY_CAX_PX, UNITY_PIXEL_ISO_MM  # noqa: E402
from qc.synthetic.field import field_image  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "pylinac" / "open_field"

try:
    from pylinac import FieldAnalysis
    from pylinac.field_analysis import Edge

    import pylinac

    PYLINAC = pylinac.__version__
except ImportError:  # the app's venv has no pylinac on purpose
    FieldAnalysis = None
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


def images() -> list[tuple[str, bytes, dict | None, bool]]:
    """(name, DICOM bytes, truth relative to the image centre or None, is_FFF)."""
    out = []
    for name in ("flatsym_demo.dcm", "6x auto bulb 2.dcm"):
        p = DATA / name
        if p.exists():
            out.append((name, p.read_bytes(), None, False))
    # truth offsets are relative to the Unity CAX; shift them to the image centre (511.5, 511.5)
    dx, dy = (UNITY_CAX_PX[0] - 511.5) * UNITY_PIXEL_ISO_MM, (UNITY_CAX_PX[1] - 511.5) * UNITY_PIXEL_ISO_MM
    for label, sx, sy, kw in (
        ("Unity 150x80", 150, 80, {}),
        ("Unity 85x85 off 5/-3 rot 0.5", 85, 85, dict(centre_x_mm=5, centre_y_mm=-3, rotation_deg=0.5)),
        ("Unity 50x50 off -8/6", 50, 50, dict(centre_x_mm=-8, centre_y_mm=6)),
        ("Unity 120x60 rot -1", 120, 60, dict(rotation_deg=-1.0)),
    ):
        data, tr = field_image(sx, sy, rng=42, **kw)
        truth = dict(x=tr.size_x_mm, y=tr.size_y_mm, cx=tr.centre_x_mm + dx, cy=tr.centre_y_mm + dy)
        out.append((label, data, truth, True))
    return out


def run_pylinac(data: bytes, is_fff: bool):
    """Sizes and centre with inflection-derivative edges; penumbrae (top, bottom, left, right) with the
    definition that fits the beam: inflection-scaled on FFF, 20/80 % of the grounded maximum (Edge.FWHM) on
    flattened beams (as ours)."""
    fa = FieldAnalysis(io.BytesIO(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fa.analyze(is_FFF=is_fff, edge_detection_method=Edge.INFLECTION_DERIVATIVE)
        r = fa.results_data()
        pen = r
        if not is_fff:
            fb = FieldAnalysis(io.BytesIO(data))
            fb.analyze(is_FFF=False, edge_detection_method=Edge.FWHM)
            pen = fb.results_data()
    return dict(
        x=r.field_size_horizontal_mm,
        y=r.field_size_vertical_mm,
        cx=(r.cax_to_right_mm - r.cax_to_left_mm) / 2,
        cy=(r.cax_to_bottom_mm - r.cax_to_top_mm) / 2,
        pen=(pen.top_penumbra_mm, pen.bottom_penumbra_mm, pen.left_penumbra_mm, pen.right_penumbra_mm),
    )


def main() -> None:
    import pydicom

    print(load_line())
    rows = []
    for name, data, truth, fff in images():
        # pylinac's axis is the image centre: given to ours as that image's calibration (without one,
        # ours reports no centre at all: the imager centre is never a reference)
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        centre = Calibration((ds.Columns - 1) / 2, (ds.Rows - 1) / 2, "2000-01-01", 1)
        ctx = AnalysisContext(cax_for=lambda _d, c=centre: c, lang="en")
        t_ours, res = timed(lambda: analyse([(name, data)], ctx), 11, "ours")
        it = res.items[0]
        ours = dict(x=it["field_size_x_mm"], y=it["field_size_y_mm"], cx=it["centre_offset_x_mm"], cy=it["centre_offset_y_mm"],
                    pen=tuple(it[f"penumbra_{s}_mm"] for s in ("y1", "y2", "x1", "x2")), beam=it["penumbra_definition"], item=it["item"])
        t_pyl, pyl = (None, None)
        if FieldAnalysis is not None:
            t_pyl, pyl = timed(lambda: run_pylinac(data, fff), 5, "pylinac")
        rows.append((name, t_ours, t_pyl, ours, pyl, truth))

    print(f"qc.mv.field vs pylinac {PYLINAC or '(not installed)'} FieldAnalysis — time per image (median, ms) and results (mm)")
    hdr = f"{'image':30s} {'ours ms':>8s} {'pyl ms':>8s} {'speed':>6s} | {'X ours':>7s} {'X pyl':>7s} {'X true':>7s} | {'Y ours':>7s} {'Y pyl':>7s} {'Y true':>7s} | {'cx ours':>7s} {'cx pyl':>7s} {'cx true':>7s} | {'cy ours':>7s} {'cy pyl':>7s} {'cy true':>7s}"
    print(hdr)
    print("-" * len(hdr))

    def f(v):
        return f"{v:7.2f}" if v is not None else f"{'—':>7s}"

    for name, t_ours, t_pyl, ours, pyl, truth in rows:
        pyl = pyl or {}
        truth = truth or {}
        speed = f"{t_pyl / t_ours:5.1f}x" if t_pyl else f"{'—':>6s}"
        print(
            f"{name:30s} {t_ours:8.1f} {t_pyl if t_pyl else float('nan'):8.1f} {speed:>6s} | "
            + " | ".join(" ".join(f(d.get(k)) for d in (ours, pyl, truth)) for k in ("x", "y", "cx", "cy"))
        )
    print()
    t_o = [r[1] for r in rows]
    print(f"ours: mean {statistics.mean(t_o):.1f} ms/image wall, {statistics.mean(CPU_MS['ours']):.1f} ms CPU")
    if FieldAnalysis is None:
        print("pylinac not installed here: create the bench venv to compare —")
        print("  python3 -m venv /work/benchvenv && /work/benchvenv/bin/pip install pylinac -r requirements.txt")
        print("  /work/benchvenv/bin/python bench/bench_field.py")
        return
    t_p = [r[2] for r in rows]
    print(f"pylinac: mean {statistics.mean(t_p):.1f} ms/image wall, {statistics.mean(CPU_MS['pylinac']):.1f} ms CPU; "
          f"speed-up {statistics.mean(t_p) / statistics.mean(t_o):.1f}x (wall), "
          f"{statistics.mean(CPU_MS['pylinac']) / statistics.mean(CPU_MS['ours']):.1f}x (CPU)")
    print(load_line())
    print("penumbra T/B/L/R (mm), ours with the definition of the beam it detected, pylinac the same definition:")
    for name, _t, _tp, ours, pyl, _truth in rows:
        print(f"  {name:30s} {ours['item']:>9s} {ours['beam']:9s} ours " + " ".join(f"{v:5.2f}" for v in ours["pen"])
              + "  pylinac " + " ".join(f"{v:5.2f}" for v in pyl["pen"])
              + f"  max |diff| {max(abs(a - b) for a, b in zip(ours['pen'], pyl['pen'])):.2f}")
    for key, label in (("x", "size X"), ("y", "size Y"), ("cx", "centre x"), ("cy", "centre y")):
        d_op = [abs(r[3][key] - r[4][key]) for r in rows]
        line = f"|ours − pylinac| {label}: max {max(d_op):.2f} mm"
        syn = [r for r in rows if r[5]]
        if syn:
            line += f"; vs truth (synthetic): ours max {max(abs(r[3][key] - r[5][key]) for r in syn):.3f}, pylinac max {max(abs(r[4][key] - r[5][key]) for r in syn):.3f}"
        print(line)


if __name__ == "__main__":
    main()
