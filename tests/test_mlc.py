"""Shared MLC engine (qc.mv.mlc): leaf travel direction, leaf pairs found from the image, band edges,
robust lines, the synthetic generator's truth; real picket fences in both orientations."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pydicom
import pytest

from qc.mv import mlc
from qc.readers.dicom_io import RT_IMAGE, load_images
from qc.mv.geometry import cax_pixel
from qc.registry import AnalysisContext, Calibration
from qc.synthetic import UNITY_CAX_PX, UNITY_PIXEL_ISO_MM
from qc.synthetic import mlc as sm

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PF = DATA / "pylinac" / "picket_fence"
WHEN = dt.datetime(2026, 3, 2, 8, 0)


def _ctx() -> AnalysisContext:
    cal = Calibration(UNITY_CAX_PX[0], UNITY_CAX_PX[1], "2024-01-01", 1)
    return AnalysisContext(cax_for=lambda _d: cal, lang="en")


def _measure(name: str, data: bytes, ctx: AnalysisContext | None = None) -> mlc.MLCImage:
    im = load_images([(name, data)], RT_IMAGE, "test")[0]
    cax, _ = cax_pixel(im, ctx or _ctx())
    return mlc.measure_mlc_image(im, cax, "en")


def _real(name: str) -> bytes:
    path = PF / name
    if not path.exists():
        pytest.skip(f"needs the shared real-image data ({path}); it sits beside the repository in CI as ../shared/data")
    return path.read_bytes()


@pytest.fixture(scope="module")
def aqua_image():
    files, truth = sm.aqua_session(WHEN, rng_seed=5, gaps_mm=((-20.0, 0.0),))
    return files[0], truth[0]


def test_unity_pairs_found_from_the_image(aqua_image):
    (name, data), _ = aqua_image
    m = _measure(name, data)
    assert m.travel_axis == 0  # leaves along v on the Unity
    assert m.pairs.source == "image" and m.pairs.numbering == "unity"
    assert m.pairs.pitch_mm == pytest.approx(7.175, abs=0.01)
    # the generator puts pair k between junctions (k − 41) and (k − 40) pitches from the CAX column
    px = UNITY_PIXEL_ISO_MM
    true_centres = UNITY_CAX_PX[0] + (m.pairs.numbers - 40.5) * 7.175 / px
    assert np.max(np.abs(m.pairs.centres_px - true_centres)) < 0.5  # px, i.e. < 0.11 mm
    assert m.pairs.numbers[0] == 26 and m.pairs.numbers[-1] == 55  # the 30 pairs whose centres lie on the imager
    assert not m.warnings


def test_gap_edges_match_the_leaf_tips(aqua_image):
    (name, data), truth = aqua_image
    m = _measure(name, data)
    assert m.mode == "gap" and m.n_groups == 1
    k = m.pairs.numbers - 1
    assert np.max(np.abs(m.lo_mm[:, 0] - truth[k, 0, 0])) < 0.1
    assert np.max(np.abs(m.hi_mm[:, 0] - truth[k, 0, 1])) < 0.1


def test_pairs_fall_back_to_the_expected_grid_without_interleaf_pattern():
    op = sm.openings_for([(-20.0, 0.0)])
    model = sm.MLCModel(interleaf=0.0, tongue_groove=0.0)
    data = sm.mlc_image_bytes(op, acquired_at=WHEN, rng=1, model=model)
    m = _measure("flat.dcm", data)
    assert m.pairs.source == "expected"
    assert any("inter-leaf pattern not detected" in w for w in m.warnings)
    # the grid is then placed from the CAX: tips still right
    k = m.pairs.numbers - 1
    assert np.nanmax(np.abs(m.lo_mm[:, 0] - op[k, 0, 0])) < 0.1


def test_travel_axis_detected_on_transposed_image(aqua_image):
    (name, data), truth = aqua_image
    ds = pydicom.dcmread(io.BytesIO(data))
    arr = ds.pixel_array.T.copy()
    ds.PixelData = arr.tobytes()
    ds.Rows, ds.Columns = arr.shape
    buf = io.BytesIO()
    ds.save_as(buf)
    # CAX transposed too: (u, v) → (v, u)
    cal = Calibration(UNITY_CAX_PX[1], UNITY_CAX_PX[0], "2024-01-01", 2)
    m = _measure("t.dcm", buf.getvalue(), AnalysisContext(cax_for=lambda _d: cal, lang="en"))
    assert m.travel_axis == 1
    k = m.pairs.numbers - 1
    assert np.max(np.abs(m.lo_mm[:, 0] - truth[k, 0, 0])) < 0.1


def test_relative_errors_ignore_a_displaced_block():
    p = np.arange(30) * 7.175
    pos = 0.01 * p - 20.0
    pos[5:17] += np.repeat([15.0, 10.0, 5.0], 4)  # 40 % of the leaves displaced
    err, line = mlc.relative_errors(p, pos)
    assert line is not None and line[1] == pytest.approx(0.01, abs=1e-9)
    assert np.allclose(err[5:17], np.repeat([15.0, 10.0, 5.0], 4), atol=1e-9)
    assert np.allclose(np.delete(err, range(5, 17)), 0.0, atol=1e-9)


def test_relative_errors_keep_small_scatter_like_least_squares():
    rng = np.random.default_rng(0)
    p = np.arange(40) * 5.0
    pos = 0.02 * p + rng.normal(0, 0.1, 40)
    err, (a, b) = mlc.relative_errors(p, pos)
    b_ls, a_ls = np.polyfit(p, pos, 1)
    assert a == pytest.approx(a_ls) and b == pytest.approx(b_ls)


def test_pair_profiles_weight_partial_columns():
    sig = np.tile(np.arange(20, dtype=float)[None, :], (3, 1))
    prof = mlc.pair_profiles(sig, np.array([10.0]), np.array([5.0]), ratio=1.0)
    # window [7.5, 12.5]: mean of the column values weighted by overlap = 10
    assert prof.shape == (1, 3) and np.allclose(prof, 10.0)


def test_slit_truth_is_the_analytic_fwhm_without_leakage():
    # a single slit far from everything, no FFF, no leakage: FWHM of box(w) ⊗ N(σ) at half its peak
    from scipy.optimize import brentq
    from scipy.special import ndtr

    model = sm.MLCModel(fff_r0_mm=None, leaf_transmission=0.0, diaphragm_transmission=0.0, diaphragm_mm=(-200.0, 200.0))
    op = sm.openings_for([(-2.5, 2.5)])
    c, w = sm.slit_truth(op, 40, model)[0]
    s = model.sigma_t_mm
    peak = ndtr(2.5 / s) - ndtr(-2.5 / s)
    x = brentq(lambda x: ndtr((x + 2.5) / s) - ndtr((x - 2.5) / s) - peak / 2, 0.0, 20.0)
    assert c == pytest.approx(0.0, abs=1e-3) and w == pytest.approx(2 * x, abs=0.005)


@pytest.mark.parametrize(
    "name, pitch_mm, n_pickets",
    [("EPID-PF-LR.dcm", 5.0, 10), ("PF, Elekta, pickets near edges.dcm", 10.0, 9)],
)
def test_real_picket_fences_pitch_and_pickets_without_hint(name, pitch_mm, n_pickets):
    """No polarity/orientation hint: the Varian file is dose-high and leaves along v, the Elekta
    one dose-low with leaves along u (MANIFEST.md). The leaf pitch comes from the image."""
    m = _measure(name, _real(name), AnalysisContext(lang="en"))
    assert m.mode == "picket" and m.n_groups == n_pickets
    assert m.pairs.pitch_mm == pytest.approx(pitch_mm, rel=0.03)
    assert m.travel_axis == (0 if name.startswith("EPID") else 1)


def test_overlay_is_small_rgb(aqua_image):
    (name, data), _ = aqua_image
    im = load_images([(name, data)], RT_IMAGE, "test")[0]
    cax, _ = cax_pixel(im, _ctx())
    m = mlc.measure_mlc_image(im, cax, "en")
    rgb = mlc.overlay_rgb(im, m, [(m.lo_mm[:, 0], m.p_mm, np.zeros(len(m.p_mm)))])
    assert rgb.dtype == np.uint8 and rgb.shape == (512, 512, 3)
    # leaf ends drawn in green (error 0) near the gap edge row
    row = int(round((UNITY_CAX_PX[1] - 20.0 / UNITY_PIXEL_ISO_MM) / 2))
    band = rgb[row - 3 : row + 4]
    assert np.any((band[..., 1] > 200) & (band[..., 0] < 50))


# ---------------------------------------------------------------- one picket fence delivered in two images


def _true_relative_errors(op: np.ndarray, pairs: range) -> dict[tuple[int, int], float]:
    """(pair, picket) → the true error to the picket's line: the generator's FWHM centres (`slit_truth`)
    through the analyser's own line fit, so the truth and the measure share the line definition."""
    edges = sm.pair_edges_mm()
    p = np.array([(edges[k - 1] + edges[k]) / 2 for k in pairs])
    centres = np.array([[c for c, _ in sm.slit_truth(op, k)] for k in pairs])
    out = {}
    for j in range(centres.shape[1]):
        err, _ = mlc.relative_errors(p, centres[:, j])
        out.update({(k, j + 1): float(e) for k, e in zip(pairs, err)})
    return out


