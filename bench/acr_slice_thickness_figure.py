"""Figure: the ACR slice-1 ramp profiles of hazen's Siemens, Siemens2 and Philips images, ours and hazen's.

Why the two tools disagree on acr/Siemens (README, "MR spatial measures"): for each image and ramp, our
profile (mean of 7 lines parallel to the bar's borders, raw and after the [1, 2, 1] filter across the bar),
the former baseline (median of the outer 15 %) and the current one (the bar's floor: 10th percentile of the
outer 25 %) with their half levels and FWHMs; and hazen 2.0.0's line signals with its piecewise-sigmoid fits.
Three steps, each in the venv that has what it needs (hazen and matplotlib live in hazen's venv only):

    .venv/bin/python bench/acr_slice_thickness_figure.py ours  /tmp/acr_ours.json
    /work/peer-hazen/bin/python bench/acr_slice_thickness_figure.py hazen /tmp/acr_hazen.json
    /work/peer-hazen/bin/python bench/acr_slice_thickness_figure.py plot /tmp/acr_ours.json /tmp/acr_hazen.json out.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "hazen" / "acr"
FOLDERS = ("Siemens", "Siemens2", "PhilipsAchieva")


def ours(out: str) -> None:
    import numpy as np
    import pydicom
    from scipy import ndimage

    sys.path.insert(0, str(REPO))
    from qc.mr import slice_thickness as st
    from qc.mr.phantom_geometry import find_phantom

    res = {}
    for folder in FOLDERS:
        ds = pydicom.dcmread(DATA / folder / "0.dcm")
        img = ds.pixel_array.astype(float)
        sp = tuple(float(v) for v in ds.PixelSpacing)
        ph = find_phantom(img)
        bar = st.find_acr_bar(img, ph, sp)
        c0, c1 = st.bar_columns(img, ph, sp, bar)
        up_c, lo_c = st.bar_edges(img, ph, bar, c0, c1)
        cols = np.arange(c0, c1 + 1, dtype=float)
        up, lo = np.polyval(up_c, cols), np.polyval(lo_c, cols)
        band = ndimage.convolve1d(img, [0.25, 0.5, 0.25], axis=0, mode="nearest")
        res[folder] = {}
        for name, fr in (("top", np.linspace(0.15, 0.45, 7)), ("bottom", np.linspace(0.55, 0.85, 7))):
            raw = np.mean([ndimage.map_coordinates(img, [up + f * (lo - up), cols], order=1) for f in fr], axis=0)
            smo = np.mean([ndimage.map_coordinates(band, [up + f * (lo - up), cols], order=1) for f in fr], axis=0)
            old, new = st.end_baseline(raw, 0.15, 50.0), st.end_baseline(smo)
            res[folder][name] = {
                "cols": cols.tolist(), "raw": raw.tolist(), "smo": smo.tolist(), "old": old.tolist(), "new": new.tolist(),
                "f_old": st.normalised_fwhm(raw - old, sp[1])[1], "f_new": st.normalised_fwhm(smo - new, sp[1])[1],
                "h_old": st._plateau_height(raw - old),
                "h_new": st._plateau_height(smo - new),
            }
    Path(out).write_text(json.dumps(res))


def hazen(out: str) -> None:
    import logging

    logging.disable(logging.CRITICAL)
    from hazenlib.tasks.acr_slice_thickness import ACRSliceThickness

    res = {}
    for folder in FOLDERS:
        task = ACRSliceThickness(input_data=sorted(str(p) for p in (DATA / folder).iterdir()))
        dcm = task.ACR_obj.slice_stack[0]
        lines = task.place_lines(dcm.pixel_array)
        res[folder] = []
        for line in lines:
            line.get_fwhm()
            res[folder].append({"x": line.signal.x.tolist(), "y": line.signal.y.tolist(), "fx": line.fitted.x.tolist(),
                                "fy": line.fitted.y.tolist(), "fwhm_px": float(line.fwhm)})
    Path(out).write_text(json.dumps(res))


def plot(ours_json: str, hazen_json: str, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    o, h = json.loads(Path(ours_json).read_text()), json.loads(Path(hazen_json).read_text())
    fig, ax = plt.subplots(len(FOLDERS), 3, figsize=(21, 4.6 * len(FOLDERS)))
    for i, folder in enumerate(FOLDERS):
        for j, name in enumerate(("top", "bottom")):
            r, a = o[folder][name], ax[i, j]
            c = np.array(r["cols"])
            old, new = np.array(r["old"]), np.array(r["new"])
            a.plot(c, r["raw"], color="0.6", lw=0.8, label="mean of 7 lines, raw rows")
            a.plot(c, r["smo"], "k", lw=1.2, label="same after [1,2,1] across the bar")
            a.plot(c, old, "r--", label=f"former baseline, median of outer 15 %: FWHM {r['f_old']:.1f} mm")
            a.plot(c, old + r["h_old"] / 2, "r:", lw=0.8)
            a.plot(c, new, "b--", label=f"bar floor, 10th pct of outer 25 %: FWHM {r['f_new']:.1f} mm")
            a.plot(c, new + r["h_new"] / 2, "b:", lw=0.8)
            a.set_title(f"{folder} slice 1, {name} ramp (ours); dotted: half levels")
            a.set_xlabel("column")
            a.legend(fontsize=8)
        a = ax[i, 2]
        for line, col in zip(h[folder], ("c", "m")):
            a.plot(line["x"], line["y"], col, alpha=0.35)
            a.plot(line["fx"], line["fy"], col, label=f"hazen fit: FWHM {line['fwhm_px']:.1f} px, tails {line['fy'][0]:.0f} / {line['fy'][-1]:.0f}")
        a.set_title(f"{folder}: hazen 2.0.0 line signals and piecewise-sigmoid fits")
        a.set_xlabel("pixels along its line")
        a.legend(fontsize=8)
    plt.tight_layout()
    plt.savefig(out, dpi=50)


if __name__ == "__main__":
    step = sys.argv[1]
    {"ours": ours, "hazen": hazen, "plot": plot}[step](*sys.argv[2:])
