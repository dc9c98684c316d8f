"""Winston-Lutz with the BB ~3 mm off the field centre: ours, pylinac 3.49 and the truth (issue #24, item 3).

On real sets with a 3 mm BB offset our CAX→BB read 0.04–0.16 mm below pylinac 3.49. Which one is right cannot be
told from those sets (no truth), so this script builds cases whose truth is known and runs both tools on them:

A. Real fields, implanted BB (the 17-image pylinac demo). Each image's BB is replaced by a radially symmetric BB of
   its own measured radial profile (our single-image radial fit: knots, attenuation), put back at a chosen place:
   signal' = bg + (signal − bg)·exp(−P(|x − c_new|) + P(|x − c_old|)). The field (real: its penumbrae, its dome,
   its noise, the phantom block) is untouched, so the true field centre does not move, and the implanted BB's
   centre is known exactly. d = 0 (the BB replaced where it was) gives each tool's reading of the real field; the
   same session with every BB moved by 3 mm (along u, v, or the diagonal) must change each CAX→BB vector by exactly
   that move: what it changes by beyond the move is the tool's error growing with the BB's distance from the centre.
B. Synthetic sessions of known truth (`qc.synthetic.wl`) in the demo's geometry (384×512, 0.784 mm, SID 1500,
   SAD 1000), BB 3 mm off the isocentre: per image the CAX→BB distance, ours and pylinac, against the truth.

   `--dome P`: the dose also multiplied by 1 − k·r² about the field centre (P % down at 3 mm: a rounded field top,
   as small fields show on many imagers), which moves no true centre either.
C. Ours with the session-shared field model against each image analysed alone (`SHARE_FIELD`, `SHARE_PROFILE` off),
   on the demo as it is and with its BBs moved 3 mm.
Also printed: each tool's pixel size at the isocentre on the demo (ImagePlanePixelSpacing × SAD/SID for both).

Run:  /work/main/.venv/bin/python bench/wl_offset_vs_pylinac.py [--peer /work/benchvenv/bin/python] [--parts A,B,C]
      [--dist 3] [--dome 1] [--seeds 1,2] [--geometry demo|as1200] [--bb 6] [--contrast 0.25] [--flattened] [--ripple 0]
Measured (load 6–12, see docs/changelog.md "mv-winston-lutz" and tests/validation/rows_mv_wl.py NOTES): A flat
demo fields, 3 mm: ours −0.003 … −0.009 mm mean, pylinac −0.001 … −0.021; A --dome 1: ours −0.004 … −0.008, pylinac
+0.072 … +0.092; B (24 images each): ours +0.001 … +0.003, pylinac +0.079 … +0.108; C: ≤ 0.016 mm per image.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import qc  # noqa: E402,F401  (one BLAS thread, as the app)
import numpy as np  # noqa: E402

from qc.readers.dicom_io import RT_IMAGE, load_images, read_paths  # noqa: E402
from qc.mv import winston_lutz as wl  # noqa: E402
from qc.registry import AnalysisContext  # noqa: E402
from qc.synthetic.wl import implanted_bb_bytes  # noqa: E402

DEMO = REPO.parent / "shared" / "data" / "pylinac" / "winston_lutz" / "demo"

PEER_SCRIPT = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
from pylinac import WinstonLutz
w = WinstonLutz(sys.argv[1], missing_axis_value=0)
w.analyze(bb_size_mm=float(sys.argv[2]))
r = w.results_data()
out = {"images": [dict(file=str(im.base_path).split("/")[-1], bb=[im.bb.x, im.bb.y], field=[im.field_cax.x, im.field_cax.y],
                      shape=list(im.shape), d=im.cax2bb_distance, dpmm=im.dpmm) for im in w.images],
       "median": r.median_2d_cax_to_bb_mm, "max": r.max_2d_cax_to_bb_mm, "gantry": r.gantry_3d_iso_diameter_mm,
       "coll": r.coll_2d_iso_diameter_mm, "couch": r.couch_2d_iso_diameter_mm,
       "shift": [w.bb_shift_vector.x, w.bb_shift_vector.y, w.bb_shift_vector.z]}
print(json.dumps(out))
"""


