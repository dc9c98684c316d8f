"""mr-geometry: rod-grid distances and phantom diameters on synthetic images of known truth and on the
real hazen images against MANIFEST values; refusals, verdicts and the page."""

from __future__ import annotations

import numpy as np
import pytest

from mr_spatial_helpers import ctx, demo_page_round_trip, real_inputs
from qc import pipeline
from qc.errors import QCInputError
from qc.mr import geometry as ge
from qc.registry import get_test
from qc.synthetic.mr import mr_image_bytes
from qc.synthetic.mr_phantoms import acr_series, magnet_dicom

ACCURACY_MM = 0.3  # docs/mr.md claim: synthetic distances within 0.3 mm


@pytest.mark.parametrize("scale", [(1.0, 1.0), (1.004, 0.997), (0.995, 1.006)])
def test_rod_distances_within_claim(scale):
    data, truth = magnet_dicom(5.0, rod_scale=scale, seed=4)
    r = ge.analyse([("rods.dcm", data)], ctx(rod_pitch_mm=60.0))
    rods = [it for it in r.items if it["method"] == "rods"]
    assert len(rods) == 18  # 3 rows + 3 columns: 2 neighbour distances and 1 outer span each
    for it in rods:
        axis = 0 if it["distance"].startswith("h") else 1
        true = it["nominal_mm"] * scale[axis]
        assert abs(it["measured_mm"] - true) <= ACCURACY_MM, it
    worst = max(abs(it["nominal_mm"] * (s - 1)) for it in rods for s in scale)
    assert r.measurement("max_distortion_mm", "rods.dcm").value == pytest.approx(worst, abs=ACCURACY_MM)


def test_rod_grid_on_anisotropic_pixels():
    # the same physical grid sampled with 1.0 × 1.2 mm pixels: distances stay in true mm
    from qc.synthetic.mr_phantoms import magnet_image

    from scipy import ndimage

    img, _ = magnet_image(5.0, n=256, spacing_mm=1.0, noise_sd=0.005, seed=2)
    sub = ndimage.zoom(img, (1.0, 1 / 1.2), order=3)  # columns now 1.2 mm apart
    res = ge.measure_geometry(ge.MRImage("a", sub, (1.0, 256 / sub.shape[1]), object()), rod_pitch_mm=60.0)
    assert res.method == "rods" and res.max_distortion_mm < ACCURACY_MM, [(d.label, d.length_mm) for d in res.distances]


@pytest.mark.parametrize("diam", [(190.0, 190.0), (191.0, 189.0)])
def test_diameters_within_claim(diam):
    files, _ = acr_series(diameter_mm=diam, seed=6)
    r = ge.analyse(files[4:5], ctx())
    by = {it["distance"]: it["measured_mm"] for it in r.items}
    assert abs(by["0°"] - diam[0]) <= ACCURACY_MM and abs(by["90°"] - diam[1]) <= ACCURACY_MM, by
    # the diagonal of an ellipse: 2ab/sqrt(a²+b²)·sqrt(2)
    a, b = diam[0] / 2, diam[1] / 2
    diag = 2 * a * b * np.sqrt(2) / np.sqrt(a * a + b * b)
    assert abs(by["45°"] - diag) <= ACCURACY_MM and abs(by["135°"] - diag) <= ACCURACY_MM


# Real images. MagNET rods: hazen's distances (MANIFEST) within ±0.3 mm (both sub-pixel centroids).
# ACR diameters: hazen counts mask pixels (±1 px = ±0.98 mm quantisation) → ±1 mm, except the vertical
# diameters, where hazen's line runs into the slice-position block at the top of slices 1 and 5 and ours
# goes beside it (docs/mr.md): checked against the nominal 190 mm instead.
def test_magnet_rods_against_manifest():
    r = ge.analyse(real_inputs("slicewidth", "SLICEWIDTH", "ANNUALQA.MR.HEAD_GENERAL.tra.slice_width.IMA"), ctx())
    by = {it["distance"]: it["measured_mm"] for it in r.items}
    h = sorted([by["h1"], by["h2"], by["h3"]])
    v = sorted([by["v1"], by["v2"], by["v3"]])
    assert np.allclose(h, sorted([119.333, 119.632, 119.522]), atol=0.3), h
    assert np.allclose(v, sorted([120.022, 120.112, 120.196]), atol=0.3), v


