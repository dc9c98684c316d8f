"""mr-geometry on the ACR sagittal localiser: S-I length of the rectangle against synthetic truth (not the
analyser's model: k-space-truncated end faces with Gibbs ringing, thick-slab A-P edges, shading, Rician
noise, inserts on the middle line) and against hazen's asserted value on the real Philips localiser;
session verdicts; localisers set aside by the other measures with a sentence."""

from __future__ import annotations

import numpy as np
import pytest

from mr_spatial_helpers import ctx, real_inputs
from qc import pipeline
from qc.mr import geometry as ge
from qc.registry import get_test
from qc.synthetic.mr_phantoms import acr_sagittal_dicom, acr_series
from pages_nav import open_page

SI_ACCURACY_MM = 0.3  # docs/mr.md claim: synthetic S-I length within 0.3 mm
AP_ACCURACY_MM = 0.3  # docs/mr.md claim: A-P width within 0.3 mm of the chord where the 20 mm slab is half filled
PIXEL_MM = 0.9765625  # the real localiser's row spacing


def _by(result):
    return {it["distance"]: it["measured_mm"] for it in result.items}


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"tilt_deg": 2.5},
        {"tilt_deg": -4.0, "length_mm": 146.5},
        {"length_mm": 150.0, "offset_lr_mm": 8.0},
        {"noise_sd": 0.03, "seed": 3},
        {"spacing_rc": (1.0, 1.2), "length_mm": 147.2},
        {"shading": 0.0, "inserts": False},
    ],
)
def test_si_length_within_claim(kw):
    data, truth = acr_sagittal_dicom(**kw)
    r = ge.analyse([("sag.dcm", data)], ctx())
    by = _by(r)
    assert abs(by["S-I"] - truth.si_length_mm) <= SI_ACCURACY_MM, (by, truth)
    assert abs(by["A-P"] - truth.ap_chord_mm) <= AP_ACCURACY_MM, (by, truth)
    assert r.measurement("si_length_mm", "sag.dcm").nominal == 148.0


@pytest.mark.parametrize("k", range(0, 8, 2))
def test_si_length_wherever_the_ends_fall_between_pixels(k):
    # at zero tilt every line has the same sub-pixel phase: the interpolation bias is not averaged out
    length = 148.0 + k * PIXEL_MM / 8
    data, truth = acr_sagittal_dicom(length_mm=length, seed=k)
    assert abs(_by(ge.analyse([("sag.dcm", data)], ctx()))["S-I"] - length) <= SI_ACCURACY_MM


def test_real_philips_localiser_against_hazen():
    """hazen asserts 146.48 mm (MANIFEST), i.e. exactly 150 pixels: it counts (last − first) mask pixel
    along one line, the distance between the centres of the two end pixels. Both end pixels are partly
    filled (the top one 26 %, the bottom one 65 % of the plateau on the central lines), so the edge-to-edge
    length is about one pixel longer: 150.9 px = 147.3 mm from the partial volumes alone. Margin: ours
    within 0.5 mm of hazen's count plus that pixel, and within 1 mm (one pixel, as for the ACR diameters)
    of hazen's figure itself."""
    r = ge.analyse(real_inputs("acr", "PhilipsAchievaLocalizer", "0.dcm"), ctx())
    si = _by(r)["S-I"]
    assert abs(si - (146.48 + PIXEL_MM)) <= 0.5, si
    assert abs(si - 146.48) <= 1.0, si
    assert abs(_by(r)["A-P"] - 190.0) <= 1.0  # the slab passes through the axis: the chord is the diameter
    assert not [m for m in r.measurements if m.name.startswith("session_")]  # no rod/diameter image here


def test_real_localiser_verdict_and_other_measures_set_it_aside():
    spec = get_test("mr-geometry")
    a = pipeline.analyse(None, spec, real_inputs("acr", "PhilipsAchievaLocalizer", "0.dcm"), None)
    assert a.status == "pass"
    from qc.errors import QCInputError

    for key in ("mr-slice-thickness", "mr-resolution", "mr-acr", "mr-snr", "mr-uniformity", "mr-ghosting"):
        with pytest.raises(QCInputError) as exc:
            get_test(key).analyse(real_inputs("acr", "PhilipsAchievaLocalizer", "0.dcm"), ctx())
        assert "0.dcm" in exc.value.message("fr") or "seule image" in exc.value.message("fr"), key
    # the flood measures say why: the ACR localiser (its inserts are too sparse for the uniform-section check)
    with pytest.raises(QCInputError) as exc:
        get_test("mr-uniformity").analyse(real_inputs("acr", "PhilipsAchievaLocalizer", "0.dcm"), ctx())
    assert "localisateur sagittal du fantôme ACR" in exc.value.message("fr")


