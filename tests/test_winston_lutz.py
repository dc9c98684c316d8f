"""Winston-Lutz: geometry (sign convention, minimax sphere), synthetic Unity sessions of known truth,
the real 17-image demo against the MANIFEST values, angles from header / file name / entry, polarity,
bad input, the session verdict, and the page."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import shared_file
from pages_nav import open_page
from qc import pipeline
from qc.errors import QCInputError
from qc.readers.dicom_io import read_paths
from qc.mv import winston_lutz as wl
from qc.registry import AnalysisContext, get_test
from qc.synthetic.wl import unity_session

EIGHT = [0, 45, 90, 135, 180, 225, 270, 315]
THIRTEEN = list(range(-180, 181, 30))  # Unity B0-style sweep: −180° … 180° in 30° steps (180° twice)

# docs/accuracy-synthetic.md "Winston-Lutz" accuracy table: these ARE the claims, and they hold over noise seeds 1–16 (bench/wl_iso_noise.py
# --parts 5 --seeds 1,…,16; the first test's seeds are the table's, the second's are the worst draws). The generator's
# FFF cone has a rounded top (cone_round_mm = 10; a pure cusp on the axis is unphysical and biased the 3 % BB shift by
# ~0.1 mm). The BB-free field under the BB is fitted once per session (shared by the images of one MLC field), the BB's
# radial profile too, the field model moves each row's edges instead of stretching the row, and the field centre
# divides out the in-field trend: the CAX→BB noise is 0.016–0.019 mm per component at 5 % (0.027 at 3 %). The
# issue's 0.05 mm on the isocentre diameter is met on the 13-angle sessions (seeds 1–16) and on 14 of 16 seeds at
# 8 angles (5 % and 3 %): the minimax diameter is biased upwards by that noise (bench/wl_iso_noise.py, part 3).
SHIFT_TOL_MM = 0.1  # worst over seeds 1–16: 0.044 (3 % contrast, seed 3)
ISO_TOL_MM = 0.1  # 8 angles, worst over seeds 1–16: +0.073 (3 % contrast, seed 14), +0.066 (6 mm BB, 5 %, seed 7)
ISO_TOL_13_MM = 0.05  # 13 angles, worst over seeds 1–16: +0.039 (6 mm BB, 5 %, seed 12), −0.025 (8 mm BB, seed 10)
CAX_TOL_MM = 0.2  # worst over seeds 1–16: 0.089 (3 % contrast, seed 2)

def _shift(result) -> np.ndarray:
    m = result.metrics
    return np.array([m["bb_shift_x_mm"], m["bb_shift_y_mm"], m["bb_shift_z_mm"]])


# ---------------------------------------------------------------- geometry


def _img(g, eu, ev, couch=0.0):
    fc = wl.FieldCentre(0.0, 0.0, 20.0, 20.0, np.zeros((1, 1), bool))
    bb = wl.BBCentre(eu, ev, 5.0, 10.0, 10.0)
    return wl.WLImage(f"G{g}", g, 0.0, couch, "header", fc, bb, (1.0, 1.0), wl.DEFAULT_ORIENTATION)


def test_sign_convention_bb_right_of_isocentre_is_moved_left():
    # BB 1 mm to +X (right facing the gantry), 0.5 mm towards the gantry (+Y), 0.3 mm up (+Z), ideal beam axes:
    # at gantry θ the image sees ε_u = δ·X_r(θ), ε_v = −δ_Y.
    delta = np.array([1.0, 0.5, 0.3])
    imgs = []
    for g in EIGHT:
        xr, yr, _ = wl.receptor_axes(g)
        imgs.append(_img(g, float(delta @ xr), float(-(delta @ yr))))
    shift = wl.bb_shift_vector(imgs)
    assert shift == pytest.approx(-delta, abs=1e-9)
    words = wl.shift_words(shift, "fr")
    assert words == "Déplacer la bille de 1,0 mm vers la gauche (face au bras), de 0,5 mm vers le pied de la table, de 0,3 mm vers le bas."
    assert "to the left" in wl.shift_words(shift, "en")
    assert wl.shift_words(np.zeros(3), "fr").startswith("La bille est à moins de 0,05 mm")
    # ideal axes through one point: no isocentre spread
    lines = [wl.beam_axis_line(i) for i in imgs]
    _, r = wl.minimax_sphere([p for p, _ in lines], [d for _, d in lines])
    assert r == pytest.approx(0.0, abs=1e-6)


def test_minimax_sphere_of_known_lines():
    # four lines parallel to the axes, each 0.4 mm from the origin in a symmetric arrangement: smallest sphere r = 0.4
    pts = [np.array([0.4, 0, 0]), np.array([-0.4, 0, 0]), np.array([0, 0, 0.4]), np.array([0, 0, -0.4])]
    dirs = [np.array([0, 0, 1.0]), np.array([0, 0, 1.0]), np.array([1.0, 0, 0]), np.array([1.0, 0, 0])]
    c, r = wl.minimax_sphere(pts, dirs)
    assert r == pytest.approx(0.4, abs=1e-6) and np.linalg.norm(c) < 1e-5


def test_angle_from_file_name():
    assert wl.angle_from_filename("demo/gantry90.dcm", "gantry") == 90
    assert wl.angle_from_filename("coll315.dcm", "collimator") == 315
    assert wl.angle_from_filename("couch270.dcm", "couch") == 270
    assert wl.angle_from_filename("WL_G090_C000_T000.dcm", "gantry") == 90
    assert wl.angle_from_filename("MVIC image.dcm", "gantry") is None
    assert wl.varying_axis(90, 0, 0) == "gantry" and wl.varying_axis(0, 0, 0.4) == "reference"
    assert wl.varying_axis(0, 45, 0) == "collimator" and wl.varying_axis(0, 0, 270) == "couch" and wl.varying_axis(90, 45, 0) == "combo"


# ---------------------------------------------------------------- synthetic Unity sessions (truth known)


@pytest.mark.parametrize(
    "angles, bb, kw",
    [
        (EIGHT, (3.0, -3.0, 3.0), dict(seed=1)),
        (THIRTEEN, (-2.5, 3.0, -3.0), dict(seed=2)),
        (EIGHT, (0.5, 1.0, -2.0), dict(seed=3, bb_contrast=0.03, bb_diameter_mm=5.0, inverted=False)),
        (THIRTEEN, (1.0, -1.0, 0.5), dict(seed=4, bb_diameter_mm=8.0, bb_contrast=0.08)),
    ],
    ids=["8-angles-3mm", "13-angles-3mm", "8-angles-low-contrast-direct-polarity", "13-angles-8mm-bb"],
)
def test_synthetic_unity_sessions_match_truth(angles, bb, kw):
    files, truth = unity_session(angles, bb, **kw)
    r = wl.analyse(files, AnalysisContext())
    _assert_matches_truth(r, files, truth, low_contrast=kw.get("bb_contrast", 0.05) < 0.05)
    assert r.metrics["n_images"] == len(angles)
    assert "collimator_iso_size_mm" not in r.metrics and "couch_iso_size_mm" not in r.metrics  # Unity: not applicable


def _assert_matches_truth(r, files, truth, low_contrast: bool) -> None:
    assert _shift(r) == pytest.approx(np.array(truth.bb_shift_mm), abs=SHIFT_TOL_MM)
    iso_tol = ISO_TOL_13_MM if len(truth.gantry_deg) >= 13 else ISO_TOL_MM
    assert r.metrics["gantry_iso_size_mm"] == pytest.approx(truth.gantry_iso_size_mm, abs=iso_tol)
    by_file = {f: uv for (f, _), uv in zip(files, truth.cax2bb_uv_mm)}
    for it in r.items:
        tu, tv = by_file[it["file"]]
        assert math.hypot(it["cax2bb_u_mm"] - tu, it["cax2bb_v_mm"] - tv) < CAX_TOL_MM, it["file"]


@pytest.mark.parametrize(
    "angles, bb, kw",
    [
        (EIGHT, (3.0, -3.0, 3.0), dict(seed=7)),  # the worst diameter at 5 % over seeds 1–8
        (EIGHT, (0.5, 1.0, -2.0), dict(seed=5, bb_contrast=0.03, bb_diameter_mm=5.0, inverted=False)),
        (EIGHT, (0.5, 1.0, -2.0), dict(seed=2, bb_contrast=0.03, bb_diameter_mm=5.0, inverted=False)),  # worst CAX→BB
        (EIGHT, (0.5, 1.0, -2.0), dict(seed=14, bb_contrast=0.03, bb_diameter_mm=5.0, inverted=False)),  # worst diameter
        (THIRTEEN, (-2.5, 3.0, -3.0), dict(seed=12)),  # the worst 13-angle diameter (6 mm BB), +0.039
        (THIRTEEN, (1.0, -1.0, 0.5), dict(seed=10, bb_diameter_mm=8.0, bb_contrast=0.08)),  # the worst with the 8 mm BB
    ],
    ids=["8-angles-3mm-seed7", "8-angles-low-contrast-seed5", "8-angles-low-contrast-seed2", "8-angles-low-contrast-seed14",
         "13-angles-3mm-seed12", "13-angles-8mm-bb-seed10"],
)
def test_synthetic_claims_hold_on_other_noise_draws(angles, bb, kw):
    # seed 5 at 3 %: the BB centroid kept wandering and the radial fit never ran (0.36 mm off on one image) until the
    # radial fit was made to conclude always
    files, truth = unity_session(angles, bb, **kw)
    _assert_matches_truth(wl.analyse(files, AnalysisContext()), files, truth, low_contrast=kw.get("bb_contrast", 0.05) < 0.05)


def test_session_sharing_is_per_mlc_field_and_single_images_still_work():
    # the shared field and BB profile need 3 images of one collimator angle; fewer are analysed alone
    files, truth = unity_session(EIGHT, (1.0, -1.0, 0.5), seed=3)
    shared = wl.analyse(files, AnalysisContext())
    alone = [wl.analyse(files[i : i + 2], AnalysisContext()) for i in range(0, 8, 2)]  # pairs: never shared
    by_file = {f: uv for (f, _), uv in zip(files, truth.cax2bb_uv_mm)}
    for r in [shared, *alone]:
        for it in r.items:
            tu, tv = by_file[it["file"]]
            assert math.hypot(it["cax2bb_u_mm"] - tu, it["cax2bb_v_mm"] - tv) < CAX_TOL_MM, it["file"]
    from qc.readers.dicom_io import RT_IMAGE, load_images

    images = load_images(files[:1], RT_IMAGE, "WL", "en")
    fc = wl.find_field(images[0])
    bb = wl.find_bb(images[0], fc)  # one image, no session
    assert bb.profile is not None and bb.contrast_pct > 2.0


def test_polarity_does_not_change_the_result():
    a, _ = unity_session(EIGHT[:4], (1.0, 0.5, -1.0), seed=7, inverted=True)
    b, _ = unity_session(EIGHT[:4], (1.0, 0.5, -1.0), seed=7, inverted=False)
    ra, rb = wl.analyse(a, AnalysisContext()), wl.analyse(b, AnalysisContext())
    assert _shift(ra) == pytest.approx(_shift(rb), abs=0.02)


def test_angles_from_file_name_then_entered_then_refused():
    files, truth = unity_session([0, 90, 180, 270], (1.0, 0.0, 0.0), seed=5, angles_in_header=False)
    r = wl.analyse(files, AnalysisContext())  # file names WL_G090_01.dcm ...
    assert {it["angle_source"] for it in r.items} == {"file name"}
    assert sorted(it["gantry_deg"] for it in r.items) == [0, 90, 180, 270]
    renamed = [(f"image{i}.dcm", data) for i, (_, data) in enumerate(files)]
    with pytest.raises(QCInputError) as info:
        wl.analyse(renamed, AnalysisContext())
    assert info.value.key == "wl.err.no_angle" and "image0.dcm" in info.value.message("fr")
    ctx = AnalysisContext(options={"gantry_angles": {f"image{i}.dcm": g for i, g in enumerate([0, 90, 180, 270])}})
    r2 = wl.analyse(renamed, ctx)
    assert {it["angle_source"] for it in r2.items} == {"entered"}
    assert _shift(r2) == pytest.approx(_shift(r), abs=1e-9)


def test_image_without_field_or_bb_is_refused(qc_data_dir):
    from conftest import blank_rt_image

    files, _ = unity_session([0, 90], (0.0, 0.0, 0.0), seed=6)
    with pytest.raises(QCInputError) as info:
        wl.analyse([files[0], ("blank.dcm", blank_rt_image(0.0))], AnalysisContext())
    assert info.value.key == "wl.err.no_field"
    no_bb, _ = unity_session([0, 90], (0.0, 0.0, 0.0), seed=6, bb_contrast=0.0)
    with pytest.raises(QCInputError) as info:
        wl.analyse(no_bb, AnalysisContext())
    assert info.value.key == "wl.err.no_bb"
    with pytest.raises(QCInputError) as info:
        wl.analyse(files[:1], AnalysisContext())
    assert info.value.key == "wl.err.too_few"


def test_session_verdict_follows_the_isocentre(store, machine):
    spec = get_test("wl")
    good, _ = unity_session(EIGHT, (0.3, -0.2, 0.2), seed=8, wobble_mm=0.1)
    a = pipeline.analyse(store, spec, good, machine)
    assert a.status == "pass"
    bad, truth = unity_session(EIGHT, (0.3, -0.2, 0.2), seed=8, wobble_mm=0.9)
    assert truth.gantry_iso_size_mm > 1.0
    b = pipeline.analyse(store, spec, bad, machine)
    assert b.status == "fail"
    sid = pipeline.store_analysis(store, a, operator="AG")
    assert sid > 0


# ---------------------------------------------------------------- the real 17-image demo (pylinac)


def _demo_result(files=None):
    files = files if files is not None else read_paths([shared_file("pylinac", "winston_lutz", "demo")])
    return wl.analyse(files, AnalysisContext())


def test_pylinac_demo_17_images_within_manifest_tolerances():
    # MANIFEST mv-wl-demo-17-images, with its tolerances exactly
    r = _demo_result()
    m = r.metrics
    assert m["n_images"] == 17
    assert m["gantry_iso_size_mm"] == pytest.approx(1.0, abs=0.15)
    assert m["collimator_iso_size_mm"] == pytest.approx(1.2, abs=0.15)
    assert m["couch_iso_size_mm"] == pytest.approx(2.3, abs=0.15)
    assert m["cax2bb_max_mm"] == pytest.approx(1.2, abs=0.15)
    # pylinac's BB shift is in the same room frame and sign (move the BB by this): (0.4, −0.4, −0.2) ± 0.15
    assert _shift(r) == pytest.approx(np.array([0.4, -0.4, -0.2]), abs=0.15)
    assert {it["axis"] for it in r.items} == {"reference", "gantry", "collimator", "couch"}


def test_pylinac_demo_oblique_images_with_their_own_structure_leave_the_shared_field(monkeypatch):
    # on the 4 oblique gantry images the BB sits on the edge of the phantom block, which the other images do not show:
    # the session's shared field would move them by 0.05–0.09 mm; they are detected and analysed alone
    files = read_paths([shared_file("pylinac", "winston_lutz", "demo")])
    shared = {it["item"]: it for it in _demo_result(files).items}
    monkeypatch.setattr(wl, "SHARE_FIELD", False)
    alone = {it["item"]: it for it in _demo_result(files).items}
    for item in ("G045", "G135", "G225", "G315"):
        assert shared[item]["cax2bb_u_mm"] == pytest.approx(alone[item]["cax2bb_u_mm"], abs=0.01), item
        assert shared[item]["cax2bb_v_mm"] == pytest.approx(alone[item]["cax2bb_v_mm"], abs=0.01), item


# The MANIFEST median (0.7 ± 0.1) and pylinac 3.49's 0.690 against ours 0.542: a validation row that differs
# (tests/validation/rows_mv_wl.py): pylinac's median image carries its whole-pixel field centroid; ours is nearer the truth.


def _moved(files, du: float, dv: float):
    """The same images moved by (du, dv) pixels (cubic spline): every CAX→BB vector must stay the same."""
    from qc.synthetic import shifted_image_bytes

    return [(name, shifted_image_bytes(data, du, dv)) for name, data in files]


def test_pylinac_demo_does_not_depend_on_where_the_pixels_fall():
    # moving the whole session by a fraction of a pixel changes no CAX→BB vector: our centres are sub-pixel (pylinac's
    # field centre, a whole-pixel mask centroid, moves its median from 0.69 to 0.51 mm under the same shifts)
    files = read_paths([shared_file("pylinac", "winston_lutz", "demo")])
    ref = _demo_result(files)
    moved = _demo_result(_moved(files, 0.4, 0.4))
    assert moved.metrics["cax2bb_median_mm"] == pytest.approx(ref.metrics["cax2bb_median_mm"], abs=0.01)
    assert moved.metrics["gantry_iso_size_mm"] == pytest.approx(ref.metrics["gantry_iso_size_mm"], abs=0.03)
    by_file = {it["file"]: it for it in ref.items}
    for it in moved.items:
        a = by_file[it["file"]]
        assert math.hypot(it["cax2bb_u_mm"] - a["cax2bb_u_mm"], it["cax2bb_v_mm"] - a["cax2bb_v_mm"]) < 0.05, it["file"]
    assert ref.metrics["cax2bb_median_mm"] == pytest.approx(0.54, abs=0.02)  # docs/accuracy-synthetic.md real-image table


# ---------------------------------------------------------------- page


def test_wl_page_demo_shows_overlays_shift_and_polar_plot(qc_data_dir):
    from streamlit.testing.v1 import AppTest

    from conftest import REPO

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.session_state["lang"] = "fr"
    at.run()
    open_page(at, "wl").run()
    at.button(key="wl_demo").click().run()
    assert not at.exception, [e.value for e in at.exception]
    infos = " ".join(i.value for i in at.info)
    assert "Déplacer la bille" in infos or "ne pas la déplacer" in infos
    assert any("CEI 61217" in c.value for c in at.caption)


def test_cli_analyses_the_demo_folder(capsys):
    import json

    from qc import cli

    assert cli.main(["analyse", "wl", str(shared_file("pylinac", "winston_lutz", "demo")), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"]["n_images"] == 17 and "gantry_iso_size_mm" in out["metrics"]


def test_field_centre_is_not_moved_by_a_tilt_of_the_signal():
    # The generator's cryostat multiplies the image by 1 + 0.0008·X (0.08 %/mm): that does not move the MLC aperture,
    # but it moves both inflection edges of a leaf-end penumbra the same way (≈ 2·g·σ²: +0.009 mm at the centre before
    # the in-field trend was divided out). Noise-free images, equal leaf gaps, four gantry angles: truth within 0.005 mm.
    import datetime as dt

    from qc.readers.dicom_io import RT_IMAGE, load_images
    from qc.synthetic import UNITY_CAX_PX, UNITY_PANEL_PITCH_MM, UNITY_SAD_MM, UNITY_SID_MM, rt_image_bytes
    from qc.synthetic import wl as syn

    px = UNITY_PANEL_PITCH_MM * UNITY_SAD_MM / UNITY_SID_MM
    for g in (0.0, 90.0, 135.0, 270.0):
        a = syn.default_wobble(g, 0.25)
        dose, _ = syn.wl_signal(g, np.array([1.0, -1.0, 0.5]), a, noise_rel=0.0, leaf_gap_error_mm=0.0, rng=np.random.default_rng(0))
        raw = np.clip(np.rint(65535.0 - dose * 40000.0), 0, 65535).astype(np.uint16)
        data = rt_image_bytes(raw, acquired_at=dt.datetime(2026, 3, 2, 7, 30), label="MVIC WL", gantry_deg=g)
        im = load_images([("t.dcm", data)], RT_IMAGE, "WL", "en")[0]
        fc = wl.find_field(im)
        bb = wl.find_bb(im, fc)
        fc = wl.find_field(im, exclude=(bb.u_px, bb.v_px, bb.window_px), base=fc)
        u_ax, v_ax, beam = syn._axes(g)
        axis = a - (a @ beam) * beam
        assert (fc.u_px - UNITY_CAX_PX[0] - (axis @ u_ax) / px) * px == pytest.approx(0.0, abs=0.005)
        assert (fc.v_px - UNITY_CAX_PX[1] - (axis @ v_ax) / px) * px == pytest.approx(0.0, abs=0.005)


def test_bb_straddling_a_leaf_pair_boundary_noise_free():
    # 13-angle session, BB 3 mm towards the gantry: its shadow straddles the boundary of two leaf pairs whose gaps
    # differ by up to 0.3 mm (drawn anew for each image). The field model takes each row's edges as shifted, not the
    # row as stretched between them: stretched, the penumbra tails 5 mm inside the field were 0.075 mm off, a step
    # across the boundary that moved the BB by up to 0.053 mm in v without any noise. Now within 0.02 mm.
    files, truth = unity_session(THIRTEEN, (-2.5, 3.0, -3.0), seed=2, noise_rel=0.0)
    r = wl.analyse(files, AnalysisContext())
    by_file = {f: uv for (f, _), uv in zip(files, truth.cax2bb_uv_mm)}
    for it in r.items:
        tu, tv = by_file[it["file"]]
        assert abs(it["cax2bb_u_mm"] - tu) < 0.02 and abs(it["cax2bb_v_mm"] - tv) < 0.02, it["file"]


# ---------------------------------------------------------------- BB 3 mm off the field centre (issue #24, item 3)

DEMO_GEOMETRY = dict(shape=(384, 512), pitch_mm=0.784, sid_mm=1500.0, sad_mm=1000.0, cax_px=(255.5, 191.5))


@pytest.mark.parametrize("dome_pct", [0.0, 1.0], ids=["demo-fields", "demo-fields-rounded-top"])
def test_pylinac_demo_with_its_bbs_moved_3mm_reads_the_move(dome_pct):
    # Real fields, known BB: each demo image's BB is replaced by a radially symmetric BB of its own measured profile,
    # 3 mm to the right of where it was (qc.synthetic.wl.implanted_bb_bytes); the field is untouched, so every
    # CAX→BB vector must grow by exactly (3, 0) mm. Measured: within 0.053 mm per image (gantry 225°, the BB on the
    # phantom block's edge), mean distance error −0.009 mm: no error growing with the BB's distance from the field
    # centre. "rounded-top": the dose also multiplied by 1 − k·r² about the field centre (−1 % at 3 mm, as a small
    # field's top on many imagers), which moves no true centre: ours within 0.057 mm, mean −0.008; pylinac 3.49 reads
    # these distances 0.084 mm too long on average, its BB pulled 0.07–0.13 mm outwards (bench/wl_offset_vs_pylinac.py
    # part A --dome 1): the gap seen on real 3 mm offset sets. A scale error of 2.5 % (or 0.7 % on the mean) fails here.
    from qc.readers.dicom_io import RT_IMAGE, load_images
    from qc.synthetic.wl import implanted_bb_bytes

    files = read_paths([shared_file("pylinac", "winston_lutz", "demo")])
    ref = {it["file"]: it for it in _demo_result(files).items}
    moved = []
    data_of = dict(files)
    for im in load_images(files, RT_IMAGE, "WL", "en"):
        name, data = im.file.filename, data_of[im.file.filename]
        fc = wl.find_field(im)
        bb = wl.find_bb(im, fc)
        px = im.pixel_size_iso_mm[1]
        dose, _, _ = wl._bb_roi(im, fc, px)
        r0, r1, c0, c1 = fc.roi
        background = float(np.median(im.signal[r0:r1, c0:c1] - dose))
        vv, uu = np.mgrid[0 : im.signal.shape[0], 0 : im.signal.shape[1]].astype(float)
        r2_mm = ((uu - fc.u_px) ** 2 + (vv - fc.v_px) ** 2) * px * px
        gain = np.clip(1.0 - dome_pct / 100.0 * r2_mm / 9.0, 0.0, None) if dome_pct else None  # 0 from 30 mm: no field there
        knots, att = bb.profile
        moved.append((name, implanted_bb_bytes(data, (knots, att - att[-1]), (bb.u_px, bb.v_px), (bb.u_px + 3.0 / px, bb.v_px),
                                               background, im.inverted, gain)))
    errors = []
    for it in _demo_result(moved).items:
        a = ref[it["file"]]
        du, dv = it["cax2bb_u_mm"] - a["cax2bb_u_mm"] - 3.0, it["cax2bb_v_mm"] - a["cax2bb_v_mm"]
        assert math.hypot(du, dv) < 0.07, (it["file"], du, dv)
        errors.append(it["cax2bb_mm"] - math.hypot(a["cax2bb_u_mm"] + 3.0, a["cax2bb_v_mm"]))
    assert abs(float(np.mean(errors))) < 0.02


def test_bb_3mm_off_isocentre_in_the_demo_geometry_matches_truth():
    # Synthetic session of known truth in the pylinac demo's geometry (384×512, 0.784 mm, SID 1500, SAD 1000), BB 3.5 mm
    # off the isocentre, 25 % contrast (pylinac finds no 5 % BB): measured ours − truth ≤ 0.027 mm per image over three
    # such sessions, pylinac 3.49 +0.108 mm on average, up to +0.29 (its BB weighted centroid is pulled down the FFF
    # cone's slope; bench/wl_offset_vs_pylinac.py, part B)
    files, truth = unity_session(EIGHT, (2.0, -2.0, 2.0), seed=1, bb_contrast=0.25, **DEMO_GEOMETRY)
    r = wl.analyse(files, AnalysisContext())
    by_file = {f: uv for (f, _), uv in zip(files, truth.cax2bb_uv_mm)}
    for it in r.items:
        tu, tv = by_file[it["file"]]
        assert math.hypot(it["cax2bb_u_mm"] - tu, it["cax2bb_v_mm"] - tv) < 0.05, it["file"]
    assert r.metrics["cax2bb_max_mm"] == pytest.approx(max(truth.cax2bb_mm), abs=0.03)
    assert r.metrics["cax2bb_median_mm"] == pytest.approx(float(np.median(truth.cax2bb_mm)), abs=0.03)