COMBO_ERRORS = {(30, "A"): 0.4, (30, "B"): 0.4, (50, "A"): -0.3, (50, "B"): -0.3}


@pytest.fixture(scope="module")
def picket_parts():
    return sm.picket_parts_session(WHEN, rng_seed=3, errors=COMBO_ERRORS)


def test_jaw_and_mlc_parts_are_one_picket_fence(picket_parts):
    """pylinac's two-image picket fence (jaw image + MLC image): combined and analysed as one fence, the
    same errors as the fence delivered in one image, every pair measured (the old code analysed two
    half fences and listed 30 pairs Non mesuré)."""
    from qc.mv import leaves

    parts, single, op = picket_parts
    ctx = _ctx()
    r = leaves.analyse(parts, ctx)
    one = leaves.analyse([("single.dcm", single)], ctx)
    m = r.metrics
    assert m["n_pickets"] == 5 and m["n_images"] == 2
    assert m["n_leaf_pairs_not_measured"] == 0 and m["n_leaf_pairs"] == 30
    assert {it["file"] for it in r.items} == {"PF_jaw.dcm + PF_mlc.dcm"}
    assert any("combined into one image" in w for w in r.warnings)
    truth = _true_relative_errors(op, range(26, 56))
    d = [it["relative_error_mm"] - truth[(it["pair"], it["picket"])] for it in r.items]
    assert len(d) == 150 and max(abs(v) for v in d) < 0.05
    assert m["max_abs_relative_error_mm"] == pytest.approx(one.metrics["max_abs_relative_error_mm"], abs=0.05)
    assert m["max_abs_relative_error_mm"] == pytest.approx(max(abs(v) for v in truth.values()), abs=0.05)
    assert [f.filename for f in r.files] == ["PF_jaw.dcm", "PF_mlc.dcm"]  # both files stay in the session