def test_a_sagittal_flood_is_still_a_uniformity_image():
    # hazen's sagittal uniformity image (a 200 × 173 mm rectangle) is not taken for the ACR localiser
    r = get_test("mr-uniformity").analyse(real_inputs("uniformity", "sag.dcm"), ctx())
    assert r.measurement("fractional_uniformity_vertical_pct").value is not None


@pytest.mark.parametrize("length, status", [(148.4, "pass"), (146.3, "warning"), (150.6, "fail")])
def test_session_status_from_the_si_length(length, status):
    # 148 ± 2 mm (ACR), alert at 1.5 mm; the lengths are ≥ 0.3 mm (the claim) away from each limit
    data, _ = acr_sagittal_dicom(length_mm=length, tilt_deg=1.0, seed=5)
    a = pipeline.analyse(None, get_test("mr-geometry"), [("sag.dcm", data)], None)
    assert a.status == status, [(j.name, j.value, j.status) for j in a.judged]


def test_a_phantom_longer_than_the_field_of_view_is_not_measured_and_fails():
    data, _ = acr_sagittal_dicom(length_mm=262.0, seed=2)  # both ends outside the 250 mm field of view
    a = pipeline.analyse(None, get_test("mr-geometry"), [("sag.dcm", data)], None)
    m = a.result.measurement("si_length_mm", "sag.dcm")
    assert m.value is None and "S-I" in m.reason
    assert a.status == "fail"


def test_localiser_type_sagittal_is_measured_and_other_localisers_set_aside():
    sag, truth = acr_sagittal_dicom(localiser_type=True, tilt_deg=1.5)
    files, _ = acr_series(seed=6)
    # an axial slice of the ACR phantom marked as a localiser: set aside, never judged as a diameter
    from qc.synthetic.mr import read_back

    ds = read_back(files[4][1])
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    import io

    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    r = ge.analyse([("sag.dcm", sag), ("loc_ax.dcm", buf.getvalue()), files[4]], ctx())
    by = {(it["image"], it["distance"]): it["measured_mm"] for it in r.items}
    assert abs(by[("sag.dcm", "S-I")] - truth.si_length_mm) <= SI_ACCURACY_MM
    assert ("loc_ax.dcm", "0°") not in by and (files[4][0], "0°") in by
    assert any("loc_ax.dcm" in w for w in r.warnings)
    assert r.measurement("session_max_distortion_mm") is not None  # the axial slice's diameters


def test_axial_and_coronal_rectangles_are_not_taken_for_the_sagittal_localiser():
    from qc.errors import QCInputError
    from qc.synthetic.mr import mr_image_bytes
    from qc.synthetic.mr_phantoms import acr_sagittal_image

    img, _ = acr_sagittal_image(seed=1)
    for ori in ((1.0, 0.0, 0.0, 0.0, 1.0, 0.0), (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)):  # axial, coronal
        data = mr_image_bytes(img * 1500, orientation=ori)
        with pytest.raises(QCInputError) as exc:
            ge.analyse([("rect.dcm", data)], ctx())
        assert "sagittal" in exc.value.message("fr")
    assert ge.sagittal_si_axis((0.0, 1.0, 0.0, 0.0, 0.0, -1.0)) == 0
    assert ge.sagittal_si_axis((0.0, 0.0, -1.0, 0.0, 1.0, 0.0)) == 1  # S-I along the rows
    assert ge.sagittal_si_axis(None) is None


def test_image_quality_page_sends_the_localiser_to_geometry(qc_data_dir):
    from streamlit.testing.v1 import AppTest

    from conftest import REPO, shared_file

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["lang"] = "fr"
    at.run()
    open_page(at, "mr-image").run()
    p = shared_file("hazen", "acr", "PhilipsAchievaLocalizer", "0.dcm")
    at.file_uploader(key="mr_image_upload").set_value([(p.name, p.read_bytes(), "application/dicom")]).run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [t.label for t in at.tabs]
    assert len(labels) == 1 and labels[0].endswith(get_test("mr-geometry").name("fr")), labels  # verdict icon first
    folds = [e.label for e in at.main.expander if e.label.startswith("Ne s'applique pas à ces images")]
    assert len(folds) == 1, [e.label for e in at.main.expander]  # the measures that do not apply: one folded line
    for key in ("mr-snr", "mr-uniformity", "mr-ghosting", "mr-slice-thickness", "mr-resolution", "mr-acr"):
        assert get_test(key).name("fr") in folds[0].replace("\\", ""), folds
    shown = " ".join(str(df.value.to_dict()) for df in at.dataframe)
    assert "147.3" in shown or "147,3" in shown, shown[:2000]