@pytest.mark.parametrize(
    "folder, slice_file, expected",
    [
        ("Siemens", "0.dcm", {"0°": 191.41}),
        ("Siemens", "4.dcm", {"0°": 191.41, "135°": 191.41, "45°": 191.41}),
        ("PhilipsAchieva", "0.dcm", {"0°": 190.43, "90°": 189.45}),
        ("PhilipsAchieva", "4.dcm", {"0°": 190.43, "90°": 189.45, "45°": 189.45}),
        ("GE", "10.dcm", {"0°": 190.93}),
        ("GE", "6.dcm", {"0°": 190.42, "135°": 190.43, "45°": 189.41}),
    ],
)
def test_acr_diameters_against_manifest(folder, slice_file, expected):
    r = ge.analyse(real_inputs("acr", folder, slice_file), ctx())
    by = {it["distance"]: it["measured_mm"] for it in r.items}
    for k, want in expected.items():
        assert abs(by[k] - want) <= 1.0, (k, by[k], want)
    assert abs(by["90°"] - 190.0) <= 2.0


def test_no_phantom_is_refused():
    blank = mr_image_bytes(np.zeros((64, 64)))
    with pytest.raises(QCInputError):
        ge.analyse([("blank.dcm", blank)], ctx())


def test_session_verdicts():
    spec = get_test("mr-geometry")
    good, _ = magnet_dicom(5.0, seed=1)
    assert pipeline.analyse(None, spec, [("a.dcm", good)], None).status == "pass"
    bad, _ = magnet_dicom(5.0, rod_scale=(1.02, 1.0), seed=1)  # 2.4 mm over 120 mm
    assert pipeline.analyse(None, spec, [("b.dcm", bad)], None).status == "fail"


def test_page_demo_analyse_and_save(qc_data_dir):
    demo_page_round_trip("mr-geometry", "mr-geometry", qc_data_dir)


def test_the_sagittal_localiser_gives_its_si_length_only():
    # measured as the ACR sagittal length (tests/test_mr_sagittal.py), never as diameters
    r = ge.analyse(real_inputs("acr", "PhilipsAchievaLocalizer", "0.dcm"), ctx())
    assert {it["method"] for it in r.items} == {"sagittal"}
    assert {m.name for m in r.measurements} == {"si_length_mm", "ap_width_mm"}


def test_acquisition_date_from_the_header_else_the_user_never_guessed():
    import datetime as dt

    from qc.registry import AnalysisContext
    from qc.synthetic.mr_phantoms import magnet_image

    img, _ = magnet_image(5.0, seed=1)
    undated = mr_image_bytes(img * 3000, pixel_spacing_mm=(1.0, 1.0), acquired_at=None)
    with pytest.raises(QCInputError) as exc:
        ge.analyse([("undated.dcm", undated)], ctx())
    assert "date" in exc.value.message("fr")
    given = dt.datetime(2026, 10, 5, 9, 30)
    r = ge.analyse([("undated.dcm", undated)], AnalysisContext(acquired_at=given))
    assert r.acquired_at == given
    dated = mr_image_bytes(img * 3000, pixel_spacing_mm=(1.0, 1.0), acquired_at=dt.datetime(2026, 11, 2, 7, 45))
    assert ge.analyse([("dated.dcm", dated)], AnalysisContext(acquired_at=given)).acquired_at == dt.datetime(2026, 11, 2, 7, 45)