def _with_header(data: bytes, **tags) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    for k, v in tags.items():
        setattr(ds, k, v)
    buf = io.BytesIO()
    ds.save_as(buf)
    return buf.getvalue()


def _with_gantry(data: bytes, angle: float) -> bytes:
    return _with_header(data, GantryAngle=angle)


@pytest.mark.parametrize("tags", [{"GantryAngle": 90.0}, {"BeamLimitingDeviceAngle": 90.0}])
def test_parts_at_different_gantry_or_collimator_angles_stay_apart(picket_parts, tags):
    from qc.mv import leaves

    parts, _, _ = picket_parts
    (n1, d1), (n2, d2) = parts
    d1 = _with_header(d1, BeamLimitingDeviceAngle=0.0)  # both headers carry both angles
    r = leaves.analyse([(n1, d1), (n2, _with_header(d2, **{"BeamLimitingDeviceAngle": 0.0, **tags}))], _ctx())
    assert r.metrics["n_pickets"] == 10 and not any("combined into one image" in w for w in r.warnings)
    assert r.metrics["n_leaf_pairs_not_measured"] == 30  # each half fence lacks the other's pairs: said, not hidden


def test_two_full_fences_are_not_combined(picket_parts):
    """A repeated full fence completes nothing: two fences, each judged on its own."""
    from qc.mv import leaves

    _, single, _ = picket_parts
    r = leaves.analyse([("a.dcm", single), ("b.dcm", _with_gantry(single, 0.0))], _ctx())
    assert r.metrics["n_pickets"] == 10 and r.metrics["n_leaf_pairs_not_measured"] == 0
    assert not any("combined into one image" in w for w in r.warnings)