def run_peer(python: str, folder: Path, bb_mm: float) -> dict:
    p = subprocess.run([python, "-c", PEER_SCRIPT, str(folder), str(bb_mm)], capture_output=True, text=True, timeout=1800)
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except Exception:
        return {"error": (p.stderr or p.stdout).strip()[-400:]}
    out["by_file"] = {d["file"]: d for d in out["images"]}
    return out


def peer_px(p: dict, shape: tuple[int, int]) -> tuple[tuple[float, float], tuple[float, float]]:
    """pylinac's (BB, field) centres in our pixel frame (pylinac crops noisy edges symmetrically)."""
    off_v, off_u = (shape[0] - p["shape"][0]) / 2, (shape[1] - p["shape"][1]) / 2
    return (p["bb"][0] + off_u, p["bb"][1] + off_v), (p["field"][0] + off_u, p["field"][1] + off_v)


def run_ours(files: list[tuple[str, bytes]]) -> dict:
    r = wl.analyse(files, AnalysisContext())
    m = r.metrics
    return {"by_file": {it["file"].split("/")[-1]: it for it in r.items}, "median": m["cax2bb_median_mm"], "max": m["cax2bb_max_mm"],
            "gantry": m.get("gantry_iso_size_mm"), "coll": m.get("collimator_iso_size_mm"), "couch": m.get("couch_iso_size_mm"),
            "shift": [m["bb_shift_x_mm"], m["bb_shift_y_mm"], m["bb_shift_z_mm"]]}


# ---------------------------------------------------------------- A. real fields, implanted BB


def bb_profiles(files: list[tuple[str, bytes]]) -> dict[str, dict]:
    """Per image: our single-image BB centre (px), its radial attenuation profile, the out-of-field level."""
    out = {}
    for im in load_images(files, RT_IMAGE, "WL", "en"):
        fc = wl.find_field(im)
        bb = wl.find_bb(im, fc)
        px = math.sqrt(im.pixel_size_iso_mm[0] * im.pixel_size_iso_mm[1])
        s_roi, _, _ = wl._bb_roi(im, fc, px)
        r0, r1, c0, c1 = fc.roi
        bg = float(np.median(im.signal[r0:r1, c0:c1] - s_roi))
        knots, att = bb.profile
        out[im.file.filename.split("/")[-1]] = {"u": bb.u_px, "v": bb.v_px, "knots": np.asarray(knots), "att": np.asarray(att) - att[-1],
                                                "bg": bg, "inverted": im.inverted, "fu": fc.u_px, "fv": fc.v_px, "px": px,
                                                "shape": im.signal.shape}
    return out


def implanted_bytes(data: bytes, info: dict, du: float, dv: float, dome_pct_at_3mm: float = 0.0) -> bytes:
    """The image with its BB replaced by the radial-profile BB centred (du, dv) px from where ours found it; with
    `dome_pct_at_3mm`, the dose also multiplied by 1 − k·r² about the field centre (a rounded field top: −that % at
    3 mm), which moves no true centre."""
    gain = None
    if dome_pct_at_3mm:
        vv, uu = np.mgrid[0 : info["shape"][0], 0 : info["shape"][1]].astype(float)
        r2 = ((uu - info["fu"]) ** 2 + (vv - info["fv"]) ** 2) * info["px"] ** 2
        gain = np.clip(1.0 - dome_pct_at_3mm / 100.0 * r2 / 9.0, 0.0, None)
    return implanted_bb_bytes(data, (info["knots"], info["att"]), (info["u"], info["v"]), (info["u"] + du, info["v"] + dv),
                              info["bg"], info["inverted"], gain)