def test_combine_option_never_keeps_the_parts_apart(picket_parts):
    from qc.mv import leaves

    parts, _, _ = picket_parts
    ctx = AnalysisContext(cax_for=_ctx().cax_for, lang="en", options={"combine_pickets": "never"})
    r = leaves.analyse(parts, ctx)
    assert r.metrics["n_pickets"] == 10 and r.metrics["n_leaf_pairs_not_measured"] == 30


def test_a_partial_fence_joined_to_a_full_one_keeps_every_pair(picket_parts):
    """The jaw part with the full fence (overlapping parts): combined, every pair measured; with the
    mean (pylinac's default) the half-height pickets are lost, and then listed Non mesuré, never dropped."""
    from qc.mv import leaves

    parts, single, op = picket_parts
    files = [parts[0], ("full.dcm", single)]
    r = leaves.analyse(files, _ctx())
    assert r.metrics["n_pickets"] == 5 and r.metrics["n_leaf_pairs"] == 30 and r.metrics["n_leaf_pairs_not_measured"] == 0
    truth = _true_relative_errors(op, range(26, 56))
    assert max(abs(it["relative_error_mm"] - truth[(it["pair"], it["picket"])]) for it in r.items) < 0.05
    mean = leaves.analyse(files, AnalysisContext(cax_for=_ctx().cax_for, lang="en", options={"combine_method": "mean"}))
    m = mean.metrics
    assert m["n_leaf_pairs"] + m["n_leaf_pairs_not_measured"] == 30


def test_a_part_too_small_to_measure_alone_is_joined_to_its_fence():
    """The jaw part shows its pickets on 4 pairs only (the engine refuses it alone): joined to the MLC part,
    one fence of 30 pairs. An open field beside a fence adds no pair: still refused with its own reason."""
    from qc.errors import QCInputError
    from qc.mv import leaves

    parts, _, op = sm.picket_parts_session(WHEN, rng_seed=4, errors=COMBO_ERRORS, split_pair=30)
    with pytest.raises(QCInputError):
        leaves.analyse(parts[:1], _ctx())
    r = leaves.analyse(parts, _ctx())
    assert r.metrics["n_leaf_pairs"] == 30 and r.metrics["n_leaf_pairs_not_measured"] == 0 and r.metrics["n_pickets"] == 5
    truth = _true_relative_errors(op, range(26, 56))
    assert max(abs(it["relative_error_mm"] - truth[(it["pair"], it["picket"])]) for it in r.items) < 0.05
    open_field = sm.mlc_image_bytes(sm.openings_for([(-70.0, 70.0)]), acquired_at=WHEN, rng=9)
    with pytest.raises(QCInputError, match="open field"):
        leaves.analyse([parts[1], ("open.dcm", open_field)], _ctx())


def test_starshot_slits_are_not_one_picket_fence():
    """pylinac's starshot set: 9 single slits at collimator angles 0–330°, headers without gantry or
    collimator angle, all through the centre. Each is its own fence: slits of other directions are never
    combined (the picket line angles differ), whatever the headers say."""
    from qc.mv import leaves

    folder = DATA / "pylinac" / "starshot_set"
    if not folder.exists():
        pytest.skip(f"needs the shared real-image data ({folder}); it sits beside the repository in CI as ../shared/data")
    files = [(p.name, p.read_bytes()) for p in sorted(folder.glob("*.dcm"))]
    r = leaves.analyse(files, AnalysisContext(lang="en"))
    assert len(r.extra["images"]) == 9 and r.metrics["n_pickets"] == 9
    assert not any("combined into one image" in w for w in r.warnings)


def _jaw_and_mlc_parts(data: bytes, split_frac: float = 0.6) -> list[tuple[str, bytes]]:
    """A real picket fence cut into pylinac-style jaw + MLC parts (leaves along the rows, pairs across the
    columns): the jaw part is the image under a jaw that shadows the pairs beyond `split_frac` of the
    columns (0.2 % transmission, σ 2.5 mm); the MLC part is the image with the pickets of the other pairs
    removed (grey opening along the leaf travel, 41 px > a picket: their leaf-blocked level and
    inter-leaf lines stay), as if those leaves stayed closed."""
    from scipy import ndimage
    from scipy.special import ndtr

    ds = pydicom.dcmread(io.BytesIO(data))
    raw = ds.pixel_array.astype(float)
    px_mm = float(ds.ImagePlanePixelSpacing[1]) * float(ds.RadiationMachineSAD) / float(ds.RTImageSID)
    cols = np.arange(raw.shape[1])
    split = split_frac * raw.shape[1]
    dark = np.percentile(raw, 0.5)
    jaw = 0.002 + 0.998 * ndtr((split - cols) * px_mm / 2.5)
    closed = ndimage.grey_opening(raw, size=(41, 1))
    open_mlc = ndtr((cols - split) * px_mm / 0.5)
    out = []
    for name, arr in (("jaw.dcm", dark + (raw - dark) * jaw[None, :]), ("mlc.dcm", closed * (1 - open_mlc) + raw * open_mlc)):
        d = pydicom.dcmread(io.BytesIO(data))
        dtype = d.pixel_array.dtype
        d.PixelData = np.clip(np.rint(arr), 0, np.iinfo(dtype).max).astype(dtype).tobytes()
        d.SOPInstanceUID = pydicom.uid.generate_uid()
        buf = io.BytesIO()
        d.save_as(buf)
        out.append((name, buf.getvalue()))
    return out


def test_real_picket_fence_cut_into_jaw_and_mlc_parts_is_the_same_fence():
    """The real Varian picket fence (EPID-PF-LR) cut into a jaw part and an MLC part: combined, the same
    fence as the image alone (10 pickets, 78 rows, none Non mesuré, per-leaf errors within 0.002 mm for 95 %
    of them, max error within 0.01 mm). pylinac 3.49 from_multiple_images on the same parts: max 0.247 mm
    (its one-image value 0.232)."""
    from qc.mv import leaves

    data = _real("EPID-PF-LR.dcm")
    ctx = AnalysisContext(lang="en")
    one = leaves.analyse([("EPID-PF-LR.dcm", data)], ctx)
    r = leaves.analyse(_jaw_and_mlc_parts(data), ctx)
    assert r.metrics["n_pickets"] == 10 and r.metrics["n_images"] == 2
    assert r.metrics["n_leaf_pairs"] == 78 and r.metrics["n_leaf_pairs_not_measured"] == 0
    a = {(it["pair"], it["picket"]): it["relative_error_mm"] for it in one.items}
    b = {(it["pair"], it["picket"]): it["relative_error_mm"] for it in r.items}
    assert set(a) == set(b) and None not in b.values()
    d = np.abs([b[k] - a[k] for k in a])
    assert np.percentile(d, 95) < 0.01 and d.max() < 0.1  # the largest: pairs under the jaw's penumbra
    assert r.metrics["max_abs_relative_error_mm"] == pytest.approx(one.metrics["max_abs_relative_error_mm"], abs=0.01)


def test_three_parts_of_one_fence_keep_every_file():
    """A part refused alone, joined to its fence, then a third part: one fence made of the three files."""
    from qc.mv import leaves

    parts, _, _ = sm.picket_parts_session(WHEN, rng_seed=4, errors=COMBO_ERRORS, split_pair=30)
    third, _, _ = sm.picket_parts_session(WHEN + dt.timedelta(minutes=1), rng_seed=6, errors=COMBO_ERRORS, split_pair=50)
    r = leaves.analyse(parts + [("PF_jaw_50.dcm", third[0][1])], _ctx())
    assert len(r.extra["images"]) == 1 and len(r.files) == 3
    assert r.metrics["n_images"] == 3 and r.metrics["n_leaf_pairs"] == 30 and r.metrics["n_leaf_pairs_not_measured"] == 0