def part_a(peer: str, moves_mm: list[tuple[str, float, float]], dome_pct: float = 0.0) -> None:
    files = read_paths([DEMO])
    names = [n.split("/")[-1] for n, _ in files]
    shapes = {im.file.filename.split("/")[-1]: im.signal.shape for im in load_images(files, RT_IMAGE, "WL", "en")}
    px_mm = load_images(files[:1], RT_IMAGE, "WL", "en")[0].pixel_size_iso_mm[1]
    prof = bb_profiles(files)
    print(f"\nA. real demo fields{f' with a rounded top added ({dome_pct:g} % down at 3 mm)' if dome_pct else ''}, BB implanted (load {os.getloadavg()[0]:.1f}); pixel at iso {px_mm:.5f} mm (ours)")
    runs = {}
    for label, mu, mv in [("d=0", 0.0, 0.0)] + moves_mm:
        du, dv = mu / px_mm, mv / px_mm
        with tempfile.TemporaryDirectory() as tmp:
            moved = []
            for (name, data), base in zip(files, names):
                b = implanted_bytes(data, prof[base], du, dv, dome_pct)
                (Path(tmp) / base).write_bytes(b)
                moved.append((base, b))
            o = run_ours(moved)
            p = run_peer(peer, Path(tmp), 5.0)
        if "error" in p:
            print(label, "pylinac:", p["error"][-300:])
            continue
        runs[label] = (mu, mv, o, p)
        if label == "d=0":
            print(f"   pylinac dpmm {p['images'][0]['dpmm']:.5f} → pixel {1 / p['images'][0]['dpmm']:.5f} mm")
    o0, p0 = runs["d=0"][2], runs["d=0"][3]
    print("\n   per session: median / max CAX→BB (mm), ours vs pylinac; then the errors of the moved BB (truth = the move)")
    for label, (mu, mv, o, p) in runs.items():
        print(f"   {label:14s} ours {o['median']:.3f} / {o['max']:.3f}   pylinac {p['median']:.3f} / {p['max']:.3f}   "
              f"gantry iso ours {o['gantry']:.3f} pylinac {p['gantry']:.3f}")
    for label, (mu, mv, o, p) in runs.items():
        print(f"\n   {label}: move ({mu:+.2f}, {mv:+.2f}) mm. Per image, mm: BB centre error vs the implanted truth (u, v); "
              "field centre moved since d=0 (u, v); CAX→BB distance error vs d=0 + move")
        print(f"   {'image':14s} {'BB err ours':>16s} {'BB err pylinac':>16s} {'field Δ ours':>16s} {'field Δ pylinac':>16s} "
              f"{'dist ours':>9s} {'pylinac':>8s} {'truth':>7s} {'err ours':>8s} {'pylinac':>8s}")
        e_o, e_p = [], []
        for f in sorted(names):
            info = prof[f]
            tu, tv = info["u"] + mu / px_mm, info["v"] + mv / px_mm
            oi, oi0 = o["by_file"][f], o0["by_file"][f]
            pb, pf = peer_px(p["by_file"][f], shapes[f])
            pb0, pf0 = peer_px(p0["by_file"][f], shapes[f])
            # truth of the moved vector = each tool's own d=0 vector + the move (the field did not move)
            t_o = (oi0["cax2bb_u_mm"] + mu, oi0["cax2bb_v_mm"] + mv)
            t_p = ((pb0[0] - pf0[0]) * px_mm + mu, (pb0[1] - pf0[1]) * px_mm + mv)
            d_o = math.hypot(oi["cax2bb_u_mm"], oi["cax2bb_v_mm"])
            d_p = p["by_file"][f]["d"]
            err_o, err_p = d_o - math.hypot(*t_o), d_p - math.hypot(*t_p)
            e_o.append(err_o)
            e_p.append(err_p)
            print(f"   {f:14s} ({(oi['bb_u_px'] - tu) * px_mm:+.3f},{(oi['bb_v_px'] - tv) * px_mm:+.3f}) "
                  f"({(pb[0] - tu) * px_mm:+.3f},{(pb[1] - tv) * px_mm:+.3f}) "
                  f"({(oi['field_u_px'] - oi0['field_u_px']) * px_mm:+.3f},{(oi['field_v_px'] - oi0['field_v_px']) * px_mm:+.3f}) "
                  f"({(pf[0] - pf0[0]) * px_mm:+.3f},{(pf[1] - pf0[1]) * px_mm:+.3f}) "
                  f"{d_o:9.3f} {d_p:8.3f} {math.hypot(*t_o):7.3f} {err_o:+8.3f} {err_p:+8.3f}")
        print(f"   mean distance error vs own d=0 + move: ours {np.mean(e_o):+.3f} (sd {np.std(e_o):.3f}), "
              f"pylinac {np.mean(e_p):+.3f} (sd {np.std(e_p):.3f}) mm")


# ---------------------------------------------------------------- B. synthetic, demo geometry


def fmt3(v) -> str:
    return "(" + ", ".join(f"{x:+.3f}" for x in v) + ")"


GEOMETRIES = {
    "demo": dict(shape=(384, 512), pitch_mm=0.784, sid_mm=1500.0, sad_mm=1000.0, cax_px=(255.5, 191.5)),  # aS500, the pylinac demo
    "as1200": dict(shape=(1190, 1190), pitch_mm=0.336, sid_mm=1000.0, sad_mm=1000.0, cax_px=(594.5, 594.5)),  # TrueBeam aS1200 at SID 100 cm
}


def part_b(peer: str, seeds: list[int], bbs: list[tuple[float, float, float]], contrast: float, geometry: str = "demo",
           bb_mm: float = 6.0, **image_kw) -> None:
    from qc.synthetic.wl import unity_session

    geo = GEOMETRIES[geometry]
    print(f"\nB. synthetic sessions of known truth, {geometry} geometry {geo}, 8 gantry angles, "
          f"{bb_mm:g} mm BB, {100 * contrast:.0f} % contrast, {image_kw or 'Unity-like field: FFF cone, cryostat ripple'} (load {os.getloadavg()[0]:.1f})")
    all_o, all_p = [], []
    for bb in bbs:
        for seed in seeds:
            files, truth = unity_session([0, 45, 90, 135, 180, 225, 270, 315], bb, seed=seed, bb_contrast=contrast, bb_diameter_mm=bb_mm, **geo, **image_kw)
            with tempfile.TemporaryDirectory() as tmp:
                for name, data in files:
                    (Path(tmp) / name).write_bytes(data)
                o = run_ours(files)
                p = run_peer(peer, Path(tmp), bb_mm)
            if "error" in p:
                print(bb, seed, "pylinac:", p["error"][-300:])
                continue
            td = sorted(truth.cax2bb_mm)
            print(f"\n   BB at {bb} mm, seed {seed}: median / max CAX→BB truth {np.median(td):.3f} / {max(td):.3f}, "
                  f"ours {o['median']:.3f} / {o['max']:.3f}, pylinac {p['median']:.3f} / {p['max']:.3f}; gantry iso truth "
                  f"{truth.gantry_iso_size_mm:.3f} ours {o['gantry']:.3f} pylinac {p['gantry']:.3f}; BB shift (X, Y, Z) truth "
                  f"{fmt3(truth.bb_shift_mm)} ours {fmt3(o['shift'])} pylinac 3.49 {fmt3(p['shift'])} (its vector, same frame and sign)")
            print(f"   {'image':18s} {'truth':>7s} {'ours−truth':>10s} {'pylinac−truth':>13s}   {'pylinac − ours, mm: BB (u, v)':>30s} {'field (u, v)':>16s}")
            px = geo["pitch_mm"] * geo["sad_mm"] / geo["sid_mm"]
            for (name, _), t_uv in zip(files, truth.cax2bb_uv_mm):
                t = math.hypot(*t_uv)
                oi = o["by_file"][name]
                do, dp = oi["cax2bb_mm"], p["by_file"][name]["d"]
                pb, pf = peer_px(p["by_file"][name], geo["shape"])
                all_o.append(do - t)
                all_p.append(dp - t)
                print(f"   {name:18s} {t:7.3f} {do - t:+10.3f} {dp - t:+13.3f}   "
                      f"{'':14s}({(pb[0] - oi['bb_u_px']) * px:+.3f}, {(pb[1] - oi['bb_v_px']) * px:+.3f}) "
                      f"({(pf[0] - oi['field_u_px']) * px:+.3f}, {(pf[1] - oi['field_v_px']) * px:+.3f})")
    if all_o:
        print(f"\n   all images: mean error ours {np.mean(all_o):+.3f} (sd {np.std(all_o):.3f}, worst {max(all_o, key=abs):+.3f}), "
              f"pylinac {np.mean(all_p):+.3f} (sd {np.std(all_p):.3f}, worst {max(all_p, key=abs):+.3f}) mm")


# ---------------------------------------------------------------- C. ours: session-shared field model vs each image alone


def part_c(dist_mm: float = 3.0) -> None:
    files = read_paths([DEMO])
    names = [n.split("/")[-1] for n, _ in files]
    px_mm = load_images(files[:1], RT_IMAGE, "WL", "en")[0].pixel_size_iso_mm[1]
    prof = bb_profiles(files)
    print(f"\nC. ours with the session-shared field and BB profile (default) against every image analysed alone "
          f"(SHARE_FIELD, SHARE_PROFILE off) (load {os.getloadavg()[0]:.1f})")
    for label, mu, mv in (("original", None, None), (f"implanted +{dist_mm:g} u", dist_mm, 0.0), (f"implanted +{dist_mm:g} v", 0.0, dist_mm)):
        if mu is None:
            session = [(n.split("/")[-1], d) for n, d in files]
        else:
            session = [(b, implanted_bytes(d, prof[b], mu / px_mm, mv / px_mm)) for (n, d), b in zip(files, names)]
        shared = run_ours(session)
        wl.SHARE_FIELD, wl.SHARE_PROFILE = False, False
        try:
            alone = run_ours(session)
        finally:
            wl.SHARE_FIELD, wl.SHARE_PROFILE = True, True
        diffs = {f: math.hypot(shared["by_file"][f]["cax2bb_u_mm"] - alone["by_file"][f]["cax2bb_u_mm"],
                               shared["by_file"][f]["cax2bb_v_mm"] - alone["by_file"][f]["cax2bb_v_mm"]) for f in shared["by_file"]}
        worst = max(diffs, key=diffs.get)
        dd = [shared["by_file"][f]["cax2bb_mm"] - alone["by_file"][f]["cax2bb_mm"] for f in shared["by_file"]]
        print(f"   {label:18s} median / max shared {shared['median']:.3f} / {shared['max']:.3f}, alone {alone['median']:.3f} / {alone['max']:.3f}; "
              f"per image |Δ vector| ≤ {diffs[worst]:.3f} mm ({worst}), mean Δ distance {np.mean(dd):+.4f} mm; "
              f"gantry iso {shared['gantry']:.3f} / {alone['gantry']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", default="/work/benchvenv/bin/python")
    ap.add_argument("--parts", default="A,B")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--dist", default="3", help="distances (mm) the BB is moved by in part A (along ±u, ±v, the diagonal)")
    ap.add_argument("--dome", type=float, default=0.0, help="part A: a rounded field top, this %% down at 3 mm from the centre")
    ap.add_argument("--geometry", default="demo", choices=sorted(GEOMETRIES))
    ap.add_argument("--bb", type=float, default=6.0, help="part B: BB diameter (mm)")
    ap.add_argument("--flattened", action="store_true", help="part B: a flattened beam (no FFF cone)")
    ap.add_argument("--ripple", type=float, default=0.015, help="part B: cryostat ripple amplitude (0 = a C-arm linac)")
    ap.add_argument("--contrast", type=float, default=0.25, help="part B: BB contrast (pylinac finds no 5 %% BB under 0.4 %% noise)")
    args = ap.parse_args()
    parts = args.parts.split(",")
    print(f"load average {os.getloadavg()}")
    if "A" in parts:
        moves = []
        for d in (float(x) for x in args.dist.split(",")):
            moves += [(f"+{d:g} u", d, 0.0), (f"−{d:g} u", -d, 0.0), (f"+{d:g} v", 0.0, d), (f"−{d:g} v", 0.0, -d), (f"diag {d:g}", d / 2**0.5, d / 2**0.5)]
        part_a(args.peer, moves, args.dome)
    if "C" in parts:
        part_c()
    if "B" in parts:
        part_b(args.peer, [int(s) for s in args.seeds.split(",")], [(3.0, 0.0, 0.0), (0.0, 3.0, 0.0), (2.0, -2.0, 2.0)], args.contrast, args.geometry, args.bb,
               **({"flattened": True} if args.flattened else {}), **({"ripple": args.ripple} if args.ripple != 0.015 else {}))


if __name__ == "__main__":
    main()
